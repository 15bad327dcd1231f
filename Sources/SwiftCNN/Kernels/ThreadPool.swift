#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The library's worker threads: one persistent pool, created lazily, shared by every op.
///
/// Kernels split their work into items (GEMM tiles, channel planes, …) and call
/// ``parallelFor(_:_:)``; the calling thread takes part, so `numThreads` threads run in
/// all. Items are claimed dynamically, but each item computes its outputs with the same
/// instructions in the same order whichever thread runs it, so results are bitwise
/// identical for every thread count.
///
/// - Single-thread mode (`numThreads == 1`) spawns nothing; workers start on the first
///   parallel call that needs them and live for the process.
/// - A parallel call made while the pool is busy (another host thread, or a nested call
///   from inside an item) runs serially on its own thread instead of waiting.
/// - Steady state allocates nothing per call.
/// - Workers that finish spin for up to ``ThreadPool/spinNanoseconds`` (yielding the CPU
///   between checks) before sleeping, and the caller spins as long for them to finish:
///   a network's many short steps (a MobileNet block's convolutions take 20–100 µs) then
///   do not pay a futex wake-up and a sleep each (about 12 µs per call when every call
///   woke its workers).
/// - When workers keep the caller waiting (preempted by other processes on a shared
///   machine), calls run on the caller alone for a while (``LateWorkerPolicy``).
public enum Threading {
    /// Number of threads kernels use (the caller included), >= 1. Default:
    /// ``defaultThreadCount``. Setting waits for a running parallel call to finish; set it before
    /// work or between calls. Values above ``maxThreads`` are clamped.
    public static var numThreads: Int {
        get { ThreadPool.shared.threadCount }
        set { ThreadPool.shared.setThreadCount(newValue) }
    }

    /// The default thread count: `SCNN_NUM_THREADS` when it holds a positive integer (at
    /// most ``maxThreads``), else the CPUs this process may run on — its affinity mask
    /// (sched_getaffinity), lowered to the cgroup CPU quota rounded up (cgroup v2
    /// `cpu.max`, v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`, the tightest of the process's
    /// cgroup and its ancestors) — at least 1. Read once, when the library first needs it.
    public static var defaultThreadCount: Int { ThreadPool.defaultCount }

    /// The largest accepted thread count.
    public static let maxThreads = 256

    /// How many times so far parallel calls have gone to the calling thread alone because
    /// workers kept it waiting (``LateWorkerPolicy``: workers preempted by other processes).
    /// For benchmarks and diagnostics: a count that grows on a quiet machine means the
    /// process shares its cores.
    public static var soloStretches: Int { ThreadPool.shared.soloStretches }

    /// Runs `body(i)` for every `i` in `0..<count`, spread over the pool's threads, and
    /// returns when all have finished. `body` must not throw or trap; items must write
    /// disjoint memory.
    @inline(__always)
    public static func parallelFor(_ count: Int, _ body: (Int) -> Void) {
        ThreadPool.shared.parallelFor(count, body)
    }
}

/// The pool behind ``Threading`` (pthreads, a mutex and two condition variables, atomics
/// for the spinning hand-off).
final class ThreadPool: @unchecked Sendable {
    static let shared = ThreadPool()

    /// How long an idle worker (and a caller waiting for its workers) spins before it sleeps.
    static let spinNanoseconds = 200_000

    static let onlineCPUs: Int = {
        let n = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return n >= 1 ? min(n, Threading.maxThreads) : 1
    }()

    /// ``Threading/defaultThreadCount``, computed once.
    static let defaultCount: Int = CPUQuota.defaultThreads(
        override: CPUQuota.threadOverride(CPUQuota.environment("SCNN_NUM_THREADS")),
        affinity: CPUQuota.affinityCount() ?? onlineCPUs, quota: CPUQuota.cgroupQuota())

