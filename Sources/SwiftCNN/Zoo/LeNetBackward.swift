// Backward twins of the layers only LeNet-5 as published uses (see LeNet.swift).

extension LeNetOps {
    /// The amplitude A and slope S of the squashing function A · tanh(S · a).
    static let squashAmplitude: Float = 1.7159
    static let squashSlope = Float(2.0 / 3.0)

    /// Validates a partial connection table and its weight `[links, k, k]` (and the bias
    /// shape `[maps]` when given) for `op`.
    static func checkPartialConv(_ weight: Tensor, bias: [Int]?, inChannels: Int, connections: [[Int]], kernel k: Int,
                                 op: String) throws {
        let links = connections.reduce(0) { $0 + $1.count }
        guard k >= 1, inChannels >= 1, !connections.isEmpty, weight.shape == [links, k, k],
              bias.map({ $0 == [connections.count] }) ?? true,
              connections.allSatisfy({ !$0.isEmpty && $0.allSatisfy { (0..<inChannels).contains($0) } }) else {
            throw SwiftCNNError.shapeMismatch(
                "\(op): weight \(Tensor.describe(weight.shape))\(bias.map { " / bias " + Tensor.describe($0) } ?? "") do not match the connection table"
                + " (\(connections.count) maps, \(links) connections of \(k)×\(k) over \(inChannels) input maps)")
        }
    }

    /// The backward twin of ``scaledTanh(_:)``, from its output y = A·tanh(S·x):
    /// dx = g · S · (1 − (y/A)²), computed as g · (S/A) · (A² − y²).
    static func scaledTanhBackward(output: Tensor, gradOutput: Tensor) throws -> Tensor {
        let a = squashAmplitude, s = squashSlope
        let k = s / a, a2 = a * a
        return try elementwiseBackward("scaledTanhBackward", output: output, gradOutput: gradOutput) { y, g, dx, n in
            Optimized.elementwiseBackward(y, g, dx, count: n, ScaledTanhBackwardFunction(k: k, a2: a2))
        }
    }

