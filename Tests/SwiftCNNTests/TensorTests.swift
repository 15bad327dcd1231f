import XCTest
@testable import SwiftCNN

final class TensorTests: XCTestCase {
    func testShapesAreValidated() throws {
        XCTAssertEqual(try Tensor(zeros: [2, 3, 4, 5]).count, 120)
        XCTAssertEqual(try Tensor(zeros: [7]).rank, 1)
        for bad in [[], [1, 1, 1, 1, 1], [2, 0], [-1, 3], [Int.max / 2, 4]] as [[Int]] {
            XCTAssertThrowsError(try Tensor(zeros: bad), "\(bad)") { error in
                XCTAssertEqual((error as? SwiftCNNError)?.kind, .invalidArgument)
            }
        }
        XCTAssertThrowsError(try Tensor(shape: [2, 2], scalars: [1, 2, 3])) { error in
            XCTAssertEqual((error as? SwiftCNNError)?.kind, .shapeMismatch)
        }
    }

    func testAllocationLargerThanMemoryIsAnError() {
        XCTAssertThrowsError(try Tensor(zeros: [1 << 30, 1 << 30])) { error in
            XCTAssertEqual((error as? SwiftCNNError)?.kind, .outOfMemory)
        }
    }

    func testValueSemanticsAndCopyOnWrite() throws {
        var a = try Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
        let b = a
        try a.withUnsafeMutableBufferPointer { $0[0] = 10 }
        XCTAssertEqual(a.scalars, [10, 2, 3, 4])
        XCTAssertEqual(b.scalars, [1, 2, 3, 4])
        let r = try a.reshaped([4])
        XCTAssertEqual(r.shape, [4])
        XCTAssertEqual(r.scalars, a.scalars)
        XCTAssertThrowsError(try a.reshaped([3]))
    }

    func testBorrowedMemoryIsNeverWritten() throws {
        var source: [Float] = [1, 2, 3]
        try source.withUnsafeBufferPointer { buf in
            var t = try Tensor(borrowing: buf.baseAddress!, count: 3, shape: [3])
            XCTAssertTrue(t.isBorrowed)
            XCTAssertEqual(t.scalars, [1, 2, 3])
            try t.withUnsafeMutableBufferPointer { $0[1] = 20 }
            XCTAssertFalse(t.isBorrowed)
            XCTAssertEqual(t.scalars, [1, 20, 3])
        }
        XCTAssertEqual(source, [1, 2, 3])
        source[0] = 0
    }

    func testIndexing() throws {
        let t = try Tensor(shape: [2, 3], scalars: [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(try t.element(1, 2), 5)
        XCTAssertEqual(try t.flatIndex([1, 0]), 3)
        XCTAssertThrowsError(try t.element(2, 0))
        XCTAssertThrowsError(try t.element(at: 6))
        XCTAssertThrowsError(try t.element(0))
    }

    func testCheckedArithmetic() {
        XCTAssertEqual(try Checked.product([2, 3, 4]), 24)
        XCTAssertThrowsError(try Checked.mul(Int.max, 2))
        XCTAssertThrowsError(try Checked.add(Int.max, 1))
        XCTAssertThrowsError(try Checked.sub(Int.min, 1))
    }
}
