#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import XCTest
@testable import SwiftCNN

/// The depthwise kernel (``Optimized/depthwiseConv2d(_:input:weight:flip:bias:residual:relu:output:scratch:)``,
/// groups == input channels) against the reference convolution: a random sweep of
/// geometries (channels, sizes, kernels, strides, per-side padding, dilation, multipliers,
/// batch, flip) through the kernel itself with every output pass (bias, residual, ReLU),
/// through ``InferencePlan/Conv`` (given scratch or not) and through the public `conv2d`;
/// edge geometries with the input, residual and output placed against inaccessible pages
/// (a read or write past either end faults); batch-norm folding of grouped weights; and the
/// backward pass.
///
/// Tolerance: |optimized − reference| <= 1e-5 · max(1, max |reference|) (the kernel sums
/// in float with FMA, the reference in double; inputs and weights in [−1, 1)).
final class DepthwiseConvTests: XCTestCase {
    static let tolerance: Float = 1e-5

    /// max |a − b| / max(1, max |b|).
    func relError(_ a: [Float], _ b: [Float]) -> Float {
        guard a.count == b.count else { return .infinity }
        let scale = max(1, b.map { abs($0) }.max() ?? 0)
        return maxDiff(a, b) / scale
    }

    /// Reference output: conv (double accumulation) + residual, then ReLU.
    func reference(_ x: Tensor, _ w: Tensor, _ b: Tensor?, _ o: Conv2DOptions, residual: Tensor?, relu: Bool) throws -> [Float] {
        epilogue(try withReferenceKernels { try conv2d(x, weight: w, bias: b, options: o) }.scalars, residual: residual, relu: relu)
    }

    /// `y` + residual, then ReLU.
    func epilogue(_ y: [Float], residual: Tensor?, relu: Bool) -> [Float] {
        var y = y
        if let residual {
            let r = residual.scalars
            for i in y.indices { y[i] += r[i] }
        }
        if relu { y = y.map { $0 < 0 ? 0 : $0 } }
        return y
    }

    /// The kernel called directly on tensors.
    func depthwise(_ x: Tensor, _ w: Tensor, _ b: Tensor?, _ o: Conv2DOptions, residual: Tensor?, relu: Bool,
                   scratch: Bool = false) throws -> [Float] {
        let g = try Conv2DGeometry(input: x, weight: w, bias: b, options: o)
        XCTAssertTrue(Optimized.depthwiseApplies(g))
        var out = try Tensor(zeros: [g.batch, g.outChannels, g.outHeight, g.outWidth])
        let given: ScratchBuffer? = scratch ? try ScratchBuffer(count: try Optimized.depthwiseScratchCount(g)) : nil
        try x.withUnsafePointer { xp in
            try w.withUnsafePointer { wp in
                try withOptionalPointer(b) { bp in
                    try withOptionalPointer(residual) { rp in
                        try out.withUnsafeMutablePointerUnchecked { yp in
                            try Optimized.depthwiseConv2d(g, input: xp, weight: wp, flip: o.flipKernel, bias: bp, residual: rp,
                                                          relu: relu, output: yp,
                                                          scratch: given.map { UnsafeMutableBufferPointer(start: $0.pointer, count: $0.count) })
                        }
                    }
                }
            }
        }
        return out.scalars
    }

