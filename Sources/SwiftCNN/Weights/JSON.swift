/// A small, strict JSON reader and writer, for safetensors headers.
///
/// The reader takes untrusted bytes and either returns a ``JSONValue`` or throws a
/// ``SwiftCNNError`` of kind ``SwiftCNNError/Kind/format`` whose message says what was
/// expected and at which byte offset; it never traps. It is stricter than RFC 8259 requires,
/// on purpose, because its input is a file format:
///
/// - the input must be valid UTF-8 (no overlong forms, no encoded surrogates, nothing
///   above U+10FFFF);
/// - strings may not contain raw control characters (U+0000–U+001F); escapes are the
///   RFC's (`\" \\ \/ \b \f \n \r \t \uXXXX`), and `\uXXXX` surrogates must form a pair;
/// - an object may not repeat a key;
/// - nesting is at most ``JSON/maxDepth`` arrays/objects deep;
/// - numbers follow the JSON grammar (no leading zeros, `+`, `NaN`, hex); an integer literal
///   (no fraction, no exponent) must lie within ±2^53, the range in which every integer is
///   exact in a double, and is returned as ``JSONValue/integer(_:)``; other numbers are
///   returned as ``JSONValue/number(_:)``;
/// - nothing but whitespace may follow the value.
///
/// Objects keep their keys in document order.
public enum JSON {
    /// The deepest nesting of arrays and objects the reader accepts.
    public static let maxDepth = 64

    /// The largest integer magnitude the reader accepts, 2^53.
    public static let maxInteger: Int64 = 1 << 53

    /// Parses one JSON value that fills `bytes` (surrounding whitespace allowed).
    ///
    /// - Parameters:
    ///   - bytes: the document, UTF-8.
    ///   - maxBytes: a document longer than this is refused before parsing.
    ///   - context: a prefix for error messages, e.g. `"safetensors header"`.
    ///   - largeIntegersAsNumbers: integer literals beyond ±2^53 are returned as
    ///     ``JSONValue/number(_:)`` (the nearest double) instead of refused — for documents
    ///   that may hold ±(2^63 − 1) as "no bound" (the graph JSON's slice bounds).
    public static func parse(_ bytes: UnsafeRawBufferPointer, maxBytes: Int = 100_000_000,
                             context: String = "JSON", largeIntegersAsNumbers: Bool = false) throws -> JSONValue {
        guard bytes.count <= maxBytes else {
            throw SwiftCNNError.format("\(context): \(bytes.count) bytes is more than the limit of \(maxBytes)")
        }
        var p = JSONParser(bytes: bytes.bindMemory(to: UInt8.self), context: context)
        p.largeIntegersAsNumbers = largeIntegersAsNumbers
        p.skipWhitespace()
        let v = try p.parseValue(depth: 0)
        p.skipWhitespace()
        if p.pos < p.bytes.count {
            throw p.error("unexpected \(p.describeByte(at: p.pos)) after the end of the value")
        }
        return v
    }

    /// Parses one JSON value from an array of bytes.
    public static func parse(_ bytes: [UInt8], maxBytes: Int = 100_000_000, context: String = "JSON",
                             largeIntegersAsNumbers: Bool = false) throws -> JSONValue {
        try bytes.withUnsafeBytes {
            try parse($0, maxBytes: maxBytes, context: context, largeIntegersAsNumbers: largeIntegersAsNumbers)
        }
    }

    /// Parses one JSON value from a string.
    public static func parse(_ text: String, maxBytes: Int = 100_000_000, context: String = "JSON",
                             largeIntegersAsNumbers: Bool = false) throws -> JSONValue {
        try parse(Array(text.utf8), maxBytes: maxBytes, context: context, largeIntegersAsNumbers: largeIntegersAsNumbers)
    }
}

