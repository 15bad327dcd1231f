// Gradients as one flat float vector: what data-parallel training exchanges between
// workers (each computes its shard's gradients, the vectors are averaged, every worker
// applies the average; see Trainer.computeGradients / applyGradients).

extension Model {
    /// The tensors of a flat gradient vector, in its order: the trainable parameters of
    /// ``parameterSpecs`` (batch-norm running statistics and other buffers left out, and
    /// frozen parameters too: they get no gradient), each flattened row-major. The layout
    /// changes only when the architecture does or a parameter is frozen or unfrozen.
    public var gradientLayout: [ParameterSpec] {
        parameterSpecs.filter { !$0.isBuffer && !frozen.contains($0.name) }
    }
}

extension Gradients {
    /// Number of floats of a flat gradient vector with `layout` (sum of the element counts).
    public static func flatCount(_ layout: [ParameterSpec]) throws -> Int {
        try layout.reduce(0) { try Checked.add($0, Checked.product($1.shape, "gradient \($1.name)"), "gradient vector") }
    }

    /// Gradients read from a flat vector in `layout`'s order (see ``Model/gradientLayout``):
    /// `flat` must hold exactly ``flatCount(_:)`` floats. Values are taken as they are
    /// (NaN and infinities pass through, as they would from a backward pass).
    public init(flat: UnsafeBufferPointer<Float>, layout: [ParameterSpec]) throws {
        let total = try Gradients.flatCount(layout)
        guard flat.count == total else {
            throw SwiftCNNError.shapeMismatch(
                "gradients: the model's \(layout.count) trainable tensors take \(total) values; got \(flat.count)")
        }
        var values: [String: Tensor] = [:]
        values.reserveCapacity(layout.count)
        var offset = 0
        for spec in layout {
            var t = try Tensor(uninitialized: spec.shape)
            t.withUnsafeMutableBufferPointerUnchecked { dst in
                for i in 0..<dst.count { dst[i] = flat[offset + i] }
                offset += dst.count
            }
            values[spec.name] = t
        }
        self.values = values
        names = layout.map(\.name)
    }

    /// Writes these gradients to `out` in `layout`'s order; `out` must hold exactly
    /// ``flatCount(_:)`` floats, and every tensor of the layout must be here with its shape
    /// (gradients computed before the layout changed are an error).
    public func copyFlat(into out: UnsafeMutableBufferPointer<Float>, layout: [ParameterSpec]) throws {
        let total = try Gradients.flatCount(layout)
        guard out.count == total else {
            throw SwiftCNNError.shapeMismatch(
                "gradients: the model's \(layout.count) trainable tensors take \(total) values; the destination holds \(out.count)")
        }
        for spec in layout {
            guard let g = values[spec.name], g.shape == spec.shape else {
                throw SwiftCNNError.invalidArgument(
                    "gradients: none of shape \(Tensor.describe(spec.shape)) for parameter \(spec.name) (were they computed before a parameter was frozen, unfrozen or replaced?)")
            }
        }
        var offset = 0
        for spec in layout {
            guard let g = values[spec.name] else { continue }
            g.withUnsafeBufferPointer { src in
                for i in 0..<src.count { out[offset + i] = src[i] }
                offset += src.count
            }
        }
    }
}
