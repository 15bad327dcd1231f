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
public func tanh(_ x: Tensor) throws -> Tensor {
    try layerOutput(x.shape, reading: x) {
        if KernelDispatch.forceReference { Reference.tanh($0, $1, count: x.count) } else { Optimized.tanh($0, $1, count: x.count) }
    }
}

/// Logistic sigmoid 1 / (1 + e^(−x)), elementwise, computed without overflow for large |x|
/// (e^x / (1 + e^x) for negative x). Any shape.
public func sigmoid(_ x: Tensor) throws -> Tensor {
    try layerOutput(x.shape, reading: x) {
        if KernelDispatch.forceReference { Reference.sigmoid($0, $1, count: x.count) } else { Optimized.sigmoid($0, $1, count: x.count) }
    }
}

// Backward: reluBackward(...), tanhBackward(...), sigmoidBackward(...) arrive with training (issue 5).
