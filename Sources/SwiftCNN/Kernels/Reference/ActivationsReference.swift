#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// Elementwise activations. x, y: [count] (any tensor, flattened); y may not alias x.

extension Reference {
    /// y[i] = max(x[i], 0); NaN stays NaN (as in PyTorch).
    static func relu(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            let v = x[i]
            y[i] = v < 0 ? 0 : v
        }
    }

    /// y[i] = tanh(x[i]) with the C library's tanhf (saturates to ±1, no overflow).
    static func tanh(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { y[i] = tanhf(x[i]) }
    }

    /// y[i] = 1 / (1 + e^(−x[i])), evaluated so that no exponential overflows:
    /// for x ≥ 0 as 1 / (1 + e^(−x)), for x < 0 as e^x / (1 + e^x).
    static func sigmoid(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            let v = x[i]
            if v >= 0 {
                y[i] = 1 / (1 + expf(-v))
            } else {
                let e = expf(v)
                y[i] = e / (1 + e)   // also NaN for NaN
            }
        }
    }
}
