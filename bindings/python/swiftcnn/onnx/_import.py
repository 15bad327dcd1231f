"""ONNX → swiftcnn: the importer behind :func:`swiftcnn.onnx.load` and :func:`convert`.

The file is parsed and checked by the ``onnx`` package; this module walks the graph once,
in topological order, and gives every ONNX value one of three meanings:

- a **constant** (:class:`Const`): an initializer, a ``Constant`` node, or anything computed
  from constants only -- including the shape arithmetic that exporters write
  (``Shape → Gather → Unsqueeze → Concat → Reshape``), which is folded with numpy;
- a **tensor** (:class:`Tensor`): a value the swiftcnn graph computes, with its full ONNX
  shape (the batch axis first);
- **poisoned**: downstream of a node that cannot be imported; its shape comes from ONNX's
  own shape inference so that the nodes after it are still checked, and every unsupported
  node is reported at once.

The batch axis. swiftcnn graphs describe one example; the batch axis is implicit and may
not be reduced, moved or mixed into other axes. The importer therefore runs with a
symbolic batch: ``Shape`` of a tensor yields :data:`BATCH` (a large prime no real shape
uses) in position 0, so a ``Reshape`` target computed from it is recognised as keeping the
batch axis, whether the file's batch is a fixed 1 or a named dimension.

Rank. swiftcnn tensors have rank 1 to 4 (batch included). Exporters write rank-5 views
for channel shuffles (``Reshape [N, g, C/g, H, W] → Transpose → Reshape``); a tensor whose
ONNX rank exceeds 4 is kept as a view of a rank-≤4 physical layout with the same element
order, and a transpose of it is rewritten on merged axes (``[N, g, C/g, H·W]``).
"""
from __future__ import annotations

import math
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .._swiftcnn import FormatError, UnsupportedError

# A batch size no real tensor has: `Shape` reports it for the batch axis so that folded
# shape arithmetic can tell "the batch" from a literal dimension.
BATCH = 1_000_003
MIN_OPSET = 11
MAX_OPSET = 21
MAX_RANK = 4
# Largest constant the folder materialises (elements); bigger ones are almost certainly a
# shape that involves the symbolic batch.
MAX_FOLDED = 1 << 26


class ImportProblem(Exception):
    """One node that cannot be imported: the reason (collected, then reported together)."""


@dataclass
class Const:
    value: np.ndarray


@dataclass
class Tensor:
    name: str                    # the swiftcnn value (node output) holding it
    shape: Tuple[int, ...]       # the ONNX shape, batch first (BATCH for a dynamic batch)
    phys: Tuple[int, ...] = ()   # the physical shape in swiftcnn when rank > 4 (same order)

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def physical(self) -> Tuple[int, ...]:
        return self.phys or self.shape


@dataclass
class Poisoned:
    shape: Optional[Tuple[int, ...]]


Value = Any  # Const | Tensor | Poisoned


@dataclass
class Built:
    """What the importer produces: swiftcnn's graph JSON and the weights by name."""
    doc: Dict[str, Any]
    weights: "OrderedDict[str, np.ndarray]"
    input_name: str
    output_names: List[str]


# ---- reading attributes --------------------------------------------------------------------

def _attrs(node) -> Dict[str, Any]:
    import onnx
    out = {}
    for a in node.attribute:
        out[a.name] = onnx.helper.get_attribute_value(a)
    for k, v in list(out.items()):
        if isinstance(v, bytes):
            out[k] = v.decode("utf-8", "replace")
    return out


def _pairs(v: Sequence[int], what: str) -> Tuple[int, int]:
    v = [int(x) for x in v]
    if len(v) != 2:
        raise ImportProblem(f"{what} must have 2 entries (2-D only); got {v}")
    return v[0], v[1]


def torch_module_path(node_name: str) -> Optional[str]:
    """The module path in a torch exporter's node name: its scopes name each module by its
    parent's scope plus the attribute (`/features/features.1/conv/conv.0/conv.0.0/Conv` is
    module `features.1.conv.0.0`); None when the name has no scopes."""
    parts = [p for p in node_name.split("/") if p]
    if len(parts) < 2 or not node_name.startswith("/"):
        return None
    path: List[str] = []
    prev = None
    for comp in parts[:-1]:
        if prev is not None and comp.startswith(prev + "."):
            path.append(comp[len(prev) + 1:])
        else:
            path.append(comp)
        prev = comp
    out = ".".join(path)
    return out or None


# ---- the importer --------------------------------------------------------------------------

