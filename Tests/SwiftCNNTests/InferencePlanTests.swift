import Dispatch
import Foundation
import XCTest
@testable import SwiftCNN

/// The inference plan (batch norm folded into convolutions, packed weights, bias/ReLU/
/// residual fused into the output pass) and the compiled forward pass with its planned
/// memory, against the reference path: reuse across forwards, invalidation when weights
/// change, no allocation but the result in a steady-state forward, buffers that never
/// clash, concurrent forwards.
///
/// A small network built for the test stands in for the zoo (whose parity ZooTests checks):
/// it has every fused and planned path — conv + bn + relu, residual blocks with identity
/// and projection shortcuts, a residual join that cannot be fused, inception-like concat
/// branches (a conv, a pool, a bare identity), LRN, adaptive pooling, flatten, dropout,
/// linear + tanh — and takes milliseconds to build and run in a debug build.
final class InferencePlanTests: XCTestCase {
    static func miniArchitecture() -> Architecture {
        func conv(_ i: Int, _ o: Int, _ k: Int, stride: Int = 1, pad: Int = 0, bias: Bool = false) -> Layer {
            .conv2d(ConvSpec(i, o, kernel: k, stride: stride, padding: pad, bias: bias))
        }
        func bn(_ c: Int) -> Layer { .batchNorm2d(channels: c, eps: 1e-5) }
        let layers: [NamedLayer] = [
            NamedLayer("conv1", conv(3, 8, 3, pad: 1)), NamedLayer("bn1", bn(8)), NamedLayer("relu", .relu),
            NamedLayer("pool", .maxPool2d(PoolSpec(kernel: 3, stride: 2, padding: 1))),
            NamedLayer("block1", .residual(body: [NamedLayer("conv1", conv(8, 8, 3, pad: 1)), NamedLayer("bn1", bn(8)),
                                                  NamedLayer("relu", .relu),
                                                  NamedLayer("conv2", conv(8, 8, 3, pad: 1)), NamedLayer("bn2", bn(8))],
                                           shortcut: nil)),
            NamedLayer("block2", .residual(body: [NamedLayer("conv1", conv(8, 16, 3, stride: 2, pad: 1)), NamedLayer("bn1", bn(16)),
                                                  NamedLayer("relu", .relu),
                                                  NamedLayer("conv2", conv(16, 16, 3, pad: 1)), NamedLayer("bn2", bn(16))],
                                           shortcut: NamedLayer("downsample", .sequential([NamedLayer("0", conv(8, 16, 1, stride: 2)),
                                                                                           NamedLayer("1", bn(16))])))),
            NamedLayer("block3", .residual(body: [NamedLayer("conv", conv(16, 16, 1, bias: true)), NamedLayer("act", .tanh)],
                                           shortcut: nil)),
            NamedLayer("mixed", .concat([
                NamedLayer("branch1", .sequential([NamedLayer("conv", conv(16, 4, 1)), NamedLayer("bn", bn(4)), NamedLayer("relu", .relu)])),
                NamedLayer("branch2", .sequential([NamedLayer("0", .maxPool2d(PoolSpec(kernel: 3, stride: 1, padding: 1, ceilMode: true))),
                                                   NamedLayer("1", conv(16, 4, 1, bias: true)), NamedLayer("2", .relu)])),
                NamedLayer("branch3", .sequential([NamedLayer("0", conv(16, 6, 3, pad: 1, bias: true)), NamedLayer("1", .relu)])),
                NamedLayer("branch4", .sequential([NamedLayer("0", .dropout(p: 0.5))])),
            ])),
            NamedLayer("lrn", .localResponseNorm(size: 3, alpha: 0.01, beta: 0.75, k: 1)),
            NamedLayer("avgpool", .adaptiveAvgPool2d(Size2D(1))),
            NamedLayer("flatten", .flatten),
            NamedLayer("dropout", .dropout(p: 0.5)),
            NamedLayer("fc1", .linear(inFeatures: 30, outFeatures: 12, bias: true)),
            NamedLayer("act", .tanh),
            NamedLayer("fc", .linear(inFeatures: 12, outFeatures: 10, bias: true)),
        ]
        return Architecture(name: "mini", numClasses: 10, inputChannels: 3, inputSize: Size2D(16),
                            acceptsAnyInputSize: true, root: .sequential(layers))
    }

    func mini(seed: UInt64 = 1) throws -> Model { try Model(Self.miniArchitecture(), seed: seed) }

