"""Convolution, 1-D correlation and pooling against the numpy references (reference.py).

Tolerances: float32 results against float64 references, rtol = atol = 1e-4 (sums of at
most a few hundred products of O(1) values).
"""
import numpy as np
import pytest

import swiftcnn
import reference as R

TOL = dict(rtol=1e-4, atol=1e-4)
LIB_VALUE_ERRORS = (swiftcnn.InvalidArgumentError, swiftcnn.ShapeMismatchError)


def random_conv_case(rng):
    g = int(rng.integers(1, 4))
    c, o = g * int(rng.integers(1, 3)), g * int(rng.integers(1, 3))
    kh, kw = (int(v) for v in rng.integers(1, 4, 2))
    sh, sw = (int(v) for v in rng.integers(1, 3, 2))
    dh, dw = (int(v) for v in rng.integers(1, 3, 2))
    pad = tuple(int(v) for v in rng.integers(0, 3, 4))
    h = dh * (kh - 1) + 1 + int(rng.integers(0, 6))
    w = dw * (kw - 1) + 1 + int(rng.integers(0, 6))
    n = int(rng.integers(1, 3))
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = rng.standard_normal((o, c // g, kh, kw)).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32) if rng.random() < 0.5 else None
    return x, wt, b, (sh, sw), pad, (dh, dw), g


# ---- conv2d / convolve2d ---------------------------------------------------------------------

def test_seed_box_filter_table():
    x = R.SEED_IMAGE[None, None]
    w = np.full((1, 1, 3, 3), 1.0 / 9.0, np.float32)
    y = swiftcnn.conv2d(x, w)
    assert y.shape == (1, 1, 8, 8) and y.dtype == np.float32
    np.testing.assert_allclose(y[0, 0], R.SEED_BOX_TABLE, atol=1e-4)


def test_seed_three_channel_example():
    # The seed's 3x3x3 image and 2x2x3 filter -> a 2x2x1 activation map, y = sum over c,k,l.
    x = np.arange(27, dtype=np.float32).reshape(3, 3, 3) % 5
    w = (np.arange(12, dtype=np.float32).reshape(1, 3, 2, 2) % 3) - 1
    y = swiftcnn.conv2d(x, w, bias=np.array([0.5], np.float32))
    assert y.shape == (1, 2, 2)
    for i in range(2):
        for j in range(2):
            expected = 0.5 + sum(w[0, c, k, l] * x[c, i + k, j + l]
                                 for c in range(3) for k in range(2) for l in range(2))
            assert y[0, i, j] == pytest.approx(expected, abs=1e-5)


def test_conv2d_random_sweep(rng):
    for _ in range(40):
        x, w, b, s, p, d, g = random_conv_case(rng)
        got = swiftcnn.conv2d(x, w, b, stride=s, padding=p, dilation=d, groups=g)
        np.testing.assert_allclose(got, R.conv2d(x, w, b, s, p, d, g), **TOL)


def test_convolve2d_random_sweep(rng):
    for _ in range(25):
        x, w, b, s, p, d, g = random_conv_case(rng)
        got = swiftcnn.convolve2d(x, w, b, stride=s, padding=p, dilation=d, groups=g)
        np.testing.assert_allclose(got, R.conv2d(x, w, b, s, p, d, g, flip=True), **TOL)


def test_conv2d_unbatched_and_argument_forms(rng):
    x = rng.standard_normal((3, 7, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 2)).astype(np.float32)
    y = swiftcnn.conv2d(x, w, padding=1)
    assert y.shape == (4, 7, 7)
    np.testing.assert_allclose(y, R.conv2d(x, w, pad=(1, 1, 1, 1)), **TOL)
    np.testing.assert_allclose(swiftcnn.conv2d(x, w, padding=(2, 1), stride=(2, 1)),
                               R.conv2d(x, w, stride=(2, 1), pad=(2, 2, 1, 1)), **TOL)
    np.testing.assert_allclose(swiftcnn.conv2d(x, w, padding=(0, 1, 2, 0)),
                               R.conv2d(x, w, pad=(0, 1, 2, 0)), **TOL)
    np.testing.assert_array_equal(swiftcnn.conv2d(x, w, padding="valid"), swiftcnn.conv2d(x, w))
    same = swiftcnn.conv2d(x, w, padding="same", dilation=2)
    assert same.shape == (4, 7, 6)
    # total padding d*(k-1) = (4, 2): (2, 2) rows, (1, 1) columns
    np.testing.assert_allclose(same, R.conv2d(x, w, pad=(2, 2, 1, 1), dil=(2, 2)), **TOL)
    w2 = rng.standard_normal((1, 3, 2, 2)).astype(np.float32)   # even kernel: extra after
    np.testing.assert_allclose(swiftcnn.conv2d(x, w2, padding="same"), R.conv2d(x, w2, pad=(0, 1, 0, 1)), **TOL)


def test_conv2d_edge_geometries(rng):
    x = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    # 1x1 kernel, kernel equal to the input, depthwise
    for w, kw in [(rng.standard_normal((4, 3, 1, 1)), {}), (rng.standard_normal((2, 3, 5, 5)), {}),
                  (rng.standard_normal((3, 1, 3, 3)), {"groups": 3})]:
        w = w.astype(np.float32)
        np.testing.assert_allclose(swiftcnn.conv2d(x, w, **kw), R.conv2d(x, w, groups=kw.get("groups", 1)), **TOL)


def test_conv2d_other_dtypes_are_converted(rng):
    x = rng.integers(-5, 5, (1, 2, 4, 4))
    w = rng.integers(-2, 3, (1, 2, 2, 2)).astype(np.float64)
    np.testing.assert_allclose(swiftcnn.conv2d(x, w), R.conv2d(x, w), **TOL)
    xs = np.asfortranarray(rng.standard_normal((1, 2, 6, 6)).astype(np.float32))
    np.testing.assert_allclose(swiftcnn.conv2d(xs[:, :, ::2, ::2], w), R.conv2d(xs[:, :, ::2, ::2], w), **TOL)


def test_reference_kernels_give_the_same_result(rng):
    x, w, b, s, p, d, g = random_conv_case(rng)
    fast = swiftcnn.conv2d(x, w, b, stride=s, padding=p, dilation=d, groups=g)
    assert swiftcnn.reference_kernels() is False
    swiftcnn.set_reference_kernels(True)
    try:
        assert swiftcnn.reference_kernels() is True
        slow = swiftcnn.conv2d(x, w, b, stride=s, padding=p, dilation=d, groups=g)
    finally:
        swiftcnn.set_reference_kernels(False)
    assert swiftcnn.reference_kernels() is False
    np.testing.assert_allclose(fast, slow, **TOL)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"stride": 0}, "stride"),
    ({"stride": (1, -1)}, "stride"),
    ({"padding": -1}, "padding"),
    ({"padding": (0, 0, 0, -2)}, "padding"),
    ({"dilation": 0}, "dilation"),
    ({"groups": 0}, "group"),
    ({"groups": 2}, "group"),           # 3 channels
    ({"dilation": 3}, "kernel"),        # dilated kernel 7 > input 5
])
def test_conv2d_bad_parameters(kwargs, fragment):
    x = np.zeros((1, 3, 5, 5), np.float32)
    w = np.zeros((2, 3, 3, 3), np.float32)
    with pytest.raises(LIB_VALUE_ERRORS, match=f"(?i){fragment}") as info:
        swiftcnn.conv2d(x, w, **kwargs)
    assert "conv2d" in str(info.value)


