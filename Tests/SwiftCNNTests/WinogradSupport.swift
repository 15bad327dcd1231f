import XCTest
@testable import SwiftCNN

// What WinogradTests (F(4×4, 3×3)) and WinogradF2Tests (F(2×2, 3×3)) share: running either
// kernel, the reference with the same epilogue, the tolerance, and the sweeps over tile
// edges, padding, channel counts and epilogues.
//
// Tolerance: max |winograd − reference| <= 1e-4·max|reference| + 1e-5 over each output.

/// The Winograd kernels under test.
enum WinogradVariant: CustomStringConvertible {
    case f4x4, f2x2
    var description: String { self == .f4x4 ? "F(4×4, 3×3)" : "F(2×2, 3×3)" }
}

/// Runs a Winograd kernel (weights transformed first) with the given epilogue; `scratch`
/// passes an arena-sized buffer instead of letting the kernel allocate.
func runWinograd(_ variant: WinogradVariant, _ x: Tensor, _ w: Tensor, bias: Tensor? = nil, padding: Padding2D,
                 flip: Bool = false, residual: Tensor? = nil, relu: Bool = false, scratch: Bool = false) throws -> Tensor {
    let g = try Conv2DGeometry(input: x, weight: w, bias: bias, options: Conv2DOptions(padding: padding, flipKernel: flip))
    XCTAssertTrue(WinogradConvWeights.supports(g))
    var out = try Tensor(uninitialized: imageShape(rank: x.rank, g.batch, g.outChannels, g.outHeight, g.outWidth))
    let count = variant == .f4x4 ? try Optimized.winogradScratchCount(g) : try Optimized.winogradF2ScratchCount(g)
    let buffer = scratch ? try ScratchBuffer(count: count) : nil
    let s = buffer.map { UnsafeMutableBufferPointer(start: $0.pointer, count: $0.count) }
    try x.withUnsafePointer { xp in
        try w.withUnsafePointer { wp in
            try withOptionalPointer(bias) { b in
                try withOptionalPointer(residual) { r in
                    try out.withUnsafeMutablePointerUnchecked { yp in
                        switch variant {
                        case .f4x4:
                            try Optimized.conv2dWinograd(g, input: xp, weights: try WinogradConvWeights(g, weight: wp), bias: b,
                                                         residual: r, relu: relu, output: yp, scratch: s)
                        case .f2x2:
                            try Optimized.conv2dWinogradF2(g, input: xp, weights: try WinogradF2Weights(g, weight: wp), bias: b,
                                                           residual: r, relu: relu, output: yp, scratch: s)
                        }
                    }
                }
            }
        }
    }
    withExtendedLifetime(buffer) {}
    return out
}

/// The reference kernel, then (+ residual) (ReLU) done here element by element.
func winogradReference(_ x: Tensor, _ w: Tensor, bias: Tensor? = nil, padding: Padding2D, flip: Bool = false,
                       residual: Tensor? = nil, relu: Bool = false) throws -> [Float] {
    let options = Conv2DOptions(padding: padding, flipKernel: flip)
    var y = try withReferenceKernels { try conv2d(x, weight: w, bias: bias, options: options) }.scalars
    if let r = residual?.scalars {
        for i in y.indices { y[i] += r[i] }
    }
    if relu {
        for i in y.indices where y[i] < 0 { y[i] = 0 }
    }
    return y
}

func assertWinogradTolerance(_ got: Tensor, _ want: [Float], _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) {
    let scale = want.map { abs($0) }.max() ?? 0
    XCTAssertEqual(got.count, want.count, what, file: file, line: line)
    XCTAssertLessThanOrEqual(maxDiff(got.scalars, want), 1e-4 * scale + 1e-5, what, file: file, line: line)
}

