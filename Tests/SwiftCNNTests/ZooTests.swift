import XCTest
@testable import SwiftCNN

#if canImport(Glibc)
import Glibc
#endif

/// The model zoo: exact parameter counts (issue 3), summaries, shapes, the seeded generator's
/// self-test vectors (scripts/weightgen.py), strict state-dict loading, safetensors round
/// trips and, where the committed fixtures exist, parity with PyTorch for the LeNets.
final class ZooTests: XCTestCase {
    /// Issue 3's counts (1000 classes; 10 for the LeNets).
    static let expectedCounts: [String: Int] = [
        "lenet5": 61_706, "lenet5_original": 60_000,
        "alexnet": 61_100_840, "alexnet_lrn": 62_378_344,
        "vgg11": 132_863_336, "vgg11_lrn": 132_863_336, "vgg13": 133_047_848, "vgg16_c": 133_638_952,
        "vgg16": 138_357_544, "vgg19": 143_667_240,
        "vgg11_bn": 132_868_840, "vgg13_bn": 133_053_736, "vgg16_bn": 138_365_992, "vgg19_bn": 143_678_248,
        "googlenet": 6_624_904,
        "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
        "resnet101": 44_549_160, "resnet152": 60_192_808,
        // Issue 12: the lecture's variants and the segmentation models (21 classes).
        "alexnet_grouped": 60_965_224, "googlenet_original": 13_378_280,
        "fcn_resnet50": 32_957_013, "fcn_resnet50_aux": 35_322_218,
        "deeplabv3_resnet50": 39_638_869, "deeplabv3_resnet50_aux": 42_004_074,
        "ssd300_vgg16": 35_641_826,  // torchvision's SSD300_VGG16_Weights num_params (91 classes)
        "ssdlite320_mobilenet_v3_large": 3_440_060,  // SSDLite320_MobileNet_V3_Large_Weights num_params
    ]

    /// Summaries show the inference network: googlenet_original without its auxiliary heads.
    static let summaryCounts: [String: Int] = ["googlenet_original": 6_998_552]

    /// The models with Tests/fixtures/zoo fixtures (issue 12's have their own, checked in Python).
    static let classifierCount = 20

    static let fixtures: String = {
        // Tests/SwiftCNNTests/ZooTests.swift → Tests/fixtures/zoo
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(2)
        return parts.joined(separator: "/") + "/fixtures/zoo"
    }()

    func tmpPath(_ name: String) -> String { "/tmp/swiftcnn-zootests-\(getpid())-\(name)" }

    // MARK: Counts and summaries

    func testEveryNameIsRegisteredAndCounted() throws {
        XCTAssertEqual(Set(Zoo.names), Set(Self.expectedCounts.keys))
        XCTAssertEqual(Zoo.names.count, 28)
        for name in Zoo.names {
            let arch = try Zoo.architecture(name)
            XCTAssertEqual(arch.name, name)
            XCTAssertEqual(try arch.numParameters(), Self.expectedCounts[name], name)
        }
    }

    func testLeNetOriginalBreakdown() throws {
        let s = try ModelSummary(try Zoo.architecture("lenet5_original"))
        let byName = Dictionary(s.rows.map { ($0.name, $0.parameters) }, uniquingKeysWith: +)
        XCTAssertEqual(byName["c1"], 156)
        XCTAssertEqual(byName["s2"], 12)
        XCTAssertEqual(byName["c3"], 1_516)
        XCTAssertEqual(byName["s4"], 32)
        XCTAssertEqual(byName["c5"], 48_120)
        XCTAssertEqual(byName["f6"], 10_164)
        XCTAssertEqual(s.totalParameters, 60_000)
    }

    func testSummaryTotalsEqualCounts() throws {
        for name in Zoo.names {
            let arch = try Zoo.architecture(name)
            let s = try ModelSummary(arch)
            let want = Self.summaryCounts[name] ?? Self.expectedCounts[name]!
            XCTAssertEqual(s.totalParameters, want, name)
            XCTAssertEqual(s.rows.last?.outputShape, [1] + arch.outputExampleShape, name)
            XCTAssertEqual(arch.outputExampleShape.first, arch.numClasses, name)
            XCTAssertTrue(s.text.contains("Total params: \(ModelSummary.grouped(want))"), name)
        }
    }

