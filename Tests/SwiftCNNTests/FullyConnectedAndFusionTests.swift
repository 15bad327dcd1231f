import XCTest
@testable import SwiftCNN

/// Issue 13's fully connected kernel (four weight rows per pass, the batch against each
/// four), lenet5_original's C3 compiled into the plan, and the fused 1×1 heads of
/// concatenated branches (GoogLeNet's Inception modules): each against the reference
/// kernels, and bitwise equal at 1 and 2 threads.
final class FullyConnectedAndFusionTests: XCTestCase {
    /// Runs `body` with `n` threads, restoring the previous count.
    func withThreads<R>(_ n: Int, _ body: () throws -> R) rethrows -> R {
        let old = Threading.numThreads
        Threading.numThreads = n
        defer { Threading.numThreads = old }
        return try body()
    }

    /// Every output of ``Optimized/linear`` is bitwise ``Optimized/dot`` of its sample and
    /// weight row plus the bias (whichever of the four-row or one-row paths computes it, for
    /// any batch), within 1e-5 relative of the double-precision reference, and bitwise the
    /// same with 1 and 2 threads. Shapes cover tails of 64, of 16 and scalar tails, output
    /// counts not divisible by 4 or by the 32-row block, batches 1 to 17 (several spans and
    /// sample blocks), with and without bias, and the single-item path (small work) and the
    /// parallel one.
    func testLinearMatchesDotBitwiseAndReference() throws {
        var r = TestRNG(13)
        let shapes: [(batch: Int, n: Int, outs: Int, bias: Bool)] = [
            (1, 1000, 70, true), (1, 64, 4, false), (2, 5, 3, true), (3, 130, 37, true),
            (8, 257, 300, true), (1, 2100, 129, false), (5, 47, 2001, true), (8, 9, 1, true),
            // Several 512-float spans and sample blocks of 8 and a rest (the batch path).
            (11, 1200, 9, true), (9, 1100, 70, false), (17, 1601, 36, true),
            // The tiled path: rows past a multiple of 8 and of the 48-row item, sample blocks
            // with missing samples, several items over the threads.
            (3, 300, 53, true), (16, 517, 101, false), (24, 64, 400, true),
        ]
        for s in shapes {
            let x = try r.tensor([s.batch, s.n]), w = try r.tensor([s.outs, s.n]), b = try r.tensor([s.outs])
            let g = LinearGeometry(batch: s.batch, inFeatures: s.n, outFeatures: s.outs)
            func run(_ kernel: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>?, UnsafeMutablePointer<Float>) -> Void) -> [Float] {
                var y = [Float](repeating: .nan, count: s.batch * s.outs)
                x.withUnsafePointer { xp in
                    w.withUnsafePointer { wp in
                        b.withUnsafePointer { bp in
                            y.withUnsafeMutableBufferPointer { kernel(xp, wp, s.bias ? bp : nil, $0.baseAddress!) }
                        }
                    }
                }
                return y
            }
            let one = withThreads(1) { run { Optimized.linear($0, weight: $1, bias: $2, $3, g, tiled: false) } }
            let two = withThreads(2) { run { Optimized.linear($0, weight: $1, bias: $2, $3, g, tiled: false) } }
            let what = "linear batch \(s.batch), \(s.n) -> \(s.outs), bias \(s.bias)"
            XCTAssertEqual(one.map(\.bitPattern), two.map(\.bitPattern), "\(what): 1 vs 2 threads")
            let dots = run { xp, wp, bp, yp in
                for i in 0..<s.batch {
                    for o in 0..<s.outs { yp[i * s.outs + o] = Optimized.dot(xp + i * s.n, wp + o * s.n, s.n) + (bp?[o] ?? 0) }
                }
            }
            XCTAssertEqual(one.map(\.bitPattern), dots.map(\.bitPattern), "\(what): not bitwise Optimized.dot + bias")
            let ref = run { Reference.linear($0, weight: $1, bias: $2, $3, g) }
            let scale = Float(s.n).squareRoot()
            XCTAssertLessThanOrEqual(maxDiff(one, ref), 1e-5 * scale, what)

            // The tiled batch path (the default from linearTiledMinBatch on):
            // bitwise a sum over k in order (one fused multiply-add each) plus the bias, the
            // same at 1 and 2 threads, within the same tolerance of the reference.
            let tiledOne = withThreads(1) { run { Optimized.linear($0, weight: $1, bias: $2, $3, g, tiled: true) } }
            let tiledTwo = withThreads(2) { run { Optimized.linear($0, weight: $1, bias: $2, $3, g, tiled: true) } }
            XCTAssertEqual(tiledOne.map(\.bitPattern), tiledTwo.map(\.bitPattern), "\(what), tiled: 1 vs 2 threads")
            if s.batch >= Optimized.linearTiledMinBatch {
                let sums = run { xp, wp, bp, yp in
                    for i in 0..<s.batch {
                        for o in 0..<s.outs {
                            var acc: Float = 0
                            for k in 0..<s.n { acc = acc.addingProduct(wp[o * s.n + k], xp[i * s.n + k]) }
                            yp[i * s.outs + o] = acc + (bp?[o] ?? 0)
                        }
                    }
                }
                XCTAssertEqual(tiledOne.map(\.bitPattern), sums.map(\.bitPattern), "\(what), tiled: not the in-order sums")
            } else {
                XCTAssertEqual(tiledOne.map(\.bitPattern), dots.map(\.bitPattern), "\(what), tiled below its batch")
            }
            XCTAssertLessThanOrEqual(maxDiff(tiledOne, ref), 1e-5 * scale, "\(what), tiled")
        }
    }

    /// lenet5_original's partially connected C3 is a planned convolution (packed once), not a
    /// tensor-op step: the plan's convolutions are C1, C3 and C5. The forward matches the
    /// reference path within 1e-4 of the largest output at batch 1 and 3, and is bitwise the
    /// same with 1 and 2 threads.
    func testPartialConvIsPlannedAndMatchesReference() throws {
        var r = TestRNG(5)
        let m = try Zoo.create("lenet5_original", numClasses: 10, seed: 3)
        for batch in [1, 3] {
            let x = try r.tensor([batch, 1, 32, 32])
            let one = try withThreads(1) { try m.forward(x) }
            let two = try withThreads(2) { try m.forward(x) }
            XCTAssertEqual(one.scalars.map(\.bitPattern), two.scalars.map(\.bitPattern), "batch \(batch): 1 vs 2 threads")
            let ref = try withReferenceKernels { try m.forward(x) }
            let scale = max(ref.scalars.map { abs($0) }.max() ?? 0, 1e-6)
            XCTAssertLessThanOrEqual(maxDiff(one.scalars, ref.scalars) / scale, 1e-4, "batch \(batch)")
            let steps = try XCTUnwrap(m.plan.cachedForwardPlan([batch, 1, 32, 32])).steps
            let convs: [Int] = steps.compactMap {
                if case .conv(_, let g, _, _, _, _, _, _) = $0 { return g.outChannels } else { return nil }
            }
            XCTAssertEqual(convs, [6, 16, 120], "batch \(batch): the plan's convolutions")
        }
    }

    /// An Inception-like module: three branches open with a 1×1 convolution of the input
    /// (two with batch norm, one with its own bias and no batch norm; all with ReLU), one
    /// with a pool; another module where only one branch opens with a 1×1 (no fusion).
    static func inceptionArchitecture() -> Architecture {
        func conv(_ i: Int, _ o: Int, _ k: Int, pad: Int = 0, bias: Bool = false) -> Layer {
            .conv2d(ConvSpec(i, o, kernel: k, padding: pad, bias: bias))
        }
        func basic(_ i: Int, _ o: Int, _ k: Int, pad: Int = 0) -> Layer {
            .sequential([NamedLayer("conv", conv(i, o, k, pad: pad)), NamedLayer("bn", .batchNorm2d(channels: o, eps: 1e-3)),
                         NamedLayer("relu", .relu)])
        }
        let module = Layer.concat([
            NamedLayer("branch1", basic(8, 5, 1)),
            NamedLayer("branch2", .sequential([NamedLayer("0", basic(8, 6, 1)), NamedLayer("1", basic(6, 7, 3, pad: 1))])),
            NamedLayer("branch3", .sequential([NamedLayer("0", conv(8, 3, 1, bias: true)), NamedLayer("1", .relu),
                                               NamedLayer("2", basic(3, 4, 3, pad: 1))])),
            NamedLayer("branch4", .sequential([NamedLayer("0", .maxPool2d(PoolSpec(kernel: 3, stride: 1, padding: 1))),
                                               NamedLayer("1", basic(8, 2, 1))])),
        ])
        let single = Layer.concat([
            NamedLayer("a", basic(18, 4, 1)),
            NamedLayer("b", basic(18, 3, 3, pad: 1)),
        ])
        let layers: [NamedLayer] = [
            NamedLayer("stem", basic(3, 8, 3, pad: 1)),
            NamedLayer("mixed1", module),
            NamedLayer("mixed2", single),
            NamedLayer("pool", .adaptiveAvgPool2d(Size2D(1))),
            NamedLayer("flatten", .flatten),
            NamedLayer("fc", .linear(inFeatures: 7, outFeatures: 10, bias: true)),
        ]
        return Architecture(name: "mini_inception", numClasses: 10, inputChannels: 3, inputSize: Size2D(9),
                            acceptsAnyInputSize: true, root: .sequential(layers))
    }

    /// The three 1×1 heads of `mixed1` run as one convolution of 5 + 6 + 3 = 14 channels; the
    /// module without a second head is not fused. Batch 1 (views of the fused result) and
    /// batch 2 (channel-slice copies) match the reference within 1e-4 of the largest output,
    /// the unfused tensor-by-tensor planned path within 1e-5, and are bitwise the same with 1
    /// and 2 threads.
    func testFusedOneByOneHeadsMatchReference() throws {
        var r = TestRNG(21)
        var m = try Model(Self.inceptionArchitecture(), seed: 4)
        // Batch norms with non-trivial statistics, so that folding is exercised.
        var state: [String: Tensor] = [:]
        for (name, t) in m.stateDict() {
            let stat = name.hasSuffix("running_var") || name.hasSuffix("running_mean") || name.hasSuffix("bn.weight")
            let lo: Float = name.hasSuffix("running_mean") ? -0.5 : 0.5
            state[name] = stat ? try r.tensor(t.shape, lo, lo + 1) : t
        }
        try m.loadStateDict(state)
        for shape in [[1, 3, 9, 9], [2, 3, 7, 10]] {
            let x = try r.tensor(shape)
            // The whole-batch plan (a forward of this tiny network at batch 2 runs image by
            // image through the batch-1 plan instead; both are checked).
            let plan = try m.forwardPlan(for: shape)
            let one = try withThreads(1) { try plan.run(x, pool: m.plan) }
            let two = try withThreads(2) { try plan.run(x, pool: m.plan) }
            XCTAssertEqual(one.scalars.map(\.bitPattern), two.scalars.map(\.bitPattern), "\(shape): 1 vs 2 threads")
            let ref = try withReferenceKernels { try m.forward(x) }
            let scale = max(ref.scalars.map { abs($0) }.max() ?? 0, 1e-6)
            XCTAssertLessThanOrEqual(maxDiff(one.scalars, ref.scalars) / scale, 1e-4, "\(shape) vs reference")
            let unfused = try m.runPlanned(m.architecture.root, path: "", x)
            XCTAssertLessThanOrEqual(maxDiff(one.scalars, unfused.scalars) / scale, 1e-5, "\(shape) vs the unfused path")
            let forward = try withThreads(2) { try m.forward(x) }
            XCTAssertLessThanOrEqual(maxDiff(forward.scalars, ref.scalars) / scale, 1e-4, "\(shape): forward vs reference")
            let steps = try XCTUnwrap(m.plan.cachedForwardPlan(shape)).steps
            let convs: [Int] = steps.compactMap {
                if case .conv(_, let g, _, _, _, _, _, _) = $0 { return g.outChannels } else { return nil }
            }
            // stem 8; mixed1: fused 14, branch2's 3x3 7, branch3's 3x3 4, branch4's 1x1 2; mixed2: 4 and 3.
            XCTAssertEqual(convs.sorted(), [2, 3, 4, 4, 7, 8, 14], "\(shape): the plan's convolutions")
            let slices = steps.filter { if case .channelSlice = $0 { return true } else { return false } }.count
            XCTAssertEqual(slices, shape[0] == 1 ? 0 : 3, "\(shape): channel-slice steps")
        }
    }

    /// A batch of a tiny per-sample network (LeNet-5, lenet5_original) runs image by image
    /// through the batch-1 plan: each image's output is bitwise its batch-1 forward, bitwise
    /// the same at 1 and 2 threads, and within 1e-4 of the reference. A network above the
    /// size limit or with a layer outside the per-sample kinds does not split.
    func testTinyBatchesRunImageByImage() throws {
        var r = TestRNG(8)
        for name in ["lenet5", "lenet5_original"] {
            let m = try Zoo.create(name, numClasses: 10, seed: 6)
            let x = try r.tensor([5, 1, 32, 32])
            let one = try withThreads(1) { try m.forward(x) }
            let two = try withThreads(2) { try m.forward(x) }
            XCTAssertEqual(one.scalars.map(\.bitPattern), two.scalars.map(\.bitPattern), "\(name): 1 vs 2 threads")
            XCTAssertTrue(try m.forwardPlan(for: x.shape).splitsBatch, name)
            XCTAssertFalse(try m.forwardPlan(for: [1, 1, 32, 32]).splitsBatch, name)
            let per = one.count / 5
            for i in 0..<5 {
                let xi = try Tensor(shape: [1, 1, 32, 32], scalars: Array(x.scalars[(i * 1024)..<((i + 1) * 1024)]))
                let yi = try m.forward(xi)
                XCTAssertEqual(yi.scalars.map(\.bitPattern), one.scalars[(i * per)..<((i + 1) * per)].map(\.bitPattern), "\(name) image \(i)")
            }
            let ref = try withReferenceKernels { try m.forward(x) }
            let scale = max(ref.scalars.map { abs($0) }.max() ?? 0, 1e-6)
            XCTAssertLessThanOrEqual(maxDiff(one.scalars, ref.scalars) / scale, 1e-4, name)
        }
        XCTAssertFalse(ForwardPlan.perSample(.softmax(axis: 0)))
        XCTAssertFalse(ForwardPlan.perSample(.sequential([NamedLayer("t", .transpose([0, 2, 1, 3]))])))
        XCTAssertTrue(ForwardPlan.perSample(Self.inceptionArchitecture().root))
        // The mini Inception splits at 9×9; at 200×200 its stem alone is 8.6 M multiply-adds
        // per image, over the limit (plans compiled, not run).
        let mini = try Model(Self.inceptionArchitecture(), seed: 4)
        XCTAssertTrue(try mini.forwardPlan(for: [2, 3, 9, 9]).splitsBatch)
        XCTAssertFalse(try mini.forwardPlan(for: [2, 3, 200, 200]).splitsBatch)
    }

    /// The wide-grid kernel behind ``Optimized/smallConvByPositions`` at stride 1 (LeNet's C3
    /// among random geometries: channel counts not divisible by 4, position-vector counts not
    /// divisible by 3, bias or none, residual + ReLU or neither, batch 1 and 2) is bitwise the
    /// by-positions kernel it replaces, and within 1e-5 of the reference convolution.
    func testWideSmallConvIsBitwiseByPositions() throws {
        var r = TestRNG(31)
        var cases: [(n: Int, c: Int, o: Int, k: Int, h: Int, w: Int)] = [(2, 6, 16, 5, 14, 14), (1, 6, 16, 5, 14, 14)]
        for _ in 0..<14 {
            let k = r.int(1...5)
            cases.append((r.int(1...2), r.int(1...8), r.int(1...20), k, k + r.int(0...12), k + r.int(0...14)))
        }
        for (t, cs) in cases.enumerated() {
            let x = try r.tensor([cs.n, cs.c, cs.h, cs.w]), weight = try r.tensor([cs.o, cs.c, cs.k, cs.k])
            let bias = t % 3 == 2 ? nil : try r.tensor([cs.o])
            let g = try Conv2DGeometry(input: x, weight: weight, bias: bias, options: Conv2DOptions())
            XCTAssertTrue(Optimized.smallConvByPositionsApplies(g) && Optimized.smallConvWideApplies(g), "\(cs)")
            let want = try withReferenceKernels { try conv2d(x, weight: weight, bias: bias) }
            let residual = t % 2 == 0 ? try r.tensor(want.shape) : nil
            let relu = t % 2 == 0
            let packed = try weight.withUnsafePointer { try PackedConvWeights(g, weight: $0) }
            func run(wide: Bool) throws -> [Float] {
                var out = try Tensor(zeros: want.shape)
                try x.withUnsafePointer { xp in
                    try out.withUnsafeMutableBufferPointer { yp in
                        withOptionalPointer(residual) { rp in
                            withOptionalPointer(bias) { bp in
                                Optimized.smallConvByPositions(g, input: xp, packed: packed.groups[0].pointer, bias: bp,
                                                               residual: rp, relu: relu, output: yp.baseAddress!, allowWide: wide)
                            }
                        }
                    }
                }
                return out.scalars
            }
            let wide = try run(wide: true), old = try run(wide: false)
            XCTAssertEqual(wide.map(\.bitPattern), old.map(\.bitPattern), "\(cs): wide vs by positions")
            let expected = residual.map { zip(want.scalars, $0.scalars).map { max($0 + $1, 0) } } ?? want.scalars
            XCTAssertLessThanOrEqual(maxDiff(wide, expected), 1e-5 * Float(cs.c * cs.k * cs.k).squareRoot(), "\(cs) vs reference")
        }
    }
}
