"""Segmentation (issue 12): the zoo's fcn_resnet50 / deeplabv3_resnet50 (with and without the
auxiliary head) against committed torchvision fixtures (Tests/fixtures/segmentation, made by
scripts/make_segmentation_fixtures.py: seeded weights, images [2, 3, 37, 45]), Model.segment
(float, uint8, lists of different sizes), the VOC labels, the upsample_like graph op (JSON,
shapes at any input size, forward against the fixed-size upsample, training through it) and
auxiliary losses (the loss and the gradient of a tiny model computed by hand in numpy).

Tolerances: the score maps within 1e-4 of their largest magnitude (the issue's "1e-4
relative"); labels equal to torch's argmax at every pixel whose top-2 margin exceeds 100x the
largest logit difference found (the others may legitimately flip); scores within that largest
logit difference (a softmax probability moves by at most half of it).
"""
import json
import pathlib
import struct

import numpy as np
import pytest

import swiftcnn
from swiftcnn import models

FIX = pathlib.Path(__file__).resolve().parents[3] / "Tests" / "fixtures" / "segmentation"
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(1, 3, 1, 1)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(1, 3, 1, 1)
_DT = {"F32": np.float32, "I64": np.int64}


def st_read(path):
    """{name: array}, metadata of a safetensors file (F32 and I64 entries)."""
    raw = pathlib.Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    body = raw[8 + n:]
    out = {}
    for k, v in header.items():
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(body[a:b], dtype=_DT[v["dtype"]]).reshape(v["shape"])
    return out, meta


def rel_err(a, b):
    return float(np.abs(a.astype(np.float64) - b).max() / np.abs(b).max())


@pytest.fixture(scope="module", params=["fcn_resnet50", "deeplabv3_resnet50"])
def case(request):
    name = request.param
    tensors, meta = st_read(FIX / f"{name}.safetensors")
    aux_model = models.create(name + "_aux")
    x = ((tensors["images"] - MEAN) / STD).astype(np.float32)
    got = aux_model.forward(x, outputs=["out", "aux"])
    return name, tensors, meta, aux_model, got


def test_voc_classes():
    names = models.voc_classes()
    assert len(names) == 21 and names[0] == "background" and names[15] == "person" and names[20] == "tvmonitor"
    assert len(set(names)) == 21


def test_zoo_names_and_defaults():
    for n in ["fcn_resnet50", "fcn_resnet50_aux", "deeplabv3_resnet50", "deeplabv3_resnet50_aux"]:
        assert n in models.names()
        assert models.default_num_classes(n) == 21


def test_state_dict_names_and_counts_match_torchvision(case):
    name, _, meta, aux_model, _ = case
    expected = json.loads(meta["state_dict"])
    sd = aux_model.state_dict()
    assert [[k, list(v.shape)] for k, v in sd.items()] == expected
    assert aux_model.num_parameters == int(meta["num_parameters"])
    assert models.create(name).num_parameters == int(meta["num_parameters_no_aux"])


def test_out_and_aux_match_torchvision(case):
    _, t, _, _, got = case
    assert got["out"].shape == t["out"].shape == (2, 21, 37, 45)
    assert rel_err(got["out"], t["out"]) < 1e-4
    assert rel_err(got["aux"], t["aux"]) < 1e-4


def test_plain_model_matches_the_aux_models_out(case):
    # The same seeded weights by name: the model without the head gives the same "out".
    name, t, _, _, got = case
    m = models.create(name)
    y = m((((t["images"] - MEAN) / STD)).astype(np.float32))
    assert y.shape == (2, 21, 37, 45)
    assert rel_err(y, t["out"]) < 1e-4


def test_segment_labels_and_scores_match_torch(case):
    _, t, _, aux_model, got = case
    r = aux_model.segment(t["images"])
    assert r["labels"].dtype == np.int64 and r["scores"].dtype == np.float32
    assert r["labels"].shape == r["scores"].shape == (2, 37, 45)
    tol = 100 * float(np.abs(got["out"].astype(np.float64) - t["out"]).max())
    safe = t["margin"] > tol
    assert safe.mean() > 0.95
    assert np.array_equal(r["labels"][safe], t["labels"][safe])
    # A softmax probability moves by at most half the largest change of the logits (each
    # p·(1 − p) <= 1/4 times the change of a difference of two logits).
    diff = float(np.abs(got["out"].astype(np.float64) - t["out"]).max())
    np.testing.assert_allclose(r["scores"], t["scores"], atol=max(1e-5, diff), rtol=0)
    # The task's argmax/softmax agree with numpy on the model's own scores everywhere.
    assert np.array_equal(r["labels"], got["out"].argmax(1))


