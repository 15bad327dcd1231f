// Fuzz target: Checkpoint.load(path:model:optimizer:) into a lenet5 model and an SGD
// optimizer (momentum 0.9), from a file holding the input.
//
// The input is written to a private temporary file, loaded, and deleted. Oracles:
// - a failed load leaves the model and the optimizer (step count, learning rate, state
//   tensors) exactly as they were ("either everything loads or nothing changes");
// - a successful load gives the model the file's weights (every parameter, strictly).

#if canImport(Glibc)
import Glibc
#endif
@testable import SwiftCNN

func makeOptimizer(for model: Model) -> Optimizer {
    do { return try Optimizer(.sgd(lr: 0.05, momentum: 0.9), for: model) } catch { fuzzFail("cannot create the optimizer: \(describe(error))") }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = inputBytes(data, size)
    let fixture = LeNetFixture.shared
    let (base, baseState) = (fixture.model, fixture.state)
    withTemporaryFile(bytes) { path in
        var model = base
        let optimizer = makeOptimizer(for: base)
        let before = (optimizer.stepCount, optimizer.config.learningRate.bitPattern, optimizer.stateDict().count)
        do {
            try Checkpoint.load(path: FilePath(path), model: &model, optimizer: optimizer)
        } catch is SwiftCNNError {
            requireState(model, baseState, "after a failed checkpoint load")
            let after = (optimizer.stepCount, optimizer.config.learningRate.bitPattern, optimizer.stateDict().count)
            guard after == before else { fuzzFail("a failed checkpoint load changed the optimizer: \(before) -> \(after)") }
            return
        } catch {
            fuzzFail("Checkpoint.load threw a non-SwiftCNNError: \(error)")
        }
        guard let file = try? SafeTensorsFile.parse(bytes: bytes) else {
            fuzzFail("Checkpoint.load accepted bytes that parse(bytes:) rejects")
        }
        for (name, _) in model.stateDict() where file.tensors[name] == nil {
            fuzzFail("a checkpoint without \(name) loaded")
        }
        requireState(model, baseState, override: file.tensors, "after a successful checkpoint load")
        requireState(base, baseState, "the original model after loading into a copy")
    }
    return 0
}
