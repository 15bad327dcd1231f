"""swiftcnn.ray.fit: data-parallel training on a local Ray cluster.

- one worker is the single-process trainer, bit for bit (Model.fit with the same batches);
- two and three workers equal Model.fit with the summed batch to float tolerance
  (ATOL 2e-5, RTOL 1e-4 on every weight: the shard sums round differently);
- a run stopped and resumed from its checkpoint file, and a run whose worker process is
  killed mid-run, end with exactly the weights of an uninterrupted run;
- bad arguments raise before any worker starts.
"""
import os
import signal

import numpy as np
import pytest

pytest.importorskip("ray")

import swiftcnn.ray as sray  # noqa: E402
from swiftcnn import datasets, models  # noqa: E402

ATOL, RTOL = 2e-5, 1e-4
# More workers than the test cluster's 2 CPUs: each asks for half a CPU.
HALF_CPU = {"num_cpus": 0.5}


@pytest.fixture(scope="module")
def digits():
    d = datasets.load_digits(seed=0)
    return d.x_train[:160], d.y_train[:160]


def lenet(seed=0):
    m = models.lenet5()
    m.reset_parameters(seed)
    return m


def weights(m):
    return {k: v.copy() for k, v in m.state_dict().items()}


def assert_close(a, b):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], atol=ATOL, rtol=RTOL, err_msg=k)


def assert_bitwise(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].tobytes() == b[k].tobytes(), k


def test_one_worker_is_the_single_process_trainer_bitwise(ray_cluster, digits):
    x, y = digits
    ref = lenet()
    ref.fit(x, y, epochs=2, batch_size=32, lr=0.05, momentum=0.9, seed=3, verbose=False)
    m = lenet()
    r = sray.fit(m, x, y, epochs=2, batch_size=32, lr=0.05, momentum=0.9, seed=3, num_workers=1)
    assert r.steps == 10 and r.restarts == 0 and len(r["loss"]) == 2
    assert_bitwise(weights(m), weights(ref))


def test_two_workers_equal_the_summed_batch(ray_cluster, digits):
    x, y = digits
    ref = lenet()
    hist = ref.fit(x, y, epochs=2, batch_size=32, lr=0.05, momentum=0.9, seed=1, verbose=False)
    m = lenet()
    before = weights(m)
    r = sray.fit(m, x, y, epochs=2, batch_size=32, lr=0.05, momentum=0.9, seed=1, num_workers=2)
    after = weights(m)
    assert any(not np.array_equal(before[k], after[k]) for k in before)   # it trained
    assert_close(after, weights(ref))
    np.testing.assert_allclose(r["loss"], hist["loss"], rtol=1e-4)


def test_adam_three_uneven_shards(ray_cluster, digits):
    # 100 images in batches of 32: the last batch has 4 rows, split 2 + 1 + 1.
    x, y = digits[0][:100], digits[1][:100]
    ref = lenet(5)
    ref.fit(x, y, epochs=1, batch_size=32, optimizer="adam", lr=1e-3, seed=2, verbose=False)
    m = lenet(5)
    sray.fit(m, x, y, epochs=1, batch_size=32, optimizer="adam", lr=1e-3, seed=2, num_workers=3,
             ray_remote_args=HALF_CPU)
    assert_close(weights(m), weights(ref))


def test_more_workers_than_rows_in_a_batch(ray_cluster, digits):
    x, y = digits[0][:9], digits[1][:9]
    ref = lenet()
    ref.fit(x, y, epochs=1, batch_size=3, lr=0.05, momentum=0.9, seed=0, verbose=False)
    m = lenet()
    sray.fit(m, x, y, epochs=1, batch_size=3, lr=0.05, momentum=0.9, seed=0, num_workers=4,
             ray_remote_args=HALF_CPU)
    assert_close(weights(m), weights(ref))


def test_stop_and_resume_from_the_checkpoint_file(ray_cluster, digits, tmp_path):
    x, y = digits
    args = dict(epochs=2, batch_size=32, lr=0.05, momentum=0.9, seed=4, num_workers=2)
    clean = lenet()
    sray.fit(clean, x, y, **args)

    path = tmp_path / "run.safetensors"
    first = lenet()
    r1 = sray.fit(first, x, y, checkpoint=path, checkpoint_every=2,
                  on_step=lambda rep: rep["step"] < 6, **args)
    assert r1.steps == 7 and path.exists()
    assert os.listdir(tmp_path) == ["run.safetensors"]         # no temporary files left
    second = lenet()                                            # fresh weights: all from the file
    r2 = sray.fit(second, x, y, checkpoint=path, resume=True, **args)
    assert r2.steps == 10 and r2.restarts == 0
    assert len(r2["loss"]) == 1                                 # only epoch 1 ended in this call
    assert_bitwise(weights(second), weights(clean))


