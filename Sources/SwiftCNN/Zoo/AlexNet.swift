// AlexNet — A. Krizhevsky, I. Sutskever, G. E. Hinton, "ImageNet Classification with Deep
// Convolutional Neural Networks", NIPS 2012.
//
// Two models:
// - `alexnet`: torchvision's layout (61,100,840 parameters with 1000 classes), so that
//   torchvision weights load: 64/192/384/256/256 channels, CONV1 11×11 stride 4 padding 2,
//   no local response normalization, an adaptive average pool to 6×6 (any input of at
//   least 63×63). Deviations from the paper: its channel counts (the "one weird trick"
//   variant, arXiv:1404.5997), no LRN, a single tower, dropout before the FC layers.
// - `alexnet_lrn`: the seed lecture's table of the paper (62,378,344 parameters): input
//   227×227×3; CONV1 96@11×11 stride 4 pad 0; 3×3/2 max pool; LRN(5, α=1e-4, β=0.75, k=2);
//   CONV2 256@5×5 pad 2; pool; LRN; CONV3 384, CONV4 384, CONV5 256 (3×3 pad 1); pool;
//   FC6 4096, FC7 4096, FC8. Deviations: a single tower (the paper splits CONV2, CONV4,
//   CONV5 across two GPUs with grouped connections), and 227 instead of the paper's stated
//   224 input, as the seed's table does (224 does not give 55×55 at stride 4 without padding).

private func torchvisionClassifier(_ inFeatures: Int, _ numClasses: Int) -> [NamedLayer] {
    [
        NamedLayer("0", .dropout(p: 0.5)),
        NamedLayer("1", .linear(inFeatures: inFeatures, outFeatures: 4096, bias: true)),
        NamedLayer("2", .relu),
        NamedLayer("3", .dropout(p: 0.5)),
        NamedLayer("4", .linear(inFeatures: 4096, outFeatures: 4096, bias: true)),
        NamedLayer("5", .relu),
        NamedLayer("6", .linear(inFeatures: 4096, outFeatures: numClasses, bias: true)),
    ]
}

/// Names children "0", "1", … like `nn.Sequential`.
func numbered(_ layers: [Layer]) -> [NamedLayer] {
    layers.enumerated().map { NamedLayer(String($0.offset), $0.element) }
}

/// `alexnet`: torchvision's AlexNet (see the file comment).
public func alexnetArchitecture(numClasses: Int = 1000) -> Architecture {
    let features = numbered([
        .conv2d(ConvSpec(3, 64, kernel: 11, stride: 4, padding: 2)), .relu, .maxPool2d(PoolSpec(kernel: 3, stride: 2)),
        .conv2d(ConvSpec(64, 192, kernel: 5, padding: 2)), .relu, .maxPool2d(PoolSpec(kernel: 3, stride: 2)),
        .conv2d(ConvSpec(192, 384, kernel: 3, padding: 1)), .relu,
        .conv2d(ConvSpec(384, 256, kernel: 3, padding: 1)), .relu,
        .conv2d(ConvSpec(256, 256, kernel: 3, padding: 1)), .relu, .maxPool2d(PoolSpec(kernel: 3, stride: 2)),
    ])
    return Architecture(
        name: "alexnet", numClasses: numClasses, inputChannels: 3, inputSize: Size2D(224), acceptsAnyInputSize: true,
        root: .sequential([
            NamedLayer("features", .sequential(features)),
            NamedLayer("avgpool", .adaptiveAvgPool2d(Size2D(6))),
            NamedLayer("flatten", .flatten),
            NamedLayer("classifier", .sequential(torchvisionClassifier(256 * 6 * 6, numClasses))),
        ]))
}

