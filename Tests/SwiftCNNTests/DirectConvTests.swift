import XCTest
@testable import SwiftCNN

/// The direct kernel (``Optimized/directConv``) against the reference
/// convolution, and its choice by the inference plan.
final class DirectConvTests: XCTestCase {
    func prepared(_ g: Conv2DGeometry, _ w: Tensor, _ b: Tensor?) throws -> InferencePlan.Conv {
        try w.withUnsafePointer { InferencePlan.Conv(packed: try PreparedConvWeights(g, weight: $0), bias: b) }
    }

    func run(_ conv: InferencePlan.Conv, _ g: Conv2DGeometry, _ x: Tensor, residual: Tensor?, relu: Bool,
             scratch: Bool = false) throws -> [Float] {
        var out = try Tensor(zeros: [g.batch, g.outChannels, g.outHeight, g.outWidth])
        // A given scratch buffer is filled with garbage first: the kernel must not read it.
        var buffer = [Float](repeating: .nan, count: scratch ? try conv.scratchCount(g) : 0)
        try x.withUnsafePointer { xp in
            try withOptionalPointer(residual) { rp in
                try out.withUnsafeMutablePointerUnchecked { yp in
                    try buffer.withUnsafeMutableBufferPointer { sp in
                        try conv.execute(g, input: xp, residual: rp, relu: relu, output: yp, scratch: scratch ? sp : nil)
                    }
                }
            }
        }
        return out.scalars
    }

    /// Input shape, weight shape, options: strides 1–4 (2 or more in one direction with 1–4
    /// channels, 1 with more), symmetric and uneven padding, 3×3 to 11×11 kernels, output rows ending in
    /// a full or partial block of one or two vectors (on both the 16- and the 8-lane builds),
    /// channel counts off the MR panels, batches.
    static let cases: [([Int], [Int], Conv2DOptions)] = [
        ([1, 3, 48, 40], [64, 3, 7, 7], Conv2DOptions(stride: Size2D(2), padding: Padding2D(3))),   // ResNet's stem
        ([2, 3, 45, 71], [13, 3, 7, 7], Conv2DOptions(stride: Size2D(2), padding: Padding2D(3))),
        ([1, 3, 80, 80], [32, 3, 3, 3], Conv2DOptions(stride: Size2D(2), padding: Padding2D(1))),   // MobileNet's stem
        ([1, 1, 74, 50], [32, 1, 5, 5], Conv2DOptions(stride: Size2D(2, 1), padding: Padding2D(top: 0, bottom: 2, left: 1, right: 3))),
        ([1, 2, 61, 75], [24, 2, 11, 11], Conv2DOptions(stride: Size2D(4), padding: Padding2D(2))),   // AlexNet-like
        ([3, 2, 33, 67], [50, 2, 5, 3], Conv2DOptions(stride: Size2D(1, 2), padding: Padding2D(2, 1))),
        ([1, 3, 50, 100], [14, 3, 4, 4], Conv2DOptions(stride: Size2D(3, 1), padding: Padding2D(top: 3, bottom: 0, left: 0, right: 2))),
        ([1, 3, 60, 68], [40, 3, 3, 3], Conv2DOptions(stride: Size2D(2), padding: Padding2D(1), flipKernel: true)),
        ([1, 3, 48, 96], [16, 3, 7, 7], Conv2DOptions(stride: Size2D(2), padding: Padding2D(3))),   // whole blocks only
        // Patches over one packed k block (gemmKC taps): AlexNet's stem (363 taps, two blocks)
        // and 676 taps (three blocks, the last short).
        ([1, 3, 70, 70], [64, 3, 11, 11], Conv2DOptions(stride: Size2D(4), padding: Padding2D(2))),
        ([2, 4, 40, 90], [20, 4, 13, 13], Conv2DOptions(stride: Size2D(3, 2), padding: Padding2D(1))),
        // Stride 1 with more input channels and at most 96 output channels: GoogLeNet's 3×3
        // branch (16 → 32, 144 taps), 288 taps (two k blocks) with 96 outputs (whole panels
        // on both builds) and a batch, 600 taps (three blocks) with uneven padding and a
        // short last panel, a 3×5 flipped kernel.
        ([1, 16, 28, 28], [32, 16, 3, 3], Conv2DOptions(padding: Padding2D(1))),
        ([2, 32, 20, 30], [96, 32, 3, 3], Conv2DOptions(padding: Padding2D(1))),
        ([1, 24, 17, 19], [50, 24, 5, 5], Conv2DOptions(padding: Padding2D(top: 2, bottom: 1, left: 0, right: 3))),
        ([1, 8, 16, 40], [20, 8, 3, 5], Conv2DOptions(padding: Padding2D(1, 2), flipKernel: true)),
    ]

