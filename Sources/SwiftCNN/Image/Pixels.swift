/// Checked geometry of an interleaved 8-bit pixel buffer (HWC, rows `rowStride` bytes apart).
struct PixelLayout {
    let width: Int
    let height: Int
    let channels: Int
    let rowStride: Int
    /// Bytes the buffer must hold: `(height − 1) · rowStride + width · channels`
    /// (the last row needs no padding).
    let requiredBytes: Int

    init(op: String, width: Int, height: Int, channels: Int, rowStride: Int?) throws {
        guard width >= 1 && height >= 1 else {
            throw SwiftCNNError.invalidArgument("\(op): width and height must be at least 1; got \(width)×\(height)")
        }
        guard channels == 1 || channels == 3 || channels == 4 else {
            throw SwiftCNNError.invalidArgument("\(op): channels must be 1, 3 or 4; got \(channels)")
        }
        let rowBytes = try Checked.mul(width, channels, "\(op): row size")
        let stride = rowStride ?? rowBytes
        guard stride >= rowBytes else {
            throw SwiftCNNError.invalidArgument(
                "\(op): row stride \(stride) is smaller than width × channels = \(width) × \(channels) = \(rowBytes) bytes")
        }
        self.width = width
        self.height = height
        self.channels = channels
        self.rowStride = stride
        self.requiredBytes = try Checked.add(try Checked.mul(height - 1, stride, "\(op): buffer size"), rowBytes,
                                             "\(op): buffer size")
    }
}

/// The bytes an interleaved 8-bit image needs: `(height − 1) · rowStride + width · channels`
/// (rowStride nil: `width · channels`). Errors: width or height < 1, channels not 1, 3 or 4,
/// rowStride below `width · channels`, a size that overflows. `context` prefixes the messages.
public func imageByteCount(width: Int, height: Int, channels: Int, rowStride: Int? = nil,
                           context: String = "image") throws -> Int {
    try PixelLayout(op: context, width: width, height: height, channels: channels, rowStride: rowStride).requiredBytes
}

/// Per-channel normalization values: `scale`, and `mean`/`std` with one value per channel.
struct Normalization {
    let scale: Float
    let mean: [Float]
    let std: [Float]

    init(op: String, channels: Int, scale: Float, mean: [Float]?, std: [Float]?, valuesToPixels: Bool) throws {
        guard scale.isFinite else { throw SwiftCNNError.invalidArgument("\(op): scale must be finite; got \(scale)") }
        if valuesToPixels && scale == 0 {
            throw SwiftCNNError.invalidArgument("\(op): scale must not be 0 (pixels are values / scale)")
        }
        if let mean {
            guard mean.count == channels else {
                throw SwiftCNNError.shapeMismatch("\(op): mean has \(mean.count) values but the image has \(channels) channels")
            }
            for (c, m) in mean.enumerated() where !m.isFinite {
                throw SwiftCNNError.invalidArgument("\(op): mean[\(c)] must be finite; got \(m)")
            }
        }
        if let std {
            guard std.count == channels else {
                throw SwiftCNNError.shapeMismatch("\(op): std has \(std.count) values but the image has \(channels) channels")
            }
            for (c, s) in std.enumerated() where !s.isFinite || s == 0 {
                throw SwiftCNNError.invalidArgument("\(op): std[\(c)] must be finite and non-zero; got \(s)")
            }
        }
        self.scale = scale
        self.mean = mean ?? Array(repeating: 0, count: channels)  // channels <= 4
        self.std = std ?? Array(repeating: 1, count: channels)
        if !valuesToPixels {
            // Pixels to values: (p · scale − mean) / std is monotonic in p, so the values of
            // p = 0 and p = 255 bound every value; both finite means every value is.
            for c in 0..<channels {
                for p in [Float(0), 255] where !((p * scale - self.mean[c]) / self.std[c]).isFinite {
                    throw SwiftCNNError.invalidArgument(
                        "\(op): scale \(scale), mean[\(c)] \(self.mean[c]) and std[\(c)] \(self.std[c]) make pixel value \(Int(p)) non-finite")
                }
            }
        }
    }
}

