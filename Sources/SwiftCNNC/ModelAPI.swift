import CSwiftCNNTypes
import SwiftCNN

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Internal helpers (not exported)

/// The object behind an `scnn_model *`.
final class ModelBox {
    var model: Model
    /// C copies of the model's name and state-dict keys, made on first use, freed with the box.
    private var cName: UnsafeMutablePointer<CChar>?
    private var cKeys: [UnsafeMutablePointer<CChar>?]?

    /// C copies of node, input and output names, made on first use.
    private var cNodes: [UnsafeMutablePointer<CChar>?]?
    private var cIO: [[UnsafeMutablePointer<CChar>?]]?
    /// Names that were valid before scnn_model_replace: kept alive until the box is freed,
    /// so a stale pointer reads an old name rather than freed memory.
    private var retired: [UnsafeMutablePointer<CChar>?] = []

    init(_ model: Model) { self.model = model }

    /// The model's input and output names.
    var ioNames: (inputs: [String], outputs: [String]) {
        if case .graph(let g) = model.architecture.root { return (g.inputs, g.outputs) }
        return (["input"], ["output"])
    }

    func ioName(output: Bool, _ index: Int) -> UnsafePointer<CChar>? {
        if cIO == nil { cIO = [ioNames.inputs.map { strdup($0) }, ioNames.outputs.map { strdup($0) }] }
        guard let list = cIO?[output ? 1 : 0], list.indices.contains(index) else { return nil }
        return UnsafePointer(list[index])
    }

    /// Every name forward_outputs accepts.
    var nodeNames: [String] { model.architecture.outputNames }

    func nodeName(_ index: Int) -> UnsafePointer<CChar>? {
        if cNodes == nil { cNodes = nodeNames.map { strdup($0) } }
        guard let list = cNodes, list.indices.contains(index) else { return nil }
        return UnsafePointer(list[index])
    }

    /// Installs a structurally different model (replace): name caches are rebuilt.
    func replaceModel(_ m: Model) {
        model = m
        retired += (cKeys ?? []) + (cNodes ?? []) + (cIO ?? []).flatMap { $0 }
        cKeys = nil
        cNodes = nil
        cIO = nil
    }

    var name: UnsafePointer<CChar>? {
        if cName == nil { cName = strdup(model.name) }
        return UnsafePointer(cName)
    }

    func key(_ index: Int) -> UnsafePointer<CChar>? {
        if cKeys == nil { cKeys = model.parameterSpecs.map { strdup($0.name) } }
        guard let keys = cKeys, keys.indices.contains(index) else { return nil }
        return UnsafePointer(keys[index])
    }

    deinit {
        free(cName)
        for k in cKeys ?? [] { free(k) }
        for k in cNodes ?? [] { free(k) }
        for k in (cIO ?? []).flatMap({ $0 }) { free(k) }
        for k in retired { free(k) }
    }
}

typealias ModelHandle = UnsafeMutablePointer<scnn_model>

func modelBox(_ handle: UnsafePointer<scnn_model>) -> ModelBox {
    Unmanaged<ModelBox>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
}

/// The box behind a model handle, or an invalid-argument error when it is NULL.
func modelArg(_ handle: UnsafePointer<scnn_model>?) throws -> ModelBox {
    modelBox(try required(handle, "model"))
}

/// A path argument as the caller's bytes (never re-encoded), or an error when NULL or empty.
func pathArg(_ p: UnsafePointer<CChar>?, _ name: String = "path") throws -> FilePath {
    let path = FilePath(cString: try required(p, name))
    guard !path.bytes.isEmpty else { throw SwiftCNNError.invalidArgument("\(name) is empty") }
    return path
}

/// A C string argument as a Swift string (invalid UTF-8 is repaired), or an error when NULL.
func stringArg(_ p: UnsafePointer<CChar>?, _ name: String) throws -> String {
    String(cString: try required(p, name))
}

/// NUL-terminated C copies of a list of strings, made once and never freed.
final class StaticCStrings: @unchecked Sendable {
    let pointers: UnsafeMutablePointer<UnsafePointer<CChar>?>
    let count: Int
    init(_ strings: [String]) {
        count = strings.count
        pointers = .allocate(capacity: strings.count + 1)
        for (i, s) in strings.enumerated() { pointers[i] = UnsafePointer(strdup(s)) }
        pointers[strings.count] = nil
    }
    func at(_ index: Int) -> UnsafePointer<CChar>? {
        index >= 0 && index < count ? pointers[index] : nil
    }
}

let zooNames = StaticCStrings(Zoo.names)
let imagenetLabels = StaticCStrings(ImageNet.classes)

/// The shape [N, C, H, W] given by `shape`/`rank` (validated by the model).
func modelInputShape(_ shape: UnsafePointer<Int64>?, _ rank: Int32) throws -> [Int] {
    guard rank >= 1 && rank <= 8 else {
        throw SwiftCNNError.shapeMismatch("input shape: rank must be 4 ([N, C, H, W]); got \(rank)")
    }
    let p = try required(shape, "shape")
    return (0..<Int(rank)).map { Int(p[$0]) }
}

