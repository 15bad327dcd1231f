/// A network's structure without weights: the layer tree, its input and its class count.
/// Cheap to build (no tensors), so counts and summaries of the largest models cost nothing.
public struct Architecture: Equatable, Sendable {
    /// The zoo name, e.g. "resnet50".
    public var name: String
    /// Number of outputs of the last layer.
    public var numClasses: Int
    /// Channels of the input image.
    public var inputChannels: Int
    /// The input size the model was designed for (the fixtures use it).
    public var inputSize: Size2D
    /// True when the model ends in an adaptive pool and so accepts any height and width
    /// from ``minimumInputSize()`` up; false when it takes ``inputSize`` only.
    public var acceptsAnyInputSize: Bool
    /// The network, from input to logits.
    public var root: Layer

    /// An architecture; see the properties.
    public init(name: String, numClasses: Int, inputChannels: Int, inputSize: Size2D,
                acceptsAnyInputSize: Bool, root: Layer) {
        self.name = name
        self.numClasses = numClasses
        self.inputChannels = inputChannels
        self.inputSize = inputSize
        self.acceptsAnyInputSize = acceptsAnyInputSize
        self.root = root
    }

    /// The state dict's entries (parameters and batch-norm buffers) in PyTorch's order.
    public var parameterSpecs: [ParameterSpec] { root.parameterSpecs(prefix: "") }

    /// Number of trainable parameters (buffers not counted), like
    /// `sum(p.numel() for p in model.parameters())`.
    public func numParameters() throws -> Int {
        var total = 0
        for p in parameterSpecs where !p.isBuffer {
            total = try Checked.add(total, try Checked.product(p.shape), "\(name): parameter count")
        }
        return total
    }

    /// The nominal input shape for a batch of `batch`: [batch, C, H, W].
    public func nominalInputShape(batch: Int = 1) -> [Int] {
        [batch, inputChannels, inputSize.h, inputSize.w]
    }

    /// The smallest height and width the model accepts (each scanned with the other at
    /// its nominal size); ``inputSize`` for fixed-size models.
    public func minimumInputSize() -> Size2D {
        guard acceptsAnyInputSize else { return inputSize }
        func accepts(_ h: Int, _ w: Int) -> Bool {
            var walker = ShapeWalker(recordRows: false)
            return (try? walker.walk(root, name: "", FlowState(shape: [inputChannels, h, w], rf: Size2D(1), jump: Size2D(1)))) != nil
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
        return "[N, \(inputChannels), \(inputSize.h), \(inputSize.w)]"
    }

    /// Checks an input shape [N, C, H, W] and returns the output shape [N, numClasses]; an
    /// error naming the expected shape when the model does not take it.
    public func outputShape(forInput shape: [Int]) throws -> [Int] {
        _ = try walk(inputShape: shape, recordRows: false)
        return [shape[0], numClasses]
    }

    /// Runs shape inference on a validated input shape; the walker holds the rows.
    func walk(inputShape shape: [Int], recordRows: Bool) throws -> (ShapeWalker, FlowState) {
        func wrong(_ detail: String = "") -> SwiftCNNError {
            .shapeMismatch("\(name): expected input \(expectedInputDescription()); got \(Tensor.describe(shape))\(detail)")
        }
        guard shape.count == 4, shape.allSatisfy({ $0 >= 1 }), shape[1] == inputChannels else { throw wrong() }
        if !acceptsAnyInputSize {
            guard shape[2] == inputSize.h, shape[3] == inputSize.w else { throw wrong() }
        }
        var walker = ShapeWalker(recordRows: recordRows)
        let end: FlowState
        do {
            end = try walker.walk(root, name: "", FlowState(shape: Array(shape.dropFirst()), rf: Size2D(1), jump: Size2D(1)))
        } catch let e as SwiftCNNError {
            throw wrong(" (\(e.message))")
        }
        guard end.shape == [numClasses] else {
            throw SwiftCNNError(.internal, "\(name): the network ends in \(Tensor.describe(end.shape)), not [\(numClasses)]")
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
                throw SwiftCNNError(.internal, "\(architecture.name): duplicate parameter name \(p.name)")
            }
            index[p.name] = i
        }
        specIndex = index
        store = [:]
        constants = [:]
        // Constants are fixed by the model, drawn with seed 0 whatever the weights' seed.
        for c in architecture.root.constantSpecs(prefix: "") {
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
    public mutating func initializeSeeded(seed: UInt64) throws {
        var fresh: [String: Tensor] = [:]
        for p in parameterSpecs {
            fresh[p.name] = try SeededInit.parameter(name: p.name, shape: p.shape, seed: seed)
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

    /// Saves the state dict to a safetensors file (F32, PyTorch's names and order)
    /// atomically: a temporary file is written and renamed, so a failure leaves any
    /// existing file intact and a crash leaves no partial file. `num_batches_tracked` is
    /// not written (PyTorch's `load_state_dict` fills it in). Metadata records the model's
    /// name and class count.
    public func save(path: FilePath) throws {
        try SafeTensorsFile.write(stateDict(),
                                  metadata: ["model": name, "num_classes": String(numClasses), "format": "pt"],
                                  to: path)
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

    func weight(_ path: String, _ leaf: String) throws -> Tensor {
        let key = Layer.join(path, leaf)
        guard let t = store[key] ?? constants[key] else {
            throw SwiftCNNError(.internal, "\(name): no tensor \(key) in the store")
        }
        return t
    }

    func run(_ layer: Layer, path: String, _ x: Tensor) throws -> Tensor {
        switch layer {
        case .conv2d(let c):
            let options = Conv2DOptions(stride: c.stride, padding: c.padding)
            return try conv2d(x, weight: try weight(path, "weight"),
                              bias: c.bias ? try weight(path, "bias") : nil, options: options)
        case .batchNorm2d(_, let eps):
            return try batchNorm(x, runningMean: try weight(path, "running_mean"),
                                 runningVar: try weight(path, "running_var"),
                                 weight: try weight(path, "weight"), bias: try weight(path, "bias"), eps: eps)
        case .linear(_, _, let bias):
            return try linear(x, weight: try weight(path, "weight"), bias: bias ? try weight(path, "bias") : nil)
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
        case .sequential(let children):
            var y = x
            for c in children { y = try run(c.layer, path: Layer.join(path, c.name), y) }
            return y
        case .residual(let body, let shortcut):
            var y = x
            for c in body { y = try run(c.layer, path: Layer.join(path, c.name), y) }
            let s = try shortcut.map { try run($0.layer, path: Layer.join(path, $0.name), x) } ?? x
            return try relu(try add(y, s))
        case .concat(let branches):
            var outs: [Tensor] = []
            outs.reserveCapacity(branches.count)
            for b in branches { outs.append(try run(b.layer, path: Layer.join(path, b.name), x)) }
            return try concat(outs, axis: 1)
        }
    }

    // MARK: Summary

    /// A per-layer summary for an input shape (default: the nominal shape, batch 1).
    public func summary(inputShape: [Int]? = nil) throws -> ModelSummary {
        try ModelSummary(architecture, inputShape: inputShape)
    }
}
