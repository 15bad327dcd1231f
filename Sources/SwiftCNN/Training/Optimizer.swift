#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// Optimizers with torch.optim's update rules (single-tensor, non-fused, non-foreach code
// paths) and learning-rate schedules.

/// Which update rule an ``Optimizer`` applies.
public enum OptimizerKind: Sendable, Equatable {
    /// `torch.optim.SGD` (momentum, dampening 0, Nesterov, weight decay added to the gradient).
    case sgd
    /// `torch.optim.Adam` (bias-corrected moments, L2 weight decay added to the gradient).
    case adam
    /// `torch.optim.AdamW` (Adam with decoupled weight decay p ← p·(1 − lr·wd)).
    case adamW
}

/// Hyper-parameters of an optimizer (the fields a kind does not use are ignored).
public struct OptimizerConfig: Sendable, Equatable {
    /// The update rule.
    public var kind: OptimizerKind
    /// The base learning rate (before any schedule).
    public var learningRate: Float
    /// SGD momentum (0: none).
    public var momentum: Float = 0
    /// SGD Nesterov momentum (needs momentum > 0).
    public var nesterov = false
    /// Weight decay: L2 added to the gradient (SGD, Adam) or decoupled (AdamW).
    public var weightDecay: Float = 0
    /// Adam's β₁.
    public var beta1: Float = 0.9
    /// Adam's β₂.
    public var beta2: Float = 0.999
    /// Adam's ε.
    public var epsilon: Float = 1e-8

    /// A configuration with every field given.
    public init(kind: OptimizerKind, learningRate: Float, momentum: Float = 0, nesterov: Bool = false,
                weightDecay: Float = 0, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        self.kind = kind
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    /// `torch.optim.SGD(params, lr, momentum, dampening=0, weight_decay, nesterov)`.
    public static func sgd(lr: Float, momentum: Float = 0, nesterov: Bool = false, weightDecay: Float = 0) -> OptimizerConfig {
        OptimizerConfig(kind: .sgd, learningRate: lr, momentum: momentum, nesterov: nesterov, weightDecay: weightDecay)
    }

    /// `torch.optim.Adam(params, lr, betas, eps, weight_decay)` (amsgrad off).
    public static func adam(lr: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999), eps: Float = 1e-8,
                            weightDecay: Float = 0) -> OptimizerConfig {
        OptimizerConfig(kind: .adam, learningRate: lr, weightDecay: weightDecay, beta1: betas.0, beta2: betas.1, epsilon: eps)
    }

    /// `torch.optim.AdamW(params, lr, betas, eps, weight_decay)` (torch's default decay 0.01).
    public static func adamW(lr: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999), eps: Float = 1e-8,
                             weightDecay: Float = 0.01) -> OptimizerConfig {
        OptimizerConfig(kind: .adamW, learningRate: lr, weightDecay: weightDecay, beta1: betas.0, beta2: betas.1, epsilon: eps)
    }

    /// Throws unless every field is usable (messages name the field).
    func validate() throws {
        let op = "optimizer"
        guard learningRate.isFinite && learningRate >= 0 else {
            throw SwiftCNNError.invalidArgument("\(op): learning rate must be a finite number >= 0; got \(learningRate)")
        }
        guard weightDecay.isFinite && weightDecay >= 0 else {
            throw SwiftCNNError.invalidArgument("\(op): weight decay must be a finite number >= 0; got \(weightDecay)")
        }
        switch kind {
        case .sgd:
            guard momentum.isFinite && momentum >= 0 else {
                throw SwiftCNNError.invalidArgument("\(op): momentum must be a finite number >= 0; got \(momentum)")
            }
            guard !nesterov || momentum > 0 else {
                throw SwiftCNNError.invalidArgument("\(op): Nesterov momentum requires a momentum > 0; got \(momentum)")
            }
        case .adam, .adamW:
            for (name, b) in [("beta1", beta1), ("beta2", beta2)] where !(b >= 0 && b < 1) {
                throw SwiftCNNError.invalidArgument("\(op): \(name) must be in [0, 1); got \(b)")
            }
            guard epsilon.isFinite && epsilon >= 0 else {
                throw SwiftCNNError.invalidArgument("\(op): epsilon must be a finite number >= 0; got \(epsilon)")
            }
        }
    }
}

