import XCTest
@testable import SwiftCNN

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// The tensor ops of the graph engine (Layers/Unary.swift, Broadcast.swift, Reductions.swift,
// Transform.swift, Upsample.swift): optimized kernels against the reference kernels,
// values against closed-form math, every backward against central finite differences, a
// few values against PyTorch, and bad inputs that must throw (not trap).

/// Values from PyTorch 2.13.0 (CPU, float32), printed by a throwaway script: the input
/// x = arange(12).reshape(1, 1, 3, 4) upsampled with torch.nn.functional.interpolate, and
/// x.grad for the upstream gradient g = arange(out.numel()) · 0.1 + 1. Compared with a
/// tolerance of 1e-5 absolute + 1e-5 relative.
struct UpsampleFixture {
    var mode: UpsampleMode
    var scales: (h: Double, w: Double)?
    var size: Size2D
    var y: [Float]
    var dx: [Float]
}

let torchUpsampleFixtures: [UpsampleFixture] = [
    UpsampleFixture(mode: .nearest, scales: (h: 2.0, w: 2.0), size: Size2D(6, 8),
                    y: [0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0, 5.0, 5.0, 6.0, 6.0, 7.0, 7.0, 4.0, 4.0, 5.0, 5.0, 6.0, 6.0, 7.0, 7.0, 8.0, 8.0, 9.0, 9.0, 10.0, 10.0, 11.0, 11.0, 8.0, 8.0, 9.0, 9.0, 10.0, 10.0, 11.0, 11.0],
                    dx: [5.800000190734863, 6.599999904632568, 7.40000057220459, 8.200000762939453, 12.200000762939453, 13.0, 13.80000114440918, 14.600000381469727, 18.600000381469727, 19.400001525878906, 20.200000762939453, 21.000001907348633]),
    UpsampleFixture(mode: .nearest, scales: (h: 1.5, w: 1.5), size: Size2D(4, 6),
                    y: [0.0, 0.0, 1.0, 2.0, 2.0, 3.0, 0.0, 0.0, 1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 5.0, 6.0, 6.0, 7.0, 8.0, 8.0, 9.0, 10.0, 10.0, 11.0],
                    dx: [5.399999618530273, 3.0, 6.599999904632568, 3.5999999046325684, 4.5, 2.4000000953674316, 5.099999904632568, 2.700000047683716, 5.700000286102295, 3.0, 6.300000190734863, 3.299999952316284]),
    UpsampleFixture(mode: .nearest, scales: nil, size: Size2D(5, 3),
                    y: [0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 4.0, 5.0, 6.0, 4.0, 5.0, 6.0, 8.0, 9.0, 10.0],
                    dx: [2.299999952316284, 2.5, 2.700000047683716, 0.0, 3.5, 3.700000047683716, 3.8999998569488525, 0.0, 2.200000047683716, 2.3000001907348633, 2.4000000953674316, 0.0]),
    UpsampleFixture(mode: .nearest, scales: (h: 1.7, w: 0.6), size: Size2D(5, 2),
                    y: [0.0, 1.0, 0.0, 1.0, 4.0, 5.0, 4.0, 5.0, 8.0, 9.0],
                    dx: [2.200000047683716, 2.4000000953674316, 0.0, 0.0, 3.0, 3.200000047683716, 0.0, 0.0, 1.7999999523162842, 1.9000000953674316, 0.0, 0.0]),
    UpsampleFixture(mode: .bilinear(alignCorners: false), scales: (h: 2.0, w: 2.0), size: Size2D(6, 8),
                    y: [0.0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.0, 1.0, 1.25, 1.75, 2.25, 2.75, 3.25, 3.75, 4.0, 3.0, 3.25, 3.75, 4.25, 4.75, 5.25, 5.75, 6.0, 5.0, 5.25, 5.75, 6.25, 6.75, 7.25, 7.75, 8.0, 7.0, 7.25, 7.75, 8.25, 8.75, 9.25, 9.75, 10.0, 8.0, 8.25, 8.75, 9.25, 9.75, 10.25, 10.75, 11.0],
                    dx: [6.25, 6.999999523162842, 7.800000190734863, 8.550000190734863, 12.25, 13.0, 13.80000114440918, 14.549999237060547, 18.25, 19.000001907348633, 19.799999237060547, 20.55000114440918]),
    UpsampleFixture(mode: .bilinear(alignCorners: false), scales: (h: 1.5, w: 1.5), size: Size2D(4, 6),
                    y: [0.0, 0.5, 1.1666667461395264, 1.8333333730697632, 2.5, 3.0, 2.0, 2.5, 3.1666667461395264, 3.8333334922790527, 4.5, 5.0, 4.6666669845581055, 5.1666669845581055, 5.833333969116211, 6.5, 7.1666669845581055, 7.666666507720947, 7.333333492279053, 7.833333492279053, 8.5, 9.166666984558105, 9.833333969116211, 10.333333969116211],
                    dx: [2.7749998569488525, 3.0999999046325684, 3.4250001907348633, 3.749999761581421, 4.724999904632568, 5.049999237060547, 5.374999523162842, 5.69999885559082, 4.100000381469727, 4.316666603088379, 4.533334255218506, 4.750000476837158]),
    UpsampleFixture(mode: .bilinear(alignCorners: false), scales: nil, size: Size2D(5, 3),
                    y: [0.1666666865348816, 1.5, 2.8333334922790527, 1.7666667699813843, 3.1000001430511475, 4.433333873748779, 4.166666507720947, 5.5, 6.833333492279053, 6.566667556762695, 7.90000057220459, 9.2333345413208, 8.166666030883789, 9.5, 10.833333015441895],
                    dx: [1.4833332300186157, 1.2666666507720947, 1.3199996948242188, 1.7500003576278687, 2.3999998569488525, 2.0099997520446777, 2.0699994564056396, 2.700000286102295, 2.7833337783813477, 2.3066670894622803, 2.359999656677246, 3.0500006675720215]),
    UpsampleFixture(mode: .bilinear(alignCorners: false), scales: (h: 1.7, w: 0.6), size: Size2D(5, 2),
                    y: [0.3333333134651184, 2.0, 1.8627452850341797, 3.529412031173706, 4.215686321258545, 5.88235330581665, 6.568627834320068, 8.235294342041016, 8.333333015441895, 10.0],
                    dx: [1.1882352828979492, 0.5941175818443298, 1.9470586776733398, 0.0, 1.682353138923645, 0.8411765098571777, 2.7029411792755127, 0.0, 1.7960784435272217, 0.8980391621589661, 2.8500001430511475, 0.0]),
    UpsampleFixture(mode: .bilinear(alignCorners: true), scales: (h: 2.0, w: 2.0), size: Size2D(6, 8),
                    y: [0.0, 0.4285714328289032, 0.8571428656578064, 1.2857142686843872, 1.7142857313156128, 2.142857074737549, 2.5714285373687744, 3.0, 1.600000023841858, 2.028571367263794, 2.4571428298950195, 2.885714292526245, 3.3142857551574707, 3.7428572177886963, 4.171428680419922, 4.599999904632568, 3.200000047683716, 3.6285715103149414, 4.057142734527588, 4.485714435577393, 4.914285659790039, 5.342857360839844, 5.77142858505249, 6.199999809265137, 4.800000190734863, 5.22857141494751, 5.6571431159973145, 6.085714340209961, 6.514286041259766, 6.94285774230957, 7.371428489685059, 7.800000190734863, 6.400000095367432, 6.82857084274292, 7.257143020629883, 7.6857147216796875, 8.114286422729492, 8.54285717010498, 8.971428871154785, 9.399999618530273, 8.0, 8.428571701049805, 8.85714340209961, 9.285714149475098, 9.714285850524902, 10.14285659790039, 10.571428298950195, 11.0],
                    dx: [4.611428260803223, 6.920000076293945, 7.845715045928955, 6.462856769561768, 12.548569679260254, 17.76000213623047, 18.994287490844727, 15.017141342163086, 14.21142864227295, 19.720001220703125, 20.64571762084961, 16.062856674194336]),
    UpsampleFixture(mode: .bilinear(alignCorners: true), scales: (h: 1.5, w: 1.5), size: Size2D(4, 6),
                    y: [0.0, 0.6000000238418579, 1.2000000476837158, 1.8000000715255737, 2.4000000953674316, 3.0, 2.6666667461395264, 3.266666889190674, 3.866666793823242, 4.466667175292969, 5.066666603088379, 5.6666669845581055, 5.333333492279053, 5.933333396911621, 6.5333333015441895, 7.133333683013916, 7.733333587646484, 8.333333969116211, 8.0, 8.600000381469727, 9.199999809265137, 9.800000190734863, 10.399999618530273, 11.0],
                    dx: [2.1999998092651367, 2.8266663551330566, 3.1466665267944336, 3.0266666412353516, 3.5999999046325684, 4.426666259765625, 4.74666690826416, 4.426666736602783, 5.0, 6.026666641235352, 6.3466668128967285, 5.826666831970215]),
    UpsampleFixture(mode: .bilinear(alignCorners: true), scales: nil, size: Size2D(5, 3),
                    y: [0.0, 1.5, 3.0, 2.0, 3.5, 5.0, 4.0, 5.5, 7.0, 6.0, 7.5, 9.0, 8.0, 9.5, 11.0],
                    dx: [1.649999976158142, 0.8999999761581421, 0.8999999761581421, 1.9500000476837158, 3.200000047683716, 1.7000000476837158, 1.7000000476837158, 3.5999999046325684, 3.1500000953674316, 1.6500000953674316, 1.6500000953674316, 3.450000047683716]),
    UpsampleFixture(mode: .bilinear(alignCorners: true), scales: (h: 1.7, w: 0.6), size: Size2D(5, 2),
                    y: [0.0, 3.0, 2.0, 5.0, 4.0, 7.0, 6.0, 9.0, 8.0, 11.0],
                    dx: [1.600000023841858, 0.0, 0.0, 1.75, 2.799999952316284, 0.0, 0.0, 3.0, 2.5999999046325684, 0.0, 0.0, 2.75]),
]

