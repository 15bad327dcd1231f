#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A model's weights prepared for the optimized forward pass, built lazily per convolution
/// on first use and dropped whenever the model's weights change (load, set_parameter,
/// initialization — any change to the store).
///
/// For each convolution: a batch norm that directly follows it is folded in (inference
/// only: w' = w·γ/√(σ²+ε), b' = (b − μ)·γ/√(σ²+ε) + β, computed in double precision; the
/// state dict keeps the original parameters), and the weights are packed once for the
/// GEMM (or Winograd-transformed, for the 3×3 stride-1 convolutions where that is faster:
/// ``PreparedConvWeights``). The forward pass then fuses the bias, a following ReLU and,
/// at the end of a residual block, the shortcut add and its ReLU into the convolution's
/// output pass.
/// Safe to use from several threads (a mutex guards the table).
final class InferencePlan: @unchecked Sendable {
    /// One prepared convolution.
    final class Conv {
        let packed: PreparedConvWeights
        /// The bias after folding (or the conv's own bias), nil when there is none.
        let bias: Tensor?
        init(packed: PreparedConvWeights, bias: Tensor?) {
            self.packed = packed
            self.bias = bias
        }
    }

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var convs: [String: Conv] = [:]

    init() {
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// The prepared convolution for `key`, made by `make` the first time.
    func conv(_ key: String, _ make: () throws -> Conv) throws -> Conv {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if let c = convs[key] { return c }
        let c = try make()
        convs[key] = c
        return c
    }

    /// Number of prepared convolutions (for tests).
    var preparedCount: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return convs.count
    }
}

extension Model {
    /// ``run(_:path:_:)`` with the inference plan: conv (+ batch norm) (+ ReLU) fused, and
    /// the residual add + ReLU fused into the block's last convolution.
    func runPlanned(_ layer: Layer, path: String, _ x: Tensor) throws -> Tensor {
        switch layer {
        case .sequential(let children):
            return try runSequence(children[...], path: path, x, residual: nil)
        case .residual(let body, let shortcut):
            let s = try shortcut.map { try runPlanned($0.layer, path: Layer.join(path, $0.name), x) } ?? x
            return try runSequence(body[...], path: path, x, residual: s)
        case .concat(let branches):
            var outs: [Tensor] = []
            outs.reserveCapacity(branches.count)
            for b in branches { outs.append(try runPlanned(b.layer, path: Layer.join(path, b.name), x)) }
            return try concat(outs, axis: 1)
        default:
            return try run(layer, path: path, x)
        }
    }

    /// Runs `children` in order, fusing conv → batch norm → ReLU runs. With `residual`, the
    /// result is relu(sequence(x) + residual); when the sequence ends in a convolution
    /// (optionally followed by a batch norm), the add and ReLU happen in its output pass.
    func runSequence(_ children: ArraySlice<NamedLayer>, path: String, _ x: Tensor, residual: Tensor?) throws -> Tensor {
        var y = x
        var i = children.startIndex
        while i < children.endIndex {
            guard case .conv2d(let spec) = children[i].layer else {
                y = try runPlanned(children[i].layer, path: Layer.join(path, children[i].name), y)
                i += 1
                continue
            }
            let convPath = Layer.join(path, children[i].name)
            var next = i + 1
            var bn: (path: String, eps: Float)? = nil
            if next < children.endIndex, case .batchNorm2d(_, let eps) = children[next].layer {
                bn = (Layer.join(path, children[next].name), eps)
                next += 1
            }
            var relu = false
            if next < children.endIndex, case .relu = children[next].layer {
                relu = true
                next += 1
            }
            // The block's last conv (+ bn) takes the residual add and the block's ReLU.
            let takesResidual = residual != nil && next == children.endIndex && !relu
            y = try plannedConv(spec, path: convPath, batchNorm: bn, y,
                                residual: takesResidual ? residual : nil, relu: relu || takesResidual)
            if takesResidual { return y }
            i = next
        }
        if let residual { return try SwiftCNN.relu(try add(y, residual)) }
        return y
    }

    /// One convolution through the plan: packed (BN-folded) weights, fused output pass.
    func plannedConv(_ spec: ConvSpec, path: String, batchNorm bn: (path: String, eps: Float)?, _ x: Tensor,
                     residual: Tensor?, relu: Bool) throws -> Tensor {
        let options = Conv2DOptions(stride: spec.stride, padding: spec.padding)
        let weight = try self.weight(path, "weight")
        let ownBias = spec.bias ? try self.weight(path, "bias") : nil
        let g = try Conv2DGeometry(input: x, weight: weight, bias: ownBias, options: options)
        let key = bn.map { path + "+" + $0.path } ?? path
        let conv = try plan.conv(key) {
            try prepareConv(g, weight: weight, bias: ownBias, batchNorm: bn)
        }
        let shape = imageShape(rank: x.rank, g.batch, g.outChannels, g.outHeight, g.outWidth)
        if let residual, residual.shape != shape {
            throw SwiftCNNError.shapeMismatch(
                "\(path): residual shape \(Tensor.describe(residual.shape)) differs from the convolution's \(Tensor.describe(shape))")
        }
        var out = try Tensor(uninitialized: shape)
        try x.withUnsafePointer { xp in
            try withOptionalPointer(conv.bias) { b in
                try withOptionalPointer(residual) { r in
                    try out.withUnsafeMutablePointerUnchecked { yp in
                        try Optimized.conv2dPrepared(g, input: xp, weights: conv.packed, bias: b,
                                                     residual: r, relu: relu, output: yp)
                    }
                }
            }
        }
        return out
    }

    /// Folds the batch norm at `bn` (if any) into the weights and bias, then packs them.
    func prepareConv(_ g: Conv2DGeometry, weight: Tensor, bias: Tensor?, batchNorm bn: (path: String, eps: Float)?) throws -> InferencePlan.Conv {
        guard let bn else {
            let packed = try weight.withUnsafePointer { try PreparedConvWeights(g, weight: $0) }
            return InferencePlan.Conv(packed: packed, bias: bias)
        }
        let gamma = try self.weight(bn.path, "weight").scalars, beta = try self.weight(bn.path, "bias").scalars
        let mean = try self.weight(bn.path, "running_mean").scalars, variance = try self.weight(bn.path, "running_var").scalars
        let oc = g.outChannels
        guard gamma.count == oc, beta.count == oc, mean.count == oc, variance.count == oc else {
            throw SwiftCNNError(.internal, "\(bn.path): batch norm has \(gamma.count) channels, the convolution \(oc)")
        }
        let own = bias?.scalars
        var folded = try Tensor(uninitialized: weight.shape)
        var newBias = try Tensor(uninitialized: [oc])
        let per = weight.count / oc
        weight.withUnsafePointer { w in
            folded.withUnsafeMutablePointerUnchecked { f in
                newBias.withUnsafeMutablePointerUnchecked { nb in
                    for o in 0..<oc {
                        let scale = Double(gamma[o]) / (Double(variance[o]) + Double(bn.eps)).squareRoot()
                        for j in 0..<per { f[o * per + j] = Float(Double(w[o * per + j]) * scale) }
                        nb[o] = Float((Double(own?[o] ?? 0) - Double(mean[o])) * scale + Double(beta[o]))
                    }
                }
            }
        }
        let packed = try folded.withUnsafePointer { try PreparedConvWeights(g, weight: $0) }
        return InferencePlan.Conv(packed: packed, bias: newBias)
    }
}