// MARK: - Model zoo

/// Number of models in the zoo (26: the 20 classifiers, then alexnet_grouped,
/// googlenet_original and the four segmentation models).
@c(scnn_model_count)
public func scnnModelCount() -> Int32 {
    Int32(zooNames.count)
}

/// The name of zoo model `index` (0 to scnn_model_count() - 1), e.g. "resnet50"; NULL for an
/// index out of range. The string is static: never freed.
@c(scnn_model_name)
public func scnnModelName(_ index: Int32) -> UnsafePointer<CChar>? {
    zooNames.at(Int(index))
}

/// Every zoo model name as a static NULL-terminated array of static strings (never freed):
/// lenet5, lenet5_original, alexnet, alexnet_lrn, vgg11, vgg11_lrn, vgg13, vgg16_c, vgg16,
/// vgg19, vgg11_bn, vgg13_bn, vgg16_bn, vgg19_bn, googlenet, resnet18, resnet34, resnet50,
/// resnet101, resnet152, alexnet_grouped, googlenet_original, fcn_resnet50, fcn_resnet50_aux,
/// deeplabv3_resnet50, deeplabv3_resnet50_aux.
@c(scnn_model_names)
public func scnnModelNames() -> UnsafePointer<UnsafePointer<CChar>?> {
    UnsafePointer(zooNames.pointers)
}

/// The class count model `name` has by default (10 for the LeNets, 21 for the
/// segmentation models, 1000 otherwise) in *out.
/// Errors: INVALID_ARGUMENT (NULL pointer, unknown name).
@c(scnn_model_default_num_classes)
public func scnnModelDefaultNumClasses(_ name: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<Int64>?) -> scnn_status {
    guarded {
        let o = try required(out, "out")
        let n = try stringArg(name, "name")
        _ = try Zoo.architecture(n)
        o.pointee = Int64(Zoo.defaultNumClasses(n))
    }
}

/// Creates zoo model `name` with `num_classes` outputs (>= 1) and deterministic seeded
/// weights (swiftcnn seeded init v1, seed 0: not trained; load weights with scnn_model_load).
/// On success *out is a new model freed with scnn_model_destroy; NULL on failure.
/// Errors: INVALID_ARGUMENT (NULL pointer, unknown name — the message lists the names —,
/// num_classes < 1), OUT_OF_MEMORY.
@c(scnn_model_create)
public func scnnModelCreate(
    _ name: UnsafePointer<CChar>?, _ num_classes: Int64, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_model>?>?
) -> scnn_status {
    guarded {
        let o = try required(out, "out")
        o.pointee = nil
        let n = try stringArg(name, "name")
        guard num_classes >= 1 && num_classes <= Int64(Int32.max) else {
            throw SwiftCNNError.invalidArgument("\(n): num_classes must be 1 to \(Int32.max); got \(num_classes)")
        }
        let model = try Zoo.create(n, numClasses: Int(num_classes))
        o.pointee = Unmanaged.passRetained(ModelBox(model)).toOpaque().assumingMemoryBound(to: scnn_model.self)
    }
}

/// Frees a model. NULL is a no-op.
@c(scnn_model_destroy)
public func scnnModelDestroy(_ model: UnsafeMutablePointer<scnn_model>?) {
    guard let model else { return }
    Unmanaged<ModelBox>.fromOpaque(UnsafeRawPointer(model)).release()
}

/// The model's zoo name; valid until the model is destroyed. NULL for NULL.
@c(scnn_model_get_name)
public func scnnModelGetName(_ model: UnsafePointer<scnn_model>?) -> UnsafePointer<CChar>? {
    guard let model else { return nil }
    return modelBox(model).name
}

/// The model's number of outputs; 0 for NULL.
@c(scnn_model_num_classes)
public func scnnModelNumClasses(_ model: UnsafePointer<scnn_model>?) -> Int64 {
    guard let model else { return 0 }
    return Int64(modelBox(model).model.numClasses)
}

/// The number of trainable parameters (batch-norm running statistics not counted), as
/// PyTorch's `sum(p.numel() for p in model.parameters())`; 0 for NULL.
@c(scnn_model_num_parameters)
public func scnnModelNumParameters(_ model: UnsafePointer<scnn_model>?) -> Int64 {
    guard let model else { return 0 }
    return Int64(modelBox(model).model.numParameters)
}

