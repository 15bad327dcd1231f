// Pooling with SIMD16<Float> along the output width. Same contracts as the ``Reference``
// pooling kernels (torch semantics: −∞ / zero padding, ceil mode, count_include_pad,
// adaptive windows).
//
// Paths, by geometry (`poolPath`): 2×2 windows with stride 2 (`pool2x2Plane`); max pooling
// with a horizontal stride of 1 or 2 on maps 16 and wider (`maxPoolRowsPlanes` in
// MaxPoolSeparable.swift: down first, then along the rows, for planes without NaN and −0);
// maps narrower than 32, for max pooling than 16 (`poolNarrowPlanes`: the padded plane as
// one flat array; max pooling window rows first, then down). Otherwise (`poolPlane`), output columns whose window lies inside the
// input row (and, for the vector's reads, within it) are computed 16 at a time — stride 1 by
// plain loads, stride 2 by loading 32 floats and taking the even or odd lanes; any other
// stride, and the columns at the borders, one by one with the same arithmetic. Max pooling
// is bitwise equal to the reference on every path (NaN propagates). Average pooling sums in
// float (the reference sums in double), in the same order for vector and scalar columns.
// Planes are spread over ``Threading``'s threads when there is enough work.

extension Optimized {
    /// Below this many window reads a pooling stays on the calling thread.
    static let poolParallelThreshold = 1 << 17

    /// Runs `body(plane)` for every plane, in parallel when `workPerPlane · planes` is large.
    @inline(__always)
    static func forEachPlane(_ planes: Int, workPerPlane: Int, _ body: (Int) -> Void) {
        forEachPlaneRange(planes, workPerPlane: workPerPlane) { range in
            for p in range { body(p) }
        }
    }

    /// Runs `body` on consecutive ranges of planes that cover 0 ..< `planes`, in parallel when
    /// `workPerPlane · planes` is large (so that scratch can be set up once per range).
    @inline(__always)
    static func forEachPlaneRange(_ planes: Int, workPerPlane: Int, _ body: (Range<Int>) -> Void) {
        let threads = Threading.numThreads
        if threads < 2 || planes < 2 || planes &* workPerPlane < poolParallelThreshold {
            body(0..<planes)
            return
        }
        let items = min(planes, threads * 4)
        Threading.parallelFor(items) { i in
            body((planes * i / items)..<(planes * (i + 1) / items))
        }
    }

    /// Max pooling, bitwise equal to ``Reference/maxPool2d(_:input:output:)``.
    static func maxPool2d(_ g: Pool2DGeometry, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        pool2d(g, input, output, isMax: true)
    }

    /// Average pooling, ``Reference/avgPool2d(_:input:output:)`` summed in float.
    static func avgPool2d(_ g: Pool2DGeometry, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        pool2d(g, input, output, isMax: false)
    }

    /// The ways ``pool2d(_:_:_:isMax:)`` runs a plane.
    enum PoolPath {
        /// ``pool2x2Plane(_:_:_:isMax:)``: 2×2 windows, stride 2, no padding, all inside.
        case twoByTwo
        /// ``maxPoolRowsPlanes(_:_:_:planes:end:)``: max pooling down the window first, then
        /// along the row.
        case maxRows
        /// ``poolNarrowPlanes(_:_:_:planes:isMax:)``: maps narrower than 32 (max: than 16).
        case narrow
        /// ``poolPlane(_:_:_:end:isMax:)``: everything else.
        case plane
    }

    /// Which path ``pool2d(_:_:_:isMax:)`` takes for `g`:
    /// - 2×2 windows with stride 2 inside the input, except max pooling to rows narrower than
    ///   8 on a narrow map (GoogLeNet's maxpool4, 14×14 → 7×7), where such rows would be one
    ///   scalar window each;
    /// - max pooling on rows 16 and wider: down first, then along the row. On 16–31 wide
    ///   maps it beat the narrow path, most with stride 2 (GoogLeNet's 480×28×28 3×3/2 pool:
    ///   0.57 → 0.30 ms), which computes every padded position and picks out every other;
    /// - narrow maps: the padded-plane path;
    /// - else the per-plane path.
    static func poolPath(_ g: Pool2DGeometry, isMax: Bool) -> PoolPath {
        if g.kernel == Size2D(2) && g.stride == Size2D(2) && g.padding == Size2D(0)
            && 2 * g.outHeight <= g.inHeight && 2 * g.outWidth <= g.inWidth
            && (g.outWidth >= 8 || !isMax || !usesNarrowPath(g)) {
            return .twoByTwo
        }
        if isMax && usesMaxRowsPath(g) { return .maxRows }
        return usesNarrowPath(g) ? .narrow : .plane
    }

