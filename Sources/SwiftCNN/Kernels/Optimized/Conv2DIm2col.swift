#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Convolution weights prepared once for the optimized path: flipped when the geometry
/// says so, packed per group for the GEMM. Reused across calls with the same weights.
final class PackedConvWeights {
    /// One packed `[O/groups, Cg·KH·KW]` matrix per group.
    let groups: [PackedGEMMMatrix]
    let outChannels: Int
    let patchSize: Int

    /// Packs `weight` `[O, Cg, KH, KW]` for `g` (flipping it first for true convolution).
    init(_ g: Conv2DGeometry, weight: UnsafePointer<Float>) throws {
        let cg = g.inChannelsPerGroup, og = g.outChannelsPerGroup
        let kh = g.kernelHeight, kw = g.kernelWidth
        let patch = g.patchSize
        var flipped: ScratchBuffer? = nil
        if g.flipKernel && (kh > 1 || kw > 1) {
            let buf = try ScratchBuffer(count: try Checked.mul(g.outChannels, patch))
            for oc in 0..<(g.outChannels * cg) {
                let src = weight + oc * kh * kw
                let dst = buf.pointer + oc * kh * kw
                for k in 0..<kh {
                    for l in 0..<kw { dst[k * kw + l] = src[(kh - 1 - k) * kw + (kw - 1 - l)] }
                }
            }
            flipped = buf
        }
        let w = flipped.map { UnsafePointer($0.pointer) } ?? weight
        var packs: [PackedGEMMMatrix] = []
        packs.reserveCapacity(g.groups)
        for grp in 0..<g.groups {
            packs.append(try PackedGEMMMatrix(m: og, k: patch, a: w + grp * og * patch, lda: patch))
        }
        groups = packs
        outChannels = g.outChannels
        patchSize = patch
        withExtendedLifetime(flipped) {}
    }
}

extension Optimized {
    /// 2-D convolution as im2col + GEMM, with the same contract as ``Reference/conv2d(_:input:weight:bias:output:)``.
    ///
    /// For each image and group: output[og rows] = weight[og, Cg·KH·KW] · columns + bias,
    /// where `columns` is the im2col matrix `[Cg·KH·KW, OH·OW]` of the input patches (zeros
    /// where a tap falls in the padding). The GEMM generates it tile by tile straight into its
    /// packed B panels (``packIm2colTile(_:_:pc:kc:col:cols:into:imageStride:)``), so it is never stored;
    /// the bias is added in the GEMM's output pass. A 1×1 kernel with stride 1 and no padding multiplies the input planes
    /// directly. A flipped kernel (true convolution) is flipped once while packing.
    /// - Throws: ``SwiftCNNError/Kind/outOfMemory`` when scratch memory cannot be had.
    public static func conv2dIm2col(_ g: Conv2DGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                    bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>) throws {
        let packed = try PackedConvWeights(g, weight: weight)
        try conv2dPacked(g, input: input, weights: packed, bias: bias, residual: nil, relu: false, output: output)
    }

    /// The convolution with pre-packed weights and a fused output pass:
    /// output = conv(input) + bias[o] (+ residual, same shape as the output) (then ReLU)
    /// (then `op`, a ``UnaryOp/fusable`` activation). `residual` must not overlap `output`.
    static func conv2dPacked(_ g: Conv2DGeometry, input: UnsafePointer<Float>, weights: PackedConvWeights,
                             bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, relu: Bool,
                             op: UnaryOp? = nil, output: UnsafeMutablePointer<Float>) throws {
        let cg = g.inChannelsPerGroup, og = g.outChannelsPerGroup
        let patch = g.patchSize
        let outPlane = g.outPlane
        guard weights.groups.count == g.groups, weights.patchSize == patch, weights.outChannels == g.outChannels else {
            throw SwiftCNNError(.internal, "conv2d: packed weights do not match the geometry")
        }
        if g.batch > 1 && outPlane < batchedPlaneLimit {
            try conv2dPackedBatched(g, input: input, weights: weights, bias: bias, residual: residual, relu: relu,
                                    output: output)
            if let op {
                let count = g.batch * g.outChannels * outPlane
                unary(op, output, output, count: count)
            }
            return
        }
        let pointwise = g.kernelHeight == 1 && g.kernelWidth == 1 && g.padding == Padding2D(0)
        let direct = pointwise && g.stride == Size2D(1)
        // A strided 1×1 convolution (ResNet's downsampling shortcuts) multiplies the
        // subsampled input: one pass writes its Cg·OH·OW pixels contiguously, and the GEMM
        // packs that plain matrix (16-float runs) rather than gathering every other pixel per
        // tile and row of its im2col. Same values of B, same products, same bits.
        let subsampled = pointwise && !direct
        let sub = subsampled ? try GEMMScratchCache.shared.take(try Checked.mul(cg, outPlane, "conv2d subsampled input")) : nil
        defer { if let sub { GEMMScratchCache.shared.give(sub) } }

        for n in 0..<g.batch {
            for grp in 0..<g.groups {
                let x = input + (n * g.inChannels + grp * cg) * g.inPlane
                let offset = (n * g.outChannels + grp * og) * outPlane
                var ep = GEMMEpilogue()
                ep.bias = bias.map { $0 + grp * og }
                ep.residual = residual.map { $0 + offset }
                ep.ldr = outPlane
                ep.relu = relu
                ep.op = op
                // The im2col matrix is generated straight into the GEMM's packed B panels.
                let source: GEMMBSource
                if let sub {
                    subsample(g, x, channels: cg, into: sub.pointer)
                    source = .matrix(sub.pointer, ldb: outPlane)
                } else {
                    source = direct ? .matrix(x, ldb: outPlane) : .im2col(g, x)
                }
                try gemmPacked(m: og, n: outPlane, k: patch, a: weights.groups[grp].pointer,
                               source: source, c: output + offset, ldc: outPlane,
                               accumulate: false, epilogue: ep)
            }
        }
    }