/// Values from PyTorch 2.13.0 (CPU, float32) at x = [-4, -3, -2.5, -0.5, 0, 0.5, 2.5, 3, 4, NaN]:
/// (op, y = f(x), x.grad for an upstream gradient of ones). The ops: F.hardswish, F.hardsigmoid,
/// F.gelu, F.gelu(approximate="tanh"), F.relu6, F.leaky_relu(0.1), F.silu, torch.sigmoid,
/// F.hardtanh(-0.5, 2.5). The gradients at ±3, 0 and the clip bounds are torch's choices at the kinks.
/// Compared with a tolerance of 1e-6 absolute + 1e-5 relative (NaN must match NaN).
let torchUnaryFixtures: [(UnaryOp, [Float], [Float])] = [
    (.hardswish, [-0.0, -0.0, -0.2083333283662796, -0.2083333283662796, 0.0, 0.2916666567325592, 2.2916667461395264, 3.0, 4.0, .nan],
     [0.0, 0.0, -0.3333333134651184, 0.3333333134651184, 0.5, 0.6666666865348816, 1.3333332538604736, 1.0, 1.0, 1.0]),
    (.hardsigmoid(alpha: 1.0 / 6, beta: 0.5), [0.0, 0.0, 0.0833333358168602, 0.4166666567325592, 0.5, 0.5833333134651184, 0.9166666865348816, 1.0, 1.0, .nan],
     [0.0, 0.0, 0.1666666716337204, 0.1666666716337204, 0.1666666716337204, 0.1666666716337204, 0.1666666716337204, 0.0, 0.0, 0.0]),
    (.gelu(tanh: false), [-0.0001264810562133789, -0.004050225019454956, -0.015524178743362427, -0.1542687714099884, 0.0, 0.3457312285900116, 2.48447585105896, 2.9959497451782227, 3.999873638153076, .nan],
     [-0.0005036294460296631, -0.011945605278015137, -0.03761106729507446, 0.1325049102306366, 0.5, 0.867495059967041, 1.0376110076904297, 1.0119456052780151, 1.000503659248352, .nan]),
    (.gelu(tanh: true), [-7.021427154541016e-05, -0.0036374330520629883, -0.015084296464920044, -0.1542859971523285, 0.0, 0.3457140028476715, 2.4849157333374023, 2.9963626861572266, 3.999929904937744, .nan],
     [-0.00033497207914479077, -0.011584296822547913, -0.03795165196061134, 0.1326301097869873, 0.5, 0.8673698902130127, 1.0379517078399658, 1.0115842819213867, 1.0003349781036377, .nan]),
    (.clip(min: 0, max: 6), [0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 2.5, 3.0, 4.0, .nan],
     [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0]),
    (.leakyReLU(alpha: 0.1), [-0.4000000059604645, -0.30000001192092896, -0.25, -0.05000000074505806, 0.0, 0.5, 2.5, 3.0, 4.0, .nan],
     [0.10000000149011612, 0.10000000149011612, 0.10000000149011612, 0.10000000149011612, 0.10000000149011612, 1.0, 1.0, 1.0, 1.0, 0.10000000149011612]),
    (.silu, [-0.07194484025239944, -0.14227761328220367, -0.189645454287529, -0.1887703388929367, 0.0, 0.3112296760082245, 2.310354471206665, 2.857722520828247, 3.9280550479888916, .nan],
     [-0.052664611488580704, -0.08810410648584366, -0.09940110892057419, 0.260038822889328, 0.5, 0.7399612069129944, 1.0994011163711548, 1.0881041288375854, 1.0526646375656128, .nan]),
    (.sigmoid, [0.01798621006309986, 0.04742587357759476, 0.07585817575454712, 0.3775406777858734, 0.5, 0.622459352016449, 0.9241418242454529, 0.9525741338729858, 0.9820137619972229, .nan],
     [0.01766270585358143, 0.045176658779382706, 0.0701037123799324, 0.23500370979309082, 0.25, 0.23500370979309082, 0.0701037123799324, 0.04517665505409241, 0.017662733793258667, .nan]),
    (.clip(min: -0.5, max: 2.5), [-0.5, -0.5, -0.5, -0.5, 0.0, 0.5, 2.5, 2.5, 2.5, .nan],
     [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0]),
]

// MARK: - Helpers

/// Equal bit for bit, except that any NaN matches any NaN.
private func sameValues(_ a: [Float], _ b: [Float]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
}

/// Equal as numbers (so 0 matches −0: a sum that starts at +0 loses a −0 term's sign),
/// any NaN matching any NaN.
private func sameNumbers(_ a: [Float], _ b: [Float]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }
}

/// The first index where `a` and `b` differ by more than `tol(i)` (NaN only matches NaN), or nil.
private func firstMismatch(_ a: [Float], _ b: [Float], _ tol: (Int) -> Float) -> Int? {
    guard a.count == b.count else { return 0 }
    for i in 0..<a.count {
        if a[i].isNaN || b[i].isNaN {
            if a[i].isNaN != b[i].isNaN { return i }
            continue
        }
        if a[i] == b[i] { continue }   // also equal infinities
        if !(abs(a[i] - b[i]) <= tol(i)) { return i }
    }
    return nil
}

/// Σ a·b in Double.
private func dot(_ a: [Float], _ b: [Float]) -> Double {
    zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) }
}

/// Central finite differences of L(x) = Σ w · f(x), in Double, with respect to every element
/// of x (the step is the float difference actually taken).
private func numericGradient(_ x: Tensor, weights w: [Float], h: Float = 1.0 / 128,
                             _ f: (Tensor) throws -> [Float]) throws -> [Double] {
    let xs = x.scalars
    var grad: [Double] = []
    for i in 0..<xs.count {
        var p = xs, m = xs
        p[i] += h; m[i] -= h
        let lp = dot(try f(Tensor(shape: x.shape, scalars: p)), w)
        let lm = dot(try f(Tensor(shape: x.shape, scalars: m)), w)
        grad.append((lp - lm) / Double(p[i] - m[i]))
    }
    return grad
}

/// Runs `body` twice, with the optimized kernels and with the reference kernels, labelling failures.
private func forBothKernels(_ body: (String) throws -> Void) rethrows {
    try body("optimized")
    try withReferenceKernels { try body("reference") }
}

/// Elements of a tensor of `shape` with values far apart (a shuffled 0.1·k grid plus noise
/// below 0.01), so that maxima are unique and a finite-difference step does not reorder them.
private func distinctTensor(_ shape: [Int], _ rng: inout TestRNG) throws -> Tensor {
    let n = shape.reduce(1, *)
    var v = (0..<n).map { Float($0) * 0.1 - Float(n) * 0.05 }
    v.shuffle(using: &rng)
    return try Tensor(shape: shape, scalars: v.map { $0 + rng.float(0, 0.01) })
}

