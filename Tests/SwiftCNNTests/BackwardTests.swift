import XCTest
@testable import SwiftCNN

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Backward twins of every op, checked against central finite differences of an independent
// float64 re-implementation of each forward (written here, from the formulas, not from the
// library's kernels).
//
// For an op f and a random upstream gradient g, the loss is L(θ) = Σ g · f(θ) in Double and
// the analytic gradient (the library's float32 backward, evaluated at the same float32
// values) is compared with (L(θ + h·e) − L(θ − h·e)) / 2h, h = 1e-5, for
// - every element when the tensor has at most 24, else 10 random elements, and
// - 2 random directions v ∈ [−1, 1]ⁿ: (L(θ + h·v) − L(θ − h·v)) / 2h against Σ ∂L·v.
// Tolerance: |analytic − numeric| <= tol · scale + 1e-7, scale = max |analytic| (for
// directions: Σ |∂L_i·v_i| + max |analytic|); tol = 2e-5, except LRN (5e-5) and batch
// norm's input and weight gradients (1e-4: dx is a difference of nearly cancelling sums).
// The central difference's own error here is ~1e-10 (smooth functions, h² terms; max pool
// inputs are distinct values 2/count apart, far more than h), so the bound measures the
// float32 backward. Each gradient check runs the optimized path and the reference path.
//
// Then: optimized vs reference backward (conv2d, linear, batch norm, LRN) over shape
// sweeps (tolerance 2e-5 · max |reference| + 1e-6; batch norm dx/dweight 1e-4), pooling's
// parallel path bitwise against the reference, and bitwise equality of 1 vs 2 threads.
// Every forward/backward pair here runs in about a second in a debug build.

// MARK: - Finite-difference machinery

/// Checks `analytic` (∂L/∂θ) against central differences of `loss` at `theta`.
func checkGradient(_ what: String, _ analytic: [Float], at theta: [Double], tol: Double = 2e-5,
                   rng: inout TestRNG, file: StaticString = #filePath, line: UInt = #line,
                   _ loss: ([Double]) -> Double) {
    XCTAssertEqual(analytic.count, theta.count, "\(what): gradient count", file: file, line: line)
    guard analytic.count == theta.count, !theta.isEmpty else { return }
    let h = 1e-5
    let scale = analytic.reduce(0.0) { max($0, abs(Double($1))) }
    var indices = Array(0..<theta.count)
    if theta.count > 24 {
        indices.shuffle(using: &rng)
        indices = Array(indices.prefix(10))
    }
    var t = theta
    for i in indices {
        t[i] = theta[i] + h
        let up = loss(t)
        t[i] = theta[i] - h
        let down = loss(t)
        t[i] = theta[i]
        let numeric = (up - down) / (2 * h)
        let err = abs(Double(analytic[i]) - numeric)
        if err > tol * scale + 1e-7 {
            XCTFail("\(what): element \(i) of \(theta.count): analytic \(analytic[i]), numeric \(numeric) (error \(err), scale \(scale))",
                    file: file, line: line)
            return
        }
    }
    for d in 0..<2 {
        let v = (0..<theta.count).map { _ in Double(rng.float(-1, 1)) }
        let plus = zip(theta, v).map { $0 + h * $1 }, minus = zip(theta, v).map { $0 - h * $1 }
        let numeric = (loss(plus) - loss(minus)) / (2 * h)
        let predicted = zip(analytic, v).reduce(0.0) { $0 + Double($1.0) * $1.1 }
        let mag = zip(analytic, v).reduce(0.0) { $0 + abs(Double($1.0) * $1.1) }
        let err = abs(predicted - numeric)
        if err > tol * (mag + scale) + 1e-7 {
            XCTFail("\(what): direction \(d): analytic \(predicted), numeric \(numeric) (error \(err), magnitude \(mag))",
                    file: file, line: line)
            return
        }
    }
}

/// Σ a·b in Double.
func dotD(_ a: [Double], _ b: [Double]) -> Double {
    zip(a, b).reduce(0.0) { $0 + $1.0 * $1.1 }
}

/// The elements of `t` as Doubles.
func doubles(_ t: Tensor) -> [Double] { t.scalars.map(Double.init) }

/// A tensor of the given Double values, rounded to Float (values the tests then treat as exact).
func tensorD(_ shape: [Int], _ v: [Double]) throws -> Tensor {
    try Tensor(shape: shape, scalars: v.map { Float($0) })
}

/// Runs `body` once on the optimized kernels and once on the reference kernels.
func forBothPaths(_ body: (String) throws -> Void) rethrows {
    try body("optimized")
    try withReferenceKernels { try body("reference") }
}

// MARK: - Float64 forwards (independent re-implementations)

/// conv2d in Double. x [N, C, H, W], w [O, C/groups, KH, KW]; returns [N, O, OH, OW] values.
func conv2dD(_ x: [Double], _ xs: [Int], _ w: [Double], _ ws: [Int], _ b: [Double]?, _ o: Conv2DOptions) -> [Double] {
    let (n, c, h, wd) = (xs[0], xs[1], xs[2], xs[3])
    let (oc, cg, kh, kw) = (ws[0], ws[1], ws[2], ws[3])
    let og = oc / o.groups
    let oh = (h + o.padding.top + o.padding.bottom - o.dilation.h * (kh - 1) - 1) / o.stride.h + 1
    let ow = (wd + o.padding.left + o.padding.right - o.dilation.w * (kw - 1) - 1) / o.stride.w + 1
    var out = [Double](repeating: 0, count: n * oc * oh * ow)
    for b0 in 0..<n {
        for oo in 0..<oc {
            let grp = oo / og
            for y in 0..<oh {
                for xx in 0..<ow {
                    var s = b?[oo] ?? 0
                    for ci in 0..<cg {
                        for k in 0..<kh {
                            for l in 0..<kw {
                                let iy = y * o.stride.h - o.padding.top + k * o.dilation.h
                                let ix = xx * o.stride.w - o.padding.left + l * o.dilation.w
                                if iy < 0 || iy >= h || ix < 0 || ix >= wd { continue }
                                let (kk, ll) = o.flipKernel ? (kh - 1 - k, kw - 1 - l) : (k, l)
                                s += w[((oo * cg + ci) * kh + kk) * kw + ll] * x[((b0 * c + grp * cg + ci) * h + iy) * wd + ix]
                            }
                        }
                    }
                    out[((b0 * oc + oo) * oh + y) * ow + xx] = s
                }
            }
        }
    }
    return out
}

/// torch's pooling output length.
func poolLength(_ n: Int, k: Int, s: Int, p: Int, ceil: Bool) -> Int {
    let num = n + 2 * p - k + (ceil ? s - 1 : 0)
    var o = Int((Double(num) / Double(s)).rounded(.down)) + 1
    if ceil && (o - 1) * s >= n + p { o -= 1 }
    return o
}

/// max / avg pooling in Double, torch semantics, over planes [P, H, W].
func pool2dD(_ x: [Double], planes: Int, h: Int, w: Int, _ o: Pool2DOptions, max isMax: Bool) -> [Double] {
    let oh = poolLength(h, k: o.kernel.h, s: o.stride.h, p: o.padding.h, ceil: o.ceilMode)
    let ow = poolLength(w, k: o.kernel.w, s: o.stride.w, p: o.padding.w, ceil: o.ceilMode)
    var out: [Double] = []
    for p in 0..<planes {
        for i in 0..<oh {
            for j in 0..<ow {
                var hs = i * o.stride.h - o.padding.h, ws = j * o.stride.w - o.padding.w
                var he = min(hs + o.kernel.h, h + o.padding.h), we = min(ws + o.kernel.w, w + o.padding.w)
                let poolSize = (he - hs) * (we - ws)
                hs = max(hs, 0); ws = max(ws, 0); he = min(he, h); we = min(we, w)
                var m = -Double.infinity, s = 0.0
                for y in hs..<max(hs, he) {
                    for xx in ws..<max(ws, we) {
                        let v = x[(p * h + y) * w + xx]
                        m = max(m, v)
                        s += v
                    }
                }
                if isMax {
                    out.append(m)
                } else {
                    let div = o.countIncludePad ? poolSize : (he - hs) * (we - ws)
                    out.append(he > hs && we > ws ? s / Double(div) : 0)
                }
            }
        }
    }
    return out
}

/// Adaptive average pooling in Double over planes [P, H, W].
func adaptivePoolD(_ x: [Double], planes: Int, h: Int, w: Int, oh: Int, ow: Int) -> [Double] {
    var out: [Double] = []
    for p in 0..<planes {
        for i in 0..<oh {
            let ys = Int((Double(i * h) / Double(oh)).rounded(.down)), ye = Int((Double((i + 1) * h) / Double(oh)).rounded(.up))
            for j in 0..<ow {
                let xs = Int((Double(j * w) / Double(ow)).rounded(.down)), xe = Int((Double((j + 1) * w) / Double(ow)).rounded(.up))
                var s = 0.0
                for y in ys..<ye { for xx in xs..<xe { s += x[(p * h + y) * w + xx] } }
                out.append(s / Double((ye - ys) * (xe - xs)))
            }
        }
    }
    return out
}

