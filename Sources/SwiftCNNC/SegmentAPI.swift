import CSwiftCNNTypes
import SwiftCNN

// MARK: - Segmentation

/// Copies a segmentation result into the caller's buffers (labels required, scores optional).
private func writeSegmentation(_ r: SegmentationResult, _ labels: UnsafeMutablePointer<Int32>?,
                               _ scores: UnsafeMutablePointer<Float>?) {
    if let labels { r.labels.withUnsafeBufferPointer { if let b = $0.baseAddress { labels.update(from: b, count: $0.count) } } }
    if let scores { r.scores.withUnsafeBufferPointer { if let b = $0.baseAddress { scores.update(from: b, count: $0.count) } } }
}

/// Checks the caller's capacity against the pixels a result will have.
private func checkSegmentCapacity(_ needed: Int, _ capacity: Int64, _ what: String) throws {
    guard capacity >= 0, capacity >= Int64(needed) else {
        throw SwiftCNNError.shapeMismatch("segment: labels/scores hold \(capacity) values; \(what) needs \(needed)")
    }
}

/// Semantic segmentation of one 8-bit RGB image with a model whose output is per-pixel class
/// scores [1, classes, h, w] (the zoo's fcn_resnet50, deeplabv3_resnet50 and their _aux
/// variants, or any such model). pixels: HWC bytes, `channels` = 3 (RGB) per pixel, rows
/// `row_stride` bytes apart (0: width * 3); (height - 1) * row_stride + width * 3 bytes are
/// read. Preprocessing as torchvision's segmentation weights, less their resize: bytes / 255,
/// then (x - mean) / std per channel with ImageNet's mean 0.485, 0.456, 0.406 and std 0.229,
/// 0.224, 0.225. The zoo models run at the image's size (a model that takes one size only
/// gets the image resized to it bilinearly); the scores are brought to the image's size
/// (bilinear, align_corners false), so the results are always height x width, row-major:
/// labels[y * width + x] is the argmax class (lowest on ties), scores[...] its softmax
/// probability. labels is required, scores may be NULL; each holds `capacity` values, at
/// least width * height (checked before any work).
/// Errors: INVALID_ARGUMENT (NULL model, pixels or labels; bad sizes, channels or
/// row_stride), SHAPE_MISMATCH (capacity too small; a model whose input or output does not
/// fit: the message says what it expects), OUT_OF_MEMORY.
@c(scnn_model_segment)
public func scnnModelSegment(
    _ model: UnsafePointer<scnn_model>?, _ pixels: UnsafePointer<UInt8>?, _ width: Int64, _ height: Int64,
    _ channels: Int64, _ row_stride: Int64, _ labels: UnsafeMutablePointer<Int32>?,
    _ scores: UnsafeMutablePointer<Float>?, _ capacity: Int64
) -> scnn_status {
    guarded {
        let m = try modelArg(model).model
        let p = try required(pixels, "pixels")
        let out = try required(labels, "labels")
        guard channels == 3 else {
            throw SwiftCNNError.invalidArgument("segment: images must be RGB (channels 3); got \(channels)")
        }
        let (w, h) = (Int(width), Int(height))
        let stride = try rowStrideArg("segment", row_stride)
        let bytes = try imageByteCount(width: w, height: h, channels: 3, rowStride: stride, context: "segment")
        try checkSegmentCapacity(try Checked.mul(w, h, "segment: image size"), capacity, "a \(w)x\(h) image")
        let r = try Segmentation.segment(m, pixels: UnsafeBufferPointer(start: p, count: bytes), width: w, height: h,
                                         channels: 3, rowStride: stride)
        writeSegmentation(r, out, scores)
    }
}

/// Semantic segmentation of a batch of float images [N, 3, H, W] with values in [0, 1]
/// (torchvision's convention before normalization; normalized here as in
/// scnn_model_segment). `shape` holds the 4 sizes. labels (required) and scores (may be
/// NULL) hold `capacity` values each, at least N * H * W: labels[(n * H + y) * W + x].
/// Everything else as scnn_model_segment.
/// Errors: INVALID_ARGUMENT (NULL model, images, shape or labels), SHAPE_MISMATCH (not
/// [N, 3, H, W], capacity too small, a model that does not take the input), OUT_OF_MEMORY.
@c(scnn_model_segment_batch)
public func scnnModelSegmentBatch(
    _ model: UnsafePointer<scnn_model>?, _ images: UnsafePointer<Float>?, _ shape: UnsafePointer<Int64>?,
    _ labels: UnsafeMutablePointer<Int32>?, _ scores: UnsafeMutablePointer<Float>?, _ capacity: Int64
) -> scnn_status {
    guarded {
        let m = try modelArg(model).model
        let sp = try required(shape, "shape")
        let src = try required(images, "images")
        let out = try required(labels, "labels")
        let s = (0..<4).map { Int(sp[$0]) }
        guard s.allSatisfy({ $0 >= 1 }), s[1] == 3 else {
            throw SwiftCNNError.shapeMismatch("segment: images must be [N, 3, H, W] with sizes >= 1; got \(s)")
        }
        try checkSegmentCapacity(try Checked.product([s[0], s[2], s[3]], "segment: label count"), capacity,
                                 "a batch \(Tensor.describe(s))")
        let x = try Tensor(borrowing: src, count: try Checked.product(s, "segment: image size"), shape: s)
        writeSegmentation(try Segmentation.segment(m, images: x), out, scores)
    }
}

let vocLabels = StaticCStrings(VOC.classes)

/// Number of PASCAL VOC class labels, background included (21).
@c(scnn_voc_class_count)
public func scnnVocClassCount() -> Int32 {
    Int32(vocLabels.count)
}

/// The PASCAL VOC label of class `index` (0 to 20, torchvision's order: 0 → "background",
/// 15 → "person"); NULL out of range. The string is static: never freed.
@c(scnn_voc_class)
public func scnnVocClass(_ index: Int32) -> UnsafePointer<CChar>? {
    vocLabels.at(Int(index))
}
