// Layer normalization over the last `size` elements of each row, and its backward, in
// double precision (the oracle of NormalizationSIMD.swift's layerNorm).

extension Reference {
    /// The mean and 1/√(biased variance + eps) of `row[0..<size]`, in double (two passes).
    @inline(__always)
    static func layerNormMoments(_ row: UnsafePointer<Float>, size: Int, eps: Float) -> (mean: Double, rstd: Double) {
        var sum = 0.0
        for i in 0..<size { sum += Double(row[i]) }
        let mean = sum / Double(size)
        var sq = 0.0
        for i in 0..<size {
            let d = Double(row[i]) - mean
            sq += d * d
        }
        return (mean, 1 / (sq / Double(size) + Double(eps)).squareRoot())
    }

    /// y = (x − mean)·rstd·w + b per row. x, y: [rows, size]; w, b: [size] or nil (1, 0).
    static func layerNorm(_ x: UnsafePointer<Float>, weight w: UnsafePointer<Float>?, bias b: UnsafePointer<Float>?,
                          _ y: UnsafeMutablePointer<Float>, rows: Int, size: Int, eps: Float) {
        for r in 0..<rows {
            let row = x + r * size, out = y + r * size
            let (mean, rstd) = layerNormMoments(row, size: size, eps: eps)
            for i in 0..<size {
                var v = (Double(row[i]) - mean) * rstd
                if let w { v *= Double(w[i]) }
                if let b { v += Double(b[i]) }
                out[i] = Float(v)
            }
        }
    }

    /// The layer norm's gradients (see ``layerNormBackward(_:axis:weight:gradOutput:eps:hasBias:)``).
    /// x, g, dx: [rows, size]; w, dw, db: [size] or nil; scratch: 3·size doubles.
    static func layerNormBackward(_ x: UnsafePointer<Float>, weight w: UnsafePointer<Float>?, gradOutput g: UnsafePointer<Float>,
                                  gradInput dx: UnsafeMutablePointer<Float>, gradWeight dw: UnsafeMutablePointer<Float>?,
                                  gradBias db: UnsafeMutablePointer<Float>?, rows: Int, size: Int, eps: Float,
                                  scratch: UnsafeMutablePointer<Double>) {
        let sw = scratch, sb = scratch + size, gh = scratch + 2 * size
        sw.update(repeating: 0, count: size)
        sb.update(repeating: 0, count: size)
        let n = Double(size)
        for r in 0..<rows {
            let xr = x + r * size, gr = g + r * size, dxr = dx + r * size
            let (mean, rstd) = layerNormMoments(xr, size: size, eps: eps)
            var sumG = 0.0, sumGX = 0.0
            for i in 0..<size {
                let xh = (Double(xr[i]) - mean) * rstd
                let gi = Double(gr[i])
                let ghat = gi * (w.map { Double($0[i]) } ?? 1)
                gh[i] = ghat
                sumG += ghat
                sumGX += ghat * xh
                sw[i] += gi * xh
                sb[i] += gi
            }
            let a = sumG / n, c = sumGX / n
            for i in 0..<size {
                let xh = (Double(xr[i]) - mean) * rstd
                dxr[i] = Float(rstd * (gh[i] - a - xh * c))
            }
        }
        if let dw { for i in 0..<size { dw[i] = Float(sw[i]) } }
        if let db { for i in 0..<size { db[i] = Float(sb[i]) } }
    }
}
