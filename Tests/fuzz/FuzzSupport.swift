// Helpers shared by every libFuzzer target in Tests/fuzz/targets/ (compiled into each).
//
// A target is one file, Tests/fuzz/targets/<name>.swift, that defines
//
//     @_cdecl("LLVMFuzzerTestOneInput")
//     public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt
//
// and `@testable import SwiftCNN` (the core is built with -enable-testing, so internal
// APIs are reachable). mk/fuzz.mk finds the targets by that file name; its seed corpus is
// Tests/fuzz/corpus/<name>/ and its crash regressions Tests/fuzz/regressions/<name>/.
//
// Errors the library throws are expected results, never findings. A finding is a crash
// (trap, sanitizer report, timeout, leak) or a broken oracle: `fuzzFail` aborts, so
// libFuzzer records the input as a crash.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@testable import SwiftCNN

/// Reports a broken property of the library and aborts (libFuzzer then saves the input).
/// (A plain String, not an autoclosure: Swift 6.3's optimizer crashes on the latter here.)
func fuzzFail(_ why: String, file: StaticString = #fileID, line: UInt = #line) -> Never {
    fputs("FUZZ ORACLE FAILED at \(file):\(line): \(why)\n", stderr)
    fflush(stderr)
    abort()
}

/// The fuzzer's input as a buffer (a non-nil base address even when empty).
func inputBytes(_ data: UnsafePointer<UInt8>, _ size: Int) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: UnsafeRawPointer(data), count: size)
}

/// Writes the input to a private temporary file (mode 0600, in a private directory made
/// with mkdtemp under $TMPDIR), runs `body` with its path and deletes the file before
/// returning. The directory is made on first use and removed at exit. A crash inside
/// `body` leaves at most that one file behind; `make fuzz` points TMPDIR into its build
/// directory, so even then nothing lands in the repository.
func withTemporaryFile<R>(_ bytes: UnsafeRawBufferPointer, suffix: String = ".safetensors",
                          _ body: (String) throws -> R) rethrows -> R {
    let path = TemporaryDirectory.shared.path + "/input" + suffix
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { fuzzFail("cannot create \(path): errno \(errno)") }
    var written = 0
    while written < bytes.count {
        let r = write(fd, bytes.baseAddress! + written, bytes.count - written)
        if r < 0 && errno == EINTR { continue }
        guard r > 0 else { fuzzFail("cannot write \(path): errno \(errno)") }
        written += r
    }
    close(fd)
    defer { unlink(path) }
    return try body(path)
}

final class TemporaryDirectory {
    static let shared = TemporaryDirectory()
    let path: String

    private init() {
        var base = getenv("TMPDIR").map { String(cString: $0) } ?? ""
        if base.isEmpty { base = P_tmpdir }
        var template = Array((base + "/swiftcnn-fuzz-XXXXXX").utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            fuzzFail("mkdtemp under \(base) failed: errno \(errno)")
        }
        path = String(cString: template)
        TemporaryDirectory.created = path
        atexit { if let p = TemporaryDirectory.created { rmdir(p) } }
    }

    nonisolated(unsafe) static var created: String?
}

/// Bit-exact equality of two tensors (shape and every float's bits, NaN payloads included).
func sameBits(_ a: Tensor, _ b: Tensor) -> Bool {
    guard a.shape == b.shape else { return false }
    return a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            pa.count == pb.count && (pa.isEmpty || memcmp(pa.baseAddress!, pb.baseAddress!, pa.count * 4) == 0)
        }
    }
}

/// A deep copy (own storage) of a tensor.
func deepCopy(_ t: Tensor) -> Tensor {
    do {
        return try t.withUnsafeBufferPointer { try Tensor(shape: t.shape, copying: $0.baseAddress!, count: $0.count) }
    } catch {
        fuzzFail("cannot copy a tensor: \(error)")
    }
}

/// A model's state dict copied out (own storage), to check later that a failed load changed nothing.
func snapshot(_ model: Model) -> [String: Tensor] {
    var r: [String: Tensor] = [:]
    for (name, t) in model.stateDict() { r[name] = deepCopy(t) }
    return r
}

/// Fails unless `model`'s state dict has exactly the names of `expected`, each bit-equal to
/// `override[name]` when given, else to `expected[name]`.
func requireState(_ model: Model, _ expected: [String: Tensor], override: [String: Tensor] = [:], _ what: String) {
    let now = model.stateDict()
    guard now.count == expected.count else { fuzzFail("\(what): the state dict has \(now.count) entries, expected \(expected.count)") }
    for (name, t) in now {
        guard let want = override[name] ?? expected[name] else { fuzzFail("\(what): unexpected parameter \(name)") }
        guard sameBits(t, want) else { fuzzFail("\(what): parameter \(name) does not hold the expected values") }
    }
}

/// An error for a message: kind and message for the library's errors.
func describe(_ e: Error) -> String {
    if let s = e as? SwiftCNNError { return "\(s.kind): \(s.message)" }
    return "\(e)"
}

/// A seeded lenet5 model and a deep copy of its state dict, made once per process.
///
/// Released at exit, before LeakSanitizer's final check runs: LSan reports the objects a
/// *live* Model refers to as leaked (a Model kept in a global is reported, one created and
/// dropped is not; most likely because Swift keeps enum tags in spare pointer bits, which
/// hides those pointers from LSan's scan).
final class LeNetFixture {
    let model: Model
    let state: [String: Tensor]

    nonisolated(unsafe) private static var instance: LeNetFixture?

    private init(seed: UInt64) {
        do { model = try Zoo.create("lenet5", seed: seed) } catch { fuzzFail("cannot create lenet5: \(describe(error))") }
        state = snapshot(model)
    }

    static var shared: LeNetFixture {
        if let f = instance { return f }
        let f = LeNetFixture(seed: 7)
        instance = f
        atexit { LeNetFixture.instance = nil }
        return f
    }
}
