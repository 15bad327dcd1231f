import SwiftCNN

// MARK: - Shape analysis and counts

/// How scnn_output_size treats a stride that does not fit the input exactly.
@c public enum scnn_output_size_mode: Int32 {
    /// A stride that does not fit is an INVALID_ARGUMENT error (e.g. (7 - 3)/3 + 1 = 2.33).
    case exact = 0
    /// Round down (PyTorch's default for convolution and pooling).
    case floor = 1
    /// Round up (the plain formula; pooling's ceil mode also drops a window starting in the right padding).
    case ceil = 2
}

/// The output size along one dimension of a convolution or pooling window:
/// (input + 2*padding - dilation*(kernel - 1) - 1) / stride + 1.
/// `mode` is an scnn_output_size_mode: EXACT fails when the division is not exact (the message
/// shows the fractional value, e.g. "2.33"); FLOOR and CEIL round. Writes the size to *out.
/// Errors: INVALID_ARGUMENT (NULL out, input/kernel/stride/dilation < 1, padding < 0, unknown
/// mode, a dilated kernel larger than the padded input, a stride that does not fit in EXACT
/// mode, overflow). *out is left unchanged on failure.
@c(scnn_output_size)
public func scnnOutputSize(
    _ input: Int64, _ kernel: Int64, _ stride: Int64, _ padding: Int64, _ dilation: Int64, _ mode: Int32,
    _ out: UnsafeMutablePointer<Int64>?
) -> scnn_status {
    produceCount(out) {
        guard let m = OutputSizeMode(rawValue: mode) else {
            throw SwiftCNNError.invalidArgument("output_size: mode must be 0 (exact), 1 (floor) or 2 (ceil); got \(mode)")
        }
        return try outputSize(
            input: Int(input), kernel: Int(kernel), stride: Int(stride), padding: Int(padding), dilation: Int(dilation), mode: m)
    }
}

/// The receptive field of `count` stacked conv/pool layers, along one dimension:
/// size = 1 + sum_i dilation_i*(kernel_i - 1) * (product of the strides before layer i).
/// `kernels`, `strides`: `count` values each (>= 1); `dilations`: `count` values (>= 1) or NULL for
/// all 1. `count` 0 is an empty stack (size 1, jump 1; the arrays may then be NULL).
/// Writes the size in input pixels to *out_size and, when `out_jump` is not NULL, the distance in
/// input pixels between neighbouring outputs (the product of the strides) to *out_jump.
/// Errors: INVALID_ARGUMENT (NULL kernels/strides/out_size, count < 0, a value < 1, overflow).
@c(scnn_receptive_field)
public func scnnReceptiveField(
    _ kernels: UnsafePointer<Int64>?, _ strides: UnsafePointer<Int64>?, _ dilations: UnsafePointer<Int64>?,
    _ count: Int32, _ out_size: UnsafeMutablePointer<Int64>?, _ out_jump: UnsafeMutablePointer<Int64>?
) -> scnn_status {
    guarded {
        let size = try required(out_size, "out_size")
        guard count >= 0 else {
            throw SwiftCNNError.invalidArgument("receptive_field: count must be >= 0; got \(count)")
        }
        var layers: [ReceptiveFieldLayer] = []
        if count > 0 {
            let k = try required(kernels, "kernels"), s = try required(strides, "strides")
            for i in 0..<Int(count) {
                layers.append(ReceptiveFieldLayer(kernel: Int(k[i]), stride: Int(s[i]), dilation: dilations.map { Int($0[i]) } ?? 1))
            }
        }
        let rf = try receptiveField(layers)
        size.pointee = Int64(rf.size)
        out_jump?.pointee = Int64(rf.jump)
    }
}

/// Learnable parameters of a 2-D convolution: out_channels * (in_channels/groups) * kernel_h *
/// kernel_w weights, plus out_channels biases when `bias` is nonzero. Writes the count to *out.
/// Errors: INVALID_ARGUMENT (NULL out, a size < 1, groups not dividing both channel counts, overflow).
@c(scnn_conv2d_parameter_count)
public func scnnConv2dParameterCount(
    _ in_channels: Int64, _ out_channels: Int64, _ kernel_h: Int64, _ kernel_w: Int64, _ groups: Int64, _ bias: Int32,
    _ out: UnsafeMutablePointer<Int64>?
) -> scnn_status {
    produceCount(out) {
        try conv2dParameterCount(
            inChannels: Int(in_channels), outChannels: Int(out_channels), kernel: Size2D(Int(kernel_h), Int(kernel_w)),
            groups: Int(groups), bias: flag(bias))
    }
}

/// Learnable parameters of a fully connected layer: in_features * out_features weights, plus
/// out_features biases when `bias` is nonzero. Writes the count to *out.
/// Errors: INVALID_ARGUMENT (NULL out, a size < 1, overflow).
@c(scnn_linear_parameter_count)
public func scnnLinearParameterCount(
    _ in_features: Int64, _ out_features: Int64, _ bias: Int32, _ out: UnsafeMutablePointer<Int64>?
) -> scnn_status {
    produceCount(out) {
        try linearParameterCount(inFeatures: Int(in_features), outFeatures: Int(out_features), bias: flag(bias))
    }
}

/// Multiply-accumulates of a 2-D convolution for one image: out_h * out_w * out_channels *
/// (in_channels/groups) * kernel_h * kernel_w. Writes the count to *out.
/// Errors: INVALID_ARGUMENT (NULL out, a size < 1, groups not dividing both channel counts, overflow).
@c(scnn_conv2d_macs)
public func scnnConv2dMACs(
    _ in_channels: Int64, _ out_channels: Int64, _ kernel_h: Int64, _ kernel_w: Int64, _ groups: Int64,
    _ out_h: Int64, _ out_w: Int64, _ out: UnsafeMutablePointer<Int64>?
) -> scnn_status {
    produceCount(out) {
        try conv2dMACs(
            inChannels: Int(in_channels), outChannels: Int(out_channels), kernel: Size2D(Int(kernel_h), Int(kernel_w)),
            groups: Int(groups), output: Size2D(Int(out_h), Int(out_w)))
    }
}

/// Multiply-accumulates of a fully connected layer for one sample: in_features * out_features.
/// Writes the count to *out. Errors: INVALID_ARGUMENT (NULL out, a size < 1, overflow).
@c(scnn_linear_macs)
public func scnnLinearMACs(_ in_features: Int64, _ out_features: Int64, _ out: UnsafeMutablePointer<Int64>?) -> scnn_status {
    produceCount(out) {
        try linearMACs(inFeatures: Int(in_features), outFeatures: Int(out_features))
    }
}

// MARK: - Internal helpers (not exported)

/// Runs `make` and writes its result to *out; *out is left unchanged on failure (a NULL
/// `out` is INVALID_ARGUMENT, checked first).
func produceCount(_ out: UnsafeMutablePointer<Int64>?, _ make: () throws -> Int) -> scnn_status {
    guarded {
        let dst = try required(out, "out")
        dst.pointee = Int64(try make())
    }
}
