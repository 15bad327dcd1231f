// Winograd F(2×2, 3×3) for the 3×3 stride-1 convolutions on maps too small for F(4×4, 3×3):
// ResNet's 512-channel layers on 7×7 maps at batch 1, where F(4×4) has 4 tiles (36 products
// each 4 columns wide) and im2col + GEMM does 9 multiply-adds per output.
//
// With the interpolation points 0, 1, −1 and ∞, a 4×4 input tile d and a 3×3 kernel g give
// the 2×2 output tile
//
//     Y = Aᵀ · [(G g Gᵀ) ⊙ (Bᵀ d B)] · A
//
//     Bᵀ = | 1  0 −1  0 |     G = |  1    0    0  |     Aᵀ = | 1  1  1  0 |
//          | 0  1  1  0 |         | 1/2  1/2  1/2 |          | 0  1 −1 −1 |
//          | 0 −1  1  0 |         | 1/2 −1/2  1/2 |
//          | 0  1  0 −1 |         |  0    0    1  |
//
// Summed over input channels: 16 matrix products M[ξ] (O × tiles) = U[ξ] (O × C) · V[ξ]
// (C × tiles), 16 multiply-adds per 4 outputs per channel pair instead of 36 (2.25× fewer;
// a 7×7 map computes 8×8 outputs, so 1.7× fewer there). The transformed weights are 16/9 of
// the plain ones (a 512 → 512 layer: 16.8 instead of 9.4 MB), against F(4×4)'s 4×.
// The transforms only add and subtract (and halve, in G): rounding is below F(4×4)'s.

/// Convolution weights transformed once for ``Optimized/conv2dWinogradF2(_:input:weights:bias:residual:relu:output:scratch:)``:
/// U = G·g·Gᵀ (in double precision, the kernel flipped first for true convolution), stored
/// as 16 matrices `[O, C]` (one per position of the 4×4 transformed tile), each packed for
/// the GEMM.
final class WinogradF2Weights {
    let outChannels: Int
    let inChannels: Int
    /// U[ξ] packed by ``PackedGEMMMatrix``, ξ = 4·row + column of the 4×4 transformed tile.
    let matrices: [PackedGEMMMatrix]

    /// Fewest input and output channels: with fewer the transforms outweigh the products'
    /// savings (as for F(4×4), ``WinogradConvWeights/isFaster(_:)``).
    static let minChannels = 64
    /// Fewest 2×2 tiles over the batch: one vector of the GEMM's columns.
    static let minTiles = 16

    /// Whether F(2×2, 3×3) is expected to beat im2col + GEMM for `g`, where F(4×4, 3×3) is
    /// not chosen: a geometry ``WinogradConvWeights/supports(_:)`` takes, at least
    /// ``minChannels`` channels in and out, at least ``minTiles`` tiles (a 7×7 or 8×8 map
    /// at batch 1 has 16), and at least half of the tiles' outputs real on average (not 1×1
    /// maps). ResNet-18's three 512 → 512 layers on 7×7 at batch 1, 2 threads: see
    /// BENCHMARKS.md (issue 13, fifth AVX-512 session).
    static func isFaster(_ g: Conv2DGeometry) -> Bool {
        guard WinogradConvWeights.supports(g), !WinogradConvWeights.isFaster(g) else { return false }
        let perImage = ((g.outHeight + 1) / 2) * ((g.outWidth + 1) / 2)
        let (tiles, overflow) = g.batch.multipliedReportingOverflow(by: perImage)
        return !overflow && min(g.inChannels, g.outChannels) >= minChannels && tiles >= minTiles
            && 2 * g.outPlane >= 4 * perImage
    }