    func testMatchesReferenceAndIsTheSameAtAnyThreadCount() throws {
        let saved = Threading.numThreads
        defer { Threading.numThreads = saved }
        var r = TestRNG(77)
        for (index, (xs, ws, o)) in Self.cases.enumerated() {
            let x = try r.tensor(xs, -2, 2), w = try r.tensor(ws)
            // Every other case without a bias.
            do {
                let withBias = index % 2 == 0
                let b = withBias ? try r.tensor([ws[0]]) : nil
                let g = try Conv2DGeometry(input: x, weight: w, bias: b, options: o)
                let conv = try prepared(g, w, b)
                XCTAssertEqual(conv.kernel(g), .direct, "\(xs) \(ws) \(o)")
                let residual = try r.tensor([g.batch, g.outChannels, g.outHeight, g.outWidth])
                let plain = try withReferenceKernels { try conv2d(x, weight: w, bias: b, options: o) }.scalars
                let scale = max(1, plain.map { abs($0) }.max() ?? 0)
                let epilogues: [(Tensor?, Bool)] = [(nil, false), (residual, true), (nil, true)]
                for (res, relu) in epilogues {
                    var want = plain
                    if let res { let rs = res.scalars; for i in want.indices { want[i] += rs[i] } }
                    if relu { for i in want.indices where want[i] < 0 { want[i] = 0 } }
                    Threading.numThreads = 1
                    let one = try run(conv, g, x, residual: res, relu: relu)
                    Threading.numThreads = 2
                    let two = try run(conv, g, x, residual: res, relu: relu)
                    let given = try run(conv, g, x, residual: res, relu: relu, scratch: true)
                    let context = "\(xs) \(ws) \(o) bias \(withBias) residual \(res != nil) relu \(relu)"
                    XCTAssertLessThanOrEqual(maxDiff(one, want) / scale, 1e-5, context)
                    XCTAssertEqual(one.map(\.bitPattern), two.map(\.bitPattern), "1 vs 2 threads: \(context)")
                    XCTAssertEqual(one.map(\.bitPattern), given.map(\.bitPattern), "given scratch: \(context)")
                }
            }
        }
    }

    /// The stem of ResNet and GoogLeNet at 224×224 takes the direct kernel; geometries it does
    /// not cover keep theirs.
    func testChoice() throws {
        func kernel(_ xs: [Int], _ ws: [Int], _ o: Conv2DOptions) throws -> InferencePlan.Conv.Kernel {
            let x = try Tensor(zeros: xs), w = try Tensor(zeros: ws)
            let g = try Conv2DGeometry(input: x, weight: w, bias: nil, options: o)
            return try prepared(g, w, nil).kernel(g)
        }
        let stem = Conv2DOptions(stride: Size2D(2), padding: Padding2D(3))
        XCTAssertEqual(try kernel([1, 3, 224, 224], [64, 3, 7, 7], stem), .direct)
        XCTAssertEqual(try kernel([8, 3, 224, 224], [64, 3, 7, 7], stem), .direct)
        XCTAssertEqual(try kernel([1, 3, 224, 224], [32, 3, 3, 3], Conv2DOptions(stride: Size2D(2), padding: Padding2D(1))), .direct)
        XCTAssertEqual(try kernel([1, 3, 224, 224], [64, 3, 11, 11], Conv2DOptions(stride: Size2D(4), padding: Padding2D(2))), .direct)
        // GoogLeNet's 3×3 branches on 28×28 (16 → 32, 32 → 96); five channels at stride 1.
        let same = Conv2DOptions(padding: Padding2D(1))
        XCTAssertEqual(try kernel([1, 16, 28, 28], [32, 16, 3, 3], same), .direct)
        XCTAssertEqual(try kernel([8, 32, 28, 28], [96, 32, 3, 3], same), .direct)
        XCTAssertEqual(try kernel([1, 5, 64, 64], [64, 5, 3, 3], same), .direct)
        // Stride 1 with more than 96 outputs, on a map under 256 positions (GoogLeNet's 14×14
        // branches), a 1×1 kernel, a patch over directConvMaxPatch taps, or enough channels
        // for Winograd: not the direct kernel.
        XCTAssertNotEqual(try kernel([8, 16, 14, 14], [48, 16, 3, 3], same), .direct)
        XCTAssertNotEqual(try kernel([1, 32, 28, 28], [128, 32, 3, 3], same), .direct)
        XCTAssertNotEqual(try kernel([1, 32, 28, 28], [64, 32, 1, 1], Conv2DOptions()), .direct)
        XCTAssertNotEqual(try kernel([1, 48, 28, 28], [64, 48, 5, 5], Conv2DOptions(padding: Padding2D(2))), .direct)
        XCTAssertNotEqual(try kernel([1, 64, 28, 28], [64, 64, 3, 3], same), .direct)
        // Stride 1 (VGG's first layer), five channels, dilation, groups, a patch over
        // directConvMaxPatch taps, rows under one vector, stride 5, too little work: not the
        // direct kernel.
        XCTAssertNotEqual(try kernel([1, 3, 224, 224], [64, 3, 3, 3], Conv2DOptions(padding: Padding2D(1))), .direct)
        XCTAssertNotEqual(try kernel([1, 5, 64, 64], [64, 5, 3, 3], Conv2DOptions(stride: Size2D(2), padding: Padding2D(1))), .direct)
        XCTAssertNotEqual(try kernel([1, 3, 128, 128], [64, 3, 3, 3], Conv2DOptions(stride: Size2D(2), padding: Padding2D(2), dilation: Size2D(2))), .direct)
        XCTAssertNotEqual(try kernel([1, 4, 128, 128], [64, 2, 3, 3], Conv2DOptions(stride: Size2D(2), padding: Padding2D(1), groups: 2)), .direct)
        XCTAssertNotEqual(try kernel([1, 4, 227, 227], [64, 4, 17, 17], Conv2DOptions(stride: Size2D(4), padding: Padding2D(2))), .direct)
        XCTAssertNotEqual(try kernel([1, 3, 800, 7], [64, 3, 3, 3], Conv2DOptions(stride: Size2D(2, 1))), .direct)
        XCTAssertNotEqual(try kernel([1, 3, 224, 224], [64, 3, 5, 5], Conv2DOptions(stride: Size2D(5))), .direct)
        XCTAssertNotEqual(try kernel([1, 1, 56, 56], [6, 1, 5, 5], Conv2DOptions(stride: Size2D(2))), .direct)
    }
}
