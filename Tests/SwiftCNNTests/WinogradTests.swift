import XCTest
@testable import SwiftCNN

/// The Winograd F(4×4, 3×3) kernel against the reference convolution (direct loops,
/// double accumulation): tile edges, padding, batch, odd channel counts, the fused
/// epilogue, thread-count independence and every 3×3 stride-1 convolution shape of the zoo.
///
/// Tolerance: max |winograd − reference| <= 1e-4·max|reference| + 1e-5 over each output.
final class WinogradTests: XCTestCase {
    func winograd(_ x: Tensor, _ w: Tensor, bias: Tensor? = nil, padding: Padding2D, flip: Bool = false,
                  residual: Tensor? = nil, relu: Bool = false) throws -> Tensor {
        try runWinograd(.f4x4, x, w, bias: bias, padding: padding, flip: flip, residual: residual, relu: relu)
    }

    func reference(_ x: Tensor, _ w: Tensor, bias: Tensor? = nil, padding: Padding2D, flip: Bool = false,
                   residual: Tensor? = nil, relu: Bool = false) throws -> [Float] {
        try winogradReference(x, w, bias: bias, padding: padding, flip: flip, residual: residual, relu: relu)
    }

    func assertWithinTolerance(_ got: Tensor, _ want: [Float], _ what: String,
                               file: StaticString = #filePath, line: UInt = #line) {
        assertWinogradTolerance(got, want, what, file: file, line: line)
    }

    /// Output heights and widths 1...13 (tile edges at every remainder mod 4), padding 0, 1, 2
    /// (and uneven per-side padding), batch 1 and 3, 3 → 5 channels, flipped kernels.
    func testTileEdgesAndPadding() throws {
        XCTAssertGreaterThan(try checkWinogradTileEdges(.f4x4, sizes: 1...13, seed: 1), 60)
    }

    /// Channel counts that are not multiples of 16 (or of the GEMM's 8-row panels), wide rows
    /// cut into several segments, and the fused bias / ReLU / residual + ReLU output pass.
    func testChannelsAndEpilogues() throws {
        try checkWinogradEpilogues(.f4x4, shapes: [(1, 1, 5, 7, 1), (17, 9, 10, 10, 2), (33, 20, 6, 19, 1), (7, 13, 3, 3, 3),
                                                   (5, 3, 4, 300, 1)], seed: 2)
    }

    /// Maps with fewer than 16 tiles at batch > 1 stack several images into one segment
    /// (``WinogradBlocking/acrossImages``), segments starting mid-image where the image's tile
    /// rows do not divide the stack: every tile of the batch lies in exactly one lane, and the
    /// result is bitwise the one of the images run one by one (one image per segment) and
    /// within tolerance of the reference, with bias, residual and ReLU fused.
    func testSegmentsAcrossImages() throws {
        var rng = TestRNG(4)
        // (batch, H, W): 8×8 (4 tiles, 4 images a segment), 7×7, 4×4 (1 tile, 16 images), 5×10
        // (2×3 tiles: 5-row stacks, starting mid-image), 12×12 (9 tiles), 13×13 (16 tiles: one image).
        for (n, h, w) in [(5, 8, 8), (9, 7, 7), (20, 4, 4), (7, 5, 10), (3, 12, 12), (2, 13, 13)] {
            let x = try rng.tensor([n, 6, h, w]), wt = try rng.tensor([5, 6, 3, 3]), bias = try rng.tensor([5])
            let res = try rng.tensor([n, 5, h, w])
            let g = try Conv2DGeometry(input: x, weight: wt, bias: bias, options: Conv2DOptions(padding: 1))
            let b = WinogradBlocking(g)
            XCTAssertEqual(b.acrossImages, b.tilesH * b.tilesW < 16, "\(n)×\(h)×\(w)")
            var seen = [Int](repeating: 0, count: n * b.tilesH * b.tilesW)
            for s in 0..<b.segments {
                let seg = b.segment(s)
                XCTAssertLessThanOrEqual(seg.lanes, b.roundedLanes)
                for t in 0..<seg.rows {
                    let (image, ty) = seg.tileRow(t)
                    for k in 0..<seg.len { seen[(image * b.tilesH + ty) * b.tilesW + seg.tx0 + k] += 1 }
                }
            }
            XCTAssertEqual(seen, [Int](repeating: 1, count: seen.count), "\(n)×\(h)×\(w): tiles covered once")
            let got = try winograd(x, wt, bias: bias, padding: Padding2D(1), residual: res, relu: true)
            assertWithinTolerance(got, try reference(x, wt, bias: bias, padding: Padding2D(1), residual: res, relu: true),
                                  "\(n)×\(h)×\(w)")
            let per = 6 * h * w, perOut = 5 * h * w
            var single: [Float] = []
            for i in 0..<n {
                let xi = try Tensor(shape: [1, 6, h, w], scalars: Array(x.scalars[(i * per)..<((i + 1) * per)]))
                let ri = try Tensor(shape: [1, 5, h, w], scalars: Array(res.scalars[(i * perOut)..<((i + 1) * perOut)]))
                single += try winograd(xi, wt, bias: bias, padding: Padding2D(1), residual: ri, relu: true).scalars
            }
            XCTAssertEqual(got.scalars.map(\.bitPattern), single.map(\.bitPattern), "\(n)×\(h)×\(w): batched vs one by one")
        }
    }

