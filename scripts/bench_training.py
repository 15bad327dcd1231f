#!/usr/bin/env python3
"""Training throughput: swiftcnn vs PyTorch (CPU), side by side, in one run.

    make python                                   # builds .venv with the swiftcnn extension
    $TORCH_VENV/bin/python scripts/bench_training.py --threads 2

Cases (issue 5): LeNet-5 at 32x32, batch 64; ResNet-18 at 32x32, batch 32 (10 classes).
One training step = forward in training mode, softmax cross-entropy, backward, an SGD step
(lr 0.01, momentum 0.9). Both engines start from the same seeded weights
(scripts/weightgen.py, seed 0) and train on the same fixed batch (weightgen's "input" stream,
labels i mod 10).

Each engine runs in its own fresh process (swiftcnn through its Python binding from .venv,
PyTorch from the interpreter running this script), with the same thread count; the two
alternate case by case and round by round (--rounds), so both see the same machine load.
Each process: warm-up steps for at least 1 s, then --steps timed steps; the reported figure
is the median step time across all rounds, as images per second, and the ratio
swiftcnn / PyTorch (above 1: swiftcnn trains faster).
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
sys.path.insert(0, HERE)

from bench_compare import timed  # noqa: E402  (warm-up for >= 1 s, then timed runs)

CASES = {"lenet5": (64, 32), "resnet18": (32, 32)}   # name -> (batch, input size)
CLASSES = 10


def batch_data(name: str):
    import numpy as np
    import weightgen
    batch, size = CASES[name]
    x = weightgen.model_input((batch, 1 if name.startswith("lenet") else 3, size, size))
    y = (np.arange(batch) % CLASSES).astype(np.int64)
    return x, y


def worker_swiftcnn(args) -> dict:
    import swiftcnn
    swiftcnn.set_num_threads(args.threads)
    x, y = batch_data(args.case)
    model = swiftcnn.models.create(args.case, num_classes=CLASSES)
    model.train()
    opt = swiftcnn.optim.SGD(model, lr=0.01, momentum=0.9)
    losses = []
    times = timed(lambda: losses.append(model.train_step(x, y, opt)), 3, args.steps)
    return {"times": times, "first_loss": float(losses[0]), "version": swiftcnn.__version__}


def worker_torch(args) -> dict:
    import torch
    import weightgen
    import zoo_torch
    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    model = zoo_torch.build(args.case, num_classes=CLASSES)
    values = weightgen.fill_state_dict(dict(model.state_dict()))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in values.items()}, strict=False)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    xn, yn = batch_data(args.case)
    x, y = torch.from_numpy(xn), torch.from_numpy(yn)
    losses = []

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())

    times = timed(step, 3, args.steps)
    return {"times": times, "first_loss": losses[0], "version": torch.__version__}


def run(kind: str, args, case: str) -> dict:
    python = args.venv_python if kind == "swiftcnn" else sys.executable
    cmd = [python, os.path.abspath(__file__), "--worker", kind, "--case", case,
           "--threads", str(args.threads), "--steps", str(args.steps)]
    env = dict(os.environ)
    env["PYTHONPATH"] = HERE
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--steps", type=int, default=20, help="timed steps per process")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per case")
    ap.add_argument("--venv-python", default=os.path.join(ROOT, ".venv", "bin", "python"))
    ap.add_argument("--json", help="also write the measurements to this file")
    ap.add_argument("--worker", choices=["swiftcnn", "torch"], help=argparse.SUPPRESS)
    ap.add_argument("--case", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        r = worker_swiftcnn(args) if args.worker == "swiftcnn" else worker_torch(args)
        print(json.dumps(r))
        return 0

    cases = [c for c in args.cases.split(",") if c]
    bad = [c for c in cases if c not in CASES]
    if bad:
        ap.error(f"unknown case(s) {', '.join(bad)}; expected some of {', '.join(CASES)}")
    if not os.path.exists(args.venv_python):
        ap.error(f"{args.venv_python} not found: run `make python` first")
    print(f"## Training throughput, {args.threads} thread(s) each; {args.rounds} alternating rounds "
          f"x {args.steps} timed steps; load average at start {os.getloadavg()[0]:.2f}")
    print()
    print("| case | batch | swiftcnn img/s | PyTorch img/s | swiftcnn / PyTorch | first loss swiftcnn / PyTorch |")
    print("|---|---:|---:|---:|---:|---|")
    results = []
    for case in cases:
        batch, size = CASES[case]
        times = {"swiftcnn": [], "torch": []}
        first = {}
        errors = []
        for _ in range(args.rounds):
            for kind in ("swiftcnn", "torch"):
                r = run(kind, args, case)
                if "error" in r:
                    errors.append(f"{kind}: {r['error']}")
                    continue
                times[kind] += r["times"]
                first[kind] = r["first_loss"]
        if errors:
            for e in errors:
                print(f"  {case}: {e}", file=sys.stderr)
        if not times["swiftcnn"] or not times["torch"]:
            print(f"| {case} {size}x{size} | {batch} | error | error | - | - |")
            continue
        s = batch / statistics.median(times["swiftcnn"])
        t = batch / statistics.median(times["torch"])
        print(f"| {case} {size}x{size} | {batch} | {s:.0f} | {t:.0f} | {s / t:.2f} | "
              f"{first['swiftcnn']:.4f} / {first['torch']:.4f} |", flush=True)
        results.append({"case": case, "batch": batch, "size": size, "swiftcnn_img_s": s, "torch_img_s": t,
                        "first_loss": first})
    print()
    print(f"Load average at end {os.getloadavg()[0]:.2f}. Same seeded weights and batch in both engines, so the")
    print("first losses agree (a check that both train the same network).")
    if args.json:
        with open(args.json, "w") as f:  # noqa: PTH123
            json.dump({"threads": args.threads, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
