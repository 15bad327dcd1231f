"""Training from Python (issue 5): Model.fit / evaluate / predict / train_step / train / eval,
swiftcnn.optim (SGD, Adam, AdamW) and checkpoints, swiftcnn.datasets, safetensors files.

- fit reduces the loss and returns the documented history; evaluate's loss equals a
  float64 numpy cross-entropy of the model's logits, its accuracy equals predict's;
- optimizer steps against a numpy re-implementation of torch.optim's update rules: the
  gradient of each step is measured with a probe copy of the model stepped by plain SGD with
  lr 1 (w - w' = g exactly up to float32 rounding of w'), then SGD (momentum, Nesterov, weight
  decay), Adam and AdamW are applied in float64 and compared with the library's weights;
- a checkpointed, stopped (Ctrl-C) and resumed fit ends with exactly the weights of an
  uninterrupted one;
- bad inputs raise ValueError / TypeError with the library's message;
- datasets: the digits split, upsampling and the epoch order follow their documented rules.
"""
import math
import os

import numpy as np
import pytest

import swiftcnn
from swiftcnn import datasets, models, optim
from reference import cross_entropy


def batch(n, seed=0):
    x = models.seeded_tensor("input", (n, 1, 32, 32), -1, 1, seed)
    y = np.arange(n) % 10
    return x, y


def weights(m):
    return {k: v.astype(np.float64) for k, v in m.state_dict().items()}


def trainable(m):
    return m.parameter_names(buffers=False)


# ---- modes, fit, evaluate, predict ---------------------------------------------------------

def test_train_eval_mode():
    m = models.lenet5()
    assert m.training is False
    assert m.train() is m and m.training is True
    assert m.eval() is m and m.training is False
    m.train(False)
    assert m.training is False
    x, y = batch(8)
    m.train()
    m.train_step(x, y, optim.SGD(m, 0.01))
    assert m.training is True  # train_step leaves the mode as it was
    m.eval()
    m.evaluate(x, y)
    assert m.training is False


def test_fit_reduces_loss_and_history():
    x, y = batch(48, seed=1)
    vx, vy = batch(16, seed=2)
    m = models.lenet5()
    before, _ = m.evaluate(x, y)
    h = m.fit(x, y, epochs=6, batch_size=16, lr=0.05, momentum=0.9, validation_data=(vx, vy), verbose=False)
    assert set(h) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 6 for v in h.values())
    assert h["loss"][-1] < 0.5 * h["loss"][0]
    after, acc = m.evaluate(x, y)
    assert after < 0.5 * before
    assert 0 <= acc <= 1 and all(0 <= a <= 1 for a in h["accuracy"] + h["val_accuracy"])
    # the last epoch's validation numbers are evaluate's on the validation set
    vl, va = m.evaluate(vx, vy)
    assert h["val_loss"][-1] == pytest.approx(vl, rel=1e-6)
    assert h["val_accuracy"][-1] == pytest.approx(va, abs=1e-12)
    h2 = models.lenet5().fit(x, y, epochs=1, batch_size=16, verbose=False)
    assert set(h2) == {"loss", "accuracy"}


def test_fit_is_deterministic_and_seeded():
    x, y = batch(40, seed=3)
    runs = []
    for seed in (5, 5, 6):
        m = models.lenet5()
        m.fit(x, y, epochs=2, batch_size=8, optimizer="adam", lr=1e-3, seed=seed, verbose=False)
        runs.append(weights(m))
    assert all(np.array_equal(runs[0][k], runs[1][k]) for k in runs[0])
    assert any(not np.array_equal(runs[0][k], runs[2][k]) for k in runs[0])


def test_fit_verbose_output(capsys):
    x, y = batch(20, seed=4)
    models.lenet5().fit(x, y, epochs=2, batch_size=8, verbose=True)
    err = capsys.readouterr().err
    lines = [l for l in err.splitlines() if l.startswith("Epoch")]
    assert len(lines) == 2 and "loss" in lines[0] and "accuracy" in lines[0]
    models.lenet5().fit(x, y, epochs=1, batch_size=8, verbose=False)
    assert capsys.readouterr().err == ""


