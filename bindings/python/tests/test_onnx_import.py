"""swiftcnn.onnx: importing torchvision-style ONNX files, checked against ONNX Runtime.

Torch is not needed: the fixtures of Tests/fixtures/onnx are committed, written by
scripts/make_onnx_fixtures.py (miniatures of torchvision's classification and segmentation
CNNs exported by torch.onnx.export's TorchScript exporter at opsets 11 to 21; the folder's
README.md says what each covers). Each NAME.onnx comes with NAME.npz: its "input" and ONNX
Runtime's output for it under each ONNX output name. Needs numpy, onnx and onnxruntime.

Tolerance: every output y of swiftcnn must satisfy max|swiftcnn - ORT| <= 1e-4 * max|y|
(TOL below; relative to the output's largest magnitude, as float32 engines that sum in a
different order and fold BatchNorm into the convs differ by ~1e-6 of it).

1. every fixture loads from its path and reproduces ORT's stored outputs, by output name;
2. loading from bytes gives the same outputs; convert() writes a swiftcnn model file that
   swiftcnn.load and swiftcnn.Model.open reopen with the same outputs;
3. the dynamic-batch fixtures (_dyn) run at batch 1 and 3; every fixture on a fresh random
   input against ONNX Runtime run here;
4. errors: truncated and random bytes raise a Python exception; a model with unsupported
   nodes raises one error that lists every one of them by op type and node name.
"""
import glob
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import swiftcnn
import swiftcnn.onnx as sonnx

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
FIXTURES = os.path.join(REPO, "Tests", "fixtures", "onnx")
NAMES = sorted(os.path.basename(p)[:-5] for p in glob.glob(os.path.join(FIXTURES, "*.onnx")))
DYNAMIC = [n for n in NAMES if n.endswith("_dyn")]
TOL = 1e-4  # max|swiftcnn - ORT| <= TOL * max|ORT|, per output

# a few fixtures for the slower round trips (bytes, convert): one per family of patterns
ROUND_TRIP = ["alexnet_tiny", "convnext_tiny_op11", "deeplabv3_tiny", "fcn_tiny_dyn", "heads_misc_op13",
              "inception_v3_tiny", "mobilenet_v3_small_tiny", "shufflenet_v2_tiny_op18"]


def fixture_path(name):
    return os.path.join(FIXTURES, name + ".onnx")


def stored(name):
    """(input, {output name: ORT's output}) of a fixture, outputs in the ONNX graph's order."""
    proto = onnx.load(fixture_path(name))
    with np.load(os.path.join(FIXTURES, name + ".npz")) as z:
        x = z["input"]
        outs = {o.name: z[o.name] for o in proto.graph.output}
    return x, outs


def run(model, x, names):
    """{output name: array} from a swiftcnn model for the ONNX output names."""
    got = model.forward(np.ascontiguousarray(x, dtype=np.float32), outputs=list(names))
    if isinstance(got, dict):
        return {n: np.asarray(got[n]) for n in names}
    if isinstance(got, np.ndarray):
        got = [got]
    assert len(got) == len(names), f"forward(outputs={names}) returned {len(got)} arrays"
    return {n: np.asarray(a) for n, a in zip(names, got)}


def output_names(model):
    names = model.output_names
    return list(names() if callable(names) else names)


def check_close(got, want, where):
    for name, y in want.items():
        assert name in got, f"{where}: no output {name!r}"
        g = got[name]
        assert g.shape == y.shape, f"{where}: {name} has shape {g.shape}, ORT's {y.shape}"
        assert np.all(np.isfinite(g)), f"{where}: {name} has non-finite values"
        scale = float(np.max(np.abs(y)))
        err = float(np.max(np.abs(g.astype(np.float64) - y.astype(np.float64))))
        assert err <= TOL * scale, \
            f"{where}: {name}: max|swiftcnn - ORT| = {err:.3g} > {TOL} * max|y| ({scale:.3g}), relative {err / scale:.2e}"


_sessions = {}


def ort_run(name, x):
    if name not in _sessions:
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        _sessions[name] = ort.InferenceSession(fixture_path(name), so, providers=["CPUExecutionProvider"])
    s = _sessions[name]
    names = [o.name for o in s.get_outputs()]
    return dict(zip(names, s.run(None, {s.get_inputs()[0].name: x})))


