extension Reference {
    /// Max pooling of `g.planes` planes (torch semantics; padding is −∞; NaN propagates).
    ///
    /// - input:  `[planes, H, W]`
    /// - output: `[planes, OH, OW]`, every element written
    ///
    /// out[p, y, x] = max over in[p, y·sH − pH + k, x·sW − pW + l], 0 <= k < KH, 0 <= l < KW, inside the input.
    public static func maxPool2d(_ g: Pool2DGeometry, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        var o = output
        for p in 0..<g.planes {
            let plane = input + p * g.inHeight * g.inWidth
            for y in 0..<g.outHeight {
                let y0 = y * g.stride.h - g.padding.h
                let ys = max(y0, 0), ye = min(y0 + g.kernel.h, g.inHeight)
                for x in 0..<g.outWidth {
                    let x0 = x * g.stride.w - g.padding.w
                    let xs = max(x0, 0), xe = min(x0 + g.kernel.w, g.inWidth)
                    var m = -Float.infinity
                    var iy = ys
                    while iy < ye {
                        var ix = xs
                        while ix < xe {
                            let v = plane[iy * g.inWidth + ix]
                            if v > m || v.isNaN { m = v }
                            ix += 1
                        }
                        iy += 1
                    }
                    o.pointee = m
                    o += 1
                }
            }
        }
    }

    /// Average pooling of `g.planes` planes (torch semantics, accumulates in Double).
    ///
    /// - input:  `[planes, H, W]`
    /// - output: `[planes, OH, OW]`, every element written
    ///
    /// The window starts at (y·sH − pH, x·sW − pW) and ends at start + kernel, clipped to the
    /// padded input (H + pH, W + pW); the divisor is that clipped window's area when
    /// `countIncludePad`, else the area of its part inside the input. An empty window gives 0.
    public static func avgPool2d(_ g: Pool2DGeometry, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        var o = output
        for p in 0..<g.planes {
            let plane = input + p * g.inHeight * g.inWidth
            for y in 0..<g.outHeight {
                let y0 = y * g.stride.h - g.padding.h
                let y1 = min(y0 + g.kernel.h, g.inHeight + g.padding.h)
                let ys = max(y0, 0), ye = min(y1, g.inHeight)
                for x in 0..<g.outWidth {
                    let x0 = x * g.stride.w - g.padding.w
                    let x1 = min(x0 + g.kernel.w, g.inWidth + g.padding.w)
                    let xs = max(x0, 0), xe = min(x1, g.inWidth)
                    if ys >= ye || xs >= xe {
                        o.pointee = 0
                        o += 1
                        continue
                    }
                    var sum: Double = 0
                    for iy in ys..<ye {
                        for ix in xs..<xe { sum += Double(plane[iy * g.inWidth + ix]) }
                    }
                    // The area in Double: exact below 2^53, and no overflow for absurd padding.
                    let divisor = g.countIncludePad ? Double(y1 - y0) * Double(x1 - x0) : Double(ye - ys) * Double(xe - xs)
                    o.pointee = Float(sum / Double(divisor))
                    o += 1
                }
            }
        }
    }

    /// Adaptive average pooling of `g.planes` planes to `OH × OW` (torch semantics).
    ///
    /// - input:  `[planes, H, W]`
    /// - output: `[planes, OH, OW]`, every element written
    ///
    /// out[p, i, j] = mean of in[p, floor(i·H/OH) ..< ceil((i+1)·H/OH), floor(j·W/OW) ..< ceil((j+1)·W/OW)].
    public static func adaptiveAvgPool2d(_ g: Pool2DGeometry, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        var o = output
        let (h, w, oh, ow) = (g.inHeight, g.inWidth, g.outHeight, g.outWidth)
        for p in 0..<g.planes {
            let plane = input + p * h * w
            for i in 0..<oh {
                let ys = i * h / oh, ye = ((i + 1) * h + oh - 1) / oh
                for j in 0..<ow {
                    let xs = j * w / ow, xe = ((j + 1) * w + ow - 1) / ow
                    var sum: Double = 0
                    for iy in ys..<ye {
                        for ix in xs..<xe { sum += Double(plane[iy * w + ix]) }
                    }
                    o.pointee = Float(sum / Double((ye - ys) * (xe - xs)))
                    o += 1
                }
            }
        }
    }
}
