// Lowering a layer tree to one flat graph.
//
// Containers (sequential, residual, branches, nested graphs) become graph nodes whose names
// are the leaves' full paths ("layer1.0.conv1"), so every parameter keeps its name; a
// residual block becomes its body, its shortcut, an `add` node ("<block>.add") and a ReLU
// ("<block>.out"); a branches block becomes its branches and a `concat` ("<block>.cat").
// Parameter-free leaves that share a name (torchvision's one `relu` module used three
// times in a bottleneck) get a suffix "~1", "~2", … The lowered network computes the same
// function with the same parameters: the ONNX exporter writes this form, and the compiled
// plan fuses it like the tree (conv + batch norm + ReLU, the residual add in the last conv).

extension Architecture {
    /// The same network as one flat graph (see the file comment).
    public func lowered() throws -> Architecture {
        var l = Lowerer()
        let out = try l.lower(root, path: "", input: "input")
        let graph = try Graph(inputs: ["input"], nodes: l.nodes, outputs: [out], context: "\(name): lowered graph")
        return try Architecture(name: name, inputShape: inputShape, acceptsAnyInputSize: acceptsAnyInputSize, root: .graph(graph))
    }
}

/// Builds the flat node list.
struct Lowerer {
    var nodes: [GraphNode] = []
    var used = Set<String>()

    /// A unique node name for `path` (suffixed when taken).
    mutating func unique(_ path: String) -> String {
        let base = path.isEmpty ? "node" : path
        var name = base
        var k = 1
        while used.contains(name) {
            name = "\(base)~\(k)"
            k += 1
        }
        used.insert(name)
        return name
    }

    mutating func add(_ path: String, _ layer: Layer, _ inputs: [String]) -> String {
        let name = unique(path)
        nodes.append(GraphNode(name, layer, inputs: inputs))
        return name
    }

    /// Lowers `layer` at `path` reading value `input`; returns its output value.
    mutating func lower(_ layer: Layer, path: String, input: String) throws -> String {
        switch layer {
        case .sequential(let children):
            var x = input
            for c in children { x = try lower(c.layer, path: Layer.join(path, c.name), input: x) }
            return x
        case .residual(let body, let shortcut):
            var y = input
            for c in body { y = try lower(c.layer, path: Layer.join(path, c.name), input: y) }
            let s = try shortcut.map { try lower($0.layer, path: Layer.join(path, $0.name), input: input) } ?? input
            let sum = add(Layer.join(path, "add"), .binary(.add), [y, s])
            return add(Layer.join(path, "out"), .relu, [sum])
        case .concat(let branches):
            var outs: [String] = []
            for b in branches { outs.append(try lower(b.layer, path: Layer.join(path, b.name), input: input)) }
            return add(Layer.join(path, "cat"), .concatInputs(axis: 1), outs)
        case .graph(let g) where g.inputs.count == 1 && g.outputs.count == 1:
            // Inline: the inner graph's nodes under this path.
            var names: [String: String] = [g.inputs[0]: input]
            func mapped(_ v: String) -> String {
                if let m = names[v] { return m }
                if let colon = v.lastIndex(of: ":"), let m = names[String(v[..<colon])] {
                    return m + String(v[colon...])
                }
                return v
            }
            for i in g.order {
                let node = g.nodes[i]
                let nodePath = Layer.join(path, node.name)
                let ins = node.inputs.map(mapped)
                if node.layer.inputCount == 1 && node.layer.outputCount == 1 {
                    names[node.name] = try lower(node.layer, path: nodePath, input: ins[0])
                } else {
                    let name = add(nodePath, node.layer, ins)
                    // A constant's parameter is named by its path: it must keep it.
                    if name != nodePath && node.layer.hasParameters {
                        throw SwiftCNNError.invalidArgument("\(nodePath): two nodes with parameters share this name")
                    }
                    names[node.name] = name
                }
            }
            return mapped(g.outputs[0])
        default:
            if layer.inputCount != 1 || layer.outputCount != 1 {
                return add(path, layer, [input])
            }
            let name = unique(path)
            // A leaf with parameters keeps its exact path (its parameters' prefix).
            if name != path && layer.hasParameters {
                throw SwiftCNNError.invalidArgument("\(path): two nodes with parameters share this name")
            }
            nodes.append(GraphNode(name, layer, inputs: [input]))
            return name
        }
    }
}

extension Layer {
    /// Whether the layer (or anything inside it) has parameters or constants.
    var hasParameters: Bool {
        !parameterSpecs(prefix: "").isEmpty || !constantSpecs(prefix: "").isEmpty
    }
}