    /// Max |a − b| relative to max |b|.
    func relDiff(_ a: Tensor, _ b: Tensor) -> Float {
        let scale = max(b.scalars.map { abs($0) }.max() ?? 0, 1e-6)
        return maxDiff(a.scalars, b.scalars) / scale
    }

    func referenceForward(_ m: Model, _ x: Tensor) throws -> Tensor {
        try withReferenceKernels { try m.forward(x) }
    }

    /// The compiled plan (and the tensor-by-tensor ``Model/runPlanned``) matches the reference
    /// path within 1e-4 of the largest logit for batch 1 (concat branches write their slices
    /// in place) and batch 2 (copied), odd sizes; LeNet-5 both ways (planned tanh, pooling, tiny-output conv; the original's
    /// own layers); the state dict is unchanged by planning.
    func testPlannedForwardMatchesReference() throws {
        var r = TestRNG(9)
        let model = try mini()
        let before = model.stateDict().map { $0.1.scalars }
        // [2, 3, 3, 3] first: the 3×3 convolutions from the stride-2 block on see 1×1 maps and
        // are prepared cut to their live taps (``testConvPreparedWithItsLiveWindow``); the
        // larger shapes then run the same prepared convolutions whole.
        for shape in [[2, 3, 3, 3], [1, 3, 16, 12], [2, 3, 13, 17], [1, 3, 5, 5]] {
            let x = try r.tensor(shape)
            let fast = try model.forward(x)
            let slow = try referenceForward(model, x)
            XCTAssertEqual(fast.shape, slow.shape)
            XCTAssertLessThanOrEqual(relDiff(fast, slow), 1e-4, "\(shape)")
            // The tensor-by-tensor planned path (same fusions, no compiled plan) agrees too.
            let tensorPath = try model.runPlanned(model.architecture.root, path: "", x)
            XCTAssertLessThanOrEqual(relDiff(tensorPath, slow), 1e-4, "\(shape) (tensor path)")
        }
        XCTAssertGreaterThan(model.plan.preparedCount, 0)
        // The 3×3 input's plan ran three convolutions cut to a window (block2's two, branch3's).
        let tiny = try XCTUnwrap(model.plan.cachedForwardPlan([2, 3, 3, 3])).steps
        let cut = tiny.filter { if case .conv(let conv, let g, _, _, _, _, _, _) = $0 { return conv.resolve(g).conv !== conv } else { return false } }
        XCTAssertEqual(cut.count, 3)
        XCTAssertEqual(model.stateDict().map { $0.1.scalars }, before, "planning changed the state dict")
        for name in ["lenet5", "lenet5_original"] {
            let m = try Zoo.create(name, numClasses: 10, seed: 2)
            let x = try r.tensor([2, 1, 32, 32])
            XCTAssertLessThanOrEqual(relDiff(try m.forward(x), try referenceForward(m, x)), 1e-4, name)
        }
        // LeNet-5's convolutions take the small kernels (on the GEMM's packed layout), not the GEMM:
        // C1 direct, C3 by output positions, C5 (one output position) the packed GEMV.
        let lenet = try Zoo.create("lenet5", numClasses: 10, seed: 2)
        _ = try lenet.forward(try r.tensor([2, 1, 32, 32]))
        let steps = try XCTUnwrap(lenet.plan.cachedForwardPlan([2, 1, 32, 32])).steps
        let kernels: [InferencePlan.Conv.Kernel] = steps.compactMap {
            if case .conv(let conv, let g, _, _, _, _, _, _) = $0 { return conv.kernel(g) } else { return nil }
        }
        XCTAssertEqual(kernels, [.small, .byPositions, .gemv])
    }

