/// Options of ``conv2d(_:weight:bias:options:)``: stride, zero padding, dilation, groups,
/// and whether the kernel is flipped (true convolution).
public struct Conv2DOptions: Equatable, Sendable {
    /// Step between output positions, in input pixels (each >= 1).
    public var stride: Size2D
    /// Zero padding on each side of the input (each >= 0).
    public var padding: Padding2D
    /// Spacing between kernel taps (each >= 1); 1 is a dense kernel.
    public var dilation: Size2D
    /// Number of channel groups (>= 1, dividing both input and output channels).
    public var groups: Int
    /// `false`: cross-correlation h[m,n] = Σ g[k,l]·f[m+k,n+l] (what CNN libraries call
    /// convolution). `true`: true convolution, the kernel flipped in both spatial dims.
    public var flipKernel: Bool

    /// Options with PyTorch's defaults: stride 1, no padding, dilation 1, one group, no flip.
    public init(stride: Size2D = 1, padding: Padding2D = 0, dilation: Size2D = 1, groups: Int = 1, flipKernel: Bool = false) {
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        self.flipKernel = flipKernel
    }
}

/// The validated geometry of one 2-D convolution: every size is >= 1 and every product of
/// sizes used by the kernels fits in an `Int`. Made only by ``Conv2DGeometry/init(input:weight:bias:options:op:)``.
public struct Conv2DGeometry: Equatable, Sendable {
    /// Batch size.
    public let batch: Int
    /// Input channels, height, width.
    public let inChannels: Int, inHeight: Int, inWidth: Int
    /// Output channels (the weight's first dimension), height, width.
    public let outChannels: Int, outHeight: Int, outWidth: Int
    /// Kernel height and width.
    public let kernelHeight: Int, kernelWidth: Int
    /// Stride, padding, dilation, groups and flip as given.
    public let stride: Size2D, padding: Padding2D, dilation: Size2D
    /// Number of channel groups.
    public let groups: Int
    /// Whether the kernel is flipped (true convolution).
    public let flipKernel: Bool
    /// Whether a bias is added.
    public let hasBias: Bool

    /// Input and output channels per group.
    public var inChannelsPerGroup: Int { inChannels / groups }
    /// Output channels per group.
    public var outChannelsPerGroup: Int { outChannels / groups }
    /// Elements of one output plane, `outHeight·outWidth` (checked at validation).
    public var outPlane: Int { outHeight * outWidth }
    /// Elements of one input plane, `inHeight·inWidth` (checked at validation).
    public var inPlane: Int { inHeight * inWidth }
    /// Rows of the im2col matrix of one group, `inChannelsPerGroup·kernelHeight·kernelWidth` (checked).
    public var patchSize: Int { inChannelsPerGroup * kernelHeight * kernelWidth }

