"""swiftcnn.models -- the model zoo: LeNet-5, AlexNet, VGG, GoogLeNet and ResNets.

Every model takes a float32 ``[N, C, H, W]`` batch (any N) and returns ``[N, num_classes]``
logits, computed by libswiftcnn with the GIL released. Weights use PyTorch/torchvision's
state_dict names (``features.0.weight``, ``layer2.0.downsample.1.running_var``, ...) and
load from safetensors files, so a file written by
``safetensors.torch.save_file(torchvision.models.resnet50().state_dict(), path)`` loads as
it is and reproduces PyTorch's logits::

    import numpy as np, swiftcnn
    from swiftcnn import models

    models.names()                       # ['lenet5', 'lenet5_original', 'alexnet', ...]
    m = models.resnet50()                # or models.create("resnet50", num_classes=1000)
    m.load("resnet50.safetensors")
    logits = m(np.zeros((8, 3, 224, 224), np.float32))          # (8, 1000)
    top5 = np.argsort(-logits[0])[:5]
    labels = [swiftcnn.imagenet_classes()[i] for i in top5]
    print(m.summary())

A new model holds deterministic, untrained weights (swiftcnn seeded init v1, seed 0; see
scripts/weightgen.py). ``lenet5_original`` outputs Euclidean RBF penalties (lower is better)
instead of logits.

Models: lenet5, lenet5_original, alexnet, alexnet_lrn, vgg11, vgg11_lrn, vgg13, vgg16_c,
vgg16, vgg19, vgg11_bn, vgg13_bn, vgg16_bn, vgg19_bn, googlenet, resnet18, resnet34,
resnet50, resnet101, resnet152 -- each also a function of this module (``models.vgg16()``).

Errors raise :class:`swiftcnn.SwiftCNNError` subclasses with the library's message: a wrong
input shape, a missing / unexpected key or a wrong weight shape raise ValueError
(ShapeMismatchError); an unknown name or a bad num_classes ValueError
(InvalidArgumentError); a file that cannot be read or written OSError (SwiftCNNIOError); a
malformed safetensors file ValueError (FormatError); an unsupported dtype
NotImplementedError (UnsupportedError).
"""
from __future__ import annotations

import json as _json
import os
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _swiftcnn as _c
from ._core import as_f32, as_float, as_int, as_shape, from_torch

__all__ = ["Model", "names", "create", "load", "default_num_classes", "seeded_tensor", "voc_classes",
           "coco_classes"]

PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

# dtype kinds a model input or a weight may have: float, signed and unsigned integers
# (converted to float32). Everything else (bool, complex, object, strings, ...) is refused.
_REAL_KINDS = "fiu"


def names() -> List[str]:
    """Every zoo model name, in the library's order (scnn_model_names())."""
    return list(_c.model_names())


