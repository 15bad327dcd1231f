"""Arguments of the wrong Python type raise TypeError instead of being converted silently.

Found by scripts/py_bad_inputs.py: float() parses strings ("3" became 3.0), int() truncates
floats and parses strings and bytes (a seed of 1.5 became 1), bytes iterate as ints (a shape
b"\\x03" became (3,)), bools count as ints, and numpy integer seeds overflowed in
swiftcnn.datasets. Equivalent numbers (numpy scalars, objects with __float__) still work.
"""
import fractions

import numpy as np
import pytest

import swiftcnn
from swiftcnn import datasets, filters, image, models, optim

X = np.linspace(-1, 1, 36, dtype=np.float32).reshape(1, 4, 3, 3)


@pytest.mark.parametrize("call", [
    lambda v: swiftcnn.local_response_norm(X, 3, alpha=v),
    lambda v: swiftcnn.local_response_norm(X, 3, beta=v),
    lambda v: swiftcnn.local_response_norm(X, 3, k=v),
    lambda v: swiftcnn.batch_norm(X, np.zeros(4, np.float32), np.ones(4, np.float32), eps=v),
    lambda v: swiftcnn.dropout(X, p=v),
    lambda v: image.to_tensor(np.zeros((2, 2, 3), np.uint8), scale=v),
    lambda v: image.to_image(np.zeros((3, 2, 2), np.float32), scale=v),
    lambda v: filters.gaussian(5, v),
    lambda v: models.seeded_tensor("x", (3,), lo=v),
    lambda v: models.seeded_tensor("x", (3,), hi=v),
])
@pytest.mark.parametrize("bad", ["0.5", b"0.5", None, object()])
def test_float_arguments_refuse_non_numbers(call, bad):
    with pytest.raises(TypeError, match="expected a number"):
        call(bad)


def test_float_arguments_take_numbers():
    ref = swiftcnn.local_response_norm(X, 3, alpha=0.5, beta=0.75, k=2.0)
    for alpha in (np.float64(0.5), np.float32(0.5), fractions.Fraction(1, 2)):
        assert np.array_equal(swiftcnn.local_response_norm(X, 3, alpha=alpha, beta=0.75, k=2), ref)


@pytest.mark.parametrize("bad", [True, 1.5, "3", b"3", None])
def test_integer_seeds_and_steps_refuse_other_types(bad):
    m = models.create("lenet5")
    with pytest.raises(TypeError, match="seed"):
        m.reset_parameters(bad)
    with pytest.raises(TypeError, match="seed"):
        models.seeded_tensor("x", (3,), seed=bad)
    x = models.seeded_tensor("x", (2, 1, 32, 32))
    with pytest.raises(TypeError, match="seed"):
        m.fit(x, [0, 1], epochs=1, seed=bad, verbose=False)
    with pytest.raises(TypeError, match="steps"):
        optim.SGD(m, lr=0.1).set_schedule("step", bad, 0.5)


def test_numpy_integer_seeds_are_accepted():
    a, b = models.create("lenet5"), models.create("lenet5")
    a.reset_parameters(np.uint64(7))
    b.reset_parameters(7)
    for k, v in a.state_dict().items():
        assert np.array_equal(v, b.state_dict()[k])
    assert np.array_equal(models.seeded_tensor("x", np.array([2, 3]), seed=np.int32(4)),
                          models.seeded_tensor("x", (2, 3), seed=4))


@pytest.mark.parametrize("method", ["output_shape", "summary", "macs", "workspace_bytes"])
@pytest.mark.parametrize("bad", [(True, 1, 32, 32), (1.0, 1, 32, 32), b"\x01\x01  ", "1132", {1: 1}])
def test_shapes_refuse_bools_floats_bytes_and_strings(method, bad):
    with pytest.raises(TypeError):
        getattr(models.create("lenet5"), method)(bad)


@pytest.mark.parametrize("method", ["output_shape", "summary", "macs", "workspace_bytes"])
def test_shapes_take_sequences_of_integers(method):
    m = models.create("lenet5")
    ref = getattr(m, method)((2, 1, 32, 32))
    assert getattr(m, method)([2, 1, 32, 32]) == ref
    assert getattr(m, method)(np.array([2, 1, 32, 32])) == ref
    assert getattr(m, method)(tuple(np.int32(v) for v in (2, 1, 32, 32))) == ref


def test_seeded_tensor_name_and_shape_types():
    for bad_name in (b"x", np.bool_(True), None):
        with pytest.raises(TypeError, match="name"):
            models.seeded_tensor(bad_name, (3,))
    for bad_shape in (b"\x03", "3", (True,), (2.0,)):
        with pytest.raises(TypeError, match="shape"):
            models.seeded_tensor("x", bad_shape)


def test_datasets_integer_arguments():
    ref = datasets.epoch_order(10, 3, 1)
    assert np.array_equal(datasets.epoch_order(10, np.int64(3), np.int32(1)), ref)
    assert np.array_equal(datasets.permutation(np.int64(10), "x", np.uint8(3)), datasets.permutation(10, "x", 3))
    tr, te = datasets.split_indices(10, np.int32(3))
    tr2, te2 = datasets.split_indices(10, 3)
    assert np.array_equal(tr, tr2) and np.array_equal(te, te2)
    for bad in (True, 1.5, "3"):
        with pytest.raises(TypeError):
            datasets.permutation(bad, "x", 0)
        with pytest.raises(TypeError):
            datasets.epoch_order(10, bad, 0)
    with pytest.raises(ValueError):
        datasets.permutation(-1, "x", 0)
    with pytest.raises(ValueError):
        datasets.epoch_order(10, -1, 0)
    with pytest.raises(TypeError, match="name"):
        datasets.permutation(10, None, 0)


def test_upsample_bilinear_refuses_non_real_arrays():
    ok = datasets.upsample_bilinear(np.ones((1, 8, 8)), 12)
    assert ok.shape == (1, 12, 12)
    for bad in (np.ones((1, 8, 8), np.complex64) + 1j, np.full((1, 8, 8), "1"), np.ones((1, 8, 8), "datetime64[s]")):
        with pytest.raises(TypeError, match="real numbers"):
            datasets.upsample_bilinear(bad, 12)
    with pytest.raises(ValueError):
        datasets.upsample_bilinear(np.ones((1, 8, 8)), 0)
