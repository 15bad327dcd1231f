import CSwiftCNNTypes
import SwiftCNN

// MARK: - Images

/// Converts 8-bit interleaved pixels (HWC: `channels` bytes per pixel, row after row) to a
/// new float tensor [channels, height, width] with value = (p * scale - mean[c]) / std[c].
/// pixels: at least (height - 1) * row_stride + width * channels bytes, read only (padding
/// bytes at the end of rows are not read). width, height >= 1; channels 1, 3 or 4;
/// row_stride: bytes from one row to the next, >= width * channels, or 0 for width * channels.
/// scale: e.g. 1/255 to map bytes to [0, 1]; must be finite. mean, std: `channels` floats
/// each (std non-zero), or NULL for 0 and 1. On success *out is a new tensor freed with
/// scnn_tensor_destroy; NULL on failure.
/// Errors: INVALID_ARGUMENT (NULL pixels or out, bad size, channel count, negative or too
/// small row_stride, non-finite scale/mean/std, zero std, or values that would not be finite
/// for pixel 0 or 255, e.g. scale 3e38), OUT_OF_MEMORY.
@c(scnn_image_to_tensor)
public func scnnImageToTensor(
    _ pixels: UnsafePointer<UInt8>?, _ width: Int64, _ height: Int64, _ channels: Int64, _ row_stride: Int64,
    _ scale: Float, _ mean: UnsafePointer<Float>?, _ std: UnsafePointer<Float>?,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) {
        let op = "image to tensor"
        let p = try required(pixels, "pixels")
        let w = Int(width), h = Int(height), c = Int(channels)
        let stride = try rowStrideArg(op, row_stride)
        // Checks the sizes and channel count before mean/std are read (channels floats each).
        let bytes = try imageByteCount(width: w, height: h, channels: c, rowStride: stride, context: op)
        return try imageToTensor(pixels: UnsafeBufferPointer(start: p, count: bytes), width: w, height: h, channels: c,
                                 rowStride: stride, scale: scale,
                                 mean: mean.map { m in (0..<c).map { m[$0] } },
                                 std: std.map { s in (0..<c).map { s[$0] } })
    }
}

/// Converts a float image tensor [C, H, W] or [1, C, H, W] (C = 1, 3 or 4) back to 8-bit
/// interleaved pixels: p = round(clamp((v * std[c] + mean[c]) / scale, 0, 255)), halves
/// rounded away from zero, NaN to 0. scale: finite and non-zero (1/255 for [0, 1] images).
/// mean, std: C floats each (std non-zero) or NULL for 0 and 1.
/// pixels: the caller's buffer of `capacity` bytes; it must hold
/// (H - 1) * row_stride + W * C bytes. row_stride: >= W * C, or 0 for W * C; padding bytes
/// between rows are left unchanged.
/// Errors: INVALID_ARGUMENT (NULL pointer, bad rank or channel count, bad row_stride, scale
/// 0 or not finite, bad mean/std values), SHAPE_MISMATCH (capacity too small).
@c(scnn_tensor_to_image)
public func scnnTensorToImage(
    _ image: UnsafePointer<scnn_tensor>?, _ scale: Float, _ mean: UnsafePointer<Float>?, _ std: UnsafePointer<Float>?,
    _ pixels: UnsafeMutablePointer<UInt8>?, _ capacity: Int64, _ row_stride: Int64
) -> scnn_status {
    guarded {
        let op = "tensor to image"
        let t = try tensorArg(image, "image")
        let dst = try required(pixels, "pixels")
        guard capacity >= 0 else {
            throw SwiftCNNError.invalidArgument("\(op): capacity must not be negative; got \(capacity)")
        }
        let stride = try rowStrideArg(op, row_stride)
        let s = t.shape
        // Channels from a valid shape only; tensorToImage reports anything else.
        let c = (s.count == 3 || (s.count == 4 && s[0] == 1)) ? s[s.count - 3] : 0
        let known = c == 1 || c == 3 || c == 4
        try tensorToImage(t, into: UnsafeMutableBufferPointer(start: dst, count: Int(capacity)), rowStride: stride,
                          scale: scale,
                          mean: known ? mean.map { m in (0..<c).map { m[$0] } } : nil,
                          std: known ? std.map { p in (0..<c).map { p[$0] } } : nil)
    }
}

