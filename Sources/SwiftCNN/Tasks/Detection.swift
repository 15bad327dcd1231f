// Detection: from images to boxes, scores and labels, the way torchvision's SSD does it.
//
// 1. The transform (GeneralizedRCNNTransform with a fixed size): each [C, H, W] image in
//    [0, 1] is normalized, (x − mean) / std per channel, then resized bilinearly
//    (align_corners=False, no antialias) to the network's fixed size.
// 2. The network gives per default box ("prior") 4 regression values and K class logits.
// 3. Default boxes (torchvision's DefaultBoxGenerator): per feature map k, per position
//    (row-major), per (w, h) pair: the pairs are (s_k, s_k), (√(s_k s_k+1), √(s_k s_k+1)),
//    then (s_k√r, s_k/√r) and (s_k/√r, s_k√r) for each aspect ratio r; clipped to [0, 1]
//    when `clipDefaultBoxes`; centres ((j + ½)/f_x, (i + ½)/f_y) with f = image size / step
//    (or the grid size when no steps are given); as corners times the image size.
// 4. Decoding (BoxCoder, weights (10, 10, 5, 5)): centre += (dx/wx)·width, size ·=
//    exp(min(dw/ww, log(1000/16))); clipped to the network's input.
// 5. Softmax over the classes; per class except the background 0: scores above the
//    threshold, the best `topKCandidates`; then per-class NMS (a box is dropped when its IoU
//    with a kept box of its class exceeds the threshold), the first `detectionsPerImage` by
//    score; boxes scaled back to the input image's size.
// Ties (torch leaves their order unspecified) are broken deterministically: equal scores
// keep the lower index, i.e. the earlier default box within a class and the lower label
// across classes.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Everything detection needs beyond the network: torchvision's preprocessing, default
/// boxes and post-processing settings for one detector. ``forModel(_:)`` gives the defaults of
/// a zoo detector (derived from the model's name, so a model saved to a model file and
/// reopened detects the same way).
public struct DetectionConfig: Equatable, Sendable {
    /// The network's fixed input size; every image is resized to it.
    public var inputSize: Size2D
    /// Per-channel mean and std of the normalization (x − mean) / std, applied before resizing.
    public var mean: [Float]
    /// See ``mean``.
    public var std: [Float]
    /// The feature maps' sizes at ``inputSize``, in the network's order.
    public var featureMapSizes: [Size2D]
    /// Aspect ratios per feature map (each adds two boxes per position).
    public var aspectRatios: [[Int]]
    /// Box scales s_0 … s_m (one more than the feature maps).
    public var scales: [Double]
    /// Steps in input pixels per feature map, or nil to use the grid sizes.
    public var steps: [Int]?
    /// Whether the default boxes' widths and heights are clipped to [0, 1].
    public var clipDefaultBoxes: Bool
    /// The box coder's weights (wx, wy, ww, wh).
    public var boxWeights: [Float]
    /// Scores at or below this are dropped (torchvision: `score_thresh`).
    public var scoreThreshold: Float
    /// NMS drops a box whose IoU with a kept box of its class exceeds this (`nms_thresh`).
    public var iouThreshold: Float
    /// The best candidates per class kept before NMS (`topk_candidates`).
    public var topKCandidates: Int
    /// The most detections per image (`detections_per_img`).
    public var detectionsPerImage: Int

    /// A configuration; see the properties.
    public init(inputSize: Size2D, mean: [Float], std: [Float], featureMapSizes: [Size2D], aspectRatios: [[Int]],
                scales: [Double], steps: [Int]?, clipDefaultBoxes: Bool = true, boxWeights: [Float] = [10, 10, 5, 5],
                scoreThreshold: Float, iouThreshold: Float, topKCandidates: Int, detectionsPerImage: Int) {
        self.inputSize = inputSize
        self.mean = mean
        self.std = std
        self.featureMapSizes = featureMapSizes
        self.aspectRatios = aspectRatios
        self.scales = scales
        self.steps = steps
        self.clipDefaultBoxes = clipDefaultBoxes
        self.boxWeights = boxWeights
        self.scoreThreshold = scoreThreshold
        self.iouThreshold = iouThreshold
        self.topKCandidates = topKCandidates
        self.detectionsPerImage = detectionsPerImage
    }

