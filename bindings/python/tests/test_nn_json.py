"""swiftcnn.nn (pure Python): the graph JSON of docs/model-format.md, without the library.

nn.py is imported by path, so these tests need neither the compiled extension nor numpy.
With torch installed they also compare parameter names and order with torch, rebuild every
case of scripts/make_graph_fixtures.py, and run the committed fixtures of
Tests/fixtures/graph through a small reference interpreter of the schema (torch.nn.functional)
to check that each file's graph computes what torch computed. Outside the project's venv:

    $TORCH_VENV/bin/python -m pytest --noconftest bindings/python/tests/test_nn_json.py
"""
import ast
import importlib.util
import json
import math
import os
import re
import sys
from collections import OrderedDict

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.normpath(os.path.join(HERE, "..", "swiftcnn"))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
FIXTURES = os.path.join(REPO, "Tests", "fixtures", "graph")


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


nn = _load(os.path.join(PKG, "nn.py"), "swiftcnn_nn_under_test")

try:
    import torch
    import torch.nn as T
    import torch.nn.functional as F
except ImportError:  # the project's venv: no torch
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")


def nodes_of(doc):
    return doc["network"]["graph"]["nodes"]


def names_of(doc):
    return [n["name"] for n in nodes_of(doc)]


# ---- the module itself ---------------------------------------------------------------------------

def test_imports_only_the_standard_library():
    tree = ast.parse(open(os.path.join(PKG, "nn.py")).read())
    mods = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "nn.py must not import from the package (relative import)"
            mods.add(node.module.split(".")[0])
    allowed = {"__future__", "itertools", "json", "math", "numbers", "operator", "collections", "typing"}
    assert mods <= allowed, mods - allowed


def test_stub_declares_every_public_name():
    stub = ast.parse(open(os.path.join(PKG, "nn.pyi")).read())
    declared = set()
    for node in stub.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            declared.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            declared.add(node.target.id)
        elif isinstance(node, ast.Assign):
            declared.update(t.id for t in node.targets if isinstance(t, ast.Name))
    assert set(nn.__all__) <= declared, set(nn.__all__) - declared


# ---- the schema's example --------------------------------------------------------------------------

def _doc_example():
    text = open(os.path.join(REPO, "docs", "model-format.md")).read()
    m = re.search(r"## The graph JSON\s+```json\n(.*?)```", text, re.S)
    return json.loads(m.group(1))


def test_schema_example_round_trip():
    x = nn.Input((3, 32, 32), name="input")
    stem = nn.Conv2d(3, 16, 3, padding=1, name="stem")(x)
    act = nn.ReLU(name="act")(nn.BatchNorm2d(16, name="bn")(stem))
    s = nn.add(stem, act, name="sum")
    fc = nn.Linear(16, 10, name="fc")(nn.Flatten(name="flat")(nn.AdaptiveAvgPool2d(1, name="pool")(s)))
    doc = nn.graph_json(x, fc, name="tiny", any_input_size=False)
    want = _doc_example()
    for key in ("version", "name", "input_shape", "any_input_size"):
        assert doc[key] == want[key]
    assert doc["network"]["op"] == "graph" and doc["network"]["name"] == ""
    g, wg = doc["network"]["graph"], want["network"]["graph"]
    assert g["inputs"] == wg["inputs"] and g["outputs"] == wg["outputs"]
    assert len(g["nodes"]) == len(wg["nodes"])
    for ours, theirs in zip(g["nodes"], wg["nodes"]):
        assert (ours["name"], ours["op"], ours["inputs"]) == (theirs["name"], theirs["op"], theirs["inputs"])
        for k, v in theirs.get("attrs", {}).items():  # ours writes the defaults out as well
            assert ours["attrs"][k] == v, (ours["name"], k)
    # the rule: an adaptive pool and an image input
    assert nn.graph_json(x, fc, name="tiny")["any_input_size"] is True
    json.loads(nn.dumps(doc))


# ---- names and order -------------------------------------------------------------------------------------

def test_automatic_names_count_per_op_and_skip_taken_names():
    x = nn.Input((3, 8, 8))
    a = nn.Conv2d(3, 4, 3, padding=1)(x)
    b = nn.ReLU()(a)
    c = nn.Conv2d(4, 4, 1, name="conv2d_2")(b)   # an explicit name that looks automatic
    d = nn.ReLU()(c)
    e = nn.Conv2d(4, 4, 1)(d)
    f = nn.add(e, b)
    doc = nn.graph_json(x, f)
    assert names_of(doc) == ["conv2d_1", "relu_1", "conv2d_2", "relu_2", "conv2d_3", "add_1"]
    assert nodes_of(doc)[-1]["inputs"] == ["conv2d_3", "relu_1"]
    assert list(nn.parameter_shapes(doc)) == ["conv2d_1.weight", "conv2d_1.bias", "conv2d_2.weight", "conv2d_2.bias",
                                              "conv2d_3.weight", "conv2d_3.bias"]
    # deterministic: the same graph gives the same document
    assert nn.dumps(nn.graph_json(x, f)) == nn.dumps(doc)


