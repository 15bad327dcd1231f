/// The one error type the core throws.
///
/// Every failure that user data can cause — a bad shape, a stride of zero, a size that
/// overflows, memory that cannot be had — is reported as a `SwiftCNNError`, never as a
/// trap, because the core runs inside other programs (through the C ABI) and a trap
/// would take the whole host process down. The C ABI maps ``Kind`` to `scnn_status`.
public struct SwiftCNNError: Error, Equatable, CustomStringConvertible, Sendable {
    /// What went wrong, coarsely; the message says exactly what.
    public enum Kind: Int32, Sendable {
        /// An argument is out of its domain (a negative size, a stride of zero, a rank
        /// the operation does not take, an unknown mode).
        case invalidArgument = 1
        /// Two shapes that must agree do not (a weight for the wrong number of channels,
        /// a buffer of the wrong length).
        case shapeMismatch = 2
        /// An allocation failed, or its size does not fit in memory at all.
        case outOfMemory = 3
        /// A file could not be read or written.
        case io = 4
        /// A file's contents are malformed.
        case format = 5
        /// The request is well formed but not supported.
        case unsupported = 6
        /// A broken invariant inside the library: a bug, please report it.
        case `internal` = 7
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    public static func invalidArgument(_ message: String) -> SwiftCNNError { .init(.invalidArgument, message) }
    public static func shapeMismatch(_ message: String) -> SwiftCNNError { .init(.shapeMismatch, message) }
    public static func outOfMemory(_ message: String) -> SwiftCNNError { .init(.outOfMemory, message) }
    public static func io(_ message: String) -> SwiftCNNError { .init(.io, message) }
    public static func format(_ message: String) -> SwiftCNNError { .init(.format, message) }
    public static func unsupported(_ message: String) -> SwiftCNNError { .init(.unsupported, message) }
}
