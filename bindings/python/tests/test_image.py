"""swiftcnn.image against direct formulas, colorsys, and PyTorch's bilinear formula (reference.py)."""
import colorsys

import numpy as np
import pytest

import swiftcnn
from swiftcnn import _swiftcnn as _c
from swiftcnn import image
import reference as R

LIB_VALUE_ERRORS = (swiftcnn.InvalidArgumentError, swiftcnn.ShapeMismatchError)


# ---- pixels <-> tensors ------------------------------------------------------------------------

@pytest.mark.parametrize("channels", [1, 3, 4])
def test_to_tensor_formula(rng, channels):
    px = rng.integers(0, 256, (5, 7, channels), dtype=np.uint8)
    mean = list(rng.random(channels))
    std = list(rng.random(channels) + 0.5)
    t = image.to_tensor(px, mean=mean, std=std)
    assert t.shape == (channels, 5, 7) and t.dtype == np.float32
    ref = (px.transpose(2, 0, 1).astype(np.float64) / 255.0 - np.reshape(mean, (-1, 1, 1))) / np.reshape(std, (-1, 1, 1))
    np.testing.assert_allclose(t, ref, rtol=1e-5, atol=1e-5)
    plain = image.to_tensor(px)
    np.testing.assert_allclose(plain, px.transpose(2, 0, 1) / 255.0, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(image.to_tensor(px, scale=1.0), px.transpose(2, 0, 1), rtol=0, atol=0)


def test_to_tensor_grayscale_and_views(rng):
    px = rng.integers(0, 256, (6, 8), dtype=np.uint8)
    t = image.to_tensor(px)
    assert t.shape == (1, 6, 8)
    np.testing.assert_allclose(t[0], px / 255.0, rtol=1e-6)
    big = rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)
    view = big[2:8, 3:9]                       # non-contiguous rows: copied first
    np.testing.assert_allclose(image.to_tensor(view), view.transpose(2, 0, 1) / 255.0, rtol=1e-6)


def test_extension_reads_row_strides(rng):
    # The C function reads rows row_stride bytes apart; padding bytes are ignored.
    h, w, c, rs = 4, 5, 3, 17
    buf = rng.integers(0, 256, (h - 1) * rs + w * c, dtype=np.uint8)
    t = np.asarray(_c.image_to_tensor(buf, w, h, c, rs, 1.0, None, None))
    for y in range(h):
        row = buf[y * rs: y * rs + w * c].reshape(w, c)
        np.testing.assert_array_equal(t[:, y, :], row.T)


def test_to_image_inverse(rng):
    px = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    back = image.to_image(image.to_tensor(px, mean, std), mean, std)
    assert back.dtype == np.uint8 and back.shape == (6, 5, 3)
    np.testing.assert_array_equal(back, px)
    np.testing.assert_array_equal(image.to_image(image.to_tensor(px)[None]), px)   # [1, C, H, W]


def test_to_image_rounds_and_clamps(rng):
    x = (rng.random((3, 8, 9)) * 1.4 - 0.2).astype(np.float32)    # some values outside [0, 1]
    got = image.to_image(x)
    v = np.clip(x.astype(np.float32) / np.float32(1 / 255), 0, 255)
    ref = np.floor(v.astype(np.float64) + 0.5).astype(np.uint8).transpose(1, 2, 0)
    assert np.abs(got.astype(int) - ref.astype(int)).max() <= 1       # float32 rounding at exact halves
    assert (got == ref).mean() > 0.99
    assert got[x.transpose(1, 2, 0) < 0].max(initial=0) == 0
    assert got[x.transpose(1, 2, 0) > 1].min(initial=255) == 255


def test_image_bad_inputs():
    px = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(TypeError, match="uint8"):      # floats are taken as scaled; other ints are refused
        image.to_tensor(px.astype(np.int32))
    with pytest.raises(ValueError, match="shape"):
        image.to_tensor(np.zeros((2, 2, 2, 3), np.uint8))
    for c in (2, 5):
        with pytest.raises(swiftcnn.InvalidArgumentError, match="(?i)channel"):
            image.to_tensor(np.zeros((4, 4, c), np.uint8))
    with pytest.raises(swiftcnn.ShapeMismatchError, match="mean"):
        image.to_tensor(px, mean=[0.5, 0.5])
    with pytest.raises(swiftcnn.ShapeMismatchError, match="std"):
        image.to_tensor(px, std=[1, 1, 1, 1])
    with pytest.raises(swiftcnn.InvalidArgumentError, match="(?i)std"):
        image.to_tensor(px, std=[1, 0, 1])
    with pytest.raises(TypeError, match="mean"):
        image.to_tensor(px, mean="abc")
    with pytest.raises(swiftcnn.InvalidArgumentError):
        image.to_tensor(np.zeros((0, 4, 3), np.uint8))
    with pytest.raises(swiftcnn.ShapeMismatchError, match="mean"):
        image.to_image(np.zeros((3, 2, 2), np.float32), mean=[0.0])
    with pytest.raises(swiftcnn.InvalidArgumentError, match="(?i)channel"):
        image.to_image(np.zeros((2, 2, 2), np.float32))
    with pytest.raises(swiftcnn.InvalidArgumentError, match=r"\[C, H, W\].*got shape \[2, 2\]"):
        image.to_image(np.zeros((2, 2), np.float32))
    with pytest.raises(swiftcnn.InvalidArgumentError, match="(?i)scale"):
        image.to_image(np.zeros((3, 2, 2), np.float32), scale=0.0)


