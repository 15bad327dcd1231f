// Training checkpoints: one safetensors file with the model's state dict (PyTorch names, so
// the file also loads as plain weights with `Model.load(path:strict: false)`… or strict after
// dropping "optimizer." keys), the optimizer's state tensors ("optimizer.*") and, in the
// metadata, the training state, the training configuration and the optimizer's
// hyper-parameters.

/// Saving and restoring training checkpoints (used by ``Trainer``; usable without one).
///
/// Metadata keys (all strings): "format" = "swiftcnn checkpoint v1", "model", "num_classes";
/// "state.epoch", "state.batch_in_epoch", "state.global_step", "state.epoch_loss_sum"
/// (shortest round-trip decimal of the float64), "state.epoch_correct", "state.epoch_seen";
/// "config.epochs", "config.batch_size", "config.seed", "config.shuffle" ("1"/"0"),
/// "config.crop_padding", "config.horizontal_flip", "config.loss" ("cross_entropy:<ε>" or
/// "mse"); "optimizer.kind" ("sgd", "adam", "adamw"), "optimizer.momentum",
/// "optimizer.nesterov", "optimizer.weight_decay", "optimizer.beta1", "optimizer.beta2",
/// "optimizer.epsilon" (float32 shortest decimals), "optimizer.schedule" ("constant",
/// "step:<every>:<gamma>", "cosine:<totalSteps>:<minimum>"). The base learning rate and step
/// count are tensors (see ``Optimizer/stateDict()``).
public enum Checkpoint {
    /// The format tag.
    public static let format = "swiftcnn checkpoint v1"

    /// Writes a checkpoint atomically (temporary file, fsync, rename: a failure leaves any
    /// existing file intact). `optimizer`, `state` and `config` may be nil to leave them out.
    public static func save(model: Model, optimizer: Optimizer?, state: TrainingState?, config: TrainingConfig?,
                            path: FilePath) throws {
        var tensors = model.stateDict()
        var meta: [String: String] = ["format": format, "model": model.name, "num_classes": String(model.numClasses)]
        if let optimizer {
            tensors += optimizer.stateDict()
            let c = optimizer.config
            meta["optimizer.kind"] = c.kind == .sgd ? "sgd" : c.kind == .adam ? "adam" : "adamw"
            meta["optimizer.momentum"] = "\(c.momentum)"
            meta["optimizer.nesterov"] = c.nesterov ? "1" : "0"
            meta["optimizer.weight_decay"] = "\(c.weightDecay)"
            meta["optimizer.beta1"] = "\(c.beta1)"
            meta["optimizer.beta2"] = "\(c.beta2)"
            meta["optimizer.epsilon"] = "\(c.epsilon)"
            switch optimizer.schedule {
            case .constant: meta["optimizer.schedule"] = "constant"
            case .step(let every, let gamma): meta["optimizer.schedule"] = "step:\(every):\(gamma)"
            case .cosine(let total, let minimum): meta["optimizer.schedule"] = "cosine:\(total):\(minimum)"
            }
        }
        if let s = state {
            meta["state.epoch"] = String(s.epoch)
            meta["state.batch_in_epoch"] = String(s.batchInEpoch)
            meta["state.global_step"] = String(s.globalStep)
            meta["state.epoch_loss_sum"] = "\(s.epochLossSum)"
            meta["state.epoch_correct"] = String(s.epochCorrect)
            meta["state.epoch_seen"] = String(s.epochSeen)
        }
        if let c = config {
            meta["config.epochs"] = String(c.epochs)
            meta["config.batch_size"] = String(c.batchSize)
            meta["config.seed"] = String(c.seed)
            meta["config.shuffle"] = c.shuffle ? "1" : "0"
            meta["config.crop_padding"] = String(c.augmentation.cropPadding)
            meta["config.horizontal_flip"] = c.augmentation.horizontalFlip ? "1" : "0"
            meta["config.loss"] = c.loss.checkpointName
        }
        try SafeTensorsFile.write(tensors, metadata: meta, to: path)
    }

