#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// LeNet-5 — Y. LeCun, L. Bottou, Y. Bengio, P. Haffner, "Gradient-based learning applied to
// document recognition", Proc. IEEE 86(11), 1998.
//
// Two models:
// - `lenet5`: the common modern rendering (61,706 parameters): tanh, 2×2 average pooling
//   without trainable coefficients, full C3 connectivity, a linear 10-way output.
//   Deviations from the paper, on purpose: average pools instead of trainable subsampling,
//   full C3, plain tanh, a linear output instead of the RBF layer.
// - `lenet5_original`: the network as published (60,000 parameters): squashing
//   1.7159·tanh(2a/3) after C1, S2, C3, S4, C5 and F6; S2/S4 add each 2×2 block, multiply by
//   a trainable coefficient and add a trainable bias per map; C3 follows Table I's partial
//   connection scheme; the output is a Euclidean RBF layer y_i = Σ_j (x_j − w_ij)².
//   Deviations: the RBF codes are fixed ±1 vectors drawn by the seeded generator (name
//   "rbf.codes", seed 0), not the paper's stylized 7×12 character bitmaps; input is 32×32
//   with no padding convention beyond that; no training-specific details (the paper's
//   MAP loss, the constant-scaled initialization) are part of the model.

/// C3's connection table (Table I of the paper): output map j reads these input maps.
public let lenet5C3Connections: [[Int]] = [
    [0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5], [0, 4, 5], [0, 1, 5],
    [0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5], [0, 3, 4, 5], [0, 1, 4, 5], [0, 1, 2, 5],
    [0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5],
    [0, 1, 2, 3, 4, 5],
]

/// `lenet5`: input [N, 1, 32, 32]; `features` (C1 conv 6@5×5, tanh, 2×2 average pool, C3 conv
/// 16@5×5, tanh, pool, C5 conv 120@5×5, tanh), flatten, `classifier` (F6 linear 84, tanh,
/// linear `numClasses`). 61,706 parameters with 10 classes.
public func lenet5Architecture(numClasses: Int = 10) -> Architecture {
    let features: [NamedLayer] = [
        NamedLayer("0", .conv2d(ConvSpec(1, 6, kernel: 5))),
        NamedLayer("1", .tanh),
        NamedLayer("2", .avgPool2d(PoolSpec(kernel: 2))),
        NamedLayer("3", .conv2d(ConvSpec(6, 16, kernel: 5))),
        NamedLayer("4", .tanh),
        NamedLayer("5", .avgPool2d(PoolSpec(kernel: 2))),
        NamedLayer("6", .conv2d(ConvSpec(16, 120, kernel: 5))),
        NamedLayer("7", .tanh),
    ]
    let classifier: [NamedLayer] = [
        NamedLayer("0", .linear(inFeatures: 120, outFeatures: 84, bias: true)),
        NamedLayer("1", .tanh),
        NamedLayer("2", .linear(inFeatures: 84, outFeatures: numClasses, bias: true)),
    ]
    return Architecture(name: "lenet5", numClasses: numClasses, inputChannels: 1, inputSize: Size2D(32),
                        acceptsAnyInputSize: false,
                        root: .sequential([NamedLayer("features", .sequential(features)),
                                           NamedLayer("flatten", .flatten),
                                           NamedLayer("classifier", .sequential(classifier))]))
}

/// `lenet5_original`: LeNet-5 as published (see the file comment). Parameters
/// c1 (156), s2 (12), c3 (1,516), s4 (32), c5 (48,120), f6 (10,164) = 60,000; the output
/// [N, numClasses] holds the RBF penalties (lower is better).
public func lenet5OriginalArchitecture(numClasses: Int = 10) -> Architecture {
    let layers: [NamedLayer] = [
        NamedLayer("c1", .conv2d(ConvSpec(1, 6, kernel: 5))),
        NamedLayer("c1_act", .scaledTanh),
        NamedLayer("s2", .subsampling(channels: 6)),
        NamedLayer("s2_act", .scaledTanh),
        NamedLayer("c3", .partialConv2d(inChannels: 6, connections: lenet5C3Connections, kernel: 5)),
        NamedLayer("c3_act", .scaledTanh),
        NamedLayer("s4", .subsampling(channels: 16)),
        NamedLayer("s4_act", .scaledTanh),
        NamedLayer("c5", .conv2d(ConvSpec(16, 120, kernel: 5))),
        NamedLayer("c5_act", .scaledTanh),
        NamedLayer("flatten", .flatten),
        NamedLayer("f6", .linear(inFeatures: 120, outFeatures: 84, bias: true)),
        NamedLayer("f6_act", .scaledTanh),
        NamedLayer("rbf", .euclideanRBF(features: 84, classes: numClasses)),
    ]
    return Architecture(name: "lenet5_original", numClasses: numClasses, inputChannels: 1, inputSize: Size2D(32),
                        acceptsAnyInputSize: false, root: .sequential(layers))
}

