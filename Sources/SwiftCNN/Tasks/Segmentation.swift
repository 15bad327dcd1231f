#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// Semantic segmentation as a task: images in, a class index and its probability per pixel
// out, at the image's own pixel size.
//
// Preprocessing is torchvision's for its segmentation weights (`SemanticSegmentation`
// transforms) less the resize: pixel values scaled to [0, 1], then per channel
// (x − mean) / std with ImageNet's mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225).
// Resizing: none for models that take any input size (the zoo's `fcn_resnet50`,
// `deeplabv3_resnet50`: their last layer resizes the class scores to the input's size, so
// the network runs at the image's resolution). torchvision's preset also resizes the
// shorter side to 520 first; do that before calling for its exact pipeline. A model that
// takes one input size only (e.g. one imported from ONNX at a fixed size) gets the
// normalized image resized bilinearly to that size, and its scores are resized bilinearly
// back to the image's size. Either way the labels have the image's height and width.
//
// Per pixel: the label is the argmax over the class scores (the lowest class on ties, as
// torch.argmax), its score the softmax probability exp(s_label) / Σ_c exp(s_c).

/// Per-pixel labels and scores of a batch of images, [N, H, W] each, row-major.
public struct SegmentationResult: Equatable, Sendable {
    /// Images in the batch.
    public var batch: Int
    /// Height of each label map (the image's).
    public var height: Int
    /// Width of each label map (the image's).
    public var width: Int
    /// The class index of each pixel (0 ..< classes), [N, H, W].
    public var labels: [Int32]
    /// The softmax probability of that class, [N, H, W].
    public var scores: [Float]
}

/// Semantic segmentation with a model whose output is per-pixel class scores
/// [N, classes, h, w] (see the file comment for the preprocessing and the resizing).
public enum Segmentation {
    /// ImageNet's per-channel mean, torchvision's normalization.
    public static let mean: [Float] = [0.485, 0.456, 0.406]
    /// ImageNet's per-channel standard deviation.
    public static let std: [Float] = [0.229, 0.224, 0.225]

    /// `images` [N, 3, H, W] with values in [0, 1] normalized per channel: (x − mean) / std.
    public static func normalize(_ images: Tensor) throws -> Tensor {
        guard images.rank == 4, images.shape[1] == 3, images.shape.allSatisfy({ $0 >= 1 }) else {
            throw SwiftCNNError.shapeMismatch("segment: images must be [N, 3, H, W] with sizes >= 1; got \(Tensor.describe(images.shape))")
        }
        var y = images
        let plane = images.shape[2] * images.shape[3]
        try y.withUnsafeMutableBufferPointer { b in
            for i in 0..<(b.count / plane) {
                let c = i % 3
                let (m, s) = (mean[c], std[c])
                for k in (i * plane)..<((i + 1) * plane) { b[k] = (b[k] - m) / s }
            }
        }
        return y
    }

    /// Labels and scores from class scores `logits` [N, classes, H, W] (see the file comment).
    public static func labels(fromScores logits: Tensor) throws -> SegmentationResult {
        guard logits.rank == 4, logits.shape.allSatisfy({ $0 >= 1 }) else {
            throw SwiftCNNError.shapeMismatch(
                "segment: the model's output must be per-pixel class scores [N, classes, H, W]; got \(Tensor.describe(logits.shape))")
        }
        let (n, c, h, w) = (logits.shape[0], logits.shape[1], logits.shape[2], logits.shape[3])
        let plane = try Checked.mul(h, w, "segment: label map size")
        let total = try Checked.mul(n, plane, "segment: label map size")
        var labels = [Int32](repeating: 0, count: total)
        var scores = [Float](repeating: 0, count: total)
        logits.withUnsafeBufferPointer { x in
            for b in 0..<n {
                let base = b * c * plane
                for p in 0..<plane {
                    var best = x[base + p]
                    var arg = 0
                    for k in 1..<max(c, 1) where x[base + k * plane + p] > best {
                        best = x[base + k * plane + p]
                        arg = k
                    }
                    var sum: Float = 0
                    for k in 0..<c { sum += expf(x[base + k * plane + p] - best) }
                    labels[b * plane + p] = Int32(arg)
                    scores[b * plane + p] = 1 / sum
                }
            }
        }
        return SegmentationResult(batch: n, height: h, width: w, labels: labels, scores: scores)
    }

    /// Runs `model` on normalized images [N, C, H, W] and returns labels at H × W: the input
    /// is resized to the model's size first when the model takes one size only, and scores
    /// of another size than H × W are resized to it (bilinear, align_corners false).
    public static func segment(_ model: Model, normalized input: Tensor) throws -> SegmentationResult {
        guard input.rank == 4 else {
            throw SwiftCNNError.shapeMismatch("segment: images must be [N, C, H, W]; got \(Tensor.describe(input.shape))")
        }
        let (h, w) = (input.shape[2], input.shape[3])
        let arch = model.architecture
        var x = input
        if !arch.acceptsAnyInputSize, arch.inputShape.count == 3, arch.inputSize != Size2D(h, w),
           input.shape[1] == arch.inputChannels {
            x = try resizeBilinear(input, height: arch.inputSize.h, width: arch.inputSize.w)
        }
        var logits = try model.forward(x)
        guard logits.rank == 4 else {
            throw SwiftCNNError.shapeMismatch(
                "segment: \(model.name) gives \(Tensor.describe(logits.shape)), not per-pixel class scores [N, classes, H, W]")
        }
        if logits.shape[2] != h || logits.shape[3] != w {
            logits = try upsample2d(logits, outputSize: Size2D(h, w), scales: nil, mode: .bilinear(alignCorners: false))
        }
        return try labels(fromScores: logits)
    }

    /// Segments images [N, 3, H, W] with values in [0, 1] (torchvision's convention before
    /// normalization): ``normalize(_:)``, then ``segment(_:normalized:)``.
    public static func segment(_ model: Model, images: Tensor) throws -> SegmentationResult {
        try segment(model, normalized: try normalize(images))
    }

    /// Segments one 8-bit RGB image (HWC, `rowStride` bytes per row, nil: packed; see
    /// ``imageToTensor(pixels:width:height:channels:rowStride:scale:mean:std:)``): bytes / 255,
    /// normalized, then ``segment(_:normalized:)``. Only 3 channels (RGB) are taken.
    public static func segment(_ model: Model, pixels: UnsafeBufferPointer<UInt8>, width: Int, height: Int,
                               channels: Int, rowStride: Int? = nil) throws -> SegmentationResult {
        guard channels == 3 else {
            throw SwiftCNNError.invalidArgument("segment: images must be RGB (3 channels); got \(channels)")
        }
        let t = try imageToTensor(pixels: pixels, width: width, height: height, channels: 3, rowStride: rowStride,
                                  scale: 1.0 / 255, mean: mean, std: std)
        return try segment(model, normalized: try t.reshaped([1] + t.shape))
    }
}
