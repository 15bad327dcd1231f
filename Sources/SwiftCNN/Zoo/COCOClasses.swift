/// The 91 COCO category names in torchvision's detection numbering, index = label
/// (`torchvision.models.detection.SSD300_VGG16_Weights.COCO_V1.meta["categories"]`): label 0
/// is the background ("__background__"), and the ids COCO 2017 leaves unused are "N/A" — the
/// order of the class logits of the zoo's detectors built with 91 classes and loaded with
/// torchvision's COCO weights.
public enum COCO {
    /// The names; `classes[i]` names label i.
    public static let classes: [String] = [
        "__background__", "person", "bicycle", "car", "motorcycle", "airplane",
        "bus", "train", "truck", "boat", "traffic light", "fire hydrant",
        "N/A", "stop sign", "parking meter", "bench", "bird", "cat",
        "dog", "horse", "sheep", "cow", "elephant", "bear",
        "zebra", "giraffe", "N/A", "backpack", "umbrella", "N/A",
        "N/A", "handbag", "tie", "suitcase", "frisbee", "skis",
        "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard",
        "surfboard", "tennis racket", "bottle", "N/A", "wine glass", "cup",
        "fork", "knife", "spoon", "bowl", "banana", "apple",
        "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza",
        "donut", "cake", "chair", "couch", "potted plant", "bed",
        "N/A", "dining table", "N/A", "N/A", "toilet", "N/A",
        "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
        "microwave", "oven", "toaster", "sink", "refrigerator", "N/A",
        "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
        "toothbrush",
    ]

    /// The name of label `index`, or nil outside 0..<91.
    public static func label(_ index: Int) -> String? {
        classes.indices.contains(index) ? classes[index] : nil
    }
}
