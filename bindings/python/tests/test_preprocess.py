"""torchvision-exact preprocessing (image.resize, imagenet_preprocess) against fixtures made by
torchvision (scripts/make_preprocess_fixtures.py, on scikit-learn's two photos), against a numpy
oracle of the antialiased resize, and the HWC / PIL / uint8 forms of the image functions."""
import os
import struct

import numpy as np
import pytest

import swiftcnn
from swiftcnn import filters, image, models

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "Tests", "fixtures", "images")
PHOTOS = ("china", "flower")


def load_photo(name):
    """(pixels uint8 [H, W, 3], torchvision's expected [3, 224, 224]) from NAME_preprocess.bin."""
    with open(os.path.join(FIXTURES, f"{name}_preprocess.bin"), "rb") as f:
        data = f.read()
    assert data[:8] == b"SCNNPREP"
    version, h, w, c = struct.unpack("<4I", data[8:24])
    assert version == 1 and c == 3
    n = h * w * c
    pixels = np.frombuffer(data, np.uint8, n, 24).reshape(h, w, c)
    expected = np.frombuffer(data, "<f4", 3 * 224 * 224, 24 + n).astype(np.float32).reshape(3, 224, 224)
    return pixels, expected


@pytest.fixture(scope="module")
def photos():
    return {name: load_photo(name) for name in PHOTOS}


@pytest.fixture(scope="module")
def npz():
    return np.load(os.path.join(FIXTURES, "preprocess.npz"))


# ---- a numpy oracle of torch's antialiased bilinear resize (float64) ------------------------------

def aa_matrix(n_in, n_out):
    """[n_out, n_in] weights of the triangle filter: support max(scale, 1), normalised rows."""
    scale = n_in / n_out
    support, inv = (scale, 1 / scale) if scale >= 1 else (1.0, 1.0)
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        center = scale * (i + 0.5)
        lo, hi = max(int(center - support + 0.5), 0), min(int(center + support + 0.5), n_in)
        j = np.arange(lo, hi)
        w = np.maximum(0.0, 1 - np.abs((j + 0.5 - center) * inv))
        m[i, lo:hi] = w / w.sum()
    return m


def aa_resize(x, h, w):
    return np.einsum("yi,...ij,xj->...yx", aa_matrix(x.shape[-2], h), x.astype(np.float64), aa_matrix(x.shape[-1], w))


# ---- imagenet_preprocess against torchvision ---------------------------------------------------

@pytest.mark.parametrize("name", PHOTOS)
def test_imagenet_preprocess_matches_torchvision(photos, name):
    pixels, expected = photos[name]
    got = image.imagenet_preprocess(pixels)
    assert got.shape == (3, 224, 224) and got.dtype == np.float32
    err = np.abs(got - expected).max()
    assert err < 1e-3, f"max error {err}"       # the bound; measured: about 1e-6
    assert err < 2e-5, f"max error {err}"       # float rounding only
    # The float image in [0, 1] gives the same tensor (same arithmetic as ToDtype(scale=True)).
    floats = pixels.astype(np.float32) * np.float32(1 / 255)
    np.testing.assert_allclose(image.imagenet_preprocess(floats), got, atol=1e-6)
    # CHW input, said outright or recognised (shape[0] = 3, shape[-1] = 640).
    np.testing.assert_array_equal(image.imagenet_preprocess(pixels.transpose(2, 0, 1)), got)
    # The C entry point the function uses for uint8, directly.
    direct = np.asarray(swiftcnn._swiftcnn.image_imagenet_preprocess(np.ascontiguousarray(pixels), pixels.shape[1],
                                                                      pixels.shape[0], 3, 0))
    np.testing.assert_array_equal(direct, got)


