// The optimized forward pass compiled once per input shape, with planned activation memory.
//
// Compiling walks the layer tree once (the same fusions as ``Model/runPlanned``: conv +
// batch norm + ReLU, the residual add + ReLU in a block's last conv) and records a flat list
// of steps over numbered values, each step holding what it needs directly — the prepared
// convolution, the weight tensors, validated geometries — so a forward does no string
// building, no dictionary lookup per layer and no shape inference.
//
// Memory: every intermediate value (and each convolution's scratch: Winograd's transform
// buffers, the GEMV path's im2col columns) lives in a buffer with a live range [first step,
// last step]; buffers are placed in one arena by a greedy first-fit over offsets, largest
// first, so buffers whose ranges do not overlap share memory. (The GEMM generates im2col
// straight into its packed B panels, whose buffers it keeps between calls in
// ``GEMMScratchCache``: nothing of it is in the arena.) Activations that follow the step producing their input run in place;
// flatten and dropout are views; a concat branch's last step writes straight into its slice
// of the concatenation (batch 1), and the network's last step writes straight into the
// returned tensor — the only allocation of a steady-state forward. Each forward checks an
// arena out of its ``InferencePlan``'s pool for the whole run, so forwards on several
// threads never share one.

import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A forward pass compiled for one input shape (see the file comment). Immutable once made;
/// shared by the threads that run it.
final class ForwardPlan: @unchecked Sendable {
    /// Elementwise activations the plan runs (in place when it may).
    enum Unary { case relu, tanh, scaledTanh, op(UnaryOp) }

    /// One step. Ints are value numbers (see ``Builder``).
    enum Step {
        case conv(InferencePlan.Conv, Conv2DGeometry, x: Int, y: Int, residual: Int?, relu: Bool, op: UnaryOp?, scratch: Int?)
        case linear(weight: Tensor, bias: Tensor?, LinearGeometry, x: Int, y: Int)
        /// Layer normalization of `rows` rows of `size` (x may be y).
        case layerNorm(weight: Tensor, bias: Tensor?, rows: Int, size: Int, eps: Float, x: Int, y: Int)
        /// A graph constant repeated over the batch into y.
        case broadcastConstant(Tensor, y: Int)
        case unary(Unary, x: Int, y: Int, count: Int)
        case addReLU(a: Int, b: Int, y: Int, count: Int)
        /// A broadcasting add, sub, mul or div of two values.
        case binary(BinaryOp, BroadcastGeometry, a: Int, b: Int, y: Int)
        case maxPool(Pool2DGeometry, x: Int, y: Int)
        case avgPool(Pool2DGeometry, x: Int, y: Int)
        case adaptiveAvgPool(Pool2DGeometry, x: Int, y: Int)
        case lrn(ChannelGeometry, LRNParameters, x: Int, y: Int)
        case concatPart(x: Int, axisSize: Int, axisOffset: Int, AxisGeometry, y: Int)
        case copy(x: Int, y: Int, count: Int)
        /// Channels [axisOffset, axisOffset + axisSize) of x ([outer, axis, inner]) copied into
        /// y ([outer, axisSize, inner]): a branch's part of a fused convolution at batch > 1.
        case channelSlice(x: Int, axisSize: Int, axisOffset: Int, AxisGeometry, y: Int)
        /// A layer without a planned kernel (LeNet-5's own layers, a lone batch norm): runs
        /// the tensor op on a borrowed view of x and copies the result into y.
        case layer((Tensor) throws -> Tensor, x: Int, y: Int)
        /// A graph node with several inputs or outputs (broadcast ops, split): the tensor op
        /// on borrowed views of xs, its results copied into ys.
        case general(([Tensor]) throws -> [Tensor], xs: [Int], ys: [Int])

        /// The values the step reads or writes.
        var operands: [Int] {
            switch self {
            case .conv(_, _, let x, let y, let r, _, _, let s): return [x, y] + (r.map { [$0] } ?? []) + (s.map { [$0] } ?? [])
            case .linear(_, _, _, let x, let y), .unary(_, let x, let y, _), .maxPool(_, let x, let y),
                 .avgPool(_, let x, let y), .adaptiveAvgPool(_, let x, let y), .lrn(_, _, let x, let y),
                 .concatPart(let x, _, _, _, let y), .copy(let x, let y, _), .layer(_, let x, let y),
                 .channelSlice(let x, _, _, _, let y),
                 .layerNorm(_, _, _, _, _, let x, let y):
                return [x, y]
            case .broadcastConstant(_, let y): return [y]
            case .addReLU(let a, let b, let y, _), .binary(_, _, let a, let b, let y): return [a, b, y]
            case .general(_, let xs, let ys): return xs + ys
            }
        }
    }

    /// Where a value lives at run time: `base` 0 the input, 1 the output, 2 the arena.
    struct Location {
        var base: Int
        var offset: Int
    }

    /// Where a step comes from, for the profiler (Profile.swift): the graph node's path, its
    /// op, and the layers fused into it (a conv's batch norm, ReLU, residual add).
    struct StepInfo {
        var path: String
        var op: String
        var fused: [String]
    }

    let inputShape: [Int]
    let outputShape: [Int]
    let steps: [Step]
    /// Per step (same indices as ``steps``): where it comes from.
    let stepInfo: [StepInfo]
    /// Per value: its location and shape.
    let locations: [Location]
    let shapes: [[Int]]
    /// Floats of the arena one forward needs (activations and scratch together).
    let arenaCount: Int
    /// The arena buffers: offset and size in floats, first and last step (for tests).
    let placement: [(offset: Int, count: Int, first: Int, last: Int)]
    /// Whether a forward runs image by image through the batch-1 plan, images spread over
    /// the threads (see ``Model/forwardPlanned(_:)``): a batch of a tiny per-sample network.
    let splitsBatch: Bool

