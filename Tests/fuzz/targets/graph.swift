// Fuzz target: the network JSON of docs/model-format.md (Architecture.fromJSON) and, when
// the input starts with the safetensors length prefix of a plausible header, a whole model
// file (Model.open(bytes:)).
//
// Oracles:
// - a document that reads writes back to JSON that reads to an equal architecture;
// - a model made from it validates its own input: the nominal input runs through the plan
//   and the reference forward with the output shape shape inference promised, when the
//   network is small enough to run in a fuzzing budget;
// - a model file that opens saves to bytes that open to the same weights.

#if canImport(Glibc)
import Glibc
#endif
@testable import SwiftCNN

/// Networks above these sizes are only validated, not run.
let maxRunElements = 1 << 16
let maxRunMACs = 1 << 22

func exercise(_ arch: Architecture) {
    let text: String
    do { text = try arch.json() } catch { fuzzFail("an architecture that read cannot be written: \(describe(error))") }
    do {
        let again = try Architecture.fromJSON(text)
        guard again == arch else { fuzzFail("JSON round trip changed the architecture: \(text)") }
    } catch {
        fuzzFail("written JSON does not read back: \(describe(error)): \(text)")
    }
    guard let params = try? arch.numParameters(), params <= maxRunElements,
          let n = try? Checked.product(arch.inputShape), n <= maxRunElements,
          let summary = try? ModelSummary(arch, inputShape: nil), summary.totalMACs <= maxRunMACs else { return }
    let model: Model
    do { model = try Model(arch) } catch is SwiftCNNError { return } catch { fuzzFail("Model(arch) threw \(error)") }
    let shape = arch.nominalInputShape(batch: 1)
    do {
        let want = try arch.outputShape(forInput: shape)
        let x = try Tensor(zeros: shape)
        let y = try model.forward(x)
        guard y.shape == want else { fuzzFail("forward gave \(y.shape), shape inference \(want): \(text)") }
        let r = try withReferenceForward { try model.forward(x) }
        guard r.shape == want else { fuzzFail("reference forward gave \(r.shape), shape inference \(want)") }
    } catch is SwiftCNNError {
        // Runtime refusals (e.g. values out of range) are allowed; crashes are not.
    } catch {
        fuzzFail("forward threw a non-SwiftCNNError: \(error)")
    }
}

func withReferenceForward<R>(_ body: () throws -> R) rethrows -> R {
    let saved = KernelDispatch.forceReference
    KernelDispatch.forceReference = true
    defer { KernelDispatch.forceReference = saved }
    return try body()
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = inputBytes(data, size)
    if size >= 9, bytes[8] == UInt8(ascii: "{"), bytes[0] != UInt8(ascii: "{") {
        do {
            let model = try Model.open(bytes: bytes)
            let out = try SafeTensorsFile.serialize(model.stateDict(), metadata: try model.fileMetadata())
            let again = try Model.open(bytes: out)
            guard again.architecture == model.architecture,
                  again.stateDict().map({ $0.1.scalars.map(\.bitPattern) }) == model.stateDict().map({ $0.1.scalars.map(\.bitPattern) }) else {
                fuzzFail("a model file saved and reopened differs")
            }
            exercise(model.architecture)
        } catch is SwiftCNNError {
        } catch {
            fuzzFail("Model.open threw a non-SwiftCNNError: \(error)")
        }
        return 0
    }
    do {
        let v = try JSON.parse(bytes, maxBytes: 1 << 20, context: "graph JSON", largeIntegersAsNumbers: true)
        exercise(try Architecture.fromJSON(v))
    } catch is SwiftCNNError {
    } catch {
        fuzzFail("Architecture.fromJSON threw a non-SwiftCNNError: \(error)")
    }
    return 0
}