def test_only_reachable_nodes_in_call_order():
    x = nn.Input((4,))
    h = nn.Linear(4, 4, name="a")(x)
    nn.Linear(4, 2, name="unused")(h)              # not reachable from the output
    k = nn.Linear(4, 3, name="b")(x)               # called before "c", reached after it
    out = nn.add(nn.Linear(4, 3, name="c")(h), k, name="out")
    doc = nn.graph_json(x, out)
    assert names_of(doc) == ["a", "b", "c", "out"]
    seen = {"input"}
    for n in nodes_of(doc):                          # topological: inputs come first
        assert all(i.split(":")[0] in seen for i in n["inputs"])
        seen.add(n["name"])
    assert doc["input_shape"] == [4] and doc["any_input_size"] is False


def test_split_outputs_and_multiple_graph_outputs():
    x = nn.Input((6, 4, 4))
    parts = nn.split(x, [2, 4], name="parts")
    assert isinstance(parts, list) and [p.shape for p in parts] == [(2, 4, 4), (4, 4, 4)]
    halves = nn.split(x, 4, dim=1)                   # torch: chunks of 4, the last smaller
    assert [p.shape for p in halves] == [(4, 4, 4), (2, 4, 4)]
    y = nn.concat([parts[1], parts[0]], dim=1, name="cat")
    doc = nn.graph_json(x, [y, parts[0], halves[1]])
    assert names_of(doc) == ["parts", "split_1", "cat"]               # call order
    assert nodes_of(doc)[2] == {"name": "cat", "op": "concat", "inputs": ["parts:1", "parts:0"], "attrs": {"axis": 1}}
    assert nodes_of(doc)[0]["attrs"] == {"axis": 1, "split": [2, 4]}
    assert doc["network"]["graph"]["outputs"] == ["cat", "parts:0", "split_1:1"]
    one = nn.split(x, [6], dim=-3)                   # one piece: still a list; its value is the bare name
    assert len(one) == 1
    assert nn.graph_json(x, nn.ReLU()(one[0]))["network"]["graph"]["nodes"][1]["inputs"] == ["split_1"]


def test_sequential_names_like_torch():
    seq = nn.Sequential(OrderedDict([
        ("features", nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.BatchNorm2d(2))),
        ("pool", nn.AdaptiveAvgPool2d(1)),
        ("flat", nn.Flatten()),
        ("fc", nn.Linear(2, 3, bias=False, name="ignored")),   # name= does not apply inside a Sequential
    ]))
    doc = nn.sequential_json(seq, (1, 8, 8), name="m")
    net = doc["network"]
    assert net["op"] == "sequential" and net["name"] == ""
    assert [c["name"] for c in net["children"]] == ["features", "pool", "flat", "fc"]
    assert [c["name"] for c in net["children"][0]["children"]] == ["0", "1", "2"]
    assert list(nn.parameter_shapes(doc).items()) == [
        ("features.0.weight", (2, 1, 3, 3)), ("features.0.bias", (2,)),
        ("features.2.weight", (2,)), ("features.2.bias", (2,)),
        ("features.2.running_mean", (2,)), ("features.2.running_var", (2,)), ("fc.weight", (3, 2))]
    assert list(nn.parameter_shapes(seq, buffers=False)) == [
        "features.0.weight", "features.0.bias", "features.2.weight", "features.2.bias", "fc.weight"]
    assert nn.parameter_shapes(seq) == nn.parameter_shapes(doc)
    assert "inputs" not in net["children"][0]
    assert doc["any_input_size"] is True
    s2 = nn.Sequential(nn.ReLU())
    s2.append(nn.Linear(3, 3))
    assert len(s2) == 2 and isinstance(s2[1], nn.Linear) and isinstance(s2[-1], nn.Linear)
    assert [c["name"] for c in nn.to_node(s2)["children"]] == ["0", "1"]


def test_sequential_called_in_a_graph_and_graph_in_a_sequential():
    x = nn.Input((3, 4, 4))
    block = nn.Sequential(nn.Conv2d(3, 3, 1), nn.ReLU(), name="block")
    doc = nn.graph_json(x, nn.add(x, block(x)))
    assert list(nn.parameter_shapes(doc)) == ["block.0.weight", "block.0.bias"]
    assert nodes_of(doc)[0]["op"] == "sequential" and nodes_of(doc)[0]["inputs"] == ["input"]

    i = nn.Input((3, 4, 4), name="x")
    g = nn.Graph(i, nn.add(i, nn.Conv2d(3, 3, 3, padding=1, name="conv")(i), name="sum"))
    seq = nn.Sequential(nn.ReLU(), g, nn.Flatten(), nn.Linear(48, 2))
    doc = nn.sequential_json(seq, (3, 4, 4))
    inner = doc["network"]["children"][1]
    assert inner["op"] == "graph" and inner["name"] == "1" and "inputs" not in inner
    assert inner["graph"] == {"inputs": ["x"], "nodes": inner["graph"]["nodes"], "outputs": ["sum"]}
    assert list(nn.parameter_shapes(doc)) == ["1.conv.weight", "1.conv.bias", "3.weight", "3.bias"]
    assert nn.output_shape(seq, (3, 4, 4)) == (2,)


# ---- conversions ---------------------------------------------------------------------------------------

def conv_attrs(*args, **kwargs):
    return nn.to_node(nn.Conv2d(*args, **kwargs))["attrs"]


