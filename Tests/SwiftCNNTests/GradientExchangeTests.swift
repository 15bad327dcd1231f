import XCTest
@testable import SwiftCNN

/// Issue 15's split training step: Trainer.computeGradients + applyGradients against
/// Trainer.step (bitwise), gradients of shards averaged by size against the whole batch,
/// flat gradient vectors (layout, round trip, bad lengths).
final class GradientExchangeTests: XCTestCase {
    func batch(_ shape: [Int], classes: Int, seed: UInt64) throws -> (Tensor, [Int32]) {
        var rng = TestRNG(seed)
        return (try rng.tensor(shape), (0..<shape[0]).map { Int32(($0 * 7 + Int(seed)) % classes) })
    }

    /// Every state-dict entry (weights and batch-norm buffers) equal bit for bit.
    func assertSameState(_ a: Model, _ b: Model, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        let sa = a.stateDict(), sb = b.stateDict()
        XCTAssertEqual(sa.map(\.0), sb.map(\.0), what, file: file, line: line)
        for ((name, ta), (_, tb)) in zip(sa, sb) {
            XCTAssertEqual(ta.scalars.map(\.bitPattern), tb.scalars.map(\.bitPattern), "\(what): \(name)", file: file, line: line)
        }
    }

    /// Three steps of `step` against three of computeGradients + applyGradients on two
    /// copies of the same model: losses, weights, buffers and optimizer step counts equal
    /// bit for bit. Cases: LeNet-5 with SGD momentum at batch 64 (the split per-image path)
    /// and 6 (whole batch); the tiny ResNet (batch norm, dropout) with Adam and Nesterov SGD.
    func testComputeThenApplyEqualsStepBitwise() throws {
        let cases: [(Architecture, [Int], OptimizerConfig)] = [
            (lenet5Architecture(), [64, 1, 32, 32], .sgd(lr: 0.05, momentum: 0.9, weightDecay: 1e-4)),
            (lenet5Architecture(), [6, 1, 32, 32], .sgd(lr: 0.05, momentum: 0.9)),
            (tinyResNetArchitecture(), [5, 3, 8, 8], .adam(lr: 0.01, weightDecay: 1e-3)),
            (tinyResNetArchitecture(), [4, 3, 8, 8], .sgd(lr: 0.02, momentum: 0.8, nesterov: true)),
        ]
        for (arch, shape, opt) in cases {
            let what = "\(arch.name) batch \(shape[0]) \(opt.kind)"
            let model = try Model(arch, seed: 3)
            let a = Trainer(model: model, optimizer: try Optimizer(opt, for: model), config: TrainingConfig(seed: 5))
            let b = Trainer(model: model, optimizer: try Optimizer(opt, for: model), config: TrainingConfig(seed: 5))
            for s in 0..<3 {
                let (x, y) = try batch(shape, classes: arch.numClasses, seed: UInt64(10 + s))
                let la = try a.step(images: x, labels: y)
                let r = try b.computeGradients(images: x, labels: y)
                XCTAssertNotNil(b.pendingGradients, what)
                try b.applyGradients()
                XCTAssertNil(b.pendingGradients, what)
                XCTAssertEqual(la.bitPattern, r.loss.bitPattern, "\(what) step \(s)")
                XCTAssertEqual(a.state.globalStep, b.state.globalStep, what)
                XCTAssertEqual(a.optimizer.stepCount, b.optimizer.stepCount, what)
            }
            assertSameState(a.model, b.model, what)
            XCTAssertNotEqual(a.model.stateDict()[0].1.scalars, model.stateDict()[0].1.scalars, "\(what): the weights moved")
        }
    }

