/// A network's structure without weights: the layer tree, its input and its output.
/// Cheap to build (no tensors), so counts and summaries of the largest models cost nothing.
public struct Architecture: Equatable, Sendable {
    /// The model's name: the zoo name ("resnet50"), or any name a user gave.
    public var name: String
    /// The output's first per-example dimension: the class count of a classifier ([N, classes]
    /// logits), the channel count of a dense output ([N, C, H, W]).
    public var numClasses: Int
    /// The shape of one input example, without the batch axis: [C, H, W] for images.
    public var inputShape: [Int]
    /// Channels of the input image (the first entry of ``inputShape``).
    public var inputChannels: Int { inputShape.first ?? 1 }
    /// The input size the model was designed for ([C, H, W] inputs; 1×1 otherwise).
    public var inputSize: Size2D { inputShape.count == 3 ? Size2D(inputShape[1], inputShape[2]) : Size2D(1) }
    /// True when the model takes [C, H, W] inputs of any height and width from
    /// ``minimumInputSize()`` up (networks that end in adaptive pooling); false when it takes
    /// ``inputShape`` only.
    public var acceptsAnyInputSize: Bool
    /// The network, from input to output.
    public var root: Layer
    /// The output's per-example shape for ``inputShape``.
    public let outputExampleShape: [Int]
    /// Outputs of the training network that add weighted losses in training mode only
    /// (GoogLeNet's auxiliary classifiers); empty for most models. See
    /// ``withAuxiliaryLosses(_:)``.
    public private(set) var auxiliaryLosses: [AuxiliaryLoss] = []
    /// The network with its auxiliary heads (a graph whose outputs include every
    /// ``auxiliaryLosses`` output), run by the training forward in training mode; nil when
    /// there are none. ``root`` is then this graph pruned to the other outputs, so inference,
    /// summaries and the compiled plan never compute the auxiliary heads.
    public private(set) var trainingRoot: Layer? = nil
    /// ``trainingRoot`` when there is one, else ``root``: the layers that own parameters.
    public var fullRoot: Layer { trainingRoot ?? root }

    /// A zoo architecture: an image classifier with `numClasses` outputs.
    public init(name: String, numClasses: Int, inputChannels: Int, inputSize: Size2D,
                acceptsAnyInputSize: Bool, root: Layer) {
        self.name = name
        self.numClasses = numClasses
        self.inputShape = [inputChannels, inputSize.h, inputSize.w]
        self.acceptsAnyInputSize = acceptsAnyInputSize
        self.root = root
        self.outputExampleShape = [numClasses]
    }

    /// Any network: validated now (shape inference on `inputShape`), so a network that does
    /// not fit together fails here with an error that names the layer.
    public init(name: String, inputShape: [Int], acceptsAnyInputSize: Bool = false, root: Layer) throws {
        guard !inputShape.isEmpty, inputShape.count <= 7, inputShape.allSatisfy({ $0 >= 1 }) else {
            throw SwiftCNNError.invalidArgument(
                "\(name): the input shape (per example, without the batch axis) must have 1 to 7 positive sizes; got \(inputShape)")
        }
        _ = try Checked.product(inputShape, "\(name): input size")
        if case .graph(let g) = root, g.inputs.count != 1 {
            throw SwiftCNNError.invalidArgument("\(name): the network's graph takes \(g.inputs.count) inputs; a model has one input")
        }
        var walker = ShapeWalker(recordRows: false)
        let outs = try walker.walkNode(root, name: "", [FlowState(shape: inputShape, rf: Size2D(1), jump: Size2D(1))])
        guard let first = outs.first, let c = first.shape.first else {
            throw SwiftCNNError.invalidArgument("\(name): the network has no output")
        }
        self.name = name
        self.inputShape = inputShape
        self.acceptsAnyInputSize = acceptsAnyInputSize && inputShape.count == 3
        // Layer norms take the normalized shape (their parameters' shape) from this input.
        self.root = walker.normalizedShapes.isEmpty ? root : try root.resolvingNormalizedShapes(walker.normalizedShapes, prefix: "")
        self.numClasses = c
        self.outputExampleShape = first.shape
        _ = try numParameters()
    }

