"""Checks examples/onnx_classify.c and examples/onnx_segment.c against ONNX Runtime, without torch.

Run by scripts/check_onnx_examples.sh (which finds the project's Python and the built
examples); by hand:

    .venv/bin/python Tests/c-onnx/check_onnx_examples.py --bin build/examples [--keep DIR]

It builds two tiny ONNX models with onnx.helper (seeded random weights):
  - a classifier, Conv + Relu + GlobalAveragePool + Flatten + Gemm to 1000 classes, input
    [1, 3, 32, 40];
  - an FCN-like segmenter, Conv (stride 2, dilation 2) + Relu, then two heads, each a 1x1
    Conv to the 21 VOC classes + a bilinear Resize back to the input size: outputs "out"
    and "aux", input [1, 3, 24, 32];
converts them with `python -m swiftcnn.onnx convert`, writes small PPM images, runs both
examples and compares with ONNX Runtime on the same preprocessed input (ImageNet mean/std,
bilinear resize as torch's align_corners=False):
  - onnx_classify: the top-1 class equal to ORT's argmax; every printed probability within
    1e-4 of ORT's softmax; the requested number of lines; ImageNet names or none;
  - onnx_segment: the label map PPM equal pixel for pixel to ORT's argmax coloured with the
    VOC palette (computed here independently), a pixel allowed to differ only where ORT's
    two best scores are within 1e-5 and the example chose one of them; the printed
    histogram equal to the label map's counts; "aux" as well as "out"; an image of another
    size than the model's gives a label map of the image's size;
  - error paths: a missing model, a truncated or non-PPM image, an unknown output name, an
    unwritable output directory and bad usage give a message and exit status 1 (2 for
    usage), never a crash; a failed onnx_segment leaves no file behind and an existing
    OUT.ppm unchanged.
Prints one line per check and "N passed, N failed"; exits 1 when any failed.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
TIE = 1e-5        # ORT's two best scores closer than this: either label is right
PROB_TOL = 1e-4   # printed softmax probabilities vs ORT's

passed = 0
failed = 0


def report(ok: bool, name: str, detail: str = "") -> bool:
    global passed, failed
    if ok:
        passed += 1
        print(f"PASS  {name}")
    else:
        failed += 1
        print(f"FAIL  {name}" + (f": {detail}" if detail else ""))
    return ok


# ---- models ------------------------------------------------------------------------------

def _init(name, arr):
    return numpy_helper.from_array(np.asarray(arr, np.float32), name)


def _save(graph, path):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="check_onnx_examples")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def build_classifier(path, rng, h=32, w=40, classes=1000):
    inits = [_init("conv.weight", rng.normal(0, 0.5, (8, 3, 3, 3))), _init("conv.bias", rng.normal(0, 0.1, 8)),
             _init("fc.weight", rng.normal(0, 1.0, (classes, 8))), _init("fc.bias", rng.normal(0, 0.5, classes))]
    nodes = [
        helper.make_node("Conv", ["input", "conv.weight", "conv.bias"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                         strides=[2, 2], name="conv"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["g"], name="pool"),
        helper.make_node("Flatten", ["g"], ["f"], axis=1, name="flatten"),
        helper.make_node("Gemm", ["f", "fc.weight", "fc.bias"], ["logits"], transB=1, name="fc"),
    ]
    graph = helper.make_graph(nodes, "tiny_classifier",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, h, w])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, classes])], inits)
    _save(graph, path)


def build_segmenter(path, rng, h=24, w=32, classes=21):
    inits = [_init("backbone.weight", rng.normal(0, 0.5, (16, 3, 3, 3))),
             _init("backbone.bias", rng.normal(0, 0.1, 16)),
             _init("head.weight", rng.normal(0, 0.5, (classes, 16, 1, 1))), _init("head.bias", rng.normal(0, 0.2, classes)),
             _init("aux.weight", rng.normal(0, 0.5, (classes, 16, 1, 1))), _init("aux.bias", rng.normal(0, 0.2, classes)),
             numpy_helper.from_array(np.array([1, classes, h, w], np.int64), "sizes")]
    nodes = [
        helper.make_node("Conv", ["input", "backbone.weight", "backbone.bias"], ["b"], kernel_shape=[3, 3],
                         pads=[2, 2, 2, 2], strides=[2, 2], dilations=[2, 2], name="backbone"),
        helper.make_node("Relu", ["b"], ["br"], name="relu"),
        helper.make_node("Conv", ["br", "head.weight", "head.bias"], ["hs"], kernel_shape=[1, 1], name="head"),
        helper.make_node("Resize", ["hs", "", "", "sizes"], ["out"], mode="linear",
                         coordinate_transformation_mode="half_pixel", name="head_up"),
        helper.make_node("Conv", ["br", "aux.weight", "aux.bias"], ["as"], kernel_shape=[1, 1], name="aux_head"),
        helper.make_node("Resize", ["as", "", "", "sizes"], ["aux"], mode="linear",
                         coordinate_transformation_mode="half_pixel", name="aux_up"),
    ]
    graph = helper.make_graph(nodes, "tiny_segmenter",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, h, w])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, classes, h, w]),
                               helper.make_tensor_value_info("aux", TensorProto.FLOAT, [1, classes, h, w])], inits)
    _save(graph, path)


# ---- images ------------------------------------------------------------------------------

def write_ppm(path, rgb):
    h, w, _ = rgb.shape
    with open(path, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (w, h))
        f.write(np.ascontiguousarray(rgb, np.uint8).tobytes())


def read_ppm(path):
    with open(path, "rb") as f:
        data = f.read()
    m = re.match(rb"P6\s+(\d+)\s+(\d+)\s+255\s", data)
    if not m:
        raise ValueError(f"{path}: not a P6 file with maxval 255")
    w, h = int(m.group(1)), int(m.group(2))
    px = np.frombuffer(data[m.end():], np.uint8)
    if px.size != w * h * 3:
        raise ValueError(f"{path}: {px.size} pixel bytes for {w}x{h}")
    return px.reshape(h, w, 3)


def test_picture(h, w, seed):
    """Smooth shapes plus a little noise: regions for the segmenter, not one flat colour."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 128 + 100 * np.sin(x / w * 6.0) * np.cos(y / h * 4.0)
    g = 255.0 * (x + y) / (w + h)
    b = np.where((x - w / 2) ** 2 + (y - h / 2) ** 2 < (min(h, w) / 3) ** 2, 230.0, 40.0)
    img = np.stack([r, g, b], -1) + rng.normal(0, 12, (h, w, 3))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def resize_bilinear(x, oh, ow):
    """[C, H, W] float32 resized as torch's F.interpolate(mode="bilinear", align_corners=False)."""
    _, ih, iw = x.shape

    def axis(n_in, n_out):
        src = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
        src = np.maximum(src, 0.0)
        i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, src - i0

    y0, y1, ly = axis(ih, oh)
    x0, x1, lx = axis(iw, ow)
    xd = x.astype(np.float64)
    top = xd[:, y0][:, :, x0] * (1 - lx) + xd[:, y0][:, :, x1] * lx
    bot = xd[:, y1][:, :, x0] * (1 - lx) + xd[:, y1][:, :, x1] * lx
    return (top * (1 - ly)[:, None] + bot * ly[:, None]).astype(np.float32)