def test_conv2d_bad_shapes():
    x = np.zeros((1, 3, 5, 5), np.float32)
    cases = [
        (x, np.zeros((2, 4, 3, 3), np.float32), None, "channel"),     # weight for 4 channels
        (x, np.zeros((2, 3, 6, 6), np.float32), None, "kernel"),      # larger than the input
        (x, np.zeros((2, 3, 3), np.float32), None, "weight"),         # weight rank 3
        (np.zeros(5, np.float32), np.zeros((2, 3, 3, 3), np.float32), None, "input"),       # rank 1
        (np.zeros((5, 5), np.float32), np.zeros((2, 3, 3, 3), np.float32), None, "input"),  # rank 2
        (x, np.zeros((2, 3, 3, 3), np.float32), np.zeros(3, np.float32), "bias"),           # bias length
    ]
    for xi, w, b, fragment in cases:
        with pytest.raises(LIB_VALUE_ERRORS, match=f"(?i){fragment}"):
            swiftcnn.conv2d(xi, w, b)
        with pytest.raises(LIB_VALUE_ERRORS):
            swiftcnn.convolve2d(xi, w, b)


def test_conv2d_bad_python_arguments():
    x = np.zeros((1, 1, 4, 4), np.float32)
    w = np.zeros((1, 1, 3, 3), np.float32)
    with pytest.raises(TypeError, match="stride"):
        swiftcnn.conv2d(x, w, stride="2")
    with pytest.raises(ValueError, match="stride"):
        swiftcnn.conv2d(x, w, stride=(1, 2, 3))
    with pytest.raises(TypeError, match="stride"):
        swiftcnn.conv2d(x, w, stride=1.5)
    with pytest.raises(ValueError, match="padding"):
        swiftcnn.conv2d(x, w, padding="full")
    with pytest.raises(ValueError, match="same"):
        swiftcnn.conv2d(x, w, padding="same", stride=2)
    with pytest.raises(TypeError, match="dtype"):
        swiftcnn.conv2d(x.astype(bool), w)
    with pytest.raises(TypeError, match="dtype"):
        swiftcnn.conv2d(x, w.astype(np.complex64))
    with pytest.raises(OverflowError):
        swiftcnn.conv2d(x, w, groups=1 << 70)
    with pytest.raises(swiftcnn.InvalidArgumentError, match="(?i)rank|dimension"):
        swiftcnn.conv2d(np.zeros((1, 1, 0, 4), np.float32), w)