    /// Transforms `weight` `[O, C, 3, 3]` for `g` (which must satisfy
    /// ``WinogradConvWeights/supports(_:)``). Throws `.outOfMemory`, or `.internal` for an
    /// unsupported geometry.
    init(_ g: Conv2DGeometry, weight: UnsafePointer<Float>) throws {
        guard WinogradConvWeights.supports(g) else {
            throw SwiftCNNError(.internal, "conv2d: the Winograd kernel needs a 3×3, stride-1, dilation-1, one-group convolution")
        }
        // U = G·k·Gᵀ: the rows of G·k are k's rows 0, (0 + 1 + 2)/2, (0 − 1 + 2)/2 and 2, and
        // each row of U the same of that row's three values.
        matrices = try Optimized.winogradWeightMatrices(g, weight: weight, positions: 16) { k, put in
            @inline(__always) func g4(_ a: Double, _ b: Double, _ c: Double) -> (Double, Double, Double, Double) {
                (a, 0.5 * (a + b + c), 0.5 * (a - b + c), c)
            }
            // Column j of G·k, then row i of U from row i of G·k.
            let c0 = g4(k[0], k[3], k[6]), c1 = g4(k[1], k[4], k[7]), c2 = g4(k[2], k[5], k[8])
            @inline(__always) func row(_ i: Int, _ t0: Double, _ t1: Double, _ t2: Double) {
                let u = g4(t0, t1, t2)
                put(4 * i, u.0)
                put(4 * i + 1, u.1)
                put(4 * i + 2, u.2)
                put(4 * i + 3, u.3)
            }
            row(0, c0.0, c1.0, c2.0)
            row(1, c0.1, c1.1, c2.1)
            row(2, c0.2, c1.2, c2.2)
            row(3, c0.3, c1.3, c2.3)
        }
        outChannels = g.outChannels
        inChannels = g.inChannels
    }
}

extension Optimized {
    /// Most tiles of one pass of ``conv2dWinogradF2(_:input:weights:bias:residual:relu:output:scratch:)``
    /// (its V and M hold 16·(C + O) floats per tile).
    static let winogradF2BlockTiles = 64

    /// Columns of V and M in a pass: the tiles of one (``winogradF2BlockTiles`` at most),
    /// rounded up to 16 so that the GEMMs' tiles are whole vectors.
    static func winogradF2Columns(_ g: Conv2DGeometry) throws -> Int {
        let perImage = try Checked.mul((g.outHeight + 1) / 2, (g.outWidth + 1) / 2, "winograd tiles")
        let tiles = try Checked.mul(g.batch, perImage, "winograd tiles")
        return (min(tiles, winogradF2BlockTiles) + 15) / 16 * 16
    }

    /// Floats of scratch ``conv2dWinogradF2(_:input:weights:bias:residual:relu:output:scratch:)``
    /// uses for `g`: V (16·C columns) and M (16·O), ``winogradF2Columns(_:)`` columns each.
    static func winogradF2ScratchCount(_ g: Conv2DGeometry) throws -> Int {
        let rows = try Checked.mul(16, try Checked.add(g.inChannels, g.outChannels, "winograd scratch"), "winograd scratch")
        return try Checked.mul(rows, try winogradF2Columns(g), "winograd scratch")
    }

