// L2 normalization over the channel axis (torch's F.normalize(x, p=2, dim=1)), the oracle.

extension Reference {
    /// y[n, c, s] = x[n, c, s] / max(‖x[n, :, s]‖₂, eps). x, y: [batch, channels, spatial].
    /// The sums of squares accumulate in Double, channel by channel over a row of `spatial`
    /// positions (one pass over memory in order).
    static func l2Normalize(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                            batch: Int, channels: Int, spatial: Int, eps: Float) {
        var sums = [Double](repeating: 0, count: spatial)
        for n in 0..<batch {
            let xb = x + n * channels * spatial, yb = y + n * channels * spatial
            for s in 0..<spatial { sums[s] = 0 }
            for c in 0..<channels {
                let row = xb + c * spatial
                for s in 0..<spatial { let v = Double(row[s]); sums[s] += v * v }
            }
            for s in 0..<spatial { sums[s] = max(sums[s].squareRoot(), Double(eps)) }
            for c in 0..<channels {
                let row = xb + c * spatial, out = yb + c * spatial
                for s in 0..<spatial { out[s] = Float(Double(row[s]) / sums[s]) }
            }
        }
    }

    /// The backward twin of ``l2Normalize(_:_:batch:channels:spatial:eps:)``: with
    /// d = max(‖x‖, eps) and y = x / d, dx = (g − y · Σ_c g·y) / d where ‖x‖ > eps, g / d
    /// where the norm was clamped to eps.
    static func l2NormalizeBackward(_ x: UnsafePointer<Float>, gradOutput g: UnsafePointer<Float>,
                                    _ dx: UnsafeMutablePointer<Float>,
                                    batch: Int, channels: Int, spatial: Int, eps: Float) {
        var norms = [Double](repeating: 0, count: spatial)
        var dots = [Double](repeating: 0, count: spatial)
        for n in 0..<batch {
            let off = n * channels * spatial
            let xb = x + off, gb = g + off, db = dx + off
            for s in 0..<spatial { norms[s] = 0; dots[s] = 0 }
            for c in 0..<channels {
                let row = xb + c * spatial, grow = gb + c * spatial
                for s in 0..<spatial {
                    let v = Double(row[s])
                    norms[s] += v * v
                    dots[s] += v * Double(grow[s])
                }
            }
            for s in 0..<spatial { norms[s] = norms[s].squareRoot() }
            for c in 0..<channels {
                let row = xb + c * spatial, grow = gb + c * spatial, out = db + c * spatial
                for s in 0..<spatial {
                    let norm = norms[s]
                    if norm > Double(eps) {
                        // y·Σ g·y = x · Σ g·x / norm²
                        out[s] = Float((Double(grow[s]) - Double(row[s]) * dots[s] / (norm * norm)) / norm)
                    } else {
                        out[s] = Float(Double(grow[s]) / Double(eps))
                    }
                }
            }
        }
    }
}