def default_num_classes(name: str) -> int:
    """The class count ``name`` has by default: 10 for the LeNets, 91 (COCO, background
    included) for the detectors, 1000 otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"name: expected a str, got {type(name).__name__}")
    return _c.model_default_num_classes(name)


def _fspath(path: Any) -> Union[str, bytes]:
    try:
        return os.fspath(path)
    except TypeError:
        raise TypeError(f"path: expected str, bytes or os.PathLike, got {type(path).__name__}") from None


def _weight_array(value: Any, key: str) -> np.ndarray:
    """A state_dict value as a C-contiguous aligned float32 array (numpy arrays, torch
    tensors as they are, anything numpy.asarray takes)."""
    if isinstance(value, np.ndarray) and value.dtype == np.float32 and value.flags.c_contiguous \
            and value.flags.aligned:
        return value
    a = np.asarray(from_torch(value))  # a torch tensor: detached, on the CPU, bfloat16 -> float32
    if a.dtype.kind not in _REAL_KINDS:
        raise TypeError(f"{key}: expected an array of real numbers, got dtype {a.dtype}")
    return np.require(a, dtype=np.float32, requirements=["C", "A"])


class Model(_c.Model):
    """A zoo model: an architecture with its weights, owned by libswiftcnn.

    ``Model(name, num_classes=None)`` is :func:`create`. Attributes (read-only):
    ``name``, ``num_classes``, ``num_parameters`` (trainable parameters, counted as PyTorch
    does: batch-norm running statistics excluded), ``input_shape`` (the design input with
    batch 1, ``(1, C, H, W)``), ``min_input_size`` (the smallest ``(H, W)`` accepted; models
    with an adaptive pool take any larger size).

    Thread safety: calls on one model may run from several threads; forward passes, saves,
    state_dict() and summary() run concurrently, while load() / load_state_dict() raise
    RuntimeError if another thread is using the model at that moment (and vice versa).
    """

    __slots__ = ()

    def __new__(cls, network: Any = None, num_classes: Optional[int] = None, *, name: Optional[str] = None,
                inputs: Any = None, outputs: Any = None, input_shape: Optional[Sequence[int]] = None,
                in_channels: Optional[int] = None) -> "Model":
        """``Model("resnet18", num_classes, in_channels=None)`` (or ``Model(name="resnet18")``): a
        zoo model. ``Model(nn.Sequential(...), input_shape=(C, H, W), name=None)``: a network of
        :mod:`swiftcnn.nn` modules. ``Model(inputs=x, outputs=y, name=None)``: a functional
        graph. With a network or a graph, ``name`` is the model's name."""
        from . import nn
        if network is None and inputs is None and outputs is None:
            network, name = name, None  # Model(name="resnet18"): a zoo model by keyword
        if isinstance(network, str):
            if name is not None:
                raise TypeError("Model: the zoo name is given twice (positionally and as name=)")
            if inputs is not None or outputs is not None or input_shape is not None:
                raise TypeError("input_shape, inputs, outputs: not for zoo models (they have their own input; "
                                "use in_channels)")
            return _create_zoo(cls, network, num_classes, in_channels)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name: expected a str, got {type(name).__name__}")
        if num_classes is not None or in_channels is not None:
            raise TypeError("num_classes, in_channels: only for zoo models (the network defines its own)")
        if inputs is not None or outputs is not None:
            if network is not None or input_shape is not None:
                raise TypeError("Model(inputs=..., outputs=...) takes no network or input_shape")
            doc = nn.graph_json(inputs=inputs, outputs=outputs, name=name or "model")
            return _c.model_from_json(cls, _json.dumps(doc))
        if network is None:
            raise TypeError("Model: expected a zoo name (str), an nn module with input_shape, or inputs= and outputs=")
        if not isinstance(network, nn.Module):
            raise TypeError(f"network: expected a zoo name (str) or a swiftcnn.nn module, got {type(network).__name__}")
        if input_shape is None:
            raise TypeError("input_shape: required for an nn module (the shape of one example, e.g. (3, 32, 32))")
        doc = nn.sequential_json(network, input_shape=tuple(as_shape(input_shape, "input_shape")), name=name or "model")
        return _c.model_from_json(cls, _json.dumps(doc))

    @classmethod
    def from_json(cls, doc: Union[str, Mapping[str, Any]]) -> "Model":
        """A model from the JSON of its network (docs/model-format.md), with seeded weights."""
        text = doc if isinstance(doc, str) else _json.dumps(doc)
        return _c.model_from_json(cls, text)

    @classmethod
    def open(cls, source: Union[PathLike, bytes, bytearray, memoryview]) -> "Model":
        """Opens a model file (what :meth:`save` writes): from a path (str, bytes or
        os.PathLike), or from the file's contents given as a bytearray or memoryview (use
        :meth:`open_bytes` for contents held in ``bytes``)."""
        if isinstance(source, (bytearray, memoryview)):
            return _c.model_open_memory(cls, source)
        return _c.model_open(cls, _fspath(source))

    @classmethod
    def open_bytes(cls, data: Union[bytes, bytearray, memoryview]) -> "Model":
        """Opens a model file held in memory."""
        return _c.model_open_memory(cls, data)

    def to_json(self) -> Dict[str, Any]:
        """The network as JSON (docs/model-format.md), as a dict."""
        return _json.loads(self._to_json())

    def node_names(self) -> List[str]:
        """Every name :meth:`forward` accepts in ``outputs=`` (node paths at every depth)."""
        return list(self._node_names())

    @property
    def input_names(self) -> List[str]:
        """The model's input names."""
        return list(self._io_names()[0])

    @property
    def output_names(self) -> List[str]:
        """The model's output names (the root graph's outputs)."""
        return list(self._io_names()[1])

    def freeze(self, prefix: str = "") -> int:
        """Freezes the parameters under ``prefix`` (a node path such as "layer1", or "" for
        all): no gradient, no update, no optimizer state. Returns how many it covers."""
        return self._freeze(prefix)

    def unfreeze(self, prefix: str = "") -> int:
        """Unfreezes the parameters under ``prefix``; returns how many it covers."""
        return self._unfreeze(prefix)

    def is_frozen(self, name: str) -> bool:
        """Whether parameter ``name`` is frozen."""
        return self._is_frozen(name)

    def replace(self, path: str, module: Any) -> None:
        """Replaces node ``path`` ("fc", "classifier.6", a graph node's name) with a
        :mod:`swiftcnn.nn` module, keeping every other weight (the new node's are seeded).
        ValueError, with the model unchanged, when it does not fit."""
        from . import nn
        if not isinstance(path, str):
            raise TypeError(f"path: expected a str, got {type(path).__name__}")
        node = nn.to_node(module)
        node = dict(node)
        node["name"] = path.rsplit(".", 1)[-1] if "." in path else path
        self._replace(path, _json.dumps(node))

    # ---- pickle and copy ------------------------------------------------------------------

    def __reduce__(self) -> Tuple[Any, Tuple[Any, ...]]:
        """Pickling (and ``copy.deepcopy`` / ``copy.copy``) by architecture and state: the
        network's JSON (docs/model-format.md; zoo, ONNX-imported and :mod:`swiftcnn.nn` models
        alike), the state dict as float32 arrays, the training flag and the frozen parameters.
        Unpickling builds an equal, independent model: the same outputs, bit for bit. An
        optimizer's state is not part of it (see ``optim``'s checkpoints)."""
        return (_unpickle_model, (type(self), self.__getstate__()))

    def __getstate__(self) -> Dict[str, Any]:
        """The state :meth:`__reduce__` pickles: ``{"format": "swiftcnn.Model", "version": 1,
        "json": str, "state_dict": OrderedDict of float32 arrays, "training": bool,
        "frozen": [parameter names]}``."""
        entries = self._state_dict()
        return {
            "format": "swiftcnn.Model",
            "version": 1,
            "json": self._to_json(),
            "state_dict": OrderedDict((key, np.array(buf, dtype=np.float32)) for key, buf, _ in entries),
            "training": bool(self.training),
            "frozen": [key for key, _, is_buffer in entries if not is_buffer and self._is_frozen(key)],
        }

    def __repr__(self) -> str:
        return (f"<swiftcnn.models.Model {self.name}: {self.num_parameters:,} parameters, "
                f"{self.num_classes} classes, input {self.input_shape}>")

    def __call__(self, x: Any, *, scale: Optional[float] = None) -> np.ndarray:
        """Logits ``[N, num_classes]`` (float32) for the batch ``x`` ``[N, C, H, W]``.

        x: float32, C-contiguous arrays are read in place; other real dtypes and layouts
        are converted to float32 first (a copy). PyTorch tensors are taken as they are
        (detached, moved to the CPU, bfloat16/float16 converted; torch is not imported).
        Bool, complex, object and string arrays raise TypeError. uint8 input (pixels, most
        likely) raises ValueError unless ``scale`` says how to scale it: ``scale=1/255`` maps
        0..255 to [0, 1], ``scale=1`` uses the values as they are. ``scale``, when given,
        multiplies any input first (a copy). A shape the model does not take raises
        ValueError (ShapeMismatchError) whose message gives the expected shape. The GIL is
        released while the model runs.
        """
        if scale is None and isinstance(x, np.ndarray) and x.dtype == np.float32 and x.flags.c_contiguous \
                and x.flags.aligned:
            return np.asarray(self._forward(x))
        return np.asarray(self._forward(self._as_input(x, scale=scale)))

    def forward(self, x: Any, outputs: Optional[Sequence[str]] = None, *, scale: Optional[float] = None) -> Any:
        """``forward(x)`` is ``model(x)``. ``forward(x, outputs=[names])`` returns
        ``{name: array}`` for the named nodes (any node at any depth, e.g. "layer3",
        "features.4", a graph node's name -- :meth:`node_names` lists them): what torch's
        forward hooks give. Runs in inference mode. ``x`` and ``scale`` as :meth:`__call__`
        (uint8 needs ``scale``)."""
        if outputs is None:
            return self(x, scale=scale)
        if isinstance(outputs, str):
            outputs = [outputs]
        names = list(outputs)
        x = self._as_input(x, scale=scale)
        arrays = self._forward_outputs(x, names)
        return {n: np.asarray(a) for n, a in zip(names, arrays)}

    def embed(self, images: Any, node: Optional[str] = None, *, normalize: bool = False,
              batch_size: int = 256, scale: Optional[float] = None) -> np.ndarray:
        """Features of each image, flattened per image: a float32 array ``[N, D]`` (for
        retrieval, see :mod:`swiftcnn.retrieval`).

        ``node``: a name :meth:`node_names` lists (that node's output, e.g. "layer4",
        "features"), or None for the input of the model's last linear layer -- a classifier's
        penultimate features (LeNet-5's 84, ResNet-18's 512, VGG's 4096). A model without a
        linear layer needs a node (ValueError otherwise). ``normalize``: scale each row to unit
        length (a zero row stays zero). Images go through in chunks of ``batch_size`` (and the
        library runs 32 at a time within a chunk), so memory stays that of one chunk plus the
        result. Runs in inference mode. ``images`` and ``scale`` as :meth:`__call__` (uint8
        needs ``scale``)."""
        if node is not None and not isinstance(node, str):
            raise TypeError(f"node: expected a str or None, got {type(node).__name__}")
        batch_size = as_int(batch_size, "batch_size")
        if not 1 <= batch_size < 2 ** 63:
            raise ValueError(f"batch_size must be 1 to 2**63 - 1; got {batch_size}")
        x = self._as_input(images, scale=scale)
        if x.ndim < 2 or x.shape[0] < 1:
            raise ValueError(f"{self.name}: embed takes a batch [N, ...] with N >= 1; got shape {list(x.shape)}")
        parts = [np.asarray(_c._model_embed(self, x[i:i + batch_size], node))
                 for i in range(0, x.shape[0], batch_size)]
        out = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)
        if normalize:
            norms = np.sqrt(np.sum(out.astype(np.float64) ** 2, axis=1, keepdims=True))
            out = (out / np.where(norms > 0, norms, 1)).astype(np.float32)
        return out

    def _as_input(self, x: Any, what: Optional[str] = None, scale: Optional[float] = None,
                  can_scale: bool = True) -> np.ndarray:
        """A model input as a C-contiguous float32 array: torch tensors converted, uint8
        refused unless ``scale`` is given, ``scale`` applied."""
        if scale is None and isinstance(x, np.ndarray) and x.dtype == np.float32 and x.flags.c_contiguous \
                and x.flags.aligned:
            return x
        what = what or self.name
        a = np.asarray(from_torch(x))
        if a.dtype.kind not in _REAL_KINDS:
            shape = ", ".join(str(d) for d in self.input_shape[1:])
            raise TypeError(f"{what}: expected a float32 array [N, {shape}] (real numbers), got dtype {a.dtype}")
        if a.dtype == np.uint8 and scale is None:
            how = ("pass scale=1/255 to map 0..255 to [0, 1] (or scale=1 to use the values as they are)"
                   if can_scale else "convert it first, e.g. x.astype(np.float32) / 255")
            raise ValueError(f"{what}: got uint8 input (pixels?) without a scale: {how}; "
                             f"or see swiftcnn.image.to_tensor for pixels [H, W, C]")
        a = np.require(a, dtype=np.float32, requirements=["C", "A"])
        if scale is not None:
            a = np.ascontiguousarray(a * np.float32(as_float(scale, "scale")), dtype=np.float32)
        return a

    def output_shape(self, input_shape: Sequence[int]) -> Tuple[int, int]:
        """``(N, num_classes)`` for an input shape ``(N, C, H, W)``; ValueError (with the
        expected shape) when the model does not take that input."""
        return self._output_shape(as_shape(input_shape, "input_shape"))

    def load(self, path: PathLike) -> None:
        """Loads weights from a safetensors file with PyTorch state_dict names.

        F32, F16, BF16 and F64 tensors are accepted (converted to float32). Strict: every
        key of the model must be present, no other may be (``num_batches_tracked`` entries are
        ignored), and every shape must match -- otherwise ValueError naming the key and both
        shapes. A malformed file raises FormatError (ValueError), an unreadable one
        SwiftCNNIOError (OSError). On any error the model is unchanged.
        """
        self._load(_fspath(path))

    def save(self, path: PathLike) -> None:
        """Writes the model as one self-describing file: a safetensors file of the weights
        (float32, PyTorch's names and order; no ``num_batches_tracked``) whose metadata holds
        the network as JSON (docs/model-format.md), so :func:`swiftcnn.load` opens it without
        a zoo name. Atomic: a temporary file is written and renamed over ``path``, so a failed
        save (OSError) leaves an existing file intact. torch's
        ``load_state_dict(safetensors.torch.load_file(path), strict=False)`` reads its weights
        (strict=False only because of the absent num_batches_tracked).
        """
        self._save(_fspath(path))

    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """The weights as ``{key: float32 array}`` in PyTorch's names and order (the order of
        ``torch_model.state_dict()`` without ``num_batches_tracked``). The arrays are copies:
        changing them does not change the model (use :meth:`load_state_dict`)."""
        return OrderedDict((key, np.asarray(buf)) for key, buf, _ in self._state_dict())

    def parameter_names(self, buffers: bool = True) -> List[str]:
        """The state_dict keys in order; ``buffers=False`` leaves out batch-norm running
        statistics (then the keys of torch's ``named_parameters()``)."""
        return [key for key, _, is_buffer in self._state_dict() if buffers or not is_buffer]

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> None:
        """Replaces the weights from a mapping ``{key: array}`` (numpy arrays, CPU torch
        tensors or anything numpy.asarray accepts; converted to float32).

        Keys ending in ``num_batches_tracked`` are ignored. strict=True (the default): the
        keys must be exactly the model's; otherwise ValueError (ShapeMismatchError) naming the
        missing and unexpected keys. strict=False: missing and unknown keys are ignored.
        Shapes must match either way (the message names the key and both shapes). On any
        error the model is unchanged.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"state_dict: expected a mapping of str to arrays, got {type(state_dict).__name__}")
        keys: List[str] = []
        arrays: List[np.ndarray] = []
        for key, value in state_dict.items():
            if not isinstance(key, str):
                raise TypeError(f"state_dict: keys must be str, got {type(key).__name__}")
            if key.rsplit(".", 1)[-1] == "num_batches_tracked":
                continue
            keys.append(key)
            arrays.append(_weight_array(value, key))
        self._load_state_dict(keys, arrays, bool(strict))

    def segment(self, images: Any) -> Any:
        """Semantic segmentation: the class index of every pixel and its softmax probability,
        at the image's own size (scnn_model_segment; for models whose output is per-pixel
        class scores ``[N, classes, h, w]``, e.g. ``fcn_resnet50``, ``deeplabv3_resnet50``).

        ``images`` is one of:

        - a uint8 RGB image ``[H, W, 3]`` or a uint8 batch ``[N, H, W, 3]`` (bytes / 255);
        - a float batch ``[N, 3, H, W]`` or one float image ``[3, H, W]`` with values in
          [0, 1] (torchvision's convention before normalization);
        - a list (or tuple) of numpy arrays, each such a single image, of any sizes (a nested
          list of numbers is read as one array instead).

        Preprocessing is torchvision's for its segmentation weights without the resize: per
        channel ``(x - mean) / std`` with ImageNet's mean and std. The zoo models run at the
        image's size and resize their scores to it (bilinear); a model that takes one input
        size only gets the image resized to it and its scores resized back. For torchvision's
        exact preset, resize the shorter side to 520 before calling.

        Returns ``{"labels": int64 [N, H, W], "scores": float32 [N, H, W]}`` (N = 1 for a
        single image); for a list, a list of such dicts with ``[H, W]`` arrays, one per image.
        The label is the argmax class (the lowest on ties): names for 21-class models in
        :func:`voc_classes`."""
        if isinstance(images, (list, tuple)) and images and all(isinstance(i, np.ndarray) for i in images):
            out = []
            for k, img in enumerate(images):
                a = np.asarray(from_torch(img))
                if a.ndim != 3:
                    raise ValueError(f"{self.name}: segment: image {k} of the list must be [H, W, 3] uint8 "
                                     f"or [3, H, W] float; got shape {a.shape}")
                r = self.segment(a)
                out.append({"labels": r["labels"][0], "scores": r["scores"][0]})
            return out
        a = np.asarray(from_torch(images))
        if a.dtype == np.uint8:
            if a.ndim == 3:
                a = a[None]
            if a.ndim != 4 or a.shape[3] != 3:
                raise ValueError(f"{self.name}: segment: uint8 images must be [H, W, 3] or [N, H, W, 3] (RGB); "
                                 f"got shape {a.shape}")
            n, h, w = a.shape[0], a.shape[1], a.shape[2]
            labels = np.empty((n, h, w), dtype=np.int32)
            scores = np.empty((n, h, w), dtype=np.float32)
            for i in range(n):
                img = np.ascontiguousarray(a[i])
                _c.segment_image(self, img, w, h, 0, labels[i], scores[i])
            return {"labels": labels.astype(np.int64), "scores": scores}
        if a.dtype.kind != "f":
            raise TypeError(f"{self.name}: segment: images must be uint8 [N, H, W, 3] or float [N, 3, H, W] "
                            f"in [0, 1]; got dtype {a.dtype}")
        if a.ndim == 3:
            a = a[None]
        if a.ndim != 4 or a.shape[1] != 3:
            raise ValueError(f"{self.name}: segment: float images must be [3, H, W] or [N, 3, H, W]; got shape {a.shape}")
        a = np.require(a, dtype=np.float32, requirements=["C", "A"])
        n, h, w = a.shape[0], a.shape[2], a.shape[3]
        labels = np.empty((n, h, w), dtype=np.int32)
        scores = np.empty((n, h, w), dtype=np.float32)
        _c.segment_batch(self, a, labels, scores)
        return {"labels": labels.astype(np.int64), "scores": scores}

    def summary(self, input_shape: Optional[Sequence[int]] = None, profile: Any = None) -> str:
        """A Keras-like table: per layer its name, type, output shape, parameters,
        multiply-accumulates per example and receptive field, then the totals (the
        parameter total equals :attr:`num_parameters`). Returned as a string (print it).

        input_shape: ``(N, C, H, W)``; None: the design input ``input_shape``.
        profile: a :class:`swiftcnn.profile.Profile` of this model (its input shape is
        used), or True to profile a seeded random input of ``input_shape`` now (10 runs):
        adds "Kernel", "ms" and "Share" columns ("-" for layers folded into another, like a
        batch norm after a convolution). None or False: the plain table.
        """
        from .profile import Profile
        if profile is None or profile is False:
            return self._summary(None if input_shape is None else as_shape(input_shape, "input_shape"))
        if profile is True:
            shape = tuple(self.input_shape) if input_shape is None else as_shape(input_shape, "input_shape")
            x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
            profile = self.profile(x)
        elif not isinstance(profile, Profile):
            raise TypeError(f"profile: expected a Profile, True or None, got {type(profile).__name__}")
        elif input_shape is not None and tuple(as_shape(input_shape, "input_shape")) != profile.input_shape:
            raise ValueError(f"input_shape {list(input_shape)} differs from the profile's {list(profile.input_shape)}")
        return self._summary_profiled(profile._capsule)

    def profile(self, x: Any, runs: int = 10, warmup: int = 2) -> Any:
        """Where the forward pass of ``x`` spends its time, per layer: a
        :class:`swiftcnn.profile.Profile` (print it for a table, slowest first). Runs the
        compiled forward ``warmup`` times, then ``runs`` times with a clock around each step
        (1 <= runs <= 100000, 0 <= warmup <= 100000); per node the kernel chosen, median ms,
        share, MACs, GFLOP/s, bytes moved and GB/s. The same computation as ``model(x)``, at
        the current thread count; the outputs are discarded. Errors as ``model(x)``."""
        from .profile import Profile
        runs = as_int(runs, "runs")
        warmup = as_int(warmup, "warmup")
        if not 1 <= runs <= 100000:
            raise ValueError(f"profile: runs must be 1 to 100000; got {runs}")
        if not 0 <= warmup <= 100000:
            raise ValueError(f"profile: warmup must be 0 to 100000; got {warmup}")
        a = self._as_input(x, can_scale=False)
        capsule, total_ms, rows = self._profile(a, runs, warmup)
        return Profile(capsule, self, total_ms, rows, tuple(a.shape), _c.get_num_threads(), runs)

    def macs(self, input_shape: Optional[Sequence[int]] = None) -> int:
        """Multiply-accumulates per example (one image of the batch) of a forward pass: the
        total of :meth:`summary`'s MACs column (convolutions and linear layers). A batch of N
        does N times as many, 2 FLOP each.

        input_shape: ``(N, C, H, W)``; None: the design input ``input_shape``.
        """
        return self._macs(None if input_shape is None else as_shape(input_shape, "input_shape"))

    def workspace_bytes(self, input_shape: Optional[Sequence[int]] = None) -> int:
        """Bytes of activation and scratch memory one optimized forward pass of
        ``input_shape`` uses: the buffers planned once per input shape, those whose live
        ranges do not overlap sharing memory (each forward running at the same time uses its
        own). Weights, their packed copies and the result are not counted. Plans the shape
        (packing the weights) if no forward has yet.

        input_shape: ``(N, C, H, W)``; None: the design input ``input_shape``.
        """
        return self._workspace_bytes(None if input_shape is None else as_shape(input_shape, "input_shape"))

    def reset_parameters(self, seed: int = 0) -> None:
        """Replaces every weight with swiftcnn seeded init v1's values for ``seed`` (what a
        new model holds for seed 0; the generator of the parity fixtures)."""
        self._init_seeded(as_int(seed, "seed"))

    # ---- training ------------------------------------------------------------------------

    def train(self, mode: bool = True) -> "Model":
        """Sets training mode (``mode`` True) like torch's ``model.train()``: the mode in which
        batch norm uses the batch's statistics and updates its running statistics and dropout
        is active. Returns the model. The library applies each mode where it belongs whatever
        this flag says: :meth:`fit` and :meth:`train_step` always train in training mode,
        while :meth:`__call__`, :meth:`evaluate` and :meth:`predict` always run in evaluation
        mode; training leaves the flag as it was. It is kept for PyTorch-style code
        (:attr:`training`)."""
        _c.set_training(self, bool(mode))
        return self

    def eval(self) -> "Model":
        """Evaluation mode (the default; torch's ``model.eval()``): running statistics, no
        dropout. Returns the model."""
        _c.set_training(self, False)
        return self

    @property
    def training(self) -> bool:
        """True in training mode (see :meth:`train`)."""
        return _c.is_training(self)

    def train_step(self, x: Any, y: Any, optimizer: Any) -> float:
        """One training step on the batch ``(x, y)``: forward in training mode, softmax
        cross-entropy (mean over the batch), backward, ``optimizer`` step (an optimizer of
        :mod:`swiftcnn.optim` created for this model). Returns the batch's loss before the
        step. x: ``[N, C, H, W]`` float32 (other real dtypes are converted); y: N class
        indices in ``0 .. num_classes-1`` (ValueError otherwise). The GIL is released."""
        x = self._images(x, "x", can_scale=False)
        return _c.train_step(self, optimizer, x, _labels(y, x.shape[0], "y"))

    def compute_gradients(self, x: Any, y: Any, optimizer: Any) -> float:
        """The first half of :meth:`train_step` (same arguments and checks): forward in
        training mode, loss, backward. The weights do not change (batch-norm running
        statistics are updated, as in a step); the gradients stay pending in ``optimizer``
        (:meth:`swiftcnn.optim.Optimizer.gradients`, ``set_gradients``, ``step``), replacing
        any. Then ``optimizer.step()`` equals :meth:`train_step` bit for bit. Returns the
        batch's loss. The GIL is released."""
        x = self._images(x, "x", can_scale=False)
        return _c.compute_gradients(self, optimizer, x, _labels(y, x.shape[0], "y"))

    def buffer_layout(self) -> List[Tuple[str, Tuple[int, ...]]]:
        """``(state_dict key, shape)`` of each buffer (batch-norm running statistics), in
        state_dict order: the layout of :meth:`buffers`."""
        return [(key, tuple(buf.shape)) for key, buf, _ in self._state_dict(True)]

    def buffers(self) -> np.ndarray:
        """The buffers (batch-norm running means and variances, updated by training steps)
        as one new flat float32 array in :meth:`buffer_layout`'s order; empty for a model
        without batch norm. Only the buffers are copied (unlike :meth:`state_dict`)."""
        parts = [np.asarray(buf).reshape(-1) for _, buf, _ in self._state_dict(True)]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)

    def set_buffers(self, values: Any) -> None:
        """Replaces the buffers from a flat array in :meth:`buffer_layout`'s order (any real
        array-like of that total size, converted to float32), e.g. running statistics
        averaged over data-parallel workers. ValueError for a wrong size; on error nothing
        changes."""
        flat = as_f32(values, "buffers").reshape(-1)
        layout = self.buffer_layout()
        sizes = [int(np.prod(shape, dtype=np.int64)) for _, shape in layout]
        if flat.size != sum(sizes):
            raise _c.ShapeMismatchError(f"buffers: {self.name} has {len(layout)} buffers of {sum(sizes)} values; got {flat.size}")
        keys, arrays, start = [], [], 0
        for (key, shape), n in zip(layout, sizes):
            keys.append(key)
            arrays.append(flat[start:start + n].reshape(shape))
            start += n
        self._load_state_dict(keys, arrays, False)

    def fit(self, x: Any, y: Any, epochs: int = 10, batch_size: int = 64, optimizer: Any = "sgd",
            lr: float = 0.01, momentum: float = 0.9, weight_decay: float = 0.0,
            validation_data: Optional[Tuple[Any, Any]] = None, seed: int = 0, verbose: bool = True,
            shuffle: bool = True) -> Dict[str, List[float]]:
        """Trains on ``(x, y)`` for ``epochs`` epochs (Keras's fit); returns the history.

        x: ``[N, C, H, W]`` images, y: N class indices. Every epoch the training set is
        shuffled (``shuffle``; the order is :func:`swiftcnn.datasets.epoch_order` for
        ``seed``) and cut into batches of ``batch_size`` (the last may be smaller); each batch
        is one :meth:`train_step` (softmax cross-entropy). ``optimizer``: ``"sgd"`` (with
        ``lr``, ``momentum``, ``weight_decay``), ``"adam"`` or ``"adamw"`` (with ``lr``,
        ``weight_decay``; momentum ignored), or an optimizer of :mod:`swiftcnn.optim` made for
        this model (then lr, momentum and weight_decay are ignored). An optimizer instance
        carries the run's progress: ``epochs`` is the run's total, so a fit stopped early
        (Ctrl-C) or restored with ``optimizer.load_checkpoint`` continues where it stopped
        and ends exactly as an uninterrupted run. ``validation_data``: ``(x_val, y_val)``,
        evaluated after every epoch in evaluation mode.

        Returns ``{"loss": [...], "accuracy": [...]}`` (per epoch run by this call: mean
        training loss and accuracy from the training forward passes), plus ``"val_loss"``
        and ``"val_accuracy"`` with validation data. ``verbose``: a progress bar on a
        terminal (stderr), one line per epoch otherwise; False: silent. Ctrl-C stops the
        fit after the current step (the model keeps what it learnt) and raises
        KeyboardInterrupt. The GIL is released while the library trains.
        """
        from . import optim as _optim

        x = self._images(x, "x", can_scale=False)
        y32 = _labels(y, x.shape[0], "y")
        vx = vy = None
        if validation_data is not None:
            try:
                vx_raw, vy_raw = validation_data
            except (TypeError, ValueError):
                raise TypeError("validation_data: expected a pair (x_val, y_val)") from None
            vx = self._images(vx_raw, "validation x", can_scale=False)
            vy = _labels(vy_raw, vx.shape[0], "validation y")
        if isinstance(optimizer, str):
            name = optimizer.lower()
            if name == "sgd":
                optimizer = _optim.SGD(self, lr, momentum=momentum, weight_decay=weight_decay)
            elif name in ("adam", "adamw"):
                optimizer = _optim.Optimizer(self, name, lr, weight_decay=weight_decay)
            else:
                raise ValueError(f"optimizer: expected 'sgd', 'adam', 'adamw' or a swiftcnn.optim optimizer, "
                                 f"got {optimizer!r}")
        elif not isinstance(optimizer, _c.Optimizer):
            raise TypeError(f"optimizer: expected a str or a swiftcnn.optim optimizer, got {type(optimizer).__name__}")
        epochs = _count(epochs, "epochs")
        batch_size = _count(batch_size, "batch_size")
        seed = as_int(seed, "seed")
        history: Dict[str, List[float]] = {"loss": [], "accuracy": []}
        if vx is not None:
            history["val_loss"] = []
            history["val_accuracy"] = []
        progress = _Progress(epochs, verbose)

        def on_epoch(epoch, loss, accuracy, val_loss, val_accuracy):
            history["loss"].append(loss)
            history["accuracy"].append(accuracy)
            if val_loss is not None:
                history["val_loss"].append(val_loss)
                history["val_accuracy"].append(val_accuracy)
            progress.epoch(epoch, loss, accuracy, val_loss, val_accuracy)
            return True

        try:
            _c.fit(self, optimizer, x, y32, vx, vy, epochs, batch_size, seed, bool(shuffle),
                   progress.step if progress.enabled else None, on_epoch)
        finally:
            progress.close()
        return history

    def evaluate(self, x: Any, y: Any, batch_size: int = 256, *, scale: Optional[float] = None) -> Tuple[float, float]:
        """``(loss, accuracy)`` on ``(x, y)`` in evaluation mode: mean softmax cross-entropy
        and the fraction classified correctly (:meth:`predict`), computed in batches of
        ``batch_size`` (memory only). ``x`` and ``scale`` as :meth:`__call__` (uint8 needs
        ``scale``). The GIL is released."""
        x = self._images(x, "x", scale=scale)
        return _c.evaluate(self, x, _labels(y, x.shape[0], "y"), _count(batch_size, "batch_size"))

    def predict(self, x: Any, *, scale: Optional[float] = None) -> np.ndarray:
        """Predicted class indices (int64, shape ``[N]``) for the images ``x`` ``[N, C, H, W]``
        in evaluation mode: the argmax of the logits (lenet5_original: the argmin of its RBF
        penalties). ``x`` and ``scale`` as :meth:`__call__` (uint8 needs ``scale``, e.g.
        ``scale=1/255``). The GIL is released."""
        x = self._images(x, "x", scale=scale)
        out = np.empty(x.shape[0] if x.ndim >= 1 else 0, dtype=np.int32)
        _c.predict(self, x, out)
        return out.astype(np.int64)

    def detect(self, images: Any, *, score_threshold: Optional[float] = None, iou_threshold: Optional[float] = None,
               max_detections: Optional[int] = None) -> List[Dict[str, np.ndarray]]:
        """Objects in images, as torchvision's SSD in eval mode returns them: one dict per
        image, ``{"boxes": float32 [K, 4] (x1, y1, x2, y2 in that image's pixels),
        "scores": float32 [K], "labels": int64 [K]}``, by decreasing score (equal scores:
        lower label, then earlier default box, first). Labels index :func:`coco_classes`.

        images: a list of images of any sizes, each a float array ``[3, H, W]`` with values
        in [0, 1] (torchvision's convention) or a uint8 array ``[H, W, 3]`` of pixels (read
        as :func:`swiftcnn.image.to_tensor` does: divided by 255); or one float array
        ``[N, 3, H, W]``. Each image is normalized and resized to the network's input by
        the library (torchvision's transform), so pass raw pixels, not normalized ones.

        score_threshold, iou_threshold, max_detections: overrides of torchvision's
        defaults for the model (ssd300_vgg16: 0.01, 0.45, 200; ssdlite320_mobilenet_v3_large:
        0.001, 0.55, 300). A model that is not a
        detector raises ValueError. The GIL is released while each image runs.
        """
        if isinstance(images, (list, tuple)):
            items: Any = list(images)
        else:
            items = images if isinstance(images, np.ndarray) else np.asarray(from_torch(images))
            if items.ndim != 4:
                items = [items]
        try:
            results: List[Any] = [None] * len(items)  # one result per image, before any work
        except (MemoryError, OverflowError):
            raise MemoryError(f"images: {len(items)} images: their results do not fit in memory") from None
        score = -1.0 if score_threshold is None else as_float(score_threshold, "score_threshold")
        iou = -1.0 if iou_threshold is None else as_float(iou_threshold, "iou_threshold")
        if score_threshold is not None and not score >= 0:
            raise ValueError(f"score_threshold: expected a number >= 0, got {score_threshold!r}")
        if iou_threshold is not None and not iou >= 0:
            raise ValueError(f"iou_threshold: expected a number >= 0, got {iou_threshold!r}")
        max_det = -1 if max_detections is None else as_int(max_detections, "max_detections")
        if max_detections is not None and max_det < 0:
            raise ValueError(f"max_detections: expected an int >= 0, got {max_detections!r}")
        for i, item in enumerate(items):
            img = _detection_image(item, f"images[{i}]")
            capacity = min(max_det, 4096) if max_det >= 0 else 1024  # grown below when too small
            data, count = _c.detect(self, img, score, iou, max_det, capacity)
            if count > capacity:
                data, count = _c.detect(self, img, score, iou, max_det, count)
            rec = np.frombuffer(data, dtype=_DETECTION_DTYPE)
            boxes = np.stack([rec["x1"], rec["y1"], rec["x2"], rec["y2"]], axis=1).astype(np.float32).reshape(-1, 4)
            results[i] = {"boxes": boxes, "scores": rec["score"].astype(np.float32),
                          "labels": rec["label"].astype(np.int64)}
        return results

    def _images(self, x: Any, what: str, scale: Optional[float] = None, can_scale: bool = True) -> np.ndarray:
        a = self._as_input(x, what, scale=scale, can_scale=can_scale)
        if a.ndim != 4:
            _, c, h, w = self.input_shape
            raise ValueError(f"{what}: expected images [N, {c}, {h}, {w}], got shape {a.shape}")
        return a


