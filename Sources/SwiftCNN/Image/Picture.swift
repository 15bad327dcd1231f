// An 8-bit RGB picture and the few drawing primitives the analysis pictures need (filter and
// activation grids, receptive fields, detections, label maps; Analysis/Pictures.swift).
// Everything clips to the picture: drawing outside it is not an error, it draws nothing.

/// An 8-bit RGB colour.
public struct RGB: Equatable, Hashable, Sendable {
    public var r: UInt8
    public var g: UInt8
    public var b: UInt8

    /// The colour (r, g, b).
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }

    /// The grey (v, v, v).
    public init(grey v: UInt8) { r = v; g = v; b = v }

    public static let black = RGB(0, 0, 0)
    public static let white = RGB(255, 255, 255)

    /// `self` mixed with `other`: (1 − alpha)·self + alpha·other per channel, rounded to
    /// nearest; alpha is clamped to 0…1.
    public func blended(with other: RGB, alpha: Float) -> RGB {
        let a = alpha.isNaN ? 0 : min(max(alpha, 0), 1)
        func mix(_ x: UInt8, _ y: UInt8) -> UInt8 {
            UInt8(min(max((Float(x) * (1 - a) + Float(y) * a).rounded(), 0), 255))
        }
        return RGB(mix(r, other.r), mix(g, other.g), mix(b, other.b))
    }

    /// The colour a caption on a background of this colour should have: black on light
    /// backgrounds, white on dark ones (BT.601 luma at 128 as the threshold).
    public var contrasting: RGB {
        let luma = 299 * Int(r) + 587 * Int(g) + 114 * Int(b)
        return luma >= 128_000 ? .black : .white
    }
}

/// An RGB picture, 8 bits per channel: `pixels` holds `height` rows of `width` pixels, each
/// pixel three bytes R, G, B, rows top to bottom with no padding (the layout of a PPM/PNG
/// body and of a numpy `uint8` array `[height, width, 3]`).
public struct Picture: Equatable, Sendable {
    /// Width in pixels, 1 to ``maxSide``.
    public let width: Int
    /// Height in pixels, 1 to ``maxSide``.
    public let height: Int
    /// width × height × 3 bytes, RGB interleaved, row-major.
    public var pixels: [UInt8]

    /// The largest width or height a picture may have (PNG allows 2³¹ − 1; this bound keeps
    /// every picture's byte count far below what memory and `Int` can hold).
    public static let maxSide = 1 << 15