def test_extension_checks_pixel_buffer_sizes():
    # The C function takes no length: the extension must refuse buffers that are too small.
    with pytest.raises(swiftcnn.ShapeMismatchError, match="bytes"):
        _c.image_to_tensor(bytes(47), 4, 4, 3, 0, 1.0, None, None)
    with pytest.raises(swiftcnn.ShapeMismatchError, match="bytes"):
        _c.image_to_tensor(bytes(30), 4, 2, 3, 20, 1.0, None, None)      # needs 20 + 12 = 32
    t = _c.image_to_tensor(bytes(32), 4, 2, 3, 20, 1.0, None, None)      # exactly enough
    assert t.shape == (3, 2, 4)
    with pytest.raises(swiftcnn.ShapeMismatchError, match="bytes"):
        _c.image_to_tensor(bytes(8), 1 << 62, 1, 3, 0, 1.0, None, None)  # width*channels overflows
    with pytest.raises(swiftcnn.ShapeMismatchError, match="bytes"):
        _c.image_to_tensor(bytes(8), 2, 1 << 62, 1, 0, 1.0, None, None)
    with pytest.raises(swiftcnn.InvalidArgumentError, match="(?i)stride"):
        _c.image_to_tensor(bytes(64), 4, 2, 3, 5, 1.0, None, None)       # row stride < width*channels
    with pytest.raises(swiftcnn.InvalidArgumentError, match="(?i)stride"):
        _c.image_to_tensor(bytes(64), 4, 2, 3, -1, 1.0, None, None)
    with pytest.raises(swiftcnn.ShapeMismatchError, match="(?i)capacity|bytes|holds"):
        _c.tensor_to_image(np.zeros((3, 2, 2), np.float32), 1.0, None, None, bytearray(11), 0)
    with pytest.raises(TypeError, match="writable"):
        _c.tensor_to_image(np.zeros((3, 2, 2), np.float32), 1.0, None, None, bytes(12), 0)
    with pytest.raises(TypeError, match="pixels"):
        _c.image_to_tensor(None, 1, 1, 1, 0, 1.0, None, None)


# ---- colour -----------------------------------------------------------------------------------

def hue_close(a, b, atol):
    d = np.abs(a - b) % 360.0
    return np.minimum(d, 360.0 - d) <= atol


@pytest.mark.parametrize("rgb, hsv", [
    ((1, 0, 0), (0, 1, 1)), ((0, 1, 0), (120, 1, 1)), ((0, 0, 1), (240, 1, 1)),
    ((1, 1, 0), (60, 1, 1)), ((0, 1, 1), (180, 1, 1)), ((1, 0, 1), (300, 1, 1)),
    ((1, 1, 1), (0, 0, 1)), ((0, 0, 0), (0, 0, 0)), ((0.5, 0.5, 0.5), (0, 0, 0.5)),
    ((0.5, 0.25, 0.25), (0, 0.5, 0.5)),
])
def test_known_colours(rgb, hsv):
    x = np.array(rgb, np.float32).reshape(3, 1, 1)
    np.testing.assert_allclose(image.rgb_to_hsv(x).reshape(3), hsv, atol=1e-5)
    np.testing.assert_allclose(image.hsv_to_rgb(np.array(hsv, np.float32).reshape(3, 1, 1)).reshape(3), rgb, atol=1e-6)


def test_hsv_against_colorsys(rng):
    x = rng.random((2, 3, 6, 7)).astype(np.float32)
    got = image.rgb_to_hsv(x)
    ref = R.rgb_to_hsv(x)
    assert got.shape == x.shape
    assert hue_close(got[:, 0], ref[:, 0], 2e-3).all()
    np.testing.assert_allclose(got[:, 1:], ref[:, 1:], atol=1e-5)
    back = image.hsv_to_rgb(got)
    np.testing.assert_allclose(back, x, atol=1e-5)
    hsv = np.stack([rng.random((5, 4)) * 720 - 180, rng.random((5, 4)), rng.random((5, 4))]).astype(np.float32)
    np.testing.assert_allclose(image.hsv_to_rgb(hsv), R.hsv_to_rgb(hsv), atol=1e-5)   # hue modulo 360
    assert np.asarray(colorsys.rgb_to_hsv(1, 0, 0)) is not None


