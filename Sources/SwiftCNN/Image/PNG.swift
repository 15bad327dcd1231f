// PNG and PPM output for ``Picture``.
//
// PNG (ISO/IEC 15948): the 8-byte signature, then IHDR (8-bit RGB, colour type 2, no
// interlace), one IDAT and IEND, each chunk with its CRC-32 (the ISO 3309 polynomial
// 0xEDB88320, reflected). The image data is a zlib stream (RFC 1950: header 0x78 0x01,
// deflate data, Adler-32 of the raw data, big-endian). Each row gets the PNG filter that
// makes it smallest by the usual heuristic (least sum of |byte| as signed values among
// None, Sub, Up and Paeth). The deflate data (RFC 1951) is one block with the fixed Huffman
// codes; matches come from a greedy LZ77 search over a 32 KiB window (hash of three bytes,
// at most 32 candidates per position, lengths 3…258); data that this would enlarge (noise)
// goes into stored blocks instead. Pictures of tiles and flat colour compress to 2–6 % of
// their raw size, about 1.3–1.5× what Pillow's optimized (dynamic-Huffman) PNGs take; this
// encoder writes no dynamic codes.
//
// PPM: binary "P6" with maxval 255 — the header "P6\n<width> <height>\n255\n" and the raw RGB
// bytes.

/// The file formats ``Picture/save(to:format:)`` writes.
public enum PictureFormat: Int32, Sendable {
    /// Chosen by the path's extension: ".png" gives PNG, ".ppm" gives PPM (any case).
    case auto = 0
    case png = 1
    case ppm = 2
}

extension Picture {
    /// The picture as a PNG file's bytes (see the file comment).
    public func pngData() throws -> [UInt8] {
        let raw = try PNG.filteredRows(self)
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var ihdr: [UInt8] = []
        PNG.appendBE32(&ihdr, UInt32(width))
        PNG.appendBE32(&ihdr, UInt32(height))
        ihdr += [8, 2, 0, 0, 0]  // bit depth 8, colour type 2 (RGB), deflate, adaptive filters, no interlace
        PNG.appendChunk(&png, "IHDR", ihdr)
        PNG.appendChunk(&png, "IDAT", PNG.zlib(raw))
        PNG.appendChunk(&png, "IEND", [])
        return png
    }

    /// The picture as a binary PPM (P6, maxval 255) file's bytes.
    public func ppmData() -> [UInt8] {
        Array("P6\n\(width) \(height)\n255\n".utf8) + pixels
    }

    /// The format `path`'s extension names (".png" or ".ppm", any case), or an error that says
    /// which extensions are known.
    public static func format(forPath path: FilePath) throws -> PictureFormat {
        let name = path.lastComponent
        if let dot = name.lastIndex(of: UInt8(ascii: ".")) {
            let ext = String(decoding: name[(dot + 1)...], as: UTF8.self).lowercased()
            if ext == "png" { return .png }
            if ext == "ppm" { return .ppm }
        }
        throw SwiftCNNError.invalidArgument(
            "picture save: cannot tell the format of '\(path)': the name should end in .png or .ppm")
    }

    /// Writes the picture to `path` atomically (a reader sees the old file or the whole new
    /// one; see FileIO.writeAtomically) as PNG or PPM; `.auto` picks by the path's extension.
    /// Errors: an unknown extension with `.auto` (invalid argument), I/O errors.
    public func save(to path: FilePath, format: PictureFormat = .auto) throws {
        let f = format == .auto ? try Picture.format(forPath: path) : format
        let data = f == .png ? try pngData() : ppmData()
        try FileIO.writeAtomically(to: path, what: "picture save") { put in
            try data.withUnsafeBytes { try put($0.baseAddress, $0.count) }
        }
    }
}

