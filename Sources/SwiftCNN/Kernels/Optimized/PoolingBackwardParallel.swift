// Pooling backward, optimized: the planes (N·C) spread over threads, each range of planes
// run by the reference kernel. Planes are independent and each is computed exactly as the
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

    /// ``Reference/maxPool2dBackward(_:input:gradOutput:gradInput:)`` over threads.
    static func maxPool2dBackward(_ g: Pool2DGeometry, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                                  gradInput: UnsafeMutablePointer<Float>) {
        let pin = g.inHeight * g.inWidth, pout = g.outHeight * g.outWidth
        overPlanes(g) { sub, p in
            Reference.maxPool2dBackward(sub, input: input + p * pin, gradOutput: gradOutput + p * pout, gradInput: gradInput + p * pin)
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
