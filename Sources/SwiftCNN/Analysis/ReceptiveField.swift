/// One layer of a stack whose receptive field is wanted: a convolution or pooling window.
public struct ReceptiveFieldLayer: Equatable, Sendable {
    /// Window size, at least 1.
    public var kernel: Int
    /// Stride, at least 1.
    public var stride: Int
    /// Dilation, at least 1 (1: a plain window).
    public var dilation: Int
    /// Padding before the first input pixel (top or left), at least 0: output 0's window
    /// starts this many pixels before input pixel 0. Changes only ``ReceptiveField/start``.
    public var padding: Int

    /// A layer with the given window, stride (default 1), dilation (default 1) and leading
    /// padding (default 0).
    public init(kernel: Int, stride: Int = 1, dilation: Int = 1, padding: Int = 0) {
        self.kernel = kernel; self.stride = stride; self.dilation = dilation; self.padding = padding
    }
}

/// The receptive field of a stack of layers, along one dimension.
public struct ReceptiveField: Equatable, Sendable {
    /// How many input pixels one output pixel of the last layer sees.
    public var size: Int
    /// The distance in input pixels between neighbouring outputs of the last layer (the product of the strides).
    public var jump: Int
    /// The input pixel where output 0's field begins (negative when it reaches into padding):
    /// output i of the last layer sees input pixels start + i·jump … start + i·jump + size − 1.
    public var start: Int

    /// A receptive field of `size` input pixels whose outputs are `jump` pixels apart, output
    /// 0's starting at input pixel `start` (default 0).
    public init(size: Int, jump: Int, start: Int = 0) { self.size = size; self.jump = jump; self.start = start }
}

/// The receptive field of `layers` applied in order:
///
///     size = 1 + Σ_i dilation_i · (kernel_i − 1) · Π_{j<i} stride_j,   jump = Π_i stride_i
///
/// Two 3×3 stride-1 convolutions see 5×5 (the seed's example); a 3×3 with dilation 2 sees 5.
/// and the start of output 0's field `start = −Σ_i padding_i · Π_{j<i} stride_j`.
/// An empty stack sees 1 pixel. Errors: kernel, stride or dilation below 1, padding below 0
/// (naming the layer), and sizes that overflow.
public func receptiveField(_ layers: [ReceptiveFieldLayer]) throws -> ReceptiveField {
    try receptiveFieldSteps(layers).last ?? ReceptiveField(size: 1, jump: 1)
}

/// The receptive field after each layer of `layers`: element i is
/// `receptiveField(Array(layers[0...i]))`. Errors as ``receptiveField(_:)``.
public func receptiveFieldSteps(_ layers: [ReceptiveFieldLayer]) throws -> [ReceptiveField] {
    let op = "receptiveField"
    var size = 1, jump = 1, start = 0
    var steps: [ReceptiveField] = []
    for (i, l) in layers.enumerated() {
        for (name, v) in [("kernel", l.kernel), ("stride", l.stride), ("dilation", l.dilation)] where v < 1 {
            throw SwiftCNNError.invalidArgument("\(op): layer \(i): \(name) must be at least 1; got \(v)")
        }
        guard l.padding >= 0 else {
            throw SwiftCNNError.invalidArgument("\(op): layer \(i): padding must be at least 0; got \(l.padding)")
        }
        let grow = try Checked.mul(try Checked.mul(l.dilation, l.kernel - 1, "\(op): layer \(i) dilated kernel"), jump, "\(op): layer \(i) receptive field")
        size = try Checked.add(size, grow, "\(op): layer \(i) receptive field")
        start = try Checked.sub(start, try Checked.mul(l.padding, jump, "\(op): layer \(i) start"), "\(op): layer \(i) start")
        jump = try Checked.mul(jump, l.stride, "\(op): layer \(i) jump (product of strides)")
        steps.append(ReceptiveField(size: size, jump: jump, start: start))
    }
    return steps
}
