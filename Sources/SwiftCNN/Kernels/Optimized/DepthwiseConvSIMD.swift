// Depthwise convolution (groups == input channels: every output channel reads one input
// plane), the hot path of MobileNet-style depthwise-separable blocks. Through im2col + GEMM
// it is one k = KH·KW, m = multiplier product per channel: all packing, no arithmetic.
//
// Here each input plane is first rewritten, once for all its multiplier outputs, into
// zero-padded "phase planes": for strides sH × sW, plane (ry, rx) holds the padded input's
// rows ry, ry + sH, … and columns rx, rx + sW, … (only the phases some tap reads). Then
//
//     out[y, x] = Σ_{k,l} w[k, l] · phase((k·dH) % sH, (l·dW) % sW)[y + (k·dH)/sH, x + (l·dW)/sW]
//
// so every tap is a contiguous run of its phase plane at a fixed offset, whatever the
// stride, dilation or padding: SIMD16 loads along the output columns, no bounds checks, no
// gathers (stride 2 becomes an even/odd deinterleave while copying). Four vectors are summed
// at a time (four independent FMA chains). Output rows of 16 or more are computed in place
// (the last vector of a row overlaps its neighbour); narrower planes are computed flat
// (rows of the phase plane back to back, the padding columns computed and dropped) into a
// staging buffer, so that a 7×7 map still fills whole vectors. 3×3 stride-1 rows take a
// register-blocked kernel (four output rows share the loads of six input rows).
// The fused output pass adds the bias, the residual, and applies ReLU, as the other
// convolution kernels do. Work items are input planes (image × channel), claimed
// dynamically by the pool's threads; every output is computed by the same instructions
// whichever thread runs it, so results are bitwise identical for every thread count.
//
// The backward pass (``Optimized/depthwiseConv2dBackward``) uses the same phase planes:
// dW[t] is a dot product of dY with tap t's run of them, and dX is read back from their
// gradient, built by one axpy per tap and row.

import Synchronization

/// A depthwise convolution's weights prepared for ``Optimized/depthwiseConv2d(_:input:weight:flip:bias:residual:relu:output:scratch:)``:
/// `[O, KH·KW]`, flipped for true convolution (then passed with `flip: false`), batch norm
/// already folded in by the caller.
final class DepthwiseConvWeights {
    let buffer: ScratchBuffer
    let outChannels: Int
    let taps: Int

    /// Copies `weight` `[O, 1, KH, KW]` for `g` (which ``Optimized/depthwiseApplies(_:)``),
    /// flipping each kernel when `g.flipKernel`. Throws `.outOfMemory`.
    init(_ g: Conv2DGeometry, weight: UnsafePointer<Float>) throws {
        let kh = g.kernelHeight, kw = g.kernelWidth, taps = kh * kw
        buffer = try ScratchBuffer(count: try Checked.mul(g.outChannels, taps, "depthwise weights"))
        for o in 0..<g.outChannels {
            let src = weight + o * taps, dst = buffer.pointer + o * taps
            for t in 0..<taps { dst[t] = g.flipKernel ? src[taps - 1 - t] : src[t] }
        }
        outChannels = g.outChannels
        self.taps = taps
    }

    var pointer: UnsafePointer<Float> { UnsafePointer(buffer.pointer) }
}

/// The shapes of one depthwise convolution's phase planes (see the file's comment).
struct DepthwiseLayout {
    /// Rows and columns of one phase plane.
    let hq: Int, wq: Int
    /// Distinct row and column phases the taps read (tap k reads row phase k % rowPeriod).
    let rowPhases: Int, colPhases: Int
    let rowPeriod: Int, colPeriod: Int
    /// Floats from one phase plane to the next: hq·wq and at least 16 zeros (the flat
    /// path's last vectors read, and the build's last stores write, up to 15 floats past
    /// the plane), a multiple of 16.
    let planeStride: Int
    /// Output rows narrower than one vector: computed flat into a staging buffer.
    let flat: Bool
    /// 3×3, stride 1, dilation 1, rows of at least 16: the register-blocked row kernel.
    let rows3x3: Bool
    let taps: Int
    /// Floats of one worker's scratch: its phase planes, the staging plane, the taps' weights.
    let workerFloats: Int

    /// The phase-plane columns j0..<j1 that read the input for the column phase whose
    /// `lead` is pL − rx: 0 <= j·sW − lead < W (the others are padding).
    func inputColumns(lead: Int, _ g: Conv2DGeometry) -> (Int, Int) {
        let sw = g.stride.w, w = g.inWidth
        let j0 = lead <= 0 ? 0 : min(wq, (lead + sw - 1) / sw)
        let j1 = w - 1 + lead < 0 ? j0 : max(j0, min(wq, (w - 1 + lead) / sw + 1))
        return (j0, j1)
    }

