// Semantic segmentation models: a label per pixel.
//
// - FCN — J. Long, E. Shelhamer, T. Darrell, "Fully Convolutional Networks for Semantic
//   Segmentation", CVPR 2015 (arXiv:1411.4038).
// - DeepLabv3 — L.-C. Chen, G. Papandreou, F. Schroff, H. Adam, "Rethinking Atrous
//   Convolution for Semantic Image Segmentation", arXiv:1706.05587 (2017).
//
// torchvision's layout (`torchvision.models.segmentation.fcn_resnet50` and
// `deeplabv3_resnet50`), so that their state_dicts load as they are:
// - `backbone`: ResNet-50 (Zoo/ResNet.swift's bottlenecks) up to layer4, without avgpool/fc,
//   with torchvision's `replace_stride_with_dilation=[False, True, True]`: layer3 and layer4
//   keep stride 1 (their downsample is a 1×1 stride-1 projection) and dilate their 3×3
//   convolutions instead — layer3: 1 in its first block, 2 after; layer4: 2, then 4 — so the
//   features have stride 8 (output stride 8) rather than 32.
// - `classifier`: FCN's head is torchvision's FCNHead(2048): 3×3 conv to 512 (no bias), batch
//   norm, ReLU, dropout 0.1, 1×1 conv to the classes. DeepLabv3's is ASPP (`classifier.0`:
//   `convs.0` 1×1, `convs.1…3` 3×3 at atrous rates 12, 24, 36, `convs.4` image pooling —
//   global average, 1×1 conv, batch norm, ReLU, bilinearly resized back to the feature
//   map's size — each 256 channels, concatenated, `project`: 1×1 to 256, batch norm, ReLU,
//   dropout 0.5), then a 3×3 conv (no bias), batch norm, ReLU and a 1×1 conv to the classes.
// - The class scores are resized bilinearly (align_corners false) to the input's height
//   and width (graph node `out`, an ``Layer/upsampleLike(_:)`` of the head's output to the
//   input), for any input size, as torchvision's forward does.
// - The auxiliary head (`aux_classifier`: FCNHead(1024) on layer3, resized the same way, the
//   second output `aux`) is built by the `_aux` names (`fcn_resnet50_aux`,
//   `deeplabv3_resnet50_aux`), whose state dict matches torchvision's `aux_loss=True` models
//   (the COCO checkpoints have its keys). A checkpoint with aux keys also loads into the
//   plain model non-strictly (the aux keys are then ignored). The first output is always `out`.
// Deviations from the papers (all torchvision's): FCN here is FCN-32s-like on a dilated
// ResNet-50 (output stride 8, one bilinear upsampling) rather than the paper's VGG-16 with
// learned deconvolutions and skip layers (FCN-8s); DeepLabv3 uses output stride 8 at
// inference with rates (12, 24, 36) (the paper's multi-grid and output-stride 16 training
// are not modelled), no multi-scale or flipped inputs. Batch norm eps 1e-5. Dropout is the
// identity at inference. Designed for 520×520 inputs (torchvision's preset); any input of
// at least 1×1 runs.

/// A torchvision FCNHead: 3×3 conv to in/4 (no bias), BN, ReLU, dropout 0.1, 1×1 conv with bias.
private func fcnHead(_ inC: Int, _ classes: Int) -> Layer {
    let mid = inC / 4
    return .sequential(numbered([
        .conv2d(ConvSpec(inC, mid, kernel: 3, padding: 1, bias: false)),
        .batchNorm2d(channels: mid, eps: 1e-5), .relu, .dropout(p: 0.1),
        .conv2d(ConvSpec(mid, classes, kernel: 1, bias: true)),
    ]))
}

/// conv (no bias) → BN → ReLU, numbered like a torch Sequential.
private func convBNReLU(_ inC: Int, _ outC: Int, kernel: Int, dilation: Int = 1) -> [NamedLayer] {
    numbered([
        .conv2d(ConvSpec(inC, outC, kernel: Size2D(kernel), padding: Padding2D(kernel == 1 ? 0 : dilation),
                         dilation: Size2D(dilation), bias: false)),
        .batchNorm2d(channels: outC, eps: 1e-5), .relu,
    ])
}