    /// The prepared path: ``InferencePlan/Conv`` with packed and depthwise weights, `execute`.
    func planned(_ x: Tensor, _ w: Tensor, _ b: Tensor?, _ o: Conv2DOptions, residual: Tensor?, relu: Bool,
                 scratch: Bool) throws -> [Float] {
        let g = try Conv2DGeometry(input: x, weight: w, bias: b, options: o)
        let conv = try w.withUnsafePointer {
            InferencePlan.Conv(packed: try PreparedConvWeights(g, weight: $0), bias: b,
                               depthwise: try DepthwiseConvWeights(g, weight: $0))
        }
        XCTAssertEqual(conv.kernel(g), Optimized.smallConvApplies(g) ? .small : .depthwise)
        let count = try conv.scratchCount(g)
        let buffer: ScratchBuffer? = scratch && count > 0 ? try ScratchBuffer(count: count) : nil
        var out = try Tensor(zeros: [g.batch, g.outChannels, g.outHeight, g.outWidth])
        try x.withUnsafePointer { xp in
            try withOptionalPointer(residual) { rp in
                try out.withUnsafeMutablePointerUnchecked { yp in
                    try conv.execute(g, input: xp, residual: rp, relu: relu, output: yp,
                                     scratch: buffer.map { UnsafeMutableBufferPointer(start: $0.pointer, count: $0.count) })
                }
            }
        }
        return out.scalars
    }

    /// A random valid depthwise geometry: input [n, c, h, w], weight [c·m, 1, kh, kw], options.
    func randomCase(_ r: inout TestRNG) -> (x: [Int], w: [Int], o: Conv2DOptions) {
        while true {
            let c = r.int(1...37), m = [1, 1, 1, 2, 3][r.int(0...4)], n = r.int(1...3)
            // A third of the rows 16 to 40 wide (the in-place row kernels), the rest 1 to 19.
            let h = r.int(1...19), w = r.int(0...2) == 0 ? r.int(16...40) : r.int(1...19)
            let kh = [1, 3, 3, 3, 2, 4, 5][r.int(0...6)], kw = r.int(0...2) == 0 ? r.int(1...5) : kh
            let s = r.int(0...2) == 0 ? Size2D(r.int(1...3), r.int(1...3)) : Size2D(r.int(1...3))
            let d = r.int(0...3) == 0 ? Size2D(r.int(1...3), r.int(1...3)) : Size2D(1)
            let p: Padding2D = r.int(0...2) == 0
                ? Padding2D(top: r.int(0...3), bottom: r.int(0...3), left: r.int(0...3), right: r.int(0...3))
                : Padding2D(r.int(0...2))
            let o = Conv2DOptions(stride: s, padding: p, dilation: d, groups: c, flipKernel: r.int(0...5) == 0)
            if h + p.top + p.bottom < d.h * (kh - 1) + 1 || w + p.left + p.right < d.w * (kw - 1) + 1 { continue }
            return ([n, c, h, w], [c * m, 1, kh, kw], o)
        }
    }

    /// The sweep: the kernel (with and without given scratch), the prepared path and the
    /// public conv2d, each against the reference, with random output passes.
    func testSweepMatchesReference() throws {
        var r = TestRNG(2024)
        var worst: Float = 0
        var paths = [0, 0, 0]  // flat, rows, 3×3 rows
        for trial in 0..<600 {
            let (xs, ws, o) = randomCase(&r)
            let x = try r.tensor(xs), w = try r.tensor(ws)
            let oc = ws[0]
            let b = r.int(0...2) == 0 ? nil : try r.tensor([oc])
            let g = try Conv2DGeometry(input: x, weight: w, bias: b, options: o)
            let layout = try DepthwiseLayout(g)
            paths[layout.flat ? 0 : layout.rows3x3 ? 2 : 1] += 1
            let outShape = [g.batch, g.outChannels, g.outHeight, g.outWidth]
            let residual = r.int(0...2) == 0 ? try r.tensor(outShape) : nil
            let relu = r.int(0...1) == 0
            let ctx = "trial \(trial): input \(xs) weight \(ws) stride \(o.stride) padding \(o.padding) dilation \(o.dilation) flip \(o.flipKernel) bias \(b != nil) residual \(residual != nil) relu \(relu)"
            let plainWant = try reference(x, w, b, o, residual: nil, relu: false)
            let want = epilogue(plainWant, residual: residual, relu: relu)
            let direct = try depthwise(x, w, b, o, residual: residual, relu: relu, scratch: trial % 2 == 0)
            let e1 = relError(direct, want)
            XCTAssertLessThanOrEqual(e1, Self.tolerance, "kernel, " + ctx)
            if !o.flipKernel {
                let viaPlan = try planned(x, w, b, o, residual: residual, relu: relu, scratch: trial % 3 == 0)
                let e2 = relError(viaPlan, want)
                XCTAssertLessThanOrEqual(e2, Self.tolerance, "plan, " + ctx)
                worst = max(worst, e2)
            }
            let plain = try conv2d(x, weight: w, bias: b, options: o).scalars
            let e3 = relError(plain, plainWant)
            XCTAssertLessThanOrEqual(e3, Self.tolerance, "conv2d, " + ctx)
            worst = max(worst, e1, e3)
        }
        print("depthwise sweep: worst relative error \(worst); flat \(paths[0]), rows \(paths[1]), 3×3 rows \(paths[2])")
        XCTAssertTrue(paths.allSatisfy { $0 >= 10 }, "every path taken: \(paths)")
    }

