import SwiftCNN

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Errors

/// Status returned by every fallible call. SCNN_STATUS_OK (0) is success; on any other
/// value, scnn_last_error() gives this thread's message saying what went wrong.
@c public enum scnn_status: Int32 {
    /// Success.
    case ok = 0
    /// An argument is out of its domain: a NULL pointer, a negative size, a stride of 0, an unknown mode.
    case invalidArgument = 1
    /// Shapes that must agree do not: a weight for the wrong channel count, a buffer of the wrong length.
    case shapeMismatch = 2
    /// Memory could not be allocated, or the request is larger than this machine's memory.
    case outOfMemory = 3
    /// A file could not be read or written.
    case io = 4
    /// A file's contents are malformed.
    case format = 5
    /// The request is well formed but not supported.
    case unsupported = 6
    /// A bug in swiftcnn: please report it with the message.
    case `internal` = 7
}

/// A static, human-readable name for a status value, e.g. "invalid argument".
/// Any int32 is accepted; values that are not a status give "unknown status".
/// The string is never freed.
@c(scnn_status_string)
public func scnnStatusString(_ status: Int32) -> UnsafePointer<CChar> {
    let s: StaticString
    switch status {
    case 0: s = "ok"
    case 1: s = "invalid argument"
    case 2: s = "shape mismatch"
    case 3: s = "out of memory"
    case 4: s = "I/O error"
    case 5: s = "format error"
    case 6: s = "unsupported"
    case 7: s = "internal error"
    default: s = "unknown status"
    }
    return cString(s)
}

/// This thread's message for its most recent failed call, or "" when none failed yet.
/// The string belongs to the library and stays valid until this thread's next failed
/// call; copy it to keep it. Successful calls leave it unchanged.
@c(scnn_last_error)
public func scnnLastError() -> UnsafePointer<CChar> {
    if let p = pthread_getspecific(lastErrorKey) {
        return UnsafePointer(p.assumingMemoryBound(to: CChar.self))
    }
    return cString("")
}

// MARK: - Internal helpers (not exported)

/// A static string as a C string (static strings are stored NUL-terminated).
func cString(_ s: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}

/// The thread-local slot holding the last error message (a malloc'd C string).
let lastErrorKey: pthread_key_t = {
    var key = pthread_key_t()
    _ = pthread_key_create(&key) { p in free(p) }
    return key
}()

/// Records `message` as this thread's last error.
func setLastError(_ message: String) {
    let old = pthread_getspecific(lastErrorKey)
    let copy = strdup(message)  // NULL when out of memory: the message is then "".
    _ = pthread_setspecific(lastErrorKey, copy.map { UnsafeRawPointer($0) })
    free(old)
}

extension scnn_status {
    init(_ kind: SwiftCNNError.Kind) {
        self = scnn_status(rawValue: kind.rawValue) ?? .internal
    }
}

/// Runs `body`, turning any thrown error into a status and this thread's message.
@inline(__always)
func guarded(_ body: () throws -> Void) -> scnn_status {
    do {
        try body()
        return .ok
    } catch let e as SwiftCNNError {
        setLastError(e.message)
        return scnn_status(e.kind)
    } catch {
        setLastError("\(error)")
        return .internal
    }
}

/// Fails with an invalid-argument error naming `name` when `p` is NULL.
@inline(__always)
func required<T>(_ p: T?, _ name: String) throws -> T {
    guard let p else { throw SwiftCNNError.invalidArgument("\(name) is NULL") }
    return p
}