    /// Serializes parallel calls (and thread-count changes) from different host threads.
    private let callLock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    /// Guards the fields below and the two condition variables.
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let workReady = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let workDone = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    private var desired: Int
    private var workerCount = 0
    /// The current call: a counter bumped by each parallel call (bits 16 and up) and the
    /// number of workers taking part in it (indices 0..<participants, the low 16 bits), in
    /// one word so that a worker reads both at once. Stored (releasing) once `body`,
    /// `itemCount` and `running` are set; workers read those after seeing it (acquiring).
    private let generation = Atomic<UInt64>(0)
    /// Participants still running their share (decremented, releasing, as each finishes).
    private let running = Atomic<Int>(0)
    private var body: ((Int) -> Void)? = nil
    private var itemCount = 0
    private let nextItem = Atomic<Int>(0)
    /// Which workers are blocked on `workReady` (by index), and whether the caller is blocked
    /// on `workDone` (both under `lock`): the wake-ups are sent only to threads that sleep.
    private var asleep: [Bool] = []
    private var callerSleeps = false
    /// When calls run on the caller alone (guarded by `callLock`, which every parallel call holds).
    private var lateWorkers = LateWorkerPolicy()

    private init() {
        desired = ThreadPool.defaultCount
        pthread_mutex_init(callLock, nil)
        pthread_mutex_init(lock, nil)
        pthread_cond_init(workReady, nil)
        pthread_cond_init(workDone, nil)
    }

    var threadCount: Int {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return desired
    }

    func setThreadCount(_ n: Int) {
        pthread_mutex_lock(callLock)
        pthread_mutex_lock(lock)
        desired = max(1, min(n, Threading.maxThreads))
        pthread_mutex_unlock(lock)
        pthread_mutex_unlock(callLock)
    }

    /// Starts workers until there are `count`; stops early (fewer threads) if the system refuses.
    /// Called with `lock` held.
    private func ensureWorkers(_ count: Int) {
        while workerCount < count {
            let ctx = Unmanaged.passRetained(WorkerContext(pool: self, index: workerCount,
                                                           generation: generation.load(ordering: .acquiring))).toOpaque()
            asleep.append(false)  // (the new worker reads it under the lock, which we hold)
            var attr = pthread_attr_t()
            pthread_attr_init(&attr)
            pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
            var tid = pthread_t()
            let rc = pthread_create(&tid, &attr, { raw in
                guard let raw else { return nil }
                let c = Unmanaged<WorkerContext>.fromOpaque(raw).takeRetainedValue()
                c.pool.workerLoop(index: c.index, seen: c.generation)
                return nil
            }, ctx)
            pthread_attr_destroy(&attr)
            if rc != 0 {
                asleep.removeLast()
                Unmanaged<WorkerContext>.fromOpaque(ctx).release()
                return
            }
            workerCount += 1
        }
    }

    func parallelFor(_ count: Int, _ work: (Int) -> Void) {
        if count <= 0 { return }
        if count == 1 || pthread_mutex_trylock(callLock) != 0 {
            for i in 0..<count { work(i) }
            return
        }
        defer { pthread_mutex_unlock(callLock) }
        if lateWorkers.soloUntil != 0 && lateWorkers.runsSolo(at: monotonicNanoseconds()) {
            for i in 0..<count { work(i) }
            return
        }
        pthread_mutex_lock(lock)
        if desired <= 1 {
            pthread_mutex_unlock(lock)
            for i in 0..<count { work(i) }
            return
        }
        let helpers = min(desired, count) - 1
        ensureWorkers(helpers)
        let n = min(helpers, workerCount)
        if n <= 0 {
            pthread_mutex_unlock(lock)
            for i in 0..<count { work(i) }
            return
        }
        withoutActuallyEscaping(work) { escapable in
            body = escapable
            itemCount = count
            nextItem.store(0, ordering: .relaxed)
            running.store(n, ordering: .relaxed)
            let counter = (generation.load(ordering: .relaxed) >> 16) &+ 1
            generation.store(counter << 16 | UInt64(n), ordering: .releasing)
            // Spinning workers see the new generation; sleeping ones taking part need the
            // broadcast (a worker marks itself asleep, under the lock, before it checks the
            // generation).
            var wakes = false
            for i in 0..<n where asleep[i] { wakes = true }
            if wakes { pthread_cond_broadcast(workReady) }
            pthread_mutex_unlock(lock)

            let start = monotonicNanoseconds()
            runItems(escapable, count)

            let ownDone = monotonicNanoseconds()
            var end = ownDone
            if running.load(ordering: .acquiring) != 0 {
                if !ThreadPool.spin(until: { running.load(ordering: .acquiring) == 0 }) {
                    pthread_mutex_lock(lock)
                    callerSleeps = true
                    while running.load(ordering: .acquiring) > 0 { pthread_cond_wait(workDone, lock) }
                    callerSleeps = false
                    pthread_mutex_unlock(lock)
                }
                end = monotonicNanoseconds()
            }
            // A worker woken from sleep may be late by its wake-up (tens of µs, more on a
            // busy host): such calls are not judged.
            if !wakes { lateWorkers.record(own: ownDone - start, waited: end - ownDone, at: end) }
            body = nil
        }
    }

