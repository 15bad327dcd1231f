import XCTest
@testable import SwiftCNN

/// The SIMD kernels of Kernels/Optimized (activations, add, pooling, LRN, softmax, the
/// packed GEMV of tiny convolutions) against their reference twins, over random shapes,
/// edge sizes (vector tails, overlapping last blocks, the parallel paths) and every pooling
/// configuration of the zoo. Tolerances are stated per test.
final class OptimizedKernelsTests: XCTestCase {
    /// Equal, with NaN equal to NaN (bitwise kernels).
    func assertSame(_ a: [Float], _ b: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        for (i, (x, y)) in zip(a, b).enumerated() where !(x == y || (x.isNaN && y.isNaN)) {
            XCTFail("\(what): element \(i): \(x) vs reference \(y)", file: file, line: line)
            return
        }
    }

    /// |a − b| <= abs + rel·|b|, NaN where the reference has NaN, equal infinities.
    func assertNear(_ a: [Float], _ b: [Float], abs: Float, rel: Float, _ what: String,
                    file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        for (i, (x, y)) in zip(a, b).enumerated() {
            let ok = y.isNaN ? x.isNaN : y.isInfinite ? x == y : Swift.abs(x - y) <= abs + rel * Swift.abs(y)
            if !ok {
                XCTFail("\(what): element \(i): \(x) vs reference \(y)", file: file, line: line)
                return
            }
        }
    }

    /// Values with the awkward ones mixed in: ±0, tiny, large, ±∞, NaN.
    func awkward(_ n: Int, _ r: inout TestRNG, scale: Float = 6) -> [Float] {
        let specials: [Float] = [0, -0.0, 1e-30, -1e-8, 0.624, -0.626, 9, -9, 20, 44, -50, 88, 89, -87, -104, 1e4,
                                 .infinity, -.infinity, .nan]
        return (0..<n).map { i in i % 7 == 3 ? specials[(i / 7) % specials.count] : r.float(-scale, scale) }
    }

    func run(_ x: [Float], _ f: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> [Float] {
        var y = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { f(xp.baseAddress!, $0.baseAddress!, x.count) } }
        return y
    }

    /// relu and add bitwise; tanh, sigmoid, scaled tanh within 1e-6 + 2e-6·|ref| of the C
    /// library (saturation, signs, NaN and ±∞ exact); in place gives the same result; lengths
    /// around the 16-lane vector and one past the parallel threshold.
    func testActivationsAndAdd() throws {
        var r = TestRNG(1)
        for n in [1, 15, 16, 17, 33, 100, 1000, Optimized.elementwiseParallelThreshold + 5] {
            let x = awkward(n, &r), b = awkward(n, &r)
            if n > 1000 {  // the parallel split: relu and tanh only (debug builds are slow)
                assertSame(run(x) { Optimized.relu($0, $1, count: $2) }, run(x) { Reference.relu($0, $1, count: $2) }, "relu \(n)")
                assertNear(run(x) { Optimized.tanh($0, $1, count: $2) }, run(x) { Reference.tanh($0, $1, count: $2) },
                           abs: 1e-6, rel: 2e-6, "tanh \(n)")
                continue
            }
            assertSame(run(x) { Optimized.relu($0, $1, count: $2) }, run(x) { Reference.relu($0, $1, count: $2) }, "relu \(n)")
            assertNear(run(x) { Optimized.tanh($0, $1, count: $2) }, run(x) { Reference.tanh($0, $1, count: $2) },
                       abs: 1e-6, rel: 2e-6, "tanh \(n)")
            assertNear(run(x) { Optimized.sigmoid($0, $1, count: $2) }, run(x) { Reference.sigmoid($0, $1, count: $2) },
                       abs: 1e-6, rel: 2e-6, "sigmoid \(n)")
            let scaled = try LeNetOps.scaledTanh(try Tensor(shape: [n], scalars: x)).scalars
            assertNear(run(x) { Optimized.scaledTanh($0, $1, count: $2) }, scaled, abs: 2e-6, rel: 2e-6, "scaledTanh \(n)")
            let sum = run(x) { xp, yp, c in b.withUnsafeBufferPointer { Optimized.add(xp, $0.baseAddress!, yp, count: c) } }
            let ref = run(x) { xp, yp, c in b.withUnsafeBufferPointer { Reference.add(xp, $0.baseAddress!, yp, count: c) } }
            assertSame(sum, ref, "add \(n)")
            // In place.
            var inPlace = x
            inPlace.withUnsafeMutableBufferPointer { Optimized.tanh($0.baseAddress!, $0.baseAddress!, count: n) }
            assertSame(inPlace, run(x) { Optimized.tanh($0, $1, count: $2) }, "tanh in place \(n)")
        }
        // The public ops dispatch to these and to the reference under forceReference.
        let t = try Tensor(shape: [3, 7], scalars: awkward(21, &r))
        assertNear(try tanh(t).scalars, try withReferenceKernels { try tanh(t) }.scalars, abs: 1e-6, rel: 2e-6, "tanh op")
        XCTAssertEqual(try withReferenceKernels { try sigmoid(t) }.scalars.map(\.bitPattern),
                       run(t.scalars) { Reference.sigmoid($0, $1, count: $2) }.map(\.bitPattern))
    }

