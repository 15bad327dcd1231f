// The network as JSON: schema version 1 of docs/model-format.md.
//
// Writing and reading are exact inverses: an architecture written and read back is equal
// to the original (floats are written in their shortest form, which reads back to the
// same float). Reading takes untrusted text: every field is type-checked, unknown ops and
// attributes are errors, and every error names the node by its path.

/// The newest graph schema version this library reads and the one it writes.
public let graphSchemaVersion = 1

// MARK: - Writing

extension Architecture {
    /// The architecture as the JSON object of docs/model-format.md.
    public func jsonValue() throws -> JSONValue {
        var pairs: [(String, JSONValue)] = [
            ("version", .integer(Int64(graphSchemaVersion))),
            ("name", .string(name)),
            ("input_shape", GraphJSON.ints(inputShape)),
        ]
        if acceptsAnyInputSize { pairs.append(("any_input_size", .bool(true))) }
        pairs.append(("network", try fullRoot.jsonValue(name: "")))
        if !auxiliaryLosses.isEmpty {
            pairs.append(("auxiliary_losses", .array(auxiliaryLosses.map {
                .object([("output", .string($0.output)), ("weight", GraphJSON.float($0.weight))])
            })))
        }
        return .object(pairs)
    }

    /// ``jsonValue()`` as compact text.
    public func json() throws -> String { try jsonValue().serialized() }
}

