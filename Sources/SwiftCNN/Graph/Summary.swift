/// A per-layer table of a model, like Keras' `model.summary()`: for every layer its name
/// (the torchvision module path), type, output shape, number of trainable parameters,
/// multiply-accumulates and receptive field, with totals.
///
/// - Parameters count trainable parameters only (batch-norm running statistics are
///   buffers), so ``totalParameters`` equals ``Model/numParameters``.
/// - MACs are per example (one image of the batch): out_channels × in_channels × kh × kw ×
///   out_h × out_w for convolutions, in × out for linear layers, and LeNet-5's own layers
///   (C3's connections, one multiply per output of S2/S4, classes × features for the RBF).
///   Activations, pooling, normalization and additions count 0.
/// - The receptive field is the height × width of the input region one output position
///   sees: r ← r + (k − 1)·j, j ← j·s through the layers, the maximum over parallel
///   branches; an adaptive pool counts as its largest window with stride ⌊in/out⌋. After a
///   linear layer every output sees the whole input ("all").
/// - Residual additions and Inception concatenations get rows of their own
///   ("Add+ReLU", "Concat") after their branches' layers.
public struct ModelSummary {
    /// One row of the table.
    public struct Row: Equatable, Sendable {
        /// Module path, e.g. `layer1.0.conv1`.
        public var name: String
        /// Layer type, e.g. `Conv2d`.
        public var type: String
        /// Output shape including the batch axis.
        public var outputShape: [Int]
        /// Trainable parameters of this layer.
        public var parameters: Int
        /// Multiply-accumulates per example.
        public var macs: Int
        /// Receptive field (height, width) in input pixels; nil for "the whole input".
        public var receptiveField: Size2D?
    }

    /// The model's name.
    public var modelName: String
    /// The input shape summarized.
    public var inputShape: [Int]
    /// The rows, in forward order.
    public var rows: [Row]
    /// Σ of the rows' parameters.
    public var totalParameters: Int
    /// Σ of the rows' MACs (per example).
    public var totalMACs: Int

    /// A row's time in a profile (``Model/summary(profile:)``).
    public struct Timing: Equatable, Sendable {
        /// The kernel that ran the row's node.
        public var kernel: String
        /// Median milliseconds.
        public var milliseconds: Double
        /// Share of the profile's total, 0 to 1.
        public var share: Double
    }

    /// Per row name, its time from a profile; when set, ``text`` adds "Kernel", "ms" and
    /// "Share" columns ("-" for rows without a node of their own). Nil by default.
    public var timings: [String: Timing]? = nil

    /// The summary of `architecture` for `inputShape` (default: nominal, batch 1); the
    /// input shape is validated like ``Model/forward(_:)``'s.
    public init(_ architecture: Architecture, inputShape: [Int]? = nil) throws {
        let shape = inputShape ?? architecture.nominalInputShape(batch: 1)
        let (walker, _) = try architecture.walk(inputShape: shape, recordRows: true)
        modelName = architecture.name
        self.inputShape = shape
        rows = walker.rows.map {
            Row(name: $0.name, type: $0.type, outputShape: [shape[0]] + $0.shape, parameters: $0.params,
                macs: $0.macs, receptiveField: $0.rf)
        }
        totalParameters = try rows.reduce(0) { try Checked.add($0, $1.parameters, "parameter total") }
        totalMACs = try rows.reduce(0) { try Checked.add($0, $1.macs, "MAC total") }
    }

    /// The table as text.
    public var text: String {
        var header = ["Layer (type)", "Output shape", "Param #", "MACs", "Receptive field"]
        if timings != nil { header += ["Kernel", "ms", "Share"] }
        var cells: [[String]] = rows.map { r in
            let rf: String
            if let f = r.receptiveField { rf = f.h == f.w ? "\(f.h)" : "\(f.h)×\(f.w)" } else { rf = "all" }
            var row = ["\(r.name) (\(r.type))", Tensor.describe(r.outputShape), ModelSummary.grouped(r.parameters),
                       ModelSummary.grouped(r.macs), rf]
            if let timings {
                if let t = timings[r.name] {
                    row += [t.kernel, ModelProfile.fixed(t.milliseconds, 3), ModelProfile.fixed(t.share * 100, 1) + "%"]
                } else {
                    row += ["-", "-", "-"]
                }
            }
            return row
        }
        cells.insert(header, at: 0)
        var widths = [Int](repeating: 0, count: header.count)
        for row in cells { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count) } }
        let rightAligned: Set<Int> = [2, 3, 4, 6, 7]
        func line(_ row: [String]) -> String {
            var s = ""
            for (i, c) in row.enumerated() {
                let pad = String(repeating: " ", count: widths[i] - c.count)
                s += rightAligned.contains(i) ? pad + c : c + pad
                if i < row.count - 1 { s += "  " }
            }
            while s.hasSuffix(" ") { s.removeLast() }
            return s
        }
        let total = widths.reduce(0, +) + 2 * (widths.count - 1)
        var out = "Model: \(modelName)    input \(Tensor.describe(inputShape))\n"
        out += String(repeating: "=", count: total) + "\n"
        out += line(header) + "\n"
        out += String(repeating: "=", count: total) + "\n"
        for row in cells.dropFirst() { out += line(row) + "\n" }
        out += String(repeating: "=", count: total) + "\n"
        out += "Total params: \(ModelSummary.grouped(totalParameters))\n"
        out += "Total MACs per example: \(ModelSummary.grouped(totalMACs))\n"
        if let timings {
            let ms = timings.values.reduce(0) { $0 + $1.milliseconds }
            out += "Profiled time (Σ node medians): \(ModelProfile.fixed(ms, 3)) ms\n"
        }
        return out
    }

    /// 1234567 → "1,234,567".
    public static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return n < 0 ? "-" + out : out
    }
}

extension ModelSummary: CustomStringConvertible {
    /// ``text``.
    public var description: String { text }
}
