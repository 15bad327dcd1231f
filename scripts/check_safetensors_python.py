#!/usr/bin/env python3
"""Checks that safetensors files written by swiftcnn load in the real Python package.

Not run by CI (it needs the `safetensors` package). Usage:

    python3 -m venv "$STENV" && "$STENV"/bin/pip install safetensors numpy   # STENV: any scratch folder
    "$STENV"/bin/python scripts/check_safetensors_python.py [FILE ...]

With no arguments it checks Tests/SwiftCNNTests/Fixtures/swift_written.safetensors, which
SafeTensorsTests.testSwiftWrittenFixtureIsStable keeps byte-identical to what
SafeTensorsFile.serialize produces (SWIFTCNN_REGENERATE_FIXTURES=1 swift test ... rewrites
it): every value and the metadata must match SafeTensorsTests.swiftWrittenContent(), and
the package's own serializer, given the same content, must produce the same bytes. Any other FILE given is loaded with both the numpy and the raw API and its
tensors listed.
"""
import os
import sys

import numpy as np
import safetensors
from safetensors.numpy import load_file, save

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "Tests", "SwiftCNNTests", "Fixtures", "swift_written.safetensors")


def expected():
    """Mirror of SafeTensorsTests.swiftWrittenContent()."""
    f32 = np.float32
    tensors = [
        ("bn.running_var", np.array([1, 2, 3, 4], dtype=f32).reshape(2, 2, 1)),
        ("conv1.bias", np.array([-1.5, 0, 0.25, 1e-3], dtype=f32)),
        ("conv1.weight", (np.arange(36, dtype=np.float64) * 0.05 - 0.9).astype(f32).reshape(4, 1, 3, 3)),
        ("fc.bias", np.array([np.inf, -0.0, np.finfo(f32).max], dtype=f32)),
        ("fc.weight", (np.arange(12, dtype=np.float64) * -0.125 + 0.5).astype(f32).reshape(3, 4)),
    ]
    metadata = {"note": "swiftcnn: quote \" backslash \\ é"}
    return tensors, metadata


def check_fixture(path):
    tensors, metadata = expected()
    loaded = load_file(path)
    assert sorted(loaded) == sorted(n for n, _ in tensors), sorted(loaded)
    for name, want in tensors:
        got = loaded[name]
        assert got.dtype == np.float32 and got.shape == want.shape, (name, got.dtype, got.shape)
        assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), name  # bit-exact, -0 included
    with safetensors.safe_open(path, framework="numpy") as f:
        assert f.metadata() == metadata, f.metadata()
    # The package's own serializer, given the same content, writes the same bytes.
    ours = open(path, "rb").read()
    theirs = save(dict(tensors), metadata=metadata)
    assert ours == theirs, (ours[:200], theirs[:200])
    print(f"{path}: {len(ours)} bytes; tensors (bit-exact) and metadata load in safetensors "
          f"{safetensors.__version__}, and its own serialization of the same content is byte-identical")


def main(argv):
    paths = argv[1:]
    if not paths:
        check_fixture(FIXTURE)
        return 0
    for p in paths:
        d = load_file(p)
        with safetensors.safe_open(p, framework="numpy") as f:
            print(p, "metadata:", f.metadata())
        for k, v in d.items():
            print(f"  {k}: {v.dtype} {list(v.shape)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