_models = {}


def loaded(name):
    if name not in _models:
        _models[name] = sonnx.load(fixture_path(name))
    return _models[name]


# ---- 1. every fixture against ORT's stored outputs --------------------------------------------

def test_fixtures_are_present():
    # the fixtures are committed; a missing folder would silently skip everything below
    assert len(NAMES) >= 30, f"expected the committed fixtures in {FIXTURES}"
    assert len(DYNAMIC) >= 2
    for n in NAMES:
        assert os.path.exists(os.path.join(FIXTURES, n + ".npz")), n
    opsets = {onnx.load(fixture_path(n)).opset_import[0].version for n in NAMES}
    assert {11, 13, 17, 18, 20, 21} <= opsets


@pytest.mark.parametrize("name", NAMES)
def test_fixture_matches_onnxruntime(name):
    x, want = stored(name)
    model = loaded(name)
    assert isinstance(model, swiftcnn.Model)
    assert output_names(model) == list(want), f"{name}: output names"
    check_close(run(model, x, list(want)), want, name)
    if len(want) == 1:  # forward(x) without names: the single output
        (only,) = want.values()
        check_close({"y": np.asarray(model.forward(x))}, {"y": only}, name + " forward(x)")


# ---- 2. bytes and swiftcnn model files --------------------------------------------------------

@pytest.mark.parametrize("name", ROUND_TRIP)
def test_load_from_bytes(name):
    x, want = stored(name)
    with open(fixture_path(name), "rb") as f:
        data = f.read()
    for source in (data, bytearray(data), memoryview(data)):
        model = sonnx.load(source)
        check_close(run(model, x, list(want)), want, f"{name} from {type(source).__name__}")


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_convert_to_model_file(name, tmp_path):
    x, want = stored(name)
    dst = tmp_path / (name + ".safetensors")
    sonnx.convert(fixture_path(name), str(dst))
    assert dst.stat().st_size > 0
    direct = run(loaded(name), x, list(want))
    for opener in (swiftcnn.load, swiftcnn.Model.open):
        model = opener(str(dst))
        assert output_names(model) == list(want)
        got = run(model, x, list(want))
        check_close(got, want, f"{name} via convert() + {opener.__qualname__}")
        for n in want:  # the same engine on the same weights
            np.testing.assert_allclose(got[n], direct[n], rtol=0, atol=1e-6 * float(np.max(np.abs(want[n]))))


# ---- 3. batch sizes and fresh inputs, ORT run here ----------------------------------------------

@pytest.mark.parametrize("name", DYNAMIC)
@pytest.mark.parametrize("batch", [1, 3])
def test_dynamic_batch(name, batch):
    x, _ = stored(name)
    rng = np.random.default_rng(batch)
    xb = rng.uniform(-1, 1, size=(batch, *x.shape[1:])).astype(np.float32)
    xb[0] = x[0]
    want = ort_run(name, xb)
    got = run(loaded(name), xb, list(want))
    check_close(got, want, f"{name} batch {batch}")
    for n in want:  # each image on its own gives its row of the batch
        one = run(loaded(name), xb[-1:], [n])[n]
        check_close({n: one}, {n: want[n][-1:]}, f"{name} batch {batch}, last image alone")


@pytest.mark.parametrize("name", NAMES)
def test_fresh_input_against_live_onnxruntime(name):
    x, _ = stored(name)
    rng = np.random.default_rng(sum(map(ord, name)))
    x2 = rng.uniform(-1, 1, size=x.shape).astype(np.float32)
    want = ort_run(name, x2)
    check_close(run(loaded(name), x2, list(want)), want, f"{name} on a fresh input")


# ---- 4. errors ---------------------------------------------------------------------------------

def expect_clean_error(source, what):
    with pytest.raises(Exception) as info:  # noqa: PT011 (any Python exception; the point is no crash)
        sonnx.load(source)
    assert not isinstance(info.value, (SystemError, MemoryError, RecursionError)), \
        f"{what}: {type(info.value).__name__}: {info.value}"
    assert str(info.value).strip(), f"{what}: {type(info.value).__name__} without a message"
    return info.value


