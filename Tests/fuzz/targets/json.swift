// Fuzz target: the JSON reader (JSON.parse), which reads every safetensors header.
//
// Any input either parses or throws a SwiftCNNError of kind .format. Oracle for inputs that
// parse: writing the value and reading the text back gives the same value, and writing
// that again gives the same text (the writer's output is a fixed point of the reader).

#if canImport(Glibc)
import Glibc
#endif
@testable import SwiftCNN

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let value: JSONValue
    do {
        value = try JSON.parse(inputBytes(data, size), context: "fuzz")
    } catch let e as SwiftCNNError {
        if e.kind != .format { fuzzFail("JSON.parse threw \(e.kind), expected .format: \(e.message)") }
        return 0
    } catch {
        fuzzFail("JSON.parse threw a non-SwiftCNNError: \(error)")
    }
    let text: String
    do {
        text = try value.serialized()
    } catch {
        fuzzFail("a parsed value does not serialize: \(describe(error))")
    }
    let again: JSONValue
    do {
        again = try JSON.parse(text, context: "fuzz round trip")
    } catch {
        fuzzFail("the writer's output does not parse: \(describe(error)); text: \(text)")
    }
    guard again == value else { fuzzFail("round trip changed the value; text: \(text)") }
    guard let text2 = try? again.serialized(), Array(text2.utf8) == Array(text.utf8) else {
        fuzzFail("writing the re-read value gives other text; text: \(text)")
    }
    return 0
}