    /// torchvision's settings for a zoo detector: `ssd300_vgg16` (mean (0.48235, 0.45882,
    /// 0.40784), std 1/255, 300×300, scores > 0.01, IoU 0.45, 400 candidates per class,
    /// 200 detections) and `ssdlite320_mobilenet_v3_large` (mean and std 0.5, 320×320, no
    /// steps, scores > 0.001, IoU 0.55, 300 candidates, 300 detections). Errors: `.invalidArgument` for a model that is not a zoo detector.
    public static func forModel(_ name: String) throws -> DetectionConfig {
        switch name {
        case "ssd300_vgg16":
            let inv255 = Float(1.0 / 255.0)
            return DetectionConfig(
                inputSize: Size2D(300), mean: [0.48235, 0.45882, 0.40784], std: [inv255, inv255, inv255],
                featureMapSizes: [38, 19, 10, 5, 3, 1].map { Size2D($0) },
                aspectRatios: [[2], [2, 3], [2, 3], [2, 3], [2], [2]],
                scales: [0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05], steps: [8, 16, 32, 64, 100, 300],
                scoreThreshold: 0.01, iouThreshold: 0.45, topKCandidates: 400, detectionsPerImage: 200)
        case "ssdlite320_mobilenet_v3_large":
            // DefaultBoxGenerator([[2, 3]] × 6, min_ratio 0.2, max_ratio 0.95): scales 0.2 + 0.15·k, then 1
            return DetectionConfig(
                inputSize: Size2D(320), mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5],
                featureMapSizes: [20, 10, 5, 3, 2, 1].map { Size2D($0) },
                aspectRatios: Array(repeating: [2, 3], count: 6),
                scales: (0..<6).map { 0.2 + (0.95 - 0.2) * Double($0) / 5.0 } + [1.0], steps: nil,
                scoreThreshold: 0.001, iouThreshold: 0.55, topKCandidates: 300, detectionsPerImage: 300)
        default:
            throw SwiftCNNError.invalidArgument(
                "\(Graph.describe(name)) is not a detector: detection takes the zoo's ssd300_vgg16 or ssdlite320_mobilenet_v3_large (or a model file saved from one)")
        }
    }

    /// Fails unless the settings are usable: three means and stds (std ≠ 0, finite), one
    /// aspect-ratio list and step per feature map, one more scale, four positive box weights,
    /// thresholds that are numbers, counts ≥ 0.
    public func validate() throws {
        func fail(_ m: String) -> SwiftCNNError { .invalidArgument("detection config: \(m)") }
        guard inputSize.h >= 1, inputSize.w >= 1 else { throw fail("the input size must be at least 1×1; got \(inputSize)") }
        guard mean.count >= 1, std.count == mean.count, mean.allSatisfy({ $0.isFinite }),
              std.allSatisfy({ $0.isFinite && $0 != 0 }) else {
            throw fail("mean and std need one finite value per channel, std non-zero")
        }
        guard !featureMapSizes.isEmpty, aspectRatios.count == featureMapSizes.count,
              scales.count == featureMapSizes.count + 1, steps.map({ $0.count == featureMapSizes.count }) ?? true else {
            throw fail("one aspect-ratio list (and step) per feature map and one scale more are needed")
        }
        guard featureMapSizes.allSatisfy({ $0.h >= 1 && $0.w >= 1 }), steps?.allSatisfy({ $0 >= 1 }) ?? true,
              aspectRatios.allSatisfy({ $0.allSatisfy { $0 >= 1 } }), scales.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
            throw fail("feature-map sizes, steps and aspect ratios must be positive, scales finite and >= 0")
        }
        guard boxWeights.count == 4, boxWeights.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw fail("the box weights must be four finite positive numbers")
        }
        guard !scoreThreshold.isNaN, !iouThreshold.isNaN else { throw fail("thresholds must be numbers") }
        guard topKCandidates >= 0, detectionsPerImage >= 0 else { throw fail("counts must be >= 0") }
    }

    /// The number of default boxes: Σ H·W·(2 + 2·|ratios|) over the feature maps.
    public func defaultBoxCount() throws -> Int {
        var total = 0
        for (size, ratios) in zip(featureMapSizes, aspectRatios) {
            let perPosition = try Checked.add(2, try Checked.mul(2, ratios.count))
            let n = try Checked.mul(try Checked.mul(size.h, size.w, "default boxes"), perPosition, "default boxes")
            total = try Checked.add(total, n, "default boxes")
        }
        return total
    }

    /// The default boxes as corners (x1, y1, x2, y2) in the network input's pixels, in the
    /// order of the network's predictions: `count × 4` floats (see the file comment). Float
    /// arithmetic as torchvision's (the (w, h) pairs in double, rounded once).
    public func defaultBoxes() throws -> [Float] {
        try validate()
        let count = try defaultBoxCount()
        var boxes = [Float]()
        boxes.reserveCapacity(try Checked.mul(count, 4, "default boxes"))
        let imageW = Float(inputSize.w), imageH = Float(inputSize.h)
        for (k, size) in featureMapSizes.enumerated() {
            let sk = scales[k], sPrime = (scales[k] * scales[k + 1]).squareRoot()
            var pairs: [(Double, Double)] = [(sk, sk), (sPrime, sPrime)]
            for r in aspectRatios[k] {
                let q = Double(r).squareRoot()
                pairs.append((sk * q, sk / q))
                pairs.append((sk / q, sk * q))
            }
            let wh: [(Float, Float)] = pairs.map {
                let w = Float($0.0), h = Float($0.1)
                return clipDefaultBoxes ? (min(max(w, 0), 1), min(max(h, 0), 1)) : (w, h)
            }
            let fx: Float, fy: Float
            if let steps {
                fx = Float(Double(inputSize.w) / Double(steps[k]))
                fy = Float(Double(inputSize.h) / Double(steps[k]))
            } else {
                fx = Float(size.w)
                fy = Float(size.h)
            }
            for i in 0..<size.h {
                let cy = (Float(i) + 0.5) / fy
                for j in 0..<size.w {
                    let cx = (Float(j) + 0.5) / fx
                    for (w, h) in wh {
                        boxes.append((cx - 0.5 * w) * imageW)
                        boxes.append((cy - 0.5 * h) * imageH)
                        boxes.append((cx + 0.5 * w) * imageW)
                        boxes.append((cy + 0.5 * h) * imageH)
                    }
                }
            }
        }
        return boxes
    }
}

