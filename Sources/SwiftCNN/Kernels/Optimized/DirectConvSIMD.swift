// Direct convolution for two kinds of layer where im2col + GEMM spends much of its time
// gathering its matrix:
// - the strided first layer of an image network: few input channels, stride 2 to 4, any
//   kernel size and padding (ResNet's and GoogLeNet's 7×7 stride-2 stem on 224×224,
//   MobileNet's and ShuffleNet's 3×3 stride-2 stem), 147 rows gathered with stride 2 for
//   every output position;
// - stride-1 convolutions with few output channels (GoogLeNet's 3×3 branches, 16 → 32 to
//   32 → 96): the GEMM packs all of B (patch × positions) for only a few rows of A.
// Here the padded input is split once into its stride phases (for stride 1: one padded copy),
// so that every tap of 2·VL consecutive outputs is two contiguous vector loads.

extension Optimized {
    /// Most input channels ``directConv(_:input:packed:bias:residual:relu:output:scratch:)``
    /// takes: the image's colour planes (1, 3 or 4); deeper inputs have the channels that
    /// keep the GEMM busy.
    static let directConvMaxChannels = 4
    /// Fewest multiply-adds per image (out channels · patch · OH·OW) for the direct kernel;
    /// below it the small-conv kernels and the GEMM's few tiles are as good.
    static let directConvMinWork = 1 << 20
    /// Largest stride in either direction (the phase planes are stride.h · stride.w per channel).
    static let directConvMaxStride = 4
    /// Most taps (channels · KH · KW) in a patch: AlexNet's 11×11 stem has 363, over one packed
    /// k block; the bound keeps the per-call tap offset table small.
    static let directConvMaxPatch = 4 * gemmKC
    /// Output rows per work item.
    static let directConvRows = 4
    /// Most output channels of a stride-1 convolution the direct kernel takes (with more than
    /// ``directConvMaxChannels`` input channels). The GEMM's cost of packing B (patch ×
    /// positions) is shared by its rows of A, the output channels: with few of them packing is
    /// a large part. GoogLeNet's 3×3 branches on 28×28, GEMM → direct (AVX2 build, ms, at 1
    /// thread; at 2): 16 → 32 0.25–0.35 → 0.14; 0.25–0.30 → 0.11–0.16. 32 → 96 0.83–0.95 →
    /// 0.65; 0.67–1.07 → 0.43–0.46. With 128 outputs (32 → 128 on 14×14) the GEMM stayed as
    /// fast at 1 thread (0.22–0.24 against 0.25–0.38 ms).
    static let directConvStride1MaxOutChannels = 96
    /// Fewest output positions per image (OH·OW) of a stride-1 convolution the direct kernel
    /// takes. Smaller maps keep the GEMM, which multiplies a batch's images at once there
    /// (``conv2dPacked``'s batched path): GoogLeNet's 14×14 branches at batch 8, 1 thread
    /// (AVX2 build, ms), 16 → 48 0.46–0.77 on the GEMM against 0.88–0.96 direct, 24 → 64
    /// 0.73–0.85 against 1.03–1.22; at batch 1 the two were level at 1 thread.
    static let directConvStride1MinPlane = 256
    /// Stride 1 with few input channels stays on im2col + GEMM: its im2col is contiguous
    /// copies, and on VGG's first layer (3 → 64, 3×3, 224×224) the direct kernel was faster at
    /// 1 thread (3.55 → 2.75 ms) but slower at 2 (2.08 → 2.24 ms), where the layer is bound by
    /// writing its 12.8 MB output.

    /// Whether ``directConv(_:input:packed:bias:residual:relu:output:scratch:)`` takes `g`:
    /// one group, no dilation, at most ``directConvMaxPatch`` taps (the weights are the GEMM's
    /// packed panels, in as many k blocks as the patch needs), output rows at least one vector
    /// wide, strides at most ``directConvMaxStride``, enough work, a phase-plane layout whose
    /// sizes fit in an Int, and either
    /// - at most ``directConvMaxChannels`` input channels and a stride of 2 or more in at least
    ///   one direction (a first layer), or
    /// - more input channels, stride 1, a kernel larger than 1×1, at most
    ///   ``directConvStride1MaxOutChannels`` output channels and at least
    ///   ``directConvStride1MinPlane`` output positions.
    static func directConvApplies(_ g: Conv2DGeometry) -> Bool {
        let firstLayer = g.inChannels <= directConvMaxChannels && max(g.stride.h, g.stride.w) >= 2
        let fewOutputs = g.inChannels > directConvMaxChannels && g.stride == Size2D(1)
            && (g.kernelHeight > 1 || g.kernelWidth > 1) && g.outChannels <= directConvStride1MaxOutChannels
            && g.outPlane >= directConvStride1MinPlane
        guard firstLayer || fewOutputs, g.groups == 1, g.dilation == Size2D(1),
              g.patchSize <= directConvMaxPatch, g.outWidth >= GEMMVector.scalarCount,
              g.stride.h <= directConvMaxStride, g.stride.w <= directConvMaxStride,
              g.padding.top >= 0, g.padding.left >= 0 else { return false }
        guard let work = try? Checked.product([g.outChannels, g.patchSize, g.outPlane], "direct conv work"),
              work >= directConvMinWork else { return false }
        return (try? DirectConvLayout(g)) != nil
    }

