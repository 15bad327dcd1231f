"""Pictures of what a CNN learns, as numpy arrays and PNG/PPM files.

Every function returns an RGB picture: a ``uint8`` numpy array ``[height, width, 3]``. With
``path=...`` it is also written to that file (PNG or PPM by the extension, atomically). The
pictures are drawn by the library (the same code as the C API's ``scnn_picture_*``), so
Python, the command line and C give identical pixels.

- :func:`filters` -- a conv layer's learned filters (RGB tiles for a first layer on RGB
  images, grey tiles otherwise), each filter scaled by its own min and max.
- :func:`activations` -- a node's activation maps for one input, each map scaled by its own
  min and max.
- :func:`receptive_field` -- the input pixels one output unit sees, layer by layer.
- :func:`detections` -- boxes with "name 0.87" captions on an image.
- :func:`label_map` -- per-pixel classes in the PASCAL VOC colours, optionally over an image.
- :func:`save` -- writes any picture as PNG or PPM.

Layout of the grid and receptive-field pictures: white background, a 4-pixel margin, a title
line in a 5x7 bitmap font, the content starting 15 pixels from the top (4 + 7 + 4), grid
tiles 1 pixel apart, filled row by row.

Images going in (``image=``): a ``uint8`` array ``[H, W, 3]`` (or ``[H, W]`` grey) is used as
it is; any other dtype is an image tensor ``[H, W]``, ``[C, H, W]`` or ``[1, C, H, W]`` with C
1 or 3 (a model's input), shown scaled by its own min and max.

Command line: ``python -m swiftcnn.viz filters|activations|receptive-field|detect|segment ...``
(``--help``); ``detect`` and ``segment`` run a detector or a segmentation model on an image
file (binary PPM/PGM or a ``.npy`` uint8 ``[H, W, 3]`` array) and draw the result.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any, List, Optional, Sequence, Union

import numpy as np

from .. import _swiftcnn as _c
from .._core import as_f32

PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

__all__ = ["filters", "activations", "receptive_field", "detections", "label_map", "save", "to_picture",
           "voc_color", "PALETTE"]

_FORMATS = {None: 0, "png": 1, "ppm": 2}

#: The colours of boxes, receptive-field layers and legends (the library's palette): class or
#: layer i uses PALETTE[i % 10].
PALETTE = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 200, 200), (240, 50, 230), (150, 190, 20), (128, 0, 0), (0, 0, 128)]


def _picture(result: Any) -> np.ndarray:
    width, height, pixels = result
    return np.frombuffer(pixels, dtype=np.uint8).reshape(height, width, 3)


def _scale(scale: Optional[int]) -> int:
    if scale is None:
        return 0
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)):
        raise TypeError(f"scale: expected an int or None, got {type(scale).__name__}")
    if scale < 1:
        raise ValueError(f"scale must be at least 1 (or None for automatic); got {scale}")
    return min(int(scale), 1 << 20)


def _str(v: Any, what: str) -> str:
    if not isinstance(v, str):
        raise TypeError(f"{what}: expected a str, got {type(v).__name__}")
    return v


def _int(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{what}: expected an int, got {type(v).__name__}")
    return int(v)


def _names(names: Optional[Sequence[str]]) -> Optional[List[str]]:
    if names is None:
        return None
    if isinstance(names, (str, bytes)):
        raise TypeError("names: expected a sequence of str (one per class), got a single string")
    return [_str(n, f"names[{i}]") for i, n in enumerate(names)]


def to_picture(image: Any) -> np.ndarray:
    """``image`` as an RGB picture ``uint8 [H, W, 3]``.

    A ``uint8`` array ``[H, W, 3]`` is returned as a C-contiguous copy, ``[H, W]`` (or
    ``[H, W, 1]``) as grey RGB. Any other real dtype is an image tensor ``[H, W]``,
    ``[C, H, W]`` or ``[1, C, H, W]`` (C 1 or 3), scaled by its own minimum and maximum
    (smallest value 0, largest 255, a constant image 128; scnn_picture_from_tensor).
    """
    a = np.asarray(image)
    if a.dtype == np.uint8:
        if a.ndim == 3 and a.shape[2] == 1:
            a = a[:, :, 0]
        if a.ndim == 2:
            a = np.repeat(a[:, :, None], 3, axis=2)
        if a.ndim != 3 or a.shape[2] != 3:
            raise ValueError(f"image: a uint8 picture must be [H, W, 3] or [H, W]; got shape {list(a.shape)}")
        if a.shape[0] < 1 or a.shape[1] < 1:
            raise ValueError(f"image: the picture is empty ({list(a.shape)})")
        return np.ascontiguousarray(a)
    return _picture(_c.picture_from_tensor(as_f32(a, "image")))


def _out(picture: np.ndarray, path: Optional[PathLike]) -> np.ndarray:
    if path is not None:
        save(path, picture)
    return picture


def save(path: PathLike, picture: Any, format: Optional[str] = None) -> None:
    """Writes ``picture`` (``uint8 [H, W, 3]``, or anything :func:`to_picture` takes) to
    ``path`` as PNG or PPM: by the extension (``.png``, ``.ppm``, any case) unless ``format``
    is ``"png"`` or ``"ppm"``. The write is atomic (the old file or the whole new one, never
    a partial file). Errors: ValueError for an unknown extension or format, OSError when the
    file cannot be written."""
    if format not in _FORMATS:
        raise ValueError(f"format must be None, 'png' or 'ppm'; got {format!r}")
    try:
        p = os.fsencode(path)
    except TypeError:
        raise TypeError(f"path: expected str, bytes or os.PathLike, got {type(path).__name__}") from None
    pic = to_picture(picture)
    _c.picture_save(pic, pic.shape[1], pic.shape[0], p, _FORMATS[format])


def filters(model: Any, name: str, *, scale: Optional[int] = None, path: Optional[PathLike] = None) -> np.ndarray:
    """A grid of the learned filters of a convolution.

    ``name``: the weight's parameter name (``"features.0.weight"``) or its layer's
    (``"features.0"``). With 3 input channels each filter is one RGB tile (input channels as
    R, G, B); with 1 one grey tile; otherwise one grey tile per (filter, input channel), a
    row per filter (at most 64 filters and 16 channels, the first ones; the title says so).
    Each filter is scaled by its own minimum and maximum over all its weights: its most
    negative weight black, its most positive white (a constant filter mid grey 128), as
    torchvision's ``make_grid(normalize=True, scale_each=True)``. Tiles are enlarged
    ``scale`` times (default: 40 // the larger kernel side). Title:
    ``"features.0.weight: 6 filters 5x5"``.
    """
    return _out(_picture(_c.picture_filters(model, _str(name, "name"), _scale(scale))), path)


def activations(model: Any, x: Any, node: str, *, scale: Optional[int] = None,
                path: Optional[PathLike] = None) -> np.ndarray:
    """A grid of node ``node``'s activation maps for one input ``x`` (``[1, C, H, W]`` or
    ``[C, H, W]``): one grey tile per channel (at most 256), each map scaled by its own
    minimum and maximum (smallest black, largest white, a constant map mid grey 128), tiles
    enlarged ``scale`` times (default: 64 // the larger map side). Node names are
    ``model.node_names()``. Title: ``"features.0: [1, 6, 28, 28]"``."""
    return _out(_picture(_c.picture_activations(model, as_f32(x, "x"), _str(node, "node"), _scale(scale))), path)


def receptive_field(model: Any, node: str, y: int, x: int, image: Any = None, *, scale: Optional[int] = None,
                    path: Optional[PathLike] = None) -> np.ndarray:
    """The receptive field of unit ``(y, x)`` of node ``node``'s output, drawn on ``image``
    (see the module doc; default: a grey canvas of the model's input size).

    For each convolution or pooling layer from the input to the node, a rectangle in its own
    colour shows the input pixels seen by one unit of that layer -- the centre of what the
    chosen unit reads from it -- so the rectangles grow layer by layer; the last is the unit's
    whole receptive field. Padding and dilation are included; rectangles are clipped to the
    image; a legend lists each layer's window and field (unclipped bounds). Only chains are
    supported: a residual block, branch, flatten or adaptive pool before the node raises
    NotImplementedError. The image is enlarged ``scale`` times (default 256 // its longer
    side); input pixel ``i`` spans enlarged pixels ``i * scale ... (i + 1) * scale - 1``.
    """
    y, x = _int(y, "y"), _int(x, "x")
    if image is None:
        res = _c.picture_receptive_field(model, _str(node, "node"), y, x, None, 0, 0, _scale(scale))
    else:
        pic = to_picture(image)
        res = _c.picture_receptive_field(model, _str(node, "node"), y, x, pic, pic.shape[1], pic.shape[0],
                                         _scale(scale))
    return _out(_picture(res), path)


def detections(image: Any, boxes: Any, scores: Any, labels: Any, names: Optional[Sequence[str]] = None, *,
               path: Optional[PathLike] = None) -> np.ndarray:
    """``image`` with detections drawn on it (the image itself is not changed).

    ``boxes``: ``[N, 4]`` (x1, y1, x2, y2) in pixels, as torchvision's detectors and
    ``model.detect`` give them; ``scores`` ``[N]``; ``labels`` ``[N]`` class indices;
    ``names``: class names indexed by label (optional). Box i is outlined 2 pixels wide in
    the colour of its label over columns ``round(x1) ... round(x2) - 1`` and rows
    ``round(y1) ... round(y2) - 1`` (inwards from those edges), clipped; its caption
    ``"name 0.87"`` (the label number without a name) sits on a band of the box's colour
    9 pixels high just above the box (inside it when there is no room above). Pixels outside
    the boxes and captions are unchanged.
    """
    pic = to_picture(image)
    b = as_f32(boxes, "boxes").reshape(-1)
    s = as_f32(scores, "scores").reshape(-1)
    lab = np.asarray(labels)
    if lab.dtype.kind not in "iu":
        if lab.size and not np.all(np.equal(np.mod(lab, 1), 0)):
            raise ValueError("labels: expected integer class indices")
    lab = np.ascontiguousarray(lab.astype(np.int64)).reshape(-1)
    if b.size != 4 * lab.size or s.size != lab.size:
        raise ValueError(f"detections: {lab.size} labels need boxes [{lab.size}, 4] and {lab.size} scores; "
                         f"got {b.size} box values and {s.size} scores")
    res = _c.picture_detections(pic, pic.shape[1], pic.shape[0], b, s, lab, _names(names))
    return _out(_picture(res), path)


def label_map(labels: Any, image: Any = None, names: Optional[Sequence[str]] = None, *, alpha: float = 0.5,
              legend: Optional[bool] = None, scale: int = 1, path: Optional[PathLike] = None) -> np.ndarray:
    """A colour picture of per-pixel class indices ``labels`` (``[H, W]``, integers >= 0, as
    ``model.segment`` gives them), in the PASCAL VOC palette (:func:`voc_color`: 0 black,
    1 (128, 0, 0), 2 (0, 128, 0), ...).

    With ``image`` (``[H, W, 3]`` uint8 or an image tensor, same H and W), each pixel is
    ``image * (1 - alpha) + colour * alpha``, rounded. Each map pixel becomes ``scale`` x
    ``scale`` pixels, the map at the top-left. ``legend`` (default: when ``names`` is given)
    adds a band below listing the classes present: a swatch and ``"c name"`` (``names[c]``,
    or ``"class c"``).
    """
    lab = np.asarray(labels)
    if lab.dtype.kind not in "iu":
        raise TypeError(f"labels: expected an integer array, got dtype {lab.dtype}")
    if lab.ndim != 2:
        raise ValueError(f"labels: expected [H, W], got shape {list(lab.shape)}")
    h, w = lab.shape
    lab64 = np.ascontiguousarray(lab.astype(np.int64))
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating, np.integer)):
        raise TypeError(f"alpha: expected a float, got {type(alpha).__name__}")
    if legend is None:
        legend = names is not None
    pic = None if image is None else to_picture(image)
    res = _c.picture_label_map(lab64, h, w, pic, float(alpha), _names(names), bool(legend), _int(scale, "scale"))
    return _out(_picture(res), path)


def voc_color(c: int) -> tuple:
    """The PASCAL VOC palette colour (r, g, b) of class ``c`` >= 0: bits 0, 1, 2 of c go to the
    top bits of R, G, B, bits 3, 4, 5 to the next, and so on."""
    c = _int(c, "c")
    if c < 0:
        raise ValueError(f"c must be >= 0; got {c}")
    if c > 2**63 - 1:
        raise OverflowError(f"c must fit in int64; got {c}")
    r = g = b = 0
    for j in range(8):
        r |= (c & 1) << (7 - j)
        g |= ((c >> 1) & 1) << (7 - j)
        b |= ((c >> 2) & 1) << (7 - j)
        c >>= 3
    return (r, g, b)


# ---- command line ----------------------------------------------------------------------

def _load_model(spec: str, weights: Optional[str]) -> Any:
    from .. import models
    if os.path.isfile(spec):
        model = models.load(spec)
    elif spec in models.names():
        model = models.create(spec)
    else:
        raise ValueError(f"model {spec!r}: not a file and not a zoo name (zoo: {', '.join(models.names())})")
    if weights is not None:
        model.load(weights)
    return model


def _load_input(path: str, key: str, index: int) -> np.ndarray:
    if path.lower().endswith(".npy"):
        a = np.load(path, allow_pickle=False)
    else:
        from .. import read_safetensors
        a = read_safetensors(path, key)
    a = np.asarray(a, dtype=np.float32)
    if a.ndim == 4:
        if not 0 <= index < a.shape[0]:
            raise ValueError(f"--index {index}: the input holds {a.shape[0]} images")
        a = a[index:index + 1]
    elif a.ndim == 3:
        a = a[None]
    elif a.ndim == 2:
        a = a[None, None]
    else:
        raise ValueError(f"input {path}: expected an image [H, W], [C, H, W] or a batch [N, C, H, W]; "
                         f"got shape {list(a.shape)}")
    return np.ascontiguousarray(a)


def _read_image(path: str) -> np.ndarray:
    """An image file as ``uint8 [H, W, 3]``: binary PPM (P6) or PGM (P5, repeated to RGB) with
    maxval 255, or a ``.npy`` array ``[H, W, 3]`` / ``[H, W]`` of uint8."""
    if path.lower().endswith(".npy"):
        a = np.load(path, allow_pickle=False)
    else:
        with open(path, "rb") as f:
            data = f.read()
        fields, pos = [], 0
        while len(fields) < 4:  # magic, width, height, maxval; '#' comments between them
            while pos < len(data) and data[pos:pos + 1].isspace():
                pos += 1
            if data[pos:pos + 1] == b"#":
                end = data.find(b"\n", pos)
                pos = len(data) if end < 0 else end + 1
                continue
            start = pos
            while pos < len(data) and not data[pos:pos + 1].isspace():
                pos += 1
            if start == pos:
                raise ValueError(f"{path}: not a binary PPM/PGM file (the header ends early)")
            fields.append(data[start:pos])
        magic = fields[0]
        if magic not in (b"P6", b"P5") or not all(v.isdigit() for v in fields[1:]):
            raise ValueError(f"{path}: not a binary PPM (P6) or PGM (P5) file")
        w, h, maxval = (int(v) for v in fields[1:])
        channels = 3 if magic == b"P6" else 1
        if w < 1 or h < 1 or maxval != 255:
            raise ValueError(f"{path}: need width and height >= 1 and maxval 255; got {w}x{h}, maxval {maxval}")
        body = data[pos + 1:pos + 1 + w * h * channels]
        if len(body) != w * h * channels:
            raise ValueError(f"{path}: truncated: {len(body)} of {w * h * channels} pixel bytes")
        a = np.frombuffer(body, dtype=np.uint8).reshape(h, w, channels)
    if a.dtype != np.uint8 or not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (1, 3))):
        raise ValueError(f"{path}: expected uint8 pixels [H, W, 3] or [H, W]; got {a.dtype} {list(a.shape)}")
    if a.ndim == 2:
        a = a[:, :, None]
    return np.ascontiguousarray(np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The command line (``python -m swiftcnn.viz``); returns the exit status: 0 done,
    1 the library refused the request (message on stderr), 2 bad command-line usage."""
    p = argparse.ArgumentParser(prog="python -m swiftcnn.viz",
                                description="Pictures of what a CNN learns, written as PNG or PPM.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("model", help="a zoo name (e.g. lenet5) or a swiftcnn model file")
        sp.add_argument("--weights", help="a safetensors state dict to load into the model")
        sp.add_argument("-o", "--output", required=True, help="the picture to write (.png or .ppm)")
        sp.add_argument("--scale", type=int, default=None, help="enlargement factor (default: automatic)")

    def with_input(sp: argparse.ArgumentParser, required: bool) -> None:
        sp.add_argument("--input", required=required,
                        help="the input image(s): a .npy array or a safetensors file")
        sp.add_argument("--key", default="images", help="the tensor's name in a safetensors input (default: images)")
        sp.add_argument("--index", type=int, default=0, help="which image of a batch (default 0)")

    f = sub.add_parser("filters", help="a conv layer's learned filters")
    common(f)
    f.add_argument("name", help="the conv weight or layer, e.g. features.0.weight or features.0")
    a = sub.add_parser("activations", help="a node's activation maps for one input")
    common(a)
    a.add_argument("node", help="the node, e.g. features.0")
    with_input(a, True)
    r = sub.add_parser("receptive-field", help="the receptive field of one unit on the input")
    common(r)
    r.add_argument("node", help="the node, e.g. features.3")
    r.add_argument("y", type=int, help="the unit's row in the node's output")
    r.add_argument("x", type=int, help="the unit's column in the node's output")
    with_input(r, False)
    d = sub.add_parser("detect", help="a detector's boxes drawn on an image (e.g. ssd300_vgg16)")
    common(d)
    d.add_argument("image", help="the image: binary PPM/PGM, or .npy uint8 [H, W, 3]")
    d.add_argument("--score-threshold", type=float, default=None,
                   help="keep detections scoring at least this (default: the model's)")
    sg = sub.add_parser("segment", help="a segmentation model's label map over an image (e.g. fcn_resnet50)")
    common(sg)
    sg.add_argument("image", help="the image: binary PPM/PGM, or .npy uint8 [H, W, 3]")
    sg.add_argument("--alpha", type=float, default=0.5, help="opacity of the colours over the image (default 0.5)")
    args = p.parse_args(argv)
    try:
        model = _load_model(args.model, args.weights)
        if args.command == "filters":
            pic = filters(model, args.name, scale=args.scale, path=args.output)
        elif args.command == "activations":
            x = _load_input(args.input, args.key, args.index)
            pic = activations(model, x, args.node, scale=args.scale, path=args.output)
        elif args.command == "detect":
            from ..models import coco_classes
            image = _read_image(args.image)
            found = model.detect([image], score_threshold=args.score_threshold)[0]
            names = coco_classes() if model.name.startswith("ssd") else None
            pic = detections(image, found["boxes"], found["scores"], found["labels"], names, path=args.output)
            print(f"{len(found['labels'])} detections")
        elif args.command == "segment":
            from ..models import voc_classes
            image = _read_image(args.image)
            labels = model.segment(image)["labels"][0]
            pic = label_map(labels, image, voc_classes(), alpha=args.alpha, scale=args.scale or 1, path=args.output)
        else:
            image = _load_input(args.input, args.key, args.index)[0] if args.input else None
            pic = receptive_field(model, args.node, args.y, args.x, image, scale=args.scale, path=args.output)
    except (ValueError, TypeError, OSError, NotImplementedError, RuntimeError) as e:
        print(f"swiftcnn.viz {args.command}: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.output} ({pic.shape[1]}x{pic.shape[0]})")
    return 0