def test_torchvision_state_dict_with_and_without_aux_loads():
    src = models.create("fcn_resnet50_aux")
    sd = src.state_dict()  # torchvision's keys, aux_classifier.* included
    plain = models.create("fcn_resnet50")
    with pytest.raises(ValueError, match="aux_classifier"):
        plain.load_state_dict(sd)  # strict: the aux keys are unexpected
    plain.load_state_dict(sd, strict=False)
    again = models.create("fcn_resnet50_aux")
    again.load_state_dict(sd)
    no_aux = {k: v for k, v in sd.items() if not k.startswith("aux_classifier.")}
    plain.load_state_dict(no_aux)


def test_segment_uint8_and_lists_of_sizes():
    m = models.create("fcn_resnet50")
    rng = np.random.default_rng(7)
    a = rng.integers(0, 256, size=(19, 23, 3), dtype=np.uint8)
    b = rng.integers(0, 256, size=(12, 30, 3), dtype=np.uint8)
    ra = m.segment(a)
    assert ra["labels"].shape == (1, 19, 23)
    # uint8 HWC is bytes / 255 then the float path (p · (1/255) there, p / 255 here: the last
    # bit differs, which the untrained network's large logits amplify to ~1e-4 in a score).
    rf = m.segment((a.astype(np.float32) / 255).transpose(2, 0, 1)[None])
    assert np.array_equal(ra["labels"], rf["labels"])
    np.testing.assert_allclose(ra["scores"], rf["scores"], atol=1e-3)
    both = m.segment([a, b])
    assert isinstance(both, list) and len(both) == 2
    assert both[0]["labels"].shape == (19, 23) and both[1]["labels"].shape == (12, 30)
    assert np.array_equal(both[0]["labels"], ra["labels"][0])
    assert np.array_equal(both[1]["labels"], m.segment(b)["labels"][0])
    assert ((both[1]["scores"] > 0) & (both[1]["scores"] <= 1)).all()
    assert both[1]["labels"].min() >= 0 and both[1]["labels"].max() < 21


def test_segment_rejects_bad_images():
    m = models.create("fcn_resnet50")
    with pytest.raises(ValueError):
        m.segment(np.zeros((4, 4, 4), dtype=np.uint8))
    with pytest.raises(ValueError):
        m.segment(np.zeros((1, 1, 4, 4), dtype=np.float32))
    with pytest.raises(TypeError):
        m.segment(np.zeros((1, 3, 4, 4), dtype=np.int32))
    clf = models.create("lenet5")
    with pytest.raises(ValueError):
        clf.segment(np.zeros((1, 3, 32, 32), dtype=np.float32))  # lenet takes 1 channel, gives [N, 10]


def _graph(nodes, outputs, input_shape, any_size=True, extra=None):
    doc = {"version": 1, "name": "t", "input_shape": input_shape, "any_input_size": any_size,
           "network": {"op": "graph", "name": "", "graph": {"inputs": ["input"], "nodes": nodes, "outputs": outputs}}}
    doc.update(extra or {})
    return doc