/// The pieces of the PNG encoder.
enum PNG {
    static func appendBE32(_ out: inout [UInt8], _ v: UInt32) {
        out += [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }

    /// The CRC-32 table (polynomial 0xEDB88320).
    static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// CRC-32 of `bytes` (as zlib's crc32), continuing from `crc`.
    static func crc32(_ bytes: some Sequence<UInt8>, _ crc: UInt32 = 0) -> UInt32 {
        var c = ~crc
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return ~c
    }

    /// Adler-32 of `bytes` (RFC 1950).
    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        var i = 0
        while i < bytes.count {
            let end = min(i + 5552, bytes.count)  // the largest run before the sums can overflow
            while i < end { a += UInt32(bytes[i]); b += a; i += 1 }
            a %= 65521; b %= 65521
        }
        return (b << 16) | a
    }

    /// length (big-endian), type, data, CRC-32 of type + data.
    static func appendChunk(_ out: inout [UInt8], _ type: String, _ data: [UInt8]) {
        appendBE32(&out, UInt32(data.count))
        let t = Array(type.utf8)
        out += t
        out += data
        appendBE32(&out, crc32(data, crc32(t)))
    }

    /// The rows as PNG's filtered scanlines: a filter-type byte, then the filtered bytes.
    static func filteredRows(_ p: Picture) throws -> [UInt8] {
        let stride = try Checked.mul(p.width, 3, "PNG row")
        let total = try Checked.mul(try Checked.add(stride, 1, "PNG row"), p.height, "PNG data")
        var out = [UInt8](); out.reserveCapacity(total)
        var candidate = [UInt8](repeating: 0, count: stride)
        var best = [UInt8](repeating: 0, count: stride)
        let px = p.pixels
        for y in 0..<p.height {
            let row = y * stride, prev = row - stride
            var bestType: UInt8 = 0, bestCost = Int.max
            for type in UInt8(0)...4 where type != 3 {
                var cost = 0
                for i in 0..<stride {
                    let x = px[row + i]
                    let a = i >= 3 ? px[row + i - 3] : 0
                    let b = y > 0 ? px[prev + i] : 0
                    let c = i >= 3 && y > 0 ? px[prev + i - 3] : 0
                    let v: UInt8
                    switch type {
                    case 0: v = x
                    case 1: v = x &- a
                    case 2: v = x &- b
                    default: v = x &- paeth(a, b, c)
                    }
                    candidate[i] = v
                    cost += abs(Int(Int8(bitPattern: v)))
                }
                if cost < bestCost { bestCost = cost; bestType = type; swap(&candidate, &best) }
            }
            out.append(bestType)
            out += best
        }
        return out
    }

    static func paeth(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> UInt8 {
        let p = Int(a) + Int(b) - Int(c)
        let pa = abs(p - Int(a)), pb = abs(p - Int(b)), pc = abs(p - Int(c))
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c
    }

    /// A zlib stream of `data`: header, one fixed-Huffman deflate block, Adler-32.
    /// When the fixed codes would make the data larger (noise), stored blocks are written
    /// instead: at most 65,535 bytes each, 5 bytes of overhead per block.
    static func zlib(_ data: [UInt8]) -> [UInt8] {
        var w = BitWriter()
        w.bytes = [0x78, 0x01]  // deflate, 32 KiB window; FCHECK makes 0x7801 a multiple of 31
        w.bits(1, 1)            // BFINAL
        w.bits(1, 2)            // BTYPE 01: fixed Huffman codes
        deflateFixed(data, &w)
        w.symbol(256)           // end of block
        w.flush()
        let blocks = max(1, (data.count + 65534) / 65535)
        if w.bytes.count > 2 + data.count + 5 * blocks {
            w.bytes = [0x78, 0x01]
            var start = 0
            repeat {
                let n = min(65535, data.count - start)
                let last: UInt8 = start + n == data.count ? 1 : 0
                w.bytes += [last, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]  // BTYPE 00
                w.bytes += data[start..<(start + n)]
                start += n
            } while start < data.count
        }
        appendBE32(&w.bytes, adler32(data))
        return w.bytes
    }

    /// Length codes 257…285: base length and extra bits (RFC 1951, 3.2.5).
    static let lengthBase: [Int] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59,
                                    67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra: [Int] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3,
                                     4, 4, 4, 4, 5, 5, 5, 5, 0]
    /// Distance codes 0…29: base distance and extra bits.
    static let distBase: [Int] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769,
                                  1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    static let distExtra: [Int] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8,
                                   9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