/// LRN across channels in Double, torch's formula; x [N, C, S].
func lrnD(_ x: [Double], n: Int, c: Int, s: Int, size: Int, alpha: Double, beta: Double, k: Double) -> [Double] {
    var out = x
    for b in 0..<n {
        for ch in 0..<c {
            for i in 0..<s {
                var sum = 0.0
                for j in (ch - size / 2)...(ch + (size - 1) / 2) where j >= 0 && j < c {
                    let v = x[(b * c + j) * s + i]
                    sum += v * v
                }
                out[(b * c + ch) * s + i] = x[(b * c + ch) * s + i] / pow(k + alpha / Double(size) * sum, beta)
            }
        }
    }
    return out
}

/// Training-mode batch norm in Double; x [N, C, S].
func batchNormD(_ x: [Double], n: Int, c: Int, s: Int, w: [Double]?, b: [Double]?, eps: Double)
    -> (out: [Double], mean: [Double], variance: [Double]) {
    var out = x, means: [Double] = [], vars: [Double] = []
    let m = Double(n * s)
    for ch in 0..<c {
        var sum = 0.0
        for bb in 0..<n { for i in 0..<s { sum += x[(bb * c + ch) * s + i] } }
        let mean = sum / m
        var sq = 0.0
        for bb in 0..<n { for i in 0..<s { let d = x[(bb * c + ch) * s + i] - mean; sq += d * d } }
        let v = sq / m
        for bb in 0..<n {
            for i in 0..<s {
                let j = (bb * c + ch) * s + i
                out[j] = (x[j] - mean) / (v + eps).squareRoot() * (w?[ch] ?? 1) + (b?[ch] ?? 0)
            }
        }
        means.append(mean); vars.append(v)
    }
    return (out, means, vars)
}

/// Softmax in Double along the middle axis of [outer, axis, inner].
func softmaxD(_ x: [Double], outer: Int, axis: Int, inner: Int) -> [Double] {
    var out = x
    for o in 0..<outer {
        for i in 0..<inner {
            let idx = (0..<axis).map { (o * axis + $0) * inner + i }
            let m = idx.map { x[$0] }.max() ?? 0
            let e = idx.map { exp(x[$0] - m) }
            let s = e.reduce(0, +)
            for (a, j) in idx.enumerated() { out[j] = e[a] / s }
        }
    }
    return out
}

// MARK: - Tests

final class BackwardTests: XCTestCase {

    // MARK: Convolution

    /// A random valid convolution geometry: (input shape, weight shape, options).
    static func randomConv(_ rng: inout TestRNG, maxSize: Int = 7, maxChannels: Int = 3) -> ([Int], [Int], Conv2DOptions) {
        while true {
            let groups = rng.int(1...3)
            let cg = rng.int(1...maxChannels), og = rng.int(1...maxChannels)
            let n = rng.int(1...2), h = rng.int(1...maxSize), w = rng.int(1...maxSize)
            let kh = rng.int(1...3), kw = rng.int(1...3)
            var o = Conv2DOptions()
            o.stride = Size2D(rng.int(1...3), rng.int(1...3))
            o.dilation = Size2D(rng.int(1...2), rng.int(1...2))
            o.padding = Padding2D(top: rng.int(0...2), bottom: rng.int(0...2), left: rng.int(0...2), right: rng.int(0...2))
            o.groups = groups
            o.flipKernel = rng.int(0...3) == 0
            let spanH = o.dilation.h * (kh - 1) + 1, spanW = o.dilation.w * (kw - 1) + 1
            if spanH > h + o.padding.top + o.padding.bottom || spanW > w + o.padding.left + o.padding.right { continue }
            return ([n, groups * cg, h, w], [groups * og, cg, kh, kw], o)
        }
    }

    func testConv2dBackwardAgainstFiniteDifferences() throws {
        var rng = TestRNG(0xC0_4B)
        for trial in 0..<24 {
            let (xs, ws, o) = Self.randomConv(&rng)
            let rank3 = xs[0] == 1 && rng.int(0...1) == 0
            let hasBias = rng.int(0...2) > 0
            let withInput = rng.int(0...4) > 0
            let x = try rng.tensor(rank3 ? Array(xs.dropFirst()) : xs)
            let w = try rng.tensor(ws)
            let b = try rng.tensor([ws[0]])
            let y = try conv2d(x, weight: w, bias: hasBias ? b : nil, options: o)
            let gy = try rng.tensor(y.shape)
            let (xd, wd, bd, gd) = (doubles(x), doubles(w), doubles(b), doubles(gy))
            let ctx = "trial \(trial): input \(xs) weight \(ws) stride \(o.stride) padding \(o.padding) dilation \(o.dilation) groups \(o.groups) flip \(o.flipKernel)"
            // The forward in Double agrees with the library's (a check of the test's own forward).
            assertClose(y.scalars, conv2dD(xd, xs, wd, ws, hasBias ? bd : nil, o), abs: 1e-5, rel: 1e-5, "\(ctx): forward")
            try forBothPaths { path in
                let grads = try conv2dBackward(x, weight: w, gradOutput: gy, options: o, hasBias: hasBias,
                                               computeInputGradient: withInput)
                XCTAssertEqual(grads.weight.shape, ws)
                checkGradient("\(ctx) \(path): weight", grads.weight.scalars, at: wd, rng: &rng) {
                    dotD(gd, conv2dD(xd, xs, $0, ws, hasBias ? bd : nil, o))
                }
                if withInput, let gx = grads.input {
                    XCTAssertEqual(gx.shape, x.shape)
                    checkGradient("\(ctx) \(path): input", gx.scalars, at: xd, rng: &rng) {
                        dotD(gd, conv2dD($0, xs, wd, ws, hasBias ? bd : nil, o))
                    }
                } else {
                    XCTAssertNil(grads.input, "\(ctx): input gradient not asked for")
                    XCTAssertFalse(withInput, "\(ctx): input gradient missing")
                }
                if hasBias, let gb = grads.bias {
                    checkGradient("\(ctx) \(path): bias", gb.scalars, at: bd, rng: &rng) {
                        dotD(gd, conv2dD(xd, xs, wd, ws, $0, o))
                    }
                } else {
                    XCTAssertNil(grads.bias, "\(ctx): bias gradient without bias")
                    XCTAssertFalse(hasBias, "\(ctx): bias gradient missing")
                }
            }
        }
    }

    func testConv2dBackwardOptimizedMatchesReference() throws {
        var rng = TestRNG(0x0C0_4EF)
        for trial in 0..<30 {
            let (xs, ws, o) = Self.randomConv(&rng, maxSize: 12, maxChannels: 6)
            let x = try rng.tensor(xs), w = try rng.tensor(ws)
            let outShape = try conv2d(x, weight: w, options: o).shape
            let gy = try rng.tensor(outShape)
            let fast = try conv2dBackward(x, weight: w, gradOutput: gy, options: o, hasBias: true)
            let ref = try withReferenceKernels { try conv2dBackward(x, weight: w, gradOutput: gy, options: o, hasBias: true) }
            let ctx = "trial \(trial): input \(xs) weight \(ws) \(o)"
            assertMatchesReference(fast.weight, ref.weight, "\(ctx): weight")
            if let a = fast.input, let r = ref.input { assertMatchesReference(a, r, "\(ctx): input") } else { XCTFail("\(ctx): input") }
            if let a = fast.bias, let r = ref.bias { assertMatchesReference(a, r, "\(ctx): bias") } else { XCTFail("\(ctx): bias") }
        }
    }

