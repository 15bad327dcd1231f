"""swiftcnn -- CNN building blocks from an embeddable Swift library, for numpy.

Every function takes numpy arrays (or anything ``numpy.asarray`` accepts) and returns new
float32 numpy arrays. Arguments follow ``torch.nn.functional`` where they overlap: images
are NCHW (``[N, C, H, W]``, or ``[C, H, W]`` for one image); kernel sizes, strides,
paddings and dilations are an int or an ``(h, w)`` pair.

Arrays in
    A C-contiguous, aligned float32 array is read by the library in place, without a copy.
    Other real dtypes (float16, float64, signed and unsigned integers) and non-contiguous
    layouts (slices, transposes) are converted first with
    ``numpy.require(x, numpy.float32, ["C", "A"])`` -- a copy. Bool, complex, object,
    string, datetime and structured dtypes are refused with TypeError. Tensors have rank 1
    to 4 and every dimension >= 1; others are refused by the library (ValueError).
    PyTorch tensors are taken as they are -- detached (``requires_grad`` is fine), moved to the
    CPU, bfloat16 and float16 converted to float32 -- without swiftcnn importing torch. A
    model's forward refuses uint8 input unless given ``scale=`` (e.g. ``1/255``).

Arrays out
    Results are float32 numpy arrays viewing memory owned by the library (no copy); the
    array keeps that memory alive and may be written to.

Threads
    The GIL is released while the library computes, so calls from several threads run in
    parallel.

Errors
    Every error the library reports is raised as a subclass of :class:`SwiftCNNError`
    carrying the library's message (and ``.status``, the C status code), which is also a
    subclass of the matching built-in exception:

    ======================  =====================  =================================
    exception               also a                 library status
    ======================  =====================  =================================
    InvalidArgumentError    ValueError             SCNN_STATUS_INVALID_ARGUMENT
    ShapeMismatchError      ValueError             SCNN_STATUS_SHAPE_MISMATCH
    OutOfMemoryError        MemoryError            SCNN_STATUS_OUT_OF_MEMORY
    SwiftCNNIOError         OSError                SCNN_STATUS_IO
    FormatError             ValueError             SCNN_STATUS_FORMAT
    UnsupportedError        NotImplementedError    SCNN_STATUS_UNSUPPORTED
    InternalError           RuntimeError           anything else
    ======================  =====================  =================================

    Arguments of the wrong Python type raise TypeError; an int too large for the C
    argument raises OverflowError.

Submodules: :mod:`swiftcnn.image` (pixels, colour, resize, crop),
:mod:`swiftcnn.filters` (classic image filters), :mod:`swiftcnn.viz` (pictures of what a CNN
learns, as PNG/PPM) and :mod:`swiftcnn.models` (the model zoo:
LeNet-5, AlexNet, VGG, GoogLeNet, ResNets with torchvision-compatible safetensors weights).
"""
from __future__ import annotations

from typing import Any, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from . import _swiftcnn as _c
from ._core import as_f32, as_float, as_int, as_optional_f32, choice, out, pair
from ._swiftcnn import (
    FormatError,
    InternalError,
    InvalidArgumentError,
    OutOfMemoryError,
    ShapeMismatchError,
    SwiftCNNError,
    SwiftCNNIOError,
    UnsupportedError,
)

__version__: str = _c.version()
"""The library's version (scnn_version())."""

ABI_VERSION: int = _c.ABI_VERSION
"""The C ABI version the extension was built for; equal to abi_version() (checked at import)."""

__all__ = [
    "Model", "load", "nn",
    "__version__", "ABI_VERSION", "abi_version", "cpu_features", "CPUFeatures", "get_include",
    "SwiftCNNError", "InvalidArgumentError", "ShapeMismatchError", "OutOfMemoryError",
    "SwiftCNNIOError", "FormatError", "UnsupportedError", "InternalError",
    "conv2d", "convolve2d", "correlate1d", "convolve1d",
    "max_pool2d", "avg_pool2d", "global_avg_pool2d", "adaptive_avg_pool2d",
    "relu", "tanh", "sigmoid", "softmax", "local_response_norm", "batch_norm",
    "linear", "flatten", "dropout", "concat", "add",
    "output_size", "receptive_field", "conv2d_parameter_count", "linear_parameter_count",
    "conv2d_macs", "linear_macs",
    "set_reference_kernels", "reference_kernels", "set_num_threads", "get_num_threads", "imagenet_classes",
    "coco_classes",
    "default_num_threads", "profile",
    "read_safetensors", "write_safetensors",
    "image", "filters", "models", "optim", "datasets",
    "viz",
]

