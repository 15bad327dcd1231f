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
// F(4, 3) takes 5 finite points and ∞. Rounding in float32 (numpy, 256 channels, relative
// to the largest output of the layer): 0, ±1, ±2 mean 3e-6, worst 8e-6; 0, ±1, ±1/2
// mean 4e-6, worst 1.2e-5; 0, ±1, 1/2, −2 mean 2e-6, worst 4e-6. All far inside the
// 1e-4 of the zoo's parity tests; the symmetric ±2 set is kept for its cheaper transforms
// (even/odd pairs). Whole models: VGG-16 and ResNet-18 logits move by 2e-6 and 2e-7 of
// the largest logit against im2col + GEMM.

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

    /// Fewest tiles (4×4 output blocks over the batch) for ``isFaster(_:)``.
    static let minTiles = 16

    /// Whether the Winograd kernel is expected to beat im2col + GEMM for `g`: at least 64
    /// input and output channels (fewer, and the transforms outweigh the GEMMs' savings)
    /// and at least 16 tiles (``minTiles``; fewer, and the 36 GEMMs are too narrow for the
    /// micro-kernel). Measured side by side on the zoo's 3×3 convolutions (1 and 2 threads,
    /// batch 1 and 8, a shared and noisy machine): 1.3–4.9× faster where chosen (VGG's
    /// 224×224 layers most); 32 channels or fewer, or 4 tiles, 0.3–0.9×.
    ///
    /// And at least half of the tiles' 16 outputs must be real on average (maps of 3×3, 4×4,
    /// 6×6 or more; not 1×1, 2×2 or 5×5): a 4×4 tile costs 36 multiply-adds per channel pair
    /// whatever it keeps, im2col 9 per output, so a 1×1 map (1 output of 16) would cost 4×
    /// the GEMM's and a 2×2 map as much — ResNet-18's last stages at 32×32 inputs, batch 32.
    ///
    /// 16-tile layers (14×14 maps at batch 1) cost the 4× memory of the transformed weights
    /// (ResNet-50's six 3×3 convolutions on 14×14 maps: 9.4 instead of 2.4 MB each) and take
    /// Winograd in both builds: on an AMD EPYC (Zen 3, AVX2 build) ResNet-18 at batch 1 and
    /// 1 thread took 0.88× and ResNet-50 0.95× the time of the im2col choice; on an AMD EPYC
    /// (Zen 4, AVX-512 build) ResNet-18's 256 → 256 layers on 14×14 took 0.54× (2 threads),
    /// ResNet-18 0.90× (1 and 2 threads), ResNet-50 0.95–0.98×. (An earlier AVX-512
    /// measurement, 1.0–1.4× faster on these layers, had left them to im2col for the memory.)
    static func isFaster(_ g: Conv2DGeometry) -> Bool {
        guard supports(g) else { return false }
        let tilesPerImage = ((g.outHeight + 3) / 4) * ((g.outWidth + 3) / 4)
        let tiles = g.batch * tilesPerImage
        return min(g.inChannels, g.outChannels) >= 64 && tiles >= minTiles && 2 * g.outPlane >= 16 * tilesPerImage
    }

    /// ``isFaster(_:)`` when the weights are transformed for this one call (the public
    /// `conv2d`): the transform (≈ 36·O·C values) must be paid back too, so at least 128 tiles.
    static func isFasterUnprepared(_ g: Conv2DGeometry) -> Bool {
        isFaster(g) && g.batch * ((g.outHeight + 3) / 4) * ((g.outWidth + 3) / 4) >= 128
    }

    /// Transforms `weight` `[O, C, 3, 3]` for `g` (which must satisfy ``supports(_:)``).
    /// Throws `.outOfMemory`, or `.internal` for an unsupported geometry.
    init(_ g: Conv2DGeometry, weight: UnsafePointer<Float>) throws {
        guard Self.supports(g) else {
            throw SwiftCNNError(.internal, "conv2d: the Winograd kernel needs a 3×3, stride-1, dilation-1, one-group convolution")
        }
        let gm: [Double] = [1.0 / 4, 0, 0,
                            -1.0 / 6, -1.0 / 6, -1.0 / 6,
                            -1.0 / 6, 1.0 / 6, -1.0 / 6,
                            1.0 / 24, 1.0 / 12, 1.0 / 6,
                            1.0 / 24, -1.0 / 12, 1.0 / 6,
                            0, 0, 1]
        matrices = try gm.withUnsafeBufferPointer { gp in
            try Optimized.winogradWeightMatrices(g, weight: weight, positions: 36) { k, put in
                guard let G = gp.baseAddress else { return }
                // t = G·k (6×3), then U = t·Gᵀ (6×6).
                withUnsafeTemporaryAllocation(of: Double.self, capacity: 18) { tmp in
                    guard let t = tmp.baseAddress else { return }
                    for i in 0..<6 {
                        for j in 0..<3 {
                            t[i * 3 + j] = G[i * 3] * k[j] + G[i * 3 + 1] * k[3 + j] + G[i * 3 + 2] * k[6 + j]
                        }
                    }
                    for i in 0..<6 {
                        for j in 0..<6 {
                            put(i * 6 + j, t[i * 3] * G[j * 3] + t[i * 3 + 1] * G[j * 3 + 1] + t[i * 3 + 2] * G[j * 3 + 2])
                        }
                    }
                }
            }
        }
        outChannels = g.outChannels
        inChannels = g.inChannels
    }
}