def _unpickle_model(cls: Any, state: Mapping[str, Any]) -> Model:
    """A model from :meth:`Model.__getstate__`'s state (what pickle and deepcopy call)."""
    if not isinstance(state, Mapping) or state.get("format") != "swiftcnn.Model":
        raise ValueError("not a pickled swiftcnn model")
    version = state.get("version")
    if version != 1:
        raise ValueError(f"a pickled swiftcnn model of version {version!r}; this swiftcnn reads version 1")
    if not isinstance(cls, type) or not issubclass(cls, _c.Model):
        raise TypeError(f"not a swiftcnn model class: {cls!r}")
    model = _c.model_from_json(cls, state["json"])
    model.load_state_dict(state["state_dict"], strict=True)
    for key in state.get("frozen", ()):
        model._freeze(key)
    _c.set_training(model, bool(state.get("training", False)))
    return model


# One scnn_detection record (Include/swiftcnn.h).
_DETECTION_DTYPE = np.dtype([("x1", "<f4"), ("y1", "<f4"), ("x2", "<f4"), ("y2", "<f4"), ("score", "<f4"),
                             ("label", "<i4")])


def _detection_image(item: Any, what: str) -> np.ndarray:
    """One detection input as a C-contiguous float32 [C, H, W] array in [0, 1]."""
    a = np.asarray(from_torch(item))
    if a.dtype == np.uint8:
        if a.ndim != 3:
            raise ValueError(f"{what}: a uint8 image must be pixels [H, W, C], got shape {a.shape}")
        return np.ascontiguousarray(a.transpose(2, 0, 1), dtype=np.float32) / np.float32(255)
    if a.dtype.kind not in _REAL_KINDS:
        raise TypeError(f"{what}: expected a float array [3, H, W] in [0, 1] or uint8 pixels [H, W, 3], "
                        f"got dtype {a.dtype}")
    if a.ndim != 3:
        raise ValueError(f"{what}: expected an image [3, H, W], got shape {a.shape}")
    return np.require(a, dtype=np.float32, requirements=["C", "A"])


