/// Dropout. At inference (`training == false`) it is the identity and returns `x` itself
/// (storage shared, no copy), as PyTorch's dropout in eval mode does.
///
/// - Parameters:
///   - p: the probability of zeroing an element during training; must be in [0, 1).
///   - training: true fails with ``SwiftCNNError/Kind/unsupported``: training-mode dropout
///     needs a seed, use ``dropoutTraining(_:p:seed:)``.
public func dropout(_ x: Tensor, p: Float, training: Bool = false) throws -> Tensor {
    guard p >= 0 && p < 1 else {
        throw SwiftCNNError.invalidArgument("dropout: p must be in [0, 1); got \(p)")
    }
    if training {
        throw SwiftCNNError.unsupported("dropout: training mode needs a seed; use dropoutTraining(_:p:seed:) (or training = false)")
    }
    return x
}

// MARK: - Training mode and backward

/// Training-mode dropout: output = x · mask, where mask[i] is 0 with probability p and
/// 1/(1 − p) otherwise (so the expected output is x).
///
/// The mask is deterministic in (seed, i), i the flat row-major index: with the seeded
/// generator's counter-based bits z = ``SeededInit/bits(name:seed:index:)`` for name "dropout"
/// and u = Float(z >> 40) · 2⁻²⁴ (uniform in [0, 1) on a 2⁻²⁴ grid), element i is dropped
/// when u < p. The kept value is the float32 1 / (1 − p) (computed as `1 / (1 - p)` in Float).
/// p = 0 keeps everything (mask all 1).
/// - Returns: the output and the mask (both x's shape); keep the mask for ``dropoutBackward(mask:gradOutput:)``.
/// - Throws: ``SwiftCNNError`` when p is not in [0, 1) or memory runs out.
public func dropoutTraining(_ x: Tensor, p: Float, seed: UInt64) throws -> (output: Tensor, mask: Tensor) {
    guard p >= 0 && p < 1 else {
        throw SwiftCNNError.invalidArgument("dropoutTraining: p must be in [0, 1); got \(p)")
    }
    let scale: Float = 1 / (1 - p)
    let s = SeededInit.fnv1a64("dropout") ^ seed
    var mask = try Tensor(uninitialized: x.shape)
    let count = x.count
    mask.withUnsafeMutablePointerUnchecked { m in
        for i in 0..<count {
            // SeededInit.bits(name: "dropout", seed: seed, index: i), the name's hash hoisted.
            let z = SeededInit.mix(s &+ UInt64(truncatingIfNeeded: i &+ 1) &* 0x9E37_79B9_7F4A_7C15)
            m[i] = SeededInit.unit(z) < p ? 0 : scale
        }
    }
    let output = try layerOutput(x.shape, reading: x) { xp, yp in
        mask.withUnsafePointer { Optimized.multiply(xp, $0, yp, count: count) }
    }
    return (output, mask)
}

/// The backward twin of ``dropoutTraining(_:p:seed:)``: dx = gradOutput · mask.
/// - Throws: ``SwiftCNNError`` when the shapes differ or memory runs out.
public func dropoutBackward(mask: Tensor, gradOutput: Tensor) throws -> Tensor {
    try checkSameShape("dropoutBackward", output: mask, gradOutput: gradOutput, outputName: "mask")
    return try layerOutput(mask.shape, reading: mask) { mp, dxp in
        gradOutput.withUnsafePointer { Optimized.multiply($0, mp, dxp, count: mask.count) }
    }
}
