// Software prefetch for the kernels whose operands stream from beyond the core's caches.
//
// Swift has no prefetch function; LLVM's intrinsic is declared here by its name, which the
// compiler lowers to the target's instruction (PREFETCHT0 on x86-64, PRFM on AArch64) or to
// nothing. A prefetch never faults, so addresses past the end of a buffer are harmless.

/// `llvm.prefetch(address, rw, locality, cache type)`: rw 0 = read, locality 0 … 3 (3 =
/// keep in every level), cache type 1 = data.
@_silgen_name("llvm.prefetch.p0")
private func llvmPrefetch(_ address: UnsafeRawPointer, _ rw: Int32, _ locality: Int32, _ cacheType: Int32)

extension Optimized {
    /// Asks for the cache line at `address` to be brought into every cache level for reading.
    /// A hint with no effect on results; it never faults.
    /// Debug builds leave it out: with -sanitize=thread the debug build emits the call as an
    /// `invoke` (with an unwind edge), which LLVM's verifier rejects for an intrinsic.
    @inline(__always)
    static func prefetch(_ address: UnsafeRawPointer) {
        #if !DEBUG
        llvmPrefetch(address, 0, 3, 1)
        #endif
    }
}