def test_evaluate_and_predict_agree():
    x, y = batch(30, seed=5)
    m = models.lenet5()
    m.reset_parameters(7)
    logits = m(x)
    p = m.predict(x)
    assert p.dtype == np.int64 and p.shape == (30,)
    assert np.array_equal(p, logits.argmax(axis=1))
    loss, acc = m.evaluate(x, y, batch_size=7)
    assert loss == pytest.approx(cross_entropy(logits, y), rel=1e-5)
    assert acc == pytest.approx(float((p == y).mean()), abs=1e-12)
    assert m.evaluate(x, p)[1] == 1.0


def test_train_step_loss_is_the_loss_before_the_step():
    x, y = batch(12, seed=6)
    m = models.lenet5()
    expected = cross_entropy(m(x), y)
    opt = optim.SGD(m, 0.1, momentum=0.9)
    assert m.train_step(x, y, opt) == pytest.approx(expected, rel=1e-5)
    assert opt.progress == (1, 0, 0)


# ---- optimizer steps vs numpy ------------------------------------------------------------

def measured_gradient(model, x, y):
    """The gradient of every trainable parameter at model's weights on (x, y): a probe copy
    takes one plain SGD step with lr 1."""
    probe = models.lenet5()
    probe.load_state_dict(model.state_dict())
    w0 = weights(probe)
    probe.train_step(x, y, optim.SGD(probe, 1.0))
    w1 = weights(probe)
    return {k: w0[k] - w1[k] for k in trainable(model)}


def run_steps(make_opt, update, steps=3):
    """Runs `steps` library steps on lenet5 and the numpy `update(w, g, state, t)` alongside;
    returns the largest relative difference of the weights."""
    x, y = batch(16, seed=8)
    m = models.lenet5()
    opt = make_opt(m)
    ref = {k: v for k, v in weights(m).items() if k in trainable(m)}
    state = {}
    worst = 0.0
    for t in range(1, steps + 1):
        g = measured_gradient(m, x, y)
        m.train_step(x, y, opt)
        for k in ref:
            ref[k] = update(ref[k], g[k], state.setdefault(k, {}), t)
        got = weights(m)
        for k in ref:
            scale = np.abs(ref[k]).max() + 1e-12
            worst = max(worst, float(np.abs(got[k] - ref[k]).max() / scale))
            ref[k] = got[k]  # continue from the library's weights (its float32 rounding)
    return worst


@pytest.mark.parametrize("momentum,nesterov,wd", [(0.0, False, 0.0), (0.9, False, 0.0), (0.9, True, 1e-3),
                                                   (0.5, False, 5e-2)])
def test_sgd_matches_numpy(momentum, nesterov, wd):
    lr = 0.05

    def update(w, g, s, t):
        d = g + wd * w
        if momentum:
            s["b"] = d if t == 1 else momentum * s["b"] + d
            d = d + momentum * s["b"] if nesterov else s["b"]
        return w - lr * d

    assert run_steps(lambda m: optim.SGD(m, lr, momentum=momentum, nesterov=nesterov, weight_decay=wd),
                     update) < 1e-4


@pytest.mark.parametrize("kind,wd", [("adam", 0.0), ("adam", 1e-2), ("adamw", 1e-2), ("adamw", 0.0)])
def test_adam_matches_numpy(kind, wd):
    lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-8

    def update(w, g, s, t):
        if kind == "adamw":
            w = w * (1 - lr * wd)
        else:
            g = g + wd * w
        s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0) + (1 - b2) * g * g
        mhat = s["m"] / (1 - b1 ** t)
        vhat = s["v"] / (1 - b2 ** t)
        return w - lr * mhat / (np.sqrt(vhat) + eps)

    cls = optim.Adam if kind == "adam" else optim.AdamW
    assert run_steps(lambda m: cls(m, lr, weight_decay=wd), update) < 1e-4


