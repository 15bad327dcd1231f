// GoogLeNet as published — C. Szegedy, W. Liu, Y. Jia, P. Sermanet, S. Reed, D. Anguelov,
// D. Erhan, V. Vanhoucke, A. Rabinovich, "Going Deeper with Convolutions", arXiv:1409.4842
// (CVPR 2015): Table 1 and Figure 3, `googlenet_original`.
//
// Stem: conv1 7×7/2 (64, padding 3) → ReLU → max pool 3×3/2 → LRN → conv2 1×1 (64) → ReLU →
// conv3 3×3 (192, padding 1) → ReLU → LRN → max pool 3×3/2 (Figure 3: the second LRN comes
// before the pool). Nine Inception modules with Table 1's widths and real 5×5 branches
// (padding 2), max pools 3×3/2 after 3b and 4e, average pool 7×7/1, dropout 0.4, `fc`
// (1024 → classes). Every convolution has a bias and is followed by a ReLU; no batch
// normalization. LRN: size 5, α 1e-4, β 0.75, k 1 (the paper gives no values; these are the
// BVLC GoogLeNet reproduction's). Max pools use ceil_mode (224 → 112 → 56 → 28 → 14 → 7, as
// Table 1). Names follow torchvision's GoogLeNet where they exist (`inception4a.branch3.1`,
// `aux1.fc1`), with the conv itself as `<block>.conv` (no `bn`).
// Auxiliary classifiers on inception4a (`aux1`) and inception4d (`aux2`): average pool
// 5×5/3 (14×14 → 4×4), 1×1 conv to 128 + ReLU, `fc1` 2048 → 1024 + ReLU, dropout 0.7, `fc2`
// 1024 → classes. They are outputs `aux1`, `aux2` of the training graph with loss weight 0.3
// each (``Architecture/auxiliaryLosses``): active in training mode only, skipped by inference.
//
// Parameters (1000 classes): the paper's Table 1 "params" column sums to 6,797.7K
// (2.7K + 112K + 159K + 380K + 364K + 437K + 463K + 580K + 840K + 1072K + 1388K + 1000K),
// for the main network's weights without biases or auxiliary heads, with K = 1024 (conv2:
// 64·64 + 64·9·192 = 114,688 = 112K; inception3a: 163,328 = 159.5K; fc: 1,024,000 =
// 1000K), so about 6.96M weights. This model has 6,998,552 parameters in the main network:
// 6,990,272 weights (the table's ≈6.96M, plus conv1, which the table lists as 2.7K though
// 7·7·3·64 = 9,408, and small row differences in 4a–5b) and 8,280 biases, which the table
// does not count. With both auxiliary heads (3,188,840 and 3,190,888, mostly fc1's
// 2048 × 1024 and fc2's 1024 × classes) the state dict holds 13,378,280.
// Fixed input 3×224×224 (the 7×7 average pool).

/// conv (with bias) → ReLU, named `conv` / `relu`.
private func convReLU(_ inC: Int, _ outC: Int, kernel: Int, stride: Int = 1, padding: Int = 0) -> Layer {
    .sequential([
        NamedLayer("conv", .conv2d(ConvSpec(inC, outC, kernel: kernel, stride: stride, padding: padding, bias: true))),
        NamedLayer("relu", .relu),
    ])
}

/// An Inception module as in Table 1: 1×1; 1×1 → 3×3; 1×1 → 5×5; 3×3 max pool → 1×1.
private func inceptionOriginal(_ inC: Int, _ c1: Int, _ c3r: Int, _ c3: Int, _ c5r: Int, _ c5: Int, _ pp: Int) -> Layer {
    .concat([
        NamedLayer("branch1", convReLU(inC, c1, kernel: 1)),
        NamedLayer("branch2", .sequential([NamedLayer("0", convReLU(inC, c3r, kernel: 1)),
                                           NamedLayer("1", convReLU(c3r, c3, kernel: 3, padding: 1))])),
        NamedLayer("branch3", .sequential([NamedLayer("0", convReLU(inC, c5r, kernel: 1)),
                                           NamedLayer("1", convReLU(c5r, c5, kernel: 5, padding: 2))])),
        NamedLayer("branch4", .sequential([NamedLayer("0", .maxPool2d(PoolSpec(kernel: 3, stride: 1, padding: 1, ceilMode: true))),
                                           NamedLayer("1", convReLU(inC, pp, kernel: 1))])),
    ])
}

