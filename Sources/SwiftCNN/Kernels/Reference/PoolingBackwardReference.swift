// Reference (oracle) backward kernels of the 2-D poolings. Geometry: Pool2DGeometry.
// Each routes every output gradient back to the input elements its forward window read.

extension Reference {
    /// Max pooling backward: each output's gradient goes to the element the forward picked
    /// (the first maximum of its window in row-major order, or the last NaN; the window's
    /// first element when every element is −∞), summed where windows overlap.
    ///
    /// - input: `[planes, H, W]` (the forward's input), gradOutput: `[planes, OH, OW]`
    /// - gradInput: `[planes, H, W]`, every element written
    static func maxPool2dBackward(_ g: Pool2DGeometry, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                                  gradInput: UnsafeMutablePointer<Float>) {
        let planeIn = g.inHeight * g.inWidth, planeOut = g.outHeight * g.outWidth
        gradInput.update(repeating: 0, count: g.planes * planeIn)
        for p in 0..<g.planes {
            let x = input + p * planeIn, dx = gradInput + p * planeIn
            let dy = gradOutput + p * planeOut
            for y in 0..<g.outHeight {
                let y0 = y * g.stride.h - g.padding.h
                let ys = max(y0, 0), ye = min(y0 + g.kernel.h, g.inHeight)
                for xo in 0..<g.outWidth {
                    let x0 = xo * g.stride.w - g.padding.w
                    let xs = max(x0, 0), xe = min(x0 + g.kernel.w, g.inWidth)
                    if ys >= ye || xs >= xe { continue }   // no input element (not reachable with validated options)
                    var m = -Float.infinity
                    var best = ys * g.inWidth + xs
                    for iy in ys..<ye {
                        for ix in xs..<xe {
                            let v = x[iy * g.inWidth + ix]
                            if v > m || v.isNaN {
                                m = v
                                best = iy * g.inWidth + ix
                            }
                        }
                    }
                    dx[best] += dy[y * g.outWidth + xo]
                }
            }
        }
    }

    /// Average pooling backward: each output's gradient divided by its forward divisor and
    /// added to every input element of its window (the part inside the input).
    ///
    /// - gradOutput: `[planes, OH, OW]`; gradInput: `[planes, H, W]`, every element written
    static func avgPool2dBackward(_ g: Pool2DGeometry, gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>) {
        let planeIn = g.inHeight * g.inWidth, planeOut = g.outHeight * g.outWidth
        gradInput.update(repeating: 0, count: g.planes * planeIn)
        for p in 0..<g.planes {
            let dx = gradInput + p * planeIn, dy = gradOutput + p * planeOut
            for y in 0..<g.outHeight {
                let y0 = y * g.stride.h - g.padding.h
                let y1 = min(y0 + g.kernel.h, g.inHeight + g.padding.h)
                let ys = max(y0, 0), ye = min(y1, g.inHeight)
                for xo in 0..<g.outWidth {
                    let x0 = xo * g.stride.w - g.padding.w
                    let x1 = min(x0 + g.kernel.w, g.inWidth + g.padding.w)
                    let xs = max(x0, 0), xe = min(x1, g.inWidth)
                    if ys >= ye || xs >= xe { continue }
                    // The area in Double: exact below 2^53, and no overflow for absurd padding.
                    let divisor = g.countIncludePad ? Double(y1 - y0) * Double(x1 - x0) : Double(ye - ys) * Double(xe - xs)
                    let v = dy[y * g.outWidth + xo] / Float(divisor)
                    for iy in ys..<ye {
                        for ix in xs..<xe { dx[iy * g.inWidth + ix] += v }
                    }
                }
            }
        }
    }

    /// Adaptive average pooling backward: output (i, j)'s gradient divided by its window's
    /// area and added to the window floor(i·H/OH) ..< ceil((i+1)·H/OH) (same for columns).
    ///
    /// - gradOutput: `[planes, OH, OW]`; gradInput: `[planes, H, W]`, every element written
    static func adaptiveAvgPool2dBackward(_ g: Pool2DGeometry, gradOutput: UnsafePointer<Float>,
                                          gradInput: UnsafeMutablePointer<Float>) {
        let (h, w, oh, ow) = (g.inHeight, g.inWidth, g.outHeight, g.outWidth)
        gradInput.update(repeating: 0, count: g.planes * h * w)
        for p in 0..<g.planes {
            let dx = gradInput + p * h * w, dy = gradOutput + p * oh * ow
            for i in 0..<oh {
                let ys = i * h / oh, ye = ((i + 1) * h + oh - 1) / oh
                for j in 0..<ow {
                    let xs = j * w / ow, xe = ((j + 1) * w + ow - 1) / ow
                    let v = dy[i * ow + j] / Float((ye - ys) * (xe - xs))
                    for iy in ys..<ye {
                        for ix in xs..<xe { dx[iy * w + ix] += v }
                    }
                }
            }
        }
    }
}
