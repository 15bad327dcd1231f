// Batch normalization at inference. Geometry: ChannelGeometry (LocalResponseNormReference.swift).

extension Reference {
    /// Batch normalization from running statistics. x, y: [batch, channels, spatial];
    /// mean, variance, weight, bias: [channels] (weight nil = 1, bias nil = 0).
    /// y = (x − mean) / √(variance + eps) · weight + bias, per channel, coefficients in double precision.
    static func batchNorm(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ g: ChannelGeometry,
        mean: UnsafePointer<Float>, variance: UnsafePointer<Float>,
        weight: UnsafePointer<Float>?, bias: UnsafePointer<Float>?, eps: Float
    ) {
        for c in 0..<g.channels {
            let w = weight.map { Double($0[c]) } ?? 1
            let b = bias.map { Double($0[c]) } ?? 0
            let m = Double(mean[c])
            let invStd = 1 / (Double(variance[c]) + Double(eps)).squareRoot()
            for n in 0..<g.batch {
                let base = (n * g.channels + c) * g.spatial
                for s in 0..<g.spatial {
                    y[base + s] = Float((Double(x[base + s]) - m) * invStd * w + b)
                }
            }
        }
    }
}
