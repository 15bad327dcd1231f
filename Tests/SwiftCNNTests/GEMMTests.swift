import XCTest
@testable import SwiftCNN

/// The packed GEMM (`Optimized.gemm`, the prepacked-A variant and the fused epilogue) against
/// a double-precision triple loop at edge sizes around the micro-kernel's tiles (12×32 with
/// AVX-512, 6×16 in the AVX2 build; 4- and 8-row variants for short last panels; one-vector
/// and column kernels for narrow last tiles) and the 256-deep k block, with leading
/// dimensions larger than the rows; and bitwise equality across thread counts on both of
/// the GEMM's work splits (along M with shared B panels, along N with private ones).
final class GEMMTests: XCTestCase {
    /// One GEMM problem with its operands (row-major, padded leading dimensions).
    struct Problem {
        var m: Int, n: Int, k: Int
        var lda: Int, ldb: Int, ldc: Int, ldr: Int
        var a: [Float], b: [Float], c0: [Float], bias: [Float], residual: [Float]

        init(_ m: Int, _ n: Int, _ k: Int, pad: Int, rng: inout TestRNG) {
            self.m = m; self.n = n; self.k = k
            lda = k + pad; ldb = n + (pad + 1) % 3; ldc = n + pad % 2 + 1; ldr = n + 2
            a = (0..<max(1, m * lda)).map { _ in rng.float() }
            b = (0..<max(1, k * ldb)).map { _ in rng.float() }
            c0 = (0..<max(1, m * ldc)).map { _ in rng.float() }
            bias = (0..<max(1, m)).map { _ in rng.float() }
            residual = (0..<max(1, m * ldr)).map { _ in rng.float() }
        }

        /// The optimized result: `prepacked` runs the packed-A entry point.
        func run(accumulate: Bool, bias useBias: Bool, residual useResidual: Bool, relu: Bool,
                 prepacked: Bool = false) throws -> [Float] {
            var c = c0
            try a.withUnsafeBufferPointer { ap in
                try b.withUnsafeBufferPointer { bp in
                    try c.withUnsafeMutableBufferPointer { cp in
                        try bias.withUnsafeBufferPointer { biasp in
                            try residual.withUnsafeBufferPointer { rp in
                                let a = try XCTUnwrap(ap.baseAddress), b = try XCTUnwrap(bp.baseAddress)
                                let c = try XCTUnwrap(cp.baseAddress)
                                if prepacked {
                                    let packed = try PackedGEMMMatrix(m: m, k: k, a: a, lda: lda)
                                    try Optimized.gemm(n: n, packedA: packed, b: b, ldb: ldb, c: c, ldc: ldc,
                                                       accumulate: accumulate)
                                    return
                                }
                                var ep = GEMMEpilogue()
                                ep.bias = useBias ? biasp.baseAddress : nil
                                ep.residual = useResidual ? rp.baseAddress : nil
                                ep.ldr = ldr
                                ep.relu = relu
                                Optimized.gemm(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc,
                                               accumulate: accumulate, epilogue: ep)
                            }
                        }
                    }
                }
            }
            return c
        }