    /// 2-D convolution by Winograd F(2×2, 3×3) with weights from ``WinogradF2Weights`` and the
    /// fused output pass of ``conv2dPacked(_:input:weights:bias:residual:relu:op:output:)``:
    /// output = conv(input) + bias[o] (+ residual, same shape as the output) (then ReLU).
    /// `g` must satisfy ``WinogradConvWeights/supports(_:)``; `residual` must not overlap `output`.
    ///
    /// Tiles (2×2 output pixels, numbered by image, tile row, tile column) go in passes of up
    /// to ``winogradF2BlockTiles``: the input transform Bᵀ·d·B (input channels spread over the
    /// threads) fills V[16][C][tiles], the 16 packed GEMMs (spread over the threads) give
    /// M[16][O][tiles], and the output transform Aᵀ·m·A (output channels spread over the
    /// threads, 16 tiles per SIMD vector) adds the bias and residual, applies ReLU and writes
    /// the tiles, clipped at the edges. Each value is computed by the same instructions
    /// whatever the thread count, so results are bitwise identical.
    /// `scratch`: room for V and M (``winogradF2ScratchCount(_:)`` floats); nil, or too small,
    /// allocates them for this call.
    /// - Throws: `.outOfMemory` when scratch memory cannot be had; `.internal` when the
    ///   weights or geometry do not fit.
    static func conv2dWinogradF2(_ g: Conv2DGeometry, input: UnsafePointer<Float>, weights: WinogradF2Weights,
                                 bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, relu: Bool,
                                 output: UnsafeMutablePointer<Float>,
                                 scratch: UnsafeMutableBufferPointer<Float>? = nil) throws {
        guard WinogradConvWeights.supports(g), weights.outChannels == g.outChannels,
              weights.inChannels == g.inChannels, weights.matrices.count == 16 else {
            throw SwiftCNNError(.internal, "conv2d: Winograd weights do not match the geometry")
        }
        let c = g.inChannels, o = g.outChannels
        let ld = try winogradF2Columns(g)
        let total = try winogradF2ScratchCount(g)
        let given = scratch.flatMap { $0.count >= total ? $0.baseAddress : nil }
        let owned: ScratchBuffer? = given == nil ? try ScratchBuffer(count: total) : nil
        guard let v = given ?? owned?.pointer else { return }
        let m = v + 16 * c * ld
        let tilesW = (g.outWidth + 1) / 2, perImage = ((g.outHeight + 1) / 2) * tilesW
        let tiles = g.batch * perImage
        let u = weights.matrices.map { $0.pointer }
        let inWorkers = max(1, min(Threading.numThreads, c)), outWorkers = max(1, min(Threading.numThreads, o))
        try withUnsafeTemporaryAllocation(of: Int.self, capacity: 16) { failed in
            guard let failures = failed.baseAddress else { return }
            try u.withUnsafeBufferPointer { up in
                var t0 = 0
                while t0 < tiles {
                    let count = min(ld, tiles - t0)
                    let columns = (count + 15) / 16 * 16
                    let first = t0
                    transformChunks(channels: c, workers: inWorkers) { _, channels in
                        for ch in channels {
                            winogradF2Input(g, input: input, channel: ch, tiles: first..<(first + count), columns: columns,
                                            tilesW: tilesW, perImage: perImage, v: v + ch * ld, xiStride: c * ld)
                        }
                    }
                    failures.initialize(repeating: 0, count: 16)
                    Threading.parallelFor(16) { xi in
                        do {
                            try gemmPacked(m: o, n: columns, k: c, a: up[xi], b: v + xi * c * ld, ldb: ld,
                                           c: m + xi * o * ld, ldc: ld, accumulate: false, epilogue: .none)
                        } catch {
                            failures[xi] = 1
                        }
                    }
                    for xi in 0..<16 where failures[xi] != 0 {
                        throw SwiftCNNError.outOfMemory("conv2d: no memory for the Winograd GEMM's packing buffers")
                    }
                    transformChunks(channels: o, workers: outWorkers) { _, channels in
                        for oc in channels {
                            winogradF2Output(g, m: m + oc * ld, xiStride: o * ld, channel: oc, tiles: first..<(first + count),
                                             tilesW: tilesW, perImage: perImage, bias: bias, residual: residual, relu: relu,
                                             output: output)
                        }
                    }
                    t0 += count
                }
            }
        }
        withExtendedLifetime((owned, weights)) {}
    }

