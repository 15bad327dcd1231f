// Backward of concatenation: slicing the output gradient. Geometry: AxisGeometry.

extension Reference {
    /// The inverse of ``concatPart(_:axisSize:into:axisOffset:_:)``: copies positions
    /// axisOffset ..< axisOffset + axisSize of y's middle axis (y: [outer, axisTotal, inner])
    /// into x: [outer, axisSize, inner].
    static func concatSlice(
        _ y: UnsafePointer<Float>, axisOffset: Int, axisSize: Int, into x: UnsafeMutablePointer<Float>, _ g: AxisGeometry
    ) {
        let block = axisSize * g.inner
        for o in 0..<g.outer {
            (x + o * block).update(from: y + (o * g.axis + axisOffset) * g.inner, count: block)
        }
    }
}
