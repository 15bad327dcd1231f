#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// Retrieval: the nearest stored vectors (image features, see Model.embed) to a query, by
// cosine similarity or Euclidean distance. A flat (exact, brute-force) index: every query is
// compared with every stored vector. Queries go in chunks (up to 256) against blocks of the
// database: per block one matrix product, rows × queries, through Optimized.gemm (the GEMM the
// convolutions use; chunks of fewer than 24 queries use SIMD dot products instead, which a GEMM
// would pad to its register tile), then a per-query top-k selection with a bounded heap. Memory
// stays bounded however large the database is. A query's scores may differ in the last bits
// with the number of queries searched together (dot products vs GEMM); never with the thread
// count.

/// How a ``RetrievalIndex`` compares vectors.
public enum RetrievalMetric: Int32, Sendable, CaseIterable {
    /// Cosine similarity. Vectors (stored and queries) are scaled to unit length first; a
    /// zero vector stays zero and so has similarity 0 with everything. Scores are the dot
    /// products of the unit vectors, in [-1, 1]; higher is nearer.
    case cosine = 0
    /// Squared Euclidean distance ‖q − x‖², computed as ‖q‖² − 2 q·x + ‖x‖² and clamped at
    /// 0 (rounding can make it slightly negative). Scores are these squared distances;
    /// lower is nearer.
    case l2 = 1

    /// "cosine" or "l2" (the names the file format and Python use).
    public var name: String { self == .cosine ? "cosine" : "l2" }

    /// The metric called `name` ("cosine" or "l2"), or nil.
    public init?(name: String) {
        switch name {
        case "cosine": self = .cosine
        case "l2": self = .l2
        default: return nil
        }
    }
}

/// The result of ``RetrievalIndex/search(_:k:)``: `queries × k` ids and scores, row-major,
/// each row best first.
public struct RetrievalResult: Sendable {
    /// Rows (queries).
    public var queries: Int
    /// Columns (k as asked).
    public var k: Int
    /// The neighbours' ids; -1 past the index's count.
    public var ids: [Int64]
    /// Their scores (cosine similarity or squared L2 distance); NaN past the index's count.
    public var scores: [Float]
}

/// A flat index of `dimension`-long float vectors, searched exactly by cosine similarity or
/// squared Euclidean distance.
///
/// - **Ids.** Each vector has an int64 id: the caller's (``add(_:count:ids:)`` with ids, each
///   >= 0, uniqueness not checked) or else its running number: how many vectors (with ids or
///   not) were added before it since the index was made or reset (0, 1, 2, ...; removals do
///   not reuse numbers).
/// - **Order.** Results are best first (highest cosine similarity, lowest distance); equal
///   scores come in the order the vectors were added (lower position first), so results are
///   deterministic and do not depend on the thread count. (A query's scores may differ in
///   the last bits with the number of queries searched together: fewer than 24 go through
///   dot products, more through the GEMM.)
/// - **Fewer than k.** When the index holds fewer than k vectors, each result row is filled
///   from the left and the rest is id -1 with score NaN (rows always have k entries).
/// - **Values.** Vectors and queries must be finite with a squared norm below
///   `Float.greatestFiniteMagnitude / 4` (so no distance overflows); anything else (NaN,
///   infinity) is refused with `.invalidArgument` naming the row.
/// - **Threads.** Any number of searches (and saves, count and dimension reads) may run at
///   once; ``add(_:count:ids:)``, ``remove(ids:)`` and ``reset()`` need the index alone.
/// - **File.** ``save(to:)`` writes a safetensors file (layout in its doc comment).
public final class RetrievalIndex: @unchecked Sendable {
    /// The length of every vector.
    public let dimension: Int
    /// How vectors are compared.
    public let metric: RetrievalMetric
    /// Stored vectors, row-major `count × dimension` (unit length for cosine).
    private var vectors = GrowableBuffer()
    /// Squared norms of the stored vectors (L2).
    private var norms = GrowableBuffer()
    /// Ids, two floats' room per int64.
    private var idStore = GrowableBuffer()
    /// The number of stored vectors.
    public private(set) var count = 0
    /// The id the next vector added without ids gets.
    public private(set) var nextId: Int64 = 0

