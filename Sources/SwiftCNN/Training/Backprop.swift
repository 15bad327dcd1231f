// Training forward and backward over a model's `Layer` tree.
//
// `forwardRecording` walks the tree with the plain (validated) ops — not the inference plan,
// which folds batch norm into the convolutions — and keeps, per layer, what its backward
// needs: the layer input (convolution, linear, batch norm, max pooling, LRN, LeNet-5's
// subsampling, partial convolution and RBF), its output (ReLU, tanh, scaled tanh, residual
// add+ReLU), a shape (average pooling, flatten), batch statistics (batch norm in training
// mode) or a dropout mask. Tensors share storage with the activations (copy on write), so
// recording copies nothing. `backward` walks the same tree in reverse with the op-level
// backward functions and returns the gradient of every trainable parameter.

/// Training and inference modes (PyTorch's `module.train()` / `module.eval()`).
extension Model {
    /// Training mode: in ``forwardRecording(_:dropoutSeed:)`` batch norm normalizes with the
    /// batch's statistics and updates its running statistics (momentum 0.1, unbiased
    /// variance), and dropout zeroes activations.
    public mutating func train() { isTraining = true }

    /// Inference mode (the default): batch norm uses its running statistics, dropout is the
    /// identity.
    public mutating func eval() { isTraining = false }
}

/// What one training forward pass recorded for backward (opaque to users).
///
/// A tape belongs to the model that recorded it and to that model's weights at the time:
/// call ``Model/backward(_:gradOutput:)`` on that model before changing its weights.
public struct ForwardTape {
    var root: TapeNode
    /// The model input's shape.
    var inputShape: [Int]
    /// The output's shape, which the output gradient must have.
    var outputShape: [Int]
    /// The mode the forward ran in.
    var training: Bool
    /// The architecture's name, checked by backward.
    var modelName: String
    /// Training mode with auxiliary losses: the auxiliary outputs, in
    /// ``Architecture/auxiliaryLosses``' order (empty otherwise).
    public internal(set) var auxiliaryOutputs: [Tensor] = []
    /// Training mode with auxiliary losses: the shapes of every output of the training
    /// graph (empty otherwise: the tape then follows ``Architecture/root``).
    var allOutputShapes: [[Int]] = []
}

/// What one layer recorded.
struct LeafRecord {
    var input: Tensor?
    var output: Tensor?
    var inputShape: [Int] = []
    var statistics: BatchNormStatistics?
    var mask: Tensor?
    /// The inputs of a node with several (binary ops).
    var inputs: [Tensor] = []
    /// The second input's shape (upsample_like's reference, which gets a zero gradient).
    var otherShape: [Int] = []
}

/// The tape mirrors the layer tree.
indirect enum TapeNode {
    case leaf(LeafRecord)
    case sequential([TapeNode])
    /// `output` is relu(body + shortcut).
    case residual(body: [TapeNode], shortcut: TapeNode?, output: Tensor)
    /// `sizes` are the branches' channel counts.
    case concat([TapeNode], sizes: [Int])
    /// A graph: one tape per node (by node index) and the shapes of each node's outputs.
    case graph([TapeNode], outputShapes: [[[Int]]])
}

/// Gradients of the trainable parameters, keyed by state-dict name (buffers such as batch
/// norm's running statistics and constants such as LeNet-5's RBF codes are excluded).
public struct Gradients {
    var values: [String: Tensor]
    /// The names, in the model's state-dict order.
    public internal(set) var names: [String]

    init(values: [String: Tensor], order: [ParameterSpec]) {
        self.values = values
        names = order.filter { !$0.isBuffer && values[$0.name] != nil }.map(\.name)
    }

    /// The gradient of the parameter `name`, or nil when it has none.
    public subscript(name: String) -> Tensor? { values[name] }
}

/// Momentum of the running statistics' update (PyTorch's default).
let batchNormMomentum = 0.1

