"""Shared helpers for the swiftcnn tests.

Functions whose C entry points are not in the header the extension was built against are
compiled as stubs (listed in swiftcnn._swiftcnn.MISSING); tests of them are skipped, and
test_core.py::test_every_c_function_is_available fails until they exist.
"""
import re

import numpy as np
import pytest

import swiftcnn
from swiftcnn import _swiftcnn


def requires(*c_functions):
    """Skip a test when any of the named scnn_* functions is missing from this build."""
    missing = [f for f in c_functions if f in _swiftcnn.MISSING]
    return pytest.mark.skipif(bool(missing), reason="not in this libswiftcnn yet: " + ", ".join(missing))


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
