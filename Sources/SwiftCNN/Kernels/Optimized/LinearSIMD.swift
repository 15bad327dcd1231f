extension Optimized {
    /// y = x · wᵀ + b with the contract of ``Reference/linear(_:weight:bias:_:_:)``, in float:
    /// each output is ``dot(_:_:_:)`` of its sample and its weight row (64-float chunks, four
    /// `SIMD16` accumulators, scalar tail), then the bias — bitwise the same whichever kernel
    /// below computes it, so results do not depend on the thread count or (untiled) on the
    /// batch size.
    ///
    /// Output features are spread over ``Threading``'s threads in blocks of ``linearBlock``
    /// rows (claimed dynamically). Within a block, four weight rows are streamed together
    /// (``dotRows4(_:_:_:)``: each chunk of x is loaded once for the four rows, four
    /// independent memory streams for the prefetchers), and every sample of the batch is done
    /// against those four rows before the next four: the weights are read from memory once
    /// for the whole batch. For a batch, ``linearRows4Batch`` takes the rows a span at a time
    /// (in L1) across a block of samples.
    ///
    /// `tiled` (the default, ``linearTiledDefault``): a batch of
    /// ``linearTiledMinBatch`` or more goes through ``linearBatchTiled`` instead (when its
    /// scratch memory can be had), whose sums differ from these by rounding: a sample's
    /// outputs are then the same in every batch of 3 or more, and those of batches of 1 or 2
    /// are the same as each other.
    static func linear(_ x: UnsafePointer<Float>, weight w: UnsafePointer<Float>, bias b: UnsafePointer<Float>?,
                       _ y: UnsafeMutablePointer<Float>, _ g: LinearGeometry, tiled: Bool = linearTiledDefault) {
        let n = g.inFeatures, outs = g.outFeatures, batch = g.batch
        let block = linearBlock
        let blocks = (outs + block - 1) / block
        let work = batch &* n &* outs
        let items = work < 1 << 16 ? 1 : blocks
        if tiled && batch >= linearTiledMinBatch {
            let lanes = LinearLanes.scalarCount
            let (blocked, o1) = ((batch + lanes - 1) / lanes * lanes).multipliedReportingOverflow(by: n)
            if !o1, let scratch = try? GEMMScratchCache.shared.take(blocked) {
                defer { GEMMScratchCache.shared.give(scratch) }
                linearBatchTiled(x, weight: w, bias: b, y, g, xt: scratch.pointer)
                return
            }
        }
        let full = n / 64 * 64, span = linearSpan
        let spans = (full + span - 1) / span
        // At batch > 1, x's 64-chunk part copied span by span, the samples' spans side by side
        // (span j of sample s at (j·batch + s)·span): rows of x and of w a power of two apart
        // would otherwise share L1 sets (AlexNet's fc7: 16 KiB rows).
        let packedCount = batch > 1 ? spans &* span &* batch : 0
        withUnsafeTemporaryAllocation(of: Float.self, capacity: max(packedCount, 1)) { buffer in
            guard let packed = buffer.baseAddress else { return }
            if packedCount > 0 {
                for j in 0..<spans {
                    let i0 = j * span, len = min(full, i0 + span) - i0
                    for s in 0..<batch { (packed + (j * batch + s) * span).update(from: x + s * n + i0, count: len) }
                }
            }
            linearBlocks(x, packed: packedCount > 0 ? UnsafePointer(packed) : nil, weight: w, bias: b, y, g, items: items)
        }
    }

    /// The parallel part of ``linear(_:weight:bias:_:_:)``: `items` blocks of rows.
    static func linearBlocks(_ x: UnsafePointer<Float>, packed: UnsafePointer<Float>?, weight w: UnsafePointer<Float>,
                             bias b: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>, _ g: LinearGeometry, items: Int) {
        let n = g.inFeatures, outs = g.outFeatures, batch = g.batch
        let block = linearBlock
        Threading.parallelFor(items) { item in
            let (o0, o1) = items == 1 ? (0, outs) : (item * block, min(outs, (item + 1) * block))
            var o = o0
            if let packed {
                while o + 4 <= o1 {
                    linearRows4Batch(x, packed, w + o * n, b.map { $0 + o }, y + o, n: n, outs: outs, batch: batch)
                    o += 4
                }
            }
            while o + 4 <= o1 {
                let wr = w + o * n
                for s in 0..<batch {
                    let r = dotRows4(x + s * n, wr, n)
                    let ys = y + s * outs + o
                    ys[0] = r[0] + (b?[o] ?? 0)
                    ys[1] = r[1] + (b?[o + 1] ?? 0)
                    ys[2] = r[2] + (b?[o + 2] ?? 0)
                    ys[3] = r[3] + (b?[o + 3] ?? 0)
                }
                o += 4
            }
            while o < o1 {
                let wr = w + o * n
                for s in 0..<batch {
                    y[s * outs + o] = dot(x + s * n, wr, n) + (b?[o] ?? 0)
                }
                o += 1
            }
        }
    }

    /// Whether ``linear(_:weight:bias:_:_:tiled:)`` takes batches of ``linearTiledMinBatch``
    /// or more through ``linearBatchTiled``: yes in both builds. In the AVX2 build
    /// ``linearRows4Batch``'s sixteen 16-lane accumulators (32 ymm registers' worth) live in
    /// memory: AlexNet's fc6 at batch 8 ran at 6–10 GB/s of weights against 38 GB/s at batch 1.
    /// In the AVX-512 build, on an AMD EPYC (Zen 4), the untiled path took AlexNet's fc6 at
    /// batch 8 1.9× as long as at batch 1 (8.8 against 4.7 ms, 2 threads); tiled, AlexNet at
    /// batch 8 takes 0.90 of the time (2 threads) and 0.95 (1 thread), VGG-16 0.94, AlexNet
    /// at batch 32 0.94.
    static let linearTiledDefault = true
    /// The samples ``linearTile8`` computes together: 8, one ymm register, in both builds (the
    /// zoo's batch of 8 fills it; 16 lanes would leave half of each vector zero there).
    typealias LinearLanes = SIMD8<Float>
    /// Smallest batch that ``linear(_:weight:bias:_:_:tiled:)`` runs tiled.
    static let linearTiledMinBatch = 3
    /// Weight rows per ``linearTile8`` call.
    static let linearTileRows = 8

    /// ``linear(_:weight:bias:_:_:tiled:)`` for a batch, as a matrix product with the batch
    /// along the vector lanes: x is transposed into `xt` (blocks of ``LinearLanes`` samples,
    /// element (k, s) of block j at (j·n + k)·lanes + s, zeros for missing samples), then each
    /// block of ``linearTileRows`` weight rows, read straight from `w` (no packing: each
    /// weight is one broadcast used by a whole vector of samples), is run against every
    /// sample block (``linearTile8``). Each output is a plain sum over k in order, so it
    /// differs from ``dot(_:_:_:)``'s (the batch-1 path's) by rounding, and it is the same at
    /// every thread count (one thread computes it). `xt` holds
    /// ⌈batch / lanes⌉ · lanes · n floats.
    static func linearBatchTiled(_ x: UnsafePointer<Float>, weight w: UnsafePointer<Float>, bias b: UnsafePointer<Float>?,
                                 _ y: UnsafeMutablePointer<Float>, _ g: LinearGeometry, xt: UnsafeMutablePointer<Float>) {
        let n = g.inFeatures, outs = g.outFeatures, batch = g.batch
        let lanes = LinearLanes.scalarCount
        let blocks = (batch + lanes - 1) / lanes
        // The transpose, split over the threads by k.
        let parts = batch &* n < 1 << 16 ? 1 : min(Threading.numThreads, 8)
        Threading.parallelFor(parts) { part in
            let k0 = n * part / parts, k1 = n * (part + 1) / parts
            for j in 0..<blocks {
                let block = xt + j * n * lanes
                for s in 0..<lanes {
                    let sample = j * lanes + s
                    if sample < batch {
                        let src = x + sample * n
                        for k in k0..<k1 { block[k * lanes + s] = src[k] }
                    } else {
                        for k in k0..<k1 { block[k * lanes + s] = 0 }
                    }
                }
            }
        }
        let tile = linearTileRows, itemRows = 6 * tile
        let items = batch &* n &* outs < 1 << 16 ? 1 : (outs + itemRows - 1) / itemRows
        Threading.parallelFor(items) { item in
            let o1 = items == 1 ? outs : min(outs, (item + 1) * itemRows)
            var o = items == 1 ? 0 : item * itemRows
            while o < o1 {
                let rows = min(tile, o1 - o)
                for j in 0..<blocks {
                    linearTile8(w + o * n, n: n, rows: rows, xt: xt + j * n * lanes, bias: b.map { $0 + o },
                                y: y + j * lanes * outs + o, outs: outs, samples: min(lanes, batch - j * lanes))
                }
                o += rows
            }
        }
    }

    /// y[s·outs + r] = Σ_k w[r·n + k]·xt[k·lanes + s] (k in order, one fused multiply-add
    /// each) + bias[r], for rows r < `rows` (<= 8) and samples s < `samples`: eight
    /// accumulators of ``LinearLanes`` samples each, one per row, fed by a broadcast of the
    /// row's weight and the transposed samples' vector at each k. Rows past `rows` repeat the
    /// last real one (computed, not stored).
    @inline(__always)
    static func linearTile8(_ w: UnsafePointer<Float>, n: Int, rows: Int, xt: UnsafePointer<Float>,
                            bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>, outs: Int, samples: Int) {
        typealias G = LinearLanes
        let lanes = G.scalarCount
        let w0 = w, w1 = w + min(1, rows - 1) * n, w2 = w + min(2, rows - 1) * n, w3 = w + min(3, rows - 1) * n
        let w4 = w + min(4, rows - 1) * n, w5 = w + min(5, rows - 1) * n, w6 = w + min(6, rows - 1) * n
        let w7 = w + min(7, rows - 1) * n
        var a0 = G(), a1 = G(), a2 = G(), a3 = G(), a4 = G(), a5 = G(), a6 = G(), a7 = G()
        let px = UnsafeRawPointer(xt)
        let step = lanes * 4
        for k in 0..<n {
            let v = px.loadUnaligned(fromByteOffset: k * step, as: G.self)
            a0 = a0.addingProduct(G(repeating: w0[k]), v)
            a1 = a1.addingProduct(G(repeating: w1[k]), v)
            a2 = a2.addingProduct(G(repeating: w2[k]), v)
            a3 = a3.addingProduct(G(repeating: w3[k]), v)
            a4 = a4.addingProduct(G(repeating: w4[k]), v)
            a5 = a5.addingProduct(G(repeating: w5[k]), v)
            a6 = a6.addingProduct(G(repeating: w6[k]), v)
            a7 = a7.addingProduct(G(repeating: w7[k]), v)
        }
        @inline(__always) func put(_ r: Int, _ a: G) {
            guard r < rows else { return }
            let add = bias?[r] ?? 0
            for s in 0..<samples { y[s * outs + r] = a[s] + add }
        }
        put(0, a0); put(1, a1); put(2, a2); put(3, a3); put(4, a4); put(5, a5); put(6, a6); put(7, a7)
    }

    /// Floats of x and of the four weight rows that ``linearRows4Batch`` runs the samples over
    /// before the next span (a multiple of 64): with ``linearSampleBlock`` samples, 4·512 +
    /// 8·512 floats (24 KiB) stay in L1 while every sample passes over them.
    static let linearSpan = 512
    /// Samples whose accumulators are carried across the spans together.
    static let linearSampleBlock = 8

    /// Four outputs (weight rows `w`, `w + n`, … and biases `b`, `b + 1`, …) for every sample
    /// of the batch, into y[s·outs + 0 ..< 4]: sample 0 by ``dotRows4(_:_:_:)`` (streaming the
    /// rows from memory into L2), the others by its chains with the 64-float
    /// chunks (read from `packed`, x's spans side by side; the tails from x) taken a span at a
    /// time for a block of samples (each sample's sixteen accumulators
    /// saved in between), so the span of the four rows is read from L1 by every sample instead
    /// of the four whole rows from L2. The order of each accumulator's FMAs is unchanged: the
    /// results are bitwise ``dot(_:_:_:)`` + bias.
    static func linearRows4Batch(_ x: UnsafePointer<Float>, _ packed: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                 _ b: UnsafePointer<Float>?,
                                 _ y: UnsafeMutablePointer<Float>, n: Int, outs: Int, batch: Int) {
        typealias V = SIMD16<Float>
        let full = n / 64 * 64
        let block = linearSampleBlock
        // Sample 0 streams the four rows from memory in one tight pass (as at batch 1, where
        // the loads run far ahead), which leaves them in L2 for the span passes of the others.
        let r0 = dotRows4(x, w, n)
        y[0] = r0[0] + (b?[0] ?? 0)
        y[1] = r0[1] + (b?[1] ?? 0)
        y[2] = r0[2] + (b?[2] ?? 0)
        y[3] = r0[3] + (b?[3] ?? 0)
        withUnsafeTemporaryAllocation(of: V.self, capacity: 16 * block) { buffer in
            guard let state = buffer.baseAddress else { return }
            var s0 = 1
            while s0 < batch {
                let s1 = min(batch, s0 + block)
                state.initialize(repeating: V(), count: 16 * block)
                var i0 = 0
                while i0 < full {
                    let i1 = min(full, i0 + linearSpan)
                    // Sample s's span, shifted so that index i0 is its first float.
                    let base = packed + (i0 / linearSpan * batch) * linearSpan - i0
                    for s in s0..<s1 {
                        dotRows4Chunks(base + s * linearSpan, w, n, from: i0, to: i1, state: state + 16 * (s - s0))
                    }
                    i0 = i1
                }
                for s in s0..<s1 {
                    let r = dotRows4Finish(x + s * n, w, n, from: full, state: state + 16 * (s - s0))
                    let ys = y + s * outs
                    ys[0] = r[0] + (b?[0] ?? 0)
                    ys[1] = r[1] + (b?[1] ?? 0)
                    ys[2] = r[2] + (b?[2] ?? 0)
                    ys[3] = r[3] + (b?[3] ?? 0)
                }
                s0 = s1
            }
        }
    }

    /// The 64-float chunks [i0, i1) of ``dotRows4(_:_:_:)``, continuing the sixteen accumulators
    /// in `state` (rows a, b, c, e; four each) and leaving them there.
    @inline(__always)
    static func dotRows4Chunks(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ n: Int, from i0: Int, to i1: Int,
                               state: UnsafeMutablePointer<SIMD16<Float>>) {
        typealias V = SIMD16<Float>
        var a0 = state[0], a1 = state[1], a2 = state[2], a3 = state[3]
        var b0 = state[4], b1 = state[5], b2 = state[6], b3 = state[7]
        var c0 = state[8], c1 = state[9], c2 = state[10], c3 = state[11]
        var e0 = state[12], e1 = state[13], e2 = state[14], e3 = state[15]
        let rx = UnsafeRawPointer(x)
        let ra = UnsafeRawPointer(w), rb = UnsafeRawPointer(w + n), rc = UnsafeRawPointer(w + 2 * n), re = UnsafeRawPointer(w + 3 * n)
        var i = i0
        while i + 64 <= i1 {
            let o = i * 4
            let x0 = rx.loadUnaligned(fromByteOffset: o, as: V.self), x1 = rx.loadUnaligned(fromByteOffset: o + 64, as: V.self)
            let x2 = rx.loadUnaligned(fromByteOffset: o + 128, as: V.self), x3 = rx.loadUnaligned(fromByteOffset: o + 192, as: V.self)
            a0 = a0.addingProduct(x0, ra.loadUnaligned(fromByteOffset: o, as: V.self))
            a1 = a1.addingProduct(x1, ra.loadUnaligned(fromByteOffset: o + 64, as: V.self))
            a2 = a2.addingProduct(x2, ra.loadUnaligned(fromByteOffset: o + 128, as: V.self))
            a3 = a3.addingProduct(x3, ra.loadUnaligned(fromByteOffset: o + 192, as: V.self))
            b0 = b0.addingProduct(x0, rb.loadUnaligned(fromByteOffset: o, as: V.self))
            b1 = b1.addingProduct(x1, rb.loadUnaligned(fromByteOffset: o + 64, as: V.self))
            b2 = b2.addingProduct(x2, rb.loadUnaligned(fromByteOffset: o + 128, as: V.self))
            b3 = b3.addingProduct(x3, rb.loadUnaligned(fromByteOffset: o + 192, as: V.self))
            c0 = c0.addingProduct(x0, rc.loadUnaligned(fromByteOffset: o, as: V.self))
            c1 = c1.addingProduct(x1, rc.loadUnaligned(fromByteOffset: o + 64, as: V.self))
            c2 = c2.addingProduct(x2, rc.loadUnaligned(fromByteOffset: o + 128, as: V.self))
            c3 = c3.addingProduct(x3, rc.loadUnaligned(fromByteOffset: o + 192, as: V.self))
            e0 = e0.addingProduct(x0, re.loadUnaligned(fromByteOffset: o, as: V.self))
            e1 = e1.addingProduct(x1, re.loadUnaligned(fromByteOffset: o + 64, as: V.self))
            e2 = e2.addingProduct(x2, re.loadUnaligned(fromByteOffset: o + 128, as: V.self))
            e3 = e3.addingProduct(x3, re.loadUnaligned(fromByteOffset: o + 192, as: V.self))
            i += 64
        }
        state[0] = a0; state[1] = a1; state[2] = a2; state[3] = a3
        state[4] = b0; state[5] = b1; state[6] = b2; state[7] = b3
        state[8] = c0; state[9] = c1; state[10] = c2; state[11] = c3
        state[12] = e0; state[13] = e1; state[14] = e2; state[15] = e3
    }

    /// The rest of ``dotRows4(_:_:_:)`` after its 64-float chunks (which end at `i0`): the
    /// 16-float chunks, the scalar tail and the sums, from the accumulators in `state`.
    @inline(__always)
    static func dotRows4Finish(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ n: Int, from i0: Int,
                               state: UnsafeMutablePointer<SIMD16<Float>>) -> SIMD4<Float> {
        typealias V = SIMD16<Float>
        var a0 = state[0], b0 = state[4], c0 = state[8], e0 = state[12]
        let rx = UnsafeRawPointer(x)
        let ra = UnsafeRawPointer(w), rb = UnsafeRawPointer(w + n), rc = UnsafeRawPointer(w + 2 * n), re = UnsafeRawPointer(w + 3 * n)
        var i = i0
        while i + 16 <= n {
            let o = i * 4
            let x0 = rx.loadUnaligned(fromByteOffset: o, as: V.self)
            a0 = a0.addingProduct(x0, ra.loadUnaligned(fromByteOffset: o, as: V.self))
            b0 = b0.addingProduct(x0, rb.loadUnaligned(fromByteOffset: o, as: V.self))
            c0 = c0.addingProduct(x0, rc.loadUnaligned(fromByteOffset: o, as: V.self))
            e0 = e0.addingProduct(x0, re.loadUnaligned(fromByteOffset: o, as: V.self))
            i += 16
        }
        var ta: Float = 0, tb: Float = 0, tc: Float = 0, te: Float = 0
        let wa = w, wb = w + n, wc = w + 2 * n, we = w + 3 * n
        while i < n {
            ta = ta.addingProduct(x[i], wa[i])
            tb = tb.addingProduct(x[i], wb[i])
            tc = tc.addingProduct(x[i], wc[i])
            te = te.addingProduct(x[i], we[i])
            i += 1
        }
        return SIMD4(((a0 + state[1]) + (state[2] + state[3])).sum() + ta, ((b0 + state[5]) + (state[6] + state[7])).sum() + tb,
                     ((c0 + state[9]) + (state[10] + state[11])).sum() + tc, ((e0 + state[13]) + (state[14] + state[15])).sum() + te)
    }

    /// Rows of the weight per parallel item of ``linear(_:weight:bias:_:_:)`` (a multiple of 4).
    static let linearBlock = 32

    /// The dot products of `x` with the four consecutive `n`-long rows at `w`: each bitwise
    /// equal to ``dot(_:_:_:)`` of `x` and that row (the same chunks, accumulators and order),
    /// each chunk of x loaded once for the four.
    @inline(__always)
    static func dotRows4(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ n: Int) -> SIMD4<Float> {
        typealias V = SIMD16<Float>
        var a0 = V(), a1 = V(), a2 = V(), a3 = V()
        var b0 = V(), b1 = V(), b2 = V(), b3 = V()
        var c0 = V(), c1 = V(), c2 = V(), c3 = V()
        var e0 = V(), e1 = V(), e2 = V(), e3 = V()
        let rx = UnsafeRawPointer(x)
        let ra = UnsafeRawPointer(w), rb = UnsafeRawPointer(w + n), rc = UnsafeRawPointer(w + 2 * n), re = UnsafeRawPointer(w + 3 * n)
        var i = 0
        while i + 64 <= n {
            let o = i * 4
            let x0 = rx.loadUnaligned(fromByteOffset: o, as: V.self), x1 = rx.loadUnaligned(fromByteOffset: o + 64, as: V.self)
            let x2 = rx.loadUnaligned(fromByteOffset: o + 128, as: V.self), x3 = rx.loadUnaligned(fromByteOffset: o + 192, as: V.self)
            a0 = a0.addingProduct(x0, ra.loadUnaligned(fromByteOffset: o, as: V.self))
            a1 = a1.addingProduct(x1, ra.loadUnaligned(fromByteOffset: o + 64, as: V.self))
            a2 = a2.addingProduct(x2, ra.loadUnaligned(fromByteOffset: o + 128, as: V.self))
            a3 = a3.addingProduct(x3, ra.loadUnaligned(fromByteOffset: o + 192, as: V.self))
            b0 = b0.addingProduct(x0, rb.loadUnaligned(fromByteOffset: o, as: V.self))
            b1 = b1.addingProduct(x1, rb.loadUnaligned(fromByteOffset: o + 64, as: V.self))
            b2 = b2.addingProduct(x2, rb.loadUnaligned(fromByteOffset: o + 128, as: V.self))
            b3 = b3.addingProduct(x3, rb.loadUnaligned(fromByteOffset: o + 192, as: V.self))
            c0 = c0.addingProduct(x0, rc.loadUnaligned(fromByteOffset: o, as: V.self))
            c1 = c1.addingProduct(x1, rc.loadUnaligned(fromByteOffset: o + 64, as: V.self))
            c2 = c2.addingProduct(x2, rc.loadUnaligned(fromByteOffset: o + 128, as: V.self))
            c3 = c3.addingProduct(x3, rc.loadUnaligned(fromByteOffset: o + 192, as: V.self))
            e0 = e0.addingProduct(x0, re.loadUnaligned(fromByteOffset: o, as: V.self))
            e1 = e1.addingProduct(x1, re.loadUnaligned(fromByteOffset: o + 64, as: V.self))
            e2 = e2.addingProduct(x2, re.loadUnaligned(fromByteOffset: o + 128, as: V.self))
            e3 = e3.addingProduct(x3, re.loadUnaligned(fromByteOffset: o + 192, as: V.self))
            i += 64
        }
        while i + 16 <= n {
            let o = i * 4
            let x0 = rx.loadUnaligned(fromByteOffset: o, as: V.self)
            a0 = a0.addingProduct(x0, ra.loadUnaligned(fromByteOffset: o, as: V.self))
            b0 = b0.addingProduct(x0, rb.loadUnaligned(fromByteOffset: o, as: V.self))
            c0 = c0.addingProduct(x0, rc.loadUnaligned(fromByteOffset: o, as: V.self))
            e0 = e0.addingProduct(x0, re.loadUnaligned(fromByteOffset: o, as: V.self))
            i += 16
        }
        var ta: Float = 0, tb: Float = 0, tc: Float = 0, te: Float = 0
        let wa = w, wb = w + n, wc = w + 2 * n, we = w + 3 * n
        while i < n {
            // dot's tail is a[i]·b[i] with a = x: the same operand order.
            ta = ta.addingProduct(x[i], wa[i])
            tb = tb.addingProduct(x[i], wb[i])
            tc = tc.addingProduct(x[i], wc[i])
            te = te.addingProduct(x[i], we[i])
            i += 1
        }
        return SIMD4(((a0 + a1) + (a2 + a3)).sum() + ta, ((b0 + b1) + (b2 + b3)).sum() + tb,
                     ((c0 + c1) + (c2 + c3)).sum() + tc, ((e0 + e1) + (e2 + e3)).sum() + te)
    }

    /// Σ a[i]·b[i] in float, four 16-lane accumulators, fixed order.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        typealias V = SIMD16<Float>
        var s0 = V(), s1 = V(), s2 = V(), s3 = V()
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        var i = 0
        while i + 64 <= n {
            let o = i * 4
            s0 = s0.addingProduct(ra.loadUnaligned(fromByteOffset: o, as: V.self), rb.loadUnaligned(fromByteOffset: o, as: V.self))
            s1 = s1.addingProduct(ra.loadUnaligned(fromByteOffset: o + 64, as: V.self), rb.loadUnaligned(fromByteOffset: o + 64, as: V.self))
            s2 = s2.addingProduct(ra.loadUnaligned(fromByteOffset: o + 128, as: V.self), rb.loadUnaligned(fromByteOffset: o + 128, as: V.self))
            s3 = s3.addingProduct(ra.loadUnaligned(fromByteOffset: o + 192, as: V.self), rb.loadUnaligned(fromByteOffset: o + 192, as: V.self))
            i += 64
        }
        while i + 16 <= n {
            s0 = s0.addingProduct(ra.loadUnaligned(fromByteOffset: i * 4, as: V.self), rb.loadUnaligned(fromByteOffset: i * 4, as: V.self))
            i += 16
        }
        var tail: Float = 0
        while i < n {
            tail = tail.addingProduct(a[i], b[i])
            i += 1
        }
        return ((s0 + s1) + (s2 + s3)).sum() + tail
    }
}