    /// The state dict's entries (parameters and batch-norm buffers) in PyTorch's order,
    /// auxiliary heads included.
    public var parameterSpecs: [ParameterSpec] { fullRoot.parameterSpecs(prefix: "") }

    /// This architecture with auxiliary losses: `losses` name outputs of the root graph
    /// (not its first) whose cross-entropy (the trainer's loss), times each weight, is added
    /// to the main output's in training mode only (Szegedy et al. 2014: 0.3 for each
    /// auxiliary classifier). The result runs the graph pruned to its other outputs
    /// (``root``) except in training, and keeps the heads' parameters in its state dict.
    /// Errors: `.invalidArgument` when the root is not a graph, an output is unknown, the
    /// first or given twice, or a weight is negative or not finite.
    public func withAuxiliaryLosses(_ losses: [AuxiliaryLoss]) throws -> Architecture {
        guard trainingRoot == nil else {
            throw SwiftCNNError.invalidArgument("\(name): the auxiliary losses are already set")
        }
        guard case .graph(let g) = root else {
            throw SwiftCNNError.invalidArgument("\(name): auxiliary losses need a graph network (they name its outputs)")
        }
        var names = Set<String>()
        for l in losses {
            guard let i = g.outputs.firstIndex(of: l.output), i > 0 else {
                throw SwiftCNNError.invalidArgument(
                    "\(name): auxiliary loss output \"\(l.output)\" must be one of the graph's outputs after the first (\(g.outputs.joined(separator: ", ")))")
            }
            guard names.insert(l.output).inserted else {
                throw SwiftCNNError.invalidArgument("\(name): auxiliary loss output \"\(l.output)\" is given twice")
            }
            guard l.weight.isFinite, l.weight >= 0 else {
                throw SwiftCNNError.invalidArgument("\(name): auxiliary loss weight for \"\(l.output)\" must be finite and >= 0; got \(l.weight)")
            }
        }
        guard !losses.isEmpty else { return self }
        var a = self
        a.trainingRoot = root
        a.root = .graph(try g.pruned(keeping: g.outputs.filter { !names.contains($0) }))
        a.auxiliaryLosses = losses
        return a
    }

    /// Number of trainable parameters (buffers not counted), like
    /// `sum(p.numel() for p in model.parameters())`.
    public func numParameters() throws -> Int {
        var total = 0
        for p in parameterSpecs where !p.isBuffer {
            total = try Checked.add(total, try Checked.product(p.shape), "\(name): parameter count")
        }
        return total
    }

    /// The nominal input shape for a batch of `batch`: [batch] + ``inputShape``.
    public func nominalInputShape(batch: Int = 1) -> [Int] {
        [batch] + inputShape
    }

    /// The smallest height and width the model accepts (each scanned with the other at
    /// its nominal size); ``inputSize`` for fixed-size models.
    public func minimumInputSize() -> Size2D {
        guard acceptsAnyInputSize else { return inputSize }
        func accepts(_ h: Int, _ w: Int) -> Bool {
            var walker = ShapeWalker(recordRows: false)
            return (try? walker.walkNode(root, name: "", [FlowState(shape: [inputChannels, h, w], rf: Size2D(1), jump: Size2D(1))])) != nil
        }
        var minH = inputSize.h
        for h in 1...max(1, inputSize.h) where accepts(h, inputSize.w) { minH = h; break }
        var minW = inputSize.w
        for w in 1...max(1, inputSize.w) where accepts(inputSize.h, w) { minW = w; break }
        return Size2D(minH, minW)
    }

    /// What inputs the model takes, for error messages.
    public func expectedInputDescription() -> String {
        if acceptsAnyInputSize {
            let m = minimumInputSize()
            return "[N, \(inputChannels), H, W] with H >= \(m.h) and W >= \(m.w) (designed for [N, \(inputChannels), \(inputSize.h), \(inputSize.w)])"
        }
        return "[N, " + inputShape.map(String.init).joined(separator: ", ") + "]"
    }

    /// Checks an input shape [N] + ``inputShape`` and returns the output shape ([N,
    /// numClasses] for a classifier); an error naming the expected shape when the model does
    /// not take it.
    public func outputShape(forInput shape: [Int]) throws -> [Int] {
        let (_, end) = try walk(inputShape: shape, recordRows: false)
        return [shape[0]] + end.shape
    }

