"""Classic image filters: kernels as float32 ``[KH, KW]`` arrays, and :func:`apply`.

The kernels are those of the seed lecture: box N x N (1/(N*N) everywhere), horizontal
and vertical blur (1/N), sharpen ``1/4*[[0,-1,0],[-1,8,-1],[0,-1,0]]``, Sobel x and y,
the edge kernel ``[-1 0 1]`` and a normalised Gaussian.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from . import _swiftcnn as _c
from ._core import as_f32, as_float, as_int, choice, out

__all__ = ["box", "horizontal_blur", "vertical_blur", "sharpen", "sobel_x", "sobel_y", "edge", "gaussian", "apply"]

ArrayLike = Any
_BORDERS = ("zero", "replicate", "reflect")


def box(n: int) -> np.ndarray:
    """``[n, n]`` box blur, every weight 1/(n*n) (the seed's 1/9 3x3 and 1/25 5x5); n >= 1."""
    return out(_c.filter_box(as_int(n, "n")))


def horizontal_blur(n: int = 5) -> np.ndarray:
    """``[1, n]`` horizontal blur, every weight 1/n."""
    return out(_c.filter_horizontal_blur(as_int(n, "n")))


def vertical_blur(n: int = 5) -> np.ndarray:
    """``[n, 1]`` vertical blur, every weight 1/n."""
    return out(_c.filter_vertical_blur(as_int(n, "n")))


def sharpen() -> np.ndarray:
    """``1/4 * [[0, -1, 0], [-1, 8, -1], [0, -1, 0]]``, as the seed prints it."""
    return out(_c.filter_sharpen())


def sobel_x() -> np.ndarray:
    """``[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]``."""
    return out(_c.filter_sobel_x())


def sobel_y() -> np.ndarray:
    """``[[-1, -2, -1], [0, 0, 0], [1, 2, 1]]``."""
    return out(_c.filter_sobel_y())


def edge() -> np.ndarray:
    """The seed's edge kernel ``[[-1, 0, 1]]`` (shape ``[1, 3]``)."""
    return out(_c.filter_edge())


def gaussian(size: int, sigma: float) -> np.ndarray:
    """``[size, size]`` Gaussian, ``exp(-(i^2 + j^2) / (2 sigma^2))`` around the centre,
    normalised to sum 1; size odd >= 1, sigma > 0."""
    return out(_c.filter_gaussian(as_int(size, "size"), as_float(sigma, "sigma")))


def apply(image: ArrayLike, kernel: ArrayLike, border: str = "zero", layout: Optional[str] = None) -> np.ndarray:
    """Cross-correlates every channel of ``image`` with ``kernel``; the output has the input's shape.

    image: ``[H, W]``, ``[C, H, W]`` or ``[N, C, H, W]``, or channels last, ``(H, W, C)`` or
    ``(N, H, W, C)``, as numpy, PIL and scikit-image hold images (a PIL image is taken as
    ``np.asarray`` gives it). Which of the two a 3-D or 4-D array is follows
    :mod:`swiftcnn.image`'s layout rule; ``layout="chw"`` or ``"hwc"`` says it outright.
    The result is float32 in the input's layout; uint8 pixels are filtered in their own
    units (0..255, not scaled), since kernels such as Sobel give values outside any pixel
    range: clip and cast the result yourself.

    kernel ``[KH, KW]``, anchored at ``((KH-1)//2, (KW-1)//2)``. border: pixels outside the
    image are ``"zero"``, ``"replicate"`` (nearest edge pixel) or ``"reflect"`` (mirrored
    without repeating the edge, like numpy's ``"reflect"``; repeatedly for kernels larger
    than the image).
    """
    from .image import _is_hwc, _is_pil
    a = image if isinstance(image, np.ndarray) else np.asarray(image)
    hwc = _is_hwc(a, layout, _is_pil(image))
    if hwc:
        a = np.moveaxis(a, -1, -3)
    r = out(_c.filter_apply(as_f32(a, "image"), as_f32(kernel, "kernel"), choice(border, _BORDERS, "border")))
    return np.ascontiguousarray(np.moveaxis(r, -3, -1)) if hwc else r