    /// Validates `input` `[N, C, H, W]` or `[C, H, W]`, `weight` `[O, C/groups, KH, KW]`,
    /// `bias` `[O]` and `options`; `op` prefixes the error messages.
    public init(input: Tensor, weight: Tensor, bias: Tensor?, options o: Conv2DOptions, op: String = "conv2d") throws {
        let (n, c, h, w) = try imageDims(input, op)
        guard weight.rank == 4 else {
            throw SwiftCNNError.invalidArgument(
                "\(op): weight must have rank 4 [O, C/groups, KH, KW]; got rank \(weight.rank) (shape \(Tensor.describe(weight.shape)))")
        }
        let (oc, wc, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        guard o.stride.h >= 1 && o.stride.w >= 1 else {
            throw SwiftCNNError.invalidArgument("\(op): stride must be at least 1; got \(o.stride)")
        }
        guard o.dilation.h >= 1 && o.dilation.w >= 1 else {
            throw SwiftCNNError.invalidArgument("\(op): dilation must be at least 1; got \(o.dilation)")
        }
        let p = o.padding
        guard p.top >= 0 && p.bottom >= 0 && p.left >= 0 && p.right >= 0 else {
            throw SwiftCNNError.invalidArgument("\(op): padding must not be negative; got \(p)")
        }
        guard o.groups >= 1 else {
            throw SwiftCNNError.invalidArgument("\(op): groups must be at least 1; got \(o.groups)")
        }
        guard c % o.groups == 0 else {
            throw SwiftCNNError.invalidArgument("\(op): groups (\(o.groups)) must divide the input channels (\(c))")
        }
        guard oc % o.groups == 0 else {
            throw SwiftCNNError.invalidArgument(
                "\(op): groups (\(o.groups)) must divide the output channels (\(oc), the weight's first dimension)")
        }
        guard wc == c / o.groups else {
            throw SwiftCNNError.shapeMismatch(
                "\(op): weight has \(wc) input channels per group but input has \(c) channels / \(o.groups) groups"
                + " (weight shape \(Tensor.describe(weight.shape)), input shape \(Tensor.describe(input.shape)))")
        }
        if let bias {
            guard bias.rank == 1 && bias.count == oc else {
                throw SwiftCNNError.shapeMismatch(
                    "\(op): bias must have shape [\(oc)] (one value per output channel); got \(Tensor.describe(bias.shape))")
            }
        }
        let oh = try conv2dOutputLength(op, "height", input: h, padBefore: p.top, padAfter: p.bottom,
                                        kernel: kh, stride: o.stride.h, dilation: o.dilation.h)
        let ow = try conv2dOutputLength(op, "width", input: w, padBefore: p.left, padAfter: p.right,
                                        kernel: kw, stride: o.stride.w, dilation: o.dilation.w)
        // Sizes the kernels multiply: make sure they fit (the output tensor checks its own count).
        _ = try Checked.product([n, oc, oh, ow], "\(op) output element count")
        _ = try Checked.product([wc, kh, kw, oh, ow], "\(op) im2col buffer size")
        batch = n; inChannels = c; inHeight = h; inWidth = w
        outChannels = oc; outHeight = oh; outWidth = ow
        kernelHeight = kh; kernelWidth = kw
        stride = o.stride; padding = p; dilation = o.dilation; groups = o.groups
        flipKernel = o.flipKernel; hasBias = bias != nil
    }

    /// For `g`, a 1×1 kernel without padding (any stride): the 1×1, stride-1, unpadded
    /// convolution of one group over `g`'s subsampled input (`g.inChannelsPerGroup` planes of
    /// OH×OW, every SH-th row and SW-th column), which gives the same output. Its sizes are
    /// `g`'s own or smaller, so they are as valid as `g`'s.
    init(pointwiseOverSubsampled g: Conv2DGeometry) {
        batch = g.batch; inChannels = g.inChannelsPerGroup; inHeight = g.outHeight; inWidth = g.outWidth
        outChannels = g.outChannelsPerGroup; outHeight = g.outHeight; outWidth = g.outWidth
        kernelHeight = 1; kernelWidth = 1
        stride = Size2D(1); padding = Padding2D(0); dilation = Size2D(1); groups = 1
        flipKernel = g.flipKernel; hasBias = g.hasBias
    }

    /// `g` with a smaller kernel and padding (``liveWindow``): the rest as `g`'s.
    private init(_ g: Conv2DGeometry, kernelHeight kh: Int, kernelWidth kw: Int, padding p: Padding2D) {
        batch = g.batch; inChannels = g.inChannels; inHeight = g.inHeight; inWidth = g.inWidth
        outChannels = g.outChannels
        outHeight = (g.inHeight + p.top + p.bottom - g.dilation.h * (kh - 1) - 1) / g.stride.h + 1
        outWidth = (g.inWidth + p.left + p.right - g.dilation.w * (kw - 1) - 1) / g.stride.w + 1
        kernelHeight = kh; kernelWidth = kw
        stride = g.stride; padding = p; dilation = g.dilation; groups = g.groups
        flipKernel = g.flipKernel; hasBias = g.hasBias
    }

    /// The kernel taps along one dimension that read the input at some output position
    /// (the others read only padding there): tap `k` reads position o·s − p + k·d for
    /// output o, which must fall in `0..<input` for some o in `0..<output`. Returns the
    /// first and last such tap, or nil when none does.
    static func liveTaps(input: Int, padBefore p: Int, kernel: Int, stride s: Int, dilation d: Int,
                         output: Int) -> ClosedRange<Int>? {
        var first = -1, last = -1
        for k in 0..<kernel where !outputsInside(offset: k * d - p, input: input, stride: s, outputs: output).isEmpty {
            if first < 0 { first = k }
            last = k
        }
        return first < 0 ? nil : first...last
    }

    /// Along one dimension, the output positions o in `0..<outputs` whose tap at `offset`
    /// reads inside the input: 0 <= o·stride + offset < input (empty when none). No overflow
    /// for a validated geometry's taps: |offset| and `input` − `offset` are at most the padded
    /// input. What im2col, col2im and ``liveTaps(input:padBefore:kernel:stride:dilation:output:)`` use.
    @inline(__always)
    static func outputsInside(offset off: Int, input: Int, stride s: Int, outputs: Int) -> Range<Int> {
        // ceil(−off / s) and floor((input − 1 − off) / s) + 1, without a division at stride 1.
        let lo = off >= 0 ? 0 : min(outputs, s == 1 ? -off : (-off - 1) / s + 1)
        let hi = input - 1 - off < 0 ? lo : max(lo, min(outputs, s == 1 ? input - off : (input - 1 - off) / s + 1))
        return lo..<hi
    }

    /// The convolution cut down to the part of its kernel that ever reads the input, when
    /// that is smaller than the kernel: a 3×3 kernel with padding 1 on a 1×1 map reads the
    /// input only through its centre tap (ResNet's last stage at 32×32 inputs), and the other
    /// eight multiply padding zeros. The window is the rectangle of the live rows and live
    /// columns (``liveTaps(input:padBefore:kernel:stride:dilation:output:)``); `geometry` is
    /// the same convolution with that kernel and the padding reduced to match, and gives the
    /// same output shape. `rows` and `columns` are the window in the weight's own indices
    /// (flipped when the kernel is). A convolution through the window computes the same sums
    /// less the products with padding zeros (0·w terms; a non-finite w there is what changes).
    /// Nil when every tap is live, when none is (the output is bias alone), or when cutting
    /// would need negative padding (possible only with dilation).
    var liveWindow: (geometry: Conv2DGeometry, rows: ClosedRange<Int>, columns: ClosedRange<Int>)? {
        guard let rows = Self.liveTaps(input: inHeight, padBefore: padding.top, kernel: kernelHeight, stride: stride.h,
                                       dilation: dilation.h, output: outHeight),
              let cols = Self.liveTaps(input: inWidth, padBefore: padding.left, kernel: kernelWidth, stride: stride.w,
                                       dilation: dilation.w, output: outWidth),
              rows.count < kernelHeight || cols.count < kernelWidth else { return nil }
        let p = Padding2D(top: padding.top - rows.lowerBound * dilation.h,
                          bottom: padding.bottom - (kernelHeight - 1 - rows.upperBound) * dilation.h,
                          left: padding.left - cols.lowerBound * dilation.w,
                          right: padding.right - (kernelWidth - 1 - cols.upperBound) * dilation.w)
        guard p.top >= 0, p.bottom >= 0, p.left >= 0, p.right >= 0 else { return nil }
        let cut = Conv2DGeometry(self, kernelHeight: rows.count, kernelWidth: cols.count, padding: p)
        guard cut.outHeight == outHeight, cut.outWidth == outWidth else { return nil }
        if !flipKernel { return (cut, rows, cols) }
        // Tap k of a flipped kernel is the weight's KH−1−k.
        return (cut, (kernelHeight - 1 - rows.upperBound)...(kernelHeight - 1 - rows.lowerBound),
                (kernelWidth - 1 - cols.upperBound)...(kernelWidth - 1 - cols.lowerBound))
    }
}

/// Output length along one dimension: floor((n + padBefore + padAfter − d·(k−1) − 1)/s) + 1,
/// or an error when the dilated kernel is larger than the padded input.
func conv2dOutputLength(_ op: String, _ dim: String, input: Int, padBefore: Int, padAfter: Int,
                        kernel: Int, stride: Int, dilation: Int) throws -> Int {
    let padded = try Checked.add(try Checked.add(input, padBefore, "\(op) padded \(dim)"), padAfter, "\(op) padded \(dim)")
    let span = try Checked.add(try Checked.mul(dilation, kernel - 1, "\(op) dilated kernel \(dim)"), 1, "\(op) dilated kernel \(dim)")
    guard span <= padded else {
        let what = dilation > 1 ? "dilated kernel \(dim) \(span) (kernel \(kernel), dilation \(dilation))" : "kernel \(dim) \(kernel)"
        throw SwiftCNNError.invalidArgument(
            "\(op): \(what) is larger than the padded input \(dim) \(padded) (input \(input) + padding \(padBefore) + \(padAfter))")
    }
    return (padded - span) / stride + 1
}

/// 2-D cross-correlation (what CNN libraries call convolution), like `torch.nn.functional.conv2d`:
/// out[n, o, y, x] = bias[o] + Σ_{c, k, l} weight[o, c, k, l] · in[n, g·C/groups + c, y·sH − padTop + k·dH, x·sW − padLeft + l·dW]
/// with zeros outside the input. With `options.flipKernel`, the kernel is flipped in both
/// spatial dims (true convolution, see ``convolve2d(_:weight:bias:options:)``).
///
/// - Parameters:
///   - input: `[N, C, H, W]` or `[C, H, W]`.
///   - weight: `[O, C/groups, KH, KW]`.
///   - bias: `[O]`, or nil for none.
/// - Returns: `[N, O, OH, OW]` (or `[O, OH, OW]` for a rank-3 input), where per dim
///   out = floor((in + padBefore + padAfter − dilation·(kernel−1) − 1)/stride) + 1.
/// - Throws: ``SwiftCNNError`` when a rank is wrong, stride or dilation < 1, padding < 0,
///   groups < 1 or not dividing C and O, the weight's channels differ from C/groups, the bias
///   length differs from O, the dilated kernel is larger than the padded input, or memory runs out.
public func conv2d(_ input: Tensor, weight: Tensor, bias: Tensor? = nil, options: Conv2DOptions = .init()) throws -> Tensor {
    try conv2dForward(input, weight: weight, bias: bias, options: options,
                      op: options.flipKernel ? "convolve2d" : "conv2d")
}

/// True 2-D convolution: ``conv2d(_:weight:bias:options:)`` with the kernel flipped in both
/// spatial dims (`options.flipKernel` is set to true). Same shapes and errors.
public func convolve2d(_ input: Tensor, weight: Tensor, bias: Tensor? = nil, options: Conv2DOptions = .init()) throws -> Tensor {
    var o = options
    o.flipKernel = true
    return try conv2dForward(input, weight: weight, bias: bias, options: o, op: "convolve2d")
}

/// Validates, allocates the output and runs the reference or optimized kernel (the direct
/// depthwise kernel when groups == input channels and O/groups <= 16, Winograd for large
/// 3×3 stride-1 convolutions, im2col + GEMM otherwise).
func conv2dForward(_ input: Tensor, weight: Tensor, bias: Tensor?, options: Conv2DOptions, op: String) throws -> Tensor {
    let g = try Conv2DGeometry(input: input, weight: weight, bias: bias, options: options, op: op)
    var out = try Tensor(uninitialized: imageShape(rank: input.rank, g.batch, g.outChannels, g.outHeight, g.outWidth))
    try input.withUnsafePointer { xp in
        try weight.withUnsafePointer { wp in
            try withOptionalPointer(bias) { b in
                try out.withUnsafeMutablePointerUnchecked { yp in
                    if KernelDispatch.forceReference {
                        Reference.conv2d(g, input: xp, weight: wp, bias: b, output: yp)
                    } else if Optimized.depthwiseApplies(g) {
                        try Optimized.depthwiseConv2d(g, input: xp, weight: wp, flip: g.flipKernel, bias: b,
                                                      residual: nil, relu: false, output: yp)
                    } else {
                        try Optimized.conv2dUnprepared(g, input: xp, weight: wp, bias: b, output: yp)
                    }
                }
            }
        }
    }
    return out
}

// MARK: - Backward

/// The gradients of a 2-D convolution's loss with respect to its input, weight and bias.
public struct Conv2DGradients {
    /// dL/dinput, the input's shape; nil when not asked for (`computeInputGradient` false).
    public var input: Tensor?
    /// dL/dweight, `[O, C/groups, KH, KW]`.
    public var weight: Tensor
    /// dL/dbias, `[O]`; nil when the convolution has no bias.
    public var bias: Tensor?

