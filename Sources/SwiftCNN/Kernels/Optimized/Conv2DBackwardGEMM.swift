// Backward of the 2-D convolution as GEMMs (the optimized path of conv2dBackward):
//
//     dW_g  = dY_g · im2col(X_g)ᵀ       im2col(X_g) [Cg·KH·KW, images·OH·OW]
//     dX_g  = col2im(W_gᵀ · dY_g)       W_gᵀ [Cg·KH·KW, O/groups]
//          or row2im(dY_gᵀ · W_g)       when a chunk has fewer output pixels than patch entries
//
// per group, over chunks of images (as many as fit in 16 MiB of unrolled patches, or one
// image when its feature map is large, >= convBackwardImagePlane pixels): a
// chunk's output gradients are gathered into one [O/groups, images·OH·OW] matrix and its
// patches into one [Cg·KH·KW, images·OH·OW] matrix, so that small feature maps still make
// long products. dW's product runs as dot products of those long rows (gemmNT); for small
// feature maps, as a GEMM over the patches laid out as rows.
// The chunk size depends only on the geometry (never on the thread count), the GEMM's
// per-element summation order is fixed, and the parallel helpers below write disjoint
// memory with fixed per-element orders: results are bitwise identical for every thread count.

extension Optimized {
    /// Floats of scratch a chunk of images may use for its unrolled patches (16 MiB).
    static let convBackwardChunkFloats = 1 << 22

    /// From this many output pixels per image on, the weight gradient is taken by dot
    /// products (``gemmNT(m:n:k:a:lda:b:ldb:c:ldc:accumulate:)``) over im2col's rows; below
    /// it (small feature maps: short rows to gather), by a GEMM over the patches as rows.
    /// (Measured side by side on LeNet-5 and ResNet-18-at-32×32 shapes, noisy shared
    /// machine: dot products won 2–3× from 64 pixels up, the GEMM 1.4–5× at 16 and 1.)
    static let convBackwardDotPlane = 32

    /// From this many output pixels per image on, images go one at a time (their rows are
    /// long enough; gathering a chunk would only copy). Measured as above: 0.45 ms against
    /// 1.1 ms for LeNet's C1 at batch 64 (784 pixels), the chunk won at 100 and 256.
    static let convBackwardImagePlane = 512

