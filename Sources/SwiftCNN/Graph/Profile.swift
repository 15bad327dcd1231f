// A per-layer profiler for the compiled forward pass (ForwardPlan.swift).
//
// The profile runs the same steps on the same buffers as a forward, with a monotonic clock
// read around each step; steps that come from one graph node (a conv's scratch, a concat's
// copies) are added up per run, and each node reports the median over the runs. The
// whole-forward median is measured without the per-step clocks, in runs interleaved with
// the timed ones so that both see the same machine load.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the time of one forward pass goes, per graph node (see ``Model/profile(input:runs:warmup:)``).
public struct ModelProfile: Sendable, CustomStringConvertible {
    /// One node of the compiled plan: the steps that come from one layer of the model.
    public struct Node: Equatable, Sendable {
        /// Module path of the node, e.g. `layer1.0.conv1` (`(output)` for the final copy
        /// into the result, when the plan needs one).
        public var node: String
        /// The layer type, e.g. `Conv2d`, `Linear`, `MaxPool2d`, `Add+ReLU`.
        public var op: String
        /// The kernel that runs it: for convolutions `winograd` (F(4×4, 3×3)), `winograd2x2`
        /// (F(2×2, 3×3), small maps), `small`, `byPositions`, `direct`, `gemv`, `gemm` or
        /// `depthwise`; otherwise a short name (`linear`, `maxpool`, `concat`, `copy`, `relu`,
        /// …). Several kernels are joined with `+`.
        public var kernel: String
        /// Layers computed inside this node's kernel: `bn`, `add`, `relu`, or an activation's name.
        public var fused: [String]
        /// Plan steps that make up this node (1 for most).
        public var steps: Int
        /// Median over the runs of the node's time, milliseconds.
        public var milliseconds: Double
        /// ``milliseconds`` over the sum of every node's median (the shares add up to 1).
        public var share: Double
        /// Multiply-accumulates of the whole batch (the summary's MACs × batch); 0 for ops
        /// without any (activations, pooling, copies).
        public var macs: Int
        /// Floating-point operations: 2 × ``macs``.
        public var flops: Int { macs &* 2 }
        /// FLOPs per second at the median time, in GFLOP/s; 0 when the node has no FLOPs.
        public var gflops: Double
        /// Bytes the node moves, float32: its inputs, its outputs and the weights it reads.
        public var bytes: Int
        /// ``bytes`` per second at the median time, in GB/s (10⁹ bytes).
        public var gbps: Double
    }

    /// The model's name.
    public var modelName: String
    /// The input shape profiled.
    public var inputShape: [Int]
    /// Threads the kernels used.
    public var threads: Int
    /// Timed runs (after the warm-up runs).
    public var runs: Int
    /// The nodes in the order the plan runs them.
    public var nodes: [Node]
    /// Median of the whole forward pass, milliseconds, measured without the per-step clocks.
    public var totalMilliseconds: Double
    /// Σ of the nodes' medians, milliseconds (what ``Node/share`` divides by).
    public var nodeMilliseconds: Double

    /// The `n` nodes that take the longest, slowest first (ties in plan order).
    public func top(_ n: Int) -> [Node] {
        let order = nodes.indices.sorted { nodes[$0].milliseconds != nodes[$1].milliseconds ? nodes[$0].milliseconds > nodes[$1].milliseconds : $0 < $1 }
        return order.prefix(max(0, n)).map { nodes[$0] }
    }