    /// computeGradients changes no weight (only batch-norm running statistics, as the
    /// training forward does) and no optimizer state; a second compute replaces the first.
    func testComputeGradientsLeavesWeightsAlone() throws {
        let model = try Model(tinyResNetArchitecture(), seed: 1)
        let t = Trainer(model: model, optimizer: try Optimizer(.sgd(lr: 0.1, momentum: 0.9), for: model), config: TrainingConfig())
        let (x, y) = try batch([4, 3, 8, 8], classes: 3, seed: 2)
        _ = try t.computeGradients(images: x, labels: y)
        let first = try XCTUnwrap(t.pendingGradients)
        for spec in model.parameterSpecs {
            let before = try model.parameter(spec.name).scalars, after = try t.model.parameter(spec.name).scalars
            if spec.isBuffer { XCTAssertNotEqual(before, after, spec.name) } else { XCTAssertEqual(before, after, spec.name) }
        }
        XCTAssertEqual(t.optimizer.stepCount, 0)
        XCTAssertEqual(t.state.globalStep, 0)
        let (x2, y2) = try batch([4, 3, 8, 8], classes: 3, seed: 3)
        _ = try t.computeGradients(images: x2, labels: y2)
        XCTAssertNotEqual(try XCTUnwrap(t.pendingGradients?["fc.weight"]).scalars, try XCTUnwrap(first["fc.weight"]).scalars)
        // A failed compute leaves none pending (and changes nothing else).
        XCTAssertThrowsError(try t.computeGradients(images: x, labels: [0, 1, 2, 9]))
        XCTAssertNil(t.pendingGradients)
        XCTAssertThrowsError(try t.applyGradients()) { XCTAssertTrue("\($0)".contains("none pending"), "\($0)") }
    }

    /// Data parallelism without batch norm (LeNet-5, SGD with momentum, then Adam): shards
    /// of 5 and 3 images, gradients averaged weighted by shard size, equal the whole batch
    /// of 8's gradients within 2e-6 of each tensor's largest magnitude (the mean loss sums
    /// in another order). After applying the average, SGD's weights are within 1e-6
    /// (relative; 1e-7 absolute) of one step on the whole batch. Adam's first step is
    /// lr·g/(|g| + ε), nearly sign(g): for a component near ε the last bits of g move the
    /// weight by a part of lr, so there at most 0.1% of the weights may miss that tolerance
    /// and none by more than lr.
    func testAveragedShardGradientsMatchWholeBatch() throws {
        for opt in [OptimizerConfig.sgd(lr: 0.1, momentum: 0.9), .adam(lr: 1e-3)] {
            let model = try Model(lenet5Architecture(), seed: 4)
            let (x, y) = try batch([8, 1, 32, 32], classes: 10, seed: 6)
            let whole = Trainer(model: model, optimizer: try Optimizer(opt, for: model), config: TrainingConfig())
            _ = try whole.computeGradients(images: x, labels: y)
            let layout = model.gradientLayout
            let n = try Gradients.flatCount(layout)
            XCTAssertEqual(n, model.numParameters)
            var reference = [Float](repeating: 0, count: n)
            try reference.withUnsafeMutableBufferPointer { try XCTUnwrap(whole.pendingGradients).copyFlat(into: $0, layout: layout) }

            var average = [Double](repeating: 0, count: n)
            var start = 0
            for size in [5, 3] {
                let worker = Trainer(model: model, optimizer: try Optimizer(opt, for: model), config: TrainingConfig())
                let xs = try Tensor(shape: [size, 1, 32, 32], scalars: Array(x.scalars[(start * 1024)..<((start + size) * 1024)]))
                _ = try worker.computeGradients(images: xs, labels: Array(y[start..<(start + size)]))
                var g = [Float](repeating: 0, count: n)
                try g.withUnsafeMutableBufferPointer { try XCTUnwrap(worker.pendingGradients).copyFlat(into: $0, layout: layout) }
                for i in 0..<n { average[i] += Double(g[i]) * Double(size) / 8 }
                start += size
            }
            var offset = 0
            for spec in layout {
                let count = spec.shape.reduce(1, *)
                let scale = reference[offset..<(offset + count)].map(abs).max() ?? 0
                for i in offset..<(offset + count) {
                    XCTAssertEqual(Float(average[i]), reference[i], accuracy: 2e-6 * scale + 1e-12, spec.name)
                }
                offset += count
            }
            let replica = Trainer(model: model, optimizer: try Optimizer(opt, for: model), config: TrainingConfig())
            try average.map(Float.init).withUnsafeBufferPointer { try replica.setPendingGradients(flat: $0) }
            try replica.applyGradients()
            try whole.applyGradients()
            var off = 0, total = 0
            for (name, w) in whole.model.stateDict() {
                let v = try replica.model.parameter(name).scalars
                for (p, q) in zip(w.scalars, v) {
                    total += 1
                    if abs(p - q) > 1e-7 + 1e-6 * abs(p) { off += 1 }
                    XCTAssertLessThanOrEqual(abs(p - q), opt.kind == .sgd ? 1e-7 + 1e-6 * abs(p) : 1e-3, "\(opt.kind) \(name)")
                }
            }
            XCTAssertLessThanOrEqual(Double(off), 1e-3 * Double(total), "\(opt.kind)")
            XCTAssertEqual(replica.state.globalStep, 1)
        }
    }

