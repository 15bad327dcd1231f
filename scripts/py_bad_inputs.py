#!/usr/bin/env python3
"""Bad-input sweep of swiftcnn's Python API (`make check-bad-inputs-py`).

Every public function of the installed ``swiftcnn`` package and its submodules (found by
introspection: ``__all__`` of swiftcnn, image, filters, models, optim, datasets, retrieval, plus the
public methods of the classes they export) is called with bad inputs. Each case runs in a
forked child with a timeout, so a crash (the child killed by a signal, or gone without
answering) or a hang (no answer within --timeout seconds) is counted instead of ending the
sweep. Children run under a 4 GiB address-space limit (an impossible allocation fails as on
a small machine instead of swapping this one).

Families of cases (named after the area in each failure line):
  layout  transposed, Fortran order, negative strides, strided slices, interior views,
          zero strides (np.broadcast_to), read-only arrays and memmaps, unaligned data,
          big-endian data, odd strides on length-1 axes, ndarray subclasses, objects with
          __array__, memoryviews, lists: the result must be BIT-IDENTICAL (np.array_equal
          of the bytes, same dtype and shape) to the result for a fresh C-contiguous array
          of the same values -- or a clear exception.
  dtype   float16, float64, longdouble, int8/32/64, uint8/64, bool, complex64, object,
          str, datetime64: correct (equal to the result for the values converted to the
          canonical dtype) or a clear exception; complex (non-zero imaginary parts), str,
          datetime and object-of-str arrays must be refused.
  rank    ranks 0 to 9; empty dimensions (a 0 in the shape); NaN/Inf/denormal/huge values.
  huge    shapes of 2**40 and more without memory (as_strided with zero strides), huge
          sizes for generators (filters, seeded_tensor, resize, num_classes, ...), shape
          queries (output_shape, summary, macs, workspace_bytes) with huge batches and
          images, counts whose true value overflows int64: a clear exception, or exactly
          the right value.
  type    None, str, bytes, list, dict, object(), objects whose __array__ / __index__ /
          __float__ / __bool__ / __fspath__ raise, NaN/Inf for float hyper-parameters,
          bool or float where an int is expected, ints beyond int64; plus types that must
          be accepted as equivalent (numpy scalars, lists for tuples, ...).
  domain  negative and zero sizes, strides, kernels, out-of-range axes, probabilities,
          learning rates, unknown names: must raise.
  path    str, bytes, os.PathLike (str and bytes), non-ASCII, non-UTF-8 bytes and
          surrogate-escaped str names for Model.save/load, optimizer checkpoints and
          safetensors files: a save creates exactly os.fsencode(path) on disk (checked with
          os.listdir(b".")) and loads back identically; a load reads the file of exactly
          that name. Directories, FIFOs without a writer, /dev/zero, /dev/null, missing,
          empty, truncated and malformed files, embedded NULs, over-long names, symlink
          loops: a clear exception, no hang, no leftover temporary file, and the model left
          unchanged by a failed load.

A clear exception is a ValueError, TypeError, OSError, MemoryError, OverflowError,
RuntimeError, KeyError, IndexError, NotImplementedError or ArithmeticError (or the test's own
exception raised by a bad argument's method) with a non-empty message; SystemError, an
empty message or any other type is a "bad-error". After every case the child also checks
that the library still works (relu of a small array), which catches an exception left set
by a call that returned normally.

Output: a table (one row per function or area: cases, passed, crash, hang, bad-error,
wrong-result, skipped), the details of every failure, then the closing line
``N passed, N failed`` (``, N skipped`` appended when cases were skipped, each skip with its
reason). The exit status is 1 when any case failed, 2 when the self-test failed.

A public function missing from the hint table (SPECS) still gets the generic wrong-type calls
and is reported as skipped ("no entry in the hint table"); so is an argument without a kind.
A harness self-test runs first (a crash, a hang, a SystemError, an empty message, a wrong
result and a file name rewritten to U+FFFD must each be told apart).

Usage: python scripts/py_bad_inputs.py [--jobs N] [--timeout S] [--filter TEXT] [--list]
                                       [--timing] [--no-self-test] [-v]
"""
from __future__ import annotations

import os

# One BLAS thread: forked children must not inherit a thread pool started before fork().
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import collections  # noqa: E402
import importlib.util  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

import swiftcnn  # noqa: E402
from swiftcnn import datasets, filters, image, models, optim  # noqa: E402
from swiftcnn import viz  # noqa: E402
from swiftcnn import retrieval  # noqa: E402

F32 = np.float32
PASS, BAD, WRONG, CRASH, HANG, SKIP = "pass", "bad-error", "wrong-result", "crash", "hang", "skipped"
ADDRESS_SPACE_LIMIT = 4 << 30

# ---- argument objects that misbehave on purpose ---------------------------------------------


class Boom(Exception):
    """Raised by the misbehaving argument objects below; propagating it is fine."""


class RaisingArray:
    def __array__(self, *args, **kwargs):
        raise Boom("__array__ raised on purpose")

    def __repr__(self):
        return "RaisingArray()"


class ArrayReturnsList:
    def __array__(self, *args, **kwargs):
        return [1.0, 2.0]

    def __repr__(self):
        return "ArrayReturnsList()"


class ArrayWrapper:
    """A valid array-like: only __array__."""

    def __init__(self, a):
        self.a = a

    def __array__(self, dtype=None, copy=None):
        return self.a if dtype is None else self.a.astype(dtype)


class RaisingIndex:
    def __index__(self):
        raise Boom("__index__ raised on purpose")

    def __repr__(self):
        return "RaisingIndex()"


class RaisingFloat:
    def __float__(self):
        raise Boom("__float__ raised on purpose")

    def __repr__(self):
        return "RaisingFloat()"


class RaisingBool:
    def __bool__(self):
        raise Boom("__bool__ raised on purpose")

    def __repr__(self):
        return "RaisingBool()"


class LyingSeq:
    """Says it has 4 items, has 2."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i < 2:
            return 1
        raise IndexError(i)

    def __repr__(self):
        return "LyingSeq()"


class RaisingSeq:
    def __len__(self):
        return 4

    def __getitem__(self, i):
        raise Boom("__getitem__ raised on purpose")

    def __iter__(self):
        raise Boom("__iter__ raised on purpose")

    def __repr__(self):
        return "RaisingSeq()"


class FsPath:
    """os.PathLike returning whatever it was given (str or bytes)."""

    def __init__(self, p):
        self.p = p

    def __fspath__(self):
        return self.p

    def __repr__(self):
        return f"FsPath({self.p!r})"


class RaisingPath:
    def __fspath__(self):
        raise Boom("__fspath__ raised on purpose")

    def __repr__(self):
        return "RaisingPath()"


class FakeTorchTensor:
    """Looks like a torch tensor to Model.load_state_dict; detach() raises."""

    def detach(self):
        raise Boom("detach raised on purpose")

    def cpu(self):
        return self


class SubArray(np.ndarray):
    pass


OK_EXCEPTIONS = (ValueError, TypeError, OSError, MemoryError, OverflowError, RuntimeError, KeyError,
                 IndexError, NotImplementedError, ArithmeticError, Boom)

# ---- verdicts (run in the child) ----------------------------------------------------------------


def short(v, n=160):
    if isinstance(v, np.ndarray):
        return f"ndarray {v.dtype} {v.shape}"
    try:
        r = repr(v)
    except Exception as e:  # pragma: no cover
        r = f"<repr failed: {type(e).__name__}>"
    return r if len(r) <= n else r[:n] + "..."


def error_verdict(e):
    """A raised exception: PASS when it is a clear one."""
    name = type(e).__name__
    if isinstance(e, SystemError) or not isinstance(e, OK_EXCEPTIONS):
        return BAD, f"raised {name}: {short(str(e), 300)}"
    if not str(e).strip():
        return BAD, f"raised {name} with an empty message"
    return PASS, f"{name}: {short(str(e), 200)}"


def canon(r):
    """A comparable, bit-exact form of a result."""
    if isinstance(r, np.ndarray):
        return ("ndarray", r.dtype.str, r.shape, r.tobytes())
    if isinstance(r, np.generic):
        return ("scalar", r.dtype.str, r.tobytes())
    if r is None or isinstance(r, (bool, int, str, bytes)):
        return r
    if isinstance(r, float):
        return ("float", struct.pack("<d", r))
    if isinstance(r, dict):
        return ("dict", tuple((k, canon(v)) for k, v in r.items()))
    if isinstance(r, (list, tuple)):
        return (type(r).__name__, tuple(canon(v) for v in r))
    return ("repr", repr(r))


def describe_diff(ref, got, where="result"):
    if isinstance(ref, np.ndarray) and isinstance(got, np.ndarray):
        if ref.dtype != got.dtype or ref.shape != got.shape:
            return f"{where}: {got.dtype} {got.shape}, expected {ref.dtype} {ref.shape}"
        a = ref.reshape(-1).view(np.uint8).reshape(ref.size, -1) if ref.size else ref
        b = got.reshape(-1).view(np.uint8).reshape(got.size, -1) if got.size else got
        bad = np.nonzero(np.any(a != b, axis=1))[0] if ref.size else []
        i = int(bad[0]) if len(bad) else 0
        return (f"{where}: {len(bad)} of {ref.size} elements differ (first at flat index {i}: "
                f"{got.reshape(-1)[i]!r}, expected {ref.reshape(-1)[i]!r})")
    if isinstance(ref, dict) and isinstance(got, dict):
        if list(ref) != list(got):
            return f"{where}: keys {list(got)[:6]}, expected {list(ref)[:6]}"
        for k in ref:
            if canon(ref[k]) != canon(got[k]):
                return describe_diff(ref[k], got[k], f"{where}[{k!r}]")
    if isinstance(ref, (list, tuple)) and isinstance(got, (list, tuple)) and len(ref) == len(got):
        for i, (x, y) in enumerate(zip(ref, got)):
            if canon(x) != canon(y):
                return describe_diff(x, y, f"{where}[{i}]")
    return f"{where}: {short(got)}, expected {short(ref)}"


def expect_raise(thunk, after=None):
    """The call must raise a clear exception; `after()` may then report a broken state."""
    try:
        r = thunk()
    except Exception as e:
        v = error_verdict(e)
        if v[0] == PASS and after is not None:
            problem = after()
            if problem:
                return WRONG, f"{v[1]}; but then: {problem}"
        return v
    return WRONG, f"accepted, returned {short(r)}"


def expect_clean(thunk):
    """Any result, or a clear exception."""
    try:
        thunk()
    except Exception as e:
        return error_verdict(e)
    return PASS, "ok"


def expect_same(ref_thunk, thunk, may_refuse=True):
    """thunk() must give exactly ref_thunk()'s result (or, with may_refuse, a clear exception)."""
    try:
        ref = ref_thunk()
    except Exception as e:
        return BAD, f"the baseline call failed: {type(e).__name__}: {short(str(e), 300)}"
    try:
        got = thunk()
    except Exception as e:
        v = error_verdict(e)
        if v[0] == PASS and not may_refuse:
            return BAD, f"refused a valid argument: {v[1]}"
        return v
    if canon(got) != canon(ref):
        return WRONG, describe_diff(ref, got)
    return PASS, "same result"


def expect_value(thunk, check):
    """A clear exception, or a result for which check(result) returns None (else a complaint)."""
    try:
        r = thunk()
    except Exception as e:
        return error_verdict(e)
    problem = check(r)
    return (WRONG, problem) if problem else (PASS, "right value")


# ---- small deterministic inputs --------------------------------------------------------------------


def rnd(shape, seed, lo=-1.0, hi=1.0):
    return np.random.default_rng(seed).uniform(lo, hi, size=shape).astype(F32)


def labels(n, seed=0, k=4):
    return np.random.default_rng(seed).integers(0, k, size=n).astype(np.int64)


def pixels(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=shape).astype(np.uint8)


def lenet():
    return models.lenet5()


def state(m):
    return m.state_dict()


def sgd(m):
    return optim.SGD(m, 0.05, momentum=0.9)


DEFAULT = type("Default", (), {"__repr__": lambda s: "DEFAULT"})()  # "build the usual one" sentinel


# ---- the hint table: valid baselines and argument kinds ------------------------------------------
#
# Kinds: T float tensor, L label array, U8 uint8 pixels, IMG an image (a float tensor, but uint8
# means pixels read as value/255, so its uint8 case only has to run cleanly), PX pixels (uint8,
# but floats are taken as already scaled: their cases only have to run cleanly) (tensor
# kinds); I int, U64 uint64 seed,
# P int or (h, w); F float where NaN must be refused, F+ float that must be finite, F~ any
# float; B bool; S one of a few strings; N a name that must exist; STR any str; SHAPE a shape
# sequence (SHAPE4 exactly [N, C, H, W]); SEQF sequence of floats; PAIRF pair of floats;
# PATH a file name; MODEL; OPT an optimizer; OPTS an optimizer or its name; ANY anything.
# A trailing "?" means None is valid too. Arguments the generic sweep cannot build (containers)
# are listed in `covered`: explicit cases below test them.

TENSOR_KINDS = ("T", "L", "U8", "IMG", "PX")


class Spec:
    def __init__(self, name, fn, args, kinds, call=None, invalid=None, covered=(), self_arg=False):
        self.name = name
        self.fn = fn
        self.args = args if args is not None else (lambda: {})
        self.kinds = kinds
        self.call = call if call is not None else (lambda a, fn=fn: fn(**a))
        self.invalid = invalid or {}
        self.covered = set(covered)
        self.self_arg = self_arg


SPECS = {}


def spec(name, fn, args=None, kinds=None, **kw):
    SPECS[name] = Spec(name, fn, args, kinds or {}, **kw)


def _conv_args():
    return dict(x=rnd((1, 2, 5, 5), 1), weight=rnd((3, 2, 3, 3), 2), bias=rnd(3, 3), stride=1, padding=1,
                dilation=1, groups=1)


_CONV_KINDS = dict(x="T", weight="T", bias="T?", stride="P", padding="P", dilation="P", groups="I")
_CONV_INVALID = dict(stride=[0, -1, (1, 0)], padding=[-1, (0, -1), (0, 0, 0, -1), "full"], dilation=[0, -1, (1, 0)],
                     groups=[0, -1, 3])
spec("conv2d", swiftcnn.conv2d, _conv_args, _CONV_KINDS, invalid=_CONV_INVALID)
spec("convolve2d", swiftcnn.convolve2d, _conv_args, _CONV_KINDS, invalid=_CONV_INVALID)
for _n in ("correlate1d", "convolve1d"):
    spec(_n, getattr(swiftcnn, _n), lambda: dict(x=rnd(7, 4), w=rnd(3, 5), mode="same"),
         dict(x="T", w="T", mode="S"), invalid=dict(mode=["SAME", "", "bogus"]))
spec("max_pool2d", swiftcnn.max_pool2d,
     lambda: dict(x=rnd((1, 2, 6, 6), 6), kernel_size=2, stride=None, padding=1, ceil_mode=False),
     dict(x="T", kernel_size="P", stride="P?", padding="P", ceil_mode="B"),
     invalid=dict(kernel_size=[0, -1, (2, 0)], stride=[0, -1], padding=[-1, 2]))