    /// dst[c][oy][ox] = x[c][oy·SH][ox·SW] for `channels` planes of `g`'s input at `x` (a 1×1
    /// kernel without padding: every tap is inside the image), `channels`·OH·OW floats at
    /// `dst`; with `images` > 1, the same for that many images whose planes start
    /// `imageStride` floats apart at `x`, one after another at `dst`. Stride 2 along x keeps
    /// the even lanes of vector loads. The planes are spread over the threads when there are
    /// enough of them.
    static func subsample(_ g: Conv2DGeometry, _ x: UnsafePointer<Float>, channels: Int,
                          into dst: UnsafeMutablePointer<Float>, images: Int = 1, imageStride: Int = 0) {
        let oh = g.outHeight, ow = g.outWidth, sh = g.stride.h, sw = g.stride.w
        let w = g.inWidth, inPlane = g.inPlane, outPlane = g.outPlane
        let planes = { (range: Range<Int>) in
            for i in range {
                let b = i / channels, c = i % channels
                let image = x + b * imageStride
                let end = image + channels * inPlane
                for oy in 0..<oh {
                    let src = image + c * inPlane + oy * sh * w
                    let d = dst + i * outPlane + oy * ow
                    if sw == 2 {
                        gatherStride2(d, src, ow, readEnd: end)
                    } else {
                        for ox in 0..<ow { d[ox] = src[ox * sw] }
                    }
                }
            }
        }
        let total = images * channels
        let parts = total * outPlane >= 1 << 16 ? min(Threading.numThreads, total) : 1
        if parts > 1 {
            Threading.parallelFor(parts) { part in planes((total * part / parts)..<(total * (part + 1) / parts)) }
        } else {
            planes(0..<total)
        }
    }

    /// Output planes (OH·OW) below which ``conv2dPacked(_:input:weights:bias:residual:relu:output:)``
    /// multiplies several images at once: one GEMM per image would be only a few NR-column
    /// tiles wide (a 4×4 map is half a tile, 1×1 one column), too narrow for the micro-kernel
    /// and the thread split. (A variable so that benchmarks can compare with 0: never batch.)
    nonisolated(unsafe) static var batchedPlaneLimit = 256
    /// Most columns (images × OH·OW) of one batched GEMM: bounds its staging buffer to
    /// O/groups × this many floats.
    static let batchedColumns = 8192