    init(_ g: Conv2DGeometry) throws {
        let sh = g.stride.h, sw = g.stride.w, dh = g.dilation.h, dw = g.dilation.w
        func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
        // (k·dH) mod sH repeats with period sH / gcd(dH, sH) and is distinct within one period.
        rowPeriod = sh / gcd(dh, sh)
        colPeriod = sw / gcd(dw, sw)
        rowPhases = min(g.kernelHeight, rowPeriod)
        colPhases = min(g.kernelWidth, colPeriod)
        // (KH−1)·dH <= padded height (validated), so these cannot overflow.
        hq = g.outHeight + (g.kernelHeight - 1) * dh / sh
        wq = g.outWidth + (g.kernelWidth - 1) * dw / sw
        let area = try Checked.mul(hq, wq, "depthwise phase plane")
        planeStride = try Checked.add(area, 31, "depthwise phase plane") / 16 * 16
        flat = g.outWidth < 16
        rows3x3 = !flat && g.kernelHeight == 3 && g.kernelWidth == 3 && g.stride == Size2D(1) && g.dilation == Size2D(1)
        taps = g.kernelHeight * g.kernelWidth
        let phases = try Checked.mul(try Checked.mul(rowPhases, colPhases), planeStride, "depthwise scratch")
        workerFloats = try Checked.add(try Checked.add(phases, flat ? planeStride : 0, "depthwise scratch"),
                                       (taps + 15) / 16 * 16, "depthwise scratch")
    }
}

extension Optimized {
    /// Largest channel multiplier (output channels per input channel) that takes the
    /// depthwise kernel; above it each input plane feeds enough outputs for the GEMM's
    /// register blocking to win. (Measured against the prepacked GEMM, 3×3 and 5×5, 1 to 64
    /// channels, 14² to 56² maps: the depthwise kernel 7× faster at 1, 2–5× at 8, 1.1–3.7× at
    /// 16, break-even to 3× faster at 32 — the GEMM won at 1 channel, 28², 5×5.)
    static let depthwiseMaxMultiplier = 16

    /// Whether ``depthwiseConv2d(_:input:weight:flip:bias:residual:relu:output:scratch:)``
    /// takes `g`: one input channel per group (groups == input channels) and a channel
    /// multiplier of at most ``depthwiseMaxMultiplier``, with strides and dilations up to
    /// ``depthwiseMaxStep`` and padding up to ``depthwiseMaxPadding`` (so that the phase
    /// planes' index arithmetic stays far from overflow; larger values, which no network
    /// uses, take the GEMM path). Depends only on the convolution's own parameters, not the
    /// input size, so a prepared convolution keeps its kernel for every input size.
    static func depthwiseApplies(_ g: Conv2DGeometry) -> Bool {
        let p = g.padding
        return g.inChannelsPerGroup == 1 && g.outChannelsPerGroup <= depthwiseMaxMultiplier
            && g.stride.h <= depthwiseMaxStep && g.stride.w <= depthwiseMaxStep
            && g.dilation.h <= depthwiseMaxStep && g.dilation.w <= depthwiseMaxStep
            && max(p.top, p.bottom, p.left, p.right) <= depthwiseMaxPadding
    }

    /// The largest stride or dilation the depthwise kernel takes.
    static let depthwiseMaxStep = 1 << 10
    /// The largest padding on any side the depthwise kernel takes.
    static let depthwiseMaxPadding = 1 << 16

    /// Threads the depthwise kernel uses for `g`: one for little work (under 2¹⁵
    /// multiply-adds), else up to one per input plane.
    static func depthwiseWorkers(_ g: Conv2DGeometry) -> Int {
        let planes = g.batch * g.inChannels
        let (a, o1) = (g.outChannels * g.batch).multipliedReportingOverflow(by: g.outPlane)
        let (work, o2) = a.multipliedReportingOverflow(by: g.kernelHeight * g.kernelWidth)
        if !o1 && !o2 && work < 1 << 15 { return 1 }
        return max(1, min(Threading.numThreads, planes))
    }

    /// Floats of scratch the depthwise kernel uses for `g` at the current thread count.
    static func depthwiseScratchCount(_ g: Conv2DGeometry) throws -> Int {
        try Checked.mul(try DepthwiseLayout(g).workerFloats, depthwiseWorkers(g), "depthwise scratch")
    }

