#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Paths

/// A path in the file system, kept as the caller's bytes.
///
/// POSIX paths are byte strings, not text: a name may hold any byte but NUL and "/" in its
/// components, including bytes that are not UTF-8. Converting such a path to a Swift
/// `String` would replace those bytes with U+FFFD, so that two different paths alias one
/// file and a load could read a file the caller never named. The core therefore passes the
/// caller's bytes to the OS unchanged, and uses text only for messages (``description``
/// shows bytes that are not printable UTF-8 as `\xNN`).
public struct FilePath: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The path's bytes, without a terminating NUL.
    public let bytes: [UInt8]

    /// The path with the bytes of `bytes`.
    public init(bytes: some Sequence<UInt8>) { self.bytes = Array(bytes) }

    /// The path whose bytes are `string`'s UTF-8.
    public init(_ string: String) { bytes = Array(string.utf8) }

    public init(stringLiteral value: String) { self.init(value) }

    /// The bytes of a NUL-terminated C string, as they are.
    public init(cString: UnsafePointer<CChar>) {
        let n = strlen(cString)
        bytes = cString.withMemoryRebound(to: UInt8.self, capacity: n + 1) { Array(UnsafeBufferPointer(start: $0, count: n)) }
    }

    /// The path for messages: UTF-8 as it is, every other byte (and control characters) as `\xNN`.
    public var description: String { FilePath.printable(bytes) }

    /// Text for a message: valid, printable UTF-8 stays; anything else becomes `\xNN`.
    static func printable(_ bytes: some Collection<UInt8>) -> String {
        let array = Array(bytes)
        var out = ""
        var decoder = UTF8()
        var i = 0
        while i < array.count {
            let lead = array[i]
            let width = lead < 0x80 ? 1 : lead >> 5 == 0b110 ? 2 : lead >> 4 == 0b1110 ? 3 : lead >> 3 == 0b11110 ? 4 : 0
            var scalar: Unicode.Scalar?
            if width > 0, i + width <= array.count {
                var sequence = array[i..<(i + width)].makeIterator()
                if case .scalarValue(let s) = decoder.decode(&sequence), sequence.next() == nil { scalar = s }
            }
            if let s = scalar, s.value >= 0x20, s.value != 0x7F {
                out.unicodeScalars.append(s)
                i += width
            } else {
                let hex = String(lead, radix: 16, uppercase: true)
                out += "\\x" + (lead < 0x10 ? "0" : "") + hex
                i += 1
            }
        }
        return out
    }

    /// Runs `body` with the path as a NUL-terminated C string. An empty path, or one with a
    /// NUL byte inside (the OS would silently cut it there), is an `.invalidArgument` error.
    public func withCString<R>(_ body: (UnsafePointer<CChar>) throws -> R) throws -> R {
        guard !bytes.isEmpty else { throw SwiftCNNError.invalidArgument("the path is empty") }
        guard !bytes.contains(0) else {
            throw SwiftCNNError.invalidArgument("the path '\(self)' contains a NUL byte")
        }
        return try (bytes + [0]).withUnsafeBufferPointer { p in
            try p.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
        }
    }

    /// The directory part ("." when there is no slash; "/" for a file in the root).
    public var directory: FilePath {
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return FilePath(".") }
        return slash == 0 ? FilePath("/") : FilePath(bytes: bytes[..<slash])
    }

    /// The last component: the bytes after the last slash.
    public var lastComponent: [UInt8] {
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return bytes }
        return Array(bytes[(slash + 1)...])
    }

    /// This path with `suffix`'s UTF-8 bytes appended to its last component.
    public func appending(_ suffix: String) -> FilePath { FilePath(bytes: bytes + Array(suffix.utf8)) }

    /// This directory path joined with a component's bytes.
    func joining(_ component: [UInt8]) -> FilePath {
        if bytes == [UInt8(ascii: ".")] { return FilePath(bytes: component) }
        return FilePath(bytes: bytes.last == UInt8(ascii: "/") ? bytes + component : bytes + [UInt8(ascii: "/")] + component)
    }
}

// MARK: - Reading

/// File access for the loaders and savers: special files are refused before anything can
/// block, and saves are atomic and leave no debris.
enum FileIO {
    /// What kind of file `mode` (an `st_mode`) is, for messages.
    static func kindName(_ mode: UInt32) -> String {
        switch mode & 0o170000 {
        case 0o040000: return "a directory"
        case 0o010000: return "a FIFO (named pipe)"
        case 0o020000: return "a character device"
        case 0o060000: return "a block device"
        case 0o140000: return "a socket"
        case 0o120000: return "a symbolic link"
        default: return "not a regular file"
        }
    }

    static func isRegular(_ mode: UInt32) -> Bool { mode & 0o170000 == 0o100000 }

    /// An `.io` error: "`what`: `action` 'path': reason", with `strerror(errno)`.
    static func ioError(_ what: String, _ action: String, _ path: FilePath, detail: String? = nil) -> SwiftCNNError {
        let reason = String(cString: strerror(errno))
        let extra = detail.map { " (\($0))" } ?? ""
        return SwiftCNNError.io("\(what): \(action) '\(path)'\(extra): \(reason)")
    }

