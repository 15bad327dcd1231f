#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// 2-D upsampling (torch's upsample_nearest2d / upsample_bilinear2d on CPU) and its backward.
// Geometry: ``Upsample2DGeometry``; x: [planes, inHeight, inWidth], y: [planes, outHeight, outWidth].

/// A validated 2-D upsampling of `planes` planes, with the ratios torch maps output
/// coordinates to input coordinates with (float, as torch computes them).
struct Upsample2DGeometry: Equatable, Sendable {
    var planes: Int
    var inHeight: Int, inWidth: Int
    var outHeight: Int, outWidth: Int
    var mode: UpsampleMode
    /// Source step per output pixel along each axis: 1/scale when a scale was given, else
    /// in/out; (in−1)/(out−1) (0 for out = 1) for bilinear with aligned corners.
    var ratioH: Float, ratioW: Float
}

/// The source-coordinate rules, shared by the reference and the optimized kernels so that
/// both pick the same pixels and weights.
enum UpsampleIndex {
    /// torch's `compute_scales_value`: 1/scale (as float) when a scale was given, else in/out in float.
    static func ratio(scale: Double?, input: Int, output: Int) -> Float {
        if let scale { return Float(1.0 / scale) }
        return Float(input) / Float(output)
    }

    /// torch's `area_pixel_compute_scale`: (in−1)/(out−1) with aligned corners (0 for out = 1),
    /// else ``ratio(scale:input:output:)``.
    static func linearRatio(scale: Double?, input: Int, output: Int, alignCorners: Bool) -> Float {
        if alignCorners { return output > 1 ? Float(input - 1) / Float(output - 1) : 0 }
        return ratio(scale: scale, input: input, output: output)
    }

    /// The input index of output index `dst` for legacy 'nearest' (torch's `nearest_idx`):
    /// dst when the sizes are equal, dst/2 when the output is twice the input, else
    /// min(floor(dst · ratio), in − 1).
    @inline(__always)
    static func nearest(_ dst: Int, input: Int, output: Int, ratio: Float) -> Int {
        if output == input { return dst }
        if output - input == input { return dst >> 1 }
        let f = floorf(Float(dst) * ratio)
        return f < Float(input - 1) ? min(Int(f), input - 1) : input - 1   // also for NaN: no trap
    }

    /// The two input indices and weights of output index `dst` for linear interpolation
    /// (torch's `compute_source_index_and_lambda`): a copy when the sizes are equal; else the
    /// source coordinate dst · ratio (aligned corners) or max((dst + ½) · ratio − ½, 0),
    /// i0 = min(floor(src), in − 1), i1 = i0 + 1 (i0 at the last row), λ1 = clamp(src − i0, 0, 1),
    /// λ0 = 1 − λ1.
    @inline(__always)
    static func linear(_ dst: Int, input: Int, output: Int, ratio: Float, alignCorners: Bool)
        -> (i0: Int, i1: Int, l0: Float, l1: Float) {
        if output == input { return (dst, dst, 1, 0) }
        var src: Float
        if alignCorners {
            src = ratio * Float(dst)
        } else {
            src = ratio * (Float(dst) + 0.5) - 0.5
            if src < 0 { src = 0 }
        }
        let f = floorf(src)
        let i0 = f < Float(input - 1) ? min(Int(f), input - 1) : input - 1
        let l1 = min(max(src - Float(i0), 0), 1)
        let i1 = i0 < input - 1 ? i0 + 1 : i0
        return (i0, i1, 1 - l1, l1)
    }
}

extension Reference {
    /// The upsampled planes: nearest copies the source pixel; bilinear is
    /// λ0h·(λ0w·x[h0,w0] + λ1w·x[h0,w1]) + λ1h·(λ0w·x[h1,w0] + λ1w·x[h1,w1]) (torch's order).
    /// Indices are recomputed for every output element.
    static func upsample2d(_ g: Upsample2DGeometry, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        let inPlane = g.inHeight * g.inWidth, outPlane = g.outHeight * g.outWidth
        for p in 0..<g.planes {
            let src = x + p * inPlane, dst = y + p * outPlane
            for oy in 0..<g.outHeight {
                for ox in 0..<g.outWidth {
                    switch g.mode {
                    case .nearest:
                        let iy = UpsampleIndex.nearest(oy, input: g.inHeight, output: g.outHeight, ratio: g.ratioH)
                        let ix = UpsampleIndex.nearest(ox, input: g.inWidth, output: g.outWidth, ratio: g.ratioW)
                        dst[oy * g.outWidth + ox] = src[iy * g.inWidth + ix]
                    case .bilinear(let ac):
                        let h = UpsampleIndex.linear(oy, input: g.inHeight, output: g.outHeight, ratio: g.ratioH, alignCorners: ac)
                        let w = UpsampleIndex.linear(ox, input: g.inWidth, output: g.outWidth, ratio: g.ratioW, alignCorners: ac)
                        let r0 = src + h.i0 * g.inWidth, r1 = src + h.i1 * g.inWidth
                        let top = w.l0 * r0[w.i0] + w.l1 * r0[w.i1]
                        let bottom = w.l0 * r1[w.i0] + w.l1 * r1[w.i1]
                        dst[oy * g.outWidth + ox] = h.l0 * top + h.l1 * bottom
                    }
                }
            }
        }
    }

    /// The adjoint: dx = 0, then every output gradient added to the input pixels it was
    /// read from (nearest: its source pixel; bilinear: the four, times λh·λw), in output order
    /// (torch's). g: [planes, outHeight, outWidth]; dx: [planes, inHeight, inWidth].
    static func upsample2dBackward(_ g: Upsample2DGeometry, gradOutput gy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>) {
        let inPlane = g.inHeight * g.inWidth, outPlane = g.outHeight * g.outWidth
        for i in 0..<(g.planes * inPlane) { dx[i] = 0 }
        for p in 0..<g.planes {
            let d = dx + p * inPlane, src = gy + p * outPlane
            for oy in 0..<g.outHeight {
                for ox in 0..<g.outWidth {
                    let v = src[oy * g.outWidth + ox]
                    switch g.mode {
                    case .nearest:
                        let iy = UpsampleIndex.nearest(oy, input: g.inHeight, output: g.outHeight, ratio: g.ratioH)
                        let ix = UpsampleIndex.nearest(ox, input: g.inWidth, output: g.outWidth, ratio: g.ratioW)
                        d[iy * g.inWidth + ix] += v
                    case .bilinear(let ac):
                        let h = UpsampleIndex.linear(oy, input: g.inHeight, output: g.outHeight, ratio: g.ratioH, alignCorners: ac)
                        let w = UpsampleIndex.linear(ox, input: g.inWidth, output: g.outWidth, ratio: g.ratioW, alignCorners: ac)
                        d[h.i0 * g.inWidth + w.i0] += h.l0 * w.l0 * v
                        d[h.i0 * g.inWidth + w.i1] += h.l0 * w.l1 * v
                        d[h.i1 * g.inWidth + w.i0] += h.l1 * w.l0 * v
                        d[h.i1 * g.inWidth + w.i1] += h.l1 * w.l1 * v
                    }
                }
            }
        }
    }
}