    /// Depthwise 2-D convolution with the fused output pass:
    /// out[n, o] = conv(in[n, o / m], w[o]) + bias[o] (+ residual) (then ReLU) (then `op`, a
    /// ``UnaryOp/fusable`` activation), m = O / C.
    ///
    /// - g: a geometry ``depthwiseApplies(_:)`` accepts (any kernel, stride, dilation, padding)
    /// - weight: `[O, 1, KH, KW]`; `flip` flips each kernel (true convolution) — pass
    ///   `g.flipKernel` for raw weights, false for ``DepthwiseConvWeights``
    /// - residual: nil or the output's shape, not overlapping `output`
    /// - scratch: ``depthwiseScratchCount(_:)`` floats, or nil (or too small) to use the
    ///   shared scratch cache
    /// - Throws: `.outOfMemory` when scratch memory cannot be had; `.internal` when `g` is not depthwise.
    static func depthwiseConv2d(_ g: Conv2DGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, flip: Bool,
                                bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, relu: Bool,
                                op: UnaryOp? = nil, output: UnsafeMutablePointer<Float>,
                                scratch: UnsafeMutableBufferPointer<Float>? = nil) throws {
        guard g.inChannelsPerGroup == 1 else {
            throw SwiftCNNError(.internal, "conv2d: the depthwise kernel needs one input channel per group")
        }
        let layout = try DepthwiseLayout(g)
        let workers = depthwiseWorkers(g)
        let needed = try Checked.mul(layout.workerFloats, workers, "depthwise scratch")
        let given = scratch.flatMap { $0.count >= needed ? $0.baseAddress : nil }
        let cached: ScratchBuffer? = given == nil ? try GEMMScratchCache.shared.take(needed) : nil
        defer { if let cached { GEMMScratchCache.shared.give(cached) } }
        guard let base = given ?? cached?.pointer else { return }
        let kh = g.kernelHeight, kw = g.kernelWidth, taps = layout.taps
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * taps) { buffer in
            guard let offsets = buffer.baseAddress else { return }
            // Tap t = (k, l): its byte offset in the phase planes, and the weight it multiplies.
            let weightIndex = offsets + taps
            for k in 0..<kh {
                for l in 0..<kw {
                    let a = k * g.dilation.h, b = l * g.dilation.w
                    let phase = (k % layout.rowPeriod) * layout.colPhases + l % layout.colPeriod
                    let t = k * kw + l
                    offsets[t] = 4 * (phase * layout.planeStride + (a / g.stride.h) * layout.wq + b / g.stride.w)
                    weightIndex[t] = flip ? taps - 1 - t : t
                }
            }
            let planes = g.batch * g.inChannels
            // Planes are claimed in chunks (about eight per worker), so that small maps do
            // not make the workers contend for the counter at every plane.
            let chunk = max(1, planes / (8 * workers))
            let next = Atomic<Int>(0)
            let job = DepthwiseJob(g: g, layout: layout, input: input, weight: weight, bias: bias, residual: residual,
                                   relu: relu, op: op, output: output, offsets: UnsafePointer(offsets),
                                   weightIndex: UnsafePointer(weightIndex))
            Threading.parallelFor(workers) { w in
                let scratch = base + w * layout.workerFloats
                let phases = layout.rowPhases * layout.colPhases
                // The slack past each phase plane is read (by lanes that are dropped) and only
                // ever written with zeros (``DepthwiseJob/buildPhases(_:into:)``): zero it once.
                for p in 0..<phases {
                    (scratch + p * layout.planeStride + layout.hq * layout.wq)
                        .update(repeating: 0, count: layout.planeStride - layout.hq * layout.wq)
                }
                while true {
                    let first = chunk * next.wrappingAdd(1, ordering: .relaxed).oldValue
                    if first >= planes { break }
                    for plane in first..<min(planes, first + chunk) { job.run(plane: plane, scratch: scratch) }
                }
            }
        }
    }
}

/// One call of the depthwise kernel: what every work item (an input plane) needs.
struct DepthwiseJob {
    typealias V = SIMD16<Float>
    let g: Conv2DGeometry
    let layout: DepthwiseLayout
    let input: UnsafePointer<Float>, weight: UnsafePointer<Float>
    /// One past the input tensor's last float (whole-vector loads stay below it).
    var inputEnd: UnsafePointer<Float> { input + g.batch * g.inChannels * g.inPlane }
    let bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?
    let relu: Bool
    /// An activation after the ReLU (``Optimized/unaryVector(_:_:)``), or nil.
    let op: UnaryOp?
    let output: UnsafeMutablePointer<Float>
    /// Per tap: byte offset into the phase planes, and index into the output channel's weights.
    let offsets: UnsafePointer<Int>, weightIndex: UnsafePointer<Int>

    /// Input plane `plane` (image n, channel c) to output channels c·m ..< (c+1)·m of image n.
    @inline(__always)
    func run(plane: Int, scratch: UnsafeMutablePointer<Float>) {
        let c = g.inChannels, n = plane / c, ch = plane % c
        let m = g.outChannelsPerGroup
        let phases = scratch
        let staging = scratch + layout.rowPhases * layout.colPhases * layout.planeStride
        let wts = staging + (layout.flat ? layout.planeStride : 0)
        buildPhases(input + plane * g.inPlane, into: phases)
        for j in 0..<m {
            let o = ch * m + j
            let w = weight + o * layout.taps
            for t in 0..<layout.taps { wts[t] = w[weightIndex[t]] }
            let b = bias?[o] ?? 0
            let at = (n * g.outChannels + o) * g.outPlane
            let res = residual.map { $0 + at }
            if layout.flat {
                computeFlat(UnsafePointer(phases), weights: UnsafePointer(wts), bias: b, staging: staging)
                storeFlat(staging, output: output + at, residual: res)
            } else if layout.rows3x3 {
                computeRows3x3(UnsafePointer(phases), weights: UnsafePointer(wts), bias: b, output: output + at, residual: res)
            } else {
                computeRows(UnsafePointer(phases), weights: UnsafePointer(wts), bias: b, output: output + at, residual: res)
            }
        }
    }