    /// Every way of taking the gradients (weight: dot products over im2col's rows or a GEMM
    /// over the patches as rows; images in chunks or one by one; input: as rows or as
    /// columns), forced by the thresholds, against the reference.
    func testConv2dBackwardBothWeightPathsMatchReference() throws {
        var rng = TestRNG(0xB07)
        // Fixed cases first: tiny feature maps with large patches (dX as rows, dYᵀ · W), flipped
        // and grouped; then random ones.
        let fixed: [([Int], [Int], Conv2DOptions)] = [
            ([3, 8, 1, 1], [6, 8, 3, 3], Conv2DOptions(padding: 1)),
            ([2, 6, 2, 3], [4, 3, 3, 3], Conv2DOptions(padding: 1, groups: 2, flipKernel: true)),
            ([1, 5, 3, 3], [7, 5, 3, 2], Conv2DOptions(stride: 2, padding: Padding2D(top: 0, bottom: 1, left: 1, right: 0), flipKernel: true)),
        ]
        for trial in 0..<(16 + fixed.count) {
            var (xs, ws, o) = trial < fixed.count ? fixed[trial] : Self.randomConv(&rng, maxSize: 9, maxChannels: 4)
            if trial >= fixed.count { xs[0] = rng.int(1...5) }
            let x = try rng.tensor(xs), w = try rng.tensor(ws)
            let g = try Conv2DGeometry(input: x, weight: w, bias: nil, options: o)
            let gy = try rng.tensor([g.batch, g.outChannels, g.outHeight, g.outWidth])
            let ref = try withReferenceKernels { try conv2dBackward(x, weight: w, gradOutput: gy, options: o, hasBias: false) }
            for (dotPlane, imagePlane) in [(1, Int.max), (Int.max, Int.max), (1, 1)] {
                var dw = try Tensor(zeros: ws), dx = try Tensor(zeros: xs)
                try x.withUnsafePointer { xp in
                    try w.withUnsafePointer { wp in
                        try gy.withUnsafePointer { gp in
                            try dw.withUnsafeMutablePointerUnchecked { dwp in
                                try dx.withUnsafeMutablePointerUnchecked { dxp in
                                    try Optimized.conv2dBackward(g, input: xp, weight: wp, gradOutput: gp, gradWeight: dwp,
                                                                 gradInput: dxp, dotPlane: dotPlane, imagePlane: imagePlane)
                                }
                            }
                        }
                    }
                }
                let ctx = "trial \(trial) dotPlane \(dotPlane) imagePlane \(imagePlane): input \(xs) weight \(ws) \(o)"
                assertMatchesReference(dw, ref.weight, "\(ctx): weight")
                if let r = ref.input { assertMatchesReference(dx, r, "\(ctx): input") }
            }
        }
        // gemmNT against a double loop at edge sizes (blocks of 4, k around multiples of 16 and the chunk).
        for (m, n, k) in [(1, 1, 1), (3, 5, 15), (4, 4, 16), (5, 9, 17), (7, 2, 33), (2, 3, 1030), (6, 25, 2100), (0, 3, 4), (2, 2, 0)] {
            let a = try rng.tensor([max(m, 1), max(k, 1)]).scalars, b = try rng.tensor([max(n, 1), max(k, 1)]).scalars
            var c = [Float](repeating: 0.5, count: max(m * n, 1))
            for accumulate in [false, true] {
                let before = c
                a.withUnsafeBufferPointer { ap in
                    b.withUnsafeBufferPointer { bp in
                        c.withUnsafeMutableBufferPointer { cp in
                            Optimized.gemmNT(m: m, n: n, k: k, a: ap.baseAddress!, lda: max(k, 1), b: bp.baseAddress!, ldb: max(k, 1),
                                             c: cp.baseAddress!, ldc: max(n, 1), accumulate: accumulate)
                        }
                    }
                }
                for i in 0..<m {
                    for j in 0..<n {
                        var want = accumulate ? Double(before[i * n + j]) : 0
                        for p in 0..<k { want += Double(a[i * k + p]) * Double(b[j * k + p]) }
                        XCTAssertEqual(Double(c[i * n + j]), want, accuracy: 1e-5 * Double(k + 1), "gemmNT \(m)×\(n)×\(k) acc \(accumulate) at \(i),\(j)")
                    }
                }
            }
        }
    }

    /// Shapes large enough that the backward's gathers and transposes (dY of a chunk, dYᵀ,
    /// Wᵀ, one image's patches into the chunk) spread over threads (>= 2^15 floats each):
    /// against the reference, and bitwise the same at 1 and 2 threads.
    func testConv2dBackwardParallelCopiesMatchReferenceAndThreadCounts() throws {
        var rng = TestRNG(0xC0_B1E5)
        let old = Threading.numThreads
        defer { Threading.numThreads = old }
        let cases: [([Int], [Int], Conv2DOptions)] = [
            // 8×8 maps in chunks: dY gathered, patches copied into the chunk, dX as columns (Wᵀ).
            ([8, 64, 8, 8], [64, 64, 3, 3], Conv2DOptions(padding: 1)),
            ([8, 64, 8, 8], [64, 64, 3, 3], Conv2DOptions(padding: 1, flipKernel: true)),
            ([8, 128, 8, 8], [128, 64, 3, 3], Conv2DOptions(padding: 1, groups: 2)),
            // 4×4 maps: fewer pixels per chunk than patch entries, dX as rows (dYᵀ).
            ([16, 64, 4, 4], [128, 64, 3, 3], Conv2DOptions(padding: 1)),
            ([16, 64, 4, 4], [128, 64, 3, 3], Conv2DOptions(stride: 2, padding: 1, flipKernel: true)),
        ]
        for (xs, ws, o) in cases {
            let x = try rng.tensor(xs), w = try rng.tensor(ws)
            let outShape = try conv2d(x, weight: w, options: o).shape
            let gy = try rng.tensor(outShape)
            let ref = try withReferenceKernels { try conv2dBackward(x, weight: w, gradOutput: gy, options: o, hasBias: false) }
            var results: [(Tensor, Tensor)] = []
            for threads in [1, 2] {
                Threading.numThreads = threads
                let r = try conv2dBackward(x, weight: w, gradOutput: gy, options: o, hasBias: false)
                guard let dx = r.input else { XCTFail("no input gradient"); return }
                results.append((r.weight, dx))
            }
            let ctx = "input \(xs) weight \(ws) \(o)"
            assertMatchesReference(results[0].0, ref.weight, "\(ctx): weight")
            if let r = ref.input { assertMatchesReference(results[0].1, r, "\(ctx): input") }
            XCTAssertEqual(results[0].0.scalars, results[1].0.scalars, "\(ctx): weight gradient, 1 vs 2 threads")
            XCTAssertEqual(results[0].1.scalars, results[1].1.scalars, "\(ctx): input gradient, 1 vs 2 threads")
        }
    }