/// Converts RGB images [3, H, W] or [N, 3, H, W] (values in [0, 1]) to HSV of the same
/// shape: H in degrees [0, 360), S and V in [0, 1] (Python colorsys's formula; grays have
/// H = 0, black has S = 0). On success *out is a new tensor freed with
/// scnn_tensor_destroy; NULL on failure.
/// Errors: INVALID_ARGUMENT (NULL pointer, rank not 3 or 4, channel count not 3), OUT_OF_MEMORY.
@c(scnn_rgb_to_hsv)
public func scnnRGBToHSV(
    _ input: UnsafePointer<scnn_tensor>?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) { try rgbToHSV(try tensorArg(input, "input")) }
}

/// Converts HSV images [3, H, W] or [N, 3, H, W] (H in degrees, taken modulo 360; S, V in
/// [0, 1]) to RGB of the same shape: the inverse of scnn_rgb_to_hsv. A non-finite hue gives
/// NaN. *out as in scnn_rgb_to_hsv.
/// Errors: INVALID_ARGUMENT (NULL pointer, rank not 3 or 4, channel count not 3), OUT_OF_MEMORY.
@c(scnn_hsv_to_rgb)
public func scnnHSVToRGB(
    _ input: UnsafePointer<scnn_tensor>?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) { try hsvToRGB(try tensorArg(input, "input")) }
}

/// Converts RGB images [3, H, W] or [N, 3, H, W] to grayscale [1, H, W] or [N, 1, H, W]
/// with the ITU-R BT.601 weights: 0.299 R + 0.587 G + 0.114 B. *out as in scnn_rgb_to_hsv.
/// Errors: INVALID_ARGUMENT (NULL pointer, rank not 3 or 4, channel count not 3), OUT_OF_MEMORY.
@c(scnn_rgb_to_grayscale)
public func scnnRGBToGrayscale(
    _ input: UnsafePointer<scnn_tensor>?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) { try rgbToGrayscale(try tensorArg(input, "input")) }
}

/// Resizes images [C, H, W] or [N, C, H, W] to height x width pixels, bilinearly, exactly as
/// PyTorch's F.interpolate(mode="bilinear", align_corners=False, antialias=False).
/// height, width: the output size in pixels, each >= 1. On success *out is a new tensor
/// [C, height, width] or [N, C, height, width] freed with scnn_tensor_destroy; NULL on failure.
/// Errors: INVALID_ARGUMENT (NULL pointer, rank not 3 or 4, size < 1), OUT_OF_MEMORY.
@c(scnn_resize_bilinear)
public func scnnResizeBilinear(
    _ input: UnsafePointer<scnn_tensor>?, _ height: Int64, _ width: Int64,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) { try resizeBilinear(try tensorArg(input, "input"), height: Int(height), width: Int(width)) }
}

/// Crops the central height x width pixels of images [H, W], [C, H, W] or [N, C, H, W], with
/// torchvision's center_crop offsets: top = round((H - height) / 2), left = round((W - width) / 2),
/// halves rounded to even. On success *out is a new tensor (the last two dimensions
/// replaced) freed with scnn_tensor_destroy; NULL on failure.
/// Errors: INVALID_ARGUMENT (NULL pointer, rank 1, size < 1, crop larger than the image), OUT_OF_MEMORY.
@c(scnn_center_crop)
public func scnnCenterCrop(
    _ input: UnsafePointer<scnn_tensor>?, _ height: Int64, _ width: Int64,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) { try centerCrop(try tensorArg(input, "input"), height: Int(height), width: Int(width)) }
}

/// Resizes images [C, H, W] or [N, C, H, W] to height x width pixels, bilinearly with
/// antialiasing, as PyTorch's F.interpolate(mode="bilinear", align_corners=False,
/// antialias=True) and torchvision's Resize(antialias=True) on float images: when shrinking,
/// a triangle filter as wide as the shrink factor, weights normalised per output pixel, the
/// width pass first; when enlarging, plain bilinear. (Where torch 2.15's CPU kernel errs, an
/// output width of 1 with the height changing, this follows the formula.) height, width >= 1.
/// On success *out is a new tensor [C, height, width] or [N, C, height, width] freed with
/// scnn_tensor_destroy; NULL on failure.
/// Errors: INVALID_ARGUMENT (NULL pointer, rank not 3 or 4, size < 1), OUT_OF_MEMORY.
@c(scnn_resize_bilinear_antialias)
public func scnnResizeBilinearAntialias(
    _ input: UnsafePointer<scnn_tensor>?, _ height: Int64, _ width: Int64,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) { try resizeAntialiased(try tensorArg(input, "input"), height: Int(height), width: Int(width)) }
}

