extension Reference {
    /// 1-D correlation of a long signal with a short one, numpy's layout (accumulates in Double).
    ///
    /// - long:   `[g.long]`
    /// - short:  `[g.short]`, read reversed when `reverseShort` (convolution)
    /// - output: `[g.outputLength]`, every element written; reversed at the end when `reverseOutput`
    ///
    /// out[i] = Σ_j long[i − padLeft + j] · short'[j] over 0 <= i − padLeft + j < long.
    public static func correlate1d(_ g: Conv1DGeometry, long: UnsafePointer<Float>, short: UnsafePointer<Float>,
                                   reverseShort: Bool, reverseOutput: Bool, output: UnsafeMutablePointer<Float>) {
        for i in 0..<g.outputLength {
            var acc: Double = 0
            let start = i - g.padLeft
            let lo = max(0, -start), hi = min(g.short, g.long - start)
            var j = lo
            while j < hi {
                let s = reverseShort ? short[g.short - 1 - j] : short[j]
                acc += Double(long[start + j]) * Double(s)
                j += 1
            }
            output[reverseOutput ? g.outputLength - 1 - i : i] = Float(acc)
        }
    }
}