    /// The file's `format` metadata value.
    public static let formatName = "swiftcnn-retrieval-index"
    /// The file format version this library writes and reads.
    public static let formatVersion = 1

    /// An empty index. Errors: `.invalidArgument` when `dimension` < 1.
    public init(dimension: Int, metric: RetrievalMetric) throws {
        guard dimension >= 1 else {
            throw SwiftCNNError.invalidArgument("retrieval index: dimension must be at least 1; got \(dimension)")
        }
        _ = try Checked.mul(dimension, 4, "vector size in bytes")
        self.dimension = dimension
        self.metric = metric
    }

    /// The id of entry `position` (0 ..< count, in the order added); -1 out of range.
    public func id(at position: Int) -> Int64 {
        guard position >= 0, position < count, let p = idStore.pointer else { return -1 }
        return UnsafeRawPointer(p).load(fromByteOffset: position * 8, as: Int64.self)
    }

    /// The storage: vectors, norms, ids (valid once something was added).
    private func pointers() throws -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutableRawPointer) {
        guard let v = vectors.pointer, let n = norms.pointer, let i = idStore.pointer else {
            throw SwiftCNNError(.internal, "retrieval index: no storage")
        }
        return (v, n, UnsafeMutableRawPointer(i))
    }

    /// Every id, in the order added.
    public var ids: [Int64] { (0..<count).map { id(at: $0) } }

    /// The stored vector at `position` (unit length for cosine).
    public func vector(at position: Int) -> [Float] {
        guard let p = vectors.pointer, position >= 0, position < count else { return [] }
        return Array(UnsafeBufferPointer(start: p + position * dimension, count: dimension))
    }

    // MARK: Adding and removing

    /// Adds `n` vectors read row-major from `data` (`n × dimension` floats), with the ids in
    /// `ids` (`n` values, each >= 0) or, when nil, the running numbers. Nothing is added when
    /// any row is refused. Errors: `.invalidArgument` (n < 0, a non-finite value or too large a
    /// norm — the message names the row —, a negative id, a size overflow), `.outOfMemory`.
    public func add(_ data: UnsafePointer<Float>?, count n: Int, ids: UnsafePointer<Int64>?) throws {
        try add(data, count: n, ids: ids, asStored: false)
    }

    /// ``add(_:count:ids:)``; `asStored`: the rows are copied as they are (a loaded file's
    /// cosine vectors are unit length already and must not be rounded again).
    func add(_ data: UnsafePointer<Float>?, count n: Int, ids: UnsafePointer<Int64>?, asStored: Bool) throws {
        guard n >= 0 else { throw SwiftCNNError.invalidArgument("retrieval index: count must be >= 0; got \(n)") }
        if n == 0 { return }
        guard let data else { throw SwiftCNNError.invalidArgument("retrieval index: data is NULL") }
        let d = dimension
        let total = try Checked.add(count, n, "index count")
        let floats = try Checked.mul(total, d, "index size")
        _ = try Checked.mul(floats, 4, "index size in bytes")
        var rowNorms = [Float](repeating: 0, count: 0)
        rowNorms.reserveCapacity(n)
        for i in 0..<n {
            rowNorms.append(try Self.checkedSquaredNorm(data + i * d, d, what: "vector \(i)"))
        }
        if let ids {
            for i in 0..<n where ids[i] < 0 {
                throw SwiftCNNError.invalidArgument("retrieval index: ids[\(i)] is \(ids[i]); ids must be >= 0 (-1 marks a missing result)")
            }
        }
        let (after, overflow) = nextId.addingReportingOverflow(Int64(n))
        if overflow { throw SwiftCNNError.invalidArgument("retrieval index: the running id overflows") }
        try vectors.reserve(floats)
        try norms.reserve(total)
        try idStore.reserve(try Checked.mul(total, 2, "id storage"))
        let (vp, np, ip) = try pointers()
        let dst = vp + count * d
        for i in 0..<n {
            let src = data + i * d, row = dst + i * d
            if metric == .cosine && !asStored {
                Self.unit(src, into: row, d, squaredNorm: rowNorms[i])
                np[count + i] = rowNorms[i] > 0 ? 1 : 0
            } else {
                row.update(from: src, count: d)
                np[count + i] = metric == .cosine ? (rowNorms[i] > 0 ? 1 : 0) : rowNorms[i]
            }
            let id = ids?[i] ?? (nextId + Int64(i))
            ip.storeBytes(of: id, toByteOffset: (count + i) * 8, as: Int64.self)
        }
        count = total
        nextId = after
    }

    /// ``add(_:count:ids:)`` of a `[n, dimension]` tensor (or any tensor whose elements are
    /// n whole rows). Errors as there, plus `.shapeMismatch` when the elements are not whole
    /// rows or `ids` has not one id per row.
    public func add(_ vectors: Tensor, ids: [Int64]? = nil) throws {
        let n = try rows(of: vectors, "vectors")
        if let ids, ids.count != n {
            throw SwiftCNNError.shapeMismatch("retrieval index: \(n) vectors but \(ids.count) ids")
        }
        try vectors.withUnsafePointer { p in
            if let ids {
                try ids.withUnsafeBufferPointer { try add(p, count: n, ids: $0.baseAddress) }
            } else {
                try add(p, count: n, ids: nil)
            }
        }
    }

    /// Removes every entry whose id is in `ids`; returns how many were removed. The others
    /// keep their order.
    @discardableResult
    public func remove(ids: Set<Int64>) -> Int {
        guard !ids.isEmpty, let storage = try? pointers() else { return 0 }
        let (v, np, ip) = storage
        var kept = 0
        let d = dimension
        for i in 0..<count where !ids.contains(id(at: i)) {
            if kept != i {
                (v + kept * d).update(from: v + i * d, count: d)
                np[kept] = np[i]
                ip.storeBytes(of: id(at: i), toByteOffset: kept * 8, as: Int64.self)
            }
            kept += 1
        }
        let removed = count - kept
        count = kept
        return removed
    }

    /// Empties the index (dimension and metric stay; ids start again from 0).
    public func reset() {
        count = 0
        nextId = 0
    }

    // MARK: Searching

    /// Rows of at most this many queries are searched together.
    static let queryChunk = 256
    /// A block of the score matrix (database rows × queries) holds about this many floats (4 MiB).
    static let blockFloats = 1 << 20
    /// The heaps of one query chunk hold about this many entries.
    static let heapEntries = 1 << 22
    /// Chunks of fewer queries use dot products instead of the GEMM (measured: with fewer, the
    /// GEMM pads the queries to its 32-column register tile and the dot products win).
    static let gemmMinQueries = 24

    /// The `k` nearest stored vectors to each of `nq` queries (read row-major from `queries`,
    /// `nq × dimension`), written best first to `outIds` and `outScores` (`nq × k` each).
    /// Errors: `.invalidArgument` (nq < 0, k < 1, a NULL pointer, a non-finite query or too large
    /// a norm, a size overflow), `.outOfMemory`; the outputs are then unspecified.
    public func search(_ queries: UnsafePointer<Float>?, count nq: Int, k: Int,
                       ids outIds: UnsafeMutablePointer<Int64>?, scores outScores: UnsafeMutablePointer<Float>?) throws {
        try search(queries, count: nq, k: k, ids: outIds, scores: outScores,
                   queryChunk: Self.queryChunk, blockFloats: Self.blockFloats)
    }

    /// ``search(_:count:k:ids:scores:)`` with other block sizes (the tests use small ones, so
    /// that several query chunks and database blocks meet).
    func search(_ queries: UnsafePointer<Float>?, count nq: Int, k: Int,
                ids outIds: UnsafeMutablePointer<Int64>?, scores outScores: UnsafeMutablePointer<Float>?,
                queryChunk: Int, blockFloats: Int) throws {
        guard nq >= 0 else { throw SwiftCNNError.invalidArgument("retrieval search: query count must be >= 0; got \(nq)") }
        guard k >= 1 else { throw SwiftCNNError.invalidArgument("retrieval search: k must be at least 1; got \(k)") }
        // The caller's buffers must be expressible in bytes.
        _ = try Checked.mul(try Checked.mul(nq, k, "result size"), 8, "result size in bytes")
        _ = try Checked.mul(try Checked.mul(nq, dimension, "query size"), 4, "query size in bytes")
        if nq == 0 { return }
        guard let queries else { throw SwiftCNNError.invalidArgument("retrieval search: queries is NULL") }
        guard let outIds, let outScores else { throw SwiftCNNError.invalidArgument("retrieval search: ids or scores is NULL") }
        let d = dimension
        var qNorms = [Float](repeating: 0, count: nq)
        for q in 0..<nq { qNorms[q] = try Self.checkedSquaredNorm(queries + q * d, d, what: "query \(q)") }
        let kk = min(k, count)
        // Rows past the index's count (or all, when it is empty).
        for q in 0..<nq {
            for j in kk..<k { outIds[q * k + j] = -1; outScores[q * k + j] = .nan }
        }
        if kk == 0 { return }

        let qb = max(1, min(queryChunk, nq, Self.heapEntries / kk))
        let nb = max(1, min(count, blockFloats / qb))
        let qs = try ScratchBuffer(count: try Checked.mul(qb, d, "query block"))          // [qb, d]
        let qt = try ScratchBuffer(count: try Checked.mul(d, qb, "query block"))          // [d, qb]
        let block = try ScratchBuffer(count: try Checked.mul(nb, qb, "score block"))      // [nb, qb]
        let heapKeys = try ScratchBuffer(count: try Checked.mul(qb, kk, "heap size"))
        let heapPos = try ScratchBuffer(count: try Checked.mul(qb, 2 * kk, "heap size"))
        let positions = UnsafeMutableRawPointer(heapPos.pointer).bindMemory(to: Int.self, capacity: qb * kk)
        let heapCount = UnsafeMutablePointer<Int>.allocate(capacity: qb)
        defer { heapCount.deallocate() }
        let queryNorms = UnsafeMutablePointer<Float>.allocate(capacity: nq)
        defer { queryNorms.deallocate() }
        for q in 0..<nq { queryNorms[q] = qNorms[q] }
        let (base, xNorms, _) = try pointers()
        let cosine = metric == .cosine
        let threads = max(1, Threading.numThreads)
        let scores = block.pointer, keys = heapKeys.pointer
        let qp = UnsafePointer(qs.pointer)

        var q0 = 0
        while q0 < nq {
            let m = min(qb, nq - q0)
            // This chunk's queries, row-major [m, d] and transposed [d, m] (ldb = qb), unit
            // length for cosine.
            for j in 0..<m {
                let src = queries + (q0 + j) * d, dst = qs.pointer + j * d
                if cosine {
                    Self.unit(src, into: dst, d, squaredNorm: qNorms[q0 + j])
                } else {
                    dst.update(from: src, count: d)
                }
                for p in 0..<d { qt.pointer[p * qb + j] = dst[p] }
                heapCount[j] = 0
            }
            var b0 = 0
            while b0 < count {
                let rows = min(nb, count - b0)
                let x = base + b0 * d
                // scores[i, j] = x_(b0+i) · q_j
                if m < Self.gemmMinQueries {
                    // A few queries: one SIMD dot product per (row, query), the rows spread over
                    // the threads (a GEMM would pad the queries to its register tile).
                    let rowParts = min(threads, max(1, rows / 256))
                    Threading.parallelFor(rowParts) { part in
                        let i0 = part * rows / rowParts, i1 = (part + 1) * rows / rowParts
                        for i in i0..<i1 {
                            let xi = x + i * d, out = scores + i * qb
                            var j = 0
                            while j + 4 <= m {
                                Self.dot4(xi, qp + j * d, d, into: out + j)
                                j += 4
                            }
                            while j < m {
                                out[j] = Optimized.dot(xi, qp + j * d, d)
                                j += 1
                            }
                        }
                    }
                } else {
                    Optimized.gemm(m: rows, n: m, k: d, a: x, lda: d, b: qt.pointer, ldb: qb,
                                   c: scores, ldc: qb, accumulate: false)
                }
                // Each query's candidates into its heap; queries spread over the threads.
                let parts = min(threads, m)
                let start = b0
                Threading.parallelFor(parts) { part in
                    let j0 = part * m / parts, j1 = (part + 1) * m / parts
                    for i in 0..<rows {
                        let row = scores + i * qb
                        let pos = start + i
                        for j in j0..<j1 {
                            let s = row[j]
                            let key = cosine ? s : -max(0, (queryNorms[q0 + j] - 2 * s) + xNorms[pos])
                            Self.offer(key, pos, keys: keys + j * kk, positions: positions + j * kk,
                                       count: &heapCount[j], capacity: kk)
                        }
                    }
                }
                b0 += rows
            }
            // Heaps to sorted rows.
            for j in 0..<m {
                let hk = heapKeys.pointer + j * kk, hp = positions + j * kk
                var entries = (0..<heapCount[j]).map { (hk[$0], hp[$0]) }
                entries.sort { Self.better($0.0, $0.1, $1.0, $1.1) }
                let q = q0 + j
                for (r, e) in entries.enumerated() {
                    outIds[q * k + r] = id(at: e.1)
                    outScores[q * k + r] = cosine ? e.0 : -e.0
                }
            }
            q0 += m
        }
    }

    /// ``search(_:count:ids:scores:)`` of the rows of `queries` (whole rows of `dimension`).
    public func search(_ queries: Tensor, k: Int) throws -> RetrievalResult {
        try search(queries, k: k, queryChunk: Self.queryChunk, blockFloats: Self.blockFloats)
    }

    /// ``search(_:k:)`` with other block sizes (tests).
    func search(_ queries: Tensor, k: Int, queryChunk: Int, blockFloats: Int) throws -> RetrievalResult {
        let nq = try rows(of: queries, "queries")
        guard k >= 1 else { throw SwiftCNNError.invalidArgument("retrieval search: k must be at least 1; got \(k)") }
        let total = try Checked.mul(nq, k, "result size")
        var ids = [Int64](repeating: -1, count: total)
        var scores = [Float](repeating: .nan, count: total)
        try queries.withUnsafePointer { p in
            try ids.withUnsafeMutableBufferPointer { i in
                try scores.withUnsafeMutableBufferPointer { s in
                    try search(p, count: nq, k: k, ids: i.baseAddress, scores: s.baseAddress,
                               queryChunk: queryChunk, blockFloats: blockFloats)
                }
            }
        }
        return RetrievalResult(queries: nq, k: k, ids: ids, scores: scores)
    }

    /// The reference search, plain loops: every score with a scalar dot product, a full sort
    /// per query (the same order rule), the first k. The oracle of the tests.
    public func searchReference(_ queries: Tensor, k: Int) throws -> RetrievalResult {
        let nq = try rows(of: queries, "queries")
        guard k >= 1 else { throw SwiftCNNError.invalidArgument("retrieval search: k must be at least 1; got \(k)") }
        let total = try Checked.mul(nq, k, "result size")
        var ids = [Int64](repeating: -1, count: total)
        var scores = [Float](repeating: .nan, count: total)
        let d = dimension
        let q = queries.scalars
        var unitQuery = [Float](repeating: 0, count: d)
        let stored = count == 0 ? nil : try pointers()
        for r in 0..<nq {
            let row = Array(q[(r * d)..<((r + 1) * d)])
            var n2: Double = 0
            for v in row {
                guard v.isFinite else { throw SwiftCNNError.invalidArgument("retrieval index: query \(r) has a non-finite value (\(v))") }
                n2 += Double(v) * Double(v)
            }
            let qn = Float(n2)
            if metric == .cosine {
                for p in 0..<d { unitQuery[p] = qn > 0 ? row[p] * (1 / qn.squareRoot()) : 0 }
            } else {
                unitQuery = row
            }
            var all: [(Float, Int)] = []
            if let stored {
                let (v, np, _) = stored
                for i in 0..<count {
                    var s: Float = 0
                    for p in 0..<d { s += unitQuery[p] * v[i * d + p] }
                    let key = metric == .cosine ? s : -max(0, qn - 2 * s + np[i])
                    all.append((key, i))
                }
            }
            all.sort { Self.better($0.0, $0.1, $1.0, $1.1) }
            for (j, e) in all.prefix(k).enumerated() {
                ids[r * k + j] = id(at: e.1)
                scores[r * k + j] = metric == .cosine ? e.0 : -e.0
            }
        }
        return RetrievalResult(queries: nq, k: k, ids: ids, scores: scores)
    }

    // MARK: Helpers

    /// The number of whole rows in `t`.
    /// A rank-1 tensor of `dimension` values is one row; otherwise the first axis counts rows
    /// and the others (flattened) must hold `dimension` values.
    private func rows(of t: Tensor, _ name: String) throws -> Int {
        let perRow = t.rank == 1 ? t.count : t.shape.dropFirst().reduce(1, *)
        guard perRow == dimension else {
            throw SwiftCNNError.shapeMismatch("retrieval index: \(name) of shape \(Tensor.describe(t.shape)) are not rows of \(dimension) values")
        }
        return t.rank == 1 ? 1 : t.shape[0]
    }

    /// Σ x² of a row, refusing non-finite values and norms that could overflow a distance.
    static func checkedSquaredNorm(_ x: UnsafePointer<Float>, _ d: Int, what: String) throws -> Float {
        var s: Double = 0
        for p in 0..<d {
            let v = x[p]
            guard v.isFinite else {
                throw SwiftCNNError.invalidArgument("retrieval index: \(what) has a non-finite value (\(v)) at \(p)")
            }
            s += Double(v) * Double(v)
        }
        guard s < Double(Float.greatestFiniteMagnitude) / 4 else {
            throw SwiftCNNError.invalidArgument("retrieval index: \(what) is too large (squared norm \(s); the limit is \(Float.greatestFiniteMagnitude / 4))")
        }
        return Float(s)
    }

    /// The dot products of `x` with four consecutive `d`-long rows at `q`, into out[0 ..< 4]:
    /// ``Optimized/dotRows4(_:_:_:)`` (each bitwise ``Optimized/dot(_:_:_:)`` of `x` and that
    /// row, each chunk of `x` loaded once for the four).
    @inline(__always)
    static func dot4(_ x: UnsafePointer<Float>, _ q: UnsafePointer<Float>, _ d: Int, into out: UnsafeMutablePointer<Float>) {
        let r = Optimized.dotRows4(x, q, d)
        out[0] = r[0]
        out[1] = r[1]
        out[2] = r[2]
        out[3] = r[3]
    }

    /// `x` scaled to unit length (zeros for a zero vector).
    @inline(__always)
    static func unit(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, _ d: Int, squaredNorm: Float) {
        if squaredNorm > 0 {
            let scale = 1 / squaredNorm.squareRoot()
            for p in 0..<d { y[p] = x[p] * scale }
        } else {
            y.update(repeating: 0, count: d)
        }
    }

    /// Whether (key a, position i) comes before (key b, position j): higher key, then lower position.
    @inline(__always)
    static func better(_ a: Float, _ i: Int, _ b: Float, _ j: Int) -> Bool {
        a > b || (a == b && i < j)
    }

    /// Offers a candidate to a bounded heap whose root is its worst entry.
    @inline(__always)
    static func offer(_ key: Float, _ pos: Int, keys: UnsafeMutablePointer<Float>, positions: UnsafeMutablePointer<Int>,
                      count: inout Int, capacity: Int) {
        if count < capacity {
            var c = count
            count += 1
            while c > 0 {
                let parent = (c - 1) / 2
                // the parent must be worse than (or as bad as) the child
                if better(keys[parent], positions[parent], key, pos) {
                    keys[c] = keys[parent]; positions[c] = positions[parent]; c = parent
                } else { break }
            }
            keys[c] = key; positions[c] = pos
            return
        }
        guard better(key, pos, keys[0], positions[0]) else { return }
        var c = 0
        while true {
            let l = 2 * c + 1
            if l >= count { break }
            var w = l
            let r = l + 1
            if r < count && better(keys[l], positions[l], keys[r], positions[r]) { w = r }
            if better(key, pos, keys[w], positions[w]) {
                keys[c] = keys[w]; positions[c] = positions[w]; c = w
            } else { break }
        }
        keys[c] = key; positions[c] = pos
    }
}

