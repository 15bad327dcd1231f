import XCTest
@testable import SwiftCNN

// The training engine: whole-model gradients vs finite differences, losses, optimizer steps
// vs PyTorch's formulas restated in float64, schedules, dataset order and augmentation,
// checkpoint resume (bitwise), a loss that decreases, evaluate/predict.

/// A small ResNet-style network built from Layer values: a stem (conv, batch norm, ReLU,
/// max pool), an identity residual block, a projection residual block with stride 2, an
/// Inception-like concat of two branches, global average pooling, dropout and a linear
/// head. Input [N, 3, 8, 8]. `stemPool` false leaves out the stem's max pool.
func tinyResNetArchitecture(numClasses: Int = 3, dropout: Float = 0.25, stemPool: Bool = true) -> Architecture {
    let mixed: Layer = .concat([
        NamedLayer("branch1", .conv2d(ConvSpec(8, 4, kernel: 1))),
        NamedLayer("branch2", .sequential([
            NamedLayer("0", .avgPool2d(PoolSpec(kernel: 3, stride: 1, padding: 1))),
            NamedLayer("1", .conv2d(ConvSpec(8, 4, kernel: 1))),
            NamedLayer("2", .tanh),
        ])),
    ])
    var layers: [NamedLayer] = [
        NamedLayer("conv1", .conv2d(ConvSpec(3, 4, kernel: 3, padding: 1, bias: false))),
        NamedLayer("bn1", .batchNorm2d(channels: 4, eps: 1e-5)),
        NamedLayer("relu", .relu),
        NamedLayer("maxpool", .maxPool2d(PoolSpec(kernel: 3, stride: 1, padding: 1))),
        NamedLayer("layer1", .sequential([NamedLayer("0", basicBlock(4, 4, stride: 1))])),
        NamedLayer("layer2", .sequential([NamedLayer("0", basicBlock(4, 8, stride: 2))])),
        NamedLayer("mixed", mixed),
        NamedLayer("lrn", .localResponseNorm(size: 3, alpha: 1e-2, beta: 0.75, k: 2)),
        NamedLayer("avgpool", .adaptiveAvgPool2d(Size2D(1))),
        NamedLayer("flatten", .flatten),
        NamedLayer("dropout", .dropout(p: dropout)),
        NamedLayer("fc", .linear(inFeatures: 8, outFeatures: numClasses, bias: true)),
    ]
    if !stemPool { layers.removeAll { $0.name == "maxpool" } }
    return Architecture(name: "tiny_resnet", numClasses: numClasses, inputChannels: 3, inputSize: Size2D(8),
                        acceptsAnyInputSize: false, root: .sequential(layers))
}

/// A linear model on [N, 1, 2, 2] inputs: flatten, linear(4 → 2).
func tinyLinearArchitecture() -> Architecture {
    Architecture(name: "tiny_linear", numClasses: 2, inputChannels: 1, inputSize: Size2D(2), acceptsAnyInputSize: false,
                 root: .sequential([NamedLayer("flatten", .flatten),
                                    NamedLayer("fc", .linear(inFeatures: 4, outFeatures: 2, bias: true))]))
}

final class TrainingTests: XCTestCase {

    // MARK: - Gradients vs finite differences