    func testSummaryRowsShapesMACsAndReceptiveFields() throws {
        // LeNet-5, computed by hand: C1 6×28×28, S2 6×14×14, C3 16×10×10, S4 16×5×5, C5 120×1×1.
        let s = try ModelSummary(try Zoo.architecture("lenet5"), inputShape: [3, 1, 32, 32])
        let rows = Dictionary(s.rows.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(rows["features.0"]?.outputShape, [3, 6, 28, 28])
        XCTAssertEqual(rows["features.0"]?.macs, 6 * 25 * 28 * 28)
        XCTAssertEqual(rows["features.0"]?.receptiveField, Size2D(5))
        XCTAssertEqual(rows["features.2"]?.outputShape, [3, 6, 14, 14])
        XCTAssertEqual(rows["features.2"]?.receptiveField, Size2D(6))
        XCTAssertEqual(rows["features.3"]?.macs, 16 * 6 * 25 * 10 * 10)
        XCTAssertEqual(rows["features.3"]?.receptiveField, Size2D(14))    // 6 + 4·2
        XCTAssertEqual(rows["features.5"]?.receptiveField, Size2D(16))    // 14 + 1·2
        XCTAssertEqual(rows["features.6"]?.outputShape, [3, 120, 1, 1])
        XCTAssertEqual(rows["features.6"]?.receptiveField, Size2D(32))    // 16 + 4·4
        XCTAssertEqual(rows["classifier.2"]?.outputShape, [3, 10])
        XCTAssertNil(rows["classifier.2"]?.receptiveField)
        XCTAssertEqual(s.totalMACs, 6 * 25 * 784 + 16 * 150 * 100 + 120 * 400 + 120 * 84 + 84 * 10)

        // ResNet-18 at 224: conv1 112×112 (RF 7), maxpool 56×56 (RF 11), layer4 7×7; MACs of conv1.
        let r = try ModelSummary(try Zoo.architecture("resnet18"))
        let rr = Dictionary(r.rows.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(rr["conv1"]?.outputShape, [1, 64, 112, 112])
        XCTAssertEqual(rr["conv1"]?.macs, 64 * 3 * 49 * 112 * 112)
        XCTAssertEqual(rr["conv1"]?.receptiveField, Size2D(7))
        XCTAssertEqual(rr["maxpool"]?.outputShape, [1, 64, 56, 56])
        XCTAssertEqual(rr["maxpool"]?.receptiveField, Size2D(11))
        XCTAssertEqual(rr["layer4.1"]?.outputShape, [1, 512, 7, 7])
        XCTAssertEqual(rr["layer4.1"]?.type, "Add+ReLU")
        // torchvision's documented 1.81 GFLOPs (MACs) for resnet18.
        XCTAssertEqual(Double(r.totalMACs) / 1e9, 1.81, accuracy: 0.01)

        // GoogLeNet: inception3a concatenates 64+128+32+32 = 256 channels at 28×28.
        let g = try ModelSummary(try Zoo.architecture("googlenet"))
        let gr = Dictionary(g.rows.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(gr["inception3a"]?.outputShape, [1, 256, 28, 28])
        XCTAssertEqual(gr["inception5b"]?.outputShape, [1, 1024, 7, 7])
        // VGG-16 at 224: 15.47 GMACs (torchvision's meta: 15.47 GFLOPS).
        let v = try ModelSummary(try Zoo.architecture("vgg16"))
        XCTAssertEqual(Double(v.totalMACs) / 1e9, 15.47, accuracy: 0.01)
    }

    func testSummaryText() throws {
        let text = try Zoo.create("lenet5").summary().text
        XCTAssertTrue(text.contains("features.0 (Conv2d)"))
        XCTAssertTrue(text.contains("[1, 6, 28, 28]"))
        XCTAssertTrue(text.contains("Total params: 61,706"))
        XCTAssertEqual(ModelSummary.grouped(1_234_567), "1,234,567")
        XCTAssertEqual(ModelSummary.grouped(0), "0")
        XCTAssertEqual(ModelSummary.grouped(-1000), "-1,000")
    }

    func testStateDictNamesMatchTorchvision() throws {
        let r50 = try Zoo.architecture("resnet50").parameterSpecs.map(\.name)
        XCTAssertEqual(Array(r50.prefix(6)), ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean",
                                              "bn1.running_var", "layer1.0.conv1.weight"])
        XCTAssertTrue(r50.contains("layer2.0.downsample.1.running_var"))
        XCTAssertFalse(r50.contains("layer2.1.downsample.0.weight"))
        let g = try Zoo.architecture("googlenet").parameterSpecs.map(\.name)
        XCTAssertTrue(g.contains("inception3a.branch2.1.conv.weight"))
        XCTAssertTrue(g.contains("inception4e.branch4.1.bn.running_mean"))
        let v = try Zoo.architecture("vgg16_bn").parameterSpecs.map(\.name)
        XCTAssertEqual(Array(v.prefix(3)), ["features.0.weight", "features.0.bias", "features.1.weight"])
        XCTAssertTrue(v.contains("classifier.6.bias"))
        let lrn = try Zoo.architecture("vgg11_lrn").parameterSpecs.map(\.name)
        XCTAssertEqual(lrn[2], "features.4.weight")   // 0 conv, 1 relu, 2 LRN, 3 pool, 4 conv
        let c = try Zoo.architecture("vgg16_c").parameterSpecs
        XCTAssertTrue(c.contains { $0.name == "features.14.weight" && $0.shape == [256, 256, 1, 1] })
        let a = try Zoo.architecture("alexnet").parameterSpecs.map(\.name)
        XCTAssertEqual(a, ["features.0.weight", "features.0.bias", "features.3.weight", "features.3.bias",
                           "features.6.weight", "features.6.bias", "features.8.weight", "features.8.bias",
                           "features.10.weight", "features.10.bias", "classifier.1.weight", "classifier.1.bias",
                           "classifier.4.weight", "classifier.4.bias", "classifier.6.weight", "classifier.6.bias"])
        let lo = try Zoo.architecture("lenet5_original").parameterSpecs
        XCTAssertEqual(lo.map(\.name), ["c1.weight", "c1.bias", "s2.weight", "s2.bias", "c3.weight", "c3.bias",
                                        "s4.weight", "s4.bias", "c5.weight", "c5.bias", "f6.weight", "f6.bias"])
        XCTAssertEqual(lo[4].shape, [60, 5, 5])
    }

    func testNumClassesAndErrors() throws {
        let a = try Zoo.architecture("resnet18", numClasses: 7)
        XCTAssertEqual(try a.numParameters(), 11_689_512 - 1000 * 513 + 7 * 513)
        XCTAssertEqual(try a.outputShape(forInput: [5, 3, 224, 224]), [5, 7])
        XCTAssertEqual(try Zoo.architecture("lenet5").numClasses, 10)
        XCTAssertEqual(try Zoo.architecture("lenet5_original", numClasses: 26).numParameters(), 60_000)
        XCTAssertThrowsError(try Zoo.architecture("resnet19")) { e in
            let m = (e as? SwiftCNNError)?.message ?? ""
            XCTAssertTrue(m.contains("resnet19") && m.contains("resnet18"), m)
        }
        XCTAssertThrowsError(try Zoo.architecture("vgg16_c_bn"))
        XCTAssertThrowsError(try Zoo.architecture("vgg11_lrn_bn"))
        XCTAssertThrowsError(try Zoo.architecture("alexnet", numClasses: 0))
        XCTAssertThrowsError(try Zoo.architecture("alexnet", numClasses: -3))
        XCTAssertThrowsError(try Zoo.architecture("alexnet", numClasses: Int.max / 2)) { e in
            XCTAssertEqual((e as? SwiftCNNError)?.kind, .invalidArgument)
        }
    }

    func testInputShapeValidation() throws {
        let lenet = try Zoo.architecture("lenet5")
        XCTAssertEqual(try lenet.outputShape(forInput: [4, 1, 32, 32]), [4, 10])
        for bad in [[1, 1, 33, 32], [1, 3, 32, 32], [1, 32, 32], [1, 1, 28, 28], [0, 1, 32, 32], [1, 1, 32, -32]] {
            XCTAssertThrowsError(try lenet.outputShape(forInput: bad), "\(bad)") { e in
                let m = (e as? SwiftCNNError)?.message ?? ""
                XCTAssertTrue(m.contains("expected input [N, 1, 32, 32]"), m)
                XCTAssertEqual((e as? SwiftCNNError)?.kind, .shapeMismatch)
            }
        }
        // Adaptive models: any size from their minimum, which is stated.
        let expectedMinimum = ["resnet18": 1, "googlenet": 15, "vgg16": 32, "alexnet": 63]  // torch agrees
        for (name, m) in expectedMinimum {
            let arch = try Zoo.architecture(name)
            XCTAssertEqual(arch.minimumInputSize(), Size2D(m), name)
            XCTAssertEqual(try arch.outputShape(forInput: [2, 3, m, m + 17]), [2, 1000], name)
            guard m > 1 else { continue }
            XCTAssertThrowsError(try arch.outputShape(forInput: [2, 3, m - 1, 224]), name) { e in
                let msg = (e as? SwiftCNNError)?.message ?? ""
                XCTAssertTrue(msg.contains("H >= \(m) and W >= \(m)"), msg)
            }
        }
        XCTAssertThrowsError(try Zoo.architecture("alexnet_lrn").outputShape(forInput: [1, 3, 224, 224])) { e in
            XCTAssertTrue(((e as? SwiftCNNError)?.message ?? "").contains("[N, 3, 227, 227]"))
        }
        XCTAssertThrowsError(try Zoo.architecture("resnet18").outputShape(forInput: [1, 3, Int.max, 224]))
    }

    /// Random and extreme input shapes: shape checks and summaries either succeed or throw
    /// a SwiftCNNError, never trap; accepted shapes give [N, classes].
    func testNoTrapShapeSweep() throws {
        let dims = [-1, 0, 1, 2, 3, 7, 15, 16, 31, 32, 33, 63, 224, 227, 1 << 20, Int.max / 2, Int.max, Int.min]
        var rng = SystemRandomNumberGenerator()
        var accepted = 0
        for name in Zoo.names {
            let arch = try Zoo.architecture(name, numClasses: 3)
            for _ in 0..<40 {
                let rank = Int.random(in: 0...5, using: &rng)
                var shape = (0..<rank).map { _ in dims.randomElement(using: &rng)! }
                if rank == 4 && Bool.random(using: &rng) { shape[1] = arch.inputChannels }
                do {
                    let out = try arch.outputShape(forInput: shape)
                    if name.hasPrefix("ssd") {
                        XCTAssertEqual(out, [shape[0], name == "ssd300_vgg16" ? 8732 : 3234, 4 + 3], "\(name) \(shape)")
                    } else {
                        // [N, 3] for classifiers, [N, 3, H, W] for the segmentation models
                        XCTAssertEqual(Array(out.prefix(2)), [shape[0], 3], "\(name) \(shape)")
                    }
                    _ = try ModelSummary(arch, inputShape: shape)
                    accepted += 1
                } catch is SwiftCNNError {
                } catch {
                    XCTFail("\(name) \(shape): \(error)")
                }
            }
        }
        _ = accepted
        // Non-finite inputs flow through without trapping.
        let m = try Zoo.create("lenet5_original")
        var x = try Tensor(shape: [1, 1, 32, 32], repeating: .nan)
        try x.withUnsafeMutableBufferPointer { $0[3] = .infinity; $0[5] = -.infinity }
        XCTAssertEqual(try m.forward(x).shape, [1, 10])
    }

    // MARK: Seeded init (vectors from scripts/weightgen.py's docstring)

    func testSeededInitVectors() throws {
        XCTAssertEqual(SeededInit.fnv1a64(""), 0xcbf2_9ce4_8422_2325)
        XCTAssertEqual(SeededInit.fnv1a64("input"), 0x1ebb_ae8f_5810_b65b)
        XCTAssertEqual((0..<4).map { SeededInit.bits(name: "input", index: $0) },
                       [0x190a_9f76_a9bd_8bf6, 0xa701_17d0_9cb2_bc5b, 0x3420_b86a_56b4_f31f, 0x4642_0163_98ff_478f])
        XCTAssertEqual((0..<4).map { SeededInit.uniform(name: "input", index: $0) },
                       [0.09781831502914429, 0.6523603796958923, 0.20362424850463867, 0.2744446396827698])
        func bits(_ t: Tensor) -> [UInt32] { t.scalars.prefix(4).map(\.bitPattern) }
        XCTAssertEqual(bits(try SeededInit.input(shape: [2, 1, 32, 32])), [0xbf4deac2, 0x3e9c045c, 0xbf17be90, 0xbee6f7fc])
        XCTAssertEqual(bits(try SeededInit.input(shape: [4], seed: 1)), [0xbf0f191e, 0x3f563a48, 0x3ee35af8, 0xbe09edb8])
        let vectors: [(String, [Int], [UInt32])] = [
            ("features.0.weight", [64, 3, 11, 11], [0x3dbb57ae, 0x3bdec720, 0x3d12d014, 0xbdd691a9]),
            ("conv1.weight", [64, 3, 7, 7], [0x3c953378, 0x3dcae020, 0xbe45652c, 0x3dc37528]),
            ("c3.weight", [60, 5, 5], [0x3d11b338, 0x3ebb6f7b, 0xbd9d8294, 0xbda09ab0]),
            ("bn1.weight", [64], [0x3f5c3654, 0x3fa9863c, 0x3f88db26, 0x3f3fd888]),
            ("fc.bias", [1000], [0xbb9276e0, 0xbb7c8d60, 0xbd342c20, 0xbd299a1a]),
            ("layer1.0.bn1.running_var", [64], [0x3f92b806, 0x3fab4cce, 0x3fa3ffd0, 0x3f279723]),
            ("layer1.0.bn1.running_mean", [64], [0xbdb7d608, 0x3d4797f6, 0xbd887e5a, 0xbdb058a2]),
        ]
        for (name, shape, want) in vectors {
            XCTAssertEqual(bits(try SeededInit.parameter(name: name, shape: shape)), want, name)
        }
        let codes = try SeededInit.signs(name: "rbf.codes", shape: [10, 84])
        XCTAssertEqual(Array(codes.scalars.prefix(8)), [-1, -1, -1, -1, -1, 1, -1, -1])
        XCTAssertNil(SeededInit.range(forParameter: "bn1.num_batches_tracked", shape: [1]))
        XCTAssertThrowsError(try SeededInit.parameter(name: "x.gamma", shape: [3]))
    }

    func testSeededInitRangesAndModelInit() throws {
        var m = try Zoo.create("lenet5")
        let w = try m.parameter("features.3.weight")   // fan_in 150
        let b = (6.0 / 150.0).squareRoot()
        XCTAssertTrue(w.scalars.allSatisfy { Double($0.magnitude) <= b })
        XCTAssertGreaterThan(w.scalars.map { Double($0.magnitude) }.max() ?? 0, 0.9 * b)
        let bias = try m.parameter("classifier.2.bias")
        XCTAssertTrue(bias.scalars.allSatisfy { $0.magnitude <= 0.1 })
        try m.initializeSeeded(seed: 5)
        XCTAssertNotEqual(try m.parameter("features.3.weight").scalars, w.scalars)
        try m.initializeSeeded(seed: 0)
        XCTAssertEqual(try m.parameter("features.3.weight").scalars, w.scalars)
        let r = try Zoo.create("resnet18", numClasses: 3)
        let rv = try r.parameter("layer1.0.bn1.running_var")
        XCTAssertTrue(rv.scalars.allSatisfy { $0 >= 0.5 && $0 < 1.5 })
        XCTAssertEqual(rv.scalars.prefix(4).map(\.bitPattern), [0x3f92b806, 0x3fab4cce, 0x3fa3ffd0, 0x3f279723])
    }

    // MARK: State dicts and files

    func testStrictStateDictLoading() throws {
        var m = try Zoo.create("lenet5")
        let sd = Dictionary(m.stateDict(), uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(sd.count, 10)
        XCTAssertEqual(m.numParameters, 61_706)

        var missing = sd
        missing["features.0.bias"] = nil
        XCTAssertThrowsError(try m.loadStateDict(missing)) { e in
            XCTAssertTrue(((e as? SwiftCNNError)?.message ?? "").contains("missing key \"features.0.bias\""))
        }
        var extra = sd
        extra["features.9.weight"] = try Tensor(zeros: [3])
        XCTAssertThrowsError(try m.loadStateDict(extra)) { e in
            XCTAssertTrue(((e as? SwiftCNNError)?.message ?? "").contains("unexpected key \"features.9.weight\""))
        }
        var wrong = sd
        wrong["classifier.0.weight"] = try Tensor(zeros: [84, 121])
        XCTAssertThrowsError(try m.loadStateDict(wrong)) { e in
            let msg = (e as? SwiftCNNError)?.message ?? ""
            XCTAssertTrue(msg.contains("classifier.0.weight") && msg.contains("[84, 120]") && msg.contains("[84, 121]"), msg)
            XCTAssertEqual((e as? SwiftCNNError)?.kind, .shapeMismatch)
        }
        // Nothing changed after the failures; num_batches_tracked is ignored; a full dict loads.
        XCTAssertEqual(try m.parameter("classifier.0.weight").shape, [84, 120])
        var ones = sd.mapValues { t in (try? Tensor(shape: t.shape, repeating: 1)) ?? t }
        ones["features.1.num_batches_tracked"] = try Tensor(zeros: [1])
        try m.loadStateDict(ones)
        XCTAssertEqual(try m.parameter("features.0.weight").scalars, [Float](repeating: 1, count: 150))
        // Non-strict: partial dicts load, shapes are still checked.
        try m.loadStateDict(["features.0.bias": try Tensor(zeros: [6]), "other": try Tensor(zeros: [1])], strict: false)
        XCTAssertEqual(try m.parameter("features.0.bias").scalars, [0, 0, 0, 0, 0, 0])
        XCTAssertThrowsError(try m.loadStateDict(["features.0.bias": try Tensor(zeros: [7])], strict: false))
        // Entry access.
        XCTAssertThrowsError(try m.parameter("module.features.0.bias")) { e in
            XCTAssertTrue(((e as? SwiftCNNError)?.message ?? "").contains("drop the \"module.\" prefix"))
        }
        XCTAssertThrowsError(try m.setParameter("features.0.bias", try Tensor(zeros: [2, 3])))
        try m.setParameter("features.0.bias", try Tensor(shape: [6], repeating: 2))
        XCTAssertEqual(try m.parameter("features.0.bias").scalars.first, 2)
    }

    func testSafetensorsRoundTrip() throws {
        let m = try Zoo.create("resnet18", numClasses: 4, seed: 3)
        let path = tmpPath("r18.safetensors")
        defer { unlink(path) }
        try m.save(path: path)
        let file = try SafeTensorsFile.read(path: path)
        XCTAssertEqual(file.names, m.parameterSpecs.map(\.name))
        XCTAssertEqual(file.metadata["model"], "resnet18")
        var fresh = try Zoo.create("resnet18", numClasses: 4, seed: 0)
        XCTAssertNotEqual(try fresh.parameter("fc.weight").scalars, try m.parameter("fc.weight").scalars)
        try fresh.load(path: path)
        for (name, t) in m.stateDict() {
            XCTAssertEqual(try fresh.parameter(name).scalars, t.scalars, name)
        }
        // The wrong model, a missing file, a malformed file: errors, and the model is unchanged.
        var other = try Zoo.create("resnet18", numClasses: 5)
        XCTAssertThrowsError(try other.load(path: path)) { e in
            let msg = (e as? SwiftCNNError)?.message ?? ""
            XCTAssertTrue(msg.contains("fc.weight") && msg.contains("[5, 512]") && msg.contains("[4, 512]"), msg)
        }
        var lenet = try Zoo.create("lenet5")
        XCTAssertThrowsError(try lenet.load(path: path)) { e in
            XCTAssertTrue(((e as? SwiftCNNError)?.message ?? "").contains("unexpected key"))
        }
        XCTAssertThrowsError(try lenet.load(path: tmpPath("does-not-exist"))) { e in
            XCTAssertEqual((e as? SwiftCNNError)?.kind, .io)
        }
        let junk = tmpPath("junk.safetensors")
        defer { unlink(junk) }
        let fd = open(junk, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = "\u{10}\0\0\0\0\0\0\0{\"a\": nonsense}".withCString { write(fd, $0, 24) }
        close(fd)
        XCTAssertThrowsError(try lenet.load(path: junk)) { e in
            XCTAssertEqual((e as? SwiftCNNError)?.kind, .format)
        }
    }

    // MARK: Forward (small models and small inputs: this is the debug build)

    func testLeNetForwardShapesAndBatchIndependence() throws {
        for name in ["lenet5", "lenet5_original"] {
            let m = try Zoo.create(name)
            let x = try SeededInit.input(shape: [3, 1, 32, 32])
            let y = try m.forward(x)
            XCTAssertEqual(y.shape, [3, 10], name)
            XCTAssertTrue(y.scalars.allSatisfy { $0.isFinite }, name)
            // Example 1 alone gives the same row as in the batch.
            let one = try Tensor(shape: [1, 1, 32, 32], scalars: Array(x.scalars[1024..<2048]))
            let y1 = try m.forward(one)
            for (a, b) in zip(y1.scalars, y.scalars[10..<20]) { XCTAssertEqual(a, b, accuracy: 1e-5, name) }
            XCTAssertThrowsError(try m.forward(try Tensor(zeros: [1, 1, 28, 28])), name)
            XCTAssertThrowsError(try m.forward(try Tensor(zeros: [1, 32, 32])), name)
        }
        // lenet5_original's outputs are RBF penalties: Σ (x_j − ±1)² with |x_j| < 1.7159.
        let y = try Zoo.create("lenet5_original").forward(try SeededInit.input(shape: [2, 1, 32, 32]))
        XCTAssertTrue(y.scalars.allSatisfy { $0 >= 0 && $0 <= 84 * 2.7159 * 2.7159 })
    }

    /// lenet5 computed independently: direct loops in double precision.
    func testLeNetForwardAgainstDirectLoops() throws {
        let m = try Zoo.create("lenet5", seed: 11)
        let x = try SeededInit.input(shape: [2, 1, 32, 32], seed: 2)
        let y = try m.forward(x)
        func p(_ n: String) throws -> [Double] { try m.parameter(n).scalars.map(Double.init) }
        func conv(_ inp: [Double], c: Int, h: Int, w: [Double], b: [Double], o: Int) -> [Double] {
            let oh = h - 4
            var out = [Double](repeating: 0, count: o * oh * oh)
            for oc in 0..<o { for i in 0..<oh { for j in 0..<oh {
                var s = b[oc]
                for ic in 0..<c { for ki in 0..<5 { for kj in 0..<5 {
                    s += inp[(ic * h + i + ki) * h + j + kj] * w[((oc * c + ic) * 5 + ki) * 5 + kj]
                } } }
                out[(oc * oh + i) * oh + j] = Foundationless.tanh(s)
            } } }
            return out
        }
        func pool(_ inp: [Double], c: Int, h: Int) -> [Double] {
            let oh = h / 2
            var out = [Double](repeating: 0, count: c * oh * oh)
            for ch in 0..<c { for i in 0..<oh { for j in 0..<oh {
                let q = (ch * h + 2 * i) * h + 2 * j
                out[(ch * oh + i) * oh + j] = (inp[q] + inp[q + 1] + inp[q + h] + inp[q + h + 1]) / 4
            } } }
            return out
        }
        for n in 0..<2 {
            let img = x.scalars[(n * 1024)..<((n + 1) * 1024)].map(Double.init)
            var a = conv(img, c: 1, h: 32, w: try p("features.0.weight"), b: try p("features.0.bias"), o: 6)
            a = pool(a, c: 6, h: 28)
            a = conv(a, c: 6, h: 14, w: try p("features.3.weight"), b: try p("features.3.bias"), o: 16)
            a = pool(a, c: 16, h: 10)
            a = conv(a, c: 16, h: 5, w: try p("features.6.weight"), b: try p("features.6.bias"), o: 120)
            let w1 = try p("classifier.0.weight"), b1 = try p("classifier.0.bias")
            let h1 = (0..<84).map { i in Foundationless.tanh((0..<120).reduce(b1[i]) { $0 + w1[i * 120 + $1] * a[$1] }) }
            let w2 = try p("classifier.2.weight"), b2 = try p("classifier.2.bias")
            for k in 0..<10 {
                let want = (0..<84).reduce(b2[k]) { $0 + w2[k * 84 + $1] * h1[$1] }
                XCTAssertEqual(Double(try y.element(n, k)), want, accuracy: 1e-5)
            }
        }
    }

    func testResNetAndGoogLeNetForwardAtSmallSize() throws {
        for name in ["resnet18", "googlenet"] {
            let m = try Zoo.create(name, numClasses: 5)
            let x = try SeededInit.input(shape: [2, 3, 32, 32])
            let y = try m.forward(x)
            XCTAssertEqual(y.shape, [2, 5], name)
            XCTAssertTrue(y.scalars.allSatisfy { $0.isFinite }, name)
            XCTAssertNotEqual(Array(y.scalars[0..<5]), Array(y.scalars[5..<10]), name)
        }
    }

    // MARK: Parity with PyTorch (committed fixtures; skipped when absent)

    /// Every fixture's metadata agrees with this side: the parameter count, the input shape,
    /// and the checksums of the generated input and of the first three state-dict entries
    /// (so a generator disagreement shows here, before any forward pass).
    func testFixtureMetadataAndGeneratorChecksums() throws {
        var checked = 0
        for name in Zoo.names {
            let path = Self.fixtures + "/\(name).safetensors"
            guard access(path, R_OK) == 0 else { continue }
            let meta = try SafeTensorsFile.read(path: path).metadata
            let arch = try Zoo.architecture(name)
            XCTAssertEqual(meta["num_parameters"], String(try arch.numParameters()), name)
            XCTAssertEqual(meta["generator"], SeededInit.version, name)
            let shape = (meta["input_shape"] ?? "").split(separator: ",").compactMap { Int($0) }
            XCTAssertEqual(shape, arch.nominalInputShape(batch: 2), name)
            let sums = (meta["input_checksum"] ?? "").split(separator: ",").compactMap { Double($0) }
            let input = try SeededInit.input(shape: shape).scalars.map(Double.init)
            XCTAssertEqual(sums.count, 2, name)
            if sums.count == 2 {
                XCTAssertEqual(input.reduce(0, +), sums[0], accuracy: 1e-9 * Double(input.count), name)
                XCTAssertEqual(input.reduce(0) { $0 + $1 * $1 }, sums[1], accuracy: 1e-9 * sums[1], name)
            }
            guard case .object(let pairs)? = try? JSON.parse(meta["weight_checksums"] ?? "") else {
                XCTFail("\(name): no weight_checksums")
                continue
            }
            XCTAssertEqual(pairs.count, 3, name)
            for (key, value) in pairs {
                guard let spec = arch.parameterSpecs.first(where: { $0.name == key }) else {
                    XCTFail("\(name): fixture key \(key) is not a parameter here")
                    continue
                }
                let want: Double
                switch value {
                case .number(let d): want = d
                case .integer(let i): want = Double(i)
                default: XCTFail("\(name): \(key) checksum is \(value.typeDescription)"); continue
                }
                let got = try SeededInit.parameter(name: key, shape: spec.shape).scalars.reduce(0.0) { $0 + Double($1) }
                XCTAssertEqual(got, want, accuracy: 1e-9 * Double(max(1, spec.shape.reduce(1, *))), "\(name) \(key)")
            }
            checked += 1
        }
        if checked == 0 { throw XCTSkip("no fixtures under \(Self.fixtures)") }
        XCTAssertEqual(checked, Self.classifierCount)
    }

    func testLeNetParityWithTorchFixtures() throws {
        var ran = 0
        for name in ["lenet5", "lenet5_original"] {
            let path = Self.fixtures + "/\(name).safetensors"
            guard access(path, R_OK) == 0 else { continue }
            let fixture = try SafeTensorsFile.read(path: path)
            let expected = try fixture.tensor("logits")
            let m = try Zoo.create(name)
            let y = try m.forward(try SeededInit.input(shape: [2, 1, 32, 32]))
            XCTAssertEqual(y.shape, expected.shape)
            let scale = expected.scalars.map { $0.magnitude }.max() ?? 1
            let diff = zip(y.scalars, expected.scalars).map { ($0 - $1).magnitude }.max() ?? .infinity
            XCTAssertLessThanOrEqual(diff, 1e-4 * scale, name)
            ran += 1
        }
        let real = Self.fixtures + "/lenet5_torch.safetensors"
        if access(real, R_OK) == 0 {
            var m = try Zoo.create("lenet5")
            try m.load(path: real)
            let exp = try SafeTensorsFile.read(path: Self.fixtures + "/lenet5_torch_expected.safetensors")
            let y = try m.forward(try exp.tensor("input"))
            let want = try exp.tensor("logits")
            let scale = want.scalars.map { $0.magnitude }.max() ?? 1
            let diff = zip(y.scalars, want.scalars).map { ($0 - $1).magnitude }.max() ?? .infinity
            XCTAssertLessThanOrEqual(diff, 1e-4 * scale)
            ran += 1
        }
        if ran == 0 { throw XCTSkip("no fixtures under \(Self.fixtures)") }
    }
}

/// Double-precision tanh from the C library, away from the module's Tensor `tanh`.
enum Foundationless {
    static func tanh(_ x: Double) -> Double { Glibc.tanh(x) }
}