    /// Compiles `model`'s forward pass for `inputShape` (already validated; `outputShape`
    /// is what shape inference gave).
    init(_ model: Model, inputShape: [Int], outputShape: [Int]) throws {
        var b = try Builder(model: model, inputShape: inputShape, outputShape: outputShape)
        let result = try b.compile(model.architecture.root, path: "", x: Builder.input, owned: false, dest: Builder.output)
        // A result alone in an arena buffer (a graph's output node) moves to the output
        // tensor, when nothing else is there yet: its step writes the output directly.
        if result != Builder.output, b.ownsBuffer(result), b.values[result].count == b.values[Builder.output].count,
           !b.values.indices.contains(where: { $0 != Builder.output && b.values[$0].buffer == Builder.output }) {
            let r = b.values[result].buffer
            b.relocate(buffer: r, to: Builder.output, offset: 0)
        }
        if b.values[result].buffer != Builder.output || b.values[result].offset != 0 {
            guard b.values[result].count == b.values[Builder.output].count else {
                throw SwiftCNNError(.internal, "\(model.name): the plan's result has shape \(Tensor.describe(b.values[result].shape)), not \(Tensor.describe(outputShape))")
            }
            b.add(.copy(x: result, y: Builder.output, count: b.values[result].count), path: "", op: "Copy")
        }
        let (locations, arena, placement) = try b.place()
        self.placement = placement
        self.inputShape = inputShape
        self.outputShape = outputShape
        steps = b.steps
        stepInfo = b.stepInfo
        self.locations = locations
        shapes = b.values.map(\.shape)
        arenaCount = arena
        let macs = b.steps.reduce(0) { sum, step in
            switch step {
            case .conv(_, let g, _, _, _, _, _, _): return sum &+ g.batch &* g.outChannels &* g.outPlane &* g.patchSize
            case .linear(_, _, let g, _, _): return sum &+ g.batch &* g.inFeatures &* g.outFeatures
            default: return sum
            }
        }
        let batch = inputShape.first ?? 1
        splitsBatch = batch > 1 && macs / batch <= ForwardPlan.splitMaxMACs && outputShape.first == batch
            && ForwardPlan.perSample(model.architecture.root)
    }

    /// Largest multiply-accumulates per image of a network whose batches run image by image
    /// (LeNet-5: 0.42 M): below it, a layer's work per image is a few microseconds, less than
    /// handing it to another thread costs, so the images, not the layers, are split.
    static let splitMaxMACs = 1 << 21

    /// Whether every layer of `layer` treats the samples of a batch independently (so that a
    /// batch may run image by image): the zoo's layer kinds, not graphs or batch-axis ops.
    static func perSample(_ layer: Layer) -> Bool {
        switch layer {
        case .conv2d, .batchNorm2d, .linear, .relu, .tanh, .scaledTanh, .maxPool2d, .avgPool2d, .adaptiveAvgPool2d,
             .localResponseNorm, .dropout, .flatten, .subsampling, .partialConv2d, .euclideanRBF, .unary, .identity:
            return true
        case .sequential(let children), .concat(let children):
            return children.allSatisfy { perSample($0.layer) }
        case .residual(let body, let shortcut):
            return body.allSatisfy { perSample($0.layer) } && (shortcut.map { perSample($0.layer) } ?? true)
        default:
            return false
        }
    }

    /// Runs this plan (batch N, ``splitsBatch``) as N runs of `single` (the batch-1 plan of
    /// the same network), images claimed by the threads; each image's kernels run on the
    /// thread that claimed it, so every output is computed the same way at any thread count.
    func runSplit(_ input: Tensor, single: ForwardPlan, pool: InferencePlan) throws -> Tensor {
        var out = try Tensor(uninitialized: outputShape)
        try out.withUnsafeMutablePointerUnchecked { yp in try runSplit(input, single: single, pool: pool, into: yp) }
        return out
    }

