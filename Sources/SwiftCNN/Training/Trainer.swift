// The training loop: steps, epochs with a per-step callback and early stop, checkpoints.

/// What ``Trainer/fit(_:validation:onStep:onEpoch:)`` does.
public struct TrainingConfig: Sendable, Equatable {
    /// Number of epochs (``Trainer/fit(_:validation:onStep:onEpoch:)`` runs until the state's
    /// epoch reaches it).
    public var epochs: Int
    /// Examples per mini-batch; the last batch of an epoch keeps the remainder.
    public var batchSize: Int
    /// Seeds the shuffle, the augmentation and the dropout masks.
    public var seed: UInt64
    /// Shuffle every epoch (see ``Dataset/order(epoch:seed:shuffle:)``).
    public var shuffle = true
    /// Augmentation of training batches.
    public var augmentation = Augmentation.none
    /// The loss.
    public var loss = LossFunction.crossEntropy(labelSmoothing: 0)

    /// A configuration.
    public init(epochs: Int = 1, batchSize: Int = 64, seed: UInt64 = 0, shuffle: Bool = true,
                augmentation: Augmentation = .none, loss: LossFunction = .crossEntropy(labelSmoothing: 0)) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.seed = seed
        self.shuffle = shuffle
        self.augmentation = augmentation
        self.loss = loss
    }
}

/// Reported after every training step of ``Trainer/fit(_:validation:onStep:onEpoch:)``.
public struct StepReport: Sendable {
    /// 0-based epoch.
    public var epoch: Int
    /// 0-based global step (counting every step since the trainer began, across resumes).
    public var step: Int
    /// 0-based batch within the epoch.
    public var batchIndex: Int
    /// Batches per epoch.
    public var batchesPerEpoch: Int
    /// The batch's mean loss.
    public var loss: Float
    /// The learning rate this step used.
    public var learningRate: Float
}

/// Reported at the end of every epoch.
public struct EpochReport: Sendable {
    /// 0-based epoch.
    public var epoch: Int
    /// Mean training loss over the epoch's examples (from the training forward passes).
    public var loss: Float
    /// Training accuracy from the same forward passes (train mode).
    public var accuracy: Double
    /// Validation loss (eval mode), when a validation set was given.
    public var validationLoss: Float?
    /// Validation accuracy, when a validation set was given.
    public var validationAccuracy: Double?
}

/// Where training stands: the resume point saved in checkpoints, with the running sums of
/// the current epoch so that its report is the same after a resume.
public struct TrainingState: Sendable, Equatable {
    /// The epoch in progress (0-based); equal to the configured epochs when done.
    public var epoch = 0
    /// Batches of the current epoch already done.
    public var batchInEpoch = 0
    /// Steps taken in total; seeds each step's dropout masks.
    public var globalStep = 0
    /// Σ batch loss × batch size over the current epoch so far.
    public var epochLossSum = 0.0
    /// Correct training predictions in the current epoch so far.
    public var epochCorrect = 0
    /// Examples seen in the current epoch so far.
    public var epochSeen = 0

    /// The start.
    public init() {}
}

/// Trains a model with an optimizer: single steps on given batches, or whole epochs over a
/// ``Dataset`` with callbacks, and checkpoints that resume bit for bit.
///
/// Determinism: every random choice is a function of `config.seed` and the position in the
/// run — the epoch's shuffle and augmentation use seed &+ epoch (see ``Dataset``), the
/// dropout masks of global step s use `SeededInit.bits(name: "dropout", seed: config.seed,
/// index: s)` as ``Model/forwardRecording(_:dropoutSeed:)``'s seed — so a run resumed from a
/// checkpoint produces the same losses and weights as an uninterrupted one (with the same
/// thread count: kernels are bitwise deterministic per thread count).
///
///     var model = try Model(lenet5Architecture(), seed: 0)
///     let optimizer = try Optimizer(.sgd(lr: 0.05, momentum: 0.9), for: model)
///     let trainer = Trainer(model: model, optimizer: optimizer,
///                           config: TrainingConfig(epochs: 30, batchSize: 64, seed: 0))
///     let history = try trainer.fit(train, validation: test, onStep: { report in
///         print(report.epoch, report.batchIndex, report.loss)
///         return true                        // false stops; fit again (or a checkpoint) resumes
///     })
///     try trainer.saveCheckpoint(path: "run.safetensors")
///     model = trainer.model                  // trained weights; model.save(path:) writes them
public final class Trainer {
    /// The model being trained.
    public var model: Model
    /// Its optimizer.
    public let optimizer: Optimizer
    /// The configuration.
    public var config: TrainingConfig
    /// The resume point.
    public var state = TrainingState()

