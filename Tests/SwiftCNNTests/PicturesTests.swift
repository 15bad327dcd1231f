import XCTest
@testable import SwiftCNN

/// The picture core: checksums against published test vectors, the font table, drawing
/// primitives with clipping, the receptive-field start offset, colours and captions. The
/// pictures themselves are checked pixel by pixel through Python (bindings/python/tests/
/// test_viz.py, which also decodes the PNGs independently) and C (Tests/c/test_pictures.c).
final class PicturesTests: XCTestCase {
    func testChecksumVectors() {
        XCTAssertEqual(PNG.crc32(Array("123456789".utf8)), 0xCBF4_3926)      // the CRC-32 check value
        XCTAssertEqual(PNG.adler32(Array("Wikipedia".utf8)), 0x11E6_0398)    // RFC 1950's example
        XCTAssertEqual(PNG.adler32([]), 1)
        // Adler-32 over more than 5,552 bytes of 0xFF (the sums' reduction interval)
        var a: UInt32 = 1, b: UInt32 = 0
        for _ in 0..<20000 { a = (a + 255) % 65521; b = (b + a) % 65521 }
        XCTAssertEqual(PNG.adler32([UInt8](repeating: 255, count: 20000)), (b << 16) | a)
    }

    func testFontHasEveryPrintableGlyph() {
        XCTAssertEqual(BitmapFont.art.count, 95)
        for (i, g) in BitmapFont.art.enumerated() {
            let rows = g.split(separator: "|")
            XCTAssertEqual(rows.count, 7, "glyph \(i)")
            XCTAssertTrue(rows.allSatisfy { $0.count == 5 && $0.allSatisfy { $0 == "#" || $0 == "." } }, "glyph \(i)")
        }
        XCTAssertEqual(BitmapFont.size(of: "abc").width, 17)
        XCTAssertEqual(BitmapFont.size(of: "abc", scale: 2).height, 14)
        XCTAssertEqual(BitmapFont.ascii("5×5 − ok"), Array("5x5 - ok".utf8))
    }

    func testDrawingClipsAndStrokesInwards() throws {
        var p = try Picture(width: 8, height: 6)
        p.strokeRect(x0: -3, y0: 1, x1: 4, y1: 5, thickness: 2, RGB(1, 2, 3))
        XCTAssertEqual(p.pixel(x: 0, y: 1), RGB(1, 2, 3))      // the top edge, clipped on the left
        XCTAssertEqual(p.pixel(x: 3, y: 3), RGB(1, 2, 3))      // the right edge is 2 wide: x 3 and 4
        XCTAssertEqual(p.pixel(x: 2, y: 3), .black)            // inside
        XCTAssertEqual(p.pixel(x: 5, y: 2), .black)            // outside
        p.fillRect(x: Int.max - 1, y: 0, width: 5, height: 5, .white)   // far outside: nothing, no overflow
        p.drawText("Hi", x: Int.max - 3, y: Int.min + 1, color: .white)
        XCTAssertFalse(p.pixels.contains(255))
        try p.blit([10, 20, 30, 40], tileWidth: 2, tileHeight: 2, channels: 1, x: 6, y: 4, scale: 2)
        XCTAssertEqual(p.pixel(x: 7, y: 5), RGB(grey: 10))     // only the top-left block fits
        XCTAssertThrowsError(try Picture(width: 0, height: 3))
        XCTAssertThrowsError(try Picture(width: Picture.maxSide + 1, height: 1))
        XCTAssertThrowsError(try Picture(width: 2, height: 2, pixels: [0]))
    }

    func testReceptiveFieldStartWithPadding() throws {
        // conv 3x3 p1; pool 2; conv 3x3 dilation 2 p2 (bindings/python/tests/test_viz.py works this stack by hand)
        let steps = try receptiveFieldSteps([ReceptiveFieldLayer(kernel: 3, padding: 1),
                                             ReceptiveFieldLayer(kernel: 2, stride: 2),
                                             ReceptiveFieldLayer(kernel: 3, dilation: 2, padding: 2)])
        XCTAssertEqual(steps, [ReceptiveField(size: 3, jump: 1, start: -1), ReceptiveField(size: 4, jump: 2, start: -1),
                               ReceptiveField(size: 12, jump: 2, start: -5)])
        XCTAssertThrowsError(try receptiveField([ReceptiveFieldLayer(kernel: 3, padding: -1)]))
        XCTAssertEqual(try receptiveField([]), ReceptiveField(size: 1, jump: 1))
    }

    func testColoursAndCaptions() {
        XCTAssertEqual(Pictures.vocColor(0), .black)
        XCTAssertEqual(Pictures.vocColor(1), RGB(128, 0, 0))
        XCTAssertEqual(Pictures.vocColor(15), RGB(192, 128, 128))
        XCTAssertEqual(Pictures.vocColor(255), RGB(224, 224, 192))
        XCTAssertEqual(Pictures.twoDecimals(0.875), "0.88")
        XCTAssertEqual(Pictures.twoDecimals(-0.5), "-0.50")
        XCTAssertEqual(Pictures.twoDecimals(Float.greatestFiniteMagnitude), "1e12+")
        XCTAssertEqual(Pictures.twoDecimals(.nan), "nan")
        XCTAssertEqual(Pictures.minMaxBytes([2, 2, 2][...]), [128, 128, 128])
        XCTAssertEqual(Pictures.minMaxBytes([-1, 0, 1, .nan][...]), [0, 128, 255, 0])
        XCTAssertEqual(RGB(100, 100, 100).blended(with: RGB(192, 128, 0), alpha: 0.5), RGB(146, 114, 50))
    }

    func testPNGFallsBackToStoredBlocksForNoise() throws {
        var state: UInt64 = 12345
        let noise = (0..<5000).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        let z = PNG.zlib(noise)
        XCTAssertEqual(z.count, 2 + 5 + noise.count + 4)                 // one stored block
        XCTAssertEqual(Array(z[7..<(7 + noise.count)]), noise)
        XCTAssertLessThan(PNG.zlib([UInt8](repeating: 7, count: 5000)).count, 60)
    }
}