/// The layers only LeNet-5 as published uses. Shapes are validated by the model's shape
/// inference before these run; each still checks what it indexes.
enum LeNetOps {
    /// 1.7159 · tanh(2x/3), elementwise, in float32 in the reference's order:
    /// tanh(x · Float(2/3)) · 1.7159 — with the SIMD tanh (``Optimized/scaledTanh(_:_:count:)``),
    /// or the C library's tanhf under ``KernelDispatch/forceReference``.
    static func scaledTanh(_ x: Tensor) throws -> Tensor {
        let s = Float(2.0 / 3.0)
        return try layerOutput(x.shape, reading: x) { xp, yp in
            if KernelDispatch.forceReference {
                for i in 0..<x.count { yp[i] = tanhf(xp[i] * s) * 1.7159 }
            } else {
                Optimized.scaledTanh(xp, yp, count: x.count)
            }
        }
    }

    /// Per map c: out[n, c, i, j] = weight[c] · Σ of the 2×2 block at (2i, 2j) + bias[c].
    static func subsample(_ x: Tensor, weight: Tensor, bias: Tensor) throws -> Tensor {
        guard x.rank == 4, weight.shape == [x.shape[1]], bias.shape == [x.shape[1]], x.shape[2] >= 2, x.shape[3] >= 2 else {
            throw SwiftCNNError.shapeMismatch(
                "subsampling: input \(Tensor.describe(x.shape)), weight \(Tensor.describe(weight.shape)), bias \(Tensor.describe(bias.shape))")
        }
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let oh = h / 2, ow = w / 2
        var y = try Tensor(zeros: [n, c, oh, ow])
        try y.withUnsafeMutableBufferPointer { out in
            x.withUnsafeBufferPointer { inp in
                weight.withUnsafeBufferPointer { wt in
                    bias.withUnsafeBufferPointer { bs in
                        for b in 0..<n {
                            for ch in 0..<c {
                                let src = (b * c + ch) * h * w
                                let dst = (b * c + ch) * oh * ow
                                for i in 0..<oh {
                                    for j in 0..<ow {
                                        let p = src + 2 * i * w + 2 * j
                                        let s = inp[p] + inp[p + 1] + inp[p + w] + inp[p + w + 1]
                                        out[dst + i * ow + j] = s * wt[ch] + bs[ch]
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return y
    }

    /// C3: output map j is the valid k×k cross-correlation of the input maps
    /// `connections[j]` with their kernels in `weight` (map by map, inputs ascending) plus
    /// bias[j]. Runs as one dense convolution whose absent connections have zero kernels.
    static func partialConv(_ x: Tensor, weight: Tensor, bias: Tensor, inChannels: Int,
                            connections: [[Int]], kernel k: Int) throws -> Tensor {
        try checkPartialConv(weight, bias: bias.shape, inChannels: inChannels, connections: connections, kernel: k, op: "partial conv")
        let dense = try partialConvDenseWeight(weight, inChannels: inChannels, connections: connections, kernel: k)
        return try conv2d(x, weight: dense, bias: bias)
    }

    /// The dense `[maps, inChannels, k, k]` kernel of a partial connection table: the kernels
    /// of `weight` `[links, k, k]` in place, zeros for absent connections. `weight` and the
    /// table are already validated.
    static func partialConvDenseWeight(_ weight: Tensor, inChannels: Int, connections: [[Int]], kernel k: Int) throws -> Tensor {
        var dense = try Tensor(zeros: [connections.count, inChannels, k, k])
        try dense.withUnsafeMutableBufferPointer { d in
            weight.withUnsafeBufferPointer { w in
                var src = 0
                for (j, inputs) in connections.enumerated() {
                    for i in inputs {
                        let dst = (j * inChannels + i) * k * k
                        for t in 0..<(k * k) { d[dst + t] = w[src + t] }
                        src += k * k
                    }
                }
            }
        }
        return dense
    }

    /// y[n, i] = Σ_j (x[n, j] − codes[i, j])².
    static func rbf(_ x: Tensor, codes: Tensor) throws -> Tensor {
        guard x.rank == 2, codes.rank == 2, x.shape[1] == codes.shape[1] else {
            throw SwiftCNNError.shapeMismatch(
                "rbf: input \(Tensor.describe(x.shape)) and codes \(Tensor.describe(codes.shape)) do not match")
        }
        let (n, f, classes) = (x.shape[0], x.shape[1], codes.shape[0])
        var y = try Tensor(zeros: [n, classes])
        try y.withUnsafeMutableBufferPointer { out in
            x.withUnsafeBufferPointer { inp in
                codes.withUnsafeBufferPointer { c in
                    for b in 0..<n {
                        for i in 0..<classes {
                            var s: Float = 0
                            for j in 0..<f {
                                let d = inp[b * f + j] - c[i * f + j]
                                s += d * d
                            }
                            out[b * classes + i] = s
                        }
                    }
                }
            }
        }
        return y
    }
}