    /// Runs shape inference on a validated input shape; the walker holds the rows.
    func walk(inputShape shape: [Int], recordRows: Bool) throws -> (ShapeWalker, FlowState) {
        func wrong(_ detail: String = "") -> SwiftCNNError {
            .shapeMismatch("\(name): expected input \(expectedInputDescription()); got \(Tensor.describe(shape))\(detail)")
        }
        guard shape.count == inputShape.count + 1, shape.allSatisfy({ $0 >= 1 }) else { throw wrong() }
        if acceptsAnyInputSize {
            guard shape[1] == inputChannels else { throw wrong() }
        } else {
            guard Array(shape.dropFirst()) == inputShape else { throw wrong() }
        }
        var walker = ShapeWalker(recordRows: recordRows)
        let end: FlowState
        do {
            let outs = try walker.walkNode(root, name: "", [FlowState(shape: Array(shape.dropFirst()), rf: Size2D(1), jump: Size2D(1))])
            guard let first = outs.first else { throw SwiftCNNError(.internal, "\(name): no output") }
            end = first
        } catch let e as SwiftCNNError {
            throw wrong(" (\(e.message))")
        }
        guard end.shape.first == numClasses, acceptsAnyInputSize || end.shape == outputExampleShape else {
            throw SwiftCNNError(.internal, "\(name): the network ends in \(Tensor.describe(end.shape)), not \(Tensor.describe(outputExampleShape))")
        }
        return (walker, end)
    }
}

/// A network with its weights: an ``Architecture`` plus a store of tensors keyed by
/// torchvision's state_dict names.
///
/// Value semantics: copies share weight storage until one is changed. `forward` takes any
/// batch size and validates the input shape first; the state dict can be read and set
/// entry by entry or all at once (strict: every key, every shape), loaded from and saved
/// to safetensors files. New models start with the seeded weights of ``SeededInit``
/// (seed 0) — deterministic, not trained.
public struct Model {
    /// The structure.
    public let architecture: Architecture
    /// The state dict's entries in PyTorch's order.
    public let parameterSpecs: [ParameterSpec]
    /// Weights and buffers by full name. Any change drops the inference plan.
    var store: [String: Tensor] {
        didSet { plan = InferencePlan() }
    }
    /// Prepared weights for the optimized forward (see ``InferencePlan``), built lazily;
    /// shared by copies until either changes its weights.
    var plan = InferencePlan()
    /// Constants that are not part of the state dict (LeNet-5's RBF codes), by full name.
    var constants: [String: Tensor]
    /// Index into parameterSpecs by name.
    let specIndex: [String: Int]
    /// Names of the frozen parameters (see ``freeze(_:)``): no gradient, no update, no
    /// optimizer state.
    public internal(set) var frozen: Set<String> = []
    /// Training mode (see ``train()`` / ``eval()``): batch norm normalizes with batch
    /// statistics and updates its running statistics, dropout is active — in
    /// ``forwardRecording(_:dropoutSeed:)``. ``forward(_:)`` always runs in inference mode.
    /// New models start in eval mode (false).
    public internal(set) var isTraining: Bool = false

    /// A model with seeded weights (see ``SeededInit``). Throws `.outOfMemory` when the
    /// weights do not fit.
    public init(_ architecture: Architecture, seed: UInt64 = 0) throws {
        self.architecture = architecture
        parameterSpecs = architecture.parameterSpecs
        var index: [String: Int] = [:]
        for (i, p) in parameterSpecs.enumerated() {
            guard index[p.name] == nil else {
                throw SwiftCNNError.invalidArgument("\(architecture.name): two parameters are named \(p.name) (two nodes with parameters share a name)")
            }
            index[p.name] = i
        }
        specIndex = index
        store = [:]
        constants = [:]
        // Constants are fixed by the model, drawn with seed 0 whatever the weights' seed.
        for c in architecture.fullRoot.constantSpecs(prefix: "") {
            constants[c.name] = try SeededInit.signs(name: c.name, shape: c.shape, seed: 0)
        }
        try initializeSeeded(seed: seed)
    }

