/// Output length of ``correlate1d(_:_:mode:)`` and ``convolve1d(_:_:mode:)``, as in numpy.
public enum Conv1DMode: Int32, Sendable {
    /// Only positions where the signals overlap completely: `max(M, N) − min(M, N) + 1` values.
    case valid = 0
    /// `max(M, N)` values, centred like numpy.
    case same = 1
    /// Every position with any overlap: `M + N − 1` values.
    case full = 2
}

/// 1-D cross-correlation, exactly `np.correlate(x, w, mode)` for real inputs:
/// c[k] = Σ_n x[n + k] · w[n] over the positions the mode keeps.
///
/// Like numpy, when `w` is longer than `x` the two are swapped, correlated and the result
/// reversed (which gives the same values for `full` and `valid`, and numpy's centring for `same`).
/// - Parameters: x, w: rank-1 tensors.
/// - Returns: a rank-1 tensor of the mode's length (see ``Conv1DMode``).
/// - Throws: ``SwiftCNNError`` when an input is not rank 1, or memory runs out.
public func correlate1d(_ x: Tensor, _ w: Tensor, mode: Conv1DMode = .valid) throws -> Tensor {
    try conv1dForward(x, w, mode: mode, convolve: false, op: "correlate1d")
}

/// 1-D convolution, exactly `np.convolve(x, w, mode)`: the correlation of the longer signal
/// with the reversed shorter one (numpy swaps them when `w` is longer; convolution is
/// commutative, so only `same`'s centring depends on the order).
/// - Parameters: x, w: rank-1 tensors.
/// - Returns: a rank-1 tensor of the mode's length (see ``Conv1DMode``).
/// - Throws: ``SwiftCNNError`` when an input is not rank 1, or memory runs out.
public func convolve1d(_ x: Tensor, _ w: Tensor, mode: Conv1DMode = .valid) throws -> Tensor {
    try conv1dForward(x, w, mode: mode, convolve: true, op: "convolve1d")
}

/// The validated geometry of a 1-D correlation of a long signal (length `long`) with a
/// short one (length `short <= long`), numpy's `_pyarray_correlate` layout.
public struct Conv1DGeometry: Equatable, Sendable {
    /// Length of the longer input.
    public let long: Int
    /// Length of the shorter input (<= long).
    public let short: Int
    /// Output positions before the first full overlap (numpy's `n_left`).
    public let padLeft: Int
    /// Output length.
    public let outputLength: Int

    /// The geometry for `mode`; `long >= short >= 1`.
    init(long: Int, short: Int, mode: Conv1DMode, op: String) throws {
        self.long = long
        self.short = short
        switch mode {
        case .valid:
            padLeft = 0
            outputLength = long - short + 1
        case .same:
            padLeft = short / 2
            outputLength = long
        case .full:
            padLeft = short - 1
            outputLength = try Checked.add(long, short - 1, "\(op) full output length")
        }
    }
}

/// Validates, orders the inputs like numpy and runs the reference kernel.
func conv1dForward(_ x: Tensor, _ w: Tensor, mode: Conv1DMode, convolve: Bool, op: String) throws -> Tensor {
    guard x.rank == 1 else {
        throw SwiftCNNError.invalidArgument("\(op): x must have rank 1; got shape \(Tensor.describe(x.shape))")
    }
    guard w.rank == 1 else {
        throw SwiftCNNError.invalidArgument("\(op): w must have rank 1; got shape \(Tensor.describe(w.shape))")
    }
    // numpy: convolve swaps so that the first is the longer (ties keep the order), then
    // correlates with the reversed second; correlate swaps when x is shorter and reverses the result.
    let swapped = x.count < w.count
    let (a, v) = swapped ? (w, x) : (x, w)
    let g = try Conv1DGeometry(long: a.count, short: v.count, mode: mode, op: op)
    var out = try Tensor(uninitialized: [g.outputLength])
    a.withUnsafePointer { a in
        v.withUnsafePointer { v in
            out.withUnsafeMutablePointerUnchecked { o in
                Reference.correlate1d(g, long: a, short: v, reverseShort: convolve, reverseOutput: !convolve && swapped,
                                      output: o)
            }
        }
    }
    return out
}

// Backward: not provided (no model of the zoo uses 1-D correlation or convolution).