ArrayLike = Any
IntOrPair = Union[int, Tuple[int, int], Sequence[int]]

_CONV1D_MODES = ("valid", "same", "full")
_OUTPUT_SIZE_MODES = ("exact", "floor", "ceil")


def abi_version() -> int:
    """The ABI version of the loaded libswiftcnn (scnn_abi_version())."""
    return _c.abi_version()


class CPUFeatures(NamedTuple):
    """What :func:`cpu_features` returns."""

    isa: str
    """The kernel path in use: ``"avx512"`` (AVX-512 F/CD/BW/DQ/VL, 16-lane kernels),
    ``"avx2"`` (AVX2 + FMA, 8-lane kernels), ``"native"`` (a non-portable build for the
    build machine's CPU) or ``"none"`` (no build of the library runs on this CPU; every
    computation then raises UnsupportedError)."""
    features: Tuple[str, ...]
    """The CPU's relevant features by their Linux names, e.g. ``("sse4_2", "avx", "avx2",
    "fma", "f16c", "bmi2", "avx512f", ...)``."""
    note: str
    """Why the path is not the one asked for with the environment variable SCNN_ISA, or why
    no path could be loaded; ``""`` when there is nothing to say."""


def cpu_features() -> CPUFeatures:
    """The kernel path the library uses and the CPU features it saw (scnn_cpu_features()).

    The portable library holds an AVX-512 and an AVX2 build and picks one when it is
    loaded: the widest the CPU runs, or the one named by the environment variable
    ``SCNN_ISA`` (``avx2``, ``avx512`` or ``auto``), set before the library is loaded; a
    path the CPU cannot run is never taken (``note`` says why).
    """
    text = _c.cpu_features()
    head, _, note = text.partition("; ")
    isa, _, rest = head.partition(" (cpu:")
    features = tuple(rest.rstrip(")").split())
    return CPUFeatures(isa, features, note)


def get_include() -> str:
    """The folder holding ``swiftcnn.h``, the C header of the library this package ships.

    A wheel (and ``pip install``) puts the header in the package, beside the library, as
    ``swiftcnn/include/swiftcnn.h``; in a source checkout without it, the repository's
    ``Include`` folder is returned. For C code built against the bundled library::

        cc -I"$(python -c 'import swiftcnn; print(swiftcnn.get_include())')" ...
    """
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    bundled = os.path.join(here, "include")
    if os.path.isfile(os.path.join(bundled, "swiftcnn.h")):
        return bundled
    repo = os.path.normpath(os.path.join(here, "..", "..", "..", "Include"))
    if os.path.isfile(os.path.join(repo, "swiftcnn.h")):
        return repo
    return bundled


# ---- convolution ----------------------------------------------------------------------