    /// Writes the phase planes of input plane `x` (`H × W`): plane (ry, rx) row i, column j
    /// = padded input [i·sH + ry][j·sW + rx] (0 in the padding).
    ///
    /// Rows are written in order with whole 16-float stores: a store may run up to 15 floats
    /// past its row, into the next row (written after it) or, from the last row, into the
    /// plane's slack, and only zeros go past a row's data (the last chunk of data is masked),
    /// so the slack stays zero. Loads read whole vectors too, when they stay inside the input
    /// tensor (`inputEnd`); lanes past the row's data are dropped.
    @inline(__always)
    func buildPhases(_ x: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>) {
        let sh = g.stride.h, sw = g.stride.w, h = g.inHeight, w = g.inWidth
        let pt = g.padding.top, pl = g.padding.left
        let hq = layout.hq, wq = layout.wq
        let zero = V()
        let lanes = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
        @inline(__always) func zeros(_ p: UnsafeMutablePointer<Float>, _ count: Int) {
            var i = 0
            while i < count {
                UnsafeMutableRawPointer(p + i).storeBytes(of: zero, as: V.self)
                i += 16
            }
        }
        for pr in 0..<layout.rowPhases {
            let ry = (pr * g.dilation.h) % sh
            for pc in 0..<layout.colPhases {
                let rx = (pc * g.dilation.w) % sw
                let plane = dst + (pr * layout.colPhases + pc) * layout.planeStride
                let lead = pl - rx
                let (j0, j1) = layout.inputColumns(lead: lead, g)
                for i in 0..<hq {
                    let row = plane + i * wq
                    let iy = i * sh + ry - pt
                    if iy < 0 || iy >= h || j1 == j0 {
                        zeros(row, wq)
                        continue
                    }
                    zeros(row, j0)
                    // Column j reads src[j·sW] (src[j0·sW] is the input's column j0·sW − lead >= 0).
                    let src = x + iy * w - lead
                    var j = j0
                    if sw == 1 {
                        while j + 16 <= j1 {
                            UnsafeMutableRawPointer(row + j).storeBytes(of: UnsafeRawPointer(src + j).loadUnaligned(as: V.self), as: V.self)
                            j += 16
                        }
                    } else if sw == 2 {
                        // The even lanes of 32 floats; the last odd one is needed only before the row's last chunk.
                        while j + 16 < j1 {
                            let v = DepthwiseJob.evens(src + 2 * j)
                            UnsafeMutableRawPointer(row + j).storeBytes(of: v, as: V.self)
                            j += 16
                        }
                    } else {
                        for t in j0..<j1 { row[t] = src[t * sw] }
                        j = j1
                    }
                    if j < j1 {
                        // The row's last chunk: whole-vector loads when they stay inside the input tensor.
                        let count = j1 - j, from = src + j * sw
                        var v: V
                        if sw == 1 && from + 16 <= inputEnd {
                            v = UnsafeRawPointer(from).loadUnaligned(as: V.self)
                        } else if sw == 2 && from + 32 <= inputEnd {
                            v = DepthwiseJob.evens(from)
                        } else {
                            v = V()
                            for t in 0..<count { v[t] = from[t * sw] }
                        }
                        v.replace(with: 0, where: lanes .>= SIMD16<Int32>(repeating: Int32(count)))
                        UnsafeMutableRawPointer(row + j).storeBytes(of: v, as: V.self)
                        j += 16
                    }
                    // The last data store zeroed up to j (>= j1); the rest of the row's padding.
                    if j < wq { zeros(row + j, wq - j) }
                }
            }
        }
    }

    /// Rows of at least 16 outputs: each row in 16-column vectors (the last one moved back
    /// to end at the row's end), four vectors at a time, stored through the output pass.
    @inline(__always)
    func computeRows(_ phases: UnsafePointer<Float>, weights: UnsafePointer<Float>, bias: Float,
                     output: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?) {
        let oh = g.outHeight, ow = g.outWidth, wq = layout.wq, taps = layout.taps
        var y = 0, xb = 0
        var last = (q: 0, at: 0)
        @inline(__always) func next() -> (q: Int, at: Int) {
            if y < oh {
                let x0 = min(xb, ow - 16)
                last = (y * wq + x0, y * ow + x0)
                xb += 16
                if xb >= ow { xb = 0; y += 1 }
            }
            return last
        }
        while y < oh {
            let p0 = next(), p1 = next(), p2 = next(), p3 = next()
            let s0 = UnsafeRawPointer(phases + p0.q), s1 = UnsafeRawPointer(phases + p1.q)
            let s2 = UnsafeRawPointer(phases + p2.q), s3 = UnsafeRawPointer(phases + p3.q)
            var a0 = V(repeating: bias), a1 = a0, a2 = a0, a3 = a0
            for t in 0..<taps {
                let off = offsets[t], wv = weights[t]
                a0 = a0.addingProduct(s0.loadUnaligned(fromByteOffset: off, as: V.self), wv)
                a1 = a1.addingProduct(s1.loadUnaligned(fromByteOffset: off, as: V.self), wv)
                a2 = a2.addingProduct(s2.loadUnaligned(fromByteOffset: off, as: V.self), wv)
                a3 = a3.addingProduct(s3.loadUnaligned(fromByteOffset: off, as: V.self), wv)
            }
            put(a0, p0.at, output, residual); put(a1, p1.at, output, residual)
            put(a2, p2.at, output, residual); put(a3, p3.at, output, residual)
        }
    }