/// The input shape the model was designed for, with batch 1: writes 4 values
/// [1, C, H, W] to `shape` (models with other input ranks: as many values as
/// scnn_model_io_shape reports, at most 4 — a larger rank is INVALID_ARGUMENT), and to `min_hw` (NULL: not wanted) 2 values: the smallest H and
/// W it accepts (equal to H and W for fixed-size models).
/// Errors: INVALID_ARGUMENT (NULL model or shape).
@c(scnn_model_input_shape)
public func scnnModelInputShape(
    _ model: UnsafePointer<scnn_model>?, _ shape: UnsafeMutablePointer<Int64>?, _ min_hw: UnsafeMutablePointer<Int64>?
) -> scnn_status {
    guarded {
        let arch = try modelArg(model).model.architecture
        let s = try required(shape, "shape")
        let nominal = arch.nominalInputShape(batch: 1)
        guard nominal.count <= 4 else {
            throw SwiftCNNError.invalidArgument("\(arch.name): the input has rank \(nominal.count); use scnn_model_io_shape")
        }
        for (i, d) in nominal.enumerated() { s[i] = Int64(d) }
        if let min_hw {
            let m = arch.minimumInputSize()
            min_hw[0] = Int64(m.h)
            min_hw[1] = Int64(m.w)
        }
    }
}

/// The output shape [N, num_classes] for an input shape ([N, C, H, W], `rank` values),
/// written to `out_shape` (2 values for classifiers; scnn_model_io_shape gives the rank of
/// other outputs). Errors: INVALID_ARGUMENT (NULL pointer),
/// SHAPE_MISMATCH (the model does not take that input: the message says what it expects).
@c(scnn_model_output_shape)
public func scnnModelOutputShape(
    _ model: UnsafePointer<scnn_model>?, _ input_shape: UnsafePointer<Int64>?, _ rank: Int32,
    _ out_shape: UnsafeMutablePointer<Int64>?
) -> scnn_status {
    guarded {
        let m = try modelArg(model).model
        let o = try required(out_shape, "out_shape")
        let s = try m.outputShape(forInput: try modelInputShape(input_shape, rank))
        for (i, d) in s.enumerated() { o[i] = Int64(d) }
    }
}

// MARK: - Model inference

/// Runs the model on a caller's NCHW float buffer: `input` holds the product of `shape`
/// (`rank` values, [N, C, H, W], any N) floats, read without copying; the logits
/// [N, num_classes] (row-major) are written to `output`, which has room for
/// `output_capacity` floats. The shape and the capacity are checked before any work.
/// lenet5_original outputs RBF penalties (lower is better) instead of logits.
/// Errors: INVALID_ARGUMENT (NULL pointer), SHAPE_MISMATCH (the model does not take that
/// input — the message says what it expects — or output_capacity < N × num_classes),
/// OUT_OF_MEMORY.
@c(scnn_model_forward)
public func scnnModelForward(
    _ model: UnsafePointer<scnn_model>?, _ input: UnsafePointer<Float>?, _ shape: UnsafePointer<Int64>?,
    _ rank: Int32, _ output: UnsafeMutablePointer<Float>?, _ output_capacity: Int64
) -> scnn_status {
    guarded {
        let m = try modelArg(model).model
        let s = try modelInputShape(shape, rank)
        let outShape = try m.outputShape(forInput: s)
        let needed = try Checked.product(outShape)
        let dst = try required(output, "output")
        let src = try required(input, "input")
        guard output_capacity >= Int64(needed) else {
            throw SwiftCNNError.shapeMismatch(
                "\(m.name): output holds \(output_capacity) floats; the logits \(Tensor.describe(outShape)) need \(needed)")
        }
        let x = try Tensor(borrowing: src, count: try Checked.product(s), shape: s)
        try m.forward(x, into: dst, capacity: needed)
    }
}

/// Runs the model on a tensor [N, C, H, W]. *out is a new tensor [N, num_classes] freed
/// with scnn_tensor_destroy; NULL on failure. Errors as scnn_model_forward.
@c(scnn_model_forward_tensor)
public func scnnModelForwardTensor(
    _ model: UnsafePointer<scnn_model>?, _ input: UnsafePointer<scnn_tensor>?,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) {
        let m = try modelArg(model).model
        return try m.forward(try tensorArg(input, "input"))
    }
}

