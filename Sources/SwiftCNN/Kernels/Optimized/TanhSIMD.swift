// tanh in 16-lane SIMD (the optimized twin of Reference.tanh, which calls the C library's
// tanhf one element at a time — a large share of a tanh network's training step).
//
// Cephes' tanhf scheme, vectorized:
//   |x| < 0.625:  tanh x = x + x·z·P(z), z = x², P of degree 4 (Cephes' minimax coefficients)
//   otherwise:    tanh |x| = 1 − 2 / (e^(2|x|) + 1), |x| clamped to 10 (tanh rounds to 1 in float32 from 9.01 on)
//                 e^y: n = round(y·log2 e), r = y − n·ln 2 (two-part ln 2), e^r by Cephes'
//                 degree-6 polynomial, times 2^n built from the exponent bits
//   the sign of x restored; NaN stays NaN.
// Accuracy: within 3 ulp of the correctly rounded tanh over the float range (tested against
// the float64 tanh), like the vectorized tanh PyTorch uses on CPU (SLEEF, 1 ulp class).
// Every element's value depends on that element only (the tail is padded into a full vector),
// so results do not depend on alignment, chunking or thread count.

extension Optimized {
    typealias F16 = SIMD16<Float>
    typealias U16 = SIMD16<UInt32>

    /// tanh of 16 lanes.
    @inline(__always)
    static func tanh16(_ x: F16) -> F16 {
        let bits = unsafeBitCast(x, to: U16.self)
        let sign = bits & U16(repeating: 0x8000_0000)
        let a = unsafeBitCast(bits & U16(repeating: 0x7FFF_FFFF), to: F16.self)   // |x| (NaN stays NaN)

        // Small: odd polynomial.
        let z = a * a
        var p = F16(repeating: -5.70498872745e-3)
        p = p * z + 2.06390887954e-2
        p = p * z - 5.37397155531e-2
        p = p * z + 1.33314422036e-1
        p = p * z - 3.33332819422e-1
        let small = (p * z) * a + a

        // Large: 1 − 2 / (e^(2a) + 1), a clamped to 10.
        let y = 2 * a.replacing(with: 10, where: .!(a .< 10))       // NaN → 20 here; restored below
        let magic = F16(repeating: 12_582_912)                        // 1.5·2^23: rounds to an integer
        let t = y * 1.44269504088896341 + magic
        let n = t - magic
        var r = y - n * 0.693359375
        r = r + n * 2.12194440e-4
        let r2 = r * r
        var q = F16(repeating: 1.9875691500e-4)
        q = q * r + 1.3981999507e-3
        q = q * r + 8.3334519073e-3
        q = q * r + 4.1665795894e-2
        q = q * r + 1.6666665459e-1
        q = q * r + 5.0000001201e-1
        let er = q * r2 + r + 1
        // 2^n: t's bit pattern is 0x4B400000 + n for the small integers n here.
        let nBits = unsafeBitCast(t, to: U16.self) &- U16(repeating: 0x4B40_0000)
        let scale = unsafeBitCast((nBits &+ U16(repeating: 127)) &<< U16(repeating: 23), to: F16.self)
        let e = er * scale
        let large = 1 - 2 / (e + 1)

        let magnitude = large.replacing(with: small, where: a .< 0.625)
        let signed = unsafeBitCast(unsafeBitCast(magnitude, to: U16.self) | sign, to: F16.self)
        return signed.replacing(with: x, where: x .!= x)
    }

    /// y[i] = tanh(x[i] · inputScale) · outputScale for i < count (float32 products; scales
    /// of 1 change nothing), 16 lanes at a time over the threads.
    static func tanh(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int,
                     inputScale: Float = 1, outputScale: Float = 1) {
        let si = F16(repeating: inputScale), so = F16(repeating: outputScale)
        let chunk = 16 * 1024
        let chunks = (count + chunk - 1) / chunk
        let rx = UnsafeRawPointer(x), ry = UnsafeMutableRawPointer(y)
        let body: (Int) -> Void = { c in
            let start = c * chunk, end = min(count, start + chunk)
            var i = start
            while i + 16 <= end {
                let v = rx.loadUnaligned(fromByteOffset: i * 4, as: F16.self)
                ry.storeBytes(of: tanh16(v * si) * so, toByteOffset: i * 4, as: F16.self)
                i += 16
            }
            if i < end {
                var v = F16(repeating: 0)
                for j in i..<end { v[j - i] = x[j] }
                let r = tanh16(v * si) * so
                for j in i..<end { y[j] = r[j - i] }
            }
        }
        if chunks <= 1 {
            if count > 0 { body(0) }
        } else {
            Threading.parallelFor(chunks, body)
        }
    }
}
