// Named intermediate outputs: any node's output, at any depth, by its path — "layer3",
// "features.4", "layer1.0.bn1", a graph node's name, or "node:k" for output k of a node with
// several outputs. What torch's forward hooks give.

/// Collects the outputs a forward was asked for.
final class OutputCapture {
    let wanted: Set<String>
    private(set) var values: [String: Tensor] = [:]

    init(_ wanted: Set<String>) { self.wanted = wanted }

    /// Keeps `y` when `path` was asked for (the first time only: a path names one node).
    func offer(_ path: String, _ y: Tensor) {
        if wanted.contains(path), values[path] == nil { values[path] = y }
    }

    /// Paths whose input (rather than output) is wanted, and those inputs (Model.embed).
    var wantedInputs: Set<String> = []
    private(set) var inputs: [String: Tensor] = [:]

    /// Keeps `x`, the input of the node at `path`, when it was asked for (the first time only).
    func offerInput(_ path: String, _ x: Tensor) {
        if wantedInputs.contains(path), inputs[path] == nil { inputs[path] = x }
    }
}

extension Layer {
    /// Every output name a forward can return under `prefix`: each node's path, and
    /// `path:k` for the outputs of nodes with several.
    func outputNames(prefix: String, into names: inout [String]) {
        func child(_ n: NamedLayer) {
            let p = Layer.join(prefix, n.name)
            if !n.name.isEmpty { names.append(p) }
            n.layer.outputNames(prefix: p, into: &names)
        }
        switch self {
        case .sequential(let children), .concat(let children):
            children.forEach(child)
        case .residual(let body, let shortcut):
            body.forEach(child)
            if let s = shortcut { child(s) }
        case .graph(let g):
            for node in g.nodes {
                let p = Layer.join(prefix, node.name)
                names.append(p)
                if node.layer.outputCount > 1 {
                    for k in 0..<node.layer.outputCount { names.append("\(p):\(k)") }
                }
                node.layer.outputNames(prefix: p, into: &names)
            }
        default:
            break
        }
    }
}

extension Architecture {
    /// Every name ``Model/forward(_:outputs:)`` accepts, in the network's order.
    public var outputNames: [String] {
        var names: [String] = []
        root.outputNames(prefix: "", into: &names)
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }
}

extension Model {
    /// The outputs of the named nodes for a batch (in inference mode), keyed by name, plus
    /// the model's output under "" when `includeOutput`. Names are node paths as
    /// ``Architecture/outputNames`` lists them ("layer3", "features.4", "stem", "split:1");
    /// an unknown name is an error that lists a few known ones. Runs the op-by-op forward
    /// (not the compiled plan), so every intermediate value exists.
    public func forward(_ input: Tensor, outputs: [String], includeOutput: Bool = false) throws -> [String: Tensor] {
        let known = Set(architecture.outputNames)
        for n in outputs where !known.contains(n) {
            let some = architecture.outputNames.prefix(8).map { "\"\($0)\"" }.joined(separator: ", ")
            throw SwiftCNNError.invalidArgument(
                "\(name): no node named \(Graph.describe(n)); names are paths of nodes, e.g. \(some)")
        }
        _ = try architecture.outputShape(forInput: input.shape)
        let capture = OutputCapture(Set(outputs))
        let y = try run(architecture.root, path: "", input, capture: capture)
        var result = capture.values
        for n in outputs where result[n] == nil {
            throw SwiftCNNError(.internal, "\(name): node \"\(n)\" was not reached")
        }
        if includeOutput { result[""] = y }
        return result
    }
}