/// A JSON value.
public enum JSONValue: Equatable, Sendable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// An integer literal (no fraction or exponent) within ±2^53.
    case integer(Int64)
    /// Any other number.
    case number(Double)
    /// A string, unescaped.
    case string(String)
    /// An array, in document order.
    case array([JSONValue])
    /// Key/value pairs in document order; keys are unique.
    case object([(String, JSONValue)])

    /// Structural equality; objects compare their pairs in order.
    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.integer(x), .integer(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// The value for `key` when this is an object that has it, else nil.
    public subscript(key: String) -> JSONValue? {
        guard case let .object(pairs) = self else { return nil }
        for (k, v) in pairs where k == key { return v }
        return nil
    }

    /// A short name of the value's type, for error messages ("a string", "an array", …).
    public var typeDescription: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .integer: return "an integer"
        case .number: return "a non-integer number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    // MARK: Writing

    /// Compact JSON text for this value (no spaces), UTF-8 kept as is; control characters,
    /// `"` and `\` escaped. Non-finite numbers, which JSON cannot express, are an error.
    public func serialized() throws -> String {
        var out = ""
        try write(into: &out)
        return out
    }

    private func write(into out: inout String) throws {
        switch self {
        case .null: out += "null"
        case let .bool(b): out += b ? "true" : "false"
        case let .integer(i): out += String(i)
        case let .number(d):
            guard d.isFinite else { throw SwiftCNNError.invalidArgument("JSON: cannot write the number \(d)") }
            out += "\(d)"
        case let .string(s): JSONValue.writeString(s, into: &out)
        case let .array(items):
            out += "["
            for (i, v) in items.enumerated() {
                if i > 0 { out += "," }
                try v.write(into: &out)
            }
            out += "]"
        case let .object(pairs):
            out += "{"
            for (i, (k, v)) in pairs.enumerated() {
                if i > 0 { out += "," }
                JSONValue.writeString(k, into: &out)
                out += ":"
                try v.write(into: &out)
            }
            out += "}"
        }
    }

    /// Appends `s` as a JSON string literal.
    static func writeString(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if u.value < 0x20 || u.value == 0x7F {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }
}

/// The recursive-descent reader behind ``JSON/parse(_:maxBytes:context:)``.
struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    let context: String
    var pos = 0
    /// See ``JSON/parse(_:maxBytes:context:largeIntegersAsNumbers:)``.
    var largeIntegersAsNumbers = false

    init(bytes: UnsafeBufferPointer<UInt8>, context: String) {
        self.bytes = bytes
        self.context = context
    }

    func error(_ what: String) -> SwiftCNNError {
        SwiftCNNError.format("\(context): \(what) at byte \(pos)")
    }

    func describeByte(at i: Int) -> String {
        guard i >= 0 && i < bytes.count else { return "end of input" }
        let b = bytes[i]
        if b >= 0x21 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        let hex = String(b, radix: 16)
        return "byte 0x" + (hex.count < 2 ? "0" : "") + hex
    }

    @inline(__always) func peek() -> UInt8? { pos < bytes.count ? bytes[pos] : nil }

    mutating func skipWhitespace() {
        while pos < bytes.count {
            switch bytes[pos] {
            case 0x20, 0x09, 0x0A, 0x0D: pos += 1
            default: return
            }
        }
    }

    mutating func expect(_ literal: String, _ value: JSONValue) throws -> JSONValue {
        let lit = Array(literal.utf8)
        let n = lit.count
        guard bytes.count - pos >= n else { throw error("truncated literal, expected \(literal)") }
        for i in 0..<n where bytes[pos + i] != lit[i] {
            throw error("invalid literal, expected \(literal)")
        }
        pos += n
        return value
    }

    mutating func parseValue(depth: Int) throws -> JSONValue {
        guard let c = peek() else { throw error("unexpected end of input, expected a value") }
        switch c {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try expect("true", .bool(true))
        case UInt8(ascii: "f"): return try expect("false", .bool(false))
        case UInt8(ascii: "n"): return try expect("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("unexpected \(describeByte(at: pos)), expected a value")
        }
    }

    mutating func parseObject(depth: Int) throws -> JSONValue {
        guard depth <= JSON.maxDepth else { throw error("nesting deeper than \(JSON.maxDepth) levels") }
        pos += 1  // {
        var pairs: [(String, JSONValue)] = []
        var seen = Set<String>()
        skipWhitespace()
        if peek() == UInt8(ascii: "}") { pos += 1; return .object(pairs) }
        while true {
            skipWhitespace()
            guard peek() == UInt8(ascii: "\"") else {
                throw error("unexpected \(describeByte(at: pos)), expected a string key")
            }
            let keyStart = pos
            let key = try parseString()
            guard seen.insert(key).inserted else {
                pos = keyStart
                throw error("duplicate key \"\(key)\"")
            }
            skipWhitespace()
            guard peek() == UInt8(ascii: ":") else {
                throw error("unexpected \(describeByte(at: pos)), expected ':' after key \"\(key)\"")
            }
            pos += 1
            skipWhitespace()
            let v = try parseValue(depth: depth)
            pairs.append((key, v))
            skipWhitespace()
            guard let c = peek() else { throw error("unexpected end of input inside an object") }
            pos += 1
            if c == UInt8(ascii: "}") { return .object(pairs) }
            guard c == UInt8(ascii: ",") else {
                pos -= 1
                throw error("unexpected \(describeByte(at: pos)), expected ',' or '}'")
            }
        }
    }

    mutating func parseArray(depth: Int) throws -> JSONValue {
        guard depth <= JSON.maxDepth else { throw error("nesting deeper than \(JSON.maxDepth) levels") }
        pos += 1  // [
        var items: [JSONValue] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "]") { pos += 1; return .array(items) }
        while true {
            skipWhitespace()
            items.append(try parseValue(depth: depth))
            skipWhitespace()
            guard let c = peek() else { throw error("unexpected end of input inside an array") }
            pos += 1
            if c == UInt8(ascii: "]") { return .array(items) }
            guard c == UInt8(ascii: ",") else {
                pos -= 1
                throw error("unexpected \(describeByte(at: pos)), expected ',' or ']'")
            }
        }
    }

    /// Reads four hex digits at `pos`.
    mutating func parseHex4() throws -> UInt32 {
        guard bytes.count - pos >= 4 else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[pos]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw error("invalid hex digit \(describeByte(at: pos)) in \\u escape")
            }
            v = v << 4 | d
            pos += 1
        }
        return v
    }

    /// Reads a string literal starting at the opening quote.
    mutating func parseString() throws -> String {
        let start = pos
        pos += 1  // "
        var scalars = String.UnicodeScalarView()
        while true {
            guard pos < bytes.count else {
                pos = start
                throw error("unterminated string")
            }
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") {
                pos += 1
                return String(scalars)
            }
            if b < 0x20 {
                throw error("raw control character \(describeByte(at: pos)) in a string (must be escaped)")
            }
            if b == UInt8(ascii: "\\") {
                pos += 1
                guard let e = peek() else { throw error("truncated escape") }
                pos += 1
                switch e {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    let hi = try parseHex4()
                    var value = hi
                    if hi >= 0xD800 && hi <= 0xDBFF {
                        guard bytes.count - pos >= 2, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") else {
                            throw error("high surrogate \\u\(String(hi, radix: 16)) not followed by a low surrogate")
                        }
                        pos += 2
                        let lo = try parseHex4()
                        guard lo >= 0xDC00 && lo <= 0xDFFF else {
                            throw error("high surrogate \\u\(String(hi, radix: 16)) followed by \\u\(String(lo, radix: 16)), not a low surrogate")
                        }
                        value = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                    } else if hi >= 0xDC00 && hi <= 0xDFFF {
                        throw error("lone low surrogate \\u\(String(hi, radix: 16))")
                    }
                    guard let u = Unicode.Scalar(value) else { throw error("invalid code point in \\u escape") }
                    scalars.append(u)
                default:
                    pos -= 1
                    throw error("invalid escape \\\(describeByte(at: pos))")
                }
                continue
            }
            if b < 0x80 {
                scalars.append(Unicode.Scalar(b))
                pos += 1
                continue
            }
            scalars.append(try decodeUTF8())
        }
    }

    /// Decodes one multi-byte UTF-8 sequence at `pos`, strictly (RFC 3629).
    mutating func decodeUTF8() throws -> Unicode.Scalar {
        let b0 = bytes[pos]
        let n: Int
        var v: UInt32
        var lowMin: UInt8 = 0x80, lowMax: UInt8 = 0xBF  // allowed range of the second byte
        switch b0 {
        case 0xC2...0xDF: n = 2; v = UInt32(b0 & 0x1F)
        case 0xE0: n = 3; v = 0; lowMin = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: n = 3; v = UInt32(b0 & 0x0F)
        case 0xED: n = 3; v = UInt32(b0 & 0x0F); lowMax = 0x9F  // no surrogates
        case 0xF0: n = 4; v = 0; lowMin = 0x90
        case 0xF1...0xF3: n = 4; v = UInt32(b0 & 0x07)
        case 0xF4: n = 4; v = 4; lowMax = 0x8F  // ≤ U+10FFFF
        default: throw error("invalid UTF-8 lead \(describeByte(at: pos))")
        }
        guard bytes.count - pos >= n else { throw error("truncated UTF-8 sequence") }
        for i in 1..<n {
            let c = bytes[pos + i]
            let lo: UInt8 = i == 1 ? lowMin : 0x80
            let hi: UInt8 = i == 1 ? lowMax : 0xBF
            guard c >= lo && c <= hi else {
                pos += i
                throw error("invalid UTF-8 continuation \(describeByte(at: pos))")
            }
            v = v << 6 | UInt32(c & 0x3F)
        }
        guard let u = Unicode.Scalar(v) else { throw error("invalid UTF-8 code point") }
        pos += n
        return u
    }

    mutating func parseNumber() throws -> JSONValue {
        let start = pos
        var negative = false
        if peek() == UInt8(ascii: "-") { negative = true; pos += 1 }
        func isDigit(_ c: UInt8?) -> Bool { c.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }
        guard isDigit(peek()) else { throw error("expected a digit in a number") }
        var integer = true
        var magnitude: Int64 = 0
        var tooBig = false
        if peek() == UInt8(ascii: "0") {
            pos += 1
            if isDigit(peek()) { throw error("leading zero in a number") }
        } else {
            while let c = peek(), isDigit(c) {
                if !tooBig {
                    magnitude = magnitude * 10 + Int64(c - 0x30)
                    if magnitude > JSON.maxInteger { tooBig = true }
                }
                pos += 1
            }
        }
        if peek() == UInt8(ascii: ".") {
            integer = false
            pos += 1
            guard isDigit(peek()) else { throw error("expected a digit after '.' in a number") }
            while isDigit(peek()) { pos += 1 }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            integer = false
            pos += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { pos += 1 }
            guard isDigit(peek()) else { throw error("expected a digit in a number's exponent") }
            while isDigit(peek()) { pos += 1 }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
        if integer {
            if tooBig {
                if largeIntegersAsNumbers, let d = Double(text), d.isFinite { return .number(d) }
                pos = start
                throw error("integer \(text) is outside ±2^53")
            }
            return .integer(negative ? -magnitude : magnitude)
        }
        guard let d = Double(text), d.isFinite else {
            pos = start
            throw error("number \(text) is out of range")
        }
        return .number(d)
    }
}