extension Model {
    /// Forward in the current mode, recording what backward needs. In training mode it
    /// updates batch norm running statistics (momentum 0.1:
    /// running = (1 − 0.1)·running + 0.1·batch statistic, with the unbiased variance
    /// var·n/(n − 1) for `running_var`, computed in float64 as PyTorch's CPU kernel does)
    /// and draws dropout masks from `dropoutSeed`: the dropout layer at path P uses the seed
    /// `SeededInit.mix(dropoutSeed ^ SeededInit.fnv1a64(P))`.
    ///
    /// Unlike ``forward(_:)`` this runs the plain ops over the layer tree (no inference plan).
    /// Input [N, C, H, W] as ``forward(_:)`` takes; errors name the expected shape.
    public mutating func forwardRecording(_ input: Tensor, dropoutSeed: UInt64 = 0) throws -> (output: Tensor, tape: ForwardTape) {
        let outShape = try architecture.outputShape(forInput: input.shape)
        if isTraining, let full = architecture.trainingRoot, case .graph(let g) = full {
            // Training mode with auxiliary heads: the whole graph, every output kept.
            let (ys, node) = try recordNode(full, path: "", [input], dropoutSeed: dropoutSeed)
            guard ys.count == g.outputs.count, let y = ys.first, y.shape == outShape else {
                throw SwiftCNNError(.internal, "\(name): training forward gave \(ys.count) outputs, expected \(g.outputs.count) with \(Tensor.describe(outShape)) first")
            }
            let aux = try architecture.auxiliaryLosses.map { l -> Tensor in
                guard let i = g.outputs.firstIndex(of: l.output) else {
                    throw SwiftCNNError(.internal, "\(name): no output \(l.output)")
                }
                return ys[i]
            }
            var tape = ForwardTape(root: node, inputShape: input.shape, outputShape: y.shape, training: true, modelName: name)
            tape.auxiliaryOutputs = aux
            tape.allOutputShapes = ys.map(\.shape)
            return (y, tape)
        }
        let (y, node) = try record(architecture.root, path: "", input, dropoutSeed: dropoutSeed)
        guard y.shape == outShape else {
            throw SwiftCNNError(.internal, "\(name): training forward gave \(Tensor.describe(y.shape)), expected \(Tensor.describe(outShape))")
        }
        return (y, ForwardTape(root: node, inputShape: input.shape, outputShape: y.shape, training: isTraining, modelName: name))
    }

    /// The gradients of the trainable parameters given dL/d(output) (shape of the recorded
    /// output) and, for a tape recorded in training mode by a model with auxiliary losses,
    /// dL/d(each auxiliary output) in ``Architecture/auxiliaryLosses``' order (missing or
    /// nil: zero, the head gets no gradient). The input's gradient is not computed.
    public func backward(_ tape: ForwardTape, gradOutput: Tensor, auxiliaryGradOutputs: [Tensor?] = []) throws -> Gradients {
        guard tape.modelName == name else {
            throw SwiftCNNError.invalidArgument("backward: the tape was recorded by \(tape.modelName), not \(name)")
        }
        guard gradOutput.shape == tape.outputShape else {
            throw SwiftCNNError.shapeMismatch(
                "backward: gradOutput must have the output's shape \(Tensor.describe(tape.outputShape)); got \(Tensor.describe(gradOutput.shape))")
        }
        var grads: [String: Tensor] = [:]
        grads.reserveCapacity(parameterSpecs.count)
        if !tape.allOutputShapes.isEmpty, let full = architecture.trainingRoot, case .graph(let g) = full {
            guard auxiliaryGradOutputs.count <= architecture.auxiliaryLosses.count else {
                throw SwiftCNNError.invalidArgument(
                    "backward: \(auxiliaryGradOutputs.count) auxiliary gradients for \(architecture.auxiliaryLosses.count) auxiliary outputs")
            }
            var gs = [Tensor?](repeating: nil, count: g.outputs.count)
            gs[0] = gradOutput
            for (k, ga) in auxiliaryGradOutputs.enumerated() {
                guard let ga else { continue }
                guard let i = g.outputs.firstIndex(of: architecture.auxiliaryLosses[k].output), i < tape.allOutputShapes.count,
                      ga.shape == tape.allOutputShapes[i] else {
                    throw SwiftCNNError.shapeMismatch("backward: the gradient of auxiliary output \(k) has shape \(Tensor.describe(ga.shape))")
                }
                gs[i] = ga
            }
            _ = try backpropNode(full, path: "", tape.root, gs, needInput: false, training: tape.training, into: &grads)
        } else {
            _ = try backprop(architecture.root, path: "", tape.root, gradOutput, needInput: false,
                             training: tape.training, into: &grads)
        }
        for name in frozen { grads[name] = nil }
        return Gradients(values: grads, order: parameterSpecs)
    }

    /// Calls `body` with the elements of the stored tensor `name`, writable in place (copied
    /// first only when shared with another model copy or borrowed).
    mutating func withMutableParameter<R>(_ key: String, _ body: (UnsafeMutableBufferPointer<Float>) throws -> R) throws -> R {
        guard var t = store.removeValue(forKey: key) else {
            throw SwiftCNNError(.internal, "\(name): no tensor \(key) in the store")
        }
        defer { store[key] = t }
        return try t.withUnsafeMutableBufferPointer(body)
    }