    /// e^x in 16 lanes: within 3e-7 relative of expf over the whole range (subnormal results
    /// within 1e-44 absolute), +∞ above 88.72, 0 below −104, NaN kept.
    func testExp() {
        var r = TestRNG(2)
        var x: [Float] = (0..<2000).map { _ in r.float(-103.9, 88.7) }
        x += [0, -0.0, 1, -1, 88.72, 88.8, -88.3, -100, -103.9, -104.5, -1000, .infinity, -.infinity, .nan]
        while x.count % 16 != 0 { x.append(0.5) }
        for i in stride(from: 0, to: x.count, by: 16) {
            let v = Optimized.expSIMD(SIMD16<Float>(x[i..<(i + 16)]))
            // 1e-44 as a Float (the literal would warn): 7 times the least subnormal.
            let tiny = Float(bitPattern: 7)
            for j in 0..<16 {
                let want = expf(x[i + j])
                let got = v[j]
                if want.isNaN { XCTAssertTrue(got.isNaN); continue }
                if want.isInfinite || want == 0 { XCTAssertTrue(got == want || (want == 0 && got < tiny), "exp(\(x[i + j])) = \(got)"); continue }
                if want < 1.2e-38 { XCTAssertLessThanOrEqual(abs(got - want), tiny + 3e-7 * want, "exp(\(x[i + j])) = \(got), expf \(want)"); continue }
                XCTAssertLessThanOrEqual(abs(got - want) / want, 3e-7, "exp(\(x[i + j])) = \(got), expf \(want)")
            }
        }
    }