    /// Floats of scratch the direct kernel uses for `g`: every image's phase planes.
    static func directConvScratchCount(_ g: Conv2DGeometry) throws -> Int {
        try Checked.mul(g.batch, try DirectConvLayout(g).imageFloats, "direct conv phase planes")
    }

    /// out[n, o] = Σ_{c,k,l} w[o, c, k, l] · in[n, c, y·sH − pT + k, x·sW − pL + l] + bias[o]
    /// (+ residual) (ReLU), for a geometry ``directConvApplies(_:)`` accepts. `packed` holds
    /// the (flipped, folded) weights packed by ``packA(m:k:a:lda:into:)``: for the k block of
    /// taps starting at pc (``gemmKC`` taps, fewer in the last), panel i, tap p, row r at
    /// pc·Mp + i·MR·kc + (p − pc)·MR + r (Mp: the channels rounded up to MR).
    ///
    /// 1. Each image's padded input is split into its stride phases (``DirectConvLayout``):
    ///    plane (c, a, b) row i, column j = in[c, i·sH + a − pT, j·sW + b − pL], 0 outside.
    ///    Tap (c, k, l) of output (y, x) is then plane (c, k mod sH, l mod sW) at row
    ///    y + k div sH, column x + l div sW: consecutive x are consecutive floats.
    /// 2. Work items are (image, MR-channel panel, ``directConvRows`` output rows), claimed by
    ///    the threads (at 2 threads, one row per item had each thread re-read half the input
    ///    rows its last item read). A row runs in blocks of two vectors (2·VL outputs): MR × 2
    ///    accumulators, per tap two vector loads and MR weight broadcasts; a last block of VL
    ///    outputs or fewer runs one vector. Columns past OW are computed from the planes' zero
    ///    slack and not stored.
    /// Every output is one chain of fused multiply-adds over the taps in patch order from
    /// zero, then + bias (+ residual) (ReLU): the same bits at any thread count.
    static func directConv(_ g: Conv2DGeometry, input: UnsafePointer<Float>, packed: UnsafePointer<Float>,
                           bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, relu: Bool,
                           output: UnsafeMutablePointer<Float>, scratch: UnsafeMutableBufferPointer<Float>?) throws {
        let layout = try DirectConvLayout(g)
        let need = try Checked.mul(g.batch, layout.imageFloats, "direct conv phase planes")
        let given = scratch.flatMap { $0.count >= need ? $0.baseAddress : nil }
        let owned: ScratchBuffer? = given == nil ? try ScratchBuffer(count: need) : nil
        guard let planes = given ?? owned?.pointer else {
            throw SwiftCNNError(.internal, "conv2d: no phase-plane buffer for the direct kernel")
        }
        let patch = g.patchSize, kh = g.kernelHeight, kw = g.kernelWidth
        let sh = g.stride.h, sw = g.stride.w
        withUnsafeTemporaryAllocation(of: Int.self, capacity: patch) { offsetBuffer in
            guard let offsets = offsetBuffer.baseAddress else { return }
            var p = 0
            for c in 0..<g.inChannels {
                for k in 0..<kh {
                    for l in 0..<kw {
                        let plane = c * layout.phases + (k % sh) * sw + l % sw
                        offsets[p] = plane * layout.planeStride + (k / sh) * layout.wq + l / sw
                        p += 1
                    }
                }
            }
            // 1. The phase planes: one item per (image, channel, row phase).
            Threading.parallelFor(g.batch * g.inChannels * sh) { item in
                let a = item % sh, nc = item / sh
                let src = input + nc * g.inPlane
                for b in 0..<sw {
                    let dst = planes + (nc * layout.phases + a * sw + b) * layout.planeStride
                    layout.fill(g, plane: dst, from: src, rowPhase: a, columnPhase: b)
                }
            }
            // 2. The outputs.
            let mr = gemmMR
            let panels = (g.outChannels + mr - 1) / mr
            let job = DirectConvJob(g: g, layout: layout, planes: UnsafePointer(planes), packed: packed,
                                    offsets: UnsafePointer(offsets), bias: bias, residual: residual, relu: relu,
                                    output: output)
            // An item is `directConvRows` consecutive rows of one panel: a thread's next row
            // reads three of the four phase-plane rows its last one read (7×7, stride 2).
            let chunk = directConvRows, chunks = (g.outHeight + chunk - 1) / chunk
            Threading.parallelFor(g.batch * panels * chunks) { item in
                let c = item % chunks, rest = item / chunks
                for y in (c * chunk)..<min(g.outHeight, (c + 1) * chunk) {
                    job.row(n: rest / panels, panel: rest % panels, y: y)
                }
            }
        }
        withExtendedLifetime(owned) {}
    }
}

