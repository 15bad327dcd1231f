import XCTest
@testable import SwiftCNN

/// The graph engine: validation with errors that name the node, JSON and file round trips,
/// zoo models through the same machinery, named outputs, freeze and replace.
final class GraphTests: XCTestCase {
    /// A small residual graph: conv → bn → relu, added to the conv's output, pooled, fc.
    func residualJSON(version: Int = 1, extraNode: String = "", output: String = "fc") -> String {
        """
        {"version": \(version), "name": "tiny", "input_shape": [3, 8, 8], "network": {"op": "graph", "name": "", "graph": {
          "inputs": ["input"],
          "nodes": [
            {"name": "stem", "op": "conv2d", "inputs": ["input"], "attrs": {"in_channels": 3, "out_channels": 4, "kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}},
            {"name": "bn", "op": "batch_norm2d", "inputs": ["stem"], "attrs": {"num_features": 4}},
            {"name": "act", "op": "relu", "inputs": ["bn"]},
            {"name": "sum", "op": "add", "inputs": ["stem", "act"]},
            {"name": "pool", "op": "adaptive_avg_pool2d", "inputs": ["sum"], "attrs": {"output_size": [1, 1]}},
            {"name": "flat", "op": "flatten", "inputs": ["pool"]},
            \(extraNode)
            {"name": "fc", "op": "linear", "inputs": ["flat"], "attrs": {"in_features": 4, "out_features": 5}}
          ],
          "outputs": ["\(output)"]}}}
        """
    }

    func testValidGraphRunsAndRoundTrips() throws {
        let m = try Model.fromJSON(residualJSON())
        XCTAssertEqual(m.parameterSpecs.map(\.name), ["stem.weight", "stem.bias", "bn.weight", "bn.bias", "bn.running_mean",
                                                      "bn.running_var", "fc.weight", "fc.bias"])
        let x = try randomTensor(1, [2, 3, 8, 8])
        let y = try m.forward(x)
        XCTAssertEqual(y.shape, [2, 5])
        try withReferenceKernels { XCTAssertLessThanOrEqual(maxDiff(try m.forward(x).scalars, y.scalars), 1e-5) }
        // JSON round trip is exact.
        let again = try Architecture.fromJSON(try m.architecture.json())
        XCTAssertEqual(again, m.architecture)
        // Named outputs equal what the graph computes.
        let outs = try m.forward(x, outputs: ["stem", "sum", "fc"])
        XCTAssertEqual(outs["fc"]?.scalars, try m.forward(x, outputs: ["fc"])["fc"]?.scalars)
        XCTAssertLessThanOrEqual(maxDiff(outs["fc"]!.scalars, y.scalars), 1e-5)
        XCTAssertEqual(outs["sum"]?.shape, [2, 4, 8, 8])
        assertThrows(.invalidArgument, "no node named \"nope\"") { try m.forward(x, outputs: ["nope"]) }
    }