        /// Checks `got` against a double-precision loop: every m×n element within
        /// 1e-5·(Σ|a·b| + |c| + |bias| + |res|) + 1e-6 (float rounding of the k-term sum),
        /// and the padding columns of C untouched.
        func check(_ got: [Float], accumulate: Bool, bias useBias: Bool, residual useResidual: Bool, relu: Bool,
                   _ label: String, file: StaticString = #filePath, line: UInt = #line) {
            var bad = 0
            for i in 0..<m {
                for j in 0..<n {
                    var s = 0.0, mag = 0.0
                    for p in 0..<k {
                        let t = Double(a[i * lda + p]) * Double(b[p * ldb + j])
                        s += t
                        mag += abs(t)
                    }
                    if accumulate { s += Double(c0[i * ldc + j]); mag += abs(Double(c0[i * ldc + j])) }
                    if useBias { s += Double(bias[i]); mag += abs(Double(bias[i])) }
                    if useResidual { s += Double(residual[i * ldr + j]); mag += abs(Double(residual[i * ldr + j])) }
                    if relu && s < 0 { s = 0 }
                    let tol = 1e-5 * mag + 1e-6
                    if abs(Double(got[i * ldc + j]) - s) > tol {
                        bad += 1
                        if bad <= 3 {
                            XCTFail("\(label): C[\(i), \(j)] = \(got[i * ldc + j]), expected \(s) ± \(tol)", file: file, line: line)
                        }
                    }
                }
                for j in n..<ldc where i * ldc + j < got.count {
                    XCTAssertEqual(got[i * ldc + j].bitPattern, c0[i * ldc + j].bitPattern,
                                   "\(label): wrote past n at row \(i)", file: file, line: line)
                }
            }
            if bad > 3 { XCTFail("\(label): \(bad) elements out of tolerance", file: file, line: line) }
        }
    }

    /// Every pairing of m and n from the edge sizes (k cycling through them too), each with
    /// one combination of accumulate / bias / residual / ReLU, so that every epilogue piece
    /// meets every kind of tile.
    func testEdgeSizesAgainstDoublePrecision() throws {
        var rng = TestRNG(41)
        let sizes = [1, 4, 5, 7, 8, 9, 12, 13, 15, 16, 17, 20, 21, 31, 33, 37, 64, 100]
        let ks = [1, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100]
        var index = 0
        for m in sizes {
            for n in sizes {
                let k = ks[index % ks.count]
                let p = Problem(m, n, k, pad: index % 4, rng: &rng)
                let mode = index % 6
                let acc = mode == 1 || mode == 5, bias = mode == 2 || mode == 5
                let res = mode == 3 || mode == 5, relu = mode == 4 || mode == 5
                let got = try p.run(accumulate: acc, bias: bias, residual: res, relu: relu)
                p.check(got, accumulate: acc, bias: bias, residual: res, relu: relu,
                        "m\(m) n\(n) k\(k) acc \(acc) bias \(bias) res \(res) relu \(relu)")
                index += 1
            }
        }
    }

    /// Sizes across the k block (255, 256, 257, 513) and the several-tile cases, all
    /// epilogue pieces on, with and without accumulation.
    func testKBlocksAndLargerTiles() throws {
        var rng = TestRNG(43)
        for (m, n, k) in [(13, 49, 255), (25, 33, 256), (9, 196, 257), (30, 70, 513), (100, 17, 300), (24, 49, 513), (11, 17, 31)] {
            let p = Problem(m, n, k, pad: 3, rng: &rng)
            for acc in [false, true] {
                let got = try p.run(accumulate: acc, bias: true, residual: true, relu: true)
                p.check(got, accumulate: acc, bias: true, residual: true, relu: true, "m\(m) n\(n) k\(k) acc \(acc)")
            }
        }
    }

    /// A narrow last tile (1 to 4 columns, run over several A panels at once) gives the bits
    /// the same columns get inside full tiles of a wider product (every kernel computes an
    /// element as one FMA chain over k, then the epilogue): the first n columns of the
    /// product with n + 2·NR columns, at 1 and 2 threads (both work splits), with enough
    /// panels for whole groups and a remainder, short last panels and several k blocks.
    func testNarrowTilesMatchFullTilesBitwise() throws {
        var rng = TestRNG(59)
        let old = Threading.numThreads
        defer { Threading.numThreads = old }
        let nr = Optimized.gemmNR
        for (index, (m, k)) in [(100, 300), (64, 513), (37, 40), (300, 100)].enumerated() {
            for cols in 1...4 {
                let n = 3 * nr + cols
                let wide = Problem(m, n + 2 * nr, k, pad: 1, rng: &rng)
                var narrow = wide
                narrow.n = n
                let acc = (index + cols) % 2 == 1
                for threads in [1, 2] {
                    Threading.numThreads = threads
                    let w = try wide.run(accumulate: acc, bias: true, residual: true, relu: true)
                    let got = try narrow.run(accumulate: acc, bias: true, residual: true, relu: true)
                    var mismatches = 0
                    for i in 0..<m {
                        for j in 0..<n where got[i * wide.ldc + j].bitPattern != w[i * wide.ldc + j].bitPattern {
                            mismatches += 1
                        }
                    }
                    XCTAssertEqual(mismatches, 0, "m\(m) n\(n) k\(k) acc \(acc) threads \(threads)")
                    narrow.check(got, accumulate: acc, bias: true, residual: true, relu: true,
                                 "m\(m) n\(n) k\(k) acc \(acc) threads \(threads)")
                }
            }
        }
    }