class Importer:
    def __init__(self, model, input_shape: Optional[Sequence[int]] = None, name: Optional[str] = None):
        import onnx
        self.onnx = onnx
        self.model = model
        self.graph = model.graph
        self.opset = self._opset()
        self.values: Dict[str, Value] = {}
        self.nodes: List[Dict[str, Any]] = []
        self.weights: "OrderedDict[str, np.ndarray]" = OrderedDict()
        self.used_names: set = set()
        self.problems: List[str] = []
        self.user_input_shape = tuple(int(d) for d in input_shape) if input_shape is not None else None
        self.model_name = name
        self.inferred: Dict[str, Optional[Tuple[int, ...]]] = {}
        self.readers: Dict[str, int] = {}
        self.const_readers: Dict[str, List[str]] = {}
        self.scope_last: Dict[str, Any] = {}
        self.file_batch: Optional[int] = None
        self.reserved: set = set()

    # -- setup --

    def _opset(self) -> int:
        version = None
        others = []
        for o in self.model.opset_import:
            if o.domain in ("", "ai.onnx"):
                version = int(o.version)
            else:
                others.append(o.domain)
        if version is None:
            raise FormatError("onnx: the file imports no default-domain (ai.onnx) opset")
        if not (MIN_OPSET <= version <= MAX_OPSET):
            raise UnsupportedError(
                f"onnx: opset {version} is outside the supported range {MIN_OPSET}–{MAX_OPSET} "
                f"(re-export with opset_version between them, or convert with onnx.version_converter)")
        return version

    def _infer_shapes(self) -> None:
        try:
            inferred = self.onnx.shape_inference.infer_shapes(_light(self.model), data_prop=True)
        except Exception:  # shape inference is only a fallback for error reports
            return
        for vi in list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input):
            t = vi.type.tensor_type
            if not t.HasField("shape"):
                continue
            dims = []
            for i, d in enumerate(t.shape.dim):
                if d.HasField("dim_value"):
                    dims.append(int(d.dim_value))
                elif i == 0:
                    dims.append(BATCH)
                else:
                    dims = None
                    break
            self.inferred[vi.name] = tuple(dims) if dims is not None else None

    # -- naming --

    def fresh(self, base: str) -> str:
        base = base.replace(":", "_") or "node"
        name = base
        k = 1
        while name in self.used_names or name in self.reserved:
            k += 1
            name = f"{base}_{k}"
        self.used_names.add(name)
        return name

    def module_path(self, node, param: Optional[str]) -> str:
        """A torch-like node name: the weight initializer's name without `.weight` when it has
        one (so parameters keep their state_dict names), else the module path of a torch
        exporter's node name (`/features/features.0/features.0.0/Conv` → `features.0.0`),
        else the ONNX node name."""
        if param:
            for suffix in (".weight", ".scale", ".gamma"):
                if param.endswith(suffix) and len(param) > len(suffix):
                    cand = param[: -len(suffix)]
                    if cand not in self.used_names and cand not in self.reserved and ":" not in cand:
                        self.used_names.add(cand)
                        return cand
        return self.node_name(node)

    def node_name(self, node) -> str:
        """The torch module path for the last node of its module's scope (the module's
        output: `features.0.2` for a ReLU6, `layer1.0` for a block's final ReLU), else the
        ONNX node name."""
        nm = node.name or ""
        cand = torch_module_path(nm)
        if cand and self.scope_last.get(cand) is node and cand not in self.used_names \
                and cand not in self.reserved and ":" not in cand:
            self.used_names.add(cand)
            return cand
        return self.fresh(nm or f"{node.op_type}_{len(self.nodes)}")

    # -- emitting --

    def emit(self, name: str, op: str, inputs: Sequence[str], attrs: Optional[Dict[str, Any]] = None,
             weights: Optional[Dict[str, np.ndarray]] = None) -> str:
        node: Dict[str, Any] = {"name": name, "op": op, "inputs": list(inputs)}
        if attrs:
            node["attrs"] = attrs
        self.nodes.append(node)
        for k, v in (weights or {}).items():
            full = f"{name}.{k}" if k else name
            if full in self.weights:
                raise ImportProblem(f"two parameters named {full!r}")
            self.weights[full] = np.ascontiguousarray(v, dtype=np.float32)
        return name

    def tensor(self, v: Value, what: str) -> Tensor:
        if isinstance(v, Tensor):
            if v.rank > MAX_RANK:
                raise ImportProblem(
                    f"{what} has rank {v.rank} (shape {self.show(v.shape)}); swiftcnn tensors have rank 1 to 4 "
                    f"(rank-5/6 views are supported only between Reshape and Transpose)")
            return v
        if isinstance(v, Const):
            raise ImportProblem(f"{what} is a constant where the engine needs a computed tensor")
        raise ImportProblem(f"{what} is not available")

    @staticmethod
    def show(shape: Sequence[int]) -> str:
        return "[" + ", ".join("N" if d == BATCH else str(d) for d in shape) + "]"

    def const_node(self, c: np.ndarray, like: Tensor, base: str, init_name: Optional[str]) -> Tensor:
        """A float constant as a swiftcnn `constant` node, aligned with `like` by ONNX
        broadcasting: its per-example shape has like's rank minus the batch axis."""
        c = np.asarray(c, dtype=np.float32)
        r = like.rank
        if c.ndim > r:
            raise ImportProblem(f"constant of shape {list(c.shape)} has a higher rank than the tensor {self.show(like.shape)}")
        full = (1,) * (r - c.ndim) + tuple(c.shape)
        if full[0] != 1:
            raise ImportProblem(
                f"constant of shape {list(c.shape)} varies along the batch axis (axis 0 of {self.show(like.shape)}); "
                f"swiftcnn constants are the same for every example")
        per = full[1:]
        if len(per) == 0:
            raise ImportProblem("a rank-1 tensor has no per-example axes to hold a constant")
        name = self.module_path_for_const(init_name, base)
        self.emit(name, "constant", [], {"shape": list(per)}, {"": c.reshape(per)})
        return Tensor(name, (BATCH,) + per)

    def module_path_for_const(self, init_name: Optional[str], base: str) -> str:
        if init_name and ":" not in init_name and not init_name.startswith("onnx::") and init_name not in self.used_names \
                and init_name not in self.reserved and init_name not in self.weights:
            self.used_names.add(init_name)
            return init_name
        return self.fresh(base + "/const")

    # -- the walk --

    def run(self) -> Built:
        g = self.graph
        inits = {t.name for t in g.initializer}
        for t in g.initializer:
            self.values[t.name] = self.read_initializer(t)
        for sp in g.sparse_initializer:
            self.problems.append(f"sparse initializer {sp.values.name!r}: sparse tensors are not supported")
        inputs = [i for i in g.input if i.name not in inits]
        if len(inputs) != 1:
            names = ", ".join(repr(i.name) for i in inputs) or "none"
            raise UnsupportedError(
                f"onnx: a swiftcnn model has one input; this graph has {len(inputs)} ({names}). "
                f"Turn the others into initializers (constants) first.")
        # Graph outputs keep their ONNX names: no other node may take them.
        self.reserved = {o.name.replace(":", "_") for o in g.output}
        inp = inputs[0]
        in_shape = self.input_shape(inp)
        d0 = inp.type.tensor_type.shape.dim[0] if inp.type.tensor_type.shape.dim else None
        self.file_batch = int(d0.dim_value) if d0 is not None and d0.HasField("dim_value") else None
        self.input_name = self.fresh(inp.name)
        self.values[inp.name] = Tensor(self.input_name, in_shape)
        for n in g.node:
            for i in n.input:
                if i:
                    self.readers[i] = self.readers.get(i, 0) + 1
        for o in g.output:
            self.readers[o.name] = self.readers.get(o.name, 0) + 1
        order = self.toposort(g.node)
        self.scope_last = {}
        for node in order:
            p = torch_module_path(node.name or "")
            if p:
                self.scope_last[p] = node
        for node in order:
            try:
                self.visit(node)
            except ImportProblem as e:
                if not self.problems:
                    self._infer_shapes()  # fallback shapes, so later nodes are still checked
                self.problems.append(f"{node.op_type} node {node.name or '(unnamed)'!r}: {e}")
                for o in node.output:
                    if o:
                        self.values[o] = Poisoned(self.inferred.get(o))
        outputs = []
        for o in g.output:
            v = self.values.get(o.name)
            if isinstance(v, Poisoned) or v is None:
                continue
            try:
                if isinstance(v, Const):
                    raise ImportProblem("the output is a constant (it does not depend on the input)")
                t = self.tensor(v, f"output {o.name!r}")
                outputs.append(self.name_output(o.name, t))
            except ImportProblem as e:
                self.problems.append(f"graph output {o.name!r}: {e}")
        if self.problems:
            listing = "\n".join(f"  - {p}" for p in self.problems)
            raise UnsupportedError(
                f"onnx: {len(self.problems)} node(s) cannot be imported into swiftcnn:\n{listing}")
        per_example = list(in_shape[1:])
        doc = {
            "version": 1,
            "name": self.model_name or (g.name or "onnx_model"),
            "input_shape": per_example,
            "any_input_size": False,
            "network": {"op": "graph", "name": "", "graph": {
                "inputs": [self.input_name], "nodes": self.nodes, "outputs": outputs}},
        }
        return Built(doc, self.weights, self.input_name, outputs)

    def name_output(self, onnx_name: str, t: Tensor) -> str:
        """Graph outputs keep their ONNX names: the producing node is renamed when it has no
        parameters and its name is free, else an identity node carries the name."""
        if t.phys and t.phys != t.shape:
            t = self.view(t, t.shape, f"{onnx_name}/reshape")
        wanted = onnx_name.replace(":", "_")
        if t.name == wanted:
            return wanted
        if wanted in self.reserved and wanted not in self.used_names:
            self.reserved.discard(wanted)
        node = next((n for n in self.nodes if n["name"] == t.name), None)
        if node is not None and wanted not in self.used_names and not any(
                w == node["name"] or w.startswith(node["name"] + ".") for w in self.weights) \
                and not any(t.name in n["inputs"] for n in self.nodes):
            self.used_names.discard(t.name)
            self.used_names.add(wanted)
            node["name"] = wanted
            return wanted
        name = self.fresh(wanted)
        self.emit(name, "identity", [t.name])
        return name

    def input_shape(self, inp) -> Tuple[int, ...]:
        import onnx
        t = inp.type.tensor_type
        if t.elem_type != onnx.TensorProto.FLOAT:
            raise UnsupportedError(
                f"onnx: input {inp.name!r} has element type {onnx.TensorProto.DataType.Name(t.elem_type)}; "
                f"swiftcnn models take float32")
        dims: List[Optional[int]] = []
        for d in t.shape.dim:
            dims.append(int(d.dim_value) if d.HasField("dim_value") else None)
        if self.user_input_shape is not None:
            if dims and len(self.user_input_shape) != len(dims) - 1:
                raise ValueError(
                    f"onnx: input_shape {list(self.user_input_shape)} has {len(self.user_input_shape)} dims; "
                    f"input {inp.name!r} has {len(dims) - 1} per example")
            for i, (have, want) in enumerate(zip(dims[1:], self.user_input_shape)):
                if have is not None and have != want:
                    raise FormatError(f"onnx: input_shape {list(self.user_input_shape)} disagrees with the file's "
                                     f"dimension {i + 1} ({have})")
            per = self.user_input_shape
        else:
            if not dims:
                raise FormatError(f"onnx: input {inp.name!r} has no shape; pass input_shape=(C, H, W)")
            if any(d is None for d in dims[1:]):
                raise FormatError(f"onnx: input {inp.name!r} has dynamic dimensions besides the batch "
                                 f"({[d if d is not None else '?' for d in dims]}); pass input_shape=(C, H, W)")
            per = tuple(dims[1:])
        if len(per) < 1 or len(per) > MAX_RANK - 1 or any(d < 1 for d in per):
            raise UnsupportedError(f"onnx: input {inp.name!r} of per-example shape {list(per)}: swiftcnn "
                                      f"inputs have 1 to 3 dims per example, each at least 1")
        return (BATCH,) + tuple(per)

    def read_initializer(self, t) -> Const:
        from onnx import numpy_helper
        try:
            arr = numpy_helper.to_array(t)
        except Exception as e:
            raise FormatError(f"onnx: initializer {t.name!r} cannot be read: {e}") from None
        return Const(np.array(arr))

    def toposort(self, nodes) -> List[Any]:
        nodes = list(nodes)
        produced = {}
        for i, n in enumerate(nodes):
            for o in n.output:
                if o:
                    produced[o] = i
        state = [0] * len(nodes)
        order: List[Any] = []
        for start in range(len(nodes)):
            if state[start]:
                continue
            stack = [(start, 0)]
            while stack:
                i, k = stack.pop()
                if k == 0:
                    if state[i] == 2:
                        continue
                    state[i] = 1
                deps = [produced[x] for x in nodes[i].input if x in produced]
                if k < len(deps):
                    stack.append((i, k + 1))
                    j = deps[k]
                    if state[j] == 0:
                        stack.append((j, 0))
                    elif state[j] == 1:
                        raise FormatError(f"onnx: the graph has a cycle through node {nodes[j].name!r}")
                    continue
                state[i] = 2
                order.append(nodes[i])
        return order

    # -- helpers for op handlers --

    def get(self, node, i: int) -> Optional[Value]:
        if i >= len(node.input) or not node.input[i]:
            return None
        name = node.input[i]
        if name not in self.values:
            raise ImportProblem(f"input {name!r} is not defined")
        v = self.values[name]
        if isinstance(v, Poisoned):
            if v.shape is None:
                raise _Skip()
            # Downstream of an unsupported node: stand in a tensor of ONNX's inferred shape
            # so that this node's own problems are found too (no model is built).
            return Tensor("(unavailable)", v.shape)
        return v

    def const(self, node, i: int, what: str, required: bool = True) -> Optional[np.ndarray]:
        v = self.get(node, i)
        if v is None:
            if required:
                raise ImportProblem(f"{what} (input {i}) is missing")
            return None
        if not isinstance(v, Const):
            raise ImportProblem(f"{what} (input {i}) must be a constant (an initializer or folded shape "
                                f"arithmetic); here it is computed from the input")
        return v.value

    def ints(self, arr: Optional[np.ndarray]) -> Optional[List[int]]:
        if arr is None:
            return None
        return [int(x) for x in np.asarray(arr).reshape(-1)]

    def axis(self, a: int, rank: int, what: str = "axis") -> int:
        if not -rank <= a < rank:
            raise ImportProblem(f"{what} {a} is out of range for rank {rank}")
        return a + rank if a < 0 else a

    def check_attrs(self, node, allowed: Dict[str, Any]) -> Dict[str, Any]:
        """The node's attributes, with an error naming each one that is unknown or has a value
        the engine does not support (`allowed` maps a name to None = any value, or to a
        predicate)."""
        a = _attrs(node)
        bad = []
        for k, v in a.items():
            if k not in allowed:
                bad.append(f"attribute {k}={v!r} is not supported")
            elif allowed[k] is not None and not allowed[k](v):
                bad.append(f"attribute {k}={v!r} is not supported")
        if bad:
            raise ImportProblem("; ".join(bad))
        return a

    def view(self, t: Tensor, shape: Tuple[int, ...], base: str) -> Tensor:
        """t reshaped to `shape` (same batch, same element order)."""
        if len(shape) > MAX_RANK:
            phys = self.merge_trailing(shape)
        else:
            phys = ()
        target = phys or shape
        if tuple(target) == tuple(t.physical):
            return Tensor(t.name, tuple(shape), tuple(phys))
        name = self.fresh(base)
        self.emit(name, "reshape", [t.name], {"shape": [int(d) for d in target[1:]]})
        return Tensor(name, tuple(shape), tuple(phys))

    @staticmethod
    def merge_trailing(shape: Sequence[int]) -> Tuple[int, ...]:
        s = list(shape)
        while len(s) > MAX_RANK:
            s[-2] = s[-2] * s[-1]
            s.pop()
        return tuple(s)

    def set(self, node, *vals: Value) -> None:
        for o, v in zip(node.output, vals):
            if o:
                self.values[o] = v

    # -- dispatch --

    def visit(self, node) -> None:
        if node.domain not in ("", "ai.onnx"):
            raise ImportProblem(f"operator domain {node.domain!r} is not supported")
        try:
            ins = [self.get(node, i) for i in range(len(node.input))]
        except _Skip:
            for o in node.output:
                if o:
                    self.values[o] = Poisoned(self.inferred.get(o))
            if node.op_type not in HANDLERS and node.op_type not in FOLDERS and node.op_type != "Constant":
                raise ImportProblem("operator not supported by swiftcnn")
            return
        op = node.op_type
        if ins and all(v is None or isinstance(v, Const) for v in ins) and op in FOLDERS and op != "Constant":
            out = FOLDERS[op](self, node, [None if v is None else v.value for v in ins])
            self.set(node, *[Const(np.asarray(x)) for x in out])
            return
        if op == "Constant":
            self.set(node, Const(self.constant_value(node)))
            return
        handler = HANDLERS.get(op)
        if handler is None:
            raise ImportProblem("operator not supported by swiftcnn")
        if op == "Shape":
            out = handler(self, node, ins)
        else:
            for v in ins:
                if isinstance(v, Tensor) and v.rank > MAX_RANK and op not in ("Reshape", "Transpose", "Identity"):
                    raise ImportProblem(f"an input has rank {v.rank}; swiftcnn tensors have rank 1 to 4")
            out = handler(self, node, ins)
        if not isinstance(out, (list, tuple)):
            out = [out]
        self.set(node, *out)

    def constant_value(self, node) -> np.ndarray:
        from onnx import numpy_helper
        a = _attrs(node)
        if "value" in a:
            return np.array(numpy_helper.to_array(a["value"]))
        for k, dt in (("value_float", np.float32), ("value_int", np.int64)):
            if k in a:
                return np.array(a[k], dtype=dt)
        for k, dt in (("value_floats", np.float32), ("value_ints", np.int64)):
            if k in a:
                return np.array(list(a[k]), dtype=dt)
        raise ImportProblem(f"Constant with attribute(s) {sorted(a)} is not supported (sparse or string values)")