    /// MobileNet's shapes, small: 3×3, stride 1 and 2, padding 1, maps of 1 to 40 (every
    /// row count modulo 4 for the four-row kernel), multipliers 1 to 3, every output pass.
    func testMobileNetShapesMatchReference() throws {
        var r = TestRNG(31)
        for size in [1, 2, 3, 5, 7, 8, 13, 14, 15, 16, 17, 18, 19, 28, 31, 32, 33, 40] {
            for stride in [1, 2] {
                let c = r.int(1...9), m = r.int(1...3), n = r.int(1...2)
                let o = Conv2DOptions(stride: Size2D(stride), padding: 1, groups: c)
                let x = try r.tensor([n, c, size, size + r.int(0...3)]), w = try r.tensor([c * m, 1, 3, 3]), b = try r.tensor([c * m])
                let g = try Conv2DGeometry(input: x, weight: w, bias: b, options: o)
                let residual = try r.tensor([n, c * m, g.outHeight, g.outWidth])
                for (res, relu) in [(false, false), (false, true), (true, true)] {
                    let want = try reference(x, w, b, o, residual: res ? residual : nil, relu: relu)
                    let got = try planned(x, w, b, o, residual: res ? residual : nil, relu: relu, scratch: true)
                    XCTAssertLessThanOrEqual(relError(got, want), Self.tolerance,
                                             "\(x.shape) ×\(m) stride \(stride) residual \(res) relu \(relu)")
                }
            }
        }
    }

    /// Every thread count gives bitwise the same result.
    func testThreadCountDoesNotChangeResults() throws {
        var r = TestRNG(7)
        let x = try r.tensor([2, 24, 33, 35]), w = try r.tensor([24, 1, 3, 3]), b = try r.tensor([24])
        for o in [Conv2DOptions(padding: 1, groups: 24), Conv2DOptions(stride: 2, padding: 1, groups: 24),
                  Conv2DOptions(padding: Padding2D(top: 0, bottom: 2, left: 3, right: 1), dilation: 2, groups: 24)] {
            let saved = Threading.numThreads
            defer { Threading.numThreads = saved }
            Threading.numThreads = 1
            let one = try conv2d(x, weight: w, bias: b, options: o).scalars
            for t in [2, 3, 8] {
                Threading.numThreads = t
                XCTAssertEqual(try conv2d(x, weight: w, bias: b, options: o).scalars, one, "\(t) threads, \(o)")
            }
        }
    }

    /// Memory whose usable part ends (or starts) at an inaccessible page: an access past that
    /// end faults.
    final class GuardedFloats {
        let base: UnsafeMutableRawPointer
        let bytes: Int
        let pointer: UnsafeMutablePointer<Float>
        init(count: Int, guardAfter: Bool) {
            let page = Int(sysconf(Int32(_SC_PAGESIZE)))
            let data = (max(count, 1) * 4 + page - 1) / page * page
            bytes = data + 2 * page
            guard let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else {
                fatalError("mmap failed")
            }
            base = p
            mprotect(p, page, PROT_NONE)
            mprotect(p + page + data, page, PROT_NONE)
            let start = guardAfter ? p + page + data - count * 4 : p + page
            pointer = start.bindMemory(to: Float.self, capacity: max(count, 1))
        }
        deinit { munmap(base, bytes) }
    }

