// Layer normalization (torch `nn.LayerNorm`, ONNX LayerNormalization) and its backward.

/// The rows and row length of a layer norm of `shape` from `axis` (validated), and the
/// normalized shape.
func layerNormGeometry(_ shape: [Int], axis: Int, weight: Tensor?, bias: Tensor?, eps: Float, _ op: String) throws
    -> (rows: Int, size: Int, normalized: [Int]) {
    let a = try LayerChecks.axis(axis, rank: shape.count, op)
    guard eps > 0, eps.isFinite else {
        throw SwiftCNNError.invalidArgument("\(op): eps must be positive and finite; got \(eps)")
    }
    let normalized = Array(shape[a...])
    for (t, name) in [(weight, "weight"), (bias, "bias")] {
        if let t, t.shape != normalized {
            throw SwiftCNNError.shapeMismatch(
                "\(op): \(name) must have the normalized shape \(Tensor.describe(normalized)) (axes \(a)… of \(Tensor.describe(shape))); got \(Tensor.describe(t.shape))")
        }
    }
    let size = normalized.reduce(1, *)
    return (shape.reduce(1, *) / size, size, normalized)
}

/// Layer normalization, like torch's `F.layer_norm(x, x.shape[axis:], weight, bias, eps)`:
/// every slice of the axes from `axis` to the last is normalized with its own mean and
/// biased variance, y = (x − mean)/√(var + eps) · weight + bias.
///
/// The optimized path runs 16-lane float SIMD over the rows, spread over the threads; the
/// reference (under ``KernelDispatch/forceReference``) accumulates in double. They agree
/// to a few ulp.
/// - Parameters:
///   - axis: the first normalized axis, in -rank..<rank (negative counts from the end).
///   - weight, bias: the normalized axes' shape (`x.shape[axis...]`), or nil for 1 and 0.
///   - eps: added to the variance; positive.
/// - Throws: ``SwiftCNNError`` for a bad axis or eps, a weight or bias of another shape, or
///   memory running out.
public func layerNorm(_ x: Tensor, axis: Int = -1, weight: Tensor? = nil, bias: Tensor? = nil, eps: Float = 1e-5) throws -> Tensor {
    let geo = try layerNormGeometry(x.shape, axis: axis, weight: weight, bias: bias, eps: eps, "layerNorm")
    return try layerOutput(x.shape, reading: x) { xp, yp in
        withOptionalPointer(weight) { wp in
            withOptionalPointer(bias) { bp in
                if KernelDispatch.forceReference {
                    Reference.layerNorm(xp, weight: wp, bias: bp, yp, rows: geo.rows, size: geo.size, eps: eps)
                } else {
                    Optimized.layerNorm(xp, weight: wp, bias: bp, yp, rows: geo.rows, size: geo.size, eps: eps)
                }
            }
        }
    }
}

/// The gradients of a layer norm's loss with respect to its input, weight and bias.
public struct LayerNormGradients {
    /// dL/dx, the input's shape.
    public var input: Tensor
    /// dL/dweight, the normalized shape; nil when there is no weight.
    public var weight: Tensor?
    /// dL/dbias, the normalized shape; nil when not asked for.
    public var bias: Tensor?
}

/// The backward twin of ``layerNorm(_:axis:weight:bias:eps:)``, from the forward's input:
/// with x̂ = (x − mean)·r, r = 1/√(var + eps) and ĝ = g·weight per row,
/// dx = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), dweight = Σ_rows g·x̂, dbias = Σ_rows g — in double
/// precision.
/// - Parameters:
///   - x: the forward's input; `axis`, `weight`, `eps` the forward's.
///   - gradOutput: dL/dy, x's shape.
///   - hasBias: whether to compute dbias.
/// - Throws: ``SwiftCNNError`` for the forward's errors, a gradOutput of another shape, or
///   memory running out.
public func layerNormBackward(_ x: Tensor, axis: Int = -1, weight: Tensor?, gradOutput: Tensor, eps: Float = 1e-5,
                              hasBias: Bool) throws -> LayerNormGradients {
    let op = "layerNormBackward"
    let geo = try layerNormGeometry(x.shape, axis: axis, weight: weight, bias: nil, eps: eps, op)
    try checkSameShape(op, output: x, gradOutput: gradOutput, outputName: "input")
    var dx = try Tensor(uninitialized: x.shape)
    var dw: Tensor? = weight == nil ? nil : try Tensor(uninitialized: geo.normalized)
    var db: Tensor? = hasBias ? try Tensor(uninitialized: geo.normalized) : nil
    try withDoubleScratch(try Checked.mul(geo.size, 3, "\(op) scratch"), op) { scratch in
        x.withUnsafePointer { xp in
            gradOutput.withUnsafePointer { gp in
                withOptionalPointer(weight) { wp in
                    dx.withUnsafeMutablePointerUnchecked { dxp in
                        withOptionalMutablePointer(&dw) { dwp in
                            withOptionalMutablePointer(&db) { dbp in
                                Reference.layerNormBackward(xp, weight: wp, gradOutput: gp, gradInput: dxp, gradWeight: dwp,
                                                            gradBias: dbp, rows: geo.rows, size: geo.size, eps: eps, scratch: scratch)
                            }
                        }
                    }
                }
            }
        }
    }
    return LayerNormGradients(input: dx, weight: dw, bias: db)
}
