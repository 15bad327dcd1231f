"""swiftcnn.filters against explicit padding + loops (reference.apply_filter)."""
import numpy as np
import pytest

import swiftcnn
from swiftcnn import filters
import reference as R

TOL = dict(rtol=1e-5, atol=1e-5)


def test_kernels():
    np.testing.assert_allclose(filters.box(3), np.full((3, 3), 1 / 9), rtol=1e-7)
    np.testing.assert_allclose(filters.box(5), np.full((5, 5), 1 / 25), rtol=1e-7)
    np.testing.assert_allclose(filters.horizontal_blur(), np.full((1, 5), 0.2), rtol=1e-7)
    np.testing.assert_allclose(filters.vertical_blur(3), np.full((3, 1), 1 / 3), rtol=1e-7)
    np.testing.assert_array_equal(filters.sharpen(), np.array([[0, -1, 0], [-1, 8, -1], [0, -1, 0]]) / 4)
    np.testing.assert_array_equal(filters.sobel_x(), [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    np.testing.assert_array_equal(filters.sobel_y(), [[-1, -2, -1], [0, 0, 0], [1, 2, 1]])
    np.testing.assert_array_equal(filters.edge(), [[-1, 0, 1]])
    for k in (filters.box(3), filters.sobel_x(), filters.gaussian(5, 1.0)):
        assert k.dtype == np.float32 and k.flags.c_contiguous


@pytest.mark.parametrize("size, sigma", [(1, 1.0), (3, 0.5), (5, 1.0), (7, 2.5), (9, 0.1)])
def test_gaussian(size, sigma):
    g = filters.gaussian(size, sigma)
    assert g.shape == (size, size)
    np.testing.assert_allclose(g, R.gaussian(size, sigma), rtol=1e-5, atol=1e-7)
    assert g.sum() == pytest.approx(1.0, abs=1e-5)


def test_seed_box_table_in_the_interior():
    out = filters.apply(R.SEED_IMAGE, filters.box(3))
    assert out.shape == (10, 10)
    np.testing.assert_allclose(out[1:-1, 1:-1], R.SEED_BOX_TABLE, atol=1e-4)


@pytest.mark.parametrize("border", ["zero", "replicate", "reflect"])
def test_apply_against_loops(rng, border):
    shapes = [(6, 7), (2, 5, 4), (2, 2, 4, 6)]
    kernels = [(3, 3), (1, 5), (4, 2), (2, 1)]
    for shape in shapes:
        for ks in kernels:
            x = rng.standard_normal(shape).astype(np.float32)
            k = rng.standard_normal(ks).astype(np.float32)
            got = filters.apply(x, k, border)
            assert got.shape == x.shape
            np.testing.assert_allclose(got, R.apply_filter(x, k, border), **TOL)


@pytest.mark.parametrize("border", ["zero", "replicate", "reflect"])
def test_apply_kernel_larger_than_image(rng, border):
    for shape, ks in [((3, 2), (7, 9)), ((1, 1), (3, 3)), ((2, 4), (11, 1)), ((1, 5), (5, 13))]:
        x = rng.standard_normal(shape).astype(np.float32)
        k = rng.standard_normal(ks).astype(np.float32)
        np.testing.assert_allclose(filters.apply(x, k, border), R.apply_filter(x, k, border), **TOL)


def test_apply_with_the_seed_kernels(rng):
    x = rng.random((3, 9, 8)).astype(np.float32)
    for k in (filters.sharpen(), filters.sobel_x(), filters.sobel_y(), filters.edge(),
              filters.horizontal_blur(), filters.vertical_blur(), filters.gaussian(5, 1.2)):
        np.testing.assert_allclose(filters.apply(x, k, "reflect"), R.apply_filter(x, k, "reflect"), **TOL)


def test_filter_bad_inputs():
    with pytest.raises(swiftcnn.InvalidArgumentError, match="(?i)n|size"):
        filters.box(0)
    with pytest.raises(swiftcnn.InvalidArgumentError):
        filters.horizontal_blur(-1)
    with pytest.raises(swiftcnn.InvalidArgumentError):
        filters.vertical_blur(0)
    with pytest.raises(swiftcnn.InvalidArgumentError, match="(?i)odd|even|size"):
        filters.gaussian(4, 1.0)
    with pytest.raises(swiftcnn.InvalidArgumentError, match="(?i)sigma"):
        filters.gaussian(3, 0.0)
    with pytest.raises(swiftcnn.InvalidArgumentError, match="(?i)sigma"):
        filters.gaussian(3, -1.0)
    with pytest.raises(swiftcnn.InvalidArgumentError, match="(?i)sigma"):
        filters.gaussian(3, float("nan"))
    with pytest.raises((swiftcnn.InvalidArgumentError, swiftcnn.OutOfMemoryError)):
        filters.box(1 << 40)
    x = np.zeros((4, 4), np.float32)
    with pytest.raises(ValueError, match="border"):
        filters.apply(x, filters.box(3), "wrap")
    with pytest.raises(swiftcnn.InvalidArgumentError, match="(?i)border"):
        swiftcnn._swiftcnn.filter_apply(x, filters.box(3), 3)
    with pytest.raises(swiftcnn.InvalidArgumentError, match="(?i)kernel"):
        filters.apply(x, np.ones((1, 3, 3), np.float32))
    with pytest.raises(swiftcnn.InvalidArgumentError, match="(?i)rank|image"):
        filters.apply(np.zeros(4, np.float32), filters.box(3))
    with pytest.raises(TypeError, match="n"):
        filters.box(2.5)
