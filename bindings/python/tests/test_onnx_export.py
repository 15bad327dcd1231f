"""swiftcnn.onnx.export: swiftcnn models as ONNX files, checked against onnxruntime.

Every exported model is run with onnxruntime (CPU provider) and compared with
``model.forward(x)`` of swiftcnn: the tolerance is

    max |onnx - swiftcnn| <= 1e-4 * max |swiftcnn|      (TOL below, per output)

Weights are seeded (``reset_parameters``) and batch-norm running statistics randomized
through ``load_state_dict``, so that batch norm matters. Torch is not needed. The ops added
to the schema after its first release (constant, layer_norm, erf, ..., slice, gather) are
checked against numpy references through a stand-in model object (the exporter only reads
``to_json()``, ``state_dict()``, ``input_names`` and ``output_names``), and against swiftcnn
itself where the library accepts them.
"""
import json
import math
import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import swiftcnn  # noqa: E402
from swiftcnn import models, nn  # noqa: E402

try:
    from swiftcnn.onnx import export
except ImportError:  # the package's __init__ is written separately
    from swiftcnn.onnx._export import export

TOL = 1e-4  # relative to the largest magnitude of each reference output


# ---- helpers -----------------------------------------------------------------------------------

def randomize(model, seed=0):
    """Seeded weights, and random batch-norm statistics (so that inference-mode BN matters)."""
    model.reset_parameters(seed)
    rng = np.random.default_rng(seed + 100)
    stats = {}
    for k, v in model.state_dict().items():
        if k.endswith("running_mean"):
            stats[k] = rng.normal(0.0, 0.5, v.shape).astype(np.float32)
        elif k.endswith("running_var"):
            stats[k] = rng.uniform(0.3, 2.0, v.shape).astype(np.float32)
    if stats:
        model.load_state_dict(stats, strict=False)
        after = model.state_dict()
        assert all(np.array_equal(after[k], v) for k, v in stats.items())
    return model


def export_proto(model, path, **kwargs):
    """Exports, then reads the written file back (the test does not rely on what export returns)."""
    export(model, path, **kwargs)
    return onnx.load(str(path))


def session(source):
    """An onnxruntime CPU session from a path or from the model's bytes."""
    return ort.InferenceSession(source, providers=["CPUExecutionProvider"])


def assert_close(got, want, what=""):
    got = np.asarray(got)
    want = np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    scale = float(np.abs(want).max()) if want.size else 0.0
    err = float(np.abs(got - want).max()) if want.size else 0.0
    assert err <= TOL * max(scale, 1e-30), f"{what}: max |difference| {err} > {TOL} * {scale}"


def reference(model, x):
    """swiftcnn's outputs, in the order of model.output_names."""
    names = model.output_names
    if len(names) == 1:
        return [model.forward(x)]
    got = model.forward(x, outputs=names)
    return [got[n] for n in names]


def export_and_compare(model, tmp_path, batches=(2,), opset=17, seed=1, from_bytes=False, name="model.onnx"):
    path = tmp_path / name
    proto = export_proto(model, path, opset=opset)
    sess = session(proto.SerializeToString() if from_bytes else str(path))
    inp = sess.get_inputs()[0]
    shape = list(model.to_json()["input_shape"])
    rng = np.random.default_rng(seed)
    for n in batches:
        x = rng.standard_normal([n] + shape).astype(np.float32)
        got = sess.run(None, {inp.name: x})
        want = reference(model, x)
        assert len(got) == len(want)
        for g, w, nm in zip(got, want, model.output_names):
            assert_close(g, w, f"{nm} (batch {n}, opset {opset})")
    return proto


def from_doc(doc, seed=0):
    return randomize(swiftcnn.Model.from_json(doc), seed)


def ops_of(proto):
    return {n.op_type for n in proto.graph.node}


# ---- the zoo -----------------------------------------------------------------------------------

ZOO = ["lenet5", "lenet5_original", "alexnet", "resnet18", "googlenet"]


@pytest.mark.parametrize("name", ZOO)
def test_zoo_model_matches_onnxruntime(name, tmp_path):
    m = randomize(models.create(name), seed=7)
    proto = export_and_compare(m, tmp_path, batches=(2,))
    # initializers keep the state_dict names (torchvision's names survive)
    inits = {t.name for t in proto.graph.initializer}
    assert set(m.parameter_names()) <= inits
    assert [o.name for o in proto.graph.output] == m.output_names
    assert [i.name for i in proto.graph.input] == m.input_names