    /// The zoo's pooling configurations plus random ones (kernel 1–4, stride 1–3, padding up
    /// to half the kernel, ceil mode, count_include_pad, widths that reach the vector paths):
    /// max pooling bitwise equal to the reference (NaN propagates), average within 2e-6
    /// (inputs in [−1, 1], float vs double sums); a parallel-sized case.
    func testPoolingAgainstReference() throws {
        var r = TestRNG(3)
        struct Case { var shape: [Int]; var o: Pool2DOptions; var max: Bool }
        func opt(_ k: Int, _ s: Int, _ p: Int = 0, ceil: Bool = false, include: Bool = true) -> Pool2DOptions {
            Pool2DOptions(kernel: Size2D(k), stride: Size2D(s), padding: Size2D(p), ceilMode: ceil, countIncludePad: include)
        }
        var cases: [Case] = [
            Case(shape: [1, 3, 28, 28], o: opt(2, 2), max: false),               // lenet5
            Case(shape: [1, 2, 10, 10], o: opt(2, 2), max: false),
            Case(shape: [1, 3, 56, 56], o: opt(2, 2), max: true),                // vgg
            Case(shape: [1, 2, 55, 55], o: opt(3, 2), max: true),                // alexnet
            Case(shape: [1, 2, 27, 27], o: opt(3, 2), max: true),
            Case(shape: [1, 2, 112, 112], o: opt(3, 2, 1), max: true),           // resnet
            Case(shape: [1, 2, 112, 112], o: opt(3, 2, ceil: true), max: true),  // googlenet
            Case(shape: [1, 2, 28, 28], o: opt(3, 1, 1, ceil: true), max: true), // inception branch 4
            Case(shape: [1, 2, 14, 14], o: opt(2, 2, ceil: true), max: true),    // googlenet maxpool4
            Case(shape: [1, 2, 7, 7], o: opt(2, 2, ceil: true), max: true),
            Case(shape: [32, 1, 60, 60], o: opt(3, 2), max: true),               // parallel over planes
            Case(shape: [32, 1, 60, 60], o: opt(2, 2), max: false),
        ]
        for _ in 0..<40 {
            let k = r.int(1...4), s = r.int(1...3)
            let o = Pool2DOptions(kernel: Size2D(k, r.int(1...4)), stride: Size2D(s, r.int(1...3)),
                                  padding: Size2D(r.int(0...k / 2), 0), ceilMode: r.int(0...1) == 1,
                                  countIncludePad: r.int(0...1) == 1)
            let shape = [r.int(1...2), r.int(1...3), r.int(k...24), r.int(4...70)]
            cases.append(Case(shape: shape, o: o, max: r.int(0...1) == 1))
        }
        for c in cases {
            var v = (0..<c.shape.reduce(1, *)).map { _ in r.float() }
            if c.max && v.count > 40 { v[17] = .nan; v[v.count - 3] = -0.0 }
            let x = try Tensor(shape: c.shape, scalars: v)
            guard let g = try? pool2dGeometry(x, c.o, op: "t") else { continue }  // empty output: skipped
            let what = "\(c.max ? "max" : "avg") \(c.shape) \(c.o)"
            if c.max {
                assertSame(try maxPool2d(x, c.o).scalars, try withReferenceKernels { try maxPool2d(x, c.o) }.scalars, what)
            } else {
                assertNear(try avgPool2d(x, c.o).scalars, try withReferenceKernels { try avgPool2d(x, c.o) }.scalars,
                           abs: 2e-6, rel: 0, what)
            }
            _ = g
        }
    }

