"""swiftcnn.onnx.export -- a swiftcnn model as an ONNX file.

The exporter reads the model's graph JSON (``model.to_json()``, docs/model-format.md) and
its weights (``model.state_dict()``) and writes one ONNX ``ModelProto`` built with the
``onnx`` package only (``onnx.helper``, ``onnx.checker``); neither
torch nor onnxruntime is needed.

Names
    Initializers keep their state_dict names (``layer1.0.conv1.weight``), so torchvision's
    names survive. Constants the exporter adds are named after their node
    (``<path>/<what>``); LeNet-5's fixed RBF codes are ``<path>.codes``. ONNX node names are
    the swiftcnn node paths (``features.3``), with ``/<step>`` for the extra nodes an op
    needs; a path that repeats (children sharing a name) gets ``_1``, ``_2``, ...

Inputs and outputs
    One graph input, named after the model's input (``model.input_names``), of shape
    ``[N] + input_shape`` where N is the symbolic dimension ``"N"`` (``dynamic_batch=True``)
    or 1. The outputs are the model's outputs (``model.output_names``), in order.

Semantics
    Inference mode: batch norm uses the running statistics, dropout is dropped. Every op of
    schema version 1 is exported with standard ONNX ops (opset 13 or newer; layer_norm needs
    17); LeNet-5's ``subsampling``, ``partial_conv2d`` and ``euclidean_rbf`` become pooling,
    a dense convolution with zero kernels for the absent connections, and an explicit
    sum of squares.

Errors
    Every node that cannot be exported (an op the exporter does not know, an
    ``adaptive_avg_pool2d`` whose input size is not a multiple of its output size, ...) is
    collected, and one ValueError lists them all (path and op). The file is written
    atomically: a temporary file in the destination's directory, renamed over ``path``;
    on any failure nothing is left behind and an existing file is unchanged.
"""
from __future__ import annotations

import math
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

__all__ = ["export"]

MIN_OPSET = 13

Shape = Tuple[int, ...]


class _NodeError(Exception):
    """A node that cannot be exported (collected, then reported together)."""


class _Val:
    """A value of the swiftcnn graph: the ONNX tensor that holds it, its per-example shape
    (None when unknown), and whether its batch axis is 1 (a constant, broadcast later)."""

    __slots__ = ("name", "shape", "batch1")

    def __init__(self, name: Optional[str], shape: Optional[Shape], batch1: bool = False):
        self.name = name
        self.shape = None if shape is None else tuple(int(d) for d in shape)
        self.batch1 = batch1

    @property
    def poisoned(self) -> bool:
        return self.name is None


_POISON = _Val(None, None)


def _join(path: str, name: str) -> str:
    if not path:
        return name
    if not name:
        return path
    return f"{path}.{name}"


def _where(path: str) -> str:
    return repr(path) if path else "(root)"


def _attrs(node: Dict[str, Any]) -> Dict[str, Any]:
    a = node.get("attrs")
    return dict(a) if a else {}


def _pair(v: Any, default: Any = None) -> Tuple[int, int]:
    if v is None:
        v = default
    if isinstance(v, (int, float)):
        return (int(v), int(v))
    return (int(v[0]), int(v[1]))


def _pads4(v: Any) -> List[int]:
    if v is None:
        return [0, 0, 0, 0]
    v = [int(p) for p in v]
    if len(v) == 2:
        return [v[0], v[1], v[0], v[1]]
    return v


