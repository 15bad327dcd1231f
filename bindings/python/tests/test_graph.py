"""The graph engine from Python: model files, swiftcnn.nn networks, fine-tuning, training.

Torch is not needed: the reference values are the committed fixtures of Tests/fixtures/graph,
written by scripts/make_graph_fixtures.py (torch's eval-mode outputs of small networks, and
swiftcnn model files holding those networks with torch's initial weights). Sections:

1. every fixture model file opens with swiftcnn.load and reproduces torch's output and the
   intermediate values ("hooks") through forward(x, outputs=...);
2. the same networks built here with swiftcnn.nn describe the same graph and the same
   parameter names as torch, and with the fixture's weights give the fixture's outputs;
3. round trips: save/load, open_bytes, to_json/from_json;
4. torch's own state_dict file of a torch.nn.Sequential loads into the swiftcnn Sequential;
5. training a small residual CNN (functional, batch norm) on scikit-learn's digits;
6. fine-tuning resnet18: freeze, replace the head, train the head only;
7. errors, with the library's messages;
8. intermediate outputs of zoo models.
"""
import json
import os
import re
import time
from collections import OrderedDict

import numpy as np
import pytest

import swiftcnn
from swiftcnn import datasets, models, nn, optim

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
FIXTURES = os.path.join(REPO, "Tests", "fixtures", "graph")

Model = swiftcnn.Model


# ---- safetensors helpers (header parsing and a small deterministic writer) ------------------------