def preprocess(rgb, h, w):
    """What the examples do: bytes / 255, ImageNet mean/std, bilinear resize to h x w; [1, 3, h, w]."""
    x = (rgb.astype(np.float32) * np.float32(1.0 / 255) - MEAN) / STD
    x = np.ascontiguousarray(x.transpose(2, 0, 1))
    if x.shape[1:] != (h, w):
        x = resize_bilinear(x, h, w)
    return x[None]


def voc_palette(n=256):
    """The PASCAL VOC colour map: bits of the class index interleaved into R, G, B, top bit first."""
    pal = np.zeros((n, 3), np.uint8)
    for i in range(n):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal[i] = (r, g, b)
    assert tuple(pal[1]) == (128, 0, 0) and tuple(pal[15]) == (192, 128, 128) and tuple(pal[20]) == (0, 64, 128)
    return pal


# ---- running the examples ----------------------------------------------------------------

def run(cmd, timeout=120):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def crashed(rc):
    return rc < 0 or rc >= 128


def ort_run(onnx_path, x):
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, {"input": x})))


def parse_top(stdout):
    """[(rank, prob, index, name)] from onnx_classify's result lines, "  RANK  PROB%  INDEX  NAME"
    (NAME "-" without labels)."""
    rows = []
    for line in stdout.splitlines():
        m = re.match(r"^\s+(\d+)\s+([0-9.]+)%\s+(\d+)\s+(.+)$", line)
        if m:
            rows.append((int(m.group(1)), float(m.group(2)) / 100, int(m.group(3)), m.group(4).strip()))
    return rows