/// torchvision's DeepLabHead(2048, classes): ASPP (rates 12, 24, 36) → 3×3 conv → BN → ReLU → 1×1 conv.
private func deeplabHead(_ inC: Int, _ classes: Int) throws -> Layer {
    let out = 256
    var convs: [NamedLayer] = [NamedLayer("0", .sequential(convBNReLU(inC, out, kernel: 1)))]
    for (i, rate) in [12, 24, 36].enumerated() {
        convs.append(NamedLayer(String(i + 1), .sequential(convBNReLU(inC, out, kernel: 3, dilation: rate))))
    }
    // Image pooling: a graph, because its result is resized to its own input's size.
    var pooling: [GraphNode] = [GraphNode("0", .adaptiveAvgPool2d(Size2D(1)), inputs: ["x"])]
    for (i, l) in convBNReLU(inC, out, kernel: 1).enumerated() {
        pooling.append(GraphNode(String(i + 1), l.layer, inputs: [String(i)]))
    }
    pooling.append(GraphNode("resize", .upsampleLike(.bilinear(alignCorners: false)), inputs: ["3", "x"]))
    let poolGraph = try Graph(inputs: ["x"], nodes: pooling, outputs: ["resize"], context: "ASPP pooling")
    convs.append(NamedLayer("4", .graph(poolGraph)))
    let aspp = Layer.sequential([
        NamedLayer("convs", .concat(convs)),
        NamedLayer("project", .sequential(numbered([
            .conv2d(ConvSpec(5 * out, out, kernel: 1, bias: false)),
            .batchNorm2d(channels: out, eps: 1e-5), .relu, .dropout(p: 0.5),
        ]))),
    ])
    return .sequential(numbered([
        aspp,
        .conv2d(ConvSpec(out, out, kernel: 3, padding: 1, bias: false)),
        .batchNorm2d(channels: out, eps: 1e-5), .relu,
        .conv2d(ConvSpec(out, classes, kernel: 1, bias: true)),
    ]))
}

/// The dilated ResNet-50 backbone as a graph with outputs layer4 (and layer3 with `aux`).
private func dilatedResNet50(aux: Bool) throws -> Layer {
    var nodes: [GraphNode] = [
        GraphNode("conv1", .conv2d(ConvSpec(3, 64, kernel: 7, stride: 2, padding: 3, bias: false)), inputs: ["x"]),
        GraphNode("bn1", .batchNorm2d(channels: 64, eps: 1e-5), inputs: ["conv1"]),
        GraphNode("relu", .relu, inputs: ["bn1"]),
        GraphNode("maxpool", .maxPool2d(PoolSpec(kernel: 3, stride: 2, padding: 1)), inputs: ["relu"]),
    ]
    var inC = 64
    var dilation = 1
    var previous = "maxpool"
    for (stage, count) in [3, 4, 6, 3].enumerated() {
        let planes = 64 << stage
        let dilate = stage >= 2  // replace_stride_with_dilation = [False, True, True]
        let firstDilation = dilation
        var stride = stage > 0 ? 2 : 1
        if dilate {
            dilation *= stride
            stride = 1
        }
        var blocks: [NamedLayer] = []
        for b in 0..<count {
            blocks.append(NamedLayer(String(b), bottleneck(inC, planes, stride: b == 0 ? stride : 1,
                                                           dilation: b == 0 ? firstDilation : dilation)))
            inC = planes * 4
        }
        let name = "layer\(stage + 1)"
        nodes.append(GraphNode(name, .sequential(blocks), inputs: [previous]))
        previous = name
    }
    return .graph(try Graph(inputs: ["x"], nodes: nodes, outputs: aux ? ["layer4", "layer3"] : ["layer4"],
                            context: "backbone"))
}

/// `fcn_resnet50`, `fcn_resnet50_aux`, `deeplabv3_resnet50`, `deeplabv3_resnet50_aux` (see
/// the file comment) with `numClasses` classes (21, VOC's, by default); nil for any other name.
/// Outputs: `out` [N, classes, H, W] at the input's size, then `aux` for the `_aux` names.
public func segmentationArchitecture(_ name: String, numClasses: Int = 21) throws -> Architecture? {
    let aux = name.hasSuffix("_aux")
    let base = aux ? String(name.dropLast(4)) : name
    let head: Layer
    switch base {
    case "fcn_resnet50": head = fcnHead(2048, numClasses)
    case "deeplabv3_resnet50": head = try deeplabHead(2048, numClasses)
    default: return nil
    }
    let resize = Layer.upsampleLike(.bilinear(alignCorners: false))
    var nodes: [GraphNode] = [
        GraphNode("backbone", try dilatedResNet50(aux: aux), inputs: ["input"]),
        GraphNode("classifier", head, inputs: ["backbone:0"]),
        GraphNode("out", resize, inputs: ["classifier", "input"]),
    ]
    var outputs = ["out"]
    if aux {
        nodes.append(GraphNode("aux_classifier", fcnHead(1024, numClasses), inputs: ["backbone:1"]))
        nodes.append(GraphNode("aux", resize, inputs: ["aux_classifier", "input"]))
        outputs.append("aux")
    }
    let graph = try Graph(inputs: ["input"], nodes: nodes, outputs: outputs, context: name)
    return try Architecture(name: name, inputShape: [3, 520, 520], acceptsAnyInputSize: true, root: .graph(graph))
}
