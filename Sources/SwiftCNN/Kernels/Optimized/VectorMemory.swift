// Unaligned vector loads and stores for the kernels, in wrappers that the optimizer inlines
// into their callers with the access already lowered to one instruction.
//
// Why not call the standard library's `loadUnaligned(fromByteOffset:as:)` and
// `storeBytes(of:toByteOffset:as:)` directly: in the AVX-512 build their specializations for
// SIMD16<Float> stayed out of line in the largest kernels (the 12-row GEMM micro-kernels with
// their epilogues, the direct convolution's 12-row blocks), each load and store a call, and a
// call clobbers every vector register, so the 24 accumulators were spilled and reloaded
// around each one (the 7×7 stem ran 2.7× as long as the AVX2 build's on the same AMD EPYC
// Zen 4). The AVX2 build's 6-row kernels, half the size, had them inlined, which points at
// the inliner's limit on a caller's size. These wrappers are small, so the standard
// library's function is inlined into them, and they are always inlined into the kernels;
// the disassembly of the AVX-512 build has no call to either left.

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

    /// 4 floats from `p` (any alignment).
    @inline(__always)
    static func loadQuad(_ p: UnsafePointer<Float>) -> SIMD4<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
    }

    /// Stores 4 floats at `p` (any alignment).
    @inline(__always)
    static func storeQuad(_ v: SIMD4<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD4<Float>.self)
    }
}