def parse_histogram(stdout):
    """{class: (name, pixels, percent)} from onnx_segment's "  INDEX  NAME  PIXELS  PERCENT%" lines."""
    hist = {}
    seen = False
    for line in stdout.splitlines():
        if line.startswith("class histogram"):
            seen = True
            continue
        m = re.match(r"^\s+(\d+)\s+(\S+)\s+(\d+)\s+([0-9.]+)%$", line) if seen else None
        if m:
            hist[int(m.group(1))] = (m.group(2), int(m.group(3)), float(m.group(4)))
    return hist


VOC = ["background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
       "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor"]


def compare_label_map(ppm_path, scores, name):
    """The example's label map against ORT's scores [1, K, H, W] with the tie rule."""
    try:
        got = read_ppm(ppm_path)
    except (OSError, ValueError) as e:
        return report(False, name, str(e))
    s = scores[0]
    k, h, w = s.shape
    if got.shape != (h, w, 3):
        return report(False, name, f"label map is {got.shape[1]}x{got.shape[0]}, expected {w}x{h}")
    pal = voc_palette(k)
    lookup = {tuple(int(v) for v in pal[i]): i for i in range(k)}
    labels = np.full((h, w), -1, np.int64)
    for y in range(h):
        for x in range(w):
            labels[y, x] = lookup.get(tuple(int(v) for v in got[y, x]), -1)
    if (labels < 0).any():
        y, x = np.argwhere(labels < 0)[0]
        return report(False, name, f"pixel ({x}, {y}) has colour {tuple(got[y, x])}, not a VOC palette colour")
    want = s.argmax(0)
    order = np.sort(s, axis=0)
    gap = order[-1] - order[-2]
    chosen = np.take_along_axis(s, labels[None], 0)[0]
    differ = labels != want
    bad = differ & ~((gap <= TIE) & (order[-1] - chosen <= TIE))
    if bad.any():
        y, x = np.argwhere(bad)[0]
        return report(False, name, f"{int(bad.sum())} of {h * w} pixels differ from ORT's argmax, e.g. ({x}, {y}): "
                                   f"example {labels[y, x]}, ORT {want[y, x]} (gap {gap[y, x]:.3g})")
    return report(True, name + f" ({h * w} pixels, {len(np.unique(want))} classes, {int(differ.sum())} ties)"), labels


