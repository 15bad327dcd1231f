"""File names reach the library as the caller's exact bytes, whatever their Python type.

Every path-taking call (Model.save / Model.load, Optimizer.save_checkpoint /
load_checkpoint, write_safetensors / read_safetensors) accepts str, bytes and os.PathLike
(returning str or bytes). A str is encoded as os.fsencode does (the filesystem encoding with
surrogateescape), so a name that is not valid UTF-8 -- given as bytes, as a surrogate-escaped
str or as a pathlib.Path of one -- creates exactly those bytes on disk and loads back.
"""
import os
import pathlib

import numpy as np
import pytest

import swiftcnn
from swiftcnn import models, optim


class BytesPath:
    """An os.PathLike whose __fspath__ returns bytes (pathlib.Path only returns str)."""

    def __init__(self, raw):
        self.raw = raw

    def __fspath__(self):
        return self.raw


NAMES = {
    "ascii": b"w.safetensors",
    "utf-8": "w\u00e9\u2603.safetensors".encode("utf-8"),
    "not utf-8": b"w\xff\xfe.safetensors",
}
FORMS = {
    "str": os.fsdecode,
    "bytes": lambda raw: raw,
    "pathlib.Path": lambda raw: pathlib.Path(os.fsdecode(raw)),
    "PathLike of bytes": BytesPath,
}


def _model_roundtrip(path):
    m = models.create("lenet5")
    m.reset_parameters(seed=3)
    m.save(path)
    again = models.create("lenet5")
    again.load(path)
    return m.state_dict(), again.state_dict()


def _checkpoint_roundtrip(path):
    m = models.create("lenet5")
    opt = optim.SGD(m, lr=0.1, momentum=0.9)
    x = models.seeded_tensor("x", (4, 1, 32, 32))
    m.train_step(x, [0, 1, 2, 3], opt)
    opt.save_checkpoint(path)
    m2 = models.create("lenet5")
    opt2 = optim.SGD(m2, lr=0.1, momentum=0.9)
    opt2.load_checkpoint(path)
    assert opt2.progress == opt.progress
    return m.state_dict(), m2.state_dict()


def _safetensors_roundtrip(path):
    t = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.full(4, -1.5, np.float32)}
    swiftcnn.write_safetensors(path, t)
    return t, {k: swiftcnn.read_safetensors(path, k) for k in t}


OPERATIONS = {"Model.save/load": _model_roundtrip, "checkpoint": _checkpoint_roundtrip,
              "safetensors": _safetensors_roundtrip}


def _check_same(saved, loaded):
    assert list(saved) == list(loaded)
    for k in saved:
        assert loaded[k].dtype == np.float32 and np.array_equal(saved[k], loaded[k]), k


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", NAMES)
def test_save_creates_exactly_the_callers_bytes(tmp_path, operation, form, name, monkeypatch):
    monkeypatch.chdir(tmp_path)
    raw = NAMES[name]
    saved, loaded = OPERATIONS[operation](FORMS[form](raw))
    assert os.listdir(b".") == [raw]
    _check_same(saved, loaded)


@pytest.mark.parametrize("form", FORMS)
def test_absolute_and_nested_paths(tmp_path, form):
    raw = os.fsencode(tmp_path) + b"/d\xff/m\xfe.safetensors"
    os.mkdir(os.path.dirname(raw))
    saved, loaded = _model_roundtrip(FORMS[form](raw))
    assert os.listdir(os.path.dirname(raw)) == [b"m\xfe.safetensors"]
    _check_same(saved, loaded)


@pytest.mark.parametrize("form", FORMS)
def test_load_reads_a_file_named_by_python(tmp_path, form, monkeypatch):
    # The file is created by Python under the exact bytes; the library must find it by them.
    monkeypatch.chdir(tmp_path)
    m = models.create("lenet5")
    m.reset_parameters(seed=5)
    m.save("plain.safetensors")
    raw = b"x\xff.safetensors"
    os.rename(b"plain.safetensors", raw)
    again = models.create("lenet5")
    again.load(FORMS[form](raw))
    _check_same(m.state_dict(), again.state_dict())
    assert swiftcnn.read_safetensors(FORMS[form](raw), "features.0.bias").shape == (6,)


@pytest.mark.parametrize("bad", [None, 3, 1.5, ["w"], object()])
def test_non_paths_raise_type_error(tmp_path, bad):
    m = models.create("lenet5")
    opt = optim.SGD(m, lr=0.1)
    for call in (m.save, m.load, opt.save_checkpoint, opt.load_checkpoint,
                 lambda p: swiftcnn.read_safetensors(p, "a"),
                 lambda p: swiftcnn.write_safetensors(p, {"a": np.ones(2, np.float32)})):
        with pytest.raises(TypeError):
            call(bad)


def test_embedded_nul_raises_value_error(tmp_path):
    m = models.create("lenet5")
    for path in ("w\x00.safetensors", b"w\x00.safetensors"):
        with pytest.raises(ValueError, match="null"):
            m.save(path)
        with pytest.raises(ValueError, match="null"):
            m.load(path)
