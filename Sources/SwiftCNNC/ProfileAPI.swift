import CSwiftCNNTypes
import SwiftCNN

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Per-layer profiler

/// The object behind an `scnn_profile *`: the profile and its strings as C strings (owned
/// here, freed with it).
final class ProfileBox {
    let profile: ModelProfile
    /// Per node: node, op, kernel, fused (comma-separated), each strdup'ed.
    let strings: [[UnsafeMutablePointer<CChar>]]

    init(_ profile: ModelProfile) throws {
        self.profile = profile
        var all: [[UnsafeMutablePointer<CChar>]] = []
        do {
            for n in profile.nodes {
                var row: [UnsafeMutablePointer<CChar>] = []
                for s in [n.node, n.op, n.kernel, n.fused.joined(separator: ",")] {
                    guard let c = strdup(s) else {
                        row.forEach { free($0) }
                        throw SwiftCNNError.outOfMemory("profile: could not copy a string of \(s.utf8.count) bytes")
                    }
                    row.append(c)
                }
                all.append(row)
            }
        } catch {
            all.joined().forEach { free($0) }
            throw error
        }
        strings = all
    }

    deinit { strings.joined().forEach { free($0) } }
}

/// The profile behind a handle, or INVALID_ARGUMENT when it is NULL.
func profileArg(_ handle: UnsafePointer<scnn_profile>?) throws -> ProfileBox {
    Unmanaged<ProfileBox>.fromOpaque(UnsafeRawPointer(try required(handle, "profile"))).takeUnretainedValue()
}

/// Profiles the model's optimized forward pass per layer on `input` (`rank` dims in `shape`,
/// [N, C, H, W] for image models, as scnn_model_forward): `warmup` forwards, then `runs`
/// forwards with a monotonic clock around each step of the compiled plan, interleaved with
/// `runs` plain forwards (their median is scnn_profile_total_ms). The same steps and buffers as
/// a forward, at the current thread count; the outputs are discarded. A read of the model (may
/// run beside other forwards). On success *out is a new profile freed with
/// scnn_profile_free; NULL on failure. Errors: INVALID_ARGUMENT (NULL model, input, shape or
/// out; runs outside 1..100000; warmup outside 0..100000), SHAPE_MISMATCH (an input shape the
/// model does not take; the message names the expected one), OUT_OF_MEMORY.
@c(scnn_model_profile)
public func scnnModelProfile(
    _ model: UnsafePointer<scnn_model>?, _ input: UnsafePointer<Float>?, _ shape: UnsafePointer<Int64>?,
    _ rank: Int32, _ runs: Int64, _ warmup: Int64, _ out: UnsafeMutablePointer<UnsafeMutablePointer<scnn_profile>?>?
) -> scnn_status {
    guarded {
        let o = try required(out, "out")
        o.pointee = nil
        let m = try modelArg(model).model
        let s = try modelInputShape(shape, rank)
        let src = try required(input, "input")
        guard runs >= 1, runs <= Int64(Model.maxProfileRuns) else {
            throw SwiftCNNError.invalidArgument("profile: runs must be 1 to \(Model.maxProfileRuns); got \(runs)")
        }
        guard warmup >= 0, warmup <= Int64(Model.maxProfileRuns) else {
            throw SwiftCNNError.invalidArgument("profile: warmup must be 0 to \(Model.maxProfileRuns); got \(warmup)")
        }
        _ = try m.outputShape(forInput: s)  // the shape check, before the input is read
        let x = try Tensor(borrowing: src, count: try Checked.product(s), shape: s)
        let box = try ProfileBox(try m.profile(input: x, runs: Int(runs), warmup: Int(warmup)))
        o.pointee = Unmanaged.passRetained(box).toOpaque().assumingMemoryBound(to: scnn_profile.self)
    }
}

/// Frees a profile (and the strings its entries point at). NULL is a no-op.
@c(scnn_profile_free)
public func scnnProfileFree(_ profile: UnsafeMutablePointer<scnn_profile>?) {
    guard let profile else { return }
    Unmanaged<ProfileBox>.fromOpaque(UnsafeRawPointer(profile)).release()
}

/// Number of nodes in the profile (in the order the plan runs them); 0 for NULL.
@c(scnn_profile_count)
public func scnnProfileCount(_ profile: UnsafePointer<scnn_profile>?) -> Int64 {
    guard let p = try? profileArg(profile) else { return 0 }
    return Int64(p.profile.nodes.count)
}

