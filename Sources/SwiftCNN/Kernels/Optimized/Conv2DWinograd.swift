// Winograd F(4×4, 3×3) convolution for 3×3, stride-1, dilation-1, one-group convolutions.
//
// With the interpolation points 0, ±1, ±2 and ∞ (Lavin & Gray's matrices), a 6×6 input
// tile d and a 3×3 kernel g give the 4×4 output tile
//
//     Y = Aᵀ · [(G g Gᵀ) ⊙ (Bᵀ d B)] · A
//
// Summed over input channels, the element-wise product becomes 36 independent matrix
// products, one per tile position ξ: M[ξ] (O × tiles) = U[ξ] (O × C) · V[ξ] (C × tiles).
// That is 36 multiply-adds per 16 outputs per channel pair instead of 144 (4× fewer).
//
//     Bᵀ = | 4  0 −5  0  1  0 |     G = | 1/4    0     0  |     Aᵀ = | 1  1  1  1  1  0 |
//          | 0 −4 −4  1  1  0 |         | −1/6 −1/6  −1/6 |          | 0  1 −1  2 −2  0 |
//          | 0  4 −4 −1  1  0 |         | −1/6  1/6  −1/6 |          | 0  1  1  4  4  0 |
//          | 0 −2 −1  2  1  0 |         | 1/24  1/12  1/6 |          | 0  1 −1  8 −8  1 |
//          | 0  2 −1 −2  1  0 |         | 1/24 −1/12  1/6 |
//          | 0  4  0 −5  0  1 |         |  0     0     1  |
//
// Rounding: in float32 the transforms add an error of a few 1e-6 relative to the largest
// output of a layer (measured in numpy over 256 channels: mean 3e-6, worst 8e-6), well
// inside the 1e-4 the zoo's parity tests allow.

/// Convolution weights transformed once for ``Optimized/conv2dWinograd(_:input:weights:bias:residual:relu:output:)``:
/// U = G·g·Gᵀ (computed in double precision, the kernel flipped first for true convolution),
/// stored as 36 matrices `[O, C]` (one per tile position), each packed for the GEMM.
/// Four times the memory of the plain weights.
final class WinogradConvWeights {
    let outChannels: Int
    let inChannels: Int
    /// U[ξ] packed by ``PackedGEMMMatrix``, ξ = 6·row + column of the 6×6 transformed tile.
    let matrices: [PackedGEMMMatrix]

    /// Whether the Winograd kernel computes this convolution: a 3×3 kernel, stride 1,
    /// dilation 1 and one group (any padding, batch, size, flip).
    static func supports(_ g: Conv2DGeometry) -> Bool {
        g.kernelHeight == 3 && g.kernelWidth == 3 && g.stride == Size2D(1) && g.dilation == Size2D(1) && g.groups == 1
    }

    /// Whether the Winograd kernel is expected to beat im2col + GEMM for `g` (measured on
    /// the zoo's 3×3 convolutions, 1 and 2 threads): it needs enough tiles for the 36
    /// GEMMs' columns and enough channels for the GEMMs to outweigh the transforms.
    static func isFaster(_ g: Conv2DGeometry) -> Bool {
        guard supports(g) else { return false }
        let tiles = g.batch * ((g.outHeight + 3) / 4) * ((g.outWidth + 3) / 4)
        return g.inChannels >= 16 && g.outChannels >= 16 && tiles >= 128
    }