def _pool_size(n: int, k: int, s: int, p0: int, p1: int, ceil_mode: bool, d: int = 1) -> int:
    """torch's pooling_output_shape (with per-side padding)."""
    num = n + p0 + p1 - d * (k - 1) - 1
    out = (num + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p0:
        out -= 1
    return out


def _broadcast(a: Shape, b: Shape) -> Shape:
    if len(a) != len(b):
        raise _NodeError(f"operands of different ranks {list(a)} and {list(b)}")
    out = []
    for x, y in zip(a, b):
        if x != y and x != 1 and y != 1:
            raise _NodeError(f"shapes {list(a)} and {list(b)} do not broadcast")
        out.append(max(x, y))
    return tuple(out)


def _axis_full(axis: int, rank: int) -> int:
    """An axis counted with the batch axis (rank: the full rank), made non-negative."""
    a = int(axis)
    return a + rank if a < 0 else a


def _name_list(v: Any) -> List[str]:
    if v is None:
        return []
    if callable(v):
        v = v()
    return [str(x) for x in v]


class _Exporter:
    def __init__(self, model: Any, opset: int, dynamic_batch: bool):
        import onnx
        from onnx import helper
        self.onnx = onnx
        self.helper = helper
        self.opset = opset
        self.dynamic_batch = dynamic_batch
        self.doc = model.to_json()
        self.weights = model.state_dict()
        self.model_name = str(self.doc.get("name", "model"))
        self.input_shape = tuple(int(d) for d in self.doc["input_shape"])
        self.nodes: List[Any] = []
        self.inits: Dict[str, Any] = {}
        self.taken: set = set()
        self.node_names: set = set()
        self.errors: List[Tuple[str, str, str]] = []
        self.batch_dim: Optional[str] = None
        ins = _name_list(getattr(model, "input_names", None)) or ["input"]
        self.input_name = ins[0]
        self.output_names = _name_list(getattr(model, "output_names", None))
        self.taken.add(self.input_name)
        self.taken.update(self.output_names)
        self.taken.update(self.weights.keys())

    # ---- building blocks ------------------------------------------------------------------

    def fresh(self, base: str) -> str:
        base = base or "value"
        name, k = base, 0
        while name in self.taken:
            k += 1
            name = f"{base}_{k}"
        self.taken.add(name)
        return name

    def node_name(self, base: str) -> str:
        name, k = base, 0
        while name in self.node_names:
            k += 1
            name = f"{base}_{k}"
        self.node_names.add(name)
        return name

    def emit(self, op_type: str, inputs: Sequence[str], name: str, outputs: Any = 1, **attrs: Any) -> Any:
        """Adds one ONNX node; outputs: a count (fresh names based on `name`) or a list of
        names. Returns the output name (one output) or the list of names."""
        if isinstance(outputs, int):
            outs = [self.fresh(name if outputs == 1 else f"{name}:{i}") for i in range(outputs)]
        else:
            outs = list(outputs)
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(self.helper.make_node(op_type, list(inputs), outs, name=self.node_name(name), **attrs))
        return outs[0] if len(outs) == 1 else outs

    def const(self, base: str, value: Any, dtype: Any = np.float32) -> str:
        name = self.fresh(base)
        self.inits[name] = np.asarray(value, dtype=dtype)
        return name

    def ints(self, base: str, values: Sequence[int]) -> str:
        return self.const(base, np.asarray(list(values), dtype=np.int64), np.int64)

    def scalar(self, base: str, v: float) -> str:
        return self.const(base, np.float32(v))

    def param(self, key: str, shape: Optional[Sequence[int]] = None) -> str:
        if key not in self.weights:
            raise _NodeError(f"the state_dict has no entry {key!r}")
        arr = self.weights[key]
        if shape is not None and tuple(arr.shape) != tuple(shape):
            raise _NodeError(f"{key!r} has shape {list(arr.shape)}, expected {list(shape)}")
        if key not in self.inits:
            self.inits[key] = np.asarray(arr, dtype=np.float32)
        return key

    def has_param(self, key: str) -> bool:
        return key in self.weights

    def batch_size(self) -> str:
        """An int64 [1] tensor: the batch size of the model input."""
        if self.batch_dim is None:
            shape = self.emit("Shape", [self.input_name], "batch_size/Shape")
            self.batch_dim = self.emit("Slice", [shape, self.ints("batch_size/start", [0]),
                                                 self.ints("batch_size/end", [1])], "batch_size/Slice")
        return self.batch_dim

    def expand(self, v: _Val, path: str) -> _Val:
        """A batch-1 value broadcast to the model's batch (constants feeding ops that do not
        broadcast, and model outputs)."""
        if not v.batch1 or not self.dynamic_batch:
            return _Val(v.name, v.shape, False) if v.batch1 else v
        if v.shape is None:
            raise _NodeError("cannot broadcast a constant of unknown shape to the batch")
        shape = self.emit("Concat", [self.batch_size(), self.ints(f"{path}/expand_shape", v.shape)],
                          f"{path}/expand_shape", axis=0)
        return _Val(self.emit("Expand", [v.name, shape], f"{path}/expand"), v.shape, False)

    # ---- traversal ------------------------------------------------------------------------

    def run(self) -> Any:
        helper = self.helper
        network = self.doc["network"]
        x = _Val(self.input_name, self.input_shape)
        outs = self.convert(network, "", [x], root=True)
        if self.errors:
            lines = "\n".join(f"  - node {_where(p)} (op {op!r}): {msg}" for p, op, msg in self.errors)
            raise ValueError(f"swiftcnn.onnx.export: cannot export model {self.model_name!r}: "
                             f"{len(self.errors)} node(s) cannot be exported:\n{lines}")
        names = self.output_names
        if len(names) != len(outs):
            names = ["output"] if len(outs) == 1 else [f"output:{i}" for i in range(len(outs))]
            self.taken.update(names)
        final = self.bind_outputs(outs, names)
        batch = "N" if self.dynamic_batch else 1
        inputs = [helper.make_tensor_value_info(self.input_name, self.onnx.TensorProto.FLOAT,
                                                [batch] + list(self.input_shape))]
        outputs = []
        for name, v in zip(names, final):
            shape = None if v.shape is None else [batch] + list(v.shape)
            outputs.append(helper.make_tensor_value_info(name, self.onnx.TensorProto.FLOAT, shape))
        graph = helper.make_graph(self.nodes, self.model_name or "swiftcnn", inputs, outputs)
        opsets = [helper.make_opsetid("", self.opset)]
        try:
            from .. import __version__ as version
        except Exception:  # pragma: no cover - the package is always importable here
            version = ""
        model = helper.make_model(graph, opset_imports=opsets, producer_name="swiftcnn",
                                  producer_version=str(version))
        model.ir_version = helper.find_min_ir_version_for(opsets)
        # initializers are written into the model in place (no copies of the weights)
        for name, arr in self.inits.items():
            t = model.graph.initializer.add()
            t.name = name
            t.dims.extend(arr.shape)
            t.data_type = self.helper.np_dtype_to_tensor_dtype(arr.dtype)
            t.raw_data = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()
        model.doc_string = f"swiftcnn model {self.model_name!r} exported by swiftcnn.onnx.export"
        return model

    def bind_outputs(self, outs: List[_Val], names: List[str]) -> List[_Val]:
        """Names the model outputs: the producing node's output is renamed when it is an
        intermediate value used once as an output, otherwise an Identity is added."""
        producers = {}
        for n in self.nodes:
            for i, o in enumerate(n.output):
                producers[o] = (n, i)
        done: set = set()
        renamed: Dict[str, str] = {}
        final = []
        for v, name in zip(outs, names):
            v = self.expand(v, name)
            if v.name in renamed:
                v = _Val(renamed[v.name], v.shape)
            if v.name == name:
                final.append(v)
                done.add(name)
                continue
            if v.name in producers and v.name not in done and v.name not in self.output_names \
                    and v.name != self.input_name:
                old = v.name
                n, i = producers.pop(old)
                n.output[i] = name
                for m in self.nodes:
                    for j, inp in enumerate(m.input):
                        if inp == old:
                            m.input[j] = name
                producers[name] = (n, i)
                renamed[old] = name
                done.add(name)
                final.append(_Val(name, v.shape))
                continue
            self.emit("Identity", [v.name], name, outputs=[name])
            done.add(name)
            final.append(_Val(name, v.shape))
        return final

    def fail(self, node: Dict[str, Any], path: str, msg: str) -> None:
        self.errors.append((path, str(node.get("op")), msg))

    def n_outputs(self, node: Dict[str, Any]) -> int:
        op = node.get("op")
        if op == "split":
            return max(1, len(_attrs(node).get("split") or [1]))
        if op == "graph":
            return max(1, len((node.get("graph") or {}).get("outputs") or [1]))
        return 1

    def convert(self, node: Dict[str, Any], parent: str, inputs: List[_Val], root: bool = False) -> List[_Val]:
        """Converts one node on its input values; returns its output values."""
        op = node.get("op")
        path = _join(parent, str(node.get("name", "")))
        if op in _CONTAINERS:
            try:
                return _CONTAINERS[op](self, node, path, inputs)
            except _NodeError as e:
                self.fail(node, path, str(e))
                return [_POISON] * self.n_outputs(node)
        handler = _OPS.get(op)
        if handler is None:
            self.fail(node, path, "op not supported by the ONNX exporter")
            return [_POISON] * self.n_outputs(node)
        if any(v.poisoned for v in inputs):
            return [_POISON] * self.n_outputs(node)
        try:
            out = handler(self, node, path, inputs, _attrs(node))
        except _NodeError as e:
            self.fail(node, path, str(e))
            return [_POISON] * self.n_outputs(node)
        except (KeyError, TypeError, ValueError, IndexError) as e:
            self.fail(node, path, f"malformed node ({type(e).__name__}: {e})")
            return [_POISON] * self.n_outputs(node)
        return out if isinstance(out, list) else [out]

    def chain(self, children: List[Dict[str, Any]], path: str, x: _Val) -> _Val:
        for child in children:
            x = self.convert(child, path, [x])[0]
        return x


# ---- containers ----------------------------------------------------------------------------

def _sequential(ex: _Exporter, node, path, inputs):
    return [ex.chain(node.get("children") or [], path, inputs[0])]


def _residual(ex: _Exporter, node, path, inputs):
    x = inputs[0]
    body = node.get("body") or []
    if isinstance(body, dict):
        body = [body]
    y = ex.chain(body, path, x)
    sc = node.get("shortcut")
    s = x if sc is None else ex.convert(sc, path, [x])[0]
    if y.poisoned or s.poisoned:
        return [_POISON]
    shape = None if y.shape is None or s.shape is None else _broadcast(y.shape, s.shape)
    base = path or "residual"
    total = ex.emit("Add", [y.name, s.name], f"{base}/add")
    return [_Val(ex.emit("Relu", [total], f"{base}/relu"), shape, y.batch1 and s.batch1)]


def _branches(ex: _Exporter, node, path, inputs):
    outs = [ex.convert(c, path, [inputs[0]])[0] for c in node.get("children") or []]
    if not outs:
        raise _NodeError("branches needs at least one child")
    return [_concat_vals(ex, outs, 1, path or "branches")]


def _toposort(nodes: List[Dict[str, Any]], outputs: List[str], path: str) -> List[Dict[str, Any]]:
    by_name = {}
    for n in nodes:
        nm = str(n.get("name", ""))
        if nm in by_name:
            raise _NodeError(f"duplicate node name {nm!r} in the graph")
        by_name[nm] = n
    order: List[Dict[str, Any]] = []
    state: Dict[str, int] = {}

    def base(ref: str) -> str:
        return ref.rsplit(":", 1)[0] if ":" in ref else ref

    for start in [base(o) for o in outputs]:
        if start not in by_name or state.get(start) == 2:
            continue
        stack = [(start, iter([base(r) for r in by_name[start].get("inputs") or []]))]
        state[start] = 1
        while stack:
            nm, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                state[nm] = 2
                order.append(by_name[nm])
                continue
            if nxt not in by_name or state.get(nxt) == 2:
                continue
            if state.get(nxt) == 1:
                raise _NodeError(f"the graph has a cycle through {nxt!r}")
            state[nxt] = 1
            stack.append((nxt, iter([base(r) for r in by_name[nxt].get("inputs") or []])))
    return order


def _graph(ex: _Exporter, node, path, inputs):
    g = node.get("graph") or {}
    names = [str(n) for n in g.get("inputs") or []]
    if len(names) != len(inputs):
        raise _NodeError(f"the graph has {len(names)} inputs, given {len(inputs)} values")
    env: Dict[str, _Val] = dict(zip(names, inputs))
    outputs = [str(o) for o in g.get("outputs") or []]
    for n in _toposort(list(g.get("nodes") or []), outputs, path):
        nm = str(n.get("name", ""))
        refs = [str(r) for r in n.get("inputs") or []]
        ins = []
        for r in refs:
            v = _lookup(env, r)
            if v is None:
                raise _NodeError(f"node {nm!r} reads {r!r}, which is not a value of the graph")
            ins.append(v)
        outs = ex.convert(n, path, ins)
        for k, v in enumerate(outs):
            env[f"{nm}:{k}"] = v
        env[nm] = outs[0]
    result = []
    for o in outputs:
        v = _lookup(env, o)
        if v is None:
            raise _NodeError(f"graph output {o!r} is not a value of the graph")
        result.append(v)
    return result


def _lookup(env: Dict[str, _Val], ref: str) -> Optional[_Val]:
    if ref in env:
        return env[ref]
    if ref.endswith(":0") and ref[:-2] in env:
        return env[ref[:-2]]
    return None


_CONTAINERS = {"sequential": _sequential, "residual": _residual, "branches": _branches, "graph": _graph}


# ---- ops -------------------------------------------------------------------------------------

def _need_shape(v: _Val, what: str) -> Shape:
    if v.shape is None:
        raise _NodeError(f"{what} needs the input's shape, which is unknown")
    return v.shape


def _conv2d(ex: _Exporter, node, path, ins, a):
    x = ins[0]
    kh, kw = _pair(a.get("kernel_shape"))
    sh, sw = _pair(a.get("strides"), 1)
    dh, dw = _pair(a.get("dilations"), 1)
    t, l, b, r = _pads4(a.get("pads"))
    g = int(a.get("group", 1))
    cin, cout = int(a["in_channels"]), int(a["out_channels"])
    inputs = [x.name, ex.param(_join(path, "weight"), (cout, cin // g, kh, kw))]
    if a.get("bias", True):
        inputs.append(ex.param(_join(path, "bias"), (cout,)))
    shape = None
    if x.shape is not None:
        c, h, w = x.shape
        if c != cin:
            raise _NodeError(f"expects {cin} input channels, got {c}")
        shape = (cout, (h + t + b - dh * (kh - 1) - 1) // sh + 1, (w + l + r - dw * (kw - 1) - 1) // sw + 1)
    y = ex.emit("Conv", inputs, path or "conv2d", kernel_shape=[kh, kw], strides=[sh, sw], pads=[t, l, b, r],
                dilations=[dh, dw], group=g)
    return _Val(y, shape, x.batch1)


def _batch_norm(ex: _Exporter, node, path, ins, a):
    x = ins[0]
    c = int(a["num_features"])
    ps = [ex.param(_join(path, k), (c,)) for k in ("weight", "bias", "running_mean", "running_var")]
    y = ex.emit("BatchNormalization", [x.name] + ps, path or "batch_norm2d", epsilon=float(a.get("epsilon", 1e-5)))
    return _Val(y, x.shape, x.batch1)


def _linear(ex: _Exporter, node, path, ins, a):
    x = ins[0]
    fin, fout = int(a["in_features"]), int(a["out_features"])
    w = ex.param(_join(path, "weight"), (fout, fin))
    bias = ex.param(_join(path, "bias"), (fout,)) if a.get("bias", True) else None
    base = path or "linear"
    shape = None
    if x.shape is not None:
        if x.shape[-1] != fin:
            raise _NodeError(f"expects {fin} input features, got a value of shape {list(x.shape)}")
        shape = x.shape[:-1] + (fout,)
    if x.shape is not None and len(x.shape) == 1:
        y = ex.emit("Gemm", [x.name, w] + ([bias] if bias else []), base, transB=1)
    else:
        wt = ex.emit("Transpose", [w], f"{base}/weight_t", perm=[1, 0])
        y = ex.emit("MatMul", [x.name, wt], f"{base}/matmul" if bias else base)
        if bias:
            y = ex.emit("Add", [y, bias], base)
    return _Val(y, shape, x.batch1)


def _unary(op_type: str, **fixed):
    def f(ex: _Exporter, node, path, ins, a):
        x = ins[0]
        return _Val(ex.emit(op_type, [x.name], path or node["op"], **fixed), x.shape, x.batch1)
    return f


def _hardswish(ex: _Exporter, node, path, ins, a):
    x = ins[0]
    base = path or "hardswish"
    if ex.opset >= 14:
        return _Val(ex.emit("HardSwish", [x.name], base), x.shape, x.batch1)
    g = ex.emit("HardSigmoid", [x.name], f"{base}/gate", alpha=1.0 / 6, beta=0.5)
    return _Val(ex.emit("Mul", [x.name, g], base), x.shape, x.batch1)


def _silu(ex: _Exporter, node, path, ins, a):
    x = ins[0]
    base = path or "silu"
    s = ex.emit("Sigmoid", [x.name], f"{base}/sigmoid")
    return _Val(ex.emit("Mul", [x.name, s], base), x.shape, x.batch1)


def _hardsigmoid(ex: _Exporter, node, path, ins, a):
    x = ins[0]
    y = ex.emit("HardSigmoid", [x.name], path or "hardsigmoid", alpha=float(a.get("alpha", 1.0 / 6)),
                beta=float(a.get("beta", 0.5)))
    return _Val(y, x.shape, x.batch1)


def _clip(ex: _Exporter, node, path, ins, a):
    x = ins[0]
    base = path or "clip"
    lo, hi = a.get("min"), a.get("max")
    lo = None if lo is None or (isinstance(lo, (int, float)) and math.isinf(lo) and lo < 0) else float(lo)
    hi = None if hi is None or (isinstance(hi, (int, float)) and math.isinf(hi) and hi > 0) else float(hi)
    if lo is None and hi is None:
        return _Val(ex.emit("Identity", [x.name], base), x.shape, x.batch1)
    inputs = [x.name, "" if lo is None else ex.scalar(f"{base}/min", lo)]
    if hi is not None:
        inputs.append(ex.scalar(f"{base}/max", hi))
    return _Val(ex.emit("Clip", inputs, base), x.shape, x.batch1)


def _leaky_relu(ex: _Exporter, node, path, ins, a):
    x = ins[0]
    return _Val(ex.emit("LeakyRelu", [x.name], path or "leaky_relu", alpha=float(a.get("alpha", 0.01))),
                x.shape, x.batch1)


def _gelu(ex: _Exporter, node, path, ins, a):
    x = ins[0]
    base = path or "gelu"
    approx = str(a.get("approximate", "none"))
    if approx not in ("none", "tanh"):
        raise _NodeError(f"unknown approximate {approx!r}")
    if ex.opset >= 20:
        return _Val(ex.emit("Gelu", [x.name], base, approximate=approx), x.shape, x.batch1)
    if approx == "none":
        # 0.5 · x · (1 + erf(x / √2))
        t = ex.emit("Div", [x.name, ex.scalar(f"{base}/sqrt2", math.sqrt(2.0))], f"{base}/div")
        t = ex.emit("Erf", [t], f"{base}/erf")
    else:
        # 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))
        x3 = ex.emit("Mul", [x.name, x.name], f"{base}/x2")
        x3 = ex.emit("Mul", [x3, x.name], f"{base}/x3")
        t = ex.emit("Mul", [x3, ex.scalar(f"{base}/c", 0.044715)], f"{base}/cx3")
        t = ex.emit("Add", [x.name, t], f"{base}/inner")
        t = ex.emit("Mul", [t, ex.scalar(f"{base}/k", math.sqrt(2.0 / math.pi))], f"{base}/scaled")
        t = ex.emit("Tanh", [t], f"{base}/tanh")
    t = ex.emit("Add", [t, ex.scalar(f"{base}/one", 1.0)], f"{base}/plus1")
    t = ex.emit("Mul", [x.name, t], f"{base}/mul")
    return _Val(ex.emit("Mul", [t, ex.scalar(f"{base}/half", 0.5)], base), x.shape, x.batch1)


def _softmax(ex: _Exporter, node, path, ins, a):
    x = ins[0]
    return _Val(ex.emit("Softmax", [x.name], path or "softmax", axis=int(a.get("axis", 1))), x.shape, x.batch1)


def _pool(op_type: str):
    def f(ex: _Exporter, node, path, ins, a):
        x = ins[0]
        kh, kw = _pair(a.get("kernel_shape"))
        sh, sw = _pair(a.get("strides"), (kh, kw))
        t, l, b, r = _pads4(a.get("pads"))
        ceil = bool(a.get("ceil_mode", False))
        attrs: Dict[str, Any] = dict(kernel_shape=[kh, kw], strides=[sh, sw], pads=[t, l, b, r],
                                     ceil_mode=int(ceil))
        if op_type == "AveragePool":
            attrs["count_include_pad"] = int(bool(a.get("count_include_pad", True)))
        shape = None
        if x.shape is not None:
            c, h, w = x.shape
            shape = (c, _pool_size(h, kh, sh, t, b, ceil), _pool_size(w, kw, sw, l, r, ceil))
        return _Val(ex.emit(op_type, [x.name], path or node["op"], **attrs), shape, x.batch1)
    return f


def _adaptive_avg_pool(ex: _Exporter, node, path, ins, a):
    x = ins[0]
    oh, ow = _pair(a.get("output_size"))
    base = path or "adaptive_avg_pool2d"
    if (oh, ow) == (1, 1):
        shape = None if x.shape is None else (x.shape[0], 1, 1)
        return _Val(ex.emit("GlobalAveragePool", [x.name], base), shape, x.batch1)
    c, h, w = _need_shape(x, "adaptive_avg_pool2d")
    if h % oh or w % ow:
        raise _NodeError(f"adaptive_avg_pool2d from {h}x{w} to {oh}x{ow}: the input size is not a multiple "
                         f"of the output size, which ONNX's AveragePool cannot express")
    k = [h // oh, w // ow]
    y = ex.emit("AveragePool", [x.name], base, kernel_shape=k, strides=k)
    return _Val(y, (c, oh, ow), x.batch1)


def _global_max_pool(ex: _Exporter, node, path, ins, a):
    x = ins[0]
    shape = None if x.shape is None else (x.shape[0],) + (1,) * (len(x.shape) - 1)
    return _Val(ex.emit("GlobalMaxPool", [x.name], path or "global_max_pool2d"), shape, x.batch1)


def _l2_normalize(ex: _Exporter, node, path, ins, a):
    # x / max(‖x‖₂ over channels, eps): ReduceL2, Max with eps, Div (ONNX's LpNormalization
    # has no eps)
    x = ins[0]
    base = path or "l2_normalize"
    norm = _reduce_axes(ex, "ReduceL2", x, [1], True, f"{base}/norm")
    den = ex.emit("Max", [norm, ex.scalar(f"{base}/epsilon", float(a.get("epsilon", 1e-12)))], f"{base}/clamp")
    return _Val(ex.emit("Div", [x.name, den], base), x.shape, x.batch1)


def _reduce_axes(ex: _Exporter, op_type: str, x: _Val, axes: List[int], keepdims: bool, name: str) -> str:
    if ex.opset >= 18:
        return ex.emit(op_type, [x.name, ex.ints(f"{name}/axes", axes)], name, keepdims=int(keepdims))
    return ex.emit(op_type, [x.name], name, axes=list(axes), keepdims=int(keepdims))


def _mean(ex: _Exporter, node, path, ins, a):
    x = ins[0]
    axes = [int(v) for v in a["axes"]]
    keep = bool(a.get("keepdims", True))
    shape = None
    if x.shape is not None:
        full = [_axis_full(v, len(x.shape) + 1) for v in axes]
        if any(v == 0 for v in full):
            raise _NodeError("the batch axis cannot be reduced")
        if keep:
            shape = tuple(1 if i + 1 in full else d for i, d in enumerate(x.shape))
        else:
            shape = tuple(d for i, d in enumerate(x.shape) if i + 1 not in full)
    return _Val(_reduce_axes(ex, "ReduceMean", x, axes, keep, path or "mean"), shape, x.batch1)


def _lrn(ex: _Exporter, node, path, ins, a):
    x = ins[0]
    size = int(a["size"])
    alpha, beta, bias = float(a.get("alpha", 1e-4)), float(a.get("beta", 0.75)), float(a.get("bias", 1.0))
    base = path or "lrn"
    if size % 2 == 1:
        y = ex.emit("LRN", [x.name], base, size=size, alpha=alpha, beta=beta, bias=bias)
        return _Val(y, x.shape, x.batch1)
    # An even window: swiftcnn (like torch) sums channels c − ⌊size/2⌋ … c + ⌊(size−1)/2⌋,
    # ONNX's LRN the mirror image, so the sum is written out: the mean of x² over the window
    # as an average pool (zero padding counted) on [N, 1, C, ...].
    rank = len(_need_shape(x, "lrn with an even size")) + 1
    sq = ex.emit("Mul", [x.name, x.name], f"{base}/square")
    sq = ex.emit("Unsqueeze", [sq, ex.ints(f"{base}/axes", [1])], f"{base}/unsqueeze")
    spatial = rank - 2
    kernel = [size] + [1] * spatial
    pads = [size // 2] + [0] * spatial + [(size - 1) // 2] + [0] * spatial
    avg = ex.emit("AveragePool", [sq], f"{base}/window_mean", kernel_shape=kernel, pads=pads, count_include_pad=1,
                  strides=[1] * len(kernel))
    avg = ex.emit("Squeeze", [avg, ex.ints(f"{base}/squeeze_axes", [1])], f"{base}/squeeze")
    d = ex.emit("Mul", [avg, ex.scalar(f"{base}/alpha", alpha)], f"{base}/scale")
    d = ex.emit("Add", [d, ex.scalar(f"{base}/bias", bias)], f"{base}/add_bias")
    d = ex.emit("Pow", [d, ex.scalar(f"{base}/beta", beta)], f"{base}/pow")
    return _Val(ex.emit("Div", [x.name, d], base), x.shape, x.batch1)


def _alias(ex: _Exporter, node, path, ins, a):
    return ins[0]


def _flatten(ex: _Exporter, node, path, ins, a):
    x = ins[0]
    if int(a.get("axis", 1)) != 1:
        raise _NodeError("flatten supports axis 1 only")
    shape = None if x.shape is None else (int(np.prod(x.shape)),)
    return _Val(ex.emit("Flatten", [x.name], path or "flatten", axis=1), shape, x.batch1)


def _reshape(ex: _Exporter, node, path, ins, a):
    x = ins[0]
    target = [int(v) for v in a["shape"]]
    base = path or "reshape"
    shape = None
    if x.shape is not None:
        count = int(np.prod(x.shape))
        known = int(np.prod([d for d in target if d != -1])) if any(d != -1 for d in target) else 1
        out = list(target)
        if -1 in out:
            if known <= 0 or count % known:
                raise _NodeError(f"cannot reshape {list(x.shape)} to {target}")
            out[out.index(-1)] = count // known
        elif known != count:
            raise _NodeError(f"cannot reshape {list(x.shape)} to {target}")
        shape = tuple(out)
    # the batch axis is copied from the input (0), so the batch stays dynamic
    y = ex.emit("Reshape", [x.name, ex.ints(f"{base}/shape", [0] + target)], base)
    return _Val(y, shape, x.batch1)


def _transpose(ex: _Exporter, node, path, ins, a):
    x = ins[0]
    perm = [int(p) for p in a["perm"]]
    full = len(perm)
    perm = [_axis_full(p, full) for p in perm]
    if perm[0] != 0:
        raise _NodeError("the batch axis must stay first (perm[0] == 0)")
    shape = None
    if x.shape is not None:
        if len(x.shape) + 1 != full:
            raise _NodeError(f"perm {perm} does not fit a value of shape {list(x.shape)}")
        shape = tuple(x.shape[p - 1] for p in perm[1:])
    return _Val(ex.emit("Transpose", [x.name], path or "transpose", perm=perm), shape, x.batch1)


def _resize_attrs(a, op: str) -> dict:
    """ONNX Resize attributes for an upsample's mode: nearest as torch's (floor of the
    asymmetric source coordinate), bilinear with or without align_corners."""
    mode = str(a.get("mode", "nearest"))
    if mode == "nearest":
        return dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    if mode == "bilinear":
        align = bool(a.get("align_corners", False))
        return dict(mode="linear", coordinate_transformation_mode="align_corners" if align else "pytorch_half_pixel")
    raise _NodeError(f"unknown {op} mode {mode!r}")


def _upsample(ex: _Exporter, node, path, ins, a):
    x = ins[0]
    base = path or "upsample"
    attrs = _resize_attrs(a, "upsample")
    c, h, w = _need_shape(x, "upsample")
    if a.get("sizes") is not None:
        oh, ow = _pair(a["sizes"])
        if ex.opset >= 18:
            sizes = ex.ints(f"{base}/sizes", [oh, ow])
            attrs["axes"] = [2, 3]
        else:
            shape = ex.emit("Shape", [x.name], f"{base}/shape")
            nc = ex.emit("Slice", [shape, ex.ints(f"{base}/start", [0]), ex.ints(f"{base}/end", [2])],
                         f"{base}/batch_channels")
            sizes = ex.emit("Concat", [nc, ex.ints(f"{base}/hw", [oh, ow])], f"{base}/sizes", axis=0)
        y = ex.emit("Resize", [x.name, "", "", sizes], base, **attrs)
    else:
        scales = a.get("scales")
        if scales is None:
            raise _NodeError("upsample needs \"sizes\" or \"scales\"")
        sh, sw = float(scales[0]), float(scales[1])
        oh, ow = int(math.floor(h * sh)), int(math.floor(w * sw))
        s = ex.const(f"{base}/scales", np.asarray([1.0, 1.0, sh, sw], dtype=np.float32))
        y = ex.emit("Resize", [x.name, "", s], base, **attrs)
    return _Val(y, (c, oh, ow), x.batch1)


def _upsample_like(ex: _Exporter, node, path, ins, a):
    """Resize of x to the height and width of ref, read at run time (Shape → Slice → Concat),
    so the exported graph resizes to the input's size for any input size."""
    x, ref = ins
    base = path or "upsample_like"
    attrs = _resize_attrs(a, "upsample_like")
    sx = ex.emit("Shape", [x.name], f"{base}/x_shape")
    nc = ex.emit("Slice", [sx, ex.ints(f"{base}/nc_start", [0]), ex.ints(f"{base}/nc_end", [2])], f"{base}/batch_channels")
    sr = ex.emit("Shape", [ref.name], f"{base}/ref_shape")
    hw = ex.emit("Slice", [sr, ex.ints(f"{base}/hw_start", [2]), ex.ints(f"{base}/hw_end", [4])], f"{base}/ref_hw")
    sizes = ex.emit("Concat", [nc, hw], f"{base}/sizes", axis=0)
    y = ex.emit("Resize", [x.name, "", "", sizes], base, **attrs)
    shape = None if x.shape is None or ref.shape is None else (x.shape[0], ref.shape[1], ref.shape[2])
    return _Val(y, shape, x.batch1)


def _zero_pad(ex: _Exporter, node, path, ins, a):
    x = ins[0]
    t, l, b, r = _pads4(a.get("pads"))
    base = path or "zero_pad2d"
    shape = None
    if x.shape is not None:
        c, h, w = x.shape
        shape = (c, h + t + b, w + l + r)
    y = ex.emit("Pad", [x.name, ex.ints(f"{base}/pads", [0, 0, t, l, 0, 0, b, r])], base, mode="constant")
    return _Val(y, shape, x.batch1)


def _binary(op_type: str):
    def f(ex: _Exporter, node, path, ins, a):
        x, y = ins
        shape = None if x.shape is None or y.shape is None else _broadcast(x.shape, y.shape)
        return _Val(ex.emit(op_type, [x.name, y.name], path or node["op"]), shape, x.batch1 and y.batch1)
    return f


def _concat_vals(ex: _Exporter, vals: List[_Val], axis: int, name: str) -> _Val:
    if any(v.poisoned for v in vals):
        return _POISON
    if not all(v.batch1 for v in vals):
        vals = [ex.expand(v, name) for v in vals]
    shape = None
    if all(v.shape is not None for v in vals):
        rank = len(vals[0].shape) + 1
        ax = _axis_full(axis, rank)
        if ax == 0:
            raise _NodeError("cannot concatenate along the batch axis")
        out = list(vals[0].shape)
        for v in vals[1:]:
            if len(v.shape) != len(out) or any(p != q for i, (p, q) in enumerate(zip(v.shape, out)) if i != ax - 1):
                raise _NodeError(f"cannot concatenate {list(vals[0].shape)} and {list(v.shape)} along axis {axis}")
        out[ax - 1] = sum(v.shape[ax - 1] for v in vals)
        shape = tuple(out)
    y = ex.emit("Concat", [v.name for v in vals], name, axis=int(axis))
    return _Val(y, shape, all(v.batch1 for v in vals))


def _concat(ex: _Exporter, node, path, ins, a):
    return _concat_vals(ex, list(ins), int(a.get("axis", 1)), path or "concat")


def _split(ex: _Exporter, node, path, ins, a):
    x = ins[0]
    axis = int(a.get("axis", 1))
    sizes = [int(s) for s in a["split"]]
    base = path or "split"
    shapes: List[Optional[Shape]] = [None] * len(sizes)
    if x.shape is not None:
        ax = _axis_full(axis, len(x.shape) + 1)
        if ax == 0 or ax > len(x.shape):
            raise _NodeError(f"axis {axis} out of range for {list(x.shape)}")
        if sum(sizes) != x.shape[ax - 1]:
            raise _NodeError(f"sizes {sizes} do not add up to dim {axis} of {list(x.shape)}")
        shapes = [tuple(s if i == ax - 1 else d for i, d in enumerate(x.shape)) for s in sizes]
    outs = [ex.fresh(f"{base}:{i}") for i in range(len(sizes))]
    ex.emit("Split", [x.name, ex.ints(f"{base}/split", sizes)], base, outputs=outs, axis=axis)
    return [_Val(o, s, x.batch1) for o, s in zip(outs, shapes)]


def _scaled_tanh(ex: _Exporter, node, path, ins, a):
    # 1.7159 · tanh(x · 2/3), in float32 as swiftcnn computes it
    x = ins[0]
    base = path or "scaled_tanh"
    t = ex.emit("Mul", [x.name, ex.scalar(f"{base}/two_thirds", np.float32(2.0 / 3.0))], f"{base}/scale_in")
    t = ex.emit("Tanh", [t], f"{base}/tanh")
    return _Val(ex.emit("Mul", [t, ex.scalar(f"{base}/amplitude", 1.7159)], base), x.shape, x.batch1)


def _subsampling(ex: _Exporter, node, path, ins, a):
    # weight[c] · (sum of each 2×2 block) + bias[c] = (4 · AveragePool 2×2) · weight + bias
    x = ins[0]
    c = int(a["channels"])
    base = path or "subsampling"
    w = ex.param(_join(path, "weight"), (c,))
    b = ex.param(_join(path, "bias"), (c,))
    shape = None
    if x.shape is not None:
        if x.shape[0] != c:
            raise _NodeError(f"expects {c} channels, got {x.shape[0]}")
        shape = (c, x.shape[1] // 2, x.shape[2] // 2)
    axes = ex.ints(f"{base}/hw_axes", [1, 2])
    w3 = ex.emit("Unsqueeze", [w, axes], f"{base}/weight_chw")
    b3 = ex.emit("Unsqueeze", [b, axes], f"{base}/bias_chw")
    p = ex.emit("AveragePool", [x.name], f"{base}/pool", kernel_shape=[2, 2], strides=[2, 2])
    s = ex.emit("Mul", [p, ex.scalar(f"{base}/four", 4.0)], f"{base}/sum")
    s = ex.emit("Mul", [s, w3], f"{base}/mul")
    return _Val(ex.emit("Add", [s, b3], base), shape, x.batch1)


def _partial_conv(ex: _Exporter, node, path, ins, a):
    # one dense convolution whose absent connections have zero kernels: the dense
    # [maps, in, k, k] weight is Gather(concat(zero kernel, weight), table)
    x = ins[0]
    cin = int(a["in_channels"])
    k = int(a["kernel_size"])
    conns = [[int(i) for i in row] for row in a["connections"]]
    links = sum(len(r) for r in conns)
    base = path or "partial_conv2d"
    w = ex.param(_join(path, "weight"), (links, k, k))
    b = ex.param(_join(path, "bias"), (len(conns),))
    table = np.zeros((len(conns), cin), dtype=np.int64)
    src = 1
    for j, row in enumerate(conns):
        for i in row:
            table[j, i] = src
            src += 1
    zero = ex.const(f"{base}/zero_kernel", np.zeros((1, k, k), dtype=np.float32))
    padded = ex.emit("Concat", [zero, w], f"{base}/kernels", axis=0)
    dense = ex.emit("Gather", [padded, ex.const(f"{base}/table", table, np.int64)], f"{base}/dense_weight", axis=0)
    shape = None
    if x.shape is not None:
        c, h, wd = x.shape
        if c != cin:
            raise _NodeError(f"expects {cin} input channels, got {c}")
        shape = (len(conns), h - k + 1, wd - k + 1)
    y = ex.emit("Conv", [x.name, dense, b], base, kernel_shape=[k, k])
    return _Val(y, shape, x.batch1)


def _rbf_codes(name: str, classes: int, features: int) -> np.ndarray:
    """LeNet-5's fixed RBF codes: swiftcnn seeded init v1 signs of the tensor `name`
    (+1 where the uniform draw is >= 0.5, else -1), seed 0."""
    from ..models import seeded_tensor
    u = seeded_tensor(name, (classes, features), 0.0, 1.0, 0)
    return np.where(u >= 0.5, 1.0, -1.0).astype(np.float32)


def _euclidean_rbf(ex: _Exporter, node, path, ins, a):
    # y[n, i] = Σ_j (x[n, j] − codes[i, j])²
    x = ins[0]
    f, classes = int(a["features"]), int(a["classes"])
    base = path or "euclidean_rbf"
    if x.shape is not None and x.shape != (f,):
        raise _NodeError(f"expects [N, {f}] input, got per-example shape {list(x.shape)}")
    try:
        codes = _rbf_codes(_join(path, "codes"), classes, f)
    except Exception as e:  # the compiled extension is needed for the generator
        raise _NodeError(f"cannot generate the RBF codes ({e})") from None
    if _join(path, "codes") in ex.taken:
        raise _NodeError(f"the name {_join(path, 'codes')!r} is already taken")
    cname = _join(path, "codes")
    ex.taken.add(cname)
    ex.inits[cname] = codes
    x3 = ex.emit("Unsqueeze", [x.name, ex.ints(f"{base}/axes", [1])], f"{base}/unsqueeze")
    d = ex.emit("Sub", [x3, cname], f"{base}/sub")
    d = ex.emit("Mul", [d, d], f"{base}/square")
    y = ex.emit("ReduceSum", [d, ex.ints(f"{base}/sum_axes", [2])], base, keepdims=0)
    return _Val(y, (classes,), x.batch1)


# ---- ops added to the schema after version 1's first release ----------------------------------

def _constant(ex: _Exporter, node, path, ins, a):
    shape = tuple(int(d) for d in a["shape"])
    key = path
    if not ex.has_param(key):
        raise _NodeError(f"the state_dict has no entry {key!r} (the constant's value)")
    arr = np.asarray(ex.weights[key], dtype=np.float32)
    if int(arr.size) != int(np.prod(shape)):
        raise _NodeError(f"{key!r} has shape {list(arr.shape)}, expected {list(shape)}")
    # an initializer [1] + shape, broadcast against the batch (expanded where needed); named
    # by the node unless a model output has that name (outputs keep theirs)
    name = key if key not in ex.output_names else ex.fresh(f"{key}.value")
    ex.inits[name] = arr.reshape((1,) + shape)
    return _Val(name, shape, batch1=True)


def _layer_norm(ex: _Exporter, node, path, ins, a):
    x = ins[0]
    if ex.opset < 17:
        raise _NodeError(f"layer_norm needs opset 17 or newer (LayerNormalization), exporting opset {ex.opset}")
    axis = int(a.get("axis", -1))
    eps = float(a.get("epsilon", 1e-5))
    shape = None
    if x.shape is not None:
        ax = _axis_full(axis, len(x.shape) + 1)
        if ax == 0:
            raise _NodeError("layer_norm cannot normalize over the batch axis")
        shape = x.shape[ax - 1:]
    inputs = [x.name, ex.param(_join(path, "weight"), shape)]
    if a.get("bias", True):
        inputs.append(ex.param(_join(path, "bias"), shape))
    y = ex.emit("LayerNormalization", inputs, path or "layer_norm", axis=axis, epsilon=eps)
    return _Val(y, x.shape, x.batch1)


def _slice(ex: _Exporter, node, path, ins, a):
    x = ins[0]
    base = path or "slice"
    starts = [int(v) for v in a["starts"]]
    ends = [int(v) for v in a["ends"]]
    axes = [int(v) for v in a["axes"]] if a.get("axes") is not None else list(range(1, len(starts) + 1))
    steps = [int(v) for v in a["steps"]] if a.get("steps") is not None else [1] * len(starts)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise _NodeError("starts, ends, axes and steps must have the same length")
    shape = None
    if x.shape is not None:
        rank = len(x.shape) + 1
        out = list(x.shape)
        for s, e, ax, st in zip(starts, ends, axes, steps):
            axf = _axis_full(ax, rank)
            if axf == 0:
                raise _NodeError("the batch axis cannot be sliced")
            if st == 0:
                raise _NodeError("a slice step cannot be 0")
            out[axf - 1] = len(range(*slice(s, e, st).indices(out[axf - 1])))
        shape = tuple(out)
    y = ex.emit("Slice", [x.name, ex.ints(f"{base}/starts", starts), ex.ints(f"{base}/ends", ends),
                          ex.ints(f"{base}/axes", axes), ex.ints(f"{base}/steps", steps)], base)
    return _Val(y, shape, x.batch1)


def _gather(ex: _Exporter, node, path, ins, a):
    x = ins[0]
    base = path or "gather"
    axis = int(a.get("axis", 1))
    idx = np.asarray([int(v) for v in a["indices"]], dtype=np.int64)
    ishape = a.get("indices_shape")
    ishape = tuple(int(d) for d in ishape) if ishape is not None else (idx.size,)
    idx = idx.reshape(ishape)
    shape = None
    if x.shape is not None:
        axf = _axis_full(axis, len(x.shape) + 1)
        if axf == 0:
            raise _NodeError("cannot gather along the batch axis")
        shape = x.shape[:axf - 1] + ishape + x.shape[axf:]
    y = ex.emit("Gather", [x.name, ex.const(f"{base}/indices", idx, np.int64)], base, axis=axis)
    return _Val(y, shape, x.batch1)


_OPS = {
    "conv2d": _conv2d,
    "batch_norm2d": _batch_norm,
    "linear": _linear,
    "relu": _unary("Relu"),
    "tanh": _unary("Tanh"),
    "sigmoid": _unary("Sigmoid"),
    "silu": _silu,
    "hardswish": _hardswish,
    "hardsigmoid": _hardsigmoid,
    "clip": _clip,
    "leaky_relu": _leaky_relu,
    "gelu": _gelu,
    "softmax": _softmax,
    "max_pool2d": _pool("MaxPool"),
    "avg_pool2d": _pool("AveragePool"),
    "adaptive_avg_pool2d": _adaptive_avg_pool,
    "global_max_pool2d": _global_max_pool,
    "l2_normalize": _l2_normalize,
    "mean": _mean,
    "lrn": _lrn,
    "dropout": _alias,
    "identity": _alias,
    "flatten": _flatten,
    "reshape": _reshape,
    "transpose": _transpose,
    "upsample": _upsample,
    "upsample_like": _upsample_like,
    "zero_pad2d": _zero_pad,
    "add": _binary("Add"),
    "sub": _binary("Sub"),
    "mul": _binary("Mul"),
    "div": _binary("Div"),
    "concat": _concat,
    "split": _split,
    "scaled_tanh": _scaled_tanh,
    "subsampling": _subsampling,
    "partial_conv2d": _partial_conv,
    "euclidean_rbf": _euclidean_rbf,
    "constant": _constant,
    "layer_norm": _layer_norm,
    "erf": _unary("Erf"),
    "sqrt": _unary("Sqrt"),
    "exp": _unary("Exp"),
    "log": _unary("Log"),
    "neg": _unary("Neg"),
    "abs": _unary("Abs"),
    "reciprocal": _unary("Reciprocal"),
    "slice": _slice,
    "gather": _gather,
}

SUPPORTED_OPS = frozenset(_OPS) | frozenset(_CONTAINERS)
"""Every op of the graph schema the exporter handles."""


def export(model: Any, path: Any, *, opset: int = 17, dynamic_batch: bool = True) -> Any:
    """Writes ``model`` (a :class:`swiftcnn.Model`) to ``path`` as an ONNX file and returns
    the ``onnx.ModelProto``.

    opset: the ONNX opset of the default domain, 13 or newer (``layer_norm`` needs 17;
    from 20, ``gelu`` is one Gelu node). dynamic_batch: the batch axis of the input and
    outputs is the symbolic dimension ``"N"`` (True) or 1.

    The result passes ``onnx.checker.check_model(full_check=True)`` (with shape inference)
    before anything is written; the file is written atomically. Raises ValueError listing
    every node that cannot be exported (path and op), ValueError for a bad opset, TypeError
    for arguments of the wrong type, OSError when the file cannot be written.
    """
    import onnx

    if isinstance(opset, bool) or not isinstance(opset, int):
        raise TypeError(f"opset: expected an int, got {type(opset).__name__}")
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise ValueError(f"opset: {opset} is not supported (the exporter writes opsets {MIN_OPSET} to {newest})")
    if not isinstance(dynamic_batch, bool):
        raise TypeError(f"dynamic_batch: expected a bool, got {type(dynamic_batch).__name__}")
    try:
        target = os.fspath(path)
    except TypeError:
        raise TypeError(f"path: expected str, bytes or os.PathLike, got {type(path).__name__}") from None
    if isinstance(target, bytes):
        target = os.fsdecode(target)
    if not hasattr(model, "to_json") or not hasattr(model, "state_dict"):
        raise TypeError(f"model: expected a swiftcnn.Model, got {type(model).__name__}")

    proto = _Exporter(model, opset, dynamic_batch).run()
    data = proto.SerializeToString()
    if len(data) >= 2 ** 31:
        raise ValueError("swiftcnn.onnx.export: the model is 2 GiB or larger, beyond what one ONNX protobuf "
                         "holds (external data is not supported)")
    onnx.checker.check_model(data, full_check=True)
    from .._core import write_atomic
    write_atomic(target, data)
    return proto
