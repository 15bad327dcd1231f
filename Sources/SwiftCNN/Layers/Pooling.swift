/// Options of ``maxPool2d(_:_:)`` and ``avgPool2d(_:_:)``, as in `torch.nn.functional`.
public struct Pool2DOptions: Equatable, Sendable {
    /// Window size (each >= 1).
    public var kernel: Size2D
    /// Step between windows (each >= 1); defaults to the kernel size.
    public var stride: Size2D
    /// Implicit padding on both sides of each dim (>= 0 and at most half the kernel, like torch).
    /// Max pooling pads with −∞, average pooling with zeros.
    public var padding: Size2D
    /// Round the output size up instead of down; the last window must still start inside
    /// the input or its left/top padding.
    public var ceilMode: Bool
    /// Average pooling only: count padded elements in the divisor (torch's `count_include_pad`).
    public var countIncludePad: Bool

    /// Options with torch's defaults: stride = kernel, no padding, floor mode, padding counted.
    public init(kernel: Size2D, stride: Size2D? = nil, padding: Size2D = 0, ceilMode: Bool = false,
                countIncludePad: Bool = true) {
        self.kernel = kernel
        self.stride = stride ?? kernel
        self.padding = padding
        self.ceilMode = ceilMode
        self.countIncludePad = countIncludePad
    }
}

/// The validated geometry of a 2-D pooling: `planes` = N·C independent planes of
/// `inHeight × inWidth` pooled to `outHeight × outWidth`.
public struct Pool2DGeometry: Equatable, Sendable {
    /// Number of planes (N·C).
    public let planes: Int
    /// Input plane size.
    public let inHeight: Int, inWidth: Int
    /// Output plane size.
    public let outHeight: Int, outWidth: Int
    /// Window, stride and padding.
    public let kernel: Size2D, stride: Size2D, padding: Size2D
    /// Whether padded elements count in the average's divisor.
    public let countIncludePad: Bool
}

/// torch's `pooling_output_shape` for one dim, or an error when it is below 1.
func poolOutputLength(_ op: String, _ dim: String, input: Int, kernel: Int, stride: Int, padding: Int,
                      ceilMode: Bool) throws -> Int {
    let padded = try Checked.add(input, try Checked.mul(2, padding, "\(op) padding"), "\(op) padded \(dim)")
    var num = padded - kernel  // kernel <= Int.max and padded >= 0: no overflow
    if ceilMode { num = try Checked.add(num, stride - 1, "\(op) output \(dim)") }
    // Division rounding toward −∞ (torch's div_rtn).
    var q = num / stride
    if num % stride != 0 && num < 0 { q -= 1 }
    var out = q + 1
    if ceilMode && out >= 1 {
        // The last window must start inside the input or the left/top padding.
        if (out - 1) * stride >= input + padding { out -= 1 }
    }
    guard out >= 1 else {
        throw SwiftCNNError.invalidArgument(
            "\(op): kernel \(dim) \(kernel) is larger than the padded input \(dim) \(padded) (input \(input) + 2 × padding \(padding)); the output would be empty")
    }
    // The kernels compute window ends up to (out − 1)·stride + kernel: make sure it fits.
    _ = try Checked.add(try Checked.mul(out - 1, stride, "\(op) window position"), kernel, "\(op) window end")
    return out
}

/// Validates `x` and `o` for `op` and returns the pooling geometry.
func pool2dGeometry(_ x: Tensor, _ o: Pool2DOptions, op: String) throws -> Pool2DGeometry {
    try pool2dGeometry(shape: x.shape, o, op: op)
}

/// ``pool2dGeometry(_:_:op:)`` for an input shape given as numbers.
func pool2dGeometry(shape: [Int], _ o: Pool2DOptions, op: String) throws -> Pool2DGeometry {
    let (n, c, h, w) = try imageDims(shape: shape, op)
    guard o.kernel.h >= 1 && o.kernel.w >= 1 else {
        throw SwiftCNNError.invalidArgument("\(op): kernel size must be at least 1; got \(o.kernel)")
    }
    guard o.stride.h >= 1 && o.stride.w >= 1 else {
        throw SwiftCNNError.invalidArgument("\(op): stride must be at least 1; got \(o.stride)")
    }
    guard o.padding.h >= 0 && o.padding.w >= 0 else {
        throw SwiftCNNError.invalidArgument("\(op): padding must not be negative; got \(o.padding)")
    }
    guard o.padding.h <= o.kernel.h / 2 && o.padding.w <= o.kernel.w / 2 else {
        throw SwiftCNNError.invalidArgument(
            "\(op): padding must be at most half the kernel size (kernel \(o.kernel) allows at most \(o.kernel.h / 2)×\(o.kernel.w / 2)); got \(o.padding)")
    }
    let oh = try poolOutputLength(op, "height", input: h, kernel: o.kernel.h, stride: o.stride.h,
                                  padding: o.padding.h, ceilMode: o.ceilMode)
    let ow = try poolOutputLength(op, "width", input: w, kernel: o.kernel.w, stride: o.stride.w,
                                  padding: o.padding.w, ceilMode: o.ceilMode)
    return Pool2DGeometry(planes: n * c, inHeight: h, inWidth: w, outHeight: oh, outWidth: ow,
                          kernel: o.kernel, stride: o.stride, padding: o.padding,
                          countIncludePad: o.countIncludePad)
}

