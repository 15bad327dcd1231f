import CSwiftCNNTypes
import SwiftCNN

// MARK: - Internal helpers (not exported)

/// The object behind an `scnn_optimizer *`: a ``Trainer`` (optimizer state + training
/// progress) for one model box, which it keeps alive.
///
/// The trainer holds a copy of the model only while a training call runs: the box's model
/// is moved in before and back after (one copy-on-write of the weights per call at most).
final class OptimizerBox {
    let modelBox: ModelBox
    let trainer: Trainer

    init(modelBox: ModelBox, trainer: Trainer) {
        self.modelBox = modelBox
        self.trainer = trainer
    }

    /// Runs `body` with the trainer holding the box's current model, then stores the
    /// trained model back in the box (also when `body` throws: weights changed by the
    /// completed steps stay), in the train/eval mode it had before.
    /// `exclusive` (a call that runs no user code meanwhile): the box's model gives its
    /// weights up for the call instead of sharing them, so the updates run in place (no
    /// copy-on-write of every weight each step).
    func training<R>(exclusive: Bool = false, _ body: (Trainer) throws -> R) throws -> R {
        let wasTraining = modelBox.model.isTraining
        trainer.model = exclusive ? modelBox.model.movedOut() : modelBox.model
        defer {
            modelBox.model = trainer.model
            if wasTraining { modelBox.model.train() } else { modelBox.model.eval() }
        }
        return try body(trainer)
    }
}

typealias OptimizerHandle = UnsafeMutablePointer<scnn_optimizer>

func optimizerBox(_ handle: UnsafePointer<scnn_optimizer>) -> OptimizerBox {
    Unmanaged<OptimizerBox>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
}

/// The optimizer behind `handle`, checked to belong to `model`.
func optimizerArg(_ handle: UnsafePointer<scnn_optimizer>?, for model: ModelBox) throws -> OptimizerBox {
    let box = optimizerBox(try required(handle, "optimizer"))
    guard box.modelBox === model else {
        throw SwiftCNNError.invalidArgument(
            "optimizer: it was created for another model (\(box.modelBox.model.name)); pass the model it was created for")
    }
    return box
}

/// `n` labels read from a C array as Int32 values, checked against the images' batch size.
func labelsArg(_ p: UnsafePointer<Int32>?, _ n: Int64, images: Tensor, _ name: String = "labels") throws -> [Int32] {
    let labels = try required(p, name)
    guard images.shape.count == 4 else {
        throw SwiftCNNError.shapeMismatch("images: expected [N, C, H, W]; got \(Tensor.describe(images.shape))")
    }
    guard n == Int64(images.shape[0]) else {
        throw SwiftCNNError.shapeMismatch(
            "\(name): \(n) labels for \(images.shape[0]) images \(Tensor.describe(images.shape)); they must agree")
    }
    return Array(UnsafeBufferPointer(start: labels, count: Int(n)))
}

/// Validates a checkpoint call's arguments and runs `body` with the trainer and the path.
/// A save only reads the model (the trainer gets a copy of it), so forwards may run beside
/// it; a load runs as a training call (the model is changed).
func checkpointCall(
    _ model: UnsafeMutablePointer<scnn_model>?, _ optimizer: UnsafeMutablePointer<scnn_optimizer>?,
    _ path: UnsafePointer<CChar>?, changesModel: Bool, _ body: (Trainer, FilePath) throws -> Void
) -> scnn_status {
    guarded {
        let opt = try optimizerArg(optimizer, for: try modelArg(model))
        let p = try pathArg(path)
        if changesModel {
            try opt.training { try body($0, p) }
        } else {
            opt.trainer.model = opt.modelBox.model
            try body(opt.trainer, p)
        }
    }
}

/// The arguments of scnn_model_train_step and scnn_model_compute_gradients checked, then
/// `body` run with the trainer holding the model (exclusively); its loss to *loss_out.
func stepCall(
    _ model: UnsafeMutablePointer<scnn_model>?, _ optimizer: UnsafeMutablePointer<scnn_optimizer>?,
    _ images: UnsafePointer<scnn_tensor>?, _ labels: UnsafePointer<Int32>?, _ n_labels: Int64,
    _ loss_out: UnsafeMutablePointer<Float>?, _ body: (Trainer, Tensor, [Int32]) throws -> Float
) -> scnn_status {
    guarded {
        loss_out?.pointee = 0
        let box = try modelArg(model)
        let opt = try optimizerArg(optimizer, for: box)
        let x = try tensorArg(images, "images")
        let y = try labelsArg(labels, n_labels, images: x)
        try checkLabels(y, classes: box.model.numClasses)
        let loss = try opt.training(exclusive: true) { try body($0, x, y) }
        loss_out?.pointee = loss
    }
}

