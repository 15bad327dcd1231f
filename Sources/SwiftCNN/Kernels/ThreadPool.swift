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
public enum Threading {
    /// Number of threads kernels use (the caller included), >= 1. Default: the number of
    /// online CPUs. Setting waits for a running parallel call to finish; set it before
    /// work or between calls. Values above ``maxThreads`` are clamped.
    public static var numThreads: Int {
        get { ThreadPool.shared.threadCount }
        set { ThreadPool.shared.setThreadCount(newValue) }
    }

    /// The default thread count: the number of online CPUs (at least 1).
    public static var defaultThreadCount: Int { ThreadPool.onlineCPUs }

    /// The largest accepted thread count.
    public static let maxThreads = 256

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
    /// Workers blocked on `workReady`, and whether the caller is blocked on `workDone`
    /// (both under `lock`): the wake-ups are sent only to threads that sleep.
    private var sleepers = 0
    private var callerSleeps = false

    private init() {
        desired = ThreadPool.onlineCPUs
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
    private func ensureWorkers(_ count: Int) {
        while workerCount < count {
            let ctx = Unmanaged.passRetained(WorkerContext(pool: self, index: workerCount,
                                                           generation: generation.load(ordering: .acquiring))).toOpaque()
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
            // Spinning workers see the new generation; sleeping ones need the broadcast (a
            // worker counts itself a sleeper, under the lock, before it checks the generation).
            if sleepers > 0 { pthread_cond_broadcast(workReady) }
            pthread_mutex_unlock(lock)

            runItems(escapable, count)

            if !ThreadPool.spin(until: { running.load(ordering: .acquiring) == 0 }) {
                pthread_mutex_lock(lock)
                callerSleeps = true
                while running.load(ordering: .acquiring) > 0 { pthread_cond_wait(workDone, lock) }
                callerSleeps = false
                pthread_mutex_unlock(lock)
            }
            body = nil
        }
    }

    /// Checks `done` until it holds (true) or ``spinNanoseconds`` have passed (false),
    /// yielding the CPU between checks.
    @inline(__always)
    private static func spin(until done: () -> Bool) -> Bool {
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        while true {
            for _ in 0..<16 {
                if done() { return true }
                sched_yield()
            }
            var t = timespec()
            clock_gettime(CLOCK_MONOTONIC, &t)
            let elapsed = (Int(t.tv_sec) - Int(start.tv_sec)) * 1_000_000_000 + (Int(t.tv_nsec) - Int(start.tv_nsec))
            if elapsed >= spinNanoseconds { return done() }
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
                sleepers += 1
                while generation.load(ordering: .acquiring) == seen { pthread_cond_wait(workReady, lock) }
                sleepers -= 1
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
