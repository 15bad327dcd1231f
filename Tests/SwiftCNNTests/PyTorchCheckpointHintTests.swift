import Foundation
import XCTest
@testable import SwiftCNN

/// A PyTorch checkpoint (`.pt`/`.pth`) given where safetensors is expected gets a format
/// error that names it and says how to convert it, not a header-length error. The fixtures
/// are real torch.save output (scripts/make_pytorch_checkpoint_fixtures.py): torch_zip.pt in
/// the zip format, torch_legacy.pt in the legacy pickle format.
final class PyTorchCheckpointHintTests: XCTestCase {
    private static let hint = "not safetensors; convert it in PyTorch with safetensors.torch.save_file(model.state_dict(), 'x.safetensors')"

    private func assertHint(_ body: @autoclosure () throws -> Any, _ kind: String, naming path: String?,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            let e = error as? SwiftCNNError
            XCTAssertEqual(e?.kind, .format, "\(error)", file: file, line: line)
            let m = e?.message ?? ""
            XCTAssertTrue(m.contains("is a PyTorch \(kind) checkpoint"), m, file: file, line: line)
            XCTAssertTrue(m.contains(Self.hint), m, file: file, line: line)
            XCTAssertFalse(m.contains("header length"), m, file: file, line: line)
            if let path { XCTAssertTrue(m.contains(path), m, file: file, line: line) }
        }
    }

    func testTorchSaveFilesGetTheHint() throws {
        for (name, kind) in [("torch_zip.pt", "zip"), ("torch_legacy.pt", "pickle")] {
            let path = SafeTensorsTests.fixtures + name
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            assertHint(try SafeTensorsFile.read(path: path), kind, naming: path)
            assertHint(try SafeTensorsFile.parse(bytes: bytes), kind, naming: nil)
            assertHint(try Model.open(path: path), kind, naming: path)
            var m = try Zoo.create("lenet5")
            assertHint(try m.load(path: path), kind, naming: path)
        }
    }

    /// pickle.dumps({'weight': [1.0, 2.0]}, protocol=2) and of {} (6 bytes: shorter than the
    /// 8-byte header length), from a file and from memory.
    func testPlainPicklesGetTheHint() throws {
        let pickles: [[UInt8]] = [
            [128, 2, 125, 113, 0, 88, 6, 0, 0, 0, 119, 101, 105, 103, 104, 116, 113, 1, 93, 113, 2, 40, 71, 63, 240, 0,
             0, 0, 0, 0, 0, 71, 64, 0, 0, 0, 0, 0, 0, 0, 101, 115, 46],
            [128, 2, 125, 113, 0, 46],
        ]
        let path = NSTemporaryDirectory() + "scnn-pt-hint-\(getpid()).pt"
        defer { try? FileManager.default.removeItem(atPath: path) }
        for bytes in pickles {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            assertHint(try SafeTensorsFile.read(path: path), "pickle", naming: path)
            assertHint(try SafeTensorsFile.parse(bytes: bytes), "pickle", naming: nil)
        }
    }

    /// Other malformed starts keep their own messages: the hint is not a guess about
    /// every bad file.
    func testOtherBadFilesKeepTheirMessages() {
        let cases: [([UInt8], String)] = [
            ([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7B, 0x7D], "larger than the limit"),
            ([0x80, 0x01, 0, 0, 0, 0, 0, 0], "more than the 0 bytes"), // pickle protocol 1 is not torch's
            ([0x50, 0x4B, 0x05, 0x06, 0, 0, 0, 0, 0, 0], "larger than the limit"), // an empty zip: no checkpoint
            ([0x7B, 0x7D], "too short"),
        ]
        for (bytes, expected) in cases {
            XCTAssertThrowsError(try SafeTensorsFile.parse(bytes: bytes)) { error in
                let m = (error as? SwiftCNNError)?.message ?? ""
                XCTAssertTrue(m.contains(expected), m)
                XCTAssertFalse(m.contains("PyTorch"), m)
            }
        }
    }
}
