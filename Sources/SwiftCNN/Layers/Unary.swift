/// Elementwise activations beyond ``relu(_:)``, ``tanh(_:)`` and ``sigmoid(_:)``, with
/// PyTorch's semantics: the op of ``unary(_:_:)`` and ``unaryBackward(_:input:gradOutput:)``.
///
/// Parameters are checked when the op runs: ``clip(min:max:)`` needs min <= max and no NaN
/// bound (either may be infinite); the other parameters must be finite.
public enum UnaryOp: Equatable, Sendable {
    /// 1 / (1 + e^(−x)), computed without overflow.
    case sigmoid
    /// x · sigmoid(x) (SiLU, "swish"; torch `nn.SiLU`).
    case silu
    /// x · relu6(x + 3) / 6 (torch `nn.Hardswish`).
    case hardswish
    /// clamp(α·x + β, 0, 1). torch `nn.Hardsigmoid` is α = 1/6, β = 0.5; ONNX HardSigmoid's
    /// defaults are α = 0.2, β = 0.5.
    case hardsigmoid(alpha: Float, beta: Float)
    /// clamp(x, min, max); ReLU6 is `clip(min: 0, max: 6)`. Bounds may be ±infinity; NaN stays NaN.
    case clip(min: Float, max: Float)
    /// x for x > 0, α·x otherwise (torch `negative_slope`).
    case leakyReLU(alpha: Float)
    /// GELU: the exact x · Φ(x) = x · ½(1 + erf(x/√2)) when `tanh` is false, torch's
    /// `approximate="tanh"` form ½x(1 + tanh(√(2/π)(x + 0.044715x³))) when true.
    case gelu(tanh: Bool)
    /// The error function erf(x) (torch `torch.erf`, ONNX Erf).
    case erf
    /// √x; NaN for x < 0 (torch `torch.sqrt`, ONNX Sqrt).
    case sqrt
    /// eˣ (torch `torch.exp`, ONNX Exp).
    case exp
    /// The natural logarithm; −∞ at 0, NaN below (torch `torch.log`, ONNX Log).
    case log
    /// −x (torch `torch.neg`, ONNX Neg).
    case neg
    /// |x| (torch `torch.abs`, ONNX Abs).
    case abs
    /// 1/x; ±∞ at ±0 (torch `torch.reciprocal`, ONNX Reciprocal).
    case reciprocal

    /// Whether a convolution can apply the op in its output pass (``GEMMEpilogue/op``): every
    /// op with a vector form (all but the exact, erf GELU).
    var fusable: Bool {
        switch self {
        case .gelu(let approximate): return approximate
        case .erf, .exp, .log: return false
        default: return true
        }
    }

    /// The op's name in messages, e.g. `hardsigmoid(alpha: 0.2, beta: 0.5)`.
    var name: String {
        switch self {
        case .sigmoid: "sigmoid"
        case .silu: "silu"
        case .hardswish: "hardswish"
        case .hardsigmoid(let a, let b): "hardsigmoid(alpha: \(a), beta: \(b))"
        case .clip(let lo, let hi): "clip(min: \(lo), max: \(hi))"
        case .leakyReLU(let a): "leakyReLU(alpha: \(a))"
        case .gelu(let t): "gelu(tanh: \(t))"
        case .erf: "erf"
        case .sqrt: "sqrt"
        case .exp: "exp"
        case .log: "log"
        case .neg: "neg"
        case .abs: "abs"
        case .reciprocal: "reciprocal"
        }
    }

