import XCTest
@testable import SwiftCNN

/// The per-layer profiler (Graph/Profile.swift): one step record per plan step, nodes that
/// cover every step, shares and MACs that add up, unchanged results, the summary's columns.
final class ProfileTests: XCTestCase {
    func testEveryStepHasANodeAndTheNodesCoverThePlan() throws {
        var r = TestRNG(4)
        for (name, shape) in [("lenet5", [2, 1, 32, 32]), ("lenet5_original", [1, 1, 32, 32]), ("resnet18", [1, 3, 32, 32]),
                              ("googlenet", [2, 3, 32, 32])] {
            let m = try Zoo.create(name, numClasses: 10, seed: 2)
            let x = try r.tensor(shape)
            let before = try m.forward(x)
            let plan = try m.forwardPlan(for: shape)
            XCTAssertEqual(plan.stepInfo.count, plan.steps.count, name)
            let p = try m.profile(input: x, runs: 2, warmup: 0)
            // Every step belongs to exactly one node, in plan order.
            XCTAssertEqual(p.nodes.reduce(0) { $0 + $1.steps }, plan.steps.count, name)
            let paths = Set(plan.stepInfo.map { $0.path.isEmpty ? "(output)" : $0.path })
            XCTAssertEqual(Set(p.nodes.map(\.node)), paths, name)
            XCTAssertEqual(p.nodes.count, paths.count, name)
            XCTAssertEqual(p.nodes.reduce(0) { $0 + $1.share }, 1, accuracy: 1e-9, name)
            // The nodes hold every MAC of the summary (per example × batch).
            XCTAssertEqual(p.nodes.reduce(0) { $0 + $1.macs }, try m.summary(inputShape: shape).totalMACs * shape[0], name)
            XCTAssertTrue(p.nodes.allSatisfy { $0.bytes > 0 && $0.milliseconds >= 0 }, name)
            // Profiling runs the same steps on the same buffers: the forward is unchanged.
            XCTAssertEqual(try m.forward(x).scalars, before.scalars, name)
        }
    }

    func testKernelsAndFusedLayers() throws {
        let m = try Zoo.create("resnet18", numClasses: 10, seed: 2)
        var r = TestRNG(5)
        let p = try m.profile(input: try r.tensor([1, 3, 32, 32]), runs: 1, warmup: 0)
        let byNode = Dictionary(uniqueKeysWithValues: p.nodes.map { ($0.node, $0) })
        XCTAssertEqual(byNode["conv1"]?.fused, ["bn", "relu"])
        XCTAssertEqual(byNode["conv1"]?.kernel, "direct")
        XCTAssertEqual(byNode["layer1.0.conv2"]?.fused, ["bn", "add", "relu"])
        XCTAssertEqual(byNode["fc"]?.kernel, "linear")
        XCTAssertEqual(byNode["maxpool"]?.kernel, "maxpool")
        XCTAssertNil(byNode["bn1"])
        let convKernels: Set<String> = ["winograd", "winograd2x2", "small", "byPositions", "direct", "gemv", "gemm", "depthwise"]
        XCTAssertTrue(p.nodes.filter { $0.op == "Conv2d" }.allSatisfy { convKernels.contains($0.kernel) })
        XCTAssertEqual(p.top(3).map(\.milliseconds), p.nodes.map(\.milliseconds).sorted(by: >).prefix(3).map { $0 })
        XCTAssertTrue(p.text(limit: 4).contains("(19 more nodes)"))
    }

    func testSummaryColumnsOnlyWhenAsked() throws {
        let m = try Zoo.create("lenet5", numClasses: 10, seed: 2)
        let plain = try m.summary(inputShape: [1, 1, 32, 32])
        XCTAssertFalse(plain.text.contains("Kernel"))
        var r = TestRNG(6)
        let p = try m.profile(input: try r.tensor([1, 1, 32, 32]), runs: 1)
        let timed = try m.summary(profile: p)
        XCTAssertEqual(timed.rows, plain.rows)
        XCTAssertTrue(timed.text.contains("Kernel"))
        XCTAssertEqual(timed.text.split(separator: "\n").count, plain.text.split(separator: "\n").count + 1)
        XCTAssertThrowsError(try m.profile(input: try r.tensor([1, 1, 32, 32]), runs: 0))
        XCTAssertThrowsError(try m.profile(input: try r.tensor([1, 1, 32, 32]), warmup: -1))
        XCTAssertThrowsError(try m.profile(input: try r.tensor([1, 3, 32, 32])))
    }
}