/// Median milliseconds of the whole forward pass, measured without the per-step clocks;
/// 0 for NULL.
@c(scnn_profile_total_ms)
public func scnnProfileTotalMs(_ profile: UnsafePointer<scnn_profile>?) -> Double {
    guard let p = try? profileArg(profile) else { return 0 }
    return p.profile.totalMilliseconds
}

/// Fills *entry with node `index` (0 to scnn_profile_count - 1, plan order). Its strings
/// belong to the profile: valid until scnn_profile_free. Errors: INVALID_ARGUMENT (NULL
/// profile or entry, index out of range; *entry is zeroed).
@c(scnn_profile_entry)
public func scnnProfileEntry(_ profile: UnsafePointer<scnn_profile>?, _ index: Int64,
                             _ entry: UnsafeMutablePointer<scnn_profile_node>?) -> scnn_status {
    guarded {
        let e = try required(entry, "entry")
        e.pointee = scnn_profile_node()
        let p = try profileArg(profile)
        guard index >= 0, index < Int64(p.profile.nodes.count) else {
            throw SwiftCNNError.invalidArgument("profile: index \(index) is out of range (0..<\(p.profile.nodes.count))")
        }
        let i = Int(index)
        let n = p.profile.nodes[i], s = p.strings[i]
        e.pointee = scnn_profile_node(
            node: UnsafePointer(s[0]), op: UnsafePointer(s[1]), kernel: UnsafePointer(s[2]), fused: UnsafePointer(s[3]),
            steps: Int64(n.steps), ms: n.milliseconds, share: n.share, macs: Int64(n.macs), flops: Int64(clamping: n.flops),
            gflops: n.gflops, bytes: Int64(n.bytes), gbps: n.gbps)
    }
}

/// The profile as a table, slowest node first: at most `limit` nodes (0: all). On success
/// *out is a new NUL-terminated string freed with scnn_string_free; NULL on failure.
/// Errors: INVALID_ARGUMENT (NULL profile or out, negative limit), OUT_OF_MEMORY.
@c(scnn_profile_text)
public func scnnProfileText(_ profile: UnsafePointer<scnn_profile>?, _ limit: Int64,
                            _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> scnn_status {
    guarded {
        let o = try required(out, "out")
        o.pointee = nil
        let p = try profileArg(profile)
        guard limit >= 0 else { throw SwiftCNNError.invalidArgument("profile: limit must be >= 0 (0 = all); got \(limit)") }
        let text = p.profile.text(limit: limit == 0 ? nil : Int(clamping: limit))
        guard let copy = strdup(text) else { throw SwiftCNNError.outOfMemory("profile: could not copy \(text.utf8.count) bytes") }
        o.pointee = copy
    }
}

/// scnn_model_summary for the profile's input shape with three more columns from `profile`
/// (made by scnn_model_profile on this model): the kernel, median ms and share of each row's
/// node ("-" for rows folded into another node, such as a batch norm after a convolution).
/// On success *out is a new string freed with scnn_string_free; NULL on failure.
/// Errors: INVALID_ARGUMENT (NULL model, profile or out), SHAPE_MISMATCH (a profile of a
/// model that does not take its input shape), OUT_OF_MEMORY.
@c(scnn_model_summary_profiled)
public func scnnModelSummaryProfiled(_ model: UnsafePointer<scnn_model>?, _ profile: UnsafePointer<scnn_profile>?,
                                     _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> scnn_status {
    guarded {
        let o = try required(out, "out")
        o.pointee = nil
        let m = try modelArg(model).model
        let p = try profileArg(profile)
        let text = try m.summary(profile: p.profile).text
        guard let copy = strdup(text) else { throw SwiftCNNError.outOfMemory("summary: could not copy \(text.utf8.count) bytes") }
        o.pointee = copy
    }
}

/// The thread count the library starts with: SCNN_NUM_THREADS when it holds a positive
/// integer, else the CPUs this process may run on (its affinity mask, lowered to the cgroup
/// CPU quota rounded up), at least 1, at most 256. scnn_set_num_threads(0) restores it.
@c(scnn_default_num_threads)
public func scnnDefaultNumThreads() -> Int32 {
    Int32(clamping: Threading.defaultThreadCount)
}