spec("avg_pool2d", swiftcnn.avg_pool2d,
     lambda: dict(x=rnd((1, 2, 6, 6), 7), kernel_size=3, stride=2, padding=1, ceil_mode=True,
                  count_include_pad=False),
     dict(x="T", kernel_size="P", stride="P?", padding="P", ceil_mode="B", count_include_pad="B"),
     invalid=dict(kernel_size=[0, -1], stride=[0, -1], padding=[-1, 2]))
spec("global_avg_pool2d", swiftcnn.global_avg_pool2d, lambda: dict(x=rnd((1, 2, 3, 4), 8)), dict(x="T"))
spec("adaptive_avg_pool2d", swiftcnn.adaptive_avg_pool2d,
     lambda: dict(x=rnd((1, 2, 7, 7), 9), output_size=(3, 2)), dict(x="T", output_size="P"),
     invalid=dict(output_size=[0, -1, (0, 1), (1, -1)]))
for _n in ("relu", "tanh", "sigmoid"):
    spec(_n, getattr(swiftcnn, _n), lambda: dict(x=rnd((2, 3, 4), 10, -3, 3)), dict(x="T"))
spec("softmax", swiftcnn.softmax, lambda: dict(x=rnd((2, 5), 11, -3, 3), axis=-1), dict(x="T", axis="I"),
     invalid=dict(axis=[2, -3, 2 ** 31]))
spec("local_response_norm", swiftcnn.local_response_norm,
     lambda: dict(x=rnd((1, 4, 3, 3), 12), size=3, alpha=1e-2, beta=0.75, k=1.0),
     dict(x="T", size="I", alpha="F~", beta="F~", k="F~"), invalid=dict(size=[0, -1]))
spec("batch_norm", swiftcnn.batch_norm,
     lambda: dict(x=rnd((2, 3, 4, 4), 13), running_mean=rnd(3, 14), running_var=rnd(3, 15, 0.5, 2.0),
                  weight=rnd(3, 16), bias=rnd(3, 17), eps=1e-5),
     dict(x="T", running_mean="T", running_var="T", weight="T?", bias="T?", eps="F"),
     invalid=dict(eps=[-1.0]))
spec("linear", swiftcnn.linear, lambda: dict(x=rnd((2, 5), 18), weight=rnd((4, 5), 19), bias=rnd(4, 20)),
     dict(x="T", weight="T", bias="T?"))
spec("flatten", swiftcnn.flatten, lambda: dict(x=rnd((2, 3, 2, 2), 21), start_axis=1), dict(x="T", start_axis="I"),
     invalid=dict(start_axis=[4, -5]))
spec("dropout", swiftcnn.dropout, lambda: dict(x=rnd((2, 3), 22), p=0.25, training=False),
     dict(x="T", p="F+", training="B"), invalid=dict(p=[1.0, -0.1, 2.0]))
spec("concat", swiftcnn.concat, lambda: dict(t0=rnd((1, 2, 3, 3), 23), t1=rnd((1, 3, 3, 3), 24), axis=1),
     dict(t0="T", t1="T", axis="I"), call=lambda a: swiftcnn.concat([a["t0"], a["t1"]], axis=a["axis"]),
     invalid=dict(axis=[4, -5, 0]), covered=("tensors",))
spec("add", swiftcnn.add, lambda: dict(a=rnd((2, 3), 25), b=rnd((2, 3), 26)), dict(a="T", b="T"))
spec("output_size", swiftcnn.output_size, lambda: dict(n=10, kernel=3, stride=2, padding=1, dilation=1, mode="floor"),
     dict(n="I", kernel="I", stride="I", padding="I", dilation="I", mode="S"),
     invalid=dict(n=[-1, 0], kernel=[0, -1, 30], stride=[0, -1], padding=[-1], dilation=[0, -1], mode=["bogus", ""]))
spec("receptive_field", swiftcnn.receptive_field, lambda: dict(layers=[(3, 1), (3, 2, 2)]), {}, covered=("layers",))
spec("conv2d_parameter_count", swiftcnn.conv2d_parameter_count,
     lambda: dict(in_channels=4, out_channels=6, kernel_size=3, groups=2, bias=True),
     dict(in_channels="I", out_channels="I", kernel_size="P", groups="I", bias="B"),
     invalid=dict(in_channels=[0, -1], out_channels=[0, -1], kernel_size=[0, -1, (3, 0)], groups=[0, -1, 3]))
spec("linear_parameter_count", swiftcnn.linear_parameter_count,
     lambda: dict(in_features=5, out_features=4, bias=True), dict(in_features="I", out_features="I", bias="B"),
     invalid=dict(in_features=[0, -1], out_features=[0, -1]))
spec("conv2d_macs", swiftcnn.conv2d_macs,
     lambda: dict(in_channels=4, out_channels=6, kernel_size=3, output_size=(5, 4), groups=2),
     dict(in_channels="I", out_channels="I", kernel_size="P", output_size="P", groups="I"),
     invalid=dict(in_channels=[0, -1], groups=[0, 3], kernel_size=[0], output_size=[0, -1]))
spec("linear_macs", swiftcnn.linear_macs, lambda: dict(in_features=5, out_features=4),
     dict(in_features="I", out_features="I"), invalid=dict(in_features=[0, -1], out_features=[-1]))


def _ref_kernels(a):
    swiftcnn.set_reference_kernels(a["enable"])
    return swiftcnn.reference_kernels()


def _threads(a):
    swiftcnn.set_num_threads(a["n"])
    return swiftcnn.get_num_threads(), swiftcnn.relu(rnd(1000, 1)).tobytes()


spec("set_reference_kernels", swiftcnn.set_reference_kernels, lambda: dict(enable=True), dict(enable="B"),
     call=_ref_kernels)
spec("reference_kernels", swiftcnn.reference_kernels)
spec("set_num_threads", swiftcnn.set_num_threads, lambda: dict(n=1), dict(n="I"), call=_threads,
     invalid=dict(n=[-1]))
spec("get_num_threads", swiftcnn.get_num_threads)
spec("default_num_threads", swiftcnn.default_num_threads)
spec("imagenet_classes", swiftcnn.imagenet_classes)
spec("coco_classes", swiftcnn.coco_classes)
spec("abi_version", swiftcnn.abi_version)
spec("get_include", swiftcnn.get_include)


def _write_read(a):
    swiftcnn.write_safetensors("t.safetensors", {"t": a["t"], "u": a["u"]})
    return swiftcnn.read_safetensors("t.safetensors", "t"), swiftcnn.read_safetensors("t.safetensors", "u")


def _read(a):
    swiftcnn.write_safetensors("t.safetensors", {"t": rnd((2, 3), 27)})
    return swiftcnn.read_safetensors(a["path"], a["name"])


spec("write_safetensors", swiftcnn.write_safetensors, lambda: dict(t=rnd((2, 3), 27), u=rnd((1, 2, 2, 2), 28)),
     dict(t="T", u="T"), call=_write_read, covered=("path", "tensors"))
spec("read_safetensors", swiftcnn.read_safetensors, lambda: dict(path="t.safetensors", name="t"),
     dict(path="PATH", name="N"), call=_read, invalid=dict(name=["", "missing", "t\x00"]))

# image
spec("image.to_tensor", image.to_tensor,
     lambda: dict(pixels=pixels((4, 5, 3), 1), mean=[0.5, 0.4, 0.3], std=[0.2, 0.25, 0.3], scale=1 / 255, layout=None),
     dict(pixels="PX", mean="SEQF?", std="SEQF?", scale="F~", layout="S?"),
     invalid=dict(mean=[[0.5, 0.5]], std=[[1.0, 1.0, 1.0, 1.0]], layout=["HWC"]))
spec("image.to_image", image.to_image, lambda: dict(x=rnd((3, 4, 5), 29, 0, 1), mean=None, std=None, scale=1 / 255),
     dict(x="T", mean="SEQF?", std="SEQF?", scale="F~"), invalid=dict(mean=[[0.5, 0.5]]))
spec("image.rgb_to_hsv", image.rgb_to_hsv, lambda: dict(x=rnd((3, 4, 4), 30, 0, 1), layout=None),
     dict(x="IMG", layout="S?"), invalid=dict(layout=["CHW", "", "nhwc"]))
spec("image.hsv_to_rgb", image.hsv_to_rgb,
     lambda: dict(x=np.concatenate([rnd((1, 4, 4), 31, 0, 360), rnd((2, 4, 4), 32, 0, 1)]), layout=None),
     dict(x="IMG", layout="S?"), invalid=dict(layout=["HWC", "x"]))
spec("image.rgb_to_grayscale", image.rgb_to_grayscale, lambda: dict(x=rnd((3, 4, 4), 33, 0, 1), layout="chw"),
     dict(x="IMG", layout="S?"), invalid=dict(layout=["", "hw"]))
spec("image.resize", image.resize, lambda: dict(x=rnd((2, 5, 6), 34), size=(3, 4), antialias=True, layout=None),
     dict(x="IMG", size="P", antialias="B", layout="S?"), invalid=dict(size=[0, -1, (3, 0)], layout=["chw "]))
spec("image.center_crop", image.center_crop, lambda: dict(x=rnd((2, 5, 6), 35), size=(3, 4), pad=False, layout=None),
     dict(x="IMG", size="P", pad="B", layout="S?"), invalid=dict(size=[0, -1, (6, 4), (3, 7)], layout=["x"]))
spec("image.normalize", image.normalize,
     lambda: dict(x=rnd((3, 5, 6), 38, 0, 1), mean=[0.5, 0.4, 0.3], std=[0.2, 0.25, 0.3], layout=None),
     dict(x="IMG", mean="SEQF", std="SEQF", layout="S?"),
     invalid=dict(mean=[[0.5, 0.5]], std=[[1.0, 0.0, 1.0], [1.0, 1.0]], layout=["nchw"]))
spec("image.imagenet_preprocess", image.imagenet_preprocess,
     lambda: dict(pixels=pixels((9, 12, 3), 39), layout=None), dict(pixels="PX", layout="S?"),
     invalid=dict(layout=["rgb"], pixels=[[], np.zeros((2, 0, 5, 3), np.uint8)]))

# filters
for _n in ("box", "horizontal_blur", "vertical_blur"):
    spec(f"filters.{_n}", getattr(filters, _n), lambda: dict(n=3), dict(n="I"), invalid=dict(n=[0, -1]))
for _n in ("sharpen", "sobel_x", "sobel_y", "edge"):
    spec(f"filters.{_n}", getattr(filters, _n))
spec("filters.gaussian", filters.gaussian, lambda: dict(size=5, sigma=1.0), dict(size="I", sigma="F"),
     invalid=dict(size=[0, -1, 4], sigma=[0.0, -1.0]))
spec("filters.apply", filters.apply,
     lambda: dict(image=rnd((2, 6, 6), 36), kernel=rnd((3, 3), 37), border="reflect", layout=None),
     dict(image="T", kernel="T", border="S", layout="S?"), invalid=dict(border=["bogus", "", "REFLECT"], layout=["x"]))

# models: module functions and constructors


def _model_info(m):
    return m.name, m.num_classes, m.num_parameters, m.input_shape, m.min_input_size


spec("models.names", models.names)
spec("models.default_num_classes", models.default_num_classes, lambda: dict(name="lenet5"), dict(name="N"),
     invalid=dict(name=["bogus", "", "lenet5\x00", "LENET5"]))
spec("models.create", models.create, lambda: dict(name="lenet5", num_classes=7, in_channels=3),
     dict(name="N", num_classes="I?", in_channels="I?"),
     call=lambda a: _model_info(models.create(**a)), invalid=dict(name=["bogus", ""], num_classes=[0, -1],
                                                                 in_channels=[0, -1]))
spec("models.Model", models.Model, lambda: dict(name="lenet5", num_classes=7, in_channels=2),
     dict(name="N", num_classes="I?", in_channels="I?"),
     call=lambda a: _model_info(models.Model(**a)), invalid=dict(name=["bogus", "lenet5\x00"], num_classes=[0, -1],
                                                                in_channels=[0, -1]))
spec("models.seeded_tensor", models.seeded_tensor,
     lambda: dict(name="input", shape=(2, 3), lo=-2.0, hi=3.0, seed=5),
     dict(name="STR", shape="SHAPE", lo="F~", hi="F~", seed="U64"),
     invalid=dict(shape=[(0, 3), (-1, 3), (2, -3), (-1, -1), ()], seed=[-1]))
for _n in models.names():
    if _n == "lenet5":
        spec("models.lenet5", models.lenet5, lambda: dict(num_classes=7), dict(num_classes="I?"),
             call=lambda a: _model_info(models.lenet5(**a)), invalid=dict(num_classes=[0, -1]))
    else:  # building these is slow: only arguments refused before anything is allocated
        spec(f"models.{_n}", getattr(models, _n), lambda: dict(num_classes=7), dict(num_classes="I?cheap"),
             call=lambda a, _n=_n: _model_info(getattr(models, _n)(**a)))

# models.Model methods (lenet5)
_X = lambda: rnd((2, 1, 32, 32), 40)  # noqa: E731


def _forward(a):
    return lenet()(a["x"], scale=a["scale"])


def _forward_method(a):
    return lenet().forward(a["x"], scale=a["scale"])


spec("Model.__call__", models.Model.__call__, lambda: dict(x=_X(), scale=None), dict(x="T", scale="F~?"), call=_forward,
     self_arg=True)
spec("Model.forward", models.Model.forward, lambda: dict(x=_X(), scale=None), dict(x="T", scale="F~?"),
     call=_forward_method, self_arg=True)
_SHAPE_INVALID = [(2, 3, 32, 32), (2, 1, 8, 8), (-1, 1, 32, 32), (2, 1, 32), (2, 1, 32, 32, 1), (2, 0, 32, 32), ()]
spec("Model.output_shape", models.Model.output_shape, lambda: dict(input_shape=(2, 1, 32, 32)),
     dict(input_shape="SHAPE4"), call=lambda a: lenet().output_shape(a["input_shape"]),
     invalid=dict(input_shape=_SHAPE_INVALID), self_arg=True)
for _n in ("summary", "macs", "workspace_bytes"):
    spec(f"Model.{_n}", getattr(models.Model, _n), lambda: dict(input_shape=(2, 1, 32, 32)),
         dict(input_shape="SHAPE4?"), call=lambda a, _n=_n: getattr(lenet(), _n)(a["input_shape"]),
         invalid=dict(input_shape=_SHAPE_INVALID), self_arg=True,
         covered=("profile",) if _n == "summary" else ())  # summary(profile=...): bindings/python/tests/test_profile.py
