import XCTest
@testable import SwiftCNN

/// Python colorsys.rgb_to_hsv, ported literally in double precision, hue scaled to degrees.
private func colorsysRGBToHSV(_ r: Double, _ g: Double, _ b: Double) -> (Double, Double, Double) {
    let maxc = Swift.max(r, g, b), minc = Swift.min(r, g, b)
    let v = maxc
    if minc == maxc { return (0, 0, v) }
    let s = (maxc - minc) / maxc
    let rc = (maxc - r) / (maxc - minc), gc = (maxc - g) / (maxc - minc), bc = (maxc - b) / (maxc - minc)
    var h: Double
    if r == maxc { h = bc - gc } else if g == maxc { h = 2.0 + rc - bc } else { h = 4.0 + gc - rc }
    h = (h / 6.0).truncatingRemainder(dividingBy: 1.0)
    if h < 0 { h += 1 }   // Python's % is non-negative
    return (h * 360, s, v)
}

/// PyTorch's bilinear resize (align_corners=False) written directly, in double precision.
private func torchBilinear(_ x: [Double], planes: Int, inH: Int, inW: Int, outH: Int, outW: Int) -> [Double] {
    func axis(_ i: Int, _ inSize: Int, _ outSize: Int) -> (Int, Int, Double, Double) {
        let scale = Double(inSize) / Double(outSize)
        var src = scale * (Double(i) + 0.5) - 0.5
        if src < 0 { src = 0 }
        let i0 = Int(src.rounded(.down))
        let i1 = i0 + (i0 < inSize - 1 ? 1 : 0)
        let l1 = src - Double(i0)
        return (i0, i1, 1 - l1, l1)
    }
    var out = [Double](repeating: 0, count: planes * outH * outW)
    for p in 0..<planes {
        for y in 0..<outH {
            let (y0, y1, ly0, ly1) = axis(y, inH, outH)
            for xo in 0..<outW {
                let (x0, x1, lx0, lx1) = axis(xo, inW, outW)
                func at(_ yy: Int, _ xx: Int) -> Double { x[p * inH * inW + yy * inW + xx] }
                out[p * outH * outW + y * outW + xo] =
                    ly0 * (lx0 * at(y0, x0) + lx1 * at(y0, x1)) + ly1 * (lx0 * at(y1, x0) + lx1 * at(y1, x1))
            }
        }
    }
    return out
}

final class ImageTests: XCTestCase {

    // MARK: Pixels

    func testImageToTensorMatchesFormula() throws {
        var rng = TestRNG(1)
        for _ in 0..<30 {
            let w = rng.int(1...7), h = rng.int(1...6), c = [1, 3, 4][rng.int(0...2)]
            let stride = w * c + rng.int(0...3)
            let bytes = (h - 1) * stride + w * c + rng.int(0...2)
            let pixels = (0..<bytes).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let useNorm = rng.int(0...1) == 1
            let mean: [Float]? = useNorm ? (0..<c).map { _ in rng.float(-1, 1) } : nil
            let std: [Float]? = useNorm ? (0..<c).map { _ in rng.float(0.1, 2) } : nil
            let scale: Float = useNorm ? 1.0 / 255 : rng.float(0.001, 2)
            let t = try pixels.withUnsafeBufferPointer {
                try imageToTensor(pixels: $0, width: w, height: h, channels: c, rowStride: stride,
                                  scale: scale, mean: mean, std: std)
            }
            XCTAssertEqual(t.shape, [c, h, w])
            let got = t.scalars
            for ch in 0..<c {
                for y in 0..<h {
                    for x in 0..<w {
                        let p = Double(pixels[y * stride + x * c + ch])
                        let m = Double(mean?[ch] ?? 0), s = Double(std?[ch] ?? 1)
                        let want = (p * Double(scale) - m) / s
                        XCTAssertEqual(Double(got[(ch * h + y) * w + x]), want, accuracy: 1e-5 * max(1, abs(want)))
                    }
                }
            }
        }
    }