def test_naive_preprocessing_differs_from_torchvision(photos):
    # What the issue found: resize without antialias differs from torchvision by far more than 1e-3.
    pixels, expected = photos["china"]
    x = pixels.transpose(2, 0, 1).astype(np.float32) / 255
    naive = image.normalize(image.center_crop(image.resize(x, 256, antialias=False), 224),
                            image.IMAGENET_MEAN, image.IMAGENET_STD)
    assert np.abs(naive - expected).max() > 0.1


def test_imagenet_top1_agrees_on_a_seeded_resnet50(photos):
    ours = np.stack([image.imagenet_preprocess(photos[n][0]) for n in PHOTOS])
    theirs = np.stack([photos[n][1] for n in PHOTOS])
    m = models.create("resnet50")
    a, b = m(ours), m(theirs)
    assert a.shape == (2, 1000)
    np.testing.assert_array_equal(a.argmax(1), b.argmax(1))
    np.testing.assert_array_equal(np.argsort(-a, 1)[:, :5], np.argsort(-b, 1)[:, :5])
    ours_err = np.abs(a - b).max()
    assert ours_err <= 1e-5 * np.abs(b).max()       # measured: about 4e-7 of the logits' scale
    # Seeded weights are untrained, so the check is only as strong as the logits move with the
    # input: the naive preprocessing moves them far more than ours differs from torchvision's.
    x = photos["china"][0].transpose(2, 0, 1).astype(np.float32) / 255
    naive = image.normalize(image.center_crop(image.resize(x, 256, antialias=False), 224),
                            image.IMAGENET_MEAN, image.IMAGENET_STD)
    assert np.abs(m(naive[None])[0] - b[0]).max() > 100 * ours_err


def test_imagenet_preprocess_batches_and_pil(photos):
    china, flower = photos["china"][0], photos["flower"][0]
    one = [image.imagenet_preprocess(p) for p in (china, flower)]
    batch = image.imagenet_preprocess([china, flower])
    assert batch.shape == (2, 3, 224, 224)
    np.testing.assert_array_equal(batch, np.stack(one))
    np.testing.assert_array_equal(image.imagenet_preprocess(np.stack([china, flower])), batch)   # (N, H, W, C)
    # Other sizes in one list; gray and RGBA.
    small = china[100:180, 200:330]
    assert image.imagenet_preprocess([small, flower]).shape == (2, 3, 224, 224)
    gray = china[..., 1]
    np.testing.assert_array_equal(image.imagenet_preprocess(gray),
                                  image.imagenet_preprocess(np.repeat(gray[..., None], 3, -1)))
    rgba = np.concatenate([china, np.full(china.shape[:2] + (1,), 7, np.uint8)], -1)
    np.testing.assert_array_equal(image.imagenet_preprocess(rgba), one[0])
    # A small image is enlarged (the shorter side to 256) before the crop.
    tiny = image.imagenet_preprocess(china[:20, :30])
    assert tiny.shape == (3, 224, 224) and np.isfinite(tiny).all()
    Image = pytest.importorskip("PIL.Image")
    np.testing.assert_array_equal(image.imagenet_preprocess(Image.fromarray(china)), one[0])
    np.testing.assert_array_equal(image.imagenet_preprocess(Image.fromarray(china).convert("RGBA")), one[0])


@pytest.mark.parametrize("name", PHOTOS)
def test_committed_jpeg_decodes_to_the_fixture_pixels(photos, name):
    Image = pytest.importorskip("PIL.Image")
    pixels, expected = photos[name]
    with Image.open(os.path.join(FIXTURES, f"{name}.jpg")) as im:
        decoded = np.asarray(im.convert("RGB"))
    assert decoded.shape == pixels.shape
    # Same decoder as the fixture's Pillow: equal; another libjpeg may differ by a few levels.
    assert np.abs(decoded.astype(int) - pixels).mean() < 1.0
    assert np.abs(image.imagenet_preprocess(decoded) - expected).max() < 0.1