class _Skip(Exception):
    """An input is poisoned: the node is skipped without a report of its own."""


# ---- folding: ops evaluated with numpy when every input is a constant -----------------------

def _fold_guard(arr: np.ndarray) -> np.ndarray:
    if arr.size > MAX_FOLDED:
        raise ImportProblem(f"folding would create a constant of {arr.size} elements (shape {list(arr.shape)}); "
                            f"it probably depends on the batch size, which swiftcnn keeps dynamic")
    return arr


def _np_binary(fn):
    def f(imp, node, xs):
        a, b = xs[0], xs[1]
        r = fn(a, b)
        if np.issubdtype(np.asarray(a).dtype, np.integer) and node.op_type == "Div":
            r = np.trunc(np.asarray(a, dtype=np.float64) / b).astype(np.asarray(a).dtype)
        return [_fold_guard(np.asarray(r).astype(np.result_type(a, b)) if node.op_type != "Div" else np.asarray(r))]
    return f


def _fold_gather(imp, node, xs):
    a = _attrs(node)
    data, idx = np.asarray(xs[0]), np.asarray(xs[1]).astype(np.int64)
    axis = int(a.get("axis", 0))
    axis = imp.axis(axis, data.ndim)
    idx = np.where(idx < 0, idx + data.shape[axis], idx)
    if np.any(idx < 0) or np.any(idx >= data.shape[axis]):
        raise ImportProblem(f"Gather index out of range for axis {axis} of size {data.shape[axis]}")
    return [np.take(data, idx, axis=axis)]


def _unsqueeze_axes(imp, node, xs):
    a = _attrs(node)
    if imp.opset >= 13:
        return imp.ints(xs[1]) if len(xs) > 1 and xs[1] is not None else []
    return [int(x) for x in a.get("axes", [])]


def _fold_unsqueeze(imp, node, xs):
    data = np.asarray(xs[0])
    axes = _unsqueeze_axes(imp, node, xs)
    r = data.ndim + len(axes)
    axes = sorted(imp.axis(x, r) for x in axes)
    out = data
    for ax in axes:
        out = np.expand_dims(out, ax)
    return [out]


def _fold_squeeze(imp, node, xs):
    data = np.asarray(xs[0])
    axes = _unsqueeze_axes(imp, node, xs)
    if not axes:
        return [np.squeeze(data)]
    return [np.squeeze(data, axis=tuple(imp.axis(x, data.ndim) for x in axes))]


def _fold_concat(imp, node, xs):
    a = _attrs(node)
    arrs = [np.asarray(x) for x in xs if x is not None]
    axis = imp.axis(int(a["axis"]), arrs[0].ndim)
    return [_fold_guard(np.concatenate(arrs, axis=axis))]


def _slice_params(imp, node, xs, rank):
    a = _attrs(node)
    if imp.opset >= 10:
        starts = imp.ints(xs[1])
        ends = imp.ints(xs[2])
        axes = imp.ints(xs[3]) if len(xs) > 3 and xs[3] is not None else list(range(len(starts)))
        steps = imp.ints(xs[4]) if len(xs) > 4 and xs[4] is not None else [1] * len(starts)
    else:
        starts, ends = list(a["starts"]), list(a["ends"])
        axes = list(a.get("axes", range(len(starts))))
        steps = [1] * len(starts)
    if not (len(starts) == len(ends) == len(axes) == len(steps)):
        raise ImportProblem("Slice starts, ends, axes and steps differ in length")
    return starts, ends, [imp.axis(x, rank) for x in axes], steps


def _fold_slice(imp, node, xs):
    data = np.asarray(xs[0])
    starts, ends, axes, steps = _slice_params(imp, node, xs, data.ndim)
    sl = [slice(None)] * data.ndim
    for s, e, ax, st in zip(starts, ends, axes, steps):
        if st == 0:
            raise ImportProblem("Slice step 0")
        n = data.shape[ax]
        s = max(-n - 1, min(s, n + 1)) if abs(s) > n else s
        e = max(-n - 1, min(e, n + 1)) if abs(e) > n else e
        sl[ax] = slice(s, e, st)
    return [data[tuple(sl)]]


def _fold_reshape(imp, node, xs):
    data = np.asarray(xs[0])
    shape = imp.ints(xs[1])
    allowzero = int(_attrs(node).get("allowzero", 0))
    shape = [data.shape[i] if (d == 0 and not allowzero) else d for i, d in enumerate(shape)]
    return [data.reshape(shape)]


def _fold_cast(imp, node, xs):
    import onnx
    to = int(_attrs(node)["to"])
    dt = onnx.helper.tensor_dtype_to_np_dtype(to)
    return [np.asarray(xs[0]).astype(dt)]


def _fold_constant_of_shape(imp, node, xs):
    from onnx import numpy_helper
    shape = imp.ints(xs[0])
    a = _attrs(node)
    val = np.array(numpy_helper.to_array(a["value"])).reshape(-1)[0] if "value" in a else np.float32(0)
    if any(d == BATCH for d in shape):
        raise ImportProblem("ConstantOfShape of a shape that involves the batch size")
    return [_fold_guard(np.full(shape, val, dtype=np.asarray(val).dtype))]


def _fold_range(imp, node, xs):
    start, limit, delta = (np.asarray(x).reshape(()) for x in xs[:3])
    return [_fold_guard(np.arange(start, limit, delta).astype(start.dtype))]


def _fold_expand(imp, node, xs):
    shape = imp.ints(xs[1])
    data = np.asarray(xs[0])
    out_shape = np.broadcast_shapes(data.shape, tuple(shape))
    return [_fold_guard(np.broadcast_to(data, out_shape).copy())]


def _fold_transpose(imp, node, xs):
    a = _attrs(node)
    data = np.asarray(xs[0])
    perm = a.get("perm")
    return [np.transpose(data, perm if perm is not None else None)]


def _fold_where(imp, node, xs):
    return [np.where(np.asarray(xs[0]).astype(bool), xs[1], xs[2])]


def _fold_unary(fn):
    return lambda imp, node, xs: [np.asarray(fn(np.asarray(xs[0])))]


def _fold_identity(imp, node, xs):
    return [np.asarray(xs[0])]