    /// Fails when a parameter is out of its domain; `op` names the public function.
    func validate(_ op: String) throws {
        switch self {
        case .sigmoid, .silu, .hardswish, .gelu, .erf, .sqrt, .exp, .log, .neg, .abs, .reciprocal:
            return
        case .hardsigmoid(let alpha, let beta):
            try LayerChecks.finite(alpha, "\(op) hardsigmoid", "alpha")
            try LayerChecks.finite(beta, "\(op) hardsigmoid", "beta")
        case .clip(let lo, let hi):
            guard !lo.isNaN && !hi.isNaN else {
                throw SwiftCNNError.invalidArgument("\(op) clip: min and max must not be NaN; got min \(lo), max \(hi)")
            }
            guard lo <= hi else {
                throw SwiftCNNError.invalidArgument("\(op) clip: min must not exceed max; got min \(lo), max \(hi)")
            }
        case .leakyReLU(let alpha):
            try LayerChecks.finite(alpha, "\(op) leakyReLU", "alpha")
        }
    }
}

/// Applies `op` to every element of `x` (any shape; the output has x's shape).
///
/// Runs 16-lane SIMD kernels over the threads (the exact GELU, erf, exp and log run the
/// reference's scalar formulas, in parallel); the plain reference loops under
/// ``KernelDispatch/forceReference``. hardswish, hardsigmoid, clip, leakyReLU, erf, sqrt,
/// exp, log, neg, abs and reciprocal are bitwise equal either way; sigmoid, SiLU and the tanh
/// GELU agree to a few ulp.
/// - Throws: ``SwiftCNNError`` (`.invalidArgument`) for a bad parameter (see ``UnaryOp``),
///   or when memory runs out.
public func unary(_ op: UnaryOp, _ x: Tensor) throws -> Tensor {
    try op.validate("unary")
    return try layerOutput(x.shape, reading: x) {
        if KernelDispatch.forceReference { Reference.unary(op, $0, $1, count: x.count) }
        else { Optimized.unary(op, $0, $1, count: x.count) }
    }
}

/// The backward twin of ``unary(_:_:)``: dL/dx from the forward's **input** x and dL/dy.
///
/// At the kinks and for NaN inputs it follows PyTorch's backward kernels:
/// - clip: the gradient passes where min < x < max (strictly, like torch's hardtanh, so
///   ReLU6 gives 0 at x = 0 and x = 6), and for NaN; elsewhere 0.
/// - leakyReLU: g for x > 0, α·g otherwise (α·g at x = 0 and for NaN).
/// - hardswish: 0 for x ≤ −3, g·(x/3 + ½) for −3 < x < 3, g for x ≥ 3 and for NaN.
/// - hardsigmoid: α·g where α·x + β lies strictly inside (0, 1), i.e. x strictly between
///   −β/α and (1 − β)/α (−3 and 3 for torch's parameters), else 0 (also for NaN).
/// - sigmoid, SiLU, GELU: the derivative's formula (NaN in, NaN out).
/// - erf: g · 2/√π · e^(−x²); exp: g · eˣ; neg: −g.
/// - sqrt: g / (2√x), as torch's `grad / (2 * result)`: +∞·sign(g) at x = 0 (NaN when g is
///   0 there), NaN for x < 0.
/// - log: g / x (±∞ at ±0; for x < 0, where the forward is NaN, still g / x, as torch).
/// - abs: g · sign(x) with sign 0 at ±0 and for NaN (torch's `sgn`).
/// - reciprocal: −g · (1/x)², as torch's `-grad * result * result`.
/// - Parameters:
///   - input: the forward's input x (any shape).
///   - gradOutput: dL/dy, x's shape.
/// - Returns: dL/dx, x's shape.
/// - Throws: ``SwiftCNNError`` for a bad parameter, shapes that differ, or memory running out.
public func unaryBackward(_ op: UnaryOp, input: Tensor, gradOutput: Tensor) throws -> Tensor {
    try op.validate("unaryBackward")
    try checkSameShape("unaryBackward \(op.name)", output: input, gradOutput: gradOutput, outputName: "input")
    let reference = KernelDispatch.forceReference
    return try layerOutput(input.shape, reading: input) { xp, dxp in
        gradOutput.withUnsafePointer { gp in
            if reference { Reference.unaryBackward(op, input: xp, gradOutput: gp, dxp, count: input.count) }
            else { Optimized.unaryBackward(op, input: xp, gradOutput: gp, dxp, count: input.count) }
        }
    }
}