    /// ``conv2dPacked(_:input:weights:bias:residual:relu:output:)`` for small output planes:
    /// per group, one GEMM over B images at once (n = B·OH·OW, im2col of the B images side by
    /// side, generated into the packed panels) into a staging buffer `[O/groups, B·OH·OW]`
    /// (from ``GEMMScratchCache``), with the bias (and the ReLU when there is no residual) in
    /// its output pass; then each image's rows are copied to their place in the output, adding
    /// the residual and applying the ReLU there. Each element gets the same operations in the
    /// same order as in the per-image GEMM.
    static func conv2dPackedBatched(_ g: Conv2DGeometry, input: UnsafePointer<Float>, weights: PackedConvWeights,
                                    bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, relu: Bool,
                                    output: UnsafeMutablePointer<Float>) throws {
        let cg = g.inChannelsPerGroup, og = g.outChannelsPerGroup
        let plane = g.outPlane
        let imageStride = g.inChannels * g.inPlane
        let perGEMM = max(1, min(g.batch, batchedColumns / plane))
        let staging = try GEMMScratchCache.shared.take(try Checked.product([og, perGEMM, plane], "conv2d batched GEMM"))
        defer { GEMMScratchCache.shared.give(staging) }
        let c = staging.pointer
        // A strided 1×1 convolution multiplies its subsampled input, as in the per-image path:
        // one pass over the images' channels of a group, then plain 16-float runs to pack
        // (gathering every other pixel of every row, tile by tile, was 23% of a 512 → 1024
        // stride-2 layer on 28×28 at batch 8). Same values of B, same bits.
        let subsampled = g.kernelHeight == 1 && g.kernelWidth == 1 && g.padding == Padding2D(0) && g.stride != Size2D(1)
        let sub = subsampled ? try GEMMScratchCache.shared.take(try Checked.product([perGEMM, cg, plane], "conv2d subsampled input")) : nil
        defer { if let sub { GEMMScratchCache.shared.give(sub) } }
        var n0 = 0
        while n0 < g.batch {
            let images = min(perGEMM, g.batch - n0)
            let columns = images * plane
            for grp in 0..<g.groups {
                var ep = GEMMEpilogue()
                ep.bias = bias.map { $0 + grp * og }
                ep.relu = relu && residual == nil
                let x = input + (n0 * g.inChannels + grp * cg) * g.inPlane
                var source = GEMMBSource.im2col(g, x, imageStride: imageStride)
                if let sub {
                    subsample(g, x, channels: cg, into: sub.pointer, images: images, imageStride: imageStride)
                    source = .im2col(Conv2DGeometry(pointwiseOverSubsampled: g), sub.pointer, imageStride: cg * plane)
                }
                try gemmPacked(m: og, n: columns, k: g.patchSize, a: weights.groups[grp].pointer,
                               source: source, c: c, ldc: columns,
                               accumulate: false, epilogue: ep)
                // Each image's planes out of the staging matrix, spread over the threads (on
                // the calling thread alone this copy was 5–8% of a 528 → 448 1×1 layer at
                // batch 8 on 2 threads, the other thread idle).
                parallelCopy(images * og, floats: images * og * plane) { row in
                    let b = row / og, i = row % og
                    let src = c + i * columns + b * plane
                    let at = ((n0 + b) * g.outChannels + grp * og + i) * plane
                    if let residual {
                        finishRow(src, output + at, residual + at, plane, nil, relu: relu)
                    } else {
                        (output + at).update(from: src, count: plane)
                    }
                }
            }
            n0 += images
        }
    }

    /// Packs rows `pc..<pc+kc`, columns `col..<col+cols` (cols <= NR) of the im2col matrix of
    /// the input planes at `x` (row (c, k, l), column (y, x) = in[c, y·sH − pT + k·dH,
    /// x·sW − pL + l·dW], 0 in the padding) into one NR-wide GEMM panel: row `p` at `p·NR`,
    /// zeros past `cols`. The columns of one output row are a run: a contiguous copy with
    /// stride 1, zeros where the taps fall in the padding. Columns past OH·OW continue in the
    /// next image, whose planes start `imageStride` floats further (several images' matrices
    /// side by side, for one GEMM over a batch of small maps). Output rows narrower than a
    /// tile, and strides of 1 or 2 along W, go by table instead
    /// (``packIm2colTileByTable(_:_:pc:kc:col:cols:into:imageStride:)``), and a 1×1 kernel
    /// with stride 1 and no padding copies its planes run by run
    /// (``packPointwiseTile(_:_:pc:kc:col:cols:into:imageStride:)``).
    static func packIm2colTile(_ g: Conv2DGeometry, _ x: UnsafePointer<Float>, pc: Int, kc: Int, col: Int, cols: Int,
                               into dst: UnsafeMutablePointer<Float>, imageStride: Int = 0) {
        if isPointwise(g) {
            packPointwiseTile(g, x, pc: pc, kc: kc, col: col, cols: cols, into: dst, imageStride: imageStride)
            return
        }
        if im2colByTable(g, images: (col + max(cols, 1) - 1) / max(g.outPlane, 1) + 1, imageStride: imageStride) {
            packIm2colTileByTable(g, x, pc: pc, kc: kc, col: col, cols: cols, into: dst, imageStride: imageStride)
            return
        }
        let nr = gemmNR
        let kh = g.kernelHeight, kw = g.kernelWidth, oh = g.outHeight, ow = g.outWidth
        let ih = g.inHeight, iw = g.inWidth
        let sh = g.stride.h, sw = g.stride.w
        let taps = kh * kw
        let image0 = col / g.outPlane, rest = col % g.outPlane
        // Floats of one image's channels of this group: a stride-2 gather may read up to the
        // end of them (past its run, never past the image's last channel).
        let groupFloats = g.inChannelsPerGroup * g.inPlane
        var c = pc / taps
        var ki = (pc % taps) / kw, kj = pc % kw
        for p in 0..<kc {
            let d = dst + p * nr
            var image = x + image0 * imageStride
            var plane = image + c * g.inPlane
            // Output columns ox with 0 <= ox·sW + off < W are x0..<x1 (as in im2col).
            let off = kj * g.dilation.w - g.padding.left
            let inside = Conv2DGeometry.outputsInside(offset: off, input: iw, stride: sw, outputs: ow)
            let x0 = inside.lowerBound, x1 = inside.upperBound
            var q = 0, oy = rest / ow, ox = rest % ow
            while q < cols {
                let run = min(cols - q, ow - ox)
                let iy = oy * sh - g.padding.top + ki * g.dilation.h
                let out = d + q
                if iy < 0 || iy >= ih {
                    out.update(repeating: 0, count: run)
                } else {
                    // Run-relative range inside the input row.
                    let r0 = min(run, max(0, x0 - ox)), r1 = max(r0, min(run, x1 - ox))
                    if r0 > 0 { out.update(repeating: 0, count: r0) }
                    let src = plane + iy * iw + off
                    if sw == 1 {
                        copyRun(out + r0, src + ox + r0, r1 - r0)
                    } else if sw == 2 {
                        gatherStride2(out + r0, src + 2 * (ox + r0), r1 - r0, readEnd: image + groupFloats)
                    } else {
                        var s = src + (ox + r0) * sw
                        for r in r0..<r1 {
                            out[r] = s.pointee
                            s += sw
                        }
                    }
                    if r1 < run { (out + r1).update(repeating: 0, count: run - r1) }
                }
                q += run
                ox = 0
                oy += 1
                if oy == oh {
                    oy = 0
                    plane += imageStride
                    image += imageStride
                }
            }
            if cols < nr { (d + cols).update(repeating: 0, count: nr - cols) }
            kj += 1
            if kj == kw {
                kj = 0
                ki += 1
                if ki == kh { ki = 0; c += 1 }
            }
        }
    }

