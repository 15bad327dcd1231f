import XCTest
@testable import SwiftCNN

/// The inference plan (batch norm folded into convolutions, packed weights, bias/ReLU/
/// residual fused into the output pass) against the reference path, its reuse across
/// forwards and its invalidation when weights change.
final class InferencePlanTests: XCTestCase {
    /// One seeded resnet18 (10 classes) shared by the tests: seeding 11M weights is slow in debug.
    nonisolated(unsafe) static let resnet18: Model? = try? Zoo.create("resnet18", numClasses: 10)

    /// A fresh copy of the shared resnet18 with an empty plan.
    func freshResNet18() throws -> Model {
        var m = try XCTUnwrap(Self.resnet18)
        m.plan = InferencePlan()
        return m
    }

    /// Max |a − b| relative to max |b|.
    func relDiff(_ a: Tensor, _ b: Tensor) -> Float {
        let scale = max(b.scalars.map { abs($0) }.max() ?? 0, 1e-6)
        return maxDiff(a.scalars, b.scalars) / scale
    }

    func referenceForward(_ m: Model, _ x: Tensor) throws -> Tensor {
        try withReferenceKernels { try m.forward(x) }
    }

    /// Residual blocks (resnet18: basic blocks with projection shortcuts, batch 2) and
    /// conv-bn-relu stacks in concatenated branches (googlenet) match the reference path
    /// within 1e-4 of the largest logit; the state dict is unchanged by planning.
    func testPlannedForwardMatchesReference() throws {
        var r = TestRNG(9)
        for (name, shape) in [("resnet18", [2, 3, 24, 20]), ("googlenet", [1, 3, 40, 32])] {
            let model = name == "resnet18" ? try freshResNet18() : try Zoo.create(name, numClasses: 10, seed: 3)
            let before = model.stateDict().map { $0.1.scalars }
            let x = try r.tensor(shape)
            let fast = try model.forward(x)
            XCTAssertGreaterThan(model.plan.preparedCount, 0, name)
            let slow = try referenceForward(model, x)
            XCTAssertEqual(fast.shape, slow.shape)
            XCTAssertLessThanOrEqual(relDiff(fast, slow), 1e-4, name)
            XCTAssertEqual(model.stateDict().map { $0.1.scalars }, before, "\(name): planning changed the state dict")
        }
    }

    /// A second forward reuses the prepared weights: nothing is re-packed.
    func testPlanIsReused() throws {
        let model = try freshResNet18()
        var rng = TestRNG(2)
        let x = try rng.tensor([1, 3, 20, 20])
        let first = try model.forward(x)
        let count = model.plan.preparedCount
        XCTAssertEqual(count, 20)  // 17 convs + 3 projection shortcuts, each with its batch norm
        let key = "layer1.0.conv1+layer1.0.bn1"
        let prepared = try model.plan.conv(key) { XCTFail("not prepared"); throw SwiftCNNError(.internal, "x") }
        let second = try model.forward(x)
        XCTAssertEqual(model.plan.preparedCount, count)
        XCTAssertTrue(try model.plan.conv(key) { throw SwiftCNNError(.internal, "rebuilt") } === prepared)
        XCTAssertEqual(first.scalars, second.scalars)
    }

    /// set_parameter, load_state_dict and any other change to the store drop the plan, so forwards see
    /// the new weights (compared with the reference path after each change).
    func testPlanIsInvalidatedWhenWeightsChange() throws {
        var model = try freshResNet18()
        var rng = TestRNG(4)
        let x = try rng.tensor([1, 3, 20, 20])
        let y0 = try model.forward(x)

        // A batch-norm buffer (folded into conv1) and a conv weight.
        let mean = try model.parameter("bn1.running_mean")
        try model.setParameter("bn1.running_mean", try Tensor(shape: mean.shape, scalars: mean.scalars.map { $0 + 0.5 }))
        XCTAssertEqual(model.plan.preparedCount, 0)
        let y1 = try model.forward(x)
        XCTAssertNotEqual(y0.scalars, y1.scalars)
        XCTAssertLessThanOrEqual(relDiff(y1, try referenceForward(model, x)), 1e-4)

        let w = try model.parameter("layer4.1.conv2.weight")
        var dict = Dictionary(uniqueKeysWithValues: model.stateDict())
        dict["layer4.1.conv2.weight"] = try Tensor(shape: w.shape, scalars: w.scalars.map { -$0 })
        try model.loadStateDict(dict)
        let y2 = try model.forward(x)
        XCTAssertNotEqual(y1.scalars, y2.scalars)
        XCTAssertLessThanOrEqual(relDiff(y2, try referenceForward(model, x)), 1e-4)

        model.store = try XCTUnwrap(Self.resnet18).store
        XCTAssertEqual(model.plan.preparedCount, 0)
        XCTAssertEqual(try model.forward(x).scalars, y0.scalars)
    }

    /// Copies share the plan until one changes its weights; the other keeps its own.
    func testCopiesKeepTheirOwnWeights() throws {
        let a = try freshResNet18()
        var b = a
        var rng = TestRNG(6)
        let x = try rng.tensor([1, 3, 20, 20])
        let ya = try a.forward(x)
        let bias = try b.parameter("fc.bias")
        try b.setParameter("fc.bias", try Tensor(shape: bias.shape, scalars: bias.scalars.map { $0 + 1 }))
        let yb = try b.forward(x)
        XCTAssertEqual(try a.forward(x).scalars, ya.scalars)
        XCTAssertEqual(zip(ya.scalars, yb.scalars).map { $1 - $0 }.allSatisfy { abs($0 - 1) < 1e-5 }, true)
    }
}