    /// 3×3, stride 1, dilation 1 (one phase plane, tap (k, l) at row offset k, column l):
    /// four output rows × one 16-column vector at a time, from the six input rows they
    /// share (18 loads for 36 multiply-adds instead of 36).
    @inline(__always)
    func computeRows3x3(_ phases: UnsafePointer<Float>, weights w: UnsafePointer<Float>, bias: Float,
                        output: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?) {
        let oh = g.outHeight, ow = g.outWidth, wq = layout.wq
        let w00 = w[0], w01 = w[1], w02 = w[2], w10 = w[3], w11 = w[4], w12 = w[5], w20 = w[6], w21 = w[7], w22 = w[8]
        let rowBytes = 4 * wq
        var y = 0
        while y < oh {
            // Rows y ..< y+4 together; the last one to three rows of the plane one by one.
            let r3 = min(y + 3, oh - 1)
            let full = r3 == y + 3
            var xb = 0
            while xb < ow {
                let x0 = min(xb, ow - 16)
                let s = UnsafeRawPointer(phases + y * wq + x0)
                var a0 = V(repeating: bias), a1 = a0, a2 = a0, a3 = a0
                @inline(__always) func row(_ i: Int) -> (V, V, V) {
                    let p = s + i * rowBytes
                    return (p.loadUnaligned(as: V.self), p.loadUnaligned(fromByteOffset: 4, as: V.self),
                            p.loadUnaligned(fromByteOffset: 8, as: V.self))
                }
                if full {
                    var (u, v, t) = row(0)
                    a0 = a0.addingProduct(u, w00); a0 = a0.addingProduct(v, w01); a0 = a0.addingProduct(t, w02)
                    (u, v, t) = row(1)
                    a0 = a0.addingProduct(u, w10); a0 = a0.addingProduct(v, w11); a0 = a0.addingProduct(t, w12)
                    a1 = a1.addingProduct(u, w00); a1 = a1.addingProduct(v, w01); a1 = a1.addingProduct(t, w02)
                    (u, v, t) = row(2)
                    a0 = a0.addingProduct(u, w20); a0 = a0.addingProduct(v, w21); a0 = a0.addingProduct(t, w22)
                    a1 = a1.addingProduct(u, w10); a1 = a1.addingProduct(v, w11); a1 = a1.addingProduct(t, w12)
                    a2 = a2.addingProduct(u, w00); a2 = a2.addingProduct(v, w01); a2 = a2.addingProduct(t, w02)
                    (u, v, t) = row(3)
                    a1 = a1.addingProduct(u, w20); a1 = a1.addingProduct(v, w21); a1 = a1.addingProduct(t, w22)
                    a2 = a2.addingProduct(u, w10); a2 = a2.addingProduct(v, w11); a2 = a2.addingProduct(t, w12)
                    a3 = a3.addingProduct(u, w00); a3 = a3.addingProduct(v, w01); a3 = a3.addingProduct(t, w02)
                    (u, v, t) = row(4)
                    a2 = a2.addingProduct(u, w20); a2 = a2.addingProduct(v, w21); a2 = a2.addingProduct(t, w22)
                    a3 = a3.addingProduct(u, w10); a3 = a3.addingProduct(v, w11); a3 = a3.addingProduct(t, w12)
                    (u, v, t) = row(5)
                    a3 = a3.addingProduct(u, w20); a3 = a3.addingProduct(v, w21); a3 = a3.addingProduct(t, w22)
                    put(a0, y * ow + x0, output, residual); put(a1, (y + 1) * ow + x0, output, residual)
                    put(a2, (y + 2) * ow + x0, output, residual); put(a3, (y + 3) * ow + x0, output, residual)
                } else {
                    // The last one to three rows, each on its own (same order of operations as above).
                    for r in y...r3 {
                        var a = V(repeating: bias)
                        var (u, v, t) = row(r - y)
                        a = a.addingProduct(u, w00); a = a.addingProduct(v, w01); a = a.addingProduct(t, w02)
                        (u, v, t) = row(r - y + 1)
                        a = a.addingProduct(u, w10); a = a.addingProduct(v, w11); a = a.addingProduct(t, w12)
                        (u, v, t) = row(r - y + 2)
                        a = a.addingProduct(u, w20); a = a.addingProduct(v, w21); a = a.addingProduct(t, w22)
                        put(a, r * ow + x0, output, residual)
                    }
                }
                xb = x0 + 16
            }
            y += 4
        }
    }

    /// Narrow planes: the outputs as one flat run over the phase planes' rows (columns
    /// past OW computed and dropped), 16 at a time, into `staging` (row y at y·wq).
    @inline(__always)
    func computeFlat(_ phases: UnsafePointer<Float>, weights: UnsafePointer<Float>, bias: Float,
                     staging: UnsafeMutablePointer<Float>) {
        // The last output is at (OH−1)·wq + OW − 1; with fewer than 16 in all, one vector from 0
        // (its reads end within the plane's 16-float slack).
        let total = (g.outHeight - 1) * layout.wq + g.outWidth
        let vectors = (total + 15) / 16
        let lastStart = max(0, total - 16)
        let taps = layout.taps
        var v = 0
        while v < vectors {
            let q0 = min(16 * v, lastStart), q1 = min(16 * (v + 1), lastStart)
            let q2 = min(16 * (v + 2), lastStart), q3 = min(16 * (v + 3), lastStart)
            let s0 = UnsafeRawPointer(phases + q0), s1 = UnsafeRawPointer(phases + q1)
            let s2 = UnsafeRawPointer(phases + q2), s3 = UnsafeRawPointer(phases + q3)
            var a0 = V(repeating: bias), a1 = a0, a2 = a0, a3 = a0
            for t in 0..<taps {
                let off = offsets[t], wv = weights[t]
                a0 = a0.addingProduct(s0.loadUnaligned(fromByteOffset: off, as: V.self), wv)
                a1 = a1.addingProduct(s1.loadUnaligned(fromByteOffset: off, as: V.self), wv)
                a2 = a2.addingProduct(s2.loadUnaligned(fromByteOffset: off, as: V.self), wv)
                a3 = a3.addingProduct(s3.loadUnaligned(fromByteOffset: off, as: V.self), wv)
            }
            let d = UnsafeMutableRawPointer(staging)
            d.storeBytes(of: a0, toByteOffset: 4 * q0, as: V.self)
            d.storeBytes(of: a1, toByteOffset: 4 * q1, as: V.self)
            d.storeBytes(of: a2, toByteOffset: 4 * q2, as: V.self)
            d.storeBytes(of: a3, toByteOffset: 4 * q3, as: V.self)
            v += 4
        }
    }

