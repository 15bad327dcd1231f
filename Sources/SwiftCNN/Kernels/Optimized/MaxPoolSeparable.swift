// Max pooling in two passes, bitwise equal to the reference, which takes a window's elements
// in row-major order and replaces the running value m by v when v > m or v is NaN. That step
// keeps the first of equal values (so the first of +0 and −0) and the last NaN.
//
// Narrow maps (`poolNarrowPlanes`, PoolingSIMD.swift): along each window row first, then down
// the window's rows. The step is associative: combining the results of consecutive runs of
// the sequence, in order, with the same step gives the same bits as one running value, and
// each window row is such a run. This holds for every input, NaN payloads and signed zeros
// included. Padding is −∞, which the step never takes over a value already held (and −∞
// over −∞ is the same bits).
//
// Wider maps (`maxPoolRowsPlanes`, here): down first, then along the rows. That is another
// order, so it is used only for planes without NaN and −0: there no two values compare equal
// with different bits, and a window's maximum has the same bits in any order. A plane holding
// either (rare) takes the row-major `poolPlane`.
//
// In both, a k×k window costs about 2·(k − 1) vector steps instead of k², results are shared
// by neighbouring windows, and without NaNs the step is one `vmaxps` (v > m ? v : m, which
// keeps m on ties) instead of two compares, a mask or and a blend.

extension Optimized {
    /// One step of max pooling on 16 lanes: v where v > m or v is NaN, else m.
    @inline(always)
    static func maxStep(_ m: SIMD16<Float>, _ v: SIMD16<Float>) -> SIMD16<Float> {
        var r = m
        r.replace(with: v, where: (v .> m) .| (v .!= v))
        return r
    }

    /// The step when neither value is NaN: v where v > m, else m (one `vmaxps`); the same
    /// result as ``maxStep(_:_:)`` for such values.
    @inline(always)
    static func maxStepNoNaN(_ m: SIMD16<Float>, _ v: SIMD16<Float>) -> SIMD16<Float> {
        var r = m
        r.replace(with: v, where: v .> m)
        return r
    }

    /// ``maxStep(_:_:)``, or ``maxStepNoNaN(_:_:)`` when `exact` is false (a constant after
    /// inlining).
    @inline(always)
    static func maxStep(_ m: SIMD16<Float>, _ v: SIMD16<Float>, exact: Bool) -> SIMD16<Float> {
        exact ? maxStep(m, v) : maxStepNoNaN(m, v)
    }