    func testPixelRoundTripWithStrideKeepsPadding() throws {
        var rng = TestRNG(2)
        for _ in 0..<20 {
            let w = rng.int(1...6), h = rng.int(1...5), c = [1, 3, 4][rng.int(0...2)]
            let stride = w * c + rng.int(0...4)
            let n = (h - 1) * stride + w * c
            let pixels = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let mean: [Float] = (0..<c).map { _ in rng.float(0, 1) }
            let std: [Float] = (0..<c).map { _ in rng.float(0.2, 1) }
            let t = try pixels.withUnsafeBufferPointer {
                try imageToTensor(pixels: $0, width: w, height: h, channels: c, rowStride: stride, mean: mean, std: std)
            }
            var back = [UInt8](repeating: 0xAB, count: n + 3)
            try back.withUnsafeMutableBufferPointer {
                try tensorToImage(t, into: $0, rowStride: stride, mean: mean, std: std)
            }
            for y in 0..<h {
                for i in 0..<stride where y * stride + i < n + 3 {
                    let k = y * stride + i
                    if i < w * c {
                        XCTAssertEqual(back[k], pixels[k], "pixel byte \(k)")
                    } else {
                        XCTAssertEqual(back[k], 0xAB, "padding byte \(k) must stay untouched")
                    }
                }
            }
            XCTAssertEqual(Array(back[n...]), [0xAB, 0xAB, 0xAB])
            // [1, C, H, W] is accepted too.
            var back4 = [UInt8](repeating: 0, count: n)
            try back4.withUnsafeMutableBufferPointer {
                try tensorToImage(try t.reshaped([1, c, h, w]), into: $0, rowStride: stride, mean: mean, std: std)
            }
            for y in 0..<h { for i in 0..<(w * c) { XCTAssertEqual(back4[y * stride + i], pixels[y * stride + i]) } }
        }
    }

    func testTensorToImageClampsAndRounds() throws {
        let values: [Float] = [-1, 0.4, 0.5, 1.5, 2.5, 254.4, 254.5, 300, .nan, .infinity, -.infinity, 128]
        let want: [UInt8] = [0, 0, 1, 2, 3, 254, 255, 255, 0, 255, 0, 128]
        let t = try Tensor(shape: [1, 3, 4], scalars: values)
        var out = [UInt8](repeating: 7, count: 12)
        try out.withUnsafeMutableBufferPointer { try tensorToImage(t, into: $0, scale: 1) }
        XCTAssertEqual(out, want)
        // 3 channels interleave: [3, 1, 2] → r g b r g b.
        let rgb = try Tensor(shape: [3, 1, 2], scalars: [0, 1, 0.6, 0.25, 1, 0])
        var px = [UInt8](repeating: 0, count: 6)
        try px.withUnsafeMutableBufferPointer { try tensorToImage(rgb, into: $0) }
        XCTAssertEqual(px, [0, 153, 255, 255, 64, 0])  // 0.6·255 = 153, 0.25·255 = 63.75 → 64
    }