    /// The output pass of a flat staging plane (row y at y·wq, OW < 16) into the output
    /// plane: rows in order as whole vectors (each store's lanes past its row land in the next
    /// row, rewritten by that row's store) while a vector fits in the plane; the last rows
    /// one float at a time.
    @inline(__always)
    func storeFlat(_ staging: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?) {
        let ow = g.outWidth, wq = layout.wq, plane = g.outPlane
        var y = 0
        while y < g.outHeight && y * ow + 16 <= plane {
            put(UnsafeRawPointer(staging + y * wq).loadUnaligned(as: V.self), y * ow, output, residual)
            y += 1
        }
        while y < g.outHeight {
            for x in 0..<ow {
                var v = staging[y * wq + x]
                if let residual { v += residual[y * ow + x] }
                if relu && v < 0 { v = 0 }
                if let op { v = Optimized.unaryScalar(op, v) }
                output[y * ow + x] = v
            }
            y += 1
        }
    }

    /// Floats 0, 2, …, 30 from `p` (32 floats read): the low halves of 16 64-bit lanes,
    /// narrowed (`SIMD32.evenHalf` in a loop was compiled to 16 scalar loads; this is two
    /// loads and one permute).
    @inline(__always)
    static func evens(_ p: UnsafePointer<Float>) -> V {
        let raw = UnsafeRawPointer(p)
        let a = SIMD8<UInt32>(truncatingIfNeeded: raw.loadUnaligned(as: SIMD8<UInt64>.self))
        let b = SIMD8<UInt32>(truncatingIfNeeded: raw.loadUnaligned(fromByteOffset: 64, as: SIMD8<UInt64>.self))
        return unsafeBitCast(SIMD16<UInt32>(lowHalf: a, highHalf: b), to: V.self)
    }

    /// The output pass of one vector: + residual, ReLU, op, store at `at`.
    @inline(__always)
    func put(_ a: V, _ at: Int, _ output: UnsafeMutablePointer<Float>, _ residual: UnsafePointer<Float>?) {
        var v = a
        if let residual { v += UnsafeRawPointer(residual + at).loadUnaligned(as: V.self) }
        if relu { v.replace(with: 0, where: v .< 0) }
        if let op { v = Optimized.unaryVector(op, v) }
        UnsafeMutableRawPointer(output + at).storeBytes(of: v, as: V.self)
    }
}

// MARK: - Backward

extension Optimized {
    /// Weight and (optionally) input gradients of a depthwise convolution (``depthwiseApplies(_:)``),
    /// the contract of ``conv2dBackward(_:input:weight:gradOutput:gradWeight:gradInput:dotPlane:imagePlane:allowDepthwise:)``.
    ///
    /// Per input channel (the work items, claimed by the pool's threads), per image: the input
    /// plane is rewritten into the forward's phase planes P, then for each of its output
    /// channels and each tap t (offset off_t, weight w_t), row by row in 16-column vectors:
    ///
    ///     dW[t] += Σ dY[y, x] · P[off_t + y·wq + x]        dP[off_t + y·wq + x] += w_t · dY[y, x]
    ///
    /// (the lanes past a row's end masked to 0), and dX is read back from dP's phase planes.
    /// dW sums images and rows in a fixed order (16-lane float partial sums, added per image
    /// and output channel): results are bitwise identical for every thread count.
    /// - Throws: `.outOfMemory` when scratch memory cannot be had.
    static func depthwiseConv2dBackward(_ g: Conv2DGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                        gradOutput: UnsafePointer<Float>, gradWeight: UnsafeMutablePointer<Float>,
                                        gradInput: UnsafeMutablePointer<Float>?) throws {
        guard g.inChannelsPerGroup == 1 else {
            throw SwiftCNNError(.internal, "conv2dBackward: the depthwise kernel needs one input channel per group")
        }
        let layout = try DepthwiseLayout(g)
        let phaseFloats = layout.rowPhases * layout.colPhases * layout.planeStride
        // Per worker: the phase planes P and their gradient dP.
        let perWorker = try Checked.mul(2, phaseFloats, "depthwise backward scratch")
        let workers = min(depthwiseWorkers(g), g.inChannels)
        let cached = try GEMMScratchCache.shared.take(try Checked.mul(perWorker, workers, "depthwise backward scratch"))
        defer { GEMMScratchCache.shared.give(cached) }
        let base = cached.pointer
        let kh = g.kernelHeight, kw = g.kernelWidth, taps = layout.taps
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * taps) { buffer in
            guard let offsets = buffer.baseAddress else { return }
            let weightIndex = offsets + taps
            for k in 0..<kh {
                for l in 0..<kw {
                    let phase = (k % layout.rowPeriod) * layout.colPhases + l % layout.colPeriod
                    let t = k * kw + l
                    offsets[t] = phase * layout.planeStride + (k * g.dilation.h / g.stride.h) * layout.wq + l * g.dilation.w / g.stride.w
                    weightIndex[t] = g.flipKernel ? taps - 1 - t : t
                }
            }
            // (`output` is unused by the backward pass.)
            let job = DepthwiseJob(g: g, layout: layout, input: input, weight: weight, bias: nil, residual: nil,
                                   relu: false, op: nil, output: UnsafeMutablePointer(mutating: gradOutput),
                                   offsets: UnsafePointer(offsets), weightIndex: UnsafePointer(weightIndex))
            let channels = g.inChannels
            let chunk = max(1, channels / (8 * workers))
            let next = Atomic<Int>(0)
            Threading.parallelFor(workers) { w in
                let p = base + w * perWorker
                let dp = p + phaseFloats
                for i in 0..<(layout.rowPhases * layout.colPhases) {
                    (p + i * layout.planeStride + layout.hq * layout.wq)
                        .update(repeating: 0, count: layout.planeStride - layout.hq * layout.wq)
                }
                while true {
                    let first = chunk * next.wrappingAdd(1, ordering: .relaxed).oldValue
                    if first >= channels { break }
                    for c in first..<min(channels, first + chunk) {
                        job.backward(channel: c, gradOutput: gradOutput, gradWeight: gradWeight, gradInput: gradInput,
                                     p: p, dp: dp)
                    }
                }
            }
        }
    }
}

