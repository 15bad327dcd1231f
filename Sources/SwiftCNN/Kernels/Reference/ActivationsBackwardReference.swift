// Reference (oracle) backward kernels of the elementwise activations, from the forward's
// output y and the output gradient g (both `count` floats); results in `dx`.

extension Reference {
    /// dx = g where y > 0, else 0 (the gradient at 0 is taken as 0, as PyTorch does).
    static func reluBackward(output y: UnsafePointer<Float>, gradOutput g: UnsafePointer<Float>,
                             _ dx: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { dx[i] = y[i] > 0 ? g[i] : 0 }
    }

    /// dx = g · (1 − y²).
    static func tanhBackward(output y: UnsafePointer<Float>, gradOutput g: UnsafePointer<Float>,
                             _ dx: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { dx[i] = g[i] * (1 - y[i] * y[i]) }
    }

    /// dx = g · y · (1 − y).
    static func sigmoidBackward(output y: UnsafePointer<Float>, gradOutput g: UnsafePointer<Float>,
                                _ dx: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { dx[i] = g[i] * (y[i] * (1 - y[i])) }
    }
}
