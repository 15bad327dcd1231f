#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// The elementwise ops of ``UnaryOp`` and their backward, one element at a time in Float
// (PyTorch's CPU formulas and operation order). x, y, g, dx: [count] (any tensor, flattened);
// outputs may not alias inputs. The op's parameters have been validated by the public op.

/// The scalar formulas of ``UnaryOp``, shared by the reference loops (and by the optimized
/// exact GELU, which has no vector form).
enum UnaryMath {
    /// √(2/π), the tanh-GELU's inner factor (torch's kBeta for approximate="tanh").
    static let sqrtTwoOverPi = Float(0.7978845608028654)
    /// 0.044715, the tanh-GELU's cubic coefficient.
    static let geluKappa: Float = 0.044715
    /// 1/√2.
    static let sqrtHalf = Float(0.7071067811865476)
    /// 1/√(2π), the normal density's factor.
    static let invSqrtTwoPi = Float(0.3989422804014327)

    /// 1 / (1 + e^(−v)) without overflow (as ``Reference/sigmoid(_:_:count:)``).
    @inline(__always)
    static func sigmoid(_ v: Float) -> Float {
        if v >= 0 { return 1 / (1 + expf(-v)) }
        let e = expf(v)
        return e / (1 + e)   // also NaN for NaN
    }

    /// The exact GELU: x · ½ · (1 + erf(x/√2)).
    @inline(__always)
    static func gelu(_ v: Float) -> Float { v * 0.5 * (1 + erff(v * sqrtHalf)) }

    /// The tanh GELU: ½ · x · (1 + tanh(√(2/π) · (x + 0.044715 x³))).
    @inline(__always)
    static func geluTanh(_ v: Float) -> Float {
        let inner = sqrtTwoOverPi * (v + geluKappa * (v * v * v))
        return 0.5 * v * (1 + tanhf(inner))
    }

    /// d gelu / dx · g = g · (Φ(x) + x · φ(x)).
    @inline(__always)
    static func geluGrad(_ v: Float, _ g: Float) -> Float {
        let cdf = 0.5 * (1 + erff(v * sqrtHalf))
        let pdf = invSqrtTwoPi * expf(v * v * -0.5)
        return g * (cdf + v * pdf)
    }

    /// d geluTanh / dx · g (torch's GeluBackward with approximate="tanh").
    @inline(__always)
    static func geluTanhGrad(_ v: Float, _ g: Float) -> Float {
        let sq = v * v
        let t = tanhf(sqrtTwoOverPi * (v + geluKappa * (sq * v)))
        let left = 0.5 * v, right = 1 + t
        let dLeft = 0.5 * right
        let dRight = left * (1 - t * t) * (sqrtTwoOverPi * (1 + 3 * geluKappa * sq))
        return g * (dLeft + dRight)
    }

    /// 2/√π, erf's derivative at 0.
    static let twoOverSqrtPi = Float(1.1283791670955126)

    /// d erf / dx · g = g · 2/√π · e^(−x²) (torch's erf backward).
    @inline(__always)
    static func erfGrad(_ v: Float, _ g: Float) -> Float { g * (twoOverSqrtPi * expf(-(v * v))) }

    /// d sqrt / dx · g = g / (2√x) (torch's `grad / (2 * result)`).
    @inline(__always)
    static func sqrtGrad(_ v: Float, _ g: Float) -> Float { g / (2 * v.squareRoot()) }

    /// d |x| / dx · g = g · sign(x), with sign 0 at ±0 and for NaN (torch's `grad * sgn(x)`).
    @inline(__always)
    static func absGrad(_ v: Float, _ g: Float) -> Float {
        v > 0 ? g : (v < 0 ? -g : 0)
    }

    /// d (1/x) / dx · g = −g · (1/x)² (torch's `-grad * result * result`).
    @inline(__always)
    static func reciprocalGrad(_ v: Float, _ g: Float) -> Float {
        let r = 1 / v
        return -g * (r * r)
    }

    /// The open interval of x where hardsigmoid's αx + β lies strictly inside (0, 1), as
    /// (−β/α, (1−β)/α) ordered by the sign of α; empty for α = 0. With torch's α = 1/6,
    /// β = 0.5 these round to exactly (−3, 3), torch's hardsigmoid_backward bounds.
    static func hardsigmoidInterval(alpha: Float, beta: Float) -> (lo: Float, hi: Float) {
        if alpha == 0 { return (0, 0) }
        let p = -beta / alpha, q = (1 - beta) / alpha
        return alpha > 0 ? (p, q) : (q, p)
    }
}

