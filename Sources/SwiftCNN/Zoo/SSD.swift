// SSD — W. Liu, D. Anguelov, D. Erhan, C. Szegedy, S. Reed, C.-Y. Fu, A. C. Berg, "SSD: Single
// Shot MultiBox Detector", arXiv:1512.02325 (ECCV 2016), Fig. 2 (SSD300 on VGG-16).
//
// torchvision's `ssd300_vgg16` layout (so its state_dict loads as it is):
// - `backbone.features`: VGG-16's features up to conv4_3's ReLU (indices 0…22), with the
//   third max pool in ceil mode (75 → 38, as in the paper);
// - `backbone.scale_weight` [512]: the learned per-channel scale of conv4_3's L2
//   normalization (ParseNet, the paper's §3.1), y = scale · x / max(‖x‖₂, 1e-12);
// - `backbone.extra.0`: VGG's pool4 and conv5_1…conv5_3 (indices 0…6) then `7`: pool5 as
//   3×3/1 padding 1, fc6 as a 3×3 conv dilated 6 (1024 channels), fc7 as a 1×1 conv;
//   `extra.1`…`extra.4`: the paper's conv8_2…conv11_2 (1×1 then 3×3, the first two with
//   stride 2 and padding 1, the last two unpadded);
// - `head.classification_head.module_list.k` and `head.regression_head.module_list.k`:
//   a 3×3 conv per feature map (38, 19, 10, 5, 3, 1 at 300×300) to A·K channels
//   (A = 4, 6, 6, 6, 4, 4 default boxes per position; K = the class count or 4).
// Each head's map [N, A·K, H, W] is transposed to [N, H, W, A·K] and reshaped to
// [N, H·W·A, K] (torchvision's view + permute, without a rank-5 tensor), and the maps are
// concatenated: `bbox_regression` [N, 8732, 4] and `cls_logits` [N, 8732, K]. The network's
// output, `head_outputs`, is the two side by side: [N, 8732, 4 + K] (regression first).
// The input is the 300×300 image after torchvision's transform; default boxes, decoding and
// NMS are post-processing (Tasks/Detection.swift).
// Deviations: none in the network. As in torchvision (and unlike the paper's Caffe model),
// the image is normalized by mean (0.48235, 0.45882, 0.40784) and std 1/255 and resized
// bilinearly (see ``DetectionConfig``).

/// One detection head: per feature map `i` a module (`module_list.i`) to A·K channels, then
/// NHWC, [N, H·W·A, K], and the concatenation. `maps` are the head's input names.
func ssdScoringHead(_ modules: [Layer], columns: Int, maps: [String]) throws -> Layer {
    let list = try Graph(
        inputs: maps,
        nodes: modules.enumerated().map { GraphNode(String($0.offset), $0.element, inputs: [maps[$0.offset]]) },
        outputs: modules.indices.map { "\($0)" }, context: "module_list")
    var nodes = [GraphNode("module_list", .graph(list), inputs: maps)]
    for i in modules.indices {
        nodes.append(GraphNode("nhwc\(i)", .transpose([0, 2, 3, 1]), inputs: ["module_list:\(i)"]))
        nodes.append(GraphNode("rows\(i)", .reshape([-1, columns]), inputs: ["nhwc\(i)"]))
    }
    nodes.append(GraphNode("cat", .concatInputs(axis: 1), inputs: modules.indices.map { "rows\($0)" }))
    return .graph(try Graph(inputs: maps, nodes: nodes, outputs: ["cat"], context: "scoring head"))
}

