import CSwiftCNNTypes
import SwiftCNN

// MARK: - Convolution

/// Output length mode of scnn_correlate1d and scnn_convolve1d, as in numpy.
@c public enum scnn_conv1d_mode: Int32 {
    /// Only full overlaps: max(M, N) - min(M, N) + 1 values.
    case valid = 0
    /// max(M, N) values, centred like numpy.
    case same = 1
    /// Every partial overlap: M + N - 1 values.
    case full = 2
}

/// 2-D cross-correlation (what CNN libraries call convolution), like PyTorch's conv2d:
/// out[n,o,y,x] = bias[o] + sum over c,k,l of weight[o,c,k,l] times input[n, g·C/groups + c,
/// y·stride_h - pad_top + k·dil_h, x·stride_w - pad_left + l·dil_w], zero outside the input
/// (g = o / (O/groups), the group of output channel o).
/// input: [N, C, H, W] or [C, H, W]. weight: [O, C/groups, KH, KW]. bias: [O], or NULL for none.
/// stride: 2 values (h, w), each >= 1, or NULL for 1. padding: 4 values (top, bottom, left,
/// right) in pixels, each >= 0, or NULL for 0. dilation: 2 values (h, w), each >= 1, or NULL
/// for 1. groups: >= 1, dividing C and O.
/// Output size per dim: (in + pad_before + pad_after - dil·(k-1) - 1) / stride + 1, rounded down.
/// On success *out is a new tensor [N, O, OH, OW] (or [O, OH, OW] for a rank-3 input) that the
/// caller frees with scnn_tensor_destroy; on failure *out is NULL.
/// Errors: INVALID_ARGUMENT (NULL input/weight/out, input rank not 3 or 4, weight rank not 4,
/// stride or dilation < 1, negative padding, groups < 1 or not dividing C and O, dilated kernel
/// larger than the padded input), SHAPE_MISMATCH (weight channels != C/groups, bias length != O),
/// OUT_OF_MEMORY.
@c(scnn_conv2d)
public func scnnConv2d(
    _ input: UnsafePointer<scnn_tensor>?, _ weight: UnsafePointer<scnn_tensor>?, _ bias: UnsafePointer<scnn_tensor>?,
    _ stride: UnsafePointer<Int64>?, _ padding: UnsafePointer<Int64>?, _ dilation: UnsafePointer<Int64>?,
    _ groups: Int64, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    conv2dCall(input, weight, bias, stride, padding, dilation, groups, flip: false, out)
}

/// True 2-D convolution: scnn_conv2d with the kernel flipped in both spatial dims
/// (weight[o,c,KH-1-k,KW-1-l]). Same arguments, output, ownership and errors as scnn_conv2d.
@c(scnn_convolve2d)
public func scnnConvolve2d(
    _ input: UnsafePointer<scnn_tensor>?, _ weight: UnsafePointer<scnn_tensor>?, _ bias: UnsafePointer<scnn_tensor>?,
    _ stride: UnsafePointer<Int64>?, _ padding: UnsafePointer<Int64>?, _ dilation: UnsafePointer<Int64>?,
    _ groups: Int64, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    conv2dCall(input, weight, bias, stride, padding, dilation, groups, flip: true, out)
}

/// 1-D cross-correlation, exactly numpy's np.correlate(x, w, mode) for real inputs.
/// x, w: rank-1 tensors. mode: an scnn_conv1d_mode value (VALID, SAME or FULL).
/// Output length: VALID max(M,N)-min(M,N)+1, SAME max(M,N), FULL M+N-1.
/// On success *out is a new rank-1 tensor freed with scnn_tensor_destroy; NULL on failure.
/// Errors: INVALID_ARGUMENT (NULL pointer, an input not rank 1, mode not a known value), OUT_OF_MEMORY.
@c(scnn_correlate1d)
public func scnnCorrelate1d(
    _ x: UnsafePointer<scnn_tensor>?, _ w: UnsafePointer<scnn_tensor>?, _ mode: Int32,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) {
        try correlate1d(try tensorArg(x, "x"), try tensorArg(w, "w"), mode: try conv1dMode(mode, "correlate1d"))
    }
}