def test_zoo_node_names_are_paths(tmp_path):
    m = randomize(models.resnet18(), 3)
    proto = export_proto(m, tmp_path / "r.onnx")
    names = {n.name for n in proto.graph.node}
    for path in ("conv1", "bn1", "layer1.0.conv1", "layer2.0.downsample.0", "layer2.0.downsample.1", "fc"):
        assert path in names
    conv = next(n for n in proto.graph.node if n.name == "layer1.0.conv1")
    assert conv.op_type == "Conv" and conv.input[1] == "layer1.0.conv1.weight"
    assert next(n for n in proto.graph.node if n.name == "fc").op_type == "Gemm"


def test_lenet5_original_ops(tmp_path):
    # subsampling, partial_conv2d and euclidean_rbf with standard ops; the RBF codes are a
    # constant named <path>.codes (not part of the state dict)
    m = randomize(models.create("lenet5_original"), 5)
    proto = export_and_compare(m, tmp_path, batches=(1, 4))
    inits = {t.name: t for t in proto.graph.initializer}
    codes = onnx.numpy_helper.to_array(inits["rbf.codes"])
    assert codes.shape == (10, 84) and set(np.unique(codes)) == {-1.0, 1.0}
    assert "c3.weight" in inits and list(inits["c3.weight"].dims) == [60, 5, 5]


# ---- dynamic batch --------------------------------------------------------------------------------

def test_dynamic_batch_runs_batch_1_and_3(tmp_path):
    m = randomize(models.create("lenet5"), 2)
    proto = export_and_compare(m, tmp_path, batches=(1, 3), from_bytes=True)
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "N" and [d.dim_value for d in dims[1:]] == [1, 32, 32]
    out = proto.graph.output[0].type.tensor_type.shape.dim
    assert out[0].dim_param == "N" and out[1].dim_value == 10


def test_static_batch(tmp_path):
    m = randomize(models.create("lenet5"), 2)
    path = tmp_path / "static.onnx"
    proto = export_proto(m, path, dynamic_batch=False)
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_value == 1 and not dims[0].dim_param
    sess = session(str(path))
    x = np.random.default_rng(0).standard_normal((1, 1, 32, 32)).astype(np.float32)
    assert_close(sess.run(None, {"input": x})[0], m.forward(x))
    with pytest.raises(Exception):
        sess.run(None, {"input": np.zeros((3, 1, 32, 32), np.float32)})


# ---- custom networks built with swiftcnn.nn --------------------------------------------------------

def mobile_block_doc():
    """Depthwise-separable convolutions, dilation, 'same' padding with an even kernel
    (asymmetric pads), squeeze-and-excitation with mean / hardsigmoid / mul, activations."""
    x = nn.Input((8, 12, 12), name="image")
    h = nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False, name="stem")(x)
    h = nn.BatchNorm2d(16, name="stem_bn")(h)
    h = nn.Hardswish(name="stem_act")(h)
    d = nn.Conv2d(16, 16, 3, padding=1, groups=16, name="dw")(h)            # depthwise
    d = nn.BatchNorm2d(16, name="dw_bn")(d)
    d = nn.ReLU6(name="dw_act")(d)                                          # clip 0..6
    s = nn.mean(d, (2, 3), keepdim=True, name="se_pool")
    s = nn.Conv2d(16, 4, 1, name="se_fc1")(s)
    s = nn.SiLU(name="se_act")(s)
    s = nn.Conv2d(4, 16, 1, name="se_fc2")(s)
    s = nn.Hardsigmoid(name="se_gate")(s)
    d = nn.mul(d, s, name="se_scale")
    p = nn.Conv2d(16, 12, 1, name="pw")(d)                                  # pointwise
    q = nn.Conv2d(16, 12, 2, padding="same", dilation=2, name="dil")(d)     # asymmetric pads
    h = nn.add(p, q, name="sum")
    h = nn.LeakyReLU(0.2, name="leaky")(h)
    h = nn.Hardtanh(-0.5, 2.0, name="hardtanh")(h)
    h = nn.sub(h, nn.Sigmoid(name="sig")(h), name="diff")
    h = nn.div(h, nn.Sigmoid(name="den")(nn.Tanh(name="th")(h)), name="quot")
    h = nn.GELU(name="gelu")(h)
    h = nn.GELU(approximate="tanh", name="gelu_tanh")(h)
    y = nn.Linear(12, 5, name="head")(nn.Flatten(name="flat")(nn.AdaptiveAvgPool2d(1, name="gap")(h)))
    y = nn.Softmax(dim=1, name="probs")(y)
    return nn.graph_json(x, y, name="mobile")