    /// Edge geometries (1×1 and 2×3 inputs, huge and one-sided padding, kernels as large as
    /// the padded input, strides larger than the input, rows of exactly 15, 16, 17 and long
    /// stride-2 rows) with input, residual and output against guard pages on either side.
    func testEdgeGeometriesStayInBounds() throws {
        var r = TestRNG(99)
        let cases: [(x: [Int], k: (Int, Int), m: Int, o: Conv2DOptions)] = [
            ([1, 3, 1, 1], (3, 3), 1, Conv2DOptions(padding: 1)),
            ([2, 2, 1, 1], (1, 1), 2, Conv2DOptions()),
            ([1, 5, 2, 3], (3, 3), 1, Conv2DOptions(stride: 2, padding: 1)),
            ([1, 4, 2, 3], (3, 3), 3, Conv2DOptions(padding: 3, dilation: 3)),
            ([1, 2, 1, 1], (3, 3), 1, Conv2DOptions(padding: 20)),
            ([1, 2, 1, 1], (5, 2), 2, Conv2DOptions(stride: Size2D(3, 7), padding: Padding2D(top: 9, bottom: 0, left: 0, right: 30))),
            ([1, 3, 2, 3], (2, 3), 1, Conv2DOptions()),
            ([1, 3, 4, 4], (4, 4), 1, Conv2DOptions(stride: 5)),
            ([1, 2, 3, 2], (3, 3), 1, Conv2DOptions(padding: Padding2D(top: 0, bottom: 0, left: 1, right: 0), dilation: Size2D(1, 1))),
            ([1, 3, 5, 15], (3, 3), 1, Conv2DOptions(padding: 1)),
            ([1, 3, 5, 16], (3, 3), 1, Conv2DOptions(padding: 1)),
            ([1, 3, 6, 17], (3, 3), 1, Conv2DOptions(padding: 1)),
            ([1, 3, 1, 16], (3, 3), 1, Conv2DOptions(padding: Padding2D(top: 1, bottom: 1, left: 1, right: 1))),
            ([1, 2, 7, 18], (3, 3), 1, Conv2DOptions()),
            ([1, 2, 9, 131], (3, 3), 1, Conv2DOptions(stride: 2, padding: 1)),
            ([1, 2, 9, 130], (3, 3), 2, Conv2DOptions(stride: 2, padding: Padding2D(top: 0, bottom: 1, left: 0, right: 1))),
            ([1, 2, 5, 97], (5, 5), 1, Conv2DOptions(stride: Size2D(1, 2), padding: 2)),
            ([1, 2, 5, 64], (1, 1), 1, Conv2DOptions(stride: 2)),
            ([2, 3, 11, 40], (3, 3), 1, Conv2DOptions(stride: 3, padding: 1, dilation: 2)),
            ([1, 2, 3, 50], (3, 7), 1, Conv2DOptions(padding: Padding2D(top: 1, bottom: 1, left: 3, right: 3), dilation: Size2D(1, 4))),
            ([1, 1, 19, 19], (19, 19), 1, Conv2DOptions()),
            ([1, 2, 4, 4], (11, 11), 1, Conv2DOptions(padding: 5, flipKernel: true)),
            ([1, 2, 6, 67], (3, 3), 1, Conv2DOptions(stride: 2, padding: Padding2D(top: 1, bottom: 0, left: 0, right: 2))),
            ([1, 2, 6, 66], (3, 3), 1, Conv2DOptions(stride: 2, padding: Padding2D(top: 0, bottom: 1, left: 1, right: 0))),
            ([1, 2, 7, 70], (3, 3), 2, Conv2DOptions(stride: 2, padding: 2, dilation: 2)),
            ([1, 3, 2, 80], (1, 3), 8, Conv2DOptions(stride: Size2D(1, 2), padding: Padding2D(top: 0, bottom: 0, left: 3, right: 3))),
        ]
        for (i, c) in cases.enumerated() {
            var o = c.o
            o.groups = c.x[1]
            let x = try r.tensor(c.x), w = try r.tensor([c.x[1] * c.m, 1, c.k.0, c.k.1]), b = try r.tensor([c.x[1] * c.m])
            let g = try Conv2DGeometry(input: x, weight: w, bias: b, options: o)
            let outCount = g.batch * g.outChannels * g.outPlane
            let residual = try r.tensor([g.batch, g.outChannels, g.outHeight, g.outWidth])
            let want = try reference(x, w, b, o, residual: residual, relu: true)
            // The backward pass with the residual as dY.
            let grads = try withReferenceKernels { try conv2dBackward(x, weight: w, gradOutput: residual, options: o, hasBias: false) }
            for guardAfter in [true, false] {
                let gx = GuardedFloats(count: x.count, guardAfter: guardAfter)
                let gr = GuardedFloats(count: outCount, guardAfter: guardAfter)
                let gy = GuardedFloats(count: outCount, guardAfter: guardAfter)
                let gdx = GuardedFloats(count: x.count, guardAfter: guardAfter)
                let gdw = GuardedFloats(count: w.count, guardAfter: guardAfter)
                x.withUnsafePointer { gx.pointer.update(from: $0, count: x.count) }
                residual.withUnsafePointer { gr.pointer.update(from: $0, count: outCount) }
                for threads in [1, 2] {
                    let saved = Threading.numThreads
                    Threading.numThreads = threads
                    defer { Threading.numThreads = saved }
                    gy.pointer.update(repeating: .nan, count: outCount)
                    try w.withUnsafePointer { wp in
                        try b.withUnsafePointer { bp in
                            try Optimized.depthwiseConv2d(g, input: gx.pointer, weight: wp, flip: o.flipKernel, bias: bp,
                                                          residual: gr.pointer, relu: true, output: gy.pointer)
                        }
                    }
                    let got = Array(UnsafeBufferPointer(start: gy.pointer, count: outCount))
                    let ctx = "case \(i) \(c.x) kernel \(c.k) ×\(c.m) \(o), guard after \(guardAfter), \(threads) threads"
                    XCTAssertLessThanOrEqual(relError(got, want), Self.tolerance, ctx)
                    try w.withUnsafePointer { wp in
                        try Optimized.depthwiseConv2dBackward(g, input: gx.pointer, weight: wp, gradOutput: gr.pointer,
                                                              gradWeight: gdw.pointer, gradInput: gdx.pointer)
                    }
                    XCTAssertLessThanOrEqual(relError(Array(UnsafeBufferPointer(start: gdw.pointer, count: w.count)), grads.weight.scalars),
                                             Self.tolerance, "dW, " + ctx)
                    XCTAssertLessThanOrEqual(relError(Array(UnsafeBufferPointer(start: gdx.pointer, count: x.count)), grads.input?.scalars ?? []),
                                             Self.tolerance, "dX, " + ctx)
                }
            }
        }
    }