/// Class indices must lie in 0 ..< classes.
func checkLabels(_ labels: [Int32], classes: Int, _ name: String = "labels") throws {
    if let i = labels.firstIndex(where: { $0 < 0 || Int($0) >= classes }) {
        throw SwiftCNNError.invalidArgument(
            "\(name)[\(i)] is \(labels[i]); class indices must be 0 to \(classes - 1) for a model with \(classes) classes")
    }
}

/// A positive batch size that fits an Int.
func batchSizeArg(_ v: Int64) throws -> Int {
    guard v >= 1 && v <= Int64(Int32.max) else {
        throw SwiftCNNError.invalidArgument("batch_size must be 1 to \(Int32.max); got \(v)")
    }
    return Int(v)
}

// MARK: - Training mode

/// Sets the model's mode, like PyTorch's model.train() / model.eval(): training mode
/// (`training` nonzero: batch norm normalizes with the batch's statistics and updates its
/// running statistics, dropout is active) or evaluation mode (0, the default for a new model:
/// running statistics, no dropout). The library applies each mode where it belongs whatever
/// the flag says: scnn_model_train_step and scnn_model_fit always train in training mode,
/// while scnn_model_forward, scnn_model_evaluate and scnn_model_predict always run in
/// evaluation mode; the training calls leave the flag as it was. The flag is kept for
/// PyTorch-style code (scnn_model_is_training). Errors: INVALID_ARGUMENT (NULL model).
@c(scnn_model_set_training)
public func scnnModelSetTraining(_ model: UnsafeMutablePointer<scnn_model>?, _ training: Int32) -> scnn_status {
    guarded {
        let box = try modelArg(model)
        if flag(training) { box.model.train() } else { box.model.eval() }
    }
}

/// 1 when the model is in training mode, 0 in evaluation mode, -1 for NULL.
@c(scnn_model_is_training)
public func scnnModelIsTraining(_ model: UnsafePointer<scnn_model>?) -> Int32 {
    guard let model else { return -1 }
    return modelBox(model).model.isTraining ? 1 : 0
}

// MARK: - Optimizers

/// The optimizers of scnn_optimizer_create (PyTorch's torch.optim.SGD, Adam and AdamW).
@c public enum scnn_optimizer_kind: Int32 {
    /// Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay.
    case sgd = 0
    /// Adam (weight decay added to the gradient, as torch.optim.Adam).
    case adam = 1
    /// AdamW (decoupled weight decay, as torch.optim.AdamW).
    case adamw = 2
}

/// Learning-rate schedules of scnn_optimizer_set_schedule.
@c public enum scnn_lr_schedule: Int32 {
    /// The learning rate stays as set.
    case constant = 0
    /// Multiplied by `value` (gamma) every `steps` optimizer steps (torch's StepLR, per step).
    case step = 1
    /// Cosine annealing from the base rate to `value` (the minimum) over `steps` steps.
    case cosine = 2
}