/// A Keras-like summary table as text: for every layer its name, type, output shape,
/// parameters, multiply-accumulates per example and receptive field, then the totals.
/// input_shape: 4 values [N, C, H, W] (the model's input rank, see scnn_model_io_shape), or
/// NULL for the model's design size with N = 1.
/// On success *out is a new NUL-terminated string freed with scnn_string_free; NULL on failure.
/// Errors: INVALID_ARGUMENT (NULL model or out), SHAPE_MISMATCH (input shape not accepted),
/// OUT_OF_MEMORY.
@c(scnn_model_summary)
public func scnnModelSummary(
    _ model: UnsafePointer<scnn_model>?, _ input_shape: UnsafePointer<Int64>?,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> scnn_status {
    guarded {
        let o = try required(out, "out")
        o.pointee = nil
        let m = try modelArg(model).model
        let shape = optionalInts(input_shape, count: m.architecture.inputShape.count + 1)
        let text = try m.summary(inputShape: shape).text
        guard let copy = strdup(text) else { throw SwiftCNNError.outOfMemory("summary: could not copy \(text.utf8.count) bytes") }
        o.pointee = copy
    }
}

/// The model's multiply-accumulate count per example (one image of the batch) for an input
/// shape, as the total of scnn_model_summary's MACs column: convolutions and linear layers
/// (and LeNet-5's own layers); activations, pooling, normalization and additions count 0.
/// A forward pass of batch N does N x *out MACs (2 FLOP each). input_shape: (the input rank) values
/// [N, C, H, W], or NULL for the model's design size with N = 1. Writes *out (0 on failure).
/// Errors: INVALID_ARGUMENT (NULL model or out), SHAPE_MISMATCH (input shape not accepted).
@c(scnn_model_macs)
public func scnnModelMacs(
    _ model: UnsafePointer<scnn_model>?, _ input_shape: UnsafePointer<Int64>?,
    _ out: UnsafeMutablePointer<Int64>?
) -> scnn_status {
    guarded {
        let o = try required(out, "out")
        o.pointee = 0
        let m = try modelArg(model).model
        let shape = optionalInts(input_shape, count: m.architecture.inputShape.count + 1)
        o.pointee = Int64(try m.summary(inputShape: shape).totalMACs)
    }
}

/// Frees a string returned by this library (e.g. by scnn_model_summary). NULL is a no-op.
@c(scnn_string_free)
public func scnnStringFree(_ s: UnsafeMutablePointer<CChar>?) {
    free(s)
}

// MARK: - Model weights

/// Loads weights from a safetensors file with PyTorch/torchvision state_dict names (e.g. a
/// file written by `safetensors.torch.save_file(model.state_dict(), path)`). F32, F16, BF16
/// and F64 tensors load (converted to float32). Strict: every key of the model must be
/// present, no other key may be (`num_batches_tracked` entries are ignored), every shape
/// must match; on any error the model is unchanged and the message names the key and both
/// shapes. `path` is taken byte for byte and must name a regular file (see "Paths" and
/// "Files" at the top). Errors: INVALID_ARGUMENT (NULL pointer, empty path), IO (cannot
/// read the file; not a regular file), FORMAT
/// (malformed file), SHAPE_MISMATCH (missing/unexpected key or wrong shape), UNSUPPORTED
/// (unsupported dtype or rank), OUT_OF_MEMORY.
@c(scnn_model_load)
public func scnnModelLoad(_ model: UnsafeMutablePointer<scnn_model>?, _ path: UnsafePointer<CChar>?) -> scnn_status {
    guarded {
        let box = try modelArg(model)
        let p = try pathArg(path)
        var m = box.model
        try m.load(path: p)
        box.model = m
    }
}

/// Saves the weights (parameters and batch-norm running statistics, float32, PyTorch's names
/// and order) to a safetensors file, atomically: a temporary file is written, synced and
/// renamed over `path`, so a failure leaves any existing file intact. `num_batches_tracked`
/// is not written (PyTorch's load_state_dict accepts its absence).
/// A killed save leaves no partial file (see "Files" at the top); `path` is taken byte for byte.
/// Errors: INVALID_ARGUMENT (NULL pointer, empty path), IO (cannot write; path is a
/// directory or another special file), OUT_OF_MEMORY.
@c(scnn_model_save)
public func scnnModelSave(_ model: UnsafePointer<scnn_model>?, _ path: UnsafePointer<CChar>?) -> scnn_status {
    guarded {
        let m = try modelArg(model).model
        try m.save(path: try pathArg(path))
    }
}

/// Replaces every weight with swiftcnn seeded init v1's values for `seed` (the generator the
/// parity fixtures use; see scripts/weightgen.py). Errors: INVALID_ARGUMENT (NULL), OUT_OF_MEMORY.
@c(scnn_model_init_seeded)
public func scnnModelInitSeeded(_ model: UnsafeMutablePointer<scnn_model>?, _ seed: UInt64) -> scnn_status {
    guarded {
        let box = try modelArg(model)
        var m = box.model
        try m.initializeSeeded(seed: seed)
        box.model = m
    }
}

/// Number of state-dict entries (parameters and buffers, without num_batches_tracked); 0 for NULL.
@c(scnn_model_parameter_count)
public func scnnModelParameterCount(_ model: UnsafePointer<scnn_model>?) -> Int64 {
    guard let model else { return 0 }
    return Int64(modelBox(model).model.parameterSpecs.count)
}

/// The state-dict key of entry `index` (0 to scnn_model_parameter_count() - 1) in PyTorch's
/// order, e.g. "layer1.0.bn1.running_var"; NULL for NULL or an index out of range. Valid
/// until the model is destroyed.
@c(scnn_model_parameter_name)
public func scnnModelParameterName(_ model: UnsafePointer<scnn_model>?, _ index: Int64) -> UnsafePointer<CChar>? {
    guard let model, index >= 0, index < Int64(Int.max) else { return nil }
    return modelBox(model).key(Int(index))
}

/// 1 when entry `index` is a buffer (batch norm's running_mean / running_var: in the state
/// dict, not a trainable parameter), 0 when it is a parameter, -1 for NULL or a bad index.
@c(scnn_model_parameter_is_buffer)
public func scnnModelParameterIsBuffer(_ model: UnsafePointer<scnn_model>?, _ index: Int64) -> Int32 {
    guard let model else { return -1 }
    let specs = modelBox(model).model.parameterSpecs
    guard index >= 0 && index < Int64(specs.count) else { return -1 }
    return specs[Int(index)].isBuffer ? 1 : 0
}

/// The state-dict entry `name` as a new tensor in *out (freed with scnn_tensor_destroy; a
/// copy: writing to it does not change the model). NULL on failure.
/// Errors: INVALID_ARGUMENT (NULL pointer, no such key), OUT_OF_MEMORY.
@c(scnn_model_get_parameter)
public func scnnModelGetParameter(
    _ model: UnsafePointer<scnn_model>?, _ name: UnsafePointer<CChar>?,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) {
        let m = try modelArg(model).model
        return try m.parameter(try stringArg(name, "name"))
    }
}

