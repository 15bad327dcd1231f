/// Naive reference kernels: direct loops over raw pointers and a validated geometry.
///
/// They are slow on purpose and stay forever as the oracle that optimized kernels are
/// tested against. Every function here expects its geometry to have been validated by
/// the public op that calls it.
public enum Reference {}

/// Optimized kernels. Same contracts as their ``Reference`` twins.
public enum Optimized {}