/// Every op of ``UnaryOp`` with a few parameter choices.
private let allUnaryOps: [UnaryOp] = [
    .sigmoid, .silu, .hardswish, .hardsigmoid(alpha: 1.0 / 6, beta: 0.5), .hardsigmoid(alpha: 0.2, beta: 0.5),
    .hardsigmoid(alpha: -0.3, beta: 0.25), .clip(min: 0, max: 6), .clip(min: -.infinity, max: 1.5),
    .clip(min: -2, max: .infinity), .clip(min: 1, max: 1), .leakyReLU(alpha: 0.01), .leakyReLU(alpha: -0.5),
    .gelu(tanh: false), .gelu(tanh: true),
]

/// Whether `op`'s optimized kernels equal the reference bit for bit.
private func isBitwise(_ op: UnaryOp) -> Bool {
    switch op {
    case .sigmoid, .silu: false
    case .gelu(let t): !t
    default: true
    }
}

/// The places where `op`'s derivative jumps (finite-difference checks stay away from them).
private func kinks(_ op: UnaryOp) -> [Float] {
    switch op {
    case .hardswish: [-3, 3]
    case .hardsigmoid(let a, let b): [-b / a, (1 - b) / a]
    case .clip(let lo, let hi): [lo, hi]
    case .leakyReLU: [0]
    default: []
    }
}

final class GraphOpsTests: XCTestCase {
    // MARK: Unary

    func testUnaryOptimizedMatchesReference() throws {
        var rng = TestRNG(101)
        let specials: [Float] = [.nan, .infinity, -.infinity, 0, -0.0, -3, 3, 6, -6, 1, -1, 1.5, -2, 0.5, 100, -100, 20, -20,
                                 Float.leastNonzeroMagnitude, -Float.greatestFiniteMagnitude]
        for count in [1, 7, 15, 16, 17, 31, 33, 100, 1000, 4099, 200_003] {
            var v = (0..<count).map { _ in rng.float(-12, 12) }
            for (i, s) in specials.enumerated() where i < count { v[(i * 7919) % count] = s }
            let x = try Tensor(shape: [count], scalars: v)
            let g = try rng.tensor([count], -2, 2)
            for op in allUnaryOps {
                // One copy of each result: `Tensor.scalars` copies the elements on every read.
                let yt = try unary(op, x), dxt = try unaryBackward(op, input: x, gradOutput: g)
                XCTAssertEqual(yt.shape, x.shape)
                XCTAssertEqual(dxt.shape, x.shape)
                let y = yt.scalars, dx = dxt.scalars
                let yr = try withReferenceKernels { try unary(op, x) }.scalars
                let dxr = try withReferenceKernels { try unaryBackward(op, input: x, gradOutput: g) }.scalars
                if isBitwise(op) {
                    XCTAssertTrue(sameValues(y, yr), "\(op) forward, count \(count)")
                } else {
                    let bad = firstMismatch(y, yr) { 1e-6 * max(1, abs(v[$0])) + 1e-5 * abs(yr[$0]) }
                    XCTAssertNil(bad, "\(op) forward, count \(count): x \(bad.map { v[$0] } ?? 0) got \(bad.map { y[$0] } ?? 0) want \(bad.map { yr[$0] } ?? 0)")
                }
                if isBitwise(op) || op == .gelu(tanh: true) {
                    XCTAssertTrue(sameValues(dx, dxr), "\(op) backward, count \(count)")
                } else {
                    let bad = firstMismatch(dx, dxr) { 2e-6 * max(1, abs(v[$0])) + 1e-5 * abs(dxr[$0]) }
                    XCTAssertNil(bad, "\(op) backward, count \(count): x \(bad.map { v[$0] } ?? 0) got \(bad.map { dx[$0] } ?? 0) want \(bad.map { dxr[$0] } ?? 0)")
                }
            }
        }
    }

    func testUnaryClosedForms() throws {
        let xs: [Float] = [-4, -3, -1.25, -0.5, 0, 0.75, 2, 3, 5]
        let x = try Tensor(shape: [xs.count], scalars: xs)
        let d = xs.map(Double.init)
        func sig(_ v: Double) -> Double { 1 / (1 + Glibc.exp(-v)) }
        let cases: [(UnaryOp, (Double) -> Double)] = [
            (.sigmoid, sig),
            (.silu, { $0 * sig($0) }),
            (.hardswish, { $0 * min(max($0 + 3, 0), 6) / 6 }),
            (.hardsigmoid(alpha: 0.2, beta: 0.5), { min(max(0.2 * $0 + 0.5, 0), 1) }),
            (.clip(min: -1, max: 2.5), { min(max($0, -1), 2.5) }),
            (.leakyReLU(alpha: 0.01), { $0 > 0 ? $0 : 0.01 * $0 }),
            (.gelu(tanh: false), { 0.5 * $0 * (1 + Glibc.erf($0 / 2.0.squareRoot())) }),
            (.gelu(tanh: true), { 0.5 * $0 * (1 + Glibc.tanh((2 / Double.pi).squareRoot() * ($0 + 0.044715 * $0 * $0 * $0))) }),
        ]
        try forBothKernels { kernels in
            for (op, f) in cases {
                assertClose(try unary(op, x).scalars, d.map(f), abs: 1e-6, rel: 1e-5, "\(kernels) \(op)")
            }
            // ReLU6 and infinite bounds.
            let big = try Tensor(shape: [4], scalars: [-1e30, -1, 7, 1e30])
            XCTAssertEqual(try unary(.clip(min: 0, max: 6), big).scalars, [0, 0, 6, 6])
            XCTAssertEqual(try unary(.clip(min: -.infinity, max: 1), big).scalars, [-1e30, -1, 1, 1])
            XCTAssertEqual(try unary(.clip(min: -.infinity, max: .infinity), big).scalars, big.scalars)
            // Large inputs stay finite.
            let ext = try Tensor(shape: [4], scalars: [-1000, -90, 90, 1000])
            XCTAssertEqual(try unary(.silu, ext).scalars[3], 1000)
            XCTAssertEqual(try unary(.silu, ext).scalars[0], 0)
            XCTAssertEqual(try unary(.gelu(tanh: true), ext).scalars, [0, 0, 90, 1000])
            XCTAssertEqual(try unary(.gelu(tanh: false), ext).scalars, [0, 0, 90, 1000])
        }
    }

    func testUnaryMatchesTorch() throws {
        let xs: [Float] = [-4, -3, -2.5, -0.5, 0, 0.5, 2.5, 3, 4, .nan]
        let x = try Tensor(shape: [xs.count], scalars: xs)
        let ones = try Tensor(shape: [xs.count], repeating: 1)
        try forBothKernels { kernels in
            for (op, wantY, wantDx) in torchUnaryFixtures {
                let y = try unary(op, x).scalars, dx = try unaryBackward(op, input: x, gradOutput: ones).scalars
                let by = firstMismatch(y, wantY) { 1e-6 + 1e-5 * abs(wantY[$0]) }
                XCTAssertNil(by, "\(kernels) \(op) forward at x = \(by.map { xs[$0] } ?? 0): \(y) vs torch \(wantY)")
                let bd = firstMismatch(dx, wantDx) { 1e-6 + 1e-5 * abs(wantDx[$0]) }
                XCTAssertNil(bd, "\(kernels) \(op) backward at x = \(bd.map { xs[$0] } ?? 0): \(dx) vs torch \(wantDx)")
            }
        }
    }

    func testUnaryBackwardMatchesFiniteDifferences() throws {
        var rng = TestRNG(102)
        let h: Float = 1.0 / 128
        try forBothKernels { kernels in
            for op in allUnaryOps {
                if case .clip(let lo, let hi) = op, lo == hi { continue }   // constant: gradient 0, checked below
                var v: [Float] = []
                while v.count < 24 {
                    let c = rng.float(-6, 6)
                    if kinks(op).allSatisfy({ abs(c - $0) > 4 * h }) { v.append(c) }
                }
                let x = try Tensor(shape: [2, 3, 4], scalars: v)
                let w = try rng.tensor([2, 3, 4], -1, 1)
                let analytic = try unaryBackward(op, input: x, gradOutput: w).scalars
                let numeric = try numericGradient(x, weights: w.scalars, h: h) { try unary(op, $0).scalars }
                assertClose(analytic, numeric, abs: 2e-3, rel: 2e-3, "\(kernels) \(op) gradient")
            }
            let x = try rng.tensor([5], -3, 3)
            XCTAssertEqual(try unaryBackward(.clip(min: 1, max: 1), input: x, gradOutput: x).scalars, [0, 0, 0, 0, 0])
        }
    }

