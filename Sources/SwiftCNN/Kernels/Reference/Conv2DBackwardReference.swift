// Reference (oracle) backward kernels of the 2-D convolution: direct loops, gather form
// (each gradient element is one sum, accumulated in Double), no scratch memory.

extension Reference {
    /// Gradient of ``conv2d(_:_:input:weight:bias:output:)`` with respect to its weight.
    ///
    /// - input:      `[N, C, H, W]`
    /// - gradOutput: `[N, O, OH, OW]`
    /// - gradWeight: `[O, C/groups, KH, KW]`, every element written
    ///
    /// dW[o,c,k',l'] = Σ_{n,y,x} dY[n,o,y,x] · in[n, g·Cg + c, y·sH − pT + k·dH, x·sW − pL + l·dW]
    /// (taps outside the input contribute nothing; (k', l') flipped for true convolution).
    static func conv2dBackwardWeight(_ g: Conv2DGeometry, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                                     gradWeight: UnsafeMutablePointer<Float>) {
        let cg = g.inChannelsPerGroup, og = g.outChannelsPerGroup
        let kh = g.kernelHeight, kw = g.kernelWidth
        for o in 0..<g.outChannels {
            let group = o / og
            for c in 0..<cg {
                let ic = group * cg + c
                for k in 0..<kh {
                    for l in 0..<kw {
                        var acc: Double = 0
                        for n in 0..<g.batch {
                            let plane = (n * g.inChannels + ic) * g.inPlane
                            let dy = (n * g.outChannels + o) * g.outPlane
                            for y in 0..<g.outHeight {
                                let iy = y * g.stride.h - g.padding.top + k * g.dilation.h
                                if iy < 0 || iy >= g.inHeight { continue }
                                for x in 0..<g.outWidth {
                                    let ix = x * g.stride.w - g.padding.left + l * g.dilation.w
                                    if ix < 0 || ix >= g.inWidth { continue }
                                    acc += Double(gradOutput[dy + y * g.outWidth + x]) * Double(input[plane + iy * g.inWidth + ix])
                                }
                            }
                        }
                        let kk = g.flipKernel ? kh - 1 - k : k
                        let ll = g.flipKernel ? kw - 1 - l : l
                        gradWeight[((o * cg + c) * kh + kk) * kw + ll] = Float(acc)
                    }
                }
            }
        }
    }

    /// Gradient of the 2-D convolution with respect to its input.
    ///
    /// - weight:     `[O, C/groups, KH, KW]`
    /// - gradOutput: `[N, O, OH, OW]`
    /// - gradInput:  `[N, C, H, W]`, every element written
    ///
    /// dX[n,ic,iy,ix] = Σ over output channels o of ic's group and taps (k, l) with
    /// iy = y·sH − pT + k·dH and ix = x·sW − pL + l·dW for some output pixel (y, x) of
    /// dY[n,o,y,x] · w[o,c,k',l'].
    static func conv2dBackwardInput(_ g: Conv2DGeometry, weight: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                                    gradInput: UnsafeMutablePointer<Float>) {
        let cg = g.inChannelsPerGroup, og = g.outChannelsPerGroup
        let kh = g.kernelHeight, kw = g.kernelWidth
        var index = 0
        for n in 0..<g.batch {
            for ic in 0..<g.inChannels {
                let group = ic / cg, c = ic % cg
                for iy in 0..<g.inHeight {
                    for ix in 0..<g.inWidth {
                        var acc: Double = 0
                        for k in 0..<kh {
                            let ty = iy + g.padding.top - k * g.dilation.h
                            if ty < 0 || ty % g.stride.h != 0 { continue }
                            let y = ty / g.stride.h
                            if y >= g.outHeight { continue }
                            for l in 0..<kw {
                                let tx = ix + g.padding.left - l * g.dilation.w
                                if tx < 0 || tx % g.stride.w != 0 { continue }
                                let x = tx / g.stride.w
                                if x >= g.outWidth { continue }
                                let kk = g.flipKernel ? kh - 1 - k : k
                                let ll = g.flipKernel ? kw - 1 - l : l
                                for o in (group * og)..<((group + 1) * og) {
                                    let wv = weight[((o * cg + c) * kh + kk) * kw + ll]
                                    let dy = gradOutput[((n * g.outChannels + o) * g.outHeight + y) * g.outWidth + x]
                                    acc += Double(wv) * Double(dy)
                                }
                            }
                        }
                        gradInput[index] = Float(acc)
                        index += 1
                    }
                }
            }
        }
    }

    /// Gradient of a per-channel bias: db[c] = Σ_{n,s} dY[n,c,s] (Double accumulation).
    ///
    /// - gradOutput: `[batch, channels, spatial]`
    /// - gradBias:   `[channels]`, every element written
    static func channelSum(_ gradOutput: UnsafePointer<Float>, batch: Int, channels: Int, spatial: Int,
                           into gradBias: UnsafeMutablePointer<Float>) {
        for c in 0..<channels {
            var acc: Double = 0
            for n in 0..<batch {
                let base = (n * channels + c) * spatial
                for s in 0..<spatial { acc += Double(gradOutput[base + s]) }
            }
            gradBias[c] = Float(acc)
        }
    }
}
