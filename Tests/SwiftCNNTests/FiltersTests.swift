import XCTest
@testable import SwiftCNN

/// The value of pixel `i` of a line of `n` under `border`, by walking reflections one at a
/// time (independent of the library's modular formula); nil for a zero pixel.
private func borderPixel(_ i: Int, _ n: Int, _ border: BorderMode) -> Int? {
    if i >= 0 && i < n { return i }
    switch border {
    case .zero: return nil
    case .replicate: return Swift.min(Swift.max(i, 0), n - 1)
    case .reflect:
        if n == 1 { return 0 }
        var j = i
        while j < 0 || j >= n {
            if j < 0 { j = -j }
            if j >= n { j = 2 * (n - 1) - j }
        }
        return j
    }
}

/// Direct same-size cross-correlation of every plane, in double precision.
private func directFilter(_ x: [Float], planes: Int, h: Int, w: Int, kernel k: [Float], kh: Int, kw: Int,
                          border: BorderMode) -> [Double] {
    var out = [Double](repeating: 0, count: planes * h * w)
    for p in 0..<planes {
        for y in 0..<h {
            for xx in 0..<w {
                var acc = 0.0
                for ky in 0..<kh {
                    for kx in 0..<kw {
                        guard let sy = borderPixel(y + ky - (kh - 1) / 2, h, border),
                              let sx = borderPixel(xx + kx - (kw - 1) / 2, w, border) else { continue }
                        acc += Double(k[ky * kw + kx]) * Double(x[(p * h + sy) * w + sx])
                    }
                }
                out[(p * h + y) * w + xx] = acc
            }
        }
    }
    return out
}

final class FiltersTests: XCTestCase {
    let borders: [BorderMode] = [.zero, .replicate, .reflect]

    // MARK: Kernels

    func testSeedFilterValuesExactly() throws {
        let b3 = try Filters.box(3)
        XCTAssertEqual(b3.shape, [3, 3])
        XCTAssertEqual(b3.scalars, [Float](repeating: 1.0 / 9.0, count: 9))
        let b5 = try Filters.box(5)
        XCTAssertEqual(b5.shape, [5, 5])
        XCTAssertEqual(b5.scalars, [Float](repeating: 1.0 / 25.0, count: 25))
        XCTAssertEqual(try Filters.box(1).scalars, [1])
        let hb = try Filters.horizontalBlur()
        XCTAssertEqual(hb.shape, [1, 5])
        XCTAssertEqual(hb.scalars, [Float](repeating: 0.2, count: 5))
        let vb = try Filters.verticalBlur()
        XCTAssertEqual(vb.shape, [5, 1])
        XCTAssertEqual(vb.scalars, [Float](repeating: 0.2, count: 5))
        XCTAssertEqual(try Filters.horizontalBlur(3).scalars, [Float](repeating: 1.0 / 3.0, count: 3))
        XCTAssertEqual(try Filters.verticalBlur(2).shape, [2, 1])
        let sh = (try Filters.sharpen())
        XCTAssertEqual(sh.shape, [3, 3])
        XCTAssertEqual(sh.scalars, [0, -0.25, 0, -0.25, 2, -0.25, 0, -0.25, 0])
        XCTAssertEqual(sh.scalars.reduce(0, +), 1)
        XCTAssertEqual((try Filters.sobelX()).scalars, [-1, 0, 1, -2, 0, 2, -1, 0, 1])
        XCTAssertEqual((try Filters.sobelY()).scalars, [-1, -2, -1, 0, 0, 0, 1, 2, 1])
        XCTAssertEqual((try Filters.edge()).shape, [1, 3])
        XCTAssertEqual((try Filters.edge()).scalars, [-1, 0, 1])
    }

