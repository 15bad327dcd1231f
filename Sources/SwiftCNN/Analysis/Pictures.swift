// Pictures of what a CNN learns: a conv layer's filters, a node's activation maps, the
// receptive field of one unit, detections and label maps. One implementation for every
// language: the C ABI (SwiftCNNC/PicturesAPI.swift), Python (swiftcnn.viz) and its command
// line are thin layers over these functions.
//
// Layout shared by the grid pictures (filters, activations) and the receptive field:
// a white background, a margin of ``Pictures/margin`` pixels on every side, a title in the
// built-in 5×7 font (black, `textScale` pixels per font pixel) at (margin, margin), and the
// content starting ``Pictures/titleGap`` pixels below the title, at
// x = margin, y = margin + 7·textScale + titleGap. Grid tiles are ``Pictures/gap`` pixel apart:
// tile (row r, column c) of tiles tw × th pixels (after enlarging) has its top-left pixel at
// (margin + c·(tw + gap), top + r·(th + gap)), filled row by row.

/// Builders of the analysis pictures (see the file comment for the shared layout).
public enum Pictures {
    /// Blank pixels around the content, on every side.
    public static let margin = 4
    /// Blank pixels between grid tiles.
    public static let gap = 1
    /// Blank pixels between the title line and the content.
    public static let titleGap = 4
    /// The background of grid and receptive-field pictures.
    public static let background = RGB.white
    /// The colour of titles and legend text.
    public static let ink = RGB.black

    /// A palette of 10 distinct colours for boxes, receptive-field layers and legends; entry
    /// i % 10 is used for class or layer i.
    public static let palette: [RGB] = [
        RGB(230, 25, 75), RGB(60, 180, 75), RGB(0, 130, 200), RGB(245, 130, 48), RGB(145, 30, 180),
        RGB(70, 200, 200), RGB(240, 50, 230), RGB(150, 190, 20), RGB(128, 0, 0), RGB(0, 0, 128),
    ]

    /// The palette colour for a class or layer index (negative indices use their magnitude).
    public static func paletteColor(_ i: Int) -> RGB {
        palette[Int(i.magnitude % UInt(palette.count))]
    }

    /// The PASCAL VOC colour of class `c` (VOC's palette rule: bits 0, 1 and 2 of c go to the
    /// most significant bits of R, G and B, bits 3, 4, 5 to the next ones, and so on for 8
    /// rounds): 0 black, 1 (128, 0, 0), 2 (0, 128, 0), 3 (128, 128, 0), 15 (192, 128, 128),
    /// 255 (224, 224, 192). Classes from 2²⁴ up repeat the colours of c mod 2²⁴.
    public static func vocColor(_ c: Int) -> RGB {
        var v = Int(c.magnitude & 0xFF_FFFF)
        var r = 0, g = 0, b = 0
        for j in 0..<8 {
            r |= (v & 1) << (7 - j)
            g |= ((v >> 1) & 1) << (7 - j)
            b |= ((v >> 2) & 1) << (7 - j)
            v >>= 3
        }
        return RGB(UInt8(r), UInt8(g), UInt8(b))
    }

    // MARK: Scaling

    /// `values` scaled to bytes by their own minimum and maximum: byte = round(255 · (v − min)
    /// / (max − min)) in float32, halves rounded away from zero, so the smallest value is 0
    /// (black) and the largest 255 (white). When all values are equal every byte is 128 (mid
    /// grey). Non-finite values are left out of the minimum and maximum and drawn as 0.
    public static func minMaxBytes(_ values: ArraySlice<Float>) -> [UInt8] {
        var lo = Float.infinity, hi = -Float.infinity
        for v in values where v.isFinite { lo = min(lo, v); hi = max(hi, v) }
        guard lo < hi else { return values.map { $0.isFinite ? 128 : 0 } }
        let range = hi - lo
        return values.map { v -> UInt8 in
            guard v.isFinite else { return 0 }
            let s = ((v - lo) / range * 255).rounded()
            return UInt8(min(max(s, 0), 255))
        }
    }

    // MARK: Grids

    /// The grid layout: columns, rows, the top of the first tile row, and the picture size.
    struct GridLayout {
        var columns: Int, rows: Int, top: Int, width: Int, height: Int
    }

