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

/// The pool behind ``Threading`` (pthreads, a mutex and two condition variables).
final class ThreadPool: @unchecked Sendable {
    static let shared = ThreadPool()

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
    private var generation: UInt64 = 0
    /// Workers taking part in the current generation (indices 0..<participants).
    private var participants = 0
    private var running = 0
    private var body: ((Int) -> Void)? = nil
    private var itemCount = 0
    private let nextItem = Atomic<Int>(0)

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
            let ctx = Unmanaged.passRetained(WorkerContext(pool: self, index: workerCount, generation: generation)).toOpaque()
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
            participants = n
            running = n
            generation &+= 1
            pthread_cond_broadcast(workReady)
            pthread_mutex_unlock(lock)

            runItems(escapable, count)

            pthread_mutex_lock(lock)
            while running > 0 { pthread_cond_wait(workDone, lock) }
            body = nil
            pthread_mutex_unlock(lock)
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
        pthread_mutex_lock(lock)
        while true {
            while generation == seen { pthread_cond_wait(workReady, lock) }
            seen = generation
            guard index < participants else { continue }
            pthread_mutex_unlock(lock)
            runCurrent()
            pthread_mutex_lock(lock)
            running -= 1
            if running == 0 { pthread_cond_signal(workDone) }
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
