import XCTest
@testable import SwiftCNN

/// Activations fused into the convolutions' output pass (``GEMMEpilogue/op``, the depthwise
/// kernel's `op`, ``InferencePlan/Conv/execute(_:input:residual:relu:op:output:scratch:)``) and
/// the plan's graph fusions (nested sequential nodes, concat inputs written in place, a
/// graph's result written straight into the output tensor).
///
/// Oracles: the fused result is bitwise equal to the unfused convolution followed by the
/// optimized unary step (the same vector function), and within 1e-5 · max(1, max |ref|) of
/// the reference convolution followed by the reference unary op (2e-4 for Winograd). Graphs: the compiled plan
/// against the reference kernels (``KernelDispatch/forceReference``) within 1e-4 of the
/// largest output, for batch 1 and 2 and 1 and 2 threads.
final class FusedActivationTests: XCTestCase {
    static let ops: [UnaryOp] = [.clip(min: 0, max: 6), .hardswish, .hardsigmoid(alpha: 1.0 / 6, beta: 0.5), .sigmoid, .silu,
                                 .leakyReLU(alpha: 0.1), .gelu(tanh: true), .clip(min: -0.25, max: .infinity)]

    /// Input shape, weight shape, options: one of each kernel the plan picks (GEMM with full,
    /// edge and narrow tiles, im2col 3×3, Winograd, depthwise in-place rows, 3×3 rows, flat,
    /// stride 2, 5×5, multiplier 2, GEMV, small conv, by positions, batched small maps, the
    /// direct kernel of a 3-channel stride-2 stem, Winograd F(2×2) on a 7×7 map).
    static let cases: [([Int], [Int], Conv2DOptions)] = [
        ([1, 16, 28, 28], [64, 16, 1, 1], Conv2DOptions()),
        ([1, 13, 11, 17], [37, 13, 1, 1], Conv2DOptions()),
        ([1, 7, 4, 5], [19, 7, 1, 1], Conv2DOptions()),
        ([1, 5, 5, 9], [29, 5, 1, 1], Conv2DOptions()),
        ([1, 6, 9, 13], [10, 6, 3, 3], Conv2DOptions(padding: Padding2D(1))),
        ([1, 8, 24, 24], [16, 8, 3, 3], Conv2DOptions(padding: Padding2D(1))),
        ([1, 64, 24, 24], [64, 64, 3, 3], Conv2DOptions(padding: Padding2D(1))),
        ([1, 24, 28, 28], [24, 1, 3, 3], Conv2DOptions(padding: Padding2D(1), groups: 24)),
        ([1, 16, 15, 15], [16, 1, 3, 3], Conv2DOptions(stride: Size2D(2), padding: Padding2D(1), groups: 16)),
        ([1, 10, 19, 21], [10, 1, 5, 5], Conv2DOptions(padding: Padding2D(2), groups: 10)),
        ([2, 9, 33, 35], [9, 1, 3, 3], Conv2DOptions(stride: Size2D(2), padding: Padding2D(1), groups: 9)),
        ([1, 4, 7, 7], [8, 1, 3, 3], Conv2DOptions(padding: Padding2D(1), groups: 4)),
        ([1, 24, 1, 1], [7, 24, 1, 1], Conv2DOptions()),
        ([1, 1, 20, 20], [6, 1, 5, 5], Conv2DOptions()),
        ([1, 6, 10, 10], [16, 6, 5, 5], Conv2DOptions()),
        ([3, 8, 4, 4], [12, 8, 3, 3], Conv2DOptions(padding: Padding2D(1))),
        ([1, 3, 40, 36], [32, 3, 7, 7], Conv2DOptions(stride: Size2D(2), padding: Padding2D(3))),
        ([1, 64, 7, 7], [64, 64, 3, 3], Conv2DOptions(padding: Padding2D(1))),
    ]

    func prepared(_ g: Conv2DGeometry, _ w: Tensor, _ b: Tensor?) throws -> InferencePlan.Conv {
        try w.withUnsafePointer {
            InferencePlan.Conv(packed: try PreparedConvWeights(g, weight: $0), bias: b,
                               depthwise: Optimized.depthwiseApplies(g) ? try DepthwiseConvWeights(g, weight: $0) : nil)
        }
    }

