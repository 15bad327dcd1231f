"""Images: 8-bit pixels to and from CHW float tensors, colour spaces, resize, crop, and
torchvision's ImageNet preprocessing in one call.

Layouts. Tensors are float32 ``[C, H, W]`` (or ``[N, C, H, W]``). The functions here also
take images as numpy, PIL and scikit-image users hold them, HWC ``(H, W, C)`` (or
``(N, H, W, C)``), and give back the layout they were given. The ``layout`` keyword says
which it is (``"chw"`` or ``"hwc"``); left at None, it is decided so:

- a PIL image is HWC (``np.asarray(img)``), a 2-D array ``(H, W)`` is one channel;
- otherwise the channel axis is the one of ``shape[-3]`` (CHW) and ``shape[-1]`` (HWC)
  whose length is a channel count, 1 to 4, when exactly one of them is;
- when both are (say ``(3, 5, 3)``), a uint8 array is HWC (pixels) and any other is CHW;
  when neither is, CHW (the library then reports the channel count).

Pass ``layout=`` whenever an image may be that small.

Dtypes. A uint8 image holds pixels 0..255 and is read as ``pixel / 255`` (as torchvision's
``ToDtype(float32, scale=True)``). Functions whose result is again an image in [0, 1]
(:func:`resize`, :func:`center_crop`, :func:`rgb_to_grayscale`, :func:`hsv_to_rgb`) give
uint8 back for uint8 in, rounded to nearest (ties to even) and clamped; the others give
float32. Any other real dtype is converted to float32 as it is (not scaled).
"""
from __future__ import annotations

import numbers
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np

from . import _swiftcnn as _c
from ._core import as_f32, as_float, out, pair

__all__ = ["to_tensor", "to_image", "rgb_to_hsv", "hsv_to_rgb", "rgb_to_grayscale", "resize", "center_crop",
           "normalize", "imagenet_preprocess", "IMAGENET_MEAN", "IMAGENET_STD"]

ArrayLike = Any

#: ImageNet's per-channel mean (R, G, B), as torchvision's models expect.
IMAGENET_MEAN: Tuple[float, float, float] = (0.485, 0.456, 0.406)
#: ImageNet's per-channel standard deviation (R, G, B).
IMAGENET_STD: Tuple[float, float, float] = (0.229, 0.224, 0.225)

_CHANNEL_COUNTS = (1, 2, 3, 4)
_U8_SCALE = np.float32(1.0 / 255)


def _floats(v: Optional[Sequence[float]], name: str) -> Optional[list]:
    if v is None:
        return None
    if isinstance(v, (str, bytes)):
        raise TypeError(f"{name}: expected a sequence of numbers, got {type(v).__name__}")
    try:
        return [float(f) for f in np.asarray(v, dtype=np.float64).reshape(-1)]
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a sequence of numbers, got {v!r}") from None


def _is_pil(x: Any) -> bool:
    return hasattr(x, "getbands") and hasattr(x, "mode") and hasattr(x, "size")


def _is_hwc(a: np.ndarray, layout: Optional[str], pil: bool) -> bool:
    """Whether `a` (3-D or 4-D) has its channels last, by the rule of the module docstring."""
    if layout is not None:
        if not isinstance(layout, str):
            raise TypeError(f"layout: expected 'chw', 'hwc' or None, got {type(layout).__name__}")
        if layout not in ("chw", "hwc"):
            raise ValueError(f"layout: expected 'chw', 'hwc' or None, got {layout!r}")
        return layout == "hwc" and a.ndim in (3, 4)
    if a.ndim not in (3, 4):
        return False
    if pil:
        return True
    first, last = a.shape[-3] in _CHANNEL_COUNTS, a.shape[-1] in _CHANNEL_COUNTS
    if first != last:
        return last
    return first and a.dtype == np.uint8


