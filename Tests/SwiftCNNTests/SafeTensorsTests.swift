import Foundation
import XCTest
@testable import SwiftCNN

/// safetensors reading and writing. Fixtures in Fixtures/ were written by the real Python
/// `safetensors` package (scripts/make_safetensors_fixtures.py documents their values, which
/// these tests rebuild); Fixtures/swift_written.safetensors is this library's own output,
/// which scripts/check_safetensors_python.py loads with the Python package.
final class SafeTensorsTests: XCTestCase {
    static let fixtures: String = {
        let here = String(#filePath)
        let dir = here[..<(here.lastIndex(of: "/") ?? here.startIndex)]
        return dir + "/Fixtures/"
    }()

    private func fixture(_ name: String) throws -> SafeTensorsFile {
        try SafeTensorsFile.read(path: Self.fixtures + name)
    }

    private func fixtureBytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.fixtures + name)))
    }

    /// `start + i·step` in double precision, rounded to float32 once — as numpy does.
    private func ramp(_ n: Int, _ step: Double, _ start: Double) -> [Float] {
        (0..<n).map { Float(start + Double($0) * step) }
    }

    private func tempDir() throws -> String {
        let dir = NSTemporaryDirectory() + "scnn-st-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    /// A raw file: little-endian length (or `length`), the header text, the data.
    private func rawFile(_ header: String, data: [UInt8] = [], length: UInt64? = nil) -> [UInt8] {
        let h = Array(header.utf8)
        let n = length ?? UInt64(h.count)
        return (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) } + h + data
    }

    private func bitsEqual(_ a: [Float], _ b: [Float], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), file: file, line: line)
    }

    // MARK: Files written by the Python package

    func testReadsF32FixtureWithMetadataAndShapes() throws {
        let f = try fixture("f32_shapes.safetensors")
        XCTAssertEqual(f.metadata, ["format": "pt", "note": "swiftcnn fixture"])
        // The reference writer orders tensors by dtype, then name; names keep header order.
        XCTAssertEqual(f.names, ["cube", "fc.weight", "layer.0.bias", "layer.0.weight", "vector"])
        XCTAssertEqual(f.skipped, [])
        let expected: [(String, [Int], [Float])] = [
            ("vector", [5], ramp(5, 0.5, -1)),
            ("layer.0.weight", [2, 3, 3, 3], ramp(54, 0.1, -2.7)),
            ("layer.0.bias", [2], ramp(2, 0.25, 0.5)),
            ("fc.weight", [4, 3], ramp(12, -0.3, 1.7)),
            ("cube", [1, 2, 2, 2], ramp(8, 1, 0)),
        ]
        for (name, shape, values) in expected {
            let t = try f.tensor(name)
            XCTAssertEqual(t.shape, shape, name)
            bitsEqual(t.scalars, values)  // exact
        }
        // The same through parse(bytes:).
        let g = try SafeTensorsFile.parse(bytes: try fixtureBytes("f32_shapes.safetensors"))
        XCTAssertEqual(g.names, f.names)
        for n in f.names { bitsEqual(try g.tensor(n).scalars, try f.tensor(n).scalars) }
    }

    func testReadsF16Fixture() throws {
        let f = try fixture("f16.safetensors")
        XCTAssertEqual(f.metadata, [:])
        let r = try f.tensor("ramp")
        XCTAssertEqual(r.shape, [2, 3, 4])
        // numpy rounds float64 → float16 directly, as Swift's Float16(Double) does.
        bitsEqual(r.scalars, (0..<24).map { Float(Float16(-1.2 + Double($0) * 0.1)) })
        let s = try f.tensor("special").scalars
        let expected: [Float] = [0, -0.0, 1, -2, 65504, -65504, 0x1p-14, 0x1p-24, 3 * 0x1p-24,
                                 0x1p-14 - 0x1p-24, .infinity, -.infinity, .nan, Float(Float16(1.0 / 3.0))]
        XCTAssertEqual(s.count, expected.count)
        for (i, (a, b)) in zip(s, expected).enumerated() {
            if b.isNaN { XCTAssertTrue(a.isNaN, "\(i)") } else { XCTAssertEqual(a.bitPattern, b.bitPattern, "\(i): \(a) vs \(b)") }
        }
        XCTAssertEqual(s[1].sign, .minus)  // -0 kept
    }

    func testReadsBF16Fixture() throws {
        let f = try fixture("bf16.safetensors")
        XCTAssertEqual(f.metadata, ["dtype": "bf16"])
        let r = try f.tensor("ramp")
        XCTAssertEqual(r.shape, [3, 5])
        bitsEqual(r.scalars, ramp(15, 0.37, -2.5).map { Float(bitPattern: $0.bitPattern & 0xFFFF_0000) })
        let s = try f.tensor("special").scalars
        XCTAssertEqual(s[0].bitPattern, 0)
        XCTAssertEqual(s[1].bitPattern, 0x8000_0000)
        XCTAssertEqual(s[2], 1)
        XCTAssertEqual(s[3], .infinity)
        XCTAssertEqual(s[4], -.infinity)
        XCTAssertTrue(s[5].isNaN)
        XCTAssertEqual(Double(s[6]), 0x1p-133)          // smallest bf16 subnormal: 2^-126 · 2^-7
        XCTAssertEqual(Double(s[7]), -127 * 0x1p-133)    // largest negative bf16 subnormal
    }

    func testStateDictWithNonFloatEntries() throws {
        let f = try fixture("state_dict.safetensors")
        bitsEqual(try f.tensor("bn.weight").scalars, ramp(4, 0.5, 1))
        bitsEqual(try f.tensor("bn.bias").scalars, ramp(4, -0.1, 0.2))
        bitsEqual(try f.tensor("bn.running_mean").scalars, ramp(4, 0.01, 0))
        bitsEqual(try f.tensor("bn.running_var").scalars, ramp(4, 0.7, 1.1))  // F64 rounded once to F32
        XCTAssertEqual(Set(f.names), ["bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"])
        XCTAssertEqual(f.skipped.map(\.name).sorted(), ["bn.num_batches_tracked", "mask"])
        let nbt = try XCTUnwrap(f.skipped.first { $0.name == "bn.num_batches_tracked" })
        XCTAssertEqual(nbt.dtype, .i64)
        XCTAssertEqual(nbt.shape, [])
        XCTAssertThrowsError(try f.tensor("bn.num_batches_tracked")) { error in
            let e = error as? SwiftCNNError
            XCTAssertEqual(e?.kind, .unsupported)
            XCTAssertTrue(e?.message.contains("I64") ?? false, "\(error)")
        }
        XCTAssertThrowsError(try f.tensor("nope")) { XCTAssertEqual(($0 as? SwiftCNNError)?.kind, .invalidArgument) }
        // strict: the first non-float entry is an error naming it and its dtype.
        XCTAssertThrowsError(try SafeTensorsFile.read(path: Self.fixtures + "state_dict.safetensors", strict: true)) { error in
            let e = error as? SwiftCNNError
            XCTAssertEqual(e?.kind, .unsupported)
            XCTAssertTrue(e?.message.contains("bn.num_batches_tracked") ?? false, "\(error)")
            XCTAssertTrue(e?.message.contains("I64") ?? false, "\(error)")
        }
    }

    // MARK: Conversions

    /// Every one of the 65,536 half values, against Swift's Float16 and the format's formula.
    func testF16ConversionExhaustive() {
        for bits in 0...UInt16.max {
            let got = FloatBits.float(fromF16: bits)
            let want = Float(Float16(bitPattern: bits))
            let sign: Double = bits & 0x8000 != 0 ? -1 : 1
            let e = Int(bits >> 10) & 0x1F, m = Double(bits & 0x3FF)
            if e == 0x1F {
                if m == 0 { XCTAssertEqual(got, Float(sign) * .infinity) } else {
                    XCTAssertTrue(got.isNaN, "\(bits)")
                    XCTAssertEqual((got.bitPattern >> 13) & 0x3FF, UInt32(bits & 0x3FF), "NaN payload \(bits)")
                }
                continue
            }
            let formula = e == 0 ? sign * m * 0x1p-24 : sign * (1 + m / 1024) * Double(sign: .plus, exponent: e - 15, significand: 1)
            XCTAssertEqual(Double(got), formula, "\(bits)")
            XCTAssertEqual(got.bitPattern, want.bitPattern, "\(bits)")  // also the sign of zero
        }
    }

    func testBF16ConversionExhaustive() {
        for bits in 0...UInt16.max {
            let got = FloatBits.float(fromBF16: bits)
            let sign: Double = bits & 0x8000 != 0 ? -1 : 1
            let e = Int(bits >> 7) & 0xFF, m = Double(bits & 0x7F)
            if e == 0xFF {
                if m == 0 { XCTAssertEqual(got, Float(sign) * .infinity) } else { XCTAssertTrue(got.isNaN) }
                continue
            }
            let formula = e == 0 ? sign * m * 0x1p-133 : sign * (1 + m / 128) * Double(sign: .plus, exponent: e - 127, significand: 1)
            XCTAssertEqual(Double(got), formula, "\(bits)")
            XCTAssertEqual(got.sign, sign < 0 ? .minus : .plus)
        }
    }

    func testF64IsRoundedOnceAndOverflowsToInfinity() throws {
        let values: [Double] = [0.1, -1e300, 1e300, 1e-50, 3.4028235677973366e38, .pi]
        var data: [UInt8] = []
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { data += $0 } }
        let header = #"{"d":{"dtype":"F64","shape":[6],"data_offsets":[0,48]}}"#
        let t = try SafeTensorsFile.parse(bytes: rawFile(header, data: data)).tensor("d")
        bitsEqual(t.scalars, values.map { Float($0) })
        XCTAssertEqual(t.scalars[1], -.infinity)
        XCTAssertEqual(t.scalars[3], 0)
    }

    // MARK: Writing

    /// The reference crate's own serialization test vectors, byte for byte.
    func testSerializeMatchesReferenceVectors() throws {
        let t = try Tensor(shape: [1, 2, 3], scalars: [0, 1, 2, 3, 4, 5])
        let out = try SafeTensorsFile.serialize([("attn.0", t)])
        XCTAssertEqual(out, [
            64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
            116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
            58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
            101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
            0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
        ])
        XCTAssertEqual(try SafeTensorsFile.serialize([]), [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32])
        XCTAssertEqual(try SafeTensorsFile.serialize([], metadata: ["framework": "pt"]), [
            40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95,
            95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112,
            116, 34, 125, 125, 32, 32, 32, 32, 32,
        ])
        // Padding to 8 (the crate's forced-alignment vector): a 65-byte header gets 7 spaces.
        let aligned = try SafeTensorsFile.serialize([("attn0", try t.reshaped([1, 1, 2, 3]))])
        XCTAssertEqual(Array(aligned[0..<8]), [72, 0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(String(decoding: aligned[8..<(8 + 65)], as: UTF8.self),
                       #"{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}"#)
        XCTAssertEqual(Array(aligned[(8 + 65)..<(8 + 72)]), [UInt8](repeating: 32, count: 7))
        XCTAssertEqual(Array(aligned[(8 + 72)...]), Array(out[(8 + 64)...]))
    }

    /// Fixtures/swift_written.safetensors is exactly what serialize produces for these
    /// tensors (scripts/check_safetensors_python.py loads it with the Python package).
    /// SWIFTCNN_REGENERATE_FIXTURES=1 rewrites it.
    static func swiftWrittenContent() throws -> ([(String, Tensor)], [String: String]) {
        // Sorted by name, the order the reference writer uses for same-dtype tensors, and one
        // metadata key (the reference's metadata map has no fixed order), so the Python
        // package's own serialization of the same content is byte-identical.
        let tensors: [(String, Tensor)] = [
            ("bn.running_var", try Tensor(shape: [2, 2, 1], scalars: [1, 2, 3, 4])),
            ("conv1.bias", try Tensor(shape: [4], scalars: [-1.5, 0, 0.25, 1e-3])),
            ("conv1.weight", try Tensor(shape: [4, 1, 3, 3], scalars: (0..<36).map { Float(Double($0) * 0.05 - 0.9) })),
            ("fc.bias", try Tensor(shape: [3], scalars: [.infinity, -0.0, .greatestFiniteMagnitude])),
            ("fc.weight", try Tensor(shape: [3, 4], scalars: (0..<12).map { Float(Double($0) * -0.125 + 0.5) })),
        ]
        return (tensors, ["note": "swiftcnn: quote \" backslash \\ é"])
    }

    func testSwiftWrittenFixtureIsStable() throws {
        let (tensors, metadata) = try Self.swiftWrittenContent()
        let bytes = try SafeTensorsFile.serialize(tensors, metadata: metadata)
        let path = Self.fixtures + "swift_written.safetensors"
        if ProcessInfo.processInfo.environment["SWIFTCNN_REGENERATE_FIXTURES"] == "1" {
            try SafeTensorsFile.write(tensors, metadata: metadata, to: path)
        }
        XCTAssertEqual(bytes, try fixtureBytes("swift_written.safetensors"))
    }

    func testRoundTripInMemoryAndThroughFiles() throws {
        var rng = TestRNG(3)
        let dir = try tempDir()
        for trial in 0..<20 {
            var list: [(String, Tensor)] = []
            for i in 0..<Int(1 + rng.next() % 5) {
                let rank = Int(1 + rng.next() % 4)
                let shape = (0..<rank).map { _ in Int(1 + rng.next() % 4) }
                let n = shape.reduce(1, *)
                let values = (0..<n).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }  // any bits, NaNs too
                list.append(("t\(trial).\(i) \"é\"", try Tensor(shape: shape, scalars: values)))
            }
            let meta = trial % 2 == 0 ? [:] : ["k\(trial)": "v\n\u{1}😀"]
            let viaBytes = try SafeTensorsFile.parse(bytes: try SafeTensorsFile.serialize(list, metadata: meta))
            let path = dir + "/rt\(trial).safetensors"
            try SafeTensorsFile.write(list, metadata: meta, to: path)
            let viaFile = try SafeTensorsFile.read(path: path)
            for f in [viaBytes, viaFile] {
                XCTAssertEqual(f.names, list.map(\.0))
                XCTAssertEqual(f.metadata, meta)
                for (name, t) in list {
                    XCTAssertEqual(try f.tensor(name).shape, t.shape)
                    XCTAssertEqual(try f.tensor(name).scalars.map(\.bitPattern), t.scalars.map(\.bitPattern))
                }
            }
        }
    }

    func testInstanceWriteAndBadNames() throws {
        let t = try Tensor(zeros: [1])
        let u = try Tensor(shape: [2], scalars: [3, 4])
        var f = try SafeTensorsFile(tensors: [("z", t), ("a", u)], metadata: ["m": "1"])
        XCTAssertEqual(try f.serialized(), try SafeTensorsFile.serialize([("z", t), ("a", u)], metadata: ["m": "1"]))
        let path = try tempDir() + "/f.safetensors"
        try f.write(to: path)
        let back = try SafeTensorsFile.read(path: path)
        XCTAssertEqual(back.names, ["z", "a"])
        XCTAssertEqual(try back.tensor("a").scalars, [3, 4])
        XCTAssertEqual(back.metadata, ["m": "1"])
        f.names.append("ghost")
        XCTAssertThrowsError(try f.serialized()) { XCTAssertEqual(($0 as? SwiftCNNError)?.kind, .invalidArgument) }
        XCTAssertThrowsError(try SafeTensorsFile(tensors: [("a", t), ("a", u)])) {
            XCTAssertEqual(($0 as? SwiftCNNError)?.kind, .invalidArgument)
        }
        XCTAssertThrowsError(try SafeTensorsFile.serialize([("a", t), ("a", t)])) {
            XCTAssertEqual(($0 as? SwiftCNNError)?.kind, .invalidArgument)
        }
        XCTAssertThrowsError(try SafeTensorsFile.serialize([("__metadata__", t)])) {
            XCTAssertEqual(($0 as? SwiftCNNError)?.kind, .invalidArgument)
        }
    }

    // MARK: Atomic save

    private func directoryListing(_ dir: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
    }

    func testFailedSaveLeavesExistingFileIntact() throws {
        let dir = try tempDir()
        let path = dir + "/model.safetensors"
        let old = [("w", try Tensor(shape: [2], scalars: [1, 2]))]
        try SafeTensorsFile.write(old, to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let new = [("w", try Tensor(shape: [1000], repeating: 7))]
        for failAfter in [0, 5, 100, 3000] {  // in the length, the header, the data
            XCTAssertThrowsError(try SafeTensorsFile.write(new, metadata: [:], to: FilePath(path), failAfterBytes: failAfter)) { error in
                let e = error as? SwiftCNNError
                XCTAssertEqual(e?.kind, .io)
                XCTAssertTrue(e?.message.contains(path) ?? false, "\(error)")
                XCTAssertTrue(e?.message.contains("No space left on device") ?? false, "\(error)")
            }
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
            XCTAssertEqual(try directoryListing(dir), ["model.safetensors"])  // no temp file left
        }
        // And a successful save replaces it.
        try SafeTensorsFile.write(new, to: path)
        XCTAssertEqual(try SafeTensorsFile.read(path: path).tensor("w").shape, [1000])
        XCTAssertEqual(try directoryListing(dir), ["model.safetensors"])
    }

    func testSaveErrorsNameThePath() throws {
        let dir = try tempDir()
        let t = [("w", try Tensor(zeros: [2]))]
        // Missing directory: the temporary file cannot be created.
        XCTAssertThrowsError(try SafeTensorsFile.write(t, to: dir + "/missing/x.safetensors")) { error in
            let e = error as? SwiftCNNError
            XCTAssertEqual(e?.kind, .io)
            XCTAssertTrue(e?.message.contains("No such file or directory") ?? false, "\(error)")
        }
        // The target is a non-empty directory: refused before anything is written; the
        // directory and its contents are untouched and no temporary file is left.
        let target = dir + "/occupied"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
        XCTAssertTrue(FileManager.default.createFile(atPath: target + "/keep", contents: Data([1, 2, 3])))
        XCTAssertThrowsError(try SafeTensorsFile.write(t, to: target)) { error in
            XCTAssertEqual((error as? SwiftCNNError)?.kind, .io)
            XCTAssertTrue((error as? SwiftCNNError)?.message.contains("is a directory; refusing to replace it") ?? false, "\(error)")
        }
        XCTAssertEqual(try directoryListing(dir), ["occupied"])
        XCTAssertEqual(try directoryListing(target), ["keep"])
    }

    /// A directory the temporary file cannot be created in (not testable as root, who may
    /// write anywhere): the save fails with the path and the reason, the old file stays.
    func testSaveIntoReadOnlyDirectoryLeavesOldFile() throws {
        try XCTSkipIf(geteuid() == 0, "root ignores directory permissions")
        let dir = try tempDir()
        let path = dir + "/m.safetensors"
        try SafeTensorsFile.write([("w", try Tensor(shape: [1], scalars: [5]))], to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertEqual(chmod(dir, 0o555), 0)
        defer { _ = chmod(dir, 0o755) }
        XCTAssertThrowsError(try SafeTensorsFile.write([("w", try Tensor(zeros: [9]))], to: path)) { error in
            XCTAssertEqual((error as? SwiftCNNError)?.kind, .io)
            XCTAssertTrue((error as? SwiftCNNError)?.message.contains("Permission denied") ?? false, "\(error)")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
        XCTAssertEqual(try directoryListing(dir), ["m.safetensors"])
    }

    func testReadErrors() throws {
        let dir = try tempDir()
        XCTAssertThrowsError(try SafeTensorsFile.read(path: dir + "/absent.safetensors")) { error in
            let e = error as? SwiftCNNError
            XCTAssertEqual(e?.kind, .io)
            XCTAssertTrue(e?.message.contains(dir + "/absent.safetensors") ?? false, "\(error)")
            XCTAssertTrue(e?.message.contains("No such file or directory") ?? false, "\(error)")
        }
        XCTAssertThrowsError(try SafeTensorsFile.read(path: dir)) { error in
            XCTAssertEqual((error as? SwiftCNNError)?.kind, .io)
            XCTAssertTrue((error as? SwiftCNNError)?.message.contains("not a regular file") ?? false, "\(error)")
        }
        // A truncated file on disk.
        let bytes = try fixtureBytes("f32_shapes.safetensors")
        let path = dir + "/short.safetensors"
        try Data(bytes.dropLast(3)).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try SafeTensorsFile.read(path: path)) { XCTAssertEqual(($0 as? SwiftCNNError)?.kind, .format) }
    }

    // MARK: Malformed files

    /// Each hand-made malformed file throws the expected kind with a message naming the problem.
    func testMalformedFiles() throws {
        let f32x2: [UInt8] = [0, 0, 128, 63, 0, 0, 0, 64]
        func entry(_ name: String, _ dtype: String = "\"F32\"", _ shape: String = "[2]", _ offsets: String = "[0,8]") -> String {
            "\"\(name)\":{\"dtype\":\(dtype),\"shape\":\(shape),\"data_offsets\":\(offsets)}"
        }
        let cases: [(String, [UInt8], SwiftCNNError.Kind, String)] = [
            ("empty file", [], .format, "too short for the 8-byte header length"),
            ("7 bytes", [2, 0, 0, 0, 0, 0, 0], .format, "too short"),
            ("header length 0", rawFile("", length: 0), .format, "too small"),
            ("header length 1", rawFile("{", length: 1), .format, "too small"),
            ("header length > 100 MB", rawFile("{}", length: 100_000_001), .format, "larger than the limit"),
            ("header length 2^64-1", rawFile("{}", length: .max), .format, "larger than the limit"),
            ("header length > file", rawFile("{}", length: 3), .format, "more than the 2 bytes that follow"),
            ("header not an object", rawFile("[]      "), .format, "does not start with '{'"),
            ("leading space", rawFile(" {}"), .format, "does not start with '{'"),
            ("invalid JSON", rawFile("{\"a\":}"), .format, "expected a value"),
            ("trailing garbage", rawFile("{}x"), .format, "after the end of the value"),
            ("invalid UTF-8", rawFile("{\"\u{FF}\":1}").enumerated().map { $0.offset == 11 ? 0xFF : $0.element }, .format, "UTF-8"),
            ("NUL padding", rawFile("{}") + [0], .format, "trailing bytes"),
            ("duplicate tensor", rawFile("{\(entry("a")),\(entry("a", "\"F32\"", "[2]", "[8,16]"))}", data: f32x2 + f32x2), .format, "duplicate key \"a\""),
            ("entry not an object", rawFile("{\"a\":[1]}"), .format, "is an array, expected an object"),
            ("missing dtype", rawFile("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", data: f32x2), .format, "has no dtype"),
            ("missing shape", rawFile("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", data: f32x2), .format, "has no shape"),
            ("missing offsets", rawFile("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", data: f32x2), .format, "has no data_offsets"),
            ("dtype not a string", rawFile("{\(entry("a", "32"))}", data: f32x2), .format, "dtype is an integer"),
            ("unknown dtype", rawFile("{\(entry("a", "\"F17\""))}", data: f32x2), .format, "unknown dtype \"F17\""),
            ("lower-case dtype", rawFile("{\(entry("a", "\"f32\""))}", data: f32x2), .format, "unknown dtype \"f32\""),
            ("shape not an array", rawFile("{\(entry("a", "\"F32\"", "2"))}", data: f32x2), .format, "shape is an integer"),
            ("negative dim", rawFile("{\(entry("a", "\"F32\"", "[-2]"))}", data: f32x2), .format, "negative value -2"),
            ("float dim", rawFile("{\(entry("a", "\"F32\"", "[2.0]"))}", data: f32x2), .format, "non-integer number"),
            ("string dim", rawFile("{\(entry("a", "\"F32\"", "[\"2\"]"))}", data: f32x2), .format, "contains a string"),
            ("dim > 2^53", rawFile("{\(entry("a", "\"F32\"", "[9007199254740993]"))}", data: f32x2), .format, "outside ±2^53"),
            ("shape overflow", rawFile("{\(entry("a", "\"F32\"", "[9007199254740992,9007199254740992]"))}", data: f32x2), .format, "overflows"),
            ("one offset", rawFile("{\(entry("a", "\"F32\"", "[2]", "[8]"))}", data: f32x2), .format, "has 1 elements, expected 2"),
            ("three offsets", rawFile("{\(entry("a", "\"F32\"", "[2]", "[0,4,8]"))}", data: f32x2), .format, "has 3 elements, expected 2"),
            ("negative offset", rawFile("{\(entry("a", "\"F32\"", "[2]", "[-8,0]"))}", data: f32x2), .format, "negative value -8"),
            ("begin > end", rawFile("{\(entry("a", "\"F32\"", "[0]", "[8,0]"))}", data: f32x2), .format, "begin > end"),
            ("end beyond data", rawFile("{\(entry("a", "\"F32\"", "[4]", "[0,16]"))}", data: f32x2), .format, "beyond the data section's 8 bytes"),
            ("huge end", rawFile("{\(entry("a", "\"F32\"", "[2]", "[0,9007199254740992]"))}", data: f32x2), .format, "beyond the data section"),
            ("size mismatch", rawFile("{\(entry("a", "\"F32\"", "[3]"))}", data: f32x2), .format, "needs 12 bytes but data_offsets [0, 8] span 8"),
            ("F16 size mismatch", rawFile("{\(entry("a", "\"F16\""))}", data: f32x2), .format, "needs 4 bytes"),
            ("F4 half byte", rawFile("{\(entry("a", "\"F4\"", "[3]", "[0,2]"))}", data: [0, 0]), .format, "not a whole number of bytes"),
            ("overlap", rawFile("{\(entry("a", "\"F32\"", "[2]", "[0,8]")),\(entry("b", "\"F32\"", "[2]", "[4,12]"))}", data: f32x2 + [0, 0, 0, 0]), .format, "overlap tensor 'a'"),
            ("same range twice", rawFile("{\(entry("a")),\(entry("b"))}", data: f32x2), .format, "overlap"),
            ("gap at start", rawFile("{\(entry("a", "\"F32\"", "[1]", "[4,8]"))}", data: f32x2), .format, "bytes 0..<4 of the data section belong to no tensor"),
            ("gap between", rawFile("{\(entry("a", "\"F32\"", "[1]", "[0,4]")),\(entry("b", "\"F32\"", "[1]", "[8,12]"))}", data: f32x2 + [0, 0, 0, 0]), .format, "bytes 4..<8"),
            ("trailing data", rawFile("{\(entry("a", "\"F32\"", "[1]", "[0,4]"))}", data: f32x2), .format, "4 trailing bytes"),
            ("data but no tensors", rawFile("{}", data: f32x2), .format, "8 trailing bytes"),
            ("truncated data", rawFile("{\(entry("a"))}", data: [0, 0, 128]), .format, "beyond the data section's 3 bytes"),
            ("metadata not an object", rawFile("{\"__metadata__\":[]}"), .format, "__metadata__ is an array"),
            ("metadata value not a string", rawFile("{\"__metadata__\":{\"k\":1}}"), .format, "value for 'k' is an integer"),
            ("deep nesting", rawFile("{\"__metadata__\":" + String(repeating: "[", count: 5000) + "}"), .format, "nesting deeper"),
            ("rank 100000", rawFile("{\(entry("w", "\"F32\"", "[" + Array(repeating: "1", count: 99_999).joined(separator: ",") + ",2]"))}", data: f32x2),
             .unsupported, "shape [1, 1, 1, 1, 1, 1, 1, 1, … (100000 dimensions)]"),
            ("rank 5", rawFile("{\(entry("big.weight", "\"F32\"", "[1,1,1,1,2]"))}", data: f32x2), .unsupported, "tensor 'big.weight' has rank 5"),
        ]
        for (what, bytes, kind, fragment) in cases {
            XCTAssertThrowsError(try SafeTensorsFile.parse(bytes: bytes), what) { error in
                guard let e = error as? SwiftCNNError else { return XCTFail("\(what): \(error)") }
                XCTAssertEqual(e.kind, kind, "\(what): \(e.message)")
                XCTAssertTrue(e.message.contains(fragment), "\(what): \"\(e.message)\" lacks \"\(fragment)\"")
            }
        }
    }

    func testEdgeCasesThatAreValid() throws {
        // Null metadata, whitespace padding, zero-size and scalar tensors (listed in skipped),
        // tensors out of offset order in the header, an empty file.
        let one: [UInt8] = [0, 0, 128, 63]
        let header = #"{"__metadata__":null,"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"#
            + #""empty":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}   "#
        let f = try SafeTensorsFile.parse(bytes: rawFile(header, data: one + one))
        XCTAssertEqual(f.names, ["b"])
        XCTAssertEqual(f.metadata, [:])
        XCTAssertEqual(try f.tensor("b").scalars, [1])
        XCTAssertEqual(f.skipped.map(\.name), ["empty", "s"])
        XCTAssertEqual(f.skipped.map(\.shape), [[0, 3], []])
        let empty = try SafeTensorsFile.parse(bytes: rawFile("{}"))
        XCTAssertEqual(empty.names, [])
    }

    /// Every strict prefix and every extension of a valid file is an error; a few hundred
    /// seeded random corruptions of the header each either throw a SwiftCNNError or still
    /// describe a valid file — never trap.
    func testRandomCorruptionNeverTraps() throws {
        for name in ["f32_shapes.safetensors", "state_dict.safetensors"] {
            let good = try fixtureBytes(name)
            XCTAssertNoThrow(try SafeTensorsFile.parse(bytes: good))
            for cut in 0..<good.count {
                XCTAssertThrowsError(try SafeTensorsFile.parse(bytes: Array(good[..<cut])), "\(name) cut at \(cut)") {
                    XCTAssertEqual(($0 as? SwiftCNNError)?.kind, .format)
                }
            }
            XCTAssertThrowsError(try SafeTensorsFile.parse(bytes: good + [0]))

            let headerEnd = 8 + Int(good[0]) + Int(good[1]) << 8
            var rng = TestRNG(UInt64(good.count))
            var threw = 0
            let interesting: [UInt8] = Array("{}[]\":,-0123456789 eE.".utf8) + [0, 0x80, 0xFF]
            for _ in 0..<300 {
                var bytes = good
                switch rng.next() % 5 {
                case 0:  // flip a bit anywhere in the length or header
                    let p = Int(rng.next() % UInt64(headerEnd))
                    bytes[p] ^= UInt8(1) << (rng.next() % 8)
                case 1:  // replace a header byte with a JSON-significant one
                    let p = 8 + Int(rng.next() % UInt64(headerEnd - 8))
                    bytes[p] = interesting[Int(rng.next() % UInt64(interesting.count))]
                case 2:  // delete a header byte
                    bytes.remove(at: 8 + Int(rng.next() % UInt64(headerEnd - 8)))
                case 3:  // random header length
                    let n = rng.next() >> (rng.next() % 64)
                    for i in 0..<8 { bytes[i] = UInt8(truncatingIfNeeded: n >> (8 * UInt64(i))) }
                default:  // several random bytes anywhere
                    for _ in 0..<4 { bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next()) }
                }
                do {
                    _ = try SafeTensorsFile.parse(bytes: bytes)
                } catch let e as SwiftCNNError {
                    XCTAssertTrue([.format, .unsupported].contains(e.kind), e.message)
                    XCTAssertFalse(e.message.isEmpty)
                    threw += 1
                } catch {
                    XCTFail("not a SwiftCNNError: \(error)")
                }
            }
            XCTAssertGreaterThan(threw, 200, name)  // nearly all header corruptions are caught
        }
    }
}
