/// Validated geometry of a same-size, per-channel 2-D filter (see ``applyFilter(_:kernel:border:)``).
///
/// Shapes:
/// - input  `[planes, height, width]` (every channel of every image is one plane)
/// - kernel `[kernelHeight, kernelWidth]`
/// - output `[planes, height, width]`
///
/// The kernel's anchor is `((kernelHeight − 1) / 2, (kernelWidth − 1) / 2)`: output pixel
/// `(y, x)` is `Σ_{ky,kx} kernel[ky, kx] · input[y + ky − anchorY, x + kx − anchorX]`, with
/// the pixels outside the image taken from ``border``.
public struct FilterGeometry: Sendable, Equatable {
    /// Number of independent planes (N·C).
    public let planes: Int
    /// Image height and width (also the output's).
    public let height: Int
    public let width: Int
    /// Kernel height and width.
    public let kernelHeight: Int
    public let kernelWidth: Int
    /// How pixels outside the image are made up.
    public let border: BorderMode

    /// Checks the sizes (every one at least 1, element counts without overflow).
    public init(planes: Int, height: Int, width: Int, kernelHeight: Int, kernelWidth: Int, border: BorderMode) throws {
        for (v, name) in [(planes, "planes"), (height, "height"), (width, "width"),
                          (kernelHeight, "kernel height"), (kernelWidth, "kernel width")] where v < 1 {
            throw SwiftCNNError.invalidArgument("filter: \(name) must be at least 1; got \(v)")
        }
        _ = try Checked.product([planes, height, width], "filter: image element count")
        _ = try Checked.mul(kernelHeight, kernelWidth, "filter: kernel element count")
        self.planes = planes
        self.height = height
        self.width = width
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.border = border
    }

    /// Row of the kernel's anchor.
    public var anchorY: Int { (kernelHeight - 1) / 2 }
    /// Column of the kernel's anchor.
    public var anchorX: Int { (kernelWidth - 1) / 2 }
}

extension BorderMode {
    /// The in-image index that stands for index `i` of a line of `n` pixels, or nil when
    /// the pixel is zero (``zero`` border outside the image). `n` is at least 1.
    ///
    /// - replicate: clamps to `0..<n`;
    /// - reflect: mirrors about the edge pixels without repeating them (numpy/torch
    ///   'reflect': `… 2 1 | 0 1 2 … n−1 | n−2 n−3 …`), repeatedly, so any `i` maps inside.
    @inlinable
    public func sourceIndex(_ i: Int, count n: Int) -> Int? {
        if i >= 0 && i < n { return i }
        switch self {
        case .zero:
            return nil
        case .replicate:
            return i < 0 ? 0 : n - 1
        case .reflect:
            if n == 1 { return 0 }
            let period = 2 * (n - 1)
            var m = i % period
            if m < 0 { m += period }
            return m < n ? m : period - m
        }
    }
}

extension Reference {
    /// Same-size cross-correlation of every plane with one kernel.
    ///
    /// - input:  `[planes, height, width]`, `geometry.planes · height · width` floats
    /// - kernel: `[kernelHeight, kernelWidth]`
    /// - output: `[planes, height, width]`, every element written
    ///
    /// Direct loops, accumulated in `Float` in kernel order (row-major): the oracle.
    public static func filter2d(
        input: UnsafePointer<Float>, kernel: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
        geometry g: FilterGeometry
    ) {
        let h = g.height, w = g.width, kh = g.kernelHeight, kw = g.kernelWidth
        let ay = g.anchorY, ax = g.anchorX
        let planeSize = h * w
        for p in 0..<g.planes {
            let src = input + p * planeSize
            let dst = output + p * planeSize
            for y in 0..<h {
                for x in 0..<w {
                    var acc: Float = 0
                    for ky in 0..<kh {
                        guard let sy = g.border.sourceIndex(y + ky - ay, count: h) else { continue }
                        let row = src + sy * w
                        let krow = kernel + ky * kw
                        for kx in 0..<kw {
                            guard let sx = g.border.sourceIndex(x + kx - ax, count: w) else { continue }
                            acc += krow[kx] * row[sx]
                        }
                    }
                    dst[y * w + x] = acc
                }
            }
        }
    }
}
