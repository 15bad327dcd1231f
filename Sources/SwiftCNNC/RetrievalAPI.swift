import CSwiftCNNTypes
import SwiftCNN

// MARK: - Retrieval

/// How an scnn_index compares vectors (scnn_index_create).
@c public enum scnn_index_metric: Int32 {
    /// Cosine similarity: vectors and queries scaled to unit length (a zero vector stays
    /// zero: similarity 0 with everything); scores in [-1, 1], higher is nearer.
    case cosine = 0
    /// Squared Euclidean distance |q - x|^2 (computed as |q|^2 - 2 q.x + |x|^2, clamped at
    /// 0); lower is nearer.
    case l2 = 1
}

typealias IndexHandle = UnsafeMutablePointer<scnn_index>

/// The index behind a handle, or INVALID_ARGUMENT when it is NULL.
func indexArg(_ handle: UnsafePointer<scnn_index>?) throws -> RetrievalIndex {
    Unmanaged<RetrievalIndex>.fromOpaque(UnsafeRawPointer(try required(handle, "index"))).takeUnretainedValue()
}

/// Stores a new handle for `index` in `out`.
func storeIndex(_ index: RetrievalIndex, _ out: UnsafeMutablePointer<IndexHandle?>) {
    out.pointee = Unmanaged.passRetained(index).toOpaque().assumingMemoryBound(to: scnn_index.self)
}

/// A C int64 as a Swift Int, or INVALID_ARGUMENT naming it (only where Int is narrower).
func intArg(_ v: Int64, _ name: String) throws -> Int {
    guard let i = Int(exactly: v) else { throw SwiftCNNError.invalidArgument("\(name) \(v) is out of range") }
    return i
}

/// Makes an empty index of `dim`-long vectors compared by `metric` (an scnn_index_metric:
/// COSINE or L2) in *out, freed with scnn_index_destroy. A vector added without an id gets
/// its running number: how many vectors were added before it (0, 1, 2, ...; reset restarts). Errors: INVALID_ARGUMENT (NULL out, dim < 1, an unknown
/// metric). *out is NULL on failure.
@c(scnn_index_create)
public func scnnIndexCreate(_ dim: Int64, _ metric: Int32, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_index>?>?) -> scnn_status {
    guarded {
        let o = try required(out, "out")
        o.pointee = nil
        guard let m = RetrievalMetric(rawValue: metric) else {
            throw SwiftCNNError.invalidArgument("index: metric must be SCNN_INDEX_METRIC_COSINE (0) or L2 (1); got \(metric)")
        }
        storeIndex(try RetrievalIndex(dimension: try intArg(dim, "dim"), metric: m), o)
    }
}

/// Frees an index. NULL is a no-op.
@c(scnn_index_destroy)
public func scnnIndexDestroy(_ index: UnsafeMutablePointer<scnn_index>?) {
    guard let index else { return }
    Unmanaged<RetrievalIndex>.fromOpaque(UnsafeRawPointer(index)).release()
}

/// Adds `n` vectors, row-major in `data` (n * dimension floats), with the ids in `ids` (n
/// values, each >= 0; uniqueness is not checked), or, when `ids` is NULL, the running
/// numbers. `n` = 0 adds nothing (data may then be NULL). Nothing is added on failure.
/// Needs the index alone. Errors: INVALID_ARGUMENT (NULL index or data, n < 0, a NaN or
/// infinite value or a squared norm of FLT_MAX/4 or more -- the message names the row --,
/// a negative id), OUT_OF_MEMORY.
@c(scnn_index_add)
public func scnnIndexAdd(_ index: UnsafeMutablePointer<scnn_index>?, _ data: UnsafePointer<Float>?, _ n: Int64,
                         _ ids: UnsafePointer<Int64>?) -> scnn_status {
    guarded {
        let idx = try indexArg(index)
        try idx.add(data, count: try intArg(n, "n"), ids: ids)
    }
}

/// Number of vectors in the index; 0 for NULL.
@c(scnn_index_count)
public func scnnIndexCount(_ index: UnsafePointer<scnn_index>?) -> Int64 {
    guard let idx = try? indexArg(index) else { return 0 }
    return Int64(idx.count)
}

/// Length of the index's vectors; 0 for NULL.
@c(scnn_index_dimension)
public func scnnIndexDimension(_ index: UnsafePointer<scnn_index>?) -> Int64 {
    guard let idx = try? indexArg(index) else { return 0 }
    return Int64(idx.dimension)
}

/// The index's scnn_index_metric; -1 for NULL.
@c(scnn_index_get_metric)
public func scnnIndexGetMetric(_ index: UnsafePointer<scnn_index>?) -> Int32 {
    guard let idx = try? indexArg(index) else { return -1 }
    return idx.metric.rawValue
}

