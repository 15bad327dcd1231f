/// The elementwise binary ops of ``binary(_:_:_:)``, with numpy/ONNX broadcasting.
public enum BinaryOp: String, Equatable, Sendable {
    /// a + b
    case add
    /// a − b
    case sub
    /// a · b
    case mul
    /// a / b (IEEE: x/0 is ±infinity, 0/0 NaN)
    case div
}

/// The shape two shapes broadcast to, by numpy's rules: the shapes are aligned at their last
/// dims; each pair of dims must be equal or one of them 1, and the result takes the larger;
/// the shorter shape counts as 1 in its missing leading dims. E.g. `[2, 3, 4, 5]` and
/// `[2, 3, 1, 1]` give `[2, 3, 4, 5]`; `[3, 1, 5]` and `[4, 1]` give `[3, 4, 5]`.
/// - Throws: ``SwiftCNNError``: `.invalidArgument` when a shape is not a tensor shape (rank
///   1 to 4, every dim at least 1, element count that fits), `.shapeMismatch` naming both
///   shapes when they do not broadcast.
public func broadcastShape(_ a: [Int], _ b: [Int]) throws -> [Int] {
    try broadcastShape(a, b, op: "broadcastShape")
}

/// ``broadcastShape(_:_:)`` with `op` starting the messages.
func broadcastShape(_ a: [Int], _ b: [Int], op: String) throws -> [Int] {
    for (name, s) in [("first", a), ("second", b)] {
        guard (1...Tensor.maxRank).contains(s.count) else {
            throw SwiftCNNError.invalidArgument(
                "\(op): the \(name) shape must have rank 1 to \(Tensor.maxRank); got \(Tensor.describe(s))")
        }
        guard s.allSatisfy({ $0 >= 1 }) else {
            throw SwiftCNNError.invalidArgument("\(op): every dimension of the \(name) shape must be at least 1; got \(Tensor.describe(s))")
        }
        _ = try Checked.product(s, "\(op): element count of \(Tensor.describe(s))")
    }
    let r = max(a.count, b.count)
    var out = [Int](repeating: 1, count: r)
    for i in 0..<r {
        let da = i < r - a.count ? 1 : a[i - (r - a.count)]
        let db = i < r - b.count ? 1 : b[i - (r - b.count)]
        guard da == db || da == 1 || db == 1 else {
            throw SwiftCNNError.shapeMismatch(
                "\(op): shapes \(Tensor.describe(a)) and \(Tensor.describe(b)) do not broadcast: dimension \(i - r) is \(da) in one and \(db) in the other (each pair of trailing dims must be equal or 1)")
        }
        out[i] = max(da, db)
    }
    _ = try Checked.product(out, "\(op): element count of the broadcast shape \(Tensor.describe(out))")
    return out
}

/// `a op b` elementwise with numpy/ONNX broadcasting (see ``broadcastShape(_:_:)``); the
/// output has the broadcast shape. Like `torch.add/sub/mul/div` on float32 tensors.
///
/// Runs SIMD16 row kernels (same shapes, [N,C,H,W] with [N,C,1,1], a one-element operand and
/// every other pattern become contiguous rows against contiguous rows or one repeated
/// element), over the threads for long outputs; bitwise equal to the reference loops that
/// run under ``KernelDispatch/forceReference``.
/// - Throws: ``SwiftCNNError`` when the shapes do not broadcast or memory runs out.
public func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor) throws -> Tensor {
    let name = "binary \(op.rawValue)"
    let shape = try broadcastShape(a.shape, b.shape, op: name)
    let g = BroadcastGeometry(a: a.shape, b: b.shape, output: shape)
    return try layerOutput(shape, reading: a) { ap, yp in
        b.withUnsafePointer { bp in
            if KernelDispatch.forceReference { Reference.binary(op, ap, bp, yp, g) }
            else { Optimized.binary(op, ap, bp, yp, g) }
        }
    }
}

/// The backward twin of ``binary(_:_:_:)``: dL/da and dL/db, each summed over the dims its
/// operand was broadcast along, so that each has its operand's own shape.
///
/// With g = gradOutput: add → (g, g); sub → (g, −g); mul → (g·b, g·a); div → (g/b, −g·a/b²)
/// (torch's formulas; division by zero gives infinities or NaN as in the forward). Sums are
/// formed in Double by the reference; the optimized path sums 16-lane float blocks into
/// Double, so the two agree to rounding, and are bitwise equal where nothing is summed.
/// - Parameters:
///   - a, b: the forward's operands.
///   - gradOutput: dL/dy, of the broadcast shape.
/// - Returns: (dL/da with a's shape, dL/db with b's shape).
/// - Throws: ``SwiftCNNError`` when the operands do not broadcast, gradOutput has another
///   shape than the forward's output, or memory runs out.
public func binaryBackward(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, gradOutput: Tensor) throws -> (a: Tensor, b: Tensor) {
    let name = "binaryBackward \(op.rawValue)"
    let shape = try broadcastShape(a.shape, b.shape, op: name)
    guard gradOutput.shape == shape else {
        throw SwiftCNNError.shapeMismatch(
            "\(name): gradOutput must have the broadcast shape \(Tensor.describe(shape)) of \(Tensor.describe(a.shape)) and \(Tensor.describe(b.shape)); got \(Tensor.describe(gradOutput.shape))")
    }
    let g = BroadcastGeometry(a: a.shape, b: b.shape, output: shape)
    let n = g.count
    var da = try Tensor(uninitialized: a.shape), db = try Tensor(uninitialized: b.shape)
    let reference = KernelDispatch.forceReference
    // The optimized path needs a full-size term buffer when an operand of mul/div is broadcast.
    let needsTemp = !reference && (op == .mul || op == .div) && (a.count != n || b.count != n)
    var temp: Tensor? = needsTemp ? try Tensor(uninitialized: shape) : nil
    let scratchCount = reference ? try Checked.add(a.count, b.count, "\(name) scratch size") : max(a.count, b.count)
    try withDoubleScratch(scratchCount, name) { scratch in
        a.withUnsafePointer { ap in
            b.withUnsafePointer { bp in
                gradOutput.withUnsafePointer { gp in
                    da.withUnsafeMutablePointerUnchecked { dap in
                        db.withUnsafeMutablePointerUnchecked { dbp in
                            if reference {
                                Reference.binaryBackward(op, ap, bp, gradOutput: gp, g, gradA: dap, countA: a.count,
                                                         gradB: dbp, countB: b.count, scratch: scratch)
                            } else {
                                withOptionalMutablePointer(&temp) { tp in
                                    Optimized.binaryBackward(op, ap, bp, gradOutput: gp, g, gradA: dap, countA: a.count,
                                                             gradB: dbp, countB: b.count, temp: tp, scratch: scratch)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    return (da, db)
}

/// Runs `body` with `count` doubles of uninitialized scratch memory, allocated so that a
/// failure throws (``SwiftCNNError`` `.outOfMemory`) instead of trapping; `op` names the caller.
func withDoubleScratch<R>(_ count: Int, _ op: String, _ body: (UnsafeMutablePointer<Double>) throws -> R) throws -> R {
    let floats = try Checked.mul(max(count, 1), MemoryLayout<Double>.stride / MemoryLayout<Float>.stride, "\(op) scratch size")
    let p = try Memory.allocateFloats(floats)
    defer { Memory.free(p) }
    let d = UnsafeMutableRawPointer(p).bindMemory(to: Double.self, capacity: max(count, 1))
    return try body(d)
}
