import XCTest
@testable import SwiftCNN

final class AnalysisTests: XCTestCase {
    // MARK: Seed examples

    func testSeedOutputSizes() throws {
        XCTAssertEqual(try outputSize(input: 7, kernel: 3, stride: 1), 5)
        XCTAssertEqual(try outputSize(input: 7, kernel: 3, stride: 2), 3)
        assertThrows(.invalidArgument, "2.33", "stride 3") { try outputSize(input: 7, kernel: 3, stride: 3) }
        XCTAssertEqual(try outputSize(input: 7, kernel: 3, stride: 3, mode: .floor), 2)
        XCTAssertEqual(try outputSize(input: 7, kernel: 3, stride: 3, mode: .ceil), 3)
        // The seed's padding-1 slides: 7×7, 3×3, padding 1 → 7 (stride 1) and 4 (stride 2).
        XCTAssertEqual(try outputSize(input: 7, kernel: 3, stride: 1, padding: 1), 7)
        XCTAssertEqual(try outputSize(input: 7, kernel: 3, stride: 2, padding: 1), 4)
    }

    func testSeedReceptiveField() throws {
        let twoConvs = try receptiveField([ReceptiveFieldLayer(kernel: 3), ReceptiveFieldLayer(kernel: 3)])
        XCTAssertEqual(twoConvs, ReceptiveField(size: 5, jump: 1))
        XCTAssertEqual(try receptiveField([ReceptiveFieldLayer(kernel: 3)]).size, 3)
        // Dilation: one 3×3 with dilation 2 sees as far as two plain 3×3s.
        XCTAssertEqual(try receptiveField([ReceptiveFieldLayer(kernel: 3, dilation: 2)]).size, 5)
        XCTAssertEqual(try receptiveField([]), ReceptiveField(size: 1, jump: 1))
    }

    func testSeedWeightCounts() throws {
        // MLP 224·224 → 1024 → 2048 → 4096 → 1000, no biases.
        let widths = [224 * 224, 1024, 2048, 4096, 1000]
        var mlp = 0
        for i in 0..<(widths.count - 1) {
            mlp += try linearParameterCount(inFeatures: widths[i], outFeatures: widths[i + 1], bias: false)
        }
        XCTAssertEqual(mlp, 65_961_984)
        // CNN: 3×3 convs 1 → 128 → 256 → 512 and a fully connected 1024 → 1000, no biases.
        let k = Size2D(3)
        let cnn = try conv2dParameterCount(inChannels: 1, outChannels: 128, kernel: k, bias: false)
            + conv2dParameterCount(inChannels: 128, outChannels: 256, kernel: k, bias: false)
            + conv2dParameterCount(inChannels: 256, outChannels: 512, kernel: k, bias: false)
            + linearParameterCount(inFeatures: 1024, outFeatures: 1000, bias: false)
        XCTAssertEqual(cnn, 2_499_712)
        // And the seed's small MLP: 16 → 4 → 2 has 72 weights.
        XCTAssertEqual(try linearParameterCount(inFeatures: 16, outFeatures: 4, bias: false)
                       + linearParameterCount(inFeatures: 4, outFeatures: 2, bias: false), 72)
    }

    // MARK: Output size

    func testOutputSizeAgainstWindowCounting() throws {
        var rng = TestRNG(11)
        for _ in 0..<50 {
            let n = rng.int(1...20), k = rng.int(1...6), s = rng.int(1...4), p = rng.int(0...3), d = rng.int(1...3)
            let padded = n + 2 * p, extent = d * (k - 1) + 1
            if extent > padded {
                for mode in [OutputSizeMode.exact, .floor, .ceil] {
                    assertThrows(.invalidArgument, "kernel spans") {
                        try outputSize(input: n, kernel: k, stride: s, padding: p, dilation: d, mode: mode)
                    }
                }
                continue
            }
            // Windows that fit: starts 0, s, 2s, … with start + extent <= padded.
            var fit = 0
            while fit * s + extent <= padded { fit += 1 }
            let exact = (padded - extent) % s == 0
            XCTAssertEqual(try outputSize(input: n, kernel: k, stride: s, padding: p, dilation: d, mode: .floor), fit)
            XCTAssertEqual(try outputSize(input: n, kernel: k, stride: s, padding: p, dilation: d, mode: .ceil), exact ? fit : fit + 1)
            if exact {
                XCTAssertEqual(try outputSize(input: n, kernel: k, stride: s, padding: p, dilation: d), fit)
            } else {
                assertThrows(.invalidArgument, "not a whole number") {
                    try outputSize(input: n, kernel: k, stride: s, padding: p, dilation: d)
                }
            }
        }
    }