extension Optimized {
    /// The transformed weights of a Winograd kernel: `positions` matrices U[ξ] `[O, C]`, each
    /// packed for the GEMM and written straight into its packed layout (no plain matrix packed
    /// afterwards). For every pair of output and input channels, `transform(k, put)` gets the
    /// 3×3 kernel in double precision (flipped first for true convolution: k[3·r + s]) and
    /// calls `put(ξ, value)` for each position, which stores the value rounded to float.
    /// Output channels are spread over the threads from 4096 channel pairs on (each writes its
    /// own rows of every U[ξ]; the values do not depend on the split). Throws `.outOfMemory`.
    static func winogradWeightMatrices(_ g: Conv2DGeometry, weight: UnsafePointer<Float>, positions: Int,
                                       _ transform: (_ k: UnsafePointer<Double>, _ put: (Int, Double) -> Void) -> Void)
        throws -> [PackedGEMMMatrix] {
        let o = g.outChannels, c = g.inChannels
        var packs: [PackedGEMMMatrix] = []
        packs.reserveCapacity(positions)
        for _ in 0..<positions { packs.append(try PackedGEMMMatrix(uninitializedRows: o, columns: c)) }
        let layout = packs[0]
        let targets = packs.map { $0.mutablePointer }
        let flip = g.flipKernel
        let parts = o * c < 1 << 12 ? 1 : min(o, Threading.numThreads)
        targets.withUnsafeBufferPointer { tp in
            Threading.parallelFor(parts) { part in
                withUnsafeTemporaryAllocation(of: Double.self, capacity: 9) { tmp in
                    guard let k = tmp.baseAddress else { return }
                    for oc in (o * part / parts)..<(o * (part + 1) / parts) {
                        for ic in 0..<c {
                            let w = weight + (oc * c + ic) * 9
                            for i in 0..<9 { k[i] = Double(w[flip ? 8 - i : i]) }
                            let at = layout.offset(row: oc, column: ic)
                            transform(UnsafePointer(k)) { xi, value in tp[xi][at] = Float(value) }
                        }
                    }
                }
            }
        }
        return packs
    }
}

/// A convolution's weights prepared once for the optimized path: Winograd-transformed where
/// that kernel is expected to be faster (``WinogradConvWeights/isFaster(_:)``, judged on the
/// geometry the weights are first prepared for), packed for im2col + GEMM otherwise.
enum PreparedConvWeights {
    case im2col(PackedConvWeights)
    case winograd(WinogradConvWeights)
    /// Winograd F(2×2, 3×3): small maps where F(4×4) has too few tiles (``WinogradF2Weights/isFaster(_:)``).
    case winogradF2(WinogradF2Weights)

    /// Whether Winograd may be chosen at all, by the inference plan and by the public
    /// `conv2d` (true; tests and benchmarks turn it off to compare with im2col + GEMM).
    nonisolated(unsafe) static var allowWinograd = true

    /// Prepares `weight` for `g`. Throws `.outOfMemory`.
    init(_ g: Conv2DGeometry, weight: UnsafePointer<Float>) throws {
        if Self.allowWinograd && WinogradConvWeights.isFaster(g) {
            self = .winograd(try WinogradConvWeights(g, weight: weight))
        } else if Self.allowWinograd && WinogradF2Weights.isFaster(g) {
            self = .winogradF2(try WinogradF2Weights(g, weight: weight))
        } else {
            self = .im2col(try PackedConvWeights(g, weight: weight))
        }
    }
}

/// A run of tiles transformed together, 16 per SIMD vector: `rows` tile rows from tile row
/// `ty` of image `n`, tiles `tx0..<tx0+len` of each. Tile (ty + t, tx0 + k) is lane
/// t·len + k (and column t·len + k of the segment's part of V and M). Rows past the image's
/// last (`tilesH` tile rows) go on into the next images (``tileRow(_:)``): maps with fewer
/// than 16 tiles stack several images into one segment.
struct WinogradSegment {
    let n: Int, ty: Int, rows: Int, tx0: Int, len: Int
    /// Tile rows per image.
    var tilesH: Int = .max
    /// Lanes the segment spans.
    var lanes: Int { rows * len }
    /// Image and tile row of the segment's row `t`.
    @inline(__always)
    func tileRow(_ t: Int) -> (n: Int, ty: Int) {
        let r = ty + t
        return r < tilesH ? (n, r) : (n + r / tilesH, r % tilesH)
    }
    /// Columns of V and M it is given: its lanes, or rounded up to 16 (aligned SIMD
    /// stores) when that wastes at most 1/8 of its GEMM columns.
    var columns: Int {
        let rounded = (lanes + 15) / 16 * 16
        return (rounded - lanes) * 8 <= lanes ? rounded : lanes
    }
}