    // MARK: Recording forward

    mutating func record(_ layer: Layer, path: String, _ x: Tensor, dropoutSeed: UInt64) throws -> (Tensor, TapeNode) {
        switch layer {
        case .conv2d, .linear, .maxPool2d, .localResponseNorm, .subsampling, .partialConv2d, .euclideanRBF, .layerNorm:
            let y = try run(layer, path: path, x)
            return (y, .leaf(LeafRecord(input: x)))
        case .relu, .tanh, .scaledTanh:
            let y = try run(layer, path: path, x)
            return (y, .leaf(LeafRecord(output: y)))
        case .avgPool2d, .adaptiveAvgPool2d, .flatten, .mean, .reshape, .upsample, .slice, .gather:
            let y = try run(layer, path: path, x)
            return (y, .leaf(LeafRecord(inputShape: x.shape)))
        case .unary, .globalMaxPool2d, .l2Normalize:
            let y = try run(layer, path: path, x)
            return (y, .leaf(LeafRecord(input: x)))
        case .softmax:
            let y = try run(layer, path: path, x)
            return (y, .leaf(LeafRecord(output: y)))
        case .transpose, .zeroPad2d, .identity:
            return (try run(layer, path: path, x), .leaf(LeafRecord()))
        case .binary, .concatInputs, .split, .graph, .constant, .upsampleLike:
            let (ys, node) = try recordNode(layer, path: path, [x], dropoutSeed: dropoutSeed)
            // A graph with several outputs passes its first on (the others are named nodes);
            // a split's pieces only make sense as graph values.
            guard ys.count == 1 || (layer.isGraph && !ys.isEmpty) else {
                throw SwiftCNNError.invalidArgument("\(path.isEmpty ? layer.typeName : path): \(layer.typeName) gives \(ys.count) outputs where one is expected")
            }
            return (ys[0], node)
        case .batchNorm2d(let channels, let eps, let momentum):
            guard isTraining else {
                return (try run(layer, path: path, x), .leaf(LeafRecord(input: x)))
            }
            let (y, stats) = try batchNormTraining(x, weight: try weight(path, "weight"), bias: try weight(path, "bias"), eps: eps)
            try updateRunningStatistics(path: path, stats, channels: channels, momentum: momentum)
            return (y, .leaf(LeafRecord(input: x, statistics: stats)))
        case .dropout(let p):
            guard isTraining, p > 0 else {
                return (try dropout(x, p: p), .leaf(LeafRecord()))
            }
            let seed = SeededInit.mix(dropoutSeed ^ SeededInit.fnv1a64(path))
            let (y, mask) = try dropoutTraining(x, p: p, seed: seed)
            return (y, .leaf(LeafRecord(mask: mask)))
        case .sequential(let children):
            let (y, nodes) = try recordChain(children, path: path, x, dropoutSeed: dropoutSeed)
            return (y, .sequential(nodes))
        case .residual(let body, let shortcut):
            let (y, nodes) = try recordChain(body, path: path, x, dropoutSeed: dropoutSeed)
            var s = x
            var shortNode: TapeNode?
            if let sc = shortcut {
                (s, shortNode) = try record(sc.layer, path: Layer.join(path, sc.name), x, dropoutSeed: dropoutSeed)
            }
            let out = try relu(try add(y, s))
            return (out, .residual(body: nodes, shortcut: shortNode, output: out))
        case .concat(let branches):
            var outs: [Tensor] = []
            var nodes: [TapeNode] = []
            for b in branches {
                let (out, node) = try record(b.layer, path: Layer.join(path, b.name), x, dropoutSeed: dropoutSeed)
                outs.append(out)
                nodes.append(node)
            }
            let sizes = outs.map { $0.rank >= 2 ? $0.shape[1] : 0 }
            return (try concat(outs, axis: 1), .concat(nodes, sizes: sizes))
        }
    }

