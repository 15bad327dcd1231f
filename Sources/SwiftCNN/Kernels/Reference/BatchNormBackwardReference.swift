// Training-mode batch normalization: batch statistics, forward and backward. Geometry:
// ChannelGeometry (LocalResponseNormReference.swift). Sums in double precision.

extension Reference {
    /// Per-channel batch statistics of x `[batch, channels, spatial]`: mean, biased variance
    /// (Σ(x − mean)² / count, two passes) and invStd = 1/√(variance + eps), each `[channels]`.
    static func batchNormStatistics(
        _ x: UnsafePointer<Float>, _ g: ChannelGeometry, eps: Float,
        mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>, invStd: UnsafeMutablePointer<Float>
    ) {
        let count = Double(g.batch * g.spatial)
        for c in 0..<g.channels {
            var sum = 0.0
            for n in 0..<g.batch {
                let base = (n * g.channels + c) * g.spatial
                for s in 0..<g.spatial { sum += Double(x[base + s]) }
            }
            let m = sum / count
            var sq = 0.0
            for n in 0..<g.batch {
                let base = (n * g.channels + c) * g.spatial
                for s in 0..<g.spatial {
                    let d = Double(x[base + s]) - m
                    sq += d * d
                }
            }
            let v = sq / count
            mean[c] = Float(m)
            variance[c] = Float(v)
            invStd[c] = Float(1 / (v + Double(eps)).squareRoot())
        }
    }

    /// Batch norm backward with batch statistics. With x̂ = (x − mean)·invStd, M = count:
    ///
    ///     dbias[c] = Σ g,   dweight[c] = Σ g·x̂,
    ///     dx = weight[c]·invStd/M · (M·g − Σ g − x̂ · Σ g·x̂)
    ///
    /// - x, gradOutput, gradInput: `[batch, channels, spatial]`; weight `[channels]` or nil (1);
    ///   mean, invStd `[channels]`; gradWeight, gradBias `[channels]`. Every output written.
    static func batchNormBackward(
        _ x: UnsafePointer<Float>, gradOutput gy: UnsafePointer<Float>, _ g: ChannelGeometry,
        weight: UnsafePointer<Float>?, mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>,
        gradInput dx: UnsafeMutablePointer<Float>, gradWeight dw: UnsafeMutablePointer<Float>,
        gradBias db: UnsafeMutablePointer<Float>
    ) {
        let count = Double(g.batch * g.spatial)
        for c in 0..<g.channels {
            let m = Double(mean[c]), inv = Double(invStd[c])
            var sumG = 0.0, sumGX = 0.0
            for n in 0..<g.batch {
                let base = (n * g.channels + c) * g.spatial
                for s in 0..<g.spatial {
                    let gv = Double(gy[base + s])
                    sumG += gv
                    sumGX += gv * (Double(x[base + s]) - m) * inv
                }
            }
            db[c] = Float(sumG)
            dw[c] = Float(sumGX)
            let w = weight.map { Double($0[c]) } ?? 1
            let k = w * inv / count
            for n in 0..<g.batch {
                let base = (n * g.channels + c) * g.spatial
                for s in 0..<g.spatial {
                    let xhat = (Double(x[base + s]) - m) * inv
                    dx[base + s] = Float(k * (count * Double(gy[base + s]) - sumG - xhat * sumGX))
                }
            }
        }
    }
}