/// How the learning rate changes with the optimizer's step count.
///
/// Evaluated **per optimizer step**: step k (0-based: the k-th call to
/// ``Optimizer/step(_:_:)``) uses rate(k), as PyTorch does when `scheduler.step()` follows
/// every `optimizer.step()`. The values are torch's closed forms, computed in float64 and
/// rounded to float32 once: StepLR `base·γ^⌊k/every⌋`; CosineAnnealingLR
/// `minimum + (base − minimum)·(1 + cos(π·k/totalSteps))/2` (past `totalSteps` it keeps
/// following the cosine, rising again, as torch's closed form does).
public enum LearningRateSchedule: Sendable, Equatable {
    /// The base rate throughout.
    case constant
    /// Multiply by `gamma` every `every` steps (torch's StepLR with step_size = every).
    case step(every: Int, gamma: Float)
    /// Cosine annealing from the base rate to `minimum` over `totalSteps` steps
    /// (torch's CosineAnnealingLR with T_max = totalSteps, eta_min = minimum).
    case cosine(totalSteps: Int, minimum: Float)

    /// The rate for 0-based step `k` given the base rate.
    public func rate(base: Float, step k: Int) -> Float {
        switch self {
        case .constant:
            return base
        case .step(let every, let gamma):
            guard every >= 1 else { return base }
            return Float(Double(base) * pow(Double(gamma), Double(k / every)))
        case .cosine(let total, let minimum):
            guard total >= 1 else { return base }
            let t = Double(k) / Double(total)
            return Float(Double(minimum) + (Double(base) - Double(minimum)) * (1 + cos(Double.pi * t)) / 2)
        }
    }

    func validate() throws {
        switch self {
        case .constant: break
        case .step(let every, let gamma):
            guard every >= 1, gamma.isFinite, gamma >= 0 else {
                throw SwiftCNNError.invalidArgument("schedule: step needs every >= 1 and a finite gamma >= 0; got every \(every), gamma \(gamma)")
            }
        case .cosine(let total, let minimum):
            guard total >= 1, minimum.isFinite, minimum >= 0 else {
                throw SwiftCNNError.invalidArgument("schedule: cosine needs totalSteps >= 1 and a finite minimum >= 0; got \(total), \(minimum)")
            }
        }
    }
}

/// Updates a model's trainable parameters from their gradients, with PyTorch's exact rules
/// (torch.optim.SGD / Adam / AdamW, single-tensor path), in float32 with scalar
/// coefficients computed in float64 where torch computes them as Python floats:
///
/// - SGD: d = g + wd·p; with momentum μ: b = d at the first step, else b = μ·b + d;
///   Nesterov: d = d + μ·b, else d = b; then p = p − lr·d.
/// - Adam: g = g + wd·p; m = m + (1 − β₁)·(g − m); v = β₂·v + (1 − β₂)·g·g;
///   p = p − (lr / (1 − β₁ᵗ))·m / (√v / √(1 − β₂ᵗ) + ε), t = step number from 1.
/// - AdamW: p = p·(1 − lr·wd) first, then Adam without the L2 term.
///
/// State (momentum buffers, moments) is created at the first step, keyed by parameter name.
public final class Optimizer {
    /// The hyper-parameters; changing them between steps is allowed (state is kept).
    public var config: OptimizerConfig
    /// The learning-rate schedule, evaluated at ``stepCount``.
    public var schedule: LearningRateSchedule
    /// Number of steps taken.
    public private(set) var stepCount: Int = 0
    /// The trainable parameters' names and shapes, in the model's order.
    let parameters: [ParameterSpec]
    /// SGD momentum buffers (nil until the first step with momentum), by parameter index.
    var momentumBuffers: [Tensor?]
    /// Adam first and second moments (nil until the first step), by parameter index.
    var firstMoments: [Tensor?]
    var secondMoments: [Tensor?]