/// Creates an optimizer for `model`'s trainable parameters (batch-norm running statistics
/// are not trained), with PyTorch's semantics. SCNN_OPTIMIZER_KIND_SGD uses lr, momentum
/// (0: plain SGD), nesterov (nonzero: Nesterov momentum; needs momentum > 0) and
/// weight_decay (L2, added to the gradient), and ignores beta1, beta2 and eps.
/// SCNN_OPTIMIZER_KIND_ADAM and _ADAMW use lr, beta1 and beta2 (each in [0, 1); PyTorch's
/// defaults are 0.9 and 0.999), eps (default 1e-8) and weight_decay (Adam: added to the
/// gradient; AdamW: decoupled, PyTorch's AdamW default 0.01), and ignore momentum and
/// nesterov. lr, momentum, weight_decay and eps must be finite and >= 0 (PyTorch's domains).
/// The optimizer keeps the model alive and works only with it. *out is a new optimizer
/// freed with scnn_optimizer_destroy; NULL on failure.
/// Errors: INVALID_ARGUMENT (NULL pointer, unknown kind, a value out of its range),
/// OUT_OF_MEMORY.
@c(scnn_optimizer_create)
public func scnnOptimizerCreate(
    _ model: UnsafeMutablePointer<scnn_model>?, _ kind: Int32, _ lr: Float, _ momentum: Float, _ nesterov: Int32,
    _ weight_decay: Float, _ beta1: Float, _ beta2: Float, _ eps: Float,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_optimizer>?>?
) -> scnn_status {
    guarded {
        let o = try required(out, "out")
        o.pointee = nil
        let box = try modelArg(model)
        let config: OptimizerConfig
        switch kind {
        case scnn_optimizer_kind.sgd.rawValue:
            config = .sgd(lr: lr, momentum: momentum, nesterov: flag(nesterov), weightDecay: weight_decay)
        case scnn_optimizer_kind.adam.rawValue:
            config = .adam(lr: lr, betas: (beta1, beta2), eps: eps, weightDecay: weight_decay)
        case scnn_optimizer_kind.adamw.rawValue:
            config = .adamW(lr: lr, betas: (beta1, beta2), eps: eps, weightDecay: weight_decay)
        default:
            throw SwiftCNNError.invalidArgument(
                "optimizer: kind must be SCNN_OPTIMIZER_KIND_SGD (0), _ADAM (1) or _ADAMW (2); got \(kind)")
        }
        let optimizer = try Optimizer(config, for: box.model)
        let trainer = Trainer(model: box.model, optimizer: optimizer, config: TrainingConfig())
        let handle = OptimizerBox(modelBox: box, trainer: trainer)
        o.pointee = Unmanaged.passRetained(handle).toOpaque().assumingMemoryBound(to: scnn_optimizer.self)
    }
}

/// Frees an optimizer (the model stays). NULL is a no-op.
@c(scnn_optimizer_destroy)
public func scnnOptimizerDestroy(_ optimizer: UnsafeMutablePointer<scnn_optimizer>?) {
    guard let optimizer else { return }
    Unmanaged<OptimizerBox>.fromOpaque(UnsafeRawPointer(optimizer)).release()
}

/// Sets the learning-rate schedule, applied at every later step from the optimizer's
/// base learning rate: SCNN_LR_SCHEDULE_CONSTANT (steps and value ignored),
/// SCNN_LR_SCHEDULE_STEP (lr * value^floor(step / steps); steps >= 1, value >= 0: torch's
/// StepLR stepped after every optimizer step), SCNN_LR_SCHEDULE_COSINE
/// (min + (lr - min) * (1 + cos(pi * step / steps)) / 2; steps >= 1, value = min >= 0: torch's
/// CosineAnnealingLR closed form, which rises again after `steps`). `steps` is at most
/// 2^31 - 1 (2147483647) for both. Step = the optimizer's
/// step count (0 for its first step). Errors: INVALID_ARGUMENT (NULL, unknown
/// schedule, a value out of range).
@c(scnn_optimizer_set_schedule)
public func scnnOptimizerSetSchedule(
    _ optimizer: UnsafeMutablePointer<scnn_optimizer>?, _ schedule: Int32, _ steps: Int64, _ value: Float
) -> scnn_status {
    guarded {
        let box = optimizerBox(try required(optimizer, "optimizer"))
        let s: LearningRateSchedule
        switch schedule {
        case scnn_lr_schedule.constant.rawValue: s = .constant
        case scnn_lr_schedule.step.rawValue, scnn_lr_schedule.cosine.rawValue:
            guard steps >= 1 && steps <= Int64(Int32.max) else {
                throw SwiftCNNError.invalidArgument("schedule: steps must be 1 to \(Int32.max); got \(steps)")
            }
            s = schedule == scnn_lr_schedule.step.rawValue
                ? .step(every: Int(steps), gamma: value) : .cosine(totalSteps: Int(steps), minimum: value)
        default:
            throw SwiftCNNError.invalidArgument(
                "schedule must be SCNN_LR_SCHEDULE_CONSTANT (0), _STEP (1) or _COSINE (2); got \(schedule)")
        }
        switch s {
        case .step(_, let gamma) where !(gamma.isFinite && gamma >= 0):
            throw SwiftCNNError.invalidArgument("schedule: step needs a finite gamma >= 0; got \(value)")
        case .cosine(_, let minimum) where !(minimum.isFinite && minimum >= 0):
            throw SwiftCNNError.invalidArgument("schedule: cosine needs a finite minimum >= 0; got \(value)")
        default: break
        }
        box.trainer.optimizer.schedule = s
    }
}