    /// Narrow maps (widths and heights 1…20, the stride-1 narrow path and its neighbours):
    /// kernels 2/3/5, strides 1 and 2, padding 0…2, ceil mode on/off, count_include_pad
    /// on/off, several planes, inputs holding NaNs (distinct payloads), ±∞ and ±0. Max pooling
    /// bitwise equal to the reference (bit patterns, NaN payloads included); average pooling
    /// within 2e-6 of the reference (NaN where it has NaN, equal infinities). Also checks that
    /// the GoogLeNet inception pools (3×3, stride 1, padding 1, ceil, 14×14 and 7×7) take the
    /// narrow path, so the sweep exercises it, and that its 3×3 stride-2 ceil pool on 28×28
    /// takes it for average pooling but the wide path for max pooling.
    func testPoolingNarrowMaps() throws {
        var r = TestRNG(11)
        func bitsSame(_ a: [Float], _ b: [Float], _ what: String) {
            XCTAssertEqual(a.count, b.count, what)
            for (i, (x, y)) in zip(a, b).enumerated() where x.bitPattern != y.bitPattern {
                XCTFail("\(what): element \(i): \(x) (\(x.bitPattern)) vs reference \(y) (\(y.bitPattern))")
                return
            }
        }
        var cases: [([Int], Pool2DOptions)] = []
        for (h, w) in [(14, 14), (7, 7), (1, 1), (20, 20), (16, 15)] {
            cases.append(([2, 3, h, w], Pool2DOptions(kernel: Size2D(3), stride: Size2D(1), padding: Size2D(1),
                                                      ceilMode: true, countIncludePad: true)))
        }
        for _ in 0..<160 {
            let k = [2, 3, 5][r.int(0...2)], s = r.int(1...2)
            let o = Pool2DOptions(kernel: Size2D(k, [2, 3, 5][r.int(0...2)]), stride: Size2D(s, r.int(1...3) == 1 ? s : 1),
                                  padding: Size2D(r.int(0...2), r.int(0...2)), ceilMode: r.int(0...1) == 1,
                                  countIncludePad: r.int(0...1) == 1)
            cases.append(([r.int(1...2), r.int(1...3), r.int(1...20), r.int(1...20)], o))
        }
        var narrowSeen = 0
        for (shape, o) in cases {
            var v = (0..<shape.reduce(1, *)).map { _ in r.float() }
            for _ in 0..<max(1, v.count / 12) {
                let i = r.int(0...(v.count - 1))
                switch r.int(0...4) {
                case 0: v[i] = Float(bitPattern: 0x7FC0_0000 | UInt32(r.int(1...0xFFFF)))  // quiet NaN, own payload
                case 1: v[i] = Float(bitPattern: 0xFFC0_0000 | UInt32(r.int(1...0xFFFF)))  // negative NaN
                case 2: v[i] = .infinity
                case 3: v[i] = -.infinity
                default: v[i] = r.int(0...1) == 0 ? 0.0 : -0.0
                }
            }
            let x = try Tensor(shape: shape, scalars: v)
            guard let g = try? pool2dGeometry(x, o, op: "t") else { continue }  // invalid or empty: skipped
            if Optimized.poolPath(g, isMax: true) == .narrow || Optimized.poolPath(g, isMax: false) == .narrow { narrowSeen += 1 }
            let what = "\(shape) \(o)"
            bitsSame(try maxPool2d(x, o).scalars, try withReferenceKernels { try maxPool2d(x, o) }.scalars, "max " + what)
            assertNear(try avgPool2d(x, o).scalars, try withReferenceKernels { try avgPool2d(x, o) }.scalars,
                       abs: 2e-6, rel: 0, "avg " + what)
        }
        XCTAssertGreaterThan(narrowSeen, 80, "narrow-path cases in the sweep")
        for (h, w) in [(14, 14), (7, 7)] {
            let g = try pool2dGeometry(shape: [1, 832, h, w], Pool2DOptions(kernel: Size2D(3), stride: Size2D(1), padding: Size2D(1),
                                                                           ceilMode: true, countIncludePad: true), op: "t")
            XCTAssertEqual(Optimized.poolPath(g, isMax: true), .narrow, "inception pool \(h)×\(w)")
            XCTAssertEqual(Optimized.poolPath(g, isMax: false), .narrow, "inception average pool \(h)×\(w)")
        }
        // 16 to 31 wide: max pooling goes down first (faster there), average keeps the narrow path.
        let g2 = try pool2dGeometry(shape: [1, 480, 28, 28], Pool2DOptions(kernel: Size2D(3), stride: Size2D(2), ceilMode: true), op: "t")
        XCTAssertEqual(Optimized.poolPath(g2, isMax: true), .maxRows, "googlenet 3×3 stride-2 pool on 28×28")
        XCTAssertEqual(Optimized.poolPath(g2, isMax: false), .narrow, "3×3 stride-2 average pool on 28×28")
        // GoogLeNet's narrow max pools with their 832 planes split over two threads: the
        // vector stores of a plane's output rows must stay inside the plane.
        let old = Threading.numThreads
        defer { Threading.numThreads = old }
        Threading.numThreads = 2
        for (h, o) in [(7, Pool2DOptions(kernel: Size2D(3), stride: Size2D(1), padding: Size2D(1), ceilMode: true)),
                       (14, Pool2DOptions(kernel: Size2D(3), stride: Size2D(1), padding: Size2D(1), ceilMode: true)),
                       (14, Pool2DOptions(kernel: Size2D(2), stride: Size2D(2), ceilMode: true))] {
            let x = try Tensor(shape: [1, 832, h, h], scalars: (0..<(832 * h * h)).map { _ in r.float() })
            let g = try pool2dGeometry(x, o, op: "t")
            XCTAssertEqual(Optimized.poolPath(g, isMax: true), .narrow, "\(h)×\(h) \(o)")
            bitsSame(try maxPool2d(x, o).scalars, try withReferenceKernels { try maxPool2d(x, o) }.scalars,
                     "[1, 832, \(h), \(h)] \(o), 2 threads")
        }
    }

