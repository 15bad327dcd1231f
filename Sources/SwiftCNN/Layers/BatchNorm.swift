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

// MARK: - Training mode and backward

/// Batch statistics per channel over N (and the spatial dims), as computed by
/// ``batchNormTraining(_:weight:bias:eps:)``.
public struct BatchNormStatistics {
    /// Mean per channel, `[C]`.
    public var mean: Tensor
    /// Biased variance per channel (Σ(x − mean)² / count), `[C]`.
    public var variance: Tensor
    /// 1 / √(variance + eps), `[C]`.
    public var invStd: Tensor
    /// Elements per channel: N · (product of the spatial dims).
    public var count: Int

    /// The four statistics.
    public init(mean: Tensor, variance: Tensor, invStd: Tensor, count: Int) {
        self.mean = mean; self.variance = variance; self.invStd = invStd; self.count = count
    }
}

/// Validates a batch norm input `[N, C, …]` (rank >= 2) and optional per-channel tensors for `op`.
func batchNormGeometry(_ x: Tensor, _ perChannel: [(String, Tensor?)], op: String) throws -> ChannelGeometry {
    guard x.rank >= 2 else {
        throw SwiftCNNError.invalidArgument(
            "\(op): input must have rank 2 [N, C], 3 [N, C, L] or 4 [N, C, H, W]; got rank \(x.rank) (shape \(Tensor.describe(x.shape)))")
    }
    let c = x.shape[1]
    for case let (name, t?) in perChannel where t.shape != [c] {
        throw SwiftCNNError.shapeMismatch(
            "\(op): \(name) must have shape [\(c)] (one value per channel of input \(Tensor.describe(x.shape))); got \(Tensor.describe(t.shape))")
    }
    return ChannelGeometry(batch: x.shape[0], channels: c, spatial: x.shape[2...].reduce(1, *))
}

/// Training-mode batch normalization (`torch.nn.functional.batch_norm` with `training=True`):
/// normalizes with the batch's own statistics,
///
///     y = (x − mean[c]) · invStd[c] · weight[c] + bias[c],   invStd = 1/√(biased var + eps)
///
/// and returns them. (Updating running statistics is the caller's job: running =
/// (1 − m)·running + m·stat, with the UNBIASED variance var·count/(count − 1) for
/// running_var, as PyTorch does.) Statistics in double precision, two passes.
/// - Parameters:
///   - x: `[N, C]`, `[N, C, L]` or `[N, C, H, W]`.
///   - weight, bias: `[C]`, or nil for 1 and 0.
///   - eps: finite and not negative.
/// - Throws: ``SwiftCNNError`` for a wrong rank or shape, a bad eps, a single value per
///   channel (N · spatial = 1, where PyTorch refuses too), or memory running out.
public func batchNormTraining(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) throws
    -> (output: Tensor, statistics: BatchNormStatistics) {
    let op = "batchNormTraining"
    let g = try batchNormGeometry(x, [("weight", weight), ("bias", bias)], op: op)
    guard eps.isFinite && eps >= 0 else {
        throw SwiftCNNError.invalidArgument("\(op): eps must be a finite number >= 0; got \(eps)")
    }
    guard g.batch * g.spatial > 1 else {
        throw SwiftCNNError.invalidArgument(
            "\(op): needs more than 1 value per channel to take batch statistics (as PyTorch in training mode); got input \(Tensor.describe(x.shape))")
    }
    var mean = try Tensor(uninitialized: [g.channels])
    var variance = try Tensor(uninitialized: [g.channels])
    var invStd = try Tensor(uninitialized: [g.channels])
    let reference = KernelDispatch.forceReference
    x.withUnsafePointer { xp in
        mean.withUnsafeMutablePointerUnchecked { m in
            variance.withUnsafeMutablePointerUnchecked { v in
                invStd.withUnsafeMutablePointerUnchecked { s in
                    if reference {
                        Reference.batchNormStatistics(xp, g, eps: eps, mean: m, variance: v, invStd: s)
                    } else {
                        Optimized.batchNormStatistics(xp, g, eps: eps, mean: m, variance: v, invStd: s)
                    }
                }
            }
        }
    }
    let output = try layerOutput(x.shape, reading: x) { xp, yp in
        mean.withUnsafePointer { m in
            variance.withUnsafePointer { v in
                invStd.withUnsafePointer { s in
                    withOptionalPointer(weight) { w in
                        withOptionalPointer(bias) { b in
                            if reference {
                                Reference.batchNorm(xp, yp, g, mean: m, variance: v, weight: w, bias: b, eps: eps)
                            } else {
                                Optimized.batchNormApply(xp, yp, g, mean: m, invStd: s, weight: w, bias: b)
                            }
                        }
                    }
                }
            }
        }
    }
    return (output, BatchNormStatistics(mean: mean, variance: variance, invStd: invStd, count: g.batch * g.spatial))
}

