import XCTest
@testable import SwiftCNN

/// correlate1d / convolve1d against numpy's outputs (values printed by numpy 2.4 and pasted
/// here) and against a full-correlation formula. Small integers and halves: exact results.
final class Conv1DTests: XCTestCase {
    func t(_ v: [Float]) throws -> Tensor { try Tensor(shape: [v.count], scalars: v) }

    func check(_ f: (Tensor, Tensor, Conv1DMode) throws -> Tensor, _ x: [Float], _ w: [Float],
               _ mode: Conv1DMode, _ want: [Float], file: StaticString = #filePath, line: UInt = #line) throws {
        let y = try f(try t(x), try t(w), mode)
        XCTAssertEqual(y.shape, [want.count], file: file, line: line)
        XCTAssertEqual(y.scalars, want, "\(x) \(w) \(mode)", file: file, line: line)
    }

    /// The seed's x = [2,8,3,7,1,2,0,4,5], w = [2,1,5,3], every mode, both orders.
    func testSeedExample() throws {
        let x: [Float] = [2, 8, 3, 7, 1, 2, 0, 4, 5], w: [Float] = [2, 1, 5, 3]
        try check(correlate1d, x, w, .valid, [48, 57, 24, 25, 16, 39])
        try check(correlate1d, x, w, .same, [34, 51, 48, 57, 24, 25, 16, 39, 29])
        try check(correlate1d, x, w, .full, [6, 34, 51, 48, 57, 24, 25, 16, 39, 29, 13, 10])
        try check(convolve1d, x, w, .valid, [63, 48, 49, 28, 21, 20])
        try check(convolve1d, x, w, .same, [18, 24, 63, 48, 49, 28, 21, 20, 25])
        try check(convolve1d, x, w, .full, [4, 18, 24, 63, 48, 49, 28, 21, 20, 25, 37, 15])
        // np.correlate(w, x): swapped and reversed
        try check(correlate1d, w, x, .valid, [39, 16, 25, 24, 57, 48])
        try check(correlate1d, w, x, .same, [29, 39, 16, 25, 24, 57, 48, 51, 34])
        try check(correlate1d, w, x, .full, [10, 13, 29, 39, 16, 25, 24, 57, 48, 51, 34, 6])
        try check(convolve1d, w, x, .same, [18, 24, 63, 48, 49, 28, 21, 20, 25])
        // The default mode is valid.
        XCTAssertEqual(try correlate1d(try t(x), try t(w)).scalars, [48, 57, 24, 25, 16, 39])
        // The seed's walk-through: flipping w gives wr = [3,5,1,2]; convolution = correlation with wr.
        XCTAssertEqual(try convolve1d(try t(x), try t(w), mode: .full).scalars,
                       try correlate1d(try t(x), try t([3, 5, 1, 2]), mode: .full).scalars)
    }

    /// Shorter x than w, odd and even lengths, a length-1 signal: numpy's outputs.
    func testNumpySwapRules() throws {
        let a: [Float] = [1, 2, 3], b: [Float] = [0, 1, 0.5, 2, 4]
        try check(correlate1d, a, b, .valid, [16.5, 8, 3.5])
        try check(correlate1d, a, b, .same, [10, 16.5, 8, 3.5, 3])
        try check(correlate1d, a, b, .full, [4, 10, 16.5, 8, 3.5, 3, 0])
        try check(correlate1d, b, a, .same, [3, 3.5, 8, 16.5, 10])
        try check(convolve1d, a, b, .valid, [2.5, 6, 9.5])
        try check(convolve1d, a, b, .same, [1, 2.5, 6, 9.5, 14])
        try check(convolve1d, a, b, .full, [0, 1, 2.5, 6, 9.5, 14, 12])
        try check(correlate1d, [1, 2], [1, 10, 100, 1000], .same, [2100, 210, 21, 2])
        try check(correlate1d, [1, 2], [1, 10, 100, 1000], .full, [1000, 2100, 210, 21, 2])
        try check(convolve1d, [1, 2], [1, 10, 100, 1000], .same, [1, 12, 120, 1200])
        try check(convolve1d, [1, 2], [1, 10, 100, 1000], .valid, [12, 120, 1200])
        for m in [Conv1DMode.valid, .same, .full] {
            try check(correlate1d, [3], [1, 2, 3, 4], m, [12, 9, 6, 3])
            try check(convolve1d, [3], [1, 2, 3, 4], m, [3, 6, 9, 12])
        }
    }

    /// Random lengths: full correlation from its definition c[k] = Σ_n x[n + k − (M−1)]·w[n]
    /// (k = 0 ..< N+M−1); valid is the middle; convolve(x, w, full) = correlate(x, reversed w, full).
    func testFullAndValidMatchDefinition() throws {
        var r = TestRNG(11)
        for _ in 0..<30 {
            let nx = r.int(1...9), nw = r.int(1...9)
            let x = (0..<nx).map { _ in Float(r.int(-5...5)) }, w = (0..<nw).map { _ in Float(r.int(-5...5)) }
            var full = [Float]()
            for k in 0..<(nx + nw - 1) {
                var s: Float = 0
                for n in 0..<nw where n + k - (nw - 1) >= 0 && n + k - (nw - 1) < nx { s += x[n + k - (nw - 1)] * w[n] }
                full.append(s)
            }
            try check(correlate1d, x, w, .full, full)
            let lo = min(nx, nw) - 1
            try check(correlate1d, x, w, .valid, Array(full[lo..<(lo + max(nx, nw) - min(nx, nw) + 1)]))
            XCTAssertEqual(try convolve1d(try t(x), try t(w), mode: .full).scalars,
                           try correlate1d(try t(x), try t(w.reversed()), mode: .full).scalars)
            XCTAssertEqual(try correlate1d(try t(x), try t(w), mode: .same).count, max(nx, nw))
        }
    }

    func testBadInputsThrow() throws {
        let v = try t([1, 2, 3]), m = try Tensor(zeros: [2, 2])
        assertThrows(.invalidArgument, "correlate1d: x must have rank 1") { try correlate1d(m, v) }
        assertThrows(.invalidArgument, "correlate1d: w must have rank 1") { try correlate1d(v, m) }
        assertThrows(.invalidArgument, "convolve1d: x must have rank 1") { try convolve1d(m, v, mode: .full) }
        assertThrows(.invalidArgument, "convolve1d: w must have rank 1") { try convolve1d(v, m, mode: .same) }
    }
}
