import XCTest
@testable import SwiftCNN

/// The SIMD tanh against the float64 tanh (ulp distance) and the reference kernel.
final class TanhSIMDTests: XCTestCase {
    func ulps(_ a: Float, _ exact: Double) -> Int {
        let e = Float(exact)
        if a == e { return 0 }
        let ai = Int64(Int32(bitPattern: a.bitPattern)), ei = Int64(Int32(bitPattern: e.bitPattern))
        func ordered(_ v: Int64) -> Int64 { v < 0 ? Int64(Int32.min) - v : v }
        return Int(abs(ordered(ai) - ordered(ei)))
    }

    func testAccuracyAndSpecialValues() throws {
        var values: [Float] = [0, -0, 1e-30, -1e-30, 1e-8, 0.1, 0.5, 0.6249, 0.625, 0.6251, 1, 2, 4.5, 8.99, 9, 9.01, 9.02, 9.5, 9.99, 10, 10.01, 20, 88, 100, 1000, 1e30,
                               .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        values += values.map { -$0 }
        var rng = TestRNG(5)
        for _ in 0..<20000 { values.append(rng.float(-12, 12)) }
        for _ in 0..<5000 { values.append(rng.float(-1, 1) * rng.float(0, 1e-3)) }
        let x = try Tensor(shape: [values.count], scalars: values)
        let y = try tanh(x)
        var worst = 0
        for (i, v) in values.enumerated() {
            let exact = Foundationless.tanh(Double(v))
            let u = ulps(y.scalars[i], exact)
            worst = max(worst, u)
            XCTAssertLessThanOrEqual(u, 3, "tanh(\(v)) = \(y.scalars[i]), exact \(exact)")
        }
        XCTAssertEqual(y.scalars[0].sign, .plus)
        XCTAssertEqual(try tanh(try Tensor(shape: [4], scalars: [9.02, 10, 100, -1000])).scalars, [1, 1, 1, -1])
        XCTAssertEqual(y.scalars[values.firstIndex(of: 1e-30)!], 1e-30)
        XCTAssertEqual(try tanh(try Tensor(shape: [3], scalars: [.nan, 1, -.nan])).scalars.map(\.isNaN), [true, false, true])
        // Odd sizes (tails) agree with full vectors.
        for n in [1, 15, 17, 33] {
            let part = try Tensor(shape: [n], scalars: Array(values[40..<(40 + n)]))
            XCTAssertEqual(try tanh(part).scalars, Array(y.scalars[40..<(40 + n)]))
        }
        // Thread count and chunking do not change any element.
        var big: [Float] = []
        for _ in 0..<70_001 { big.append(rng.float(-6, 6)) }
        let bx = try Tensor(shape: [big.count], scalars: big)
        let threads = Threading.numThreads
        Threading.numThreads = 1
        let one = try tanh(bx).scalars
        Threading.numThreads = 2
        let two = try tanh(bx).scalars
        Threading.numThreads = threads
        XCTAssertEqual(one.map(\.bitPattern), two.map(\.bitPattern))
        XCTAssertEqual(Array(one[0..<17]), try tanh(try Tensor(shape: [17], scalars: Array(big[0..<17]))).scalars)
        // The reference path stays the C library's.
        let saved = KernelDispatch.forceReference
        KernelDispatch.forceReference = true
        defer { KernelDispatch.forceReference = saved }
        let r = try tanh(x)
        XCTAssertEqual(r.scalars.map(\.bitPattern), values.map { tanhf($0).bitPattern })
        print("SIMD tanh: worst \(worst) ulp over \(values.count) values")
    }

    /// LeNet-5's 1.7159·tanh(2x/3) on the SIMD path against the reference loop (tanhf):
    /// within 2 ulp of the tanh plus the product's rounding, i.e. 4e-7 relative.
    func testScaledTanhMatchesReference() throws {
        var rng = TestRNG(9)
        let x = try rng.tensor([3, 7, 5, 5], -8, 8)
        let fast = try LeNetOps.scaledTanh(x).scalars
        let saved = KernelDispatch.forceReference
        KernelDispatch.forceReference = true
        defer { KernelDispatch.forceReference = saved }
        let slow = try LeNetOps.scaledTanh(x).scalars
        for (a, b) in zip(fast, slow) { XCTAssertEqual(a, b, accuracy: 4e-7 * max(abs(b), 1e-6)) }
        XCTAssertEqual(slow, x.scalars.map { tanhf($0 * Float(2.0 / 3.0)) * 1.7159 })
    }
}
