#!/usr/bin/env python3
"""SSD300-VGG16's network (backbone + heads, no post-processing): swiftcnn vs ONNX Runtime.

Needs torch, torchvision, onnx and onnxruntime for the driver ($TORCH_VENV/bin/python), and a
Python with swiftcnn installed for the swiftcnn side (default: the repository's .venv, made
by `make python`). Not run by CI; results go to BENCHMARKS.md.

    make lib python
    $TORCH_VENV/bin/python scripts/bench_detection.py [--threads 2] [--rounds 7] [--runs 5]

The driver builds torchvision's ssd300_vgg16 (weights=None), writes swiftcnn's seeded weights
into it (seed 0, scripts/make_detection_fixtures.py's rule, heads unscaled), and exports a
module wrapping backbone + heads (output [1, 8732, 4 + 91], the regression and the logits
side by side, as swiftcnn's network gives it) to ONNX (opset 17, static shape 1×3×300×300);
torchvision's own export of SSD would include the post-processing. ORT's output is checked
against torch's, and swiftcnn's against ORT's, before timing.

Timing alternates engines: each round runs swiftcnn then ORT in fresh processes (the
model loaded, `--warmup` runs, then `--runs` timed runs of batch 1 at `--threads` threads:
scnn set_num_threads / ORT intra_op_num_threads, sequential execution, all graph
optimizations). The table gives each engine's median over all timed runs, p10 and p90, and
the ratio swiftcnn / ORT of the medians.
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

SWIFTCNN_RUNNER = r"""
import json, sys, time
import numpy as np
import swiftcnn
from swiftcnn import models
threads, warmup, runs, check = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
swiftcnn.set_num_threads(threads)
m = models.ssd300_vgg16()
x = models.seeded_tensor("input", (1, 3, 300, 300))
y = m(x)
if check != "-":
    ref = np.load(check)
    diff = float(np.abs(y - ref).max() / np.abs(ref).max())
else:
    diff = None
for _ in range(warmup):
    m(x)
times = []
for _ in range(runs):
    t0 = time.perf_counter()
    m(x)
    times.append(1e3 * (time.perf_counter() - t0))
print(json.dumps({"times": times, "rel_diff": diff}))
"""

ORT_RUNNER = r"""
import json, sys, time
import numpy as np
import onnxruntime as ort
path, threads, warmup, runs, inp = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
so = ort.SessionOptions()
so.intra_op_num_threads = threads
so.inter_op_num_threads = 1
so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
x = np.load(inp)
name = s.get_inputs()[0].name
for _ in range(warmup):
    s.run(None, {name: x})
times = []
for _ in range(runs):
    t0 = time.perf_counter()
    s.run(None, {name: x})
    times.append(1e3 * (time.perf_counter() - t0))
print(json.dumps({"times": times}))
"""


def export(cache: str) -> tuple[str, str, str]:
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
    onnx_path = os.path.join(cache, "ssd300_vgg16_network.onnx")
    inp = os.path.join(cache, "ssd300_input.npy")
    out = os.path.join(cache, "ssd300_ort_output.npy")
    model = fx.build("ssd300_vgg16")
    fx.fill(model)
    model.eval()
    net = fx.Network(model).eval()
    x = weightgen.model_input((1, 3, 300, 300))
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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--swiftcnn-python", default=os.path.join(ROOT, ".venv", "bin", "python"))
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/swiftcnn-bench/detection"))
    args = ap.parse_args()
    onnx_path, inp, ort_out = export(args.cache)
    sw, ox = [], []
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    for r in range(args.rounds):
        res = subprocess.run([args.swiftcnn_python, "-c", SWIFTCNN_RUNNER, str(args.threads), str(args.warmup),
                              str(args.runs), ort_out if r == 0 else "-"], check=True, capture_output=True,
                             text=True, env=env)
        d = json.loads(res.stdout.strip().splitlines()[-1])
        if r == 0:
            print(f"swiftcnn vs ORT output: max|diff|/max = {d['rel_diff']:.2e}")
        sw += d["times"]
        res = subprocess.run([sys.executable, "-c", ORT_RUNNER, onnx_path, str(args.threads), str(args.warmup),
                              str(args.runs), inp], check=True, capture_output=True, text=True, env=env)
        ox += json.loads(res.stdout.strip().splitlines()[-1])["times"]
        print(f"round {r + 1}/{args.rounds}: swiftcnn {statistics.median(sw):.1f} ms, ORT {statistics.median(ox):.1f} ms",
              flush=True)
    ms, mo = statistics.median(sw), statistics.median(ox)
    import onnxruntime

    print()
    print(f"ssd300_vgg16 network (backbone + heads), batch 1, {args.threads} threads, "
          f"{len(sw)} runs each in {args.rounds} alternating rounds; onnxruntime {onnxruntime.__version__}")
    print()
    print("| engine | median ms | p10 | p90 |")
    print("|---|---|---|---|")
    print(f"| swiftcnn | {ms:.1f} | {pct(sw, 0.1):.1f} | {pct(sw, 0.9):.1f} |")
    print(f"| onnxruntime | {mo:.1f} | {pct(ox, 0.1):.1f} | {pct(ox, 0.9):.1f} |")
    print()
    print(f"ratio swiftcnn / ORT (medians): {ms / mo:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