def _conv_padding(padding: Any, weight: np.ndarray, stride: Tuple[int, int],
                  dilation: Tuple[int, int]) -> Tuple[int, int, int, int]:
    if isinstance(padding, str):
        mode = choice(padding, ("valid", "same"), "padding")
        if mode == 0:
            return (0, 0, 0, 0)
        if stride != (1, 1):
            raise ValueError(f"padding: 'same' needs stride 1, got stride {stride}")
        if weight.ndim != 4:
            return (0, 0, 0, 0)  # the library reports the weight's rank
        th = dilation[0] * (weight.shape[2] - 1)
        tw = dilation[1] * (weight.shape[3] - 1)
        return (th // 2, th - th // 2, tw // 2, tw - tw // 2)
    if isinstance(padding, (list, tuple, np.ndarray)) and len(padding) == 4:
        return tuple(as_int(p, "padding") for p in padding)  # type: ignore[return-value]
    ph, pw = pair(padding, "padding")
    return (ph, ph, pw, pw)


def _conv(fn: Any, x: ArrayLike, weight: ArrayLike, bias: Optional[ArrayLike], stride: IntOrPair,
          padding: Any, dilation: IntOrPair, groups: int) -> np.ndarray:
    x = as_f32(x, "input")
    weight = as_f32(weight, "weight")
    bias = as_optional_f32(bias, "bias")
    s = pair(stride, "stride")
    d = pair(dilation, "dilation")
    p = _conv_padding(padding, weight, s, d)
    return out(fn(x, weight, bias, s, p, d, as_int(groups, "groups")))


def conv2d(x: ArrayLike, weight: ArrayLike, bias: Optional[ArrayLike] = None, stride: IntOrPair = 1,
           padding: Union[IntOrPair, str] = 0, dilation: IntOrPair = 1, groups: int = 1) -> np.ndarray:
    """2-D cross-correlation, as ``torch.nn.functional.conv2d``.

    ``y[n, o, i, j] = bias[o] + sum_{c, k, l} weight[o, c, k, l] * xpad[n, g*C/groups + c,
    i*sh + k*dh, j*sw + l*dw]`` (g the group of output channel o).

    Args:
        x: ``[N, C, H, W]`` or ``[C, H, W]`` (then the result has no batch axis).
        weight: ``[O, C/groups, KH, KW]``.
        bias: ``[O]`` or None.
        stride, dilation: int or (h, w), >= 1.
        padding: zero padding: int, (h, w), (top, bottom, left, right), ``"valid"`` (0) or
            ``"same"`` (stride 1 only; odd totals put the extra row/column at the bottom/right,
            like PyTorch).
        groups: >= 1, dividing C and O.

    Returns ``[N, O, OH, OW]`` with ``OH = floor((H + top + bottom - dh*(KH-1) - 1)/sh) + 1``.
    Raises ValueError (InvalidArgumentError / ShapeMismatchError) with the library's message
    for bad shapes or parameters, e.g. a kernel larger than the padded input.
    """
    return _conv(_c.conv2d, x, weight, bias, stride, padding, dilation, groups)


def convolve2d(x: ArrayLike, weight: ArrayLike, bias: Optional[ArrayLike] = None, stride: IntOrPair = 1,
               padding: Union[IntOrPair, str] = 0, dilation: IntOrPair = 1, groups: int = 1) -> np.ndarray:
    """True 2-D convolution: :func:`conv2d` with the kernel flipped in both spatial axes.

    Same arguments and result shape as :func:`conv2d`.
    """
    return _conv(_c.convolve2d, x, weight, bias, stride, padding, dilation, groups)


def correlate1d(x: ArrayLike, w: ArrayLike, mode: str = "valid") -> np.ndarray:
    """1-D cross-correlation of two rank-1 arrays, exactly ``numpy.correlate(x, w, mode)``.

    mode: ``"valid"``, ``"same"`` or ``"full"``.
    """
    return out(_c.correlate1d(as_f32(x, "x"), as_f32(w, "w"), choice(mode, _CONV1D_MODES, "mode")))


def convolve1d(x: ArrayLike, w: ArrayLike, mode: str = "valid") -> np.ndarray:
    """1-D convolution of two rank-1 arrays, exactly ``numpy.convolve(x, w, mode)``.

    mode: ``"valid"``, ``"same"`` or ``"full"``.
    """
    return out(_c.convolve1d(as_f32(x, "x"), as_f32(w, "w"), choice(mode, _CONV1D_MODES, "mode")))


# ---- pooling ----------------------------------------------------------------------------

def _pool_args(kernel_size: IntOrPair, stride: Optional[IntOrPair], padding: IntOrPair):
    k = pair(kernel_size, "kernel_size")
    s = None if stride is None else pair(stride, "stride")
    p = pair(padding, "padding")
    return k, s, p


def max_pool2d(x: ArrayLike, kernel_size: IntOrPair, stride: Optional[IntOrPair] = None,
               padding: IntOrPair = 0, ceil_mode: bool = False) -> np.ndarray:
    """2-D max pooling, as ``torch.nn.functional.max_pool2d`` (without dilation/indices).

    Args:
        x: ``[N, C, H, W]`` or ``[C, H, W]``.
        kernel_size: int or (h, w), >= 1.
        stride: int or (h, w); None (default) = kernel_size.
        padding: int or (h, w), symmetric, at most kernel_size/2; padded cells never win.
        ceil_mode: round the output size up (a last window must start inside the input
            or the left padding).
    """
    k, s, p = _pool_args(kernel_size, stride, padding)
    return out(_c.max_pool2d(as_f32(x), k, s, p, bool(ceil_mode)))


def avg_pool2d(x: ArrayLike, kernel_size: IntOrPair, stride: Optional[IntOrPair] = None,
               padding: IntOrPair = 0, ceil_mode: bool = False, count_include_pad: bool = True) -> np.ndarray:
    """2-D average pooling, as ``torch.nn.functional.avg_pool2d``.

    Arguments as :func:`max_pool2d`; ``count_include_pad``: divide by the window size
    including zero padding (True, the default) or by the number of input cells (False).
    Windows that ceil_mode lets run past the padded border are divided by their clipped size.
    """
    k, s, p = _pool_args(kernel_size, stride, padding)
    return out(_c.avg_pool2d(as_f32(x), k, s, p, bool(ceil_mode), bool(count_include_pad)))


def global_avg_pool2d(x: ArrayLike) -> np.ndarray:
    """Mean over H and W: ``[N, C, H, W]`` -> ``[N, C, 1, 1]`` (``[C, H, W]`` -> ``[C, 1, 1]``)."""
    return out(_c.global_avg_pool2d(as_f32(x)))


def adaptive_avg_pool2d(x: ArrayLike, output_size: Union[int, Tuple[Optional[int], Optional[int]]]) -> np.ndarray:
    """Adaptive average pooling to ``output_size``, as ``torch.nn.functional.adaptive_avg_pool2d``.

    Output cell i covers input rows ``floor(i*H/OH)`` to ``ceil((i+1)*H/OH)`` (likewise
    columns). output_size: int or (h, w); None in the pair keeps that input size.
    """
    x = as_f32(x)
    if isinstance(output_size, (tuple, list)) and len(output_size) == 2 and None in output_size:
        if x.ndim < 2:
            raise ValueError(f"output_size: None needs an input with spatial axes, got shape {x.shape}")
        output_size = (x.shape[-2] if output_size[0] is None else output_size[0],
                       x.shape[-1] if output_size[1] is None else output_size[1])
    return out(_c.adaptive_avg_pool2d(x, pair(output_size, "output_size")))


# ---- activations, normalisation, fully connected ---------------------------------------

def relu(x: ArrayLike) -> np.ndarray:
    """``max(x, 0)`` elementwise."""
    return out(_c.relu(as_f32(x)))


def tanh(x: ArrayLike) -> np.ndarray:
    """Hyperbolic tangent elementwise."""
    return out(_c.tanh(as_f32(x)))


def sigmoid(x: ArrayLike) -> np.ndarray:
    """``1 / (1 + exp(-x))`` elementwise, stable for large ``|x|``."""
    return out(_c.sigmoid(as_f32(x)))


def softmax(x: ArrayLike, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax along ``axis`` (negative counts from the end)."""
    return out(_c.softmax(as_f32(x), as_int(axis, "axis")))


def local_response_norm(x: ArrayLike, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> np.ndarray:
    """Local response normalisation across channels (axis 1), as PyTorch's ``LocalResponseNorm``.

    ``b_c = a_c / (k + alpha/size * sum_{c'} a_{c'}^2)^beta`` over the channels
    ``c - size//2 .. c + (size-1)//2`` (zeros outside). x: rank >= 3 (``[N, C, ...]``).
    """
    return out(_c.local_response_norm(as_f32(x), as_int(size, "size"), as_float(alpha, "alpha"),
                                      as_float(beta, "beta"), as_float(k, "k")))


def batch_norm(x: ArrayLike, running_mean: ArrayLike, running_var: ArrayLike,
               weight: Optional[ArrayLike] = None, bias: Optional[ArrayLike] = None,
               eps: float = 1e-5) -> np.ndarray:
    """Batch normalisation with running statistics (inference), per channel (axis 1).

    ``y = (x - mean[c]) / sqrt(var[c] + eps) * weight[c] + bias[c]``; x ``[N, C, ...]``
    (rank 2 to 4), statistics, weight and bias ``[C]`` (weight None = 1, bias None = 0).
    """
    return out(_c.batch_norm(as_f32(x), as_f32(running_mean, "running_mean"),
                             as_f32(running_var, "running_var"), as_optional_f32(weight, "weight"),
                             as_optional_f32(bias, "bias"), as_float(eps, "eps")))


def linear(x: ArrayLike, weight: ArrayLike, bias: Optional[ArrayLike] = None) -> np.ndarray:
    """Fully connected layer ``x @ weight.T + bias``; x ``[N, in]`` or ``[in]``, weight ``[out, in]``."""
    return out(_c.linear(as_f32(x), as_f32(weight, "weight"), as_optional_f32(bias, "bias")))


def flatten(x: ArrayLike, start_axis: int = 1) -> np.ndarray:
    """Merges the axes from ``start_axis`` on into one (``[N, C, H, W]`` -> ``[N, C*H*W]``)."""
    return out(_c.flatten(as_f32(x), as_int(start_axis, "start_axis")))


def dropout(x: ArrayLike, p: float = 0.5, training: bool = False) -> np.ndarray:
    """Dropout at inference: a copy of x. ``p`` must lie in [0, 1).

    ``training=True`` raises UnsupportedError (NotImplementedError): training arrives later.
    """
    if training:
        raise UnsupportedError("dropout: training mode is not supported yet (inference only)")
    return out(_c.dropout(as_f32(x), as_float(p, "p")))


def concat(tensors: Sequence[ArrayLike], axis: int = 1) -> np.ndarray:
    """Concatenates arrays of equal rank along ``axis`` (default 1: channels); the other
    dimensions must agree."""
    try:
        items = list(tensors)
    except TypeError:
        raise TypeError(f"tensors: expected a sequence of arrays, got {type(tensors).__name__}") from None
    return out(_c.concat([as_f32(t, f"tensors[{i}]") for i, t in enumerate(items)], as_int(axis, "axis")))


def add(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Elementwise ``a + b`` of two arrays of the same shape (no broadcasting)."""
    return out(_c.add(as_f32(a, "a"), as_f32(b, "b")))


# ---- shape analysis and counts ----------------------------------------------------------

def output_size(n: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1,
                mode: str = "exact") -> int:
    """Output length of a convolution or pooling: ``(n + 2*padding - dilation*(kernel-1) - 1)/stride + 1``.

    mode ``"exact"`` (default) raises ValueError when the stride does not fit (the message
    shows the fractional result, e.g. 2.33); ``"floor"`` and ``"ceil"`` round.
    """
    return _c.output_size(as_int(n, "n"), as_int(kernel, "kernel"), as_int(stride, "stride"),
                          as_int(padding, "padding"), as_int(dilation, "dilation"),
                          choice(mode, _OUTPUT_SIZE_MODES, "mode"))


def receptive_field(layers: Sequence[Sequence[int]]) -> int:
    """Receptive field, in input pixels, of a stack of conv/pool layers.

    layers: ``(kernel, stride)`` or ``(kernel, stride, dilation)`` per layer, first layer
    first. ``1 + sum_i d_i*(k_i-1) * prod_{j<i} s_j``; two 3x3 stride-1 convolutions see 5;
    an empty list gives 1.
    """
    kernels, strides, dilations = [], [], []
    for i, layer in enumerate(layers):
        if isinstance(layer, (str, bytes)) or not isinstance(layer, (Sequence, np.ndarray)):
            raise TypeError(f"layers[{i}]: expected (kernel, stride) or (kernel, stride, dilation), "
                            f"got {type(layer).__name__}")
        if len(layer) not in (2, 3):
            raise ValueError(f"layers[{i}]: expected (kernel, stride) or (kernel, stride, dilation), "
                             f"got {len(layer)} values")
        kernels.append(as_int(layer[0], f"layers[{i}] kernel"))
        strides.append(as_int(layer[1], f"layers[{i}] stride"))
        dilations.append(as_int(layer[2], f"layers[{i}] dilation") if len(layer) == 3 else 1)
    size, _jump = _c.receptive_field(kernels, strides, dilations)
    return size


def conv2d_parameter_count(in_channels: int, out_channels: int, kernel_size: IntOrPair,
                           groups: int = 1, bias: bool = True) -> int:
    """Weights (and biases) of a conv2d layer: ``out*(in/groups)*KH*KW (+ out)``."""
    kh, kw = pair(kernel_size, "kernel_size")
    return _c.conv2d_parameter_count(as_int(in_channels, "in_channels"), as_int(out_channels, "out_channels"),
                                      kh, kw, as_int(groups, "groups"), bool(bias))


def linear_parameter_count(in_features: int, out_features: int, bias: bool = True) -> int:
    """Weights (and biases) of a linear layer: ``in*out (+ out)``."""
    return _c.linear_parameter_count(as_int(in_features, "in_features"), as_int(out_features, "out_features"),
                                     bool(bias))


def conv2d_macs(in_channels: int, out_channels: int, kernel_size: IntOrPair, output_size: IntOrPair,
                groups: int = 1) -> int:
    """Multiply-accumulates of a conv2d layer per image: ``out*(in/groups)*KH*KW*OH*OW``."""
    kh, kw = pair(kernel_size, "kernel_size")
    oh, ow = pair(output_size, "output_size")
    return _c.conv2d_macs(as_int(in_channels, "in_channels"), as_int(out_channels, "out_channels"),
                          kh, kw, as_int(groups, "groups"), oh, ow)


def linear_macs(in_features: int, out_features: int) -> int:
    """Multiply-accumulates of a linear layer per sample: ``in*out``."""
    return _c.linear_macs(as_int(in_features, "in_features"), as_int(out_features, "out_features"))


# ---- kernel dispatch --------------------------------------------------------------------

def set_reference_kernels(enable: bool) -> None:
    """When True, every op runs its naive reference kernel (the oracle) instead of the
    optimized one; process-wide."""
    _c.set_reference_kernels(bool(enable))


def reference_kernels() -> bool:
    """Whether the reference kernels are forced (see :func:`set_reference_kernels`)."""
    return _c.reference_kernels()


# ---- threads ----------------------------------------------------------------------------

def set_num_threads(n: int) -> None:
    """Threads the library's kernels use, the calling thread included; 0 restores the
    default (:func:`default_num_threads`), 1 starts no threads. Results do not depend on
    it. Set it before work or between calls."""
    _c.set_num_threads(as_int(n, "n"))


def get_num_threads() -> int:
    """Threads the library's kernels use (see :func:`set_num_threads`)."""
    return _c.get_num_threads()


def default_num_threads() -> int:
    """The thread count the library starts with: the environment variable
    ``SCNN_NUM_THREADS`` when it holds a positive integer, else the CPUs this process may
    run on (its affinity mask, e.g. from ``taskset``, lowered to the cgroup CPU quota
    rounded up), at least 1 and at most 256. Read once, when the library starts."""
    return _c.default_num_threads()


# ---- labels ------------------------------------------------------------------------------

def imagenet_classes() -> list:
    """The 1000 ImageNet-1k class labels in torchvision's order (index 0 "tench", 207
    "golden retriever"), for printing a model's top-5: a new list of str."""
    return list(_c.imagenet_classes())


def coco_classes() -> list:
    """The 91 COCO category names in torchvision's detection numbering (0 "__background__",
    1 "person", 3 "car"; unused ids are "N/A"): the labels :meth:`Model.detect` returns for
    the zoo's detectors. A new list of str."""
    return list(_c.coco_classes())


# ---- safetensors files ---------------------------------------------------------------------

def read_safetensors(path: Any, name: str) -> np.ndarray:
    """The tensor ``name`` of a safetensors file as a float32 array (F32, F16, BF16 and F64
    entries of rank 1 to 4 load; scnn_safetensors_read). A missing name raises ValueError,
    an unreadable file OSError, a malformed one FormatError."""
    import os

    if not isinstance(name, str):
        raise TypeError(f"name: expected a str, got {type(name).__name__}")
    return out(_c.safetensors_read(os.fspath(path), name))


def write_safetensors(path: Any, tensors: Any) -> None:
    """Writes ``{name: array}`` (converted to float32, rank 1 to 4) to a safetensors file in
    the mapping's order, atomically (scnn_safetensors_write); numpy's and PyTorch's
    safetensors readers load it."""
    import os
    from collections.abc import Mapping

    if not isinstance(tensors, Mapping) or not tensors:
        raise TypeError("tensors: expected a non-empty mapping of str to arrays")
    names = list(tensors.keys())
    for k in names:
        if not isinstance(k, str):
            raise TypeError(f"tensors: names must be str, got {type(k).__name__}")
    _c.safetensors_write(os.fspath(path), names, [as_f32(tensors[k], k) for k in names])


from . import datasets, filters, image, models, nn, optim  # noqa: E402  (submodules use the names above)
from . import viz  # noqa: E402  (pictures of filters, activations, receptive fields, boxes, label maps)
from .models import Model, load  # noqa: E402
from . import retrieval  # noqa: E402  (swiftcnn.retrieval: Index, precision_at_k)
from . import profile  # noqa: E402  (swiftcnn.profile: Profile, ProfileRow from Model.profile)
