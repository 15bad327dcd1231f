// Slicing and gathering along axes (ONNX Slice and Gather), with their backward; and the
// batch broadcast of a graph's constants.

/// One axis of a resolved slice: the index of its first element, the step between elements
/// (not 0; 1 when only one element is taken) and how many elements (at least 1).
struct SliceAxis: Equatable, Sendable {
    var start: Int
    var step: Int
    var count: Int
}

/// ONNX Slice's (opset 13) `starts`, `ends`, `axes` and `steps` resolved against `shape`:
/// one ``SliceAxis`` per axis of `shape` (the axes not sliced are taken whole).
///
/// `axes` nil means 0, 1, …, starts.count − 1; `steps` nil means all 1. Negative starts and
/// ends count from the end of their axis; then, for a positive step, both are clamped to
/// 0…size, for a negative step start to 0…size − 1 and end to −1…size − 1 (so any magnitude,
/// ±2^63 − 1 included, is accepted without overflow). Errors (`op` first): lists of other
/// lengths, an axis out of range or given twice, a step of 0, an empty result (tensors have
/// sizes of at least 1).
func resolveSlice(_ shape: [Int], starts: [Int], ends: [Int], axes: [Int]?, steps: [Int]?, _ op: String) throws -> [SliceAxis] {
    let rank = shape.count
    guard !starts.isEmpty else {
        throw SwiftCNNError.invalidArgument("\(op): starts must name at least one axis; got none")
    }
    let axesList = axes ?? Array(0..<starts.count)
    guard ends.count == starts.count, axesList.count == starts.count, (steps?.count ?? starts.count) == starts.count else {
        throw SwiftCNNError.invalidArgument(
            "\(op): starts (\(starts.count) entries), ends (\(ends.count)), axes (\(axesList.count)) and steps (\(steps.map { String($0.count) } ?? "default")) must have one entry per sliced axis")
    }
    var result = shape.map { SliceAxis(start: 0, step: 1, count: $0) }
    var seen: [Int] = []
    for k in 0..<starts.count {
        let a = try LayerChecks.axis(axesList[k], rank: rank, op, "each of axes \(axesList)")
        guard !seen.contains(a) else {
            throw SwiftCNNError.invalidArgument("\(op): axes must not repeat an axis; got \(axesList) (axis \(a) twice)")
        }
        seen.append(a)
        let step = steps?[k] ?? 1
        guard step != 0 else { throw SwiftCNNError.invalidArgument("\(op): steps must not be 0; got 0 for axis \(a)") }
        let d = shape[a]
        // A negative value plus a positive size cannot overflow.
        var start = starts[k] < 0 ? starts[k] + d : starts[k]
        var end = ends[k] < 0 ? ends[k] + d : ends[k]
        var count: Int
        if step > 0 {
            start = min(max(start, 0), d)
            end = min(max(end, 0), d)
            count = end > start ? Int(UInt(end - start - 1) / step.magnitude) + 1 : 0
        } else {
            start = min(max(start, 0), d - 1)
            end = min(max(end, -1), d - 1)
            count = start > end ? Int(UInt(start - end - 1) / step.magnitude) + 1 : 0
        }
        guard count >= 1 else {
            throw SwiftCNNError.shapeMismatch(
                "\(op): the slice of axis \(a) (size \(d)) from \(starts[k]) to \(ends[k]) by \(step) is empty; tensors have sizes of at least 1")
        }
        result[a] = SliceAxis(start: start, step: count == 1 ? 1 : step, count: count)
    }
    return result
}