    /// A picture filled with `color`. Errors: a side below 1 or above ``maxSide``.
    public init(width: Int, height: Int, fill color: RGB = .black) throws {
        let n = try Picture.byteCount(width: width, height: height)
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: n)
        if color != .black { fill(color) }
    }

    /// A picture holding a copy of `pixels` (width × height × 3 bytes, RGB interleaved).
    /// Errors: a side out of range, or a byte count that is not width × height × 3.
    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        let n = try Picture.byteCount(width: width, height: height)
        guard pixels.count == n else {
            throw SwiftCNNError.invalidArgument(
                "picture: \(width)x\(height) RGB needs \(n) bytes; got \(pixels.count)")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// width × height × 3, checked. Errors: a side below 1 or above ``maxSide``.
    static func byteCount(width: Int, height: Int) throws -> Int {
        for (name, v) in [("width", width), ("height", height)] where v < 1 || v > maxSide {
            throw SwiftCNNError.invalidArgument("picture: \(name) must be 1 to \(maxSide); got \(v)")
        }
        return try Checked.mul(try Checked.mul(width, height, "picture size"), 3, "picture size")
    }

    /// The colour at (x, y); nil outside the picture.
    public func pixel(x: Int, y: Int) -> RGB? {
        guard x >= 0, y >= 0, x < width, y < height else { return nil }
        let i = (y * width + x) * 3
        return RGB(pixels[i], pixels[i + 1], pixels[i + 2])
    }

    /// Sets the pixel (x, y); nothing outside the picture.
    @inline(__always)
    public mutating func set(x: Int, y: Int, _ c: RGB) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = (y * width + x) * 3
        pixels[i] = c.r; pixels[i + 1] = c.g; pixels[i + 2] = c.b
    }

    /// Fills the whole picture with `color`.
    public mutating func fill(_ color: RGB) {
        pixels.withUnsafeMutableBufferPointer { p in
            var i = 0
            while i < p.count { p[i] = color.r; p[i + 1] = color.g; p[i + 2] = color.b; i += 3 }
        }
    }

    /// The part of [x, x + w) × [y, y + h) inside the picture, or nil when none is.
    func clip(x: Int, y: Int, width w: Int, height h: Int) -> (x0: Int, y0: Int, x1: Int, y1: Int)? {
        guard w > 0, h > 0 else { return nil }
        let x0 = max(x, 0), y0 = max(y, 0)
        let x1 = x > width - w ? width : x + w    // x + w without overflow
        let y1 = y > height - h ? height : y + h
        guard x0 < x1, y0 < y1 else { return nil }
        return (x0, y0, x1, y1)
    }

    /// Fills the rectangle of `width` × `height` pixels whose top-left pixel is (x, y),
    /// clipped to the picture.
    public mutating func fillRect(x: Int, y: Int, width w: Int, height h: Int, _ color: RGB) {
        guard let c = clip(x: x, y: y, width: w, height: h) else { return }
        for yy in c.y0..<c.y1 { for xx in c.x0..<c.x1 { set(x: xx, y: yy, color) } }
    }

    /// Blends `color` over the rectangle (alpha as in ``RGB/blended(with:alpha:)``), clipped.
    public mutating func blendRect(x: Int, y: Int, width w: Int, height h: Int, _ color: RGB, alpha: Float) {
        guard let c = clip(x: x, y: y, width: w, height: h) else { return }
        for yy in c.y0..<c.y1 {
            for xx in c.x0..<c.x1 {
                if let p = pixel(x: xx, y: yy) { set(x: xx, y: yy, p.blended(with: color, alpha: alpha)) }
            }
        }
    }

    /// Draws the outline of the rectangle whose corner pixels are (x0, y0) and (x1, y1)
    /// (both inclusive), `thickness` pixels wide, growing inwards from those edges: the
    /// outermost ring of the outline is exactly the rectangle's edge. Clipped to the picture;
    /// corners given in either order; thickness below 1 draws nothing.
    public mutating func strokeRect(x0: Int, y0: Int, x1: Int, y1: Int, thickness: Int = 1, _ color: RGB) {
        guard thickness >= 1 else { return }
        let (l, r) = (min(x0, x1), max(x0, x1)), (t, b) = (min(y0, y1), max(y0, y1))
        guard r >= l, b >= t, l <= Int.max / 2, r <= Int.max / 2, t >= Int.min / 2, b <= Int.max / 2 else { return }
        let w = r - l + 1, h = b - t + 1
        let k = min(thickness, w, h)
        fillRect(x: l, y: t, width: w, height: k, color)            // top
        fillRect(x: l, y: b - k + 1, width: w, height: k, color)    // bottom
        fillRect(x: l, y: t, width: k, height: h, color)            // left
        fillRect(x: r - k + 1, y: t, width: k, height: h, color)    // right
    }

    /// Draws a tile of `tileWidth` × `tileHeight` values enlarged `scale` times by nearest
    /// neighbour (each value becomes a `scale` × `scale` block), top-left at (x, y), clipped.
    /// `values` holds `channels` (1: grey, 3: RGB) bytes per tile pixel, row-major,
    /// interleaved. Errors: channels not 1 or 3, scale below 1, or a value count that does not
    /// match.
    public mutating func blit(_ values: [UInt8], tileWidth: Int, tileHeight: Int, channels: Int,
                              x: Int, y: Int, scale: Int = 1) throws {
        guard channels == 1 || channels == 3 else {
            throw SwiftCNNError.invalidArgument("picture blit: channels must be 1 or 3; got \(channels)")
        }
        guard scale >= 1 else { throw SwiftCNNError.invalidArgument("picture blit: scale must be at least 1; got \(scale)") }
        guard tileWidth >= 1, tileHeight >= 1 else {
            throw SwiftCNNError.invalidArgument("picture blit: the tile is empty (\(tileWidth)x\(tileHeight))")
        }
        let n = try Checked.product([tileWidth, tileHeight, channels], "picture blit: tile size")
        guard values.count == n else {
            throw SwiftCNNError.invalidArgument("picture blit: a \(tileWidth)x\(tileHeight)x\(channels) tile needs \(n) values; got \(values.count)")
        }
        for ty in 0..<tileHeight {
            for tx in 0..<tileWidth {
                let i = (ty * tileWidth + tx) * channels
                let c = channels == 1 ? RGB(grey: values[i]) : RGB(values[i], values[i + 1], values[i + 2])
                let (ox, o1) = (tx * scale).addingReportingOverflow(x)
                let (oy, o2) = (ty * scale).addingReportingOverflow(y)
                if o1 || o2 { continue }
                fillRect(x: ox, y: oy, width: scale, height: scale, c)
            }
        }
    }

    /// Copies `other` into this picture with its top-left pixel at (x, y), clipped.
    public mutating func paste(_ other: Picture, x: Int, y: Int) {
        for yy in 0..<other.height {
            for xx in 0..<other.width {
                let (px, o1) = x.addingReportingOverflow(xx)
                let (py, o2) = y.addingReportingOverflow(yy)
                if o1 || o2 { continue }
                if let c = other.pixel(x: xx, y: yy) { set(x: px, y: py, c) }
            }
        }
    }

    /// This picture enlarged `factor` times by nearest neighbour. Errors: factor below 1, or a
    /// result larger than ``maxSide``.
    public func enlarged(by factor: Int) throws -> Picture {
        guard factor >= 1 else { throw SwiftCNNError.invalidArgument("picture: enlarge factor must be at least 1; got \(factor)") }
        if factor == 1 { return self }
        var out = try Picture(width: try Checked.mul(width, factor, "picture width"),
                              height: try Checked.mul(height, factor, "picture height"))
        try out.blit(pixels, tileWidth: width, tileHeight: height, channels: 3, x: 0, y: 0, scale: factor)
        return out
    }

    // MARK: Text

    /// Draws `text` in the built-in 5×7 font (``BitmapFont``) with its top-left at (x, y),
    /// each font pixel a `scale` × `scale` block, glyphs `6 · scale` pixels apart (one blank
    /// column between letters); clipped. Characters outside printable ASCII are drawn as
    /// their closest ASCII form ("×" as "x") or "?". With `background`, the text's box
    /// (``BitmapFont/size(of:scale:)``, one pixel of padding all round) is filled first.
    public mutating func drawText(_ text: String, x: Int, y: Int, scale: Int = 1, color: RGB,
                                  background: RGB? = nil) {
        let far = 1 << 40  // text starting this far away cannot reach the picture (and sums stay in range)
        guard x > -far, x < far, y > -far, y < far else { return }
        let s = min(max(1, scale), 1 << 10)
        if let bg = background {
            let size = BitmapFont.size(of: text, scale: s)
            fillRect(x: x - s, y: y - s, width: size.width + 2 * s, height: size.height + 2 * s, bg)
        }
        var cx = x
        for ch in BitmapFont.ascii(text) {
            let rows = BitmapFont.glyph(ch)
            for (ry, bits) in rows.enumerated() {
                for rx in 0..<BitmapFont.glyphWidth where bits & (1 << (BitmapFont.glyphWidth - 1 - rx)) != 0 {
                    fillRect(x: cx + rx * s, y: y + ry * s, width: s, height: s, color)
                }
            }
            let (next, o) = cx.addingReportingOverflow(BitmapFont.advance * s)
            if o { break }
            cx = next
        }
    }
}
