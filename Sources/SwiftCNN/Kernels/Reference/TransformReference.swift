// Moving elements without arithmetic: axis permutation and 2-D zero padding / cropping.

extension Reference {
    /// y = x with its axes permuted: y's dim i is x's dim perm[i] (x: `inShape`, validated;
    /// perm a permutation of 0..<rank). One element at a time, the source offset computed
    /// from the output's multi-index.
    static func transpose(_ x: UnsafePointer<Float>, inShape: [Int], perm: [Int], _ y: UnsafeMutablePointer<Float>) {
        let r = inShape.count
        var inStrides = [Int](repeating: 1, count: r)
        for d in stride(from: r - 2, through: 0, by: -1) { inStrides[d] = inStrides[d + 1] * inShape[d + 1] }
        let outShape = perm.map { inShape[$0] }
        let count = inShape.reduce(1, *)
        for i in 0..<count {
            var rest = i, src = 0
            for d in stride(from: r - 1, through: 0, by: -1) {
                src += (rest % outShape[d]) * inStrides[perm[d]]
                rest /= outShape[d]
            }
            y[i] = x[src]
        }
    }

    /// y = x with `pad` zero rows/columns around each of `planes` planes of h × w.
    /// x: [planes, h, w]; y: [planes, h + top + bottom, w + left + right], every element written.
    static func zeroPad2d(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, planes: Int, height h: Int, width w: Int,
                          _ pad: Padding2D) {
        let oh = h + pad.top + pad.bottom, ow = w + pad.left + pad.right
        for p in 0..<planes {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let iy = oy - pad.top, ix = ox - pad.left
                    let inside = iy >= 0 && iy < h && ix >= 0 && ix < w
                    y[(p * oh + oy) * ow + ox] = inside ? x[(p * h + iy) * w + ix] : 0
                }
            }
        }
    }

    /// The adjoint of ``zeroPad2d(_:_:planes:height:width:_:)``: the inner h × w window of each
    /// padded plane. g: [planes, h + top + bottom, w + left + right]; dx: [planes, h, w].
    static func crop2d(_ g: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, planes: Int, height h: Int, width w: Int,
                       _ pad: Padding2D) {
        let oh = h + pad.top + pad.bottom, ow = w + pad.left + pad.right
        for p in 0..<planes {
            for iy in 0..<h {
                for ix in 0..<w {
                    dx[(p * h + iy) * w + ix] = g[(p * oh + iy + pad.top) * ow + ix + pad.left]
                }
            }
        }
    }
}

// Slicing, gathering and batch broadcast (SliceGather.swift).
extension Reference {
    /// The input offset of every output element of a slice, in output order, passed to
    /// `body(outputIndex, inputOffset)`. inShape: x's shape (rank 1 to 4); axes: one
    /// resolved ``SliceAxis`` per axis, every element of the result inside x.
    static func forEachSliceElement(inShape: [Int], _ axes: [SliceAxis], _ body: (Int, Int) -> Void) {
        // Pad to 4 axes in front.
        let pad = 4 - inShape.count
        let shape = [Int](repeating: 1, count: pad) + inShape
        let a = [SliceAxis](repeating: SliceAxis(start: 0, step: 1, count: 1), count: pad) + axes
        var strides = [Int](repeating: 1, count: 4)
        for d in stride(from: 2, through: 0, by: -1) { strides[d] = strides[d + 1] * shape[d + 1] }
        var j = 0
        for i0 in 0..<a[0].count {
            let o0 = (a[0].start + i0 * a[0].step) * strides[0]
            for i1 in 0..<a[1].count {
                let o1 = o0 + (a[1].start + i1 * a[1].step) * strides[1]
                for i2 in 0..<a[2].count {
                    let o2 = o1 + (a[2].start + i2 * a[2].step) * strides[2]
                    for i3 in 0..<a[3].count {
                        body(j, o2 + a[3].start + i3 * a[3].step)
                        j += 1
                    }
                }
            }
        }
    }

    /// y = the slice of x (x: `inShape`; y: the axes' counts).
    static func slice(_ x: UnsafePointer<Float>, inShape: [Int], _ axes: [SliceAxis], _ y: UnsafeMutablePointer<Float>) {
        forEachSliceElement(inShape: inShape, axes) { j, src in y[j] = x[src] }
    }

    /// dx = 0 except at the sliced elements, which get g (each element is taken once).
    static func sliceBackward(_ g: UnsafePointer<Float>, inShape: [Int], _ axes: [SliceAxis], _ dx: UnsafeMutablePointer<Float>) {
        dx.update(repeating: 0, count: inShape.reduce(1, *))
        forEachSliceElement(inShape: inShape, axes) { j, dst in dx[dst] = g[j] }
    }

    /// y[o, k, i] = x[o, indices[k], i]. x: [outer, axisSize, inner]; y: [outer, indices.count,
    /// inner]; every index in 0..<axisSize.
    static func gather(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, outer: Int, axisSize: Int, inner: Int,
                       indices: [Int]) {
        let k = indices.count
        for o in 0..<outer {
            for (j, idx) in indices.enumerated() {
                let src = x + (o * axisSize + idx) * inner, dst = y + (o * k + j) * inner
                for i in 0..<inner { dst[i] = src[i] }
            }
        }
    }

    /// dx[o, a, i] = Σ over k with indices[k] == a of g[o, k, i] (0 where no index is a),
    /// accumulated in index order.
    static func gatherBackward(_ g: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, outer: Int, axisSize: Int,
                               inner: Int, indices: [Int]) {
        let k = indices.count
        dx.update(repeating: 0, count: outer * axisSize * inner)
        for o in 0..<outer {
            for (j, idx) in indices.enumerated() {
                let src = g + (o * k + j) * inner, dst = dx + (o * axisSize + idx) * inner
                for i in 0..<inner { dst[i] += src[i] }
            }
        }
    }

    /// y = `times` copies of x[0..<count] one after another.
    static func repeatRows(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, times: Int) {
        for t in 0..<times { (y + t * count).update(from: x, count: count) }
    }

    /// y[i] = Σ_r g[r, i] in double precision. g: [rows, count]; y: [count]; scratch: count doubles.
    static func sumRows(_ g: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, count: Int,
                        scratch: UnsafeMutablePointer<Double>) {
        scratch.update(repeating: 0, count: count)
        for r in 0..<rows {
            let row = g + r * count
            for i in 0..<count { scratch[i] += Double(row[i]) }
        }
        for i in 0..<count { y[i] = Float(scratch[i]) }
    }
}
