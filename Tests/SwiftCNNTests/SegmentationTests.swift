import XCTest
@testable import SwiftCNN

/// Issue 12 in the core: the upsample_like op (shape inference at any size, the reference
/// walker against the compiled plan, backward against the fixed-size upsample), graph
/// pruning, auxiliary losses (the trainer's loss is main + weight · aux), and the
/// segmentation task's argmax and softmax. Parity with torchvision is checked in Python
/// (bindings/python/tests/test_segmentation.py) through the release library.
final class SegmentationTests: XCTestCase {
    /// x → conv (stride 2) → upsample_like(·, x) as a graph model taking any size.
    func likeModel() throws -> Model {
        let g = try Graph(inputs: ["input"], nodes: [
            GraphNode("conv", .conv2d(ConvSpec(2, 3, kernel: 3, stride: 2, padding: 1)), inputs: ["input"]),
            GraphNode("up", .upsampleLike(.bilinear(alignCorners: false)), inputs: ["conv", "input"]),
        ], outputs: ["up"])
        return try Model(try Architecture(name: "like", inputShape: [2, 7, 9], acceptsAnyInputSize: true, root: .graph(g)), seed: 4)
    }

    func testUpsampleLikeShapesReferenceAndPlan() throws {
        let m = try likeModel()
        for (h, w) in [(7, 9), (13, 5), (1, 1), (6, 6)] {
            XCTAssertEqual(try m.outputShape(forInput: [2, 2, h, w]), [2, 3, h, w])
            let x = try randomTensor(UInt64(h * 31 + w), [2, 2, h, w])
            let fast = try m.forward(x)
            KernelDispatch.forceReference = true
            defer { KernelDispatch.forceReference = false }
            let ref = try m.forward(x)
            XCTAssertEqual(fast.shape, [2, 3, h, w])
            let scale = ref.scalars.map(abs).max() ?? 1
            XCTAssertLessThanOrEqual(zip(fast.scalars, ref.scalars).map { abs($0 - $1) }.max() ?? 0, 1e-5 * max(scale, 1))
            // the same as the fixed-size upsample of the conv's output
            let conv = try conv2d(x, weight: try m.parameter("conv.weight"), bias: try m.parameter("conv.bias"),
                                  options: ConvSpec(2, 3, kernel: 3, stride: 2, padding: 1).options)
            let up = try upsample2d(conv, outputSize: Size2D(h, w), scales: nil, mode: .bilinear(alignCorners: false))
            XCTAssertEqual(ref.scalars, up.scalars)
        }
        // JSON round trip
        XCTAssertEqual(try Architecture.fromJSON(try m.architecture.json()), m.architecture)
        // two image inputs of one batch
        assertThrows(.invalidArgument, "2 inputs") {
            try Graph(inputs: ["input"], nodes: [GraphNode("up", .upsampleLike(.nearest), inputs: ["input"])], outputs: ["up"])
        }
    }

    func testUpsampleLikeBackwardIsTheUpsamplesAndTheReferenceGetsZero() throws {
        var m = try likeModel()
        m.train()
        let x = try randomTensor(9, [2, 2, 7, 9])
        let (y, tape) = try m.forwardRecording(x)
        let g = try randomTensor(10, y.shape)
        let grads = try m.backward(tape, gradOutput: g)
        // d conv.bias = Σ over N, H, W of the upsample's backward of g
        let gc = try upsample2dBackward(inputShape: [2, 3, 4, 5], gradOutput: g, scales: nil, mode: .bilinear(alignCorners: false))
        var want = [Float](repeating: 0, count: 3)
        for (i, v) in gc.scalars.enumerated() { want[(i / 20) % 3] += v }
        let got = try XCTUnwrap(grads.values["conv.bias"]).scalars
        for k in 0..<3 { XCTAssertEqual(got[k], want[k], accuracy: 1e-4 * max(1, abs(want[k]))) }
    }

