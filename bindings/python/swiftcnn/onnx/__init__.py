"""swiftcnn.onnx -- ONNX models in and out.

Import (``load``, ``convert``) reads a file written by ``torch.onnx.export`` or any other
ONNX exporter, opsets 11 to 21, with ONNX's own parser and checker (the ``onnx`` package),
folds constants and the shape arithmetic exporters write, and builds a swiftcnn model:
the same graph engine, compiled plan and kernels as the zoo. Initializers become weights
under their ONNX names where those are torch parameter names (``features.0.0.weight``),
so ``state_dict()``, ``freeze`` and ``replace`` work on imported models too::

    import numpy as np, swiftcnn
    from swiftcnn import onnx as sonnx

    model = sonnx.load("mobilenet_v2.onnx")          # a swiftcnn.Model
    logits = model(np.zeros((1, 3, 224, 224), np.float32))
    sonnx.convert("mobilenet_v2.onnx", "mobilenet_v2.safetensors")  # for C: scnn_model_open

    python -m swiftcnn.onnx convert mobilenet_v2.onnx mobilenet_v2.safetensors

Export (``export``) writes a swiftcnn model -- zoo or your own -- as an ONNX file that ONNX
Runtime runs.

The batch axis may be a named (dynamic) dimension; other dimensions must be fixed in the
file or given with ``input_shape=``. A model has one input. Anything the engine cannot
run -- an operator, an attribute value, a data type -- raises
:class:`swiftcnn.UnsupportedError` (a ``NotImplementedError``) that lists every such node
with its op type and name, not only the first. A file that is not ONNX, is truncated or
fails ONNX's checker raises :class:`swiftcnn.FormatError` (a ``ValueError``).
"""
from __future__ import annotations

import json as _json
import os
from typing import Any, Optional, Sequence

__all__ = ["load", "convert", "export", "to_json"]


def _model_class():
    from ..models import Model
    return Model


def to_json(source: Any, input_shape: Optional[Sequence[int]] = None, name: Optional[str] = None):
    """(graph JSON dict, weights ``{name: float32 array}``) for an ONNX file, without making a
    model: what :func:`load` builds a model from."""
    from ._import import build
    built = build(source, input_shape=input_shape, name=name)
    return built.doc, built.weights


def load(source: Any, *, input_shape: Optional[Sequence[int]] = None, name: Optional[str] = None):
    """An ONNX model as a :class:`swiftcnn.Model`.

    ``source`` is a path (str or os.PathLike; a path held in bytes can be passed as
    ``os.fsdecode(path)``, which keeps every byte) or the file's contents (bytes,
    bytearray or memoryview), as ``onnx.load_from_string`` and ONNX Runtime take them. ``input_shape`` gives the shape of one example
    ``(C, H, W)`` when the file leaves dimensions other than the batch open; ``name``
    names the model (default: the ONNX graph's name)."""
    from ._import import build
    built = build(source, input_shape=input_shape, name=name)
    model = _model_class().from_json(_json.dumps(built.doc))
    model.load_state_dict(built.weights, strict=True)
    model.eval()
    return model


def convert(src: Any, dst: Any, *, input_shape: Optional[Sequence[int]] = None,
            name: Optional[str] = None) -> None:
    """Imports the ONNX file ``src`` and writes it as a swiftcnn model file ``dst`` (one
    safetensors file with the graph in its metadata; docs/model-format.md), atomically.
    C opens the result with ``scnn_model_open``, Python with ``swiftcnn.load``."""
    model = load(src, input_shape=input_shape, name=name)
    model.save(dst)


def export(model: Any, path: Any, **kwargs: Any):
    """Writes ``model`` (a swiftcnn.Model, zoo or your own) as an ONNX file and returns the
    ``onnx.ModelProto``; keyword arguments: ``opset`` (17), ``dynamic_batch`` (True)."""
    from ._export import export as _export
    return _export(model, path, **kwargs)
