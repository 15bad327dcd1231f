/// One layer of a stack whose receptive field is wanted: a convolution or pooling window.
public struct ReceptiveFieldLayer: Equatable, Sendable {
    /// Window size, at least 1.
    public var kernel: Int
    /// Stride, at least 1.
    public var stride: Int
    /// Dilation, at least 1 (1: a plain window).
    public var dilation: Int

    /// A layer with the given window, stride (default 1) and dilation (default 1).
    public init(kernel: Int, stride: Int = 1, dilation: Int = 1) {
        self.kernel = kernel; self.stride = stride; self.dilation = dilation
    }
}

/// The receptive field of a stack of layers, along one dimension.
public struct ReceptiveField: Equatable, Sendable {
    /// How many input pixels one output pixel of the last layer sees.
    public var size: Int
    /// The distance in input pixels between neighbouring outputs of the last layer (the product of the strides).
    public var jump: Int

    /// A receptive field of `size` input pixels whose outputs are `jump` pixels apart.
    public init(size: Int, jump: Int) { self.size = size; self.jump = jump }
}

/// The receptive field of `layers` applied in order:
///
///     size = 1 + Σ_i dilation_i · (kernel_i − 1) · Π_{j<i} stride_j,   jump = Π_i stride_i
///
/// Two 3×3 stride-1 convolutions see 5×5 (the seed's example); a 3×3 with dilation 2 sees 5.
/// An empty stack sees 1 pixel. Errors: kernel, stride or dilation below 1 (naming the layer),
/// and sizes that overflow.
public func receptiveField(_ layers: [ReceptiveFieldLayer]) throws -> ReceptiveField {
    let op = "receptiveField"
    var size = 1, jump = 1
    for (i, l) in layers.enumerated() {
        for (name, v) in [("kernel", l.kernel), ("stride", l.stride), ("dilation", l.dilation)] where v < 1 {
            throw SwiftCNNError.invalidArgument("\(op): layer \(i): \(name) must be at least 1; got \(v)")
        }
        let grow = try Checked.mul(try Checked.mul(l.dilation, l.kernel - 1, "\(op): layer \(i) dilated kernel"), jump, "\(op): layer \(i) receptive field")
        size = try Checked.add(size, grow, "\(op): layer \(i) receptive field")
        jump = try Checked.mul(jump, l.stride, "\(op): layer \(i) jump (product of strides)")
    }
    return ReceptiveField(size: size, jump: jump)
}