    static func gridLayout(count: Int, columns: Int, tileWidth: Int, tileHeight: Int, title: String,
                           textScale: Int) throws -> GridLayout {
        let what = "picture grid"
        let cols = max(1, min(columns, count))
        let rows = (count + cols - 1) / cols
        let gridW = try Checked.sub(try Checked.mul(cols, try Checked.add(tileWidth, gap, what), what), gap, what)
        let gridH = try Checked.sub(try Checked.mul(rows, try Checked.add(tileHeight, gap, what), what), gap, what)
        let text = BitmapFont.size(of: title, scale: textScale)
        let top = try Checked.add(margin + titleGap, text.height, what)
        let width = try Checked.add(max(gridW, text.width), 2 * margin, what)
        let height = try Checked.add(try Checked.add(top, gridH, what), margin, what)
        guard width <= Picture.maxSide, height <= Picture.maxSide else {
            throw SwiftCNNError.invalidArgument(
                "\(what): \(count) tiles of \(tileWidth)x\(tileHeight) make a \(width)x\(height) picture, larger than \(Picture.maxSide) pixels a side; use a smaller scale or fewer tiles")
        }
        return GridLayout(columns: cols, rows: rows, top: top, width: width, height: height)
    }

    /// A grid picture: `tiles` (each `tileWidth` × `tileHeight` values of `channels` bytes)
    /// enlarged `scale` times, `columns` per row, under `title`.
    static func grid(title: String, tiles: [[UInt8]], tileWidth: Int, tileHeight: Int, channels: Int,
                     columns: Int, scale: Int, textScale: Int) throws -> Picture {
        let tw = try Checked.mul(tileWidth, scale, "picture tile"), th = try Checked.mul(tileHeight, scale, "picture tile")
        let l = try gridLayout(count: tiles.count, columns: columns, tileWidth: tw, tileHeight: th, title: title,
                               textScale: textScale)
        var p = try Picture(width: l.width, height: l.height, fill: background)
        p.drawText(title, x: margin, y: margin, scale: textScale, color: ink)
        for (i, t) in tiles.enumerated() {
            let r = i / l.columns, c = i % l.columns
            try p.blit(t, tileWidth: tileWidth, tileHeight: tileHeight, channels: channels,
                       x: margin + c * (tw + gap), y: l.top + r * (th + gap), scale: scale)
        }
        return p
    }

    /// ceil(sqrt(n)) columns: a square-ish grid.
    static func squareColumns(_ n: Int) -> Int {
        var c = 1
        while c * c < n { c += 1 }
        return c
    }

    static func checkScale(_ scale: Int?, _ what: String, auto: Int) throws -> Int {
        guard let s = scale else { return auto }
        guard s >= 1 && s <= 256 else { throw SwiftCNNError.invalidArgument("\(what): scale must be 1 to 256; got \(s)") }
        return s
    }

    static func checkTextScale(_ s: Int, _ what: String) throws -> Int {
        guard s >= 1 && s <= 16 else { throw SwiftCNNError.invalidArgument("\(what): text scale must be 1 to 16; got \(s)") }
        return s
    }

    /// "[1, 6, 28, 28]"
    static func shapeText(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }

    // MARK: Filters