def st_header(path):
    """The JSON header of a safetensors file (with "__metadata__" when present)."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        return json.loads(f.read(n), object_pairs_hook=OrderedDict)


def st_names(path):
    return [k for k in st_header(path) if k != "__metadata__"]


def st_read_all(path):
    """Every float tensor of a file, in header order, read with swiftcnn.read_safetensors."""
    h = st_header(path)
    return OrderedDict((k, swiftcnn.read_safetensors(path, k)) for k, v in h.items()
                       if k != "__metadata__" and v["dtype"] in ("F32", "F16", "BF16", "F64"))


def st_read_raw(path):
    """Every tensor of a file decoded with numpy, whatever its dtype (int64 too)."""
    dtypes = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4"}
    with open(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n], object_pairs_hook=OrderedDict)
    base = 8 + n
    out = OrderedDict()
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(data[base + a:base + b], dtype=dtypes[v["dtype"]]).reshape(v["shape"])
    return out


def st_write(path, tensors, metadata=None):
    """A float32 safetensors file with the tensors in the given order and the metadata."""
    header = OrderedDict()
    if metadata is not None:
        header["__metadata__"] = OrderedDict((k, str(v)) for k, v in metadata.items())
    blobs, off = [], 0
    for k, v in tensors.items():
        a = np.ascontiguousarray(v, dtype="<f4")
        header[k] = OrderedDict([("dtype", "F32"), ("shape", list(a.shape)), ("data_offsets", [off, off + a.nbytes])])
        blobs.append(a.tobytes())
        off += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(len(h).to_bytes(8, "little") + h + b"".join(blobs))


def fixture_cases():
    if not os.path.isdir(FIXTURES):
        return []
    return sorted(f[:-len(".io.safetensors")] for f in os.listdir(FIXTURES) if f.endswith(".io.safetensors"))


CASES = fixture_cases()


class Fixture:
    def __init__(self, case):
        self.case = case
        self.model_path = os.path.join(FIXTURES, f"{case}.safetensors")
        self.io_path = os.path.join(FIXTURES, f"{case}.io.safetensors")
        self.meta = st_header(self.io_path)["__metadata__"]
        self.io = st_read_all(self.io_path)
        self.weights = st_read_all(self.model_path)
        self.graph = json.loads(st_header(self.model_path)["__metadata__"]["graph"])
        self.tol = float(self.meta["tolerance"])
        self.hooks = [h for h in self.meta["hooks"].split(",") if h]

    @property
    def x(self):
        return self.io["input"]

    @property
    def output(self):
        return self.io["output"]

    def hook(self, name):
        return self.io[f"hook.{name}"]


_FIXTURES = {}


def fixture(case):
    if case not in _FIXTURES:
        _FIXTURES[case] = Fixture(case)
    return _FIXTURES[case]


def assert_close(got, want, tol, what=""):
    got = np.asarray(got)
    want = np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    assert np.allclose(got, want, rtol=tol, atol=tol), \
        f"{what}: max |difference| {np.abs(got - want).max()} (tolerance {tol})"


def assert_state_dicts_equal(a, b):
    assert list(a) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype == np.float32, k
        assert a[k].shape == b[k].shape, k
        assert np.array_equal(a[k], b[k]), k


def test_fixtures_are_present():
    # the fixtures are committed; a missing directory would silently skip section 1
    assert len(CASES) >= 40, CASES
    assert os.path.exists(os.path.join(FIXTURES, "torch_sequential.safetensors"))
    kinds = {c.split("_", 1)[0] for c in CASES}
    assert kinds == {"seq", "dag"}


# ---- 1. every fixture: load and run ---------------------------------------------------------------

@pytest.mark.parametrize("case", CASES)
def test_fixture_model_file_reproduces_torch(case):
    f = fixture(case)
    assert f.tol == 1e-4
    meta = st_header(f.model_path)["__metadata__"]
    assert meta["format"] == "swiftcnn" and meta["version"] == "1"

    m = swiftcnn.load(f.model_path)
    assert m.name == case
    # the weights are the file's tensors, in the file's order
    assert_state_dicts_equal(m.state_dict(), f.weights)
    assert m.input_names == ["input"]
    assert list(m.input_shape) == [1] + f.graph["input_shape"]

    y = m(f.x)
    assert_close(y, f.output, f.tol, f"{case} output")
    assert_close(m.forward(f.x), f.output, f.tol, f"{case} forward(x)")
    # batch independence: the first example alone
    assert_close(m(f.x[:1]), f.output[:1], f.tol, f"{case} first example")

    assert f.hooks, "every case lists hooks"
    names = m.node_names()
    for h in f.hooks:
        assert h in names or h.split(":")[0] in names, (h, names)
    got = m.forward(f.x, outputs=f.hooks)
    assert list(got) == f.hooks
    for h in f.hooks:
        assert_close(got[h], f.hook(h), f.tol, f"{case} hook {h}")
    # one name at a time gives the same values; a str is one name
    one = m.forward(f.x, outputs=f.hooks[-1])
    assert list(one) == [f.hooks[-1]]
    assert np.array_equal(one[f.hooks[-1]], got[f.hooks[-1]])


@pytest.mark.parametrize("case", [c for c in CASES if c.startswith("dag_")])
def test_fixture_graph_outputs_can_be_asked_for(case):
    # the root graph's output is a value that forward(outputs=) accepts, and equals model(x)
    f = fixture(case)
    m = swiftcnn.load(f.model_path)
    outs = m.output_names
    assert outs == f.graph["network"]["graph"]["outputs"]
    got = m.forward(f.x, outputs=outs[:1])[outs[0]]
    assert_close(got, f.output, f.tol, f"{case} {outs[0]}")


# ---- 2. the same networks built with swiftcnn.nn ---------------------------------------------------

def _seq_torch_statedict():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU()),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))


def _seq_sequential():
    return nn.Sequential(OrderedDict([
        ("stem", nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU())),
        ("body", nn.Sequential(OrderedDict([("conv", nn.Conv2d(4, 6, 3, stride=2, padding=1)), ("act", nn.ReLU6())]))),
        ("pool", nn.AdaptiveAvgPool2d(1)),
        ("flat", nn.Flatten()),
        ("head", nn.Linear(6, 3)),
    ]))


def _seq_lecture():
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 2 * 2, 1000))


def _seq_graph():
    x = nn.Input((4, 5, 5), name="x")
    h = nn.Conv2d(4, 4, 3, padding=1, name="conv")(nn.ReLU(name="act")(x))
    block = nn.Graph(x, nn.add(x, h, name="sum"))
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), block, nn.Flatten(), nn.Linear(100, 3))


def _dag_residual_se_concat(x):
    # the docs' kind of network: a residual add, a squeeze-excitation multiply, a concat
    h = nn.ReLU()(nn.BatchNorm2d(8, name="stem_bn")(nn.Conv2d(3, 8, 3, padding=1, name="stem")(x)))
    r = nn.Conv2d(8, 8, 3, padding=1, bias=False, name="res_conv1")(h)
    r = nn.ReLU()(nn.BatchNorm2d(8, name="res_bn1")(r))
    r = nn.BatchNorm2d(8, name="res_bn2")(nn.Conv2d(8, 8, 3, padding=1, bias=False, name="res_conv2")(r))
    res = nn.ReLU(name="res")(nn.add(h, r, name="res_sum"))
    s = nn.AdaptiveAvgPool2d(1, name="se_pool")(res)
    s = nn.Hardsigmoid(name="se_scale")(nn.Conv2d(4, 8, 1, name="se_fc2")(nn.ReLU()(nn.Conv2d(8, 4, 1, name="se_fc1")(s))))
    se = nn.mul(res, s, name="se")
    cat = nn.concat([se, h], dim=1, name="cat")
    return nn.Linear(8, 5, name="fc")(nn.Flatten()(nn.AdaptiveAvgPool2d(1, name="pool")(nn.Conv2d(16, 8, 1, name="proj")(cat))))


def _dag_split_shuffle(x):
    h = nn.Conv2d(3, 8, 3, padding=1, name="stem")(x)
    x1, x2 = nn.split(h, 4, dim=1, name="halves")
    b = nn.ReLU()(nn.BatchNorm2d(4, name="b_bn1")(nn.Conv2d(4, 4, 1, bias=False, name="b_conv1")(x2)))
    b = nn.BatchNorm2d(4, name="b_bn2")(nn.Conv2d(4, 4, 3, padding=1, groups=4, bias=False, name="b_dw")(b))
    b = nn.ReLU()(nn.BatchNorm2d(4, name="b_bn3")(nn.Conv2d(4, 4, 1, bias=False, name="b_conv2")(b)))
    y = nn.concat([x1, b], dim=1)
    g = nn.reshape(y, (2, 4, 36), name="groups")
    t = nn.transpose(g, (0, 2, 1, 3), name="shuffle")
    z = nn.reshape(t, (8, 6, 6), name="unshape")
    return nn.Conv2d(8, 3, 1, name="head")(z)


def _dag_nested_graph(x):
    a = nn.Input((4, 5, 5), name="a")
    b = nn.Input((4, 5, 5), name="b")
    s = nn.add(nn.Conv2d(4, 4, 3, padding=1, name="conv")(a), b, name="sum")
    block = nn.Graph([a, b], [s, nn.ReLU(name="act")(nn.mul(a, b, name="prod"))], name="block")
    u, v = block(nn.Conv2d(3, 4, 3, padding=1, name="conv_p")(x), nn.Conv2d(3, 4, 1, name="conv_q")(x))
    return nn.Conv2d(8, 3, 1, name="head")(nn.concat([u, v]))


def _dag_add(x):
    a = nn.Conv2d(3, 4, 3, padding=1, name="conv_a")(x)
    b = nn.AdaptiveAvgPool2d(1, name="pool")(nn.Conv2d(3, 4, 1, name="conv_b")(x))
    c = nn.Conv2d(3, 1, 3, padding=1, name="conv_c")(x)
    y1 = nn.add(a, b, name="y1")
    return c + y1  # Value.__add__


SEQ_BUILDERS = {"seq_torch_statedict": _seq_torch_statedict, "seq_sequential": _seq_sequential,
                "seq_lecture": _seq_lecture, "seq_graph": _seq_graph}
DAG_BUILDERS = {"dag_residual_se_concat": _dag_residual_se_concat, "dag_split_shuffle": _dag_split_shuffle,
                "dag_nested_graph": _dag_nested_graph, "dag_add": _dag_add}


def _build(case):
    f = fixture(case)
    shape = tuple(f.graph["input_shape"])
    if case in SEQ_BUILDERS:
        net = SEQ_BUILDERS[case]()
        doc = nn.sequential_json(net, input_shape=shape, name=case)
        return Model(SEQ_BUILDERS[case](), input_shape=shape, name=case), doc
    x = nn.Input(shape, name="input")
    doc = nn.graph_json(x, DAG_BUILDERS[case](x), name=case)
    x = nn.Input(shape, name="input")
    return Model(inputs=x, outputs=DAG_BUILDERS[case](x), name=case), doc


@pytest.mark.parametrize("case", sorted(SEQ_BUILDERS) + sorted(DAG_BUILDERS))
def test_nn_built_network_matches_fixture(case):
    f = fixture(case)
    m, doc = _build(case)
    # the description is the fixture's, exactly (nn writes the file's graph metadata) ...
    assert doc == f.graph
    assert list(nn.parameter_shapes(doc).items()) == [(k, tuple(v.shape)) for k, v in f.weights.items()]
    # ... and the library reads both the same way
    ref = swiftcnn.load(f.model_path)
    assert m.to_json() == ref.to_json()
    assert m.node_names() == ref.node_names()
    # torch's parameter names, order and shapes
    sd = m.state_dict()
    assert list(sd) == list(f.weights)
    assert [v.shape for v in sd.values()] == [v.shape for v in f.weights.values()]
    assert m.parameter_names(buffers=False) == [k for k in f.weights
                                                 if not k.endswith(("running_mean", "running_var"))]
    # seeded weights are not torch's: the output differs until the weights are loaded
    assert not np.allclose(m(f.x), f.output, rtol=f.tol, atol=f.tol)
    m.load_state_dict(f.weights)
    assert_state_dicts_equal(m.state_dict(), f.weights)
    assert_close(m(f.x), f.output, f.tol, f"{case} output")
    got = m.forward(f.x, outputs=f.hooks)
    for h in f.hooks:
        assert_close(got[h], f.hook(h), f.tol, f"{case} hook {h}")


def test_nn_model_names_and_shapes():
    x = nn.Input((3, 8, 8))
    y = _dag_residual_se_concat(x)
    assert y.shape == (5,)
    m = Model(inputs=x, outputs=y)
    assert m.name == "model"  # the default name
    assert m.num_classes == 5
    assert m.output_shape((4, 3, 8, 8)) == (4, 5)
    assert m.input_names == ["input"] and m.output_names == ["fc"]
    # automatic names: op_count, in node order
    assert [n for n in m.node_names() if n.startswith("relu_")] == ["relu_1", "relu_2", "relu_3"]
    # the network accepts other sizes (it ends in adaptive pooling)
    assert m.to_json()["any_input_size"] is True
    assert m(np.zeros((2, 3, 12, 10), np.float32)).shape == (2, 5)


# ---- 3. round trips -------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES)
def test_save_load_round_trip_is_bitwise(case, tmp_path):
    f = fixture(case)
    m = swiftcnn.load(f.model_path)
    y = m(f.x)
    path = tmp_path / "m.safetensors"
    m.save(path)
    meta = st_header(path)["__metadata__"]
    assert meta["format"] == "swiftcnn" and meta["version"] == "1"
    assert json.loads(meta["graph"]) == m.to_json()
    assert st_names(path) == list(m.state_dict())  # torch's order

    m2 = swiftcnn.load(path)
    assert m2.to_json() == m.to_json()
    assert m2.node_names() == m.node_names()
    assert_state_dicts_equal(m2.state_dict(), m.state_dict())
    assert np.array_equal(m2(f.x), y)
    # saving what was loaded gives the same bytes
    path2 = tmp_path / "m2.safetensors"
    m2.save(str(path2))
    assert path.read_bytes() == path2.read_bytes()

    # the file's bytes open as the file does (bytes, bytearray, memoryview)
    data = path.read_bytes()
    for src in (Model.open_bytes(data), Model.open_bytes(bytearray(data)), swiftcnn.load(bytearray(data)),
                swiftcnn.load(memoryview(data)), Model.open(os.fsencode(str(path)))):
        assert src.to_json() == m.to_json()
        assert_state_dicts_equal(src.state_dict(), m.state_dict())
        assert np.array_equal(src(f.x), y)
    # so does the committed fixture
    orig = open(f.model_path, "rb").read()
    assert np.array_equal(Model.open_bytes(orig)(f.x), y)

    # to_json -> from_json: the same network (with seeded weights)
    doc = m.to_json()
    again = Model.from_json(doc)
    assert again.to_json() == doc
    assert Model.from_json(json.dumps(doc)).to_json() == doc
    assert list(again.state_dict()) == list(m.state_dict())


def test_from_json_weights_are_seeded_and_deterministic():
    f = fixture("dag_residual_se_concat")
    a = Model.from_json(f.graph)
    b = Model.from_json(nn.dumps(f.graph))
    assert_state_dicts_equal(a.state_dict(), b.state_dict())
    sd = a.state_dict()
    # swiftcnn seeded init v1 (scripts/weightgen.py), keyed by the parameter's name
    assert np.array_equal(sd["stem_bn.weight"], models.seeded_tensor("stem_bn.weight", (8,), 0.5, 1.5))
    assert np.array_equal(sd["stem_bn.running_mean"], models.seeded_tensor("stem_bn.running_mean", (8,), -0.1, 0.1))
    assert np.array_equal(sd["stem_bn.running_var"], models.seeded_tensor("stem_bn.running_var", (8,), 0.5, 1.5))
    assert np.array_equal(sd["fc.bias"], models.seeded_tensor("fc.bias", (5,), -0.1, 0.1))
    b = float(np.sqrt(6.0 / 27))  # conv [8, 3, 3, 3]: fan_in 27
    assert np.array_equal(sd["stem.weight"], models.seeded_tensor("stem.weight", (8, 3, 3, 3), -b, b))
    assert not np.array_equal(sd["stem.weight"], f.weights["stem.weight"])


@pytest.mark.parametrize("name", ["lenet5", "lenet5_original", "alexnet_lrn", "googlenet", "resnet18", "resnet50"])
def test_zoo_json_round_trip(name, tmp_path):
    m = models.create(name)
    doc = m.to_json()
    assert doc["version"] == 1 and doc["name"] == name
    again = Model.from_json(doc)
    assert again.to_json() == doc
    assert again.name == name and again.num_classes == m.num_classes and again.input_shape == m.input_shape
    assert again.num_parameters == m.num_parameters
    # from_json seeds as the zoo does (seed 0), so the models are equal
    x = models.seeded_tensor("input", (1,) + tuple(m.input_shape[1:]))
    y = m(x)
    assert np.array_equal(again(x), y)
    if name in ("lenet5", "lenet5_original", "resnet18"):
        m.save(tmp_path / "z.safetensors")
        z = swiftcnn.load(tmp_path / "z.safetensors")
        assert z.to_json() == doc
        assert np.array_equal(z(x), y)


# ---- 4. torch's own state_dict file ---------------------------------------------------------------

def test_torch_state_dict_file_loads_into_nn_sequential():
    f = fixture("seq_torch_statedict")
    path = os.path.join(FIXTURES, "torch_sequential.safetensors")
    raw = st_read_raw(path)
    assert "__metadata__" not in st_header(path) or "graph" not in st_header(path)["__metadata__"]
    nbt = [k for k in raw if k.endswith("num_batches_tracked")]
    assert nbt == ["1.num_batches_tracked", "4.1.num_batches_tracked"] and raw[nbt[0]].dtype == np.int64

    m = Model(_seq_torch_statedict(), input_shape=(3, 8, 8), name="seq_torch_statedict")
    assert sorted(m.state_dict()) == sorted(k for k in raw if k not in nbt)  # safetensors sorts its keys
    m.load(path)  # as it is: int64 num_batches_tracked entries are ignored
    for k, v in m.state_dict().items():
        assert np.array_equal(v, raw[k]), k
    assert_close(m(f.x), f.output, f.tol, "output")
    assert_close(m.forward(f.x, outputs=["4"])["4"], f.hook("4"), f.tol, "hook 4")

    # the same through load_state_dict, num_batches_tracked included
    m2 = Model(_seq_torch_statedict(), input_shape=(3, 8, 8))
    m2.load_state_dict(raw)
    assert np.array_equal(m2(f.x), m(f.x))


# ---- 5. training a residual CNN on the digits ------------------------------------------------------

def _residual_digits_net(width=8):
    x = nn.Input((1, 32, 32))
    h = nn.Conv2d(1, width, 3, padding=1, bias=False, name="stem")(x)
    h = nn.MaxPool2d(2)(nn.ReLU()(nn.BatchNorm2d(width, name="stem_bn")(h)))                    # 16 x 16
    r = nn.ReLU()(nn.BatchNorm2d(width, name="bn1")(nn.Conv2d(width, width, 3, padding=1, bias=False, name="conv1")(h)))
    r = nn.BatchNorm2d(width, name="bn2")(nn.Conv2d(width, width, 3, padding=1, bias=False, name="conv2")(r))
    h = nn.ReLU(name="block")(nn.add(h, r, name="sum"))                                         # the residual add
    h = nn.MaxPool2d(2, name="pool")(h)                                                          # 8 x 8
    y = nn.Linear(width * 8 * 8, 10, name="fc")(nn.Flatten()(h))
    return Model(inputs=x, outputs=y, name="residual_digits")


def test_train_residual_cnn_on_digits(tmp_path):
    d = datasets.load_digits(seed=0)  # examples/train_digits.py's split 0: 1437 train, 360 held out
    assert d.x_train.shape == (1437, 1, 32, 32) and d.x_test.shape == (360, 1, 32, 32)
    m = _residual_digits_net()
    assert "sum" in m.node_names() and "bn2" in m.node_names()
    init = m.state_dict()
    _, acc0 = m.evaluate(d.x_test, d.y_test)
    t0 = time.monotonic()
    hist = m.fit(d.x_train, d.y_train, epochs=10, batch_size=32, optimizer="sgd", lr=0.01, momentum=0.9,
                 seed=0, verbose=False)
    seconds = time.monotonic() - t0
    loss, acc = m.evaluate(d.x_test, d.y_test)
    print(f"residual digits: fit {seconds:.1f} s, held-out accuracy {acc:.4f} (untrained {acc0:.4f})")
    assert len(hist["loss"]) == 10
    assert hist["loss"][-1] < 0.25 * hist["loss"][0]
    assert acc0 < 0.3
    assert acc >= 0.95, (acc, hist)
    assert np.isfinite(loss) and loss < 0.3
    pred = m.predict(d.x_test)
    assert abs(float(np.mean(pred == d.y_test)) - acc) < 1e-12
    # batch norm learnt running statistics and its affine parameters
    sd = m.state_dict()
    for bn in ("stem_bn", "bn1", "bn2"):
        assert not np.allclose(sd[f"{bn}.running_mean"], init[f"{bn}.running_mean"]), bn
        assert not np.allclose(sd[f"{bn}.running_var"], init[f"{bn}.running_var"]), bn
        assert not np.array_equal(sd[f"{bn}.weight"], init[f"{bn}.weight"]), bn
    # the trained model survives a save / load exactly
    m.save(tmp_path / "digits.safetensors")
    back = swiftcnn.load(tmp_path / "digits.safetensors")
    assert np.array_equal(back.predict(d.x_test), pred)
    assert back.evaluate(d.x_test, d.y_test) == (loss, acc)


def test_training_is_deterministic():
    d = datasets.load_digits(seed=0)
    x, y = d.x_train[:256], d.y_train[:256]
    runs = []
    for _ in range(2):
        m = _residual_digits_net()
        h = m.fit(x, y, epochs=1, batch_size=32, lr=0.01, momentum=0.9, seed=3, verbose=False)
        runs.append((h["loss"], m.state_dict()))
    assert runs[0][0] == runs[1][0]
    assert_state_dicts_equal(runs[0][1], runs[1][1])


# ---- 6. fine-tuning resnet18 ------------------------------------------------------------------------

def test_resnet18_fine_tune_only_the_new_head():
    m = models.create("resnet18")
    trainable = m.parameter_names(buffers=False)
    buffers = [k for k in m.parameter_names() if k not in trainable]
    assert len(trainable) == 62 and len(buffers) == 40
    assert m.freeze("") == len(trainable)
    assert all(m.is_frozen(k) for k in trainable)
    assert not any(m.is_frozen(k) for k in buffers)  # buffers are not trainable parameters
    old_fc = m.state_dict()["fc.weight"]
    m.replace("fc", nn.Linear(512, 10))
    assert m.num_classes == 10
    assert m.output_shape((2, 3, 32, 32)) == (2, 10)
    # the new head is seeded and trainable; everything else stays frozen
    assert not m.is_frozen("fc.weight") and not m.is_frozen("fc.bias")
    assert all(m.is_frozen(k) for k in trainable if not k.startswith("fc."))
    before = m.state_dict()
    assert before["fc.weight"].shape == (10, 512) and old_fc.shape == (1000, 512)
    assert list(before) == [k for k in m.parameter_names()]
    fresh = models.create("resnet18")
    for k in before:
        if not k.startswith("fc."):
            assert np.array_equal(before[k], fresh.state_dict()[k]), k  # other weights kept

    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 3, 32, 32)).astype(np.float32)
    y = np.array([0, 3, 7, 9])
    opt = optim.SGD(m, lr=0.05, momentum=0.9)
    steps = 3
    losses = [m.train_step(x, y, opt) for _ in range(steps)]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    after = m.state_dict()

    # only fc.* parameters change; every frozen parameter is bitwise unchanged
    assert m.parameter_names(buffers=False) == trainable  # same names: fc.weight, fc.bias last
    changed = [k for k in trainable if not np.array_equal(before[k], after[k])]
    assert changed == ["fc.weight", "fc.bias"]
    for k in after:
        if m.is_frozen(k):
            assert np.array_equal(before[k], after[k]), k

    # Batch-norm running statistics DO change (torch's behaviour with requires_grad=False in
    # train mode): train_step always runs in training mode, and freezing stops gradients and
    # updates of trainable parameters, not the running-statistics update of the forward.
    for k in buffers:
        assert not np.array_equal(before[k], after[k]), k
    # Precisely, for the first batch norm: the backbone is frozen and x is the same batch each
    # step, so every step sees the same batch statistics s of conv1(x), and after n steps
    # running = 0.9^n * running_0 + (1 - 0.9^n) * s (unbiased variance for running_var).
    c = swiftcnn.conv2d(x, before["conv1.weight"], None, stride=2, padding=3).astype(np.float64)
    mean, var = c.mean((0, 2, 3)), c.var((0, 2, 3), ddof=1)
    keep = 0.9 ** steps
    np.testing.assert_allclose(after["bn1.running_mean"], keep * before["bn1.running_mean"] + (1 - keep) * mean,
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(after["bn1.running_var"], keep * before["bn1.running_var"] + (1 - keep) * var,
                               rtol=1e-4, atol=1e-5)


def test_fine_tuned_model_saves_and_loads(tmp_path):
    m = models.create("resnet18")
    m.freeze("")
    m.replace("fc", nn.Linear(512, 10))
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 32, 32)).astype(np.float32)
    m.train_step(x, np.array([4, 5]), optim.SGD(m, lr=0.1))
    m.save(tmp_path / "ft.safetensors")
    back = swiftcnn.load(tmp_path / "ft.safetensors")
    assert back.num_classes == 10 and back.name == "resnet18"
    assert back.to_json() == m.to_json()
    assert_state_dicts_equal(back.state_dict(), m.state_dict())
    assert np.array_equal(back(x), m(x))
    # the loaded file is a fresh model: nothing frozen
    assert not any(back.is_frozen(k) for k in back.parameter_names())


def test_failed_train_step_after_replace_leaves_weights_unchanged():
    # scnn_model_train_step: "On error the weights are unchanged" -- running statistics
    # included. An optimizer made before replace is refused before the forward pass.
    m = models.create("resnet18")
    opt = optim.SGD(m, lr=0.1)  # made for the 1000-class head
    m.replace("fc", nn.Linear(512, 10))
    before = m.state_dict()
    x = np.ones((2, 3, 32, 32), np.float32)
    with raises(swiftcnn.ShapeMismatchError, "optimizer", "fc.weight", "create the optimizer after replacing"):
        m.train_step(x, np.array([1, 2]), opt)
    after = m.state_dict()
    assert [k for k in before if not np.array_equal(before[k], after[k])] == []


def test_freeze_unfreeze_prefixes():
    m = models.create("resnet18", num_classes=10)
    assert m.freeze("layer1") == 12  # 2 blocks x (conv1, bn1 w/b, conv2, bn2 w/b)
    assert m.is_frozen("layer1.0.conv1.weight") and m.is_frozen("layer1.1.bn2.bias")
    assert not m.is_frozen("layer2.0.conv1.weight") and not m.is_frozen("conv1.weight")
    assert not m.is_frozen("layer1.0.bn1.running_mean")
    assert m.freeze("conv1.weight") == 1  # a full parameter name
    assert m.unfreeze("layer1.0") == 6
    assert not m.is_frozen("layer1.0.conv1.weight") and m.is_frozen("layer1.1.conv1.weight")
    assert not m.is_frozen("no.such.parameter")

    # a frozen layer is not trained; an unfrozen one is
    before = m.state_dict()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 32, 32)).astype(np.float32)
    m.train_step(x, np.array([1, 2]), optim.SGD(m, lr=0.1))
    after = m.state_dict()
    for k in m.parameter_names(buffers=False):
        same = np.array_equal(before[k], after[k])
        assert same == m.is_frozen(k), k

    assert m.unfreeze("") == 62
    assert not any(m.is_frozen(k) for k in m.parameter_names())


def test_replace_keeps_frozen_state_and_weights_outside_the_node():
    m = models.create("resnet18")
    fresh = m.state_dict()
    m.load_state_dict(OrderedDict((k, v + 1) for k, v in fresh.items()))  # not the seeded values
    m.freeze("")
    m.replace("layer4.1.conv2", nn.Conv2d(512, 512, 3, padding=1, bias=False))
    assert not m.is_frozen("layer4.1.conv2.weight")
    assert m.is_frozen("layer4.1.conv1.weight") and m.is_frozen("fc.weight")
    # the replaced conv is seeded anew (seed 0: the zoo's value for that name); the rest is kept
    sd = m.state_dict()
    assert list(sd) == list(fresh)
    for k in sd:
        want = fresh[k] if k == "layer4.1.conv2.weight" else fresh[k] + 1
        assert np.array_equal(sd[k], want), k


def test_replace_in_a_functional_graph():
    f = fixture("dag_residual_se_concat")
    m = swiftcnn.load(f.model_path)
    m.replace("fc", nn.Linear(8, 3))
    assert m.num_classes == 3 and m.output_names == ["fc"]
    sd = m.state_dict()
    for k, v in f.weights.items():
        if not k.startswith("fc."):
            assert np.array_equal(sd[k], v), k
    assert sd["fc.weight"].shape == (3, 8)
    # the hooks before the head are unchanged
    got = m.forward(f.x, outputs=f.hooks)
    for h in f.hooks:
        assert_close(got[h], f.hook(h), f.tol, h)


# ---- 7. errors ----------------------------------------------------------------------------------------

def _doc():
    return {"version": 1, "name": "tiny", "input_shape": [3, 8, 8], "network": {
        "op": "graph", "name": "", "graph": {
            "inputs": ["input"],
            "nodes": [
                {"name": "stem", "op": "conv2d", "inputs": ["input"],
                 "attrs": {"in_channels": 3, "out_channels": 4, "kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}},
                {"name": "act", "op": "relu", "inputs": ["stem"]},
                {"name": "sum", "op": "add", "inputs": ["stem", "act"]},
                {"name": "pool", "op": "adaptive_avg_pool2d", "inputs": ["sum"], "attrs": {"output_size": [1, 1]}},
                {"name": "flat", "op": "flatten", "inputs": ["pool"]},
                {"name": "fc", "op": "linear", "inputs": ["flat"], "attrs": {"in_features": 4, "out_features": 2}},
            ],
            "outputs": ["fc"]}}}


def _nodes(doc):
    return {n["name"]: n for n in doc["network"]["graph"]["nodes"]}


def raises(exc, *fragments):
    """pytest.raises for a library error whose message contains every fragment (regexes)."""
    pattern = "(?s)" + "".join(f"(?=.*{f})" for f in fragments)
    return pytest.raises(exc, match=pattern)


def test_hand_written_json_is_valid():
    m = Model.from_json(_doc())
    assert m.name == "tiny" and m.node_names() == ["stem", "act", "sum", "pool", "flat", "fc"]
    assert m(np.zeros((1, 3, 8, 8), np.float32)).shape == (1, 2)


def test_error_cycle():
    d = _doc()
    _nodes(d)["act"]["inputs"] = ["sum"]
    with raises(swiftcnn.FormatError, "cycle", '"act"', '"sum"'):
        Model.from_json(d)
    # a self loop
    d = _doc()
    _nodes(d)["act"]["inputs"] = ["act"]
    with raises(swiftcnn.FormatError, "cycle", '"act"'):
        Model.from_json(d)


def test_error_dangling_and_duplicate_names():
    d = _doc()
    _nodes(d)["act"]["inputs"] = ["missing_value"]
    with raises(swiftcnn.FormatError, '"act"', '"missing_value"'):
        Model.from_json(d)
    d = _doc()
    d["network"]["graph"]["outputs"] = ["nowhere"]
    with raises(swiftcnn.FormatError, "output", '"nowhere"'):
        Model.from_json(d)
    d = _doc()
    _nodes(d)["flat"]["name"] = "pool"
    with raises(swiftcnn.FormatError, '"pool"', "twice"):
        Model.from_json(d)
    d = _doc()
    _nodes(d)["sum"]["inputs"] = ["stem"]
    with raises(swiftcnn.FormatError, '"sum"', "2 inputs", "got 1"):
        Model.from_json(d)


def test_error_unknown_op_and_attribute():
    d = _doc()
    _nodes(d)["act"]["op"] = "frobnicate"
    with raises(swiftcnn.FormatError, '"act"', "unknown op", '"frobnicate"'):
        Model.from_json(d)
    d = _doc()
    _nodes(d)["stem"]["attrs"]["colour"] = 3
    with raises(swiftcnn.FormatError, '"stem"', "unknown attribute", '"colour"', "conv2d"):
        Model.from_json(d)
    with raises(swiftcnn.FormatError, "JSON"):
        Model.from_json('{"version": 1, "name": ')


def test_error_shape_mismatch_names_the_node():
    d = _doc()
    _nodes(d)["fc"]["attrs"]["in_features"] = 5
    with raises(swiftcnn.ShapeMismatchError, "fc", "5", "4"):
        Model.from_json(d)
    d = _doc()
    _nodes(d)["sum"]["inputs"] = ["stem", "input"]  # 4 channels + 3 channels
    with raises(swiftcnn.ShapeMismatchError, "sum", r"\[4, 8, 8\]", r"\[3, 8, 8\]"):
        Model.from_json(d)
    assert issubclass(swiftcnn.ShapeMismatchError, ValueError)
    # a wrong input for a valid model names the expected shape
    m = Model.from_json(_doc())
    with pytest.raises(ValueError):
        m(np.zeros((1, 2, 8, 8), np.float32))
    # and nn refuses at once, naming the module
    x = nn.Input((3, 8, 8))
    with pytest.raises(ValueError, match="in_channels|channels"):
        nn.Conv2d(4, 8, 3, name="wrong_conv")(x)


def test_error_future_schema_version():
    d = _doc()
    d["version"] = 2
    with raises(swiftcnn.UnsupportedError, "2", "1", "newer"):
        Model.from_json(d)
    with pytest.raises(NotImplementedError):
        Model.from_json(d)


def test_error_tampered_files(tmp_path):
    f = fixture("seq_torch_statedict")
    meta = dict(st_header(f.model_path)["__metadata__"])
    good = tmp_path / "good.safetensors"
    st_write(good, f.weights, meta)
    assert np.array_equal(swiftcnn.load(good)(f.x), swiftcnn.load(f.model_path)(f.x))

    def load_both(path):
        """The error of load(path); open_bytes of the same bytes raises the same kind."""
        with pytest.raises(swiftcnn.SwiftCNNError) as a:
            swiftcnn.load(path)
        with pytest.raises(type(a.value)):
            Model.open_bytes(open(path, "rb").read())
        return a.value

    p = tmp_path / "t.safetensors"
    # a newer file version
    st_write(p, f.weights, {**meta, "version": "2"})
    e = load_both(p)
    assert isinstance(e, swiftcnn.UnsupportedError) and isinstance(e, NotImplementedError)
    assert re.search("version 2", str(e)) and "(1)" in str(e)
    # a newer graph schema inside a version-1 file
    g = json.loads(meta["graph"])
    g["version"] = 7
    st_write(p, f.weights, {**meta, "graph": json.dumps(g)})
    e = load_both(p)
    assert isinstance(e, swiftcnn.UnsupportedError) and "7" in str(e)
    # not a swiftcnn file
    st_write(p, f.weights, {**meta, "format": "other"})
    e = load_both(p)
    assert isinstance(e, swiftcnn.FormatError) and "format" in str(e) and "other" in str(e)
    # a valid graph that does not match the weights: the head's width changed
    g = json.loads(meta["graph"])
    assert g["network"]["children"][7]["op"] == "linear"
    g["network"]["children"][7]["attrs"]["out_features"] = 11
    st_write(p, f.weights, {**meta, "graph": json.dumps(g)})
    e = load_both(p)
    assert isinstance(e, swiftcnn.ShapeMismatchError) and "7.weight" in str(e)
    # a graph that does not fit itself: the node is named
    g = json.loads(meta["graph"])
    g["network"]["children"][0]["attrs"]["out_channels"] = 9
    g["network"]["children"][1]["attrs"]["num_features"] = 9
    st_write(p, f.weights, {**meta, "graph": json.dumps(g)})
    e = load_both(p)
    assert isinstance(e, swiftcnn.ShapeMismatchError) and "4.0" in str(e) and "9" in str(e)
    # a missing tensor, an extra tensor, a wrong shape
    w = OrderedDict((k, v) for k, v in f.weights.items() if k != "4.1.running_var")
    st_write(p, w, meta)
    e = load_both(p)
    assert isinstance(e, ValueError) and "4.1.running_var" in str(e)
    w = OrderedDict(f.weights)
    w["extra.weight"] = np.zeros(3, np.float32)
    st_write(p, w, meta)
    e = load_both(p)
    assert isinstance(e, ValueError) and "extra.weight" in str(e)
    w = OrderedDict(f.weights)
    w["7.bias"] = np.zeros(11, np.float32)
    st_write(p, w, meta)
    e = load_both(p)
    assert isinstance(e, ValueError) and "7.bias" in str(e)
    # a graph that is not JSON
    st_write(p, f.weights, {**meta, "graph": meta["graph"][:-5]})
    e = load_both(p)
    assert isinstance(e, swiftcnn.FormatError)
    # a truncated file, a header length past the end
    data = good.read_bytes()
    p.write_bytes(data[:-7])
    assert isinstance(load_both(p), swiftcnn.FormatError)
    p.write_bytes((len(data) * 2).to_bytes(8, "little") + data[8:])
    assert isinstance(load_both(p), swiftcnn.FormatError)
    p.write_bytes(b"")
    assert isinstance(load_both(p), swiftcnn.FormatError)
    # a missing file
    with pytest.raises(swiftcnn.SwiftCNNIOError):
        swiftcnn.load(tmp_path / "absent.safetensors")


def test_error_weights_file_without_graph():
    path = os.path.join(FIXTURES, "torch_sequential.safetensors")
    with raises(swiftcnn.FormatError, "weights-only", "graph"):
        swiftcnn.load(path)
    with raises(swiftcnn.FormatError, "weights-only"):
        Model.open_bytes(open(path, "rb").read())


def test_error_forward_unknown_output():
    f = fixture("dag_residual_se_concat")
    m = swiftcnn.load(f.model_path)
    with raises(swiftcnn.InvalidArgumentError, '"nope"', "stem"):
        m.forward(f.x, outputs=["nope"])
    with raises(swiftcnn.InvalidArgumentError, '"nope"'):
        m.forward(f.x, outputs=["se", "nope"])
    r = models.create("resnet18")
    with raises(swiftcnn.InvalidArgumentError, '"layer9"'):
        r.forward(np.zeros((1, 3, 32, 32), np.float32), outputs=["layer9"])


def test_error_replace_that_does_not_fit_leaves_model_unchanged():
    m = models.create("resnet18")
    m.freeze("layer1")
    x = models.seeded_tensor("input", (1, 3, 32, 32))
    y = m(x)
    doc, names, sd = m.to_json(), m.node_names(), m.state_dict()
    frozen = [k for k in m.parameter_names() if m.is_frozen(k)]

    def unchanged():
        assert m.to_json() == doc
        assert m.node_names() == names
        assert_state_dicts_equal(m.state_dict(), sd)
        assert [k for k in m.parameter_names() if m.is_frozen(k)] == frozen
        assert np.array_equal(m(x), y)

    with raises(swiftcnn.ShapeMismatchError, "fc", "256", "512"):
        m.replace("fc", nn.Linear(256, 10))
    unchanged()
    with raises(swiftcnn.ShapeMismatchError, "layer1.0.bn1", "64", "32"):
        m.replace("layer1.0.conv1", nn.Conv2d(64, 32, 3, padding=1, bias=False))
    unchanged()
    with raises(swiftcnn.InvalidArgumentError, '"nope"'):
        m.replace("nope", nn.Linear(512, 10))
    unchanged()
    with pytest.raises(TypeError):
        m.replace("fc", "not a module")
    unchanged()


def test_error_freeze_unknown_prefix():
    m = models.create("resnet18")
    with raises(swiftcnn.InvalidArgumentError, '"nope"'):
        m.freeze("nope")
    with raises(swiftcnn.InvalidArgumentError, '"layer"'):
        m.freeze("layer")  # a prefix of names, not a node path: covers nothing
    with raises(swiftcnn.InvalidArgumentError, '"bn1.running_mean"'):
        m.freeze("bn1.running_mean")  # a buffer, not a trainable parameter
    with raises(swiftcnn.InvalidArgumentError, '"nope"'):
        m.unfreeze("nope")
    assert not any(m.is_frozen(k) for k in m.parameter_names())


# ---- 8. intermediate outputs of zoo models ----------------------------------------------------------

def test_resnet18_intermediate_outputs():
    m = models.create("resnet18")
    x = np.random.default_rng(3).standard_normal((2, 3, 64, 64)).astype(np.float32)
    got = m.forward(x, outputs=["layer3", "layer1.0.bn1", "conv1", "maxpool", "fc"])
    assert list(got) == ["layer3", "layer1.0.bn1", "conv1", "maxpool", "fc"]
    assert got["conv1"].shape == (2, 64, 32, 32)
    assert got["maxpool"].shape == (2, 64, 16, 16)
    assert got["layer1.0.bn1"].shape == (2, 64, 16, 16)
    assert got["layer3"].shape == (2, 256, 4, 4)
    assert got["fc"].shape == (2, 1000)
    y = m(x)
    scale = float(np.abs(y).max())
    np.testing.assert_allclose(got["fc"], y, rtol=1e-4, atol=1e-4 * scale)
    # the values: recomputed from the weights with the library's functional ops
    sd = m.state_dict()
    c1 = swiftcnn.conv2d(x, sd["conv1.weight"], None, stride=2, padding=3)
    np.testing.assert_allclose(got["conv1"], c1, rtol=1e-4, atol=1e-4)
    h = swiftcnn.relu(swiftcnn.batch_norm(c1, sd["bn1.running_mean"], sd["bn1.running_var"],
                                          sd["bn1.weight"], sd["bn1.bias"]))
    h = swiftcnn.max_pool2d(h, 3, 2, 1)
    np.testing.assert_allclose(got["maxpool"], h, rtol=1e-4, atol=1e-4)
    b = swiftcnn.conv2d(h, sd["layer1.0.conv1.weight"], None, padding=1)
    b = swiftcnn.batch_norm(b, sd["layer1.0.bn1.running_mean"], sd["layer1.0.bn1.running_var"],
                            sd["layer1.0.bn1.weight"], sd["layer1.0.bn1.bias"])
    np.testing.assert_allclose(got["layer1.0.bn1"], b, rtol=1e-4, atol=1e-4)
    # layer3 is what layer4 + avgpool + fc start from
    np.testing.assert_allclose(m.forward(x, outputs=["layer4"])["layer4"].mean((2, 3)) @ sd["fc.weight"].T + sd["fc.bias"],
                               y, rtol=1e-4, atol=1e-4 * scale)


@pytest.mark.parametrize("name,channels", [("alexnet", 192), ("vgg11", 128)])
def test_features_4_of_alexnet_and_vgg(name, channels):
    m = models.create(name)
    x = np.random.default_rng(4).standard_normal((2, 3, 64, 64)).astype(np.float32)
    last = "classifier.6"
    got = m.forward(x, outputs=["features.4", last])
    sd = m.state_dict()
    if name == "alexnet":
        # conv(11, stride 4, pad 2) relu maxpool(3, 2) conv(5, pad 2) relu
        h = swiftcnn.relu(swiftcnn.conv2d(x, sd["features.0.weight"], sd["features.0.bias"], stride=4, padding=2))
        h = swiftcnn.max_pool2d(h, 3, 2)
        h = swiftcnn.relu(swiftcnn.conv2d(h, sd["features.3.weight"], sd["features.3.bias"], padding=2))
        assert got["features.4"].shape == (2, channels, 7, 7)
    else:
        # conv relu maxpool(2) conv relu
        h = swiftcnn.relu(swiftcnn.conv2d(x, sd["features.0.weight"], sd["features.0.bias"], padding=1))
        h = swiftcnn.max_pool2d(h, 2)
        h = swiftcnn.relu(swiftcnn.conv2d(h, sd["features.3.weight"], sd["features.3.bias"], padding=1))
        assert got["features.4"].shape == (2, channels, 32, 32)
    np.testing.assert_allclose(got["features.4"], h, rtol=1e-4, atol=1e-4 * float(np.abs(h).max()))
    y = m(x)
    assert got[last].shape == y.shape == (2, 1000)
    np.testing.assert_allclose(got[last], y, rtol=1e-4, atol=1e-4 * float(np.abs(y).max()))
