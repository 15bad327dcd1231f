// Preprocessing with torchvision's semantics: antialiased bilinear resize (torch's
// `interpolate(mode="bilinear", align_corners=False, antialias=True)`), shorter-side sizing,
// normalization and the one-call ImageNet pipeline
// `Resize(256, antialias=True) → CenterCrop(224) → Normalize(ImageNet mean, std)`.

// MARK: - Antialiased resize

/// The filter of one axis of `inputSize` → `outputSize` pixels (both >= 1), in Float as
/// torch computes it: scale = in / out; support = max(scale, 1) (the triangle's half-width
/// in input pixels); invScale = 1 / scale when shrinking, else 1; at most
/// maxTaps = 2·⌈support⌉ + 1 taps per output pixel.
struct AntialiasAxis {
    let inputSize: Int
    let scale: Float
    let support: Float
    let invScale: Float
    let maxTaps: Int

    init(inputSize: Int, outputSize: Int) {
        self.inputSize = inputSize
        scale = Float(inputSize) / Float(outputSize)
        support = scale >= 1 ? scale : 1
        invScale = scale >= 1 ? 1 / scale : 1
        maxTaps = Int(support.rounded(.up)) * 2 + 1  // support <= inputSize, so this cannot overflow
    }

    /// The taps of output index `i`, written to `weights` (room for ``maxTaps``):
    /// center = scale · (i + 0.5); taps j from xmin = max(⌊center − support + 0.5⌋, 0) up to
    /// min(⌊center + support + 0.5⌋, in) (exclusive); weight(j) = max(0, 1 − |(j − center + 0.5)
    /// · invScale|), then divided by their sum. Returns xmin and the number of taps.
    ///
    /// When enlarging this is plain bilinear interpolation with clamped edges; when shrinking,
    /// the triangle widens with the factor, so every input pixel contributes (PIL's filter).
    func taps(_ i: Int, into weights: UnsafeMutablePointer<Float>) -> (start: Int, count: Int) {
        let center = Float(Double(scale) * (Double(i) + 0.5))
        // center and support are at most about inputSize, so these conversions cannot trap.
        let xmin = max(Int(Double(center - support) + 0.5), 0)
        let count = max(0, min(min(Int(Double(center + support) + 0.5), inputSize) - xmin, maxTaps))
        var total: Float = 0
        for j in 0..<count {
            let d = Float((Double(Float(j + xmin) - center) + 0.5) * Double(invScale))
            let a = abs(d)
            let w: Float = a < 1 ? 1 - a : 0
            weights[j] = w
            total += w
        }
        if total != 0 {
            for j in 0..<count { weights[j] /= total }
        }
        return (xmin, count)
    }
}

/// All output indices' taps along one axis, in buffers that report a failed allocation
/// (their sizes follow the caller's sizes): output i reads input `start[i] ..< start[i] +
/// count[i]` with weights `weights[i · maxTaps ..< i · maxTaps + count[i]]`.
final class AntialiasTable {
    let maxTaps: Int
    let start: UnsafeMutablePointer<Int>
    let count: UnsafeMutablePointer<Int>
    let weights: UnsafeMutablePointer<Float>
    private let intBuffer: ScratchBuffer
    private let weightBuffer: ScratchBuffer

    init(inputSize: Int, outputSize: Int) throws {
        let axis = AntialiasAxis(inputSize: inputSize, outputSize: outputSize)
        maxTaps = axis.maxTaps
        weightBuffer = try ScratchBuffer(count: try Checked.mul(outputSize, axis.maxTaps, "resize: filter size"))
        // Two Ints per output, each as wide as two Floats.
        let slots = try Checked.mul(outputSize, 2 * MemoryLayout<Int>.stride / MemoryLayout<Float>.stride,
                                    "resize: filter size")
        intBuffer = try ScratchBuffer(count: slots)
        let ints = UnsafeMutableRawPointer(intBuffer.pointer).bindMemory(to: Int.self, capacity: 2 * outputSize)
        start = ints
        count = ints + outputSize
        weights = weightBuffer.pointer
        for i in 0..<outputSize {
            (start[i], count[i]) = axis.taps(i, into: weights + i * axis.maxTaps)
        }
    }
}

