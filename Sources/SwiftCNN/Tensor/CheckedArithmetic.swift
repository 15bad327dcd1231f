/// Overflow-reporting arithmetic for sizes that come from users.
///
/// Swift traps on integer overflow. Sizes that reach the core from C or Python are
/// untrusted, so every product or sum of them goes through these helpers, which throw
/// a ``SwiftCNNError`` instead.
public enum Checked {
    /// `a * b`, or an error naming `what` when it overflows.
    @inlinable
    public static func mul(_ a: Int, _ b: Int, _ what: @autoclosure () -> String = "size") throws -> Int {
        let (r, o) = a.multipliedReportingOverflow(by: b)
        if o { throw SwiftCNNError.invalidArgument("\(what()) overflows: \(a) × \(b)") }
        return r
    }

    /// `a + b`, or an error naming `what` when it overflows.
    @inlinable
    public static func add(_ a: Int, _ b: Int, _ what: @autoclosure () -> String = "size") throws -> Int {
        let (r, o) = a.addingReportingOverflow(b)
        if o { throw SwiftCNNError.invalidArgument("\(what()) overflows: \(a) + \(b)") }
        return r
    }

    /// `a - b`, or an error naming `what` when it overflows.
    @inlinable
    public static func sub(_ a: Int, _ b: Int, _ what: @autoclosure () -> String = "size") throws -> Int {
        let (r, o) = a.subtractingReportingOverflow(b)
        if o { throw SwiftCNNError.invalidArgument("\(what()) overflows: \(a) - \(b)") }
        return r
    }

    /// The product of `values`, or an error when it overflows.
    @inlinable
    public static func product(_ values: [Int], _ what: @autoclosure () -> String = "element count") throws -> Int {
        var r = 1
        for v in values { r = try mul(r, v, what()) }
        return r
    }
}