    /// Solo stretches so far (see ``LateWorkerPolicy``), for tests.
    var soloStretches: Int {
        pthread_mutex_lock(callLock)
        defer { pthread_mutex_unlock(callLock) }
        return lateWorkers.stretches
    }

    /// Forgets late workers and ends a solo stretch (for tests).
    func resetLateWorkers() {
        pthread_mutex_lock(callLock)
        lateWorkers = LateWorkerPolicy()
        pthread_mutex_unlock(callLock)
    }

    /// Checks `done` until it holds (true) or ``spinNanoseconds`` have passed (false),
    /// yielding the CPU between checks.
    @inline(__always)
    private static func spin(until done: () -> Bool) -> Bool {
        let start = monotonicNanoseconds()
        while true {
            for _ in 0..<16 {
                if done() { return true }
                sched_yield()
            }
            if monotonicNanoseconds() - start >= spinNanoseconds { return done() }
        }
    }

    @inline(__always)
    private func runItems(_ work: (Int) -> Void, _ count: Int) {
        while true {
            let i = nextItem.wrappingAdd(1, ordering: .relaxed).oldValue
            if i >= count { return }
            work(i)
        }
    }

    /// A worker's share of the current call. Its copy of the body is released when this
    /// returns, before the worker reports done (`withoutActuallyEscaping` checks that).
    @inline(never)
    private func runCurrent() {
        // Set before the broadcast and unchanged until every worker reports done.
        guard let work = body else { return }
        runItems(work, itemCount)
    }

    /// `seen`: the generation when the worker was made (under the lock), so that it does
    /// not miss the call that started it.
    private func workerLoop(index: Int, seen start: UInt64) {
        var seen = start
        while true {
            // Wait for the next call: spin a while, then sleep.
            if !ThreadPool.spin(until: { generation.load(ordering: .acquiring) != seen }) {
                pthread_mutex_lock(lock)
                asleep[index] = true
                while generation.load(ordering: .acquiring) == seen { pthread_cond_wait(workReady, lock) }
                asleep[index] = false
                pthread_mutex_unlock(lock)
            }
            seen = generation.load(ordering: .acquiring)
            // A call's fields are stable until every participant has reported done.
            guard index < Int(seen & 0xFFFF) else { continue }
            runCurrent()
            if running.wrappingSubtract(1, ordering: .releasing).oldValue == 1 {
                // The last one out: wake the caller if it went to sleep (it checks `running`
                // under the lock after setting `callerSleeps`).
                pthread_mutex_lock(lock)
                if callerSleeps { pthread_cond_signal(workDone) }
                pthread_mutex_unlock(lock)
            }
        }
    }
}

/// Work cut in chunks, a run of chunks per part (one part per thread), claimed so that a
/// thread held up inside its run does not hold up the rest of that run: each part takes
/// its own chunks from the front, then the other parts' unclaimed chunks from the back.
/// Every chunk runs exactly once; which thread runs it is left to timing, so a chunk must
/// compute the same bits on any thread. On a quiet machine each part runs its own run, and
/// at most its last chunk or so moves.
struct ChunkRanges {
    /// Per part: its next chunk from the front (low 32 bits) and one past its last unclaimed
    /// chunk (high 32 bits), changed together by compare-and-swap.
    private let state: UnsafeMutablePointer<Atomic<Int>>
    let parts: Int