def test_upsample_like_matches_fixed_upsample_at_any_size():
    like = _graph([
        {"name": "pool", "op": "avg_pool2d", "inputs": ["input"],
         "attrs": {"kernel_shape": [2, 3], "strides": [2, 3], "pads": [0, 0, 0, 0], "ceil_mode": False}},
        {"name": "up", "op": "upsample_like", "inputs": ["pool", "input"],
         "attrs": {"mode": "bilinear", "align_corners": False}},
    ], ["up"], [2, 7, 11])
    m = models.Model.from_json(like)
    doc = m.to_json()
    assert [n["op"] for n in doc["network"]["graph"]["nodes"]] == ["avg_pool2d", "upsample_like"]
    assert models.Model.from_json(doc).to_json() == doc
    rng = np.random.default_rng(3)
    for h, w in [(7, 11), (13, 9), (6, 6)]:
        x = rng.standard_normal((2, 2, h, w)).astype(np.float32)
        y = m(x)
        assert y.shape == (2, 2, h, w)
        fixed = models.Model.from_json(_graph([
            {"name": "pool", "op": "avg_pool2d", "inputs": ["input"],
             "attrs": {"kernel_shape": [2, 3], "strides": [2, 3], "pads": [0, 0, 0, 0], "ceil_mode": False}},
            {"name": "up", "op": "upsample", "inputs": ["pool"],
             "attrs": {"mode": "bilinear", "align_corners": False, "sizes": [h, w]}},
        ], ["up"], [2, h, w], any_size=False))
        np.testing.assert_array_equal(y, fixed(x))


def test_upsample_like_needs_two_image_inputs():
    bad = _graph([{"name": "up", "op": "upsample_like", "inputs": ["input"], "attrs": {"mode": "nearest"}}], ["up"], [2, 4, 4])
    with pytest.raises(ValueError, match="2 inputs"):
        models.Model.from_json(bad)


def test_training_through_upsample_like():
    doc = _graph([
        {"name": "conv", "op": "conv2d", "inputs": ["input"],
         "attrs": {"in_channels": 1, "out_channels": 3, "kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1],
                   "dilations": [1, 1], "group": 1, "bias": True}},
        {"name": "up", "op": "upsample_like", "inputs": ["conv", "input"], "attrs": {"mode": "bilinear"}},
        {"name": "flat", "op": "flatten", "inputs": ["up"]},
        {"name": "fc", "op": "linear", "inputs": ["flat"], "attrs": {"in_features": 3 * 6 * 6, "out_features": 2, "bias": True}},
    ], ["fc"], [1, 6, 6], any_size=False)
    m = models.Model.from_json(doc)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((8, 1, 6, 6)).astype(np.float32)
    y = (x[:, 0, :3].mean(axis=(1, 2)) > 0).astype(np.int64)
    conv_before = m.state_dict()["conv.weight"].copy()
    opt = swiftcnn.optim.SGD(m, lr=0.05)
    losses = [m.train_step(x, y, opt) for _ in range(5)]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    assert not np.array_equal(m.state_dict()["conv.weight"], conv_before)  # the gradient got through


def _aux_doc():
    # Two auxiliary heads with weight 0.3 each, as GoogLeNet's: head1 on the hidden layer,
    # head2 straight on the input.
    return _graph([
        {"name": "flat", "op": "flatten", "inputs": ["input"]},
        {"name": "h", "op": "linear", "inputs": ["flat"], "attrs": {"in_features": 6, "out_features": 5, "bias": True}},
        {"name": "act", "op": "relu", "inputs": ["h"]},
        {"name": "fc", "op": "linear", "inputs": ["act"], "attrs": {"in_features": 5, "out_features": 3, "bias": True}},
        {"name": "head1", "op": "linear", "inputs": ["act"], "attrs": {"in_features": 5, "out_features": 3, "bias": True}},
        {"name": "head2", "op": "linear", "inputs": ["flat"], "attrs": {"in_features": 6, "out_features": 3, "bias": True}},
    ], ["fc", "head1", "head2"], [1, 2, 3], any_size=False,
        extra={"auxiliary_losses": [{"output": "head1", "weight": 0.3}, {"output": "head2", "weight": 0.3}]})


