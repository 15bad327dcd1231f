// TEMPORARY: replaced by the kernels' own files when they land.
public enum UnaryOp: Equatable, Sendable {
    case sigmoid, silu, hardswish
    case hardsigmoid(alpha: Float, beta: Float)
    case clip(min: Float, max: Float)
    case leakyReLU(alpha: Float)
    case gelu(tanh: Bool)
}
public enum BinaryOp: String, Equatable, Sendable { case add, sub, mul, div }
public enum UpsampleMode: Equatable, Sendable { case nearest; case bilinear(alignCorners: Bool) }
func pending(_ s: String) -> SwiftCNNError { SwiftCNNError.invalidArgument("\(s): pending") }
public func unary(_ op: UnaryOp, _ x: Tensor) throws -> Tensor { throw pending("unary") }
public func unaryBackward(_ op: UnaryOp, input: Tensor, gradOutput: Tensor) throws -> Tensor { throw pending("unary") }
public func broadcastShape(_ a: [Int], _ b: [Int]) throws -> [Int] {
    guard a == b else { throw pending("broadcast") }
    return a
}
public func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor) throws -> Tensor { throw pending("binary") }
public func binaryBackward(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, gradOutput: Tensor) throws -> (a: Tensor, b: Tensor) { throw pending("binary") }
public func globalMaxPool2d(_ x: Tensor) throws -> Tensor { throw pending("gmp") }
public func globalMaxPool2dBackward(_ x: Tensor, gradOutput: Tensor) throws -> Tensor { throw pending("gmp") }
public func mean(_ x: Tensor, axes: [Int], keepDims: Bool) throws -> Tensor { throw pending("mean") }
public func meanBackward(inputShape: [Int], axes: [Int], keepDims: Bool, gradOutput: Tensor) throws -> Tensor { throw pending("mean") }
public func transpose(_ x: Tensor, perm: [Int]) throws -> Tensor { throw pending("transpose") }
public func inversePermutation(_ perm: [Int]) throws -> [Int] { throw pending("perm") }
public func split(_ x: Tensor, axis: Int, sizes: [Int]) throws -> [Tensor] { throw pending("split") }
public func zeroPad2d(_ x: Tensor, _ padding: Padding2D) throws -> Tensor { throw pending("pad") }
public func zeroPad2dBackward(gradOutput: Tensor, _ padding: Padding2D) throws -> Tensor { throw pending("pad") }
public func upsample2d(_ x: Tensor, outputSize: Size2D, scales: (h: Double, w: Double)?, mode: UpsampleMode) throws -> Tensor { throw pending("up") }
public func upsample2dBackward(inputShape: [Int], gradOutput: Tensor, scales: (h: Double, w: Double)?, mode: UpsampleMode) throws -> Tensor { throw pending("up") }
public func upsampleOutputSize(input: Size2D, scales: (h: Double, w: Double)) throws -> Size2D { throw pending("up") }