    /// ``Conv2DGeometry/liveWindow``: the kernel cut to the taps that read the input.
    /// Fixed cases (ResNet's last stage at 32×32 inputs: a 3×3 layer on a 1×1 map and the
    /// stride-2 layer into it; a flipped kernel; dilation that would need negative padding;
    /// a kernel with every tap live), then random small maps with large padding: the window
    /// checked tap by tap against the definition (a tap outside it reads padding at every
    /// output position, its first and last rows and columns read the input somewhere), and the
    /// optimized forward (the cut convolution) and backward against the reference kernels,
    /// with the weight gradient exactly 0 outside the window.
    func testLiveWindowCutsDeadTapsAndMatchesReference() throws {
        func geometry(_ xs: [Int], _ ws: [Int], _ o: Conv2DOptions) throws -> Conv2DGeometry {
            try Conv2DGeometry(input: try Tensor(zeros: xs), weight: try Tensor(zeros: ws), bias: nil, options: o)
        }
        // 3×3, padding 1, on 1×1: the centre tap alone, a 1×1 convolution without padding.
        let centre = try geometry([4, 8, 1, 1], [5, 8, 3, 3], Conv2DOptions(padding: 1))
        guard let (cut, rows, cols) = centre.liveWindow else { return XCTFail("1×1 map: no window") }
        XCTAssertEqual([rows, cols], [1...1, 1...1])
        XCTAssertEqual([cut.kernelHeight, cut.kernelWidth, cut.outHeight, cut.outWidth], [1, 1, 1, 1])
        XCTAssertEqual(cut.padding, Padding2D(0))
        // Stride 2, padding 1, on 2×2 (one output): taps 1–2 in each direction.
        let strided = try geometry([2, 4, 2, 2], [6, 4, 3, 3], Conv2DOptions(stride: 2, padding: 1))
        XCTAssertEqual(strided.liveWindow.map { [$0.rows, $0.columns] }, [1...2, 1...2])
        XCTAssertEqual(strided.liveWindow?.geometry.padding, Padding2D(top: 0, bottom: 1, left: 0, right: 1))
        // Flipped: the same taps, named by the weight's own (mirrored) indices.
        let flipped = try geometry([2, 4, 2, 2], [6, 4, 3, 3], Conv2DOptions(stride: 2, padding: 1, flipKernel: true))
        XCTAssertEqual(flipped.liveWindow.map { [$0.rows, $0.columns] }, [0...1, 0...1])
        // Every tap live somewhere (3×3, padding 1, on 2×2 and on 8×8): nothing to cut.
        XCTAssertNil(try geometry([1, 2, 2, 2], [2, 2, 3, 3], Conv2DOptions(padding: 1)).liveWindow)
        XCTAssertNil(try geometry([1, 2, 8, 8], [2, 2, 3, 3], Conv2DOptions(padding: 1)).liveWindow)
        // Dilation 3, padding 2, on 1×1: only the middle tap reads the input, but cutting to it
        // would need padding 2 − 3 < 0, so the kernel stays whole.
        XCTAssertNil(try geometry([1, 2, 1, 1], [2, 2, 3, 1], Conv2DOptions(padding: Padding2D(top: 2, bottom: 4, left: 0, right: 0),
                                                                           dilation: Size2D(3, 1))).liveWindow)

        var rng = TestRNG(0x11FE)
        var cutCases = 0
        for trial in 0..<60 {
            let groups = rng.int(1...2), cg = rng.int(1...4), og = rng.int(1...4)
            let kh = rng.int(1...5), kw = rng.int(1...5)
            var o = Conv2DOptions(stride: Size2D(rng.int(1...3), rng.int(1...3)),
                                  padding: Padding2D(top: rng.int(0...4), bottom: rng.int(0...4), left: rng.int(0...4), right: rng.int(0...4)),
                                  dilation: Size2D(rng.int(1...2), rng.int(1...2)), groups: groups)
            o.flipKernel = rng.int(0...4) == 0
            let h = rng.int(1...4), w = rng.int(1...4)
            let xs = [rng.int(1...3), groups * cg, h, w], ws = [groups * og, cg, kh, kw]
            guard o.dilation.h * (kh - 1) + 1 <= h + o.padding.top + o.padding.bottom,
                  o.dilation.w * (kw - 1) + 1 <= w + o.padding.left + o.padding.right else { continue }
            let g = try geometry(xs, ws, o)
            let ctx = "trial \(trial): input \(xs) weight \(ws) \(o)"
            // The definition, tap by tap (in the kernel's own positions, before any flip).
            func live(_ k: Int, _ n: Int, _ p: Int, _ s: Int, _ d: Int, _ out: Int) -> Bool {
                (0..<out).contains { let i = $0 * s - p + k * d; return i >= 0 && i < n }
            }
            let liveRows = (0..<kh).filter { live($0, h, o.padding.top, o.stride.h, o.dilation.h, g.outHeight) }
            let liveCols = (0..<kw).filter { live($0, w, o.padding.left, o.stride.w, o.dilation.w, g.outWidth) }
            let window = g.liveWindow
            if let (cut, rows, cols) = window {
                cutCases += 1
                let (r, c) = o.flipKernel ? ((kh - 1 - rows.upperBound)...(kh - 1 - rows.lowerBound),
                                             (kw - 1 - cols.upperBound)...(kw - 1 - cols.lowerBound)) : (rows, cols)
                XCTAssertEqual(r.lowerBound, liveRows.first, ctx)
                XCTAssertEqual(r.upperBound, liveRows.last, ctx)
                XCTAssertEqual(c.lowerBound, liveCols.first, ctx)
                XCTAssertEqual(c.upperBound, liveCols.last, ctx)
                XCTAssertTrue(r.count < kh || c.count < kw, ctx)
                XCTAssertEqual([cut.outHeight, cut.outWidth, cut.kernelHeight, cut.kernelWidth],
                               [g.outHeight, g.outWidth, r.count, c.count], ctx)
            } else if !liveRows.isEmpty && !liveCols.isEmpty && (liveRows.count < kh || liveCols.count < kw) {
                // Left whole only when the cut would need negative padding.
                let top = o.padding.top - liveRows[0] * o.dilation.h, left = o.padding.left - liveCols[0] * o.dilation.w
                let bottom = o.padding.bottom - (kh - 1 - liveRows.last!) * o.dilation.h
                let right = o.padding.right - (kw - 1 - liveCols.last!) * o.dilation.w
                XCTAssertTrue(min(top, bottom, left, right) < 0, "\(ctx): dead taps left in")
            }
            // Forward and backward through the cut against the reference.
            let x = try rng.tensor(xs), wt = try rng.tensor(ws), b = try rng.tensor([ws[0]])
            let fast = try conv2d(x, weight: wt, bias: b, options: o)
            let slow = try withReferenceKernels { try conv2d(x, weight: wt, bias: b, options: o) }
            assertMatchesReference(fast, slow, "\(ctx): forward")
            let gy = try rng.tensor(fast.shape)
            let grads = try conv2dBackward(x, weight: wt, gradOutput: gy, options: o, hasBias: true)
            let ref = try withReferenceKernels { try conv2dBackward(x, weight: wt, gradOutput: gy, options: o, hasBias: true) }
            assertMatchesReference(grads.weight, ref.weight, "\(ctx): weight")
            if let a = grads.input, let r = ref.input { assertMatchesReference(a, r, "\(ctx): input") } else { XCTFail(ctx) }
            if let (_, rows, cols) = window {
                let dw = grads.weight.scalars
                for i in 0..<dw.count where !(rows.contains(i / kw % kh) && cols.contains(i % kw)) {
                    XCTAssertEqual(dw[i], 0, "\(ctx): weight gradient outside the window at \(i)")
                }
            }
        }
        XCTAssertGreaterThan(cutCases, 15)
    }

    /// |fast − reference| <= 2e-5 · max |reference| + 1e-6, element by element.
    func assertMatchesReference(_ fast: Tensor, _ ref: Tensor, _ what: String, tol: Float = 2e-5,
                                file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(fast.shape, ref.shape, "\(what): shape", file: file, line: line)
        let scale = ref.scalars.reduce(Float(0)) { max($0, abs($1)) }
        let d = maxDiff(fast.scalars, ref.scalars)
        XCTAssertLessThanOrEqual(d, tol * scale + 1e-6, "\(what): max difference \(d), scale \(scale)", file: file, line: line)
    }

    func testConv2dBackwardErrors() throws {
        let x = try Tensor(zeros: [1, 2, 5, 5]), w = try Tensor(zeros: [3, 2, 3, 3])
        assertThrows(.shapeMismatch, "conv2dBackward", "gradOutput", "[1, 3, 3, 3]") {
            try conv2dBackward(x, weight: w, gradOutput: try Tensor(zeros: [1, 3, 4, 4]), hasBias: false)
        }
        assertThrows(.shapeMismatch, "conv2dBackward") {
            try conv2dBackward(x, weight: try Tensor(zeros: [3, 1, 3, 3]), gradOutput: try Tensor(zeros: [1, 3, 3, 3]), hasBias: false)
        }
        assertThrows(.invalidArgument, "conv2dBackward", "stride") {
            try conv2dBackward(x, weight: w, gradOutput: try Tensor(zeros: [1, 3, 3, 3]), options: Conv2DOptions(stride: 0), hasBias: false)
        }
    }

    // MARK: Linear

    func testLinearBackwardAgainstFiniteDifferences() throws {
        var rng = TestRNG(0x11_4EA4)
        for trial in 0..<16 {
            let n = rng.int(1...4), fin = rng.int(1...20), fout = rng.int(1...20)
            let rank1 = rng.int(0...3) == 0
            let hasBias = rng.int(0...1) == 1
            let x = try rng.tensor(rank1 ? [fin] : [n, fin]), w = try rng.tensor([fout, fin]), b = try rng.tensor([fout])
            let batch = rank1 ? 1 : n
            let gy = try rng.tensor(rank1 ? [fout] : [n, fout])
            let (xd, wd, bd, gd) = (doubles(x), doubles(w), doubles(b), doubles(gy))
            func f(_ x: [Double], _ w: [Double], _ b: [Double]) -> Double {
                var s = 0.0
                for r in 0..<batch {
                    for o in 0..<fout {
                        var v = hasBias ? b[o] : 0
                        for i in 0..<fin { v += x[r * fin + i] * w[o * fin + i] }
                        s += gd[r * fout + o] * v
                    }
                }
                return s
            }
            try forBothPaths { path in
                let g = try linearBackward(x, weight: w, gradOutput: gy, hasBias: hasBias)
                let ctx = "trial \(trial) \(path): x \(x.shape) w \(w.shape)"
                XCTAssertEqual(g.input.shape, x.shape)
                checkGradient("\(ctx): input", g.input.scalars, at: xd, rng: &rng) { f($0, wd, bd) }
                checkGradient("\(ctx): weight", g.weight.scalars, at: wd, rng: &rng) { f(xd, $0, bd) }
                if hasBias, let gb = g.bias {
                    checkGradient("\(ctx): bias", gb.scalars, at: bd, rng: &rng) { f(xd, wd, $0) }
                } else {
                    XCTAssertFalse(hasBias, "\(ctx): bias gradient missing")
                    XCTAssertNil(g.bias)
                }
            }
        }
    }

    func testLinearBackwardOptimizedMatchesReference() throws {
        var rng = TestRNG(0x11_4EA5)
        for trial in 0..<20 {
            let n = rng.int(1...40), fin = rng.int(1...150), fout = rng.int(1...70)
            let x = try rng.tensor([n, fin]), w = try rng.tensor([fout, fin]), gy = try rng.tensor([n, fout])
            let fast = try linearBackward(x, weight: w, gradOutput: gy, hasBias: true)
            let ref = try withReferenceKernels { try linearBackward(x, weight: w, gradOutput: gy, hasBias: true) }
            let ctx = "trial \(trial): [\(n), \(fin)] → \(fout)"
            assertMatchesReference(fast.input, ref.input, "\(ctx): input")
            assertMatchesReference(fast.weight, ref.weight, "\(ctx): weight")
            if let a = fast.bias, let r = ref.bias { assertMatchesReference(a, r, "\(ctx): bias") } else { XCTFail("\(ctx): bias") }
        }
        assertThrows(.shapeMismatch, "linearBackward", "gradOutput") {
            try linearBackward(try Tensor(zeros: [2, 3]), weight: try Tensor(zeros: [4, 3]), gradOutput: try Tensor(zeros: [2, 3]), hasBias: true)
        }
        assertThrows(.shapeMismatch, "linearBackward") {
            try linearBackward(try Tensor(zeros: [2, 3]), weight: try Tensor(zeros: [4, 5]), gradOutput: try Tensor(zeros: [2, 4]), hasBias: true)
        }
    }