    /// Calls `body` with the ranges of `parts` parts (>= 1) of `chunks(part)` chunks each.
    /// The claims live on the stack: nothing is allocated.
    static func with<R>(parts: Int, chunks: (Int) -> Int, _ body: (ChunkRanges) -> R) -> R {
        let n = max(parts, 1)
        return withUnsafeTemporaryAllocation(of: Atomic<Int>.self, capacity: n) { buf in
            // (A buffer of n >= 1 elements has an address; the heap is the fallback.)
            let p = buf.baseAddress ?? UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: n)
            defer { if buf.baseAddress == nil { p.deallocate() } }
            for i in 0..<n { (p + i).initialize(to: Atomic(min(max(chunks(i), 0), Int(Int32.max)) << 32)) }
            defer { p.deinitialize(count: n) }
            return body(ChunkRanges(state: p, parts: n))
        }
    }

    /// Runs `chunk(owner, index)` for the chunks that part `part` gets: its own from the
    /// front, then the others' from the back.
    func run(_ part: Int, _ chunk: (_ owner: Int, _ index: Int) -> Void) {
        while let i = claim(part, front: true) { chunk(part, i) }
        for d in 1..<max(parts, 1) {
            let victim = (part + d) % parts
            while let i = claim(victim, front: false) { chunk(victim, i) }
        }
    }

    /// Runs `body(part, range)` for every chunk of `parts` shares of indices, over the pool:
    /// share `p` is `bounds(p)..<bounds(p + 1)` (bounds never decreasing), cut in chunks of
    /// `chunk` indices; pool item `p` runs its share's chunks from the front, then the other
    /// shares' unclaimed chunks from the back (``run(_:_:)``). `part` is the item that runs the
    /// chunk (for its scratch), not the share the chunk came from.
    static func parallelFor(parts: Int, chunk: Int, bounds: (Int) -> Int,
                            _ body: (_ part: Int, _ range: Range<Int>) -> Void) {
        let size = max(chunk, 1)
        with(parts: parts, chunks: { p in (bounds(p + 1) - bounds(p) + size - 1) / size }) { ranges in
            Threading.parallelFor(parts) { part in
                ranges.run(part) { owner, index in
                    let lo = bounds(owner) + index * size
                    body(part, lo..<min(bounds(owner + 1), lo + size))
                }
            }
        }
    }

    /// Takes part `part`'s next chunk from the front or the back; nil when none is left.
    private func claim(_ part: Int, front: Bool) -> Int? {
        let s = state + part
        var current = s.pointee.load(ordering: .relaxed)
        while true {
            let first = current & 0xFFFF_FFFF, end = current >> 32
            if first >= end { return nil }
            let next = front ? current + 1 : (end - 1) << 32 | first
            let (exchanged, seen) = s.pointee.compareExchange(expected: current, desired: next, ordering: .relaxed)
            if exchanged { return front ? first : end - 1 }
            current = seen
        }
    }
}

/// Nanoseconds on the monotonic clock.
@inline(__always)
func monotonicNanoseconds() -> Int {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Int(t.tv_sec) * 1_000_000_000 + Int(t.tv_nsec)
}

/// When the pool's calls run on the caller alone, because its workers keep it waiting.
///
/// A process that shares its cores with other busy ones has workers preempted in the middle
/// of their share, and each such worker holds its call up until it runs again, milliseconds
/// later: beside a busy loop on the second core, ResNet-50 took longer at 2 threads than at
/// 1 (79 against 70 ms). So the caller times each call: its own items (`own`, the chunks it
/// took from a held-up worker included) and its wait for the workers after them (`waited`).
/// The calls are judged in windows of at least ``windowNanoseconds`` of such time (sooner
/// when they already waited a third of that, longer than they ran): a window that waited
/// more than a third of its time (``waitShareDivisor``) starts a stretch
/// (``minStretchNanoseconds``) whose calls run all their items on the caller; after it the
/// workers are tried again. A stretch that starts within ``episodeNanoseconds`` of the last
/// one's end is twice as long as that one, up to ``maxStretchNanoseconds``; later, a new
/// episode starts from the shortest. A call that had to wake a sleeping worker is not
/// judged (its wait may be the wake-up).
///
/// Why the share of waiting, not a count of late calls: beside a busy loop the workers wait
/// on every other time slice, half of the time or more, and one thread is faster; on a
/// virtual machine whose host takes a core for a few milliseconds now and then (a burst of
/// 2 ms every 20 ms here), a held-up worker costs its call that burst, a tenth of the time
/// or less, and two threads stay far faster than one. Going solo on the second late call,
/// as this did before, made ResNet-50 take 1.5× as long under such bursts (1.44–1.49× ONNX
/// Runtime, which hardly slowed). Results do not change: an item computes the same bits
/// whichever thread runs it.
///
/// A pure state machine over the times it is given (tested with made-up clocks).
struct LateWorkerPolicy {
    /// Calls are judged once their own and waiting time add up to this.
    static let windowNanoseconds = 30_000_000
    /// A window goes solo when it waited more than 1 / this of its time.
    static let waitShareDivisor = 3
    static let minStretchNanoseconds = 20_000_000
    static let maxStretchNanoseconds = 320_000_000
    /// A stretch that starts within this of the last one's end is twice as long as that one.
    static let episodeNanoseconds = 1_000_000_000