def test_conv2d_padding_conversions():
    assert conv_attrs(3, 4, 3)["pads"] == [0, 0, 0, 0]
    assert conv_attrs(3, 4, 3, padding=2)["pads"] == [2, 2, 2, 2]
    assert conv_attrs(3, 4, 3, padding=(1, 2))["pads"] == [1, 2, 1, 2]           # (h, w) -> [t, l, b, r]
    assert conv_attrs(3, 4, 3, padding="valid")["pads"] == [0, 0, 0, 0]
    assert conv_attrs(3, 4, 3, padding="same")["pads"] == [1, 1, 1, 1]
    assert conv_attrs(3, 4, 4, padding="same")["pads"] == [1, 1, 2, 2]           # torch: extra bottom/right
    assert conv_attrs(3, 4, (2, 3), padding="same", dilation=(1, 2))["pads"] == [0, 2, 1, 2]
    a = conv_attrs(4, 6, (3, 5), stride=(2, 1), dilation=2, groups=2, bias=False)
    assert a == {"in_channels": 4, "out_channels": 6, "kernel_shape": [3, 5], "strides": [2, 1],
                 "pads": [0, 0, 0, 0], "dilations": [2, 2], "group": 2, "bias": False}
    assert nn.parameter_shapes(nn.Conv2d(4, 6, (3, 5), groups=2, bias=False)) == OrderedDict(weight=(6, 2, 3, 5))
    with pytest.raises(ValueError, match="strided"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(3, 4, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="'valid' or 'same'"):
        nn.Conv2d(3, 4, 3, padding="full")


def test_zero_pad2d_order():
    node = nn.to_node(nn.ZeroPad2d((1, 2, 3, 4)), name="pad")     # torch: left, right, top, bottom
    assert node == {"name": "pad", "op": "zero_pad2d", "attrs": {"pads": [3, 1, 4, 2]}}   # top, left, bottom, right
    assert nn.to_node(nn.ZeroPad2d(2))["attrs"]["pads"] == [2, 2, 2, 2]
    x = nn.Input((1, 5, 6))
    assert nn.ZeroPad2d((1, 2, 3, 4))(x).shape == (1, 12, 9)
    with pytest.raises(ValueError, match="not supported|>= 0"):
        nn.ZeroPad2d(-1)
    with pytest.raises(ValueError, match="left, right, top, bottom"):
        nn.ZeroPad2d((1, 2))


def test_pooling_attrs_and_shapes():
    assert nn.to_node(nn.MaxPool2d(3, 2, 1))["attrs"] == {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1],
                                                          "ceil_mode": False}
    assert nn.to_node(nn.MaxPool2d((2, 3)))["attrs"]["strides"] == [2, 3]      # stride None = kernel
    a = nn.to_node(nn.AvgPool2d(2, padding=(1, 0), ceil_mode=True, count_include_pad=False))["attrs"]
    assert a == {"kernel_shape": [2, 2], "strides": [2, 2], "pads": [1, 0, 1, 0], "ceil_mode": True,
                 "count_include_pad": False}
    x = nn.Input((1, 10, 11))
    assert nn.MaxPool2d(3, 2, ceil_mode=True)(x).shape == (1, 5, 5)
    assert nn.MaxPool2d(3, 2)(x).shape == (1, 4, 5)
    assert nn.AvgPool2d(2, 2, padding=1, ceil_mode=True)(nn.Input((1, 5, 5))).shape == (1, 3, 3)  # last window would start in the padding
    assert nn.AdaptiveAvgPool2d((3, 2))(x).shape == (1, 3, 2)
    assert nn.to_node(nn.AdaptiveMaxPool2d(1)) == {"name": "", "op": "global_max_pool2d"}
    assert nn.to_node(nn.AdaptiveMaxPool2d((1, 1)))["op"] == "global_max_pool2d"
    with pytest.raises(ValueError, match="at most half"):
        nn.MaxPool2d(2, padding=2)
    with pytest.raises(ValueError, match="only output_size 1"):
        nn.AdaptiveMaxPool2d(2)
    with pytest.raises(ValueError, match="dilation"):
        nn.MaxPool2d(2, dilation=2)
    with pytest.raises(ValueError, match="None"):
        nn.AdaptiveAvgPool2d((None, 3))


def test_activation_nodes():
    assert nn.to_node(nn.ReLU6()) == {"name": "", "op": "clip", "attrs": {"min": 0.0, "max": 6.0}}
    assert nn.to_node(nn.Hardtanh()) == {"name": "", "op": "clip", "attrs": {"min": -1.0, "max": 1.0}}
    assert nn.to_node(nn.Hardtanh(-math.inf, 2)) == {"name": "", "op": "clip", "attrs": {"max": 2.0}}
    assert nn.to_node(nn.LeakyReLU())["attrs"] == {"alpha": 0.01}
    assert nn.to_node(nn.LeakyReLU(0.2))["attrs"] == {"alpha": 0.2}
    assert nn.to_node(nn.Hardsigmoid())["attrs"] == {"alpha": 1 / 6, "beta": 0.5}
    assert nn.to_node(nn.GELU("tanh"))["attrs"] == {"approximate": "tanh"}
    for cls, op in ((nn.ReLU, "relu"), (nn.Sigmoid, "sigmoid"), (nn.Tanh, "tanh"), (nn.SiLU, "silu"),
                    (nn.Hardswish, "hardswish"), (nn.Identity, "identity")):
        assert nn.to_node(cls(name="a")) == {"name": "a", "op": op}
    assert nn.to_node(nn.ReLU(inplace=True)) == {"name": "", "op": "relu"}
    assert nn.to_node(nn.Softmax(dim=1))["attrs"] == {"axis": 1}
    assert nn.to_node(nn.Softmax(dim=-1), input_shape=(3, 4, 5))["attrs"] == {"axis": 3}
    with pytest.raises(ValueError, match="rank"):
        nn.to_node(nn.Softmax(dim=-1))
    assert nn.to_node(nn.LocalResponseNorm(5, k=2))["attrs"] == {"size": 5, "alpha": 1e-4, "beta": 0.75, "bias": 2.0}
    assert nn.to_node(nn.Dropout())["attrs"] == {"ratio": 0.5}
    assert nn.to_node(nn.Flatten())["attrs"] == {"axis": 1}
    assert nn.to_node(nn.BatchNorm2d(8))["attrs"] == {"num_features": 8, "epsilon": 1e-5, "momentum": 0.1}
    assert nn.to_node(nn.Linear(512, 10), name="fc") == {
        "name": "fc", "op": "linear", "attrs": {"in_features": 512, "out_features": 10, "bias": True}}
    assert nn.to_node(nn.Reshape((2, -1)))["attrs"] == {"shape": [2, -1]}


