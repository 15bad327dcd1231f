import XCTest
@testable import SwiftCNN

#if canImport(Glibc)
import Glibc
#endif

/// Regression tests for the hardening issue: each of these failed (trapped, hung, aliased a
/// file, returned NaNs, or left debris) before its fix.
final class HardeningTests: XCTestCase {
    /// A private directory (mkdtemp), removed with everything in it, whatever its names' bytes.
    private func tempDir() throws -> FilePath {
        var template = Array("\(NSTemporaryDirectory())scnn-hard-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw SwiftCNNError.io("mkdtemp failed") }
        let dir = FilePath(cString: p)
        addTeardownBlock { Self.removeTree(dir) }
        return dir
    }

    private static func removeTree(_ dir: FilePath) {
        for name in (try? listing(dir)) ?? [] {
            _ = try? dir.joining(name).withCString { unlink($0) }
        }
        _ = try? dir.withCString { rmdir($0) }
    }

    /// The names in `dir` as raw bytes, sorted.
    private static func listing(_ dir: FilePath) throws -> [[UInt8]] {
        guard let d = try dir.withCString({ opendir($0) }) else { throw SwiftCNNError.io("opendir \(dir)") }
        defer { closedir(d) }
        var names: [[UInt8]] = []
        while let e = readdir(d) {
            let name: [UInt8] = withUnsafeBytes(of: &e.pointee.d_name) { raw in
                let b = raw.bindMemory(to: UInt8.self)
                return Array(b[..<(b.firstIndex(of: 0) ?? b.count)])
            }
            if name != [46] && name != [46, 46] { names.append(name) }
        }
        return names.sorted { $0.lexicographicallyPrecedes($1) }
    }

    // MARK: 1. Size computations

    /// workspaceBytes built its forward plan with an unchecked product of the input shape:
    /// a batch of 2^50 trapped (SIGILL), taking the host down.
    func testWorkspaceBytesOfAnOverflowingShapeIsAnError() throws {
        for name in ["resnet18", "alexnet", "googlenet"] {
            let m = try Zoo.create(name)
            assertThrows(.invalidArgument, "overflows", context: name) {
                try m.workspaceBytes(forInput: [1 << 50, 3, 224, 224])
            }
            assertThrows(.invalidArgument, "overflows", context: name) {
                try m.workspaceBytes(forInput: [Int.max, 3, 224, 224])
            }
        }
        // A huge batch that does not overflow is planned (no memory is touched) and gives
        // its true size: 2^40 images of resnet18 need more than 2^40 × 3·224·224 floats.
        let bytes = try Zoo.create("resnet18").workspaceBytes(forInput: [1 << 40, 3, 224, 224])
        XCTAssertGreaterThan(bytes, (1 << 40) * 3 * 224 * 224 * 4)
    }

    /// Found by the Python sweep: an average pool whose window area overflows (kernel 2^32,
    /// padding 2^31, padding counted) trapped computing its divisor. The area is now a
    /// Double: exact wherever it was before, and finite for any window.
    func testPoolingWindowAreaOverflowDoesNotTrap() throws {
        let x = try Tensor(shape: [1, 1, 4, 4], repeating: 1)
        for (k, p) in [(1 << 32, 1 << 31), (1 << 62, 1 << 61)] {
            let o = Pool2DOptions(kernel: Size2D(k), stride: Size2D(1), padding: Size2D(p), countIncludePad: true)
            let y = try avgPool2d(x, o)
            XCTAssertTrue(y.scalars.allSatisfy { $0.isFinite && $0 >= 0 && $0 < 1e-9 }, "\(y.scalars)")
            try withReferenceKernels { XCTAssertEqual(try avgPool2d(x, o).scalars, y.scalars) }
            XCTAssertTrue(try maxPool2d(x, o).scalars.allSatisfy { $0 == 1 })
        }
    }

    // MARK: 2. Special files

    /// Runs `body` on another thread; if it has not returned after `seconds`, calls
    /// `unblock` (so the test can go on) and fails.
    private func finishes(within seconds: Double, unblock: @escaping () -> Void,
                          _ body: @escaping @Sendable () -> Void, file: StaticString = #filePath, line: UInt = #line) {
        let done = expectation(description: "finished")
        Thread { body(); done.fulfill() }.start()
        if XCTWaiter.wait(for: [done], timeout: seconds) != .completed {
            XCTFail("blocked for over \(seconds) s", file: file, line: line)
            unblock()
            wait(for: [done], timeout: 30)
        }
    }

    /// A FIFO with no writer blocked open(2) forever inside load; /dev/zero and directories
    /// were refused only after open.
    func testSpecialFilesAreRefusedWithoutBlocking() throws {
        let dir = try tempDir()
        let fifo = dir.joining(Array("weights.fifo".utf8))
        XCTAssertEqual(try fifo.withCString { mkfifo($0, 0o600) }, 0)
        let unblock = {
            // A writer opening the FIFO releases a reader blocked in open().
            let fd = (try? fifo.withCString { open($0, O_WRONLY | O_NONBLOCK) }) ?? -1
            if fd >= 0 { close(fd) }
        }
        let cases: [(FilePath, String)] = [(fifo, "FIFO"), ("/dev/zero", "character device"), (dir, "directory")]
        for (path, kind) in cases {
            finishes(within: 10, unblock: unblock) {
                var m = try! Zoo.create("lenet5")
                assertThrows(.io, "not a regular file", kind, context: path.description) { try m.load(path: path) }
                assertThrows(.io, "not a regular file", kind) { try SafeTensorsFile.read(path: path) }
                var model = m
                assertThrows(.io, "not a regular file") { try Checkpoint.load(path: path, model: &model, optimizer: nil) }
            }
        }
        // A save never replaces a special file with a regular one.
        let m = try Zoo.create("lenet5")
        assertThrows(.io, "FIFO", "refusing to replace") { try m.save(path: fifo) }
        assertThrows(.io, "directory", "refusing to replace") { try m.save(path: dir) }
        XCTAssertEqual(try Self.listing(dir), [Array("weights.fifo".utf8)])
    }

    // MARK: 3. Paths are bytes

    /// Paths went through Swift strings, which replace invalid UTF-8 with U+FFFD: a save to
    /// "w\xff" wrote "w\xEF\xBF\xBD", so two different paths named one file.
    func testPathsAreTakenByteForByte() throws {
        let dir = try tempDir()
        let raw: [UInt8] = Array("w".utf8) + [0xFF] + Array(".safetensors".utf8)
        let replaced: [UInt8] = Array("w".utf8) + [0xEF, 0xBF, 0xBD] + Array(".safetensors".utf8)
        var m = try Zoo.create("lenet5")
        try m.save(path: dir.joining(raw))
        XCTAssertEqual(try Self.listing(dir), [raw])
        try m.load(path: dir.joining(raw))
        assertThrows(.io, "No such file") { try m.load(path: dir.joining(replaced)) }
        // A second path that differs only in the invalid byte is a second file.
        let other: [UInt8] = Array("w".utf8) + [0xFE] + Array(".safetensors".utf8)
        try m.save(path: dir.joining(other))
        XCTAssertEqual(try Self.listing(dir), [other, raw])
        // Messages show such bytes escaped, never as U+FFFD.
        assertThrows(.io, "w\\xFF.missing") { try m.load(path: dir.joining(Array("w".utf8) + [0xFF] + Array(".missing".utf8))) }
        // An empty path, or one with a NUL inside (the OS would cut it there), is refused.
        assertThrows(.invalidArgument, "empty") { try m.load(path: FilePath(bytes: [])) }
        assertThrows(.invalidArgument, "NUL") { try m.save(path: dir.joining(Array("a".utf8) + [0] + Array("b".utf8))) }
    }

    func testPrintablePathText() {
        XCTAssertEqual(FilePath("caf\u{E9}/n.st").description, "caf\u{E9}/n.st")
        XCTAssertEqual(FilePath(bytes: [0x61, 0xFF, 0x0A, 0xC3]).description, "a\\xFF\\x0A\\xC3")
        XCTAssertEqual(FilePath(bytes: [0xE2, 0x82]).description, "\\xE2\\x82")  // truncated sequence
        XCTAssertEqual(FilePath(bytes: [0xED, 0xA0, 0x80]).description, "\\xED\\xA0\\x80")  // a surrogate
        XCTAssertEqual(FilePath("a/b/c").directory, FilePath("a/b"))
        XCTAssertEqual(FilePath("c").directory, FilePath("."))
        XCTAssertEqual(FilePath("/c").directory, FilePath("/"))
        XCTAssertEqual(FilePath("a/b/c").lastComponent, Array("c".utf8))
    }

    // MARK: 4. Non-finite results

    /// Bounds of ±1e300 became ±inf in float32 and gave NaNs with a success status.
    func testSeededTensorRefusesBoundsThatGiveNonFiniteValues() throws {
        let bad: [(Double, Double)] = [(-1e300, 1e300), (-3e38, 3e38), (0, 1e39), (-.infinity, 0), (0, .nan),
                                       (1, 0), (-Double(Float.greatestFiniteMagnitude), Double(Float.greatestFiniteMagnitude))]
        for (lo, hi) in bad {
            assertThrows(.invalidArgument, "seeded tensor", context: "[\(lo), \(hi))") {
                try SeededInit.tensor(name: "x", shape: [64], lo: lo, hi: hi)
            }
        }
        // The widest accepted ranges give finite values only.
        let big = Double(Float.greatestFiniteMagnitude)
        for (lo, hi) in [(0, big), (-big, 0), (-big / 2, big / 2), (1e38, big)] {
            let t = try SeededInit.tensor(name: "x", shape: [4096], lo: lo, hi: hi)
            XCTAssertTrue(t.scalars.allSatisfy(\.isFinite), "[\(lo), \(hi))")
        }
    }

    /// Found by the C sweep: LRN with k < 0 (or alpha, beta < 0) gave NaNs, and image
    /// normalization with a huge scale or mean gave infinities, both with a success status.
    func testParametersThatMakeOutputsNonFiniteAreRefused() throws {
        var rng = TestRNG(9)
        let x = try rng.tensor([2, 3, 8, 8], 0, 1)
        let big = Float.greatestFiniteMagnitude
        for (alpha, beta, k) in [(Float(1e-4), Float(0.75), Float(-1)), (-big, 0.75, 1), (1e-4, -big, 1), (1e-4, 0.75, 0),
                                 (1e-4, 40, 1e-30)] {
            assertThrows(.invalidArgument, "k > 0", context: "alpha \(alpha) beta \(beta) k \(k)") {
                try localResponseNorm(x, size: 3, alpha: alpha, beta: beta, k: k)
            }
        }
        XCTAssertTrue(try localResponseNorm(x, size: 3, alpha: big, beta: 0.75, k: 1e-3).scalars.allSatisfy(\.isFinite))
        let pixels = [UInt8](repeating: 128, count: 4 * 4 * 3)
        for (scale, mean) in [(big, Float(0.5)), (1 / 255, big), (1 / 255, -big)] {
            assertThrows(.invalidArgument, "non-finite") {
                try pixels.withUnsafeBufferPointer {
                    try imageToTensor(pixels: $0, width: 4, height: 4, channels: 3, scale: scale, mean: [mean, 0, 0], std: [0.25, 1, 1])
                }
            }
        }
    }

    // MARK: 5. Debris

    /// A save writes an unnamed file: while it is being written, nothing new is visible in
    /// the directory (a process killed then leaves nothing). The C and Python suites kill
    /// real saving processes; here the test hook stops a save midway.
    func testInterruptedSaveLeavesNothing() throws {
        let dir = try tempDir()
        let path = dir.joining(Array("m.safetensors".utf8))
        let t = [("w", try Tensor(zeros: [100_000]))]
        XCTAssertThrowsError(try SafeTensorsFile.write(t, metadata: [:], to: path, failAfterBytes: 50_000))
        XCTAssertEqual(try Self.listing(dir), [])
        try SafeTensorsFile.write(t, to: path)
        XCTAssertEqual(try Self.listing(dir), [Array("m.safetensors".utf8)])
    }

    /// Temporary files of dead processes (left where a file system has no unnamed files)
    /// are removed by the next save to the same path; a live process's, and other
    /// paths', are kept.
    func testNextSaveRemovesStaleTemporaries() throws {
        let dir = try tempDir()
        // A pid that is not running: a child that has exited and been reaped.
        var dead: pid_t = 0
        let rc = posix_spawn(&dead, "/bin/true", nil, nil, [strdup("true"), nil], nil)
        XCTAssertEqual(rc, 0)
        var status: Int32 = 0
        waitpid(dead, &status, 0)
        XCTAssertEqual(kill(dead, 0), -1)
        let live = getpid()
        let names = ["m.safetensors.tmp-\(dead)-1a2b", "m.safetensors.tmp-\(dead)-123456789", "m.safetensors.tmp-\(live)-ff",
                     "n.safetensors.tmp-\(dead)-ab", "m.safetensors.tmp-\(dead)-xyz", "m.safetensors.tmp-\(dead)-"]
        for n in names {
            let fd = try dir.joining(Array(n.utf8)).withCString { open($0, O_WRONLY | O_CREAT, 0o600) }
            XCTAssertGreaterThanOrEqual(fd, 0)
            close(fd)
        }
        try Zoo.create("lenet5").save(path: dir.joining(Array("m.safetensors".utf8)))
        let kept = ["m.safetensors", "m.safetensors.tmp-\(live)-ff", "n.safetensors.tmp-\(dead)-ab",
                    "m.safetensors.tmp-\(dead)-xyz", "m.safetensors.tmp-\(dead)-"].map { Array($0.utf8) }
        XCTAssertEqual(try Self.listing(dir), kept.sorted { $0.lexicographicallyPrecedes($1) })
    }

    // MARK: 6. Safetensors entries with extra fields

    /// The reference implementation ignores unknown fields in a tensor entry; so do we.
    func testUnknownEntryFieldsAreIgnored() throws {
        let header = #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"origin":"custom","extra":[1,{"a":null}]}}"#
        let h = Array(header.utf8)
        var bytes = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(h.count) >> (8 * UInt64($0))) } + h
        bytes += [0, 0, 128, 63, 0, 0, 0, 64]
        let f = try SafeTensorsFile.parse(bytes: bytes)
        XCTAssertEqual(try f.tensor("w").scalars, [1, 2])
    }
}