@pytest.mark.parametrize("opset", [13, 17, 18, 20])
def test_mobile_block(opset, tmp_path):
    m = from_doc(mobile_block_doc(), 4)
    proto = export_and_compare(m, tmp_path, batches=(1, 3), opset=opset)
    assert proto.opset_import[0].version == opset
    if opset >= 20:
        assert "Gelu" in ops_of(proto)
    else:
        assert "Gelu" not in ops_of(proto) and "Erf" in ops_of(proto)
    mean = next(n for n in proto.graph.node if n.name == "se_pool")
    assert mean.op_type == "ReduceMean"
    assert (len(mean.input) == 2) == (opset >= 18)


def test_channel_shuffle_split_concat(tmp_path):
    # ShuffleNet v2 unit: split, branch, concat, channel shuffle (reshape/transpose/reshape)
    x = nn.Input((8, 6, 6))
    a, b = nn.split(x, 4, dim=1, name="halves")
    b = nn.Conv2d(4, 4, 1, name="b1")(b)
    b = nn.BatchNorm2d(4, name="b1_bn")(b)
    b = nn.ReLU(name="b1_act")(b)
    b = nn.Conv2d(4, 4, 3, padding=1, groups=4, name="b2")(b)
    h = nn.concat([a, b], dim=1, name="cat")
    h = nn.reshape(h, (2, 4, 36), name="group")
    h = nn.transpose(h, 1, 2, name="shuffle")
    h = nn.reshape(h, (8, 6, 6), name="ungroup")
    p, q, r = nn.split(h, [3, 3, 2], dim=1, name="three")
    y = nn.concat([r, p, q], dim=1, name="recat")
    doc = nn.graph_json(x, [y, q], name="shuffle")
    m = from_doc(doc, 9)
    assert m.output_names == ["recat", "three:1"]
    proto = export_and_compare(m, tmp_path, batches=(1, 3))
    split = next(n for n in proto.graph.node if n.op_type == "Split" and n.name == "three")
    assert list(split.output)[0] == "three:0" and "three:1" in [o.name for o in proto.graph.output]
    reshape = next(n for n in proto.graph.node if n.name == "group")
    shape = next(t for t in proto.graph.initializer if t.name == reshape.input[1])
    assert onnx.numpy_helper.to_array(shape).tolist() == [0, 2, 4, 36]   # batch copied: dynamic


@pytest.mark.parametrize("up", [
    dict(scale_factor=2, mode="nearest"),
    dict(scale_factor=(3, 2), mode="nearest"),
    dict(size=(8, 7), mode="nearest"),
    dict(scale_factor=2, mode="bilinear"),
    dict(scale_factor=2, mode="bilinear", align_corners=True),
    dict(size=(9, 7), mode="bilinear"),
    dict(size=(9, 7), mode="bilinear", align_corners=True),
    dict(scale_factor=1.5, mode="bilinear"),
])
@pytest.mark.parametrize("opset", [17, 18])
def test_upsample(up, opset, tmp_path):
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Upsample(**up), nn.ReLU(), nn.Conv2d(4, 2, 1))
    m = from_doc(nn.sequential_json(net, (3, 5, 5), name="up"), 2)
    proto = export_and_compare(m, tmp_path, batches=(1, 2), opset=opset)
    resize = next(n for n in proto.graph.node if n.op_type == "Resize")
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in resize.attribute}
    if up["mode"] == "nearest":
        assert attrs["coordinate_transformation_mode"] == b"asymmetric" and attrs["nearest_mode"] == b"floor"
    else:
        want = b"align_corners" if up.get("align_corners") else b"pytorch_half_pixel"
        assert attrs["mode"] == b"linear" and attrs["coordinate_transformation_mode"] == want