    /// A convolution prepared for a geometry whose kernel reads only padding outside a window
    /// (``Conv2DGeometry/liveWindow``: 3×3, padding 1, on a 1×1 map) also keeps its weights cut
    /// to that window, and runs them for every geometry with the same window (another batch
    /// size); geometries without a window (a 6×5 map) or with another (a 1×4 map: one row, all
    /// columns) run the whole kernel. Each against the reference within 1e-5 of the largest
    /// output, with the scratch the plan would give (filled with NaN: never read).
    func testConvPreparedWithItsLiveWindow() throws {
        var r = TestRNG(31)
        let w = try r.tensor([12, 6, 3, 3]), b = try r.tensor([12])
        let o = Conv2DOptions(padding: 1)
        func geometry(_ xs: [Int]) throws -> Conv2DGeometry {
            try Conv2DGeometry(input: try Tensor(zeros: xs), weight: w, bias: b, options: o)
        }
        let prepared = try geometry([3, 6, 1, 1])
        let conv = try w.withUnsafePointer { try InferencePlan.Conv.prepare(prepared, weight: $0, bias: b) }
        let window = try XCTUnwrap(conv.window)
        XCTAssertEqual([window.rows, window.columns], [1...1, 1...1])
        XCTAssertNil(window.conv.window)
        for (xs, cut) in [([3, 6, 1, 1], true), ([5, 6, 1, 1], true), ([2, 6, 6, 5], false), ([2, 6, 1, 4], false)] {
            let g = try geometry(xs)
            let (runner, h) = conv.resolve(g)
            XCTAssertEqual(runner === window.conv, cut, "\(xs)")
            XCTAssertEqual(cut ? [1, 1] : [3, 3], [h.kernelHeight, h.kernelWidth], "\(xs)")
            let x = try r.tensor(xs)
            var out = try Tensor(zeros: [g.batch, g.outChannels, g.outHeight, g.outWidth])
            var scratch = [Float](repeating: .nan, count: try conv.scratchCount(g))
            try x.withUnsafePointer { xp in
                try out.withUnsafeMutablePointerUnchecked { yp in
                    try scratch.withUnsafeMutableBufferPointer { sp in
                        try conv.execute(g, input: xp, residual: nil, relu: false, output: yp, scratch: sp)
                    }
                }
            }
            let want = try withReferenceKernels { try conv2d(x, weight: w, bias: b, options: o) }
            XCTAssertLessThanOrEqual(relDiff(out, want), 1e-5, "\(xs)")
        }
    }

    /// A second forward of the same shape reuses everything: no convolution is re-packed,
    /// the compiled plan is the same object, and the only buffer allocated is the result
    /// (counted by Memory's allocation counter) — which is new each time and never aliases
    /// the plan's buffers: an earlier result is unchanged by later forwards.
    func testSteadyStateForwardAllocatesOnlyTheResult() throws {
        let model = try mini()
        var rng = TestRNG(2)
        let x = try rng.tensor([1, 3, 40, 36])
        let first = try model.forward(x)
        let count = model.plan.preparedCount
        XCTAssertEqual(count, 10)  // 9 convs + the projection shortcut (bn folded where there is one)
        let plan = try XCTUnwrap(model.plan.cachedForwardPlan(x.shape))
        let key = "block1.conv1+block1.bn1"
        let prepared = try model.plan.conv(key) { XCTFail("not prepared"); throw SwiftCNNError(.internal, "x") }
        let firstScalars = first.scalars

        let buffers = Memory.allocations.load(ordering: .relaxed), bytes = Memory.allocatedBytes.load(ordering: .relaxed)
        let second = try model.forward(x)
        XCTAssertEqual(Memory.allocations.load(ordering: .relaxed) - buffers, 1, "a steady-state forward allocates only its result")
        XCTAssertEqual(Memory.allocatedBytes.load(ordering: .relaxed) - bytes, second.count * 4)

        XCTAssertEqual(model.plan.preparedCount, count)
        XCTAssertTrue(try model.plan.conv(key) { throw SwiftCNNError(.internal, "rebuilt") } === prepared)
        XCTAssertTrue(model.plan.cachedForwardPlan(x.shape) === plan)
        XCTAssertEqual(firstScalars, second.scalars)
        _ = try model.forward(try rng.tensor([1, 3, 40, 36]))
        XCTAssertEqual(first.scalars, firstScalars, "a result changed after another forward")
    }