    /// Weight and (optionally) input gradients of the convolution `g` (bias: see ``channelSum(_:batch:channels:spatial:into:)``).
    ///
    /// - input: `[N, C, H, W]`; weight: `[O, Cg, KH, KW]`; gradOutput: `[N, O, OH, OW]`
    /// - gradWeight: `[O, Cg, KH, KW]`, every element written
    /// - gradInput: `[N, C, H, W]`, every element written, or nil to skip
    /// - dotPlane, imagePlane: the ``convBackwardDotPlane`` and ``convBackwardImagePlane``
    ///   thresholds (tests move them to take every path)
    /// - allowDepthwise: a depthwise geometry (``depthwiseApplies(_:)``) runs the direct
    ///   depthwise kernel (``depthwiseConv2dBackward(_:input:weight:gradOutput:gradWeight:gradInput:)``)
    ///   instead of one tiny GEMM per channel; false (tests, benchmarks) forces the GEMMs
    /// - Throws: ``SwiftCNNError/Kind/outOfMemory`` when scratch memory cannot be had.
    static func conv2dBackward(_ g: Conv2DGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               gradOutput: UnsafePointer<Float>, gradWeight: UnsafeMutablePointer<Float>,
                               gradInput: UnsafeMutablePointer<Float>?, dotPlane: Int = convBackwardDotPlane,
                               imagePlane: Int = convBackwardImagePlane, allowDepthwise: Bool = true) throws {
        if let (cut, rows, columns) = g.liveWindow {
            // Only a window of the kernel ever reads the input: the gradients of the cut
            // convolution, and zeros for the taps outside the window (they read only padding).
            let w = try windowWeights(g, cut: cut, rows: rows, columns: columns, weight: weight)
            let dw = try ScratchBuffer(count: w.count)
            try conv2dBackward(cut, input: input, weight: w.pointer, gradOutput: gradOutput, gradWeight: dw.pointer,
                               gradInput: gradInput, dotPlane: dotPlane, imagePlane: imagePlane, allowDepthwise: allowDepthwise)
            scatterWindow(dw.pointer, kernels: g.outChannels * g.inChannelsPerGroup, height: g.kernelHeight,
                          width: g.kernelWidth, rows: rows, columns: columns, into: gradWeight)
            withExtendedLifetime((w, dw)) {}
            return
        }
        // A single input channel (a network's first layer on gray images, LeNet-5's C1) is
        // one "depthwise" channel: the direct kernel would run it on one thread, while the
        // GEMM path below spreads its images' dot products.
        if allowDepthwise && depthwiseApplies(g) && !(g.inChannels == 1 && g.groups == 1) {
            try depthwiseConv2dBackward(g, input: input, weight: weight, gradOutput: gradOutput, gradWeight: gradWeight,
                                        gradInput: gradInput)
            return
        }
        let og = g.outChannelsPerGroup, patch = g.patchSize, plane = g.outPlane
        let taps = g.kernelHeight * g.kernelWidth
        let perImage = try Checked.mul(plane, max(patch, og), "conv2dBackward scratch size")
        let chunk = plane >= imagePlane ? 1 : max(1, min(g.batch, convBackwardChunkFloats / max(perImage, 1)))
        let cols = try ScratchBuffer(count: try Checked.mul(chunk, perImage, "conv2dBackward scratch size"))
        let dys: ScratchBuffer? = chunk == 1 ? nil
            : try ScratchBuffer(count: try Checked.mul(try Checked.mul(chunk, plane), og, "conv2dBackward scratch size"))
        // One image's im2col, when a chunk holds several.
        let single: ScratchBuffer? = chunk == 1 ? nil : try ScratchBuffer(count: try Checked.mul(patch, plane))
        // dX: with fewer output pixels per chunk than patch entries, as rows: dXrows = dYᵀ · W
        // ([pixels, og] · [og, patch]) scattered back by row2im; otherwise as columns:
        // dXcols = Wᵀ · dY ([patch, og] · [og, pixels]) scattered back by col2im. Either way the
        // smaller operand is the one transposed.
        let rowsForm = chunk * plane < patch
        let flip = g.flipKernel && taps > 1
        // Wᵀ of one group, [patch, og] (columns form), or W flipped, [og, patch] (rows form
        // of a true convolution), the kernel flipped for true convolution.
        let wt: ScratchBuffer? = gradInput == nil || (rowsForm && !flip) ? nil : try ScratchBuffer(count: try Checked.mul(patch, og))
        // dYᵀ of a chunk, [pixels, og] (rows form).
        let dyT: ScratchBuffer? = gradInput == nil || !rowsForm ? nil
            : try ScratchBuffer(count: try Checked.mul(try Checked.mul(chunk, plane), og, "conv2dBackward scratch size"))
        if let gradInput {
            gradInput.update(repeating: 0, count: g.batch * g.inChannels * g.inPlane)
        }
        for grp in 0..<g.groups {
            let dwg = gradWeight + grp * og * patch
            if let wt, rowsForm {
                let w = weight + grp * og * patch
                for kernel in 0..<(og * g.inChannelsPerGroup) {
                    for t in 0..<taps { wt.pointer[kernel * taps + t] = w[kernel * taps + taps - 1 - t] }
                }
            } else if let wt {
                // In 16×16 tiles, so that both the reads and the writes stay in cache; bands
                // of 16 rows spread over threads.
                let w = weight + grp * og * patch
                let bands = (patch + 15) / 16
                parallelCopy(bands, floats: patch * og) { band in
                    let r0 = band * 16, r1 = min(patch, r0 + 16)
                    var o0 = 0
                    while o0 < og {
                        let o1 = min(og, o0 + 16)
                        for r in r0..<r1 {
                            let t = r % taps
                            let src = g.flipKernel ? r - t + (taps - 1 - t) : r
                            for o in o0..<o1 { wt.pointer[r * og + o] = w[o * patch + src] }
                        }
                        o0 = o1
                    }
                }
            }
            var n0 = 0
            while n0 < g.batch {
                let nb = min(chunk, g.batch - n0)
                let width = nb * plane
                // dY of the chunk's images for this group: [og, nb·plane].
                let dy: UnsafePointer<Float>
                if let dys, nb > 1 {
                    parallelCopy(og, floats: og * width) { o in
                        for i in 0..<nb {
                            let src = gradOutput + ((n0 + i) * g.outChannels + grp * og + o) * plane
                            (dys.pointer + o * width + i * plane).update(from: src, count: plane)
                        }
                    }
                    dy = UnsafePointer(dys.pointer)
                } else {
                    dy = gradOutput + (n0 * g.outChannels + grp * og) * plane
                }
                if plane >= dotPlane {
                    // The chunk's patches as columns, [patch, nb·plane]; dW = dY · colsᵀ by dot products.
                    for i in 0..<nb {
                        let x = input + ((n0 + i) * g.inChannels + grp * g.inChannelsPerGroup) * g.inPlane
                        if let single, nb > 1 {
                            im2colParallel(g, x, single.pointer)
                            parallelCopy(patch, floats: patch * plane) { r in
                                (cols.pointer + r * width + i * plane).update(from: single.pointer + r * plane, count: plane)
                            }
                        } else {
                            im2colParallel(g, x, cols.pointer)
                        }
                    }
                    gemmNT(m: og, n: patch, k: width, a: dy, lda: width, b: cols.pointer, ldb: width,
                           c: dwg, ldc: patch, accumulate: n0 > 0)
                } else {
                    // Few output pixels in all: the patches as rows, [nb·plane, patch]; dW = dY · rows.
                    im2rowParallel(g, input, images: n0..<(n0 + nb), group: grp, rows: cols.pointer)
                    gemm(m: og, n: patch, k: width, a: dy, lda: width, b: cols.pointer, ldb: patch,
                         c: dwg, ldc: patch, accumulate: n0 > 0)
                }
                if let gradInput, let dyT {
                    // dYᵀ in bands of 16 pixels (the reads of a band stay in cache), spread over threads.
                    parallelCopy((width + 15) / 16, floats: width * og) { band in
                        let q0 = band * 16, q1 = min(width, q0 + 16)
                        for o in 0..<og {
                            for q in q0..<q1 { dyT.pointer[q * og + o] = dy[o * width + q] }
                        }
                    }
                    let w = wt.map { UnsafePointer($0.pointer) } ?? weight + grp * og * patch
                    gemm(m: width, n: patch, k: og, a: dyT.pointer, lda: og, b: w, ldb: patch,
                         c: cols.pointer, ldc: patch, accumulate: false)
                    row2imParallel(g, cols.pointer, images: n0..<(n0 + nb), group: grp, gradInput: gradInput)
                } else if let gradInput, let wt {
                    gemm(m: patch, n: width, k: og, a: wt.pointer, lda: og, b: dy, ldb: width,
                         c: cols.pointer, ldc: width, accumulate: false)
                    col2imParallel(g, cols.pointer, ldc: width, images: n0..<(n0 + nb), group: grp, gradInput: gradInput)
                }
                n0 += nb
            }
        }
        if g.flipKernel && taps > 1 {
            // The GEMM computed the gradient of the flipped kernel: flip it back.
            for kernel in 0..<(g.outChannels * g.inChannelsPerGroup) {
                let p = gradWeight + kernel * taps
                var a = 0, b = taps - 1
                while a < b {
                    let t = p[a]; p[a] = p[b]; p[b] = t
                    a += 1; b -= 1
                }
            }
        }
        withExtendedLifetime((cols, dys, single, wt, dyT)) {}
    }

