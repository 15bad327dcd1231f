/// The model zoo: every model by name.
///
/// | name | paper | input | parameters (default classes) |
/// |---|---|---|---|
/// | lenet5 | LeCun et al. 1998 (modern rendering) | 1×32×32 | 61,706 (10) |
/// | lenet5_original | LeCun et al. 1998 as published | 1×32×32 | 60,000 (10) |
/// | alexnet | Krizhevsky et al. 2012, torchvision | 3×224×224 (≥ 63) | 61,100,840 |
/// | alexnet_lrn | Krizhevsky et al. 2012, the seed's table | 3×227×227 | 62,378,344 |
/// | alexnet_grouped | Krizhevsky et al. 2012, two-GPU split as groups = 2 (conv2, conv4, conv5) | 3×227×227 | 60,965,224 |
/// | vgg11, vgg11_lrn, vgg13, vgg16_c, vgg16, vgg19 | Simonyan & Zisserman 2014, A, A-LRN, B, C, D, E | 3×224×224 (≥ 32) | 132,863,336; 132,863,336; 133,047,848; 133,638,952; 138,357,544; 143,667,240 |
/// | vgg11_bn, vgg13_bn, vgg16_bn, vgg19_bn | torchvision's batch-normed VGG | 3×224×224 (≥ 32) | 132,868,840; 133,053,736; 138,365,992; 143,678,248 |
/// | googlenet | Szegedy et al. 2014, torchvision | 3×224×224 | 6,624,904 |
/// | googlenet_original | Szegedy et al. 2014 as published (5×5 branches, LRN, no BN, 2 auxiliary classifiers, training only) | 3×224×224 | 13,378,280 (6,998,552 without the auxiliary heads; the paper's table: ≈6.8M) |
/// | resnet18 … resnet152 | He et al. 2015, torchvision | 3×224×224 | 11,689,512; 21,797,672; 25,557,032; 44,549,160; 60,192,808 |
/// | fcn_resnet50, fcn_resnet50_aux | Long et al. 2015, torchvision (segmentation, output [N, classes, H, W]) | 3×520×520 (any) | 32,957,013; 35,322,218 (21) |
/// | deeplabv3_resnet50, deeplabv3_resnet50_aux | Chen et al. 2017, torchvision (segmentation) | 3×520×520 (any) | 39,638,869; 42,004,074 (21) |
/// | ssd300_vgg16 | Liu et al. 2016, torchvision (a detector: outputs [N, 8732, 4 + classes]) | 3×300×300 | 35,641,826 (91) |
/// | ssdlite320_mobilenet_v3_large | Sandler et al. 2018, Howard et al. 2019, torchvision (outputs [N, 3234, 4 + classes]) | 3×320×320 | 3,440,060 (91) |
///
/// Parameter names are torchvision's state_dict keys, so torchvision weights saved with
/// safetensors load as they are.
public enum Zoo {
    /// Every model name, in a stable order.
    public static let names: [String] = [
        "lenet5", "lenet5_original",
        "alexnet", "alexnet_lrn",
        "vgg11", "vgg11_lrn", "vgg13", "vgg16_c", "vgg16", "vgg19",
        "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn",
        "googlenet",
        "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
        "alexnet_grouped", "googlenet_original",
        "fcn_resnet50", "fcn_resnet50_aux", "deeplabv3_resnet50", "deeplabv3_resnet50_aux",
        "ssd300_vgg16", "ssdlite320_mobilenet_v3_large",
    ]

    /// The class count a model has when none is given: 10 for the LeNets, 21 (PASCAL VOC)
    /// for the segmentation models, 91 (COCO's numbering, background included) for the
    /// detectors, 1000 (ImageNet) otherwise.
    public static func defaultNumClasses(_ name: String) -> Int {
        if name.hasPrefix("ssd") { return 91 }
        if name.hasPrefix("fcn_") || name.hasPrefix("deeplabv3_") { return 21 }
        return name.hasPrefix("lenet") ? 10 : 1000
    }

    /// The structure of model `name` with `numClasses` outputs (default:
    /// ``defaultNumClasses(_:)``). Errors: `.invalidArgument` for an unknown name (the
    /// message lists the names) or a class count below 1 or too large to count.
    public static func architecture(_ name: String, numClasses: Int? = nil) throws -> Architecture {
        let classes = numClasses ?? defaultNumClasses(name)
        guard classes >= 1 else {
            throw SwiftCNNError.invalidArgument("\(name): num_classes must be at least 1; got \(classes)")
        }
        let arch: Architecture?
        switch name {
        case "lenet5": arch = lenet5Architecture(numClasses: classes)
        case "lenet5_original": arch = lenet5OriginalArchitecture(numClasses: classes)
        case "alexnet": arch = alexnetArchitecture(numClasses: classes)
        case "alexnet_lrn": arch = alexnetLRNArchitecture(numClasses: classes)
        case "alexnet_grouped": arch = alexnetGroupedArchitecture(numClasses: classes)
        case "googlenet_original": arch = try googlenetOriginalArchitecture(numClasses: classes)
        case "googlenet": arch = googlenetArchitecture(numClasses: classes)
        case "ssd300_vgg16": arch = try ssd300VGG16Architecture(numClasses: classes)
        case "ssdlite320_mobilenet_v3_large": arch = try ssdlite320MobileNetV3LargeArchitecture(numClasses: classes)
        default:
            arch = try vggArchitecture(name, numClasses: classes) ?? resnetArchitecture(name, numClasses: classes)
                ?? segmentationArchitecture(name, numClasses: classes)
        }
        guard let arch else {
            throw SwiftCNNError.invalidArgument(
                "unknown model \"\(name)\"; the zoo has: \(names.joined(separator: ", "))")
        }
        // Counts overflow before any allocation could: report that as the argument's fault.
        _ = try arch.numParameters()
        return arch
    }

    /// A model with seeded weights (``SeededInit``, `seed`); see ``architecture(_:numClasses:)``
    /// for the errors, plus `.outOfMemory`.
    public static func create(_ name: String, numClasses: Int? = nil, seed: UInt64 = 0) throws -> Model {
        try Model(try architecture(name, numClasses: numClasses), seed: seed)
    }
}