    /// ``runSplit(_:single:pool:)`` into caller-owned memory (``outputShape`` floats at `yp`).
    func runSplit(_ input: Tensor, single: ForwardPlan, pool: InferencePlan, into yp: UnsafeMutablePointer<Float>) throws {
        let n = inputShape[0]
        let inCount = try Checked.product(single.inputShape), outCount = try Checked.product(single.outputShape)
        guard single.inputShape[0] == 1, try Checked.mul(inCount, n) == input.count,
              try Checked.mul(outCount, n) == (try Checked.product(outputShape)) else {
            throw SwiftCNNError(.internal, "forward plan: batch split of \(Tensor.describe(inputShape)) with a plan for \(Tensor.describe(single.inputShape))")
        }
        // One arena per image running at once (at most the thread count), checked out before
        // any image starts and back in after the last: how many a forward takes does not
        // depend on how the threads happened to interleave, so once a forward has run, the
        // next of the same shape allocates nothing.
        let width = min(n, Threading.numThreads)
        var held: [ScratchBuffer] = []
        if single.arenaCount > 0 {
            held.reserveCapacity(width)
            do {
                for _ in 0..<width { held.append(try pool.checkOutArena(single.arenaCount)) }
            } catch {
                pool.checkIn(held)
                throw error
            }
        }
        defer { pool.checkIn(held) }
        let arenas = held
        // Which arenas an image is using: taken with an acquiring exchange, given back with a
        // releasing store, so each arena's next image sees the last one's writes.
        let inUse = UnsafeMutablePointer<Atomic<Bool>>.allocate(capacity: max(arenas.count, 1))
        for k in 0..<arenas.count { (inUse + k).initialize(to: Atomic(false)) }
        defer {
            inUse.deinitialize(count: arenas.count)
            inUse.deallocate()
        }
        let failure = Mutex<SwiftCNNError?>(nil)
        try input.withUnsafePointer { xp in
            Threading.parallelFor(n) { i in
                do {
                    // No more images run at once than there are arenas, so one is free (unless
                    // the thread count was raised since `width` was read: runSteps then checks
                    // out its own).
                    var slot = -1
                    for k in 0..<arenas.count {
                        if inUse[k].compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
                            slot = k
                            break
                        }
                    }
                    defer { if slot >= 0 { inUse[slot].store(false, ordering: .releasing) } }
                    let arena = slot >= 0 ? arenas[slot] : nil
                    try single.runSteps(xp + i * inCount, yp + i * outCount, pool: pool, times: nil, arena: arena)
                } catch {
                    let e = error as? SwiftCNNError ?? SwiftCNNError(.internal, "\(error)")
                    failure.withLock { if $0 == nil { $0 = e } }
                }
            }
            if let e = failure.withLock({ $0 }) { throw e }
        }
    }

    /// ``run(_:pool:)`` from and into caller-owned memory (``inputShape`` and ``outputShape`` floats).
    func runImage(_ xp: UnsafePointer<Float>, _ yp: UnsafeMutablePointer<Float>, pool: InferencePlan) throws {
        try runSteps(xp, yp, pool: pool, times: nil)
    }

    /// Runs the plan on `input` (of ``inputShape``) with an arena from `pool`; returns a new tensor.
    func run(_ input: Tensor, pool: InferencePlan) throws -> Tensor {
        var out = try Tensor(uninitialized: outputShape)
        try input.withUnsafePointer { xp in
            try out.withUnsafeMutablePointerUnchecked { yp in try runSteps(xp, yp, pool: pool, times: nil) }
        }
        return out
    }

    /// The one loop over the steps (``run(_:pool:)``, ``runImage(_:_:pool:)``, the
    /// profiler's timed runs): an arena checked out of `pool` for the whole run; with
    /// `times` (``steps``.count of them), each step's seconds on a monotonic clock.
    func runSteps(_ xp: UnsafePointer<Float>, _ yp: UnsafeMutablePointer<Float>, pool: InferencePlan,
                  times: UnsafeMutablePointer<Double>?, arena lent: ScratchBuffer? = nil) throws {
        if let lent, lent.count < arenaCount {
            throw SwiftCNNError(.internal, "forward plan: an arena of \(lent.count) floats for a plan that needs \(arenaCount)")
        }
        let own = lent == nil && arenaCount > 0
        let arena = own ? try pool.checkOutArena(arenaCount) : lent
        defer { if own, let arena { pool.checkIn(arena) } }
        let bases = (UnsafeMutablePointer(mutating: xp), yp, arena?.pointer ?? yp)
        @inline(__always) func p(_ v: Int) -> UnsafeMutablePointer<Float> {
            let l = locations[v]
            return (l.base == 0 ? bases.0 : l.base == 1 ? bases.1 : bases.2) + l.offset
        }
        if let times {
            for (i, step) in steps.enumerated() {
                let t0 = monotonicSeconds()
                try execute(step, p)
                times[i] = monotonicSeconds() - t0
            }
        } else {
            for step in steps {
                try execute(step, p)
            }
        }
        withExtendedLifetime(arena) {}
    }

    func execute(_ step: Step, _ p: (Int) -> UnsafeMutablePointer<Float>) throws {
        switch step {
        case .conv(let conv, let g, let x, let y, let r, let relu, let op, let s):
            let scratch = s.map { UnsafeMutableBufferPointer(start: p($0), count: shapes[$0][0]) }
            try conv.execute(g, input: p(x), residual: r.map { UnsafePointer(p($0)) }, relu: relu, op: op, output: p(y),
                             scratch: scratch)
        case .linear(let w, let bias, let g, let x, let y):
            w.withUnsafePointer { wp in
                withOptionalPointer(bias) { bp in Optimized.linear(p(x), weight: wp, bias: bp, p(y), g) }
            }
        case .layerNorm(let w, let bias, let rows, let size, let eps, let x, let y):
            w.withUnsafePointer { wp in
                withOptionalPointer(bias) { bp in
                    Optimized.layerNorm(p(x), weight: wp, bias: bp, p(y), rows: rows, size: size, eps: eps)
                }
            }
        case .broadcastConstant(let c, let y):
            let dst = p(y), n = c.count
            c.withUnsafePointer { cp in
                for b in 0..<(shapes[y][0]) { (dst + b * n).update(from: cp, count: n) }
            }
        case .unary(let f, let x, let y, let count):
            switch f {
            case .relu: Optimized.relu(p(x), p(y), count: count)
            case .tanh: Optimized.tanh(p(x), p(y), count: count)
            case .scaledTanh: Optimized.scaledTanh(p(x), p(y), count: count)
            case .op(let op): Optimized.unary(op, p(x), p(y), count: count)
            }
        case .binary(let op, let g, let a, let b, let y):
            Optimized.binary(op, p(a), p(b), p(y), g)
        case .addReLU(let a, let b, let y, let count):
            Optimized.addReLU(p(a), p(b), p(y), count: count)
        case .maxPool(let g, let x, let y):
            Optimized.maxPool2d(g, input: p(x), output: p(y))
        case .avgPool(let g, let x, let y):
            Optimized.avgPool2d(g, input: p(x), output: p(y))
        case .adaptiveAvgPool(let g, let x, let y):
            Optimized.adaptiveAvgPool2d(g, input: p(x), output: p(y))
        case .lrn(let g, let params, let x, let y):
            Optimized.localResponseNorm(p(x), p(y), g, params)
        case .concatPart(let x, let size, let offset, let g, let y):
            Reference.concatPart(p(x), axisSize: size, into: p(y), axisOffset: offset, g)
        case .copy(let x, let y, let count):
            p(y).update(from: p(x), count: count)
        case .channelSlice(let x, let size, let offset, let g, let y):
            let src = p(x), dst = p(y), block = size * g.inner
            for o in 0..<g.outer {
                (dst + o * block).update(from: src + (o * g.axis + offset) * g.inner, count: block)
            }
        case .layer(let f, let x, let y):
            let xs = shapes[x]
            let r = try f(try Tensor(borrowing: p(x), count: try Checked.product(xs), shape: xs))
            guard r.shape == shapes[y] else {
                throw SwiftCNNError(.internal, "forward plan: a layer gave \(Tensor.describe(r.shape)), the plan expected \(Tensor.describe(shapes[y]))")
            }
            r.withUnsafePointer { p(y).update(from: $0, count: r.count) }
        case .general(let f, let xs, let ys):
            let inputs = try xs.map { x in try Tensor(borrowing: p(x), count: try Checked.product(shapes[x]), shape: shapes[x]) }
            let rs = try f(inputs)
            guard rs.count == ys.count else {
                throw SwiftCNNError(.internal, "forward plan: a node gave \(rs.count) outputs, the plan expected \(ys.count)")
            }
            for (r, y) in zip(rs, ys) {
                guard r.shape == shapes[y] else {
                    throw SwiftCNNError(.internal, "forward plan: a node gave \(Tensor.describe(r.shape)), the plan expected \(Tensor.describe(shapes[y]))")
                }
                r.withUnsafePointer { p(y).update(from: $0, count: r.count) }
            }
        }
    }
}

extension ForwardPlan {
    /// A value: `count` floats at `offset` in buffer `buffer` (0: the input, 1: the output,
    /// others: arena buffers), seen as `shape`. Scratch values have shape [count].
    struct Value {
        var buffer: Int
        var offset: Int
        var shape: [Int]
        var count: Int
    }

    /// Where a step should put its result if it can: `count` floats at `offset` of `buffer`.
    struct Destination {
        var buffer: Int
        var offset: Int
        var count: Int
    }

    /// Builds the steps and values of a plan.
    struct Builder {
        static let input = 0
        static let output = 1

        let model: Model
        /// One buffer for every batch-norm fold of this compilation (see ``Model/prepareConv``).
        let folding: FoldingBuffer
        var values: [Value] = []
        /// Floats per buffer (0 and 1: the input and output tensors, not in the arena).
        var bufferCounts: [Int] = []
        var steps: [Step] = []
        var stepInfo: [StepInfo] = []

        /// Appends a step made for the node at `path` (an `op` such as "Conv2d"; `fused`: the
        /// layers it also computes). Every step goes through here.
        mutating func add(_ step: Step, path: String, op: String, fused: [String] = []) {
            steps.append(step)
            stepInfo.append(StepInfo(path: path, op: op, fused: fused))
        }

