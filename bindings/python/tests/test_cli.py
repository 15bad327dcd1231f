"""The ``swiftcnn`` command, run in subprocesses on real image files (PNG and JPEG written with
Pillow from scikit-learn's sample photo and from synthetic arrays)."""
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import swiftcnn
from swiftcnn import image as simage
from swiftcnn import models

Image = pytest.importorskip("PIL.Image", reason="the swiftcnn command reads images with Pillow "
                                                "(pip install Pillow; requirements-dev.txt has it)")

MEAN = np.asarray([0.485, 0.456, 0.406], np.float32)[:, None, None]
STD = np.asarray([0.229, 0.224, 0.225], np.float32)[:, None, None]


def run(*args, check=None, env=None):
    """Runs ``python -m swiftcnn ARGS``; returns (returncode, stdout, stderr)."""
    p = subprocess.run([sys.executable, "-m", "swiftcnn", *map(str, args)], capture_output=True, text=True,
                       timeout=120, env=env)
    if check is not None:
        assert p.returncode == check, f"exit {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    return p.returncode, p.stdout, p.stderr


def assert_one_line_error(rc, out, err, status, *fragments):
    assert rc == status, (rc, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("swiftcnn: error: "), err
    assert "Traceback" not in err
    for f in fragments:
        assert re.search(f, lines[0], re.I), (f, lines[0])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Image files: the sample photo as PNG and as JPEG, a smaller JPEG, a synthetic RGB
    gradient PNG, a grey PNG, an RGBA PNG and a file that is not an image."""
    from sklearn.datasets import load_sample_image
    d = tmp_path_factory.mktemp("cli")
    china = load_sample_image("china.jpg")  # (427, 640, 3) uint8
    Image.fromarray(china).save(d / "china.png")
    Image.fromarray(china).save(d / "china.jpg", quality=92)
    Image.fromarray(np.ascontiguousarray(china[::5, ::5])).save(d / "small.jpg", quality=92)  # 86 x 128
    yy, xx = np.mgrid[0:48, 0:64]
    grad = np.stack([xx * 4, yy * 5, (xx + yy) * 2], axis=2).astype(np.uint8)
    Image.fromarray(grad).save(d / "gradient.png")
    Image.fromarray((xx * 4).astype(np.uint8)).save(d / "grey.png")  # mode L
    rgba = np.concatenate([grad, np.full((48, 64, 1), 200, np.uint8)], axis=2)
    Image.fromarray(rgba).save(d / "rgba.png")
    (d / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n but not really a PNG")
    return d


def pixels(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def imagenet_tensor(pix):
    """The ImageNet preprocessing through the Python API (image.imagenet_preprocess where it
    exists; before it, shorter side 256, centre crop 224, ImageNet mean/std)."""
    if hasattr(simage, "imagenet_preprocess"):
        return np.asarray(simage.imagenet_preprocess(pix), np.float32)[None]
    x = simage.to_tensor(pix)
    _, h, w = x.shape
    size = (256, int(256 * w / h)) if h <= w else (int(256 * h / w), 256)
    if antialias():
        size = 256  # the shorter side
    return ((simage.center_crop(simage.resize(x, size, **antialias()), 224) - MEAN) / STD).astype(np.float32)[None]


def antialias():
    """resize's keywords: antialiased, CHW, where the library has them (issue 14)."""
    import inspect
    params = inspect.signature(simage.resize).parameters
    return {"antialias": True, "layout": "chw"} if "antialias" in params else {}


def chw(fn):
    import inspect
    return {"layout": "chw"} if "layout" in inspect.signature(fn).parameters else {}


def lenet_tensor(pix):
    """LeNet's input: the whole image resized to 32 x 32 (antialiased where the library can), grey."""
    x = simage.resize(simage.to_tensor(pix), (32, 32), **antialias())
    return simage.rgb_to_grayscale(x, **chw(simage.rgb_to_grayscale))[None]


def top(logits, k):
    e = np.exp(logits.astype(np.float64) - logits.max())
    p = e / e.sum()
    order = sorted(range(len(p)), key=lambda j: (-p[j], j))[:k]
    return [(j, p[j]) for j in order]


def parse_classify(out):
    """{image path: [(index, probability, label), ...]} from classify's output."""
    result, cur = {}, None
    for line in out.splitlines():
        m = re.match(r"^  ([0-9.]+)  (.*) \((\d+)\)$", line)
        if m:
            result[cur].append((int(m.group(3)), float(m.group(1)), m.group(2)))
        else:
            assert line.endswith(":"), line
            cur = line[:-1]
            result[cur] = []
    return result


def png_size(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    with Image.open(path) as im:
        im.load()  # decodes the whole file: a broken PNG raises
        assert im.format == "PNG"
        return im.size


# ---- classify ---------------------------------------------------------------------------

def test_classify_resnet18_png_and_jpeg_match_the_python_api(files, tmp_path):
    # A model file with a state dict loaded through --weights on the zoo name and as a file:
    # the same weights two ways.
    m = models.resnet18()
    sd = m.state_dict()
    sd["fc.weight"] = sd["fc.weight"] * np.float32(1e-3)
    m.load_state_dict(sd)
    m.save(tmp_path / "r18.safetensors")
    swiftcnn.write_safetensors(tmp_path / "r18_sd.safetensors", sd)
    _, out, err = run("classify", tmp_path / "r18.safetensors", files / "china.png", files / "china.jpg",
                      "--top", "5", check=0)
    assert err == ""
    got = parse_classify(out)
    classes = swiftcnn.imagenet_classes()
    for name in ("china.png", "china.jpg"):
        path = str(files / name)
        expect = top(m(imagenet_tensor(pixels(path)))[0], 5)
        assert [g[0] for g in got[path]] == [e[0] for e in expect]
        for (j, p, label), (ej, ep) in zip(got[path], expect):
            assert abs(p - ep) < 6e-5 and label == classes[ej]
    _, out2, _ = run("classify", "resnet18", "--weights", tmp_path / "r18_sd.safetensors", files / "china.png",
                     "--top", "5", check=0)
    assert parse_classify(out2)[str(files / "china.png")] == got[str(files / "china.png")]


def test_classify_lenet_grey_preprocessing_and_top1(files):
    m = models.lenet5()
    paths = [files / "china.png", files / "small.jpg", files / "gradient.png", files / "grey.png",
             files / "rgba.png"]
    _, out, _ = run("classify", "lenet5", *paths, "--top", "3", check=0)
    got = parse_classify(out)
    assert len(got) == 5
    tops = set()
    for path in paths:
        expect = top(m(lenet_tensor(pixels(path)))[0], 3)
        rows = got[str(path)]
        assert len(rows) == 3
        assert rows[0][0] == expect[0][0] and abs(rows[0][1] - expect[0][1]) < 6e-5
        assert [r[2] for r in rows] == [f"class {r[0]}" for r in rows]  # 10 classes: no names
        tops.add(round(rows[0][1], 4))
    assert len(tops) > 1  # the images really differ


def test_classify_labels_file(files, tmp_path):
    (tmp_path / "digits.txt").write_text("\n".join(f"digit-{i}" for i in range(10)) + "\n\n")
    _, out, _ = run("classify", "lenet5", files / "grey.png", "--top", "10", "--labels", tmp_path / "digits.txt",
                    check=0)
    rows = parse_classify(out)[str(files / "grey.png")]
    assert sorted(r[0] for r in rows) == list(range(10))
    assert all(r[2] == f"digit-{r[0]}" for r in rows)
    assert abs(sum(r[1] for r in rows) - 1) < 1e-3
    (tmp_path / "three.txt").write_text("a\nb\nc\n")
    assert_one_line_error(*run("classify", "lenet5", files / "grey.png", "--labels", tmp_path / "three.txt"),
                          1, "3 labels", "10 classes")


# ---- summary, detect, segment, show ---------------------------------------------------------

def test_summary_prints_the_models_table():
    _, out, _ = run("summary", "lenet5", check=0)
    assert out.strip() == models.lenet5().summary().strip()
    assert "features.0 (Conv2d)" in out and "[1, 6, 28, 28]" in out
    _, out, _ = run("summary", "lenet5", "--input-shape", "2,1,32,32", check=0)
    assert "[2, 6, 28, 28]" in out


def test_detect_writes_a_png_of_the_image_size(files, tmp_path):
    out_png = tmp_path / "boxes.png"
    _, out, _ = run("detect", "ssdlite320_mobilenet_v3_large", files / "small.jpg", "-o", out_png,
                    "--score-threshold", "0.3", check=0)
    assert png_size(out_png) == (128, 86)
    n = int(re.search(r"^(\d+) detections with score >= 0.3$", out, re.M).group(1))
    expect = models.create("ssdlite320_mobilenet_v3_large").detect([pixels(files / "small.jpg")],
                                                                   score_threshold=0.3)[0]
    assert n == len(expect["labels"])
    names = swiftcnn.coco_classes()
    listed = re.findall(r"^  ([0-9.]+)  (.+)  \[", out, re.M)
    assert [name for _, name in listed] == [names[int(label)] for label in expect["labels"]]


def test_segment_writes_a_png_over_the_image(files, tmp_path):
    out_png = tmp_path / "labels.png"
    _, out, _ = run("segment", "fcn_resnet50", files / "gradient.png", "-o", out_png, check=0)
    w, h = png_size(out_png)
    assert w >= 64 and h > 48  # the image, then a legend band below it
    pix = pixels(files / "gradient.png")
    labels = models.create("fcn_resnet50").segment(pix)["labels"][0]
    expect = swiftcnn.viz.label_map(labels, pix, models.voc_classes())
    assert np.array_equal(np.asarray(Image.open(out_png).convert("RGB")), expect)
    shares = [float(s) for s in re.findall(r"^\s+([0-9.]+)%", out, re.M)]
    assert shares and abs(sum(shares) - 100) < 0.5


def test_show_filters_and_activations(files, tmp_path):
    _, out, _ = run("show", "filters", "lenet5", "-o", tmp_path / "f.png", check=0)
    assert "filters of features.0" in out
    pic = np.asarray(Image.open(tmp_path / "f.png").convert("RGB"))
    assert np.array_equal(pic, swiftcnn.viz.filters(models.lenet5(), "features.0"))
    _, out, _ = run("show", "activations", "lenet5", files / "small.jpg", "--layer", "features.1",
                    "-o", tmp_path / "a.png", check=0)
    pic = np.asarray(Image.open(tmp_path / "a.png").convert("RGB"))
    expect = swiftcnn.viz.activations(models.lenet5(), lenet_tensor(pixels(files / "small.jpg")), "features.1")
    assert np.array_equal(pic, expect)


# ---- convert, bench, profile ----------------------------------------------------------------

def test_convert_round_trips_an_exported_onnx_model(tmp_path):
    pytest.importorskip("onnx", reason="convert needs the onnx package (requirements-dev.txt)")
    m = models.lenet5()
    m.reset_parameters(seed=7)
    from swiftcnn import onnx as sonnx
    sonnx.export(m, str(tmp_path / "lenet.onnx"))
    _, out, _ = run("convert", tmp_path / "lenet.onnx", tmp_path / "lenet.safetensors", check=0)
    assert "wrote" in out
    back = swiftcnn.load(tmp_path / "lenet.safetensors")
    x = models.seeded_tensor("input", (2, 1, 32, 32))
    np.testing.assert_allclose(back(x), m(x), rtol=1e-5, atol=1e-5)
    assert sorted(os.listdir(tmp_path)) == ["lenet.onnx", "lenet.safetensors"]  # no debris
    # The .onnx file is a MODEL too.
    _, out, _ = run("summary", tmp_path / "lenet.onnx", check=0)
    assert "Conv" in out


def test_bench_and_profile_print_numbers():
    _, out, err = run("bench", "lenet5", "--batch", "4", "--runs", "3", "--threads", "1", check=0)
    m = re.search(r"median ([0-9.]+) ms\s+min ([0-9.]+) ms\s+([0-9.]+) img/s", out)
    assert m and float(m.group(2)) <= float(m.group(1)) and float(m.group(3)) > 0
    assert "[4, 1, 32, 32], 1 thread(s), 3 runs" in out
    assert err == ""  # no progress when stderr is not a terminal
    _, out, err = run("bench", "resnet18", "--runs", "2", "--warmup", "0", "--size", "64,64", "--progress", check=0)
    assert "[1, 3, 64, 64]" in out
    assert "bench: run 2/2" in err  # --progress forces it
    _, out, _ = run("profile", "lenet5", "--top", "3", "--runs", "3", check=0)
    assert re.search(r"forward ([0-9.]+) ms", out)
    rows = [line for line in out.splitlines() if re.match(r"^features\.\d|^classifier\.\d", line)]
    assert len(rows) == 3 and all(re.search(r"\d+\.\d+%", r) for r in rows)


# ---- errors ---------------------------------------------------------------------------------

def test_errors_are_one_line(files, tmp_path):
    assert_one_line_error(*run("classify", "resnet18", tmp_path / "missing.jpg"), 1, "missing.jpg", "no such file")
    assert_one_line_error(*run("classify", "nosuchnet", files / "grey.png"), 1, "unknown model 'nosuchnet'", "lenet5")
    assert_one_line_error(*run("summary", tmp_path / "none.safetensors"), 1, "no such file")
    assert_one_line_error(*run("classify", "lenet5", files / "bad.png"), 1, "bad.png", "not an image")
    (tmp_path / "cut.jpg").write_bytes((files / "china.jpg").read_bytes()[:2000])
    assert_one_line_error(*run("classify", "lenet5", tmp_path / "cut.jpg"), 1, "cut.jpg")
    # Wrong shapes: the library's message, on one line.
    assert_one_line_error(*run("bench", "alexnet", "--size", "8,8", "--runs", "1"), 1, "alexnet", "H >= 63")
    assert_one_line_error(*run("show", "activations", "lenet5", files / "grey.png", "--layer", "nope",
                               "-o", tmp_path / "x.png"), 1, "nope")
    assert_one_line_error(*run("detect", "resnet18", files / "small.jpg", "-o", tmp_path / "x.png"), 1,
                          "not a detector")
    assert_one_line_error(*run("show", "filters", "lenet5", "-o", tmp_path / "x.bmp"), 1, "png")
    (tmp_path / "junk.onnx").write_bytes(b"not onnx")
    assert_one_line_error(*run("convert", tmp_path / "junk.onnx", tmp_path / "out.safetensors"), 1)
    assert not (tmp_path / "out.safetensors").exists()
    assert not (tmp_path / "x.png").exists()


def test_usage_errors_exit_2_with_one_line(files):
    assert_one_line_error(*run(), 2, "COMMAND")
    assert_one_line_error(*run("frobnicate"), 2, "invalid choice")
    assert_one_line_error(*run("classify", "lenet5"), 2, "IMAGE")
    assert_one_line_error(*run("classify", "lenet5", files / "grey.png", "--top", "x"), 2, "--top")
    assert_one_line_error(*run("classify", "lenet5", files / "grey.png", "--top", "0"), 2, "--top")
    assert_one_line_error(*run("show", "activations", "lenet5", "-o", "x.png"), 2, "IMAGE")
    assert_one_line_error(*run("detect", "ssd300_vgg16", files / "grey.png"), 2, "-o")


def test_debug_shows_the_traceback(files):
    rc, _, err = run("classify", "lenet5", files / "bad.png", "--debug")
    assert rc == 1 and "Traceback" in err and err.strip().splitlines()[-1].startswith("swiftcnn: error: ")


def test_help_of_every_command_has_a_description_and_examples():
    rc, out, _ = run("--help")
    assert rc == 0
    for cmd in ("summary", "classify", "detect", "segment", "convert", "bench", "profile", "show"):
        assert cmd in out
        rc, text, _ = run(cmd, "--help")
        assert rc == 0 and "examples:" in text and f"swiftcnn {cmd}" in text, cmd
    _, text, _ = run("classify", "--help")
    assert "1 x 32 x 32" in text.replace("1x32x32", "1 x 32 x 32") and "224" in text  # preprocessing stated


def test_console_script_is_installed():
    script = shutil.which("swiftcnn", path=os.path.dirname(sys.executable))
    if script is None:
        pytest.skip("no swiftcnn console script beside this Python (the package is not pip-installed here)")
    p = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.strip() == f"swiftcnn {swiftcnn.__version__}"