    static func pool2d(_ g: Pool2DGeometry, _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>,
                       isMax: Bool) {
        let inPlane = g.inHeight * g.inWidth, outPlane = g.outHeight * g.outWidth
        let work = outPlane &* g.kernel.h &* g.kernel.w
        let path = poolPath(g, isMax: isMax)
        let simple = path == .twoByTwo, narrow = path == .narrow, rows = path == .maxRows
        let end = input + g.planes * inPlane
        forEachPlaneRange(g.planes, workPerPlane: work) { range in
            if rows {
                maxPoolRowsPlanes(g, input, output, planes: range, end: end)
            } else if narrow {
                if isMax {
                    poolNarrowPlanes(g, input, output, planes: range, isMax: true)
                } else {
                    poolNarrowPlanes(g, input, output, planes: range, isMax: false)
                }
            } else {
                for p in range {
                    if simple {
                        pool2x2Plane(g, input + p * inPlane, output + p * outPlane, isMax: isMax)
                    } else if isMax {
                        poolPlane(g, input + p * inPlane, output + p * outPlane, end: end, isMax: true)
                    } else {
                        poolPlane(g, input + p * inPlane, output + p * outPlane, end: end, isMax: false)
                    }
                }
            }
        }
    }

    /// One plane of max or average pooling; `end`: the end of the whole input (vector loads
    /// may read a little past a row, never past `end`).
    @inline(__always)
    static func poolPlane(_ g: Pool2DGeometry, _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>,
                          end: UnsafePointer<Float>, isMax: Bool) {
        typealias V = SIMD16<Float>
        let h = g.inHeight, w = g.inWidth, oh = g.outHeight, ow = g.outWidth
        let kh = g.kernel.h, kw = g.kernel.w, sh = g.stride.h, sw = g.stride.w
        let ph = g.padding.h, pw = g.padding.w
        // Columns read by a vector block, past its first window's start (-1: no vector path;
        // huge windows, whose sums could overflow an Int, always take the scalar path).
        var span = -1
        if kw <= 1 << 20 {
            if sw == 1 { span = kw - 1 + 15 } else if sw == 2 { span = 2 * ((kw - 1) / 2) + 31 }
        }
        let firstInside = span < 0 ? 0 : (pw + sw - 1) / sw  // first column whose window starts at >= 0
        // Columns firstInside..<insideEnd have their whole window inside the row.
        let insideEnd = span < 0 ? 0 : min(ow, (w + pw - kw) >= 0 ? (w + pw - kw) / sw + 1 : 0)
        var out = dst
        for y in 0..<oh {
            let y0 = y * sh - ph
            let y1 = min(y0 + kh, h + ph)
            let ys = max(y0, 0), ye = min(y1, h)
            let rowsInDivisor = g.countIncludePad ? y1 - y0 : ye - ys
            var x = 0
            while x < ow {
                // Blocks of 16 inside the row; the last one may start earlier and overlap the
                // previous one. Its loads may run past the row (lanes not used), not past `end`.
                let xb = min(x, insideEnd - 16)
                if x >= firstInside && x < insideEnd && xb >= firstInside && ys < ye
                    && src + (ye - 1) * w + (xb * sw - pw) + span < end {
                    let x0 = xb * sw - pw
                    if isMax {
                        var m = V(repeating: -.infinity)
                        for iy in ys..<ye {
                            let row = src + iy * w + x0
                            for l in 0..<kw {
                                let v = load(row, l, sw)
                                m.replace(with: v, where: (v .> m) .| (v .!= v))
                            }
                        }
                        UnsafeMutableRawPointer(out + xb).storeBytes(of: m, as: V.self)
                    } else {
                        var s = V()
                        for iy in ys..<ye {
                            let row = src + iy * w + x0
                            for l in 0..<kw { s += load(row, l, sw) }
                        }
                        UnsafeMutableRawPointer(out + xb).storeBytes(of: s / Float(rowsInDivisor * kw), as: V.self)
                    }
                    x = xb + 16
                    continue
                }
                // One column, any position.
                let x0 = x * sw - pw
                let x1 = min(x0 + kw, w + pw)
                let xs = max(x0, 0), xe = min(x1, w)
                if isMax {
                    var m = -Float.infinity
                    if xs < xe {
                        for iy in ys..<ye {
                            let row = src + iy * w
                            for ix in xs..<xe {
                                let v = row[ix]
                                if v > m || v.isNaN { m = v }
                            }
                        }
                    }
                    out[x] = m
                } else if ys >= ye || xs >= xe {
                    out[x] = 0
                } else {
                    var s: Float = 0
                    for iy in ys..<ye {
                        let row = src + iy * w
                        for ix in xs..<xe { s += row[ix] }
                    }
                    // The area in Double: exact below 2^53, and no overflow for absurd padding.
                    let divisor = g.countIncludePad ? Double(y1 - y0) * Double(x1 - x0) : Double(ye - ys) * Double(xe - xs)
                    out[x] = s / Float(divisor)
                }
                x += 1
            }
            out += ow
        }
    }