def test_optimizer_attributes_and_schedule():
    m = models.lenet5()
    opt = optim.SGD(m, 0.1, momentum=0.9)
    assert opt.model is m
    assert opt.lr == pytest.approx(0.1)
    opt.lr = 0.2
    assert opt.lr == pytest.approx(0.2)
    opt.set_schedule("step", steps=2, value=0.5)
    x, y = batch(8)
    rates = []
    for _ in range(5):
        rates.append(opt.lr)
        m.train_step(x, y, opt)
    assert rates == pytest.approx([0.2, 0.2, 0.1, 0.1, 0.05])
    opt.set_schedule("cosine", steps=4, value=0.0)
    assert 0 <= opt.lr <= 0.2
    assert "SGD" in repr(opt)
    with pytest.raises(ValueError):
        opt.set_schedule("linear")
    with pytest.raises(ValueError):
        opt.set_schedule("step", steps=0, value=0.5)


# ---- checkpoints and resume ----------------------------------------------------------------

def test_checkpoint_resume_after_interrupt(tmp_path, monkeypatch):
    x, y = batch(30, seed=9)
    kw = dict(epochs=3, batch_size=8, seed=4, verbose=False)

    full = models.lenet5()
    full.fit(x, y, optimizer=optim.Adam(full, 1e-3), **kw)

    # A run interrupted by Ctrl-C in its 6th step (simulated: the progress callback raises
    # KeyboardInterrupt), checkpointed, restored into a fresh model and optimizer, resumed.
    part = models.lenet5()
    opt = optim.Adam(part, 1e-3)
    calls = {"n": 0}
    original = models._Progress.step

    def interrupting(self, *args):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(models._Progress, "step", interrupting)
    with pytest.raises(KeyboardInterrupt):
        part.fit(x, y, optimizer=opt, **dict(kw, verbose=True))
    monkeypatch.setattr(models._Progress, "step", original)
    assert opt.progress == (6, 1, 2)
    path = tmp_path / "run.safetensors"
    opt.save_checkpoint(path)

    resumed = models.lenet5()
    opt2 = optim.Adam(resumed, 1e-3)
    opt2.load_checkpoint(str(path))
    assert opt2.progress == (6, 1, 2)
    h = resumed.fit(x, y, optimizer=opt2, **kw)
    assert len(h["loss"]) == 2  # the rest of epoch 1, then epoch 2
    a, b = weights(full), weights(resumed)
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_checkpoint_train_steps_and_errors(tmp_path):
    x, y = batch(12, seed=10)
    a = models.lenet5()
    oa = optim.SGD(a, 0.05, momentum=0.9, nesterov=True, weight_decay=1e-4)
    for _ in range(2):
        a.train_step(x, y, oa)
    path = tmp_path / "ckpt.safetensors"
    oa.save_checkpoint(path)
    la = [a.train_step(x, y, oa) for _ in range(2)]
    b = models.lenet5()
    ob = optim.SGD(b, 0.05, momentum=0.9, nesterov=True, weight_decay=1e-4)
    ob.load_checkpoint(path)
    lb = [b.train_step(x, y, ob) for _ in range(2)]
    assert la == lb
    wa, wb = weights(a), weights(b)
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)
    with pytest.raises(OSError):
        ob.load_checkpoint(tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"nonsense")
    with pytest.raises(ValueError):
        ob.load_checkpoint(junk)
    before = weights(b)
    other = models.lenet5(num_classes=5)
    optim.SGD(other, 0.1).save_checkpoint(tmp_path / "five.safetensors")
    with pytest.raises(ValueError):
        ob.load_checkpoint(tmp_path / "five.safetensors")
    after = weights(b)
    assert all(np.array_equal(before[k], after[k]) for k in before)


# ---- bad inputs ----------------------------------------------------------------------------

