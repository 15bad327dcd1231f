// Compile-time fusion of the 1×1 convolutions that open several branches of a concatenation
// (GoogLeNet's Inception modules: branch1's 1×1 conv and the 1×1 reductions of branch2 and
// branch3 all read the module's input). They run as one convolution whose weight is their
// weights stacked along the output channels (each with its own batch norm folded in, as
// ``Model/prepareConv`` folds it), so the input is packed once and the GEMM has one larger M
// instead of three small ones. Each branch then reads its channels of the fused result.

extension ForwardPlan.Builder {
    /// A branch of a concatenation whose first layer group is a fusable 1×1 convolution.
    struct FusableHead {
        /// The branch's index among the concatenation's branches.
        var branch: Int
        /// The branch's layers with sequentials spliced in, names joined (relative to the concat).
        var children: [NamedLayer]
        /// The convolution's path and its batch norm, if any.
        var convPath: String
        var bn: (path: String, eps: Float)?
        var spec: ConvSpec
        /// Where the rest of the branch starts in `children`.
        var next: Int
    }

    /// The branches of `branches` that start with a 1×1 convolution (stride 1, no padding, one
    /// group) with the given fused activation, grouped by that activation (ReLU or none; other
    /// fused activations are left alone). Only groups of two or more are worth fusing.
    func fusableHeads(_ branches: [NamedLayer], path: String, inChannels: Int) -> [FusableHead] {
        var heads: [FusableHead] = []
        for (i, b) in branches.enumerated() {
            let children = ForwardPlan.Builder.flattened([b])
            guard let first = children.first, case .conv2d(let spec) = first.layer,
                  spec.kernel == Size2D(1), spec.options == Conv2DOptions(), spec.inChannels == inChannels else { continue }
            let group = Model.convGroup(children[...], at: 0, path: path, residual: false)
            // Only conv (+ batch norm) + ReLU: every head in one fused step shares the epilogue.
            guard group.relu, group.op == nil else { continue }
            heads.append(FusableHead(branch: i, children: children, convPath: Layer.join(path, first.name), bn: group.bn,
                                     spec: spec, next: group.next))
        }
        return heads.count >= 2 ? heads : []
    }

    /// Compiles `heads`' convolutions (conv, batch norm, ReLU) as one convolution of `x`, and
    /// returns, per head, a value holding its channels of the result (a view at batch 1, else
    /// a copy step, ``ForwardPlan/Step/channelSlice``).
    mutating func compileFusedHeads(_ heads: [FusableHead], path: String, x: Int) throws -> [Int] {
        let xs = values[x].shape
        let cin = xs[1]
        let outs = heads.map(\.spec.outChannels)
        let total = try outs.reduce(0) { try Checked.add($0, $1, "\(path): fused 1x1 channels") }
        var weight = try Tensor(uninitialized: [total, cin, 1, 1])
        var bias = try Tensor(uninitialized: [total])
        var row = 0
        for h in heads {
            let w = try model.weight(h.convPath, "weight")
            let own = h.spec.bias ? try model.weight(h.convPath, "bias") : nil
            guard w.shape == [h.spec.outChannels, cin, 1, 1] else {
                throw SwiftCNNError(.internal, "\(h.convPath): weight \(Tensor.describe(w.shape)) for a 1x1 conv of \(cin) channels")
            }
            try foldInto(&weight, &bias, row: row, weight: w, bias: own, bn: h.bn, channels: h.spec.outChannels, per: cin)
            row += h.spec.outChannels
        }
        let g = try Conv2DGeometry(input: try ForwardPlan.Builder.shapeOnly(xs), weight: weight, bias: bias, options: Conv2DOptions())
        let key = "fused1x1:" + heads.map(\.convPath).joined(separator: "+")
        let model = self.model
        let (fw, fb) = (weight, bias)
        let conv = try model.plan.conv(key) { try model.prepareConv(g, weight: fw, bias: fb, batchNorm: nil) }
        let fusedShape = [g.batch, total, g.outHeight, g.outWidth]
        let fused = try newValue(fusedShape, dest: nil)
        let scratchCount = try conv.scratchCount(g)
        let scratch = scratchCount > 0 ? try newValue([scratchCount], dest: nil) : nil
        // One profile node for the fused convolution and its slices (batch > 1): named by the
        // heads' conv paths joined with "+", with their batch norms and ReLUs as fused layers.
        let fusedPath = heads.map(\.convPath).joined(separator: "+")
        add(.conv(conv, g, x: x, y: fused, residual: nil, relu: true, op: nil, scratch: scratch),
            path: fusedPath, op: "Conv2d",
            fused: (heads.contains { $0.bn != nil } ? ["bn"] : []) + ["relu"])
        let plane = g.outHeight * g.outWidth
        var results: [Int] = []
        var c0 = 0
        for o in outs {
            let shape = [g.batch, o, g.outHeight, g.outWidth]
            if g.batch == 1 {
                values.append(ForwardPlan.Value(buffer: values[fused].buffer, offset: values[fused].offset + c0 * plane,
                                                shape: shape, count: o * plane))
                results.append(values.count - 1)
            } else {
                let y = try newValue(shape, dest: nil)
                add(.channelSlice(x: fused, axisSize: o, axisOffset: c0,
                                  AxisGeometry(outer: g.batch, axis: total, inner: plane), y: y),
                    path: fusedPath, op: "ChannelSlice")
                results.append(y)
            }
            c0 += o
        }
        return results
    }

    /// Writes `weight` (`channels` rows of `per` floats) with its batch norm folded in, and its
    /// bias, at `row` of the fused weight and bias: the same arithmetic as ``Model/prepareConv``'s fold.
    func foldInto(_ fused: inout Tensor, _ fusedBias: inout Tensor, row: Int, weight: Tensor, bias: Tensor?,
                  bn: (path: String, eps: Float)?, channels oc: Int, per: Int) throws {
        var scales = [Double](repeating: 1, count: oc)
        var shifts = [Float](repeating: 0, count: oc)
        let own = bias?.scalars
        if let bn {
            let gamma = try model.weight(bn.path, "weight").scalars, beta = try model.weight(bn.path, "bias").scalars
            let mean = try model.weight(bn.path, "running_mean").scalars, variance = try model.weight(bn.path, "running_var").scalars
            guard gamma.count == oc, beta.count == oc, mean.count == oc, variance.count == oc else {
                throw SwiftCNNError(.internal, "\(bn.path): batch norm has \(gamma.count) channels, the convolution \(oc)")
            }
            for o in 0..<oc {
                let scale = Double(gamma[o]) / (Double(variance[o]) + Double(bn.eps)).squareRoot()
                scales[o] = scale
                shifts[o] = Float((Double(own?[o] ?? 0) - Double(mean[o])) * scale + Double(beta[o]))
            }
        } else if let own {
            shifts = own
        }
        let folding = bn != nil
        try weight.withUnsafePointer { w in
            try fused.withUnsafeMutablePointerUnchecked { f in
                try fusedBias.withUnsafeMutablePointerUnchecked { fb in
                    let base = try Checked.mul(row, per, "fused weight offset")
                    for o in 0..<oc {
                        for j in 0..<per {
                            f[base + o * per + j] = folding ? Float(Double(w[o * per + j]) * scales[o]) : w[o * per + j]
                        }
                        fb[row + o] = shifts[o]
                    }
                }
            }
        }
    }
}