@pytest.mark.parametrize("name", ["resnet_basic_tiny", "fcn_tiny", "convnext_tiny_op20"])
def test_truncated_file_raises(name, tmp_path):
    with open(fixture_path(name), "rb") as f:
        data = f.read()
    half = data[: len(data) // 2]
    expect_clean_error(half, f"{name} cut in half (bytes)")
    p = tmp_path / "half.onnx"
    p.write_bytes(half)
    expect_clean_error(str(p), f"{name} cut in half (file)")
    expect_clean_error(data[:17], f"{name}: first 17 bytes")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_bytes_raise(seed):
    data = np.random.default_rng(seed).integers(0, 256, size=4096, dtype=np.uint8).tobytes()
    expect_clean_error(data, f"random bytes (seed {seed})")


def test_empty_and_missing_sources_raise(tmp_path):
    expect_clean_error(b"", "empty bytes")
    with pytest.raises(Exception):  # noqa: PT011
        sonnx.load(str(tmp_path / "no_such_file.onnx"))


def unsupported_model():
    """Conv (supported) -> TopK, NonMaxSuppression and a made-up op of another domain: three
    unsupported nodes, each with its own name. The model passes ONNX's checker."""
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 3, 3], np.ones(4 * 3 * 3 * 3, np.float32) * 0.1)
    k = helper.make_tensor("k", TensorProto.INT64, [1], [2])
    boxes = helper.make_tensor("boxes", TensorProto.FLOAT, [1, 4, 4], np.arange(16, dtype=np.float32))
    nodes = [
        helper.make_node("Conv", ["input", "w"], ["c"], name="conv_ok", pads=[1, 1, 1, 1]),
        helper.make_node("TopK", ["c", "k"], ["vals", "idx"], name="my_topk", axis=1),
        helper.make_node("Reshape", ["c", "shape"], ["scores"], name="reshape_scores"),
        helper.make_node("NonMaxSuppression", ["boxes", "scores"], ["sel"], name="my_nms"),
        helper.make_node("Frobnicate", ["vals"], ["frob"], name="my_frobnicate", domain="com.example"),
    ]
    shape = helper.make_tensor("shape", TensorProto.INT64, [3], [1, 4, 4])
    graph = helper.make_graph(
        nodes, "unsupported",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 2, 2])],
        [helper.make_tensor_value_info("frob", TensorProto.FLOAT, [1, 2, 2, 2]),
         helper.make_tensor_value_info("sel", TensorProto.INT64, [4, 3])],
        initializer=[w, k, boxes, shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    onnx.checker.check_model(model)
    return model


def test_unsupported_nodes_are_all_listed():
    data = unsupported_model().SerializeToString()
    err = expect_clean_error(data, "unsupported ops")
    msg = str(err)
    for op, node in (("TopK", "my_topk"), ("NonMaxSuppression", "my_nms"), ("Frobnicate", "my_frobnicate")):
        assert op in msg and node in msg, f"{op} ({node}) missing from the error message: {msg}"
    for node in ("conv_ok",):
        assert node not in msg, f"the supported node {node} is listed as unsupported: {msg}"


@pytest.mark.parametrize("auto_pad,out_hw", [("SAME_UPPER", 4), ("SAME_LOWER", 4), ("VALID", 3), ("NOTSET", 4)])
def test_conv_auto_pad_matches_onnxruntime(auto_pad, out_hw):
    # not written by torch's exporter (it spells pads out), but common in other ONNX files:
    # stride 2 on 8x8 with a 3x3 kernel needs one row/column of padding, after (SAME_UPPER)
    # or before (SAME_LOWER) the data
    rng = np.random.default_rng(7)
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 3, 3], rng.standard_normal(108).astype(np.float32))
    attrs = {"strides": [2, 2], "auto_pad": auto_pad}
    if auto_pad == "NOTSET":
        attrs["pads"] = [0, 0, 1, 1]  # the same as SAME_UPPER, spelled out (asymmetric)
    node = helper.make_node("Conv", ["input", "w"], ["y"], name="conv", **attrs)
    graph = helper.make_graph([node], "auto_pad", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, out_hw, out_hw])],
                              initializer=[w])
    data = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    x = rng.uniform(-1, 1, (1, 3, 8, 8)).astype(np.float32)
    (want,) = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"input": x})
    check_close(run(sonnx.load(data), x, ["y"]), {"y": want}, f"Conv auto_pad={auto_pad}")
