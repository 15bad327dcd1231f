/// What the GEMM applies to each output element after the last block of the k dimension,
/// in this order: `+ bias[row]`, `+ residual[row, col]`, then ReLU (`v < 0 ? 0 : v`, NaN
/// kept). Lets a convolution finish its bias, residual add and activation in the pass
/// that writes its output.
struct GEMMEpilogue {
    /// One value per row of C, or nil.
    var bias: UnsafePointer<Float>? = nil
    /// An `m × n` matrix added to C (row `i` at `residual + i·ldr`), or nil. Must not
    /// overlap C (C holds partial sums between k blocks).
    var residual: UnsafePointer<Float>? = nil
    /// Leading dimension of `residual`.
    var ldr: Int = 0
    /// Whether to clamp negatives to 0 at the end.
    var relu = false

    /// Nothing to do.
    static var none: GEMMEpilogue { GEMMEpilogue() }
    var isNone: Bool { bias == nil && residual == nil && !relu }
}

/// A matrix A (`m × k`, the left factor) packed once for ``Optimized/gemmPacked(m:n:k:a:b:ldb:c:ldc:accumulate:epilogue:)``:
/// for each block of ``Optimized/gemmKC`` columns of A, panels of ``Optimized/gemmMR`` rows,
/// each stored column by column (`MR` contiguous values per column), rows past `m` zero.
final class PackedGEMMMatrix {
    let m: Int
    let k: Int
    let buffer: ScratchBuffer

    /// Packs `a` (row `i` at `a + i·lda`). Throws `.outOfMemory`.
    init(m: Int, k: Int, a: UnsafePointer<Float>, lda: Int) throws {
        self.m = m
        self.k = k
        buffer = try ScratchBuffer(count: try Optimized.packedASize(m: m, k: k))
        Optimized.packA(m: m, k: k, a: a, lda: lda, into: buffer.pointer)
    }

    var pointer: UnsafePointer<Float> { UnsafePointer(buffer.pointer) }
}

extension Optimized {
    /// Rows of C computed together by the micro-kernel.
    static let gemmMR = 8
    /// Columns of C computed together by the micro-kernel (two `SIMD16<Float>`).
    static let gemmNR = 32
    /// Depth of one block of the k dimension.
    static let gemmKC = 256
    /// Columns of one packed block of B (a multiple of ``gemmNR``); a KC×NC block (512 KiB) sits in L2.
    static let gemmNC = 512
    /// Below this many multiply-adds a GEMM runs on the calling thread only.
    static let gemmParallelThreshold = 1 << 18

    /// Floats of a packed A (`m` rounded up to ``gemmMR``, times `k`).
    static func packedASize(m: Int, k: Int) throws -> Int {
        let mp = try Checked.mul((m + gemmMR - 1) / gemmMR, gemmMR, "gemm packed rows")
        return try Checked.mul(mp, max(k, 1), "gemm packed A size")
    }

    /// Packs A (`m × k`, row `i` at `a + i·lda`) into `dst` (``packedASize(m:k:)`` floats):
    /// the block of columns starting at `pc` begins at `pc·Mp` (Mp = m rounded up to MR);
    /// inside it, panel `ip` (rows `ip·MR..<ip·MR+MR`) begins at `ip·MR·kc` and holds column `p`
    /// at `p·MR`, zeros for rows past `m`.
    static func packA(m: Int, k: Int, a: UnsafePointer<Float>, lda: Int, into dst: UnsafeMutablePointer<Float>) {
        let mr = gemmMR
        let panels = (m + mr - 1) / mr
        let mp = panels * mr
        var pc = 0
        while pc < k {
            let kc = min(gemmKC, k - pc)
            let block = dst + pc * mp
            for ip in 0..<panels {
                let panel = block + ip * mr * kc
                let rows = min(mr, m - ip * mr)
                for r in 0..<mr {
                    if r < rows {
                        let src = a + (ip * mr + r) * lda + pc
                        for p in 0..<kc { panel[p * mr + r] = src[p] }
                    } else {
                        for p in 0..<kc { panel[p * mr + r] = 0 }
                    }
                }
            }
            pc += kc
        }
    }

