import XCTest
@testable import SwiftCNN

final class ConvTests: XCTestCase {
    /// An independent conv2d written from the formula, on plain arrays, in Double.
    func directConv(_ x: Tensor, _ w: Tensor, _ b: Tensor?, _ o: Conv2DOptions) -> [Float] {
        let (n, c, h, wd) = x.rank == 4 ? (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
                                         : (1, x.shape[0], x.shape[1], x.shape[2])
        let (oc, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        let og = oc / o.groups
        let oh = (h + o.padding.top + o.padding.bottom - o.dilation.h * (kh - 1) - 1) / o.stride.h + 1
        let ow = (wd + o.padding.left + o.padding.right - o.dilation.w * (kw - 1) - 1) / o.stride.w + 1
        let xs = x.scalars, ws = w.scalars, bs = b?.scalars
        var out: [Float] = []
        for ni in 0..<n { for oi in 0..<oc { for yi in 0..<oh { for xi in 0..<ow {
            var acc = Double(bs?[oi] ?? 0)
            for ci in 0..<cg { for k in 0..<kh { for l in 0..<kw {
                let iy = yi * o.stride.h - o.padding.top + k * o.dilation.h
                let ix = xi * o.stride.w - o.padding.left + l * o.dilation.w
                guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                let (kk, ll) = o.flipKernel ? (kh - 1 - k, kw - 1 - l) : (k, l)
                let ic = (oi / og) * cg + ci
                acc += Double(ws[((oi * cg + ci) * kh + kk) * kw + ll]) * Double(xs[((ni * c + ic) * h + iy) * wd + ix])
            } } }
            out.append(Float(acc))
        } } } }
        return out
    }

    /// ``Optimized/conv2dPacked`` of `x` (the whole batch) into a new tensor.
    func packedConv(_ g: Conv2DGeometry, _ x: Tensor, _ packed: PackedConvWeights, bias: Tensor?, residual: Tensor?,
                    relu: Bool) throws -> Tensor {
        var out = try Tensor(zeros: [g.batch, g.outChannels, g.outHeight, g.outWidth])
        try x.withUnsafePointer { xp in
            try withOptionalPointer(residual) { rp in
                try withOptionalPointer(bias) { bp in
                    try out.withUnsafeMutableBufferPointer { yp in
                        try Optimized.conv2dPacked(g, input: xp, weights: packed, bias: bp, residual: rp, relu: relu,
                                                   output: yp.baseAddress!)
                    }
                }
            }
        }
        return out
    }

    /// Optimized and reference conv2d against each other and against `directConv` over
    /// random strides, per-side paddings, dilations, groups, odd sizes, 1×1 kernels, kernels
    /// equal to the input, batch > 1, bias or not, flip or not. Tolerance 1e-4 (|values| <= 1,
    /// at most ~100 products per output).
    func testOptimizedMatchesReferenceSweep() throws {
        var r = TestRNG(42)
        var outputs = 0
        for case_ in 0..<48 {
            let groups = [1, 1, 2, 3][r.int(0...3)]
            let cg = r.int(1...3), og = r.int(1...3)
            let c = cg * groups, oc = og * groups
            var kh = r.int(1...4), kw = r.int(1...4)
            if case_ % 8 == 1 { kh = 1; kw = 1 }  // 1×1; with stride 1 (case 1 mod 16) the direct GEMM path
            let o = Conv2DOptions(
                stride: case_ % 16 == 1 ? 1 : Size2D(r.int(1...3), r.int(1...3)),
                padding: case_ % 8 == 1 ? 0 : Padding2D(top: r.int(0...2), bottom: r.int(0...2), left: r.int(0...2), right: r.int(0...2)),
                dilation: case_ % 8 == 1 ? 1 : Size2D(r.int(1...2), r.int(1...2)),
                groups: groups, flipKernel: r.int(0...1) == 1)
            let spanH = o.dilation.h * (kh - 1) + 1, spanW = o.dilation.w * (kw - 1) + 1
            var h = max(1, spanH - o.padding.top - o.padding.bottom + r.int(0...6))
            var w = max(1, spanW - o.padding.left - o.padding.right + r.int(0...6))
            if case_ % 8 == 3 { h = spanH; w = spanW }  // kernel equal to the (unpadded) input
            let n = r.int(1...2)
            let input = try r.tensor(r.int(0...1) == 0 ? [n, c, h, w] : [c, h, w])
            let weight = try r.tensor([oc, cg, kh, kw])
            let bias = r.int(0...1) == 0 ? nil : try r.tensor([oc])
            let fast = try conv2d(input, weight: weight, bias: bias, options: o)
            let slow = try withReferenceKernels { try conv2d(input, weight: weight, bias: bias, options: o) }
            let want = directConv(input, weight, bias, o)
            XCTAssertEqual(fast.shape, slow.shape)
            XCTAssertEqual(fast.rank, input.rank)
            XCTAssertLessThanOrEqual(maxDiff(fast.scalars, want), 1e-4, "case \(case_): \(o) \(input.shape) \(weight.shape)")
            XCTAssertLessThanOrEqual(maxDiff(slow.scalars, want), 1e-5, "case \(case_)")
            outputs += fast.count
        }
        XCTAssertGreaterThan(outputs, 48 * 4)  // the sweep computed real outputs
    }

    /// Small output maps (OH·OW < ``Optimized/batchedPlaneLimit``) with batch > 1 run one GEMM
    /// over several images (n = images·OH·OW, tiles spanning two images). Random geometries
    /// (strides, per-side padding, dilation, groups, 1×1 direct, 1×1 outputs, maps of 1 to
    /// 255 positions; batches 2–7 and one larger than a GEMM's share, so that the batch is cut
    /// into several GEMMs), with bias, residual and ReLU through ``Optimized/conv2dPacked``:
    /// within 1e-4 of `directConv` (+ residual, ReLU) in Double, and bitwise equal to the same
    /// convolution run image by image (batch 1 geometries: one GEMM per image).
    func testBatchedSmallMapsMatchReference() throws {
        var r = TestRNG(77)
        var batchedCases = 0
        for case_ in 0..<30 {
            let groups = [1, 1, 2][r.int(0...2)]
            let cg = r.int(1...4), og = r.int(1...14)
            let c = cg * groups, oc = og * groups
            let k = case_ % 6 == 0 ? 1 : r.int(1...3)
            let direct = case_ % 6 == 0 && case_ % 12 == 0
            let o = Conv2DOptions(stride: direct ? 1 : Size2D(r.int(1...2), r.int(1...2)),
                                  padding: direct ? 0 : Padding2D(top: r.int(0...1), bottom: r.int(0...1), left: r.int(0...1), right: r.int(0...1)),
                                  dilation: direct ? 1 : Size2D(r.int(1...2), 1), groups: groups)
            let span = o.dilation.h * (k - 1) + 1
            var h = span + r.int(0...9), w = k + r.int(0...12)
            if case_ % 10 == 7 { h = span; w = k }  // one output position
            let n = case_ == 29 ? Optimized.batchedColumns / 200 + 3 : r.int(2...7)
            if case_ == 29 { h = 20; w = 10 }  // 1×1 stride 1 below: 200 positions, several GEMMs
            let x = try r.tensor([n, c, h, w])
            let weight = try r.tensor([oc, cg, case_ == 29 ? 1 : k, case_ == 29 ? 1 : k])
            let opts = case_ == 29 ? Conv2DOptions(groups: groups) : o
            let bias = case_ % 3 == 0 ? nil : try r.tensor([oc])
            let g = try Conv2DGeometry(input: x, weight: weight, bias: bias, options: opts)
            guard g.outPlane < Optimized.batchedPlaneLimit else { continue }
            batchedCases += 1
            let residual = case_ % 2 == 0 ? try r.tensor([n, oc, g.outHeight, g.outWidth]) : nil
            let relu = case_ % 4 < 2
            let packed = try weight.withUnsafePointer { try PackedConvWeights(g, weight: $0) }
            let out = try packedConv(g, x, packed, bias: bias, residual: residual, relu: relu)
            var want = directConv(x, weight, bias, opts)
            if let residual { want = zip(want, residual.scalars).map { $0 + $1 } }
            if relu { want = want.map { max($0, 0) } }
            XCTAssertLessThanOrEqual(maxDiff(out.scalars, want), 1e-4, "case \(case_): \(opts) \(x.shape) \(weight.shape)")
            // Image by image: the per-image GEMM path.
            let one = try Conv2DGeometry(input: try Tensor(zeros: [1, c, h, w]), weight: weight, bias: bias, options: opts)
            var single = try Tensor(zeros: out.shape)
            let perImage = c * h * w, perOut = oc * g.outPlane
            try x.withUnsafePointer { xp in
                try withOptionalPointer(residual) { rp in
                    try withOptionalPointer(bias) { bp in
                        try single.withUnsafeMutableBufferPointer { yp in
                            for i in 0..<n {
                                try Optimized.conv2dPacked(one, input: xp + i * perImage, weights: packed, bias: bp,
                                                           residual: rp.map { $0 + i * perOut }, relu: relu,
                                                           output: yp.baseAddress! + i * perOut)
                            }
                        }
                    }
                }
            }
            XCTAssertEqual(out.scalars.map(\.bitPattern), single.scalars.map(\.bitPattern), "case \(case_): batched vs per image")
        }
        XCTAssertGreaterThan(batchedCases, 25)
    }

    /// A strided 1×1 kernel without padding multiplies the subsampled input (``Optimized/subsample(_:_:channels:into:)``,
    /// then a plain GEMM): within 1e-4 of `directConv` (+ residual, ReLU), and bitwise equal to
    /// the im2col GEMM of the same convolution, over strides (2, 2), (2, 1), (1, 3), (3, 2),
    /// rows of 1 to 113 pixels (the even-lane gathers of 16 and 8 and the single floats),
    /// groups, batches and thread counts (the planes split over threads), and small output
    /// maps at batch > 1 (the batched GEMM over subsampled images, its batch cut into two
    /// GEMMs in the last shape).
    func testStridedPointwiseMatchesIm2col() throws {
        var r = TestRNG(91)
        let saved = Threading.numThreads
        defer { Threading.numThreads = saved }
        let shapes: [(c: Int, o: Int, h: Int, w: Int, s: Size2D, groups: Int, n: Int)] = [
            (64, 24, 56, 56, Size2D(2), 1, 1), (8, 5, 9, 113, Size2D(2), 1, 2), (6, 4, 7, 3, Size2D(2, 1), 2, 1),
            (5, 7, 11, 40, Size2D(1, 3), 1, 1), (4, 6, 13, 1, Size2D(3, 2), 2, 2), (300, 3, 30, 30, Size2D(2), 1, 1),
            (24, 10, 28, 28, Size2D(2), 1, 3), (6, 9, 15, 13, Size2D(2, 3), 3, 4),
            (4, 6, 14, 14, Size2D(2), 2, Optimized.batchedColumns / 49 + 3),
        ]
        for (i, sh) in shapes.enumerated() {
            let x = try r.tensor([sh.n, sh.c, sh.h, sh.w])
            let weight = try r.tensor([sh.o, sh.c / sh.groups, 1, 1], -0.5, 0.5)
            let bias = i % 2 == 0 ? try r.tensor([sh.o]) : nil
            let opts = Conv2DOptions(stride: sh.s, groups: sh.groups)
            let g = try Conv2DGeometry(input: x, weight: weight, bias: bias, options: opts)
            let residual = i % 3 == 0 ? try r.tensor([sh.n, sh.o, g.outHeight, g.outWidth]) : nil
            let relu = i % 2 == 1
            let packed = try weight.withUnsafePointer { try PackedConvWeights(g, weight: $0) }
            var want = directConv(x, weight, bias, opts)
            if let residual { want = zip(want, residual.scalars).map { $0 + $1 } }
            if relu { want = want.map { max($0, 0) } }
            // The im2col GEMM, image by image and group by group, with the same epilogue.
            let og = g.outChannelsPerGroup, cg = g.inChannelsPerGroup, plane = g.outPlane
            var im2col = try Tensor(zeros: [sh.n, sh.o, g.outHeight, g.outWidth])
            try x.withUnsafePointer { xp in
                try withOptionalPointer(residual) { rp in
                    try withOptionalPointer(bias) { bp in
                        try im2col.withUnsafeMutableBufferPointer { yp in
                            for n in 0..<sh.n {
                                for grp in 0..<sh.groups {
                                    let offset = (n * sh.o + grp * og) * plane
                                    var ep = GEMMEpilogue()
                                    ep.bias = bp.map { $0 + grp * og }
                                    ep.residual = rp.map { $0 + offset }
                                    ep.ldr = plane
                                    ep.relu = relu
                                    try Optimized.gemmPacked(m: og, n: plane, k: cg, a: packed.groups[grp].pointer,
                                                             source: .im2col(g, xp + (n * sh.c + grp * cg) * g.inPlane),
                                                             c: yp.baseAddress! + offset, ldc: plane, accumulate: false, epilogue: ep)
                                }
                            }
                        }
                    }
                }
            }
            for threads in [1, 2] {
                Threading.numThreads = threads
                let got = try packedConv(g, x, packed, bias: bias, residual: residual, relu: relu).scalars
                XCTAssertLessThanOrEqual(maxDiff(got, want), 1e-4, "shape \(i) threads \(threads)")
                XCTAssertEqual(got.map(\.bitPattern), im2col.scalars.map(\.bitPattern), "shape \(i) threads \(threads): subsampled vs im2col")
            }
        }
    }

    /// A 1×1 kernel with stride 1 and no padding (the direct GEMM path) is a per-pixel matrix product.
    func testPointwiseConv() throws {
        var r = TestRNG(7)
        let x = try r.tensor([2, 5, 3, 4]), w = try r.tensor([3, 5, 1, 1]), b = try r.tensor([3])
        let y = try conv2d(x, weight: w, bias: b)
        XCTAssertEqual(y.shape, [2, 3, 3, 4])
        XCTAssertLessThanOrEqual(maxDiff(y.scalars, directConv(x, w, b, .init())), 1e-5)
    }

    /// convolve2d equals conv2d with the kernel flipped by hand.
    func testConvolve2dFlipsKernel() throws {
        var r = TestRNG(9)
        let x = try r.tensor([1, 2, 6, 5]), w = try r.tensor([3, 2, 3, 2])
        let ws = w.scalars
        var flipped = ws
        for o in 0..<6 { for k in 0..<3 { for l in 0..<2 { flipped[(o * 3 + k) * 2 + l] = ws[(o * 3 + 2 - k) * 2 + 1 - l] } } }
        let a = try convolve2d(x, weight: w, options: .init(padding: Padding2D(1, 0)))
        let b = try conv2d(x, weight: try Tensor(shape: [3, 2, 3, 2], scalars: flipped), options: .init(padding: Padding2D(1, 0)))
        XCTAssertLessThanOrEqual(maxDiff(a.scalars, b.scalars), 1e-6)
    }

    /// The seed's 10×10 image and 1/9 box filter → the 8×8 table, last two rows corrected to
    /// 10 10 10 0 0 0 0 0. Exact up to float rounding of 1/9 (tolerance 1e-4).
    func testSeedBoxFilter() throws {
        var img = [Float](repeating: 0, count: 100)
        for r in 2...5 { for c in 3...7 { img[r * 10 + c] = 90 } }
        img[4 * 10 + 4] = 0
        img[8 * 10 + 2] = 90
        let x = try Tensor(shape: [1, 1, 10, 10], scalars: img)
        let box = try Tensor(shape: [1, 1, 3, 3], repeating: 1.0 / 9.0)
        let want: [Float] = [
            0, 10, 20, 30, 30, 30, 20, 10,
            0, 20, 40, 60, 60, 60, 40, 20,
            0, 30, 50, 80, 80, 90, 60, 30,
            0, 30, 50, 80, 80, 90, 60, 30,
            0, 20, 30, 50, 50, 60, 40, 20,
            0, 10, 20, 30, 30, 30, 20, 10,
            10, 10, 10, 0, 0, 0, 0, 0,
            10, 10, 10, 0, 0, 0, 0, 0,
        ]
        for reference in [false, true] {
            let y = reference ? try withReferenceKernels { try conv2d(x, weight: box) } : try conv2d(x, weight: box)
            XCTAssertEqual(y.shape, [1, 1, 8, 8])
            XCTAssertLessThanOrEqual(maxDiff(y.scalars, want), 1e-4)
            // The printed table's typo (a fourth 10 in the last two rows) is not what we compute.
            XCTAssertLessThan(try y.element(0, 0, 7, 3), 1)
        }
    }

    /// The seed's 3×3×3 image with a 2×2×3 filter → a 2×2×1 map, with
    /// y1 = w1x1 + w2x2 + w3x4 + w4x5 + w5x10 + w6x11 + w7x13 + w8x14 + w9x19 + w10x20 + w11x22 + w12x23
    /// (x and w numbered from 1 in CHW order).
    func testSeedMultiChannelExample() throws {
        let xs = (1...27).map { Float($0) }            // x_i = i
        let ws = (1...12).map { Float($0) / 10 }       // w_i = i/10
        let x = try Tensor(shape: [3, 3, 3], scalars: xs)
        let w = try Tensor(shape: [1, 3, 2, 2], scalars: ws)
        let y = try conv2d(x, weight: w)
        XCTAssertEqual(y.shape, [1, 2, 2])
        func xv(_ i: Int) -> Double { Double(xs[i - 1]) }
        func wv(_ i: Int) -> Double { Double(ws[i - 1]) }
        let y1 = wv(1) * xv(1) + wv(2) * xv(2) + wv(3) * xv(4) + wv(4) * xv(5)
            + wv(5) * xv(10) + wv(6) * xv(11) + wv(7) * xv(13) + wv(8) * xv(14)
            + wv(9) * xv(19) + wv(10) * xv(20) + wv(11) * xv(22) + wv(12) * xv(23)
        XCTAssertEqual(Double(try y.element(0, 0, 0)), y1, accuracy: 1e-3)
        // The other outputs shift every x index by 1 (right), 3 (down) or 4.
        for (pos, shift) in [((0, 1), 1), ((1, 0), 3), ((1, 1), 4)] {
            let yi = [(1, 1), (2, 2), (3, 4), (4, 5), (5, 10), (6, 11), (7, 13), (8, 14), (9, 19), (10, 20), (11, 22), (12, 23)]
                .reduce(0.0) { $0 + wv($1.0) * xv($1.1 + shift) }
            XCTAssertEqual(Double(try y.element(0, pos.0, pos.1)), yi, accuracy: 1e-3)
        }
    }

    /// Output size formula, including per-side padding and dilation.
    func testOutputShapes() throws {
        let x = try Tensor(zeros: [1, 1, 7, 7])
        // (7 − 3)/2 + 1 = 3 (stride does not fit exactly: floor, like PyTorch)
        XCTAssertEqual(try conv2d(x, weight: try Tensor(zeros: [1, 1, 3, 3]), options: .init(stride: 3)).shape, [1, 1, 2, 2])
        XCTAssertEqual(try conv2d(x, weight: try Tensor(zeros: [1, 1, 3, 3]), options: .init(padding: 1)).shape, [1, 1, 7, 7])
        XCTAssertEqual(try conv2d(x, weight: try Tensor(zeros: [2, 1, 3, 3]),
                                  options: .init(padding: Padding2D(top: 0, bottom: 2, left: 1, right: 0), dilation: Size2D(2, 1))).shape,
                       [1, 2, 5, 6])
    }

    /// Every bad input throws a SwiftCNNError with a message naming the problem.
    func testBadInputsThrow() throws {
        let x = try Tensor(zeros: [1, 4, 5, 5]), w = try Tensor(zeros: [2, 4, 3, 3])
        assertThrows(.invalidArgument, "stride must be at least 1") { try conv2d(x, weight: w, options: .init(stride: Size2D(1, 0))) }
        assertThrows(.invalidArgument, "dilation must be at least 1") { try conv2d(x, weight: w, options: .init(dilation: 0)) }
        assertThrows(.invalidArgument, "padding must not be negative") {
            try conv2d(x, weight: w, options: .init(padding: Padding2D(top: 0, bottom: -1, left: 0, right: 0)))
        }
        assertThrows(.invalidArgument, "groups must be at least 1") { try conv2d(x, weight: w, options: .init(groups: 0)) }
        assertThrows(.invalidArgument, "must divide the input channels (4)") { try conv2d(x, weight: w, options: .init(groups: 3)) }
        assertThrows(.invalidArgument, "must divide the output channels (2") {
            try conv2d(x, weight: try Tensor(zeros: [2, 1, 3, 3]), options: .init(groups: 4))
        }
        assertThrows(.shapeMismatch, "weight has 4 input channels per group but input has 3 channels / 1 groups") {
            try conv2d(try Tensor(zeros: [1, 3, 5, 5]), weight: w)
        }
        assertThrows(.shapeMismatch, "bias must have shape [2]") { try conv2d(x, weight: w, bias: try Tensor(zeros: [3])) }
        assertThrows(.shapeMismatch, "bias must have shape [2]") { try conv2d(x, weight: w, bias: try Tensor(zeros: [1, 2])) }
        assertThrows(.invalidArgument, "weight must have rank 4") { try conv2d(x, weight: try Tensor(zeros: [2, 4, 3])) }
        assertThrows(.invalidArgument, "rank 4 [N, C, H, W] or rank 3") { try conv2d(try Tensor(zeros: [25]), weight: w) }
        assertThrows(.invalidArgument, "got rank 2") { try conv2d(try Tensor(zeros: [5, 5]), weight: w) }
        assertThrows(.invalidArgument, "kernel height 6 is larger than the padded input height 5") {
            try conv2d(x, weight: try Tensor(zeros: [2, 4, 6, 3]))
        }
        assertThrows(.invalidArgument, "dilated kernel height 7 (kernel 3, dilation 3)") { try conv2d(x, weight: w, options: .init(dilation: 3)) }
        assertThrows(.invalidArgument, "overflows") {
            try conv2d(x, weight: w, options: .init(padding: Padding2D(top: Int.max, bottom: 1, left: 0, right: 0)))
        }
        assertThrows(.invalidArgument, "overflows") { try conv2d(x, weight: w, options: .init(dilation: Size2D(Int.max, 1))) }
        assertThrows(.invalidArgument, "convolve2d:") { try convolve2d(x, weight: w, options: .init(stride: 0)) }
        // Padding makes the dilated kernel fit.
        XCTAssertEqual(try conv2d(x, weight: w, options: .init(padding: 1, dilation: 3)).shape, [1, 2, 1, 1])
    }

    /// Garbage geometry (negative, zero, huge values in every field) never traps: each call
    /// either throws a SwiftCNNError or returns a small, correct-shaped result. Extreme
    /// strides with padding (the im2col edge arithmetic) included.
    func testExtremeArgumentsNeverTrap() throws {
        let values = [Int.min, -(1 << 62), -1, 0, 1, 2, 3, 1 << 62, Int.max]
        var r = TestRNG(99)
        let x = try r.tensor([1, 2, 4, 4]), w = try r.tensor([2, 2, 2, 2])
        var ok = 0, failed = 0
        for _ in 0..<400 {
            func v() -> Int { values[r.int(0...(values.count - 1))] }
            let o = Conv2DOptions(stride: Size2D(v(), v()), padding: Padding2D(top: v(), bottom: v(), left: v(), right: v()),
                                  dilation: Size2D(v(), v()), groups: v(), flipKernel: r.int(0...1) == 1)
            for reference in [false, true] {
                do {
                    let y = reference ? try withReferenceKernels { try conv2d(x, weight: w, options: o) }
                                      : try conv2d(x, weight: w, options: o)
                    XCTAssertEqual(y.rank, 4)
                    ok += 1
                } catch is SwiftCNNError { failed += 1 }
            }
        }
        XCTAssertGreaterThan(failed, 0)
        XCTAssertGreaterThan(ok, 0)
        // Huge strides with padding: one output per dim, from the padded corner.
        let big = try conv2d(x, weight: w, options: .init(stride: Size2D(Int.max), padding: 3))
        XCTAssertEqual(big.shape, [1, 2, 1, 1])
        XCTAssertEqual(try withReferenceKernels { try conv2d(x, weight: w, options: .init(stride: Size2D(Int.max), padding: 3)) }.scalars,
                       big.scalars)
        XCTAssertEqual(big.scalars, [0, 0])  // the first window lies entirely in the padding
    }

    /// GEMM against a naive triple loop at edge sizes around the micro-tile (6×16) and the
    /// block sizes (k 256, n 512), with leading dimensions larger than the row lengths, with
    /// and without accumulation. Tolerance 1e-4 relative to √k.
    func testGEMMEdgeSizes() throws {
        var r = TestRNG(3)
        let cases: [(Int, Int, Int)] = [
            (1, 1, 1), (1, 16, 1), (6, 16, 4), (5, 15, 3), (7, 17, 9), (12, 32, 8), (13, 33, 2),
            (2, 3, 257), (3, 513, 5), (1, 1, 300), (8, 520, 260), (0, 4, 4), (4, 0, 4), (3, 4, 0),
        ]
        for (ci, (m, n, k)) in cases.enumerated() {
            let lda = k + ci % 3, ldb = n + ci % 2, ldc = n + 1
            let a = (0..<max(1, m * lda)).map { _ in r.float() }
            let b = (0..<max(1, k * ldb)).map { _ in r.float() }
            let c0 = (0..<max(1, m * ldc)).map { _ in r.float() }
            for accumulate in [false, true] {
                var c = c0
                a.withUnsafeBufferPointer { ap in
                    b.withUnsafeBufferPointer { bp in
                        c.withUnsafeMutableBufferPointer { cp in
                            Optimized.gemm(m: m, n: n, k: k, a: ap.baseAddress!, lda: lda, b: bp.baseAddress!, ldb: ldb,
                                           c: cp.baseAddress!, ldc: ldc, accumulate: accumulate)
                        }
                    }
                }
                var worst: Float = 0
                for i in 0..<m {
                    for j in 0..<n {
                        var s = accumulate ? Double(c0[i * ldc + j]) : 0
                        for p in 0..<k { s += Double(a[i * lda + p]) * Double(b[p * ldb + j]) }
                        worst = max(worst, abs(c[i * ldc + j] - Float(s)))
                    }
                    // The padding column of each C row is never written.
                    XCTAssertEqual(c[i * ldc + n], c0[i * ldc + n], "case \(ci) wrote past n")
                }
                XCTAssertLessThanOrEqual(worst, 1e-4 * Float(max(1, k)).squareRoot() * 4, "case \(ci) m\(m) n\(n) k\(k) acc \(accumulate)")
            }
        }
    }

    /// The dispatch flag is process-wide and thread-safe to toggle.
    func testDispatchFlag() {
        let old = KernelDispatch.forceReference
        KernelDispatch.forceReference = true
        XCTAssertTrue(KernelDispatch.forceReference)
        KernelDispatch.forceReference = false
        XCTAssertFalse(KernelDispatch.forceReference)
        KernelDispatch.forceReference = old
    }
}
