import XCTest
@testable import SwiftCNN

/// Detection's pieces against hand-computed cases: default boxes, decoding, NMS, the
/// post-processing order, and the L2 normalization layer (forward by hand, backward by
/// finite differences). Parity of the whole pipeline with torchvision is in the Python and C
/// tests (Tests/fixtures/detection).
final class DetectionTests: XCTestCase {
    func assertBox(_ b: ArraySlice<Float>, _ want: [Float], accuracy: Float = 1e-3, _ what: String,
                   file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(b.count, 4, what, file: file, line: line)
        for (g, w) in zip(b, want) { XCTAssertEqual(g, w, accuracy: accuracy, what, file: file, line: line) }
    }

    func testDefaultBoxesOfSSD300() throws {
        let cfg = try DetectionConfig.forModel("ssd300_vgg16")
        XCTAssertEqual(try cfg.defaultBoxCount(), 8732)
        let boxes = try cfg.defaultBoxes()
        XCTAssertEqual(boxes.count, 8732 * 4)
        // map 0, position (0, 0): centre 0.5/37.5; (s, s) = 0.07, then √(0.07·0.15), then ratio 2
        let c = Float(0.5 / 37.5)
        assertBox(boxes[0..<4], [(c - 0.035) * 300, (c - 0.035) * 300, (c + 0.035) * 300, (c + 0.035) * 300], "first")
        let sp = Float((0.07 * 0.15).squareRoot()) / 2
        assertBox(boxes[4..<8], [(c - sp) * 300, (c - sp) * 300, (c + sp) * 300, (c + sp) * 300], "second")
        let w2 = Float(0.07 * 2.0.squareRoot()) / 2, h2 = Float(0.07 / 2.0.squareRoot()) / 2
        assertBox(boxes[8..<12], [(c - w2) * 300, (c - h2) * 300, (c + w2) * 300, (c + h2) * 300], "ratio 2 (w, h)")
        assertBox(boxes[12..<16], [(c - h2) * 300, (c - w2) * 300, (c + h2) * 300, (c + w2) * 300], "ratio 2 (h, w)")
        // map 0, position (0, 1): the x centre moves by one step (8 px), y stays
        assertBox(boxes[16..<20], [(c - 0.035) * 300 + 8, (c - 0.035) * 300, (c + 0.035) * 300 + 8, (c + 0.035) * 300], "next x")
        // the last box: map 5 (1×1, centre 0.5), ratio 2 as (h, w): w = 0.87·√2 clipped to 1
        let h = Float(0.87 / 2.0.squareRoot())
        assertBox(boxes[(8731 * 4)...], [(0.5 - h / 2) * 300, 0, (0.5 + h / 2) * 300, 300], "last (clipped)")
        // map 1 starts after 38·38·4 boxes: centre 0.5/18.75, s = 0.15
        let c1 = Float(0.5 / 18.75), at = 38 * 38 * 4 * 4
        assertBox(boxes[at..<(at + 4)], [(c1 - 0.075) * 300, (c1 - 0.075) * 300, (c1 + 0.075) * 300, (c1 + 0.075) * 300], "map 1")
    }

    func testDefaultBoxesOfSSDLite() throws {
        let cfg = try DetectionConfig.forModel("ssdlite320_mobilenet_v3_large")
        XCTAssertEqual(try cfg.defaultBoxCount(), 3234)  // 6 · (20² + 10² + 5² + 3² + 2² + 1)
        let boxes = try cfg.defaultBoxes()
        // no steps: centres (j + ½) / grid; map 0 is 20×20 with s = 0.2
        assertBox(boxes[0..<4], [-24, -24, 40, 40], "first")
        // map 1 (10×10, s = 0.35) starts after 20·20·6 boxes: centre 0.05
        let at = 20 * 20 * 6 * 4
        assertBox(boxes[at..<(at + 4)], [(0.05 - 0.175) * 320, (0.05 - 0.175) * 320, (0.05 + 0.175) * 320, (0.05 + 0.175) * 320], "map 1")
    }

