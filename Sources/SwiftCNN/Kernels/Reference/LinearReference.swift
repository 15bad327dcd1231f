/// A fully connected layer's sizes: `batch` rows of `inFeatures` in, `outFeatures` out.
struct LinearGeometry: Equatable, Sendable {
    var batch: Int
    var inFeatures: Int
    var outFeatures: Int
}

extension Reference {
    /// y = x · wᵀ + b. x: [batch, inFeatures]; w: [outFeatures, inFeatures];
    /// b: [outFeatures] or nil; y: [batch, outFeatures]. Dot products in double precision.
    static func linear(
        _ x: UnsafePointer<Float>, weight w: UnsafePointer<Float>, bias b: UnsafePointer<Float>?,
        _ y: UnsafeMutablePointer<Float>, _ g: LinearGeometry
    ) {
        for n in 0..<g.batch {
            let xr = x + n * g.inFeatures
            for o in 0..<g.outFeatures {
                let wr = w + o * g.inFeatures
                var sum = b.map { Double($0[o]) } ?? 0
                for i in 0..<g.inFeatures { sum += Double(xr[i]) * Double(wr[i]) }
                y[n * g.outFeatures + o] = Float(sum)
            }
        }
    }
}