    func testPixelBadInputs() throws {
        let buf = [UInt8](repeating: 1, count: 64)
        buf.withUnsafeBufferPointer { p in
            for c in [0, 2, 5, -1] {
                assertThrows(.invalidArgument, "channels") { try imageToTensor(pixels: p, width: 2, height: 2, channels: c) }
            }
            assertThrows(.invalidArgument, "row stride") { try imageToTensor(pixels: p, width: 4, height: 2, channels: 3, rowStride: 11) }
            assertThrows(.shapeMismatch, "needs") { try imageToTensor(pixels: p, width: 5, height: 5, channels: 3) }
            assertThrows(.invalidArgument) { try imageToTensor(pixels: p, width: 0, height: 2, channels: 1) }
            assertThrows(.invalidArgument) { try imageToTensor(pixels: p, width: 2, height: -3, channels: 1) }
            assertThrows(.shapeMismatch, "mean") { try imageToTensor(pixels: p, width: 2, height: 2, channels: 3, mean: [0, 0]) }
            assertThrows(.shapeMismatch, "std") { try imageToTensor(pixels: p, width: 2, height: 2, channels: 3, std: [1, 1, 1, 1]) }
            assertThrows(.invalidArgument, "std") { try imageToTensor(pixels: p, width: 2, height: 2, channels: 1, std: [0]) }
            assertThrows(.invalidArgument, "scale") { try imageToTensor(pixels: p, width: 2, height: 2, channels: 1, scale: .nan) }
            assertThrows(.invalidArgument) { try imageToTensor(pixels: p, width: Int.max, height: 2, channels: 4) }
            assertThrows(.invalidArgument) { try imageToTensor(pixels: p, width: 2, height: Int.max, channels: 1, rowStride: Int.max / 2) }
        }
        assertThrows(.shapeMismatch) { try imageToTensor(pixels: UnsafeBufferPointer(start: nil, count: 0), width: 1, height: 1, channels: 1) }

        var out = [UInt8](repeating: 0, count: 16)
        try out.withUnsafeMutableBufferPointer { d in
            let t3 = try Tensor(zeros: [3, 2, 2])
            assertThrows(.shapeMismatch, "needs") { try tensorToImage(t3, into: UnsafeMutableBufferPointer(rebasing: d[0..<11])) }
            assertThrows(.invalidArgument, "row stride") { try tensorToImage(t3, into: d, rowStride: 5) }
            assertThrows(.invalidArgument, "channels") { try tensorToImage(try Tensor(zeros: [2, 2, 2]), into: d) }
            assertThrows(.invalidArgument, "[C, H, W]") { try tensorToImage(try Tensor(zeros: [2, 3, 1, 1]), into: d) }
            assertThrows(.invalidArgument, "[C, H, W]") { try tensorToImage(try Tensor(zeros: [4, 4]), into: d) }
            assertThrows(.invalidArgument, "scale") { try tensorToImage(t3, into: d, scale: 0) }
            assertThrows(.shapeMismatch, "mean") { try tensorToImage(t3, into: d, mean: [1]) }
        }
    }

    // MARK: Color

    func testKnownColorsToHSV() throws {
        let colors: [([Float], [Float])] = [
            ([1, 0, 0], [0, 1, 1]), ([0, 1, 0], [120, 1, 1]), ([0, 0, 1], [240, 1, 1]),
            ([1, 1, 0], [60, 1, 1]), ([0, 1, 1], [180, 1, 1]), ([1, 0, 1], [300, 1, 1]),
            ([1, 1, 1], [0, 0, 1]), ([0, 0, 0], [0, 0, 0]), ([0.5, 0.5, 0.5], [0, 0, 0.5]),
            ([1, 0, 0.5], [330, 1, 1]), ([0.5, 0.25, 0], [30, 1, 0.5]),
        ]
        let n = colors.count
        // One image [3, 1, n]: channel planes.
        var planes = [Float](repeating: 0, count: 3 * n)
        for (i, (rgb, _)) in colors.enumerated() { for c in 0..<3 { planes[c * n + i] = rgb[c] } }
        let hsv = try rgbToHSV(try Tensor(shape: [3, 1, n], scalars: planes)).scalars
        for (i, (_, want)) in colors.enumerated() {
            for c in 0..<3 { XCTAssertEqual(hsv[c * n + i], want[c], accuracy: 1e-5, "color \(i) channel \(c)") }
        }
        let rgb = try hsvToRGB(try Tensor(shape: [3, 1, n], scalars: hsv)).scalars
        for i in 0..<(3 * n) { XCTAssertEqual(rgb[i], planes[i], accuracy: 1e-6) }
    }