        init(model: Model, inputShape: [Int], outputShape: [Int]) throws {
            self.model = model
            let largest = try model.parameterSpecs.filter { $0.shape.count == 4 }.map { try Checked.product($0.shape) }.max() ?? 1
            folding = FoldingBuffer(count: largest)
            let n = try Checked.product(inputShape, "forward plan: input size \(Tensor.describe(inputShape))")
            let m = try Checked.product(outputShape, "forward plan: output size \(Tensor.describe(outputShape))")
            values = [Value(buffer: 0, offset: 0, shape: inputShape, count: n),
                      Value(buffer: 1, offset: 0, shape: outputShape, count: m)]
            bufferCounts = [n, m]
        }

        /// A new value of `shape`: at `dest` when given and of the same size, else in a new buffer.
        mutating func newValue(_ shape: [Int], dest: Destination?) throws -> Int {
            let count = try Checked.product(shape, "forward plan: value size")
            if let d = dest, d.count == count {
                values.append(Value(buffer: d.buffer, offset: d.offset, shape: shape, count: count))
            } else {
                bufferCounts.append(count)
                values.append(Value(buffer: bufferCounts.count - 1, offset: 0, shape: shape, count: count))
            }
            return values.count - 1
        }

        /// The same floats as `x` seen as `shape` (flatten).
        mutating func view(_ x: Int, _ shape: [Int]) -> Int {
            var v = values[x]
            v.shape = shape
            values.append(v)
            return values.count - 1
        }

        /// `dest` as a destination (the output value's place, or nil).
        func destination(_ v: Int?) -> Destination? {
            guard let v else { return nil }
            return Destination(buffer: values[v].buffer, offset: values[v].offset, count: values[v].count)
        }

        /// A tensor of `shape` for the geometry checks, which read shapes only: it borrows a
        /// static float it never reads.
        static func shapeOnly(_ shape: [Int]) throws -> Tensor {
            try Tensor(borrowing: ForwardPlan.placeholder, count: try Checked.product(shape), shape: shape)
        }

        /// Compiles `layer` at `path` applied to value `x`; returns its result. `owned`: x was
        /// made by the enclosing sequence and is read by nothing else (may be overwritten).
        /// `dest`: a value the result should be written into when possible.
        mutating func compile(_ layer: Layer, path: String, x: Int, owned: Bool, dest: Int?) throws -> Int {
            let xs = values[x].shape
            switch layer {
            case .relu, .tanh, .scaledTanh, .unary:
                let f: Unary
                switch layer {
                case .relu: f = .relu
                case .tanh: f = .tanh
                case .unary(let op): f = .op(op)
                default: f = .scaledTanh
                }
                let y = owned ? x : try newValue(xs, dest: destination(dest))
                add(.unary(f, x: x, y: y, count: values[x].count), path: path, op: layer.typeName)
                return y
            case .dropout:
                return x
            case .flatten:
                return view(x, [xs[0], xs.dropFirst().reduce(1, *)])
            case .linear(_, let o, let hasBias):
                let w = try model.weight(path, "weight")
                let b = hasBias ? try model.weight(path, "bias") : nil
                guard xs.count >= 2, let inFeatures = xs.last, w.shape == [o, inFeatures] else {
                    throw SwiftCNNError(.internal, "\(path): linear input \(Tensor.describe(xs)), weight \(Tensor.describe(w.shape))")
                }
                // Any rank: [N, …, in] is [N·…, in] rows, so rank 2 is unchanged.
                let rows = try Checked.product(Array(xs.dropLast()), "\(path): linear rows")
                let y = try newValue(Array(xs.dropLast()) + [o], dest: destination(dest))
                add(.linear(weight: w, bias: b, LinearGeometry(batch: rows, inFeatures: inFeatures, outFeatures: o), x: x, y: y),
                    path: path, op: layer.typeName)
                return y
            case .layerNorm(let axis, let eps, let hasBias, _):
                let w = try model.weight(path, "weight")
                let b = hasBias ? try model.weight(path, "bias") : nil
                let geo = try layerNormGeometry(xs, axis: axis, weight: w, bias: b, eps: eps, path)
                let y = owned ? x : try newValue(xs, dest: destination(dest))
                add(.layerNorm(weight: w, bias: b, rows: geo.rows, size: geo.size, eps: eps, x: x, y: y), path: path, op: layer.typeName)
                return y
            case .maxPool2d(let p), .avgPool2d(let p):
                let isMax: Bool
                if case .maxPool2d = layer { isMax = true } else { isMax = false }
                let g = try pool2dGeometry(try Builder.shapeOnly(xs), p.options, op: isMax ? "maxPool2d" : "avgPool2d")
                let y = try newValue([xs[0], xs[1], g.outHeight, g.outWidth], dest: destination(dest))
                add(isMax ? .maxPool(g, x: x, y: y) : .avgPool(g, x: x, y: y), path: path, op: layer.typeName)
                return y
            case .adaptiveAvgPool2d(let s):
                guard xs.count == 4 else { throw SwiftCNNError(.internal, "\(path): adaptive pool input \(Tensor.describe(xs))") }
                let g = Pool2DGeometry(planes: xs[0] * xs[1], inHeight: xs[2], inWidth: xs[3], outHeight: s.h, outWidth: s.w,
                                       kernel: Size2D(1), stride: Size2D(1), padding: Size2D(0), countIncludePad: false)
                let y = try newValue([xs[0], xs[1], s.h, s.w], dest: destination(dest))
                add(.adaptiveAvgPool(g, x: x, y: y), path: path, op: layer.typeName)
                return y
            case .localResponseNorm(let size, let alpha, let beta, let k):
                let g = ChannelGeometry(batch: xs[0], channels: xs[1], spatial: xs.dropFirst(2).reduce(1, *))
                let y = try newValue(xs, dest: destination(dest))
                add(.lrn(g, LRNParameters(size: size, alpha: alpha, beta: beta, k: k), x: x, y: y), path: path, op: layer.typeName)
                return y
            case .sequential(let children):
                return try compileSequence(children[...], path: path, x: x, owned: owned, residual: nil, dest: dest)
            case .residual(let body, let shortcut):
                let s = try shortcut.map { try compile($0.layer, path: Layer.join(path, $0.name), x: x, owned: false, dest: nil) } ?? x
                return try compileSequence(body[...], path: path, x: x, owned: false, residual: s, dest: dest)
            case .concat(let branches):
                return try compileConcat(branches, path: path, x: x)
            case .identity:
                return x
            case .reshape(let shape):
                let per = try ShapeWalker.reshaped(Array(xs.dropFirst()), to: shape, path)
                return view(x, [xs[0]] + per)
            case .softmax, .globalMaxPool2d, .mean, .upsample, .zeroPad2d, .transpose, .slice, .gather, .l2Normalize:
                return try compileFallback(layer, path: path, x: x, dest: dest)
            case .binary, .concatInputs, .split, .graph, .constant, .upsampleLike:
                let ys = try compileNode(layer, path: path, xs: [x])
                // A graph with several outputs passes its first on (the others are named nodes);
                // a split's pieces only make sense as graph values.
                guard ys.count == 1 || (layer.isGraph && !ys.isEmpty) else {
                    throw SwiftCNNError.invalidArgument("\(path.isEmpty ? layer.typeName : path): \(layer.typeName) gives \(ys.count) outputs where one is expected")
                }
                return ys[0]
            case .partialConv2d(let inChannels, let connections, let k):
                return try compilePartialConv(path: path, x: x, inChannels: inChannels, connections: connections, kernel: k, dest: dest)
            case .conv2d, .batchNorm2d, .subsampling, .euclideanRBF:
                if case .conv2d = layer {
                    return try compileSequence([NamedLayer("", layer)][...], path: path, x: x, owned: owned, residual: nil, dest: dest)
                }
                return try compileFallback(layer, path: path, x: x, dest: dest)
            }
        }

