#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A model's weights prepared for the optimized forward pass, built lazily per convolution
/// on first use and dropped whenever the model's weights change (load, set_parameter,
/// initialization — any change to the store).
///
/// For each convolution: a batch norm that directly follows it is folded in (inference
/// only: w' = w·γ/√(σ²+ε), b' = (b − μ)·γ/√(σ²+ε) + β, computed in double precision; the
/// state dict keeps the original parameters), and the weights are packed once for the
/// GEMM (or Winograd-transformed, for the 3×3 stride-1 convolutions where that is faster:
/// ``PreparedConvWeights``). The forward pass then fuses the bias, a following ReLU and,
/// at the end of a residual block, the shortcut add and its ReLU into the convolution's
/// output pass.
/// Safe to use from several threads (a mutex guards the tables).
///
/// It also holds the compiled forward passes (``ForwardPlan``, one per input shape, see
/// ForwardPlan.swift) and a small pool of activation arenas: each forward checks one out
/// for its whole run and returns it, so concurrent forwards never share a buffer and a
/// steady-state forward allocates only its result.
final class InferencePlan: @unchecked Sendable {
    /// One prepared convolution.
    final class Conv {
        let packed: PreparedConvWeights
        /// The bias after folding (or the conv's own bias), nil when there is none.
        let bias: Tensor?
        /// The (folded, flipped) weights `[O, KH·KW]` of a depthwise convolution
        /// (``Optimized/depthwiseApplies(_:)``) for the depthwise kernel; nil otherwise.
        let depthwise: DepthwiseConvWeights?
        /// The same convolution with its kernel cut to the live window of the geometry it was
        /// prepared for (``Conv2DGeometry/liveWindow``: the taps that read only padding there
        /// dropped), nil when that geometry has none. It runs every geometry whose window is
        /// the same (``resolve(_:)``); others run the whole kernel.
        let window: Window?
        init(packed: PreparedConvWeights, bias: Tensor?, depthwise: DepthwiseConvWeights? = nil, window: Window? = nil) {
            self.packed = packed
            self.bias = bias
            self.depthwise = depthwise
            self.window = window
        }

        /// A convolution prepared with its kernel cut to a live window: the window (in the
        /// weight's indices), the cut geometry's padding, and the prepared cut weights.
        struct Window {
            let rows: ClosedRange<Int>, columns: ClosedRange<Int>
            let padding: Padding2D
            let conv: Conv
        }

        /// Prepares `weight` `[O, Cg, KH, KW]` (already folded) for `g`: packed or transformed,
        /// in the depthwise kernel's layout when that applies, and cut to `g`'s live window
        /// when it has one. Throws `.outOfMemory`.
        static func prepare(_ g: Conv2DGeometry, weight: UnsafePointer<Float>, bias: Tensor?) throws -> Conv {
            var window: Window? = nil
            if let (cut, rows, columns) = g.liveWindow {
                let w = try Optimized.windowWeights(g, cut: cut, rows: rows, columns: columns, weight: weight)
                window = Window(rows: rows, columns: columns, padding: cut.padding,
                                conv: try prepare(cut, weight: UnsafePointer(w.pointer), bias: bias))
                withExtendedLifetime(w) {}
            }
            return Conv(packed: try PreparedConvWeights(g, weight: weight), bias: bias,
                        depthwise: Optimized.depthwiseApplies(g) ? try DepthwiseConvWeights(g, weight: weight) : nil,
                        window: window)
        }

        /// The convolution that runs `g`, with its geometry: the cut one (``window``) when
        /// `g`'s live window is the one it was prepared for, this one and `g` otherwise.
        func resolve(_ g: Conv2DGeometry) -> (conv: Conv, geometry: Conv2DGeometry) {
            if let window, let (cut, rows, columns) = g.liveWindow, rows == window.rows, columns == window.columns,
               cut.padding == window.padding {
                return (window.conv, cut)
            }
            return (self, g)
        }

        /// Output planes (per image) below which the product runs as matrix-vector products
        /// (``Optimized/gemvPacked(m:n:k:a:b:ldb:c:ldc:epilogue:)``) instead of the GEMM, whose
        /// 32-column tiles would mostly compute padding.
        static let gemvMaxColumns = 8

