/// A height and a width: kernel sizes, strides, dilations, output sizes.
public struct Size2D: Equatable, Sendable {
    /// Height (rows).
    public var h: Int
    /// Width (columns).
    public var w: Int

    /// The same value for height and width.
    public init(_ both: Int) { h = both; w = both }

    /// Height `h` and width `w`.
    public init(_ h: Int, _ w: Int) { self.h = h; self.w = w }
}
