#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// safetensors (https://github.com/huggingface/safetensors), the weight format PyTorch and
// Hugging Face use:
//
//     [8 bytes]  N, the header length, unsigned 64-bit little-endian
//     [N bytes]  the header: a JSON object, UTF-8, possibly padded with trailing spaces
//                { "__metadata__": { "key": "value", … },            (optional)
//                  "<name>": { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] }, … }
//     [rest]     the data section: each tensor's elements, row-major, little-endian, at
//                [begin, end) relative to the start of the data section
//
// Files are untrusted input. The rules below follow the reference implementation
// (safetensors' Rust crate, `SafeTensors::read_metadata` and `Metadata::validate`):
// 2 <= N <= 100,000,000 and N <= file size − 8; the header must start with '{'; the
// tensors' byte ranges, sorted by offset, must tile the data section exactly — the first
// starts at 0, each starts where the previous one ends, the last ends at the end of the
// file — so overlaps, holes and trailing bytes are all errors; end − begin must equal the
// element count × the dtype's size. Unknown keys in a tensor's entry are ignored, as the
// reference ignores them (a writer may add its own). Duplicate keys are errors (stricter
// than the reference): which of two entries to believe is not for a loader to guess.

/// A safetensors element type.
///
/// Every dtype of the safetensors format is recognised. Four are *float* dtypes that load
/// as float32 tensors: F32 (exactly), F16 and BF16 (exactly: every half and bfloat16 value,
/// subnormals, infinities and NaNs included, is a float32 value), and F64 (rounded to the
/// nearest float32; values beyond float32's range become ±infinity). The others — integers,
/// booleans, 8/6/4-bit floats, complex — are recognised so that their sizes can be
/// validated, but are not loaded (see ``SafeTensorsFile/skipped``).
public enum DType: String, Sendable, CaseIterable {
    /// Booleans, one byte each.
    case bool = "BOOL"
    /// Unsigned 8-bit integers.
    case u8 = "U8"
    /// Signed 8-bit integers.
    case i8 = "I8"
    /// 8-bit floats, 5 exponent and 2 mantissa bits.
    case f8e5m2 = "F8_E5M2"
    /// 8-bit floats, 4 exponent and 3 mantissa bits.
    case f8e4m3 = "F8_E4M3"
    /// 8-bit exponent-only scale factors.
    case f8e8m0 = "F8_E8M0"
    /// Signed 16-bit integers.
    case i16 = "I16"
    /// Unsigned 16-bit integers.
    case u16 = "U16"
    /// IEEE 754 half precision; loads exactly.
    case f16 = "F16"
    /// bfloat16; loads exactly.
    case bf16 = "BF16"
    /// Signed 32-bit integers.
    case i32 = "I32"
    /// Unsigned 32-bit integers.
    case u32 = "U32"
    /// IEEE 754 single precision; loads as is. The only dtype written.
    case f32 = "F32"
    /// IEEE 754 double precision; loads rounded to float32.
    case f64 = "F64"
    /// Signed 64-bit integers (e.g. `num_batches_tracked`).
    case i64 = "I64"
    /// Unsigned 64-bit integers.
    case u64 = "U64"
    /// Complex numbers of two float32s.
    case c64 = "C64"
    /// 4-bit floats, two per byte.
    case f4 = "F4"
    /// 6-bit floats, 2 exponent and 3 mantissa bits.
    case f6e2m3 = "F6_E2M3"
    /// 6-bit floats, 3 exponent and 2 mantissa bits.
    case f6e3m2 = "F6_E3M2"

    /// Bits per element.
    public var bitSize: Int {
        switch self {
        case .f4: return 4
        case .f6e2m3, .f6e3m2: return 6
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3, .f8e8m0: return 8
        case .i16, .u16, .f16, .bf16: return 16
        case .i32, .u32, .f32: return 32
        case .f64, .i64, .u64, .c64: return 64
        }
    }

