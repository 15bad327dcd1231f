import CSwiftCNNTypes
import SwiftCNN

// MARK: - Tensors

/// Creates a tensor of the given shape filled with zeros.
/// shape: `rank` dimensions (rank 1 to 4, each >= 1). On success *out is a new tensor
/// that the caller frees with scnn_tensor_destroy; on failure *out is NULL.
/// Errors: INVALID_ARGUMENT (NULL pointer, bad rank or dimension, size overflow),
/// OUT_OF_MEMORY.
@c(scnn_tensor_create)
public func scnnTensorCreate(
    _ shape: UnsafePointer<Int64>?, _ rank: Int32, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) { try Tensor(zeros: try shapeArg(shape, rank)) }
}

/// Creates a tensor holding a copy of `count` floats at `data`; `count` must equal the
/// product of the shape. The caller keeps ownership of `data`. *out as in scnn_tensor_create.
/// Errors: INVALID_ARGUMENT, SHAPE_MISMATCH (count differs from the shape's), OUT_OF_MEMORY.
@c(scnn_tensor_from_data)
public func scnnTensorFromData(
    _ data: UnsafePointer<Float>?, _ count: Int64, _ shape: UnsafePointer<Int64>?, _ rank: Int32,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) {
        let s = try shapeArg(shape, rank)
        return try Tensor(shape: s, copying: try required(data, "data"), count: Int(count))
    }
}

/// Creates a tensor that reads `count` floats at `data` without copying them: the way to
/// pass a large input to an operation. `data` must stay valid and unchanged until the
/// tensor is destroyed. The library never writes to it: scnn_tensor_mutable_data on a
/// wrapped tensor first gives the tensor a private copy. No other tensor ever borrows
/// `data`: results of operations on a wrapped tensor have storage of their own.
/// *out as in scnn_tensor_create; destroying it does not free `data`.
/// Errors: INVALID_ARGUMENT, SHAPE_MISMATCH (count differs from the shape's).
@c(scnn_tensor_wrap)
public func scnnTensorWrap(
    _ data: UnsafePointer<Float>?, _ count: Int64, _ shape: UnsafePointer<Int64>?, _ rank: Int32,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out, borrowing: true) {
        let s = try shapeArg(shape, rank)
        return try Tensor(borrowing: try required(data, "data"), count: Int(count), shape: s)
    }
}

/// Creates a tensor with the same elements as `tensor` under a new shape with the same
/// element count. The two share storage until either is written to (a wrapped tensor's
/// elements are copied instead). *out as in scnn_tensor_create.
/// Errors: INVALID_ARGUMENT, SHAPE_MISMATCH (the counts differ).
@c(scnn_tensor_reshape)
public func scnnTensorReshape(
    _ tensor: UnsafePointer<scnn_tensor>?, _ shape: UnsafePointer<Int64>?, _ rank: Int32,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) { try tensorArg(tensor, "tensor").reshaped(try shapeArg(shape, rank)) }
}

/// Frees a tensor made by this library. NULL is a no-op.
@c(scnn_tensor_destroy)
public func scnnTensorDestroy(_ tensor: UnsafeMutablePointer<scnn_tensor>?) {
    guard let tensor else { return }
    Unmanaged<TensorBox>.fromOpaque(UnsafeRawPointer(tensor)).release()
}

/// The tensor's rank (1 to 4), or 0 for NULL.
@c(scnn_tensor_rank)
public func scnnTensorRank(_ tensor: UnsafePointer<scnn_tensor>?) -> Int32 {
    guard let tensor else { return 0 }
    return Int32(box(tensor).tensor.rank)
}

/// The tensor's element count, or 0 for NULL.
@c(scnn_tensor_numel)
public func scnnTensorNumel(_ tensor: UnsafePointer<scnn_tensor>?) -> Int64 {
    guard let tensor else { return 0 }
    return Int64(box(tensor).tensor.count)
}

/// Writes the tensor's dimensions to `shape`, which has room for `capacity` values
/// (4 is always enough). Errors: INVALID_ARGUMENT (NULL pointer, capacity below the rank).
@c(scnn_tensor_shape)
public func scnnTensorShape(
    _ tensor: UnsafePointer<scnn_tensor>?, _ shape: UnsafeMutablePointer<Int64>?, _ capacity: Int32
) -> scnn_status {
    guarded {
        let t = try tensorArg(tensor, "tensor")
        let dst = try required(shape, "shape")
        guard Int(capacity) >= t.rank else {
            throw SwiftCNNError.invalidArgument("shape capacity \(capacity) is below the tensor's rank \(t.rank)")
        }
        for (i, d) in t.shape.enumerated() { dst[i] = Int64(d) }
    }
}

/// The tensor's elements, read-only, row-major; NULL for NULL. The pointer is valid until
/// the tensor is destroyed or written to through scnn_tensor_mutable_data.
@c(scnn_tensor_data)
public func scnnTensorData(_ tensor: UnsafePointer<scnn_tensor>?) -> UnsafePointer<Float>? {
    guard let tensor else { return nil }
    return box(tensor).tensor.withUnsafeBufferPointer { $0.baseAddress }
}

/// The tensor's elements, writable; NULL for NULL, or when memory for a private copy
/// cannot be had (scnn_last_error says so). A tensor that shares or borrows its storage
/// gets a private copy first, so writing never changes another tensor or a wrapped buffer.
/// The pointer is valid until the tensor is destroyed.
@c(scnn_tensor_mutable_data)
public func scnnTensorMutableData(_ tensor: UnsafeMutablePointer<scnn_tensor>?) -> UnsafeMutablePointer<Float>? {
    guard let tensor else {
        setLastError("tensor is NULL")
        return nil
    }
    let b = box(UnsafePointer(tensor))
    var result: UnsafeMutablePointer<Float>? = nil
    let status = guarded {
        result = try b.tensor.withUnsafeMutableBufferPointer { $0.baseAddress }
    }
    return status == .ok ? result : nil
}

/// Copies the tensor's elements to `dst`, which has room for `capacity` floats.
/// Errors: INVALID_ARGUMENT (NULL pointer), SHAPE_MISMATCH (capacity below the element count).
@c(scnn_tensor_copy_to)
public func scnnTensorCopyTo(
    _ tensor: UnsafePointer<scnn_tensor>?, _ dst: UnsafeMutablePointer<Float>?, _ capacity: Int64
) -> scnn_status {
    guarded {
        let t = try tensorArg(tensor, "tensor")
        let d = try required(dst, "dst")
        guard capacity >= Int64(t.count) else {
            throw SwiftCNNError.shapeMismatch("dst holds \(capacity) floats; the tensor has \(t.count)")
        }
        t.withUnsafePointer { d.initialize(from: $0, count: t.count) }
    }
}