    /// L(θ) = Σ output ⊙ R (R fixed), in float64 from the float32 output of a recording
    /// forward in the model's mode (fixed dropout seed). For each trainable tensor, central
    /// differences (L(θ + h·e_i) − L(θ − h·e_i)) / 2h at `samples` coordinates i (all of
    /// them for small tensors) must match the backward gradient there, as a vector:
    /// ‖fd − ∇‖₂ ≤ 5% · max(‖fd‖₂, ‖∇‖₂) + 1e-4, with step h or, failing that, h/4 (a kink
    /// straddled at one step size is usually not at the other). A kink AT θ (both step sizes
    /// straddle it: the one-sided differences disagree at every h) is where backward returns
    /// a one-sided derivative; there each coordinate is compared, at h/4, with whichever of
    /// the central and the two one-sided differences is closest (still the same 5% bound: a
    /// wrong gradient matches none of them).
    /// Everything runs in float32 (noise ≈ 1e-7·|L| / h) and ReLU / max pooling make L
    /// piecewise smooth, so single coordinates may straddle a kink; the vector norm over
    /// the samples tolerates that, while a wrong gradient (sign, missing term, wrong
    /// parameter, wrong layout) is off by far more than 5%.
    func checkGradients(_ arch: Architecture, inputShape: [Int], training: Bool, seed: UInt64,
                        h: Float = 1e-3, samples: Int = 6, file: StaticString = #filePath, line: UInt = #line) throws {
        var rng = TestRNG(seed)
        var model = try Model(arch, seed: seed)
        if training { model.train() }
        let x = try rng.tensor(inputShape)
        let outShape = try model.outputShape(forInput: inputShape)
        let r = try rng.tensor(outShape)
        func loss(_ m: Model) throws -> Double {
            var m = m
            let y = try m.forwardRecording(x, dropoutSeed: 7).output
            return zip(y.scalars, r.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        var recorder = model
        let (_, tape) = try recorder.forwardRecording(x, dropoutSeed: 7)
        let grads = try model.backward(tape, gradOutput: r)
        let trainable = model.parameterSpecs.filter { !$0.isBuffer }
        XCTAssertEqual(grads.names, trainable.map(\.name), "gradient names", file: file, line: line)
        for p in trainable {
            guard let g = grads[p.name] else { XCTFail("no gradient for \(p.name)", file: file, line: line); continue }
            XCTAssertEqual(g.shape, p.shape, p.name, file: file, line: line)
            let theta = try model.parameter(p.name).scalars
            let indices = theta.count <= samples ? Array(0..<theta.count) : (0..<samples).map { _ in rng.int(0...(theta.count - 1)) }
            let ans = indices.map { Double(g.scalars[$0]) }
            func shifted(_ i: Int, _ s: Float) throws -> Model {
                var m = model
                var t = theta
                t[i] += s
                try m.setParameter(p.name, try Tensor(shape: p.shape, scalars: t))
                return m
            }
            func differences(_ h: Float) throws -> [Double] {
                try indices.map { i in (try loss(try shifted(i, h)) - (try loss(try shifted(i, -h)))) / (2 * Double(h)) }
            }
            func norm(_ a: [Double]) -> Double { a.reduce(0) { $0 + $1 * $1 }.squareRoot() }
            func close(_ fds: [Double]) -> Bool {
                norm(zip(fds, ans).map { $0 - $1 }) <= 0.05 * max(norm(fds), norm(ans)) + 1e-4
            }
            let fds = try differences(h)
            if close(fds) { continue }
            let fds2 = try differences(h / 4)
            if close(fds2) { continue }
            // A kink at θ: per coordinate the closest of the central and one-sided differences.
            let l0 = try loss(model), q = h / 4
            let nearest = try indices.enumerated().map { j, i -> Double in
                let up = (try loss(try shifted(i, q)) - l0) / Double(q), down = (l0 - (try loss(try shifted(i, -q)))) / Double(q)
                return [fds2[j], up, down].min { abs($0 - ans[j]) < abs($1 - ans[j]) } ?? fds2[j]
            }
            XCTAssertTrue(close(nearest), "\(arch.name) \(training ? "train" : "eval") \(p.name) at \(indices): finite differences \(fds) (h = \(h)), \(fds2) (h = \(h / 4)) vs backward \(ans)",
                          file: file, line: line)
        }
    }

    /// The LeNets are smooth (tanh, average pooling / subsampling, RBF), so a larger step
    /// (1e-2) keeps float32 noise down; lenet5_original's outputs are penalties in the
    /// hundreds, which makes that noise larger still.
    func testGradientsLeNet5() throws {
        try checkGradients(lenet5Architecture(), inputShape: [2, 1, 32, 32], training: true, seed: 1, h: 1e-2)
    }

    func testGradientsLeNet5Original() throws {
        for seed: UInt64 in [2, 12] {
            try checkGradients(lenet5OriginalArchitecture(), inputShape: [1, 1, 32, 32], training: true, seed: seed, h: 1e-2)
        }
    }

    /// Training-mode batch norm couples every activation of a channel, so each ReLU or
    /// max-pool switch anywhere bends the loss; with the stem's overlapping max pool on
    /// normalized (half zero) maps the kinks come so often that float32 central differences
    /// straddle one now and then (1 tensor in 7 seeds tried). The training-mode check
    /// therefore runs without the stem pool (max pooling's backward is checked in eval mode
    /// below, and per op in the backward tests). Both pass for 7 of 7 seeds tried; two run.
    func testGradientsTinyResNetTrainingMode() throws {
        for seed: UInt64 in [3, 13] {
            try checkGradients(tinyResNetArchitecture(stemPool: false), inputShape: [4, 3, 8, 8], training: true, seed: seed, h: 3e-4)
        }
    }

    func testGradientsTinyResNetEvalMode() throws {
        for seed: UInt64 in [4, 14] {
            try checkGradients(tinyResNetArchitecture(), inputShape: [3, 3, 8, 8], training: false, seed: seed, h: 3e-4)
        }
    }

    func testTrainingModeUpdatesRunningStatisticsLikePyTorch() throws {
        var model = try Model(tinyResNetArchitecture(), seed: 5)
        var rng = TestRNG(5)
        let x = try rng.tensor([4, 3, 8, 8])
        let before = try model.parameter("bn1.running_var").scalars
        let beforeMean = try model.parameter("bn1.running_mean").scalars
        // The stem's batch-norm input, computed independently: conv1 of x.
        let conv = try conv2d(x, weight: try model.parameter("conv1.weight"), options: Conv2DOptions(padding: Padding2D(1)))
        // Eval mode: nothing changes.
        _ = try model.forwardRecording(x)
        XCTAssertEqual(try model.parameter("bn1.running_var").scalars, before)
        model.train()
        _ = try model.forwardRecording(x)
        let (n, c, hw) = (4, 4, 64)
        let v = conv.scalars
        for ch in 0..<c {
            var vals: [Double] = []
            for b in 0..<n { for i in 0..<hw { vals.append(Double(v[(b * c + ch) * hw + i])) } }
            let mean = vals.reduce(0, +) / Double(vals.count)
            let unbiased = vals.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(vals.count - 1)
            let expMean = 0.9 * Double(beforeMean[ch]) + 0.1 * mean
            let expVar = 0.9 * Double(before[ch]) + 0.1 * unbiased
            XCTAssertEqual(Double(try model.parameter("bn1.running_mean").element(ch)), expMean, accuracy: 1e-6)
            XCTAssertEqual(Double(try model.parameter("bn1.running_var").element(ch)), expVar, accuracy: 1e-5 * expVar)
        }
        // Batch norm in training mode needs more than one value per channel.
        var one = try Model(tinyResNetArchitecture(), seed: 5)
        one.train()
        let single = try rng.tensor([1, 3, 8, 8])
        XCTAssertNoThrow(try one.forwardRecording(single))   // 64 values per channel in the stem
    }

    /// Dropout: active and seeded in training mode (same seed, same output; another seed,
    /// another output), the identity in eval mode, where the recording forward equals
    /// `forward` (the reference path: the plan folds batch norm, so only close).
    func testModesAndDropoutSeeds() throws {
        var model = try Model(tinyResNetArchitecture(dropout: 0.5), seed: 6)
        var rng = TestRNG(6)
        let x = try rng.tensor([4, 3, 8, 8])
        XCTAssertFalse(model.isTraining)
        let evalOut = try model.forwardRecording(x, dropoutSeed: 1).output
        XCTAssertEqual(try model.forwardRecording(x, dropoutSeed: 2).output.scalars, evalOut.scalars)
        let planned = try model.forward(x).scalars
        for (a, b) in zip(evalOut.scalars, planned) { XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b))) }
        model.train()
        XCTAssertTrue(model.isTraining)
        var a = model, b = model, c = model
        let ya = try a.forwardRecording(x, dropoutSeed: 1).output.scalars
        let yb = try b.forwardRecording(x, dropoutSeed: 1).output.scalars
        let yc = try c.forwardRecording(x, dropoutSeed: 2).output.scalars
        XCTAssertEqual(ya, yb)
        XCTAssertNotEqual(ya, yc)
        XCTAssertEqual(try a.parameter("bn1.running_mean").scalars, try b.parameter("bn1.running_mean").scalars)
        XCTAssertNotEqual(try a.parameter("bn1.running_mean").scalars, try model.parameter("bn1.running_mean").scalars)
        model.eval()
        XCTAssertFalse(model.isTraining)
    }

    func testBackwardRejectsWrongGradientShape() throws {
        var model = try Model(lenet5Architecture())
        let (_, tape) = try model.forwardRecording(try Tensor(zeros: [2, 1, 32, 32]))
        assertThrows(.shapeMismatch, "gradOutput", "[2, 10]") { try model.backward(tape, gradOutput: try Tensor(zeros: [2, 9])) }
        let other = try Model(lenet5OriginalArchitecture())
        assertThrows(.invalidArgument, "lenet5") { try other.backward(tape, gradOutput: try Tensor(zeros: [2, 10])) }
        assertThrows(.shapeMismatch, "[N, 1, 32, 32]") { try model.forwardRecording(try Tensor(zeros: [2, 3, 32, 32])) }
    }

    // MARK: - Losses

    func testCrossEntropyMatchesDefinition() throws {
        var rng = TestRNG(11)
        for trial in 0..<20 {
            let n = rng.int(1...5), k = rng.int(2...7)
            let logits = try rng.tensor([n, k], -4, 4)
            let labels = (0..<n).map { _ in Int32(rng.int(0...(k - 1))) }
            let eps: Float = trial % 2 == 0 ? 0 : rng.float(0, 0.5)
            let (loss, grad) = try crossEntropyLoss(logits, labels: labels, labelSmoothing: eps)
            // Independent: log-softmax per row, PyTorch's smoothed target.
            let x = logits.scalars.map(Double.init)
            var expected = 0.0
            for i in 0..<n {
                let row = Array(x[(i * k)..<((i + 1) * k)])
                let lse = log(row.map { exp($0) }.reduce(0, +))
                for j in 0..<k {
                    let q = (j == Int(labels[i]) ? 1 - Double(eps) : 0) + Double(eps) / Double(k)
                    expected -= q * (row[j] - lse)
                    let g = (exp(row[j] - lse) - q) / Double(n)
                    XCTAssertEqual(Double(try grad.element(i, j)), g, accuracy: 1e-6)
                }
            }
            XCTAssertEqual(Double(loss), expected / Double(n), accuracy: 1e-5 * max(1, abs(expected)))
        }
        assertThrows(.invalidArgument, "label 3") { try crossEntropyLoss(try Tensor(zeros: [1, 3]), labels: [3]) }
        assertThrows(.shapeMismatch, "2 labels") { try crossEntropyLoss(try Tensor(zeros: [1, 3]), labels: [0, 1]) }
        assertThrows(.invalidArgument, "labelSmoothing") { try crossEntropyLoss(try Tensor(zeros: [1, 3]), labels: [0], labelSmoothing: 2) }
    }

    func testMeanSquaredError() throws {
        let p = try Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
        let t = try Tensor(shape: [2, 2], scalars: [0, 2, 5, 3])
        let (loss, grad) = try meanSquaredErrorLoss(p, target: t)
        XCTAssertEqual(loss, (1 + 0 + 4 + 1) / 4)
        XCTAssertEqual(grad.scalars, [0.5, 0, -1, 0.5])
        assertThrows(.shapeMismatch, "prediction") { try meanSquaredErrorLoss(p, target: try Tensor(zeros: [4])) }
    }

    // MARK: - Optimizers (PyTorch's update rules restated in float64)

    /// A tiny model with parameters fc.weight [2, 4], fc.bias [2] and a scripted gradient
    /// sequence; returns the model after each step.
    func runOptimizer(_ config: OptimizerConfig, steps: Int, schedule: LearningRateSchedule = .constant) throws
        -> (initial: [String: [Double]], grads: [[String: [Double]]], after: [[String: [Double]]]) {
        var model = try Model(tinyLinearArchitecture(), seed: 3)
        let opt = try Optimizer(config, for: model, schedule: schedule)
        var rng = TestRNG(99)
        let names = ["fc.weight", "fc.bias"]
        var initial: [String: [Double]] = [:]
        for n in names { initial[n] = try model.parameter(n).scalars.map(Double.init) }
        var grads: [[String: [Double]]] = [], after: [[String: [Double]]] = []
        for _ in 0..<steps {
            var g: [String: Tensor] = [:]
            for n in names { g[n] = try rng.tensor(try model.parameter(n).shape) }
            grads.append(g.mapValues { $0.scalars.map(Double.init) })
            try opt.step(&model, Gradients(values: g, order: model.parameterSpecs))
            var a: [String: [Double]] = [:]
            for n in names { a[n] = try model.parameter(n).scalars.map(Double.init) }
            after.append(a)
        }
        XCTAssertEqual(opt.stepCount, steps)
        return (initial, grads, after)
    }

    func testSGDMatchesTorchFormulas() throws {
        for (mu, nesterov, wd) in [(Float(0), false, Float(0)), (0, false, 1e-2), (0.9, false, 1e-4), (0.9, true, 1e-3), (0.5, false, 0)] {
            let lr: Float = 0.1
            let (initial, grads, after) = try runOptimizer(.sgd(lr: lr, momentum: mu, nesterov: nesterov, weightDecay: wd), steps: 3)
            for name in ["fc.weight", "fc.bias"] {
                var p = initial[name]!
                var buf: [Double]? = nil
                for s in 0..<3 {
                    let d = zip(grads[s][name]!, p).map { $0 + Double(wd) * $1 }
                    var step = d
                    if mu != 0 {
                        buf = buf.map { zip($0, d).map { Double(mu) * $0 + $1 } } ?? d
                        step = nesterov ? zip(d, buf!).map { $0 + Double(mu) * $1 } : buf!
                    }
                    p = zip(p, step).map { $0 - Double(lr) * $1 }
                    for (a, e) in zip(after[s][name]!, p) {
                        XCTAssertEqual(a, e, accuracy: 1e-6, "sgd μ=\(mu) nesterov=\(nesterov) wd=\(wd) \(name) step \(s)")
                    }
                }
            }
        }
    }

    func testAdamAndAdamWMatchTorchFormulas() throws {
        for (decoupled, wd) in [(false, Float(0)), (false, Float(1e-2)), (true, Float(1e-2))] {
            let lr: Float = 1e-2, b1 = 0.9, b2 = 0.999, eps = 1e-8
            let config: OptimizerConfig = decoupled ? .adamW(lr: lr, weightDecay: wd) : .adam(lr: lr, weightDecay: wd)
            let (initial, grads, after) = try runOptimizer(config, steps: 4)
            for name in ["fc.weight", "fc.bias"] {
                var p = initial[name]!
                var m = [Double](repeating: 0, count: p.count), v = m
                for s in 0..<4 {
                    let t = Double(s + 1)
                    if decoupled { p = p.map { $0 * (1 - Double(lr) * Double(wd)) } }
                    let g = decoupled ? grads[s][name]! : zip(grads[s][name]!, p).map { $0 + Double(wd) * $1 }
                    m = zip(m, g).map { b1 * $0 + (1 - b1) * $1 }
                    v = zip(v, g).map { b2 * $0 + (1 - b2) * $1 * $1 }
                    let stepSize = Double(lr) / (1 - pow(b1, t))
                    let bc2 = (1 - pow(b2, t)).squareRoot()
                    for j in 0..<p.count { p[j] -= stepSize * m[j] / (v[j].squareRoot() / bc2 + eps) }
                    for (a, e) in zip(after[s][name]!, p) {
                        XCTAssertEqual(a, e, accuracy: 1e-6, "adam decoupled=\(decoupled) wd=\(wd) \(name) step \(s)")
                    }
                }
            }
        }
    }

    func testOptimizerValidationAndState() throws {
        let model = try Model(tinyLinearArchitecture())
        assertThrows(.invalidArgument, "Nesterov") { try Optimizer(.sgd(lr: 0.1, nesterov: true), for: model) }
        assertThrows(.invalidArgument, "learning rate") { try Optimizer(.sgd(lr: -1), for: model) }
        assertThrows(.invalidArgument, "beta2") { try Optimizer(.adam(betas: (0.9, 1)), for: model) }
        assertThrows(.invalidArgument, "every") { try Optimizer(.sgd(lr: 0.1), for: model, schedule: .step(every: 0, gamma: 0.1)) }
        // State round trip: a restored optimizer continues identically.
        var a = model, b = model
        let oa = try Optimizer(.adam(lr: 0.01), for: a)
        var rng = TestRNG(4)
        func grads() throws -> Gradients {
            Gradients(values: ["fc.weight": try rng.tensor([2, 4]), "fc.bias": try rng.tensor([2])], order: model.parameterSpecs)
        }
        try oa.step(&a, try grads())
        b = a
        let ob = try Optimizer(.adam(lr: 0.5), for: b)
        try ob.loadStateDict(Dictionary(uniqueKeysWithValues: oa.stateDict()))
        XCTAssertEqual(ob.stepCount, 1)
        XCTAssertEqual(ob.learningRate, 0.01)
        let g = try grads()
        try oa.step(&a, g)
        try ob.step(&b, g)
        XCTAssertEqual(try a.parameter("fc.weight").scalars, try b.parameter("fc.weight").scalars)
        assertThrows(.format, "unknown") { try ob.loadStateDict(["optimizer.fc.weight.bogus": try Tensor(zeros: [2, 4])]) }
        assertThrows(.shapeMismatch, "fc.bias") { try ob.loadStateDict(["optimizer.fc.bias.exp_avg": try Tensor(zeros: [3])]) }
        // Missing gradient.
        assertThrows(.invalidArgument, "fc.bias") {
            try oa.step(&a, Gradients(values: ["fc.weight": try Tensor(zeros: [2, 4])], order: model.parameterSpecs))
        }
    }

    // MARK: - Schedules

    func testScheduleValues() throws {
        let s = LearningRateSchedule.step(every: 3, gamma: 0.5)
        XCTAssertEqual((0..<8).map { s.rate(base: 0.4, step: $0) }, [0.4, 0.4, 0.4, 0.2, 0.2, 0.2, 0.1, 0.1])
        let c = LearningRateSchedule.cosine(totalSteps: 4, minimum: 0.01)
        for k in 0...4 {
            let e = 0.01 + (0.1 - 0.01) * (1 + cos(Double.pi * Double(k) / 4)) / 2
            XCTAssertEqual(Double(c.rate(base: 0.1, step: k)), e, accuracy: 1e-8)
        }
        XCTAssertEqual(c.rate(base: 0.1, step: 4), 0.01, accuracy: 1e-9)
        XCTAssertEqual(LearningRateSchedule.constant.rate(base: 0.3, step: 100), 0.3)
        // The optimizer applies it per step: step k uses rate(k).
        var model = try Model(tinyLinearArchitecture())
        let opt = try Optimizer(.sgd(lr: 1), for: model, schedule: .step(every: 1, gamma: 0.5))
        var rates: [Float] = []
        for _ in 0..<3 {
            rates.append(opt.learningRate)
            let before = try model.parameter("fc.bias").scalars
            let g = Gradients(values: ["fc.weight": try Tensor(zeros: [2, 4]), "fc.bias": try Tensor(shape: [2], repeating: 1)],
                              order: model.parameterSpecs)
            try opt.step(&model, g)
            XCTAssertEqual(Double(before[0] - (try model.parameter("fc.bias").element(0))), Double(rates.last!), accuracy: 1e-6)
        }
        XCTAssertEqual(rates, [1, 0.5, 0.25])
    }

    // MARK: - Dataset

    func testDatasetOrderIsASeededPermutation() throws {
        let ds = try Dataset(images: try Tensor(zeros: [37, 1, 2, 2]), labels: [Int32](repeating: 0, count: 37))
        let a = ds.order(epoch: 0, seed: 5, shuffle: true)
        XCTAssertEqual(a.sorted(), Array(0..<37))
        XCTAssertEqual(a, ds.order(epoch: 0, seed: 5, shuffle: true))
        XCTAssertNotEqual(a, ds.order(epoch: 1, seed: 5, shuffle: true))
        XCTAssertNotEqual(a, ds.order(epoch: 0, seed: 6, shuffle: true))
        XCTAssertNotEqual(a, Array(0..<37))
        XCTAssertEqual(ds.order(epoch: 3, seed: 5, shuffle: false), Array(0..<37))
        // The documented algorithm, restated.
        var b = Array(0..<37)
        for i in stride(from: 36, through: 1, by: -1) {
            b.swapAt(i, Int(SeededInit.bits(name: "shuffle", seed: 5 &+ 2, index: i) % UInt64(i + 1)))
        }
        XCTAssertEqual(ds.order(epoch: 2, seed: 5, shuffle: true), b)
    }

    func testBatchAndAugmentation() throws {
        let (n, c, h, w) = (6, 2, 5, 4)
        let images = try Tensor(shape: [n, c, h, w], scalars: (0..<(n * c * h * w)).map { Float($0) + 1 })
        let ds = try Dataset(images: images, labels: (0..<n).map { Int32($0 % 3) })
        let plain = try ds.batch(indices: [4, 1], augmentation: .none, seed: 0)
        XCTAssertEqual(plain.labels, [1, 1])
        XCTAssertEqual(plain.images.shape, [2, c, h, w])
        XCTAssertEqual(Array(plain.images.scalars[0..<(c * h * w)]), Array(images.scalars[(4 * c * h * w)..<(5 * c * h * w)]))
        let aug = Augmentation(cropPadding: 2, horizontalFlip: true)
        let seed: UInt64 = 9
        let r = try ds.batch(indices: [0, 1, 2, 3, 4, 5], augmentation: aug, seed: seed)
        var flips = 0, shifts = 0
        for e in 0..<n {
            let dy = Int(SeededInit.bits(name: "crop_y", seed: seed, index: e) % 5) - 2
            let dx = Int(SeededInit.bits(name: "crop_x", seed: seed, index: e) % 5) - 2
            let flip = SeededInit.bits(name: "flip", seed: seed, index: e) & 1 == 1
            if flip { flips += 1 }
            if dy != 0 || dx != 0 { shifts += 1 }
            for ch in 0..<c { for y in 0..<h { for x in 0..<w {
                let sx = (flip ? w - 1 - x : x) + dx, sy = y + dy
                let expected: Float = (0..<h).contains(sy) && (0..<w).contains(sx) ? try images.element(e, ch, sy, sx) : 0
                XCTAssertEqual(try r.images.element(e, ch, y, x), expected)
            } } }
        }
        XCTAssertGreaterThan(flips, 0)
        XCTAssertGreaterThan(shifts, 0)
        assertThrows(.invalidArgument, "index 6") { try ds.batch(indices: [6], augmentation: .none, seed: 0) }
        assertThrows(.shapeMismatch, "5 labels") { try Dataset(images: images, labels: [0, 0, 0, 0, 0]) }
    }

    // MARK: - Trainer

    /// Random [n, 3, 8, 8] images whose label k ∈ 0..<3 is the third of the columns that is
    /// brighter (noise ±0.5, signal ±0.5).
    func separableData(_ n: Int, seed: UInt64) throws -> Dataset {
        var rng = TestRNG(seed)
        var values: [Float] = []
        var labels: [Int32] = []
        for _ in 0..<n {
            let label = rng.int(0...2)
            labels.append(Int32(label))
            for _ in 0..<3 { for _ in 0..<8 { for x in 0..<8 {
                values.append(rng.float(-0.5, 0.5) + (x * 3 / 8 == label ? 0.5 : -0.5))
            } } }
        }
        return try Dataset(images: try Tensor(shape: [n, 3, 8, 8], scalars: values), labels: labels)
    }

    func testLossDecreasesOnSeparableProblem() throws {
        let data = try separableData(48, seed: 1)
        let model = try Model(tinyResNetArchitecture(dropout: 0.1), seed: 1)
        let opt = try Optimizer(.sgd(lr: 0.05, momentum: 0.9), for: model)
        let trainer = Trainer(model: model, optimizer: opt, config: TrainingConfig(epochs: 12, batchSize: 16, seed: 3))
        var steps: [StepReport] = []
        var epochs: [EpochReport] = []
        let reports = try trainer.fit(data, validation: try separableData(30, seed: 2), onStep: { steps.append($0); return true },
                                      onEpoch: { epochs.append($0) })
        XCTAssertEqual(reports.count, 12)
        XCTAssertEqual(epochs.map(\.epoch), Array(0..<12))
        XCTAssertEqual(steps.count, 36)
        XCTAssertEqual(steps.map(\.step), Array(0..<36))
        XCTAssertEqual(steps.map(\.batchIndex), (0..<36).map { $0 % 3 })
        XCTAssertLessThan(reports[11].loss, reports[0].loss * 0.5, "\(reports.map(\.loss))")
        XCTAssertGreaterThanOrEqual(reports[11].validationAccuracy ?? 0, 0.9, "\(reports.map { $0.validationAccuracy ?? 0 })")
        let eval = try trainer.model.evaluate(images: data.images, labels: data.labels, batchSize: 7)
        XCTAssertGreaterThanOrEqual(eval.accuracy, 0.9)
        let predicted = try trainer.model.predict(data.images, batchSize: 5)
        XCTAssertEqual(Double(zip(predicted, data.labels).filter { $0 == $1 }.count) / 48, eval.accuracy, accuracy: 1e-12)
    }

    func testEvaluateAndPredictMatchForward() throws {
        for arch in [lenet5Architecture(), lenet5OriginalArchitecture()] {
            let model = try Model(arch, seed: 4)
            var rng = TestRNG(8)
            let x = try rng.tensor([5, 1, 32, 32])
            let labels: [Int32] = [0, 3, 9, 2, 2]
            let out = try model.forward(x)
            let penalty = arch.name == "lenet5_original"
            let scores = penalty ? try negated(out) : out
            let expectedClasses = (0..<5).map { i -> Int32 in
                let row = Array(scores.scalars[(i * 10)..<((i + 1) * 10)])
                return Int32(row.firstIndex(of: row.max()!)!)
            }
            XCTAssertEqual(try model.predict(x, batchSize: 2), expectedClasses, arch.name)
            let (loss, acc) = try model.evaluate(images: x, labels: labels, batchSize: 3)
            let full = try crossEntropyLoss(scores, labels: labels)
            XCTAssertEqual(loss, full.loss, accuracy: 1e-5 * max(1, abs(full.loss)))
            XCTAssertEqual(acc, Double(zip(expectedClasses, labels).filter { $0 == $1 }.count) / 5)
            assertThrows(.invalidArgument, "label 10") { try model.evaluate(images: x, labels: [0, 0, 0, 0, 10]) }
            assertThrows(.invalidArgument, "batch size") { try model.predict(x, batchSize: 0) }
        }
    }

    func testCheckpointResumeIsBitwiseIdentical() throws {
        let dir = "/tmp/swiftcnn-training-tests-\(getpid())"
        mkdir(dir, 0o755)
        defer { _ = system_rm(dir) }
        // 20 examples, batch 8: batches of 8, 8, 4; 2 epochs = 6 steps.
        var rng = TestRNG(21)
        let data = try Dataset(images: try rng.tensor([20, 3, 8, 8]), labels: (0..<20).map { Int32($0 % 3) })
        let config = TrainingConfig(epochs: 2, batchSize: 8, seed: 17, shuffle: true,
                                    augmentation: Augmentation(cropPadding: 1, horizontalFlip: true),
                                    loss: .crossEntropy(labelSmoothing: 0.1))
        for kind in [OptimizerConfig.sgd(lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-4), .adamW(lr: 1e-3)] {
            func fresh(seed: UInt64) throws -> Trainer {
                let m = try Model(tinyResNetArchitecture(), seed: seed)
                return Trainer(model: m, optimizer: try Optimizer(kind, for: m, schedule: .cosine(totalSteps: 6, minimum: 1e-4)),
                               config: config)
            }
            let full = try fresh(seed: 1)
            var fullLosses: [Float] = []
            let fullReports = try full.fit(data, onStep: { fullLosses.append($0.loss); return true })

            let first = try fresh(seed: 1)
            var losses: [Float] = []
            _ = try first.fit(data, onStep: { losses.append($0.loss); return losses.count < 4 })
            XCTAssertEqual(first.state.globalStep, 4)
            XCTAssertEqual(first.state.epoch, 1)
            XCTAssertEqual(first.state.batchInEpoch, 1)
            let path = dir + "/ckpt.safetensors"
            try first.saveCheckpoint(path: path)

            var otherConfig = config
            otherConfig.seed = 999
            let m2 = try Model(tinyResNetArchitecture(), seed: 2)
            let resumed = Trainer(model: m2, optimizer: try Optimizer(kind, for: m2), config: otherConfig)
            try resumed.loadCheckpoint(path: path)
            XCTAssertEqual(resumed.config, config)
            XCTAssertEqual(resumed.state, first.state)
            let resumedReports = try resumed.fit(data, onStep: { losses.append($0.loss); return true })
            XCTAssertEqual(losses, fullLosses, "\(kind.kind)")
            XCTAssertEqual(resumedReports.last?.loss, fullReports.last?.loss)
            XCTAssertEqual(resumedReports.last?.accuracy, fullReports.last?.accuracy)
            for (name, t) in full.model.stateDict() {
                XCTAssertEqual(try resumed.model.parameter(name).scalars.map(\.bitPattern), t.scalars.map(\.bitPattern),
                               "\(kind.kind) \(name)")
            }
            // A checkpoint for another model is refused, leaving the trainer unchanged.
            let lenet = try Model(lenet5Architecture())
            let other = Trainer(model: lenet, optimizer: try Optimizer(kind, for: lenet), config: config)
            assertThrows(.format, "tiny_resnet") { try other.loadCheckpoint(path: path) }
            XCTAssertEqual(other.state, TrainingState())
        }
    }

    /// The optimizer writes the weights and its state where they are: no copy per step (a
    /// copy would allocate a new buffer while the old one is alive, so equal addresses after
    /// the step prove the update was in place).
    func testStepsUpdateWeightsInPlace() throws {
        for config in [OptimizerConfig.sgd(lr: 0.1, momentum: 0.9), .adam(lr: 1e-3)] {
            let model = try Model(tinyResNetArchitecture(), seed: 2)
            let trainer = Trainer(model: model, optimizer: try Optimizer(config, for: model), config: TrainingConfig())
            var rng = TestRNG(3)
            let x = try rng.tensor([4, 3, 8, 8])
            let labels: [Int32] = [0, 1, 2, 0]
            _ = try trainer.step(images: x, labels: labels)
            func addresses() -> [UInt] {
                trainer.model.parameterSpecs.map { p in
                    trainer.model.store[p.name].map { t in t.withUnsafePointer { UInt(bitPattern: $0) } } ?? 0
                } + trainer.optimizer.stateDict().map { $0.1.withUnsafePointer { UInt(bitPattern: $0) } }.dropLast(2)
            }
            let before = addresses()
            let weights = try trainer.model.parameter("fc.weight").scalars
            _ = try trainer.step(images: x, labels: labels)
            XCTAssertNotEqual(try trainer.model.parameter("fc.weight").scalars, weights)
            XCTAssertEqual(addresses(), before, "\(config.kind)")
        }
    }

    func testStepValidatesLabelsFirst() throws {
        let model = try Model(lenet5Architecture())
        let trainer = Trainer(model: model, optimizer: try Optimizer(.sgd(lr: 0.1), for: model), config: TrainingConfig())
        assertThrows(.invalidArgument, "label 10") { try trainer.step(images: try Tensor(zeros: [1, 1, 32, 32]), labels: [10]) }
        assertThrows(.shapeMismatch, "2 labels") { try trainer.step(images: try Tensor(zeros: [1, 1, 32, 32]), labels: [1, 2]) }
        XCTAssertEqual(trainer.state.globalStep, 0)
        XCTAssertEqual(try trainer.model.parameter("features.0.weight").scalars, try model.parameter("features.0.weight").scalars)
        let loss = try trainer.step(images: try Tensor(zeros: [2, 1, 32, 32]), labels: [1, 2])
        XCTAssertTrue(loss.isFinite)
        XCTAssertEqual(trainer.state.globalStep, 1)
        XCTAssertTrue(trainer.model.isTraining)
        // fit: a batch larger than the data is one batch; bad settings are errors.
        let data = try Dataset(images: try Tensor(zeros: [3, 1, 32, 32]), labels: [0, 1, 2])
        trainer.config = TrainingConfig(epochs: 1, batchSize: Int.max)
        var sizes: [Int] = []
        _ = try trainer.fit(data, onStep: { sizes.append($0.batchesPerEpoch); return true })
        XCTAssertEqual(sizes, [1])
        trainer.config.batchSize = 0
        trainer.config.epochs = 2
        assertThrows(.invalidArgument, "batch size") { try trainer.fit(data) }
        trainer.config.batchSize = 2
        assertThrows(.invalidArgument, "label 10") { try trainer.fit(try Dataset(images: try Tensor(zeros: [1, 1, 32, 32]), labels: [10])) }
    }
}

