// Matrix-vector products on a packed A (the inference plan's path for tiny output planes)
// and an inline float copy for im2col's short rows.

extension Optimized {
    /// C (`m × n`, n small) = A · B with A packed by ``packA(m:k:a:lda:into:)`` (``gemmMR``
    /// rows per panel), then the epilogue (bias, residual, ReLU). Each column of C is one
    /// matrix-vector product: per panel, four ``GEMMVector`` accumulators over k (fixed order;
    /// a vector's lanes past MR read the next panel's values or the packed A's slack, and are
    /// unused), so a 1×1 output costs m·k multiply-adds instead of the GEMM's m·NR·k.
    /// b: `k × n` (row p at `b + p·ldb`); c: row i at `c + i·ldc`.
    static func gemvPacked(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int,
                           c: UnsafeMutablePointer<Float>, ldc: Int, epilogue: GEMMEpilogue) {
        typealias V = GEMMVector
        let mr = gemmMR
        let step = mr * MemoryLayout<Float>.stride  // bytes from one packed column to the next
        let panels = (m + mr - 1) / mr
        let mp = panels * mr
        for j in 0..<n {
            for ip in 0..<panels {
                var a0 = V(), a1 = V(), a2 = V(), a3 = V()
                var pc = 0
                while pc < k {
                    let kc = min(gemmKC, k - pc)
                    // Plain pointer steps: no checked index arithmetic in the loop.
                    var panel = UnsafeRawPointer(a + pc * mp + ip * mr * kc)
                    var col = b + pc * ldb + j
                    var p = 0
                    while p + 4 <= kc {
                        a0 = a0.addingProduct(panel.loadUnaligned(as: V.self), col.pointee)
                        a1 = a1.addingProduct(panel.loadUnaligned(fromByteOffset: step, as: V.self), (col + ldb).pointee)
                        a2 = a2.addingProduct(panel.loadUnaligned(fromByteOffset: 2 * step, as: V.self), (col + 2 * ldb).pointee)
                        a3 = a3.addingProduct(panel.loadUnaligned(fromByteOffset: 3 * step, as: V.self), (col + 3 * ldb).pointee)
                        panel += 4 * step
                        col += 4 * ldb
                        p += 4
                    }
                    while p < kc {
                        a0 = a0.addingProduct(panel.loadUnaligned(as: V.self), col.pointee)
                        panel += step
                        col += ldb
                        p += 1
                    }
                    pc += kc
                }
                let acc = (a0 + a1) + (a2 + a3)
                for r in 0..<min(mr, m - ip * mr) {
                    let i = ip * mr + r
                    var v = acc[r]
                    if let bias = epilogue.bias { v += bias[i] }
                    if let res = epilogue.residual { v += res[i * epilogue.ldr + j] }
                    if epilogue.relu && v < 0 { v = 0 }
                    if let op = epilogue.op { v = unaryScalar(op, v) }
                    c[i * ldc + j] = v
                }
            }
        }
    }

    /// Copies `n` floats (no overlap) inline with 16-, 8- and 4-lane moves: im2col copies many
    /// short rows (LeNet's are 28 and 10 floats), where a `memmove` call per row dominates.
    @inline(__always)
    static func copyFloats(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int) {
        let d = UnsafeMutableRawPointer(dst), s = UnsafeRawPointer(src)
        var i = 0
        while i + 16 <= n {
            d.storeBytes(of: s.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self), toByteOffset: 4 * i, as: SIMD16<Float>.self)
            i += 16
        }
        if i + 8 <= n {
            d.storeBytes(of: s.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self), toByteOffset: 4 * i, as: SIMD8<Float>.self)
            i += 8
        }
        if i + 4 <= n {
            d.storeBytes(of: s.loadUnaligned(fromByteOffset: 4 * i, as: SIMD4<Float>.self), toByteOffset: 4 * i, as: SIMD4<Float>.self)
            i += 4
        }
        while i < n {
            dst[i] = src[i]
            i += 1
        }
    }
}
