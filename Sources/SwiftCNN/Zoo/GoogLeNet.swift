// GoogLeNet (Inception v1) — C. Szegedy et al., "Going Deeper with Convolutions",
// arXiv:1409.4842 (CVPR 2015), Table 1.
//
// torchvision's layout (6,624,904 parameters with 1000 classes, no auxiliary heads), so that
// torchvision weights load: every convolution is torchvision's BasicConv2d — Conv2d without
// bias, BatchNorm2d(eps = 0.001), ReLU — named `<block>.conv` / `<block>.bn`; max pools use
// ceil_mode; an adaptive average pool to 1×1, dropout 0.2, `fc`.
// Deviations from the paper: batch normalization (added later, as torchvision's weights
// have it); the "5×5" branch (branch3) uses a 3×3 convolution, as torchvision does (a
// known quirk of its ported weights); no local response normalization; the auxiliary
// classifiers (training-only) are not built; any input of at least 15×15 (designed for 224).

/// torchvision's BasicConv2d: conv (no bias) → batch norm (eps 0.001) → ReLU.
private func basicConv(_ inC: Int, _ outC: Int, kernel: Int, stride: Int = 1, padding: Int = 0) -> Layer {
    .sequential([
        NamedLayer("conv", .conv2d(ConvSpec(inC, outC, kernel: kernel, stride: stride, padding: padding, bias: false))),
        NamedLayer("bn", .batchNorm2d(channels: outC, eps: 0.001)),
        NamedLayer("relu", .relu),
    ])
}

/// An Inception module: four branches concatenated along channels.
private func inception(_ inC: Int, _ ch1x1: Int, _ ch3x3red: Int, _ ch3x3: Int, _ ch5x5red: Int, _ ch5x5: Int,
                       _ poolProj: Int) -> Layer {
    .concat([
        NamedLayer("branch1", basicConv(inC, ch1x1, kernel: 1)),
        NamedLayer("branch2", .sequential([NamedLayer("0", basicConv(inC, ch3x3red, kernel: 1)),
                                           NamedLayer("1", basicConv(ch3x3red, ch3x3, kernel: 3, padding: 1))])),
        NamedLayer("branch3", .sequential([NamedLayer("0", basicConv(inC, ch5x5red, kernel: 1)),
                                           NamedLayer("1", basicConv(ch5x5red, ch5x5, kernel: 3, padding: 1))])),
        NamedLayer("branch4", .sequential([NamedLayer("0", .maxPool2d(PoolSpec(kernel: 3, stride: 1, padding: 1, ceilMode: true))),
                                           NamedLayer("1", basicConv(inC, poolProj, kernel: 1))])),
    ])
}

/// `googlenet`: torchvision's GoogLeNet without auxiliary heads (see the file comment).
public func googlenetArchitecture(numClasses: Int = 1000) -> Architecture {
    let layers: [NamedLayer] = [
        NamedLayer("conv1", basicConv(3, 64, kernel: 7, stride: 2, padding: 3)),
        NamedLayer("maxpool1", .maxPool2d(PoolSpec(kernel: 3, stride: 2, ceilMode: true))),
        NamedLayer("conv2", basicConv(64, 64, kernel: 1)),
        NamedLayer("conv3", basicConv(64, 192, kernel: 3, padding: 1)),
        NamedLayer("maxpool2", .maxPool2d(PoolSpec(kernel: 3, stride: 2, ceilMode: true))),
        NamedLayer("inception3a", inception(192, 64, 96, 128, 16, 32, 32)),
        NamedLayer("inception3b", inception(256, 128, 128, 192, 32, 96, 64)),
        NamedLayer("maxpool3", .maxPool2d(PoolSpec(kernel: 3, stride: 2, ceilMode: true))),
        NamedLayer("inception4a", inception(480, 192, 96, 208, 16, 48, 64)),
        NamedLayer("inception4b", inception(512, 160, 112, 224, 24, 64, 64)),
        NamedLayer("inception4c", inception(512, 128, 128, 256, 24, 64, 64)),
        NamedLayer("inception4d", inception(512, 112, 144, 288, 32, 64, 64)),
        NamedLayer("inception4e", inception(528, 256, 160, 320, 32, 128, 128)),
        NamedLayer("maxpool4", .maxPool2d(PoolSpec(kernel: 2, stride: 2, ceilMode: true))),
        NamedLayer("inception5a", inception(832, 256, 160, 320, 32, 128, 128)),
        NamedLayer("inception5b", inception(832, 384, 192, 384, 48, 128, 128)),
        NamedLayer("avgpool", .adaptiveAvgPool2d(Size2D(1))),
        NamedLayer("flatten", .flatten),
        NamedLayer("dropout", .dropout(p: 0.2)),
        NamedLayer("fc", .linear(inFeatures: 1024, outFeatures: numClasses, bias: true)),
    ]
    return Architecture(name: "googlenet", numClasses: numClasses, inputChannels: 3, inputSize: Size2D(224),
                        acceptsAnyInputSize: true, root: .sequential(layers))
}