    /// The wide max path (``Optimized/maxPoolRowsPlanes(_:_:_:planes:end:)``: rows 16 and
    /// wider, horizontal stride 1 or 2; down first, then along the rows, for planes without
    /// NaN and −0) and the narrow path's window-rows-first passes, bit for bit against the
    /// reference: random geometries (kernels 1–5 by 1–5, vertical strides 1–3, padding up to
    /// half the kernel, ceil mode) and the zoo's pools; inputs that are plain random values,
    /// values from a small set (ties everywhere, +0 among them), only +0, −0 and −1 (the
    /// signed zeros' order decides every window), and values with NaNs of
    /// distinct payloads, ±∞ and −0 in some planes only (so that one call takes both the
    /// order-free planes and the row-major fallback); at 1 and 2 threads. Also checks that
    /// the sweep reaches the wide path and that the zoo's wide pools take it.
    func testMaxPoolTwoPassPathsMatchReferenceBitwise() throws {
        var r = TestRNG(29)
        let old = Threading.numThreads
        defer { Threading.numThreads = old }
        func bitsSame(_ a: [Float], _ b: [Float], _ what: String) -> Bool {
            XCTAssertEqual(a.count, b.count, what)
            for (i, (x, y)) in zip(a, b).enumerated() where x.bitPattern != y.bitPattern {
                XCTFail("\(what): element \(i): \(x) (\(x.bitPattern)) vs reference \(y) (\(y.bitPattern))")
                return false
            }
            return true
        }
        var cases: [([Int], Pool2DOptions)] = [
            ([1, 3, 112, 112], Pool2DOptions(kernel: Size2D(3), stride: Size2D(2), padding: Size2D(1))),  // resnet
            ([1, 3, 112, 112], Pool2DOptions(kernel: Size2D(3), stride: Size2D(2), ceilMode: true)),      // googlenet
            ([1, 3, 56, 56], Pool2DOptions(kernel: Size2D(3), stride: Size2D(2), ceilMode: true)),
            ([1, 3, 55, 55], Pool2DOptions(kernel: Size2D(3), stride: Size2D(2))),                         // alexnet
            ([1, 3, 28, 28], Pool2DOptions(kernel: Size2D(3), stride: Size2D(1), padding: Size2D(1), ceilMode: true)),
            ([2, 3, 14, 14], Pool2DOptions(kernel: Size2D(3), stride: Size2D(1), padding: Size2D(1), ceilMode: true)),
            ([2, 3, 7, 7], Pool2DOptions(kernel: Size2D(3), stride: Size2D(1), padding: Size2D(1), ceilMode: true)),
            ([1, 4, 15, 15], Pool2DOptions(kernel: Size2D(3), stride: Size2D(2), padding: Size2D(1))),
            ([2, 3, 11, 13], Pool2DOptions(kernel: Size2D(2, 3), stride: Size2D(2, 1), ceilMode: true)),
            ([1, 3, 20, 28], Pool2DOptions(kernel: Size2D(3), stride: Size2D(2), ceilMode: true)),        // 16–31 wide
        ]
        for _ in 0..<70 {
            let k = Size2D(r.int(1...5), r.int(1...5))
            let o = Pool2DOptions(kernel: k, stride: Size2D(r.int(1...3), r.int(1...2)),
                                  padding: Size2D(r.int(0...(k.h / 2)), r.int(0...(k.w / 2))), ceilMode: r.int(0...1) == 1)
            cases.append(([r.int(1...2), r.int(1...4), r.int(k.h...40), r.int(max(k.w, 12)...140)], o))
        }
        var wideSeen = 0, narrowSeen = 0
        for (shape, o) in cases {
            guard let g = try? pool2dGeometry(shape: shape, o, op: "t") else { continue }
            if Optimized.poolPath(g, isMax: true) == .maxRows { wideSeen += 1 }
            if Optimized.poolPath(g, isMax: true) == .narrow { narrowSeen += 1 }
            let count = shape.reduce(1, *), plane = shape[2] * shape[3]
            for kind in 0..<4 {
                var v = (0..<count).map { _ in r.float() }
                if kind == 1 {
                    let set: [Float] = [0, 0.5, -0.5, 1, -1]
                    v = (0..<count).map { _ in set[r.int(0...4)] }
                } else if kind == 3 {
                    // Windows whose maximum is a zero of either sign: only the reference's
                    // order says which (the row-major fallback's case).
                    let set: [Float] = [0, -0.0, -1]
                    v = (0..<count).map { _ in set[r.int(0...2)] }
                } else if kind == 2 {
                    // Specials in even planes only: odd planes stay on the order-free path.
                    for p in stride(from: 0, to: count / plane, by: 2) {
                        for _ in 0..<max(1, plane / 10) {
                            let i = p * plane + r.int(0...(plane - 1))
                            switch r.int(0...3) {
                            case 0: v[i] = Float(bitPattern: 0x7FC0_0000 | UInt32(r.int(1...0xFFFF)))
                            case 1: v[i] = Float(bitPattern: 0xFFC0_0000 | UInt32(r.int(1...0xFFFF)))
                            case 2: v[i] = r.int(0...1) == 0 ? .infinity : -.infinity
                            default: v[i] = r.int(0...1) == 0 ? -0.0 : 0.0
                            }
                        }
                    }
                }
                let x = try Tensor(shape: shape, scalars: v)
                let reference = try withReferenceKernels { try maxPool2d(x, o) }.scalars
                for threads in [1, 2] {
                    Threading.numThreads = threads
                    if !bitsSame(try maxPool2d(x, o).scalars, reference, "\(shape) \(o) input kind \(kind), \(threads) threads") {
                        return
                    }
                }
            }
        }
        XCTAssertGreaterThan(wideSeen, 25, "wide-path cases in the sweep")
        XCTAssertGreaterThan(narrowSeen, 3, "narrow-path cases in the sweep")
        for (shape, o) in cases.prefix(4) {
            let g = try pool2dGeometry(shape: shape, o, op: "t")
            XCTAssertEqual(Optimized.poolPath(g, isMax: true), .maxRows, "zoo pool \(shape) \(o) takes the wide path")
        }
        // A large case: the planes split over two threads, each range with its own scratch.
        Threading.numThreads = 2
        let big = try Tensor(shape: [2, 32, 56, 56], scalars: (0..<(2 * 32 * 56 * 56)).map { _ in r.float() })
        let po = Pool2DOptions(kernel: Size2D(3), stride: Size2D(2), padding: Size2D(1))
        _ = bitsSame(try maxPool2d(big, po).scalars, try withReferenceKernels { try maxPool2d(big, po) }.scalars, "[2, 32, 56, 56], 2 threads")
    }