        /// The kernel ``execute(_:input:residual:relu:output:scratch:)`` runs for `g`.
        enum Kernel {
            /// Winograd F(4×4, 3×3) (the weights were prepared for it).
            case winograd
            /// Winograd F(2×2, 3×3), for small maps (the weights were prepared for it).
            case winogradF2
            /// Direct SIMD convolution of a small first layer (``Optimized/smallConv``).
            case small
            /// Implicit GEMM by output positions (``Optimized/smallConvByPositions``).
            case byPositions
            /// Direct SIMD convolution over the input's stride phases, for strided first layers
            /// with few input channels and stride-1 layers with few output channels
            /// (``Optimized/directConv(_:input:packed:bias:residual:relu:output:scratch:)``).
            case direct
            /// im2col, then one packed matrix-vector product per output position.
            case gemv
            /// im2col generated into the GEMM's packed panels (``Optimized/conv2dPacked``).
            case gemm
            /// Direct SIMD depthwise convolution (``Optimized/depthwiseConv2d``).
            case depthwise
        }

        /// Which kernel runs `g`. The small-conv kernels read the GEMM-packed weights
        /// (``Optimized/gemmMR``-row panels).
        func kernel(_ g: Conv2DGeometry) -> Kernel {
            let (conv, cut) = resolve(g)
            if conv !== self { return conv.kernel(cut) }
            switch packed {
            case .im2col: break
            case .winograd: return .winograd
            case .winogradF2: return .winogradF2
            }
            if Optimized.smallConvApplies(g) { return .small }
            if let depthwise, depthwise.outChannels == g.outChannels, Optimized.depthwiseApplies(g) { return .depthwise }
            if Optimized.smallConvByPositionsApplies(g) && g.outPlane >= Conv.gemvMaxColumns { return .byPositions }
            if Optimized.directConvApplies(g) { return .direct }
            if g.groups == 1 && g.outPlane < Conv.gemvMaxColumns { return .gemv }
            return .gemm
        }

        /// Floats of scratch ``execute(_:input:residual:relu:output:scratch:)`` uses for `g`
        /// when it is given them: the Winograd transforms' buffers, the im2col columns of
        /// the GEMV path, the direct kernel's phase planes, or the depthwise kernel's phase
        /// planes (at the current thread count). The GEMM path needs none: it generates im2col
        /// straight into its packed B panels, whose buffers come from ``GEMMScratchCache``
        /// (kept between calls).
        func scratchCount(_ g: Conv2DGeometry) throws -> Int {
            let (conv, cut) = resolve(g)
            if conv !== self { return try conv.scratchCount(cut) }
            switch kernel(g) {
            case .winograd: return try Optimized.winogradScratchCount(g)
            case .winogradF2: return try Optimized.winogradF2ScratchCount(g)
            case .depthwise: return try Optimized.depthwiseScratchCount(g)
            case .direct: return try Optimized.directConvScratchCount(g)
            case .gemv: return Conv.gemvDirect(g) ? 0 : try Checked.mul(g.patchSize, g.outPlane, "conv2d im2col columns")
            case .small, .byPositions, .gemm: return 0
            }
        }

        /// Whether the GEMV path's im2col matrix is the input itself: a 1×1 stride-1 conv, or
        /// a kernel that covers the whole unpadded input (one output position: LeNet's C5).
        static func gemvDirect(_ g: Conv2DGeometry) -> Bool {
            g.padding == Padding2D(0) && g.dilation == Size2D(1)
                && ((g.kernelHeight == 1 && g.kernelWidth == 1 && g.stride == Size2D(1))
                    || (g.kernelHeight == g.inHeight && g.kernelWidth == g.inWidth))
        }

