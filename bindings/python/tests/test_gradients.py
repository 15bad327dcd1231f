"""The split training step (issue 15): Model.compute_gradients + Optimizer.step against
Model.train_step (bitwise), gradients of shards averaged by size against the whole batch,
the flat gradient vector's layout and round trip, batch-norm buffers as a flat vector,
and errors. Each test states its tolerance."""
from __future__ import annotations

import numpy as np
import pytest

import swiftcnn
from swiftcnn import models, optim


def batch(n, seed=0, channels=1, size=32):
    x = models.seeded_tensor("input", (n, channels, size, size), -1, 1, seed)
    y = (np.arange(n) * 7 + seed) % 10
    return x, y


def twin(name, **kw):
    """Two models with the same seeded weights."""
    a = models.create(name, **kw)
    a.reset_parameters(7)
    b = models.create(name, **kw)
    b.load_state_dict(a.state_dict())
    return a, b


def bits(a):
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def assert_same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert np.array_equal(bits(sa[k]), bits(sb[k])), k


OPTIMIZERS = {
    "sgd-momentum": lambda m: optim.SGD(m, 0.05, momentum=0.9, weight_decay=1e-4),
    "adam": lambda m: optim.Adam(m, 1e-3, weight_decay=1e-3),
    "adamw": lambda m: optim.AdamW(m, 1e-3),
}


@pytest.mark.parametrize("name,n,channels,opt", [
    ("lenet5", 64, 1, "sgd-momentum"),   # per-image parts
    ("lenet5", 6, 1, "sgd-momentum"),
    ("lenet5", 6, 1, "adam"),
    ("resnet18", 4, 3, "adamw"),         # batch norm: running statistics too
    ("resnet18", 4, 3, "sgd-momentum"),
])
def test_compute_then_step_equals_train_step_bitwise(name, n, channels, opt):
    """Three train_steps against three compute_gradients + step on a twin: losses, weights,
    batch-norm running statistics and progress equal bit for bit."""
    a, b = twin(name, num_classes=10)
    oa, ob = OPTIMIZERS[opt](a), OPTIMIZERS[opt](b)
    for s in range(3):
        x, y = batch(n, seed=s, channels=channels)
        la = a.train_step(x, y, oa)
        lb = b.compute_gradients(x, y, ob)
        ob.step()
        assert np.float32(la).view(np.uint32) == np.float32(lb).view(np.uint32), s
    assert_same_state(a, b)
    assert oa.progress == ob.progress == (3, 0, 0)


def test_compute_gradients_changes_no_weight():
    """compute_gradients leaves the weights (not the batch-norm statistics, which the
    training forward updates as in a step) and the progress alone."""
    m = models.resnet18(num_classes=10)
    before = m.state_dict()
    opt = optim.SGD(m, 0.1, momentum=0.9)
    x, y = batch(4, channels=3)
    loss = m.compute_gradients(x, y, opt)
    assert np.isfinite(loss) and loss > 0
    after = m.state_dict()
    buffers = set(k for k, _ in m.buffer_layout())
    assert buffers and all(k.endswith(("running_mean", "running_var")) for k in buffers)
    for k in before:
        assert np.array_equal(before[k], after[k]) != (k in buffers), k
    assert opt.progress == (0, 0, 0)
    assert not m.training


@pytest.mark.parametrize("n,shards", [(8, (5, 3)), (64, (40, 24))])
@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_averaged_shard_gradients_equal_the_whole_batch(n, shards, opt):
    """Data parallelism on a model without batch norm (LeNet-5): each worker's gradients of
    its shard, averaged weighted by shard size, equal the whole batch's within 2e-6 of each
    tensor's largest magnitude (the mean loss sums in another order), and the weights after
    applying the average are within 1e-6 (relative; 1e-7 absolute) of one step on the
    whole batch for SGD with momentum. Adam's first step is lr*g/(|g| + eps), nearly
    sign(g): for a gradient component near eps a difference in its last bits moves the
    weight by a part of lr (observed: up to 2.3e-2 * lr), so for Adam at most 0.1% of the
    weights may miss that tolerance and none by more than lr."""
    if opt == "sgd":
        make, lr = (lambda m: optim.SGD(m, 0.1, momentum=0.9)), 0.0
    else:
        make, lr = (lambda m: optim.Adam(m, 1e-3)), 1e-3
    ref, _ = twin("lenet5")
    x, y = batch(n, seed=4)
    ref_opt = make(ref)
    workers = []
    for _ in shards:
        w = models.lenet5()
        w.load_state_dict(ref.state_dict())
        workers.append((w, make(w)))
    ref.compute_gradients(x, y, ref_opt)
    whole = ref_opt.gradients()
    total = np.zeros(whole.size, dtype=np.float64)
    start = 0
    for (w, o), size in zip(workers, shards):
        w.compute_gradients(x[start:start + size], y[start:start + size], o)
        total += o.gradients().astype(np.float64) * (size / n)
        start += size
    offset = 0
    for key, shape in ref_opt.gradient_layout():
        count = int(np.prod(shape))
        g, r = total[offset:offset + count], whole[offset:offset + count]
        assert np.abs(g - r).max() <= 2e-6 * np.abs(r).max() + 1e-12, key
        offset += count
    assert offset == whole.size
    for w, o in workers:
        o.set_gradients(total)
        o.step()
    ref_opt.step()
    expect = ref.state_dict()
    for w, o in workers:
        assert o.progress[0] == 1
        got = w.state_dict()
        for k in expect:
            diff = np.abs(got[k] - expect[k])
            off = diff > 1e-7 + 1e-6 * np.abs(expect[k])
            if lr == 0:
                assert not off.any(), (k, diff.max())
            else:
                assert off.mean() <= 1e-3 and diff.max() <= lr, (k, off.sum(), diff.max())
    assert_same_state(*[w for w, _ in workers])  # every replica applied the same vector