/// How the output tiles of one Winograd convolution are cut into blocks.
///
/// Tiles (4×4 output pixels) are numbered by image, tile row and tile column. A wide tile
/// row is cut into segments of at most ``maxSegment`` tiles; narrow ones (8 tiles or
/// fewer) are stacked several rows to a segment, so that the 16 SIMD lanes stay busy, and
/// when a whole image has fewer than 16 tiles (maps of 12×12 and less), the rows of
/// consecutive images are stacked into one segment (a 7×7 or 8×8 map has 4 tiles: four
/// images fill the vector instead of one filling a quarter of it). A
/// block is a run of consecutive segments with about ``targetTiles(_:_:)`` columns:
/// enough for the GEMMs (the micro-kernel is 32 columns wide, and every block streams all
/// of U once) while its transformed input and products (36·(C+O) floats per column) stay
/// near the caches. The cut never changes a result: every GEMM sums each element in the
/// same order.
struct WinogradBlocking {
    let tilesH: Int, tilesW: Int
    /// Segments per tile row, and the longest segment (in tiles per row).
    let segmentsPerRow: Int, segmentLength: Int
    /// Tile rows stacked in one segment.
    let rowsPerSegment: Int
    /// Whether segments run across images (``WinogradSegment/tileRow(_:)``): an image has
    /// fewer tiles than a vector's 16 lanes and the batch has more than one.
    let acrossImages: Bool
    /// Tile rows in the batch, `batch · tilesH`.
    let batchRows: Int
    let segments: Int
    let segmentsPerBlock: Int
    let blocks: Int
    /// Row stride of the V and M matrices (>= columns per block + 16 spare columns).
    let ld: Int
    /// Floats of one zero-padded input row buffer: 4 per lane rounded up to 16 lanes, plus
    /// slack.
    let rowWidth: Int
    /// Lanes of the widest segment rounded up to 16 (no segment has more columns).
    let roundedLanes: Int

    static let maxSegment = 64

    /// Scratch budget of one block's V and M, in bytes.
    static let blockBytes = 2 << 20

    /// Columns per block for `c` input and `o` output channels: V and M within
    /// ``blockBytes``, but at least 64 and at most 256 columns.
    static func targetTiles(_ c: Int, _ o: Int) -> Int {
        let perTile = 36 * 4 * (c + o)
        return max(64, min(256, blockBytes / max(perTile, 1)))
    }

    init(_ g: Conv2DGeometry) {
        tilesH = (g.outHeight + 3) / 4
        tilesW = (g.outWidth + 3) / 4
        segmentsPerRow = (tilesW + Self.maxSegment - 1) / Self.maxSegment
        segmentLength = (tilesW + segmentsPerRow - 1) / segmentsPerRow
        let stack = segmentsPerRow == 1 ? max(1, 16 / tilesW) : 1
        batchRows = g.batch * tilesH
        acrossImages = stack > tilesH && g.batch > 1
        rowsPerSegment = acrossImages ? min(stack, batchRows) : min(tilesH, stack)
        let lanes = rowsPerSegment * segmentLength
        roundedLanes = (lanes + 15) / 16 * 16
        // Whole segments per block: at least the target's columns, and as close to a
        // multiple of the micro-kernel's 32 columns as doubling that allows.
        let target = Self.targetTiles(g.inChannels, g.outChannels)
        let average: Double
        if acrossImages {
            segments = (batchRows + rowsPerSegment - 1) / rowsPerSegment
            let full = batchRows / rowsPerSegment, rest = batchRows % rowsPerSegment
            let columns = full * WinogradSegment(n: 0, ty: 0, rows: rowsPerSegment, tx0: 0, len: tilesW).columns
                + (rest > 0 ? WinogradSegment(n: 0, ty: 0, rows: rest, tx0: 0, len: tilesW).columns : 0)
            average = Double(columns) / Double(segments)
        } else {
            let groupsPerImage = (tilesH + rowsPerSegment - 1) / rowsPerSegment
            segments = g.batch * groupsPerImage * segmentsPerRow
            var imageColumns = 0
            for ty in stride(from: 0, to: tilesH, by: rowsPerSegment) {
                for k in 0..<segmentsPerRow {
                    let len = tilesW * (k + 1) / segmentsPerRow - tilesW * k / segmentsPerRow
                    imageColumns += WinogradSegment(n: 0, ty: ty, rows: min(rowsPerSegment, tilesH - ty), tx0: 0, len: len).columns
                }
            }
            average = Double(imageColumns) / Double(groupsPerImage * segmentsPerRow)
        }
        let first = max(1, min(segments, Int((Double(target) / average).rounded(.up))))
        var per = first, best = 0.0
        for p in first...max(first, min(segments, 2 * first)) {
            let columns = Double(p) * average
            let use = columns / ((columns / 32).rounded(.up) * 32)
            if use > best + 1e-9 { best = use; per = p }
        }
        per = (segments + ((segments + per - 1) / per) - 1) / ((segments + per - 1) / per)
        segmentsPerBlock = per
        blocks = (segments + per - 1) / per
        ld = segmentsPerBlock * roundedLanes + 16
        rowWidth = 4 * roundedLanes + 16
    }

