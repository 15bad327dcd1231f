// Writes the seed corpora Tests/fuzz/corpus/<target>/ for the fuzz targets (`make fuzz-seeds`).
//
// Seeds are small valid files, written with the library's own writers where it has them,
// and near-valid variants (one field wrong each) so that the fuzzer starts deep in every
// parser. Every "valid" seed is checked to load before it is written, and every
// near-valid one to fail. The output is deterministic (sorted keys, seeded weights).
//
// Usage: generate-seeds <corpus directory>

#if canImport(Glibc)
import Glibc
#endif
@testable import SwiftCNN

@main
enum GenerateSeeds {
    static var root = ""
    static var total = 0

    static func main() throws {
        guard CommandLine.arguments.count == 2 else {
            fputs("usage: generate-seeds <corpus directory>\n", stderr)
            exit(2)
        }
        root = CommandLine.arguments[1]
        try jsonSeeds()
        try safetensorsSeeds()
        try modelSeeds()
        try checkpointSeeds()
        print("seeds: \(total) bytes in \(root)")
    }

    // MARK: Output

    static func put(_ target: String, _ name: String, _ bytes: [UInt8]) {
        let dir = root + "/" + target
        mkdir(root, 0o755)
        mkdir(dir, 0o755)
        let path = dir + "/" + name
        guard let f = fopen(path, "wb") else { fatalError("cannot write \(path)") }
        if !bytes.isEmpty { guard fwrite(bytes, 1, bytes.count, f) == bytes.count else { fatalError("short write \(path)") } }
        fclose(f)
        total += bytes.count
    }

    // MARK: Hand-made safetensors files

    /// One entry of a hand-made file: raw dtype name, shape, data bytes (offsets follow).
    struct Raw {
        var name: String
        var dtype: String
        var shape: [Int]
        var data: [UInt8]
    }