def test_gradient_layout_matches_the_state_dict():
    """The layout is the trainable state_dict entries in order with their shapes (buffers
    and frozen parameters left out); gradients() is a flat float32 copy of that size."""
    m = models.resnet18(num_classes=10)
    opt = optim.SGD(m, 0.1)
    layout = opt.gradient_layout()
    sd = m.state_dict()
    assert [k for k, _ in layout] == m.parameter_names(buffers=False)
    assert all(shape == sd[k].shape for k, shape in layout)
    assert sum(int(np.prod(s)) for _, s in layout) == m.num_parameters
    m.compute_gradients(*batch(2, channels=3), opt)
    g = opt.gradients()
    assert g.dtype == np.float32 and g.shape == (m.num_parameters,) and np.abs(g).max() > 0
    g[:] = 0                               # a copy: the pending gradients are unchanged
    assert np.abs(opt.gradients()).max() > 0
    assert m.freeze("conv1") == 1
    assert "conv1.weight" not in [k for k, _ in opt.gradient_layout()]


def test_set_gradients_round_trip_and_conversions():
    """get -> set -> get is bit for bit; float64 arrays, lists and 2-D arrays of the right
    size are converted (float32, flattened); NaN is not rejected and reaches the weights."""
    a, b = twin("lenet5")
    oa, ob = optim.SGD(a, 0.1), optim.SGD(b, 0.1)
    x, y = batch(8)
    a.compute_gradients(x, y, oa)
    g = oa.gradients()
    ob.set_gradients(g)
    assert np.array_equal(bits(ob.gradients()), bits(g))
    ob.set_gradients(g.astype(np.float64).reshape(2, -1))
    assert np.array_equal(bits(ob.gradients()), bits(g))
    ob.set_gradients(g.tolist())
    assert np.array_equal(bits(ob.gradients()), bits(g))
    oa.step()
    ob.step()
    assert_same_state(a, b)
    nan = np.zeros(g.size, dtype=np.float32)
    nan[0] = np.nan
    ob.set_gradients(nan)
    ob.step()
    first = b.parameter_names(buffers=False)[0]
    assert np.isnan(b.state_dict()[first].reshape(-1)[0])


def test_buffers_flat_round_trip():
    """Model.buffers() is the running statistics in buffer_layout order (state_dict's
    buffers); set_buffers writes them back (e.g. averaged over workers) and only them; a
    model without batch norm has none; a wrong size raises ShapeMismatchError."""
    m = models.resnet18(num_classes=10)
    opt = optim.SGD(m, 0.1)
    m.train_step(*batch(4, channels=3), opt)
    layout = m.buffer_layout()
    sd = m.state_dict()
    assert [k for k, _ in layout] == [k for k in sd if k not in m.parameter_names(buffers=False)]
    flat = m.buffers()
    assert flat.dtype == np.float32
    assert np.array_equal(flat, np.concatenate([sd[k].reshape(-1) for k, _ in layout]))
    weights = {k: sd[k] for k in m.parameter_names(buffers=False)}
    m.set_buffers(flat * 2 + 1)
    after = m.state_dict()
    for k, _ in layout:
        assert np.array_equal(after[k], sd[k] * 2 + 1), k
    for k, v in weights.items():
        assert np.array_equal(after[k], v), k
    with pytest.raises(swiftcnn.ShapeMismatchError, match="buffers"):
        m.set_buffers(flat[:-1])
    assert np.array_equal(m.buffers(), flat * 2 + 1)
    lenet = models.lenet5()
    assert lenet.buffer_layout() == [] and lenet.buffers().size == 0
    lenet.set_buffers([])


def test_gradient_errors():
    m = models.lenet5()
    other = models.lenet5()
    opt = optim.SGD(m, 0.1)
    x, y = batch(8)
    with pytest.raises(ValueError, match="none pending"):
        opt.step()
    with pytest.raises(ValueError, match="none pending"):
        opt.gradients()
    with pytest.raises(ValueError, match="class indices"):
        m.compute_gradients(x, np.full(8, 10), opt)
    with pytest.raises(ValueError, match="another model"):
        m.compute_gradients(x, y, optim.SGD(other, 0.1))
    with pytest.raises(TypeError):
        m.compute_gradients(x, y, "sgd")
    n = m.num_parameters
    with pytest.raises(swiftcnn.ShapeMismatchError, match=f"take {n} values; got {n - 1}"):
        opt.set_gradients(np.zeros(n - 1))
    with pytest.raises(swiftcnn.ShapeMismatchError):
        opt.set_gradients([])
    with pytest.raises(TypeError):
        opt.set_gradients(np.array(["a"] * n))
    with pytest.raises(ValueError, match="none pending"):
        opt.step()                          # the failed sets left nothing pending
    before = m.state_dict()
    m.compute_gradients(x, y, opt)
    opt.zero_grad()
    with pytest.raises(ValueError, match="none pending"):
        opt.step()
    opt.zero_grad()                         # nothing pending: no-op
    after = m.state_dict()
    for k in before:
        assert np.array_equal(before[k], after[k]), k
    assert opt.progress == (0, 0, 0)