/// One detected object: a box (x1, y1, x2, y2) in the input image's pixels, its score (the
/// class probability) and its label (a class index; 0 is the background, never returned).
public struct Detection: Equatable, Sendable {
    /// Left edge.
    public var x1: Float
    /// Top edge.
    public var y1: Float
    /// Right edge.
    public var x2: Float
    /// Bottom edge.
    public var y2: Float
    /// The class probability.
    public var score: Float
    /// The class index (COCO numbering for the zoo's detectors: ``COCO/classes``).
    public var label: Int

    /// A detection; see the properties.
    public init(x1: Float, y1: Float, x2: Float, y2: Float, score: Float, label: Int) {
        self.x1 = x1; self.y1 = y1; self.x2 = x2; self.y2 = y2
        self.score = score
        self.label = label
    }
}

/// Box arithmetic of detection, each step on its own so that it can be checked by hand.
public enum DetectionOps {
    /// Decodes regression values against default boxes (torchvision's BoxCoder.decode_single):
    /// `regression` and `anchors` are `count × 4` (anchors as corners); the result is corners.
    /// dw and dh are clamped above at log(1000/16) before the exponential.
    public static func decode(_ regression: UnsafeBufferPointer<Float>, anchors: [Float], weights: [Float]) throws -> [Float] {
        guard regression.count == anchors.count, anchors.count % 4 == 0, weights.count == 4 else {
            throw SwiftCNNError.shapeMismatch(
                "decode: regression (\(regression.count) values) and default boxes (\(anchors.count)) must both be count × 4, with 4 weights")
        }
        let clip = Float(log(1000.0 / 16.0))
        var out = [Float](repeating: 0, count: anchors.count)
        for b in 0..<(anchors.count / 4) {
            let a = 4 * b
            let width = anchors[a + 2] - anchors[a], height = anchors[a + 3] - anchors[a + 1]
            let cx = anchors[a] + 0.5 * width, cy = anchors[a + 1] + 0.5 * height
            let dx = regression[a] / weights[0], dy = regression[a + 1] / weights[1]
            let dw = min(regression[a + 2] / weights[2], clip), dh = min(regression[a + 3] / weights[3], clip)
            let px = dx * width + cx, py = dy * height + cy
            let pw = Float(exp(Double(dw))) * width, ph = Float(exp(Double(dh))) * height
            let hw = 0.5 * pw, hh = 0.5 * ph
            out[a] = px - hw
            out[a + 1] = py - hh
            out[a + 2] = px + hw
            out[a + 3] = py + hh
        }
        return out
    }