spec("Model.profile", models.Model.profile, lambda: dict(x=_X(), runs=2, warmup=0), dict(x="T", runs="I", warmup="I"),
     # The times vary run to run: the sweep compares what is deterministic.
     call=lambda a: [(r.node, r.op, r.kernel, r.fused, r.macs, r.bytes)
                     for r in lenet().profile(a["x"], runs=a["runs"], warmup=a["warmup"])],
     invalid=dict(runs=[0, -1, 100001, 2 ** 63], warmup=[-1, 100001, 2 ** 63]), self_arg=True)


def _save_file(name="ok.safetensors", seed=7):
    m = lenet()
    m.reset_parameters(seed)
    m.save(name)
    return m


def _load(a):
    _save_file()
    m = lenet()
    m.load(a["path"])
    return state(m)


def _save(a):
    m = lenet()
    m.reset_parameters(7)
    m.save(a["path"])
    m2 = lenet()
    m2.load(a["path"])
    return state(m2)


for _n in ("freeze", "unfreeze"):
    spec(f"Model.{_n}", getattr(models.Model, _n), lambda: dict(prefix="features"), dict(prefix="STR"),
         call=lambda a, _n=_n: getattr(lenet(), _n)(a["prefix"]),
         invalid=dict(prefix=["nope", "features.0.w", "features\x00"]), self_arg=True)
spec("Model.is_frozen", models.Model.is_frozen, lambda: dict(name="features.0.weight"), dict(name="STR"),
     call=lambda a: lenet().is_frozen(a["name"]), self_arg=True)


def _open(a):
    _save_file()
    return state(models.load(a["source"]))


spec("models.load", models.load, lambda: dict(source="ok.safetensors"), dict(source="PATH"), call=_open)
spec("Model.load", models.Model.load, lambda: dict(path="ok.safetensors"), dict(path="PATH"), call=_load, self_arg=True)
spec("Model.save", models.Model.save, lambda: dict(path="w.safetensors"), dict(path="PATH"), call=_save, self_arg=True)
spec("Model.state_dict", models.Model.state_dict, call=lambda a: state(lenet()), self_arg=True)
spec("Model.parameter_names", models.Model.parameter_names, lambda: dict(buffers=False), dict(buffers="B"),
     call=lambda a: lenet().parameter_names(a["buffers"]), self_arg=True)


def _load_state_dict(a):
    m = lenet()
    sd = m.state_dict()
    sd["features.0.weight"] = a["w"]
    m.load_state_dict(sd, strict=a["strict"])
    return state(m)


spec("Model.load_state_dict", models.Model.load_state_dict, lambda: dict(w=rnd((6, 1, 5, 5), 41), strict=True),
     dict(w="T", strict="B"), call=_load_state_dict, covered=("state_dict",), self_arg=True)


def _reset(a):
    m = lenet()
    m.reset_parameters(a["seed"])
    return state(m)


spec("Model.reset_parameters", models.Model.reset_parameters, lambda: dict(seed=3), dict(seed="U64"), call=_reset,
     invalid=dict(seed=[-1]), self_arg=True)


def _train_mode(a):
    m = lenet()
    r = m.train(a["mode"])
    return r is m, m.training


def _eval_mode(a):
    m = lenet()
    m.train()
    r = m.eval()
    return r is m, m.training


spec("Model.train", models.Model.train, lambda: dict(mode=True), dict(mode="B"), call=_train_mode, self_arg=True)
spec("Model.eval", models.Model.eval, call=_eval_mode, self_arg=True)

_X4 = lambda: rnd((4, 1, 32, 32), 42)  # noqa: E731


def _train_step(a):
    m = lenet()
    opt = sgd(m) if a["optimizer"] is DEFAULT else a["optimizer"]
    loss = m.train_step(a["x"], a["y"], opt)
    return loss, state(m)


spec("Model.train_step", models.Model.train_step, lambda: dict(x=_X4(), y=labels(4, 1), optimizer=DEFAULT),
     dict(x="T", y="L", optimizer="OPT"), call=_train_step, invalid=dict(y=[[0, 1, 2, 10], [0, 1, 2, -1]]),
     self_arg=True)


def _fit(a):
    a = dict(a)
    m = lenet()
    vx, vy = a.pop("vx"), a.pop("vy")
    x, y = a.pop("x"), a.pop("y")
    hist = m.fit(x, y, validation_data=(vx, vy), **a)
    return hist, state(m)


spec("Model.fit", models.Model.fit,
     lambda: dict(x=_X4(), y=labels(4, 2), vx=rnd((2, 1, 32, 32), 43), vy=labels(2, 3), epochs=1, batch_size=2,
                  optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=1e-4, seed=3, verbose=False, shuffle=True),
     dict(x="T", y="L", vx="T", vy="L", epochs="I", batch_size="I", optimizer="OPTS", lr="F+", momentum="F+",
          weight_decay="F+", seed="U64", verbose="B", shuffle="B"),
     call=_fit, covered=("validation_data",), self_arg=True,
     invalid=dict(epochs=[0, -1], batch_size=[0, -1], optimizer=["bogus", "SGDX"], lr=[-1.0, -1e-30],
                  momentum=[-0.5], weight_decay=[-1.0], seed=[-1], y=[[0, 1, 2, 10]]))


def _evaluate(a):
    return lenet().evaluate(a["x"], a["y"], batch_size=a["batch_size"], scale=a["scale"])


spec("Model.evaluate", models.Model.evaluate, lambda: dict(x=_X4(), y=labels(4, 4), batch_size=3, scale=None),
     dict(x="T", y="L", batch_size="I", scale="F~?"), call=_evaluate, invalid=dict(batch_size=[0, -1], y=[[0, 1, 2, 10]]),
     self_arg=True)
spec("Model.predict", models.Model.predict, lambda: dict(x=_X4(), scale=None), dict(x="T", scale="F~?"),
     call=lambda a: lenet().predict(a["x"], scale=a["scale"]), self_arg=True)
_SSD = []


def _detect(a):
    if not _SSD:
        _SSD.append(models.ssd300_vgg16())
    d = _SSD[0].detect(a["images"], score_threshold=a["score_threshold"], iou_threshold=a["iou_threshold"],
                       max_detections=a["max_detections"])
    return [(r["boxes"], r["scores"], r["labels"]) for r in d]


spec("Model.detect", models.Model.detect,
     lambda: dict(images=rnd((1, 3, 12, 16), 41), score_threshold=0.02, iou_threshold=0.45, max_detections=5),
     dict(images="T", score_threshold="F?", iou_threshold="F?", max_detections="I?"), call=_detect,
     invalid=dict(score_threshold=[-1.0], iou_threshold=[-0.5], max_detections=[-1]), self_arg=True)
spec("models.coco_classes", models.coco_classes)

# segmentation (issue 12): a 3-class fcn_resnet50, made once per process
_SEG = []


def seg_model():
    if not _SEG:
        _SEG.append(models.create("fcn_resnet50", num_classes=3))
    return _SEG[0]


spec("models.voc_classes", models.voc_classes)
spec("Model.segment", models.Model.segment, lambda: dict(images=rnd((1, 3, 9, 11), 43)), dict(images="T"),
     call=lambda a: seg_model().segment(a["images"]), self_arg=True)

# optim


def _use_optimizer(opt, m):
    losses = [m.train_step(_X4(), labels(4, 5), opt) for _ in range(2)]
    return losses, opt.lr, opt.progress, state(m)


def _make_opt(cls):
    def call(a):
        a = dict(a)
        m = lenet() if a["model"] is DEFAULT else a["model"]
        a.pop("model")
        opt = cls(m, **a)
        return _use_optimizer(opt, m)
    return call


spec("optim.SGD", optim.SGD, lambda: dict(model=DEFAULT, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4),
     dict(model="MODEL", lr="F+", momentum="F+", nesterov="B", weight_decay="F+"), call=_make_opt(optim.SGD),
     invalid=dict(lr=[-1.0, -1e-30], momentum=[-0.5, 0.0], weight_decay=[-1.0]))  # momentum 0: nesterov needs > 0
for _cls in (optim.Adam, optim.AdamW):
    spec(f"optim.{_cls.__name__}", _cls,
         lambda: dict(model=DEFAULT, lr=1e-3, betas=(0.8, 0.99), weight_decay=1e-2, eps=1e-6),
         dict(model="MODEL", lr="F+", betas="PAIRF", weight_decay="F+", eps="F"), call=_make_opt(_cls),
         invalid=dict(lr=[-1.0], betas=[(1.0, 0.9), (0.9, 1.0), (-0.1, 0.9), (0.9,), (0.9, 0.9, 0.9)],
                      weight_decay=[-1.0], eps=[-1.0]))
spec("optim.Optimizer", optim.Optimizer,
     lambda: dict(model=DEFAULT, kind="adam", lr=1e-3, momentum=0.0, nesterov=False, weight_decay=0.0,
                  betas=(0.9, 0.999), eps=1e-8),
     dict(model="MODEL", kind="S", lr="F+", momentum="F~", nesterov="B", weight_decay="F+", betas="PAIRF", eps="F"),
     call=_make_opt(optim.Optimizer), invalid=dict(kind=["bogus", "SGD", ""], lr=[-1.0]))  # adam ignores momentum


def _schedule(a):
    m = lenet()
    opt = sgd(m)
    opt.set_schedule(**a)
    lrs = []
    for _ in range(3):
        m.train_step(_X4(), labels(4, 6), opt)
        lrs.append(opt.lr)
    return lrs, state(m)


spec("Optimizer.set_schedule", optim.Optimizer.set_schedule, lambda: dict(schedule="step", steps=2, value=0.5),
     dict(schedule="S", steps="I", value="F+"), call=_schedule, self_arg=True,
     invalid=dict(schedule=["bogus", ""], steps=[0, -1, 2 ** 31], value=[-1.0]))


def _save_checkpoint(path):
    m = lenet()
    m.reset_parameters(9)
    opt = sgd(m)
    m.train_step(_X4(), labels(4, 7), opt)
    opt.save_checkpoint(path)
    return m, opt


def _checkpoint_state(m, opt):
    return state(m), opt.progress, opt.lr


def _load_checkpoint(a):
    _save_checkpoint("ok.safetensors")
    m = lenet()
    opt = sgd(m)
    opt.load_checkpoint(a["path"])
    return _checkpoint_state(m, opt)


def _save_checkpoint_call(a):
    _save_checkpoint(a["path"])
    m = lenet()
    opt = sgd(m)
    opt.load_checkpoint(a["path"])
    return _checkpoint_state(m, opt)


spec("Optimizer.save_checkpoint", optim.Optimizer.save_checkpoint, lambda: dict(path="c.safetensors"),
     dict(path="PATH"), call=_save_checkpoint_call, self_arg=True)
spec("Optimizer.load_checkpoint", optim.Optimizer.load_checkpoint, lambda: dict(path="ok.safetensors"),
     dict(path="PATH"), call=_load_checkpoint, self_arg=True)

# datasets
spec("datasets.load_digits", datasets.load_digits, lambda: dict(seed=3, size=12, test_fraction=0.25),
     dict(seed="U64", size="I", test_fraction="F+"), call=lambda a: datasets.load_digits(**a)[:4],
     invalid=dict(seed=[-1], size=[0, -1], test_fraction=[0.0, 1.0, -0.5]))
spec("datasets.upsample_bilinear", datasets.upsample_bilinear, lambda: dict(images=rnd((2, 8, 8), 44), size=12),
     dict(images="T", size="I"), invalid=dict(size=[0, -1]))
spec("datasets.permutation", datasets.permutation, lambda: dict(n=10, name="x", seed=3),
     dict(n="I", name="STR", seed="U64"), invalid=dict(n=[-1], seed=[-1]))
spec("datasets.epoch_order", datasets.epoch_order, lambda: dict(n=10, seed=3, epoch=1),
     dict(n="I", seed="U64", epoch="U64"), invalid=dict(n=[-1], seed=[-1], epoch=[-1]))
spec("datasets.split_indices", datasets.split_indices, lambda: dict(n=10, seed=3, test_fraction=0.2),
     dict(n="I", seed="U64", test_fraction="F+"), invalid=dict(n=[-1], seed=[-1], test_fraction=[0.0, 1.0]))
spec("datasets.Digits", datasets.Digits, lambda: {f: i for i, f in enumerate(datasets.Digits._fields)},
     {f: "ANY" for f in datasets.Digits._fields})

# viz (the picture functions; their path= keyword and viz.save's path are checked by
# bindings/python/tests/test_viz.py: formats, bytes paths, missing directories, no debris)
spec("viz.filters", viz.filters, lambda: dict(model=lenet(), name="features.0", scale=None),
     dict(model="MODEL", name="N", scale="I?"), invalid=dict(scale=[0, -1]), covered=("path",))
spec("viz.activations", viz.activations,
     lambda: dict(model=lenet(), x=rnd((1, 1, 32, 32), 61), node="features.0", scale=None),
     dict(model="MODEL", x="T", node="N", scale="I?"), invalid=dict(scale=[0, -1]), covered=("path",))
spec("viz.receptive_field", viz.receptive_field,
     lambda: dict(model=lenet(), node="features.3", y=1, x=2, image=rnd((1, 32, 32), 62), scale=None),
     dict(model="MODEL", node="N", y="I", x="I", image="T?", scale="I?"),
     invalid=dict(y=[-1, 10], x=[-1, 10], scale=[0, -1]), covered=("path",))
spec("viz.detections", viz.detections,
     lambda: dict(image=pixels((20, 30, 3), 63), boxes=rnd((2, 4), 64, 0, 20), scores=rnd(2, 65, 0, 1),
                  labels=labels(2, 66), names=None),
     dict(image="U8", boxes="T", scores="T", labels="L", names="ANY"), covered=("path",))
spec("viz.label_map", viz.label_map,
     lambda: dict(labels=labels((6, 8), 67), image=pixels((6, 8, 3), 68), names=None, alpha=0.5, legend=None,
                  scale=1),
     dict(labels="L", image="U8?", names="ANY", alpha="F", legend="B?", scale="I"),
     invalid=dict(alpha=[-0.1, 1.5], scale=[0, -1]), covered=("path",))
spec("viz.save", viz.save, lambda: dict(path="viz_save.png", picture=pixels((5, 7, 3), 69), format=None),
     dict(picture="U8", format="S?"), invalid=dict(format=["gif", "PNG", ""]), covered=("path",))
spec("viz.to_picture", viz.to_picture, lambda: dict(image=rnd((3, 8, 8), 70)), dict(image="T"))
spec("viz.voc_color", viz.voc_color, lambda: dict(c=5), dict(c="I"), invalid=dict(c=[-1]))
# ---- retrieval: Model.embed and swiftcnn.retrieval ----------------------------------------------


def _embed(a):
    return lenet().embed(a["images"], a["node"], normalize=a["normalize"], batch_size=a["batch_size"],
                         scale=a["scale"])


spec("Model.embed", models.Model.embed, lambda: dict(images=_X(), node=None, normalize=False, batch_size=3, scale=None),
     dict(images="T", node="STR?", normalize="B", batch_size="I", scale="F~?"), call=_embed,
     invalid=dict(node=["nope", "features\x00", ""], batch_size=[0, -1]), self_arg=True)


