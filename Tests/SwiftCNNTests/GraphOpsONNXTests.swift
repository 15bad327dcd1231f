import XCTest
@testable import SwiftCNN

// The graph ops the ONNX importer emits: constant, layer_norm, the unary ops erf, sqrt,
// exp, log, neg, abs and reciprocal, linear on any rank, slice and gather. Values against
// torch (scripts/make_onnx_op_fixtures.py prints the literals below), optimized kernels
// against the reference, backward against central finite differences, the JSON reader and
// writer, errors, and a ConvNeXt-like graph (layer scale as a constant feeding mul) through
// the plan, lowering, the summary and training.

// MARK: - torch values (scripts/make_onnx_op_fixtures.py)

// xs = [-4.0, -1.5, -0.5, -0.0, 0.0, 0.25, 1.0, 2.5, 9.0, .nan]
let torchONNXUnaryFixtures: [(UnaryOp, [Float], [Float])] = [
    (.erf, [-1.0, -0.9661051630973816, -0.5204998850822449, -0.0, 0.0, 0.27632638812065125, 0.8427007794380188, 0.9995930194854736, 1.0, .nan],
     [1.2698235707375716e-07, 0.11893029510974884, 0.8787826299667358, 1.128379225730896, 1.128379225730896, 1.060014247894287, 0.41510751843452454, 0.002178284339606762, 7.492073225024278e-36, .nan]),
    (.sqrt, [.nan, .nan, .nan, -0.0, 0.0, 0.5, 1.0, 1.5811388492584229, 3.0, .nan],
     [.nan, .nan, .nan, -.infinity, .infinity, 1.0, 0.5, 0.3162277638912201, 0.1666666716337204, .nan]),
    (.exp, [0.018315639346837997, 0.22313016653060913, 0.6065306663513184, 1.0, 1.0, 1.2840254306793213, 2.7182817459106445, 12.182494163513184, 8103.083984375, .nan],
     [0.018315639346837997, 0.22313016653060913, 0.6065306663513184, 1.0, 1.0, 1.2840254306793213, 2.7182817459106445, 12.182494163513184, 8103.083984375, .nan]),
    (.log, [.nan, .nan, .nan, -.infinity, -.infinity, -1.3862943649291992, 0.0, 0.9162907600402832, 2.1972246170043945, .nan],
     [-0.25, -0.6666666865348816, -2.0, -.infinity, .infinity, 4.0, 1.0, 0.4000000059604645, 0.1111111119389534, .nan]),
    (.neg, [4.0, 1.5, 0.5, 0.0, -0.0, -0.25, -1.0, -2.5, -9.0, .nan],
     [-1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0]),
    (.abs, [4.0, 1.5, 0.5, 0.0, 0.0, 0.25, 1.0, 2.5, 9.0, .nan],
     [-1.0, -1.0, -1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0]),
    (.reciprocal, [-0.25, -0.6666666865348816, -2.0, -.infinity, .infinity, 4.0, 1.0, 0.4000000059604645, 0.1111111119389534, .nan],
     [-0.0625, -0.444444477558136, -4.0, -.infinity, -.infinity, -16.0, -1.0, -0.1600000113248825, -0.012345679104328156, .nan]),
]
// layer_norm axis -1: x [2, 3, 5] = ((i*7)%11 - 5)/4 + 0.01 i, g = ((i*5)%13 - 6)/6,
// weight = 1 + 0.1 i, bias = 0.05 i - 0.2 (shape [5]), eps 1e-5
let torchLayerNormAxis1: (y: [Float], dx: [Float], dw: [Float], db: [Float]) = (
    [-1.7239913940429688, 0.40879687666893005, -0.8619957566261292, 1.7660897970199585, 0.35559800267219543, -1.170717716217041, 1.2228721380233765, -0.09999998658895493, -1.6724852323532104, 1.3590047359466553, -0.4539985656738281, -1.6866915225982666, 0.6619957685470581, -0.7103962898254395, 2.1335878372192383, 0.2629055380821228, -1.1683920621871948, 1.751621961593628, 0.1505924016237259, -1.7281805276870728, 1.0344146490097046, -0.31973204016685486, -1.9516221284866333, 1.1535543203353882, -0.6480676531791687, 1.034414529800415, -0.31973204016685486, -1.9516218900680542, 1.153554081916809, -0.6480676531791687],
    [-1.0002268552780151, 0.04990552365779877, 1.1248691082000732, -0.6921036839485168, 0.5175560712814331, 1.2041847705841064, -0.47606587409973145, 0.7185832262039185, -1.4275493621826172, -0.019152836874127388, 1.2238104343414307, -0.07889822125434875, 0.49452969431877136, -1.1737830638885498, -0.465658962726593, 0.3947775363922119, -0.7615001201629639, -0.8879415988922119, 1.4626405239105225, -0.20797638595104218, -0.011563949286937714, -1.1862109899520874, 0.9122111201286316, 0.987275242805481, -0.7017111778259277, 0.021835148334503174, -1.1611618995666504, 0.9289097785949707, 0.9538767337799072, -0.7434597611427307],
    [1.6788908243179321, 1.0979020595550537, 0.30267399549484253, 2.1597418785095215, 0.7398624420166016],
    [2.3333334922790527, -3.5, 1.5000001192092896, 0.0, -1.5])
