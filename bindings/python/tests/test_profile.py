"""Model.profile (the per-layer profiler), summary(profile=...), and the default thread count
(SCNN_NUM_THREADS, the affinity mask) seen from fresh processes."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import swiftcnn
from swiftcnn import models
from swiftcnn.profile import Profile, ProfileRow


@pytest.fixture(scope="module")
def resnet():
    return models.create("resnet18", num_classes=10)


@pytest.fixture(scope="module")
def x64():
    return np.random.default_rng(5).standard_normal((1, 3, 64, 64)).astype(np.float32)


def test_profile_rows_shares_kernels(resnet, x64):
    prof = resnet.profile(x64, runs=3, warmup=1)
    assert isinstance(prof, Profile)
    assert prof.input_shape == (1, 3, 64, 64) and prof.runs == 3
    assert prof.threads == swiftcnn.get_num_threads()
    assert prof.total_ms > 0
    assert len(prof) == 23  # 20 convs, 2 pools, the fc: batch norms and ReLUs fuse into the convs
    assert all(isinstance(r, ProfileRow) for r in prof)
    assert sum(r.share for r in prof) == pytest.approx(1.0, abs=1e-6)
    assert prof.node_ms == pytest.approx(sum(r.ms for r in prof))
    rows = {r.node: r for r in prof}
    # Every conv and the fc of the model are nodes of the plan; batch norms fold into convs.
    convs = [n for n in resnet.node_names() if n.endswith(("conv1", "conv2")) or n.endswith("downsample.0")]
    assert convs and all(n in rows for n in convs)
    assert "bn1" not in rows
    assert rows["conv1"].fused == ("bn", "relu")
    assert "add" in rows["layer1.0.conv2"].fused
    assert {rows[n].kernel for n in convs} <= {"winograd", "winograd2x2", "gemm", "byPositions", "direct", "small", "gemv", "depthwise"}
    assert any(rows[n].kernel in ("winograd", "gemm") for n in convs)
    fc = rows["fc"]
    assert (fc.op, fc.kernel, fc.macs, fc.flops) == ("Linear", "linear", 512 * 10, 2 * 512 * 10)
    assert fc.bytes == 4 * (512 + 10 + 512 * 10 + 10)
    # MACs: the nodes hold every MAC of the model (summary's total, per example x batch).
    assert sum(r.macs for r in prof) == resnet.macs((1, 3, 64, 64))
    assert all(r.gflops > 0 for r in prof if r.macs > 0 and r.ms > 0)
    assert all(r.bytes > 0 and r.gbps >= 0 for r in prof)
    top = prof.top(3)
    assert len(top) == 3 and top[0].ms >= top[1].ms >= top[2].ms
    assert top[0].ms == max(r.ms for r in prof)
    assert prof.top(0) == []
    assert rows["maxpool"].as_dict()["kernel"] == "maxpool"


def rows_kernel(prof, node):
    return next(r.kernel for r in prof if r.node == node)


def test_profile_text_and_summary(resnet, x64):
    prof = resnet.profile(x64, runs=2, warmup=0)
    text = str(prof)
    assert "Kernel" in text and "layer4.1.conv2" in text and "fc" in text
    first = text.splitlines()[4]
    assert first.split()[0] == prof.top(1)[0].node  # sorted by time
    assert "more nodes" in prof.table(5)
    assert "Profile resnet18" in repr(prof)
    plain = resnet.summary((1, 3, 64, 64))
    assert "Kernel" not in plain
    assert plain == resnet.summary((1, 3, 64, 64), profile=None)
    with_time = resnet.summary(profile=prof)
    assert "Kernel" in with_time and "Share" in with_time
    assert "winograd" in with_time or "gemm" in with_time
    conv1 = next(ln for ln in with_time.splitlines() if ln.startswith("conv1 "))
    assert rows_kernel(prof, "conv1") in conv1.split()
    bn1 = next(ln for ln in with_time.splitlines() if ln.startswith("bn1 "))
    assert bn1.split()[-3:] == ["-", "-", "-"]  # folded into conv1
    # Same rows as the plain summary, with three more columns.
    assert len(with_time.splitlines()) == len(plain.splitlines()) + 1
    auto = models.create("lenet5").summary(profile=True)
    assert "Kernel" in auto and "linear" in auto


def test_profile_changes_no_result(resnet, x64):
    before = np.asarray(resnet(x64)).copy()
    resnet.profile(x64, runs=2, warmup=1)
    after = np.asarray(resnet(x64))
    assert np.array_equal(before.view(np.uint32), after.view(np.uint32))


def test_profile_bad_input():
    m = models.create("lenet5")
    with pytest.raises(ValueError, match=r"(?i)lenet5.*\[1, 1, 32, 32\]|expects|input"):
        m.profile(np.zeros((1, 3, 32, 32), np.float32))
    with pytest.raises(ValueError, match="runs must be 1 to 100000; got 0"):
        m.profile(np.zeros((1, 1, 32, 32), np.float32), runs=0)
    with pytest.raises(ValueError, match="warmup"):
        m.profile(np.zeros((1, 1, 32, 32), np.float32), warmup=-1)
    with pytest.raises(TypeError):
        m.profile(np.zeros((1, 1, 32, 32), np.float32), runs="3")
    with pytest.raises(TypeError):
        m.summary(profile="yes")
    prof = m.profile(np.zeros((1, 1, 32, 32), np.float32), runs=1)
    with pytest.raises(ValueError, match="differs"):
        m.summary((2, 1, 32, 32), profile=prof)
    with pytest.raises(ValueError):
        prof.top(-1)


def test_profile_message_matches_forward():
    m = models.create("lenet5")
    bad = np.zeros((1, 3, 32, 32), np.float32)
    with pytest.raises(ValueError) as fwd:
        m(bad)
    with pytest.raises(ValueError) as prof:
        m.profile(bad)
    assert str(prof.value) == str(fwd.value)


def _threads_in_subprocess(env_value=None, prefix=()):
    env = dict(os.environ)
    env.pop("SCNN_NUM_THREADS", None)
    if env_value is not None:
        env["SCNN_NUM_THREADS"] = env_value
    code = "import swiftcnn; print(swiftcnn.get_num_threads(), swiftcnn.default_num_threads())"
    out = subprocess.run(list(prefix) + [sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, timeout=120).stdout.split()
    return int(out[0]), int(out[1])


def test_default_threads_env_override():
    assert _threads_in_subprocess("1") == (1, 1)
    assert _threads_in_subprocess("3") == (3, 3)
    base = _threads_in_subprocess()
    assert base[0] == base[1] >= 1
    assert base[0] <= max(1, len(os.sched_getaffinity(0)))
    for junk in ("", "0", "-2", "two", "1.5", "99999999999999999999999"):
        assert _threads_in_subprocess(junk) == base


@pytest.mark.skipif(shutil.which("taskset") is None, reason="taskset is not installed")
def test_default_threads_follow_affinity():
    assert _threads_in_subprocess(prefix=("taskset", "-c", "0")) == (1, 1)
    # The override wins over the mask.
    assert _threads_in_subprocess("2", prefix=("taskset", "-c", "0")) == (2, 2)