    /// A table of the nodes, slowest first (all of them when `limit` is nil).
    public func text(limit: Int? = nil) -> String {
        let shown = top(limit ?? nodes.count)
        let header = ["Node", "Op", "Kernel", "ms", "Share", "GFLOP/s", "GB/s", "MB moved"]
        var cells = [header]
        for n in shown {
            let op = n.fused.isEmpty ? n.op : n.op + " (fused: " + n.fused.joined(separator: ", ") + ")"
            cells.append([n.node, op, n.kernel, ModelProfile.fixed(n.milliseconds, 3), ModelProfile.fixed(n.share * 100, 1) + "%",
                          n.macs > 0 ? ModelProfile.fixed(n.gflops, 1) : "-", ModelProfile.fixed(n.gbps, 1),
                          ModelProfile.fixed(Double(n.bytes) / 1e6, 2)])
        }
        var widths = [Int](repeating: 0, count: header.count)
        for row in cells { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count) } }
        func line(_ row: [String]) -> String {
            var s = ""
            for (i, c) in row.enumerated() {
                let pad = String(repeating: " ", count: widths[i] - c.count)
                s += i >= 3 ? pad + c : c + pad
                if i < row.count - 1 { s += "  " }
            }
            while s.hasSuffix(" ") { s.removeLast() }
            return s
        }
        let threadWord = threads == 1 ? "thread" : "threads"
        var out = "Profile: \(modelName)    input \(Tensor.describe(inputShape)), \(threads) \(threadWord), \(runs) runs\n"
        out += "forward \(ModelProfile.fixed(totalMilliseconds, 3)) ms (median, no per-step clocks); Σ node medians \(ModelProfile.fixed(nodeMilliseconds, 3)) ms\n"
        for (i, row) in cells.enumerated() {
            out += line(row) + "\n"
            if i == 0 { out += String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1)) + "\n" }
        }
        if shown.count < nodes.count { out += "(\(nodes.count - shown.count) more nodes)\n" }
        return out
    }

    /// ``text(limit:)`` with every node.
    public var description: String { text() }

    /// `v` with `digits` decimals.
    static func fixed(_ v: Double, _ digits: Int) -> String {
        guard v.isFinite else { return "\(v)" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let r = (abs(v) * scale).rounded()
        guard r < 1e15 else { return "\(v)" }
        let whole = Int(r) / Int(scale), frac = Int(r) % Int(scale)
        var f = String(frac)
        while f.count < digits { f = "0" + f }
        return (v < 0 && r > 0 ? "-" : "") + String(whole) + (digits > 0 ? "." + f : "")
    }
}

extension ForwardPlan {
    /// The kernel step `i` runs (see ``ModelProfile/Node/kernel``).
    func kernelName(_ i: Int) -> String {
        switch steps[i] {
        case .conv(let conv, let g, _, _, _, _, _, _):
            switch conv.kernel(g) {
            case .winograd: return "winograd"
            case .winogradF2: return "winograd2x2"
            case .small: return "small"
            case .byPositions: return "byPositions"
            case .direct: return "direct"
            case .gemv: return "gemv"
            case .gemm: return "gemm"
            case .depthwise: return "depthwise"
            }
        case .linear: return "linear"
        case .layerNorm: return "layernorm"
        case .broadcastConstant: return "broadcast"
        case .unary(let f, _, _, _):
            switch f {
            case .relu: return "relu"
            case .tanh: return "tanh"
            case .scaledTanh: return "scaledTanh"
            case .op(let op): return op.typeName.lowercased()
            }
        case .addReLU: return "addReLU"
        case .binary(let op, _, _, _, _): return op.rawValue
        case .maxPool: return "maxpool"
        case .avgPool: return "avgpool"
        case .adaptiveAvgPool: return "adaptiveAvgPool"
        case .lrn: return "lrn"
        case .concatPart: return "concat"
        case .copy: return "copy"
        case .layer: return "tensorOp"
        case .general: return "tensorOp"
        case .channelSlice: return "channelSlice"
        }
    }

    /// Floats step `i` moves: the values it reads and writes (not its scratch) and the
    /// weights it reads when the step holds them; `nil` for steps whose weights only the
    /// layer knows (``Step/layer``, ``Step/general``), which the caller adds.
    func floatsMoved(_ i: Int) throws -> (floats: Int, weightsKnown: Bool) {
        func count(_ v: Int) throws -> Int { try Checked.product(shapes[v], "profile: value size") }
        func sum(_ xs: [Int]) throws -> Int { try xs.reduce(0) { try Checked.add($0, $1, "profile: bytes") } }
        switch steps[i] {
        case .conv(_, let g, let x, let y, let r, _, _, _):
            let w = try Checked.product([g.outChannels, g.inChannelsPerGroup, g.kernelHeight, g.kernelWidth], "profile: weights")
            return (try sum([try count(x), try count(y), try r.map(count) ?? 0, w, g.hasBias ? g.outChannels : 0]), true)
        case .linear(let w, let b, _, let x, let y):
            return (try sum([try count(x), try count(y), w.count, b?.count ?? 0]), true)
        case .layerNorm(let w, let b, _, _, _, let x, let y):
            return (try sum([try count(x), try count(y), w.count, b?.count ?? 0]), true)
        case .broadcastConstant(let c, let y):
            return (try sum([c.count, try count(y)]), true)
        case .unary(_, _, _, let n), .copy(_, _, let n):
            return (try Checked.mul(2, n, "profile: bytes"), true)
        case .addReLU(_, _, _, let n):
            return (try Checked.mul(3, n, "profile: bytes"), true)
        case .concatPart(let x, _, _, _, _):
            return (try Checked.mul(2, try count(x), "profile: bytes"), true)
        case .layer(_, let x, let y):
            return (try sum([try count(x), try count(y)]), false)
        case .general(_, let xs, let ys):
            return (try sum(try (xs + ys).map(count)), false)
        default:
            return (try sum(try steps[i].operands.map(count)), true)
        }
    }