    /// Bᵀ·d·B of input channel `channel` for `tiles` into V's columns 0..<tiles.count (row
    /// ξ at `v + ξ·xiStride`), zeros in the columns from there to `columns`.
    @inline(__always)
    static func winogradF2Input(_ g: Conv2DGeometry, input: UnsafePointer<Float>, channel: Int, tiles: Range<Int>,
                                columns: Int, tilesW: Int, perImage: Int, v: UnsafeMutablePointer<Float>, xiStride: Int) {
        let h = g.inHeight, w = g.inWidth
        for (col, t) in tiles.enumerated() {
            let n = t / perImage, r = t % perImage
            let y0 = 2 * (r / tilesW) - g.padding.top, x0 = 2 * (r % tilesW) - g.padding.left
            let plane = input + (n * g.inChannels + channel) * g.inPlane
            // The 4×4 input window, zeros outside the image.
            @inline(__always) func row(_ i: Int) -> SIMD4<Float> {
                let y = y0 + i
                guard y >= 0 && y < h else { return SIMD4<Float>() }
                let line = plane + y * w
                if x0 >= 0 && x0 + 4 <= w {
                    return SIMD4<Float>(line[x0], line[x0 + 1], line[x0 + 2], line[x0 + 3])
                }
                var s = SIMD4<Float>()
                for j in 0..<4 where x0 + j >= 0 && x0 + j < w { s[j] = line[x0 + j] }
                return s
            }
            let d0 = row(0), d1 = row(1), d2 = row(2), d3 = row(3)
            // Bᵀ·d (rows), then ·B (columns).
            let rows = (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
            @inline(__always) func put(_ s: SIMD4<Float>, _ i: Int) {
                v[(4 * i) * xiStride + col] = s[0] - s[2]
                v[(4 * i + 1) * xiStride + col] = s[1] + s[2]
                v[(4 * i + 2) * xiStride + col] = s[2] - s[1]
                v[(4 * i + 3) * xiStride + col] = s[1] - s[3]
            }
            put(rows.0, 0); put(rows.1, 1); put(rows.2, 2); put(rows.3, 3)
        }
        if tiles.count < columns {
            for xi in 0..<16 { (v + xi * xiStride + tiles.count).update(repeating: 0, count: columns - tiles.count) }
        }
    }

    /// Aᵀ·m·A of output channel `channel` for `tiles` (M's row ξ at `m + ξ·xiStride`, columns
    /// 0..<tiles.count), then + bias (+ residual) (ReLU), written to the output's 2×2 tiles
    /// clipped at the edges. 16 tiles per vector, then one at a time, the same operations.
    @inline(__always)
    static func winogradF2Output(_ g: Conv2DGeometry, m: UnsafePointer<Float>, xiStride: Int, channel: Int,
                                 tiles: Range<Int>, tilesW: Int, perImage: Int, bias: UnsafePointer<Float>?,
                                 residual: UnsafePointer<Float>?, relu: Bool, output: UnsafeMutablePointer<Float>) {
        typealias V = SIMD16<Float>
        let oh = g.outHeight, ow = g.outWidth
        let b = bias.map { $0[channel] } ?? 0
        @inline(__always) func write(_ y: (V, V, V, V), lanes: Int, first: Int) {
            for k in 0..<lanes {
                let t = first + k
                let n = t / perImage, r = t % perImage
                let oy = 2 * (r / tilesW), ox = 2 * (r % tilesW)
                let base = (n * g.outChannels + channel) * g.outPlane
                for i in 0..<2 where oy + i < oh {
                    for j in 0..<2 where ox + j < ow {
                        let at = base + (oy + i) * ow + ox + j
                        var s = (i == 0 ? (j == 0 ? y.0 : y.1) : (j == 0 ? y.2 : y.3))[k]
                        if bias != nil { s += b }
                        if let residual { s += residual[at] }
                        if relu && s < 0 { s = 0 }
                        output[at] = s
                    }
                }
            }
        }
        /// Y (00, 01, 10, 11) from the 16 rows of M at column `col`, `V` lanes wide.
        @inline(__always) func transform(_ load: (Int) -> V) -> (V, V, V, V) {
            // Aᵀ·m: two rows of four.
            let m0 = load(0), m1 = load(1), m2 = load(2), m3 = load(3)
            let m4 = load(4), m5 = load(5), m6 = load(6), m7 = load(7)
            let m8 = load(8), m9 = load(9), m10 = load(10), m11 = load(11)
            let m12 = load(12), m13 = load(13), m14 = load(14), m15 = load(15)
            let a0 = m0 + m4 + m8, a1 = m1 + m5 + m9, a2 = m2 + m6 + m10, a3 = m3 + m7 + m11
            let b0 = m4 - m8 - m12, b1 = m5 - m9 - m13, b2 = m6 - m10 - m14, b3 = m7 - m11 - m15
            // ·A: two columns.
            return (a0 + a1 + a2, a1 - a2 - a3, b0 + b1 + b2, b1 - b2 - b3)
        }
        var col = 0
        let count = tiles.count
        while col + 16 <= count {
            let c0 = col
            let y = transform { xi in Optimized.loadVector(UnsafeRawPointer(m + xi * xiStride + c0)) }
            write(y, lanes: 16, first: tiles.lowerBound + col)
            col += 16
        }
        if col < count {
            // The last tiles: the rows past `count` are V's zero columns' products (in room).
            let c0 = col
            let y = transform { xi in Optimized.loadVector(UnsafeRawPointer(m + xi * xiStride + c0)) }
            write(y, lanes: count - col, first: tiles.lowerBound + col)
        }
    }
}
