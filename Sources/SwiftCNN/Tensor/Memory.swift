#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Float buffers for tensors and kernel scratch space.
///
/// Swift's own allocator aborts the process when memory runs out, and Linux over-commits,
/// so an absurd size could also "succeed" and be killed later on first touch. Buffers here
/// are therefore allocated with `posix_memalign` (64-byte aligned, for SIMD), refused up
/// front when larger than the machine's physical memory, and reported as
/// ``SwiftCNNError/Kind/outOfMemory`` when the allocator says no.
public enum Memory {
    /// Alignment of every buffer, in bytes: one cache line, enough for AVX-512 loads.
    public static let alignment = 64

    /// Physical memory of this machine in bytes (a cap on any single allocation).
    public static let physicalBytes: Int = {
        let pages = sysconf(Int32(_SC_PHYS_PAGES))
        let size = sysconf(Int32(_SC_PAGESIZE))
        if pages <= 0 || size <= 0 { return Int.max }
        let (r, o) = pages.multipliedReportingOverflow(by: size)
        return o ? Int.max : r
    }()

    /// Allocates room for `count` floats, uninitialized, or throws.
    public static func allocateFloats(_ count: Int) throws -> UnsafeMutablePointer<Float> {
        if count < 0 { throw SwiftCNNError.invalidArgument("negative element count \(count)") }
        let bytes = try Checked.mul(max(count, 1), MemoryLayout<Float>.stride, "buffer size in bytes")
        if bytes > physicalBytes {
            throw SwiftCNNError.outOfMemory(
                "a buffer of \(count) floats (\(bytes) bytes) is larger than this machine's memory (\(physicalBytes) bytes)")
        }
        if let p = StepMemory.take(bytes) { return p.bindMemory(to: Float.self, capacity: max(count, 1)) }
        var raw: UnsafeMutableRawPointer? = nil
        let rc = posix_memalign(&raw, alignment, bytes)
        guard rc == 0, let p = raw else {
            throw SwiftCNNError.outOfMemory("could not allocate \(bytes) bytes")
        }
        allocations.add(1, ordering: .relaxed)
        allocatedBytes.add(bytes, ordering: .relaxed)
        StepMemory.allocated(p, bytes: bytes)
        return p.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    /// Buffers and bytes allocated so far by ``allocateFloats(_:)`` (process-wide; tests use
    /// the difference over a call to check that it allocates nothing large).
    static let allocations = Atomic<Int>(0)
    static let allocatedBytes = Atomic<Int>(0)

    /// Frees a buffer from ``allocateFloats(_:)``.
    public static func free(_ p: UnsafeMutablePointer<Float>) {
        if StepMemory.release(UnsafeMutableRawPointer(p)) { return }  // kept for the next training step
        cFree(UnsafeMutableRawPointer(p))
    }
}

/// The C library's `free`, out of the way of ``Memory/free(_:)``'s name.
@inline(__always)
private func cFree(_ p: UnsafeMutableRawPointer) {
    #if canImport(Glibc)
    Glibc.free(p)
    #elseif canImport(Musl)
    Musl.free(p)
    #elseif canImport(Darwin)
    Darwin.free(p)
    #endif
}

/// A scratch buffer of floats that frees itself: for kernels' temporary space.
public final class ScratchBuffer {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    /// Allocates `count` floats; `zeroed` fills them with 0.
    public init(count: Int, zeroed: Bool = false) throws {
        pointer = try Memory.allocateFloats(count)
        self.count = count
        if zeroed { pointer.initialize(repeating: 0, count: count) }
    }

    deinit { Memory.free(pointer) }
}