    /// The zoo name.
    public var name: String { architecture.name }
    /// Number of outputs.
    public var numClasses: Int { architecture.numClasses }

    /// Number of trainable parameters (batch-norm running statistics not counted).
    public var numParameters: Int {
        parameterSpecs.reduce(0) { $0 + ($1.isBuffer ? 0 : $1.shape.reduce(1, *)) }
    }

    /// Replaces every weight and buffer with the seeded generator's values for `seed`.
    /// Graph constants (``Layer/constant(shape:)``) whose names have no rule of
    /// ``SeededInit/range(forParameter:shape:)`` are uniform in [−0.1, 0.1), like biases.
    public mutating func initializeSeeded(seed: UInt64) throws {
        var fresh: [String: Tensor] = [:]
        let constantNames = architecture.fullRoot.graphConstantNames(prefix: "")
        for p in parameterSpecs {
            if constantNames.contains(p.name), SeededInit.range(forParameter: p.name, shape: p.shape) == nil {
                fresh[p.name] = try SeededInit.tensor(name: p.name, shape: p.shape, lo: -0.1, hi: 0.1, seed: seed)
            } else {
                fresh[p.name] = try SeededInit.parameter(name: p.name, shape: p.shape, seed: seed)
            }
        }
        store = fresh
    }

    // MARK: State dict

    /// The state dict (parameters and buffers) in PyTorch's order. Tensors share storage
    /// with the model until either is changed.
    public func stateDict() -> [(String, Tensor)] {
        parameterSpecs.compactMap { p in store[p.name].map { (p.name, $0) } }
    }

    /// One entry of the state dict; an `.invalidArgument` error naming the key when there is none.
    public func parameter(_ name: String) throws -> Tensor {
        guard let t = store[name] else {
            throw SwiftCNNError.invalidArgument("\(self.name): no parameter named \"\(name)\"\(suggestion(for: name))")
        }
        return t
    }

    /// Replaces one entry; errors name the key (and both shapes when they differ).
    public mutating func setParameter(_ name: String, _ value: Tensor) throws {
        guard let i = specIndex[name] else {
            throw SwiftCNNError.invalidArgument("\(self.name): no parameter named \"\(name)\"\(suggestion(for: name))")
        }
        let expected = parameterSpecs[i].shape
        guard value.shape == expected else {
            throw SwiftCNNError.shapeMismatch(
                "\(self.name): \(name) has shape \(Tensor.describe(expected)) in the model but \(Tensor.describe(value.shape)) was given")
        }
        var v = value
        if v.isBorrowed { try v.makeUnique() }
        store[name] = v
    }

    /// Loads a state dict. Strict (the default): every key of the model must be present and
    /// no other key may be (`num_batches_tracked` entries are ignored); every shape must
    /// match. Non-strict: missing and unexpected keys are ignored, shapes still checked.
    /// Either everything loads or nothing changes. Errors name the key and both shapes.
    public mutating func loadStateDict(_ dict: [String: Tensor], strict: Bool = true) throws {
        var updates: [(String, Tensor)] = []
        for spec in parameterSpecs {
            guard let value = dict[spec.name] else { continue }
            guard value.shape == spec.shape else {
                throw SwiftCNNError.shapeMismatch(
                    "\(name): load_state_dict: \(spec.name) has shape \(Tensor.describe(spec.shape)) in the model but \(Tensor.describe(value.shape)) in the state dict")
            }
            updates.append((spec.name, value))
        }
        let unexpected = dict.keys.filter { specIndex[$0] == nil && !Model.isIgnored($0) }.sorted()
        if strict {
            let missing = parameterSpecs.map(\.name).filter { dict[$0] == nil }
            if !missing.isEmpty || !unexpected.isEmpty {
                var parts: [String] = []
                if !missing.isEmpty { parts.append("missing key\(missing.count == 1 ? "" : "s") \(Model.list(missing))") }
                if !unexpected.isEmpty { parts.append("unexpected key\(unexpected.count == 1 ? "" : "s") \(Model.list(unexpected))") }
                throw SwiftCNNError.shapeMismatch("\(name): load_state_dict: " + parts.joined(separator: "; "))
            }
        }
        for (key, var value) in updates {
            if value.isBorrowed { try value.makeUnique() }
            store[key] = value
        }
    }

