// Reference (oracle) backward kernel of softmax. Geometry: AxisGeometry (SoftmaxReference.swift).

extension Reference {
    /// Softmax backward along the middle axis of `[outer, axis, inner]`:
    /// dx = y · (g − Σ_axis y·g), the sum in double precision.
    static func softmaxBackward(output y: UnsafePointer<Float>, gradOutput gy: UnsafePointer<Float>,
                                _ dx: UnsafeMutablePointer<Float>, _ g: AxisGeometry) {
        for o in 0..<g.outer {
            for i in 0..<g.inner {
                let base = o * g.axis * g.inner + i
                var dot = 0.0
                for a in 0..<g.axis {
                    let j = base + a * g.inner
                    dot += Double(y[j]) * Double(gy[j])
                }
                for a in 0..<g.axis {
                    let j = base + a * g.inner
                    dx[j] = Float(Double(y[j]) * (Double(gy[j]) - dot))
                }
            }
        }
    }
}