    func testOutputSizeBadInput() {
        assertThrows(.invalidArgument, "stride", "0") { try outputSize(input: 7, kernel: 3, stride: 0) }
        assertThrows(.invalidArgument, "kernel") { try outputSize(input: 7, kernel: 0) }
        assertThrows(.invalidArgument, "dilation") { try outputSize(input: 7, kernel: 3, dilation: 0) }
        assertThrows(.invalidArgument, "padding", "-1") { try outputSize(input: 7, kernel: 3, padding: -1) }
        assertThrows(.invalidArgument, "input") { try outputSize(input: 0, kernel: 1) }
        assertThrows(.invalidArgument, "kernel spans 9", "7") { try outputSize(input: 7, kernel: 9) }
        assertThrows(.invalidArgument, "overflows") { try outputSize(input: 7, kernel: 3, padding: Int.max / 2 + 1) }
        assertThrows(.invalidArgument, "overflows") { try outputSize(input: 7, kernel: Int.max, dilation: 3) }
        assertThrows(.invalidArgument, "overflows") { try outputSize(input: Int.max, kernel: 1, padding: 1) }
        XCTAssertEqual(try outputSize(input: Int.max, kernel: 1), Int.max)
        XCTAssertEqual(try outputSize(input: Int.max, kernel: 2, stride: 2, mode: .ceil), Int.max / 2 + 1)
        // Near-whole fractions still show as fractions: (1000 + 0 − 0 − 1)/1000 + 1 → 1.999.
        assertThrows(.invalidArgument, "1.999") { try outputSize(input: 1000, kernel: 1, stride: 1000) }
    }

    // MARK: Receptive field

    func testReceptiveFieldAgainstIntervalPropagation() throws {
        var rng = TestRNG(12)
        for _ in 0..<40 {
            let layers = (0..<rng.int(0...5)).map { _ in
                ReceptiveFieldLayer(kernel: rng.int(1...7), stride: rng.int(1...3), dilation: rng.int(1...3))
            }
            // One output pixel [0, 0]; going back through a layer, output positions a…b read
            // input positions a·s … b·s + d·(k−1).
            var lo = 0, hi = 0
            for l in layers.reversed() {
                lo = lo * l.stride
                hi = hi * l.stride + l.dilation * (l.kernel - 1)
            }
            let rf = try receptiveField(layers)
            XCTAssertEqual(rf.size, hi - lo + 1, "\(layers)")
            XCTAssertEqual(rf.jump, layers.reduce(1) { $0 * $1.stride })
        }
    }

    func testReceptiveFieldBadInput() {
        assertThrows(.invalidArgument, "layer 1", "stride") {
            try receptiveField([ReceptiveFieldLayer(kernel: 3), ReceptiveFieldLayer(kernel: 3, stride: 0)])
        }
        assertThrows(.invalidArgument, "kernel") { try receptiveField([ReceptiveFieldLayer(kernel: 0)]) }
        assertThrows(.invalidArgument, "dilation") { try receptiveField([ReceptiveFieldLayer(kernel: 2, dilation: -1)]) }
        assertThrows(.invalidArgument, "overflows") {
            try receptiveField(Array(repeating: ReceptiveFieldLayer(kernel: 2, stride: 1 << 20), count: 5))
        }
    }

    // MARK: Counts

    func testCountsAgainstFormulas() throws {
        var rng = TestRNG(13)
        for _ in 0..<30 {
            let g = rng.int(1...4)
            let ci = g * rng.int(1...8), co = g * rng.int(1...8), kh = rng.int(1...7), kw = rng.int(1...7)
            let oh = rng.int(1...30), ow = rng.int(1...30)
            let k = Size2D(kh, kw)
            XCTAssertEqual(try conv2dParameterCount(inChannels: ci, outChannels: co, kernel: k, groups: g), co * (ci / g) * kh * kw + co)
            XCTAssertEqual(try conv2dParameterCount(inChannels: ci, outChannels: co, kernel: k, groups: g, bias: false), co * (ci / g) * kh * kw)
            XCTAssertEqual(try conv2dMACs(inChannels: ci, outChannels: co, kernel: k, groups: g, output: Size2D(oh, ow)),
                           oh * ow * co * (ci / g) * kh * kw)
            XCTAssertEqual(try linearParameterCount(inFeatures: ci, outFeatures: co), ci * co + co)
            XCTAssertEqual(try linearMACs(inFeatures: ci, outFeatures: co), ci * co)
        }
        // AlexNet's first layer: 96 filters 11×11×3 with bias = 34,944; VGG's FC6 25088 → 4096 with bias.
        XCTAssertEqual(try conv2dParameterCount(inChannels: 3, outChannels: 96, kernel: Size2D(11)), 34_944)
        XCTAssertEqual(try linearParameterCount(inFeatures: 25088, outFeatures: 4096), 102_764_544)
        XCTAssertEqual(try conv2dMACs(inChannels: 3, outChannels: 64, kernel: Size2D(3), output: Size2D(224)), 86_704_128)
    }

