/// How ``outputSize(input:kernel:stride:padding:dilation:mode:)`` treats a stride that does
/// not fit the input exactly.
public enum OutputSizeMode: Int32, Sendable {
    /// A stride that does not fit is an error (the seed's (7 − 3)/3 + 1 = 2.33).
    case exact = 0
    /// Rounded down: the last partial window is dropped (PyTorch's default for conv and pooling).
    case floor = 1
    /// Rounded up: a partial window at the end counts. This is the plain formula; pooling's
    /// ceil mode also drops a last window that would start in the right padding.
    case ceil = 2
}

/// The output size along one dimension of a convolution or pooling window:
///
///     (input + 2·padding − dilation·(kernel − 1) − 1) / stride + 1
///
/// In ``OutputSizeMode/exact`` mode a division that is not exact is an error whose message
/// shows the fractional value (e.g. "2.33" for input 7, kernel 3, stride 3); ``OutputSizeMode/floor``
/// and ``OutputSizeMode/ceil`` round it. Also errors: input, kernel, stride or dilation below 1,
/// negative padding, a dilated kernel larger than the padded input, sizes that overflow.
public func outputSize(
    input: Int, kernel: Int, stride: Int = 1, padding: Int = 0, dilation: Int = 1, mode: OutputSizeMode = .exact
) throws -> Int {
    let op = "outputSize"
    for (name, v) in [("input", input), ("kernel", kernel), ("stride", stride), ("dilation", dilation)] where v < 1 {
        throw SwiftCNNError.invalidArgument("\(op): \(name) must be at least 1; got \(v)")
    }
    guard padding >= 0 else {
        throw SwiftCNNError.invalidArgument("\(op): padding must be >= 0; got \(padding)")
    }
    let padded = try Checked.add(input, try Checked.mul(2, padding, "\(op): 2·padding"), "\(op): padded input")
    let extent = try Checked.add(try Checked.mul(dilation, kernel - 1, "\(op): dilated kernel"), 1, "\(op): dilated kernel")
    guard extent <= padded else {
        throw SwiftCNNError.invalidArgument(
            "\(op): the kernel spans \(extent) (kernel \(kernel), dilation \(dilation)) but the padded input is only \(padded) (input \(input) + 2·padding \(padding))")
    }
    let span = padded - extent
    let (q, r) = span.quotientAndRemainder(dividingBy: stride)
    switch mode {
    case .floor:
        return q + 1
    case .ceil:
        return q + (r == 0 ? 1 : 2)
    case .exact:
        guard r == 0 else {
            throw SwiftCNNError.invalidArgument(
                "\(op): (\(input) + 2·\(padding) − \(dilation)·(\(kernel) − 1) − 1)/\(stride) + 1 = \(formatFraction(q + 1, r, stride)) is not a whole number: stride \(stride) does not fit input \(input) with kernel \(kernel), padding \(padding), dilation \(dilation); change the stride or padding, or use floor or ceil mode")
        }
        return q + 1
    }
}

/// `whole + r/d` (0 < r < d) as text with two decimals, e.g. "2.33"; more digits when two
/// decimals would round it to a whole number.
func formatFraction(_ whole: Int, _ r: Int, _ d: Int) -> String {
    let frac = Double(r) / Double(d)
    let hundredths = Int((frac * 100).rounded())
    if hundredths <= 0 || hundredths >= 100 {
        return "\(Double(whole) + frac)"
    }
    return "\(whole)." + (hundredths < 10 ? "0" : "") + "\(hundredths)"
}