// layer_norm axis -2: x [2, 3, 5] = ((i*7)%11 - 5)/4 + 0.01 i, g = ((i*5)%13 - 6)/6,
// weight = 1 + 0.1 i, bias = 0.05 i - 0.2 (shape [3, 5]), eps 1e-5
let torchLayerNormAxis2: (y: [Float], dx: [Float], dw: [Float], db: [Float]) = (
    [-1.7666878700256348, 0.4244522452354431, -0.8833438754081726, 1.8169697523117065, 0.36556050181388855, -1.3208519220352173, 1.980025291442871, 0.15000002086162567, -1.9150285720825195, 1.9864124059677124, -0.22222930192947388, -2.6658742427825928, 1.8361306190490723, -0.7511274218559265, 4.2600507736206055, -0.006654396653175354, -1.3729110956192017, 1.3500921726226807, -0.1756746917963028, -1.9624582529067993, 1.4275875091552734, -0.5187060832977295, -2.7260162830352783, 1.3310719728469849, -1.0357484817504883, 3.5868756771087646, 1.0605450868606567, -1.726802110671997, 3.5628645420074463, 0.6160072684288025],
    [-0.8194029331207275, -0.1238127052783966, 1.1972464323043823, -1.0545939207077026, 0.40493500232696533, 2.0622780323028564, -0.6247533559799194, 1.1710597276687622, -1.464163899421692, 0.042464300990104675, 2.174561023712158, -0.8958534002304077, 0.947058916091919, -2.4992024898529053, -0.5178205966949463, 0.8378195762634277, -0.17716699838638306, -0.4233819246292114, 1.8572957515716553, 0.3589451313018799, 0.4862386882305145, -1.4295628070831299, 1.158710241317749, 1.6595125198364258, -0.7396529316902161, -0.08505314588546753, -2.9016692638397217, 0.2139098346233368, 1.242018222808838, -2.05796217918396],
    [1.6955848932266235, 0.6541200280189514, -0.23378939926624298, -1.0540932416915894, 0.5107710957527161, -0.4547054171562195, -0.06942921876907349, 5.094242805370186e-09, 1.502824306488037, 0.3383548855781555, 0.3302170932292938, 0.37971046566963196, 0.37871691584587097, 1.424508810043335, -0.2933388948440552],
    [-0.3333333134651184, -0.8333333730697632, 0.8333333730697632, 0.3333333134651184, -0.1666666716337204, 1.5, -1.1666666269302368, 0.5, 0.0, -0.5, 1.1666666269302368, -1.5, 0.1666666716337204, -0.3333333134651184, -0.8333333730697632])

// MARK: - Helpers

private let onnxUnaryOps: [UnaryOp] = [.erf, .sqrt, .exp, .log, .neg, .abs, .reciprocal]

/// Equal bit for bit, or both NaN.
private func sameBits(_ a: [Float], _ b: [Float]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
}

/// Close within abs + rel·|want|, equal infinities, NaN where the other is NaN.
private func close(_ got: [Float], _ want: [Float], abs: Float = 1e-6, rel: Float = 1e-5) -> Int? {
    guard got.count == want.count else { return 0 }
    for i in got.indices {
        let g = got[i], w = want[i]
        if g.isNaN || w.isNaN { if g.isNaN != w.isNaN { return i } else { continue } }
        if g.isInfinite || w.isInfinite { if g != w { return i } else { continue } }
        if Swift.abs(g - w) > abs + rel * Swift.abs(w) { return i }
    }
    return nil
}

/// Both kernel sets.
private func eachKernel(_ body: (String) throws -> Void) rethrows {
    try body("optimized")
    try withReferenceKernels { try body("reference") }
}