def test_upsample_attrs():
    assert nn.to_node(nn.Upsample(scale_factor=2))["attrs"] == {"mode": "nearest", "scales": [2.0, 2.0]}
    assert nn.to_node(nn.Upsample(size=(3, 4)))["attrs"] == {"mode": "nearest", "sizes": [3, 4]}
    assert nn.to_node(nn.Upsample(size=5, mode="bilinear"))["attrs"] == {
        "mode": "bilinear", "sizes": [5, 5], "align_corners": False}
    assert nn.to_node(nn.Upsample(scale_factor=(1.5, 2), mode="bilinear", align_corners=True))["attrs"] == {
        "mode": "bilinear", "scales": [1.5, 2.0], "align_corners": True}
    assert nn.to_node(nn.UpsamplingBilinear2d(scale_factor=2))["attrs"]["align_corners"] is True
    assert nn.Upsample(scale_factor=1.5)(nn.Input((2, 5, 4))).shape == (2, 7, 6)   # floor(input * scale)
    with pytest.raises(ValueError, match="exactly one"):
        nn.Upsample()
    with pytest.raises(ValueError, match="exactly one"):
        nn.Upsample(size=2, scale_factor=2)
    with pytest.raises(ValueError, match="bicubic"):
        nn.Upsample(scale_factor=2, mode="bicubic")
    with pytest.raises(ValueError, match="align_corners"):
        nn.Upsample(scale_factor=2, align_corners=True)


def test_functional_ops_axes():
    x = nn.Input((4, 5, 6))
    m = nn.mean(x, (-1, 2), name="m")
    assert m.shape == (4, 1, 1)
    doc = nn.graph_json(x, [m, nn.mean(x, 1, keepdim=False), nn.permute(x, 0, 2, 3, 1),
                            nn.transpose(x, 1, -1), nn.transpose(x, [0, 1, 3, 2]), nn.reshape(x, (-1, 30)),
                            nn.concat([x, x], dim=-2)])
    attrs = [n.get("attrs") for n in nodes_of(doc)]
    assert attrs == [{"axes": [2, 3], "keepdims": True}, {"axes": [1], "keepdims": False}, {"perm": [0, 2, 3, 1]},
                     {"perm": [0, 3, 2, 1]}, {"perm": [0, 1, 3, 2]}, {"shape": [-1, 30]}, {"axis": 2}]
    assert names_of(doc) == ["m", "mean_1", "transpose_1", "transpose_2", "transpose_3", "reshape_1", "concat_1"]
    assert (x * m).shape == (4, 5, 6) and (x - m).shape == (4, 5, 6) and (m / x).shape == (4, 5, 6)
    assert nn.add(nn.Input((1, 5, 1), name="a"), x).shape == (4, 5, 6)


# ---- errors ----------------------------------------------------------------------------------------------

def test_module_with_weights_called_twice():
    x = nn.Input((3, 4, 4))
    conv = nn.Conv2d(3, 3, 1)
    conv(x)
    with pytest.raises(ValueError, match="already called"):
        conv(x)
    relu = nn.ReLU()                       # no weights: every call is a new node
    doc = nn.graph_json(x, nn.add(relu(x), relu(x)))
    assert names_of(doc) == ["relu_1", "relu_2", "add_1"]
    seq = nn.Sequential(nn.Linear(2, 2))
    seq(nn.Input((2,)))
    with pytest.raises(ValueError, match="already called"):
        seq(nn.Input((2,)))


def test_module_used_twice_in_one_model():
    lin = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="given twice"):
        nn.Sequential(lin, lin)
    inner = nn.Sequential(lin)
    with pytest.raises(ValueError, match="used twice"):
        nn.sequential_json(nn.Sequential(inner, nn.ReLU(), nn.Sequential(inner)), (2,))
    x = nn.Input((2,))
    y = lin(x)
    with pytest.raises(ValueError, match="used twice"):
        nn.graph_json(x, nn.add(y, nn.Sequential(OrderedDict(a=nn.ReLU(), b=inner))(x)))
    relu = nn.ReLU()
    nn.sequential_json(nn.Sequential(relu, relu), (2,))   # without weights: fine