    /// Loads weights from a safetensors file (F32, F16, BF16 and F64 tensors; F16/BF16
    /// convert exactly) with ``loadStateDict(_:strict:)``'s rules. Entries the reader
    /// skips (non-float or scalar tensors) are errors unless they are `num_batches_tracked`.
    public mutating func load(path: FilePath, strict: Bool = true) throws {
        let file: SafeTensorsFile
        do {
            file = try SafeTensorsFile.read(path: path)
        } catch let e as SwiftCNNError where e.kind == .format && !e.message.contains(path.description) {
            // Parse errors name what is wrong; say in which file too.
            throw SwiftCNNError(e.kind, "\(path): \(e.message)")
        }
        if strict {
            for s in file.skipped where !Model.isIgnored(s.name) {
                throw SwiftCNNError.format("\(name): \(path): unexpected entry \(s.name) (\(s.reason))")
            }
        }
        do {
            try loadStateDict(file.tensors, strict: strict)
        } catch let e as SwiftCNNError {
            throw SwiftCNNError(e.kind, "\(path): \(e.message)")
        }
    }

    /// ``load(path:strict:)`` from the path whose bytes are `path`'s UTF-8.
    public mutating func load(path: String, strict: Bool = true) throws {
        try load(path: FilePath(path), strict: strict)
    }

    /// Saves the model as one self-describing file (docs/model-format.md): a safetensors
    /// file of the state dict (F32, PyTorch's names and order, so torch's
    /// `load_state_dict(safetensors.torch.load_file(path))` reads it) whose metadata holds
    /// the network as JSON, so ``open(path:)`` needs nothing else. Written atomically: a
    /// temporary file is written and renamed, so a failure leaves any existing file intact
    /// and a crash leaves no partial file. `num_batches_tracked` is not written.
    public func save(path: FilePath) throws {
        try SafeTensorsFile.write(stateDict(), metadata: try fileMetadata(), to: path)
    }

    /// The metadata ``save(path:)`` writes.
    func fileMetadata() throws -> [String: String] {
        ["format": "swiftcnn", "version": String(graphSchemaVersion), "graph": try architecture.json(),
         "model": name, "num_classes": String(numClasses)]
    }

    /// ``save(path:)`` to the path whose bytes are `path`'s UTF-8.
    public func save(path: String) throws {
        try save(path: FilePath(path))
    }

    static func isIgnored(_ key: String) -> Bool {
        key == "num_batches_tracked" || key.hasSuffix(".num_batches_tracked")
    }

    static func list(_ keys: [String]) -> String {
        let shown = keys.prefix(5).map { "\"\($0)\"" }.joined(separator: ", ")
        return keys.count > 5 ? "\(shown) and \(keys.count - 5) more" : shown
    }

    func suggestion(for key: String) -> String {
        // Help with the common prefixes: "module." (DataParallel) and "model.".
        for prefix in ["module.", "model."] where key.hasPrefix(prefix) {
            if specIndex[String(key.dropFirst(prefix.count))] != nil { return " (drop the \"\(prefix)\" prefix)" }
        }
        return ""
    }

    // MARK: Forward

    /// The output shape [N, numClasses] for an input shape; an error naming the expected shape.
    public func outputShape(forInput shape: [Int]) throws -> [Int] {
        if let p = plan.cachedForwardPlan(shape) { return p.outputShape }  // validated when compiled
        return try architecture.outputShape(forInput: shape)
    }

    /// The logits (or, for lenet5_original, the RBF penalties) of a batch: input
    /// [N, C, H, W] → [N, numClasses]. The shape is checked before any work, with an error
    /// that says the expected one.
    public func forward(_ input: Tensor) throws -> Tensor {
        if KernelDispatch.forceReference {
            _ = try architecture.outputShape(forInput: input.shape)
            return try run(architecture.root, path: "", input)
        }
        return try forwardPlanned(input)  // validates the shape when it compiles a plan for it
    }