    /// The same convolution at 1 and 2 threads (different block cuts) is bitwise identical.
    func testOneAndTwoThreadsBitwiseEqual() throws {
        try checkWinogradThreads(.f4x4, [2, 24, 30, 27], outChannels: 20, seed: 3)
    }

    /// Every distinct 3×3 stride-1 convolution (in → out channels, padding) of the zoo's
    /// architectures at a reduced spatial size (7×7 input, so 7×7 or 5×5 outputs: tiles of
    /// 4 and 3 pixels, every edge case of a tile), batch 1. Input channels, the summed
    /// dimension that sets the rounding error, are the zoo's; output channels too, except
    /// that they are capped at 32 when C·O > 16384 (the debug build's GEMM time: output
    /// channels are independent rows of the same computation). The reference runs on 8 of
    /// the output channels; the Winograd kernel computes all of them.
    func testEveryZooShape() throws {
        var specs: [ConvSpec] = []
        for var s in try zooConvSpecs() where s.kernel == Size2D(3) && s.stride == Size2D(1) {
            s.bias = false
            if !specs.contains(s) { specs.append(s) }
        }
        XCTAssertGreaterThanOrEqual(specs.count, 20)
        var rng = TestRNG(4)
        for spec in specs {
            var s = spec
            if s.inChannels * s.outChannels > 16384 { s.outChannels = 32 }
            let x = try rng.tensor([1, s.inChannels, 7, 7])
            // Weights at the zoo's scale (Kaiming-like), so outputs are O(1).
            let scale = (2 / Float(9 * s.inChannels)).squareRoot() * 1.7
            let wt = try rng.tensor([s.outChannels, s.inChannels, 3, 3], -scale, scale)
            let got = try winograd(x, wt, padding: s.padding)
            let picks = (0..<8).map { (s.outChannels * $0) / 8 }
            let some = try Tensor(shape: [picks.count, s.inChannels, 3, 3],
                                  scalars: picks.flatMap { Array(wt.scalars[($0 * s.inChannels * 9)..<(($0 + 1) * s.inChannels * 9)]) })
            let want = try reference(x, some, padding: s.padding)
            let plane = got.count / s.outChannels
            let gotSome = picks.flatMap { Array(got.scalars[($0 * plane)..<(($0 + 1) * plane)]) }
            assertWithinTolerance(try Tensor(shape: [gotSome.count], scalars: gotSome), want,
                                  "\(spec.inChannels) → \(spec.outChannels) padding \(s.padding)")
        }
    }

