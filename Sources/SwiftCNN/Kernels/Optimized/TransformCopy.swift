// Axis permutation and 2-D zero padding / cropping with block copies (the optimized twins of
// TransformReference.swift; they copy, so they are bitwise equal to it).

extension Optimized {
    /// y = x with its axes permuted (see ``Reference/transpose(_:inShape:perm:_:)``): an
    /// odometer over the output's rows (its last dim), each row one block copy when the last
    /// axis stays last, else a strided gather; no division per element.
    static func transpose(_ x: UnsafePointer<Float>, inShape: [Int], perm: [Int], _ y: UnsafeMutablePointer<Float>) {
        let r = inShape.count
        var inStrides = [Int](repeating: 1, count: r)
        for d in stride(from: r - 2, through: 0, by: -1) { inStrides[d] = inStrides[d + 1] * inShape[d + 1] }
        let outShape = perm.map { inShape[$0] }
        let src = perm.map { inStrides[$0] }   // x's stride along each output dim
        let inner = outShape[r - 1], step = src[r - 1]
        let rows = inShape.reduce(1, *) / inner
        var index = [Int](repeating: 0, count: r)
        var offset = 0
        for row in 0..<rows {
            let dst = y + row * inner
            if step == 1 {
                dst.update(from: x + offset, count: inner)
            } else {
                var s = offset
                for j in 0..<inner { dst[j] = x[s]; s += step }
            }
            var d = r - 2
            while d >= 0 {
                index[d] += 1
                offset += src[d]
                if index[d] < outShape[d] { break }
                offset -= src[d] * outShape[d]
                index[d] = 0
                d -= 1
            }
        }
    }

    /// Zero padding by rows (see ``Reference/zeroPad2d(_:_:planes:height:width:_:)``).
    static func zeroPad2d(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, planes: Int, height h: Int, width w: Int,
                          _ pad: Padding2D) {
        let oh = h + pad.top + pad.bottom, ow = w + pad.left + pad.right
        for p in 0..<planes {
            let out = y + p * oh * ow, plane = x + p * h * w
            out.update(repeating: 0, count: pad.top * ow)
            for iy in 0..<h {
                let row = out + (pad.top + iy) * ow
                row.update(repeating: 0, count: pad.left)
                (row + pad.left).update(from: plane + iy * w, count: w)
                (row + pad.left + w).update(repeating: 0, count: pad.right)
            }
            (out + (pad.top + h) * ow).update(repeating: 0, count: pad.bottom * ow)
        }
    }

    /// Cropping by rows (see ``Reference/crop2d(_:_:planes:height:width:_:)``).
    static func crop2d(_ g: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, planes: Int, height h: Int, width w: Int,
                       _ pad: Padding2D) {
        let oh = h + pad.top + pad.bottom, ow = w + pad.left + pad.right
        for p in 0..<planes {
            let src = g + p * oh * ow + pad.top * ow + pad.left
            for iy in 0..<h { (dx + (p * h + iy) * w).update(from: src + iy * ow, count: w) }
        }
    }
}
