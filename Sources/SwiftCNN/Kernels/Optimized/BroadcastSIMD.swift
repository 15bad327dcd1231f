// Broadcasting binary ops, their backward, and the sum/expand pair of mean, in SIMD16<Float>
// (the optimized twins of BroadcastReference.swift).
//
// The geometry is first collapsed (``BroadcastGeometry/collapsed()``), so that every case
// becomes rows of the last collapsed dim in which each operand is either contiguous
// (stride 1) or one repeated element (stride 0): [N,C,H,W] op [N,C,1,1] is N·C rows of
// H·W against one scalar each, same shapes one long row, [1] op anything one row against a
// scalar. Rows are split over the threads when the output is long.
//
// The forward ops and the gradient terms use the reference's float operations, so they are
// bitwise equal to it; the sums of the reductions are formed in a different order (16-lane
// float partial sums over blocks of 256 elements, then Double), so they agree to rounding.

/// One of the four ops on 16 lanes and on one float.
protocol BinaryVectorOp {
    static func vector(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float>
    static func scalar(_ a: Float, _ b: Float) -> Float
}

enum AddVectorOp: BinaryVectorOp {
    @inline(__always) static func vector(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> { a + b }
    @inline(__always) static func scalar(_ a: Float, _ b: Float) -> Float { a + b }
}

enum SubVectorOp: BinaryVectorOp {
    @inline(__always) static func vector(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> { a - b }
    @inline(__always) static func scalar(_ a: Float, _ b: Float) -> Float { a - b }
}

enum MulVectorOp: BinaryVectorOp {
    @inline(__always) static func vector(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> { a * b }
    @inline(__always) static func scalar(_ a: Float, _ b: Float) -> Float { a * b }
}

enum DivVectorOp: BinaryVectorOp {
    @inline(__always) static func vector(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> { a / b }
    @inline(__always) static func scalar(_ a: Float, _ b: Float) -> Float { a / b }
}

/// A gradient term t = f(g, a, b) of the backward (g: dL/dy at one output element, a and b
/// the operands' elements it was computed from).
protocol BinaryGradTerm {
    static func vector(_ g: SIMD16<Float>, _ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float>
    static func scalar(_ g: Float, _ a: Float, _ b: Float) -> Float
}

/// g · b (mul, for a).
enum GradTimesB: BinaryGradTerm {
    @inline(__always) static func vector(_ g: SIMD16<Float>, _ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> { g * b }
    @inline(__always) static func scalar(_ g: Float, _ a: Float, _ b: Float) -> Float { g * b }
}

/// g · a (mul, for b).
enum GradTimesA: BinaryGradTerm {
    @inline(__always) static func vector(_ g: SIMD16<Float>, _ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> { g * a }
    @inline(__always) static func scalar(_ g: Float, _ a: Float, _ b: Float) -> Float { g * a }
}

/// g / b (div, for a).
enum GradOverB: BinaryGradTerm {
    @inline(__always) static func vector(_ g: SIMD16<Float>, _ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> { g / b }
    @inline(__always) static func scalar(_ g: Float, _ a: Float, _ b: Float) -> Float { g / b }
}

/// −g · a / b² (div, for b).
enum DivGradB: BinaryGradTerm {
    @inline(__always) static func vector(_ g: SIMD16<Float>, _ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> { -g * a / (b * b) }
    @inline(__always) static func scalar(_ g: Float, _ a: Float, _ b: Float) -> Float { -g * a / (b * b) }
}

extension Optimized {
    typealias V16 = SIMD16<Float>

