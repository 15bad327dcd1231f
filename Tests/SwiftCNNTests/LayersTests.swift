import XCTest
@testable import SwiftCNN

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

final class LayersTests: XCTestCase {
    // MARK: Activations

    func testActivationsMatchFormulas() throws {
        var rng = TestRNG(1)
        for _ in 0..<20 {
            let x = try rng.tensor(rng.shape(rank: rng.int(1...4)), -20, 20)
            let xs = x.scalars.map(Double.init)
            let r = try relu(x), t = try SwiftCNN.tanh(x), s = try sigmoid(x)
            XCTAssertEqual(r.shape, x.shape)
            XCTAssertEqual(r.scalars, x.scalars.map { $0 > 0 ? $0 : 0 })
            assertClose(t.scalars, xs.map { Glibc.tanh($0) }, "tanh")
            assertClose(s.scalars, xs.map { 1 / (1 + Glibc.exp(-$0)) }, "sigmoid")
        }
    }

    func testActivationsExtremeInputs() throws {
        let x = try Tensor(shape: [6], scalars: [-1000, -100, -0.0, 0, 100, 1000])
        let s = try sigmoid(x).scalars
        XCTAssertEqual(s[0], 0); XCTAssertEqual(s[5], 1)
        XCTAssertEqual(s[2], 0.5); XCTAssertEqual(s[3], 0.5)
        XCTAssertTrue(s.allSatisfy { $0.isFinite })
        XCTAssertLessThan(s[1], 1e-38)   // e^-100 ≈ 3.7e-44: a subnormal, not 0/0
        XCTAssertGreaterThan(s[1], 0)
        XCTAssertEqual(try SwiftCNN.tanh(x).scalars, [-1, -1, -0.0, 0, 1, 1])
        XCTAssertEqual(try relu(x).scalars, [0, 0, -0.0, 0, 100, 1000])
        let nan = try Tensor(shape: [1], scalars: [.nan])
        XCTAssertTrue(try relu(nan).scalars[0].isNaN)
        XCTAssertTrue(try sigmoid(nan).scalars[0].isNaN)
        // The library's tanh on tensors and libm's on doubles live side by side.
        XCTAssertEqual(tanh(0.5 as Double), 0.46211715726000974, accuracy: 1e-15)
        XCTAssertEqual(tanh(Float(0.5)), 0.46211715726000974, accuracy: 1e-6)
    }

    // MARK: Softmax

    func testSoftmaxMatchesFormulaOnEveryAxis() throws {
        var rng = TestRNG(2)
        for _ in 0..<30 {
            let shape = rng.shape(rank: rng.int(1...4))
            let x = try rng.tensor(shape, -10, 10)
            let axis = rng.int(-shape.count...shape.count - 1)
            let a = axis < 0 ? axis + shape.count : axis
            let y = try softmax(x, axis: axis)
            XCTAssertEqual(y.shape, shape)
            let st = rowMajorStrides(shape), xs = x.scalars
            var want = [Double](repeating: 0, count: xs.count)
            for i in 0..<xs.count {
                let idx = unflatten(i, shape)
                let base = i - idx[a] * st[a]
                let denom = (0..<shape[a]).reduce(0.0) { $0 + Glibc.exp(Double(xs[base + $1 * st[a]])) }
                want[i] = Glibc.exp(Double(xs[i])) / denom
            }
            assertClose(y.scalars, want, "softmax \(shape) axis \(axis)")
        }
    }

    func testSoftmaxIsStableForLargeInputs() throws {
        let x = try Tensor(shape: [2, 3], scalars: [1000, 1001, 1002, -1000, -1000, -1000])
        let y = try softmax(x).scalars
        let e0 = Glibc.exp(-2.0), e1 = Glibc.exp(-1.0), d = e0 + e1 + 1
        assertClose(y, [e0 / d, e1 / d, 1 / d, 1 / 3.0, 1 / 3.0, 1 / 3.0], "large softmax")
        // Default axis is the last; axis 0 of [2, 3] normalises columns.
        let c = try softmax(x, axis: 0).scalars
        assertClose(c, [1, 1, 1, 0, 0, 0], abs: 1e-30, rel: 0, "column softmax")
    }

