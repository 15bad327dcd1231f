"""Arrays coming in: PyTorch tensors taken as they are (requires_grad, float16, bfloat16, float64,
non-contiguous), and uint8 model input refused unless the call gives a scale.

The torch tests run with real torch when it is importable; otherwise (torch is not a test
dependency) with a stand-in class that behaves as torch's Tensor does for this purpose: its
type's module is "torch", ``numpy()`` / ``__array__`` refuse a tensor that requires grad and a
bfloat16 tensor (as torch does), and ``detach``, ``cpu``, ``float`` and ``dtype`` work."""
import subprocess
import sys

import numpy as np
import pytest

import swiftcnn
from swiftcnn import models

try:
    import torch  # noqa: F401
    HAVE_TORCH = True
except ImportError:
    HAVE_TORCH = False


# ---- the stand-in ---------------------------------------------------------------------------

class _Dtype:
    def __init__(self, name, is_floating_point):
        self.name, self.is_floating_point = name, is_floating_point

    def __str__(self):
        return f"torch.{self.name}"

    __repr__ = __str__


_DTYPES = {"float32": _Dtype("float32", True), "float16": _Dtype("float16", True),
           "bfloat16": _Dtype("bfloat16", True), "float64": _Dtype("float64", True),
           "uint8": _Dtype("uint8", False), "int64": _Dtype("int64", False)}


class FakeTensor:
    """What from_torch relies on, with torch's refusals."""

    def __init__(self, values, dtype, requires_grad=False, device="cpu"):
        self._v = values  # numpy array holding the values (bfloat16 as float32 values)
        self.dtype = _DTYPES[dtype]
        self.requires_grad = requires_grad
        self.device = device

    def detach(self):
        return FakeTensor(self._v, self.dtype.name, False, self.device)

    def cpu(self):
        return FakeTensor(self._v, self.dtype.name, self.requires_grad, "cpu")

    def float(self):
        return FakeTensor(self._v.astype(np.float32), "float32", self.requires_grad, self.device)

    def numpy(self):
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        if self.device != "cpu":
            raise TypeError("can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu()")
        if self.dtype.name == "bfloat16":
            raise TypeError("Got unsupported ScalarType BFloat16")
        return self._v

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)


FakeTensor.__module__ = "torch"


def _bf16(a):
    """float32 values rounded to bfloat16 (round to nearest even), as float32."""
    u = np.asarray(a, np.float32).view(np.uint32).astype(np.uint64)
    u = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    return u.astype(np.uint32).view(np.float32)


def make_tensor(a, dtype, requires_grad=False, device="cpu"):
    """A tensor of `a`'s values in `dtype` (torch's when importable, else the stand-in), and the
    float32 values it holds."""
    a = np.asarray(a)
    if dtype == "bfloat16":
        held = _bf16(a)
    else:
        held = a.astype(dtype)
    if HAVE_TORCH:
        import torch
        t = torch.from_numpy(np.ascontiguousarray(held.astype(np.float32) if dtype == "bfloat16" else held))
        t = t.to(getattr(torch, dtype))
        if requires_grad:
            t.requires_grad_(True)
        return t, held.astype(np.float32)
    return FakeTensor(held, dtype, requires_grad, device), held.astype(np.float32)


def test_which_tensor_class_runs():
    # States which path this run exercises (and fails loudly if the stand-in stops looking like torch).
    t, _ = make_tensor(np.zeros(3, np.float32), "float32")
    assert type(t).__module__.split(".")[0] == "torch"
    print("torch tensors:", "real torch" if HAVE_TORCH else "stand-in (torch not importable)")


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "float64"])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_model_takes_torch_tensors_as_they_are(dtype, requires_grad):
    m = models.lenet5()
    x = models.seeded_tensor("input", (2, 1, 32, 32))
    t, held = make_tensor(x, dtype, requires_grad)
    if not HAVE_TORCH:  # the stand-in refuses exactly what torch refuses
        if requires_grad or dtype == "bfloat16":
            with pytest.raises((RuntimeError, TypeError)):
                np.asarray(t)
    y = m(t)
    assert y.dtype == np.float32
    assert np.array_equal(y, m(held))
    assert np.array_equal(m.predict(t), m.predict(held))
    assert np.array_equal(m.forward(t, outputs=["features.0"])["features.0"],
                          m.forward(held, outputs=["features.0"])["features.0"])
    assert np.array_equal(m.embed(t), m.embed(held))


