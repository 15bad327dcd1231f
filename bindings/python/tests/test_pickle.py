"""Models pickle, deepcopy and copy by architecture and state: zoo models, ONNX-imported models,
swiftcnn.nn models (Sequential and functional graphs); the copy's forward equals the original's
bit for bit, and the training flag and frozen parameters come along."""
import copy
import pickle

import numpy as np
import pytest

import swiftcnn
from swiftcnn import models, nn
from swiftcnn.models import _unpickle_model


def roundtrips(model):
    """The model through every pickle protocol, deepcopy and copy."""
    out = [pickle.loads(pickle.dumps(model, protocol=p)) for p in range(2, pickle.HIGHEST_PROTOCOL + 1)]
    return out + [copy.deepcopy(model), copy.copy(model)]


def assert_same_model(a, b, x):
    assert b is not a
    assert type(b) is type(a)
    assert (b.name, b.num_classes, tuple(b.input_shape)) == (a.name, a.num_classes, tuple(a.input_shape))
    assert b.to_json() == a.to_json()
    assert b.training == a.training
    assert [k for k in b.parameter_names(False) if b.is_frozen(k)] == \
        [k for k in a.parameter_names(False) if a.is_frozen(k)]
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert np.array_equal(sa[k], sb[k]), k
    ya, yb = a(x), b(x)
    assert ya.dtype == yb.dtype and ya.tobytes() == yb.tobytes()  # bitwise


def test_zoo_models_pickle_with_their_weights_mode_and_frozen_parameters():
    x = models.seeded_tensor("input", (2, 3, 64, 64))
    m = models.resnet18(num_classes=7)
    m.reset_parameters(seed=3)  # not the weights a new model would get
    m.freeze("layer1")
    m.train()
    for b in roundtrips(m):
        assert_same_model(m, b, x)
        assert b.training and b.is_frozen("layer1.0.conv1.weight") and not b.is_frozen("fc.weight")
    m.eval()
    m.unfreeze()
    for b in roundtrips(m):
        assert_same_model(m, b, x)
        assert not b.training and not b.is_frozen("layer1.0.conv1.weight")


def test_copies_are_independent():
    m = models.lenet5()
    b = copy.deepcopy(m)
    b.reset_parameters(seed=9)
    x = models.seeded_tensor("input", (1, 1, 32, 32))
    assert not np.array_equal(m(x), b(x))
    assert np.array_equal(m(x), models.lenet5()(x))  # the original is untouched


@pytest.mark.parametrize("name", ["lenet5_original", "googlenet"])
def test_more_zoo_models(name):
    m = models.create(name)
    m.reset_parameters(seed=1)
    shape = (2,) + tuple(m.input_shape[1:]) if name.startswith("lenet") else (1, 3, 96, 96)
    x = models.seeded_tensor("input", shape)
    b = pickle.loads(pickle.dumps(m))
    assert_same_model(m, b, x)
    assert np.array_equal(m.predict(x), b.predict(x))


def test_a_detector_detects_the_same_after_pickling():
    m = models.create("ssdlite320_mobilenet_v3_large")
    b = pickle.loads(pickle.dumps(m))
    img = (np.random.default_rng(0).random((40, 56, 3)) * 255).astype(np.uint8)
    ra, rb = m.detect([img])[0], b.detect([img])[0]
    for k in ("boxes", "scores", "labels"):
        assert np.array_equal(ra[k], rb[k]), k


def test_a_replaced_head_pickles():
    m = models.resnet18()
    m.replace("fc", nn.Linear(512, 4))
    b = pickle.loads(pickle.dumps(m))
    assert b.num_classes == 4
    assert_same_model(m, b, models.seeded_tensor("input", (1, 3, 64, 64)))


def test_nn_sequential_and_functional_models_pickle():
    seq = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 5))
    m = swiftcnn.Model(seq, input_shape=(3, 8, 8), name="mine")
    m.reset_parameters(seed=5)
    x = models.seeded_tensor("input", (3, 3, 8, 8))
    for b in roundtrips(m):
        assert_same_model(m, b, x)
        assert b.name == "mine"
    assert repr(pickle.loads(pickle.dumps(seq))) == repr(seq)  # the modules themselves pickle too

    inp = nn.Input((3, 8, 8))
    a = nn.Conv2d(3, 4, 3, padding=1, name="a")(inp)
    c = nn.Conv2d(3, 4, 1, name="c")(inp)
    y = nn.Linear(4 * 8 * 8, 3, name="head")(nn.Flatten(name="flat")(a + c))
    g = swiftcnn.Model(inputs=inp, outputs=y, name="graph")
    g.reset_parameters(seed=2)
    for b in roundtrips(g):
        assert_same_model(g, b, x)


def test_onnx_imported_models_pickle(tmp_path):
    pytest.importorskip("onnx", reason="ONNX import needs the onnx package (requirements-dev.txt)")
    from swiftcnn import onnx as sonnx
    src = models.lenet5()
    src.reset_parameters(seed=4)
    sonnx.export(src, str(tmp_path / "lenet.onnx"))
    m = sonnx.load(str(tmp_path / "lenet.onnx"))
    x = models.seeded_tensor("input", (2, 1, 32, 32))
    for b in roundtrips(m):
        assert_same_model(m, b, x)


def test_unpickling_refuses_foreign_state():
    state = models.lenet5().__getstate__()
    assert state["format"] == "swiftcnn.Model" and state["version"] == 1
    with pytest.raises(ValueError, match="version 2"):
        _unpickle_model(models.Model, {**state, "version": 2})
    with pytest.raises(ValueError, match="not a pickled swiftcnn model"):
        _unpickle_model(models.Model, {"json": "{}"})
    with pytest.raises(TypeError):
        _unpickle_model(dict, state)
    bad = dict(state, state_dict={k: v for k, v in list(state["state_dict"].items())[1:]})
    with pytest.raises(ValueError):
        _unpickle_model(models.Model, bad)  # a missing weight: strict
