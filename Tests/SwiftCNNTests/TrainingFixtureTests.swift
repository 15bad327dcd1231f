import XCTest
@testable import SwiftCNN

/// The ResNet of scripts/make_training_fixtures.py (`ResNetBlockNet`) from Layer values, with
/// the same state-dict names (blocks from the zoo's `basicBlock`, torchvision's layout): conv1 3→8, bn1, relu, layer1 = [BasicBlock(8, 8)],
/// layer2 = [BasicBlock(8, 16, stride 2, 1×1 projection)], adaptive average pool, fc 16→10.
func fixtureResNetArchitecture() -> Architecture {
    return Architecture(name: "resnet_block", numClasses: 10, inputChannels: 3, inputSize: Size2D(8), acceptsAnyInputSize: false,
                        root: .sequential([
                            NamedLayer("conv1", .conv2d(ConvSpec(3, 8, kernel: 3, padding: 1, bias: false))),
                            NamedLayer("bn1", .batchNorm2d(channels: 8, eps: 1e-5)),
                            NamedLayer("relu", .relu),
                            NamedLayer("layer1", .sequential([NamedLayer("0", basicBlock(8, 8, stride: 1))])),
                            NamedLayer("layer2", .sequential([NamedLayer("0", basicBlock(8, 16, stride: 2))])),
                            NamedLayer("avgpool", .adaptiveAvgPool2d(Size2D(1))),
                            NamedLayer("flatten", .flatten),
                            NamedLayer("fc", .linear(inFeatures: 16, outFeatures: 10, bias: true)),
                        ]))
}

/// One training step and two SGD / Adam steps against PyTorch (fixtures written by
/// scripts/make_training_fixtures.py with torch; see its docstring for the contents).
///
/// Tolerance: for each tensor, max |swift − torch| ≤ 1e-4 · max |torch| (relative to the
/// tensor's largest magnitude); the losses within 1e-5 relative. Float32 on both sides with
/// different summation orders; the measured errors are reported on failure.
final class TrainingFixtureTests: XCTestCase {
    static let fixtures: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(2)
        return parts.joined(separator: "/") + "/fixtures/training"
    }()

    func load(_ name: String) throws -> SafeTensorsFile {
        let path = Self.fixtures + "/\(name).safetensors"
        guard access(path, R_OK) == 0 else { throw XCTSkip("no fixture \(path)") }
        return try SafeTensorsFile.read(path: path)
    }

    func assertClose(_ a: Tensor, _ e: Tensor?, _ what: String, tolerance: Float = 1e-4,
                     file: StaticString = #filePath, line: UInt = #line) {
        guard let e else { return XCTFail("fixture lacks \(what)", file: file, line: line) }
        XCTAssertEqual(a.shape, e.shape, what, file: file, line: line)
        guard a.shape == e.shape else { return }
        let scale = e.scalars.reduce(0) { max($0, abs($1)) }
        let err = zip(a.scalars, e.scalars).reduce(0) { max($0, abs($1.0 - $1.1)) }
        XCTAssertLessThanOrEqual(err, tolerance * max(scale, 1e-30), "\(what): max error \(err), scale \(scale)", file: file, line: line)
    }

    func check(_ name: String, _ arch: Architecture) throws {
        let f = try load(name)
        guard let shapeText = f.metadata["input_shape"], let labelText = f.metadata["labels"] else {
            return XCTFail("\(name): metadata lacks input_shape/labels")
        }
        let shape = shapeText.split(separator: ",").compactMap { Int($0) }
        let labels = labelText.split(separator: ",").compactMap { Int32($0) }
        let x = try SeededInit.input(shape: shape)
        XCTAssertEqual(x.scalars.map(\.bitPattern), f.tensors["input"]?.scalars.map(\.bitPattern), "\(name): generated input")

        // Loss and gradients at the seeded weights, training mode.
        var model = try Model(arch)
        model.train()
        let (out, tape) = try model.forwardRecording(x)
        let (loss, g) = try crossEntropyLoss(out, labels: labels)
        XCTAssertEqual(loss, f.tensors["loss"]?.scalars.first ?? .nan, accuracy: 1e-5 * abs(loss), "\(name): loss")
        let grads = try model.backward(tape, gradOutput: g)
        for n in grads.names { assertClose(grads[n]!, f.tensors["grad.\(n)"], "\(name): grad.\(n)") }
        XCTAssertEqual(grads.names.count, f.tensors.keys.filter { $0.hasPrefix("grad.") }.count)

        // Two optimizer steps each, through Trainer.step.
        let firstSteps = f.metadata["first_steps"] == "1"
        for (prefix, config) in [("sgd", OptimizerConfig.sgd(lr: 0.1, momentum: 0.9, nesterov: false, weightDecay: 1e-4)),
                                 ("adam", OptimizerConfig.adam(lr: 1e-3))] {
            let m = try Model(arch)
            let trainer = Trainer(model: m, optimizer: try Optimizer(config, for: m), config: TrainingConfig(batchSize: shape[0]))
            var losses: [Float] = []
            for step in 1...2 {
                losses.append(try trainer.step(images: x, labels: labels))
                guard step == 2 || firstSteps else { continue }
                for (n, t) in trainer.model.stateDict() {
                    assertClose(t, f.tensors["\(prefix)\(step).\(n)"], "\(name): \(prefix)\(step).\(n)")
                }
            }
            let expected = f.tensors["\(prefix).loss"]?.scalars ?? []
            XCTAssertEqual(expected.count, 2)
            for (a, e) in zip(losses, expected) { XCTAssertEqual(a, e, accuracy: 1e-5 * abs(e), "\(name): \(prefix) losses") }
        }
    }

    func testLeNet5MatchesPyTorch() throws {
        try check("lenet5", lenet5Architecture())
    }

    func testResNetBlockWithBatchNormMatchesPyTorch() throws {
        try check("resnet_block", fixtureResNetArchitecture())
    }
}