        /// LeNet's partially connected C3 as a planned convolution: the dense kernel (zeros
        /// for absent connections, ``LeNetOps/partialConvDenseWeight(_:inChannels:connections:kernel:)``)
        /// is built and packed once, like any convolution's weights, instead of per forward.
        mutating func compilePartialConv(path: String, x: Int, inChannels: Int, connections: [[Int]], kernel k: Int,
                                         dest: Int?) throws -> Int {
            let (w, b) = (try model.weight(path, "weight"), try model.weight(path, "bias"))
            try LeNetOps.checkPartialConv(w, bias: b.shape, inChannels: inChannels, connections: connections, kernel: k, op: "partial conv")
            let dense = try LeNetOps.partialConvDenseWeight(w, inChannels: inChannels, connections: connections, kernel: k)
            let g = try Conv2DGeometry(input: try Builder.shapeOnly(values[x].shape), weight: dense, bias: b, options: Conv2DOptions(),
                                       op: "partial conv")
            let model = self.model
            let conv = try model.plan.conv(path) { try model.prepareConv(g, weight: dense, bias: b, batchNorm: nil) }
            let y = try newValue([g.batch, g.outChannels, g.outHeight, g.outWidth], dest: destination(dest))
            let scratchCount = try conv.scratchCount(g)
            let scratch = scratchCount > 0 ? try newValue([scratchCount], dest: nil) : nil
            add(.conv(conv, g, x: x, y: y, residual: nil, relu: false, op: nil, scratch: scratch), path: path,
                op: "PartialConv2d")
            return y
        }

        /// A layer run through its tensor op (weights fetched now, not per forward).
        mutating func compileFallback(_ layer: Layer, path: String, x: Int, dest: Int?) throws -> Int {
            let f: (Tensor) throws -> Tensor
            switch layer {
            case .batchNorm2d(_, let eps, _):
                let (m, v, w, b) = (try model.weight(path, "running_mean"), try model.weight(path, "running_var"),
                                    try model.weight(path, "weight"), try model.weight(path, "bias"))
                f = { try batchNorm($0, runningMean: m, runningVar: v, weight: w, bias: b, eps: eps) }
            case .subsampling:
                let (w, b) = (try model.weight(path, "weight"), try model.weight(path, "bias"))
                f = { try LeNetOps.subsample($0, weight: w, bias: b) }
            case .euclideanRBF:
                let codes = try model.weight(path, "codes")
                f = { try LeNetOps.rbf($0, codes: codes) }
            case .unary, .softmax, .globalMaxPool2d, .mean, .upsample, .zeroPad2d, .transpose, .slice, .gather, .l2Normalize:
                // Not the model: a step that held it would hold the plan that holds the step.
                f = { try Model.runWithoutWeights(layer, path: path, $0) }
            default:
                throw SwiftCNNError(.internal, "\(path): no planned step for \(layer.typeName)")
            }
            // The result's shape: run shape inference on one example.
            var walker = ShapeWalker(recordRows: false)
            let xs = values[x].shape
            let st = try walker.walk(layer, name: path, FlowState(shape: Array(xs.dropFirst()), rf: nil, jump: Size2D(1)))
            let y = try newValue([xs[0]] + st.shape, dest: destination(dest))
            add(.layer(f, x: x, y: y), path: path, op: layer.typeName)
            return y
        }

        /// ``Model/runSequence(_:path:_:residual:)`` compiled: conv → batch norm → ReLU fused, the
        /// residual add + ReLU in the block's last conv (or a separate step).
        mutating func compileSequence(_ children: ArraySlice<NamedLayer>, path: String, x: Int, owned xOwned: Bool,
                                      residual: Int?, residualReLU: Bool = true, dest: Int?) throws -> Int {
            // Children from tailStart on only change values in place or view them: the
            // step before them may write the destination.
            func inPlaceOrView(_ l: Layer) -> Bool {
                switch l {
                case .relu, .tanh, .scaledTanh, .dropout, .flatten, .unary, .identity, .reshape: return true
                default: return false
                }
            }
            var tailStart = children.endIndex
            while tailStart > children.startIndex && inPlaceOrView(children[tailStart - 1].layer) { tailStart -= 1 }
            let resultDest = residual == nil ? dest : nil
            var y = x
            var owned = xOwned
            var i = children.startIndex
            while i < children.endIndex {
                let child = children[i]
                let childPath = Layer.join(path, child.name)
                guard case .conv2d(let spec) = child.layer else {
                    let before = y
                    y = try compile(child.layer, path: childPath, x: y, owned: owned,
                                    dest: i + 1 >= tailStart ? resultDest : nil)
                    if values[y].buffer != values[before].buffer || values[y].offset != values[before].offset {
                        owned = true  // a new value, read only by the next child
                    }
                    i += 1
                    continue
                }
                let group = Model.convGroup(children, at: i, path: path, residual: residual != nil)
                y = try compileConv(spec, path: childPath, batchNorm: group.bn, x: y,
                                    residual: group.takesResidual ? residual : nil,
                                    relu: group.relu || (group.takesResidual && residualReLU), op: group.op,
                                    dest: group.takesResidual ? dest : group.next >= tailStart ? resultDest : nil)
                owned = true
                if group.takesResidual { return y }
                i = group.next
            }
            if let residual {
                let out = owned ? y : try newValue(values[y].shape, dest: destination(dest))
                if residualReLU {
                    add(.addReLU(a: y, b: residual, y: out, count: values[y].count), path: path, op: "Add+ReLU")
                } else {
                    guard values[y].shape == values[residual].shape else {
                        throw SwiftCNNError(.internal, "\(path): residual \(Tensor.describe(values[residual].shape)) and \(Tensor.describe(values[y].shape))")
                    }
                    let shape = values[y].shape
                    add(.binary(.add, BroadcastGeometry(a: shape, b: shape, output: shape), a: y, b: residual, y: out), path: path, op: "Add")
                }
                return out
            }
            return y
        }

