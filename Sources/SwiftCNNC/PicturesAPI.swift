import CSwiftCNNTypes
import SwiftCNN

// MARK: - Internal helpers (not exported)

/// The object behind an `scnn_picture *`: the picture and a C copy of its bytes (which
/// scnn_picture_data returns), never changed after it is made.
final class PictureBox {
    let picture: Picture
    let bytes: UnsafeMutablePointer<UInt8>

    init(_ picture: Picture) {
        self.picture = picture
        bytes = .allocate(capacity: picture.pixels.count)
        picture.pixels.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { bytes.initialize(from: base, count: src.count) }
        }
    }

    deinit { bytes.deallocate() }
}

typealias PictureOut = UnsafeMutablePointer<UnsafeMutablePointer<scnn_picture>?>

func pictureBox(_ handle: UnsafePointer<scnn_picture>) -> PictureBox {
    Unmanaged<PictureBox>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
}

/// The picture behind a handle, or an invalid-argument error naming `name` when it is NULL.
func pictureArg(_ handle: UnsafePointer<scnn_picture>?, _ name: String) throws -> Picture {
    pictureBox(try required(handle, name)).picture
}

/// Runs `make` and stores its picture as a new handle in `*out` (NULL on every failure).
func producePicture(_ out: PictureOut?, _ make: () throws -> Picture) -> scnn_status {
    guarded {
        let out = try required(out, "out")
        out.pointee = nil
        let p = try make()
        out.pointee = Unmanaged.passRetained(PictureBox(p)).toOpaque().assumingMemoryBound(to: scnn_picture.self)
    }
}

/// A C scale argument: 0 means automatic (nil); otherwise 1 to 256.
func pictureScaleArg(_ scale: Int32) -> Int? { scale == 0 ? nil : Int(scale) }

/// `count` C strings (NULL entries become ""), or nil for a NULL array.
func optionalNames(_ names: UnsafePointer<UnsafePointer<CChar>?>?, _ count: Int64, _ what: String) throws -> [String]? {
    guard let names else {
        guard count == 0 else { throw SwiftCNNError.invalidArgument("\(what): names is NULL but name_count is \(count)") }
        return nil
    }
    guard count >= 0 && count <= 1 << 24 else {
        throw SwiftCNNError.invalidArgument("\(what): name_count must be 0 to \(1 << 24); got \(count)")
    }
    return (0..<Int(count)).map { names[$0].map { String(cString: $0) } ?? "" }
}

/// A count of detections: 0 to 2^24.
func elementCountArg(_ n: Int64, _ what: String) throws -> Int {
    guard n >= 0 && n <= 1 << 24 else { throw SwiftCNNError.invalidArgument("\(what) must be 0 to 2^24; got \(n)") }
    return Int(n)
}

// MARK: - Pictures

/// File formats for scnn_picture_save.
@c public enum scnn_picture_format: Int32 {
    /// By the path's extension: ".png" or ".ppm" (any case); any other name is an error.
    case auto = 0
    /// PNG: 8-bit RGB, zlib-compressed (fixed-Huffman deflate with LZ77 matching).
    case png = 1
    /// Binary PPM (P6, maxval 255).
    case ppm = 2
}

/// Makes a width x height picture, every pixel black. On success *out is a new picture freed
/// with scnn_picture_destroy; NULL on failure.
/// Errors: INVALID_ARGUMENT (NULL out, a side < 1 or > 32768).
@c(scnn_picture_create)
public func scnnPictureCreate(_ width: Int64, _ height: Int64, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_picture>?>?) -> scnn_status {
    producePicture(out) {
        guard width >= 1, height >= 1, width <= Int64(Picture.maxSide), height <= Int64(Picture.maxSide) else {
            throw SwiftCNNError.invalidArgument("picture: width and height must be 1 to \(Picture.maxSide); got \(width)x\(height)")
        }
        return try Picture(width: Int(width), height: Int(height))
    }
}

