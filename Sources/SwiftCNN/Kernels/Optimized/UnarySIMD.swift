#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// The ops of ``UnaryOp`` and their backward in SIMD16<Float> (the optimized twins of
// UnaryReference.swift). Same contracts, except that outputs MAY alias inputs (every
// element is read before it is written). Whole vectors first, then the tail through a
// zero-padded vector, so every element gets the same arithmetic wherever it sits; long
// arrays are split over the threads (``Optimized/elementwiseChunks(_:threshold:_:)``).
//
// hardswish, hardsigmoid, clip, leakyReLU, sqrt, neg, abs and reciprocal use the
// reference's float operations in the same order, so they are bitwise equal to it; sigmoid
// and SiLU use the polynomial ``Optimized/expSIMD(_:)`` and the tanh GELU
// ``Optimized/tanh16(_:)`` (a few ulp). The exact GELU, erf, exp and log (and their
// backward) have no vector form here: they run the reference's scalar formulas, in parallel.

/// A 16-lane forward function for ``Optimized/mapUnary(_:_:count:threshold:_:)``; a value,
/// so that it can carry an op's parameters into the specialized loop.
protocol UnaryVectorFunction {
    func callAsFunction(_ v: SIMD16<Float>) -> SIMD16<Float>
}

/// A 16-lane backward function dx = f(x, g) for ``Optimized/mapUnaryGrad(_:_:_:count:threshold:_:)``.
protocol UnaryGradVectorFunction {
    func callAsFunction(_ x: SIMD16<Float>, _ g: SIMD16<Float>) -> SIMD16<Float>
}

extension Optimized {
    /// y = f(x) over `count` elements (y may be x).
    @inline(__always)
    static func mapUnary<F: UnaryVectorFunction>(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int,
                                                 threshold: Int, _ f: F) {
        typealias V = SIMD16<Float>
        elementwiseChunks(count, threshold: threshold) { start, n in
            let src = UnsafeRawPointer(x + start), dst = UnsafeMutableRawPointer(y + start)
            var i = 0
            while i + 16 <= n {
                dst.storeBytes(of: f(src.loadUnaligned(fromByteOffset: i * 4, as: V.self)), toByteOffset: i * 4, as: V.self)
                i += 16
            }
            if i < n {
                var v = V()
                for j in 0..<(n - i) { v[j] = x[start + i + j] }
                let r = f(v)
                for j in 0..<(n - i) { y[start + i + j] = r[j] }
            }
        }
    }

    /// dx = f(x, g) over `count` elements (dx may be x or g).
    @inline(__always)
    static func mapUnaryGrad<F: UnaryGradVectorFunction>(_ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>,
                                                         _ dx: UnsafeMutablePointer<Float>, count: Int,
                                                         threshold: Int, _ f: F) {
        typealias V = SIMD16<Float>
        elementwiseChunks(count, threshold: threshold) { start, n in
            let px = UnsafeRawPointer(x + start), pg = UnsafeRawPointer(g + start)
            let dst = UnsafeMutableRawPointer(dx + start)
            var i = 0
            while i + 16 <= n {
                let o = i * 4
                dst.storeBytes(of: f(px.loadUnaligned(fromByteOffset: o, as: V.self), pg.loadUnaligned(fromByteOffset: o, as: V.self)),
                               toByteOffset: o, as: V.self)
                i += 16
            }
            if i < n {
                var vx = V(), vg = V()
                for j in 0..<(n - i) { vx[j] = x[start + i + j]; vg[j] = g[start + i + j] }
                let r = f(vx, vg)
                for j in 0..<(n - i) { dx[start + i + j] = r[j] }
            }
        }
    }