extension Layer {
    /// This layer as a node object named `name` (graph inputs are added by the graph).
    public func jsonValue(name: String) throws -> JSONValue {
        var attrs: [(String, JSONValue)] = []
        var extra: [(String, JSONValue)] = []
        func a(_ k: String, _ v: JSONValue) { attrs.append((k, v)) }
        func f(_ x: Float) -> JSONValue { GraphJSON.float(x) }
        func children(_ list: [NamedLayer]) throws -> JSONValue {
            .array(try list.map { try $0.layer.jsonValue(name: $0.name) })
        }
        let op: String
        switch self {
        case .conv2d(let c):
            op = "conv2d"
            a("in_channels", .integer(Int64(c.inChannels)))
            a("out_channels", .integer(Int64(c.outChannels)))
            a("kernel_shape", GraphJSON.ints([c.kernel.h, c.kernel.w]))
            a("strides", GraphJSON.ints([c.stride.h, c.stride.w]))
            a("pads", GraphJSON.ints([c.padding.top, c.padding.left, c.padding.bottom, c.padding.right]))
            a("dilations", GraphJSON.ints([c.dilation.h, c.dilation.w]))
            a("group", .integer(Int64(c.groups)))
            a("bias", .bool(c.bias))
        case .batchNorm2d(let ch, let eps, let momentum):
            op = "batch_norm2d"
            a("num_features", .integer(Int64(ch)))
            a("epsilon", f(eps))
            if momentum != 0.1 { a("momentum", f(momentum)) }
        case .linear(let i, let o, let bias):
            op = "linear"
            a("in_features", .integer(Int64(i)))
            a("out_features", .integer(Int64(o)))
            a("bias", .bool(bias))
        case .relu: op = "relu"
        case .tanh: op = "tanh"
        case .scaledTanh: op = "scaled_tanh"
        case .maxPool2d(let p), .avgPool2d(let p):
            if case .maxPool2d = self { op = "max_pool2d" } else { op = "avg_pool2d" }
            a("kernel_shape", GraphJSON.ints([p.kernel.h, p.kernel.w]))
            a("strides", GraphJSON.ints([p.stride.h, p.stride.w]))
            a("pads", GraphJSON.ints([p.padding.h, p.padding.w, p.padding.h, p.padding.w]))
            a("ceil_mode", .bool(p.ceilMode))
            if case .avgPool2d = self { a("count_include_pad", .bool(p.countIncludePad)) }
        case .adaptiveAvgPool2d(let s):
            op = "adaptive_avg_pool2d"
            a("output_size", GraphJSON.ints([s.h, s.w]))
        case .localResponseNorm(let size, let alpha, let beta, let k):
            op = "lrn"
            a("size", .integer(Int64(size)))
            a("alpha", f(alpha))
            a("beta", f(beta))
            a("bias", f(k))
        case .dropout(let p):
            op = "dropout"
            a("ratio", f(p))
        case .flatten: op = "flatten"
        case .subsampling(let ch):
            op = "subsampling"
            a("channels", .integer(Int64(ch)))
        case .partialConv2d(let inChannels, let connections, let k):
            op = "partial_conv2d"
            a("in_channels", .integer(Int64(inChannels)))
            a("connections", .array(connections.map(GraphJSON.ints)))
            a("kernel_size", .integer(Int64(k)))
        case .euclideanRBF(let features, let classes):
            op = "euclidean_rbf"
            a("features", .integer(Int64(features)))
            a("classes", .integer(Int64(classes)))
        case .sequential(let list):
            op = "sequential"
            extra.append(("children", try children(list)))
        case .residual(let body, let shortcut):
            op = "residual"
            extra.append(("body", try children(body)))
            extra.append(("shortcut", try shortcut.map { try $0.layer.jsonValue(name: $0.name) } ?? .null))
        case .concat(let list):
            op = "branches"
            extra.append(("children", try children(list)))
        case .unary(let u):
            switch u {
            case .sigmoid: op = "sigmoid"
            case .silu: op = "silu"
            case .hardswish: op = "hardswish"
            case .hardsigmoid(let alpha, let beta):
                op = "hardsigmoid"
                a("alpha", f(alpha))
                a("beta", f(beta))
            case .clip(let lo, let hi):
                op = "clip"
                if lo.isFinite { a("min", f(lo)) } else if lo.isNaN || lo > 0 { throw GraphJSON.unwritable(name, "clip min \(lo)") }
                if hi.isFinite { a("max", f(hi)) } else if hi.isNaN || hi < 0 { throw GraphJSON.unwritable(name, "clip max \(hi)") }
            case .leakyReLU(let alpha):
                op = "leaky_relu"
                a("alpha", f(alpha))
            case .gelu(let tanh):
                op = "gelu"
                a("approximate", .string(tanh ? "tanh" : "none"))
            case .erf: op = "erf"
            case .sqrt: op = "sqrt"
            case .exp: op = "exp"
            case .log: op = "log"
            case .neg: op = "neg"
            case .abs: op = "abs"
            case .reciprocal: op = "reciprocal"
            }
        case .softmax(let axis):
            op = "softmax"
            a("axis", .integer(Int64(axis)))
        case .globalMaxPool2d: op = "global_max_pool2d"
        case .l2Normalize(let eps):
            op = "l2_normalize"
            a("epsilon", f(eps))
        case .mean(let axes, let keep):
            op = "mean"
            a("axes", GraphJSON.ints(axes))
            a("keepdims", .bool(keep))
        case .reshape(let shape):
            op = "reshape"
            a("shape", GraphJSON.ints(shape))
        case .transpose(let perm):
            op = "transpose"
            a("perm", GraphJSON.ints(perm))
        case .upsample(let u):
            op = "upsample"
            switch u.mode {
            case .nearest: a("mode", .string("nearest"))
            case .bilinear(let ac):
                a("mode", .string("bilinear"))
                a("align_corners", .bool(ac))
            }
            if let s = u.size { a("sizes", GraphJSON.ints([s.h, s.w])) }
            if let s = u.scales { a("scales", .array(s.map { .number($0) })) }
        case .upsampleLike(let mode):
            op = "upsample_like"
            switch mode {
            case .nearest: a("mode", .string("nearest"))
            case .bilinear(let ac):
                a("mode", .string("bilinear"))
                a("align_corners", .bool(ac))
            }
        case .zeroPad2d(let p):
            op = "zero_pad2d"
            a("pads", GraphJSON.ints([p.top, p.left, p.bottom, p.right]))
        case .identity: op = "identity"
        case .binary(let b): op = b.rawValue
        case .concatInputs(let axis):
            op = "concat"
            a("axis", .integer(Int64(axis)))
        case .split(let axis, let sizes):
            op = "split"
            a("axis", .integer(Int64(axis)))
            a("split", GraphJSON.ints(sizes))
        case .constant(let shape):
            op = "constant"
            a("shape", GraphJSON.ints(shape))
        case .layerNorm(let axis, let eps, let bias, _):
            // The normalized shape is not written: the input shape fixes it.
            op = "layer_norm"
            a("axis", .integer(Int64(axis)))
            a("epsilon", f(eps))
            a("bias", .bool(bias))
        case .slice(let starts, let ends, let axes, let steps):
            op = "slice"
            a("starts", GraphJSON.clampedInts(starts))
            a("ends", GraphJSON.clampedInts(ends))
            if let axes { a("axes", GraphJSON.ints(axes)) }
            if let steps { a("steps", GraphJSON.clampedInts(steps)) }
        case .gather(let axis, let indices, let indicesShape):
            op = "gather"
            a("axis", .integer(Int64(axis)))
            a("indices", GraphJSON.ints(indices))
            a("indices_shape", GraphJSON.ints(indicesShape))
        case .graph(let g):
            op = "graph"
            var nodes: [JSONValue] = []
            for n in g.nodes {
                guard case .object(var pairs) = try n.layer.jsonValue(name: n.name) else { continue }
                pairs.insert(("inputs", .array(n.inputs.map { .string($0) })), at: 2)
                nodes.append(.object(pairs))
            }
            extra.append(("graph", .object([
                ("inputs", .array(g.inputs.map { .string($0) })),
                ("nodes", .array(nodes)),
                ("outputs", .array(g.outputs.map { .string($0) })),
            ])))
        }
        var pairs: [(String, JSONValue)] = [("name", .string(name)), ("op", .string(op))]
        if !attrs.isEmpty { pairs.append(("attrs", .object(attrs))) }
        return .object(pairs + extra)
    }
}