    /// Runs `body` for every index in `0..<count`, spread over ``Threading``'s threads when
    /// the copy moves at least 2^15 floats in all (below that a hand-off costs more than the
    /// copy). For copies and transposes whose indices write disjoint memory: the result is the
    /// same for every thread count.
    static func parallelCopy(_ count: Int, floats: Int, _ body: (Int) -> Void) {
        let threads = Threading.numThreads
        if threads < 2 || count < 2 || floats < 1 << 15 {
            for index in 0..<count { body(index) }
            return
        }
        let parts = min(count, threads * 4)
        Threading.parallelFor(parts) { part in
            for index in (count * part / parts)..<(count * (part + 1) / parts) { body(index) }
        }
    }

    /// The unrolled patches of `images` (group `group`) as rows: row (i, y, x) of `rows`
    /// `[images·OH·OW, Cg·KH·KW]` holds, at column (c, k, l), in[n0+i, group·Cg + c,
    /// y·sH − pT + k·dH, x·sW − pL + l·dW], or 0 in the padding. Output rows spread over threads.
    static func im2rowParallel(_ g: Conv2DGeometry, _ input: UnsafePointer<Float>, images: Range<Int>, group: Int,
                               rows: UnsafeMutablePointer<Float>) {
        let oh = g.outHeight
        let total = images.count * oh
        let work = total * g.outWidth * g.patchSize
        let items = work < 1 << 15 ? 1 : min(total, Threading.numThreads * 4)
        Threading.parallelFor(items) { item in
            for r in (total * item / items)..<(total * (item + 1) / items) {
                let i = r / oh, y = r % oh
                im2rowLine(g, input + ((images.lowerBound + i) * g.inChannels + group * g.inChannelsPerGroup) * g.inPlane,
                           y: y, rows: rows + (i * g.outPlane + y * g.outWidth) * g.patchSize)
            }
        }
    }