    /// Batch-norm folding of grouped weights [C, 1, KH, KW] in Model.prepareConv: the
    /// prepared depthwise conv equals conv, then batch norm (running statistics), then ReLU.
    /// Strides, dilations and padding far beyond any network's take the GEMM path instead of
    /// the phase planes, whose index arithmetic would overflow: no trap, the reference's values.
    func testHugeStepsFallBackToTheGEMM() throws {
        var rng = TestRNG(11)
        let x = try rng.tensor([1, 2, 4, 4]), w = try rng.tensor([2, 1, 2, 2])
        for o in [Conv2DOptions(stride: Size2D(Int.max / 2, Int.max / 2), groups: 2),
                  Conv2DOptions(stride: Size2D(Int.max / 2), padding: Padding2D(3), groups: 2),
                  Conv2DOptions(stride: Size2D(1 << 11), groups: 2),
                  Conv2DOptions(padding: Padding2D(top: 1 << 17, bottom: 0, left: 0, right: 0), groups: 2)] {
            let g = try Conv2DGeometry(input: x, weight: w, bias: nil, options: o)
            XCTAssertFalse(Optimized.depthwiseApplies(g), "\(o)")
            if g.outHeight * g.outWidth > 1 << 16 { continue }
            let y = try conv2d(x, weight: w, options: o)
            let r = try withReferenceKernels { try conv2d(x, weight: w, options: o) }
            XCTAssertLessThanOrEqual(maxDiff(y.scalars, r.scalars), 1e-5, "\(o)")
        }
    }

