// Direct convolution for small first layers (LeNet's C1: one input channel, 5×5, 28 columns):
// SIMD16 along the output width, four output rows at a time (four independent FMA chains),
// weights read as scalars straight from the packed GEMM panels. It skips the im2col copy and
// the GEMM's edge tiles, which dominate when the patch and the channel count are tiny.

extension Optimized {
    /// Whether ``smallConv(_:input:packed:bias:residual:relu:output:)`` takes `g`: one group,
    /// stride 1, no padding or dilation, output rows of at least 16, a patch within one
    /// packed k block, and few weights (patch · out channels <= 1024).
    static func smallConvApplies(_ g: Conv2DGeometry) -> Bool {
        g.groups == 1 && g.stride == Size2D(1) && g.dilation == Size2D(1) && g.padding == Padding2D(0)
            && g.outWidth >= 16 && g.patchSize <= gemmKC && gemmMR == 8 && g.patchSize * g.outChannels <= 1024
    }

    /// out[n, o] = Σ_{c,k,l} w[o, c, k, l] · in[n, c, y + k, x + l] + bias[o] (+ residual) (ReLU),
    /// for a geometry ``smallConvApplies(_:)`` accepts; `packed` holds the (flipped, folded)
    /// weights packed by ``packA(m:k:a:lda:into:)``.
    static func smallConv(_ g: Conv2DGeometry, input: UnsafePointer<Float>, packed: UnsafePointer<Float>,
                          bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, relu: Bool,
                          output: UnsafeMutablePointer<Float>) {
        typealias V = SIMD16<Float>
        let c = g.inChannels, h = g.inHeight, w = g.inWidth, kh = g.kernelHeight, kw = g.kernelWidth
        let oh = g.outHeight, ow = g.outWidth, patch = g.patchSize
        withUnsafeTemporaryAllocation(of: Float.self, capacity: patch) { buffer in
            guard let wts = buffer.baseAddress else { return }
            for n in 0..<g.batch {
                let x = input + n * c * h * w
                for o in 0..<g.outChannels {
                    // Row o of the packed matrix: panel o/8, lane o%8, column p at p·8.
                    let row = packed + (o / 8) * 8 * patch + o % 8
                    for p in 0..<patch { wts[p] = row[p * 8] }
                    let b = bias?[o] ?? 0
                    let plane = (n * g.outChannels + o) * oh * ow
                    var y = 0
                    while y < oh {
                        let r0 = y, r1 = min(y + 1, oh - 1), r2 = min(y + 2, oh - 1), r3 = min(y + 3, oh - 1)
                        var xb = 0
                        while xb < ow {
                            let x0 = min(xb, ow - 16)
                            var a0 = V(repeating: b), a1 = a0, a2 = a0, a3 = a0
                            var p = 0
                            for ch in 0..<c {
                                let src = UnsafeRawPointer(x + ch * h * w + x0)
                                for k in 0..<kh {
                                    for l in 0..<kw {
                                        let wv = wts[p]
                                        a0 = a0.addingProduct(src.loadUnaligned(fromByteOffset: 4 * ((r0 + k) * w + l), as: V.self), wv)
                                        a1 = a1.addingProduct(src.loadUnaligned(fromByteOffset: 4 * ((r1 + k) * w + l), as: V.self), wv)
                                        a2 = a2.addingProduct(src.loadUnaligned(fromByteOffset: 4 * ((r2 + k) * w + l), as: V.self), wv)
                                        a3 = a3.addingProduct(src.loadUnaligned(fromByteOffset: 4 * ((r3 + k) * w + l), as: V.self), wv)
                                        p += 1
                                    }
                                }
                            }
                            @inline(__always) func put(_ a: V, _ r: Int) {
                                var v = a
                                let at = plane + r * ow + x0
                                if let residual { v += UnsafeRawPointer(residual + at).loadUnaligned(as: V.self) }
                                if relu { v.replace(with: 0, where: v .< 0) }
                                UnsafeMutableRawPointer(output + at).storeBytes(of: v, as: V.self)
                            }
                            put(a0, r0); put(a1, r1); put(a2, r2); put(a3, r3)
                            xb = x0 + 16
                        }
                        y += 4
                    }
                }
            }
        }
    }
}