        /// One convolution through the plan (``Model/plannedConv``'s preparation, done once).
        mutating func compileConv(_ spec: ConvSpec, path: String, batchNorm bn: (path: String, eps: Float)?, x: Int,
                                  residual: Int?, relu: Bool, op: UnaryOp? = nil, dest: Int?) throws -> Int {
            let options = spec.options
            let weight = try model.weight(path, "weight")
            let ownBias = spec.bias ? try model.weight(path, "bias") : nil
            let g = try Conv2DGeometry(input: try Builder.shapeOnly(values[x].shape), weight: weight, bias: ownBias, options: options)
            let key = bn.map { path + "+" + $0.path } ?? path
            let model = self.model, folding = self.folding
            let conv = try model.plan.conv(key) {
                try model.prepareConv(g, weight: weight, bias: ownBias, batchNorm: bn,
                                      foldingInto: bn == nil || weight.count > folding.count ? nil : try folding.pointer())
            }
            let shape = [g.batch, g.outChannels, g.outHeight, g.outWidth]
            if let residual, values[residual].shape != shape {
                throw SwiftCNNError.shapeMismatch(
                    "\(path): residual shape \(Tensor.describe(values[residual].shape)) differs from the convolution's \(Tensor.describe(shape))")
            }
            let y = try newValue(shape, dest: destination(dest))
            let scratchCount = try conv.scratchCount(g)
            let scratch = scratchCount > 0 ? try newValue([scratchCount], dest: nil) : nil
            var fused: [String] = []
            if bn != nil { fused.append("bn") }
            if residual != nil { fused.append("add") }
            if relu { fused.append("relu") }
            if let op { fused.append(op.typeName) }
            add(.conv(conv, g, x: x, y: y, residual: residual, relu: relu, op: op, scratch: scratch),
                path: path, op: "Conv2d", fused: fused)
            return y
        }

        /// A layer with any number of inputs and outputs (graph nodes); returns its outputs.
        /// In a graph, runs of nodes that each feed only the next compile as a sequence, so
        /// conv → batch norm → ReLU fuse as in the zoo.
        mutating func compileNode(_ layer: Layer, path: String, xs: [Int]) throws -> [Int] {
            switch layer {
            case .graph(let g):
                guard xs.count == g.inputs.count else {
                    throw SwiftCNNError.invalidArgument("\(path): the graph takes \(g.inputs.count) input(s); got \(xs.count)")
                }
                let n = g.nodes.count
                var readers = [[Int]](repeating: [], count: n)
                for (j, refs) in g.sources.enumerated() { for r in refs where r.node >= 0 { readers[r.node].append(j) } }
                let isOutput = Set(g.outputSources.filter { $0.node >= 0 }.map(\.node))
                func simple(_ i: Int) -> Bool { g.nodes[i].layer.inputCount == 1 && g.nodes[i].layer.outputCount == 1 }
                var values = [[Int]](repeating: [], count: n)
                var done = [Bool](repeating: false, count: n)
                func value(_ r: Graph.ValueRef) -> Int { r.node < 0 ? xs[r.output] : values[r.node][r.output] }
                // A chain whose only reader is an add waits for it: its last convolution can
                // then take the other operand as its residual (and a ReLU after the add).
                var pending: [Int: (chain: [Int], input: Int)] = [:]
                /// A chain's layers, sequential nodes spliced in (so that a conv inside one fuses
                /// with what follows it, and a residual add reaches its last conv).
                func chainLayers(_ chain: [Int]) -> [NamedLayer] {
                    Builder.flattened(chain.map { NamedLayer(g.nodes[$0].name, g.nodes[$0].layer) })
                }
                func compileChain(_ chain: [Int], input: Int, residual: Int? = nil, residualReLU: Bool = true) throws -> Int {
                    let children = chainLayers(chain)
                    return try compileSequence(children[...], path: path, x: input, owned: false, residual: residual,
                                               residualReLU: residualReLU, dest: nil)
                }
                func flush(_ t: Int) throws {
                    guard let p = pending.removeValue(forKey: t) else { return }
                    values[t] = [try compileChain(p.chain, input: p.input)]
                }
                /// Whether a chain ends in a convolution, optionally followed by a batch norm.
                func endsInConv(_ chain: [Int]) -> Bool {
                    let layers = chainLayers(chain)
                    var k = layers.count - 1
                    guard k >= 0 else { return false }
                    if k >= 1, case .batchNorm2d = layers[k].layer { k -= 1 }
                    if case .conv2d = layers[k].layer { return true }
                    return false
                }
                for i in g.order where !done[i] {
                    if case .binary(.add) = g.nodes[i].layer, g.sources[i].count == 2, g.sources[i][0] != g.sources[i][1] {
                        // Fuse: the operand made by a pending conv chain takes the other as its residual.
                        let refs = g.sources[i]
                        if let k = (0..<2).first(where: { refs[$0].node >= 0 && pending[refs[$0].node] != nil }) {
                            let other = refs[1 - k]
                            if other.node >= 0 { try flush(other.node) }
                            let t = refs[k].node, p = pending[t]!
                            let o = value(other)
                            var walker = ShapeWalker(recordRows: false)
                            let chainLayer = Layer.sequential(p.chain.map { NamedLayer(g.nodes[$0].name, g.nodes[$0].layer) })
                            let st = try walker.walk(chainLayer, name: path, FlowState(shape: Array(self.values[p.input].shape.dropFirst()), rf: nil, jump: Size2D(1)))
                            if [self.values[p.input].shape[0]] + st.shape == self.values[o].shape {
                                pending[t] = nil
                                // A ReLU that alone reads the sum fuses too.
                                var reluNode: Int? = nil
                                if readers[i].count == 1, !isOutput.contains(i), case .relu = g.nodes[readers[i][0]].layer {
                                    reluNode = readers[i][0]
                                }
                                let y = try compileChain(p.chain, input: p.input, residual: o, residualReLU: reluNode != nil)
                                values[t] = [y]
                                values[i] = [y]
                                done[i] = true
                                if let r = reluNode {
                                    values[r] = [y]
                                    done[r] = true
                                }
                                continue
                            }
                        }
                    }
                    for r in g.sources[i] where r.node >= 0 { try flush(r.node) }
                    let ins = g.sources[i].map(value)
                    guard simple(i) else {
                        values[i] = try compileNode(g.nodes[i].layer, path: Layer.join(path, g.nodes[i].name), xs: ins)
                        done[i] = true
                        continue
                    }
                    var chain = [i]
                    var t = i
                    while readers[t].count == 1, !isOutput.contains(t), simple(readers[t][0]) {
                        t = readers[t][0]
                        chain.append(t)
                    }
                    for c in chain { done[c] = true }
                    if readers[t].count == 1, !isOutput.contains(t), case .binary(.add) = g.nodes[readers[t][0]].layer, endsInConv(chain) {
                        pending[t] = (chain, ins[0])
                        continue
                    }
                    values[t] = [try compileChain(chain, input: ins[0])]
                }
                for t in Array(pending.keys) { try flush(t) }
                return g.outputSources.map(value)
            case .binary(let op):
                guard xs.count == 2 else { throw SwiftCNNError.invalidArgument("\(path): \(op.rawValue) takes 2 inputs") }
                let (sa, sb) = (values[xs[0]].shape, values[xs[1]].shape)
                let shape = try broadcastShape(sa, sb)
                let y = try newValue(shape, dest: nil)
                add(.binary(op, BroadcastGeometry(a: sa, b: sb, output: shape), a: xs[0], b: xs[1], y: y), path: path, op: layer.typeName)
                return [y]
            case .concatInputs(let axis):
                guard let first = xs.first else { throw SwiftCNNError.invalidArgument("\(path): concat needs an input") }
                let rank = values[first].shape.count
                let a = axis < 0 ? axis + rank : axis
                guard a >= 1, a < rank else { throw SwiftCNNError.invalidArgument("\(path): concat axis \(axis) is out of range") }
                var shape = values[first].shape
                shape[a] = try xs.reduce(0) { try Checked.add($0, values[$1].shape[a]) }
                let out = try newValue(shape, dest: nil)
                let outer = try Checked.product(Array(shape[..<a])), inner = try Checked.product(Array(shape[(a + 1)...]))
                let geometry = AxisGeometry(outer: outer, axis: shape[a], inner: inner)
                var offset = 0
                var moved = Set<Int>()
                for x in xs {
                    let size = values[x].shape[a]
                    // With one outer block (batch 1), an input alone in its buffer moves into its
                    // slice of the result: the step that made it writes there, no copy.
                    let b = values[x].buffer
                    if outer == 1, !moved.contains(b), ownsBuffer(x) {
                        moved.insert(b)
                        relocate(buffer: b, to: values[out].buffer, offset: values[out].offset + offset * inner)
                    } else {
                        add(.concatPart(x: x, axisSize: size, axisOffset: offset, geometry, y: out), path: path, op: layer.typeName)
                    }
                    offset += size
                }
                return [out]
            case .upsampleLike(let mode):
                guard xs.count == 2 else { throw SwiftCNNError.invalidArgument("\(path): upsample_like takes 2 inputs") }
                let (sx, sr) = (values[xs[0]].shape, values[xs[1]].shape)
                guard sx.count == 4, sr.count == 4, sx[0] == sr[0] else {
                    throw SwiftCNNError.shapeMismatch("\(path): upsample_like of \(Tensor.describe(sx)) to the size of \(Tensor.describe(sr))")
                }
                let y = try newValue([sx[0], sx[1], sr[2], sr[3]], dest: nil)
                // The plan is per input shape, so the size is fixed here; the reference is not read.
                let size = Size2D(sr[2], sr[3])
                add(.general({ [try upsample2d($0[0], outputSize: size, scales: nil, mode: mode)] }, xs: [xs[0]], ys: [y]),
                    path: path, op: layer.typeName)
                return [y]
            case .split(let axis, let sizes):
                guard xs.count == 1 else { throw SwiftCNNError.invalidArgument("\(path): split takes 1 input") }
                let xsh = values[xs[0]].shape
                let a = axis < 0 ? axis + xsh.count : axis
                guard a >= 1, a < xsh.count else { throw SwiftCNNError.invalidArgument("\(path): split axis \(axis) is out of range") }
                let ys = try sizes.map { size -> Int in
                    var shape = xsh
                    shape[a] = size
                    return try newValue(shape, dest: nil)
                }
                add(.general({ try split($0[0], axis: axis, sizes: sizes) }, xs: xs, ys: ys), path: path, op: layer.typeName)
                return ys
            case .constant(let shape):
                guard xs.isEmpty else {
                    throw SwiftCNNError.invalidArgument("\(path.isEmpty ? "constant" : path): a constant takes no inputs; use it as a graph node with \"inputs\": []")
                }
                let c = try model.weight(path, "")
                guard c.shape == shape else {
                    throw SwiftCNNError(.internal, "\(path): constant \(Tensor.describe(c.shape)), expected \(Tensor.describe(shape))")
                }
                let y = try newValue([values[Builder.input].shape[0]] + shape, dest: nil)
                add(.broadcastConstant(c, y: y), path: path, op: layer.typeName)
                return [y]
            default:
                guard xs.count == 1 else { throw SwiftCNNError.invalidArgument("\(path): \(layer.typeName) takes 1 input") }
                return [try compile(layer, path: path, x: xs[0], owned: false, dest: nil)]
            }
        }