extension DepthwiseJob {
    /// All the gradients of input channel `c`: dW of its output channels, and dX of its
    /// plane in every image (`offsets` in floats here, not bytes).
    @inline(__always)
    func backward(channel c: Int, gradOutput: UnsafePointer<Float>, gradWeight: UnsafeMutablePointer<Float>,
                  gradInput: UnsafeMutablePointer<Float>?, p: UnsafeMutablePointer<Float>, dp: UnsafeMutablePointer<Float>) {
        let m = g.outChannelsPerGroup, taps = layout.taps
        let oh = g.outHeight, ow = g.outWidth, wq = layout.wq, plane = g.outPlane
        let phaseFloats = layout.rowPhases * layout.colPhases * layout.planeStride
        let lanes = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
        let tailCount = ow % 16 == 0 ? 16 : ow % 16
        let tailMask = lanes .>= SIMD16<Int32>(repeating: Int32(tailCount))
        for j in 0..<m {
            let dw = gradWeight + (c * m + j) * taps
            for t in 0..<taps { dw[t] = 0 }
        }
        for n in 0..<g.batch {
            buildPhases(input + (n * g.inChannels + c) * g.inPlane, into: p)
            if gradInput != nil { dp.update(repeating: 0, count: phaseFloats) }
            for j in 0..<m {
                let o = c * m + j
                let dy = gradOutput + (n * g.outChannels + o) * plane
                let w = weight + o * taps
                let dw = gradWeight + o * taps
                // Blocks of rows (about 2048 floats of each plane), all taps per block, so that
                // the rows of dY, P and dP a block uses stay in L1.
                let rowsPerBlock = max(1, 2048 / wq)
                for y0 in stride(from: 0, to: oh, by: rowsPerBlock) {
                  for t in 0..<taps {
                    let wv = w[weightIndex[t]]
                    let src = UnsafePointer(p) + offsets[t], dst = dp + offsets[t]
                    var a0 = V(), a1 = V(), a2 = V(), a3 = V()
                    for y in y0..<min(oh, y0 + rowsPerBlock) {
                        let dyRow = dy + y * ow, pRow = src + y * wq, dRow = dst + y * wq
                        var x = 0
                        // Whole vectors, four partial sums in turn.
                        while x + 64 <= ow {
                            let d0 = UnsafeRawPointer(dyRow + x).loadUnaligned(as: V.self)
                            let d1 = UnsafeRawPointer(dyRow + x + 16).loadUnaligned(as: V.self)
                            let d2 = UnsafeRawPointer(dyRow + x + 32).loadUnaligned(as: V.self)
                            let d3 = UnsafeRawPointer(dyRow + x + 48).loadUnaligned(as: V.self)
                            a0 = a0.addingProduct(d0, UnsafeRawPointer(pRow + x).loadUnaligned(as: V.self))
                            a1 = a1.addingProduct(d1, UnsafeRawPointer(pRow + x + 16).loadUnaligned(as: V.self))
                            a2 = a2.addingProduct(d2, UnsafeRawPointer(pRow + x + 32).loadUnaligned(as: V.self))
                            a3 = a3.addingProduct(d3, UnsafeRawPointer(pRow + x + 48).loadUnaligned(as: V.self))
                            if gradInput != nil {
                                Self.axpy(dRow + x, d0, wv); Self.axpy(dRow + x + 16, d1, wv)
                                Self.axpy(dRow + x + 32, d2, wv); Self.axpy(dRow + x + 48, d3, wv)
                            }
                            x += 64
                        }
                        while x + 16 <= ow {
                            let d0 = UnsafeRawPointer(dyRow + x).loadUnaligned(as: V.self)
                            a0 = a0.addingProduct(d0, UnsafeRawPointer(pRow + x).loadUnaligned(as: V.self))
                            if gradInput != nil { Self.axpy(dRow + x, d0, wv) }
                            x += 16
                        }
                        if x < ow {
                            // The row's last columns: dY's lanes past the row masked to 0 (read
                            // as a whole vector while it stays inside the plane); P and dP have
                            // room for the whole vector (a row of wq >= OW, then the slack).
                            var d0: V
                            if y * ow + x + 16 <= plane {
                                d0 = UnsafeRawPointer(dyRow + x).loadUnaligned(as: V.self)
                            } else {
                                d0 = V()
                                for i in 0..<(ow - x) { d0[i] = dyRow[x + i] }
                            }
                            d0.replace(with: 0, where: tailMask)
                            var prod = d0 * UnsafeRawPointer(pRow + x).loadUnaligned(as: V.self)
                            prod.replace(with: 0, where: tailMask)
                            a1 += prod
                            if gradInput != nil { Self.axpy(dRow + x, d0, wv) }
                        }
                    }
                    dw[weightIndex[t]] += ((a0 + a1) + (a2 + a3)).sum()
                  }
                }
            }
            if let gradInput { unbuildPhases(dp, into: gradInput + (n * g.inChannels + c) * g.inPlane) }
        }
    }