def _ce(logits, y):
    z = logits - logits.max(1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    loss = -np.log(p[np.arange(len(y)), y]).mean()
    g = p.copy()
    g[np.arange(len(y)), y] -= 1
    return loss, g / len(y)


def test_auxiliary_loss_is_added_in_training_and_its_gradient_reaches_the_head():
    m = models.Model.from_json(_aux_doc())
    # The auxiliary heads are not part of inference (forward gives fc), but they are in the state dict.
    assert set(m.state_dict()) == {"h.weight", "h.bias", "fc.weight", "fc.bias", "head1.weight", "head1.bias",
                                   "head2.weight", "head2.bias"}
    assert m.num_parameters == 6 * 5 + 5 + 2 * (5 * 3 + 3) + 6 * 3 + 3
    assert "head1" not in m.node_names() and "head2" not in m.node_names()
    sd = {k: v.astype(np.float64) for k, v in m.state_dict().items()}
    rng = np.random.default_rng(11)
    x = rng.standard_normal((4, 1, 2, 3)).astype(np.float32)
    xf = x.reshape(4, 6).astype(np.float64)
    y = np.array([0, 2, 1, 2])
    h = xf @ sd["h.weight"].T + sd["h.bias"]
    a = np.maximum(h, 0)
    main = a @ sd["fc.weight"].T + sd["fc.bias"]
    aux1 = a @ sd["head1.weight"].T + sd["head1.bias"]
    aux2 = xf @ sd["head2.weight"].T + sd["head2.bias"]
    np.testing.assert_allclose(m(x), main, rtol=1e-5, atol=1e-5)
    l_main, g_main = _ce(main, y)
    l_aux1, g_aux1 = _ce(aux1, y)
    l_aux2, g_aux2 = _ce(aux2, y)
    lr = 0.1
    opt = swiftcnn.optim.SGD(m, lr=lr)
    loss = m.train_step(x, y, opt)
    # the paper's rule: main + 0.3 · (aux1 + aux2), each computed separately here
    assert loss == pytest.approx(l_main + 0.3 * (l_aux1 + l_aux2), rel=1e-5)
    # SGD without momentum: new = old - lr * grad, with the gradient of that sum.
    g1, g2 = 0.3 * g_aux1, 0.3 * g_aux2
    ga = g_main @ sd["fc.weight"] + g1 @ sd["head1.weight"]
    gh = ga * (h > 0)
    expected = {"fc.weight": g_main.T @ a, "fc.bias": g_main.sum(0), "head1.weight": g1.T @ a, "head1.bias": g1.sum(0),
                "head2.weight": g2.T @ xf, "head2.bias": g2.sum(0), "h.weight": gh.T @ xf, "h.bias": gh.sum(0)}
    new = m.state_dict()
    for k, g in expected.items():
        np.testing.assert_allclose(new[k], sd[k] - lr * g, rtol=1e-4, atol=1e-6, err_msg=k)
    assert np.abs(expected["head1.weight"]).max() > 1e-3 and np.abs(expected["head2.weight"]).max() > 1e-3
    # In eval mode nothing of the heads runs: the forward output is unchanged by them.
    m.eval()
    np.testing.assert_allclose(m(x), np.maximum(xf @ new["h.weight"].astype(np.float64).T + new["h.bias"], 0)
                               @ new["fc.weight"].astype(np.float64).T + new["fc.bias"], rtol=1e-5, atol=1e-5)
    # JSON round trip keeps the auxiliary losses.
    doc = m.to_json()
    assert doc["auxiliary_losses"] == [{"output": "head1", "weight": 0.3}, {"output": "head2", "weight": 0.3}]
    assert models.Model.from_json(doc).to_json() == doc


def test_auxiliary_loss_errors():
    doc = _aux_doc()
    doc["auxiliary_losses"] = [{"output": "fc", "weight": 0.3}]
    with pytest.raises(ValueError, match="after the first"):
        models.Model.from_json(doc)
    doc["auxiliary_losses"] = [{"output": "nope", "weight": 0.3}]
    with pytest.raises(ValueError):
        models.Model.from_json(doc)
    doc["auxiliary_losses"] = [{"output": "head1", "weight": -1}]
    with pytest.raises(ValueError):
        models.Model.from_json(doc)


def test_reference_path_matches_the_optimized_plan_and_torch():
    # With reference kernels forced, forward walks the graph with the naive kernels (no
    # compiled plan, no conv + BN folding): deeplabv3 (ASPP's pooling branch resizes with
    # upsample_like inside a branch) must agree with the optimized plan and with torch.
    t, _ = st_read(FIX / "deeplabv3_resnet50.safetensors")
    m = models.create("deeplabv3_resnet50")
    x = ((t["images"][:1] - MEAN) / STD).astype(np.float32)
    fast = m(x)
    swiftcnn.set_reference_kernels(True)
    try:
        ref = m(x)
    finally:
        swiftcnn.set_reference_kernels(False)
    assert rel_err(ref, fast.astype(np.float64)) < 1e-5
    assert rel_err(ref, t["out"][:1]) < 1e-4


def test_upsample_like_backward_equals_the_fixed_size_upsample():
    def doc(up):
        return _graph([
            {"name": "conv", "op": "conv2d", "inputs": ["input"],
             "attrs": {"in_channels": 2, "out_channels": 3, "kernel_shape": [3, 3], "strides": [2, 2],
                       "pads": [1, 1, 1, 1], "dilations": [1, 1], "group": 1, "bias": True}},
            up,
            {"name": "flat", "op": "flatten", "inputs": ["up"]},
            {"name": "fc", "op": "linear", "inputs": ["flat"], "attrs": {"in_features": 3 * 7 * 9, "out_features": 4, "bias": True}},
        ], ["fc"], [2, 7, 9], any_size=False)
    like = models.Model.from_json(doc({"name": "up", "op": "upsample_like", "inputs": ["conv", "input"],
                                        "attrs": {"mode": "bilinear", "align_corners": False}}))
    fixed = models.Model.from_json(doc({"name": "up", "op": "upsample", "inputs": ["conv"],
                                         "attrs": {"mode": "bilinear", "align_corners": False, "sizes": [7, 9]}}))
    fixed.load_state_dict(like.state_dict())
    rng = np.random.default_rng(9)
    x = rng.standard_normal((3, 2, 7, 9)).astype(np.float32)
    y = np.array([0, 3, 1])
    la = like.train_step(x, y, swiftcnn.optim.SGD(like, lr=0.1))
    lb = fixed.train_step(x, y, swiftcnn.optim.SGD(fixed, lr=0.1))
    assert la == lb
    a, b = like.state_dict(), fixed.state_dict()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert not np.array_equal(a["conv.weight"], models.Model.from_json(doc({"name": "up", "op": "upsample_like",
        "inputs": ["conv", "input"], "attrs": {"mode": "bilinear"}})).state_dict()["conv.weight"])


def test_upsample_like_exports_to_onnx(tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from swiftcnn.onnx import export
    doc = _graph([
        {"name": "conv", "op": "conv2d", "inputs": ["input"],
         "attrs": {"in_channels": 2, "out_channels": 3, "kernel_shape": [3, 3], "strides": [2, 2],
                   "pads": [1, 1, 1, 1], "dilations": [1, 1], "group": 1, "bias": True}},
        {"name": "up", "op": "upsample_like", "inputs": ["conv", "input"], "attrs": {"mode": "bilinear"}},
    ], ["up"], [2, 7, 9], any_size=False)
    m = models.Model.from_json(doc)
    path = tmp_path / "like.onnx"
    proto = export(m, str(path))
    assert "Resize" in {n.op_type for n in proto.graph.node}
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(2).standard_normal((2, 2, 7, 9)).astype(np.float32)
    got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    want = m(x)
    assert got.shape == want.shape == (2, 3, 7, 9)
    assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()


def test_segment_with_a_fixed_size_model_resizes_both_ways():
    # A model that takes 3x8x8 only: the image is resized to 8x8 and the scores back to its size.
    m = models.Model.from_json(_graph([
        {"name": "conv", "op": "conv2d", "inputs": ["input"],
         "attrs": {"in_channels": 3, "out_channels": 4, "kernel_shape": [1, 1], "strides": [1, 1],
                   "pads": [0, 0, 0, 0], "dilations": [1, 1], "group": 1, "bias": True}},
    ], ["conv"], [3, 8, 8], any_size=False))
    rng = np.random.default_rng(4)
    img = rng.random((1, 3, 8, 8)).astype(np.float32)
    r = m.segment(img)
    assert np.array_equal(r["labels"], m(((img - MEAN) / STD).astype(np.float32)).argmax(1))
    big = rng.random((2, 3, 13, 11)).astype(np.float32)
    rb = m.segment(big)
    assert rb["labels"].shape == (2, 13, 11) and rb["labels"].max() < 4
    assert ((rb["scores"] >= 0.25 - 1e-6) & (rb["scores"] <= 1)).all()   # the top of 4 classes