/// Removes a test directory tree (files only one level deep).
private func system_rm(_ dir: String) -> Int32 {
    if let d = opendir(dir) {
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { unlink(dir + "/" + name) }
        }
        closedir(d)
    }
    return rmdir(dir)
}

/// Training throughput, run only when SWIFTCNN_TRAIN_BENCH is set to a thread count (meant for a release
/// build: `swift test -c release -Xswiftc -target-cpu -Xswiftc native --filter TrainingBenchmark`).
final class TrainingBenchmark: XCTestCase {
    func testLeNet5TrainingThroughput() throws {
        try measure(lenet5Architecture(), batch: 64, image: [1, 32, 32])
    }

    func testResNet18TrainingThroughput() throws {
        guard let arch = resnetArchitecture("resnet18", numClasses: 10) else { return XCTFail("no resnet18") }
        try measure(arch, batch: 32, image: [3, 32, 32], rounds: 3, steps: 3)
    }

    /// ResNet-18's training step with the forward convolutions of small maps batched into one
    /// GEMM (``Optimized/batchedPlaneLimit`` 256) and one GEMM per image (0), alternating in
    /// one process; medians of the step times.
    func testResNet18BatchedSmallConvolutions() throws {
        guard let setting = getenv("SWIFTCNN_TRAIN_BENCH") else { throw XCTSkip("set SWIFTCNN_TRAIN_BENCH=<threads> to run") }
        guard let arch = resnetArchitecture("resnet18", numClasses: 10) else { return XCTFail("no resnet18") }
        let saved = (Threading.numThreads, Optimized.batchedPlaneLimit)
        if let n = Int(String(cString: setting)), n >= 1 { Threading.numThreads = n }
        defer { (Threading.numThreads, Optimized.batchedPlaneLimit) = saved }
        var rng = TestRNG(1)
        let x = try rng.tensor([32, 3, 32, 32])
        let labels = (0..<32).map { Int32($0 % 10) }
        let model = try Model(arch)
        let trainer = Trainer(model: model, optimizer: try Optimizer(.sgd(lr: 0.01, momentum: 0.9), for: model),
                              config: TrainingConfig(batchSize: 32))
        func now() -> Double { var t = timespec(); clock_gettime(CLOCK_MONOTONIC, &t); return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9 }
        var times: [Int: [Double]] = [256: [], 0: []]
        for round in 0..<12 {
            let limit = round % 2 == 0 ? 256 : 0
            Optimized.batchedPlaneLimit = limit
            _ = try trainer.step(images: x, labels: labels)
            let t0 = now()
            for _ in 0..<3 { _ = try trainer.step(images: x, labels: labels) }
            times[limit, default: []].append((now() - t0) / 3)
        }
        func med(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }
        let on = med(times[256] ?? [1]), off = med(times[0] ?? [1])
        print("resnet18 training step, batch 32, \(Threading.numThreads) threads: batched small convs \(Int(on * 1e3)) ms (\(Int(32 / on)) img/s), per-image GEMMs \(Int(off * 1e3)) ms (\(Int(32 / off)) img/s)")
    }

