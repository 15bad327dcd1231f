#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// A network as data.
//
// A zoo model is a tree of ``Layer`` values whose nodes carry the names PyTorch's modules
// have, so that a parameter's full name — the path of names joined by "." followed by
// "weight", "bias", "running_mean" or "running_var" — is its torchvision state_dict key
// (`features.0.weight`, `layer2.0.downsample.1.running_var`,
// `inception3a.branch2.1.conv.weight`). The same tree drives the forward pass
// (``Model/forward(_:)``), shape inference and validation, and the summary
// (``ModelSummary``). Layers hold no weights: a ``Model`` keeps them in a store keyed by
// those names.

/// A convolution's hyper-parameters (PyTorch's `nn.Conv2d`).
public struct ConvSpec: Equatable, Sendable {
    /// Input channels.
    public var inChannels: Int
    /// Output channels (filters).
    public var outChannels: Int
    /// Kernel height and width.
    public var kernel: Size2D
    /// Stride.
    public var stride: Size2D
    /// Zero padding, each side given separately.
    public var padding: Padding2D
    /// Spacing between kernel taps (1: dense).
    public var dilation: Size2D
    /// Channel groups: the weight is [out, in/groups, kh, kw]; groups == in channels is a
    /// depthwise convolution.
    public var groups: Int
    /// Whether the layer has a bias.
    public var bias: Bool

    /// A square convolution: `kernel`×`kernel`, stride `stride`, `padding` on every side.
    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0, bias: Bool = true) {
        self.init(inChannels, outChannels, kernel: Size2D(kernel), stride: Size2D(stride), padding: Padding2D(padding), bias: bias)
    }

    /// Any convolution.
    public init(_ inChannels: Int, _ outChannels: Int, kernel: Size2D, stride: Size2D = 1, padding: Padding2D = 0,
                dilation: Size2D = 1, groups: Int = 1, bias: Bool = true) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        self.bias = bias
    }

    /// The options the convolution functions take.
    public var options: Conv2DOptions {
        Conv2DOptions(stride: stride, padding: padding, dilation: dilation, groups: groups)
    }

    /// The weight's shape [out, in/groups, kh, kw] (groups validated by shape inference).
    public var weightShape: [Int] {
        [outChannels, groups >= 1 ? inChannels / groups : inChannels, kernel.h, kernel.w]
    }
}

/// A pooling window (PyTorch's `nn.MaxPool2d` / `nn.AvgPool2d`), kept as plain values so
/// that layers stay `Equatable`.
public struct PoolSpec: Equatable, Sendable {
    /// Window height and width.
    public var kernel: Size2D
    /// Stride.
    public var stride: Size2D
    /// Zero padding above and below (h), left and right (w); max pooling pads with −∞.
    public var padding: Size2D
    /// PyTorch's `ceil_mode`.
    public var ceilMode: Bool
    /// Average pooling only: whether padded positions count in the divisor (PyTorch's
    /// `count_include_pad`, default true).
    public var countIncludePad: Bool

    /// A square window.
    public init(kernel: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false) {
        self.init(kernel: Size2D(kernel), stride: stride.map { Size2D($0) }, padding: Size2D(padding), ceilMode: ceilMode)
    }

    /// Any window.
    public init(kernel: Size2D, stride: Size2D? = nil, padding: Size2D = Size2D(0), ceilMode: Bool = false,
                countIncludePad: Bool = true) {
        self.kernel = kernel
        self.stride = stride ?? kernel
        self.padding = padding
        self.ceilMode = ceilMode
        self.countIncludePad = countIncludePad
    }

    /// The options the pooling functions take.
    public var options: Pool2DOptions {
        Pool2DOptions(kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode, countIncludePad: countIncludePad)
    }
}

/// How ``Layer/upsample(_:)`` resizes: the output size, either given or from scale factors,
/// and the interpolation (PyTorch's `nn.Upsample`).
public struct UpsampleSpec: Equatable, Sendable {
    /// Nearest or bilinear (with align_corners).
    public var mode: UpsampleMode
    /// A fixed output height and width, or nil when ``scales`` are given.
    public var size: Size2D?
    /// Scale factors for height and width, or nil when ``size`` is given.
    public var scales: [Double]?

    /// See the properties; exactly one of `size` and `scales` is given (validated by shape inference).
    public init(mode: UpsampleMode, size: Size2D? = nil, scales: [Double]? = nil) {
        self.mode = mode
        self.size = size
        self.scales = scales
    }