def test_duplicate_and_bad_names():
    x = nn.Input((3, 4, 4))
    a = nn.ReLU(name="same")(x)
    b = nn.Sigmoid(name="same")(a)
    with pytest.raises(ValueError, match="duplicate name 'same'"):
        nn.graph_json(x, b)
    r = nn.ReLU(name="act")
    with pytest.raises(ValueError, match="duplicate name 'act'"):
        nn.graph_json(x, r(r(x)))
    with pytest.raises(ValueError, match="duplicate name 'input'"):
        nn.graph_json(x, nn.ReLU(name="input")(x))
    for bad in ("a.b", "a:0"):
        with pytest.raises(ValueError, match="may not contain"):
            nn.ReLU(name=bad)
        with pytest.raises(ValueError, match="may not contain"):
            nn.Sequential(OrderedDict([(bad, nn.ReLU())]))
    with pytest.raises(ValueError, match="empty"):
        nn.Conv2d(1, 1, 1, name="")
    with pytest.raises(TypeError, match="name"):
        nn.ReLU(name=3)
    with pytest.raises(ValueError, match="two inputs"):
        i, j = nn.Input((2,)), nn.Input((2,))
        nn.Graph([i, j], nn.add(i, j))


def test_unknown_dims_and_shape_errors():
    x = nn.Input((3, 4, 5))
    with pytest.raises(ValueError, match="out of range"):
        nn.concat([x, x], dim=4)
    with pytest.raises(ValueError, match="batch axis"):
        nn.concat([x, x], dim=0)
    with pytest.raises(ValueError, match="batch axis"):
        nn.mean(x, 0)
    with pytest.raises(ValueError, match="batch axis"):
        nn.mean(x, -4)
    with pytest.raises(ValueError, match="out of range"):
        nn.Softmax(dim=4)(x)
    with pytest.raises(ValueError, match="batch axis"):
        nn.Softmax(dim=0)
    with pytest.raises(ValueError, match="batch axis must stay first"):
        nn.permute(x, 1, 0, 2, 3)
    with pytest.raises(ValueError, match="permutation"):
        nn.permute(x, 0, 1, 2)
    with pytest.raises(ValueError, match="add up"):
        nn.split(x, [1, 1], dim=1)
    with pytest.raises(ValueError, match="cannot reshape"):
        nn.reshape(x, (7, -1))
    with pytest.raises(ValueError, match="at most one"):
        nn.Reshape((-1, -1))
    with pytest.raises(ValueError, match="do not broadcast"):
        nn.add(x, nn.Input((3, 4, 2), name="b"))
    with pytest.raises(ValueError, match="ranks"):
        nn.add(x, nn.Input((3,), name="b"))
    with pytest.raises(ValueError, match="cannot concatenate"):
        nn.concat([x, nn.Input((3, 5, 5), name="b")], dim=1)
    with pytest.raises(ValueError, match="expected 4 input channels"):
        nn.Conv2d(4, 4, 3)(x)
    with pytest.raises(ValueError, match="larger than the padded input"):
        nn.Conv2d(3, 4, 7)(x)
    with pytest.raises(ValueError, match="Flatten"):
        nn.Linear(60, 2)(x)
    with pytest.raises(ValueError, match="'2'.*expected 4 input features"):
        nn.sequential_json(nn.Sequential(nn.Conv2d(3, 2, 1), nn.Flatten(), nn.Linear(4, 2)), (3, 4, 5))
    with pytest.raises(ValueError, match="one example"):
        nn.sequential_json(nn.Sequential(nn.ReLU()), (1, 3, 4, 5))


def test_onnx_importer_ops():
    x = nn.Input((3, 6, 6))
    h = nn.Conv2d(3, 4, 3, padding=1, name="stem")(x)
    t = nn.permute(h, 0, 2, 3, 1, name="to_last")
    norm = nn.LayerNorm(4, eps=1e-6, name="norm")
    t = norm(t)
    t = nn.Linear(4, 8, name="pw1")(t)             # any rank: the last axis
    assert t.shape == (6, 6, 8)
    t = nn.reciprocal(nn.exp(nn.neg(nn.log(nn.abs(nn.sqrt(nn.erf(t)))))))
    y = nn.permute(nn.Linear(8, 4, name="pw2")(t), 0, 3, 1, 2)
    doc = nn.graph_json(x, nn.add(h, y, name="sum"))
    ops = [n["op"] for n in nodes_of(doc)]
    assert ops[:4] == ["conv2d", "transpose", "layer_norm", "linear"]
    assert ops[4:11] == ["erf", "sqrt", "abs", "log", "neg", "exp", "reciprocal"]
    assert nodes_of(doc)[2]["attrs"] == {"axis": -1, "epsilon": 1e-6, "bias": True}
    assert list(nn.parameter_shapes(norm).items()) == [("weight", (4,)), ("bias", (4,))]
    assert nn.to_node(nn.LayerNorm((2, 3), bias=False)) == {"name": "", "op": "layer_norm",
                                                           "attrs": {"axis": -2, "epsilon": 1e-5, "bias": False}}
    with pytest.raises(ValueError, match="layer_norm 'norm'.*input"):
        nn.parameter_shapes(doc)
    with pytest.raises(ValueError, match=r"last axes to be \[5\]"):
        nn.LayerNorm(5)(h)
    with pytest.raises(ValueError, match="elementwise_affine"):
        nn.LayerNorm(4, elementwise_affine=False)
    with pytest.raises(ValueError, match="eps"):
        nn.LayerNorm(4, eps=0)
    # A constant node written by hand (an importer's) has its parameter under its own name.
    node = {"name": "scale", "op": "constant", "inputs": [], "attrs": {"shape": [4, 1, 1]}}
    assert nn.parameter_shapes({"name": "", "op": "graph", "graph": {"inputs": ["input"], "nodes": [node],
                                                                      "outputs": ["scale"]}}) == OrderedDict([("scale", (4, 1, 1))])


