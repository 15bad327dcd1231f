// Fuzz target: the safetensors parser (SafeTensorsFile.parse(bytes:)) on the raw input.
//
// Any input either parses or throws a SwiftCNNError (.format, .unsupported or .outOfMemory).
// Oracles for inputs that parse:
// - strict parsing succeeds exactly when nothing was skipped, and then gives the same tensors;
// - every name in `names` has a tensor, and every tensor has 1 to 4 dimensions whose
//   product is its element count;
// - writing the file (`serialized()`) and parsing that gives the same names, shapes, bits
//   and metadata.

#if canImport(Glibc)
import Glibc
#endif
@testable import SwiftCNN

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = inputBytes(data, size)
    let file: SafeTensorsFile
    do {
        file = try SafeTensorsFile.parse(bytes: bytes)
    } catch let e as SwiftCNNError {
        guard [.format, .unsupported, .outOfMemory].contains(e.kind) else {
            fuzzFail("parse threw \(e.kind): \(e.message)")
        }
        if (try? SafeTensorsFile.parse(bytes: bytes, strict: true)) != nil {
            fuzzFail("strict parsing accepts what lenient parsing rejects: \(e.message)")
        }
        return 0
    } catch {
        fuzzFail("parse threw a non-SwiftCNNError: \(error)")
    }

    guard Set(file.names).count == file.names.count, file.names.count == file.tensors.count else {
        fuzzFail("names \(file.names) do not match the \(file.tensors.count) tensors")
    }
    for name in file.names {
        guard let t = file.tensors[name] else { fuzzFail("'\(name)' is listed but has no tensor") }
        guard (1...4).contains(t.shape.count), t.shape.allSatisfy({ $0 > 0 }),
              t.shape.reduce(1, *) == t.count else {
            fuzzFail("'\(name)' has shape \(t.shape) and \(t.count) elements")
        }
    }

    do {
        let strict = try SafeTensorsFile.parse(bytes: bytes, strict: true)
        guard file.skipped.isEmpty else { fuzzFail("strict parsing accepted skipped entries \(file.skipped.map(\.name))") }
        guard strict.names == file.names, strict.metadata == file.metadata,
              file.names.allSatisfy({ sameBits(strict.tensors[$0]!, file.tensors[$0]!) }) else {
            fuzzFail("strict and lenient parsing disagree")
        }
    } catch let e as SwiftCNNError {
        guard e.kind == .unsupported, !file.skipped.isEmpty else {
            fuzzFail("strict parsing failed (\(e.kind): \(e.message)) with nothing skipped")
        }
    } catch {
        fuzzFail("strict parse threw a non-SwiftCNNError: \(error)")
    }

    let written: [UInt8]
    do {
        written = try file.serialized()
    } catch {
        fuzzFail("a parsed file does not serialize: \(describe(error))")
    }
    let reread: SafeTensorsFile
    do {
        reread = try SafeTensorsFile.parse(bytes: written, strict: true)
    } catch {
        fuzzFail("the writer's output does not parse: \(describe(error))")
    }
    guard reread.names == file.names else { fuzzFail("round trip changed the names: \(file.names) -> \(reread.names)") }
    guard reread.metadata == file.metadata else { fuzzFail("round trip changed the metadata") }
    for name in file.names where !sameBits(reread.tensors[name]!, file.tensors[name]!) {
        fuzzFail("round trip changed tensor '\(name)'")
    }
    return 0
}