def test_bad_inputs_raise():
    x, y = batch(8)
    m = models.lenet5()
    opt = optim.SGD(m, 0.1)
    with pytest.raises(ValueError, match="labels\\[3\\] is 10"):
        m.train_step(x, np.array([0, 1, 2, 10, 4, 5, 6, 7]), opt)
    with pytest.raises(ValueError, match="-1"):
        m.fit(x, -np.ones(8, dtype=np.int64), epochs=1, verbose=False)
    with pytest.raises(ValueError):
        m.train_step(x, y[:7], opt)
    with pytest.raises(ValueError):
        m.evaluate(x, y[:5])
    with pytest.raises(ValueError):
        m.train_step(np.zeros((8, 3, 32, 32), np.float32), y, opt)
    with pytest.raises(ValueError):
        m.predict(np.zeros((2, 1, 28, 28), np.float32))
    with pytest.raises(ValueError):
        m.predict(np.zeros((1, 32, 32), np.float32))
    with pytest.raises(TypeError):
        m.train_step(x, np.linspace(0, 1, 8), opt)
    with pytest.raises(TypeError):
        m.train_step(x, y, "sgd")
    with pytest.raises(ValueError, match="another model"):
        m.train_step(x, y, optim.SGD(models.lenet5(), 0.1))
    with pytest.raises(ValueError):
        m.fit(x, y, optimizer="rmsprop", verbose=False)
    with pytest.raises(ValueError):
        m.fit(x, y, epochs=0, verbose=False)
    with pytest.raises(ValueError):
        m.fit(x, y, batch_size=0, verbose=False)
    with pytest.raises(TypeError):
        m.fit(x, y, epochs=1.5, verbose=False)
    with pytest.raises(TypeError):
        m.fit(x, y, validation_data=x, verbose=False)
    with pytest.raises(ValueError):
        m.evaluate(x, y, batch_size=0)
    with pytest.raises(ValueError):
        optim.SGD(m, -0.1)
    with pytest.raises(ValueError):
        optim.SGD(m, 0.1, nesterov=True)
    with pytest.raises(ValueError):
        optim.Adam(m, 1e-3, betas=(1.0, 0.999))
    with pytest.raises(TypeError):
        optim.Adam(m, 1e-3, betas=0.9)
    with pytest.raises(TypeError):
        optim.SGD("lenet5", 0.1)
    with pytest.raises(ValueError):
        opt.lr = float("nan")
    # nothing above trained the model
    fresh = weights(models.lenet5())
    now = weights(m)
    assert all(np.array_equal(fresh[k], now[k]) for k in fresh)


# ---- safetensors files and datasets -------------------------------------------------------

def test_safetensors_round_trip(tmp_path):
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    b = np.array([3, 1, 4], dtype=np.int64)
    path = tmp_path / "data.safetensors"
    swiftcnn.write_safetensors(path, {"a": a, "b": b})
    assert np.array_equal(swiftcnn.read_safetensors(path, "a"), a)
    assert np.array_equal(swiftcnn.read_safetensors(str(path), "b"), b.astype(np.float32))
    with pytest.raises(ValueError, match="nope"):
        swiftcnn.read_safetensors(path, "nope")
    with pytest.raises(OSError):
        swiftcnn.read_safetensors(tmp_path / "missing", "a")
    with pytest.raises(TypeError):
        swiftcnn.write_safetensors(path, {})


def test_epoch_order_and_permutation_rules():
    # Fisher-Yates from the counter-based generator, checked against a direct re-derivation.
    def bits(name, seed, i):
        h = 0xCBF29CE484222325
        for ch in name.encode():
            h = ((h ^ ch) * 0x100000001B3) & (2 ** 64 - 1)
        z = ((h ^ seed) + (i + 1) * 0x9E3779B97F4A7C15) & (2 ** 64 - 1)
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & (2 ** 64 - 1)
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & (2 ** 64 - 1)
        return z ^ (z >> 31)

    for n, seed, epoch in [(1, 0, 0), (2, 0, 0), (10, 3, 2), (37, 2 ** 64 - 1, 1)]:
        order = list(range(n))
        for i in range(n - 1, 0, -1):
            j = bits("shuffle", (seed + epoch) % 2 ** 64, i) % (i + 1)
            order[i], order[j] = order[j], order[i]
        got = datasets.epoch_order(n, seed, epoch)
        assert got.tolist() == order
        assert sorted(got.tolist()) == list(range(n))