extension Reference {
    /// y[i] = op(x[i]) for every element.
    static func unary(_ op: UnaryOp, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        switch op {
        case .sigmoid:
            sigmoid(x, y, count: count)
        case .silu:
            for i in 0..<count { let v = x[i]; y[i] = v * UnaryMath.sigmoid(v) }
        case .hardswish:
            for i in 0..<count {
                let v = x[i]
                let t = v + 3
                let r: Float = t < 0 ? 0 : (t > 6 ? 6 : t)   // NaN stays NaN
                y[i] = v * r / 6
            }
        case .hardsigmoid(let alpha, let beta):
            for i in 0..<count {
                let t = alpha * x[i] + beta
                y[i] = t < 0 ? 0 : (t > 1 ? 1 : t)
            }
        case .clip(let lo, let hi):
            for i in 0..<count {
                let v = x[i]
                y[i] = v < lo ? lo : (v > hi ? hi : v)
            }
        case .leakyReLU(let alpha):
            for i in 0..<count {
                let v = x[i]
                y[i] = v > 0 ? v : v * alpha
            }
        case .gelu(let approximate):
            if approximate {
                for i in 0..<count { y[i] = UnaryMath.geluTanh(x[i]) }
            } else {
                for i in 0..<count { y[i] = UnaryMath.gelu(x[i]) }
            }
        case .erf: for i in 0..<count { y[i] = erff(x[i]) }
        case .sqrt: for i in 0..<count { y[i] = x[i].squareRoot() }
        case .exp: for i in 0..<count { y[i] = expf(x[i]) }
        case .log: for i in 0..<count { y[i] = logf(x[i]) }
        case .neg: for i in 0..<count { y[i] = -x[i] }
        case .abs: for i in 0..<count { y[i] = Swift.abs(x[i]) }
        case .reciprocal: for i in 0..<count { y[i] = 1 / x[i] }
        }
    }

    /// dx[i] = g[i] · op′(x[i]), from the forward's input x, with PyTorch's choices at the
    /// kinks and for NaN inputs (see ``unaryBackward(_:input:gradOutput:)``).
    static func unaryBackward(_ op: UnaryOp, input x: UnsafePointer<Float>, gradOutput g: UnsafePointer<Float>,
                              _ dx: UnsafeMutablePointer<Float>, count: Int) {
        switch op {
        case .sigmoid:
            for i in 0..<count {
                let s = UnaryMath.sigmoid(x[i])
                dx[i] = g[i] * (s * (1 - s))
            }
        case .silu:
            for i in 0..<count {
                let v = x[i], s = UnaryMath.sigmoid(v)
                dx[i] = g[i] * (s * (1 + v * (1 - s)))
            }
        case .hardswish:
            for i in 0..<count {
                let v = x[i]
                if v <= -3 { dx[i] = 0 }
                else if v < 3 { dx[i] = g[i] * (v / 3 + 0.5) }
                else { dx[i] = g[i] }   // also for NaN, as torch
            }
        case .hardsigmoid(let alpha, let beta):
            let (lo, hi) = UnaryMath.hardsigmoidInterval(alpha: alpha, beta: beta)
            for i in 0..<count {
                let v = x[i]
                dx[i] = (v > lo && v < hi) ? g[i] * alpha : 0
            }
        case .clip(let lo, let hi):
            for i in 0..<count {
                let v = x[i]
                dx[i] = (v <= lo || v >= hi) ? 0 : g[i]   // NaN passes the gradient, as torch's hardtanh
            }
        case .leakyReLU(let alpha):
            for i in 0..<count {
                dx[i] = x[i] > 0 ? g[i] : g[i] * alpha
            }
        case .gelu(let approximate):
            if approximate {
                for i in 0..<count { dx[i] = UnaryMath.geluTanhGrad(x[i], g[i]) }
            } else {
                for i in 0..<count { dx[i] = UnaryMath.geluGrad(x[i], g[i]) }
            }
        case .erf: for i in 0..<count { dx[i] = UnaryMath.erfGrad(x[i], g[i]) }
        case .sqrt: for i in 0..<count { dx[i] = UnaryMath.sqrtGrad(x[i], g[i]) }
        case .exp: for i in 0..<count { dx[i] = g[i] * expf(x[i]) }
        case .log: for i in 0..<count { dx[i] = g[i] / x[i] }
        case .neg: for i in 0..<count { dx[i] = -g[i] }
        case .abs: for i in 0..<count { dx[i] = UnaryMath.absGrad(x[i], g[i]) }
        case .reciprocal: for i in 0..<count { dx[i] = UnaryMath.reciprocalGrad(x[i], g[i]) }
        }
    }
}
