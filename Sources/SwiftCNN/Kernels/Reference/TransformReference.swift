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