        /// Runs the convolution on raw pointers: output = conv(input) + bias (+ residual) (ReLU)
        /// (`op`, a ``UnaryOp/fusable`` activation: in the output pass of the GEMM and
        /// depthwise kernels, a pass over the output after the others).
        /// `scratch` (see ``scratchCount(_:)``) avoids allocating; nil (or too small) allocates
        /// what is needed. The one place the tensor path (``Model/plannedConv``) and the
        /// compiled plan run a conv.
        func execute(_ g: Conv2DGeometry, input: UnsafePointer<Float>, residual: UnsafePointer<Float>?, relu: Bool,
                     op: UnaryOp? = nil, output: UnsafeMutablePointer<Float>,
                     scratch: UnsafeMutableBufferPointer<Float>?) throws {
            let (conv, cut) = resolve(g)
            if conv !== self {
                return try conv.execute(cut, input: input, residual: residual, relu: relu, op: op, output: output,
                                        scratch: scratch)
            }
            // Whether the kernel applied `op` in its output pass.
            let fused: Bool = try withOptionalPointer(bias) { b in
                if let depthwise, kernel(g) == .depthwise {
                    try Optimized.depthwiseConv2d(g, input: input, weight: depthwise.pointer, flip: false, bias: b,
                                                  residual: residual, relu: relu, op: op, output: output, scratch: scratch)
                    return true
                }
                guard case .im2col(let weights) = packed, weights.groups.count == g.groups else {
                    try Optimized.conv2dPrepared(g, input: input, weights: packed, bias: b, residual: residual,
                                                 relu: relu, output: output, scratch: scratch)
                    return false
                }
                switch kernel(g) {
                case .small:
                    Optimized.smallConv(g, input: input, packed: weights.groups[0].pointer, bias: b, residual: residual,
                                        relu: relu, output: output)
                    return false
                case .byPositions:
                    Optimized.smallConvByPositions(g, input: input, packed: weights.groups[0].pointer, bias: b,
                                                   residual: residual, relu: relu, output: output)
                    return false
                case .direct:
                    try Optimized.directConv(g, input: input, packed: weights.groups[0].pointer, bias: b,
                                             residual: residual, relu: relu, output: output, scratch: scratch)
                    return false
                case .gemv:
                    try executeGEMV(g, weights: weights, input: input, bias: b, residual: residual, relu: relu, op: op,
                                    output: output, scratch: scratch)
                    return true
                case .gemm, .winograd, .winogradF2, .depthwise:
                    try Optimized.conv2dPacked(g, input: input, weights: weights, bias: b, residual: residual,
                                               relu: relu, op: op, output: output)
                    return true
                }
            }
            if let op, !fused {
                // The kernels without the fused op: one pass over the output.
                let count = g.batch * g.outChannels * g.outPlane
                Optimized.unary(op, output, output, count: count)
            }
        }

        /// Tiny output planes (LeNet's C5, a network's last layers on small inputs): im2col,
        /// then one packed matrix-vector product per output position.
        private func executeGEMV(_ g: Conv2DGeometry, weights: PackedConvWeights, input: UnsafePointer<Float>,
                                 bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, relu: Bool, op: UnaryOp?,
                                 output: UnsafeMutablePointer<Float>, scratch: UnsafeMutableBufferPointer<Float>?) throws {
            let direct = Conv.gemvDirect(g)
            let columnCount = direct ? 0 : g.patchSize * g.outPlane
            let given = scratch.flatMap { $0.count >= columnCount ? $0.baseAddress : nil }
            let owned: ScratchBuffer? = direct || given != nil ? nil : try ScratchBuffer(count: columnCount)
            let columns = direct ? nil : given ?? owned?.pointer
            for n in 0..<g.batch {
                let x = input + n * g.inChannels * g.inPlane
                let offset = n * g.outChannels * g.outPlane
                var b = x
                if let columns {
                    Optimized.im2col(g, x, columns, channels: 0..<g.inChannels)
                    b = UnsafePointer(columns)
                }
                var ep = GEMMEpilogue()
                ep.bias = bias
                ep.residual = residual.map { $0 + offset }
                ep.ldr = g.outPlane
                ep.relu = relu
                ep.op = op
                Optimized.gemvPacked(m: g.outChannels, n: g.outPlane, k: g.patchSize, a: weights.groups[0].pointer,
                                     b: b, ldb: g.outPlane, c: output + offset, ldc: g.outPlane, epilogue: ep)
            }
            withExtendedLifetime(owned) {}
        }
    }

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var convs: [String: Conv] = [:]
    /// Compiled forward passes by input shape (at most ``maxForwardPlans``).
    private var forwardPlans: [[Int]: ForwardPlan] = [:]
    /// Arenas not in use (at most ``maxIdleArenas``, or the thread count after a batch run
    /// image by image; the largest kept).
    private var idleArenas: [ScratchBuffer] = []
    /// Input shapes whose compiled plans are kept.
    static let maxForwardPlans = 8
    /// Arenas kept for reuse: one per forward running at the same time, up to this many
    /// (more concurrent forwards allocate theirs and free them after: memory stays bounded).
    static let maxIdleArenas = 2

    init() {
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// The prepared convolution for `key`, made by `make` the first time.
    func conv(_ key: String, _ make: () throws -> Conv) throws -> Conv {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if let c = convs[key] { return c }
        let c = try make()
        convs[key] = c
        return c
    }

    /// The compiled forward pass for `shape`, if there is one.
    func cachedForwardPlan(_ shape: [Int]) -> ForwardPlan? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return forwardPlans[shape]
    }

    /// The compiled forward pass for `shape`, compiled by `make` (outside the lock: it
    /// prepares convolutions through ``conv(_:_:)``) when there is none yet.
    func forwardPlan(_ shape: [Int], _ make: () throws -> ForwardPlan) throws -> ForwardPlan {
        if let p = cachedForwardPlan(shape) { return p }
        let made = try make()
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if let p = forwardPlans[shape] { return p }  // another thread was first
        if forwardPlans.count >= InferencePlan.maxForwardPlans, let victim = forwardPlans.keys.first {
            forwardPlans[victim] = nil
        }
        forwardPlans[shape] = made
        return made
    }

