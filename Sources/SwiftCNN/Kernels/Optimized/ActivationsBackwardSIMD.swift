// Elementwise backward kernels in 16-lane SIMD (the optimized twins of
// ActivationsBackwardReference.swift): same formulas, same float operations per element,
// so they agree with the reference bit for bit.

/// An elementwise function of two floats, in 16-lane vectors and one element at a time, with
/// the same float operations per element in both. A struct (values it needs as stored
/// properties) rather than a closure: a closure passed to a loop was still called once per
/// vector after inlining, its body in 4-lane pieces; a generic argument is specialized and its
/// `@inline(always)` methods inlined into the loop.
protocol BinaryVectorFunction {
    func vector(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float>
    func scalar(_ a: Float, _ b: Float) -> Float
}

/// g where y > 0, else 0.
struct ReLUBackwardFunction: BinaryVectorFunction {
    @inline(always) func vector(_ y: SIMD16<Float>, _ g: SIMD16<Float>) -> SIMD16<Float> {
        SIMD16<Float>(repeating: 0).replacing(with: g, where: y .> 0)
    }
    @inline(always) func scalar(_ y: Float, _ g: Float) -> Float { y > 0 ? g : 0 }
}

/// g · (1 − y²).
struct TanhBackwardFunction: BinaryVectorFunction {
    @inline(always) func vector(_ y: SIMD16<Float>, _ g: SIMD16<Float>) -> SIMD16<Float> { g * (1 - y * y) }
    @inline(always) func scalar(_ y: Float, _ g: Float) -> Float { g * (1 - y * y) }
}

/// g · (y · (1 − y)).
struct SigmoidBackwardFunction: BinaryVectorFunction {
    @inline(always) func vector(_ y: SIMD16<Float>, _ g: SIMD16<Float>) -> SIMD16<Float> { g * (y * (1 - y)) }
    @inline(always) func scalar(_ y: Float, _ g: Float) -> Float { g * (y * (1 - y)) }
}

/// a · b.
struct ProductFunction: BinaryVectorFunction {
    @inline(always) func vector(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> { a * b }
    @inline(always) func scalar(_ a: Float, _ b: Float) -> Float { a * b }
}

extension Optimized {
    /// dx[i] = f(y[i], g[i]) for i < count: 16 lanes at a time (`f.vector`), then `f.scalar` on the tail.
    @inline(always)
    static func elementwiseBackward<F: BinaryVectorFunction>(
        _ y: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, count: Int, _ f: F
    ) {
        typealias V = SIMD16<Float>
        let ry = UnsafeRawPointer(y), rg = UnsafeRawPointer(g), rd = UnsafeMutableRawPointer(dx)
        var i = 0
        while i + 16 <= count {
            let v = f.vector(ry.loadUnaligned(fromByteOffset: i * 4, as: V.self), rg.loadUnaligned(fromByteOffset: i * 4, as: V.self))
            rd.storeBytes(of: v, toByteOffset: i * 4, as: V.self)
            i += 16
        }
        while i < count {
            dx[i] = f.scalar(y[i], g[i])
            i += 1
        }
    }

    /// dx = g where y > 0, else 0.
    static func reluBackward(output y: UnsafePointer<Float>, gradOutput g: UnsafePointer<Float>,
                             _ dx: UnsafeMutablePointer<Float>, count: Int) {
        elementwiseBackward(y, g, dx, count: count, ReLUBackwardFunction())
    }

    /// dx = g · (1 − y²).
    static func tanhBackward(output y: UnsafePointer<Float>, gradOutput g: UnsafePointer<Float>,
                             _ dx: UnsafeMutablePointer<Float>, count: Int) {
        elementwiseBackward(y, g, dx, count: count, TanhBackwardFunction())
    }

    /// dx = g · y · (1 − y).
    static func sigmoidBackward(output y: UnsafePointer<Float>, gradOutput g: UnsafePointer<Float>,
                                _ dx: UnsafeMutablePointer<Float>, count: Int) {
        elementwiseBackward(y, g, dx, count: count, SigmoidBackwardFunction())
    }
}

extension Optimized {
    /// z[i] = x[i] · y[i] for i < count (16 lanes at a time; exact float products, so the
    /// same as a scalar loop).
    static func multiply(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ z: UnsafeMutablePointer<Float>, count: Int) {
        elementwiseBackward(x, y, z, count: count, ProductFunction())
    }
}
