import XCTest
@testable import SwiftCNN

/// The Winograd F(2×2, 3×3) kernel against the reference convolution (direct loops, double
/// accumulation): tile edges at both remainders mod 2, padding (even and uneven), batches
/// whose tiles run across images and over several passes, odd channel counts, flipped
/// kernels, the fused epilogue, thread-count independence, the selection rule, and the
/// inference plan choosing it for 512-channel layers on 7×7 maps.
///
/// Tolerance: max |winograd − reference| <= 1e-4·max|reference| + 1e-5 over each output (as
/// for F(4×4, 3×3), ``WinogradTests``).
final class WinogradF2Tests: XCTestCase {
    func winograd(_ x: Tensor, _ w: Tensor, bias: Tensor? = nil, padding: Padding2D,
                  residual: Tensor? = nil, relu: Bool = false) throws -> Tensor {
        try runWinograd(.f2x2, x, w, bias: bias, padding: padding, residual: residual, relu: relu)
    }

    /// Output heights and widths 1...9 (odd and even: clipped last tiles), padding 0, 1, 2,
    /// batch 1 and 3 (tiles running across images), flipped kernels; uneven padding and a
    /// rank-3 input.
    func testTileEdgesAndPadding() throws {
        XCTAssertGreaterThan(try checkWinogradTileEdges(.f2x2, sizes: 1...9, seed: 21), 40)
    }

    /// Channel counts off the GEMM's panels and vectors, more tiles than one pass holds
    /// (``Optimized/winogradF2BlockTiles``: 3×10×10 = 75 tiles, 2 passes; 6×7×7 = 96), and the
    /// fused bias / ReLU / residual + ReLU output pass, with the kernel's own scratch and with
    /// an arena-sized one.
    func testChannelsPassesAndEpilogues() throws {
        try checkWinogradEpilogues(.f2x2, shapes: [(1, 1, 5, 7, 1), (17, 9, 10, 10, 3), (33, 20, 7, 7, 6), (7, 13, 3, 3, 5),
                                                   (70, 13, 4, 37, 1)], seed: 22, scratch: true)
    }

    /// The same convolution at 1 and 2 threads is bitwise identical; the batch run at once is
    /// bitwise the images run one by one (a tile's value does not depend on its pass or lane).
    func testThreadsAndBatchBitwiseEqual() throws {
        let n = 5, c = 24, o = 20, h = 7, w = 9
        let (two, x, wt, bias, res) = try checkWinogradThreads(.f2x2, [n, c, h, w], outChannels: o, seed: 23)
        var single: [Float] = []
        let per = c * h * w, perOut = o * h * w
        for i in 0..<n {
            let xi = try Tensor(shape: [1, c, h, w], scalars: Array(x.scalars[(i * per)..<((i + 1) * per)]))
            let ri = try Tensor(shape: [1, o, h, w], scalars: Array(res.scalars[(i * perOut)..<((i + 1) * perOut)]))
            single += try winograd(xi, wt, bias: bias, padding: Padding2D(1), residual: ri, relu: true).scalars
        }
        XCTAssertEqual(two.scalars.map(\.bitPattern), single.map(\.bitPattern), "batched vs one by one")
    }

    /// F(2×2) where F(4×4) has too few tiles and the channels are many: 7×7 and 8×8 maps at
    /// batch 1 (16 tiles), not 14×14 at batch 1 or 7×7 at batch 8 (F(4×4)'s), not 32 channels,
    /// 1×1 maps, 6×6 maps at batch 1 (9 tiles), strided or 5×5 kernels.
    func testSelection() throws {
        func geometry(_ c: Int, _ o: Int, _ hw: Int, batch: Int = 1, stride: Int = 1, k: Int = 3) throws -> Conv2DGeometry {
            try Conv2DGeometry(input: try Tensor(zeros: [batch, c, hw, hw]), weight: try Tensor(zeros: [o, c, k, k]), bias: nil,
                               options: Conv2DOptions(stride: Size2D(stride), padding: Padding2D(k / 2)))
        }
        XCTAssertTrue(WinogradF2Weights.isFaster(try geometry(512, 512, 7)))
        XCTAssertTrue(WinogradF2Weights.isFaster(try geometry(256, 128, 8)))
        XCTAssertTrue(WinogradF2Weights.isFaster(try geometry(512, 512, 7, batch: 2)))
        XCTAssertFalse(WinogradF2Weights.isFaster(try geometry(256, 256, 14)))
        XCTAssertTrue(WinogradConvWeights.isFaster(try geometry(256, 256, 14)))
        XCTAssertFalse(WinogradF2Weights.isFaster(try geometry(512, 512, 7, batch: 8)))
        XCTAssertTrue(WinogradConvWeights.isFaster(try geometry(512, 512, 7, batch: 8)))
        XCTAssertFalse(WinogradF2Weights.isFaster(try geometry(32, 512, 7)))
        XCTAssertFalse(WinogradF2Weights.isFaster(try geometry(512, 512, 1, batch: 32)))
        XCTAssertFalse(WinogradF2Weights.isFaster(try geometry(512, 512, 6)))
        XCTAssertFalse(WinogradF2Weights.isFaster(try geometry(512, 512, 7, stride: 2)))
        XCTAssertFalse(WinogradF2Weights.isFaster(try geometry(512, 512, 7, k: 5)))
        let strided = try geometry(8, 8, 9, stride: 2)
        XCTAssertThrowsError(try Tensor(zeros: [8, 8, 3, 3]).withUnsafePointer { try WinogradF2Weights(strided, weight: $0) })
    }

    /// A residual block of 3×3 convolutions on a 7×7 map with 64 channels (batch norm folded
    /// in, ReLU and the residual add + ReLU fused): the plan prepares F(2×2) weights, runs the
    /// steps with arena scratch, matches the reference forward, and a second forward
    /// allocates only its result and gives the same values.
    func testInferencePlanUsesF2() throws {
        try checkInferencePlanUsesWinograd(.f2x2, size: 7, batch: 1, seed: 8)
    }
}