/// Sets the learning rate (the base rate of the schedule); finite and >= 0.
/// Errors: INVALID_ARGUMENT (NULL, bad value).
@c(scnn_optimizer_set_lr)
public func scnnOptimizerSetLr(_ optimizer: UnsafeMutablePointer<scnn_optimizer>?, _ lr: Float) -> scnn_status {
    guarded {
        let box = optimizerBox(try required(optimizer, "optimizer"))
        guard lr.isFinite && lr >= 0 else {
            throw SwiftCNNError.invalidArgument("optimizer: lr must be a finite number >= 0; got \(lr)")
        }
        box.trainer.optimizer.learningRate = lr
    }
}

/// The learning rate the next step will use (after the schedule) in *out.
/// Errors: INVALID_ARGUMENT (NULL pointer).
@c(scnn_optimizer_get_lr)
public func scnnOptimizerGetLr(_ optimizer: UnsafePointer<scnn_optimizer>?, _ out: UnsafeMutablePointer<Float>?) -> scnn_status {
    guarded {
        let o = try required(out, "out")
        o.pointee = optimizerBox(try required(optimizer, "optimizer")).trainer.optimizer.learningRate
    }
}

/// The training progress: optimizer steps taken so far (`step`), and where the next
/// scnn_model_fit starts: `epoch` (0-based) and `batch` within it. Any of the three
/// pointers may be NULL. Errors: INVALID_ARGUMENT (NULL optimizer).
@c(scnn_optimizer_progress)
public func scnnOptimizerProgress(
    _ optimizer: UnsafePointer<scnn_optimizer>?, _ step: UnsafeMutablePointer<Int64>?,
    _ epoch: UnsafeMutablePointer<Int64>?, _ batch: UnsafeMutablePointer<Int64>?
) -> scnn_status {
    guarded {
        let t = optimizerBox(try required(optimizer, "optimizer")).trainer
        step?.pointee = Int64(t.state.globalStep)
        epoch?.pointee = Int64(t.state.epoch)
        batch?.pointee = Int64(t.state.batchInEpoch)
    }
}

// MARK: - Training

/// One training step on a batch: forward in training mode, softmax cross-entropy (mean over
/// the batch), backward, optimizer step. `images` is [N, C, H, W] as the model takes,
/// `labels` N class indices (n_labels = N), each in 0 .. num_classes - 1. The batch's loss
/// (before the step) is written to *loss_out (NULL: not wanted). The model's mode is left
/// as it was. Errors: INVALID_ARGUMENT (NULL pointer, optimizer of another model, a label
/// out of range), SHAPE_MISMATCH (images the model does not take, n_labels != N),
/// OUT_OF_MEMORY. On error the weights are unchanged.
@c(scnn_model_train_step)
public func scnnModelTrainStep(
    _ model: UnsafeMutablePointer<scnn_model>?, _ optimizer: UnsafeMutablePointer<scnn_optimizer>?,
    _ images: UnsafePointer<scnn_tensor>?, _ labels: UnsafePointer<Int32>?, _ n_labels: Int64,
    _ loss_out: UnsafeMutablePointer<Float>?
) -> scnn_status {
    stepCall(model, optimizer, images, labels, n_labels, loss_out) { try $0.step(images: $1, labels: $2) }
}

// MARK: - Gradients

