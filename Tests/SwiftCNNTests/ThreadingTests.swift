import XCTest
import Synchronization
@testable import SwiftCNN

/// The thread pool, thread-count independence of the optimized kernels (bitwise), and the
/// GEMM's fused output pass against a naive loop.
final class ThreadingTests: XCTestCase {
    /// Runs `body` with `n` threads, restoring the previous count.
    func withThreads<R>(_ n: Int, _ body: () throws -> R) rethrows -> R {
        let old = Threading.numThreads
        Threading.numThreads = n
        defer { Threading.numThreads = old }
        return try body()
    }

    func testParallelForRunsEveryItemOnce() {
        for threads in [1, 2, 3] {
            withThreads(threads) {
                XCTAssertEqual(Threading.numThreads, threads)
                for count in [0, 1, 2, 7, 100] {
                    var hits = [Int](repeating: 0, count: count)
                    hits.withUnsafeMutableBufferPointer { h in
                        let p = h.baseAddress
                        Threading.parallelFor(count) { i in p?[i] += 1 }
                    }
                    XCTAssertEqual(hits, [Int](repeating: 1, count: count), "threads \(threads) count \(count)")
                }
                // A nested call runs serially inside an item and still covers everything.
                var grid = [Int](repeating: 0, count: 4 * 5)
                grid.withUnsafeMutableBufferPointer { g in
                    let p = g.baseAddress
                    Threading.parallelFor(4) { i in Threading.parallelFor(5) { j in p?[i * 5 + j] += i * 5 + j } }
                }
                XCTAssertEqual(grid, Array(0..<20))
            }
        }
    }

    /// The late-worker policy on made-up clocks: nothing is judged before a window of calls;
    /// a window that waited a third of its time or less stays parallel (a host's burst
    /// costing a fifth of every window never goes solo); one that waited more starts a 20 ms
    /// solo stretch, which ends on time; each further stretch within a second of the last
    /// doubles up to the cap; after a quiet second the next stretch is the shortest again.
    func testLateWorkerPolicy() {
        typealias P = LateWorkerPolicy
        let ms = 1_000_000, w = P.windowNanoseconds
        var p = P()
        XCTAssertFalse(p.runsSolo(at: 0))
        // A long wait, but not a window yet.
        p.record(own: w / 100, waited: 30 * w / 100, at: 1 * ms)
        XCTAssertEqual(p.stretches, 0)
        XCTAssertEqual(p.windowWaited, 30 * w / 100)
        // The window fills: 30 of 113 hundredths waited, a third or less: on time, and a new window.
        p.record(own: 82 * w / 100, waited: 0, at: 2 * ms)
        XCTAssertEqual(p.stretches, 0)
        XCTAssertEqual(p.windowOwn + p.windowWaited, 0, "a full window starts a new one")
        XCTAssertFalse(p.runsSolo(at: 3 * ms))

        // A host's burst costing a fifth of every window: never solo.
        var now = 10 * ms
        for _ in 0..<100 {
            for _ in 0..<8 { p.record(own: w / 10, waited: 0, at: now); now += w / 10 }
            p.record(own: 0, waited: w / 5, at: now); now += w / 5
        }
        XCTAssertEqual(p.stretches, 0)
        XCTAssertFalse(p.runsSolo(at: now))

        // Half of a window waiting (a busy process beside us): solo for 20 ms.
        p.record(own: w / 2, waited: w / 2, at: now)
        XCTAssertEqual(p.stretches, 1)
        XCTAssertEqual(p.soloUntil, now + P.minStretchNanoseconds)
        XCTAssertTrue(p.runsSolo(at: now + 1))
        XCTAssertTrue(p.runsSolo(at: now + P.minStretchNanoseconds - 1))
        XCTAssertFalse(p.runsSolo(at: now + P.minStretchNanoseconds))
        XCTAssertEqual(p.soloUntil, 0)
        now += P.minStretchNanoseconds

        // Late again and again: each stretch twice the last, up to the cap.
        var lengths: [Int] = []
        for _ in 0..<6 {
            p.record(own: 4 * w / 10, waited: 6 * w / 10, at: now)
            lengths.append(p.soloUntil - now)
            now = p.soloUntil
            XCTAssertFalse(p.runsSolo(at: now))
        }
        XCTAssertEqual(lengths, [40, 80, 160, 320, 320, 320].map { $0 * ms })
        // Within a second of the last stretch: the longest again.
        p.record(own: 4 * w / 10, waited: 6 * w / 10, at: now + 999 * ms)
        XCTAssertEqual(p.soloUntil - (now + 999 * ms), 320 * ms)
        now = p.soloUntil
        XCTAssertFalse(p.runsSolo(at: now))
        // After a quiet second, a new episode starts from the shortest stretch.
        now += P.episodeNanoseconds
        p.record(own: 4 * w / 10, waited: 6 * w / 10, at: now)
        XCTAssertEqual(p.soloUntil - now, P.minStretchNanoseconds)
        XCTAssertEqual(p.lastStretchNanoseconds, P.minStretchNanoseconds)
        XCTAssertEqual(p.stretches, 9)
        // Waits of a third of a window, longer than the calls ran: judged before the window is full.
        var e = P()
        e.record(own: w / 10, waited: 33 * w / 100, at: 1 * ms)
        XCTAssertEqual(e.stretches, 0)
        e.record(own: 0, waited: w / 100, at: 2 * ms)
        XCTAssertEqual(e.stretches, 1)
        XCTAssertEqual(e.soloUntil, 2 * ms + P.minStretchNanoseconds)
        // Nonsense times neither trap nor start a stretch on their own.
        var q = P()
        q.record(own: -5, waited: -7, at: 0)
        q.record(own: Int.max, waited: 0, at: 0)
        XCTAssertEqual(q.stretches, 0)
    }

