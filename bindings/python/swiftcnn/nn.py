"""swiftcnn.nn -- build networks in Python, as the graph JSON of a swiftcnn model file.

The layers are PyTorch's: the same class names, arguments and defaults
(``nn.Conv2d(3, 16, 3, padding=1)``), and parameters named the way ``torch.nn`` names them
in a state_dict (``features.0.weight``, ``layer1.bn.running_var``), in the same order. What
is built is a description -- the JSON of ``docs/model-format.md`` (schema version 1) -- not
a runnable model: give the document to swiftcnn to create one. This module needs nothing but
the Python standard library (not even the compiled extension), so it can be imported on its
own.

Two ways to describe a network:

Sequential, as in torch::

    from swiftcnn import nn
    net = nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(6 * 14 * 14, 10))
    doc = nn.sequential_json(net, input_shape=(1, 32, 32), name="tiny")

Functional (a DAG, Keras style): call modules on symbolic values::

    x = nn.Input((3, 32, 32), name="input")
    h = nn.Conv2d(3, 16, 3, padding=1, name="stem")(x)
    h = nn.add(h, nn.ReLU()(nn.BatchNorm2d(16, name="bn")(h)), name="sum")
    y = nn.Linear(16, 10, name="fc")(nn.Flatten()(nn.AdaptiveAvgPool2d(1)(h)))
    doc = nn.graph_json(inputs=x, outputs=y, name="tiny")

``doc`` is a dict; ``nn.dumps(doc)`` is its JSON text (the ``graph`` metadata entry of a model
file). ``nn.to_node(module)`` gives one module's node (e.g. to replace a layer of a model).

Shapes are per example, without the batch axis: ``(C, H, W)`` for images, ``(F,)`` for feature
vectors. Each call infers its output shape, so a wrong channel count, a kernel larger than
its input or an axis out of range raises ValueError at once, naming the module. Axes
(``dim``, ``dims``, ``perm``) count the batch axis, as in torch (axis 1 is channels; negative
axes count from the end); the batch axis itself cannot be reduced, moved or split. The JSON
always holds non-negative axes.

Names. Every module takes an optional keyword ``name=``: its node name in a functional graph
(the first component of its parameter names). Unnamed nodes are named when the graph is
built: the op, an underscore and a count per op in node order (``conv2d_1``, ``relu_3``),
skipping names already taken. Inside a ``Sequential`` children are named ``"0"``, ``"1"``, ...
(or by the keys of the OrderedDict given), as in torch; ``name=`` does not apply there.
Names may not be empty nor contain ``.`` or ``:``. Two nodes of one graph with the same
explicit name are an error.

Weights belong to one node: a module with parameters (Conv2d, BatchNorm2d, Linear, or a
container holding one) can be called once, and used once in a model; a second call raises
ValueError. Modules without parameters (ReLU, pools, ...) may be called any number of
times, each call making a new node.

Graph order. A graph lists the nodes the outputs depend on (no others), in the order they
were called -- a topological order, since a value exists before it is used. Parameter names
follow the node order, so a torch module whose ``__init__`` creates its submodules in the
order its ``forward`` calls them has the same state_dict order.

``any_input_size`` (whether other heights and widths are accepted) is, unless given: true
iff the input is ``(C, H, W)`` and the network contains an ``adaptive_avg_pool2d`` or a
``global_max_pool2d`` (``AdaptiveAvgPool2d``, ``AdaptiveMaxPool2d(1)``) anywhere. The rule
does not check that the layers after the pool accept every size; pass ``any_input_size=``
to decide yourself.

Errors: arguments of the wrong type raise TypeError, bad values ValueError, both with a
message naming the module and the argument; options of torch that schema v1 cannot express
(``padding_mode='reflect'``, ``affine=False``, ``AdaptiveMaxPool2d(2)``, bicubic upsampling,
...) raise ValueError saying so.
"""
from __future__ import annotations

import itertools
import json
import math
import numbers
import operator
from collections import OrderedDict
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

__all__ = [
    "Module", "Value", "Input",
    "Conv2d", "BatchNorm2d", "Linear", "LayerNorm",
    "ReLU", "ReLU6", "Hardtanh", "LeakyReLU", "Sigmoid", "Tanh", "Hardswish", "Hardsigmoid",
    "SiLU", "GELU", "Softmax", "Identity",
    "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d",
    "Flatten", "Dropout", "LocalResponseNorm", "Upsample", "UpsamplingNearest2d",
    "UpsamplingBilinear2d", "ZeroPad2d", "Reshape",
    "Sequential", "Graph",
    "add", "sub", "mul", "div", "concat", "cat", "split", "mean", "transpose", "permute", "reshape",
    "erf", "sqrt", "exp", "log", "neg", "abs", "reciprocal",
    "graph_json", "sequential_json", "to_node", "output_shape", "parameter_shapes", "dumps",
    "SCHEMA_VERSION",
]

SCHEMA_VERSION = 1
"""The version of the graph schema this module writes (docs/model-format.md)."""

Shape = Tuple[int, ...]
IntOrPair = Union[int, Tuple[int, int], Sequence[int]]

# creation order of graph nodes (inputs and calls): a topological order of every graph
_SEQUENCE = itertools.count()


# ---- argument checks ------------------------------------------------------------------------

def _is_bool(v: Any) -> bool:
    return isinstance(v, bool) or type(v).__name__ in ("bool_", "bool8")


def _int(v: Any, what: str, lo: Optional[int] = None) -> int:
    if _is_bool(v):
        raise TypeError(f"{what}: expected an int, got bool")
    try:
        i = operator.index(v)
    except TypeError:
        raise TypeError(f"{what}: expected an int, got {type(v).__name__}") from None
    if lo is not None and i < lo:
        raise ValueError(f"{what}: must be >= {lo}, got {i}")
    return i


def _pair(v: Any, what: str, lo: Optional[int] = None) -> Tuple[int, int]:
    if isinstance(v, (list, tuple)):
        if len(v) != 2:
            raise ValueError(f"{what}: expected an int or a pair of ints, got {len(v)} values")
        return (_int(v[0], what, lo), _int(v[1], what, lo))
    if _is_bool(v) or isinstance(v, (str, bytes)):
        raise TypeError(f"{what}: expected an int or a pair of ints, got {type(v).__name__}")
    try:
        operator.index(v)
    except TypeError:
        raise TypeError(f"{what}: expected an int or a pair of ints, got {type(v).__name__}") from None
    i = _int(v, what, lo)
    return (i, i)


def _float(v: Any, what: str, allow_inf: bool = False) -> float:
    if _is_bool(v) or isinstance(v, (str, bytes, bytearray)) or not isinstance(v, numbers.Real):
        raise TypeError(f"{what}: expected a number, got {type(v).__name__}")
    f = float(v)
    if math.isnan(f) or (math.isinf(f) and not allow_inf):
        raise ValueError(f"{what}: expected a finite number, got {f}")
    return f


def _bool(v: Any, what: str) -> bool:
    if not _is_bool(v):
        raise TypeError(f"{what}: expected a bool, got {type(v).__name__}")
    return bool(v)


def _check_name(name: Any, what: str = "name", allow_empty: bool = False) -> Optional[str]:
    if name is None:
        return None
    if not isinstance(name, str):
        raise TypeError(f"{what}: expected a str, got {type(name).__name__}")
    if not name and not allow_empty:
        raise ValueError(f"{what}: must not be empty")
    for c in ".:":
        if c in name:
            raise ValueError(f"{what}: {name!r} may not contain {c!r} (it separates parameter names "
                             f"and output indices)")
    return name


def _shape(v: Any, what: str) -> Shape:
    if isinstance(v, (str, bytes, bytearray, Mapping)) or _is_bool(v):
        raise TypeError(f"{what}: expected a sequence of ints, got {type(v).__name__}")
    try:
        items = tuple(v)
    except TypeError:
        raise TypeError(f"{what}: expected a sequence of ints, got {type(v).__name__}") from None
    return tuple(_int(d, f"{what}[{i}]", 1) for i, d in enumerate(items))


def _input_shape(v: Any, what: str) -> Shape:
    s = _shape(v, what)
    if len(s) not in (1, 3):
        raise ValueError(f"{what}: expected the shape of one example, (C, H, W) or (F,) without the "
                         f"batch axis, got {s}")
    return s


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path and name else (path or name)


def _axis(dim: Any, rank: int, what: str) -> int:
    """A torch dim (batch axis counted, negative from the end) for a value of per-example rank
    `rank`, as a non-negative axis >= 1."""
    d = _int(dim, f"{what}: dim")
    full = rank + 1
    if not -full <= d < full:
        raise ValueError(f"{what}: dim {d} out of range for a value of {full} axes (the batch axis included)")
    if d < 0:
        d += full
    if d == 0:
        raise ValueError(f"{what}: the batch axis (dim 0) cannot be used here")
    return d


def _fmt(shape: Sequence[int]) -> str:
    return "[N" + "".join(f", {d}" for d in shape) + "]"


# ---- symbolic values ------------------------------------------------------------------------

class _Node:
    """One node of a functional graph: a module call (or a graph input)."""

    __slots__ = ("seq", "module", "inputs", "in_shapes", "out_shapes", "input_name")

    def __init__(self, module: Optional["Module"], inputs: List["Value"], in_shapes: List[Shape],
                 out_shapes: List[Shape], input_name: Optional[str] = None):
        self.seq = next(_SEQUENCE)
        self.module = module
        self.inputs = inputs
        self.in_shapes = in_shapes
        self.out_shapes = out_shapes
        self.input_name = input_name

    @property
    def is_input(self) -> bool:
        return self.module is None