    /// Whether any of the `n` floats at `p` is NaN.
    static func containsNaN(_ p: UnsafePointer<Float>, _ n: Int) -> Bool {
        var seen = SIMDMask<SIMD16<Int32>>(repeating: false)
        var i = 0
        while i + 16 <= n {
            let v = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self)
            seen .|= v .!= v
            i += 16
        }
        if i < n && n >= 16 {
            // The tail as one vector ending at n (it overlaps the last block).
            let v = UnsafeRawPointer(p + n - 16).loadUnaligned(as: SIMD16<Float>.self)
            seen .|= v .!= v
            i = n
        }
        if any(seen) { return true }
        while i < n {
            if p[i].isNaN { return true }
            i += 1
        }
        return false
    }

    /// Whether any of the `n` floats at `p` (n ≥ 16) is NaN or −0: the values for which the
    /// order of a window's steps can change the result's bits.
    static func containsNaNOrNegativeZero(_ p: UnsafePointer<Float>, _ n: Int) -> Bool {
        var seen = SIMDMask<SIMD16<Int32>>(repeating: false)
        let negativeZero = SIMD16<UInt32>(repeating: 0x8000_0000)
        var i = 0
        while i < n {
            let at = min(i, n - 16)  // the last block ends at n (and overlaps)
            let v = UnsafeRawPointer(p + at).loadUnaligned(as: SIMD16<Float>.self)
            seen .|= (v .!= v) .| (unsafeBitCast(v, to: SIMD16<UInt32>.self) .== negativeZero)
            i = at + 16
        }
        return any(seen)
    }

    /// Most floats of the wide path's padded row (it lives on the stack).
    static let maxRowsScratchLimit = 16384

    /// Length of the wide path's padded row: input column c at PW + c, −∞ around it, and
    /// room for every read of the pass along the row (16 outputs read 16·sW + KW − 1
    /// positions from sW·x on, for x up to the output width rounded up to 16, minus 16).
    /// Every size is bounded by ``usesMaxRowsPath(_:)``'s limits before it is computed there.
    @inline(__always)
    static func maxRowsLength(_ g: Pool2DGeometry) -> Int {
        let owv = (g.outWidth + 15) / 16 * 16
        return max(g.padding.w + g.inWidth, g.stride.w * owv + g.kernel.w) + 16
    }

    /// Whether ``maxPoolRowsPlanes(_:_:_:planes:end:)`` takes this geometry: horizontal stride
    /// 1 or 2 (any vertical stride), rows 16 to 8192 wide, windows and padding up to 64, and a
    /// padded row of at most ``maxRowsScratchLimit`` floats.
    static func usesMaxRowsPath(_ g: Pool2DGeometry) -> Bool {
        guard (1...2).contains(g.stride.w), g.stride.h >= 1, g.inWidth >= 16, g.kernel.w <= 64, g.kernel.h <= 64,
              g.padding.w <= 64, g.inWidth <= 8192, g.outWidth <= 8192 else { return false }
        return maxRowsLength(g) <= maxRowsScratchLimit
    }

    /// Max pooling of planes `planes` of `input` into `output`, bitwise equal to
    /// ``Reference/maxPool2d(_:input:output:)``, for a geometry ``usesMaxRowsPath(_:)`` takes.
    ///
    /// A plane without NaN and −0 has no two values that compare equal with different bits,
    /// so a window's maximum has the same bits whatever the order of its steps, and the step
    /// is one `vmaxps`. Such a plane is pooled down first: for output row y, the maximum over
    /// input rows max(y·sH − PH, 0) ..< min(y·sH − PH + KH, H) of each column, by plain loads
    /// of whole rows, into a row padded with −∞ (column c at PW + c); then along it: stride 1,
    /// KW loads per 16 outputs; stride 2, the window maxima at 32 consecutive positions from
    /// 2x on, of which the even ones are output x ..< x + 16. A plane holding a NaN or −0
    /// (rare) takes ``poolPlane(_:_:_:end:isMax:)``, which keeps the reference's order.
    static func maxPoolRowsPlanes(_ g: Pool2DGeometry, _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>,
                                  planes: Range<Int>, end: UnsafePointer<Float>) {
        typealias V = SIMD16<Float>
        let h = g.inHeight, w = g.inWidth, oh = g.outHeight, ow = g.outWidth
        let kh = g.kernel.h, kw = g.kernel.w, sh = g.stride.h, sw = g.stride.w
        let ph = g.padding.h, pw = g.padding.w
        let length = maxRowsLength(g)
        @inline(always) func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        @inline(always) func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }
        withUnsafeTemporaryAllocation(of: Float.self, capacity: length) { buf in
            guard let row = buf.baseAddress else { return }
            // −∞ around the data; the data's places are rewritten for every output row.
            row.update(repeating: -.infinity, count: length)
            for plane in planes {
                let src = input + plane * (h * w), dst = output + plane * (oh * ow)
                if containsNaNOrNegativeZero(src, h * w) {
                    poolPlane(g, src, dst, end: end, isMax: true)
                    continue
                }
                for y in 0..<oh {
                    let y0 = y * sh - ph
                    let ys = max(y0, 0), ye = min(y0 + kh, h)
                    let out = dst + y * ow
                    if ys >= ye {
                        out.update(repeating: -.infinity, count: ow)
                        continue
                    }
                    // Down the window's rows, 16 columns at a time (the last block overlaps).
                    var c = 0
                    while c < w {
                        let at = min(c, w - 16)
                        var m = load(src + ys * w + at)
                        for iy in (ys + 1)..<max(ye, ys + 1) { m = maxStepNoNaN(m, load(src + iy * w + at)) }
                        store(m, row + pw + at)
                        c = at + 16
                    }
                    // Along the row.
                    var x = 0
                    while x < ow {
                        let xb = ow >= 16 ? min(x, ow - 16) : 0
                        let m: V
                        if sw == 1 {
                            var a = load(row + xb)
                            for l in 1..<kw { a = maxStepNoNaN(a, load(row + xb + l)) }
                            m = a
                        } else {
                            let p = row + 2 * xb
                            var a = load(p), b = load(p + 16)
                            for l in 1..<kw {
                                a = maxStepNoNaN(a, load(p + l))
                                b = maxStepNoNaN(b, load(p + 16 + l))
                            }
                            // The even positions: the low halves of 16 pairs.
                            let pairs = SIMD16<UInt64>(lowHalf: unsafeBitCast(a, to: SIMD8<UInt64>.self),
                                                       highHalf: unsafeBitCast(b, to: SIMD8<UInt64>.self))
                            m = unsafeBitCast(SIMD16<UInt32>(truncatingIfNeeded: pairs), to: V.self)
                        }
                        if ow >= 16 {
                            store(m, out + xb)
                        } else {
                            for lane in 0..<ow { out[lane] = m[lane] }
                        }
                        x = xb + 16
                    }
                }
            }
        }
    }
}