    /// Work stealing over chunk ranges: every chunk runs exactly once, whatever the parts'
    /// speeds; a part that is held up has its unclaimed chunks taken from the back; no
    /// claims (one part) runs the chunks in order.
    func testChunkRangesRunEveryChunkOnce() {
        withThreads(2) {
            for counts in [[0, 0], [1, 0], [0, 3], [5, 5], [4, 1], [16, 3]] {
                let total = counts.reduce(0, +)
                let runs = UnsafeMutablePointer<Int>.allocate(capacity: max(total, 1))
                runs.initialize(repeating: 0, count: max(total, 1))
                defer { runs.deallocate() }
                let offsets = [0, counts[0]]
                ChunkRanges.with(parts: 2, chunks: { counts[$0] }) { ranges in
                    Threading.parallelFor(2) { part in
                        ranges.run(part) { owner, index in
                            if part == 1 && owner == 1 { usleep(2000) }   // a slow part
                            runs[offsets[owner] + index] += 1
                        }
                    }
                }
                XCTAssertEqual(Array(UnsafeBufferPointer(start: runs, count: total)), Array(repeating: 1, count: total), "\(counts)")
            }
            // A part that never starts (its item runs last, on the same thread): the first
            // part takes all of the second's chunks, from the back.
            var order: [[Int]] = []
            ChunkRanges.with(parts: 2, chunks: { [3, 4][$0] }) { ranges in
                for part in 0..<2 { ranges.run(part) { owner, index in order.append([owner, index]) } }
            }
            XCTAssertEqual(order, [[0, 0], [0, 1], [0, 2], [1, 3], [1, 2], [1, 1], [1, 0]])
            var single: [Int] = []
            ChunkRanges.with(parts: 1, chunks: { _ in 4 }) { ranges in ranges.run(0) { _, index in single.append(index) } }
            XCTAssertEqual(single, [0, 1, 2, 3])
        }
    }

    /// The pool with a worker that keeps the caller waiting (an item sleeps 20 ms when a
    /// worker runs it; on the caller it waits, up to 100 ms, for the worker to take the
    /// other item): after two such calls the next one runs every item on the caller, each once.
    func testLateWorkersSendCallsSolo() {
        withThreads(2) {
            ThreadPool.shared.resetLateWorkers()
            defer { ThreadPool.shared.resetLateWorkers() }
            let before = ThreadPool.shared.soloStretches
            let caller = pthread_self()
            // Per item: runs, and runs on a worker (items write their own elements, through
            // pointers: no Swift access to a shared array from two threads).
            let runs = UnsafeMutablePointer<Int>.allocate(capacity: 2)
            let onWorker = UnsafeMutablePointer<Int>.allocate(capacity: 2)
            runs.initialize(repeating: 0, count: 2)
            onWorker.initialize(repeating: 0, count: 2)
            defer { runs.deallocate(); onWorker.deallocate() }
            final class Flag: @unchecked Sendable { let workerStarted = Atomic<Bool>(false) }
            let flag = Flag()
            for _ in 0..<10 {
                flag.workerStarted.store(false, ordering: .relaxed)
                Threading.parallelFor(2) { i in
                    runs[i] += 1
                    if pthread_equal(pthread_self(), caller) == 0 {
                        flag.workerStarted.store(true, ordering: .relaxed)
                        usleep(20_000)
                    } else {
                        let t0 = monotonicNanoseconds()
                        while !flag.workerStarted.load(ordering: .relaxed)
                                && monotonicNanoseconds() - t0 < 100_000_000 { sched_yield() }
                    }
                }
                if ThreadPool.shared.soloStretches > before { break }
            }
            XCTAssertEqual(ThreadPool.shared.soloStretches, before + 1, "no solo stretch after late workers")
            let earlier = [runs[0], runs[1]]
            Threading.parallelFor(2) { i in
                runs[i] += 1
                if pthread_equal(pthread_self(), caller) == 0 { onWorker[i] += 1 }
            }
            XCTAssertEqual([runs[0] - earlier[0], runs[1] - earlier[1]], [1, 1])
            XCTAssertEqual([onWorker[0], onWorker[1]], [0, 0], "an item ran on a worker during a solo stretch")
        }
    }