    /// Reads a checkpoint into `model` (strict: every weight, right shapes) and, when given,
    /// `optimizer` (state tensors and hyper-parameters; the kind must match). Returns the
    /// saved training state and configuration when the file has them. Either everything
    /// loads or nothing changes; errors name the file and the entry.
    @discardableResult
    public static func load(path: FilePath, model: inout Model, optimizer: Optimizer?) throws
        -> (state: TrainingState?, config: TrainingConfig?) {
        let file = try SafeTensorsFile.read(path: path)
        let meta = file.metadata
        func fail(_ what: String) -> SwiftCNNError { .format("checkpoint \(path): \(what)") }
        guard meta["format"] == format else {
            throw fail("not a swiftcnn training checkpoint (metadata format is \(meta["format"].map { "\"\($0)\"" } ?? "missing"))")
        }
        guard meta["model"] == model.name else {
            throw fail("saved for model \(meta["model"] ?? "?"), not \(model.name)")
        }
        func int(_ key: String) throws -> Int {
            guard let s = meta[key], let v = Int(s), v >= 0 else { throw fail("metadata \(key) must be an integer >= 0; got \(meta[key] ?? "nothing")") }
            return v
        }
        func float(_ key: String) throws -> Float {
            guard let s = meta[key], let v = Float(s), v.isFinite else { throw fail("metadata \(key) must be a number; got \(meta[key] ?? "nothing")") }
            return v
        }
        func flag(_ key: String) throws -> Bool {
            guard let s = meta[key], s == "0" || s == "1" else { throw fail("metadata \(key) must be 0 or 1; got \(meta[key] ?? "nothing")") }
            return s == "1"
        }
        var state: TrainingState?
        if meta["state.epoch"] != nil {
            var s = TrainingState()
            s.epoch = try int("state.epoch")
            s.batchInEpoch = try int("state.batch_in_epoch")
            s.globalStep = try int("state.global_step")
            guard let text = meta["state.epoch_loss_sum"], let sum = Double(text) else { throw fail("metadata state.epoch_loss_sum is not a number") }
            s.epochLossSum = sum
            s.epochCorrect = try int("state.epoch_correct")
            s.epochSeen = try int("state.epoch_seen")
            state = s
        }
        var config: TrainingConfig?
        if meta["config.epochs"] != nil {
            var c = TrainingConfig()
            c.epochs = try int("config.epochs")
            c.batchSize = try int("config.batch_size")
            guard let text = meta["config.seed"], let seed = UInt64(text) else { throw fail("metadata config.seed is not an unsigned integer") }
            c.seed = seed
            c.shuffle = try flag("config.shuffle")
            c.augmentation = Augmentation(cropPadding: try int("config.crop_padding"), horizontalFlip: try flag("config.horizontal_flip"))
            guard let text = meta["config.loss"], let loss = LossFunction(checkpointName: text) else { throw fail("metadata config.loss is not a known loss") }
            c.loss = loss
            config = c
        }
        var optimizerConfig: OptimizerConfig?
        var schedule: LearningRateSchedule?
        if let optimizer {
            guard let kindName = meta["optimizer.kind"] else { throw fail("no optimizer state in the file") }
            var c = optimizer.config
            switch kindName {
            case "sgd": c.kind = .sgd
            case "adam": c.kind = .adam
            case "adamw": c.kind = .adamW
            default: throw fail("unknown optimizer kind \(kindName)")
            }
            guard c.kind == optimizer.config.kind else {
                throw fail("saved with optimizer \(kindName); the optimizer given is another kind")
            }
            c.momentum = try float("optimizer.momentum")
            c.nesterov = try flag("optimizer.nesterov")
            c.weightDecay = try float("optimizer.weight_decay")
            c.beta1 = try float("optimizer.beta1")
            c.beta2 = try float("optimizer.beta2")
            c.epsilon = try float("optimizer.epsilon")
            try c.validate()
            optimizerConfig = c
            guard let text = meta["optimizer.schedule"], let s = parseSchedule(text) else {
                throw fail("metadata optimizer.schedule is not a known schedule")
            }
            try s.validate()
            schedule = s
        }
        var weights: [String: Tensor] = [:]
        for (k, v) in file.tensors where !k.hasPrefix("optimizer.") { weights[k] = v }
        var m = model
        do {
            try m.loadStateDict(weights, strict: true)
        } catch let e as SwiftCNNError {
            throw SwiftCNNError(e.kind, "checkpoint \(path): \(e.message)")
        }
        if let optimizer, let optimizerConfig, let schedule {
            let (oldConfig, oldSchedule) = (optimizer.config, optimizer.schedule)
            optimizer.config = optimizerConfig
            optimizer.schedule = schedule
            do {
                try optimizer.loadStateDict(file.tensors)
            } catch let e as SwiftCNNError {
                optimizer.config = oldConfig
                optimizer.schedule = oldSchedule
                throw SwiftCNNError(e.kind, "checkpoint \(path): \(e.message)")
            }
        }
        model = m
        return (state, config)
    }

    static func parseSchedule(_ s: String) -> LearningRateSchedule? {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        switch parts.first {
        case "constant" where parts.count == 1: return .constant
        case "step" where parts.count == 3:
            guard let every = Int(parts[1]), let gamma = Float(parts[2]) else { return nil }
            return .step(every: every, gamma: gamma)
        case "cosine" where parts.count == 3:
            guard let total = Int(parts[1]), let minimum = Float(parts[2]) else { return nil }
            return .cosine(totalSteps: total, minimum: minimum)
        default: return nil
        }
    }
}