    /// An arena of at least `count` floats for one forward: the smallest idle one that is
    /// large enough, else a new one. Give it back with ``checkIn(_:)``.
    func checkOutArena(_ count: Int) throws -> ScratchBuffer {
        pthread_mutex_lock(mutex)
        var best: Int? = nil
        for (i, a) in idleArenas.enumerated() where a.count >= count {
            if best.map({ idleArenas[$0].count > a.count }) ?? true { best = i }
        }
        if let best {
            let a = idleArenas.remove(at: best)
            pthread_mutex_unlock(mutex)
            return a
        }
        pthread_mutex_unlock(mutex)
        return try ScratchBuffer(count: max(count, 1))
    }

    /// Returns an arena from ``checkOutArena(_:)``; the smallest idle one is freed when more
    /// than ``maxIdleArenas`` would be kept.
    func checkIn(_ arena: ScratchBuffer) {
        checkIn([arena])
    }

    /// Returns arenas checked out together (a batch run image by image holds one per thread):
    /// up to ``maxIdleArenas`` or this many, whichever is more, stay idle, so the next such
    /// run finds them all; the smallest beyond that are freed.
    func checkIn(_ arenas: [ScratchBuffer]) {
        if arenas.isEmpty { return }
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        idleArenas.append(contentsOf: arenas)
        let keep = max(InferencePlan.maxIdleArenas, arenas.count)
        while idleArenas.count > keep,
              let smallest = idleArenas.indices.min(by: { idleArenas[$0].count < idleArenas[$1].count }) {
            idleArenas.remove(at: smallest)
        }
    }

    /// Number of idle arenas (for tests).
    var idleArenaCount: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return idleArenas.count
    }

    /// Floats held by idle arenas (for tests).
    var idleArenaFloats: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return idleArenas.reduce(0) { $0 + $1.count }
    }

    /// Number of prepared convolutions (for tests).
    var preparedCount: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return convs.count
    }
}

extension Model {
    /// ``run(_:path:_:)`` with the inference plan: conv (+ batch norm) (+ ReLU) fused, and
    /// the residual add + ReLU fused into the block's last convolution.
    func runPlanned(_ layer: Layer, path: String, _ x: Tensor) throws -> Tensor {
        switch layer {
        case .sequential(let children):
            return try runSequence(children[...], path: path, x, residual: nil)
        case .residual(let body, let shortcut):
            let s = try shortcut.map { try runPlanned($0.layer, path: Layer.join(path, $0.name), x) } ?? x
            return try runSequence(body[...], path: path, x, residual: s)
        case .concat(let branches):
            var outs: [Tensor] = []
            outs.reserveCapacity(branches.count)
            for b in branches { outs.append(try runPlanned(b.layer, path: Layer.join(path, b.name), x)) }
            return try concat(outs, axis: 1)
        default:
            return try run(layer, path: path, x)
        }
    }

    /// Runs `children` in order, fusing conv → batch norm → ReLU runs. With `residual`, the
    /// result is relu(sequence(x) + residual); when the sequence ends in a convolution
    /// (optionally followed by a batch norm), the add and ReLU happen in its output pass.
    func runSequence(_ children: ArraySlice<NamedLayer>, path: String, _ x: Tensor, residual: Tensor?) throws -> Tensor {
        var y = x
        var i = children.startIndex
        while i < children.endIndex {
            guard case .conv2d(let spec) = children[i].layer else {
                y = try runPlanned(children[i].layer, path: Layer.join(path, children[i].name), y)
                i += 1
                continue
            }
            let group = Model.convGroup(children, at: i, path: path, residual: residual != nil)
            y = try plannedConv(spec, path: Layer.join(path, children[i].name), batchNorm: group.bn, y,
                                residual: group.takesResidual ? residual : nil, relu: group.relu || group.takesResidual,
                                op: group.op)
            if group.takesResidual { return y }
            i = group.next
        }
        if let residual { return try SwiftCNN.relu(try add(y, residual)) }
        return y
    }