    /// ``forward(_:)`` written into caller-owned memory: `output` has room for `capacity`
    /// floats, at least the output's (checked, with the input's shape, before any work). The
    /// optimized path writes the result there directly, with no result tensor and no copy;
    /// an `output` that overlaps the input's memory gets a copy of a separate result (the
    /// plan reads its input while it writes its output).
    public func forward(_ input: Tensor, into output: UnsafeMutablePointer<Float>, capacity: Int) throws {
        let shape = try outputShape(forInput: input.shape)
        let needed = try Checked.product(shape)
        guard capacity >= needed else {
            throw SwiftCNNError.shapeMismatch(
                "\(name): output holds \(capacity) floats; the output \(Tensor.describe(shape)) needs \(needed)")
        }
        let overlaps = input.withUnsafePointer { xp -> Bool in
            let x0 = UInt(bitPattern: xp), x1 = x0 &+ UInt(input.count) &* 4
            let y0 = UInt(bitPattern: output), y1 = y0 &+ UInt(needed) &* 4
            return x0 < y1 && y0 < x1
        }
        if KernelDispatch.forceReference || overlaps {
            let y = try forward(input)
            guard y.count == needed else {
                throw SwiftCNNError(.internal, "\(name): forward gave \(Tensor.describe(y.shape)), expected \(Tensor.describe(shape))")
            }
            y.withUnsafeBufferPointer { b in
                if let base = b.baseAddress { output.update(from: base, count: needed) }
            }
            return
        }
        try forwardPlanned(input, into: output)
    }

    func weight(_ path: String, _ leaf: String) throws -> Tensor {
        let key = Layer.join(path, leaf)
        guard let t = store[key] ?? constants[key] else {
            throw SwiftCNNError(.internal, "\(name): no tensor \(key) in the store")
        }
        return t
    }

    func run(_ layer: Layer, path: String, _ x: Tensor, capture: OutputCapture? = nil) throws -> Tensor {
        capture?.offerInput(path, x)
        let y = try runLayer(layer, path: path, x, capture: capture)
        capture?.offer(path, y)
        return y
    }

    private func runLayer(_ layer: Layer, path: String, _ x: Tensor, capture: OutputCapture?) throws -> Tensor {
        switch layer {
        case .conv2d(let c):
            return try conv2d(x, weight: try weight(path, "weight"),
                              bias: c.bias ? try weight(path, "bias") : nil, options: c.options)
        case .batchNorm2d(_, let eps, _):
            return try batchNorm(x, runningMean: try weight(path, "running_mean"),
                                 runningVar: try weight(path, "running_var"),
                                 weight: try weight(path, "weight"), bias: try weight(path, "bias"), eps: eps)
        case .linear(_, _, let bias):
            return try Model.linearLastAxis(x, weight: try weight(path, "weight"), bias: bias ? try weight(path, "bias") : nil)
        case .layerNorm(let axis, let eps, let bias, _):
            return try layerNorm(x, axis: axis, weight: try weight(path, "weight"), bias: bias ? try weight(path, "bias") : nil, eps: eps)
        case .relu:
            return try relu(x)
        case .tanh:
            return try tanh(x)
        case .scaledTanh:
            return try LeNetOps.scaledTanh(x)
        case .maxPool2d(let p):
            return try maxPool2d(x, p.options)
        case .avgPool2d(let p):
            return try avgPool2d(x, p.options)
        case .adaptiveAvgPool2d(let size):
            return try adaptiveAvgPool2d(x, outputSize: size)
        case .localResponseNorm(let size, let alpha, let beta, let k):
            return try localResponseNorm(x, size: size, alpha: alpha, beta: beta, k: k)
        case .dropout(let p):
            return try dropout(x, p: p)
        case .flatten:
            return try flatten(x, startAxis: 1)
        case .subsampling:
            return try LeNetOps.subsample(x, weight: try weight(path, "weight"), bias: try weight(path, "bias"))
        case .partialConv2d(let inChannels, let connections, let k):
            return try LeNetOps.partialConv(x, weight: try weight(path, "weight"), bias: try weight(path, "bias"),
                                            inChannels: inChannels, connections: connections, kernel: k)
        case .euclideanRBF:
            return try LeNetOps.rbf(x, codes: try weight(path, "codes"))
        case .unary, .softmax, .globalMaxPool2d, .mean, .reshape, .transpose, .upsample, .zeroPad2d, .identity,
             .slice, .gather, .l2Normalize:
            return try Model.runWithoutWeights(layer, path: path, x)
        case .binary, .concatInputs, .split, .graph, .constant, .upsampleLike:
            let outs = try runNode(layer, path: path, [x], capture: capture)
            // A graph with several outputs passes its first on (the others are named nodes);
            // a split's pieces only make sense as graph values.
            guard outs.count == 1 || (layer.isGraph && !outs.isEmpty) else {
                throw SwiftCNNError.invalidArgument("\(path.isEmpty ? layer.typeName : path): \(layer.typeName) gives \(outs.count) outputs where one is expected")
            }
            return outs[0]
        case .sequential(let children):
            var y = x
            for c in children { y = try run(c.layer, path: Layer.join(path, c.name), y, capture: capture) }
            return y
        case .residual(let body, let shortcut):
            var y = x
            for c in body { y = try run(c.layer, path: Layer.join(path, c.name), y, capture: capture) }
            let s = try shortcut.map { try run($0.layer, path: Layer.join(path, $0.name), x, capture: capture) } ?? x
            return try relu(try add(y, s))
        case .concat(let branches):
            var outs: [Tensor] = []
            outs.reserveCapacity(branches.count)
            for b in branches { outs.append(try run(b.layer, path: Layer.join(path, b.name), x, capture: capture)) }
            return try concat(outs, axis: 1)
        }
    }

