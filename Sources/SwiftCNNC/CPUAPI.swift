import SwiftCNN

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - CPU features

/// The kernel path this library was compiled for: "avx512" (the AVX-512 variant of the
/// portable library, compilation condition SCNN_ISA_AVX512), "avx2" (the AVX2 + FMA
/// variant, SCNN_AVX2) or "native" (a single non-portable build for the build machine).
#if SCNN_AVX2
private let kernelPath = "avx2"
#elseif SCNN_ISA_AVX512
private let kernelPath = "avx512"
#else
private let kernelPath = "native"
#endif

/// The CPU features that matter to the kernels, in the order they are reported
/// (Linux's /proc/cpuinfo names).
private let relevantFeatures = [
    "sse4_2", "avx", "avx2", "fma", "f16c", "bmi2",
    "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "avx512_vnni", "avx512_bf16",
]

/// The relevant flags of /proc/cpuinfo's first "flags" line, space-separated; "" when the
/// file cannot be read.
private func cpuinfoFeatures() -> String {
    guard let file = fopen("/proc/cpuinfo", "r") else { return "" }
    defer { fclose(file) }
    var line: UnsafeMutablePointer<CChar>? = nil
    var capacity = 0
    defer { free(line) }
    while getline(&line, &capacity, file) > 0 {
        guard let line else { break }
        let text = String(cString: line)
        guard text.hasPrefix("flags") else { continue }
        guard let colon = text.firstIndex(of: ":") else { break }
        let present = Set(text[text.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }))
        return relevantFeatures.filter { present.contains(Substring($0)) }.joined(separator: " ")
    }
    return ""
}

/// The description, built once (a malloc'd C string that lives as long as the process).
/// Written once (a lazily initialized global), then only read.
nonisolated(unsafe) private let cpuFeaturesText: UnsafePointer<CChar>? = {
    let text = "\(kernelPath) (cpu: \(cpuinfoFeatures()))"
    return strdup(text).map { UnsafePointer($0) }
}()

/// The kernel path in use and the CPU's relevant features, as one static string:
/// `PATH (cpu: FEATURE FEATURE ...)`, optionally followed by `; NOTE`.
///
/// PATH is the kernel path in use: "avx512" (AVX-512 F/CD/BW/DQ/VL, 16-lane kernels),
/// "avx2" (AVX2 + FMA, 8-lane kernels), "native" (a non-portable build compiled for
/// the build machine's CPU), or "none" (the portable library found no variant this CPU
/// can run; every other call then fails). FEATURES are the CPU's relevant features by
/// their Linux names (sse4_2 avx avx2 fma f16c bmi2 avx512f avx512cd avx512bw avx512dq
/// avx512vl avx512_vnni avx512_bf16), those present only. The portable library reads
/// them with cpuid and adds a NOTE when it did not take the path asked for with
/// SCNN_ISA, or why no path could be loaded, e.g.
/// "avx2 (cpu: sse4_2 avx avx2 fma f16c bmi2); SCNN_ISA=avx512 ignored: the CPU lacks avx512f".
/// The string is never freed.
@c(scnn_cpu_features)
public func scnnCPUFeatures() -> UnsafePointer<CChar> {
    cpuFeaturesText ?? cString("unknown (cpu: )")
}
