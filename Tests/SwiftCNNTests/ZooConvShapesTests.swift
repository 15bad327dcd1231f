import XCTest
@testable import SwiftCNN

/// Every distinct convolution of the zoo (kernel, stride, padding, channels) through the
/// optimized path that the library picks for it — im2col into packed GEMM panels, the
/// small-convolution kernels or Winograd — against the reference kernel.
///
/// The spatial size is reduced so the debug build stays fast: the input is the smallest
/// square that gives a 5×5 output (plus a 1×1-output case), which still exercises every
/// padding edge and, for Winograd, partial tiles. Input channels (the summed dimension that
/// sets the rounding error) are the zoo's; output channels are capped at 24 when
/// C·O > 16384 (output channels are independent rows of the same computation), and two
/// batch sizes are run. Weights are at the zoo's scale (uniform ±√(6 / fan_in)), inputs
/// uniform in [−1, 1]. Tolerance: max |optimized − reference| ≤ 1e-4 · max |reference| + 1e-5.
final class ZooConvShapesTests: XCTestCase {
    func testEveryZooConvShapeMatchesReference() throws {
        let specs = try zooConvSpecs()
        // The zoo has 1×1, 3×3, 5×5, 7×7/2, 11×11/4 and strided 1×1/3×3 convolutions.
        XCTAssertGreaterThanOrEqual(specs.count, 40)
        XCTAssertTrue(specs.contains { $0.kernel == Size2D(11) && $0.stride == Size2D(4) })
        XCTAssertTrue(specs.contains { $0.kernel == Size2D(7) && $0.stride == Size2D(2) })
        var rng = TestRNG(2026)
        var checked = 0
        for spec in specs {
            var s = spec
            if s.inChannels * s.outChannels > 16384 { s.outChannels = 24 }
            for (outSize, batch) in [(5, 1), (1, 2)] {
                // Smallest input with this output size: (out − 1)·stride + kernel − pads.
                let h = max(1, (outSize - 1) * s.stride.h + s.kernel.h - s.padding.top - s.padding.bottom)
                let w = max(1, (outSize - 1) * s.stride.w + s.kernel.w - s.padding.left - s.padding.right)
                let x = try rng.tensor([batch, s.inChannels, h, w])
                let bound = (6 / Float(s.inChannels * s.kernel.h * s.kernel.w)).squareRoot()
                let wt = try rng.tensor([s.outChannels, s.inChannels, s.kernel.h, s.kernel.w], -bound, bound)
                let b = s.bias ? try rng.tensor([s.outChannels], -0.1, 0.1) : nil
                let o = Conv2DOptions(stride: s.stride, padding: s.padding)
                let fast = try conv2d(x, weight: wt, bias: b, options: o)
                let slow = try withReferenceKernels { try conv2d(x, weight: wt, bias: b, options: o) }
                XCTAssertEqual(fast.shape, slow.shape)
                let ref = slow.scalars, got = fast.scalars
                let scale = ref.reduce(Float(0)) { max($0, abs($1)) }
                var worst: Float = 0
                for i in 0..<min(ref.count, got.count) { worst = max(worst, abs(got[i] - ref[i])) }
                XCTAssertLessThanOrEqual(worst, 1e-4 * scale + 1e-5,
                                         "\(spec) batch \(batch) input \(h)×\(w): max error \(worst), scale \(scale)")
                checked += 1
            }
        }
        XCTAssertEqual(checked, specs.count * 2)
    }
}