/// A float buffer that grows (allocated through ``Memory``, so running out of memory is an
/// error, not a trap).
struct GrowableBuffer {
    private(set) var storage: ScratchBuffer? = nil

    var pointer: UnsafeMutablePointer<Float>? { storage?.pointer }
    var capacity: Int { storage?.count ?? 0 }

    /// Makes room for `n` floats, keeping the contents.
    mutating func reserve(_ n: Int) throws {
        guard n > capacity else { return }
        let doubled = capacity > Int.max / 4 ? n : max(n, capacity * 2, 64)
        let fresh: ScratchBuffer
        if let big = try? ScratchBuffer(count: doubled) { fresh = big } else { fresh = try ScratchBuffer(count: n) }
        if let old = storage { fresh.pointer.update(from: old.pointer, count: old.count) }
        storage = fresh
    }
}

// MARK: - The index file

extension RetrievalIndex {
    /// Writes the index to `path` as a safetensors file (readable by any safetensors library):
    ///
    ///     __metadata__  "format": "swiftcnn-retrieval-index", "version": "1",
    ///                   "metric": "cosine" | "l2", "dimension": "<D>", "next_id": "<int>"
    ///     "vectors"     F32 [count, D]  the stored vectors, row-major, in the order added
    ///                                   (for cosine: already scaled to unit length)
    ///     "ids"         I64 [count]     their ids
    ///
    /// An empty index has shapes [0, D] and [0]. A reader refuses another format, a
    /// version other than 1 (naming it), an unknown metric, shapes that disagree with the
    /// metadata, non-finite vectors and negative ids.
    ///
    /// The write is atomic (see ``FileIO``: readers see the old file or the complete new one).
    /// Errors: `.io` naming the path, `.invalidArgument` for a size overflow.
    public func save(to path: FilePath) throws {
        let n = count, d = dimension
        let vectorBytes = try Checked.mul(try Checked.mul(n, d, "index size"), 4, "index size in bytes")
        let idBytes = try Checked.mul(n, 8, "id bytes")
        let metadata: [(String, JSONValue)] = [
            ("dimension", .string(String(d))),
            ("format", .string(Self.formatName)),
            ("metric", .string(metric.name)),
            ("next_id", .string(String(nextId))),
            ("version", .string(String(Self.formatVersion))),
        ]
        let header = JSONValue.object([
            ("__metadata__", .object(metadata)),
            ("vectors", .object([("dtype", .string("F32")), ("shape", .array([.integer(Int64(n)), .integer(Int64(d))])),
                                 ("data_offsets", .array([.integer(0), .integer(Int64(vectorBytes))]))])),
            ("ids", .object([("dtype", .string("I64")), ("shape", .array([.integer(Int64(n))])),
                             ("data_offsets", .array([.integer(Int64(vectorBytes)), .integer(Int64(try Checked.add(vectorBytes, idBytes)))]))])),
        ])
        var headerBytes = Array(try header.serialized().utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(UInt8(ascii: " ")) }
        var prefix: [UInt8] = []
        SafeTensorsFile.appendLengthAndHeader(headerBytes, to: &prefix)
        let storage = n == 0 ? nil : try pointers()
        try FileIO.writeAtomically(to: path, what: "retrieval index") { put in
            try prefix.withUnsafeBytes { try put($0.baseAddress, $0.count) }
            guard let storage else { return }
            let (v, _, ip) = storage
            #if _endian(little)
            try put(UnsafeRawPointer(v), vectorBytes)
            try put(UnsafeRawPointer(ip), idBytes)
            #else
            for i in 0..<(n * d) { try withUnsafeBytes(of: v[i].bitPattern.littleEndian) { try put($0.baseAddress, 4) } }
            for i in 0..<n { try withUnsafeBytes(of: id(at: i).littleEndian) { try put($0.baseAddress, 8) } }
            #endif
        }
    }