    /// Calls `body(row, offsetA, offsetB)` for every row of a collapsed geometry `g` (a row
    /// is the last dim; its output elements start at row · rowLength), in parallel over
    /// blocks of rows when `parallel` and the output is longer than `threshold`.
    @inline(__always)
    static func forEachBroadcastRow(_ g: BroadcastGeometry, threshold: Int, parallel: Bool = true,
                                    _ body: (Int, Int, Int) -> Void) {
        let r = g.shape.count, inner = g.shape[r - 1]
        let rows = g.count / inner
        let shape = g.shape, sa = g.stridesA, sb = g.stridesB
        @inline(__always) func run(_ lo: Int, _ hi: Int) {
            for row in lo..<hi {
                var rest = row, oa = 0, ob = 0
                var d = r - 2
                while d >= 0 {
                    let i = rest % shape[d]
                    rest /= shape[d]
                    oa += i * sa[d]; ob += i * sb[d]
                    d -= 1
                }
                body(row, oa, ob)
            }
        }
        if !parallel || rows < 2 || rows * inner < threshold || Threading.numThreads < 2 {
            run(0, rows)
            return
        }
        let per = max(1, elementwiseBlock / inner)
        Threading.parallelFor((rows + per - 1) / per) { item in
            run(item * per, min(rows, (item + 1) * per))
        }
    }

    // MARK: Forward

    /// y = a op b under the broadcast geometry `g` (see ``Reference/binary(_:_:_:_:_:)``);
    /// bitwise equal to the reference. y: [g.count]; may alias an operand of the output's size.
    static func binary(_ op: BinaryOp, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                       _ y: UnsafeMutablePointer<Float>, _ g: BroadcastGeometry) {
        let c = g.collapsed()
        switch op {
        case .add: binaryRows(AddVectorOp.self, a, b, y, c)
        case .sub: binaryRows(SubVectorOp.self, a, b, y, c)
        case .mul: binaryRows(MulVectorOp.self, a, b, y, c)
        case .div: binaryRows(DivVectorOp.self, a, b, y, c)
        }
    }

    /// The row loop of ``binary(_:_:_:_:_:)`` for one op; `c` is collapsed, so a last-dim
    /// stride is 1 (contiguous) or 0 (one element for the whole row).
    @inline(__always)
    static func binaryRows<O: BinaryVectorOp>(_: O.Type, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                                              _ y: UnsafeMutablePointer<Float>, _ c: BroadcastGeometry) {
        let inner = c.shape[c.shape.count - 1]
        let aRow = c.stridesA[c.stridesA.count - 1] != 0, bRow = c.stridesB[c.stridesB.count - 1] != 0
        forEachBroadcastRow(c, threshold: memoryBoundParallelThreshold) { row, oa, ob in
            let dst = y + row * inner, rd = UnsafeMutableRawPointer(dst)
            let pa = a + oa, pb = b + ob
            let ra = UnsafeRawPointer(pa), rb = UnsafeRawPointer(pb)
            var i = 0
            switch (aRow, bRow) {
            case (true, true):
                while i + 16 <= inner {
                    let o = i * 4
                    rd.storeBytes(of: O.vector(ra.loadUnaligned(fromByteOffset: o, as: V16.self), rb.loadUnaligned(fromByteOffset: o, as: V16.self)),
                                  toByteOffset: o, as: V16.self)
                    i += 16
                }
                while i < inner { dst[i] = O.scalar(pa[i], pb[i]); i += 1 }
            case (true, false):
                let s = pb.pointee, vs = V16(repeating: s)
                while i + 16 <= inner {
                    let o = i * 4
                    rd.storeBytes(of: O.vector(ra.loadUnaligned(fromByteOffset: o, as: V16.self), vs), toByteOffset: o, as: V16.self)
                    i += 16
                }
                while i < inner { dst[i] = O.scalar(pa[i], s); i += 1 }
            case (false, true):
                let s = pa.pointee, vs = V16(repeating: s)
                while i + 16 <= inner {
                    let o = i * 4
                    rd.storeBytes(of: O.vector(vs, rb.loadUnaligned(fromByteOffset: o, as: V16.self)), toByteOffset: o, as: V16.self)
                    i += 16
                }
                while i < inner { dst[i] = O.scalar(s, pb[i]); i += 1 }
            case (false, false):
                dst.update(repeating: O.scalar(pa.pointee, pb.pointee), count: inner)
            }
        }
    }

    // MARK: Backward