    /// The end of the current solo stretch (monotonic ns); 0 when there is none.
    private(set) var soloUntil = 0
    /// The last stretch's length and end (0 before the first).
    private(set) var lastStretchNanoseconds = 0
    private var lastStretchEnd = 0
    /// Stretches started so far.
    private(set) var stretches = 0
    /// The current window: the callers' own time and their waits so far.
    private(set) var windowOwn = 0
    private(set) var windowWaited = 0

    /// Whether a call starting at `now` runs on the caller alone (ends a stretch that is over).
    mutating func runsSolo(at now: Int) -> Bool {
        if soloUntil == 0 { return false }
        if now < soloUntil { return true }
        soloUntil = 0
        return false
    }

    /// A parallel call whose caller ran its own items for `own` ns, then waited `waited` ns
    /// (0 when the workers were done) for its workers, ending at `now`.
    mutating func record(own: Int, waited: Int, at now: Int) {
        // (Clamped: times never go backwards, but a sum must not overflow on bad input.)
        let limit = 1 << 40
        windowOwn = min(windowOwn + min(max(own, 0), limit), limit)
        windowWaited = min(windowWaited + min(max(waited, 0), limit), limit)
        let total = windowOwn + windowWaited
        // Waits of a third of a window already, and longer than the calls' own time: no
        // need to see the rest (beside a busy loop, this halves the time the workers are
        // tried after each stretch).
        let early = windowWaited * LateWorkerPolicy.waitShareDivisor >= LateWorkerPolicy.windowNanoseconds
            && windowWaited > windowOwn
        if total < LateWorkerPolicy.windowNanoseconds && !early { return }
        let late = windowWaited * LateWorkerPolicy.waitShareDivisor > total
        windowOwn = 0
        windowWaited = 0
        if !late { return }
        let sameEpisode = lastStretchNanoseconds > 0 && now - lastStretchEnd < LateWorkerPolicy.episodeNanoseconds
        let length = sameEpisode ? min(2 * lastStretchNanoseconds, LateWorkerPolicy.maxStretchNanoseconds)
                                 : LateWorkerPolicy.minStretchNanoseconds
        soloUntil = now + length
        lastStretchNanoseconds = length
        lastStretchEnd = soloUntil
        stretches += 1
    }
}

/// What a new worker thread needs: its pool, index and the pool's generation at its start.
private final class WorkerContext {
    let pool: ThreadPool
    let index: Int
    let generation: UInt64
    init(pool: ThreadPool, index: Int, generation: UInt64) {
        self.pool = pool
        self.index = index
        self.generation = generation
    }
}

/// How many CPUs the process may use: the pieces of ``Threading/defaultThreadCount``. The
/// parsers are pure functions of the files' contents (tested on samples); the readers
/// return nil for anything missing or unparsable.
enum CPUQuota {
    /// The default thread count: the override when given, else the affinity count lowered
    /// to the quota; clamped to 1…``Threading/maxThreads``.
    static func defaultThreads(override: Int?, affinity: Int, quota: Int?) -> Int {
        let n = override ?? min(affinity, quota ?? Int.max)
        return max(1, min(n, Threading.maxThreads))
    }

    /// `SCNN_NUM_THREADS`'s value as a thread count: a positive decimal integer (spaces
    /// around it allowed); nil for anything else (unset, empty, 0, negative, junk, overflow).
    static func threadOverride(_ value: String?) -> Int? {
        guard let v = value?.trimmingSpaces, !v.isEmpty, v.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              let n = Int(v), n >= 1 else { return nil }
        return n
    }

    /// CPUs allowed by a cgroup v2 `cpu.max` file ("quota period", or "max period" for no
    /// limit): ⌈quota / period⌉, at least 1; nil for no limit or unparsable text.
    static func parseCPUMax(_ text: String) -> Int? {
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
        guard parts.count >= 1, parts[0] != "max", let quota = Int(parts[0]) else { return nil }
        let period = parts.count >= 2 ? Int(parts[1]) : 100_000
        return ceilQuota(quota, period)
    }

