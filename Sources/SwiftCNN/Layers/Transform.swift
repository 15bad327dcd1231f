// Moving elements around: axis permutation, splitting along an axis, 2-D zero padding.

/// Resolves and checks a permutation of `rank` axes for `op`: one entry per axis, each in
/// -rank..<rank (negatives counting from the end, as torch's `permute`), no axis twice.
func resolvePermutation(_ perm: [Int], rank: Int, _ op: String) throws -> [Int] {
    guard perm.count == rank else {
        throw SwiftCNNError.invalidArgument(
            "\(op): perm must name each of the \(rank) axes once; got \(perm) (\(perm.count) entries)")
    }
    var resolved: [Int] = []
    for p in perm {
        let a = try LayerChecks.axis(p, rank: rank, op, "each entry of perm \(perm)")
        guard !resolved.contains(a) else {
            throw SwiftCNNError.invalidArgument("\(op): perm must name each axis once; got \(perm) (axis \(a) twice)")
        }
        resolved.append(a)
    }
    return resolved
}

/// The permutation that undoes `perm`: `q[perm[i]] = i`, so that transposing by `perm` and
/// then by `q` gives back the original (the backward of ``transpose(_:perm:)`` is a
/// transpose by the inverse). Negative entries count from the end of `perm.count` axes.
/// - Throws: ``SwiftCNNError`` (`.invalidArgument`) when `perm` is empty, longer than
///   ``Tensor/maxRank``, or not a permutation.
public func inversePermutation(_ perm: [Int]) throws -> [Int] {
    let op = "inversePermutation"
    guard (1...Tensor.maxRank).contains(perm.count) else {
        throw SwiftCNNError.invalidArgument("\(op): perm must have 1 to \(Tensor.maxRank) entries; got \(perm)")
    }
    let p = try resolvePermutation(perm, rank: perm.count, op)
    var q = [Int](repeating: 0, count: p.count)
    for (i, a) in p.enumerated() { q[a] = i }
    return q
}

/// Permutes the axes of `x`, like torch's `permute` and ONNX Transpose: output dim i is
/// x's dim `perm[i]` (`output.shape[i] == x.shape[perm[i]]`). The elements are copied.
/// The backward is `transpose(gradOutput, perm: inversePermutation(perm))`.
/// - Parameter perm: one entry per axis of x, each in -rank..<rank (negatives count from
///   the end), every axis once.
/// - Throws: ``SwiftCNNError`` (`.invalidArgument`) when perm is not a permutation of x's
///   axes, or when memory runs out.
public func transpose(_ x: Tensor, perm: [Int]) throws -> Tensor {
    let p = try resolvePermutation(perm, rank: x.rank, "transpose")
    return try layerOutput(p.map { x.shape[$0] }, reading: x) { xp, yp in
        if KernelDispatch.forceReference { Reference.transpose(xp, inShape: x.shape, perm: p, yp) }
        else { Optimized.transpose(xp, inShape: x.shape, perm: p, yp) }
    }
}

/// Splits `x` along `axis` into consecutive pieces of `sizes` (like `torch.split(x, sizes, dim=axis)`
/// with a list, and ONNX Split). The backward is ``concat(_:axis:)`` of the pieces' gradients.
/// - Parameters:
///   - axis: in -rank..<rank, negatives counting from the end.
///   - sizes: at least one, each at least 1, adding up to x's size along `axis`.
/// - Returns: one tensor per size, x's shape except `sizes[i]` along `axis`.
/// - Throws: ``SwiftCNNError`` for a bad axis, empty sizes, a size below 1, sizes whose sum
///   is not the axis length (`.shapeMismatch`), or memory running out.
public func split(_ x: Tensor, axis: Int, sizes: [Int]) throws -> [Tensor] {
    try slices(x, axis: axis, sizes: sizes, op: "split", name: "x")
}

