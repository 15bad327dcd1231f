"""The portable library's two kernel paths, forced with SCNN_ISA, against the reference kernels.

Each case runs in a subprocess (the library picks its variant once, when it is loaded) with
SCNN_ISA=avx2 or avx512: conv2d through im2col + GEMM, Winograd, the small direct kernel and
the depthwise kernel, linear (GEMM and GEMV), max and average pooling, and two zoo models
(lenet5, resnet18 at 64x64), each compared with the same call on the reference kernels
(swiftcnn.set_reference_kernels). cpu_features() must report the forced path.
"""
import json
import os
import subprocess
import sys

import pytest

import swiftcnn

_CHILD = r"""
import json, sys
import numpy as np
import swiftcnn

rng = np.random.default_rng(7)
def r(*shape):
    return rng.uniform(-1, 1, shape).astype(np.float32)

cases = {
    "gemm_1x1": lambda: swiftcnn.conv2d(X1, W1, B1),
    "gemm_3x3_stride2": lambda: swiftcnn.conv2d(X2, W2, None, stride=2, padding=1),
    "winograd": lambda: swiftcnn.conv2d(X3, W3, B3, padding=1),
    "small_direct": lambda: swiftcnn.conv2d(X4, W4, B4),
    "depthwise": lambda: swiftcnn.conv2d(X5, W5, None, padding=1, groups=32),
    "linear_gemm": lambda: swiftcnn.linear(L1, LW, LB),
    "linear_gemv": lambda: swiftcnn.linear(L2, LW, LB),
    "max_pool": lambda: swiftcnn.max_pool2d(P, 3, 2, 1),
    "avg_pool": lambda: swiftcnn.avg_pool2d(P, 3, 2, 1),
    "lenet5": lambda: LENET(M1),
    "resnet18": lambda: RESNET(M2),
}
X1, W1, B1 = r(2, 64, 16, 16), r(96, 64, 1, 1), r(96)
X2, W2 = r(2, 16, 17, 17), r(32, 16, 3, 3)
X3, W3, B3 = r(1, 64, 48, 48), r(64, 64, 3, 3), r(64)
X4, W4, B4 = r(2, 1, 32, 32), r(6, 1, 5, 5), r(6)
X5, W5 = r(1, 32, 16, 16), r(32, 1, 3, 3)
L1, L2, LW, LB = r(8, 300), r(1, 300), r(70, 300), r(70)
P = r(2, 8, 15, 15)
LENET = swiftcnn.models.create("lenet5", 10)
RESNET = swiftcnn.models.create("resnet18", 10)
M1, M2 = r(2, 1, 32, 32), r(1, 3, 64, 64)

errors = {}
for name, run in cases.items():
    swiftcnn.set_reference_kernels(False)
    fast = np.asarray(run(), dtype=np.float64)
    swiftcnn.set_reference_kernels(True)
    ref = np.asarray(run(), dtype=np.float64)
    swiftcnn.set_reference_kernels(False)
    scale = max(1.0, float(np.abs(ref).max()))
    errors[name] = float(np.abs(fast - ref).max()) / scale if fast.shape == ref.shape else float("inf")
f = swiftcnn.cpu_features()
print(json.dumps({"isa": f.isa, "features": list(f.features), "note": f.note, "errors": errors}))
"""


def _run(isa):
    env = dict(os.environ, SCNN_ISA=isa)
    r = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def _portable():
    return swiftcnn.cpu_features().isa in ("avx2", "avx512")


def test_cpu_features_format():
    f = swiftcnn.cpu_features()
    assert f.isa in ("avx2", "avx512", "native")
    text = swiftcnn._swiftcnn.cpu_features()
    assert text.startswith(f.isa + " (cpu: ")
    if f.isa != "native":
        # the portable library runs only where AVX2 and FMA are
        assert {"avx2", "fma"} <= set(f.features)
    if f.isa == "avx512":
        assert {"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"} <= set(f.features)


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
def test_forced_path_matches_reference(isa):
    if not _portable():
        pytest.skip("not the portable library (built with PORTABLE=0): SCNN_ISA has no effect")
    if isa == "avx512" and "avx512f" not in swiftcnn.cpu_features().features:
        pytest.skip("this CPU has no AVX-512")
    out = _run(isa)
    assert out["isa"] == isa, out
    assert out["note"] == "", out
    bad = {k: v for k, v in out["errors"].items() if not v <= 1e-4}
    assert not bad, f"{isa}: optimized differs from the reference: {bad}"
    assert len(out["errors"]) == 11


def test_unknown_isa_falls_back_to_auto_with_a_note():
    if not _portable():
        pytest.skip("not the portable library (built with PORTABLE=0)")
    env = dict(os.environ, SCNN_ISA="sse9")
    code = "import swiftcnn; f = swiftcnn.cpu_features(); print(f.isa); print(f.note)"
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    isa, note = r.stdout.splitlines()[:2]
    assert isa == ("avx512" if "avx512f" in swiftcnn.cpu_features().features else "avx2")
    assert "SCNN_ISA=sse9 not understood" in note