    func testHueWrapsAndNaN() throws {
        // Hues -120, 480, 720, 360 → blue, green, red, red; a NaN hue gives NaN.
        let h: [Float] = [-120, 480, 720, 360, .nan]
        let t = try Tensor(shape: [3, 1, 5], scalars: h + [1, 1, 1, 1, 1] + [1, 1, 1, 1, 1])
        let rgb = try hsvToRGB(t).scalars
        let want: [[Float]] = [[0, 0, 1], [0, 1, 0], [1, 0, 0], [1, 0, 0]]
        for i in 0..<4 { for c in 0..<3 { XCTAssertEqual(rgb[c * 5 + i], want[i][c], accuracy: 1e-5) } }
        for c in 0..<3 { XCTAssertTrue(rgb[c * 5 + 4].isNaN) }
    }

    func testHSVMatchesColorsysAndRoundTrips() throws {
        var rng = TestRNG(3)
        let n = 2, h = 3, w = 8, plane = h * w
        var values = (0..<(n * 3 * plane)).map { _ in rng.unit() }
        values[0] = 1; values[plane] = 0; values[2 * plane] = 1e-6   // hue just below 360
        let rgb = try Tensor(shape: [n, 3, h, w], scalars: values)
        let hsv = try rgbToHSV(rgb)
        XCTAssertEqual(hsv.shape, [n, 3, h, w])
        let got = hsv.scalars
        for b in 0..<n {
            for i in 0..<plane {
                let base = b * 3 * plane
                let (wh, ws, wv) = colorsysRGBToHSV(Double(values[base + i]), Double(values[base + plane + i]),
                                                     Double(values[base + 2 * plane + i]))
                let gh = Double(got[base + i])
                XCTAssertTrue(gh >= 0 && gh < 360, "hue \(gh) out of [0, 360)")
                let dh = abs(gh - wh)
                XCTAssertLessThan(min(dh, 360 - dh), 2e-3, "hue")
                XCTAssertEqual(Double(got[base + plane + i]), ws, accuracy: 1e-5)
                XCTAssertEqual(Double(got[base + 2 * plane + i]), wv, accuracy: 1e-7)
            }
        }
        let back = try hsvToRGB(hsv).scalars
        for i in 0..<values.count { XCTAssertEqual(back[i], values[i], accuracy: 2e-6) }
    }

    func testGrayscale() throws {
        var rng = TestRNG(4)
        let values = (0..<(2 * 3 * 6)).map { _ in rng.unit() }
        let g = try rgbToGrayscale(try Tensor(shape: [2, 3, 2, 3], scalars: values))
        XCTAssertEqual(g.shape, [2, 1, 2, 3])
        for b in 0..<2 {
            for i in 0..<6 {
                let base = b * 18
                let want = 0.299 * Double(values[base + i]) + 0.587 * Double(values[base + 6 + i]) + 0.114 * Double(values[base + 12 + i])
                XCTAssertEqual(Double(g.scalars[b * 6 + i]), want, accuracy: 1e-6)
            }
        }
        XCTAssertEqual(try rgbToGrayscale(try Tensor(shape: [3, 1, 1], scalars: [1, 1, 1])).scalars[0], 1, accuracy: 1e-6)
        XCTAssertEqual(try rgbToGrayscale(try Tensor(shape: [3, 1, 1], scalars: [1, 1, 1])).shape, [1, 1, 1])
    }

    func testColorBadInputs() throws {
        for shape in [[4, 2, 2], [2, 2, 2], [1, 4, 2, 2], [3, 3], [3]] {
            let t = try Tensor(zeros: shape)
            assertThrows(.invalidArgument, "rgb to hsv") { try rgbToHSV(t) }
            assertThrows(.invalidArgument, "hsv to rgb") { try hsvToRGB(t) }
            assertThrows(.invalidArgument, "rgb to grayscale") { try rgbToGrayscale(t) }
        }
    }

    // MARK: Resize and crop