/// `alexnet_lrn`: the paper's AlexNet as in the seed's table, single tower (see the file comment).
public func alexnetLRNArchitecture(numClasses: Int = 1000) -> Architecture {
    let lrn = Layer.localResponseNorm(size: 5, alpha: 1e-4, beta: 0.75, k: 2)
    let features = numbered([
        .conv2d(ConvSpec(3, 96, kernel: 11, stride: 4)), .relu, .maxPool2d(PoolSpec(kernel: 3, stride: 2)), lrn,
        .conv2d(ConvSpec(96, 256, kernel: 5, padding: 2)), .relu, .maxPool2d(PoolSpec(kernel: 3, stride: 2)), lrn,
        .conv2d(ConvSpec(256, 384, kernel: 3, padding: 1)), .relu,
        .conv2d(ConvSpec(384, 384, kernel: 3, padding: 1)), .relu,
        .conv2d(ConvSpec(384, 256, kernel: 3, padding: 1)), .relu, .maxPool2d(PoolSpec(kernel: 3, stride: 2)),
    ])
    return Architecture(
        name: "alexnet_lrn", numClasses: numClasses, inputChannels: 3, inputSize: Size2D(227), acceptsAnyInputSize: false,
        root: .sequential([
            NamedLayer("features", .sequential(features)),
            NamedLayer("flatten", .flatten),
            NamedLayer("classifier", .sequential(torchvisionClassifier(256 * 6 * 6, numClasses))),
        ]))
}

/// `alexnet_grouped`: `alexnet_lrn` with the paper's two-GPU split (Krizhevsky et al. 2012,
/// Figure 2): CONV2, CONV4 and CONV5 connect only to the kernel maps on their own GPU, which
/// is a grouped convolution with groups = 2 (CONV3 and the FC layers see both halves). LRN,
/// sizes, names and the 227×227 input as `alexnet_lrn`; 60,965,224 parameters with 1000
/// classes (1,413,120 fewer than the single tower: half of CONV2's, CONV4's and CONV5's
/// weights). Deviation: the towers are one tensor each (groups), not two devices.
public func alexnetGroupedArchitecture(numClasses: Int = 1000) -> Architecture {
    let lrn = Layer.localResponseNorm(size: 5, alpha: 1e-4, beta: 0.75, k: 2)
    func grouped(_ i: Int, _ o: Int, _ k: Int, _ p: Int) -> Layer {
        .conv2d(ConvSpec(i, o, kernel: Size2D(k), padding: Padding2D(p), groups: 2, bias: true))
    }
    let features = numbered([
        .conv2d(ConvSpec(3, 96, kernel: 11, stride: 4)), .relu, .maxPool2d(PoolSpec(kernel: 3, stride: 2)), lrn,
        grouped(96, 256, 5, 2), .relu, .maxPool2d(PoolSpec(kernel: 3, stride: 2)), lrn,
        .conv2d(ConvSpec(256, 384, kernel: 3, padding: 1)), .relu,
        grouped(384, 384, 3, 1), .relu,
        grouped(384, 256, 3, 1), .relu, .maxPool2d(PoolSpec(kernel: 3, stride: 2)),
    ])
    return Architecture(
        name: "alexnet_grouped", numClasses: numClasses, inputChannels: 3, inputSize: Size2D(227), acceptsAnyInputSize: false,
        root: .sequential([
            NamedLayer("features", .sequential(features)),
            NamedLayer("flatten", .flatten),
            NamedLayer("classifier", .sequential(torchvisionClassifier(256 * 6 * 6, numClasses))),
        ]))
}

/// The classifier shared by AlexNet-style and VGG models (torchvision's order).
func fcClassifier(_ inFeatures: Int, _ numClasses: Int, dropoutFirst: Bool) -> [NamedLayer] {
    if dropoutFirst { return torchvisionClassifier(inFeatures, numClasses) }
    return numbered([
        .linear(inFeatures: inFeatures, outFeatures: 4096, bias: true), .relu, .dropout(p: 0.5),
        .linear(inFeatures: 4096, outFeatures: 4096, bias: true), .relu, .dropout(p: 0.5),
        .linear(inFeatures: 4096, outFeatures: numClasses, bias: true),
    ])
}