    func testDecode() throws {
        let anchors: [Float] = [0, 0, 10, 20, 0, 0, 10, 20]
        // centre (5, 10), size 10×20: dx 1/10 of the width, dy 2/10 of the height, w doubled
        let rel: [Float] = [1, 2, Float(log(2.0)) * 5, 0, 0, 0, 100, -100]
        let out = try rel.withUnsafeBufferPointer { try DetectionOps.decode($0, anchors: anchors, weights: [10, 10, 5, 5]) }
        assertBox(out[0..<4], [-4, 4, 16, 24], accuracy: 1e-4, "decoded")
        // dw clamped at log(1000/16): width 10 · 62.5; dh = −20: height 20 · e^−20
        let half = Float(625.0 / 2)
        assertBox(out[4..<8], [5 - half, 10, 5 + half, 10], accuracy: 1e-3, "clamped")
        XCTAssertThrowsError(try rel.withUnsafeBufferPointer { try DetectionOps.decode($0, anchors: [0, 0, 1], weights: [10, 10, 5, 5]) })
    }

    func testNMS() throws {
        let boxes: [Float] = [0, 0, 10, 10, 1, 1, 11, 11, 20, 20, 30, 30, 0, 0, 10, 10, 5, 5, 5, 5, 5, 5, 5, 5]
        let scores: [Float] = [0.9, 0.8, 0.7, 0.9, 0.95, 0.6]
        // IoU(0, 1) = 81 / 119 ≈ 0.68; box 3 equals box 0 (tie: 0 first, 3 suppressed);
        // the empty boxes 4 and 5 have IoU NaN with everything: never suppress, never suppressed.
        XCTAssertEqual(try DetectionOps.nms(boxes: boxes, scores: scores, iouThreshold: 0.45), [4, 0, 2, 5])
        XCTAssertEqual(try DetectionOps.nms(boxes: boxes, scores: scores, iouThreshold: 0.7), [4, 0, 1, 2, 5])
        XCTAssertEqual(try DetectionOps.nms(boxes: boxes, scores: scores, iouThreshold: 1.0), [4, 0, 3, 1, 2, 5])
        XCTAssertEqual(try DetectionOps.nms(boxes: [], scores: [], iouThreshold: 0.5), [])
        XCTAssertThrowsError(try DetectionOps.nms(boxes: [0, 0, 1], scores: [1], iouThreshold: 0.5))
        XCTAssertEqual(DetectionOps.iou((0, 0, 2, 2), (1, 1, 3, 3)), 1.0 / 7.0, accuracy: 1e-7)
    }

    /// NMS against the quadratic textbook version on random boxes: the same kept list.
    func testNMSMatchesQuadraticReference() throws {
        var rng = TestRNG(7)
        for trial in 0..<20 {
            let n = 1 + trial * 7
            var boxes: [Float] = [], scores: [Float] = []
            for _ in 0..<n {
                let x = rng.unit() * 50, y = rng.unit() * 50
                boxes += [x, y, x + 1 + rng.unit() * 20, y + 1 + rng.unit() * 20]
                scores.append((rng.unit() * 8).rounded() / 8)  // many ties
            }
            // reference: repeatedly take the best remaining (lowest index on ties), drop its overlaps
            var alive = Array(0..<n), want: [Int] = []
            while let best = alive.min(by: { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }) {
                want.append(best)
                let b = (boxes[4 * best], boxes[4 * best + 1], boxes[4 * best + 2], boxes[4 * best + 3])
                alive.removeAll { i in
                    i == best || DetectionOps.iou(b, (boxes[4 * i], boxes[4 * i + 1], boxes[4 * i + 2], boxes[4 * i + 3])) > 0.3
                }
            }
            XCTAssertEqual(try DetectionOps.nms(boxes: boxes, scores: scores, iouThreshold: 0.3), want, "trial \(trial)")
        }
    }