# ---- the checks --------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="folder with onnx_classify and onnx_segment")
    ap.add_argument("--keep", help="work in this folder and keep it (default: a temporary one, removed)")
    args = ap.parse_args()
    classify = os.path.join(args.bin, "onnx_classify")
    segment = os.path.join(args.bin, "onnx_segment")
    for exe in (classify, segment):
        if not os.access(exe, os.X_OK):
            print(f"missing {exe}: run `make examples` first", file=sys.stderr)
            return 1
    work = args.keep or tempfile.mkdtemp(prefix="scnn-onnx-examples-")
    os.makedirs(work, exist_ok=True)
    try:
        return checks(work, classify, segment)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def checks(work, classify, segment) -> int:
    rng = np.random.default_rng(20240611)
    p = lambda name: os.path.join(work, name)  # noqa: E731
    build_classifier(p("cls.onnx"), rng)
    build_segmenter(p("seg.onnx"), rng)
    for m in ("cls", "seg"):
        rc, out, err = run([sys.executable, "-m", "swiftcnn.onnx", "convert", p(f"{m}.onnx"), p(f"{m}.safetensors")])
        if not report(rc == 0 and os.path.isfile(p(f"{m}.safetensors")), f"convert {m}.onnx", err.strip()):
            print(f"{passed} passed, {failed} failed")
            return 1

    # -- classifier: an image of another size (resized), and one of the input size
    for img_name, (ih, iw) in (("photo.ppm", (45, 61)), ("exact.ppm", (32, 40))):
        rgb = test_picture(ih, iw, seed=ih)
        write_ppm(p(img_name), rgb)
        ref = ort_run(p("cls.onnx"), preprocess(rgb, 32, 40))["logits"][0].astype(np.float64)
        prob = np.exp(ref - ref.max())
        prob /= prob.sum()
        rc, out, err = run([classify, p("cls.safetensors"), p(img_name), "--top", "3"])
        rows = parse_top(out)
        name = f"onnx_classify {img_name} ({iw}x{ih} -> 40x32) --top 3"
        if rc != 0 or len(rows) != 3:
            report(False, name, f"exit {rc}, {len(rows)} result lines; stderr: {err.strip()}")
            continue
        top1 = int(np.argmax(ref))
        worst = max(abs(pr - prob[idx]) for _, pr, idx, _ in rows)
        ok = rows[0][2] == top1 and worst <= PROB_TOL and all(r[3] != "-" for r in rows) \
            and [r[0] for r in rows] == [1, 2, 3]
        report(ok, name + f": top-1 {rows[0][2]} ({rows[0][3]}) vs ORT {top1}, probabilities within {worst:.2g}",
               "" if ok else out)

    rc, out, err = run([classify, p("cls.safetensors"), p("photo.ppm"), "--labels", "none", "--top", "2000"])
    rows = parse_top(out)
    report(rc == 0 and len(rows) == 1000 and all(r[3] == "-" for r in rows)
           and abs(sum(r[1] for r in rows) - 1) < 1e-3,
           "onnx_classify --labels none --top 2000: all 1000 classes, no names, probabilities sum to 1",
           f"exit {rc}, {len(rows)} lines; {err.strip()}")

    # -- segmenter: "out" and "aux" at the input size, then an image of another size
    rgb = test_picture(24, 32, seed=7)
    write_ppm(p("scene.ppm"), rgb)
    ref = ort_run(p("seg.onnx"), preprocess(rgb, 24, 32))
    for output, flags in (("out", []), ("aux", ["--output", "aux"])):
        dst = p(f"labels_{output}.ppm")
        rc, out, err = run([segment, p("seg.safetensors"), p("scene.ppm"), dst] + flags)
        name = f"onnx_segment scene.ppm {' '.join(flags) or '(output out)'}: label map vs ORT's {output!r}"
        if not report(rc == 0, name + " [exit 0]", err.strip()):
            continue
        result = compare_label_map(dst, ref[output], name)
        if isinstance(result, tuple):
            labels = result[1]
            hist = parse_histogram(out)
            want = {int(c): (VOC[c], int(n), 100 * n / labels.size)
                    for c, n in zip(*np.unique(labels, return_counts=True))}
            same = hist.keys() == want.keys() and all(
                hist[c][:2] == want[c][:2] and abs(hist[c][2] - want[c][2]) <= 0.0011 for c in want)
            report(same, f"onnx_segment --output {output}: printed histogram = label map counts, VOC names",
                   f"printed {hist}, label map {want}")

    big = test_picture(37, 50, seed=11)
    write_ppm(p("big.ppm"), big)
    rc, out, err = run([segment, p("seg.safetensors"), p("big.ppm"), p("big_labels.ppm")])
    if report(rc == 0, "onnx_segment big.ppm (50x37, model 32x24) [exit 0]", err.strip()):
        got = read_ppm(p("big_labels.ppm"))
        scores = ort_run(p("seg.onnx"), preprocess(big, 24, 32))["out"][0]
        want = voc_palette(21)[resize_bilinear(scores, 37, 50).argmax(0)]
        # Two resizes and two engines: near-ties may flip, so this one is not pixel-exact.
        agree = float((got == want).all(-1).mean()) if got.shape == want.shape else 0.0
        report(got.shape == (37, 50, 3) and agree >= 0.98,
               f"onnx_segment big.ppm: label map 50x37 (the image's size), {100 * agree:.1f}% of pixels as ORT + resize",
               f"shape {got.shape}")

    # -- error paths: a message, exit 1 (2 for usage), no crash, no debris
    with open(p("truncated.ppm"), "wb") as f:
        f.write(b"P6\n32 24\n255\n" + bytes(100))
    with open(p("notppm.ppm"), "wb") as f:
        f.write(b"GIF89a this is not a PPM")
    missing = p("no_such_model.safetensors")
    cases = [
        ("onnx_classify missing model", [classify, missing, p("photo.ppm")], 1, "no_such_model"),
        ("onnx_segment missing model", [segment, missing, p("scene.ppm"), p("e1.ppm")], 1, "no_such_model"),
        ("onnx_classify truncated PPM", [classify, p("cls.safetensors"), p("truncated.ppm")], 1, "truncated"),
        ("onnx_classify non-PPM image", [classify, p("cls.safetensors"), p("notppm.ppm")], 1, "not a binary"),
        ("onnx_segment truncated PPM", [segment, p("seg.safetensors"), p("truncated.ppm"), p("e2.ppm")], 1, "truncated"),
        ("onnx_segment model that is not a model file", [segment, p("scene.ppm"), p("scene.ppm"), p("e3.ppm")], 1,
         "scnn_model_open"),
        ("onnx_segment unknown --output", [segment, p("seg.safetensors"), p("scene.ppm"), p("e4.ppm"), "--output",
                                           "nope"], 1, '"out" "aux"'),
        ("onnx_segment unwritable OUT directory", [segment, p("seg.safetensors"), p("scene.ppm"),
                                                   p("no_dir/labels.ppm")], 1, "cannot"),
        ("onnx_classify --labels imagenet on a 21-class output", [classify, p("seg.safetensors"), p("scene.ppm")], 1,
         "expected logits"),
        ("onnx_classify --top 0", [classify, p("cls.safetensors"), p("photo.ppm"), "--top", "0"], 2, "--top"),
        ("onnx_classify no arguments", [classify], 2, "usage"),
        ("onnx_segment missing OUT", [segment, p("seg.safetensors"), p("scene.ppm")], 2, "usage"),
    ]
    for name, cmd, want_rc, text in cases:
        before = set(os.listdir(work))
        rc, out, err = run(cmd)
        debris = sorted(set(os.listdir(work)) - before)
        ok = rc == want_rc and not crashed(rc) and err.strip() != "" and text in err and not debris
        report(ok, f"{name}: exit {rc}, \"{err.strip().splitlines()[-1] if err.strip() else ''}\"",
               f"expected exit {want_rc} and {text!r} in stderr; new files {debris}; stderr {err.strip()!r}")

    # A failed run leaves an existing OUT as it was.
    with open(p("keep.ppm"), "wb") as f:
        f.write(b"P6\n1 1\n255\n\x01\x02\x03")
    rc, _, err = run([segment, p("seg.safetensors"), p("truncated.ppm"), p("keep.ppm")])
    with open(p("keep.ppm"), "rb") as f:
        kept = f.read() == b"P6\n1 1\n255\n\x01\x02\x03"
    report(rc == 1 and kept, "onnx_segment failing run leaves an existing OUT.ppm unchanged", err.strip())
    # OUT that is a directory: refused by rename, the temporary file removed.
    os.makedirs(p("outdir.ppm"), exist_ok=True)
    before = set(os.listdir(work))
    rc, _, err = run([segment, p("seg.safetensors"), p("scene.ppm"), p("outdir.ppm")])
    debris = sorted(set(os.listdir(work)) - before)
    report(rc == 1 and not debris and not os.listdir(p("outdir.ppm")),
           f"onnx_segment OUT is a directory: exit {rc}, no temporary file left", f"{debris} {err.strip()}")

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
