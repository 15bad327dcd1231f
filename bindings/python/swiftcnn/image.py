"""Images: 8-bit pixels to and from CHW float tensors, colour spaces, resize and crop.

Pixels are numpy ``uint8`` arrays laid out HWC: ``(H, W, C)`` with C = 1, 3 (RGB) or
4 (RGBA), or ``(H, W)`` for one channel. Tensors are float32 ``[C, H, W]`` (or
``[N, C, H, W]`` where noted). Float arrays follow the conversion rules of
:mod:`swiftcnn` (other real dtypes are converted to float32).
"""
from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np

from . import _swiftcnn as _c
from ._core import as_f32, as_float, out, pair

__all__ = ["to_tensor", "to_image", "rgb_to_hsv", "hsv_to_rgb", "rgb_to_grayscale", "resize", "center_crop"]

ArrayLike = Any


def _floats(v: Optional[Sequence[float]], name: str) -> Optional[list]:
    if v is None:
        return None
    if isinstance(v, (str, bytes)):
        raise TypeError(f"{name}: expected a sequence of numbers, got {type(v).__name__}")
    try:
        return [float(f) for f in np.asarray(v, dtype=np.float64).reshape(-1)]
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a sequence of numbers, got {v!r}") from None


def to_tensor(pixels: ArrayLike, mean: Optional[Sequence[float]] = None, std: Optional[Sequence[float]] = None,
              scale: float = 1.0 / 255) -> np.ndarray:
    """8-bit HWC pixels -> float32 CHW tensor ``[C, H, W]``.

    ``value = (pixel*scale - mean[c]) / std[c]``; scale defaults to 1/255, mean to 0 and
    std to 1; mean and std, when given, have one value per channel.

    pixels: a uint8 array ``(H, W, C)`` (C = 1, 3 or 4) or ``(H, W)``; other dtypes raise
    TypeError (convert with ``np.clip(a, 0, 255).astype(np.uint8)`` yourself). A
    non-contiguous view is copied first.
    """
    a = np.asarray(pixels)
    if a.dtype != np.uint8:
        raise TypeError(f"pixels: expected a uint8 array, got dtype {a.dtype}")
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3:
        raise ValueError(f"pixels: expected shape (H, W) or (H, W, C), got {a.shape}")
    a = np.ascontiguousarray(a)
    h, w, c = a.shape
    return out(_c.image_to_tensor(a, w, h, c, 0, as_float(scale, "scale"), _floats(mean, "mean"), _floats(std, "std")))


def to_image(x: ArrayLike, mean: Optional[Sequence[float]] = None, std: Optional[Sequence[float]] = None,
             scale: float = 1.0 / 255) -> np.ndarray:
    """Float CHW tensor ``[C, H, W]`` (or ``[1, C, H, W]``) -> uint8 pixels ``(H, W, C)``.

    The inverse of :func:`to_tensor`: ``pixel = round(clamp((v*std[c] + mean[c]) / scale, 0, 255))``.
    """
    x = as_f32(x)
    if x.ndim == 3:
        c, h, w = x.shape
    elif x.ndim == 4:
        c, h, w = x.shape[1:]
    else:
        c = h = w = 0  # the library reports the rank
    pixels = np.empty((h, w, c) if h * w * c > 0 else (1,), dtype=np.uint8)
    _c.tensor_to_image(x, as_float(scale, "scale"), _floats(mean, "mean"), _floats(std, "std"), pixels, 0)
    return pixels


def rgb_to_hsv(x: ArrayLike) -> np.ndarray:
    """RGB in [0, 1] -> HSV: H in degrees [0, 360), S and V in [0, 1]. x: ``[3, H, W]`` or ``[N, 3, H, W]``."""
    return out(_c.rgb_to_hsv(as_f32(x)))


def hsv_to_rgb(x: ArrayLike) -> np.ndarray:
    """HSV (H in degrees, taken modulo 360; S, V in [0, 1]) -> RGB. x: ``[3, H, W]`` or ``[N, 3, H, W]``."""
    return out(_c.hsv_to_rgb(as_f32(x)))


def rgb_to_grayscale(x: ArrayLike) -> np.ndarray:
    """ITU-R BT.601 luma ``0.299 R + 0.587 G + 0.114 B``: ``[3, H, W]`` -> ``[1, H, W]`` (or with N)."""
    return out(_c.rgb_to_grayscale(as_f32(x)))


def resize(x: ArrayLike, size: Union[int, Tuple[int, int]]) -> np.ndarray:
    """Bilinear resize of ``[C, H, W]`` or ``[N, C, H, W]`` to ``size`` (int or (h, w)), as
    ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False)`` without antialiasing."""
    h, w = pair(size, "size")
    return out(_c.resize_bilinear(as_f32(x), h, w))


def center_crop(x: ArrayLike, size: Union[int, Tuple[int, int]]) -> np.ndarray:
    """Crops the central ``size`` (int or (h, w)) of ``[C, H, W]`` or ``[N, C, H, W]``, with
    torchvision's offsets; a crop larger than the image raises ValueError."""
    h, w = pair(size, "size")
    return out(_c.center_crop(as_f32(x), h, w))