/// The SSD wrapper: `backbone` (a graph from the image to the feature maps) then `head`
/// (classification and regression heads), giving `bbox_regression`, `cls_logits` and their
/// concatenation `head_outputs`.
func ssdNetwork(backbone: Graph, classification: [Layer], regression: [Layer], numClasses: Int) throws -> Layer {
    let maps = (0..<backbone.outputs.count).map { "f\($0)" }
    let head = try Graph(
        inputs: maps,
        nodes: [
            GraphNode("classification_head", try ssdScoringHead(classification, columns: numClasses, maps: maps), inputs: maps),
            GraphNode("regression_head", try ssdScoringHead(regression, columns: 4, maps: maps), inputs: maps),
        ],
        outputs: ["regression_head", "classification_head"], context: "head")
    let featureValues = (0..<backbone.outputs.count).map { backbone.outputs.count == 1 ? "backbone" : "backbone:\($0)" }
    return .graph(try Graph(
        inputs: ["images"],
        nodes: [
            GraphNode("backbone", .graph(backbone), inputs: ["images"]),
            GraphNode("head", .graph(head), inputs: featureValues),
            GraphNode("bbox_regression", .identity, inputs: ["head:0"]),
            GraphNode("cls_logits", .identity, inputs: ["head:1"]),
            GraphNode("head_outputs", .concatInputs(axis: 2), inputs: ["bbox_regression", "cls_logits"]),
        ],
        outputs: ["head_outputs"], context: "ssd"))
}

/// `ssd300_vgg16`: torchvision's SSD300 with its VGG-16 feature extractor (see the file
/// comment), `numClasses` including the background class 0 (91 for COCO).
func ssd300VGG16Architecture(numClasses: Int = 91) throws -> Architecture {
    func conv(_ i: Int, _ o: Int, _ k: Int, stride: Int = 1, padding: Int = 0) -> Layer {
        .conv2d(ConvSpec(i, o, kernel: k, stride: stride, padding: padding))
    }
    let pool = Layer.maxPool2d(PoolSpec(kernel: 2, stride: 2))
    // VGG-16 (configuration D) features 0…22: up to conv4_3's ReLU; pool 16 in ceil mode.
    let features: [Layer] = [
        conv(3, 64, 3, padding: 1), .relu, conv(64, 64, 3, padding: 1), .relu, pool,
        conv(64, 128, 3, padding: 1), .relu, conv(128, 128, 3, padding: 1), .relu, pool,
        conv(128, 256, 3, padding: 1), .relu, conv(256, 256, 3, padding: 1), .relu, conv(256, 256, 3, padding: 1), .relu,
        .maxPool2d(PoolSpec(kernel: 2, stride: 2, ceilMode: true)),
        conv(256, 512, 3, padding: 1), .relu, conv(512, 512, 3, padding: 1), .relu, conv(512, 512, 3, padding: 1), .relu,
    ]
    let fc: [Layer] = [
        .maxPool2d(PoolSpec(kernel: 3, stride: 1, padding: 1)),
        .conv2d(ConvSpec(512, 1024, kernel: Size2D(3), padding: Padding2D(6), dilation: Size2D(6))), .relu,
        conv(1024, 1024, 1), .relu,
    ]
    let extra0: [Layer] = [
        pool, conv(512, 512, 3, padding: 1), .relu, conv(512, 512, 3, padding: 1), .relu, conv(512, 512, 3, padding: 1), .relu,
        .sequential(numbered(fc)),
    ]
    let extras: [[Layer]] = [
        extra0,
        [conv(1024, 256, 1), .relu, conv(256, 512, 3, stride: 2, padding: 1), .relu],
        [conv(512, 128, 1), .relu, conv(128, 256, 3, stride: 2, padding: 1), .relu],
        [conv(256, 128, 1), .relu, conv(128, 256, 3), .relu],
        [conv(256, 128, 1), .relu, conv(128, 256, 3), .relu],
    ]
    let extra = try Graph(
        inputs: ["x"],
        nodes: extras.enumerated().map {
            GraphNode(String($0.offset), .sequential(numbered($0.element)), inputs: [$0.offset == 0 ? "x" : String($0.offset - 1)])
        },
        outputs: extras.indices.map { String($0) }, context: "extra")
    let backbone = try Graph(
        inputs: ["x"],
        nodes: [
            GraphNode("features", .sequential(numbered(features)), inputs: ["x"]),
            GraphNode("scale_weight", .constant(shape: [512]), inputs: []),
            GraphNode("normalized", .l2Normalize(eps: 1e-12), inputs: ["features"]),
            GraphNode("scale", .reshape([512, 1, 1]), inputs: ["scale_weight"]),
            GraphNode("rescaled", .binary(.mul), inputs: ["scale", "normalized"]),
            GraphNode("extra", .graph(extra), inputs: ["features"]),
        ],
        outputs: ["rescaled"] + extras.indices.map { "extra:\($0)" }, context: "backbone")
    let channels = [512, 1024, 512, 256, 256, 256]
    let anchors = [4, 6, 6, 6, 4, 4]
    let cls = try zip(channels, anchors).map { conv($0, try Checked.mul($1, numClasses, "ssd300_vgg16: head channels"), 3, padding: 1) }
    let reg = zip(channels, anchors).map { conv($0, $1 * 4, 3, padding: 1) }
    let root = try ssdNetwork(backbone: backbone, classification: cls, regression: reg, numClasses: numClasses)
    return try Architecture(name: "ssd300_vgg16", inputShape: [3, 300, 300], root: root)
}

