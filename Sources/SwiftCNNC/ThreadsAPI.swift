import SwiftCNN
import CSwiftCNNTypes

// MARK: - Threads

/// Sets how many threads the library's kernels use, the calling thread included
/// (default: scnn_default_num_threads -- SCNN_NUM_THREADS, else the CPUs this process may
/// run on). 0 restores the default; 1 runs everything on the
/// calling thread and starts no threads. Values above 256 are clamped to 256.
/// The worker threads are created once, lazily, on the first call that needs them, and
/// live for the process. Results are bitwise identical for every thread count.
/// Thread safety: call it before work or between calls; a call made while another thread
/// runs an operation waits for that operation's parallel part to finish.
/// Returns SCNN_STATUS_OK, or SCNN_STATUS_INVALID_ARGUMENT for a negative count.
@c(scnn_set_num_threads)
public func scnnSetNumThreads(_ count: Int32) -> scnn_status {
    guarded {
        guard count >= 0 else {
            throw SwiftCNNError.invalidArgument(
                "scnn_set_num_threads: the thread count must be >= 0 (0 = the default); got \(count)")
        }
        Threading.numThreads = count == 0 ? Threading.defaultThreadCount : Int(count)
    }
}

/// The number of threads the library's kernels use (>= 1), the calling thread included.
@c(scnn_get_num_threads)
public func scnnGetNumThreads() -> Int32 {
    Int32(clamping: Threading.numThreads)
}