FOLDERS: Dict[str, Callable] = {
    "Add": _np_binary(np.add), "Sub": _np_binary(np.subtract), "Mul": _np_binary(np.multiply),
    "Div": _np_binary(lambda a, b: np.divide(a, b)),
    "Equal": lambda imp, node, xs: [np.equal(xs[0], xs[1])],
    "Less": lambda imp, node, xs: [np.less(xs[0], xs[1])],
    "Greater": lambda imp, node, xs: [np.greater(xs[0], xs[1])],
    "Max": lambda imp, node, xs: [np.maximum.reduce([np.asarray(x) for x in xs])],
    "Min": lambda imp, node, xs: [np.minimum.reduce([np.asarray(x) for x in xs])],
    "Gather": _fold_gather, "Unsqueeze": _fold_unsqueeze, "Squeeze": _fold_squeeze,
    "Concat": _fold_concat, "Slice": _fold_slice, "Reshape": _fold_reshape, "Cast": _fold_cast,
    "ConstantOfShape": _fold_constant_of_shape, "Range": _fold_range, "Expand": _fold_expand,
    "Transpose": _fold_transpose, "Where": _fold_where, "Identity": _fold_identity,
    "Floor": _fold_unary(np.floor), "Ceil": _fold_unary(np.ceil), "Neg": _fold_unary(np.negative),
    "Sqrt": _fold_unary(np.sqrt), "Abs": _fold_unary(np.abs), "Exp": _fold_unary(np.exp),
    "Reciprocal": _fold_unary(lambda x: 1 / x), "Relu": _fold_unary(lambda x: np.maximum(x, 0)),
    "Sigmoid": _fold_unary(lambda x: 1 / (1 + np.exp(-x))), "Tanh": _fold_unary(np.tanh),
    "Not": _fold_unary(np.logical_not),
    "Flatten": lambda imp, node, xs: [np.asarray(xs[0]).reshape(
        int(np.prod(np.asarray(xs[0]).shape[:imp.axis(int(_attrs(node).get("axis", 1)), np.asarray(xs[0]).ndim + 1)])), -1)],
}


# ---- handlers: ops on computed tensors -------------------------------------------------------

def _h_shape(imp, node, ins):
    v = ins[0]
    shape = v.shape if isinstance(v, Tensor) else np.asarray(v.value).shape
    a = _attrs(node)
    r = len(shape)
    start = int(a.get("start", 0))
    end = int(a.get("end", r))
    start = max(0, min(r, start + r if start < 0 else start))
    end = max(0, min(r, end + r if end < 0 else end))
    return Const(np.array(shape[start:end], dtype=np.int64))


def _h_size(imp, node, ins):
    raise ImportProblem("Size of a computed tensor depends on the batch size")


def _unary(op: str, attrs: Optional[Callable] = None, allowed: Optional[Dict[str, Any]] = None):
    def h(imp, node, ins):
        a = imp.check_attrs(node, allowed or {})
        x = imp.tensor(ins[0], "the input")
        name = imp.node_name(node)
        imp.emit(name, op, [x.name], attrs(a) if attrs else None)
        return Tensor(name, x.shape)
    return h


def _h_identity(imp, node, ins):
    v = ins[0]
    return v


def _h_dropout(imp, node, ins):
    imp.check_attrs(node, {"seed": None, "ratio": None})
    if len(node.output) > 1 and node.output[1] and imp.readers.get(node.output[1], 0):
        raise ImportProblem("Dropout's mask output is used; only inference (identity) is supported")
    if len(ins) > 2 and ins[2] is not None:
        if not isinstance(ins[2], Const) or bool(np.asarray(ins[2].value)):
            raise ImportProblem("Dropout in training mode is not supported")
    return ins[0]


def _h_clip(imp, node, ins):
    a = imp.check_attrs(node, {"min": None, "max": None})
    x = imp.tensor(ins[0], "the input")
    lo, hi = a.get("min"), a.get("max")
    if imp.opset >= 11:
        lo_c = imp.const(node, 1, "min", required=False)
        hi_c = imp.const(node, 2, "max", required=False)
        lo = float(np.asarray(lo_c).reshape(())) if lo_c is not None else None
        hi = float(np.asarray(hi_c).reshape(())) if hi_c is not None else None
    attrs = {}
    if lo is not None:
        attrs["min"] = float(lo)
    if hi is not None:
        attrs["max"] = float(hi)
    name = imp.node_name(node)
    if lo == 0.0 and hi is None:
        imp.emit(name, "relu", [x.name])
    else:
        imp.emit(name, "clip", [x.name], attrs)
    return Tensor(name, x.shape)


def _h_gelu(imp, node, ins):
    a = imp.check_attrs(node, {"approximate": lambda v: v in ("none", "tanh")})
    x = imp.tensor(ins[0], "the input")
    name = imp.node_name(node)
    imp.emit(name, "gelu", [x.name], {"approximate": a.get("approximate", "none")})
    return Tensor(name, x.shape)


def _h_softmax(imp, node, ins):
    a = imp.check_attrs(node, {"axis": None})
    x = imp.tensor(ins[0], "the input")
    r = x.rank
    default = -1 if imp.opset >= 13 else 1
    ax = imp.axis(int(a.get("axis", default)), r)
    if ax == 0:
        raise ImportProblem("softmax over the batch axis")
    name = imp.node_name(node)
    if imp.opset < 13 and ax != r - 1 and any(d != 1 for d in x.shape[ax + 1:]):
        # Before opset 13 Softmax normalises over all axes from `axis` on, flattened.
        flat = int(np.prod(x.shape[ax:]))
        v = imp.view(x, x.shape[:ax] + (flat,), name + "/flatten")
        imp.emit(name, "softmax", [v.name], {"axis": ax})
        return imp.view(Tensor(name, v.shape), x.shape, name + "/unflatten")
    imp.emit(name, "softmax", [x.name], {"axis": ax})
    return Tensor(name, x.shape)


