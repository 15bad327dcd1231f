/// Softmax along `axis`: e^(x − max) / Σ e^(x − max), so large inputs never overflow.
///
/// `axis` is in `-rank..<rank`; negative values count from the end (−1, the default, is the
/// last axis). The output has the input's shape and each slice along `axis` sums to 1.
/// A slice holding NaN gives NaN.
public func softmax(_ x: Tensor, axis: Int = -1) throws -> Tensor {
    let a = try LayerChecks.axis(axis, rank: x.rank, "softmax")
    let g = AxisGeometry(shape: x.shape, axis: a)
    return try layerOutput(x.shape, reading: x) {
        if KernelDispatch.forceReference { Reference.softmax($0, $1, g) } else { Optimized.softmax($0, $1, g) }
    }
}

// MARK: - Backward

/// The backward twin of ``softmax(_:axis:)``, from the forward's output y:
/// dx = y · (g − Σ_axis y·g) (the sum in double precision).
/// - Parameters: output: the forward's output; gradOutput: its shape; axis: the forward's axis.
/// - Throws: ``SwiftCNNError`` for a bad axis, a gradOutput of another shape, or memory running out.
public func softmaxBackward(output: Tensor, gradOutput: Tensor, axis: Int = -1) throws -> Tensor {
    let op = "softmaxBackward"
    let a = try LayerChecks.axis(axis, rank: output.rank, op)
    try checkSameShape(op, output: output, gradOutput: gradOutput)
    let g = AxisGeometry(shape: output.shape, axis: a)
    return try layerOutput(output.shape, reading: output) { yp, dxp in
        gradOutput.withUnsafePointer { Reference.softmaxBackward(output: yp, gradOutput: $0, dxp, g) }
    }
}