    func run(_ conv: InferencePlan.Conv, _ g: Conv2DGeometry, _ x: Tensor, residual: Tensor?, op: UnaryOp?) throws -> [Float] {
        var out = try Tensor(zeros: [g.batch, g.outChannels, g.outHeight, g.outWidth])
        try x.withUnsafePointer { xp in
            try withOptionalPointer(residual) { rp in
                try out.withUnsafeMutablePointerUnchecked { yp in
                    try conv.execute(g, input: xp, residual: rp, relu: false, op: op, output: yp, scratch: nil)
                }
            }
        }
        return out.scalars
    }

    func testFusedOutputPassMatchesSeparateStepAndReference() throws {
        let saved = Threading.numThreads
        defer { Threading.numThreads = saved }
        var r = TestRNG(41)
        var kernels = Set<String>()
        for (xs, ws, o) in Self.cases {
            let x = try r.tensor(xs, -2, 2), w = try r.tensor(ws), b = try r.tensor([ws[0]])
            let g = try Conv2DGeometry(input: x, weight: w, bias: b, options: o)
            let conv = try prepared(g, w, b)
            kernels.insert("\(conv.kernel(g))")
            let residual = try r.tensor([g.batch, g.outChannels, g.outHeight, g.outWidth])
            let plain = try withReferenceKernels { try conv2d(x, weight: w, bias: b, options: o) }.scalars
            for op in Self.ops {
                var want = [Float](repeating: 0, count: plain.count)
                var withRes = plain
                let rs = residual.scalars
                for i in withRes.indices { withRes[i] += rs[i] }
                var wantRes = want
                plain.withUnsafeBufferPointer { p in
                    want.withUnsafeMutableBufferPointer { Reference.unary(op, p.baseAddress!, $0.baseAddress!, count: p.count) }
                }
                withRes.withUnsafeBufferPointer { p in
                    wantRes.withUnsafeMutableBufferPointer { Reference.unary(op, p.baseAddress!, $0.baseAddress!, count: p.count) }
                }
                for threads in [1, 2] {
                    Threading.numThreads = threads
                    let context = "\(xs) \(ws) \(conv.kernel(g)) \(op.name) threads \(threads)"
                    for res in [nil, residual] {
                        let fused = try run(conv, g, x, residual: res, op: op)
                        var separate = try run(conv, g, x, residual: res, op: nil)
                        separate.withUnsafeMutableBufferPointer {
                            Optimized.unary(op, $0.baseAddress!, $0.baseAddress!, count: $0.count)
                        }
                        XCTAssertEqual(fused.map(\.bitPattern), separate.map(\.bitPattern), "fused != separate: \(context) residual \(res != nil)")
                        let ref = res == nil ? want : wantRes
                        let scale = max(1, ref.map { abs($0) }.max() ?? 0)
                        // Winograd's transforms round more than a direct sum (WinogradTests).
                        let tolerance: Float = conv.kernel(g) == .winograd || conv.kernel(g) == .winogradF2 ? 2e-4 : 1e-5
                        XCTAssertLessThanOrEqual(maxDiff(fused, ref) / scale, tolerance, "vs reference: \(context) residual \(res != nil)")
                    }
                }
            }
        }
        XCTAssertEqual(kernels, ["gemm", "winograd", "winogradF2", "depthwise", "gemv", "small", "byPositions", "direct"],
                       "the cases cover every kernel")
    }

    /// Random batch-norm statistics and affine parameters, so that folding matters.
    func randomizeBatchNorms(_ m: inout Model, _ r: inout TestRNG) throws {
        for spec in m.parameterSpecs where spec.name.hasSuffix("running_var") || spec.name.hasSuffix("running_mean")
            || (spec.name.contains("bn") && (spec.name.hasSuffix("weight") || spec.name.hasSuffix("bias"))) {
            let lo: Float = spec.name.hasSuffix("running_var") ? 0.5 : -0.5
            try m.setParameter(spec.name, try r.tensor(spec.shape, lo, 1.5))
        }
    }