    /// Stores a[0], b[0], a[1], b[1], …, a[15], b[15] at `dst` (32 floats).
    @inline(__always)
    static func interleave(_ a: V, _ b: V, to dst: UnsafeMutablePointer<Float>) {
        let lo = SIMD16<UInt64>(truncatingIfNeeded: unsafeBitCast(a, to: SIMD16<UInt32>.self))
        let hi = SIMD16<UInt64>(truncatingIfNeeded: unsafeBitCast(b, to: SIMD16<UInt32>.self)) &<< 32
        UnsafeMutableRawPointer(dst).storeBytes(of: lo | hi, as: SIMD16<UInt64>.self)
    }

    /// dst[0..<16] += a · w.
    @inline(__always)
    static func axpy(_ dst: UnsafeMutablePointer<Float>, _ a: V, _ w: Float) {
        let d = UnsafeMutableRawPointer(dst)
        d.storeBytes(of: d.loadUnaligned(as: V.self).addingProduct(a, w), as: V.self)
    }

    /// The transpose of ``buildPhases(_:into:)``: input pixel (iy, ix) = its place in the
    /// phase planes `dp` (each pixel has at most one), 0 for pixels no tap reads (the plane
    /// is zeroed first).
    @inline(__always)
    func unbuildPhases(_ dp: UnsafeMutablePointer<Float>, into x: UnsafeMutablePointer<Float>) {
        let sh = g.stride.h, sw = g.stride.w, h = g.inHeight, w = g.inWidth
        let pt = g.padding.top, pl = g.padding.left
        let hq = layout.hq, wq = layout.wq
        x.update(repeating: 0, count: g.inPlane)
        if sw == 2 && layout.colPhases == 2 {
            // Both column phases (rx = 0, 1): each input row is the two phase rows interleaved,
            // 32 columns per step; column 2u + q comes from phase rx = (q + pL) % 2, index u + off_q.
            let rxE = pl % 2, offE = (pl - rxE) / 2, offO = (1 + pl - (1 - rxE)) / 2
            for pr in 0..<layout.rowPhases {
                let ry = (pr * g.dilation.h) % sh
                let evenPlane = dp + (pr * 2 + rxE) * layout.planeStride, oddPlane = dp + (pr * 2 + 1 - rxE) * layout.planeStride
                for i in 0..<hq {
                    let iy = i * sh + ry - pt
                    if iy < 0 || iy >= h { continue }
                    let evenRow = evenPlane + i * wq + offE, oddRow = oddPlane + i * wq + offO
                    let dst = x + iy * w
                    var u = 0
                    while 2 * u + 32 <= w && u + 16 + max(offE, offO) <= wq {
                        Self.interleave(UnsafeRawPointer(evenRow + u).loadUnaligned(as: V.self),
                                        UnsafeRawPointer(oddRow + u).loadUnaligned(as: V.self), to: dst + 2 * u)
                        u += 16
                    }
                    for ix in (2 * u)..<w {
                        let v = ix / 2
                        if ix % 2 == 0 {
                            if v + offE < wq { dst[ix] = evenRow[v] }
                        } else if v + offO < wq {
                            dst[ix] = oddRow[v]
                        }
                    }
                }
            }
            return
        }
        for pr in 0..<layout.rowPhases {
            let ry = (pr * g.dilation.h) % sh
            for pc in 0..<layout.colPhases {
                let rx = (pc * g.dilation.w) % sw
                let plane = dp + (pr * layout.colPhases + pc) * layout.planeStride
                let lead = pl - rx
                let (j0, j1) = layout.inputColumns(lead: lead, g)
                for i in 0..<hq {
                    let iy = i * sh + ry - pt
                    if iy < 0 || iy >= h { continue }
                    let row = plane + i * wq
                    let dst = x + iy * w - lead
                    if sw == 1 {
                        Optimized.copyFloats(dst + j0, row + j0, j1 - j0)
                    } else {
                        for j in j0..<j1 { dst[j * sw] = row[j] }
                    }
                }
            }
        }
    }
}