    /// The rows of output line `y` of one image (`x`: the group's first input plane).
    @inline(__always)
    static func im2rowLine(_ g: Conv2DGeometry, _ x: UnsafePointer<Float>, y: Int, rows: UnsafeMutablePointer<Float>) {
        let kh = g.kernelHeight, kw = g.kernelWidth, cg = g.inChannelsPerGroup
        let iw = g.inWidth, ih = g.inHeight
        let patch = g.patchSize
        for xo in 0..<g.outWidth {
            let dst = rows + xo * patch
            let ix0 = xo * g.stride.w - g.padding.left
            var j = 0
            for c in 0..<cg {
                let plane = x + c * g.inPlane
                for k in 0..<kh {
                    let iy = y * g.stride.h - g.padding.top + k * g.dilation.h
                    if iy < 0 || iy >= ih {
                        (dst + j).update(repeating: 0, count: kw)
                        j += kw
                        continue
                    }
                    let line = plane + iy * iw
                    for l in 0..<kw {
                        let ix = ix0 + l * g.dilation.w
                        dst[j] = ix >= 0 && ix < iw ? line[ix] : 0
                        j += 1
                    }
                }
            }
        }
    }

    /// Adds the row matrix `rows` (`[images·OH·OW, Cg·KH·KW]`, the layout of
    /// ``im2rowParallel(_:_:images:group:rows:)``) back onto the input planes of `images`,
    /// group `group`: entry (i, y, x; c, k, l) is added to gradInput[n0+i, group·Cg + c,
    /// y·sH − pT + k·dH, x·sW − pL + l·dW] when inside the input. Work items are whole
    /// (image, channel) planes, each summed in a fixed order.
    static func row2imParallel(_ g: Conv2DGeometry, _ rows: UnsafePointer<Float>, images: Range<Int>, group: Int,
                               gradInput: UnsafeMutablePointer<Float>) {
        let cg = g.inChannelsPerGroup, kh = g.kernelHeight, kw = g.kernelWidth
        let patch = g.patchSize
        let total = images.count * cg
        let work = total * kh * kw * g.outPlane
        let items = work < 1 << 15 ? 1 : min(total, Threading.numThreads * 4)
        Threading.parallelFor(items) { item in
            for r in (total * item / items)..<(total * (item + 1) / items) {
                let i = r / cg, c = r % cg
                let dst = gradInput + ((images.lowerBound + i) * g.inChannels + group * cg + c) * g.inPlane
                let src = rows + i * g.outPlane * patch + c * kh * kw
                for y in 0..<g.outHeight {
                    for x in 0..<g.outWidth {
                        let row = src + (y * g.outWidth + x) * patch
                        for k in 0..<kh {
                            let iy = y * g.stride.h - g.padding.top + k * g.dilation.h
                            if iy < 0 || iy >= g.inHeight { continue }
                            for l in 0..<kw {
                                let ix = x * g.stride.w - g.padding.left + l * g.dilation.w
                                if ix < 0 || ix >= g.inWidth { continue }
                                dst[iy * g.inWidth + ix] += row[k * kw + l]
                            }
                        }
                    }
                }
            }
        }
    }

    /// Adds the column matrix `cols` (`[Cg·KH·KW, images·OH·OW]`, row stride `ldc`) back onto
    /// the input planes of `images`, group `group`: each entry (c, k, l; i, y, x) is added to
    /// gradInput[n0+i, group·Cg + c, y·sH − pT + k·dH, x·sW − pL + l·dW] when inside the input.
    /// Work items are whole (image, channel) planes, each summed in a fixed order.
    static func col2imParallel(_ g: Conv2DGeometry, _ cols: UnsafePointer<Float>, ldc: Int, images: Range<Int>, group: Int,
                               gradInput: UnsafeMutablePointer<Float>) {
        let cg = g.inChannelsPerGroup
        let total = images.count * cg
        let work = total * g.kernelHeight * g.kernelWidth * g.outPlane
        let items = work < 1 << 15 ? 1 : min(total, Threading.numThreads * 4)
        Threading.parallelFor(items) { item in
            for r in (total * item / items)..<(total * (item + 1) / items) {
                let i = r / cg, c = r % cg
                let dst = gradInput + ((images.lowerBound + i) * g.inChannels + group * cg + c) * g.inPlane
                col2imPlane(g, cols + c * g.kernelHeight * g.kernelWidth * ldc + i * g.outPlane, ldc: ldc, into: dst)
            }
        }
    }