class Value:
    """A symbolic tensor of a functional graph: a graph input or one output of a module call.

    ``shape`` is its per-example shape (without the batch axis). ``a + b``, ``a - b``,
    ``a * b`` and ``a / b`` are :func:`add`, :func:`sub`, :func:`mul`, :func:`div`.
    """

    __slots__ = ("_node", "_index")

    def __init__(self, node: _Node, index: int):
        self._node = node
        self._index = index

    @property
    def shape(self) -> Shape:
        return self._node.out_shapes[self._index]

    def __repr__(self) -> str:
        n = self._node
        if n.is_input:
            return f"<nn.Value input {n.input_name!r} {_fmt(self.shape)}>"
        m = n.module
        label = m._name or m._op
        idx = f":{self._index}" if len(n.out_shapes) > 1 else ""
        return f"<nn.Value {label}{idx} {_fmt(self.shape)}>"

    def __add__(self, other: "Value") -> "Value":
        return add(self, other)

    def __sub__(self, other: "Value") -> "Value":
        return sub(self, other)

    def __mul__(self, other: "Value") -> "Value":
        return mul(self, other)

    def __truediv__(self, other: "Value") -> "Value":
        return div(self, other)

    def __bool__(self) -> bool:
        raise TypeError("a symbolic nn.Value has no truth value")

    __hash__ = object.__hash__


def Input(shape: Sequence[int], name: str = "input") -> Value:
    """A graph input: a symbolic value of per-example shape ``shape`` (``(C, H, W)`` or
    ``(F,)``, no batch axis) named ``name``."""
    s = _input_shape(shape, "Input: shape")
    n = _check_name(name, "Input: name")
    if n is None:
        raise TypeError("Input: name: expected a str, got None")
    return Value(_Node(None, [], [], [s], input_name=n), 0)


# ---- modules --------------------------------------------------------------------------------

class _EmitCtx:
    """State of one document's emission: where each module with parameters was placed."""

    def __init__(self) -> None:
        self.placed: Dict[int, Tuple["Module", str]] = {}

    def place(self, module: "Module", path: str) -> None:
        if not module._param_specs():
            return
        prev = self.placed.get(id(module))
        if prev is not None:
            raise ValueError(f"{type(module).__name__} is used twice in one model (as {prev[1]!r} and "
                             f"{path!r}); its weights belong to one node: create one module per use")
        self.placed[id(module)] = (module, path)


class Module:
    """Base class of the layers. Calling a module on :class:`Value` objects adds a node to a
    functional graph and returns its output value(s)."""

    _op = ""
    _min_inputs = 1
    _max_inputs: Optional[int] = 1
    _multi_output = False

    def __init__(self, name: Optional[str] = None):
        self._name = _check_name(name, f"{type(self).__name__}: name")
        self._calls = 0

    @property
    def name(self) -> Optional[str]:
        """The node name given with ``name=`` (None: named automatically in a graph)."""
        return self._name

    # -- what subclasses describe
    def _param_specs(self) -> List[Tuple[str, Shape, bool]]:
        """(suffix, shape, is_buffer) of this module's own tensors, in torch's order."""
        return []

    def _params(self, prefix: str) -> List[Tuple[str, Shape, bool]]:
        return [(_join(prefix, s), shape, buf) for s, shape, buf in self._param_specs()]

    def _has_params(self) -> bool:
        return bool(self._params(""))

    def _infer(self, in_shapes: List[Shape], path: str) -> List[Shape]:
        return [in_shapes[0]]

    def _attrs(self, in_shapes: Optional[List[Shape]], path: str) -> Optional[Dict[str, Any]]:
        return None

    def _body(self, in_shapes: Optional[List[Shape]], ctx: _EmitCtx, path: str) -> Dict[str, Any]:
        return {}

    def _uses_global_pool(self) -> bool:
        return self._op in ("adaptive_avg_pool2d", "global_max_pool2d")

    def _num_outputs(self) -> int:
        return 1

    # -- shared machinery
    def _where(self, path: str) -> str:
        label = path or self._name
        return f"{type(self).__name__} {label!r}" if label else type(self).__name__

    def _node_json(self, name: str, in_shapes: Optional[List[Shape]], ctx: _EmitCtx, path: str,
                   inputs: Optional[List[str]] = None) -> Dict[str, Any]:
        ctx.place(self, path)
        node: Dict[str, Any] = {"name": name, "op": self._op}
        if inputs is not None:
            node["inputs"] = inputs
        attrs = self._attrs(in_shapes, path)
        if attrs:
            node["attrs"] = attrs
        node.update(self._body(in_shapes, ctx, path))
        return node

    def _rank(self, in_shapes: List[Shape], path: str, ranks: Sequence[int], what: str) -> Shape:
        s = in_shapes[0]
        if len(s) not in ranks:
            raise ValueError(f"{self._where(path)}: expected {what}, got {_fmt(s)}")
        return s

    def __call__(self, *inputs: Any) -> Any:
        for i, v in enumerate(inputs):
            if not isinstance(v, Value):
                raise TypeError(f"{self._where('')}: nn modules describe networks; call them on nn.Input "
                                f"values or outputs of other calls (argument {i} is a {type(v).__name__}). "
                                f"To run a model, create it with swiftcnn from the JSON.")
        n = len(inputs)
        if n < self._min_inputs or (self._max_inputs is not None and n > self._max_inputs):
            want = (str(self._min_inputs) if self._max_inputs == self._min_inputs
                    else f"{self._min_inputs} or more" if self._max_inputs is None
                    else f"{self._min_inputs} to {self._max_inputs}")
            raise TypeError(f"{self._where('')}: takes {want} input value(s), got {n}")
        if self._calls and self._has_params():
            raise ValueError(f"{self._where('')} was already called: its weights belong to one node; "
                             f"create a new module for each use")
        in_shapes = [v.shape for v in inputs]
        out_shapes = self._infer(in_shapes, "")
        node = _Node(self, list(inputs), in_shapes, out_shapes)
        self._calls += 1
        outs = [Value(node, i) for i in range(len(out_shapes))]
        if self._multi_output or len(outs) > 1:
            return outs
        return outs[0]

    def __repr__(self) -> str:
        extra = self._repr_args()
        if self._name:
            extra = f"{extra}, name={self._name!r}" if extra else f"name={self._name!r}"
        return f"{type(self).__name__}({extra})"

    def _repr_args(self) -> str:
        return ""


def _param_shapes_of(module: Module) -> "OrderedDict[str, Shape]":
    return OrderedDict((k, s) for k, s, _ in module._params(""))


# -- convolution, normalisation, fully connected