        /// `items` with every sequential layer replaced by its children (recursively), named by
        /// their joined paths.
        static func flattened(_ items: [NamedLayer]) -> [NamedLayer] {
            items.flatMap { item -> [NamedLayer] in
                guard case .sequential(let children) = item.layer else { return [item] }
                return flattened(children.map { NamedLayer(Layer.join(item.name, $0.name), $0.layer) })
            }
        }

        /// Moves every value in arena buffer `from` to `offset` floats into buffer `to`: the
        /// steps that made them write there directly. The caller makes sure that nothing else
        /// uses that part of `to` while `from` is live.
        mutating func relocate(buffer from: Int, to: Int, offset: Int) {
            for v in values.indices where values[v].buffer == from {
                values[v].buffer = to
                values[v].offset += offset
            }
        }

        /// Whether value `v` covers all of an arena buffer, so that ``relocate(buffer:to:offset:)``
        /// may move the buffer (with the values inside it, which are all within its extent)
        /// to a place of v's size.
        func ownsBuffer(_ v: Int) -> Bool {
            let b = values[v].buffer
            return b >= 2 && values[v].offset == 0 && bufferCounts[b] == values[v].count
        }

        /// Branches concatenated along channels: with batch 1 each branch's last step writes
        /// its slice of the result directly; otherwise (or when it cannot) a copy step does.
        mutating func compileConcat(_ branches: [NamedLayer], path: String, x: Int) throws -> Int {
            let xs = values[x].shape
            var shapes: [[Int]] = []
            for b in branches {
                var walker = ShapeWalker(recordRows: false)
                let st = try walker.walk(b.layer, name: Layer.join(path, b.name),
                                         FlowState(shape: Array(xs.dropFirst()), rf: nil, jump: Size2D(1)))
                shapes.append([xs[0]] + st.shape)
            }
            guard let first = shapes.first, first.count == 4 else {
                throw SwiftCNNError(.internal, "\(path): concat of \(shapes.map(Tensor.describe))")
            }
            let channels = shapes.reduce(0) { $0 + $1[1] }
            let out = try newValue([xs[0], channels, first[2], first[3]], dest: nil)
            let plane = first[2] * first[3]
            let g = AxisGeometry(outer: xs[0], axis: channels, inner: plane)
            // The 1x1 convolutions that open several branches run as one (ForwardPlanFusion.swift).
            let heads = xs.count == 4 ? fusableHeads(branches, path: path, inChannels: xs[1]) : []
            let headValues = heads.isEmpty ? [] : try compileFusedHeads(heads, path: path, x: x)
            var c0 = 0
            for (bi, (b, shape)) in zip(branches, shapes).enumerated() {
                var slot: Int? = nil
                if xs[0] == 1 {
                    values.append(Value(buffer: values[out].buffer, offset: values[out].offset + c0 * plane,
                                        shape: shape, count: shape.reduce(1, *)))
                    slot = values.count - 1
                }
                let r: Int
                if let h = heads.firstIndex(where: { $0.branch == bi }) {
                    r = try compileSequence(heads[h].children[heads[h].next...], path: path, x: headValues[h], owned: false,
                                            residual: nil, dest: slot)
                } else {
                    r = try compile(b.layer, path: Layer.join(path, b.name), x: x, owned: false, dest: slot)
                }
                let rv = values[r]
                if let slot, rv.buffer == values[slot].buffer && rv.offset == values[slot].offset {
                    // Written in place.
                } else {
                    add(.concatPart(x: r, axisSize: shape[1], axisOffset: c0, g, y: out), path: path, op: "Concat")
                }
                c0 += shape[1]
            }
            return out
        }

