"""Training steps (issue 13): a per-image model's batch cut into parts (BatchSplit.swift),
thread-count independence of the weights, and the step's memory reuse leaving results
unchanged. The library is run as built (release); each test states its tolerance."""
from __future__ import annotations

import numpy as np
import pytest

import swiftcnn
from swiftcnn import models, optim
from reference import cross_entropy


def batch(n, seed=0, channels=1, size=32):
    x = models.seeded_tensor("input", (n, channels, size, size), -1, 1, seed)
    y = np.arange(n) % 10
    return x, y


def trainable(m):
    return m.parameter_names(buffers=False)


def gradient(m, x, y):
    """dL/dw of every trainable parameter at LeNet-5 m's weights on (x, y): a probe copy takes one
    plain SGD step with lr 1 (float64 differences of the float32 weights)."""
    probe = models.lenet5()
    probe.load_state_dict(m.state_dict())
    w0 = {k: v.astype(np.float64) for k, v in probe.state_dict().items()}
    probe.train_step(x, y, optim.SGD(probe, 1.0))
    w1 = probe.state_dict()
    return {k: w0[k] - w1[k] for k in trainable(m)}


@pytest.fixture
def threads():
    before = swiftcnn.get_num_threads()
    yield
    swiftcnn.set_num_threads(before)


def test_split_batch_gradient_equals_the_mean_of_its_halves():
    """LeNet-5 at batch 64 runs as two parts of 32 (threads over the parts); batch 32 runs
    whole. The mean loss's gradient over 64 images is the mean of the two halves' gradients,
    so the split step (optimized, parts) is checked against two whole-batch steps. Tolerance:
    1e-4 of each tensor's largest gradient (the differences of float32 weights after an lr-1
    step carry their rounding, about 1e-7 of the weights)."""
    x, y = batch(64, seed=3)
    m = models.lenet5()
    g = gradient(m, x, y)
    a = gradient(m, x[:32], y[:32])
    b = gradient(m, x[32:], y[32:])
    for k in g:
        ref = (a[k] + b[k]) / 2
        scale = np.abs(ref).max() + 1e-12
        assert np.abs(g[k] - ref).max() <= 1e-4 * scale + 1e-6, k


def test_split_step_loss_is_the_whole_batch_loss():
    """The loss a split step reports is the whole batch's (forward in eval mode, numpy
    cross-entropy in float64): relative 1e-5."""
    x, y = batch(96, seed=4)
    m = models.lenet5()
    expected = cross_entropy(m(x), y)
    assert m.train_step(x, y, optim.SGD(m, 0.05, momentum=0.9)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("name,n,channels", [("lenet5", 64, 1), ("lenet5", 100, 1), ("resnet18", 4, 3)])
def test_weights_after_steps_are_bitwise_equal_at_1_and_2_threads(threads, name, n, channels):
    """Three SGD-with-momentum steps from the same weights at 1 and at 2 threads give the
    same bytes (lenet5 at 64 and 100 images takes the split path; resnet18, with batch norm,
    the whole batch)."""
    x, y = batch(n, seed=5, channels=channels)
    out = []
    for t in (1, 2):
        swiftcnn.set_num_threads(t)
        m = models.create(name, num_classes=10)
        opt = optim.SGD(m, 0.05, momentum=0.9)
        losses = [m.train_step(x, y, opt) for _ in range(3)]
        out.append((losses, m.state_dict()))
    (l1, w1), (l2, w2) = out
    assert l1 == l2
    assert w1.keys() == w2.keys()
    for k in w1:
        assert w1[k].tobytes() == w2[k].tobytes(), k


def test_repeated_steps_reuse_memory_without_changing_results():
    """Steps after the first reuse the previous step's buffers (uninitialized memory, as a
    fresh allocation): two models trained in lockstep on the same batches, one of them
    interleaved with inference and a second model's steps of other shapes, end bitwise equal."""
    x, y = batch(64, seed=6)
    x2, y2 = batch(8, seed=7, channels=3)
    a, b = models.lenet5(), models.lenet5()
    other = models.create("resnet18", num_classes=10)
    oa, ob, oo = optim.SGD(a, 0.05, momentum=0.9), optim.SGD(b, 0.05, momentum=0.9), optim.SGD(other, 0.01)
    for step in range(4):
        la = a.train_step(x, y, oa)
        other.train_step(x2, y2, oo)
        b(x[:5])
        lb = b.train_step(x, y, ob)
        assert la == lb, step
    for k, v in a.state_dict().items():
        assert v.tobytes() == b.state_dict()[k].tobytes(), k