    /// One input plane's share of ``col2imParallel(_:_:ldc:images:group:gradInput:)``:
    /// `cols` points at the plane's first row (row (k, l) at `cols + (k·KW + l)·ldc`).
    static func col2imPlane(_ g: Conv2DGeometry, _ cols: UnsafePointer<Float>, ldc: Int, into plane: UnsafeMutablePointer<Float>) {
        let kw = g.kernelWidth, ow = g.outWidth, iw = g.inWidth, sw = g.stride.w
        for k in 0..<g.kernelHeight {
            for l in 0..<kw {
                let row = cols + (k * kw + l) * ldc
                let off = l * g.dilation.w - g.padding.left
                let inside = Conv2DGeometry.outputsInside(offset: off, input: iw, stride: sw, outputs: ow)
                let x0 = inside.lowerBound, x1 = inside.upperBound
                for yo in 0..<g.outHeight {
                    let iy = yo * g.stride.h - g.padding.top + k * g.dilation.h
                    if iy < 0 || iy >= g.inHeight { continue }
                    let src = row + yo * ow
                    let dst = plane + iy * iw + off
                    if sw == 1 {
                        if x1 > x0 { addInPlace(dst + x0, src + x0, x1 - x0) }
                    } else {
                        for xo in x0..<x1 { dst[xo * sw] += src[xo] }
                    }
                }
            }
        }
    }

    /// db[c] = Σ_{n,s} dY[n,c,s] for dY `[batch, channels, spatial]` (a bias gradient):
    /// 16-lane float partial sums per image plane, planes added in batch order; channels
    /// spread over threads when large.
    static func channelSum(_ gradOutput: UnsafePointer<Float>, batch: Int, channels: Int, spatial: Int,
                           into gradBias: UnsafeMutablePointer<Float>) {
        let work = batch * channels * spatial
        let items = work < 1 << 16 ? 1 : min(channels, Threading.numThreads * 4)
        Threading.parallelFor(items) { item in
            for c in (channels * item / items)..<(channels * (item + 1) / items) {
                var total: Float = 0
                for n in 0..<batch { total += sum(gradOutput + (n * channels + c) * spatial, spatial) }
                gradBias[c] = total
            }
        }
    }

    /// Σ p[i] for i < n in float: 16-lane partial sums, then a scalar tail; fixed order.
    @inline(__always)
    static func sum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD16<Float>()
        let raw = UnsafeRawPointer(p)
        var i = 0
        while i + 16 <= n {
            acc += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            i += 16
        }
        var tail: Float = 0
        while i < n {
            tail += p[i]
            i += 1
        }
        return acc.sum() + tail
    }
}

// MARK: - A · Bᵀ by dot products

extension Optimized {
    /// C (+)= A · Bᵀ for A `m × k` (row i at `a + i·lda`) and B `n × k` (row j at `b + j·ldb`),
    /// C `m × n` (row i at `c + i·ldc`): every element is the dot product of two contiguous
    /// rows. For long k and few outputs (a weight gradient over a large feature map) this
    /// streams both operands once per 4×4 block with 16 vector accumulators and no packing.
    ///
    /// Each element is summed in a fixed order (per chunk of ``gemmNTKC`` along k: 16 lanes
    /// in steps of 16, the lanes added by `SIMD16.sum()`, then the scalar tail; chunks added
    /// to C in order), whatever block or thread computes it:
    /// results are bitwise identical for every thread count. Blocks spread over threads
    /// when the product is large.
    static func gemmNT(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                       c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        if m <= 0 || n <= 0 { return }
        let bm = (m + 3) / 4, bn = (n + 3) / 4
        let blocks = bm * bn
        let (mn, o1) = m.multipliedReportingOverflow(by: n)
        let (mnk, o2) = mn.multipliedReportingOverflow(by: max(k, 1))
        let items = !o1 && !o2 && mnk < 1 << 17 ? 1 : min(blocks, Threading.numThreads * 4)
        // k in chunks, so that a chunk of A's rows stays in cache while B's rows stream by.
        var pc = 0
        repeat {
            let kc = min(gemmNTKC, k - pc)
            let acc = accumulate || pc > 0
            Threading.parallelFor(items) { item in
                for blk in (blocks * item / items)..<(blocks * (item + 1) / items) {
                    let j0 = (blk / bm) * 4, i0 = (blk % bm) * 4
                    dotBlock4x4(rows: min(4, m - i0), cols: min(4, n - j0), k: kc, a: a + i0 * lda + pc, lda: lda,
                                b: b + j0 * ldb + pc, ldb: ldb, c: c + i0 * ldc + j0, ldc: ldc, accumulate: acc)
                }
            }
            pc += kc
        } while pc < k
    }