/// Checks a resize's input (`[C, H, W]` or `[N, C, H, W]`) and output size; returns the
/// number of planes and the input height and width.
func resizeGeometry(_ op: String, _ x: Tensor, height: Int, width: Int) throws -> (planes: Int, inH: Int, inW: Int) {
    let s = x.shape
    guard s.count == 3 || s.count == 4 else {
        throw SwiftCNNError.invalidArgument("\(op): input must be [C, H, W] or [N, C, H, W]; got shape \(Tensor.describe(s))")
    }
    guard height >= 1 && width >= 1 else {
        throw SwiftCNNError.invalidArgument("\(op): output size must be at least 1×1; got \(height)×\(width)")
    }
    var outShape = s
    outShape[s.count - 2] = height
    outShape[s.count - 1] = width
    _ = try Checked.product(outShape, "\(op): output element count")
    return (s.dropLast(2).reduce(1, *), s[s.count - 2], s[s.count - 1])  // factors of the validated count
}

/// Resizes images with the semantics of PyTorch's
/// `F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False, antialias=True)`,
/// which is what torchvision's `Resize(size, antialias=True)` does to float images:
/// a separable triangle filter whose support grows with the shrink factor (see
/// ``AntialiasAxis/taps(_:into:)``), the width pass first, then the height pass;
/// an axis whose size does not change is copied. Enlarging is plain bilinear.
///
/// One deliberate difference: torch (seen in 2.15, on the CPU) gives wrong values when the
/// output width is 1 and the height changes (every row gets the same value); this follows
/// the formula there too.
///
/// - x: `[C, H, W]` or `[N, C, H, W]`.
/// - returns `[C, height, width]` or `[N, C, height, width]`.
///
/// Errors: another rank, height or width < 1, an output too large to allocate.
public func resizeAntialiased(_ x: Tensor, height: Int, width: Int) throws -> Tensor {
    let (planes, inH, inW) = try resizeGeometry("antialiased resize", x, height: height, width: width)
    var current = x
    if width != inW {
        var shape = x.shape
        shape[shape.count - 1] = width
        var out = try Tensor(uninitialized: shape)  // before the tables, which are smaller
        let table = try AntialiasTable(inputSize: inW, outputSize: width)
        let w = table.weights, taps = table.maxTaps
        current.withUnsafePointer { src in
            out.withUnsafeMutablePointerUnchecked { dst in
                for row in 0..<(planes * inH) {
                    let r = src + row * inW, o = dst + row * width
                    for xo in 0..<width {
                        let first = r + table.start[xo], wx = w + xo * taps, n = table.count[xo]
                        var t: Float = n > 0 ? first[0] * wx[0] : 0  // n >= 1 always
                        var k = 1
                        while k < n {
                            t += first[k] * wx[k]
                            k += 1
                        }
                        o[xo] = t
                    }
                }
            }
        }
        withExtendedLifetime(table) {}
        current = out
    }
    if height != inH {
        var shape = current.shape
        shape[shape.count - 2] = height
        let w = width
        var out = try Tensor(uninitialized: shape)
        let table = try AntialiasTable(inputSize: inH, outputSize: height)
        let wt = table.weights, taps = table.maxTaps
        current.withUnsafePointer { src in
            out.withUnsafeMutablePointerUnchecked { dst in
                for p in 0..<planes {
                    let plane = src + p * inH * w
                    for y in 0..<height {
                        let o = dst + (p * height + y) * w
                        let first = plane + table.start[y] * w, wy = wt + y * taps, n = table.count[y]
                        let w0: Float = n > 0 ? wy[0] : 0  // n >= 1 always
                        for xo in 0..<w { o[xo] = first[xo] * w0 }
                        var k = 1
                        while k < n {
                            let r = first + k * w, wk = wy[k]
                            for xo in 0..<w { o[xo] += r[xo] * wk }
                            k += 1
                        }
                    }
                }
            }
        }
        withExtendedLifetime(table) {}
        current = out
    }
    return current
}