def test_imagenet_preprocess_bad_inputs():
    with pytest.raises(ValueError, match="(?i)empty"):
        image.imagenet_preprocess([])
    with pytest.raises(ValueError, match="shape"):
        image.imagenet_preprocess(np.zeros(5, np.uint8))
    with pytest.raises(swiftcnn.InvalidArgumentError, match="(?i)channels"):
        image.imagenet_preprocess(np.zeros((8, 8, 2), np.uint8))
    with pytest.raises(ValueError, match="(?i)channels"):
        image.imagenet_preprocess(np.zeros((8, 8, 2), np.float32))
    with pytest.raises(TypeError, match="dtype"):
        image.imagenet_preprocess(np.zeros((8, 8, 3), np.int32))
    with pytest.raises(swiftcnn.ShapeMismatchError, match="bytes"):
        swiftcnn._swiftcnn.image_imagenet_preprocess(bytes(10), 4, 4, 3, 0)
    with pytest.raises(swiftcnn.InvalidArgumentError, match="(?i)stride"):
        swiftcnn._swiftcnn.image_imagenet_preprocess(bytes(100), 4, 4, 3, 5)


# ---- resize alone ------------------------------------------------------------------------------

def test_resize_matches_torchvision_cases(npz):
    i = 0
    while f"case{i}_input" in npz.files:
        x, size, want = npz[f"case{i}_input"], npz[f"case{i}_size"], npz[f"case{i}_expected"]
        got = image.resize(x, int(size[0]) if len(size) == 1 else (int(size[0]), int(size[1])))
        assert got.shape == want.shape, f"case {i}"
        np.testing.assert_allclose(got, want, atol=2e-6, err_msg=f"case {i}")
        i += 1
    assert i >= 8


@pytest.mark.parametrize("name", PHOTOS)
def test_resize_photo_matches_torchvision(photos, npz, name):
    x = photos[name][0].transpose(2, 0, 1).astype(np.float32) * np.float32(1 / 255)
    got = image.resize(x, 256)
    assert got.shape == tuple(npz[f"{name}_resized_shape"]) == (3, 256, 383)
    np.testing.assert_allclose(got[:, ::8, ::8], npz[f"{name}_resized"], atol=2e-6)
    assert np.abs(image.resize(x, 256, antialias=False)[:, ::8, ::8] - npz[f"{name}_resized"]).max() > 0.05


def test_resize_against_numpy_oracle(rng):
    for _ in range(30):
        h, w = (int(v) for v in rng.integers(1, 40, 2))
        oh, ow = (int(v) for v in rng.integers(1, 40, 2))
        x = rng.standard_normal((2, 2, h, w)).astype(np.float32)
        np.testing.assert_allclose(image.resize(x, (oh, ow)), aa_resize(x, oh, ow), atol=2e-5,
                                   err_msg=f"{h}x{w} -> {oh}x{ow}")
    x = rng.random((3, 301, 7)).astype(np.float32)          # factor 300 on one axis
    np.testing.assert_allclose(image.resize(x, (1, 7)), aa_resize(x, 1, 7), atol=1e-5)
    np.testing.assert_allclose(image.resize(x, (3, 1)), aa_resize(x, 3, 1), atol=1e-5)   # where torch errs


def test_resize_shorter_side_rounding():
    for (h, w, s), want in [((480, 640, 256), (256, 341)), ((640, 480, 256), (341, 256)),
                            ((427, 640, 256), (256, 383)), ((5, 5, 3), (3, 3)), ((3, 10, 7), (7, 23)),
                            ((1, 1, 4), (4, 4))]:
        assert image.resize(np.zeros((1, h, w), np.float32), s).shape == (1,) + want


def test_center_crop_pads_like_torchvision():
    x = np.arange(1, 13, dtype=np.float32).reshape(1, 3, 4)
    with pytest.raises(swiftcnn.InvalidArgumentError, match="larger"):
        image.center_crop(x, (5, 2))
    got = image.center_crop(x, (5, 2), pad=True)    # pad 1 above, 1 below; columns round((4-2)/2) = 1
    want = np.zeros((1, 5, 2), np.float32)
    want[0, 1:4] = x[0, :, 1:3]
    np.testing.assert_array_equal(got, want)
    got = image.center_crop(x, (6, 7), pad=True)    # rows: 1 before, 2 after; columns: 1 before, 2 after
    want = np.zeros((1, 6, 7), np.float32)
    want[0, 1:4, 1:5] = x[0]
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(image.center_crop(x, (2, 2), pad=True), image.center_crop(x, (2, 2)))