    /// Depth of one chunk of k in ``gemmNT(m:n:k:a:lda:b:ldb:c:ldc:accumulate:)``.
    static let gemmNTKC = 1024

    /// One block of ``gemmNT(m:n:k:a:lda:b:ldb:c:ldc:accumulate:)``: rows × cols (each <= 4)
    /// outputs; missing rows/columns repeat the last valid one and are not stored.
    @inline(__always)
    static func dotBlock4x4(rows: Int, cols: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        typealias V = SIMD16<Float>
        let a0 = UnsafeRawPointer(a), a1 = UnsafeRawPointer(a + min(1, rows - 1) * lda)
        let a2 = UnsafeRawPointer(a + min(2, rows - 1) * lda), a3 = UnsafeRawPointer(a + min(3, rows - 1) * lda)
        let b0 = UnsafeRawPointer(b), b1 = UnsafeRawPointer(b + min(1, cols - 1) * ldb)
        let b2 = UnsafeRawPointer(b + min(2, cols - 1) * ldb), b3 = UnsafeRawPointer(b + min(3, cols - 1) * ldb)
        var c00 = V(), c01 = V(), c02 = V(), c03 = V()
        var c10 = V(), c11 = V(), c12 = V(), c13 = V()
        var c20 = V(), c21 = V(), c22 = V(), c23 = V()
        var c30 = V(), c31 = V(), c32 = V(), c33 = V()
        var p = 0
        while p + 16 <= k {
            let o = p * 4
            let y0 = b0.loadUnaligned(fromByteOffset: o, as: V.self), y1 = b1.loadUnaligned(fromByteOffset: o, as: V.self)
            let y2 = b2.loadUnaligned(fromByteOffset: o, as: V.self), y3 = b3.loadUnaligned(fromByteOffset: o, as: V.self)
            var x = a0.loadUnaligned(fromByteOffset: o, as: V.self)
            c00 = c00.addingProduct(x, y0); c01 = c01.addingProduct(x, y1); c02 = c02.addingProduct(x, y2); c03 = c03.addingProduct(x, y3)
            x = a1.loadUnaligned(fromByteOffset: o, as: V.self)
            c10 = c10.addingProduct(x, y0); c11 = c11.addingProduct(x, y1); c12 = c12.addingProduct(x, y2); c13 = c13.addingProduct(x, y3)
            x = a2.loadUnaligned(fromByteOffset: o, as: V.self)
            c20 = c20.addingProduct(x, y0); c21 = c21.addingProduct(x, y1); c22 = c22.addingProduct(x, y2); c23 = c23.addingProduct(x, y3)
            x = a3.loadUnaligned(fromByteOffset: o, as: V.self)
            c30 = c30.addingProduct(x, y0); c31 = c31.addingProduct(x, y1); c32 = c32.addingProduct(x, y2); c33 = c33.addingProduct(x, y3)
            p += 16
        }
        @inline(__always) func store(_ v: V, _ i: Int, _ j: Int) {
            guard i < rows && j < cols else { return }
            let ai = a + i * lda, bj = b + j * ldb
            var tail: Float = 0
            var q = p
            while q < k {
                tail = tail.addingProduct(ai[q], bj[q])
                q += 1
            }
            let r = v.sum() + tail
            c[i * ldc + j] = accumulate ? c[i * ldc + j] + r : r
        }
        store(c00, 0, 0); store(c01, 0, 1); store(c02, 0, 2); store(c03, 0, 3)
        store(c10, 1, 0); store(c11, 1, 1); store(c12, 1, 2); store(c13, 1, 3)
        store(c20, 2, 0); store(c21, 2, 1); store(c22, 2, 2); store(c23, 2, 3)
        store(c30, 3, 0); store(c31, 3, 1); store(c32, 3, 2); store(c33, 3, 3)
    }
}