    func node(_ name: String, _ op: String, _ inputs: [String], _ attrs: String = "{}") -> String {
        "{\"name\": \"\(name)\", \"op\": \"\(op)\", \"inputs\": [\(inputs.map { "\"\($0)\"" }.joined(separator: ", "))], \"attrs\": \(attrs)}"
    }

    func graph(_ name: String, _ shape: [Int], _ nodes: [String], output: String) -> String {
        """
        {"version": 1, "name": "\(name)", "input_shape": \(shape), "network": {"op": "graph", "name": "", "graph": {
          "inputs": ["input"], "nodes": [\(nodes.joined(separator: ",\n"))], "outputs": ["\(output)"]}}}
        """
    }

    func conv(_ cin: Int, _ cout: Int, _ k: Int, stride: Int = 1, groups: Int = 1, bias: Bool = false) -> String {
        "{\"in_channels\": \(cin), \"out_channels\": \(cout), \"kernel_shape\": [\(k), \(k)], \"strides\": [\(stride), \(stride)], \"pads\": [\(k / 2), \(k / 2), \(k / 2), \(k / 2)], \"group\": \(groups), \"bias\": \(bias)}"
    }

    /// MobileNet v3 / EfficientNet blocks as flat graphs: every activation fused, the SE's
    /// gate into its GEMV, the residual add into the projection; a fire module and a
    /// ShuffleNet unit: concat inputs written in place, the result straight into the output.
    func graphs() -> [(name: String, json: String, shape: [Int])] {
        func mb(_ name: String, act: String, gate: String, c: Int, e: Int, k: Int, sq: Int, hw: Int) -> (String, String, [Int]) {
            let nodes = [
                node("ex", "conv2d", ["input"], conv(c, e, 1)), node("ex_bn", "batch_norm2d", ["ex"], "{\"num_features\": \(e)}"),
                node("ex_act", act, ["ex_bn"]),
                node("dw", "conv2d", ["ex_act"], conv(e, e, k, groups: e)), node("dw_bn", "batch_norm2d", ["dw"], "{\"num_features\": \(e)}"),
                node("dw_act", act, ["dw_bn"]),
                node("pool", "adaptive_avg_pool2d", ["dw_act"], "{\"output_size\": [1, 1]}"),
                node("fc1", "conv2d", ["pool"], conv(e, sq, 1, bias: true)), node("fc1_act", act == "silu" ? "silu" : "relu", ["fc1"]),
                node("fc2", "conv2d", ["fc1_act"], conv(sq, e, 1, bias: true)), node("gate", gate, ["fc2"]),
                node("scale", "mul", ["dw_act", "gate"]),
                node("pr", "conv2d", ["scale"], conv(e, c, 1)), node("pr_bn", "batch_norm2d", ["pr"], "{\"num_features\": \(c)}"),
                node("sum", "add", ["input", "pr_bn"]),
            ]
            return (name, graph(name, [c, hw, hw], nodes, output: "sum"), [c, hw, hw])
        }
        let relu6 = "clip"
        // The same inverted residual with its convolutions inside sequential nodes.
        let seq = graph("seq", [8, 9, 9], [
            "{\"name\": \"body\", \"op\": \"sequential\", \"inputs\": [\"input\"], \"children\": [" + [
                "{\"name\": \"0\", \"op\": \"conv2d\", \"attrs\": \(conv(8, 24, 1))}",
                "{\"name\": \"1\", \"op\": \"batch_norm2d\", \"attrs\": {\"num_features\": 24}}",
                "{\"name\": \"2\", \"op\": \"\(relu6)\", \"attrs\": {\"min\": 0, \"max\": 6}}",
                "{\"name\": \"3\", \"op\": \"conv2d\", \"attrs\": \(conv(24, 24, 3, groups: 24))}",
                "{\"name\": \"4\", \"op\": \"batch_norm2d\", \"attrs\": {\"num_features\": 24}}",
                "{\"name\": \"5\", \"op\": \"hardswish\"}",
                "{\"name\": \"6\", \"op\": \"conv2d\", \"attrs\": \(conv(24, 8, 1))}",
                "{\"name\": \"7\", \"op\": \"batch_norm2d\", \"attrs\": {\"num_features\": 8}}",
            ].joined(separator: ", ") + "]}",
            node("sum", "add", ["input", "body"]),
        ], output: "sum")
        let fire = graph("fire", [12, 13, 11], [
            node("sq", "conv2d", ["input"], conv(12, 5, 1, bias: true)), node("sq_act", "relu", ["sq"]),
            node("e1", "conv2d", ["sq_act"], conv(5, 7, 1, bias: true)), node("e1_act", "relu", ["e1"]),
            node("e3", "conv2d", ["sq_act"], conv(5, 9, 3, bias: true)), node("e3_act", "relu", ["e3"]),
            node("cat", "concat", ["e1_act", "e3_act"], "{\"axis\": 1}"),
        ], output: "cat")
        let shuffle = graph("shuffle", [10, 7, 9], [
            node("split", "split", ["input"], "{\"axis\": 1, \"split\": [5, 5]}"),
            node("b1", "conv2d", ["split:1"], conv(5, 5, 1)), node("b1_bn", "batch_norm2d", ["b1"], "{\"num_features\": 5}"),
            node("b1_act", "relu", ["b1_bn"]),
            node("b2", "conv2d", ["b1_act"], conv(5, 5, 3, groups: 5)), node("b2_bn", "batch_norm2d", ["b2"], "{\"num_features\": 5}"),
            node("b3", "conv2d", ["b2_bn"], conv(5, 5, 1)), node("b3_bn", "batch_norm2d", ["b3"], "{\"num_features\": 5}"),
            node("b3_act", "relu", ["b3_bn"]),
            node("cat", "concat", ["split:0", "b3_act"], "{\"axis\": 1}"),
            node("r1", "reshape", ["cat"], "{\"shape\": [2, 5, 63]}"),
            node("t", "transpose", ["r1"], "{\"perm\": [0, 2, 1, 3]}"),
            node("r2", "reshape", ["t"], "{\"shape\": [10, 7, 9]}"),
        ], output: "r2")
        // The same input twice in one concat, and a concat input read by another node too.
        let twice = graph("twice", [4, 6, 5], [
            node("a", "conv2d", ["input"], conv(4, 3, 1)), node("a_act", "hardswish", ["a"]),
            node("cat", "concat", ["a_act", "a_act", "input"], "{\"axis\": 1}"),
            node("b", "conv2d", ["a_act"], conv(3, 10, 1)),
            node("sum", "add", ["cat", "b"]),
        ], output: "sum")
        return [mb("mbv3", act: "hardswish", gate: "hardsigmoid", c: 8, e: 24, k: 5, sq: 8, hw: 11),
                mb("effnet", act: "silu", gate: "sigmoid", c: 6, e: 18, k: 3, sq: 3, hw: 17),
                mb("mbv3_relu", act: "relu", gate: "hardsigmoid", c: 16, e: 40, k: 3, sq: 10, hw: 28),
                ("seq", seq, [8, 9, 9]), ("fire", fire, [12, 13, 11]), ("shuffle", shuffle, [10, 7, 9]), ("twice", twice, [4, 6, 5])]
    }

    func testGraphFusionsMatchReference() throws {
        let saved = Threading.numThreads
        defer { Threading.numThreads = saved }
        var r = TestRNG(7)
        for (name, json, shape) in graphs() {
            var m = try Model.fromJSON(json)
            try randomizeBatchNorms(&m, &r)
            for batch in [1, 2] {
                let x = try r.tensor([batch] + shape)
                let want = try withReferenceKernels { try m.forward(x) }
                for threads in [1, 2] {
                    Threading.numThreads = threads
                    let got = try m.forward(x)
                    XCTAssertEqual(got.shape, want.shape, name)
                    let scale = max(1, want.scalars.map { abs($0) }.max() ?? 0)
                    XCTAssertLessThanOrEqual(maxDiff(got.scalars, want.scalars) / scale, 1e-4, "\(name) batch \(batch) threads \(threads)")
                    // The tensor-by-tensor planned path agrees too.
                    let tensorPath = try m.runPlanned(m.architecture.root, path: "", x)
                    XCTAssertLessThanOrEqual(maxDiff(tensorPath.scalars, want.scalars) / scale, 1e-4, "\(name) tensor path")
                }
            }
            // Batch 1: what the plan fused.
            let plan = try m.forwardPlan(for: [1] + shape)
            var unary = 0, concatParts = 0, copies = 0, residualConvs = 0, adds = 0
            for step in plan.steps {
                switch step {
                case .unary: unary += 1
                case .concatPart: concatParts += 1
                case .copy: copies += 1
                case .conv(_, _, _, _, let res, _, _, _): if res != nil { residualConvs += 1 }
                case .binary(.add, _, _, _, _), .addReLU: adds += 1
                default: break
                }
            }
            XCTAssertEqual(unary, 0, "\(name): every activation follows a conv and is fused")
            XCTAssertEqual(copies, 0, "\(name): the result is written in place")
            switch name {
            case "fire", "shuffle": XCTAssertEqual(concatParts, 0, "\(name): concat inputs written in place")
            case "twice": XCTAssertEqual(concatParts, 2, "\(name): the repeated input and the graph input are copied")
            default:
                XCTAssertEqual(residualConvs, 1, "\(name): the residual add is fused into the projection")
                XCTAssertEqual(adds, 0, name)
            }
        }
    }
}
