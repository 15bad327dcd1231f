// Graphs: directed acyclic graphs of named nodes, one more kind of ``Layer`` container.
//
// A network is a tree of layers (``Layer``): leaves are ops, containers are `sequential`,
// `residual`, `branches` (the zoo's Inception blocks) and `graph`. A graph's nodes name
// their inputs, so it expresses any DAG: skip connections, squeeze-excitation products,
// splits and concatenations, several inputs and outputs. Nodes of a graph may themselves
// be containers (a torchvision stage as one `sequential` node), so a module hierarchy keeps
// its names — parameter names are the node-name path joined with ".", the way torch's
// state_dict names them — and the engine's walkers (shape inference, the reference forward,
// the recording forward and backward, the compiled plan, JSON) handle one more container.
//
// Values: a node's output takes the node's name; an op with several outputs (split, a
// nested graph) names them `name:0`, `name:1`, …, with `name` meaning `name:0`.

/// One node of a ``Graph``: a named layer and the values it reads.
public struct GraphNode: Equatable, Sendable {
    /// Unique within the graph; no ":".
    public var name: String
    /// The op (or a nested container).
    public var layer: Layer
    /// The values it reads: graph inputs or other nodes' outputs.
    public var inputs: [String]

    /// A node.
    public init(_ name: String, _ layer: Layer, inputs: [String]) {
        self.name = name
        self.layer = layer
        self.inputs = inputs
    }
}

/// A directed acyclic graph of named nodes with named inputs and outputs. Validated when
/// made: unique names, known values, the ops' input counts, no cycle — errors name the
/// node. Nodes may be given in any order; ``order`` is a topological order.
public struct Graph: Equatable, Sendable {
    /// The graph's input values.
    public let inputs: [String]
    /// The nodes, as given.
    public let nodes: [GraphNode]
    /// The graph's output values.
    public let outputs: [String]
    /// Indices into ``nodes`` in a topological order (stable: given order where possible).
    public let order: [Int]
    /// Per node (by index): for each input, the producing node index and output number, or
    /// (−1, i) for the graph's input i.
    let sources: [[ValueRef]]
    /// Per graph output: where it comes from.
    let outputSources: [ValueRef]

    /// A value: output `output` of node `node`, or graph input `output` when node is −1.
    struct ValueRef: Equatable, Sendable, Hashable {
        var node: Int
        var output: Int
    }

