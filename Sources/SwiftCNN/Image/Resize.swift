/// Source position of output index `i` along an axis for bilinear resizing, PyTorch's way
/// (align_corners=False): src = max((i + 0.5) · in/out − 0.5, 0); neighbours i0 = ⌊src⌋ and
/// i1 = min(i0 + 1, in − 1); weight of i1 is src − i0. Float arithmetic, as torch's CPU kernel.
@inline(__always)
func bilinearSource(_ i: Int, scale: Float, inputSize: Int) -> (i0: Int, i1: Int, w1: Float) {
    let src = max((Float(i) + 0.5) * scale - 0.5, 0)
    let i0 = min(Int(src), inputSize - 1)   // src >= 0 and at most about inputSize
    let i1 = i0 < inputSize - 1 ? i0 + 1 : i0
    return (i0, i1, src - Float(i0))
}

/// Resizes images bilinearly with the semantics of PyTorch's
/// `F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False, antialias=False)`:
/// no antialiasing when shrinking, edges clamped.
///
/// - x: `[C, H, W]` or `[N, C, H, W]`.
/// - returns `[C, height, width]` or `[N, C, height, width]`.
///
/// Errors: another rank, height or width < 1, an output too large to allocate.
public func resizeBilinear(_ x: Tensor, height: Int, width: Int) throws -> Tensor {
    let s = x.shape
    guard s.count == 3 || s.count == 4 else {
        throw SwiftCNNError.invalidArgument("resize: input must be [C, H, W] or [N, C, H, W]; got shape \(Tensor.describe(s))")
    }
    guard height >= 1 && width >= 1 else {
        throw SwiftCNNError.invalidArgument("resize: output size must be at least 1×1; got \(height)×\(width)")
    }
    let inH = s[s.count - 2], inW = s[s.count - 1]
    let planes = s.dropLast(2).reduce(1, *)  // a factor of the validated count
    var outShape = s
    outShape[s.count - 2] = height
    outShape[s.count - 1] = width
    var out = try Tensor(uninitialized: outShape)
    let scaleH = Float(inH) / Float(height), scaleW = Float(inW) / Float(width)
    x.withUnsafePointer { src in
        out.withUnsafeMutablePointerUnchecked { dst in
            for p in 0..<planes {
                let plane = src + p * inH * inW
                let outPlane = dst + p * height * width
                for y in 0..<height {
                    let (y0, y1, wy1) = bilinearSource(y, scale: scaleH, inputSize: inH)
                    let wy0 = 1 - wy1
                    let r0 = plane + y0 * inW, r1 = plane + y1 * inW
                    for xo in 0..<width {
                        let (x0, x1, wx1) = bilinearSource(xo, scale: scaleW, inputSize: inW)
                        let wx0 = 1 - wx1
                        outPlane[y * width + xo] = wy0 * (wx0 * r0[x0] + wx1 * r0[x1]) + wy1 * (wx0 * r1[x0] + wx1 * r1[x1])
                    }
                }
            }
        }
    }
    return out
}

/// Crops the central `height`×`width` region of every image, with torchvision's offsets:
/// top = round((H − height) / 2), left = round((W − width) / 2), rounding halves to even
/// (Python's round).
///
/// With `pad`, a crop larger than the image is allowed, as torchvision's `center_crop`:
/// the image is first padded with zeros, (crop − size) // 2 before and the rest after, on
/// each axis that is too small, and the crop then taken from the padded image.
///
/// - x: `[H, W]`, `[C, H, W]` or `[N, C, H, W]`.
/// - returns the same leading dimensions with the last two replaced by height, width.
///
/// Errors: rank 1, height or width < 1, a crop larger than the image (without `pad`), an
/// output too large to allocate.
public func centerCrop(_ x: Tensor, height: Int, width: Int, pad: Bool = false) throws -> Tensor {
    let s = x.shape
    guard s.count >= 2 else {
        throw SwiftCNNError.invalidArgument("center crop: input must be [H, W], [C, H, W] or [N, C, H, W]; got shape \(Tensor.describe(s))")
    }
    let inH = s[s.count - 2], inW = s[s.count - 1]
    guard height >= 1 && width >= 1 else {
        throw SwiftCNNError.invalidArgument("center crop: crop size must be at least 1×1; got \(height)×\(width)")
    }
    guard pad || (height <= inH && width <= inW) else {
        throw SwiftCNNError.invalidArgument("center crop: crop \(height)×\(width) is larger than the image \(inH)×\(inW)")
    }
    // Zero padding before the image on each axis, and the padded size (torchvision's).
    let padTop = height > inH ? (height - inH) / 2 : 0
    let padLeft = width > inW ? (width - inW) / 2 : 0
    let paddedH = max(height, inH), paddedW = max(width, inW)
    let top = Int((Double(paddedH - height) / 2).rounded(.toNearestOrEven)) - padTop
    let left = Int((Double(paddedW - width) / 2).rounded(.toNearestOrEven)) - padLeft
    let planes = s.dropLast(2).reduce(1, *)
    var outShape = s
    outShape[s.count - 2] = height
    outShape[s.count - 1] = width
    _ = try Checked.product(outShape, "center crop: output element count")
    var out = try Tensor(uninitialized: outShape)
    // Source columns [x0, x1) of the output row land inside the image; the rest are 0.
    let x0 = max(0, -left), x1 = min(width, inW - left)
    x.withUnsafePointer { src in
        out.withUnsafeMutablePointerUnchecked { dst in
            for p in 0..<planes {
                for y in 0..<height {
                    let to = dst + (p * height + y) * width
                    let sy = top + y
                    guard sy >= 0 && sy < inH && x0 < x1 else {
                        to.update(repeating: 0, count: width)
                        continue
                    }
                    if x0 > 0 { to.update(repeating: 0, count: x0) }
                    to.advanced(by: x0).update(from: src + (p * inH + sy) * inW + left + x0, count: x1 - x0)
                    if x1 < width { to.advanced(by: x1).update(repeating: 0, count: width - x1) }
                }
            }
        }
    }
    return out
}
