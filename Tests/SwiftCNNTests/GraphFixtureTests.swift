import XCTest
@testable import SwiftCNN

/// Every graph fixture of scripts/make_graph_fixtures.py (torch 2.13): a model file in our
/// format with torch's weights, and its io file with torch's forward output, forward-hook
/// outputs and the parameters after one SGD step (train mode, lr from the metadata, loss
/// Σ output·grad_output).
///
/// Tolerance (the fixtures' own "tolerance", 1e-4): for each tensor, max |swift − torch| ≤
/// 1e-4 · max(1, max |torch|). Float32 both sides, different summation orders.
final class GraphFixtureTests: XCTestCase {
    static let folder: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(2)
        return parts.joined(separator: "/") + "/fixtures/graph"
    }()

    static var cases: [String] {
        guard let d = opendir(folder) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name.hasSuffix(".io.safetensors") { names.append(String(name.dropLast(".io.safetensors".count))) }
        }
        return names.sorted()
    }

    func assertClose(_ a: Tensor?, _ e: Tensor?, _ what: String, tolerance: Float = 1e-4,
                     file: StaticString = #filePath, line: UInt = #line) {
        guard let a, let e else { return XCTFail("\(what): missing", file: file, line: line) }
        XCTAssertEqual(a.shape, e.shape, what, file: file, line: line)
        guard a.shape == e.shape else { return }
        let scale = e.scalars.reduce(Float(1)) { max($0, abs($1)) }
        let err = zip(a.scalars, e.scalars).reduce(0) { max($0, abs($1.0 - $1.1)) }
        XCTAssertLessThanOrEqual(err, tolerance * scale, "\(what): max error \(err), scale \(scale)", file: file, line: line)
    }

    func testFixturesExist() {
        XCTAssertGreaterThanOrEqual(Self.cases.count, 30, "graph fixtures in \(Self.folder)")
    }

    /// Forward, hooks, and one SGD step, for every case; the optimized plan and the
    /// reference forward both.
    func testEveryCaseMatchesTorch() throws {
        for name in Self.cases {
            do { try checkCase(name) } catch { XCTFail("\(name): \(error)") }
        }
    }

    func checkCase(_ name: String) throws {
        do {
            let io = try SafeTensorsFile.read(path: Self.folder + "/\(name).io.safetensors")
            let modelPath = Self.folder + "/\(name).safetensors"
            var model: Model
            if name == "seq_torch_statedict" {
                // A torch nn.Sequential's state_dict file (weights only) loads into the
                // equivalent network opened from its graph.
                model = try Model.open(path: modelPath)
                let weightsOnly = Self.folder + "/torch_sequential.safetensors"
                var fresh = try Model(model.architecture, seed: 7)
                try fresh.load(path: weightsOnly)
                XCTAssertEqual(fresh.stateDict().map(\.1.scalars), model.stateDict().map(\.1.scalars), name)
                model = fresh
            } else {
                model = try Model.open(path: modelPath)
            }
            guard let x = io.tensors["input"], let want = io.tensors["output"] else { return XCTFail("\(name): io lacks input/output") }
            assertClose(try model.forward(x), want, "\(name): forward (plan)")
            try withReferenceKernels {
                assertClose(try model.forward(x), want, "\(name): forward (reference)")
            }
            let hooks = (io.metadata["hooks"] ?? "").split(separator: ",").map(String.init).filter { !$0.isEmpty }
            if !hooks.isEmpty {
                let got = try model.forward(x, outputs: hooks)
                for h in hooks { assertClose(got[h], io.tensors["hook.\(h)"], "\(name): output of \(h)") }
            }
            // Round trip: save → open is bitwise equal, and the bytes open the same.
            let tmp = FileManagerless.temporaryPath("graph-\(name)")
            defer { unlink(tmp) }
            try model.save(path: tmp)
            let again = try Model.open(path: tmp)
            XCTAssertEqual(again.architecture, model.architecture, "\(name): architecture round trip")
            XCTAssertEqual(again.stateDict().map { $0.1.scalars.map(\.bitPattern) }, model.stateDict().map { $0.1.scalars.map(\.bitPattern) })
            let bytes = try FileManagerless.read(tmp)
            let fromMemory = try Model.open(bytes: bytes)
            XCTAssertEqual(try fromMemory.forward(x).scalars.map(\.bitPattern), try again.forward(x).scalars.map(\.bitPattern))

            guard io.metadata["sgd"] == "1", let g = io.tensors["grad_output"], let lr = Float(io.metadata["lr"] ?? "") else { return }
            model.train()
            let (y, tape) = try model.forwardRecording(x)
            assertClose(y, io.tensors["train_output"], "\(name): training forward")
            let grads = try model.backward(tape, gradOutput: g)
            var checked = 0
            defer { XCTAssertEqual(checked, model.parameterSpecs.count, "\(name): every parameter and buffer checked after the step") }
            for spec in model.parameterSpecs {
                guard let expected = io.tensors["sgd.\(spec.name)"] else { continue }
                checked += 1
                var updated = try model.parameter(spec.name)
                if !spec.isBuffer, let gr = grads[spec.name] {
                    updated = try Tensor(shape: updated.shape, scalars: zip(updated.scalars, gr.scalars).map { $0 - lr * $1 })
                }
                assertClose(updated, expected, "\(name): \(spec.name) after one SGD step")
            }
        }
    }
}

/// Small file helpers without Foundation.
enum FileManagerless {
    static func temporaryPath(_ stem: String) -> String {
        "/tmp/swiftcnn-test-\(getpid())-\(stem).safetensors"
    }

    static func read(_ path: String) throws -> [UInt8] {
        guard let f = fopen(path, "rb") else { throw SwiftCNNError(.io, "cannot open \(path)") }
        defer { fclose(f) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return out
    }
}