    /// The prepacked-A entry point gives bitwise the result of the plain call.
    func testPrepackedMatchesPlainBitwise() throws {
        var rng = TestRNG(47)
        for (m, n, k) in [(1, 1, 1), (12, 32, 8), (17, 49, 300), (64, 21, 33)] {
            let p = Problem(m, n, k, pad: 1, rng: &rng)
            for acc in [false, true] {
                let plain = try p.run(accumulate: acc, bias: false, residual: false, relu: false)
                let packed = try p.run(accumulate: acc, bias: false, residual: false, relu: false, prepacked: true)
                XCTAssertEqual(plain.map(\.bitPattern), packed.map(\.bitPattern), "m\(m) n\(n) k\(k) acc \(acc)")
            }
        }
        let x: [Float] = [1]
        try x.withUnsafeBufferPointer { xp in
            let p = try XCTUnwrap(xp.baseAddress)
            XCTAssertThrowsError(try PackedGEMMMatrix(m: -1, k: 1, a: p, lda: 1))
            XCTAssertThrowsError(try PackedGEMMMatrix(m: 1, k: 2, a: p, lda: 1))
        }
    }

    /// 1, 2 and 3 threads give bitwise equal results, on shapes (all above the parallel
    /// threshold) that the GEMM splits along M (few columns: (300, 49, 300), (200, 4, 2000);
    /// shared B panels packed by whichever thread needs them first) and along N (many
    /// columns: private B panels), with the epilogue and with accumulation.
    func testBitwiseIdenticalAcrossThreadCounts() throws {
        var rng = TestRNG(53)
        let old = Threading.numThreads
        defer { Threading.numThreads = old }
        for (m, n, k) in [(300, 49, 300), (200, 4, 2000), (20, 1100, 60), (64, 196, 100)] {
            let p = Problem(m, n, k, pad: 2, rng: &rng)
            for acc in [false, true] {
                var results: [[UInt32]] = []
                for threads in [1, 2, 3] {
                    Threading.numThreads = threads
                    results.append(try p.run(accumulate: acc, bias: true, residual: true, relu: !acc).map(\.bitPattern))
                }
                XCTAssertEqual(results[0], results[1], "m\(m) n\(n) k\(k) acc \(acc): 1 vs 2 threads")
                XCTAssertEqual(results[0], results[2], "m\(m) n\(n) k\(k) acc \(acc): 1 vs 3 threads")
            }
        }
    }