def test_fit_follows_the_documented_epoch_order():
    """fit's batches are consecutive slices of datasets.epoch_order: the same steps taken with
    train_step on those slices give the same weights."""
    x, y = batch(20, seed=11)
    a = models.lenet5()
    a.fit(x, y, epochs=2, batch_size=6, optimizer=optim.SGD(a, 0.05, momentum=0.9), seed=3, verbose=False)
    b = models.lenet5()
    ob = optim.SGD(b, 0.05, momentum=0.9)
    for epoch in range(2):
        order = datasets.epoch_order(20, 3, epoch)
        for s in range(0, 20, 6):
            idx = order[s:s + 6]
            b.train_step(x[idx], y[idx], ob)
    wa, wb = weights(a), weights(b)
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)


def test_upsampling_rule():
    img = np.arange(64, dtype=np.float64).reshape(1, 8, 8)
    up = datasets.upsample_bilinear(img, 32)
    assert up.shape == (1, 32, 32)
    # corners clamp to the source corners; output (i, j) samples source ((i+0.5)/4-0.5, ...)
    assert up[0, 0, 0] == 0 and up[0, 31, 31] == 63
    s = (5 + 0.5) / 4 - 0.5  # row 5 -> 0.875 between rows 0 and 1
    assert up[0, 5, 0] == pytest.approx((1 - s) * 0 + s * 8)
    # a constant image stays constant
    assert np.allclose(datasets.upsample_bilinear(np.full((2, 8, 8), 3.0)), 3.0)


def test_load_digits_split_and_standardization():
    pytest.importorskip("sklearn")
    d = datasets.load_digits(seed=1)
    assert d.x_train.shape == (1437, 1, 32, 32) and d.x_test.shape == (360, 1, 32, 32)
    assert d.x_train.dtype == np.float32 and d.y_train.dtype == np.int64
    assert sorted(np.concatenate([d.train_index, d.test_index]).tolist()) == list(range(1797))
    assert abs(float(d.x_train.astype(np.float64).mean())) < 1e-5
    assert float(d.x_train.astype(np.float64).std()) == pytest.approx(1.0, abs=1e-5)
    assert np.array_equal(d.test_index, datasets.permutation(1797, "digits.split", 1)[:360])
    d0 = datasets.load_digits(seed=0)
    assert not np.array_equal(d0.test_index, d.test_index)
    assert np.array_equal(datasets.load_digits(seed=1).x_test, d.x_test)


def test_fit_releases_the_gil():
    """While another thread fits, this thread keeps running Python code: the longest pause
    between two of its loop iterations is far shorter than the fit (with the GIL held for the
    whole library call it would last until fit returned)."""
    import threading
    import time

    x, y = batch(64, seed=12)
    m = models.lenet5()
    # Size the fit to this machine: one epoch timed here, then enough epochs for about 0.6 s,
    # so that the pause measured below is small against the fit on a fast machine too.
    t0 = time.perf_counter()
    m.fit(x, y, epochs=1, batch_size=8, verbose=False)
    one = max(time.perf_counter() - t0, 1e-4)
    epochs = min(max(8, int(0.6 / one) + 1), 2000)
    done = threading.Event()
    span = {}

    def work():
        t0 = time.perf_counter()
        try:
            m.fit(x, y, epochs=epochs, batch_size=8, verbose=False)
        finally:
            span["fit"] = time.perf_counter() - t0
            done.set()

    t = threading.Thread(target=work)
    t.start()
    last = time.perf_counter()
    longest = 0.0
    while not done.is_set():
        now = time.perf_counter()
        longest = max(longest, now - last)
        last = now
    t.join()
    assert span["fit"] > 0.2, (span["fit"], epochs)
    assert longest < 0.5 * span["fit"], (longest, span["fit"])