    /// Most kernel taps (KH·KW) for the table-driven packing of
    /// ``packIm2colTileByTable(_:_:pc:kc:col:cols:into:imageStride:)`` (its per-call table of
    /// taps × NR indices lives on the stack).
    static let im2colTableMaxTaps = 64

    /// ``packIm2colTile(_:_:pc:kc:col:cols:into:imageStride:)`` for a 1×1 kernel with stride 1
    /// and no padding, whose im2col matrix is the input itself: row c of the block is channel
    /// c's plane, column q its element q. A tile's columns are one contiguous run per image
    /// they cross, copied as they are (the batched GEMM over small maps, where the general
    /// packing by segments took 40% of a 512 → 64 1×1 layer on 14×14 at batch 8). Each row
    /// also prefetches the next tile's part of the row (``prefetchNextTileRow(_:)``), as
    /// ``packBTile(kc:cols:b:ldb:into:)`` does (this packing was 24% of a 1024 → 256 layer on
    /// 14×14 at batch 8 without it).
    static func packPointwiseTile(_ g: Conv2DGeometry, _ x: UnsafePointer<Float>, pc: Int, kc: Int, col: Int, cols: Int,
                                  into dst: UnsafeMutablePointer<Float>, imageStride: Int) {
        for p in 0..<kc {
            copyPointwiseRow(g, x, row: pc + p, col: col, cols: cols, into: dst + p * gemmNR, imageStride: imageStride) { src, _ in
                // The next tile's part of this row (prefetchNextTileRow, as packBTile does).
                prefetchNextTileRow(UnsafeRawPointer(src))
            }
        }
    }

    /// Row `row` (a channel of the group) of a 1×1 tile: columns `col ..< col + cols` of the
    /// im2col matrix, one run per image they cross, into `d`, zeros up to NR. `ahead(src,
    /// run)` runs before each run's copy (the caller's prefetch).
    @inline(__always)
    static func copyPointwiseRow(_ g: Conv2DGeometry, _ x: UnsafePointer<Float>, row: Int, col: Int, cols: Int,
                                 into d: UnsafeMutablePointer<Float>, imageStride: Int,
                                 _ ahead: (UnsafePointer<Float>, Int) -> Void) {
        let plane = g.inPlane
        var q = 0, image = col / plane, rest = col % plane
        while q < cols {
            let run = min(cols - q, plane - rest)
            let src = x + image * imageStride + row * plane + rest
            ahead(src, run)
            copyFloats(d + q, src, run)
            q += run
            rest = 0
            image += 1
        }
        if cols < gemmNR { (d + cols).update(repeating: 0, count: gemmNR - cols) }
    }

    /// Whether `g`'s im2col matrix is its input (a 1×1 kernel, stride 1, no padding; with
    /// groups, the group's planes): ``packPointwiseTile(_:_:pc:kc:col:cols:into:imageStride:)``'s case.
    @inline(__always)
    static func isPointwise(_ g: Conv2DGeometry) -> Bool {
        g.kernelHeight == 1 && g.kernelWidth == 1 && g.stride == Size2D(1) && g.padding == Padding2D(0)
    }