    func testUnaryBadInputsThrow() throws {
        let x = try Tensor(zeros: [2, 3])
        assertThrows(.invalidArgument, "unary clip", "min must not exceed max") { try unary(.clip(min: 2, max: 1), x) }
        assertThrows(.invalidArgument, "unary clip", "NaN") { try unary(.clip(min: .nan, max: 1), x) }
        assertThrows(.invalidArgument, "unary clip", "NaN") { try unary(.clip(min: 0, max: .nan), x) }
        assertThrows(.invalidArgument, "unary leakyReLU", "alpha") { try unary(.leakyReLU(alpha: .nan), x) }
        assertThrows(.invalidArgument, "unary leakyReLU", "alpha") { try unary(.leakyReLU(alpha: .infinity), x) }
        assertThrows(.invalidArgument, "unary hardsigmoid", "beta") { try unary(.hardsigmoid(alpha: 0.2, beta: .infinity), x) }
        assertThrows(.invalidArgument, "unaryBackward clip") { try unaryBackward(.clip(min: 2, max: 1), input: x, gradOutput: x) }
        assertThrows(.shapeMismatch, "unaryBackward", "[2, 3]", "[3, 2]") {
            try unaryBackward(.silu, input: x, gradOutput: try Tensor(zeros: [3, 2]))
        }
    }

    // MARK: Broadcasting binary ops

    /// Shape pairs that broadcast: the graph engine's patterns and random ones.
    private func broadcastPairs(_ rng: inout TestRNG) -> [([Int], [Int])] {
        var pairs: [([Int], [Int])] = [
            ([2, 3, 4, 5], [2, 3, 1, 1]), ([2, 3, 1, 1], [2, 3, 4, 5]), ([1], [2, 3, 4, 5]), ([2, 3, 4, 5], [1]),
            ([3, 1, 5], [4, 1]), ([4, 1], [3, 1, 5]), ([2, 3, 4, 5], [2, 3, 4, 5]), ([17], [17]), ([1, 33], [1, 33]),
            ([5], [3, 5]), ([3, 1], [1, 4]), ([2, 1, 4, 1], [1, 3, 1, 5]), ([4, 1, 1], [4, 6, 7]), ([1, 1], [1]),
            ([2, 7, 9, 11], [1, 7, 1, 1]), ([2, 7, 9, 11], [11]), ([2, 7, 9, 11], [9, 1]), ([1, 1, 1, 1], [3, 1, 2, 1]),
            ([2, 19, 5, 37], [2, 19, 1, 1]), ([2, 64, 56, 56], [2, 64, 1, 1]),
        ]
        for _ in 0..<40 {
            let out = rng.shape(rank: rng.int(1...4), maxDim: 6)
            func operand(_ rng: inout TestRNG) -> [Int] {
                let drop = rng.int(0...(out.count - 1))
                let s = out[drop...].map { rng.int(0...2) == 0 ? 1 : $0 }
                return s
            }
            pairs.append((operand(&rng), operand(&rng)))
        }
        return pairs
    }