    /// An optimizer for `model`'s trainable parameters (batch norm's running statistics are
    /// not trained). Throws for unusable hyper-parameters.
    public init(_ config: OptimizerConfig, for model: Model, schedule: LearningRateSchedule = .constant) throws {
        try config.validate()
        try schedule.validate()
        self.config = config
        self.schedule = schedule
        parameters = model.parameterSpecs.filter { !$0.isBuffer }
        momentumBuffers = Array(repeating: nil, count: parameters.count)
        firstMoments = Array(repeating: nil, count: parameters.count)
        secondMoments = Array(repeating: nil, count: parameters.count)
    }

    /// The current learning rate: the schedule's value for the next step. Setting it sets the
    /// base rate (``OptimizerConfig/learningRate``); with the constant schedule the two agree.
    public var learningRate: Float {
        get { schedule.rate(base: config.learningRate, step: stepCount) }
        set { config.learningRate = newValue }
    }

    /// Checks that this optimizer was made for `model` as it is now: every parameter it
    /// updates exists in the model with the shape it had (a model whose node was replaced
    /// needs a new optimizer).
    public func checkCompatible(with model: Model) throws {
        for p in parameters where !model.frozen.contains(p.name) {
            guard let current = model.store[p.name] else {
                throw SwiftCNNError.invalidArgument(
                    "optimizer: it was made for a model with parameter \(p.name), which \(model.name) does not have (create the optimizer after replacing nodes)")
            }
            guard current.shape == p.shape else {
                throw SwiftCNNError.shapeMismatch(
                    "optimizer: it was made for \(p.name) of shape \(Tensor.describe(p.shape)), but \(model.name) has \(Tensor.describe(current.shape)) (create the optimizer after replacing nodes)")
            }
        }
        let known = Set(parameters.map(\.name))
        for spec in model.parameterSpecs where !spec.isBuffer && !model.frozen.contains(spec.name) && !known.contains(spec.name) {
            throw SwiftCNNError.invalidArgument(
                "optimizer: \(model.name) has parameter \(spec.name), which the optimizer was not made for (create the optimizer after replacing nodes)")
        }
    }

    /// One update of every trainable parameter of `model` from `gradients` (which must hold
    /// one for each, as ``Model/backward(_:gradOutput:)`` returns).
    public func step(_ model: inout Model, _ gradients: Gradients) throws {
        try config.validate()
        for p in parameters where !model.frozen.contains(p.name) {
            guard let g = gradients[p.name] else {
                throw SwiftCNNError.invalidArgument("optimizer: no gradient for parameter \(p.name)")
            }
            guard g.shape == p.shape, let current = model.store[p.name], current.shape == p.shape else {
                throw SwiftCNNError.shapeMismatch("optimizer: parameter \(p.name) of shape \(Tensor.describe(p.shape)) has a gradient of shape \(Tensor.describe(g.shape)) or is not in model \(model.name)")
            }
        }
        let lr = Double(learningRate)
        let t = stepCount + 1
        for (i, p) in parameters.enumerated() where !model.frozen.contains(p.name) {
            guard let g = gradients[p.name] else { continue }
            switch config.kind {
            case .sgd: try sgdUpdate(&model, i, p.name, g, lr: lr)
            case .adam, .adamW: try adamUpdate(&model, i, p.name, g, lr: lr, t: t)
            }
        }
        stepCount = t
    }

    func sgdUpdate(_ model: inout Model, _ i: Int, _ name: String, _ g: Tensor, lr: Double) throws {
        let wd = config.weightDecay, mu = config.momentum, nesterov = config.nesterov
        let negLR = Float(-lr)
        guard mu != 0 else {
            try model.withMutableParameter(name) { p in
                g.withUnsafeBufferPointer { gp in
                    for j in 0..<p.count {
                        let d = wd != 0 ? gp[j] + wd * p[j] : gp[j]
                        p[j] = p[j] + negLR * d
                    }
                }
            }
            return
        }
        // torch clones d into the buffer at the parameter's first momentum step.
        let fresh = momentumBuffers[i] == nil
        var buf = try momentumBuffers[i] ?? Tensor(uninitialized: g.shape)
        momentumBuffers[i] = nil
        try model.withMutableParameter(name) { p in
            try g.withUnsafeBufferPointer { gp in
                try buf.withUnsafeMutableBufferPointer { bp in
                    guard let pb = p.baseAddress, let gb = gp.baseAddress, let bb = bp.baseAddress,
                          gp.count >= p.count, bp.count >= p.count else { return }
                    Optimizer.sgdMomentum(pb, gb, bb, count: p.count, wd: wd, mu: mu, negLR: negLR,
                                          nesterov: nesterov, fresh: fresh)
                }
            }
        }
        momentumBuffers[i] = buf
    }

