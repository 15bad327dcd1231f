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
