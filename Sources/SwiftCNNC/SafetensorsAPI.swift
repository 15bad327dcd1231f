import CSwiftCNNTypes
import SwiftCNN

// MARK: - Safetensors files

/// Reads the tensor called `name` from the safetensors file at `path` (e.g. a data set
/// written by numpy or `safetensors.numpy.save_file`). F32, F16, BF16 and F64 tensors of
/// rank 1 to 4 load, converted to float32 (integers are not: store labels as F32, which
/// holds every integer up to 2^24 exactly). The whole file is validated first; unknown fields
/// in a tensor's entry are ignored, as the reference implementation ignores them. `path` is
/// taken byte for byte and must name a regular file (see "Paths" and "Files" at the top).
/// *out is a new tensor freed with scnn_tensor_destroy; NULL on failure.
/// Errors: INVALID_ARGUMENT (NULL pointer, no tensor called `name`), IO (cannot read the
/// file), FORMAT (malformed file), UNSUPPORTED (the tensor has another dtype, rank 0 or a
/// rank above 4), OUT_OF_MEMORY.
@c(scnn_safetensors_read)
public func scnnSafetensorsRead(
    _ path: UnsafePointer<CChar>?, _ name: UnsafePointer<CChar>?,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) {
        let p = try pathArg(path)
        let n = try stringArg(name, "name")
        return try SafeTensorsFile.read(path: p).tensor(n)
    }
}

/// Writes `count` tensors (float32, F32 entries) called `names[i]` to a safetensors file at
/// `path`, in that order, atomically: a temporary file is written, synced and renamed over
/// `path`, so a failure leaves an existing file intact. numpy/PyTorch's safetensors readers
/// load it. A killed write leaves no partial file (see "Files" at the top).
/// Errors: INVALID_ARGUMENT (NULL pointer or element, count out of 1 to 2^31 - 1, a name
/// given twice), IO (cannot write; path is a directory or another special file), OUT_OF_MEMORY.
@c(scnn_safetensors_write)
public func scnnSafetensorsWrite(
    _ path: UnsafePointer<CChar>?, _ names: UnsafePointer<UnsafePointer<CChar>?>?,
    _ tensors: UnsafePointer<UnsafePointer<scnn_tensor>?>?, _ count: Int64
) -> scnn_status {
    guarded {
        let p = try pathArg(path)
        guard count >= 1 && count <= Int64(Int32.max) else {
            throw SwiftCNNError.invalidArgument("safetensors: count must be >= 1; got \(count)")
        }
        let ns = try required(names, "names")
        let ts = try required(tensors, "tensors")
        var items: [(String, Tensor)] = []
        for i in 0..<Int(count) {
            let key = try stringArg(ns[i], "names[\(i)]")
            items.append((key, try tensorArg(ts[i], "tensors[\(i)] (\(key))")))
        }
        try SafeTensorsFile(tensors: items).write(to: p)
    }
}