/// Makes a picture from `height` rows of `width` RGB pixels (3 bytes each, R G B) at `rgb`,
/// row r starting at rgb + r * row_stride bytes (row_stride 0: packed, width * 3). The bytes
/// are copied. *out as in scnn_picture_create.
/// Errors: INVALID_ARGUMENT (NULL pointer, a side < 1 or > 32768, 0 < row_stride < width * 3,
/// negative row_stride), OUT_OF_MEMORY.
@c(scnn_picture_from_rgb)
public func scnnPictureFromRgb(
    _ rgb: UnsafePointer<UInt8>?, _ width: Int64, _ height: Int64, _ row_stride: Int64,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_picture>?>?
) -> scnn_status {
    producePicture(out) {
        let op = "picture from rgb"
        let src = try required(rgb, "rgb")
        guard width >= 1, height >= 1, width <= Int64(Picture.maxSide), height <= Int64(Picture.maxSide) else {
            throw SwiftCNNError.invalidArgument("\(op): width and height must be 1 to \(Picture.maxSide); got \(width)x\(height)")
        }
        let (w, h) = (Int(width), Int(height))
        let stride = try rowStrideArg(op, row_stride) ?? w * 3
        guard stride >= w * 3 else {
            throw SwiftCNNError.invalidArgument("\(op): row_stride \(stride) is less than width * 3 = \(w * 3)")
        }
        _ = try Checked.add(try Checked.mul(h - 1, stride, op), w * 3, "\(op): rows (height x row_stride)")
        var px = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h { for i in 0..<(w * 3) { px[y * w * 3 + i] = src[y * stride + i] } }
        return try Picture(width: w, height: h, pixels: px)
    }
}

/// Makes a picture of an image tensor: [H, W], [C, H, W] or [1, C, H, W] with C = 1 (grey) or
/// 3 (RGB), scaled by the image's own minimum and maximum to 0...255 (round(255 * (v - min) /
/// (max - min)); a constant image is mid grey 128; NaN and infinities are left out of min and
/// max and drawn as 0). *out as in scnn_picture_create.
/// Errors: INVALID_ARGUMENT (NULL pointer, another shape, a side > 32768), OUT_OF_MEMORY.
@c(scnn_picture_from_tensor)
public func scnnPictureFromTensor(
    _ image: UnsafePointer<scnn_tensor>?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_picture>?>?
) -> scnn_status {
    producePicture(out) { try Picture(tensor: try tensorArg(image, "image")) }
}

/// Frees a picture (NULL: nothing). Pointers from scnn_picture_data become invalid.
@c(scnn_picture_destroy)
public func scnnPictureDestroy(_ picture: UnsafeMutablePointer<scnn_picture>?) {
    guard let picture else { return }
    Unmanaged<PictureBox>.fromOpaque(UnsafeRawPointer(picture)).release()
}

/// The picture's width in pixels; 0 for NULL.
@c(scnn_picture_width)
public func scnnPictureWidth(_ picture: UnsafePointer<scnn_picture>?) -> Int64 {
    guard let picture else { return 0 }
    return Int64(pictureBox(picture).picture.width)
}

/// The picture's height in pixels; 0 for NULL.
@c(scnn_picture_height)
public func scnnPictureHeight(_ picture: UnsafePointer<scnn_picture>?) -> Int64 {
    guard let picture else { return 0 }
    return Int64(pictureBox(picture).picture.height)
}

/// The picture's pixels: height rows of width pixels, 3 bytes each (R, G, B), packed, top row
/// first (pixel (x, y) at data + (y * width + x) * 3). Valid until scnn_picture_destroy; read
/// only. NULL for NULL.
@c(scnn_picture_data)
public func scnnPictureData(_ picture: UnsafePointer<scnn_picture>?) -> UnsafePointer<UInt8>? {
    guard let picture else { return nil }
    return UnsafePointer(pictureBox(picture).bytes)
}

/// Writes the picture to `path` as PNG or PPM (`format`: an scnn_picture_format; AUTO picks
/// by the name's extension), atomically: a reader sees the old file or the complete new one,
/// and nothing is left behind on failure. The path is used as the caller's bytes.
/// Errors: INVALID_ARGUMENT (NULL or empty path, unknown format, AUTO with a name not ending
/// in .png or .ppm), IO (cannot write; the message names the path).
@c(scnn_picture_save)
public func scnnPictureSave(_ picture: UnsafePointer<scnn_picture>?, _ path: UnsafePointer<CChar>?, _ format: Int32) -> scnn_status {
    guarded {
        let p = try pictureArg(picture, "picture")
        let file = try pathArg(path)
        guard let f = PictureFormat(rawValue: format) else {
            throw SwiftCNNError.invalidArgument("picture save: format must be 0 (auto), 1 (png) or 2 (ppm); got \(format)")
        }
        try p.save(to: file, format: f)
    }
}