    // MARK: Activations, softmax, dropout, concat, flatten

    func testActivationBackwards() throws {
        var rng = TestRNG(0xAC7)
        for trial in 0..<8 {
            let shape = rng.shape(rank: rng.int(1...4), maxDim: 6)
            // Keep ReLU's inputs away from the kink at 0.
            var v = try rng.tensor(shape, -3, 3).scalars
            for i in v.indices where abs(v[i]) < 1e-2 { v[i] = 0.5 }
            let x = try Tensor(shape: shape, scalars: v)
            let gy = try rng.tensor(shape)
            let (xd, gd) = (doubles(x), doubles(gy))
            let cases: [(String, (Tensor) throws -> Tensor, (Tensor, Tensor) throws -> Tensor, (Double) -> Double)] = [
                ("relu", relu, reluBackward, { max($0, 0) }),
                ("tanh", tanh, tanhBackward, { tanhD($0) }),
                ("sigmoid", sigmoid, sigmoidBackward, { 1 / (1 + exp(-$0)) }),
                ("scaledTanh", LeNetOps.scaledTanh, LeNetOps.scaledTanhBackward, { 1.7159 * tanhD(2 * $0 / 3) }),
            ]
            for (name, forward, backward, fD) in cases {
                let y = try forward(x)
                try forBothPaths { path in
                    let dx = try backward(y, gy)
                    XCTAssertEqual(dx.shape, shape)
                    // y is float32, so the backward's formula from y carries ~1e-7 relative error.
                    checkGradient("trial \(trial) \(path): \(name) \(shape)", dx.scalars, at: xd, rng: &rng) {
                        dotD(gd, $0.map(fD))
                    }
                }
                assertThrows(.shapeMismatch, "Backward", "gradOutput") { try backward(y, try Tensor(zeros: [shape.reduce(1, *) + 1])) }
            }
        }
        // ReLU: exactly g where y > 0, exactly 0 elsewhere (including y == 0), SIMD body and tail.
        let y = try Tensor(shape: [37], scalars: (0..<37).map { Float($0 % 3) - 1 })
        let g = try Tensor(shape: [37], scalars: (0..<37).map { Float($0) + 0.5 })
        XCTAssertEqual(try reluBackward(output: y, gradOutput: g).scalars, (0..<37).map { $0 % 3 == 2 ? Float($0) + 0.5 : 0 })
    }

    func testSoftmaxBackward() throws {
        var rng = TestRNG(0x50F7)
        for trial in 0..<10 {
            let shape = rng.shape(rank: rng.int(1...4), maxDim: 5)
            let axis = rng.int(-shape.count...(shape.count - 1))
            let a = axis < 0 ? axis + shape.count : axis
            let outer = shape[..<a].reduce(1, *), size = shape[a], inner = shape[(a + 1)...].reduce(1, *)
            let x = try rng.tensor(shape, -3, 3), gy = try rng.tensor(shape)
            let y = try softmax(x, axis: axis)
            let (xd, gd) = (doubles(x), doubles(gy))
            let dx = try softmaxBackward(output: y, gradOutput: gy, axis: axis)
            checkGradient("trial \(trial): softmax \(shape) axis \(axis)", dx.scalars, at: xd, rng: &rng) {
                dotD(gd, softmaxD($0, outer: outer, axis: size, inner: inner))
            }
        }
        assertThrows(.invalidArgument, "softmaxBackward", "axis") {
            try softmaxBackward(output: try Tensor(zeros: [2, 3]), gradOutput: try Tensor(zeros: [2, 3]), axis: 2)
        }
        assertThrows(.shapeMismatch, "softmaxBackward") {
            try softmaxBackward(output: try Tensor(zeros: [2, 3]), gradOutput: try Tensor(zeros: [3, 2]))
        }
    }

    func testDropoutTrainingAndBackward() throws {
        var rng = TestRNG(0xD40)
        let x = try rng.tensor([4, 3, 10, 10])
        for p: Float in [0, 0.1, 0.5, 0.9] {
            let (y, mask) = try dropoutTraining(x, p: p, seed: 42)
            let scale: Float = 1 / (1 - p)
            let m = mask.scalars, xs = x.scalars
            // The mask is exactly the documented function of (seed, index).
            for i in 0..<m.count {
                let u = Float(SeededInit.bits(name: "dropout", seed: 42, index: i) >> 40) * 0x1p-24
                XCTAssertEqual(m[i], u < p ? 0 : scale, "p \(p): mask element \(i)")
                XCTAssertEqual(y.scalars[i], xs[i] * m[i], "p \(p): output element \(i)")
            }
            // The dropped fraction is near p (1,200 elements: 5 standard deviations at most ~0.072).
            let dropped = Double(m.filter { $0 == 0 }.count) / Double(m.count)
            XCTAssertEqual(dropped, Double(p), accuracy: 0.075, "p \(p): dropped fraction")
            // Same seed, same mask; another seed, another mask.
            XCTAssertEqual(try dropoutTraining(x, p: p, seed: 42).mask.scalars, m)
            if p > 0 { XCTAssertNotEqual(try dropoutTraining(x, p: p, seed: 43).mask.scalars, m) }
            // Backward: the mask times the gradient; a linear map, so its FD check is exact.
            let gy = try rng.tensor(x.shape)
            let dx = try dropoutBackward(mask: mask, gradOutput: gy)
            XCTAssertEqual(dx.scalars, zip(gy.scalars, m).map { $0 * $1 })
        }
        assertThrows(.invalidArgument, "dropoutTraining", "[0, 1)") { try dropoutTraining(x, p: 1, seed: 0) }
        assertThrows(.invalidArgument, "dropoutTraining") { try dropoutTraining(x, p: .nan, seed: 0) }
        assertThrows(.shapeMismatch, "dropoutBackward") { try dropoutBackward(mask: x, gradOutput: try Tensor(zeros: [4])) }
    }

    func testConcatAndFlattenBackward() throws {
        var rng = TestRNG(0xCA7)
        for trial in 0..<10 {
            let rank = rng.int(1...4)
            let base = rng.shape(rank: rank, maxDim: 4)
            let axis = rng.int(0...(rank - 1))
            let parts = try (0..<rng.int(1...4)).map { _ -> Tensor in
                var s = base
                s[axis] = rng.int(1...3)
                return try rng.tensor(s)
            }
            let y = try concat(parts, axis: axis - (rng.int(0...1) == 0 ? 0 : rank))
            let grads = try concatBackward(gradOutput: y, sizes: parts.map { $0.shape[axis] }, axis: axis)
            XCTAssertEqual(grads.count, parts.count, "trial \(trial)")
            for (g, p) in zip(grads, parts) {
                XCTAssertEqual(g.shape, p.shape, "trial \(trial)")
                XCTAssertEqual(g.scalars, p.scalars, "trial \(trial): concat's backward slices its gradient back")
            }
        }
        let g = try Tensor(zeros: [2, 5, 3])
        assertThrows(.shapeMismatch, "concatBackward", "add up to 4", "5") { try concatBackward(gradOutput: g, sizes: [1, 3]) }
        assertThrows(.invalidArgument, "concatBackward") { try concatBackward(gradOutput: g, sizes: []) }
        assertThrows(.invalidArgument, "concatBackward") { try concatBackward(gradOutput: g, sizes: [6, -1]) }
        assertThrows(.invalidArgument, "concatBackward", "axis") { try concatBackward(gradOutput: g, sizes: [5], axis: 3) }

        let x = try rng.tensor([2, 3, 4, 5])
        let f = try flatten(x)
        let back = try flattenBackward(gradOutput: f, inputShape: x.shape)
        XCTAssertEqual(back.shape, x.shape)
        XCTAssertEqual(back.scalars, x.scalars)
        assertThrows(.shapeMismatch, "flattenBackward", "120") { try flattenBackward(gradOutput: f, inputShape: [2, 3, 4, 4]) }
        assertThrows(.invalidArgument) { try flattenBackward(gradOutput: f, inputShape: [2, -60, -1]) }
    }

    // MARK: Pooling

