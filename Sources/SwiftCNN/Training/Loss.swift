#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// Losses with their gradients, PyTorch's definitions, mean reduction.

/// Softmax cross-entropy over class indices, `torch.nn.functional.cross_entropy(logits,
/// labels, label_smoothing=ε)` with mean reduction:
///
///     loss = (1/N) Σ_n [ −(1 − ε)·log p[n, y_n] − (ε/K)·Σ_k log p[n, k] ],  p = softmax(logits[n])
///     ∂loss/∂logits[n, k] = (p[n, k] − q[n, k]) / N,  q = (1 − ε)·onehot(y_n) + ε/K
///
/// computed in float64 (log-sum-exp with the row maximum subtracted) and rounded to float32.
/// - Parameters:
///   - logits: [N, K].
///   - labels: N class indices in 0..<K.
///   - labelSmoothing: ε in [0, 1].
public func crossEntropyLoss(_ logits: Tensor, labels: [Int32], labelSmoothing: Float = 0) throws -> (loss: Float, gradient: Tensor) {
    let op = "crossEntropyLoss"
    guard logits.rank == 2 else {
        throw SwiftCNNError.invalidArgument("\(op): logits must have rank 2 [N, classes]; got \(Tensor.describe(logits.shape))")
    }
    let n = logits.shape[0], k = logits.shape[1]
    guard labels.count == n else {
        throw SwiftCNNError.shapeMismatch("\(op): \(labels.count) labels given for a batch of \(n)")
    }
    guard labelSmoothing >= 0 && labelSmoothing <= 1 else {
        throw SwiftCNNError.invalidArgument("\(op): labelSmoothing must be in [0, 1]; got \(labelSmoothing)")
    }
    for (i, l) in labels.enumerated() where l < 0 || Int(l) >= k {
        throw SwiftCNNError.invalidArgument("\(op): label \(l) at index \(i) is outside 0..<\(k)")
    }
    let eps = Double(labelSmoothing)
    let offTarget = eps / Double(k), onTarget = 1 - eps + eps / Double(k)
    var grad = try Tensor(uninitialized: logits.shape)
    var total = 0.0
    logits.withUnsafeBufferPointer { x in
        grad.withUnsafeMutableBufferPointerUnchecked { gp in
            for row in 0..<n {
                let base = row * k
                var m = -Double.infinity
                for j in 0..<k { m = max(m, Double(x[base + j])) }
                var s = 0.0
                for j in 0..<k { s += exp(Double(x[base + j]) - m) }
                let lse = m + log(s)
                let y = Int(labels[row])
                var sumLogP = 0.0
                for j in 0..<k {
                    let logp = Double(x[base + j]) - lse
                    sumLogP += logp
                    let q = j == y ? onTarget : offTarget
                    gp[base + j] = Float((exp(logp) - q) / Double(n))
                }
                total += -(1 - eps) * (Double(x[base + y]) - lse) - offTarget * sumLogP
            }
        }
    }
    return (Float(total / Double(n)), grad)
}

/// Mean squared error, `torch.nn.functional.mse_loss` (mean over all elements):
/// loss = Σ (prediction − target)² / count, gradient 2·(prediction − target) / count
/// (sum in float64).
public func meanSquaredErrorLoss(_ prediction: Tensor, target: Tensor) throws -> (loss: Float, gradient: Tensor) {
    guard prediction.shape == target.shape else {
        throw SwiftCNNError.shapeMismatch(
            "meanSquaredErrorLoss: prediction \(Tensor.describe(prediction.shape)) and target \(Tensor.describe(target.shape)) differ")
    }
    let count = Double(prediction.count)
    var grad = try Tensor(uninitialized: prediction.shape)
    var total = 0.0
    prediction.withUnsafeBufferPointer { p in
        target.withUnsafeBufferPointer { t in
            grad.withUnsafeMutableBufferPointerUnchecked { g in
                for i in 0..<p.count {
                    let d = Double(p[i]) - Double(t[i])
                    total += d * d
                    g[i] = Float(2 * d / count)
                }
            }
        }
    }
    return (Float(total / count), grad)
}

/// The loss a ``Trainer`` (and ``Model/evaluate(images:labels:batchSize:loss:)``) minimizes.
///
/// For a model whose output holds penalties (lenet5_original's RBF layer: lower is better)
/// the loss sees −output as the scores, so both losses push the right class's penalty down.
public enum LossFunction: Sendable, Equatable {
    /// ``crossEntropyLoss(_:labels:labelSmoothing:)``.
    case crossEntropy(labelSmoothing: Float)
    /// ``meanSquaredErrorLoss(_:target:)`` against the one-hot vectors of the labels.
    case meanSquaredError

    /// Loss and dL/d(output) for a model output [N, K] and N labels.
    func evaluate(_ output: Tensor, labels: [Int32], penalty: Bool) throws -> (loss: Float, gradient: Tensor) {
        let scores = penalty ? try negated(output) : output
        var r: (loss: Float, gradient: Tensor)
        switch self {
        case .crossEntropy(let eps):
            r = try crossEntropyLoss(scores, labels: labels, labelSmoothing: eps)
        case .meanSquaredError:
            r = try meanSquaredErrorLoss(scores, target: try oneHot(labels, like: scores))
        }
        if penalty { r.gradient = try negated(r.gradient) }
        return r
    }

    /// A stable name for checkpoints: "cross_entropy:<ε>" or "mse".
    var checkpointName: String {
        switch self {
        case .crossEntropy(let eps): return "cross_entropy:\(eps)"
        case .meanSquaredError: return "mse"
        }
    }

    init?(checkpointName s: String) {
        if s == "mse" { self = .meanSquaredError; return }
        guard s.hasPrefix("cross_entropy:"), let e = Float(String(s.dropFirst("cross_entropy:".count))) else { return nil }
        self = .crossEntropy(labelSmoothing: e)
    }
}

/// −x elementwise.
func negated(_ x: Tensor) throws -> Tensor {
    var y = try Tensor(uninitialized: x.shape)
    x.withUnsafeBufferPointer { a in
        y.withUnsafeMutableBufferPointerUnchecked { b in for i in 0..<a.count { b[i] = -a[i] } }
    }
    return y
}

/// One-hot rows [N, K] for labels (each checked to be in 0..<K).
func oneHot(_ labels: [Int32], like x: Tensor) throws -> Tensor {
    guard x.rank == 2, x.shape[0] == labels.count else {
        throw SwiftCNNError.shapeMismatch("loss: \(labels.count) labels for an output of shape \(Tensor.describe(x.shape))")
    }
    let k = x.shape[1]
    var t = try Tensor(zeros: x.shape)
    try t.withUnsafeMutableBufferPointer { p in
        for (i, l) in labels.enumerated() {
            guard l >= 0 && Int(l) < k else {
                throw SwiftCNNError.invalidArgument("loss: label \(l) at index \(i) is outside 0..<\(k)")
            }
            p[i * k + Int(l)] = 1
        }
    }
    return t
}

/// An auxiliary loss of a model (``Architecture/withAuxiliaryLosses(_:)``): the trainer's
/// loss on graph output `output`, times `weight`, added to the main loss in training mode.
public struct AuxiliaryLoss: Equatable, Sendable {
    /// The root graph's output (a classifier's logits [N, classes]).
    public var output: String
    /// The weight (GoogLeNet: 0.3).
    public var weight: Float

    /// See the properties.
    public init(output: String, weight: Float) {
        self.output = output
        self.weight = weight
    }
}