/// Central differences of L(x) = Σ w ⊙ f(x) at every element of x, in double from float.
private func centralDifferences(_ x: Tensor, weights w: [Float], h: Float, _ f: (Tensor) throws -> [Float]) throws -> [Double] {
    let xs = x.scalars
    return try (0..<xs.count).map { i in
        func loss(_ d: Float) throws -> Double {
            var v = xs
            v[i] += d
            return zip(try f(try Tensor(shape: x.shape, scalars: v)), w).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        return (try loss(h) - loss(-h)) / (2 * Double(h))
    }
}

/// A graph architecture from node JSON (one input named "input").
private func graphJSON(_ name: String, inputShape: [Int], nodes: [String], outputs: [String]) -> String {
    """
    {"version": 1, "name": "\(name)", "input_shape": \(inputShape), "network": {"op": "graph", "name": "", "graph": {
      "inputs": ["input"], "nodes": [\(nodes.joined(separator: ",\n"))], "outputs": [\(outputs.map { "\"\($0)\"" }.joined(separator: ", "))]}}}
    """
}

/// ONNX Slice on one axis, by its definition (the oracle of the slice tests).
private func onnxSliceIndices(size d: Int, start: Int, end: Int, step: Int) -> [Int] {
    var s = start < 0 ? start + d : start, e = end < 0 ? end + d : end
    var out: [Int] = []
    if step > 0 {
        s = min(max(s, 0), d); e = min(max(e, 0), d)
        var i = s
        while i < e {
            out.append(i)
            if UInt(e - i) <= step.magnitude { break }
            i += Int(step.magnitude)
        }
    } else {
        s = min(max(s, 0), d - 1); e = min(max(e, -1), d - 1)
        var i = s
        while i > e {
            out.append(i)
            if UInt(i - e) <= step.magnitude { break }
            i -= Int(step.magnitude)
        }
    }
    return out
}

final class GraphOpsONNXTests: XCTestCase {
    // MARK: Unary ops

    func testONNXUnaryMatchesTorch() throws {
        let xs: [Float] = [-4.0, -1.5, -0.5, -0.0, 0.0, 0.25, 1.0, 2.5, 9.0, .nan]
        let x = try Tensor(shape: [xs.count], scalars: xs)
        let ones = try Tensor(shape: [xs.count], repeating: 1)
        XCTAssertEqual(torchONNXUnaryFixtures.map(\.0), onnxUnaryOps)
        try eachKernel { kernels in
            for (op, wantY, wantDx) in torchONNXUnaryFixtures {
                let y = try unary(op, x).scalars, dx = try unaryBackward(op, input: x, gradOutput: ones).scalars
                let by = close(y, wantY)
                XCTAssertNil(by, "\(kernels) \(op) forward at x = \(by.map { xs[$0] } ?? 0): \(y) vs torch \(wantY)")
                let bd = close(dx, wantDx)
                XCTAssertNil(bd, "\(kernels) \(op) backward at x = \(bd.map { xs[$0] } ?? 0): \(dx) vs torch \(wantDx)")
            }
        }
    }

    func testONNXUnaryOptimizedEqualsReference() throws {
        var rng = TestRNG(401)
        let specials: [Float] = [.nan, .infinity, -.infinity, 0, -0.0, 1, -1, 0.5, 100, -100, 89, -104,
                                 Float.leastNonzeroMagnitude, -Float.greatestFiniteMagnitude]
        for count in [1, 7, 16, 17, 33, 1000, 200_003] {
            var v = (0..<count).map { _ in rng.float(-12, 12) }
            for (i, s) in specials.enumerated() where i < count { v[(i * 7919) % count] = s }
            let x = try Tensor(shape: [count], scalars: v)
            let g = try rng.tensor([count], -2, 2)
            for op in onnxUnaryOps {
                let y = try unary(op, x), dx = try unaryBackward(op, input: x, gradOutput: g)
                let yr = try withReferenceKernels { try unary(op, x) }
                let dxr = try withReferenceKernels { try unaryBackward(op, input: x, gradOutput: g) }
                XCTAssertTrue(sameBits(y.scalars, yr.scalars), "\(op) forward, count \(count)")
                XCTAssertTrue(sameBits(dx.scalars, dxr.scalars), "\(op) backward, count \(count)")
            }
        }
        // In place (the plan runs activations in place).
        let x = try rng.tensor([37], 0.1, 3)
        for op in onnxUnaryOps {
            var buf = x.scalars
            buf.withUnsafeMutableBufferPointer { p in Optimized.unary(op, p.baseAddress!, p.baseAddress!, count: p.count) }
            XCTAssertTrue(sameBits(buf, try unary(op, x).scalars), "\(op) in place")
        }
    }

    func testONNXUnaryBackwardMatchesFiniteDifferences() throws {
        var rng = TestRNG(402)
        try eachKernel { kernels in
            for op in onnxUnaryOps {
                // Away from the edges: sqrt, log, reciprocal on positives; abs off 0.
                let (lo, hi): (Float, Float) = [.sqrt, .log, .reciprocal].contains(op) ? (0.5, 3) : (-2, 2)
                var v: [Float] = []
                while v.count < 12 {
                    let c = rng.float(lo, hi)
                    if op != .abs || Swift.abs(c) > 0.05 { v.append(c) }
                }
                let x = try Tensor(shape: [3, 4], scalars: v)
                let w = try rng.tensor([3, 4])
                let analytic = try unaryBackward(op, input: x, gradOutput: w).scalars
                let numeric = try centralDifferences(x, weights: w.scalars, h: 1.0 / 256) { try unary(op, $0).scalars }
                assertClose(analytic, numeric, abs: 2e-3, rel: 2e-3, "\(kernels) \(op) gradient")
            }
        }
    }

    // MARK: Layer norm

    func testLayerNormMatchesTorch() throws {
        let x = try Tensor(shape: [2, 3, 5], scalars: (0..<30).map { Float((($0 * 7) % 11) - 5) / 4 + 0.01 * Float($0) })
        let g = try Tensor(shape: [2, 3, 5], scalars: (0..<30).map { Float((($0 * 5) % 13) - 6) / 6 })
        for (axis, shape, want) in [(-1, [5], torchLayerNormAxis1), (-2, [3, 5], torchLayerNormAxis2)] {
            let k = shape.reduce(1, *)
            let w = try Tensor(shape: shape, scalars: (0..<k).map { 1 + 0.1 * Float($0) })
            let b = try Tensor(shape: shape, scalars: (0..<k).map { 0.05 * Float($0) - 0.2 })
            try eachKernel { kernels in
                let y = try layerNorm(x, axis: axis, weight: w, bias: b, eps: 1e-5)
                XCTAssertNil(close(y.scalars, want.y, abs: 2e-6, rel: 2e-6), "\(kernels) axis \(axis) forward")
                // The same axis counted from the front.
                XCTAssertEqual(try layerNorm(x, axis: axis + 3, weight: w, bias: b).scalars, y.scalars)
                let r = try layerNormBackward(x, axis: axis, weight: w, gradOutput: g, eps: 1e-5, hasBias: true)
                XCTAssertNil(close(r.input.scalars, want.dx, abs: 1e-5, rel: 1e-5), "\(kernels) axis \(axis) dx \(r.input.scalars)")
                XCTAssertNil(close(r.weight!.scalars, want.dw, abs: 1e-5, rel: 1e-5), "\(kernels) axis \(axis) dweight")
                XCTAssertNil(close(r.bias!.scalars, want.db, abs: 1e-5, rel: 1e-5), "\(kernels) axis \(axis) dbias")
            }
        }
    }

    func testLayerNormOptimizedMatchesReference() throws {
        var rng = TestRNG(403)
        for (shape, axis) in [([1], 0), ([3, 1], -1), ([2, 7], -1), ([4, 16], 1), ([3, 17], -1), ([2, 3, 33], 2),
                              ([2, 5, 4, 6], 2), ([64, 384], -1), ([2, 96, 7, 7], 1), ([5000, 8], -1)] {
            let x = try rng.tensor(shape, -3, 5)
            let a = axis < 0 ? axis + shape.count : axis
            let ns = Array(shape[a...])
            let w = try rng.tensor(ns, 0.5, 1.5), b = try rng.tensor(ns)
            for (wt, bt) in [(w, b), (w, nil), (nil, nil)] as [(Tensor?, Tensor?)] {
                let y = try layerNorm(x, axis: axis, weight: wt, bias: bt, eps: 1e-5)
                let yr = try withReferenceKernels { try layerNorm(x, axis: axis, weight: wt, bias: bt, eps: 1e-5) }
                XCTAssertNil(close(y.scalars, yr.scalars, abs: 1e-5, rel: 1e-5), "\(shape) axis \(axis)")
            }
        }
        // A constant row: variance 0, output = bias.
        let flat = try Tensor(shape: [2, 4], repeating: 3)
        let b = try Tensor(shape: [4], scalars: [1, 2, 3, 4])
        try eachKernel { _ in XCTAssertEqual(try layerNorm(flat, weight: nil, bias: b).scalars, [1, 2, 3, 4, 1, 2, 3, 4]) }
    }

    func testLayerNormBackwardMatchesFiniteDifferences() throws {
        var rng = TestRNG(404)
        for (shape, axis) in [([3, 6], -1), ([2, 3, 4], 1), ([2, 2, 2, 3], -2)] {
            let x = try rng.tensor(shape, -2, 2)
            let a = axis < 0 ? axis + shape.count : axis
            let ns = Array(shape[a...])
            let w = try rng.tensor(ns, 0.5, 1.5), b = try rng.tensor(ns)
            let r = try rng.tensor(shape)
            let grads = try layerNormBackward(x, axis: axis, weight: w, gradOutput: r, eps: 1e-5, hasBias: true)
            let h: Float = 1e-2
            let dx = try centralDifferences(x, weights: r.scalars, h: h) { t in
                try withReferenceKernels { try layerNorm(t, axis: axis, weight: w, bias: b).scalars }
            }
            assertClose(grads.input.scalars, dx, abs: 2e-3, rel: 2e-3, "\(shape) axis \(axis) dx")
            let dw = try centralDifferences(w, weights: r.scalars, h: h) { t in
                try withReferenceKernels { try layerNorm(x, axis: axis, weight: t, bias: b).scalars }
            }
            assertClose(grads.weight!.scalars, dw, abs: 2e-3, rel: 2e-3, "\(shape) axis \(axis) dweight")
            let db = try centralDifferences(b, weights: r.scalars, h: h) { t in
                try withReferenceKernels { try layerNorm(x, axis: axis, weight: w, bias: t).scalars }
            }
            assertClose(grads.bias!.scalars, db, abs: 2e-3, rel: 2e-3, "\(shape) axis \(axis) dbias")
            // Without weight: the gradient of the plain normalization.
            let plain = try layerNormBackward(x, axis: axis, weight: nil, gradOutput: r, hasBias: false)
            XCTAssertNil(plain.weight)
            XCTAssertNil(plain.bias)
            let dx1 = try centralDifferences(x, weights: r.scalars, h: h) { t in
                try withReferenceKernels { try layerNorm(t, axis: axis).scalars }
            }
            assertClose(plain.input.scalars, dx1, abs: 2e-3, rel: 2e-3, "\(shape) axis \(axis) dx without weight")
        }
    }

    func testLayerNormBadInputsThrow() throws {
        let x = try Tensor(zeros: [2, 3, 4])
        assertThrows(.invalidArgument, "layerNorm", "axis") { try layerNorm(x, axis: 3) }
        assertThrows(.invalidArgument, "layerNorm", "eps") { try layerNorm(x, eps: 0) }
        assertThrows(.invalidArgument, "layerNorm", "eps") { try layerNorm(x, eps: .nan) }
        assertThrows(.shapeMismatch, "layerNorm", "weight", "[4]", "[3]") { try layerNorm(x, weight: try Tensor(zeros: [3])) }
        assertThrows(.shapeMismatch, "layerNorm", "bias", "[3, 4]") { try layerNorm(x, axis: 1, bias: try Tensor(zeros: [4])) }
        assertThrows(.shapeMismatch, "layerNormBackward", "gradOutput") {
            try layerNormBackward(x, weight: nil, gradOutput: try Tensor(zeros: [2, 3, 5]), hasBias: false)
        }
    }

    // MARK: Slice and gather

    func testSliceMatchesTheDefinition() throws {
        var rng = TestRNG(405)
        let big = Int.max, small = Int.min
        let bounds = [0, 1, 2, -1, -2, -7, 7, 100, big, small, -big, 3]
        for trial in 0..<300 {
            let shape = rng.shape(rank: rng.int(1...4), maxDim: 5)
            let x = try rng.tensor(shape)
            let k = rng.int(1...shape.count)
            var axes = Array(0..<shape.count)
            axes.shuffle(using: &rng)
            axes = Array(axes.prefix(k))
            let starts = axes.map { _ in bounds[rng.int(0...(bounds.count - 1))] }
            let ends = axes.map { _ in bounds[rng.int(0...(bounds.count - 1))] }
            let steps = axes.map { _ in [1, 2, 3, -1, -2, big, small][rng.int(0...6)] }
            // Negative axes half of the time.
            let given = axes.map { rng.int(0...1) == 0 ? $0 : $0 - shape.count }
            var picks = shape.map { Array(0..<$0) }
            for (j, a) in axes.enumerated() {
                picks[a] = onnxSliceIndices(size: shape[a], start: starts[j], end: ends[j], step: steps[j])
            }
            let what = "trial \(trial): \(shape) starts \(starts) ends \(ends) axes \(given) steps \(steps)"
            if picks.contains(where: \.isEmpty) {
                assertThrows(.shapeMismatch, "slice", "empty", context: what) {
                    try slice(x, starts: starts, ends: ends, axes: given, steps: steps)
                }
                continue
            }
            let y = try slice(x, starts: starts, ends: ends, axes: given, steps: steps)
            XCTAssertEqual(y.shape, picks.map(\.count), what)
            let strides = rowMajorStrides(shape), xs = x.scalars
            let want = (0..<y.count).map { i -> Float in
                let idx = unflatten(i, y.shape)
                return xs[zip(idx, picks).enumerated().reduce(0) { $0 + $1.element.1[$1.element.0] * strides[$1.offset] }]
            }
            XCTAssertEqual(y.scalars, want, what)
            // Backward: the gradient lands where the slice took from, 0 elsewhere.
            let g = try rng.tensor(y.shape)
            let dx = try sliceBackward(inputShape: shape, gradOutput: g, starts: starts, ends: ends, axes: given, steps: steps)
            var wantDx = [Float](repeating: 0, count: x.count)
            for i in 0..<y.count {
                let idx = unflatten(i, y.shape)
                wantDx[zip(idx, picks).enumerated().reduce(0) { $0 + $1.element.1[$1.element.0] * strides[$1.offset] }] = g.scalars[i]
            }
            XCTAssertEqual(dx.scalars, wantDx, what)
        }
        // Default axes (0, 1, …) and steps.
        let x = try Tensor(shape: [2, 3], scalars: [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(try slice(x, starts: [1, -2], ends: [2, big]).scalars, [4, 5])
        XCTAssertEqual(try slice(x, starts: [-1], ends: [small], axes: [1], steps: [-1]).scalars, [2, 1, 0, 5, 4, 3])
    }

    func testSliceBadInputsThrow() throws {
        let x = try Tensor(zeros: [2, 3])
        assertThrows(.invalidArgument, "slice", "steps must not be 0") { try slice(x, starts: [0], ends: [1], axes: [1], steps: [0]) }
        assertThrows(.invalidArgument, "slice", "axes must not repeat") { try slice(x, starts: [0, 0], ends: [1, 1], axes: [1, -1]) }
        assertThrows(.invalidArgument, "slice", "axes [2]", "must be in -2..<2") { try slice(x, starts: [0], ends: [1], axes: [2]) }
        assertThrows(.invalidArgument, "slice", "one entry per sliced axis") { try slice(x, starts: [0], ends: [1, 2]) }
        assertThrows(.invalidArgument, "slice", "at least one axis") { try slice(x, starts: [], ends: []) }
        assertThrows(.shapeMismatch, "slice", "empty", "axis 1") { try slice(x, starts: [2], ends: [1], axes: [1]) }
        assertThrows(.shapeMismatch, "slice", "empty") { try slice(x, starts: [5], ends: [Int.max], axes: [1]) }
        assertThrows(.shapeMismatch, "sliceBackward", "gradOutput") {
            try sliceBackward(inputShape: [2, 3], gradOutput: try Tensor(zeros: [2, 2]), starts: [0], ends: [1], axes: [1])
        }
    }

    func testGatherAndItsBackward() throws {
        let x = try Tensor(shape: [2, 3, 4], scalars: (0..<24).map(Float.init))
        // Axis 1, a [2, 2] block of indices with a repeat and a negative one.
        let y = try gather(x, axis: 1, indices: [2, 0, -1, 2], indicesShape: [2, 2])
        XCTAssertEqual(y.shape, [2, 2, 2, 4])
        let xs = x.scalars
        let want = (0..<y.count).map { i -> Float in
            let idx = unflatten(i, y.shape)
            let src = [2, 0, 2, 2][idx[1] * 2 + idx[2]]
            return xs[(idx[0] * 3 + src) * 4 + idx[3]]
        }
        XCTAssertEqual(y.scalars, want)
        // A scalar index removes the axis; the last axis.
        XCTAssertEqual(try gather(x, axis: -1, indices: [1], indicesShape: []).shape, [2, 3])
        XCTAssertEqual(try gather(x, axis: 2, indices: [1], indicesShape: []).scalars, stride(from: 1, to: 24, by: 4).map(Float.init))
        // Backward accumulates repeated indices.
        let g = try Tensor(shape: y.shape, repeating: 1)
        let dx = try gatherBackward(inputShape: [2, 3, 4], gradOutput: g, axis: 1, indices: [2, 0, -1, 2], indicesShape: [2, 2])
        XCTAssertEqual(dx.scalars, (0..<24).map { i -> Float in [1, 0, 3][(i / 4) % 3] })
        // Against finite differences (linear, so exact up to rounding).
        var rng = TestRNG(406)
        let xr = try rng.tensor([2, 5, 3]), w = try rng.tensor([2, 4, 3])
        let analytic = try gatherBackward(inputShape: [2, 5, 3], gradOutput: w, axis: 1, indices: [4, 1, 4, -5], indicesShape: [4])
        let numeric = try centralDifferences(xr, weights: w.scalars, h: 0.25) {
            try gather($0, axis: 1, indices: [4, 1, 4, -5], indicesShape: [4]).scalars
        }
        assertClose(analytic.scalars, numeric, abs: 1e-5, rel: 1e-5, "gather gradient")
    }

    func testGatherBadInputsThrow() throws {
        let x = try Tensor(zeros: [2, 3, 4])
        assertThrows(.invalidArgument, "gather", "index 3", "entry 1", "size 3") { try gather(x, axis: 1, indices: [0, 3], indicesShape: [2]) }
        assertThrows(.invalidArgument, "gather", "index -4") { try gather(x, axis: 1, indices: [-4], indicesShape: [1]) }
        assertThrows(.invalidArgument, "gather", "indices_shape", "2 indices") { try gather(x, axis: 1, indices: [0, 1], indicesShape: [3]) }
        assertThrows(.invalidArgument, "gather", "axis") { try gather(x, axis: 3, indices: [0], indicesShape: [1]) }
        assertThrows(.invalidArgument, "gather", "rank 5") { try gather(x, axis: 1, indices: [0, 1, 0, 1], indicesShape: [2, 2, 1]) }
        assertThrows(.shapeMismatch, "gatherBackward", "gradOutput") {
            try gatherBackward(inputShape: [2, 3, 4], gradOutput: x, axis: 1, indices: [0], indicesShape: [1])
        }
    }

    // MARK: Graphs

    /// A ConvNeXt-like block: conv → permute to channels-last → layer_norm → linear (rank 3)
    /// → gelu (erf) → linear → · layer_scale (a constant) → permute back → + the conv's
    /// output; then slice, gather, the new unary ops and a head.
    static let blockJSON = graphJSON("convnext_like", inputShape: [3, 6, 6], nodes: [
        #"{"name": "stem", "op": "conv2d", "inputs": ["input"], "attrs": {"in_channels": 3, "out_channels": 4, "kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}}"#,
        #"{"name": "to_last", "op": "transpose", "inputs": ["stem"], "attrs": {"perm": [0, 2, 3, 1]}}"#,
        #"{"name": "block.norm", "op": "layer_norm", "inputs": ["to_last"], "attrs": {"axis": -1, "epsilon": 1e-6}}"#,
        #"{"name": "block.pw1", "op": "linear", "inputs": ["block.norm"], "attrs": {"in_features": 4, "out_features": 8}}"#,
        #"{"name": "block.act", "op": "gelu", "inputs": ["block.pw1"]}"#,
        #"{"name": "block.pw2", "op": "linear", "inputs": ["block.act"], "attrs": {"in_features": 8, "out_features": 4, "bias": false}}"#,
        #"{"name": "block.layer_scale", "op": "constant", "inputs": [], "attrs": {"shape": [1, 1, 4]}}"#,
        #"{"name": "block.scaled", "op": "mul", "inputs": ["block.pw2", "block.layer_scale"]}"#,
        #"{"name": "to_first", "op": "transpose", "inputs": ["block.scaled"], "attrs": {"perm": [0, 3, 1, 2]}}"#,
        #"{"name": "sum", "op": "add", "inputs": ["stem", "to_first"]}"#,
        #"{"name": "crop", "op": "slice", "inputs": ["sum"], "attrs": {"starts": [1, -1], "ends": [9223372036854775807, -9223372036854775808], "axes": [2, -1], "steps": [2, -2]}}"#,
        #"{"name": "pick", "op": "gather", "inputs": ["crop"], "attrs": {"axis": 1, "indices": [3, 0, -1], "indices_shape": [3]}}"#,
        #"{"name": "sq", "op": "mul", "inputs": ["pick", "pick"]}"#,
        #"{"name": "root", "op": "sqrt", "inputs": ["sq"]}"#,
        #"{"name": "e", "op": "exp", "inputs": ["root"]}"#,
        #"{"name": "l", "op": "log", "inputs": ["e"]}"#,
        #"{"name": "n", "op": "neg", "inputs": ["l"]}"#,
        #"{"name": "a", "op": "abs", "inputs": ["n"]}"#,
        #"{"name": "one", "op": "constant", "inputs": [], "attrs": {"shape": [1, 1, 1]}}"#,
        #"{"name": "shifted", "op": "add", "inputs": ["a", "one"]}"#,
        #"{"name": "r", "op": "reciprocal", "inputs": ["shifted"]}"#,
        #"{"name": "er", "op": "erf", "inputs": ["r"]}"#,
        #"{"name": "flat", "op": "flatten", "inputs": ["er"]}"#,
        #"{"name": "fc", "op": "linear", "inputs": ["flat"], "attrs": {"in_features": 27, "out_features": 5}}"#,
    ], outputs: ["fc"])

    func testONNXOpsGraphRunsEverywhere() throws {
        let m = try Model.fromJSON(GraphOpsONNXTests.blockJSON)
        let names = m.parameterSpecs.map(\.name)
        XCTAssertEqual(names, ["stem.weight", "stem.bias", "block.norm.weight", "block.norm.bias", "block.pw1.weight",
                               "block.pw1.bias", "block.pw2.weight", "block.layer_scale", "one", "fc.weight", "fc.bias"])
        XCTAssertEqual(m.parameterSpecs[2].shape, [4])
        XCTAssertEqual(m.parameterSpecs[7].shape, [1, 1, 4])
        XCTAssertEqual(m.parameterSpecs[8].shape, [1, 1, 1])
        XCTAssertFalse(m.parameterSpecs[7].isBuffer)
        // The slice: rows 1, 3, 5; columns 5, 3, 1. The gather: channels 3, 0, 3.
        XCTAssertEqual(try m.outputShape(forInput: [2, 3, 6, 6]), [2, 5])
        let x = try randomTensor(11, [2, 3, 6, 6])
        let y = try m.forward(x)
        let yr = try withReferenceKernels { try m.forward(x) }
        XCTAssertLessThanOrEqual(maxDiff(y.scalars, yr.scalars), 1e-5)
        // Batch 1 and 3 plan separately and agree example by example.
        let y1 = try m.forward(try slice(x, starts: [1], ends: [2]))
        XCTAssertLessThanOrEqual(maxDiff(y1.scalars, Array(y.scalars[5...])), 1e-5)
        // The pieces by hand: named outputs.
        let outs = try m.forward(x, outputs: ["stem", "block.layer_scale", "block.scaled", "block.pw2", "sum", "crop", "pick"])
        let scale = try m.parameter("block.layer_scale")
        XCTAssertEqual(outs["block.layer_scale"]?.shape, [2, 1, 1, 4])
        XCTAssertEqual(outs["block.layer_scale"]?.scalars, scale.scalars + scale.scalars)
        XCTAssertEqual(outs["block.scaled"]?.scalars, try binary(.mul, outs["block.pw2"]!, try scale.reshaped([1, 1, 1, 4])).scalars)
        XCTAssertEqual(outs["crop"]?.scalars,
                       try slice(outs["sum"]!, starts: [1, 5], ends: [6, 0], axes: [2, 3], steps: [2, -2]).scalars)
        XCTAssertEqual(outs["pick"]?.scalars, try gather(outs["crop"]!, axis: 1, indices: [3, 0, 3], indicesShape: [3]).scalars)
        // The layer norm over channels, the rank-3 linear as rows.
        let stem = try transpose(outs["stem"]!, perm: [0, 2, 3, 1])
        let normed = try layerNorm(stem, weight: try m.parameter("block.norm.weight"), bias: try m.parameter("block.norm.bias"), eps: 1e-6)
        let pw1 = try linear(try normed.reshaped([72, 4]), weight: try m.parameter("block.pw1.weight"), bias: try m.parameter("block.pw1.bias"))
        let named = try m.forward(x, outputs: ["block.pw1"])["block.pw1"]!
        XCTAssertEqual(named.shape, [2, 6, 6, 8])
        XCTAssertLessThanOrEqual(maxDiff(named.scalars, pw1.scalars), 1e-6)
        // JSON round trip, the lowered graph, files.
        let again = try Architecture.fromJSON(try m.architecture.json())
        XCTAssertEqual(again, m.architecture)
        let lowered = try m.architecture.lowered()
        var ml = try Model(lowered)
        try ml.loadStateDict(Dictionary(uniqueKeysWithValues: m.stateDict()))
        XCTAssertEqual(try ml.forward(x).scalars, y.scalars)
        // The summary: parameters and MACs.
        let s = try m.summary()
        XCTAssertEqual(s.totalParameters, m.numParameters)
        let rows = Dictionary(s.rows.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(rows["block.layer_scale"]?.parameters, 4)
        XCTAssertEqual(rows["block.layer_scale"]?.type, "Constant")
        XCTAssertEqual(rows["block.norm"]?.parameters, 8)
        XCTAssertEqual(rows["block.norm"]?.type, "LayerNorm")
        XCTAssertEqual(rows["block.pw1"]?.macs, 36 * 4 * 8)
        XCTAssertEqual(rows["block.pw1"]?.outputShape, [1, 6, 6, 8])
        XCTAssertEqual(rows["crop"]?.outputShape, [1, 4, 3, 3])
        XCTAssertEqual(rows["pick"]?.type, "Gather")
        XCTAssertEqual(rows["er"]?.type, "Erf")
    }

    /// Gradients of L = Σ y ⊙ R vs central differences, for every parameter (the constants
    /// included) and the input path through slice, gather and the unary ops.
    func testONNXOpsGraphGradients() throws {
        var rng = TestRNG(407)
        var model = try Model.fromJSON(GraphOpsONNXTests.blockJSON, seed: 3)
        model.train()
        let x = try rng.tensor([2, 3, 6, 6])
        let r = try rng.tensor([2, 5])
        func loss(_ m: Model) throws -> Double {
            zip(try withReferenceKernels { try m.forward(x) }.scalars, r.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        var recorder = model
        let (out, tape) = try recorder.forwardRecording(x)
        XCTAssertLessThanOrEqual(maxDiff(out.scalars, try model.forward(x).scalars), 1e-5)
        let grads = try model.backward(tape, gradOutput: r)
        XCTAssertEqual(grads.names, model.parameterSpecs.map(\.name))
        let h: Float = 1e-2
        for p in model.parameterSpecs {
            let g = try XCTUnwrap(grads[p.name], p.name)
            XCTAssertEqual(g.shape, p.shape, p.name)
            let theta = try model.parameter(p.name).scalars
            let indices = theta.count <= 8 ? Array(0..<theta.count) : (0..<8).map { _ in rng.int(0...(theta.count - 1)) }
            var fd: [Double] = [], an: [Double] = []
            for i in indices {
                func shifted(_ d: Float) throws -> Model {
                    var m = model
                    var t = theta
                    t[i] += d
                    try m.setParameter(p.name, try Tensor(shape: p.shape, scalars: t))
                    return m
                }
                fd.append((try loss(try shifted(h)) - loss(try shifted(-h))) / (2 * Double(h)))
                an.append(Double(g.scalars[i]))
            }
            let err = zip(fd, an).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
            let size = max(fd.map { $0 * $0 }.reduce(0, +), an.map { $0 * $0 }.reduce(0, +)).squareRoot()
            XCTAssertLessThanOrEqual(err, 0.03 * size + 2e-3, "\(p.name) at \(indices): finite differences \(fd) vs backward \(an)")
        }
        // The constant's gradient is the batch sum of its output's.
        let one = try XCTUnwrap(grads["one"])
        XCTAssertEqual(one.shape, [1, 1, 1])
        // A few SGD steps lower the loss of a regression target.
        let target = try rng.tensor([2, 5])
        let opt = try Optimizer(.sgd(lr: 0.05), for: model)
        var first: Float = 0, last: Float = 0
        for step in 0..<15 {
            let (y, t) = try model.forwardRecording(x)
            let (l, dy) = try meanSquaredErrorLoss(y, target: target)
            if step == 0 { first = l }
            last = l
            try opt.step(&model, try model.backward(t, gradOutput: dy))
        }
        XCTAssertLessThan(last, first)
    }

    func testLinearOnAnyRankKeepsRank2Bitwise() throws {
        // [F] per example: the same bits as the linear op, planned and not.
        let flat = graphJSON("fc", inputShape: [7], nodes: [
            #"{"name": "fc", "op": "linear", "inputs": ["input"], "attrs": {"in_features": 7, "out_features": 3}}"#,
        ], outputs: ["fc"])
        let m = try Model.fromJSON(flat)
        let x = try randomTensor(5, [4, 7])
        let want = try linear(x, weight: try m.parameter("fc.weight"), bias: try m.parameter("fc.bias"))
        XCTAssertEqual(try m.forward(x).scalars, want.scalars)
        XCTAssertEqual(try withReferenceKernels { try m.forward(x) }.scalars,
                       try withReferenceKernels { try linear(x, weight: try m.parameter("fc.weight"), bias: try m.parameter("fc.bias")) }.scalars)
        // Rank 4 (per example [2, 3, 7]) is the rows of [N·6, 7].
        let deep = graphJSON("fc3", inputShape: [2, 3, 7], nodes: [
            #"{"name": "fc", "op": "linear", "inputs": ["input"], "attrs": {"in_features": 7, "out_features": 3}}"#,
        ], outputs: ["fc"])
        var md = try Model.fromJSON(deep)
        try md.loadStateDict(Dictionary(uniqueKeysWithValues: m.stateDict()))
        let xd = try randomTensor(6, [2, 2, 3, 7])
        let yd = try md.forward(xd)
        XCTAssertEqual(yd.shape, [2, 2, 3, 3])
        XCTAssertEqual(yd.scalars, try m.forward(try xd.reshaped([12, 7])).scalars)
        XCTAssertEqual(try md.summary().totalMACs, 6 * 7 * 3)
        // Backward: the rows' gradients.
        let g = try randomTensor(7, [2, 2, 3, 3])
        let (_, tape) = try md.forwardRecording(xd)
        let grads = try md.backward(tape, gradOutput: g)
        let rows = try linearBackward(try xd.reshaped([12, 7]), weight: try m.parameter("fc.weight"), gradOutput: try g.reshaped([12, 3]), hasBias: true)
        XCTAssertEqual(grads["fc.weight"]?.scalars, rows.weight.scalars)
        XCTAssertEqual(grads["fc.bias"]?.scalars, rows.bias?.scalars)
        // The last axis must match.
        assertThrows(.shapeMismatch, "fc", "7 input features in the last axis") {
            try Model.fromJSON(graphJSON("bad", inputShape: [7, 2], nodes: [
                #"{"name": "fc", "op": "linear", "inputs": ["input"], "attrs": {"in_features": 7, "out_features": 3}}"#,
            ], outputs: ["fc"]))
        }
    }

    func testLayerNormShapeIsFixedByTheInput() throws {
        // Over [H, W] of an any-size model: other sizes do not fit the weight.
        let json = #"{"version": 1, "name": "ln", "input_shape": [2, 4, 4], "any_input_size": true, "network": {"op": "graph", "name": "", "graph": {"inputs": ["input"], "nodes": [{"name": "ln", "op": "layer_norm", "inputs": ["input"], "attrs": {"axis": 2, "bias": false}}], "outputs": ["ln"]}}}"#
        let m = try Model.fromJSON(json)
        XCTAssertEqual(m.parameterSpecs.map(\.shape), [[4, 4]])
        XCTAssertEqual(m.parameterSpecs.map(\.name), ["ln.weight"])
        if case .graph(let g) = m.architecture.root {
            XCTAssertEqual(g.nodes[0].layer, .layerNorm(axis: 2, eps: 1e-5, bias: false, shape: [4, 4]))
        } else {
            XCTFail("not a graph")
        }
        assertThrows(.shapeMismatch, "ln", "[4, 4]", "[5, 4]") { try m.forward(try Tensor(zeros: [1, 2, 5, 4])) }
        // The written node has no shape; it reads back equal.
        let node = try m.architecture.root.jsonValue(name: "")
        XCTAssertFalse(try node.serialized().contains("shape"))
        XCTAssertEqual(try Architecture.fromJSON(try m.architecture.json()), m.architecture)
    }

    func testJSONRoundTripAndErrors() throws {
        let layers: [Layer] = [
            .constant(shape: [2, 3]), .layerNorm(axis: -2, eps: 1e-6, bias: false), .layerNorm(axis: 1, eps: 1e-5, bias: true),
            .slice(starts: [1], ends: [-1], axes: nil, steps: nil), .slice(starts: [0, 3], ends: [4, 0], axes: [2, 1], steps: [1, -1]),
            .gather(axis: 2, indices: [0, -1], indicesShape: [2]), .gather(axis: -1, indices: [1], indicesShape: []),
        ] + onnxUnaryOps.map { .unary($0) }
        for l in layers {
            let v = try l.jsonValue(name: "n")
            let text = try v.serialized()
            XCTAssertEqual(try Layer.fromJSON(v).layer, l, text)
        }
        // Huge bounds parse (clamped to ±2^53, the same slice of any tensor).
        let doc = try JSON.parse(#"{"name": "s", "op": "slice", "attrs": {"starts": [-9223372036854775808], "ends": [9223372036854775807], "steps": [1]}}"#,
                                 largeIntegersAsNumbers: true)
        XCTAssertEqual(try Layer.fromJSON(doc).layer, .slice(starts: [-(1 << 53)], ends: [1 << 53], axes: nil, steps: [1]))
        XCTAssertEqual(try Layer.fromJSON(try Layer.slice(starts: [Int.min], ends: [Int.max], axes: nil, steps: nil).jsonValue(name: "s")).layer,
                       .slice(starts: [-(1 << 53)], ends: [1 << 53], axes: nil, steps: nil))
        // Without the option the JSON reader still refuses them.
        assertThrows(.format, "outside ±2^53") { try JSON.parse("[9223372036854775807]") }

        func node(_ op: String, _ attrs: String, inputs: String = #"["input"]"#, inputShape: [Int] = [3, 4]) -> String {
            graphJSON("bad", inputShape: inputShape, nodes: [#"{"name": "x", "op": "\#(op)", "inputs": \#(inputs), "attrs": {\#(attrs)}}"#], outputs: ["x"])
        }
        let cases: [(String, SwiftCNNError.Kind, [String])] = [
            (node("constant", #""shape": [0]"#, inputs: "[]"), .format, ["\"x\"", "shape"]),
            (node("constant", #""shape": [1, 2, 3, 4]"#, inputs: "[]"), .format, ["x", "1 to 3 sizes"]),
            (node("constant", "", inputs: "[]"), .format, ["x", "\"shape\" is missing"]),
            (node("constant", #""shape": [3, 4]"#), .format, ["x", "takes 0 inputs"]),
            (node("layer_norm", #""axis": 0"#), .format, ["x", "batch axis"]),
            (node("layer_norm", #""axis": 3"#), .format, ["x", "axis 3 is out of range"]),
            (node("layer_norm", #""epsilon": 0"#), .format, ["x", "epsilon"]),
            (node("layer_norm", #""eps": 0.1"#), .format, ["x", "unknown attribute \"eps\""]),
            (node("slice", #""starts": [0], "ends": [1], "axes": [0]"#), .format, ["x", "batch axis"]),
            (node("slice", #""starts": [2], "ends": [1]"#), .format, ["x", "empty"]),
            (node("slice", #""starts": [0], "ends": [1], "steps": [0]"#), .format, ["x", "steps must not be 0"]),
            (node("slice", #""starts": [0, 0], "ends": [1]"#), .format, ["x", "one entry per sliced axis"]),
            (node("slice", #""starts": [0.5], "ends": [1]"#), .format, ["x", "\"starts\" must hold integers"]),
            (node("slice", #""starts": [0, 0], "ends": [1, 1], "axes": [1, -2]"#), .format, ["x", "axis 1 twice"]),
            (node("gather", #""axis": 1, "indices": [3], "indices_shape": [1]"#), .format, ["x", "index 3", "size 3"]),
            (node("gather", #""axis": 0, "indices": [0], "indices_shape": [1]"#), .format, ["x", "batch axis"]),
            (node("gather", #""axis": 1, "indices": [0, 1], "indices_shape": [3]"#), .format, ["x", "indices_shape", "2 indices"]),
            (node("gather", #""axis": 1, "indices": [0]"#), .format, ["x", "\"indices_shape\" is missing"]),
            (node("gather", #""axis": -1, "indices": [0], "indices_shape": []"#, inputShape: [4]), .format, ["x", "no axis but the batch"]),
            (node("erf", #""alpha": 1"#), .format, ["x", "unknown attribute \"alpha\""]),
        ]
        for (json, kind, fragments) in cases {
            do {
                _ = try Model.fromJSON(json)
                XCTFail("accepted: \(json)")
            } catch let e as SwiftCNNError {
                // Shape errors surface as .format from the reader or .invalidArgument /
                // .shapeMismatch from validation; every message names the node.
                XCTAssertTrue(e.kind == kind || e.kind == .invalidArgument || e.kind == .shapeMismatch, "\(e)")
                for f in fragments { XCTAssertTrue(e.message.contains(f), "\"\(e.message)\" lacks \"\(f)\"") }
            }
        }
        // A constant outside a graph has no batch to follow.
        assertThrows(.invalidArgument, "takes no inputs") {
            try Architecture(name: "c", inputShape: [3], root: .sequential([NamedLayer("c", .constant(shape: [3]))]))
        }
    }
}
