extension Optimized {
    /// Rows of C computed together by the micro-kernel.
    static let gemmMR = 6
    /// Columns of C computed together by the micro-kernel (one `SIMD16<Float>`).
    static let gemmNR = 16
    /// Depth of one block of the k dimension (the packed B panel's rows).
    static let gemmKC = 256
    /// Columns of one packed block of B (a multiple of ``gemmNR``).
    static let gemmNC = 512

    /// Single-precision matrix product, row-major: C = A·B, or C += A·B when `accumulate`.
    ///
    /// - a: `m × k`, row `i` at `a + i·lda` (lda >= k)
    /// - b: `k × n`, row `p` at `b + p·ldb` (ldb >= n)
    /// - c: `m × n`, row `i` at `c + i·ldc` (ldc >= n); only these m×n elements are written
    ///
    /// Cache-blocked: B is packed in blocks of ``gemmKC``×``gemmNC`` into panels of
    /// ``gemmNR`` contiguous columns (zero-padded at the right edge), and a 6×16 register
    /// micro-kernel streams rows of A against a panel with SIMD fused multiply-adds.
    /// Sizes <= 0 are allowed: m or n <= 0 writes nothing; k <= 0 sets C to 0 (or leaves it
    /// when accumulating). The caller guarantees the pointers cover the stated extents.
    public static func gemm(m: Int, n: Int, k: Int,
                            a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            c: UnsafeMutablePointer<Float>, ldc: Int,
                            accumulate: Bool) {
        if m <= 0 || n <= 0 { return }
        if k <= 0 {
            if !accumulate {
                for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) }
            }
            return
        }
        let kcMax = min(k, gemmKC)
        let ncMax = min((n + gemmNR - 1) / gemmNR * gemmNR, gemmNC)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: kcMax * ncMax) { packBuffer in
            guard let packed = packBuffer.baseAddress else { return }
            var jc = 0
            while jc < n {
                let nc = min(gemmNC, n - jc)
                var pc = 0
                while pc < k {
                    let kc = min(gemmKC, k - pc)
                    packB(kc: kc, nc: nc, b: b + pc * ldb + jc, ldb: ldb, into: packed)
                    let acc = accumulate || pc > 0
                    var jr = 0
                    while jr < nc {
                        let cols = min(gemmNR, nc - jr)
                        let panel = UnsafePointer(packed + (jr / gemmNR) * kc * gemmNR)
                        var ir = 0
                        while ir < m {
                            let rows = min(gemmMR, m - ir)
                            microKernel(kc: kc, a: a + ir * lda + pc, lda: lda, rows: rows,
                                        panel: panel, c: c + ir * ldc + jc + jr, ldc: ldc, cols: cols,
                                        accumulate: acc)
                            ir += gemmMR
                        }
                        jr += gemmNR
                    }
                    pc += kc
                }
                jc += nc
            }
        }
    }

    /// Packs the `kc × nc` block of B at `b` into panels of 16 columns: panel `j` holds
    /// rows `0..<kc` of columns `16j..<16j+16`, each row 16 contiguous floats (zeros past `nc`).
    @inline(__always)
    static func packB(kc: Int, nc: Int, b: UnsafePointer<Float>, ldb: Int, into dst: UnsafeMutablePointer<Float>) {
        var d = dst
        var j = 0
        while j < nc {
            let width = min(gemmNR, nc - j)
            if width == gemmNR {
                for p in 0..<kc {
                    let v = UnsafeRawPointer(b + p * ldb + j).loadUnaligned(as: SIMD16<Float>.self)
                    UnsafeMutableRawPointer(d).storeBytes(of: v, as: SIMD16<Float>.self)
                    d += gemmNR
                }
            } else {
                for p in 0..<kc {
                    let src = b + p * ldb + j
                    for jj in 0..<width { d[jj] = src[jj] }
                    for jj in width..<gemmNR { d[jj] = 0 }
                    d += gemmNR
                }
            }
            j += gemmNR
        }
    }

    /// C[0..<rows, 0..<cols] (+)= A[0..<rows, 0..<kc] · panel, with rows <= 6 and cols <= 16.
    /// Missing rows reuse row 0 of A (computed, never stored), so nothing is read out of range.
    @inline(__always)
    static func microKernel(kc: Int, a: UnsafePointer<Float>, lda: Int, rows: Int,
                            panel: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int, cols: Int,
                            accumulate: Bool) {
        let a0 = a
        let a1 = rows > 1 ? a + lda : a
        let a2 = rows > 2 ? a + 2 * lda : a
        let a3 = rows > 3 ? a + 3 * lda : a
        let a4 = rows > 4 ? a + 4 * lda : a
        let a5 = rows > 5 ? a + 5 * lda : a
        var c0 = SIMD16<Float>(), c1 = SIMD16<Float>(), c2 = SIMD16<Float>()
        var c3 = SIMD16<Float>(), c4 = SIMD16<Float>(), c5 = SIMD16<Float>()
        let bp = UnsafeRawPointer(panel)
        for p in 0..<kc {
            let bv = bp.loadUnaligned(fromByteOffset: p &* 64, as: SIMD16<Float>.self)
            c0 = c0.addingProduct(a0[p], bv)
            c1 = c1.addingProduct(a1[p], bv)
            c2 = c2.addingProduct(a2[p], bv)
            c3 = c3.addingProduct(a3[p], bv)
            c4 = c4.addingProduct(a4[p], bv)
            c5 = c5.addingProduct(a5[p], bv)
        }
        if cols == gemmNR {
            @inline(__always) func put(_ v: SIMD16<Float>, _ row: Int) {
                let dst = UnsafeMutableRawPointer(c + row * ldc)
                var r = v
                if accumulate { r += dst.loadUnaligned(as: SIMD16<Float>.self) }
                dst.storeBytes(of: r, as: SIMD16<Float>.self)
            }
            put(c0, 0)
            if rows > 1 { put(c1, 1) }
            if rows > 2 { put(c2, 2) }
            if rows > 3 { put(c3, 3) }
            if rows > 4 { put(c4, 4) }
            if rows > 5 { put(c5, 5) }
        } else {
            @inline(__always) func put(_ v: SIMD16<Float>, _ row: Int) {
                let dst = c + row * ldc
                for j in 0..<cols { dst[j] = accumulate ? dst[j] + v[j] : v[j] }
            }
            put(c0, 0)
            if rows > 1 { put(c1, 1) }
            if rows > 2 { put(c2, 2) }
            if rows > 3 { put(c3, 3) }
            if rows > 4 { put(c4, 4) }
            if rows > 5 { put(c5, 5) }
        }
    }
}