    /// ``Model/forward(_:into:capacity:)`` (the C ABI's forward): the result written into
    /// caller memory is bitwise ``Model/forward(_:)``'s, for a plan run whole and for a batch
    /// run image by image; the floats past the output are untouched; a steady-state call
    /// allocates nothing; a buffer that overlaps the input (the input's own memory) gets the
    /// same result; too small a buffer is refused before any work, with both sizes named.
    func testForwardIntoCallerMemory() throws {
        var rng = TestRNG(12)
        let cases: [(Model, [Int])] = [(try mini(), [1, 3, 40, 36]), (try mini(), [2, 3, 40, 36]),
                                       (try Zoo.create("lenet5", numClasses: 10, seed: 3), [3, 1, 32, 32])]
        var splits: Set<Bool> = []
        for (model, shape) in cases {
            let x = try rng.tensor(shape)
            let want = try model.forward(x)
            splits.insert(try model.forwardPlan(for: shape).splitsBatch)
            var out = [Float](repeating: .nan, count: want.count + 3)
            try out.withUnsafeMutableBufferPointer { try model.forward(x, into: $0.baseAddress!, capacity: $0.count) }
            XCTAssertEqual(out[..<want.count].map(\.bitPattern), want.scalars.map(\.bitPattern), model.name)
            XCTAssertTrue(out[want.count...].allSatisfy(\.isNaN), "\(model.name): wrote past the output")

            // A batch run image by image holds one arena per image running at once, however
            // the threads interleaved: the next forward finds them all idle.
            if try model.forwardPlan(for: shape).splitsBatch {
                XCTAssertGreaterThanOrEqual(model.plan.idleArenaCount, min(shape[0], Threading.numThreads), model.name)
            }
            let buffers = Memory.allocations.load(ordering: .relaxed)
            try out.withUnsafeMutableBufferPointer { try model.forward(x, into: $0.baseAddress!, capacity: want.count) }
            XCTAssertEqual(Memory.allocations.load(ordering: .relaxed) - buffers, 0, "\(model.name): allocated")

            // The input's own memory as the output (it is larger than the logits).
            var inPlace = x.scalars
            try inPlace.withUnsafeMutableBufferPointer { b in
                let xi = try Tensor(borrowing: UnsafePointer(b.baseAddress!), count: b.count, shape: shape)
                try model.forward(xi, into: b.baseAddress!, capacity: b.count)
            }
            XCTAssertEqual(inPlace[..<want.count].map(\.bitPattern), want.scalars.map(\.bitPattern), "\(model.name) in place")

            XCTAssertThrowsError(try out.withUnsafeMutableBufferPointer {
                try model.forward(x, into: $0.baseAddress!, capacity: want.count - 1)
            }) { e in
                let err = e as? SwiftCNNError
                XCTAssertEqual(err?.kind, .shapeMismatch)
                XCTAssertTrue(err?.message.contains("\(want.count - 1) floats") ?? false, "\(String(describing: err))")
            }
        }
        XCTAssertEqual(splits, [false, true], "a plan run whole and one run image by image")
    }

    /// The arena: buffers whose live ranges overlap never share memory; buffers are reused
    /// (the arena is smaller than all values laid end to end); the workspace size is what
    /// one forward checks out and is reported in bytes.
    func testPlannedBuffersDoNotClashAndAreReused() throws {
        let model = try mini()
        for shape in [[1, 3, 40, 36], [2, 3, 24, 24]] {
            let plan = try model.forwardPlan(for: shape)
            let p = plan.placement
            XCTAssertGreaterThan(p.count, 5)
            for i in p.indices {
                XCTAssertLessThanOrEqual(p[i].offset + p[i].count, plan.arenaCount)
                for j in p.indices where j > i && p[i].first <= p[j].last && p[j].first <= p[i].last {
                    let apart = p[i].offset + p[i].count <= p[j].offset || p[j].offset + p[j].count <= p[i].offset
                    XCTAssertTrue(apart, "\(shape): buffers \(i) \(p[i]) and \(j) \(p[j]) are live together and overlap")
                }
            }
            let laidEndToEnd = p.reduce(0) { $0 + $1.count }
            XCTAssertLessThan(plan.arenaCount, laidEndToEnd, "\(shape): no buffer was reused")
            XCTAssertEqual(try model.plannedWorkspaceBytes(inputShape: shape), plan.arenaCount * 4)
        }
        _ = try model.forward(try Tensor(zeros: [1, 3, 40, 36]))
        XCTAssertGreaterThanOrEqual(model.plan.idleArenaFloats, try model.forwardPlan(for: [1, 3, 40, 36]).arenaCount)
        assertThrows(.shapeMismatch, "mini") { try model.plannedWorkspaceBytes(inputShape: [1, 4, 16, 16]) }
    }