    /// Transforms `weight` `[O, C, 3, 3]` for `g` (which must satisfy ``supports(_:)``).
    /// Throws `.outOfMemory`, or `.internal` for an unsupported geometry.
    init(_ g: Conv2DGeometry, weight: UnsafePointer<Float>) throws {
        guard Self.supports(g) else {
            throw SwiftCNNError(.internal, "conv2d: the Winograd kernel needs a 3×3, stride-1, dilation-1, one-group convolution")
        }
        let o = g.outChannels, c = g.inChannels
        let count = try Checked.mul(o, c, "winograd weight matrix")
        let u = try ScratchBuffer(count: try Checked.mul(36, count, "winograd weights"))
        let gm: [Double] = [1.0 / 4, 0, 0,
                            -1.0 / 6, -1.0 / 6, -1.0 / 6,
                            -1.0 / 6, 1.0 / 6, -1.0 / 6,
                            1.0 / 24, 1.0 / 12, 1.0 / 6,
                            1.0 / 24, -1.0 / 12, 1.0 / 6,
                            0, 0, 1]
        gm.withUnsafeBufferPointer { gp in
            withUnsafeTemporaryAllocation(of: Double.self, capacity: 9 + 18) { tmp in
                guard let k = tmp.baseAddress, let G = gp.baseAddress else { return }
                let t = k + 9
                for oc in 0..<o {
                    for ic in 0..<c {
                        let w = weight + (oc * c + ic) * 9
                        for i in 0..<9 { k[i] = Double(w[g.flipKernel ? 8 - i : i]) }
                        // t = G·k (6×3), then U = t·Gᵀ (6×6).
                        for i in 0..<6 {
                            for j in 0..<3 {
                                t[i * 3 + j] = G[i * 3] * k[j] + G[i * 3 + 1] * k[3 + j] + G[i * 3 + 2] * k[6 + j]
                            }
                        }
                        let dst = u.pointer + oc * c + ic
                        for i in 0..<6 {
                            for j in 0..<6 {
                                let v = t[i * 3] * G[j * 3] + t[i * 3 + 1] * G[j * 3 + 1] + t[i * 3 + 2] * G[j * 3 + 2]
                                dst[(i * 6 + j) * count] = Float(v)
                            }
                        }
                    }
                }
            }
        }
        var packs: [PackedGEMMMatrix] = []
        packs.reserveCapacity(36)
        for xi in 0..<36 {
            packs.append(try PackedGEMMMatrix(m: o, k: c, a: UnsafePointer(u.pointer + xi * count), lda: c))
        }
        matrices = packs
        outChannels = o
        inChannels = c
        withExtendedLifetime(u) {}
    }
}

/// A convolution's weights prepared once for the optimized path: Winograd-transformed where
/// that kernel is expected to be faster (``WinogradConvWeights/isFaster(_:)``, judged on the
/// geometry the weights are first prepared for), packed for im2col + GEMM otherwise.
enum PreparedConvWeights {
    case im2col(PackedConvWeights)
    case winograd(WinogradConvWeights)

    /// Prepares `weight` for `g`. Throws `.outOfMemory`.
    init(_ g: Conv2DGeometry, weight: UnsafePointer<Float>) throws {
        if WinogradConvWeights.isFaster(g) {
            self = .winograd(try WinogradConvWeights(g, weight: weight))
        } else {
            self = .im2col(try PackedConvWeights(g, weight: weight))
        }
    }
}

/// How the output tiles of one Winograd convolution are cut into blocks.
///
/// Tiles (4×4 output pixels) are numbered by image, tile row and tile column. A tile row
/// is cut into segments of at most ``maxSegment`` tiles; a block is a run of consecutive
/// segments with about ``targetTiles(_:)`` tiles, so that its transformed input and
/// products (36·(C+O) floats per tile) stay near the L2 cache. Blocks are independent;
/// their size never changes a result (every GEMM sums each element in the same order).
struct WinogradBlocking {
    let tilesH: Int, tilesW: Int
    /// Segments per tile row, and the longest segment.
    let segmentsPerRow: Int, segmentLength: Int
    let segments: Int
    let segmentsPerBlock: Int
    let blocks: Int
    /// Row stride of the V and M matrices (>= tiles per block + 16 spare columns).
    let ld: Int
    /// Length of one phase row of the deinterleaved input.
    let qlen: Int

    static let maxSegment = 64

    /// Tiles per block for `c` input and `o` output channels: about 1 MiB of V and M, 32...128.
    static func targetTiles(_ c: Int, _ o: Int) -> Int {
        let perTile = 36 * 4 * (c + o)
        return max(32, min(128, (1 << 20) / max(perTile, 1)))
    }