    func testGaussianMatchesFormula() throws {
        for (size, sigma) in [(1, 1.0), (3, 0.8), (5, 1.5), (7, 3.0), (3, 0.01)] as [(Int, Double)] {
            let g = try Filters.gaussian(size: size, sigma: Float(sigma))
            XCTAssertEqual(g.shape, [size, size])
            let half = Double(size - 1) / 2
            var raw = [Double](repeating: 0, count: size * size)
            for i in 0..<size {
                for j in 0..<size {
                    let dy = Double(i) - half, dx = Double(j) - half
                    raw[i * size + j] = exp(-(dx * dx + dy * dy) / (2 * Double(Float(sigma)) * Double(Float(sigma))))
                }
            }
            let total = raw.reduce(0, +)
            let got = g.scalars
            for k in 0..<raw.count { XCTAssertEqual(Double(got[k]), raw[k] / total, accuracy: 1e-7) }
            XCTAssertEqual(Double(got.reduce(0, +)), 1, accuracy: 1e-5)
        }
        XCTAssertEqual(try Filters.gaussian(size: 1, sigma: 2).scalars, [1])
    }

    func testKernelBadInputs() {
        for n in [0, -1, Int.min] {
            assertThrows(.invalidArgument, "box") { try Filters.box(n) }
            assertThrows(.invalidArgument, "horizontal blur") { try Filters.horizontalBlur(n) }
            assertThrows(.invalidArgument, "vertical blur") { try Filters.verticalBlur(n) }
        }
        assertThrows(.invalidArgument, "overflows") { try Filters.box(Int.max) }
        assertThrows(.outOfMemory, "memory") { try Filters.box(1 << 28) }
        for size in [0, 2, 4, -3] {
            assertThrows(.invalidArgument, "odd") { try Filters.gaussian(size: size, sigma: 1) }
        }
        for sigma: Float in [0, -1, .nan, .infinity] {
            assertThrows(.invalidArgument, "sigma") { try Filters.gaussian(size: 3, sigma: sigma) }
        }
        assertThrows(.invalidArgument, "overflows") { try Filters.gaussian(size: Int.max, sigma: 1) }
        assertThrows(.outOfMemory, "memory") { try Filters.gaussian(size: (1 << 28) + 1, sigma: 1) }
    }

    // MARK: Apply

    func testBorderModesByHand() throws {
        let row = try Tensor(shape: [1, 3], scalars: [1, 2, 3])
        let left = try Tensor(shape: [1, 3], scalars: [1, 0, 0])   // out[x] = in[x − 1]
        let right = try Tensor(shape: [1, 3], scalars: [0, 0, 1])  // out[x] = in[x + 1]
        XCTAssertEqual(try applyFilter(row, kernel: left, border: .zero).scalars, [0, 1, 2])
        XCTAssertEqual(try applyFilter(row, kernel: left, border: .replicate).scalars, [1, 1, 2])
        XCTAssertEqual(try applyFilter(row, kernel: left, border: .reflect).scalars, [2, 1, 2])
        XCTAssertEqual(try applyFilter(row, kernel: right, border: .zero).scalars, [2, 3, 0])
        XCTAssertEqual(try applyFilter(row, kernel: right, border: .replicate).scalars, [2, 3, 3])
        XCTAssertEqual(try applyFilter(row, kernel: right, border: .reflect).scalars, [2, 3, 2])
        // Even-sized kernel: anchor (KW − 1)/2 = 0, out[x] = in[x] + in[x + 1].
        let pair = try Tensor(shape: [1, 2], scalars: [1, 1])
        XCTAssertEqual(try applyFilter(row, kernel: pair).scalars, [3, 5, 3])
        // Kernel larger than the image: numpy's pad([1, 2], 2, 'reflect') = [1, 2, 1, 2, 1, 2].
        let two = try Tensor(shape: [1, 2], scalars: [1, 2])
        let far = try Tensor(shape: [1, 5], scalars: [1, 0, 0, 0, 0])  // out[x] = in[x − 2]
        XCTAssertEqual(try applyFilter(two, kernel: far, border: .reflect).scalars, [1, 2])
        XCTAssertEqual(try applyFilter(two, kernel: far, border: .replicate).scalars, [1, 1])
        XCTAssertEqual(try applyFilter(two, kernel: far, border: .zero).scalars, [0, 0])
        // 1-pixel image under reflect: every outside pixel is that pixel.
        let one = try Tensor(shape: [1, 1], scalars: [4])
        XCTAssertEqual(try applyFilter(one, kernel: try Filters.box(5), border: .reflect).scalars[0], 4, accuracy: 1e-5)
        XCTAssertEqual(try applyFilter(one, kernel: try Filters.box(5), border: .zero).scalars[0], 4.0 / 25, accuracy: 1e-6)
    }