    /// A validated graph; see the type's documentation for the errors.
    public init(inputs: [String], nodes: [GraphNode], outputs: [String], context: String = "graph") throws {
        func fail(_ m: String) -> SwiftCNNError { .invalidArgument("\(context): \(m)") }
        guard !inputs.isEmpty else { throw fail("a graph needs at least one input") }
        guard !outputs.isEmpty else { throw fail("a graph needs at least one output") }
        var inputIndex: [String: Int] = [:]
        for (i, n) in inputs.enumerated() {
            guard Graph.isValidName(n) else { throw fail("input \(i): \(Graph.describe(n)) is not a valid name (non-empty, no \":\")") }
            guard inputIndex[n] == nil else { throw fail("input \"\(n)\" is given twice") }
            inputIndex[n] = i
        }
        var nodeIndex: [String: Int] = [:]
        for (i, node) in nodes.enumerated() {
            guard Graph.isValidName(node.name) else {
                throw fail("node \(i): \(Graph.describe(node.name)) is not a valid name (non-empty, no \":\")")
            }
            guard nodeIndex[node.name] == nil, inputIndex[node.name] == nil else {
                throw fail("node \"\(node.name)\": the name is used twice")
            }
            nodeIndex[node.name] = i
        }
        func resolve(_ value: String, _ user: String) throws -> ValueRef {
            if let i = inputIndex[value] { return ValueRef(node: -1, output: i) }
            var name = value
            var k = 0
            if let colon = value.lastIndex(of: ":") {
                name = String(value[..<colon])
                guard let n = Int(value[value.index(after: colon)...]), n >= 0, String(n) == value[value.index(after: colon)...] else {
                    throw fail("\(user): \(Graph.describe(value)) is not a value (name or name:k)")
                }
                k = n
            }
            guard let i = nodeIndex[name] else {
                throw fail("\(user): no node or input named \(Graph.describe(name))")
            }
            let count = nodes[i].layer.outputCount
            guard k < count else {
                throw fail("\(user): node \"\(name)\" has \(count) output\(count == 1 ? "" : "s"); \(Graph.describe(value)) does not exist")
            }
            return ValueRef(node: i, output: k)
        }
        var sources: [[ValueRef]] = []
        sources.reserveCapacity(nodes.count)
        for node in nodes {
            let label = "node \"\(node.name)\""
            if let expected = node.layer.inputCount {
                guard node.inputs.count == expected else {
                    throw fail("\(label) (\(node.layer.typeName)) takes \(expected) input\(expected == 1 ? "" : "s"); got \(node.inputs.count)")
                }
            } else if node.inputs.isEmpty {
                throw fail("\(label) (\(node.layer.typeName)) needs at least one input")
            }
            sources.append(try node.inputs.map { try resolve($0, label) })
        }
        let outputSources = try outputs.map { try resolve($0, "output") }
        // Kahn's algorithm, taking the lowest index first so that a graph given in order
        // keeps it.
        var indegree = [Int](repeating: 0, count: nodes.count)
        var consumers = [[Int]](repeating: [], count: nodes.count)
        for (i, refs) in sources.enumerated() {
            for r in refs where r.node >= 0 {
                indegree[i] += 1
                consumers[r.node].append(i)
            }
        }
        var ready = (0..<nodes.count).filter { indegree[$0] == 0 }.reversed() as [Int]
        var order: [Int] = []
        order.reserveCapacity(nodes.count)
        while let i = ready.popLast() {
            order.append(i)
            var added = false
            for c in consumers[i] {
                indegree[c] -= 1
                if indegree[c] == 0 { ready.append(c); added = true }
            }
            if added { ready.sort(by: >) }
        }
        guard order.count == nodes.count else {
            let stuck = (0..<nodes.count).filter { indegree[$0] > 0 }.map { "\"\(nodes[$0].name)\"" }
            throw fail("the graph has a cycle through node\(stuck.count == 1 ? "" : "s") \(stuck.prefix(5).joined(separator: ", "))")
        }
        self.inputs = inputs
        self.nodes = nodes
        self.outputs = outputs
        self.order = order
        self.sources = sources
        self.outputSources = outputSources
    }

    /// This graph with only `outputs` (a subset of ``outputs``) and the nodes they depend on.
    public func pruned(keeping kept: [String]) throws -> Graph {
        var needed = [Bool](repeating: false, count: nodes.count)
        var stack: [Int] = []
        for o in kept {
            guard let k = outputs.firstIndex(of: o) else {
                throw SwiftCNNError.invalidArgument("graph: \(Graph.describe(o)) is not an output")
            }
            if outputSources[k].node >= 0 { stack.append(outputSources[k].node) }
        }
        while let i = stack.popLast() {
            guard !needed[i] else { continue }
            needed[i] = true
            for r in sources[i] where r.node >= 0 && !needed[r.node] { stack.append(r.node) }
        }
        return try Graph(inputs: inputs, nodes: nodes.indices.filter { needed[$0] }.map { nodes[$0] }, outputs: kept)
    }

    /// Names are non-empty and contain no ":" (which separates output numbers).
    static func isValidName(_ s: String) -> Bool { !s.isEmpty && !s.contains(":") }

    /// A name quoted for messages, shortened when long.
    static func describe(_ s: String) -> String {
        let shown = s.count > 80 ? String(s.prefix(80)) + "…" : s
        return "\"\(shown)\""
    }

    /// The value name of output `k` of `node`.
    static func valueName(_ node: String, _ k: Int, count: Int) -> String {
        count == 1 ? node : "\(node):\(k)"
    }