    /// Forwards on several threads at once (the same model and a copy sharing its plan, two
    /// input shapes) each get their own arena: every result equals the single-threaded one.
    func testConcurrentForwardsMatchSerialOnes() throws {
        let model = try mini()
        let copy = model
        var rng = TestRNG(3)
        let inputs = try (0..<6).map { i in try rng.tensor(i % 2 == 0 ? [1, 3, 20, 18] : [2, 3, 12, 12]) }
        let expected = try inputs.map { try model.forward($0).scalars }
        /// What the threads share (models and tensors are safe to read from several threads).
        final class Shared: @unchecked Sendable {
            let models: [Model]
            let inputs: [Tensor]
            var values = [[Float]?](repeating: nil, count: 24)
            let lock = NSLock()
            init(_ models: [Model], _ inputs: [Tensor]) { self.models = models; self.inputs = inputs }
        }
        let shared = Shared([model, copy], inputs)
        DispatchQueue.concurrentPerform(iterations: 24) { i in
            let y = try? shared.models[i % 2].forward(shared.inputs[i % shared.inputs.count]).scalars
            shared.lock.lock()
            shared.values[i] = y
            shared.lock.unlock()
        }
        let results = shared
        for i in 0..<24 { XCTAssertEqual(results.values[i], expected[i % inputs.count], "call \(i)") }
        XCTAssertLessThanOrEqual(model.plan.idleArenaCount, max(InferencePlan.maxIdleArenas, Threading.numThreads))
    }

    /// set_parameter, load_state_dict and any other change to the store drop the plan
    /// (compiled forwards included), so forwards see the new weights (compared with the
    /// reference path after each change).
    func testPlanIsInvalidatedWhenWeightsChange() throws {
        var model = try mini()
        var rng = TestRNG(4)
        let x = try rng.tensor([1, 3, 16, 16])
        let y0 = try model.forward(x)
        let original = model.store

        // A batch-norm buffer (folded into conv1) and a conv weight.
        let mean = try model.parameter("bn1.running_mean")
        try model.setParameter("bn1.running_mean", try Tensor(shape: mean.shape, scalars: mean.scalars.map { $0 + 0.5 }))
        XCTAssertEqual(model.plan.preparedCount, 0)
        XCTAssertNil(model.plan.cachedForwardPlan(x.shape))
        let y1 = try model.forward(x)
        XCTAssertNotEqual(y0.scalars, y1.scalars)
        XCTAssertLessThanOrEqual(relDiff(y1, try referenceForward(model, x)), 1e-4)

        let w = try model.parameter("block2.conv2.weight")
        var dict = Dictionary(uniqueKeysWithValues: model.stateDict())
        dict["block2.conv2.weight"] = try Tensor(shape: w.shape, scalars: w.scalars.map { -$0 })
        try model.loadStateDict(dict)
        let y2 = try model.forward(x)
        XCTAssertNotEqual(y1.scalars, y2.scalars)
        XCTAssertLessThanOrEqual(relDiff(y2, try referenceForward(model, x)), 1e-4)

        model.store = original
        XCTAssertEqual(model.plan.preparedCount, 0)
        XCTAssertEqual(try model.forward(x).scalars, y0.scalars)
    }

    /// Copies share the plan until one changes its weights; the other keeps its own.
    func testCopiesKeepTheirOwnWeights() throws {
        let a = try mini()
        var b = a
        var rng = TestRNG(6)
        let x = try rng.tensor([1, 3, 16, 16])
        let ya = try a.forward(x)
        let bias = try b.parameter("fc.bias")
        try b.setParameter("fc.bias", try Tensor(shape: bias.shape, scalars: bias.scalars.map { $0 + 1 }))
        let yb = try b.forward(x)
        XCTAssertEqual(try a.forward(x).scalars, ya.scalars)
        XCTAssertEqual(zip(ya.scalars, yb.scalars).map { $1 - $0 }.allSatisfy { abs($0 - 1) < 1e-5 }, true)
    }

    /// forceReference still runs the reference kernels (no plan is compiled), and a shape the
    /// model does not take is refused with the model's message before any planning.
    func testReferenceSwitchAndShapeErrors() throws {
        let model = try mini()
        var rng = TestRNG(8)
        let x = try rng.tensor([1, 3, 16, 16])
        _ = try referenceForward(model, x)
        XCTAssertNil(model.plan.cachedForwardPlan(x.shape))
        assertThrows(.shapeMismatch, "mini", "expected input") { try model.forward(try Tensor(zeros: [1, 2, 16, 16])) }
        XCTAssertEqual(try model.outputShape(forInput: [3, 3, 9, 9]), [3, 10])
    }
}
