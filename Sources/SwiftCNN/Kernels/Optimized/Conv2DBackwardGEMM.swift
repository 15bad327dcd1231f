// Backward of the 2-D convolution as GEMMs (the optimized path of conv2dBackward):
//
//     dW_g  = dY_g · rows(X_g)          rows = im2col(X)ᵀ, [images·OH·OW, Cg·KH·KW]
//     dX_g  = col2im(W_gᵀ · dY_g)       W_gᵀ [Cg·KH·KW, O/groups]
//
// per group, over chunks of images: a chunk's output gradients are gathered into one
// [O/groups, images·OH·OW] matrix so that small feature maps still make long GEMMs.
// The chunk size depends only on the geometry (never on the thread count), the GEMM's
// per-element summation order is fixed, and the parallel helpers below write disjoint
// memory with fixed per-element orders: results are bitwise identical for every thread count.

extension Optimized {
    /// Floats of scratch a chunk of images may use for its unrolled patches (16 MiB).
    static let convBackwardChunkFloats = 1 << 22

    /// Weight and (optionally) input gradients of the convolution `g` (bias: see ``channelSum(_:batch:channels:spatial:into:)``).
    ///
    /// - input: `[N, C, H, W]`; weight: `[O, Cg, KH, KW]`; gradOutput: `[N, O, OH, OW]`
    /// - gradWeight: `[O, Cg, KH, KW]`, every element written
    /// - gradInput: `[N, C, H, W]`, every element written, or nil to skip
    /// - Throws: ``SwiftCNNError/Kind/outOfMemory`` when scratch memory cannot be had.
    static func conv2dBackward(_ g: Conv2DGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               gradOutput: UnsafePointer<Float>, gradWeight: UnsafeMutablePointer<Float>,
                               gradInput: UnsafeMutablePointer<Float>?) throws {
        let og = g.outChannelsPerGroup, patch = g.patchSize, plane = g.outPlane
        let taps = g.kernelHeight * g.kernelWidth
        let perImage = try Checked.mul(plane, max(patch, og), "conv2dBackward scratch size")
        let chunk = max(1, min(g.batch, convBackwardChunkFloats / max(perImage, 1)))
        let cols = try ScratchBuffer(count: try Checked.mul(chunk, perImage, "conv2dBackward scratch size"))
        let dys = try ScratchBuffer(count: try Checked.mul(try Checked.mul(chunk, plane), og, "conv2dBackward scratch size"))
        // Wᵀ of one group, [patch, og], the kernel flipped for true convolution.
        let wt: ScratchBuffer? = gradInput == nil ? nil : try ScratchBuffer(count: try Checked.mul(patch, og))
        if let gradInput {
            gradInput.update(repeating: 0, count: g.batch * g.inChannels * g.inPlane)
        }
        for grp in 0..<g.groups {
            let dwg = gradWeight + grp * og * patch
            if let wt {
                let w = weight + grp * og * patch
                for o in 0..<og {
                    for r in 0..<patch {
                        let t = r % taps
                        let src = g.flipKernel ? r - t + (taps - 1 - t) : r
                        wt.pointer[r * og + o] = w[o * patch + src]
                    }
                }
            }
            var n0 = 0
            while n0 < g.batch {
                let nb = min(chunk, g.batch - n0)
                let width = nb * plane
                // dY of the chunk's images for this group: [og, nb·plane].
                for i in 0..<nb {
                    let src = gradOutput + ((n0 + i) * g.outChannels + grp * og) * plane
                    for o in 0..<og {
                        (dys.pointer + o * width + i * plane).update(from: src + o * plane, count: plane)
                    }
                }
                im2rowParallel(g, input, images: n0..<(n0 + nb), group: grp, rows: cols.pointer)
                gemm(m: og, n: patch, k: width, a: dys.pointer, lda: width, b: cols.pointer, ldb: patch,
                     c: dwg, ldc: patch, accumulate: n0 > 0)
                if let gradInput, let wt {
                    gemm(m: patch, n: width, k: og, a: wt.pointer, lda: og, b: dys.pointer, ldb: width,
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
        withExtendedLifetime((cols, dys, wt)) {}
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
                let x0 = off >= 0 ? 0 : min(ow, (-off - 1) / sw + 1)
                let x1 = iw - 1 - off < 0 ? x0 : max(x0, min(ow, (iw - 1 - off) / sw + 1))
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