# ---- HWC, PIL and uint8 forms --------------------------------------------------------------------

def hwc(x):
    return np.ascontiguousarray(np.moveaxis(x, -3, -1))


def test_layout_rule():
    from swiftcnn.image import _is_hwc
    f, u = np.float32, np.uint8
    assert _is_hwc(np.zeros((20, 30, 3), f), None, False)
    assert not _is_hwc(np.zeros((3, 20, 30), f), None, False)
    assert _is_hwc(np.zeros((2, 20, 30, 3), f), None, False)
    assert not _is_hwc(np.zeros((2, 3, 20, 30), f), None, False)
    assert not _is_hwc(np.zeros((3, 5, 3), f), None, False)          # ambiguous float: CHW
    assert _is_hwc(np.zeros((3, 5, 3), u), None, False)              # ambiguous uint8: HWC
    assert _is_hwc(np.zeros((3, 5, 3), f), "hwc", False)
    assert not _is_hwc(np.zeros((20, 30, 3), f), "chw", False)
    assert not _is_hwc(np.zeros((20, 30), f), None, False)
    with pytest.raises(ValueError, match="layout"):
        image.rgb_to_hsv(np.zeros((4, 4, 3), f), layout="nhwc")
    with pytest.raises(TypeError, match="layout"):
        image.resize(np.zeros((4, 4, 3), f), 2, layout=1)


def test_colour_functions_take_hwc(rng):
    x = rng.random((2, 3, 5, 6)).astype(np.float32)
    for fn in (image.rgb_to_hsv, image.hsv_to_rgb, image.rgb_to_grayscale):
        chw = fn(x if fn is not image.hsv_to_rgb else image.rgb_to_hsv(x))
        arg = hwc(x if fn is not image.hsv_to_rgb else image.rgb_to_hsv(x))
        got = fn(arg)
        assert got.shape == hwc(chw).shape
        np.testing.assert_array_equal(got, hwc(chw))
        np.testing.assert_array_equal(fn(arg[0]), hwc(chw[0]))
    # The example: a (H, W, 3) uint8 array.
    px = rng.integers(0, 256, (7, 9, 3), dtype=np.uint8)
    hsv = image.rgb_to_hsv(px)
    assert hsv.shape == (7, 9, 3) and hsv.dtype == np.float32
    np.testing.assert_allclose(hsv, image.rgb_to_hsv(px / np.float32(255)), rtol=1e-5, atol=1e-6)
    assert hsv[..., 1:].max() <= 1 and hsv[..., 0].max() < 360
    gray = image.rgb_to_grayscale(px)
    assert gray.shape == (7, 9, 1) and gray.dtype == np.uint8
    want = np.rint(0.299 * px[..., 0] + 0.587 * px[..., 1] + 0.114 * px[..., 2])
    assert np.abs(gray[..., 0].astype(int) - want).max() <= 1
    # uint8 HSV is PIL's "HSV" mode (hue 255 = 360 degrees) and comes back as uint8 RGB.
    Image = pytest.importorskip("PIL.Image")
    pil_hsv = Image.fromarray(px).convert("HSV")
    back = image.hsv_to_rgb(np.asarray(pil_hsv))
    assert back.dtype == np.uint8 and back.shape == px.shape
    assert np.abs(back.astype(int) - px).max() <= 4      # PIL's HSV bytes are rounded
    np.testing.assert_array_equal(image.rgb_to_grayscale(Image.fromarray(px)), gray)


