// L2 normalization over channels: SSD's conv4_3 normalization (Liu et al. 2016, §3.1, after
// ParseNet), torch's `F.normalize(x, p=2, dim=1, eps)`.

/// Each position's channel vector divided by its Euclidean length:
/// y[n, c, …] = x[n, c, …] / max(‖x[n, :, …]‖₂, eps), for `[N, C]`, `[N, C, L]` or
/// `[N, C, H, W]` inputs (axis 1 is normalized). The sums accumulate in Double.
/// - Throws: ``SwiftCNNError``: `.invalidArgument` for a rank below 2 or an eps that is not
///   a finite non-negative number; `.outOfMemory`.
public func l2Normalize(_ x: Tensor, eps: Float = 1e-12) throws -> Tensor {
    let (n, c, s) = try l2NormalizeDims(x.shape, eps, "l2Normalize")
    return try layerOutput(x.shape, reading: x) {
        Reference.l2Normalize($0, $1, batch: n, channels: c, spatial: s, eps: eps)
    }
}

/// The backward twin of ``l2Normalize(_:eps:)``: dL/dx for the forward's input `x` and
/// `gradOutput` (x's shape).
/// - Throws: ``SwiftCNNError``: as the forward, and `.shapeMismatch` when gradOutput's shape
///   differs from x's.
public func l2NormalizeBackward(_ x: Tensor, gradOutput: Tensor, eps: Float = 1e-12) throws -> Tensor {
    let op = "l2NormalizeBackward"
    let (n, c, s) = try l2NormalizeDims(x.shape, eps, op)
    guard gradOutput.shape == x.shape else {
        throw SwiftCNNError.shapeMismatch(
            "\(op): gradOutput must have the input's shape \(Tensor.describe(x.shape)); got \(Tensor.describe(gradOutput.shape))")
    }
    return try layerOutput(x.shape, reading: x) { xp, dxp in
        gradOutput.withUnsafePointer { gp in
            Reference.l2NormalizeBackward(xp, gradOutput: gp, dxp, batch: n, channels: c, spatial: s, eps: eps)
        }
    }
}

/// (batch, channels, spatial) of an l2Normalize input; errors start with `op`.
func l2NormalizeDims(_ shape: [Int], _ eps: Float, _ op: String) throws -> (Int, Int, Int) {
    guard shape.count >= 2 else {
        throw SwiftCNNError.invalidArgument("\(op): the input must have rank 2 to \(Tensor.maxRank) ([N, C, …]); got \(Tensor.describe(shape))")
    }
    guard eps.isFinite, eps >= 0 else {
        throw SwiftCNNError.invalidArgument("\(op): eps must be a finite number >= 0; got \(eps)")
    }
    let spatial = try Checked.product(Array(shape.dropFirst(2)), "\(op) spatial size")
    return (shape[0], shape[1], spatial)
}
