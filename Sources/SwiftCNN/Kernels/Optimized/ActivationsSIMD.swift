#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// Elementwise kernels with SIMD16<Float>: relu, tanh, sigmoid, LeNet's scaled tanh and add.
// Same contracts as their ``Reference`` twins, except that y MAY alias x (in place): every
// element is read before it is written. Long arrays are split over ``Threading``'s threads
// in blocks of ``Optimized/elementwiseBlock`` elements; each element's result does not depend
// on the split. relu and add are bitwise equal to the reference; tanh, sigmoid and the
// scaled tanh use ``Optimized/tanh16(_:)`` (TanhSIMD.swift) and the polynomial exp below
// (a few ulp; the tests hold them to 1e-6 absolute + 1e-6 relative of the C library's tanhf/expf).

extension Optimized {
    /// Elements per parallel item of the elementwise kernels.
    static let elementwiseBlock = 1 << 15
    /// Below this many elements an elementwise kernel stays on the calling thread.
    static let elementwiseParallelThreshold = 1 << 17

    /// Below this many elements a memory-bound elementwise kernel (relu, add) stays on the
    /// calling thread: one core streams them about as fast as two, and the hand-off costs.
    static let memoryBoundParallelThreshold = 1 << 22

    /// Runs `body(start, count)` over `0..<count` in vector-friendly chunks, in parallel when
    /// longer than `threshold`.
    @inline(__always)
    static func elementwiseChunks(_ count: Int, threshold: Int = elementwiseParallelThreshold, _ body: (Int, Int) -> Void) {
        if count < threshold || Threading.numThreads < 2 {
            body(0, count)
            return
        }
        let items = (count + elementwiseBlock - 1) / elementwiseBlock
        Threading.parallelFor(items) { i in
            let s = i * elementwiseBlock
            body(s, min(elementwiseBlock, count - s))
        }
    }