/// 1-D convolution, exactly numpy's np.convolve(x, w, mode). Arguments, output, ownership
/// and errors as scnn_correlate1d.
@c(scnn_convolve1d)
public func scnnConvolve1d(
    _ x: UnsafePointer<scnn_tensor>?, _ w: UnsafePointer<scnn_tensor>?, _ mode: Int32,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) {
        try convolve1d(try tensorArg(x, "x"), try tensorArg(w, "w"), mode: try conv1dMode(mode, "convolve1d"))
    }
}

// MARK: - Pooling

/// 2-D max pooling, like PyTorch's max_pool2d: each output is the maximum of its window;
/// padding counts as -infinity; a NaN in a window gives NaN.
/// input: [N, C, H, W] or [C, H, W]. kernel: 2 values (h, w), each >= 1 (required).
/// stride: 2 values, each >= 1, or NULL for the kernel size. padding: 2 values (h, w) applied
/// on both sides, each >= 0 and at most half the kernel, or NULL for 0. ceil_mode: nonzero
/// rounds the output size up (the last window must still start inside the input or its
/// left/top padding). Output size per dim: (in + 2·pad - k) / stride + 1, rounded down (or up).
/// On success *out is a new tensor [N, C, OH, OW] (or [C, OH, OW]) freed with
/// scnn_tensor_destroy; NULL on failure.
/// Errors: INVALID_ARGUMENT (NULL input/kernel/out, rank not 3 or 4, kernel or stride < 1,
/// padding negative or above half the kernel, empty output), OUT_OF_MEMORY.
@c(scnn_max_pool2d)
public func scnnMaxPool2d(
    _ input: UnsafePointer<scnn_tensor>?, _ kernel: UnsafePointer<Int64>?, _ stride: UnsafePointer<Int64>?,
    _ padding: UnsafePointer<Int64>?, _ ceil_mode: Int32,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    pool2dCall(maxPool2d, input, kernel, stride, padding, ceil_mode, countIncludePad: 1, out)
}

/// 2-D average pooling, like PyTorch's avg_pool2d: zero padding; each window is clipped to
/// the padded input; the divisor is that window's area when count_include_pad is nonzero,
/// else the number of its elements inside the input. Arguments as scnn_max_pool2d, plus
/// count_include_pad. Output, ownership and errors as scnn_max_pool2d.
@c(scnn_avg_pool2d)
public func scnnAvgPool2d(
    _ input: UnsafePointer<scnn_tensor>?, _ kernel: UnsafePointer<Int64>?, _ stride: UnsafePointer<Int64>?,
    _ padding: UnsafePointer<Int64>?, _ ceil_mode: Int32, _ count_include_pad: Int32,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    pool2dCall(avgPool2d, input, kernel, stride, padding, ceil_mode, countIncludePad: count_include_pad, out)
}

/// The mean of each plane: [N, C, H, W] -> [N, C, 1, 1], or [C, H, W] -> [C, 1, 1].
/// On success *out is a new tensor freed with scnn_tensor_destroy; NULL on failure.
/// Errors: INVALID_ARGUMENT (NULL pointer, rank not 3 or 4), OUT_OF_MEMORY.
@c(scnn_global_avg_pool2d)
public func scnnGlobalAvgPool2d(
    _ input: UnsafePointer<scnn_tensor>?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) { try globalAvgPool2d(try tensorArg(input, "input")) }
}

/// Adaptive average pooling, like PyTorch's adaptive_avg_pool2d: output (i, j) averages rows
/// floor(i·H/OH) to ceil((i+1)·H/OH) - 1, and likewise columns. output_size: 2 values
/// (OH, OW), each >= 1 (may exceed the input size). input: [N, C, H, W] or [C, H, W].
/// On success *out is a new tensor [N, C, OH, OW] (or [C, OH, OW]) freed with
/// scnn_tensor_destroy; NULL on failure.
/// Errors: INVALID_ARGUMENT (NULL pointer, rank not 3 or 4, output size < 1), OUT_OF_MEMORY.
@c(scnn_adaptive_avg_pool2d)
public func scnnAdaptiveAvgPool2d(
    _ input: UnsafePointer<scnn_tensor>?, _ output_size: UnsafePointer<Int64>?,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) {
        let s = try required(output_size, "output_size")
        return try adaptiveAvgPool2d(try tensorArg(input, "input"), outputSize: Size2D(Int(s[0]), Int(s[1])))
    }
}

