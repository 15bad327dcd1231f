// Preprocessing with torchvision's semantics: antialiased bilinear resize (torch's
// `interpolate(mode="bilinear", align_corners=False, antialias=True)`), shorter-side sizing,
// normalization and the one-call ImageNet pipeline
// `Resize(256, antialias=True) → CenterCrop(224) → Normalize(ImageNet mean, std)`.

// MARK: - Antialiased resize

/// The taps of the antialiased bilinear (triangle) filter for output index `i` along one
/// axis of `inputSize` → `outputSize` pixels, as torch's CPU kernel computes them (in Float):
///
/// - scale = in / out; support = max(scale, 1) (the triangle's half-width in input pixels);
///   invScale = 1 / scale when shrinking, else 1;
/// - center = scale · (i + 0.5); taps j from xmin = max(⌊center − support + 0.5⌋, 0) up to
///   min(⌊center + support + 0.5⌋, in) (exclusive), at most 2·⌈support⌉ + 1 of them;
/// - weight(j) = max(0, 1 − |(j − center + 0.5) · invScale|), then divided by their sum.
///
/// When enlarging, this is plain bilinear interpolation with clamped edges; when shrinking,
/// the triangle widens with the factor, so every input pixel contributes (PIL's filter).
/// Sizes must be >= 1 (callers check).
func antialiasTaps(_ i: Int, inputSize: Int, outputSize: Int) -> (start: Int, weights: [Float]) {
    let scale = Float(inputSize) / Float(outputSize)
    let support: Float = scale >= 1 ? scale : 1
    let invScale: Float = scale >= 1 ? 1 / scale : 1
    let center = Float(Double(scale) * (Double(i) + 0.5))
    // center and support are at most about inputSize, so these conversions cannot trap.
    let xmin = max(Int(Double(center - support) + 0.5), 0)
    let maxTaps = Int(support.rounded(.up)) * 2 + 1
    let count = max(0, min(min(Int(Double(center + support) + 0.5), inputSize) - xmin, maxTaps))
    var weights = [Float](repeating: 0, count: count)
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
    return (xmin, weights)
}

/// All output indices' taps along one axis, flattened: output i reads input
/// `start[i] ..< start[i] + (offset[i+1] − offset[i])` with `weights[offset[i] ..< offset[i+1]]`.
struct AntialiasTable {
    let start: [Int]
    let offset: [Int]
    let weights: [Float]

    init(inputSize: Int, outputSize: Int) throws {
        var start = [Int](), offset = [0], weights = [Float]()
        start.reserveCapacity(outputSize)
        offset.reserveCapacity(try Checked.add(outputSize, 1, "resize: output size"))
        for i in 0..<outputSize {
            let taps = antialiasTaps(i, inputSize: inputSize, outputSize: outputSize)
            start.append(taps.start)
            weights.append(contentsOf: taps.weights)
            offset.append(weights.count)
        }
        self.start = start
        self.offset = offset
        self.weights = weights
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
/// ``antialiasTaps(_:inputSize:outputSize:)``), the width pass first, then the height pass;
/// an axis whose size does not change is copied. Enlarging is plain bilinear.
///
/// One deliberate difference: torch 2.x gives wrong values when the output width is 1 and
/// the height changes (every row gets the same value); this follows the formula there too.
///
/// - x: `[C, H, W]` or `[N, C, H, W]`.
/// - returns `[C, height, width]` or `[N, C, height, width]`.
///
/// Errors: another rank, height or width < 1, an output too large to allocate.
public func resizeAntialiased(_ x: Tensor, height: Int, width: Int) throws -> Tensor {
    let (planes, inH, inW) = try resizeGeometry("antialiased resize", x, height: height, width: width)
    var current = x
    if width != inW {
        let table = try AntialiasTable(inputSize: inW, outputSize: width)
        var shape = x.shape
        shape[shape.count - 1] = width
        var out = try Tensor(uninitialized: shape)
        current.withUnsafePointer { src in
            out.withUnsafeMutablePointerUnchecked { dst in
                table.weights.withUnsafeBufferPointer { w in
                    for row in 0..<(planes * inH) {
                        let r = src + row * inW, o = dst + row * width
                        for xo in 0..<width {
                            let a = table.offset[xo], b = table.offset[xo + 1], first = table.start[xo]
                            var t = r[first] * w[a]
                            var k = a + 1
                            while k < b {
                                t += r[first + k - a] * w[k]
                                k += 1
                            }
                            o[xo] = t
                        }
                    }
                }
            }
        }
        current = out
    }
    if height != inH {
        let table = try AntialiasTable(inputSize: inH, outputSize: height)
        var shape = current.shape
        shape[shape.count - 2] = height
        let w = width
        var out = try Tensor(uninitialized: shape)
        current.withUnsafePointer { src in
            out.withUnsafeMutablePointerUnchecked { dst in
                table.weights.withUnsafeBufferPointer { wt in
                    for p in 0..<planes {
                        let plane = src + p * inH * w
                        for y in 0..<height {
                            let o = dst + (p * height + y) * w
                            let a = table.offset[y], b = table.offset[y + 1], first = table.start[y]
                            let r0 = plane + first * w, w0 = wt[a]
                            for xo in 0..<w { o[xo] = r0[xo] * w0 }
                            var k = a + 1
                            while k < b {
                                let r = plane + (first + k - a) * w, wk = wt[k]
                                for xo in 0..<w { o[xo] += r[xo] * wk }
                                k += 1
                            }
                        }
                    }
                }
            }
        }
        current = out
    }
    return current
}

/// The oracle of ``resizeAntialiased(_:height:width:)``: every output pixel is the plain
/// double sum Σ_ky Σ_kx wy(ky) · wx(kx) · x[y0 + ky, x0 + kx] over the taps of
/// ``antialiasTaps(_:inputSize:outputSize:)``, with no tables, passes or copies (an unchanged
/// axis has the single tap 1). Slow; for tests.
public func resizeAntialiasedReference(_ x: Tensor, height: Int, width: Int) throws -> Tensor {
    let (planes, inH, inW) = try resizeGeometry("antialiased resize", x, height: height, width: width)
    var shape = x.shape
    shape[shape.count - 2] = height
    shape[shape.count - 1] = width
    var out = try Tensor(uninitialized: shape)
    let rows = (0..<height).map { antialiasTaps($0, inputSize: inH, outputSize: height) }
    let cols = (0..<width).map { antialiasTaps($0, inputSize: inW, outputSize: width) }
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