/// Output heights `sizes` and widths h and (5h mod max) + 1 (every remainder of the tile
/// size), padding 0, 1, 2, batch 1 and 3, flipped kernels; then uneven padding per side and
/// a rank-3 input. Returns the number of square-ish cases run.
func checkWinogradTileEdges(_ variant: WinogradVariant, sizes: ClosedRange<Int>, seed: UInt64) throws -> Int {
    var rng = TestRNG(seed)
    var cases = 0
    for h in sizes {
        for w in [h, (h * 5) % sizes.upperBound + 1] {
            for p in 0...2 where h + 2 * p >= 3 && w + 2 * p >= 3 {
                let batch = (h + p) % 2 == 0 ? 1 : 3
                let x = try rng.tensor([batch, 3, h, w])
                let wt = try rng.tensor([5, 3, 3, 3])
                let flip = (h + w) % 3 == 0
                let got = try runWinograd(variant, x, wt, padding: Padding2D(p), flip: flip)
                assertWinogradTolerance(got, try winogradReference(x, wt, padding: Padding2D(p), flip: flip),
                                        "\(variant) h \(h) w \(w) pad \(p) batch \(batch) flip \(flip)")
                cases += 1
            }
        }
    }
    for (pad, shape) in [(Padding2D(top: 0, bottom: 2, left: 1, right: 0), [2, 4, 9, 6]),
                         (Padding2D(top: 2, bottom: 1, left: 0, right: 2), [4, 7, 11])] {
        let x = try rng.tensor(shape)
        let wt = try rng.tensor([6, shape[shape.count - 3], 3, 3])
        assertWinogradTolerance(try runWinograd(variant, x, wt, padding: pad), try winogradReference(x, wt, padding: pad),
                                "\(variant) \(pad) \(shape)")
    }
    return cases
}

/// Each shape (padding: its index mod 3) with no bias, bias, bias + ReLU, and bias + residual
/// + ReLU fused; with `scratch`, the bias-only and residual cases run on an arena-sized buffer.
func checkWinogradEpilogues(_ variant: WinogradVariant, shapes: [(c: Int, o: Int, h: Int, w: Int, batch: Int)],
                            seed: UInt64, scratch: Bool = false) throws {
    var rng = TestRNG(seed)
    for (i, s) in shapes.enumerated() {
        let x = try rng.tensor([s.batch, s.c, s.h, s.w])
        let wt = try rng.tensor([s.o, s.c, 3, 3], -0.5, 0.5)
        let bias = try rng.tensor([s.o])
        let pad = Padding2D(i % 3)
        let oh = s.h + 2 * (i % 3) - 2, ow = s.w + 2 * (i % 3) - 2
        let res = try rng.tensor([s.batch, s.o, oh, ow])
        for mode in 0..<4 {
            let b = mode == 0 ? nil : bias
            let relu = mode >= 2
            let r = mode == 3 ? res : nil
            let got = try runWinograd(variant, x, wt, bias: b, padding: pad, residual: r, relu: relu,
                                      scratch: scratch && mode % 2 == 1)
            let want = try winogradReference(x, wt, bias: b, padding: pad, residual: r, relu: relu)
            assertWinogradTolerance(got, want, "\(variant) shape \(s) mode \(mode)")
            if relu { XCTAssertFalse(got.scalars.contains { $0 < 0 }, "\(variant): relu left a negative value") }
        }
    }
}