    init(_ g: Conv2DGeometry, threads: Int) {
        tilesH = (g.outHeight + 3) / 4
        tilesW = (g.outWidth + 3) / 4
        segmentsPerRow = (tilesW + Self.maxSegment - 1) / Self.maxSegment
        segmentLength = (tilesW + segmentsPerRow - 1) / segmentsPerRow
        segments = g.batch * tilesH * segmentsPerRow
        var per = max(1, Self.targetTiles(g.inChannels, g.outChannels) / segmentLength)
        // Enough blocks to keep every thread busy.
        if threads > 1 && (segments + per - 1) / per < threads * 2 {
            per = max(1, segments / (threads * 2))
        }
        segmentsPerBlock = per
        blocks = (segments + per - 1) / per
        ld = (per * segmentLength + 15) / 16 * 16 + 16
        qlen = (segmentLength + 1 + 15) / 16 * 16 + 16
    }

    /// Image, tile row, first tile column and length of segment `s`.
    func segment(_ s: Int) -> (n: Int, ty: Int, tx0: Int, len: Int) {
        let perImage = tilesH * segmentsPerRow
        let n = s / perImage, r = s % perImage
        let ty = r / segmentsPerRow, k = r % segmentsPerRow
        let tx0 = tilesW * k / segmentsPerRow, tx1 = tilesW * (k + 1) / segmentsPerRow
        return (n, ty, tx0, tx1 - tx0)
    }
}

extension Optimized {
    /// The convolution with prepared weights and the fused output pass (bias, residual,
    /// ReLU): ``conv2dWinograd(_:input:weights:bias:residual:relu:output:)`` or
    /// ``conv2dPacked(_:input:weights:bias:residual:relu:output:)``, whichever the weights are for.
    static func conv2dPrepared(_ g: Conv2DGeometry, input: UnsafePointer<Float>, weights: PreparedConvWeights,
                               bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, relu: Bool,
                               output: UnsafeMutablePointer<Float>) throws {
        switch weights {
        case .im2col(let packed):
            try conv2dPacked(g, input: input, weights: packed, bias: bias, residual: residual, relu: relu, output: output)
        case .winograd(let transformed):
            try conv2dWinograd(g, input: input, weights: transformed, bias: bias, residual: residual, relu: relu, output: output)
        }
    }

    /// 2-D convolution by Winograd F(4×4, 3×3) with weights from ``WinogradConvWeights`` and
    /// the fused output pass of ``conv2dPacked(_:input:weights:bias:residual:relu:output:)``:
    /// output = conv(input) + bias[o] (+ residual, same shape as the output) (then ReLU).
    /// `g` must satisfy ``WinogradConvWeights/supports(_:)``; `residual` must not overlap `output`.
    ///
    /// Per block of tiles: the input transform Bᵀ·d·B (16 tiles per SIMD vector) fills
    /// V[36][C][tiles], 36 packed GEMMs give M[36][O][tiles], and the output transform Aᵀ·m·A
    /// adds the bias and residual, applies ReLU and writes the 4×4 tiles (clipped at the
    /// edges). Blocks are spread over the thread pool; results are bitwise identical for
    /// every thread count.
    /// - Throws: `.outOfMemory` when scratch memory cannot be had; `.internal` when the
    ///   weights or geometry do not fit.
    static func conv2dWinograd(_ g: Conv2DGeometry, input: UnsafePointer<Float>, weights: WinogradConvWeights,
                               bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, relu: Bool,
                               output: UnsafeMutablePointer<Float>) throws {
        guard WinogradConvWeights.supports(g), weights.outChannels == g.outChannels,
              weights.inChannels == g.inChannels, weights.matrices.count == 36 else {
            throw SwiftCNNError(.internal, "conv2d: Winograd weights do not match the geometry")
        }
        let blocking = WinogradBlocking(g, threads: Threading.numThreads)
        let c = g.inChannels, o = g.outChannels, ld = blocking.ld
        let vSize = try Checked.product([36, c, ld], "winograd input buffer")
        let mSize = try Checked.product([36, o, ld], "winograd product buffer")
        let qSize = 24 * blocking.qlen
        let rowSize = 16 * ((blocking.segmentLength + 15) / 16 * 16)
        let perWorker = try Checked.add(try Checked.add(vSize, mSize, "winograd scratch"), qSize + rowSize, "winograd scratch")
        let workers = max(1, min(Threading.numThreads, blocking.blocks))
        let scratch = try ScratchBuffer(count: try Checked.mul(perWorker, workers, "winograd scratch"))
        let failed = try ScratchBuffer(count: workers, zeroed: true)
        let u = weights.matrices.map { $0.pointer }
        let base = scratch.pointer, failures = failed.pointer
        u.withUnsafeBufferPointer { up in
            Threading.parallelFor(workers) { w in
                let s = base + w * perWorker
                let work = WinogradWork(g: g, b: blocking, u: up, input: input, bias: bias, residual: residual,
                                        relu: relu, output: output, v: s, m: s + vSize,
                                        q: s + vSize + mSize, row: s + vSize + mSize + qSize)
                var blk = w
                while blk < blocking.blocks {
                    do {
                        try work.run(block: blk)
                    } catch {
                        failures[w] = 1
                        return
                    }
                    blk += workers
                }
            }
        }
        for w in 0..<workers where failures[w] != 0 {
            throw SwiftCNNError.outOfMemory("conv2d: no memory for the Winograd GEMM's packing buffers")
        }
        withExtendedLifetime((scratch, failed, weights)) {}
    }
}