// SSDLite — M. Sandler, A. Howard, M. Zhu, A. Zhmoginov, L.-C. Chen, "MobileNetV2: Inverted
// Residuals and Linear Bottlenecks", arXiv:1801.04381 (CVPR 2018), §6.3 (SSDLite: the SSD
// heads' 3×3 convolutions replaced by depthwise separable ones), on A. Howard et al.,
// "Searching for MobileNetV3", arXiv:1905.02244 (ICCV 2019), Table 1 (MobileNetV3-Large) and
// §6.1.2 (detection: the C4 feature taken at the expansion of the 13th block, the last
// stage's channels halved — "reduced tail").
//
// torchvision's `ssdlite320_mobilenet_v3_large` layout, in the configuration of its COCO
// checkpoint (built without backbone weights, so reduced_tail=True; batch norm eps 0.001):
// - `backbone.features.0`: MobileNetV3-Large's stem and inverted residual blocks 1…12, then
//   `13`: block 13's expansion (1×1 conv 112→672, BN, hardswish) — the 20×20 map;
// - `backbone.features.1`: `0` the rest of block 13 (children `1` depthwise 5×5/2, `2`
//   squeeze-excitation, `3` projection to 80), blocks 14 and 15 (`1`, `2`), and `3` the last
//   1×1 conv to 480 channels with hardswish — the 10×10 map;
// - `backbone.extra.0…3`: 1×1 conv to half, depthwise 3×3/2, 1×1 conv (each with BN and
//   ReLU6) to 512, 256, 256, 128 channels: 5×5, 3×3, 2×2, 1×1;
// - heads: per map a depthwise 3×3 conv + BN + ReLU6 (`module_list.k.0`) then a 1×1 conv with
//   bias (`module_list.k.1`) to 6·K channels (6 default boxes per position).
// Inverted residual blocks: 1×1 expansion (when the expansion differs from the input), k×k
// depthwise with the stride, squeeze-excitation (average pool, `fc1` 1×1 conv to
// make_divisible(expanded/4, 8) channels, ReLU, `fc2`, hardsigmoid, times the input) where
// Table 1 has SE, 1×1 projection without activation; the input is added when the stride is 1
// and the channels do not change. Output: [N, 3234, 4 + K] as for ssd300_vgg16.
// Deviations: none in the network (the paper's MobileNetV3 SSDLite uses a 320×320 input and
// these feature maps too; torchvision's head initialisation is not used: seeded weights).

/// One row of MobileNetV3-Large's Table 1 (torchvision's bneck_conf).
private struct Bneck {
    var input: Int, kernel: Int, expanded: Int, out: Int, se: Bool, hardswish: Bool, stride: Int
}

