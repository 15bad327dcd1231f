"""Helpers shared by the swiftcnn modules: array conversion and argument normalisation."""
from __future__ import annotations

import numbers
import operator
import os
import tempfile
from collections.abc import Mapping
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np

from . import _swiftcnn as _c

IntOrPair = Union[int, Tuple[int, int], Sequence[int]]

# dtype kinds converted to float32: floating point, signed and unsigned integers.
_REAL_KINDS = "fiu"


def write_atomic(path: str, data: bytes) -> None:
    """Writes ``data`` to ``path`` through a temporary file in the same folder, synced and
    renamed over it: the file is the old one or the new one, never a part, and a failed write
    leaves no temporary file behind."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def is_torch_tensor(x: Any) -> bool:
    """Whether `x` is a PyTorch tensor (or Parameter), told by its type's module without
    importing torch."""
    mod = getattr(type(x), "__module__", "") or ""
    return (mod == "torch" or mod.startswith("torch.")) and hasattr(x, "detach") and hasattr(x, "numpy")


def from_torch(x: Any) -> Any:
    """`x` as a numpy array when it is a PyTorch tensor, else `x` unchanged.

    A tensor is taken as it is: detached (``requires_grad`` is fine), copied to the CPU if it
    lives elsewhere, floating-point dtypes numpy lacks or that are not float32 (bfloat16,
    float16, float64, float8) converted to float32 by torch (``.float()``), then
    ``.numpy()`` -- a view of a CPU float32 tensor, strided if the tensor is
    (non-contiguous tensors are copied later, by the caller's float32 conversion). Integer
    tensors keep their dtype (so uint8 pixels stay uint8). torch is never imported here.
    """
    if not is_torch_tensor(x):
        return x
    t = x.detach()
    t = t.cpu()
    for fix in ("resolve_conj", "resolve_neg"):  # lazy conjugate / negative views
        f = getattr(t, fix, None)
        if f is not None:
            t = f()
    dtype = getattr(t, "dtype", None)
    if getattr(dtype, "is_floating_point", False) and str(dtype) != "torch.float32":
        t = t.float()
    return t.numpy()


def as_f32(x: Any, name: str = "input") -> np.ndarray:
    """`x` as a C-contiguous, aligned float32 numpy array.

    A float32 C-contiguous aligned ndarray is returned as is (the library then reads it
    without a copy). Other real dtypes (float16/64, signed and unsigned integers) and
    non-contiguous layouts are converted with a copy. Bool, complex, object, string,
    datetime and structured dtypes are refused with TypeError. PyTorch tensors are taken as
    they are (see :func:`from_torch`: detached, on the CPU, bfloat16 and float16 included).
    """
    if isinstance(x, np.ndarray) and x.dtype == np.float32 and x.flags.c_contiguous and x.flags.aligned:
        return x
    a = np.asarray(from_torch(x))
    if a.dtype.kind not in _REAL_KINDS:
        raise TypeError(f"{name}: expected an array of real numbers (a float or integer dtype), "
                        f"got dtype {a.dtype}")
    return np.require(a, dtype=np.float32, requirements=["C", "A"])


def as_optional_f32(x: Any, name: str) -> Optional[np.ndarray]:
    return None if x is None else as_f32(x, name)


def out(t: "_c.TensorBuffer") -> np.ndarray:
    """A zero-copy numpy view of a library result (the view keeps the result alive)."""
    return np.asarray(t)


def as_int(v: Any, name: str) -> int:
    """`v` as a Python int; floats, bools and other non-integers raise TypeError."""
    if isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{name}: expected an integer, got bool")
    try:
        return operator.index(v)
    except TypeError:
        raise TypeError(f"{name}: expected an integer, got {type(v).__name__}") from None


def as_float(v: Any, name: str) -> float:
    """`v` as a Python float. Numbers (and objects with __float__) are converted; str and
    bytes, which float() would parse, and other non-numbers raise TypeError."""
    if isinstance(v, (str, bytes, bytearray)):
        raise TypeError(f"{name}: expected a number, got {type(v).__name__}")
    try:
        return float(v)
    except TypeError:
        raise TypeError(f"{name}: expected a number, got {type(v).__name__}") from None


def as_shape(v: Any, name: str) -> Tuple[int, ...]:
    """A shape as a tuple of ints: a sequence (or iterable) of integers. str, bytes (whose
    items would read as ints), mappings, bools and floats raise TypeError; the library checks
    the rank and the values."""
    if isinstance(v, (str, bytes, bytearray, Mapping)):
        raise TypeError(f"{name}: expected a sequence of integers, got {type(v).__name__}")
    try:
        items = tuple(v)
    except TypeError:
        raise TypeError(f"{name}: expected a sequence of integers, got {type(v).__name__}") from None
    return tuple(as_int(d, f"{name}[{i}]") for i, d in enumerate(items))


def pair(v: Any, name: str) -> Tuple[int, int]:
    """An int or a pair of ints as (h, w)."""
    if isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)):
        i = int(v)
        return (i, i)
    if isinstance(v, (str, bytes)) or not isinstance(v, (Sequence, np.ndarray)):
        raise TypeError(f"{name}: expected an int or a pair of ints, got {type(v).__name__}")
    if len(v) != 2:
        raise ValueError(f"{name}: expected an int or a pair of ints, got {len(v)} values")
    return (as_int(v[0], name), as_int(v[1], name))


def choice(value: Any, choices: Sequence[str], name: str) -> int:
    """The index of `value` among `choices` (strings, case-sensitive)."""
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected one of {', '.join(repr(c) for c in choices)}, "
                        f"got {type(value).__name__}")
    try:
        return list(choices).index(value)
    except ValueError:
        raise ValueError(f"{name}: expected one of {', '.join(repr(c) for c in choices)}, "
                         f"got {value!r}") from None
