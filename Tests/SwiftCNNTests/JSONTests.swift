import XCTest
@testable import SwiftCNN

final class JSONTests: XCTestCase {
    private func parse(_ s: String) throws -> JSONValue { try JSON.parse(s) }
    private func parse(bytes: [UInt8]) throws -> JSONValue { try JSON.parse(bytes) }

    func testParsesAllValueKindsInOrder() throws {
        let v = try parse(#" { "b": [1, -2, 0, true, false, null], "a": {"x": "y"}, "c": 1.5e2, "d": -0.25 } "#)
        guard case let .object(pairs) = v else { return XCTFail("not an object") }
        XCTAssertEqual(pairs.map(\.0), ["b", "a", "c", "d"])  // document order kept
        XCTAssertEqual(v["b"], .array([.integer(1), .integer(-2), .integer(0), .bool(true), .bool(false), .null]))
        XCTAssertEqual(v["a"], .object([("x", .string("y"))]))
        XCTAssertEqual(v["c"], .number(150))
        XCTAssertEqual(v["d"], .number(-0.25))
        XCTAssertNil(v["missing"])
        XCTAssertEqual(try parse("[]"), .array([]))
        XCTAssertEqual(try parse("{}"), .object([]))
        XCTAssertEqual(try parse("\"\""), .string(""))
    }

    func testStringEscapesAndUnicode() throws {
        XCTAssertEqual(try parse(#""a\"b\\c\/d\b\f\n\r\t""#), .string("a\"b\\c/d\u{08}\u{0C}\n\r\t"))
        XCTAssertEqual(try parse(#""\u00e9\u4E2D""#), .string("é中"))
        XCTAssertEqual(try parse(#""\ud83d\ude00""#), .string("😀"))  // surrogate pair
        XCTAssertEqual(try parse("\"é中😀\""), .string("é中😀"))          // raw UTF-8, 2/3/4 bytes
        XCTAssertEqual(try parse(#""\u0000""#), .string("\u{0}"))
    }

    func testIntegersAndNumbers() throws {
        XCTAssertEqual(try parse("9007199254740992"), .integer(1 << 53))
        XCTAssertEqual(try parse("-9007199254740992"), .integer(-(1 << 53)))
        XCTAssertEqual(try parse("-0"), .integer(0))
        XCTAssertEqual(try parse("1.0"), .number(1))  // a fraction makes it a non-integer number
        XCTAssertEqual(try parse("2E3"), .number(2000))
        assertThrows(.format, "outside ±2^53", context: "2^53+1") { try self.parse("9007199254740993") }
        assertThrows(.format, "outside ±2^53", context: "-(2^53+1)") { try self.parse("-9007199254740993") }
        assertThrows(.format, "outside ±2^53", context: "huge") { try self.parse("123456789012345678901234567890") }
        assertThrows(.format, "out of range", context: "1e400") { try self.parse("1e400") }
        for bad in ["01", "-", "1.", ".5", "+1", "1e", "1e+", "0x10", "NaN", "Infinity", "-a", "--1"] {
            XCTAssertThrowsError(try parse(bad), bad) { XCTAssertEqual(($0 as? SwiftCNNError)?.kind, .format, bad) }
        }
    }

    func testRejectsMalformedDocuments() {
        assertThrows(.format, "end of input", context: "empty") { try self.parse("") }
        assertThrows(.format, "end of input", context: "whitespace only") { try self.parse("  ") }
        assertThrows(.format, "after the end of the value", context: "trailing garbage") { try self.parse("{} x") }
        assertThrows(.format, "after the end of the value", context: "two values") { try self.parse("1 2") }
        assertThrows(.format, "expected a value", context: "trailing comma in array") { try self.parse("[1,]") }
        assertThrows(.format, "expected a string key", context: "trailing comma in object") { try self.parse(#"{"a":1,}"#) }
        assertThrows(.format, "expected ':'", context: "missing colon") { try self.parse(#"{"a" 1}"#) }
        assertThrows(.format, "expected ',' or '}'", context: "missing comma") { try self.parse(#"{"a":1 "b":2}"#) }
        assertThrows(.format, "expected a string key", context: "unquoted key") { try self.parse("{a:1}") }
        assertThrows(.format, "end of input", context: "unclosed array") { try self.parse("[1, 2") }
        assertThrows(.format, "end of input", context: "unclosed object") { try self.parse(#"{"a":1"#) }
        assertThrows(.format, "unterminated string", context: "unterminated string") { try self.parse(#""abc"#) }
        assertThrows(.format, "duplicate key \"a\"", context: "duplicate key") { try self.parse(#"{"a":1,"b":2,"a":3}"#) }
        assertThrows(.format, "raw control character", context: "raw newline") { try self.parse("\"a\nb\"") }
        assertThrows(.format, "raw control character", context: "raw tab") { try self.parse("\"a\tb\"") }
        assertThrows(.format, "invalid escape", context: "bad escape") { try self.parse(#""\x""#) }
        assertThrows(.format, "invalid hex digit", context: "bad hex") { try self.parse(#""\u12G4""#) }
        assertThrows(.format, "truncated \\u escape", context: "short \\u") { try self.parse("\"\\u12") }
        assertThrows(.format, "not followed by a low surrogate", context: "lone high surrogate") { try self.parse(#""\ud800x""#) }
        assertThrows(.format, "not a low surrogate", context: "high + non-low") { try self.parse(#""\ud800\u0041""#) }
        assertThrows(.format, "lone low surrogate", context: "lone low surrogate") { try self.parse(#""\udc00""#) }
        assertThrows(.format, "expected true", context: "bad literal") { try self.parse("tru") }
        assertThrows(.format, "expected null", context: "bad literal") { try self.parse("nul!") }
        assertThrows(.format, "more than the limit", context: "size limit") { try JSON.parse("[1, 2, 3]", maxBytes: 4) }
    }

    func testRejectsInvalidUTF8() {
        let cases: [(String, [UInt8])] = [
            ("overlong NUL", [0xC0, 0x80]),
            ("overlong 2-byte", [0xC1, 0xBF]),
            ("overlong 3-byte", [0xE0, 0x80, 0xAF]),
            ("overlong 4-byte", [0xF0, 0x80, 0x80, 0xAF]),
            ("encoded surrogate", [0xED, 0xA0, 0x80]),
            ("above U+10FFFF", [0xF4, 0x90, 0x80, 0x80]),
            ("lead byte F5", [0xF5, 0x80, 0x80, 0x80]),
            ("lone continuation", [0x80]),
            ("bad continuation", [0xC3, 0x28]),
            ("truncated", [0xE2, 0x82]),
            ("0xFF", [0xFF]),
        ]
        for (what, seq) in cases {
            let doc: [UInt8] = [UInt8(ascii: "\"")] + seq + [UInt8(ascii: "\"")]
            XCTAssertThrowsError(try parse(bytes: doc), what) { error in
                XCTAssertEqual((error as? SwiftCNNError)?.kind, .format, what)
                XCTAssertTrue((error as? SwiftCNNError)?.message.contains("UTF-8") ?? false, "\(what): \(error)")
            }
        }
        // Stray non-ASCII byte outside a string.
        XCTAssertThrowsError(try parse(bytes: [0xC3, 0xA9])) { XCTAssertEqual(($0 as? SwiftCNNError)?.kind, .format) }
    }

    func testDepthIsBounded() throws {
        let ok = String(repeating: "[", count: JSON.maxDepth) + String(repeating: "]", count: JSON.maxDepth)
        XCTAssertNoThrow(try parse(ok))
        let deep = String(repeating: "[", count: JSON.maxDepth + 1) + String(repeating: "]", count: JSON.maxDepth + 1)
        assertThrows(.format, "nesting deeper than 64", context: "depth 65") { try self.parse(deep) }
        // Far deeper than any stack could recurse: refused at the limit, no stack overflow.
        assertThrows(.format, "nesting deeper", context: "depth 200000") { try self.parse(String(repeating: "[{\"a\":", count: 100_000)) }
    }

    func testWriterEscapesAndRoundTrips() throws {
        let s = "q\"b\\s/ n\n r\r t\t \u{01} \u{1F} \u{7F} é 😀"
        let text = try JSONValue.string(s).serialized()
        XCTAssertEqual(text, #""q\"b\\s/ n\n r\r t\t \u0001 \u001f \u007f é 😀""#)
        XCTAssertEqual(try parse(text), .string(s))
        let v = JSONValue.object([("z", .array([.integer(-3), .bool(true), .null, .number(0.5)])), ("a", .object([]))])
        XCTAssertEqual(try v.serialized(), #"{"z":[-3,true,null,0.5],"a":{}}"#)
        XCTAssertThrowsError(try JSONValue.number(.infinity).serialized())
    }

    /// Random documents: serialize → parse gives the same value back.
    func testRandomValuesRoundTrip() throws {
        var rng = TestRNG(42)
        func randomString() -> String {
            let pool: [Unicode.Scalar] = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\u{0}", "\u{1F}", "é", "中", "😀", "\u{FFFF}"]
            var s = String.UnicodeScalarView()
            for _ in 0..<Int(rng.next() % 8) { s.append(pool[Int(rng.next() % UInt64(pool.count))]) }
            return String(s)
        }
        func randomValue(_ depth: Int) -> JSONValue {
            switch rng.next() % (depth > 3 ? 5 : 7) {
            case 0: return .null
            case 1: return .bool(rng.next() % 2 == 0)
            case 2: return .integer(Int64(bitPattern: rng.next()) % (1 << 53))
            case 3: return .number(Double(Int64(bitPattern: rng.next() % 1_000_000)) / 64)  // exact in binary
            case 4: return .string(randomString())
            case 5: return .array((0..<Int(rng.next() % 4)).map { _ in randomValue(depth + 1) })
            default:
                var seen = Set<String>()
                var pairs: [(String, JSONValue)] = []
                for _ in 0..<Int(rng.next() % 4) {
                    let k = randomString()
                    if seen.insert(k).inserted { pairs.append((k, randomValue(depth + 1))) }
                }
                return .object(pairs)
            }
        }
        for i in 0..<300 {
            let v = randomValue(0)
            let text = try v.serialized()
            var back = try parse(text)
            // Numbers that happen to be integral print without a fraction ("3.0")? Normalise.
            if case let .number(d) = v, case let .integer(n) = back, Double(n) == d { back = v }
            XCTAssertEqual(back, v, "case \(i): \(text)")
        }
    }

    /// Random bytes and random mutations of a valid document never trap.
    func testRandomBytesNeverTrap() {
        var rng = TestRNG(7)
        let base = Array(#"{"__metadata__":{"k":"v\u00e9"},"t":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}"#.utf8)
        let alphabet = Array(#"{}[]",:\u0123456789-+.eEtrufalsn "#.utf8) + [0x00, 0x0A, 0x80, 0xC3, 0xED, 0xF4, 0xFF]
        var failures = 0
        for i in 0..<2000 {
            var doc = base
            if i % 2 == 0 {
                doc = (0..<Int(rng.next() % 40)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            } else {
                for _ in 0..<(1 + Int(rng.next() % 3)) {
                    let p = Int(rng.next() % UInt64(doc.count))
                    doc[p] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                }
            }
            do { _ = try parse(bytes: doc) } catch let e as SwiftCNNError {
                XCTAssertEqual(e.kind, .format)
                failures += 1
            } catch { XCTFail("not a SwiftCNNError: \(error)") }
        }
        XCTAssertGreaterThan(failures, 1000)  // most random inputs are invalid, and say so
    }
}