    func testSoftmaxBadAxis() throws {
        let x = try Tensor(zeros: [2, 3])
        assertThrows(.invalidArgument, "softmax", "axis", "-2..<2", "2") { try softmax(x, axis: 2) }
        assertThrows(.invalidArgument, "-3") { try softmax(x, axis: -3) }
        assertThrows(.invalidArgument) { try softmax(x, axis: Int.min) }
    }

    // MARK: Local response normalization

    /// PyTorch's recipe, spelled out: square, zero-pad size/2 channels before and
    /// (size−1)/2 after, average over `size` consecutive channels, then a / (k + alpha·avg)^beta.
    func lrnByPadding(_ x: Tensor, size: Int, alpha: Double, beta: Double, k: Double) -> [Double] {
        let n = x.shape[0], c = x.shape[1], sp = x.shape[2...].reduce(1, *)
        let xs = x.scalars.map(Double.init)
        let before = size / 2, after = (size - 1) / 2
        var out = [Double](repeating: 0, count: xs.count)
        for b in 0..<n {
            for s in 0..<sp {
                var padded = [Double](repeating: 0, count: before + c + after)
                for ch in 0..<c { let v = xs[(b * c + ch) * sp + s]; padded[before + ch] = v * v }
                for ch in 0..<c {
                    let avg = padded[ch..<(ch + size)].reduce(0, +) / Double(size)
                    let i = (b * c + ch) * sp + s
                    out[i] = xs[i] / Glibc.pow(k + alpha * avg, beta)
                }
            }
        }
        return out
    }

    func testLocalResponseNormMatchesPyTorchRecipe() throws {
        var rng = TestRNG(3)
        for trial in 0..<30 {
            let rank = rng.int(3...4)
            let shape = [rng.int(1...3), rng.int(1...8)] + (0..<(rank - 2)).map { _ in rng.int(1...4) }
            let x = try rng.tensor(shape, -4, 4)
            let size = rng.int(1...10)   // even, odd, larger than the channel count
            let alpha = trial % 3 == 0 ? 1e-4 : Double(rng.float(0.01, 2))
            let beta = trial % 3 == 0 ? 0.75 : Double(rng.float(0.1, 1.5))
            let k = trial % 3 == 0 ? 1.0 : Double(rng.float(0.5, 3))
            let y = try trial % 3 == 0
                ? localResponseNorm(x, size: size)
                : localResponseNorm(x, size: size, alpha: Float(alpha), beta: Float(beta), k: Float(k))
            XCTAssertEqual(y.shape, shape)
            let want = lrnByPadding(x, size: size, alpha: Double(Float(alpha)), beta: Double(Float(beta)), k: Double(Float(k)))
            assertClose(y.scalars, want, "lrn \(shape) size \(size)")
        }
    }

    func testLocalResponseNormHandExample() throws {
        // [1, 3, 1]: channels 1, 2, 3; size 2 → window c−1 … c; alpha 1, beta 1, k 1.
        // c0: 1 / (1 + (0 + 1)/2) = 2/3; c1: 2 / (1 + (1 + 4)/2) = 4/7; c2: 3 / (1 + (4 + 9)/2) = 2/5.
        let x = try Tensor(shape: [1, 3, 1], scalars: [1, 2, 3])
        assertClose(try localResponseNorm(x, size: 2, alpha: 1, beta: 1, k: 1).scalars, [2.0 / 3, 4.0 / 7, 0.4], "hand LRN")
        // size 3 → window c−1 … c+1: c1: 2 / (1 + 14/3) = 6/17.
        assertClose([try localResponseNorm(x, size: 3, alpha: 1, beta: 1, k: 1).scalars[1]], [6.0 / 17], "hand LRN 3")
    }

    func testLocalResponseNormBadInput() throws {
        let x = try Tensor(zeros: [1, 2, 2, 2])
        assertThrows(.invalidArgument, "localResponseNorm", "size", "0") { try localResponseNorm(x, size: 0) }
        assertThrows(.invalidArgument, "-5") { try localResponseNorm(x, size: -5) }
        assertThrows(.invalidArgument, "rank 2") { try localResponseNorm(try Tensor(zeros: [2, 2]), size: 2) }
        assertThrows(.invalidArgument, "alpha") { try localResponseNorm(x, size: 2, alpha: .nan) }
        assertThrows(.invalidArgument, "beta") { try localResponseNorm(x, size: 2, beta: .infinity) }
        assertThrows(.invalidArgument, "k") { try localResponseNorm(x, size: 2, k: -.infinity) }
        // A huge window is fine: it covers every channel.
        XCTAssertEqual(try localResponseNorm(x, size: Int.max).shape, [1, 2, 2, 2])
    }