# ---- 1-D ----------------------------------------------------------------------------------------

SEED_X = [2, 8, 3, 7, 1, 2, 0, 4, 5]
SEED_W = [2, 1, 5, 3]


@pytest.mark.parametrize("mode", ["valid", "same", "full"])
def test_seed_1d_example(mode):
    np.testing.assert_allclose(swiftcnn.correlate1d(SEED_X, SEED_W, mode), np.correlate(SEED_X, SEED_W, mode), atol=1e-5)
    np.testing.assert_allclose(swiftcnn.convolve1d(SEED_X, SEED_W, mode), np.convolve(SEED_X, SEED_W, mode), atol=1e-5)


def test_seed_1d_values():
    # by hand: convolve y[0] = 7*2 + 3*1 + 8*5 + 2*3 = 63; correlate y[0] = 2*2 + 8*1 + 3*5 + 7*3 = 48
    np.testing.assert_array_equal(swiftcnn.convolve1d(SEED_X, SEED_W), [63, 48, 49, 28, 21, 20])
    np.testing.assert_array_equal(swiftcnn.correlate1d(SEED_X, SEED_W), [48, 57, 24, 25, 16, 39])


def test_1d_random_sweep(rng):
    for _ in range(40):
        nx, nw = int(rng.integers(1, 12)), int(rng.integers(1, 12))   # includes len(w) > len(x)
        x = rng.standard_normal(nx).astype(np.float32)
        w = rng.standard_normal(nw).astype(np.float32)
        for mode in ("valid", "same", "full"):
            got = swiftcnn.correlate1d(x, w, mode)
            ref = R.correlate1d(x, w, mode)
            assert got.shape == ref.shape, (nx, nw, mode)
            np.testing.assert_allclose(got, ref, **TOL)
            got = swiftcnn.convolve1d(x, w, mode)
            ref = R.convolve1d(x, w, mode)
            assert got.shape == ref.shape, (nx, nw, mode)
            np.testing.assert_allclose(got, ref, **TOL)


def test_1d_bad_inputs():
    with pytest.raises(ValueError, match="mode"):
        swiftcnn.correlate1d([1, 2], [1], "circular")
    with pytest.raises(LIB_VALUE_ERRORS, match="(?i)rank|1-d|dimension"):
        swiftcnn.correlate1d(np.zeros((2, 3)), [1.0])
    with pytest.raises(LIB_VALUE_ERRORS, match="(?i)rank|1-d|dimension"):
        swiftcnn.convolve1d([1.0, 2.0], np.zeros((2, 2)))
    from swiftcnn import _swiftcnn as _c
    for fn in (_c.correlate1d, _c.convolve1d):
        with pytest.raises(swiftcnn.InvalidArgumentError, match="(?i)mode"):
            fn(np.ones(3, np.float32), np.ones(2, np.float32), 3)
        with pytest.raises(swiftcnn.InvalidArgumentError, match="(?i)mode"):
            fn(np.ones(3, np.float32), np.ones(2, np.float32), -1)


# ---- pooling --------------------------------------------------------------------------------------

def test_seed_pooling_examples():
    np.testing.assert_array_equal(swiftcnn.max_pool2d(R.SEED_POOL[None], 2)[0], [[6, 8], [14, 16]])
    np.testing.assert_array_equal(swiftcnn.avg_pool2d(R.SEED_POOL[None], 2)[0], [[3.5, 5.5], [11.5, 13.5]])
    np.testing.assert_array_equal(swiftcnn.max_pool2d(R.SEED_POOL2[None, None], 2, stride=2)[0, 0],
                                  [[100, 184], [12, 45]])