    func testPoolingBackwardAgainstFiniteDifferences() throws {
        var rng = TestRNG(0x9001)
        var tested = 0
        while tested < 30 {
            let k = Size2D(rng.int(1...3), rng.int(1...3))
            let o = Pool2DOptions(kernel: k, stride: Size2D(rng.int(1...3), rng.int(1...3)),
                                  padding: Size2D(rng.int(0...(k.h / 2)), rng.int(0...(k.w / 2))),
                                  ceilMode: rng.int(0...1) == 1, countIncludePad: rng.int(0...1) == 1)
            let n = rng.int(1...2), c = rng.int(1...2), h = rng.int(1...7), w = rng.int(1...7)
            let rank3 = rng.int(0...2) == 0
            let shape = rank3 ? [c, h, w] : [n, c, h, w]
            let planes = rank3 ? c : n * c
            // Distinct values 2/count apart, so that no max is tied within the FD step.
            var values = (0..<(planes * h * w)).map { -1 + 2 * Double($0) / Double(planes * h * w) }
            values.shuffle(using: &rng)
            let x = try tensorD(shape, values)
            guard let y = try? maxPool2d(x, o) else { continue }   // an empty output: not a case
            tested += 1
            let gy = try rng.tensor(y.shape)
            let (xd, gd) = (doubles(x), doubles(gy))
            let ctx = "input \(shape) kernel \(o.kernel) stride \(o.stride) padding \(o.padding) ceil \(o.ceilMode) countPad \(o.countIncludePad)"
            XCTAssertEqual(y.scalars.map(Double.init), pool2dD(xd, planes: planes, h: h, w: w, o, max: true), "\(ctx): max forward")
            let ya = try avgPool2d(x, o)
            assertClose(ya.scalars, pool2dD(xd, planes: planes, h: h, w: w, o, max: false), "\(ctx): avg forward")
            try forBothPaths { path in
                let dmax = try maxPool2dBackward(x, gradOutput: gy, o)
                checkGradient("\(ctx) \(path): max", dmax.scalars, at: xd, rng: &rng) {
                    dotD(gd, pool2dD($0, planes: planes, h: h, w: w, o, max: true))
                }
                let davg = try avgPool2dBackward(inputShape: shape, gradOutput: gy, o)
                checkGradient("\(ctx) \(path): avg", davg.scalars, at: xd, rng: &rng) {
                    dotD(gd, pool2dD($0, planes: planes, h: h, w: w, o, max: false))
                }
            }
        }
        // Adaptive average pooling, output sizes smaller and larger than the input.
        for trial in 0..<12 {
            let h = rng.int(1...7), w = rng.int(1...7), oh = rng.int(1...5), ow = rng.int(1...5)
            let n = rng.int(1...2), c = rng.int(1...2)
            let x = try rng.tensor([n, c, h, w])
            let y = try adaptiveAvgPool2d(x, outputSize: Size2D(oh, ow))
            let gy = try rng.tensor(y.shape)
            let gd = doubles(gy)
            try forBothPaths { path in
                let dx = try adaptiveAvgPool2dBackward(inputShape: x.shape, gradOutput: gy)
                checkGradient("trial \(trial) \(path): adaptive \(x.shape) → \(oh)×\(ow)", dx.scalars, at: doubles(x), rng: &rng) {
                    dotD(gd, adaptivePoolD($0, planes: n * c, h: h, w: w, oh: oh, ow: ow))
                }
            }
        }
    }

    /// The optimized max pooling backward (selects instead of branches) against the reference,
    /// bit for bit, over random geometries and inputs full of ties (values from a small set),
    /// NaNs and −∞ (windows of −∞ only; NaN windows), at 1 and 2 threads.
    func testMaxPoolBackwardOptimizedMatchesReferenceSweep() throws {
        var rng = TestRNG(77)
        let old = Threading.numThreads
        defer { Threading.numThreads = old }
        let specials: [Float] = [.nan, -.infinity, .infinity, -0.0, 0]
        var tested = 0
        while tested < 60 {
            let k = Size2D(rng.int(1...4), rng.int(1...4))
            let o = Pool2DOptions(kernel: k, stride: Size2D(rng.int(1...3), rng.int(1...3)),
                                  padding: Size2D(rng.int(0...(k.h / 2)), rng.int(0...(k.w / 2))),
                                  ceilMode: rng.int(0...1) == 1)
            let shape = [rng.int(1...2), rng.int(1...3), rng.int(1...13), rng.int(1...13)]
            let count = shape.reduce(1, *)
            let values: [Float] = (0..<count).map { _ in
                rng.int(0...9) == 0 ? specials[rng.int(0...(specials.count - 1))] : Float(rng.int(-3...3))
            }
            let x = try Tensor(shape: shape, scalars: values)
            guard let y = try? maxPool2d(x, o) else { continue }
            tested += 1
            let gy = try rng.tensor(y.shape)
            let reference = try withReferenceKernels { try maxPool2dBackward(x, gradOutput: gy, o) }
            for threads in [1, 2] {
                Threading.numThreads = threads
                let optimized = try maxPool2dBackward(x, gradOutput: gy, o)
                XCTAssertEqual(optimized.scalars.map(\.bitPattern), reference.scalars.map(\.bitPattern),
                               "input \(shape) kernel \(o.kernel) stride \(o.stride) padding \(o.padding) ceil \(o.ceilMode), \(threads) threads")
            }
        }
        // A large tensor, so that the planes are split over the threads.
        let big = try Tensor(shape: [4, 16, 24, 24], scalars: (0..<(4 * 16 * 24 * 24)).map { _ in Float(rng.int(-4...4)) })
        let po = Pool2DOptions(kernel: 3, stride: 2, padding: 1)
        let gb = try rng.tensor(try maxPool2d(big, po).shape)
        let rb = try withReferenceKernels { try maxPool2dBackward(big, gradOutput: gb, po) }
        Threading.numThreads = 2
        XCTAssertEqual(try maxPool2dBackward(big, gradOutput: gb, po).scalars, rb.scalars, "[4, 16, 24, 24], 2 threads")
    }

    func testMaxPoolBackwardTiesAndErrors() throws {
        // Ties: the gradient goes to the first maximum of each window (row-major), as PyTorch.
        let x = try Tensor(shape: [1, 1, 2, 4], scalars: [1, 1, 5, 2, 1, 1, 5, 5])
        let g = try Tensor(shape: [1, 1, 1, 2], scalars: [3, 7])
        let dx = try maxPool2dBackward(x, gradOutput: g, Pool2DOptions(kernel: 2))
        XCTAssertEqual(dx.scalars, [3, 0, 7, 0, 0, 0, 0, 0])
        // Overlapping windows add up.
        let x2 = try Tensor(shape: [1, 1, 1, 3], scalars: [0, 9, 0])
        let d2 = try maxPool2dBackward(x2, gradOutput: try Tensor(shape: [1, 1, 1, 2], scalars: [1, 2]),
                                       Pool2DOptions(kernel: Size2D(1, 2), stride: 1))
        XCTAssertEqual(d2.scalars, [0, 3, 0])

        let o = Pool2DOptions(kernel: 2)
        assertThrows(.shapeMismatch, "maxPool2dBackward", "[1, 1, 1, 2]") {
            try maxPool2dBackward(x, gradOutput: try Tensor(zeros: [1, 1, 2, 2]), o)
        }
        assertThrows(.shapeMismatch, "avgPool2dBackward", "gradOutput") {
            try avgPool2dBackward(inputShape: [1, 1, 2, 4], gradOutput: try Tensor(zeros: [1, 1, 2, 2]), o)
        }
        assertThrows(.invalidArgument, "avgPool2dBackward", "rank") {
            try avgPool2dBackward(inputShape: [2, 4], gradOutput: try Tensor(zeros: [1, 2]), o)
        }
        assertThrows(.invalidArgument, "avgPool2dBackward", "at least 1") {
            try avgPool2dBackward(inputShape: [1, 0, 2, 4], gradOutput: try Tensor(zeros: [1, 1, 1, 2]), o)
        }
        assertThrows(.invalidArgument, "avgPool2dBackward") {
            try avgPool2dBackward(inputShape: [Int.max, Int.max, 2, 4], gradOutput: try Tensor(zeros: [1, 1, 1, 2]), o)
        }
        assertThrows(.shapeMismatch, "adaptiveAvgPool2dBackward", "rank") {
            try adaptiveAvgPool2dBackward(inputShape: [1, 1, 4, 4], gradOutput: try Tensor(zeros: [2]))
        }
        assertThrows(.shapeMismatch, "adaptiveAvgPool2dBackward") {
            try adaptiveAvgPool2dBackward(inputShape: [1, 1, 4, 4], gradOutput: try Tensor(zeros: [1, 2, 2, 2]))
        }
        assertThrows(.invalidArgument, "adaptiveAvgPool2dBackward") {
            try adaptiveAvgPool2dBackward(inputShape: [4], gradOutput: try Tensor(zeros: [2]))
        }
    }

    // MARK: Local response norm