    /// Records a layer with any number of inputs and outputs (graph nodes).
    mutating func recordNode(_ layer: Layer, path: String, _ xs: [Tensor], dropoutSeed: UInt64) throws -> ([Tensor], TapeNode) {
        switch layer {
        case .binary:
            return (try runNode(layer, path: path, xs), .leaf(LeafRecord(inputs: xs)))
        case .upsampleLike:
            let ys = try runNode(layer, path: path, xs)
            return (ys, .leaf(LeafRecord(inputShape: xs[0].shape, otherShape: xs[1].shape)))
        case .concatInputs(let axis):
            let ys = try runNode(layer, path: path, xs)
            let a = axis < 0 ? axis + (xs.first?.rank ?? 0) : axis
            return (ys, .concat([], sizes: xs.map { a >= 0 && a < $0.rank ? $0.shape[a] : 0 }))
        case .split:
            return (try runNode(layer, path: path, xs), .leaf(LeafRecord()))
        case .graph(let g):
            guard xs.count == g.inputs.count else {
                throw SwiftCNNError.invalidArgument("\(path): the graph takes \(g.inputs.count) input(s); got \(xs.count)")
            }
            var values: [[Tensor]] = Array(repeating: [], count: g.nodes.count)
            var tapes: [TapeNode] = Array(repeating: .leaf(LeafRecord()), count: g.nodes.count)
            var shapes: [[[Int]]] = Array(repeating: [], count: g.nodes.count)
            for i in g.order {
                let node = g.nodes[i]
                let ins = g.sources[i].map { $0.node < 0 ? xs[$0.output] : values[$0.node][$0.output] }
                let nodePath = Layer.join(path, node.name)
                if node.layer.inputCount == 1 && node.layer.outputCount == 1 {
                    let (y, t) = try record(node.layer, path: nodePath, ins[0], dropoutSeed: dropoutSeed)
                    values[i] = [y]
                    tapes[i] = t
                } else if case .constant = node.layer, let batch = xs.first?.shape.first {
                    values[i] = [try constantOutput(path: nodePath, batch: batch)]
                    tapes[i] = .leaf(LeafRecord())
                } else {
                    (values[i], tapes[i]) = try recordNode(node.layer, path: nodePath, ins, dropoutSeed: dropoutSeed)
                }
                shapes[i] = values[i].map(\.shape)
            }
            let outs = g.outputSources.map { $0.node < 0 ? xs[$0.output] : values[$0.node][$0.output] }
            return (outs, .graph(tapes, outputShapes: shapes))
        default:
            guard xs.count == 1 else { throw SwiftCNNError.invalidArgument("\(path): \(layer.typeName) takes 1 input") }
            let (y, t) = try record(layer, path: path, xs[0], dropoutSeed: dropoutSeed)
            return ([y], t)
        }
    }

    /// Records children applied in order.
    mutating func recordChain(_ children: [NamedLayer], path: String, _ x: Tensor, dropoutSeed: UInt64) throws -> (Tensor, [TapeNode]) {
        var y = x
        var nodes: [TapeNode] = []
        nodes.reserveCapacity(children.count)
        for c in children {
            let (out, node) = try record(c.layer, path: Layer.join(path, c.name), y, dropoutSeed: dropoutSeed)
            y = out
            nodes.append(node)
        }
        return (y, nodes)
    }

    /// running = (1 − m)·running + m·statistic in float64 (m = 0.1), the variance unbiased.
    mutating func updateRunningStatistics(path: String, _ stats: BatchNormStatistics, channels: Int,
                                          momentum: Float = Float(batchNormMomentum)) throws {
        guard stats.count > 1 else {
            throw SwiftCNNError.invalidArgument(
                "\(Layer.join(path, "")): batch norm in training mode needs more than 1 value per channel; got \(stats.count) (use a larger batch or eval mode)")
        }
        guard stats.mean.count == channels, stats.variance.count == channels else {
            throw SwiftCNNError(.internal, "\(path): batch statistics for \(stats.mean.count) channels, expected \(channels)")
        }
        // The momentum as the decimal it was written as (0.1, not float32's 0.100000001…),
        // which is what torch, holding it as a Python float, uses.
        let m = Double(String(momentum)) ?? Double(momentum)
        let unbias = Double(stats.count) / Double(stats.count - 1)
        try stats.mean.withUnsafeBufferPointer { mean in
            try withMutableParameter(Layer.join(path, "running_mean")) { r in
                for c in 0..<channels { r[c] = Float(m * Double(mean[c]) + (1 - m) * Double(r[c])) }
            }
        }
        try stats.variance.withUnsafeBufferPointer { v in
            try withMutableParameter(Layer.join(path, "running_var")) { r in
                for c in 0..<channels { r[c] = Float(m * (Double(v[c]) * unbias) + (1 - m) * Double(r[c])) }
            }
        }
    }

    // MARK: Backward