/// Helpers of the JSON codec.
enum GraphJSON {
    static func ints(_ v: [Int]) -> JSONValue { .array(v.map { .integer(Int64($0)) }) }

    /// Slice bounds and steps clamped to ±2^53 (what a JSON reader holds exactly): the same
    /// slice of any tensor, whose sizes are far below.
    static func clampedInts(_ v: [Int]) -> JSONValue {
        .array(v.map { .integer(min(max(Int64($0), -JSON.maxInteger), JSON.maxInteger)) })
    }

    /// A float in its shortest decimal form (reads back to the same float).
    static func float(_ x: Float) -> JSONValue {
        if x == x.rounded(), abs(x) < 1e15 { return .integer(Int64(x)) }
        return .number(Double(String(x)) ?? Double(x))
    }

    static func unwritable(_ name: String, _ what: String) -> SwiftCNNError {
        .invalidArgument("\(name.isEmpty ? "network" : name): \(what) cannot be written as JSON")
    }
}

// MARK: - Reading

/// Reads nodes: every error names the node's path.
struct GraphReader {
    /// Documents with more nodes than this are refused (nesting is bounded by the JSON
    /// reader: 64 levels).
    static let maxNodes = 1_000_000
    var nodeCount = 0

    func fail(_ path: String, _ m: String) -> SwiftCNNError {
        .format("graph: node \(Graph.describe(path.isEmpty ? "(root)" : path)): \(m)")
    }

    func object(_ v: JSONValue, _ path: String, _ what: String) throws -> [(String, JSONValue)] {
        guard case .object(let pairs) = v else { throw fail(path, "\(what) must be an object; got \(v.typeDescription)") }
        return pairs
    }

    func string(_ v: JSONValue?, _ path: String, _ what: String) throws -> String {
        guard case .string(let s)? = v else { throw fail(path, "\(what) must be a string; got \(v?.typeDescription ?? "nothing")") }
        return s
    }

    /// Attribute access with type checks; `used` tracks which were read so that unknown
    /// attributes can be reported.
    struct Attrs {
        var pairs: [(String, JSONValue)]
        var used = Set<String>()
        let path: String
        let reader: GraphReader

        subscript(_ k: String) -> JSONValue? {
            mutating get {
                used.insert(k)
                for (key, v) in pairs where key == k { return v }
                return nil
            }
        }

        mutating func int(_ k: String, _ def: Int? = nil, min: Int = Int.min) throws -> Int {
            guard let v = self[k] else {
                if let def { return def }
                throw reader.fail(path, "attribute \"\(k)\" is missing")
            }
            guard case .integer(let i) = v, i >= Int64(min) else {
                throw reader.fail(path, "attribute \"\(k)\" must be an integer\(min > Int.min ? " of at least \(min)" : ""); got \(GraphReader.show(v))")
            }
            return Int(i)
        }

