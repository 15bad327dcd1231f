// tanh in 16-lane SIMD: the one vector tanh of the library (the optimized twin of
// Reference.tanh, which calls the C library's tanhf one element at a time). The public
// `tanh`, LeNet-5's scaled tanh and the compiled forward's tanh steps all run it through
// ``Optimized/tanh(_:_:count:)`` / ``Optimized/scaledTanh(_:_:count:)`` (ActivationsSIMD.swift).
//
// Cephes' tanhf scheme, vectorized:
//   |x| < 0.625:  tanh x = x + x·z·P(z), z = x², P of degree 4 (Cephes' minimax coefficients)
//   otherwise:    tanh |x| = 1 − 2 / (e^(2|x|) + 1), |x| clamped to 10 (tanh rounds to 1 in float32 from 9.01 on)
//                 e^y by ``Optimized/expSIMD(_:)`` (the exp the sigmoid and softmax use too)
//   the sign of x restored; NaN stays NaN.
// Accuracy: within 3 ulp of the correctly rounded tanh over the float range (tested against
// the float64 tanh), like the vectorized tanh PyTorch uses on CPU (SLEEF, 1 ulp class).
// Every element's value depends on that element only, so results do not depend on
// alignment, chunking or thread count.

extension Optimized {
    typealias F16 = SIMD16<Float>
    typealias U16 = SIMD16<UInt32>

    /// tanh of 16 lanes.
    @inline(always)
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
        let large = 1 - 2 / (expSIMD(y) + 1)

        let magnitude = large.replacing(with: small, where: a .< 0.625)
        let signed = unsafeBitCast(unsafeBitCast(magnitude, to: U16.self) | sign, to: F16.self)
        return signed.replacing(with: x, where: x .!= x)
    }
}