/// The `k` nearest vectors to each of `nq` queries (row-major in `queries`, nq * dimension
/// floats): writes their ids to `ids` and their scores (cosine similarity, or squared L2
/// distance) to `scores`, both caller-sized nq * k, row by row, best first. Equal scores come
/// in the order the vectors were added. When the index holds fewer than k vectors, each row
/// ends with id -1 and score NaN. Exact search: per block of the database one matrix product
/// with the queries, then a bounded top-k selection per query (memory bounded by the block
/// sizes, not the database). nq = 0 writes nothing (the pointers may then be NULL).
/// Errors: INVALID_ARGUMENT (NULL index or pointer, nq < 0, k < 1, a NaN or infinite query
/// value or too large a norm, nq * k overflowing), OUT_OF_MEMORY; the outputs are then
/// unspecified.
@c(scnn_index_search)
public func scnnIndexSearch(_ index: UnsafePointer<scnn_index>?, _ queries: UnsafePointer<Float>?, _ nq: Int64,
                            _ k: Int64, _ ids: UnsafeMutablePointer<Int64>?, _ scores: UnsafeMutablePointer<Float>?) -> scnn_status {
    guarded {
        let idx = try indexArg(index)
        try idx.search(queries, count: try intArg(nq, "nq"), k: try intArg(k, "k"), ids: ids, scores: scores)
    }
}

/// Removes every vector whose id is one of the `n` values in `ids`; the others keep their
/// order. Writes how many were removed to *removed (NULL: not wanted). Needs the index alone.
/// Errors: INVALID_ARGUMENT (NULL index, n < 0, NULL ids with n > 0).
@c(scnn_index_remove)
public func scnnIndexRemove(_ index: UnsafeMutablePointer<scnn_index>?, _ ids: UnsafePointer<Int64>?, _ n: Int64,
                            _ removed: UnsafeMutablePointer<Int64>?) -> scnn_status {
    guarded {
        removed?.pointee = 0
        let idx = try indexArg(index)
        let count = try intArg(n, "n")
        guard count >= 0 else { throw SwiftCNNError.invalidArgument("index remove: n must be >= 0; got \(n)") }
        if count == 0 { return }
        _ = try Checked.mul(count, 8, "ids size in bytes")
        let p = try required(ids, "ids")
        let r = idx.remove(ids: Set((0..<count).map { p[$0] }))
        removed?.pointee = Int64(r)
    }
}

/// Empties the index (dimension and metric stay; ids without caller values start again at
/// 0). Needs the index alone. Errors: INVALID_ARGUMENT (NULL index).
@c(scnn_index_reset)
public func scnnIndexReset(_ index: UnsafeMutablePointer<scnn_index>?) -> scnn_status {
    guarded { try indexArg(index).reset() }
}

/// Saves the index to `path` as a safetensors file, atomically (readers see the old file or
/// the complete new one): tensors "vectors" (F32 [count, dim], unit length for cosine) and
/// "ids" (I64 [count]); metadata "format" = "swiftcnn-retrieval-index", "version" = "1",
/// "metric" ("cosine" or "l2"), "dimension", "next_id". Errors: INVALID_ARGUMENT (NULL index
/// or path, empty path), IO (naming the path and the reason).
@c(scnn_index_save)
public func scnnIndexSave(_ index: UnsafePointer<scnn_index>?, _ path: UnsafePointer<CChar>?) -> scnn_status {
    guarded {
        let idx = try indexArg(index)
        try idx.save(to: try pathArg(path))
    }
}

/// Loads an index saved by scnn_index_save into *out (freed with scnn_index_destroy).
/// Errors: INVALID_ARGUMENT (NULL pointer, empty path), IO (missing or unreadable file),
/// FORMAT (not an index file, or shapes or values that disagree with the format),
/// UNSUPPORTED (another format version), OUT_OF_MEMORY. *out is NULL on failure.
@c(scnn_index_load)
public func scnnIndexLoad(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_index>?>?) -> scnn_status {
    guarded {
        let o = try required(out, "out")
        o.pointee = nil
        storeIndex(try RetrievalIndex.load(from: try pathArg(path)), o)
    }
}

/// Features of each example of `input` ([N, ...], as scnn_model_forward takes), flattened per
/// example, as a new [N, D] tensor in *out (freed with scnn_tensor_destroy). `node`: a name
/// scnn_model_node_name lists (that node's output), or NULL for the input of the model's
/// last linear layer (a classifier's penultimate features: LeNet-5's 84, ResNet-18's 512).
/// Runs in inference mode, 32 examples per forward pass (memory is one such pass plus the
/// result). Errors: INVALID_ARGUMENT (NULL model, input or out, an unknown node, a model
/// without a linear layer and node NULL), SHAPE_MISMATCH (an input the model does not take),
/// OUT_OF_MEMORY. *out is NULL on failure.
@c(scnn_model_embed)
public func scnnModelEmbed(_ model: UnsafePointer<scnn_model>?, _ input: UnsafePointer<scnn_tensor>?,
                           _ node: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_tensor>?>?) -> scnn_status {
    produce(out) {
        let m = try modelArg(model).model
        let x = try tensorArg(input, "input")
        return try m.embed(x, node: node.map { String(cString: $0) })
    }
}
