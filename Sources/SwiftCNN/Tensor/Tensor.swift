/// A dense float32 tensor of rank 1 to 4, row-major (NCHW for images), with value semantics.
///
/// Copies are cheap: storage is shared until one copy is written to, then that copy gets
/// its own (copy on write). A tensor may also *borrow* memory it does not own
/// (``init(borrowing:shape:)``), which is how the C ABI and the Python binding read a
/// caller's buffer without copying it; writing to a borrowed tensor copies it first, so the
/// caller's memory is never modified.
///
/// Every dimension is at least 1. Shapes that break these rules, or whose element count
/// overflows, are thrown as ``SwiftCNNError``, never trapped.
public struct Tensor {
    /// The largest rank a tensor may have.
    public static let maxRank = 4

    /// The dimensions, outermost first.
    public private(set) var shape: [Int]

    @usableFromInline
    internal var storage: TensorStorage

    /// Number of elements (the product of ``shape``).
    @inlinable public var count: Int { storage.count }

    /// Number of dimensions.
    @inlinable public var rank: Int { shape.count }

    // MARK: Creating

    /// A tensor of the given shape filled with zeros.
    public init(zeros shape: [Int]) throws {
        try self.init(shape: shape, repeating: 0)
    }

    /// A tensor of the given shape with every element `value`.
    public init(shape: [Int], repeating value: Float) throws {
        let n = try Tensor.validate(shape: shape)
        storage = try TensorStorage(count: n)
        storage.base.initialize(repeating: value, count: n)
        self.shape = shape
    }

    /// A tensor holding a copy of `scalars`, whose count must equal the product of `shape`.
    public init(shape: [Int], scalars: [Float]) throws {
        let n = try Tensor.validate(shape: shape)
        guard scalars.count == n else {
            throw SwiftCNNError.shapeMismatch(
                "\(scalars.count) values given for shape \(Tensor.describe(shape)), which holds \(n)")
        }
        let s = try TensorStorage(count: n)
        _ = UnsafeMutableBufferPointer(start: s.base, count: n).initialize(from: scalars)
        storage = s
        self.shape = shape
    }

    /// A tensor holding a copy of `count` floats at `pointer`.
    public init(shape: [Int], copying pointer: UnsafePointer<Float>, count: Int) throws {
        let n = try Tensor.validate(shape: shape)
        guard count == n else {
            throw SwiftCNNError.shapeMismatch(
                "a buffer of \(count) values given for shape \(Tensor.describe(shape)), which holds \(n)")
        }
        storage = try TensorStorage(count: n)
        storage.base.initialize(from: pointer, count: n)
        self.shape = shape
    }

    /// A tensor that reads `count` floats at `pointer` without copying them.
    ///
    /// The memory must stay valid, and unchanged by others, for as long as this tensor or
    /// any copy of it that has not been written to is alive. Writing to the tensor copies
    /// it first; `pointer` is never written through.
    public init(borrowing pointer: UnsafePointer<Float>, count: Int, shape: [Int]) throws {
        let n = try Tensor.validate(shape: shape)
        guard count == n else {
            throw SwiftCNNError.shapeMismatch(
                "a buffer of \(count) values given for shape \(Tensor.describe(shape)), which holds \(n)")
        }
        storage = TensorStorage(borrowing: UnsafeMutablePointer(mutating: pointer), count: n)
        self.shape = shape
    }

    /// A tensor of the given shape whose elements are not initialized: for kernels that
    /// write every element of their output.
    @usableFromInline
    internal init(uninitialized shape: [Int]) throws {
        let n = try Tensor.validate(shape: shape)
        storage = try TensorStorage(count: n)
        self.shape = shape
    }

    // MARK: Reading and writing

    /// A copy of the elements, in row-major order.
    public var scalars: [Float] {
        Array(UnsafeBufferPointer(start: storage.base, count: storage.count))
    }