/// One worker's view of a Winograd convolution: its scratch (V, M, the deinterleaved input
/// rows Q and the output row buffers) and the shared inputs.
private struct WinogradWork {
    typealias V = SIMD16<Float>
    let g: Conv2DGeometry
    let b: WinogradBlocking
    let u: UnsafeBufferPointer<UnsafePointer<Float>>
    let input: UnsafePointer<Float>
    let bias: UnsafePointer<Float>?
    let residual: UnsafePointer<Float>?
    let relu: Bool
    let output: UnsafeMutablePointer<Float>
    let v: UnsafeMutablePointer<Float>
    let m: UnsafeMutablePointer<Float>
    let q: UnsafeMutablePointer<Float>
    let row: UnsafeMutablePointer<Float>

    func run(block: Int) throws {
        let s0 = block * b.segmentsPerBlock, s1 = min(b.segments, s0 + b.segmentsPerBlock)
        let c = g.inChannels, o = g.outChannels, ld = b.ld
        var t0 = 0
        for s in s0..<s1 {
            let seg = b.segment(s)
            for ch in 0..<c { inputTransform(seg, channel: ch, column: t0) }
            t0 += seg.len
        }
        let nt = t0
        for xi in 0..<36 {
            try Optimized.gemmPacked(m: o, n: nt, k: c, a: u[xi], b: v + xi * c * ld, ldb: ld,
                                     c: m + xi * o * ld, ldc: ld, accumulate: false, epilogue: .none)
        }
        t0 = 0
        for s in s0..<s1 {
            let seg = b.segment(s)
            for oc in 0..<o { outputTransform(seg, channel: oc, column: t0) }
            t0 += seg.len
        }
    }

    // MARK: Input transform

    /// Fills Q for one input row: phase `p` (0..<4) row holds x[4·(tx0 + j) − padLeft + p]
    /// for j in 0...len (zeros outside the image and past the end).
    @inline(__always)
    func fillRow(_ src: UnsafePointer<Float>?, _ dst: UnsafeMutablePointer<Float>, tx0: Int, len: Int) {
        let qlen = b.qlen
        let q0 = dst, q1 = dst + qlen, q2 = dst + 2 * qlen, q3 = dst + 3 * qlen
        guard let src else {
            dst.update(repeating: 0, count: 4 * qlen)
            return
        }
        let w = g.inWidth
        let count = len + 1
        let start = 4 * tx0 - g.padding.left   // column of phase 0, j = 0
        // j in lo..<hi: all four columns inside the row.
        let lo = start >= 0 ? 0 : min(count, (-start + 3) / 4)
        let hiRaw = w - 4 - start
        let hi = hiRaw < 0 ? lo : max(lo, min(count, hiRaw / 4 + 1))
        for j in 0..<lo { checked(src, j, start, w, q0, q1, q2, q3) }
        let s = src + start
        for j in lo..<hi {
            let p = s + 4 &* j
            q0[j] = p[0]; q1[j] = p[1]; q2[j] = p[2]; q3[j] = p[3]
        }
        for j in hi..<count { checked(src, j, start, w, q0, q1, q2, q3) }
        for p in 0..<4 { (dst + p * qlen + count).update(repeating: 0, count: qlen - count) }
    }

