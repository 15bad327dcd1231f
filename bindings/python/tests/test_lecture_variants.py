"""The lecture's variants (issue 12): alexnet_grouped (the paper's two-GPU split as groups = 2)
and googlenet_original (Szegedy et al. 2014 as published, with its auxiliary classifiers):
counts, summaries, structure, the grouped convolutions against their block-diagonal dense
equivalent, inference skipping the auxiliary heads, and a short training run on each."""
import numpy as np
import pytest

import swiftcnn
from swiftcnn import models


def summary_total(m):
    text = m.summary()
    return int(next(l for l in text.splitlines() if l.startswith("Total params:")).split(":")[1].replace(",", ""))


def test_alexnet_grouped_counts_and_shapes():
    m = models.create("alexnet_grouped")
    assert m.num_parameters == 60_965_224
    assert summary_total(m) == 60_965_224
    assert tuple(m.input_shape) == (1, 3, 227, 227)
    sd = m.state_dict()
    assert sd["features.4.weight"].shape == (256, 48, 5, 5)
    assert sd["features.8.weight"].shape == (384, 256, 3, 3)   # conv3 sees both towers
    assert sd["features.10.weight"].shape == (384, 192, 3, 3)
    assert sd["features.12.weight"].shape == (256, 192, 3, 3)
    # 1,413,120 fewer than the single tower: half of conv2's, conv4's and conv5's weights
    assert models.create("alexnet_lrn").num_parameters - m.num_parameters == 1_413_120


def test_alexnet_grouped_equals_the_block_diagonal_single_tower():
    g = models.create("alexnet_grouped", num_classes=7)
    dense = models.create("alexnet_lrn", num_classes=7)
    sd = g.state_dict()
    full = {}
    for k, v in sd.items():
        if k in ("features.4.weight", "features.10.weight", "features.12.weight"):
            o, i = v.shape[0], v.shape[1]
            w = np.zeros((o, 2 * i) + v.shape[2:], dtype=np.float32)
            w[: o // 2, :i] = v[: o // 2]   # tower 1 sees its own maps only
            w[o // 2:, i:] = v[o // 2:]     # tower 2 likewise
            full[k] = w
        else:
            full[k] = v
    dense.load_state_dict(full)
    x = models.seeded_tensor("input", (1, 3, 227, 227))
    a, b = g(x), dense(x)
    assert np.abs(a - b).max() <= 1e-4 * np.abs(b).max()


def test_alexnet_grouped_trains():
    m = models.create("alexnet_grouped", num_classes=3)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 227, 227)).astype(np.float32)
    y = np.array([0, 2])
    before = m.state_dict()["features.10.weight"].copy()
    opt = swiftcnn.optim.SGD(m, lr=0.01)
    losses = [m.train_step(x, y, opt) for _ in range(2)]
    assert np.isfinite(losses).all()
    assert not np.array_equal(m.state_dict()["features.10.weight"], before)


GOOGLENET_MAIN = 6_998_552
GOOGLENET_ALL = 13_378_280


def test_googlenet_original_counts_and_structure():
    m = models.create("googlenet_original")
    assert m.num_parameters == GOOGLENET_ALL
    sd = m.state_dict()
    aux = sum(v.size for k, v in sd.items() if k.startswith("aux"))
    assert aux == 3_188_840 + 3_190_888
    assert m.num_parameters - aux == GOOGLENET_MAIN
    # the summary shows the inference network (no auxiliary heads)
    assert summary_total(m) == GOOGLENET_MAIN
    assert not any("running_mean" in k or ".bn." in k for k in sd)           # no batch norm
    assert sd["inception3a.branch3.1.conv.weight"].shape == (32, 16, 5, 5)   # a real 5x5
    assert sd["inception5b.branch3.1.conv.weight"].shape == (128, 48, 5, 5)
    assert sd["conv1.conv.bias"].shape == (64,)                               # biases
    assert sd["aux1.conv.weight"].shape == (128, 512, 1, 1) and sd["aux2.conv.weight"].shape == (128, 528, 1, 1)
    assert sd["aux1.fc1.weight"].shape == (1024, 2048) and sd["aux2.fc2.weight"].shape == (1000, 1024)
    assert "LocalResponseNorm" in m.summary()
    # the paper's training rule, declared on the model (checked in general in test_segmentation.py:
    # the loss is main + 0.3 (aux1 + aux2) and the gradient reaches both heads)
    doc = m.to_json()
    assert doc["auxiliary_losses"] == [{"output": "aux1", "weight": 0.3}, {"output": "aux2", "weight": 0.3}]
    assert doc["network"]["graph"]["outputs"] == ["fc", "aux1", "aux2"]
    assert m.output_names == ["fc"]


def test_googlenet_original_inference_skips_the_auxiliary_heads():
    m = models.create("googlenet_original", num_classes=10)
    x = models.seeded_tensor("input", (1, 3, 224, 224))
    y = m(x)
    assert y.shape == (1, 10) and np.isfinite(y).all()
    sd = m.state_dict()
    sd.update({k: np.full_like(v, np.nan) for k, v in sd.items() if k.startswith("aux")})
    m.load_state_dict(sd)
    np.testing.assert_array_equal(m(x), y)   # NaN auxiliary weights change nothing at inference


def test_googlenet_original_trains_with_its_auxiliary_losses():
    m = models.create("googlenet_original", num_classes=4)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 224, 224)).astype(np.float32)
    y = np.array([1, 3])
    sd0 = m.state_dict()
    opt = swiftcnn.optim.SGD(m, lr=0.01)
    loss = m.train_step(x, y, opt)
    assert np.isfinite(loss) and loss > 0
    sd1 = m.state_dict()
    for k in ["fc.weight", "aux1.fc2.weight", "aux2.fc2.weight", "aux1.conv.weight", "inception4a.branch1.conv.weight"]:
        assert not np.array_equal(sd0[k], sd1[k]), f"{k}: no gradient reached it"


def test_googlenet_original_fine_tuning_keeps_the_auxiliary_heads():
    from swiftcnn import nn
    m = models.create("googlenet_original")
    m.replace("fc", nn.Linear(1024, 5))
    m.replace("aux1.fc2", nn.Linear(1024, 5))
    m.replace("aux2.fc2", nn.Linear(1024, 5))
    sd = m.state_dict()
    assert sd["fc.weight"].shape == (5, 1024) and sd["aux1.fc2.weight"].shape == (5, 1024)
    assert m.to_json()["auxiliary_losses"] == [{"output": "aux1", "weight": 0.3}, {"output": "aux2", "weight": 0.3}]
    assert m.num_classes == 5 and m.output_names == ["fc"]
