"""Shared helpers for the swiftcnn tests."""
import numpy as np
import pytest

import swiftcnn


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def raises_lib(exc_type, *fragments):
    """pytest.raises for a library error: the exception is a SwiftCNNError of `exc_type`
    (its built-in parent is checked separately by the caller's choice of type), and its
    message contains every fragment (regular expressions, case-insensitive)."""
    pattern = "(?is)" + "".join(f"(?=.*{f})" for f in fragments)
    return pytest.raises(exc_type, match=pattern)


def f32(a):
    return np.asarray(a, dtype=np.float32)
