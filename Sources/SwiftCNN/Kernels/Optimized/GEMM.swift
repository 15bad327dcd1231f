#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// What the GEMM applies to each output element after the last block of the k dimension,
/// in this order: `+ bias[row]`, `+ residual[row, col]`, then ReLU (`v < 0 ? 0 : v`, NaN
/// kept), then `op` (an activation ``UnaryOp/fusable`` says can be fused: ReLU6/clip,
/// hardswish, hardsigmoid, sigmoid, SiLU, ...). Lets a convolution finish its bias, residual
/// add and activation in the pass that writes its output.
struct GEMMEpilogue {
    /// One value per row of C, or nil.
    var bias: UnsafePointer<Float>? = nil
    /// An `m × n` matrix added to C (row `i` at `residual + i·ldr`), or nil. Must not
    /// overlap C (C holds partial sums between k blocks).
    var residual: UnsafePointer<Float>? = nil
    /// Leading dimension of `residual`.
    var ldr: Int = 0
    /// Whether to clamp negatives to 0 at the end.
    var relu = false
    /// An activation applied last, with the same vector function as the plan's separate
    /// unary step (``Optimized/unaryVector(_:_:)``), so fused and unfused results are bitwise equal.
    var op: UnaryOp? = nil

    /// Nothing to do.
    static var none: GEMMEpilogue { GEMMEpilogue() }
    var isNone: Bool { bias == nil && residual == nil && !relu && op == nil }
}

/// Scratch buffers (packed B panels, the packed A of an unpacked call) kept between GEMM
/// calls, so that steady-state products neither allocate nor fault fresh pages in. Holds at
/// most ``maxBuffers`` buffers and ``maxFloats`` floats; a call takes the smallest that is
/// large enough (or allocates) and gives it back when done. Thread-safe.
final class GEMMScratchCache: @unchecked Sendable {
    static let shared = GEMMScratchCache()
    static let maxBuffers = 6
    static let maxFloats = 1 << 23

    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var buffers: [ScratchBuffer] = []

    private init() {
        lock.initialize(to: pthread_mutex_t())
        pthread_mutex_init(lock, nil)
        buffers.reserveCapacity(Self.maxBuffers + 1)
    }

    /// A buffer of at least `count` floats (contents undefined). Throws `.outOfMemory`.
    func take(_ count: Int) throws -> ScratchBuffer {
        pthread_mutex_lock(lock)
        var best = -1
        for (i, b) in buffers.enumerated() where b.count >= count && (best < 0 || b.count < buffers[best].count) {
            best = i
        }
        let found = best >= 0 ? buffers.remove(at: best) : nil
        pthread_mutex_unlock(lock)
        return try found ?? ScratchBuffer(count: count)
    }

    /// Returns a buffer from ``take(_:)``; the oldest are dropped past the limits.
    func give(_ buffer: ScratchBuffer) {
        if buffer.count > Self.maxFloats { return }
        pthread_mutex_lock(lock)
        buffers.append(buffer)
        var total = buffers.reduce(0) { $0 + $1.count }
        while buffers.count > Self.maxBuffers || total > Self.maxFloats {
            total -= buffers.removeFirst().count
        }
        pthread_mutex_unlock(lock)
    }
}

/// Where a GEMM's right factor B (`k × n`) comes from.
enum GEMMBSource {
    /// A row-major matrix: row `p` at `pointer + p·ldb`.
    case matrix(UnsafePointer<Float>, ldb: Int)
    /// The im2col matrix of one image and group of a convolution, `[Cg·KH·KW, OH·OW]`, whose
    /// input planes start at the pointer: generated tile by tile while packing, never stored
    /// (see ``Optimized/packIm2colTile(_:_:pc:kc:col:cols:into:imageStride:)``). A GEMM with
    /// `n` = B·OH·OW columns reads the im2col matrices of B consecutive images side by side
    /// (`[Cg·KH·KW, B·OH·OW]`), image `b`'s planes at `pointer + b·imageStride`.
    case im2col(Conv2DGeometry, UnsafePointer<Float>, imageStride: Int = 0)
}

/// A matrix A (`m × k`, the left factor, e.g. convolution weights) packed once for repeated
/// products with ``Optimized/gemm(n:packedA:b:ldb:c:ldc:accumulate:)``.
///
/// Layout: for each block of ``Optimized/gemmKC`` columns of A, panels of
/// ``Optimized/gemmMR`` rows, each stored column by column (`MR` contiguous values per
/// column), rows past `m` zero.
public final class PackedGEMMMatrix {
    /// Rows of A.
    public let m: Int
    /// Columns of A (the product's inner dimension).
    public let k: Int
    let buffer: ScratchBuffer

    /// Packs `a` (`m × k`, row `i` at `a + i·lda`, lda >= k; the caller guarantees the
    /// pointer covers that extent). Throws when m or k is negative or when memory cannot be had.
    public init(m: Int, k: Int, a: UnsafePointer<Float>, lda: Int) throws {
        if m < 0 || k < 0 || lda < k {
            throw SwiftCNNError.invalidArgument("gemm: packing needs m >= 0, k >= 0 and lda >= k, got m \(m), k \(k), lda \(lda)")
        }
        self.m = m
        self.k = k
        buffer = try ScratchBuffer(count: try Optimized.packedASize(m: m, k: k))
        Optimized.packA(m: m, k: k, a: a, lda: lda, into: buffer.pointer)
    }

    /// Room for a packed `m × k` matrix that the caller fills itself, element (i, p) at
    /// ``offset(row:column:)``; the padding rows past `m` are zero. For producers that can
    /// write the packed layout directly (the Winograd weight transform) instead of writing
    /// the plain matrix and packing it. Throws when m or k is negative or memory cannot be had.
    init(uninitializedRows m: Int, columns k: Int) throws {
        if m < 0 || k < 0 {
            throw SwiftCNNError.invalidArgument("gemm: packing needs m >= 0 and k >= 0, got m \(m), k \(k)")
        }
        self.m = m
        self.k = k
        buffer = try ScratchBuffer(count: try Optimized.packedASize(m: m, k: k), zeroed: m % Optimized.gemmMR != 0)
    }

    /// Where element (row `i`, column `p`) of A lies in the packed layout (0 <= i < m, 0 <= p < k;
    /// the layout of ``Optimized/packA(m:k:a:lda:into:)``).
    @inline(__always)
    func offset(row i: Int, column p: Int) -> Int {
        let mr = Optimized.gemmMR, kcMax = Optimized.gemmKC
        let pc = p / kcMax * kcMax
        let kc = min(kcMax, k - pc)
        let mp = (m + mr - 1) / mr * mr
        return pc * mp + (i / mr) * mr * kc + (p - pc) * mr + i % mr
    }

    var mutablePointer: UnsafeMutablePointer<Float> { buffer.pointer }

    var pointer: UnsafePointer<Float> { UnsafePointer(buffer.pointer) }
}

extension Optimized {
#if SCNN_AVX2
    /// The micro-kernel's vector: 8 lanes, one ymm register (AVX2 build, `SWIFT_CPU=haswell`).
    typealias GEMMVector = SIMD8<Float>
    /// Rows of C computed together by the micro-kernel: 6 rows × 2 vectors = 12 of the 16
    /// ymm registers as accumulators, 2 for B, 1 for the broadcast A value.
    static let gemmMR = 6
    /// Loop order: each KC×NR B tile (16 KiB) stays in L1 while a group of A panels streams
    /// from L2 (the order with less L2 traffic for a 6×16 kernel).
    static let gemmBTileOuter = true
#else
    /// The micro-kernel's vector: 16 lanes, one zmm register (AVX-512).
    typealias GEMMVector = SIMD16<Float>
    /// Rows of C computed together by the micro-kernel: 12 rows × 2 vectors = 24 of the 32
    /// zmm registers as accumulators, 2 for B (A values are broadcast from memory).
    static let gemmMR = 12
    /// Loop order: each A panel (12 KiB) stays in L1 while a group of B tiles streams from
    /// L2 (a KC×NR B tile is 32 KiB, all of L1; measured faster than the opposite order).
    static let gemmBTileOuter = false
#endif
    /// The micro-kernel this build uses, in words (for benchmarks and logs).
    public static var gemmKernelDescription: String {
#if SCNN_AVX2
        "6x16 rows x columns, SIMD8<Float> (AVX2 build: 12 ymm accumulators)"
#else
        "12x32 rows x columns, SIMD16<Float> (AVX-512: 24 zmm accumulators)"
#endif
    }

