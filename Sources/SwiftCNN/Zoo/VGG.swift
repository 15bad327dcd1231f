// VGG — K. Simonyan, A. Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
// Recognition", arXiv:1409.1556 (ICLR 2015), Table 1, configurations A–E.
//
// torchvision's layout (so torchvision weights load): `features` numbered as its
// make_layers builds them (3×3 convs with padding 1, each followed by ReLU — or by
// BatchNorm2d then ReLU in the _bn variants; 2×2/2 max pools), `avgpool` an adaptive
// average pool to 7×7 (inputs of at least 32×32), `classifier` Linear(25088, 4096), ReLU,
// Dropout, Linear(4096, 4096), ReLU, Dropout, Linear(4096, num_classes).
// Names: vgg11 (A), vgg11_lrn (A-LRN), vgg13 (B), vgg16_c (C), vgg16 (D), vgg19 (E), and
// vgg11_bn, vgg13_bn, vgg16_bn, vgg19_bn (torchvision's batch-normed A, B, D, E).
// Deviations from the paper: the adaptive pool (the paper's nets take 224×224 only; at 224
// the pool is the identity), the batch-normed variants (not in the paper). A-LRN's LRN uses
// the paper's AlexNet parameters (size 5, α=1e-4, β=0.75, k=2) right after the first ReLU;
// configuration C's 1×1 convolutions have padding 0.

/// One entry of a VGG configuration.
enum VGGItem {
    /// A 3×3 convolution (padding 1) to this many channels.
    case conv(Int)
    /// A 1×1 convolution (padding 0) to this many channels (configuration C).
    case conv1x1(Int)
    /// 2×2 max pool, stride 2.
    case pool
    /// Local response normalization (A-LRN).
    case lrn
}

private let cfgA: [VGGItem] = [.conv(64), .pool, .conv(128), .pool, .conv(256), .conv(256), .pool,
                               .conv(512), .conv(512), .pool, .conv(512), .conv(512), .pool]
private let cfgALRN: [VGGItem] = [.conv(64), .lrn, .pool, .conv(128), .pool, .conv(256), .conv(256), .pool,
                                  .conv(512), .conv(512), .pool, .conv(512), .conv(512), .pool]
private let cfgB: [VGGItem] = [.conv(64), .conv(64), .pool, .conv(128), .conv(128), .pool, .conv(256), .conv(256), .pool,
                               .conv(512), .conv(512), .pool, .conv(512), .conv(512), .pool]
private let cfgC: [VGGItem] = [.conv(64), .conv(64), .pool, .conv(128), .conv(128), .pool,
                               .conv(256), .conv(256), .conv1x1(256), .pool,
                               .conv(512), .conv(512), .conv1x1(512), .pool, .conv(512), .conv(512), .conv1x1(512), .pool]
private let cfgD: [VGGItem] = [.conv(64), .conv(64), .pool, .conv(128), .conv(128), .pool,
                               .conv(256), .conv(256), .conv(256), .pool,
                               .conv(512), .conv(512), .conv(512), .pool, .conv(512), .conv(512), .conv(512), .pool]
private let cfgE: [VGGItem] = [.conv(64), .conv(64), .pool, .conv(128), .conv(128), .pool,
                               .conv(256), .conv(256), .conv(256), .conv(256), .pool,
                               .conv(512), .conv(512), .conv(512), .conv(512), .pool,
                               .conv(512), .conv(512), .conv(512), .conv(512), .pool]

/// The VGG configurations by zoo name (without the _bn suffix).
func vggConfig(_ name: String) -> [VGGItem]? {
    switch name {
    case "vgg11": return cfgA
    case "vgg11_lrn": return cfgALRN
    case "vgg13": return cfgB
    case "vgg16_c": return cfgC
    case "vgg16": return cfgD
    case "vgg19": return cfgE
    default: return nil
    }
}

/// A VGG network: `name` one of vgg11, vgg11_lrn, vgg13, vgg16_c, vgg16, vgg19, optionally
/// with "_bn" (vgg11_bn, vgg13_bn, vgg16_bn, vgg19_bn). Nil for any other name.
public func vggArchitecture(_ name: String, numClasses: Int = 1000) -> Architecture? {
    let batchNorm = name.hasSuffix("_bn")
    let base = batchNorm ? String(name.dropLast(3)) : name
    guard let cfg = vggConfig(base), !(batchNorm && (base == "vgg11_lrn" || base == "vgg16_c")) else { return nil }
    var layers: [Layer] = []
    var channels = 3
    func conv(_ out: Int, _ k: Int, _ p: Int) {
        layers.append(.conv2d(ConvSpec(channels, out, kernel: k, padding: p)))
        if batchNorm { layers.append(.batchNorm2d(channels: out, eps: 1e-5)) }
        layers.append(.relu)
        channels = out
    }
    for item in cfg {
        switch item {
        case .conv(let c): conv(c, 3, 1)
        case .conv1x1(let c): conv(c, 1, 0)
        case .pool: layers.append(.maxPool2d(PoolSpec(kernel: 2, stride: 2)))
        case .lrn: layers.append(.localResponseNorm(size: 5, alpha: 1e-4, beta: 0.75, k: 2))
        }
    }
    return Architecture(
        name: name, numClasses: numClasses, inputChannels: 3, inputSize: Size2D(224), acceptsAnyInputSize: true,
        root: .sequential([
            NamedLayer("features", .sequential(numbered(layers))),
            NamedLayer("avgpool", .adaptiveAvgPool2d(Size2D(7))),
            NamedLayer("flatten", .flatten),
            NamedLayer("classifier", .sequential(fcClassifier(512 * 7 * 7, numClasses, dropoutFirst: false))),
        ]))
}
