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
    try slices(gradOutput, axis: axis, sizes: sizes, op: "concatBackward", name: "gradOutput")
}