    /// Adaptive average pooling (identity size, global 1×1, shrinking and growing windows,
    /// the zoo's 7×7 / 6×6 / 1×1) within 2e-6 of the reference.
    func testAdaptivePooling() throws {
        var r = TestRNG(4)
        let cases: [([Int], Size2D)] = [([1, 4, 7, 7], Size2D(7)), ([1, 3, 6, 6], Size2D(6)), ([1, 5, 7, 7], Size2D(1)),
                                        ([2, 3, 13, 11], Size2D(6)), ([1, 2, 5, 9], Size2D(7, 4)), ([1, 2, 3, 3], Size2D(5)),
                                        ([1, 300, 10, 10], Size2D(1)), ([2, 2, 1, 40], Size2D(1, 3))]
        for (shape, size) in cases {
            let x = try r.tensor(shape)
            assertNear(try adaptiveAvgPool2d(x, outputSize: size).scalars,
                       try withReferenceKernels { try adaptiveAvgPool2d(x, outputSize: size) }.scalars,
                       abs: 2e-6, rel: 0, "adaptive \(shape) → \(size)")
        }
    }

    /// LRN over random shapes, window sizes (even and odd, larger than the channels) and
    /// parameters (β = 0.75 through square roots, others through powf): within 1e-5 relative
    /// (float window sums vs the reference's double).
    func testLocalResponseNorm() throws {
        var r = TestRNG(5)
        var cases: [([Int], Int, Float, Float, Float)] = [([1, 96, 11, 13], 5, 1e-4, 0.75, 2), ([1, 16, 40], 5, 1e-2, 0.75, 1)]
        for _ in 0..<25 {
            let rank = r.int(3...4)
            let shape = rank == 3 ? [r.int(1...2), r.int(1...12), r.int(1...40)] : [r.int(1...2), r.int(1...12), r.int(1...7), r.int(1...9)]
            let beta: Float = r.int(0...1) == 0 ? 0.75 : r.float(0.1, 1.5)
            cases.append((shape, r.int(1...7), r.float(1e-4, 0.5), beta, r.float(0.5, 2)))
        }
        for (shape, size, alpha, beta, k) in cases {
            let x = try r.tensor(shape, -3, 3)
            assertNear(try localResponseNorm(x, size: size, alpha: alpha, beta: beta, k: k).scalars,
                       try withReferenceKernels { try localResponseNorm(x, size: size, alpha: alpha, beta: beta, k: k) }.scalars,
                       abs: 1e-6, rel: 1e-5, "lrn \(shape) size \(size) α \(alpha) β \(beta) k \(k)")
        }
    }