def test_pooling_and_normalization(tmp_path):
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ZeroPad2d((1, 0, 2, 1)),                                  # left, right, top, bottom
        nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
        nn.LocalResponseNorm(3, alpha=1e-2, beta=0.75, k=1.5),       # odd size: LRN
        nn.LocalResponseNorm(4, alpha=2e-2, beta=0.6, k=2.0),        # even size: written out
        nn.AvgPool2d(2, stride=1, padding=1, count_include_pad=False),
        nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True),
        nn.Dropout(0.3),
        nn.Identity(),
        nn.AdaptiveAvgPool2d(2),                                     # 6x6 -> 2x2: AveragePool
        nn.Conv2d(8, 8, 1),
        nn.AdaptiveMaxPool2d(1),                                     # global_max_pool2d
        nn.Flatten(),
        nn.Linear(8, 4),
    )
    m = from_doc(nn.sequential_json(net, (3, 13, 16), name="pools"), 6)
    proto = export_and_compare(m, tmp_path, batches=(1, 2))
    ops = ops_of(proto)
    assert {"LRN", "MaxPool", "AveragePool", "GlobalMaxPool", "Pad", "Gemm"} <= ops
    assert "Dropout" not in ops


def test_nested_graphs(tmp_path):
    # a graph node with two inputs and two outputs inside a graph; a graph inside a
    # sequential; residual and branches containers from the zoo style
    a = nn.Input((4, 6, 6), name="a")
    b = nn.Input((4, 6, 6), name="b")
    s = nn.add(a, b, name="s")
    d = nn.Conv2d(4, 4, 3, padding=1, name="conv")(nn.sub(a, b, name="d"))
    inner = nn.Graph([a, b], [s, d], name="pair")
    x = nn.Input((3, 6, 6))
    h = nn.Conv2d(3, 4, 1, name="c1")(x)
    g = nn.Conv2d(3, 4, 1, name="c2")(x)
    u, v = inner(h, g)
    w = nn.mul(u, v, name="prod")
    y = nn.concat([w, u], name="out")
    doc = nn.graph_json(x, [y, v], name="nested")
    m = from_doc(doc, 3)
    proto = export_and_compare(m, tmp_path, batches=(2,))
    assert "pair.conv.weight" in {t.name for t in proto.graph.initializer}
    assert "pair.conv" in {n.name for n in proto.graph.node}

    x2 = nn.Input((3, 6, 6), name="x")
    y2 = nn.ReLU()(nn.Conv2d(3, 5, 3, padding=1, name="k")(x2))
    seq = nn.Sequential(nn.Conv2d(3, 3, 1), nn.Graph(x2, y2), nn.Flatten(), nn.Linear(180, 3))
    m2 = from_doc(nn.sequential_json(seq, (3, 6, 6), name="graph_in_seq"), 4)
    export_and_compare(m2, tmp_path, batches=(1, 2), name="m2.onnx")


def test_l2_normalize_json(tmp_path):
    # SSD's conv4_3 normalization (op l2_normalize) as ReduceL2, Max(eps), Div; a zero
    # position (all channels 0 after the ReLU) exercises the eps clamp
    network = {"name": "", "op": "sequential", "children": [
        {"name": "conv", "op": "conv2d", "attrs": {"in_channels": 3, "out_channels": 6, "kernel_shape": [3, 3],
                                                   "strides": [1, 1], "pads": [1, 1, 1, 1], "bias": True}},
        {"name": "relu", "op": "relu"},
        {"name": "norm", "op": "l2_normalize", "attrs": {"epsilon": 1e-12}},
    ]}
    m = from_doc({"version": 1, "name": "l2n", "input_shape": [3, 5, 7], "network": network}, 4)
    proto = export_and_compare(m, tmp_path, batches=(1, 3))
    assert {"ReduceL2", "Max", "Div"} <= ops_of(proto)
    export_and_compare(m, tmp_path, batches=(2,), opset=18, name="o18.onnx")