    /// Intersection over union of two corner boxes (x1, y1, x2, y2); NaN when both are empty
    /// (0/0, as torchvision's box_iou — such a pair never suppresses).
    @inlinable
    public static func iou(_ a: (Float, Float, Float, Float), _ b: (Float, Float, Float, Float)) -> Float {
        let areaA = (a.2 - a.0) * (a.3 - a.1), areaB = (b.2 - b.0) * (b.3 - b.1)
        let w = max(min(a.2, b.2) - max(a.0, b.0), 0), h = max(min(a.3, b.3) - max(a.1, b.1), 0)
        let inter = w * h
        return inter / (areaA + areaB - inter)
    }

    /// Greedy non-maximum suppression of one class: the indices (into `scores`) kept, by
    /// decreasing score (equal scores: lower index first). A box is dropped when its IoU with
    /// an already kept box exceeds `iouThreshold`. `boxes`: `scores.count × 4` corners.
    /// O(n log n + n · kept).
    public static func nms(boxes: [Float], scores: [Float], iouThreshold: Float) throws -> [Int] {
        let expected = try Checked.mul(scores.count, 4, "nms boxes")
        guard boxes.count == expected else {
            throw SwiftCNNError.shapeMismatch("nms: boxes must hold 4 values per score; got \(boxes.count) for \(scores.count) scores")
        }
        let order = sortedByScore(scores, Array(scores.indices))
        var kept: [Int] = []
        // The kept boxes as five columns (x1, y1, x2, y2, area) of n floats each, compared 8
        // at a time. The IoU is computed as ``iou(_:_:)`` does (the kept box's area first),
        // so the result is bit for bit the textbook loop's.
        let n = scores.count
        var columns = [Float](repeating: 0, count: try Checked.mul(n, 5, "nms columns"))
        let t = SIMD8<Float>(repeating: iouThreshold), zero = SIMD8<Float>(repeating: 0)
        columns.withUnsafeMutableBufferPointer { cols in
            guard let base = cols.baseAddress else { return }
            let kx1 = base, ky1 = base + n, kx2 = base + 2 * n, ky2 = base + 3 * n, karea = base + 4 * n
            func load(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
                UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
            }
            // (the standard library's pointwiseMin/Max are not inlined: a call per vector)
            @inline(__always) func vmax(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: b .> a) }
            @inline(__always) func vmin(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: b .< a) }
            var count = 0
            for i in order {
                let x1 = boxes[4 * i], y1 = boxes[4 * i + 1], x2 = boxes[4 * i + 2], y2 = boxes[4 * i + 3]
                let area = (x2 - x1) * (y2 - y1)
                var suppressed = false
                var k = 0
                let vx1 = SIMD8(repeating: x1), vy1 = SIMD8(repeating: y1), vx2 = SIMD8(repeating: x2)
                let vy2 = SIMD8(repeating: y2), varea = SIMD8(repeating: area)
                while k + 8 <= count {
                    let w = vmax(vmin(load(kx2 + k), vx2) - vmax(load(kx1 + k), vx1), zero)
                    let h = vmax(vmin(load(ky2 + k), vy2) - vmax(load(ky1 + k), vy1), zero)
                    let inter = w * h
                    if any(inter / (load(karea + k) + varea - inter) .> t) {
                        suppressed = true
                        break
                    }
                    k += 8
                }
                while !suppressed && k < count {
                    let w = max(min(kx2[k], x2) - max(kx1[k], x1), 0), h = max(min(ky2[k], y2) - max(ky1[k], y1), 0)
                    let inter = w * h
                    if inter / (karea[k] + area - inter) > iouThreshold { suppressed = true }
                    k += 1
                }
                if !suppressed {
                    kept.append(i)
                    kx1[count] = x1; ky1[count] = y1; kx2[count] = x2; ky2[count] = y2; karea[count] = area
                    count += 1
                }
            }
        }
        return kept
    }

    /// `indices` sorted by decreasing `scores[index]`, equal scores by increasing index;
    /// NaN scores last.
    static func sortedByScore(_ scores: [Float], _ indices: [Int]) -> [Int] {
        indices.sorted { a, b in
            let sa = scores[a], sb = scores[b]
            if sa.isNaN != sb.isNaN { return sb.isNaN }
            if sa.isNaN || sa == sb { return a < b }
            return sa > sb
        }
    }

    /// torchvision's SSD post-processing of one image: `regression` [P, 4] and `logits`
    /// [P, K] (row-major), default boxes `anchors` [P, 4]; boxes in the network input's
    /// pixels (``DetectionConfig/inputSize``), then scaled to `imageSize`.
    public static func postprocess(regression: UnsafeBufferPointer<Float>, logits: UnsafeBufferPointer<Float>,
                                   classes: Int, anchors: [Float], config: DetectionConfig,
                                   imageSize: Size2D) throws -> [Detection] {
        let priors = anchors.count / 4
        let expected = try Checked.mul(priors, classes, "detection logits")
        guard classes >= 1, priors >= 1, priors <= Int(Int32.max), logits.count == expected else {
            throw SwiftCNNError.shapeMismatch("detection: \(logits.count) logits for \(priors) default boxes and \(classes) classes")
        }
        var boxes = try decode(regression, anchors: anchors, weights: config.boxWeights)
        let w = Float(config.inputSize.w), h = Float(config.inputSize.h)
        for b in 0..<priors {
            boxes[4 * b] = min(max(boxes[4 * b], 0), w)
            boxes[4 * b + 1] = min(max(boxes[4 * b + 1], 0), h)
            boxes[4 * b + 2] = min(max(boxes[4 * b + 2], 0), w)
            boxes[4 * b + 3] = min(max(boxes[4 * b + 3], 0), h)
        }
        let probs = try softmax(try Tensor(shape: [priors, classes], scalars: Array(logits)), axis: 1)
        // Candidates: per class (ascending), the best scores above the threshold. One pass
        // over the probabilities fills a bucket per class (NaN never passes the threshold).
        var buckets = [[(score: Float, box: Int32)]](repeating: [], count: classes)
        probs.withUnsafeBufferPointer { p in
            let threshold = config.scoreThreshold
            for b in 0..<priors {
                let row = b * classes
                for label in 1..<classes where p[row + label] > threshold {
                    buckets[label].append((p[row + label], Int32(truncatingIfNeeded: b)))
                }
            }
        }
        var candBoxes: [Float] = [], candScores: [Float] = [], candLabels: [Int] = []
        var classStart: [Int] = []
        for label in 1..<classes {
            classStart.append(candScores.count)
            // by decreasing score, equal scores by increasing default-box index
            buckets[label].sort { $0.score > $1.score || ($0.score == $1.score && $0.box < $1.box) }
            for c in buckets[label].prefix(config.topKCandidates) {
                let b = Int(c.box)
                candBoxes.append(contentsOf: boxes[(4 * b)..<(4 * b + 4)])
                candScores.append(c.score)
                candLabels.append(label)
            }
            buckets[label] = []
        }
        classStart.append(candScores.count)
        // Per-class NMS, then all kept candidates by score (ties: lower candidate index).
        var kept: [Int] = []
        for c in 0..<(classStart.count - 1) where classStart[c] < classStart[c + 1] {
            let lo = classStart[c], hi = classStart[c + 1]
            let keep = try nms(boxes: Array(candBoxes[(4 * lo)..<(4 * hi)]), scores: Array(candScores[lo..<hi]),
                               iouThreshold: config.iouThreshold)
            kept.append(contentsOf: keep.map { $0 + lo })
        }
        let final = sortedByScore(candScores, kept).prefix(config.detectionsPerImage)
        // Back to the image's pixels: ratios as torchvision computes them (float32 division).
        let rw = Float(imageSize.w) / w, rh = Float(imageSize.h) / h
        return final.map { i in
            Detection(x1: candBoxes[4 * i] * rw, y1: candBoxes[4 * i + 1] * rh,
                      x2: candBoxes[4 * i + 2] * rw, y2: candBoxes[4 * i + 3] * rh,
                      score: candScores[i], label: candLabels[i])
        }
    }

    /// torchvision's transform of one image: [C, H, W] in [0, 1] → (x − mean) / std → bilinear
    /// resize to the network's input size. Errors: the channel count differs from the mean's.
    public static func preprocess(_ image: Tensor, config: DetectionConfig) throws -> Tensor {
        guard image.rank == 3, image.shape[0] == config.mean.count else {
            throw SwiftCNNError.shapeMismatch(
                "detection: an image must be [\(config.mean.count), H, W]; got \(Tensor.describe(image.shape))")
        }
        let c = image.shape[0], plane = image.shape[1] * image.shape[2]
        var normalized = try Tensor(uninitialized: image.shape)
        image.withUnsafePointer { src in
            normalized.withUnsafeMutablePointerUnchecked { dst in
                for ch in 0..<c {
                    let m = config.mean[ch], s = config.std[ch]
                    for i in 0..<plane { dst[ch * plane + i] = (src[ch * plane + i] - m) / s }
                }
            }
        }
        return try resizeBilinear(normalized, height: config.inputSize.h, width: config.inputSize.w)
    }
}