def coco_classes() -> List[str]:
    """The 91 COCO category names in torchvision's detection numbering (the labels
    :meth:`Model.detect` returns for the zoo's detectors); see swiftcnn.coco_classes."""
    return list(_c.coco_classes())


def _labels(y: Any, n: int, what: str) -> np.ndarray:
    """Class indices as a C-contiguous int32 array of length n (the library range-checks)."""
    a = np.asarray(y)
    if a.dtype.kind not in "iub" and not (a.dtype.kind == "f" and a.size and np.all(np.isfinite(a))
                                          and np.all(a == np.round(a))):
        raise TypeError(f"{what}: expected integer class indices, got dtype {a.dtype}")
    if a.ndim != 1 or a.shape[0] != n:
        raise ValueError(f"{what}: expected {n} class indices (one per image), got shape {a.shape}")
    if a.size and (a.min() < np.iinfo(np.int32).min or a.max() > np.iinfo(np.int32).max):
        raise ValueError(f"{what}: class index out of range: {a.min()} .. {a.max()}")
    return np.ascontiguousarray(a, dtype=np.int32)


def _count(v: Any, what: str) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{what}: expected an int, got {type(v).__name__}")
    if v < 1:
        raise ValueError(f"{what}: must be >= 1, got {v}")
    return int(v)