    /// ``save(to:)`` to the path whose bytes are `path`'s UTF-8.
    public func save(to path: String) throws { try save(to: FilePath(path)) }

    /// Reads an index written by ``save(to:)``. Errors: `.io` (missing or unreadable file),
    /// `.format` (not an index file, a malformed safetensors file, shapes or values that
    /// disagree with the format), `.unsupported` (another version), `.outOfMemory`.
    public static func load(from path: FilePath) throws -> RetrievalIndex {
        let (fd, size) = try FileIO.openForReading(path, what: "retrieval index")
        defer { _ = close(fd) }
        guard size <= Memory.physicalBytes else {
            throw SwiftCNNError.outOfMemory("retrieval index: '\(path)' (\(size) bytes) is larger than this machine's memory")
        }
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: 64)
        defer { bytes.deallocate() }
        guard let start = bytes.baseAddress else { throw SwiftCNNError.outOfMemory("retrieval index: no memory for '\(path)'") }
        var done = 0
        while done < size {
            let r = pread(fd, start + done, size - done, off_t(done))
            if r < 0 && errno == EINTR { continue }
            guard r > 0 else { throw FileIO.ioError("retrieval index", "cannot read", path) }
            done += r
        }
        let all = UnsafeRawBufferPointer(rebasing: bytes[0..<size])
        var length: UInt64 = 0
        if size >= 8 { for i in 0..<8 { length |= UInt64(all[i]) << (8 * UInt64(i)) } }
        let h = try SafeTensorsFile.checkHeaderLength(length, totalSize: size, what: "retrieval index '\(path)'")
        let data = UnsafeRawBufferPointer(rebasing: all[(8 + h)...])
        let (entries, meta) = try SafeTensorsFile.parseHeader(UnsafeRawBufferPointer(rebasing: all[8..<(8 + h)]), dataSize: data.count)
        func bad(_ why: String) -> SwiftCNNError { .format("retrieval index '\(path)': \(why)") }
        guard meta["format"] == formatName else {
            throw bad("not a retrieval index (metadata \"format\" is \(meta["format"].map { "\"\($0)\"" } ?? "missing"), expected \"\(formatName)\")")
        }
        guard meta["version"] == String(formatVersion) else {
            throw SwiftCNNError.unsupported("retrieval index '\(path)': version \(meta["version"] ?? "missing") is not supported (this library reads version \(formatVersion))")
        }
        guard let metric = meta["metric"].flatMap(RetrievalMetric.init(name:)) else {
            throw bad("unknown metric \(meta["metric"] ?? "missing") (expected \"cosine\" or \"l2\")")
        }
        guard let d = meta["dimension"].flatMap({ Int($0) }), d >= 1 else { throw bad("bad dimension \(meta["dimension"] ?? "missing")") }
        guard let nextId = meta["next_id"].flatMap({ Int64($0) }), nextId >= 0 else { throw bad("bad next_id \(meta["next_id"] ?? "missing")") }
        guard entries.count == 2, let ve = entries.first(where: { $0.name == "vectors" }), let ie = entries.first(where: { $0.name == "ids" }) else {
            throw bad("expected exactly the tensors \"vectors\" and \"ids\"")
        }
        guard ve.dtype == .f32, ve.shape.count == 2, ve.shape[1] == d else {
            throw bad("\"vectors\" must be F32 [count, \(d)]; got \(ve.dtype.rawValue) \(ve.shape)")
        }
        let n = ve.shape[0]
        guard ie.dtype == .i64, ie.shape == [n] else { throw bad("\"ids\" must be I64 [\(n)]; got \(ie.dtype.rawValue) \(ie.shape)") }
        let index = try RetrievalIndex(dimension: d, metric: metric)
        if n > 0 {
            let floats = try Checked.mul(n, d, "index size")
            let v = try ScratchBuffer(count: floats)
            let ids = UnsafeMutablePointer<Int64>.allocate(capacity: n)
            defer { ids.deallocate() }
            for i in 0..<floats {
                v.pointer[i] = Float(bitPattern: UInt32(littleEndian: data.loadUnaligned(fromByteOffset: ve.begin + 4 * i, as: UInt32.self)))
            }
            for i in 0..<n {
                ids[i] = Int64(littleEndian: data.loadUnaligned(fromByteOffset: ie.begin + 8 * i, as: Int64.self))
            }
            do {
                try index.add(v.pointer, count: n, ids: ids, asStored: true)
            } catch let e as SwiftCNNError {
                throw bad(e.message)
            }
        }
        index.nextId = nextId
        return index
    }

    /// ``load(from:)`` of the path whose bytes are `path`'s UTF-8.
    public static func load(from path: String) throws -> RetrievalIndex { try load(from: FilePath(path)) }
}