@needs_torch
def test_layer_norm_parameters_match_torch():
    for shape in (4, (3, 4)):
        assert list(nn.parameter_shapes(nn.LayerNorm(shape)).items()) == _torch_keys(T.LayerNorm(shape))
        assert list(nn.parameter_shapes(nn.LayerNorm(shape, bias=False)).items()) == _torch_keys(T.LayerNorm(shape, bias=False))


def test_graph_inputs_and_outputs():
    x = nn.Input((2,))
    other = nn.Input((2,), name="other")
    y = nn.add(x, other)
    with pytest.raises(ValueError, match="'other'.*not among the inputs"):
        nn.graph_json(x, y)
    with pytest.raises(ValueError, match="one input"):
        nn.graph_json([x, other], y)
    with pytest.raises(TypeError, match="nn.Value"):
        nn.graph_json(x, "y")
    # a multi-input graph is a module of another graph
    g = nn.Graph([x, other], [y, nn.mul(x, other)], name="pair")
    z = nn.Input((2,), name="z")
    u, v = g(z, nn.ReLU()(z))
    doc = nn.graph_json(z, nn.sub(u, v))
    pair = nodes_of(doc)[1]
    assert pair["op"] == "graph" and pair["inputs"] == ["z", "relu_1"]
    assert pair["graph"]["inputs"] == ["input", "other"] and pair["graph"]["outputs"] == ["add_1", "mul_1"]
    assert nodes_of(doc)[2]["inputs"] == ["pair:0", "pair:1"]
    with pytest.raises(TypeError, match="takes 2"):
        nn.Graph([x, other], y)(z)
    with pytest.raises(ValueError, match="one input"):
        nn.Sequential(nn.Graph([x, other], y))


def test_argument_errors():
    with pytest.raises(TypeError, match="in_channels"):
        nn.Conv2d("3", 4, 3)
    with pytest.raises(TypeError, match="bool"):
        nn.Conv2d(True, 4, 3)
    with pytest.raises(TypeError, match="kernel_size"):
        nn.Conv2d(3, 4, 2.5)
    with pytest.raises(ValueError, match="kernel_size"):
        nn.Conv2d(3, 4, 0)
    with pytest.raises(ValueError, match="pair"):
        nn.Conv2d(3, 4, (1, 2, 3))
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(TypeError, match="bias"):
        nn.Linear(2, 3, bias=1)
    with pytest.raises(ValueError, match="affine"):
        nn.BatchNorm2d(3, affine=False)
    with pytest.raises(ValueError, match="momentum"):
        nn.BatchNorm2d(3, momentum=None)
    with pytest.raises(ValueError, match="finite"):
        nn.BatchNorm2d(3, eps=float("nan"))
    with pytest.raises(ValueError, match="start_dim"):
        nn.Flatten(2)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        nn.Dropout(1.0)
    with pytest.raises(TypeError, match="dim"):
        nn.Softmax()
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("sigmoid")
    with pytest.raises(ValueError, match="greater"):
        nn.Hardtanh(1, -1)
    with pytest.raises(TypeError, match="nn.Input"):
        nn.ReLU()([1.0, 2.0])
    with pytest.raises(TypeError, match="takes 1"):
        nn.ReLU()(nn.Input((2,)), nn.Input((2,)))
    with pytest.raises(TypeError, match="expected an nn module"):
        nn.Sequential(nn.ReLU(), "relu")
    with pytest.raises(ValueError, match="one example"):
        nn.Input((3, 4))
    with pytest.raises(ValueError, match=">= 1"):
        nn.Input((0,))
    with pytest.raises(ValueError):
        nn.dumps({"x": float("nan")})


def test_any_input_size_rule():
    conv = lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
    assert nn.sequential_json(conv(), (1, 8, 8))["any_input_size"] is False
    s = nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(2, 2))
    assert nn.sequential_json(s, (1, 8, 8))["any_input_size"] is True
    assert nn.sequential_json(nn.Sequential(nn.Linear(2, 2)), (2,))["any_input_size"] is False
    assert nn.sequential_json(conv(), (1, 8, 8), any_input_size=True)["any_input_size"] is True
    x = nn.Input((2, 6, 6))
    deep = nn.Graph(x, nn.AdaptiveAvgPool2d(2)(x))
    y = nn.Input((2, 6, 6))
    assert nn.graph_json(y, deep(y))["any_input_size"] is True       # nested pools count


# ---- against torch ---------------------------------------------------------------------------------------

def _torch_keys(m):
    return [(k, tuple(v.shape)) for k, v in m.state_dict().items() if not k.endswith("num_batches_tracked")]