    /// Segments `lo..<hi` of block `block` (empty past the last segment).
    func segments(ofBlock block: Int) -> Range<Int> {
        let lo = min(segments, block * segmentsPerBlock)
        return lo..<min(segments, lo + segmentsPerBlock)
    }

    /// Segment `s`: image, first tile row, rows, first tile column, length.
    func segment(_ s: Int) -> WinogradSegment {
        if acrossImages {
            let first = s * rowsPerSegment
            return WinogradSegment(n: first / tilesH, ty: first % tilesH, rows: min(rowsPerSegment, batchRows - first),
                                   tx0: 0, len: tilesW, tilesH: tilesH)
        }
        let groupsPerImage = (tilesH + rowsPerSegment - 1) / rowsPerSegment
        let perImage = groupsPerImage * segmentsPerRow
        let n = s / perImage, r = s % perImage
        let ty = (r / segmentsPerRow) * rowsPerSegment, k = r % segmentsPerRow
        let tx0 = tilesW * k / segmentsPerRow, tx1 = tilesW * (k + 1) / segmentsPerRow
        return WinogradSegment(n: n, ty: ty, rows: min(rowsPerSegment, tilesH - ty), tx0: tx0, len: tx1 - tx0)
    }
}

extension Optimized {
    /// The convolution with prepared weights and the fused output pass (bias, residual,
    /// ReLU): ``conv2dWinograd(_:input:weights:bias:residual:relu:output:)`` or
    /// ``conv2dPacked(_:input:weights:bias:residual:relu:output:)``, whichever the weights are for.
    /// `scratch`, when given and large enough (``winogradScratchCount(_:)``), holds the
    /// Winograd buffers instead of a fresh allocation (the im2col + GEMM path needs none).
    static func conv2dPrepared(_ g: Conv2DGeometry, input: UnsafePointer<Float>, weights: PreparedConvWeights,
                               bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, relu: Bool,
                               output: UnsafeMutablePointer<Float>,
                               scratch: UnsafeMutableBufferPointer<Float>? = nil) throws {
        switch weights {
        case .im2col(let packed):
            try conv2dPacked(g, input: input, weights: packed, bias: bias, residual: residual, relu: relu, output: output)
        case .winograd(let transformed):
            try conv2dWinograd(g, input: input, weights: transformed, bias: bias, residual: residual, relu: relu,
                               output: output, scratch: scratch)
        case .winogradF2(let transformed):
            try conv2dWinogradF2(g, input: input, weights: transformed, bias: bias, residual: residual, relu: relu,
                                 output: output, scratch: scratch)
        }
    }

    /// The optimized kernel of the public ``conv2d(_:weight:bias:options:)``: Winograd (the
    /// weights transformed for this call) where ``WinogradConvWeights/isFasterUnprepared(_:)``
    /// says so, ``conv2dIm2col(_:input:weight:bias:output:)`` otherwise. Same contract. A
    /// kernel that reaches into padding everywhere outside a smaller window
    /// (``Conv2DGeometry/liveWindow``) runs cut to that window.
    static func conv2dUnprepared(_ g: Conv2DGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                 bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>) throws {
        if let (cut, rows, columns) = g.liveWindow {
            let w = try windowWeights(g, cut: cut, rows: rows, columns: columns, weight: weight)
            try conv2dUnprepared(cut, input: input, weight: w.pointer, bias: bias, output: output)
            withExtendedLifetime(w) {}
            return
        }
        if PreparedConvWeights.allowWinograd && WinogradConvWeights.isFasterUnprepared(g) {
            let transformed = try WinogradConvWeights(g, weight: weight)
            try conv2dWinograd(g, input: input, weights: transformed, bias: bias, residual: nil, relu: false, output: output)
        } else {
            try conv2dIm2col(g, input: input, weight: weight, bias: bias, output: output)
        }
    }

    /// Channels a Winograd transform's work is cut in (see ``transformChunks(channels:workers:_:)``).
    static let winogradTransformChunk = 8

    /// Runs `body(worker, channels)` over `channels` channels cut in chunks of
    /// ``winogradTransformChunk``: each of `workers` threads takes its own equal share from
    /// the front, then the others' unclaimed chunks from the back (``ChunkRanges``), so that
    /// a thread preempted in its share holds the call up by one chunk. `worker` is the
    /// thread's part (its scratch), not the share the chunk came from. Each channel is
    /// transformed alone, so the chunks' order changes no result.
    static func transformChunks(channels: Int, workers: Int, _ body: (_ worker: Int, _ channels: Range<Int>) -> Void) {
        ChunkRanges.parallelFor(parts: workers, chunk: winogradTransformChunk, bounds: { channels * $0 / workers }, body)
    }

