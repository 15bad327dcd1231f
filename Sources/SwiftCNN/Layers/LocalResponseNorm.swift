#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Local response normalization across channels (Krizhevsky et al. 2012), exactly
/// `torch.nn.functional.local_response_norm` / `torch.nn.LocalResponseNorm` with the same defaults:
///
///     b[n,c,…] = a[n,c,…] / (k + alpha/size · Σ_{c'} a[n,c',…]²)^beta
///
/// where c' runs over the window c − ⌊size/2⌋ … c + ⌊(size−1)/2⌋, channels outside the tensor
/// counting as zero (PyTorch pads size//2 channels before and (size−1)//2 after, then
/// averages over `size`: the divisor is always `size`).
///
/// - Parameters:
///   - x: `[N, C, L]` or `[N, C, H, W]`; channels are dimension 1 (as in PyTorch, rank 3 is
///     `[N, C, L]`, not an unbatched image: reshape a `[C, H, W]` image to `[1, C, H, W]`).
///   - size: channels in the window, at least 1.
///   - alpha, beta, k: finite, alpha >= 0, beta >= 0, k > 0 and k^beta > 0 in float32
///     (PyTorch's defaults 1e-4, 0.75, 1); other values would give NaN or infinite outputs.
public func localResponseNorm(_ x: Tensor, size: Int, alpha: Float = 1e-4, beta: Float = 0.75, k: Float = 1) throws -> Tensor {
    let (g, p) = try lrnGeometry(x, size: size, alpha: alpha, beta: beta, k: k, op: "localResponseNorm")
    return try layerOutput(x.shape, reading: x) {
        if KernelDispatch.forceReference { Reference.localResponseNorm($0, $1, g, p) } else { Optimized.localResponseNorm($0, $1, g, p) }
    }
}

/// Validates a local response normalization's input and parameters for `op`.
func lrnGeometry(_ x: Tensor, size: Int, alpha: Float, beta: Float, k: Float, op: String) throws -> (ChannelGeometry, LRNParameters) {
    guard x.rank >= 3 else {
        throw SwiftCNNError.invalidArgument(
            "\(op): input must have rank 3 [N, C, L] or 4 [N, C, H, W]; got rank \(x.rank) (shape \(Tensor.describe(x.shape)))")
    }
    guard size >= 1 else {
        throw SwiftCNNError.invalidArgument("\(op): size must be at least 1; got \(size)")
    }
    try LayerChecks.finite(alpha, op, "alpha")
    try LayerChecks.finite(beta, op, "beta")
    try LayerChecks.finite(k, op, "k")
    // The divisor (k + alpha/size · Σ x²)^beta is at least k^beta when alpha, beta >= 0 and
    // k > 0; k^beta > 0 then keeps every output finite (a NaN or ±inf otherwise: a negative
    // base, 0^beta, or k^beta underflowing to 0).
    guard alpha >= 0, beta >= 0, k > 0, powf(k, beta) > 0 else {
        throw SwiftCNNError.invalidArgument(
            "\(op): need alpha >= 0, beta >= 0 and k > 0 with k^beta > 0 in float32, so that every output is finite; got alpha \(alpha), beta \(beta), k \(k)")
    }
    let g = ChannelGeometry(batch: x.shape[0], channels: x.shape[1], spatial: x.shape[2...].reduce(1, *))
    let p = LRNParameters(size: size, alpha: alpha, beta: beta, k: k)
    return (g, p)
}

// MARK: - Backward

/// The backward twin of ``localResponseNorm(_:size:alpha:beta:k:)``, PyTorch's formula
/// differentiated: with D[c] = k + alpha/size · Σ_{c' ∈ window(c)} x[c']² and y = x · D^(−beta),
///
///     dx[j] = g[j] · D[j]^(−beta) − 2·alpha·beta/size · x[j] · Σ_{c : j ∈ window(c)} g[c] · x[c] · D[c]^(−beta−1)
///
/// computed in double precision per element.
/// - Parameters:
///   - x: the forward's input, `[N, C, L]` or `[N, C, H, W]`.
///   - gradOutput: x's shape.
///   - size, alpha, beta, k: the forward's parameters.
/// - Returns: dL/dx, x's shape.
/// - Throws: ``SwiftCNNError`` for the forward's errors, a gradOutput of another shape, or memory running out.
public func localResponseNormBackward(_ x: Tensor, gradOutput: Tensor, size: Int, alpha: Float = 1e-4,
                                      beta: Float = 0.75, k: Float = 1) throws -> Tensor {
    let op = "localResponseNormBackward"
    let (g, p) = try lrnGeometry(x, size: size, alpha: alpha, beta: beta, k: k, op: op)
    try checkSameShape(op, output: x, gradOutput: gradOutput, outputName: "input")
    return try layerOutput(x.shape, reading: x) { xp, dxp in
        gradOutput.withUnsafePointer { gp in
            if KernelDispatch.forceReference {
                Reference.localResponseNormBackward(xp, gradOutput: gp, gradInput: dxp, g, p)
            } else {
                Optimized.localResponseNormBackward(xp, gradOutput: gp, gradInput: dxp, g, p)
            }
        }
    }
}