/// Replaces the state-dict entry `name` with a copy of `value`, whose shape must equal the
/// entry's. Errors: INVALID_ARGUMENT (NULL pointer, no such key), SHAPE_MISMATCH (the
/// message gives both shapes), OUT_OF_MEMORY.
@c(scnn_model_set_parameter)
public func scnnModelSetParameter(
    _ model: UnsafeMutablePointer<scnn_model>?, _ name: UnsafePointer<CChar>?, _ value: UnsafePointer<scnn_tensor>?
) -> scnn_status {
    guarded {
        let box = try modelArg(model)
        let key = try stringArg(name, "name")
        let v = try tensorArg(value, "value")
        var m = box.model
        try m.setParameter(key, v)
        box.model = m
    }
}

/// Loads a whole state dict: `count` keys and tensors (copied). strict != 0: every key of
/// the model must be given, no other key may be (`*num_batches_tracked` is ignored);
/// strict == 0: missing and unknown keys are ignored. Shapes must match either way. On any
/// error nothing changes. Errors: INVALID_ARGUMENT (NULL pointer or element, count < 0,
/// a key given twice), SHAPE_MISMATCH (missing/unexpected key, wrong shape: the message
/// names the key and both shapes), OUT_OF_MEMORY.
@c(scnn_model_load_state_dict)
public func scnnModelLoadStateDict(
    _ model: UnsafeMutablePointer<scnn_model>?, _ names: UnsafePointer<UnsafePointer<CChar>?>?,
    _ tensors: UnsafePointer<UnsafePointer<scnn_tensor>?>?, _ count: Int64, _ strict: Int32
) -> scnn_status {
    guarded {
        let box = try modelArg(model)
        guard count >= 0 else { throw SwiftCNNError.invalidArgument("count must be >= 0; got \(count)") }
        var dict: [String: Tensor] = [:]
        if count > 0 {
            let ns = try required(names, "names")
            let ts = try required(tensors, "tensors")
            for i in 0..<Int(count) {
                let key = try stringArg(ns[i], "names[\(i)]")
                let t = try tensorArg(ts[i], "tensors[\(i)] (\(key))")
                guard dict[key] == nil else { throw SwiftCNNError.invalidArgument("key \"\(key)\" given twice") }
                dict[key] = t
            }
        }
        var m = box.model
        try m.loadStateDict(dict, strict: flag(strict))
        box.model = m
    }
}

// MARK: - Seeded weights and inputs

/// A tensor from swiftcnn seeded init v1 (the generator of the parity fixtures; see
/// scripts/weightgen.py): element i of the tensor `name` is uniform in [lo, hi), drawn from
/// splitmix64 keyed by the FNV-1a hash of `name` XOR `seed`. scnn_seeded_tensor("input",
/// shape, 4, -1, 1, 0, &t) is the fixtures' model input. *out is a new tensor freed with
/// scnn_tensor_destroy; NULL on failure. Errors: INVALID_ARGUMENT (NULL pointer, bad shape,
/// lo or hi not finite, hi < lo, or bounds whose float32 values are not finite: |lo|, |hi|
/// or hi - lo beyond float32's largest value, about 3.4e38), OUT_OF_MEMORY.
@c(scnn_seeded_tensor)
public func scnnSeededTensor(
    _ name: UnsafePointer<CChar>?, _ shape: UnsafePointer<Int64>?, _ rank: Int32, _ lo: Double, _ hi: Double,
    _ seed: UInt64, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    produce(out) {
        let n = try stringArg(name, "name")
        let s = try shapeArg(shape, rank)
        return try SeededInit.tensor(name: n, shape: s, lo: lo, hi: hi, seed: seed)
    }
}

