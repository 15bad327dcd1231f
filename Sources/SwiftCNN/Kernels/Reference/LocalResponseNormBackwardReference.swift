#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// Reference (oracle) backward kernel of local response normalization. Geometry:
// ChannelGeometry and LRNParameters (LocalResponseNormReference.swift).

extension Reference {
    /// LRN backward, PyTorch's formula. With D[c] = k + alpha/size · Σ_{c' ∈ win(c)} x[c']² and
    /// y[c] = x[c] · D[c]^(−beta):
    ///
    ///     dx[j] = g[j] · D[j]^(−beta) − 2·alpha·beta/size · x[j] · Σ_{c : j ∈ win(c)} g[c] · x[c] · D[c]^(−beta−1)
    ///
    /// where win(c) = c − size/2 … c + (size−1)/2, so j ∈ win(c) ⟺ c ∈ j − (size−1)/2 … j + size/2.
    /// Everything in double precision; D recomputed where needed (no scratch memory).
    ///
    /// - x, gradOutput, gradInput: `[batch, channels, spatial]`; gradInput fully written.
    static func localResponseNormBackward(
        _ x: UnsafePointer<Float>, gradOutput gy: UnsafePointer<Float>, gradInput dx: UnsafeMutablePointer<Float>,
        _ g: ChannelGeometry, _ p: LRNParameters
    ) {
        let before = p.size / 2, after = (p.size - 1) / 2
        let scale = Double(p.alpha) / Double(p.size)
        let beta = Double(p.beta)
        for n in 0..<g.batch {
            let plane = n * g.channels * g.spatial
            func denominator(_ c: Int, _ s: Int) -> Double {
                var sum = 0.0
                for j in max(0, c - before)...min(g.channels - 1, c + after) {
                    let v = Double(x[plane + j * g.spatial + s])
                    sum += v * v
                }
                return Double(p.k) + scale * sum
            }
            for j in 0..<g.channels {
                for s in 0..<g.spatial {
                    let i = plane + j * g.spatial + s
                    var acc = Double(gy[i]) * pow(denominator(j, s), -beta)
                    var cross = 0.0
                    for c in max(0, j - after)...min(g.channels - 1, j + before) {
                        let ic = plane + c * g.spatial + s
                        cross += Double(gy[ic]) * Double(x[ic]) * pow(denominator(c, s), -beta - 1)
                    }
                    acc -= 2 * scale * beta * Double(x[i]) * cross
                    dx[i] = Float(acc)
                }
            }
        }
    }
}