    func testLocalResponseNormBackward() throws {
        var rng = TestRNG(0x124)
        for trial in 0..<12 {
            // Spatial sizes past 16 take the vector path; beta 0.75 its square-root power.
            let n = rng.int(1...2), c = rng.int(1...7), s = rng.int(1...20)
            let size = rng.int(1...5)
            // Large alpha so that the cross-channel term matters (with 1e-4 it would be ~1e-4 of the gradient).
            let alpha = rng.float(0.2, 2), beta = trial % 2 == 0 ? 0.75 : rng.float(0.3, 0.9), k = rng.float(1, 2)
            let shape = rng.int(0...1) == 0 ? [n, c, s] : [n, c, 1, s]
            let x = try rng.tensor(shape, -2, 2), gy = try rng.tensor(shape)
            let (xd, gd) = (doubles(x), doubles(gy))
            try forBothPaths { path in
                let dx = try localResponseNormBackward(x, gradOutput: gy, size: size, alpha: alpha, beta: beta, k: k)
                checkGradient("trial \(trial) \(path): LRN \(shape) size \(size) alpha \(alpha) beta \(beta) k \(k)",
                              dx.scalars, at: xd, tol: 5e-5, rng: &rng) {
                    dotD(gd, lrnD($0, n: n, c: c, s: s, size: size, alpha: Double(alpha), beta: Double(beta), k: Double(k)))
                }
            }
        }
        // AlexNet's parameters (alpha 1e-4, k 2) on a larger tensor: optimized vs reference.
        let x = try rng.tensor([2, 16, 9, 9], -30, 30), gy = try rng.tensor([2, 16, 9, 9])
        let fast = try localResponseNormBackward(x, gradOutput: gy, size: 5, alpha: 1e-4, beta: 0.75, k: 2)
        let ref = try withReferenceKernels { try localResponseNormBackward(x, gradOutput: gy, size: 5, alpha: 1e-4, beta: 0.75, k: 2) }
        assertMatchesReference(fast, ref, "LRN alexnet parameters")
        let fast2 = try localResponseNormBackward(x, gradOutput: gy, size: 4, alpha: 0.3, beta: 0.6, k: 1)
        let ref2 = try withReferenceKernels { try localResponseNormBackward(x, gradOutput: gy, size: 4, alpha: 0.3, beta: 0.6, k: 1) }
        assertMatchesReference(fast2, ref2, "LRN beta 0.6")
        assertThrows(.shapeMismatch, "localResponseNormBackward") {
            try localResponseNormBackward(x, gradOutput: try Tensor(zeros: [2, 16, 9]), size: 5)
        }
        assertThrows(.invalidArgument, "localResponseNormBackward", "size") {
            try localResponseNormBackward(x, gradOutput: gy, size: 0)
        }
    }

    // MARK: Batch norm

    func testBatchNormTrainingForwardAndBackward() throws {
        var rng = TestRNG(0xB4)
        for trial in 0..<14 {
            let n = rng.int(1...3), c = rng.int(1...4)
            let spatialShape = [[], [rng.int(1...4)], [rng.int(1...3), rng.int(1...4)]][rng.int(0...2)]
            let s = spatialShape.reduce(1, *)
            if n * s < 2 { continue }
            let shape = [n, c] + spatialShape
            let hasWeight = rng.int(0...3) > 0, hasBias = rng.int(0...3) > 0
            let x = try rng.tensor(shape, -2, 2), w = try rng.tensor([c], 0.5, 1.5), b = try rng.tensor([c])
            let gy = try rng.tensor(shape)
            let eps = 1e-5
            let (xd, wd, bd, gd) = (doubles(x), doubles(w), doubles(b), doubles(gy))
            let ctx = "trial \(trial): \(shape) weight \(hasWeight) bias \(hasBias)"
            let want = batchNormD(xd, n: n, c: c, s: s, w: hasWeight ? wd : nil, b: hasBias ? bd : nil, eps: eps)
            try forBothPaths { path in
                let (y, stats) = try batchNormTraining(x, weight: hasWeight ? w : nil, bias: hasBias ? b : nil)
                XCTAssertEqual(stats.count, n * s)
                assertClose(y.scalars, want.out, abs: 1e-5, rel: 1e-5, "\(ctx) \(path): output")
                assertClose(stats.mean.scalars, want.mean, abs: 1e-6, rel: 1e-5, "\(ctx) \(path): mean")
                assertClose(stats.variance.scalars, want.variance, abs: 1e-6, rel: 1e-5, "\(ctx) \(path): variance")
                assertClose(stats.invStd.scalars, want.variance.map { 1 / ($0 + eps).squareRoot() }, abs: 1e-6, rel: 1e-5,
                            "\(ctx) \(path): invStd")
                let g = try batchNormBackward(x, gradOutput: gy, weight: hasWeight ? w : nil, statistics: stats)
                // dx is a difference of sums that nearly cancel: a looser bound than elsewhere.
                checkGradient("\(ctx) \(path): input", g.input.scalars, at: xd, tol: 1e-4, rng: &rng) {
                    dotD(gd, batchNormD($0, n: n, c: c, s: s, w: hasWeight ? wd : nil, b: hasBias ? bd : nil, eps: eps).out)
                }
                checkGradient("\(ctx) \(path): weight", g.weight.scalars, at: hasWeight ? wd : [Double](repeating: 1, count: c),
                              tol: 1e-4, rng: &rng) {
                    dotD(gd, batchNormD(xd, n: n, c: c, s: s, w: $0, b: hasBias ? bd : nil, eps: eps).out)
                }
                checkGradient("\(ctx) \(path): bias", g.bias.scalars, at: bd, rng: &rng) {
                    dotD(gd, batchNormD(xd, n: n, c: c, s: s, w: hasWeight ? wd : nil, b: $0, eps: eps).out)
                }
            }
        }
        // Optimized vs reference on a larger tensor.
        let x = try rng.tensor([8, 6, 13, 11], -3, 5), gy = try rng.tensor([8, 6, 13, 11]), w = try rng.tensor([6])
        let fast = try batchNormTraining(x, weight: w, bias: nil)
        let ref = try withReferenceKernels { try batchNormTraining(x, weight: w, bias: nil) }
        assertMatchesReference(fast.output, ref.output, "batch norm output")
        assertMatchesReference(fast.statistics.invStd, ref.statistics.invStd, "batch norm invStd")
        let gf = try batchNormBackward(x, gradOutput: gy, weight: w, statistics: fast.statistics)
        let gr = try withReferenceKernels { try batchNormBackward(x, gradOutput: gy, weight: w, statistics: ref.statistics) }
        assertMatchesReference(gf.input, gr.input, "batch norm dx", tol: 1e-4)
        assertMatchesReference(gf.weight, gr.weight, "batch norm dweight", tol: 1e-4)
        assertMatchesReference(gf.bias, gr.bias, "batch norm dbias")

        assertThrows(.invalidArgument, "batchNormTraining", "rank") { try batchNormTraining(try Tensor(zeros: [4]), weight: nil, bias: nil) }
        assertThrows(.shapeMismatch, "batchNormTraining", "weight") { try batchNormTraining(x, weight: try Tensor(zeros: [5]), bias: nil) }
        assertThrows(.invalidArgument, "batchNormTraining", "eps") { try batchNormTraining(x, weight: nil, bias: nil, eps: -1) }
        assertThrows(.invalidArgument, "batchNormTraining", "more than 1 value") {
            try batchNormTraining(try Tensor(zeros: [1, 3, 1, 1]), weight: nil, bias: nil)
        }
        assertThrows(.shapeMismatch, "batchNormBackward", "gradOutput") {
            try batchNormBackward(x, gradOutput: try Tensor(zeros: [8, 6]), weight: nil, statistics: fast.statistics)
        }
        var bad = fast.statistics
        bad.count += 1
        assertThrows(.shapeMismatch, "batchNormBackward", "count") { try batchNormBackward(x, gradOutput: gy, weight: nil, statistics: bad) }
        bad = fast.statistics
        bad.mean = try Tensor(zeros: [7])
        assertThrows(.shapeMismatch, "batchNormBackward", "mean") { try batchNormBackward(x, gradOutput: gy, weight: nil, statistics: bad) }
    }

    // MARK: LeNet-5 (original) ops