    /// Calls `body` with the elements, read-only.
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try withExtendedLifetime(storage) {
            try body(UnsafeBufferPointer(start: storage.base, count: storage.count))
        }
    }

    /// Calls `body` with a pointer to the first of the ``count`` elements, read-only. A tensor
    /// always holds at least one element, so unlike a buffer's base address the pointer is
    /// never nil.
    @inlinable
    public func withUnsafePointer<R>(_ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        try withExtendedLifetime(storage) { try body(UnsafePointer(storage.base)) }
    }

    /// Calls `body` with the elements, writable. The tensor first gets storage of its own
    /// if it shares or borrows it; that copy can fail for lack of memory, hence `throws`.
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) throws -> R {
        try makeUnique()
        return try withExtendedLifetime(storage) {
            try body(UnsafeMutableBufferPointer(start: storage.base, count: storage.count))
        }
    }

    /// Writes a tensor this code has just allocated (so uniquely owned, never borrowed)
    /// without the copy check, hence without a failure path. Kernels use it on outputs made
    /// with ``init(uninitialized:)``.
    @usableFromInline
    internal mutating func withUnsafeMutableBufferPointerUnchecked<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        try withExtendedLifetime(storage) {
            try body(UnsafeMutableBufferPointer(start: storage.base, count: storage.count))
        }
    }

    /// The pointer twin of ``withUnsafeMutableBufferPointerUnchecked(_:)``, for the same
    /// just-allocated outputs: a pointer to the first of the ``count`` elements, never nil.
    @usableFromInline
    internal mutating func withUnsafeMutablePointerUnchecked<R>(
        _ body: (UnsafeMutablePointer<Float>) throws -> R
    ) rethrows -> R {
        try withExtendedLifetime(storage) { try body(storage.base) }
    }

    /// Gives this tensor storage it alone owns.
    @inlinable
    public mutating func makeUnique() throws {
        if !storage.owned || !isKnownUniquelyReferenced(&storage) {
            storage = try storage.copy()
        }
    }

    /// Whether this tensor reads memory it does not own (see ``init(borrowing:count:shape:)``).
    public var isBorrowed: Bool { !storage.owned }

    /// The element at a flat, row-major index, or an error when it is out of range.
    public func element(at index: Int) throws -> Float {
        guard index >= 0 && index < count else {
            throw SwiftCNNError.invalidArgument("index \(index) out of range for \(count) elements")
        }
        return storage.base[index]
    }

    /// The element at a multi-dimensional index, or an error when it is out of range.
    public func element(_ index: Int...) throws -> Float {
        try element(at: flatIndex(index))
    }

    /// The flat, row-major index of a multi-dimensional index.
    public func flatIndex(_ index: [Int]) throws -> Int {
        guard index.count == rank else {
            throw SwiftCNNError.invalidArgument("index of rank \(index.count) for a tensor of rank \(rank)")
        }
        var flat = 0
        for (i, d) in zip(index, shape) {
            guard i >= 0 && i < d else {
                throw SwiftCNNError.invalidArgument("index \(index) out of range for shape \(Tensor.describe(shape))")
            }
            flat = flat * d + i
        }
        return flat
    }

    // MARK: Shape

    /// The same elements under another shape with the same count; storage is shared.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        let n = try Tensor.validate(shape: newShape)
        guard n == count else {
            throw SwiftCNNError.shapeMismatch(
                "cannot reshape \(Tensor.describe(shape)) (\(count) elements) to \(Tensor.describe(newShape)) (\(n) elements)")
        }
        var t = self
        t.shape = newShape
        return t
    }

    /// Checks a shape (rank 1 to 4, every dimension at least 1, no overflow) and returns
    /// its element count.
    public static func validate(shape: [Int]) throws -> Int {
        guard (1...maxRank).contains(shape.count) else {
            throw SwiftCNNError.invalidArgument(
                "a tensor has rank 1 to \(maxRank); got rank \(shape.count) (shape \(describe(shape)))")
        }
        for d in shape where d < 1 {
            throw SwiftCNNError.invalidArgument("every dimension must be at least 1; got shape \(describe(shape))")
        }
        return try Checked.product(shape, "element count of shape \(describe(shape))")
    }

    /// A shape as text, e.g. `[1, 3, 224, 224]`.
    public static func describe(_ shape: [Int]) -> String {
        "[" + shape.map(String.init).joined(separator: ", ") + "]"
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = scalars.prefix(8).map { "\($0)" }.joined(separator: ", ")
        return "Tensor(shape: \(Tensor.describe(shape)), [\(shown)\(count > 8 ? ", …" : "")])"
    }
}

/// The memory behind a ``Tensor``: owned (allocated here, freed on deinit) or borrowed.
@usableFromInline
internal final class TensorStorage {
    @usableFromInline let base: UnsafeMutablePointer<Float>
    @usableFromInline let count: Int
    @usableFromInline let owned: Bool

    @usableFromInline
    init(count: Int) throws {
        base = try Memory.allocateFloats(count)
        self.count = count
        owned = true
    }

    @usableFromInline
    init(borrowing base: UnsafeMutablePointer<Float>, count: Int) {
        self.base = base
        self.count = count
        owned = false
    }

    @usableFromInline
    func copy() throws -> TensorStorage {
        let s = try TensorStorage(count: count)
        s.base.initialize(from: base, count: count)
        return s
    }

    deinit {
        if owned { Memory.free(base) }
    }
}