def _index(metric="cosine"):
    ix = retrieval.Index(4, metric)
    ix.add(rnd((6, 4), 51))
    return ix


def _index_state(ix):
    return (ix.dimension, ix.metric, len(ix)) + tuple(ix.search(np.eye(ix.dimension, dtype=F32), k=7))


def _index_add(a):
    ix = _index()
    ix.add(a["vectors"], a["ids"])
    return _index_state(ix)


def _index_load(a):
    _index("l2").save("ok.safetensors")
    return _index_state(retrieval.Index.load(a["path"]))


def _index_save(a):
    _index("l2").save(a["path"])
    return _index_state(retrieval.Index.load(a["path"]))


spec("retrieval.Index", retrieval.Index, lambda: dict(dim=4, metric="l2"), dict(dim="I", metric="S"),
     call=lambda a: _index_state(retrieval.Index(a["dim"], a["metric"])),
     invalid=dict(dim=[0, -1], metric=["dot", "", "COSINE"]))
spec("Index.add", retrieval.Index.add, lambda: dict(vectors=rnd((3, 4), 52), ids=None), dict(vectors="T", ids="ANY"),
     call=_index_add, invalid=dict(ids=[[-1, 0, 1], [1, 2], [1.5, 2, 3]]), self_arg=True)
spec("Index.search", retrieval.Index.search, lambda: dict(queries=rnd((2, 4), 53), k=3), dict(queries="T", k="I"),
     call=lambda a: _index().search(a["queries"], a["k"]), invalid=dict(k=[0, -1]), self_arg=True)
spec("Index.remove", retrieval.Index.remove, lambda: dict(ids=[1, 3]), dict(ids="ANY"),
     call=lambda a: (_index().remove(a["ids"]),), self_arg=True)
spec("Index.save", retrieval.Index.save, lambda: dict(path="w.safetensors"), dict(path="PATH"), call=_index_save,
     self_arg=True)
spec("Index.load", retrieval.Index.load, lambda: dict(path="ok.safetensors"), dict(path="PATH"), call=_index_load,
     self_arg=True)
spec("retrieval.precision_at_k", retrieval.precision_at_k,
     lambda: dict(neighbor_labels=[[1, 2], [3, 3]], query_labels=[1, 3], k=None),
     dict(neighbor_labels="ANY", query_labels="ANY", k="I?"), invalid=dict(k=[0, -1, 3]))

# ---- introspection: what is public, and is every argument covered? -----------------------------


def public_callables():
    """{qualified name: callable} of the public API."""
    found = {}
    for prefix, mod in (("", swiftcnn), ("image.", image), ("filters.", filters), ("models.", models),
                        ("optim.", optim), ("datasets.", datasets), ("viz.", viz),
                        ("retrieval.", retrieval)):
        for n in getattr(mod, "__all__", [n for n in dir(mod) if not n.startswith("_")]):
            obj = getattr(mod, n, None)
            if obj is None or inspect.ismodule(obj) or not callable(obj):
                continue
            if inspect.isclass(obj):
                if issubclass(obj, BaseException):
                    continue
                found[prefix + n] = obj
                for mname in dir(obj):
                    if mname.startswith("_") and mname != "__call__":
                        continue
                    owner = next((k for k in obj.__mro__ if mname in vars(k)), None)
                    member = vars(owner).get(mname) if owner is not None else None
                    if isinstance(member, classmethod):
                        member = member.__func__
                    if owner is None or owner.__module__.startswith("swiftcnn._") or not inspect.isfunction(member):
                        continue
                    found[f"{owner.__name__}.{mname}"] = member
            else:
                found[prefix + n] = obj
    return found