// MARK: - ImageNet labels

/// Number of ImageNet-1k class labels (1000).
@c(scnn_imagenet_class_count)
public func scnnImagenetClassCount() -> Int32 {
    Int32(imagenetLabels.count)
}

/// The ImageNet-1k label of class `index` (0 to 999, torchvision's order, e.g. 0 → "tench",
/// 207 → "golden retriever"); NULL out of range. The string is static: never freed.
@c(scnn_imagenet_class)
public func scnnImagenetClass(_ index: Int32) -> UnsafePointer<CChar>? {
    imagenetLabels.at(Int(index))
}

// MARK: - Model files, graphs and fine-tuning

/// Stores a new handle for `model` in `*out` (set to NULL first).
func produceModel(_ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_model>?>?, _ make: () throws -> Model) -> scnn_status {
    guarded {
        let o = try required(out, "out")
        o.pointee = nil
        let m = try make()
        o.pointee = Unmanaged.passRetained(ModelBox(m)).toOpaque().assumingMemoryBound(to: scnn_model.self)
    }
}

/// A new C string for `s`, or an out-of-memory error.
func copyString(_ s: String, _ what: String) throws -> UnsafeMutablePointer<CChar> {
    guard let c = strdup(s) else { throw SwiftCNNError.outOfMemory("\(what): could not copy \(s.utf8.count) bytes") }
    return c
}

/// Opens a self-describing model file (see docs/model-format.md: a safetensors file
/// whose metadata holds the network as JSON, as scnn_model_save writes): the network and
/// its weights, no zoo name needed. The whole file is validated before a model is made.
/// On success *out is a new model freed with scnn_model_destroy; NULL on failure. A
/// weights-only file (torchvision's) is a FORMAT error: create the model with
/// scnn_model_create and scnn_model_load it. `path` is taken byte for byte (see "Paths").
/// Errors: INVALID_ARGUMENT (NULL pointer, empty path), IO (cannot read; not a regular
/// file), FORMAT (malformed file or graph: the message names the node), SHAPE_MISMATCH
/// (weights that do not match the graph, layers whose shapes do not fit), UNSUPPORTED
/// (a file version newer than this library), OUT_OF_MEMORY.
@c(scnn_model_open)
public func scnnModelOpen(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_model>?>?) -> scnn_status {
    produceModel(out) { try Model.open(path: try pathArg(path)) }
}

/// scnn_model_open from a model file held in memory: `size` bytes at `data` (copied as
/// needed; the caller keeps ownership). Opening the bytes of a file gives the same model
/// as opening the file. Errors as scnn_model_open, INVALID_ARGUMENT for a NULL data
/// pointer or a negative size.
@c(scnn_model_open_memory)
public func scnnModelOpenMemory(
    _ data: UnsafeRawPointer?, _ size: Int64, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_model>?>?
) -> scnn_status {
    produceModel(out) {
        let d = try required(data, "data")
        guard size >= 0, size <= Int64(Int.max) else { throw SwiftCNNError.invalidArgument("size must not be negative; got \(size)") }
        return try Model.open(bytes: UnsafeRawBufferPointer(start: d, count: Int(size)))
    }
}

/// A model from the JSON of its network alone (the "graph" document of
/// docs/model-format.md), with deterministic seeded weights (seed 0; not trained).
/// Validated whole: errors name the node. *out is a new model (scnn_model_destroy), NULL on
/// failure. Errors: INVALID_ARGUMENT (NULL pointer), FORMAT (malformed JSON, unknown op or
/// attribute, dangling or duplicate name, cycle), SHAPE_MISMATCH (shapes that do not fit),
/// UNSUPPORTED (a schema version newer than this library), OUT_OF_MEMORY.
@c(scnn_model_from_json)
public func scnnModelFromJson(_ json: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_model>?>?) -> scnn_status {
    produceModel(out) {
        let text = try required(json, "json")
        let bytes = UnsafeRawBufferPointer(start: UnsafeRawPointer(text), count: strlen(text))
        let v = try JSON.parse(bytes, maxBytes: 64 << 20, context: "graph JSON", largeIntegersAsNumbers: true)
        return try Model(try Architecture.fromJSON(v))
    }
}

