#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Naive reference kernels: direct loops over raw pointers and a validated geometry.
///
/// They are slow on purpose and stay forever as the oracle that optimized kernels are
/// tested against. Every function here expects its geometry to have been validated by
/// the public op that calls it (shapes, strides, sizes that fit in memory).
public enum Reference {}

/// Optimized kernels (im2col + blocked GEMM, …). Same contracts as their ``Reference``
/// twins; `KernelDispatch.forceReference` switches every op back to the reference.
public enum Optimized {}

/// Chooses between optimized and reference kernels, process-wide.
public enum KernelDispatch {
    /// When true, every op runs its naive reference kernel instead of the optimized one.
    /// Safe to read and write from any thread. Default: false.
    public static var forceReference: Bool {
        get { flag.load() }
        set { flag.store(newValue) }
    }

    private static let flag = LockedFlag()
}

/// A Bool behind a pthread mutex (no Foundation, no Synchronization module needed).
private final class LockedFlag: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value = false

    init() {
        mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func load() -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return value
    }

    func store(_ v: Bool) {
        pthread_mutex_lock(mutex)
        value = v
        pthread_mutex_unlock(mutex)
    }
}