    func testPrunedGraphKeepsOnlyWhatTheOutputsNeed() throws {
        let g = try Graph(inputs: ["x"], nodes: [
            GraphNode("a", .relu, inputs: ["x"]),
            GraphNode("b", .tanh, inputs: ["a"]),
            GraphNode("c", .relu, inputs: ["x"]),
        ], outputs: ["b", "c"])
        let p = try g.pruned(keeping: ["b"])
        XCTAssertEqual(p.nodes.map(\.name), ["a", "b"])
        XCTAssertEqual(p.outputs, ["b"])
        assertThrows(.invalidArgument, "not an output") { try g.pruned(keeping: ["a"]) }
    }

    /// flatten → h (linear) → relu → fc (main) and head (auxiliary, weight 0.3).
    func auxArchitecture() throws -> Architecture {
        let g = try Graph(inputs: ["input"], nodes: [
            GraphNode("flat", .flatten, inputs: ["input"]),
            GraphNode("h", .linear(inFeatures: 6, outFeatures: 5, bias: true), inputs: ["flat"]),
            GraphNode("act", .relu, inputs: ["h"]),
            GraphNode("fc", .linear(inFeatures: 5, outFeatures: 3, bias: true), inputs: ["act"]),
            GraphNode("head", .linear(inFeatures: 5, outFeatures: 3, bias: true), inputs: ["act"]),
        ], outputs: ["fc", "head"])
        return try Architecture(name: "aux", inputShape: [1, 2, 3], root: .graph(g))
            .withAuxiliaryLosses([AuxiliaryLoss(output: "head", weight: 0.3)])
    }

    func testAuxiliaryLossesAddInTrainingOnly() throws {
        let arch = try auxArchitecture()
        XCTAssertEqual(arch.parameterSpecs.count, 6)   // the head's parameters are in the state dict
        guard case .graph(let inference) = arch.root else { return XCTFail("root is not a graph") }
        XCTAssertEqual(inference.outputs, ["fc"])      // inference never computes the head
        XCTAssertFalse(inference.nodes.contains { $0.name == "head" })
        XCTAssertEqual(try Architecture.fromJSON(try arch.json()), arch)
        let model = try Model(arch, seed: 2)
        let x = try randomTensor(3, [4, 1, 2, 3])
        let labels: [Int32] = [0, 2, 1, 2]
        // main + 0.3 · aux computed separately, from the full graph's outputs
        var probe = model
        probe.train()
        let (_, tape) = try probe.forwardRecording(x)
        XCTAssertEqual(tape.auxiliaryOutputs.count, 1)
        let main = try crossEntropyLoss(try model.forward(x), labels: labels).loss
        let aux = try crossEntropyLoss(tape.auxiliaryOutputs[0], labels: labels).loss
        let trainer = Trainer(model: model, optimizer: try Optimizer(OptimizerConfig(kind: .sgd, learningRate: 0.1), for: model),
                              config: TrainingConfig())
        let loss = try trainer.step(images: x, labels: labels)
        XCTAssertEqual(loss, main + 0.3 * aux, accuracy: 1e-5 * max(1, abs(loss)))
        // the step reached the head
        XCTAssertNotEqual(try trainer.model.parameter("head.weight").scalars, try model.parameter("head.weight").scalars)
        assertThrows(.invalidArgument, "after the first") {
            try Architecture(name: "a", inputShape: [1, 2, 3], root: arch.trainingRoot!).withAuxiliaryLosses([AuxiliaryLoss(output: "fc", weight: 1)])
        }
    }

    func testLabelsAreTheArgmaxAndScoresTheSoftmax() throws {
        // [1, 3, 1, 2]: pixel 0 ties classes 1 and 2 (the lowest wins), pixel 1 is class 0.
        let logits = try Tensor(shape: [1, 3, 1, 2], scalars: [0, 5, 2, 1, 2, 1])
        let r = try Segmentation.labels(fromScores: logits)
        XCTAssertEqual(r.labels, [1, 0])
        XCTAssertEqual(r.scores[0], 1 / (expf(-2) + 1 + 1), accuracy: 1e-6)
        XCTAssertEqual(r.scores[1], 1 / (1 + expf(-4) + expf(-4)), accuracy: 1e-6)
        XCTAssertEqual(VOC.classes.count, 21)
        assertThrows(.shapeMismatch, "[N, classes, H, W]") { try Segmentation.labels(fromScores: try Tensor(zeros: [2, 3])) }
    }
}
