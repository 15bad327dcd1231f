import XCTest
@testable import SwiftCNN

/// The retrieval index (Tasks/Retrieval.swift): the blocked GEMM search with heap top-k
/// against the plain-loop reference (full sort) over a sweep of sizes, block sizes, k (1, N,
/// more than N) and both metrics; exact ties; refused inputs; save/load; remove and reset.
final class RetrievalTests: XCTestCase {
    /// Optimized and reference agree: the same ids, except that two entries whose scores
    /// are within `tol` may swap; scores within `tol` (they are sums in another order).
    func assertSame(_ a: RetrievalResult, _ b: RetrievalResult, tol: Float, _ context: String,
                    file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.ids.count, b.ids.count, context, file: file, line: line)
        for i in 0..<min(a.ids.count, b.ids.count) {
            if a.ids[i] == -1 || b.ids[i] == -1 {
                XCTAssertEqual(a.ids[i], b.ids[i], "\(context) entry \(i)", file: file, line: line)
                XCTAssertTrue(a.scores[i].isNaN && b.scores[i].isNaN, "\(context) entry \(i): NaN past the count", file: file, line: line)
                continue
            }
            XCTAssertEqual(a.scores[i], b.scores[i], accuracy: tol, "\(context) entry \(i)", file: file, line: line)
            if a.ids[i] != b.ids[i] {
                // a near-tie swap: the other's id must be in the same row with a close score
                let row = i / a.k
                let rowIds = Array(b.ids[(row * a.k)..<((row + 1) * a.k)])
                XCTAssertTrue(rowIds.contains(a.ids[i]), "\(context) entry \(i): id \(a.ids[i]) vs \(b.ids[i])", file: file, line: line)
            }
        }
    }

    func testOptimizedMatchesReferenceSweep() throws {
        var rng = TestRNG(12)
        for metric in RetrievalMetric.allCases {
            for (n, d) in [(1, 1), (1, 7), (5, 3), (40, 16), (133, 33), (300, 70)] {
                let index = try RetrievalIndex(dimension: d, metric: metric)
                try index.add(try rng.tensor([n, d]))
                for nq in [1, 3, 6, 30] {   // 6: four-query dots; 30: the GEMM path (24 or more in a chunk)
                    let q = try rng.tensor([nq, d])
                    for k in [1, 2, n, n + 3] {
                        let ref = try index.searchReference(q, k: k)
                        for (chunk, floats) in [(256, 1 << 20), (4, 8), (1, 1)] {
                            let got = try index.search(q, k: k, queryChunk: chunk, blockFloats: floats)
                            assertSame(got, ref, tol: 1e-4 * Float(d), "\(metric) n \(n) d \(d) nq \(nq) k \(k) chunk \(chunk) block \(floats)")
                        }
                    }
                }
            }
        }
    }

    func testDotPathScoresDoNotDependOnGrouping() throws {
        // Below 24 queries every score is Optimized.dot of the row and the query, whether the
        // query goes alone or in a group of four (dot4): bitwise the same results.
        var rng = TestRNG(21)
        for d in [1, 15, 16, 70, 129] {
            let index = try RetrievalIndex(dimension: d, metric: .l2)
            try index.add(try rng.tensor([50, d]))
            let q = try rng.tensor([7, d])
            let together = try index.search(q, k: 50)
            for r in 0..<7 {
                let one = try index.search(try Tensor(shape: [1, d], scalars: Array(q.scalars[(r * d)..<((r + 1) * d)])), k: 50)
                XCTAssertEqual(one.ids, Array(together.ids[(r * 50)..<((r + 1) * 50)]), "d \(d) query \(r)")
                XCTAssertEqual(one.scores, Array(together.scores[(r * 50)..<((r + 1) * 50)]), "d \(d) query \(r)")
            }
        }
    }

    func testPastTheCountIsMinusOneAndNaN() throws {
        let index = try RetrievalIndex(dimension: 2, metric: .l2)
        try index.add(try Tensor(shape: [2, 2], scalars: [0, 0, 3, 4]), ids: [10, 20])
        let r = try index.search(try Tensor(shape: [1, 2], scalars: [0, 0]), k: 4)
        XCTAssertEqual(r.ids, [10, 20, -1, -1])
        XCTAssertEqual(r.scores[0], 0)
        XCTAssertEqual(r.scores[1], 25)
        XCTAssertTrue(r.scores[2].isNaN && r.scores[3].isNaN)
        let empty = try RetrievalIndex(dimension: 2, metric: .cosine)
        let e = try empty.search(try Tensor(shape: [1, 2], scalars: [1, 0]), k: 2)
        XCTAssertEqual(e.ids, [-1, -1])
    }

    func testTiesComeInInsertionOrder() throws {
        for metric in RetrievalMetric.allCases {
            let index = try RetrievalIndex(dimension: 2, metric: metric)
            // 9 copies of one vector, and one other: equal scores must come by position
            var rows: [Float] = []
            for _ in 0..<9 { rows += [1, 2] }
            rows += [-1, -2]
            try index.add(try Tensor(shape: [10, 2], scalars: rows), ids: (0..<10).map { Int64(100 - $0) })
            for (chunk, floats) in [(256, 1 << 20), (1, 3)] {
                let r = try index.search(try Tensor(shape: [1, 2], scalars: [1, 2]), k: 10, queryChunk: chunk, blockFloats: floats)
                XCTAssertEqual(r.ids, (0..<10).map { Int64(100 - $0) }, "\(metric)")
                XCTAssertEqual(Array(r.ids.prefix(4)), [100, 99, 98, 97])
            }
            // 30 queries at once: the GEMM path, the same order for every row
            let many = try index.search(try Tensor(shape: [30, 2], scalars: Array(repeating: [Float(1), 2], count: 30).flatMap { $0 }), k: 10)
            for row in 0..<30 {
                XCTAssertEqual(Array(many.ids[(row * 10)..<((row + 1) * 10)]), (0..<10).map { Int64(100 - $0) }, "\(metric) row \(row)")
            }
        }
    }

    func testCosineZeroVectorAndScale() throws {
        let index = try RetrievalIndex(dimension: 3, metric: .cosine)
        try index.add(try Tensor(shape: [3, 3], scalars: [0, 0, 0, 10, 0, 0, 0, 0.5, 0]))
        let r = try index.search(try Tensor(shape: [1, 3], scalars: [2, 0, 0]), k: 3)
        XCTAssertEqual(r.ids, [1, 0, 2])              // 1, then the zero vector (0) before (0, .5, 0) (0)
        XCTAssertEqual(r.scores[0], 1, accuracy: 1e-6)
        XCTAssertEqual(r.scores[1], 0)
        XCTAssertEqual(r.scores[2], 0, accuracy: 1e-7)
    }

    func testRefusedInputs() throws {
        let index = try RetrievalIndex(dimension: 2, metric: .l2)
        assertThrows(.invalidArgument, "non-finite", "vector 1") {
            try index.add(try Tensor(shape: [2, 2], scalars: [0, 0, .nan, 1]))
        }
        XCTAssertEqual(index.count, 0, "nothing added when a row is refused")
        assertThrows(.invalidArgument, "too large") { try index.add(try Tensor(shape: [1, 2], scalars: [1e19, 1e19])) }
        assertThrows(.invalidArgument, "ids must be >= 0") { try index.add(try Tensor(shape: [1, 2], scalars: [1, 1]), ids: [-1]) }
        assertThrows(.shapeMismatch, "rows of 2") { try index.add(try Tensor(shape: [1, 3], scalars: [1, 1, 1])) }
        try index.add(try Tensor(shape: [1, 2], scalars: [1, 1]))
        assertThrows(.invalidArgument, "non-finite", "query 0") { try index.search(try Tensor(shape: [1, 2], scalars: [.infinity, 0]), k: 1) }
        assertThrows(.invalidArgument, "k must be") { try index.search(try Tensor(shape: [1, 2], scalars: [0, 0]), k: 0) }
        assertThrows(.invalidArgument, "dimension") { try RetrievalIndex(dimension: 0, metric: .l2) }
    }

    func testRunningIdsRemoveReset() throws {
        let index = try RetrievalIndex(dimension: 1, metric: .l2)
        try index.add(try Tensor(shape: [3, 1], scalars: [0, 1, 2]))
        try index.add(try Tensor(shape: [2, 1], scalars: [3, 4]))
        XCTAssertEqual(index.ids, [0, 1, 2, 3, 4])
        XCTAssertEqual(index.remove(ids: [1, 3, 99]), 2)
        XCTAssertEqual(index.ids, [0, 2, 4])
        try index.add(try Tensor(shape: [1, 1], scalars: [5]))
        XCTAssertEqual(index.ids, [0, 2, 4, 5], "removals do not reuse numbers")
        let r = try index.search(try Tensor(shape: [1, 1], scalars: [3.9]), k: 2)
        XCTAssertEqual(r.ids, [4, 5])
        index.reset()
        XCTAssertEqual(index.count, 0)
        try index.add(try Tensor(shape: [1, 1], scalars: [7]))
        XCTAssertEqual(index.ids, [0])
    }

    func testSaveLoadRoundTrip() throws {
        var rng = TestRNG(5)
        for metric in RetrievalMetric.allCases {
            let index = try RetrievalIndex(dimension: 5, metric: metric)
            try index.add(try rng.tensor([20, 5]), ids: (0..<20).map { Int64($0 * 7 + 1) })
            try index.add(try rng.tensor([3, 5]))
            let path = FileManagerless.temporaryPath("index-\(metric.name)")
            try index.save(to: path)
            let back = try RetrievalIndex.load(from: path)
            XCTAssertEqual(back.metric, metric)
            XCTAssertEqual(back.dimension, 5)
            XCTAssertEqual(back.ids, index.ids)
            XCTAssertEqual(back.nextId, index.nextId)
            for i in 0..<index.count { XCTAssertEqual(back.vector(at: i), index.vector(at: i)) }
            let q = try rng.tensor([4, 5])
            let a = try index.search(q, k: 6), b = try back.search(q, k: 6)
            XCTAssertEqual(a.ids, b.ids)
            XCTAssertEqual(a.scores, b.scores)
            // a plain safetensors weights file is not an index
            try SafeTensorsFile.write([("x", try Tensor(zeros: [2]))], to: FileManagerless.temporaryPath("not-index"))
            assertThrows(.format, "not a retrieval index") { try RetrievalIndex.load(from: FileManagerless.temporaryPath("not-index")) }
        }
        let empty = try RetrievalIndex(dimension: 3, metric: .cosine)
        try empty.save(to: FileManagerless.temporaryPath("empty-index"))
        let back = try RetrievalIndex.load(from: FileManagerless.temporaryPath("empty-index"))
        XCTAssertEqual(back.count, 0)
        XCTAssertEqual(back.dimension, 3)
    }

    func testEmbedDefaultIsTheLastLinearInput() throws {
        let model = try Zoo.create("lenet5", numClasses: 10)
        XCTAssertEqual(try model.defaultEmbeddingLayer(), "classifier.2")
        var rng = TestRNG(3)
        let x = try rng.tensor([5, 1, 32, 32])
        let want = try XCTUnwrap(try model.forward(x, outputs: ["classifier.1"])["classifier.1"])
        // In one batch, the same computation as the forward: the same bits.
        let whole = try model.embed(x, batchSize: 5)
        XCTAssertEqual(whole.shape, [5, 84])
        XCTAssertEqual(whole.scalars, want.scalars)
        // In batches of 2 and 1: a fully connected layer sums in another order from batch 3 on
        // (Optimized.linearTiledDefault), so equal within rounding.
        let e = try model.embed(x, batchSize: 2)
        XCTAssertEqual(e.shape, [5, 84])
        XCTAssertLessThanOrEqual(maxDiff(e.scalars, want.scalars), 1e-5)
        let f = try model.embed(x, node: "features", normalize: true, batchSize: 3)
        XCTAssertEqual(f.shape, [5, 120])
        for i in 0..<5 {
            let row = f.scalars[(i * 120)..<((i + 1) * 120)]
            XCTAssertEqual(row.reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-5)
        }
        assertThrows(.invalidArgument, "no node named") { try model.embed(x, node: "nope") }
    }
}

