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

import os
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _swiftcnn as _c

__all__ = ["Model", "names", "create", "default_num_classes", "seeded_tensor"]

PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

# dtype kinds a model input or a weight may have: float, signed and unsigned integers
# (converted to float32). Everything else (bool, complex, object, strings, ...) is refused.
_REAL_KINDS = "fiu"


def names() -> List[str]:
    """Every zoo model name, in the library's order (scnn_model_names())."""
    return list(_c.model_names())


def default_num_classes(name: str) -> int:
    """The class count ``name`` has by default: 10 for the LeNets, 1000 otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"name: expected a str, got {type(name).__name__}")
    return _c.model_default_num_classes(name)


def _fspath(path: Any) -> Union[str, bytes]:
    try:
        return os.fspath(path)
    except TypeError:
        raise TypeError(f"path: expected str, bytes or os.PathLike, got {type(path).__name__}") from None


def _weight_array(value: Any, key: str) -> np.ndarray:
    """A state_dict value as a C-contiguous aligned float32 array (numpy arrays, anything
    numpy.asarray takes -- e.g. CPU torch tensors)."""
    if isinstance(value, np.ndarray) and value.dtype == np.float32 and value.flags.c_contiguous \
            and value.flags.aligned:
        return value
    if not isinstance(value, np.ndarray) and hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu()  # a torch tensor (torch is never imported here)
        if str(getattr(value, "dtype", "")) == "torch.bfloat16":
            value = value.float()  # numpy has no bfloat16
    a = np.asarray(value)
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

    def __new__(cls, name: str, num_classes: Optional[int] = None) -> "Model":
        if not isinstance(name, str):
            raise TypeError(f"name: expected a str, got {type(name).__name__}")
        if num_classes is None:
            num_classes = _c.model_default_num_classes(name)
        elif isinstance(num_classes, (bool, np.bool_)) or not isinstance(num_classes, (int, np.integer)):
            raise TypeError(f"num_classes: expected an int, got {type(num_classes).__name__}")
        return super().__new__(cls, name, int(num_classes))

    def __repr__(self) -> str:
        return (f"<swiftcnn.models.Model {self.name}: {self.num_parameters:,} parameters, "
                f"{self.num_classes} classes, input {self.input_shape}>")

    def __call__(self, x: Any) -> np.ndarray:
        """Logits ``[N, num_classes]`` (float32) for the batch ``x`` ``[N, C, H, W]``.

        x: float32, C-contiguous arrays are read in place; other real dtypes and layouts
        are converted to float32 first (a copy). Bool, complex, object and string arrays
        raise TypeError. A shape the model does not take raises ValueError
        (ShapeMismatchError) whose message gives the expected shape. The GIL is released
        while the model runs.
        """
        if not (isinstance(x, np.ndarray) and x.dtype == np.float32 and x.flags.c_contiguous and x.flags.aligned):
            a = np.asarray(x)
            if a.dtype.kind not in _REAL_KINDS:
                _, c, h, w = self.input_shape
                raise TypeError(f"{self.name}: expected a float32 array [N, {c}, {h}, {w}] "
                                f"(real numbers), got dtype {a.dtype}")
            x = np.require(a, dtype=np.float32, requirements=["C", "A"])
        return np.asarray(self._forward(x))

    forward = __call__

    def output_shape(self, input_shape: Sequence[int]) -> Tuple[int, int]:
        """``(N, num_classes)`` for an input shape ``(N, C, H, W)``; ValueError (with the
        expected shape) when the model does not take that input."""
        return self._output_shape(input_shape)

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
        """Writes the weights (parameters and batch-norm statistics, float32, PyTorch's names
        and order; no ``num_batches_tracked``) to a safetensors file. Atomic: a temporary file
        is written and renamed over ``path``, so a failed save (OSError) leaves an existing
        file intact. torch's ``load_state_dict(safetensors.torch.load_file(path),
        strict=False)`` reads it (strict=False only because of the absent num_batches_tracked).
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

    def summary(self, input_shape: Optional[Sequence[int]] = None) -> str:
        """A Keras-like table: per layer its name, type, output shape, parameters,
        multiply-accumulates per example and receptive field, then the totals (the
        parameter total equals :attr:`num_parameters`). Returned as a string (print it).

        input_shape: ``(N, C, H, W)``; None: the design input ``input_shape``.
        """
        return self._summary(None if input_shape is None else tuple(input_shape))

    def macs(self, input_shape: Optional[Sequence[int]] = None) -> int:
        """Multiply-accumulates per example (one image of the batch) of a forward pass: the
        total of :meth:`summary`'s MACs column (convolutions and linear layers). A batch of N
        does N times as many, 2 FLOP each.

        input_shape: ``(N, C, H, W)``; None: the design input ``input_shape``.
        """
        return self._macs(None if input_shape is None else tuple(input_shape))

    def reset_parameters(self, seed: int = 0) -> None:
        """Replaces every weight with swiftcnn seeded init v1's values for ``seed`` (what a
        new model holds for seed 0; the generator of the parity fixtures)."""
        self._init_seeded(int(seed))


def create(name: str, num_classes: Optional[int] = None) -> Model:
    """Zoo model ``name`` with ``num_classes`` outputs.

    num_classes: None (the default) gives the model's own default -- 1000 (ImageNet) for
    every model except the LeNets, which default to 10. An unknown name raises ValueError
    listing the names.
    """
    return Model(name, num_classes)


def seeded_tensor(name: str, shape: Sequence[int], lo: float = -1.0, hi: float = 1.0, seed: int = 0) -> np.ndarray:
    """A float32 array from swiftcnn seeded init v1: element i uniform in [lo, hi), drawn from
    splitmix64 keyed by the FNV-1a hash of ``name`` XOR ``seed`` (scripts/weightgen.py).
    ``seeded_tensor("input", (2, 3, 224, 224))`` is the input of the parity fixtures."""
    return np.asarray(_c.seeded_tensor(name, tuple(shape), float(lo), float(hi), int(seed)))


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