/// The first half of scnn_model_train_step, for data-parallel training: forward in training
/// mode, loss, backward -- the same arguments and checks, the same gradients bit for bit --
/// but the weights and the optimizer's state do not change. The gradients are kept in
/// `optimizer` as its pending gradients (replacing any; on error it has none), to be read
/// (scnn_optimizer_get_gradients), replaced (scnn_optimizer_set_gradients, e.g. by an
/// average over workers) and applied (scnn_optimizer_apply_gradients);
/// compute + apply equals one scnn_model_train_step exactly. Pending gradients are not saved
/// by scnn_checkpoint_save. Batch-norm running statistics
/// are updated by the forward as in a train step. The batch's loss is written to *loss_out
/// (NULL: not wanted). The model's mode is left as it was.
/// Errors: as scnn_model_train_step's; on error the weights and batch-norm statistics are
/// unchanged.
@c(scnn_model_compute_gradients)
public func scnnModelComputeGradients(
    _ model: UnsafeMutablePointer<scnn_model>?, _ optimizer: UnsafeMutablePointer<scnn_optimizer>?,
    _ images: UnsafePointer<scnn_tensor>?, _ labels: UnsafePointer<Int32>?, _ n_labels: Int64,
    _ loss_out: UnsafeMutablePointer<Float>?
) -> scnn_status {
    stepCall(model, optimizer, images, labels, n_labels, loss_out) { try $0.computeGradients(images: $1, labels: $2).loss }
}

/// The layout of the flat gradient vectors of scnn_optimizer_get_gradients and
/// scnn_optimizer_set_gradients: the model's trainable parameters (state-dict order, without
/// buffers and frozen parameters), each flattened row-major. *count = the number of floats.
/// Errors: INVALID_ARGUMENT (NULL pointer), SHAPE_MISMATCH (a model too large to count).
@c(scnn_optimizer_gradient_size)
public func scnnOptimizerGradientSize(_ optimizer: UnsafePointer<scnn_optimizer>?, _ count: UnsafeMutablePointer<Int64>?) -> scnn_status {
    produceCount(count) {
        try Gradients.flatCount(optimizerBox(try required(optimizer, "optimizer")).modelBox.model.gradientLayout)
    }
}

/// Number of tensors in the flat gradient vector's layout (see
/// scnn_optimizer_gradient_size); 0 for NULL.
@c(scnn_optimizer_gradient_count)
public func scnnOptimizerGradientCount(_ optimizer: UnsafePointer<scnn_optimizer>?) -> Int64 {
    guard let optimizer else { return 0 }
    return Int64(optimizerBox(optimizer).modelBox.model.gradientLayout.count)
}

/// Tensor `index` (0 to scnn_optimizer_gradient_count() - 1) of the flat gradient vector's
/// layout: *name = its state-dict key (valid until the model is destroyed; NULL allowed:
/// not wanted), *rank = its rank and, when `capacity` >= *rank, its sizes in `shape`
/// (as scnn_model_io_shape: a first call with capacity 0 asks for the rank).
/// Errors: INVALID_ARGUMENT (NULL optimizer or rank, index out of range, capacity too small).
@c(scnn_optimizer_gradient_info)
public func scnnOptimizerGradientInfo(
    _ optimizer: UnsafePointer<scnn_optimizer>?, _ index: Int64, _ name: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
    _ shape: UnsafeMutablePointer<Int64>?, _ capacity: Int32, _ rank: UnsafeMutablePointer<Int32>?
) -> scnn_status {
    guarded {
        name?.pointee = nil
        let r = try required(rank, "rank")
        r.pointee = 0
        let box = optimizerBox(try required(optimizer, "optimizer")).modelBox
        let model = box.model
        let layout = model.gradientLayout
        guard index >= 0 && index < Int64(layout.count) else {
            throw SwiftCNNError.invalidArgument(
                "gradient_info: index \(index) is out of range (\(model.name) has \(layout.count) trainable tensors)")
        }
        let spec = layout[Int(index)]
        name?.pointee = model.parameterSpecs.firstIndex(of: spec).flatMap { box.key($0) }
        r.pointee = Int32(spec.shape.count)
        guard capacity >= Int32(spec.shape.count) else {
            throw SwiftCNNError.invalidArgument("gradient_info: shape needs room for \(spec.shape.count) values; capacity is \(capacity)")
        }
        let dst = try required(shape, "shape")
        for (i, d) in spec.shape.enumerated() { dst[i] = Int64(d) }
    }
}

/// A float count of a flat gradient vector: >= 0 (the layout then checks it).
func gradientCountArg(_ count: Int64, _ op: String) throws -> Int {
    guard count >= 0 else { throw SwiftCNNError.invalidArgument("\(op): count must be >= 0; got \(count)") }
    return Int(count)
}