    /// The three gradients.
    public init(input: Tensor?, weight: Tensor, bias: Tensor?) {
        self.input = input; self.weight = weight; self.bias = bias
    }
}

/// The backward twin of ``conv2d(_:weight:bias:options:)``: given the forward's input and
/// weight and dL/doutput, returns dL/dinput, dL/dweight and (when `hasBias`) dL/dbias.
///
///     dW[o, c, k, l] = Σ_{n, y, x} dY[n, o, y, x] · in[n, g·Cg + c, y·sH − pT + k·dH, x·sW − pL + l·dW]
///     dX = the transpose of the convolution applied to dY;   db[o] = Σ_{n, y, x} dY[n, o, y, x]
///
/// Runs im2col + GEMM (dW = dY · im2col(X)ᵀ, dX = col2im(Wᵀ · dY), per image and group),
/// or a direct SIMD kernel for depthwise convolutions (groups == input channels); the
/// direct reference loops when ``KernelDispatch/forceReference`` is set.
///
/// - Parameters:
///   - input: `[N, C, H, W]` or `[C, H, W]`, the forward's input.
///   - weight: `[O, C/groups, KH, KW]`.
///   - gradOutput: the shape of conv2d's output, `[N, O, OH, OW]` (or `[O, OH, OW]`).
///   - options: the forward's options (a flipped kernel is handled too).
///   - hasBias: whether to compute the bias gradient.
///   - computeInputGradient: false skips dL/dinput (a network's first layer).
/// - Throws: ``SwiftCNNError`` for the forward's errors, a gradOutput whose shape differs
///   from the forward's output shape, or memory running out.
public func conv2dBackward(_ input: Tensor, weight: Tensor, gradOutput: Tensor, options: Conv2DOptions = .init(),
                           hasBias: Bool, computeInputGradient: Bool = true) throws -> Conv2DGradients {
    let op = "conv2dBackward"
    let g = try Conv2DGeometry(input: input, weight: weight, bias: nil, options: options, op: op)
    let outShape = imageShape(rank: input.rank, g.batch, g.outChannels, g.outHeight, g.outWidth)
    guard gradOutput.shape == outShape else {
        throw SwiftCNNError.shapeMismatch(
            "\(op): gradOutput must have the forward's output shape \(Tensor.describe(outShape)); got \(Tensor.describe(gradOutput.shape))")
    }
    let reference = KernelDispatch.forceReference
    var dW = try Tensor(uninitialized: weight.shape)
    var dX: Tensor? = computeInputGradient ? try Tensor(uninitialized: input.shape) : nil
    try input.withUnsafePointer { xp in
        try weight.withUnsafePointer { wp in
            try gradOutput.withUnsafePointer { gp in
                try dW.withUnsafeMutablePointerUnchecked { dwp in
                    try withOptionalMutablePointer(&dX) { dxp in
                        if reference {
                            Reference.conv2dBackwardWeight(g, input: xp, gradOutput: gp, gradWeight: dwp)
                            if let dxp { Reference.conv2dBackwardInput(g, weight: wp, gradOutput: gp, gradInput: dxp) }
                        } else {
                            try Optimized.conv2dBackward(g, input: xp, weight: wp, gradOutput: gp, gradWeight: dwp, gradInput: dxp)
                        }
                    }
                }
            }
        }
    }
    var dB: Tensor? = nil
    if hasBias {
        dB = try channelSumTensor(gradOutput, batch: g.batch, channels: g.outChannels, spatial: g.outPlane, reference: reference)
    }
    return Conv2DGradients(input: dX, weight: dW, bias: dB)
}

/// Σ over batch and spatial positions of gradOutput `[batch, channels, spatial]`, a new
/// `[channels]` tensor (a bias gradient).
func channelSumTensor(_ gradOutput: Tensor, batch: Int, channels: Int, spatial: Int, reference: Bool) throws -> Tensor {
    try layerOutput([channels], reading: gradOutput) { gp, dbp in
        if reference {
            Reference.channelSum(gp, batch: batch, channels: channels, spatial: spatial, into: dbp)
        } else {
            Optimized.channelSum(gp, batch: batch, channels: channels, spatial: spatial, into: dbp)
        }
    }
}