    func testBatchNormFoldingOfGroupedWeights() throws {
        var model = try Model(InferencePlanTests.miniArchitecture(), seed: 3)  // "bn1" has 8 channels
        var r = TestRNG(11)
        let gamma = try r.tensor([8], 0.5, 2), beta = try r.tensor([8]), mean = try r.tensor([8])
        let variance = try r.tensor([8], 0.2, 3)
        try model.setParameter("bn1.weight", gamma)
        try model.setParameter("bn1.bias", beta)
        try model.setParameter("bn1.running_mean", mean)
        try model.setParameter("bn1.running_var", variance)
        for (stride, ownBias) in [(1, false), (2, true)] {
            let o = Conv2DOptions(stride: Size2D(stride), padding: 1, groups: 8)
            let x = try r.tensor([2, 8, 20, 21]), w = try r.tensor([8, 1, 3, 3])
            let b = ownBias ? try r.tensor([8]) : nil
            let g = try Conv2DGeometry(input: x, weight: w, bias: b, options: o)
            let conv = try model.prepareConv(g, weight: w, bias: b, batchNorm: ("bn1", 1e-5))
            XCTAssertNotNil(conv.depthwise)
            XCTAssertEqual(conv.kernel(g), .depthwise)
            var out = try Tensor(zeros: [g.batch, 8, g.outHeight, g.outWidth])
            try x.withUnsafePointer { xp in
                try out.withUnsafeMutablePointerUnchecked { yp in
                    try conv.execute(g, input: xp, residual: nil, relu: true, output: yp, scratch: nil)
                }
            }
            let y = try withReferenceKernels { try conv2d(x, weight: w, bias: b, options: o) }.scalars
            let (gs, bs, ms, vs) = (gamma.scalars, beta.scalars, mean.scalars, variance.scalars)
            var want = [Float](repeating: 0, count: y.count)
            for i in y.indices {
                let ch = (i / g.outPlane) % 8
                let v = (Double(y[i]) - Double(ms[ch])) / (Double(vs[ch]) + 1e-5).squareRoot() * Double(gs[ch]) + Double(bs[ch])
                want[i] = Float(max(0, v))
            }
            XCTAssertLessThanOrEqual(relError(out.scalars, want), Self.tolerance, "stride \(stride), bias \(ownBias)")
        }
    }