/// Where ``Optimized/directConv(_:input:packed:bias:residual:relu:output:scratch:)`` puts
/// one image's phase planes: for each input channel c and stride phase (a, b), a plane of
/// `hq` rows × `wq` columns at (c·sH·sW + a·sW + b)·`planeStride`.
struct DirectConvLayout {
    /// Rows of a plane: OH − 1 + (KH − 1) div sH + 1.
    let hq: Int
    /// Columns of a plane: the output row rounded up to whole two-vector blocks, plus
    /// (KW − 1) div sW, so that every block's loads stay inside the plane.
    let wq: Int
    /// sH · sW planes per channel.
    let phases: Int
    /// hq · wq.
    let planeStride: Int
    /// Floats of one image's planes: C · phases · planeStride.
    let imageFloats: Int
    /// Two-vector blocks per output row.
    let blocks: Int

    /// Throws when a size overflows.
    init(_ g: Conv2DGeometry) throws {
        let width = 2 * Optimized.GEMMVector.scalarCount
        guard g.stride.h >= 1, g.stride.w >= 1, g.outHeight >= 1, g.outWidth >= 1 else {
            throw SwiftCNNError(.internal, "conv2d: the direct kernel needs a positive stride and output size")
        }
        blocks = (g.outWidth - 1) / width + 1
        hq = try Checked.add(g.outHeight - 1, (g.kernelHeight - 1) / g.stride.h + 1, "direct conv plane rows")
        wq = try Checked.add(try Checked.mul(blocks, width, "direct conv plane columns"),
                             (g.kernelWidth - 1) / g.stride.w, "direct conv plane columns")
        phases = g.stride.h * g.stride.w
        planeStride = try Checked.mul(hq, wq, "direct conv plane")
        imageFloats = try Checked.product([g.inChannels, phases, planeStride], "direct conv phase planes")
    }

    /// Writes plane (a, b) of one input channel `src` (IH × IW) into `plane`: row i, column j
    /// = src[i·sH + a − pT, j·sW + b − pL], 0 where that falls outside the input.
    func fill(_ g: Conv2DGeometry, plane: UnsafeMutablePointer<Float>, from src: UnsafePointer<Float>,
              rowPhase a: Int, columnPhase b: Int) {
        let sh = g.stride.h, sw = g.stride.w, ih = g.inHeight, iw = g.inWidth
        // Columns j with 0 <= j·sW + b − pL < IW: j0..<j1.
        let first = g.padding.left - b   // j·sW >= first
        let j0 = min(wq, first <= 0 ? 0 : (first + sw - 1) / sw)
        let end = iw + g.padding.left - b   // j·sW < end
        let j1 = max(j0, min(wq, end <= 0 ? 0 : (end + sw - 1) / sw))
        for i in 0..<hq {
            let row = plane + i * wq
            let y = i * sh + a - g.padding.top
            guard y >= 0 && y < ih else {
                row.update(repeating: 0, count: wq)
                continue
            }
            row.update(repeating: 0, count: j0)
            let line = src + y * iw + b - g.padding.left
            if sw == 1 {
                (row + j0).update(from: line + j0, count: j1 - j0)
            } else {
                for j in j0..<j1 { row[j] = line[j * sw] }
            }
            (row + j1).update(repeating: 0, count: wq - j1)
        }
    }
}

/// One call of the direct kernel: what every work item (image, channel panel, output row) needs.
struct DirectConvJob {
    let g: Conv2DGeometry
    let layout: DirectConvLayout
    let planes: UnsafePointer<Float>
    let packed: UnsafePointer<Float>
    let offsets: UnsafePointer<Int>
    let bias: UnsafePointer<Float>?
    let residual: UnsafePointer<Float>?
    let relu: Bool
    let output: UnsafeMutablePointer<Float>

    /// Output row `y` of channels panel·MR ..< (panel + 1)·MR of image `n`: blocks of two
    /// vectors, and one vector for a last block of VL outputs or fewer. A last panel of few
    /// channels computes MR/3 or 2·MR/3 rows, not MR (64 channels = 5·12 + 4: the stem's
    /// last panel did three times the work it keeps).
    @inline(__always)
    func row(n: Int, panel: Int, y: Int) {
        let mr = Optimized.gemmMR, third = mr / 3
        let rows = min(mr, g.outChannels - panel * mr)
        if rows > 2 * third {
            blocks(mr, n: n, panel: panel, y: y)
        } else if rows > third {
            blocks(2 * third, n: n, panel: panel, y: y)
        } else {
            blocks(third, n: n, panel: panel, y: y)
        }
    }