    /// The backward twin of ``subsample(_:weight:bias:)`` (out = weight[c] · Σ 2×2 block + bias[c]):
    /// dx = g · weight[c] on each element of its block (0 for a trailing odd row/column the
    /// forward ignores), dweight[c] = Σ g · block sum, dbias[c] = Σ g (sums in Double).
    static func subsampleBackward(_ x: Tensor, weight: Tensor, gradOutput: Tensor) throws
        -> (input: Tensor, weight: Tensor, bias: Tensor) {
        let op = "subsamplingBackward"
        guard x.rank == 4, x.shape[2] >= 2, x.shape[3] >= 2, weight.shape == [x.shape[1]] else {
            throw SwiftCNNError.shapeMismatch(
                "\(op): input must be [N, C, H, W] with H, W >= 2 and weight [C]; got input \(Tensor.describe(x.shape)), weight \(Tensor.describe(weight.shape))")
        }
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let oh = h / 2, ow = w / 2
        guard gradOutput.shape == [n, c, oh, ow] else {
            throw SwiftCNNError.shapeMismatch(
                "\(op): gradOutput must have the forward's output shape \(Tensor.describe([n, c, oh, ow])); got \(Tensor.describe(gradOutput.shape))")
        }
        var dx = try Tensor(zeros: x.shape)
        var dw = try Tensor(zeros: [c])
        var db = try Tensor(zeros: [c])
        try dx.withUnsafeMutableBufferPointer { dxp in
            try dw.withUnsafeMutableBufferPointer { dwp in
                try db.withUnsafeMutableBufferPointer { dbp in
                    x.withUnsafeBufferPointer { xp in
                        weight.withUnsafeBufferPointer { wp in
                            gradOutput.withUnsafeBufferPointer { gp in
                                for ch in 0..<c {
                                    var sw = 0.0, sb = 0.0
                                    for b in 0..<n {
                                        let src = (b * c + ch) * h * w
                                        let dst = (b * c + ch) * oh * ow
                                        for i in 0..<oh {
                                            for j in 0..<ow {
                                                let g = gp[dst + i * ow + j]
                                                let p = src + 2 * i * w + 2 * j
                                                let block = Double(xp[p]) + Double(xp[p + 1]) + Double(xp[p + w]) + Double(xp[p + w + 1])
                                                sw += Double(g) * block
                                                sb += Double(g)
                                                let v = g * wp[ch]
                                                dxp[p] = v; dxp[p + 1] = v; dxp[p + w] = v; dxp[p + w + 1] = v
                                            }
                                        }
                                    }
                                    dwp[ch] = Float(sw)
                                    dbp[ch] = Float(sb)
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dx, dw, db)
    }

    /// The backward twin of ``partialConv(_:weight:bias:inChannels:connections:kernel:)``:
    /// the dense convolution's backward (``conv2dBackward(_:weight:gradOutput:options:hasBias:computeInputGradient:)``)
    /// with the absent connections' kernel gradients dropped; dweight `[links, k, k]` in the
    /// forward's order, dbias `[maps]`.
    static func partialConvBackward(_ x: Tensor, weight: Tensor, gradOutput: Tensor, inChannels: Int,
                                    connections: [[Int]], kernel k: Int) throws -> (input: Tensor, weight: Tensor, bias: Tensor) {
        let op = "partialConvBackward"
        try checkPartialConv(weight, bias: nil, inChannels: inChannels, connections: connections, kernel: k, op: op)
        let dense = try partialConvDenseWeight(weight, inChannels: inChannels, connections: connections, kernel: k)
        let grads = try conv2dBackward(x, weight: dense, gradOutput: gradOutput, hasBias: true)
        guard let dx = grads.input, let db = grads.bias else {
            throw SwiftCNNError(.internal, "\(op): the dense backward returned no input or bias gradient")
        }
        var dw = try Tensor(uninitialized: weight.shape)
        dw.withUnsafeMutablePointerUnchecked { d in
            grads.weight.withUnsafePointer { full in
                var dst = 0
                for (j, inputs) in connections.enumerated() {
                    for i in inputs {
                        (d + dst).update(from: full + (j * inChannels + i) * k * k, count: k * k)
                        dst += k * k
                    }
                }
            }
        }
        return (dx, dw, db)
    }

    /// The backward twin of ``rbf(_:codes:)`` (y[n, i] = Σ_j (x[n, j] − codes[i, j])²) with
    /// respect to x; the codes are constants: dx[n, j] = Σ_i g[n, i] · 2 · (x[n, j] − codes[i, j])
    /// (sums in Double).
    static func rbfBackward(_ x: Tensor, codes: Tensor, gradOutput: Tensor) throws -> Tensor {
        let op = "rbfBackward"
        guard x.rank == 2, codes.rank == 2, x.shape[1] == codes.shape[1] else {
            throw SwiftCNNError.shapeMismatch(
                "\(op): input [N, F] and codes [classes, F] must agree in F; got input \(Tensor.describe(x.shape)), codes \(Tensor.describe(codes.shape))")
        }
        let (n, f, classes) = (x.shape[0], x.shape[1], codes.shape[0])
        guard gradOutput.shape == [n, classes] else {
            throw SwiftCNNError.shapeMismatch(
                "\(op): gradOutput must have the forward's output shape \(Tensor.describe([n, classes])); got \(Tensor.describe(gradOutput.shape))")
        }
        return try layerOutput(x.shape, reading: x) { xp, dxp in
            codes.withUnsafePointer { cp in
                gradOutput.withUnsafePointer { gp in
                    for b in 0..<n {
                        for j in 0..<f {
                            var s = 0.0
                            let xv = Double(xp[b * f + j])
                            for i in 0..<classes { s += Double(gp[b * classes + i]) * 2 * (xv - Double(cp[i * f + j])) }
                            dxp[b * f + j] = Float(s)
                        }
                    }
                }
            }
        }
    }
}

/// g · (k · (a2 − y²)): ``LeNetOps/scaledTanhBackward(output:gradOutput:)``'s elementwise step.
struct ScaledTanhBackwardFunction: BinaryVectorFunction {
    let k: Float, a2: Float
    @inline(always) func vector(_ y: SIMD16<Float>, _ g: SIMD16<Float>) -> SIMD16<Float> { g * (k * (a2 - y * y)) }
    @inline(always) func scalar(_ y: Float, _ g: Float) -> Float { g * (k * (a2 - y * y)) }
}
