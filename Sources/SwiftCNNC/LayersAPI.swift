import CSwiftCNNTypes
import SwiftCNN

// MARK: - Activations

/// Rectified linear unit, elementwise: max(x, 0) (NaN stays NaN). `input`: any shape.
/// On success *out is a new tensor of the input's shape, freed with scnn_tensor_destroy;
/// on failure *out is NULL.
/// Errors: INVALID_ARGUMENT (NULL pointer), OUT_OF_MEMORY.
@c(scnn_relu)
public func scnnRelu(
    _ input: UnsafePointer<scnn_tensor>?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) { try relu(try tensorArg(input, "input")) }
}

/// Hyperbolic tangent, elementwise (saturates to +-1). `input`: any shape.
/// *out: a new tensor of the input's shape (scnn_tensor_destroy); NULL on failure.
/// Errors: INVALID_ARGUMENT (NULL pointer), OUT_OF_MEMORY.
@c(scnn_tanh)
public func scnnTanh(
    _ input: UnsafePointer<scnn_tensor>?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) { try SwiftCNN.tanh(try tensorArg(input, "input")) }
}

/// Logistic sigmoid 1 / (1 + exp(-x)), elementwise, without overflow for large |x|.
/// `input`: any shape. *out: a new tensor of the input's shape (scnn_tensor_destroy); NULL on failure.
/// Errors: INVALID_ARGUMENT (NULL pointer), OUT_OF_MEMORY.
@c(scnn_sigmoid)
public func scnnSigmoid(
    _ input: UnsafePointer<scnn_tensor>?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) { try sigmoid(try tensorArg(input, "input")) }
}

/// Numerically stable softmax along `axis`: exp(x - max) / sum(exp(x - max)); each slice
/// along the axis sums to 1. `axis` is in -rank..rank-1; negative values count from the end
/// (-1: the last axis). *out: a new tensor of the input's shape (scnn_tensor_destroy); NULL on failure.
/// Errors: INVALID_ARGUMENT (NULL pointer, axis out of range), OUT_OF_MEMORY.
@c(scnn_softmax)
public func scnnSoftmax(
    _ input: UnsafePointer<scnn_tensor>?, _ axis: Int32, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) { try softmax(try tensorArg(input, "input"), axis: Int(axis)) }
}

// MARK: - Normalization

/// Local response normalization across channels, exactly PyTorch's LocalResponseNorm:
/// b[n,c] = a[n,c] / (k + alpha/size * sum of a[n,c']^2 over c' = c - size/2 ... c + (size-1)/2)^beta,
/// channels outside the tensor counting as 0 (size/2 rounded down).
/// `input`: [N, C, L] or [N, C, H, W] (channels are dimension 1, as in PyTorch).
/// `size`: channels in the window (>= 1). `alpha` >= 0, `beta` >= 0, `k` > 0, all finite, with
/// k^beta > 0 in float32 (PyTorch's defaults are 1e-4, 0.75, 1); other values would make outputs
/// NaN or infinite. *out: a new tensor of the input's shape (scnn_tensor_destroy); NULL on failure.
/// Errors: INVALID_ARGUMENT (NULL pointer, rank below 3, size < 1, a parameter out of its
/// domain), OUT_OF_MEMORY.
@c(scnn_local_response_norm)
public func scnnLocalResponseNorm(
    _ input: UnsafePointer<scnn_tensor>?, _ size: Int64, _ alpha: Float, _ beta: Float, _ k: Float,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) { try localResponseNorm(try tensorArg(input, "input"), size: Int(size), alpha: alpha, beta: beta, k: k) }
}

/// Batch normalization at inference from running statistics:
/// y = (x - running_mean[c]) / sqrt(running_var[c] + eps) * weight[c] + bias[c].
/// `input`: [N, C], [N, C, L] or [N, C, H, W] (channels are dimension 1).
/// `running_mean`, `running_var`: rank 1, [C]. `weight`, `bias`: [C], or NULL for 1 and 0.
/// `eps`: finite, >= 0 (PyTorch's default is 1e-5).
/// *out: a new tensor of the input's shape (scnn_tensor_destroy); NULL on failure.
/// Errors: INVALID_ARGUMENT (NULL input or statistics, input rank below 2, bad eps),
/// SHAPE_MISMATCH (a statistic, weight or bias that is not [C]), OUT_OF_MEMORY.
@c(scnn_batch_norm)
public func scnnBatchNorm(
    _ input: UnsafePointer<scnn_tensor>?, _ running_mean: UnsafePointer<scnn_tensor>?,
    _ running_var: UnsafePointer<scnn_tensor>?, _ weight: UnsafePointer<scnn_tensor>?,
    _ bias: UnsafePointer<scnn_tensor>?, _ eps: Float, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) {
        try batchNorm(
            try tensorArg(input, "input"), runningMean: try tensorArg(running_mean, "running_mean"),
            runningVar: try tensorArg(running_var, "running_var"), weight: optionalTensorArg(weight),
            bias: optionalTensorArg(bias), eps: eps)
    }
}