    /// Columns of C computed together by the micro-kernel (two ``GEMMVector``s).
    static let gemmNR = 2 * GEMMVector.scalarCount
    /// Depth of one block of the k dimension: a KC×NR panel of B (32 KiB with AVX-512) is
    /// reused from L1 by a run of A panels.
    static let gemmKC = 256
    /// Floats of the B tiles (one KC block) that each A panel runs over before the next
    /// group: 512 KiB, about half of a Zen 4 core's L2.
    static let gemmL2Floats = 1 << 17
    /// Most B tiles per group in the A-panel-outer order: with a short k block, C (written
    /// through L2) rather than B bounds the group.
    static let gemmGroupTiles = 16
    /// A-panels per chunk when the work is split along M: the unit a thread that has run
    /// out takes from a held-up one (along N the unit is a group of ``gemmGroupTiles`` tiles).
    static let gemmStealPanels = 8
    /// Most floats of packed B shared by the threads when the work is split along M (16 MiB);
    /// a larger B is split along N instead.
    static let gemmSharedBFloats = 1 << 22
    /// Below this many multiply-adds (about 20 µs of one core) a GEMM runs on the calling
    /// thread only: waking the pool costs about 10–30 µs.
    static let gemmParallelThreshold = 1 << 20

    /// Floats of a packed A: `m` rounded up to ``gemmMR``, times `k`, plus one vector of
    /// slack read (and unused) by ``narrowKernel(kc:a:b:c:ldc:rows:cols:accumulate:epilogue:)``.
    static func packedASize(m: Int, k: Int) throws -> Int {
        let mp = try Checked.mul((m + gemmMR - 1) / gemmMR, gemmMR, "gemm packed rows")
        let size = try Checked.mul(mp, max(k, 1), "gemm packed A size")
        return try Checked.add(size, GEMMVector.scalarCount, "gemm packed A size")
    }

    /// Packs A (`m × k`, row `i` at `a + i·lda`) into `dst` (``packedASize(m:k:)`` floats):
    /// the block of columns starting at `pc` begins at `pc·Mp` (Mp = m rounded up to MR);
    /// inside it, panel `ip` (rows `ip·MR..<ip·MR+MR`) begins at `ip·MR·kc` and holds column `p`
    /// at `p·MR`, zeros for rows past `m`.
    /// Large matrices are packed by ``Threading``'s threads, a range of panels each.
    static func packA(m: Int, k: Int, a: UnsafePointer<Float>, lda: Int, into dst: UnsafeMutablePointer<Float>) {
        let panels = (m + gemmMR - 1) / gemmMR
        let (mk, o) = m.multipliedReportingOverflow(by: k)
        let threads = Threading.numThreads
        if threads > 1 && panels > 1 && (o || mk >= 1 << 17) {
            let parts = min(panels, threads)
            Threading.parallelFor(parts) { part in
                packA(m: m, k: k, a: a, lda: lda, into: dst, panels: (panels * part / parts)..<(panels * (part + 1) / parts))
            }
        } else {
            packA(m: m, k: k, a: a, lda: lda, into: dst, panels: 0..<panels)
        }
    }

    /// ``packA(m:k:a:lda:into:)`` for the panels `range` only.
    static func packA(m: Int, k: Int, a: UnsafePointer<Float>, lda: Int, into dst: UnsafeMutablePointer<Float>,
                      panels range: Range<Int>) {
        let mr = gemmMR
        let mp = (m + mr - 1) / mr * mr
        var pc = 0
        while pc < k {
            let kc = min(gemmKC, k - pc)
            let block = dst + pc * mp
            for ip in range {
                let panel = block + ip * mr * kc
                let rows = min(mr, m - ip * mr)
                let src = a + ip * mr * lda + pc
                // Writes run contiguously; the MR rows are read as MR sequential streams.
                if rows == mr {
                    // A full panel. With MR a multiple of 4 (the AVX-512 build's 12): 4×4
                    // transposes of 4-float row pieces, then element by element for the last k.
                    // Element by element throughout (MR loads and MR stores per k), this packing
                    // was 9% of a ResNet-18 training step, which packs the updated weights every
                    // step; transposed, the step takes 0.93–0.96 of the time (1 thread, AMD EPYC
                    // Zen 4). The AVX2 build's 6-row panels measured no faster, and stay element
                    // by element.
                    var p = 0
                    while gemmMR % 4 == 0 && p + 4 <= kc {
                        var r = 0
                        while r + 4 <= gemmMR {
                            let s = src + r * lda + p
                            let a: SIMD4<Float> = loadQuad(s), b: SIMD4<Float> = loadQuad(s + lda)
                            let c: SIMD4<Float> = loadQuad(s + 2 * lda), e: SIMD4<Float> = loadQuad(s + 3 * lda)
                            let d = panel + p * gemmMR + r
                            storeQuad(SIMD4(a[0], b[0], c[0], e[0]), d)
                            storeQuad(SIMD4(a[1], b[1], c[1], e[1]), d + gemmMR)
                            storeQuad(SIMD4(a[2], b[2], c[2], e[2]), d + 2 * gemmMR)
                            storeQuad(SIMD4(a[3], b[3], c[3], e[3]), d + 3 * gemmMR)
                            r += 4
                        }
                        p += 4
                    }
                    while p < kc {
                        let d = panel + p * gemmMR
                        var s = src + p
                        for r in 0..<gemmMR {
                            d[r] = s.pointee
                            s += lda
                        }
                        p += 1
                    }
                } else {
                    for p in 0..<kc {
                        let d = panel + p * mr
                        for r in 0..<rows { d[r] = src[r * lda + p] }
                        for r in rows..<mr { d[r] = 0 }
                    }
                }
            }
            pc += kc
        }
    }

    /// Single-precision matrix product, row-major: C = A·B, or C += A·B when `accumulate`.
    ///
    /// - a: `m × k`, row `i` at `a + i·lda` (lda >= k)
    /// - b: `k × n`, row `p` at `b + p·ldb` (ldb >= n)
    /// - c: `m × n`, row `i` at `c + i·ldc` (ldc >= n); only these m×n elements are written
    ///
    /// A is packed into ``gemmMR``-row panels, B into ``gemmNR``-column panels (both
    /// zero-padded at the edges, so edge tiles run the same register micro-kernel as full
    /// ones; a last panel of few rows runs a shorter variant). Work is spread over
    /// ``Threading``'s threads; each element's sum runs in the same order whatever the thread
    /// count, so results are bitwise identical for every thread count.
    /// Sizes <= 0 are allowed: m or n <= 0 writes nothing; k <= 0 sets C to 0 (or leaves it
    /// when accumulating). The caller guarantees the pointers cover the stated extents.
    /// Falls back to a plain loop if scratch memory cannot be had.
    public static func gemm(m: Int, n: Int, k: Int,
                            a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            c: UnsafeMutablePointer<Float>, ldc: Int,
                            accumulate: Bool) {
        gemm(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate, epilogue: .none)
    }

    /// ``gemm(m:n:k:a:lda:b:ldb:c:ldc:accumulate:)`` with A packed beforehand (`packedA.m`
    /// rows, `packedA.k` columns): what a convolution does with its weights. Same
    /// contract otherwise; bitwise the same result as the unpacked call.
    /// - Throws: `.outOfMemory` when B's packing buffer cannot be had (C untouched).
    public static func gemm(n: Int, packedA: PackedGEMMMatrix,
                            b: UnsafePointer<Float>, ldb: Int,
                            c: UnsafeMutablePointer<Float>, ldc: Int,
                            accumulate: Bool) throws {
        try gemmPacked(m: packedA.m, n: n, k: packedA.k, a: packedA.pointer, b: b, ldb: ldb, c: c, ldc: ldc,
                       accumulate: accumulate, epilogue: .none)
    }

    /// ``gemm(m:n:k:a:lda:b:ldb:c:ldc:accumulate:)`` with an epilogue.
    static func gemm(m: Int, n: Int, k: Int,
                     a: UnsafePointer<Float>, lda: Int,
                     b: UnsafePointer<Float>, ldb: Int,
                     c: UnsafeMutablePointer<Float>, ldc: Int,
                     accumulate: Bool, epilogue: GEMMEpilogue) {
        if m <= 0 || n <= 0 { return }
        guard k > 0, let size = try? packedASize(m: m, k: k), let packed = try? GEMMScratchCache.shared.take(size) else {
            naiveGEMM(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc,
                      accumulate: accumulate, epilogue: epilogue)
            return
        }
        defer { GEMMScratchCache.shared.give(packed) }
        packA(m: m, k: k, a: a, lda: lda, into: packed.pointer)
        do {
            try gemmPacked(m: m, n: n, k: k, a: UnsafePointer(packed.pointer), b: b, ldb: ldb, c: c, ldc: ldc,
                           accumulate: accumulate, epilogue: epilogue)
        } catch {
            naiveGEMM(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc,
                      accumulate: accumulate, epilogue: epilogue)
        }
    }