    /// Post-processing on two default boxes and three classes, by hand: softmax, threshold,
    /// per-class top-k, per-class NMS, the overall order and the scaling to the image.
    func testPostprocessByHand() throws {
        var cfg = try DetectionConfig.forModel("ssd300_vgg16")
        cfg.inputSize = Size2D(100)
        cfg.scoreThreshold = 0.2
        cfg.topKCandidates = 1
        let anchors: [Float] = [10, 10, 30, 30, 60, 60, 90, 80]
        let regression = [Float](repeating: 0, count: 8)
        // box 0: p = softmax(0, 2, 1) = (0.090, 0.665, 0.245); box 1: softmax(0, 1, 1.5) = (0.122, 0.331, 0.546)
        let logits: [Float] = [0, 2, 1, 0, 1, 1.5]
        let dets = try regression.withUnsafeBufferPointer { r in
            try logits.withUnsafeBufferPointer { l in
                try DetectionOps.postprocess(regression: r, logits: l, classes: 3, anchors: anchors, config: cfg,
                                             imageSize: Size2D(50, 200))
            }
        }
        // class 1: best is box 0 (0.665); class 2: best is box 1 (0.546): top-1 each, by
        // score. Boxes scaled by (200/100, 50/100).
        XCTAssertEqual(dets.map(\.label), [1, 2])
        XCTAssertEqual(dets[0].score, Float(exp(2.0) / (1 + exp(1.0) + exp(2.0))), accuracy: 1e-6)
        XCTAssertEqual([dets[0].x1, dets[0].y1, dets[0].x2, dets[0].y2], [20, 5, 60, 15])
        XCTAssertEqual([dets[1].x1, dets[1].y1, dets[1].x2, dets[1].y2], [120, 30, 180, 40])
        // top-k 2: class 1 also takes box 1 (0.331), class 2 box 0 (0.245)
        cfg.topKCandidates = 2
        let more = try regression.withUnsafeBufferPointer { r in
            try logits.withUnsafeBufferPointer { l in
                try DetectionOps.postprocess(regression: r, logits: l, classes: 3, anchors: anchors, config: cfg,
                                             imageSize: Size2D(100, 100))
            }
        }
        XCTAssertEqual(more.map(\.label), [1, 2, 1, 2])
        cfg.detectionsPerImage = 3
        let capped = try regression.withUnsafeBufferPointer { r in
            try logits.withUnsafeBufferPointer { l in
                try DetectionOps.postprocess(regression: r, logits: l, classes: 3, anchors: anchors, config: cfg,
                                             imageSize: Size2D(100, 100))
            }
        }
        XCTAssertEqual(capped.count, 3)
    }

    func testConfigErrors() throws {
        XCTAssertThrowsError(try DetectionConfig.forModel("resnet18"))
        var cfg = try DetectionConfig.forModel("ssd300_vgg16")
        cfg.scales.removeLast()
        XCTAssertThrowsError(try cfg.defaultBoxes())
        cfg = try DetectionConfig.forModel("ssd300_vgg16")
        cfg.std = [0, 1, 1]
        XCTAssertThrowsError(try cfg.validate())
        cfg = try DetectionConfig.forModel("ssd300_vgg16")
        cfg.featureMapSizes[0] = Size2D(Int.max / 2)
        XCTAssertThrowsError(try cfg.defaultBoxCount())
    }

    func testL2NormalizeForwardAndBackward() throws {
        // [1, 2, 1, 2]: position 0 is (3, 4) → (0.6, 0.8); position 1 is (0, 0) → eps keeps it 0
        let x = try Tensor(shape: [1, 2, 1, 2], scalars: [3, 0, 4, 0])
        let y = try l2Normalize(x)
        XCTAssertEqual(y.scalars, [0.6, 0, 0.8, 0])
        // backward against central differences of L = Σ g·y
        let xs = try Tensor(shape: [2, 3, 2, 2], scalars: (0..<24).map { Float(($0 * 7) % 11) - 5 })
        let g = try Tensor(shape: [2, 3, 2, 2], scalars: (0..<24).map { Float(($0 * 5) % 7) - 3 })
        let dx = try l2NormalizeBackward(xs, gradOutput: g).scalars
        func loss(_ t: Tensor) throws -> Double {
            zip(try l2Normalize(t).scalars, g.scalars).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        for i in 0..<24 {
            var p = xs.scalars, m = xs.scalars
            p[i] += 1e-2
            m[i] -= 1e-2
            let num = (try loss(try Tensor(shape: xs.shape, scalars: p)) - loss(try Tensor(shape: xs.shape, scalars: m))) / 2e-2
            XCTAssertEqual(Double(dx[i]), num, accuracy: 2e-3, "element \(i)")
        }
        XCTAssertThrowsError(try l2Normalize(try Tensor(shape: [4], scalars: [1, 2, 3, 4])))
        XCTAssertThrowsError(try l2Normalize(x, eps: -1))
        XCTAssertThrowsError(try l2NormalizeBackward(xs, gradOutput: x))
    }
}
