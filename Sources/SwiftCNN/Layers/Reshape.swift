/// Flattens the dimensions from `startAxis` to the end into one, like `torch.flatten(x, startAxis)`:
/// `[N, C, H, W]` with the default 1 becomes `[N, C·H·W]`. The elements are shared, not copied.
///
/// `startAxis` is in `-rank..<rank`, negatives counting from the end; flattening from the
/// last axis returns the shape unchanged.
public func flatten(_ x: Tensor, startAxis: Int = 1) throws -> Tensor {
    let a = try LayerChecks.axis(startAxis, rank: x.rank, "flatten", "startAxis")
    return try x.reshaped(Array(x.shape[..<a]) + [x.shape[a...].reduce(1, *)])
}

// MARK: - Backward

/// The backward twin of ``flatten(_:startAxis:)``: gradOutput reshaped to the forward input's
/// shape (elements shared, not copied).
/// - Throws: ``SwiftCNNError`` when `inputShape` is not a valid shape or holds a different
///   number of elements than gradOutput.
public func flattenBackward(gradOutput: Tensor, inputShape: [Int]) throws -> Tensor {
    let n = try Checked.product(inputShape, "flattenBackward inputShape element count")
    guard n == gradOutput.count else {
        throw SwiftCNNError.shapeMismatch(
            "flattenBackward: inputShape \(Tensor.describe(inputShape)) holds \(n) elements but gradOutput \(Tensor.describe(gradOutput.shape)) holds \(gradOutput.count)")
    }
    return try gradOutput.reshaped(inputShape)
}