/// MobileNetV3-Large's blocks with the reduced tail (the last stage at half width).
private let mobilenetV3LargeReduced: [Bneck] = [
    Bneck(input: 16, kernel: 3, expanded: 16, out: 16, se: false, hardswish: false, stride: 1),
    Bneck(input: 16, kernel: 3, expanded: 64, out: 24, se: false, hardswish: false, stride: 2),
    Bneck(input: 24, kernel: 3, expanded: 72, out: 24, se: false, hardswish: false, stride: 1),
    Bneck(input: 24, kernel: 5, expanded: 72, out: 40, se: true, hardswish: false, stride: 2),
    Bneck(input: 40, kernel: 5, expanded: 120, out: 40, se: true, hardswish: false, stride: 1),
    Bneck(input: 40, kernel: 5, expanded: 120, out: 40, se: true, hardswish: false, stride: 1),
    Bneck(input: 40, kernel: 3, expanded: 240, out: 80, se: false, hardswish: true, stride: 2),
    Bneck(input: 80, kernel: 3, expanded: 200, out: 80, se: false, hardswish: true, stride: 1),
    Bneck(input: 80, kernel: 3, expanded: 184, out: 80, se: false, hardswish: true, stride: 1),
    Bneck(input: 80, kernel: 3, expanded: 184, out: 80, se: false, hardswish: true, stride: 1),
    Bneck(input: 80, kernel: 3, expanded: 480, out: 112, se: true, hardswish: true, stride: 1),
    Bneck(input: 112, kernel: 3, expanded: 672, out: 112, se: true, hardswish: true, stride: 1),
    Bneck(input: 112, kernel: 5, expanded: 672, out: 80, se: true, hardswish: true, stride: 2),
    Bneck(input: 80, kernel: 5, expanded: 480, out: 80, se: true, hardswish: true, stride: 1),
    Bneck(input: 80, kernel: 5, expanded: 480, out: 80, se: true, hardswish: true, stride: 1),
]

/// torchvision's _make_divisible(v, 8): the nearest multiple of 8 at least 90% of v.
private func makeDivisible8(_ v: Int) -> Int {
    var n = max(8, (v + 4) / 8 * 8)
    if Double(n) < 0.9 * Double(v) { n += 8 }
    return n
}

/// Conv2dNormActivation: conv (no bias, padding (k−1)/2), BN (eps 0.001), activation.
private func convBNAct(_ i: Int, _ o: Int, kernel: Int, stride: Int = 1, groups: Int = 1, _ act: Layer?) -> Layer {
    var layers: [Layer] = [
        .conv2d(ConvSpec(i, o, kernel: Size2D(kernel), stride: Size2D(stride), padding: Padding2D((kernel - 1) / 2),
                         groups: groups, bias: false)),
        .batchNorm2d(channels: o, eps: 0.001),
    ]
    if let act { layers.append(act) }
    return .sequential(numbered(layers))
}

private let hardswish = Layer.unary(.hardswish)
private let relu6 = Layer.unary(.clip(min: 0, max: 6))

/// Squeeze-excitation: x · hardsigmoid(fc2(relu(fc1(avgpool(x))))).
private func squeezeExcitation(_ channels: Int) throws -> Layer {
    let squeeze = makeDivisible8(channels / 4)
    return .graph(try Graph(
        inputs: ["x"],
        nodes: [
            GraphNode("avgpool", .adaptiveAvgPool2d(Size2D(1)), inputs: ["x"]),
            GraphNode("fc1", .conv2d(ConvSpec(channels, squeeze, kernel: 1)), inputs: ["avgpool"]),
            GraphNode("relu", .relu, inputs: ["fc1"]),
            GraphNode("fc2", .conv2d(ConvSpec(squeeze, channels, kernel: 1)), inputs: ["relu"]),
            GraphNode("scale_activation", .unary(.hardsigmoid(alpha: 1.0 / 6.0, beta: 0.5)), inputs: ["fc2"]),
            GraphNode("scale", .binary(.mul), inputs: ["x", "scale_activation"]),
        ],
        outputs: ["scale"], context: "squeeze-excitation"))
}

/// The layers of an inverted residual block's `block`, keyed as torchvision numbers them.
private func invertedResidualLayers(_ b: Bneck) throws -> [NamedLayer] {
    let act = b.hardswish ? hardswish : Layer.relu
    var layers: [Layer] = []
    if b.expanded != b.input { layers.append(convBNAct(b.input, b.expanded, kernel: 1, act)) }
    layers.append(convBNAct(b.expanded, b.expanded, kernel: b.kernel, stride: b.stride, groups: b.expanded, act))
    if b.se { layers.append(try squeezeExcitation(b.expanded)) }
    layers.append(convBNAct(b.expanded, b.out, kernel: 1, nil))
    return numbered(layers)
}

