// Embeddings: a network's features for retrieval (Tasks/Retrieval.swift), taken from any node
// by the named-output forward (Graph/NamedOutputs.swift).

extension Layer {
    /// The path of the last linear layer under `prefix`, in the network's order (the order
    /// ``Architecture/outputNames`` lists), or nil.
    func lastLinearPath(prefix: String) -> String? {
        var found: String? = nil
        func visit(_ layer: Layer, _ path: String) {
            switch layer {
            case .linear:
                found = path
            case .sequential(let children), .concat(let children):
                for c in children { visit(c.layer, Layer.join(path, c.name)) }
            case .residual(let body, let shortcut):
                for c in body { visit(c.layer, Layer.join(path, c.name)) }
                if let s = shortcut { visit(s.layer, Layer.join(path, s.name)) }
            case .graph(let g):
                for node in g.nodes { visit(node.layer, Layer.join(path, node.name)) }
            default:
                break
            }
        }
        visit(self, prefix)
        return found
    }
}

extension Model {
    /// The layer whose input ``embed(_:node:normalize:batchSize:)`` returns by default: the
    /// model's last linear layer in the network's order (for a classifier, its input is the
    /// penultimate features: LeNet-5's 84 F6 outputs, ResNet's pooled 512 or 2048, VGG's and
    /// AlexNet's 4096). Errors: `.invalidArgument` when the model has no linear layer (then
    /// name a node).
    public func defaultEmbeddingLayer() throws -> String {
        guard let path = architecture.root.lastLinearPath(prefix: "") else {
            let some = architecture.outputNames.suffix(6).map { "\"\($0)\"" }.joined(separator: ", ")
            throw SwiftCNNError.invalidArgument(
                "\(name): no linear layer to take the features before; pass a node name (e.g. one of \(some))")
        }
        return path
    }

    /// Features of each example of `input` (`[N, ...]`), flattened per example: `[N, D]`.
    ///
    /// - node: a name ``Architecture/outputNames`` lists (the output of that node), or nil for
    ///   the input of the last linear layer (``defaultEmbeddingLayer()``: the penultimate
    ///   features of a classifier).
    /// - normalize: scale each row to unit Euclidean length (a zero row stays zero).
    /// - batchSize: examples per forward pass (memory stays that of one such batch plus the
    ///   `[N, D]` result), at least 1.
    ///
    /// Runs in inference mode, op by op (as ``forward(_:outputs:includeOutput:)``).
    /// Errors: `.invalidArgument` (unknown node, no linear layer, batchSize < 1),
    /// `.shapeMismatch` (an input the model does not take), `.outOfMemory`.
    public func embed(_ input: Tensor, node: String? = nil, normalize: Bool = false, batchSize: Int = 32) throws -> Tensor {
        guard batchSize >= 1 else { throw SwiftCNNError.invalidArgument("embed: batch size must be at least 1; got \(batchSize)") }
        guard input.rank >= 2 else {
            throw SwiftCNNError.shapeMismatch("\(name): embed takes a batch [N, ...]; got shape \(Tensor.describe(input.shape))")
        }
        let inputPath = node == nil ? try defaultEmbeddingLayer() : nil
        let n = input.shape[0]
        let perExample = input.count / max(n, 1)
        var result: Tensor? = nil
        var width = 0
        var start = 0
        while start < n {
            let m = min(batchSize, n - start)
            let chunkShape = [m] + Array(input.shape.dropFirst())
            let features: Tensor = try input.withUnsafePointer { p in
                let chunk = try Tensor(borrowing: p + start * perExample, count: m * perExample, shape: chunkShape)
                _ = try architecture.outputShape(forInput: chunk.shape)
                if let inputPath {
                    let capture = OutputCapture([])
                    capture.wantedInputs = [inputPath]
                    _ = try run(architecture.root, path: "", chunk, capture: capture)
                    guard let x = capture.inputs[inputPath] else {
                        throw SwiftCNNError(.internal, "\(name): the input of \"\(inputPath)\" was not reached")
                    }
                    return x
                }
                let node = node ?? ""
                guard let y = try forward(chunk, outputs: [node])[node] else {
                    throw SwiftCNNError(.internal, "\(name): node \"\(node)\" was not reached")
                }
                return y
            }
            guard features.rank >= 1, features.shape[0] == m else {
                throw SwiftCNNError.shapeMismatch("\(name): the features have shape \(Tensor.describe(features.shape)), not one row per example")
            }
            let d = features.count / m
            if result == nil {
                width = d
                result = try Tensor(zeros: [n, d])
                _ = try Checked.mul(n, d, "embedding size")
            }
            guard d == width, var r = result else {
                throw SwiftCNNError(.internal, "\(name): feature width changed between batches")
            }
            result = nil   // unique: written in place
            try features.withUnsafeBufferPointer { src in
                try r.withUnsafeMutableBufferPointer { dst in
                    guard let s = src.baseAddress, let t = dst.baseAddress else { return }
                    (t + start * d).update(from: s, count: m * d)
                    if normalize {
                        for i in 0..<m {
                            let row = t + (start + i) * d
                            var s2: Double = 0
                            for j in 0..<d { s2 += Double(row[j]) * Double(row[j]) }
                            if s2 > 0 {
                                let inv = Float(1 / s2.squareRoot())
                                for j in 0..<d { row[j] *= inv }
                            }
                        }
                    }
                }
            }
            result = r
            start += m
        }
        guard let r = result else {
            throw SwiftCNNError.invalidArgument("\(name): embed needs at least one example")
        }
        return r
    }
}