    func testLeNetOpsBackward() throws {
        var rng = TestRNG(0x1E5)
        // Subsampling, including odd sizes (the trailing row/column gets no gradient).
        for trial in 0..<6 {
            let n = rng.int(1...2), c = rng.int(1...3), h = rng.int(2...7), w = rng.int(2...7)
            let x = try rng.tensor([n, c, h, w]), wt = try rng.tensor([c], 0.5, 1.5), b = try rng.tensor([c])
            let y = try LeNetOps.subsample(x, weight: wt, bias: b)
            let gy = try rng.tensor(y.shape)
            let (xd, wd, bd, gd) = (doubles(x), doubles(wt), doubles(b), doubles(gy))
            let (oh, ow) = (h / 2, w / 2)
            func f(_ x: [Double], _ wt: [Double], _ b: [Double]) -> Double {
                var s = 0.0
                for i in 0..<(n * c) {
                    for r in 0..<oh {
                        for q in 0..<ow {
                            let p = i * h * w + 2 * r * w + 2 * q
                            s += gd[(i * oh + r) * ow + q] * ((x[p] + x[p + 1] + x[p + w] + x[p + w + 1]) * wt[i % c] + b[i % c])
                        }
                    }
                }
                return s
            }
            let g = try LeNetOps.subsampleBackward(x, weight: wt, gradOutput: gy)
            checkGradient("trial \(trial): subsample input", g.input.scalars, at: xd, rng: &rng) { f($0, wd, bd) }
            checkGradient("trial \(trial): subsample weight", g.weight.scalars, at: wd, rng: &rng) { f(xd, $0, bd) }
            checkGradient("trial \(trial): subsample bias", g.bias.scalars, at: bd, rng: &rng) { f(xd, wd, $0) }
        }
        // Partial-connection convolution over small random tables, and LeNet's own table.
        for trial in 0..<6 {
            let lenet = trial == 0
            let inC = lenet ? 6 : rng.int(1...4), k = lenet ? 5 : rng.int(1...3)
            let table: [[Int]] = lenet ? lenet5C3Connections : (0..<rng.int(1...4)).map { _ in
                Array(Set((0..<rng.int(1...inC)).map { _ in rng.int(0...(inC - 1)) })).sorted()
            }
            let links = table.reduce(0) { $0 + $1.count }
            let n = rng.int(1...2), h = k + rng.int(0...3), w = k + rng.int(0...3)
            let x = try rng.tensor([n, inC, h, w]), wt = try rng.tensor([links, k, k]), b = try rng.tensor([table.count])
            let y = try LeNetOps.partialConv(x, weight: wt, bias: b, inChannels: inC, connections: table, kernel: k)
            let gy = try rng.tensor(y.shape)
            let (xd, wd, bd, gd) = (doubles(x), doubles(wt), doubles(b), doubles(gy))
            let (oh, ow) = (h - k + 1, w - k + 1)
            func f(_ x: [Double], _ wt: [Double], _ b: [Double]) -> Double {
                var s = 0.0
                for bb in 0..<n {
                    var link = 0
                    for (j, inputs) in table.enumerated() {
                        var plane = [Double](repeating: b[j], count: oh * ow)
                        for i in inputs {
                            for r in 0..<oh {
                                for q in 0..<ow {
                                    for u in 0..<k {
                                        for v in 0..<k {
                                            plane[r * ow + q] += wt[(link * k + u) * k + v] * x[((bb * inC + i) * h + r + u) * w + q + v]
                                        }
                                    }
                                }
                            }
                            link += 1
                        }
                        for p in 0..<(oh * ow) { s += gd[(bb * table.count + j) * oh * ow + p] * plane[p] }
                    }
                }
                return s
            }
            let ctx = "trial \(trial): partial conv \(table) k \(k) input \(x.shape)"
            try forBothPaths { path in
                let g = try LeNetOps.partialConvBackward(x, weight: wt, gradOutput: gy, inChannels: inC, connections: table, kernel: k)
                XCTAssertEqual(g.weight.shape, [links, k, k])
                checkGradient("\(ctx) \(path): input", g.input.scalars, at: xd, rng: &rng) { f($0, wd, bd) }
                checkGradient("\(ctx) \(path): weight", g.weight.scalars, at: wd, rng: &rng) { f(xd, $0, bd) }
                checkGradient("\(ctx) \(path): bias", g.bias.scalars, at: bd, rng: &rng) { f(xd, wd, $0) }
            }
        }
        // Euclidean RBF: gradient with respect to the input (codes are constants).
        for trial in 0..<4 {
            let n = rng.int(1...3), f = rng.int(1...12), classes = rng.int(1...10)
            let x = try rng.tensor([n, f]), codes = try Tensor(shape: [classes, f], scalars: (0..<(classes * f)).map { _ in rng.int(0...1) == 0 ? -1 : 1 })
            let y = try LeNetOps.rbf(x, codes: codes)
            let gy = try rng.tensor(y.shape)
            let (cd, gd) = (doubles(codes), doubles(gy))
            let dx = try LeNetOps.rbfBackward(x, codes: codes, gradOutput: gy)
            checkGradient("trial \(trial): rbf", dx.scalars, at: doubles(x), rng: &rng) { xv in
                var s = 0.0
                for b in 0..<n {
                    for i in 0..<classes {
                        var d = 0.0
                        for j in 0..<f { d += (xv[b * f + j] - cd[i * f + j]) * (xv[b * f + j] - cd[i * f + j]) }
                        s += gd[b * classes + i] * d
                    }
                }
                return s
            }
        }
        let x = try Tensor(zeros: [1, 2, 4, 4])
        assertThrows(.shapeMismatch, "subsamplingBackward", "gradOutput") {
            try LeNetOps.subsampleBackward(x, weight: try Tensor(zeros: [2]), gradOutput: try Tensor(zeros: [1, 2, 4, 4]))
        }
        assertThrows(.shapeMismatch, "subsamplingBackward", "weight") {
            try LeNetOps.subsampleBackward(x, weight: try Tensor(zeros: [3]), gradOutput: try Tensor(zeros: [1, 2, 2, 2]))
        }
        assertThrows(.shapeMismatch, "partialConvBackward", "connection table") {
            try LeNetOps.partialConvBackward(x, weight: try Tensor(zeros: [2, 3, 3]), gradOutput: try Tensor(zeros: [1, 1, 2, 2]),
                                             inChannels: 2, connections: [[0, 2]], kernel: 3)
        }
        assertThrows(.shapeMismatch, "rbfBackward", "gradOutput") {
            try LeNetOps.rbfBackward(try Tensor(zeros: [2, 3]), codes: try Tensor(zeros: [4, 3]), gradOutput: try Tensor(zeros: [2, 3]))
        }
        assertThrows(.shapeMismatch, "scaledTanhBackward") {
            try LeNetOps.scaledTanhBackward(output: try Tensor(zeros: [2, 3]), gradOutput: try Tensor(zeros: [3, 2]))
        }
    }

    // MARK: Threads

    /// The optimized backward kernels give bitwise identical results on 1 and 2 threads,
    /// on sizes large enough to take their parallel paths.
    func testBackwardBitwiseSameOnOneAndTwoThreads() throws {
        var rng = TestRNG(0x7_4EAD)
        let x = try rng.tensor([3, 8, 20, 20]), w = try rng.tensor([16, 4, 3, 3])
        let o = Conv2DOptions(stride: Size2D(1, 2), padding: Padding2D(1), groups: 2)
        let gy = try rng.tensor(try conv2d(x, weight: w, options: o).shape)
        // A small feature map (the GEMM-over-rows weight path), many channels.
        let sx = try rng.tensor([6, 48, 4, 4]), sw = try rng.tensor([64, 48, 3, 3])
        let sg = try rng.tensor([6, 64, 4, 4])
        let lx = try rng.tensor([17, 300]), lw = try rng.tensor([70, 300]), lg = try rng.tensor([17, 70])
        let bx = try rng.tensor([4, 16, 24, 24]), bg = try rng.tensor([4, 16, 24, 24])
        func run() throws -> [[Float]] {
            var rng2 = TestRNG(5)
            let c = try conv2dBackward(x, weight: w, gradOutput: gy, options: o, hasBias: true)
            let sc = try conv2dBackward(sx, weight: sw, gradOutput: sg, options: Conv2DOptions(padding: 1), hasBias: false)
            let l = try linearBackward(lx, weight: lw, gradOutput: lg, hasBias: true)
            let (_, stats) = try batchNormTraining(bx, weight: nil, bias: nil)
            let b = try batchNormBackward(bx, gradOutput: bg, weight: nil, statistics: stats)
            let r = try localResponseNormBackward(bx, gradOutput: bg, size: 5, alpha: 1e-4, beta: 0.75, k: 2)
            let po = Pool2DOptions(kernel: 3, stride: 2, padding: 1, ceilMode: true)
            let pg = try rng2.tensor(try maxPool2d(bx, po).shape)
            let pm = try maxPool2dBackward(bx, gradOutput: pg, po)
            let pa = try avgPool2dBackward(inputShape: bx.shape, gradOutput: pg, po)
            let pd = try adaptiveAvgPool2dBackward(inputShape: bx.shape, gradOutput: pg)
            // The parallel pooling backward computes each plane as the reference does: bitwise equal.
            let refs = try withReferenceKernels {
                [try maxPool2dBackward(bx, gradOutput: pg, po).scalars, try avgPool2dBackward(inputShape: bx.shape, gradOutput: pg, po).scalars,
                 try adaptiveAvgPool2dBackward(inputShape: bx.shape, gradOutput: pg).scalars]
            }
            XCTAssertEqual(refs, [pm.scalars, pa.scalars, pd.scalars], "pooling backward: optimized = reference")
            return [c.weight.scalars, c.input?.scalars ?? [], c.bias?.scalars ?? [], sc.weight.scalars, sc.input?.scalars ?? [], l.input.scalars, l.weight.scalars,
                    l.bias?.scalars ?? [], stats.mean.scalars, stats.invStd.scalars, b.input.scalars, b.weight.scalars, r.scalars,
                    pm.scalars, pa.scalars, pd.scalars]
        }
        let old = Threading.numThreads
        defer { Threading.numThreads = old }
        Threading.numThreads = 1
        let one = try run()
        Threading.numThreads = 2
        let two = try run()
        for (i, (a, b)) in zip(one, two).enumerated() {
            XCTAssertTrue(a.elementsEqual(b) { $0.bitPattern == $1.bitPattern }, "result \(i) differs between 1 and 2 threads")
        }
    }
}

/// The C library's tanh on Double (the module's `tanh` on a Tensor shadows the name in closures).
func tanhD(_ x: Double) -> Double {
#if canImport(Glibc)
    Glibc.tanh(x)
#else
    Darwin.tanh(x)
#endif
}
