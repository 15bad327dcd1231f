"""Activations, normalisation, fully connected and reshaping layers against numpy references.

Tolerances: float32 results against float64 references, rtol = atol = 1e-5 unless stated.
"""
import numpy as np
import pytest

import swiftcnn
import reference as R

TOL = dict(rtol=1e-5, atol=1e-5)
LIB_VALUE_ERRORS = (swiftcnn.InvalidArgumentError, swiftcnn.ShapeMismatchError)


@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 4), (2, 3, 4, 5)])
def test_activations(rng, shape):
    x = (rng.standard_normal(shape) * 4).astype(np.float32)
    r = swiftcnn.relu(x)
    assert r.shape == shape and r.dtype == np.float32
    np.testing.assert_array_equal(r, np.maximum(x, 0))
    np.testing.assert_allclose(swiftcnn.tanh(x), np.tanh(x.astype(np.float64)), **TOL)
    np.testing.assert_allclose(swiftcnn.sigmoid(x), R.sigmoid(x), **TOL)


def test_activations_extreme_values():
    x = np.array([-1e30, -1000, -100, -20, 0, 20, 100, 1000, 1e30, np.inf, -np.inf], np.float32)
    s = swiftcnn.sigmoid(x)
    assert np.all(np.isfinite(s))
    np.testing.assert_allclose(s, R.sigmoid(x.astype(np.float64)), rtol=1e-5, atol=1e-30)
    t = swiftcnn.tanh(x)
    np.testing.assert_allclose(t, np.tanh(x.astype(np.float64)), atol=1e-6)
    np.testing.assert_array_equal(swiftcnn.relu(x), np.maximum(x, 0))


def test_softmax_every_axis(rng):
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    for axis in range(-4, 4):
        got = swiftcnn.softmax(x, axis=axis)
        np.testing.assert_allclose(got, R.softmax(x, axis), **TOL)
        np.testing.assert_allclose(got.sum(axis=axis), 1.0, atol=1e-5)
    np.testing.assert_allclose(swiftcnn.softmax(x[0, 0, 0]), R.softmax(x[0, 0, 0]), **TOL)


def test_softmax_is_stable():
    x = np.array([[1000, 1001, 1002], [-1000, -1000, -1000], [3e38, 0, -3e38]], np.float32)
    got = swiftcnn.softmax(x)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got[0], R.softmax(np.array([0, 1, 2.0])), **TOL)
    np.testing.assert_allclose(got[1], [1 / 3] * 3, **TOL)
    np.testing.assert_allclose(got[2], [1, 0, 0], **TOL)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7])
