// 2-D upsampling with torch.nn.functional.interpolate's semantics (modes "nearest" and
// "bilinear", antialias off), and its backward.

/// How ``upsample2d(_:outputSize:scales:mode:)`` computes an output pixel.
public enum UpsampleMode: Equatable, Sendable {
    /// torch's legacy `mode="nearest"` (not "nearest-exact"): the input pixel at
    /// min(floor(dst · s), in − 1) along each axis, s = 1/scale when a scale was given, else
    /// in/out (in float, as torch; plus torch's shortcuts: the identity when out = in, dst/2 when out = 2·in).
    case nearest
    /// `mode="bilinear"`: with `alignCorners` false, source coordinate max((dst + ½) · s − ½, 0)
    /// with s as for nearest; with `alignCorners` true, dst · (in − 1)/(out − 1) (0 when
    /// out = 1) and the scale is not used. Weights from the two neighbouring pixels per axis.
    case bilinear(alignCorners: Bool)

    var name: String {
        switch self {
        case .nearest: "nearest"
        case .bilinear(let ac): "bilinear(alignCorners: \(ac))"
        }
    }
}

/// Checks a scale pair for `op`: each finite and > 0, with a reciprocal that fits in a float.
func checkUpsampleScales(_ scales: (h: Double, w: Double), _ op: String) throws {
    for (axis, s) in [("height", scales.h), ("width", scales.w)] {
        guard s.isFinite && s > 0 else {
            throw SwiftCNNError.invalidArgument("\(op): the \(axis) scale must be a finite number above 0; got \(s)")
        }
        guard Float(1 / s).isFinite else {
            throw SwiftCNNError.invalidArgument("\(op): the \(axis) scale \(s) is too small (its reciprocal overflows a float)")
        }
    }
}

/// The validated geometry of an upsampling of `inputShape` ([N, C, H, W]) to `outputSize`.
func upsampleGeometry(inputShape: [Int], outputSize: Size2D, scales: (h: Double, w: Double)?, mode: UpsampleMode,
                      _ op: String, _ name: String) throws -> Upsample2DGeometry {
    guard inputShape.count == 4 else {
        throw SwiftCNNError.invalidArgument(
            "\(op): \(name) must have rank 4 [N, C, H, W]; got rank \(inputShape.count) (shape \(Tensor.describe(inputShape)))")
    }
    let (n, c, h, w) = try imageDims(shape: inputShape, op, name)
    guard outputSize.h >= 1 && outputSize.w >= 1 else {
        throw SwiftCNNError.invalidArgument("\(op): output size must be at least 1×1; got \(outputSize)")
    }
    _ = try Checked.product([n, c, outputSize.h, outputSize.w], "\(op) output element count")
    if let scales { try checkUpsampleScales(scales, op) }
    let rh: Float, rw: Float
    switch mode {
    case .nearest:
        rh = UpsampleIndex.ratio(scale: scales?.h, input: h, output: outputSize.h)
        rw = UpsampleIndex.ratio(scale: scales?.w, input: w, output: outputSize.w)
    case .bilinear(let ac):
        rh = UpsampleIndex.linearRatio(scale: scales?.h, input: h, output: outputSize.h, alignCorners: ac)
        rw = UpsampleIndex.linearRatio(scale: scales?.w, input: w, output: outputSize.w, alignCorners: ac)
    }
    return Upsample2DGeometry(planes: n * c, inHeight: h, inWidth: w, outHeight: outputSize.h, outWidth: outputSize.w,
                              mode: mode, ratioH: rh, ratioW: rw)
}