def test_resize_crop_normalize_take_hwc(rng):
    x = rng.random((2, 3, 11, 14)).astype(np.float32)
    for aa in (True, False):
        np.testing.assert_array_equal(image.resize(hwc(x), (5, 8), antialias=aa), hwc(image.resize(x, (5, 8), antialias=aa)))
    np.testing.assert_array_equal(image.resize(hwc(x[0]), 6), hwc(image.resize(x[0], 6)))
    np.testing.assert_array_equal(image.center_crop(hwc(x), 5), hwc(image.center_crop(x, 5)))
    mean, std = [0.1, 0.2, 0.3], [0.5, 0.6, 0.7]
    np.testing.assert_array_equal(image.normalize(hwc(x), mean, std), hwc(image.normalize(x, mean, std)))
    np.testing.assert_allclose(image.normalize(x, mean, std),
                               (x - np.reshape(mean, (3, 1, 1))) / np.reshape(std, (3, 1, 1)), rtol=1e-6, atol=1e-6)
    # (H, W) planes.
    p = x[0, 0]
    np.testing.assert_array_equal(image.resize(p, (4, 5)), image.resize(p[None], (4, 5))[0])
    # uint8 in, uint8 out, computed on pixel/255.
    px = rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)
    small = image.resize(px, 5)
    assert small.dtype == np.uint8 and small.shape == (6, 5, 3)
    ref = image.resize(px.transpose(2, 0, 1) / np.float32(255), 5).transpose(1, 2, 0)
    assert np.abs(small.astype(np.float64) - ref * 255).max() <= 0.5 + 1e-3
    crop = image.center_crop(px, (4, 6))
    assert crop.dtype == np.uint8
    np.testing.assert_array_equal(crop, px[4:8, 2:8])
    # An ambiguous float shape is CHW unless told.
    amb = rng.random((3, 6, 3)).astype(np.float32)
    assert image.resize(amb, (2, 2)).shape == (3, 2, 2)
    assert image.resize(amb, (2, 2), layout="hwc").shape == (2, 2, 3)
    Image = pytest.importorskip("PIL.Image")
    np.testing.assert_array_equal(image.resize(Image.fromarray(px), 5), small)
    assert image.resize(Image.fromarray(px[..., 0]), 5).shape == (6, 5)    # mode "L": (H, W)


def test_to_tensor_takes_float_and_chw(rng):
    px = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    t = image.to_tensor(px)
    f = px.astype(np.float32) / np.float32(255)
    np.testing.assert_allclose(image.to_tensor(f), t, atol=1e-7)                # float HWC: already scaled
    np.testing.assert_allclose(image.to_tensor(f.transpose(2, 0, 1)), t, atol=1e-7)   # float CHW
    np.testing.assert_array_equal(image.to_tensor(px.transpose(2, 0, 1), layout="chw"), t)
    mean, std = [0.4, 0.5, 0.6], [0.2, 0.3, 0.4]
    np.testing.assert_allclose(image.to_tensor(f, mean, std), image.to_tensor(px, mean, std), atol=1e-6)
    Image = pytest.importorskip("PIL.Image")
    np.testing.assert_array_equal(image.to_tensor(Image.fromarray(px)), t)


def test_filters_apply_takes_hwc(rng):
    x = rng.random((2, 9, 8, 3)).astype(np.float32)
    k = filters.sobel_x()
    chw = filters.apply(np.moveaxis(x, -1, -3), k, "reflect")
    got = filters.apply(x, k, "reflect")
    assert got.shape == x.shape and got.dtype == np.float32
    np.testing.assert_array_equal(got, hwc(chw))
    px = rng.integers(0, 256, (9, 8, 3), dtype=np.uint8)
    got = filters.apply(px, filters.box(3), "replicate")
    assert got.shape == px.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, hwc(filters.apply(px.transpose(2, 0, 1).astype(np.float32), filters.box(3),
                                                      "replicate")), rtol=1e-6)   # pixel units, not scaled
    assert got.max() > 1