def test_residual_and_branches_json(tmp_path):
    # the zoo's containers written directly: residual with and without a shortcut, and
    # branches (concatenated on channels)
    conv = lambda name, i, o, k=3, s=1: {  # noqa: E731
        "name": name, "op": "conv2d",
        "attrs": {"in_channels": i, "out_channels": o, "kernel_shape": [k, k], "strides": [s, s],
                  "pads": [k // 2] * 4, "bias": False}}
    bn = lambda name, c: {"name": name, "op": "batch_norm2d", "attrs": {"num_features": c}}  # noqa: E731
    network = {"name": "", "op": "sequential", "children": [
        conv("stem", 3, 8),
        {"name": "block1", "op": "residual", "body": [conv("conv1", 8, 8), bn("bn1", 8), {"name": "relu", "op": "relu"},
                                                      conv("conv2", 8, 8), bn("bn2", 8)], "shortcut": None},
        {"name": "block2", "op": "residual", "body": [conv("conv1", 8, 16, s=2), bn("bn1", 16)],
         "shortcut": {"name": "downsample", "op": "sequential", "children": [conv("0", 8, 16, k=1, s=2), bn("1", 16)]}},
        {"name": "mix", "op": "branches", "children": [
            conv("b0", 16, 4, k=1),
            {"name": "b1", "op": "sequential", "children": [conv("0", 16, 4, k=1), {"name": "1", "op": "tanh"}]},
            {"name": "b2", "op": "max_pool2d", "attrs": {"kernel_shape": [3, 3], "strides": [1, 1], "pads": [1, 1, 1, 1]}},
        ]},
        {"name": "pool", "op": "adaptive_avg_pool2d", "attrs": {"output_size": [1, 1]}},
        {"name": "flat", "op": "flatten"},
        {"name": "fc", "op": "linear", "attrs": {"in_features": 24, "out_features": 3}},
    ]}
    doc = {"version": 1, "name": "blocks", "input_shape": [3, 8, 8], "network": network}
    m = from_doc(doc, 8)
    proto = export_and_compare(m, tmp_path, batches=(1, 2))
    names = {n.name for n in proto.graph.node}
    assert {"block1/add", "block1/relu", "block2.downsample.0", "mix"} <= names


# ---- errors ----------------------------------------------------------------------------------------

class StubModel:
    """What the exporter reads of a model, from a document and a state dict (for documents the
    library does not accept, and ops it does not know yet)."""

    def __init__(self, doc, state_dict=None, input_names=("input",), output_names=("output",)):
        self.doc = doc
        self.sd = dict(state_dict or {})
        self.input_names = list(input_names)
        self.output_names = list(output_names)

    def to_json(self):
        return json.loads(json.dumps(self.doc))

    def state_dict(self):
        return dict(self.sd)


def test_unsupported_nodes_are_all_listed(tmp_path):
    # two ops the exporter does not know, one inside a nested container, and an adaptive pool
    # it cannot express: one ValueError names each node (path and op); nothing is written
    doc = {"version": 1, "name": "odd", "input_shape": [3, 8, 8], "network": {
        "name": "", "op": "sequential", "children": [
            {"name": "warp", "op": "grid_sample"},
            {"name": "body", "op": "sequential", "children": [
                {"name": "0", "op": "relu"},
                {"name": "1", "op": "deform_conv2d", "attrs": {"k": 3}},
            ]},
            {"name": "pool", "op": "adaptive_avg_pool2d", "attrs": {"output_size": [3, 3]}},
        ]}}
    path = tmp_path / "odd.onnx"
    with pytest.raises(ValueError) as e:
        export(StubModel(doc), path)
    msg = str(e.value)
    assert "'warp'" in msg and "'grid_sample'" in msg
    assert "'body.1'" in msg and "'deform_conv2d'" in msg
    assert not path.exists() and os.listdir(tmp_path) == []


def test_adaptive_pool_that_does_not_divide(tmp_path):
    net = nn.Sequential(nn.Conv2d(3, 4, 1), nn.AdaptiveAvgPool2d(3), nn.Flatten(), nn.Linear(36, 2))
    m = from_doc(nn.sequential_json(net, (3, 8, 8), name="ap"), 1)
    with pytest.raises(ValueError, match=r"(?s)'1'.*adaptive_avg_pool2d.*8x8 to 3x3"):
        export(m, tmp_path / "ap.onnx")
    assert os.listdir(tmp_path) == []


def test_error_lists_every_node(tmp_path):
    doc = {"version": 1, "name": "odd", "input_shape": [3, 8, 8], "network": {
        "name": "", "op": "graph", "graph": {"inputs": ["input"], "nodes": [
            {"name": "a", "op": "mystery", "inputs": ["input"]},
            {"name": "b", "op": "relu", "inputs": ["input"]},
            {"name": "c", "op": "adaptive_avg_pool2d", "inputs": ["b"], "attrs": {"output_size": [3, 5]}},
            {"name": "d", "op": "enigma", "inputs": ["a"]},
            {"name": "e", "op": "add", "inputs": ["c", "c"]},
        ], "outputs": ["d", "e"]}}}
    with pytest.raises(ValueError) as e:
        export(StubModel(doc, output_names=["d", "e"]), tmp_path / "x.onnx")
    msg = str(e.value)
    for frag in ("node 'a' (op 'mystery')", "node 'd' (op 'enigma')", "node 'c' (op 'adaptive_avg_pool2d')"):
        assert frag in msg, msg
    assert "3 node(s)" in msg
    assert os.listdir(tmp_path) == []


def test_arguments(tmp_path):
    m = randomize(models.create("lenet5"), 0)
    with pytest.raises(ValueError, match="opset"):
        export(m, tmp_path / "a.onnx", opset=9)
    with pytest.raises(TypeError):
        export(m, tmp_path / "a.onnx", opset="17")
    with pytest.raises(TypeError):
        export(m, 3.5)
    with pytest.raises(TypeError):
        export(object(), tmp_path / "a.onnx")
    export(m, str(tmp_path / "s.onnx"))               # str and os.PathLike paths
    assert (tmp_path / "s.onnx").is_file()


# ---- atomic write ------------------------------------------------------------------------------------

def test_atomic_write_leaves_no_debris(tmp_path, monkeypatch):
    from swiftcnn.onnx import _export as mod
    m = randomize(models.create("lenet5"), 0)
    path = tmp_path / "model.onnx"
    path.write_bytes(b"previous contents")

    def broken_replace(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(mod.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        export(m, path)
    assert sorted(os.listdir(tmp_path)) == ["model.onnx"]
    assert path.read_bytes() == b"previous contents"
    monkeypatch.undo()

    def broken_fsync(fd):
        raise OSError("no space left")

    monkeypatch.setattr(mod.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="no space"):
        export(m, path)
    assert sorted(os.listdir(tmp_path)) == ["model.onnx"]
    assert path.read_bytes() == b"previous contents"
    monkeypatch.undo()

    # a failing check writes nothing either
    def broken_check(*a, **k):
        raise onnx.checker.ValidationError("bad model")

    monkeypatch.setattr(mod.onnx.checker if hasattr(mod, "onnx") else onnx.checker, "check_model", broken_check)
    with pytest.raises(onnx.checker.ValidationError):
        export(m, path)
    assert sorted(os.listdir(tmp_path)) == ["model.onnx"]
    monkeypatch.undo()

    export(m, path)                                   # and a good export replaces the file
    assert sorted(os.listdir(tmp_path)) == ["model.onnx"]
    onnx.checker.check_model(str(path), full_check=True)

    with pytest.raises(OSError):                      # a directory that does not exist
        export(m, tmp_path / "missing" / "m.onnx")
    assert sorted(os.listdir(tmp_path)) == ["model.onnx"]


# ---- ops added to the schema later (constant, layer_norm, unary, slice, gather) -----------------------

def erf(a):
    return np.vectorize(math.erf, otypes=[np.float64])(a)


def new_ops_case(rng):
    """A graph using the newer ops, its state dict, and a numpy reference."""
    C, L = 6, 5
    nodes = [
        {"name": "pos", "op": "constant", "inputs": [], "attrs": {"shape": [C, L]}},
        {"name": "x1", "op": "add", "inputs": ["input", "pos"]},
        {"name": "ln", "op": "layer_norm", "inputs": ["x1"], "attrs": {"axis": -1, "epsilon": 1e-5, "bias": True}},
        {"name": "e", "op": "erf", "inputs": ["ln"]},
        {"name": "a", "op": "abs", "inputs": ["e"]},
        {"name": "sq", "op": "sqrt", "inputs": ["a"]},
        {"name": "ex", "op": "exp", "inputs": ["sq"]},
        {"name": "lg", "op": "log", "inputs": ["ex"]},
        {"name": "ng", "op": "neg", "inputs": ["lg"]},
        {"name": "rc", "op": "reciprocal", "inputs": ["ex"]},
        {"name": "m", "op": "mul", "inputs": ["ng", "rc"]},
        {"name": "sl", "op": "slice", "inputs": ["m"],
         "attrs": {"starts": [1, 0], "ends": [6, 5], "axes": [1, 2], "steps": [2, 2]}},
        {"name": "g", "op": "gather", "inputs": ["m"], "attrs": {"axis": 1, "indices": [5, 0, 2], "indices_shape": [3]}},
        {"name": "g3", "op": "slice", "inputs": ["g"], "attrs": {"starts": [0], "ends": [5], "axes": [-1], "steps": [2]}},
        {"name": "cat", "op": "concat", "inputs": ["sl", "g3"], "attrs": {"axis": 1}},
        {"name": "cat2", "op": "concat", "inputs": ["pos", "x1"], "attrs": {"axis": 1}},
        {"name": "ln2", "op": "layer_norm", "inputs": ["x1"], "attrs": {"axis": 1, "epsilon": 1e-3, "bias": False}},
    ]
    doc = {"version": 1, "name": "newops", "input_shape": [C, L],
           "network": {"name": "", "op": "graph", "graph": {"inputs": ["input"], "nodes": nodes,
                                                            "outputs": ["cat", "cat2", "ln2", "pos"]}}}
    sd = {"pos": rng.standard_normal((C, L)).astype(np.float32),
          "ln.weight": rng.uniform(0.5, 1.5, (L,)).astype(np.float32),
          "ln.bias": rng.normal(0, 0.1, (L,)).astype(np.float32),
          "ln2.weight": rng.uniform(0.5, 1.5, (C, L)).astype(np.float32)}

    def forward(x):
        x = x.astype(np.float64)
        x1 = x + sd["pos"][None]
        mu = x1.mean(-1, keepdims=True)
        var = x1.var(-1, keepdims=True)
        ln = (x1 - mu) / np.sqrt(var + 1e-5) * sd["ln.weight"] + sd["ln.bias"]
        ex = np.exp(np.sqrt(np.abs(erf(ln))))
        m = -np.log(ex) * (1.0 / ex)
        cat = np.concatenate([m[:, 1:6:2, 0:5:2], m[:, [5, 0, 2], 0:5:2]], axis=1)
        mu2 = x1.mean((1, 2), keepdims=True)
        var2 = x1.var((1, 2), keepdims=True)
        ln2 = (x1 - mu2) / np.sqrt(var2 + 1e-3) * sd["ln2.weight"]
        pos = np.broadcast_to(sd["pos"][None], x.shape)
        cat2 = np.concatenate([pos, x1], axis=1)
        return cat, cat2, ln2, pos

    return doc, sd, forward


def test_new_ops_against_numpy(tmp_path):
    rng = np.random.default_rng(0)
    doc, sd, forward = new_ops_case(rng)
    stub = StubModel(doc, sd, output_names=["cat", "cat2", "ln2", "pos"])
    for opset in (17, 18):
        path = tmp_path / f"new{opset}.onnx"
        proto = export_proto(stub, path, opset=opset)
        assert {"LayerNormalization", "Erf", "Sqrt", "Exp", "Log", "Neg", "Abs", "Reciprocal", "Slice",
                "Gather"} <= ops_of(proto)
        inits = {t.name: t for t in proto.graph.initializer}
        # the constant: [1] + shape, named by its node (here "pos.value": "pos" is an output's name)
        assert list(inits["pos.value"].dims) == [1, 6, 5]
        sess = session(str(path))
        for n in (1, 3):
            x = rng.standard_normal((n, 6, 5)).astype(np.float32)
            got = sess.run(None, {"input": x})
            for g, w, nm in zip(got, forward(x), ["cat", "cat2", "ln2", "pos"]):
                assert_close(g, w, f"{nm} (batch {n}, opset {opset})")
    # not an output: the constant's initializer is named exactly as its node
    proto = export_proto(StubModel(doc, sd, output_names=["cat", "cat2", "ln2"]), tmp_path / "n.onnx")
    assert [list(t.dims) for t in proto.graph.initializer if t.name == "pos"] == [[1, 6, 5]]
    with pytest.raises(ValueError, match=r"(?s)'ln'.*opset 17"):
        export(stub, tmp_path / "old.onnx", opset=16)


def test_linear_on_higher_rank_input(tmp_path):
    # linear on [N, T, F] (a rank the schema may allow later): MatMul with the transposed
    # weight, then Add; on [N, F] it is one Gemm
    rng = np.random.default_rng(1)
    doc = {"version": 1, "name": "tokens", "input_shape": [4, 6], "network": {
        "name": "", "op": "sequential", "children": [
            {"name": "proj", "op": "linear", "attrs": {"in_features": 6, "out_features": 3}},
            {"name": "act", "op": "relu"},
            {"name": "out", "op": "linear", "attrs": {"in_features": 3, "out_features": 2, "bias": False}}]}}
    sd = {"proj.weight": rng.standard_normal((3, 6)).astype(np.float32),
          "proj.bias": rng.standard_normal(3).astype(np.float32),
          "out.weight": rng.standard_normal((2, 3)).astype(np.float32)}
    proto = export_proto(StubModel(doc, sd), tmp_path / "t.onnx")
    assert "MatMul" in ops_of(proto) and "Gemm" not in ops_of(proto)
    x = rng.standard_normal((3, 4, 6)).astype(np.float32)
    want = np.maximum(x @ sd["proj.weight"].T + sd["proj.bias"], 0) @ sd["out.weight"].T
    assert_close(session(str(tmp_path / "t.onnx")).run(None, {"input": x})[0], want, "tokens")


def test_new_ops_against_swiftcnn(tmp_path):
    """The same ops through the library, where it accepts them (skipped otherwise)."""
    cases = {
        "unary": [{"name": op, "op": op, "inputs": ["input" if i == 0 else prev]}
                  for i, (op, prev) in enumerate(zip(["abs", "sqrt", "exp", "log", "neg", "erf", "reciprocal"],
                                                     ["", "abs", "sqrt", "exp", "log", "neg", "erf"]))],
        "slice": [{"name": "s", "op": "slice", "inputs": ["input"],
                   "attrs": {"starts": [1, 0], "ends": [4, 4], "axes": [1, 2], "steps": [1, 2]}}],
        "gather": [{"name": "g", "op": "gather", "inputs": ["input"],
                    "attrs": {"axis": 1, "indices": [3, 0, 1, 1], "indices_shape": [4]}}],
        "layer_norm": [{"name": "ln", "op": "layer_norm", "inputs": ["input"],
                        "attrs": {"axis": -1, "epsilon": 1e-5, "bias": True}}],
        "constant": [{"name": "c", "op": "constant", "inputs": [], "attrs": {"shape": [4, 4]}},
                     {"name": "y", "op": "mul", "inputs": ["input", "c"]}],
    }
    accepted = 0
    for case, nodes in cases.items():
        out = nodes[-1]["name"]
        doc = {"version": 1, "name": case, "input_shape": [4, 4],
               "network": {"name": "", "op": "graph",
                           "graph": {"inputs": ["input"], "nodes": nodes, "outputs": [out]}}}
        try:
            m = swiftcnn.Model.from_json(doc)
        except (ValueError, NotImplementedError):
            continue  # the library does not know this op yet
        accepted += 1
        randomize(m, 2)
        export_and_compare(m, tmp_path, batches=(1, 3), name=f"{case}.onnx")
    if not accepted:
        pytest.skip("the library accepts none of constant, layer_norm, erf..., slice, gather yet")


# ---- round trip: export, then import with swiftcnn.onnx.load ----------------------------------

@pytest.mark.parametrize("name", ["resnet18", "googlenet"])
def test_round_trip_through_the_importer(name, tmp_path):
    """export → swiftcnn.onnx.load gives the same function and the same parameter names."""
    from swiftcnn.onnx import load
    m = randomize(models.create(name), seed=11)
    path = tmp_path / f"{name}.onnx"
    export(m, path)
    back = load(path)
    x = np.random.default_rng(5).standard_normal((2,) + tuple(m.input_shape)[1:]).astype(np.float32)
    y, y2 = m(x), back(x)
    assert np.max(np.abs(y - y2)) <= TOL * np.max(np.abs(y))
    # the zoo's state_dict names survive the round trip for every weight the exporter wrote
    assert set(m.parameter_names(buffers=False)) <= set(back.parameter_names(buffers=False))
