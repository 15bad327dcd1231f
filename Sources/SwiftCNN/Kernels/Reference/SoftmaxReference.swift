#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A tensor seen as `[outer, axis, inner]` around one axis: `outer` is the product of the
/// dimensions before it, `inner` the product of those after it.
struct AxisGeometry: Equatable, Sendable {
    var outer: Int
    var axis: Int
    var inner: Int

    /// The geometry of `shape` around `axis` (already resolved to 0..<rank of a validated shape).
    init(shape: [Int], axis: Int) {
        outer = shape[..<axis].reduce(1, *)
        self.axis = shape[axis]
        inner = shape[(axis + 1)...].reduce(1, *)
    }

    init(outer: Int, axis: Int, inner: Int) {
        self.outer = outer; self.axis = axis; self.inner = inner
    }
}

extension Reference {
    /// Softmax along the middle axis. x, y: [outer, axis, inner].
    /// y = e^(x − max) / Σ e^(x − max), with the exponentials and the sum in double
    /// precision. A slice holding NaN, or only −∞, gives NaN (as in PyTorch).
    static func softmax(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ g: AxisGeometry) {
        for o in 0..<g.outer {
            for i in 0..<g.inner {
                let base = o * g.axis * g.inner + i
                var m = -Float.infinity
                for a in 0..<g.axis {
                    let v = x[base + a * g.inner]
                    if v > m || v.isNaN { m = v }
                    if m.isNaN { break }
                }
                var sum = 0.0
                for a in 0..<g.axis {
                    let e = exp(Double(x[base + a * g.inner]) - Double(m))
                    sum += e
                    y[base + a * g.inner] = Float(e)
                }
                for a in 0..<g.axis {
                    let j = base + a * g.inner
                    y[j] = Float(Double(y[j]) / sum)
                }
            }
        }
    }
}