    func testResizeKnownValues() throws {
        let x = try Tensor(shape: [1, 2, 2], scalars: [1, 2, 3, 4])
        let up = try resizeBilinear(x, height: 4, width: 4)
        XCTAssertEqual(up.shape, [1, 4, 4])
        XCTAssertEqual(up.scalars, [1, 1.25, 1.75, 2,
                                    1.5, 1.75, 2.25, 2.5,
                                    2.5, 2.75, 3.25, 3.5,
                                    3, 3.25, 3.75, 4])
        // 4 → 2 without antialiasing: the mean of each pair (src = 0.5 and 2.5).
        let row = try Tensor(shape: [1, 1, 4], scalars: [0, 2, 10, 20])
        XCTAssertEqual(try resizeBilinear(row, height: 1, width: 2).scalars, [1, 15])
        // 3 → 1: src = 1 exactly, the middle pixel.
        XCTAssertEqual(try resizeBilinear(try Tensor(shape: [1, 1, 3], scalars: [5, 7, 9]), height: 1, width: 1).scalars, [7])
    }

    func testResizeIdentityIsExact() throws {
        var rng = TestRNG(5)
        let values = (0..<(2 * 3 * 5 * 7)).map { _ in rng.float(-5, 5) }
        let x = try Tensor(shape: [2, 3, 5, 7], scalars: values)
        XCTAssertEqual(try resizeBilinear(x, height: 5, width: 7).scalars, values)
    }

    func testResizeMatchesTorchFormula() throws {
        var rng = TestRNG(6)
        for _ in 0..<40 {
            let batched = rng.int(0...1) == 1
            let n = batched ? rng.int(1...2) : 1, c = rng.int(1...3)
            let inH = rng.int(1...9), inW = rng.int(1...9), outH = rng.int(1...13), outW = rng.int(1...13)
            let shape = batched ? [n, c, inH, inW] : [c, inH, inW]
            let values = (0..<(n * c * inH * inW)).map { _ in rng.float(-10, 10) }
            let y = try resizeBilinear(try Tensor(shape: shape, scalars: values), height: outH, width: outW)
            XCTAssertEqual(y.shape, batched ? [n, c, outH, outW] : [c, outH, outW])
            let want = torchBilinear(values.map(Double.init), planes: n * c, inH: inH, inW: inW, outH: outH, outW: outW)
            let got = y.scalars
            for i in 0..<want.count {
                XCTAssertEqual(Double(got[i]), want[i], accuracy: 1e-4, "\(shape) → \(outH)×\(outW) at \(i)")
            }
        }
    }

    func testCenterCropOffsetsRoundHalfToEven() throws {
        // (in, out, top): torchvision uses int(round((in - out) / 2)) with Python's round.
        let cases: [(Int, Int, Int)] = [(5, 2, 2), (6, 3, 2), (4, 1, 2), (7, 2, 2), (3, 2, 0), (5, 5, 0), (9, 4, 2), (8, 1, 4)]
        for (inSize, outSize, top) in cases {
            let x = try Tensor(shape: [inSize, 1], scalars: (0..<inSize).map(Float.init))
            let y = try centerCrop(x, height: outSize, width: 1)
            XCTAssertEqual(y.scalars, (top..<(top + outSize)).map(Float.init), "\(inSize) → \(outSize)")
        }
        // [N, C, H, W]: every plane cropped at the same offsets.
        let values = (0..<(2 * 2 * 4 * 5)).map(Float.init)
        let y = try centerCrop(try Tensor(shape: [2, 2, 4, 5], scalars: values), height: 2, width: 3)
        XCTAssertEqual(y.shape, [2, 2, 2, 3])
        var want: [Float] = []
        for p in 0..<4 { for r in 1..<3 { for col in 1..<4 { want.append(Float(p * 20 + r * 5 + col)) } } }
        XCTAssertEqual(y.scalars, want)
    }

