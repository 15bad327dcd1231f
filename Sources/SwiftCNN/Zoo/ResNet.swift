// ResNet — K. He, X. Zhang, S. Ren, J. Sun, "Deep Residual Learning for Image Recognition",
// arXiv:1512.03385 (CVPR 2016), Table 1: 18, 34 (basic blocks), 50, 101, 152 (bottlenecks).
//
// torchvision's layout (so torchvision weights load): conv1 7×7/2 (no bias), bn1, relu,
// maxpool 3×3/2 padding 1, layer1…layer4 of blocks, adaptive average pool to 1×1, fc.
// Projection shortcuts (`downsample`: 1×1 conv with the block's stride + batch norm) where
// the shape changes — the paper's option B; identity elsewhere. Batch-norm eps 1e-5.
// Deviation from the paper: in bottleneck blocks the stride sits on the 3×3 convolution
// (conv2), not the first 1×1 — torchvision's "ResNet v1.5". Any input size (even 1×1, as in PyTorch)
// (designed for 224).

/// A basic block (two 3×3 convolutions), torchvision's names.
func basicBlock(_ inC: Int, _ planes: Int, stride: Int) -> Layer {
    let body: [NamedLayer] = [
        NamedLayer("conv1", .conv2d(ConvSpec(inC, planes, kernel: 3, stride: stride, padding: 1, bias: false))),
        NamedLayer("bn1", .batchNorm2d(channels: planes, eps: 1e-5)),
        NamedLayer("relu", .relu),
        NamedLayer("conv2", .conv2d(ConvSpec(planes, planes, kernel: 3, padding: 1, bias: false))),
        NamedLayer("bn2", .batchNorm2d(channels: planes, eps: 1e-5)),
    ]
    return .residual(body: body, shortcut: downsample(inC, planes, stride: stride))
}

/// A bottleneck block (1×1 reduce, 3×3 with the stride, 1×1 expand ×4), torchvision's names.
/// `dilation` spaces the 3×3's taps (padding = dilation keeps the size), as torchvision's
/// `replace_stride_with_dilation` does for the segmentation backbones; 1 for the classifiers.
func bottleneck(_ inC: Int, _ planes: Int, stride: Int, dilation: Int = 1) -> Layer {
    let out = planes * 4
    let body: [NamedLayer] = [
        NamedLayer("conv1", .conv2d(ConvSpec(inC, planes, kernel: 1, bias: false))),
        NamedLayer("bn1", .batchNorm2d(channels: planes, eps: 1e-5)),
        NamedLayer("relu", .relu),
        NamedLayer("conv2", .conv2d(ConvSpec(planes, planes, kernel: Size2D(3), stride: Size2D(stride),
                                             padding: Padding2D(dilation), dilation: Size2D(dilation), bias: false))),
        NamedLayer("bn2", .batchNorm2d(channels: planes, eps: 1e-5)),
        NamedLayer("relu", .relu),
        NamedLayer("conv3", .conv2d(ConvSpec(planes, out, kernel: 1, bias: false))),
        NamedLayer("bn3", .batchNorm2d(channels: out, eps: 1e-5)),
    ]
    return .residual(body: body, shortcut: downsample(inC, out, stride: stride))
}

/// The projection shortcut when the block changes the shape, else nil (identity).
func downsample(_ inC: Int, _ outC: Int, stride: Int) -> NamedLayer? {
    guard stride != 1 || inC != outC else { return nil }
    return NamedLayer("downsample", .sequential([
        NamedLayer("0", .conv2d(ConvSpec(inC, outC, kernel: 1, stride: stride, bias: false))),
        NamedLayer("1", .batchNorm2d(channels: outC, eps: 1e-5)),
    ]))
}

/// Blocks per stage and block kind by zoo name.
private func resnetConfig(_ name: String) -> (blocks: [Int], bottleneck: Bool)? {
    switch name {
    case "resnet18": return ([2, 2, 2, 2], false)
    case "resnet34": return ([3, 4, 6, 3], false)
    case "resnet50": return ([3, 4, 6, 3], true)
    case "resnet101": return ([3, 4, 23, 3], true)
    case "resnet152": return ([3, 8, 36, 3], true)
    default: return nil
    }
}

/// `resnet18`, `resnet34`, `resnet50`, `resnet101` or `resnet152` (see the file comment);
/// nil for any other name.
public func resnetArchitecture(_ name: String, numClasses: Int = 1000) -> Architecture? {
    guard let (blocks, isBottleneck) = resnetConfig(name) else { return nil }
    let expansion = isBottleneck ? 4 : 1
    var layers: [NamedLayer] = [
        NamedLayer("conv1", .conv2d(ConvSpec(3, 64, kernel: 7, stride: 2, padding: 3, bias: false))),
        NamedLayer("bn1", .batchNorm2d(channels: 64, eps: 1e-5)),
        NamedLayer("relu", .relu),
        NamedLayer("maxpool", .maxPool2d(PoolSpec(kernel: 3, stride: 2, padding: 1))),
    ]
    var inC = 64
    for (stage, count) in blocks.enumerated() {
        let planes = 64 << stage
        var stageBlocks: [NamedLayer] = []
        for b in 0..<count {
            let stride = (stage > 0 && b == 0) ? 2 : 1
            stageBlocks.append(NamedLayer(String(b), isBottleneck ? bottleneck(inC, planes, stride: stride)
                                                                  : basicBlock(inC, planes, stride: stride)))
            inC = planes * expansion
        }
        layers.append(NamedLayer("layer\(stage + 1)", .sequential(stageBlocks)))
    }
    layers += [
        NamedLayer("avgpool", .adaptiveAvgPool2d(Size2D(1))),
        NamedLayer("flatten", .flatten),
        NamedLayer("fc", .linear(inFeatures: 512 * expansion, outFeatures: numClasses, bias: true)),
    ]
    return Architecture(name: name, numClasses: numClasses, inputChannels: 3, inputSize: Size2D(224),
                        acceptsAnyInputSize: true, root: .sequential(layers))
}
