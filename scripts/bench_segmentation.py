#!/usr/bin/env python3
"""Segmentation speed, swiftcnn against PyTorch eager, side by side in one run (not a test):

    $TORCH_VENV/bin/python scripts/bench_segmentation.py [--size 520] [--runs 5] [--threads 2]
        [--names fcn_resnet50 deeplabv3_resnet50] [--swiftcnn-python .venv/bin/python]

Batch 1, one [1, 3, S, S] input, T threads for both (torch.set_num_threads, swiftcnn's
set_num_threads). Per model: the swiftcnn forward (its plain model: no auxiliary head) timed
in the project's venv (a child process), then torch's (torchvision's model with
aux_loss=False, eval, no_grad); one warm-up each, then RUNS timed forwards; the median and
the minimum are printed. Weights do not matter for speed (swiftcnn: seeded; torch: its
default init). Timings on a shared machine move with the load: compare within one run.
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
REPO = os.path.dirname(HERE)


def timed(f, runs):
    f()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), min(ts)


def swiftcnn_side(args):
    import numpy as np
    import swiftcnn
    from swiftcnn import models
    swiftcnn.set_num_threads(args.threads)
    m = models.create(args.names[0])
    x = np.random.default_rng(0).standard_normal((1, 3, args.size, args.size)).astype(np.float32)
    med, best = timed(lambda: m(x), args.runs)
    print(json.dumps({"median": med, "min": best}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=520)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--names", nargs="+", default=["fcn_resnet50", "deeplabv3_resnet50"])
    ap.add_argument("--swiftcnn-python", default=os.path.join(REPO, ".venv", "bin", "python"))
    ap.add_argument("--swiftcnn-side", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.swiftcnn_side:
        return swiftcnn_side(args)
    import torch
    from torchvision.models import segmentation
    torch.set_num_threads(args.threads)
    print(f"batch 1, {args.size}x{args.size}, {args.threads} threads, median (min) of {args.runs} runs, seconds")
    print("| model | swiftcnn | torch | swiftcnn / torch |")
    print("|---|---|---|---|")
    for name in args.names:
        p = subprocess.run([args.swiftcnn_python, os.path.abspath(__file__), "--swiftcnn-side", "--names", name,
                            "--size", str(args.size), "--runs", str(args.runs), "--threads", str(args.threads)],
                           capture_output=True, text=True, check=True)
        s = json.loads(p.stdout.strip().splitlines()[-1])
        model = getattr(segmentation, name)(weights=None, weights_backbone=None, aux_loss=False).eval()
        x = torch.randn(1, 3, args.size, args.size)
        with torch.no_grad():
            tm, tb = timed(lambda: model(x), args.runs)
        print(f"| {name} | {s['median']:.3f} ({s['min']:.3f}) | {tm:.3f} ({tb:.3f}) | {s['median'] / tm:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
