/// A fully connected layer, `torch.nn.functional.linear`: y = x · weightᵀ + bias.
///
/// - Parameters:
///   - x: `[N, in]` (a batch) or `[in]` (one sample).
///   - weight: `[out, in]`.
///   - bias: `[out]`, or nil for none.
/// - Returns: `[N, out]`, or `[out]` for a rank-1 input.
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) throws -> Tensor {
    let op = "linear"
    guard x.rank == 1 || x.rank == 2 else {
        throw SwiftCNNError.invalidArgument(
            "\(op): input must have rank 2 [N, in] or 1 [in]; got rank \(x.rank) (shape \(Tensor.describe(x.shape))); flatten it first")
    }
    guard weight.rank == 2 else {
        throw SwiftCNNError.invalidArgument(
            "\(op): weight must have rank 2 [out, in]; got rank \(weight.rank) (shape \(Tensor.describe(weight.shape)))")
    }
    let inFeatures = x.shape[x.rank - 1], batch = x.rank == 2 ? x.shape[0] : 1
    let outFeatures = weight.shape[0]
    guard weight.shape[1] == inFeatures else {
        throw SwiftCNNError.shapeMismatch(
            "\(op): weight \(Tensor.describe(weight.shape)) takes \(weight.shape[1]) input features but input \(Tensor.describe(x.shape)) has \(inFeatures)")
    }
    if let bias, bias.shape != [outFeatures] {
        throw SwiftCNNError.shapeMismatch(
            "\(op): bias must have shape [\(outFeatures)] (weight has \(outFeatures) outputs); got \(Tensor.describe(bias.shape))")
    }
    let g = LinearGeometry(batch: batch, inFeatures: inFeatures, outFeatures: outFeatures)
    let shape = x.rank == 2 ? [batch, outFeatures] : [outFeatures]
    return try layerOutput(shape, reading: x) { xp, yp in
        weight.withUnsafePointer { w in
            withOptionalPointer(bias) { b in
                if KernelDispatch.forceReference {
                    Reference.linear(xp, weight: w, bias: b, yp, g)
                } else {
                    Optimized.linear(xp, weight: w, bias: b, yp, g)
                }
            }
        }
    }
}

// Backward: linearBackward(...) arrives with training (issue 5).