/// A part of `x` along some axes, like ONNX Slice (opset 13) and torch's `x[a:b:s]` (which
/// has no negative steps): along `axes[k]` the elements `starts[k]`, `starts[k] + steps[k]`,
/// … up to but not including `ends[k]`. The elements are copied.
/// - Parameters:
///   - starts, ends: one per sliced axis; negative values count from the end, and both are
///     clamped to the axis (so `Int.max` means "to the end", `Int.min` with a negative step
///     "to the beginning").
///   - axes: the sliced axes, each in -rank..<rank, none twice; nil: 0, 1, …, starts.count − 1.
///   - steps: not 0; negative walks backwards; nil: all 1.
/// - Throws: ``SwiftCNNError`` for lists of other lengths, a bad or repeated axis, a step of
///   0, an empty result (`.shapeMismatch`), or memory running out.
public func slice(_ x: Tensor, starts: [Int], ends: [Int], axes: [Int]? = nil, steps: [Int]? = nil) throws -> Tensor {
    let r = try resolveSlice(x.shape, starts: starts, ends: ends, axes: axes, steps: steps, "slice")
    return try layerOutput(r.map(\.count), reading: x) { xp, yp in
        Reference.slice(xp, inShape: x.shape, r, yp)
    }
}

/// The backward twin of ``slice(_:starts:ends:axes:steps:)``: dL/dx is zero except at the
/// elements the slice took, which get their gradient.
/// - Parameters:
///   - inputShape: the forward input's shape; the other parameters are the forward's.
///   - gradOutput: dL/dy, of the forward's output shape.
/// - Throws: ``SwiftCNNError`` for the forward's errors, a gradOutput of another shape, or
///   memory running out.
public func sliceBackward(inputShape: [Int], gradOutput: Tensor, starts: [Int], ends: [Int], axes: [Int]? = nil,
                          steps: [Int]? = nil) throws -> Tensor {
    let op = "sliceBackward"
    try checkShape(inputShape, op, "inputShape")
    let r = try resolveSlice(inputShape, starts: starts, ends: ends, axes: axes, steps: steps, op)
    guard gradOutput.shape == r.map(\.count) else {
        throw SwiftCNNError.shapeMismatch(
            "\(op): gradOutput must have the forward's output shape \(Tensor.describe(r.map(\.count))); got \(Tensor.describe(gradOutput.shape))")
    }
    return try layerOutput(inputShape, reading: gradOutput) { gp, dxp in
        Reference.sliceBackward(gp, inShape: inputShape, r, dxp)
    }
}

/// ONNX Gather's operands resolved against `shape`: the axis (0..<rank), the indices made
/// non-negative, and the output shape shape[..<axis] + indicesShape + shape[axis+1...].
/// Errors (`op` first): a bad axis, an indices shape with a size below 1 or whose element
/// count is not the number of indices, an index out of -size..<size (named), an output rank
/// outside 1...4.
func resolveGather(_ shape: [Int], axis: Int, indices: [Int], indicesShape: [Int], _ op: String) throws
    -> (axis: Int, indices: [Int], output: [Int]) {
    let a = try LayerChecks.axis(axis, rank: shape.count, op)
    guard indicesShape.allSatisfy({ $0 >= 1 }) else {
        throw SwiftCNNError.invalidArgument("\(op): indices_shape must hold sizes of at least 1; got \(indicesShape)")
    }
    let n = try Checked.product(indicesShape, "\(op): indices_shape element count")
    guard n == indices.count else {
        throw SwiftCNNError.invalidArgument(
            "\(op): indices_shape \(indicesShape) holds \(n) element\(n == 1 ? "" : "s") but \(indices.count) indices are given")
    }
    let d = shape[a]
    var resolved: [Int] = []
    resolved.reserveCapacity(indices.count)
    for (k, i) in indices.enumerated() {
        guard i >= -d, i < d else {
            throw SwiftCNNError.invalidArgument(
                "\(op): index \(i) (entry \(k) of indices) is out of range for axis \(a) of size \(d) (valid: \(-d)..<\(d))")
        }
        resolved.append(i < 0 ? i + d : i)
    }
    let output = Array(shape[..<a]) + indicesShape + Array(shape[(a + 1)...])
    guard (1...Tensor.maxRank).contains(output.count) else {
        throw SwiftCNNError.invalidArgument(
            "\(op): gathering \(indicesShape) indices along axis \(a) of \(Tensor.describe(shape)) gives rank \(output.count); tensors have rank 1 to \(Tensor.maxRank)")
    }
    _ = try Checked.product(output, "\(op): output size")
    return (a, resolved, output)
}

