import XCTest
@testable import SwiftCNN

/// Pooling against the seed's examples and an independent implementation of torch's rules
/// written here from torch's documentation (output size, ceil mode, divisor).
final class PoolingTests: XCTestCase {
    let ramp = try! Tensor(shape: [1, 1, 4, 4], scalars: (1...16).map(Float.init))

    /// The seed's 4×4 examples: max → [[6,8],[14,16]], avg → [[3.5,5.5],[11.5,13.5]],
    /// [[29,15,28,184],[0,100,70,38],[12,12,7,2],[12,12,45,6]] max → [[100,184],[12,45]].
    func testSeedExamples() throws {
        let o = Pool2DOptions(kernel: 2)
        XCTAssertEqual(try maxPool2d(ramp, o).scalars, [6, 8, 14, 16])
        XCTAssertEqual(try maxPool2d(ramp, o).shape, [1, 1, 2, 2])
        XCTAssertEqual(try avgPool2d(ramp, o).scalars, [3.5, 5.5, 11.5, 13.5])
        let b = try Tensor(shape: [1, 4, 4], scalars: [29, 15, 28, 184, 0, 100, 70, 38, 12, 12, 7, 2, 12, 12, 45, 6])
        XCTAssertEqual(try maxPool2d(b, o).scalars, [100, 184, 12, 45])
        XCTAssertEqual(try maxPool2d(b, o).shape, [1, 2, 2])
        // The deck's average example (31 in the corner) prints [[36,80],[12,15]]; the exact
        // mean of the first window is (31+15+0+100)/4 = 36.5 (the deck truncates).
        let c = try Tensor(shape: [1, 4, 4], scalars: [31, 15, 28, 184, 0, 100, 70, 38, 12, 12, 7, 2, 12, 12, 45, 6])
        XCTAssertEqual(try avgPool2d(c, o).scalars, [36.5, 80, 12, 15])
    }

    /// An independent torch-rule pooling on arrays (Double).
    func torchPool(_ x: [Float], h: Int, w: Int, _ o: Pool2DOptions, max isMax: Bool) -> (Int, Int, [Float]) {
        func outLen(_ n: Int, _ k: Int, _ s: Int, _ p: Int) -> Int {
            let num = n + 2 * p - k + (o.ceilMode ? s - 1 : 0)
            var out = Int((Double(num) / Double(s)).rounded(.down)) + 1
            if o.ceilMode && (out - 1) * s >= n + p { out -= 1 }
            return out
        }
        let oh = outLen(h, o.kernel.h, o.stride.h, o.padding.h), ow = outLen(w, o.kernel.w, o.stride.w, o.padding.w)
        var out = [Float]()
        for i in 0..<oh {
            for j in 0..<ow {
                let hs = i * o.stride.h - o.padding.h, ws = j * o.stride.w - o.padding.w
                let he = min(hs + o.kernel.h, h + o.padding.h), we = min(ws + o.kernel.w, w + o.padding.w)
                let area = (he - hs) * (we - ws)
                var m = -Double.infinity, s = 0.0, cnt = 0
                for y in max(hs, 0)..<min(he, h) {
                    for xx in max(ws, 0)..<min(we, w) { m = Swift.max(m, Double(x[y * w + xx])); s += Double(x[y * w + xx]); cnt += 1 }
                }
                out.append(Float(isMax ? m : s / Double(o.countIncludePad ? area : cnt)))
            }
        }
        return (oh, ow, out)
    }

    /// Random kernels, strides, paddings (<= kernel/2), ceil mode and count_include_pad
    /// against ``torchPool``; exact for max, 1e-5 for averages.
    func testSweepAgainstTorchRules() throws {
        var r = TestRNG(5)
        var ran = 0
        for _ in 0..<60 {
            let k = Size2D(r.int(1...4), r.int(1...4))
            let o = Pool2DOptions(kernel: k, stride: Size2D(r.int(1...3), r.int(1...3)),
                                  padding: Size2D(r.int(0...k.h / 2), r.int(0...k.w / 2)),
                                  ceilMode: r.int(0...1) == 1, countIncludePad: r.int(0...1) == 1)
            let h = r.int(max(1, k.h - 2 * o.padding.h)...9), w = r.int(max(1, k.w - 2 * o.padding.w)...9)
            let c = r.int(1...3)
            let x = try r.tensor([2, c, h, w])
            let xs = x.scalars
            let mx = try maxPool2d(x, o), av = try avgPool2d(x, o)
            let plane = h * w
            for p in 0..<(2 * c) {
                let slice = Array(xs[(p * plane)..<((p + 1) * plane)])
                let (oh, ow, wantMax) = torchPool(slice, h: h, w: w, o, max: true)
                let (_, _, wantAvg) = torchPool(slice, h: h, w: w, o, max: false)
                XCTAssertEqual(mx.shape, [2, c, oh, ow], "\(o) \(h)×\(w)")
                XCTAssertEqual(Array(mx.scalars[(p * oh * ow)..<((p + 1) * oh * ow)]), wantMax, "\(o)")
                XCTAssertLessThanOrEqual(maxDiff(Array(av.scalars[(p * oh * ow)..<((p + 1) * oh * ow)]), wantAvg), 1e-5, "\(o)")
                ran += 1
            }
        }
        XCTAssertGreaterThanOrEqual(ran, 60 * 2)  // every case checked at least 2 planes
    }