        mutating func ints(_ k: String, _ def: [Int]? = nil, count: Int? = nil, min: Int = Int.min) throws -> [Int] {
            guard let v = self[k] else {
                if let def { return def }
                throw reader.fail(path, "attribute \"\(k)\" is missing")
            }
            guard case .array(let items) = v else { throw reader.fail(path, "attribute \"\(k)\" must be an array of integers; got \(v.typeDescription)") }
            var out: [Int] = []
            for item in items {
                guard case .integer(let i) = item, i >= Int64(min) else {
                    throw reader.fail(path, "attribute \"\(k)\" must hold integers\(min > Int.min ? " of at least \(min)" : ""); got \(GraphReader.show(item))")
                }
                out.append(Int(i))
            }
            if let count, out.count != count {
                throw reader.fail(path, "attribute \"\(k)\" must have \(count) entries; got \(out.count)")
            }
            return out
        }

        /// Integers of any magnitude (slice bounds: ONNX writes ±(2^63 − 1) for "to the end"),
        /// clamped to ±2^53; literals beyond ±2^53 arrive as integral doubles when
        /// the document was parsed with `largeIntegersAsNumbers`.
        mutating func clampedInts(_ k: String, _ def: [Int]? = nil) throws -> [Int] {
            guard let v = self[k] else {
                if let def { return def }
                throw reader.fail(path, "attribute \"\(k)\" is missing")
            }
            guard case .array(let items) = v else { throw reader.fail(path, "attribute \"\(k)\" must be an array of integers; got \(v.typeDescription)") }
            let limit = JSON.maxInteger
            return try items.map { item -> Int in
                switch item {
                case .integer(let i):
                    return Int(min(max(i, -limit), limit))
                case .number(let d) where d == d.rounded(.towardZero) && Swift.abs(d) >= Double(limit):
                    return Int(d < 0 ? -limit : limit)
                default:
                    throw reader.fail(path, "attribute \"\(k)\" must hold integers; got \(GraphReader.show(item))")
                }
            }
        }

        mutating func pair(_ k: String, _ def: Size2D? = nil, min: Int) throws -> Size2D {
            let v = try ints(k, def.map { [$0.h, $0.w] }, count: 2, min: min)
            return Size2D(v[0], v[1])
        }

        mutating func float(_ k: String, _ def: Float? = nil) throws -> Float {
            guard let v = self[k] else {
                if let def { return def }
                throw reader.fail(path, "attribute \"\(k)\" is missing")
            }
            let d: Double
            switch v {
            case .integer(let i): d = Double(i)
            case .number(let x): d = x
            default: throw reader.fail(path, "attribute \"\(k)\" must be a number; got \(v.typeDescription)")
            }
            let x = Float(d)
            guard x.isFinite else { throw reader.fail(path, "attribute \"\(k)\" (\(d)) is out of float32's range") }
            return x
        }

        mutating func bool(_ k: String, _ def: Bool? = nil) throws -> Bool {
            guard let v = self[k] else {
                if let def { return def }
                throw reader.fail(path, "attribute \"\(k)\" is missing")
            }
            guard case .bool(let b) = v else { throw reader.fail(path, "attribute \"\(k)\" must be true or false; got \(GraphReader.show(v))") }
            return b
        }

        func checkAllUsed(_ op: String) throws {
            for (k, _) in pairs where !used.contains(k) {
                throw reader.fail(path, "unknown attribute \"\(k)\" for op \(op)")
            }
        }
    }

    static func show(_ v: JSONValue) -> String {
        let s = (try? v.serialized()) ?? v.typeDescription
        return s.count > 40 ? String(s.prefix(40)) + "…" : s
    }