    /// conv2dBackward on depthwise geometries (the depthwise backward kernel) against the
    /// reference, with and without the input gradient: weight, input and bias gradients;
    /// and bitwise the same for 1 and 3 threads.
    func testBackwardMatchesReference() throws {
        var r = TestRNG(5150)
        var worst: Float = 0
        for trial in 0..<200 {
            var (xs, ws, o) = randomCase(&r)
            if trial % 10 == 0 { ws[0] = xs[1] * r.int(4...16) }  // larger multipliers
            let x = try r.tensor(xs), w = try r.tensor(ws)
            let g = try Conv2DGeometry(input: x, weight: w, bias: nil, options: o)
            XCTAssertTrue(Optimized.depthwiseApplies(g))
            let dy = try r.tensor([g.batch, g.outChannels, g.outHeight, g.outWidth])
            let withInput = trial % 4 != 0
            let fast = try conv2dBackward(x, weight: w, gradOutput: dy, options: o, hasBias: true, computeInputGradient: withInput)
            let slow = try withReferenceKernels {
                try conv2dBackward(x, weight: w, gradOutput: dy, options: o, hasBias: true, computeInputGradient: withInput)
            }
            let ctx = "trial \(trial): input \(xs) weight \(ws) stride \(o.stride) padding \(o.padding) dilation \(o.dilation) flip \(o.flipKernel)"
            let e = [relError(fast.weight.scalars, slow.weight.scalars),
                     relError(fast.input?.scalars ?? [], slow.input?.scalars ?? []),
                     relError(fast.bias?.scalars ?? [], slow.bias?.scalars ?? [])]
            XCTAssertLessThanOrEqual(e[0], Self.tolerance, "dW, " + ctx)
            XCTAssertLessThanOrEqual(e[1], Self.tolerance, "dX, " + ctx)
            XCTAssertLessThanOrEqual(e[2], Self.tolerance, "db, " + ctx)
            XCTAssertEqual(fast.input == nil, !withInput)
            worst = max(worst, e.max() ?? 0)
            if trial % 25 == 0 {
                let saved = Threading.numThreads
                defer { Threading.numThreads = saved }
                for threads in [1, 3] {
                    Threading.numThreads = threads
                    let again = try conv2dBackward(x, weight: w, gradOutput: dy, options: o, hasBias: true, computeInputGradient: withInput)
                    XCTAssertEqual(again.weight.scalars, fast.weight.scalars, "dW, \(threads) threads, " + ctx)
                    XCTAssertEqual(again.input?.scalars, fast.input?.scalars, "dX, \(threads) threads, " + ctx)
                }
            }
        }
        print("depthwise backward sweep: worst relative error \(worst)")
    }

    // MARK: - Benchmark (not a test: runs only with SCNN_DW_BENCH=1, in a release build)