    func measure(_ arch: Architecture, batch: Int, image: [Int], rounds: Int = 7, steps: Int = 20) throws {
        guard let setting = getenv("SWIFTCNN_TRAIN_BENCH") else { throw XCTSkip("set SWIFTCNN_TRAIN_BENCH=<threads> to run") }
        let saved = Threading.numThreads
        if let n = Int(String(cString: setting)), n >= 1 { Threading.numThreads = n }
        defer { Threading.numThreads = saved }
        var rng = TestRNG(1)
        let x = try rng.tensor([batch] + image)
        let labels = (0..<batch).map { Int32($0 % 10) }
        let model = try Model(arch)
        let trainer = Trainer(model: model, optimizer: try Optimizer(.sgd(lr: 0.01, momentum: 0.9), for: model),
                              config: TrainingConfig(batchSize: batch))
        for _ in 0..<2 { _ = try trainer.step(images: x, labels: labels) }
        func now() -> Double { var t = timespec(); clock_gettime(CLOCK_MONOTONIC, &t); return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9 }
        var rates: [Double] = []
        for _ in 0..<rounds {
            let t0 = now()
            for _ in 0..<steps { _ = try trainer.step(images: x, labels: labels) }
            rates.append(Double(steps * batch) / (now() - t0))
        }
        rates.sort()
        // Breakdown of one step (medians).
        var fw: [Double] = [], bw: [Double] = [], op: [Double] = [], inf: [Double] = []
        var m = trainer.model
        let opt = trainer.optimizer
        for _ in 0..<rounds {
            let a = now()
            let (out, tape) = try m.forwardRecording(x)
            let (_, g) = try crossEntropyLoss(out, labels: labels)
            let b = now()
            let grads = try m.backward(tape, gradOutput: g)
            let c = now()
            try opt.step(&m, grads)
            let d = now()
            _ = try m.forward(x)
            let e = now()
            fw.append(b - a); bw.append(c - b); op.append(d - c); inf.append(e - d)
        }
        func med(_ v: [Double]) -> String { String(Int(v.sorted()[v.count / 2] * 1e6)) + " µs" }
        print("\(arch.name) step breakdown: forwardRecording+loss \(med(fw)), backward \(med(bw)), optimizer \(med(op)), inference forward \(med(inf))")
        print("\(arch.name) training, batch \(batch), \(Threading.numThreads) threads: median \(Int(rates[rates.count / 2])) images/s (min \(Int(rates[0])), max \(Int(rates[rates.count - 1])))")
    }
}