/// Converts 8-bit interleaved pixels to a float tensor `[C, H, W]`.
///
/// - pixels: HWC bytes, `channels` per pixel (1, 3 or 4), rows `rowStride` bytes apart
///   (nil: `width · channels`; must be at least that). The buffer must hold at least
///   `(height − 1) · rowStride + width · channels` bytes; padding bytes are not read.
/// - value = `(p · scale − mean[c]) / std[c]`, computed in Float; `scale` defaults to 1/255,
///   `mean`/`std` nil mean 0 and 1, otherwise they have exactly `channels` finite values
///   (std non-zero).
///
/// Errors: invalidArgument for sizes, channel counts, strides and values out of range;
/// shapeMismatch for a buffer too small or mean/std of the wrong length.
public func imageToTensor(pixels: UnsafeBufferPointer<UInt8>, width: Int, height: Int, channels: Int, rowStride: Int? = nil,
                          scale: Float = 1.0 / 255, mean: [Float]? = nil, std: [Float]? = nil) throws -> Tensor {
    let op = "image to tensor"
    let layout = try PixelLayout(op: op, width: width, height: height, channels: channels, rowStride: rowStride)
    let norm = try Normalization(op: op, channels: channels, scale: scale, mean: mean, std: std, valuesToPixels: false)
    guard pixels.count >= layout.requiredBytes, let src = pixels.baseAddress else {
        throw SwiftCNNError.shapeMismatch(
            "\(op): the pixel buffer holds \(pixels.count) bytes; \(width)×\(height)×\(channels) with row stride \(layout.rowStride) needs \(layout.requiredBytes)")
    }
    var out = try Tensor(uninitialized: [channels, height, width])
    let plane = height * width  // a factor of the validated element count
    out.withUnsafeMutableBufferPointerUnchecked { dst in
        for c in 0..<channels {
            let m = norm.mean[c], s = norm.std[c]
            for y in 0..<height {
                let row = src + y * layout.rowStride
                for x in 0..<width {
                    dst[c * plane + y * width + x] = (Float(row[x * channels + c]) * norm.scale - m) / s
                }
            }
        }
    }
    return out
}

/// Converts a float image tensor back to 8-bit interleaved pixels: the inverse of
/// ``imageToTensor(pixels:width:height:channels:rowStride:scale:mean:std:)``.
///
/// - t: `[C, H, W]` or `[1, C, H, W]`, C = 1, 3 or 4.
/// - dst: receives HWC bytes, rows `rowStride` bytes apart (nil: `W · C`); it must hold
///   `(H − 1) · rowStride + W · C` bytes. Row padding bytes are left untouched.
/// - p = round(clamp((v · std[c] + mean[c]) / scale, 0, 255)), rounding halves away from
///   zero; NaN becomes 0. `scale` must be finite and non-zero.
///
/// Errors: invalidArgument for a bad rank, channel count, stride or value; shapeMismatch
/// for a destination too small or mean/std of the wrong length.
public func tensorToImage(_ t: Tensor, into dst: UnsafeMutableBufferPointer<UInt8>, rowStride: Int? = nil,
                          scale: Float = 1.0 / 255, mean: [Float]? = nil, std: [Float]? = nil) throws {
    let op = "tensor to image"
    let s = t.shape
    guard s.count == 3 || (s.count == 4 && s[0] == 1) else {
        throw SwiftCNNError.invalidArgument("\(op): image must be [C, H, W] or [1, C, H, W]; got shape \(Tensor.describe(s))")
    }
    let channels = s[s.count - 3], height = s[s.count - 2], width = s[s.count - 1]
    let layout = try PixelLayout(op: op, width: width, height: height, channels: channels, rowStride: rowStride)
    let norm = try Normalization(op: op, channels: channels, scale: scale, mean: mean, std: std, valuesToPixels: true)
    guard dst.count >= layout.requiredBytes, let out = dst.baseAddress else {
        throw SwiftCNNError.shapeMismatch(
            "\(op): the destination holds \(dst.count) bytes; \(width)×\(height)×\(channels) with row stride \(layout.rowStride) needs \(layout.requiredBytes)")
    }
    let plane = height * width
    t.withUnsafeBufferPointer { src in
        for c in 0..<channels {
            let m = norm.mean[c], sd = norm.std[c]
            for y in 0..<height {
                let row = out + y * layout.rowStride
                for x in 0..<width {
                    row[x * channels + c] = quantize((src[c * plane + y * width + x] * sd + m) / norm.scale)
                }
            }
        }
    }
}

/// round(clamp(v, 0, 255)) as a byte; NaN → 0.
@inline(__always)
func quantize(_ v: Float) -> UInt8 {
    if !(v > 0) { return 0 }      // also NaN
    if v >= 255 { return 255 }
    return UInt8(v.rounded(.toNearestOrAwayFromZero))
}