// MARK: - Fully connected and reshaping

/// Fully connected layer: y = x * weight^T + bias (PyTorch's linear).
/// `input`: [N, in] or [in]. `weight`: [out, in]. `bias`: [out], or NULL for none.
/// *out: a new tensor [N, out] (or [out] for a rank-1 input), freed with scnn_tensor_destroy; NULL on failure.
/// Errors: INVALID_ARGUMENT (NULL input or weight, input rank not 1 or 2, weight rank not 2),
/// SHAPE_MISMATCH (weight's in differs from the input's features, bias not [out]), OUT_OF_MEMORY.
@c(scnn_linear)
public func scnnLinear(
    _ input: UnsafePointer<scnn_tensor>?, _ weight: UnsafePointer<scnn_tensor>?, _ bias: UnsafePointer<scnn_tensor>?,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) {
        try linear(try tensorArg(input, "input"), weight: try tensorArg(weight, "weight"), bias: optionalTensorArg(bias))
    }
}

/// Flattens the dimensions from `start_axis` to the end into one (torch.flatten(x, start_axis)):
/// [N, C, H, W] with start_axis 1 gives [N, C*H*W]. `start_axis` is in -rank..rank-1; negative
/// values count from the end. *out: a new tensor (scnn_tensor_destroy); NULL on failure.
/// Errors: INVALID_ARGUMENT (NULL pointer, start_axis out of range), OUT_OF_MEMORY.
@c(scnn_flatten)
public func scnnFlatten(
    _ input: UnsafePointer<scnn_tensor>?, _ start_axis: Int32, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) { try flatten(try tensorArg(input, "input"), startAxis: Int(start_axis)) }
}

/// Dropout at inference: the identity (PyTorch's dropout in eval mode). `p`, the training-time
/// drop probability, must be in [0, 1). *out: a new tensor equal to the input (scnn_tensor_destroy); NULL on failure.
/// Errors: INVALID_ARGUMENT (NULL pointer, p outside [0, 1) or NaN), OUT_OF_MEMORY.
@c(scnn_dropout)
public func scnnDropout(
    _ input: UnsafePointer<scnn_tensor>?, _ p: Float, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) { try dropout(try tensorArg(input, "input"), p: p, training: false) }
}

/// Concatenates `count` tensors along `axis` (torch.cat); `inputs` is an array of `count`
/// tensor pointers, none NULL. All have the same rank and the same sizes except along `axis`,
/// which is in -rank..rank-1 (negative counts from the end; 1 is channels of [N, C, H, W]).
/// *out: a new tensor (scnn_tensor_destroy); NULL on failure.
/// Errors: INVALID_ARGUMENT (NULL array or element, count < 1, axis out of range, total size
/// overflow), SHAPE_MISMATCH (ranks or other dimensions differ), OUT_OF_MEMORY.
@c(scnn_concat)
public func scnnConcat(
    _ inputs: UnsafePointer<UnsafePointer<scnn_tensor>?>?, _ count: Int32, _ axis: Int32,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) {
        let list = try required(inputs, "inputs")
        guard count >= 1 else {
            throw SwiftCNNError.invalidArgument("concat: count must be at least 1; got \(count)")
        }
        var tensors: [Tensor] = []
        tensors.reserveCapacity(Int(count))
        for i in 0..<Int(count) { tensors.append(try tensorArg(list[i], "inputs[\(i)]")) }
        return try concat(tensors, axis: Int(axis))
    }
}

/// Elementwise sum a + b of two tensors of the same shape (no broadcasting).
/// *out: a new tensor of that shape (scnn_tensor_destroy); NULL on failure.
/// Errors: INVALID_ARGUMENT (NULL pointer), SHAPE_MISMATCH (the shapes differ), OUT_OF_MEMORY.
@c(scnn_add)
public func scnnAdd(
    _ a: UnsafePointer<scnn_tensor>?, _ b: UnsafePointer<scnn_tensor>?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) { try add(try tensorArg(a, "a"), try tensorArg(b, "b")) }
}