    func testApplyMatchesDirectLoopsAllBorders() throws {
        var rng = TestRNG(11)
        for trial in 0..<45 {
            let border = borders[trial % 3]
            let rank = rng.int(2...4)
            let h = rng.int(1...7), w = rng.int(1...7)
            let kh = rng.int(1...9), kw = rng.int(1...9)   // often larger than the image
            let lead: [Int] = rank == 2 ? [] : rank == 3 ? [rng.int(1...3)] : [rng.int(1...2), rng.int(1...3)]
            let shape = lead + [h, w]
            let planes = lead.reduce(1, *)
            let x = (0..<(planes * h * w)).map { _ in rng.float(-2, 2) }
            let k = (0..<(kh * kw)).map { _ in rng.float(-1, 1) }
            let y = try applyFilter(try Tensor(shape: shape, scalars: x), kernel: try Tensor(shape: [kh, kw], scalars: k),
                                    border: border)
            XCTAssertEqual(y.shape, shape)
            let want = directFilter(x, planes: planes, h: h, w: w, kernel: k, kh: kh, kw: kw, border: border)
            let got = y.scalars
            for i in 0..<want.count {
                XCTAssertEqual(Double(got[i]), want[i], accuracy: 1e-4, "\(shape) ⋆ \(kh)×\(kw) \(border) at \(i)")
            }
        }
    }

    func testSeedBoxFilterTable() throws {
        var f = [Float](repeating: 0, count: 100)
        for r in 2...5 { for c in 3...7 { f[r * 10 + c] = 90 } }
        f[4 * 10 + 4] = 0
        f[8 * 10 + 2] = 90
        let h = try applyFilter(try Tensor(shape: [10, 10], scalars: f), kernel: try Filters.box(3))
        // The seed's printed table (h[1...8][1...8]), with its typo fixed in the last two rows.
        let table: [[Float]] = [
            [0, 10, 20, 30, 30, 30, 20, 10],
            [0, 20, 40, 60, 60, 60, 40, 20],
            [0, 30, 50, 80, 80, 90, 60, 30],
            [0, 30, 50, 80, 80, 90, 60, 30],
            [0, 20, 30, 50, 50, 60, 40, 20],
            [0, 10, 20, 30, 30, 30, 20, 10],
            [10, 10, 10, 0, 0, 0, 0, 0],
            [10, 10, 10, 0, 0, 0, 0, 0],
        ]
        let got = h.scalars
        for m in 1...8 {
            for n in 1...8 {
                XCTAssertEqual(got[m * 10 + n], table[m - 1][n - 1], accuracy: 1e-4, "h[\(m), \(n)]")
            }
        }
    }

    func testChannelsAreFilteredIndependently() throws {
        var rng = TestRNG(12)
        let x = (0..<(2 * 3 * 4 * 5)).map { _ in rng.float(0, 1) }
        let k = (try Filters.sobelX())
        let all = try applyFilter(try Tensor(shape: [2, 3, 4, 5], scalars: x), kernel: k, border: .reflect).scalars
        for p in 0..<6 {
            let plane = Array(x[(p * 20)..<((p + 1) * 20)])
            let one = try applyFilter(try Tensor(shape: [4, 5], scalars: plane), kernel: k, border: .reflect).scalars
            XCTAssertEqual(Array(all[(p * 20)..<((p + 1) * 20)]), one)
        }
    }

    func testApplyBadInputs() throws {
        let img = try Tensor(zeros: [3, 4, 4])
        assertThrows(.invalidArgument, "image must be") { try applyFilter(try Tensor(zeros: [5]), kernel: (try Filters.sobelX())) }
        assertThrows(.invalidArgument, "kernel must be rank 2") { try applyFilter(img, kernel: try Tensor(zeros: [3])) }
        assertThrows(.invalidArgument, "kernel must be rank 2") { try applyFilter(img, kernel: try Tensor(zeros: [1, 3, 3])) }
    }

    func testReferenceSourceIndex() {
        // The reflect formula agrees with walking reflections over a wide range.
        for n in 1...6 {
            for i in -40...40 {
                for b in borders {
                    XCTAssertEqual(b.sourceIndex(i, count: n), borderPixel(i, n, b), "i \(i) n \(n) \(b)")
                }
            }
        }
    }
}
