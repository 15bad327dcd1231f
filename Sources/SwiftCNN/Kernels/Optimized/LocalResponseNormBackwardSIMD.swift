#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// Local response normalization backward, optimized: images spread over threads; per image
// two sweeps over [channels, spatial] in float (the reference works in Double).
// Geometry: ChannelGeometry, LRNParameters.

extension Optimized {
    /// The contract of ``Reference/localResponseNormBackward(_:gradOutput:gradInput:_:_:)`` in float,
    /// 16 spatial positions at a time: per image, D[c] = k + alpha/size · Σ_window x² (each
    /// window summed directly, in channel order), P = D^(−beta) (1/(√D·√√D) when beta is 0.75,
    /// else powf) and t = g·x·P/D into scratch; then
    /// dx[j] = g[j]·P[j] − 2·alpha·beta/size · x[j] · Σ_{c ∈ j − (size−1)/2 … j + size/2} t[c].
    /// Each image's arithmetic is fixed, so results do not depend on the thread count. Falls
    /// back to the reference when scratch memory cannot be had.
    static func localResponseNormBackward(
        _ x: UnsafePointer<Float>, gradOutput gy: UnsafePointer<Float>, gradInput dx: UnsafeMutablePointer<Float>,
        _ g: ChannelGeometry, _ p: LRNParameters
    ) {
        let plane = g.channels * g.spatial
        let items = g.batch * plane < 1 << 14 ? 1 : min(g.batch, Threading.numThreads)
        guard let per = try? Checked.mul(2, plane), let total = try? Checked.mul(per, items),
              let scratch = try? ScratchBuffer(count: total) else {
            Reference.localResponseNormBackward(x, gradOutput: gy, gradInput: dx, g, p)
            return
        }
        let before = p.size / 2, after = (p.size - 1) / 2
        let scale = p.alpha / Float(p.size)
        let coef = 2 * scale * p.beta
        let base = scratch.pointer
        typealias V = SIMD16<Float>
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        @inline(__always) func load(_ p: UnsafeMutablePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        @inline(__always) func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }
        // D^(−beta): for AlexNet's beta = 0.75 as 1/(√D·√√D) on 16 lanes; otherwise powf per lane.
        let threeQuarters = p.beta == 0.75
        let negBeta = -p.beta
        @inline(__always) func power(_ d: V) -> V {
            if threeQuarters {
                let r = d.squareRoot()
                return 1 / (r * r.squareRoot())
            }
            var out = V()
            for l in 0..<16 { out[l] = powf(d[l], negBeta) }
            return out
        }
        @inline(__always) func power(_ d: Float) -> Float {
            if threeQuarters {
                let r = d.squareRoot()
                return 1 / (r * r.squareRoot())
            }
            return powf(d, negBeta)
        }
        let sp = g.spatial
        Threading.parallelFor(items) { item in
            let pw = base + item * per, tw = pw + plane
            var n = item
            while n < g.batch {
                let xi = x + n * plane, gi = gy + n * plane, di = dx + n * plane
                // Sweep 1: P = D^(−beta) and t = g·x·P/D for every channel.
                for c in 0..<g.channels {
                    let lo = max(0, c - before), hi = min(g.channels - 1, c + after)
                    var s = 0
                    while s + 16 <= sp {
                        var sum = V()
                        for j in lo...hi {
                            let v = load(xi + j * sp + s)
                            sum += v * v
                        }
                        let d = p.k + scale * sum
                        let pv = power(d)
                        let i = c * sp + s
                        store(pv, pw + i)
                        store(load(gi + i) * load(xi + i) * pv / d, tw + i)
                        s += 16
                    }
                    while s < sp {
                        var sum: Float = 0
                        for j in lo...hi {
                            let v = xi[j * sp + s]
                            sum += v * v
                        }
                        let d = p.k + scale * sum
                        let pv = power(d)
                        let i = c * sp + s
                        pw[i] = pv
                        tw[i] = gi[i] * xi[i] * pv / d
                        s += 1
                    }
                }
                // Sweep 2: dx = g·P − coef · x · Σ t over the channels whose window holds j.
                for j in 0..<g.channels {
                    let lo = max(0, j - after), hi = min(g.channels - 1, j + before)
                    var s = 0
                    while s + 16 <= sp {
                        var cross = V()
                        for c in lo...hi { cross += load(tw + c * sp + s) }
                        let i = j * sp + s
                        store(load(gi + i) * load(pw + i) - coef * load(xi + i) * cross, di + i)
                        s += 16
                    }
                    while s < sp {
                        var cross: Float = 0
                        for c in lo...hi { cross += tw[c * sp + s] }
                        let i = j * sp + s
                        di[i] = gi[i] * pw[i] - coef * xi[i] * cross
                        s += 1
                    }
                }
                n += items
            }
        }
        withExtendedLifetime(scratch) {}
    }
}