    /// ``packPointwiseTile(_:_:pc:kc:col:cols:into:imageStride:)`` for `tiles` consecutive
    /// tiles from column `col` (of `n`), tile `t` at `dst + t·kc·NR`, row by row across the
    /// tiles: each of the `kc` channel rows is read once from left to right, so the hardware
    /// prefetchers follow it, where tile by tile a tile's rows are a plane apart and every
    /// row waits on memory (the A-panel-outer order's first panel packs a whole group of
    /// tiles at once). Each run also prefetches its lines two channel rows down, where the
    /// prefetchers' runway is short (runs end at every image's plane: 196 floats on 14×14).
    /// The same values at the same places as tile by tile. A 1024 → 256 layer on 14×14 at
    /// batch 8, 1 thread, AVX-512 build on an AMD EPYC (Zen 4): 0.96 of the time of tile by
    /// tile, and the prefetch another 0.96.
    static func packPointwiseGroup(_ g: Conv2DGeometry, _ x: UnsafePointer<Float>, pc: Int, kc: Int, col: Int,
                                   tiles: Int, n: Int, into dst: UnsafeMutablePointer<Float>, imageStride: Int) {
        let nr = gemmNR, plane = g.inPlane
        for p in 0..<kc {
            for t in 0..<tiles {
                let c0 = col + t * nr
                copyPointwiseRow(g, x, row: pc + p, col: c0, cols: max(0, min(nr, n - c0)), into: dst + t * kc * nr + p * nr,
                                 imageStride: imageStride) { src, run in
                    if p + 2 < kc {
                        var i = 0
                        while i < run { prefetch(UnsafeRawPointer(src + 2 * plane + i)); i += 16 }
                    }
                }
            }
        }
    }

    /// Whether ``packIm2colTile(_:_:pc:kc:col:cols:into:imageStride:)`` packs `g`'s tiles by
    /// table: output rows narrower than a tile (so that every tile spans several runs, each
    /// with its own bounds checks) or a stride of 1 or 2 along W (packed by pieces, whose
    /// bounds are worked out once per call instead of once per row: about 3× less packing time
    /// in a stride-2 3×3 layer on 56×56), at most ``im2colTableMaxTaps`` taps, and every
    /// index into the images' planes (up to `images` of them, `imageStride` apart) within
    /// Int32.
    @inline(__always)
    static func im2colByTable(_ g: Conv2DGeometry, images: Int, imageStride: Int) -> Bool {
        guard g.outWidth < gemmNR || g.stride.w <= 2, g.kernelHeight * g.kernelWidth <= im2colTableMaxTaps else {
            return false
        }
        let (span, o1) = max(images - 1, 0).multipliedReportingOverflow(by: max(imageStride, 0))
        let (total, o2) = span.addingReportingOverflow(g.inPlane)
        return !o1 && !o2 && total < Int(Int32.max)
    }