/// The oracle of ``resizeAntialiased(_:height:width:)``: every output pixel is the plain
/// double sum Σ_ky Σ_kx wy(ky) · wx(kx) · x[y0 + ky, x0 + kx] over the taps of
/// ``AntialiasAxis/taps(_:into:)``, with no tables, passes or copies (an unchanged
/// axis has the single tap 1). Slow; for tests.
public func resizeAntialiasedReference(_ x: Tensor, height: Int, width: Int) throws -> Tensor {
    let (planes, inH, inW) = try resizeGeometry("antialiased resize", x, height: height, width: width)
    var shape = x.shape
    shape[shape.count - 2] = height
    shape[shape.count - 1] = width
    var out = try Tensor(uninitialized: shape)
    let rowAxis = AntialiasAxis(inputSize: inH, outputSize: height)
    let colAxis = AntialiasAxis(inputSize: inW, outputSize: width)
    let rows: [(start: Int, weights: [Float])] = (0..<height).map { y in
        var w = [Float](repeating: 0, count: rowAxis.maxTaps)
        let t = w.withUnsafeMutableBufferPointer { b in b.baseAddress.map { rowAxis.taps(y, into: $0) } ?? (start: 0, count: 0) }
        return (t.start, Array(w[0..<t.count]))
    }
    let cols: [(start: Int, weights: [Float])] = (0..<width).map { xo in
        var w = [Float](repeating: 0, count: colAxis.maxTaps)
        let t = w.withUnsafeMutableBufferPointer { b in b.baseAddress.map { colAxis.taps(xo, into: $0) } ?? (start: 0, count: 0) }
        return (t.start, Array(w[0..<t.count]))
    }
    x.withUnsafePointer { src in
        out.withUnsafeMutablePointerUnchecked { dst in
            for p in 0..<planes {
                for y in 0..<height {
                    for xo in 0..<width {
                        var sum: Float = 0
                        for (ky, wy) in rows[y].weights.enumerated() {
                            for (kx, wx) in cols[xo].weights.enumerated() {
                                sum += wy * wx * src[(p * inH + rows[y].start + ky) * inW + cols[xo].start + kx]
                            }
                        }
                        dst[(p * height + y) * width + xo] = sum
                    }
                }
            }
        }
    }
    return out
}

/// torchvision's output size for `Resize(size)` with an int size: the shorter side becomes
/// `size` and the longer `int(size · long / short)` (truncated); a square image becomes
/// size × size.
///
/// Errors: a size or image side < 1, a longer side that truncates to 0, sizes that overflow.
public func shorterSideSize(height: Int, width: Int, size: Int) throws -> (height: Int, width: Int) {
    guard height >= 1 && width >= 1 else {
        throw SwiftCNNError.invalidArgument("resize: image size must be at least 1×1; got \(height)×\(width)")
    }
    guard size >= 1 else {
        throw SwiftCNNError.invalidArgument("resize: the shorter side's size must be at least 1; got \(size)")
    }
    let short = min(height, width), long = max(height, width)
    let product = try Checked.mul(size, long, "resize: longer side")
    // Python's int(size * long / short): an exact product, a correctly rounded division.
    let newLong: Int
    if product < 1 << 53 {
        newLong = Int(Double(product) / Double(short))
    } else {
        newLong = product / short  // beyond 2^53 the float division is not exact in Python either
    }
    guard newLong >= 1 else {
        throw SwiftCNNError.invalidArgument("resize: a \(height)×\(width) image with its shorter side at \(size) has a longer side of 0")
    }
    return height <= width ? (size, newLong) : (newLong, size)
}

// MARK: - Normalize