    /// The im2col panels a convolution packs straight from its input equal the im2col
    /// matrix (bitwise: both are copies) at every KC block and NR tile, including tiles that
    /// span several output rows, strides, dilations, per-side padding and more than one k
    /// block; and the optimized conv2d on those geometries matches the reference kernel.
    func testIm2colPanelsMatchIm2colMatrix() throws {
        var rng = TestRNG(59)
        let cases: [(c: Int, h: Int, w: Int, kh: Int, kw: Int, o: Conv2DOptions)] = [
            (3, 30, 37, 7, 7, Conv2DOptions(stride: 2, padding: 3)),
            (20, 9, 11, 3, 3, Conv2DOptions(padding: Padding2D(top: 1, bottom: 0, left: 2, right: 1), dilation: Size2D(2, 1))),
            (5, 40, 6, 1, 3, Conv2DOptions(stride: Size2D(1, 3), padding: Padding2D(top: 0, bottom: 0, left: 1, right: 1))),
            (30, 7, 7, 3, 3, Conv2DOptions(padding: 1)),
            (2, 5, 5, 3, 3, Conv2DOptions(stride: Size2D(Int.max), padding: 2)),
            // Long stride-2 runs (the 16-lane even-lane path, odd and even widths, the run
            // ending at the input row's last pixel) and long stride-1 runs (vector copies).
            (3, 9, 81, 3, 3, Conv2DOptions(stride: 2, padding: 1)),
            (2, 6, 70, 1, 1, Conv2DOptions(stride: 2)),
            (2, 5, 67, 3, 3, Conv2DOptions(stride: Size2D(1, 2))),
            (3, 4, 75, 3, 5, Conv2DOptions(padding: Padding2D(top: 1, bottom: 1, left: 2, right: 2))),
            // Rows a little wider than a tile, as ResNet's stride-2 layers on 56×56 (28 output
            // columns: runs of 16, 12, 8 and 4 in a tile): the 8-lane even-lane block, vector
            // loads that pass the run but not the input's end (the last run of the last
            // channel ends at or next to the input's last pixel), and stride-1 runs of 8 and 4.
            (4, 6, 56, 3, 3, Conv2DOptions(stride: 2, padding: 1)),
            (3, 5, 57, 1, 1, Conv2DOptions(stride: 2)),
            (2, 4, 37, 3, 3, Conv2DOptions(stride: 2, padding: 1)),
            (3, 4, 28, 3, 3, Conv2DOptions(padding: 1)),
            (2, 3, 21, 3, 3, Conv2DOptions(padding: 1)),
        ]
        let nr = Optimized.gemmNR, kcMax = Optimized.gemmKC
        for (ci, t) in cases.enumerated() {
            let input = try rng.tensor([1, t.c, t.h, t.w])
            let weight = try rng.tensor([4, t.c, t.kh, t.kw])
            let g = try Conv2DGeometry(input: input, weight: weight, bias: nil, options: t.o)
            let patch = g.patchSize, outPlane = g.outPlane
            var matrix = [Float](repeating: .nan, count: patch * outPlane)
            // NaN past the block: a store past the panel's last row shows as a mismatch.
            var tile = [Float](repeating: .nan, count: kcMax * nr + nr)
            var mismatches = 0
            try input.withUnsafePointer { x in
                try matrix.withUnsafeMutableBufferPointer { mp in
                    let m = try XCTUnwrap(mp.baseAddress)
                    Optimized.im2col(g, x, m, channels: 0..<t.c)
                }
                for pc in stride(from: 0, to: patch, by: kcMax) {
                    let kc = min(kcMax, patch - pc)
                    for col in stride(from: 0, to: outPlane, by: nr) {
                        let cols = min(nr, outPlane - col)
                        try tile.withUnsafeMutableBufferPointer { tp in
                            Optimized.packIm2colTile(g, x, pc: pc, kc: kc, col: col, cols: cols, into: try XCTUnwrap(tp.baseAddress))
                        }
                        for p in 0..<kc {
                            for j in 0..<nr {
                                let want: Float = j < cols ? matrix[(pc + p) * outPlane + col + j] : 0
                                if tile[p * nr + j].bitPattern != want.bitPattern { mismatches += 1 }
                            }
                        }
                    }
                }
            }
            XCTAssertEqual(mismatches, 0, "case \(ci): \(t.o)")
            let bias = try rng.tensor([4])
            let fast = try conv2d(input, weight: weight, bias: bias, options: t.o)
            let slow = try withReferenceKernels { try conv2d(input, weight: weight, bias: bias, options: t.o) }
            XCTAssertEqual(fast.shape, slow.shape)
            XCTAssertLessThanOrEqual(maxDiff(fast.scalars, slow.scalars), 2e-4 * Float(patch).squareRoot(), "case \(ci)")
        }
    }
    /// Narrow output rows (the table-driven packing): panels over several images' im2col
    /// matrices side by side (`imageStride`, tiles that start in one image and end in the
    /// next) equal the per-image im2col matrices bitwise, with zeros past the last column.
    func testIm2colTablePanelsAcrossImages() throws {
        var rng = TestRNG(61)
        let cases: [(c: Int, h: Int, w: Int, k: Int, o: Conv2DOptions)] = [
            (4, 5, 6, 3, Conv2DOptions(padding: 1)),
            (3, 9, 9, 3, Conv2DOptions(stride: 2, padding: 1)),
            (2, 8, 7, 3, Conv2DOptions(padding: 2, dilation: 2)),
            (30, 4, 4, 1, Conv2DOptions()),
            // 1×1 (the input itself, copied run by run) over two k blocks on a 7×7 map.
            (300, 7, 7, 1, Conv2DOptions()),
            // Pieces: 7×7 and 14×14 maps (several runs per tile), rows wider than one
            // vector (split), stride 2 (even lanes), uneven padding reaching past the input,
            // a block of 256 rows (nothing stored past its last row), stride 3 and narrow rows
            // (by table).
            (31, 7, 7, 3, Conv2DOptions(padding: 1)),
            (3, 14, 14, 3, Conv2DOptions(padding: 1)),
            (3, 6, 28, 3, Conv2DOptions(padding: 1)),
            (2, 9, 21, 3, Conv2DOptions(stride: 1, padding: Padding2D(top: 0, bottom: 2, left: 3, right: 1))),
            (5, 15, 15, 3, Conv2DOptions(stride: 2, padding: 1)),
            (4, 12, 40, 1, Conv2DOptions(stride: 2)),
            (2, 11, 12, 5, Conv2DOptions(stride: Size2D(1, 2), padding: 2, dilation: Size2D(1, 2))),
            (3, 10, 10, 3, Conv2DOptions(stride: 3, padding: 1)),
            (6, 5, 3, 3, Conv2DOptions(padding: 1)),
            // Pieces for rows wider than a tile (stride 1 or 2): a tile inside one output
            // row, tiles across rows and images, dilation, uneven padding, two k blocks.
            (3, 9, 70, 3, Conv2DOptions(stride: 2, padding: 1)),
            (2, 5, 40, 3, Conv2DOptions(padding: 1)),
            (2, 11, 80, 3, Conv2DOptions(stride: 2, padding: 2, dilation: 2)),
            (2, 6, 45, 3, Conv2DOptions(stride: Size2D(1, 1), padding: Padding2D(top: 0, bottom: 2, left: 3, right: 1))),
            (30, 4, 72, 3, Conv2DOptions(stride: Size2D(1, 2), padding: 1)),
            (2, 7, 67, 5, Conv2DOptions(stride: 2, padding: 2)),
        ]
        let nr = Optimized.gemmNR, kcMax = Optimized.gemmKC
        for (ci, t) in cases.enumerated() {
            let images = 3
            let input = try rng.tensor([images, t.c, t.h, t.w])
            let weight = try rng.tensor([2, t.c, t.k, t.k])
            let g = try Conv2DGeometry(input: input, weight: weight, bias: nil, options: t.o)
            XCTAssertTrue(Optimized.im2colByTable(g, images: images, imageStride: t.c * g.inPlane), "case \(ci)")
            let patch = g.patchSize, plane = g.outPlane, n = images * plane
            var matrix = [Float](repeating: .nan, count: patch * n)
            // NaN past the block: a store past the panel's last row shows as a mismatch.
            var tile = [Float](repeating: .nan, count: kcMax * nr + nr)
            var mismatches = 0
            try input.withUnsafePointer { x in
                var one = [Float](repeating: .nan, count: patch * plane)
                for b in 0..<images {
                    try one.withUnsafeMutableBufferPointer { op in
                        Optimized.im2col(g, x + b * t.c * g.inPlane, try XCTUnwrap(op.baseAddress), channels: 0..<t.c)
                    }
                    for r in 0..<patch {
                        for q in 0..<plane { matrix[r * n + b * plane + q] = one[r * plane + q] }
                    }
                }
                for pc in stride(from: 0, to: patch, by: kcMax) {
                    let kc = min(kcMax, patch - pc)
                    for col in stride(from: 0, to: n, by: nr) {
                        let cols = min(nr, n - col)
                        for j in tile.indices { tile[j] = .nan }
                        try tile.withUnsafeMutableBufferPointer { tp in
                            Optimized.packIm2colTile(g, x, pc: pc, kc: kc, col: col, cols: cols,
                                                     into: try XCTUnwrap(tp.baseAddress), imageStride: t.c * g.inPlane)
                        }
                        for p in 0..<kc {
                            for j in 0..<nr {
                                let want: Float = j < cols ? matrix[(pc + p) * n + col + j] : 0
                                if tile[p * nr + j].bitPattern != want.bitPattern { mismatches += 1 }
                            }
                        }
                        for j in kc * nr..<tile.count where !tile[j].isNaN { mismatches += 1 }
                    }
                }
            }
            XCTAssertEqual(mismatches, 0, "case \(ci): \(t.o)")
        }
    }