/// `x` cut along `axis` into consecutive pieces of `sizes` (split, and concat's backward).
func slices(_ x: Tensor, axis: Int, sizes: [Int], op: String, name: String) throws -> [Tensor] {
    let a = try LayerChecks.axis(axis, rank: x.rank, op)
    guard !sizes.isEmpty else {
        throw SwiftCNNError.invalidArgument("\(op): sizes must name at least one piece; got none")
    }
    var total = 0
    for s in sizes {
        guard s >= 1 else {
            throw SwiftCNNError.invalidArgument("\(op): every size must be at least 1; got \(sizes)")
        }
        total = try Checked.add(total, s, "\(op): sum of sizes")
    }
    guard total == x.shape[a] else {
        throw SwiftCNNError.shapeMismatch(
            "\(op): sizes \(sizes) add up to \(total) but \(name) \(Tensor.describe(x.shape)) has \(x.shape[a]) along axis \(a)")
    }
    let g = AxisGeometry(shape: x.shape, axis: a)
    var pieces: [Tensor] = []
    pieces.reserveCapacity(sizes.count)
    var offset = 0
    for s in sizes {
        var shape = x.shape
        shape[a] = s
        let off = offset
        pieces.append(try layerOutput(shape, reading: x) { Reference.concatSlice($0, axisOffset: off, axisSize: s, into: $1, g) })
        offset += s
    }
    return pieces
}

/// Checks a padding for `op`: every side at least 0.
func checkPadding(_ padding: Padding2D, _ op: String) throws {
    guard padding.top >= 0 && padding.bottom >= 0 && padding.left >= 0 && padding.right >= 0 else {
        throw SwiftCNNError.invalidArgument("\(op): padding must not be negative; got \(padding)")
    }
}

/// Zero padding of the last two axes: `[N, C, H, W]` → `[N, C, H + top + bottom, W + left + right]`
/// (or the same for `[C, H, W]`), like `torch.nn.functional.pad(x, (left, right, top, bottom))`
/// with zeros. The backward is ``zeroPad2dBackward(gradOutput:_:)`` (a crop).
/// - Throws: ``SwiftCNNError`` for a rank other than 3 or 4, a negative side, a padded size
///   that overflows, or memory running out.
public func zeroPad2d(_ x: Tensor, _ padding: Padding2D) throws -> Tensor {
    let op = "zeroPad2d"
    let (n, c, h, w) = try imageDims(x, op)
    try checkPadding(padding, op)
    let oh = try Checked.add(h, try Checked.add(padding.top, padding.bottom, "\(op) padding"), "\(op) padded height")
    let ow = try Checked.add(w, try Checked.add(padding.left, padding.right, "\(op) padding"), "\(op) padded width")
    let shape = imageShape(rank: x.rank, n, c, oh, ow)
    _ = try Checked.product(shape, "\(op) output element count")
    return try layerOutput(shape, reading: x) { xp, yp in
        if KernelDispatch.forceReference { Reference.zeroPad2d(xp, yp, planes: n * c, height: h, width: w, padding) }
        else { Optimized.zeroPad2d(xp, yp, planes: n * c, height: h, width: w, padding) }
    }
}

/// The backward twin of ``zeroPad2d(_:_:)``: gradOutput with the padding cropped off,
/// `[N, C, OH, OW]` → `[N, C, OH − top − bottom, OW − left − right]` (or rank 3).
/// - Throws: ``SwiftCNNError`` for a rank other than 3 or 4, a negative side, padding that
///   leaves nothing (`.shapeMismatch`), or memory running out.
public func zeroPad2dBackward(gradOutput: Tensor, _ padding: Padding2D) throws -> Tensor {
    let op = "zeroPad2dBackward"
    let (n, c, oh, ow) = try imageDims(gradOutput, op, "gradOutput")
    try checkPadding(padding, op)
    let ph = try Checked.add(padding.top, padding.bottom, "\(op) padding")
    let pw = try Checked.add(padding.left, padding.right, "\(op) padding")
    guard ph < oh && pw < ow else {
        throw SwiftCNNError.shapeMismatch(
            "\(op): padding \(padding) leaves no input in gradOutput \(Tensor.describe(gradOutput.shape)); the padded height and width must exceed top + bottom and left + right")
    }
    let h = oh - ph, w = ow - pw
    return try layerOutput(imageShape(rank: gradOutput.rank, n, c, h, w), reading: gradOutput) { gp, dxp in
        if KernelDispatch.forceReference { Reference.crop2d(gp, dxp, planes: n * c, height: h, width: w, padding) }
        else { Optimized.crop2d(gp, dxp, planes: n * c, height: h, width: w, padding) }
    }
}
