// Convolutions whose kernel reaches mostly into padding: on small feature maps, the taps
// outside ``Conv2DGeometry/liveWindow`` multiply only padding zeros. ``conv2dUnprepared``,
// ``conv2dBackward`` and the inference plan's prepared convolutions (``InferencePlan/Conv/window``)
// run the same convolution with the kernel cut to that window, so that the GEMMs, the
// unrolled patches and the packed weights hold only what can be non-zero: a 3×3 layer on a
// 1×1 map (ResNet's last stage at 32×32 inputs) becomes a 1×1 layer, a ninth of the work.
// The helpers here move weights and weight gradients between the kernel and the window.

extension Optimized {
    /// Kernels per unit of work when the window's weights are copied or scattered.
    static let windowRun = 1024

    /// Copies the `rows` × `columns` window of each of `kernels` KH×KW kernels in `weight`
    /// into `into`, `[kernels, rows.count, columns.count]`.
    static func copyWindow(_ weight: UnsafePointer<Float>, kernels: Int, height kh: Int, width kw: Int,
                           rows: ClosedRange<Int>, columns: ClosedRange<Int>, into dst: UnsafeMutablePointer<Float>) {
        moveWindow(full: UnsafeMutablePointer(mutating: weight), window: dst, kernels: kernels, height: kh, width: kw,
                   rows: rows, columns: columns, toWindow: true)
    }

    /// The reverse of ``copyWindow(_:kernels:height:width:rows:columns:into:)``: the window's
    /// values into full KH×KW kernels, zeros outside the window.
    static func scatterWindow(_ window: UnsafePointer<Float>, kernels: Int, height kh: Int, width kw: Int,
                              rows: ClosedRange<Int>, columns: ClosedRange<Int>, into dst: UnsafeMutablePointer<Float>) {
        moveWindow(full: dst, window: UnsafeMutablePointer(mutating: window), kernels: kernels, height: kh, width: kw,
                   rows: rows, columns: columns, toWindow: false)
    }

    /// Both directions: `full` → `window` (`toWindow`, `full` only read), or `window` →
    /// `full` with zeros outside the window (`window` only read). Element by element (windows
    /// are a few taps; a copy call per row costs more); runs of kernels spread over threads
    /// (a large layer's weights are megabytes), each zeroing its part of `full` in one sweep
    /// before writing the window's taps (the lines are still in cache).
    private static func moveWindow(full: UnsafeMutablePointer<Float>, window: UnsafeMutablePointer<Float>, kernels: Int,
                                   height kh: Int, width kw: Int, rows: ClosedRange<Int>, columns: ClosedRange<Int>,
                                   toWindow: Bool) {
        let h = rows.count, w = columns.count, taps = kh * kw
        let first = rows.lowerBound * kw + columns.lowerBound
        let runs = (kernels + windowRun - 1) / windowRun
        parallelCopy(runs, floats: kernels * taps) { run in
            let k0 = run * windowRun, k1 = min(kernels, k0 + windowRun)
            if !toWindow { (full + k0 * taps).update(repeating: 0, count: (k1 - k0) * taps) }
            if h == 1 && w == 1 {
                // One tap (a 1×1 map's centre): a strided copy, without the loops' overhead
                // per kernel (it took 5–7% of a ResNet-18 training step at 32×32 with them).
                let f = full + first
                if toWindow {
                    for kernel in k0..<k1 { window[kernel] = f[kernel * taps] }
                } else {
                    for kernel in k0..<k1 { f[kernel * taps] = window[kernel] }
                }
                return
            }
            for kernel in k0..<k1 {
                let f = full + kernel * taps + first, v = window + kernel * h * w
                for i in 0..<h {
                    for j in 0..<w {
                        if toWindow { v[i * w + j] = f[i * kw + j] } else { f[i * kw + j] = v[i * w + j] }
                    }
                }
            }
        }
    }

    /// `weight` `[O, Cg, KH, KW]` cut to `g`'s live window, `[O, Cg, KH', KW']` (`cut`'s shape).
    static func windowWeights(_ g: Conv2DGeometry, cut: Conv2DGeometry, rows: ClosedRange<Int>, columns: ClosedRange<Int>,
                              weight: UnsafePointer<Float>) throws -> ScratchBuffer {
        let kernels = g.outChannels * g.inChannelsPerGroup
        let buffer = try ScratchBuffer(count: try Checked.mul(kernels, cut.kernelHeight * cut.kernelWidth, "conv2d window weights"))
        copyWindow(weight, kernels: kernels, height: g.kernelHeight, width: g.kernelWidth, rows: rows, columns: columns,
                   into: buffer.pointer)
        return buffer
    }
}
