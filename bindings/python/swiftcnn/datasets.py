"""swiftcnn.datasets -- scikit-learn's handwritten digits, prepared for LeNet-5.

    from swiftcnn import datasets
    d = datasets.load_digits(seed=0)       # needs scikit-learn (in the project's .venv)
    d.x_train.shape, d.x_test.shape        # (1437, 1, 32, 32) (360, 1, 32, 32), float32
    d.y_train[:5]                          # int64 class indices 0..9

The data: ``sklearn.datasets.load_digits()``, 1,797 real handwritten digits (8x8 pixels,
integer values 0..16), shipped inside the scikit-learn package (nothing is downloaded).

Exactly what is done, so that any other program (scripts/make_digits_fixture.py, a C
program) reproduces it bit for bit:

1. Upsampling 8x8 -> 32x32: bilinear with half-pixel centres, the sampling of
   ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False)``. Output row
   ``i`` reads source coordinate ``s = (i + 0.5) * 8/32 - 0.5`` clamped to ``[0, 7]``,
   ``i0 = floor(s)``, ``i1 = min(i0 + 1, 7)``, weight ``s - i0`` on ``i1``; columns alike.
   Computed in float64 as ``U @ image @ U.T`` with the 32x8 matrix ``U`` of those weights.
2. The split (seeded, 80/20): ``perm = permutation(1797, "digits.split", seed)`` (below);
   the first ``ceil(0.2 * 1797) = 360`` indices of ``perm`` are the held-out (test) set,
   the remaining 1,437 the training set, both in ``perm``'s order.
3. Standardization with the training split's statistics: one mean and one (population)
   standard deviation over every pixel of every training image, in float64; both sets
   become ``((x - mean) / std)`` rounded once to float32.

``permutation(n, name, seed)`` is a Fisher-Yates shuffle driven by swiftcnn's counter-based
generator (scripts/weightgen.py, ``SeededInit.bits`` in Swift): start from ``[0, 1, ...,
n-1]``; for ``i`` from ``n-1`` down to 1, swap element ``i`` with element
``bits(name, seed, i) % (i + 1)``, where ``bits(name, seed, i) = mix(fnv1a64(name) XOR
seed + (i + 1) * 0x9E3779B97F4A7C15)`` on wrapping uint64 (weightgen's ``z[i]``).
:func:`epoch_order` is the batch order swiftcnn's trainer uses for an epoch (the same
shuffle named "shuffle", seed ``seed + epoch``).

This module needs numpy (and scikit-learn for :func:`load_digits`) but not the compiled
extension, so scripts can load it by path.
"""
from __future__ import annotations

import math
import operator
from typing import NamedTuple

import numpy as np

__all__ = ["Digits", "load_digits", "upsample_bilinear", "permutation", "epoch_order", "split_indices"]

_MASK64 = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15


def _integer(v, name: str, lo: int = 0, hi: int = _MASK64) -> int:
    """`v` as a Python int in [lo, hi]: bools, floats and other non-integers raise TypeError,
    values outside the range ValueError (numpy integers become Python ints, so seeds never
    overflow a numpy dtype)."""
    if isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{name}: expected an integer, got bool")
    try:
        v = operator.index(v)
    except TypeError:
        raise TypeError(f"{name}: expected an integer, got {type(v).__name__}") from None
    if not lo <= v <= hi:
        raise ValueError(f"{name} must be in {lo} .. {hi}, got {v}")
    return v


def _fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & _MASK64
    return h