/// Copies the optimizer's pending gradients (from scnn_model_compute_gradients or
/// scnn_optimizer_set_gradients) to `out`, `count` floats, which must equal
/// scnn_optimizer_gradient_size. Errors: INVALID_ARGUMENT (NULL pointer, no pending
/// gradients, gradients computed before a parameter was frozen or replaced), SHAPE_MISMATCH
/// (count is not the size).
@c(scnn_optimizer_get_gradients)
public func scnnOptimizerGetGradients(
    _ optimizer: UnsafePointer<scnn_optimizer>?, _ out: UnsafeMutablePointer<Float>?, _ count: Int64
) -> scnn_status {
    guarded {
        let box = optimizerBox(try required(optimizer, "optimizer"))
        let dst = try required(out, "out")
        guard let g = box.trainer.pendingGradients else {
            throw SwiftCNNError.invalidArgument("get_gradients: none pending (compute or set gradients first)")
        }
        try g.copyFlat(into: UnsafeMutableBufferPointer(start: dst, count: try gradientCountArg(count, "get_gradients")),
                       layout: box.modelBox.model.gradientLayout)
    }
}

/// Makes `values` (`count` floats in the layout of scnn_optimizer_gradient_size, e.g. the
/// average of the workers' gradients) the optimizer's pending gradients, replacing any.
/// Values are copied and not checked (NaN reaches the update as in a train step).
/// Errors: INVALID_ARGUMENT (NULL pointer, count < 0), SHAPE_MISMATCH (count is not the
/// size; the pending gradients are unchanged), OUT_OF_MEMORY.
@c(scnn_optimizer_set_gradients)
public func scnnOptimizerSetGradients(
    _ optimizer: UnsafeMutablePointer<scnn_optimizer>?, _ values: UnsafePointer<Float>?, _ count: Int64
) -> scnn_status {
    guarded {
        let box = optimizerBox(try required(optimizer, "optimizer"))
        let src = try required(values, "values")
        box.trainer.setPendingGradients(
            try Gradients(flat: UnsafeBufferPointer(start: src, count: try gradientCountArg(count, "set_gradients")),
                          layout: box.modelBox.model.gradientLayout))
    }
}

/// The second half of scnn_model_train_step: the optimizer's update of `model`'s weights
/// from its pending gradients (learning rate and schedule as a train step's), then the step
/// count advances (scnn_optimizer_progress) and the pending gradients are dropped.
/// Errors: INVALID_ARGUMENT (NULL pointer, optimizer of another model, no pending
/// gradients), SHAPE_MISMATCH (gradients that no longer fit the model), OUT_OF_MEMORY. On
/// error the weights and the pending gradients are unchanged.
@c(scnn_optimizer_apply_gradients)
public func scnnOptimizerApplyGradients(
    _ model: UnsafeMutablePointer<scnn_model>?, _ optimizer: UnsafeMutablePointer<scnn_optimizer>?
) -> scnn_status {
    guarded {
        let opt = try optimizerArg(optimizer, for: try modelArg(model))
        try opt.training(exclusive: true) { try $0.applyGradients() }
    }
}

/// Drops the optimizer's pending gradients (none pending: no-op).
/// Errors: INVALID_ARGUMENT (NULL optimizer).
@c(scnn_optimizer_clear_gradients)
public func scnnOptimizerClearGradients(_ optimizer: UnsafeMutablePointer<scnn_optimizer>?) -> scnn_status {
    guarded { optimizerBox(try required(optimizer, "optimizer")).trainer.clearGradients() }
}