    /// Runs a single-input layer that has no weights. Static, so that the compiled plan's
    /// steps can call it without holding the model (which holds the plan).
    static func runWithoutWeights(_ layer: Layer, path: String, _ x: Tensor) throws -> Tensor {
        switch layer {
        case .unary(let op):
            return try unary(op, x)
        case .softmax(let axis):
            return try softmax(x, axis: axis)
        case .globalMaxPool2d:
            return try globalMaxPool2d(x)
        case .l2Normalize(let eps):
            return try l2Normalize(x, eps: eps)
        case .mean(let axes, let keepDims):
            return try mean(x, axes: axes, keepDims: keepDims)
        case .reshape(let shape):
            let per = try ShapeWalker.reshaped(Array(x.shape.dropFirst()), to: shape, path)
            return try x.reshaped([x.shape[0]] + per)
        case .transpose(let perm):
            return try transpose(x, perm: perm)
        case .upsample(let u):
            let (_, _, h, w) = try imageDims(x, path.isEmpty ? "upsample" : path)
            return try upsample2d(x, outputSize: try u.outputSize(Size2D(h, w), path), scales: u.kernelScales, mode: u.mode)
        case .zeroPad2d(let p):
            return try zeroPad2d(x, p)
        case .identity:
            return x
        case .slice(let starts, let ends, let axes, let steps):
            return try slice(x, starts: starts, ends: ends, axes: Model.sliceAxes(starts, axes), steps: steps)
        case .gather(let axis, let indices, let indicesShape):
            return try gather(x, axis: axis, indices: indices, indicesShape: indicesShape)
        default:
            throw SwiftCNNError(.internal, "\(path): \(layer.typeName) has weights")
        }
    }

    /// ``Layer/upsampleLike(_:)``: `xs[0]` [N, C, h, w] resized to the height and width of
    /// `xs[1]` [N, C', H, W] (checked: two images of the same batch).
    static func upsampleLike(_ xs: [Tensor], mode: UpsampleMode, _ path: String) throws -> Tensor {
        let what = path.isEmpty ? "upsample_like" : path
        guard xs.count == 2 else { throw SwiftCNNError.invalidArgument("\(what): upsample_like takes 2 inputs (x, reference)") }
        _ = try imageDims(xs[0], what)
        let (n, _, h, w) = try imageDims(xs[1], what)
        guard n == xs[0].shape[0] else {
            throw SwiftCNNError.shapeMismatch(
                "\(what): upsample_like of \(Tensor.describe(xs[0].shape)) to the size of \(Tensor.describe(xs[1].shape)): the batches differ")
        }
        return try upsample2d(xs[0], outputSize: Size2D(h, w), scales: nil, mode: mode)
    }

