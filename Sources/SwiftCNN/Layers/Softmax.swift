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

// Backward: softmaxBackward(...) arrives with training (issue 5).