    func testBadGraphsNameTheNode() {
        // A cycle.
        let cyclic = residualJSON().replacingFirst("\"inputs\": [\"bn\"]}", with: "\"inputs\": [\"sum\"]}")
        assertThrows(.format, "cycle", "act") { try Model.fromJSON(cyclic) }
        // A dangling name.
        assertThrows(.format, "flat", "no node or input named \"flatt\"") {
            try Model.fromJSON(residualJSON().replacingFirst("\"inputs\": [\"flat\"]", with: "\"inputs\": [\"flatt\"]"))
        }
        // A duplicate name.
        assertThrows(.format, "\"act\"", "used twice") {
            try Model.fromJSON(residualJSON(extraNode: #"{"name": "act", "op": "identity", "inputs": ["flat"]},"#))
        }
        // An unknown op and an unknown attribute.
        assertThrows(.format, "node \"x\"", "unknown op \"frobnicate\"") {
            try Model.fromJSON(residualJSON(extraNode: #"{"name": "x", "op": "frobnicate", "inputs": ["flat"]},"#))
        }
        assertThrows(.format, "node \"x\"", "unknown attribute \"colour\"") {
            try Model.fromJSON(residualJSON(extraNode: #"{"name": "x", "op": "relu", "inputs": ["flat"], "attrs": {"colour": 1}},"#))
        }
        // Wrong arity.
        assertThrows(.format, "node \"x\"", "takes 2 inputs") {
            try Model.fromJSON(residualJSON(extraNode: #"{"name": "x", "op": "add", "inputs": ["flat"]},"#))
        }
        // Shapes that do not fit: the fc expects 4 features.
        assertThrows(.shapeMismatch, "fc", "expects 7 input features") {
            try Model.fromJSON(residualJSON().replacingFirst("\"in_features\": 4", with: "\"in_features\": 7"))
        }
        assertThrows(.shapeMismatch, "sum", "broadcast") {
            try Model.fromJSON(residualJSON().replacingFirst("\"inputs\": [\"stem\", \"act\"]", with: "\"inputs\": [\"input\", \"act\"]"))
        }
        // A schema version from the future, and the one before the first.
        assertThrows(.unsupported, "version 2 is newer") { try Model.fromJSON(residualJSON(version: 2)) }
        assertThrows(.format, "version 0") { try Model.fromJSON(residualJSON(version: 0)) }
        // An output that does not exist.
        assertThrows(.format, "output", "\"fc:1\"") { try Model.fromJSON(residualJSON(output: "fc:1")) }
        // Malformed JSON.
        assertThrows(.format, "graph JSON") { try Model.fromJSON("{\"version\": 1,") }
        assertThrows(.format, "attribute \"out_channels\" must be an integer of at least 1") {
            try Model.fromJSON(residualJSON().replacingFirst("\"out_channels\": 4", with: "\"out_channels\": -4"))
        }
    }

    /// A model file whose metadata or weights were tampered with is refused with a clear
    /// error, never a crash.
    func testTamperedFiles() throws {
        let m = try Model.fromJSON(residualJSON())
        let path = FileManagerless.temporaryPath("tampered")
        defer { unlink(path) }
        try m.save(path: path)
        let file = try SafeTensorsFile.read(path: path)
        var meta = file.metadata
        func write(_ meta: [String: String], _ tensors: [(String, Tensor)]) throws {
            try SafeTensorsFile.write(tensors, metadata: meta, to: path)
        }
        let tensors = try file.orderedTensors()
        meta["graph"] = String(meta["graph"]!.dropLast(3))
        try write(meta, tensors)
        assertThrows(.format, path, "graph JSON") { try Model.open(path: path) }
        meta = file.metadata
        meta["version"] = "7"
        try write(meta, tensors)
        assertThrows(.unsupported, "version 7 is newer") { try Model.open(path: path) }
        meta = file.metadata
        meta["format"] = "other"
        try write(meta, tensors)
        assertThrows(.format, "not \"swiftcnn\"") { try Model.open(path: path) }
        // Weights that do not match the graph.
        try write(file.metadata, tensors.map { $0.0 == "fc.weight" ? ($0.0, try Tensor(zeros: [5, 3])) : $0 })
        assertThrows(.shapeMismatch, "fc.weight", "[5, 4]", "[5, 3]") { try Model.open(path: path) }
        try write(file.metadata, tensors.filter { $0.0 != "bn.running_var" })
        assertThrows(.shapeMismatch, "missing key", "bn.running_var") { try Model.open(path: path) }
        // A weights-only file says what to do instead.
        try write([:], tensors)
        assertThrows(.format, "weights-only") { try Model.open(path: path) }
    }

    /// Every zoo architecture survives JSON, and a zoo model saved and opened without its
    /// name computes the same logits bit for bit.
    func testZooThroughJSONAndFiles() throws {
        for name in Zoo.names {
            let arch = try Zoo.architecture(name, numClasses: 7)
            XCTAssertEqual(try Architecture.fromJSON(try arch.json()), arch, name)
        }
        for name in ["lenet5", "lenet5_original", "googlenet"] {
            let m = try Zoo.create(name, seed: 3)
            let path = FileManagerless.temporaryPath(name)
            defer { unlink(path) }
            try m.save(path: path)
            let opened = try Model.open(path: path)
            let x = try randomTensor(2, m.architecture.nominalInputShape(batch: 1))
            XCTAssertEqual(try opened.forward(x).scalars.map(\.bitPattern), try m.forward(x).scalars.map(\.bitPattern), name)
            let bytes = try FileManagerless.read(path)
            XCTAssertEqual(try Model.open(bytes: bytes).stateDict().map { $0.1.scalars }, opened.stateDict().map { $0.1.scalars })
        }
    }

    /// The zoo lowered to flat graphs computes the same function with the same parameter
    /// names, and the plan fuses the graph as it fuses the tree: the same steps (conv + bn +
    /// ReLU, the residual add + ReLU inside the last conv of each block), the same result.
    func testLoweredZooEqualsTheTree() throws {
        for name in ["resnet18", "resnet50", "googlenet", "vgg11_bn", "lenet5_original"] {
            let tree = try Zoo.create(name, numClasses: 10, seed: 5)
            let arch = try tree.architecture.lowered()
            guard case .graph = arch.root else { return XCTFail("\(name): not a graph") }
            XCTAssertEqual(arch.parameterSpecs, tree.parameterSpecs, name)
            var flat = try Model(arch)
            try flat.loadStateDict(Dictionary(uniqueKeysWithValues: tree.stateDict()))
            let shape = tree.architecture.acceptsAnyInputSize ? [1, 3, 40, 40] : tree.architecture.nominalInputShape(batch: 1)
            let x = try randomTensor(6, shape)
            let (a, b) = (try tree.forward(x), try flat.forward(x))
            XCTAssertLessThanOrEqual(maxDiff(a.scalars, b.scalars), 1e-5 * max(1, a.scalars.map(abs).max() ?? 1), name)
            let steps = (try tree.forwardPlan(for: shape).steps.count, try flat.forwardPlan(for: shape).steps.count)
            if name.hasPrefix("resnet") {
                XCTAssertEqual(steps.0, steps.1, "\(name): the graph plan fuses as the tree's does")
                XCTAssertEqual(a.scalars.map(\.bitPattern), b.scalars.map(\.bitPattern), "\(name): same kernels, same result")
            }
            // The lowered graph trains like the tree: the same gradients.
            if name == "resnet18" || name == "lenet5_original" {
                var t = tree, f = flat
                t.train(); f.train()
                let small = try randomTensor(7, name == "resnet18" ? [2, 3, 32, 32] : [2] + shape.dropFirst())
                let (ya, ta) = try t.forwardRecording(small)
                let (yb, tb) = try f.forwardRecording(small)
                let g = try randomTensor(8, ya.shape)
                XCTAssertLessThanOrEqual(maxDiff(ya.scalars, yb.scalars), 1e-5)
                let (ga, gb) = (try t.backward(ta, gradOutput: g), try f.backward(tb, gradOutput: g))
                XCTAssertEqual(ga.names, gb.names)
                for n in ga.names {
                    let (u, v) = (ga[n]!.scalars, gb[n]!.scalars)
                    XCTAssertLessThanOrEqual(maxDiff(u, v), 1e-4 * max(1, u.map(abs).max() ?? 1), "\(name): gradient of \(n)")
                }
            }
        }
    }

    /// Named outputs of a zoo model equal running its layers by hand.
    func testZooNamedOutputs() throws {
        let m = try Zoo.create("resnet18")
        let x = try randomTensor(3, [1, 3, 40, 40])
        let outs = try m.forward(x, outputs: ["layer1", "layer3", "fc", "layer2.0.downsample"], includeOutput: true)
        XCTAssertEqual(outs["layer3"]?.shape, [1, 256, 3, 3])
        XCTAssertEqual(outs["layer2.0.downsample"]?.shape, [1, 128, 5, 5])
        XCTAssertLessThanOrEqual(maxDiff(outs["fc"]!.scalars, try m.forward(x).scalars), 1e-4)
        XCTAssertEqual(outs[""]?.scalars, outs["fc"]?.scalars)
        XCTAssertTrue(m.architecture.outputNames.contains("layer4.1.bn2"))
    }

    /// Fine-tuning: a frozen backbone and a new head; one optimizer step changes the head only
    /// and the optimizer keeps no state for frozen parameters.
    func testFreezeAndReplaceChangeOnlyTheHead() throws {
        var m = try Zoo.create("resnet18")
        XCTAssertEqual(try m.freeze(""), 62)
        try m.replace("fc", with: .linear(inFeatures: 512, outFeatures: 10, bias: true))
        XCTAssertEqual(m.numClasses, 10)
        XCTAssertEqual(try m.outputShape(forInput: [2, 3, 32, 32]), [2, 10])
        XCTAssertFalse(m.frozen.contains("fc.weight"))
        XCTAssertTrue(m.frozen.contains("conv1.weight"))
        let before = m.stateDict()
        let optimizer = try Optimizer(.sgd(lr: 0.1, momentum: 0.9), for: m)
        m.train()
        let x = try randomTensor(4, [4, 3, 32, 32])
        let (y, tape) = try m.forwardRecording(x)
        let (_, g) = try crossEntropyLoss(y, labels: [1, 2, 3, 4])
        let grads = try m.backward(tape, gradOutput: g)
        XCTAssertEqual(grads.names, ["fc.weight", "fc.bias"])
        try optimizer.step(&m, grads)
        for (name, old) in before {
            let new = try m.parameter(name)
            if name.hasPrefix("fc.") {
                XCTAssertNotEqual(new.scalars, old.scalars, name)
            } else if !name.hasSuffix("running_mean") && !name.hasSuffix("running_var") {
                XCTAssertEqual(new.scalars, old.scalars, name)
            }
        }
        let stateKeys = optimizer.stateDict().map(\.0)
        XCTAssertTrue(stateKeys.contains("optimizer.fc.weight.momentum_buffer"), "\(stateKeys)")
        XCTAssertEqual(stateKeys.filter { k in m.frozen.contains { k.hasPrefix("optimizer.\($0).") } }, [], "no state for frozen parameters")
        // Errors.
        assertThrows(.invalidArgument, "no trainable parameter under \"nope\"") { try m.freeze("nope") }
        assertThrows(.invalidArgument, "no node named \"head\"") { try m.replace("head", with: .relu) }
        assertThrows(.shapeMismatch, "fc", "expects 100 input features") {
            try m.replace("fc", with: .linear(inFeatures: 100, outFeatures: 10, bias: true))
        }
        XCTAssertEqual(try m.outputShape(forInput: [1, 3, 32, 32]), [1, 10], "unchanged after a failed replace")
    }
}

/// A tensor of `shape` uniform in [−1, 1) from TestRNG(seed).
func randomTensor(_ seed: UInt64, _ shape: [Int]) throws -> Tensor {
    var r = TestRNG(seed)
    return try r.tensor(shape)
}

extension String {
    /// `self` with the first occurrence of `a` replaced by `b` (a test fails to find `a` loudly).
    func replacingFirst(_ a: String, with b: String) -> String {
        guard let r = range(of: a) else {
            XCTFail("\"\(a)\" not found")
            return self
        }
        return replacingCharacters(in: r, with: b)
    }
}