    /// 2-D convolution by Winograd F(4×4, 3×3) with weights from ``WinogradConvWeights`` and
    /// the fused output pass of ``conv2dPacked(_:input:weights:bias:residual:relu:output:)``:
    /// output = conv(input) + bias[o] (+ residual, same shape as the output) (then ReLU).
    /// `g` must satisfy ``WinogradConvWeights/supports(_:)``; `residual` must not overlap `output`.
    ///
    /// Per block of tiles (``WinogradBlocking``): the input transform Bᵀ·d·B (16 tiles per
    /// SIMD vector; input channels spread over the threads) fills V[36][C][tiles], the 36
    /// packed GEMMs (spread over the threads) give M[36][O][tiles], and the output transform
    /// Aᵀ·m·A (output channels spread over the threads) adds the bias and residual, applies
    /// ReLU and writes the 4×4 tiles, clipped at the edges. Each value is computed by the
    /// same instructions whatever the thread count, so results are bitwise identical.
    /// `scratch`: room for the transformed input and products and the workers' row buffers
    /// (``winogradScratchCount(_:)`` floats at the current thread count) — the compiled
    /// forward's arena; nil, or too small, allocates them for this call.
    /// - Throws: `.outOfMemory` when scratch memory cannot be had; `.internal` when the
    ///   weights or geometry do not fit.
    static func conv2dWinograd(_ g: Conv2DGeometry, input: UnsafePointer<Float>, weights: WinogradConvWeights,
                               bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, relu: Bool,
                               output: UnsafeMutablePointer<Float>,
                               scratch: UnsafeMutableBufferPointer<Float>? = nil) throws {
        guard WinogradConvWeights.supports(g), weights.outChannels == g.outChannels,
              weights.inChannels == g.inChannels, weights.matrices.count == 36 else {
            throw SwiftCNNError(.internal, "conv2d: Winograd weights do not match the geometry")
        }
        let blocking = WinogradBlocking(g)
        let c = g.inChannels, o = g.outChannels, ld = blocking.ld
        let sizes = try winogradScratchSizes(g, blocking)
        let vSize = sizes.v, qSize = sizes.q, rowSize = sizes.row, workers = sizes.workers
        let shared = sizes.v + sizes.m
        let given = scratch.flatMap { $0.count >= sizes.total ? $0.baseAddress : nil }
        let owned: ScratchBuffer? = given == nil ? try ScratchBuffer(count: sizes.total) : nil
        guard let base = given ?? owned?.pointer else { return }
        let u = weights.matrices.map { $0.pointer }
        // One flag per GEMM that ran out of memory (on the stack: a steady-state call allocates nothing).
        try withUnsafeTemporaryAllocation(of: Float.self, capacity: 36) { failed in
            guard let failures = failed.baseAddress else { return }
            failures.initialize(repeating: 0, count: 36)
            try u.withUnsafeBufferPointer { up in
                for blk in 0..<blocking.blocks {
                    let segs = blocking.segments(ofBlock: blk)
                    @inline(__always) func work(_ w: Int) -> WinogradWork {
                        let q = base + shared + w * (qSize + rowSize)
                        return WinogradWork(g: g, b: blocking, input: input, bias: bias, residual: residual, relu: relu,
                                            output: output, v: base, m: base + vSize, q: q, row: q + qSize)
                    }
                    transformChunks(channels: c, workers: workers) { w, channels in
                        work(w).inputTransform(segments: segs, channels: channels)
                    }
                    // The GEMMs run over the block's columns rounded up to 16 (V's and M's rows
                    // have room: ld >= columns + 16; the input transform zeroes the extra
                    // columns), so that no tile needs the narrow-edge kernels.
                    let nt = WinogradWork.paddedColumns(segs.reduce(0) { $0 + blocking.segment($1).columns })
                    Threading.parallelFor(36) { xi in
                        do {
                            try Optimized.gemmPacked(m: o, n: nt, k: c, a: up[xi], b: base + xi * c * ld, ldb: ld,
                                                     c: base + vSize + xi * o * ld, ldc: ld, accumulate: false, epilogue: .none)
                        } catch {
                            failures[xi] = 1
                        }
                    }
                    for xi in 0..<36 where failures[xi] != 0 {
                        throw SwiftCNNError.outOfMemory("conv2d: no memory for the Winograd GEMM's packing buffers")
                    }
                    transformChunks(channels: o, workers: workers) { w, channels in
                        work(w).outputTransform(segments: segs, channels: channels)
                    }
                }
            }
        }
        withExtendedLifetime((owned, weights)) {}
    }

    /// Floats of scratch ``conv2dWinograd(_:input:weights:bias:residual:relu:output:scratch:)``
    /// uses for `g` at the current thread count (``Threading/numThreads``).
    static func winogradScratchCount(_ g: Conv2DGeometry) throws -> Int {
        try winogradScratchSizes(g, WinogradBlocking(g)).total
    }

