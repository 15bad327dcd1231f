/// Elementwise sum of two tensors of the same shape (no broadcasting), e.g. a residual connection.
public func add(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    guard a.shape == b.shape else {
        throw SwiftCNNError.shapeMismatch(
            "add: shapes must be equal (no broadcasting); got \(Tensor.describe(a.shape)) and \(Tensor.describe(b.shape))")
    }
    return try layerOutput(a.shape, reading: a) { ap, yp in
        b.withUnsafePointer {
            if KernelDispatch.forceReference { Reference.add(ap, $0, yp, count: a.count) } else { Optimized.add(ap, $0, yp, count: a.count) }
        }
    }
}

// Backward: the gradient of a sum flows unchanged to both operands (no function needed).