/// 2-D max pooling, `torch.nn.functional.max_pool2d` semantics: each output is the maximum
/// of its window (padding counts as −∞; a NaN in the window gives NaN).
/// - Parameters: x: `[N, C, H, W]` or `[C, H, W]`.
/// - Returns: `[N, C, OH, OW]` (or `[C, OH, OW]`), out = floor_or_ceil((in + 2p − k)/s) + 1,
///   less one in ceil mode when the last window would start in the right/bottom padding.
/// - Throws: ``SwiftCNNError`` for a wrong rank, kernel or stride < 1, padding < 0 or above
///   half the kernel, an empty output, or memory running out.
public func maxPool2d(_ x: Tensor, _ options: Pool2DOptions) throws -> Tensor {
    let g = try pool2dGeometry(x, options, op: "maxPool2d")
    let (n, c, _, _) = try imageDims(x, "maxPool2d")
    return try layerOutput(imageShape(rank: x.rank, n, c, g.outHeight, g.outWidth), reading: x) {
        if KernelDispatch.forceReference { Reference.maxPool2d(g, input: $0, output: $1) } else { Optimized.maxPool2d(g, input: $0, output: $1) }
    }
}

/// 2-D average pooling, `torch.nn.functional.avg_pool2d` semantics (zero padding; windows
/// clipped at the padded border; the divisor counts padding when `countIncludePad`).
/// Same shapes and errors as ``maxPool2d(_:_:)``.
public func avgPool2d(_ x: Tensor, _ options: Pool2DOptions) throws -> Tensor {
    let g = try pool2dGeometry(x, options, op: "avgPool2d")
    let (n, c, _, _) = try imageDims(x, "avgPool2d")
    return try layerOutput(imageShape(rank: x.rank, n, c, g.outHeight, g.outWidth), reading: x) {
        if KernelDispatch.forceReference { Reference.avgPool2d(g, input: $0, output: $1) } else { Optimized.avgPool2d(g, input: $0, output: $1) }
    }
}

/// The mean of each plane: `[N, C, H, W]` → `[N, C, 1, 1]` (or `[C, H, W]` → `[C, 1, 1]`).
/// - Throws: ``SwiftCNNError`` for a wrong rank or memory running out.
public func globalAvgPool2d(_ x: Tensor) throws -> Tensor {
    try adaptivePool(x, outputSize: Size2D(1), op: "globalAvgPool2d")
}

/// Adaptive average pooling to `outputSize`, `torch.nn.functional.adaptive_avg_pool2d`
/// semantics: output (i, j) averages rows floor(i·H/OH) ..< ceil((i+1)·H/OH) and the same for columns.
/// The output may be larger than the input (windows then repeat).
/// - Parameters: x: `[N, C, H, W]` or `[C, H, W]`; outputSize: each >= 1.
/// - Returns: `[N, C, OH, OW]` (or `[C, OH, OW]`).
/// - Throws: ``SwiftCNNError`` for a wrong rank, an output size < 1, or memory running out.
public func adaptiveAvgPool2d(_ x: Tensor, outputSize: Size2D) throws -> Tensor {
    try adaptivePool(x, outputSize: outputSize, op: "adaptiveAvgPool2d")
}

func adaptivePool(_ x: Tensor, outputSize s: Size2D, op: String) throws -> Tensor {
    let g = try adaptivePoolGeometry(shape: x.shape, outputSize: s, op: op)
    let (n, c, _, _) = try imageDims(x, op)
    return try layerOutput(imageShape(rank: x.rank, n, c, s.h, s.w), reading: x) {
        if KernelDispatch.forceReference { Reference.adaptiveAvgPool2d(g, input: $0, output: $1) } else { Optimized.adaptiveAvgPool2d(g, input: $0, output: $1) }
    }
}

/// Validates an adaptive pooling of an input of `shape` to `s` and returns its geometry.
func adaptivePoolGeometry(shape: [Int], outputSize s: Size2D, op: String) throws -> Pool2DGeometry {
    let (n, c, h, w) = try imageDims(shape: shape, op)
    guard s.h >= 1 && s.w >= 1 else {
        throw SwiftCNNError.invalidArgument("\(op): output size must be at least 1×1; got \(s)")
    }
    // The window bounds compute (i+1)·H + OH − 1: make sure it fits.
    _ = try Checked.add(try Checked.mul(s.h, h, "\(op) window bound"), s.h, "\(op) window bound")
    _ = try Checked.add(try Checked.mul(s.w, w, "\(op) window bound"), s.w, "\(op) window bound")
    return Pool2DGeometry(planes: n * c, inHeight: h, inWidth: w, outHeight: s.h, outWidth: s.w,
                          kernel: Size2D(1), stride: Size2D(1), padding: Size2D(0), countIncludePad: false)
}

// MARK: - Backward