def test_local_response_norm(rng, size):
    x = rng.standard_normal((2, 6, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(swiftcnn.local_response_norm(x, size), R.local_response_norm(x, size), **TOL)
    got = swiftcnn.local_response_norm(x * 10, size, alpha=1e-2, beta=0.5, k=2.0)
    np.testing.assert_allclose(got, R.local_response_norm(x * 10, size, 1e-2, 0.5, 2.0), **TOL)
    x3 = rng.standard_normal((2, 5, 7)).astype(np.float32)       # rank 3 [N, C, L]
    np.testing.assert_allclose(swiftcnn.local_response_norm(x3, size), R.local_response_norm(x3, size), **TOL)


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5), (2, 3, 4, 5)])
def test_batch_norm(rng, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    m = rng.standard_normal(3).astype(np.float32)
    v = (rng.random(3) + 0.1).astype(np.float32)
    w = rng.standard_normal(3).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    np.testing.assert_allclose(swiftcnn.batch_norm(x, m, v, w, b), R.batch_norm(x, m, v, w, b), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(swiftcnn.batch_norm(x, m, v), R.batch_norm(x, m, v), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(swiftcnn.batch_norm(x, m, v, weight=w), R.batch_norm(x, m, v, w), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(swiftcnn.batch_norm(x, m, v, bias=b, eps=0.5), R.batch_norm(x, m, v, None, b, 0.5),
                               rtol=1e-4, atol=1e-5)


def test_linear(rng):
    x = rng.standard_normal((5, 7)).astype(np.float32)
    w = rng.standard_normal((3, 7)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    y = swiftcnn.linear(x, w, b)
    assert y.shape == (5, 3)
    np.testing.assert_allclose(y, R.linear(x, w, b), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(swiftcnn.linear(x, w), R.linear(x, w), rtol=1e-4, atol=1e-4)
    y1 = swiftcnn.linear(x[0], w, b)
    assert y1.shape == (3,)
    np.testing.assert_allclose(y1, R.linear(x[0], w, b), rtol=1e-4, atol=1e-4)


def test_flatten(rng):
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(swiftcnn.flatten(x), x.reshape(2, 60))
    np.testing.assert_array_equal(swiftcnn.flatten(x, 0), x.reshape(120))
    np.testing.assert_array_equal(swiftcnn.flatten(x, 2), x.reshape(2, 3, 20))
    np.testing.assert_array_equal(swiftcnn.flatten(x, -1), x)
    np.testing.assert_array_equal(swiftcnn.flatten(x, 3), x)
    f = swiftcnn.flatten(x)
    f[:] = 0                                     # the result never aliases the input
    assert np.any(x != 0)


def test_dropout_is_identity_at_inference(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    for p in (0.0, 0.5, 0.99):
        y = swiftcnn.dropout(x, p)
        np.testing.assert_array_equal(y, x)
        assert not np.shares_memory(y, x)
    with pytest.raises(swiftcnn.UnsupportedError, match="training"):
        swiftcnn.dropout(x, 0.5, training=True)
    with pytest.raises(NotImplementedError):
        swiftcnn.dropout(x, 0.5, training=True)


def test_concat(rng):
    a = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    b = rng.standard_normal((2, 1, 4, 5)).astype(np.float32)
    c = rng.standard_normal((2, 2, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(swiftcnn.concat([a, b, c]), np.concatenate([a, b, c], axis=1))
    np.testing.assert_array_equal(swiftcnn.concat((a, a), axis=0), np.concatenate([a, a], axis=0))
    np.testing.assert_array_equal(swiftcnn.concat([a, a], axis=-1), np.concatenate([a, a], axis=-1))
    np.testing.assert_array_equal(swiftcnn.concat([a]), a)
    np.testing.assert_array_equal(swiftcnn.concat(iter([a[0], b[0]]), axis=0), np.concatenate([a[0], b[0]]))


def test_add(rng):
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_array_equal(swiftcnn.add(a, b), a + b)
    np.testing.assert_array_equal(swiftcnn.add([1, 2], [3, 4]), [4, 6])


def test_layer_bad_inputs():
    x = np.zeros((2, 3, 4, 4), np.float32)
    c3 = np.ones(3, np.float32)
    cases = [
        (lambda: swiftcnn.softmax(x, axis=4), swiftcnn.InvalidArgumentError, "axis"),
        (lambda: swiftcnn.softmax(x, axis=-5), swiftcnn.InvalidArgumentError, "axis"),
        (lambda: swiftcnn.local_response_norm(x, 0), swiftcnn.InvalidArgumentError, "size"),
        (lambda: swiftcnn.local_response_norm(x[0, 0], 3), LIB_VALUE_ERRORS, "rank|input|shape"),
        (lambda: swiftcnn.batch_norm(x, np.ones(4), c3), swiftcnn.ShapeMismatchError, "mean|3|4"),
        (lambda: swiftcnn.batch_norm(x, c3, c3, weight=np.ones(2)), swiftcnn.ShapeMismatchError, "weight"),
        (lambda: swiftcnn.batch_norm(x, c3, c3, bias=np.ones(5)), swiftcnn.ShapeMismatchError, "bias"),
        (lambda: swiftcnn.batch_norm(x[0, 0, 0], c3, c3), LIB_VALUE_ERRORS, "rank|input|shape"),
        (lambda: swiftcnn.linear(np.ones((2, 5)), np.ones((3, 4))), swiftcnn.ShapeMismatchError, "5|4"),
        (lambda: swiftcnn.linear(np.ones((2, 4)), np.ones((3, 4)), np.ones(2)), swiftcnn.ShapeMismatchError, "bias"),
        (lambda: swiftcnn.linear(np.ones((2, 4)), np.ones(4)), LIB_VALUE_ERRORS, "weight"),
        (lambda: swiftcnn.flatten(x, 4), swiftcnn.InvalidArgumentError, "axis"),
        (lambda: swiftcnn.dropout(x, 1.0), swiftcnn.InvalidArgumentError, "p"),
        (lambda: swiftcnn.dropout(x, -0.1), swiftcnn.InvalidArgumentError, "p"),
        (lambda: swiftcnn.dropout(x, float("nan")), swiftcnn.InvalidArgumentError, "p"),
        (lambda: swiftcnn.concat([]), swiftcnn.InvalidArgumentError, "count|empty|at least|no "),
        (lambda: swiftcnn.concat([x, np.zeros((2, 3, 4, 5), np.float32)]), swiftcnn.ShapeMismatchError, "shape"),
        (lambda: swiftcnn.concat([x, np.zeros((2, 3, 4), np.float32)]), LIB_VALUE_ERRORS, "rank|shape"),
        (lambda: swiftcnn.concat([x, x], axis=4), swiftcnn.InvalidArgumentError, "axis"),
        (lambda: swiftcnn.add(x, np.zeros((2, 3, 4, 5), np.float32)), swiftcnn.ShapeMismatchError,
         r"\[2, 3, 4, 4\].*\[2, 3, 4, 5\]"),
    ]
    for call, exc, fragment in cases:
        with pytest.raises(exc, match=f"(?i){fragment}") as info:
            call()
        assert isinstance(info.value, ValueError) and isinstance(info.value, swiftcnn.SwiftCNNError)


def test_layer_bad_python_arguments():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(TypeError, match="axis"):
        swiftcnn.softmax(x, axis=1.0)
    with pytest.raises(TypeError, match="tensors"):
        swiftcnn.concat(5)
    with pytest.raises(TypeError, match=r"tensors\[1\]"):
        swiftcnn.concat([x, np.array(["a", "b"])])
    with pytest.raises(TypeError, match="dtype"):
        swiftcnn.relu(np.array([1 + 1j]))
    with pytest.raises(TypeError, match="dtype"):
        swiftcnn.relu(np.array([True]))
    with pytest.raises(TypeError, match="dtype"):
        swiftcnn.relu("abc")
    with pytest.raises(TypeError):
        swiftcnn.relu(None)
    with pytest.raises(swiftcnn.InvalidArgumentError, match="rank"):
        swiftcnn.relu(3.0)
    with pytest.raises(swiftcnn.InvalidArgumentError, match="rank"):
        swiftcnn.relu(np.zeros((1, 1, 1, 1, 1)))
    with pytest.raises(swiftcnn.InvalidArgumentError, match="dimension"):
        swiftcnn.relu(np.zeros((2, 0)))
    with pytest.raises(OverflowError):
        swiftcnn.softmax(x, axis=1 << 40)