def signature_params(fn, self_arg):
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    params = [p for p in sig.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if self_arg and params:
        params = params[1:]
    return [p.name for p in params]


# ---- bad values and what each kind must do with them ---------------------------------------------

BAD_VALUES = [
    ("None", lambda: None), ("str '3'", lambda: "3"), ("bytes b'3'", lambda: b"3"),
    ("list [1, 2, 3]", lambda: [1, 2, 3]),
    ("dict", lambda: {"a": 1}), ("object()", object), ("__array__ raises", RaisingArray),
    ("__array__ returns a list", ArrayReturnsList), ("__index__ raises", RaisingIndex),
    ("__float__ raises", RaisingFloat), ("__bool__ raises", RaisingBool), ("__fspath__ raises", RaisingPath),
    ("sequence whose items raise", RaisingSeq), ("nan", lambda: float("nan")), ("inf", lambda: float("inf")),
    ("-inf", lambda: float("-inf")), ("True", lambda: True), ("1.5", lambda: 1.5), ("2**63", lambda: 2 ** 63),
    ("2**64", lambda: 2 ** 64), ("-2**64", lambda: -(2 ** 64)), ("10**30", lambda: 10 ** 30),
    ("np.float64(nan)", lambda: np.float64("nan")), ("np.bool_(True)", lambda: np.bool_(True)),
]

OBJECTS = {"dict", "object()", "__array__ raises", "__array__ returns a list", "__index__ raises", "__float__ raises",
           "__bool__ raises", "__fspath__ raises", "sequence whose items raise"}


def parse_kind(kind):
    """(base kind, None valid, cheap only) of a kind such as "T?", "I?cheap"."""
    cheap = kind.endswith("cheap")
    if cheap:
        kind = kind[:-len("cheap")]
    return kind.rstrip("?"), kind.endswith("?"), cheap


def rule(kind, bad):
    """'raise' (must raise a clear exception), 'clean' (anything but a crash or a bad error) or None (not run)."""
    base, optional, cheap = parse_kind(kind)
    if base in ("ANY", "B") and bad != "__bool__ raises":
        return "clean"  # truthiness is a valid bool (Python's convention)
    if bad == "None":
        return None if optional else "raise"
    if base in TENSOR_KINDS:
        return "raise" if bad in OBJECTS or bad in ("str '3'", "bytes b'3'") else "clean"
    if base in ("I", "U64", "P"):
        if base == "U64" and bad == "2**63":
            return "clean"
        if cheap and bad in ("2**63",):
            return None  # a valid-looking size: would build a huge model
        return "raise"
    if base in ("F", "F+", "F~"):
        if bad in ("True", "1.5", "2**63", "2**64", "-2**64", "10**30", "np.bool_(True)"):
            return "clean"
        if bad in ("nan", "np.float64(nan)"):
            return "clean" if base == "F~" else "raise"
        if bad in ("inf", "-inf"):
            return "raise" if base == "F+" else "clean"
        return "raise"
    if base == "B":
        return "raise" if bad == "__bool__ raises" else "clean"
    if base == "STR":
        return "clean" if bad == "str '3'" else "raise"
    if base in ("S", "N", "MODEL", "OPT", "OPTS", "PAIRF"):
        return "raise"
    if base in ("SHAPE", "SHAPE4"):
        if base == "SHAPE" and bad == "list [1, 2, 3]":
            return "clean"
        return "raise"
    if base == "SEQF":
        return "clean" if bad == "list [1, 2, 3]" else "raise"
    if base == "PATH":
        return "clean" if bad in ("str '3'", "bytes b'3'") else "raise"
    return "clean"


def equivalents(kind, v):
    """(description, value) pairs that must give exactly the baseline's result."""
    base, _, cheap = parse_kind(kind)
    out = []
    if cheap:
        return out
    if base in ("I", "U64") and isinstance(v, int) and not isinstance(v, bool):
        out += [("np.int64", np.int64(v)), ("np.int32", np.int32(v))]
        if 0 <= v < 256:
            out.append(("np.uint8", np.uint8(v)))
    elif base == "P":
        if isinstance(v, int):
            out += [("(v, v)", (v, v)), ("[v, v]", [v, v]), ("np.int64", np.int64(v)),
                    ("np.array([v, v])", np.array([v, v]))]
        elif isinstance(v, tuple) and len(v) == 2:
            out += [("list", list(v)), ("np.array", np.array(v)), ("np.int32 items", tuple(np.int32(i) for i in v))]
    elif base in ("F", "F+", "F~") and isinstance(v, float):
        out += [("np.float64", np.float64(v))]
        if v == int(v):
            out.append(("int", int(v)))
    elif base == "B" and isinstance(v, bool):
        out += [("np.bool_", np.bool_(v)), ("int", int(v))]
    elif base in ("S", "N", "STR") and isinstance(v, str):
        out += [("np.str_", np.str_(v))]
    elif base in ("SHAPE", "SHAPE4") and isinstance(v, tuple):
        out += [("list", list(v)), ("np.array", np.array(v, dtype=np.int64)),
                ("np.int32 items", tuple(np.int32(i) for i in v))]
    elif base == "PAIRF" and isinstance(v, tuple):
        out += [("list", list(v)), ("np.array", np.array(v))]
    return out


# ---- array variants ----------------------------------------------------------------------------------


def _flip_all(a):
    idx = (slice(None, None, -1),) * a.ndim
    return np.ascontiguousarray(a[idx])[idx]


def _strided(a):
    big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
    big[..., ::2] = a
    return big[..., ::2]


def _interior(a):
    big = np.zeros(a.size + 7, a.dtype)
    v = big[3:3 + a.size].reshape(a.shape)
    v[...] = a
    return v


def _broadcast(a):
    ax = next(i for i, d in enumerate(a.shape) if d > 1)
    return np.broadcast_to(np.take(a, [0], axis=ax), a.shape)


def _readonly(a):
    c = a.copy()
    c.setflags(write=False)
    return c


def _memmap_readonly(a):
    name = f"mm{id(a)}.bin"
    w = np.memmap(name, dtype=a.dtype, mode="w+", shape=a.shape)
    w[...] = a
    w.flush()
    del w
    return np.memmap(name, dtype=a.dtype, mode="r", shape=a.shape)


def _unaligned(a):
    buf = np.zeros(a.nbytes + 1, np.uint8)
    v = buf[1:].view(a.dtype).reshape(a.shape)
    v[...] = a
    return v


def _odd_unit_strides(a):
    strides = tuple(12345 * a.itemsize if d == 1 else s for d, s in zip(a.shape, a.strides))
    return np.lib.stride_tricks.as_strided(a.copy(), a.shape, strides)


# (name, applies(a), make(a) -> the variant; the reference is np.array(variant) (C order, same values))
LAYOUTS = [
    ("Fortran order", lambda a: a.ndim >= 2, np.asfortranarray),
    ("transposed view", lambda a: a.ndim >= 3, lambda a: np.ascontiguousarray(np.swapaxes(a, 0, -1)).swapaxes(0, -1)),
    ("negative strides", lambda a: a.ndim >= 1, _flip_all),
    ("strided slice [..., ::2]", lambda a: a.ndim >= 1, _strided),
    ("interior view", lambda a: a.ndim >= 1, _interior),
    ("zero strides (broadcast_to)", lambda a: any(d > 1 for d in a.shape), _broadcast),
    ("read-only", lambda a: True, _readonly),
    ("read-only memmap", lambda a: a.ndim >= 1, _memmap_readonly),
    ("unaligned (odd byte offset)", lambda a: a.itemsize > 1, _unaligned),
    ("big-endian", lambda a: a.itemsize > 1, lambda a: a.astype(a.dtype.newbyteorder(">"))),
    ("odd strides on length-1 axes", lambda a: 1 in a.shape, _odd_unit_strides),
    ("ndarray subclass", lambda a: True, lambda a: a.copy().view(SubArray)),
    ("object with __array__", lambda a: True, lambda a: ArrayWrapper(a.copy())),
    ("memoryview", lambda a: a.ndim >= 1, lambda a: memoryview(np.ascontiguousarray(a))),
    ("nested list", lambda a: True, lambda a: a.tolist()),
]


def _ints(a):
    """Small non-negative integer values (valid for every kind: labels, pixels, variances)."""
    return (np.arange(a.size) % 4).reshape(a.shape)


DTYPES = [
    # (name, make(ints), must_refuse)
    ("float16", lambda v: v.astype(np.float16), False),
    ("float64", lambda v: v.astype(np.float64), False),
    ("longdouble", lambda v: v.astype(np.longdouble), False),
    ("int8", lambda v: v.astype(np.int8), False),
    ("int32", lambda v: v.astype(np.int32), False),
    ("int64", lambda v: v.astype(np.int64), False),
    ("uint8", lambda v: v.astype(np.uint8), False),
    ("uint64", lambda v: v.astype(np.uint64), False),
    ("float32", lambda v: v.astype(np.float32), False),
    ("bool", lambda v: (v % 2).astype(bool), False),
    ("object (Python floats)", lambda v: v.astype(object) * 1.0, False),
    ("complex64", lambda v: v.astype(np.complex64) + 1j, True),
    ("object (str)", lambda v: v.astype(str).astype(object), True),
    ("str", lambda v: v.astype(str), True),
    ("datetime64", lambda v: v.astype("datetime64[s]"), True),
]

VALUES = [
    ("all NaN", lambda a: np.full(a.shape, np.nan, a.dtype)),
    ("NaN, Inf, -Inf mixed in", lambda a: np.where(np.arange(a.size).reshape(a.shape) % 3 == 0,
                                                   np.array([np.nan, np.inf, -np.inf] * a.size, a.dtype)[:a.size]
                                                   .reshape(a.shape), a)),
    ("denormals and -0.0", lambda a: np.where(np.arange(a.size).reshape(a.shape) % 2 == 0, np.float32(1e-45),
                                              np.float32(-0.0)).astype(a.dtype)),
    ("float32 max", lambda a: np.full(a.shape, np.finfo(np.float32).max, a.dtype)),
]


# ---- case building ------------------------------------------------------------------------------------

Case = collections.namedtuple("Case", "area family desc thunk slow")
CASES = []
SKIPS = []


def add(area, family, desc, thunk, slow=False):
    CASES.append(Case(area, family, desc, thunk, slow))


def with_arg(sp, name, value_fn):
    """A thunk calling spec `sp` with argument `name` replaced by value_fn() (built in the child)."""
    def run():
        a = sp.args()
        a[name] = value_fn()
        return sp.call(a)
    return run


def baseline(sp):
    return lambda: sp.call(sp.args())


def spec_cases(sp):
    canonical = sp.args()
    for name, kind in sp.kinds.items():
        base_kind = parse_kind(kind)[0]
        v = canonical[name]
        if base_kind in TENSOR_KINDS:
            tensor_cases(sp, name, v, kind=base_kind)
        for bad, make in BAD_VALUES:
            r = rule(kind, bad)
            if r == "raise":
                add(sp.name, "type", f"{name}={bad}", lambda sp=sp, name=name, make=make:
                    expect_raise(with_arg(sp, name, make)))
            elif r == "clean":
                add(sp.name, "type", f"{name}={bad}", lambda sp=sp, name=name, make=make:
                    expect_clean(with_arg(sp, name, make)))
        for desc, ev in equivalents(kind, v):
            add(sp.name, "type", f"{name} as {desc} (must equal the baseline)",
                lambda sp=sp, name=name, ev=ev: expect_same(baseline(sp), with_arg(sp, name, lambda: ev),
                                                            may_refuse=False))
        for bad in sp.invalid.get(name, []):
            add(sp.name, "domain", f"{name}={bad!r}", lambda sp=sp, name=name, bad=bad:
                expect_raise(with_arg(sp, name, lambda: bad)))
    if not sp.kinds:
        add(sp.name, "type", "call with the valid arguments", lambda sp=sp: expect_clean(baseline(sp)))
        add(sp.name, "type", "an unexpected extra argument",
            lambda sp=sp: expect_raise(lambda: sp.fn(*([None] * (2 if sp.self_arg else 1)))))


def tensor_cases(sp, name, a, kind="T"):
    a = np.asarray(a)
    for lname, applies, make in LAYOUTS:
        if not applies(a):
            continue

        def ref(sp=sp, name=name, make=make, dt=a.dtype):
            v = make(sp.args()[name])
            return sp.call({**sp.args(), name: np.array(np.asarray(v), dtype=dt)})
        add(sp.name, "layout", f"{name}: {lname}", lambda sp=sp, name=name, make=make, ref=ref:
            expect_same(ref, with_arg(sp, name, lambda: make(sp.args()[name]))))
    canonical_dtype = a.dtype
    for dname, make, refuse in DTYPES:
        if np.dtype(canonical_dtype).name == dname:
            continue

        def variant(sp=sp, name=name, make=make):
            return make(_ints(np.asarray(sp.args()[name])))

        def ref(sp=sp, name=name, make=make, dt=canonical_dtype):
            v = make(_ints(np.asarray(sp.args()[name])))
            return sp.call({**sp.args(), name: np.asarray(v).astype(dt)})
        if refuse:
            add(sp.name, "dtype", f"{name}: {dname}", lambda sp=sp, name=name, variant=variant:
                expect_raise(with_arg(sp, name, variant)))
        elif (kind == "IMG" and dname == "uint8") or (kind == "PX" and dname in ("float16", "float32", "float64", "longdouble")):
            # pixels scaled by 1/255, or floats taken as scaled: other values (tests check them)
            add(sp.name, "dtype", f"{name}: {dname} (pixels)", lambda sp=sp, name=name, variant=variant:
                expect_clean(with_arg(sp, name, variant)))
        else:
            add(sp.name, "dtype", f"{name}: {dname}", lambda sp=sp, name=name, variant=variant, ref=ref:
                expect_same(ref, with_arg(sp, name, variant)))
    for r in range(10):
        if r == a.ndim:
            continue
        shape = a.shape[a.ndim - r:] if r <= a.ndim else (1,) * (r - a.ndim) + a.shape
        if r == 0:
            shape = ()
        add(sp.name, "rank", f"{name}: rank {r} {shape}", lambda sp=sp, name=name, shape=shape, dt=a.dtype:
            expect_clean(with_arg(sp, name, lambda: (np.arange(int(np.prod(shape))) % 4).astype(dt).reshape(shape))))
    for ax in range(a.ndim):
        shape = a.shape[:ax] + (0,) + a.shape[ax + 1:]
        add(sp.name, "rank", f"{name}: empty {shape}", lambda sp=sp, name=name, shape=shape, dt=a.dtype:
            expect_clean(with_arg(sp, name, lambda: np.zeros(shape, dt))))
    if a.ndim >= 1:
        for hshape in {(2 ** 40,) + a.shape[1:], a.shape[:-1] + (2 ** 40,)}:
            add(sp.name, "huge", f"{name}: zero-stride {hshape}", lambda sp=sp, name=name, hshape=hshape, dt=a.dtype:
                expect_raise(with_arg(sp, name, lambda: np.lib.stride_tricks.as_strided(
                    np.zeros(1, dt), hshape, (0,) * len(hshape)))))
    if a.dtype == F32:
        for vname, make in VALUES:
            add(sp.name, "rank", f"{name}: values {vname}", lambda sp=sp, name=name, make=make:
                expect_clean(with_arg(sp, name, lambda: make(sp.args()[name]))))


def generic_cases(qual, fn, params):
    """Coverage for a public callable without a hint: wrong types must not crash."""
    n = len(params or [])
    for bad, make in BAD_VALUES:
        add(qual, "type", f"every argument {bad}", lambda fn=fn, make=make, n=n:
            expect_clean(lambda: fn(*[make() for _ in range(n)])))


# ---- explicit cases: containers, counts, huge sizes, optimizers, paths --------------------------------


def explicit_cases():
    x4 = lambda: rnd((1, 2, 3, 3), 50)  # noqa: E731
    x4b = lambda: rnd((1, 1, 3, 3), 51)  # noqa: E731

    # concat's sequence
    concat_ref = lambda: swiftcnn.concat([x4(), x4b()], 1)  # noqa: E731
    for desc, make in [("None", lambda: None), ("str", lambda: "ab"), ("empty list", lambda: []),
                       ("[x, None]", lambda: [x4(), None]), ("[x, 'a']", lambda: [x4(), "a"]),
                       ("[x, object()]", lambda: [x4(), object()]), ("dict", lambda: {0: x4()}),
                       ("RaisingSeq", RaisingSeq), ("[x, RaisingArray]", lambda: [x4(), RaisingArray()]),
                       ("[x, complex]", lambda: [x4(), x4b().astype(np.complex64) + 1j]),
                       ("ranks differ", lambda: [x4(), rnd((2, 3, 3), 2)])]:
        add("concat", "type", f"tensors={desc}", lambda make=make: expect_raise(lambda: swiftcnn.concat(make(), 1)))
    for desc, make in [("generator", lambda: (t for t in [x4(), x4b()])), ("tuple", lambda: (x4(), x4b())),
                       ("a list of Fortran arrays", lambda: [np.asfortranarray(x4()), np.asfortranarray(x4b())])]:
        add("concat", "type", f"tensors={desc} (must equal the baseline)", lambda make=make:
            expect_same(concat_ref, lambda: swiftcnn.concat(make(), 1)))
    add("concat", "rank", "1000 tensors", lambda: expect_clean(lambda: swiftcnn.concat([x4()] * 1000, 1)))
    add("concat", "rank", "a single tensor", lambda: expect_clean(lambda: swiftcnn.concat([x4()], 1)))

    # receptive_field's layers
    def rf(layers):
        size, jump = 1, 1
        for layer in layers:
            k, s = layer[0], layer[1]
            d = layer[2] if len(layer) == 3 else 1
            size += d * (k - 1) * jump
            jump *= s
        return size

    for desc, make in [("None", lambda: None), ("str", lambda: "ab"), ("[(3,)]", lambda: [(3,)]),
                       ("[(3, 1, 1, 1)]", lambda: [(3, 1, 1, 1)]), ("[('a', 1)]", lambda: [("a", 1)]),
                       ("[(3, 1.5)]", lambda: [(3, 1.5)]), ("[(0, 1)]", lambda: [(0, 1)]),
                       ("[(3, 0)]", lambda: [(3, 0)]),
                       ("[(3, 1, 0)]", lambda: [(3, 1, 0)]), ("[(-3, 1)]", lambda: [(-3, 1)]),
                       ("[(True, 1)]", lambda: [(True, 1)]), ("[(3, 2**64)]", lambda: [(3, 2 ** 64)]),
                       ("[None]", lambda: [None]), ("RaisingSeq", RaisingSeq), ("[LyingSeq]", lambda: [LyingSeq()]),
                       ("[(RaisingIndex, 1)]", lambda: [(RaisingIndex(), 1)])]:
        add("receptive_field", "type", f"layers={desc}", lambda make=make:
            expect_raise(lambda: swiftcnn.receptive_field(make())))
    for desc, layers in [("[]", []), ("np.array", np.array([[3, 1], [3, 2]])), ("[(3, 1)] * 10000", [(3, 1)] * 10000),
                         ("[(2**31, 2**31)] * 3 (overflows)", [(2 ** 31, 2 ** 31)] * 3),
                         ("[(2**62, 2), (2**62, 2)] (overflows)", [(2 ** 62, 2), (2 ** 62, 2)]),
                         ("[(3, 2**62), (3, 2**62), (3, 1)] (jump overflows)", [(3, 2 ** 62), (3, 2 ** 62), (3, 1)])]:
        exact = rf([tuple(int(v) for v in l) for l in layers])
        add("receptive_field", "huge", f"layers={desc}: exact {exact} or an error", lambda layers=layers, exact=exact:
            expect_value(lambda: swiftcnn.receptive_field(layers),
                         lambda r: None if r == exact else f"returned {r}, the exact value is {exact}"))

    # counts with exact expected values
    def exact_case(area, desc, call, exact):
        add(area, "huge", f"{desc}: exact {exact} or an error", lambda: expect_value(
            call, lambda r: None if r == exact and isinstance(r, int)
            else f"returned {r!r}, the exact value is {exact}"))

    for n, k, s, p, d in [(2 ** 62, 3, 1, 2 ** 62, 1), (2 ** 63 - 1, 1, 1, 0, 1), (2 ** 63 - 1, 1, 1, 1, 1),
                          (10, 3, 2 ** 62, 1, 1), (10, 2 ** 62, 1, 2 ** 62, 1), (10, 3, 1, 1, 2 ** 62),
                          (5, 3, 1, 2 ** 62 + 1, 1)]:
        for mode in ("floor", "ceil"):
            num = n + 2 * p - d * (k - 1) - 1
            exact = (num // s if mode == "floor" else -(-num // s)) + 1 if num >= 0 else None
            if exact is None or exact > 2 ** 63 - 1:
                add("output_size", "huge", f"output_size({n}, {k}, {s}, {p}, {d}, {mode!r}) must raise",
                    lambda a=(n, k, s, p, d, mode): expect_raise(lambda: swiftcnn.output_size(*a)))
            else:
                exact_case("output_size", f"output_size({n}, {k}, {s}, {p}, {d}, {mode!r})",
                           lambda a=(n, k, s, p, d, mode): swiftcnn.output_size(*a), exact)
    for i, o, kh, g, b in [(2 ** 40, 2 ** 40, 3, 1, True), (2 ** 31, 2 ** 31, 1, 1, True), (2 ** 62, 2, 1, 1, False),
                           (2 ** 62, 2, 1, 2, True), (4, 2 ** 62, 3, 1, True)]:
        exact = o * (i // g) * kh * kh + (o if b else 0)
        if exact > 2 ** 63 - 1:
            add("conv2d_parameter_count", "huge",
                f"conv2d_parameter_count({i}, {o}, {kh}, {g}, {b}) overflows: must raise",
                lambda a=(i, o, kh, g, b): expect_raise(
                    lambda: swiftcnn.conv2d_parameter_count(*a[:3], groups=a[3], bias=a[4])))
        else:
            exact_case("conv2d_parameter_count", f"conv2d_parameter_count({i}, {o}, {kh}, {g}, {b})",
                       lambda a=(i, o, kh, g, b): swiftcnn.conv2d_parameter_count(*a[:3], groups=a[3], bias=a[4]),
                       exact)
    for i, o, b in [(2 ** 32, 2 ** 32, False), (2 ** 31, 2 ** 31, True), (2 ** 62, 2, False), (2 ** 62, 1, True),
                    (2 ** 63 - 1, 1, True)]:
        exact = i * o + (o if b else 0)
        if exact > 2 ** 63 - 1:
            add("linear_parameter_count", "huge", f"linear_parameter_count({i}, {o}, {b}) overflows: must raise",
                lambda a=(i, o, b): expect_raise(lambda: swiftcnn.linear_parameter_count(*a)))
        else:
            exact_case("linear_parameter_count", f"linear_parameter_count({i}, {o}, {b})",
                       lambda a=(i, o, b): swiftcnn.linear_parameter_count(*a), exact)
        exact = i * o
        if exact > 2 ** 63 - 1:
            add("linear_macs", "huge", f"linear_macs({i}, {o}) overflows: must raise",
                lambda a=(i, o): expect_raise(lambda: swiftcnn.linear_macs(*a)))
        else:
            exact_case("linear_macs", f"linear_macs({i}, {o})", lambda a=(i, o): swiftcnn.linear_macs(*a), exact)
    for ic, oc, k, osz in [(2 ** 20, 2 ** 20, 3, (2 ** 20, 2 ** 20)), (3, 64, 7, (2 ** 31, 2 ** 31)),
                           (3, 64, 7, (2 ** 20, 2 ** 20)), (1, 1, 1, (2 ** 62, 2))]:
        exact = oc * ic * k * k * osz[0] * osz[1]
        if exact > 2 ** 63 - 1:
            add("conv2d_macs", "huge", f"conv2d_macs({ic}, {oc}, {k}, {osz}) overflows: must raise",
                lambda a=(ic, oc, k, osz): expect_raise(lambda: swiftcnn.conv2d_macs(*a)))
        else:
            exact_case("conv2d_macs", f"conv2d_macs({ic}, {oc}, {k}, {osz})",
                       lambda a=(ic, oc, k, osz): swiftcnn.conv2d_macs(*a), exact)

    # generators and size arguments far beyond memory: must raise (OutOfMemoryError / ValueError ...)
    huge_calls = [
        ("filters.box", "box(2**31)", lambda: filters.box(2 ** 31)),
        ("filters.box", "box(2**40)", lambda: filters.box(2 ** 40)),
        ("filters.box", "box(2**62)", lambda: filters.box(2 ** 62)),
        ("filters.box", "box(2**63 - 1)", lambda: filters.box(2 ** 63 - 1)),
        ("filters.box", "box(2**32 + 1) (n*n wraps in 64 bits)", lambda: filters.box(2 ** 32 + 1)),
        ("filters.horizontal_blur", "horizontal_blur(2**40)", lambda: filters.horizontal_blur(2 ** 40)),
        ("filters.vertical_blur", "vertical_blur(2**62)", lambda: filters.vertical_blur(2 ** 62)),
        ("filters.gaussian", "gaussian(2**31 + 1, 1.0)", lambda: filters.gaussian(2 ** 31 + 1, 1.0)),
        ("filters.gaussian", "gaussian(2**62 + 1, 1.0)", lambda: filters.gaussian(2 ** 62 + 1, 1.0)),
        ("filters.gaussian", "gaussian(2**32 + 1, 1.0) (size*size wraps)", lambda: filters.gaussian(2 ** 32 + 1, 1.0)),
        ("models.seeded_tensor", "shape (2**40,)", lambda: models.seeded_tensor("x", (2 ** 40,))),
        ("models.seeded_tensor", "shape (2**31, 2**31)", lambda: models.seeded_tensor("x", (2 ** 31, 2 ** 31))),
        ("models.seeded_tensor", "shape (2**32, 2**32) (product wraps to 0)",
         lambda: models.seeded_tensor("x", (2 ** 32, 2 ** 32))),
        ("models.seeded_tensor", "shape (2**62, 4) (product wraps to 0)",
         lambda: models.seeded_tensor("x", (2 ** 62, 4))),
        ("models.seeded_tensor", "shape (2**33, 2**31, 2) (wraps to 0)",
         lambda: models.seeded_tensor("x", (2 ** 33, 2 ** 31, 2))),
        ("models.seeded_tensor", "shape of rank 9", lambda: models.seeded_tensor("x", (1,) * 9)),
        ("models.seeded_tensor", "shape of rank 64", lambda: models.seeded_tensor("x", (1,) * 64)),
        ("models.seeded_tensor", "shape of rank 65", lambda: models.seeded_tensor("x", (1,) * 65)),
        ("models.seeded_tensor", "shape of rank 10000", lambda: models.seeded_tensor("x", (1,) * 10000)),
        ("image.resize", "size (2**31, 2**31)", lambda: image.resize(rnd((2, 5, 6), 1), (2 ** 31, 2 ** 31))),
        ("image.resize", "size (2**40, 1)", lambda: image.resize(rnd((2, 5, 6), 1), (2 ** 40, 1))),
        ("image.resize", "size (2**32, 2**32) (wraps to 0)",
         lambda: image.resize(rnd((2, 5, 6), 1), (2 ** 32, 2 ** 32))),
        ("image.resize", "size (2**62, 2**62)", lambda: image.resize(rnd((2, 5, 6), 1), (2 ** 62, 2 ** 62))),
        ("image.center_crop", "size (2**62, 2**62)", lambda: image.center_crop(rnd((2, 5, 6), 1), (2 ** 62, 2 ** 62))),
        ("adaptive_avg_pool2d", "output_size (2**40, 1)",
         lambda: swiftcnn.adaptive_avg_pool2d(rnd((1, 2, 7, 7), 1), (2 ** 40, 1))),
        ("adaptive_avg_pool2d", "output_size (2**32, 2**32) (wraps)",
         lambda: swiftcnn.adaptive_avg_pool2d(rnd((1, 2, 7, 7), 1), (2 ** 32, 2 ** 32))),
        ("conv2d", "padding 2**40",
         lambda: swiftcnn.conv2d(rnd((1, 2, 5, 5), 1), rnd((3, 2, 3, 3), 2), padding=2 ** 40)),
        ("conv2d", "padding 2**62",
         lambda: swiftcnn.conv2d(rnd((1, 2, 5, 5), 1), rnd((3, 2, 3, 3), 2), padding=2 ** 62)),
        ("conv2d", "padding (2**32, 2**32) (wraps)",
         lambda: swiftcnn.conv2d(rnd((1, 2, 5, 5), 1), rnd((3, 2, 3, 3), 2), padding=(2 ** 32, 2 ** 32))),
        ("conv2d", "dilation 2**62 (d*(k-1) overflows)",
         lambda: swiftcnn.conv2d(rnd((1, 2, 5, 5), 1), rnd((3, 2, 3, 3), 2), dilation=2 ** 62)),
        ("conv2d", "dilation 2**62 with padding 2**62",
         lambda: swiftcnn.conv2d(rnd((1, 2, 5, 5), 1), rnd((3, 2, 3, 3), 2), dilation=2 ** 62, padding=2 ** 62)),
        ("conv2d", "stride 2**63 - 1 with padding 2**62",
         lambda: swiftcnn.conv2d(rnd((1, 2, 5, 5), 1), rnd((3, 2, 3, 3), 2), stride=2 ** 63 - 1, padding=2 ** 62)),
        ("models.create", "lenet5 with 2**31 classes", lambda: models.create("lenet5", 2 ** 31)),
        ("models.create", "lenet5 with 2**40 classes", lambda: models.create("lenet5", 2 ** 40)),
        ("models.create", "lenet5 with 2**62 classes", lambda: models.create("lenet5", 2 ** 62)),
        ("models.create", "lenet5 with 2**63 - 1 classes", lambda: models.create("lenet5", 2 ** 63 - 1)),
        ("models.create", "resnet18 with 2**40 classes", lambda: models.create("resnet18", 2 ** 40)),
        ("Model.fit", "epochs 2**63", lambda: lenet().fit(_X4(), labels(4), epochs=2 ** 63, verbose=False)),
        ("Model.fit", "batch_size 2**63", lambda: lenet().fit(_X4(), labels(4), batch_size=2 ** 63, verbose=False)),
        ("Model.evaluate", "batch_size 2**63", lambda: lenet().evaluate(_X4(), labels(4), batch_size=2 ** 63)),
        ("Optimizer.set_schedule", "steps 2**63", lambda: sgd(lenet()).set_schedule("step", 2 ** 63, 0.5)),
        ("datasets.permutation", "n 2**40", lambda: datasets.permutation(2 ** 40, "x", 0)),
        ("datasets.upsample_bilinear", "size 2**40", lambda: datasets.upsample_bilinear(rnd((1, 8, 8), 1), 2 ** 40)),
    ]
    for area, desc, call in huge_calls:
        add(area, "huge", desc + ": must raise", lambda call=call: expect_raise(call))
    # huge windows that are still valid: one window over the whole (padded) image
    px = lambda: rnd((1, 2, 6, 6), 1)  # noqa: E731

    def close(expected, rtol=1e-5):
        def check(r):
            r = np.asarray(r, np.float64)
            if r.shape != expected.shape or not np.allclose(r, expected, rtol=rtol, atol=0):
                return f"returned {r.ravel()[:4]} {r.shape}, expected {expected.ravel()[:4]} {expected.shape}"
            return None
        return check
    win_max = px().max(axis=(2, 3), keepdims=True).astype(np.float64)
    first_window = px()[:, :, :2, :2].max(axis=(2, 3), keepdims=True).astype(np.float64)
    add("max_pool2d", "huge", "stride 2**63 - 1 (one window)", lambda: expect_value(
        lambda: swiftcnn.max_pool2d(px(), 2, stride=2 ** 63 - 1), close(first_window, 0)))
    for k, p in [(2 ** 62, 2 ** 61), (2 ** 32, 2 ** 31)]:
        add("max_pool2d", "huge", f"kernel {_pow2(k)}, padding {_pow2(p)} (one window: the maximum)",
            lambda k=k, p=p: expect_value(lambda: swiftcnn.max_pool2d(px(), k, padding=p), close(win_max, 0)))
        for ceil in (False, True):
            add("avg_pool2d", "huge", f"kernel {_pow2(k)}, padding {_pow2(p)}, ceil_mode={ceil}, count_include_pad "
                f"(one window: sum / kernel area)", lambda k=k, p=p, ceil=ceil: expect_value(
                    lambda: swiftcnn.avg_pool2d(px(), k, padding=p, ceil_mode=ceil),
                    close(px().astype(np.float64).sum(axis=(2, 3), keepdims=True) / (float(k) * float(k)))))
            add("avg_pool2d", "huge", f"kernel {_pow2(k)}, padding {_pow2(p)}, ceil_mode={ceil}, "
                f"count_include_pad=False (one window: the mean)", lambda k=k, p=p, ceil=ceil: expect_value(
                    lambda: swiftcnn.avg_pool2d(px(), k, padding=p, ceil_mode=ceil, count_include_pad=False),
                    close(px().astype(np.float64).mean(axis=(2, 3), keepdims=True))))
    for size in (2 ** 62, 2 ** 63 - 1):
        # alpha/size * sum(x^2) vanishes next to k = 1: the result is x
        add("local_response_norm", "huge", f"size {_pow2(size)} (the result is x)", lambda size=size: expect_value(
            lambda: swiftcnn.local_response_norm(rnd((1, 4, 3, 3), 1), size),
            close(rnd((1, 4, 3, 3), 1).astype(np.float64))))

    for area, desc, call, ref in [
        ("Model.fit", "batch_size 2**62 == batch_size N",
         lambda: (lenet().fit(_X4(), labels(4), batch_size=2 ** 62, verbose=False)),
         lambda: (lenet().fit(_X4(), labels(4), batch_size=4, verbose=False))),
        ("Model.evaluate", "batch_size 2**62 == batch_size N", lambda: lenet().evaluate(_X4(), labels(4), 2 ** 62),
         lambda: lenet().evaluate(_X4(), labels(4), 4)),
    ]:
        add(area, "huge", desc, lambda call=call, ref=ref: expect_same(ref, call))

    # model shape queries with huge inputs
    def query(model, method, shape):
        return lambda: getattr(models.create(model), method)(shape)

    for model, shapes in [("lenet5", [(2 ** 50, 1, 32, 32), (2 ** 62, 1, 32, 32), (2 ** 63 - 1, 1, 32, 32),
                                      (1, 1, 2 ** 40, 2 ** 40), (2 ** 64, 1, 32, 32)]),
                          ("resnet18", [(2 ** 50, 3, 224, 224), (2 ** 40, 3, 224, 224), (2 ** 63 - 1, 3, 224, 224),
                                        (1, 3, 2 ** 20, 2 ** 20), (1, 3, 2 ** 31, 2 ** 31), (1, 3, 2 ** 62, 2 ** 62),
                                        (2 ** 31, 3, 2 ** 16, 2 ** 16)])]:
        for shape in shapes:
            big = shape[0] > 2 ** 63 - 1
            n, c, h, w = shape
            oh, ow = (h + 6 - 7) // 2 + 1, (w + 6 - 7) // 2 + 1  # resnet's first convolution
            first_macs = 64 * 3 * 49 * oh * ow if model == "resnet18" else 6 * 25 * 28 * 28
            first_bytes = 4 * n * 64 * oh * ow if model == "resnet18" else 4 * n * 6 * 28 * 28
            tag = f"{model} {method_shape(shape)}"
            if big:
                for method in ("output_shape", "summary", "macs", "workspace_bytes"):
                    add(f"Model.{method}", "huge", f"{tag}: beyond int64, must raise",
                        lambda m=model, method=method, shape=shape: expect_raise(query(m, method, shape)), slow=True)
                continue
            fixed = model == "lenet5" and (h, w) != (32, 32)

            def check_shape(r, n=n, fixed=fixed, classes=10 if model == "lenet5" else 1000):
                if fixed:
                    return f"accepted an input of the wrong size: {r!r}"
                return None if r == (n, classes) else f"returned {r!r}, expected {(n, classes)}"

            add("Model.output_shape", "huge", f"{tag}", lambda m=model, shape=shape, c=check_shape:
                expect_value(query(m, "output_shape", shape), c), slow=True)
            add("Model.summary", "huge", f"{tag}", lambda m=model, shape=shape:
                expect_clean(query(m, "summary", shape)), slow=True)

            def check_macs(r, m=model, shape=shape, first=first_macs, fixed=fixed):
                if fixed:
                    return f"accepted an input of the wrong size: {r!r}"
                if not isinstance(r, int) or r < first:
                    return f"returned {r!r}, less than the first convolution alone ({first})"
                return None
            add("Model.macs", "huge", f"{tag} (per example: >= the first layer's {first_macs})",
                lambda m=model, shape=shape, c=check_macs: expect_value(query(m, "macs", shape), c), slow=True)

            def check_ws(r, first=first_bytes, fixed=fixed):
                if fixed:
                    return f"accepted an input of the wrong size: {r!r}"
                if not isinstance(r, int) or r < first:
                    return f"returned {r!r}, less than the first convolution's output alone ({first} bytes)"
                return None
            if first_bytes > 2 ** 63 - 1:
                add("Model.workspace_bytes", "huge", f"{tag}: needs more than 2**63 bytes, must raise",
                    lambda m=model, shape=shape: expect_raise(query(m, "workspace_bytes", shape)), slow=True)
            else:
                add("Model.workspace_bytes", "huge", f"{tag} (>= the first layer's output, {first_bytes} bytes)",
                    lambda m=model, shape=shape, c=check_ws: expect_value(query(m, "workspace_bytes", shape), c),
                    slow=True)
    for method in ("output_shape", "summary", "macs", "workspace_bytes"):
        for desc, shape in [("LyingSeq", LyingSeq), ("RaisingSeq", RaisingSeq), ("bools", lambda: (True, True, 32, 32)),
                            ("floats", lambda: (1.0, 1.0, 32.0, 32.0)), ("bytes", lambda: b"\x01\x01  "),
                            ("str", lambda: "1132"), ("negative batch", lambda: (-(2 ** 62), 1, 32, 32))]:
            add(f"Model.{method}", "type", f"input_shape={desc}", lambda method=method, shape=shape:
                expect_raise(lambda: getattr(lenet(), method)(shape())))
    empty = lambda: np.zeros((0, 1, 32, 32), F32)  # noqa: E731
    add("Model.__call__", "rank", "batch of 0 images", lambda: expect_clean(lambda: lenet()(empty())))
    add("Model.predict", "rank", "batch of 0 images", lambda: expect_clean(lambda: lenet().predict(empty())))
    add("Model.__call__", "rank", "image too small (1, 1, 8, 8)",
        lambda: expect_raise(lambda: lenet()(rnd((1, 1, 8, 8), 1))))
    add("Model.__call__", "rank", "3 channels for a 1-channel model",
        lambda: expect_raise(lambda: lenet()(rnd((1, 3, 32, 32), 1))))
    huge = lambda: np.lib.stride_tricks.as_strided(np.zeros(1, F32), (2 ** 40, 3, 224, 224), (0, 0, 0, 0))  # noqa: E731
    for method in ("__call__", "predict"):
        add(f"Model.{method}", "huge", "resnet18, zero-stride [2**40, 3, 224, 224]: must raise",
            lambda method=method: expect_raise(lambda: getattr(models.create("resnet18"), method)(huge())), slow=True)
    add("Model.evaluate", "huge", "resnet18, zero-stride [2**40, 3, 224, 224]: must raise",
        lambda: expect_raise(lambda: models.create("resnet18").evaluate(huge(), np.zeros(2 ** 40, np.int8))), slow=True)

    # threads
    for n in (100000, 2 ** 31 - 1):
        add("set_num_threads", "huge", f"set_num_threads({n}) then an op", lambda n=n: expect_clean(
            lambda: (swiftcnn.set_num_threads(n), swiftcnn.conv2d(rnd((1, 2, 32, 32), 1), rnd((3, 2, 3, 3), 2)))))

    # load_state_dict's mapping (the model must be unchanged after a refusal)
    def sd_case(desc, make, strict=True):
        def run():
            m = lenet()
            before = canon(state(m))
            return expect_raise(lambda: m.load_state_dict(make(m), strict=strict),
                                after=lambda: None if canon(state(m)) == before else "the model's weights changed")
        add("Model.load_state_dict", "type", desc, run)

    sd_case("state_dict=None", lambda m: None)
    sd_case("state_dict=list of pairs", lambda m: list(m.state_dict().items()))
    sd_case("state_dict={} (strict)", lambda m: {})
    sd_case("a value None", lambda m: {**m.state_dict(), "features.0.bias": None})
    sd_case("a value str", lambda m: {**m.state_dict(), "features.0.bias": "abc"})
    sd_case("a value object()", lambda m: {**m.state_dict(), "features.0.bias": object()})
    sd_case("a value complex", lambda m: {**m.state_dict(), "features.0.bias": np.ones(6, np.complex64) + 1j})
    sd_case("a value of the wrong shape", lambda m: {**m.state_dict(), "features.0.bias": np.ones(7, F32)})
    sd_case("a value of rank 5", lambda m: {**m.state_dict(), "features.0.bias": np.ones((1, 1, 1, 1, 6), F32)})
    sd_case("a value empty", lambda m: {**m.state_dict(), "features.0.bias": np.ones(0, F32)})
    sd_case("a value zero-stride 2**40", lambda m: {
        **m.state_dict(), "features.0.bias": np.lib.stride_tricks.as_strided(np.zeros(1, F32), (2 ** 40,), (0,))})
    sd_case("a value whose detach() raises", lambda m: {**m.state_dict(), "features.0.bias": FakeTorchTensor()})
    sd_case("a value with __array__ raising", lambda m: {**m.state_dict(), "features.0.bias": RaisingArray()})
    sd_case("an int key", lambda m: {**m.state_dict(), 5: np.ones(6, F32)})
    sd_case("a key with NUL", lambda m: {**m.state_dict(), "features.0.bias\x00": np.ones(6, F32)})
    sd_case("a key with a lone surrogate", lambda m: {**m.state_dict(), "features\udcff": np.ones(6, F32)})
    sd_case("an unknown key (strict)", lambda m: {**m.state_dict(), "bogus.weight": np.ones(6, F32)})
    sd_case("a missing key (strict)", lambda m: {k: v for k, v in m.state_dict().items() if k != "features.0.bias"})
    sd_case("a wrong shape with strict=False", lambda m: {"features.0.bias": np.ones(7, F32)}, strict=False)
    def load_unknown_only():
        m = lenet()
        m.load_state_dict({"bogus": np.ones(3, F32)}, strict=False)
        return state(m)
    add("Model.load_state_dict", "type", "unknown keys only, strict=False: a no-op",
        lambda: expect_same(lambda: state(lenet()), load_unknown_only))

    # fit's validation_data
    vx = lambda: rnd((2, 1, 32, 32), 1)  # noqa: E731
    for desc, make in [("(vx,)", lambda: (vx(),)), ("(vx, vy, 1)", lambda: (vx(), labels(2), 1)),
                       ("'ab'", lambda: "ab"), ("(vx, None)", lambda: (vx(), None)),
                       ("(None, vy)", lambda: (None, labels(2))), ("vy too short", lambda: (vx(), labels(1))),
                       ("vx of the wrong size", lambda: (rnd((2, 1, 16, 16), 1), labels(2))),
                       ("vy out of range", lambda: (rnd((2, 1, 32, 32), 1), np.array([0, 10]))),
                       ("object()", object), ("RaisingSeq", RaisingSeq)]:
        add("Model.fit", "type", f"validation_data={desc}", lambda make=make: expect_raise(
            lambda: lenet().fit(_X4(), labels(4), epochs=1, batch_size=2, validation_data=make(), verbose=False)))
    for desc, y in [("labels -1", [0, 1, 2, -1]), ("labels 10 (num_classes)", [0, 1, 2, 10]),
                    ("labels 2**31", [0, 1, 2, 2 ** 31]), ("labels -2**40", [0, 1, 2, -(2 ** 40)]),
                    ("labels 2.5", [0, 1, 2, 2.5]), ("labels NaN", [0, 1, 2, float("nan")]),
                    ("3 labels for 4 images", [0, 1, 2]), ("labels of rank 2", [[0, 1], [2, 3]])]:
        for method in ("train_step", "fit", "evaluate"):
            def call(method=method, y=y):
                m = lenet()
                if method == "train_step":
                    return m.train_step(_X4(), y, sgd(m))
                if method == "fit":
                    return m.fit(_X4(), y, epochs=1, batch_size=2, verbose=False)
                return m.evaluate(_X4(), y)
            add(f"Model.{method}", "domain", f"y: {desc}", lambda call=call: expect_raise(call))

    # optimizers bound to another model, lr setter
    def other_model(kind):
        def run():
            m1, m2 = lenet(), lenet()
            opt = sgd(m1)
            before = canon(state(m1)), canon(state(m2))
            if kind == "train_step":
                call = lambda: m2.train_step(_X4(), labels(4), opt)  # noqa: E731
            else:
                call = lambda: m2.fit(_X4(), labels(4), epochs=1, batch_size=2,  # noqa: E731
                                      optimizer=opt, verbose=False)
            return expect_raise(call, after=lambda: None if (canon(state(m1)), canon(state(m2))) == before
                                else "a model's weights changed")
        return run
    add("Model.train_step", "type", "optimizer of another model", other_model("train_step"))
    add("Model.fit", "type", "optimizer of another model", other_model("fit"))

    def other_arch():
        m1 = models.lenet5(num_classes=5)
        m2 = lenet()
        return m2.train_step(_X4(), labels(4), sgd(m1))
    add("Model.train_step", "type", "optimizer of a model with other shapes", lambda: expect_raise(other_arch))
    for desc, v in [("nan", float("nan")), ("inf", float("inf")), ("-1.0", -1.0), ("None", None), ("'x'", "x"),
                    ("RaisingFloat", RaisingFloat())]:
        def set_lr(v=v):
            opt = sgd(lenet())
            opt.lr = v
            return opt.lr
        add("Optimizer.lr", "domain", f"lr = {desc}", lambda set_lr=set_lr: expect_raise(set_lr))
    def set_lr_zero():
        opt = sgd(lenet())
        opt.lr = 0.0
        return opt.lr
    add("Optimizer.lr", "domain", "lr = 0.0 (valid: PyTorch's domain) reads back 0.0",
        lambda: expect_value(set_lr_zero, lambda r: None if r == 0.0 else f"read back {r!r}"))

    def del_lr():
        try:
            delattr(sgd(lenet()), "lr")
        except AttributeError as e:  # the type Python uses for attributes that cannot be deleted
            return (PASS, str(e)) if str(e).strip() else (BAD, "AttributeError with an empty message")
        except Exception as e:
            return error_verdict(e)
        return WRONG, "del opt.lr succeeded"
    add("Optimizer.lr", "type", "del lr", del_lr)

    path_cases()


def method_shape(shape):
    return "[" + ", ".join(_pow2(v) for v in shape) + "]"


def _pow2(v):
    for e in range(8, 65):
        if v == 2 ** e:
            return f"2**{e}"
        if v == 2 ** e - 1:
            return f"2**{e}-1"
    return str(v)


# ---- paths ----------------------------------------------------------------------------------------------

# name forms: (description, make() -> the path argument); the file created must be os.fsencode(path)
PATH_FORMS = [
    ("str", lambda: "w.safetensors"),
    ("bytes", lambda: b"w.safetensors"),
    ("pathlib.Path", lambda: pathlib.Path("w.safetensors")),
    ("os.PathLike returning bytes", lambda: FsPath(b"w.safetensors")),
    ("non-ASCII UTF-8 str", lambda: "w\u00e9\u2603.safetensors"),
    ("non-UTF-8 bytes", lambda: b"w\xff.safetensors"),
    ("surrogateescape str", lambda: "w\udcff.safetensors"),
    ("os.PathLike returning non-UTF-8 bytes", lambda: FsPath(b"w\xfe.safetensors")),
    ("pathlib.Path of a non-UTF-8 name", lambda: pathlib.Path(os.fsdecode(b"w\xfd.safetensors"))),
    ("200-byte name", lambda: "a" * 188 + ".safetensors"),
    ("spaces, newline, leading dash", lambda: "-w x\n.safetensors"),
    ("relative in a subdirectory", lambda: os.path.join("sub", "w.safetensors")),
    ("absolute", lambda: os.path.abspath("w.safetensors")),
]


def _model_ops():
    def save(p):
        m = lenet()
        m.reset_parameters(7)
        m.save(p)
        return state(m)

    def load(p):
        m = lenet()
        m.load(p)
        return state(m)
    return save, load


def _checkpoint_ops():
    def save(p):
        m, opt = _save_checkpoint(p)
        return _checkpoint_state(m, opt)

    def load(p):
        m = lenet()
        opt = sgd(m)
        opt.load_checkpoint(p)
        return _checkpoint_state(m, opt)
    return save, load


def _safetensors_ops():
    def save(p):
        t = {"t": rnd((2, 3), 60), "u": rnd((4,), 61)}
        swiftcnn.write_safetensors(p, t)
        return t["t"], t["u"]

    def load(p):
        return swiftcnn.read_safetensors(p, "t"), swiftcnn.read_safetensors(p, "u")
    return save, load


def _index_ops():
    def save(p):
        _index("l2").save(p)
        return _index_state(retrieval.Index.load(p))

    def load(p):
        return _index_state(retrieval.Index.load(p))
    return save, load


PATH_OPS = [("paths: Model.save/load", _model_ops), ("paths: checkpoints", _checkpoint_ops),
            ("paths: safetensors", _safetensors_ops), ("paths: retrieval index", _index_ops)]


def _listing(d=b"."):
    return sorted(os.listdir(d))


def path_roundtrip(ops, make):
    """save(p) must create exactly os.fsencode(p) (nothing else) and load(p) must read it back."""
    save, load = ops()
    p = make()
    os.mkdir("sub")
    d, base = os.path.split(os.fsencode(os.fspath(p)))
    before = set(_listing(d or b"."))
    try:
        ref = save(p)
    except Exception as e:
        return BAD, f"save({p!r}) refused a valid path: {type(e).__name__}: {e}"
    created = sorted(set(_listing(d or b".")) - before)
    if created != [base]:
        return WRONG, f"save({p!r}) created {created}, expected [{base!r}]"
    try:
        got = load(p)
    except Exception as e:
        return BAD, f"load({p!r}) of the file just saved failed: {type(e).__name__}: {e}"
    if canon(got) != canon(ref):
        return WRONG, "loaded back different values: " + describe_diff(ref, got)
    return PASS, "ok"


def path_cases():
    for area, ops in PATH_OPS:
        for desc, make in PATH_FORMS:
            add(area, "path", f"save+load {desc}", lambda ops=ops, make=make: path_roundtrip(ops, make))

            def load_exact(ops=ops, make=make):
                save, load = ops()
                p = make()
                ref = save("src.safetensors")
                os.mkdir("sub")
                os.rename(b"src.safetensors", os.fsencode(os.fspath(p)))
                try:
                    got = load(p)
                except Exception as e:
                    return BAD, f"load({p!r}) of an existing file failed: {type(e).__name__}: {e}"
                return (PASS, "ok") if canon(got) == canon(ref) else (WRONG, describe_diff(ref, got))
            add(area, "path", f"load of an existing file named by {desc}", load_exact)

        # files that cannot be loaded: a clear error, no hang, and (models) nothing changed
        def bad_load(setup, ops=ops, area=area):
            def run():
                save, load = ops()
                p = setup(save)
                holder = {}

                def attempt():
                    if area in ("paths: safetensors", "paths: retrieval index"):
                        return load(p)
                    m = lenet()
                    m.reset_parameters(11)
                    holder["m"] = m
                    holder["before"] = canon(state(m))
                    if area == "paths: checkpoints":
                        opt = sgd(m)
                        holder["opt"] = opt
                        opt.load_checkpoint(p)
                    else:
                        m.load(p)

                def unchanged():
                    if "m" in holder and canon(state(holder["m"])) != holder["before"]:
                        return "the model's weights changed"
                    return None
                return expect_raise(attempt, after=unchanged)
            return run

        def trunc(save):
            save("f.safetensors")
            data = open("f.safetensors", "rb").read()
            open("t.safetensors", "wb").write(data[:len(data) // 2])
            return "t.safetensors"

        def header_len(n):
            def setup(save):
                open("h.safetensors", "wb").write(struct.pack("<Q", n) + b"{}")
                return "h.safetensors"
            return setup

        def write(content):
            def setup(save):
                open("g.safetensors", "wb").write(content)
                return "g.safetensors"
            return setup

        def fifo(save):
            os.mkfifo("fifo.safetensors")
            return "fifo.safetensors"

        def directory(save):
            os.mkdir("dir.safetensors")
            return "dir.safetensors"

        def symlink_loop(save):
            os.symlink("loop.safetensors", "loop.safetensors")
            return "loop.safetensors"

        def other(kind):
            def setup(save):
                if kind == "checkpoint":
                    _save_checkpoint("o.safetensors")
                elif kind == "model":
                    _save_file("o.safetensors")
                elif kind == "other model":
                    models.lenet5(num_classes=5).save("o.safetensors")
                else:
                    swiftcnn.write_safetensors("o.safetensors", {"x": np.ones(3, F32)})
                return "o.safetensors"
            return setup

        bad = [("nonexistent", lambda s: "missing.safetensors"), ("a directory", directory),
               ("a FIFO without a writer", fifo), ("/dev/zero", lambda s: "/dev/zero"),
               ("/dev/null", lambda s: "/dev/null"), ("an empty file", write(b"")), ("7 bytes", write(b"\x01" * 7)),
               ("random bytes", write(bytes(range(256)) * 4)),
               ("a truncated file", trunc), ("header length 2**63", header_len(2 ** 63)),
               ("header length 2**64 - 1", header_len(2 ** 64 - 1)), ("header length 2**40", header_len(2 ** 40)),
               ("header length beyond the file", header_len(1000)),
               ("header not JSON", write(struct.pack("<Q", 4) + b"\xff\xfe\x00{")),
               ("header a JSON list", write(struct.pack("<Q", 2) + b"[]")),
               ("offsets past the end", write(_st_entry("F32", [2, 3], [0, 2 ** 40]))),
               ("offsets reversed", write(_st_entry("F32", [2, 3], [24, 0], 24))),
               ("shape product overflows", write(_st_entry("F32", [2 ** 32, 2 ** 32, 4], [0, 0]))),
               ("negative shape", write(_st_entry("F32", [-2, -3], [0, 24], 24))),
               ("dtype I64", write(_st_entry("I64", [3], [0, 24], 24))),
               ("rank 9 tensor", write(_st_entry("F32", [1] * 9, [0, 4], 4))),
               ("a symlink loop", symlink_loop), ("empty path", lambda s: ""),
               ("embedded NUL", lambda s: "w\x00.safetensors"), ("name too long (300 bytes)", lambda s: "a" * 300),
               ("path too long (5000 bytes)", lambda s: "a/" * 2500),
               ("a file through a file", lambda s: (open("file", "wb").close(), "file/w.safetensors")[1])]
        if area == "paths: Model.save/load":
            bad += [("a checkpoint (extra keys)", other("checkpoint")),
                    ("another model's weights", other("other model")),
                    ("a safetensors file with other names", other("tensors"))]
        elif area == "paths: checkpoints":
            bad += [("a plain weights file", other("model")), ("another model's checkpoint", other("other model"))]
        for desc, setup in bad:
            add(area, "path", f"load {desc}", bad_load(setup), slow=desc in ("a FIFO without a writer", "/dev/zero"))

        # saves that must fail, leaving no temporary file behind
        def bad_save(setup, ops=ops):
            def run():
                save, load = ops()
                p = setup()
                before = _listing()
                return expect_raise(lambda: save(p), after=lambda: None if _listing() == before
                                    else f"files left behind: {sorted(set(_listing()) - set(before))}")
            return run
        for desc, setup in [("into a missing directory", lambda: "nodir/w.safetensors"),
                            ("onto an existing directory", lambda: (os.mkdir("d.safetensors"), "d.safetensors")[1]),
                            ("empty path", lambda: ""), ("embedded NUL", lambda: "w\x00.safetensors"),
                            ("name too long (300 bytes)", lambda: "a" * 300),
                            ("through a file", lambda: (open("file", "wb").close(), "file/w.safetensors")[1]),
                            ("None", lambda: None), ("an int", lambda: 3), ("__fspath__ raises", RaisingPath),
                            ("__fspath__ returns an int", lambda: FsPath(3))]:
            add(area, "path", f"save {desc}", bad_save(setup))

        def save_over_fifo(ops=ops):
            save, load = ops()
            os.mkfifo("fifo.safetensors")
            return expect_clean(lambda: save("fifo.safetensors"))
        add(area, "path", "save onto an existing FIFO", save_over_fifo, slow=True)

        def save_twice(ops=ops):
            save, load = ops()
            save("w.safetensors")
            ref = save("w.safetensors")
            if _listing() != [b"w.safetensors"]:
                return WRONG, f"directory after two saves: {_listing()}"
            return (PASS, "ok") if canon(load("w.safetensors")) == canon(ref) else (WRONG, "overwrite lost the data")
        add(area, "path", "save twice over the same file", save_twice)

    # safetensors names and containers
    for desc, make in [("{}", lambda: {}), ("[]", lambda: []), ("None", lambda: None),
                       ("{'a': None}", lambda: {"a": None}), ("{1: array}", lambda: {1: np.ones(3, F32)}),
                       ("{'a\\x00b': array}", lambda: {"a\x00b": np.ones(3, F32)}),
                       ("{'\\udcff': array}", lambda: {"\udcff": np.ones(3, F32)}),
                       ("{'a': complex}", lambda: {"a": np.ones(3, np.complex64) + 1j}),
                       ("{'a': rank 5}", lambda: {"a": np.ones((1, 1, 1, 1, 3), F32)}),
                       ("{'a': empty}", lambda: {"a": np.ones(0, F32)}),
                       ("{'a': zero-stride 2**40}",
                        lambda: {"a": np.lib.stride_tricks.as_strided(np.zeros(1, F32), (2 ** 40,), (0,))}),
                       ("{'a': RaisingArray}", lambda: {"a": RaisingArray()}),
                       ("{'a': 'text'}", lambda: {"a": "text"})]:
        def run(make=make):
            before = _listing()
            return expect_raise(lambda: swiftcnn.write_safetensors("w.safetensors", make()),
                                after=lambda: None if _listing() == before else f"files left behind: {_listing()}")
        add("write_safetensors", "type", f"tensors={desc}", run)
    for desc, name in [("empty name ''", ""), ("a 100000-character name", "n" * 100000),
                       ("'__metadata__'", "__metadata__"),
                       ("a name with quotes and backslashes", 'a"b\\c'), ("a non-ASCII name", "\u00e9\u2603")]:
        def run(name=name):
            t = rnd((2, 2), 62)
            swiftcnn.write_safetensors("w.safetensors", {name: t})
            got = swiftcnn.read_safetensors("w.safetensors", name)
            return None if canon(got) == canon(t) else "read back different values"
        add("write_safetensors", "type", f"name {desc}: refused, or read back exactly",
            lambda run=run: expect_value(run, lambda r: r))


def _st_entry(dtype, shape, offsets, data_len=0):
    """A safetensors file with one entry "t" and data_len zero bytes of data."""
    return _st_header({"t": {"dtype": dtype, "shape": shape, "data_offsets": offsets}}, data_len)


def _st_header(header, data_len=0):
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + b"\x00" * data_len


# ---- running the cases --------------------------------------------------------------------------------


def sanity():
    r = swiftcnn.relu(np.array([-1.0, 2.0], F32))
    if r.tolist() != [0.0, 2.0]:
        return f"relu([-1, 2]) gave {r.tolist()} after the case"
    return None


def child(case, workdir, result_path, log_path):
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.mkdir(workdir)
    os.chdir(workdir)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))
    except (ValueError, OSError):
        pass
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            status, detail = case.thunk()
            if status == PASS:
                try:
                    problem = sanity()
                except BaseException as e:
                    problem = f"relu after the case raised {type(e).__name__}: {e}"
                if problem:
                    status, detail = BAD, f"{detail}; then {problem}"
    except BaseException as e:  # KeyboardInterrupt, SystemExit, a harness error
        status, detail = BAD, f"uncaught {type(e).__name__}: {short(str(e), 300)}"
    try:
        with open(result_path, "w") as f:
            json.dump([status, detail], f)
    finally:
        os._exit(0)


def tail(path, n=600):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return ""
    text = data.decode("utf-8", "replace").strip()
    return text[-n:]


def run_cases(cases, jobs, timeout, root, verbose):
    results = [None] * len(cases)
    durations = [0.0] * len(cases)
    order = sorted(range(len(cases)), key=lambda i: not cases[i].slow)  # slow ones first: they overlap the rest
    pending = collections.deque(order)
    running = {}
    while pending or running:
        while pending and len(running) < jobs:
            i = pending.popleft()
            paths = (os.path.join(root, f"c{i}"), os.path.join(root, f"r{i}.json"), os.path.join(root, f"l{i}.txt"))
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                child(cases[i], *paths)
            running[pid] = (i, time.monotonic(), paths)
        time.sleep(0.001)
        for pid in list(running):
            i, start, (workdir, result_path, log_path) = running[pid]
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == 0:
                if time.monotonic() - start <= timeout:
                    continue
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                results[i] = (HANG, f"no answer within {timeout:g} s (killed)")
            elif os.WIFSIGNALED(status):
                sig = os.WTERMSIG(status)
                log = tail(log_path)
                results[i] = (CRASH, f"killed by {signal.Signals(sig).name}" + (f"; output: {log}" if log else ""))
            else:
                try:
                    with open(result_path) as f:
                        results[i] = tuple(json.load(f))
                except (OSError, ValueError):
                    log = tail(log_path)
                    results[i] = (CRASH, f"exited with status {os.WEXITSTATUS(status)} without an answer"
                                  + (f"; output: {log}" if log else ""))
            del running[pid]
            durations[i] = time.monotonic() - start
            shutil.rmtree(workdir, ignore_errors=True)
            for p in (result_path, log_path):
                try:
                    os.unlink(p)
                except OSError:
                    pass
            if verbose:
                c = cases[i]
                print(f"  {results[i][0]:<12} {c.area}: {c.family} {c.desc}\n{'':>15}{results[i][1]}", flush=True)
    return results, durations


def self_test(root):
    """The harness must tell each outcome apart (a sweep that cannot fail proves nothing)."""
    def fake_ops(rewrite):
        def ops():
            def save(p):
                name = os.fsencode(os.fspath(p))
                if rewrite:  # what a library that decodes names as UTF-8 with replacement does
                    name = name.decode("utf-8", "replace").encode("utf-8")
                with open(name, "wb") as f:
                    f.write(b"data")
                return b"data"

            def load(p):
                with open(os.fspath(p), "rb") as f:
                    return f.read()
            return save, load
        return ops

    def set_error():
        raise SystemError("returned a result with an exception set")
    probes = [
        (CRASH, lambda: os.kill(os.getpid(), signal.SIGILL)),
        (CRASH, lambda: os._exit(3)),
        (HANG, lambda: time.sleep(60)),
        (BAD, lambda: expect_raise(set_error)),
        (BAD, lambda: expect_raise(lambda: (_ for _ in ()).throw(ValueError("")))),
        (BAD, lambda: expect_raise(lambda: {}.missing)),
        (WRONG, lambda: expect_raise(lambda: 1)),
        (WRONG, lambda: expect_same(lambda: np.zeros(2, F32), lambda: np.array([0.0, -0.0], F32))),
        (WRONG, lambda: expect_same(lambda: np.zeros(2, F32), lambda: np.zeros(2, np.float64))),
        (WRONG, lambda: path_roundtrip(fake_ops(True), lambda: b"w\xff.safetensors")),
        (WRONG, lambda: path_roundtrip(fake_ops(True), lambda: "w\udcff.safetensors")),
        (PASS, lambda: path_roundtrip(fake_ops(False), lambda: b"w\xff.safetensors")),
        (PASS, lambda: expect_raise(lambda: swiftcnn.relu("x"))),
        (PASS, lambda: expect_same(lambda: swiftcnn.relu(rnd(5, 1)), lambda: swiftcnn.relu(_strided(rnd(5, 1))))),
    ]
    cases = [Case("self-test", "", str(i), fn, False) for i, (_, fn) in enumerate(probes)]
    results, _ = run_cases(cases, 2, 1.0, root, False)
    wrong = [(i, want, got) for i, ((want, _), (got, _)) in enumerate(zip(probes, results)) if want != got]
    for i, want, got in wrong:
        print(f"self-test probe {i}: expected {want}, the harness said {got} ({results[i][1]})")
    return not wrong


def build_cases():
    api = public_callables()
    if importlib.util.find_spec("sklearn") is None:
        SPECS.pop("datasets.load_digits", None)
        SKIPS.append(("datasets.load_digits", "scikit-learn is not installed: no baseline cases"))
    for qual, fn in sorted(api.items()):
        sp = SPECS.get(qual)
        params = signature_params(fn, self_arg=sp.self_arg if sp else "." in qual and qual.split(".")[0][0].isupper())
        if sp is None:
            SKIPS.append((qual, "no entry in the hint table (SPECS): only generic wrong-type calls, no baseline cases"))
            generic_cases(qual, fn, params)
            continue
        for p in params or []:
            if p not in sp.kinds and p not in sp.covered:
                SKIPS.append((qual, f"argument {p!r} has no kind in the hint table: its wrong-type cases are not run"))
        spec_cases(sp)
    for qual in sorted(set(SPECS) - set(api)):
        if qual not in ("Model.__call__",):
            SKIPS.append((qual, "in the hint table but no longer public"))
    explicit_cases()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="children run at once (default 2)")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds before a case counts as a hang (default 10)")
    ap.add_argument("--filter", default="", help="only cases whose area, family or description contain this text")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--no-self-test", action="store_true", help="skip the harness self-test")
    ap.add_argument("--timing", action="store_true", help="print the slowest areas and cases")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every case as it finishes")
    args = ap.parse_args()

    build_cases()
    cases = [c for c in CASES if args.filter in f"{c.area} {c.family} {c.desc}"]
    if args.list:
        for c in cases:
            print(f"{c.area}: {c.family} {c.desc}")
        print(f"{len(cases)} cases")
        return 0
    print(f"swiftcnn {swiftcnn.__version__} Python bad-input sweep: {len(cases)} cases, {args.jobs} at a time, "
          f"{args.timeout:g} s timeout each", flush=True)
    t0 = time.monotonic()
    root = tempfile.mkdtemp(prefix="scnn-py-bad-inputs-")
    try:
        if not args.no_self_test:
            if not self_test(root):
                print("the harness self-test failed: the sweep's verdicts cannot be trusted")
                return 2
            print("self-test: crashes, hangs, bad errors, wrong results and rewritten file names are detected")
        # load_digits' cases last, after importing scikit-learn once here: importing it in every
        # child is slow, and a parent holding it makes every fork slower.
        first = [i for i, c in enumerate(cases) if c.area != "datasets.load_digits"]
        last = [i for i, c in enumerate(cases) if c.area == "datasets.load_digits"]
        results, durations = [None] * len(cases), [0.0] * len(cases)
        for batch in (first, last):
            if batch is last and batch:
                import sklearn.datasets  # noqa: F401
            r, d = run_cases([cases[i] for i in batch], max(1, args.jobs), args.timeout, root, args.verbose)
            for i, ri, di in zip(batch, r, d):
                results[i], durations[i] = ri, di
    finally:
        shutil.rmtree(root, ignore_errors=True)
    elapsed = time.monotonic() - t0

    cols = [PASS, CRASH, HANG, BAD, WRONG]
    table = collections.OrderedDict()
    for c, (status, _) in zip(cases, results):
        row = table.setdefault(c.area, collections.Counter())
        row["cases"] += 1
        row[status] += 1
    skip_rows = collections.Counter(q for q, _ in SKIPS)
    for q in skip_rows:
        table.setdefault(q, collections.Counter())[SKIP] += skip_rows[q]
    width = max([len("area")] + [len(a) for a in table])
    header = (f"{'area':<{width}}  {'cases':>5}  {'passed':>6}  {'crash':>5}  {'hang':>4}  {'bad-error':>9}  "
              f"{'wrong-result':>12}")
    header += f"  {'skipped':>7}" if SKIPS else ""
    print()
    print(header)
    print("-" * len(header))
    totals = collections.Counter()
    for area in sorted(table):
        row = table[area]
        totals.update(row)
        line = (f"{area:<{width}}  {row['cases']:>5}  {row[PASS]:>6}  {row[CRASH]:>5}  {row[HANG]:>4}  {row[BAD]:>9}  "
                f"{row[WRONG]:>12}")
        print(line + (f"  {row[SKIP]:>7}" if SKIPS else ""))
    print("-" * len(header))
    line = (f"{'total':<{width}}  {totals['cases']:>5}  {totals[PASS]:>6}  {totals[CRASH]:>5}  {totals[HANG]:>4}  "
            f"{totals[BAD]:>9}  {totals[WRONG]:>12}")
    print(line + (f"  {totals[SKIP]:>7}" if SKIPS else ""))
    fam_cases = collections.Counter(c.family for c in cases)
    fam_failed = collections.Counter(c.family for c, (s, _) in zip(cases, results) if s != PASS)
    print("by family: " + ", ".join(f"{f} {fam_cases[f]} ({fam_failed[f]} failed)"
                                    for f in ("layout", "dtype", "rank", "huge", "type", "domain", "path")))

    failed = [(c, s, d) for c, (s, d) in zip(cases, results) if s != PASS]
    if failed:
        print(f"\nfailures ({len(failed)}):")
        for c, s, d in failed:
            print(f"  [{s}] {c.area}: {c.family}: {c.desc!s}\n      {d}")
    if SKIPS:
        print(f"\nskipped ({len(SKIPS)}):")
        for q, why in SKIPS:
            print(f"  {q}: {why}")
    if args.timing:
        per_area = collections.Counter()
        for c, d in zip(cases, durations):
            per_area[c.area] += d
        print("\nslowest areas (child seconds): " + ", ".join(f"{a} {t:.1f}" for a, t in per_area.most_common(12)))
        slow = sorted(zip(durations, (f"{c.area}: {c.family} {c.desc}" for c in cases)), reverse=True)[:12]
        print("slowest cases: " + "; ".join(f"{d:.2f} s {n}" for d, n in slow))
    print(f"\nwall time {elapsed:.1f} s")
    closing = f"{totals[PASS]} passed, {len(failed)} failed"
    if SKIPS:
        closing += f", {len(SKIPS)} skipped"
    print(closing)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
