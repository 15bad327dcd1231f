// Reference (oracle) backward kernels of the fully connected layer. Geometry: LinearGeometry.

extension Reference {
    /// Gradients of y = x · wᵀ + b, sums in double precision.
    ///
    /// - x: `[batch, in]`, w: `[out, in]`, gradOutput: `[batch, out]`
    /// - gradInput: `[batch, in]` = gradOutput · w
    /// - gradWeight: `[out, in]` = gradOutputᵀ · x
    /// - gradBias: `[out]` = column sums of gradOutput, or nil to skip
    static func linearBackward(
        _ x: UnsafePointer<Float>, weight w: UnsafePointer<Float>, gradOutput dy: UnsafePointer<Float>,
        gradInput dx: UnsafeMutablePointer<Float>, gradWeight dw: UnsafeMutablePointer<Float>,
        gradBias db: UnsafeMutablePointer<Float>?, _ g: LinearGeometry
    ) {
        for n in 0..<g.batch {
            for i in 0..<g.inFeatures {
                var s: Double = 0
                for o in 0..<g.outFeatures { s += Double(dy[n * g.outFeatures + o]) * Double(w[o * g.inFeatures + i]) }
                dx[n * g.inFeatures + i] = Float(s)
            }
        }
        for o in 0..<g.outFeatures {
            for i in 0..<g.inFeatures {
                var s: Double = 0
                for n in 0..<g.batch { s += Double(dy[n * g.outFeatures + o]) * Double(x[n * g.inFeatures + i]) }
                dw[o * g.inFeatures + i] = Float(s)
            }
        }
        if let db {
            channelSum(dy, batch: g.batch, channels: g.outFeatures, spatial: 1, into: db)
        }
    }
}
