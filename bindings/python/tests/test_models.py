"""swiftcnn.models: the model zoo through Python (issue 3).

- parameter counts (issue 3's numbers) and summary totals for every model;
- parity with the committed PyTorch fixtures (Tests/fixtures/zoo) for all 20 models: the
  weights are built independently in numpy by scripts/weightgen.py, loaded with
  load_state_dict, and the logits compared with max|diff| <= 1e-4 * max|logit|;
- the real torch LeNet-5 state_dict file loads with Model.load and reproduces torch's logits;
- state_dict / save / load round trips, atomic save, strict loading errors, malformed
  safetensors files (never a crash), bad inputs to model(x).

The safetensors files of these tests are read and written by the small independent reader and
writer below (json + numpy), never by the library under test.
"""
import importlib.util
import json
import math
import os
import struct
import subprocess
import sys
import textwrap
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

import swiftcnn
from swiftcnn import models

REPO = Path(__file__).resolve().parents[3]
ZOO = REPO / "Tests" / "fixtures" / "zoo"


def _load_weightgen():
    spec = importlib.util.spec_from_file_location("weightgen", REPO / "scripts" / "weightgen.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


weightgen = _load_weightgen()

# Issue 3's counts (num_classes 1000; the LeNets 10). The _bn VGGs: torchvision's.
COUNTS = OrderedDict([
    ("lenet5", 61_706), ("lenet5_original", 60_000),
    ("alexnet", 61_100_840), ("alexnet_lrn", 62_378_344),
    ("vgg11", 132_863_336), ("vgg11_lrn", 132_863_336), ("vgg13", 133_047_848),
    ("vgg16_c", 133_638_952), ("vgg16", 138_357_544), ("vgg19", 143_667_240),
    ("vgg11_bn", 132_868_840), ("vgg13_bn", 133_053_736), ("vgg16_bn", 138_365_992),
    ("vgg19_bn", 143_678_248),
    ("googlenet", 6_624_904),
    ("resnet18", 11_689_512), ("resnet34", 21_797_672), ("resnet50", 25_557_032),
    ("resnet101", 44_549_160), ("resnet152", 60_192_808),
])
LENETS = ("lenet5", "lenet5_original")
# Detectors (output [N, boxes, 4 + classes]; parity in test_detection.py), after the classifiers.
DETECTOR_COUNTS = OrderedDict([("ssd300_vgg16", 35_641_826), ("ssdlite320_mobilenet_v3_large", 3_440_060)])
KNOWN_GMACS = {"alexnet": 0.71, "vgg16": 15.5, "resnet18": 1.82, "resnet50": 4.11, "googlenet": 1.5}


# ---- an independent safetensors reader / writer -----------------------------------------

_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64}


