extension Reference {
    /// Direct 2-D convolution over every index: batch, group, output channel, output
    /// pixel, input channel of the group, kernel tap. Accumulates in Double.
    ///
    /// - input:  `[N, C, H, W]` (contiguous)
    /// - weight: `[O, C/groups, KH, KW]`
    /// - bias:   `[O]` or nil
    /// - output: `[N, O, OH, OW]`, every element written
    ///
    /// out[n,o,y,x] = bias[o] + Σ_{c,k,l} w[o,c,k',l'] · in[n, g·Cg + c, y·sH − pT + k·dH, x·sW − pL + l·dW],
    /// where (k', l') = (k, l), or (KH−1−k, KW−1−l) when the kernel is flipped; taps outside
    /// the input read zero.
    public static func conv2d(_ g: Conv2DGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                              bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>) {
        let cg = g.inChannelsPerGroup, og = g.outChannelsPerGroup
        let kh = g.kernelHeight, kw = g.kernelWidth
        var outIndex = 0
        for n in 0..<g.batch {
            for o in 0..<g.outChannels {
                let group = o / og
                for y in 0..<g.outHeight {
                    for x in 0..<g.outWidth {
                        var acc: Double = bias.map { Double($0[o]) } ?? 0
                        for c in 0..<cg {
                            let ic = group * cg + c
                            let plane = (n * g.inChannels + ic) * g.inPlane
                            for k in 0..<kh {
                                let iy = y * g.stride.h - g.padding.top + k * g.dilation.h
                                if iy < 0 || iy >= g.inHeight { continue }
                                for l in 0..<kw {
                                    let ix = x * g.stride.w - g.padding.left + l * g.dilation.w
                                    if ix < 0 || ix >= g.inWidth { continue }
                                    let kk = g.flipKernel ? kh - 1 - k : k
                                    let ll = g.flipKernel ? kw - 1 - l : l
                                    let wv = weight[((o * cg + c) * kh + kk) * kw + ll]
                                    acc += Double(wv) * Double(input[plane + iy * g.inWidth + ix])
                                }
                            }
                        }
                        output[outIndex] = Float(acc)
                        outIndex += 1
                    }
                }
            }
        }
    }
}
