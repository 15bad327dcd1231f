// Batched evaluation and prediction with the inference forward.

extension Model {
    /// Mean loss and accuracy over a labelled set, in eval mode (``forward(_:)``, whatever
    /// ``isTraining`` says), `batchSize` images at a time. For lenet5_original the class is
    /// the lowest RBF penalty and the loss sees −output (see ``LossFunction``).
    /// - Parameters:
    ///   - images: [N, C, H, W] as ``forward(_:)`` takes.
    ///   - labels: N class indices in 0..<numClasses.
    public func evaluate(images: Tensor, labels: [Int32], batchSize: Int = 256,
                         loss: LossFunction = .crossEntropy(labelSmoothing: 0)) throws -> (loss: Float, accuracy: Double) {
        guard images.rank == 4, images.shape[0] == labels.count else {
            throw SwiftCNNError.shapeMismatch(
                "evaluate: \(labels.count) labels for images of shape \(Tensor.describe(images.shape)) (expected [N, C, H, W] with N = labels)")
        }
        try checkLabels(labels, "evaluate")
        var total = 0.0
        var correct = 0
        try forEachBatch(images, batchSize: batchSize, "evaluate") { start, out in
            let chunk = Array(labels[start..<(start + out.shape[0])])
            let r = try loss.evaluate(out, labels: chunk, penalty: outputIsPenalty)
            total += Double(r.loss) * Double(chunk.count)
            for (p, l) in zip(predictedClasses(out), chunk) where p == l { correct += 1 }
        }
        let n = Double(labels.count)
        return (Float(total / n), Double(correct) / n)
    }

    /// The predicted class of each image: the arg-max of the output (the arg-min of the RBF
    /// penalties for lenet5_original; the first on ties), eval mode, `batchSize` at a time.
    public func predict(_ images: Tensor, batchSize: Int = 256) throws -> [Int32] {
        guard images.rank == 4 else {
            throw SwiftCNNError.shapeMismatch("predict: images must be [N, C, H, W]; got \(Tensor.describe(images.shape))")
        }
        var r: [Int32] = []
        r.reserveCapacity(images.shape[0])
        try forEachBatch(images, batchSize: batchSize, "predict") { _, out in r += predictedClasses(out) }
        return r
    }

    /// Runs the inference forward over consecutive slices of `images` (no copies: each
    /// slice borrows the images' memory), passing each slice's first index and output.
    func forEachBatch(_ images: Tensor, batchSize: Int, _ op: String, _ body: (Int, Tensor) throws -> Void) throws {
        guard batchSize >= 1 else { throw SwiftCNNError.invalidArgument("\(op): batch size must be >= 1; got \(batchSize)") }
        _ = try outputShape(forInput: images.shape)
        let n = images.shape[0], per = images.count / n
        let rest = Array(images.shape.dropFirst())
        try images.withUnsafePointer { base in
            var start = 0
            while start < n {
                let b = min(batchSize, n - start)
                let slice = b == n ? images : try Tensor(borrowing: base + start * per, count: b * per, shape: [b] + rest)
                try body(start, try forward(slice))
                start += b
            }
        }
    }

    /// Arg-max per row (arg-min for penalty outputs); the first index on ties.
    func predictedClasses(_ out: Tensor) -> [Int32] {
        let n = out.shape[0], k = out.count / n
        let lower = outputIsPenalty
        var r: [Int32] = []
        r.reserveCapacity(n)
        out.withUnsafeBufferPointer { p in
            for i in 0..<n {
                var best = 0
                for j in 1..<max(k, 1) where lower ? p[i * k + j] < p[i * k + best] : p[i * k + j] > p[i * k + best] {
                    best = j
                }
                r.append(Int32(best))
            }
        }
        return r
    }

    /// Throws unless every label is in 0..<numClasses.
    func checkLabels(_ labels: [Int32], _ op: String) throws {
        for (i, l) in labels.enumerated() where l < 0 || Int(l) >= numClasses {
            throw SwiftCNNError.invalidArgument("\(op): label \(l) at index \(i) is outside 0..<\(numClasses)")
        }
    }
}