    /// Back-propagates `g` (dL/d output of `layer`) and returns dL/d input (nil when
    /// `needInput` is false and the layer could skip it), storing parameter gradients.
    func backprop(_ layer: Layer, path: String, _ node: TapeNode, _ g: Tensor, needInput: Bool,
                  training: Bool, into grads: inout [String: Tensor]) throws -> Tensor? {
        func key(_ leaf: String) -> String { Layer.join(path, leaf) }
        func mismatch() -> SwiftCNNError {
            SwiftCNNError(.internal, "backward: the tape does not match the layer \(path.isEmpty ? layer.typeName : path)")
        }
        func leaf() throws -> LeafRecord {
            guard case .leaf(let r) = node else { throw mismatch() }
            return r
        }
        func input(_ r: LeafRecord) throws -> Tensor {
            guard let x = r.input else { throw mismatch() }
            return x
        }
        func output(_ r: LeafRecord) throws -> Tensor {
            guard let y = r.output else { throw mismatch() }
            return y
        }
        switch layer {
        case .conv2d(let c):
            let r = try conv2dBackward(try input(try leaf()), weight: try weight(path, "weight"), gradOutput: g,
                                       options: c.options,
                                       hasBias: c.bias, computeInputGradient: needInput)
            grads[key("weight")] = r.weight
            if c.bias, let b = r.bias { grads[key("bias")] = b }
            return r.input
        case .linear(_, _, let bias):
            let x = try input(try leaf())
            guard x.rank > 2 else {
                let r = try linearBackward(x, weight: try weight(path, "weight"), gradOutput: g, hasBias: bias)
                grads[key("weight")] = r.weight
                if bias, let b = r.bias { grads[key("bias")] = b }
                return r.input
            }
            // Any rank: the rows of [N·…, in], as the forward (views, no copies).
            let inFeatures = x.shape[x.rank - 1]
            let rows = x.count / inFeatures
            let r = try linearBackward(try x.reshaped([rows, inFeatures]), weight: try weight(path, "weight"),
                                       gradOutput: try g.reshaped([rows, g.count / rows]), hasBias: bias)
            grads[key("weight")] = r.weight
            if bias, let b = r.bias { grads[key("bias")] = b }
            return try r.input.reshaped(x.shape)
        case .layerNorm(let axis, let eps, let bias, _):
            let r = try layerNormBackward(try input(try leaf()), axis: axis, weight: try weight(path, "weight"), gradOutput: g,
                                          eps: eps, hasBias: bias)
            grads[key("weight")] = r.weight
            if bias, let b = r.bias { grads[key("bias")] = b }
            return r.input
        case .batchNorm2d(_, let eps, _):
            let rec = try leaf()
            let x = try input(rec)
            if let stats = rec.statistics {
                let r = try batchNormBackward(x, gradOutput: g, weight: try weight(path, "weight"), statistics: stats)
                grads[key("weight")] = r.weight
                grads[key("bias")] = r.bias
                return r.input
            }
            return try batchNormEvalBackward(x, g, path: path, eps: eps, needInput: needInput, into: &grads)
        case .relu:
            guard needInput else { return nil }
            return try reluBackward(output: try output(try leaf()), gradOutput: g)
        case .tanh:
            guard needInput else { return nil }
            return try tanhBackward(output: try output(try leaf()), gradOutput: g)
        case .scaledTanh:
            guard needInput else { return nil }
            return try LeNetOps.scaledTanhBackward(output: try output(try leaf()), gradOutput: g)
        case .maxPool2d(let p):
            guard needInput else { return nil }
            return try maxPool2dBackward(try input(try leaf()), gradOutput: g, p.options)
        case .avgPool2d(let p):
            guard needInput else { return nil }
            return try avgPool2dBackward(inputShape: try leaf().inputShape, gradOutput: g, p.options)
        case .adaptiveAvgPool2d:
            guard needInput else { return nil }
            return try adaptiveAvgPool2dBackward(inputShape: try leaf().inputShape, gradOutput: g)
        case .localResponseNorm(let size, let alpha, let beta, let k):
            guard needInput else { return nil }
            return try localResponseNormBackward(try input(try leaf()), gradOutput: g, size: size, alpha: alpha, beta: beta, k: k)
        case .dropout:
            guard needInput else { return nil }
            if let mask = try leaf().mask { return try dropoutBackward(mask: mask, gradOutput: g) }
            return g
        case .flatten:
            guard needInput else { return nil }
            return try flattenBackward(gradOutput: g, inputShape: try leaf().inputShape)
        case .subsampling:
            let r = try LeNetOps.subsampleBackward(try input(try leaf()), weight: try weight(path, "weight"), gradOutput: g)
            grads[key("weight")] = r.weight
            grads[key("bias")] = r.bias
            return r.input
        case .partialConv2d(let inChannels, let connections, let k):
            let r = try LeNetOps.partialConvBackward(try input(try leaf()), weight: try weight(path, "weight"), gradOutput: g,
                                                     inChannels: inChannels, connections: connections, kernel: k)
            grads[key("weight")] = r.weight
            grads[key("bias")] = r.bias
            return r.input
        case .euclideanRBF:
            guard needInput else { return nil }
            return try LeNetOps.rbfBackward(try input(try leaf()), codes: try weight(path, "codes"), gradOutput: g)
        case .unary(let op):
            guard needInput else { return nil }
            return try unaryBackward(op, input: try input(try leaf()), gradOutput: g)
        case .softmax(let axis):
            guard needInput else { return nil }
            return try softmaxBackward(output: try output(try leaf()), gradOutput: g, axis: axis)
        case .globalMaxPool2d:
            guard needInput else { return nil }
            return try globalMaxPool2dBackward(try input(try leaf()), gradOutput: g)
        case .l2Normalize(let eps):
            guard needInput else { return nil }
            return try l2NormalizeBackward(try input(try leaf()), gradOutput: g, eps: eps)
        case .mean(let axes, let keepDims):
            guard needInput else { return nil }
            return try meanBackward(inputShape: try leaf().inputShape, axes: axes, keepDims: keepDims, gradOutput: g)
        case .reshape:
            guard needInput else { return nil }
            return try g.reshaped(try leaf().inputShape)
        case .transpose(let perm):
            guard needInput else { return nil }
            return try transpose(g, perm: try inversePermutation(perm))
        case .upsample(let u):
            guard needInput else { return nil }
            return try upsample2dBackward(inputShape: try leaf().inputShape, gradOutput: g, scales: u.kernelScales, mode: u.mode)
        case .zeroPad2d(let p):
            guard needInput else { return nil }
            return try zeroPad2dBackward(gradOutput: g, p)
        case .identity:
            return needInput ? g : nil
        case .slice(let starts, let ends, let axes, let steps):
            guard needInput else { return nil }
            return try sliceBackward(inputShape: try leaf().inputShape, gradOutput: g, starts: starts, ends: ends,
                                     axes: Model.sliceAxes(starts, axes), steps: steps)
        case .gather(let axis, let indices, let indicesShape):
            guard needInput else { return nil }
            return try gatherBackward(inputShape: try leaf().inputShape, gradOutput: g, axis: axis, indices: indices,
                                      indicesShape: indicesShape)
        case .binary, .concatInputs, .split, .graph, .constant, .upsampleLike:
            // A graph in a one-input, one-output place: its first output carries the gradient.
            var gs: [Tensor?] = [g]
            if case .graph(let inner) = layer { gs += Array(repeating: nil, count: max(0, inner.outputs.count - 1)) }
            let r = try backpropNode(layer, path: path, node, gs, needInput: needInput, training: training, into: &grads)
            guard r.count == 1 else { throw mismatch() }
            return r[0]
        case .sequential(let children):
            guard case .sequential(let nodes) = node, nodes.count == children.count else { throw mismatch() }
            return try backpropChain(children, nodes, path: path, g, needInput: needInput, training: training, into: &grads)
        case .residual(let body, let shortcut):
            guard case .residual(let nodes, let shortNode, let out) = node, nodes.count == body.count,
                  (shortcut == nil) == (shortNode == nil) else { throw mismatch() }
            let gs = try reluBackward(output: out, gradOutput: g)
            let gb = try backpropChain(body, nodes, path: path, gs, needInput: needInput, training: training, into: &grads)
            var gx = gs
            if let sc = shortcut, let sn = shortNode {
                guard let r = try backprop(sc.layer, path: Layer.join(path, sc.name), sn, gs, needInput: needInput,
                                           training: training, into: &grads) else { return nil }
                gx = r
            }
            guard needInput, let gb else { return nil }
            return try add(gb, gx)
        case .concat(let branches):
            guard case .concat(let nodes, let sizes) = node, nodes.count == branches.count else { throw mismatch() }
            let parts = try concatBackward(gradOutput: g, sizes: sizes, axis: 1)
            guard parts.count == branches.count else { throw mismatch() }
            var sum: Tensor?
            for (i, b) in branches.enumerated() {
                let gi = try backprop(b.layer, path: Layer.join(path, b.name), nodes[i], parts[i], needInput: needInput,
                                      training: training, into: &grads)
                if let gi { sum = try sum.map { try add($0, gi) } ?? gi }
            }
            return needInput ? sum : nil
        }
    }

