// Global max pooling and its backward: one maximum per plane. (Mean is a ``Reference/reduceSum(_:_:into:targetCount:scale:scratch:)``
// and an expansion, BroadcastReference.swift.)

extension Reference {
    /// y[p] = max of plane p of x (x: [planes, planeSize]); −∞ for a plane of −∞ only, NaN
    /// when the plane holds a NaN (as torch's adaptive max pooling).
    static func globalMaxPool2d(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, planes: Int, planeSize: Int) {
        for p in 0..<planes {
            let plane = x + p * planeSize
            var m = -Float.infinity
            for i in 0..<planeSize {
                let v = plane[i]
                if v > m || v.isNaN { m = v }
            }
            y[p] = m
        }
    }

    /// dx = 0 except at each plane's maximum, which gets the plane's gradient: the first
    /// maximum in row-major order on ties, the last NaN when the plane holds NaN, the first
    /// element when every element is −∞ (torch's adaptive_max_pool2d index rule).
    /// x, dx: [planes, planeSize]; gy: [planes].
    static func globalMaxPool2dBackward(_ x: UnsafePointer<Float>, gradOutput gy: UnsafePointer<Float>,
                                        _ dx: UnsafeMutablePointer<Float>, planes: Int, planeSize: Int) {
        for p in 0..<planes {
            let plane = x + p * planeSize, d = dx + p * planeSize
            var m = -Float.infinity, best = 0
            for i in 0..<planeSize {
                let v = plane[i]
                if v > m || v.isNaN {
                    m = v
                    best = i
                }
            }
            for i in 0..<planeSize { d[i] = 0 }
            d[best] = gy[p]
        }
    }
}