    /// Applies `F.apply` to `x[0..<count]` into `y` (y may be x): whole vectors, then the tail
    /// through a zero-padded vector, so the tail gets the same arithmetic. (A type rather
    /// than a closure, so that the specialized loop calls nothing per vector.)
    @inline(__always)
    static func mapSIMD<F: VectorFunction>(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int,
                                           threshold: Int = elementwiseParallelThreshold, _ function: F.Type) {
        @inline(__always) func f(_ v: SIMD16<Float>) -> SIMD16<Float> { F.apply(v) }
        elementwiseChunks(count, threshold: threshold) { start, n in
            let src = UnsafeRawPointer(x + start), dst = UnsafeMutableRawPointer(y + start)
            var i = 0
            while i + 16 <= n {
                dst.storeBytes(of: f(src.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)),
                               toByteOffset: i * 4, as: SIMD16<Float>.self)
                i += 16
            }
            if i < n {
                var v = SIMD16<Float>()
                for j in 0..<(n - i) { v[j] = x[start + i + j] }
                let r = f(v)
                for j in 0..<(n - i) { y[start + i + j] = r[j] }
            }
        }
    }

    /// y = max(x, 0), NaN kept (bitwise equal to the reference).
    static func relu(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        mapSIMD(x, y, count: count, threshold: memoryBoundParallelThreshold, ReLUFunction.self)
    }

    /// y = tanh(x).
    static func tanh(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        mapSIMD(x, y, count: count, TanhFunction.self)
    }

    /// y = 1 / (1 + e^(−x)), no overflow for large |x|.
    static func sigmoid(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        mapSIMD(x, y, count: count, SigmoidFunction.self)
    }

    /// y = 1.7159 · tanh(x · Float(2/3)) (LeNet-5's squashing function, the reference's order).
    static func scaledTanh(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        mapSIMD(x, y, count: count, ScaledTanhFunction.self)
    }

    /// y = a + b (bitwise equal to the reference); y may alias a or b.
    static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        elementwiseChunks(count, threshold: memoryBoundParallelThreshold) { start, n in
            let pa = UnsafeRawPointer(a + start), pb = UnsafeRawPointer(b + start)
            let dst = UnsafeMutableRawPointer(y + start)
            var i = 0
            while i + 16 <= n {
                let o = i * 4
                dst.storeBytes(of: pa.loadUnaligned(fromByteOffset: o, as: SIMD16<Float>.self)
                                   + pb.loadUnaligned(fromByteOffset: o, as: SIMD16<Float>.self),
                               toByteOffset: o, as: SIMD16<Float>.self)
                i += 16
            }
            while i < n {
                y[start + i] = a[start + i] + b[start + i]
                i += 1
            }
        }
    }

    /// y = relu(a + b) (the unfused residual join); y may alias a or b.
    static func addReLU(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        add(a, b, y, count: count)
        relu(UnsafePointer(y), y, count: count)
    }

    // MARK: Vector math

    /// e^x per lane (Cephes' expf: x = n·ln2 + r, a degree-6 polynomial for e^r, 2^n as two
    /// normal exponent-bit factors, so that n = 128 and the subnormal results down to n = −150
    /// work); about 1 ulp. +∞ above 88.7228, 0 below −104, NaN kept.
    @inline(always)
    static func expSIMD(_ x: SIMD16<Float>) -> SIMD16<Float> {
        typealias V = SIMD16<Float>
        let hi: Float = 88.7228391, lo: Float = -104
        var v = x.replacing(with: hi, where: x .> hi)
        v.replace(with: lo, where: x .< lo)
        // Round to nearest (even) by adding 1.5·2²³: the sum's low mantissa bits hold n.
        let magic: Float = 12582912
        let t = v * 1.44269504088896341 + magic
        let fx = t - magic
        v = v - fx * 0.693359375
        v = v + fx * 2.12194440e-4
        let z = v * v
        var p = V(repeating: 1.9875691500E-4)
        p = p * v + 1.3981999507E-3
        p = p * v + 8.3334519073E-3
        p = p * v + 4.1665795894E-2
        p = p * v + 1.6666665459E-1
        p = p * v + 5.0000001201E-1
        p = p * z + v + 1
        let n = unsafeBitCast(t, to: SIMD16<Int32>.self) &- 0x4B40_0000
        let n1 = n &>> 1, n2 = n &- n1
        let s1 = unsafeBitCast((n1 &+ 127) &<< 23, to: V.self)
        let s2 = unsafeBitCast((n2 &+ 127) &<< 23, to: V.self)
        var r = p * s1 * s2
        r.replace(with: .infinity, where: x .> hi)
        r.replace(with: 0, where: x .< lo)
        r.replace(with: x, where: x .!= x)
        return r
    }

    /// The logistic sigmoid per lane: s = 1/(1 + e^(−|x|)), then s for x ≥ 0 and e^(−|x|)·s below.
    @inline(always)
    static func sigmoidSIMD(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let a = x.replacing(with: -x, where: x .< 0)
        let e = expSIMD(-a)
        let s = 1 / (1 + e)
        return s.replacing(with: e * s, where: x .< 0)
    }
}

/// A function of 16 lanes for ``Optimized/mapSIMD(_:_:count:threshold:_:)``.
protocol VectorFunction {
    static func apply(_ v: SIMD16<Float>) -> SIMD16<Float>
}

/// max(v, 0), NaN kept.
enum ReLUFunction: VectorFunction {
    @inline(always) static func apply(_ v: SIMD16<Float>) -> SIMD16<Float> { v.replacing(with: 0, where: v .< 0) }
}

/// tanh.
enum TanhFunction: VectorFunction {
    @inline(always) static func apply(_ v: SIMD16<Float>) -> SIMD16<Float> { Optimized.tanh16(v) }
}

/// The logistic sigmoid.
enum SigmoidFunction: VectorFunction {
    @inline(always) static func apply(_ v: SIMD16<Float>) -> SIMD16<Float> { Optimized.sigmoidSIMD(v) }
}

/// 1.7159 · tanh(v · Float(2/3)).
enum ScaledTanhFunction: VectorFunction {
    @inline(always) static func apply(_ v: SIMD16<Float>) -> SIMD16<Float> { Optimized.tanh16(v * Float(2.0 / 3.0)) * 1.7159 }
}