    /// The inference plan picks Winograd for large 3×3 stride-1 convolutions only, and
    /// rejects geometries the kernel cannot do.
    func testSelection() throws {
        func geometry(_ c: Int, _ o: Int, _ hw: Int, stride: Int = 1, dilation: Int = 1, groups: Int = 1, k: Int = 3) throws -> Conv2DGeometry {
            try Conv2DGeometry(input: try Tensor(zeros: [1, c, hw, hw]), weight: try Tensor(zeros: [o, c / groups, k, k]), bias: nil,
                               options: Conv2DOptions(stride: Size2D(stride), padding: Padding2D(1), dilation: Size2D(dilation), groups: groups))
        }
        XCTAssertTrue(WinogradConvWeights.supports(try geometry(64, 64, 56)))
        XCTAssertTrue(WinogradConvWeights.isFaster(try geometry(64, 64, 56)))
        XCTAssertFalse(WinogradConvWeights.supports(try geometry(64, 64, 56, stride: 2)))
        XCTAssertFalse(WinogradConvWeights.supports(try geometry(64, 64, 56, dilation: 2)))
        XCTAssertFalse(WinogradConvWeights.supports(try geometry(64, 64, 56, groups: 2)))
        XCTAssertFalse(WinogradConvWeights.supports(try geometry(64, 64, 56, k: 5)))
        XCTAssertFalse(WinogradConvWeights.isFaster(try geometry(3, 64, 56)))
        // 16 tiles (14×14 at batch 1) are enough, 4 (7×7) are not.
        XCTAssertTrue(WinogradConvWeights.isFaster(try geometry(256, 256, 14)))
        XCTAssertFalse(WinogradConvWeights.isFaster(try geometry(512, 512, 7)))
        // Maps whose 4×4 tiles would be mostly empty stay on im2col + GEMM, whatever the batch.
        func batched(_ n: Int, _ hw: Int) throws -> Conv2DGeometry {
            try Conv2DGeometry(input: try Tensor(zeros: [n, 64, hw, hw]), weight: try Tensor(zeros: [64, 64, 3, 3]), bias: nil,
                               options: Conv2DOptions(padding: Padding2D(1)))
        }
        XCTAssertFalse(WinogradConvWeights.isFaster(try batched(32, 1)))
        XCTAssertFalse(WinogradConvWeights.isFaster(try batched(32, 2)))
        XCTAssertFalse(WinogradConvWeights.isFaster(try batched(32, 5)))
        XCTAssertTrue(WinogradConvWeights.isFaster(try batched(32, 4)))
        XCTAssertTrue(WinogradConvWeights.isFaster(try batched(8, 7)))
        let strided = try geometry(8, 8, 9, stride: 2)
        XCTAssertThrowsError(try Tensor(zeros: [8, 8, 3, 3]).withUnsafePointer { try WinogradConvWeights(strided, weight: $0) })
    }

    /// The public conv2d takes the Winograd kernel for a large 3×3 stride-1 convolution
    /// (batch 2, 64 → 64 channels, 128 tiles) and matches the reference kernel on 8 of the
    /// output channels (the reference's cost in a debug build). Turning Winograd off gives
    /// im2col + GEMM, within the same tolerance.
    func testPublicConv2d() throws {
        var rng = TestRNG(5)
        let x = try rng.tensor([2, 64, 32, 30])
        let w = try rng.tensor([64, 64, 3, 3], -0.1, 0.1)
        let b = try rng.tensor([64])
        let options = Conv2DOptions(padding: Padding2D(1))
        XCTAssertTrue(WinogradConvWeights.isFasterUnprepared(try Conv2DGeometry(input: x, weight: w, bias: b, options: options)))
        let fast = try conv2d(x, weight: w, bias: b, options: options)
        PreparedConvWeights.allowWinograd = false
        defer { PreparedConvWeights.allowWinograd = true }
        let im2col = try conv2d(x, weight: w, bias: b, options: options)
        assertWithinTolerance(fast, im2col.scalars, "winograd vs im2col")
        let picks = [0, 9, 18, 27, 36, 45, 54, 63]
        let ws = try Tensor(shape: [8, 64, 3, 3], scalars: picks.flatMap { Array(w.scalars[($0 * 576)..<(($0 + 1) * 576)]) })
        let bs = try Tensor(shape: [8], scalars: picks.map { b.scalars[$0] })
        let want = try withReferenceKernels { try conv2d(x, weight: ws, bias: bs, options: options) }
        let plane = 32 * 30
        var got: [Float] = []
        for n in 0..<2 {
            for o in picks {
                let start = (n * 64 + o) * plane
                got += fast.scalars[start..<(start + plane)]
            }
        }
        assertWithinTolerance(try Tensor(shape: [got.count], scalars: got), want.scalars, "public conv2d vs reference")
    }

    /// The inference plan prepares Winograd weights for a 64-channel 3×3 convolution with
    /// enough tiles (batch norm folded in, ReLU and the residual add + ReLU fused into the
    /// output pass) and matches the reference forward. The compiled forward runs those
    /// convolutions by Winograd with their scratch in the planned arena: a second forward
    /// allocates only its result, and gives the same values.
    func testInferencePlanUsesWinograd() throws {
        try checkInferencePlanUsesWinograd(.f4x4, size: 16, batch: 2, seed: 7)
    }
}