def test_digits_first_epochs_match_pytorch():
    """The demo's recipe on split 0 for 3 epochs: swiftcnn's per-epoch training loss and
    accuracy equal PyTorch's (Tests/fixtures/training/digits_torch.json, written by
    scripts/make_digits_fixture.py from the same data, initial weights and batch order).
    Measured: the losses agree to 2e-7 relative and the accuracies exactly; tolerance 1e-5
    relative (float32 rounding differs between the libraries and compounds over 69 steps),
    accuracy within 1 example of 1,437."""
    import json
    from pathlib import Path

    pytest.importorskip("sklearn")
    fixture = Path(__file__).resolve().parents[3] / "Tests" / "fixtures" / "training" / "digits_torch.json"
    ref = json.loads(fixture.read_text())
    split = next(s for s in ref["splits"] if s["seed"] == 0)
    r = ref["recipe"]
    d = datasets.load_digits(seed=0)
    m = models.lenet5()
    h = m.fit(d.x_train, d.y_train, epochs=3, batch_size=r["batch_size"], optimizer="sgd", lr=r["lr"],
              momentum=r["momentum"], seed=0, verbose=False)
    assert h["loss"] == pytest.approx(split["train_loss_per_epoch"][:3], rel=1e-5)
    assert np.allclose(h["accuracy"], split["train_accuracy_per_epoch"][:3], rtol=0, atol=1.01 / 1437)


_KILL_CHILD = r'''
import sys, time
import numpy as np
from swiftcnn import models, optim
path, done, mode = sys.argv[1], sys.argv[2], sys.argv[3]
x = models.seeded_tensor("input", (48, 1, 32, 32), -1, 1, 11)
y = np.arange(48) % 10
m = models.lenet5()
opt = optim.SGD(m, 0.05, momentum=0.9, weight_decay=1e-4)
if mode == "resume":
    opt.load_checkpoint(path)
    m.fit(x, y, epochs=4, batch_size=16, optimizer=opt, seed=3, verbose=False)
    m.save(done)
else:
    for epoch in range(4):
        m.fit(x, y, epochs=epoch + 1, batch_size=16, optimizer=opt, seed=3, verbose=False)
        opt.save_checkpoint(path)  # written to a temporary name, then renamed
        if mode == "full" and epoch == 3:
            m.save(done)
        if mode == "killed" and epoch == 1:
            open(done, "w").close()  # tell the parent: epoch 2's checkpoint is on disk
            time.sleep(600)          # ... and wait to be killed mid-run
'''


def test_process_killed_mid_run_resumes_to_identical_weights(tmp_path):
    """A training process killed with SIGKILL after its second epoch's checkpoint; a new
    process loads the checkpoint and finishes the run: its weights equal, bit for bit, those
    of a run that was never interrupted."""
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "child.py"
    script.write_text(_KILL_CHILD)
    env = dict(os.environ)

    def run(mode, ckpt, done):
        return subprocess.run([sys.executable, str(script), str(ckpt), str(done), mode], env=env,
                              capture_output=True, text=True, timeout=300)

    full = run("full", tmp_path / "full.ckpt", tmp_path / "full.safetensors")
    assert full.returncode == 0, full.stderr

    ckpt, flag = tmp_path / "run.ckpt", tmp_path / "epoch2.flag"
    child = subprocess.Popen([sys.executable, str(script), str(ckpt), str(flag), "killed"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while not flag.exists() and child.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert flag.exists(), child.stderr.read().decode() if child.poll() is not None else "timed out"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    assert not [p for p in os.listdir(tmp_path) if p.startswith("run.ckpt") and p != "run.ckpt"], \
        "a temporary checkpoint file was left behind"

    resumed = run("resume", ckpt, tmp_path / "resumed.safetensors")
    assert resumed.returncode == 0, resumed.stderr
    full_model, resumed_model = models.lenet5(), models.lenet5()
    full_model.load(tmp_path / "full.safetensors")
    resumed_model.load(tmp_path / "resumed.safetensors")
    a, b = full_model.state_dict(), resumed_model.state_dict()
    fresh = models.lenet5().state_dict()
    assert len(a) == 10
    for k in a:
        assert np.array_equal(a[k], b[k]), k
        assert not np.array_equal(a[k], fresh[k]), f"{k} did not train"
