// PLACEHOLDER (area C, images and filters): Area A owns this file and defines the namespaces
// below together with `KernelDispatch`. Only the two namespaces are declared here so that the
// filter reference kernel compiles on its own; on merge, keep Area A's version of this file.

/// Namespace of the naive reference kernels: the oracle every optimized kernel is tested against.
public enum Reference {}

/// Namespace of the optimized kernels.
public enum Optimized {}
