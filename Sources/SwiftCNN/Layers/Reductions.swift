// Mean over axes and global max pooling, with their backward.

/// The reduction of `shape` over `axes` for `op`: the resolved axes (sorted), the shape with
/// those axes set to 1, the output shape, and the number of elements averaged.
func reductionShapes(_ shape: [Int], axes: [Int], keepDims: Bool, op: String)
    throws -> (axes: [Int], kept: [Int], output: [Int], reduced: Int) {
    let rank = shape.count
    var resolved: [Int] = []
    for a in axes {
        let r = try LayerChecks.axis(a, rank: rank, op, "each of axes \(axes)")
        guard !resolved.contains(r) else {
            throw SwiftCNNError.invalidArgument("\(op): axes must not repeat an axis; got \(axes) (axis \(r) twice) for rank \(rank)")
        }
        resolved.append(r)
    }
    if resolved.isEmpty { resolved = Array(0..<rank) }   // torch and ONNX: no axes means every axis
    resolved.sort()
    var kept = shape, output: [Int] = [], reduced = 1
    for d in 0..<rank {
        if resolved.contains(d) {
            kept[d] = 1
            reduced *= shape[d]   // a factor of a valid shape's element count: no overflow
            if keepDims { output.append(1) }
        } else {
            output.append(shape[d])
        }
    }
    if output.isEmpty { output = [1] }
    return (resolved, kept, output, reduced)
}

/// The mean of `x` over `axes`, like `torch.mean(x, dim=axes, keepdim=keepDims)`.
///
/// Negative axes count from the end; an axis may not be named twice. An empty `axes` means
/// every axis (as torch's `dim=[]` and ONNX ReduceMean without axes). With `keepDims` the
/// reduced axes stay as size 1; without, they are removed, and a mean over every axis has
/// shape `[1]` (a tensor has rank at least 1; torch gives a 0-dim tensor).
///
/// Sums in Double (the reference) or in 16-lane float blocks added in Double (the optimized
/// path, parallel over planes for [N, C, H, W] over axes [2, 3]).
/// - Throws: ``SwiftCNNError`` for an axis out of range, a repeated axis, or memory running out.
public func mean(_ x: Tensor, axes: [Int], keepDims: Bool) throws -> Tensor {
    let op = "mean"
    let r = try reductionShapes(x.shape, axes: axes, keepDims: keepDims, op: op)
    let g = BroadcastGeometry(shape: x.shape, stridesA: BroadcastGeometry.strides(of: x.shape, alignedTo: x.shape),
                              stridesB: BroadcastGeometry.strides(of: r.kept, alignedTo: x.shape))
    let n = r.output.reduce(1, *)
    let scale = 1 / Double(r.reduced)
    return try withDoubleScratch(n, op) { scratch in
        try layerOutput(r.output, reading: x) { xp, yp in
            if KernelDispatch.forceReference {
                Reference.reduceSum(xp, g, into: yp, targetCount: n, scale: scale, scratch: scratch)
            } else {
                Optimized.reduceSum(xp, g, into: yp, targetCount: n, scale: scale, scratch: scratch)
            }
        }
    }
}