def test_grayscale(rng):
    x = rng.random((2, 3, 4, 5)).astype(np.float32)
    g = image.rgb_to_grayscale(x)
    assert g.shape == (2, 1, 4, 5)
    np.testing.assert_allclose(g[:, 0], 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2], atol=1e-6)
    assert image.rgb_to_grayscale(x[0]).shape == (1, 4, 5)


@pytest.mark.parametrize("fn", [image.rgb_to_hsv, image.hsv_to_rgb, image.rgb_to_grayscale])
def test_colour_bad_inputs(fn):
    with pytest.raises(swiftcnn.InvalidArgumentError, match=r"\[3, H, W\].*got shape \[4, 2, 2\]"):
        fn(np.zeros((4, 2, 2), np.float32))
    with pytest.raises(swiftcnn.InvalidArgumentError, match=r"got shape \[3, 2\]"):
        fn(np.zeros((3, 2), np.float32))


# ---- resize and crop -----------------------------------------------------------------------------

def test_resize_against_pytorch_formula(rng):
    for _ in range(25):
        h, w = (int(v) for v in rng.integers(1, 10, 2))
        oh, ow = (int(v) for v in rng.integers(1, 12, 2))
        x = rng.standard_normal((2, 3, h, w)).astype(np.float32)
        got = image.resize(x, (oh, ow), antialias=False)
        assert got.shape == (2, 3, oh, ow)
        np.testing.assert_allclose(got, R.resize_bilinear(x, oh, ow), rtol=1e-5, atol=1e-5)
    x = rng.standard_normal((3, 5, 6)).astype(np.float32)
    np.testing.assert_allclose(image.resize(x, (5, 6), antialias=False), x, atol=1e-6)     # identity
    np.testing.assert_array_equal(image.resize(x, (5, 6)), x)
    assert image.resize(x, 4).shape == (3, 4, 4)      # shorter side 5 -> 4, longer int(4 * 6 / 5) = 4
    assert image.resize(x, 3).shape == (3, 3, 3)      # int(3 * 6 / 5) = 3


def test_resize_2x2_to_4x4_by_hand():
    x = np.array([[[0, 4], [8, 12]]], np.float32)
    # torch: src = (i + 0.5)/2 - 0.5 -> -0.25 (clamped 0), 0.25, 0.75, 1.25 (i1 clamped)
    row = lambda a, b: [a, a + 0.25 * (b - a), a + 0.75 * (b - a), b]
    top, bot = row(0, 4), row(8, 12)
    expected = [top, [t + 0.25 * (b - t) for t, b in zip(top, bot)],
                [t + 0.75 * (b - t) for t, b in zip(top, bot)], bot]
    np.testing.assert_allclose(image.resize(x, 4, antialias=False)[0], expected, atol=1e-6)
    np.testing.assert_allclose(image.resize(x, 4)[0], expected, atol=1e-6)   # enlarging: antialias changes nothing


def test_center_crop(rng):
    for _ in range(25):
        H, W = (int(v) for v in rng.integers(1, 10, 2))
        h, w = int(rng.integers(1, H + 1)), int(rng.integers(1, W + 1))
        x = rng.standard_normal((2, H, W)).astype(np.float32)
        np.testing.assert_array_equal(image.center_crop(x, (h, w)), R.center_crop(x, h, w))
    x = np.arange(25, dtype=np.float32).reshape(1, 5, 5)
    np.testing.assert_array_equal(image.center_crop(x, 3)[0], x[0, 1:4, 1:4])
    np.testing.assert_array_equal(image.center_crop(x, (2, 2))[0], x[0, 2:4, 2:4])   # round(1.5) = 2


def test_resize_and_crop_bad_inputs():
    x = np.zeros((3, 4, 4), np.float32)
    with pytest.raises(swiftcnn.InvalidArgumentError, match="(?i)size|height|width"):
        image.resize(x, 0)
    with pytest.raises(swiftcnn.InvalidArgumentError, match=r"resize.*got shape \[4\]"):
        image.resize(np.zeros(4, np.float32), 2)       # (H, W) is a one-channel image now; rank 1 is not
    with pytest.raises(swiftcnn.InvalidArgumentError, match=r"rank"):
        image.resize(np.zeros((1, 1, 3, 4, 4), np.float32), (2, 2))
    with pytest.raises(swiftcnn.InvalidArgumentError, match="(?i)larger|crop|exceed"):
        image.center_crop(x, (5, 2))
    with pytest.raises(swiftcnn.InvalidArgumentError, match="(?i)size|height|width"):
        image.center_crop(x, (0, 2))
    with pytest.raises(ValueError, match="size"):
        image.resize(x, (1, 2, 3))
    with pytest.raises(OverflowError):
        image.resize(x, 1 << 64)