    /// Opens a regular file for reading and returns its descriptor and size.
    ///
    /// Directories, FIFOs, devices and sockets are refused with an `.io` error that says what
    /// the path is, before the file is opened (a FIFO without a writer would block `open`
    /// forever, and /dev/zero never ends). The open itself is non-blocking, and the type is
    /// checked again on the descriptor, so a file swapped in between cannot block either.
    static func openForReading(_ path: FilePath, what: String) throws -> (fd: Int32, size: Int) {
        var st = stat()
        let rc = try path.withCString { stat($0, &st) }
        guard rc == 0 else { throw ioError(what, "cannot open", path) }
        guard isRegular(UInt32(st.st_mode)) else {
            throw SwiftCNNError.io("\(what): '\(path)' is \(kindName(UInt32(st.st_mode))), not a regular file")
        }
        let fd = try path.withCString { open($0, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY) }
        guard fd >= 0 else { throw ioError(what, "cannot open", path) }
        guard fstat(fd, &st) == 0 else {
            let e = ioError(what, "cannot stat", path)
            _ = close(fd)
            throw e
        }
        guard isRegular(UInt32(st.st_mode)) else {
            _ = close(fd)
            throw SwiftCNNError.io("\(what): '\(path)' is \(kindName(UInt32(st.st_mode))), not a regular file")
        }
        guard st.st_size >= 0, UInt64(st.st_size) <= UInt64(Int.max) else {
            _ = close(fd)
            throw SwiftCNNError.io("\(what): '\(path)' reports an impossible size \(st.st_size)")
        }
        return (fd, Int(st.st_size))
    }

    // MARK: Writing

    /// Writes a file atomically: readers of `path` see the old file or the complete new one.
    ///
    /// The data goes into an unnamed file in the target's directory (Linux `O_TMPFILE`), is
    /// flushed with `fsync`, given the temporary name `<path>.tmp-<pid>-<hex>` and renamed
    /// over `path` at once. A process killed while writing leaves nothing behind: an unnamed
    /// file disappears with its last descriptor. Where the file system has no unnamed files
    /// the data is written under the temporary name instead; a save killed then leaves that
    /// file, and the next save to the same path removes every `<path>.tmp-<pid>-<hex>` whose
    /// process no longer runs. On any error nothing is left and an existing file at `path`
    /// is untouched.
    ///
    /// An existing `path` that is not a regular file (a directory, FIFO, device or socket) is
    /// refused before anything is written. A symbolic link at `path` is replaced, not followed.
    ///
    /// `body` writes the contents through the given function; `failAfterBytes` is a test hook
    /// that simulates a full disk (ENOSPC) after that many bytes.
    static func writeAtomically(to path: FilePath, what: String, failAfterBytes: Int? = nil,
                                _ body: (_ put: (UnsafeRawPointer?, Int) throws -> Void) throws -> Void) throws {
        var st = stat()
        if try path.withCString({ lstat($0, &st) }) == 0 {
            let mode = UInt32(st.st_mode)
            if !isRegular(mode) && mode & 0o170000 != 0o120000 {
                throw SwiftCNNError.io("\(what): '\(path)' is \(kindName(mode)); refusing to replace it with a file")
            }
        }
        let directory = path.directory
        removeStaleTemporaries(of: path)
        if let fd = try openUnnamed(in: directory, what: what, path: path) {
            try writeAndPublish(fd: fd, path: path, what: what, failAfterBytes: failAfterBytes, body)
        } else {
            let (fd, temp) = try createNamedTemporary(for: path, what: what)
            try writeAndPublish(fd: fd, temp: temp, path: path, what: what,
                                failAfterBytes: failAfterBytes, body)
        }
        syncDirectory(directory)
    }

    /// `O_TMPFILE` (Linux: `__O_TMPFILE | O_DIRECTORY`; not exported to Swift by Glibc).
    #if os(Linux) && (arch(x86_64) || arch(arm64) || arch(i386) || arch(arm))
    static let tmpfileFlag: Int32? = 0o20000000 | O_DIRECTORY
    #else
    static let tmpfileFlag: Int32? = nil
    #endif

    /// An unnamed file in `directory`, or nil when the system or file system has none
    /// (the caller then writes under a temporary name).
    static func openUnnamed(in directory: FilePath, what: String, path: FilePath) throws -> Int32? {
        guard let flag = tmpfileFlag else { return nil }
        let fd = try directory.withCString { open($0, flag | O_WRONLY | O_CLOEXEC, 0o666) }
        if fd >= 0 {
            // Naming it later goes through /proc; without /proc, use a named file from the start.
            if access("/proc/self/fd", X_OK) == 0 { return fd }
            _ = close(fd)
            return nil
        }
        switch errno {
        case EOPNOTSUPP, EISDIR, EINVAL, ENOSYS: return nil  // no O_TMPFILE here
        default: throw ioError(what, "cannot create a file in the directory of", path)
        }
    }