    /// The Winograd scratch layout: V (36·C·ld), M (36·O·ld), then per worker its
    /// deinterleaved input rows Q and its output row buffer.
    static func winogradScratchSizes(_ g: Conv2DGeometry, _ blocking: WinogradBlocking) throws
        -> (v: Int, m: Int, q: Int, row: Int, workers: Int, total: Int) {
        let c = g.inChannels, o = g.outChannels, ld = blocking.ld
        let vSize = try Checked.product([36, c, ld], "winograd input buffer")
        let mSize = try Checked.product([36, o, ld], "winograd product buffer")
        let qSize = 12 * blocking.rowWidth
        let rowSize = 16 * blocking.roundedLanes
        let workers = max(1, min(Threading.numThreads, min(c, o)))
        let shared = try Checked.add(vSize, mSize, "winograd scratch")
        let total = try Checked.add(shared, try Checked.mul(qSize + rowSize, workers, "winograd scratch"), "winograd scratch")
        return (vSize, mSize, qSize, rowSize, workers, total)
    }
}

/// One worker's view of a Winograd convolution: the shared V and M, its own scratch (the
/// deinterleaved input rows Q and the output row buffers) and the shared inputs.
private struct WinogradWork {
    typealias V = SIMD16<Float>
    let g: Conv2DGeometry
    let b: WinogradBlocking
    let input: UnsafePointer<Float>
    let bias: UnsafePointer<Float>?
    let residual: UnsafePointer<Float>?
    let relu: Bool
    let output: UnsafeMutablePointer<Float>
    let v: UnsafeMutablePointer<Float>
    let m: UnsafeMutablePointer<Float>
    let q: UnsafeMutablePointer<Float>
    let row: UnsafeMutablePointer<Float>

    /// The GEMM columns of a block of `columns` columns: rounded up to 16.
    static func paddedColumns(_ columns: Int) -> Int { (columns + 15) / 16 * 16 }

    /// Input transform of `channels` for the block's `segments` into V, then zeros in the
    /// columns past the block's up to ``paddedColumns(_:)`` (the GEMMs read them).
    func inputTransform(segments: Range<Int>, channels: Range<Int>) {
        var t0 = 0
        for s in segments {
            let seg = b.segment(s)
            inputTransform(seg, channels: channels, column: t0)
            t0 += seg.columns
        }
        let pad = Self.paddedColumns(t0) - t0
        if pad == 0 { return }
        let cstride = g.inChannels * b.ld
        for ch in channels {
            for xi in 0..<36 { (v + xi * cstride + ch * b.ld + t0).update(repeating: 0, count: pad) }
        }
    }

    /// Output transform and epilogue of `channels` for the block's `segments` from M.
    func outputTransform(segments: Range<Int>, channels: Range<Int>) {
        var t0 = 0
        for s in segments {
            let seg = b.segment(s)
            for oc in channels { outputTransform(seg, channel: oc, column: t0) }
            t0 += seg.columns
        }
    }

    // MARK: Input transform

    /// Lanes `o, o+4, o+8, o+12` of each of a, b, c, d: phase `o` of 64 consecutive floats
    /// (constant `o` after inlining, so the compiler emits permutes).
    @inline(__always)
    static func phase(_ a: V, _ b: V, _ c: V, _ d: V, _ o: Int) -> V {
        V(a[o], a[o + 4], a[o + 8], a[o + 12], b[o], b[o + 4], b[o + 8], b[o + 12],
          c[o], c[o + 4], c[o + 8], c[o + 12], d[o], d[o + 4], d[o + 8], d[o + 12])
    }

    /// Bᵀ·(d0…d5): the 1-D input transform.
    @inline(__always)
    static func bt(_ d0: V, _ d1: V, _ d2: V, _ d3: V, _ d4: V, _ d5: V) -> (V, V, V, V, V, V) {
        let a = d4 - 4 * d2, bb = d3 - 4 * d1
        let c = d4 - d2, e = d3 - d1
        return (4 * d0 - 5 * d2 + d4, a + bb, a - bb, c + 2 * e, c - 2 * e, 4 * d1 - 5 * d3 + d5)
    }

    /// Bᵀ applied along one input row of 16 tiles: P's four pixels and P''s first two per
    /// lane (`p`, `p4`: 64 floats each), deinterleaved by ``phase(_:_:_:_:_:)``.
    @inline(__always)
    static func rowTransformBody(_ p: UnsafeRawPointer, _ p4: UnsafeRawPointer) -> (V, V, V, V, V, V) {
        let a = p.loadUnaligned(as: V.self), bb = p.loadUnaligned(fromByteOffset: 64, as: V.self)
        let c = p.loadUnaligned(fromByteOffset: 128, as: V.self), d = p.loadUnaligned(fromByteOffset: 192, as: V.self)
        let a4 = p4.loadUnaligned(as: V.self), b4 = p4.loadUnaligned(fromByteOffset: 64, as: V.self)
        let c4 = p4.loadUnaligned(fromByteOffset: 128, as: V.self), d4 = p4.loadUnaligned(fromByteOffset: 192, as: V.self)
        return bt(phase(a, bb, c, d, 0), phase(a, bb, c, d, 1), phase(a, bb, c, d, 2),
                  phase(a, bb, c, d, 3), phase(a4, b4, c4, d4, 0), phase(a4, b4, c4, d4, 1))
    }