/// The output size torch's `interpolate` gives for a scale factor: floor(in · scale) per
/// axis (in Double, as Python computes it).
/// - Throws: ``SwiftCNNError`` (`.invalidArgument`) for an input size below 1, a scale that
///   is not finite and above 0, or a result below 1 or too large for a size.
public func upsampleOutputSize(input: Size2D, scales: (h: Double, w: Double)) throws -> Size2D {
    let op = "upsampleOutputSize"
    guard input.h >= 1 && input.w >= 1 else {
        throw SwiftCNNError.invalidArgument("\(op): input size must be at least 1×1; got \(input)")
    }
    try checkUpsampleScales(scales, op)
    func size(_ n: Int, _ s: Double, _ axis: String) throws -> Int {
        let v = (Double(n) * s).rounded(.down)
        guard v >= 1 else {
            throw SwiftCNNError.invalidArgument(
                "\(op): the \(axis) scale \(s) turns size \(n) into \(v); the output must be at least 1")
        }
        guard v < 0x1p62 else {
            throw SwiftCNNError.invalidArgument("\(op): the \(axis) scale \(s) turns size \(n) into \(v), too large a size")
        }
        return Int(v)
    }
    return Size2D(try size(input.h, scales.h, "height"), try size(input.w, scales.w, "width"))
}

/// Upsamples (or downsamples) the planes of `x` ([N, C, H, W]) to `outputSize`, exactly as
/// `torch.nn.functional.interpolate(x, size=…, mode=…, align_corners=…)` or
/// `interpolate(x, scale_factor=…)` (with `recompute_scale_factor` unset) computes it in float32.
///
/// - Parameters:
///   - outputSize: the output's height and width (for a scale factor, see ``upsampleOutputSize(input:scales:)``).
///   - scales: the scale factor the user gave, used for the source-coordinate mapping as torch
///     does (s = 1/scale), or nil when a size was given (then s = in/out). Ignored by
///     bilinear with aligned corners. It is not checked against `outputSize` (neither is it by torch).
///   - mode: see ``UpsampleMode``.
/// - Returns: `[N, C, outputSize.h, outputSize.w]`.
/// - Throws: ``SwiftCNNError`` for a rank other than 4, an output size below 1, a scale that
///   is not finite and above 0, an output too large, or memory running out.
public func upsample2d(_ x: Tensor, outputSize: Size2D, scales: (h: Double, w: Double)?, mode: UpsampleMode) throws -> Tensor {
    let g = try upsampleGeometry(inputShape: x.shape, outputSize: outputSize, scales: scales, mode: mode,
                                 "upsample2d \(mode.name)", "input")
    return try layerOutput([x.shape[0], x.shape[1], outputSize.h, outputSize.w], reading: x) { xp, yp in
        if KernelDispatch.forceReference { Reference.upsample2d(g, xp, yp) } else { Optimized.upsample2d(g, xp, yp) }
    }
}

/// The backward twin of ``upsample2d(_:outputSize:scales:mode:)``: every output gradient
/// added to the input pixels the forward read it from, with the forward's weights. The
/// output size is gradOutput's last two dims.
/// - Parameters:
///   - inputShape: the forward input's shape, [N, C, H, W].
///   - gradOutput: [N, C, OH, OW].
///   - scales, mode: the forward's.
/// - Returns: dL/dx of shape `inputShape`.
/// - Throws: ``SwiftCNNError`` for the forward's errors, a bad `inputShape`, a gradOutput
///   whose rank, batch or channels differ, or memory running out.
public func upsample2dBackward(inputShape: [Int], gradOutput: Tensor, scales: (h: Double, w: Double)?,
                               mode: UpsampleMode) throws -> Tensor {
    let op = "upsample2dBackward \(mode.name)"
    guard gradOutput.rank == 4 else {
        throw SwiftCNNError.invalidArgument(
            "\(op): gradOutput must have rank 4 [N, C, OH, OW]; got shape \(Tensor.describe(gradOutput.shape))")
    }
    let g = try upsampleGeometry(inputShape: inputShape, outputSize: Size2D(gradOutput.shape[2], gradOutput.shape[3]),
                                 scales: scales, mode: mode, op, "inputShape")
    guard gradOutput.shape[0] == inputShape[0] && gradOutput.shape[1] == inputShape[1] else {
        throw SwiftCNNError.shapeMismatch(
            "\(op): gradOutput \(Tensor.describe(gradOutput.shape)) must have the batch and channels of inputShape \(Tensor.describe(inputShape))")
    }
    return try layerOutput(inputShape, reading: gradOutput) { gp, dxp in
        if KernelDispatch.forceReference { Reference.upsample2dBackward(g, gradOutput: gp, dxp) }
        else { Optimized.upsample2dBackward(g, gradOutput: gp, dxp) }
    }
}