    /// y[i] = op(x[i]) (see ``Reference/unary(_:_:_:count:)``).
    static func unary(_ op: UnaryOp, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        let cheap = memoryBoundParallelThreshold
        switch op {
        case .sigmoid:
            sigmoid(x, y, count: count)
        case .silu:
            mapUnary(x, y, count: count, threshold: elementwiseParallelThreshold, SiLUVector())
        case .hardswish:
            mapUnary(x, y, count: count, threshold: cheap, HardswishVector())
        case .hardsigmoid(let alpha, let beta):
            mapUnary(x, y, count: count, threshold: cheap, HardsigmoidVector(alpha: alpha, beta: beta))
        case .clip(let lo, let hi):
            mapUnary(x, y, count: count, threshold: cheap, ClipVector(lo: lo, hi: hi))
        case .leakyReLU(let alpha):
            mapUnary(x, y, count: count, threshold: cheap, LeakyReLUVector(alpha: alpha))
        case .gelu(let approximate):
            if approximate {
                mapUnary(x, y, count: count, threshold: elementwiseParallelThreshold, GeluTanhVector())
            } else {
                elementwiseChunks(count) { start, n in
                    for i in start..<(start + n) { y[i] = UnaryMath.gelu(x[i]) }
                }
            }
        case .erf:
            elementwiseChunks(count) { start, n in for i in start..<(start + n) { y[i] = erff(x[i]) } }
        case .exp:
            elementwiseChunks(count) { start, n in for i in start..<(start + n) { y[i] = expf(x[i]) } }
        case .log:
            elementwiseChunks(count) { start, n in for i in start..<(start + n) { y[i] = logf(x[i]) } }
        case .sqrt:
            mapUnary(x, y, count: count, threshold: cheap, SqrtVector())
        case .neg:
            mapUnary(x, y, count: count, threshold: cheap, NegVector())
        case .abs:
            mapUnary(x, y, count: count, threshold: cheap, AbsVector())
        case .reciprocal:
            mapUnary(x, y, count: count, threshold: cheap, ReciprocalVector())
        }
    }

    /// op on 16 lanes, the function ``unary(_:_:_:count:)`` applies to each vector (for
    /// the convolutions' fused output pass: bitwise the same as the separate step). Only for
    /// ``UnaryOp/fusable`` ops; others come back unchanged.
    @inline(never)
    static func unaryVector(_ op: UnaryOp, _ v: SIMD16<Float>) -> SIMD16<Float> {
        switch op {
        case .sigmoid: return sigmoidSIMD(v)
        case .silu: return SiLUVector()(v)
        case .hardswish: return HardswishVector()(v)
        case .hardsigmoid(let alpha, let beta): return HardsigmoidVector(alpha: alpha, beta: beta)(v)
        case .clip(let lo, let hi): return ClipVector(lo: lo, hi: hi)(v)
        case .leakyReLU(let alpha): return LeakyReLUVector(alpha: alpha)(v)
        case .gelu(let approximate): return approximate ? GeluTanhVector()(v) : v
        case .sqrt: return SqrtVector()(v)
        case .neg: return NegVector()(v)
        case .abs: return AbsVector()(v)
        case .reciprocal: return ReciprocalVector()(v)
        case .erf, .exp, .log: return v
        }
    }

    /// ``unaryVector(_:_:)`` of one value (the lanes are independent: the same result as in a vector).
    @inline(never)
    static func unaryScalar(_ op: UnaryOp, _ v: Float) -> Float {
        unaryVector(op, SIMD16(repeating: v))[0]
    }

    /// dx[i] = g[i] · op′(x[i]) (see ``Reference/unaryBackward(_:input:gradOutput:_:count:)``).
    static func unaryBackward(_ op: UnaryOp, input x: UnsafePointer<Float>, gradOutput g: UnsafePointer<Float>,
                              _ dx: UnsafeMutablePointer<Float>, count: Int) {
        let cheap = memoryBoundParallelThreshold
        switch op {
        case .sigmoid:
            mapUnaryGrad(x, g, dx, count: count, threshold: elementwiseParallelThreshold, SigmoidGradVector())
        case .silu:
            mapUnaryGrad(x, g, dx, count: count, threshold: elementwiseParallelThreshold, SiLUGradVector())
        case .hardswish:
            mapUnaryGrad(x, g, dx, count: count, threshold: cheap, HardswishGradVector())
        case .hardsigmoid(let alpha, let beta):
            let (lo, hi) = UnaryMath.hardsigmoidInterval(alpha: alpha, beta: beta)
            mapUnaryGrad(x, g, dx, count: count, threshold: cheap, HardsigmoidGradVector(alpha: alpha, lo: lo, hi: hi))
        case .clip(let lo, let hi):
            mapUnaryGrad(x, g, dx, count: count, threshold: cheap, ClipGradVector(lo: lo, hi: hi))
        case .leakyReLU(let alpha):
            mapUnaryGrad(x, g, dx, count: count, threshold: cheap, LeakyReLUGradVector(alpha: alpha))
        case .gelu(let approximate):
            elementwiseChunks(count) { start, n in
                if approximate {
                    for i in start..<(start + n) { dx[i] = UnaryMath.geluTanhGrad(x[i], g[i]) }
                } else {
                    for i in start..<(start + n) { dx[i] = UnaryMath.geluGrad(x[i], g[i]) }
                }
            }
        case .erf:
            elementwiseChunks(count) { start, n in
                for i in start..<(start + n) { dx[i] = UnaryMath.erfGrad(x[i], g[i]) }
            }
        case .exp:
            elementwiseChunks(count) { start, n in
                for i in start..<(start + n) { dx[i] = g[i] * expf(x[i]) }
            }
        case .sqrt:
            mapUnaryGrad(x, g, dx, count: count, threshold: cheap, SqrtGradVector())
        case .log:
            mapUnaryGrad(x, g, dx, count: count, threshold: cheap, LogGradVector())
        case .neg:
            mapUnaryGrad(x, g, dx, count: count, threshold: cheap, NegGradVector())
        case .abs:
            mapUnaryGrad(x, g, dx, count: count, threshold: cheap, AbsGradVector())
        case .reciprocal:
            mapUnaryGrad(x, g, dx, count: count, threshold: cheap, ReciprocalGradVector())
        }
    }
}

