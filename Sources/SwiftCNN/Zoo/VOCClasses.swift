/// The 21 PASCAL VOC classes (M. Everingham et al., "The PASCAL Visual Object Classes (VOC)
/// Challenge", IJCV 2010), with background as class 0: the order of torchvision's
/// segmentation models (`fcn_resnet50`, `deeplabv3_resnet50` and their COCO-with-VOC-labels
/// weights), so index `i` names output channel `i`.
public enum VOC {
    /// "background", "aeroplane", …, "tvmonitor".
    public static let classes: [String] = [
        "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
        "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
    ]
}
