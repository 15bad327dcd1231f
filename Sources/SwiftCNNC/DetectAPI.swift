import CSwiftCNNTypes
import SwiftCNN

// MARK: - Detection

let cocoLabels = StaticCStrings(COCO.classes)

/// Detects objects in one image with a detector (the zoo's ssd300_vgg16 or
/// ssdlite320_mobilenet_v3_large, or a model file saved from one), as torchvision's SSD does
/// in eval mode: the image is normalized and
/// resized to the network's input (bilinear), the network runs, default boxes are decoded,
/// scores (softmax) above the threshold keep each class's best candidates (400; ssdlite 300), per-class
/// non-maximum suppression drops boxes overlapping a better one of their class by more than
/// the IoU threshold, and the best `max_detections` remain, by decreasing score (equal
/// scores: the lower label, then the earlier default box, first).
/// - image: `channels × height × width` floats, row-major CHW, values in [0, 1] (RGB for the
///   zoo's detectors: channels must be 3); any height and width >= 1. Borrowed for the call.
/// - score_threshold, iou_threshold: overrides of torchvision's defaults (0.01 and 0.45 for
///   ssd300_vgg16, 0.001 and 0.55 for ssdlite); NaN or a negative value keeps the default.
/// - max_detections: the most detections reported (default 200; ssdlite 300); negative keeps
///   the default.
/// - out, capacity: the caller's array of `capacity` detections (out may be NULL when
///   capacity is 0). The first min(total, capacity) detections are written; *count gets the
///   total, which may exceed capacity: the call still succeeds (OK), and the caller can
///   retry with a larger array. Boxes are in the image's pixels.
/// Errors: INVALID_ARGUMENT (NULL model, image or count; out NULL with capacity > 0;
/// capacity < 0; a model that is not a detector), SHAPE_MISMATCH (channels other than the
/// detector's; height or width < 1; a size too large to count), OUT_OF_MEMORY. On failure
/// *count is 0 and nothing is written to out.
@c(scnn_model_detect)
public func scnnModelDetect(
    _ model: UnsafePointer<scnn_model>?, _ image: UnsafePointer<Float>?, _ channels: Int64, _ height: Int64, _ width: Int64,
    _ score_threshold: Float, _ iou_threshold: Float, _ max_detections: Int64,
    _ out: UnsafeMutablePointer<scnn_detection>?, _ capacity: Int64, _ count: UnsafeMutablePointer<Int64>?
) -> scnn_status {
    guarded {
        let n = try required(count, "count")
        n.pointee = 0
        let m = try modelArg(model).model
        let src = try required(image, "image")
        guard capacity >= 0 else { throw SwiftCNNError.invalidArgument("capacity must be >= 0; got \(capacity)") }
        guard capacity == 0 || out != nil else { throw SwiftCNNError.invalidArgument("out is NULL with capacity \(capacity)") }
        guard channels >= 1, height >= 1, width >= 1, channels <= Int64(Int32.max), height <= Int64(Int32.max), width <= Int64(Int32.max) else {
            throw SwiftCNNError.shapeMismatch("image: channels, height and width must be 1 to 2^31 - 1; got \(channels)×\(height)×\(width)")
        }
        var config = try m.detectionConfig()
        if !score_threshold.isNaN && score_threshold >= 0 { config.scoreThreshold = score_threshold }
        if !iou_threshold.isNaN && iou_threshold >= 0 { config.iouThreshold = iou_threshold }
        if max_detections >= 0 { config.detectionsPerImage = Int(clamping: max_detections) }
        let shape = [Int(channels), Int(height), Int(width)]
        let x = try Tensor(borrowing: src, count: try Checked.product(shape, "image size"), shape: shape)
        let dets = try m.detect([x], config: config).first ?? []
        n.pointee = Int64(dets.count)
        if let out {
            for (i, d) in dets.prefix(Int(clamping: capacity)).enumerated() {
                out[i] = scnn_detection(x1: d.x1, y1: d.y1, x2: d.x2, y2: d.y2, score: d.score, label: Int32(clamping: d.label))
            }
        }
    }
}

/// Number of COCO category names in torchvision's detection numbering (91: the background,
/// 80 categories and the "N/A" ids COCO leaves unused).
@c(scnn_coco_class_count)
public func scnnCocoClassCount() -> Int32 {
    Int32(cocoLabels.count)
}

/// The COCO category name of label `index` (0 to 90, torchvision's numbering: 0 →
/// "__background__", 1 → "person", 3 → "car", 12 → "N/A"); NULL out of range. The string
/// is static: never freed.
@c(scnn_coco_class)
public func scnnCocoClass(_ index: Int32) -> UnsafePointer<CChar>? {
    cocoLabels.at(Int(index))
}