/// An auxiliary classifier (Section 5 of the paper).
private func auxClassifier(_ inC: Int, _ classes: Int) -> Layer {
    .sequential([
        NamedLayer("avgpool", .avgPool2d(PoolSpec(kernel: 5, stride: 3))),
        NamedLayer("conv", .conv2d(ConvSpec(inC, 128, kernel: 1, bias: true))),
        NamedLayer("relu", .relu),
        NamedLayer("flatten", .flatten),
        NamedLayer("fc1", .linear(inFeatures: 128 * 4 * 4, outFeatures: 1024, bias: true)),
        NamedLayer("relu1", .relu),
        NamedLayer("dropout", .dropout(p: 0.7)),
        NamedLayer("fc2", .linear(inFeatures: 1024, outFeatures: classes, bias: true)),
    ])
}

/// `googlenet_original`: the 2014 paper's GoogLeNet with its auxiliary classifiers (see the
/// file comment).
public func googlenetOriginalArchitecture(numClasses: Int = 1000) throws -> Architecture {
    let lrn = Layer.localResponseNorm(size: 5, alpha: 1e-4, beta: 0.75, k: 1)
    let pool = Layer.maxPool2d(PoolSpec(kernel: 3, stride: 2, ceilMode: true))
    let chain: [(String, Layer)] = [
        ("conv1", convReLU(3, 64, kernel: 7, stride: 2, padding: 3)),
        ("maxpool1", pool), ("lrn1", lrn),
        ("conv2", convReLU(64, 64, kernel: 1)),
        ("conv3", convReLU(64, 192, kernel: 3, padding: 1)),
        ("lrn2", lrn), ("maxpool2", pool),
        ("inception3a", inceptionOriginal(192, 64, 96, 128, 16, 32, 32)),
        ("inception3b", inceptionOriginal(256, 128, 128, 192, 32, 96, 64)),
        ("maxpool3", pool),
        ("inception4a", inceptionOriginal(480, 192, 96, 208, 16, 48, 64)),
        ("inception4b", inceptionOriginal(512, 160, 112, 224, 24, 64, 64)),
        ("inception4c", inceptionOriginal(512, 128, 128, 256, 24, 64, 64)),
        ("inception4d", inceptionOriginal(512, 112, 144, 288, 32, 64, 64)),
        ("inception4e", inceptionOriginal(528, 256, 160, 320, 32, 128, 128)),
        ("maxpool4", pool),
        ("inception5a", inceptionOriginal(832, 256, 160, 320, 32, 128, 128)),
        ("inception5b", inceptionOriginal(832, 384, 192, 384, 48, 128, 128)),
        ("avgpool", .avgPool2d(PoolSpec(kernel: 7, stride: 1))),
        ("flatten", .flatten),
        ("dropout", .dropout(p: 0.4)),
        ("fc", .linear(inFeatures: 1024, outFeatures: numClasses, bias: true)),
    ]
    var nodes: [GraphNode] = []
    var previous = "input"
    for (name, layer) in chain {
        nodes.append(GraphNode(name, layer, inputs: [previous]))
        previous = name
    }
    nodes.append(GraphNode("aux1", auxClassifier(512, numClasses), inputs: ["inception4a"]))
    nodes.append(GraphNode("aux2", auxClassifier(528, numClasses), inputs: ["inception4d"]))
    let graph = try Graph(inputs: ["input"], nodes: nodes, outputs: ["fc", "aux1", "aux2"], context: "googlenet_original")
    return try Architecture(name: "googlenet_original", inputShape: [3, 224, 224], root: .graph(graph))
        .withAuxiliaryLosses([AuxiliaryLoss(output: "aux1", weight: 0.3), AuxiliaryLoss(output: "aux2", weight: 0.3)])
}
