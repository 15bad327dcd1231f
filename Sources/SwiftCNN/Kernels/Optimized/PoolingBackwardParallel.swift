// Pooling backward, optimized: the planes (N·C) spread over threads, each range of planes
// run by the reference kernel (max pooling: by a per-plane kernel that makes the reference's
// choices without its branches). Planes are independent and each is computed exactly as the
// reference does, so results equal the reference's bit for bit, for every thread count.

extension Optimized {
    /// Runs `body(sub, first)` over ranges of planes: `sub` is `g` restricted to the planes
    /// starting at `first`. Serial for small tensors.
    static func overPlanes(_ g: Pool2DGeometry, _ body: (Pool2DGeometry, Int) -> Void) {
        let work = g.planes * max(g.inHeight * g.inWidth, g.outHeight * g.outWidth * g.kernel.h * g.kernel.w)
        let items = work < 1 << 15 ? 1 : min(g.planes, Threading.numThreads * 4)
        Threading.parallelFor(items) { item in
            let p0 = g.planes * item / items, p1 = g.planes * (item + 1) / items
            if p0 >= p1 { return }
            let sub = Pool2DGeometry(planes: p1 - p0, inHeight: g.inHeight, inWidth: g.inWidth, outHeight: g.outHeight,
                                     outWidth: g.outWidth, kernel: g.kernel, stride: g.stride, padding: g.padding,
                                     countIncludePad: g.countIncludePad)
            body(sub, p0)
        }
    }

    /// ``Reference/maxPool2dBackward(_:input:gradOutput:gradInput:)`` over threads, each range
    /// of planes by ``maxPool2dBackwardPlanes(_:input:gradOutput:gradInput:)``.
    static func maxPool2dBackward(_ g: Pool2DGeometry, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                                  gradInput: UnsafeMutablePointer<Float>) {
        let pin = g.inHeight * g.inWidth, pout = g.outHeight * g.outWidth
        overPlanes(g) { sub, p in
            maxPool2dBackwardPlanes(sub, input: input + p * pin, gradOutput: gradOutput + p * pout, gradInput: gradInput + p * pin)
        }
    }

    /// The reference's max pooling backward, bit for bit (the same element chosen in every
    /// window: the first maximum in row-major order, or the last NaN; the same additions in
    /// the same order), with the window's choice made by selects instead of a data-dependent branch
    /// per element (3.0% → 1.2% of a ResNet-18 32×32 training step) and wrapping arithmetic for indices inside the planes, whose sizes the
    /// caller has checked (the reference checks every step: it is the oracle).
    static func maxPool2dBackwardPlanes(_ g: Pool2DGeometry, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                                        gradInput: UnsafeMutablePointer<Float>) {
        let ih = g.inHeight, iw = g.inWidth, oh = g.outHeight, ow = g.outWidth
        let planeIn = ih &* iw, planeOut = oh &* ow
        gradInput.update(repeating: 0, count: g.planes &* planeIn)
        for p in 0..<g.planes {
            let x = input + p &* planeIn, dx = gradInput + p &* planeIn, dy = gradOutput + p &* planeOut
            for y in 0..<oh {
                let y0 = y &* g.stride.h &- g.padding.h
                let ys = max(y0, 0), ye = min(y0 &+ g.kernel.h, ih)
                if ys >= ye { continue }
                for xo in 0..<ow {
                    let x0 = xo &* g.stride.w &- g.padding.w
                    let xs = max(x0, 0), xe = min(x0 &+ g.kernel.w, iw)
                    if xs >= xe { continue }
                    var m = -Float.infinity
                    var best = ys &* iw &+ xs
                    var iy = ys
                    while iy < ye {
                        let row = iy &* iw
                        var ix = xs
                        while ix < xe {
                            let v = x[row &+ ix]
                            // `v != v` rather than `isNaN`: the latter compiled to a bit test and a branch.
                            let take = (v > m) || (v != v)
                            m = take ? v : m
                            best = take ? row &+ ix : best
                            ix &+= 1
                        }
                        iy &+= 1
                    }
                    dx[best] += dy[y &* ow &+ xo]
                }
            }
        }
    }

    /// ``Reference/avgPool2dBackward(_:gradOutput:gradInput:)`` over threads.
    static func avgPool2dBackward(_ g: Pool2DGeometry, gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>) {
        let pin = g.inHeight * g.inWidth, pout = g.outHeight * g.outWidth
        overPlanes(g) { sub, p in
            Reference.avgPool2dBackward(sub, gradOutput: gradOutput + p * pout, gradInput: gradInput + p * pin)
        }
    }

    /// ``Reference/adaptiveAvgPool2dBackward(_:gradOutput:gradInput:)`` over threads.
    static func adaptiveAvgPool2dBackward(_ g: Pool2DGeometry, gradOutput: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>) {
        let pin = g.inHeight * g.inWidth, pout = g.outHeight * g.outWidth
        overPlanes(g) { sub, p in
            Reference.adaptiveAvgPool2dBackward(sub, gradOutput: gradOutput + p * pout, gradInput: gradInput + p * pin)
        }
    }
}
