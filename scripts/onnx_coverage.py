#!/usr/bin/env python3
"""swiftcnn.onnx on full-size torchvision models: accuracy against ONNX Runtime, and speed.

Needs torch + torchvision, onnx and onnxruntime for the driver (run it with
$TORCH_VENV/bin/python) and a built swiftcnn for the swiftcnn side, which runs in the
project's .venv (`make python`) in a subprocess. Not run by CI.

    $TORCH_VENV/bin/python scripts/onnx_coverage.py                          # accuracy, every model
    $TORCH_VENV/bin/python scripts/onnx_coverage.py --models resnet50,convnext_tiny
    $TORCH_VENV/bin/python scripts/onnx_coverage.py --speed --models mobilenet_v2,resnet50 --threads 2

For each model of the coverage list (MODELS below): torchvision's constructor with weights=None
(weights_backbone=None and aux_loss=True for the segmentation models; transform_input=True for
googlenet and inception_v3, as with their pretrained weights), default initialization with every
BatchNorm's running mean/var, weight and bias randomized (and LayerNorm's affine parameters and
ConvNeXt's layer_scale: make_onnx_fixtures.randomize), eval mode, exported by torch.onnx.export
(TorchScript exporter, dynamo=False, opset 17, do_constant_folding=True, static shapes) at the
model's natural input size (224x224; inception_v3 299x299; the segmentation models at 224x224
rather than 520x520, to keep the run short on a small machine). ONNX Runtime's output is checked
against torch's at export. The exported file, the input (seeded U(-1, 1)) and ORT's outputs are
cached in --cache (default: a folder in the system's temp dir) and reused.

Accuracy: swiftcnn.onnx.load(file) then forward on the same input, in a fresh .venv process;
the table gives the worst output's max|swiftcnn - ORT| / max|ORT| and pass when <= 1e-4.
A model that fails to import shows the exception's type and message.

--speed: batch 1 latency, swiftcnn (swiftcnn.set_num_threads(T)) and ONNX Runtime
(intra_op_num_threads=T, inter_op 1, sequential, ORT_ENABLE_ALL), each in a fresh process per
round, alternating swiftcnn / ORT for --rounds rounds (warm-up of at least 1 s, then --runs timed
runs: the median; bench_compare.timed); the table gives the median over rounds and the ratio
swiftcnn / ORT (below 1: swiftcnn is faster).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from bench_compare import timed  # noqa: E402  (warm-up of at least 1 s, then timed runs)

CLASSIFICATION = [
    "alexnet", "vgg11", "vgg11_bn", "vgg16", "vgg16_bn", "googlenet", "inception_v3", "resnet18", "resnet50",
    "resnext50_32x4d", "wide_resnet50_2", "squeezenet1_0", "squeezenet1_1", "densenet121", "mobilenet_v2",
    "mobilenet_v3_small", "mobilenet_v3_large", "shufflenet_v2_x1_0", "mnasnet1_0", "efficientnet_b0",
    "regnet_y_400mf", "regnet_x_400mf", "convnext_tiny",
]
SEGMENTATION = ["fcn_resnet50", "deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large"]
MODELS = CLASSIFICATION + SEGMENTATION
TOL = 1e-4
OPSET = 17
SEG_SIZE = 224
CACHE_TAG = "v1"


def input_hw(name: str) -> int:
    if name == "inception_v3":
        return 299
    if name in SEGMENTATION:
        return SEG_SIZE
    return 224


def output_names(name: str) -> list[str]:
    if name.startswith("lraspp"):
        return ["out"]
    if name in SEGMENTATION:
        return ["out", "aux"]
    return ["logits"]


def build(name: str):
    import torchvision
    if name in SEGMENTATION:
        kw = {"weights": None, "weights_backbone": None}
        if not name.startswith("lraspp"):
            kw["aux_loss"] = True
        return getattr(torchvision.models.segmentation, name)(**kw)
    kw = {"weights": None}
    if name in ("googlenet", "inception_v3"):
        kw.update(transform_input=True, aux_logits=False, init_weights=True)
    return getattr(torchvision.models, name)(**kw)


def cached(name: str, cache: str) -> tuple[str, str]:
    """(onnx path, npz path with "input" and ORT's outputs), exported on first use."""
    stem = os.path.join(cache, f"{name}_op{OPSET}_{input_hw(name)}_{CACHE_TAG}")
    onnx_path, npz_path = stem + ".onnx", stem + ".npz"
    if os.path.exists(onnx_path) and os.path.exists(npz_path):
        return onnx_path, npz_path
    import numpy as np
    import onnxruntime as ort
    import torch
    import make_onnx_fixtures as fx
    os.makedirs(cache, exist_ok=True)
    torch.manual_seed(0)
    model = build(name)
    fx.randomize(model, torch.Generator().manual_seed(0))
    model.eval()
    hw = input_hw(name)
    x = torch.rand((1, 3, hw, hw), generator=torch.Generator().manual_seed(1)) * 2 - 1
    names = output_names(name)
    with torch.no_grad():
        want = model(x)
    want = [want[k] for k in names] if isinstance(want, dict) else [want]
    tmp = onnx_path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(fx.export(model, x, OPSET, names, False))
    sess = ort.InferenceSession(tmp, providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": x.numpy()})
    for n, w, g in zip(names, want, got):
        w = w.numpy()
        err = float(np.max(np.abs(g - w)) / max(1e-30, float(np.max(np.abs(w)))))
        if not err < 1e-3:
            raise SystemExit(f"{name}: the exported ONNX model's {n} disagrees with torch (max rel err {err:.2e})")
    np.savez(npz_path, input=x.numpy(), **dict(zip(names, got)))
    os.replace(tmp, onnx_path)
    return onnx_path, npz_path


def op_types(onnx_path: str) -> tuple[int, list[str]]:
    import onnx
    m = onnx.load(onnx_path, load_external_data=False)
    return len(m.graph.node), sorted({n.op_type for n in m.graph.node})


# ---------------------------------------------------------------------------------------------
# workers: each runs in its own process and prints one JSON line

def worker_accuracy(args) -> dict:
    import numpy as np
    import swiftcnn
    import swiftcnn.onnx as sonnx
    swiftcnn.set_num_threads(args.threads)
    with np.load(args.npz) as z:
        x = z["input"]
        want = {k: z[k] for k in z.files if k != "input"}
    t0 = time.perf_counter()
    try:
        m = sonnx.load(args.onnx)
    except Exception as e:  # noqa: BLE001
        return {"stage": "load", "error": f"{type(e).__name__}: {e}"}
    t1 = time.perf_counter()
    try:
        got = m.forward(x, outputs=list(want))
    except Exception as e:  # noqa: BLE001
        return {"stage": "forward", "error": f"{type(e).__name__}: {e}"}
    t2 = time.perf_counter()
    if not isinstance(got, dict):
        got = dict(zip(want, got if isinstance(got, (list, tuple)) else [got]))
    errs = {}
    for k, y in want.items():
        g = np.asarray(got[k])
        if g.shape != y.shape:
            return {"stage": "compare", "error": f"{k}: shape {g.shape}, ORT's {y.shape}"}
        errs[k] = float(np.max(np.abs(g.astype(np.float64) - y)) / max(1e-30, float(np.max(np.abs(y)))))
    return {"rel_err": errs, "load_s": t1 - t0, "forward_s": t2 - t1}


def worker_speed(args) -> dict:
    import numpy as np
    with np.load(args.npz) as z:
        x = z["input"]
        names = [k for k in z.files if k != "input"]
    if args.worker == "speed-swiftcnn":
        import swiftcnn
        import swiftcnn.onnx as sonnx
        swiftcnn.set_num_threads(args.threads)
        m = sonnx.load(args.onnx)
        run = (lambda: m.forward(x)) if len(names) == 1 else (lambda: m.forward(x, outputs=names))  # noqa: E731
    else:
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        s = ort.InferenceSession(args.onnx, so, providers=["CPUExecutionProvider"])
        run = lambda: s.run(None, {"input": x})  # noqa: E731
    times = timed(run, args.warmup, args.runs)
    return {"median_ms": 1e3 * statistics.median(times)}


def run_worker(py: str, kind: str, args, onnx_path: str, npz_path: str) -> dict:
    cmd = [py, os.path.abspath(__file__), "--worker", kind, "--onnx", onnx_path, "--npz", npz_path,
           "--threads", str(args.threads), "--runs", str(args.runs), "--warmup", str(args.warmup)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        tail = (p.stderr.strip().splitlines() or ["no output"])[-1]
        how = f"signal {-p.returncode}" if p.returncode < 0 else f"exit status {p.returncode}"
        return {"error": f"worker died ({how}): {tail}"}
    return json.loads(p.stdout.strip().splitlines()[-1])


def cell(s: str) -> str:
    return " ".join(str(s).split()).replace("|", "\\|")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated names (default: all)")
    ap.add_argument("--speed", action="store_true", help="also time swiftcnn and ORT at batch 1")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3, help="--speed: alternating swiftcnn / ORT rounds")
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "swiftcnn-onnx-coverage"))
    ap.add_argument("--swiftcnn-python", default=os.path.join(ROOT, ".venv", "bin", "python"),
                    help="a python with swiftcnn installed (default: the project's .venv)")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--worker", choices=["accuracy", "speed-swiftcnn", "speed-ort"], help=argparse.SUPPRESS)
    ap.add_argument("--onnx", help=argparse.SUPPRESS)
    ap.add_argument("--npz", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        r = worker_accuracy(args) if args.worker == "accuracy" else worker_speed(args)
        print(json.dumps(r))
        return 0

    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)}; expected some of {', '.join(MODELS)}")
    if not os.path.exists(args.swiftcnn_python):
        ap.error(f"{args.swiftcnn_python} not found: run `make python` first (or pass --swiftcnn-python)")
    import onnxruntime
    import torch
    import torchvision
    start = time.time()
    print(f"## swiftcnn.onnx vs ONNX Runtime {onnxruntime.__version__} (torch {torch.__version__}, "
          f"torchvision {torchvision.__version__}, opset {OPSET}, batch 1, {args.threads} thread(s))")
    print()
    cols = ["model", "input", "nodes", "max\\|Δ\\|/max\\|y\\|", "pass (≤1e-4)"]
    if args.speed:
        cols += ["swiftcnn ms", "ORT ms", "swiftcnn / ORT"]
    cols.append("ONNX op types")
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    results, failures = [], []
    for m in models:
        try:
            onnx_path, npz_path = cached(m, args.cache)
        except BaseException as e:  # noqa: BLE001
            msg = f"export failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            print(f"| {m} | {input_hw(m)} | - | {cell(msg)} | no |", flush=True)
            failures.append((m, msg))
            continue
        nodes, ops = op_types(onnx_path)
        acc = run_worker(args.swiftcnn_python, "accuracy", args, onnx_path, npz_path)
        if "error" in acc:
            where = f" ({acc['stage']})" if "stage" in acc else ""
            err_cell, ok = "error" + where, False
            failures.append((m, acc["error"]))
        else:
            worst = max(acc["rel_err"].values())
            err_cell = f"{worst:.1e}" if len(acc["rel_err"]) == 1 else \
                ", ".join(f"{k} {v:.1e}" for k, v in acc["rel_err"].items())
            ok = worst <= TOL
            if not ok:
                failures.append((m, "max rel err " + err_cell))
        row = f"| {m} | {input_hw(m)} | {nodes} | {err_cell} | {'yes' if ok else 'NO'} |"
        speed = None
        if args.speed:
            per = {"swiftcnn": [], "ort": []}
            errors = []
            for _ in range(args.rounds):
                for kind, py in (("swiftcnn", args.swiftcnn_python), ("ort", sys.executable)):
                    r = run_worker(py, "speed-" + kind, args, onnx_path, npz_path)
                    if "error" in r:
                        errors.append(f"{kind}: {r['error']}")
                    else:
                        per[kind].append(r["median_ms"])
            s = statistics.median(per["swiftcnn"]) if per["swiftcnn"] else None
            o = statistics.median(per["ort"]) if per["ort"] else None
            speed = {"swiftcnn_ms": s, "ort_ms": o, "rounds": per, "errors": errors}
            fmt = lambda v: "error" if v is None else (f"{v:.2f}" if v < 100 else f"{v:.0f}")  # noqa: E731
            row += f" {fmt(s)} | {fmt(o)} | {f'{s / o:.2f}' if s and o else '-'} |"
            for e in errors:
                failures.append((m, "speed " + e))
        row += f" {', '.join(ops)} |"
        print(row, flush=True)
        results.append({"model": m, "nodes": nodes, "ops": ops, "accuracy": acc, "speed": speed})
    print()
    print(f"max|Δ|/max|y|: the worst output's max|swiftcnn - ORT| / max|ORT| on one seeded U(-1, 1) input "
          f"(segmentation: out and aux). Wall time {time.time() - start:.0f} s.")
    if failures:
        print()
        print("Failures (exact messages):")
        for m, msg in failures:
            print(f"- {m}: {msg}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