    /// Flat vectors: the layout is the trainable state-dict entries in order (buffers and
    /// frozen parameters out); get → set → get round-trips bit for bit and applying the set
    /// gradients equals applying the computed ones; wrong lengths are errors that change
    /// nothing; NaN passes through to the weights as in a step.
    func testFlatGradientsRoundTripAndErrors() throws {
        var model = try Model(tinyResNetArchitecture(), seed: 2)
        XCTAssertEqual(model.gradientLayout.map(\.name), model.parameterSpecs.filter { !$0.isBuffer }.map(\.name))
        XCTAssertFalse(model.gradientLayout.contains { $0.name.hasSuffix("running_mean") })
        let (x, y) = try batch([4, 3, 8, 8], classes: 3, seed: 8)
        let a = Trainer(model: model, optimizer: try Optimizer(.adam(lr: 0.01), for: model), config: TrainingConfig())
        let b = Trainer(model: model, optimizer: try Optimizer(.adam(lr: 0.01), for: model), config: TrainingConfig())
        _ = try a.computeGradients(images: x, labels: y)
        _ = try b.computeGradients(images: x, labels: y)   // the same batch-norm update as a's
        let layout = model.gradientLayout
        let n = try Gradients.flatCount(layout)
        var flat = [Float](repeating: 0, count: n)
        try flat.withUnsafeMutableBufferPointer { try XCTUnwrap(a.pendingGradients).copyFlat(into: $0, layout: layout) }
        XCTAssertTrue(flat.contains { $0 != 0 })
        try flat.withUnsafeBufferPointer { try b.setPendingGradients(flat: $0) }
        var again = [Float](repeating: 0, count: n)
        try again.withUnsafeMutableBufferPointer { try XCTUnwrap(b.pendingGradients).copyFlat(into: $0, layout: layout) }
        XCTAssertEqual(flat.map(\.bitPattern), again.map(\.bitPattern))
        try a.applyGradients()
        try b.applyGradients()
        assertSameState(a.model, b.model, "set from flat")

        // Wrong lengths: errors naming the size; the pending gradients stay as they were.
        _ = try b.computeGradients(images: x, labels: y)
        let pending = try XCTUnwrap(b.pendingGradients?["fc.weight"]).scalars
        for bad in [n - 1, n + 1, 0] {
            let v = [Float](repeating: 1, count: bad)
            XCTAssertThrowsError(try v.withUnsafeBufferPointer { try b.setPendingGradients(flat: $0) }) {
                XCTAssertEqual(($0 as? SwiftCNNError)?.kind, .shapeMismatch)
                XCTAssertTrue("\($0)".contains("take \(n) values"), "\($0)")
            }
            var out = [Float](repeating: 0, count: bad)
            XCTAssertThrowsError(try out.withUnsafeMutableBufferPointer { try XCTUnwrap(b.pendingGradients).copyFlat(into: $0, layout: layout) })
        }
        XCTAssertEqual(try XCTUnwrap(b.pendingGradients?["fc.weight"]).scalars, pending)

        // NaN is not rejected: it reaches the weights as a NaN gradient from backward would.
        var nan = [Float](repeating: 0, count: n)
        nan[n - 1] = .nan
        try nan.withUnsafeBufferPointer { try b.setPendingGradients(flat: $0) }
        try b.applyGradients()
        XCTAssertTrue(try b.model.parameter(layout[layout.count - 1].name).scalars.last!.isNaN)

        // Frozen parameters leave the layout; clearGradients drops pending ones.
        XCTAssertGreaterThan(try model.freeze("conv1"), 0)
        XCTAssertFalse(model.gradientLayout.contains { $0.name == "conv1.weight" })
        XCTAssertEqual(try Gradients.flatCount(model.gradientLayout), n - 4 * 3 * 3 * 3)
        _ = try b.computeGradients(images: x, labels: y)
        b.clearGradients()
        XCTAssertNil(b.pendingGradients)
    }
}
