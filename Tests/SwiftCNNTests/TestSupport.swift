import XCTest
@testable import SwiftCNN

// Helpers shared by every test file: a seeded generator, an error assertion, closeness
// measures, row-major index arithmetic and a scope that forces the reference kernels.

/// SplitMix64: a small seeded generator, so that sweeps and their failures reproduce.
struct TestRNG: RandomNumberGenerator {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `range`.
    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }

    /// Uniform in [0, 1), on a 2⁻²⁴ grid (exact in Float).
    mutating func unit() -> Float { Float(next() >> 40) / Float(1 << 24) }

    /// Uniform in [lo, hi).
    mutating func float(_ lo: Float = -1, _ hi: Float = 1) -> Float { lo + (hi - lo) * unit() }

    /// A tensor of `shape` with elements uniform in [lo, hi).
    mutating func tensor(_ shape: [Int], _ lo: Float = -1, _ hi: Float = 1) throws -> Tensor {
        let n = shape.reduce(1, *)
        var v: [Float] = []
        v.reserveCapacity(n)
        for _ in 0..<n { v.append(float(lo, hi)) }
        return try Tensor(shape: shape, scalars: v)
    }

    /// A shape of `rank` dimensions, each uniform in 1...maxDim.
    mutating func shape(rank: Int, maxDim: Int = 5) -> [Int] { (0..<rank).map { _ in int(1...maxDim) } }
}

/// Asserts that `body` throws a SwiftCNNError of `kind` with a non-empty message that
/// contains every one of `fragments`; `context` is added to the failure messages.
func assertThrows<T>(_ kind: SwiftCNNError.Kind, _ fragments: String..., context: String = "",
                     file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> T) {
    let prefix = context.isEmpty ? "" : context + ": "
    do {
        _ = try body()
        XCTFail("\(prefix)expected a \(kind) error containing \(fragments), got a result", file: file, line: line)
    } catch let e as SwiftCNNError {
        XCTAssertEqual(e.kind, kind, "\(prefix)message: \(e.message)", file: file, line: line)
        XCTAssertFalse(e.message.isEmpty, "\(prefix)empty message", file: file, line: line)
        for s in fragments {
            XCTAssertTrue(e.message.contains(s), "\(prefix)message \"\(e.message)\" lacks \"\(s)\"", file: file, line: line)
        }
    } catch {
        XCTFail("\(prefix)unexpected error \(error)", file: file, line: line)
    }
}

/// max |a − b| (infinity when the lengths differ, so that a tolerance check fails).
func maxDiff(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// Checks |got − want| <= abs + rel·|want| for every element (want computed in double precision).
func assertClose(_ got: [Float], _ want: [Double], abs: Double = 1e-6, rel: Double = 1e-5,
                 _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(got.count, want.count, "\(what): count", file: file, line: line)
    for (i, (g, w)) in zip(got, want).enumerated() {
        let ok = Swift.abs(Double(g) - w) <= abs + rel * Swift.abs(w)
        if !ok {
            XCTFail("\(what): element \(i): got \(g), want \(w)", file: file, line: line)
            return
        }
    }
}

/// Row-major strides of a shape.
func rowMajorStrides(_ shape: [Int]) -> [Int] {
    var s = [Int](repeating: 1, count: shape.count)
    var acc = 1
    for d in stride(from: shape.count - 1, through: 0, by: -1) { s[d] = acc; acc *= shape[d] }
    return s
}

/// The multi-index of a flat row-major index.
func unflatten(_ i: Int, _ shape: [Int]) -> [Int] {
    var r = i
    var idx = [Int](repeating: 0, count: shape.count)
    for d in stride(from: shape.count - 1, through: 0, by: -1) { idx[d] = r % shape[d]; r /= shape[d] }
    return idx
}

/// Runs `body` with the reference kernels forced, restoring the previous choice.
func withReferenceKernels<R>(_ body: () throws -> R) rethrows -> R {
    let old = KernelDispatch.forceReference
    KernelDispatch.forceReference = true
    defer { KernelDispatch.forceReference = old }
    return try body()
}

/// Every distinct convolution of the zoo's architectures, in first-seen order.
func zooConvSpecs() throws -> [ConvSpec] {
    var specs: [ConvSpec] = []
    func collect(_ layer: Layer) {
        switch layer {
        case .conv2d(let s):
            if !specs.contains(s) { specs.append(s) }
        case .sequential(let children), .concat(let children):
            for c in children { collect(c.layer) }
        case .residual(let body, let shortcut):
            for c in body { collect(c.layer) }
            if let shortcut { collect(shortcut.layer) }
        default: break
        }
    }
    for name in Zoo.names { collect(try Zoo.architecture(name).root) }
    return specs
}