    /// SGD with momentum over `count` elements: d = g (+ wd·p), b = d (fresh) or b·mu + d,
    /// p += negLR · (nesterov ? d + mu·b : b). 16 lanes at a time with the scalar loop's
    /// operations (no fused multiply-adds), chunks of a large tensor spread over the threads:
    /// every element is computed the same way whatever the thread count.
    static func sgdMomentum(_ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ b: UnsafeMutablePointer<Float>,
                            count: Int, wd: Float, mu: Float, negLR: Float, nesterov: Bool, fresh: Bool) {
        typealias V = SIMD16<Float>
        let chunk = 1 << 14
        let chunks = (count + chunk - 1) / chunk
        let items = count < 1 << 16 ? 1 : min(chunks, Threading.numThreads * 4)
        let wdv = V(repeating: wd), muv = V(repeating: mu), lrv = V(repeating: negLR)
        Threading.parallelFor(items) { item in
            let lo = min(count, (chunks * item / items) * chunk), hi = min(count, (chunks * (item + 1) / items) * chunk)
            let rp = UnsafeMutableRawPointer(p), rg = UnsafeRawPointer(g), rb = UnsafeMutableRawPointer(b)
            var j = lo
            while j + 16 <= hi {
                let o = j * 4
                let pv = rp.loadUnaligned(fromByteOffset: o, as: V.self)
                let gv = rg.loadUnaligned(fromByteOffset: o, as: V.self)
                let d = wd != 0 ? gv + wdv * pv : gv
                let nb = fresh ? d : rb.loadUnaligned(fromByteOffset: o, as: V.self) * muv + d
                rb.storeBytes(of: nb, toByteOffset: o, as: V.self)
                let step = nesterov ? d + muv * nb : nb
                rp.storeBytes(of: pv + lrv * step, toByteOffset: o, as: V.self)
                j += 16
            }
            while j < hi {
                let d = wd != 0 ? g[j] + wd * p[j] : g[j]
                let nb = fresh ? d : b[j] * mu + d
                b[j] = nb
                let step = nesterov ? d + mu * nb : nb
                p[j] = p[j] + negLR * step
                j += 1
            }
        }
    }

    func adamUpdate(_ model: inout Model, _ i: Int, _ name: String, _ g: Tensor, lr: Double, t: Int) throws {
        let b1 = Double(config.beta1), b2 = Double(config.beta2)
        let wd = config.weightDecay
        let decoupled = config.kind == .adamW
        var m = try firstMoments[i] ?? Tensor(zeros: g.shape)
        var v = try secondMoments[i] ?? Tensor(zeros: g.shape)
        firstMoments[i] = nil
        secondMoments[i] = nil
        let oneMinusB1 = Float(1 - b1), beta2 = Float(b2), oneMinusB2 = Float(1 - b2)
        let bc1 = 1 - pow(b1, Double(t)), bc2 = 1 - pow(b2, Double(t))
        let negStepSize = Float(-(lr / bc1))
        let bc2Sqrt = Float(bc2.squareRoot())
        let eps = config.epsilon
        let decay = Float(1 - lr * Double(wd))
        try model.withMutableParameter(name) { p in
            try g.withUnsafeBufferPointer { gp in
                try m.withUnsafeMutableBufferPointer { mp in
                    try v.withUnsafeMutableBufferPointer { vp in
                        for j in 0..<p.count {
                            var grad = gp[j]
                            if decoupled {
                                if wd != 0 { p[j] = p[j] * decay }
                            } else if wd != 0 {
                                grad = grad + wd * p[j]
                            }
                            mp[j] = mp[j] + oneMinusB1 * (grad - mp[j])
                            vp[j] = vp[j] * beta2 + oneMinusB2 * grad * grad
                            let denom = vp[j].squareRoot() / bc2Sqrt + eps
                            p[j] = p[j] + negStepSize * (mp[j] / denom)
                        }
                    }
                }
            }
        }
        firstMoments[i] = m
        secondMoments[i] = v
    }