    /// A trainer; the model is put in training mode by every step.
    public init(model: Model, optimizer: Optimizer, config: TrainingConfig) {
        self.model = model
        self.optimizer = optimizer
        self.config = config
        StepMemory.trainerStarted()
    }

    deinit { StepMemory.trainerEnded() }

    /// One step on a batch: forward (train mode), loss, backward, optimizer step; returns the
    /// batch's mean loss. Labels must be in 0..<numClasses (checked before anything changes).
    /// The same as ``computeGradients(images:labels:)`` then ``applyGradients()``, bit for
    /// bit, except that it leaves ``pendingGradients`` alone.
    public func step(images: Tensor, labels: [Int32]) throws -> Float {
        try trainStep(images, labels).loss
    }

    /// ``step(images:labels:)`` returning also the number of correct predictions.
    func trainStep(_ images: Tensor, _ labels: [Int32]) throws -> (loss: Float, correct: Int) {
        // Buffers freed during the step are kept for the next one (see StepMemory).
        try StepMemory.withStep {
            try restoringBuffersOnError {
                let r = try gradientStep(images, labels)
                try apply(r.gradients)
                return (r.loss, r.correct)
            }
        }
    }

    /// Gradients computed by ``computeGradients(images:labels:)`` or set by
    /// ``setPendingGradients(_:)``, waiting for ``applyGradients()``; nil when none. They
    /// are not part of checkpoints (save after applying them).
    public private(set) var pendingGradients: Gradients?

    /// The first half of ``step(images:labels:)``: forward (train mode, with the dropout
    /// masks of step `state.globalStep`), loss (auxiliary losses included), backward. The
    /// gradients become ``pendingGradients`` (replacing any; on error there are none); the
    /// weights and the optimizer do not change. Batch-norm running statistics are updated
    /// by the forward as in a step (and put back on error). Returns the batch's mean loss and
    /// the number of correct predictions.
    ///
    /// Data-parallel training: every worker computes the gradients of its shard, the flat
    /// vectors (``Gradients/copyFlat(into:layout:)``) are averaged weighted by shard size,
    /// each worker sets the average (``setPendingGradients(flat:)``) and applies it.
    public func computeGradients(images: Tensor, labels: [Int32]) throws -> (loss: Float, correct: Int) {
        pendingGradients = nil
        return try StepMemory.withStep {
            try restoringBuffersOnError {
                let r = try gradientStep(images, labels)
                pendingGradients = r.gradients
                return (r.loss, r.correct)
            }
        }
    }

    /// Sets ``pendingGradients``; they must cover ``Model/gradientLayout`` with its shapes
    /// (checked by ``applyGradients()``).
    public func setPendingGradients(_ gradients: Gradients) { pendingGradients = gradients }

    /// Sets ``pendingGradients`` from a flat vector in ``Model/gradientLayout``'s order
    /// (row-major per tensor); an error (nothing changes) unless its length is the layout's.
    /// Values are not checked: NaN passes through to the update as it would in a step.
    public func setPendingGradients(flat: UnsafeBufferPointer<Float>) throws {
        pendingGradients = try Gradients(flat: flat, layout: model.gradientLayout)
    }

    /// Drops ``pendingGradients``.
    public func clearGradients() { pendingGradients = nil }