/// An inverted residual block (`block` plus the input when stride 1 and channels kept).
private func invertedResidual(_ b: Bneck) throws -> Layer {
    let block = Layer.sequential(try invertedResidualLayers(b))
    guard b.stride == 1 && b.input == b.out else { return .sequential([NamedLayer("block", block)]) }
    return .graph(try Graph(
        inputs: ["x"],
        nodes: [GraphNode("block", block, inputs: ["x"]), GraphNode("add", .binary(.add), inputs: ["x", "block"])],
        outputs: ["add"], context: "inverted residual"))
}

/// `ssdlite320_mobilenet_v3_large`: torchvision's SSDLite on MobileNetV3-Large (see the
/// comment above), `numClasses` including the background class 0 (91 for COCO).
func ssdlite320MobileNetV3LargeArchitecture(numClasses: Int = 91) throws -> Architecture {
    let blocks = mobilenetV3LargeReduced
    // features.0: stem, blocks 1…12 (indices 1…12), block 13's expansion (index 13)
    var f0: [Layer] = [convBNAct(3, 16, kernel: 3, stride: 2, hardswish)]
    for b in blocks[0..<12] { f0.append(try invertedResidual(b)) }
    let c4 = blocks[12]
    f0.append(convBNAct(c4.input, c4.expanded, kernel: 1, hardswish))
    // features.1: the rest of block 13 (children 1, 2, 3), blocks 14 and 15, the last conv
    let rest = Array(try invertedResidualLayers(c4).dropFirst()).enumerated().map {
        NamedLayer(String($0.offset + 1), $0.element.layer)
    }
    var f1: [Layer] = [.sequential(rest)]
    for b in blocks[13...] { f1.append(try invertedResidual(b)) }
    f1.append(convBNAct(80, 480, kernel: 1, hardswish))
    let features = try Graph(
        inputs: ["x"],
        nodes: [GraphNode("0", .sequential(numbered(f0)), inputs: ["x"]),
                GraphNode("1", .sequential(numbered(f1)), inputs: ["0"])],
        outputs: ["0", "1"], context: "features")
    let extraChannels = [(480, 512), (512, 256), (256, 256), (256, 128)]
    let extra = try Graph(
        inputs: ["x"],
        nodes: extraChannels.enumerated().map { k, io in
            let mid = io.1 / 2
            return GraphNode(String(k), .sequential(numbered([
                convBNAct(io.0, mid, kernel: 1, relu6),
                convBNAct(mid, mid, kernel: 3, stride: 2, groups: mid, relu6),
                convBNAct(mid, io.1, kernel: 1, relu6),
            ])), inputs: [k == 0 ? "x" : String(k - 1)])
        },
        outputs: extraChannels.indices.map { String($0) }, context: "extra")
    let backbone = try Graph(
        inputs: ["x"],
        nodes: [GraphNode("features", .graph(features), inputs: ["x"]),
                GraphNode("extra", .graph(extra), inputs: ["features:1"])],
        outputs: ["features:0", "features:1"] + extraChannels.indices.map { "extra:\($0)" }, context: "backbone")
    let channels = [672, 480, 512, 256, 256, 128]
    func prediction(_ c: Int, _ out: Int) -> Layer {
        .sequential(numbered([convBNAct(c, c, kernel: 3, groups: c, relu6), .conv2d(ConvSpec(c, out, kernel: 1))]))
    }
    let perBox = try Checked.mul(6, numClasses, "ssdlite320_mobilenet_v3_large: head channels")
    let root = try ssdNetwork(backbone: backbone, classification: channels.map { prediction($0, perBox) },
                              regression: channels.map { prediction($0, 24) }, numClasses: numClasses)
    return try Architecture(name: "ssdlite320_mobilenet_v3_large", inputShape: [3, 320, 320], root: root)
}