// MARK: - Kernel dispatch

/// Chooses the kernels for every operation, process-wide: nonzero runs the naive reference
/// kernels (slow, the oracle the optimized ones are tested against); 0 (the default) runs
/// the optimized ones. Safe to call from any thread, also while other threads run: the
/// switch is read as each model forward starts and as each operation starts, so a forward
/// already running may finish some of its layers with either kind. Both kinds compute the
/// same function (optimized results are within 1e-4 of the reference's scale, and
/// usually equal); for bit-reproducible results, switch only when no work is running.
@c(scnn_set_reference_kernels)
public func scnnSetReferenceKernels(_ enable: Int32) {
    KernelDispatch.forceReference = flag(enable)
}

/// 1 when the reference kernels are selected (see scnn_set_reference_kernels), else 0.
@c(scnn_reference_kernels)
public func scnnReferenceKernels() -> Int32 {
    KernelDispatch.forceReference ? 1 : 0
}

// MARK: - Internal helpers (not exported)

/// The body of scnn_conv2d (flip false) and scnn_convolve2d (flip true): converts the C
/// arguments (NULL arrays: defaults; values are checked by the core) and runs conv2d.
func conv2dCall(
    _ input: UnsafePointer<scnn_tensor>?, _ weight: UnsafePointer<scnn_tensor>?, _ bias: UnsafePointer<scnn_tensor>?,
    _ stride: UnsafePointer<Int64>?, _ padding: UnsafePointer<Int64>?, _ dilation: UnsafePointer<Int64>?,
    _ groups: Int64, flip: Bool, _ out: TensorOut?
) -> scnn_status {
    produce(out) {
        let s = optionalInts(stride, count: 2) ?? [1, 1]
        let p = optionalInts(padding, count: 4) ?? [0, 0, 0, 0]
        let d = optionalInts(dilation, count: 2) ?? [1, 1]
        let o = Conv2DOptions(stride: Size2D(s[0], s[1]),
                              padding: Padding2D(top: p[0], bottom: p[1], left: p[2], right: p[3]),
                              dilation: Size2D(d[0], d[1]), groups: Int(groups), flipKernel: flip)
        return try conv2d(try tensorArg(input, "input"), weight: try tensorArg(weight, "weight"),
                          bias: optionalTensorArg(bias), options: o)
    }
}

/// The body of scnn_max_pool2d and scnn_avg_pool2d: Pool2DOptions from the C arrays (kernel
/// required, stride NULL = kernel, padding NULL = 0), then `pool` on the input.
func pool2dCall(
    _ pool: (Tensor, Pool2DOptions) throws -> Tensor, _ input: UnsafePointer<scnn_tensor>?,
    _ kernel: UnsafePointer<Int64>?, _ stride: UnsafePointer<Int64>?, _ padding: UnsafePointer<Int64>?,
    _ ceilMode: Int32, countIncludePad: Int32, _ out: TensorOut?
) -> scnn_status {
    produce(out) {
        let k = try required(kernel, "kernel")
        let s = optionalInts(stride, count: 2).map { Size2D($0[0], $0[1]) }
        let p = optionalInts(padding, count: 2).map { Size2D($0[0], $0[1]) } ?? Size2D(0)
        let o = Pool2DOptions(kernel: Size2D(Int(k[0]), Int(k[1])), stride: s, padding: p,
                              ceilMode: flag(ceilMode), countIncludePad: flag(countIncludePad))
        return try pool(try tensorArg(input, "input"), o)
    }
}

/// A Conv1DMode from a C int32, or INVALID_ARGUMENT naming the valid values.
func conv1dMode(_ mode: Int32, _ op: String) throws -> Conv1DMode {
    switch mode {
    case 0: return .valid
    case 1: return .same
    case 2: return .full
    default:
        throw SwiftCNNError.invalidArgument(
            "\(op): mode must be SCNN_CONV1D_MODE_VALID (0), SAME (1) or FULL (2); got \(mode)")
    }
}