def st_read(path):
    """(OrderedDict name -> array, metadata) of a safetensors file, in header order."""
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n], object_pairs_hook=OrderedDict)
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = OrderedDict()
    for name, info in header.items():
        b, e = info["data_offsets"]
        if info["dtype"] == "BF16":
            raw = np.frombuffer(data[base + b:base + e], dtype="<u2").astype(np.uint32) << 16
            arr = raw.view(np.float32)
        else:
            arr = np.frombuffer(data[base + b:base + e], dtype=np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<"))
        out[name] = arr.reshape(info["shape"])
    return out, meta


def st_bytes(tensors, metadata=None, dtype="F32", header_edit=None, pad_header=True):
    """A safetensors file as bytes. tensors: iterable of (name, array). dtype: F32, F16, BF16
    or F64 for every tensor. header_edit(header_dict) may corrupt the header before writing."""
    header = OrderedDict()
    if metadata:
        header["__metadata__"] = dict(metadata)
    chunks, offset = [], 0
    for name, arr in tensors:
        a = np.ascontiguousarray(arr, dtype=np.float32)
        if dtype == "F32":
            raw = a.astype("<f4").tobytes()
        elif dtype == "F16":
            raw = a.astype("<f2").tobytes()
        elif dtype == "F64":
            raw = a.astype("<f8").tobytes()
        elif dtype == "BF16":
            raw = (a.view(np.uint32) >> 16).astype("<u2").tobytes()  # truncation: exact for these values
        else:
            raise ValueError(dtype)
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if header_edit is not None:
        header_edit(header)
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad_header:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def rel_diff(got, want):
    return float(np.max(np.abs(got.astype(np.float64) - want))) / float(np.max(np.abs(want)))


# ---- names, constructors, counts, summaries -------------------------------------------

def test_names_and_constructors():
    # The issue-12 names (segmentation, the lecture's variants, ...) are tested in their own files.
    assert [n for n in models.names() if n in COUNTS] == list(COUNTS)
    for name, count in DETECTOR_COUNTS.items():
        assert models.create(name).num_parameters == count
        assert models.default_num_classes(name) == 91
    stub = (Path(models.__file__).with_suffix(".pyi")).read_text()
    for name in COUNTS:
        fn = getattr(models, name)
        assert callable(fn) and fn.__name__ == name and name in models.__all__
        assert f"def {name}(num_classes: Optional[int] = ...) -> Model: ..." in stub
        assert models.default_num_classes(name) == (10 if name in LENETS else 1000)
    m = models.lenet5_original()
    assert isinstance(m, models.Model) and m.name == "lenet5_original" and m.num_classes == 10
    assert models.create("googlenet").num_classes == 1000


@pytest.mark.parametrize("name", list(COUNTS))
def test_parameter_count_and_summary(name):
    m = models.create(name)
    assert m.num_parameters == COUNTS[name]
    assert m.num_classes == (10 if name in LENETS else 1000)
    # the state dict's trainable entries add up to the count
    sd = m._state_dict()
    assert sum(np.asarray(t).size for _, t, is_buffer in sd if not is_buffer) == COUNTS[name]
    text = m.summary()
    total = int(next(line for line in text.splitlines() if line.startswith("Total params:"))
                .split(":")[1].replace(",", ""))
    assert total == COUNTS[name]
    assert f"Model: {name}" in text
    for column in ("Output shape", "Param #", "MACs", "Receptive field"):
        assert column in text
    # the per-layer columns add up to the totals
    lines = text.splitlines()
    rules = [i for i, line in enumerate(lines) if line.startswith("====")]
    rows = lines[rules[1] + 1:rules[2]]
    assert len(rows) >= 8
    params = macs = 0
    for row in rows:
        cells = row[row.index("]") + 1:].split()
        params += int(cells[0].replace(",", ""))
        macs += int(cells[1].replace(",", ""))
    assert params == COUNTS[name]
    total_macs = int(next(line for line in lines if line.startswith("Total MACs per example:"))
                     .split(":")[1].replace(",", ""))
    assert macs == total_macs
    if name in KNOWN_GMACS:  # the figures commonly quoted for torchvision's models (ptflops & co.)
        assert abs(total_macs / 1e9 - KNOWN_GMACS[name]) <= 0.03 * KNOWN_GMACS[name]
    # input_shape is the design input with batch 1; the model takes it
    n, c, h, w = m.input_shape
    assert n == 1 and c == (1 if name in LENETS else 3)
    assert (h, w) == ((32, 32) if name in LENETS else (227, 227) if name == "alexnet_lrn" else (224, 224))
    assert m.output_shape((5, c, h, w)) == (5, m.num_classes)


def test_num_classes_configurable():
    m = models.resnet18(num_classes=7)
    assert m.num_classes == 7
    assert m.num_parameters == COUNTS["resnet18"] - 513 * 1000 + 513 * 7
    assert m(np.zeros((2, 3, 64, 64), np.float32)).shape == (2, 7)
    assert models.create("lenet5", 3)(np.zeros((1, 1, 32, 32), np.float32)).shape == (1, 3)
    assert models.lenet5_original(num_classes=4).num_parameters == 60_000 - 10 * 0  # RBF codes are not parameters
    assert models.vgg16(num_classes=1).num_parameters == COUNTS["vgg16"] - 4097 * 999
    with pytest.raises(ValueError, match="num_classes"):
        models.create("resnet18", 0)
    with pytest.raises(TypeError):
        models.create("resnet18", 2.5)
    with pytest.raises(ValueError, match="(?s)unknown model.*resnet50"):
        models.create("resnet5")
    with pytest.raises(TypeError):
        models.create(None)


def test_summary_with_input_shape():
    m = models.resnet18()
    text = m.summary((2, 3, 64, 64))
    assert "[2, 1000]" in text and "[2, 64, 16, 16]" in text
    assert "Total params: 11,689,512" in text
    with pytest.raises(ValueError, match=r"\[N, 3"):
        m.summary((2, 1, 64, 64))
    with pytest.raises(ValueError):
        m.summary((2, 3, 64))


def test_macs():
    # LeNet-5 by hand: conv 1->6 5x5 at 28x28, conv 6->16 5x5 at 10x10, conv 16->120 5x5 at
    # 1x1, linear 120->84, linear 84->10.
    want = 6 * 25 * 28 * 28 + 16 * 6 * 25 * 10 * 10 + 120 * 16 * 25 + 120 * 84 + 84 * 10
    m = models.create("lenet5")
    assert m.macs() == want == 416_520
    assert m.macs((8, 1, 32, 32)) == want  # per example
    # ResNet-18 at 64x64: every conv's MACs scale with its output area, 1/(224/64)^2 of the
    # 224x224 count; the fc layer (512 x 1000) does not.
    r = models.resnet18()
    fc = 512 * 1000
    assert (r.macs() - fc) * 64 * 64 == (r.macs((1, 3, 64, 64)) - fc) * 224 * 224
    with pytest.raises(ValueError):
        m.macs((1, 1, 28, 28))
    with pytest.raises(ValueError):
        m.macs((1, 1, 32))


def test_workspace_bytes():
    # LeNet-5 at batch 1 holds at least its largest live pair of activations (conv1's
    # 6x28x28 output, read by the pooling that writes 6x14x14), well under a MiB; batch 8
    # needs more; a shape the model does not take is a ValueError.
    m = models.create("lenet5")
    one = m.workspace_bytes()
    assert 4 * (6 * 28 * 28 + 6 * 14 * 14) <= one < 1 << 20
    assert m.workspace_bytes((1, 1, 32, 32)) == one
    assert m.workspace_bytes((8, 1, 32, 32)) > one
    x = np.random.default_rng(0).standard_normal((1, 1, 32, 32)).astype(np.float32)
    np.testing.assert_array_equal(m(x), m(x))  # forwards after planning agree
    with pytest.raises(ValueError):
        m.workspace_bytes((1, 1, 28, 28))
    with pytest.raises(ValueError):
        m.workspace_bytes((1, 1, 32))


def test_imagenet_classes():
    labels = swiftcnn.imagenet_classes()
    assert isinstance(labels, list) and len(labels) == 1000
    assert all(isinstance(s, str) and s for s in labels)
    assert labels[0] == "tench" and labels[207] == "golden retriever"
    labels.append("x")
    assert len(swiftcnn.imagenet_classes()) == 1000  # a new list each call


def test_seeded_tensor_matches_weightgen():
    for name, shape, lo, hi, seed in [("input", (2, 1, 32, 32), -1, 1, 0), ("input", (4,), -1, 1, 1),
                                      ("x", (3, 5), -0.25, 2.0, 99)]:
        got = models.seeded_tensor(name, shape, lo, hi, seed)
        u = weightgen.uniform01(name, math.prod(shape), seed)
        want = (np.float32(lo) + np.float32(hi - lo) * u).reshape(shape)
        np.testing.assert_array_equal(got.view(np.uint32), want.astype(np.float32).view(np.uint32))


def test_new_model_holds_generator_weights():
    m = models.googlenet()
    for key, value in m.state_dict().items():
        np.testing.assert_array_equal(value, weightgen.generate(key, value.shape), err_msg=key)


# ---- parity with the PyTorch fixtures ---------------------------------------------------

@pytest.mark.parametrize("name", list(COUNTS))
def test_fixture_parity(name):
    tensors, meta = st_read(ZOO / f"{name}.safetensors")
    want = tensors["logits"].astype(np.float64)
    m = models.create(name)
    m.reset_parameters(seed=1)  # start from other weights: the numbers must come from load_state_dict
    shapes = [(k, v.shape) for k, v in m.state_dict().items()]
    weights = weightgen.fill_state_dict(shapes, seed=0)
    # the generator agrees with the one that made the fixture
    for key, s in json.loads(meta["weight_checksums"]).items():
        assert math.isclose(math.fsum(weights[key].astype(np.float64).ravel()), s, rel_tol=1e-9, abs_tol=1e-9), key
    # ... and so does the order: the fixture's probe lists the first three keys in torch's order
    assert list(weights)[:3] == list(json.loads(meta["weight_checksums"]))
    m.load_state_dict(weights)
    got_sd = m.state_dict()
    assert list(got_sd) == list(weights)
    for key in weights:  # bit for bit (np.array_equal: assert_array_equal is slow on 10^8 elements)
        assert got_sd[key].shape == weights[key].shape and np.array_equal(got_sd[key], weights[key]), key
    del got_sd
    shape = tuple(int(d) for d in meta["input_shape"].split(","))
    x = weightgen.model_input(shape)
    s, ss = (float(v) for v in meta["input_checksum"].split(","))
    assert math.isclose(math.fsum(x.astype(np.float64).ravel()), s, rel_tol=1e-9)
    assert math.isclose(math.fsum((x.astype(np.float64) ** 2).ravel()), ss, rel_tol=1e-9)
    got = m(x)
    assert got.shape == want.shape and got.dtype == np.float32
    assert rel_diff(got, want) <= 1e-4, f"{name}: max|diff| / max|logit| = {rel_diff(got, want):.3g}"


def test_torch_lenet5_file():
    expected, _ = st_read(ZOO / "lenet5_torch_expected.safetensors")
    m = models.lenet5()
    m.load(ZOO / "lenet5_torch.safetensors")
    x = expected["input"]
    np.testing.assert_array_equal(x, weightgen.model_input((4, 1, 32, 32)))
    got = m(x)
    want = expected["logits"].astype(np.float64)
    assert rel_diff(got, want) <= 1e-4
    assert np.max(np.abs(got - want)) <= 1e-5  # a small net: far tighter in fact
    # the loaded weights are the file's, bit for bit
    file_tensors, _ = st_read(ZOO / "lenet5_torch.safetensors")
    sd = m.state_dict()
    assert sorted(sd) == sorted(file_tensors)
    for key, value in file_tensors.items():
        np.testing.assert_array_equal(sd[key], value)
    # and through load_state_dict as well
    m2 = models.lenet5()
    m2.load_state_dict(file_tensors)
    np.testing.assert_array_equal(m2(x), got)


# ---- round trips ---------------------------------------------------------------------------

def test_state_dict_round_trip():
    a = models.resnet18(num_classes=10)
    a.reset_parameters(seed=5)
    sd = a.state_dict()
    assert isinstance(sd, OrderedDict)
    assert list(sd)[:5] == ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var"]
    assert list(sd)[-2:] == ["fc.weight", "fc.bias"]
    assert all(v.dtype == np.float32 for v in sd.values())
    assert "layer2.0.downsample.1.running_var" in sd
    assert a.parameter_names() == list(sd)
    assert len(a.parameter_names(buffers=False)) == len(sd) - 2 * 20  # 20 batch norms
    b = models.resnet18(num_classes=10)
    x = weightgen.model_input((2, 3, 64, 64))
    assert not np.array_equal(a(x), b(x))
    b.load_state_dict(sd)
    np.testing.assert_array_equal(a(x), b(x))
    # the arrays are copies: changing them does not change the model
    before = a(x)
    sd["conv1.weight"][...] = 0
    np.testing.assert_array_equal(a(x), before)
    # other real dtypes and non-contiguous arrays are converted
    sd2 = {k: np.asfortranarray(v.astype(np.float64)) for k, v in a.state_dict().items()}
    c = models.resnet18(num_classes=10)
    c.load_state_dict(sd2)
    np.testing.assert_array_equal(c(x), before)


def test_save_load_round_trip(tmp_path):
    a = models.googlenet(num_classes=5)
    a.reset_parameters(seed=9)
    path = tmp_path / "g.safetensors"
    a.save(path)
    tensors, _ = st_read(path)
    sd = a.state_dict()
    assert list(tensors) == list(sd)  # PyTorch's names and order, float32
    assert not any(k.endswith("num_batches_tracked") for k in tensors)
    for k in sd:
        assert tensors[k].dtype == np.float32
        np.testing.assert_array_equal(tensors[k], sd[k])
    b = models.googlenet(num_classes=5)
    b.load(str(path))
    x = weightgen.model_input((1, 3, 96, 96))
    np.testing.assert_array_equal(a(x), b(x))
    # bytes paths too; and saving again over the file replaces it
    a.reset_parameters(seed=10)
    a.save(os.fsencode(path))
    b.load(path)
    np.testing.assert_array_equal(a(x), b(x))
    assert sorted(os.listdir(tmp_path)) == ["g.safetensors"]  # no temporary file left


def test_save_errors_leave_existing_file(tmp_path):
    m = models.lenet5()
    with pytest.raises(OSError, match="nonexistent"):
        m.save(tmp_path / "nonexistent" / "x.safetensors")
    with pytest.raises(swiftcnn.SwiftCNNIOError):
        m.save(tmp_path)  # a directory
    assert tmp_path.is_dir()
    # A write that fails midway (file size limit: EFBIG) leaves the old file as it was.
    target = tmp_path / "old.safetensors"
    target.write_bytes(b"old contents")
    script = textwrap.dedent(f"""
        import resource, signal, sys
        from swiftcnn import models
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        m = models.lenet5()
        resource.setrlimit(resource.RLIMIT_FSIZE, (100000, 100000))   # lenet5 needs ~247 KB
        try:
            m.save({str(target)!r})
        except OSError as e:
            print("OSError", e)
            sys.exit(0)
        sys.exit(3)
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OSError" in r.stdout and "old.safetensors" in r.stdout
    assert target.read_bytes() == b"old contents"
    assert sorted(os.listdir(tmp_path)) == ["old.safetensors"]


# ---- strict loading ------------------------------------------------------------------------

def test_strict_load_state_dict_errors():
    m = models.resnet18(num_classes=4)
    sd = m.state_dict()
    x = weightgen.model_input((1, 3, 32, 32))
    before = m(x)
    other = {k: v + 1 for k, v in sd.items()}

    d = dict(other)
    del d["layer1.0.bn2.running_mean"]
    with pytest.raises(swiftcnn.ShapeMismatchError, match='missing key "layer1.0.bn2.running_mean"'):
        m.load_state_dict(d)
    d = dict(other, **{"layer9.weight": np.zeros(3, np.float32)})
    with pytest.raises(ValueError, match='unexpected key "layer9.weight"'):
        m.load_state_dict(d)
    d = dict(other, **{"fc.weight": np.zeros((4, 256), np.float32)})
    with pytest.raises(ValueError, match=r"fc\.weight.*\[4, 512\].*\[4, 256\]"):
        m.load_state_dict(d)
    np.testing.assert_array_equal(m(x), before)  # every failure left the model unchanged

    # num_batches_tracked entries (0-d int64, as torch has them) are ignored
    d = dict(other, **{"bn1.num_batches_tracked": np.array(7, np.int64),
                       "layer1.0.bn1.num_batches_tracked": np.array(0)})
    m.load_state_dict(d)
    assert not np.array_equal(m(x), before)

    # strict=False: missing and unexpected keys are ignored, shapes still checked
    m.load_state_dict({"fc.bias": np.zeros(4, np.float32), "nonsense": np.zeros(2, np.float32)}, strict=False)
    np.testing.assert_array_equal(m.state_dict()["fc.bias"], np.zeros(4, np.float32))
    with pytest.raises(ValueError, match=r"fc\.bias.*\[4\].*\[5\]"):
        m.load_state_dict({"fc.bias": np.zeros(5, np.float32)}, strict=False)

    with pytest.raises(TypeError):
        m.load_state_dict({1: np.zeros(4, np.float32)})
    with pytest.raises(TypeError, match="fc.bias"):
        m.load_state_dict({"fc.bias": np.zeros(4, np.complex64)}, strict=False)
    with pytest.raises(TypeError):
        m.load_state_dict([("fc.bias", np.zeros(4))])
    with pytest.raises(ValueError, match="fc.bias"):
        m.load_state_dict({"fc.bias": np.zeros(())}, strict=False)


def _lenet_file_tensors():
    return list(models.lenet5().state_dict().items())


def test_strict_load_file_errors(tmp_path):
    tensors = _lenet_file_tensors()
    m = models.lenet5()
    path = tmp_path / "w.safetensors"

    path.write_bytes(st_bytes(tensors[:-1]))
    with pytest.raises(ValueError, match="classifier.2.bias"):
        m.load(path)
    path.write_bytes(st_bytes(tensors + [("extra.weight", np.zeros((2, 2), np.float32))]))
    with pytest.raises(ValueError, match="extra.weight"):
        m.load(path)
    bad = [(k, np.zeros((6, 1, 3, 3), np.float32) if k == "features.0.weight" else v) for k, v in tensors]
    path.write_bytes(st_bytes(bad))
    with pytest.raises(ValueError, match=r"features\.0\.weight.*\[6, 1, 5, 5\].*\[6, 1, 3, 3\]"):
        m.load(path)


@pytest.mark.parametrize("dtype", ["F16", "BF16", "F64"])
def test_load_converts_dtypes(tmp_path, dtype):
    tensors = _lenet_file_tensors()
    path = tmp_path / f"w_{dtype}.safetensors"
    path.write_bytes(st_bytes(tensors, dtype=dtype, metadata={"format": "pt"}))
    m = models.lenet5()
    m.reset_parameters(seed=3)
    m.load(path)
    want, _ = st_read(path)
    sd = m.state_dict()
    for k, v in want.items():
        np.testing.assert_array_equal(sd[k], v.astype(np.float32), err_msg=k)


# ---- malformed files -------------------------------------------------------------------

def _duplicate_key_file(t):
    data = st_bytes(t)
    (hlen,) = struct.unpack("<Q", data[:8])
    text = data[8:8 + hlen].replace(b'"features.0.bias"', b'"features.0.weight"')
    return struct.pack("<Q", len(text)) + text + data[8 + hlen:]


def _malformed_cases():
    t = [("features.0.weight", np.ones((6, 1, 5, 5), np.float32)), ("features.0.bias", np.ones(6, np.float32))]
    good = st_bytes(t)
    (hlen,) = struct.unpack("<Q", good[:8])

    def edit(fn):
        return st_bytes(t, header_edit=fn)

    def set_field(name, field, value):
        def f(h):
            h[name][field] = value
        return f

    cases = {
        "empty file": b"",
        "shorter than the length field": b"\x10\x00\x00",
        "truncated data": good[:-7],
        "truncated header": good[:8 + hlen // 2],
        "header length larger than the file": struct.pack("<Q", len(good)) + good[8:],
        "header length 2^63": struct.pack("<Q", 1 << 63) + good[8:],
        "header length 0": struct.pack("<Q", 0) + good[8:],
        "header length 1": struct.pack("<Q", 1) + good[8:],
        "bad JSON": struct.pack("<Q", 16) + b'{"a": [1, 2,, }' + b" " + good[8 + hlen:],
        "header not an object": struct.pack("<Q", 8) + b"[1,2,3] " + good[8 + hlen:],
        "invalid UTF-8": struct.pack("<Q", 8) + b'{"\xff":1} ' + good[8 + hlen:],
        "offsets out of range": edit(set_field("features.0.bias", "data_offsets", [600, 624 + 10 ** 6])),
        "offsets begin > end": edit(set_field("features.0.bias", "data_offsets", [624, 600])),
        "negative offset": edit(set_field("features.0.bias", "data_offsets", [-24, 0])),
        "wrong dtype size": edit(set_field("features.0.bias", "dtype", "F16")),
        "shape disagrees with the size": edit(set_field("features.0.bias", "shape", [7])),
        "huge shape": edit(set_field("features.0.bias", "shape", [1 << 40, 1 << 40])),
        "negative dimension": edit(set_field("features.0.bias", "shape", [-6])),
        "overlapping offsets": edit(set_field("features.0.bias", "data_offsets", [576, 600])),
        "missing dtype": edit(lambda h: h["features.0.bias"].pop("dtype")),
        "offsets not integers": edit(set_field("features.0.bias", "data_offsets", [600.5, 624])),
        "unknown dtype": edit(set_field("features.0.bias", "dtype", "Q7")),
        "metadata value not a string": edit(lambda h: h.__setitem__("__metadata__", {"a": 1})),
        "duplicate key": _duplicate_key_file(t),
    }
    return cases


MALFORMED = _malformed_cases()


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_file_raises(tmp_path, case):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(MALFORMED[case])
    m = models.lenet5()
    before = m.state_dict()
    with pytest.raises(swiftcnn.SwiftCNNError) as info:
        m.load(path)
    assert isinstance(info.value, (ValueError, NotImplementedError, OSError))
    # (parse errors say "safetensors: ..." and what is wrong; they do not repeat the path)
    assert len(str(info.value)) > 20 and ("safetensors" in str(info.value) or "bad.safetensors" in str(info.value))
    after = m.state_dict()
    for k in before:
        np.testing.assert_array_equal(after[k], before[k])


def test_missing_and_unreadable_files(tmp_path):
    m = models.lenet5()
    with pytest.raises(OSError, match="No such file"):
        m.load(tmp_path / "absent.safetensors")
    with pytest.raises(swiftcnn.SwiftCNNIOError):
        m.load(tmp_path)
    with pytest.raises(TypeError):
        m.load(3.5)
    with pytest.raises(ValueError):
        m.load("a\0b")


def test_random_corruption_never_crashes(tmp_path):
    """Seeded random byte flips and truncations of a valid file, in a child process: each
    load raises a SwiftCNNError or loads; the process never dies."""
    good = tmp_path / "good.safetensors"
    good.write_bytes(st_bytes(_lenet_file_tensors()))
    script = textwrap.dedent(f"""
        import random
        import swiftcnn
        from swiftcnn import models
        data = open({str(good)!r}, "rb").read()
        hlen = int.from_bytes(data[:8], "little")
        rnd = random.Random(11)
        m = models.lenet5()
        path = {str(tmp_path / "mut.safetensors")!r}
        ok = errors = 0
        for i in range(300):
            b = bytearray(data)
            kind = i % 3
            if kind == 0:
                b = b[:rnd.randrange(len(b))]
            else:
                for _ in range(rnd.randint(1, 6)):
                    # mostly inside the length field and the header, where parsing happens
                    pos = rnd.randrange(8 + hlen) if kind == 1 else rnd.randrange(len(b))
                    b[pos] = rnd.randrange(256)
            open(path, "wb").write(bytes(b))
            try:
                m.load(path)
                ok += 1
            except swiftcnn.SwiftCNNError as e:
                assert str(e)
                errors += 1
        print(ok, errors)
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    ok, errors = (int(v) for v in r.stdout.split())
    assert ok + errors == 300 and errors > 150


# ---- inputs -------------------------------------------------------------------------------

@pytest.mark.parametrize("shape, fragment", [
    ((1, 32, 32), r"expected input \[N, 1, 32, 32\]; got \[1, 32, 32\]"),
    ((1, 1, 1, 32, 32), r"expected input \[N, 1, 32, 32\]"),
    ((2, 3, 32, 32), r"expected input \[N, 1, 32, 32\]; got \[2, 3, 32, 32\]"),
    ((2, 1, 28, 28), r"expected input \[N, 1, 32, 32\]; got \[2, 1, 28, 28\]"),
    ((2, 1, 32, 33), r"\[N, 1, 32, 32\]"),
])
def test_lenet_bad_input_shapes(shape, fragment):
    m = models.lenet5()
    with pytest.raises(swiftcnn.ShapeMismatchError, match=fragment):
        m(np.zeros(shape, np.float32))


def test_bad_inputs():
    r = models.vgg11()
    lo_h, lo_w = r.min_input_size
    assert 1 <= lo_h <= 224
    if lo_h > 1:
        with pytest.raises(ValueError, match=r"\[N, 3"):
            r(np.zeros((1, 3, lo_h - 1, lo_w - 1), np.float32))
    with pytest.raises(ValueError, match=r"\[N, 3, 224, 224\]"):
        r(np.zeros((1, 1, 224, 224), np.float32))
    with pytest.raises(ValueError, match=r"\[N, 3, 224, 224\]"):
        r(np.zeros((3, 224, 224), np.float32))
    a = models.alexnet_lrn()
    with pytest.raises(ValueError, match=r"\[N, 3, 227, 227\]; got \[1, 3, 224, 224\]"):
        a(np.zeros((1, 3, 224, 224), np.float32))
    m = models.lenet5()
    for bad in (np.zeros((1, 1, 32, 32), np.complex64), np.zeros((1, 1, 32, 32), bool),
                np.array([["a"]]), [[object()]]):
        with pytest.raises(TypeError, match=r"lenet5: expected a float32 array \[N, 1, 32, 32\]"):
            m(bad)
    with pytest.raises(ValueError):
        m(np.zeros((0, 1, 32, 32), np.float32))
    with pytest.raises(ValueError):
        m(np.float32(3))


def test_any_batch_and_conversions():
    m = models.resnet18(num_classes=12)
    x = weightgen.model_input((5, 3, 40, 48))
    y = m(x)
    assert y.shape == (5, 12) and y.dtype == np.float32
    for i in range(5):
        np.testing.assert_allclose(m(x[i:i + 1])[0], y[i], rtol=1e-5, atol=1e-5 * np.max(np.abs(y)))
    np.testing.assert_array_equal(m(x.astype(np.float64)), y)              # float64 converted
    np.testing.assert_array_equal(m(np.asfortranarray(x)), y)             # any layout
    np.testing.assert_array_equal(m(x.tolist()), y)                       # nested lists
    np.testing.assert_array_equal(m.forward(x), y)
    big = np.zeros((7, 3, 8, 8), np.int32)
    assert m(big).shape == (7, 12)


def test_forward_releases_the_gil_and_guards_concurrent_changes():
    m = models.resnet18()
    x = weightgen.model_input((4, 3, 224, 224))
    done = threading.Event()
    result = {}

    def work():
        try:
            for _ in range(1000):  # refused while the main thread happens to be changing the weights
                try:
                    result["y"] = m(x)
                    return
                except RuntimeError as e:
                    assert "another thread" in str(e)
        finally:
            done.set()

    t = threading.Thread(target=work)
    t.start()
    ticks = refused = 0
    small = {"fc.bias": np.zeros(1000, np.float32)}
    while not done.is_set():
        ticks += 1
        try:
            m.load_state_dict(small, strict=False)
        except RuntimeError as e:
            assert "another thread" in str(e)
            refused += 1
    t.join()
    assert result["y"].shape == (4, 1000)
    assert ticks > 10          # the main thread ran while the forward pass was computing
    assert refused > 0         # and could not change the weights under it
    # two forward passes at once are fine and agree
    out = [None, None]

    def fwd(i):
        out[i] = m(x[:1])

    ts = [threading.Thread(target=fwd, args=(i,)) for i in range(2)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    np.testing.assert_array_equal(out[0], out[1])


def test_model_methods_fuzz_never_crash():
    script = textwrap.dedent("""
        import random
        import numpy as np
        from swiftcnn import models
        f = np.float32
        pool = [None, 0, -1, 3, 1 << 62, 2.5, "x", b"", "/nonexistent", [1, 2], (1, 1, 32, 32),
                (0, 1, 32, 32), (1, 1, -32, 32), np.zeros((1, 1, 32, 32), f), np.zeros(5, f),
                np.ones((2, 1, 32, 32), np.float64), {"features.0.bias": np.zeros(6, f)},
                {"features.0.bias": None}, {"x": np.zeros(0, f)}, [[1.0]], object()]
        rnd = random.Random(5)
        m = models.lenet5()
        meths = ["__call__", "output_shape", "load", "save", "state_dict", "load_state_dict", "summary",
                 "reset_parameters", "_forward", "_output_shape", "_load", "_summary",
                 "_load_state_dict", "_init_seeded", "parameter_names"]
        calls = 0
        for name in meths:
            fn = getattr(m, name)
            for _ in range(120):
                args = [rnd.choice(pool) for _ in range(rnd.randint(0, 3))]
                if name in ("save",) and args and isinstance(args[0], (str, bytes)):
                    continue  # do not write files into the working directory
                calls += 1
                try:
                    fn(*args)
                except Exception:
                    pass
        for args in [(), ("lenet5", None), ("nope", 3), ("lenet5", 1 << 62), ("lenet5", -5)]:
            try:
                models.Model(*args)
            except Exception:
                pass
        print(calls)
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                       cwd=str(Path(__file__).parent))
    assert r.returncode == 0, r.stderr[-2000:]
    assert int(r.stdout) > 1000
