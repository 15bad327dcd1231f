// Internal helpers shared by the layer ops of this folder (activations, softmax,
// normalization, linear, reshaping, concatenation, elementwise, pooling, convolution).
// Nothing here is public.

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

/// A new tensor of `shape` whose elements `body` writes, given `x`'s elements to read.
/// `body` must write every output element.
func layerOutput(
    _ shape: [Int], reading x: Tensor,
    _ body: (UnsafePointer<Float>, UnsafeMutablePointer<Float>) throws -> Void
) throws -> Tensor {
    var y = try Tensor(uninitialized: shape)
    try x.withUnsafePointer { xp in try y.withUnsafeMutablePointerUnchecked { yp in try body(xp, yp) } }
    return y
}

/// The elements of an optional tensor (see ``Tensor/withUnsafePointer(_:)``), or nil, for
/// the duration of `body`.
func withOptionalPointer<R>(_ t: Tensor?, _ body: (UnsafePointer<Float>?) throws -> R) rethrows -> R {
    guard let t else { return try body(nil) }
    return try t.withUnsafePointer { try body($0) }
}

/// The elements of an optional tensor made with ``Tensor/init(uninitialized:)`` for writing,
/// or nil, for the duration of `body`.
func withOptionalMutablePointer<R>(_ t: inout Tensor?, _ body: (UnsafeMutablePointer<Float>?) throws -> R) rethrows -> R {
    guard var tensor = t else { return try body(nil) }
    t = nil   // keep the storage uniquely referenced while writing
    defer { t = tensor }
    return try tensor.withUnsafeMutablePointerUnchecked { try body($0) }
}

/// Checks that a backward's `gradOutput` has the shape of the forward's output (or of `outputName`).
func checkSameShape(_ op: String, output: Tensor, gradOutput: Tensor, outputName: String = "output") throws {
    guard output.shape == gradOutput.shape else {
        throw SwiftCNNError.shapeMismatch(
            "\(op): gradOutput must have the \(outputName)'s shape \(Tensor.describe(output.shape)); got \(Tensor.describe(gradOutput.shape))")
    }
}