    /// Node indices that read each node's outputs (for fusion decisions).
    var consumerCounts: [Int] {
        var c = [Int](repeating: 0, count: nodes.count)
        for refs in sources { for r in refs where r.node >= 0 { c[r.node] += 1 } }
        for r in outputSources where r.node >= 0 { c[r.node] += 1 }
        return c
    }
}

extension Layer {
    /// How many inputs the layer takes; nil for any number from 1 (concatenation).
    var inputCount: Int? {
        switch self {
        case .binary, .upsampleLike: return 2
        case .constant: return 0
        case .concatInputs: return nil
        case .graph(let g): return g.inputs.count
        default: return 1
        }
    }

    /// Whether the layer is a graph.
    var isGraph: Bool {
        if case .graph = self { return true }
        return false
    }

    /// How many outputs the layer gives.
    var outputCount: Int {
        switch self {
        case .split(_, let sizes): return max(sizes.count, 1)
        case .graph(let g): return g.outputs.count
        default: return 1
        }
    }
}

extension UnaryOp {
    /// The PyTorch-like type name shown in summaries.
    var typeName: String {
        switch self {
        case .sigmoid: return "Sigmoid"
        case .silu: return "SiLU"
        case .hardswish: return "Hardswish"
        case .hardsigmoid: return "Hardsigmoid"
        case .clip(let lo, let hi): return lo == 0 && hi == 6 ? "ReLU6" : "Clip"
        case .leakyReLU: return "LeakyReLU"
        case .gelu: return "GELU"
        case .erf: return "Erf"
        case .sqrt: return "Sqrt"
        case .exp: return "Exp"
        case .log: return "Log"
        case .neg: return "Neg"
        case .abs: return "Abs"
        case .reciprocal: return "Reciprocal"
        }
    }
}

// MARK: - Shape inference over graphs

extension ShapeWalker {
    /// An axis of a per-example shape of rank `rank`, counted with the batch axis (so 1 is
    /// the first per-example axis; negative counts from the end); the batch axis is refused
    /// unless `allowBatch`. Returns the index with the batch axis (1...rank, or 0).
    static func axis(_ a: Int, rank: Int, _ label: String, allowBatch: Bool = false) throws -> Int {
        let full = rank + 1
        let i = a < 0 ? a + full : a
        guard i >= (allowBatch ? 0 : 1), i < full else {
            throw SwiftCNNError.invalidArgument(
                "\(label): axis \(a) is out of range for a tensor of rank \(full)\(allowBatch ? "" : " (the batch axis 0 cannot be used)")")
        }
        return i
    }

    /// A slice layer resolved against a per-example `shape`: one ``SliceAxis`` per axis of
    /// [batch] + shape (the first, the batch's, untouched). Axes count the batch axis, which
    /// cannot be sliced; nil axes are 1, 2, …, starts.count.
    static func sliceAxes(_ shape: [Int], starts: [Int], ends: [Int], axes: [Int]?, steps: [Int]?, _ label: String) throws -> [SliceAxis] {
        let resolvedAxes = try Model.sliceAxes(starts, axes).map { try ShapeWalker.axis($0, rank: shape.count, label) }
        return try resolveSlice([1] + shape, starts: starts, ends: ends, axes: resolvedAxes, steps: steps, label)
    }

    /// A gather layer's per-example output shape for a per-example `shape` (the axis counts
    /// the batch axis, which cannot be used; the result keeps at least one axis per example).
    static func gatherShape(_ shape: [Int], axis: Int, indices: [Int], indicesShape: [Int], _ label: String) throws -> [Int] {
        let a = try ShapeWalker.axis(axis, rank: shape.count, label)
        let r = try resolveGather([1] + shape, axis: a, indices: indices, indicesShape: indicesShape, label)
        guard r.output.count >= 2 else {
            throw SwiftCNNError.invalidArgument(
                "\(label): gathering one index from \(Tensor.describe(shape)) per example would leave no axis but the batch's; use indices_shape [1]")
        }
        return Array(r.output.dropFirst())
    }

