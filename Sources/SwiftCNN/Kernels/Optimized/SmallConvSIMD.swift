// Direct convolution for small first layers (LeNet's C1: one input channel, 5×5, 28 columns):
// SIMD16 along the output width, four output rows at a time (four independent FMA chains),
// weights read as scalars straight from the packed GEMM panels (``Optimized/gemmMR`` rows each). It skips the im2col copy and
// the GEMM's edge tiles, which dominate when the patch and the channel count are tiny.

extension Optimized {
    /// Whether ``smallConv(_:input:packed:bias:residual:relu:output:)`` takes `g`: one group,
    /// stride 1, no padding or dilation, output rows of at least 16, a patch within one
    /// packed k block, and few weights (patch · out channels <= 1024).
    static func smallConvApplies(_ g: Conv2DGeometry) -> Bool {
        g.groups == 1 && g.stride == Size2D(1) && g.dilation == Size2D(1) && g.padding == Padding2D(0)
            && g.outWidth >= 16 && g.patchSize <= gemmKC && g.patchSize * g.outChannels <= 1024
            && g.patchSize * g.outChannels <= smallConvMaxWork / max(1, g.outPlane)
    }

    /// Most multiply-adds per image (patch · out channels · OH·OW) that take ``smallConv``:
    /// it runs on one thread, one output channel at a time. Above it (a SqueezeNet expand 1×1,
    /// 16 → 64 channels on 55×55: 3.1 M), the GEMM is several times faster; LeNet's C1 (0.12 M)
    /// stays here.
    static let smallConvMaxWork = 1 << 18

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
                    // Row o of the packed matrix: panel o/MR, lane o%MR, column p at p·MR.
                    let mr = gemmMR
                    let row = packed + (o / mr) * mr * patch + o % mr
                    for p in 0..<patch { wts[p] = row[p * mr] }
                    let b = bias?[o] ?? 0
                    let plane = (n * g.outChannels + o) * oh * ow
                    var y = 0
                    while y < oh {
                        let r0 = y, r1 = min(y + 1, oh - 1), r2 = min(y + 2, oh - 1), r3 = min(y + 3, oh - 1)
                        var xb = 0
                        while xb < ow {
                            let x0 = min(xb, ow - 16)
                            var a0 = V(repeating: b), a1 = a0, a2 = a0, a3 = a0
                            var wp = wts
                            for ch in 0..<c {
                                let src = x + ch * h * w + x0
                                for k in 0..<kh {
                                    // Row pointers, then plain pointer steps (no checked index arithmetic).
                                    var p0 = UnsafeRawPointer(src + (r0 + k) * w), p1 = UnsafeRawPointer(src + (r1 + k) * w)
                                    var p2 = UnsafeRawPointer(src + (r2 + k) * w), p3 = UnsafeRawPointer(src + (r3 + k) * w)
                                    for _ in 0..<kw {
                                        let wv = wp.pointee
                                        a0 = a0.addingProduct(p0.loadUnaligned(as: V.self), wv)
                                        a1 = a1.addingProduct(p1.loadUnaligned(as: V.self), wv)
                                        a2 = a2.addingProduct(p2.loadUnaligned(as: V.self), wv)
                                        a3 = a3.addingProduct(p3.loadUnaligned(as: V.self), wv)
                                        wp += 1
                                        p0 += 4; p1 += 4; p2 += 4; p3 += 4
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

    /// Whether ``smallConvByPositions(_:input:packed:bias:residual:relu:output:)`` takes `g`:
    /// one group, no padding or dilation, a patch within one packed k block, and little work
    /// (out channels · patch · positions <= 2²⁰ multiply-adds per image: LeNet's C3).
    static func smallConvByPositionsApplies(_ g: Conv2DGeometry) -> Bool {
        g.groups == 1 && g.dilation == Size2D(1) && g.padding == Padding2D(0) && g.patchSize <= gemmKC
            && g.outChannels * g.patchSize * g.outPlane <= 1 << 20
    }

    /// The same convolution as an implicit GEMM with the output channels in the lanes: for
    /// each ``gemmMR``-channel panel of the packed weights (one ``GEMMVector`` per tap, its
    /// lanes past MR unused: they read the next panel or the packed A's slack) and four
    /// output positions at a time, Σ_p panel[p] · in[position + offset(p)] (offsets of the
    /// patch's taps precomputed), so there is no im2col copy and no 32-column GEMM tile to fill.
    static func smallConvByPositions(_ g: Conv2DGeometry, input: UnsafePointer<Float>, packed: UnsafePointer<Float>,
                                     bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, relu: Bool,
                                     output: UnsafeMutablePointer<Float>, allowWide: Bool = true) {
        if allowWide && smallConvWideApplies(g) {
            smallConvWide(g, input: input, packed: packed, bias: bias, residual: residual, relu: relu, output: output)
            return
        }
        typealias V = GEMMVector
        let c = g.inChannels, h = g.inHeight, w = g.inWidth, kh = g.kernelHeight, kw = g.kernelWidth
        let oh = g.outHeight, ow = g.outWidth, patch = g.patchSize, plane = g.outPlane
        let sh = g.stride.h, sw = g.stride.w
        let mr = gemmMR
        let step = mr * MemoryLayout<Float>.stride
        let panels = (g.outChannels + mr - 1) / mr
        withUnsafeTemporaryAllocation(of: Int.self, capacity: patch + plane) { buffer in
            guard let offsets = buffer.baseAddress else { return }
            let starts = offsets + patch
            var p = 0
            for ch in 0..<c {
                for k in 0..<kh {
                    for l in 0..<kw {
                        offsets[p] = ch * h * w + k * w + l
                        p += 1
                    }
                }
            }
            for y in 0..<oh {
                for x in 0..<ow { starts[y * ow + x] = y * sh * w + x * sw }
            }
            for n in 0..<g.batch {
                let img = input + n * c * h * w
                for ip in 0..<panels {
                    let panel = packed + ip * mr * patch
                    let rows = min(mr, g.outChannels - ip * mr)
                    var q = 0
                    while q < plane {
                        let q1 = min(q + 1, plane - 1), q2 = min(q + 2, plane - 1), q3 = min(q + 3, plane - 1)
                        let x0 = img + starts[q], x1 = img + starts[q1], x2 = img + starts[q2], x3 = img + starts[q3]
                        var a0 = V(), a1 = V(), a2 = V(), a3 = V()
                        var wp = UnsafeRawPointer(panel)
                        var op = UnsafePointer(offsets)
                        for _ in 0..<patch {
                            let wv = wp.loadUnaligned(as: V.self)
                            let o = op.pointee
                            a0 = a0.addingProduct(wv, x0[o])
                            a1 = a1.addingProduct(wv, x1[o])
                            a2 = a2.addingProduct(wv, x2[o])
                            a3 = a3.addingProduct(wv, x3[o])
                            wp += step
                            op += 1
                        }
                        @inline(__always) func put(_ a: V, _ pos: Int) {
                            for r in 0..<rows {
                                let i = (n * g.outChannels + ip * mr + r) * plane + pos
                                var v = a[r] + (bias?[ip * mr + r] ?? 0)
                                if let residual { v += residual[i] }
                                if relu && v < 0 { v = 0 }
                                output[i] = v
                            }
                        }
                        put(a0, q); put(a1, q1); put(a2, q2); put(a3, q3)
                        q += 4
                    }
                }
            }
        }
    }

    /// Whether ``smallConvWide(_:input:packed:bias:residual:relu:output:)`` takes a geometry
    /// of ``smallConvByPositions(_:input:packed:bias:residual:relu:output:)``: stride 1 and an
    /// input image of at most 2¹⁴ floats (copied to the stack, padded).
    static func smallConvWideApplies(_ g: Conv2DGeometry) -> Bool {
        g.stride == Size2D(1) && g.inChannels * g.inPlane <= 1 << 14 && g.inWidth <= 1024
    }

    /// ``smallConvByPositions`` for stride 1, with the positions in the lanes: output position
    /// (y, x) is computed at q = y·W + x of a "wide" grid as wide as the input (the columns
    /// x ≥ OW are computed and dropped), so tap (c, k, l) of 16 consecutive positions is one
    /// contiguous load at q + c·H·W + k·W + l. Four output channels × three 16-position vectors
    /// are accumulated together (twelve FMA chains; per tap, three loads and four weight
    /// broadcasts). Each output is the same single chain over the taps in patch order, from
    /// zero, then + bias, as in ``smallConvByPositions``: the results are bitwise the same.
    /// LeNet's C3 (16 maps of 10×10 from 6 of 14×14): 29% of the lanes are dropped columns
    /// instead of half of them idle in 12-channel panels.
    static func smallConvWide(_ g: Conv2DGeometry, input: UnsafePointer<Float>, packed: UnsafePointer<Float>,
                              bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, relu: Bool,
                              output: UnsafeMutablePointer<Float>) {
        typealias V = SIMD16<Float>
        let c = g.inChannels, h = g.inHeight, w = g.inWidth, kh = g.kernelHeight, kw = g.kernelWidth
        let oh = g.outHeight, ow = g.outWidth, patch = g.patchSize, plane = g.outPlane, oc = g.outChannels
        let mr = gemmMR
        let image = c * h * w
        let span = (oh - 1) * w + ow                 // wide positions that hold an output
        let vectors = (span + 15) / 16
        let lastTap = (c - 1) * h * w + (kh - 1) * w + (kw - 1)
        let padded = max(image, vectors * 16 + lastTap)   // every load stays inside the copy
        withUnsafeTemporaryAllocation(of: Int.self, capacity: patch) { offsetBuffer in
            withUnsafeTemporaryAllocation(of: Int32.self, capacity: vectors * 16) { destBuffer in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: padded) { copyBuffer in
                    guard let offsets = offsetBuffer.baseAddress, let dest = destBuffer.baseAddress,
                          let src = copyBuffer.baseAddress else { return }
                    var p = 0
                    for ch in 0..<c {
                        for k in 0..<kh {
                            for l in 0..<kw {
                                offsets[p] = ch * h * w + k * w + l
                                p += 1
                            }
                        }
                    }
                    // Wide position q → output index y·OW + x, or −1 for a dropped column.
                    for q in 0..<(vectors * 16) {
                        let y = q / w, x = q - (q / w) * w
                        dest[q] = x < ow && y < oh ? Int32(y * ow + x) : -1
                    }
                    (src + image).update(repeating: 0, count: padded - image)
                    for n in 0..<g.batch {
                        src.update(from: input + n * image, count: image)
                        let outBase = n * oc * plane
                        var og = 0
                        while og < oc {
                            let o1 = min(og + 1, oc - 1), o2 = min(og + 2, oc - 1), o3 = min(og + 3, oc - 1)
                            // Row o of the packed matrix: panel o/MR, lane o%MR, column p at p·MR.
                            let r0 = packed + (og / mr) * mr * patch + og % mr, r1 = packed + (o1 / mr) * mr * patch + o1 % mr
                            let r2 = packed + (o2 / mr) * mr * patch + o2 % mr, r3 = packed + (o3 / mr) * mr * patch + o3 % mr
                            var vg = 0
                            while vg < vectors {
                                let q0 = vg * 16, q1 = min(vg + 1, vectors - 1) * 16, q2 = min(vg + 2, vectors - 1) * 16
                                var a00 = V(), a01 = V(), a02 = V(), a10 = V(), a11 = V(), a12 = V()
                                var a20 = V(), a21 = V(), a22 = V(), a30 = V(), a31 = V(), a32 = V()
                                var op = UnsafePointer(offsets)
                                var wq = 0
                                for _ in 0..<patch {
                                    let base = UnsafeRawPointer(src + op.pointee)
                                    let x0 = base.loadUnaligned(fromByteOffset: 4 * q0, as: V.self)
                                    let x1 = base.loadUnaligned(fromByteOffset: 4 * q1, as: V.self)
                                    let x2 = base.loadUnaligned(fromByteOffset: 4 * q2, as: V.self)
                                    let w0 = V(repeating: r0[wq]), w1 = V(repeating: r1[wq])
                                    let w2 = V(repeating: r2[wq]), w3 = V(repeating: r3[wq])
                                    a00 = a00.addingProduct(w0, x0); a01 = a01.addingProduct(w0, x1); a02 = a02.addingProduct(w0, x2)
                                    a10 = a10.addingProduct(w1, x0); a11 = a11.addingProduct(w1, x1); a12 = a12.addingProduct(w1, x2)
                                    a20 = a20.addingProduct(w2, x0); a21 = a21.addingProduct(w2, x1); a22 = a22.addingProduct(w2, x2)
                                    a30 = a30.addingProduct(w3, x0); a31 = a31.addingProduct(w3, x1); a32 = a32.addingProduct(w3, x2)
                                    op += 1
                                    wq += mr
                                }
                                @inline(__always) func put(_ a: V, _ o: Int, _ q: Int) {
                                    let b = bias?[o] ?? 0
                                    for lane in 0..<16 {
                                        let d = Int(dest[q + lane])
                                        if d < 0 { continue }
                                        let i = outBase + o * plane + d
                                        var v = a[lane] + b
                                        if let residual { v += residual[i] }
                                        if relu && v < 0 { v = 0 }
                                        output[i] = v
                                    }
                                }
                                @inline(__always) func putColumn(_ b0: V, _ b1: V, _ b2: V, _ b3: V, _ q: Int) {
                                    put(b0, og, q)
                                    if og + 1 < oc { put(b1, o1, q) }
                                    if og + 2 < oc { put(b2, o2, q) }
                                    if og + 3 < oc { put(b3, o3, q) }
                                }
                                putColumn(a00, a10, a20, a30, q0)
                                if vg + 1 < vectors { putColumn(a01, a11, a21, a31, q1) }
                                if vg + 2 < vectors { putColumn(a02, a12, a22, a32, q2) }
                                vg += 3
                            }
                            og += 4
                        }
                    }
                }
            }
        }
    }
}