def _conv_pads(imp, a, x_hw, k, s, d) -> List[int]:
    auto = a.get("auto_pad", "NOTSET")
    if auto in ("NOTSET", ""):
        p = [int(v) for v in a.get("pads", [0, 0, 0, 0])]
        if len(p) != 4:
            raise ImportProblem(f"pads {p}: 2-D convolutions and pools have 4 pads")
        return p  # ONNX order [top, left, bottom, right] is swiftcnn's
    if auto == "VALID":
        return [0, 0, 0, 0]
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = []
        for i in range(2):
            out = -(-x_hw[i] // s[i])
            total = max(0, (out - 1) * s[i] + (k[i] - 1) * d[i] + 1 - x_hw[i])
            small, big = total // 2, total - total // 2
            pads.append((small, big) if auto == "SAME_UPPER" else (big, small))
        return [pads[0][0], pads[1][0], pads[0][1], pads[1][1]]
    raise ImportProblem(f"auto_pad={auto!r} is not supported")


def _h_conv(imp, node, ins):
    a = imp.check_attrs(node, {"auto_pad": None, "dilations": None, "group": None, "kernel_shape": None,
                               "pads": None, "strides": None})
    x = imp.tensor(ins[0], "the input")
    w = imp.const(node, 1, "the weight")
    b = imp.const(node, 2, "the bias", required=False)
    if x.rank != 4 or w.ndim != 4:
        raise ImportProblem(f"only 2-D convolutions are supported (input {imp.show(x.shape)}, weight {list(w.shape)})")
    group = int(a.get("group", 1))
    k = tuple(int(v) for v in w.shape[2:])
    if "kernel_shape" in a and tuple(a["kernel_shape"]) != k:
        raise ImportProblem(f"kernel_shape {list(a['kernel_shape'])} disagrees with the weight {list(w.shape)}")
    s = _pairs(a.get("strides", [1, 1]), "strides")
    d = _pairs(a.get("dilations", [1, 1]), "dilations")
    pads = _conv_pads(imp, a, x.shape[2:], k, s, d)
    cin = x.shape[1]
    if w.shape[1] * group != cin:
        raise ImportProblem(f"weight {list(w.shape)} with group {group} does not fit {cin} input channels")
    cout = int(w.shape[0])
    name = imp.module_path(node, node.input[1])
    weights = {"weight": w}
    if b is not None:
        weights["bias"] = b.reshape(-1)
    imp.emit(name, "conv2d", [x.name], {
        "in_channels": cin, "out_channels": cout, "kernel_shape": list(k), "strides": list(s),
        "pads": pads, "dilations": list(d), "group": group, "bias": b is not None}, weights)
    oh = (x.shape[2] + pads[0] + pads[2] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (x.shape[3] + pads[1] + pads[3] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    if oh < 1 or ow < 1:
        raise ImportProblem(f"the output would be empty ({oh}×{ow})")
    return Tensor(name, (x.shape[0], cout, oh, ow))


def _h_batchnorm(imp, node, ins):
    a = imp.check_attrs(node, {"epsilon": None, "momentum": None,
                               "training_mode": lambda v: int(v) == 0, "spatial": lambda v: int(v) == 1})
    if any(o for o in node.output[1:]):
        raise ImportProblem("training outputs (running mean/var) are not supported")
    x = imp.tensor(ins[0], "the input")
    scale, bias, mean, var = (imp.const(node, i, w) for i, w in
                              ((1, "scale"), (2, "bias"), (3, "mean"), (4, "var")))
    eps = float(a.get("epsilon", 1e-5))
    c = x.shape[1] if x.rank >= 2 else 0
    if any(np.asarray(t).size != c for t in (scale, bias, mean, var)):
        raise ImportProblem(f"parameters do not have {c} channels")
    if x.rank == 4:
        name = imp.module_path(node, node.input[1])
        mom = 1.0 - float(a.get("momentum", 0.9))
        imp.emit(name, "batch_norm2d", [x.name], {"num_features": c, "epsilon": eps, "momentum": mom},
                 {"weight": scale.reshape(-1), "bias": bias.reshape(-1), "running_mean": mean.reshape(-1),
                  "running_var": var.reshape(-1)})
        return Tensor(name, x.shape)
    # Other ranks: an affine map with constants (per channel, axis 1).
    sc = (np.asarray(scale, np.float64) / np.sqrt(np.asarray(var, np.float64) + eps))
    sh = np.asarray(bias, np.float64) - np.asarray(mean, np.float64) * sc
    tail = (1,) * (x.rank - 2)
    base = imp.node_name(node)
    m = imp.const_node(sc.reshape((c,) + tail), x, base + "/scale", None)
    mul = imp.fresh(base + "/mul")
    imp.emit(mul, "mul", [x.name, m.name])
    t = imp.const_node(sh.reshape((c,) + tail), x, base + "/shift", None)
    imp.emit(base, "add", [mul, t.name])
    return Tensor(base, x.shape)


def _pool_common(imp, node, x, a):
    k = _pairs(a["kernel_shape"], "kernel_shape")
    s = _pairs(a.get("strides", [1, 1]), "strides")
    d = _pairs(a.get("dilations", [1, 1]), "dilations")
    if d != (1, 1):
        raise ImportProblem(f"dilated pooling (dilations {list(d)}) is not supported")
    pads = _conv_pads(imp, a, x.shape[2:], k, s, d)
    if pads[0] != pads[2] or pads[1] != pads[3]:
        raise ImportProblem(f"asymmetric pooling pads {pads} are not supported")
    if 2 * pads[0] > k[0] or 2 * pads[1] > k[1]:
        raise ImportProblem(f"pooling pads {pads} wider than half the {k[0]}×{k[1]} window are not supported")
    ceil = bool(int(a.get("ceil_mode", 0)))
    attrs = {"kernel_shape": list(k), "strides": list(s), "pads": pads, "ceil_mode": ceil}

    def out(n, kk, ss, p):
        num = n + 2 * p - kk
        o = (-(-num // ss) if ceil else num // ss) + 1
        if ceil and (o - 1) * ss >= n + p:
            o -= 1
        return o
    oh, ow = out(x.shape[2], k[0], s[0], pads[0]), out(x.shape[3], k[1], s[1], pads[1])
    return attrs, (x.shape[0], x.shape[1], oh, ow)


def _h_maxpool(imp, node, ins):
    a = imp.check_attrs(node, {"auto_pad": None, "ceil_mode": None, "dilations": None, "kernel_shape": None,
                               "pads": None, "strides": None, "storage_order": lambda v: int(v) == 0})
    if len(node.output) > 1 and node.output[1]:
        raise ImportProblem("the Indices output is not supported")
    x = imp.tensor(ins[0], "the input")
    if x.rank != 4:
        raise ImportProblem("only 2-D pooling is supported")
    attrs, shape = _pool_common(imp, node, x, a)
    name = imp.node_name(node)
    imp.emit(name, "max_pool2d", [x.name], attrs)
    return Tensor(name, shape)


def _h_avgpool(imp, node, ins):
    a = imp.check_attrs(node, {"auto_pad": None, "ceil_mode": None, "count_include_pad": None, "dilations": None,
                               "kernel_shape": None, "pads": None, "strides": None})
    x = imp.tensor(ins[0], "the input")
    if x.rank != 4:
        raise ImportProblem("only 2-D pooling is supported")
    attrs, shape = _pool_common(imp, node, x, a)
    attrs["count_include_pad"] = bool(int(a.get("count_include_pad", 0)))
    name = imp.node_name(node)
    imp.emit(name, "avg_pool2d", [x.name], attrs)
    return Tensor(name, shape)


def _h_global_avg(imp, node, ins):
    imp.check_attrs(node, {})
    x = imp.tensor(ins[0], "the input")
    if x.rank != 4:
        raise ImportProblem("only 2-D global pooling is supported")
    name = imp.node_name(node)
    imp.emit(name, "adaptive_avg_pool2d", [x.name], {"output_size": [1, 1]})
    return Tensor(name, x.shape[:2] + (1, 1))


def _h_global_max(imp, node, ins):
    imp.check_attrs(node, {})
    x = imp.tensor(ins[0], "the input")
    if x.rank != 4:
        raise ImportProblem("only 2-D global pooling is supported")
    name = imp.node_name(node)
    imp.emit(name, "global_max_pool2d", [x.name])
    return Tensor(name, x.shape[:2] + (1, 1))


def _linear(imp, node, x: Tensor, w_out_in: np.ndarray, bias: Optional[np.ndarray], param_name: Optional[str]) -> Tensor:
    out_f, in_f = w_out_in.shape
    if x.shape[-1] != in_f:
        raise ImportProblem(f"input {imp.show(x.shape)} does not have {in_f} features on its last axis")
    if x.rank < 2:
        raise ImportProblem("a linear layer needs a per-example axis")
    name = imp.module_path(node, param_name)
    weights = {"weight": w_out_in}
    if bias is not None:
        weights["bias"] = bias
    imp.emit(name, "linear", [x.name], {"in_features": int(in_f), "out_features": int(out_f),
                                          "bias": bias is not None}, weights)
    return Tensor(name, x.shape[:-1] + (int(out_f),))


def _h_gemm(imp, node, ins):
    a = imp.check_attrs(node, {"alpha": None, "beta": None, "transA": lambda v: int(v) == 0, "transB": None})
    x = imp.tensor(ins[0], "A")
    if x.rank != 2:
        raise ImportProblem(f"Gemm's A must be 2-D; got {imp.show(x.shape)}")
    b = imp.const(node, 1, "B")
    c = imp.const(node, 2, "C", required=False)
    alpha, beta = float(a.get("alpha", 1.0)), float(a.get("beta", 1.0))
    w = np.asarray(b, np.float32) if int(a.get("transB", 0)) else np.asarray(b, np.float32).T
    if alpha != 1.0:
        w = w * np.float32(alpha)
    out_f = w.shape[0]
    bias = None
    if c is not None:
        c = np.asarray(c, np.float32)
        if c.size == 1:
            bias = np.full(out_f, c.reshape(()) * beta, np.float32)
        elif c.shape in ((out_f,), (1, out_f)):
            bias = c.reshape(-1) * np.float32(beta)
        else:
            raise ImportProblem(f"C of shape {list(c.shape)} varies along the batch axis")
    return _linear(imp, node, x, w, bias, node.input[1])


def _h_matmul(imp, node, ins):
    imp.check_attrs(node, {})
    if isinstance(ins[0], Tensor) and isinstance(ins[1], Const):
        x = imp.tensor(ins[0], "A")
        b = np.asarray(ins[1].value, np.float32)
        if b.ndim != 2:
            raise ImportProblem(f"MatMul with a constant B of rank {b.ndim}: only a 2-D B (a linear layer) is supported")
        bias = None
        return _linear(imp, node, x, b.T.copy(), bias, node.input[1])
    raise ImportProblem("MatMul of two computed tensors (or with a constant A) is not supported; "
                        "only x · W with a constant 2-D W")


_BINARY = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div"}


def _h_binary(imp, node, ins):
    imp.check_attrs(node, {})
    op = _BINARY[node.op_type]
    a, b = ins[0], ins[1]
    base = imp.node_name(node)
    ta = a if isinstance(a, Tensor) else None
    tb = b if isinstance(b, Tensor) else None
    like = ta or tb
    like = imp.tensor(like, "an operand")
    if ta is None:
        ta = imp.const_node(a.value, like, base + "/a", node.input[0])
    if tb is None:
        tb = imp.const_node(b.value, like, base + "/b", node.input[1])
    ta, tb = imp.tensor(ta, "A"), imp.tensor(tb, "B")
    try:
        shape = np.broadcast_shapes(ta.shape, tb.shape)
    except ValueError:
        raise ImportProblem(f"shapes {imp.show(ta.shape)} and {imp.show(tb.shape)} do not broadcast") from None
    imp.emit(base, op, [ta.name, tb.name])
    return Tensor(base, tuple(shape))


def _h_sum(imp, node, ins):
    if len(ins) == 1:
        return ins[0]
    if len(ins) != 2:
        raise ImportProblem("Sum of more than 2 inputs is not supported")
    return _h_binary_named(imp, node, ins, "add")


def _h_binary_named(imp, node, ins, op):
    a, b = imp.tensor(ins[0], "A"), imp.tensor(ins[1], "B")
    base = imp.node_name(node)
    shape = np.broadcast_shapes(a.shape, b.shape)
    imp.emit(base, op, [a.name, b.name])
    return Tensor(base, tuple(shape))


def _h_concat(imp, node, ins):
    a = imp.check_attrs(node, {"axis": None})
    like = next((v for v in ins if isinstance(v, Tensor)), None)
    like = imp.tensor(like, "an input")
    ax = imp.axis(int(a["axis"]), like.rank)
    if ax == 0:
        raise ImportProblem("Concat along the batch axis is not supported")
    base = imp.node_name(node)
    names = []
    total = 0
    for i, v in enumerate(ins):
        if isinstance(v, Const):
            if v.value.size == 0:
                continue
            t = imp.const_node(v.value, like, f"{base}/in{i}", node.input[i])
        else:
            t = imp.tensor(v, f"input {i}")
        if t.rank != like.rank:
            raise ImportProblem("inputs of different ranks")
        total += t.shape[ax]
        names.append(t.name)
    if len(names) == 1:
        return Tensor(names[0], like.shape[:ax] + (total,) + like.shape[ax + 1:])
    imp.emit(base, "concat", names, {"axis": ax})
    return Tensor(base, like.shape[:ax] + (total,) + like.shape[ax + 1:])


def _h_split(imp, node, ins):
    a = imp.check_attrs(node, {"axis": None, "split": None, "num_outputs": None})
    x = imp.tensor(ins[0], "the input")
    ax = imp.axis(int(a.get("axis", 0)), x.rank)
    if ax == 0:
        raise ImportProblem("Split along the batch axis is not supported")
    n = x.shape[ax]
    outs = len(node.output)
    sizes = None
    if imp.opset >= 13:
        c = imp.const(node, 1, "split", required=False)
        sizes = imp.ints(c)
    else:
        sizes = [int(v) for v in a["split"]] if "split" in a else None
    if sizes is None:
        if n % outs == 0:
            sizes = [n // outs] * outs
        elif "num_outputs" in a:
            chunk = -(-n // outs)
            sizes = [chunk] * (outs - 1) + [n - chunk * (outs - 1)]
        else:
            raise ImportProblem(f"cannot split {n} evenly into {outs}")
    if sum(sizes) != n or len(sizes) != outs or any(s < 1 for s in sizes):
        raise ImportProblem(f"split sizes {sizes} do not fit {n} (or contain an empty piece)")
    base = imp.node_name(node)
    imp.emit(base, "split", [x.name], {"axis": ax, "split": sizes})
    return [Tensor(f"{base}:{i}", x.shape[:ax] + (s,) + x.shape[ax + 1:]) for i, s in enumerate(sizes)]


def _reshape_target(imp, x: Tensor, target: List[int], allowzero: bool) -> Tuple[int, ...]:
    """The full target shape (batch first) of a Reshape, resolving 0 and −1, with the batch
    axis kept in place; a problem when the batch would mix with other axes."""
    shape = list(target)
    for i, d in enumerate(shape):
        if d == 0 and not allowzero:
            if i >= x.rank:
                raise ImportProblem(f"shape entry 0 at {i} copies a dimension the input does not have")
            shape[i] = x.shape[i]
    per_in = int(np.prod(x.shape[1:], dtype=np.int64))
    if not shape:
        raise ImportProblem("reshape to a scalar")
    first = shape[0]
    rest = shape[1:]
    keeps_batch = (
        first == BATCH
        or (first == -1 and -1 not in rest and int(np.prod(rest, dtype=np.int64)) == per_in)
        # A file exported with a fixed batch has it folded into its reshape targets; the
        # imported model still takes any batch.
        or (imp.file_batch is not None and first == imp.file_batch))
    if not keeps_batch:
        raise ImportProblem(
            f"the target shape {imp.show(shape)} does not keep the batch axis of {imp.show(x.shape)} "
            f"as its first axis (swiftcnn graphs keep the batch separate)")
    if any(d == BATCH for d in rest):
        raise ImportProblem(f"the target shape {imp.show(shape)} mixes the batch into other axes")
    if rest.count(-1) > 1:
        raise ImportProblem("more than one −1 in the target shape")
    if -1 in rest:
        known = int(np.prod([d for d in rest if d != -1], dtype=np.int64))
        if known == 0 or per_in % known:
            raise ImportProblem(f"cannot reshape {imp.show(x.shape)} to {imp.show(shape)}")
        rest[rest.index(-1)] = per_in // known
    if int(np.prod(rest, dtype=np.int64)) != per_in or any(d < 1 for d in rest):
        raise ImportProblem(f"cannot reshape {imp.show(x.shape)} to {imp.show(shape)}")
    return (x.shape[0],) + tuple(int(d) for d in rest)


def _h_reshape(imp, node, ins):
    a = imp.check_attrs(node, {"allowzero": None})
    x = ins[0]
    if not isinstance(x, Tensor):
        raise ImportProblem("the input is not available")
    target = imp.ints(imp.const(node, 1, "shape"))
    shape = _reshape_target(imp, x, target, bool(int(a.get("allowzero", 0))))
    return imp.view(x, shape, imp.node_name(node))


def _h_flatten(imp, node, ins):
    a = imp.check_attrs(node, {"axis": None})
    x = imp.tensor(ins[0], "the input")
    ax = int(a.get("axis", 1))
    ax = ax + x.rank if ax < 0 else ax
    if not 0 <= ax <= x.rank:
        raise ImportProblem(f"axis {a.get('axis')} is out of range for rank {x.rank}")
    if ax == 0:
        raise ImportProblem("Flatten with axis 0 mixes the batch into the features")
    inner = int(np.prod(x.shape[1:ax], dtype=np.int64))
    outer = int(np.prod(x.shape[ax:], dtype=np.int64))
    shape = (x.shape[0], outer) if ax == 1 else (x.shape[0], inner, outer)
    if ax == 1 and x.rank > 2:
        name = imp.node_name(node)
        imp.emit(name, "flatten", [x.name])
        return Tensor(name, shape)
    if ax > 1:
        # ONNX Flatten is always 2-D: [prod(shape[:axis]), prod(shape[axis:])].
        raise ImportProblem(f"Flatten with axis {ax} mixes the batch into the first output axis")
    return imp.view(x, shape, imp.node_name(node))


def _h_squeeze(imp, node, ins):
    imp.check_attrs(node, {"axes": None})
    x = ins[0]
    if not isinstance(x, Tensor):
        raise ImportProblem("the input is not available")
    axes = _unsqueeze_axes(imp, node, [None] + [v.value if isinstance(v, Const) else None for v in ins[1:]])
    if imp.opset >= 13 and len(ins) > 1 and ins[1] is not None and not isinstance(ins[1], Const):
        raise ImportProblem("axes must be constant")
    if not axes:
        axes = [i for i, d in enumerate(x.shape) if d == 1]
    axes = {imp.axis(v, x.rank) for v in axes}
    if 0 in axes:
        raise ImportProblem("squeezing the batch axis is not supported")
    for ax in axes:
        if x.shape[ax] != 1:
            raise ImportProblem(f"axis {ax} has size {x.shape[ax]}, not 1")
    shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
    if len(shape) < 2:
        raise ImportProblem("the result would have no per-example axes")
    return imp.view(x, shape, imp.node_name(node))


def _h_unsqueeze(imp, node, ins):
    imp.check_attrs(node, {"axes": None})
    x = ins[0]
    if not isinstance(x, Tensor):
        raise ImportProblem("the input is not available")
    if imp.opset >= 13 and not isinstance(ins[1] if len(ins) > 1 else None, Const):
        raise ImportProblem("axes must be constant")
    axes = _unsqueeze_axes(imp, node, [None] + [v.value if isinstance(v, Const) else None for v in ins[1:]])
    r = x.rank + len(axes)
    axes = sorted(imp.axis(v, r) for v in axes)
    if 0 in axes:
        raise ImportProblem("a new axis before the batch axis is not supported")
    shape = list(x.shape)
    for ax in axes:
        shape.insert(ax, 1)
    return imp.view(x, tuple(shape), imp.node_name(node))


def _h_transpose(imp, node, ins):
    a = imp.check_attrs(node, {"perm": None})
    x = ins[0]
    if not isinstance(x, Tensor):
        raise ImportProblem("the input is not available")
    r = x.rank
    perm = [int(p) for p in a.get("perm", list(range(r))[::-1])]
    if sorted(perm) != list(range(r)):
        raise ImportProblem(f"perm {perm} is not a permutation of {r} axes")
    if perm[0] != 0:
        raise ImportProblem(f"perm {perm} moves the batch axis")
    out_shape = tuple(x.shape[p] for p in perm)
    # Merge axes that stay adjacent and in order (drop size-1 axes first): a rank-5
    # channel shuffle becomes a rank-4 transpose.
    keep = [i for i in range(r) if x.shape[i] != 1 or i == 0]
    kperm = [p for p in perm if p in keep]
    groups: List[List[int]] = []
    for p in kperm:
        if groups and groups[-1][-1] + 1 == p and _next_kept(keep, groups[-1][-1]) == p:
            groups[-1].append(p)
        else:
            groups.append([p])
    order = sorted(groups, key=lambda g: g[0])
    if len(order) > MAX_RANK:
        raise ImportProblem(f"the transpose of {imp.show(x.shape)} by {perm} needs rank {len(order)} after merging axes")
    name = imp.node_name(node)
    if [g[0] for g in groups] == [g[0] for g in order]:
        # Only size-1 axes move: a reshape.
        return imp.view(x, out_shape, name)
    gshape = tuple(int(np.prod([x.shape[i] for i in g], dtype=np.int64)) for g in order)
    gview = imp.view(x, gshape, name + "/group")
    gperm = [order.index(g) for g in groups]
    out_g = tuple(gshape[p] for p in gperm)
    imp.emit(name, "transpose", [gview.name], {"perm": gperm})
    t = Tensor(name, out_g)
    return imp.view(t, out_shape, name + "/ungroup")


def _next_kept(keep, i):
    for k in keep:
        if k > i:
            return k
    return None


def _h_reduce_mean(imp, node, ins):
    a = imp.check_attrs(node, {"axes": None, "keepdims": None, "noop_with_empty_axes": None})
    x = imp.tensor(ins[0], "the input")
    if imp.opset >= 18:
        axes = imp.ints(imp.const(node, 1, "axes", required=False))
    else:
        axes = [int(v) for v in a["axes"]] if "axes" in a else None
    if not axes:
        if int(a.get("noop_with_empty_axes", 0)):
            return x
        raise ImportProblem("reducing over every axis (the batch included) is not supported")
    axes = sorted({imp.axis(v, x.rank) for v in axes})
    if 0 in axes:
        raise ImportProblem("reducing over the batch axis is not supported")
    keep = bool(int(a.get("keepdims", 1)))
    name = imp.node_name(node)
    if not keep and len(axes) == x.rank - 1:
        raise ImportProblem("the result would have no per-example axes")
    imp.emit(name, "mean", [x.name], {"axes": axes, "keepdims": keep})
    shape = tuple((1 if i in axes else d) for i, d in enumerate(x.shape)) if keep else \
        tuple(d for i, d in enumerate(x.shape) if i not in axes)
    return Tensor(name, shape)


def _h_resize(imp, node, ins):
    a = imp.check_attrs(node, {
        "mode": lambda v: v in ("nearest", "linear"),
        "coordinate_transformation_mode": lambda v: v in ("half_pixel", "pytorch_half_pixel", "align_corners",
                                                          "asymmetric"),
        "nearest_mode": None, "cubic_coeff_a": None, "exclude_outside": lambda v: int(v) == 0,
        "extrapolation_value": None, "antialias": lambda v: int(v) == 0, "axes": None,
        "keep_aspect_ratio_policy": lambda v: v == "stretch"})
    x = imp.tensor(ins[0], "the input")
    if x.rank != 4:
        raise ImportProblem("only 2-D (NCHW) resizing is supported")
    mode = a.get("mode", "nearest")
    ctm = a.get("coordinate_transformation_mode", "half_pixel")
    scales = imp.const(node, 2, "scales", required=False) if len(node.input) > 2 else None
    sizes = imp.const(node, 3, "sizes", required=False) if len(node.input) > 3 else None
    if scales is not None and np.asarray(scales).size == 0:
        scales = None
    if sizes is not None and np.asarray(sizes).size == 0:
        sizes = None
    axes = a.get("axes")
    if axes is not None:
        axes = [imp.axis(int(v), 4) for v in axes]
        full_s = [1.0] * 4
        full_z = list(x.shape)
        if scales is not None:
            for ax, v in zip(axes, np.asarray(scales).reshape(-1)):
                full_s[ax] = float(v)
            scales = np.array(full_s)
        if sizes is not None:
            for ax, v in zip(axes, np.asarray(sizes).reshape(-1)):
                full_z[ax] = int(v)
            sizes = np.array(full_z)
    attrs: Dict[str, Any] = {}
    if sizes is not None:
        z = imp.ints(sizes)
        if len(z) != 4 or (z[0] not in (x.shape[0], BATCH) and not (x.shape[0] == BATCH)) or z[1] != x.shape[1]:
            raise ImportProblem(f"sizes {z}: only height and width may change")
        oh, ow = z[2], z[3]
        attrs["sizes"] = [oh, ow]
    elif scales is not None:
        s = [float(v) for v in np.asarray(scales).reshape(-1)]
        if len(s) != 4 or s[0] != 1 or s[1] != 1:
            raise ImportProblem(f"scales {s}: only height and width may be scaled")
        oh, ow = int(math.floor(x.shape[2] * s[2])), int(math.floor(x.shape[3] * s[3]))
        attrs["scales"] = [s[2], s[3]]
    else:
        raise ImportProblem("neither scales nor sizes is given")
    if oh < 1 or ow < 1:
        raise ImportProblem(f"the output would be empty ({oh}×{ow})")
    if mode == "nearest":
        nm = a.get("nearest_mode", "round_prefer_floor")
        if ctm != "asymmetric" or nm != "floor":
            raise ImportProblem(f"nearest resizing with coordinate_transformation_mode={ctm!r} and nearest_mode={nm!r}; "
                                f"swiftcnn's nearest is asymmetric + floor (torch's 'nearest')")
        attrs["mode"] = "nearest"
    else:
        attrs["mode"] = "bilinear"
        if ctm == "align_corners":
            attrs["align_corners"] = True
            # align_corners maps by the sizes; given scales, ONNX maps with the unrounded
            # in·scale instead (torch with the rounded size), so those must be whole.
            if "scales" in attrs:
                if any(abs(d * sc - round(d * sc)) > 1e-6 for d, sc in zip(x.shape[2:], attrs["scales"])):
                    raise ImportProblem(f"align_corners with scales {attrs['scales']} that do not give whole sizes "
                                        f"(ONNX then maps with the unrounded size)")
            attrs.pop("scales", None)
            attrs["sizes"] = [oh, ow]
        elif ctm in ("half_pixel", "pytorch_half_pixel"):
            if ctm == "pytorch_half_pixel" and (oh == 1 or ow == 1):
                raise ImportProblem("pytorch_half_pixel with an output dimension of 1 is not supported")
            attrs["align_corners"] = False
        else:
            raise ImportProblem(f"linear resizing with coordinate_transformation_mode={ctm!r} is not supported")
    if oh == x.shape[2] and ow == x.shape[3] and "sizes" in attrs:
        return x
    name = imp.node_name(node)
    imp.emit(name, "upsample", [x.name], attrs)
    return Tensor(name, (x.shape[0], x.shape[1], oh, ow))


def _h_pad(imp, node, ins):
    a = imp.check_attrs(node, {"mode": lambda v: v == "constant", "pads": None, "value": None})
    x = imp.tensor(ins[0], "the input")
    if imp.opset >= 11:
        pads = imp.ints(imp.const(node, 1, "pads"))
        val = imp.const(node, 2, "constant_value", required=False)
        if len(node.input) > 3 and node.input[3]:
            raise ImportProblem("the axes input is not supported")
    else:
        pads, val = [int(v) for v in a["pads"]], a.get("value")
    v = float(np.asarray(val).reshape(-1)[0]) if val is not None and np.asarray(val).size else 0.0
    if v != 0.0:
        raise ImportProblem(f"padding with value {v} (only zero padding is supported)")
    r = x.rank
    if len(pads) != 2 * r:
        raise ImportProblem(f"pads {pads} do not fit rank {r}")
    begin, end = pads[:r], pads[r:]
    if r != 4 or any(begin[:2]) or any(end[:2]) or any(p < 0 for p in pads):
        raise ImportProblem(f"pads {pads}: only non-negative padding of height and width is supported")
    name = imp.node_name(node)
    imp.emit(name, "zero_pad2d", [x.name], {"pads": [begin[2], begin[3], end[2], end[3]]})
    return Tensor(name, (x.shape[0], x.shape[1], x.shape[2] + begin[2] + end[2], x.shape[3] + begin[3] + end[3]))


def _h_layernorm(imp, node, ins):
    a = imp.check_attrs(node, {"axis": None, "epsilon": None, "stash_type": None})
    if any(o for o in node.output[1:]):
        raise ImportProblem("the Mean and InvStdDev outputs are not supported")
    x = imp.tensor(ins[0], "the input")
    ax = imp.axis(int(a.get("axis", -1)), x.rank)
    if ax == 0:
        raise ImportProblem("normalising over the batch axis is not supported")
    norm_shape = x.shape[ax:]
    scale = np.asarray(imp.const(node, 1, "scale"), np.float32)
    bias = imp.const(node, 2, "bias", required=False)
    try:
        scale = np.broadcast_to(scale, norm_shape).copy()
        if bias is not None:
            bias = np.broadcast_to(np.asarray(bias, np.float32), norm_shape).copy()
    except ValueError:
        raise ImportProblem(f"scale/bias do not fit the normalized shape {list(norm_shape)}") from None
    name = imp.module_path(node, node.input[1])
    w = {"weight": scale}
    if bias is not None:
        w["bias"] = bias
    imp.emit(name, "layer_norm", [x.name], {"axis": ax, "epsilon": float(a.get("epsilon", 1e-5)),
                                            "bias": bias is not None}, w)
    return Tensor(name, x.shape)


def _h_lrn(imp, node, ins):
    a = imp.check_attrs(node, {"size": None, "alpha": None, "beta": None, "bias": None})
    x = imp.tensor(ins[0], "the input")
    name = imp.node_name(node)
    imp.emit(name, "lrn", [x.name], {"size": int(a["size"]), "alpha": float(a.get("alpha", 1e-4)),
                                     "beta": float(a.get("beta", 0.75)), "bias": float(a.get("bias", 1.0))})
    return Tensor(name, x.shape)


def _h_gather(imp, node, ins):
    a = imp.check_attrs(node, {"axis": None})
    x = imp.tensor(ins[0], "data")
    idx = np.asarray(imp.const(node, 1, "indices")).astype(np.int64)
    ax = imp.axis(int(a.get("axis", 0)), x.rank)
    if ax == 0:
        raise ImportProblem("gathering along the batch axis is not supported")
    n = x.shape[ax]
    flat = [int(i) for i in idx.reshape(-1)]
    if any(i < -n or i >= n for i in flat):
        raise ImportProblem(f"an index is out of range for axis {ax} of size {n}")
    shape = x.shape[:ax] + tuple(idx.shape) + x.shape[ax + 1:]
    if len(shape) < 2:
        raise ImportProblem("the result would have no per-example axes")
    name = imp.node_name(node)
    imp.emit(name, "gather", [x.name], {"axis": ax, "indices": flat, "indices_shape": list(idx.shape)})
    return Tensor(name, shape)


def _h_slice(imp, node, ins):
    imp.check_attrs(node, {"starts": None, "ends": None, "axes": None})
    x = imp.tensor(ins[0], "data")
    for i in range(1, len(ins)):
        if ins[i] is not None and not isinstance(ins[i], Const):
            raise ImportProblem(f"input {i} must be constant")
    starts, ends, axes, steps = _slice_params(imp, node, [None] + [v.value if v is not None else None for v in ins[1:]],
                                              x.rank)
    keep_s, keep_e, keep_a, keep_t = [], [], [], []
    shape = list(x.shape)
    for s, e, ax, st in zip(starts, ends, axes, steps):
        if st == 0:
            raise ImportProblem("step 0")
        n = x.shape[ax]
        if ax == 0:
            if st == 1 and s in (0,) and (e >= n):
                continue
            raise ImportProblem("slicing the batch axis is not supported")
        rng = range(*slice(s, e, st).indices(n))
        if len(rng) == 0:
            raise ImportProblem(f"the slice of axis {ax} is empty")
        if len(rng) == n and st == 1:
            continue
        shape[ax] = len(rng)
        big = (1 << 62)
        keep_s.append(max(-big, min(big, s)))
        keep_e.append(max(-big, min(big, e)))
        keep_a.append(ax)
        keep_t.append(st)
    if not keep_a:
        return x
    name = imp.node_name(node)
    if len(keep_a) == 1 and keep_t[0] == 1:
        # A contiguous range of one axis (torch's chunk/narrow): a split, which the plan runs
        # as plain copies.
        ax = keep_a[0]
        n = x.shape[ax]
        lo, hi, _ = slice(keep_s[0], keep_e[0], 1).indices(n)
        sizes = [s for s in (lo, hi - lo, n - hi) if s > 0]
        k = 1 if lo > 0 else 0
        imp.emit(name, "split", [x.name], {"axis": ax, "split": sizes})
        return Tensor(f"{name}:{k}", tuple(shape))
    imp.emit(name, "slice", [x.name], {"starts": keep_s, "ends": keep_e, "axes": keep_a, "steps": keep_t})
    return Tensor(name, tuple(shape))


def _h_cast(imp, node, ins):
    import onnx
    a = imp.check_attrs(node, {"to": None, "saturate": None, "round_mode": None})
    if int(a["to"]) != onnx.TensorProto.FLOAT:
        raise ImportProblem(f"cast of a computed tensor to {onnx.TensorProto.DataType.Name(int(a['to']))} "
                            f"(swiftcnn computes in float32)")
    return imp.tensor(ins[0], "the input")


def _h_pow(imp, node, ins):
    imp.check_attrs(node, {})
    x = imp.tensor(ins[0], "the base")
    e = imp.const(node, 1, "the exponent")
    if np.asarray(e).size != 1:
        raise ImportProblem("only a scalar exponent is supported")
    p = float(np.asarray(e).reshape(()))
    name = imp.node_name(node)
    if p == 1.0:
        return x
    if p == 2.0:
        imp.emit(name, "mul", [x.name, x.name])
    elif p == 0.5:
        imp.emit(name, "sqrt", [x.name])
    elif p == -1.0:
        imp.emit(name, "reciprocal", [x.name])
    else:
        raise ImportProblem(f"exponent {p} (supported: 0.5, 1, 2, −1)")
    return Tensor(name, x.shape)


HANDLERS: Dict[str, Callable] = {
    "Shape": _h_shape, "Size": _h_size, "Identity": _h_identity, "Dropout": _h_dropout,
    "Relu": _unary("relu"), "Sigmoid": _unary("sigmoid"), "Tanh": _unary("tanh"),
    "HardSwish": _unary("hardswish"),
    "HardSigmoid": _unary("hardsigmoid", lambda a: {"alpha": float(a.get("alpha", 0.2)), "beta": float(a.get("beta", 0.5))},
                          {"alpha": None, "beta": None}),
    "LeakyRelu": _unary("leaky_relu", lambda a: {"alpha": float(a.get("alpha", 0.01))}, {"alpha": None}),
    "Erf": _unary("erf"), "Sqrt": _unary("sqrt"), "Exp": _unary("exp"), "Log": _unary("log"),
    "Neg": _unary("neg"), "Abs": _unary("abs"), "Reciprocal": _unary("reciprocal"),
    "Clip": _h_clip, "Gelu": _h_gelu, "Softmax": _h_softmax,
    "Conv": _h_conv, "BatchNormalization": _h_batchnorm, "MaxPool": _h_maxpool, "AveragePool": _h_avgpool,
    "GlobalAveragePool": _h_global_avg, "GlobalMaxPool": _h_global_max, "Gemm": _h_gemm, "MatMul": _h_matmul,
    "Add": _h_binary, "Sub": _h_binary, "Mul": _h_binary, "Div": _h_binary, "Sum": _h_sum,
    "Concat": _h_concat, "Split": _h_split, "Reshape": _h_reshape, "Flatten": _h_flatten,
    "Squeeze": _h_squeeze, "Unsqueeze": _h_unsqueeze, "Transpose": _h_transpose,
    "ReduceMean": _h_reduce_mean, "Resize": _h_resize, "Pad": _h_pad, "LayerNormalization": _h_layernorm,
    "LRN": _h_lrn, "Gather": _h_gather, "Slice": _h_slice, "Cast": _h_cast, "Pow": _h_pow,
}


# ---- graph rewrites before the walk ---------------------------------------------------------

def fuse_patterns(model) -> None:
    """Rewrites in place the decompositions exporters write for ops swiftcnn has whole:
    exact GELU (x · 0.5 · (1 + erf(x / √2)), in any of its operand orders) becomes one Gelu
    node, and MatMul + Add of a constant bias becomes Gemm-like MatMul with a bias (kept as
    two nodes: the plan fuses them)."""
    import onnx
    from onnx import numpy_helper
    g = model.graph
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    for n in g.node:
        if n.op_type == "Constant":
            a = _attrs(n)
            if "value" in a:
                consts[n.output[0]] = numpy_helper.to_array(a["value"])
            elif "value_float" in a:
                consts[n.output[0]] = np.array(a["value_float"], np.float32)
    producer = {}
    readers: Dict[str, List[Any]] = {}
    for n in g.node:
        for o in n.output:
            producer[o] = n
        for i in n.input:
            readers.setdefault(i, []).append(n)
    outputs = {o.name for o in g.output}

    def scalar(name, value, tol=1e-6):
        v = consts.get(name)
        return v is not None and np.asarray(v).size == 1 and abs(float(np.asarray(v).reshape(())) - value) <= tol * max(1, abs(value))

    def other(n, name):
        return n.input[1] if n.input[0] == name else n.input[0]

    remove = set()
    new_nodes = {}
    for erf in [n for n in g.node if n.op_type == "Erf"]:
        div = producer.get(erf.input[0])
        if div is None:
            continue
        if div.op_type == "Div" and scalar(div.input[1], math.sqrt(2.0), 1e-4):
            x = div.input[0]
        elif div.op_type == "Mul" and (scalar(div.input[1], 1 / math.sqrt(2.0), 1e-4) or scalar(div.input[0], 1 / math.sqrt(2.0), 1e-4)):
            x = div.input[0] if scalar(div.input[1], 1 / math.sqrt(2.0), 1e-4) else div.input[1]
        else:
            continue
        r = readers.get(erf.output[0], [])
        if len(r) != 1 or r[0].op_type != "Add" or not scalar(other(r[0], erf.output[0]), 1.0):
            continue
        add = r[0]
        r2 = readers.get(add.output[0], [])
        if len(r2) != 1 or r2[0].op_type != "Mul":
            continue
        m1 = r2[0]
        o1 = other(m1, add.output[0])
        # (1 + erf) · x · 0.5 or (1 + erf) · (0.5 · x) or ((1 + erf) · 0.5) · x
        chain = None
        if o1 == x:
            r3 = readers.get(m1.output[0], [])
            if len(r3) == 1 and r3[0].op_type == "Mul" and scalar(other(r3[0], m1.output[0]), 0.5):
                chain = [div, erf, add, m1, r3[0]]
        elif scalar(o1, 0.5):
            r3 = readers.get(m1.output[0], [])
            if len(r3) == 1 and r3[0].op_type == "Mul" and other(r3[0], m1.output[0]) == x:
                chain = [div, erf, add, m1, r3[0]]
        else:
            half = producer.get(o1)
            if half is not None and half.op_type == "Mul" and {half.input[0], half.input[1]} >= {x} and \
                    (scalar(half.input[0], 0.5) or scalar(half.input[1], 0.5)) and len(readers.get(o1, [])) == 1:
                chain = [half, div, erf, add, m1]
                last = m1
                gelu = onnx.helper.make_node("Gelu", [x], [last.output[0]], name=(erf.name or "gelu") + "/gelu")
                new_nodes[id(last)] = gelu
                for c in chain:
                    if c is not last:
                        remove.add(id(c))
                continue
        if chain is None:
            continue
        inner = chain[:-1]
        if any(o in outputs for c in inner for o in c.output):
            continue
        if len(readers.get(div.output[0], [])) != 1:
            continue
        last = chain[-1]
        gelu = onnx.helper.make_node("Gelu", [x], [last.output[0]], name=(erf.name or "gelu") + "/gelu")
        new_nodes[id(last)] = gelu
        for c in inner:
            remove.add(id(c))
    if not new_nodes and not remove:
        return
    kept = []
    for n in g.node:
        if id(n) in remove:
            continue
        kept.append(new_nodes.get(id(n), n))
    del g.node[:]
    g.node.extend(kept)


# ---- entry points ---------------------------------------------------------------------------

def parse(source: Any):
    """An onnx.ModelProto from a path or from the file's contents, checked."""
    import os
    import onnx
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        where = "the given data"
        base = None
    else:
        path = os.fspath(source)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise OSError(e.errno, f"onnx: cannot read {os.fsdecode(path)!r}: {e.strerror}") from None
        where = repr(os.fsdecode(path))
        base = os.path.dirname(os.path.abspath(path))
    if not data:
        raise FormatError(f"onnx: {where} is empty, not an ONNX model")
    try:
        model = onnx.ModelProto()
        model.ParseFromString(data)
    except Exception as e:
        raise FormatError(f"onnx: {where} is not a valid ONNX model (the protobuf does not parse: {e})") from None
    if not model.HasField("graph") or (not model.graph.node and not model.graph.output):
        raise FormatError(f"onnx: {where} is not an ONNX model (no graph)")
    if any(t.HasField("data_location") and t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer):
        if base is None:
            raise FormatError("onnx: the model keeps weights in external files; load it from its path instead of bytes")
        try:
            from onnx.external_data_helper import load_external_data_for_model
            load_external_data_for_model(model, base)
        except Exception as e:
            raise FormatError(f"onnx: cannot load the external weights of {where}: {e}") from None
    try:
        onnx.checker.check_model(_light(model))
    except Exception as e:
        msg = str(e).strip().splitlines()
        raise FormatError(f"onnx: {where} fails ONNX's checker: {' '.join(msg)[:500]}") from None
    return model


def _light(model):
    """A copy of `model` whose large initializers are graph inputs of the same type and
    shape: what the checker and shape inference need, without serialising the weights."""
    import onnx
    light = onnx.ModelProto()
    light.ir_version = model.ir_version
    light.opset_import.extend(model.opset_import)
    for f in ("producer_name", "producer_version", "domain", "model_version", "doc_string"):
        setattr(light, f, getattr(model, f))
    light.functions.extend(model.functions)
    g = light.graph
    src = model.graph
    g.name = src.name
    g.node.extend(src.node)
    g.output.extend(src.output)
    g.value_info.extend(src.value_info)
    g.sparse_initializer.extend(src.sparse_initializer)
    names = {i.name for i in src.input}
    g.input.extend(src.input)
    for t in src.initializer:
        n = 1
        for d in t.dims:
            n *= d
        if n <= 4096 or t.data_location == onnx.TensorProto.EXTERNAL:
            g.initializer.append(t)
        elif t.name not in names:
            g.input.append(onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    return light


def build(source: Any, input_shape: Optional[Sequence[int]] = None, name: Optional[str] = None) -> Built:
    import os
    model = parse(source)
    if name is None and not isinstance(source, (bytes, bytearray, memoryview)):
        stem = os.path.splitext(os.path.basename(os.fsdecode(os.fspath(source))))[0]
        name = stem or None
    fuse_patterns(model)
    return Importer(model, input_shape=input_shape, name=name).run()
