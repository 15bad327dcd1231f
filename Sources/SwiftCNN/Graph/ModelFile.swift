// Opening a self-describing model file, and changing a model's structure: freezing
// parameters for fine-tuning, replacing a node.

extension Model {
    /// Opens a model file written by ``save(path:)`` (docs/model-format.md): the network
    /// from its metadata, the weights from its tensors (strict: every parameter, nothing
    /// else, every shape). A weights-only safetensors file (torchvision's) is an error that
    /// says to create the model and ``load(path:strict:)`` it.
    public static func open(path: FilePath) throws -> Model {
        let file: SafeTensorsFile
        do {
            file = try SafeTensorsFile.read(path: path)
        } catch let e as SwiftCNNError where e.kind == .format && !e.message.contains(path.description) {
            throw SwiftCNNError(e.kind, "\(path): \(e.message)")
        }
        do {
            return try open(file)
        } catch let e as SwiftCNNError {
            throw SwiftCNNError(e.kind, "\(path): \(e.message)")
        }
    }

    /// ``open(path:)`` from the path whose bytes are `path`'s UTF-8.
    public static func open(path: String) throws -> Model { try open(path: FilePath(path)) }

    /// Opens a model file held in memory (the bytes of a file ``save(path:)`` wrote).
    public static func open(bytes: UnsafeRawBufferPointer) throws -> Model {
        try open(try SafeTensorsFile.parse(bytes: bytes))
    }

    /// ``open(bytes:)`` from an array.
    public static func open(bytes: [UInt8]) throws -> Model {
        try bytes.withUnsafeBytes { try open(bytes: $0) }
    }

    static func open(_ file: SafeTensorsFile) throws -> Model {
        guard let graph = file.metadata["graph"] else {
            throw SwiftCNNError.format(
                "a weights-only safetensors file (no \"graph\" in its metadata): create the model (e.g. a zoo model by name) and load the weights into it")
        }
        guard file.metadata["format"] == "swiftcnn" else {
            throw SwiftCNNError.format("metadata \"format\" is \(file.metadata["format"].map { "\"\($0)\"" } ?? "missing"), not \"swiftcnn\"")
        }
        guard let vs = file.metadata["version"], let version = Int(vs), version >= 1 else {
            throw SwiftCNNError.format("metadata \"version\" must be a positive integer")
        }
        guard version <= graphSchemaVersion else {
            throw SwiftCNNError(.unsupported,
                "model file version \(version) is newer than this library reads (\(graphSchemaVersion)); upgrade swiftcnn")
        }
        let arch = try Architecture.fromJSON(graph)
        var model = try Model(arch)
        for s in file.skipped where !Model.isIgnored(s.name) {
            throw SwiftCNNError.format("\(arch.name): unexpected entry \(s.name) (\(s.reason))")
        }
        try model.loadStateDict(file.tensors, strict: true)
        return model
    }

    /// A model from the JSON of its architecture alone (docs/model-format.md), with seeded
    /// weights (``SeededInit``, `seed`).
    public static func fromJSON(_ json: String, seed: UInt64 = 0) throws -> Model {
        try Model(try Architecture.fromJSON(json), seed: seed)
    }

    // MARK: Fine-tuning

    /// Whether parameter `name` lies under `prefix` ("" is everything; "layer1" covers
    /// "layer1.0.conv1.weight", not "layer10…").
    static func covers(_ prefix: String, _ name: String) -> Bool {
        prefix.isEmpty || name == prefix || name.hasPrefix(prefix + ".")
    }

    /// Freezes the trainable parameters under `prefix` (a node path, a full parameter name,
    /// or "" for all): they get no gradient, no optimizer update and no optimizer state
    /// until unfrozen. Returns how many parameters it covers; an error when none.
    @discardableResult
    public mutating func freeze(_ prefix: String) throws -> Int {
        let names = try trainableParameters(under: prefix)
        frozen.formUnion(names)
        return names.count
    }

    /// Unfreezes the parameters under `prefix` ("" for all). Returns how many it covers.
    @discardableResult
    public mutating func unfreeze(_ prefix: String) throws -> Int {
        let names = try trainableParameters(under: prefix)
        frozen.subtract(names)
        return names.count
    }

    /// The trainable parameters under `prefix`; an error when there are none.
    func trainableParameters(under prefix: String) throws -> [String] {
        let names = parameterSpecs.filter { !$0.isBuffer && Model.covers(prefix, $0.name) }.map(\.name)
        guard !names.isEmpty else {
            throw SwiftCNNError.invalidArgument("\(name): no trainable parameter under \"\(prefix)\"\(suggestion(for: prefix))")
        }
        return names
    }

    /// Replaces the node at `path` ("fc", "layer4", "classifier.6", a graph node's name)
    /// with `layer`, keeping every other weight (the new node's parameters are seeded with
    /// `seed`). The whole network is validated again: a layer that does not fit (e.g. a
    /// head with the wrong input features) is an error that names it, and the model is
    /// unchanged. Frozen parameters outside the node stay frozen.
    public mutating func replace(_ path: String, with layer: Layer, seed: UInt64 = 0) throws {
        var found = false
        // Auxiliary heads (training only) stay, and may be replaced too.
        let root = try Model.replacing(architecture.fullRoot, prefix: "", target: path, with: layer, found: &found)
        guard found else {
            throw SwiftCNNError.invalidArgument("\(name): no node named \"\(path)\" (names are node paths such as \(architecture.outputNames.prefix(5).map { "\"\($0)\"" }.joined(separator: ", ")))")
        }
        var arch = try Architecture(name: name, inputShape: architecture.inputShape,
                                    acceptsAnyInputSize: architecture.acceptsAnyInputSize, root: root)
        if !architecture.auxiliaryLosses.isEmpty { arch = try arch.withAuxiliaryLosses(architecture.auxiliaryLosses) }
        var fresh = try Model(arch, seed: seed)
        for spec in fresh.parameterSpecs where !Model.covers(path, spec.name) {
            if let t = store[spec.name], t.shape == spec.shape { fresh.store[spec.name] = t }
        }
        fresh.frozen = frozen.filter { !Model.covers(path, $0) && fresh.specIndex[$0] != nil }
        fresh.isTraining = isTraining
        self = fresh
    }

    static func replacing(_ layer: Layer, prefix: String, target: String, with new: Layer, found: inout Bool) throws -> Layer {
        func walk(_ n: NamedLayer) throws -> NamedLayer {
            let full = Layer.join(prefix, n.name)
            if !n.name.isEmpty && full == target {
                found = true
                return NamedLayer(n.name, new)
            }
            if n.name.isEmpty || target.hasPrefix(full + ".") {
                return NamedLayer(n.name, try replacing(n.layer, prefix: full, target: target, with: new, found: &found))
            }
            return n
        }
        switch layer {
        case .sequential(let c): return .sequential(try c.map(walk))
        case .concat(let c): return .concat(try c.map(walk))
        case .residual(let body, let shortcut): return .residual(body: try body.map(walk), shortcut: try shortcut.map(walk))
        case .graph(let g):
            var nodes = g.nodes
            for i in nodes.indices {
                let w = try walk(NamedLayer(nodes[i].name, nodes[i].layer))
                nodes[i].layer = w.layer
            }
            return .graph(try Graph(inputs: g.inputs, nodes: nodes, outputs: g.outputs))
        default:
            return layer
        }
    }
}
