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
    /// For each image and group: the input patches are unrolled into a column matrix
    /// `[Cg·KH·KW, OH·OW]` (zeros where a tap falls in the padding), and
    /// output[og rows] = weight[og, Cg·KH·KW] · columns + bias, the bias added in the GEMM's
    /// output pass. A 1×1 kernel with stride 1 and no padding multiplies the input planes
    /// directly. A flipped kernel (true convolution) is flipped once while packing.
    /// - Throws: ``SwiftCNNError/Kind/outOfMemory`` when scratch memory cannot be had.
    public static func conv2dIm2col(_ g: Conv2DGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                    bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>) throws {
        let packed = try PackedConvWeights(g, weight: weight)
        try conv2dPacked(g, input: input, weights: packed, bias: bias, residual: nil, relu: false, output: output)
    }

    /// The convolution with pre-packed weights and a fused output pass:
    /// output = conv(input) + bias[o] (+ residual, same shape as the output) (then ReLU).
    /// `residual` must not overlap `output`. `scratch` (64-byte aligned), when given, holds
    /// the im2col columns (the first `patch·outPlane` floats rounded up to 16, none for a 1×1
    /// stride-1 unpadded conv) and the GEMM's packing workspace (the rest) instead of fresh buffers.
    static func conv2dPacked(_ g: Conv2DGeometry, input: UnsafePointer<Float>, weights: PackedConvWeights,
                             bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, relu: Bool,
                             output: UnsafeMutablePointer<Float>,
                             scratch: UnsafeMutableBufferPointer<Float>? = nil) throws {
        let cg = g.inChannelsPerGroup, og = g.outChannelsPerGroup
        let patch = g.patchSize
        let outPlane = g.outPlane
        guard weights.groups.count == g.groups, weights.patchSize == patch, weights.outChannels == g.outChannels else {
            throw SwiftCNNError(.internal, "conv2d: packed weights do not match the geometry")
        }
        let direct = g.kernelHeight == 1 && g.kernelWidth == 1 && g.stride == Size2D(1) && g.padding == Padding2D(0)
        let columnCount = direct ? 0 : try Checked.mul(patch, outPlane)
        let given = scratch.flatMap { $0.count >= columnCount ? $0 : nil }
        let workspace = given.map { UnsafeMutableBufferPointer(rebasing: $0[min($0.count, (columnCount + 15) / 16 * 16)...]) }
        let owned: ScratchBuffer? = direct || given != nil ? nil : try ScratchBuffer(count: columnCount)
        let columns = direct ? nil : given?.baseAddress ?? owned?.pointer

        for n in 0..<g.batch {
            for grp in 0..<g.groups {
                let x = input + (n * g.inChannels + grp * cg) * g.inPlane
                let offset = (n * g.outChannels + grp * og) * outPlane
                let b: UnsafePointer<Float>
                if let columns {
                    im2colParallel(g, x, columns)
                    b = UnsafePointer(columns)
                } else {
                    b = x
                }
                var ep = GEMMEpilogue()
                ep.bias = bias.map { $0 + grp * og }
                ep.residual = residual.map { $0 + offset }
                ep.ldr = outPlane
                ep.relu = relu
                try gemmPacked(m: og, n: outPlane, k: patch, a: weights.groups[grp].pointer,
                               b: b, ldb: outPlane, c: output + offset, ldc: outPlane,
                               accumulate: false, epilogue: ep, workspace: workspace)
            }
        }
        withExtendedLifetime(owned) {}
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
                    let x0 = off >= 0 ? 0 : sw == 1 ? min(ow, -off) : min(ow, (-off - 1) / sw + 1)  // ceil(−off / sW) without overflow
                    let x1 = iw - 1 - off < 0 ? x0 : max(x0, min(ow, sw == 1 ? iw - off : (iw - 1 - off) / sw + 1))
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