    /// The gradients of y = a op b (see ``Reference/binaryBackward(_:_:_:gradOutput:_:gradA:countA:gradB:countB:scratch:)``).
    /// An operand of the output's size gets its term written directly; a broadcast one gets
    /// the term (or gy itself for add/sub) summed back by ``reduceSum(_:_:into:targetCount:scale:scratch:)``.
    /// - temp: g.count floats, needed when an operand of mul/div is broadcast (else may be nil).
    /// - scratch: max(countA, countB) doubles.
    static func binaryBackward(_ op: BinaryOp, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                               gradOutput gy: UnsafePointer<Float>, _ g: BroadcastGeometry,
                               gradA: UnsafeMutablePointer<Float>, countA: Int,
                               gradB: UnsafeMutablePointer<Float>, countB: Int,
                               temp: UnsafeMutablePointer<Float>?, scratch: UnsafeMutablePointer<Double>) {
        let n = g.count
        let c = g.collapsed()
        let contiguous = BroadcastGeometry.strides(of: g.shape, alignedTo: g.shape)
        /// Sums `src` ([n]) back to an operand with `strides` into `dst` ([count]), times scale.
        func reduce(_ src: UnsafePointer<Float>, _ strides: [Int], _ dst: UnsafeMutablePointer<Float>, _ count: Int, _ scale: Double) {
            reduceSum(src, BroadcastGeometry(shape: g.shape, stridesA: contiguous, stridesB: strides),
                      into: dst, targetCount: count, scale: scale, scratch: scratch)
        }
        /// The gradient of one operand from term T: directly, or through temp and a reduction.
        func grad<T: BinaryGradTerm>(_: T.Type, _ dst: UnsafeMutablePointer<Float>, _ count: Int, _ strides: [Int]) {
            if count == n {
                gradTerms(T.self, gy, a, b, dst, c)
            } else {
                let t = temp!
                gradTerms(T.self, gy, a, b, t, c)
                reduce(UnsafePointer(t), strides, dst, count, 1)
            }
        }
        switch op {
        case .add, .sub:
            if countA == n { gradA.update(from: gy, count: n) } else { reduce(gy, g.stridesA, gradA, countA, 1) }
            if op == .add {
                if countB == n { gradB.update(from: gy, count: n) } else { reduce(gy, g.stridesB, gradB, countB, 1) }
            } else {
                if countB == n { for i in 0..<n { gradB[i] = -gy[i] } } else { reduce(gy, g.stridesB, gradB, countB, -1) }
            }
        case .mul:
            grad(GradTimesB.self, gradA, countA, g.stridesA)
            grad(GradTimesA.self, gradB, countB, g.stridesB)
        case .div:
            grad(GradOverB.self, gradA, countA, g.stridesA)
            grad(DivGradB.self, gradB, countB, g.stridesB)
        }
    }

    /// t[i] = T(gy[i], a[iA], b[iB]) over the collapsed geometry `c`; t: [c.count].
    @inline(__always)
    static func gradTerms<T: BinaryGradTerm>(_: T.Type, _ gy: UnsafePointer<Float>, _ a: UnsafePointer<Float>,
                                             _ b: UnsafePointer<Float>, _ t: UnsafeMutablePointer<Float>, _ c: BroadcastGeometry) {
        let inner = c.shape[c.shape.count - 1]
        let aRow = c.stridesA[c.stridesA.count - 1] != 0, bRow = c.stridesB[c.stridesB.count - 1] != 0
        forEachBroadcastRow(c, threshold: memoryBoundParallelThreshold) { row, oa, ob in
            let base = row * inner
            let rg = UnsafeRawPointer(gy + base), rt = UnsafeMutableRawPointer(t + base)
            let pa = a + oa, pb = b + ob
            let ra = UnsafeRawPointer(pa), rb = UnsafeRawPointer(pb)
            let sa = V16(repeating: pa.pointee), sb = V16(repeating: pb.pointee)
            var i = 0
            while i + 16 <= inner {
                let o = i * 4
                let va = aRow ? ra.loadUnaligned(fromByteOffset: o, as: V16.self) : sa
                let vb = bRow ? rb.loadUnaligned(fromByteOffset: o, as: V16.self) : sb
                rt.storeBytes(of: T.vector(rg.loadUnaligned(fromByteOffset: o, as: V16.self), va, vb), toByteOffset: o, as: V16.self)
                i += 16
            }
            while i < inner {
                t[base + i] = T.scalar(gy[base + i], aRow ? pa[i] : pa.pointee, bRow ? pb[i] : pb.pointee)
                i += 1
            }
        }
    }

