// 2-D upsampling and its backward with per-axis index tables (the optimized twins of
// UpsampleReference.swift): the source rows/columns and weights are computed once per
// axis by the same ``UpsampleIndex`` rules instead of once per element, and the planes run
// over the threads. Same float operations in the same order, so bitwise equal to the reference.

extension Optimized {
    /// Planes per parallel item: about `elementwiseBlock` output elements each.
    @inline(__always)
    static func forEachPlane(_ planes: Int, elementsPerPlane: Int, _ body: (Int) -> Void) {
        if planes < 2 || planes * elementsPerPlane < elementwiseParallelThreshold || Threading.numThreads < 2 {
            for p in 0..<planes { body(p) }
            return
        }
        let per = max(1, elementwiseBlock / max(1, elementsPerPlane))
        Threading.parallelFor((planes + per - 1) / per) { item in
            for p in (item * per)..<min(planes, (item + 1) * per) { body(p) }
        }
    }

    /// The source index of every output index along one axis (nearest).
    static func nearestTable(input: Int, output: Int, ratio: Float) -> [Int] {
        (0..<output).map { UpsampleIndex.nearest($0, input: input, output: output, ratio: ratio) }
    }

    /// The two source indices and weights of every output index along one axis (linear).
    static func linearTable(input: Int, output: Int, ratio: Float, alignCorners: Bool) -> [(i0: Int, i1: Int, l0: Float, l1: Float)] {
        (0..<output).map { UpsampleIndex.linear($0, input: input, output: output, ratio: ratio, alignCorners: alignCorners) }
    }

    /// Whether the index tables (at most 24 bytes per output row and column) stay below 1 MiB
    /// or a quarter of the output's bytes; for degenerate shapes (a very tall, thin output)
    /// they would not, and the kernels run the reference instead, which needs no tables.
    static func upsampleTablesFit(_ g: Upsample2DGeometry) -> Bool {
        let rowsAndColumns = g.outHeight + g.outWidth   // both validated: no overflow
        let (elements, o) = g.planes.multipliedReportingOverflow(by: g.outHeight * g.outWidth)
        return o || 24 * rowsAndColumns <= max(elements, 1 << 20)
    }

    /// See ``Reference/upsample2d(_:_:_:)``.
    static func upsample2d(_ g: Upsample2DGeometry, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        guard upsampleTablesFit(g) else { return Reference.upsample2d(g, x, y) }
        let inPlane = g.inHeight * g.inWidth, outPlane = g.outHeight * g.outWidth
        let ow = g.outWidth, iw = g.inWidth
        switch g.mode {
        case .nearest:
            let th = nearestTable(input: g.inHeight, output: g.outHeight, ratio: g.ratioH)
            let tw = nearestTable(input: g.inWidth, output: g.outWidth, ratio: g.ratioW)
            th.withUnsafeBufferPointer { th in
                tw.withUnsafeBufferPointer { tw in
                    forEachPlane(g.planes, elementsPerPlane: outPlane) { p in
                        let src = x + p * inPlane, dst = y + p * outPlane
                        for oy in 0..<g.outHeight {
                            let row = dst + oy * ow
                            if oy > 0 && th[oy] == th[oy - 1] {
                                row.update(from: row - ow, count: ow)   // the same source row again
                                continue
                            }
                            let s = src + th[oy] * iw
                            for ox in 0..<ow { row[ox] = s[tw[ox]] }
                        }
                    }
                }
            }
        case .bilinear(let ac):
            let th = linearTable(input: g.inHeight, output: g.outHeight, ratio: g.ratioH, alignCorners: ac)
            let tw = linearTable(input: g.inWidth, output: g.outWidth, ratio: g.ratioW, alignCorners: ac)
            th.withUnsafeBufferPointer { th in
                tw.withUnsafeBufferPointer { tw in
                    forEachPlane(g.planes, elementsPerPlane: outPlane) { p in
                        let src = x + p * inPlane, dst = y + p * outPlane
                        for oy in 0..<g.outHeight {
                            let h = th[oy]
                            let r0 = src + h.i0 * iw, r1 = src + h.i1 * iw, row = dst + oy * ow
                            for ox in 0..<ow {
                                let w = tw[ox]
                                let top = w.l0 * r0[w.i0] + w.l1 * r0[w.i1]
                                let bottom = w.l0 * r1[w.i0] + w.l1 * r1[w.i1]
                                row[ox] = h.l0 * top + h.l1 * bottom
                            }
                        }
                    }
                }
            }
        }
    }

    /// See ``Reference/upsample2dBackward(_:gradOutput:_:)``; planes in parallel (each
    /// writes only its own gradient plane), same additions in the same order.
    static func upsample2dBackward(_ g: Upsample2DGeometry, gradOutput gy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>) {
        guard upsampleTablesFit(g) else { return Reference.upsample2dBackward(g, gradOutput: gy, dx) }
        let inPlane = g.inHeight * g.inWidth, outPlane = g.outHeight * g.outWidth
        let ow = g.outWidth, iw = g.inWidth
        switch g.mode {
        case .nearest:
            let th = nearestTable(input: g.inHeight, output: g.outHeight, ratio: g.ratioH)
            let tw = nearestTable(input: g.inWidth, output: g.outWidth, ratio: g.ratioW)
            th.withUnsafeBufferPointer { th in
                tw.withUnsafeBufferPointer { tw in
                    forEachPlane(g.planes, elementsPerPlane: outPlane) { p in
                        let d = dx + p * inPlane, src = gy + p * outPlane
                        d.update(repeating: 0, count: inPlane)
                        for oy in 0..<g.outHeight {
                            let row = d + th[oy] * iw, s = src + oy * ow
                            for ox in 0..<ow { row[tw[ox]] += s[ox] }
                        }
                    }
                }
            }
        case .bilinear(let ac):
            let th = linearTable(input: g.inHeight, output: g.outHeight, ratio: g.ratioH, alignCorners: ac)
            let tw = linearTable(input: g.inWidth, output: g.outWidth, ratio: g.ratioW, alignCorners: ac)
            th.withUnsafeBufferPointer { th in
                tw.withUnsafeBufferPointer { tw in
                    forEachPlane(g.planes, elementsPerPlane: outPlane) { p in
                        let d = dx + p * inPlane, src = gy + p * outPlane
                        d.update(repeating: 0, count: inPlane)
                        for oy in 0..<g.outHeight {
                            let h = th[oy]
                            let r0 = d + h.i0 * iw, r1 = d + h.i1 * iw, s = src + oy * ow
                            for ox in 0..<ow {
                                let w = tw[ox], v = s[ox]
                                r0[w.i0] += h.l0 * w.l0 * v
                                r0[w.i1] += h.l0 * w.l1 * v
                                r1[w.i0] += h.l1 * w.l0 * v
                                r1[w.i1] += h.l1 * w.l1 * v
                            }
                        }
                    }
                }
            }
        }
    }
}
