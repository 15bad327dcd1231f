"""swiftcnn.ray imports without Ray; its functions then raise a clear ImportError (the Ray
tests themselves are in ../tests_ray, run by make ray-test)."""
import importlib
import sys

import numpy as np
import pytest


def test_swiftcnn_ray_without_ray(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)        # import ray -> ImportError
    monkeypatch.setitem(sys.modules, "ray.data", None)
    sr = importlib.import_module("swiftcnn.ray")
    x = np.zeros((2, 1, 32, 32), np.float32)
    for call in (lambda: sr.predict(x, "lenet5"), lambda: sr.evaluate(x, [0, 1], "lenet5")):
        with pytest.raises(ImportError, match=r"swiftcnn.ray needs Ray: pip install 'swiftcnn\[ray\]'"):
            call()
    # The predictor itself needs no Ray (it is what Ray calls): logits of a float batch.
    out = sr.Predictor("lenet5")({"id": np.array([3, 4]), "image": x})
    assert out["logits"].shape == (2, 10) and list(out["id"]) == [3, 4] and list(out["error"]) == ["", ""]
