/// A fully connected layer, `torch.nn.functional.linear`: y = x · weightᵀ + bias.
///
/// - Parameters:
///   - x: `[N, in]` (a batch) or `[in]` (one sample).
///   - weight: `[out, in]`.
///   - bias: `[out]`, or nil for none.
/// - Returns: `[N, out]`, or `[out]` for a rank-1 input.
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) throws -> Tensor {
    let g = try linearGeometry(x, weight: weight, bias: bias, op: "linear")
    let shape = x.rank == 2 ? [g.batch, g.outFeatures] : [g.outFeatures]
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

/// Validates a fully connected layer's operands (x `[N, in]` or `[in]`, weight `[out, in]`,
/// bias `[out]`) for `op` and returns its sizes.
func linearGeometry(_ x: Tensor, weight: Tensor, bias: Tensor?, op: String) throws -> LinearGeometry {
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
    return LinearGeometry(batch: batch, inFeatures: inFeatures, outFeatures: outFeatures)
}

// MARK: - Backward

/// The gradients of a fully connected layer's loss with respect to its input, weight and bias.
public struct LinearGradients {
    /// dL/dx, the input's shape.
    public var input: Tensor
    /// dL/dweight, `[out, in]`.
    public var weight: Tensor
    /// dL/dbias, `[out]`; nil when the layer has no bias.
    public var bias: Tensor?

    /// The three gradients.
    public init(input: Tensor, weight: Tensor, bias: Tensor?) {
        self.input = input; self.weight = weight; self.bias = bias
    }
}

/// The backward twin of ``linear(_:weight:bias:)``: dx = dY · W, dW = dYᵀ · x, db = Σ_n dY.
/// GEMMs on the optimized path, double-precision loops under ``KernelDispatch/forceReference``.
///
/// - Parameters:
///   - x: `[N, in]` or `[in]`, the forward's input.
///   - weight: `[out, in]`.
///   - gradOutput: `[N, out]` (or `[out]` for a rank-1 input).
///   - hasBias: whether to compute the bias gradient.
/// - Throws: ``SwiftCNNError`` for the forward's shape errors, a gradOutput of another shape
///   than the forward's output, or memory running out.
public func linearBackward(_ x: Tensor, weight: Tensor, gradOutput: Tensor, hasBias: Bool) throws -> LinearGradients {
    let op = "linearBackward"
    let g = try linearGeometry(x, weight: weight, bias: nil, op: op)
    let outShape = x.rank == 2 ? [g.batch, g.outFeatures] : [g.outFeatures]
    guard gradOutput.shape == outShape else {
        throw SwiftCNNError.shapeMismatch(
            "\(op): gradOutput must have the forward's output shape \(Tensor.describe(outShape)); got \(Tensor.describe(gradOutput.shape))")
    }
    var dx = try Tensor(uninitialized: x.shape)
    var dw = try Tensor(uninitialized: weight.shape)
    var db: Tensor? = hasBias ? try Tensor(uninitialized: [g.outFeatures]) : nil
    let reference = KernelDispatch.forceReference
    try x.withUnsafePointer { xp in
        try weight.withUnsafePointer { wp in
            try gradOutput.withUnsafePointer { gp in
                try dx.withUnsafeMutablePointerUnchecked { dxp in
                    try dw.withUnsafeMutablePointerUnchecked { dwp in
                        try withOptionalMutablePointer(&db) { dbp in
                            if reference {
                                Reference.linearBackward(xp, weight: wp, gradOutput: gp, gradInput: dxp, gradWeight: dwp, gradBias: dbp, g)
                            } else {
                                try Optimized.linearBackward(xp, weight: wp, gradOutput: gp, gradInput: dxp, gradWeight: dwp, gradBias: dbp, g)
                            }
                        }
                    }
                }
            }
        }
    }
    return LinearGradients(input: dx, weight: dw, bias: db)
}