/// A residual block of 64-channel 3×3 convolutions on `size`×`size` maps at batch `batch`
/// (batch norm folded in, ReLU and the residual add + ReLU fused into the output pass): the
/// plan prepares `variant`'s weights for both convolutions, runs them with their scratch in
/// the planned arena under the profiler's kernel name, matches the reference forward, and a
/// second forward allocates only its result and gives the same values.
func checkInferencePlanUsesWinograd(_ variant: WinogradVariant, size: Int, batch: Int, seed: UInt64) throws {
    let conv = { (name: String) in NamedLayer(name, .conv2d(ConvSpec(64, 64, kernel: 3, padding: 1, bias: false))) }
    let root = Layer.sequential([
        conv("conv1"), NamedLayer("bn1", .batchNorm2d(channels: 64, eps: 1e-5)), NamedLayer("relu", .relu),
        NamedLayer("block", .residual(body: [conv("conv2"), NamedLayer("bn2", .batchNorm2d(channels: 64, eps: 1e-5))],
                                      shortcut: nil)),
        NamedLayer("pool", .adaptiveAvgPool2d(Size2D(1))), NamedLayer("flatten", .flatten),
    ])
    let arch = Architecture(name: "winograd-test", numClasses: 64, inputChannels: 64, inputSize: Size2D(size),
                            acceptsAnyInputSize: true, root: root)
    let model = try Model(arch, seed: seed)
    var rng = TestRNG(seed &+ 1)
    let x = try rng.tensor([batch, 64, size, size])
    let fast = try model.forward(x)
    let slow = try withReferenceKernels { try model.forward(x) }
    assertWinogradTolerance(fast, slow.scalars, "\(variant): planned forward")
    for key in ["conv1+bn1", "block.conv2+block.bn2"] {
        let prepared = try model.plan.conv(key) { throw SwiftCNNError(.internal, "\(key) not prepared") }
        switch (variant, prepared.packed) {
        case (.f4x4, .winograd), (.f2x2, .winogradF2): break
        default: XCTFail("\(key): expected \(variant) weights")
        }
    }
    let plan = try XCTUnwrap(model.plan.cachedForwardPlan(x.shape))
    var steps = 0
    for (i, step) in plan.steps.enumerated() {
        guard case .conv(let conv, let g, _, _, _, _, _, let scratch) = step else { continue }
        XCTAssertTrue(conv.kernel(g) == (variant == .f4x4 ? .winograd : .winogradF2))
        XCTAssertEqual(plan.kernelName(i), variant == .f4x4 ? "winograd" : "winograd2x2")
        let s = try XCTUnwrap(scratch, "a Winograd step without arena scratch")
        let count = variant == .f4x4 ? try Optimized.winogradScratchCount(g) : try Optimized.winogradF2ScratchCount(g)
        XCTAssertEqual(plan.shapes[s], [count])
        steps += 1
    }
    XCTAssertEqual(steps, 2)
    let buffers = Memory.allocations.load(ordering: .relaxed)
    let again = try model.forward(x)
    XCTAssertEqual(Memory.allocations.load(ordering: .relaxed) - buffers, 1, "a steady-state forward allocates only its result")
    XCTAssertEqual(again.scalars, fast.scalars)
}

/// `variant` on `shape` (N, C, H, W) → `outChannels`, padding 1, bias, residual and ReLU, at 1
/// and at 2 threads: bitwise equal, and within tolerance of the reference. Returns the
/// 2-thread result with its input, weights, bias and residual.
@discardableResult
func checkWinogradThreads(_ variant: WinogradVariant, _ shape: [Int], outChannels o: Int, seed: UInt64) throws
    -> (out: Tensor, x: Tensor, w: Tensor, bias: Tensor, residual: Tensor) {
    var rng = TestRNG(seed)
    let x = try rng.tensor(shape)
    let wt = try rng.tensor([o, shape[1], 3, 3])
    let bias = try rng.tensor([o])
    let res = try rng.tensor([shape[0], o, shape[2], shape[3]])
    let saved = Threading.numThreads
    defer { Threading.numThreads = saved }
    Threading.numThreads = 1
    let one = try runWinograd(variant, x, wt, bias: bias, padding: Padding2D(1), residual: res, relu: true)
    Threading.numThreads = 2
    let two = try runWinograd(variant, x, wt, bias: bias, padding: Padding2D(1), residual: res, relu: true)
    XCTAssertEqual(one.scalars.map(\.bitPattern), two.scalars.map(\.bitPattern), "\(variant): 1 and 2 threads")
    assertWinogradTolerance(two, try winogradReference(x, wt, bias: bias, padding: Padding2D(1), residual: res, relu: true),
                            "\(variant): threads")
    return (two, x, wt, bias, res)
}
