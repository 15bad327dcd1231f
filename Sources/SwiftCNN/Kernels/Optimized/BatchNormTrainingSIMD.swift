// Training-mode batch normalization, optimized: channels spread over threads, each plane
// swept with 16-lane float vectors, per-plane partial sums added in Double in batch order.
// Every channel's arithmetic is the same whichever thread runs it: results do not depend
// on the thread count. Geometry: ChannelGeometry.

extension Optimized {
    /// Runs `body(channel)` for every channel, spread over threads when the tensor is large.
    @inline(__always)
    static func forEachChannel(_ g: ChannelGeometry, _ body: (Int) -> Void) {
        let work = g.batch * g.channels * g.spatial
        let items = work < 1 << 15 ? 1 : min(g.channels, Threading.numThreads * 4)
        Threading.parallelFor(items) { item in
            for c in (g.channels * item / items)..<(g.channels * (item + 1) / items) { body(c) }
        }
    }

    /// Σ over the planes of channel `c` of `f(x-lane, g-lane)` (16 lanes, scalar tail), each
    /// plane's float sum added in Double.
    @inline(always)
    static func channelReduce<F: BinaryVectorFunction>(_ g: ChannelGeometry, _ c: Int, _ a: UnsafePointer<Float>,
                                                       _ b: UnsafePointer<Float>, _ f: F) -> Double {
        typealias V = SIMD16<Float>
        var total = 0.0
        for n in 0..<g.batch {
            let base = (n * g.channels + c) * g.spatial
            let ra = UnsafeRawPointer(a + base), rb = UnsafeRawPointer(b + base)
            var acc = V()
            var i = 0
            while i + 16 <= g.spatial {
                acc += f.vector(ra.loadUnaligned(fromByteOffset: i * 4, as: V.self), rb.loadUnaligned(fromByteOffset: i * 4, as: V.self))
                i += 16
            }
            var tail: Float = 0
            while i < g.spatial {
                tail += f.scalar(a[base + i], b[base + i])
                i += 1
            }
            total += Double(acc.sum()) + Double(tail)
        }
        return total
    }

    /// The contract of ``Reference/batchNormStatistics(_:_:eps:mean:variance:invStd:)``:
    /// the mean first, then Σ(x − mean)² around the float mean.
    static func batchNormStatistics(
        _ x: UnsafePointer<Float>, _ g: ChannelGeometry, eps: Float,
        mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>, invStd: UnsafeMutablePointer<Float>
    ) {
        let count = Double(g.batch * g.spatial)
        forEachChannel(g) { c in
            let m = Float(channelReduce(g, c, x, x, FirstFunction()) / count)
            let v = channelReduce(g, c, x, x, SquaredDeviationFunction(m: m)) / count
            mean[c] = m
            variance[c] = Float(v)
            invStd[c] = Float(1 / (v + Double(eps)).squareRoot())
        }
    }

    /// y = (x − mean[c]) · invStd[c] · weight[c] + bias[c] as y = x·a + b with per-channel
    /// a = weight·invStd and b = bias − mean·a (computed in Double, rounded once).
    static func batchNormApply(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ g: ChannelGeometry,
        mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>, weight: UnsafePointer<Float>?, bias: UnsafePointer<Float>?
    ) {
        forEachChannel(g) { c in
            let a = (weight.map { Double($0[c]) } ?? 1) * Double(invStd[c])
            let b = (bias.map { Double($0[c]) } ?? 0) - Double(mean[c]) * a
            let af = Float(a), bf = Float(b)
            for n in 0..<g.batch {
                let base = (n * g.channels + c) * g.spatial
                elementwiseBackward(x + base, x + base, y + base, count: g.spatial, AffineFunction(a: af, b: bf))
            }
        }
    }