    /// The second half of ``step(images:labels:)``: the optimizer's update of the weights
    /// from ``pendingGradients``, then `state.globalStep` += 1 and the pending gradients are
    /// dropped. An error when there are none (or they do not fit the model); then nothing
    /// changes and any pending gradients stay.
    public func applyGradients() throws {
        guard let g = pendingGradients else {
            throw SwiftCNNError.invalidArgument(
                "apply gradients: none pending (compute or set gradients first; each set is applied once)")
        }
        try optimizer.checkCompatible(with: model)
        try StepMemory.withStep { try apply(g) }
        pendingGradients = nil
    }

    /// The optimizer's update (which checks that `gradients` cover the model) and the step count.
    private func apply(_ gradients: Gradients) throws {
        try optimizer.step(&model, gradients)
        state.globalStep += 1
    }

    /// Runs `body`; when it throws, puts the batch-norm running statistics back as they were.
    private func restoringBuffersOnError<R>(_ body: () throws -> R) throws -> R {
        // The training forward updates batch-norm statistics: a step that fails later (out
        // of memory) puts their values back. Values, not tensors: holding the tensors would
        // make every step copy them instead of updating them in place.
        let buffers = model.parameterSpecs.filter(\.isBuffer).map(\.name)
        let saved = buffers.map { model.store[$0]?.scalars ?? [] }
        do {
            return try body()
        } catch {
            for (name, values) in zip(buffers, saved) {
                try? model.withMutableParameter(name) { p in
                    for i in 0..<min(p.count, values.count) { p[i] = values[i] }
                }
            }
            throw error
        }
    }

    /// Forward (train mode), loss and backward of one step; the weights do not change.
    private func gradientStep(_ images: Tensor, _ labels: [Int32]) throws -> (loss: Float, correct: Int, gradients: Gradients) {
        guard images.rank == 4, images.shape[0] == labels.count else {
            throw SwiftCNNError.shapeMismatch(
                "train step: \(labels.count) labels for images of shape \(Tensor.describe(images.shape)) (expected [N, C, H, W] with N = labels)")
        }
        try model.checkLabels(labels, "train step")
        try optimizer.checkCompatible(with: model)
        model.train()
        let seed = SeededInit.bits(name: "dropout", seed: config.seed, index: state.globalStep)
        let parts = model.trainingParts(batch: images.shape[0])
        if parts > 1 {
            // A per-image model: the batch in parts, spread over the threads (BatchSplit.swift).
            let penalty = model.outputIsPenalty, loss = config.loss
            let r = try model.splitStep(images, parts: parts, dropoutSeed: seed) { out in
                try loss.evaluate(out, labels: labels, penalty: penalty)
            }
            let correct = zip(model.predictedClasses(r.output), labels).reduce(0) { $0 + ($1.0 == $1.1 ? 1 : 0) }
            return (r.loss, correct, r.gradients)
        }
        let (out, tape) = try model.forwardRecording(images, dropoutSeed: seed)
        var loss: Float
        let grad: Tensor
        (loss, grad) = try config.loss.evaluate(out, labels: labels, penalty: model.outputIsPenalty)
        // Auxiliary outputs (training mode only): loss += weight · loss(aux), gradient · weight.
        var auxGrads: [Tensor?] = []
        for (aux, l) in zip(tape.auxiliaryOutputs, model.architecture.auxiliaryLosses) {
            let auxLoss: Float
            var g: Tensor
            (auxLoss, g) = try config.loss.evaluate(aux, labels: labels, penalty: false)
            loss += l.weight * auxLoss
            try g.withUnsafeMutableBufferPointer { b in for i in b.indices { b[i] *= l.weight } }
            auxGrads.append(g)
        }
        let grads = try model.backward(tape, gradOutput: grad, auxiliaryGradOutputs: auxGrads)
        let correct = zip(model.predictedClasses(out), labels).reduce(0) { $0 + ($1.0 == $1.1 ? 1 : 0) }
        return (loss, correct, grads)
    }