class _Image:
    """An input image as a float32 CHW array, with what is needed to give the result back."""

    def __init__(self, x: Any, layout: Optional[str], name: str, plane: bool = False):
        pil = _is_pil(x)
        a = np.asarray(x)
        self.u8 = a.dtype == np.uint8
        self.hwc = _is_hwc(a, layout, pil)
        if self.hwc:
            a = np.moveaxis(a, -1, -3)
        self.plane = plane and a.ndim == 2   # a single [H, W] plane, handled as [1, H, W]
        if self.plane:
            a = a[None]
        if self.u8:
            self.data = np.ascontiguousarray(a, dtype=np.float32) * _U8_SCALE
        else:
            self.data = as_f32(a, name)

    def back(self, r: np.ndarray, to_u8: bool) -> np.ndarray:
        """The result `r` (CHW float32) in the input's layout, and as uint8 if `to_u8`."""
        if self.plane:
            r = r[0]
        elif self.hwc:
            r = np.moveaxis(r, -3, -1)
        if to_u8:
            return np.clip(np.rint(r * np.float32(255)), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(r)


def to_tensor(pixels: ArrayLike, mean: Optional[Sequence[float]] = None, std: Optional[Sequence[float]] = None,
              scale: float = 1.0 / 255, layout: Optional[str] = None) -> np.ndarray:
    """Pixels -> float32 CHW tensor ``[C, H, W]``.

    uint8 pixels ``(H, W, C)`` (C = 1, 3 or 4), ``(H, W)`` or a PIL image:
    ``value = (pixel*scale - mean[c]) / std[c]``; scale defaults to 1/255, mean to 0 and std
    to 1; mean and std, when given, have one value per channel. A non-contiguous view is
    copied first.

    Float pixels are taken as already scaled (``scale`` is not used):
    ``value = (x - mean[c]) / std[c]``, in HWC or CHW (see the module's layout rule; ``layout``
    overrides it). Other dtypes (ints other than uint8, bool, ...) raise TypeError (convert
    with ``np.clip(a, 0, 255).astype(np.uint8)`` yourself).
    """
    pil = _is_pil(pixels)
    a = np.asarray(pixels)
    if a.dtype.kind == "f":
        if a.ndim == 2:
            a = a[None]
        elif a.ndim != 3:
            raise ValueError(f"pixels: expected shape (H, W), (H, W, C) or (C, H, W), got {a.shape}")
        elif _is_hwc(a, layout, pil):
            a = np.moveaxis(a, -1, -3)
        return normalize(np.ascontiguousarray(a, dtype=np.float32),
                         mean if mean is not None else [0.0] * a.shape[0],
                         std if std is not None else [1.0] * a.shape[0], layout="chw")
    if a.dtype != np.uint8:
        raise TypeError(f"pixels: expected a uint8 or float array, got dtype {a.dtype}")
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3:
        raise ValueError(f"pixels: expected shape (H, W) or (H, W, C), got {a.shape}")
    if layout is not None and not _is_hwc(a, layout, pil):
        a = np.moveaxis(a, 0, -1)
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


def rgb_to_hsv(x: ArrayLike, layout: Optional[str] = None) -> np.ndarray:
    """RGB in [0, 1] -> HSV, float32: H in degrees [0, 360), S and V in [0, 1].

    x: ``[3, H, W]``, ``[N, 3, H, W]``, ``(H, W, 3)``, ``(N, H, W, 3)`` or an RGB PIL image;
    uint8 is read as pixel/255. The result has x's layout.
    """
    img = _Image(x, layout, "x")
    return img.back(out(_c.rgb_to_hsv(img.data)), False)


def hsv_to_rgb(x: ArrayLike, layout: Optional[str] = None) -> np.ndarray:
    """HSV -> RGB in [0, 1], in x's layout (shapes as :func:`rgb_to_hsv`).

    Float HSV has H in degrees (taken modulo 360) and S, V in [0, 1]. uint8 HSV is PIL's
    ``"HSV"`` mode, all three 0..255 (hue 255 = 360 degrees); its result is uint8 RGB.
    """
    img = _Image(x, layout, "x")
    data = img.data
    if img.u8 and data.ndim >= 3 and data.shape[-3] == 3:
        data = data.copy()
        data[..., 0, :, :] *= np.float32(360)   # PIL's hue byte: 255 is 360 degrees
    return img.back(out(_c.hsv_to_rgb(data)), img.u8)


def rgb_to_grayscale(x: ArrayLike, layout: Optional[str] = None) -> np.ndarray:
    """ITU-R BT.601 luma ``0.299 R + 0.587 G + 0.114 B``: ``[3, H, W]`` -> ``[1, H, W]``
    (also with N), ``(H, W, 3)`` -> ``(H, W, 1)``; uint8 in gives uint8 out."""
    img = _Image(x, layout, "x")
    return img.back(out(_c.rgb_to_grayscale(img.data)), img.u8)


def _resized_size(h: int, w: int, size: Any) -> Tuple[int, int]:
    """torchvision's output size: an int sets the shorter side, (h, w) is exact."""
    if isinstance(size, numbers.Integral) and not isinstance(size, (bool, np.bool_)):
        s = int(size)
        if s < 1 or h < 1 or w < 1:
            return s, s   # the library reports it
        short, long = (w, h) if w <= h else (h, w)
        new_long = int(s * long / short)
        return (s, new_long) if h <= w else (new_long, s)
    return pair(size, "size")


def resize(x: ArrayLike, size: Union[int, Tuple[int, int]], antialias: bool = True,
           layout: Optional[str] = None) -> np.ndarray:
    """Bilinear resize, as torchvision's ``Resize(size, antialias=antialias)``.

    size: an int sets the shorter side to ``size`` and the longer to
    ``int(size * long / short)`` (torchvision's rounding; a square image becomes size x
    size); a pair ``(h, w)`` is the exact output size.

    antialias=True (the default, as torchvision's): when shrinking, a triangle filter as wide
    as the shrink factor, like ``F.interpolate(mode="bilinear", align_corners=False,
    antialias=True)`` (within float rounding; where torch 2.15's CPU kernel errs, an output width
    of 1 with the height changing, this follows the formula). antialias=False: plain bilinear,
    ``F.interpolate(mode="bilinear", align_corners=False)``, which aliases when shrinking.
    Enlarging is the same either way.

    x: ``[C, H, W]``, ``[N, C, H, W]``, ``(H, W, C)``, ``(N, H, W, C)``, ``(H, W)`` or a PIL
    image; the result has x's layout, and is uint8 for uint8 in (computed in float, rounded
    half to even; torchvision's own uint8 path may differ by 1).
    """
    img = _Image(x, layout, "x", plane=True)
    d = img.data
    h, w = _resized_size(d.shape[-2], d.shape[-1], size) if d.ndim >= 2 else pair(size, "size")
    fn = _c.resize_bilinear_antialias if antialias else _c.resize_bilinear
    return img.back(out(fn(d, h, w)), img.u8)


def center_crop(x: ArrayLike, size: Union[int, Tuple[int, int]], pad: bool = False,
                layout: Optional[str] = None) -> np.ndarray:
    """Crops the central ``size`` (int or (h, w)) with torchvision's offsets
    (``top = round((H - h) / 2)``, halves to even).

    A crop larger than the image raises ValueError, unless ``pad=True``: then, as
    torchvision's ``CenterCrop``, the image is first padded with zeros, ``(h - H) // 2``
    before and the rest after, on each axis that is too small.

    x: as :func:`resize` (also ``[H, W]``); the result has x's layout and dtype.
    """
    img = _Image(x, layout, "x", plane=True)
    h, w = pair(size, "size")
    fn = _c.center_crop_padded if pad else _c.center_crop
    return img.back(out(fn(img.data, h, w)), img.u8)


def normalize(x: ArrayLike, mean: Sequence[float], std: Sequence[float], layout: Optional[str] = None) -> np.ndarray:
    """torchvision's ``Normalize(mean, std)``: ``(x - mean[c]) / std[c]`` per channel, float32.

    x: as :func:`resize` (uint8 read as pixel/255); mean and std have one value per channel
    (std non-zero). The result has x's layout.
    """
    img = _Image(x, layout, "x", plane=True)
    d = img.data
    m, s = _floats(mean, "mean"), _floats(std, "std")
    if d.ndim not in (3, 4):
        raise ValueError(f"x: expected an image [C, H, W] or [N, C, H, W] (or HWC), got shape {d.shape}")
    c = d.shape[-3]
    if len(m) != c or len(s) != c:
        raise ValueError(f"normalize: mean and std need {c} values each (one per channel); got {len(m)} and {len(s)}")
    if not all(np.isfinite(m)) or not all(np.isfinite(s)) or any(v == 0 for v in s):
        raise ValueError("normalize: mean and std must be finite, std non-zero")
    shape = (c, 1, 1)
    r = (d - np.array(m, np.float32).reshape(shape)) / np.array(s, np.float32).reshape(shape)
    return img.back(r.astype(np.float32, copy=False), False)


def _preprocess_one(x: Any, layout: Optional[str]) -> np.ndarray:
    if _is_pil(x):
        x = x.convert("RGB")   # palette, gray, RGBA, CMYK ... as PIL makes them RGB
    a = np.asarray(x)
    if a.ndim == 2:
        a = a[:, :, None]
    elif a.ndim != 3:
        raise ValueError(f"pixels: expected one image (H, W, C), (C, H, W) or (H, W), got shape {a.shape}")
    elif not _is_hwc(a, layout, _is_pil(x)):
        a = np.moveaxis(a, 0, -1)
    if a.dtype == np.uint8:
        a = np.ascontiguousarray(a)
        h, w, c = a.shape
        return out(_c.image_imagenet_preprocess(a, w, h, c, 0))
    if a.dtype.kind != "f":
        raise TypeError(f"pixels: expected uint8 pixels or floats in [0, 1], got dtype {a.dtype}")
    c = a.shape[-1]
    if c not in (1, 3, 4):
        raise ValueError(f"pixels: expected 1 (gray), 3 (RGB) or 4 (RGBA) channels, got {c}")
    rgb = np.repeat(a, 3, axis=-1) if c == 1 else a[..., :3]
    chw = np.ascontiguousarray(np.moveaxis(rgb, -1, 0), dtype=np.float32)
    h, w = _resized_size(chw.shape[1], chw.shape[2], 256)
    r = out(_c.resize_bilinear_antialias(chw, h, w)) if (h, w) != chw.shape[1:] else chw
    r = out(_c.center_crop_padded(r, 224, 224))
    return normalize(r, IMAGENET_MEAN, IMAGENET_STD, layout="chw")


def imagenet_preprocess(pixels: Any, layout: Optional[str] = None) -> np.ndarray:
    """The standard ImageNet evaluation preprocessing in one call: float32 ``[3, 224, 224]``.

    Equal (within 1e-6 or so) to torchvision's v2 pipeline on the float image,
    ``Compose([ToImage(), ToDtype(float32, scale=True), Resize(256, antialias=True),
    CenterCrop(224), Normalize(IMAGENET_MEAN, IMAGENET_STD)])``: pixels/255, the shorter
    side resized to 256 with antialiasing, the central 224 x 224, normalized per channel.

    pixels: one image, uint8 RGB ``(H, W, 3)`` (also ``(H, W)`` gray, used for R, G and B,
    and ``(H, W, 4)`` RGBA, alpha ignored), or floats in [0, 1] of those shapes, or a PIL
    image (converted to RGB); CHW arrays are recognised by the module's layout rule or
    ``layout="chw"``. A sequence of images (a list, or an array ``(N, H, W, C)`` /
    ``(N, C, H, W)``) gives a batch ``[N, 3, 224, 224]``; the images of a list may differ in
    size. uint8 images go through ``scnn_image_imagenet_preprocess`` in one call.
    """
    if isinstance(pixels, (list, tuple)):
        if not pixels:
            raise ValueError("pixels: an empty sequence of images")
        return np.stack([_preprocess_one(p, layout) for p in pixels])
    if not _is_pil(pixels):
        a = np.asarray(pixels)
        if a.ndim == 4:
            if a.shape[0] == 0:
                raise ValueError("pixels: an empty batch of images")
            return np.stack([_preprocess_one(p, layout) for p in a])
    return _preprocess_one(pixels, layout)
