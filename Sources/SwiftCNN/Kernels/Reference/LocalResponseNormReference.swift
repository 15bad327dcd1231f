#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A tensor `[N, C, ...]` seen as `[batch, channels, spatial]`: `spatial` is the product of
/// the dimensions after the channel dimension (1 when there are none).
struct ChannelGeometry: Equatable, Sendable {
    var batch: Int
    var channels: Int
    var spatial: Int
}

/// Local response normalization parameters, validated (size ≥ 1, finite alpha, beta, k).
struct LRNParameters: Sendable {
    var size: Int
    var alpha: Float
    var beta: Float
    var k: Float
}

extension Reference {
    /// Local response normalization across channels, PyTorch's formula. x, y: [batch, channels, spatial].
    /// y[n,c,s] = x[n,c,s] / (k + alpha/size · Σ_{c'} x[n,c',s]²)^beta, over
    /// c' = c − size/2 … c + (size−1)/2 clipped to the channels (zero padding), size/2 rounded down.
    /// Sum and power in double precision.
    static func localResponseNorm(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ g: ChannelGeometry, _ p: LRNParameters
    ) {
        let before = p.size / 2, after = (p.size - 1) / 2
        let scale = Double(p.alpha) / Double(p.size)
        for n in 0..<g.batch {
            let plane = n * g.channels * g.spatial
            for c in 0..<g.channels {
                let lo = max(0, c - before)
                let hi = min(g.channels - 1, c + after)
                for s in 0..<g.spatial {
                    var sum = 0.0
                    for j in lo...hi {
                        let v = Double(x[plane + j * g.spatial + s])
                        sum += v * v
                    }
                    let i = plane + c * g.spatial + s
                    y[i] = Float(Double(x[i]) / pow(Double(p.k) + scale * sum, Double(p.beta)))
                }
            }
        }
    }
}
