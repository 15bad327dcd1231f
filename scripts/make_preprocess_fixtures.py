#!/usr/bin/env python3
"""Fixtures of torchvision's preprocessing, for swiftcnn's image.resize and imagenet_preprocess.

Needs torch, torchvision, Pillow and numpy: run with the torch venv,

    $TORCH_VENV/bin/python scripts/make_preprocess_fixtures.py

Not run by CI. It reads the two photos scikit-learn ships (Tests/fixtures/images/china.jpg and
flower.jpg, see the README there) and decodes them with Pillow. For each photo NAME it writes
Tests/fixtures/images/NAME_preprocess.bin, read by the Python and the C tests:

    "SCNNPREP" (8 bytes), uint32 LE: version (1), height, width, channels (3), then
    the decoded pixels, height * width * 3 bytes (HWC, RGB): what every test uses, so that
    the tests do not depend on the JPEG decoder of the Pillow they have; then
    the expected [3, 224, 224] float32 LE: torchvision's v2 pipeline on the float image,
    Compose([ToImage(), ToDtype(float32, scale=True), Resize(256, antialias=True),
    CenterCrop(224), Normalize(IMAGENET_MEAN, IMAGENET_STD)]).

and Tests/fixtures/images/preprocess.npz (compressed) holding, for each photo NAME,

    NAME_resized    float32: Resize(256, antialias=True) of the float image (no crop), every
                    RESIZED_STEP-th row and column only, to keep the file small
    NAME_resized_shape  int64 [3]: the full shape of that resize

and resize-only cases on seeded random float images (up and down, odd sizes, both orders):

    case{i}_input, case{i}_size (int64: [s] for Resize(s), [h, w] for Resize((h, w))),
    case{i}_expected (torchvision v2 Resize(size, antialias=True) on the float tensor)

plus `versions` (a str array: torch, torchvision, Pillow).
"""
from __future__ import annotations

import os
import struct

import numpy as np
import PIL
import PIL.Image
import torch
import torchvision
from torchvision.transforms import v2

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DIR = os.path.join(ROOT, "Tests", "fixtures", "images")
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
RESIZED_STEP = 8

# (C, H, W) of the input, and the size as torchvision takes it: an int is the shorter side.
CASES = [
    ((3, 17, 23), 8),            # shrink, shorter side = height
    ((3, 31, 29), 10),           # shrink, shorter side = width
    ((1, 5, 5), (11, 13)),       # enlarge, exact size
    ((3, 9, 14), (4, 27)),       # shrink one axis, enlarge the other
    ((2, 100, 7), (33, 5)),      # a large factor on one axis
    ((3, 64, 48), 21),           # non-integer factor 48/21
    ((3, 7, 7), 7),              # unchanged: torchvision returns the input
    ((3, 3, 200), (2, 61)),      # very wide
]


def pipeline() -> v2.Compose:
    return v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Resize(256, antialias=True),
                       v2.CenterCrop(224), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


def main() -> None:
    torch.manual_seed(0)
    out: dict[str, np.ndarray] = {}
    for name in ("china", "flower"):
        with PIL.Image.open(os.path.join(DIR, f"{name}.jpg")) as im:
            pixels = np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
        expected = pipeline()(torch.from_numpy(pixels).permute(2, 0, 1).contiguous()).numpy()
        assert expected.shape == (3, 224, 224) and expected.dtype == np.float32
        floats = v2.ToDtype(torch.float32, scale=True)(v2.ToImage()(torch.from_numpy(pixels).permute(2, 0, 1)))
        resized = v2.Resize(256, antialias=True)(floats).numpy()
        out[f"{name}_resized"] = np.ascontiguousarray(resized[:, ::RESIZED_STEP, ::RESIZED_STEP])
        out[f"{name}_resized_shape"] = np.array(resized.shape, np.int64)
        print(f"{name}: pixels {pixels.shape}, resized {resized.shape}, expected range "
              f"[{expected.min():.3f}, {expected.max():.3f}]")
        h, w, c = pixels.shape
        with open(os.path.join(DIR, f"{name}_preprocess.bin"), "wb") as f:
            f.write(b"SCNNPREP" + struct.pack("<4I", 1, h, w, c))
            f.write(pixels.tobytes())
            f.write(expected.astype("<f4").tobytes())
    rng = np.random.default_rng(14)
    for i, (shape, size) in enumerate(CASES):
        x = rng.random(shape, dtype=np.float32)
        y = v2.Resize(size, antialias=True)(torch.from_numpy(x)).numpy()
        out[f"case{i}_input"] = x
        out[f"case{i}_size"] = np.array([size] if isinstance(size, int) else list(size), np.int64)
        out[f"case{i}_expected"] = np.ascontiguousarray(y)
        print(f"case{i}: {shape} -> Resize({size}) -> {y.shape}")
    out["versions"] = np.array([f"torch {torch.__version__}", f"torchvision {torchvision.__version__}",
                                f"Pillow {PIL.__version__}"])
    np.savez_compressed(os.path.join(DIR, "preprocess.npz"), **out)


if __name__ == "__main__":
    main()