    /// A fresh `<path>.tmp-<pid>-<hex>` created with O_EXCL, and its descriptor.
    static func createNamedTemporary(for path: FilePath, what: String) throws -> (Int32, FilePath) {
        var temp = path
        for _ in 0..<32 {
            temp = temporaryName(for: path)
            let fd = try temp.withCString { open($0, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666) }
            if fd >= 0 { return (fd, temp) }
            if errno != EEXIST { break }
        }
        throw ioError(what, "cannot create the temporary file for", path, detail: temp.description)
    }

    static func temporaryName(for path: FilePath) -> FilePath {
        path.appending(".tmp-\(getpid())-\(String(UInt64.random(in: 0...UInt64.max), radix: 16))")
    }

    /// Writes through `body`, syncs, names the file (`temp`, or for an unnamed file, nil
    /// here, a fresh temporary name) and renames it onto `path`. Closes `fd` and removes the temporary name
    /// on every path out.
    private static func writeAndPublish(fd: Int32, temp named: FilePath? = nil, path: FilePath,
                                        what: String, failAfterBytes: Int?,
                                        _ body: ((UnsafeRawPointer?, Int) throws -> Void) throws -> Void) throws {
        var fd = fd
        var temp = named
        let label = { temp?.description ?? "unnamed temporary file" }
        var written = 0
        func put(_ p: UnsafeRawPointer?, _ count: Int) throws {
            guard var p = p else { return }
            var left = count
            while left > 0 {
                var chunk = min(left, 1 << 24)
                if let limit = failAfterBytes {
                    if written >= limit { errno = ENOSPC; throw ioError(what, "cannot write", path, detail: label()) }
                    chunk = min(chunk, limit - written)
                }
                let r = write(fd, p, chunk)
                if r < 0 {
                    if errno == EINTR { continue }
                    throw ioError(what, "cannot write", path, detail: label())
                }
                if r == 0 { errno = EIO; throw ioError(what, "cannot write", path, detail: label()) }
                p += r
                left -= r
                written += r
            }
        }
        do {
            try body(put)
            guard fsync(fd) == 0 else { throw ioError(what, "cannot flush", path, detail: label()) }
            if named == nil {
                // Give the unnamed file a temporary name in the target's directory.
                var linked = false
                for _ in 0..<32 {
                    let candidate = temporaryName(for: path)
                    let rc = try candidate.withCString { linkat(AT_FDCWD, "/proc/self/fd/\(fd)", AT_FDCWD, $0, 0x400) }  // AT_SYMLINK_FOLLOW
                    if rc == 0 { temp = candidate; linked = true; break }
                    if errno != EEXIST { break }
                }
                guard linked else { throw ioError(what, "cannot name the temporary file for", path) }
            }
            let rc = close(fd)
            fd = -1
            guard rc == 0 else { throw ioError(what, "cannot close", path, detail: label()) }
            guard let t = temp else { throw SwiftCNNError(.internal, "\(what): no temporary name") }
            let renamed = try t.withCString { tp in try path.withCString { rename(tp, $0) } }
            guard renamed == 0 else { throw ioError(what, "cannot rename the temporary file onto", path, detail: t.description) }
        } catch {
            if fd >= 0 { _ = close(fd) }
            if let t = temp { _ = try? t.withCString { unlink($0) } }
            throw error
        }
    }

    /// Removes `<path>.tmp-<pid>-<hex>` files left by saves to `path` whose process has
    /// died (killed mid-save on a file system without unnamed files). Best effort: errors
    /// are ignored, and files of running processes (possibly saving right now) are kept.
    static func removeStaleTemporaries(of path: FilePath) {
        let prefix = path.lastComponent + Array(".tmp-".utf8)
        let directory = path.directory
        guard let dir = try? directory.withCString({ opendir($0) }) else { return }
        defer { closedir(dir) }
        var stale: [[UInt8]] = []
        while let entry = readdir(dir) {
            let name: [UInt8] = withUnsafeBytes(of: &entry.pointee.d_name) { raw in
                let p = raw.bindMemory(to: UInt8.self)
                let n = p.firstIndex(of: 0) ?? p.count
                return Array(p[..<n])
            }
            guard name.count > prefix.count, name.starts(with: prefix) else { continue }
            let rest = name[prefix.count...]
            guard let dash = rest.firstIndex(of: UInt8(ascii: "-")) else { continue }
            let pidBytes = rest[..<dash], hexBytes = rest[(dash + 1)...]
            guard (1...10).contains(pidBytes.count), pidBytes.allSatisfy({ (48...57).contains($0) }),
                  (1...20).contains(hexBytes.count),
                  hexBytes.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }),
                  let pid = Int32(String(decoding: pidBytes, as: UTF8.self)), pid > 0 else { continue }
            if kill(pid, 0) == -1 && errno == ESRCH { stale.append(name) }
        }
        for name in stale { _ = try? directory.joining(name).withCString { unlink($0) } }
    }

    /// Best effort: flush a directory's entries (after a rename into it).
    static func syncDirectory(_ directory: FilePath) {
        guard let dfd = try? directory.withCString({ open($0, O_RDONLY | O_CLOEXEC | O_DIRECTORY) }), dfd >= 0 else { return }
        _ = fsync(dfd)
        _ = close(dfd)
    }
}