/// torchvision's `Normalize(mean, std)`: `(v − mean[c]) / std[c]` per channel, in Float.
///
/// - x: `[C, H, W]` or `[N, C, H, W]`; mean and std have C finite values, std non-zero.
///
/// Errors: another rank, mean/std of the wrong length or with bad values.
public func normalize(_ x: Tensor, mean: [Float], std: [Float]) throws -> Tensor {
    let s = x.shape
    guard s.count == 3 || s.count == 4 else {
        throw SwiftCNNError.invalidArgument("normalize: input must be [C, H, W] or [N, C, H, W]; got shape \(Tensor.describe(s))")
    }
    let channels = s[s.count - 3]
    guard mean.count == channels && std.count == channels else {
        throw SwiftCNNError.shapeMismatch(
            "normalize: mean and std need \(channels) values each (one per channel); got \(mean.count) and \(std.count)")
    }
    for c in 0..<channels where !mean[c].isFinite || !std[c].isFinite || std[c] == 0 {
        throw SwiftCNNError.invalidArgument("normalize: mean[\(c)] = \(mean[c]) and std[\(c)] = \(std[c]) must be finite, std non-zero")
    }
    let images = s.count == 4 ? s[0] : 1, plane = s[s.count - 2] * s[s.count - 1]
    var out = try Tensor(uninitialized: s)
    x.withUnsafePointer { src in
        out.withUnsafeMutablePointerUnchecked { dst in
            for n in 0..<images {
                for c in 0..<channels {
                    let base = (n * channels + c) * plane, m = mean[c], sd = std[c]
                    for i in 0..<plane { dst[base + i] = (src[base + i] - m) / sd }
                }
            }
        }
    }
    return out
}

// MARK: - ImageNet preprocessing

/// ImageNet's per-channel mean (R, G, B), as torchvision's models expect.
public let imagenetMean: [Float] = [0.485, 0.456, 0.406]
/// ImageNet's per-channel standard deviation (R, G, B).
public let imagenetStd: [Float] = [0.229, 0.224, 0.225]

/// The standard ImageNet evaluation preprocessing in one call, equal to torchvision's v2
/// `Compose([ToImage(), ToDtype(float32, scale=True), Resize(256, antialias=True),
/// CenterCrop(224), Normalize(mean, std)])` with ImageNet's mean and std:
///
/// 1. value = p · Float(1/255), as an RGB image [3, H, W] (1 channel: gray, copied to R, G
///    and B; 4 channels: RGBA, alpha ignored);
/// 2. ``shorterSideSize(height:width:size:)`` with `resize` (256), then
///    ``resizeAntialiased(_:height:width:)``;
/// 3. ``centerCrop(_:height:width:pad:)`` to `crop` × `crop` (224), padding with zeros if
///    the image is smaller;
/// 4. ``normalize(_:mean:std:)``.
///
/// - pixels: HWC bytes as for ``imageToTensor(pixels:width:height:channels:rowStride:scale:mean:std:)``.
/// - returns `[3, crop, crop]`.
///
/// Errors: bad sizes, channels, strides, a buffer too small (as imageToTensor), resize or
/// crop < 1, an output too large to allocate.
public func imagenetPreprocess(pixels: UnsafeBufferPointer<UInt8>, width: Int, height: Int, channels: Int,
                               rowStride: Int? = nil, resize: Int = 256, crop: Int = 224,
                               mean: [Float] = imagenetMean, std: [Float] = imagenetStd) throws -> Tensor {
    let op = "imagenet preprocess"
    let layout = try PixelLayout(op: op, width: width, height: height, channels: channels, rowStride: rowStride)
    guard pixels.count >= layout.requiredBytes, let src = pixels.baseAddress else {
        throw SwiftCNNError.shapeMismatch(
            "\(op): the pixel buffer holds \(pixels.count) bytes; \(width)×\(height)×\(channels) with row stride \(layout.rowStride) needs \(layout.requiredBytes)")
    }
    guard crop >= 1 else { throw SwiftCNNError.invalidArgument("\(op): crop size must be at least 1; got \(crop)") }
    let (rh, rw) = try shorterSideSize(height: height, width: width, size: resize)
    var rgb = try Tensor(uninitialized: [3, height, width])
    let scale = Float(1.0 / 255), plane = height * width
    rgb.withUnsafeMutablePointerUnchecked { dst in
        for c in 0..<3 {
            let sc = channels == 1 ? 0 : c
            for y in 0..<height {
                let row = src + y * layout.rowStride
                for x in 0..<width {
                    dst[c * plane + y * width + x] = Float(row[x * channels + sc]) * scale
                }
            }
        }
    }
    let resized = try resizeAntialiased(rgb, height: rh, width: rw)
    return try normalize(try centerCrop(resized, height: crop, width: crop, pad: true), mean: mean, std: std)
}