/// Trains for whole epochs (Keras's fit): the training set (`images` [N, C, H, W],
/// `n_labels` = N labels) is shuffled every epoch (`shuffle` nonzero; the order is a
/// Fisher–Yates permutation from swiftcnn's counter-based generator keyed by
/// seed + epoch — see swiftcnn.datasets.epoch_order), cut into batches of `batch_size`
/// (the last may be smaller), and each batch makes one scnn_model_train_step. Runs from the
/// optimizer's progress (0 for a new one; see scnn_optimizer_progress) until `epochs`
/// epochs in total are done, so a fit stopped by a callback, or restored from a checkpoint,
/// continues as if uninterrupted when called again with the same arguments.
/// Validation data (`val_images` and `val_labels`, NULL for none, n_val labels) is evaluated
/// after every epoch in evaluation mode. `on_step` / `on_epoch` (NULL: none) are called
/// after every step / epoch with `user`; returning 0 stops the fit, which then returns OK.
/// `epochs` and `batch_size` must be 1 to 2^31 - 1 (2147483647).
/// Errors: INVALID_ARGUMENT (NULL pointer, optimizer of another model, epochs or
/// batch_size out of 1 to 2^31 - 1, a label out of range), SHAPE_MISMATCH (images the model
/// does not take, label count != image count), OUT_OF_MEMORY. Steps completed before an
/// error are kept.
@c(scnn_model_fit)
public func scnnModelFit(
    _ model: UnsafeMutablePointer<scnn_model>?, _ optimizer: UnsafeMutablePointer<scnn_optimizer>?,
    _ images: UnsafePointer<scnn_tensor>?, _ labels: UnsafePointer<Int32>?, _ n_labels: Int64,
    _ val_images: UnsafePointer<scnn_tensor>?, _ val_labels: UnsafePointer<Int32>?, _ n_val: Int64,
    _ epochs: Int64, _ batch_size: Int64, _ seed: UInt64, _ shuffle: Int32,
    _ on_step: scnn_step_callback?, _ on_epoch: scnn_epoch_callback?, _ user: UnsafeMutableRawPointer?
) -> scnn_status {
    guarded {
        let box = try modelArg(model)
        let opt = try optimizerArg(optimizer, for: box)
        let x = try tensorArg(images, "images")
        let y = try labelsArg(labels, n_labels, images: x)
        try checkLabels(y, classes: box.model.numClasses)
        _ = try box.model.outputShape(forInput: x.shape)
        var validation: Dataset? = nil
        if val_images != nil || val_labels != nil {
            let vx = try tensorArg(val_images, "val_images")
            let vy = try labelsArg(val_labels, n_val, images: vx, "val_labels")
            try checkLabels(vy, classes: box.model.numClasses, "val_labels")
            _ = try box.model.outputShape(forInput: vx.shape)
            validation = try Dataset(images: vx, labels: vy)
        }
        guard epochs >= 1 && epochs <= Int64(Int32.max) else {
            throw SwiftCNNError.invalidArgument("fit: epochs must be 1 to \(Int32.max); got \(epochs)")
        }
        let data = try Dataset(images: x, labels: y)
        var config = opt.trainer.config
        config.epochs = Int(epochs)
        config.batchSize = try batchSizeArg(batch_size)
        config.seed = seed
        config.shuffle = flag(shuffle)
        opt.trainer.config = config
        var stopAfterEpoch = false
        try opt.training { trainer in
            _ = try trainer.fit(
                data, validation: validation,
                onStep: { r in
                    if stopAfterEpoch { return false }
                    guard let on_step else { return true }
                    var c = scnn_step_report(
                        epoch: Int64(r.epoch), step: Int64(r.step), batch: Int64(r.batchIndex),
                        batches_per_epoch: Int64(r.batchesPerEpoch), loss: r.loss, learning_rate: r.learningRate)
                    return on_step(&c, user) != 0
                },
                onEpoch: { r in
                    guard let on_epoch else { return }
                    var c = scnn_epoch_report(
                        epoch: Int64(r.epoch), loss: r.loss, accuracy: r.accuracy,
                        has_validation: r.validationLoss == nil ? 0 : 1, validation_loss: r.validationLoss ?? 0,
                        validation_accuracy: r.validationAccuracy ?? 0)
                    if on_epoch(&c, user) == 0 { stopAfterEpoch = true }
                })
        }
    }
}

/// Evaluates the model in evaluation mode on `images` [N, C, H, W] with N labels
/// (n_labels = N): the mean softmax cross-entropy over the N examples in *loss_out and the
/// fraction classified correctly (argmax; argmin of lenet5_original's RBF penalties) in
/// *accuracy_out (either may be NULL), computed in batches of `batch_size` (memory only:
/// the results do not depend on it). The model's mode is left as it was.
/// Errors: INVALID_ARGUMENT (NULL pointer, batch_size out of 1 to 2^31 - 1, a label out of range),
/// SHAPE_MISMATCH (images the model does not take, n_labels != N), OUT_OF_MEMORY.
@c(scnn_model_evaluate)
public func scnnModelEvaluate(
    _ model: UnsafePointer<scnn_model>?, _ images: UnsafePointer<scnn_tensor>?,
    _ labels: UnsafePointer<Int32>?, _ n_labels: Int64, _ batch_size: Int64,
    _ loss_out: UnsafeMutablePointer<Float>?, _ accuracy_out: UnsafeMutablePointer<Double>?
) -> scnn_status {
    guarded {
        loss_out?.pointee = 0
        accuracy_out?.pointee = 0
        let m = try modelArg(model).model
        let x = try tensorArg(images, "images")
        let y = try labelsArg(labels, n_labels, images: x)
        try checkLabels(y, classes: m.numClasses)
        let r = try m.evaluate(images: x, labels: y, batchSize: try batchSizeArg(batch_size))
        loss_out?.pointee = r.loss
        accuracy_out?.pointee = r.accuracy
    }
}