    /// What follows the conv at `i` of `children` and is fused into it: a batch norm (its
    /// path and eps), a ReLU or another activation (`op`, ``UnaryOp/fusable``: ReLU6,
    /// hardswish, SiLU, ...); `next` is the child after them. With a residual, the block's
    /// last conv (+ bn) takes the residual add and the block's ReLU (`takesResidual`).
    static func convGroup(_ children: ArraySlice<NamedLayer>, at i: Int, path: String, residual: Bool)
        -> (bn: (path: String, eps: Float)?, relu: Bool, op: UnaryOp?, takesResidual: Bool, next: Int) {
        var next = i + 1
        var bn: (path: String, eps: Float)? = nil
        if next < children.endIndex, case .batchNorm2d(_, let eps, _) = children[next].layer {
            bn = (Layer.join(path, children[next].name), eps)
            next += 1
        }
        var relu = false
        var op: UnaryOp? = nil
        if next < children.endIndex, case .relu = children[next].layer {
            relu = true
            next += 1
        } else if next < children.endIndex, case .unary(let u) = children[next].layer, u.fusable {
            op = u
            next += 1
        }
        return (bn, relu, op, residual && next == children.endIndex && !relu && op == nil, next)
    }

    /// One convolution through the plan: packed (BN-folded) weights, fused output pass.
    func plannedConv(_ spec: ConvSpec, path: String, batchNorm bn: (path: String, eps: Float)?, _ x: Tensor,
                     residual: Tensor?, relu: Bool, op: UnaryOp? = nil) throws -> Tensor {
        let options = spec.options
        let weight = try self.weight(path, "weight")
        let ownBias = spec.bias ? try self.weight(path, "bias") : nil
        let g = try Conv2DGeometry(input: x, weight: weight, bias: ownBias, options: options)
        let key = bn.map { path + "+" + $0.path } ?? path
        let conv = try plan.conv(key) {
            try prepareConv(g, weight: weight, bias: ownBias, batchNorm: bn)
        }
        let shape = imageShape(rank: x.rank, g.batch, g.outChannels, g.outHeight, g.outWidth)
        if let residual, residual.shape != shape {
            throw SwiftCNNError.shapeMismatch(
                "\(path): residual shape \(Tensor.describe(residual.shape)) differs from the convolution's \(Tensor.describe(shape))")
        }
        var out = try Tensor(uninitialized: shape)
        try x.withUnsafePointer { xp in
            try withOptionalPointer(residual) { r in
                try out.withUnsafeMutablePointerUnchecked { yp in
                    try conv.execute(g, input: xp, residual: r, relu: relu, op: op, output: yp, scratch: nil)
                }
            }
        }
        return out
    }

    /// Folds the batch norm at `bn` (if any) into the weights and bias, then packs them (and,
    /// for a depthwise convolution, also keeps them in the depthwise kernel's layout).
    /// `foldingInto`: room for `weight.count` floats to fold into (the compiled plan reuses one
    /// for every conv, so that no short-lived weight-sized buffers fragment the heap between
    /// the long-lived packed ones); nil allocates a temporary.
    func prepareConv(_ g: Conv2DGeometry, weight: Tensor, bias: Tensor?, batchNorm bn: (path: String, eps: Float)?,
                     foldingInto scratch: UnsafeMutablePointer<Float>? = nil) throws -> InferencePlan.Conv {
        guard let bn else {
            return try weight.withUnsafePointer { try InferencePlan.Conv.prepare(g, weight: $0, bias: bias) }
        }
        let gamma = try self.weight(bn.path, "weight").scalars, beta = try self.weight(bn.path, "bias").scalars
        let mean = try self.weight(bn.path, "running_mean").scalars, variance = try self.weight(bn.path, "running_var").scalars
        let oc = g.outChannels
        guard gamma.count == oc, beta.count == oc, mean.count == oc, variance.count == oc else {
            throw SwiftCNNError(.internal, "\(bn.path): batch norm has \(gamma.count) channels, the convolution \(oc)")
        }
        let own = bias?.scalars
        let temporary: ScratchBuffer? = scratch == nil ? try ScratchBuffer(count: weight.count) : nil
        guard let f = scratch ?? temporary?.pointer else { throw SwiftCNNError(.internal, "\(bn.path): no folding buffer") }
        var newBias = try Tensor(uninitialized: [oc])
        let per = weight.count / oc
        weight.withUnsafePointer { w in
            newBias.withUnsafeMutablePointerUnchecked { nb in
                for o in 0..<oc {
                    let scale = Double(gamma[o]) / (Double(variance[o]) + Double(bn.eps)).squareRoot()
                    for j in 0..<per { f[o * per + j] = Float(Double(w[o * per + j]) * scale) }
                    nb[o] = Float((Double(own?[o] ?? 0) - Double(mean[o])) * scale + Double(beta[o]))
                }
            }
        }
        let conv = try InferencePlan.Conv.prepare(g, weight: UnsafePointer(f), bias: newBias)
        withExtendedLifetime(temporary) {}
        return conv
    }
}