/// Crops the central height x width pixels of images [H, W], [C, H, W] or [N, C, H, W] like
/// scnn_center_crop, but a crop larger than the image is allowed, as in torchvision's
/// center_crop: the image is padded with zeros first ((crop - size) / 2 rounded down before,
/// the rest after, on each axis that is too small). *out as in scnn_center_crop.
/// Errors: INVALID_ARGUMENT (NULL pointer, rank 1, size < 1), OUT_OF_MEMORY.
@c(scnn_center_crop_padded)
public func scnnCenterCropPadded(
    _ input: UnsafePointer<scnn_tensor>?, _ height: Int64, _ width: Int64,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) { try centerCrop(try tensorArg(input, "input"), height: Int(height), width: Int(width), pad: true) }
}

/// ImageNet preprocessing in one call, equal to torchvision's v2 pipeline on the float
/// image: Compose([ToImage(), ToDtype(float32, scale=True), Resize(256, antialias=True),
/// CenterCrop(224), Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])]).
/// pixels: 8-bit interleaved RGB (channels 3), RGBA (4, alpha ignored) or gray (1, used
/// for R, G and B), rows row_stride bytes apart (0: width * channels); at least
/// (height - 1) * row_stride + width * channels bytes, read only. width, height >= 1.
/// On success *out is a new tensor [3, 224, 224] freed with scnn_tensor_destroy (batch it
/// yourself); NULL on failure.
/// Errors: INVALID_ARGUMENT (NULL pixels or out, bad size or channel count, negative or too
/// small row_stride, an image so narrow that its longer side would resize to 0),
/// OUT_OF_MEMORY.
@c(scnn_image_imagenet_preprocess)
public func scnnImageImagenetPreprocess(
    _ pixels: UnsafePointer<UInt8>?, _ width: Int64, _ height: Int64, _ channels: Int64, _ row_stride: Int64,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) {
        let op = "imagenet preprocess"
        let p = try required(pixels, "pixels")
        let w = Int(width), h = Int(height), c = Int(channels)
        let stride = try rowStrideArg(op, row_stride)
        let bytes = try imageByteCount(width: w, height: h, channels: c, rowStride: stride, context: op)
        return try imagenetPreprocess(pixels: UnsafeBufferPointer(start: p, count: bytes), width: w, height: h,
                                      channels: c, rowStride: stride)
    }
}

// MARK: - Filters

/// How scnn_filter_apply makes up the pixels outside the image.
@c public enum scnn_border: Int32 {
    /// Pixels outside the image are 0.
    case zero = 0
    /// The nearest edge pixel is repeated.
    case replicate = 1
    /// Mirrored about the edge pixel, which is not repeated (numpy/torch 'reflect'); repeated
    /// as often as needed when the kernel is larger than the image.
    case reflect = 2
}

/// Makes the n x n box (mean) filter, every weight 1/(n x n): the seed's 1/9 (n = 3) and 1/25
/// (n = 5). On success *out is a new tensor [n, n] freed with scnn_tensor_destroy; NULL on failure.
/// Errors: INVALID_ARGUMENT (n < 1, NULL out, n x n overflowing), OUT_OF_MEMORY.
@c(scnn_filter_box)
public func scnnFilterBox(_ n: Int64, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?) -> scnn_status {
    produce(out) { try Filters.box(Int(n)) }
}

/// Makes the horizontal blur 1/n * [1 ... 1], a tensor [1, n] (the seed's n = 5).
/// *out as in scnn_filter_box. Errors: INVALID_ARGUMENT (n < 1, NULL out), OUT_OF_MEMORY.
@c(scnn_filter_horizontal_blur)
public func scnnFilterHorizontalBlur(_ n: Int64, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?) -> scnn_status {
    produce(out) { try Filters.horizontalBlur(Int(n)) }
}