    func testResizeAndCropBadInputs() throws {
        let x = try Tensor(zeros: [3, 4, 4])
        assertThrows(.invalidArgument, "resize") { try resizeBilinear(x, height: 0, width: 4) }
        assertThrows(.invalidArgument, "resize") { try resizeBilinear(x, height: 4, width: -1) }
        assertThrows(.invalidArgument, "resize") { try resizeBilinear(try Tensor(zeros: [4, 4]), height: 2, width: 2) }
        assertThrows(.invalidArgument) { try resizeBilinear(x, height: Int.max, width: Int.max) }
        assertThrows(.outOfMemory) { try resizeBilinear(x, height: 1 << 30, width: 1 << 20) }
        assertThrows(.invalidArgument, "larger than the image") { try centerCrop(x, height: 5, width: 4) }
        assertThrows(.invalidArgument, "larger than the image") { try centerCrop(x, height: 4, width: 5) }
        assertThrows(.invalidArgument, "center crop") { try centerCrop(x, height: 0, width: 2) }
        assertThrows(.invalidArgument, "center crop") { try centerCrop(try Tensor(zeros: [4]), height: 1, width: 1) }
    }

    // MARK: Robustness

    /// Random, often invalid, arguments to every image and filter function: each call either
    /// succeeds or throws a SwiftCNNError with a message; none may trap (a trap ends the test run).
    func testRandomArgumentsNeverTrap() throws {
        var rng = TestRNG(99)
        let sizes = [-1, 0, 1, 2, 3, 5, 8, Int.min, Int.max, 1 << 40, 1 << 62]
        let specials: [Float] = [0, 1, -1, .nan, .infinity, -.infinity, 1e30, -1e-30, 255, 0.5]
        func size() -> Int { rng.int(0...3) == 0 ? sizes[rng.int(0...(sizes.count - 1))] : rng.int(-1...6) }
        func tensor() throws -> Tensor {
            let rank = rng.int(1...4)
            let shape = (0..<rank).map { _ in rng.int(1...4) }
            let n = shape.reduce(1, *)
            return try Tensor(shape: shape, scalars: (0..<n).map { _ in
                rng.int(0...3) == 0 ? specials[rng.int(0...(specials.count - 1))] : rng.float(-2, 2) })
        }
        var failures = 0
        func attempt<T>(_ body: () throws -> T) {
            do { _ = try body() } catch let e as SwiftCNNError {
                failures += 1
                XCTAssertFalse(e.message.isEmpty)
            } catch { XCTFail("unexpected error \(error)") }
        }
        let bytes = (0..<256).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        var dst = [UInt8](repeating: 0, count: 256)
        for _ in 0..<200 {
            let x = try tensor(), k = try tensor()
            let border = [BorderMode.zero, .replicate, .reflect][rng.int(0...2)]
            let c = rng.int(-1...5)
            let mean: [Float]? = rng.int(0...1) == 0 ? nil : (0..<rng.int(0...5)).map { _ in specials[rng.int(0...9)] }
            let std: [Float]? = rng.int(0...1) == 0 ? nil : (0..<rng.int(0...5)).map { _ in specials[rng.int(0...9)] }
            let stride: Int? = rng.int(0...1) == 0 ? nil : size()
            let scale = specials[rng.int(0...9)]
            attempt { try applyFilter(x, kernel: k, border: border) }
            attempt { try rgbToHSV(x) }
            attempt { try hsvToRGB(x) }
            attempt { try rgbToGrayscale(x) }
            attempt { try resizeBilinear(x, height: rng.int(-1...9), width: rng.int(-1...9)) }
            attempt { try resizeBilinear(x, height: size(), width: size()) }
            attempt { try centerCrop(x, height: size(), width: size()) }
            attempt { try Filters.box(size()) }
            attempt { try Filters.gaussian(size: size(), sigma: specials[rng.int(0...9)]) }
            attempt {
                try bytes.withUnsafeBufferPointer {
                    try imageToTensor(pixels: UnsafeBufferPointer(rebasing: $0[0..<rng.int(0...256)]), width: size(),
                                      height: size(), channels: c, rowStride: stride, scale: scale, mean: mean, std: std)
                }
            }
            attempt {
                try dst.withUnsafeMutableBufferPointer {
                    try tensorToImage(x, into: UnsafeMutableBufferPointer(rebasing: $0[0..<rng.int(0...256)]),
                                      rowStride: stride, scale: scale, mean: mean, std: std)
                }
            }
        }
        XCTAssertGreaterThan(failures, 100)   // the sweep does reach the error paths
    }
}