    // MARK: State

    /// The scalars' keys.
    static let stepKey = "optimizer.step"
    static let learningRateKey = "optimizer.learning_rate"

    /// State tensors for checkpoints: "optimizer.<param name>.momentum_buffer" (SGD with
    /// momentum), "optimizer.<param name>.exp_avg" and ".exp_avg_sq" (Adam, AdamW) once
    /// created, plus the scalars "optimizer.step" ([2]: ⌊step / 2²⁴⌋ and step mod 2²⁴, exact
    /// in float32) and "optimizer.learning_rate" ([1]: the base rate).
    public func stateDict() -> [(String, Tensor)] {
        var r: [(String, Tensor)] = []
        for (i, p) in parameters.enumerated() {
            if let b = momentumBuffers[i] { r.append(("optimizer.\(p.name).momentum_buffer", b)) }
            if let m = firstMoments[i] { r.append(("optimizer.\(p.name).exp_avg", m)) }
            if let v = secondMoments[i] { r.append(("optimizer.\(p.name).exp_avg_sq", v)) }
        }
        if let s = try? Tensor(shape: [2], scalars: [Float(stepCount >> 24), Float(stepCount & 0xFF_FFFF)]) {
            r.append((Optimizer.stepKey, s))
        }
        if let l = try? Tensor(shape: [1], scalars: [config.learningRate]) { r.append((Optimizer.learningRateKey, l)) }
        return r
    }

    /// Restores ``stateDict()``'s entries (keys not starting with "optimizer." are ignored,
    /// so a whole checkpoint may be passed). Every "optimizer." key must be known and every
    /// shape right; either everything loads or nothing changes.
    public func loadStateDict(_ d: [String: Tensor]) throws {
        var momentum = Array<Tensor?>(repeating: nil, count: parameters.count)
        var first = momentum, second = momentum
        var index: [String: Int] = [:]
        for (i, p) in parameters.enumerated() { index[p.name] = i }
        var step = stepCount, lr = config.learningRate
        for (key, value) in d where key.hasPrefix("optimizer.") {
            if key == Optimizer.stepKey {
                let s = value.scalars
                guard value.shape == [2], let hi = Int(exactly: s[0]), let lo = Int(exactly: s[1]),
                      hi >= 0, hi < (1 << 24), lo >= 0, lo < (1 << 24) else {
                    throw SwiftCNNError.format("optimizer: \(key) must hold two integers in 0..<2^24; got \(s)")
                }
                step = hi << 24 | lo
                continue
            }
            if key == Optimizer.learningRateKey {
                guard value.shape == [1], let v = value.scalars.first, v.isFinite, v >= 0 else {
                    throw SwiftCNNError.format("optimizer: \(key) must hold one finite rate >= 0")
                }
                lr = v
                continue
            }
            let rest = key.dropFirst("optimizer.".count)
            var matched = false
            for slot in ["momentum_buffer", "exp_avg_sq", "exp_avg"] where rest.hasSuffix("." + slot) {
                let name = String(rest.dropLast(slot.count + 1))
                guard let i = index[name] else {
                    throw SwiftCNNError.format("optimizer: \(key) names no trainable parameter")
                }
                guard value.shape == parameters[i].shape else {
                    throw SwiftCNNError.shapeMismatch(
                        "optimizer: \(key) has shape \(Tensor.describe(value.shape)); the parameter has \(Tensor.describe(parameters[i].shape))")
                }
                var t = value
                try t.makeUnique()
                switch slot {
                case "momentum_buffer": momentum[i] = t
                case "exp_avg": first[i] = t
                default: second[i] = t
                }
                matched = true
                break
            }
            guard matched else { throw SwiftCNNError.format("optimizer: unknown state entry \(key)") }
        }
        for i in 0..<parameters.count where (first[i] == nil) != (second[i] == nil) {
            throw SwiftCNNError.format("optimizer: \(parameters[i].name) has only one of exp_avg and exp_avg_sq")
        }
        stepCount = step
        config.learningRate = lr
        momentumBuffers = momentum
        firstMoments = first
        secondMoments = second
    }
}