    /// Most floats of the narrow path's scratch: padded plane, outputs and (max) window-row
    /// maxima (it lives on the stack).
    static let narrowPlaneLimit = 6144

    /// Whether ``poolNarrowPlanes(_:_:_:planes:isMax:)`` takes this geometry: strides 1 or 2, input
    /// rows narrower than 32 (where the row-wise vector path of ``poolPlane`` is mostly
    /// scalar), small windows and padding, and scratch of at most ``narrowPlaneLimit`` floats.
    static func usesNarrowPath(_ g: Pool2DGeometry) -> Bool {
        guard (1...2).contains(g.stride.h), (1...2).contains(g.stride.w), g.inWidth < 32, g.inHeight <= 1024,
              g.kernel.h <= 16, g.kernel.w <= 16, g.padding.h <= 16, g.padding.w <= 16,
              g.outHeight <= 2048, g.outWidth <= 64 else { return false }
        let n = narrowSizes(g)
        return n.padded + 16 * n.blocks + n.rowMaxima <= narrowPlaneLimit
    }

    /// Scratch layout of the narrow path: padded row width `pw` (every window inside), padded
    /// rows computed `rows` (= (outHeight − 1)·stride + 1), 16-lane blocks over rows·pw,
    /// the floats of max pooling's window-row maxima (every block's reads down the window),
    /// and the padded plane's float count (covers the input rows and every read of both).
    @inline(__always)
    static func narrowSizes(_ g: Pool2DGeometry) -> (pw: Int, rows: Int, blocks: Int, padded: Int, rowMaxima: Int) {
        let pw = max(g.padding.w + g.inWidth, (g.outWidth - 1) * g.stride.w + g.kernel.w)
        let rows = (g.outHeight - 1) * g.stride.h + 1
        let ph = max(g.padding.h + g.inHeight, rows - 1 + g.kernel.h)
        let blocks = (rows * pw + 15) / 16
        // Max: the blocks' reads of the row maxima reach blocks·16 − 1 + (kh − 1)·pw; those
        // maxima read the plane up to rowMaxima − 1 + kw − 1. Average: the plane up to
        // blocks·16 − 1 + (kh − 1)·pw + kw − 1.
        let rowMaxima = (blocks * 16 + (g.kernel.h - 1) * pw + 15) / 16 * 16
        return (pw, rows, blocks, max(ph * pw, blocks * 16 + g.kernel.h * pw + g.kernel.w, rowMaxima + g.kernel.w), rowMaxima)
    }