    /// Reads a node object; `inGraph`: it is a node of a graph (has "inputs").
    mutating func node(_ v: JSONValue, parent: String, inGraph: Bool) throws -> (NamedLayer, [String]) {
        nodeCount += 1
        guard nodeCount <= GraphReader.maxNodes else {
            throw SwiftCNNError.format("graph: more than \(GraphReader.maxNodes) nodes")
        }
        let pairs = try object(v, parent, "a node")
        let fields = Dictionary(pairs, uniquingKeysWith: { a, _ in a })
        let name = try string(fields["name"], parent, "a node's \"name\"")
        let path = Layer.join(parent, name)
        let op = try string(fields["op"], path, "\"op\"")
        var allowed: Set<String> = ["name", "op", "attrs"]
        var inputs: [String] = []
        if inGraph {
            allowed.insert("inputs")
            guard case .array(let items)? = fields["inputs"] else {
                throw fail(path, "\"inputs\" must be an array of value names")
            }
            inputs = try items.map { try string($0, path, "an input") }
        }
        var attrs = Attrs(pairs: try fields["attrs"].map { try object($0, path, "\"attrs\"") } ?? [], path: path, reader: self)
        func children(_ key: String) throws -> [NamedLayer] {
            allowed.insert(key)
            guard case .array(let items)? = fields[key] else { throw fail(path, "\"\(key)\" must be an array of nodes") }
            // Children may share a name when they hold no parameters (torchvision's blocks
            // reuse one `relu` module); parameters that collide are refused by the model.
            var out: [NamedLayer] = []
            for item in items { out.append(try node(item, parent: path, inGraph: false).0) }
            return out
        }
        func pads4(_ k: String) throws -> Padding2D {
            let p = try attrs.ints(k, [0, 0, 0, 0], count: 4, min: 0)
            return Padding2D(top: p[0], bottom: p[2], left: p[1], right: p[3])
        }
        let layer: Layer
        switch op {
        case "conv2d":
            let inC = try attrs.int("in_channels", min: 1), outC = try attrs.int("out_channels", min: 1)
            layer = .conv2d(ConvSpec(inC, outC, kernel: try attrs.pair("kernel_shape", min: 1),
                                     stride: try attrs.pair("strides", Size2D(1), min: 1), padding: try pads4("pads"),
                                     dilation: try attrs.pair("dilations", Size2D(1), min: 1),
                                     groups: try attrs.int("group", 1, min: 1), bias: try attrs.bool("bias", true)))
        case "batch_norm2d":
            let ch = try attrs.int("num_features", min: 1)
            let eps = try attrs.float("epsilon", 1e-5)
            let momentum = try attrs.float("momentum", 0.1)
            guard eps > 0 else { throw fail(path, "epsilon must be positive; got \(eps)") }
            guard momentum >= 0, momentum <= 1 else { throw fail(path, "momentum must be in [0, 1]; got \(momentum)") }
            layer = .batchNorm2d(channels: ch, eps: eps, momentum: momentum)
        case "linear":
            layer = .linear(inFeatures: try attrs.int("in_features", min: 1), outFeatures: try attrs.int("out_features", min: 1),
                            bias: try attrs.bool("bias", true))
        case "relu": layer = .relu
        case "tanh": layer = .tanh
        case "scaled_tanh": layer = .scaledTanh
        case "sigmoid": layer = .unary(.sigmoid)
        case "silu": layer = .unary(.silu)
        case "hardswish": layer = .unary(.hardswish)
        case "hardsigmoid": layer = .unary(.hardsigmoid(alpha: try attrs.float("alpha", 1.0 / 6), beta: try attrs.float("beta", 0.5)))
        case "clip":
            let lo = try attrs.float("min", -.infinity), hi = try attrs.float("max", .infinity)
            guard lo <= hi else { throw fail(path, "clip min \(lo) is above max \(hi)") }
            layer = .unary(.clip(min: lo, max: hi))
        case "leaky_relu": layer = .unary(.leakyReLU(alpha: try attrs.float("alpha", 0.01)))
        case "gelu":
            let approx = attrs["approximate"]
            switch approx {
            case nil, .string("none")?: layer = .unary(.gelu(tanh: false))
            case .string("tanh")?: layer = .unary(.gelu(tanh: true))
            default: throw fail(path, "gelu's \"approximate\" must be \"none\" or \"tanh\"")
            }
        case "erf": layer = .unary(.erf)
        case "sqrt": layer = .unary(.sqrt)
        case "exp": layer = .unary(.exp)
        case "log": layer = .unary(.log)
        case "neg": layer = .unary(.neg)
        case "abs": layer = .unary(.abs)
        case "reciprocal": layer = .unary(.reciprocal)
        case "constant": layer = .constant(shape: try attrs.ints("shape", min: 1))
        case "layer_norm":
            let axis = try attrs.int("axis", -1)
            guard axis != 0 else { throw fail(path, "layer_norm axis 0 (the batch axis) cannot be normalized") }
            let eps = try attrs.float("epsilon", 1e-5)
            guard eps > 0 else { throw fail(path, "epsilon must be positive; got \(eps)") }
            layer = .layerNorm(axis: axis, eps: eps, bias: try attrs.bool("bias", true))
        case "slice":
            let starts = try attrs.clampedInts("starts"), ends = try attrs.clampedInts("ends")
            let axes = attrs["axes"] == nil ? nil : try attrs.ints("axes")
            let steps = attrs["steps"] == nil ? nil : try attrs.clampedInts("steps")
            guard !starts.isEmpty else { throw fail(path, "slice needs at least one axis (\"starts\" is empty)") }
            guard ends.count == starts.count, (axes?.count ?? starts.count) == starts.count,
                  (steps?.count ?? starts.count) == starts.count else {
                throw fail(path, "\"starts\", \"ends\", \"axes\" and \"steps\" must have one entry per sliced axis")
            }
            if let steps, steps.contains(0) { throw fail(path, "slice steps must not be 0") }
            layer = .slice(starts: starts, ends: ends, axes: axes, steps: steps)
        case "gather":
            let axis = try attrs.int("axis")
            guard axis != 0 else { throw fail(path, "gather axis 0 (the batch axis) cannot be used") }
            let indices = try attrs.ints("indices")
            let shape = try attrs.ints("indices_shape", min: 1)
            var n = 1
            for d in shape { n = try Checked.mul(n, d, "graph: node \(Graph.describe(path)): indices_shape element count") }
            guard n == indices.count else {
                throw fail(path, "\"indices_shape\" \(shape) holds \(n) element\(n == 1 ? "" : "s") but \(indices.count) indices are given")
            }
            layer = .gather(axis: axis, indices: indices, indicesShape: shape)
        case "softmax": layer = .softmax(axis: try attrs.int("axis", 1))
        case "max_pool2d", "avg_pool2d":
            let k = try attrs.pair("kernel_shape", min: 1)
            let s = try attrs.pair("strides", k, min: 1)
            let p = try attrs.ints("pads", [0, 0, 0, 0], count: 4, min: 0)
            guard p[0] == p[2], p[1] == p[3] else {
                throw fail(path, "pooling pads \(p) must be symmetric (top == bottom, left == right)")
            }
            let ceil = try attrs.bool("ceil_mode", false)
            let countPad = op == "avg_pool2d" ? try attrs.bool("count_include_pad", true) : true
            let spec = PoolSpec(kernel: k, stride: s, padding: Size2D(p[0], p[1]), ceilMode: ceil, countIncludePad: countPad)
            layer = op == "max_pool2d" ? .maxPool2d(spec) : .avgPool2d(spec)
        case "adaptive_avg_pool2d": layer = .adaptiveAvgPool2d(try attrs.pair("output_size", min: 1))
        case "global_max_pool2d": layer = .globalMaxPool2d
        case "l2_normalize":
            let eps = try attrs.float("epsilon", 1e-12)
            guard eps.isFinite, eps >= 0 else { throw fail(path, "l2_normalize epsilon must be a finite number >= 0; got \(eps)") }
            layer = .l2Normalize(eps: eps)
        case "mean":
            layer = .mean(axes: try attrs.ints("axes"), keepDims: try attrs.bool("keepdims", true))
        case "lrn":
            layer = .localResponseNorm(size: try attrs.int("size", min: 1), alpha: try attrs.float("alpha", 1e-4),
                                       beta: try attrs.float("beta", 0.75), k: try attrs.float("bias", 1))
        case "dropout":
            let p = try attrs.float("ratio", 0.5)
            guard p >= 0, p < 1 else { throw fail(path, "dropout ratio must be in [0, 1); got \(p)") }
            layer = .dropout(p: p)
        case "flatten":
            guard try attrs.int("axis", 1) == 1 else { throw fail(path, "flatten supports axis 1 only") }
            layer = .flatten
        case "reshape": layer = .reshape(try attrs.ints("shape", min: -1))
        case "transpose": layer = .transpose(try attrs.ints("perm", min: 0))
        case "upsample":
            let mode: UpsampleMode
            switch attrs["mode"] {
            case nil, .string("nearest")?:
                mode = .nearest
            case .string("bilinear")?:
                mode = .bilinear(alignCorners: try attrs.bool("align_corners", false))
            default:
                throw fail(path, "upsample's \"mode\" must be \"nearest\" or \"bilinear\"")
            }
            var size: Size2D?
            var scales: [Double]?
            if attrs["sizes"] != nil { size = try attrs.pair("sizes", min: 1) }
            if let v = attrs["scales"] {
                guard case .array(let items) = v, items.count == 2 else { throw fail(path, "\"scales\" must hold two numbers") }
                scales = try items.map { item -> Double in
                    switch item {
                    case .integer(let i) where i > 0: return Double(i)
                    case .number(let d) where d > 0 && d.isFinite: return d
                    default: throw fail(path, "\"scales\" must hold two positive numbers")
                    }
                }
            }
            guard (size == nil) != (scales == nil) else { throw fail(path, "upsample takes exactly one of \"sizes\" and \"scales\"") }
            layer = .upsample(UpsampleSpec(mode: mode, size: size, scales: scales))
        case "upsample_like":
            switch attrs["mode"] {
            case nil, .string("nearest")?:
                layer = .upsampleLike(.nearest)
            case .string("bilinear")?:
                layer = .upsampleLike(.bilinear(alignCorners: try attrs.bool("align_corners", false)))
            default:
                throw fail(path, "upsample_like's \"mode\" must be \"nearest\" or \"bilinear\"")
            }
        case "zero_pad2d": layer = .zeroPad2d(try pads4("pads"))
        case "identity": layer = .identity
        case "add", "sub", "mul", "div": layer = .binary(BinaryOp(rawValue: op)!)
        case "concat": layer = .concatInputs(axis: try attrs.int("axis", 1))
        case "split": layer = .split(axis: try attrs.int("axis", 1), sizes: try attrs.ints("split", min: 1))
        case "subsampling": layer = .subsampling(channels: try attrs.int("channels", min: 1))
        case "partial_conv2d":
            let inC = try attrs.int("in_channels", min: 1)
            guard case .array(let rows)? = attrs["connections"] else { throw fail(path, "\"connections\" must be an array of arrays") }
            var conns: [[Int]] = []
            for r in rows {
                guard case .array(let items) = r else { throw fail(path, "\"connections\" must be an array of arrays") }
                conns.append(try items.map { item -> Int in
                    guard case .integer(let i) = item, i >= 0, i < inC else { throw fail(path, "a connection must be an input map index below \(inC)") }
                    return Int(i)
                })
            }
            guard !conns.isEmpty, conns.allSatisfy({ !$0.isEmpty }) else { throw fail(path, "every output map needs a connection") }
            layer = .partialConv2d(inChannels: inC, connections: conns, kernel: try attrs.int("kernel_size", min: 1))
        case "euclidean_rbf":
            layer = .euclideanRBF(features: try attrs.int("features", min: 1), classes: try attrs.int("classes", min: 1))
        case "sequential":
            layer = .sequential(try children("children"))
        case "branches":
            let list = try children("children")
            guard !list.isEmpty else { throw fail(path, "branches needs at least one child") }
            layer = .concat(list)
        case "residual":
            let body = try children("body")
            allowed.insert("shortcut")
            var shortcut: NamedLayer?
            if let s = fields["shortcut"], s != .null { shortcut = try node(s, parent: path, inGraph: false).0 }
            layer = .residual(body: body, shortcut: shortcut)
        case "graph":
            allowed.insert("graph")
            guard let gv = fields["graph"] else { throw fail(path, "\"graph\" is missing") }
            layer = .graph(try graph(gv, path: path))
        default:
            throw fail(path, "unknown op \(Graph.describe(op))")
        }
        try attrs.checkAllUsed(op)
        for (k, _) in pairs where !allowed.contains(k) {
            throw fail(path, "unknown field \"\(k)\" for op \(op)")
        }
        return (NamedLayer(name, layer), inputs)
    }

