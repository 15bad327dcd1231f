/// Rectified linear unit, elementwise: max(x, 0). NaN stays NaN (as in PyTorch).
/// Any shape; the output has the input's shape.
public func relu(_ x: Tensor) throws -> Tensor {
    try layerOutput(x.shape, reading: x) {
        if KernelDispatch.forceReference { Reference.relu($0, $1, count: x.count) } else { Optimized.relu($0, $1, count: x.count) }
    }
}

/// Hyperbolic tangent, elementwise. Saturates to ±1 for large |x|; any shape.
///
/// Inside this module, and wherever `SwiftCNN` is imported, `tanh` on a ``Tensor`` is this
/// function; the C library's `tanh` on `Float`/`Double` is still found by its argument type.
///
/// Runs a 16-lane SIMD kernel over the threads (within 3 ulp of the exact tanh, like
/// PyTorch's vectorized CPU tanh); the C library's tanhf under ``KernelDispatch/forceReference``.
public func tanh(_ x: Tensor) throws -> Tensor {
    try layerOutput(x.shape, reading: x) { xp, yp in
        if KernelDispatch.forceReference {
            Reference.tanh(xp, yp, count: x.count)
        } else {
            Optimized.tanh(xp, yp, count: x.count)
        }
    }
}

/// Logistic sigmoid 1 / (1 + e^(−x)), elementwise, computed without overflow for large |x|
/// (e^x / (1 + e^x) for negative x). Any shape.
public func sigmoid(_ x: Tensor) throws -> Tensor {
    try layerOutput(x.shape, reading: x) {
        if KernelDispatch.forceReference { Reference.sigmoid($0, $1, count: x.count) } else { Optimized.sigmoid($0, $1, count: x.count) }
    }
}

// MARK: - Backward

/// Runs an elementwise backward kernel over `output` and `gradOutput` (same shape, checked).
func elementwiseBackward(
    _ op: String, output: Tensor, gradOutput: Tensor,
    _ kernel: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void
) throws -> Tensor {
    try checkSameShape(op, output: output, gradOutput: gradOutput)
    return try layerOutput(output.shape, reading: output) { yp, dxp in
        gradOutput.withUnsafePointer { gp in kernel(yp, gp, dxp, output.count) }
    }
}

/// The backward twin of ``relu(_:)``, from the forward's output: dx = gradOutput where
/// output > 0, else 0 (0 at the kink, as PyTorch). Both tensors have the same (any) shape.
/// - Throws: ``SwiftCNNError`` when the shapes differ or memory runs out.
public func reluBackward(output: Tensor, gradOutput: Tensor) throws -> Tensor {
    let reference = KernelDispatch.forceReference
    return try elementwiseBackward("reluBackward", output: output, gradOutput: gradOutput) { y, g, dx, n in
        if reference { Reference.reluBackward(output: y, gradOutput: g, dx, count: n) }
        else { Optimized.reluBackward(output: y, gradOutput: g, dx, count: n) }
    }
}

/// The backward twin of ``tanh(_:)``, from the forward's output y: dx = gradOutput · (1 − y²).
/// - Throws: ``SwiftCNNError`` when the shapes differ or memory runs out.
public func tanhBackward(output: Tensor, gradOutput: Tensor) throws -> Tensor {
    let reference = KernelDispatch.forceReference
    return try elementwiseBackward("tanhBackward", output: output, gradOutput: gradOutput) { y, g, dx, n in
        if reference { Reference.tanhBackward(output: y, gradOutput: g, dx, count: n) }
        else { Optimized.tanhBackward(output: y, gradOutput: g, dx, count: n) }
    }
}

/// The backward twin of ``sigmoid(_:)``, from the forward's output y: dx = gradOutput · y · (1 − y).
/// - Throws: ``SwiftCNNError`` when the shapes differ or memory runs out.
public func sigmoidBackward(output: Tensor, gradOutput: Tensor) throws -> Tensor {
    let reference = KernelDispatch.forceReference
    return try elementwiseBackward("sigmoidBackward", output: output, gradOutput: gradOutput) { y, g, dx, n in
        if reference { Reference.sigmoidBackward(output: y, gradOutput: g, dx, count: n) }
        else { Optimized.sigmoidBackward(output: y, gradOutput: g, dx, count: n) }
    }
}
