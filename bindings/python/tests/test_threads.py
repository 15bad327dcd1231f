"""swiftcnn.set_num_threads / get_num_threads: round trip, bad values, and results that do
not depend on the thread count (bitwise)."""
import numpy as np
import pytest

import swiftcnn


def test_thread_count_round_trip_and_identical_results():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 16, 20, 18)).astype(np.float32)
    w = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
    old = swiftcnn.get_num_threads()
    assert old >= 1
    try:
        swiftcnn.set_num_threads(1)
        assert swiftcnn.get_num_threads() == 1
        one = np.asarray(swiftcnn.conv2d(x, w, padding=1))
        swiftcnn.set_num_threads(2)
        assert swiftcnn.get_num_threads() == 2
        two = np.asarray(swiftcnn.conv2d(x, w, padding=1))
        assert np.array_equal(one.view(np.uint32), two.view(np.uint32))
        with pytest.raises(ValueError, match="thread"):
            swiftcnn.set_num_threads(-1)
        swiftcnn.set_num_threads(0)
        assert swiftcnn.get_num_threads() >= 1
    finally:
        swiftcnn.set_num_threads(old)