    mutating func graph(_ v: JSONValue, path: String) throws -> Graph {
        let pairs = try object(v, path, "\"graph\"")
        let fields = Dictionary(pairs, uniquingKeysWith: { a, _ in a })
        for (k, _) in pairs where !["inputs", "nodes", "outputs"].contains(k) {
            throw fail(path, "unknown field \"\(k)\" in \"graph\"")
        }
        func names(_ k: String) throws -> [String] {
            guard case .array(let items)? = fields[k] else { throw fail(path, "\"graph\".\"\(k)\" must be an array of names") }
            return try items.map { try string($0, path, "an entry of \"\(k)\"") }
        }
        guard case .array(let items)? = fields["nodes"] else { throw fail(path, "\"graph\".\"nodes\" must be an array of nodes") }
        var nodes: [GraphNode] = []
        for item in items {
            let (n, inputs) = try node(item, parent: path, inGraph: true)
            nodes.append(GraphNode(n.name, n.layer, inputs: inputs))
        }
        do {
            return try Graph(inputs: try names("inputs"), nodes: nodes, outputs: try names("outputs"),
                             context: "graph \(Graph.describe(path.isEmpty ? "(root)" : path))")
        } catch let e as SwiftCNNError where e.kind == .invalidArgument {
            throw SwiftCNNError.format(e.message)
        }
    }
}