    /// The output size for an input of `input`.
    func outputSize(_ input: Size2D, _ what: String) throws -> Size2D {
        if let size, scales == nil {
            guard size.h >= 1, size.w >= 1 else {
                throw SwiftCNNError.invalidArgument("\(what): upsample size must be at least 1×1; got \(size)")
            }
            return size
        }
        guard size == nil, let s = scales, s.count == 2, s.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw SwiftCNNError.invalidArgument("\(what): upsample takes either a size or two positive scales")
        }
        return try upsampleOutputSize(input: input, scales: (s[0], s[1]))
    }

    /// The scales the kernels map coordinates with (nil when a size was given).
    var kernelScales: (h: Double, w: Double)? {
        guard let s = scales, s.count == 2 else { return nil }
        return (s[0], s[1])
    }
}

/// A layer of a network, or a container of named layers.
public indirect enum Layer: Equatable, Sendable {
    /// `nn.Conv2d`: parameters `weight` [out, in, kh, kw] and, with a bias, `bias` [out].
    case conv2d(ConvSpec)
    /// `nn.BatchNorm2d` in inference mode: `weight`, `bias` (parameters) and `running_mean`,
    /// `running_var` (buffers), all [channels].
    case batchNorm2d(channels: Int, eps: Float, momentum: Float = 0.1)
    /// `nn.Linear`: `weight` [out, in] and optionally `bias` [out].
    case linear(inFeatures: Int, outFeatures: Int, bias: Bool)
    /// max(0, x).
    case relu
    /// tanh(x).
    case tanh
    /// LeCun's squashing function 1.7159 · tanh(2x/3) (LeNet-5 as published).
    case scaledTanh
    /// `nn.MaxPool2d`.
    case maxPool2d(PoolSpec)
    /// `nn.AvgPool2d` (count_include_pad = true).
    case avgPool2d(PoolSpec)
    /// `nn.AdaptiveAvgPool2d` to a fixed output size.
    case adaptiveAvgPool2d(Size2D)
    /// `nn.LocalResponseNorm`.
    case localResponseNorm(size: Int, alpha: Float, beta: Float, k: Float)
    /// `nn.Dropout`; the identity at inference.
    case dropout(p: Float)
    /// `torch.flatten(x, 1)`.
    case flatten
    /// LeNet-5's subsampling layer (S2, S4): per map, the sum of each 2×2 block times a
    /// trainable coefficient `weight` [channels] plus a trainable `bias` [channels].
    case subsampling(channels: Int)
    /// LeNet-5's C3: a 5×5 convolution in which output map `j` sees only the input maps
    /// `connections[j]`; `weight` [Σ|connections[j]|, k, k] holds the kernels map by map,
    /// inputs ascending; `bias` [connections.count].
    case partialConv2d(inChannels: Int, connections: [[Int]], kernel: Int)
    /// LeNet-5's output layer: y_i = Σ_j (x_j − codes[i, j])² with fixed codes
    /// [classes, features] that are a constant of the model, not a parameter.
    case euclideanRBF(features: Int, classes: Int)
    /// Children applied in order (`nn.Sequential`, or a module's attributes in forward order).
    case sequential([NamedLayer])
    /// A residual block: relu(body(x) + shortcut(x)); no shortcut means the identity.
    case residual(body: [NamedLayer], shortcut: NamedLayer?)
    /// Parallel branches whose outputs are concatenated along the channel axis (Inception).
    case concat([NamedLayer])

    /// An elementwise activation beyond ReLU/tanh (sigmoid, SiLU, hardswish, hardsigmoid,
    /// clip — ReLU6 —, leaky ReLU, GELU).
    case unary(UnaryOp)
    /// `nn.Softmax(dim: axis)`; the axis counts the batch axis (1: channels or features).
    case softmax(axis: Int)
    /// Max over each feature map: [C, H, W] → [C, 1, 1] (`nn.AdaptiveMaxPool2d(1)`).
    case globalMaxPool2d
    /// Mean over axes (counting the batch axis, which cannot be reduced).
    case mean(axes: [Int], keepDims: Bool)
    /// A new per-example shape with the same element count; one entry may be −1.
    case reshape([Int])
    /// Permutes the axes (counting the batch axis, which stays first: perm[0] == 0).
    case transpose([Int])
    /// `nn.Upsample`.
    case upsample(UpsampleSpec)
    /// `F.interpolate(x, size=ref.shape[-2:], mode=…)`: resizes its first input [C, h, w]
    /// to the height and width of its second input (any channels), for any input size
    /// (graph nodes only, inputs [x, ref]; the reference's values are not read and get no
    /// gradient). Segmentation heads use it to bring class scores back to the image's size.
    case upsampleLike(UpsampleMode)
    /// `nn.ZeroPad2d`.
    case zeroPad2d(Padding2D)
    /// The identity.
    case identity
    /// Elementwise add, sub, mul or div of two inputs with broadcasting (graph nodes only).
    case binary(BinaryOp)
    /// Its inputs concatenated along `axis` (graph nodes only).
    case concatInputs(axis: Int)
    /// Splits along `axis` into pieces of `sizes`: one output per piece (graph nodes only).
    case split(axis: Int, sizes: [Int])
    /// A directed acyclic graph of named nodes (see ``Graph``).
    case graph(Graph)
    /// A learned tensor with no input (graph nodes only, with `"inputs": []`): its output is
    /// [N] + `shape`, the same values for every example (N: the batch of the model's input).
    /// One trainable parameter whose full name is the node's path itself (no `weight`
    /// suffix: node `features.1.0.layer_scale` holds `features.1.0.layer_scale`), of
    /// `shape` (rank 1 to 3). Its gradient is the sum of the output's over the batch.
    case constant(shape: [Int])
    /// `nn.LayerNorm` (ONNX LayerNormalization): each example normalized over the axes from
    /// `axis` (counting the batch axis, which cannot be used; negative counts from the end)
    /// to the last, with the biased variance, then · `weight` + `bias` (parameters of the
    /// normalized axes' shape; `bias` only when `bias`). `shape` is that normalized shape:
    /// nil until an ``Architecture`` fixes it from its input shape (then checked for every
    /// input).
    case layerNorm(axis: Int, eps: Float, bias: Bool, shape: [Int]? = nil)
    /// ONNX Slice (opset 13): along each axis of `axes` (counting the batch axis, which
    /// cannot be sliced; nil: 1, 2, …, starts.count), the elements start, start + step, …
    /// before end. Negative starts and ends count from the end; both are clamped to the
    /// axis; a negative step walks backwards; nil steps are all 1. An empty result is an error.
    case slice(starts: [Int], ends: [Int], axes: [Int]?, steps: [Int]?)
    /// ONNX Gather: along `axis` (counting the batch axis, which cannot be used) the entries
    /// `indices` (negative count from the end) laid out as `indicesShape` (`[]`: one scalar
    /// index, which removes the axis). Output per example: shape[..<axis] + indicesShape +
    /// shape[axis+1...].
    case gather(axis: Int, indices: [Int], indicesShape: [Int])
    /// torch's `F.normalize(x, p=2, dim=1, eps)`: each position's channel vector divided by
    /// max(its Euclidean length, eps) (SSD's conv4_3 normalization; see ``l2Normalize(_:eps:)``).
    case l2Normalize(eps: Float)
}