    /// a op b computed in the test by explicit index arithmetic (Float, as the ops).
    private func naiveBinary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, _ out: [Int]) -> [Float] {
        let n = out.reduce(1, *), av = a.scalars, bv = b.scalars
        func index(_ idx: [Int], _ shape: [Int]) -> Int {
            let k = shape.count, off = idx.count - k
            var f = 0
            for i in 0..<k { f = f * shape[i] + (shape[i] == 1 ? 0 : idx[off + i]) }
            return f
        }
        return (0..<n).map { i in
            let idx = unflatten(i, out)
            let x = av[index(idx, a.shape)], y = bv[index(idx, b.shape)]
            switch op {
            case .add: return x + y
            case .sub: return x - y
            case .mul: return x * y
            case .div: return x / y
            }
        }
    }

    func testBroadcastShapeRules() throws {
        XCTAssertEqual(try broadcastShape([2, 3, 4, 5], [2, 3, 1, 1]), [2, 3, 4, 5])
        XCTAssertEqual(try broadcastShape([1], [2, 3, 4, 5]), [2, 3, 4, 5])
        XCTAssertEqual(try broadcastShape([3, 1, 5], [4, 1]), [3, 4, 5])
        XCTAssertEqual(try broadcastShape([5], [3, 1]), [3, 5])
        XCTAssertEqual(try broadcastShape([1, 1], [1]), [1, 1])
        assertThrows(.shapeMismatch, "broadcastShape", "[2, 3]", "[4]") { try broadcastShape([2, 3], [4]) }
        assertThrows(.shapeMismatch, "[2, 3, 4, 5]", "[2, 2, 1, 1]") { try broadcastShape([2, 3, 4, 5], [2, 2, 1, 1]) }
        assertThrows(.invalidArgument, "broadcastShape", "at least 1") { try broadcastShape([2, 0], [2, 1]) }
        assertThrows(.invalidArgument, "broadcastShape", "at least 1") { try broadcastShape([2, 1], [-3]) }
        assertThrows(.invalidArgument, "broadcastShape", "rank") { try broadcastShape([], [2]) }
        assertThrows(.invalidArgument, "broadcastShape", "rank") { try broadcastShape([1, 1, 1, 1, 1], [2]) }
        assertThrows(.invalidArgument, "broadcastShape", "overflows") { try broadcastShape([Int.max, 2], [1]) }
        assertThrows(.invalidArgument, "broadcastShape", "overflows") {
            try broadcastShape([1 << 40, 1, 1 << 40, 1], [1, 1 << 40, 1, 1 << 40])
        }
    }

    func testBinaryOptimizedMatchesReferenceAndIndexing() throws {
        var rng = TestRNG(103)
        for (sa, sb) in broadcastPairs(&rng) {
            let out = try broadcastShape(sa, sb)
            var a = try rng.tensor(sa, -3, 3), b = try rng.tensor(sb, -3, 3)
            if b.count > 3 {   // a zero divisor and a NaN: IEEE results either way
                var v = b.scalars; v[1] = 0; v[2] = .nan; b = try Tensor(shape: sb, scalars: v)
            }
            if a.count > 2 { var v = a.scalars; v[0] = .infinity; a = try Tensor(shape: sa, scalars: v) }
            for op in [BinaryOp.add, .sub, .mul, .div] {
                let y = try binary(op, a, b), yr = try withReferenceKernels { try binary(op, a, b) }
                XCTAssertEqual(y.shape, out)
                XCTAssertTrue(sameValues(y.scalars, yr.scalars), "\(op) \(sa) × \(sb): optimized vs reference")
                if out.reduce(1, *) < 100_000 {
                    XCTAssertTrue(sameValues(yr.scalars, naiveBinary(op, a, b, out)), "\(op) \(sa) × \(sb): reference vs indexing")
                }
            }
        }
        // Long enough for the rows to be split over the threads.
        let a = try rng.tensor([1, 8, 512, 1025]), b = try rng.tensor([1, 8, 1, 1])
        let y = try binary(.mul, a, b), yr = try withReferenceKernels { try binary(.mul, a, b) }
        XCTAssertTrue(sameValues(y.scalars, yr.scalars), "mul [1, 8, 512, 1025] × [1, 8, 1, 1]")
        let (da, db) = try binaryBackward(.div, a, b, gradOutput: y)
        let (dar, dbr) = try withReferenceKernels { try binaryBackward(.div, a, b, gradOutput: y) }
        XCTAssertTrue(sameNumbers(da.scalars, dar.scalars), "div backward dA, long")
        XCTAssertLessThan(maxDiff(db.scalars, dbr.scalars), 1e-5 * max(1, dbr.scalars.map(abs).max()!))
    }

    func testBinaryBackwardOptimizedMatchesReference() throws {
        var rng = TestRNG(104)
        for (sa, sb) in broadcastPairs(&rng) {
            let out = try broadcastShape(sa, sb)
            let a = try rng.tensor(sa, -3, 3)
            let b = try Tensor(shape: sb, scalars: (0..<sb.reduce(1, *)).map { _ in
                rng.float(0.5, 2) * (rng.int(0...1) == 0 ? -1 : 1) })
            let g = try rng.tensor(out, -1, 1)
            for op in [BinaryOp.add, .sub, .mul, .div] {
                let (da, db) = try binaryBackward(op, a, b, gradOutput: g)
                let (dar, dbr) = try withReferenceKernels { try binaryBackward(op, a, b, gradOutput: g) }
                XCTAssertEqual(da.shape, sa); XCTAssertEqual(db.shape, sb)
                XCTAssertEqual(dar.shape, sa); XCTAssertEqual(dbr.shape, sb)
                // Summed terms: the optimized sums round differently (float blocks).
                let terms = Float(out.reduce(1, *) / max(1, min(sa.reduce(1, *), sb.reduce(1, *))))
                let tol: Float = 1e-6 * max(1, terms.squareRoot()) * 8
                let ba = firstMismatch(da.scalars, dar.scalars) { _ in tol }
                let bb = firstMismatch(db.scalars, dbr.scalars) { _ in tol }
                XCTAssertNil(ba, "\(op) \(sa) × \(sb): dA optimized vs reference")
                XCTAssertNil(bb, "\(op) \(sa) × \(sb): dB optimized vs reference")
                if sa == out { XCTAssertTrue(sameNumbers(da.scalars, dar.scalars), "\(op) \(sa) × \(sb): dA not summed, bitwise") }
                if sb == out { XCTAssertTrue(sameNumbers(db.scalars, dbr.scalars), "\(op) \(sa) × \(sb): dB not summed, bitwise") }
            }
        }
    }

    func testBinaryBackwardMatchesFiniteDifferences() throws {
        var rng = TestRNG(105)
        let pairs: [([Int], [Int])] = [([2, 3, 4, 5], [2, 3, 1, 1]), ([1], [2, 3, 2, 2]), ([3, 1, 5], [4, 1]),
                                       ([2, 3], [2, 3]), ([4, 1, 3], [1, 2, 1]), ([2, 1, 3, 1], [1, 2, 1, 2])]
        try forBothKernels { kernels in
            for (sa, sb) in pairs {
                let out = try broadcastShape(sa, sb)
                let a = try rng.tensor(sa, -2, 2)
                let b = try Tensor(shape: sb, scalars: (0..<sb.reduce(1, *)).map { _ in
                    rng.float(0.5, 2) * (rng.int(0...1) == 0 ? -1 : 1) })
                let w = try rng.tensor(out, -1, 1)
                for op in [BinaryOp.add, .sub, .mul, .div] {
                    let (da, db) = try binaryBackward(op, a, b, gradOutput: w)
                    let na = try numericGradient(a, weights: w.scalars) { try binary(op, $0, b).scalars }
                    let nb = try numericGradient(b, weights: w.scalars) { try binary(op, a, $0).scalars }
                    assertClose(da.scalars, na, abs: 2e-3, rel: 2e-3, "\(kernels) \(op) \(sa) × \(sb) dA")
                    assertClose(db.scalars, nb, abs: 2e-3, rel: 2e-3, "\(kernels) \(op) \(sa) × \(sb) dB")
                }
            }
        }
    }

    func testBinaryBadInputsThrow() throws {
        let a = try Tensor(zeros: [2, 3]), b = try Tensor(zeros: [4])
        assertThrows(.shapeMismatch, "binary add", "[2, 3]", "[4]") { try binary(.add, a, b) }
        assertThrows(.shapeMismatch, "binary div", "[2, 3]", "[4]") { try binary(.div, a, b) }
        assertThrows(.shapeMismatch, "binaryBackward mul", "[2, 3]", "[4]") { try binaryBackward(.mul, a, b, gradOutput: a) }
        assertThrows(.shapeMismatch, "binaryBackward sub", "gradOutput", "[2, 3]", "[3, 2]") {
            try binaryBackward(.sub, a, try Tensor(zeros: [1, 3]), gradOutput: try Tensor(zeros: [3, 2]))
        }
    }

    // MARK: Mean

    func testMeanValuesAndShapes() throws {
        var rng = TestRNG(106)
        for _ in 0..<60 {
            let shape = rng.shape(rank: rng.int(1...4), maxDim: 6)
            let r = shape.count
            var axes: [Int] = []
            for d in 0..<r where rng.int(0...1) == 0 { axes.append(rng.int(0...1) == 0 ? d : d - r) }
            axes.shuffle(using: &rng)
            let keep = rng.int(0...1) == 0
            let x = try rng.tensor(shape, -2, 2)
            let y = try mean(x, axes: axes, keepDims: keep)
            let yr = try withReferenceKernels { try mean(x, axes: axes, keepDims: keep) }
            let reduced = Set(axes.isEmpty ? Array(0..<r) : axes.map { $0 < 0 ? $0 + r : $0 })
            var kept = shape
            for d in reduced { kept[d] = 1 }
            var want = keep ? kept : (0..<r).filter { !reduced.contains($0) }.map { shape[$0] }
            if want.isEmpty { want = [1] }
            XCTAssertEqual(y.shape, want, "mean \(shape) axes \(axes) keep \(keep)")
            XCTAssertEqual(yr.shape, want)
            // The mean by explicit indexing, in Double.
            var sums = [Double](repeating: 0, count: kept.reduce(1, *))
            let xs = x.scalars, ks = rowMajorStrides(kept)
            for i in 0..<xs.count {
                let idx = unflatten(i, shape)
                var j = 0
                for d in 0..<r where !reduced.contains(d) { j += idx[d] * ks[d] }
                sums[j] += Double(xs[i])
            }
            let n = Double(reduced.reduce(1) { $0 * shape[$1] })
            assertClose(yr.scalars, sums.map { $0 / n }, abs: 1e-6, rel: 1e-6, "mean reference \(shape) \(axes)")
            assertClose(y.scalars, sums.map { $0 / n }, abs: 1e-6, rel: 1e-5, "mean optimized \(shape) \(axes)")
        }
        // The squeeze-excitation case, large enough for the parallel path.
        let x = try rng.tensor([2, 96, 40, 41], -1, 1)
        let y = try mean(x, axes: [2, 3], keepDims: true), yr = try withReferenceKernels { try mean(x, axes: [-1, -2], keepDims: true) }
        XCTAssertEqual(y.shape, [2, 96, 1, 1])
        XCTAssertLessThan(maxDiff(y.scalars, yr.scalars), 1e-6)
        XCTAssertEqual(try mean(x, axes: [2, 3], keepDims: false).shape, [2, 96])
    }

    func testMeanBackward() throws {
        var rng = TestRNG(107)
        let cases: [([Int], [Int], Bool)] = [([2, 3, 4, 5], [2, 3], true), ([2, 3, 4, 5], [-1], false), ([3, 4], [], false),
                                             ([3, 4], [0], true), ([2, 1, 3], [1, 0], false), ([5], [0], true)]
        try forBothKernels { kernels in
            for (shape, axes, keep) in cases {
                let x = try rng.tensor(shape, -1, 1)
                let y = try mean(x, axes: axes, keepDims: keep)
                let w = try rng.tensor(y.shape, -1, 1)
                let dx = try meanBackward(inputShape: shape, axes: axes, keepDims: keep, gradOutput: w)
                XCTAssertEqual(dx.shape, shape)
                let numeric = try numericGradient(x, weights: w.scalars) { try mean($0, axes: axes, keepDims: keep).scalars }
                assertClose(dx.scalars, numeric, abs: 1e-3, rel: 1e-3, "\(kernels) meanBackward \(shape) \(axes) \(keep)")
                let dxr = try withReferenceKernels { try meanBackward(inputShape: shape, axes: axes, keepDims: keep, gradOutput: w) }
                XCTAssertTrue(sameValues(dx.scalars, dxr.scalars))
            }
        }
    }

    func testMeanBadInputsThrow() throws {
        let x = try Tensor(zeros: [2, 3, 4])
        assertThrows(.invalidArgument, "mean", "axes", "3") { try mean(x, axes: [3], keepDims: false) }
        assertThrows(.invalidArgument, "mean", "-4") { try mean(x, axes: [-4], keepDims: false) }
        assertThrows(.invalidArgument, "mean", "twice") { try mean(x, axes: [1, -2], keepDims: true) }
        assertThrows(.invalidArgument, "mean", "axes") { try mean(x, axes: [Int.min], keepDims: true) }
        assertThrows(.shapeMismatch, "meanBackward", "[2, 4]") {
            try meanBackward(inputShape: [2, 3, 4], axes: [1], keepDims: false, gradOutput: try Tensor(zeros: [2, 3]))
        }
        assertThrows(.invalidArgument, "meanBackward", "inputShape") {
            try meanBackward(inputShape: [2, -3], axes: [1], keepDims: false, gradOutput: x)
        }
        assertThrows(.invalidArgument, "meanBackward", "inputShape") {
            try meanBackward(inputShape: [], axes: [], keepDims: false, gradOutput: x)
        }
        assertThrows(.invalidArgument, "meanBackward", "overflows") {
            try meanBackward(inputShape: [Int.max, 3], axes: [1], keepDims: false, gradOutput: x)
        }
    }

    // MARK: Global max pooling

    func testGlobalMaxPoolMatchesTorchAndFiniteDifferences() throws {
        // torch 2.13: F.adaptive_max_pool2d(a, 1) for the planes [[1, 3, 3], [3, 0, 2]] and
        // [[nan, 1, nan], [5, 2, 1]] gives [3, nan]; its backward with ones routes to index 1
        // (the first of the tied 3s) and index 2 (the last NaN); an all −∞ plane routes to index 0.
        let a = try Tensor(shape: [1, 2, 2, 3], scalars: [1, 3, 3, 3, 0, 2, .nan, 1, .nan, 5, 2, 1])
        let ones = try Tensor(shape: [1, 2, 1, 1], repeating: 1)
        let y = try globalMaxPool2d(a)
        XCTAssertEqual(y.shape, [1, 2, 1, 1])
        XCTAssertEqual(y.scalars[0], 3); XCTAssertTrue(y.scalars[1].isNaN)
        XCTAssertEqual(try globalMaxPool2dBackward(a, gradOutput: ones).scalars, [0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0])
        let inf = try Tensor(shape: [1, 1, 2, 2], repeating: -.infinity)
        XCTAssertEqual(try globalMaxPool2d(inf).scalars, [-.infinity])
        XCTAssertEqual(try globalMaxPool2dBackward(inf, gradOutput: try Tensor(shape: [1, 1, 1, 1], repeating: 1)).scalars, [1, 0, 0, 0])

        var rng = TestRNG(108)
        for shape in [[2, 3, 4, 5], [3, 1, 7], [1, 1, 1, 1]] {
            let x = try distinctTensor(shape, &rng)
            let y = try globalMaxPool2d(x)
            let plane = shape[shape.count - 2] * shape[shape.count - 1]
            let planes = x.count / plane
            XCTAssertEqual(y.scalars, (0..<planes).map { p in x.scalars[(p * plane)..<((p + 1) * plane)].max()! })
            let w = try rng.tensor(y.shape, -1, 1)
            let dx = try globalMaxPool2dBackward(x, gradOutput: w)
            let numeric = try numericGradient(x, weights: w.scalars, h: 1.0 / 1024) { try globalMaxPool2d($0).scalars }
            assertClose(dx.scalars, numeric, abs: 1e-3, rel: 1e-3, "globalMaxPool2dBackward \(shape)")
        }
    }

    func testGlobalMaxPoolBadInputsThrow() throws {
        assertThrows(.invalidArgument, "globalMaxPool2d", "rank") { try globalMaxPool2d(try Tensor(zeros: [4, 5])) }
        let x = try Tensor(zeros: [2, 3, 4, 5])
        assertThrows(.shapeMismatch, "globalMaxPool2dBackward", "[2, 3, 1, 1]") {
            try globalMaxPool2dBackward(x, gradOutput: try Tensor(zeros: [2, 3]))
        }
        assertThrows(.invalidArgument, "globalMaxPool2dBackward", "rank") {
            try globalMaxPool2dBackward(try Tensor(zeros: [5]), gradOutput: try Tensor(zeros: [1]))
        }
    }

    // MARK: Transpose

    /// Every permutation of 0..<n.
    private func permutations(_ n: Int) -> [[Int]] {
        if n == 0 { return [[]] }
        return permutations(n - 1).flatMap { p in (0...p.count).map { i in var q = p; q.insert(n - 1, at: i); return q } }
    }

    func testTransposeEveryPermutation() throws {
        var rng = TestRNG(109)
        for rank in 1...4 {
            for perm in permutations(rank) {
                let shape = rng.shape(rank: rank, maxDim: 5)
                let x = try rng.tensor(shape)
                let y = try transpose(x, perm: perm)
                let out = perm.map { shape[$0] }
                XCTAssertEqual(y.shape, out)
                // y[idx] = x[idx permuted back].
                let xs = x.scalars, st = rowMajorStrides(shape)
                let want = (0..<x.count).map { i -> Float in
                    let idx = unflatten(i, out)
                    var src = 0
                    for d in 0..<rank { src += idx[d] * st[perm[d]] }
                    return xs[src]
                }
                XCTAssertEqual(y.scalars, want, "transpose \(shape) by \(perm)")
                XCTAssertEqual(try withReferenceKernels { try transpose(x, perm: perm) }.scalars, want)
                let inv = try inversePermutation(perm)
                XCTAssertEqual(try transpose(y, perm: inv).scalars, xs, "inverse of \(perm)")
                XCTAssertEqual(try transpose(y, perm: inv).shape, shape)
                // Negative entries count from the end.
                XCTAssertEqual(try transpose(x, perm: perm.map { $0 - rank }).scalars, want)
            }
        }
        // A larger one with odd sizes.
        let x = try rng.tensor([3, 37, 41, 5])
        XCTAssertEqual(try transpose(x, perm: [0, 2, 3, 1]).scalars,
                       try withReferenceKernels { try transpose(x, perm: [0, 2, 3, 1]) }.scalars)
        // The backward is the transpose by the inverse: check it by finite differences.
        let s = try rng.tensor([2, 3, 4])
        let perm = [2, 0, 1]
        let w = try rng.tensor(perm.map { s.shape[$0] })
        let dx = try transpose(w, perm: try inversePermutation(perm))
        let numeric = try numericGradient(s, weights: w.scalars) { try transpose($0, perm: perm).scalars }
        assertClose(dx.scalars, numeric, abs: 1e-4, rel: 1e-4, "transpose backward")
    }

    func testTransposeBadInputsThrow() throws {
        let x = try Tensor(zeros: [2, 3, 4])
        assertThrows(.invalidArgument, "transpose", "perm", "3") { try transpose(x, perm: [0, 1]) }
        assertThrows(.invalidArgument, "transpose", "twice") { try transpose(x, perm: [0, 1, 1]) }
        assertThrows(.invalidArgument, "transpose", "twice") { try transpose(x, perm: [0, 1, -2]) }
        assertThrows(.invalidArgument, "transpose", "perm") { try transpose(x, perm: [0, 1, 3]) }
        assertThrows(.invalidArgument, "transpose", "perm") { try transpose(x, perm: [0, 1, Int.min]) }
        assertThrows(.invalidArgument, "inversePermutation") { try inversePermutation([]) }
        assertThrows(.invalidArgument, "inversePermutation", "twice") { try inversePermutation([1, 1]) }
        assertThrows(.invalidArgument, "inversePermutation") { try inversePermutation([0, 5]) }
        assertThrows(.invalidArgument, "inversePermutation") { try inversePermutation([0, 1, 2, 3, 4]) }
        XCTAssertEqual(try inversePermutation([2, 0, 1]), [1, 2, 0])
        XCTAssertEqual(try inversePermutation([-1, 0]), [1, 0])
    }

    // MARK: Split

    func testSplitAndItsBackward() throws {
        var rng = TestRNG(110)
        for _ in 0..<30 {
            let shape = rng.shape(rank: rng.int(1...4), maxDim: 6)
            let axis = rng.int(-shape.count...(shape.count - 1))
            let a = axis < 0 ? axis + shape.count : axis
            var sizes: [Int] = [], left = shape[a]
            while left > 0 { let s = rng.int(1...left); sizes.append(s); left -= s }
            let x = try rng.tensor(shape)
            let parts = try split(x, axis: axis, sizes: sizes)
            XCTAssertEqual(parts.count, sizes.count)
            var offset = 0
            for (p, s) in zip(parts, sizes) {
                var want = shape; want[a] = s
                XCTAssertEqual(p.shape, want)
                let st = rowMajorStrides(shape)
                let expected = (0..<p.count).map { i -> Float in
                    var idx = unflatten(i, want); idx[a] += offset
                    return x.scalars[zip(idx, st).reduce(0) { $0 + $1.0 * $1.1 }]
                }
                XCTAssertEqual(p.scalars, expected, "split \(shape) axis \(axis) sizes \(sizes)")
                offset += s
            }
            XCTAssertEqual(try concat(parts, axis: axis).scalars, x.scalars)
        }
        // Backward: concat of the pieces' gradients, by finite differences.
        let x = try rng.tensor([2, 5, 3])
        let sizes = [2, 1, 2]
        let ws = try sizes.map { try rng.tensor([2, $0, 3]) }
        let dx = try concat(ws, axis: 1)
        let numeric = try numericGradient(x, weights: ws.flatMap(\.scalars)) { t in try split(t, axis: 1, sizes: sizes).flatMap(\.scalars) }
        assertClose(dx.scalars, numeric, abs: 1e-4, rel: 1e-4, "split backward")
    }

    func testSplitBadInputsThrow() throws {
        let x = try Tensor(zeros: [2, 5])
        assertThrows(.invalidArgument, "split", "axis") { try split(x, axis: 2, sizes: [1, 1]) }
        assertThrows(.invalidArgument, "split", "at least one") { try split(x, axis: 1, sizes: []) }
        assertThrows(.invalidArgument, "split", "at least 1") { try split(x, axis: 1, sizes: [6, -1]) }
        assertThrows(.invalidArgument, "split", "at least 1") { try split(x, axis: 1, sizes: [5, 0]) }
        assertThrows(.shapeMismatch, "split", "[2, 2]", "5") { try split(x, axis: 1, sizes: [2, 2]) }
        assertThrows(.invalidArgument, "split", "overflows") { try split(x, axis: 1, sizes: [Int.max, 1]) }
    }

    // MARK: Zero padding

    func testZeroPad2dAndBackward() throws {
        var rng = TestRNG(111)
        let pads = [Padding2D(0), Padding2D(1), Padding2D(top: 0, bottom: 2, left: 3, right: 0), Padding2D(top: 2, bottom: 1, left: 0, right: 1)]
        for shape in [[2, 3, 4, 5], [3, 1, 1], [1, 2, 7, 3]] {
            for pad in pads {
                let x = try rng.tensor(shape)
                let y = try zeroPad2d(x, pad)
                let r = shape.count, h = shape[r - 2], w = shape[r - 1]
                let oh = h + pad.top + pad.bottom, ow = w + pad.left + pad.right
                var out = shape; out[r - 2] = oh; out[r - 1] = ow
                XCTAssertEqual(y.shape, out)
                let want = (0..<y.count).map { i -> Float in
                    let idx = unflatten(i, out)
                    let iy = idx[r - 2] - pad.top, ix = idx[r - 1] - pad.left
                    guard iy >= 0 && iy < h && ix >= 0 && ix < w else { return 0 }
                    var src = idx; src[r - 2] = iy; src[r - 1] = ix
                    return try! x.element(at: x.flatIndex(src))
                }
                XCTAssertEqual(y.scalars, want, "zeroPad2d \(shape) \(pad)")
                XCTAssertEqual(try withReferenceKernels { try zeroPad2d(x, pad) }.scalars, want)
                let g = try rng.tensor(out)
                let dx = try zeroPad2dBackward(gradOutput: g, pad)
                XCTAssertEqual(dx.shape, shape)
                XCTAssertEqual(try withReferenceKernels { try zeroPad2dBackward(gradOutput: g, pad) }.scalars, dx.scalars)
                // Adjoint: <pad(x), g> = <x, crop(g)>.
                XCTAssertEqual(dot(y.scalars, g.scalars), dot(x.scalars, dx.scalars), accuracy: 1e-9)
                if shape == [1, 2, 7, 3] {
                    let numeric = try numericGradient(x, weights: g.scalars) { try zeroPad2d($0, pad).scalars }
                    assertClose(dx.scalars, numeric, abs: 1e-4, rel: 1e-4, "zeroPad2d backward \(pad)")
                }
            }
        }
    }

    func testZeroPad2dBadInputsThrow() throws {
        let x = try Tensor(zeros: [1, 2, 3, 3])
        assertThrows(.invalidArgument, "zeroPad2d", "negative") { try zeroPad2d(x, Padding2D(top: -1, bottom: 0, left: 0, right: 0)) }
        assertThrows(.invalidArgument, "zeroPad2d", "rank") { try zeroPad2d(try Tensor(zeros: [3, 3]), 1) }
        assertThrows(.invalidArgument, "zeroPad2d", "overflows") { try zeroPad2d(x, Padding2D(top: Int.max, bottom: 1, left: 0, right: 0)) }
        assertThrows(.invalidArgument, "zeroPad2d", "overflows") { try zeroPad2d(x, Padding2D(top: Int.max - 1, bottom: 0, left: 0, right: 0)) }
        assertThrows(.invalidArgument, "zeroPad2d") { try zeroPad2d(x, Padding2D(top: 1 << 40, bottom: 0, left: 1 << 40, right: 0)) }
        assertThrows(.shapeMismatch, "zeroPad2dBackward", "leaves no input") { try zeroPad2dBackward(gradOutput: x, Padding2D(top: 2, bottom: 1, left: 0, right: 0)) }
        assertThrows(.invalidArgument, "zeroPad2dBackward", "negative") { try zeroPad2dBackward(gradOutput: x, Padding2D(top: 0, bottom: 0, left: -1, right: 0)) }
        assertThrows(.invalidArgument, "zeroPad2dBackward", "overflows") { try zeroPad2dBackward(gradOutput: x, Padding2D(top: 0, bottom: 0, left: Int.max, right: 1)) }
        assertThrows(.invalidArgument, "zeroPad2dBackward", "rank") { try zeroPad2dBackward(gradOutput: try Tensor(zeros: [4]), 0) }
    }

    // MARK: Upsampling

    func testUpsampleMatchesTorch() throws {
        let x = try Tensor(shape: [1, 1, 3, 4], scalars: (0..<12).map(Float.init))
        try forBothKernels { kernels in
            for f in torchUpsampleFixtures {
                if let s = f.scales {
                    XCTAssertEqual(try upsampleOutputSize(input: Size2D(3, 4), scales: s), f.size, "\(f.mode) scale \(s)")
                }
                let y = try upsample2d(x, outputSize: f.size, scales: f.scales, mode: f.mode)
                XCTAssertEqual(y.shape, [1, 1, f.size.h, f.size.w])
                let by = firstMismatch(y.scalars, f.y) { 1e-5 + 1e-5 * abs(f.y[$0]) }
                XCTAssertNil(by, "\(kernels) \(f.mode) \(String(describing: f.scales)) \(f.size): forward element \(by ?? -1): \(y.scalars) vs torch \(f.y)")
                let g = try Tensor(shape: y.shape, scalars: (0..<y.count).map { Float($0) * 0.1 + 1 })
                let dx = try upsample2dBackward(inputShape: x.shape, gradOutput: g, scales: f.scales, mode: f.mode)
                let bd = firstMismatch(dx.scalars, f.dx) { 1e-5 + 1e-5 * abs(f.dx[$0]) }
                XCTAssertNil(bd, "\(kernels) \(f.mode) \(String(describing: f.scales)) \(f.size): backward element \(bd ?? -1): \(dx.scalars) vs torch \(f.dx)")
            }
            // torch 2.13: a scale whose output size equals the input's copies (interpolate(x4×4,
            // scale_factor=1.2) is x for nearest and bilinear); downsampling and 1×1 outputs.
            let s = try Tensor(shape: [1, 1, 4, 4], scalars: (0..<16).map(Float.init))
            XCTAssertEqual(try upsampleOutputSize(input: Size2D(4, 4), scales: (1.2, 1.2)), Size2D(4, 4))
            XCTAssertEqual(try upsample2d(s, outputSize: Size2D(4, 4), scales: (1.2, 1.2), mode: .nearest).scalars, s.scalars)
            XCTAssertEqual(try upsample2d(s, outputSize: Size2D(4, 4), scales: (1.2, 1.2), mode: .bilinear(alignCorners: false)).scalars, s.scalars)
            XCTAssertEqual(try upsample2d(s, outputSize: Size2D(2, 2), scales: (0.5, 0.5), mode: .bilinear(alignCorners: false)).scalars,
                           [2.5, 4.5, 10.5, 12.5])
            XCTAssertEqual(try upsample2d(s, outputSize: Size2D(1, 1), scales: nil, mode: .bilinear(alignCorners: true)).scalars, [0])
            XCTAssertEqual(try upsample2d(s, outputSize: Size2D(2, 2), scales: (0.6, 0.6), mode: .bilinear(alignCorners: true)).scalars,
                           [0, 3, 12, 15])
        }
    }

    func testUpsampleOptimizedMatchesReference() throws {
        var rng = TestRNG(112)
        let modes: [UpsampleMode] = [.nearest, .bilinear(alignCorners: false), .bilinear(alignCorners: true)]
        let scaleChoices: [Double] = [0.5, 0.7, 1, 1.2, 1.5, 2, 2.3, 3, 4]
        for trial in 0..<60 {
            let shape = [rng.int(1...2), rng.int(1...3), rng.int(1...9), rng.int(1...9)]
            let x = try rng.tensor(shape, -2, 2)
            let mode = modes[trial % 3]
            var scales: (h: Double, w: Double)? = nil
            var size: Size2D
            if rng.int(0...1) == 0 {
                let s = (h: scaleChoices[rng.int(0...8)], w: scaleChoices[rng.int(0...8)])
                guard let o = try? upsampleOutputSize(input: Size2D(shape[2], shape[3]), scales: s) else { continue }
                scales = s; size = o
            } else {
                size = Size2D(rng.int(1...19), rng.int(1...19))
                if trial % 5 == 0 { size = Size2D(shape[2] * 2, shape[3]) }
            }
            let y = try upsample2d(x, outputSize: size, scales: scales, mode: mode)
            let yr = try withReferenceKernels { try upsample2d(x, outputSize: size, scales: scales, mode: mode) }
            XCTAssertEqual(y.shape, [shape[0], shape[1], size.h, size.w])
            XCTAssertTrue(sameValues(y.scalars, yr.scalars), "upsample2d \(shape) → \(size) \(mode) \(String(describing: scales))")
            let g = try rng.tensor(y.shape, -1, 1)
            let dx = try upsample2dBackward(inputShape: shape, gradOutput: g, scales: scales, mode: mode)
            let dxr = try withReferenceKernels { try upsample2dBackward(inputShape: shape, gradOutput: g, scales: scales, mode: mode) }
            XCTAssertTrue(sameValues(dx.scalars, dxr.scalars), "upsample2dBackward \(shape) → \(size) \(mode)")
            // Adjoint: <up(x), g> = <x, up*(g)>.
            XCTAssertEqual(dot(y.scalars, g.scalars), dot(x.scalars, dx.scalars), accuracy: 1e-4 * Double(max(1, y.count)).squareRoot())
        }
        // Large enough for the parallel planes.
        let x = try rng.tensor([2, 32, 40, 40])
        for mode in modes {
            let y = try upsample2d(x, outputSize: Size2D(80, 80), scales: (2, 2), mode: mode)
            XCTAssertTrue(sameValues(y.scalars, try withReferenceKernels { try upsample2d(x, outputSize: Size2D(80, 80), scales: (2, 2), mode: mode) }.scalars))
            let dx = try upsample2dBackward(inputShape: x.shape, gradOutput: y, scales: (2, 2), mode: mode)
            XCTAssertTrue(sameValues(dx.scalars, try withReferenceKernels { try upsample2dBackward(inputShape: x.shape, gradOutput: y, scales: (2, 2), mode: mode) }.scalars))
        }
    }

    func testUpsampleBackwardMatchesFiniteDifferences() throws {
        var rng = TestRNG(113)
        let cases: [(UpsampleMode, Size2D, (h: Double, w: Double)?)] = [
            (.nearest, Size2D(6, 5), (2, 1.7)), (.nearest, Size2D(2, 7), nil),
            (.bilinear(alignCorners: false), Size2D(4, 5), (1.5, 1.7)), (.bilinear(alignCorners: false), Size2D(2, 7), nil),
            (.bilinear(alignCorners: true), Size2D(5, 6), nil), (.bilinear(alignCorners: true), Size2D(1, 2), nil),
        ]
        try forBothKernels { kernels in
            for (mode, size, scales) in cases {
                let x = try rng.tensor([1, 2, 3, 3])
                let w = try rng.tensor([1, 2, size.h, size.w])
                let dx = try upsample2dBackward(inputShape: x.shape, gradOutput: w, scales: scales, mode: mode)
                let numeric = try numericGradient(x, weights: w.scalars) {
                    try upsample2d($0, outputSize: size, scales: scales, mode: mode).scalars
                }
                assertClose(dx.scalars, numeric, abs: 1e-3, rel: 1e-3, "\(kernels) upsample2dBackward \(mode) \(size)")
            }
        }
    }

    func testUpsampleBadInputsThrow() throws {
        let x = try Tensor(zeros: [1, 2, 3, 4])
        assertThrows(.invalidArgument, "upsample2d", "rank 4") { try upsample2d(try Tensor(zeros: [2, 3, 4]), outputSize: 2, scales: nil, mode: .nearest) }
        assertThrows(.invalidArgument, "upsample2d", "at least 1×1") { try upsample2d(x, outputSize: Size2D(0, 3), scales: nil, mode: .nearest) }
        assertThrows(.invalidArgument, "upsample2d", "at least 1×1") { try upsample2d(x, outputSize: Size2D(3, -1), scales: nil, mode: .nearest) }
        assertThrows(.invalidArgument, "upsample2d", "scale") { try upsample2d(x, outputSize: 6, scales: (0, 2), mode: .nearest) }
        assertThrows(.invalidArgument, "upsample2d", "scale") { try upsample2d(x, outputSize: 6, scales: (2, -1), mode: .bilinear(alignCorners: false)) }
        assertThrows(.invalidArgument, "upsample2d", "scale") { try upsample2d(x, outputSize: 6, scales: (.nan, 2), mode: .nearest) }
        assertThrows(.invalidArgument, "upsample2d", "scale") { try upsample2d(x, outputSize: 6, scales: (.infinity, 2), mode: .nearest) }
        assertThrows(.invalidArgument, "upsample2d", "too small") { try upsample2d(x, outputSize: 6, scales: (1e-300, 2), mode: .nearest) }
        assertThrows(.invalidArgument, "upsample2d", "overflows") { try upsample2d(x, outputSize: Size2D(Int.max, 2), scales: nil, mode: .nearest) }
        assertThrows(.invalidArgument, "upsampleOutputSize", "at least 1") { try upsampleOutputSize(input: Size2D(3, 4), scales: (0.2, 1)) }
        assertThrows(.invalidArgument, "upsampleOutputSize", "input size") { try upsampleOutputSize(input: Size2D(0, 4), scales: (2, 2)) }
        assertThrows(.invalidArgument, "upsampleOutputSize", "scale") { try upsampleOutputSize(input: Size2D(3, 4), scales: (-2, 2)) }
        assertThrows(.invalidArgument, "upsampleOutputSize", "too large") { try upsampleOutputSize(input: Size2D(3, 4), scales: (1e300, 2)) }
        assertThrows(.invalidArgument, "upsample2dBackward", "rank 4") {
            try upsample2dBackward(inputShape: [1, 2, 3, 4], gradOutput: try Tensor(zeros: [2, 6, 8]), scales: nil, mode: .nearest)
        }
        assertThrows(.invalidArgument, "upsample2dBackward", "inputShape") {
            try upsample2dBackward(inputShape: [1, 2, 3], gradOutput: try Tensor(zeros: [1, 2, 6, 8]), scales: nil, mode: .nearest)
        }
        assertThrows(.invalidArgument, "upsample2dBackward", "inputShape") {
            try upsample2dBackward(inputShape: [1, 2, -3, 4], gradOutput: try Tensor(zeros: [1, 2, 6, 8]), scales: nil, mode: .nearest)
        }
        assertThrows(.shapeMismatch, "upsample2dBackward", "batch and channels") {
            try upsample2dBackward(inputShape: [1, 3, 3, 4], gradOutput: try Tensor(zeros: [1, 2, 6, 8]), scales: nil, mode: .bilinear(alignCorners: true))
        }
    }
}
