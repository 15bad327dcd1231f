/// "swiftcnn seeded init v1": the deterministic weight generator that scripts/weightgen.py
/// implements identically in Python, so that a model built in PyTorch and the same model
/// built here get bit-identical float32 weights, and the committed fixtures (expected
/// logits only) can be checked without committing weights.
///
/// For a tensor named NAME with n elements, element i (0-based, row-major) is drawn from
///
///     s = fnv1a64(UTF-8 bytes of NAME) XOR seed
///     z = mix(s + (i + 1) · 0x9E3779B97F4A7C15)          (mod 2^64: splitmix64, counter-based)
///     u = Float(z >> 40) · 2^-24                          (uniform in [0, 1), exact in float32)
///     value = Float(lo) + Float(hi − lo) · u              (lo, hi − lo computed in float64 and
///                                                          rounded to float32 once each; then one
///                                                          float32 multiply and one float32 add,
///                                                          never fused)
///
/// with mix(z): z = (z ^ (z >> 30)) · 0xBF58476D1CE4E5B9; z = (z ^ (z >> 27)) · 0x94D049BB133111EB;
/// z ^ (z >> 31), and fnv1a64: h = 0xcbf29ce484222325; for each byte h ^= b; h *= 0x100000001b3.
///
/// The range [lo, hi) depends on the name's last component and the rank
/// (``range(forParameter:shape:)``): `weight` of rank >= 2 → ±sqrt(6 / fan_in) with
/// fan_in = product of shape[1...]; `weight` of rank 1 (batch-norm γ, LeNet's subsampling
/// coefficients) → [0.5, 1.5); `bias` → ±0.1; `running_mean` → ±0.1; `running_var` → [0.5, 1.5).
/// `num_batches_tracked` is never generated. A model input is the tensor named "input" in
/// [−1, 1); LeNet-5's RBF codes are ±1 (+1 where u ≥ 0.5), named "rbf.codes".
public enum SeededInit {
    /// The generator's name, as recorded in fixture metadata.
    public static let version = "swiftcnn seeded init v1"

    /// FNV-1a, 64-bit, of the UTF-8 bytes of `s`.
    public static func fnv1a64(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        return h
    }

    /// splitmix64's finalizer.
    @inline(__always)
    public static func mix(_ z0: UInt64) -> UInt64 {
        var z = z0
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The 64 random bits of element `index` of the tensor `name`.
    public static func bits(name: String, seed: UInt64 = 0, index: Int) -> UInt64 {
        let s = fnv1a64(name) ^ seed
        return mix(s &+ UInt64(truncatingIfNeeded: index &+ 1) &* 0x9E37_79B9_7F4A_7C15)
    }

    /// Element `index` of the tensor `name` as a uniform float in [0, 1).
    public static func uniform(name: String, seed: UInt64 = 0, index: Int) -> Float {
        unit(bits(name: name, seed: seed, index: index))
    }

    @inline(__always)
    static func unit(_ z: UInt64) -> Float {
        Float(z >> 40) * 0x1p-24
    }

    /// The range [lo, hi) of a state-dict entry, or nil for entries that are not generated
    /// (`num_batches_tracked`, unknown suffixes).
    public static func range(forParameter name: String, shape: [Int]) -> (lo: Double, hi: Double)? {
        let last = name.split(separator: ".").last.map(String.init) ?? name
        switch last {
        case "weight":
            if shape.count >= 2 {
                var fanIn = 1.0
                for d in shape.dropFirst() { fanIn *= Double(d) }
                let b = (6.0 / fanIn).squareRoot()
                return (-b, b)
            }
            return (0.5, 1.5)
        case "bias", "running_mean":
            return (-0.1, 0.1)
        case "running_var":
            return (0.5, 1.5)
        default:
            return nil
        }
    }

    /// A tensor of `shape` whose elements are uniform in [lo, hi) as described above.
    /// Bounds that are not finite, out of order, or whose values would not be finite in
    /// float32 (e.g. ±1e300, or a span beyond float32's range) are an `.invalidArgument` error.
    public static func tensor(name: String, shape: [Int], lo: Double, hi: Double, seed: UInt64 = 0) throws -> Tensor {
        let loF = Float(lo)
        let spanF = Float(hi - lo)
        // Every element lies between loF and the value of the largest draw (float32
        // arithmetic is monotonic): both finite means every element is.
        let top = loF + spanF * (Float(0xFF_FFFF) * 0x1p-24)
        guard lo.isFinite, hi.isFinite, lo <= hi, loF.isFinite, spanF.isFinite, top.isFinite else {
            throw SwiftCNNError.invalidArgument(
                "seeded tensor: the bounds [\(lo), \(hi)) must be finite, ordered, and give float32 values that are finite")
        }
        var t = try Tensor(zeros: shape)
        let s = fnv1a64(name) ^ seed
        try t.withUnsafeMutableBufferPointer { buf in
            guard var p = buf.baseAddress else { return }
            let end = p + buf.count
            var z = s
            while p < end {
                z = z &+ 0x9E37_79B9_7F4A_7C15
                var m = z
                m = (m ^ (m >> 30)) &* 0xBF58_476D_1CE4_E5B9
                m = (m ^ (m >> 27)) &* 0x94D0_49BB_1331_11EB
                m ^= m >> 31
                let u = Float(m >> 40) * 0x1p-24
                let scaled = spanF * u   // one float32 multiply, then one add: never fused
                p.pointee = loF + scaled
                p += 1
            }
        }
        return t
    }

    /// The generated value of a state-dict entry (see ``range(forParameter:shape:)``);
    /// an `.invalidArgument` error for a name the generator has no rule for.
    public static func parameter(name: String, shape: [Int], seed: UInt64 = 0) throws -> Tensor {
        guard let r = range(forParameter: name, shape: shape) else {
            throw SwiftCNNError.invalidArgument("seeded init: no rule for parameter \"\(name)\"")
        }
        return try tensor(name: name, shape: shape, lo: r.lo, hi: r.hi, seed: seed)
    }

    /// The fixtures' model input: the tensor "input", uniform in [−1, 1).
    public static func input(shape: [Int], seed: UInt64 = 0) throws -> Tensor {
        try tensor(name: "input", shape: shape, lo: -1, hi: 1, seed: seed)
    }

    /// ±1 codes: +1 where the uniform draw is >= 0.5, else −1 (LeNet-5's RBF codes).
    public static func signs(name: String, shape: [Int], seed: UInt64 = 0) throws -> Tensor {
        var t = try Tensor(zeros: shape)
        let s = fnv1a64(name) ^ seed
        try t.withUnsafeMutableBufferPointer { buf in
            var counter = s
            for i in 0..<buf.count {
                counter = counter &+ 0x9E37_79B9_7F4A_7C15
                buf[i] = unit(mix(counter)) >= 0.5 ? 1 : -1
            }
        }
        return t
    }
}