    /// Runs epochs from the current state until `config.epochs`. `onStep` is called after
    /// every step; returning false stops at once (the state is kept: a later `fit` or a
    /// checkpoint resumes at the next batch). `onEpoch` gets each finished epoch's report.
    /// Returns the reports of the epochs finished in this call.
    public func fit(_ data: Dataset, validation: Dataset? = nil, onStep: ((StepReport) -> Bool)? = nil,
                    onEpoch: ((EpochReport) -> Void)? = nil) throws -> [EpochReport] {
        guard config.batchSize >= 1 else {
            throw SwiftCNNError.invalidArgument("fit: batch size must be >= 1; got \(config.batchSize)")
        }
        guard config.epochs >= 0 else { throw SwiftCNNError.invalidArgument("fit: epochs must be >= 0; got \(config.epochs)") }
        guard data.count >= 1 else { throw SwiftCNNError.invalidArgument("fit: the dataset is empty") }
        _ = try model.outputShape(forInput: [1] + data.images.shape.dropFirst())
        try model.checkLabels(data.labels, "fit")
        if let v = validation { try model.checkLabels(v.labels, "fit: validation") }
        let n = data.count, bs = config.batchSize
        let batches = n / bs + (n % bs == 0 ? 0 : 1)   // no overflow for any batch size
        var reports: [EpochReport] = []
        while state.epoch < config.epochs {
            let order = data.order(epoch: state.epoch, seed: config.seed, shuffle: config.shuffle)
            let augmentationSeed = config.seed &+ UInt64(truncatingIfNeeded: state.epoch)
            while state.batchInEpoch < batches {
                let b = state.batchInEpoch
                let start = b * bs                           // < n, since b < batches
                let indices = order[start..<(start + min(bs, n - start))]
                let (x, y) = try data.batch(indices: indices, augmentation: config.augmentation, seed: augmentationSeed)
                let lr = optimizer.learningRate
                let r = try trainStep(x, y)
                state.batchInEpoch += 1
                state.epochLossSum += Double(r.loss) * Double(indices.count)
                state.epochCorrect += r.correct
                state.epochSeen += indices.count
                let report = StepReport(epoch: state.epoch, step: state.globalStep - 1, batchIndex: b,
                                        batchesPerEpoch: batches, loss: r.loss, learningRate: lr)
                if let onStep, !onStep(report) { return reports }
            }
            var report = EpochReport(epoch: state.epoch, loss: Float(state.epochLossSum / Double(max(state.epochSeen, 1))),
                                     accuracy: Double(state.epochCorrect) / Double(max(state.epochSeen, 1)),
                                     validationLoss: nil, validationAccuracy: nil)
            if let v = validation {
                let r = try model.evaluate(images: v.images, labels: v.labels, loss: config.loss)
                report.validationLoss = r.loss
                report.validationAccuracy = r.accuracy
            }
            state.epoch += 1
            state.batchInEpoch = 0
            state.epochLossSum = 0
            state.epochCorrect = 0
            state.epochSeen = 0
            reports.append(report)
            onEpoch?(report)
        }
        return reports
    }

    /// Saves weights, optimizer state, ``state`` and ``config`` to one safetensors file,
    /// atomically (see ``Checkpoint``).
    public func saveCheckpoint(path: FilePath) throws {
        try Checkpoint.save(model: model, optimizer: optimizer, state: state, config: config, path: path)
    }

    /// ``saveCheckpoint(path:)`` to the path whose bytes are `path`'s UTF-8.
    public func saveCheckpoint(path: String) throws { try saveCheckpoint(path: FilePath(path)) }

    /// ``loadCheckpoint(path:)`` from the path whose bytes are `path`'s UTF-8.
    public func loadCheckpoint(path: String) throws { try loadCheckpoint(path: FilePath(path)) }

    /// Restores a checkpoint written by ``saveCheckpoint(path:)`` for the same architecture:
    /// weights, optimizer state and hyper-parameters, ``state`` and ``config``. Continuing
    /// then gives the same losses and weights as the uninterrupted run. Either everything
    /// loads or nothing changes.
    public func loadCheckpoint(path: FilePath) throws {
        var m = model
        let restored = try Checkpoint.load(path: path, model: &m, optimizer: optimizer)
        model = m
        if let s = restored.state { state = s }
        if let c = restored.config { config = c }
    }
}