/// Renders the learned filters of a convolution: `name` is its weight's parameter name
/// ("features.0.weight") or its layer's ("features.0"). 3 input channels: one RGB tile per
/// filter; 1: one grey tile per filter (both in a square-ish grid); more: one grey tile per
/// (filter, input channel), a row per filter (at most 64 filters and 16 channels, the first
/// ones). Each filter is scaled by its own min and max over all its weights (most negative
/// black, most positive white, constant mid grey). `scale`: tile enlargement, 1 to 256, or 0
/// for 40 / the larger kernel side. A title names the weight, the filter count and size.
/// Layout: white background, 4-pixel margin, 7-pixel title, tiles from y = 15, 1 pixel apart.
/// *out as in scnn_picture_create.
/// Errors: INVALID_ARGUMENT (NULL pointer, unknown name, a weight that is not 4-D, scale out of
/// range, a picture larger than 32768 a side), OUT_OF_MEMORY.
@c(scnn_picture_filters)
public func scnnPictureFilters(
    _ model: UnsafePointer<scnn_model>?, _ name: UnsafePointer<CChar>?, _ scale: Int32,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_picture>?>?
) -> scnn_status {
    producePicture(out) {
        try Pictures.filters(try modelArg(model).model, name: try stringArg(name, "name"), scale: pictureScaleArg(scale))
    }
}

/// Renders the activation maps of node `node` (a name as scnn_model_node_name lists them) for
/// one input image [1, C, H, W] or [C, H, W]: one grey tile per channel of the node's output
/// [1, K, h, w] (at most 256), each map scaled by its own min and max (smallest black, largest
/// white, constant mid grey), in a square-ish grid under the title "node: [1, K, h, w]".
/// `scale`: 1 to 256, or 0 for 64 / the larger map side. Layout as scnn_picture_filters.
/// *out as in scnn_picture_create.
/// Errors: INVALID_ARGUMENT (NULL pointer, unknown node, batch other than 1, an output that
/// is not 4-D, scale out of range), SHAPE_MISMATCH (input not accepted), OUT_OF_MEMORY.
@c(scnn_picture_activations)
public func scnnPictureActivations(
    _ model: UnsafePointer<scnn_model>?, _ input: UnsafePointer<scnn_tensor>?, _ node: UnsafePointer<CChar>?,
    _ scale: Int32, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_picture>?>?
) -> scnn_status {
    producePicture(out) {
        try Pictures.activations(try modelArg(model).model, input: try tensorArg(input, "input"),
                                 node: try stringArg(node, "node"), scale: pictureScaleArg(scale))
    }
}

/// Renders the receptive field of unit (y, x) of node `node`'s output on the input image: for
/// each convolution or pooling layer of the chain from the input to the node, the input
/// pixels seen by one unit of that layer (the centre of what the chosen unit reads from it;
/// the last rectangle is the unit's whole field), padding and dilation included, one colour
/// per layer, clipped to the image, with a legend of each layer's window and field. `image`:
/// the input as a picture (scnn_picture_from_tensor makes one from a tensor), or NULL for a
/// grey canvas of the model's input size. `scale`: enlargement, 1 to 256, or 0 for 256 / the
/// longer side. Only chains are supported (no residual blocks or branches before the node).
/// *out as in scnn_picture_create.
/// Errors: INVALID_ARGUMENT (NULL pointer, unknown node, a unit outside the node's output,
/// scale out of range), UNSUPPORTED (a branch, flatten, linear or adaptive pool before the
/// node), SHAPE_MISMATCH (an image too small for the chain), OUT_OF_MEMORY.
@c(scnn_picture_receptive_field)
public func scnnPictureReceptiveField(
    _ model: UnsafePointer<scnn_model>?, _ node: UnsafePointer<CChar>?, _ y: Int64, _ x: Int64,
    _ image: UnsafePointer<scnn_picture>?, _ scale: Int32,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_picture>?>?
) -> scnn_status {
    producePicture(out) {
        let img = image.map { pictureBox($0).picture }
        return try Pictures.receptiveField(try modelArg(model).model, node: try stringArg(node, "node"),
                                           y: Int(clamping: y), x: Int(clamping: x), image: img,
                                           scale: pictureScaleArg(scale))
    }
}

