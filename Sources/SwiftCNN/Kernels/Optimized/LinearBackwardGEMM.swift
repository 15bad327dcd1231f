// Backward of the fully connected layer as two GEMMs (the optimized path of linearBackward).

extension Optimized {
    /// Gradients of y = x · wᵀ + b with the contract of
    /// ``Reference/linearBackward(_:weight:gradOutput:gradInput:gradWeight:gradBias:_:)``, in float:
    /// dx = dY · w (GEMM), dw = dYᵀ · x (GEMM on a transposed copy of dY), db = Σ_n dY rows
    /// (added in batch order). Bitwise identical for every thread count (see ``gemm(m:n:k:a:lda:b:ldb:c:ldc:accumulate:)``).
    /// - Throws: ``SwiftCNNError/Kind/outOfMemory`` when the transposed copy cannot be had.
    static func linearBackward(
        _ x: UnsafePointer<Float>, weight w: UnsafePointer<Float>, gradOutput dy: UnsafePointer<Float>,
        gradInput dx: UnsafeMutablePointer<Float>, gradWeight dw: UnsafeMutablePointer<Float>,
        gradBias db: UnsafeMutablePointer<Float>?, _ g: LinearGeometry
    ) throws {
        let n = g.batch, fin = g.inFeatures, fout = g.outFeatures
        gemm(m: n, n: fin, k: fout, a: dy, lda: fout, b: w, ldb: fin, c: dx, ldc: fin, accumulate: false)
        if n == 1 {
            // dw = dyᵀ · x is an outer product: dY itself is the [out, 1] column.
            gemm(m: fout, n: fin, k: 1, a: dy, lda: 1, b: x, ldb: fin, c: dw, ldc: fin, accumulate: false)
        } else {
            let dyT = try ScratchBuffer(count: try Checked.mul(n, fout, "linearBackward scratch size"))
            for s in 0..<n {
                for o in 0..<fout { dyT.pointer[o * n + s] = dy[s * fout + o] }
            }
            gemm(m: fout, n: fin, k: n, a: dyT.pointer, lda: n, b: x, ldb: fin, c: dw, ldc: fin, accumulate: false)
            withExtendedLifetime(dyT) {}
        }
        if let db {
            db.update(from: dy, count: fout)
            for s in 1..<max(n, 1) {
                addInPlace(db, dy + s * fout, fout)
            }
        }
    }

    /// dst[i] += src[i] for i < n (16 lanes at a time).
    @inline(__always)
    static func addInPlace(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int) {
        var i = 0
        while i + 16 <= n {
            let d = UnsafeMutableRawPointer(dst + i)
            d.storeBytes(of: d.loadUnaligned(as: SIMD16<Float>.self) + UnsafeRawPointer(src + i).loadUnaligned(as: SIMD16<Float>.self),
                         as: SIMD16<Float>.self)
            i += 16
        }
        while i < n {
            dst[i] += src[i]
            i += 1
        }
    }
}