    /// Whether tensors of this dtype load as float32 tensors (F32, F16, BF16, F64).
    public var loadsAsFloat32: Bool {
        switch self {
        case .f32, .f16, .bf16, .f64: return true
        default: return false
        }
    }
}

/// A tensor of a safetensors file that was not loaded as a float32 ``Tensor``.
///
/// Three kinds of entries are listed here instead of failing the whole file, because real
/// PyTorch state dicts contain them: tensors of a non-float dtype (e.g. batch norm's
/// `num_batches_tracked`, an I64 scalar), rank-0 scalars of any dtype (``Tensor`` has
/// rank 1 to 4), and tensors with a zero dimension (no elements). A model loader can
/// ignore the ones it knows (like `num_batches_tracked`) and report the rest; pass
/// `strict: true` when reading to make them errors instead.
public struct SkippedTensor: Equatable, Sendable {
    /// The tensor's name in the file.
    public var name: String
    /// Its dtype.
    public var dtype: DType
    /// Its shape (empty for a scalar).
    public var shape: [Int]
    /// Why it was not loaded, e.g. "dtype I64 is not a float type".
    public var reason: String
}

/// The contents of a safetensors file: its float tensors converted to float32, its
/// metadata, and a list of the entries that were not loaded.
///
/// Reading validates the whole file first (see the format notes in SafeTensors.swift) and
/// throws ``SwiftCNNError`` — `.format` for malformed content, `.io` for file errors (with
/// the path and the system's reason), `.unsupported` for a float tensor of rank above 4
/// (or, with `strict`, for any entry that is not a loadable float tensor),
/// `.outOfMemory` when the tensors do not fit — never traps.
public struct SafeTensorsFile {
    /// The loaded tensors by name.
    public var tensors: [String: Tensor]
    /// The names of ``tensors`` in the order the file's header lists them.
    public var names: [String]
    /// Entries that were not loaded (non-float dtypes, scalars, empty tensors), in header order.
    public var skipped: [SkippedTensor]
    /// The header's `__metadata__` (string to string; empty when absent).
    public var metadata: [String: String]

    /// An in-memory collection of tensors in the given order, e.g. to write later with
    /// ``write(to:)``. A repeated name is an `.invalidArgument` error.
    public init(tensors: [(String, Tensor)] = [], metadata: [String: String] = [:]) throws {
        self.init(metadata: metadata)
        for (n, t) in tensors {
            guard self.tensors.updateValue(t, forKey: n) == nil else {
                throw SwiftCNNError.invalidArgument("safetensors: two tensors are called '\(n)'")
            }
            names.append(n)
        }
    }

    init(metadata: [String: String]) {
        tensors = [:]
        names = []
        skipped = []
        self.metadata = metadata
    }

    /// The tensors in ``names`` order, each paired with its name (entries of ``names``
    /// missing from ``tensors`` are an `.invalidArgument` error).
    public func orderedTensors() throws -> [(String, Tensor)] {
        try names.map { n in
            guard let t = tensors[n] else {
                throw SwiftCNNError.invalidArgument("safetensors: '\(n)' is listed in names but has no tensor")
            }
            return (n, t)
        }
    }

    /// ``serialize(_:metadata:)`` of this file's tensors (in ``names`` order) and metadata.
    /// Skipped entries are not written.
    public func serialized() throws -> [UInt8] {
        try SafeTensorsFile.serialize(try orderedTensors(), metadata: metadata)
    }

    /// ``write(_:metadata:to:)`` of this file's tensors (in ``names`` order) and metadata,
    /// atomically. Skipped entries are not written.
    public func write(to path: FilePath) throws {
        try SafeTensorsFile.write(try orderedTensors(), metadata: metadata, to: path)
    }

    /// ``write(to:)`` to the path whose bytes are `path`'s UTF-8.
    public func write(to path: String) throws { try write(to: FilePath(path)) }

    /// The largest header the reader accepts, in bytes (the reference implementation's limit).
    public static let maxHeaderBytes = 100_000_000