/// Checks that a pooling backward's gradOutput has the forward's output shape for an input
/// of `inputShape` (validated) and geometry `g`.
func checkPoolGradOutput(_ op: String, inputShape: [Int], _ g: Pool2DGeometry, gradOutput: Tensor) throws {
    let (n, c, _, _) = try imageDims(shape: inputShape, op)
    let expected = imageShape(rank: inputShape.count, n, c, g.outHeight, g.outWidth)
    guard gradOutput.shape == expected else {
        throw SwiftCNNError.shapeMismatch(
            "\(op): gradOutput must have the forward's output shape \(Tensor.describe(expected)) for input \(Tensor.describe(inputShape)); got \(Tensor.describe(gradOutput.shape))")
    }
}

/// The backward twin of ``maxPool2d(_:_:)``: each output gradient goes to the input element
/// its window's maximum came from (the first maximum in row-major order, as PyTorch picks),
/// summed where windows overlap; other elements get 0.
/// - Parameters:
///   - x: the forward's input, `[N, C, H, W]` or `[C, H, W]`.
///   - gradOutput: the forward's output shape.
///   - options: the forward's options.
/// - Returns: dL/dx, x's shape.
/// - Throws: ``SwiftCNNError`` for the forward's errors, a gradOutput of another shape, or memory running out.
public func maxPool2dBackward(_ x: Tensor, gradOutput: Tensor, _ options: Pool2DOptions) throws -> Tensor {
    let op = "maxPool2dBackward"
    let g = try pool2dGeometry(x, options, op: op)
    try checkPoolGradOutput(op, inputShape: x.shape, g, gradOutput: gradOutput)
    return try layerOutput(x.shape, reading: x) { xp, dxp in
        gradOutput.withUnsafePointer { gp in
            if KernelDispatch.forceReference {
                Reference.maxPool2dBackward(g, input: xp, gradOutput: gp, gradInput: dxp)
            } else {
                Optimized.maxPool2dBackward(g, input: xp, gradOutput: gp, gradInput: dxp)
            }
        }
    }
}

/// The backward twin of ``avgPool2d(_:_:)``: each output gradient, divided by the forward's
/// divisor for its window (count_include_pad and the clipped-window rules included), is
/// added to every input element of its window.
/// - Parameters:
///   - inputShape: the forward input's shape, `[N, C, H, W]` or `[C, H, W]`.
///   - gradOutput: the forward's output shape.
///   - options: the forward's options.
/// - Returns: dL/dx of shape `inputShape`.
/// - Throws: ``SwiftCNNError`` for the forward's errors, a bad `inputShape`, a gradOutput of
///   another shape, or memory running out.
public func avgPool2dBackward(inputShape: [Int], gradOutput: Tensor, _ options: Pool2DOptions) throws -> Tensor {
    let op = "avgPool2dBackward"
    let g = try pool2dGeometry(shape: inputShape, options, op: op)
    try checkPoolGradOutput(op, inputShape: inputShape, g, gradOutput: gradOutput)
    return try layerOutput(inputShape, reading: gradOutput) { gp, dxp in
        if KernelDispatch.forceReference {
            Reference.avgPool2dBackward(g, gradOutput: gp, gradInput: dxp)
        } else {
            Optimized.avgPool2dBackward(g, gradOutput: gp, gradInput: dxp)
        }
    }
}

/// The backward twin of ``adaptiveAvgPool2d(_:outputSize:)`` (and of ``globalAvgPool2d(_:)``
/// with a `[N, C, 1, 1]` gradOutput): the output size is gradOutput's last two dims; each
/// output gradient, divided by its window's area, is added to the window's input elements.
/// - Parameters:
///   - inputShape: the forward input's shape, `[N, C, H, W]` or `[C, H, W]`.
///   - gradOutput: `[N, C, OH, OW]` (or `[C, OH, OW]`).
/// - Returns: dL/dx of shape `inputShape`.
/// - Throws: ``SwiftCNNError`` for a bad `inputShape`, a gradOutput whose rank, batch or
///   channels differ, or memory running out.
public func adaptiveAvgPool2dBackward(inputShape: [Int], gradOutput: Tensor) throws -> Tensor {
    let op = "adaptiveAvgPool2dBackward"
    _ = try imageDims(shape: inputShape, op, "inputShape")
    guard gradOutput.rank == inputShape.count else {
        throw SwiftCNNError.shapeMismatch(
            "\(op): gradOutput must have the input's rank \(inputShape.count) (input \(Tensor.describe(inputShape))); got shape \(Tensor.describe(gradOutput.shape))")
    }
    let r = gradOutput.rank
    let g = try adaptivePoolGeometry(shape: inputShape, outputSize: Size2D(gradOutput.shape[r - 2], gradOutput.shape[r - 1]), op: op)
    try checkPoolGradOutput(op, inputShape: inputShape, g, gradOutput: gradOutput)
    return try layerOutput(inputShape, reading: gradOutput) { gp, dxp in
        if KernelDispatch.forceReference {
            Reference.adaptiveAvgPool2dBackward(g, gradOutput: gp, gradInput: dxp)
        } else {
            Optimized.adaptiveAvgPool2dBackward(g, gradOutput: gp, gradInput: dxp)
        }
    }
}