// MARK: - Forward functions

/// x · sigmoid(x).
struct SiLUVector: UnaryVectorFunction {
    @inline(always) func callAsFunction(_ v: SIMD16<Float>) -> SIMD16<Float> { v * Optimized.sigmoidSIMD(v) }
}

/// x · clamp(x + 3, 0, 6) / 6 (NaN kept).
struct HardswishVector: UnaryVectorFunction {
    @inline(always) func callAsFunction(_ v: SIMD16<Float>) -> SIMD16<Float> {
        var t = v + 3
        t.replace(with: 0, where: t .< 0)
        t.replace(with: 6, where: t .> 6)
        return v * t / 6
    }
}

/// clamp(αx + β, 0, 1) (NaN kept).
struct HardsigmoidVector: UnaryVectorFunction {
    let alpha: Float, beta: Float
    @inline(always) func callAsFunction(_ v: SIMD16<Float>) -> SIMD16<Float> {
        var t = alpha * v + beta
        t.replace(with: 0, where: t .< 0)
        t.replace(with: 1, where: t .> 1)
        return t
    }
}

/// clamp(x, lo, hi) (NaN kept).
struct ClipVector: UnaryVectorFunction {
    let lo: Float, hi: Float
    @inline(always) func callAsFunction(_ v: SIMD16<Float>) -> SIMD16<Float> {
        var t = v.replacing(with: lo, where: v .< lo)
        t.replace(with: hi, where: v .> hi)
        return t
    }
}

/// x > 0 ? x : αx.
struct LeakyReLUVector: UnaryVectorFunction {
    let alpha: Float
    @inline(always) func callAsFunction(_ v: SIMD16<Float>) -> SIMD16<Float> {
        (v * alpha).replacing(with: v, where: v .> 0)
    }
}

/// ½ · x · (1 + tanh(√(2/π) · (x + 0.044715 x³))).
struct GeluTanhVector: UnaryVectorFunction {
    @inline(always) func callAsFunction(_ v: SIMD16<Float>) -> SIMD16<Float> {
        let inner = UnaryMath.sqrtTwoOverPi * (v + UnaryMath.geluKappa * (v * v * v))
        return 0.5 * v * (1 + Optimized.tanh16(inner))
    }
}

/// √x (IEEE square root: bitwise the scalar's).
struct SqrtVector: UnaryVectorFunction {
    @inline(always) func callAsFunction(_ v: SIMD16<Float>) -> SIMD16<Float> { v.squareRoot() }
}

/// −x: the sign bit flipped, as the scalar negation (the SIMD prefix − is 0 − x, which
/// gives +0 for +0).
struct NegVector: UnaryVectorFunction {
    @inline(always) func callAsFunction(_ v: SIMD16<Float>) -> SIMD16<Float> { Optimized.flipSign(v) }
}

/// |x| (the sign bit cleared: NaN stays NaN).
struct AbsVector: UnaryVectorFunction {
    @inline(always) func callAsFunction(_ v: SIMD16<Float>) -> SIMD16<Float> {
        let bits = unsafeBitCast(v, to: SIMD16<UInt32>.self) & SIMD16<UInt32>(repeating: 0x7FFF_FFFF)
        return unsafeBitCast(bits, to: SIMD16<Float>.self)
    }
}

/// 1/x.
struct ReciprocalVector: UnaryVectorFunction {
    @inline(always) func callAsFunction(_ v: SIMD16<Float>) -> SIMD16<Float> { 1 / v }
}