    /// A safetensors file from entries laid out in order, the header padded with spaces to a
    /// multiple of 8 as the reference writer does. `tweak` edits the header text.
    static func safetensors(_ entries: [Raw], metadata: [String: String] = [:],
                            tweak: (String) -> String = { $0 }) throws -> [UInt8] {
        var pairs: [(String, JSONValue)] = []
        if !metadata.isEmpty {
            pairs.append(("__metadata__", .object(metadata.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })))
        }
        var offset = 0
        var data: [UInt8] = []
        for e in entries {
            pairs.append((e.name, .object([
                ("dtype", .string(e.dtype)),
                ("shape", .array(e.shape.map { .integer(Int64($0)) })),
                ("data_offsets", .array([.integer(Int64(offset)), .integer(Int64(offset + e.data.count))])),
            ])))
            offset += e.data.count
            data += e.data
        }
        var header = Array(tweak(try JSONValue.object(pairs).serialized()).utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out += $0 }
        return out + header + data
    }

    static func f32(_ values: [Float]) -> [UInt8] { values.flatMap { le($0.bitPattern) } }
    static func f16(_ values: [Float]) -> [UInt8] { values.flatMap { le(Float16($0).bitPattern) } }
    static func bf16(_ values: [Float]) -> [UInt8] { values.flatMap { le(UInt16($0.bitPattern >> 16)) } }
    static func f64(_ values: [Double]) -> [UInt8] { values.flatMap { le($0.bitPattern) } }
    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

    static func mustParse(_ bytes: [UInt8], _ what: String) -> SafeTensorsFile {
        do { return try SafeTensorsFile.parse(bytes: bytes) } catch { fatalError("seed \(what) does not parse: \(error)") }
    }

    static func mustFail(_ bytes: [UInt8], _ what: String) {
        if (try? SafeTensorsFile.parse(bytes: bytes)) != nil { fatalError("near-valid seed \(what) parses") }
    }

    // MARK: json

    static func jsonSeeds() throws {
        let valid: [(String, String)] = [
            ("header.json", #"{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"F16","shape":[3],"data_offsets":[24,30]}}"#),
            ("values.json", #" {"null":null,"t":true,"f":false,"i":-9007199254740992,"n":[0.5,-1.25e-7,6.02E+23,0,-0,1e-320],"s":"tab\tq\"\\\/ \u00e9 \ud83d\ude00 é"} "#),
            ("deep.json", String(repeating: "[", count: JSON.maxDepth) + "1" + String(repeating: "]", count: JSON.maxDepth)),
            ("scalar.json", "\"\\u0000\\b\\f\\n\\r\""),
        ]
        let invalid: [(String, String)] = [
            ("trailing_comma.json", "[1,2,]"),
            ("duplicate_key.json", #"{"a":1,"a":2}"#),
            ("lone_surrogate.json", #"["\ud800"]"#),
            ("leading_zero.json", "[012]"),
            ("too_big_integer.json", "9007199254740993"),
            ("missing_colon.json", #"{"a" 1}"#),
            ("after_value.json", "[1] x"),
            ("short_escape.json", #""\u001""#),
            ("too_deep.json", String(repeating: "[", count: JSON.maxDepth + 1) + String(repeating: "]", count: JSON.maxDepth + 1)),
        ]
        for (name, text) in valid {
            do { _ = try JSON.parse(text) } catch { fatalError("json seed \(name) does not parse: \(error)") }
            put("json", name, Array(text.utf8))
        }
        for (name, text) in invalid {
            if (try? JSON.parse(text)) != nil { fatalError("near-valid json seed \(name) parses") }
            put("json", name, Array(text.utf8))
        }
        // Invalid UTF-8: an overlong '/', a raw control character, a truncated sequence.
        for (name, bytes) in [("overlong.json", [0x22, 0xC0, 0xAF, 0x22]), ("control.json", [0x22, 0x01, 0x22]),
                              ("truncated_utf8.json", [0x5B, 0x22, 0xE2, 0x82, 0x22, 0x5D])] as [(String, [UInt8])] {
            if (try? JSON.parse(bytes)) != nil { fatalError("near-valid json seed \(name) parses") }
            put("json", name, bytes)
        }
    }

    // MARK: safetensors

    static func safetensorsSeeds() throws {
        let w = try Tensor(shape: [2, 3], scalars: [1, -2, 0.5, .infinity, -0.0, .leastNonzeroMagnitude])
        let b = try Tensor(shape: [4], scalars: [0.25, 0.5, 0.75, 1])
        let written = try SafeTensorsFile.serialize([("weight", w), ("bias", b)], metadata: ["format": "pt"])
        _ = mustParse(written, "f32.safetensors")
        put("safetensors", "f32.safetensors", written)

        let mixed: [Raw] = [
            Raw(name: "half", dtype: "F16", shape: [2, 2], data: f16([1, -0.5, 65504, 6e-8])),
            Raw(name: "brain", dtype: "BF16", shape: [3], data: bf16([1, -3.5, 1e30])),
            Raw(name: "double", dtype: "F64", shape: [1, 1, 2], data: f64([1e300, -1e-300])),
            Raw(name: "steps", dtype: "I64", shape: [], data: le(Int64(7))),
            Raw(name: "bytes", dtype: "U8", shape: [3], data: [1, 2, 3]),
            Raw(name: "empty", dtype: "F32", shape: [0, 2], data: []),
            Raw(name: "flags", dtype: "BOOL", shape: [2], data: [0, 1]),
            Raw(name: "four", dtype: "F32", shape: [1, 1, 1, 1], data: f32([2])),
        ]
        let m = try safetensors(mixed, metadata: ["a": "b", "format": "pt"])
        let parsed = mustParse(m, "mixed.safetensors")
        guard parsed.skipped.count == 4 else { fatalError("mixed.safetensors: \(parsed.skipped.count) skipped") }
        put("safetensors", "mixed.safetensors", m)

        let two: [Raw] = [Raw(name: "a", dtype: "F32", shape: [2], data: f32([1, 2])),
                          Raw(name: "b", dtype: "F16", shape: [1], data: f16([3]))]
        let nearValid: [(String, [UInt8])] = [
            ("rank5.safetensors", try safetensors([Raw(name: "r", dtype: "F32", shape: [1, 1, 1, 1, 1], data: f32([1]))])),
            ("f4_odd.safetensors", try safetensors([Raw(name: "q", dtype: "F4", shape: [3], data: [0, 0])])),
            ("gap.safetensors", try safetensors(two) { $0.replacing("[8,10]", with: "[9,11]") } + [0]),
            ("overlap.safetensors", try safetensors(two) { $0.replacing("[8,10]", with: "[6,8]") }),
            ("trailing.safetensors", try safetensors(two) + [0]),
            ("truncated.safetensors", Array(try safetensors(two).dropLast())),
            ("unknown_dtype.safetensors", try safetensors(two) { $0.replacing("F16", with: "F17") }),
            ("size_mismatch.safetensors", try safetensors(two) { $0.replacing("[2]", with: "[3]") }),
            ("duplicate.safetensors", try safetensors(two) { $0.replacing("\"b\"", with: "\"a\"") }),
            ("metadata_number.safetensors", try safetensors(two, metadata: ["k": "v"]) { $0.replacing("\"v\"", with: "1") }),
            ("not_object.safetensors", [2, 0, 0, 0, 0, 0, 0, 0, 0x5B, 0x5D]),
            ("huge_length.safetensors", [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0] + Array("{}".utf8)),
            ("short.safetensors", [8, 0, 0]),
        ]
        for (name, bytes) in nearValid {
            mustFail(bytes, name)
            put("safetensors", name, bytes)
        }
    }

    // MARK: model_load (lenet5)

    static func modelSeeds() throws {
        var model = try Zoo.create("lenet5", seed: 3)
        let dict = model.stateDict()
        let (w0, t0) = dict[0], (b0, tb0) = dict[1]
        let (wl, tl) = dict[dict.count - 2], (bl, tbl) = dict[dict.count - 1]

        let partial = try SafeTensorsFile.serialize([(w0, t0), (b0, tb0)], metadata: ["format": "pt", "model": "lenet5"])
        try check(&model, partial, strict: false, ok: true, "partial_f32")
        put("model_load", "partial_f32.safetensors", partial)

        let half = try safetensors([
            Raw(name: wl, dtype: "F16", shape: tl.shape, data: f16(tl.scalars)),
            Raw(name: bl, dtype: "BF16", shape: tbl.shape, data: bf16(tbl.scalars)),
            Raw(name: "features.1.num_batches_tracked", dtype: "I64", shape: [], data: le(Int64(0))),
        ])
        try check(&model, half, strict: false, ok: true, "partial_f16")
        put("model_load", "partial_f16.safetensors", half)

        let wrongShape = try safetensors([Raw(name: w0, dtype: "F32", shape: [t0.shape[0], 1, 5, 4], data: f32(Array(t0.scalars.prefix(t0.count / 5 * 4))))])
        try check(&model, wrongShape, strict: false, ok: false, "wrong_shape")
        put("model_load", "wrong_shape.safetensors", wrongShape)

        let prefixed = try SafeTensorsFile.serialize([("module." + b0, tb0), ("extra", try Tensor(shape: [1], scalars: [1]))])
        try check(&model, prefixed, strict: true, ok: false, "prefixed")
        put("model_load", "prefixed.safetensors", prefixed)
    }

    static func check(_ model: inout Model, _ bytes: [UInt8], strict: Bool, ok: Bool, _ what: String) throws {
        let path = "\(root)/.seed-check.safetensors"
        put(".", ".seed-check.safetensors", bytes)
        total -= bytes.count
        defer { unlink(path) }
        var m = model
        let loaded = (try? m.load(path: path, strict: strict)) != nil
        guard loaded == ok else { fatalError("model seed \(what): load \(loaded ? "succeeded" : "failed")") }
    }

    // MARK: checkpoint (lenet5, SGD)

    static func checkpointSeeds() throws {
        let model = try Zoo.create("lenet5", seed: 5)
        let optimizer = try Optimizer(.sgd(lr: 0.05, momentum: 0.9), for: model, schedule: .step(every: 10, gamma: 0.5))
        var state = TrainingState()
        state.epoch = 1
        state.batchInEpoch = 2
        state.globalStep = 12
        state.epochLossSum = 4.5
        state.epochCorrect = 9
        state.epochSeen = 20
        let config = TrainingConfig(epochs: 3, batchSize: 8, seed: 42)
        let tmp = "\(root)/.seed-checkpoint.safetensors"
        try Checkpoint.save(model: model, optimizer: optimizer, state: state, config: config, path: FilePath(tmp))
        let saved = try SafeTensorsFile.read(path: tmp)
        unlink(tmp)

        // The whole checkpoint, weights as F16 (half the size of F32, loads exactly).
        let entries = try saved.orderedTensors().map { name, t in
            name.hasPrefix("optimizer.") ? Raw(name: name, dtype: "F32", shape: t.shape, data: f32(t.scalars))
                                         : Raw(name: name, dtype: "F16", shape: t.shape, data: f16(t.scalars))
        }
        let full = try safetensors(entries, metadata: saved.metadata)
        try checkCheckpoint(full, ok: true, "full_f16")
        put("checkpoint", "full_f16.safetensors", full)

        // Metadata only (no weights): every metadata check runs; the strict weight load fails.
        var variants: [(String, [String: String])] = [("meta_only", saved.metadata)]
        let edits: [(String, String, String?)] = [
            ("bad_format", "format", "swiftcnn checkpoint v0"),
            ("other_model", "model", "lenet5_original"),
            ("adam", "optimizer.kind", "adam"),
            ("cosine", "optimizer.schedule", "cosine:100:0.001"),
            ("bad_schedule", "optimizer.schedule", "step:0:0.5"),
            ("mse", "config.loss", "mse"),
            ("negative_epoch", "state.epoch", "-1"),
            ("bad_flag", "config.shuffle", "2"),
            ("no_state", "state.epoch", nil),
        ]
        for (name, key, value) in edits {
            var meta = saved.metadata
            meta[key] = value
            variants.append((name, meta))
        }
        for (name, meta) in variants {
            let bytes = try safetensors([], metadata: meta)
            try checkCheckpoint(bytes, ok: false, name)
            put("checkpoint", name + ".safetensors", bytes)
        }
    }

    static func checkCheckpoint(_ bytes: [UInt8], ok: Bool, _ what: String) throws {
        let path = "\(root)/.seed-check.safetensors"
        put(".", ".seed-check.safetensors", bytes)
        total -= bytes.count
        defer { unlink(path) }
        var model = try Zoo.create("lenet5", seed: 1)
        let optimizer = try Optimizer(.sgd(lr: 0.1, momentum: 0.9), for: model)
        let loaded = (try? Checkpoint.load(path: FilePath(path), model: &model, optimizer: optimizer)) != nil
        guard loaded == ok else { fatalError("checkpoint seed \(what): load \(loaded ? "succeeded" : "failed")") }
    }
}
