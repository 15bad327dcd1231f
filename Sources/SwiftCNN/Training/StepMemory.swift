#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Memory reuse across training steps.
///
/// A training step allocates the same float buffers every time (activations, the tape,
/// gradients, packed weights, kernel scratch) and frees them by the end of the step. Left
/// to the C allocator, the large ones go back to the kernel and come back as fresh pages
/// that it must zero on first touch — for ResNet-18 at batch 32 about a fifth of a step's
/// time. While a step runs (``withStep(_:)``), every buffer ``Memory/allocateFloats(_:)``
/// hands out is remembered with its size; freed, it goes to a free list by exact size
/// instead of back to the allocator, and the next request of that size during a step takes
/// it from there. A steady-state step therefore asks the allocator for no float buffers
/// (``Memory/allocations`` does not move; ``reused`` counts the buffers taken from the lists).
///
/// Outside a step nothing is taken from the lists (inference allocates as before). The
/// lists hold at most ``limitBytes``; they are emptied when the last ``Trainer`` goes away
/// (``trainerEnded()``) or by ``trim()``, and with no trainer alive a freed buffer goes
/// straight back to the allocator (an optimizer's state, freed after its trainer). Buffers come back uninitialized, as
/// ``Memory/allocateFloats(_:)``'s always do.
enum StepMemory {
    /// Most bytes the free lists keep (a quarter of physical memory, at most 4 GiB).
    static let limitBytes = min(Memory.physicalBytes / 4, 4 << 30)

    private struct State {
        /// Sizes in bytes of the buffers allocated during a step and not yet given back
        /// to the allocator (live or on a free list).
        var sizes: [UnsafeMutableRawPointer: Int] = [:]
        /// Freed buffers by size in bytes.
        var lists: [Int: [UnsafeMutableRawPointer]] = [:]
        var cachedBytes = 0
    }

    private nonisolated(unsafe) static var state = State()
    private nonisolated(unsafe) static let lock: UnsafeMutablePointer<pthread_mutex_t> = {
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(m, nil)
        return m
    }()

    /// Steps in progress (any thread).
    private static let active = Atomic<Int>(0)
    /// Whether any buffer is tracked (a lock-free check on every free).
    private static let tracking = Atomic<Bool>(false)
    /// Live trainers (see ``trainerStarted()``).
    private static let trainers = Atomic<Int>(0)
    /// Buffers handed out from the free lists so far (process-wide; tests and benchmarks
    /// take differences).
    static let reused = Atomic<Int>(0)

    @inline(__always)
    private static func locked<R>(_ body: (inout State) -> R) -> R {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return body(&state)
    }

    /// Runs `body` as a training step: buffers allocated and freed inside are reused by
    /// the next step.
    static func withStep<R>(_ body: () throws -> R) rethrows -> R {
        active.add(1, ordering: .relaxed)
        defer { active.subtract(1, ordering: .relaxed) }
        return try body()
    }

    /// A buffer of `bytes` from the free lists during a step, else nil.
    @inline(__always)
    static func take(_ bytes: Int) -> UnsafeMutableRawPointer? {
        guard active.load(ordering: .relaxed) > 0, tracking.load(ordering: .relaxed) else { return nil }
        let p: UnsafeMutableRawPointer? = locked { s in
            guard var list = s.lists[bytes], let p = list.popLast() else { return nil }
            s.lists[bytes] = list.isEmpty ? nil : list
            s.cachedBytes -= bytes
            return p
        }
        if p != nil { reused.add(1, ordering: .relaxed) }
        return p
    }

    /// Remembers a buffer fresh from the allocator when a step is running.
    @inline(__always)
    static func allocated(_ p: UnsafeMutableRawPointer, bytes: Int) {
        guard active.load(ordering: .relaxed) > 0 else { return }
        locked { s in
            s.sizes[p] = bytes
            tracking.store(true, ordering: .relaxed)
        }
    }

    /// Keeps a freed buffer for reuse; false when it is not tracked (or the lists are full)
    /// and the caller must give it back to the allocator.
    @inline(__always)
    static func release(_ p: UnsafeMutableRawPointer) -> Bool {
        guard tracking.load(ordering: .relaxed) else { return false }
        let keep = trainers.load(ordering: .relaxed) > 0
        return locked { s in
            guard let bytes = s.sizes[p] else { return false }
            guard keep, s.cachedBytes + bytes <= limitBytes else {
                // No trainer left (or the lists are full): back to the allocator, untracked.
                s.sizes[p] = nil
                if s.sizes.isEmpty { tracking.store(false, ordering: .relaxed) }
                return false
            }
            s.lists[bytes, default: []].append(p)
            s.cachedBytes += bytes
            return true
        }
    }

    /// Gives every buffer on the free lists back to the allocator (live tracked buffers
    /// stay tracked: freed later, they are kept again).
    static func trim() {
        let freed: [UnsafeMutableRawPointer] = locked { s in
            let all = s.lists.values.flatMap { $0 }
            for p in all { s.sizes[p] = nil }
            s.lists = [:]
            s.cachedBytes = 0
            if s.sizes.isEmpty { tracking.store(false, ordering: .relaxed) }
            return all
        }
        for p in freed { free(p) }
    }

    /// Bytes on the free lists now.
    static var cachedBytes: Int { locked { $0.cachedBytes } }

    /// A ``Trainer`` was made.
    static func trainerStarted() { trainers.add(1, ordering: .relaxed) }

    /// A ``Trainer`` went away: the last one empties the free lists.
    static func trainerEnded() {
        if trainers.subtract(1, ordering: .relaxed).newValue <= 0 { trim() }
    }
}
