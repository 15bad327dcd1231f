// Unaligned vector loads and stores for the kernels, in wrappers that the optimizer inlines
// into their callers with the access already lowered to one instruction.
//
// Why not call the standard library's `loadUnaligned(fromByteOffset:as:)` and
// `storeBytes(of:toByteOffset:as:)` directly: their specializations for SIMD16<Float> are
// ordinary inlinable functions, and Swift's inliner stops inlining those into a caller that
// has grown past its size limit. The AVX-512 build's largest kernels (the 12-row GEMM
// micro-kernels with their epilogues, the direct convolution's 12-row blocks) are past it,
// so each load and store there became a call, and a call clobbers every vector register:
// the 24 accumulators were spilled and reloaded around each one (the 7×7 stem ran 2.7× as
// long as the AVX2 build's on the same AMD EPYC). These wrappers are small callers, so the
// standard library's function is inlined into them first; they are then always inlined.

extension Optimized {
    /// 16 floats from `p + byteOffset` (any alignment).
    @inline(__always)
    static func loadVector(_ p: UnsafeRawPointer, _ byteOffset: Int = 0) -> SIMD16<Float> {
        p.loadUnaligned(fromByteOffset: byteOffset, as: SIMD16<Float>.self)
    }

    /// 8 floats from `p + byteOffset` (any alignment).
    @inline(__always)
    static func loadVector(_ p: UnsafeRawPointer, _ byteOffset: Int = 0) -> SIMD8<Float> {
        p.loadUnaligned(fromByteOffset: byteOffset, as: SIMD8<Float>.self)
    }

    /// Stores 16 floats at `p + byteOffset` (any alignment).
    @inline(__always)
    static func storeVector(_ v: SIMD16<Float>, _ p: UnsafeMutableRawPointer, _ byteOffset: Int = 0) {
        p.storeBytes(of: v, toByteOffset: byteOffset, as: SIMD16<Float>.self)
    }

    /// Stores 8 floats at `p + byteOffset` (any alignment).
    @inline(__always)
    static func storeVector(_ v: SIMD8<Float>, _ p: UnsafeMutableRawPointer, _ byteOffset: Int = 0) {
        p.storeBytes(of: v, toByteOffset: byteOffset, as: SIMD8<Float>.self)
    }
}