    /// A grid of the learned filters of a convolution: `name` is the weight's parameter name
    /// ("features.0.weight") or its layer's ("features.0", ".weight" is added), a tensor
    /// [out, in, kh, kw].
    ///
    /// - With 3 input channels (a first layer on RGB images) each filter is one RGB tile
    ///   (input channels 0, 1, 2 as R, G, B), the filters in a square-ish grid.
    /// - With 1 input channel each filter is one grey tile, in a square-ish grid.
    /// - Otherwise each (filter, input channel) kernel is a grey tile: one row per filter,
    ///   one column per input channel (at most `maxChannels` columns, the first ones).
    ///
    /// At most `maxFilters` filters are drawn (the first ones; the title says so). Scaling:
    /// each filter separately, over all its values (all its input channels), by
    /// ``minMaxBytes(_:)``: its most negative weight is black, its most positive white (a
    /// constant filter is mid grey), the usual way of showing learned filters (torchvision's
    /// make_grid with normalize and scale_each). Tiles are enlarged `scale` times (default:
    /// 40 / the larger kernel side, at least 1). The title reads
    /// "features.0.weight: 6 filters 5x5" (with "x N channels" for deeper layers).
    /// Errors: an unknown name, a weight that is not 4-D, scale or limits out of range.
    public static func filters(_ model: Model, name: String, scale: Int? = nil, maxFilters: Int = 64,
                               maxChannels: Int = 16, textScale: Int = 1) throws -> Picture {
        let op = "filters"
        let ts = try checkTextScale(textScale, op)
        for (n, v) in [("maxFilters", maxFilters), ("maxChannels", maxChannels)] where v < 1 {
            throw SwiftCNNError.invalidArgument("\(op): \(n) must be at least 1; got \(v)")
        }
        let key = model.parameterSpecs.contains { $0.name == name } ? name : name + ".weight"
        guard model.parameterSpecs.contains(where: { $0.name == key }) else {
            let convs = model.parameterSpecs.filter { $0.shape.count == 4 }.prefix(6).map { "\"\($0.name)\"" }
            throw SwiftCNNError.invalidArgument(
                "\(op): \(model.name) has no parameter \"\(name)\" (nor \"\(name).weight\"); conv weights: \(convs.joined(separator: ", "))")
        }
        let w = try model.parameter(key)
        guard w.rank == 4 else {
            throw SwiftCNNError.invalidArgument("\(op): \"\(key)\" has shape \(shapeText(w.shape)), not a conv weight [out, in, kh, kw]")
        }
        let (o, i, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        let s = try checkScale(scale, op, auto: max(1, 40 / max(kh, kw)))
        let nf = min(o, maxFilters)
        let values = w.scalars
        let perFilter = i * kh * kw
        var tiles: [[UInt8]] = []
        var channels = 1, columns: Int
        var title = "\(key): \(o) filters"
        if i == 3 || i == 1 {
            channels = i
            columns = squareColumns(nf)
            for f in 0..<nf {
                let bytes = minMaxBytes(values[(f * perFilter)..<((f + 1) * perFilter)])
                if i == 1 { tiles.append(bytes); continue }
                var rgb = [UInt8](repeating: 0, count: perFilter)
                for p in 0..<(kh * kw) { for c in 0..<3 { rgb[p * 3 + c] = bytes[c * kh * kw + p] } }
                tiles.append(rgb)
            }
            title += " \(kh)x\(kw)" + (i == 3 ? " RGB" : "")
        } else {
            let nc = min(i, maxChannels)
            columns = nc
            for f in 0..<nf {
                let bytes = minMaxBytes(values[(f * perFilter)..<((f + 1) * perFilter)])
                for c in 0..<nc { tiles.append(Array(bytes[(c * kh * kw)..<((c + 1) * kh * kw)])) }
            }
            title += " x \(i) channels \(kh)x\(kw)"
            if nc < i { title += ", first \(nc) channels" }
        }
        if nf < o { title += ", first \(nf) filters" }
        return try grid(title: title, tiles: tiles, tileWidth: kw, tileHeight: kh, channels: channels,
                        columns: columns, scale: s, textScale: ts)
    }

    // MARK: Activations

    /// A grid of the activation maps of node `node` for one input: `input` is one image
    /// [1, C, H, W] (or [C, H, W]); the node's output [1, K, h, w] is drawn as K grey tiles in
    /// a square-ish grid (at most `maxMaps`, the first ones), each map scaled by its own
    /// minimum and maximum (``minMaxBytes(_:)``: its smallest value black, its largest white,
    /// a constant map mid grey 128). Tiles are enlarged `scale` times (default: 64 / the
    /// larger map side, at least 1). The title reads "features.0: [1, 6, 28, 28]".
    /// Node names are those ``Model/forward(_:outputs:includeOutput:)`` accepts.
    /// Errors: an unknown node, a batch other than 1, an output that is not 4-D, scale or
    /// limits out of range, and the forward's errors.
    public static func activations(_ model: Model, input: Tensor, node: String, scale: Int? = nil,
                                   maxMaps: Int = 256, textScale: Int = 1) throws -> Picture {
        let op = "activations"
        let ts = try checkTextScale(textScale, op)
        guard maxMaps >= 1 else { throw SwiftCNNError.invalidArgument("\(op): maxMaps must be at least 1; got \(maxMaps)") }
        var x = input
        if x.rank == 3 { x = try x.reshaped([1] + x.shape) }
        guard x.rank == 4, x.shape[0] == 1 else {
            throw SwiftCNNError.invalidArgument("\(op): the input must be one image [1, C, H, W] or [C, H, W]; got \(shapeText(input.shape))")
        }
        guard let y = try model.forward(x, outputs: [node])[node] else {
            throw SwiftCNNError(.internal, "\(op): node \"\(node)\" gave no output")
        }
        guard y.rank == 4 else {
            throw SwiftCNNError.invalidArgument("\(op): node \"\(node)\" gives \(shapeText(y.shape)), not feature maps [N, C, H, W]")
        }
        let (k, h, w) = (y.shape[1], y.shape[2], y.shape[3])
        let s = try checkScale(scale, op, auto: max(1, 64 / max(h, w)))
        let n = min(k, maxMaps)
        let values = y.scalars
        let tiles = (0..<n).map { c in minMaxBytes(values[(c * h * w)..<((c + 1) * h * w)]) }
        var title = "\(node): \(shapeText(y.shape))"
        if n < k { title += ", first \(n) maps" }
        return try grid(title: title, tiles: tiles, tileWidth: w, tileHeight: h, channels: 1,
                        columns: squareColumns(n), scale: s, textScale: ts)
    }

    // MARK: Receptive field

    /// One spatial layer of a chain from the input to a node.
    public struct ChainLayer: Equatable, Sendable {
        /// The node's path ("features.0").
        public var name: String
        /// The layer's type ("Conv2d", "MaxPool2d", …).
        public var type: String
        /// Vertical and horizontal window, as ``ReceptiveFieldLayer``s (padding: top, left).
        public var vertical: ReceptiveFieldLayer
        public var horizontal: ReceptiveFieldLayer
        /// Padding after the last pixel (bottom, right).
        public var padBottom: Int
        public var padRight: Int
        /// Pooling with ceil mode (output sizes rounded up).
        public var ceilMode: Bool
    }

    /// The spatial layers (convolutions, pools, subsampling, zero padding) on the way from the
    /// input to node `node`, in order. Pointwise layers (activations, batch norm, LRN,
    /// dropout, identity) are passed over. Only chains are supported: a residual block, a
    /// concatenation, a branching graph, or a layer that mixes positions (flatten, linear,
    /// adaptive or global pooling, upsampling, reshapes) before the node is an `.unsupported`
    /// error that names it — their field is not one rectangle per layer.
    public static func chain(_ architecture: Architecture, to node: String) throws -> [ChainLayer] {
        guard architecture.outputNames.contains(node) else {
            let some = architecture.outputNames.prefix(8).map { "\"\($0)\"" }.joined(separator: ", ")
            throw SwiftCNNError.invalidArgument("receptive field: \(architecture.name) has no node named \"\(node)\"; e.g. \(some)")
        }
        var layers: [ChainLayer] = []
        guard try walk(architecture.root, path: "", target: node, into: &layers) else {
            throw SwiftCNNError.unsupported("receptive field: \"\(node)\" is not on the model's main chain")
        }
        return layers
    }

    /// Appends the spatial layers of `layer` (at `path`); true once `target` is reached.
    static func walk(_ layer: Layer, path: String, target: String, into out: inout [ChainLayer]) throws -> Bool {
        func unsupported() -> SwiftCNNError {
            SwiftCNNError.unsupported(
                "receptive field: \"\(path)\" (\(layer.typeName)) comes before \"\(target)\"; only chains of convolution, pooling and pointwise layers are supported (no branches, residual blocks, flatten, linear or adaptive pooling)")
        }
        func window(_ k: Size2D, _ s: Size2D, _ d: Size2D, _ p: Padding2D, ceil: Bool = false) {
            out.append(ChainLayer(name: path, type: layer.typeName,
                                  vertical: ReceptiveFieldLayer(kernel: k.h, stride: s.h, dilation: d.h, padding: p.top),
                                  horizontal: ReceptiveFieldLayer(kernel: k.w, stride: s.w, dilation: d.w, padding: p.left),
                                  padBottom: p.bottom, padRight: p.right, ceilMode: ceil))
        }
        func pad(_ s: Size2D) -> Padding2D { var p = Padding2D(0); p.top = s.h; p.bottom = s.h; p.left = s.w; p.right = s.w; return p }
        switch layer {
        case .sequential(let children):
            for c in children where try walk(c.layer, path: Layer.join(path, c.name), target: target, into: &out) {
                return true
            }
        case .graph(let g):
            guard g.inputs.count == 1 else { if path == target { return true }; throw unsupported() }
            var previous = g.inputs[0]
            for n in g.nodes {
                let p = Layer.join(path, n.name)
                guard n.inputs == [previous] else {
                    throw SwiftCNNError.unsupported(
                        "receptive field: graph node \"\(p)\" reads \(n.inputs) rather than only the previous node's output \"\(previous)\": only chains are supported")
                }
                if try walk(n.layer, path: p, target: target, into: &out) { return true }
                previous = n.name
            }
        case .conv2d(let c):
            window(c.kernel, c.stride, c.dilation, c.padding)
        case .maxPool2d(let p), .avgPool2d(let p):
            window(p.kernel, p.stride, Size2D(1), pad(p.padding), ceil: p.ceilMode)
        case .subsampling:
            window(Size2D(2), Size2D(2), Size2D(1), Padding2D(0))
        case .partialConv2d(_, _, let k):
            window(Size2D(k), Size2D(1), Size2D(1), Padding2D(0))
        case .zeroPad2d(let p):
            window(Size2D(1), Size2D(1), Size2D(1), p)
        case .relu, .tanh, .scaledTanh, .batchNorm2d, .localResponseNorm, .dropout, .identity, .unary:
            break
        default:
            if path == target { return true }
            throw unsupported()
        }
        return path == target
    }

    /// One layer's part of a receptive-field picture.
    public struct FieldStep: Equatable, Sendable {
        /// The layer.
        public var layer: ChainLayer
        /// The input pixels (unclipped: may reach into padding) that the unit at the centre of
        /// the region this layer contributes to the chosen unit sees: rows y0…y1, columns
        /// x0…x1, inclusive.
        public var y0: Int, y1: Int, x0: Int, x1: Int
    }

    /// The rectangles of a receptive-field picture for unit (y, x) of `node`'s output, for an
    /// input of `inputHeight` × `inputWidth` pixels: one per spatial layer of the chain to the
    /// node (``chain(_:to:)``). The last one is the unit's own receptive field. For an earlier
    /// layer k it is the field of one unit of layer k's output: the centre (rounded down) of
    /// the block of layer-k units the chosen unit reads through the layers after k (clipped to
    /// layer k's output). So the rectangles show how the field grows layer by layer, ending
    /// with the whole field. Positions follow output i ↦ input start + i·jump … + size − 1
    /// (``receptiveFieldSteps(_:)``), padding and dilation included.
    /// Errors: as ``chain(_:to:)``; a unit outside the node's output; an input the chain
    /// cannot take.
    public static func fieldSteps(_ architecture: Architecture, node: String, y: Int, x: Int,
                                  inputHeight: Int, inputWidth: Int) throws -> [FieldStep] {
        let op = "receptive field"
        let layers = try chain(architecture, to: node)
        guard !layers.isEmpty else {
            throw SwiftCNNError.invalidArgument("\(op): \"\(node)\" has no convolution or pooling before it; its field is one pixel")
        }
        guard inputHeight >= 1, inputWidth >= 1 else {
            throw SwiftCNNError.invalidArgument("\(op): the input size must be at least 1x1; got \(inputHeight)x\(inputWidth)")
        }
        // Output sizes along the chain (torch's rules, ceil mode included).
        func sizes(_ n0: Int, _ dims: [ReceptiveFieldLayer], _ after: [Int]) throws -> [Int] {
            var out = [n0]
            for (i, l) in dims.enumerated() {
                let n = out.last ?? n0
                let span = try Checked.add(try Checked.add(n, l.padding, op), after[i], op)
                let need = try Checked.add(try Checked.mul(l.dilation, l.kernel - 1, op), 1, op)
                guard span >= need else {
                    throw SwiftCNNError.shapeMismatch("\(op): \(layers[i].name) gets \(n) pixels (with padding \(span)), fewer than its window \(need)")
                }
                var o = (span - need) / l.stride + 1
                if layers[i].ceilMode {
                    if (span - need) % l.stride != 0 { o += 1 }
                    if (o - 1) * l.stride >= n + l.padding { o -= 1 }
                }
                out.append(o)
            }
            return out
        }
        let vertical = layers.map(\.vertical), horizontal = layers.map(\.horizontal)
        let hs = try sizes(inputHeight, vertical, layers.map(\.padBottom))
        let ws = try sizes(inputWidth, horizontal, layers.map(\.padRight))
        let outH = hs.last ?? 1, outW = ws.last ?? 1
        guard y >= 0, y < outH, x >= 0, x < outW else {
            throw SwiftCNNError.invalidArgument(
                "\(op): unit (y \(y), x \(x)) is outside \"\(node)\"'s output of \(outH)x\(outW) (for a \(inputHeight)x\(inputWidth) input)")
        }
        let fv = try receptiveFieldSteps(vertical), fh = try receptiveFieldSteps(horizontal)
        // Walk back from the unit: the block of layer-k units it reads, and its centre.
        func centres(_ u: Int, _ dims: [ReceptiveFieldLayer], _ n: [Int]) -> [Int] {
            var lo = u, hi = u
            var c = [Int](repeating: 0, count: dims.count)
            for k in stride(from: dims.count - 1, through: 0, by: -1) {
                lo = max(0, min(lo, n[k + 1] - 1)); hi = max(0, min(hi, n[k + 1] - 1))
                c[k] = (lo + hi) / 2
                let l = dims[k]
                lo = lo * l.stride - l.padding
                hi = hi * l.stride - l.padding + l.dilation * (l.kernel - 1)
            }
            return c
        }
        let cy = centres(y, vertical, hs), cx = centres(x, horizontal, ws)
        return layers.indices.map { k in
            let y0 = fv[k].start + cy[k] * fv[k].jump, x0 = fh[k].start + cx[k] * fh[k].jump
            return FieldStep(layer: layers[k], y0: y0, y1: y0 + fv[k].size - 1, x0: x0, x1: x0 + fh[k].size - 1)
        }
    }

    /// The receptive field of unit (y, x) of `node`'s output drawn on the input image: the
    /// rectangles of ``fieldSteps(_:node:y:x:inputHeight:inputWidth:)``, one colour per layer
    /// (``paletteColor(_:)`` of the layer's index), clipped to the image, over `image`
    /// (or, without one, a mid-grey canvas of the model's nominal input size) enlarged `scale`
    /// times (default: 256 / the longer side, at least 1). A rectangle covering input pixels
    /// x0…x1 is outlined on the enlarged picture from x0·scale to (x1 + 1)·scale − 1,
    /// max(1, scale / 4) pixels wide inwards; the largest is drawn first, so smaller ones stay
    /// visible. Above: the title "receptive field of features.6 (y 0, x 0)"; below, the
    /// legend: one line per layer with its colour, name, type and window, the field's size and
    /// its rows and columns ("features.0 Conv2d 5x5: 5x5 px, x 14..18, y 14..18"; a field
    /// reaching into padding shows its unclipped bounds).
    public static func receptiveField(_ model: Model, node: String, y: Int, x: Int, image: Picture? = nil,
                                      scale: Int? = nil, textScale: Int = 1) throws -> Picture {
        let op = "receptive field"
        let ts = try checkTextScale(textScale, op)
        let arch = model.architecture
        let base: Picture
        if let image { base = image } else {
            let size = arch.inputSize
            base = try Picture(width: max(1, size.w), height: max(1, size.h), fill: RGB(grey: 128))
        }
        let steps = try fieldSteps(arch, node: node, y: y, x: x, inputHeight: base.height, inputWidth: base.width)
        let s = try checkScale(scale, op, auto: max(1, 256 / max(base.width, base.height)))
        var canvas = try base.enlarged(by: s)
        let thickness = max(1, s / 4)
        for (k, st) in steps.enumerated().reversed() {
            let x0 = max(0, st.x0), x1 = min(base.width - 1, st.x1)
            let y0 = max(0, st.y0), y1 = min(base.height - 1, st.y1)
            guard x0 <= x1, y0 <= y1 else { continue }
            canvas.strokeRect(x0: x0 * s, y0: y0 * s, x1: (x1 + 1) * s - 1, y1: (y1 + 1) * s - 1,
                              thickness: thickness, paletteColor(k))
        }
        let title = "receptive field of \(node) (y \(y), x \(x))"
        let lines = steps.map { st -> String in
            let l = st.layer
            var kind = "\(l.type) \(l.vertical.kernel)x\(l.horizontal.kernel)"
            if l.vertical.stride != 1 || l.horizontal.stride != 1 { kind += " s\(l.vertical.stride)" }
            if l.vertical.dilation != 1 || l.horizontal.dilation != 1 { kind += " d\(l.vertical.dilation)" }
            if l.vertical.padding != 0 || l.horizontal.padding != 0 { kind += " p\(l.vertical.padding)" }
            return "\(l.name) \(kind): \(st.y1 - st.y0 + 1)x\(st.x1 - st.x0 + 1) px, x \(st.x0)..\(st.x1), y \(st.y0)..\(st.y1)"
        }
        let lineH = try Checked.add(BitmapFont.glyphHeight * ts, 3 * ts, op)
        let swatch = BitmapFont.glyphHeight * ts
        let textW = ([title] + lines).map { BitmapFont.size(of: $0, scale: ts).width }.max() ?? 0
        let legendW = try Checked.add(textW, swatch + 2 * ts, op)
        let top = margin + BitmapFont.glyphHeight * ts + titleGap
        let width = try Checked.add(max(canvas.width, legendW), 2 * margin, op)
        let legendTop = try Checked.add(try Checked.add(top, canvas.height, op), titleGap, op)
        let height = try Checked.add(try Checked.add(legendTop, try Checked.mul(lineH, lines.count, op), op), margin, op)
        var p = try Picture(width: width, height: height, fill: background)
        p.drawText(title, x: margin, y: margin, scale: ts, color: ink)
        p.paste(canvas, x: margin, y: top)
        for (k, line) in lines.enumerated() {
            let ly = legendTop + k * lineH
            p.fillRect(x: margin, y: ly, width: swatch, height: swatch, paletteColor(k))
            p.drawText(line, x: margin + swatch + 2 * ts, y: ly, scale: ts, color: ink)
        }
        return p
    }

    // MARK: Detections

    /// "0.87": `v` with two decimals (rounded half away from zero); "nan"/"inf" as such, and
    /// magnitudes from 10¹² up shown as ±1e12+.
    static func twoDecimals(_ v: Float) -> String {
        guard v.isFinite else { return v.isNaN ? "nan" : (v > 0 ? "inf" : "-inf") }
        guard abs(v) < 1e12 else { return v > 0 ? "1e12+" : "-1e12+" }
        let c = Int((Double(v) * 100).rounded())
        let m = c.magnitude
        let frac = m % 100
        return (c < 0 ? "-" : "") + "\(m / 100)." + (frac < 10 ? "0" : "") + "\(frac)"
    }

    /// A box coordinate rounded to a pixel index (clamped to ±2³⁰, far outside any picture).
    static func pixelIndex(_ v: Float) -> Int { Int(min(max(v.rounded(), -1_073_741_824), 1_073_741_824)) }

    /// `image` with detections drawn on it: box i (`boxes[4i ..< 4i + 4]` = x1, y1, x2, y2 in
    /// pixels, as torchvision's detection models give them) is outlined in the colour of its
    /// label (``paletteColor(_:)`` of labels[i]) over columns round(x1) … round(x2) − 1 and
    /// rows round(y1) … round(y2) − 1 (at least one pixel), `thickness` pixels wide inwards,
    /// clipped to the image. Its caption "name 0.87" (names[label] when given and in range,
    /// else the label number; the score with two decimals) is written in the font at
    /// `textScale`, in black or white, on a band of the box's colour 9·textScale pixels high
    /// directly above the box's top row, starting at its left column (inside the box, below
    /// its top row, when there is no room above). Boxes are drawn in order, so later ones
    /// cover earlier ones; pixels outside boxes and captions are unchanged.
    /// Errors: counts that disagree, non-finite coordinates, thickness out of 1…64.
    public static func detections(on image: Picture, boxes: [Float], scores: [Float], labels: [Int],
                                  names: [String]? = nil, thickness: Int = 2, textScale: Int = 1) throws -> Picture {
        let op = "detections"
        let ts = try checkTextScale(textScale, op)
        guard thickness >= 1 && thickness <= 64 else {
            throw SwiftCNNError.invalidArgument("\(op): thickness must be 1 to 64; got \(thickness)")
        }
        guard boxes.count == labels.count * 4, scores.count == labels.count else {
            throw SwiftCNNError.invalidArgument(
                "\(op): \(labels.count) labels need \(labels.count * 4) box coordinates and \(labels.count) scores; got \(boxes.count) and \(scores.count)")
        }
        var p = image
        for i in labels.indices {
            let b = boxes[(4 * i)..<(4 * i + 4)]
            guard b.allSatisfy(\.isFinite) else {
                throw SwiftCNNError.invalidArgument("\(op): box \(i) has a coordinate that is not finite: \(Array(b))")
            }
            let left = pixelIndex(min(b[4 * i], b[4 * i + 2])), top = pixelIndex(min(b[4 * i + 1], b[4 * i + 3]))
            let right = max(left, pixelIndex(max(b[4 * i], b[4 * i + 2])) - 1)
            let bottom = max(top, pixelIndex(max(b[4 * i + 1], b[4 * i + 3])) - 1)
            let color = paletteColor(labels[i])
            p.strokeRect(x0: left, y0: top, x1: right, y1: bottom, thickness: thickness, color)
            let label = labels[i]
            let name = names.flatMap { label >= 0 && label < $0.count ? $0[label] : nil } ?? "\(label)"
            let caption = "\(name) \(twoDecimals(scores[i]))"
            let band = (BitmapFont.glyphHeight + 2) * ts
            let bandTop = top - band >= 0 ? top - band : top + thickness
            let text = BitmapFont.size(of: caption, scale: ts)
            p.fillRect(x: left, y: bandTop, width: text.width + 2 * ts, height: band, color)
            p.drawText(caption, x: left + ts, y: bandTop + ts, scale: ts, color: color.contrasting)
        }
        return p
    }

    // MARK: Label maps

    /// A colour picture of per-pixel class indices: `labels` holds `height` rows of `width`
    /// classes (row-major), each pixel coloured ``vocColor(_:)`` of its class (VOC's palette:
    /// 0 background black, 1 aeroplane (128, 0, 0), …). With `image` (the same size) each pixel
    /// is image·(1 − alpha) + colour·alpha instead, rounded (``RGB/blended(with:alpha:)``),
    /// every class blended alike. Each map pixel becomes `scale` × `scale` pixels (default 1),
    /// the map's top-left at (0, 0). With `legend`, a white band below the map lists the
    /// classes present in increasing order, one line each: a swatch of its colour and
    /// "c name" (names[c] when given and in range, else "class c"), starting
    /// ``margin`` pixels below the map. Errors: a negative class, a label count other than
    /// height × width, an image of another size, alpha outside 0…1, scale out of 1…64.
    public static func labelMap(_ labels: [Int], height: Int, width: Int, image: Picture? = nil, alpha: Float = 0.5,
                                names: [String]? = nil, legend: Bool = false, scale: Int = 1,
                                textScale: Int = 1) throws -> Picture {
        let op = "label map"
        let ts = try checkTextScale(textScale, op)
        guard scale >= 1 && scale <= 64 else { throw SwiftCNNError.invalidArgument("\(op): scale must be 1 to 64; got \(scale)") }
        guard alpha >= 0 && alpha <= 1 else { throw SwiftCNNError.invalidArgument("\(op): alpha must be 0 to 1; got \(alpha)") }
        _ = try Picture.byteCount(width: width, height: height)
        guard labels.count == height * width else {
            throw SwiftCNNError.invalidArgument("\(op): a \(height)x\(width) map needs \(height * width) labels; got \(labels.count)")
        }
        if let image, image.width != width || image.height != height {
            throw SwiftCNNError.invalidArgument("\(op): the image is \(image.width)x\(image.height) (WxH), the labels \(width)x\(height)")
        }
        var present = Set<Int>()
        var map = try Picture(width: width, height: height)
        for yy in 0..<height {
            for xx in 0..<width {
                let c = labels[yy * width + xx]
                guard c >= 0 else { throw SwiftCNNError.invalidArgument("\(op): label \(c) at (y \(yy), x \(xx)) is negative") }
                present.insert(c)
                let colour = vocColor(c)
                if let image, let px = image.pixel(x: xx, y: yy) {
                    map.set(x: xx, y: yy, px.blended(with: colour, alpha: alpha))
                } else {
                    map.set(x: xx, y: yy, colour)
                }
            }
        }
        let big = try map.enlarged(by: scale)
        guard legend else { return big }
        let classes = present.sorted()
        let lines = classes.map { c in "\(c) " + (names.flatMap { c < $0.count ? $0[c] : nil } ?? "class \(c)") }
        let lineH = (BitmapFont.glyphHeight + 3) * ts
        let swatch = BitmapFont.glyphHeight * ts
        let textW = lines.map { BitmapFont.size(of: $0, scale: ts).width }.max() ?? 0
        let w = max(big.width, try Checked.add(textW, swatch + 2 * ts + 2 * margin, op))
        let h = try Checked.add(try Checked.add(big.height, 2 * margin, op), try Checked.mul(lineH, lines.count, op), op)
        var p = try Picture(width: w, height: h, fill: background)
        p.paste(big, x: 0, y: 0)
        for (k, line) in lines.enumerated() {
            let ly = big.height + margin + k * lineH
            p.fillRect(x: margin, y: ly, width: swatch, height: swatch, vocColor(classes[k]))
            p.strokeRect(x0: margin, y0: ly, x1: margin + swatch - 1, y1: ly + swatch - 1, thickness: 1, RGB(grey: 96))
            p.drawText(line, x: margin + swatch + 2 * ts, y: ly, scale: ts, color: ink)
        }
        return p
    }
}

extension Picture {
    /// An image tensor as a picture: `tensor` is [H, W], [C, H, W] or [1, C, H, W] with C = 1
    /// (grey) or 3 (RGB), scaled by the whole image's minimum and maximum
    /// (``Pictures/minMaxBytes(_:)``: smallest value 0, largest 255, a constant image mid grey).
    /// For a model's normalized input this shows what the model sees. Errors: other shapes.
    public init(tensor: Tensor) throws {
        var shape = tensor.shape
        if shape.count == 4, shape[0] == 1 { shape.removeFirst() }
        if shape.count == 2 { shape.insert(1, at: 0) }
        guard shape.count == 3, shape[0] == 1 || shape[0] == 3 else {
            throw SwiftCNNError.invalidArgument(
                "picture from tensor: expected [H, W], [C, H, W] or [1, C, H, W] with C 1 or 3; got \(Pictures.shapeText(tensor.shape))")
        }
        let (c, h, w) = (shape[0], shape[1], shape[2])
        let bytes = Pictures.minMaxBytes(tensor.scalars[...])
        var px = [UInt8](repeating: 0, count: try Picture.byteCount(width: w, height: h))
        for i in 0..<(h * w) {
            for k in 0..<3 { px[i * 3 + k] = bytes[(c == 1 ? 0 : k) * h * w + i] }
        }
        try self.init(width: w, height: h, pixels: px)
    }
}
