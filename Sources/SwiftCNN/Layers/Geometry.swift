/// A height and a width: kernel sizes, strides, dilations, output sizes.
///
/// An integer literal means the same value for both, so `Size2D = 2` is `Size2D(2, 2)`.
public struct Size2D: Equatable, Sendable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    /// Height (rows).
    public var h: Int
    /// Width (columns).
    public var w: Int

    /// The same value for height and width.
    public init(_ both: Int) { h = both; w = both }

    /// Height `h` and width `w`.
    public init(_ h: Int, _ w: Int) { self.h = h; self.w = w }

    /// An integer literal: the same value for height and width.
    public init(integerLiteral value: Int) { self.init(value) }

    /// `h×w`, e.g. `3×3`.
    public var description: String { "\(h)×\(w)" }
}

/// Zero padding on each side of a 2-D input, in pixels.
///
/// An integer literal means the same padding on all four sides.
public struct Padding2D: Equatable, Sendable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    /// Rows added above the input.
    public var top: Int
    /// Rows added below the input.
    public var bottom: Int
    /// Columns added to the left of the input.
    public var left: Int
    /// Columns added to the right of the input.
    public var right: Int

    /// The same padding on all four sides.
    public init(_ all: Int) { top = all; bottom = all; left = all; right = all }

    /// `h` rows above and below, `w` columns left and right (symmetric, like PyTorch's `padding=(h, w)`).
    public init(_ h: Int, _ w: Int) { top = h; bottom = h; left = w; right = w }

    /// Each side given separately.
    public init(top: Int, bottom: Int, left: Int, right: Int) {
        self.top = top; self.bottom = bottom; self.left = left; self.right = right
    }

    /// An integer literal: the same padding on all four sides.
    public init(integerLiteral value: Int) { self.init(value) }

    /// `(top, bottom, left, right)`.
    public var description: String { "(top \(top), bottom \(bottom), left \(left), right \(right))" }
}

/// Splits an image tensor of rank 3 `[C, H, W]` or rank 4 `[N, C, H, W]` into `(n, c, h, w)`;
/// `op` names the caller in the error for other ranks.
func imageDims(_ x: Tensor, _ op: String, _ name: String = "input") throws -> (n: Int, c: Int, h: Int, w: Int) {
    try imageDims(shape: x.shape, op, name)
}

/// ``imageDims(_:_:_:)`` for a shape given as numbers (e.g. a backward's `inputShape`):
/// also checks that every dimension is at least 1 and that the element count fits.
func imageDims(shape: [Int], _ op: String, _ name: String = "input") throws -> (n: Int, c: Int, h: Int, w: Int) {
    guard shape.count == 3 || shape.count == 4 else {
        throw SwiftCNNError.invalidArgument(
            "\(op): \(name) must have rank 4 [N, C, H, W] or rank 3 [C, H, W]; got rank \(shape.count) (shape \(Tensor.describe(shape)))")
    }
    guard shape.allSatisfy({ $0 >= 1 }) else {
        throw SwiftCNNError.invalidArgument("\(op): every dimension of \(name) must be at least 1; got \(Tensor.describe(shape))")
    }
    _ = try Checked.product(shape, "\(op) \(name) element count")
    return shape.count == 4 ? (shape[0], shape[1], shape[2], shape[3]) : (1, shape[0], shape[1], shape[2])
}

/// The output shape for an image op: `[n, c, h, w]` when the input had rank 4, `[c, h, w]` otherwise.
func imageShape(rank: Int, _ n: Int, _ c: Int, _ h: Int, _ w: Int) -> [Int] {
    rank == 4 ? [n, c, h, w] : [c, h, w]
}