    /// A slice layer's axes: the given ones, or 1, 2, …, starts.count (the batch axis is
    /// never sliced).
    static func sliceAxes(_ starts: [Int], _ axes: [Int]?) -> [Int] {
        axes ?? starts.indices.map { $0 + 1 }
    }

    /// ``linear(_:weight:bias:)`` over the last axis of an input of any rank: [N, …, in] is
    /// seen as [N·…, in] (a view), so rank 2 runs exactly as before.
    static func linearLastAxis(_ x: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor {
        guard x.rank > 2 else { return try linear(x, weight: weight, bias: bias) }
        let inFeatures = x.shape[x.rank - 1]
        let y = try linear(try x.reshaped([x.count / inFeatures, inFeatures]), weight: weight, bias: bias)
        return try y.reshaped(Array(x.shape.dropLast()) + [y.shape[1]])
    }

    /// A graph constant's output for a batch of `batch`: its parameter (named by `path`)
    /// repeated along a new batch axis.
    func constantOutput(path: String, batch: Int) throws -> Tensor {
        try broadcastOverBatch(try weight(path, ""), batch: batch)
    }

    /// Runs a layer with any number of inputs and outputs (graph nodes).
    func runNode(_ layer: Layer, path: String, _ xs: [Tensor], capture: OutputCapture? = nil) throws -> [Tensor] {
        switch layer {
        case .binary(let op):
            guard xs.count == 2 else { throw SwiftCNNError.invalidArgument("\(path): \(op.rawValue) takes 2 inputs") }
            return [try binary(op, xs[0], xs[1])]
        case .concatInputs(let axis):
            return [try concat(xs, axis: axis)]
        case .upsampleLike(let mode):
            return [try Model.upsampleLike(xs, mode: mode, path)]
        case .split(let axis, let sizes):
            guard xs.count == 1 else { throw SwiftCNNError.invalidArgument("\(path): split takes 1 input") }
            return try split(xs[0], axis: axis, sizes: sizes)
        case .constant:
            // Reached only outside a graph (a graph runs its constants with the batch size).
            throw SwiftCNNError.invalidArgument("\(path.isEmpty ? "constant" : path): a constant takes no inputs; use it as a graph node with \"inputs\": []")
        case .graph(let g):
            guard xs.count == g.inputs.count else {
                throw SwiftCNNError.invalidArgument("\(path): the graph takes \(g.inputs.count) input(s); got \(xs.count)")
            }
            var values: [[Tensor]] = Array(repeating: [], count: g.nodes.count)
            // Drop each value after its last reader so that memory follows the live set.
            var remaining = g.consumerCounts
            for i in g.order {
                let node = g.nodes[i]
                let ins = g.sources[i].map { $0.node < 0 ? xs[$0.output] : values[$0.node][$0.output] }
                let nodePath = Layer.join(path, node.name)
                let outs: [Tensor]
                if node.layer.inputCount == 1 && node.layer.outputCount == 1 {
                    outs = [try run(node.layer, path: nodePath, ins[0], capture: capture)]
                } else if case .constant = node.layer, let batch = xs.first?.shape.first {
                    outs = [try constantOutput(path: nodePath, batch: batch)]
                    capture?.offer(nodePath, outs[0])
                } else {
                    outs = try runNode(node.layer, path: nodePath, ins, capture: capture)
                    if let capture {
                        capture.offer(nodePath, outs[0])
                        if outs.count > 1 { for (k, o) in outs.enumerated() { capture.offer("\(nodePath):\(k)", o) } }
                    }
                }
                values[i] = outs
                for r in g.sources[i] where r.node >= 0 {
                    remaining[r.node] -= 1
                    if remaining[r.node] == 0 { values[r.node] = [] }
                }
            }
            return g.outputSources.map { $0.node < 0 ? xs[$0.output] : values[$0.node][$0.output] }
        default:
            guard xs.count == 1 else { throw SwiftCNNError.invalidArgument("\(path): \(layer.typeName) takes 1 input") }
            return [try run(layer, path: path, xs[0], capture: capture)]
        }
    }

    // MARK: Summary

    /// A per-layer summary for an input shape (default: the nominal shape, batch 1).
    public func summary(inputShape: [Int]? = nil) throws -> ModelSummary {
        try ModelSummary(architecture, inputShape: inputShape)
    }
}
