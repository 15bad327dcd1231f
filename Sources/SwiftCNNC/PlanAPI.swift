import SwiftCNN
import CSwiftCNNTypes

// MARK: - Model inference

/// Bytes of activation and scratch memory (Winograd transforms, small im2col matrices) one
/// forward pass of input_shape uses: the optimized forward plans its buffers once per input
/// shape and reuses them, buffers whose live ranges do not overlap sharing memory, so a
/// steady-state forward allocates only its result. Each forward running at the same time
/// (several threads on one model) uses its own such workspace. Weights, their packed copies,
/// the output and the GEMM's packing buffers (kept between calls by the process, a few MiB at
/// most) are not counted; forwards with the reference kernels (scnn_set_reference_kernels)
/// do not use it.
/// Plans the shape if no forward has yet (packing the weights, as the first forward would).
/// input_shape: 4 values [N, C, H, W], or NULL for the design size with N = 1.
/// Writes *out (0 on failure). Errors: INVALID_ARGUMENT (NULL model or out), SHAPE_MISMATCH
/// (input shape not accepted), OUT_OF_MEMORY.
@c(scnn_model_workspace_bytes)
public func scnnModelWorkspaceBytes(
    _ model: UnsafePointer<scnn_model>?, _ input_shape: UnsafePointer<Int64>?, _ out: UnsafeMutablePointer<Int64>?
) -> scnn_status {
    guarded {
        let o = try required(out, "out")
        o.pointee = 0
        let m = try modelArg(model).model
        let shape = optionalInts(input_shape, count: 4) ?? m.architecture.nominalInputShape(batch: 1)
        o.pointee = Int64(try m.workspaceBytes(forInput: shape))
    }
}