/// Makes the vertical blur 1/n * [1 ... 1] as a column, a tensor [n, 1].
/// *out as in scnn_filter_box. Errors: INVALID_ARGUMENT (n < 1, NULL out), OUT_OF_MEMORY.
@c(scnn_filter_vertical_blur)
public func scnnFilterVerticalBlur(_ n: Int64, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?) -> scnn_status {
    produce(out) { try Filters.verticalBlur(Int(n)) }
}

/// Makes the seed's sharpen filter 1/4 * [[0, -1, 0], [-1, 8, -1], [0, -1, 0]], a tensor [3, 3].
/// *out as in scnn_filter_box. Errors: INVALID_ARGUMENT (NULL out).
@c(scnn_filter_sharpen)
public func scnnFilterSharpen(_ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?) -> scnn_status {
    produce(out) { try Filters.sharpen() }
}

/// Makes the Sobel x kernel [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], a tensor [3, 3].
/// *out as in scnn_filter_box. Errors: INVALID_ARGUMENT (NULL out).
@c(scnn_filter_sobel_x)
public func scnnFilterSobelX(_ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?) -> scnn_status {
    produce(out) { try Filters.sobelX() }
}

/// Makes the Sobel y kernel [[-1, -2, -1], [0, 0, 0], [1, 2, 1]], a tensor [3, 3].
/// *out as in scnn_filter_box. Errors: INVALID_ARGUMENT (NULL out).
@c(scnn_filter_sobel_y)
public func scnnFilterSobelY(_ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?) -> scnn_status {
    produce(out) { try Filters.sobelY() }
}

/// Makes the seed's edge kernel [-1, 0, 1], a tensor [1, 3].
/// *out as in scnn_filter_box. Errors: INVALID_ARGUMENT (NULL out).
@c(scnn_filter_edge)
public func scnnFilterEdge(_ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?) -> scnn_status {
    produce(out) { try Filters.edge() }
}

/// Makes a size x size Gaussian kernel normalized to sum 1: the outer product of the 1-D
/// weights exp(-x^2 / (2 sigma^2)), x = -(size-1)/2 ... (size-1)/2 (as torchvision).
/// size: odd, >= 1. sigma: standard deviation in pixels, finite and > 0.
/// *out as in scnn_filter_box.
/// Errors: INVALID_ARGUMENT (even or non-positive size, sigma <= 0 or not finite, NULL out), OUT_OF_MEMORY.
@c(scnn_filter_gaussian)
public func scnnFilterGaussian(
    _ size: Int64, _ sigma: Float, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) { try Filters.gaussian(size: Int(size), sigma: sigma) }
}

/// Cross-correlates every channel of `image` ([H, W], [C, H, W] or [N, C, H, W]) with
/// `kernel` ([KH, KW], any size, also larger than the image): output (y, x) =
/// sum over ky, kx of kernel[ky, kx] * image[y + ky - (KH-1)/2, x + kx - (KW-1)/2].
/// The output has the image's shape. border: an scnn_border value saying where pixels
/// outside the image come from. On success *out is a new tensor freed with
/// scnn_tensor_destroy; NULL on failure.
/// Errors: INVALID_ARGUMENT (NULL pointer, image rank 1, kernel rank not 2, unknown border), OUT_OF_MEMORY.
@c(scnn_filter_apply)
public func scnnFilterApply(
    _ image: UnsafePointer<scnn_tensor>?, _ kernel: UnsafePointer<scnn_tensor>?, _ border: Int32,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) {
        let mode: BorderMode
        switch border {
        case 0: mode = .zero
        case 1: mode = .replicate
        case 2: mode = .reflect
        default:
            throw SwiftCNNError.invalidArgument(
                "filter apply: border must be 0 (zero), 1 (replicate) or 2 (reflect); got \(border)")
        }
        return try applyFilter(try tensorArg(image, "image"), kernel: try tensorArg(kernel, "kernel"), border: mode)
    }
}

// MARK: - Internal helpers (image arguments; not exported)

/// A C row stride: 0 means "packed" (nil), negative is an error.
func rowStrideArg(_ op: String, _ rowStride: Int64) throws -> Int? {
    guard rowStride >= 0 else {
        throw SwiftCNNError.invalidArgument("\(op): row_stride must be 0 (packed) or positive; got \(rowStride)")
    }
    return rowStride == 0 ? nil : Int(rowStride)
}