    /// The contract of ``Reference/batchNormBackward(_:gradOutput:_:weight:mean:invStd:gradInput:gradWeight:gradBias:)``
    /// in float vectors: dx = g·k1 − x̂·k2 − k3 with per-channel k1 = weight·invStd,
    /// k2 = k1·Σ g·x̂ / M, k3 = k1·Σ g / M.
    static func batchNormBackward(
        _ x: UnsafePointer<Float>, gradOutput gy: UnsafePointer<Float>, _ g: ChannelGeometry,
        weight: UnsafePointer<Float>?, mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>,
        gradInput dx: UnsafeMutablePointer<Float>, gradWeight dw: UnsafeMutablePointer<Float>,
        gradBias db: UnsafeMutablePointer<Float>
    ) {
        let count = Double(g.batch * g.spatial)
        forEachChannel(g) { c in
            let m = mean[c], inv = invStd[c]
            let mv = SIMD16<Float>(repeating: m), iv = SIMD16<Float>(repeating: inv)
            // Σ g and Σ g·x̂ in one sweep: per plane 16-lane float sums, planes added in Double.
            var sumG = 0.0, sumGX = 0.0
            for n in 0..<g.batch {
                let base = (n * g.channels + c) * g.spatial
                let rg = UnsafeRawPointer(gy + base), rx = UnsafeRawPointer(x + base)
                var ag = SIMD16<Float>(), agx = SIMD16<Float>()
                var i = 0
                while i + 16 <= g.spatial {
                    let gv = rg.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
                    let xv = rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
                    ag += gv
                    agx += gv * ((xv - mv) * iv)
                    i += 16
                }
                var tg: Float = 0, tgx: Float = 0
                while i < g.spatial {
                    tg += gy[base + i]
                    tgx += gy[base + i] * ((x[base + i] - m) * inv)
                    i += 1
                }
                sumG += Double(ag.sum()) + Double(tg)
                sumGX += Double(agx.sum()) + Double(tgx)
            }
            db[c] = Float(sumG)
            dw[c] = Float(sumGX)
            let k1d = (weight.map { Double($0[c]) } ?? 1) * Double(inv)
            let k1 = Float(k1d), k2 = Float(k1d * sumGX / count), k3 = Float(k1d * sumG / count)
            for n in 0..<g.batch {
                let base = (n * g.channels + c) * g.spatial
                elementwiseBackward(x + base, gy + base, dx + base, count: g.spatial,
                                    BatchNormGradFunction(mean: m, invStd: inv, k1: k1, k2: k2, k3: k3))
            }
        }
    }
}

/// a (b ignored): a plain sum.
struct FirstFunction: BinaryVectorFunction {
    @inline(always) func vector(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> { a }
    @inline(always) func scalar(_ a: Float, _ b: Float) -> Float { a }
}

/// (a − m)² (b ignored): the variance's terms.
struct SquaredDeviationFunction: BinaryVectorFunction {
    let m: Float
    @inline(always) func vector(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> {
        let mv = SIMD16<Float>(repeating: m)
        return (a - mv) * (a - mv)
    }
    @inline(always) func scalar(_ a: Float, _ b: Float) -> Float { (a - m) * (a - m) }
}

/// x · a + b (the second input ignored): batch norm's per-channel affine map.
struct AffineFunction: BinaryVectorFunction {
    let a: Float, b: Float
    @inline(always) func vector(_ x: SIMD16<Float>, _ unused: SIMD16<Float>) -> SIMD16<Float> { x * a + b }
    @inline(always) func scalar(_ x: Float, _ unused: Float) -> Float { x * a + b }
}

/// g · k1 − ((x − mean) · invStd) · k2 − k3: batch norm's input gradient.
struct BatchNormGradFunction: BinaryVectorFunction {
    let mean: Float, invStd: Float, k1: Float, k2: Float, k3: Float
    @inline(always) func vector(_ x: SIMD16<Float>, _ g: SIMD16<Float>) -> SIMD16<Float> {
        let mv = SIMD16<Float>(repeating: mean), iv = SIMD16<Float>(repeating: invStd)
        return g * k1 - ((x - mv) * iv) * k2 - k3
    }
    @inline(always) func scalar(_ x: Float, _ g: Float) -> Float { g * k1 - ((x - mean) * invStd) * k2 - k3 }
}