@needs_torch
def test_parameter_names_and_order_match_torch():
    def both(cls, *a, **k):
        return getattr(T, cls)(*a, **k), getattr(nn, cls)(*a, **k)

    pairs = [both("Conv2d", 3, 8, 3, padding=1, bias=False), both("BatchNorm2d", 8), both("ReLU"),
             both("MaxPool2d", 2), both("Conv2d", 8, 8, 3, groups=4), both("Hardswish"), both("AdaptiveAvgPool2d", 1),
             both("Flatten"), both("Dropout", 0.2), both("Linear", 8, 10)]
    inner_t = T.Sequential(*[p[0] for p in pairs[4:6]])
    inner_n = nn.Sequential(*[p[1] for p in pairs[4:6]])
    tm = T.Sequential(OrderedDict([("features", T.Sequential(*[p[0] for p in pairs[:4]])), ("block", inner_t),
                                   ("head", T.Sequential(*[p[0] for p in pairs[6:]]))]))
    nm = nn.Sequential(OrderedDict([("features", nn.Sequential(*[p[1] for p in pairs[:4]])), ("block", inner_n),
                                    ("head", nn.Sequential(*[p[1] for p in pairs[6:]]))]))
    assert list(nn.parameter_shapes(nm).items()) == _torch_keys(tm)
    doc = nn.sequential_json(nm, (3, 16, 16))
    assert list(nn.parameter_shapes(doc).items()) == _torch_keys(tm)
    out = tm.eval()(torch.zeros(1, 3, 16, 16))
    assert nn.output_shape(nm, (3, 16, 16)) == tuple(out.shape[1:])


@needs_torch
def test_same_padding_matches_torch():
    for k, d in ((4, 1), (2, 3), (3, 2), (5, 1), ((2, 5), (2, 1))):
        tconv = T.Conv2d(1, 1, k, padding="same", dilation=d, bias=False)
        attrs = nn.to_node(nn.Conv2d(1, 1, k, padding="same", dilation=d, bias=False))["attrs"]
        x = torch.randn(1, 1, 7, 8)
        t, l, b, r = attrs["pads"]
        ref = F.conv2d(F.pad(x, (l, r, t, b)), tconv.weight, dilation=attrs["dilations"])
        assert torch.allclose(tconv(x), ref, atol=1e-6), (k, d)


@needs_torch
def test_fixture_cases_build_in_torch_and_nn():
    script = _load(os.path.join(REPO, "scripts", "make_graph_fixtures.py"), "make_graph_fixtures_under_test")
    assert len(script.CASES) >= 40
    for case in script.CASES:
        tm, doc, shape = case.build()
        got = [(k, s) for k, s in script.N.parameter_shapes(doc).items()]
        assert got == _torch_keys(tm), case.name
        json.loads(script.N.dumps(doc))


# ---- the committed fixtures, through a reference interpreter of the schema -------------------------------

def _interp_node(node, xs, W, prefix, taps):
    """Runs one node of the schema with torch.nn.functional; returns its output values."""
    op, a = node["op"], node.get("attrs", {})
    path = ".".join(p for p in (prefix, node["name"]) if p)
    x = xs[0] if xs else None

    def p(k):
        return W[f"{path}.{k}" if path else k]

    if op == "conv2d":
        t, l, b, r = a.get("pads", [0, 0, 0, 0])
        y = F.conv2d(F.pad(x, (l, r, t, b)), p("weight"), p("bias") if a.get("bias", True) else None,
                     stride=a.get("strides", [1, 1]), dilation=a.get("dilations", [1, 1]), groups=a.get("group", 1))
    elif op == "batch_norm2d":
        y = F.batch_norm(x, p("running_mean"), p("running_var"), p("weight"), p("bias"), False, 0.0,
                         a.get("epsilon", 1e-5))
    elif op == "linear":
        y = F.linear(x, p("weight"), p("bias") if a.get("bias", True) else None)
    elif op in ("relu", "tanh", "sigmoid", "silu", "hardswish"):
        y = {"relu": F.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "silu": F.silu, "hardswish": F.hardswish}[op](x)
    elif op == "identity" or op == "dropout":
        y = x
    elif op == "hardsigmoid":
        y = torch.clamp(a.get("alpha", 1 / 6) * x + a.get("beta", 0.5), 0, 1)
    elif op == "clip":
        y = torch.clamp(x, a.get("min", -math.inf), a.get("max", math.inf))
    elif op == "leaky_relu":
        y = F.leaky_relu(x, a.get("alpha", 0.01))
    elif op == "gelu":
        y = F.gelu(x, approximate=a.get("approximate", "none"))
    elif op == "softmax":
        y = torch.softmax(x, a.get("axis", 1))
    elif op in ("max_pool2d", "avg_pool2d"):
        t, l, b, r = a.get("pads", [0, 0, 0, 0])
        assert (t, l) == (b, r), "the interpreter pools with symmetric padding only"
        k = a["kernel_shape"]
        s = a.get("strides", k)
        if op == "max_pool2d":
            y = F.max_pool2d(x, k, s, (t, l), ceil_mode=a.get("ceil_mode", False))
        else:
            y = F.avg_pool2d(x, k, s, (t, l), ceil_mode=a.get("ceil_mode", False),
                             count_include_pad=a.get("count_include_pad", True))
    elif op == "adaptive_avg_pool2d":
        y = F.adaptive_avg_pool2d(x, a["output_size"])
    elif op == "global_max_pool2d":
        y = torch.amax(x, (2, 3), keepdim=True)
    elif op == "mean":
        y = x.mean(a["axes"], keepdim=a.get("keepdims", True))
    elif op == "lrn":
        y = F.local_response_norm(x, a["size"], a.get("alpha", 1e-4), a.get("beta", 0.75), a.get("bias", 1.0))
    elif op == "flatten":
        y = torch.flatten(x, 1)
    elif op == "reshape":
        y = x.reshape(x.shape[0], *a["shape"])
    elif op == "transpose":
        y = x.permute(*a["perm"])
    elif op == "upsample":
        kw = {"size": a["sizes"]} if "sizes" in a else {"scale_factor": a["scales"]}
        if a.get("mode", "nearest") == "bilinear":
            kw["align_corners"] = a.get("align_corners", False)
        y = F.interpolate(x, mode=a.get("mode", "nearest"), **kw)
    elif op == "zero_pad2d":
        t, l, b, r = a["pads"]
        y = F.pad(x, (l, r, t, b))
    elif op in ("add", "sub", "mul", "div"):
        y = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div}[op](xs[0], xs[1])
    elif op == "concat":
        y = torch.cat(xs, a.get("axis", 1))
    elif op == "split":
        return list(torch.split(x, a["split"], a.get("axis", 1)))
    elif op == "sequential":
        y = x
        for c in node["children"]:
            y = _interp_node(c, [y], W, path, taps)[0]
            taps[".".join(q for q in (path, c["name"]) if q)] = y
    elif op == "graph":
        return _interp_graph(node["graph"], xs, W, path, taps)
    else:
        raise AssertionError(f"the interpreter does not know {op!r}")
    return [y]