    @inline(__always)
    func checked(_ src: UnsafePointer<Float>, _ j: Int, _ start: Int, _ w: Int,
                 _ q0: UnsafeMutablePointer<Float>, _ q1: UnsafeMutablePointer<Float>,
                 _ q2: UnsafeMutablePointer<Float>, _ q3: UnsafeMutablePointer<Float>) {
        let x = start + 4 * j
        q0[j] = x >= 0 && x < w ? src[x] : 0
        q1[j] = x + 1 >= 0 && x + 1 < w ? src[x + 1] : 0
        q2[j] = x + 2 >= 0 && x + 2 < w ? src[x + 2] : 0
        q3[j] = x + 3 >= 0 && x + 3 < w ? src[x + 3] : 0
    }

    /// Bᵀ·(d0…d5): the 1-D input transform.
    @inline(__always)
    static func bt(_ d0: V, _ d1: V, _ d2: V, _ d3: V, _ d4: V, _ d5: V) -> (V, V, V, V, V, V) {
        let a = d4 - 4 * d2, bb = d3 - 4 * d1
        let c = d4 - d2, e = d3 - d1
        return (4 * d0 - 5 * d2 + d4, a + bb, a - bb, c + 2 * e, c - 2 * e, 4 * d1 - 5 * d3 + d5)
    }

    /// Transforms one channel of one segment's tiles into V's columns `column...`.
    func inputTransform(_ seg: (n: Int, ty: Int, tx0: Int, len: Int), channel ch: Int, column: Int) {
        let h = g.inHeight, qlen = b.qlen
        let plane = input + (seg.n * g.inChannels + ch) * g.inPlane
        for r in 0..<6 {
            let iy = 4 * seg.ty - g.padding.top + r
            fillRow(iy >= 0 && iy < h ? plane + iy * g.inWidth : nil, q + r * 4 * qlen, tx0: seg.tx0, len: seg.len)
        }
        let cstride = g.inChannels * b.ld
        let out = v + ch * b.ld + column
        var j0 = 0
        while j0 < seg.len {
            @inline(__always) func ld(_ r: Int, _ i: Int) -> V {
                UnsafeRawPointer(q + (r * 4 + (i & 3)) * qlen + j0 + (i >> 2)).loadUnaligned(as: V.self)
            }
            @inline(__always) func rowT(_ r: Int) -> (V, V, V, V, V, V) {
                Self.bt(ld(r, 0), ld(r, 1), ld(r, 2), ld(r, 3), ld(r, 4), ld(r, 5))
            }
            let r0 = rowT(0), r1 = rowT(1), r2 = rowT(2), r3 = rowT(3), r4 = rowT(4), r5 = rowT(5)
            @inline(__always) func col(_ x: Int, _ t: (V, V, V, V, V, V)) {
                let p = out + x * cstride + j0
                @inline(__always) func st(_ y: Int, _ val: V) {
                    UnsafeMutableRawPointer(p + y * 6 * cstride).storeBytes(of: val, as: V.self)
                }
                st(0, t.0); st(1, t.1); st(2, t.2); st(3, t.3); st(4, t.4); st(5, t.5)
            }
            col(0, Self.bt(r0.0, r1.0, r2.0, r3.0, r4.0, r5.0))
            col(1, Self.bt(r0.1, r1.1, r2.1, r3.1, r4.1, r5.1))
            col(2, Self.bt(r0.2, r1.2, r2.2, r3.2, r4.2, r5.2))
            col(3, Self.bt(r0.3, r1.3, r2.3, r3.3, r4.3, r5.3))
            col(4, Self.bt(r0.4, r1.4, r2.4, r3.4, r4.4, r5.4))
            col(5, Self.bt(r0.5, r1.5, r2.5, r3.5, r4.5, r5.5))
            j0 += 16
        }
    }

