extension Optimized {
    /// y = x · wᵀ + b with the contract of ``Reference/linear(_:weight:bias:_:_:)``, in float:
    /// each output is a dot product over 64-float chunks with four `SIMD16` accumulators
    /// (tail scalar), then the bias. Output features are spread over ``Threading``'s threads
    /// in blocks; each output's summation order is fixed, so results do not depend on the
    /// thread count. Weight rows are read once per block for the whole batch (memory-bound
    /// at batch 1: the weights are streamed once).
    static func linear(_ x: UnsafePointer<Float>, weight w: UnsafePointer<Float>, bias b: UnsafePointer<Float>?,
                       _ y: UnsafeMutablePointer<Float>, _ g: LinearGeometry) {
        let n = g.inFeatures, outs = g.outFeatures
        let block = 16
        let blocks = (outs + block - 1) / block
        let work = g.batch &* n &* outs
        let items = work < 1 << 16 ? 1 : blocks
        Threading.parallelFor(items) { item in
            let (o0, o1) = items == 1 ? (0, outs) : (item * block, min(outs, (item + 1) * block))
            for o in o0..<o1 {
                let wr = w + o * n
                for s in 0..<g.batch {
                    y[s * outs + o] = dot(x + s * n, wr, n) + (b?[o] ?? 0)
                }
            }
        }
    }

    /// Σ a[i]·b[i] in float, four 16-lane accumulators, fixed order.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        typealias V = SIMD16<Float>
        var s0 = V(), s1 = V(), s2 = V(), s3 = V()
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        var i = 0
        while i + 64 <= n {
            let o = i * 4
            s0 = s0.addingProduct(ra.loadUnaligned(fromByteOffset: o, as: V.self), rb.loadUnaligned(fromByteOffset: o, as: V.self))
            s1 = s1.addingProduct(ra.loadUnaligned(fromByteOffset: o + 64, as: V.self), rb.loadUnaligned(fromByteOffset: o + 64, as: V.self))
            s2 = s2.addingProduct(ra.loadUnaligned(fromByteOffset: o + 128, as: V.self), rb.loadUnaligned(fromByteOffset: o + 128, as: V.self))
            s3 = s3.addingProduct(ra.loadUnaligned(fromByteOffset: o + 192, as: V.self), rb.loadUnaligned(fromByteOffset: o + 192, as: V.self))
            i += 64
        }
        while i + 16 <= n {
            s0 = s0.addingProduct(ra.loadUnaligned(fromByteOffset: i * 4, as: V.self), rb.loadUnaligned(fromByteOffset: i * 4, as: V.self))
            i += 16
        }
        var tail: Float = 0
        while i < n {
            tail = tail.addingProduct(a[i], b[i])
            i += 1
        }
        return ((s0 + s1) + (s2 + s3)).sum() + tail
    }
}