def test_pool_random_sweep(rng):
    n = 0
    while n < 60:
        kh, kw = (int(v) for v in rng.integers(1, 5, 2))
        sh, sw = (int(v) for v in rng.integers(1, 4, 2))
        ph, pw = int(rng.integers(0, kh // 2 + 1)), int(rng.integers(0, kw // 2 + 1))
        h, w = kh + int(rng.integers(0, 6)), kw + int(rng.integers(0, 6))
        x = rng.standard_normal((2, 3, h, w)).astype(np.float32)
        for ceil in (False, True):
            got = swiftcnn.max_pool2d(x, (kh, kw), (sh, sw), (ph, pw), ceil_mode=ceil)
            ref = R.max_pool2d(x, (kh, kw), (sh, sw), (ph, pw), ceil)
            assert got.shape == ref.shape
            np.testing.assert_allclose(got, ref, **TOL)
            for cip in (False, True):
                got = swiftcnn.avg_pool2d(x, (kh, kw), (sh, sw), (ph, pw), ceil_mode=ceil, count_include_pad=cip)
                ref = R.avg_pool2d(x, (kh, kw), (sh, sw), (ph, pw), ceil, cip)
                assert got.shape == ref.shape
                np.testing.assert_allclose(got, ref, **TOL)
        n += 1


def test_pool_stride_defaults_to_kernel(rng):
    x = rng.standard_normal((3, 7, 9)).astype(np.float32)
    np.testing.assert_array_equal(swiftcnn.max_pool2d(x, (2, 3)), swiftcnn.max_pool2d(x, (2, 3), (2, 3)))
    np.testing.assert_allclose(swiftcnn.avg_pool2d(x, 3), R.avg_pool2d(x, (3, 3), (3, 3), (0, 0)), **TOL)


def test_global_and_adaptive_pooling(rng):
    x = rng.standard_normal((2, 3, 5, 7)).astype(np.float32)
    g = swiftcnn.global_avg_pool2d(x)
    assert g.shape == (2, 3, 1, 1)
    np.testing.assert_allclose(g[..., 0, 0], x.astype(np.float64).mean(axis=(2, 3)), **TOL)
    assert swiftcnn.global_avg_pool2d(x[0]).shape == (3, 1, 1)
    for _ in range(20):
        h, w = (int(v) for v in rng.integers(1, 10, 2))
        oh, ow = (int(v) for v in rng.integers(1, 8, 2))
        xi = rng.standard_normal((1, 2, h, w)).astype(np.float32)
        np.testing.assert_allclose(swiftcnn.adaptive_avg_pool2d(xi, (oh, ow)), R.adaptive_avg_pool2d(xi, (oh, ow)), **TOL)
    np.testing.assert_allclose(swiftcnn.adaptive_avg_pool2d(x, 3), R.adaptive_avg_pool2d(x, (3, 3)), **TOL)
    np.testing.assert_allclose(swiftcnn.adaptive_avg_pool2d(x, (None, 2)), R.adaptive_avg_pool2d(x, (5, 2)), **TOL)


@pytest.mark.parametrize("call, fragment", [
    (lambda x: swiftcnn.max_pool2d(x, 0), "kernel"),
    (lambda x: swiftcnn.avg_pool2d(x, (2, 0)), "kernel"),
    (lambda x: swiftcnn.max_pool2d(x, 2, stride=0), "stride"),
    (lambda x: swiftcnn.max_pool2d(x, 2, padding=2), "padding"),      # > kernel/2
    (lambda x: swiftcnn.avg_pool2d(x, 3, padding=-1), "padding"),
    (lambda x: swiftcnn.max_pool2d(x, 9), "kernel|input|larger"),     # kernel larger than input
    (lambda x: swiftcnn.max_pool2d(x[0, 0], 2), "rank|input"),         # rank 2
    (lambda x: swiftcnn.global_avg_pool2d(x[0, 0, 0]), "rank|input"),  # rank 1
    (lambda x: swiftcnn.adaptive_avg_pool2d(x, 0), "size|output"),
    (lambda x: swiftcnn.adaptive_avg_pool2d(x, (2, -1)), "size|output"),
])
def test_pool_bad_inputs(call, fragment):
    x = np.zeros((1, 2, 6, 6), np.float32)
    with pytest.raises(LIB_VALUE_ERRORS, match=f"(?i){fragment}"):
        call(x)


def test_pool_bad_python_arguments():
    x = np.zeros((1, 1, 4, 4), np.float32)
    with pytest.raises(TypeError, match="kernel_size"):
        swiftcnn.max_pool2d(x, None)
    with pytest.raises(ValueError, match="kernel_size"):
        swiftcnn.max_pool2d(x, (1, 2, 3))
    with pytest.raises(TypeError, match="output_size"):
        swiftcnn.adaptive_avg_pool2d(x, "big")