    #if SCNN_AVX2
    /// ``rowTransformBody(_:_:)`` out of line in the AVX2 build: inlined into the input
    /// transform, its 16-lane shuffles (two ymm registers per vector) were turned into scalar
    /// loads, and the transform into scalar arithmetic (half of the pass's time in
    /// `vsubss`/`vmovss`); out of line the compiler keeps them as permutes. Same operations,
    /// same bits.
    @inline(never)
    static func rowTransform(_ p: UnsafeRawPointer, _ p4: UnsafeRawPointer) -> (V, V, V, V, V, V) {
        rowTransformBody(p, p4)
    }
    #else
    /// ``rowTransformBody(_:_:)``, inlined (the AVX-512 build compiles its shuffles to permutes).
    @inline(__always)
    static func rowTransform(_ p: UnsafeRawPointer, _ p4: UnsafeRawPointer) -> (V, V, V, V, V, V) {
        rowTransformBody(p, p4)
    }
    #endif

    /// Transforms `channels` of one segment's tiles into V's columns `column...`.
    ///
    /// Each of the 6 input rows of the tiles goes to two zero-padded buffers, P (pixels
    /// 0..<4 of lane k's 6-pixel window at 4k) and P' (pixels 4 and 5 at 4k): tile row t
    /// fills floats 4·len·t… of P from its first window's pixel 0, and of P' from pixel 4.
    /// Which floats of P and P' read the input, and from where in a channel's plane, is the
    /// same for every channel: the buffers are zeroed and those places found once per
    /// segment, and each channel copies its runs of pixels into them.
    func inputTransform(_ seg: WinogradSegment, channels: Range<Int>, column: Int) {
        if channels.isEmpty { return }
        let h = g.inHeight, width = b.rowWidth, region = 4 * seg.len, rows = seg.rows
        q.update(repeating: 0, count: 12 * width)
        // The floats of a tile row's `w` from pixel x0 on that lie inside the input row.
        @inline(__always) func inside(_ x0: Int, _ w: Int) -> Range<Int> {
            Conv2DGeometry.outputsInside(offset: x0, input: g.inWidth, stride: 1, outputs: w)
        }
        let x0 = 4 * seg.tx0 - g.padding.left
        // A tile row's floats: `region`, the last row's up to the buffer's end.
        let last = width - (rows - 1) * region
        let p = inside(x0, region), p4 = inside(x0 + 4, region)
        let pLast = inside(x0, last), p4Last = inside(x0 + 4, last)
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 6 * rows) { offsets in
            guard let rowOffset = offsets.baseAddress else { return }
            // Offset of input row r of tile row t (from pixel x0, which may be left of the
            // row) from its channel's plane; Int.min: a row of the padding.
            for t in 0..<rows {
                let (n, ty) = seg.tileRow(t)
                for r in 0..<6 {
                    let iy = 4 * ty - g.padding.top + r
                    rowOffset[6 * t + r] = iy >= 0 && iy < h ? n * g.inChannels * g.inPlane + iy * g.inWidth + x0 : .min
                }
            }
            for ch in channels {
                let plane = input + ch * g.inPlane
                for t in 0..<rows {
                    let (a, a4) = t == rows - 1 ? (pLast, p4Last) : (p, p4)
                    let dst = q + t * region
                    for r in 0..<6 {
                        let off = rowOffset[6 * t + r]
                        if off == .min { continue }
                        Optimized.copyRun(dst + r * width + a.lowerBound, plane + (off + a.lowerBound), a.count)
                        Optimized.copyRun(dst + (6 + r) * width + a4.lowerBound, plane + (off + 4 + a4.lowerBound), a4.count)
                    }
                }
                transformRows(seg, channel: ch, column: column)
            }
        }
    }

    /// The transform of one channel of one segment's tiles from P and P' (filled by
    /// ``inputTransform(_:channels:column:)``) into V's columns `column...`.
    @inline(__always)
    func transformRows(_ seg: WinogradSegment, channel ch: Int, column: Int) {
        let width = b.rowWidth
        let cstride = g.inChannels * b.ld
        let out = v + ch * b.ld + column
        var j0 = 0
        while j0 < seg.lanes {
            // Row r of 16 tiles: pixels 0..<4 of lane k at P[4k...], pixels 4, 5 at P'[4k...].
            @inline(__always) func rowT(_ r: Int) -> (V, V, V, V, V, V) {
                Self.rowTransform(UnsafeRawPointer(q + r * width + 4 * j0), UnsafeRawPointer(q + (6 + r) * width + 4 * j0))
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

    /// Stores pixel 4·k + p of a row of 16 tiles, `y_p[k]`, at `dst` (64 floats): a 4 × 16
    /// transpose in two steps of two-vector lane selections (pairs of columns, then pairs
    /// of pairs), which the compiler emits as permutes; a selection from four vectors at
    /// once became lane-by-lane inserts. Not inlined: inlined, the compiler computes the
    /// output transform in 4-lane pieces (1.1–1.2× the time).
    @inline(never)
    static func interleave(_ y0: V, _ y1: V, _ y2: V, _ y3: V, into dst: UnsafeMutablePointer<Float>) {
        // Lanes k of a and b side by side, for k in base..<base+8.
        @inline(__always) func zip(_ a: V, _ b: V, _ base: Int) -> V {
            V(a[base], b[base], a[base + 1], b[base + 1], a[base + 2], b[base + 2], a[base + 3], b[base + 3],
              a[base + 4], b[base + 4], a[base + 5], b[base + 5], a[base + 6], b[base + 6], a[base + 7], b[base + 7])
        }
        // Pairs k of a and b side by side (lanes 2k, 2k+1 of each), for k in base..<base+4.
        @inline(__always) func zipPairs(_ a: V, _ b: V, _ base: Int) -> V {
            let i = 2 * base
            return V(a[i], a[i + 1], b[i], b[i + 1], a[i + 2], a[i + 3], b[i + 2], b[i + 3],
                     a[i + 4], a[i + 5], b[i + 4], b[i + 5], a[i + 6], a[i + 7], b[i + 6], b[i + 7])
        }
        let lo01 = zip(y0, y1, 0), hi01 = zip(y0, y1, 8)
        let lo23 = zip(y2, y3, 0), hi23 = zip(y2, y3, 8)
        let p = UnsafeMutableRawPointer(dst)
        p.storeBytes(of: zipPairs(lo01, lo23, 0), as: V.self)
        p.storeBytes(of: zipPairs(lo01, lo23, 4), toByteOffset: 64, as: V.self)
        p.storeBytes(of: zipPairs(hi01, hi23, 0), toByteOffset: 128, as: V.self)
        p.storeBytes(of: zipPairs(hi01, hi23, 4), toByteOffset: 192, as: V.self)
    }

    /// Transforms output channel `oc` of one segment's tiles (M's columns `column...`),
    /// applies the epilogue and writes the tiles' pixels inside the output.
    func outputTransform(_ seg: WinogradSegment, channel oc: Int, column: Int) {
        let ostride = g.outChannels * b.ld
        let src = m + oc * b.ld + column
        let rowLen = 4 * b.roundedLanes
        var j0 = 0
        while j0 < seg.lanes {
            @inline(__always) func ld(_ y: Int, _ x: Int) -> V {
                UnsafeRawPointer(src + (y * 6 + x) * ostride + j0).loadUnaligned(as: V.self)
            }
            // Columns first (over y), then rows.
            @inline(__always) func colT(_ x: Int) -> (V, V, V, V) {
                Self.at(ld(0, x), ld(1, x), ld(2, x), ld(3, x), ld(4, x), ld(5, x))
            }
            let c0 = colT(0), c1 = colT(1), c2 = colT(2), c3 = colT(3), c4 = colT(4), c5 = colT(5)
            @inline(__always) func put(_ a: Int, _ y: (V, V, V, V)) {
                Self.interleave(y.0, y.1, y.2, y.3, into: row + a * rowLen + 4 * j0)
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
        for t in 0..<seg.rows {
            let (n, ty) = seg.tileRow(t)
            for a in 0..<4 {
                let oy = 4 * ty + a
                if oy >= oh { break }
                let offset = ((n * g.outChannels + oc) * oh + oy) * ow + x0
                Optimized.finishRow(row + a * rowLen + 4 * t * seg.len, output + offset, residual.map { $0 + offset }, count, bv, relu: relu)
            }
        }
    }
}

extension Optimized {
    /// dst[i] = src[i] (+ bias) (+ res[i]) (ReLU) for i in 0..<count: the output pass of
    /// Winograd's rows and of the batched GEMM's copy-out with a residual (left to the
    /// compiler, that copy-out was a scalar loop with overflow checks on every index, 9.5% of a
    /// 1024 → 256 → 1024 block on 14×14 at batch 8). Each element gets its operations in that
    /// order whatever the vector width, so the same bits as an element loop.
    @inline(__always)
    static func finishRow(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>,
                          _ res: UnsafePointer<Float>?, _ count: Int, _ bias: Float?, relu: Bool) {
        typealias V = SIMD16<Float>
        var i = 0
        while i + 16 <= count {
            var x = UnsafeRawPointer(src + i).loadUnaligned(as: V.self)
            if let bias { x += bias }
            if let res { x += UnsafeRawPointer(res + i).loadUnaligned(as: V.self) }
            if relu { x.replace(with: 0, where: x .< 0) }
            UnsafeMutableRawPointer(dst + i).storeBytes(of: x, as: V.self)
            i += 16
        }
        // The row's last 1…15 floats: 8 with SIMD8 (same arithmetic per element), then one
        // by one. (Left to the compiler, the loop below was vectorized with masked loads of
        // the optional residual, which the AVX2 build spent a fifth of this pass on.)
        if i + 8 <= count {
            var x = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self)
            if let bias { x += bias }
            if let res { x += UnsafeRawPointer(res + i).loadUnaligned(as: SIMD8<Float>.self) }
            if relu { x.replace(with: 0, where: x .< 0) }
            UnsafeMutableRawPointer(dst + i).storeBytes(of: x, as: SIMD8<Float>.self)
            i += 8
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