    /// Back-propagates through a layer with any number of inputs and outputs: `gs` holds
    /// dL/d(each output) (nil: the output is unused, its gradient zero). Returns dL/d(each
    /// input), nil where `needInput` is false.
    func backpropNode(_ layer: Layer, path: String, _ node: TapeNode, _ gs: [Tensor?], needInput: Bool,
                      training: Bool, into grads: inout [String: Tensor]) throws -> [Tensor?] {
        func mismatch() -> SwiftCNNError {
            SwiftCNNError(.internal, "backward: the tape does not match the node \(path.isEmpty ? layer.typeName : path)")
        }
        switch layer {
        case .binary(let op):
            guard case .leaf(let r) = node, r.inputs.count == 2, gs.count == 1, let g = gs[0] else { throw mismatch() }
            guard needInput else { return [nil, nil] }
            let (ga, gb) = try binaryBackward(op, r.inputs[0], r.inputs[1], gradOutput: g)
            return [ga, gb]
        case .upsampleLike(let mode):
            guard case .leaf(let r) = node, r.otherShape.count == 4, gs.count == 1, let g = gs[0] else { throw mismatch() }
            guard needInput else { return [nil, nil] }
            let gx = try upsample2dBackward(inputShape: r.inputShape, gradOutput: g, scales: nil, mode: mode)
            // The reference's values are not read: its gradient is zero.
            return [gx, try Tensor(zeros: r.otherShape)]
        case .concatInputs(let axis):
            guard case .concat(_, let sizes) = node, gs.count == 1, let g = gs[0] else { throw mismatch() }
            guard needInput else { return sizes.map { _ in nil } }
            let a = axis < 0 ? axis + g.rank : axis
            return try concatBackward(gradOutput: g, sizes: sizes, axis: a)
        case .constant:
            // No input: the parameter's gradient is the output's summed over the batch.
            guard case .leaf = node, gs.count == 1, let g = gs[0] else { throw mismatch() }
            grads[path] = try sumOverBatch(g)
            return []
        case .split(let axis, let sizes):
            guard gs.count == sizes.count else { throw mismatch() }
            guard needInput else { return [nil] }
            guard let like = gs.first(where: { $0 != nil }) ?? nil else { throw mismatch() }
            let a = axis < 0 ? axis + like.rank : axis
            var parts: [Tensor] = []
            for (k, g) in gs.enumerated() {
                if let g { parts.append(g); continue }
                var shape = like.shape
                shape[a] = sizes[k]
                parts.append(try Tensor(zeros: shape))
            }
            return [try concat(parts, axis: a)]
        case .graph(let g):
            guard case .graph(let tapes, let shapes) = node, tapes.count == g.nodes.count, shapes.count == g.nodes.count,
                  gs.count == g.outputs.count else { throw mismatch() }
            var valueGrads: [Graph.ValueRef: Tensor] = [:]
            var inputGrads = [Tensor?](repeating: nil, count: g.inputs.count)
            func accumulate(_ r: Graph.ValueRef, _ t: Tensor) throws {
                if r.node < 0 {
                    inputGrads[r.output] = try inputGrads[r.output].map { try add($0, t) } ?? t
                } else {
                    valueGrads[r] = try valueGrads[r].map { try add($0, t) } ?? t
                }
            }
            for (k, r) in g.outputSources.enumerated() {
                if let t = gs[k] { try accumulate(r, t) }
            }
            for i in g.order.reversed() {
                let n = g.nodes[i]
                let outGrads = (0..<n.layer.outputCount).map { valueGrads.removeValue(forKey: Graph.ValueRef(node: i, output: $0)) }
                guard outGrads.contains(where: { $0 != nil }) else { continue }  // the node does not reach the loss
                let nodePath = Layer.join(path, n.name)
                let needs = g.sources[i].contains { $0.node >= 0 } || needInput
                let inGrads: [Tensor?]
                if n.layer.inputCount == 1 && n.layer.outputCount == 1, let go = outGrads[0] {
                    inGrads = [try backprop(n.layer, path: nodePath, tapes[i], go, needInput: needs, training: training, into: &grads)]
                } else {
                    var filled = outGrads
                    for k in filled.indices where filled[k] == nil {
                        guard k < shapes[i].count else { throw mismatch() }
                        filled[k] = try Tensor(zeros: shapes[i][k])
                    }
                    inGrads = try backpropNode(n.layer, path: nodePath, tapes[i], filled, needInput: needs, training: training, into: &grads)
                }
                guard inGrads.count == g.sources[i].count else { throw mismatch() }
                for (r, t) in zip(g.sources[i], inGrads) {
                    if let t { try accumulate(r, t) } else if r.node >= 0 { throw mismatch() }
                }
            }
            return needInput ? inputGrads : inputGrads.map { _ in nil }
        default:
            guard gs.count == 1, let g = gs[0] else { throw mismatch() }
            return [try backprop(layer, path: path, node, g, needInput: needInput, training: training, into: &grads)]
        }
    }