    // MARK: Batch normalization

    func testBatchNormMatchesFormula() throws {
        var rng = TestRNG(4)
        for trial in 0..<30 {
            let rank = rng.int(2...4)
            let shape = [rng.int(1...3), rng.int(1...5)] + (0..<(rank - 2)).map { _ in rng.int(1...4) }
            let c = shape[1]
            let x = try rng.tensor(shape, -3, 3)
            let mean = try rng.tensor([c], -3, 3), variance = try rng.tensor([c], 0, 4)
            let weight = trial % 2 == 0 ? try rng.tensor([c], -3, 3) : nil
            let bias = trial % 3 == 0 ? try rng.tensor([c], -3, 3) : nil
            let eps: Float = trial % 4 == 0 ? 1e-5 : rng.float(1e-3, 1)
            let y = try batchNorm(x, runningMean: mean, runningVar: variance, weight: weight, bias: bias, eps: eps)
            XCTAssertEqual(y.shape, shape)
            let st = rowMajorStrides(shape)
            let want = x.scalars.enumerated().map { (i, v) -> Double in
                let ch = (i / st[1]) % c
                let w = weight.map { Double($0.scalars[ch]) } ?? 1, b = bias.map { Double($0.scalars[ch]) } ?? 0
                return (Double(v) - Double(mean.scalars[ch])) / (Double(variance.scalars[ch]) + Double(eps)).squareRoot() * w + b
            }
            assertClose(y.scalars, want, abs: 1e-5, "batchNorm \(shape)")
        }
    }

    func testBatchNormBadInput() throws {
        let x = try Tensor(zeros: [2, 3, 4]), s3 = try Tensor(zeros: [3]), s4 = try Tensor(zeros: [4])
        assertThrows(.shapeMismatch, "runningMean", "[3]", "[4]") { try batchNorm(x, runningMean: s4, runningVar: s3) }
        assertThrows(.shapeMismatch, "runningVar") { try batchNorm(x, runningMean: s3, runningVar: s4) }
        assertThrows(.shapeMismatch, "weight") { try batchNorm(x, runningMean: s3, runningVar: s3, weight: s4) }
        assertThrows(.shapeMismatch, "bias") { try batchNorm(x, runningMean: s3, runningVar: s3, bias: try Tensor(zeros: [1, 3])) }
        assertThrows(.invalidArgument, "rank 1") { try batchNorm(s3, runningMean: s3, runningVar: s3) }
        assertThrows(.invalidArgument, "eps") { try batchNorm(x, runningMean: s3, runningVar: s3, eps: -1) }
        assertThrows(.invalidArgument, "eps") { try batchNorm(x, runningMean: s3, runningVar: s3, eps: .nan) }
    }

    // MARK: Linear

    func testLinearMatchesFormula() throws {
        var rng = TestRNG(5)
        for trial in 0..<30 {
            let n = rng.int(1...4), i = rng.int(1...9), o = rng.int(1...7)
            let batched = trial % 4 != 0
            let x = try rng.tensor(batched ? [n, i] : [i], -3, 3)
            let w = try rng.tensor([o, i], -3, 3)
            let b = trial % 2 == 0 ? try rng.tensor([o], -3, 3) : nil
            let y = try linear(x, weight: w, bias: b)
            XCTAssertEqual(y.shape, batched ? [n, o] : [o])
            let rows = batched ? n : 1
            var want: [Double] = []
            for r in 0..<rows {
                for oo in 0..<o {
                    var s = b.map { Double($0.scalars[oo]) } ?? 0
                    for ii in 0..<i { s += Double(x.scalars[r * i + ii]) * Double(w.scalars[oo * i + ii]) }
                    want.append(s)
                }
            }
            assertClose(y.scalars, want, abs: 1e-5, "linear n\(n) in\(i) out\(o)")
        }
    }

    func testLinearBadInput() throws {
        let x = try Tensor(zeros: [2, 3]), w = try Tensor(zeros: [4, 3])
        assertThrows(.shapeMismatch, "linear", "[4, 5]", "5", "3") { try linear(x, weight: try Tensor(zeros: [4, 5])) }
        assertThrows(.shapeMismatch, "bias", "[4]", "[3]") { try linear(x, weight: w, bias: try Tensor(zeros: [3])) }
        assertThrows(.invalidArgument, "weight", "rank 1") { try linear(x, weight: try Tensor(zeros: [12])) }
        assertThrows(.invalidArgument, "input", "rank 3") { try linear(try Tensor(zeros: [1, 2, 3]), weight: w) }
    }