/// The backward twin of ``mean(_:axes:keepDims:)``: every input element gets its output's
/// gradient divided by the number of elements averaged.
/// - Parameters:
///   - inputShape: the forward input's shape.
///   - axes, keepDims: the forward's.
///   - gradOutput: dL/dy, of the forward's output shape.
/// - Returns: dL/dx of shape `inputShape`.
/// - Throws: ``SwiftCNNError`` for a bad `inputShape` or axes, a gradOutput of another
///   shape, or memory running out.
public func meanBackward(inputShape: [Int], axes: [Int], keepDims: Bool, gradOutput: Tensor) throws -> Tensor {
    let op = "meanBackward"
    try checkShape(inputShape, op, "inputShape")
    let r = try reductionShapes(inputShape, axes: axes, keepDims: keepDims, op: op)
    guard gradOutput.shape == r.output else {
        throw SwiftCNNError.shapeMismatch(
            "\(op): gradOutput must have the forward's output shape \(Tensor.describe(r.output)) (input \(Tensor.describe(inputShape)), axes \(axes), keepDims \(keepDims)); got \(Tensor.describe(gradOutput.shape))")
    }
    let g = BroadcastGeometry(shape: inputShape, stridesA: BroadcastGeometry.strides(of: inputShape, alignedTo: inputShape),
                              stridesB: BroadcastGeometry.strides(of: r.kept, alignedTo: inputShape))
    let scale = Float(1 / Double(r.reduced))
    return try layerOutput(inputShape, reading: gradOutput) { gp, dxp in
        if KernelDispatch.forceReference { Reference.broadcastScaled(gp, g, into: dxp, scale: scale) }
        else { Optimized.broadcastScaled(gp, g, into: dxp, scale: scale) }
    }
}

/// Fails unless `shape` is a tensor shape (rank 1 to 4, every dim at least 1, an element
/// count that fits), with a message starting with `op`.
func checkShape(_ shape: [Int], _ op: String, _ name: String) throws {
    guard (1...Tensor.maxRank).contains(shape.count) else {
        throw SwiftCNNError.invalidArgument("\(op): \(name) must have rank 1 to \(Tensor.maxRank); got \(Tensor.describe(shape))")
    }
    guard shape.allSatisfy({ $0 >= 1 }) else {
        throw SwiftCNNError.invalidArgument("\(op): every dimension of \(name) must be at least 1; got \(Tensor.describe(shape))")
    }
    _ = try Checked.product(shape, "\(op) \(name) element count")
}

/// The maximum of each plane: `[N, C, H, W]` → `[N, C, 1, 1]` (or `[C, H, W]` → `[C, 1, 1]`),
/// torch's `AdaptiveMaxPool2d(1)`. A plane holding NaN gives NaN. One plain loop per plane
/// (no separate optimized kernel: the op is a single pass over memory).
/// - Throws: ``SwiftCNNError`` for a wrong rank or memory running out.
public func globalMaxPool2d(_ x: Tensor) throws -> Tensor {
    let (n, c, h, w) = try imageDims(x, "globalMaxPool2d")
    return try layerOutput(imageShape(rank: x.rank, n, c, 1, 1), reading: x) {
        Reference.globalMaxPool2d($0, $1, planes: n * c, planeSize: h * w)
    }
}

/// The backward twin of ``globalMaxPool2d(_:)``: each plane's gradient goes to one element,
/// the one torch's adaptive max pooling picks: the first maximum in row-major order on ties,
/// the last NaN when the plane holds NaN, the first element when all are −∞; others get 0.
/// - Parameters:
///   - x: the forward's input, `[N, C, H, W]` or `[C, H, W]`.
///   - gradOutput: `[N, C, 1, 1]` (or `[C, 1, 1]`).
/// - Returns: dL/dx, x's shape.
/// - Throws: ``SwiftCNNError`` for a wrong rank, a gradOutput of another shape, or memory running out.
public func globalMaxPool2dBackward(_ x: Tensor, gradOutput: Tensor) throws -> Tensor {
    let op = "globalMaxPool2dBackward"
    let (n, c, h, w) = try imageDims(x, op)
    let expected = imageShape(rank: x.rank, n, c, 1, 1)
    guard gradOutput.shape == expected else {
        throw SwiftCNNError.shapeMismatch(
            "\(op): gradOutput must have the forward's output shape \(Tensor.describe(expected)) for input \(Tensor.describe(x.shape)); got \(Tensor.describe(gradOutput.shape))")
    }
    return try layerOutput(x.shape, reading: x) { xp, dxp in
        gradOutput.withUnsafePointer { gp in
            Reference.globalMaxPool2dBackward(xp, gradOutput: gp, dxp, planes: n * c, planeSize: h * w)
        }
    }
}