extension Layer {
    /// Reads one node object (as ``jsonValue(name:)`` writes it); returns it with its name.
    public static func fromJSON(_ v: JSONValue) throws -> NamedLayer {
        var r = GraphReader()
        return try r.node(v, parent: "", inGraph: false).0
    }
}

extension Architecture {
    /// Reads an architecture from its JSON (docs/model-format.md), validating it whole:
    /// the schema version, every node and attribute, the graph's names and order, and shape
    /// inference for the input shape. Errors are `.format` (or `.shapeMismatch` for shapes
    /// that do not fit) and name the node.
    public static func fromJSON(_ v: JSONValue) throws -> Architecture {
        guard case .object(let pairs) = v else {
            throw SwiftCNNError.format("graph: the document must be an object; got \(v.typeDescription)")
        }
        let fields = Dictionary(pairs, uniquingKeysWith: { a, _ in a })
        for (k, _) in pairs where !["version", "name", "input_shape", "any_input_size", "network", "auxiliary_losses"].contains(k) {
            throw SwiftCNNError.format("graph: unknown field \"\(k)\"")
        }
        guard case .integer(let version)? = fields["version"] else {
            throw SwiftCNNError.format("graph: \"version\" must be an integer")
        }
        guard version >= 1 else { throw SwiftCNNError.format("graph: version \(version) does not exist") }
        guard version <= Int64(graphSchemaVersion) else {
            throw SwiftCNNError(.unsupported,
                "graph: schema version \(version) is newer than this library reads (\(graphSchemaVersion)); upgrade swiftcnn")
        }
        guard case .string(let name)? = fields["name"] else { throw SwiftCNNError.format("graph: \"name\" must be a string") }
        guard case .array(let shapeItems)? = fields["input_shape"] else {
            throw SwiftCNNError.format("graph: \"input_shape\" must be an array of positive integers")
        }
        let shape = try shapeItems.map { item -> Int in
            guard case .integer(let i) = item, i >= 1, i <= Int64(Int32.max) else {
                throw SwiftCNNError.format("graph: \"input_shape\" must hold positive integers; got \(GraphReader.show(item))")
            }
            return Int(i)
        }
        var any = false
        if let a = fields["any_input_size"] {
            guard case .bool(let b) = a else { throw SwiftCNNError.format("graph: \"any_input_size\" must be true or false") }
            any = b
        }
        guard let network = fields["network"] else { throw SwiftCNNError.format("graph: \"network\" is missing") }
        var reader = GraphReader()
        let root = try reader.node(network, parent: "", inGraph: false).0
        let arch = try Architecture(name: name, inputShape: shape, acceptsAnyInputSize: any,
                                    root: root.name.isEmpty ? root.layer : .sequential([root]))
        guard let auxField = fields["auxiliary_losses"] else { return arch }
        guard case .array(let items) = auxField else {
            throw SwiftCNNError.format("graph: \"auxiliary_losses\" must be an array of {\"output\", \"weight\"} objects")
        }
        let losses = try items.map { item -> AuxiliaryLoss in
            guard case .object(let p) = item, p.count == 2, case .string(let o)? = p.first(where: { $0.0 == "output" })?.1,
                  let w = p.first(where: { $0.0 == "weight" })?.1 else {
                throw SwiftCNNError.format("graph: each auxiliary loss must be {\"output\": name, \"weight\": number}; got \(GraphReader.show(item))")
            }
            let weight: Double
            switch w {
            case .integer(let i): weight = Double(i)
            case .number(let d): weight = d
            default: throw SwiftCNNError.format("graph: auxiliary loss \"\(o)\": \"weight\" must be a number")
            }
            return AuxiliaryLoss(output: o, weight: Float(weight))
        }
        do {
            return try arch.withAuxiliaryLosses(losses)
        } catch let e as SwiftCNNError {
            throw SwiftCNNError.format("graph: \(e.message)")
        }
    }

    /// ``fromJSON(_:)`` from text (integer literals beyond ±2^53, which only slice bounds
    /// accept, read as doubles).
    public static func fromJSON(_ text: String) throws -> Architecture {
        try fromJSON(try JSON.parse(text, maxBytes: 64 << 20, context: "graph JSON", largeIntegersAsNumbers: true))
    }
}