    /// MobileNet-v1 (224×224) depthwise layers, batch 1: the im2col + GEMM path the library
    /// took before (public conv2d: weights packed per call; the inference plan: prepacked,
    /// bias + ReLU fused) against the depthwise kernel, medians of SCNN_DW_RUNS (default 21)
    /// runs; and the backward pass against the forward.
    func testBenchmarkMobileNetDepthwise() throws {
        guard ProcessInfo.processInfo.environment["SCNN_DW_BENCH"] == "1" else { throw XCTSkip("set SCNN_DW_BENCH=1") }
        let runs = Int(ProcessInfo.processInfo.environment["SCNN_DW_RUNS"] ?? "") ?? 21
        let layers: [(c: Int, size: Int, stride: Int)] = [
            (32, 112, 1), (64, 112, 2), (128, 56, 1), (128, 56, 2), (256, 28, 1),
            (256, 28, 2), (512, 14, 1), (512, 14, 2), (1024, 7, 1),
        ]
        func now() -> Double {
            var t = timespec()
            clock_gettime(CLOCK_MONOTONIC, &t)
            return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
        }
        func median(_ body: () throws -> Void) rethrows -> Double {
            try body()
            var times: [Double] = []
            for _ in 0..<runs {
                let t0 = now()
                try body()
                times.append(now() - t0)
            }
            return times.sorted()[runs / 2]
        }
        let threads = Int(ProcessInfo.processInfo.environment["SCNN_DW_THREADS"] ?? "") ?? Threading.numThreads
        let saved = Threading.numThreads
        Threading.numThreads = threads
        defer { Threading.numThreads = saved }
        print("threads \(threads), median of \(runs) runs; ms (GFLOP/s)")
        print("layer               | conv2d before      | conv2d after       | plan before        | plan after         | speedup plan | bwd before  | bwd after   | bwd/fwd")
        var r = TestRNG(1)
        var totals = [Double](repeating: 0, count: 6)
        for l in layers {
            let o = Conv2DOptions(stride: Size2D(l.stride), padding: 1, groups: l.c)
            let x = try r.tensor([1, l.c, l.size, l.size]), w = try r.tensor([l.c, 1, 3, 3]), b = try r.tensor([l.c])
            let g = try Conv2DGeometry(input: x, weight: w, bias: b, options: o)
            let flops = 2.0 * Double(g.outChannels * g.outPlane * 9)
            var out = try Tensor(zeros: [1, l.c, g.outHeight, g.outWidth])
            let packed = try w.withUnsafePointer { try PackedConvWeights(g, weight: $0) }
            let conv = try w.withUnsafePointer {
                InferencePlan.Conv(packed: try PreparedConvWeights(g, weight: $0), bias: b, depthwise: try DepthwiseConvWeights(g, weight: $0))
            }
            let scratch = try ScratchBuffer(count: max(1, try conv.scratchCount(g)))
            let sp = UnsafeMutableBufferPointer(start: scratch.pointer, count: scratch.count)
            var t = [Double](repeating: 0, count: 6)
            try x.withUnsafePointer { xp in
                try w.withUnsafePointer { wp in
                    try b.withUnsafePointer { bp in
                        try out.withUnsafeMutablePointerUnchecked { yp in
                            t[0] = try median { try Optimized.conv2dIm2col(g, input: xp, weight: wp, bias: bp, output: yp) }
                            t[1] = try median {
                                try Optimized.depthwiseConv2d(g, input: xp, weight: wp, flip: false, bias: bp, residual: nil, relu: false, output: yp)
                            }
                            t[2] = try median {
                                try Optimized.conv2dPacked(g, input: xp, weights: packed, bias: bp, residual: nil, relu: true, output: yp)
                            }
                            t[3] = try median { try conv.execute(g, input: xp, residual: nil, relu: true, output: yp, scratch: sp) }
                        }
                    }
                }
            }
            let dy = try r.tensor([1, l.c, g.outHeight, g.outWidth])
            let gb = try Conv2DGeometry(input: x, weight: w, bias: nil, options: o)
            var dw = try Tensor(zeros: w.shape), dx = try Tensor(zeros: x.shape)
            try x.withUnsafePointer { xp in
                try w.withUnsafePointer { wp in
                    try dy.withUnsafePointer { gp in
                        try dw.withUnsafeMutablePointerUnchecked { dwp in
                            try dx.withUnsafeMutablePointerUnchecked { dxp in
                                t[4] = try median {
                                    try Optimized.conv2dBackward(gb, input: xp, weight: wp, gradOutput: gp, gradWeight: dwp, gradInput: dxp,
                                                                 allowDepthwise: false)
                                }
                                t[5] = try median {
                                    try Optimized.conv2dBackward(gb, input: xp, weight: wp, gradOutput: gp, gradWeight: dwp, gradInput: dxp)
                                }
                            }
                        }
                    }
                }
            }
            for i in 0..<6 { totals[i] += t[i] }
            func cell(_ s: Double) -> String {
                let ms = String(format: "%8.3f", s * 1e3), gf = String(format: "%6.1f", flops / s / 1e9)
                return "\(ms) (\(gf))"
            }
            let name = "\(l.c)×\(l.size)² s\(l.stride)".padding(toLength: 19, withPad: " ", startingAt: 0)
            print("\(name) | \(cell(t[0])) | \(cell(t[1])) | \(cell(t[2])) | \(cell(t[3])) | \(String(format: "%10.1f×", t[2] / t[3])) "
                  + "| \(String(format: "%8.3f ms", t[4] * 1e3)) | \(String(format: "%8.3f ms", t[5] * 1e3)) | \(String(format: "%5.1f", t[5] / t[1]))")
        }
        print("total ms: " + totals.map { String(format: "%.3f", $0 * 1e3) }.joined(separator: " / ")
              + "  (conv2d before / after / plan before / after / bwd before / after)")
    }
}