        /// Places the arena buffers: live ranges from the steps, then first fit by offset,
        /// largest buffers first, each rounded up to 16 floats (64 bytes).
        func place() throws -> (locations: [Location], arenaCount: Int, placement: [(offset: Int, count: Int, first: Int, last: Int)]) {
            let nb = bufferCounts.count
            var first = [Int](repeating: Int.max, count: nb), last = [Int](repeating: -1, count: nb)
            for (i, s) in steps.enumerated() {
                for v in s.operands {
                    let b = values[v].buffer
                    first[b] = min(first[b], i)
                    last[b] = max(last[b], i)
                }
            }
            var offsets = [Int](repeating: 0, count: nb)
            var placed: [(offset: Int, size: Int, first: Int, last: Int)] = []
            let order = (2..<max(nb, 2)).filter { last[$0] >= 0 }.sorted {
                bufferCounts[$0] != bufferCounts[$1] ? bufferCounts[$0] > bufferCounts[$1] : $0 < $1
            }
            var total = 0
            for b in order {
                let size = try Checked.add(bufferCounts[b], 15, "forward plan: arena size") / 16 * 16
                let clashes = placed.filter { $0.first <= last[b] && first[b] <= $0.last }.sorted { $0.offset < $1.offset }
                var offset = 0
                for c in clashes {
                    if try Checked.add(offset, size, "forward plan: arena size") <= c.offset { break }
                    offset = max(offset, c.offset + c.size)  // both already summed below: no overflow
                }
                offsets[b] = offset
                placed.append((offset, size, first[b], last[b]))
                total = max(total, try Checked.add(offset, size, "forward plan: arena size"))
            }
            let locations = values.map { v in
                Location(base: v.buffer == 0 ? 0 : v.buffer == 1 ? 1 : 2, offset: (v.buffer >= 2 ? offsets[v.buffer] : 0) + v.offset)
            }
            return (locations, total, order.map { (offsets[$0], bufferCounts[$0], first[$0], last[$0]) })
        }
    }

    /// Room for the largest convolution weight of a model, allocated on first use.
    final class FoldingBuffer {
        let count: Int
        private var buffer: ScratchBuffer?
        init(count: Int) { self.count = count }
        func pointer() throws -> UnsafeMutablePointer<Float> {
            if let b = buffer { return b.pointer }
            let b = try ScratchBuffer(count: count)
            buffer = b
            return b.pointer
        }
    }

    /// What ``Builder/shapeOnly(_:)`` borrows: never read.
    nonisolated(unsafe) static let placeholder: UnsafePointer<Float> = {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        p.initialize(to: 0)
        return UnsafePointer(p)
    }()
}

extension Model {
    /// The compiled forward pass for an input shape: cached in the plan, or validated by
    /// shape inference and compiled.
    func forwardPlan(for shape: [Int]) throws -> ForwardPlan {
        if let p = plan.cachedForwardPlan(shape) { return p }
        let out = try architecture.outputShape(forInput: shape)
        return try plan.forwardPlan(shape) { try ForwardPlan(self, inputShape: shape, outputShape: out) }
    }

    /// The optimized forward: the compiled plan for the input's shape, run with a pooled arena.
    func forwardPlanned(_ input: Tensor) throws -> Tensor {
        let p = try forwardPlan(for: input.shape)
        if p.splitsBatch {
            return try p.runSplit(input, single: try forwardPlan(for: [1] + input.shape.dropFirst()), pool: plan)
        }
        return try p.run(input, pool: plan)
    }

    /// ``forwardPlanned(_:)`` written straight into caller-owned memory, which
    /// ``Model/forward(_:into:capacity:)`` has checked holds the output and does not overlap
    /// the input (the C ABI's forward, which then needs neither a result tensor nor a copy).
    func forwardPlanned(_ input: Tensor, into output: UnsafeMutablePointer<Float>) throws {
        let p = try forwardPlan(for: input.shape)
        if p.splitsBatch {
            try p.runSplit(input, single: try forwardPlan(for: [1] + input.shape.dropFirst()), pool: plan, into: output)
            return
        }
        try input.withUnsafePointer { xp in try p.runImage(xp, output, pool: plan) }
    }

    /// Bytes of activation and scratch memory one forward of `inputShape` uses (its arena),
    /// compiling the plan if needed. Weights, packed weights and the result are not counted.
    func plannedWorkspaceBytes(inputShape: [Int]) throws -> Int {
        try Checked.mul(try forwardPlan(for: inputShape).arenaCount, MemoryLayout<Float>.stride)
    }

    /// Bytes of activation and scratch memory (Winograd transforms, small im2col matrices) one optimized
    /// forward pass of `inputShape` [N, C, H, W] uses: the arena planned once per input shape,
    /// in which buffers whose live ranges do not overlap share memory. Each forward running at
    /// the same time uses one such arena (a few are kept for reuse). Weights, their packed
    /// copies, the result and the GEMM's packing buffers (kept between calls, shared by the
    /// process: at most a few MiB) are not counted. Plans the shape (packing the weights) if no
    /// forward has yet; an error naming the expected shape when the model does not take it.
    public func workspaceBytes(forInput inputShape: [Int]) throws -> Int {
        try plannedWorkspaceBytes(inputShape: inputShape)
    }
}
