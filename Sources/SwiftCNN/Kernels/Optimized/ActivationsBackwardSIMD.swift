// Elementwise backward kernels in 16-lane SIMD (the optimized twins of
// ActivationsBackwardReference.swift): same formulas, same float operations per element,
// so they agree with the reference bit for bit.

extension Optimized {
    /// dx[i] = f(y[i], g[i]) for i < count: 16 lanes at a time (`vector`), then `scalar` on the tail.
    @inline(always)
    static func elementwiseBackward(
        _ y: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, count: Int,
        vector: (SIMD16<Float>, SIMD16<Float>) -> SIMD16<Float>, scalar: (Float, Float) -> Float
    ) {
        typealias V = SIMD16<Float>
        let ry = UnsafeRawPointer(y), rg = UnsafeRawPointer(g), rd = UnsafeMutableRawPointer(dx)
        var i = 0
        while i + 16 <= count {
            let v = vector(ry.loadUnaligned(fromByteOffset: i * 4, as: V.self), rg.loadUnaligned(fromByteOffset: i * 4, as: V.self))
            rd.storeBytes(of: v, toByteOffset: i * 4, as: V.self)
            i += 16
        }
        while i < count {
            dx[i] = scalar(y[i], g[i])
            i += 1
        }
    }

    /// dx = g where y > 0, else 0.
    static func reluBackward(output y: UnsafePointer<Float>, gradOutput g: UnsafePointer<Float>,
                             _ dx: UnsafeMutablePointer<Float>, count: Int) {
        elementwiseBackward(y, g, dx, count: count,
                            vector: { yv, gv in SIMD16<Float>(repeating: 0).replacing(with: gv, where: yv .> 0) },
                            scalar: { yv, gv in yv > 0 ? gv : 0 })
    }

    /// dx = g · (1 − y²).
    static func tanhBackward(output y: UnsafePointer<Float>, gradOutput g: UnsafePointer<Float>,
                             _ dx: UnsafeMutablePointer<Float>, count: Int) {
        elementwiseBackward(y, g, dx, count: count,
                            vector: { yv, gv in gv * (1 - yv * yv) },
                            scalar: { yv, gv in gv * (1 - yv * yv) })
    }

    /// dx = g · y · (1 − y).
    static func sigmoidBackward(output y: UnsafePointer<Float>, gradOutput g: UnsafePointer<Float>,
                                _ dx: UnsafeMutablePointer<Float>, count: Int) {
        elementwiseBackward(y, g, dx, count: count,
                            vector: { yv, gv in gv * (yv * (1 - yv)) },
                            scalar: { yv, gv in gv * (yv * (1 - yv)) })
    }
}

extension Optimized {
    /// z[i] = x[i] · y[i] for i < count (16 lanes at a time; exact float products, so the
    /// same as a scalar loop).
    static func multiply(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ z: UnsafeMutablePointer<Float>, count: Int) {
        elementwiseBackward(x, y, z, count: count, vector: { $0 * $1 }, scalar: { $0 * $1 })
    }
}