/// A layer with its attribute name in the enclosing module (`"conv1"`, `"0"`, `"downsample"`).
public struct NamedLayer: Equatable, Sendable {
    /// The module's name; the empty string adds no component to parameter names.
    public var name: String
    /// The layer.
    public var layer: Layer

    /// `layer` named `name`.
    public init(_ name: String, _ layer: Layer) {
        self.name = name
        self.layer = layer
    }
}

/// One entry of a model's state dict.
public struct ParameterSpec: Equatable, Sendable {
    /// The full name, e.g. `layer1.0.bn1.running_var`.
    public var name: String
    /// Its shape.
    public var shape: [Int]
    /// Whether it is a buffer (batch norm's running statistics): in the state dict but not
    /// a trainable parameter, so not counted by `num_parameters`.
    public var isBuffer: Bool
}

extension Layer {
    /// `prefix.name`, or `name` alone at the root.
    static func join(_ prefix: String, _ name: String) -> String {
        if prefix.isEmpty { return name }
        if name.isEmpty { return prefix }
        return prefix + "." + name
    }

    /// The parameters and buffers of this layer and its children, in PyTorch's state_dict
    /// order, named under `prefix`.
    public func parameterSpecs(prefix: String) -> [ParameterSpec] {
        func p(_ n: String, _ s: [Int], buffer: Bool = false) -> ParameterSpec {
            ParameterSpec(name: Layer.join(prefix, n), shape: s, isBuffer: buffer)
        }
        switch self {
        case .conv2d(let c):
            var r = [p("weight", c.weightShape)]
            if c.bias { r.append(p("bias", [c.outChannels])) }
            return r
        case .batchNorm2d(let ch, _, _):
            return [p("weight", [ch]), p("bias", [ch]),
                    p("running_mean", [ch], buffer: true), p("running_var", [ch], buffer: true)]
        case .linear(let i, let o, let bias):
            return bias ? [p("weight", [o, i]), p("bias", [o])] : [p("weight", [o, i])]
        case .subsampling(let ch):
            return [p("weight", [ch]), p("bias", [ch])]
        case .partialConv2d(_, let connections, let k):
            let total = connections.reduce(0) { $0 + $1.count }
            return [p("weight", [total, k, k]), p("bias", [connections.count])]
        case .sequential(let children), .concat(let children):
            return children.flatMap { $0.layer.parameterSpecs(prefix: Layer.join(prefix, $0.name)) }
        case .residual(let body, let shortcut):
            var r = body.flatMap { $0.layer.parameterSpecs(prefix: Layer.join(prefix, $0.name)) }
            if let s = shortcut { r += s.layer.parameterSpecs(prefix: Layer.join(prefix, s.name)) }
            return r
        case .graph(let g):
            return g.nodes.flatMap { $0.layer.parameterSpecs(prefix: Layer.join(prefix, $0.name)) }
        case .constant(let shape):
            return [ParameterSpec(name: prefix, shape: shape, isBuffer: false)]
        case .layerNorm(_, _, let bias, let shape):
            // The normalized shape is known once an architecture has resolved it ([] before).
            let s = shape ?? []
            return bias ? [p("weight", s), p("bias", s)] : [p("weight", s)]
        case .slice, .gather:
            return []
        case .relu, .tanh, .scaledTanh, .maxPool2d, .avgPool2d, .adaptiveAvgPool2d,
             .localResponseNorm, .dropout, .flatten, .euclideanRBF, .unary, .softmax, .globalMaxPool2d,
             .mean, .reshape, .transpose, .upsample, .zeroPad2d, .identity, .binary, .concatInputs, .split, .upsampleLike,
             .l2Normalize:
            return []
        }
    }