// MARK: - Backward functions

/// g / (2√x).
struct SqrtGradVector: UnaryGradVectorFunction {
    @inline(always) func callAsFunction(_ x: SIMD16<Float>, _ g: SIMD16<Float>) -> SIMD16<Float> { g / (2 * x.squareRoot()) }
}

/// g / x.
struct LogGradVector: UnaryGradVectorFunction {
    @inline(always) func callAsFunction(_ x: SIMD16<Float>, _ g: SIMD16<Float>) -> SIMD16<Float> { g / x }
}

/// −g (the sign bit flipped).
struct NegGradVector: UnaryGradVectorFunction {
    @inline(always) func callAsFunction(_ x: SIMD16<Float>, _ g: SIMD16<Float>) -> SIMD16<Float> { Optimized.flipSign(g) }
}

extension Optimized {
    /// Every lane with its sign bit flipped (exactly the scalar unary minus).
    @inline(__always)
    static func flipSign(_ v: SIMD16<Float>) -> SIMD16<Float> {
        unsafeBitCast(unsafeBitCast(v, to: SIMD16<UInt32>.self) ^ SIMD16<UInt32>(repeating: 0x8000_0000), to: SIMD16<Float>.self)
    }
}

/// g · sign(x): g where x > 0, −g where x < 0, else 0 (±0 and NaN).
struct AbsGradVector: UnaryGradVectorFunction {
    @inline(always) func callAsFunction(_ x: SIMD16<Float>, _ g: SIMD16<Float>) -> SIMD16<Float> {
        var r = SIMD16<Float>()
        r.replace(with: g, where: x .> 0)
        r.replace(with: Optimized.flipSign(g), where: x .< 0)
        return r
    }
}

/// −g · (1/x)².
struct ReciprocalGradVector: UnaryGradVectorFunction {
    @inline(always) func callAsFunction(_ x: SIMD16<Float>, _ g: SIMD16<Float>) -> SIMD16<Float> {
        let r = 1 / x
        return Optimized.flipSign(g) * (r * r)
    }
}

/// g · s(1 − s), s = sigmoid(x).
struct SigmoidGradVector: UnaryGradVectorFunction {
    @inline(always) func callAsFunction(_ x: SIMD16<Float>, _ g: SIMD16<Float>) -> SIMD16<Float> {
        let s = Optimized.sigmoidSIMD(x)
        return g * (s * (1 - s))
    }
}

/// g · s(1 + x(1 − s)), s = sigmoid(x).
struct SiLUGradVector: UnaryGradVectorFunction {
    @inline(always) func callAsFunction(_ x: SIMD16<Float>, _ g: SIMD16<Float>) -> SIMD16<Float> {
        let s = Optimized.sigmoidSIMD(x)
        return g * (s * (1 + x * (1 - s)))
    }
}

/// 0 for x ≤ −3, g · (x/3 + ½) for x < 3, else g (NaN included).
struct HardswishGradVector: UnaryGradVectorFunction {
    @inline(always) func callAsFunction(_ x: SIMD16<Float>, _ g: SIMD16<Float>) -> SIMD16<Float> {
        var r = g
        r.replace(with: g * (x / 3 + 0.5), where: x .< 3)
        r.replace(with: 0, where: x .<= -3)
        return r
    }
}

/// g · α strictly inside (lo, hi), else 0.
struct HardsigmoidGradVector: UnaryGradVectorFunction {
    let alpha: Float, lo: Float, hi: Float
    @inline(always) func callAsFunction(_ x: SIMD16<Float>, _ g: SIMD16<Float>) -> SIMD16<Float> {
        SIMD16<Float>(repeating: 0).replacing(with: g * alpha, where: (x .> lo) .& (x .< hi))
    }
}

/// 0 where x ≤ lo or x ≥ hi, else g (NaN passes g).
struct ClipGradVector: UnaryGradVectorFunction {
    let lo: Float, hi: Float
    @inline(always) func callAsFunction(_ x: SIMD16<Float>, _ g: SIMD16<Float>) -> SIMD16<Float> {
        g.replacing(with: 0, where: (x .<= lo) .| (x .>= hi))
    }
}

/// g where x > 0, else αg.
struct LeakyReLUGradVector: UnaryGradVectorFunction {
    let alpha: Float
    @inline(always) func callAsFunction(_ x: SIMD16<Float>, _ g: SIMD16<Float>) -> SIMD16<Float> {
        (g * alpha).replacing(with: g, where: x .> 0)
    }
}