/// The model's network as JSON (the "graph" document of docs/model-format.md; zoo models
/// too). *out is a new NUL-terminated string freed with scnn_string_free; NULL on failure.
/// Errors: INVALID_ARGUMENT (NULL pointer), OUT_OF_MEMORY.
@c(scnn_model_to_json)
public func scnnModelToJson(_ model: UnsafePointer<scnn_model>?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> scnn_status {
    guarded {
        let o = try required(out, "out")
        o.pointee = nil
        let m = try modelArg(model).model
        o.pointee = try copyString(try m.architecture.json(), "to_json")
    }
}

/// Number of the model's inputs (1).
@c(scnn_model_input_count)
public func scnnModelInputCount(_ model: UnsafePointer<scnn_model>?) -> Int32 {
    model == nil ? 0 : 1
}

/// Number of the model's outputs: the root graph's outputs (1 for the zoo and for
/// Sequential networks); 0 for NULL. scnn_model_forward returns output 0; the others are
/// named nodes for scnn_model_forward_outputs.
@c(scnn_model_output_count)
public func scnnModelOutputCount(_ model: UnsafePointer<scnn_model>?) -> Int32 {
    guard let model else { return 0 }
    return Int32(modelBox(model).ioNames.outputs.count)
}

/// The name of input `index` ("input" unless the root graph names it); NULL for NULL or an
/// index out of range. Valid until the model is destroyed or changed by scnn_model_replace.
@c(scnn_model_input_name)
public func scnnModelInputName(_ model: UnsafePointer<scnn_model>?, _ index: Int32) -> UnsafePointer<CChar>? {
    guard let model else { return nil }
    return modelBox(model).ioName(output: false, Int(index))
}

/// The name of output `index` (the root graph's output value, or "output"); NULL for NULL
/// or an index out of range. Valid as scnn_model_input_name's.
@c(scnn_model_output_name)
public func scnnModelOutputName(_ model: UnsafePointer<scnn_model>?, _ index: Int32) -> UnsafePointer<CChar>? {
    guard let model else { return nil }
    return modelBox(model).ioName(output: true, Int(index))
}

/// The shape of input (`is_output` 0) or output (`is_output` non-zero) `index` for batch
/// 1 at the model's design input size: writes *rank (batch axis included: 4 for images, 2
/// for logits) and, when `capacity` >= *rank, the sizes to `shape`.
/// Errors: INVALID_ARGUMENT (NULL model or rank, index out of range, capacity too small —
/// *rank is still written, so a first call with capacity 0 asks for the rank).
@c(scnn_model_io_shape)
public func scnnModelIoShape(
    _ model: UnsafePointer<scnn_model>?, _ is_output: Int32, _ index: Int32,
    _ shape: UnsafeMutablePointer<Int64>?, _ capacity: Int32, _ rank: UnsafeMutablePointer<Int32>?
) -> scnn_status {
    guarded {
        let box = try modelArg(model)
        let r = try required(rank, "rank")
        r.pointee = 0
        let arch = box.model.architecture
        let s: [Int]
        if is_output != 0 {
            guard index >= 0, Int(index) < box.ioNames.outputs.count else {
                throw SwiftCNNError.invalidArgument("\(arch.name): output index \(index) is out of range (the model has \(box.ioNames.outputs.count))")
            }
            let input = arch.nominalInputShape(batch: 1)
            if index == 0 {
                s = try arch.outputShape(forInput: input)
            } else {
                let x = try Tensor(zeros: input)
                let name = box.ioNames.outputs[Int(index)]
                guard let y = try box.model.forward(x, outputs: [name])[name] else {
                    throw SwiftCNNError(.internal, "\(arch.name): output \(name) missing")
                }
                s = y.shape
            }
        } else {
            guard index == 0 else { throw SwiftCNNError.invalidArgument("\(arch.name): input index \(index) is out of range (the model has 1)") }
            s = arch.nominalInputShape(batch: 1)
        }
        r.pointee = Int32(s.count)
        guard capacity >= Int32(s.count) else {
            throw SwiftCNNError.invalidArgument("\(arch.name): shape needs room for \(s.count) values; capacity is \(capacity)")
        }
        let dst = try required(shape, "shape")
        for (i, d) in s.enumerated() { dst[i] = Int64(d) }
    }
}

/// Number of named nodes scnn_model_forward_outputs accepts (every node at every depth:
/// "layer3", "layer3.1", "layer3.1.conv1", …); 0 for NULL.
@c(scnn_model_node_count)
public func scnnModelNodeCount(_ model: UnsafePointer<scnn_model>?) -> Int64 {
    guard let model else { return 0 }
    return Int64(modelBox(model).nodeNames.count)
}

/// The name of node `index` (0 to scnn_model_node_count() - 1), in the network's order;
/// NULL for NULL or an index out of range. Valid as scnn_model_input_name's.
@c(scnn_model_node_name)
public func scnnModelNodeName(_ model: UnsafePointer<scnn_model>?, _ index: Int64) -> UnsafePointer<CChar>? {
    guard let model, index >= 0 else { return nil }
    return modelBox(model).nodeName(Int(index))
}

/// Runs the model (inference mode) on `input` and returns the outputs of `count` named
/// nodes (names as scnn_model_node_name lists them: any node at any depth, e.g. "layer3",
/// "features.4", a graph node's name, "split:1"): outs[i] is a new tensor for names[i],
/// freed with scnn_tensor_destroy. Runs op by op (not the compiled plan), so every
/// intermediate value exists. `outs` has room for `count` handles (at least one); on failure
/// every outs[i] is NULL (outs[0] alone when count < 1).
/// Errors: INVALID_ARGUMENT (NULL pointer, count < 1, an unknown name — the message lists
/// some known ones), SHAPE_MISMATCH (input not accepted), OUT_OF_MEMORY.
@c(scnn_model_forward_outputs)
public func scnnModelForwardOutputs(
    _ model: UnsafePointer<scnn_model>?, _ input: UnsafePointer<scnn_tensor>?, _ count: Int32,
    _ names: UnsafePointer<UnsafePointer<CChar>?>?, _ outs: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?
) -> scnn_status {
    guarded {
        let o = try required(outs, "outs")
        for i in 0..<max(1, Int(count)) { o[i] = nil }
        guard count >= 1 else { throw SwiftCNNError.invalidArgument("count must be at least 1; got \(count)") }
        let m = try modelArg(model).model
        let x = try tensorArg(input, "input")
        let n = try required(names, "names")
        let wanted = try (0..<Int(count)).map { try stringArg(n[$0], "names[\($0)]") }
        let r = try m.forward(x, outputs: wanted)
        var results: [Tensor] = []
        for w in wanted {
            guard var t = r[w] else { throw SwiftCNNError(.internal, "\(m.name): \(w) missing") }
            if t.isBorrowed { try t.makeUnique() }
            results.append(t)
        }
        for (i, t) in results.enumerated() { o[i] = makeHandle(t) }
    }
}

/// Freezes the trainable parameters under `prefix` (a node path such as "layer1" or
/// "features", a full parameter name, or "" for all): they get no gradient, no optimizer
/// update and no optimizer state until unfrozen. Writes how many parameters it covers to
/// *count (NULL: not wanted). Errors: INVALID_ARGUMENT (NULL model or prefix, nothing under
/// the prefix).
@c(scnn_model_freeze)
public func scnnModelFreeze(_ model: UnsafeMutablePointer<scnn_model>?, _ prefix: UnsafePointer<CChar>?,
                            _ count: UnsafeMutablePointer<Int64>?) -> scnn_status {
    freezeCall(model, prefix, count, freeze: true)
}

/// scnn_model_freeze and scnn_model_unfreeze.
func freezeCall(_ model: UnsafeMutablePointer<scnn_model>?, _ prefix: UnsafePointer<CChar>?,
                _ count: UnsafeMutablePointer<Int64>?, freeze: Bool) -> scnn_status {
    guarded {
        let box = try modelArg(model)
        let p = try stringArg(prefix, "prefix")
        let n = freeze ? try box.model.freeze(p) : try box.model.unfreeze(p)
        count?.pointee = Int64(n)
    }
}

/// Unfreezes the parameters under `prefix` ("" for all); see scnn_model_freeze.
@c(scnn_model_unfreeze)
public func scnnModelUnfreeze(_ model: UnsafeMutablePointer<scnn_model>?, _ prefix: UnsafePointer<CChar>?,
                              _ count: UnsafeMutablePointer<Int64>?) -> scnn_status {
    freezeCall(model, prefix, count, freeze: false)
}

/// 1 when parameter `name` is frozen, 0 when not (or for NULL / an unknown name).
@c(scnn_model_is_frozen)
public func scnnModelIsFrozen(_ model: UnsafePointer<scnn_model>?, _ name: UnsafePointer<CChar>?) -> Int32 {
    guard let model, let name else { return 0 }
    return modelBox(model).model.frozen.contains(String(cString: name)) ? 1 : 0
}

/// Replaces node `path` ("fc", "layer4", "classifier.6", a graph node's name) with the
/// node described by `node_json` (one node object of docs/model-format.md, e.g.
/// {"name":"fc","op":"linear","attrs":{"in_features":512,"out_features":10}}): every other
/// weight is kept, the new node's are seeded (seed 0). The whole network is validated again;
/// on any error the model is unchanged. Names and keys returned earlier by this model
/// (scnn_model_parameter_name, scnn_model_node_name, …) are invalid afterwards.
/// Errors: INVALID_ARGUMENT (NULL pointer, no such node), FORMAT (malformed node),
/// SHAPE_MISMATCH (the new node does not fit), OUT_OF_MEMORY.
@c(scnn_model_replace)
public func scnnModelReplace(_ model: UnsafeMutablePointer<scnn_model>?, _ path: UnsafePointer<CChar>?,
                             _ node_json: UnsafePointer<CChar>?) -> scnn_status {
    guarded {
        let box = try modelArg(model)
        let p = try stringArg(path, "path")
        let text = try required(node_json, "node_json")
        let v = try JSON.parse(UnsafeRawBufferPointer(start: UnsafeRawPointer(text), count: strlen(text)),
                               maxBytes: 64 << 20, context: "node JSON", largeIntegersAsNumbers: true)
        let node = try Layer.fromJSON(v)
        var m = box.model
        try m.replace(p, with: node.layer)
        box.replaceModel(m)
    }
}