def _bits(name: str, seed: int, n: int) -> np.ndarray:
    """bits(name, seed, i) for i in 0..<n as uint64 (weightgen.raw_bits)."""
    seed = _integer(seed, "seed")
    s = np.uint64(_fnv1a64(name.encode("utf-8")) ^ seed)
    with np.errstate(over="ignore"):
        z = s + np.arange(1, n + 1, dtype=np.uint64) * np.uint64(_GAMMA)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def permutation(n: int, name: str, seed: int) -> np.ndarray:
    """The seeded Fisher-Yates permutation of ``0..n-1`` (int64); see the module docstring."""
    n = _integer(n, "n", 0, 2 ** 63 - 1)
    if not isinstance(name, str):
        raise TypeError(f"name: expected a str, got {type(name).__name__}")
    seed = _integer(seed, "seed")
    try:
        order = list(range(n))
    except MemoryError:
        raise MemoryError(f"permutation: {n} indices do not fit in memory") from None
    if n > 1:
        z = _bits(name, seed, n)
        for i in range(n - 1, 0, -1):
            j = int(z[i]) % (i + 1)
            order[i], order[j] = order[j], order[i]
    return np.asarray(order, dtype=np.int64)


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The order in which swiftcnn's trainer visits ``n`` training examples in ``epoch``
    (0-based) for a run with ``seed``: ``permutation(n, "shuffle", (seed + epoch) mod 2^64)``.
    Batches are consecutive slices of it; the last one may be smaller."""
    return permutation(n, "shuffle", (_integer(seed, "seed") + _integer(epoch, "epoch")) & _MASK64)


def split_indices(n: int, seed: int, test_fraction: float = 0.2):
    """``(train, test)`` index arrays: the first ``ceil(test_fraction * n)`` of
    ``permutation(n, "digits.split", seed)`` are the test set, the rest the training set."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    n = _integer(n, "n", 0, 2 ** 63 - 1)
    perm = permutation(n, "digits.split", seed)
    n_test = math.ceil(test_fraction * n)
    return perm[n_test:], perm[:n_test]


def _bilinear_matrix(src: int, dst: int) -> np.ndarray:
    u = np.zeros((dst, src), dtype=np.float64)
    scale = src / dst
    for i in range(dst):
        s = min(max((i + 0.5) * scale - 0.5, 0.0), src - 1.0)
        i0 = int(math.floor(s))
        i1 = min(i0 + 1, src - 1)
        w = s - i0
        u[i, i0] += 1.0 - w
        u[i, i1] += w
    return u


def upsample_bilinear(images: np.ndarray, size: int = 32) -> np.ndarray:
    """``[N, h, w]`` images to ``[N, size, size]`` (float64), bilinear with half-pixel
    centres (torch's ``interpolate(mode="bilinear", align_corners=False)``)."""
    images = np.asarray(images)
    if images.dtype.kind not in "biuf":
        raise TypeError(f"images: expected an array of real numbers, got dtype {images.dtype}")
    images = images.astype(np.float64)
    size = _integer(size, "size", 1, 2 ** 63 - 1)
    if images.ndim != 3:
        raise ValueError(f"images: expected [N, h, w], got shape {images.shape}")
    uh = _bilinear_matrix(images.shape[1], size)
    uw = _bilinear_matrix(images.shape[2], size)
    return np.einsum("ih,nhw,jw->nij", uh, images, uw, optimize=True)


class Digits(NamedTuple):
    """The prepared digits: float32 images ``[N, 1, size, size]`` (standardized) and int64
    labels, the training statistics, and which sklearn rows went where."""
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    mean: float
    std: float
    train_index: np.ndarray
    test_index: np.ndarray


def load_digits(seed: int = 0, size: int = 32, test_fraction: float = 0.2) -> Digits:
    """scikit-learn's digits, upsampled to ``size`` x ``size``, split 80/20 by ``seed`` and
    standardized with the training split's mean and std (see the module docstring)."""
    seed = _integer(seed, "seed")
    size = _integer(size, "size", 1, 2 ** 63 - 1)
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("swiftcnn.datasets.load_digits needs scikit-learn "
                          "(pip install scikit-learn; `make venv` installs it into .venv)") from e
    raw = _sk_load_digits()
    images = np.asarray(raw.images, dtype=np.float64)          # [1797, 8, 8], 0..16
    labels = np.asarray(raw.target, dtype=np.int64)
    big = upsample_bilinear(images, size)[:, None, :, :]       # [1797, 1, size, size]
    train, test = split_indices(len(labels), seed, test_fraction)
    mean = float(big[train].mean())
    std = float(big[train].std())
    x_train = ((big[train] - mean) / std).astype(np.float32)
    x_test = ((big[test] - mean) / std).astype(np.float32)
    return Digits(x_train, labels[train], x_test, labels[test], mean, std, train, test)