def test_non_contiguous_tensors_and_functions():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((1, 1, 32, 64)).astype(np.float32)
    view = base[:, :, :, ::2]  # strided
    if HAVE_TORCH:
        import torch
        t = torch.from_numpy(base)[:, :, :, ::2].requires_grad_(False)
        assert not t.is_contiguous()
    else:
        t = FakeTensor(view, "float32")
    m = models.lenet5()
    assert np.array_equal(m(t), m(np.ascontiguousarray(view)))
    w, held_w = make_tensor(rng.standard_normal((2, 1, 3, 3)), "float32", requires_grad=True)
    assert np.array_equal(swiftcnn.conv2d(t, w, padding=1), swiftcnn.conv2d(np.ascontiguousarray(view), held_w, padding=1))
    h, held_h = make_tensor(rng.standard_normal((3, 5)), "bfloat16", requires_grad=True)
    assert np.array_equal(swiftcnn.relu(h), np.maximum(held_h, 0))


def test_load_state_dict_takes_parameters_that_require_grad():
    m = models.lenet5()
    sd = {}
    expect = {}
    for k, v in models.lenet5().state_dict().items():
        sd[k], expect[k] = make_tensor(v * 0.5, "bfloat16", requires_grad=k.endswith("weight"))
    m.load_state_dict(sd)
    got = m.state_dict()
    for k in expect:
        assert np.array_equal(got[k], expect[k]), k


def test_importing_swiftcnn_does_not_import_torch():
    code = "import sys, swiftcnn, swiftcnn.models, swiftcnn.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr


# ---- uint8 -------------------------------------------------------------------------------------

def test_uint8_input_needs_a_scale():
    m = models.lenet5()
    pix = (np.arange(2 * 32 * 32) % 256).astype(np.uint8).reshape(2, 1, 32, 32)
    as_float = pix.astype(np.float32) / np.float32(255)
    for call in (lambda **k: m(pix, **k), lambda **k: m.forward(pix, **k), lambda **k: m.predict(pix, **k),
                 lambda **k: m.embed(pix, **k), lambda **k: m.evaluate(pix, [0, 1], **k)):
        with pytest.raises(ValueError, match="uint8.*scale=1/255"):
            call()
    y = m(pix, scale=1 / 255)
    ref = m(pix.astype(np.float32) * np.float32(1 / 255))
    assert np.array_equal(y, ref)
    np.testing.assert_allclose(y, m(as_float), rtol=1e-5, atol=1e-6)
    assert np.array_equal(m.predict(pix, scale=1 / 255), m.predict(ref_in := pix.astype(np.float32) * np.float32(1 / 255)))
    assert np.array_equal(m(pix, scale=1), m(pix.astype(np.float32)))
    assert np.array_equal(m.embed(pix, scale=1 / 255), m.embed(ref_in))
    assert m.evaluate(pix, [0, 1], scale=1 / 255) == m.evaluate(ref_in, [0, 1])
    # scale multiplies any input; other integer dtypes convert as before.
    x = models.seeded_tensor("input", (1, 1, 32, 32))
    assert np.array_equal(m(x, scale=2.0), m(x * np.float32(2)))
    assert np.array_equal(m(pix.astype(np.int32)), m(pix.astype(np.float32)))
    # Training and profiling have no scale: the message says to convert.
    with pytest.raises(ValueError, match="uint8.*astype"):
        m.fit(pix, [0, 1], epochs=1, verbose=False)
    with pytest.raises(ValueError, match="uint8"):
        m.profile(pix, runs=1)
    with pytest.raises(TypeError):
        m(x, scale="1/255")


def test_uint8_torch_tensor_needs_a_scale_too():
    m = models.lenet5()
    pix = (np.arange(32 * 32) % 256).astype(np.uint8).reshape(1, 1, 32, 32)
    t, _ = make_tensor(pix, "uint8")
    with pytest.raises(ValueError, match="uint8"):
        m(t)
    assert np.array_equal(m(t, scale=1 / 255), m(pix, scale=1 / 255))