    /// Plain loops (k <= 0, or no memory for packing): same results contract.
    static func naiveGEMM(m: Int, n: Int, k: Int,
                          a: UnsafePointer<Float>, lda: Int,
                          b: UnsafePointer<Float>, ldb: Int,
                          c: UnsafeMutablePointer<Float>, ldc: Int,
                          accumulate: Bool, epilogue: GEMMEpilogue) {
        for i in 0..<m {
            for j in 0..<n {
                var s: Float = 0
                for p in 0..<max(k, 0) { s = s.addingProduct(a[i * lda + p], b[p * ldb + j]) }
                var v = accumulate ? c[i * ldc + j] + s : s
                if let bias = epilogue.bias { v += bias[i] }
                if let r = epilogue.residual { v += r[i * epilogue.ldr + j] }
                if epilogue.relu && v < 0 { v = 0 }
                if let op = epilogue.op { v = unaryScalar(op, v) }
                c[i * ldc + j] = v
            }
        }
    }

    /// The rows a micro-kernel variant computes for a panel with `rows` real rows: MR/3,
    /// 2·MR/3 or MR (a short last panel, e.g. 64 = 5·12 + 4 rows, runs a 4-row kernel).
    @inline(__always)
    static func kernelRows(_ rows: Int) -> Int {
        let third = gemmMR / 3
        return rows <= third ? third : rows <= 2 * third ? 2 * third : gemmMR
    }

    /// The product with A already packed by ``packA(m:k:a:lda:into:)`` (k >= 1).
    ///
    /// The tiles of C are split in one rectangle per thread (one ``Threading/parallelFor(_:_:)``
    /// call), along M or along N, whichever balances better:
    /// - along N, each thread packs its own columns of B, one L2-sized group of KC×NR blocks
    ///   at a time, right before using them;
    /// - along M, all threads share one packed B: the first thread to need a KC×NR block packs
    ///   it (an atomic flag per block; the others wait for it), each thread starting on a
    ///   different tile so that packing is spread.
    /// Each rectangle is cut in chunks (a group of ``gemmGroupTiles`` tiles along N,
    /// ``gemmStealPanels`` A panels along M), all k blocks of a chunk before the next; a
    /// thread that has finished its own takes a held-up thread's chunks not yet begun
    /// (``ChunkRanges``).
    /// Inside a chunk: see ``gemmRectangle(m:n:k:a:panels:tiles:rotate:c:ldc:accumulate:epilogue:bTile:)``. Each element of C is
    /// summed in the same order whatever the split, so results are bitwise identical for
    /// every thread count.
    /// Throws `.outOfMemory` when the B panels' scratch memory cannot be had (C untouched).
    static func gemmPacked(m: Int, n: Int, k: Int, a: UnsafePointer<Float>,
                           b: UnsafePointer<Float>, ldb: Int,
                           c: UnsafeMutablePointer<Float>, ldc: Int,
                           accumulate: Bool, epilogue: GEMMEpilogue) throws {
        try gemmPacked(m: m, n: n, k: k, a: a, source: .matrix(b, ldb: ldb), c: c, ldc: ldc,
                       accumulate: accumulate, epilogue: epilogue)
    }

    /// ``gemmPacked(m:n:k:a:b:ldb:c:ldc:accumulate:epilogue:)`` with B given by `source`
    /// (a matrix, or a convolution's im2col matrix generated while packing).
    static func gemmPacked(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, source: GEMMBSource,
                           c: UnsafeMutablePointer<Float>, ldc: Int,
                           accumulate: Bool, epilogue: GEMMEpilogue) throws {
        if m <= 0 || n <= 0 || k <= 0 { return }
        let mr = gemmMR, nr = gemmNR, kcMax = gemmKC
        let panelsM = (m + mr - 1) / mr
        let tilesN = (n + nr - 1) / nr
        let kBlocks = (k + kcMax - 1) / kcMax
        let perTile = try Checked.mul(k, nr, "gemm packing buffer")
        let threads = Threading.numThreads

        let split = gemmSplit(m: m, n: n, k: k, threads: threads)
        let parts = split.parts, alongM = split.alongM

        if alongM {
            let shared = try GEMMScratchCache.shared.take(perTile * tilesN)
            defer { GEMMScratchCache.shared.give(shared) }
            let flagCount = kBlocks * tilesN
            let flags = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: flagCount)
            for i in 0..<flagCount { (flags + i).initialize(to: Atomic(0)) }
            let bp = shared.pointer
            let bounds = split.rowBounds
            // Each part's panels in chunks of gemmStealPanels, run from the front; a part
            // that has run out takes the others' unclaimed chunks from the back (as along N).
            ChunkRanges.parallelFor(parts: parts, chunk: gemmStealPanels, bounds: { bounds[$0] }) { part, panels in
                gemmRectangle(m: m, n: n, k: k, a: a, panels: panels,
                              tiles: 0..<tilesN, rotate: tilesN * part / parts, c: c, ldc: ldc,
                              accumulate: accumulate, epilogue: epilogue) { kb, j, _, _, _ in
                    let pc = kb * kcMax, kc = min(kcMax, k - pc)
                    let tile = bp + pc * tilesN * nr + j * kc * nr
                    let flag = flags + kb * tilesN + j
                    if flag.pointee.load(ordering: .acquiring) != 2 {
                        if flag.pointee.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged {
                            packB(source, pc: pc, kc: kc, col: j * nr, cols: min(nr, n - j * nr), into: tile)
                            flag.pointee.store(2, ordering: .releasing)
                        } else {
                            while flag.pointee.load(ordering: .acquiring) != 2 {}
                        }
                    }
                    return UnsafePointer(tile)
                }
            }
            flags.deinitialize(count: flagCount)
            flags.deallocate()
            return
        }

