/// Checks that `x` is `[C, H, W]` or `[N, C, H, W]` with C = `channels`; returns
/// (images, plane size = H·W).
func colorLayout(_ op: String, _ x: Tensor, channels: Int, name: String) throws -> (images: Int, plane: Int) {
    let s = x.shape
    guard (s.count == 3 || s.count == 4) && s[s.count - 3] == channels else {
        throw SwiftCNNError.invalidArgument(
            "\(op): input must be \(name) images [\(channels), H, W] or [N, \(channels), H, W]; got shape \(Tensor.describe(s))")
    }
    let plane = s[s.count - 2] * s[s.count - 1]  // factors of the validated count
    return (s.count == 4 ? s[0] : 1, plane)
}

/// Converts RGB to HSV, per pixel.
///
/// - rgb: `[3, H, W]` or `[N, 3, H, W]`, channels R, G, B in [0, 1].
/// - returns the same shape with channels H (degrees, [0, 360)), S and V ([0, 1]) —
///   the formula of Python's colorsys with hue scaled to degrees: V = max, S = (max − min)/max
///   (0 when max is 0), H = 0 for grays. Values outside [0, 1] go through the same formula
///   (S is 0 when V ≤ 0); NaN propagates.
///
/// Errors: a shape other than the above.
public func rgbToHSV(_ rgb: Tensor) throws -> Tensor {
    let (images, plane) = try colorLayout("rgb to hsv", rgb, channels: 3, name: "RGB")
    return try mapColorPixels(rgb, images: images, plane: plane, rgbPixelToHSV)
}

/// One RGB pixel to HSV (hue in degrees).
@inline(__always)
func rgbPixelToHSV(_ r: Float, _ g: Float, _ b: Float) -> (Float, Float, Float) {
    let maxc = max(r, g, b), minc = min(r, g, b)
    let delta = maxc - minc
    var h: Float = 0, s: Float = 0
    if maxc > 0 { s = delta / maxc }
    if delta > 0 {
        let sector: Float
        if r == maxc { sector = (g - b) / delta }
        else if g == maxc { sector = 2 + (b - r) / delta }
        else { sector = 4 + (r - g) / delta }
        h = sector * 60
        if h < 0 { h += 360 }
        if h >= 360 { h -= 360 }
    } else if delta.isNaN {
        h = .nan
        s = .nan
    }
    return (h, s, maxc)
}

/// A new tensor of `x`'s shape (`[3, H, W]` or `[N, 3, H, W]`: `images` images of `plane`
/// pixels) with `pixel` applied to every pixel's three channel values.
@inline(__always)
func mapColorPixels(_ x: Tensor, images: Int, plane: Int,
                    _ pixel: (Float, Float, Float) -> (Float, Float, Float)) throws -> Tensor {
    var out = try Tensor(uninitialized: x.shape)
    x.withUnsafePointer { src in
        out.withUnsafeMutablePointerUnchecked { dst in
            for n in 0..<images {
                let base = n * 3 * plane
                for i in 0..<plane {
                    let (a, b, c) = pixel(src[base + i], src[base + plane + i], src[base + 2 * plane + i])
                    dst[base + i] = a
                    dst[base + plane + i] = b
                    dst[base + 2 * plane + i] = c
                }
            }
        }
    }
    return out
}

/// Converts HSV to RGB, per pixel: the inverse of ``rgbToHSV(_:)``.
///
/// - hsv: `[3, H, W]` or `[N, 3, H, W]`, channels H (degrees, taken modulo 360, so negative
///   or large hues wrap), S and V (normally in [0, 1]).
/// - returns RGB of the same shape, by colorsys's sector formula. A non-finite hue gives NaN.
///
/// Errors: a shape other than the above.
public func hsvToRGB(_ hsv: Tensor) throws -> Tensor {
    let (images, plane) = try colorLayout("hsv to rgb", hsv, channels: 3, name: "HSV")
    return try mapColorPixels(hsv, images: images, plane: plane, hsvPixel)
}

/// One HSV pixel (hue in degrees) to RGB.
@inline(__always)
func hsvPixel(_ hue: Float, _ s: Float, _ v: Float) -> (Float, Float, Float) {
    guard hue.isFinite else { return (.nan, .nan, .nan) }
    var h = hue.truncatingRemainder(dividingBy: 360)
    if h < 0 { h += 360 }
    if h >= 360 { h = 0 }
    let h6 = h / 60
    let sector = min(Int(h6), 5)           // h6 is finite and in [0, 6]
    let f = h6 - Float(sector)
    let p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f))
    switch sector {
    case 0: return (v, t, p)
    case 1: return (q, v, p)
    case 2: return (p, v, t)
    case 3: return (p, q, v)
    case 4: return (t, p, v)
    default: return (v, p, q)
    }
}

/// Converts RGB to grayscale with the ITU-R BT.601 luma weights: Y = 0.299 R + 0.587 G + 0.114 B.
///
/// - rgb: `[3, H, W]` or `[N, 3, H, W]`.
/// - returns `[1, H, W]` or `[N, 1, H, W]`.
///
/// Errors: a shape other than the above.
public func rgbToGrayscale(_ rgb: Tensor) throws -> Tensor {
    let (images, plane) = try colorLayout("rgb to grayscale", rgb, channels: 3, name: "RGB")
    var shape = rgb.shape
    shape[shape.count - 3] = 1
    var out = try Tensor(uninitialized: shape)
    rgb.withUnsafePointer { src in
        out.withUnsafeMutablePointerUnchecked { dst in
            for n in 0..<images {
                let base = n * 3 * plane
                for i in 0..<plane {
                    dst[n * plane + i] = 0.299 * src[base + i] + 0.587 * src[base + plane + i] + 0.114 * src[base + 2 * plane + i]
                }
            }
        }
    }
    return out
}