    // MARK: Flatten, dropout

    func testFlatten() throws {
        var rng = TestRNG(6)
        let x = try rng.tensor([2, 3, 4, 5], -3, 3)
        let f = try flatten(x)
        XCTAssertEqual(f.shape, [2, 60])
        XCTAssertEqual(f.scalars, x.scalars)
        XCTAssertEqual(try flatten(x, startAxis: 0).shape, [120])
        XCTAssertEqual(try flatten(x, startAxis: 2).shape, [2, 3, 20])
        XCTAssertEqual(try flatten(x, startAxis: -1).shape, [2, 3, 4, 5])
        XCTAssertEqual(try flatten(x, startAxis: -3).shape, [2, 60])
        XCTAssertEqual(try flatten(try Tensor(zeros: [7]), startAxis: 0).shape, [7])
        assertThrows(.invalidArgument, "flatten", "startAxis", "4") { try flatten(x, startAxis: 4) }
        assertThrows(.invalidArgument, "-5") { try flatten(x, startAxis: -5) }
        assertThrows(.invalidArgument) { try flatten(try Tensor(zeros: [7])) }   // axis 1 of a rank-1 tensor, as torch
    }

    func testDropout() throws {
        var rng = TestRNG(7)
        let x = try rng.tensor([2, 3], -3, 3)
        for p: Float in [0, 0.5, 0.999] {
            let y = try dropout(x, p: p)
            XCTAssertEqual(y.shape, x.shape)
            XCTAssertEqual(y.scalars, x.scalars)
        }
        assertThrows(.invalidArgument, "dropout", "[0, 1)", "1.0") { try dropout(x, p: 1) }
        assertThrows(.invalidArgument) { try dropout(x, p: -0.1) }
        assertThrows(.invalidArgument) { try dropout(x, p: .nan) }
        assertThrows(.unsupported, "training") { try dropout(x, p: 0.5, training: true) }
    }

    // MARK: Concat, add

    func testConcatMatchesIndexing() throws {
        var rng = TestRNG(8)
        for _ in 0..<30 {
            let rank = rng.int(1...4)
            let base = rng.shape(rank: rank, maxDim: 4)
            let axis = rng.int(-rank...rank - 1)
            let a = axis < 0 ? axis + rank : axis
            let parts = try (0..<rng.int(1...4)).map { _ -> Tensor in
                var s = base
                s[a] = rng.int(1...4)
                return try rng.tensor(s, -3, 3)
            }
            let y = try concat(parts, axis: axis)
            var shape = base
            shape[a] = parts.reduce(0) { $0 + $1.shape[a] }
            XCTAssertEqual(y.shape, shape)
            // Every output element comes from the part whose axis range holds its index.
            let ys = y.scalars
            for i in 0..<ys.count {
                var idx = unflatten(i, shape)
                var p = 0
                while idx[a] >= parts[p].shape[a] { idx[a] -= parts[p].shape[a]; p += 1 }
                XCTAssertEqual(ys[i], try parts[p].element(at: try parts[p].flatIndex(idx)))
            }
        }
    }

    func testConcatBadInput() throws {
        let a = try Tensor(zeros: [1, 2, 3]), b = try Tensor(zeros: [1, 4, 3])
        XCTAssertEqual(try concat([a, b]).shape, [1, 6, 3])
        assertThrows(.invalidArgument, "at least one") { try concat([]) }
        assertThrows(.shapeMismatch, "tensor 1", "[1, 4, 3]", "[1, 2, 3]") { try concat([a, b], axis: 2) }
        assertThrows(.shapeMismatch, "rank") { try concat([a, try Tensor(zeros: [2, 3])]) }
        assertThrows(.invalidArgument, "axis") { try concat([a, b], axis: 3) }
        assertThrows(.invalidArgument, "axis") { try concat([a], axis: -4) }
    }

