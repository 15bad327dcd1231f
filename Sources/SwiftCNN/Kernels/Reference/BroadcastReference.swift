// numpy/ONNX broadcasting: the elementwise binary ops of ``BinaryOp``, the reduction of a
// gradient back to an operand's shape, and the expansion of a tensor to a larger shape.
// Geometry: ``BroadcastGeometry`` (validated by the public op).

/// Two operands broadcast to an output shape: the output's dims, and for each operand the
/// element strides it is read with, aligned to the output's dims (0 where the operand is
/// broadcast along that dim, i.e. has size 1 there or lacks the dim).
struct BroadcastGeometry: Equatable, Sendable {
    /// Output dims (at least one).
    var shape: [Int]
    /// Strides of the first operand, one per output dim.
    var stridesA: [Int]
    /// Strides of the second operand, one per output dim.
    var stridesB: [Int]

    /// The geometry of `a` and `b` broadcast to `output` (all three validated; `output` is
    /// their broadcast shape).
    init(a: [Int], b: [Int], output: [Int]) {
        shape = output
        stridesA = BroadcastGeometry.strides(of: a, alignedTo: output)
        stridesB = BroadcastGeometry.strides(of: b, alignedTo: output)
    }

    init(shape: [Int], stridesA: [Int], stridesB: [Int]) {
        self.shape = shape; self.stridesA = stridesA; self.stridesB = stridesB
    }

    /// The offsets in the two operands of output element `i` (row-major).
    @inline(__always)
    func offsets(of i: Int) -> (a: Int, b: Int) {
        var rest = i, ia = 0, ib = 0
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            let idx = rest % shape[d]
            rest /= shape[d]
            ia += idx * stridesA[d]
            ib += idx * stridesB[d]
        }
        return (ia, ib)
    }

    /// Row-major strides of `operand` right-aligned to `output`, 0 where it is broadcast.
    static func strides(of operand: [Int], alignedTo output: [Int]) -> [Int] {
        let r = output.count, k = operand.count
        var s = [Int](repeating: 0, count: r)
        var acc = 1
        for i in stride(from: k - 1, through: 0, by: -1) {
            let d = r - k + i
            s[d] = operand[i] == 1 ? 0 : acc
            acc *= operand[i]
        }
        return s
    }

    /// Number of output elements.
    var count: Int { shape.reduce(1, *) }

    /// The same geometry with fewer dims: dims of size 1 dropped, and neighbours merged
    /// where both operands step through them as one dim (both contiguous across them, or
    /// both broadcast along both). At least one dim remains.
    func collapsed() -> BroadcastGeometry {
        var s: [Int] = [], sa: [Int] = [], sb: [Int] = []
        for d in 0..<shape.count where shape[d] != 1 {
            if let last = s.last,
               sa.last! == stridesA[d] * shape[d], sb.last! == stridesB[d] * shape[d] {
                s[s.count - 1] = last * shape[d]
                sa[sa.count - 1] = stridesA[d]
                sb[sb.count - 1] = stridesB[d]
            } else {
                s.append(shape[d]); sa.append(stridesA[d]); sb.append(stridesB[d])
            }
        }
        if s.isEmpty { return BroadcastGeometry(shape: [1], stridesA: [0], stridesB: [0]) }
        return BroadcastGeometry(shape: s, stridesA: sa, stridesB: sb)
    }
}

extension BinaryOp {
    /// The op on two floats.
    @inline(__always)
    func apply(_ a: Float, _ b: Float) -> Float {
        switch self {
        case .add: a + b
        case .sub: a - b
        case .mul: a * b
        case .div: a / b
        }
    }
}

extension Reference {
    /// y[i] = a[iA] op b[iB] for every output index i, with iA and iB from `g`'s strides.
    /// y: [g.count]; may not alias a or b.
    static func binary(_ op: BinaryOp, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                       _ y: UnsafeMutablePointer<Float>, _ g: BroadcastGeometry) {
        for i in 0..<g.count {
            let (ia, ib) = g.offsets(of: i)
            y[i] = op.apply(a[ia], b[ib])
        }
    }

    /// The sum of x over the dims a target is broadcast along: target[j] = scale · Σ x[i]
    /// over the i that read target element j (stridesB of `g` are the target's strides;
    /// stridesA are unused). x: [g.count]; target: [targetCount], every element written.
    /// Sums in Double, in `acc` (scratch of targetCount doubles).
    static func reduceSum(_ x: UnsafePointer<Float>, _ g: BroadcastGeometry, into target: UnsafeMutablePointer<Float>,
                          targetCount: Int, scale: Double, scratch acc: UnsafeMutablePointer<Double>) {
        acc.update(repeating: 0, count: targetCount)
        for i in 0..<g.count {
            let j = g.offsets(of: i).b
            acc[j] += Double(x[i])
        }
        for j in 0..<targetCount { target[j] = Float(acc[j] * scale) }
    }

    /// y[i] = scale · x[j] for every output index i, j from stridesB of `g` (the expansion of
    /// x to `g.shape`, the adjoint of ``reduceSum(_:_:into:targetCount:scale:)``). y: [g.count].
    static func broadcastScaled(_ x: UnsafePointer<Float>, _ g: BroadcastGeometry, into y: UnsafeMutablePointer<Float>,
                                scale: Float) {
        for i in 0..<g.count {
            let j = g.offsets(of: i).b
            y[i] = x[j] * scale
        }
    }

    /// The gradients of y = a op b (shapes by `g`), each summed back to its operand's shape:
    /// add: (g, g); sub: (g, −g); mul: (g·b, g·a); div: (g/b, −g·a/b²), each term in Float
    /// as torch computes it, the sums in Double (in `scratch`: countA + countB doubles).
    /// gradA: [countA], gradB: [countB], every element written.
    static func binaryBackward(_ op: BinaryOp, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                               gradOutput gy: UnsafePointer<Float>, _ g: BroadcastGeometry,
                               gradA: UnsafeMutablePointer<Float>, countA: Int,
                               gradB: UnsafeMutablePointer<Float>, countB: Int,
                               scratch: UnsafeMutablePointer<Double>) {
        let accA = scratch, accB = scratch + countA
        scratch.update(repeating: 0, count: countA + countB)
        for i in 0..<g.count {
            let (ia, ib) = g.offsets(of: i)
            let gv = gy[i]
            switch op {
            case .add:
                accA[ia] += Double(gv); accB[ib] += Double(gv)
            case .sub:
                accA[ia] += Double(gv); accB[ib] -= Double(gv)
            case .mul:
                accA[ia] += Double(gv * b[ib]); accB[ib] += Double(gv * a[ia])
            case .div:
                let bv = b[ib]
                accA[ia] += Double(gv / bv); accB[ib] += Double(-gv * a[ia] / (bv * bv))
            }
        }
        for j in 0..<countA { gradA[j] = Float(accA[j]) }
        for j in 0..<countB { gradB[j] = Float(accB[j]) }
    }
}