    /// The constants (not parameters, not in the state dict) this layer needs: the RBF codes.
    func constantSpecs(prefix: String) -> [ParameterSpec] {
        switch self {
        case .euclideanRBF(let f, let c):
            return [ParameterSpec(name: Layer.join(prefix, "codes"), shape: [c, f], isBuffer: true)]
        case .sequential(let children), .concat(let children):
            return children.flatMap { $0.layer.constantSpecs(prefix: Layer.join(prefix, $0.name)) }
        case .residual(let body, let shortcut):
            var r = body.flatMap { $0.layer.constantSpecs(prefix: Layer.join(prefix, $0.name)) }
            if let s = shortcut { r += s.layer.constantSpecs(prefix: Layer.join(prefix, s.name)) }
            return r
        case .graph(let g):
            return g.nodes.flatMap { $0.layer.constantSpecs(prefix: Layer.join(prefix, $0.name)) }
        default:
            return []
        }
    }

    /// The PyTorch-like type name shown in summaries.
    public var typeName: String {
        switch self {
        case .conv2d: return "Conv2d"
        case .batchNorm2d: return "BatchNorm2d"
        case .linear: return "Linear"
        case .relu: return "ReLU"
        case .tanh: return "Tanh"
        case .scaledTanh: return "ScaledTanh"
        case .maxPool2d: return "MaxPool2d"
        case .avgPool2d: return "AvgPool2d"
        case .adaptiveAvgPool2d: return "AdaptiveAvgPool2d"
        case .localResponseNorm: return "LocalResponseNorm"
        case .dropout: return "Dropout"
        case .flatten: return "Flatten"
        case .subsampling: return "Subsampling"
        case .partialConv2d: return "PartialConv2d"
        case .euclideanRBF: return "EuclideanRBF"
        case .sequential: return "Sequential"
        case .residual: return "Residual"
        case .concat: return "Concat"
        case .unary(let op): return op.typeName
        case .softmax: return "Softmax"
        case .globalMaxPool2d: return "GlobalMaxPool2d"
        case .mean: return "Mean"
        case .reshape: return "Reshape"
        case .transpose: return "Transpose"
        case .upsample: return "Upsample"
        case .upsampleLike: return "UpsampleLike"
        case .zeroPad2d: return "ZeroPad2d"
        case .identity: return "Identity"
        case .binary(let op): return op.rawValue.prefix(1).uppercased() + op.rawValue.dropFirst()
        case .concatInputs: return "Cat"
        case .split: return "Split"
        case .graph: return "Graph"
        case .constant: return "Constant"
        case .layerNorm: return "LayerNorm"
        case .slice: return "Slice"
        case .gather: return "Gather"
        case .l2Normalize: return "L2Normalize"
        }
    }
}

// MARK: - Shape inference

/// The shape of one example (no batch axis) flowing through the network — [C, H, W]
/// before flattening, [features] after — with its receptive field.
struct FlowState {
    var shape: [Int]
    /// Receptive field height and width in input pixels; nil once every output sees the
    /// whole input (after flatten + linear).
    var rf: Size2D?
    /// Distance in input pixels between adjacent positions (product of strides).
    var jump: Size2D
}

/// One row of a summary: a leaf layer or the merge point of a container.
struct FlowRow {
    var name: String
    var type: String
    var shape: [Int]
    var params: Int
    var macs: Int
    var rf: Size2D?
}

/// Walks a layer tree with shapes only: validates that an input shape is accepted and
/// produces the rows of a summary. Overflow-checked; every failure throws.
struct ShapeWalker {
    var rows: [FlowRow] = []
    var recordRows: Bool
    /// The normalized shapes of the layer norms walked without one, by path (what
    /// ``Architecture`` fixes them to).
    var normalizedShapes: [String: [Int]] = [:]