/// Entries of `x` along `axis` picked by `indices`, like ONNX Gather and torch's
/// `torch.index_select` (reshaped to `indicesShape`; `x[:, i]` for a scalar index).
/// - Parameters:
///   - axis: in -rank..<rank.
///   - indices: each in -size..<size of the axis (negative counts from the end); may repeat.
///   - indicesShape: the shape the indices are laid out in (its element count is
///     `indices.count`); `[]` for one scalar index, which removes the axis.
/// - Returns: x.shape[..<axis] + indicesShape + x.shape[axis+1...] (rank 1 to 4).
/// - Throws: ``SwiftCNNError`` (`.invalidArgument`) for a bad axis, an index out of range
///   (named), indices that do not fill `indicesShape`, a result of rank above 4; or when
///   memory runs out.
public func gather(_ x: Tensor, axis: Int, indices: [Int], indicesShape: [Int]) throws -> Tensor {
    let r = try resolveGather(x.shape, axis: axis, indices: indices, indicesShape: indicesShape, "gather")
    let outer = x.shape[..<r.axis].reduce(1, *), inner = x.shape[(r.axis + 1)...].reduce(1, *)
    return try layerOutput(r.output, reading: x) { xp, yp in
        Reference.gather(xp, yp, outer: outer, axisSize: x.shape[r.axis], inner: inner, indices: r.indices)
    }
}

/// The backward twin of ``gather(_:axis:indices:indicesShape:)``: dL/dx is zero except at
/// the gathered entries, which get the sum of their gradients (an index given twice gets
/// both).
/// - Parameters:
///   - inputShape: the forward input's shape; the other parameters are the forward's.
///   - gradOutput: dL/dy, of the forward's output shape.
/// - Throws: ``SwiftCNNError`` for the forward's errors, a gradOutput of another shape, or
///   memory running out.
public func gatherBackward(inputShape: [Int], gradOutput: Tensor, axis: Int, indices: [Int], indicesShape: [Int]) throws -> Tensor {
    let op = "gatherBackward"
    try checkShape(inputShape, op, "inputShape")
    let r = try resolveGather(inputShape, axis: axis, indices: indices, indicesShape: indicesShape, op)
    guard gradOutput.shape == r.output else {
        throw SwiftCNNError.shapeMismatch(
            "\(op): gradOutput must have the forward's output shape \(Tensor.describe(r.output)); got \(Tensor.describe(gradOutput.shape))")
    }
    let outer = inputShape[..<r.axis].reduce(1, *), inner = inputShape[(r.axis + 1)...].reduce(1, *)
    return try layerOutput(inputShape, reading: gradOutput) { gp, dxp in
        Reference.gatherBackward(gp, dxp, outer: outer, axisSize: inputShape[r.axis], inner: inner, indices: r.indices)
    }
}

/// `c` repeated along a new batch axis: [batch] + c.shape (a graph constant's output).
/// - Throws: ``SwiftCNNError`` when batch is below 1, the result has rank above 4, or memory runs out.
func broadcastOverBatch(_ c: Tensor, batch: Int) throws -> Tensor {
    guard batch >= 1 else { throw SwiftCNNError.invalidArgument("constant: the batch must be at least 1; got \(batch)") }
    return try layerOutput([batch] + c.shape, reading: c) { cp, yp in
        Reference.repeatRows(cp, yp, count: c.count, times: batch)
    }
}

/// The backward twin of ``broadcastOverBatch(_:batch:)``: the sum of `g` [N, …] over its
/// first axis (in double precision).
func sumOverBatch(_ g: Tensor) throws -> Tensor {
    guard g.rank >= 2 else {
        throw SwiftCNNError.invalidArgument("constant backward: the gradient must have a batch axis; got \(Tensor.describe(g.shape))")
    }
    let rows = g.shape[0], count = g.count / rows
    return try withDoubleScratch(count, "constant backward") { scratch in
        try layerOutput(Array(g.shape.dropFirst()), reading: g) { gp, yp in
            Reference.sumRows(gp, yp, rows: rows, count: count, scratch: scratch)
        }
    }
}