    /// Runs the plan like ``run(_:pool:)``, storing each step's time (seconds) in `times`
    /// (``steps``.count of them).
    func runTimed(_ input: Tensor, pool: InferencePlan, times: UnsafeMutablePointer<Double>) throws -> Tensor {
        var out = try Tensor(uninitialized: outputShape)
        try input.withUnsafePointer { xp in
            try out.withUnsafeMutablePointerUnchecked { yp in try runSteps(xp, yp, pool: pool, times: times) }
        }
        return out
    }
}

/// Seconds on the monotonic clock.
@inline(__always)
func monotonicSeconds() -> Double {
    Double(monotonicNanoseconds()) * 1e-9
}

/// The median of `xs` (not empty): the mean of the middle two for an even count.
func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    guard !s.isEmpty else { return 0 }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

extension Model {
    /// The largest `runs` and `warmup` ``profile(input:runs:warmup:)`` accepts.
    public static let maxProfileRuns = 100_000

    /// Profiles the optimized forward pass of `input` per layer: runs it `warmup` times,
    /// then `runs` times with a monotonic clock around each step of the compiled plan
    /// (interleaved with `runs` plain forwards, whose median is
    /// ``ModelProfile/totalMilliseconds``). Per node: the kernel chosen, the median time and
    /// its share, MACs (the summary's, times the batch), GFLOP/s, bytes moved and GB/s.
    /// (A tiny network's batch that the forward runs image by image, ``ForwardPlan/splitsBatch``:
    /// the nodes time the whole-batch steps; the total times the real path.)
    /// It runs the same steps on the same buffers as ``forward(_:)``, at the current
    /// thread count; the results are thrown away. Always the compiled plan, even while
    /// ``KernelDispatch/forceReference`` is set (the reference path has no steps to time). Errors: `runs` outside
    /// 1…``maxProfileRuns``, `warmup` outside 0…``maxProfileRuns``, an input shape the
    /// model does not take (the message names the expected one).
    public func profile(input: Tensor, runs: Int = 10, warmup: Int = 2) throws -> ModelProfile {
        guard runs >= 1, runs <= Model.maxProfileRuns else {
            throw SwiftCNNError.invalidArgument("profile: runs must be 1 to \(Model.maxProfileRuns); got \(runs)")
        }
        guard warmup >= 0, warmup <= Model.maxProfileRuns else {
            throw SwiftCNNError.invalidArgument("profile: warmup must be 0 to \(Model.maxProfileRuns); got \(warmup)")
        }
        let fp = try forwardPlan(for: input.shape)
        for _ in 0..<warmup { _ = try forwardPlanned(input) }
        let n = fp.steps.count
        var stepTimes = [Double](repeating: 0, count: try Checked.mul(n, runs, "profile: step times"))
        var totals: [Double] = []
        totals.reserveCapacity(runs)
        for r in 0..<runs {
            let t0 = monotonicSeconds()
            _ = try forwardPlanned(input)  // the real path (a batch split included)
            totals.append(monotonicSeconds() - t0)
            try stepTimes.withUnsafeMutableBufferPointer { buffer in
                guard n > 0, let base = buffer.baseAddress else { return }
                _ = try fp.runTimed(input, pool: plan, times: base + r * n)
            }
        }

        // Per node (by path, in plan order): its steps.
        var order: [String] = []
        var stepsOf: [String: [Int]] = [:]
        for i in 0..<n {
            let key = fp.stepInfo[i].path.isEmpty ? "(output)" : fp.stepInfo[i].path
            if stepsOf[key] == nil { order.append(key) }
            stepsOf[key, default: []].append(i)
        }
        let summary = try ModelSummary(architecture, inputShape: input.shape)
        var rowOf: [String: ModelSummary.Row] = [:]
        for row in summary.rows where rowOf[row.name] == nil { rowOf[row.name] = row }
        let batch = input.shape.first ?? 1

        var nodes: [ModelProfile.Node] = []
        for key in order {
            let idx = stepsOf[key] ?? []
            var perRun = [Double](repeating: 0, count: runs)
            for r in 0..<runs { for i in idx { perRun[r] += stepTimes[r * n + i] } }
            let ms = median(perRun) * 1000
            var kernels: [String] = []
            var fused: [String] = []
            var floats = 0
            var weightsUnknown = false
            for i in idx {
                let k = fp.kernelName(i)
                if !kernels.contains(k) { kernels.append(k) }
                for f in fp.stepInfo[i].fused where !fused.contains(f) { fused.append(f) }
                let m = try fp.floatsMoved(i)
                floats = try Checked.add(floats, m.floats, "profile: bytes")
                if !m.weightsKnown { weightsUnknown = true }
            }
            let row = rowOf[key]
            if weightsUnknown, let row { floats = try Checked.add(floats, row.parameters, "profile: bytes") }
            // A step computing several layers at once (1x1 convs sharing an input, fused into
            // one: "a+b+c") counts the MACs of all of them.
            var rowMACs = row?.macs ?? 0
            if row == nil, key.contains("+") {
                for part in key.split(separator: "+") {
                    rowMACs = try Checked.add(rowMACs, rowOf[String(part)]?.macs ?? 0, "profile: MACs")
                }
            }
            let macs = try Checked.mul(rowMACs, batch, "profile: MACs")
            let bytes = try Checked.mul(floats, MemoryLayout<Float>.stride, "profile: bytes")
            let seconds = ms / 1000
            nodes.append(ModelProfile.Node(
                node: key, op: fp.stepInfo[idx.first ?? 0].op, kernel: kernels.joined(separator: "+"), fused: fused,
                steps: idx.count, milliseconds: ms, share: 0, macs: macs,
                gflops: macs > 0 && seconds > 0 ? Double(macs) * 2 / seconds / 1e9 : 0,
                bytes: bytes, gbps: seconds > 0 ? Double(bytes) / seconds / 1e9 : 0))
        }
        let sum = nodes.reduce(0) { $0 + $1.milliseconds }
        if sum > 0 { for i in nodes.indices { nodes[i].share = nodes[i].milliseconds / sum } }
        return ModelProfile(modelName: name, inputShape: input.shape, threads: Threading.numThreads, runs: runs,
                            nodes: nodes, totalMilliseconds: median(totals) * 1000, nodeMilliseconds: sum)
    }

    /// The summary for the profile's input shape with "Kernel", "ms" and "Share" columns
    /// from `profile` (rows that ran inside another node's kernel, like a folded batch norm,
    /// or that run no step, like a flatten, show "-").
    public func summary(profile: ModelProfile) throws -> ModelSummary {
        var s = try ModelSummary(architecture, inputShape: profile.inputShape)
        var timings: [String: ModelSummary.Timing] = [:]
        for n in profile.nodes {
            timings[n.node] = ModelSummary.Timing(kernel: n.kernel, milliseconds: n.milliseconds, share: n.share)
            // A fused node ("a+b+c"): its time on the first layer's row, the others point at it.
            let parts = n.node.split(separator: "+").map(String.init)
            if parts.count > 1 {
                timings[parts[0]] = ModelSummary.Timing(kernel: n.kernel + " (fused)", milliseconds: n.milliseconds, share: n.share)
                for p in parts.dropFirst() where timings[p] == nil {
                    timings[p] = ModelSummary.Timing(kernel: "in " + parts[0], milliseconds: 0, share: 0)
                }
            }
        }
        s.timings = timings
        return s
    }
}
