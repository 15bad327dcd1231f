extension Optimized {
    /// y = x · wᵀ + b with the contract of ``Reference/linear(_:weight:bias:_:_:)``, in float:
    /// each output is ``dot(_:_:_:)`` of its sample and its weight row (64-float chunks, four
    /// `SIMD16` accumulators, scalar tail), then the bias — bitwise the same whichever kernel
    /// below computes it, so results do not depend on the thread count or the batch size.
    ///
    /// Output features are spread over ``Threading``'s threads in blocks of ``linearBlock``
    /// rows (claimed dynamically). Within a block, four weight rows are streamed together
    /// (``dotRows4(_:_:_:)``: each chunk of x is loaded once for the four rows, four
    /// independent memory streams for the prefetchers), and every sample of the batch is done
    /// against those four rows before the next four: the weights are read from memory once
    /// for the whole batch (the four rows stay in cache while the samples pass over them).
    static func linear(_ x: UnsafePointer<Float>, weight w: UnsafePointer<Float>, bias b: UnsafePointer<Float>?,
                       _ y: UnsafeMutablePointer<Float>, _ g: LinearGeometry) {
        let n = g.inFeatures, outs = g.outFeatures, batch = g.batch
        let block = linearBlock
        let blocks = (outs + block - 1) / block
        let work = batch &* n &* outs
        let items = work < 1 << 16 ? 1 : blocks
        Threading.parallelFor(items) { item in
            let (o0, o1) = items == 1 ? (0, outs) : (item * block, min(outs, (item + 1) * block))
            var o = o0
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