    /// Ceil mode's last-window rule: the output size rounds up, then drops the last window
    /// when it would start in the right/bottom padding (start >= input + left padding).
    func testCeilModeRule() throws {
        let x5 = try Tensor(shape: [1, 5, 5], scalars: (0..<25).map(Float.init))
        XCTAssertEqual(try maxPool2d(x5, .init(kernel: 2, ceilMode: true)).shape, [1, 3, 3])
        XCTAssertEqual(try maxPool2d(x5, .init(kernel: 2, ceilMode: true)).scalars, [6, 8, 9, 16, 18, 19, 21, 23, 24])
        XCTAssertEqual(try maxPool2d(x5, .init(kernel: 2)).shape, [1, 2, 2])
        // 4 + 2·1 = 6 padded; (6 − 3 + 1)/2 + 1 = 3, last start (3−1)·2 = 4 >= 4 + 1? no → keep 3
        let x4 = try Tensor(zeros: [1, 4, 4])
        XCTAssertEqual(try maxPool2d(x4, .init(kernel: 3, stride: 2, padding: 1, ceilMode: true)).shape, [1, 3, 3])
        // 4 wide, kernel 2, stride 3, padding 1: (4 + 2 − 2 + 2)/3 + 1 = 3, last start 6 >= 5 → 2
        XCTAssertEqual(try maxPool2d(x4, .init(kernel: 2, stride: 3, padding: 1, ceilMode: true)).shape, [1, 2, 2])
        // ceil mode lets a 1-wide input take a 2-wide window: (1 − 2 + 1)/2 + 1 = 1 (torch agrees)
        XCTAssertEqual(try maxPool2d(try Tensor(shape: [1, 1, 1], repeating: 7), .init(kernel: 2, ceilMode: true)).scalars, [7])
    }

    /// Average divisor with padding: 3×3 window, stride 1, padding 1 on a 2×2 plane of ones:
    /// include pad → 4/9 everywhere; exclude → 1.
    func testAvgDivisor() throws {
        let x = try Tensor(shape: [1, 1, 2, 2], repeating: 1)
        let inc = try avgPool2d(x, .init(kernel: 3, stride: 1, padding: 1))
        XCTAssertEqual(inc.shape, [1, 1, 2, 2])
        for v in inc.scalars { XCTAssertEqual(v, 4.0 / 9.0, accuracy: 1e-6) }
        XCTAssertEqual(try avgPool2d(x, .init(kernel: 3, stride: 1, padding: 1, countIncludePad: false)).scalars, [1, 1, 1, 1])
    }

    /// Max pooling propagates NaN and treats padding as −∞ (all-negative inputs stay negative).
    func testMaxNaNAndNegativePadding() throws {
        let x = try Tensor(shape: [1, 2, 2], scalars: [-5, .nan, -3, -4])
        let y = try maxPool2d(x, .init(kernel: 2))
        XCTAssertTrue(try y.element(0, 0, 0).isNaN)
        let z = try maxPool2d(try Tensor(shape: [1, 2, 2], scalars: [-5, -6, -3, -4]), .init(kernel: 3, stride: 1, padding: 1))
        XCTAssertEqual(z.scalars, [-3, -3, -3, -3])
    }

    /// Global average and adaptive average pooling against torch's window rule written here.
    func testGlobalAndAdaptive() throws {
        var r = TestRNG(8)
        let x = try r.tensor([2, 3, 5, 7])
        let g = try globalAvgPool2d(x)
        XCTAssertEqual(g.shape, [2, 3, 1, 1])
        let xs = x.scalars
        for p in 0..<6 {
            let mean = xs[(p * 35)..<((p + 1) * 35)].reduce(0.0) { $0 + Double($1) } / 35
            XCTAssertEqual(Double(g.scalars[p]), mean, accuracy: 1e-6)
        }
        XCTAssertEqual(try globalAvgPool2d(try Tensor(zeros: [3, 4, 4])).shape, [3, 1, 1])
        for (oh, ow) in [(1, 1), (2, 3), (3, 2), (5, 7), (8, 9), (4, 1)] {
            let y = try adaptiveAvgPool2d(x, outputSize: Size2D(oh, ow))
            XCTAssertEqual(y.shape, [2, 3, oh, ow])
            var want = [Float]()
            for p in 0..<6 {
                for i in 0..<oh {
                    let hs = Int((Double(i * 5) / Double(oh)).rounded(.down)), he = Int((Double((i + 1) * 5) / Double(oh)).rounded(.up))
                    for j in 0..<ow {
                        let ws = Int((Double(j * 7) / Double(ow)).rounded(.down)), we = Int((Double((j + 1) * 7) / Double(ow)).rounded(.up))
                        var s = 0.0
                        for yy in hs..<he { for xx in ws..<we { s += Double(xs[p * 35 + yy * 7 + xx]) } }
                        want.append(Float(s / Double((he - hs) * (we - ws))))
                    }
                }
            }
            XCTAssertLessThanOrEqual(maxDiff(y.scalars, want), 1e-6, "\(oh)×\(ow)")
        }
        // Adaptive to the input size is the identity; to 1×1 it is the global mean.
        XCTAssertLessThanOrEqual(maxDiff(try adaptiveAvgPool2d(x, outputSize: Size2D(5, 7)).scalars, xs), 1e-6)
        XCTAssertLessThanOrEqual(maxDiff(try adaptiveAvgPool2d(x, outputSize: 1).scalars, g.scalars), 1e-6)
    }