    /// Single-precision matrix product, row-major: C = A·B, or C += A·B when `accumulate`.
    ///
    /// - a: `m × k`, row `i` at `a + i·lda` (lda >= k)
    /// - b: `k × n`, row `p` at `b + p·ldb` (ldb >= n)
    /// - c: `m × n`, row `i` at `c + i·ldc` (ldc >= n); only these m×n elements are written
    ///
    /// A is packed into ``gemmMR``-row panels, B in blocks of ``gemmKC``×``gemmNC`` into
    /// ``gemmNR``-column panels (both zero-padded at the edges, so edge tiles run the same
    /// 8×32 register micro-kernel as full ones). Tiles of C are spread over ``Threading``'s
    /// threads; each element's sum runs in the same order whatever the thread count, so
    /// results are bitwise identical for every thread count.
    /// Sizes <= 0 are allowed: m or n <= 0 writes nothing; k <= 0 sets C to 0 (or leaves it
    /// when accumulating). The caller guarantees the pointers cover the stated extents.
    /// Falls back to a plain loop if scratch memory cannot be had.
    public static func gemm(m: Int, n: Int, k: Int,
                            a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            c: UnsafeMutablePointer<Float>, ldc: Int,
                            accumulate: Bool) {
        gemm(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate, epilogue: .none)
    }

    /// ``gemm(m:n:k:a:lda:b:ldb:c:ldc:accumulate:)`` with an epilogue.
    static func gemm(m: Int, n: Int, k: Int,
                     a: UnsafePointer<Float>, lda: Int,
                     b: UnsafePointer<Float>, ldb: Int,
                     c: UnsafeMutablePointer<Float>, ldc: Int,
                     accumulate: Bool, epilogue: GEMMEpilogue) {
        if m <= 0 || n <= 0 { return }
        guard k > 0, let packed = try? PackedGEMMMatrix(m: m, k: k, a: a, lda: lda) else {
            naiveGEMM(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc,
                      accumulate: accumulate, epilogue: epilogue)
            return
        }
        do {
            try gemmPacked(m: m, n: n, k: k, a: packed.pointer, b: b, ldb: ldb, c: c, ldc: ldc,
                           accumulate: accumulate, epilogue: epilogue)
        } catch {
            naiveGEMM(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc,
                      accumulate: accumulate, epilogue: epilogue)
        }
    }

    /// Plain loops (k <= 0, or no memory for packing): same results contract.
    static func naiveGEMM(m: Int, n: Int, k: Int,
                          a: UnsafePointer<Float>, lda: Int,
                          b: UnsafePointer<Float>, ldb: Int,
                          c: UnsafeMutablePointer<Float>, ldc: Int,
                          accumulate: Bool, epilogue: GEMMEpilogue) {
        for i in 0..<m {
            for j in 0..<n {
                var s: Float = 0
                for p in 0..<max(k, 0) { s = s.addingProduct(a[i * lda + p], b[p * ldb + j]) }
                var v = accumulate ? c[i * ldc + j] + s : s
                if let bias = epilogue.bias { v += bias[i] }
                if let r = epilogue.residual { v += r[i * epilogue.ldr + j] }
                if epilogue.relu && v < 0 { v = 0 }
                c[i * ldc + j] = v
            }
        }
    }