class _Progress:
    """fit's output: a progress bar redrawn in place on a terminal (stderr), plain epoch
    lines otherwise."""

    def __init__(self, epochs: int, verbose: bool):
        import sys
        import time

        self.epochs = epochs
        self.enabled = bool(verbose)
        self.stream = sys.stderr
        self.tty = self.enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.time = time.monotonic
        self.t0 = self.time()
        self.last = 0.0
        self.loss_sum = 0.0
        self.steps = 0
        self.open_line = False

    def step(self, epoch, step, batch, batches, loss, lr):
        if batch == 0:
            self.t0 = self.time()
            self.loss_sum = 0.0
            self.steps = 0
        self.loss_sum += loss
        self.steps += 1
        now = self.time()
        if self.tty and (now - self.last >= 0.1 or batch + 1 == batches):
            self.last = now
            width = 30
            done = (batch + 1) * width // max(batches, 1)
            bar = "=" * done + (">" if done < width else "") + "." * max(width - done - 1, 0)
            self.stream.write(f"\rEpoch {epoch + 1}/{self.epochs} [{bar}] {batch + 1}/{batches} "
                              f"loss {self.loss_sum / self.steps:.4f}")
            self.stream.flush()
            self.open_line = True
        return True

    def epoch(self, epoch, loss, accuracy, val_loss, val_accuracy):
        if not self.enabled:
            return
        line = (f"Epoch {epoch + 1}/{self.epochs} - {self.time() - self.t0:.1f}s - loss {loss:.4f} - "
                f"accuracy {accuracy:.4f}")
        if val_loss is not None:
            line += f" - val_loss {val_loss:.4f} - val_accuracy {val_accuracy:.4f}"
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(line + "\n")
        self.stream.flush()
        self.open_line = False

    def close(self):
        if self.open_line:
            self.stream.write("\n")
            self.stream.flush()
            self.open_line = False