    /// CPUs allowed by cgroup v1's `cpu.cfs_quota_us` and `cpu.cfs_period_us`: ⌈quota /
    /// period⌉, at least 1; nil when the quota is -1 (no limit) or either is unparsable.
    static func parseCFS(quota: String, period: String) -> Int? {
        guard let q = Int(quota.trimmingSpaces), let p = Int(period.trimmingSpaces) else { return nil }
        return ceilQuota(q, p)
    }

    private static func ceilQuota(_ quota: Int, _ period: Int?) -> Int? {
        guard quota > 0, let period, period > 0 else { return nil }
        return max(1, quota / period + (quota % period == 0 ? 0 : 1))
    }

    /// The process's cgroup paths from /proc/self/cgroup's text: the v2 path (the "0::"
    /// line) and the v1 path of the hierarchy holding the `cpu` controller.
    static func parseProcCgroup(_ text: String) -> (v2: String?, v1cpu: String?) {
        var v2: String? = nil, v1: String? = nil
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            if fields[0] == "0" && fields[1].isEmpty {
                v2 = String(fields[2])
            } else if fields[1].split(separator: ",").contains("cpu") {
                v1 = String(fields[2])
            }
        }
        return (v2, v1)
    }

    /// `path` and its ancestors up to "/" ("/a/b" → ["/a/b", "/a", "/"]).
    static func ancestors(_ path: String) -> [String] {
        var out: [String] = []
        var parts = path.split(separator: "/").map(String.init)
        while true {
            out.append("/" + parts.joined(separator: "/"))
            if parts.isEmpty { break }
            parts.removeLast()
        }
        return out
    }

    /// The tightest CPU quota of this process's cgroups (and their ancestors), in CPUs; nil
    /// when there is none or nothing could be read.
    static func cgroupQuota() -> Int? {
        guard let text = readSmallFile("/proc/self/cgroup") else { return nil }
        let (v2, v1) = parseProcCgroup(text)
        var best: Int? = nil
        func take(_ q: Int?) { if let q { best = min(best ?? q, q) } }
        if let v2 {
            // In a container the listed path may be outside its view: the mount root counts too.
            for dir in ancestors(v2) + ["/"] {
                if let t = readSmallFile("/sys/fs/cgroup" + (dir == "/" ? "" : dir) + "/cpu.max") { take(parseCPUMax(t)) }
            }
        }
        if let v1 {
            for mount in ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpuacct,cpu"] {
                for dir in ancestors(v1) + ["/"] {
                    let base = mount + (dir == "/" ? "" : dir)
                    if let q = readSmallFile(base + "/cpu.cfs_quota_us"), let p = readSmallFile(base + "/cpu.cfs_period_us") {
                        take(parseCFS(quota: q, period: p))
                    }
                }
            }
        }
        return best
    }

    /// CPUs in this process's affinity mask (what sched_getaffinity gives, read from
    /// /proc/self/status's `Cpus_allowed_list`); nil when it cannot be read.
    static func affinityCount() -> Int? {
        guard let text = readSmallFile("/proc/self/status") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("Cpus_allowed_list:") {
            return parseCPUList(String(line.dropFirst("Cpus_allowed_list:".count)))
        }
        return nil
    }

    /// The number of CPUs in a Linux CPU list such as "0-3,8,10-11" (7); nil when empty
    /// or unparsable.
    static func parseCPUList(_ text: String) -> Int? {
        let t = text.trimmingSpaces
        guard !t.isEmpty else { return nil }
        var n = 0
        for part in t.split(separator: ",", omittingEmptySubsequences: false) {
            let ends = part.split(separator: "-", omittingEmptySubsequences: false)
            guard ends.count == 1 || ends.count == 2, let a = Int(ends[0]), a >= 0 else { return nil }
            let b = ends.count == 2 ? Int(ends[1]) : a
            guard let b, b >= a, b - a < 1 << 20 else { return nil }
            n += b - a + 1
            guard n < 1 << 30 else { return nil }
        }
        return n >= 1 ? n : nil
    }

    /// An environment variable's value, nil when unset.
    static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// A small text file's contents (at most 64 KiB read), nil when it cannot be read.
    static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 65536 {
            let r = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4096) }
            if r < 0 { return nil }
            if r == 0 { break }
            bytes += chunk[0..<r]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines.
    fileprivate var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        guard let a = firstIndex(where: { !isSpace($0) }), let b = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[a...b])
    }
}
