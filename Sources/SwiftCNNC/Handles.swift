import CSwiftCNNTypes
import SwiftCNN

// Conversions between C handles and Swift values. Nothing here is exported.

/// The object behind an `scnn_tensor *`.
final class TensorBox {
    var tensor: Tensor
    init(_ tensor: Tensor) { self.tensor = tensor }
}

typealias TensorHandle = UnsafeMutablePointer<scnn_tensor>
typealias TensorOut = UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>

/// A new handle owning one reference to a box holding `tensor`.
func makeHandle(_ tensor: Tensor) -> TensorHandle {
    Unmanaged.passRetained(TensorBox(tensor)).toOpaque().assumingMemoryBound(to: scnn_tensor.self)
}

/// The box behind a handle (not retained: valid while the handle is).
func box(_ handle: UnsafePointer<scnn_tensor>) -> TensorBox {
    Unmanaged<TensorBox>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
}

/// The tensor behind a handle, or an invalid-argument error naming `name` when it is NULL.
func tensorArg(_ handle: UnsafePointer<scnn_tensor>?, _ name: String) throws -> Tensor {
    box(try required(handle, name)).tensor
}

/// The tensor behind an optional handle: nil for NULL.
func optionalTensorArg(_ handle: UnsafePointer<scnn_tensor>?) -> Tensor? {
    handle.map { box($0).tensor }
}

/// Runs `make` and stores its result as a new handle in `*out`. `*out` is set to NULL
/// first, so it is NULL on every failure.
///
/// A result that still borrows a caller's buffer (an identity op or a reshape of a wrapped
/// tensor) gets storage of its own here: the caller may free that buffer as soon as the
/// call returns, and a handle must never outlive the memory it reads. Only
/// scnn_tensor_wrap passes `borrowing: true`.
@inline(__always)
func produce(_ out: TensorOut?, borrowing: Bool = false, _ make: () throws -> Tensor) -> scnn_status {
    guarded {
        let out = try required(out, "out")
        out.pointee = nil
        var result = try make()
        if result.isBorrowed && !borrowing { try result.makeUnique() }
        out.pointee = makeHandle(result)
    }
}

/// A shape read from a C array of `rank` int64 values.
func shapeArg(_ shape: UnsafePointer<Int64>?, _ rank: Int32, _ name: String = "shape") throws -> [Int] {
    guard rank >= 1 && Int(rank) <= Tensor.maxRank else {
        throw SwiftCNNError.invalidArgument("\(name): rank must be 1 to \(Tensor.maxRank); got \(rank)")
    }
    let p = try required(shape, name)
    return (0..<Int(rank)).map { Int(p[$0]) }
}

/// `count` int64 values read from a C array, or nil when the pointer is NULL.
func optionalInts(_ p: UnsafePointer<Int64>?, count: Int) -> [Int]? {
    p.map { p in (0..<count).map { Int(p[$0]) } }
}

/// A C boolean (any non-zero int32 is true).
func flag(_ v: Int32) -> Bool { v != 0 }