/// Draws `count` detections on a copy of `image`: box i is boxes[4i .. 4i+3] = x1, y1, x2, y2
/// in pixels (as torchvision's detectors give them), outlined 2 pixels wide in the colour of
/// labels[i] over columns round(x1) .. round(x2) - 1 and rows round(y1) .. round(y2) - 1,
/// clipped; its caption "name 0.87" (names[labels[i]] when names is not NULL and the label is
/// 0 .. name_count - 1, else the number; the score with 2 decimals) on a band of the box's
/// colour 9 pixels high just above the box. `boxes`, `scores`, `labels` may be NULL when count
/// is 0. *out as in scnn_picture_create.
/// Errors: INVALID_ARGUMENT (NULL pointer, count < 0 or > 2^24, non-finite coordinates, names NULL
/// with name_count > 0, name_count > 2^24), OUT_OF_MEMORY.
@c(scnn_picture_detections)
public func scnnPictureDetections(
    _ image: UnsafePointer<scnn_picture>?, _ count: Int64, _ boxes: UnsafePointer<Float>?,
    _ scores: UnsafePointer<Float>?, _ labels: UnsafePointer<Int64>?,
    _ names: UnsafePointer<UnsafePointer<CChar>?>?, _ name_count: Int64,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_picture>?>?
) -> scnn_status {
    producePicture(out) {
        let op = "picture detections"
        let img = try pictureArg(image, "image")
        let n = try elementCountArg(count, "\(op): count")
        var b: [Float] = [], s: [Float] = [], l: [Int] = []
        if n > 0 {
            let bp = try required(boxes, "boxes"), sp = try required(scores, "scores"), lp = try required(labels, "labels")
            b = Array(UnsafeBufferPointer(start: bp, count: 4 * n))
            s = Array(UnsafeBufferPointer(start: sp, count: n))
            l = (0..<n).map { Int(lp[$0]) }
        }
        return try Pictures.detections(on: img, boxes: b, scores: s, labels: l,
                                       names: try optionalNames(names, name_count, op))
    }
}

/// Renders a label map: `labels` holds height rows of width class indices (>= 0), each pixel
/// coloured with the PASCAL VOC palette (0 black, 1 (128, 0, 0), 2 (0, 128, 0), ...). With
/// `image` (same width and height; NULL for none) each pixel is image * (1 - alpha) + colour *
/// alpha, rounded. `scale`: each map pixel becomes scale x scale pixels (1 to 64). With
/// `legend` non-zero, a band below the map lists the classes present: a swatch and "c name"
/// (names[c] when names is not NULL and c < name_count, else "class c").
/// *out as in scnn_picture_create.
/// Errors: INVALID_ARGUMENT (NULL pointer, a side < 1 or > 32768, a negative label, an image
/// of another size, alpha outside 0 .. 1, scale out of range), OUT_OF_MEMORY.
@c(scnn_picture_label_map)
public func scnnPictureLabelMap(
    _ labels: UnsafePointer<Int64>?, _ height: Int64, _ width: Int64, _ image: UnsafePointer<scnn_picture>?,
    _ alpha: Float, _ names: UnsafePointer<UnsafePointer<CChar>?>?, _ name_count: Int64, _ legend: Int32,
    _ scale: Int32, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_picture>?>?
) -> scnn_status {
    producePicture(out) {
        let op = "picture label map"
        let lp = try required(labels, "labels")
        guard width >= 1, height >= 1, width <= Int64(Picture.maxSide), height <= Int64(Picture.maxSide) else {
            throw SwiftCNNError.invalidArgument("\(op): width and height must be 1 to \(Picture.maxSide); got \(width)x\(height)")
        }
        let n = Int(width) * Int(height)
        let l = (0..<n).map { Int(lp[$0]) }
        return try Pictures.labelMap(l, height: Int(height), width: Int(width), image: image.map { pictureBox($0).picture },
                                     alpha: alpha, names: try optionalNames(names, name_count, op), legend: legend != 0,
                                     scale: Int(scale))
    }
}
