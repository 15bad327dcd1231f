/// Flattens the dimensions from `startAxis` to the end into one, like `torch.flatten(x, startAxis)`:
/// `[N, C, H, W]` with the default 1 becomes `[N, C·H·W]`. The elements are shared, not copied.
///
/// `startAxis` is in `-rank..<rank`, negatives counting from the end; flattening from the
/// last axis returns the shape unchanged.
public func flatten(_ x: Tensor, startAxis: Int = 1) throws -> Tensor {
    let a = try LayerChecks.axis(startAxis, rank: x.rank, "flatten", "startAxis")
    return try x.reshaped(Array(x.shape[..<a]) + [x.shape[a...].reduce(1, *)])
}

// Backward: flattenBackward(...) arrives with training (issue 5).