    // MARK: Reduction and expansion

    /// target[j] = scale · Σ x[i] over the output indices i that read target element j
    /// (stridesB of `g` are the target's; stridesA must be x's contiguous strides). When every
    /// row of the collapsed geometry sums into its own target element (e.g. [N,C,H,W] →
    /// [N,C,1,1]) the rows run in parallel and `scratch` is unused; otherwise the sums go
    /// through `scratch` (targetCount doubles).
    static func reduceSum(_ x: UnsafePointer<Float>, _ g: BroadcastGeometry, into target: UnsafeMutablePointer<Float>,
                          targetCount: Int, scale: Double, scratch acc: UnsafeMutablePointer<Double>) {
        let c = g.collapsed()
        let r = c.shape.count, inner = c.shape[r - 1]
        let innerKept = c.stridesB[r - 1] != 0
        if !innerKept && c.stridesB[..<(r - 1)].allSatisfy({ $0 != 0 }) {
            // One target element per row.
            forEachBroadcastRow(c, threshold: elementwiseParallelThreshold) { row, _, ob in
                target[ob] = Float(rowSum(x + row * inner, inner) * scale)
            }
            return
        }
        acc.update(repeating: 0, count: targetCount)
        forEachBroadcastRow(c, threshold: 0, parallel: false) { row, _, ob in
            let src = x + row * inner
            if innerKept {
                let dst = acc + ob
                for i in 0..<inner { dst[i] += Double(src[i]) }
            } else {
                acc[ob] += rowSum(src, inner)
            }
        }
        for j in 0..<targetCount { target[j] = Float(acc[j] * scale) }
    }

    /// Σ x[0..<n]: 16-lane float partial sums over blocks of 256 elements, each block's total
    /// added in Double.
    @inline(__always)
    static func rowSum(_ x: UnsafePointer<Float>, _ n: Int) -> Double {
        let raw = UnsafeRawPointer(x)
        var total: Double = 0
        var i = 0
        while i + 16 <= n {
            let end = min(n - (n - i) % 16, i + 256)
            var s = V16()
            while i < end {
                s += raw.loadUnaligned(fromByteOffset: i * 4, as: V16.self)
                i += 16
            }
            total += Double(s.sum())
        }
        while i < n { total += Double(x[i]); i += 1 }
        return total
    }

    /// y[i] = scale · x[j] for every output index i, j from stridesB of `g` (stridesA must be
    /// y's contiguous strides): the expansion twin of ``reduceSum(_:_:into:targetCount:scale:scratch:)``.
    static func broadcastScaled(_ x: UnsafePointer<Float>, _ g: BroadcastGeometry, into y: UnsafeMutablePointer<Float>,
                                scale: Float) {
        let c = g.collapsed()
        let inner = c.shape[c.shape.count - 1]
        let xRow = c.stridesB[c.stridesB.count - 1] != 0
        let vs = V16(repeating: scale)
        forEachBroadcastRow(c, threshold: memoryBoundParallelThreshold) { row, _, ob in
            let dst = y + row * inner
            if xRow {
                let src = UnsafeRawPointer(x + ob), rd = UnsafeMutableRawPointer(dst)
                var i = 0
                while i + 16 <= inner {
                    rd.storeBytes(of: src.loadUnaligned(fromByteOffset: i * 4, as: V16.self) * vs, toByteOffset: i * 4, as: V16.self)
                    i += 16
                }
                while i < inner { dst[i] = x[ob + i] * scale; i += 1 }
            } else {
                dst.update(repeating: x[ob] * scale, count: inner)
            }
        }
    }
}