    /// A group of 1×1 tiles packed row by row across the group (``Optimized/packPointwiseGroup``,
    /// the A-panel-outer order's packing) holds the same bits at the same places as the tiles
    /// packed one by one: maps of 7×7 and 14×14 over 3 images (runs crossing images inside a
    /// tile), two k blocks, groups starting inside the matrix and a partial last tile, and the
    /// second group of a grouped 1×1 convolution. NaN past the group catches a stray store.
    func testPointwiseGroupPackingMatchesTiles() throws {
        var rng = TestRNG(67)
        let nr = Optimized.gemmNR, kcMax = Optimized.gemmKC
        for (c, hw, groups) in [(300, 7, 1), (40, 14, 1), (24, 9, 2)] {
            let images = 3
            let input = try rng.tensor([images, c, hw, hw])
            let weight = try rng.tensor([2 * groups, c / groups, 1, 1])
            let g = try Conv2DGeometry(input: input, weight: weight, bias: nil, options: Conv2DOptions(groups: groups))
            XCTAssertTrue(Optimized.isPointwise(g))
            let n = images * g.outPlane, tilesN = (n + nr - 1) / nr, imageStride = c * g.inPlane
            var mismatches = 0, checked = 0
            try input.withUnsafePointer { x0 in
                let x = x0 + (groups - 1) * g.inChannelsPerGroup * g.inPlane
                for pc in stride(from: 0, to: g.patchSize, by: kcMax) {
                    let kc = min(kcMax, g.patchSize - pc)
                    for (first, span) in [(0, tilesN), (1, tilesN - 1), (0, 2), (tilesN - 2, 2)] where span > 1 && first + span <= tilesN {
                        var group = [Float](repeating: .nan, count: (span + 1) * kcMax * nr)
                        var tile = [Float](repeating: .nan, count: kcMax * nr)
                        try group.withUnsafeMutableBufferPointer { gp in
                            Optimized.packBGroup(.im2col(g, x, imageStride: imageStride), pc: pc, kc: kc, col: first * nr,
                                                 tiles: span, n: n, into: try XCTUnwrap(gp.baseAddress))
                        }
                        for t in 0..<span {
                            let col = (first + t) * nr
                            try tile.withUnsafeMutableBufferPointer { tp in
                                Optimized.packIm2colTile(g, x, pc: pc, kc: kc, col: col, cols: min(nr, n - col),
                                                         into: try XCTUnwrap(tp.baseAddress), imageStride: imageStride)
                            }
                            for i in 0..<kc * nr where group[t * kc * nr + i].bitPattern != tile[i].bitPattern { mismatches += 1 }
                            checked += kc * nr
                        }
                        for i in span * kc * nr..<group.count where !group[i].isNaN { mismatches += 1 }
                    }
                }
            }
            XCTAssertGreaterThan(checked, 0)
            XCTAssertEqual(mismatches, 0, "c \(c), \(hw)×\(hw), groups \(groups)")
        }
    }
}