    /// Softmax along every axis of random shapes, with large magnitudes (no overflow), −∞
    /// entries (0) and a NaN slice (NaN): within 1e-6 + 1e-5 relative of the reference.
    func testSoftmax() throws {
        var r = TestRNG(6)
        var cases: [[Int]] = [[1, 1000], [3, 17], [2, 33, 5], [1], [40]]
        for _ in 0..<20 { cases.append(r.shape(rank: r.int(1...4), maxDim: 9)) }
        for shape in cases {
            for axis in -shape.count..<shape.count {
                var v = (0..<shape.reduce(1, *)).map { _ in r.float(-30, 30) }
                if v.count > 5 { v[2] = -.infinity; v[v.count - 1] = 80 }
                if v.count > 30 { v[25] = .nan }
                let x = try Tensor(shape: shape, scalars: v)
                assertNear(try softmax(x, axis: axis).scalars, try withReferenceKernels { try softmax(x, axis: axis) }.scalars,
                           abs: 1e-6, rel: 1e-5, "softmax \(shape) axis \(axis)")
            }
        }
    }

    /// The plan's small-convolution paths, with bias, residual and ReLU, batch 1 and 2:
    /// tiny output planes (< 8 positions, the packed GEMV: LeNet's C5, late layers on small
    /// inputs; 1×1 and larger kernels, padding), small direct convolutions (rows of >= 16
    /// outputs, patch · channels <= 1024: LeNet's C1; row counts not a multiple of 4, widths
    /// not a multiple of 16) and small ones by output positions (LeNet's C3; strides 1 and 2,
    /// position counts not a multiple of 4): within 1e-5 of the reference convolution
    /// (+ residual, ReLU).
    func testSmallConvolutionsThroughThePlan() throws {
        var r = TestRNG(7)
        for t in 0..<36 {
            let direct = t >= 20
            let n = r.int(1...2), c = direct ? r.int(1...3) : r.int(1...20), o = direct ? r.int(1...20) : r.int(1...19)
            let k = direct ? r.int(1...4) : r.int(1...5), pad = direct ? 0 : r.int(0...1)
            let h = direct ? k + r.int(0...9) : max(1, k - 2 * pad) + r.int(0...1)
            let w = direct ? k + 15 + r.int(0...20) : max(1, k - 2 * pad) + r.int(0...2)
            let x = try r.tensor([n, c, h, w]), weight = try r.tensor([o, c, k, k])
            let bias = t % 3 == 0 ? nil : try r.tensor([o])
            let options = Conv2DOptions(padding: Padding2D(pad))
            let want = try withReferenceKernels { try conv2d(x, weight: weight, bias: bias, options: options) }
            let g = try Conv2DGeometry(input: x, weight: weight, bias: bias, options: options)
            XCTAssertEqual(Optimized.smallConvApplies(g), direct, "\(x.shape) × \(weight.shape)")
            let residual = try r.tensor(want.shape)
            let relu = t % 2 == 0
            let packed = try weight.withUnsafePointer { try PackedConvWeights(g, weight: $0) }
            let conv = InferencePlan.Conv(packed: .im2col(packed), bias: bias)
            // The small kernels run on the GEMM's packed layout (gemmMR-row panels): none
            // falls back to the GEMM where it applies.
            let kernel = conv.kernel(g)
            if direct {
                XCTAssertTrue(kernel == .small, "\(x.shape) × \(weight.shape): \(kernel)")
            } else if g.outPlane < InferencePlan.Conv.gemvMaxColumns {
                XCTAssertTrue(kernel == .gemv, "\(x.shape) × \(weight.shape): \(kernel)")
            }
            var out = try Tensor(zeros: want.shape)
            let scratch = try ScratchBuffer(count: max(1, try conv.scratchCount(g)))
            try x.withUnsafePointer { xp in
                try residual.withUnsafePointer { rp in
                    try out.withUnsafeMutableBufferPointer { yp in
                        try conv.execute(g, input: xp, residual: rp, relu: relu, output: yp.baseAddress!,
                                         scratch: UnsafeMutableBufferPointer(start: scratch.pointer, count: scratch.count))
                    }
                }
            }
            let expected = zip(want.scalars, residual.scalars).map { relu ? max($0 + $1, 0) : $0 + $1 }
            assertNear(out.scalars, expected, abs: 1e-5, rel: 1e-5, "conv \(x.shape) × \(weight.shape) pad \(pad) plane \(g.outPlane)")
        }
        for t in 0..<16 {
            let n = r.int(1...2), c = r.int(1...8), o = r.int(1...20), k = r.int(1...5), s = r.int(1...2)
            let x = try r.tensor([n, c, k + 2 + r.int(0...8), k + 2 + r.int(0...10)]), weight = try r.tensor([o, c, k, k])
            let bias = t % 3 == 0 ? nil : try r.tensor([o])
            let options = Conv2DOptions(stride: Size2D(s))
            let g = try Conv2DGeometry(input: x, weight: weight, bias: bias, options: options)
            XCTAssertTrue(Optimized.smallConvByPositionsApplies(g))
            let want = try withReferenceKernels { try conv2d(x, weight: weight, bias: bias, options: options) }
            let residual = try r.tensor(want.shape)
            let relu = t % 2 == 0
            let packed = try weight.withUnsafePointer { try PackedConvWeights(g, weight: $0) }
            var out = try Tensor(zeros: want.shape)
            try x.withUnsafePointer { xp in
                try residual.withUnsafePointer { rp in
                    try out.withUnsafeMutableBufferPointer { yp in
                        withOptionalPointer(bias) { bp in
                            Optimized.smallConvByPositions(g, input: xp, packed: packed.groups[0].pointer, bias: bp,
                                                           residual: rp, relu: relu, output: yp.baseAddress!)
                        }
                    }
                }
            }
            let expected = zip(want.scalars, residual.scalars).map { relu ? max($0 + $1, 0) : $0 + $1 }
            assertNear(out.scalars, expected, abs: 1e-5, rel: 1e-5, "by positions \(x.shape) × \(weight.shape) stride \(s)")
        }
    }
}