extension Model {
    /// The detection settings of this model: torchvision's defaults for its name (see
    /// ``DetectionConfig/forModel(_:)``).
    public func detectionConfig() throws -> DetectionConfig {
        try DetectionConfig.forModel(name)
    }

    /// Detects objects in images, as torchvision's SSD in eval mode: each image [C, H, W]
    /// (values in [0, 1], any size) is transformed, the batch runs through the network
    /// (whose output is [N, P, 4 + K]: regression then class logits), and each image's
    /// detections come back sorted by decreasing score with boxes in its own pixels.
    /// `config` defaults to ``detectionConfig()``.
    /// - Throws: ``SwiftCNNError``: `.invalidArgument` for a model that is not a detector or a
    ///   bad config; `.shapeMismatch` for an image of the wrong channels or a network whose
    ///   output does not match the default boxes; `.outOfMemory`.
    public func detect(_ images: [Tensor], config: DetectionConfig? = nil) throws -> [[Detection]] {
        let cfg = try config ?? detectionConfig()
        try cfg.validate()
        guard !images.isEmpty else { return [] }
        let anchors = try cfg.defaultBoxes()
        let priors = anchors.count / 4
        let per = try Checked.mul(try Checked.mul(cfg.mean.count, cfg.inputSize.h), cfg.inputSize.w, "detection input")
        var batch = try Tensor(uninitialized: [images.count, cfg.mean.count, cfg.inputSize.h, cfg.inputSize.w])
        for (n, image) in images.enumerated() {
            let x = try DetectionOps.preprocess(image, config: cfg)
            x.withUnsafePointer { src in
                batch.withUnsafeMutablePointerUnchecked { dst in (dst + n * per).update(from: src, count: per) }
            }
        }
        let y = try forward(batch)
        guard y.rank == 3, y.shape[1] == priors, y.shape[2] > 4 else {
            throw SwiftCNNError.shapeMismatch(
                "\(name): a detector's output must be [N, \(priors), 4 + classes] for its \(priors) default boxes; got \(Tensor.describe(y.shape))")
        }
        let columns = y.shape[2], classes = columns - 4
        var results: [[Detection]] = []
        var regression = [Float](repeating: 0, count: priors * 4)
        var logits = [Float](repeating: 0, count: priors * classes)
        for (n, image) in images.enumerated() {
            y.withUnsafePointer { p in
                let base = p + n * priors * columns
                for b in 0..<priors {
                    let row = base + b * columns
                    for j in 0..<4 { regression[4 * b + j] = row[j] }
                    for j in 0..<classes { logits[b * classes + j] = row[4 + j] }
                }
            }
            let dets = try regression.withUnsafeBufferPointer { r in
                try logits.withUnsafeBufferPointer { l in
                    try DetectionOps.postprocess(regression: r, logits: l, classes: classes, anchors: anchors,
                                                 config: cfg, imageSize: Size2D(image.shape[1], image.shape[2]))
                }
            }
            results.append(dets)
        }
        return results
    }
}