def test_a_killed_worker_resumes_from_the_last_checkpoint(ray_cluster, digits):
    x, y = digits
    args = dict(epochs=2, batch_size=32, lr=0.05, momentum=0.9, seed=6, num_workers=2)
    clean = lenet()
    r0 = sray.fit(clean, x, y, **args)
    killed = []

    def on_step(rep):
        if rep["step"] == 4 and not killed:
            os.kill(rep["worker_pids"][1], signal.SIGKILL)
            killed.append(rep["worker_pids"][1])

    m = lenet()
    r = sray.fit(m, x, y, checkpoint_every=3, on_step=on_step, **args)
    assert killed and r.restarts == 1 and r.steps == 10
    assert_bitwise(weights(m), weights(clean))
    np.testing.assert_array_equal(r["loss"], r0["loss"])


def test_too_many_failures_raise(ray_cluster, digits):
    x, y = digits[0][:64], digits[1][:64]

    def on_step(rep):
        os.kill(rep["worker_pids"][0], signal.SIGKILL)

    with pytest.raises(RuntimeError, match="max_failures=1"):
        sray.fit(lenet(), x, y, epochs=1, batch_size=16, num_workers=2, max_failures=1, on_step=on_step)


def test_batch_norm_model_is_two_replicas_averaging_gradients_and_statistics(ray_cluster):
    """With batch norm each worker normalizes with its shard's statistics, so the run is not
    the single-process one; it must be exactly two local replicas that average their
    gradients and running statistics (weighted by shard size, in float64) every step."""
    from swiftcnn import nn, optim
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 3, 8, 8)).astype(np.float32)
    y = rng.integers(0, 4, 40)

    def fresh():
        net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                            nn.Flatten(), nn.Linear(4 * 8 * 8, 4))
        m = models.Model(net, input_shape=(3, 8, 8))
        m.reset_parameters(3)
        return m

    def average(parts):
        total = sum(n for n, _ in parts)
        return (sum(np.float64(n) * v.astype(np.float64) for n, v in parts) / total).astype(np.float32)

    replicas = [fresh(), fresh()]
    opts = [optim.SGD(r, 0.05, momentum=0.9) for r in replicas]
    for b in range(3):                                   # batches of 16, 16, 8; shuffle off
        batch = np.arange(b * 16, min((b + 1) * 16, 40))
        grads, stats = [], []
        for r, o, shard in zip(replicas, opts, np.array_split(batch, 2)):
            r.compute_gradients(x[shard], y[shard], o)
            grads.append((len(shard), o.gradients()))
            stats.append((len(shard), r.buffers()))
        g, st = average(grads), average(stats)
        for r, o in zip(replicas, opts):
            o.set_gradients(g)
            o.step()
            r.set_buffers(st)

    m = fresh()
    before = weights(m)
    r = sray.fit(m, x, y, epochs=1, batch_size=16, lr=0.05, momentum=0.9, num_workers=2, shuffle=False)
    assert r.steps == 3 and np.isfinite(r["loss"]).all()
    after = weights(m)
    stats = [k for k in after if k.endswith("running_mean")]
    assert stats and all(not np.array_equal(before[k], after[k]) for k in stats)
    assert_bitwise(after, weights(replicas[0]))


@pytest.mark.parametrize("kwargs, error", [
    (dict(num_workers=0), ValueError),
    (dict(batch_size=0), ValueError),
    (dict(optimizer="rmsprop"), ValueError),
    (dict(lr=-1.0), ValueError),
    (dict(num_workers=1.5), TypeError),
])
def test_bad_arguments_raise_before_any_worker(kwargs, error, digits):
    x, y = digits
    with pytest.raises(error):
        sray.fit(lenet(), x, y, **kwargs)


def test_labels_must_match(digits):
    x, y = digits
    with pytest.raises(ValueError, match="class indices"):
        sray.fit(lenet(), x, y[:-1])
