// Data-parallel training steps within one process: a batch cut into fixed parts, each part's
// forward and backward run as one work item (the parts spread over the threads), and the
// parts' parameter gradients added in part order.
//
// Only for models whose every layer treats the images of a batch independently (no batch
// norm in training mode, no active dropout, no auxiliary heads): the parts' outputs are
// then exactly the rows of the whole batch's output. The number of parts depends only on
// the batch size (never on the thread count), and the kernels inside an item run serially
// (a nested parallel call does), each with the same instructions as ever: weights after a
// step are bitwise equal for every thread count. Small models such as LeNet-5 gain the
// most: their per-layer kernels are too short to split well, so one thread per part is
// how they use several cores.

extension Layer {
    /// Whether every image of a batch goes through this layer independently of the others,
    /// in training mode too (a conservative list: anything else is treated as coupling).
    var isPerImageInTraining: Bool {
        switch self {
        case .conv2d, .linear, .relu, .tanh, .scaledTanh, .maxPool2d, .avgPool2d, .adaptiveAvgPool2d, .flatten,
             .subsampling, .partialConv2d, .euclideanRBF, .localResponseNorm, .identity:
            return true
        case .dropout(let p):
            return p == 0
        case .sequential(let children):
            return children.allSatisfy { $0.layer.isPerImageInTraining }
        case .residual(let body, let shortcut):
            return body.allSatisfy { $0.layer.isPerImageInTraining } && (shortcut?.layer.isPerImageInTraining ?? true)
        case .concat(let branches):
            return branches.allSatisfy { $0.layer.isPerImageInTraining }
        default:
            return false
        }
    }
}

extension Model {
    /// Images per part of a split training step: from twice this many images on, a step
    /// is cut into parts of about this size (``trainingParts(batch:)``).
    static let trainingPartImages = 32
    /// Most parts a step is cut into.
    static let maxTrainingParts = 8

    /// The parts a training step on `batch` images is cut into: 1 (no split) unless the
    /// model is per-image (``Layer/isPerImageInTraining``, no auxiliary losses) and the batch
    /// holds at least two parts' worth; a function of the batch size alone.
    func trainingParts(batch: Int) -> Int {
        guard architecture.auxiliaryLosses.isEmpty, architecture.trainingRoot == nil,
              architecture.root.isPerImageInTraining else { return 1 }
        return max(1, min(Self.maxTrainingParts, batch / Self.trainingPartImages))
    }

    /// The batch sizes of `parts` consecutive parts of `batch` images (as equal as can be).
    static func partSizes(batch: Int, parts: Int) -> [Int] {
        (0..<parts).map { batch * ($0 + 1) / parts - batch * $0 / parts }
    }

    /// Forward (recording) and backward of one training step cut into `parts` parts (see
    /// the top of this file): returns the whole batch's output and, from `lossGradient`
    /// (called once with that output; returns the loss and dL/d(output)), the loss and the
    /// parameter gradients, the parts' gradients added in part order.
    func splitStep(_ images: Tensor, parts: Int, dropoutSeed: UInt64,
                   lossGradient: (Tensor) throws -> (loss: Float, gradient: Tensor))
        throws -> (output: Tensor, loss: Float, gradients: Gradients) {
        let batch = images.shape.first ?? 0
        let sizes = Self.partSizes(batch: batch, parts: parts)
        let inputs = try slices(images, axis: 0, sizes: sizes, op: "train step", name: "images")
        // Per part: its output and tape, then its gradients; or the error it met.
        var outputs = [Tensor?](repeating: nil, count: parts)
        var tapes = [ForwardTape?](repeating: nil, count: parts)
        var grads = [Gradients?](repeating: nil, count: parts)
        var errors = [Error?](repeating: nil, count: parts)
        try errors.withUnsafeMutableBufferPointer { errs in
            try outputs.withUnsafeMutableBufferPointer { outs in
                try tapes.withUnsafeMutableBufferPointer { tps in
                    Threading.parallelFor(parts) { p in
                        do {
                            var m = self  // a per-image model: recording changes no state
                            (outs[p], tps[p]) = try m.forwardRecording(inputs[p], dropoutSeed: dropoutSeed)
                        } catch {
                            errs[p] = error
                        }
                    }
                    if let e = errs.lazy.compactMap({ $0 }).first { throw e }
                }
            }
        }
        let output = try concat(outputs.map { o -> Tensor in
            guard let o else { throw SwiftCNNError(.internal, "train step: a part gave no output") }
            return o
        }, axis: 0)
        let (loss, gradient) = try lossGradient(output)
        let gradParts = try slices(gradient, axis: 0, sizes: sizes, op: "train step", name: "gradient")
        try errors.withUnsafeMutableBufferPointer { errs in
            try grads.withUnsafeMutableBufferPointer { gs in
                Threading.parallelFor(parts) { p in
                    do {
                        guard let tape = tapes[p] else { throw SwiftCNNError(.internal, "train step: a part has no tape") }
                        gs[p] = try self.backward(tape, gradOutput: gradParts[p])
                    } catch {
                        errs[p] = error
                    }
                }
                if let e = errs.lazy.compactMap({ $0 }).first { throw e }
            }
        }
        tapes = []
        guard var total = grads[0] else { throw SwiftCNNError(.internal, "train step: a part has no gradients") }
        grads[0] = nil  // total holds the only reference: the sums below run in place
        for p in 1..<parts {
            guard let gp = grads[p] else { throw SwiftCNNError(.internal, "train step: a part has no gradients") }
            for name in total.names {
                guard let b = gp.values[name], var a = total.values.removeValue(forKey: name) else { continue }
                try Self.accumulateGradient(b, into: &a)
                total.values[name] = a
            }
        }
        return (output, loss, total)
    }

    /// a += b elementwise (same shapes; a copied first only when shared).
    static func accumulateGradient(_ b: Tensor, into a: inout Tensor) throws {
        guard a.shape == b.shape else {
            throw SwiftCNNError(.internal, "train step: gradients of shapes \(Tensor.describe(a.shape)) and \(Tensor.describe(b.shape))")
        }
        try a.withUnsafeMutableBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                for i in 0..<min(ap.count, bp.count) { ap[i] += bp[i] }
            }
        }
    }
}