    func testCountsBadInput() {
        let k = Size2D(3)
        assertThrows(.invalidArgument, "groups 2", "3") { try conv2dParameterCount(inChannels: 3, outChannels: 4, kernel: k, groups: 2) }
        assertThrows(.invalidArgument, "groups", "0") { try conv2dParameterCount(inChannels: 3, outChannels: 4, kernel: k, groups: 0) }
        assertThrows(.invalidArgument, "inChannels") { try conv2dParameterCount(inChannels: 0, outChannels: 4, kernel: k) }
        assertThrows(.invalidArgument, "kernel width") { try conv2dParameterCount(inChannels: 1, outChannels: 4, kernel: Size2D(3, -1)) }
        assertThrows(.invalidArgument, "overflows") { try conv2dParameterCount(inChannels: 1 << 32, outChannels: 1 << 32, kernel: k) }
        assertThrows(.invalidArgument, "overflows") { try linearParameterCount(inFeatures: Int.max, outFeatures: 2) }
        assertThrows(.invalidArgument, "overflows") { try linearParameterCount(inFeatures: Int.max, outFeatures: 1) }   // + bias
        assertThrows(.invalidArgument, "outFeatures") { try linearMACs(inFeatures: 3, outFeatures: -1) }
        assertThrows(.invalidArgument, "output height") { try conv2dMACs(inChannels: 1, outChannels: 1, kernel: k, output: Size2D(0, 1)) }
        assertThrows(.invalidArgument, "overflows") { try conv2dMACs(inChannels: 1, outChannels: 1, kernel: k, output: Size2D(1 << 31, 1 << 31)) }
        assertThrows(.invalidArgument, "overflows") { try linearMACs(inFeatures: 1 << 40, outFeatures: 1 << 40) }
    }

    // MARK: No traps

    /// Extreme arguments everywhere: a value or a SwiftCNNError with a message, never a trap.
    func testExtremeArgumentsNeverTrap() {
        let v = [Int.min, -1, 0, 1, 2, 3, Int.max / 2, Int.max]
        var ok = 0, failed = 0
        func attempt(_ body: () throws -> Int) {
            do {
                _ = try body()
                ok += 1
            } catch let e as SwiftCNNError {
                failed += 1
                XCTAssertFalse(e.message.isEmpty)
            } catch {
                XCTFail("unexpected error \(error)")
            }
        }
        for n in v { for k in v { for s in v { for p in v { for d in [Int.min, 0, 1, 2, Int.max] {
            attempt { try outputSize(input: n, kernel: k, stride: s, padding: p, dilation: d, mode: .exact) }
            attempt { try outputSize(input: n, kernel: k, stride: s, padding: p, dilation: d, mode: .ceil) }
        } } } } }
        for a in v { for b in v { for kh in v { for g in v {
            attempt { try conv2dParameterCount(inChannels: a, outChannels: b, kernel: Size2D(kh, 3), groups: g) }
            attempt { try conv2dMACs(inChannels: a, outChannels: b, kernel: Size2D(3, kh), groups: g, output: Size2D(a, b)) }
        } } } }
        for a in v { for b in v {
            attempt { try linearParameterCount(inFeatures: a, outFeatures: b) }
            attempt { try linearParameterCount(inFeatures: a, outFeatures: b, bias: false) }
            attempt { try linearMACs(inFeatures: a, outFeatures: b) }
        } }
        var rng = TestRNG(22)
        for _ in 0..<2000 {
            let layers = (0..<rng.int(1...4)).map { _ in
                ReceptiveFieldLayer(kernel: v[rng.int(0...v.count - 1)], stride: v[rng.int(0...v.count - 1)],
                                    dilation: v[rng.int(0...v.count - 1)])
            }
            attempt { try receptiveField(layers).size }
        }
        XCTAssertGreaterThan(ok, 0)
        XCTAssertGreaterThan(failed, 0)
    }
}