    func testThreadCountIsClamped() {
        withThreads(1) {
            Threading.numThreads = 0
            XCTAssertEqual(Threading.numThreads, 1)
            Threading.numThreads = 1 << 40
            XCTAssertEqual(Threading.numThreads, Threading.maxThreads)
        }
        XCTAssertGreaterThanOrEqual(Threading.defaultThreadCount, 1)
    }

    func gemmResult(_ m: Int, _ n: Int, _ k: Int, _ a: [Float], _ b: [Float], _ c0: [Float], accumulate: Bool,
                    bias: [Float]? = nil, residual: [Float]? = nil, relu: Bool = false) -> [Float] {
        var c = c0
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    (bias ?? [0]).withUnsafeBufferPointer { biasp in
                        (residual ?? [0]).withUnsafeBufferPointer { rp in
                            var ep = GEMMEpilogue()
                            ep.bias = bias == nil ? nil : biasp.baseAddress
                            ep.residual = residual == nil ? nil : rp.baseAddress
                            ep.ldr = n
                            ep.relu = relu
                            Optimized.gemm(m: m, n: n, k: k, a: ap.baseAddress!, lda: k, b: bp.baseAddress!, ldb: n,
                                           c: cp.baseAddress!, ldc: n, accumulate: accumulate, epilogue: ep)
                        }
                    }
                }
            }
        }
        return c
    }

    /// 1 vs 2 vs 3 threads: bitwise equal GEMM results, at sizes that split along n, along m,
    /// cross the k block (256) and leave edge tiles in both directions.
    func testGEMMIsBitwiseIdenticalForEveryThreadCount() {
        var r = TestRNG(11)
        // (24, 2100, 300) splits along N in chunks of 16 tiles, (400, 40, 300) along M in
        // chunks of 8 panels, each over two k blocks.
        for (m, n, k) in [(64, 3136 / 4, 144), (200, 49, 600), (9, 1000, 33), (1, 70, 513), (96, 33, 260),
                          (24, 2100, 300), (400, 40, 300)] {
            let a = (0..<m * k).map { _ in r.float() }
            let b = (0..<k * n).map { _ in r.float() }
            let c0 = (0..<m * n).map { _ in r.float() }
            let bias = (0..<m).map { _ in r.float() }
            let res = (0..<m * n).map { _ in r.float() }
            for acc in [false, true] {
                let one = withThreads(1) { gemmResult(m, n, k, a, b, c0, accumulate: acc, bias: bias, residual: res, relu: true) }
                for t in [2, 3] {
                    let many = withThreads(t) { gemmResult(m, n, k, a, b, c0, accumulate: acc, bias: bias, residual: res, relu: true) }
                    XCTAssertEqual(one.map { $0.bitPattern }, many.map { $0.bitPattern }, "m\(m) n\(n) k\(k) threads \(t)")
                }
                // Called from inside a parallel call, the GEMM's parts run one after the other
                // on one thread: the first takes all of the second's chunks, from the back
                // (what a thread does for a preempted one).
                let nested = UnsafeMutablePointer<[Float]>.allocate(capacity: 1)
                nested.initialize(to: [])
                defer { nested.deinitialize(count: 1); nested.deallocate() }
                withThreads(2) {
                    Threading.parallelFor(2) { i in
                        if i == 0 { nested.pointee = gemmResult(m, n, k, a, b, c0, accumulate: acc, bias: bias, residual: res, relu: true) }
                    }
                }
                XCTAssertEqual(one.map { $0.bitPattern }, nested.pointee.map { $0.bitPattern }, "m\(m) n\(n) k\(k) nested")
            }
        }
    }

    /// The fused output pass (bias, residual, ReLU, accumulate) against a double-precision loop,
    /// at edge sizes around the 8×32 tile and the 256-deep k block.
    func testGEMMEpilogueMatchesNaive() {
        var r = TestRNG(5)
        for (m, n, k) in [(1, 1, 1), (8, 32, 4), (7, 31, 3), (9, 33, 257), (17, 65, 20), (64, 49, 300), (3, 100, 1)] {
            let a = (0..<m * k).map { _ in r.float() }
            let b = (0..<k * n).map { _ in r.float() }
            let c0 = (0..<m * n).map { _ in r.float() }
            let bias = (0..<m).map { _ in r.float() }
            let res = (0..<m * n).map { _ in r.float() }
            for (acc, relu) in [(false, false), (true, true), (false, true)] {
                let got = gemmResult(m, n, k, a, b, c0, accumulate: acc, bias: bias, residual: res, relu: relu)
                var negatives = 0
                for i in 0..<m {
                    for j in 0..<n {
                        var s: Double = acc ? Double(c0[i * n + j]) : 0
                        for p in 0..<k {
                            let av = Double(a[i * k + p]), bv = Double(b[p * n + j])
                            s += av * bv
                        }
                        s += Double(bias[i])
                        s += Double(res[i * n + j])
                        if relu && s < 0 { s = 0; negatives += 1 }
                        let tol: Double = 4e-4 * Double(k).squareRoot()
                        XCTAssertEqual(Double(got[i * n + j]), s, accuracy: tol, "m\(m) n\(n) k\(k) (\(i), \(j))")
                    }
                }
                if relu && m * n > 20 { XCTAssertGreaterThan(negatives, 0) }
            }
        }
    }

    /// Convolutions (im2col parallel over channels, GEMM over tiles) give bitwise equal
    /// results with 1 and 2 threads, and stay close to the reference.
    func testConvIsBitwiseIdenticalForOneAndTwoThreads() throws {
        var r = TestRNG(21)
        let cases: [([Int], [Int], Conv2DOptions)] = [
            ([2, 16, 23, 19], [40, 16, 3, 3], .init(padding: 1)),
            ([1, 64, 28, 28], [64, 64, 1, 1], .init()),
            ([1, 8, 30, 30], [12, 4, 5, 5], .init(stride: Size2D(2), padding: 2, groups: 2)),
        ]
        for (xs, ws, o) in cases {
            let x = try r.tensor(xs), w = try r.tensor(ws), b = try r.tensor([ws[0]])
            let one = try withThreads(1) { try conv2d(x, weight: w, bias: b, options: o) }
            let two = try withThreads(2) { try conv2d(x, weight: w, bias: b, options: o) }
            XCTAssertEqual(one.scalars.map { $0.bitPattern }, two.scalars.map { $0.bitPattern }, "\(xs) \(ws)")
            KernelDispatch.forceReference = true
            defer { KernelDispatch.forceReference = false }
            let ref = try conv2d(x, weight: w, bias: b, options: o)
            XCTAssertLessThan(maxDiff(one.scalars, ref.scalars), 1e-4)
        }
    }

    /// The SIMD linear kernel against the reference (double-precision dot products) over
    /// sizes around its 64-float chunks, with and without bias, batch 1–3; and bitwise
    /// equal results with 1 and 2 threads on a size that runs in parallel.
    func testOptimizedLinearMatchesReferenceAndThreads() throws {
        var r = TestRNG(31)
        for (batch, inF, outF) in [(1, 1, 1), (1, 63, 5), (2, 64, 17), (3, 65, 16), (1, 200, 33), (2, 129, 1), (1, 700, 300)] {
            let x = try r.tensor([batch, inF]), w = try r.tensor([outF, inF]), b = try r.tensor([outF])
            for bias in [b, nil] {
                let fast = try linear(x, weight: w, bias: bias)
                let slow = try withReferenceKernels { try linear(x, weight: w, bias: bias) }
                XCTAssertLessThanOrEqual(maxDiff(fast.scalars, slow.scalars), 1e-5 * Float(inF).squareRoot() * 4,
                                         "batch \(batch) in \(inF) out \(outF)")
                let one = try withThreads(1) { try linear(x, weight: w, bias: bias) }
                let two = try withThreads(2) { try linear(x, weight: w, bias: bias) }
                XCTAssertEqual(one.scalars.map { $0.bitPattern }, two.scalars.map { $0.bitPattern })
            }
        }
    }
}
