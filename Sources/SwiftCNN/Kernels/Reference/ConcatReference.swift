extension Reference {
    /// Copies one input of a concatenation into its place in the output.
    /// x: [outer, axisSize, inner]; y: [outer, axisTotal, inner] where `g.axis` is axisTotal;
    /// x lands at positions axisOffset ..< axisOffset + axisSize of y's middle axis.
    static func concatPart(
        _ x: UnsafePointer<Float>, axisSize: Int, into y: UnsafeMutablePointer<Float>, axisOffset: Int, _ g: AxisGeometry
    ) {
        let block = axisSize * g.inner
        for o in 0..<g.outer {
            (y + (o * g.axis + axisOffset) * g.inner).update(from: x + o * block, count: block)
        }
    }
}
