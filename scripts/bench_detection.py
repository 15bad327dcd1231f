#!/usr/bin/env python3
"""A detector's network (backbone + heads, no post-processing): swiftcnn vs ONNX Runtime.

Needs torch, torchvision, onnx and onnxruntime for the driver ($TORCH_VENV/bin/python), and a
Python with swiftcnn installed for the swiftcnn side (default: the repository's .venv, made
by `make python`). Not run by CI; results go to BENCHMARKS.md.

    make lib python
    $TORCH_VENV/bin/python scripts/bench_detection.py [--model ssd300_vgg16] [--threads 2] [--runs 40]

The driver builds torchvision's model (ssd300_vgg16 or ssdlite320_mobilenet_v3_large,
weights=None), writes swiftcnn's seeded weights into it (seed 0, scripts/make_detection_fixtures.py's
rule, heads unscaled), and exports a module wrapping backbone + heads (output [1, boxes, 4 + 91],
the regression and the logits side by side, as swiftcnn's network gives it) to ONNX (opset
17, static shape 1×3×300×300 or 1×3×320×320);
torchvision's own export of SSD would include the post-processing. ORT's output is checked
against torch's, and swiftcnn's against ORT's, before timing.

Both engines run in this process (swiftcnn's package is imported from the other venv, which
has the same CPython), batch 1 at `--threads` threads (scnn set_num_threads / ORT
intra_op_num_threads, sequential execution, all graph optimizations): `--warmup` runs each,
then `--runs` timed runs alternating one by one, so both see the same machine load, each
after a `--pause` (0.2 s) of idle: both engines' worker threads spin for a while after a run,
and on 2 cores that would slow the other engine's next run (ssdlite: 17 ms alone, 64 ms
right after an ORT run). The
table gives each engine's median, p10 and p90, then the ratio swiftcnn / ORT of the medians
and the median of the run-by-run ratios.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

def export(cache: str, name: str) -> tuple[str, str, str]:
    """(onnx path, input .npy, ORT output .npy) in `cache`."""
    import numpy as np
    import onnxruntime as ort
    import torch

    sys.path.insert(0, HERE)
    import make_detection_fixtures as fx
    import weightgen

    fx.CLS_SCALE = 1.0
    fx.REG_SCALE = 1.0
    os.makedirs(cache, exist_ok=True)
    onnx_path = os.path.join(cache, f"{name}_network.onnx")
    inp = os.path.join(cache, f"{name}_input.npy")
    out = os.path.join(cache, f"{name}_ort_output.npy")
    size = 300 if name == "ssd300_vgg16" else 320
    model = fx.build(name)
    fx.fill(model)
    model.eval()
    net = fx.Network(model).eval()
    x = weightgen.model_input((1, 3, size, size))
    np.save(inp, x)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
        torch.onnx.export(net, (torch.from_numpy(x),), onnx_path, opset_version=17, input_names=["images"],
                          output_names=["head_outputs"], dynamo=False)
    s = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    got = s.run(None, {"images": x})[0]
    rel = float(np.abs(got - ref).max() / np.abs(ref).max())
    print(f"export: ORT vs torch max|diff|/max = {rel:.2e}")
    np.save(out, got)
    return onnx_path, inp, out


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * (len(v) - 1) + 0.5))]


def load_swiftcnn(python: str):
    """Imports swiftcnn into this process from the site-packages of `python` (another venv of
    the same CPython version): only the package folder is linked in, so this venv's numpy stays."""
    import importlib
    import tempfile

    site = subprocess.run([python, "-c", "import os, swiftcnn; print(os.path.dirname(os.path.dirname(swiftcnn.__file__)))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    folder = tempfile.mkdtemp(prefix="swiftcnn-bench-")
    os.symlink(os.path.join(site, "swiftcnn"), os.path.join(folder, "swiftcnn"))
    sys.path.insert(0, folder)
    return importlib.import_module("swiftcnn")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="ssd300_vgg16", choices=["ssd300_vgg16", "ssdlite320_mobilenet_v3_large"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--pause", type=float, default=0.2, help="seconds of idle before each timed run")
    ap.add_argument("--swiftcnn-python", default=os.path.join(ROOT, ".venv", "bin", "python"))
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/swiftcnn-bench/detection"))
    args = ap.parse_args()
    import numpy as np
    import onnxruntime as ort

    onnx_path, inp, ort_out = export(args.cache, args.model)
    swiftcnn = load_swiftcnn(args.swiftcnn_python)
    swiftcnn.set_num_threads(args.threads)
    model = swiftcnn.models.create(args.model)
    x = np.load(inp)
    ref = np.load(ort_out)
    y = model(x)
    print(f"swiftcnn vs ORT output: max|diff|/max = {float(np.abs(y - ref).max() / np.abs(ref).max()):.2e}")
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    feed = {sess.get_inputs()[0].name: x}
    for _ in range(args.warmup):
        model(x)
        sess.run(None, feed)
    sw, ox = [], []
    for _ in range(args.runs):  # alternating run by run: both see the same machine load
        # a pause before each run: both engines' idle workers spin for a while after a run,
        # which on 2 cores would slow the other engine's next run
        time.sleep(args.pause)
        t0 = time.perf_counter()
        model(x)
        t1 = time.perf_counter()
        time.sleep(args.pause)
        t2 = time.perf_counter()
        sess.run(None, feed)
        t3 = time.perf_counter()
        sw.append(1e3 * (t1 - t0))
        ox.append(1e3 * (t3 - t2))
    ms, mo = statistics.median(sw), statistics.median(ox)
    paired = statistics.median(a / b for a, b in zip(sw, ox))
    print()
    print(f"{args.model} network (backbone + heads), batch 1, {args.threads} threads, {args.runs} alternating runs "
          f"each; onnxruntime {ort.__version__}; load average before: {os.getloadavg()[0]:.1f}")
    print()
    print("| engine | median ms | p10 | p90 |")
    print("|---|---|---|---|")
    print(f"| swiftcnn | {ms:.1f} | {pct(sw, 0.1):.1f} | {pct(sw, 0.9):.1f} |")
    print(f"| onnxruntime | {mo:.1f} | {pct(ox, 0.1):.1f} | {pct(ox, 0.9):.1f} |")
    print()
    print(f"ratio swiftcnn / ORT: of the medians {ms / mo:.3f}; median of the run-by-run ratios {paired:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