/// The predicted class of each image of `images` [N, C, H, W] (evaluation mode: argmax of
/// the logits; argmin of lenet5_original's RBF penalties), written to `classes_out`, which
/// has room for `capacity` values (>= N). The model's mode is left as it was.
/// Errors: INVALID_ARGUMENT (NULL pointer), SHAPE_MISMATCH (images the model does not take,
/// capacity < N), OUT_OF_MEMORY.
@c(scnn_model_predict)
public func scnnModelPredict(
    _ model: UnsafePointer<scnn_model>?, _ images: UnsafePointer<scnn_tensor>?,
    _ classes_out: UnsafeMutablePointer<Int32>?, _ capacity: Int64
) -> scnn_status {
    guarded {
        let m = try modelArg(model).model
        let x = try tensorArg(images, "images")
        let dst = try required(classes_out, "classes_out")
        let outShape = try m.outputShape(forInput: x.shape)
        guard capacity >= Int64(outShape[0]) else {
            throw SwiftCNNError.shapeMismatch(
                "predict: classes_out holds \(capacity) values; \(outShape[0]) images need \(outShape[0])")
        }
        let classes = try m.predict(x)
        for (i, c) in classes.enumerated() where i < outShape[0] { dst[i] = c }
    }
}

// MARK: - Checkpoints

/// Saves a training checkpoint to a safetensors file, atomically (a temporary file is
/// written, synced and renamed over `path`): the model's weights (state-dict names), the
/// optimizer's state (momentum buffers, Adam moments, step count, learning rate) and the
/// training progress and configuration of scnn_model_fit. (scnn_model_load does not take a
/// checkpoint -- it has the optimizer's entries too; scnn_model_save writes a weights file.)
/// It reads the model (forwards may run beside it) and uses the optimizer alone. A killed
/// save leaves no partial file; `path` is taken byte for byte (see "Paths" and "Files").
/// Errors: INVALID_ARGUMENT (NULL pointer, empty path, optimizer of another model), IO
/// (cannot write; path is a directory or another special file), OUT_OF_MEMORY.
@c(scnn_checkpoint_save)
public func scnnCheckpointSave(
    _ model: UnsafeMutablePointer<scnn_model>?, _ optimizer: UnsafeMutablePointer<scnn_optimizer>?,
    _ path: UnsafePointer<CChar>?
) -> scnn_status {
    checkpointCall(model, optimizer, path, changesModel: false) { try $0.saveCheckpoint(path: $1) }
}

/// Restores a checkpoint written by scnn_checkpoint_save into `model` and `optimizer`
/// (which must be of the same architecture and optimizer kind): afterwards training
/// continues exactly as the saved run would have (same losses and weights for the same
/// data and arguments). On any error both are unchanged.
/// `path` is taken byte for byte and must name a regular file (see "Paths" and "Files").
/// Errors: INVALID_ARGUMENT (NULL pointer, empty path, optimizer of another model), IO
/// (cannot read; not a regular file), FORMAT (not a checkpoint, or malformed), SHAPE_MISMATCH (a weight or state of another
/// shape, a missing entry: the message names it), OUT_OF_MEMORY.
@c(scnn_checkpoint_load)
public func scnnCheckpointLoad(
    _ model: UnsafeMutablePointer<scnn_model>?, _ optimizer: UnsafeMutablePointer<scnn_optimizer>?,
    _ path: UnsafePointer<CChar>?
) -> scnn_status {
    checkpointCall(model, optimizer, path, changesModel: true) { try $0.loadCheckpoint(path: $1) }
}
