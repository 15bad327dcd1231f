// An in-memory dataset: seeded shuffling, mini-batches and light augmentation, all drawn
// from the counter-based generator of ``SeededInit`` so that Python can replicate them.

/// Light, seeded data augmentation applied per example when a batch is assembled.
public struct Augmentation: Sendable, Equatable {
    /// Random crop with zero padding: the image is padded by this many zero pixels on every
    /// side and an H×W window is cut at a random offset (0 disables).
    public var cropPadding = 0
    /// Random horizontal flip with probability 1/2.
    public var horizontalFlip = false

    /// A configuration.
    public init(cropPadding: Int = 0, horizontalFlip: Bool = false) {
        self.cropPadding = cropPadding
        self.horizontalFlip = horizontalFlip
    }

    /// No augmentation.
    public static let none = Augmentation()

    /// Whether it changes anything.
    var isIdentity: Bool { cropPadding == 0 && !horizontalFlip }
}

/// Images [N, C, H, W] with one integer label per image, in memory.
public struct Dataset {
    /// The images, [N, C, H, W].
    public let images: Tensor
    /// The labels, N of them.
    public let labels: [Int32]

    /// A dataset; `images` must be [N, C, H, W] with N = `labels.count`. Labels are checked
    /// against the model's classes when used.
    public init(images: Tensor, labels: [Int32]) throws {
        guard images.rank == 4 else {
            throw SwiftCNNError.invalidArgument("dataset: images must be [N, C, H, W]; got \(Tensor.describe(images.shape))")
        }
        guard images.shape[0] == labels.count else {
            throw SwiftCNNError.shapeMismatch("dataset: \(images.shape[0]) images but \(labels.count) labels")
        }
        self.images = images
        self.labels = labels
    }

    /// Number of examples.
    public var count: Int { labels.count }

    /// The order in which an epoch visits the examples: a permutation of 0..<count.
    ///
    /// With `shuffle`, a Fisher–Yates shuffle from the end of the identity permutation `a`:
    ///
    ///     s = seed &+ UInt64(epoch)                       (wrapping add)
    ///     for i in count−1 down to 1:
    ///         j = SeededInit.bits(name: "shuffle", seed: s, index: i) % (i + 1)   (UInt64 remainder)
    ///         swap a[i], a[j]
    ///
    /// (numpy: `bits` as in scripts/weightgen.py). Without `shuffle`, 0, 1, …, count−1.
    public func order(epoch: Int, seed: UInt64, shuffle: Bool) -> [Int] {
        var a = Array(0..<count)
        guard shuffle, count > 1 else { return a }
        let s = seed &+ UInt64(truncatingIfNeeded: epoch)
        for i in stride(from: count - 1, through: 1, by: -1) {
            let j = Int(SeededInit.bits(name: "shuffle", seed: s, index: i) % UInt64(i + 1))
            a.swapAt(i, j)
        }
        return a
    }

    /// The examples at `indices` as a batch [B, C, H, W] with their labels, augmented.
    ///
    /// Augmentation of example e (its index in the dataset) draws, with P = cropPadding:
    ///
    ///     dy = bits(name: "crop_y", seed: seed, index: e) % (2P + 1)
    ///     dx = bits(name: "crop_x", seed: seed, index: e) % (2P + 1)
    ///     flip = bits(name: "flip", seed: seed, index: e) & 1 == 1      (when horizontalFlip)
    ///
    /// and out[c, y, x] = in[c, y + dy − P, x' + dx − P] (0 outside the image) with
    /// x' = W − 1 − x when flipped, else x: the crop of the zero-padded image, then the flip
    /// (torchvision's RandomCrop(padding=P) followed by RandomHorizontalFlip). ``Trainer``
    /// passes seed = config.seed &+ UInt64(epoch).
    public func batch(indices: ArraySlice<Int>, augmentation: Augmentation, seed: UInt64) throws -> (images: Tensor, labels: [Int32]) {
        guard !indices.isEmpty else { throw SwiftCNNError.invalidArgument("dataset: empty batch") }
        for i in indices where i < 0 || i >= count {
            throw SwiftCNNError.invalidArgument("dataset: index \(i) is outside 0..<\(count)")
        }
        let pad = augmentation.cropPadding
        guard pad >= 0 && pad <= 1 << 20 else {
            throw SwiftCNNError.invalidArgument("dataset: crop padding must be in 0...\(1 << 20); got \(pad)")
        }
        let (c, h, w) = (images.shape[1], images.shape[2], images.shape[3])
        let per = c * h * w
        var out = try Tensor(uninitialized: [indices.count, c, h, w])
        var labelsOut: [Int32] = []
        labelsOut.reserveCapacity(indices.count)
        images.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointerUnchecked { dst in
                for (b, e) in indices.enumerated() {
                    labelsOut.append(labels[e])
                    let from = e * per, to = b * per
                    if augmentation.isIdentity {
                        for t in 0..<per { dst[to + t] = src[from + t] }
                        continue
                    }
                    let range = UInt64(2 * pad + 1)
                    let dy = pad > 0 ? Int(SeededInit.bits(name: "crop_y", seed: seed, index: e) % range) - pad : 0
                    let dx = pad > 0 ? Int(SeededInit.bits(name: "crop_x", seed: seed, index: e) % range) - pad : 0
                    let flip = augmentation.horizontalFlip && SeededInit.bits(name: "flip", seed: seed, index: e) & 1 == 1
                    for ch in 0..<c {
                        for y in 0..<h {
                            let sy = y + dy
                            let rowOut = to + (ch * h + y) * w
                            guard sy >= 0 && sy < h else {
                                for x in 0..<w { dst[rowOut + x] = 0 }
                                continue
                            }
                            let rowIn = from + (ch * h + sy) * w
                            for x in 0..<w {
                                let sx = (flip ? w - 1 - x : x) + dx
                                dst[rowOut + x] = sx >= 0 && sx < w ? src[rowIn + sx] : 0
                            }
                        }
                    }
                }
            }
        }
        return (out, labelsOut)
    }
}
