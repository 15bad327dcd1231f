#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// Local response normalization and softmax with SIMD16<Float>. Same contracts as the
// ``Reference`` twins (x and y must not alias); arithmetic in float where the references
// use double, so results agree to a few ulp (the tests state the tolerances).

extension Optimized {
    /// Loads `count` (<= 16) floats at `p`, zeros in the lanes past them.
    @inline(__always)
    static func loadPartial(_ p: UnsafePointer<Float>, _ count: Int) -> SIMD16<Float> {
        if count == 16 { return UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self) }
        var v = SIMD16<Float>()
        for j in 0..<count { v[j] = p[j] }
        return v
    }

    /// Stores the first `count` (<= 16) lanes of `v` at `p`.
    @inline(__always)
    static func storePartial(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>, _ count: Int) {
        if count == 16 {
            UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
            return
        }
        for j in 0..<count { p[j] = v[j] }
    }

    /// Local response normalization across channels (``Reference/localResponseNorm(_:_:_:_:)``'s
    /// formula), channel by channel, 16 spatial positions at a time (the window's channel rows
    /// stream through the cache): each window sum of squares is summed directly (no running
    /// sum, so no drift), then y = x / (k + α/size·Σ)^β with β = 0.75 as 1/(√d·√√d) and other
    /// β through powf per lane. Channels are spread over the threads when there is work enough.
    static func localResponseNorm(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                  _ g: ChannelGeometry, _ p: LRNParameters) {
        typealias V = SIMD16<Float>
        let before = p.size / 2, after = (p.size - 1) / 2
        let scale = p.alpha / Float(p.size)
        let c = g.channels, s = g.spatial
        let items = g.batch * c
        let fast = p.beta == 0.75
        let body = { (item: Int) in
            let n = item / c, ch = item % c
            let lo = max(0, ch - before), hi = min(c - 1, ch + after)
            var s0 = 0
            while s0 < s {
                let cnt = min(16, s - s0)
                let base = x + n * c * s + s0
                let out = y + n * c * s + s0
                var sum = V()
                for j in lo...hi {
                    let v = loadPartial(base + j * s, cnt)
                    sum = sum.addingProduct(v, v)
                }
                let d = p.k + scale * sum
                let xv = loadPartial(base + ch * s, cnt)
                var r: V
                if fast {
                    let root = d.squareRoot()
                    r = xv / (root * root.squareRoot())
                } else {
                    r = V()
                    for j in 0..<cnt { r[j] = xv[j] / powf(d[j], p.beta) }
                }
                storePartial(r, out + ch * s, cnt)
                s0 += 16
            }
        }
        let work = items &* s &* p.size
        if work < 1 << 15 || Threading.numThreads < 2 || items < 2 {
            for i in 0..<items { body(i) }
        } else {
            let chunks = min(items, Threading.numThreads * 4)
            Threading.parallelFor(chunks) { i in
                for item in (items * i / chunks)..<(items * (i + 1) / chunks) { body(item) }
            }
        }
    }

    /// Softmax along the middle axis of [outer, axis, inner] (``Reference/softmax(_:_:_:)``'s
    /// contract) in float: the maximum (NaN wins), e^(x − max) with ``expSIMD(_:)``, their
    /// sum, then a division. 16 lanes along the axis when inner == 1, along inner otherwise.
    static func softmax(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ g: AxisGeometry) {
        typealias V = SIMD16<Float>
        let n = g.axis
        if g.inner == 1 {
            for o in 0..<g.outer {
                let src = x + o * n, dst = y + o * n
                var mv = V(repeating: -.infinity)
                var i = 0
                while i < n {
                    let cnt = min(16, n - i)
                    var v = loadPartial(src + i, cnt)
                    if cnt < 16 { for j in cnt..<16 { v[j] = -.infinity } }
                    mv.replace(with: v, where: (v .> mv) .| (v .!= v))
                    i += 16
                }
                let m = any(mv .!= mv) ? Float.nan : mv.max()
                var acc = V()
                i = 0
                while i < n {
                    let cnt = min(16, n - i)
                    var e = expSIMD(loadPartial(src + i, cnt) - m)
                    if cnt < 16 { for j in cnt..<16 { e[j] = 0 } }
                    acc += e
                    storePartial(e, dst + i, cnt)
                    i += 16
                }
                let total = acc.sum()
                i = 0
                while i < n {
                    let cnt = min(16, n - i)
                    storePartial(loadPartial(dst + i, cnt) / total, dst + i, cnt)
                    i += 16
                }
            }
            return
        }
        let inner = g.inner
        for o in 0..<g.outer {
            var i0 = 0
            while i0 < inner {
                let cnt = min(16, inner - i0)
                let src = x + o * n * inner + i0, dst = y + o * n * inner + i0
                var m = V(repeating: -.infinity)
                for a in 0..<n {
                    let v = loadPartial(src + a * inner, cnt)
                    m.replace(with: v, where: (v .> m) .| (v .!= v))
                }
                var acc = V()
                for a in 0..<n {
                    let e = expSIMD(loadPartial(src + a * inner, cnt) - m)
                    acc += e
                    storePartial(e, dst + a * inner, cnt)
                }
                for a in 0..<n {
                    storePartial(loadPartial(dst + a * inner, cnt) / acc, dst + a * inner, cnt)
                }
                i0 += 16
            }
        }
    }
}

extension Optimized {
    /// Layer normalization over rows (``Reference/layerNorm(_:weight:bias:_:rows:size:eps:)``'s
    /// contract; x and y may alias) in 16-lane float: the row sum, then the sum of squared
    /// deviations from the mean (two passes, no cancellation), each reduced across lanes in
    /// double; then y = (x − mean)·rstd·w + b. Rows are spread over the threads when there
    /// is work enough.
    static func layerNorm(_ x: UnsafePointer<Float>, weight w: UnsafePointer<Float>?, bias b: UnsafePointer<Float>?,
                          _ y: UnsafeMutablePointer<Float>, rows: Int, size: Int, eps: Float) {
        typealias V = SIMD16<Float>
        let body = { (r: Int) in
            let row = x + r * size, out = y + r * size
            var acc = V()
            var i = 0
            while i < size {
                acc += loadPartial(row + i, min(16, size - i))
                i += 16
            }
            var total = 0.0
            for j in 0..<16 { total += Double(acc[j]) }
            let mean = Float(total / Double(size))
            let mv = V(repeating: mean)
            var sq = V()
            i = 0
            while i < size {
                let cnt = min(16, size - i)
                var d = loadPartial(row + i, cnt) - mv
                if cnt < 16 { for j in cnt..<16 { d[j] = 0 } }
                sq = sq.addingProduct(d, d)
                i += 16
            }
            var sqTotal = 0.0
            for j in 0..<16 { sqTotal += Double(sq[j]) }
            let rstd = V(repeating: Float(1 / (sqTotal / Double(size) + Double(eps)).squareRoot()))
            i = 0
            while i < size {
                let cnt = min(16, size - i)
                var v = (loadPartial(row + i, cnt) - mv) * rstd
                if let w { v *= loadPartial(w + i, cnt) }
                if let b { v += loadPartial(b + i, cnt) }
                storePartial(v, out + i, cnt)
                i += 16
            }
        }
        if rows < 2 || rows &* size < 1 << 15 || Threading.numThreads < 2 {
            for r in 0..<rows { body(r) }
        } else {
            let chunks = min(rows, Threading.numThreads * 4)
            Threading.parallelFor(chunks) { c in
                for r in (rows * c / chunks)..<(rows * (c + 1) / chunks) { body(r) }
            }
        }
    }
}