    /// Fails unless `shape` is a constant's per-example shape: rank 1 to 3, sizes at least 1,
    /// a count that fits.
    static func checkConstantShape(_ shape: [Int], _ label: String) throws {
        guard (1...(Tensor.maxRank - 1)).contains(shape.count), shape.allSatisfy({ $0 >= 1 }) else {
            throw SwiftCNNError.invalidArgument(
                "\(label): a constant's shape (per example) must have 1 to \(Tensor.maxRank - 1) sizes, each at least 1; got \(shape)")
        }
        _ = try Checked.product(shape, "\(label): constant size")
    }

    /// `shape` reshaped to `target` (per example; one −1 is inferred).
    static func reshaped(_ shape: [Int], to target: [Int], _ label: String) throws -> [Int] {
        let count = try Checked.product(shape, "\(label): element count")
        guard !target.isEmpty, target.filter({ $0 == -1 }).count <= 1, target.allSatisfy({ $0 == -1 || $0 >= 1 }) else {
            throw SwiftCNNError.invalidArgument(
                "\(label): reshape target \(target) must be positive sizes with at most one -1")
        }
        let known = try Checked.product(target.filter { $0 != -1 }, "\(label): reshape target size")
        var out = target
        if let i = target.firstIndex(of: -1) {
            guard known > 0, count % known == 0 else {
                throw SwiftCNNError.shapeMismatch("\(label): cannot reshape \(Tensor.describe(shape)) (\(count) values) to \(target)")
            }
            out[i] = count / known
        } else if known != count {
            throw SwiftCNNError.shapeMismatch("\(label): cannot reshape \(Tensor.describe(shape)) (\(count) values) to \(target)")
        }
        return out
    }