    func testAdd() throws {
        var rng = TestRNG(9)
        for _ in 0..<20 {
            let shape = rng.shape(rank: rng.int(1...4))
            let a = try rng.tensor(shape, -3, 3), b = try rng.tensor(shape, -3, 3)
            let y = try add(a, b)
            XCTAssertEqual(y.shape, shape)
            XCTAssertEqual(y.scalars, zip(a.scalars, b.scalars).map { $0 + $1 })
        }
        assertThrows(.shapeMismatch, "add", "[2, 3]", "[3, 2]") { try add(try Tensor(zeros: [2, 3]), try Tensor(zeros: [3, 2])) }
        assertThrows(.shapeMismatch, "[6]") { try add(try Tensor(zeros: [2, 3]), try Tensor(zeros: [6])) }
    }

    /// Ops never write their inputs, including borrowed ones.
    func testInputsUntouched() throws {
        let buf: [Float] = [-1, 2, -3, 4]
        let copy = buf
        try buf.withUnsafeBufferPointer { p in
            let x = try Tensor(borrowing: p.baseAddress!, count: 4, shape: [1, 2, 2])
            _ = try relu(x); _ = try sigmoid(x); _ = try softmax(x, axis: 1); _ = try localResponseNorm(x, size: 3)
            _ = try add(x, x); _ = try concat([x, x]); _ = try flatten(x)
        }
        XCTAssertEqual(buf, copy)
    }

    // MARK: No traps

    /// Extreme and random arguments: every call returns a result or throws a SwiftCNNError
    /// with a message. A trap would kill the test process.
    func testExtremeArgumentsNeverTrap() throws {
        let ints = [Int.min, Int.min + 1, -5, -2, -1, 0, 1, 2, 3, 4, 5, Int.max / 2, Int.max - 1, Int.max]
        let floats: [Float] = [.nan, .infinity, -.infinity, -1, -0.0, 0, .leastNonzeroMagnitude, 0.5, 0.9999999, 1, 1e30,
                               .greatestFiniteMagnitude]
        var calls = 0, failures = 0
        func attempt(_ body: () throws -> Tensor) {
            calls += 1
            do {
                let t = try body()
                XCTAssertGreaterThan(t.count, 0)
            } catch let e as SwiftCNNError {
                failures += 1
                XCTAssertFalse(e.message.isEmpty)
            } catch {
                XCTFail("unexpected error \(error)")
            }
        }
        var rng = TestRNG(21)
        let shapes = [[3], [2, 3], [1, 2, 3], [2, 3, 1, 2], [1, 1, 1, 1]]
        for shape in shapes {
            let x = try rng.tensor(shape, -50, 50)
            for v in ints {
                attempt { try softmax(x, axis: v) }
                attempt { try flatten(x, startAxis: v) }
                attempt { try concat([x, x], axis: v) }
                attempt { try localResponseNorm(x, size: v) }
            }
            for f in floats {
                attempt { try dropout(x, p: f) }
                attempt { try dropout(x, p: f, training: true) }
                attempt { try localResponseNorm(x, size: 3, alpha: f, beta: 0.75, k: 1) }
                attempt { try localResponseNorm(x, size: 2, alpha: 1, beta: f, k: 1) }
                attempt { try localResponseNorm(x, size: 4, alpha: 1, beta: 0.5, k: f) }
                if shape.count >= 2 {
                    let c = try rng.tensor([shape[1]], -3, 3)
                    attempt { try batchNorm(x, runningMean: c, runningVar: c, weight: c, bias: c, eps: f) }
                }
            }
            for other in shapes {
                let y = try rng.tensor(other, -3, 3)
                attempt { try add(x, y) }
                attempt { try concat([x, y], axis: rng.int(-4...4)) }
                attempt { try linear(x, weight: y, bias: x) }
                attempt { try linear(x, weight: y) }
                attempt { try batchNorm(x, runningMean: y, runningVar: y) }
                attempt { try batchNorm(y, runningMean: x, runningVar: x, weight: x) }
            }
            // Values that overflow to infinity or NaN stay values, never traps.
            let wild = try Tensor(shape: shape, scalars: (0..<x.count).map { floats[$0 % floats.count] })
            attempt { try softmax(wild) }
            attempt { try sigmoid(wild) }
            attempt { try SwiftCNN.tanh(wild) }
            attempt { try relu(wild) }
            attempt { try add(wild, wild) }
        }
        XCTAssertGreaterThan(failures, 0)
        XCTAssertGreaterThan(calls - failures, 0)
    }
}
