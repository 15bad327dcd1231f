#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension Optimized {
    /// 2-D convolution as im2col + GEMM, with the same contract as ``Reference/conv2d(_:input:weight:bias:output:)``.
    ///
    /// For each image and group: the input patches are unrolled into a column matrix
    /// `[Cg·KH·KW, OH·OW]` (zeros where a tap falls in the padding), and
    /// output[og rows] = weight[og, Cg·KH·KW] · columns (+ bias). A 1×1 kernel with
    /// stride 1 and no padding multiplies the input planes directly. A flipped kernel
    /// (true convolution) is flipped once into scratch memory first.
    /// - Throws: ``SwiftCNNError/Kind/outOfMemory`` when scratch memory cannot be had.
    public static func conv2dIm2col(_ g: Conv2DGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                    bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>) throws {
        let cg = g.inChannelsPerGroup, og = g.outChannelsPerGroup
        let kh = g.kernelHeight, kw = g.kernelWidth
        let patch = g.patchSize
        let outPlane = g.outPlane

        // The kernel as used: flipped into scratch memory for true convolution.
        var flipped: ScratchBuffer? = nil
        if g.flipKernel && (kh > 1 || kw > 1) {
            let buf = try ScratchBuffer(count: g.outChannels * patch)
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

        let direct = kh == 1 && kw == 1 && g.stride == Size2D(1) && g.padding == Padding2D(0)
        let columns: ScratchBuffer? = direct ? nil : try ScratchBuffer(count: patch * outPlane)

        for n in 0..<g.batch {
            for grp in 0..<g.groups {
                let x = input + (n * g.inChannels + grp * cg) * g.inPlane
                let y = output + (n * g.outChannels + grp * og) * outPlane
                let b: UnsafePointer<Float>
                if let columns {
                    im2col(g, x, columns.pointer)
                    b = UnsafePointer(columns.pointer)
                } else {
                    b = x
                }
                if let bias {
                    for o in 0..<og { (y + o * outPlane).update(repeating: bias[grp * og + o], count: outPlane) }
                }
                gemm(m: og, n: outPlane, k: patch, a: w + grp * og * patch, lda: patch,
                     b: b, ldb: outPlane, c: y, ldc: outPlane, accumulate: bias != nil)
            }
        }
    }

    /// Unrolls the `Cg` input planes at `x` into `cols` `[Cg·KH·KW, OH·OW]`: row (c, k, l),
    /// column (y, x) holds in[c, y·sH − pT + k·dH, x·sW − pL + l·dW], or 0 in the padding.
    static func im2col(_ g: Conv2DGeometry, _ x: UnsafePointer<Float>, _ cols: UnsafeMutablePointer<Float>) {
        let kh = g.kernelHeight, kw = g.kernelWidth
        let oh = g.outHeight, ow = g.outWidth
        let ih = g.inHeight, iw = g.inWidth
        let sh = g.stride.h, sw = g.stride.w
        var row = cols
        for c in 0..<g.inChannelsPerGroup {
            let plane = x + c * g.inPlane
            for k in 0..<kh {
                for l in 0..<kw {
                    // Columns x0..<x1 read inside the input: 0 <= x·sW + off < W.
                    let off = l * g.dilation.w - g.padding.left
                    let x0 = off >= 0 ? 0 : min(ow, (-off - 1) / sw + 1)  // ceil(−off / sW) without overflow
                    let x1 = iw - 1 - off < 0 ? x0 : max(x0, min(ow, (iw - 1 - off) / sw + 1))
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
                            (dst + x0).update(from: src + x0, count: x1 - x0)
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