    // MARK: Output transform

    /// Aᵀ·(m0…m5): the 1-D output transform.
    @inline(__always)
    static func at(_ m0: V, _ m1: V, _ m2: V, _ m3: V, _ m4: V, _ m5: V) -> (V, V, V, V) {
        let s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4
        return (m0 + s12 + s34, d12 + 2 * d34, s12 + 4 * s34, d12 + 8 * d34 + m5)
    }

    /// Transforms output channel `oc` of one segment's tiles (M's columns `column...`),
    /// applies the epilogue and writes the tiles' pixels inside the output.
    func outputTransform(_ seg: (n: Int, ty: Int, tx0: Int, len: Int), channel oc: Int, column: Int) {
        let ostride = g.outChannels * b.ld
        let src = m + oc * b.ld + column
        let rowLen = 4 * ((seg.len + 15) / 16 * 16)
        var j0 = 0
        while j0 < seg.len {
            @inline(__always) func ld(_ y: Int, _ x: Int) -> V {
                UnsafeRawPointer(src + (y * 6 + x) * ostride + j0).loadUnaligned(as: V.self)
            }
            // Columns first (over y), then rows.
            @inline(__always) func colT(_ x: Int) -> (V, V, V, V) {
                Self.at(ld(0, x), ld(1, x), ld(2, x), ld(3, x), ld(4, x), ld(5, x))
            }
            let c0 = colT(0), c1 = colT(1), c2 = colT(2), c3 = colT(3), c4 = colT(4), c5 = colT(5)
            @inline(__always) func put(_ a: Int, _ y: (V, V, V, V)) {
                // Interleave the four phases: pixel 4·j + p of the row.
                let dst = row + a * rowLen + 4 * j0
                for k in 0..<16 {
                    dst[4 &* k] = y.0[k]; dst[4 &* k &+ 1] = y.1[k]
                    dst[4 &* k &+ 2] = y.2[k]; dst[4 &* k &+ 3] = y.3[k]
                }
            }
            put(0, Self.at(c0.0, c1.0, c2.0, c3.0, c4.0, c5.0))
            put(1, Self.at(c0.1, c1.1, c2.1, c3.1, c4.1, c5.1))
            put(2, Self.at(c0.2, c1.2, c2.2, c3.2, c4.2, c5.2))
            put(3, Self.at(c0.3, c1.3, c2.3, c3.3, c4.3, c5.3))
            j0 += 16
        }
        let ow = g.outWidth, oh = g.outHeight
        let x0 = 4 * seg.tx0
        let count = min(ow - x0, 4 * seg.len)
        let bv: Float? = bias.map { $0[oc] }
        for a in 0..<4 {
            let oy = 4 * seg.ty + a
            if oy >= oh { break }
            let offset = ((seg.n * g.outChannels + oc) * oh + oy) * ow + x0
            finishRow(row + a * rowLen, output + offset, residual.map { $0 + offset }, count, bv)
        }
    }

    /// dst[i] = src[i] (+ bias) (+ res[i]) (ReLU) for i in 0..<count.
    @inline(__always)
    func finishRow(_ src: UnsafeMutablePointer<Float>, _ dst: UnsafeMutablePointer<Float>,
                   _ res: UnsafePointer<Float>?, _ count: Int, _ bias: Float?) {
        var i = 0
        while i + 16 <= count {
            var x = UnsafeRawPointer(src + i).loadUnaligned(as: V.self)
            if let bias { x += bias }
            if let res { x += UnsafeRawPointer(res + i).loadUnaligned(as: V.self) }
            if relu { x.replace(with: 0, where: x .< 0) }
            UnsafeMutableRawPointer(dst + i).storeBytes(of: x, as: V.self)
            i += 16
        }
        while i < count {
            var x = src[i]
            if let bias { x += bias }
            if let res { x += res[i] }
            if relu && x < 0 { x = 0 }
            dst[i] = x
            i += 1
        }
    }
}