def _interp_graph(g, xs, W, path, taps):
    env = dict(zip(g["inputs"], xs))

    def get(ref):
        return env[ref] if ref in env else env[ref + ":0"] if ref + ":0" in env else env[ref.split(":")[0]]

    for node in g["nodes"]:
        outs = _interp_node(node, [get(r) for r in node["inputs"]], W, path, taps)
        if len(outs) == 1:
            env[node["name"]] = outs[0]
        for i, o in enumerate(outs):
            env[f"{node['name']}:{i}"] = o
    if not path:
        taps.update(env)
    return [get(r) for r in g["outputs"]]


def _file_order(path):
    """(name, shape) of a safetensors file's tensors in the order of its header."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    return [(k, tuple(v["shape"])) for k, v in header.items() if k != "__metadata__"]


def _fixture_cases():
    if not os.path.isdir(FIXTURES):
        return []
    return sorted(f[:-len(".io.safetensors")] for f in os.listdir(FIXTURES) if f.endswith(".io.safetensors"))


@needs_torch
@pytest.mark.parametrize("case", _fixture_cases())
def test_fixture_graph_reproduces_torch(case):
    pytest.importorskip("safetensors")
    from safetensors import safe_open
    with safe_open(os.path.join(FIXTURES, f"{case}.safetensors"), "pt") as f:
        meta = f.metadata()
        W = {k: f.get_tensor(k) for k in f.keys()}
    with safe_open(os.path.join(FIXTURES, f"{case}.io.safetensors"), "pt") as f:
        io_meta = f.metadata()
        io = {k: f.get_tensor(k) for k in f.keys()}
    assert set(meta) == {"format", "version", "graph"}
    assert meta["format"] == "swiftcnn" and meta["version"] == "1"
    doc = json.loads(meta["graph"])
    assert doc["version"] == 1 and doc["name"] == case
    assert list(nn.parameter_shapes(doc).items()) == _file_order(os.path.join(FIXTURES, f"{case}.safetensors"))
    x = io["input"]
    assert list(x.shape[1:]) == doc["input_shape"] and x.shape[0] == 2
    taps = {}
    with torch.no_grad():
        y = _interp_node(doc["network"], [x], W, "", taps)[0]
    tol = float(io_meta["tolerance"])
    assert torch.allclose(y, io["output"], rtol=tol, atol=tol), (y - io["output"]).abs().max()
    hooks = [h for h in io_meta["hooks"].split(",") if h]
    assert hooks, "every case lists some hooks"
    for h in hooks:
        assert torch.allclose(taps[h], io[f"hook.{h}"], rtol=tol, atol=tol), h
    assert io["grad_output"].shape == io["output"].shape
    if io_meta["sgd"] == "1":
        assert float(io_meta["lr"]) == 0.1
        assert {k for k in io if k.startswith("sgd.")} == {f"sgd.{k}" for k in W}
    else:
        assert not any(k.startswith("sgd.") for k in io)


@needs_torch
def test_torch_statedict_file_is_a_plain_state_dict():
    pytest.importorskip("safetensors")
    from safetensors import safe_open
    path = os.path.join(FIXTURES, "torch_sequential.safetensors")
    if not os.path.exists(path):
        pytest.skip("fixtures not generated")
    with safe_open(path, "pt") as f:
        assert not f.metadata()
        plain = {k: f.get_tensor(k) for k in f.keys()}
    with safe_open(os.path.join(FIXTURES, "seq_torch_statedict.safetensors"), "pt") as f:
        ours = {k: f.get_tensor(k) for k in f.keys()}
    assert any(k.endswith("num_batches_tracked") for k in plain)
    assert {k for k in plain if not k.endswith("num_batches_tracked")} == set(ours)
    for k, v in ours.items():
        assert torch.equal(plain[k], v), k