    /// The product with A already packed by ``packA(m:k:a:lda:into:)`` (k >= 1).
    /// Throws `.outOfMemory` when the B panels' scratch memory cannot be had (C untouched).
    /// `workspace`, when large enough, holds the B panels instead of a fresh buffer.
    static func gemmPacked(m: Int, n: Int, k: Int, a: UnsafePointer<Float>,
                           b: UnsafePointer<Float>, ldb: Int,
                           c: UnsafeMutablePointer<Float>, ldc: Int,
                           accumulate: Bool, epilogue: GEMMEpilogue,
                           workspace: UnsafeMutableBufferPointer<Float>? = nil) throws {
        if m <= 0 || n <= 0 || k <= 0 { return }
        let mr = gemmMR, nr = gemmNR
        let panelsM = (m + mr - 1) / mr
        let tilesN = (n + nr - 1) / nr
        // Work items: column ranges of whole NR tiles × row ranges of whole MR panels.
        let threads = Threading.numThreads
        var splitN = 1, splitM = 1
        let (mn, o1) = m.multipliedReportingOverflow(by: n)
        let (mnk, o2) = mn.multipliedReportingOverflow(by: k)
        if threads > 1 && (o1 || o2 || mnk >= gemmParallelThreshold) {
            let want = threads * 2
            splitN = min(tilesN, want)
            if splitN < want { splitM = min(panelsM, (want + splitN - 1) / splitN) }
        }
        let items = splitN * splitM
        let ncMax = min(gemmNC, tilesN * nr)
        let perItem = min(gemmKC, k) * ncMax
        let need = try Checked.mul(perItem, items, "gemm packing buffer")
        let given = workspace.flatMap { $0.count >= need ? $0.baseAddress : nil }
        let work = given == nil ? try ScratchBuffer(count: need) : nil
        let mp = panelsM * mr
        guard let workBase = given ?? work?.pointer else { return }
        Threading.parallelFor(items) { item in
            let sn = item % splitN, sm = item / splitN
            let n0 = (tilesN * sn / splitN) * nr, n1 = min(n, (tilesN * (sn + 1) / splitN) * nr)
            let p0 = panelsM * sm / splitM, p1 = panelsM * (sm + 1) / splitM
            if n0 >= n1 || p0 >= p1 { return }
            let packedB = workBase + item * perItem
            var jc = n0
            while jc < n1 {
                let nc = min(gemmNC, n1 - jc)
                var pc = 0
                while pc < k {
                    let kc = min(gemmKC, k - pc)
                    packB(kc: kc, nc: nc, b: b + pc * ldb + jc, ldb: ldb, into: packedB)
                    let acc = accumulate || pc > 0
                    let last = pc + kc == k
                    let ablock = a + pc * mp
                    for ip in p0..<p1 {
                        let apanel = ablock + ip * mr * kc
                        let rows = min(mr, m - ip * mr)
                        var ep = GEMMEpilogue.none
                        if last && !epilogue.isNone {
                            ep.relu = epilogue.relu
                            ep.bias = epilogue.bias.map { $0 + ip * mr }
                            ep.residual = epilogue.residual.map { $0 + ip * mr * epilogue.ldr + jc }
                            ep.ldr = epilogue.ldr
                        }
                        var jr = 0
                        while jr < nc {
                            let cols = min(nr, nc - jr)
                            var e = ep
                            if let r = e.residual { e.residual = r + jr }
                            microKernel(kc: kc, a: apanel, b: UnsafePointer(packedB + jr * kc),
                                        c: c + ip * mr * ldc + jc + jr, ldc: ldc, rows: rows, cols: cols,
                                        accumulate: acc, epilogue: e)
                            jr += nr
                        }
                    }
                    pc += kc
                }
                jc += nc
            }
        }
        withExtendedLifetime(work) {}
    }

    /// Packs the `kc × nc` block of B at `b` into panels of 32 columns: panel `j` holds
    /// rows `0..<kc` of columns `32j..<32j+32`, each row 32 contiguous floats (zeros past `nc`).
    @inline(__always)
    static func packB(kc: Int, nc: Int, b: UnsafePointer<Float>, ldb: Int, into dst: UnsafeMutablePointer<Float>) {
        let nr = gemmNR
        var d = dst
        var j = 0
        while j < nc {
            let width = min(nr, nc - j)
            if width == nr {
                for p in 0..<kc {
                    let s = UnsafeRawPointer(b + p * ldb + j)
                    let v0 = s.loadUnaligned(as: SIMD16<Float>.self)
                    let v1 = s.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
                    let o = UnsafeMutableRawPointer(d)
                    o.storeBytes(of: v0, as: SIMD16<Float>.self)
                    o.storeBytes(of: v1, toByteOffset: 64, as: SIMD16<Float>.self)
                    d += nr
                }
            } else {
                for p in 0..<kc {
                    let src = b + p * ldb + j
                    for jj in 0..<width { d[jj] = src[jj] }
                    for jj in width..<nr { d[jj] = 0 }
                    d += nr
                }
            }
            j += nr
        }
    }