class Conv2d(Module):
    """``torch.nn.Conv2d``: op ``conv2d``; parameters ``weight`` [out, in/groups, kh, kw] and
    ``bias`` [out]. padding: int, (h, w), ``'valid'`` or ``'same'`` (stride 1 only; an odd
    total puts the extra row/column at the bottom/right, as torch does). Only
    ``padding_mode='zeros'``."""

    _op = "conv2d"

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntOrPair, stride: IntOrPair = 1,
                 padding: Union[IntOrPair, str] = 0, dilation: IntOrPair = 1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", *, name: Optional[str] = None):
        super().__init__(name)
        w = "Conv2d"
        self.in_channels = _int(in_channels, f"{w}: in_channels", 1)
        self.out_channels = _int(out_channels, f"{w}: out_channels", 1)
        self.kernel_size = _pair(kernel_size, f"{w}: kernel_size", 1)
        self.stride = _pair(stride, f"{w}: stride", 1)
        self.dilation = _pair(dilation, f"{w}: dilation", 1)
        self.groups = _int(groups, f"{w}: groups", 1)
        self.bias = _bool(bias, f"{w}: bias")
        if self.in_channels % self.groups:
            raise ValueError(f"{w}: in_channels ({self.in_channels}) must be divisible by groups ({self.groups})")
        if self.out_channels % self.groups:
            raise ValueError(f"{w}: out_channels ({self.out_channels}) must be divisible by groups ({self.groups})")
        if not isinstance(padding_mode, str):
            raise TypeError(f"{w}: padding_mode: expected a str, got {type(padding_mode).__name__}")
        if padding_mode != "zeros":
            raise ValueError(f"{w}: padding_mode {padding_mode!r} is not supported (schema v1 pads with "
                             f"zeros only); use padding_mode='zeros'")
        if isinstance(padding, str):
            if padding == "valid":
                self.pads = [0, 0, 0, 0]
            elif padding == "same":
                if self.stride != (1, 1):
                    raise ValueError(f"{w}: padding='same' is not supported for strided convolutions "
                                     f"(stride {self.stride})")
                th = self.dilation[0] * (self.kernel_size[0] - 1)
                tw = self.dilation[1] * (self.kernel_size[1] - 1)
                self.pads = [th // 2, tw // 2, th - th // 2, tw - tw // 2]
            else:
                raise ValueError(f"{w}: padding: expected an int, a pair, 'valid' or 'same', got {padding!r}")
            self.padding: Union[str, Tuple[int, int]] = padding
        else:
            ph, pw = _pair(padding, f"{w}: padding", 0)
            self.padding = (ph, pw)
            self.pads = [ph, pw, ph, pw]

    def _param_specs(self):
        kh, kw = self.kernel_size
        specs = [("weight", (self.out_channels, self.in_channels // self.groups, kh, kw), False)]
        if self.bias:
            specs.append(("bias", (self.out_channels,), False))
        return specs

    def _infer(self, in_shapes, path):
        c, h, w = self._rank(in_shapes, path, (3,), "an image [N, C, H, W]")
        if c != self.in_channels:
            raise ValueError(f"{self._where(path)}: expected {self.in_channels} input channels, got "
                             f"{_fmt(in_shapes[0])}")
        t, l, b, r = self.pads
        out = []
        for n, p, k, s, d, axis in ((h, t + b, self.kernel_size[0], self.stride[0], self.dilation[0], "height"),
                                     (w, l + r, self.kernel_size[1], self.stride[1], self.dilation[1], "width")):
            span = d * (k - 1) + 1
            if n + p < span:
                raise ValueError(f"{self._where(path)}: the kernel ({span} with dilation) is larger than the "
                                 f"padded input {axis} ({n} + {p}) of {_fmt(in_shapes[0])}")
            out.append((n + p - span) // s + 1)
        return [(self.out_channels, out[0], out[1])]

    def _attrs(self, in_shapes, path):
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_shape": list(self.kernel_size), "strides": list(self.stride), "pads": list(self.pads),
                "dilations": list(self.dilation), "group": self.groups, "bias": self.bias}

    def _repr_args(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding!r}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if not self.bias:
            s += ", bias=False"
        return s


class BatchNorm2d(Module):
    """``torch.nn.BatchNorm2d``: op ``batch_norm2d``; ``weight``, ``bias`` and buffers
    ``running_mean``, ``running_var`` [num_features] (torch's ``num_batches_tracked`` is not
    stored). Only ``affine=True``, ``track_running_stats=True`` and a numeric momentum."""

    _op = "batch_norm2d"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: Optional[float] = 0.1,
                 affine: bool = True, track_running_stats: bool = True, *, name: Optional[str] = None):
        super().__init__(name)
        w = "BatchNorm2d"
        self.num_features = _int(num_features, f"{w}: num_features", 1)
        self.eps = _float(eps, f"{w}: eps")
        if self.eps < 0:
            raise ValueError(f"{w}: eps must be >= 0, got {self.eps}")
        if momentum is None:
            raise ValueError(f"{w}: momentum=None (a cumulative average) is not supported by schema v1; "
                             f"give a number (torch's default is 0.1)")
        self.momentum = _float(momentum, f"{w}: momentum")
        if not _bool(affine, f"{w}: affine"):
            raise ValueError(f"{w}: affine=False is not supported by schema v1 (batch_norm2d always has "
                             f"weight and bias)")
        if not _bool(track_running_stats, f"{w}: track_running_stats"):
            raise ValueError(f"{w}: track_running_stats=False is not supported by schema v1")

    def _param_specs(self):
        c = (self.num_features,)
        return [("weight", c, False), ("bias", c, False), ("running_mean", c, True), ("running_var", c, True)]

    def _infer(self, in_shapes, path):
        s = self._rank(in_shapes, path, (3,), "an image [N, C, H, W]")
        if s[0] != self.num_features:
            raise ValueError(f"{self._where(path)}: expected {self.num_features} channels, got {_fmt(s)}")
        return [s]

    def _attrs(self, in_shapes, path):
        return {"num_features": self.num_features, "epsilon": self.eps, "momentum": self.momentum}

    def _repr_args(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class Linear(Module):
    """``torch.nn.Linear``: op ``linear``; ``weight`` [out, in] and ``bias`` [out]. It works on
    the last axis: ``[N, ..., in_features]`` gives ``[N, ..., out_features]`` (usually the input
    is flat, ``[N, in_features]``: put a :class:`Flatten` before it)."""

    _op = "linear"

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, name: Optional[str] = None):
        super().__init__(name)
        self.in_features = _int(in_features, "Linear: in_features", 1)
        self.out_features = _int(out_features, "Linear: out_features", 1)
        self.bias = _bool(bias, "Linear: bias")

    def _param_specs(self):
        specs = [("weight", (self.out_features, self.in_features), False)]
        if self.bias:
            specs.append(("bias", (self.out_features,), False))
        return specs

    def _infer(self, in_shapes, path):
        s = in_shapes[0]
        if s[-1] != self.in_features:
            raise ValueError(f"{self._where(path)}: expected {self.in_features} input features in the last axis, "
                             f"got {_fmt(s)} (add nn.Flatten() before it for a flat [N, {self.in_features}])")
        return [tuple(s[:-1]) + (self.out_features,)]

    def _attrs(self, in_shapes, path):
        return {"in_features": self.in_features, "out_features": self.out_features, "bias": self.bias}

    def _repr_args(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias}"


class LayerNorm(Module):
    """``torch.nn.LayerNorm``: op ``layer_norm`` over the last ``len(normalized_shape)`` axes
    (which must be ``normalized_shape``); ``weight`` and (with ``bias``) ``bias`` of
    ``normalized_shape``. Only ``elementwise_affine=True``."""

    _op = "layer_norm"

    def __init__(self, normalized_shape: Union[int, Sequence[int]], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True, *, name: Optional[str] = None):
        super().__init__(name)
        w = "LayerNorm"
        if isinstance(normalized_shape, (list, tuple)):
            shape = tuple(_int(d, f"{w}: normalized_shape", 1) for d in normalized_shape)
        else:
            shape = (_int(normalized_shape, f"{w}: normalized_shape", 1),)
        if not 1 <= len(shape) <= 3:
            raise ValueError(f"{w}: normalized_shape must have 1 to 3 sizes, got {list(shape)}")
        self.normalized_shape = shape
        self.eps = _float(eps, f"{w}: eps")
        if not self.eps > 0:
            raise ValueError(f"{w}: eps must be > 0, got {self.eps}")
        if not _bool(elementwise_affine, f"{w}: elementwise_affine"):
            raise ValueError(f"{w}: elementwise_affine=False is not supported by schema v1 (layer_norm always "
                             f"has a weight)")
        self.bias = _bool(bias, f"{w}: bias")

    def _param_specs(self):
        specs = [("weight", self.normalized_shape, False)]
        if self.bias:
            specs.append(("bias", self.normalized_shape, False))
        return specs

    def _infer(self, in_shapes, path):
        s = in_shapes[0]
        k = len(self.normalized_shape)
        if len(s) < k or tuple(s[-k:]) != self.normalized_shape:
            raise ValueError(f"{self._where(path)}: expected the last axes to be {list(self.normalized_shape)}, "
                             f"got {_fmt(s)}")
        return [s]

    def _attrs(self, in_shapes, path):
        return {"axis": -len(self.normalized_shape), "epsilon": self.eps, "bias": self.bias}

    def _repr_args(self):
        return f"{self.normalized_shape}, eps={self.eps}, bias={self.bias}"


# -- activations

class _Elementwise(Module):
    def __init__(self, inplace: bool = False, *, name: Optional[str] = None):
        super().__init__(name)
        self.inplace = _bool(inplace, f"{type(self).__name__}: inplace")  # no effect on the description


class ReLU(_Elementwise):
    """``torch.nn.ReLU``: op ``relu``."""
    _op = "relu"


class SiLU(_Elementwise):
    """``torch.nn.SiLU``: op ``silu``."""
    _op = "silu"


class Hardswish(_Elementwise):
    """``torch.nn.Hardswish``: op ``hardswish``."""
    _op = "hardswish"


class Hardsigmoid(_Elementwise):
    """``torch.nn.Hardsigmoid``: op ``hardsigmoid`` with alpha 1/6, beta 0.5."""
    _op = "hardsigmoid"

    def _attrs(self, in_shapes, path):
        return {"alpha": 1.0 / 6.0, "beta": 0.5}


class Sigmoid(Module):
    """``torch.nn.Sigmoid``: op ``sigmoid``."""
    _op = "sigmoid"

    def __init__(self, *, name: Optional[str] = None):
        super().__init__(name)


class Tanh(Module):
    """``torch.nn.Tanh``: op ``tanh``."""
    _op = "tanh"

    def __init__(self, *, name: Optional[str] = None):
        super().__init__(name)


class Identity(Module):
    """``torch.nn.Identity``: op ``identity``."""
    _op = "identity"

    def __init__(self, *, name: Optional[str] = None):
        super().__init__(name)


class Hardtanh(Module):
    """``torch.nn.Hardtanh``: op ``clip`` with ``min``/``max`` (an infinite bound is left out,
    the schema's default)."""

    _op = "clip"

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False, *,
                 name: Optional[str] = None):
        super().__init__(name)
        w = type(self).__name__
        self.min_val = _float(min_val, f"{w}: min_val", allow_inf=True)
        self.max_val = _float(max_val, f"{w}: max_val", allow_inf=True)
        self.inplace = _bool(inplace, f"{w}: inplace")
        if not self.max_val > self.min_val:
            raise ValueError(f"{w}: max_val ({self.max_val}) must be greater than min_val ({self.min_val})")

    def _attrs(self, in_shapes, path):
        a: Dict[str, Any] = {}
        if not math.isinf(self.min_val):
            a["min"] = self.min_val
        if not math.isinf(self.max_val):
            a["max"] = self.max_val
        return a

    def _repr_args(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"


class ReLU6(Hardtanh):
    """``torch.nn.ReLU6``: op ``clip`` with min 0, max 6."""

    def __init__(self, inplace: bool = False, *, name: Optional[str] = None):
        super().__init__(0.0, 6.0, inplace, name=name)

    def _repr_args(self):
        return ""


class LeakyReLU(Module):
    """``torch.nn.LeakyReLU``: op ``leaky_relu`` (``alpha`` = negative_slope)."""

    _op = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False, *, name: Optional[str] = None):
        super().__init__(name)
        self.negative_slope = _float(negative_slope, "LeakyReLU: negative_slope")
        self.inplace = _bool(inplace, "LeakyReLU: inplace")

    def _attrs(self, in_shapes, path):
        return {"alpha": self.negative_slope}

    def _repr_args(self):
        return f"negative_slope={self.negative_slope}"


class GELU(Module):
    """``torch.nn.GELU``: op ``gelu``; approximate ``'none'`` (erf) or ``'tanh'``."""

    _op = "gelu"

    def __init__(self, approximate: str = "none", *, name: Optional[str] = None):
        super().__init__(name)
        if not isinstance(approximate, str):
            raise TypeError(f"GELU: approximate: expected 'none' or 'tanh', got {type(approximate).__name__}")
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate: expected 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def _attrs(self, in_shapes, path):
        return {"approximate": self.approximate}

    def _repr_args(self):
        return f"approximate={self.approximate!r}"


class Softmax(Module):
    """``torch.nn.Softmax``: op ``softmax`` along ``dim`` (required; the batch axis counts,
    negative counts from the end; dim 0, the batch axis, is refused)."""

    _op = "softmax"

    def __init__(self, dim: Optional[int] = None, *, name: Optional[str] = None):
        super().__init__(name)
        if dim is None:
            raise TypeError("Softmax: give dim (e.g. nn.Softmax(dim=1)); torch's implicit choice is not supported")
        self.dim = _int(dim, "Softmax: dim")
        if self.dim == 0:
            raise ValueError("Softmax: dim 0 is the batch axis; softmax over the batch is not supported")

    def _axis(self, in_shapes, path):
        return _axis(self.dim, len(in_shapes[0]), self._where(path))

    def _infer(self, in_shapes, path):
        self._axis(in_shapes, path)
        return [in_shapes[0]]

    def _attrs(self, in_shapes, path):
        if in_shapes is None:
            if self.dim < 0:
                raise ValueError(f"{self._where(path)}: dim {self.dim} needs the input's rank: give input_shape "
                                 f"or a non-negative dim")
            return {"axis": self.dim}
        return {"axis": self._axis(in_shapes, path)}

    def _repr_args(self):
        return f"dim={self.dim}"


# -- pooling

def _pool_size(n: int, k: int, s: int, p: int, ceil_mode: bool) -> int:
    """torch's pooling_output_shape (dilation 1)."""
    num = n + 2 * p - k
    out = (num + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


class _Pool2d(Module):
    def __init__(self, kernel_size, stride, padding, ceil_mode, name):
        super().__init__(name)
        w = type(self).__name__
        self.kernel_size = _pair(kernel_size, f"{w}: kernel_size", 1)
        self.stride = self.kernel_size if stride is None else _pair(stride, f"{w}: stride", 1)
        self.padding = _pair(padding, f"{w}: padding", 0)
        self.ceil_mode = _bool(ceil_mode, f"{w}: ceil_mode")
        for p, k in zip(self.padding, self.kernel_size):
            if p > k // 2:
                raise ValueError(f"{w}: padding {self.padding} should be at most half of the kernel size "
                                 f"{self.kernel_size}")

    def _infer(self, in_shapes, path):
        c, h, w = self._rank(in_shapes, path, (3,), "an image [N, C, H, W]")
        out = []
        for n, k, s, p, axis in ((h, self.kernel_size[0], self.stride[0], self.padding[0], "height"),
                                 (w, self.kernel_size[1], self.stride[1], self.padding[1], "width")):
            if n + 2 * p < k:
                raise ValueError(f"{self._where(path)}: the kernel ({k}) is larger than the padded input "
                                 f"{axis} ({n} + 2*{p}) of {_fmt(in_shapes[0])}")
            out.append(_pool_size(n, k, s, p, self.ceil_mode))
        return [(c, out[0], out[1])]

    def _attrs(self, in_shapes, path):
        ph, pw = self.padding
        return {"kernel_shape": list(self.kernel_size), "strides": list(self.stride), "pads": [ph, pw, ph, pw],
                "ceil_mode": self.ceil_mode}

    def _repr_args(self):
        s = f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
        return s + (", ceil_mode=True" if self.ceil_mode else "")


class MaxPool2d(_Pool2d):
    """``torch.nn.MaxPool2d``: op ``max_pool2d``; symmetric padding (at most half the kernel);
    only ``dilation=1`` and ``return_indices=False``."""

    _op = "max_pool2d"

    def __init__(self, kernel_size: IntOrPair, stride: Optional[IntOrPair] = None, padding: IntOrPair = 0,
                 dilation: IntOrPair = 1, return_indices: bool = False, ceil_mode: bool = False, *,
                 name: Optional[str] = None):
        super().__init__(kernel_size, stride, padding, ceil_mode, name)
        if _pair(dilation, "MaxPool2d: dilation", 1) != (1, 1):
            raise ValueError(f"MaxPool2d: dilation {dilation!r} is not supported (schema v1 pools without dilation)")
        if _bool(return_indices, "MaxPool2d: return_indices"):
            raise ValueError("MaxPool2d: return_indices=True is not supported")


class AvgPool2d(_Pool2d):
    """``torch.nn.AvgPool2d``: op ``avg_pool2d``; symmetric padding (at most half the kernel);
    only ``divisor_override=None``."""

    _op = "avg_pool2d"

    def __init__(self, kernel_size: IntOrPair, stride: Optional[IntOrPair] = None, padding: IntOrPair = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True, divisor_override: Optional[int] = None, *,
                 name: Optional[str] = None):
        super().__init__(kernel_size, stride, padding, ceil_mode, name)
        self.count_include_pad = _bool(count_include_pad, "AvgPool2d: count_include_pad")
        if divisor_override is not None:
            raise ValueError("AvgPool2d: divisor_override is not supported by schema v1")

    def _attrs(self, in_shapes, path):
        a = super()._attrs(in_shapes, path)
        a["count_include_pad"] = self.count_include_pad
        return a

    def _repr_args(self):
        return super()._repr_args() + ("" if self.count_include_pad else ", count_include_pad=False")


class AdaptiveAvgPool2d(Module):
    """``torch.nn.AdaptiveAvgPool2d``: op ``adaptive_avg_pool2d``; output_size an int or a pair
    (``None`` entries, torch's "keep this size", are not supported)."""

    _op = "adaptive_avg_pool2d"

    def __init__(self, output_size: IntOrPair, *, name: Optional[str] = None):
        super().__init__(name)
        if isinstance(output_size, (list, tuple)) and any(v is None for v in output_size):
            raise ValueError("AdaptiveAvgPool2d: output_size with None entries is not supported; give both sizes")
        self.output_size = _pair(output_size, "AdaptiveAvgPool2d: output_size", 1)

    def _infer(self, in_shapes, path):
        c, _, _ = self._rank(in_shapes, path, (3,), "an image [N, C, H, W]")
        return [(c,) + self.output_size]

    def _attrs(self, in_shapes, path):
        return {"output_size": list(self.output_size)}

    def _repr_args(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """``torch.nn.AdaptiveMaxPool2d(1)``: op ``global_max_pool2d``. Other output sizes are not
    supported by schema v1."""

    _op = "global_max_pool2d"

    def __init__(self, output_size: IntOrPair, return_indices: bool = False, *, name: Optional[str] = None):
        super().__init__(name)
        if isinstance(output_size, (list, tuple)) and any(v is None for v in output_size):
            raise ValueError("AdaptiveMaxPool2d: only output_size 1 (global max pooling) is supported")
        size = _pair(output_size, "AdaptiveMaxPool2d: output_size", 1)
        if size != (1, 1):
            raise ValueError(f"AdaptiveMaxPool2d: only output_size 1 (global max pooling) is supported by "
                             f"schema v1, got {output_size!r}")
        if _bool(return_indices, "AdaptiveMaxPool2d: return_indices"):
            raise ValueError("AdaptiveMaxPool2d: return_indices=True is not supported")
        self.output_size = size

    def _infer(self, in_shapes, path):
        c, _, _ = self._rank(in_shapes, path, (3,), "an image [N, C, H, W]")
        return [(c, 1, 1)]

    def _repr_args(self):
        return "output_size=1"


# -- shape and other layers

class Flatten(Module):
    """``torch.nn.Flatten()``: op ``flatten``; only ``start_dim=1``, ``end_dim=-1``."""

    _op = "flatten"

    def __init__(self, start_dim: int = 1, end_dim: int = -1, *, name: Optional[str] = None):
        super().__init__(name)
        if _int(start_dim, "Flatten: start_dim") != 1 or _int(end_dim, "Flatten: end_dim") != -1:
            raise ValueError(f"Flatten: only start_dim=1, end_dim=-1 is supported (everything after the "
                             f"batch axis), got start_dim={start_dim}, end_dim={end_dim}")

    def _infer(self, in_shapes, path):
        return [(math.prod(in_shapes[0]),)]

    def _attrs(self, in_shapes, path):
        return {"axis": 1}


class Dropout(Module):
    """``torch.nn.Dropout``: op ``dropout`` (``ratio`` = p, in [0, 1); p = 1 is refused, as
    by swiftcnn.dropout)."""

    _op = "dropout"

    def __init__(self, p: float = 0.5, inplace: bool = False, *, name: Optional[str] = None):
        super().__init__(name)
        self.p = _float(p, "Dropout: p")
        if not 0.0 <= self.p < 1.0:
            raise ValueError(f"Dropout: p must lie in [0, 1), got {self.p}")
        self.inplace = _bool(inplace, "Dropout: inplace")

    def _attrs(self, in_shapes, path):
        return {"ratio": self.p}

    def _repr_args(self):
        return f"p={self.p}"


class LocalResponseNorm(Module):
    """``torch.nn.LocalResponseNorm``: op ``lrn`` (``k`` is written as ``bias``)."""

    _op = "lrn"

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0, *,
                 name: Optional[str] = None):
        super().__init__(name)
        self.size = _int(size, "LocalResponseNorm: size", 1)
        self.alpha = _float(alpha, "LocalResponseNorm: alpha")
        self.beta = _float(beta, "LocalResponseNorm: beta")
        self.k = _float(k, "LocalResponseNorm: k")

    def _infer(self, in_shapes, path):
        self._rank(in_shapes, path, (2, 3), "[N, C, ...] with at least one axis after the channels")
        return [in_shapes[0]]

    def _attrs(self, in_shapes, path):
        return {"size": self.size, "alpha": self.alpha, "beta": self.beta, "bias": self.k}

    def _repr_args(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class Upsample(Module):
    """``torch.nn.Upsample``: op ``upsample``; mode ``'nearest'`` or ``'bilinear'``; exactly one
    of size (int or (h, w)) and scale_factor (number or (sh, sw)); align_corners only for
    bilinear (None means False, torch's default). The output size for a scale is
    floor(input * scale), as torch computes it."""

    _op = "upsample"

    def __init__(self, size: Optional[IntOrPair] = None, scale_factor: Union[None, float, Sequence[float]] = None,
                 mode: str = "nearest", align_corners: Optional[bool] = None,
                 recompute_scale_factor: Optional[bool] = None, *, name: Optional[str] = None):
        super().__init__(name)
        w = type(self).__name__
        if not isinstance(mode, str):
            raise TypeError(f"{w}: mode: expected 'nearest' or 'bilinear', got {type(mode).__name__}")
        if mode not in ("nearest", "bilinear"):
            raise ValueError(f"{w}: mode {mode!r} is not supported by schema v1 (only 'nearest' and 'bilinear')")
        self.mode = mode
        if (size is None) == (scale_factor is None):
            raise ValueError(f"{w}: give exactly one of size and scale_factor")
        self.size = None if size is None else _pair(size, f"{w}: size", 1)
        self.scale_factor: Optional[Tuple[float, float]] = None
        if scale_factor is not None:
            if isinstance(scale_factor, (list, tuple)):
                if len(scale_factor) != 2:
                    raise ValueError(f"{w}: scale_factor: expected a number or a pair, got {len(scale_factor)} values")
                sf = (_float(scale_factor[0], f"{w}: scale_factor"), _float(scale_factor[1], f"{w}: scale_factor"))
            else:
                f = _float(scale_factor, f"{w}: scale_factor")
                sf = (f, f)
            if min(sf) <= 0:
                raise ValueError(f"{w}: scale_factor must be positive, got {scale_factor!r}")
            self.scale_factor = sf
        if align_corners is not None:
            align_corners = _bool(align_corners, f"{w}: align_corners")
            if mode == "nearest":
                raise ValueError(f"{w}: align_corners can only be set with mode 'bilinear'")
        self.align_corners = align_corners
        if recompute_scale_factor:
            raise ValueError(f"{w}: recompute_scale_factor=True is not supported")

    def _infer(self, in_shapes, path):
        c, h, w = self._rank(in_shapes, path, (3,), "an image [N, C, H, W]")
        if self.size is not None:
            return [(c,) + self.size]
        oh = math.floor(h * self.scale_factor[0])
        ow = math.floor(w * self.scale_factor[1])
        if oh < 1 or ow < 1:
            raise ValueError(f"{self._where(path)}: scale_factor {self.scale_factor} gives an empty output for "
                             f"{_fmt(in_shapes[0])}")
        return [(c, oh, ow)]

    def _attrs(self, in_shapes, path):
        a: Dict[str, Any] = {"mode": self.mode}
        if self.size is not None:
            a["sizes"] = list(self.size)
        else:
            a["scales"] = list(self.scale_factor)
        if self.mode == "bilinear":
            a["align_corners"] = bool(self.align_corners)
        return a

    def _repr_args(self):
        s = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        s += f", mode={self.mode!r}"
        if self.mode == "bilinear":
            s += f", align_corners={bool(self.align_corners)}"
        return s


class UpsamplingNearest2d(Upsample):
    """``torch.nn.UpsamplingNearest2d``: :class:`Upsample` with mode 'nearest'."""

    def __init__(self, size: Optional[IntOrPair] = None, scale_factor: Union[None, float, Sequence[float]] = None,
                 *, name: Optional[str] = None):
        super().__init__(size, scale_factor, "nearest", name=name)


class UpsamplingBilinear2d(Upsample):
    """``torch.nn.UpsamplingBilinear2d``: :class:`Upsample` with mode 'bilinear', align_corners=True."""

    def __init__(self, size: Optional[IntOrPair] = None, scale_factor: Union[None, float, Sequence[float]] = None,
                 *, name: Optional[str] = None):
        super().__init__(size, scale_factor, "bilinear", True, name=name)


class ZeroPad2d(Module):
    """``torch.nn.ZeroPad2d``: op ``zero_pad2d``. padding: an int (all sides) or torch's
    (left, right, top, bottom), written as the schema's pads [top, left, bottom, right].
    Negative padding (cropping) is not supported."""

    _op = "zero_pad2d"

    def __init__(self, padding: Union[int, Sequence[int]], *, name: Optional[str] = None):
        super().__init__(name)
        if isinstance(padding, (list, tuple)):
            if len(padding) != 4:
                raise ValueError(f"ZeroPad2d: padding: expected an int or (left, right, top, bottom), got "
                                 f"{len(padding)} values")
            left, right, top, bottom = (_int(p, "ZeroPad2d: padding", 0) for p in padding)
        else:
            left = right = top = bottom = _int(padding, "ZeroPad2d: padding", 0)
        self.padding = (left, right, top, bottom)

    @property
    def pads(self) -> List[int]:
        left, right, top, bottom = self.padding
        return [top, left, bottom, right]

    def _infer(self, in_shapes, path):
        c, h, w = self._rank(in_shapes, path, (3,), "an image [N, C, H, W]")
        left, right, top, bottom = self.padding
        return [(c, h + top + bottom, w + left + right)]

    def _attrs(self, in_shapes, path):
        return {"pads": self.pads}

    def _repr_args(self):
        return f"{self.padding}"


def _reshape_target(shape: Any, what: str) -> Tuple[int, ...]:
    if isinstance(shape, (str, bytes, bytearray, Mapping)) or _is_bool(shape):
        raise TypeError(f"{what}: expected a sequence of ints, got {type(shape).__name__}")
    try:
        items = tuple(shape)
    except TypeError:
        raise TypeError(f"{what}: expected a sequence of ints, got {type(shape).__name__}") from None
    dims = tuple(_int(d, f"{what}[{i}]") for i, d in enumerate(items))
    if not dims:
        raise ValueError(f"{what}: expected at least one dimension")
    if sum(d == -1 for d in dims) > 1:
        raise ValueError(f"{what}: at most one dimension may be -1, got {dims}")
    for d in dims:
        if d == 0 or d < -1:
            raise ValueError(f"{what}: dimensions must be >= 1 (or one -1), got {dims}")
    return dims


def _reshape_infer(target: Tuple[int, ...], s: Shape, where: str) -> Shape:
    total = math.prod(s)
    known = math.prod(d for d in target if d != -1)
    if -1 in target:
        if total % known:
            raise ValueError(f"{where}: cannot reshape {_fmt(s)} ({total} values per example) to {_fmt(target)}")
        return tuple(total // known if d == -1 else d for d in target)
    if known != total:
        raise ValueError(f"{where}: cannot reshape {_fmt(s)} ({total} values per example) to {_fmt(target)}")
    return target


class Reshape(Module):
    """Op ``reshape`` to a per-example ``shape`` (no batch axis; one entry may be -1), like
    ``x.view(x.size(0), *shape)`` or torch's ``nn.Unflatten(1, shape)`` after a flatten."""

    _op = "reshape"

    def __init__(self, shape: Sequence[int], *, name: Optional[str] = None):
        super().__init__(name)
        self.shape = _reshape_target(shape, "Reshape: shape")

    def _infer(self, in_shapes, path):
        return [_reshape_infer(self.shape, in_shapes[0], self._where(path))]

    def _attrs(self, in_shapes, path):
        return {"shape": list(self.shape)}

    def _repr_args(self):
        return f"{self.shape}"


# -- functional ops (modules made by the functions below)

class _Binary(Module):
    _min_inputs = 2
    _max_inputs = 2

    def __init__(self, op: str, name: Optional[str]):
        self._op = op
        super().__init__(name)

    def _where(self, path):
        label = path or self._name
        return f"{self._op} {label!r}" if label else self._op

    def _infer(self, in_shapes, path):
        a, b = in_shapes
        if len(a) != len(b):
            raise ValueError(f"{self._where(path)}: the operands have different ranks, {_fmt(a)} and {_fmt(b)} "
                             f"(broadcasting needs equal ranks: reshape one, e.g. to [N, C, 1, 1])")
        out = []
        for x, y in zip(a, b):
            if x != y and x != 1 and y != 1:
                raise ValueError(f"{self._where(path)}: shapes {_fmt(a)} and {_fmt(b)} do not broadcast")
            out.append(max(x, y))
        return [tuple(out)]


class _Concat(Module):
    _op = "concat"
    _min_inputs = 1
    _max_inputs = None

    def __init__(self, axis: int, name: Optional[str]):
        super().__init__(name)
        self.axis = axis

    _where = _Binary._where

    def _infer(self, in_shapes, path):
        first = in_shapes[0]
        a = self.axis - 1
        for s in in_shapes[1:]:
            if len(s) != len(first) or any(x != y for i, (x, y) in enumerate(zip(s, first)) if i != a):
                raise ValueError(f"{self._where(path)}: cannot concatenate {_fmt(first)} and {_fmt(s)} along "
                                 f"dim {self.axis}")
        if a >= len(first):
            raise ValueError(f"{self._where(path)}: dim {self.axis} out of range for {_fmt(first)}")
        out = list(first)
        out[a] = sum(s[a] for s in in_shapes)
        return [tuple(out)]

    def _attrs(self, in_shapes, path):
        return {"axis": self.axis}


class _Split(Module):
    _op = "split"
    _multi_output = True

    def __init__(self, axis: int, sizes: List[int], name: Optional[str]):
        super().__init__(name)
        self.axis = axis
        self.sizes = sizes

    _where = _Binary._where

    def _infer(self, in_shapes, path):
        s = in_shapes[0]
        a = self.axis - 1
        if a >= len(s) or sum(self.sizes) != s[a]:
            raise ValueError(f"{self._where(path)}: sizes {self.sizes} do not add up to dim {self.axis} of {_fmt(s)}")
        outs = []
        for n in self.sizes:
            o = list(s)
            o[a] = n
            outs.append(tuple(o))
        return outs

    def _attrs(self, in_shapes, path):
        return {"axis": self.axis, "split": list(self.sizes)}


class _Mean(Module):
    _op = "mean"

    def __init__(self, axes: List[int], keepdims: bool, name: Optional[str]):
        super().__init__(name)
        self.axes = axes
        self.keepdims = keepdims

    _where = _Binary._where

    def _infer(self, in_shapes, path):
        s = in_shapes[0]
        if max(self.axes) > len(s):
            raise ValueError(f"{self._where(path)}: dims {self.axes} out of range for {_fmt(s)}")
        if self.keepdims:
            return [tuple(1 if i + 1 in self.axes else d for i, d in enumerate(s))]
        out = tuple(d for i, d in enumerate(s) if i + 1 not in self.axes)
        if not out:
            raise ValueError(f"{self._where(path)}: reducing every axis but the batch axis needs keepdim=True "
                             f"(a value keeps at least one axis per example)")
        return [out]

    def _attrs(self, in_shapes, path):
        return {"axes": list(self.axes), "keepdims": self.keepdims}


class _Transpose(Module):
    _op = "transpose"

    def __init__(self, perm: List[int], name: Optional[str]):
        super().__init__(name)
        self.perm = perm

    _where = _Binary._where

    def _infer(self, in_shapes, path):
        s = in_shapes[0]
        if len(self.perm) != len(s) + 1:
            raise ValueError(f"{self._where(path)}: perm {self.perm} does not fit {_fmt(s)}")
        return [tuple(s[p - 1] for p in self.perm[1:])]

    def _attrs(self, in_shapes, path):
        return {"perm": list(self.perm)}


class _FnReshape(Reshape):
    _where = _Binary._where


def _value(v: Any, what: str) -> Value:
    if not isinstance(v, Value):
        raise TypeError(f"{what}: expected an nn.Value (an nn.Input or the output of a module call), "
                        f"got {type(v).__name__}")
    return v


class _UnaryFn(Module):
    """An elementwise op without attributes (the functional helpers erf, sqrt, ...)."""

    def __init__(self, op: str, name: Optional[str]):
        super().__init__(name)
        self._op = op

    def _repr_args(self):
        return repr(self._op)


def erf(x: Value, *, name: Optional[str] = None) -> Value:
    """``torch.erf(x)`` (op ``erf``)."""
    return _UnaryFn("erf", name)(_value(x, "erf: x"))


def sqrt(x: Value, *, name: Optional[str] = None) -> Value:
    """``torch.sqrt(x)`` (op ``sqrt``; NaN below 0)."""
    return _UnaryFn("sqrt", name)(_value(x, "sqrt: x"))


def exp(x: Value, *, name: Optional[str] = None) -> Value:
    """``torch.exp(x)`` (op ``exp``)."""
    return _UnaryFn("exp", name)(_value(x, "exp: x"))


def log(x: Value, *, name: Optional[str] = None) -> Value:
    """``torch.log(x)`` (op ``log``; -inf at 0, NaN below)."""
    return _UnaryFn("log", name)(_value(x, "log: x"))


def neg(x: Value, *, name: Optional[str] = None) -> Value:
    """``-x`` (op ``neg``)."""
    return _UnaryFn("neg", name)(_value(x, "neg: x"))


def abs(x: Value, *, name: Optional[str] = None) -> Value:  # noqa: A001 (torch's name)
    """``torch.abs(x)`` (op ``abs``)."""
    return _UnaryFn("abs", name)(_value(x, "abs: x"))


def reciprocal(x: Value, *, name: Optional[str] = None) -> Value:
    """``torch.reciprocal(x)``, 1/x (op ``reciprocal``)."""
    return _UnaryFn("reciprocal", name)(_value(x, "reciprocal: x"))


def add(a: Value, b: Value, *, name: Optional[str] = None) -> Value:
    """``a + b`` with numpy broadcasting over equal ranks (op ``add``)."""
    return _Binary("add", name)(_value(a, "add: a"), _value(b, "add: b"))


def sub(a: Value, b: Value, *, name: Optional[str] = None) -> Value:
    """``a - b`` with broadcasting (op ``sub``)."""
    return _Binary("sub", name)(_value(a, "sub: a"), _value(b, "sub: b"))


def mul(a: Value, b: Value, *, name: Optional[str] = None) -> Value:
    """``a * b`` with broadcasting (op ``mul``), e.g. [N, C, H, W] * [N, C, 1, 1]."""
    return _Binary("mul", name)(_value(a, "mul: a"), _value(b, "mul: b"))


def div(a: Value, b: Value, *, name: Optional[str] = None) -> Value:
    """``a / b`` with broadcasting (op ``div``)."""
    return _Binary("div", name)(_value(a, "div: a"), _value(b, "div: b"))


def concat(values: Sequence[Value], dim: int = 1, *, name: Optional[str] = None) -> Value:
    """``torch.cat(values, dim)`` (op ``concat``); every other dimension must agree."""
    if isinstance(values, Value) or not isinstance(values, (list, tuple)):
        raise TypeError(f"concat: values: expected a list of nn.Value, got {type(values).__name__}")
    vals = [_value(v, f"concat: values[{i}]") for i, v in enumerate(values)]
    if not vals:
        raise ValueError("concat: values: expected at least one value")
    axis = _axis(dim, len(vals[0].shape), "concat")
    return _Concat(axis, name)(*vals)


cat = concat


def split(x: Value, sizes: Union[int, Sequence[int]], dim: int = 1, *, name: Optional[str] = None) -> List[Value]:
    """``torch.split(x, sizes, dim)`` (op ``split``): a list of values (``name:0``, ``name:1``, ...
    in the graph). sizes: the size of each piece (an int: equal pieces, the last smaller), or
    a list of sizes adding up to the dimension."""
    x = _value(x, "split: x")
    axis = _axis(dim, len(x.shape), "split")
    n = x.shape[axis - 1]
    if isinstance(sizes, (list, tuple)):
        pieces = [_int(s, f"split: sizes[{i}]", 1) for i, s in enumerate(sizes)]
        if not pieces:
            raise ValueError("split: sizes: expected at least one size")
        if sum(pieces) != n:
            raise ValueError(f"split: sizes {pieces} add up to {sum(pieces)}, not to dim {axis} of {_fmt(x.shape)} ({n})")
    else:
        step = _int(sizes, "split: sizes", 1)
        pieces = [min(step, n - i) for i in range(0, n, step)]
    return _Split(axis, pieces, name)(x)


def mean(x: Value, dims: Union[int, Sequence[int]], keepdim: bool = True, *, name: Optional[str] = None) -> Value:
    """``x.mean(dims, keepdim)`` (op ``mean``); dims count the batch axis, which cannot be
    reduced. keepdim defaults to True here (the schema's default)."""
    x = _value(x, "mean: x")
    if isinstance(dims, (list, tuple)):
        raw = list(dims)
        if not raw:
            raise ValueError("mean: dims: expected at least one dim")
    else:
        raw = [dims]
    axes = sorted({_axis(d, len(x.shape), "mean") for d in raw})
    if len(axes) != len(raw):
        raise ValueError(f"mean: dims {raw} name an axis twice")
    return _Mean(axes, _bool(keepdim, "mean: keepdim"), name)(x)


def _perm(dims: Tuple[Any, ...], rank: int, what: str) -> List[int]:
    if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
        dims = tuple(dims[0])
    full = rank + 1
    perm = [_int(d, f"{what}: perm") for d in dims]
    perm = [p + full if p < 0 else p for p in perm]
    if sorted(perm) != list(range(full)):
        raise ValueError(f"{what}: {list(dims)} is not a permutation of the {full} axes of a value [N, ...] of "
                         f"rank {full}")
    if perm[0] != 0:
        raise ValueError(f"{what}: the batch axis must stay first (perm[0] == 0), got {perm}")
    return perm


def permute(x: Value, *dims: Any, name: Optional[str] = None) -> Value:
    """``x.permute(dims)`` (op ``transpose``): dims as a sequence or as arguments, the batch
    axis included (it must stay first)."""
    x = _value(x, "permute: x")
    return _Transpose(_perm(dims, len(x.shape), "permute"), name)(x)


def transpose(x: Value, *dims: Any, name: Optional[str] = None) -> Value:
    """Op ``transpose``. ``transpose(x, perm)`` permutes the axes as :func:`permute` (perm
    includes the batch axis); ``transpose(x, dim0, dim1)`` swaps two axes, as ``torch.transpose``."""
    x = _value(x, "transpose: x")
    rank = len(x.shape)
    if len(dims) == 2 and not isinstance(dims[0], (list, tuple)):
        a = _int(dims[0], "transpose: dim0")
        b = _int(dims[1], "transpose: dim1")
        full = rank + 1
        for d in (a, b):
            if not -full <= d < full:
                raise ValueError(f"transpose: dim {d} out of range for a value of {full} axes")
        a, b = a % full, b % full
        perm = list(range(full))
        perm[a], perm[b] = perm[b], perm[a]
        dims = (perm,)
    elif len(dims) != 1:
        raise TypeError("transpose: expected transpose(x, perm) or transpose(x, dim0, dim1)")
    return _Transpose(_perm(dims, rank, "transpose"), name)(x)


def reshape(x: Value, shape: Sequence[int], *, name: Optional[str] = None) -> Value:
    """Op ``reshape`` to a per-example ``shape`` (no batch axis; one entry may be -1): torch's
    ``x.reshape(x.size(0), *shape)``."""
    x = _value(x, "reshape: x")
    m = _FnReshape(shape, name=name)
    return m(x)


# ---- containers -----------------------------------------------------------------------------

class Sequential(Module):
    """``torch.nn.Sequential``: op ``sequential``. ``Sequential(m0, m1, ...)`` names the children
    ``"0"``, ``"1"``, ...; ``Sequential(OrderedDict([("conv", ...), ...]))`` by the keys. Parameter
    names are the child names joined with ``.`` (``features.0.weight``), as torch names them."""

    _op = "sequential"

    def __init__(self, *args: Any, name: Optional[str] = None):
        super().__init__(name)
        self._children: "OrderedDict[str, Module]" = OrderedDict()
        if len(args) == 1 and isinstance(args[0], (OrderedDict, dict)):
            for key, m in args[0].items():
                self._add(_check_name(key, "Sequential: child name"), m)
        else:
            for i, m in enumerate(args):
                self._add(str(i), m)

    def _add(self, key: str, m: Any) -> None:
        if not isinstance(m, Module):
            raise TypeError(f"Sequential: child {key!r}: expected an nn module, got {type(m).__name__}")
        if m._min_inputs > 1 or m._num_outputs() != 1:
            raise ValueError(f"Sequential: child {key!r} ({type(m).__name__}) must take one input and give one "
                             f"output")
        if m._has_params():
            for k, other in self._children.items():
                if other is m:
                    raise ValueError(f"Sequential: the same {type(m).__name__} is given twice (as {k!r} and "
                                     f"{key!r}); its weights belong to one node: create one module per use")
        if key in self._children:
            raise ValueError(f"Sequential: duplicate child name {key!r}")
        self._children[key] = m

    def append(self, module: Module) -> "Sequential":
        """Adds ``module`` at the end, named by its index (as torch)."""
        self._add(str(len(self._children)), module)
        return self

    def __len__(self) -> int:
        return len(self._children)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._children.values())

    def __getitem__(self, idx: Union[int, slice]) -> Any:
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._children.items())[idx]))
        i = _int(idx, "Sequential: index")
        n = len(self._children)
        if not -n <= i < n:
            raise IndexError(f"Sequential: index {i} out of range for {n} children")
        return list(self._children.values())[i % n]

    def named_children(self) -> Iterator[Tuple[str, Module]]:
        return iter(self._children.items())

    def _params(self, prefix):
        out: List[Tuple[str, Shape, bool]] = []
        for key, m in self._children.items():
            out.extend(m._params(_join(prefix, key)))
        return out

    def _uses_global_pool(self):
        return any(m._uses_global_pool() for m in self._children.values())

    def _infer(self, in_shapes, path):
        s = in_shapes[0]
        for key, m in self._children.items():
            s = m._infer([s], _join(path, key))[0]
        return [s]

    def _body(self, in_shapes, ctx, path):
        children = []
        s = None if in_shapes is None else in_shapes[0]
        for key, m in self._children.items():
            cpath = _join(path, key)
            children.append(m._node_json(key, None if s is None else [s], ctx, cpath))
            if s is not None:
                s = m._infer([s], cpath)[0]
        return {"children": children}

    def __repr__(self) -> str:
        lines = [f"  ({k}): " + repr(m).replace("\n", "\n  ") for k, m in self._children.items()]
        head = f"Sequential(name={self._name!r}" if self._name else "Sequential("
        return head + ("\n" + "\n".join(lines) + "\n)" if lines else ")")


class _GraphSpec:
    """The nodes the outputs depend on, in call order, with their names."""

    def __init__(self, inputs: List[Value], outputs: List[Value], what: str):
        self.what = what
        input_nodes: List[_Node] = []
        for i, v in enumerate(inputs):
            if not v._node.is_input:
                raise ValueError(f"{what}: inputs[{i}] is not an nn.Input value")
            if v._node in input_nodes:
                raise ValueError(f"{what}: inputs[{i}] ({v._node.input_name!r}) is listed twice")
            input_nodes.append(v._node)
        if not outputs:
            raise ValueError(f"{what}: expected at least one output")
        reach: Dict[int, _Node] = {}
        stack = [v._node for v in outputs]
        while stack:
            n = stack.pop()
            if id(n) in reach:
                continue
            reach[id(n)] = n
            stack.extend(v._node for v in n.inputs)
        for n in reach.values():
            if n.is_input and n not in input_nodes:
                raise ValueError(f"{what}: the outputs depend on the Input {n.input_name!r}, which is not among "
                                 f"the inputs")
        self.inputs = input_nodes
        self.outputs = outputs
        self.nodes = sorted((n for n in reach.values() if not n.is_input), key=lambda n: n.seq)
        # names: the inputs', the explicit ones, then automatic ones per op in node order
        names: Dict[int, str] = {}
        used: Dict[str, str] = {}
        for n in input_nodes:
            if n.input_name in used:
                raise ValueError(f"{what}: two inputs are named {n.input_name!r}; give each nn.Input its own name")
            used[n.input_name] = "input"
            names[id(n)] = n.input_name
        for n in self.nodes:
            nm = n.module._name
            if nm is None:
                continue
            if nm in used:
                other = "two nodes" if used[nm] == "node" else "a node and an input"
                raise ValueError(f"{what}: duplicate name {nm!r} (given to {other}); names are unique within "
                                 f"a graph")
            used[nm] = "node"
            names[id(n)] = nm
        counters: Dict[str, int] = {}
        for n in self.nodes:
            if id(n) in names:
                continue
            op = n.module._op
            k = counters.get(op, 0)
            while True:
                k += 1
                cand = f"{op}_{k}"
                if cand not in used:
                    break
            counters[op] = k
            used[cand] = "node"
            names[id(n)] = cand
        self.names = names

    def ref(self, v: Value) -> str:
        n = v._node
        base = self.names[id(n)]
        return f"{base}:{v._index}" if len(n.out_shapes) > 1 else base

    def _shapes(self, in_shapes: Optional[List[Shape]], path: str) -> Dict[int, List[Shape]]:
        if in_shapes is None:
            in_shapes = [n.out_shapes[0] for n in self.inputs]
        shapes: Dict[int, List[Shape]] = {}
        for n, s in zip(self.inputs, in_shapes):
            shapes[id(n)] = [s]
        for n in self.nodes:
            ins = [shapes[id(v._node)][v._index] for v in n.inputs]
            shapes[id(n)] = n.module._infer(ins, _join(path, self.names[id(n)]))
        return shapes

    def infer(self, in_shapes: List[Shape], path: str) -> List[Shape]:
        shapes = self._shapes(in_shapes, path)
        return [shapes[id(v._node)][v._index] for v in self.outputs]

    def params(self, prefix: str) -> List[Tuple[str, Shape, bool]]:
        out: List[Tuple[str, Shape, bool]] = []
        for n in self.nodes:
            out.extend(n.module._params(_join(prefix, self.names[id(n)])))
        return out

    def emit(self, ctx: _EmitCtx, path: str, in_shapes: Optional[List[Shape]]) -> Dict[str, Any]:
        shapes = self._shapes(in_shapes, path)
        nodes = []
        for n in self.nodes:
            nm = self.names[id(n)]
            ins = [shapes[id(v._node)][v._index] for v in n.inputs]
            nodes.append(n.module._node_json(nm, ins, ctx, _join(path, nm), inputs=[self.ref(v) for v in n.inputs]))
        return {"inputs": [n.input_name for n in self.inputs], "nodes": nodes,
                "outputs": [self.ref(v) for v in self.outputs]}

    def uses_global_pool(self) -> bool:
        return any(n.module._uses_global_pool() for n in self.nodes)


def _value_list(v: Any, what: str) -> List[Value]:
    if isinstance(v, Value):
        return [v]
    if isinstance(v, (list, tuple)):
        return [_value(x, f"{what}[{i}]") for i, x in enumerate(v)]
    raise TypeError(f"{what}: expected an nn.Value or a list of them, got {type(v).__name__}")


class Graph(Module):
    """A functional graph as a module (op ``graph``): ``nn.Graph(inputs, outputs)`` from
    :func:`Input` values and the values computed from them. Call it on values (one per input)
    in another graph -- it returns one value, or a list when it has several outputs -- or put
    it in a :class:`Sequential` (one input, one output). Its parameters are named
    ``<node name>.<inner node name>.weight``, as a torch module with those submodules."""

    _op = "graph"

    def __init__(self, inputs: Union[Value, Sequence[Value]], outputs: Union[Value, Sequence[Value]], *,
                 name: Optional[str] = None):
        super().__init__(name)
        ins = _value_list(inputs, "Graph: inputs")
        if not ins:
            raise ValueError("Graph: expected at least one input")
        self._spec = _GraphSpec(ins, _value_list(outputs, "Graph: outputs"), "Graph")
        self._min_inputs = self._max_inputs = len(ins)

    def _num_outputs(self):
        return len(self._spec.outputs)

    def _params(self, prefix):
        return self._spec.params(prefix)

    def _uses_global_pool(self):
        return self._spec.uses_global_pool()

    def _infer(self, in_shapes, path):
        for i, (s, n) in enumerate(zip(in_shapes, self._spec.inputs)):
            if len(s) != len(n.out_shapes[0]):
                raise ValueError(f"{self._where(path)}: input {i} ({n.input_name!r}) expects a value like "
                                 f"{_fmt(n.out_shapes[0])}, got {_fmt(s)}")
        return self._spec.infer(in_shapes, path)

    def _body(self, in_shapes, ctx, path):
        return {"graph": self._spec.emit(ctx, path, in_shapes)}

    def _repr_args(self):
        return (f"inputs={[n.input_name for n in self._spec.inputs]}, nodes={len(self._spec.nodes)}, "
                f"outputs={[self._spec.ref(v) for v in self._spec.outputs]}")


# ---- documents ------------------------------------------------------------------------------

def _doc_name(name: Any) -> str:
    if not isinstance(name, str):
        raise TypeError(f"name: expected a str, got {type(name).__name__}")
    return name


def _any_size(flag: Optional[bool], shape: Shape, uses_pool: bool) -> bool:
    if flag is not None:
        return _bool(flag, "any_input_size")
    return len(shape) == 3 and uses_pool


def graph_json(inputs: Union[Value, Sequence[Value]], outputs: Union[Value, Sequence[Value]],
               name: str = "model", any_input_size: Optional[bool] = None) -> Dict[str, Any]:
    """The model document (a dict, schema v1) of the functional graph from ``inputs`` (one
    :func:`Input` value: the schema describes one model input) to ``outputs`` (a value or a
    list; the model's output is the first). The root is a ``graph`` node named ``""``; its
    nodes are those the outputs depend on, in call order. any_input_size: None applies the
    rule of the module docstring."""
    doc_name = _doc_name(name)
    ins = _value_list(inputs, "graph_json: inputs")
    if len(ins) != 1:
        raise ValueError(f"graph_json: a model has one input (the document has one input_shape), got {len(ins)} "
                         f"inputs; wrap a multi-input graph in nn.Graph to use it inside a model")
    outs = _value_list(outputs, "graph_json: outputs")
    spec = _GraphSpec(ins, outs, "graph_json")
    shape = ins[0].shape
    network = {"name": "", "op": "graph", "graph": spec.emit(_EmitCtx(), "", None)}
    return {"version": SCHEMA_VERSION, "name": doc_name, "input_shape": list(shape),
            "any_input_size": _any_size(any_input_size, shape, spec.uses_global_pool()), "network": network}


def sequential_json(seq: Module, input_shape: Sequence[int], name: str = "model",
                    any_input_size: Optional[bool] = None) -> Dict[str, Any]:
    """The model document (a dict, schema v1) of ``seq`` (normally a :class:`Sequential`; any
    one-input module is accepted) for examples of shape ``input_shape`` (``(C, H, W)`` or
    ``(F,)``, no batch axis). The root node is named ``""``, so parameter names are torch's
    (``0.weight``, ``features.3.bias``). Shapes are checked through every child."""
    doc_name = _doc_name(name)
    if not isinstance(seq, Module):
        raise TypeError(f"sequential_json: seq: expected an nn module, got {type(seq).__name__}")
    if seq._min_inputs > 1 or seq._num_outputs() != 1:
        raise ValueError("sequential_json: the module must take one input and give one output")
    shape = _input_shape(input_shape, "sequential_json: input_shape")
    seq._infer([shape], "")
    network = seq._node_json("", [shape], _EmitCtx(), "")
    return {"version": SCHEMA_VERSION, "name": doc_name, "input_shape": list(shape),
            "any_input_size": _any_size(any_input_size, shape, seq._uses_global_pool()), "network": network}


def to_node(module: Module, name: Optional[str] = None, input_shape: Optional[Sequence[int]] = None) -> Dict[str, Any]:
    """The node JSON (a dict, without ``inputs``) of one module, e.g. to replace a layer:
    ``model.replace("fc", nn.Linear(512, 10))``. name: the node's name (default: the module's
    ``name=``, else ``""``). input_shape: optional per-example input shape; when given, the
    shapes are checked and negative dims (Softmax(dim=-1)) resolved."""
    if not isinstance(module, Module):
        raise TypeError(f"to_node: module: expected an nn module, got {type(module).__name__}")
    nm = _check_name(name, "to_node: name", allow_empty=True)
    if nm is None:
        nm = module._name or ""
    in_shapes = None
    if input_shape is not None:
        if module._min_inputs > 1:
            raise ValueError("to_node: input_shape is for one-input modules")
        in_shapes = [_shape(input_shape, "to_node: input_shape")]
        module._infer(in_shapes, nm)
    return module._node_json(nm, in_shapes, _EmitCtx(), nm)


def output_shape(module: Module, input_shape: Sequence[int]) -> Shape:
    """The per-example output shape of a one-input ``module`` (e.g. a :class:`Sequential`) for
    per-example inputs of ``input_shape``; ValueError naming the layer when a shape does not
    fit. (A :class:`Value` has its shape as ``.shape``.)"""
    if not isinstance(module, Module):
        raise TypeError(f"output_shape: module: expected an nn module, got {type(module).__name__}")
    if module._min_inputs > 1:
        raise ValueError("output_shape: the module must take one input")
    return module._infer([_shape(input_shape, "output_shape: input_shape")], module._name or "")[0]


# ---- parameter names from JSON ----------------------------------------------------------------

def _pair_attr(attrs: Mapping[str, Any], key: str, default: Any = None) -> Tuple[int, int]:
    v = attrs.get(key, default)
    if v is None:
        raise ValueError(f"attribute {key!r} is missing")
    return (int(v[0]), int(v[1]))


def _json_params(node: Mapping[str, Any], prefix: str, out: List[Tuple[str, Shape, bool]]) -> None:
    op = node.get("op")
    path = _join(prefix, node.get("name", ""))
    a = node.get("attrs", {}) or {}

    def add(suffix: str, shape: Shape, buffer: bool = False) -> None:
        out.append((_join(path, suffix), shape, buffer))

    if op == "conv2d":
        kh, kw = _pair_attr(a, "kernel_shape")
        o, i, g = int(a["out_channels"]), int(a["in_channels"]), int(a.get("group", 1))
        add("weight", (o, i // g, kh, kw))
        if a.get("bias", True):
            add("bias", (o,))
    elif op == "batch_norm2d":
        c = (int(a["num_features"]),)
        add("weight", c)
        add("bias", c)
        add("running_mean", c, True)
        add("running_var", c, True)
    elif op == "linear":
        add("weight", (int(a["out_features"]), int(a["in_features"])))
        if a.get("bias", True):
            add("bias", (int(a["out_features"]),))
    elif op == "constant":
        out.append((path, tuple(int(d) for d in a["shape"]), False))
    elif op == "layer_norm":
        raise ValueError(f"parameter_shapes: the parameters of layer_norm {path!r} take their shape from its input; "
                         f"give the module (nn.LayerNorm) or create the model and read its state dict")
    elif op in ("sequential", "branches"):
        for c in node.get("children", []):
            _json_params(c, path, out)
    elif op == "residual":
        _json_params(node["body"], path, out)
        if node.get("shortcut") is not None:
            _json_params(node["shortcut"], path, out)
    elif op == "graph":
        for c in node["graph"]["nodes"]:
            _json_params(c, path, out)
    elif op in ("scaled_tanh", "subsampling", "partial_conv2d", "euclidean_rbf"):
        raise ValueError(f"parameter_shapes: the parameters of {op!r} (LeNet-5) are not described by the schema")


def parameter_shapes(obj: Any, buffers: bool = True) -> "OrderedDict[str, Shape]":
    """``{name: shape}`` of the parameters (and, with buffers=True, the batch-norm running
    statistics) in torch's state_dict order, for a module, a node dict or a whole document
    (``num_batches_tracked`` is never listed)."""
    if isinstance(obj, Module):
        items = obj._params("")
    elif isinstance(obj, Mapping):
        node = obj["network"] if "network" in obj else obj
        items = []
        _json_params(node, "", items)
    else:
        raise TypeError(f"parameter_shapes: expected an nn module, a node or a document, got {type(obj).__name__}")
    return OrderedDict((k, s) for k, s, buf in items if buffers or not buf)


def dumps(doc: Mapping[str, Any]) -> str:
    """``doc`` as compact JSON text (the ``graph`` metadata of a model file); NaN and
    infinities are refused."""
    return json.dumps(doc, separators=(",", ":"), allow_nan=False)
