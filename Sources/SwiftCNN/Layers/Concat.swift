/// Concatenates tensors along `axis` (default 1: channels of `[N, C, H, W]`), like `torch.cat`.
///
/// Every tensor must have the same rank and the same size in every dimension but `axis`;
/// `axis` is in `-rank..<rank`, negatives counting from the end. At least one tensor is needed.
public func concat(_ tensors: [Tensor], axis: Int = 1) throws -> Tensor {
    let op = "concat"
    guard let first = tensors.first else {
        throw SwiftCNNError.invalidArgument("\(op): needs at least one tensor; got none")
    }
    let rank = first.rank
    let a = try LayerChecks.axis(axis, rank: rank, op)
    var total = 0
    for (i, t) in tensors.enumerated() {
        guard t.rank == rank else {
            throw SwiftCNNError.shapeMismatch(
                "\(op): tensor \(i) has rank \(t.rank) (shape \(Tensor.describe(t.shape))) but tensor 0 has rank \(rank) (shape \(Tensor.describe(first.shape)))")
        }
        for d in 0..<rank where d != a && t.shape[d] != first.shape[d] {
            throw SwiftCNNError.shapeMismatch(
                "\(op): tensor \(i) has shape \(Tensor.describe(t.shape)) but tensor 0 has \(Tensor.describe(first.shape)); they may differ only in axis \(a)")
        }
        total = try Checked.add(total, t.shape[a], "\(op): size of axis \(a)")
    }
    var shape = first.shape
    shape[a] = total
    var y = try Tensor(uninitialized: shape)   // validates the shape: a total that overflows is an error
    let g = AxisGeometry(shape: shape, axis: a)
    y.withUnsafeMutablePointerUnchecked { yp in
        var offset = 0
        for t in tensors {
            let size = t.shape[a]
            t.withUnsafePointer { Reference.concatPart($0, axisSize: size, into: yp, axisOffset: offset, g) }
            offset += size
        }
    }
    return y
}

// MARK: - Backward

/// The backward twin of ``concat(_:axis:)``: gradOutput split along `axis` into parts of
/// `sizes` (the inputs' sizes along `axis`, in order).
/// - Throws: ``SwiftCNNError`` for a bad axis, empty `sizes`, a size < 1, sizes not adding
///   up to gradOutput's size along `axis`, or memory running out.
public func concatBackward(gradOutput: Tensor, sizes: [Int], axis: Int = 1) throws -> [Tensor] {
    let op = "concatBackward"
    let a = try LayerChecks.axis(axis, rank: gradOutput.rank, op)
    guard !sizes.isEmpty else {
        throw SwiftCNNError.invalidArgument("\(op): sizes must name at least one part; got none")
    }
    var total = 0
    for s in sizes {
        guard s >= 1 else {
            throw SwiftCNNError.invalidArgument("\(op): every size must be at least 1; got \(sizes)")
        }
        total = try Checked.add(total, s, "\(op): sum of sizes")
    }
    guard total == gradOutput.shape[a] else {
        throw SwiftCNNError.shapeMismatch(
            "\(op): sizes \(sizes) add up to \(total) but gradOutput \(Tensor.describe(gradOutput.shape)) has \(gradOutput.shape[a]) along axis \(a)")
    }
    let g = AxisGeometry(shape: gradOutput.shape, axis: a)
    var parts: [Tensor] = []
    parts.reserveCapacity(sizes.count)
    var offset = 0
    for s in sizes {
        var shape = gradOutput.shape
        shape[a] = s
        let off = offset
        parts.append(try layerOutput(shape, reading: gradOutput) { Reference.concatSlice($0, axisOffset: off, axisSize: s, into: $1, g) })
        offset += s
    }
    return parts
}
