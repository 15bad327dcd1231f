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
    /// The contract of ``Reference/localResponseNormBackward(_:gradOutput:gradInput:_:_:)`` in float:
    /// per image, D[c] = k + alpha/size · Σ_window x² (each window summed directly, in channel
    /// order), P = D^(−beta) and t = g·x·P/D into scratch; then
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
        Threading.parallelFor(items) { item in
            let pw = base + item * per, tw = pw + plane
            var n = item
            while n < g.batch {
                let xi = x + n * plane, gi = gy + n * plane, di = dx + n * plane
                for c in 0..<g.channels {
                    let lo = max(0, c - before), hi = min(g.channels - 1, c + after)
                    for s in 0..<g.spatial {
                        var sum: Float = 0
                        for j in lo...hi {
                            let v = xi[j * g.spatial + s]
                            sum += v * v
                        }
                        let d = p.k + scale * sum
                        let pv = powf(d, -p.beta)
                        let i = c * g.spatial + s
                        pw[i] = pv
                        tw[i] = gi[i] * xi[i] * pv / d
                    }
                }
                for j in 0..<g.channels {
                    let lo = max(0, j - after), hi = min(g.channels - 1, j + before)
                    for s in 0..<g.spatial {
                        var cross: Float = 0
                        for c in lo...hi { cross += tw[c * g.spatial + s] }
                        let i = j * g.spatial + s
                        di[i] = gi[i] * pw[i] - coef * xi[i] * cross
                    }
                }
                n += items
            }
        }
        withExtendedLifetime(scratch) {}
    }
}
