// Elementwise binary ops. a, b, y: [count] (same shape, flattened).

extension Reference {
    /// y[i] = a[i] + b[i].
    static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { y[i] = a[i] + b[i] }
    }
}
