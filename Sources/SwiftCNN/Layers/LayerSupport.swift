// Internal helpers shared by the layer ops of this folder (activations, softmax,
// normalization, linear, reshaping, concatenation, elementwise). Nothing here is public.

/// Argument checks with messages in the library's style ("op: what was expected; got what").
enum LayerChecks {
    /// `axis` resolved against `rank`: a value in -rank..<rank, negatives counting from the end.
    static func axis(_ axis: Int, rank: Int, _ op: String, _ name: String = "axis") throws -> Int {
        guard axis >= -rank && axis < rank else {
            throw SwiftCNNError.invalidArgument(
                "\(op): \(name) must be in \(-rank)..<\(rank) for a tensor of rank \(rank); got \(axis)")
        }
        return axis < 0 ? axis + rank : axis
    }

    /// Fails unless `value` is finite (not NaN or ±infinity).
    static func finite(_ value: Float, _ op: String, _ name: String) throws {
        guard value.isFinite else {
            throw SwiftCNNError.invalidArgument("\(op): \(name) must be a finite number; got \(value)")
        }
    }
}

/// The start of a tensor buffer; tensors always hold at least one element, so a missing
/// base address is a bug in the library, reported rather than trapped.
@inline(__always)
func bufferBase(_ b: UnsafeBufferPointer<Float>) throws -> UnsafePointer<Float> {
    guard let p = b.baseAddress else { throw SwiftCNNError(.internal, "tensor buffer without storage") }
    return p
}

/// The start of a writable tensor buffer (as the read-only overload).
@inline(__always)
func bufferBase(_ b: UnsafeMutableBufferPointer<Float>) throws -> UnsafeMutablePointer<Float> {
    guard let p = b.baseAddress else { throw SwiftCNNError(.internal, "tensor buffer without storage") }
    return p
}

/// A new tensor of `shape` whose elements `body` writes, given `x`'s elements to read.
/// `body` must write every output element.
func layerOutput(
    _ shape: [Int], reading x: Tensor,
    _ body: (UnsafePointer<Float>, UnsafeMutablePointer<Float>) throws -> Void
) throws -> Tensor {
    var y = try Tensor(uninitialized: shape)
    try x.withUnsafeBufferPointer { xb in
        let xp = try bufferBase(xb)
        try y.withUnsafeMutableBufferPointer { yb in try body(xp, try bufferBase(yb)) }
    }
    return y
}

/// The elements of an optional tensor, or nil, for the duration of `body`.
func withOptionalLayerBuffer<R>(_ t: Tensor?, _ body: (UnsafePointer<Float>?) throws -> R) throws -> R {
    guard let t else { return try body(nil) }
    return try t.withUnsafeBufferPointer { try body(try bufferBase($0)) }
}