/// The gradients of training-mode batch norm's loss with respect to its input, weight and bias.
public struct BatchNormGradients {
    /// dL/dx, x's shape.
    public var input: Tensor
    /// dL/dweight, `[C]` (computed even when the forward had no weight).
    public var weight: Tensor
    /// dL/dbias, `[C]`.
    public var bias: Tensor

    /// The three gradients.
    public init(input: Tensor, weight: Tensor, bias: Tensor) {
        self.input = input; self.weight = weight; self.bias = bias
    }
}

/// The backward twin of ``batchNormTraining(_:weight:bias:eps:)`` (the batch statistics
/// depend on x, and the gradient flows through them). With x̂ = (x − mean)·invStd and
/// M = statistics.count:
///
///     dbias[c] = Σ g,   dweight[c] = Σ g·x̂,   dx = weight[c]·invStd[c]/M · (M·g − Σ g − x̂·Σ g·x̂)
///
/// - Parameters:
///   - x: the forward's input; gradOutput: its shape.
///   - weight: the forward's weight `[C]`, or nil (1).
///   - statistics: what the forward returned.
/// - Throws: ``SwiftCNNError`` for wrong shapes (statistics not `[C]`, count not N·spatial),
///   or memory running out.
public func batchNormBackward(_ x: Tensor, gradOutput: Tensor, weight: Tensor?, statistics: BatchNormStatistics) throws
    -> BatchNormGradients {
    let op = "batchNormBackward"
    let g = try batchNormGeometry(x, [("weight", weight), ("statistics.mean", statistics.mean),
                                      ("statistics.invStd", statistics.invStd)], op: op)
    try checkSameShape(op, output: x, gradOutput: gradOutput, outputName: "input")
    guard statistics.count == g.batch * g.spatial else {
        throw SwiftCNNError.shapeMismatch(
            "\(op): statistics.count is \(statistics.count) but input \(Tensor.describe(x.shape)) has \(g.batch * g.spatial) elements per channel")
    }
    var dw = try Tensor(uninitialized: [g.channels])
    var db = try Tensor(uninitialized: [g.channels])
    let reference = KernelDispatch.forceReference
    let dx = try layerOutput(x.shape, reading: x) { xp, dxp in
        gradOutput.withUnsafePointer { gp in
            statistics.mean.withUnsafePointer { m in
                statistics.invStd.withUnsafePointer { s in
                    withOptionalPointer(weight) { w in
                        dw.withUnsafeMutablePointerUnchecked { dwp in
                            db.withUnsafeMutablePointerUnchecked { dbp in
                                if reference {
                                    Reference.batchNormBackward(xp, gradOutput: gp, g, weight: w, mean: m, invStd: s,
                                                                gradInput: dxp, gradWeight: dwp, gradBias: dbp)
                                } else {
                                    Optimized.batchNormBackward(xp, gradOutput: gp, g, weight: w, mean: m, invStd: s,
                                                                gradInput: dxp, gradWeight: dwp, gradBias: dbp)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    return BatchNormGradients(input: dx, weight: dw, bias: db)
}