    /// C[0..<rows, 0..<cols] (+)= Apanel · Bpanel (then the epilogue), rows <= 8, cols <= 32.
    /// The panels are zero-padded, so the full 8×32 tile is always computed; edge tiles go
    /// through a small buffer with the same vector arithmetic as full ones.
    @inline(__always)
    static func microKernel(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                            c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int,
                            accumulate: Bool, epilogue: GEMMEpilogue) {
        typealias V = SIMD16<Float>
        var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V(), c30 = V(), c31 = V()
        var c40 = V(), c41 = V(), c50 = V(), c51 = V(), c60 = V(), c61 = V(), c70 = V(), c71 = V()
        var ap = a
        var bp = UnsafeRawPointer(b)
        for _ in 0..<kc {
            let b0 = bp.load(as: V.self)
            let b1 = bp.load(fromByteOffset: 64, as: V.self)
            var s = ap[0]
            c00 = c00.addingProduct(s, b0); c01 = c01.addingProduct(s, b1)
            s = ap[1]
            c10 = c10.addingProduct(s, b0); c11 = c11.addingProduct(s, b1)
            s = ap[2]
            c20 = c20.addingProduct(s, b0); c21 = c21.addingProduct(s, b1)
            s = ap[3]
            c30 = c30.addingProduct(s, b0); c31 = c31.addingProduct(s, b1)
            s = ap[4]
            c40 = c40.addingProduct(s, b0); c41 = c41.addingProduct(s, b1)
            s = ap[5]
            c50 = c50.addingProduct(s, b0); c51 = c51.addingProduct(s, b1)
            s = ap[6]
            c60 = c60.addingProduct(s, b0); c61 = c61.addingProduct(s, b1)
            s = ap[7]
            c70 = c70.addingProduct(s, b0); c71 = c71.addingProduct(s, b1)
            ap += 8
            bp += 128
        }
        if rows == gemmMR && cols == gemmNR {
            let res = epilogue.residual.map { UnsafeRawPointer($0) }
            let ldr = epilogue.ldr
            let dst = UnsafeMutableRawPointer(c)
            @inline(__always) func put(_ v0: V, _ v1: V, _ r: Int) {
                finish(v0, v1, dst + r * ldc * 4, res.map { $0 + r * ldr * 4 }, epilogue.bias?[r], epilogue.relu, accumulate)
            }
            put(c00, c01, 0); put(c10, c11, 1); put(c20, c21, 2); put(c30, c31, 3)
            put(c40, c41, 4); put(c50, c51, 5); put(c60, c61, 6); put(c70, c71, 7)
            return
        }
        // Edge tile: stage C (and the residual) in a 2×32-float buffer per row.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * 32) { tmp in
            guard let t = tmp.baseAddress else { return }
            let tr = t + 32
            @inline(__always) func put(_ v0: V, _ v1: V, _ r: Int) {
                guard r < rows else { return }
                let crow = c + r * ldc
                if accumulate { for j in 0..<cols { t[j] = crow[j] } }
                var rp: UnsafeRawPointer? = nil
                if let res = epilogue.residual {
                    let rrow = res + r * epilogue.ldr
                    for j in 0..<cols { tr[j] = rrow[j] }
                    rp = UnsafeRawPointer(tr)
                }
                finish(v0, v1, UnsafeMutableRawPointer(t), rp, epilogue.bias?[r], epilogue.relu, accumulate)
                for j in 0..<cols { crow[j] = t[j] }
            }
            put(c00, c01, 0); put(c10, c11, 1); put(c20, c21, 2); put(c30, c31, 3)
            put(c40, c41, 4); put(c50, c51, 5); put(c60, c61, 6); put(c70, c71, 7)
        }
    }

    /// Writes one 32-wide row: v (+ old value) (+ bias) (+ residual) (ReLU).
    @inline(__always)
    static func finish(_ v0: SIMD16<Float>, _ v1: SIMD16<Float>, _ dst: UnsafeMutableRawPointer,
                       _ res: UnsafeRawPointer?, _ bias: Float?, _ relu: Bool, _ accumulate: Bool) {
        var r0 = v0, r1 = v1
        if accumulate {
            r0 += dst.loadUnaligned(as: SIMD16<Float>.self)
            r1 += dst.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
        }
        if let bias {
            r0 += bias
            r1 += bias
        }
        if let res {
            r0 += res.loadUnaligned(as: SIMD16<Float>.self)
            r1 += res.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
        }
        if relu {
            r0.replace(with: 0, where: r0 .< 0)
            r1.replace(with: 0, where: r1 .< 0)
        }
        dst.storeBytes(of: r0, as: SIMD16<Float>.self)
        dst.storeBytes(of: r1, toByteOffset: 64, as: SIMD16<Float>.self)
    }
}
