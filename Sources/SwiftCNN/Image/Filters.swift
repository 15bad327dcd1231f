#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How a filter makes up the pixels outside the image.
public enum BorderMode: Int32, Sendable {
    /// Pixels outside the image are 0.
    case zero = 0
    /// The nearest edge pixel is repeated (`a a | a b c | c c`).
    case replicate = 1
    /// Mirrored about the edge pixel, which is not repeated (`c b | a b c | b a`), as numpy's
    /// and torch's 'reflect'; repeated as often as needed when the kernel is larger than the image.
    case reflect = 2
}

/// The classic image filters of the seed lecture, as rank-2 kernels `[KH, KW]` for
/// ``applyFilter(_:kernel:border:)``.
public enum Filters {
    /// The n×n box (mean) filter: every weight 1/(n·n) — the seed's 1/9 (3×3) and 1/25 (5×5).
    /// Errors: n < 1, or a size too large to allocate.
    public static func box(_ n: Int) throws -> Tensor {
        guard n >= 1 else { throw SwiftCNNError.invalidArgument("box filter: size must be at least 1; got \(n)") }
        let count = try Checked.mul(n, n, "box filter: size \(n)×\(n)")
        return try Tensor(shape: [n, n], repeating: Float(1.0 / Double(count)))
    }

    /// The horizontal blur `1/n · [1 … 1]` of shape `[1, n]` (the seed's 1/5·[1 1 1 1 1]). Errors: n < 1.
    public static func horizontalBlur(_ n: Int = 5) throws -> Tensor {
        guard n >= 1 else { throw SwiftCNNError.invalidArgument("horizontal blur: size must be at least 1; got \(n)") }
        return try Tensor(shape: [1, n], repeating: Float(1.0 / Double(n)))
    }

    /// The vertical blur `1/n · [1 … 1]ᵀ` of shape `[n, 1]`. Errors: n < 1.
    public static func verticalBlur(_ n: Int = 5) throws -> Tensor {
        guard n >= 1 else { throw SwiftCNNError.invalidArgument("vertical blur: size must be at least 1; got \(n)") }
        return try Tensor(shape: [n, 1], repeating: Float(1.0 / Double(n)))
    }

    /// The seed's sharpen filter exactly as printed: `1/4 · [[0, −1, 0], [−1, 8, −1], [0, −1, 0]]`
    /// (its weights sum to 1).
    public static func sharpen() throws -> Tensor {
        try fixed([3, 3], [0, -1, 0, -1, 8, -1, 0, -1, 0].map { Float($0) / 4 })
    }

    /// The Sobel x-derivative kernel `[[−1, 0, 1], [−2, 0, 2], [−1, 0, 1]]`.
    public static func sobelX() throws -> Tensor {
        try fixed([3, 3], [-1, 0, 1, -2, 0, 2, -1, 0, 1])
    }

    /// The Sobel y-derivative kernel `[[−1, −2, −1], [0, 0, 0], [1, 2, 1]]`.
    public static func sobelY() throws -> Tensor {
        try fixed([3, 3], [-1, -2, -1, 0, 0, 0, 1, 2, 1])
    }

    /// The seed's edge kernel `[−1, 0, 1]`, shape `[1, 3]`.
    public static func edge() throws -> Tensor {
        try fixed([1, 3], [-1, 0, 1])
    }

    /// A `size`×`size` Gaussian kernel normalized to sum 1: the outer product of the 1-D
    /// weights `exp(−x² / (2σ²))`, x = −(size−1)/2 … (size−1)/2, each normalized (as
    /// torchvision's gaussian_blur), computed in double precision.
    /// Errors: size even or < 1, sigma not a finite number > 0.
    public static func gaussian(size: Int, sigma: Float) throws -> Tensor {
        guard size >= 1 && size % 2 == 1 else {
            throw SwiftCNNError.invalidArgument("gaussian filter: size must be odd and at least 1; got \(size)")
        }
        guard sigma.isFinite && sigma > 0 else {
            throw SwiftCNNError.invalidArgument("gaussian filter: sigma must be a finite number > 0; got \(sigma)")
        }
        _ = try Checked.mul(size, size, "gaussian filter: size \(size)×\(size)")
        // Allocate first: an absurd size fails here, before any loop over it.
        var t = try Tensor(uninitialized: [size, size])
        let s = Double(sigma)
        let half = (size - 1) / 2
        func weight(_ i: Int) -> Double {
            let x = Double(i - half)
            return exp(-(x * x) / (2 * s * s))
        }
        var sum = 0.0
        for i in 0..<size { sum += weight(i) }  // >= 1: the centre weight is exp(0)
        t.withUnsafeMutableBufferPointerUnchecked { p in
            for i in 0..<size {
                let wi = weight(i) / sum
                for j in 0..<size { p[i * size + j] = Float(wi * (weight(j) / sum)) }
            }
        }
        return t
    }

    /// A small kernel of fixed shape and values. It throws only if 36 bytes cannot be
    /// allocated — and then says so rather than stopping the host.
    private static func fixed(_ shape: [Int], _ values: [Float]) throws -> Tensor {
        try Tensor(shape: shape, scalars: values)
    }
}

/// Cross-correlates every channel of `image` with `kernel`, giving an output of the same size.
///
/// - image: `[H, W]`, `[C, H, W]` or `[N, C, H, W]`; each channel of each image is filtered alone.
/// - kernel: `[KH, KW]`, any size (also larger than the image); its anchor is
///   `((KH − 1) / 2, (KW − 1) / 2)`, so output `(y, x)` = Σ kernel[ky, kx] · image[y + ky − ay, x + kx − ax].
/// - border: where the pixels outside the image come from (``BorderMode``).
///
/// Errors: image rank 1, kernel rank other than 2.
public func applyFilter(_ image: Tensor, kernel: Tensor, border: BorderMode = .zero) throws -> Tensor {
    guard image.rank >= 2 else {
        throw SwiftCNNError.invalidArgument(
            "filter: image must be [H, W], [C, H, W] or [N, C, H, W]; got shape \(Tensor.describe(image.shape))")
    }
    guard kernel.rank == 2 else {
        throw SwiftCNNError.invalidArgument(
            "filter: kernel must be rank 2 [KH, KW]; got shape \(Tensor.describe(kernel.shape))")
    }
    let s = image.shape
    let h = s[s.count - 2], w = s[s.count - 1]
    let planes = s.dropLast(2).reduce(1, *)  // a factor of the validated element count: no overflow
    let g = try FilterGeometry(planes: planes, height: h, width: w,
                               kernelHeight: kernel.shape[0], kernelWidth: kernel.shape[1], border: border)
    var out = try Tensor(uninitialized: s)
    image.withUnsafePointer { src in
        kernel.withUnsafePointer { k in
            out.withUnsafeMutablePointerUnchecked { dst in
                Reference.filter2d(input: src, kernel: k, output: dst, geometry: g)
            }
        }
    }
    return out
}

// Backward: not provided (image filters are not trainable layers of the zoo).