    /// Garbage pooling options never trap; extreme but valid ones give torch's answer.
    func testExtremeArgumentsNeverTrap() throws {
        let values = [Int.min, -(1 << 62), -1, 0, 1, 2, 3, 1 << 61, 1 << 62, Int.max]
        var r = TestRNG(77)
        let x = try r.tensor([1, 1, 4, 4])
        var failed = 0
        for _ in 0..<400 {
            func v() -> Int { values[r.int(0...(values.count - 1))] }
            let o = Pool2DOptions(kernel: Size2D(v(), v()), stride: Size2D(v(), v()), padding: Size2D(v(), v()),
                                  ceilMode: r.int(0...1) == 1, countIncludePad: r.int(0...1) == 1)
            do { _ = try maxPool2d(x, o) } catch is SwiftCNNError { failed += 1 }
            do { _ = try avgPool2d(x, o) } catch is SwiftCNNError { failed += 1 }
        }
        for s in [0, 1, 1 << 62, Int.max] {
            do { _ = try adaptiveAvgPool2d(x, outputSize: Size2D(s, 1)) } catch is SwiftCNNError { failed += 1 }
        }
        XCTAssertGreaterThan(failed, 0)
        // A kernel of Int.max with padding 2^61 in ceil mode: one window covering the plane.
        let o = Pool2DOptions(kernel: Size2D(Int.max), stride: Size2D(Int.max), padding: Size2D(1 << 61), ceilMode: true)
        XCTAssertEqual(try maxPool2d(x, o).scalars, [x.scalars.max()!])
        XCTAssertEqual(try avgPool2d(x, .init(kernel: Size2D(Int.max), stride: Size2D(Int.max), padding: Size2D(1 << 61), ceilMode: true,
                                               countIncludePad: false)).scalars[0],
                       x.scalars.reduce(0, +) / 16, accuracy: 1e-6)
    }

    func testBadInputsThrow() throws {
        let x = ramp
        assertThrows(.invalidArgument, "maxPool2d: kernel size must be at least 1") { try maxPool2d(x, .init(kernel: Size2D(0, 2))) }
        assertThrows(.invalidArgument, "avgPool2d: kernel size must be at least 1") { try avgPool2d(x, .init(kernel: -1)) }
        assertThrows(.invalidArgument, "stride must be at least 1") { try maxPool2d(x, .init(kernel: 2, stride: Size2D(1, 0))) }
        assertThrows(.invalidArgument, "padding must not be negative") { try maxPool2d(x, .init(kernel: 2, padding: Size2D(-1, 0))) }
        assertThrows(.invalidArgument, "at most half the kernel size") { try maxPool2d(x, .init(kernel: 2, padding: 2)) }
        assertThrows(.invalidArgument, "at most half the kernel size") { try avgPool2d(x, .init(kernel: 3, padding: Size2D(1, 2))) }
        assertThrows(.invalidArgument, "kernel height 5 is larger than the padded input height 4") { try maxPool2d(x, .init(kernel: 5)) }
        assertThrows(.invalidArgument, "got rank 2") { try maxPool2d(try Tensor(zeros: [4, 4]), .init(kernel: 2)) }
        assertThrows(.invalidArgument, "got rank 1") { try avgPool2d(try Tensor(zeros: [4]), .init(kernel: 2)) }
        assertThrows(.invalidArgument, "globalAvgPool2d: input must have rank 4") { try globalAvgPool2d(try Tensor(zeros: [4])) }
        assertThrows(.invalidArgument, "output size must be at least 1×1") { try adaptiveAvgPool2d(x, outputSize: Size2D(0, 2)) }
        assertThrows(.invalidArgument, "rank") { try adaptiveAvgPool2d(try Tensor(zeros: [2, 2]), outputSize: 1) }
        assertThrows(.invalidArgument, "overflows") { try adaptiveAvgPool2d(x, outputSize: Size2D(Int.max, 1)) }
        assertThrows(.invalidArgument, "overflows") { try maxPool2d(x, .init(kernel: Size2D(Int.max, 2), padding: Size2D(Int.max / 2, 0))) }
        // A huge (non-overflowing) output is refused for memory, not trapped.
        assertThrows(.outOfMemory, "larger than this machine's memory") { try adaptiveAvgPool2d(x, outputSize: Size2D(1 << 40, 1 << 20)) }
    }
}