    /// ``row(n:panel:y:)`` with `R` rows computed (a constant after inlining).
    @inline(always)
    func blocks(_ R: Int, n: Int, panel: Int, y: Int) {
        let width = 2 * Optimized.GEMMVector.scalarCount
        for block in 0..<layout.blocks {
            let x0 = block * width
            if g.outWidth - x0 > width / 2 {
                outputs(2, R, n: n, panel: panel, y: y, x0: x0)
            } else {
                outputs(1, R, n: n, panel: panel, y: y, x0: x0)
            }
        }
    }

    /// The outputs x0 ..< x0 + W·VL (those below OW) of row `y`, channels panel·MR ..<
    /// panel·MR + R, image `n`, for `W` 1 or 2 and `R` MR/3, 2·MR/3 or MR (constants after
    /// inlining); the weights keep their MR-row panel layout.
    @inline(always)
    func outputs(_ W: Int, _ R: Int, n: Int, panel: Int, y: Int, x0: Int) {
        typealias V = Optimized.GEMMVector
        let mr = Optimized.gemmMR, vl = V.scalarCount, vb = MemoryLayout<V>.size
        let patch = g.patchSize, ow = g.outWidth, plane = g.outPlane
        let rows = min(mr, g.outChannels - panel * mr)
        let base = planes + n * layout.imageFloats + y * layout.wq + x0
        var c0 = V(), c1 = V(), c2 = V(), c3 = V(), c4 = V(), c5 = V()
        var c6 = V(), c7 = V(), c8 = V(), c9 = V(), c10 = V(), c11 = V()
        var d0 = V(), d1 = V(), d2 = V(), d3 = V(), d4 = V(), d5 = V()
        var d6 = V(), d7 = V(), d8 = V(), d9 = V(), d10 = V(), d11 = V()
        let mp = (g.outChannels + mr - 1) / mr * mr
        var tp = offsets
        var pc = 0
        while pc < patch {
            // The weights' k block of taps pc ..< pc + kc (one block for patches up to gemmKC).
            let kc = min(Optimized.gemmKC, patch - pc)
            var wp = packed + pc * mp + panel * mr * kc
            pc += kc
            for _ in 0..<kc {
                // Both vectors first, then each weight broadcast once into both products (as the
                // GEMM's micro-kernel does): 24 accumulators, 2 inputs and one broadcast fit the
                // 32 vector registers; loading the second vector after the first row of products
                // kept 12 broadcasts live and spilled accumulators to the stack.
                let src = UnsafeRawPointer(base + tp.pointee)
                let x: V = Optimized.loadVector(src)
                let z: V = W > 1 ? Optimized.loadVector(src, vb) : V()
                @inline(__always) func fma(_ r: Int, _ c: inout V, _ d: inout V) {
                    if r >= R { return }
                    let s = wp[r]
                    c = c.addingProduct(s, x)
                    if W > 1 { d = d.addingProduct(s, z) }
                }
                fma(0, &c0, &d0); fma(1, &c1, &d1); fma(2, &c2, &d2)
                fma(3, &c3, &d3); fma(4, &c4, &d4); fma(5, &c5, &d5)
                if mr > 6 {
                    fma(6, &c6, &d6); fma(7, &c7, &d7); fma(8, &c8, &d8)
                    fma(9, &c9, &d9); fma(10, &c10, &d10); fma(11, &c11, &d11)
                }
                wp += mr
                tp += 1
            }
        }
        let count = min(W * vl, ow - x0)
        @inline(__always) func put(_ a: V, _ b: V, _ r: Int) {
            if r >= R || r >= rows { return }
            let o = panel * mr + r
            let at = (n * g.outChannels + o) * plane + y * ow + x0
            let bias = self.bias?[o]
            if count == W * vl {
                Optimized.store(W, a, b, UnsafeMutableRawPointer(output + at),
                                residual.map { UnsafeRawPointer($0 + at) }, bias, relu, false)
                return
            }
            // The row's last block: its first `count` outputs, as the vector path computes them.
            for lane in 0..<count {
                var v = lane < vl ? a[lane] : b[lane - vl]
                if let bias { v += bias }
                if let residual { v += residual[at + lane] }
                if relu && v < 0 { v = 0 }
                output[at + lane] = v
            }
        }
        put(c0, d0, 0); put(c1, d1, 1); put(c2, d2, 2); put(c3, d3, 3); put(c4, d4, 4); put(c5, d5, 5)
        if mr > 6 {
            put(c6, d6, 6); put(c7, d7, 7); put(c8, d8, 8); put(c9, d9, 9); put(c10, d10, 10); put(c11, d11, 11)
        }
    }
}
