/// Batch normalization at inference, from running statistics (`torch.nn.functional.batch_norm`
/// with `training=False`):
///
///     y = (x − runningMean[c]) / √(runningVar[c] + eps) · weight[c] + bias[c]
///
/// - Parameters:
///   - x: `[N, C]`, `[N, C, L]` or `[N, C, H, W]`; channels are dimension 1.
///   - runningMean, runningVar: rank 1, `[C]`.
///   - weight, bias: `[C]`, or nil for 1 and 0.
///   - eps: added to the variance; finite and not negative.
public func batchNorm(
    _ x: Tensor, runningMean: Tensor, runningVar: Tensor, weight: Tensor? = nil, bias: Tensor? = nil, eps: Float = 1e-5
) throws -> Tensor {
    let op = "batchNorm"
    guard x.rank >= 2 else {
        throw SwiftCNNError.invalidArgument(
            "\(op): input must have rank 2 [N, C], 3 [N, C, L] or 4 [N, C, H, W]; got rank \(x.rank) (shape \(Tensor.describe(x.shape)))")
    }
    guard eps.isFinite && eps >= 0 else {
        throw SwiftCNNError.invalidArgument("\(op): eps must be a finite number >= 0; got \(eps)")
    }
    let c = x.shape[1]
    let stats: [(String, Tensor?)] = [("runningMean", runningMean), ("runningVar", runningVar), ("weight", weight), ("bias", bias)]
    for case let (name, t?) in stats where t.shape != [c] {
        throw SwiftCNNError.shapeMismatch(
            "\(op): \(name) must have shape [\(c)] (one value per channel of input \(Tensor.describe(x.shape))); got \(Tensor.describe(t.shape))")
    }
    let g = ChannelGeometry(batch: x.shape[0], channels: c, spatial: x.shape[2...].reduce(1, *))
    return try layerOutput(x.shape, reading: x) { xp, yp in
        runningMean.withUnsafePointer { m in
            runningVar.withUnsafePointer { v in
                withOptionalPointer(weight) { w in
                    withOptionalPointer(bias) { b in
                        Reference.batchNorm(xp, yp, g, mean: m, variance: v, weight: w, bias: b, eps: eps)
                    }
                }
            }
        }
    }
}

// Backward: batchNormBackward(...) arrives with training (issue 5).