        // Along N: each part owns an equal range of tiles, cut in chunks of
        // ``gemmGroupTiles``, and runs them from the front, all k blocks of a chunk before the
        // next (each packs its own B, a group at a time, row by row across the group's tiles,
        // as the first A panel reaches them). A part that has run out takes the other parts'
        // chunks not yet begun, from the back: a thread preempted in the middle of its range
        // (a virtual machine's host taking the core for milliseconds) holds the call up by the
        // chunk it is in, not by the rest of its range. Which thread runs a chunk changes no
        // result.
        let slotFloats = max(gemmL2Floats, kcMax * nr)
        let privateB = try GEMMScratchCache.shared.take(try Checked.mul(slotFloats, parts, "gemm packing buffer"))
        defer { GEMMScratchCache.shared.give(privateB) }
        let base = privateB.pointer
        ChunkRanges.parallelFor(parts: parts, chunk: gemmGroupTiles, bounds: { tilesN * $0 / parts }) { part, tiles in
            let bp = base + part * slotFloats
            gemmRectangle(m: m, n: n, k: k, a: a, panels: 0..<panelsM, tiles: tiles, rotate: 0,
                          c: c, ldc: ldc, accumulate: accumulate, epilogue: epilogue) { kb, j, slot, fresh, span in
                let pc = kb * kcMax, kc = min(kcMax, k - pc)
                if fresh && slot == 0 { packBGroup(source, pc: pc, kc: kc, col: j * nr, tiles: span, n: n, into: bp) }
                return UnsafePointer(bp + slot * kc * nr)
            }
        }
    }

    /// How ``gemmPacked(m:n:k:a:source:c:ldc:accumulate:epilogue:)`` splits its work over
    /// `threads` threads (1 below ``gemmParallelThreshold``): `parts` rectangles, along M
    /// (panel ranges `rowBounds[i]..<rowBounds[i+1]`, balanced by the rows each panel's
    /// kernel computes) or along N (equal ranges of tiles), whichever leaves the largest part
    /// cheaper, counting a narrow last tile at its real cost. Along M needs all of B packed
    /// and shared, so only when that fits in ``gemmSharedBFloats``.
    static func gemmSplit(m: Int, n: Int, k: Int, threads requested: Int) -> (alongM: Bool, parts: Int, rowBounds: [Int]) {
        let mr = gemmMR, nr = gemmNR
        let panelsM = (m + mr - 1) / mr
        let tilesN = (n + nr - 1) / nr
        var threads = requested
        let (mn, o1) = m.multipliedReportingOverflow(by: n)
        let (mnk, o2) = mn.multipliedReportingOverflow(by: k)
        if !o1 && !o2 && mnk < gemmParallelThreshold { threads = 1 }
        var parts = 1
        var alongM = false
        var rowBounds = [0, panelsM]
        if threads > 1 {
            var totalRowCost = 0
            for ip in 0..<panelsM { totalRowCost += kernelRows(min(mr, m - ip * mr)) }
            let pm = min(threads, panelsM)
            var mb = [0]
            var acc = 0, ip = 0, worst = 0, start = 0
            for part in 1...pm {
                let target = totalRowCost * part / pm
                while ip < panelsM && (acc < target || part == pm) {
                    acc += kernelRows(min(mr, m - ip * mr))
                    ip += 1
                }
                mb.append(ip)
                worst = max(worst, acc - start)
                start = acc
            }
            // Column cost of a tile: a full one 6, a narrow last tile less (see microKernel).
            let vl = GEMMVector.scalarCount
            let lastCols = n - (tilesN - 1) * nr
            let lastCost = lastCols > vl + gemmNarrowMax ? 6 : (lastCols > gemmNarrowMax ? 3 : 0) + (lastCols > vl || lastCols <= gemmNarrowMax ? 1 : 0)
            let totalColCost = 6 * (tilesN - 1) + lastCost
            let pn = min(threads, tilesN)
            var worstN = 0
            for part in 0..<pn {
                let j0 = tilesN * part / pn, j1 = tilesN * (part + 1) / pn
                worstN = max(worstN, 6 * (j1 - j0) - (j1 == tilesN ? 6 - lastCost : 0))
            }
            let costM = worst * totalColCost, costN = totalRowCost * worstN
            let sharedFits = k <= gemmSharedBFloats / nr / tilesN
            if pm > 1 && (costM < costN || (costM == costN && pn < pm)) && sharedFits {
                alongM = true
                parts = pm
                rowBounds = mb
            } else {
                parts = pn
            }
        }

        return (alongM, parts, rowBounds)
    }

    /// C's tiles `panels` × `tiles` (+)= A·B with the epilogue at the last KC block.
    /// `bTile(kb, j, slot, fresh, span)` gives the packed KC×NR block `kb` of tile `j`; `slot`
    /// is the tile's place in the current group of `span` tiles (see below) and `fresh` is
    /// true on the group's first request for it, false when it was already handed out in
    /// this group. Slot 0 is always requested first.
    /// The tiles are visited from `tiles.lowerBound + rotate` on, wrapping around; every
    /// element still sees the KC blocks in order.
    ///
    /// Loop order (``gemmBTileOuter``): either, per KC block, groups of B tiles whose block
    /// fits in about half of L2 (slots 0..<group), each A panel (in L1) run over the group;
    /// or groups of A panels that fit in half of L2, each B tile (slot 0, in L1) run over
    /// the group. A narrow last tile (``gemmNarrowMax`` columns or fewer) runs over several
    /// panels per call (``narrowKernelPanels(kc:a:b:c:ldc:rows:cols:accumulate:epilogue:)``);
    /// in the first order it is visited with the first panel only, then over the others.
    @inline(__always)
    static func gemmRectangle(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, panels: Range<Int>,
                              tiles: Range<Int>, rotate: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
                              accumulate: Bool, epilogue: GEMMEpilogue,
                              bTile: (_ kb: Int, _ j: Int, _ slot: Int, _ fresh: Bool, _ span: Int) -> UnsafePointer<Float>) {
        let mr = gemmMR, nr = gemmNR, kcMax = gemmKC
        let mp = (m + mr - 1) / mr * mr
        let kBlocks = (k + kcMax - 1) / kcMax
        let count = tiles.count
        if panels.isEmpty || count == 0 { return }
        for kb in 0..<kBlocks {
            let pc = kb * kcMax, kc = min(kcMax, k - pc)
            let acc = accumulate || kb > 0
            let last = kb == kBlocks - 1
            let ablock = a + pc * mp
            /// The tile index of the `jj`-th visited tile.
            @inline(__always) func tile(_ jj: Int) -> Int {
                let j = jj + rotate
                return (j >= count ? j - count : j) + tiles.lowerBound
            }
            /// The epilogue of the C block from panel `ip`, column `col` on: none before the
            /// last k block.
            @inline(__always) func blockEpilogue(_ ip: Int, _ col: Int) -> GEMMEpilogue {
                var ep = GEMMEpilogue.none
                if last && !epilogue.isNone {
                    ep.relu = epilogue.relu
                    ep.op = epilogue.op
                    ep.bias = epilogue.bias.map { $0 + ip * mr }
                    ep.residual = epilogue.residual.map { $0 + ip * mr * epilogue.ldr + col }
                    ep.ldr = epilogue.ldr
                }
                return ep
            }
            /// One micro-kernel call: A panel `ip` times tile `j`.
            @inline(__always) func run(_ ip: Int, _ j: Int, _ btile: UnsafePointer<Float>) {
                let col = j * nr
                let ep = blockEpilogue(ip, col)
                // The residual's and C's lines a few panels down (gemmResidualPrefetchPanels)
                // or a few tiles along (gemmResidualPrefetchTiles).
                if gemmBTileOuter && last, let r = epilogue.residual {
                    let row0 = (ip + gemmResidualPrefetchPanels) * mr
                    if row0 < m {
                        for i in row0..<min(m, row0 + mr) {
                            prefetch(UnsafeRawPointer(r + i * epilogue.ldr + col))
                            prefetch(UnsafeRawPointer(c + i * ldc + col))
                        }
                    }
                } else if !gemmBTileOuter && last, let r = epilogue.residual {
                    let ahead = col + gemmResidualPrefetchTiles * nr
                    if ahead < n {
                        let row0 = ip * mr
                        for i in row0..<min(m, row0 + mr) {
                            let rp = UnsafeRawPointer(r + i * epilogue.ldr + ahead), cp = UnsafeRawPointer(c + i * ldc + ahead)
                            prefetch(rp); prefetch(rp + 64)
                            prefetch(cp); prefetch(cp + 64)
                        }
                    }
                }
                microKernel(kc: kc, a: ablock + ip * mr * kc, b: btile, c: c + ip * mr * ldc + col, ldc: ldc,
                            rows: min(mr, m - ip * mr), cols: min(nr, n - col), accumulate: acc, epilogue: ep)
            }
            /// A panels `range` times tile `j`: a narrow tile (``gemmNarrowMax`` columns or
            /// fewer) in groups of ``narrowPanelGroup(cols:)`` panels, the rest one by one.
            @inline(__always) func runPanels(_ range: Range<Int>, _ j: Int, _ btile: UnsafePointer<Float>) {
                let col = j * nr, cols = min(nr, n - col)
                var ip = range.lowerBound
                if cols <= gemmNarrowMax {
                    let group = narrowPanelGroup(cols: cols)
                    while ip + group <= range.upperBound {
                        narrowKernelPanels(kc: kc, a: ablock + ip * mr * kc, b: btile, c: c + ip * mr * ldc + col, ldc: ldc,
                                           rows: min(mr, m - (ip + group - 1) * mr), cols: cols, accumulate: acc,
                                           epilogue: blockEpilogue(ip, col))
                        ip += group
                    }
                }
                while ip < range.upperBound {
                    run(ip, j, btile)
                    ip += 1
                }
            }
            // The last tile when it is narrow: run over several panels at once.
            let narrowTile = n - (tiles.upperBound - 1) * nr <= gemmNarrowMax ? tiles.upperBound - 1 : -1
            if gemmBTileOuter {
                let group = max(1, gemmL2Floats / (kc * mr))
                var q0 = panels.lowerBound
                while q0 < panels.upperBound {
                    let q1 = min(panels.upperBound, q0 + group)
                    for jj in 0..<count {
                        let j = tile(jj)
                        runPanels(q0..<q1, j, bTile(kb, j, 0, true, 1))
                    }
                    q0 = q1
                }
            } else {
                let group = max(1, min(gemmGroupTiles, gemmL2Floats / (kc * nr)))
                var g0 = 0
                while g0 < count {
                    let g1 = min(count, g0 + group)
                    // The narrow tile's place in this group, if it is in it: it runs with the
                    // first panel (which may pack it), then over the other panels together.
                    var narrowSlot = -1
                    for ip in panels {
                        let fresh = ip == panels.lowerBound
                        for jj in g0..<g1 {
                            let j = tile(jj)
                            if j == narrowTile {
                                narrowSlot = jj - g0
                                if !fresh { continue }
                            }
                            run(ip, j, bTile(kb, j, jj - g0, fresh, g1 - g0))
                        }
                    }
                    if narrowSlot >= 0 && panels.count > 1 {
                        runPanels((panels.lowerBound + 1)..<panels.upperBound, narrowTile,
                                  bTile(kb, narrowTile, narrowSlot, false, g1 - g0))
                    }
                    g0 = g1
                }
            }
        }
    }

    /// Packs rows `pc..<pc+kc`, columns `col..<col+cols` (cols <= NR) of the B of `source`
    /// into one NR-wide panel (zeros past `cols`).
    @inline(__always)
    static func packB(_ source: GEMMBSource, pc: Int, kc: Int, col: Int, cols: Int, into dst: UnsafeMutablePointer<Float>) {
        switch source {
        case .matrix(let b, let ldb):
            packBTile(kc: kc, cols: cols, b: b + pc * ldb + col, ldb: ldb, into: dst)
        case .im2col(let g, let x, let imageStride):
            packIm2colTile(g, x, pc: pc, kc: kc, col: col, cols: cols, into: dst, imageStride: imageStride)
        }
    }

    /// Packs rows `pc..<pc+kc` of `tiles` consecutive NR-wide tiles from column `col` on (of
    /// `n` columns) into consecutive panels at `dst` (tile `t` at `t·kc·NR`). A matrix is
    /// read row by row across the tiles (sequential reads); im2col tile by tile.
    static func packBGroup(_ source: GEMMBSource, pc: Int, kc: Int, col: Int, tiles: Int, n: Int,
                           into dst: UnsafeMutablePointer<Float>) {
        let nr = gemmNR
        if tiles > 1, case .im2col(let g, let x, let imageStride) = source, isPointwise(g) {
            packPointwiseGroup(g, x, pc: pc, kc: kc, col: col, tiles: tiles, n: n, into: dst, imageStride: imageStride)
            return
        }
        guard case .matrix(let b, let ldb) = source else {
            for t in 0..<tiles {
                let c0 = col + t * nr
                packB(source, pc: pc, kc: kc, col: c0, cols: min(nr, n - c0), into: dst + t * kc * nr)
            }
            return
        }
        typealias V = GEMMVector
        let vb = MemoryLayout<V>.size
        let full = min(tiles, (n - col) / nr)
        if full > 0 {
            for p in 0..<kc {
                let s = UnsafeRawPointer(b + (pc + p) * ldb + col)
                let d = UnsafeMutableRawPointer(dst + p * nr)
                // The line that ends the next tile's part of this row (see packBTile).
                prefetch(s + ((full + 1) * nr * 4 - 4))
                for t in 0..<full {
                    let o = d + t * kc * nr * 4
                    let lo: V = loadVector(s, t * nr * 4), hi: V = loadVector(s, t * nr * 4 + vb)
                    storeVector(lo, o)
                    storeVector(hi, o, vb)
                }
            }
        }
        if full < tiles {
            let c0 = col + full * nr
            packBTile(kc: kc, cols: min(nr, n - c0), b: b + pc * ldb + c0, ldb: ldb, into: dst + full * kc * nr)
        }
    }

    /// Packs `cols` (<= NR) columns of a `kc`-row block of B at `b` into one panel: row `p`
    /// at `p·NR`, NR contiguous floats, zeros past `cols`.
    ///
    /// Each row of a full tile also prefetches the next tile's part of that row
    /// (``prefetchNextTileRow(_:)``). Tile by tile (the AVX2 build's B-tile-outer order), a tile's `kc` rows are
    /// `ldb` apart, too many streams for the hardware's prefetchers, so without it each row
    /// waited on memory: packing took 24–28% of ResNet-50's 1×1 layers at batch 8. With it
    /// those layers take 0.80–0.96 of the time (one process, alternating; BENCHMARKS.md).
    /// A hint only: it never faults and changes no result.
    @inline(__always)
    static func packBTile(kc: Int, cols: Int, b: UnsafePointer<Float>, ldb: Int, into dst: UnsafeMutablePointer<Float>) {
        typealias V = GEMMVector
        let nr = gemmNR
        let vb = MemoryLayout<V>.size
        if cols == nr {
            for p in 0..<kc {
                let s = UnsafeRawPointer(b + p * ldb)
                let o = UnsafeMutableRawPointer(dst + p * nr)
                prefetchNextTileRow(s)
                let lo: V = loadVector(s), hi: V = loadVector(s, vb)
                storeVector(lo, o)
                storeVector(hi, o, vb)
            }
        } else {
            // A narrower tile (the last; all of a GEMM narrower than NR, as Winograd's 16
            // columns on a 14×14 map in the AVX-512 build): a vector copy and a fill per row.
            // Element by element, the fill alone was half of this packing, 10% of such a layer.
            for p in 0..<kc {
                let d = dst + p * nr
                copyFloats(d, b + p * ldb, cols)
                (d + cols).update(repeating: 0, count: nr - cols)
            }
        }
    }

    /// Prefetches the next tile's part of a row of B whose part in this tile starts at `s`
    /// (NR floats on): the line that ends it, and in the AVX-512 build, where that part is 128
    /// bytes (two or three lines), the lines before that one too. The AVX2 build's part is 64
    /// bytes, one or two lines, and prefetching its last was measured enough.
    @inline(__always)
    static func prefetchNextTileRow(_ s: UnsafeRawPointer) {
        let bytes = gemmNR * 4
        if bytes > 64 {
            prefetch(s + bytes)
            prefetch(s + (bytes + 64))
        }
        prefetch(s + (2 * bytes - 4))
    }

    /// C[0..<rows, 0..<cols] (+)= Apanel · Bpanel (then the epilogue), rows <= MR, cols <= NR.
    ///
    /// A full tile runs the register kernel for its rows (``kernelRows(_:)``). A narrower last
    /// tile of `w` columns (VL = lanes of ``GEMMVector``) runs: the two-vector kernel when
    /// w > VL + 4; otherwise the one-vector kernel on its first min(w, VL) columns (when
    /// w > 4) and the column kernel ``narrowKernel(kc:a:b:c:ldc:rows:cols:accumulate:epilogue:)`` on the
    /// last w − VL <= 4 (or all w <= 4). The choice depends on n only, never on the thread split.
    @inline(__always)
    static func microKernel(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                            c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int,
                            accumulate: Bool, epilogue: GEMMEpilogue) {
        let third = gemmMR / 3
        let vl = GEMMVector.scalarCount
        if cols > vl + gemmNarrowMax {
            if rows > 2 * third {
                kernelFull2(kc: kc, a: a, b: b, c: c, ldc: ldc, rows: rows, cols: cols, accumulate: accumulate, epilogue: epilogue)
            } else if rows > third {
                kernelTwoThirds2(kc: kc, a: a, b: b, c: c, ldc: ldc, rows: rows, cols: cols, accumulate: accumulate, epilogue: epilogue)
            } else {
                kernelThird2(kc: kc, a: a, b: b, c: c, ldc: ldc, rows: rows, cols: cols, accumulate: accumulate, epilogue: epilogue)
            }
            return
        }
        if cols == vl + 1 && rows > 2 * third {
            // E.g. the last 17 columns of a 7×7 map's 49: one loop for both parts.
            kernelFull1Plus1(kc: kc, a: a, b: b, c: c, ldc: ldc, rows: rows, accumulate: accumulate, epilogue: epilogue)
            return
        }
        var done = 0
        if cols > gemmNarrowMax {
            done = min(cols, vl)
            if rows > 2 * third {
                kernelFull1(kc: kc, a: a, b: b, c: c, ldc: ldc, rows: rows, cols: done, accumulate: accumulate, epilogue: epilogue)
            } else if rows > third {
                kernelTwoThirds1(kc: kc, a: a, b: b, c: c, ldc: ldc, rows: rows, cols: done, accumulate: accumulate, epilogue: epilogue)
            } else {
                kernelThird1(kc: kc, a: a, b: b, c: c, ldc: ldc, rows: rows, cols: done, accumulate: accumulate, epilogue: epilogue)
            }
        }
        if cols > done {
            var ep = epilogue
            ep.residual = epilogue.residual.map { $0 + done }
            narrowKernel(kc: kc, a: a, b: b + done, c: c + done, ldc: ldc, rows: rows, cols: cols - done,
                         accumulate: accumulate, epilogue: ep)
        }
    }

    /// How far ahead (in floats of packed A) the two-vector micro-kernel prefetches A: 64
    /// steps of k (3 KiB with MR = 12). Packed A is contiguous across panels and k blocks, so
    /// the prefetch runs on into the panel the loop visits next. On ResNet's 7×7 layers
    /// (A = 9.4 MB of weights, N = 49, from L3) it took a 512 × 49 × 4608 product from 2.32
    /// to 1.86 ms on one thread; 16 to 128 steps measured alike.
    static let gemmPrefetchAhead = 64 * gemmMR
    /// With a residual, each micro-kernel call at the last k block first prefetches the
    /// residual's and C's lines for the same tile this many A panels further down: tile by
    /// tile a C block's rows are `ldc` apart, one line each, far too many streams for the
    /// hardware prefetchers, and the residual (written layers earlier) comes from memory at
    /// batch 8. Three panels (about 3 × 6 × kc FMA cycles) cover a memory access. Measured
    /// on a 256 → 64 → 256 bottleneck on 56×56 at batch 8: 0.91 at 2 threads, 0.89 at 1.
    /// Prefetching C alone, with no residual, was slower (1.01–1.05), so it is left out.
    static let gemmResidualPrefetchPanels = 3
    /// The same for the A-panel-outer order (AVX-512 build), whose calls walk along the
    /// panel's rows tile by tile: each call at the last k block with a residual prefetches the
    /// residual's and C's two lines per row (NR = 32 floats) this many tiles further along.
    /// Twelve rows of each are 24 streams, again too many for the hardware prefetchers.
    /// Measured on an AMD EPYC (Zen 4) at batch 8: a 256 → 64 → 256 bottleneck on 56×56 0.90
    /// (2 threads) / 0.89 (1 thread), 512 → 128 → 512 on 28×28 1.02 / 0.97, 1024 → 256 →
    /// 1024 on 14×14 1.00; one tile ahead measured the same as two, four 1.08 / 1.01.
    static let gemmResidualPrefetchTiles = 2

    /// Columns of a last tile left to ``narrowKernel(kc:a:b:c:ldc:rows:cols:accumulate:epilogue:)``.
    static let gemmNarrowMax = 4

    /// The micro-kernel for MR rows and VL + 1 columns (VL = lanes of ``GEMMVector``): the
    /// one-vector kernel's MR accumulators for the first VL columns and, in the same loop,
    /// ``narrowKernel(kc:a:b:c:ldc:rows:cols:accumulate:epilogue:)``'s accumulator for the
    /// last column (a vector along the rows), which alone would wait on the FMA latency at
    /// every step of k. Every element gets the operations of those two kernels, in the same
    /// order, so results are bitwise theirs.
    @inline(never)
    static func kernelFull1Plus1(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                                 c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int,
                                 accumulate: Bool, epilogue: GEMMEpilogue) {
        typealias V = GEMMVector
        let mr = gemmMR, nr = gemmNR, vl = V.scalarCount
        var c0 = V(), c1 = V(), c2 = V(), c3 = V(), c4 = V(), c5 = V()
        var c6 = V(), c7 = V(), c8 = V(), c9 = V(), c10 = V(), c11 = V()
        var s = V()
        var ap = a
        var bp = b
        for _ in 0..<kc {
            let b0 = UnsafeRawPointer(bp).load(as: V.self)
            c0 = c0.addingProduct(ap[0], b0)
            c1 = c1.addingProduct(ap[1], b0)
            c2 = c2.addingProduct(ap[2], b0)
            c3 = c3.addingProduct(ap[3], b0)
            c4 = c4.addingProduct(ap[4], b0)
            c5 = c5.addingProduct(ap[5], b0)
            if mr > 6 {
                c6 = c6.addingProduct(ap[6], b0)
                c7 = c7.addingProduct(ap[7], b0)
                c8 = c8.addingProduct(ap[8], b0)
                c9 = c9.addingProduct(ap[9], b0)
                c10 = c10.addingProduct(ap[10], b0)
                c11 = c11.addingProduct(ap[11], b0)
            }
            s = s.addingProduct(UnsafeRawPointer(ap).loadUnaligned(as: V.self), bp[vl])
            ap += mr
            bp += nr
        }
        let dst = UnsafeMutableRawPointer(c)
        let rb = ldc * 4
        let res = epilogue.residual.map { UnsafeRawPointer($0) }
        let resRow = epilogue.ldr * 4
        @inline(__always) func row(_ v: V, _ r: Int) {
            if r >= rows { return }
            let rr = res.map { $0 + r * resRow }
            if let op = epilogue.op {
                finish(1, v, V(), dst + r * rb, rr, epilogue.bias?[r], epilogue.relu, op, accumulate)
            } else {
                store(1, v, V(), dst + r * rb, rr, epilogue.bias?[r], epilogue.relu, accumulate)
            }
        }
        row(c0, 0); row(c1, 1); row(c2, 2); row(c3, 3); row(c4, 4); row(c5, 5)
        if mr > 6 { row(c6, 6); row(c7, 7); row(c8, 8); row(c9, 9); row(c10, 10); row(c11, 11) }
        // The last column, as narrowKernel writes it.
        putColumn(s, rows: rows, row0: 0, j: vl, c: c, ldc: ldc, accumulate: accumulate, epilogue: epilogue)
    }

    /// The micro-kernel for MR rows, 2 vectors of columns.
    @inline(never)
    static func kernelFull2(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                           c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int,
                           accumulate: Bool, epilogue: GEMMEpilogue) {
        kernelBody(gemmMR, 2, kc: kc, a: a, b: b, c: c, ldc: ldc, rows: rows, cols: cols, accumulate: accumulate, epilogue: epilogue)
    }

    /// The micro-kernel for MR rows, 1 vector of columns.
    @inline(never)
    static func kernelFull1(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                           c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int,
                           accumulate: Bool, epilogue: GEMMEpilogue) {
        kernelBody(gemmMR, 1, kc: kc, a: a, b: b, c: c, ldc: ldc, rows: rows, cols: cols, accumulate: accumulate, epilogue: epilogue)
    }

    /// The micro-kernel for 2·MR/3 rows (A read with the panel's MR stride), 2 vectors of columns.
    @inline(never)
    static func kernelTwoThirds2(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                           c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int,
                           accumulate: Bool, epilogue: GEMMEpilogue) {
        kernelBody(2 * (gemmMR / 3), 2, kc: kc, a: a, b: b, c: c, ldc: ldc, rows: rows, cols: cols, accumulate: accumulate, epilogue: epilogue)
    }

    /// The micro-kernel for 2·MR/3 rows (A read with the panel's MR stride), 1 vector of columns.
    @inline(never)
    static func kernelTwoThirds1(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                           c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int,
                           accumulate: Bool, epilogue: GEMMEpilogue) {
        kernelBody(2 * (gemmMR / 3), 1, kc: kc, a: a, b: b, c: c, ldc: ldc, rows: rows, cols: cols, accumulate: accumulate, epilogue: epilogue)
    }

    /// The micro-kernel for MR/3 rows, 2 vectors of columns.
    @inline(never)
    static func kernelThird2(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                           c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int,
                           accumulate: Bool, epilogue: GEMMEpilogue) {
        kernelBody(gemmMR / 3, 2, kc: kc, a: a, b: b, c: c, ldc: ldc, rows: rows, cols: cols, accumulate: accumulate, epilogue: epilogue)
    }

    /// The micro-kernel for MR/3 rows, 1 vector of columns.
    @inline(never)
    static func kernelThird1(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                           c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int,
                           accumulate: Bool, epilogue: GEMMEpilogue) {
        kernelBody(gemmMR / 3, 1, kc: kc, a: a, b: b, c: c, ldc: ldc, rows: rows, cols: cols, accumulate: accumulate, epilogue: epilogue)
    }

    /// The register-blocked kernel for `R` rows and `W` vectors of columns (constants after
    /// inlining; rows <= R <= 12, W = 1 or 2): R·W vector accumulators, per step of k W B
    /// vectors and R broadcast A values. The panels are zero-padded, so every tile computes
    /// full rows; an edge tile's store goes through a small buffer with the same vector
    /// arithmetic as a full one.
    @inline(__always)
    static func kernelBody(_ R: Int, _ W: Int, kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                           c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int,
                           accumulate: Bool, epilogue: GEMMEpilogue) {
        typealias V = GEMMVector
        let mr = gemmMR
        let vb = MemoryLayout<V>.size
        var c0a = V(), c0b = V(); var c1a = V(), c1b = V(); var c2a = V(), c2b = V(); var c3a = V(), c3b = V()
        var c4a = V(), c4b = V(); var c5a = V(), c5b = V(); var c6a = V(), c6b = V(); var c7a = V(), c7b = V()
        var c8a = V(), c8b = V(); var c9a = V(), c9b = V(); var c10a = V(), c10b = V(); var c11a = V(), c11b = V()
        var ap = a
        var bp = UnsafeRawPointer(b)
        for _ in 0..<kc {
            // A streams through once per tile row (a model's weights, from L3 or memory): the
            // hardware prefetcher restarts at every 4 KiB page, so the kernel asks for A's
            // line gemmPrefetchAhead floats ahead (running into the next panel). The
            // one-vector kernel too: in the AVX-512 build it computes every tile of a GEMM 16
            // columns wide (Winograd's 36 GEMMs on a 13×13 or 14×14 map at batch 1), and
            // without it AlexNet's 384 → 256 layer on 13×13 took 1.13× as long (AMD EPYC Zen 4,
            // 1 thread).
            prefetch(UnsafeRawPointer(ap + gemmPrefetchAhead))
            let b0 = bp.load(as: V.self)
            let b1 = W > 1 ? bp.load(fromByteOffset: vb, as: V.self) : V()
            if R > 0 { let s = ap[0]; c0a = c0a.addingProduct(s, b0); if W > 1 { c0b = c0b.addingProduct(s, b1) } }
            if R > 1 { let s = ap[1]; c1a = c1a.addingProduct(s, b0); if W > 1 { c1b = c1b.addingProduct(s, b1) } }
            if R > 2 { let s = ap[2]; c2a = c2a.addingProduct(s, b0); if W > 1 { c2b = c2b.addingProduct(s, b1) } }
            if R > 3 { let s = ap[3]; c3a = c3a.addingProduct(s, b0); if W > 1 { c3b = c3b.addingProduct(s, b1) } }
            if R > 4 { let s = ap[4]; c4a = c4a.addingProduct(s, b0); if W > 1 { c4b = c4b.addingProduct(s, b1) } }
            if R > 5 { let s = ap[5]; c5a = c5a.addingProduct(s, b0); if W > 1 { c5b = c5b.addingProduct(s, b1) } }
            if R > 6 { let s = ap[6]; c6a = c6a.addingProduct(s, b0); if W > 1 { c6b = c6b.addingProduct(s, b1) } }
            if R > 7 { let s = ap[7]; c7a = c7a.addingProduct(s, b0); if W > 1 { c7b = c7b.addingProduct(s, b1) } }
            if R > 8 { let s = ap[8]; c8a = c8a.addingProduct(s, b0); if W > 1 { c8b = c8b.addingProduct(s, b1) } }
            if R > 9 { let s = ap[9]; c9a = c9a.addingProduct(s, b0); if W > 1 { c9b = c9b.addingProduct(s, b1) } }
            if R > 10 { let s = ap[10]; c10a = c10a.addingProduct(s, b0); if W > 1 { c10b = c10b.addingProduct(s, b1) } }
            if R > 11 { let s = ap[11]; c11a = c11a.addingProduct(s, b0); if W > 1 { c11b = c11b.addingProduct(s, b1) } }
            ap += mr
            bp += 2 * vb
        }
        if cols == W * V.scalarCount {
            if epilogue.op == nil {
                // Everything but a fused activation (the common case: every k block but the
                // last, plain products, bias / residual / ReLU): inlined row stores (a call per
                // row would spill the accumulators around it).
                let dst = UnsafeMutableRawPointer(c)
                let rb = ldc * 4
                let res = epilogue.residual.map { UnsafeRawPointer($0) }
                let resRow = epilogue.ldr * 4
                let bias = epilogue.bias, relu = epilogue.relu
                if R > 0 && rows > 0 { store(W, c0a, c0b, dst, res, bias?[0], relu, accumulate) }
                if R > 1 && rows > 1 { store(W, c1a, c1b, dst + rb, res.map { $0 + resRow }, bias?[1], relu, accumulate) }
                if R > 2 && rows > 2 { store(W, c2a, c2b, dst + 2 * rb, res.map { $0 + 2 * resRow }, bias?[2], relu, accumulate) }
                if R > 3 && rows > 3 { store(W, c3a, c3b, dst + 3 * rb, res.map { $0 + 3 * resRow }, bias?[3], relu, accumulate) }
                if R > 4 && rows > 4 { store(W, c4a, c4b, dst + 4 * rb, res.map { $0 + 4 * resRow }, bias?[4], relu, accumulate) }
                if R > 5 && rows > 5 { store(W, c5a, c5b, dst + 5 * rb, res.map { $0 + 5 * resRow }, bias?[5], relu, accumulate) }
                if R > 6 && rows > 6 { store(W, c6a, c6b, dst + 6 * rb, res.map { $0 + 6 * resRow }, bias?[6], relu, accumulate) }
                if R > 7 && rows > 7 { store(W, c7a, c7b, dst + 7 * rb, res.map { $0 + 7 * resRow }, bias?[7], relu, accumulate) }
                if R > 8 && rows > 8 { store(W, c8a, c8b, dst + 8 * rb, res.map { $0 + 8 * resRow }, bias?[8], relu, accumulate) }
                if R > 9 && rows > 9 { store(W, c9a, c9b, dst + 9 * rb, res.map { $0 + 9 * resRow }, bias?[9], relu, accumulate) }
                if R > 10 && rows > 10 { store(W, c10a, c10b, dst + 10 * rb, res.map { $0 + 10 * resRow }, bias?[10], relu, accumulate) }
                if R > 11 && rows > 11 { store(W, c11a, c11b, dst + 11 * rb, res.map { $0 + 11 * resRow }, bias?[11], relu, accumulate) }
                return
            }
            let res = epilogue.residual.map { UnsafeRawPointer($0) }
            let ldr = epilogue.ldr
            let dst = UnsafeMutableRawPointer(c)
            @inline(__always) func put(_ v0: V, _ v1: V, _ r: Int) {
                finish(W, v0, v1, dst + r * ldc * 4, res.map { $0 + r * ldr * 4 }, epilogue.bias?[r], epilogue.relu,
                       epilogue.op, accumulate)
            }
            if R > 0 && rows > 0 { put(c0a, c0b, 0) }
            if R > 1 && rows > 1 { put(c1a, c1b, 1) }
            if R > 2 && rows > 2 { put(c2a, c2b, 2) }
            if R > 3 && rows > 3 { put(c3a, c3b, 3) }
            if R > 4 && rows > 4 { put(c4a, c4b, 4) }
            if R > 5 && rows > 5 { put(c5a, c5b, 5) }
            if R > 6 && rows > 6 { put(c6a, c6b, 6) }
            if R > 7 && rows > 7 { put(c7a, c7b, 7) }
            if R > 8 && rows > 8 { put(c8a, c8b, 8) }
            if R > 9 && rows > 9 { put(c9a, c9b, 9) }
            if R > 10 && rows > 10 { put(c10a, c10b, 10) }
            if R > 11 && rows > 11 { put(c11a, c11b, 11) }
            return
        }
        // Edge tile: the accumulators go to a stack buffer (NR floats per row, MR rows), then
        // one loop over the rows stages C (and the residual) in a 2·NR-float buffer and runs
        // the same vector epilogue as a full tile. A loop, not twelve unrolled calls of a
        // closure: in the AVX-512 build that closure stayed out of line, and each call
        // spilled the other rows' accumulators around it. The accumulators go to the closure
        // as constants: captured as variables, they had to live in memory, and every call of
        // every tile zeroed 24 stack slots before its k loop and stored the accumulators after.
        let e0a = c0a, e0b = c0b, e1a = c1a, e1b = c1b, e2a = c2a, e2b = c2b, e3a = c3a, e3b = c3b
        let e4a = c4a, e4b = c4b, e5a = c5a, e5b = c5b, e6a = c6a, e6b = c6b, e7a = c7a, e7b = c7b
        let e8a = c8a, e8b = c8b, e9a = c9a, e9b = c9b, e10a = c10a, e10b = c10b, e11a = c11a, e11b = c11b
        withUnsafeTemporaryAllocation(of: Float.self, capacity: (mr + 2) * gemmNR) { tmp in
            guard let acc = tmp.baseAddress else { return }
            let t = acc + mr * gemmNR, tr = t + gemmNR
            let ap = UnsafeMutableRawPointer(acc), rowBytes = gemmNR * 4
            @inline(__always) func keep(_ v0: V, _ v1: V, _ r: Int) {
                if r >= R { return }
                storeVector(v0, ap + r * rowBytes)
                storeVector(v1, ap + r * rowBytes, vb)
            }
            keep(e0a, e0b, 0); keep(e1a, e1b, 1); keep(e2a, e2b, 2); keep(e3a, e3b, 3)
            keep(e4a, e4b, 4); keep(e5a, e5b, 5); keep(e6a, e6b, 6); keep(e7a, e7b, 7)
            keep(e8a, e8b, 8); keep(e9a, e9b, 9); keep(e10a, e10b, 10); keep(e11a, e11b, 11)
            for r in 0..<min(R, rows) {
                let crow = c + r * ldc
                if accumulate { for j in 0..<cols { t[j] = crow[j] } }
                var rp: UnsafeRawPointer? = nil
                if let res = epilogue.residual {
                    let rrow = res + r * epilogue.ldr
                    for j in 0..<cols { tr[j] = rrow[j] }
                    rp = UnsafeRawPointer(tr)
                }
                let row = UnsafeRawPointer(ap + r * rowBytes)
                finish(2, loadVector(row), loadVector(row, vb), UnsafeMutableRawPointer(t), rp, epilogue.bias?[r],
                       epilogue.relu, epilogue.op, accumulate)
                for j in 0..<cols { crow[j] = t[j] }
            }
        }
    }

    /// C[0..<rows, 0..<cols] (+)= Apanel · B for a few columns (cols <= 4) at `b` (a column
    /// offset inside a packed NR-wide B tile): vectors run along the rows of the A panel
    /// (one load of ``GEMMVector`` lanes per k, the lanes past MR unused), one accumulator
    /// per column with B values broadcast. Reads up to VL − MR floats past the panel (the
    /// packed A has that slack, ``packedASize(m:k:)``).
    @inline(never)
    static func narrowKernel(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                             c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int,
                             accumulate: Bool, epilogue: GEMMEpilogue) {
        typealias V = GEMMVector
        let mr = gemmMR, nr = gemmNR
        var s0 = V(), s1 = V(), s2 = V(), s3 = V()
        var ap = UnsafeRawPointer(a)
        var bp = b
        for _ in 0..<kc {
            let av = ap.loadUnaligned(as: V.self)
            s0 = s0.addingProduct(av, bp[0])
            s1 = s1.addingProduct(av, bp[1])
            s2 = s2.addingProduct(av, bp[2])
            s3 = s3.addingProduct(av, bp[3])
            ap += mr * 4
            bp += nr
        }
        @inline(__always) func put(_ s: V, _ j: Int) {
            putColumn(s, rows: rows, row0: 0, j: j, c: c, ldc: ldc, accumulate: accumulate, epilogue: epilogue)
        }
        put(s0, 0)
        if cols > 1 { put(s1, 1) }
        if cols > 2 { put(s2, 2) }
        if cols > 3 { put(s3, 3) }
    }

    /// Writes rows `row0 ..< row0 + rows` of C's column `j` from `s`, lane r holding row
    /// row0 + r: (+ old value) (+ bias) (+ residual) (ReLU) (fused activation), in the order
    /// of ``store(_:_:_:_:_:_:_:_:)`` and ``finish(_:_:_:_:_:_:_:_:_:)``, one element at a time.
    @inline(__always)
    static func putColumn(_ s: GEMMVector, rows: Int, row0: Int, j: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
                          accumulate: Bool, epilogue: GEMMEpilogue) {
        for r in 0..<rows {
            let dst = c + (row0 + r) * ldc + j
            var v = s[r]
            if accumulate { v = dst.pointee + v }
            if let bias = epilogue.bias { v += bias[row0 + r] }
            if let res = epilogue.residual { v += res[(row0 + r) * epilogue.ldr + j] }
            if epilogue.relu && v < 0 { v = 0 }
            if let op = epilogue.op { v = unaryScalar(op, v) }
            dst.pointee = v
        }
    }

    /// A narrow last tile (at most ``gemmNarrowMax`` columns) runs this many A panels per
    /// call of ``narrowKernelPanels(kc:a:b:c:ldc:rows:cols:accumulate:epilogue:)``: 8
    /// accumulators over the panels and columns.
    static func narrowPanelGroup(cols: Int) -> Int {
        cols <= 1 ? 8 : cols == 2 ? 4 : 2
    }

    /// ``narrowKernel(kc:a:b:c:ldc:rows:cols:accumulate:epilogue:)`` for
    /// ``narrowPanelGroup(cols:)`` consecutive A panels at once (8 accumulators over the panels
    /// and columns), panel p at `a + p·MR·kc` writing C rows from `c + p·MR·ldc`, the last
    /// panel `rows` rows (the others MR). One panel's few columns are one FMA chain each, and
    /// each step of k waits for the last (a 7×7 map's last column alone: one chain, 4 cycles
    /// per step on AVX2, as long as the 16 columns before it); eight chains keep both FMA
    /// units busy. Every element gets narrowKernel's operations in the same order, so the
    /// results are its bits.
    @inline(never)
    static func narrowKernelPanels(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                                   c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int,
                                   accumulate: Bool, epilogue: GEMMEpilogue) {
        switch cols {
        case 1: narrowPanelsBody(8, 1, kc: kc, a: a, b: b, c: c, ldc: ldc, rows: rows, accumulate: accumulate, epilogue: epilogue)
        case 2: narrowPanelsBody(4, 2, kc: kc, a: a, b: b, c: c, ldc: ldc, rows: rows, accumulate: accumulate, epilogue: epilogue)
        case 3: narrowPanelsBody(2, 3, kc: kc, a: a, b: b, c: c, ldc: ldc, rows: rows, accumulate: accumulate, epilogue: epilogue)
        default: narrowPanelsBody(2, 4, kc: kc, a: a, b: b, c: c, ldc: ldc, rows: rows, accumulate: accumulate, epilogue: epilogue)
        }
    }

    /// ``narrowKernelPanels(kc:a:b:c:ldc:rows:cols:accumulate:epilogue:)`` with `P` panels of
    /// `C` columns (constants after inlining).
    @inline(always)
    static func narrowPanelsBody(_ P: Int, _ C: Int, kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                                 c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int,
                                 accumulate: Bool, epilogue: GEMMEpilogue) {
        typealias V = GEMMVector
        let mr = gemmMR, nr = gemmNR
        let panelBytes = mr * kc * 4
        var s0 = V(), s1 = V(), s2 = V(), s3 = V(), s4 = V(), s5 = V(), s6 = V(), s7 = V()
        var ap = UnsafeRawPointer(a)
        var bp = b
        for _ in 0..<kc {
            // Accumulator i: panel i / C, column i % C.
            @inline(__always) func step(_ i: Int, _ acc: inout V) {
                if i >= P * C { return }
                acc = acc.addingProduct(ap.loadUnaligned(fromByteOffset: (i / C) * panelBytes, as: V.self), bp[i % C])
            }
            step(0, &s0); step(1, &s1); step(2, &s2); step(3, &s3)
            step(4, &s4); step(5, &s5); step(6, &s6); step(7, &s7)
            ap += mr * 4
            bp += nr
        }
        @inline(__always) func put(_ acc: V, _ i: Int) {
            if i >= P * C { return }
            let panel = i / C
            putColumn(acc, rows: panel == P - 1 ? rows : mr, row0: panel * mr, j: i % C, c: c, ldc: ldc,
                      accumulate: accumulate, epilogue: epilogue)
        }
        put(s0, 0); put(s1, 1); put(s2, 2); put(s3, 3); put(s4, 4); put(s5, 5); put(s6, 6); put(s7, 7)
    }

    /// Writes one row of `W` (1 or 2, a constant after inlining) vectors: v (+ old value)
    /// (+ bias) (+ residual) (ReLU): ``finish(_:_:_:_:_:_:_:_:_:)`` without the fused
    /// activation, the same operations in the same order. Transparent: the AVX2 build kept an
    /// `@inline(__always)` version out of line, called once per row of every micro-kernel
    /// tile, and a call clobbers every vector register, so the other rows' accumulators
    /// were spilled around each call (5% of a 3×3 256 → 256 layer on 14×14 in `store` alone).
    @_transparent
    static func store(_ W: Int, _ v0: GEMMVector, _ v1: GEMMVector, _ dst: UnsafeMutableRawPointer,
                      _ res: UnsafeRawPointer?, _ bias: Float?, _ relu: Bool, _ accumulate: Bool) {
        typealias V = GEMMVector
        let vb = MemoryLayout<V>.size
        var r0 = v0, r1 = v1
        if accumulate {
            r0 += loadVector(dst)
            if W > 1 { r1 += loadVector(dst, vb) }
        }
        if let bias {
            r0 += bias
            if W > 1 { r1 += bias }
        }
        if let res {
            r0 += loadVector(res)
            if W > 1 { r1 += loadVector(res, vb) }
        }
        if relu {
            r0.replace(with: 0, where: r0 .< 0)
            if W > 1 { r1.replace(with: 0, where: r1 .< 0) }
        }
        storeVector(r0, dst)
        if W > 1 { storeVector(r1, dst, vb) }
    }

    /// Writes one row of `W` (1 or 2, a constant after inlining) vectors: v (+ old value)
    /// (+ bias) (+ residual) (ReLU) (op).
    @inline(__always)
    static func finish(_ W: Int, _ v0: GEMMVector, _ v1: GEMMVector, _ dst: UnsafeMutableRawPointer,
                       _ res: UnsafeRawPointer?, _ bias: Float?, _ relu: Bool, _ op: UnaryOp?, _ accumulate: Bool) {
        typealias V = GEMMVector
        let vb = MemoryLayout<V>.size
        var r0 = v0, r1 = v1
        if accumulate {
            r0 += loadVector(dst)
            if W > 1 { r1 += loadVector(dst, vb) }
        }
        if let bias {
            r0 += bias
            if W > 1 { r1 += bias }
        }
        if let res {
            r0 += loadVector(res)
            if W > 1 { r1 += loadVector(res, vb) }
        }
        if relu {
            r0.replace(with: 0, where: r0 .< 0)
            if W > 1 { r1.replace(with: 0, where: r1 .< 0) }
        }
        if let op {
#if SCNN_AVX2
            let v = unaryVector(op, SIMD16(lowHalf: r0, highHalf: r1))
            r0 = v.lowHalf
            r1 = v.highHalf
#else
            r0 = unaryVector(op, r0)
            if W > 1 { r1 = unaryVector(op, r1) }
#endif
        }
        storeVector(r0, dst)
        if W > 1 { storeVector(r1, dst, vb) }
    }
}
