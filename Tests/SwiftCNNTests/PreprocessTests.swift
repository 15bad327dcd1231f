import XCTest
@testable import SwiftCNN

/// The antialiased resize against its oracle, torchvision's sizes and crop offsets, and the
/// ImageNet pipeline's steps. (Parity with torchvision itself is tested on real photos in
/// bindings/python/tests/test_preprocess.py and Tests/c/test_preprocess.c.)
final class PreprocessTests: XCTestCase {

    func testAntialiasedResizeMatchesItsOracle() throws {
        var rng = TestRNG(14)
        for trial in 0..<60 {
            let inH = rng.int(1...40), inW = rng.int(1...40), outH = rng.int(1...40), outW = rng.int(1...40)
            let x = try rng.tensor(trial % 2 == 0 ? [2, inH, inW] : [2, 1, inH, inW])
            let got = try resizeAntialiased(x, height: outH, width: outW)
            let want = try resizeAntialiasedReference(x, height: outH, width: outW)
            XCTAssertEqual(got.shape, want.shape)
            XCTAssertLessThanOrEqual(maxDiff(got.scalars, want.scalars), 1e-5, "\(inH)×\(inW) → \(outH)×\(outW)")
        }
        // Large factors on one axis, and the photo's shape.
        for (inH, inW, outH, outW) in [(300, 3, 1, 3), (5, 257, 5, 2), (427, 64, 256, 38)] {
            let x = try rng.tensor([1, inH, inW], 0, 1)
            let got = try resizeAntialiased(x, height: outH, width: outW)
            let want = try resizeAntialiasedReference(x, height: outH, width: outW)
            XCTAssertLessThanOrEqual(maxDiff(got.scalars, want.scalars), 1e-5, "\(inH)×\(inW) → \(outH)×\(outW)")
        }
    }

    func testAntialiasTapsByHand() throws {
        // Halving: scale 2, support 2; output 0 (centre 1) weights inputs 0, 1, 2 as
        // 0.75, 0.75, 0.25 before normalising; output 1 (centre 3) inputs 1, 2, 3 as 0.25, 0.75, 0.75.
        let axis = AntialiasAxis(inputSize: 4, outputSize: 2)
        XCTAssertEqual(axis.maxTaps, 5)
        var w = [Float](repeating: 0, count: axis.maxTaps)
        let t0 = w.withUnsafeMutableBufferPointer { axis.taps(0, into: $0.baseAddress!) }
        XCTAssertEqual(t0.start, 0)
        XCTAssertEqual(t0.count, 3)
        XCTAssertEqual(Array(w[0..<3]), [0.75 / 1.75, 0.75 / 1.75, 0.25 / 1.75].map { Float($0) })
        let t1 = w.withUnsafeMutableBufferPointer { axis.taps(1, into: $0.baseAddress!) }
        XCTAssertEqual(t1.start, 1)
        XCTAssertEqual(t1.count, 3)
        // Enlarging is bilinear: 2 → 4, output 1 (centre 0.75) is 0.75·x0 + 0.25·x1.
        let up = AntialiasAxis(inputSize: 2, outputSize: 4)
        let t2 = w.withUnsafeMutableBufferPointer { up.taps(1, into: $0.baseAddress!) }
        XCTAssertEqual(t2.start, 0)
        XCTAssertEqual(t2.count, 2)
        XCTAssertEqual(w[0], 0.75, accuracy: 1e-7)
        XCTAssertEqual(w[1], 0.25, accuracy: 1e-7)
        // An unchanged size is the identity.
        var rng3 = TestRNG(3)
        let x = try rng3.tensor([3, 5, 7])
        XCTAssertEqual(try resizeAntialiased(x, height: 5, width: 7).scalars, x.scalars)
        XCTAssertEqual(try resizeAntialiasedReference(x, height: 5, width: 7).scalars, x.scalars)
    }

    func testShorterSideSizeRoundsLikeTorchvision() throws {
        XCTAssertTrue(try shorterSideSize(height: 480, width: 640, size: 256) == (256, 341))
        XCTAssertTrue(try shorterSideSize(height: 640, width: 480, size: 256) == (341, 256))
        XCTAssertTrue(try shorterSideSize(height: 427, width: 640, size: 256) == (256, 383))
        XCTAssertTrue(try shorterSideSize(height: 7, width: 7, size: 3) == (3, 3))
        assertThrows(.invalidArgument, "size") { try shorterSideSize(height: 5, width: 5, size: 0) }
        assertThrows(.invalidArgument) { try shorterSideSize(height: 0, width: 5, size: 2) }
        assertThrows(.invalidArgument) { try shorterSideSize(height: 2, width: Int.max, size: Int.max) }
    }

    func testCenterCropPads() throws {
        let x = try Tensor(shape: [1, 2, 2], scalars: [1, 2, 3, 4])
        assertThrows(.invalidArgument, "larger") { try centerCrop(x, height: 3, width: 4) }
        XCTAssertEqual(try centerCrop(x, height: 3, width: 4, pad: true).scalars, [0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0])
        XCTAssertEqual(try centerCrop(x, height: 1, width: 3, pad: true).scalars, [1, 2, 0])  // top round(1/2) = 0; pad 0 left, 1 right
    }

    func testImagenetPreprocessSteps() throws {
        // A 6×10 RGB image: shorter side 6 → 256 (enlarging), crop 224, normalise.
        var rng = TestRNG(5)
        let pixels = (0..<(6 * 10 * 3)).map { _ in UInt8(rng.int(0...255)) }
        let got = try pixels.withUnsafeBufferPointer {
            try imagenetPreprocess(pixels: $0, width: 10, height: 6, channels: 3)
        }
        XCTAssertEqual(got.shape, [3, 224, 224])
        let t = try pixels.withUnsafeBufferPointer { try imageToTensor(pixels: $0, width: 10, height: 6, channels: 3) }
        let (h, w) = try shorterSideSize(height: 6, width: 10, size: 256)
        let want = try normalize(try centerCrop(try resizeAntialiased(t, height: h, width: w), height: 224, width: 224),
                                 mean: imagenetMean, std: imagenetStd)
        XCTAssertEqual(got.scalars, want.scalars)
        pixels.withUnsafeBufferPointer { p in
            assertThrows(.shapeMismatch, "bytes") { try imagenetPreprocess(pixels: UnsafeBufferPointer(rebasing: p[0..<10]), width: 10, height: 6, channels: 3) }
            assertThrows(.invalidArgument, "channels") { try imagenetPreprocess(pixels: p, width: 10, height: 6, channels: 2) }
        }
    }

    func testResizeBadInputs() throws {
        let x = try Tensor(zeros: [1, 2, 2])
        assertThrows(.invalidArgument, "at least") { try resizeAntialiased(x, height: 0, width: 2) }
        assertThrows(.invalidArgument, "[C, H, W]") { try resizeAntialiased(try Tensor(zeros: [2, 2]), height: 1, width: 1) }
        XCTAssertThrowsError(try resizeAntialiased(x, height: 1 << 31, width: 1 << 31))
        XCTAssertThrowsError(try resizeAntialiased(x, height: Int.max, width: 2))
    }
}