    /// The tensor called `name`, or an error that says why there is none: not in the file
    /// (`.invalidArgument`) or present but not loadable as float32 (`.unsupported`, naming
    /// its dtype and shape).
    public func tensor(_ name: String) throws -> Tensor {
        if let t = tensors[name] { return t }
        if let s = skipped.first(where: { $0.name == name }) {
            throw SwiftCNNError.unsupported(
                "safetensors: tensor '\(name)' (dtype \(s.dtype.rawValue), shape \(shapeText(s.shape))) was not loaded: \(s.reason)")
        }
        throw SwiftCNNError.invalidArgument("safetensors: no tensor named '\(name)'")
    }

    // MARK: Reading

    /// Reads and validates the safetensors file at `path`.
    ///
    /// - Parameter strict: when true, an entry that would be listed in ``skipped`` (a
    ///   non-float dtype, a scalar, an empty tensor) is an `.unsupported` error naming it.
    public static func read(path: FilePath, strict: Bool = false) throws -> SafeTensorsFile {
        let (fd, fileSize) = try FileIO.openForReading(path, what: "safetensors")
        defer { _ = close(fd) }
        let source = FileSource(fd: fd, path: path, base: 0)
        var lengthBytes: UInt64 = 0
        if fileSize > 0 {
            // A file shorter than 8 bytes is an error below; its bytes still say whether it
            // is a (tiny) pickle.
            try withUnsafeMutableBytes(of: &lengthBytes) {
                try source.read(at: 0, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<min(fileSize, 8)]))
            }
        }
        let n = try checkHeaderLength(UInt64(littleEndian: lengthBytes), totalSize: fileSize, what: "file '\(path)'")
        let header = try ByteBuffer(count: n)
        try source.read(at: 8, into: header.raw)
        let dataSource = FileSource(fd: fd, path: path, base: 8 + n)
        return try decode(header: UnsafeRawBufferPointer(header.raw), dataSize: fileSize - 8 - n, strict: strict) {
            try dataSource.read(at: $0, into: $1)
        }
    }

    /// ``read(path:strict:)`` of the path whose bytes are `path`'s UTF-8.
    public static func read(path: String, strict: Bool = false) throws -> SafeTensorsFile {
        try read(path: FilePath(path), strict: strict)
    }

    /// Parses and validates a whole safetensors file held in memory.
    ///
    /// - Parameter strict: as in ``read(path:strict:)``.
    public static func parse(bytes: UnsafeRawBufferPointer, strict: Bool = false) throws -> SafeTensorsFile {
        var length: UInt64 = 0
        for i in 0..<min(bytes.count, 8) { length |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        let n = try checkHeaderLength(length, totalSize: bytes.count, what: "buffer")
        let header = UnsafeRawBufferPointer(rebasing: bytes[8..<(8 + n)])
        let data = UnsafeRawBufferPointer(rebasing: bytes[(8 + n)...])
        return try decode(header: header, dataSize: data.count, strict: strict) { offset, dst in
            // decode only asks for ranges it validated against dataSize; checked anyway.
            guard offset >= 0, offset <= data.count, dst.count <= data.count - offset else {
                throw SwiftCNNError(.internal, "safetensors: read of \(dst.count) bytes at \(offset) outside \(data.count)")
            }
            if dst.count > 0, let s = data.baseAddress, let d = dst.baseAddress {
                d.copyMemory(from: s + offset, byteCount: dst.count)
            }
        }
    }

    /// Parses and validates a whole safetensors file held in an array.
    public static func parse(bytes: [UInt8], strict: Bool = false) throws -> SafeTensorsFile {
        try bytes.withUnsafeBytes { try parse(bytes: $0, strict: strict) }
    }

    /// Checks the 8-byte header length against the limits and the input's size.
    ///
    /// `n` is the input's first 8 bytes, little-endian (the bytes there are, when it is
    /// shorter). When the check fails and those bytes are a PyTorch checkpoint's, the error
    /// says so and how to convert it, rather than what is wrong with the length.
    static func checkHeaderLength(_ n: UInt64, totalSize: Int, what: String) throws -> Int {
        do {
            return try checkHeaderLengthValue(n, totalSize: totalSize, what: what)
        } catch let error as SwiftCNNError {
            let head = (0..<min(max(totalSize, 0), 8)).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) }
            guard let kind = pytorchCheckpointKind(head) else { throw error }
            throw SwiftCNNError.format(
                "safetensors: \(what) is a PyTorch \(kind), not safetensors; convert it in PyTorch with "
                    + "safetensors.torch.save_file(model.state_dict(), 'x.safetensors')")
        }
    }

    /// What a file starting with `head` is, when it is a PyTorch checkpoint rather than
    /// safetensors: `torch.save` writes a zip archive (local file header `PK\x03\x04`), and
    /// wrote a bare pickle before PyTorch 1.6 (opcode PROTO 0x80, then protocol 2 to 5).
    /// The test is only made when the length checks fail, so no valid safetensors file is
    /// refused (a real zip's bytes 4-7, its version and flags, make the length too large).
    static func pytorchCheckpointKind(_ head: [UInt8]) -> String? {
        if head.count >= 4 && head[0] == 0x50 && head[1] == 0x4B && head[2] == 0x03 && head[3] == 0x04 {
            return "zip checkpoint (a zip archive, as torch.save writes)"
        }
        if head.count >= 2 && head[0] == 0x80 && (2...5).contains(head[1]) {
            return "pickle checkpoint (a pickle, as torch.save wrote before PyTorch 1.6)"
        }
        return nil
    }

    static func checkHeaderLengthValue(_ n: UInt64, totalSize: Int, what: String) throws -> Int {
        guard totalSize >= 8 else {
            throw SwiftCNNError.format(
                "safetensors: \(what) is \(totalSize) bytes, too short for the 8-byte header length (truncated file?)")
        }
        guard n >= 2 else {
            throw SwiftCNNError.format("safetensors: header length \(n) is too small (a header is a JSON object, at least \"{}\")")
        }
        guard n <= UInt64(maxHeaderBytes) else {
            throw SwiftCNNError.format("safetensors: header length \(n) is larger than the limit of \(maxHeaderBytes) bytes")
        }
        let len = Int(n)
        guard len <= totalSize - 8 else {
            throw SwiftCNNError.format(
                "safetensors: header length \(len) is more than the \(totalSize - 8) bytes that follow it (truncated file?)")
        }
        return len
    }

    /// One validated header entry.
    struct Entry {
        var name: String
        var dtype: DType
        var shape: [Int]
        var begin: Int
        var end: Int
    }

    /// Parses the header and validates it against a data section of `dataSize` bytes.
    static func parseHeader(_ header: UnsafeRawBufferPointer, dataSize: Int) throws -> (entries: [Entry], metadata: [String: String]) {
        guard header.first == UInt8(ascii: "{") else {
            throw SwiftCNNError.format("safetensors: the header does not start with '{'")
        }
        let json = try JSON.parse(header, maxBytes: maxHeaderBytes, context: "safetensors header")
        guard case let .object(pairs) = json else {
            throw SwiftCNNError.format("safetensors: the header is \(json.typeDescription), expected an object")
        }
        var entries: [Entry] = []
        var metadata: [String: String] = [:]
        for (key, value) in pairs {
            if key == "__metadata__" {
                switch value {
                case .null: break
                case let .object(items):
                    for (k, v) in items {
                        guard case let .string(s) = v else {
                            throw SwiftCNNError.format(
                                "safetensors: __metadata__ value for '\(k)' is \(v.typeDescription), expected a string")
                        }
                        metadata[k] = s
                    }
                default:
                    throw SwiftCNNError.format("safetensors: __metadata__ is \(value.typeDescription), expected an object of strings")
                }
                continue
            }
            entries.append(try parseEntry(name: key, value))
        }

        // Each range inside the data section; sizes agree with dtype × shape.
        for e in entries {
            let range = "[\(e.begin), \(e.end)]"
            guard e.begin <= e.end else {
                throw SwiftCNNError.format("safetensors: tensor '\(e.name)' has data_offsets \(range) with begin > end")
            }
            guard e.end <= dataSize else {
                throw SwiftCNNError.format(
                    "safetensors: tensor '\(e.name)' has data_offsets \(range) beyond the data section's \(dataSize) bytes (truncated file?)")
            }
            let (count, o1) = e.shape.reduce((1, false)) { acc, d in
                let (r, o) = acc.0.multipliedReportingOverflow(by: d)
                return (r, acc.1 || o)
            }
            let (bits, o2) = count.multipliedReportingOverflow(by: e.dtype.bitSize)
            guard !o1 && !o2 else {
                throw SwiftCNNError.format("safetensors: tensor '\(e.name)' shape \(shapeText(e.shape)) overflows its size")
            }
            guard bits % 8 == 0 else {
                throw SwiftCNNError.format(
                    "safetensors: tensor '\(e.name)' of \(count) \(e.dtype.rawValue) elements is not a whole number of bytes")
            }
            guard e.end - e.begin == bits / 8 else {
                throw SwiftCNNError.format(
                    "safetensors: tensor '\(e.name)' (\(e.dtype.rawValue), shape \(shapeText(e.shape))) needs \(bits / 8) bytes but data_offsets \(range) span \(e.end - e.begin)")
            }
        }

        // Ranges tile the data section: sorted by offset, each starts where the last ended.
        let sorted = entries.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var position = 0
        var previous: Entry? = nil
        for e in sorted {
            if e.begin < position, let p = previous {
                throw SwiftCNNError.format(
                    "safetensors: tensor '\(e.name)' data_offsets [\(e.begin), \(e.end)] overlap tensor '\(p.name)' [\(p.begin), \(p.end)]")
            }
            if e.begin > position {
                throw SwiftCNNError.format(
                    "safetensors: bytes \(position)..<\(e.begin) of the data section belong to no tensor (before '\(e.name)'); tensors must cover it without gaps")
            }
            position = e.end
            previous = e
        }
        guard position == dataSize else {
            throw SwiftCNNError.format(
                "safetensors: the data section has \(dataSize) bytes but the tensors cover only \(position); \(dataSize - position) trailing bytes")
        }
        return (entries, metadata)
    }

    /// Parses one `"name": {dtype, shape, data_offsets}` entry.
    static func parseEntry(name: String, _ value: JSONValue) throws -> Entry {
        let what = "safetensors: tensor '\(name)'"
        guard case let .object(fields) = value else {
            throw SwiftCNNError.format("\(what) is \(value.typeDescription), expected an object with dtype, shape and data_offsets")
        }
        _ = fields  // other fields are ignored, as the reference implementation ignores them
        guard let dv = value["dtype"] else { throw SwiftCNNError.format("\(what) has no dtype") }
        guard case let .string(ds) = dv else {
            throw SwiftCNNError.format("\(what) dtype is \(dv.typeDescription), expected a string")
        }
        guard let dtype = DType(rawValue: ds) else {
            throw SwiftCNNError.format(
                "\(what) has unknown dtype \"\(ds)\" (known: \(DType.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        func integers(_ field: String, _ count: Int?) throws -> [Int] {
            guard let v = value[field] else { throw SwiftCNNError.format("\(what) has no \(field)") }
            guard case let .array(items) = v else {
                throw SwiftCNNError.format("\(what) \(field) is \(v.typeDescription), expected an array of integers")
            }
            if let c = count, items.count != c {
                throw SwiftCNNError.format("\(what) \(field) has \(items.count) elements, expected \(c)")
            }
            return try items.map { item in
                guard case let .integer(i) = item else {
                    throw SwiftCNNError.format("\(what) \(field) contains \(item.typeDescription), expected non-negative integers")
                }
                guard i >= 0 else { throw SwiftCNNError.format("\(what) \(field) contains the negative value \(i)") }
                return Int(i)  // |i| <= 2^53 (JSON reader), fits in Int
            }
        }
        let shape = try integers("shape", nil)
        let offsets = try integers("data_offsets", 2)
        return Entry(name: name, dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1])
    }

    /// Validates the header, then loads every float tensor through `readData(offset, into)`,
    /// which fills the buffer with the data section's bytes at `offset`.
    static func decode(header: UnsafeRawBufferPointer, dataSize: Int, strict: Bool,
                       readData: (Int, UnsafeMutableRawBufferPointer) throws -> Void) throws -> SafeTensorsFile {
        let (entries, metadata) = try parseHeader(header, dataSize: dataSize)
        var file = SafeTensorsFile(metadata: metadata)
        for e in entries {
            var reason: String? = nil
            if !e.dtype.loadsAsFloat32 {
                reason = "dtype \(e.dtype.rawValue) is not a float type (F32, F16, BF16, F64 load)"
            } else if e.shape.isEmpty {
                reason = "a rank-0 scalar (tensors have rank 1 to \(Tensor.maxRank))"
            } else if e.shape.contains(0) {
                reason = "it has no elements (a zero dimension)"
            } else if e.shape.count > Tensor.maxRank {
                throw SwiftCNNError.unsupported(
                    "safetensors: tensor '\(e.name)' has rank \(e.shape.count) (shape \(shapeText(e.shape))); tensors have rank 1 to \(Tensor.maxRank)")
            }
            if let r = reason {
                if strict {
                    throw SwiftCNNError.unsupported(
                        "safetensors: tensor '\(e.name)' (dtype \(e.dtype.rawValue), shape \(shapeText(e.shape))) cannot be loaded: \(r)")
                }
                file.skipped.append(SkippedTensor(name: e.name, dtype: e.dtype, shape: e.shape, reason: r))
                continue
            }
            var t = try Tensor(uninitialized: e.shape)
            let count = t.count
            try t.withUnsafeMutableBufferPointer { out in
                guard let base = out.baseAddress else { return }
                try loadElements(dtype: e.dtype, count: count, at: e.begin, into: base, readData: readData)
            }
            file.tensors[e.name] = t
            file.names.append(e.name)
        }
        return file
    }

    /// Reads `count` elements of `dtype` at `offset` of the data section into float32s.
    static func loadElements(dtype: DType, count: Int, at offset: Int, into out: UnsafeMutablePointer<Float>,
                             readData: (Int, UnsafeMutableRawBufferPointer) throws -> Void) throws {
        let size = dtype.bitSize / 8
        if dtype == .f32 {
            try readData(offset, UnsafeMutableRawBufferPointer(start: out, count: count * 4))
            #if _endian(big)
            for i in 0..<count { out[i] = Float(bitPattern: UInt32(littleEndian: out[i].bitPattern)) }
            #endif
            return
        }
        // Others in chunks through a small fixed scratch buffer.
        let chunkElements = 16384
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkElements * 8, alignment: 8)
        defer { scratch.deallocate() }
        var done = 0
        while done < count {
            let n = min(chunkElements, count - done)
            let chunk = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<(n * size)])
            try readData(offset + done * size, chunk)
            let dst = out + done
            switch dtype {
            case .f16:
                for i in 0..<n { dst[i] = FloatBits.float(fromF16: UInt16(littleEndian: chunk.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            case .bf16:
                for i in 0..<n { dst[i] = FloatBits.float(fromBF16: UInt16(littleEndian: chunk.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            case .f64:
                for i in 0..<n {
                    dst[i] = Float(Double(bitPattern: UInt64(littleEndian: chunk.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
                }
            default:
                throw SwiftCNNError(.internal, "safetensors: no conversion from \(dtype.rawValue)")
            }
            done += n
        }
    }

    // MARK: Writing

    /// The bytes of a safetensors file holding `tensors` as F32, in the given order.
    ///
    /// The header lists `__metadata__` first (when not empty, keys sorted) and then the
    /// tensors; it is padded with spaces to a multiple of 8 bytes, as the reference writer
    /// does, so the data section is 8-byte aligned. Names must be unique and not
    /// `__metadata__` (`.invalidArgument` otherwise).
    public static func serialize(_ tensors: [(String, Tensor)], metadata: [String: String] = [:]) throws -> [UInt8] {
        let header = try makeHeader(tensors, metadata: metadata)
        var total = 8 + header.count
        for (_, t) in tensors { total = try Checked.add(total, try Checked.mul(t.count, 4, "tensor bytes"), "file size") }
        guard total <= Memory.physicalBytes else {
            throw SwiftCNNError.outOfMemory("safetensors: a \(total)-byte file does not fit in this machine's memory")
        }
        var out: [UInt8] = []
        out.reserveCapacity(total)
        appendLengthAndHeader(header, to: &out)
        for (_, t) in tensors {
            t.withUnsafeBufferPointer { buf in
                #if _endian(little)
                out.append(contentsOf: UnsafeRawBufferPointer(buf))
                #else
                for v in buf { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
                #endif
            }
        }
        return out
    }

    /// Writes `tensors` (as F32, in the given order) and `metadata` to `path` atomically:
    /// readers see the old file or the complete new one, a failure leaves an existing file
    /// as it was, and a save killed midway leaves no partial file behind (see
    /// `FileIO.writeAtomically` for the temporary names). An existing `path` that is not a
    /// regular file is refused. Errors are `.io`, naming the path and the system's reason.
    /// Names as in ``serialize(_:metadata:)``.
    public static func write(_ tensors: [(String, Tensor)], metadata: [String: String] = [:], to path: FilePath) throws {
        try write(tensors, metadata: metadata, to: path, failAfterBytes: nil)
    }

    /// ``write(_:metadata:to:)`` to the path whose bytes are `path`'s UTF-8.
    public static func write(_ tensors: [(String, Tensor)], metadata: [String: String] = [:], to path: String) throws {
        try write(tensors, metadata: metadata, to: FilePath(path), failAfterBytes: nil)
    }

    /// ``write(_:metadata:to:)`` with a test hook: `failAfterBytes` simulates a write error
    /// (ENOSPC) once that many bytes have been written to the temporary file.
    static func write(_ tensors: [(String, Tensor)], metadata: [String: String], to path: FilePath,
                      failAfterBytes: Int?) throws {
        let header = try makeHeader(tensors, metadata: metadata)
        var prefix: [UInt8] = []
        appendLengthAndHeader(header, to: &prefix)
        try FileIO.writeAtomically(to: path, what: "safetensors", failAfterBytes: failAfterBytes) { put in
            try prefix.withUnsafeBytes { try put($0.baseAddress, $0.count) }
            for (_, t) in tensors {
                #if _endian(little)
                try t.withUnsafeBufferPointer { try put(UnsafeRawPointer($0.baseAddress), $0.count * 4) }
                #else
                for v in t.scalars { try withUnsafeBytes(of: v.bitPattern.littleEndian) { try put($0.baseAddress, 4) } }
                #endif
            }
        }
    }

    /// The JSON header for ``serialize(_:metadata:)``, padded to a multiple of 8 bytes.
    static func makeHeader(_ tensors: [(String, Tensor)], metadata: [String: String]) throws -> [UInt8] {
        var pairs: [(String, JSONValue)] = []
        if !metadata.isEmpty {
            pairs.append(("__metadata__", .object(metadata.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })))
        }
        var seen = Set<String>()
        var offset = 0
        for (name, t) in tensors {
            guard name != "__metadata__" else {
                throw SwiftCNNError.invalidArgument("safetensors: a tensor cannot be called __metadata__")
            }
            guard seen.insert(name).inserted else {
                throw SwiftCNNError.invalidArgument("safetensors: two tensors are called '\(name)'")
            }
            let end = try Checked.add(offset, try Checked.mul(t.count, 4, "tensor bytes"), "data size")
            pairs.append((name, .object([
                ("dtype", .string(DType.f32.rawValue)),
                ("shape", .array(t.shape.map { .integer(Int64($0)) })),
                ("data_offsets", .array([.integer(Int64(offset)), .integer(Int64(end))])),
            ])))
            offset = end
        }
        var bytes = Array(try JSONValue.object(pairs).serialized().utf8)
        while bytes.count % 8 != 0 { bytes.append(UInt8(ascii: " ")) }
        return bytes
    }

    static func appendLengthAndHeader(_ header: [UInt8], to out: inout [UInt8]) {
        let n = UInt64(header.count)
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: n >> (8 * UInt64(i)))) }
        out.append(contentsOf: header)
    }
}

/// A shape for a message; a hostile header's million-dimension shape is cut short.
private func shapeText(_ shape: [Int]) -> String {
    shape.count <= 8 ? Tensor.describe(shape) : Tensor.describe(Array(shape.prefix(8))).dropLast() + ", … (\(shape.count) dimensions)]"
}

/// `pread(2)` with retries on EINTR and short reads; a read past the end of the file is a
/// `.format` error (the file is shorter than its header says, or shrank while being read).
private struct FileSource {
    let fd: Int32
    let path: FilePath
    let base: Int

    func read(at offset: Int, into dst: UnsafeMutableRawBufferPointer) throws {
        guard var p = dst.baseAddress else { return }
        var left = dst.count
        var pos = try Checked.add(base, offset, "file offset")
        while left > 0 {
            let r = pread(fd, p, min(left, 1 << 24), off_t(pos))
            if r < 0 {
                if errno == EINTR { continue }
                throw FileIO.ioError("safetensors", "cannot read", path)
            }
            if r == 0 {
                throw SwiftCNNError.format("safetensors: '\(path)' ended at byte \(pos), before the data its header describes (truncated file?)")
            }
            p += r
            left -= r
            pos += r
        }
    }
}

/// A byte buffer from `malloc` that reports failure instead of aborting.
final class ByteBuffer {
    let raw: UnsafeMutableRawBufferPointer

    init(count: Int) throws {
        guard count >= 0, count <= Memory.physicalBytes, let p = malloc(max(count, 1)) else {
            throw SwiftCNNError.outOfMemory("could not allocate \(count) bytes")
        }
        raw = UnsafeMutableRawBufferPointer(start: p, count: count)
    }

    deinit { free(raw.baseAddress) }
}

/// Exact conversions of 16-bit float formats to float32, bit by bit.
public enum FloatBits {
    /// IEEE 754 binary16 (F16) → float32, exactly: every half value is a float32 value.
    /// Subnormal halves are normalised, infinities kept, NaNs stay NaNs with their payload
    /// shifted into the top of float32's mantissa (a quiet NaN stays quiet).
    @inlinable
    public static func float(fromF16 h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        var mantissa = UInt32(h) & 0x3FF
        if exponent == 0x1F {  // infinity or NaN
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        if exponent == 0 {
            if mantissa == 0 { return Float(bitPattern: sign) }  // ±0
            // Subnormal: value = mantissa × 2^-24. Shift the leading 1 into bit 10.
            var e: UInt32 = 127 - 15 + 1
            while mantissa & 0x400 == 0 {
                mantissa <<= 1
                e -= 1
            }
            return Float(bitPattern: sign | (e << 23) | ((mantissa & 0x3FF) << 13))
        }
        return Float(bitPattern: sign | ((exponent + 127 - 15) << 23) | (mantissa << 13))
    }

    /// bfloat16 (BF16) → float32, exactly: bfloat16 is the top half of a float32.
    @inlinable
    public static func float(fromBF16 b: UInt16) -> Float {
        Float(bitPattern: UInt32(b) << 16)
    }
}
