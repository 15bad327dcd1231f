// Fuzz target: Model.load(path:strict:) of a lenet5 model from a file holding the input.
//
// The input is written to a private temporary file (see withTemporaryFile), loaded into a
// lenet5 model strictly and leniently, and deleted. Oracles:
// - reading the file (SafeTensorsFile.read) and parsing the same bytes in memory
//   (SafeTensorsFile.parse) agree: both fail with the same kind or both give the same tensors;
// - a failed load leaves the model exactly as it was;
// - a successful load sets every model parameter the file has to the file's values and
//   leaves the others as they were; a strict load succeeds only if the lenient one does.

#if canImport(Glibc)
import Glibc
#endif
@testable import SwiftCNN

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = inputBytes(data, size)
    let fixture = LeNetFixture.shared
    let (base, baseState) = (fixture.model, fixture.state)
    let inMemory = Result { try SafeTensorsFile.parse(bytes: bytes) }
    withTemporaryFile(bytes) { path in
        let fromFile = Result { try SafeTensorsFile.read(path: path) }
        switch (fromFile, inMemory) {
        case let (.success(a), .success(b)):
            guard a.names == b.names, a.metadata == b.metadata, a.skipped == b.skipped,
                  a.names.allSatisfy({ sameBits(a.tensors[$0]!, b.tensors[$0]!) }) else {
                fuzzFail("read(path:) and parse(bytes:) give different files")
            }
        case let (.failure(a as SwiftCNNError), .failure(b as SwiftCNNError)):
            guard a.kind == b.kind else {
                fuzzFail("read(path:) fails with \(a.kind) (\(a.message)), parse(bytes:) with \(b.kind) (\(b.message))")
            }
        case let (.success, .failure(e)):
            fuzzFail("read(path:) accepts what parse(bytes:) rejects: \(describe(e))")
        case let (.failure(e), .success):
            fuzzFail("parse(bytes:) accepts what read(path:) rejects: \(describe(e))")
        case let (.failure(a), .failure(b)):
            fuzzFail("non-SwiftCNNError thrown: \(a) / \(b)")
        }

        var lenientOK = false
        for strict in [false, true] {
            var model = base
            do {
                try model.load(path: path, strict: strict)
            } catch is SwiftCNNError {
                requireState(model, baseState, "after a failed load (strict: \(strict))")
                continue
            } catch {
                fuzzFail("load threw a non-SwiftCNNError: \(error)")
            }
            if strict && !lenientOK { fuzzFail("a strict load succeeded where the lenient one failed") }
            if !strict { lenientOK = true }
            guard case let .success(file) = inMemory else { fuzzFail("load succeeded on bytes parse rejects") }
            requireState(model, baseState, override: file.tensors, "after a successful load (strict: \(strict))")
            requireState(base, baseState, "the original model after loading into a copy")
        }
    }
    return 0
}