    /// Output size of a convolution or pooling along one axis, PyTorch's formula:
    /// ⌊(n + pads − (k − 1) − 1 + (ceil ? s − 1 : 0)) / s⌋ + 1, minus one when ceil mode would
    /// start the last window past the input and left padding; at least 1.
    static func windowOutput(_ what: String, input n: Int, kernel k: Int, stride s: Int, padBefore: Int,
                             padAfter: Int, ceilMode: Bool = false) throws -> Int {
        let padded = try Checked.add(try Checked.add(n, padBefore), padAfter)
        guard k >= 1, s >= 1 else {
            throw SwiftCNNError.invalidArgument("\(what): kernel \(k) and stride \(s) must be at least 1")
        }
        var numerator = padded - k
        if ceilMode { numerator = try Checked.add(numerator, s - 1) }
        // Floor division (the numerator may be negative).
        var out = (numerator >= 0 ? numerator / s : -((-numerator + s - 1) / s)) + 1
        if ceilMode && out >= 1 && (out - 1) * s >= n + padBefore { out -= 1 }
        guard out >= 1 else {
            throw SwiftCNNError.shapeMismatch(
                "\(what): a window of \(k) does not fit an input of \(n) padded to \(padded)")
        }
        return out
    }

    mutating func walk(_ layer: Layer, name: String, _ st: FlowState) throws -> FlowState {
        func image(_ what: String) throws -> (c: Int, h: Int, w: Int) {
            guard st.shape.count == 3 else {
                throw SwiftCNNError.shapeMismatch(
                    "\(what): expects a [C, H, W] feature map per example; got \(Tensor.describe(st.shape))")
            }
            return (st.shape[0], st.shape[1], st.shape[2])
        }
        func grow(_ rf: Size2D?, _ jump: Size2D, kernel: Size2D, stride: Size2D) throws -> (Size2D?, Size2D) {
            let newJump = Size2D(try Checked.mul(jump.h, stride.h), try Checked.mul(jump.w, stride.w))
            guard let rf else { return (nil, newJump) }
            let h = try Checked.add(rf.h, try Checked.mul(kernel.h - 1, jump.h))
            let w = try Checked.add(rf.w, try Checked.mul(kernel.w - 1, jump.w))
            return (Size2D(h, w), newJump)
        }
        let label = name.isEmpty ? layer.typeName : name
        var out = st
        var params = 0
        var macs = 0
        switch layer {
        case .conv2d(let c):
            let (ch, h, w) = try image(label)
            guard ch == c.inChannels else {
                throw SwiftCNNError.shapeMismatch("\(label): expects \(c.inChannels) input channels; got \(ch)")
            }
            guard c.groups >= 1, c.inChannels % c.groups == 0, c.outChannels % c.groups == 0 else {
                throw SwiftCNNError.invalidArgument(
                    "\(label): groups (\(c.groups)) must be at least 1 and divide the input (\(c.inChannels)) and output (\(c.outChannels)) channels")
            }
            guard c.dilation.h >= 1, c.dilation.w >= 1, c.padding.top >= 0, c.padding.bottom >= 0,
                  c.padding.left >= 0, c.padding.right >= 0 else {
                throw SwiftCNNError.invalidArgument("\(label): dilation must be at least 1 and padding not negative")
            }
            guard c.kernel.h >= 1, c.kernel.w >= 1 else {
                throw SwiftCNNError.invalidArgument("\(label): kernel must be at least 1×1; got \(c.kernel)")
            }
            // The dilated kernel's extent, (k − 1)·d + 1.
            let ekh = try Checked.add(try Checked.mul(c.kernel.h - 1, c.dilation.h), 1)
            let ekw = try Checked.add(try Checked.mul(c.kernel.w - 1, c.dilation.w), 1)
            let oh = try ShapeWalker.windowOutput(label, input: h, kernel: ekh, stride: c.stride.h,
                                                  padBefore: c.padding.top, padAfter: c.padding.bottom)
            let ow = try ShapeWalker.windowOutput(label, input: w, kernel: ekw, stride: c.stride.w,
                                                  padBefore: c.padding.left, padAfter: c.padding.right)
            out.shape = [c.outChannels, oh, ow]
            (out.rf, out.jump) = try grow(st.rf, st.jump, kernel: Size2D(ekh, ekw), stride: c.stride)
            params = try conv2dParameterCount(inChannels: c.inChannels, outChannels: c.outChannels,
                                              kernel: c.kernel, groups: c.groups, bias: c.bias)
            macs = try conv2dMACs(inChannels: c.inChannels, outChannels: c.outChannels, kernel: c.kernel,
                                  groups: c.groups, output: Size2D(oh, ow))
        case .batchNorm2d(let channels, _, _):
            let (ch, _, _) = try image(label)
            guard ch == channels else {
                throw SwiftCNNError.shapeMismatch("\(label): expects \(channels) channels; got \(ch)")
            }
            params = try Checked.mul(2, channels)
        case .linear(let i, let o, let bias):
            // Any rank: the last axis holds the features ([..., in] → [..., out], nn.Linear).
            guard let last = st.shape.last, last == i else {
                throw SwiftCNNError.shapeMismatch(
                    "\(label): expects \(i) input features in the last axis; got \(Tensor.describe(st.shape))")
            }
            out.shape = st.shape.dropLast() + [o]
            if st.shape.count == 1 { out.rf = nil }
            params = try linearParameterCount(inFeatures: i, outFeatures: o, bias: bias)
            macs = try Checked.mul(try linearMACs(inFeatures: i, outFeatures: o),
                                   try Checked.product(Array(st.shape.dropLast()), "\(label): MACs"), "\(label): MACs")
        case .layerNorm(let axis, let eps, let bias, let shape):
            let i = try ShapeWalker.axis(axis, rank: st.shape.count, label)
            guard eps > 0, eps.isFinite else {
                throw SwiftCNNError.invalidArgument("\(label): epsilon must be positive and finite; got \(eps)")
            }
            let dims = Array(st.shape[(i - 1)...])
            if let shape {
                guard shape == dims else {
                    throw SwiftCNNError.shapeMismatch(
                        "\(label): normalizes \(Tensor.describe(shape)) (its weight's shape) but the axes from \(axis) on are \(Tensor.describe(dims)) (input \(Tensor.describe(st.shape)) per example)")
                }
            } else {
                normalizedShapes[name] = dims
            }
            let n = try Checked.product(dims, "\(label): parameter count")
            params = bias ? try Checked.mul(2, n) : n
        case .slice(let starts, let ends, let axes, let steps):
            let r = try ShapeWalker.sliceAxes(st.shape, starts: starts, ends: ends, axes: axes, steps: steps, label)
            out.shape = r.dropFirst().map { $0.count }
            if out.shape != st.shape { out.rf = nil }
        case .gather(let axis, let indices, let indicesShape):
            out.shape = try ShapeWalker.gatherShape(st.shape, axis: axis, indices: indices, indicesShape: indicesShape, label)
            out.rf = nil
        case .relu, .tanh, .scaledTanh, .dropout:
            break
        case .maxPool2d(let p), .avgPool2d(let p):
            let (ch, h, w) = try image(label)
            guard p.kernel.h >= 1, p.kernel.w >= 1, p.stride.h >= 1, p.stride.w >= 1, p.padding.h >= 0, p.padding.w >= 0,
                  p.padding.h <= p.kernel.h / 2, p.padding.w <= p.kernel.w / 2 else {
                throw SwiftCNNError.invalidArgument(
                    "\(label): bad pooling window: kernel \(p.kernel), stride \(p.stride), padding \(p.padding) (padding at most half the kernel)")
            }
            let oh = try ShapeWalker.windowOutput(label, input: h, kernel: p.kernel.h, stride: p.stride.h,
                                                  padBefore: p.padding.h, padAfter: p.padding.h, ceilMode: p.ceilMode)
            let ow = try ShapeWalker.windowOutput(label, input: w, kernel: p.kernel.w, stride: p.stride.w,
                                                  padBefore: p.padding.w, padAfter: p.padding.w, ceilMode: p.ceilMode)
            out.shape = [ch, oh, ow]
            (out.rf, out.jump) = try grow(st.rf, st.jump, kernel: p.kernel, stride: p.stride)
        case .adaptiveAvgPool2d(let size):
            let (ch, h, w) = try image(label)
            guard size.h >= 1, size.w >= 1 else {
                throw SwiftCNNError.invalidArgument("\(label): output size must be at least 1×1; got \(size)")
            }
            out.shape = [ch, size.h, size.w]
            // Receptive field: the largest window (torch's start = ⌊i·H/out⌋, end = ⌈(i+1)·H/out⌉)
            // with the stride ⌊H/out⌋ (at least 1): exact when out divides H.
            func window(_ n: Int, _ o: Int) -> Int {
                var k = 1
                for i in 0..<o {
                    let start = (i * n) / o
                    let end = ((i + 1) * n + o - 1) / o
                    k = max(k, end - start)
                }
                return k
            }
            (out.rf, out.jump) = try grow(st.rf, st.jump, kernel: Size2D(window(h, size.h), window(w, size.w)),
                                          stride: Size2D(max(1, h / size.h), max(1, w / size.w)))
        case .localResponseNorm:
            _ = try image(label)
        case .flatten:
            out.shape = [try Checked.product(st.shape, "\(label): feature count")]
        case .subsampling(let channels):
            let (ch, h, w) = try image(label)
            guard ch == channels else {
                throw SwiftCNNError.shapeMismatch("\(label): expects \(channels) maps; got \(ch)")
            }
            guard h >= 2, w >= 2 else {
                throw SwiftCNNError.shapeMismatch("\(label): needs maps of at least 2×2; got \(h)×\(w)")
            }
            out.shape = [ch, h / 2, w / 2]
            (out.rf, out.jump) = try grow(st.rf, st.jump, kernel: Size2D(2), stride: Size2D(2))
            params = try Checked.mul(2, channels)
            macs = try Checked.product([ch, h / 2, w / 2])
        case .partialConv2d(let inChannels, let connections, let k):
            let (ch, h, w) = try image(label)
            guard ch == inChannels else {
                throw SwiftCNNError.shapeMismatch("\(label): expects \(inChannels) input maps; got \(ch)")
            }
            let oh = try ShapeWalker.windowOutput(label, input: h, kernel: k, stride: 1, padBefore: 0, padAfter: 0)
            let ow = try ShapeWalker.windowOutput(label, input: w, kernel: k, stride: 1, padBefore: 0, padAfter: 0)
            out.shape = [connections.count, oh, ow]
            (out.rf, out.jump) = try grow(st.rf, st.jump, kernel: Size2D(k), stride: Size2D(1))
            let links = connections.reduce(0) { $0 + $1.count }
            params = try Checked.add(try Checked.product([links, k, k]), connections.count)
            macs = try Checked.product([links, k, k, oh, ow])
        case .euclideanRBF(let f, let classes):
            guard st.shape == [f] else {
                throw SwiftCNNError.shapeMismatch("\(label): expects \(f) features; got \(Tensor.describe(st.shape))")
            }
            out.shape = [classes]
            out.rf = nil
            macs = try Checked.mul(f, classes)
        case .unary, .identity:
            break
        case .softmax(let axis):
            _ = try ShapeWalker.axis(axis, rank: st.shape.count, label, allowBatch: true)
        case .l2Normalize(let eps):
            _ = try l2NormalizeDims([1] + st.shape, eps, label)
        case .globalMaxPool2d:
            let (ch, h, w) = try image(label)
            out.shape = [ch, 1, 1]
            (out.rf, out.jump) = try grow(st.rf, st.jump, kernel: Size2D(h, w), stride: Size2D(h, w))
        case .mean(let axes, let keepDims):
            var reduced = Set<Int>()
            for a in axes {
                let i = try ShapeWalker.axis(a, rank: st.shape.count, label)
                guard reduced.insert(i).inserted else {
                    throw SwiftCNNError.invalidArgument("\(label): axis \(a) is given twice")
                }
            }
            guard !axes.isEmpty else { throw SwiftCNNError.invalidArgument("\(label): mean needs at least one axis") }
            out.shape = st.shape.enumerated().compactMap { i, d in reduced.contains(i + 1) ? (keepDims ? 1 : nil) : d }
            if st.shape.count != 3 || reduced.contains(2) || reduced.contains(3) { out.rf = nil }
        case .reshape(let shape):
            out.shape = try ShapeWalker.reshaped(st.shape, to: shape, label)
            if out.shape.count != 3 { out.rf = nil }
        case .transpose(let perm):
            guard perm.count == st.shape.count + 1, perm.first == 0, Set(perm) == Set(0...st.shape.count) else {
                throw SwiftCNNError.invalidArgument(
                    "\(label): perm \(perm) must be a permutation of 0..<\(st.shape.count + 1) that keeps the batch axis first")
            }
            out.shape = perm.dropFirst().map { st.shape[$0 - 1] }
            if perm != Array(0...st.shape.count) { out.rf = nil }
        case .upsample(let u):
            let (ch, h, w) = try image(label)
            let size = try u.outputSize(Size2D(h, w), label)
            out.shape = [ch, size.h, size.w]
            _ = try Checked.product(out.shape, "\(label): output size")
        case .zeroPad2d(let p):
            let (ch, h, w) = try image(label)
            guard p.top >= 0, p.bottom >= 0, p.left >= 0, p.right >= 0 else {
                throw SwiftCNNError.invalidArgument("\(label): padding must not be negative; got \(p)")
            }
            out.shape = [ch, try Checked.add(try Checked.add(h, p.top), p.bottom),
                         try Checked.add(try Checked.add(w, p.left), p.right)]
            _ = try Checked.product(out.shape, "\(label): output size")
        case .binary, .concatInputs, .split, .graph, .constant, .upsampleLike:
            let outs = try walkNode(layer, name: name, [st])
            // A graph with several outputs passes its first on (the others are named nodes);
            // a split's pieces only make sense as graph values.
            guard outs.count == 1 || (layer.isGraph && !outs.isEmpty) else {
                throw SwiftCNNError.invalidArgument("\(label.isEmpty ? layer.typeName : label): \(layer.typeName) gives \(outs.count) outputs where one is expected")
            }
            return outs[0]
        case .sequential(let children):
            var s = st
            for child in children { s = try walk(child.layer, name: Layer.join(name, child.name), s) }
            return s
        case .residual(let body, let shortcut):
            var a = st
            for child in body { a = try walk(child.layer, name: Layer.join(name, child.name), a) }
            var b = st
            if let s = shortcut { b = try walk(s.layer, name: Layer.join(name, s.name), b) }
            guard a.shape == b.shape else {
                throw SwiftCNNError.shapeMismatch(
                    "\(label): residual shapes differ: \(Tensor.describe(a.shape)) and \(Tensor.describe(b.shape))")
            }
            out = FlowState(shape: a.shape, rf: ShapeWalker.maxRF(a.rf, b.rf), jump: a.jump)
            if recordRows { rows.append(FlowRow(name: label, type: "Add+ReLU", shape: out.shape, params: 0, macs: 0, rf: out.rf)) }
            return out
        case .concat(let branches):
            var shapes: [[Int]] = []
            var rf: Size2D? = Size2D(0)
            var channels = 0
            for b in branches {
                let r = try walk(b.layer, name: Layer.join(name, b.name), st)
                shapes.append(r.shape)
                rf = ShapeWalker.maxRF(rf, r.rf)
                out.jump = r.jump
                guard r.shape.count == 3 else {
                    throw SwiftCNNError.shapeMismatch("\(label): branch \(b.name) gives \(Tensor.describe(r.shape))")
                }
                channels = try Checked.add(channels, r.shape[0])
            }
            guard let first = shapes.first, shapes.allSatisfy({ $0.dropFirst() == first.dropFirst() }) else {
                throw SwiftCNNError.shapeMismatch(
                    "\(label): branch outputs cannot be concatenated: \(shapes.map(Tensor.describe).joined(separator: ", "))")
            }
            out.shape = [channels, first[1], first[2]]
            out.rf = rf
            if recordRows { rows.append(FlowRow(name: label, type: "Concat", shape: out.shape, params: 0, macs: 0, rf: out.rf)) }
            return out
        }
        if recordRows {
            rows.append(FlowRow(name: label, type: layer.typeName, shape: out.shape, params: params, macs: macs, rf: out.rf))
        }
        return out
    }