def _create_zoo(cls: Any, name: str, num_classes: Optional[int], in_channels: Optional[int]) -> Model:
    if not isinstance(name, str):
        raise TypeError(f"name: expected a str, got {type(name).__name__}")
    if num_classes is None:
        num_classes = _c.model_default_num_classes(name)
    elif isinstance(num_classes, (bool, np.bool_)) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(f"num_classes: expected an int, got {type(num_classes).__name__}")
    m = _c.Model.__new__(cls, name, int(num_classes))
    if in_channels is None:
        return m
    in_channels = _count(in_channels, "in_channels")
    doc = _json.loads(m._to_json())
    if doc["input_shape"][0] == in_channels:
        return m
    # The first convolution takes the new channel count; its weights are seeded anew.
    def first_conv(node: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        if node.get("op") in ("conv2d", "partial_conv2d"):
            return node
        for key in ("children", "body"):
            for child in node.get(key, []):
                found = first_conv(child)
                if found is not None:
                    return found
        return None
    conv = first_conv(doc["network"])
    if conv is None:
        raise ValueError(f"{name}: no convolution takes the input")
    conv["attrs"]["in_channels"] = in_channels
    doc["input_shape"][0] = in_channels
    return _c.model_from_json(cls, _json.dumps(doc))


def create(name: str, num_classes: Optional[int] = None, in_channels: Optional[int] = None) -> Model:
    """Zoo model ``name`` with ``num_classes`` outputs and ``in_channels`` input channels.

    num_classes: None (the default) gives the model's own default -- 1000 (ImageNet) for
    every model except the LeNets, which default to 10. in_channels: None keeps the model's
    own (3, or 1 for the LeNets); another count changes the first convolution (seeded
    weights). An unknown name raises ValueError listing the names.
    """
    return Model(name, num_classes, in_channels=in_channels)


def load(source: Union[PathLike, bytes, bytearray, memoryview]) -> Model:
    """Opens a model file written by :meth:`Model.save`: the network and its weights, no
    zoo name needed. ``source``: a path (str, bytes or os.PathLike), or the file's contents
    as a bytearray or memoryview (:meth:`Model.open_bytes` takes ``bytes`` contents)."""
    return Model.open(source)


def voc_classes() -> List[str]:
    """The 21 PASCAL VOC class names, background first, in the order of torchvision's
    segmentation models' output channels (0 "background", 15 "person", 20 "tvmonitor")."""
    return list(_c.voc_classes())


def seeded_tensor(name: str, shape: Sequence[int], lo: float = -1.0, hi: float = 1.0, seed: int = 0) -> np.ndarray:
    """A float32 array from swiftcnn seeded init v1: element i uniform in [lo, hi), drawn from
    splitmix64 keyed by the FNV-1a hash of ``name`` XOR ``seed`` (scripts/weightgen.py).
    ``seeded_tensor("input", (2, 3, 224, 224))`` is the input of the parity fixtures."""
    if not isinstance(name, str):
        raise TypeError(f"name: expected a str, got {type(name).__name__}")
    return np.asarray(_c.seeded_tensor(name, as_shape(shape, "shape"), as_float(lo, "lo"), as_float(hi, "hi"),
                                       as_int(seed, "seed")))


def _factory(model_name: str):
    def make(num_classes: Optional[int] = None) -> Model:
        return Model(model_name, num_classes)

    make.__name__ = make.__qualname__ = model_name
    make.__module__ = __name__
    make.__doc__ = (f"{model_name}(num_classes=None) -> Model: zoo model {model_name!r}, "
                    f"num_classes defaulting to {_c.model_default_num_classes(model_name)}. "
                    f"Same as create({model_name!r}, num_classes).")
    return make


# One constructor per zoo model: models.resnet50(), models.lenet5(num_classes=10), ...
for _name in _c.model_names():
    globals()[_name] = _factory(_name)
    __all__.append(_name)
del _name
