// TEMPORARY: stand-ins for the op-level backward functions of the backward helper (SPEC2),
// so that the engine compiles before area-backward is merged. Removed at the merge.

public struct Conv2DGradients { public var input: Tensor?; public var weight: Tensor; public var bias: Tensor? }
public func conv2dBackward(_ input: Tensor, weight: Tensor, gradOutput: Tensor, options: Conv2DOptions = .init(),
                           hasBias: Bool, computeInputGradient: Bool = true) throws -> Conv2DGradients { throw stub() }
public struct LinearGradients { public var input: Tensor; public var weight: Tensor; public var bias: Tensor? }
public func linearBackward(_ x: Tensor, weight: Tensor, gradOutput: Tensor, hasBias: Bool) throws -> LinearGradients { throw stub() }
public func reluBackward(output: Tensor, gradOutput: Tensor) throws -> Tensor { throw stub() }
public func tanhBackward(output: Tensor, gradOutput: Tensor) throws -> Tensor { throw stub() }
public func maxPool2dBackward(_ x: Tensor, gradOutput: Tensor, _ options: Pool2DOptions) throws -> Tensor { throw stub() }
public func avgPool2dBackward(inputShape: [Int], gradOutput: Tensor, _ options: Pool2DOptions) throws -> Tensor { throw stub() }
public func adaptiveAvgPool2dBackward(inputShape: [Int], gradOutput: Tensor) throws -> Tensor { throw stub() }
public func localResponseNormBackward(_ x: Tensor, gradOutput: Tensor, size: Int, alpha: Float = 1e-4,
                                      beta: Float = 0.75, k: Float = 1) throws -> Tensor { throw stub() }
public struct BatchNormStatistics { public var mean: Tensor; public var variance: Tensor; public var invStd: Tensor
                                    public var count: Int }
public func batchNormTraining(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) throws
    -> (output: Tensor, statistics: BatchNormStatistics) { throw stub() }
public struct BatchNormGradients { public var input: Tensor; public var weight: Tensor; public var bias: Tensor }
public func batchNormBackward(_ x: Tensor, gradOutput: Tensor, weight: Tensor?, statistics: BatchNormStatistics) throws
    -> BatchNormGradients { throw stub() }
public func dropoutTraining(_ x: Tensor, p: Float, seed: UInt64) throws -> (output: Tensor, mask: Tensor) { throw stub() }
public func dropoutBackward(mask: Tensor, gradOutput: Tensor) throws -> Tensor { throw stub() }
public func concatBackward(gradOutput: Tensor, sizes: [Int], axis: Int = 1) throws -> [Tensor] { throw stub() }
public func flattenBackward(gradOutput: Tensor, inputShape: [Int]) throws -> Tensor { throw stub() }
extension LeNetOps {
    static func scaledTanhBackward(output: Tensor, gradOutput: Tensor) throws -> Tensor { throw stub() }
    static func subsampleBackward(_ x: Tensor, weight: Tensor, gradOutput: Tensor) throws -> (input: Tensor, weight: Tensor, bias: Tensor) { throw stub() }
    static func partialConvBackward(_ x: Tensor, weight: Tensor, gradOutput: Tensor, inChannels: Int,
                                    connections: [[Int]], kernel: Int) throws -> (input: Tensor, weight: Tensor, bias: Tensor) { throw stub() }
    static func rbfBackward(_ x: Tensor, codes: Tensor, gradOutput: Tensor) throws -> Tensor { throw stub() }
}
private func stub() -> SwiftCNNError { .unsupported("backward: not merged yet") }