    static func maxRF(_ a: Size2D?, _ b: Size2D?) -> Size2D? {
        guard let a, let b else { return nil }
        return Size2D(max(a.h, b.h), max(a.w, b.w))
    }
}

extension Layer {
    /// This layer with the normalized shape of each layer norm that has none set from
    /// `shapes` (by path, as shape inference found them).
    func resolvingNormalizedShapes(_ shapes: [String: [Int]], prefix: String) throws -> Layer {
        func child(_ n: NamedLayer) throws -> NamedLayer {
            NamedLayer(n.name, try n.layer.resolvingNormalizedShapes(shapes, prefix: Layer.join(prefix, n.name)))
        }
        switch self {
        case .layerNorm(let axis, let eps, let bias, nil):
            guard let s = shapes[prefix] else { return self }
            return .layerNorm(axis: axis, eps: eps, bias: bias, shape: s)
        case .sequential(let c):
            return .sequential(try c.map(child))
        case .concat(let c):
            return .concat(try c.map(child))
        case .residual(let body, let shortcut):
            return .residual(body: try body.map(child), shortcut: try shortcut.map(child))
        case .graph(let g):
            let nodes = try g.nodes.map { n in
                GraphNode(n.name, try n.layer.resolvingNormalizedShapes(shapes, prefix: Layer.join(prefix, n.name)), inputs: n.inputs)
            }
            return .graph(try Graph(inputs: g.inputs, nodes: nodes, outputs: g.outputs))
        default:
            return self
        }
    }
}

extension Layer {
    /// The parameter names of the graph constants in this layer (``Layer/constant(shape:)``),
    /// which are their node paths under `prefix`.
    func graphConstantNames(prefix: String) -> Set<String> {
        switch self {
        case .constant:
            return [prefix]
        case .sequential(let c), .concat(let c):
            return c.reduce(into: Set<String>()) { $0.formUnion($1.layer.graphConstantNames(prefix: Layer.join(prefix, $1.name))) }
        case .residual(let body, let shortcut):
            var r = body.reduce(into: Set<String>()) { $0.formUnion($1.layer.graphConstantNames(prefix: Layer.join(prefix, $1.name))) }
            if let s = shortcut { r.formUnion(s.layer.graphConstantNames(prefix: Layer.join(prefix, s.name))) }
            return r
        case .graph(let g):
            return g.nodes.reduce(into: Set<String>()) { $0.formUnion($1.layer.graphConstantNames(prefix: Layer.join(prefix, $1.name))) }
        default:
            return []
        }
    }
}