    /// Shape inference for a layer with any number of inputs and outputs: graph nodes
    /// (binary ops, concatenation, split, nested graphs) and, through ``walk``, every
    /// single-input layer.
    mutating func walkNode(_ layer: Layer, name: String, _ inputs: [FlowState]) throws -> [FlowState] {
        let label = name.isEmpty ? layer.typeName : name
        func record(_ out: FlowState) {
            if recordRows { rows.append(FlowRow(name: label, type: layer.typeName, shape: out.shape, params: 0, macs: 0, rf: out.rf)) }
        }
        switch layer {
        case .binary(let op):
            guard inputs.count == 2 else {
                throw SwiftCNNError.invalidArgument("\(label): \(op.rawValue) takes 2 inputs; got \(inputs.count) (use it as a graph node)")
            }
            let (a, b) = (inputs[0], inputs[1])
            guard a.shape.count == b.shape.count else {
                throw SwiftCNNError.shapeMismatch(
                    "\(label): \(op.rawValue) of \(Tensor.describe(a.shape)) and \(Tensor.describe(b.shape)): both operands carry the batch axis, so their ranks must be equal")
            }
            let shape: [Int]
            do {
                shape = try broadcastShape(a.shape, b.shape)
            } catch let e as SwiftCNNError {
                throw SwiftCNNError(e.kind, "\(label): \(e.message)")
            }
            let full = shape == a.shape ? a : b
            let out = FlowState(shape: shape, rf: ShapeWalker.maxRF(a.rf, b.rf), jump: full.jump)
            record(out)
            return [out]
        case .upsampleLike:
            guard inputs.count == 2 else {
                throw SwiftCNNError.invalidArgument("\(label): upsample_like takes 2 inputs (x, reference); got \(inputs.count) (use it as a graph node)")
            }
            let (x, ref) = (inputs[0], inputs[1])
            guard x.shape.count == 3, ref.shape.count == 3 else {
                throw SwiftCNNError.shapeMismatch(
                    "\(label): upsample_like resizes an image [C, H, W] to the size of another; got \(Tensor.describe(x.shape)) and \(Tensor.describe(ref.shape))")
            }
            var out = x
            out.shape = [x.shape[0], ref.shape[1], ref.shape[2]]
            _ = try Checked.product(out.shape, "\(label): output size")
            record(out)
            return [out]
        case .constant(let shape):
            guard inputs.isEmpty else {
                throw SwiftCNNError.invalidArgument("\(label): constant takes no inputs; got \(inputs.count) (use it as a graph node with \"inputs\": [])")
            }
            try ShapeWalker.checkConstantShape(shape, label)
            // It sees no input pixel: a receptive field of 0 leaves its consumers' alone.
            let out = FlowState(shape: shape, rf: Size2D(0), jump: Size2D(1))
            if recordRows {
                rows.append(FlowRow(name: label, type: layer.typeName, shape: shape, params: try Checked.product(shape), macs: 0, rf: out.rf))
            }
            return [out]
        case .concatInputs(let axis):
            guard let first = inputs.first else { throw SwiftCNNError.invalidArgument("\(label): concat needs an input") }
            let i = try ShapeWalker.axis(axis, rank: first.shape.count, label) - 1
            var size = 0
            var rf: Size2D? = first.rf
            for (k, x) in inputs.enumerated() {
                guard x.shape.count == first.shape.count,
                      zip(x.shape, first.shape).enumerated().allSatisfy({ $0.offset == i || $0.element.0 == $0.element.1 }) else {
                    throw SwiftCNNError.shapeMismatch(
                        "\(label): input \(k) has shape \(Tensor.describe(x.shape)), which cannot be concatenated with \(Tensor.describe(first.shape)) along axis \(axis)")
                }
                size = try Checked.add(size, x.shape[i])
                rf = ShapeWalker.maxRF(rf, x.rf)
            }
            var shape = first.shape
            shape[i] = size
            let out = FlowState(shape: shape, rf: rf, jump: first.jump)
            record(out)
            return [out]
        case .split(let axis, let sizes):
            guard inputs.count == 1 else { throw SwiftCNNError.invalidArgument("\(label): split takes 1 input; got \(inputs.count)") }
            let x = inputs[0]
            let i = try ShapeWalker.axis(axis, rank: x.shape.count, label) - 1
            guard !sizes.isEmpty, sizes.allSatisfy({ $0 >= 1 }) else {
                throw SwiftCNNError.invalidArgument("\(label): split sizes must be positive; got \(sizes)")
            }
            var total = 0
            for s in sizes { total = try Checked.add(total, s) }
            guard total == x.shape[i] else {
                throw SwiftCNNError.shapeMismatch("\(label): split sizes \(sizes) add up to \(total), not the axis length \(x.shape[i])")
            }
            let outs = sizes.map { s -> FlowState in
                var o = x
                o.shape[i] = s
                return o
            }
            if recordRows {
                rows.append(FlowRow(name: label, type: "Split", shape: outs[0].shape, params: 0, macs: 0, rf: x.rf))
            }
            return outs
        case .graph(let g):
            guard inputs.count == g.inputs.count else {
                throw SwiftCNNError.invalidArgument("\(label): the graph takes \(g.inputs.count) input(s); got \(inputs.count)")
            }
            var values: [[FlowState]] = Array(repeating: [], count: g.nodes.count)
            func state(_ r: Graph.ValueRef) -> FlowState { r.node < 0 ? inputs[r.output] : values[r.node][r.output] }
            for i in g.order {
                let node = g.nodes[i]
                let ins = g.sources[i].map(state)
                let path = Layer.join(name, node.name)
                let outs: [FlowState]
                do {
                    outs = try walkNode(node.layer, name: path, ins)
                } catch let e as SwiftCNNError where !e.message.contains(path) {
                    throw SwiftCNNError(e.kind, "\(path): \(e.message)")
                }
                guard outs.count == node.layer.outputCount else {
                    throw SwiftCNNError(.internal, "\(path): \(outs.count) outputs, expected \(node.layer.outputCount)")
                }
                values[i] = outs
            }
            return g.outputSources.map(state)
        default:
            guard inputs.count == 1 else {
                throw SwiftCNNError.invalidArgument("\(label): \(layer.typeName) takes 1 input; got \(inputs.count)")
            }
            return [try walk(layer, name: name, inputs[0])]
        }
    }
}