    /// Children in reverse order; only the first child may skip its input gradient.
    func backpropChain(_ children: [NamedLayer], _ nodes: [TapeNode], path: String, _ g: Tensor, needInput: Bool,
                       training: Bool, into grads: inout [String: Tensor]) throws -> Tensor? {
        var grad: Tensor? = g
        for i in stride(from: children.count - 1, through: 0, by: -1) {
            guard let current = grad else {
                throw SwiftCNNError(.internal, "backward: no gradient reaches \(Layer.join(path, children[i].name))")
            }
            let c = children[i]
            grad = try backprop(c.layer, path: Layer.join(path, c.name), nodes[i], current,
                                needInput: i > 0 || needInput, training: training, into: &grads)
        }
        return needInput ? grad : nil
    }

    /// Batch norm backward in eval mode (running statistics are constants):
    /// y = (x − μ)·s + β with s = γ/√(σ² + eps) per channel, so dx = g·s, dγ = Σ g·(x − μ)/√(σ² + eps),
    /// dβ = Σ g (sums over N, H, W; accumulated in float64).
    func batchNormEvalBackward(_ x: Tensor, _ g: Tensor, path: String, eps: Float, needInput: Bool,
                               into grads: inout [String: Tensor]) throws -> Tensor? {
        let mean = try weight(path, "running_mean"), variance = try weight(path, "running_var")
        let gamma = try weight(path, "weight")
        guard x.shape == g.shape, x.rank >= 2 else {
            throw SwiftCNNError.shapeMismatch("batchNorm backward: gradOutput \(Tensor.describe(g.shape)) vs input \(Tensor.describe(x.shape))")
        }
        let n = x.shape[0], c = x.shape[1], hw = x.count / (n * c)
        var dx = try Tensor(uninitialized: x.shape)
        var dgamma = try Tensor(uninitialized: [c]), dbeta = try Tensor(uninitialized: [c])
        x.withUnsafeBufferPointer { xp in
            g.withUnsafeBufferPointer { gp in
                mean.withUnsafeBufferPointer { mp in
                    variance.withUnsafeBufferPointer { vp in
                        gamma.withUnsafeBufferPointer { wp in
                            dx.withUnsafeMutableBufferPointerUnchecked { dxp in
                                dgamma.withUnsafeMutableBufferPointerUnchecked { dgp in
                                    dbeta.withUnsafeMutableBufferPointerUnchecked { dbp in
                                        for ch in 0..<c {
                                            let inv = 1 / (vp[ch] + eps).squareRoot()
                                            let s = wp[ch] * inv
                                            var sg = 0.0, sgx = 0.0
                                            for b in 0..<n {
                                                let base = (b * c + ch) * hw
                                                for i in base..<(base + hw) {
                                                    sg += Double(gp[i])
                                                    sgx += Double(gp[i]) * Double(xp[i] - mp[ch])
                                                    dxp[i] = gp[i] * s
                                                }
                                            }
                                            dgp[ch] = Float(sgx * Double(inv))
                                            dbp[ch] = Float(sg)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        grads[Layer.join(path, "weight")] = dgamma
        grads[Layer.join(path, "bias")] = dbeta
        return needInput ? dx : nil
    }

    /// Whether the output holds penalties (lower is better: LeNet-5's RBF layer) rather than logits.
    var outputIsPenalty: Bool {
        var l = architecture.root
        while true {
            switch l {
            case .sequential(let c):
                guard let last = c.last else { return false }
                l = last.layer
            case .euclideanRBF: return true
            default: return false
            }
        }
    }
}

extension Model {
    /// This model, returned, with this copy left without weights or buffers (an empty
    /// store) until it is assigned a model again. For handing a model to a ``Trainer`` for a
    /// step: two copies sharing their weights would make the optimizer's first update of
    /// every weight copy it (copy-on-write), every step.
    public mutating func movedOut() -> Model {
        let m = self
        store = [:]
        return m
    }
}