    /// Greedy LZ77 over a 32 KiB window, written with the fixed codes.
    static func deflateFixed(_ data: [UInt8], _ w: inout BitWriter) {
        let n = data.count
        let window = 32768, maxChain = 32, hashBits = 15
        var head = [Int](repeating: -1, count: 1 << hashBits)
        var prev = [Int](repeating: -1, count: window)
        func hash(_ i: Int) -> Int {
            (Int(data[i]) << 10 ^ Int(data[i + 1]) << 5 ^ Int(data[i + 2])) & ((1 << hashBits) - 1)
        }
        func insert(_ i: Int) {
            guard i + 2 < n else { return }
            let h = hash(i)
            prev[i & (window - 1)] = head[h]
            head[h] = i
        }
        var i = 0
        while i < n {
            var bestLen = 0, bestDist = 0
            if i + 2 < n {
                var cand = head[hash(i)]
                var chain = 0
                let maxLen = min(258, n - i)
                while cand >= 0, i - cand <= window, chain < maxChain {
                    if bestLen == 0 || (i + bestLen < n && data[cand + bestLen] == data[i + bestLen]) {
                        var l = 0
                        while l < maxLen && data[cand + l] == data[i + l] { l += 1 }
                        if l > bestLen { bestLen = l; bestDist = i - cand; if l == maxLen { break } }
                    }
                    let next = prev[cand & (window - 1)]
                    if next >= cand { break }  // a slot reused by a newer position
                    cand = next
                    chain += 1
                }
            }
            if bestLen >= 3 {
                writeMatch(bestLen, bestDist, &w)
                for k in 0..<bestLen { insert(i + k) }
                i += bestLen
            } else {
                w.symbol(Int(data[i]))
                insert(i)
                i += 1
            }
        }
    }

    static func writeMatch(_ length: Int, _ distance: Int, _ w: inout BitWriter) {
        var li = lengthBase.count - 1
        while lengthBase[li] > length { li -= 1 }
        w.symbol(257 + li)
        if lengthExtra[li] > 0 { w.bits(UInt32(length - lengthBase[li]), lengthExtra[li]) }
        var di = distBase.count - 1
        while distBase[di] > distance { di -= 1 }
        w.huffman(UInt32(di), 5)  // fixed distance codes: 5 bits, most significant first
        if distExtra[di] > 0 { w.bits(UInt32(distance - distBase[di]), distExtra[di]) }
    }

    /// Writes bits least significant first (deflate's order), Huffman codes most significant first.
    struct BitWriter {
        var bytes: [UInt8] = []
        var acc: UInt64 = 0
        var count = 0

        mutating func bits(_ value: UInt32, _ n: Int) {
            acc |= UInt64(value) << UInt64(count)
            count += n
            while count >= 8 { bytes.append(UInt8(acc & 0xFF)); acc >>= 8; count -= 8 }
        }

        /// A Huffman code of `n` bits, most significant bit first.
        mutating func huffman(_ code: UInt32, _ n: Int) {
            var r: UInt32 = 0
            for k in 0..<n { r |= ((code >> UInt32(k)) & 1) << UInt32(n - 1 - k) }
            bits(r, n)
        }

        /// A literal/length symbol 0…287 in the fixed code.
        mutating func symbol(_ s: Int) {
            switch s {
            case 0...143: huffman(UInt32(0x30 + s), 8)
            case 144...255: huffman(UInt32(0x190 + s - 144), 9)
            case 256...279: huffman(UInt32(s - 256), 7)
            default: huffman(UInt32(0xC0 + s - 280), 8)
            }
        }

        mutating func flush() {
            if count > 0 { bytes.append(UInt8(acc & 0xFF)); acc = 0; count = 0 }
        }
    }
}