    /// One plane of stride-1 or -2 pooling on a narrow map: the plane is copied into a stack
    /// buffer padded with −∞ (max) or 0 (average) on every side, so that the window of output
    /// (y, x) is the kh × kw block at padded (y·sH, x·sW). Windows are evaluated at every
    /// padded position r·PW + c of rows 0…(OH − 1)·sH as one flat array, 16 at a time, by
    /// plain loads (positions that are no output are computed and dropped), and the outputs
    /// picked out. Max: the same comparisons in the same row-major order as the reference
    /// (padding −∞ never wins), hence bitwise equal, NaN included. Average: float sums of the
    /// padded window (zeros add nothing), divided as ``poolPlane`` does (count_include_pad;
    /// an empty window gives 0).
    ///
    /// Planes `planes` of `input` into `output`: the scratch is set up once for them (the
    /// padding keeps its value, as only the input rows' places are rewritten per plane).
    @inline(__always)
    static func poolNarrowPlanes(_ g: Pool2DGeometry, _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>,
                                 planes: Range<Int>, isMax: Bool) {
        typealias V = SIMD16<Float>
        let h = g.inHeight, w = g.inWidth, oh = g.outHeight, ow = g.outWidth
        let kh = g.kernel.h, kw = g.kernel.w, ph = g.padding.h, pw = g.padding.w
        let sh = g.stride.h, sw = g.stride.w
        let (PW, _, blocks, padded, rowMaxima) = narrowSizes(g)
        let pad: Float = isMax ? -.infinity : 0
        withUnsafeTemporaryAllocation(of: Float.self, capacity: padded + blocks * 16 + rowMaxima) { buf in
            guard let base = buf.baseAddress else { return }
            let p = base, o = base + padded
            p.initialize(repeating: pad, count: padded)
            let inputEnd = input + g.planes * (h * w)
            // Rows of 16 or fewer: one vector per row, the lanes past the row set to the
            // padding. They land on this row's right padding, the next row's left padding
            // and places the next row's copy (or, past the last, padding rows or the scratch
            // after the plane) writes, so every place of the padded plane keeps its value.
            let keep = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) .< Int32(truncatingIfNeeded: w)
            for plane in planes {
                let src = input + plane * (h * w), dst = output + plane * (oh * ow)
                for iy in 0..<h {
                    let from = src + iy * w, to = p + (iy + ph) * PW + pw
                    if w <= 16 && inputEnd - from >= 16 {
                        let v = UnsafeRawPointer(from).loadUnaligned(as: V.self)
                        UnsafeMutableRawPointer(to).storeBytes(of: V(repeating: pad).replacing(with: v, where: keep), as: V.self)
                    } else {
                        copyFloats(to, from, w)
                    }
                }
                if isMax {
                    // Rows first (MaxPoolSeparable.swift): the window-row maximum at every flat
                    // position, then the step down the window's rows, in order; the exact step
                    // only when the plane holds a NaN.
                    if containsNaN(src, h * w) {
                        narrowMaxPasses(p, o, blocks: blocks, rowMaxima: rowMaxima, kh: kh, kw: kw, rowWidth: PW, exact: true)
                    } else {
                        narrowMaxPasses(p, o, blocks: blocks, rowMaxima: rowMaxima, kh: kh, kw: kw, rowWidth: PW, exact: false)
                    }
                } else {
                    for b in 0..<blocks {
                        let f = b * 16
                        var s = V()
                        for iy in 0..<kh {
                            let row = UnsafeRawPointer(p + f + iy * PW)
                            for l in 0..<kw { s += row.loadUnaligned(fromByteOffset: 4 * l, as: V.self) }
                        }
                        UnsafeMutableRawPointer(o + f).storeBytes(of: s, as: V.self)
                    }
                }
                if isMax {
                    // Output rows of 16 (stride 2: 8) or fewer: one vector store per row whose
                    // 16 floats end inside the plane (another thread may write the next one),
                    // the lanes past the row overwritten by the rows after it; reads stay in
                    // the scratch after `o` (`readable` floats).
                    let readable = blocks * 16 + rowMaxima
                    if sw == 1 {
                        for y in 0..<oh {
                            let from = o + y * sh * PW
                            if ow <= 16 && y * ow + 16 <= oh * ow && y * sh * PW + 16 <= readable {
                                UnsafeMutableRawPointer(dst + y * ow).storeBytes(of: UnsafeRawPointer(from).loadUnaligned(as: V.self), as: V.self)
                            } else {
                                copyFloats(dst + y * ow, from, ow)
                            }
                        }
                    } else {
                        for y in 0..<oh {
                            let from = o + y * sh * PW
                            if ow <= 8 && y * ow + 16 <= oh * ow && y * sh * PW + 32 <= readable {
                                let v = UnsafeRawPointer(from).loadUnaligned(as: SIMD32<Float>.self).evenHalf
                                UnsafeMutableRawPointer(dst + y * ow).storeBytes(of: v, as: V.self)
                            } else {
                                for x in 0..<ow { dst[y * ow + x] = from[x * sw] }
                            }
                        }
                    }
                    continue
                }
                for y in 0..<oh {
                    let y0 = y * sh - ph, y1 = min(y0 + kh, h + ph)
                    let ys = max(y0, 0), ye = min(y1, h)
                    let rows = g.countIncludePad ? y1 - y0 : ye - ys
                    for x in 0..<ow {
                        let x0 = x * sw - pw, x1 = min(x0 + kw, w + pw)
                        let xs = max(x0, 0), xe = min(x1, w)
                        if ys >= ye || xs >= xe {
                            dst[y * ow + x] = 0
                        } else {
                            let cols = g.countIncludePad ? x1 - x0 : xe - xs
                            dst[y * ow + x] = o[y * sh * PW + x * sw] / Float(rows * cols)
                        }
                    }
                }
            }
        }
    }

    /// The narrow path's max passes over the padded plane `p`: window-row maxima at every
    /// flat position (into the scratch after the `blocks`·16 outputs), then the step down
    /// the window's rows into `o`.
    @inline(always)
    static func narrowMaxPasses(_ p: UnsafePointer<Float>, _ o: UnsafeMutablePointer<Float>, blocks: Int, rowMaxima: Int,
                                kh: Int, kw: Int, rowWidth: Int, exact: Bool) {
        typealias V = SIMD16<Float>
        let hm = o + blocks * 16
        for f in stride(from: 0, to: rowMaxima, by: 16) {
            let row = UnsafeRawPointer(p + f)
            var m = row.loadUnaligned(as: V.self)
            for l in 1..<kw { m = maxStep(m, row.loadUnaligned(fromByteOffset: 4 * l, as: V.self), exact: exact) }
            UnsafeMutableRawPointer(hm + f).storeBytes(of: m, as: V.self)
        }
        for b in 0..<blocks {
            let f = b * 16
            var m = UnsafeRawPointer(hm + f).loadUnaligned(as: V.self)
            for iy in 1..<kh { m = maxStep(m, UnsafeRawPointer(hm + f + iy * rowWidth).loadUnaligned(as: V.self), exact: exact) }
            UnsafeMutableRawPointer(o + f).storeBytes(of: m, as: V.self)
        }
    }

    /// 2×2 windows with stride 2 inside the plane: 16 (or 8) outputs per step from two rows
    /// of 32 (or 16) inputs, even and odd lanes; the last block may overlap the previous one.
    /// The same comparisons (max) and summation order (average) as ``poolPlane(_:_:_:isMax:)``.
    @inline(__always)
    static func pool2x2Plane(_ g: Pool2DGeometry, _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>,
                             isMax: Bool) {
        let w = g.inWidth, oh = g.outHeight, ow = g.outWidth
        // (Concrete vector types: generic SIMD code here would not be specialized.)
        @inline(__always) func combine(_ a0: SIMD16<Float>, _ a1: SIMD16<Float>, _ b0: SIMD16<Float>, _ b1: SIMD16<Float>) -> SIMD16<Float> {
            if isMax {
                var m = SIMD16<Float>(repeating: -.infinity)
                m.replace(with: a0, where: (a0 .> m) .| (a0 .!= a0))
                m.replace(with: a1, where: (a1 .> m) .| (a1 .!= a1))
                m.replace(with: b0, where: (b0 .> m) .| (b0 .!= b0))
                m.replace(with: b1, where: (b1 .> m) .| (b1 .!= b1))
                return m
            }
            var s = a0 + a1
            s += b0
            s += b1
            return s / 4
        }
        @inline(__always) func combine(_ a0: SIMD8<Float>, _ a1: SIMD8<Float>, _ b0: SIMD8<Float>, _ b1: SIMD8<Float>) -> SIMD8<Float> {
            let r = combine(SIMD16(lowHalf: a0, highHalf: a0), SIMD16(lowHalf: a1, highHalf: a1),
                            SIMD16(lowHalf: b0, highHalf: b0), SIMD16(lowHalf: b1, highHalf: b1))
            return r.lowHalf
        }
        for y in 0..<oh {
            let r0 = UnsafeRawPointer(src + 2 * y * w), r1 = UnsafeRawPointer(src + (2 * y + 1) * w)
            let o = UnsafeMutableRawPointer(dst + y * ow)
            if ow >= 16 {
                var x = 0
                while x < ow {
                    let xb = min(x, ow - 16)
                    let a = r0.loadUnaligned(fromByteOffset: 8 * xb, as: SIMD32<Float>.self)
                    let b = r1.loadUnaligned(fromByteOffset: 8 * xb, as: SIMD32<Float>.self)
                    o.storeBytes(of: combine(a.evenHalf, a.oddHalf, b.evenHalf, b.oddHalf), toByteOffset: 4 * xb, as: SIMD16<Float>.self)
                    x = xb + 16
                }
            } else if ow >= 8 {
                for step in 0..<2 {
                    let xb = step == 0 ? 0 : ow - 8
                    let a = r0.loadUnaligned(fromByteOffset: 8 * xb, as: SIMD16<Float>.self)
                    let b = r1.loadUnaligned(fromByteOffset: 8 * xb, as: SIMD16<Float>.self)
                    o.storeBytes(of: combine(a.evenHalf, a.oddHalf, b.evenHalf, b.oddHalf), toByteOffset: 4 * xb, as: SIMD8<Float>.self)
                }
            } else {
                let p0 = src + 2 * y * w, p1 = p0 + w
                for x in 0..<ow {
                    let v = combine(SIMD16(repeating: p0[2 * x]), SIMD16(repeating: p0[2 * x + 1]),
                                    SIMD16(repeating: p1[2 * x]), SIMD16(repeating: p1[2 * x + 1]))
                    dst[y * ow + x] = v[0]
                }
            }
        }
    }

    /// Lane j = row[j·stride + l] for stride 1 or 2 (reads at most the block's span).
    @inline(__always)
    static func load(_ row: UnsafePointer<Float>, _ l: Int, _ stride: Int) -> SIMD16<Float> {
        if stride == 1 {
            return UnsafeRawPointer(row + l).loadUnaligned(as: SIMD16<Float>.self)
        }
        let pair = UnsafeRawPointer(row + 2 * (l / 2)).loadUnaligned(as: SIMD32<Float>.self)
        return l % 2 == 0 ? pair.evenHalf : pair.oddHalf
    }

    /// Adaptive average pooling, ``Reference/adaptiveAvgPool2d(_:input:output:)`` summed in
    /// float: a copy when the output size equals the input's, a 16-lane plane mean for
    /// global pooling (1×1), window sums otherwise.
    static func adaptiveAvgPool2d(_ g: Pool2DGeometry, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        let (h, w, oh, ow) = (g.inHeight, g.inWidth, g.outHeight, g.outWidth)
        let inPlane = h * w, outPlane = oh * ow
        if h == oh && w == ow {
            output.update(from: input, count: g.planes * inPlane)
            return
        }
        if oh == 1 && ow == 1 {
            let inv = Float(inPlane)
            forEachPlane(g.planes, workPerPlane: inPlane) { p in
                output[p] = sum(input + p * inPlane, inPlane) / inv
            }
            return
        }
        let work = max(inPlane, outPlane)
        forEachPlane(g.planes, workPerPlane: work) { p in
            let plane = input + p * inPlane
            var o = output + p * outPlane
            for i in 0..<oh {
                let ys = i * h / oh, ye = ((i + 1) * h + oh - 1) / oh
                for j in 0..<ow {
                    let xs = j * w / ow, xe = ((j + 1) * w + ow - 1) / ow
                    var s: Float = 0
                    for iy in ys..<ye {
                        for ix in xs..<xe { s += plane[iy * w + ix] }
                    }
                    o.pointee = s / Float((ye - ys) * (xe - xs))
                    o += 1
                }
            }
        }
    }
}
