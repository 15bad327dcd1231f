/// Dropout. At inference (`training == false`) it is the identity and returns `x` itself
/// (storage shared, no copy), as PyTorch's dropout in eval mode does.
///
/// - Parameters:
///   - p: the probability of zeroing an element during training; must be in [0, 1).
///   - training: true asks for training-mode dropout, which arrives with training (issue 5):
///     until then it fails with ``SwiftCNNError/Kind/unsupported``.
public func dropout(_ x: Tensor, p: Float, training: Bool = false) throws -> Tensor {
    guard p >= 0 && p < 1 else {
        throw SwiftCNNError.invalidArgument("dropout: p must be in [0, 1); got \(p)")
    }
    if training {
        throw SwiftCNNError.unsupported("dropout: training mode is not supported yet (it arrives with training); use training = false")
    }
    return x
}

// Backward: dropoutBackward(...) arrives with training (issue 5).