    /// ``packIm2colTile(_:_:pc:kc:col:cols:into:imageStride:)`` by table, for output rows
    /// narrower than a tile, or with a stride of 1 or 2 along W. Stride 1 or 2 along W with
    /// output rows of at least 4 columns go by pieces
    /// (``packIm2colTileByPieces(_:_:pc:kc:col:cols:into:imageStride:)``);
    /// other geometries by a table of one offset per tap and column: for each tap (k, l) and
    /// each of the tile's NR columns, the offset of its input pixel from the start of a
    /// channel's plane (the image's offset included), or a negative value where the tap falls
    /// in the padding or the column is past `cols`; computed once per call, then every row
    /// (channel c, tap) of the block is NR loads at those offsets from channel c's plane, with
    /// 0 where the offset is negative. Either way the same values as the run-by-run packing
    /// (copies).
    static func packIm2colTileByTable(_ g: Conv2DGeometry, _ x: UnsafePointer<Float>, pc: Int, kc: Int, col: Int,
                                      cols: Int, into dst: UnsafeMutablePointer<Float>, imageStride: Int) {
        if (g.stride.w == 1 || g.stride.w == 2) && g.outWidth >= im2colPieceMinWidth {
            packIm2colTileByPieces(g, x, pc: pc, kc: kc, col: col, cols: cols, into: dst, imageStride: imageStride)
            return
        }
        let nr = gemmNR
        let kh = g.kernelHeight, kw = g.kernelWidth, ow = g.outWidth, outPlane = g.outPlane
        let ih = g.inHeight, iw = g.inWidth
        let taps = kh * kw
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: taps * nr) { buffer in
            guard let table = buffer.baseAddress else { return }
            for q in 0..<nr {
                if q >= cols {
                    for t in 0..<taps { table[t * nr + q] = -1 }
                    continue
                }
                let column = col + q
                let image = column / outPlane, r = column % outPlane
                let y0 = (r / ow) * g.stride.h - g.padding.top
                let x0 = (r % ow) * g.stride.w - g.padding.left
                let base = image * imageStride
                for k in 0..<kh {
                    let iy = y0 + k * g.dilation.h
                    for l in 0..<kw {
                        let ix = x0 + l * g.dilation.w
                        let inside = iy >= 0 && iy < ih && ix >= 0 && ix < iw
                        table[(k * kw + l) * nr + q] = inside ? Int32(truncatingIfNeeded: base + iy * iw + ix) : -1
                    }
                }
            }
            var c = pc / taps, t = pc % taps
            for p in 0..<kc {
                let d = dst + p * nr
                let plane = x + c * g.inPlane
                let row = table + t * nr
                for q in 0..<nr {
                    let i = row[q]
                    // The load at a clamped offset (plane[0] for the padding) keeps the loop branch-free.
                    let v = plane[Int(max(i, 0))]
                    d[q] = i < 0 ? 0 : v
                }
                t += 1
                if t == taps {
                    t = 0
                    c += 1
                }
            }
        }
    }

    /// Narrowest output rows packed by pieces: below it a tile holds so many runs that one
    /// vector per run costs more than the per-column table.
    static let im2colPieceMinWidth = 4

    /// Most pieces in one 16-column chunk of a tap's row: output rows of at least
    /// ``im2colPieceMinWidth`` columns cut 16 columns at most 5 times.
    static let im2colPiecesPerChunk = 16 / im2colPieceMinWidth + 1

    /// One piece of a 16-column chunk of a tap's row in an im2col tile: the chunk's lanes
    /// `lo..<hi` (0 <= lo < hi <= 16) lie in one output row and read the input; lane j reads
    /// the pixel `offset + j·sW` floats from the start of a channel's plane (the image's offset
    /// included). Lanes outside every piece of a chunk are 0 (padding, a tap row outside the
    /// image, columns past the tile's `cols`).
    struct Im2colPiece {
        var offset: Int
        var lo: Int32
        var hi: Int32
    }

    /// ``packIm2colTileByTable(_:_:pc:kc:col:cols:into:imageStride:)`` for stride 1 or 2 along
    /// W: each tap's NR columns are cut once per call into 16-column chunks, and each chunk
    /// into pieces (``Im2colPiece``: lanes of one output row that read the input). Then each
    /// row (channel, tap) of the block is, per chunk, one 16-lane load per piece from the
    /// channel's plane (32 floats with the even lanes kept for stride 2), masked to the
    /// piece's lanes and OR-ed together, and one store: no store leaves its chunk, and no
    /// per-row bounds arithmetic. A load that would leave the input planes this call reads
    /// (near the first or last pixels of the tensor) goes lane by lane. The values are those
    /// of the run-by-run packing: copies and zeros.
    static func packIm2colTileByPieces(_ g: Conv2DGeometry, _ x: UnsafePointer<Float>, pc: Int, kc: Int,
                                         col: Int, cols: Int, into dst: UnsafeMutablePointer<Float>,
                                         imageStride: Int) {
        typealias V = SIMD16<Float>
        typealias M = SIMD16<UInt32>
        let vl = V.scalarCount
        let nr = gemmNR
        let chunks = nr / vl
        let perChunk = im2colPiecesPerChunk
        let kh = g.kernelHeight, kw = g.kernelWidth, ow = g.outWidth, outPlane = g.outPlane
        let ih = g.inHeight, iw = g.inWidth, sw = g.stride.w
        let taps = kh * kw
        // The input floats this call may read: the planes of its channels in its images.
        let image0 = col / outPlane, imageLast = (col + max(cols, 1) - 1) / outPlane
        let cStart = pc / taps, cEnd = (pc + kc - 1) / taps + 1
        let lowest = x + image0 * imageStride + cStart * g.inPlane
        let highest = x + imageLast * imageStride + cEnd * g.inPlane
        let span = sw == 1 ? vl : 2 * vl
        // One stack buffer for the call: the pieces of every tap's chunks, the lane masks,
        // and each chunk's piece count.
        let lists = taps * chunks
        let pieceBytes = lists * perChunk * MemoryLayout<Im2colPiece>.stride
        let bitsBytes = 3 * vl * MemoryLayout<UInt32>.stride
        let countBytes = lists * MemoryLayout<Int32>.stride
        withUnsafeTemporaryAllocation(byteCount: pieceBytes + bitsBytes + countBytes, alignment: 64) { buffer in
            guard let base = buffer.baseAddress else { return }
            let pieces = base.bindMemory(to: Im2colPiece.self, capacity: lists * perChunk)
            let bits = (base + pieceBytes).bindMemory(to: UInt32.self, capacity: 3 * vl)
            let count = (base + pieceBytes + bitsBytes).bindMemory(to: Int32.self, capacity: lists)
            // 16 zeros, 16 ones, 16 zeros: the 16 entries from 16 − a are the lanes >= a, the
            // 16 from 32 − b the lanes < b (an AND of vectors: the SIMD comparisons with a
            // scalar compile lane by lane).
            bits.initialize(repeating: 0, count: vl)
            (bits + vl).initialize(repeating: ~0, count: vl)
            (bits + 2 * vl).initialize(repeating: 0, count: vl)
            let bitsRaw = UnsafeRawPointer(bits)
            @inline(__always) func mask(_ lo: Int32, _ hi: Int32) -> M {
                bitsRaw.loadUnaligned(fromByteOffset: 4 * (vl - Int(lo)), as: M.self)
                    & bitsRaw.loadUnaligned(fromByteOffset: 4 * (2 * vl - Int(hi)), as: M.self)
            }
            for i in 0..<lists { count[i] = 0 }
            for k in 0..<kh {
                for l in 0..<kw {
                    let t = k * kw + l
                    // Runs of the tile's columns along output rows, each cut at the chunks'
                    // edges; the columns of a run that read the input become a piece.
                    var q = 0
                    while q < cols {
                        let column = col + q
                        let image = column / outPlane, r = column % outPlane
                        let oy = r / ow, ox = r % ow
                        let chunk = q / vl
                        let length = min(vl * (chunk + 1), cols, q + ow - ox) - q
                        let iy = oy * g.stride.h - g.padding.top + k * g.dilation.h
                        let ix0 = ox * sw - g.padding.left + l * g.dilation.w
                        if iy >= 0 && iy < ih {
                            // Columns j of the run with 0 <= ix0 + j·sW < W.
                            let v0 = ix0 >= 0 ? 0 : min(length, (-ix0 + sw - 1) / sw)
                            let v1 = ix0 >= iw ? v0 : max(v0, min(length, (iw - 1 - ix0) / sw + 1))
                            if v0 < v1 {
                                let list = t * chunks + chunk
                                let lane = q - chunk * vl
                                pieces[list * perChunk + Int(count[list])] =
                                    Im2colPiece(offset: image * imageStride + iy * iw + ix0 - lane * sw,
                                                lo: Int32(lane + v0), hi: Int32(lane + v1))
                                count[list] += 1
                            }
                        }
                        q += length
                    }
                }
            }
            var c = cStart, t = pc % taps
            for p in 0..<kc {
                let d = dst + p * nr
                let plane = x + c * g.inPlane
                for h in 0..<chunks {
                    let list = t * chunks + h
                    let first = pieces + list * perChunk
                    var acc = M(repeating: 0)
                    for s in 0..<Int(count[list]) {
                        let piece = first[s]
                        let src = plane + piece.offset
                        if src >= lowest && src + span <= highest {
                            let v = sw == 1 ? UnsafeRawPointer(src).loadUnaligned(as: V.self) : evenLanes(src)
                            acc |= unsafeBitCast(v, to: M.self) & mask(piece.lo, piece.hi)
                        } else {
                            var v = V(repeating: 0)
                            for j in Int(piece.lo)..<Int(piece.hi) { v[j] = src[j * sw] }
                            acc |= unsafeBitCast(v, to: M.self)
                        }
                    }
                    UnsafeMutableRawPointer(d + h * vl).storeBytes(of: unsafeBitCast(acc, to: V.self), as: V.self)
                }
                t += 1
                if t == taps {
                    t = 0
                    c += 1
                }
            }
        }
    }

    /// dst[i] = src[i] for i in 0..<count: vector moves of 16, then 8 and 4 floats, then single
    /// floats (the runs of an im2col tile are short, a few to a few dozen floats, where a
    /// `memmove` call costs more than the copy; a tile of 16 columns splits a 28-wide row into
    /// runs of 16, 12 and 4). Reads and writes stay inside the run.
    @inline(__always)
    static func copyRun(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ count: Int) {
        var i = 0
        while i + 16 <= count {
            UnsafeMutableRawPointer(dst + i).storeBytes(of: UnsafeRawPointer(src + i).loadUnaligned(as: SIMD16<Float>.self),
                                                        as: SIMD16<Float>.self)
            i += 16
        }
        if i + 8 <= count {
            UnsafeMutableRawPointer(dst + i).storeBytes(of: UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self),
                                                        as: SIMD8<Float>.self)
            i += 8
        }
        if i + 4 <= count {
            UnsafeMutableRawPointer(dst + i).storeBytes(of: UnsafeRawPointer(src + i).loadUnaligned(as: SIMD4<Float>.self),
                                                        as: SIMD4<Float>.self)
            i += 4
        }
        while i < count {
            dst[i] = src[i]
            i += 1
        }
    }

    /// dst[i] = src[2·i] for i in 0..<count (a stride-2 convolution's im2col run): 32 (then
    /// 16) consecutive floats loaded and their even lanes kept, then single floats. A vector
    /// load may read past the run's last pixel (src[2·(count − 1)]) but never at or past
    /// `readEnd`, the end of the memory the caller may read (the image's channels); only
    /// the run's own pixels are written.
    @inline(__always)
    static func gatherStride2(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ count: Int,
                              readEnd: UnsafePointer<Float>) {
        var i = 0
        // Lengths compared, not pointers formed past readEnd.
        let readable = readEnd - src
        while i + 16 <= count && 2 * i + 32 <= readable {
            UnsafeMutableRawPointer(dst + i).storeBytes(of: evenLanes(src + 2 * i), as: SIMD16<Float>.self)
            i += 16
        }
        if i + 8 <= count && 2 * i + 16 <= readable {
            UnsafeMutableRawPointer(dst + i).storeBytes(of: evenLanes8(src + 2 * i), as: SIMD8<Float>.self)
            i += 8
        }
        while i < count {
            dst[i] = src[2 * i]
            i += 1
        }
    }

    /// src[0], src[2], …, src[14] (reads src[0..<16]), as ``evenLanes(_:)``.
    @inline(__always)
    static func evenLanes8(_ src: UnsafePointer<Float>) -> SIMD8<Float> {
        #if _endian(little)
        let pairs = UnsafeRawPointer(src).loadUnaligned(as: SIMD8<UInt64>.self)
        return unsafeBitCast(SIMD8<UInt32>(truncatingIfNeeded: pairs), to: SIMD8<Float>.self)
        #else
        return UnsafeRawPointer(src).loadUnaligned(as: SIMD16<Float>.self).evenHalf
        #endif
    }

    /// src[0], src[2], …, src[30] (reads src[0..<32]): each pair of floats as one 64-bit lane,
    /// truncated to its low half (the even float on little-endian machines), which compiles
    /// to a few permutes, where `SIMD32.evenHalf` becomes 16 single-lane inserts.
    @inline(__always)
    static func evenLanes(_ src: UnsafePointer<Float>) -> SIMD16<Float> {
        #if _endian(little)
        let pairs = UnsafeRawPointer(src).loadUnaligned(as: SIMD16<UInt64>.self)
        return unsafeBitCast(SIMD16<UInt32>(truncatingIfNeeded: pairs), to: SIMD16<Float>.self)
        #else
        return UnsafeRawPointer(src).loadUnaligned(as: SIMD32<Float>.self).evenHalf
        #endif
    }

    /// ``im2col(_:_:_:channels:)`` with the input channels spread over the thread pool.
    static func im2colParallel(_ g: Conv2DGeometry, _ x: UnsafePointer<Float>, _ cols: UnsafeMutablePointer<Float>) {
        let cg = g.inChannelsPerGroup
        let rowsPerChannel = g.kernelHeight * g.kernelWidth * g.outPlane
        if cg < 2 || rowsPerChannel * cg < 1 << 15 {
            im2col(g, x, cols, channels: 0..<cg)
            return
        }
        let items = min(cg, Threading.numThreads * 4)
        Threading.parallelFor(items) { i in
            im2col(g, x, cols, channels: (cg * i / items)..<(cg * (i + 1) / items))
        }
    }

    /// Unrolls input planes `channels` of the `Cg` at `x` into their rows of `cols` `[Cg·KH·KW, OH·OW]`: row (c, k, l),
    /// column (y, x) holds in[c, y·sH − pT + k·dH, x·sW − pL + l·dW], or 0 in the padding.
    static func im2col(_ g: Conv2DGeometry, _ x: UnsafePointer<Float>, _ cols: UnsafeMutablePointer<Float>,
                       channels: Range<Int>) {
        let kh = g.kernelHeight, kw = g.kernelWidth
        let oh = g.outHeight, ow = g.outWidth
        let ih = g.inHeight, iw = g.inWidth
        let sh = g.stride.h, sw = g.stride.w
        var row = cols + channels.lowerBound * kh * kw * oh * ow
        for c in channels {
            let plane = x + c * g.inPlane
            for k in 0..<kh {
                for l in 0..<kw {
                    // Columns x0..<x1 read inside the input: 0 <= x·sW + off < W.
                    let off = l * g.dilation.w - g.padding.left
                    let inside = Conv2DGeometry.outputsInside(offset: off, input: iw, stride: sw, outputs: ow)
                    let x0 = inside.lowerBound, x1 = inside.upperBound
                    for yo in 0..<oh {
                        let dst = row + yo * ow
                        let iy = yo * sh - g.padding.top + k * g.dilation.h
                        if iy < 0 || iy >= ih {
                            dst.update(repeating: 0, count: ow)
                            continue
                        }
                        if x0 > 0 { dst.update(repeating: 0, count: x0) }
                        let src = plane + iy * iw + off
                        if sw == 1 {
                            copyFloats(dst + x0, src + x0, x1 - x0)
                        } else {
                            for xo in x0..<x1 { dst[xo] = src[xo * sw] }
                        }
                        if x1 < ow { (dst + x1).update(repeating: 0, count: ow - x1) }
                    }
                    row += oh * ow
                }
            }
        }
    }
}
