"""A PyTorch checkpoint (.pt/.pth) given where a safetensors or model file is expected raises
FormatError naming the file as a PyTorch checkpoint and saying how to convert it, instead of
a header-length error.

The files are made as torch.save makes them, without torch: a zip archive (Python's
zipfile) holding ``archive/data.pkl`` and ``archive/version``, torch.save's layout since
PyTorch 1.6, and a bare pickle of a dict at protocol 2, the legacy format (and protocols 3
to 5, which pickle.dump writes by default).
"""
import io
import os
import pickle
import zipfile

import pytest

import swiftcnn
from swiftcnn import models, optim

HINT = "safetensors.torch.save_file(model.state_dict(), 'x.safetensors')"
STATE = {"conv1.weight": [[0.5, -0.25], [1.0, 2.0]], "conv1.bias": [0.0, 0.1]}


def zip_checkpoint():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps(STATE, protocol=2))
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/version", "3\n")
    return buf.getvalue()


CASES = [("zip", ".pt", zip_checkpoint())] + [
    ("pickle", ".pth", pickle.dumps(STATE, protocol=p)) for p in (2, 3, 4, 5)
]


@pytest.fixture(params=CASES, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(CASES)])
def checkpoint(request, tmp_path):
    kind, ext, data = request.param
    path = tmp_path / f"model{ext}"
    path.write_bytes(data)
    return kind, path, data


def assert_hint(excinfo, kind, path):
    msg = str(excinfo.value)
    assert f"is a PyTorch {kind} checkpoint" in msg, msg
    assert HINT in msg, msg
    assert "header length" not in msg, msg
    if path is not None:
        assert os.fspath(path) in msg, msg


def test_zip_starts_as_torch_save_does():
    assert zip_checkpoint()[:4] == b"PK\x03\x04"
    assert pickle.dumps(STATE, protocol=2)[:2] == b"\x80\x02"


def test_model_load_names_the_checkpoint(checkpoint):
    kind, path, _ = checkpoint
    m = models.create("lenet5")
    with pytest.raises(swiftcnn.FormatError) as e:
        m.load(path)
    assert_hint(e, kind, path)
    assert isinstance(e.value, ValueError)


def test_model_open_names_the_checkpoint(checkpoint):
    kind, path, data = checkpoint
    with pytest.raises(swiftcnn.FormatError) as e:
        models.load(path)
    assert_hint(e, kind, path)
    with pytest.raises(swiftcnn.FormatError) as e:
        models.Model.open_bytes(data)
    assert_hint(e, kind, None)


def test_read_safetensors_and_checkpoint_name_it(checkpoint):
    kind, path, _ = checkpoint
    with pytest.raises(swiftcnn.FormatError) as e:
        swiftcnn.read_safetensors(path, "conv1.weight")
    assert_hint(e, kind, path)
    m = models.create("lenet5")
    opt = optim.SGD(m, lr=0.1)
    with pytest.raises(swiftcnn.FormatError) as e:
        opt.load_checkpoint(path)
    assert_hint(e, kind, path)


def test_other_bad_files_keep_their_messages(tmp_path):
    path = tmp_path / "junk.safetensors"
    path.write_bytes(b"\xff" * 16)
    with pytest.raises(swiftcnn.FormatError) as e:
        models.create("lenet5").load(path)
    assert "PyTorch" not in str(e.value) and "header length" in str(e.value)
