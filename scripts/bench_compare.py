#!/usr/bin/env python3
"""swiftcnn vs ONNX Runtime (and PyTorch eager, when installed), side by side, in one run.

Needs torch + torchvision (to build the zoo models and export them to ONNX), onnx and
onnxruntime: e.g. $TORCH_VENV/bin/python (a virtual environment with them). Not run by CI (see BENCHMARKS.md).

    make lib header build/bench/bench_models
    $TORCH_VENV/bin/python scripts/bench_compare.py                  # every zoo model, batch 1
    $TORCH_VENV/bin/python scripts/bench_compare.py --models resnet18,resnet50 --threads 2 --runs 30

For each model, in the zoo's order, the three engines run one after the other (swiftcnn,
then ONNX Runtime, then PyTorch), each in its own fresh process, so their measurements
alternate model by model under the same machine load and each reports its own peak RSS:
  swiftcnn     build/bench/bench_models --models NAME --format tsv (the C ABI, as `make bench`)
  onnxruntime  InferenceSession(CPUExecutionProvider, intra_op_num_threads=T, inter_op=1,
               sequential, ORT_ENABLE_ALL graph optimizations)
  torch        eager, torch.inference_mode(), torch.set_num_threads(T)
All use the same weights (scripts/weightgen.py "swiftcnn seeded init v1", seed 0, loaded into
scripts/zoo_torch.py's models, which the swiftcnn zoo reproduces) and the same input (the
fixtures' seeded "input", U(-1, 1)). ONNX files are exported once with torch.onnx.export
(opset 17, static shapes) into the cache folder (default ~/.cache/swiftcnn-bench/onnx,
outside git) and reused; at export, ORT's output is checked against torch's.

Each engine: --warmup runs, then --runs timed runs; median, p10 and p90 in ms. Ratios are
swiftcnn / ORT and torch / ORT (below 1: faster than ORT). Threads: T for every engine (ORT and
torch take it; swiftcnn gets scnn_set_num_threads(T) when the library has it, else runs with
its default -- the table header says which).

After the table, swiftcnn's --top N (default 5) slowest nodes per model, from the per-layer
profiler (bench_models --profile N: up to 10 profiled runs after the timed ones, in the same
process; the timings above are taken before it).

--baseline DIR also times an earlier build's libswiftcnn.so.0 (copied into DIR) with the same
bench_models binary, just before the current one, so "before" and "after" ratios come from
one run under the same load.
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

ZOO = [
    "lenet5", "lenet5_original",
    "alexnet", "alexnet_lrn",
    "vgg11", "vgg11_lrn", "vgg13", "vgg16_c", "vgg16", "vgg19",
    "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn",
    "googlenet",
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
]


def input_shape(name: str, batch: int) -> tuple[int, int, int, int]:
    if name.startswith("lenet"):
        return (batch, 1, 32, 32)
    if name == "alexnet_lrn":
        return (batch, 3, 227, 227)
    return (batch, 3, 224, 224)


def vm_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def summarize(times: list[float]) -> dict:
    times = sorted(times)
    n = len(times)

    def pct(q: float) -> float:
        pos = q * (n - 1)
        lo = int(pos)
        if lo + 1 >= n:
            return times[-1]
        return times[lo] + (pos - lo) * (times[lo + 1] - times[lo])

    return {"runs": n, "median_ms": pct(0.5) * 1e3, "p10_ms": pct(0.1) * 1e3, "p90_ms": pct(0.9) * 1e3,
            "min_ms": times[0] * 1e3}


def timed(fn, warmup: int, runs: int) -> list[float]:
    # Warm-up: `warmup` runs and at least 1 s (OpenMP/ORT thread pools settle slowly on a
    # loaded machine: PyTorch's first runs of LeNet-5 took 100+ ms here).
    t_end = time.perf_counter() + 1.0
    i = 0
    while i < warmup or time.perf_counter() < t_end:
        fn()
        i += 1
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


# ---------------------------------------------------------------------------------------------
# workers: each runs in its own process and prints one JSON line

def worker_ort(args) -> dict:
    import numpy as np  # noqa: F401
    import onnxruntime as ort
    import weightgen
    base = vm_kib("VmRSS")
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(args.onnx, so, providers=["CPUExecutionProvider"])
    x = weightgen.model_input(input_shape(args.model, args.batch))
    feed = {sess.get_inputs()[0].name: x}
    loaded = vm_kib("VmRSS")
    times = timed(lambda: sess.run(None, feed), args.warmup, args.runs)
    r = summarize(times)
    r.update(rss_base_mib=base / 1024, rss_loaded_mib=loaded / 1024, rss_peak_mib=vm_kib("VmHWM") / 1024,
             version=ort.__version__)
    return r


def worker_torch(args) -> dict:
    import torch
    import weightgen
    import zoo_torch
    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    base = vm_kib("VmRSS")
    model = load_torch_model(args.model)
    x = torch.from_numpy(weightgen.model_input(input_shape(args.model, args.batch)))
    loaded = vm_kib("VmRSS")
    with torch.inference_mode():
        times = timed(lambda: model(x), args.warmup, args.runs)
    r = summarize(times)
    r.update(rss_base_mib=base / 1024, rss_loaded_mib=loaded / 1024, rss_peak_mib=vm_kib("VmHWM") / 1024,
             version=torch.__version__)
    del zoo_torch
    return r


def load_torch_model(name: str):
    import torch
    import weightgen
    import zoo_torch
    model = zoo_torch.build(name)
    sd = model.state_dict()
    values = weightgen.fill_state_dict({k: v for k, v in sd.items()})
    model.load_state_dict({k: torch.from_numpy(v) for k, v in values.items()}, strict=False)
    return model.eval()


# ---------------------------------------------------------------------------------------------
# the driver

def _export(model, x, path: str) -> None:
    import contextlib
    import io
    import warnings
    import torch
    kwargs = {"opset_version": 17, "input_names": ["input"], "output_names": ["logits"]}
    # The exporter writes graph dumps straight to file descriptor 2 on failure: silence it.
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            try:  # the TorchScript exporter where the new one (dynamo) is the default
                torch.onnx.export(model, (x,), path, dynamo=False, **kwargs)
            except TypeError:
                torch.onnx.export(model, (x,), path, **kwargs)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _drop_identity_pools(model, x) -> None:
    """Replaces every AdaptiveAvgPool2d whose input already has its output size by nn.Identity."""
    import torch
    import torch.nn as nn
    same = []
    hooks = []
    for name, mod in model.named_modules():
        if isinstance(mod, nn.AdaptiveAvgPool2d):
            def hook(m, inp, out, name=name):
                if tuple(inp[0].shape[-2:]) == tuple(out.shape[-2:]):
                    same.append(name)
            hooks.append(mod.register_forward_hook(hook))
    with torch.inference_mode():
        model(x)
    for h in hooks:
        h.remove()
    for name in same:
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, attr, nn.Identity())


def export_onnx(name: str, batch: int, cache: str) -> str:
    """The model's ONNX file in the cache (exported on first use, checked against torch)."""
    path = os.path.join(cache, f"{name}_b{batch}.onnx")
    if os.path.exists(path):
        return path
    import numpy as np
    import onnxruntime as ort
    import torch
    import weightgen
    os.makedirs(cache, exist_ok=True)
    model = load_torch_model(name)
    x = torch.from_numpy(weightgen.model_input(input_shape(name, batch)))
    tmp = path + ".tmp"
    with torch.inference_mode():
        want = model(x).numpy()
    try:
        _export(model, x, tmp)
    except Exception:  # noqa: BLE001
        # vgg11_lrn: torch's LocalResponseNorm traces through reshapes that hide the static
        # shape, and the exporter then refuses the AdaptiveAvgPool2d after it. At 224x224 that
        # pool maps 7x7 to 7x7, an identity: swap such pools for nn.Identity and retry.
        _drop_identity_pools(model, x)
        _export(model, x, tmp)
    sess = ort.InferenceSession(tmp, providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    err = float(np.max(np.abs(got - want)) / max(1e-30, float(np.max(np.abs(want)))))
    if not err < 1e-3:
        raise SystemExit(f"{name}: the exported ONNX model disagrees with torch (max rel err {err:.2e})")
    os.replace(tmp, path)
    with open(path + ".json", "w") as f:
        json.dump({"model": name, "batch": batch, "max_rel_err_vs_torch": err, "torch": torch.__version__}, f)
    print(f"  exported {path} (ORT vs torch max rel err {err:.1e})", file=sys.stderr)
    return path


def run_worker(kind: str, args, model: str, onnx: str | None) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind, "--model", model,
           "--batch", str(args.batch), "--threads", str(args.threads), "--warmup", str(args.warmup),
           "--runs", str(args.runs)]
    if onnx:
        cmd += ["--onnx", onnx]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def run_swiftcnn(args, model: str, library_dir: str | None = None) -> dict:
    """bench_models on `model`; with `library_dir`, against the libswiftcnn.so found there
    (LD_LIBRARY_PATH wins over the binary's RUNPATH), without the profile (an older library
    may not have it)."""
    top = 0 if library_dir else max(0, args.top)
    cmd = [args.bench, "--models", model, "--batches", str(args.batch), "--runs", str(args.runs),
           "--warmup", str(args.warmup), "--min-runs", str(args.runs), "--max-seconds", "1e9",
           "--threads", str(args.threads), "--format", "tsv", "--profile", str(top),
           # At least 1 s of warm-up, as timed() gives ONNX Runtime and PyTorch.
           "--warmup-seconds", "1"]
    env = None
    if library_dir:
        env = dict(os.environ, LD_LIBRARY_PATH=os.path.abspath(library_dir))
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["failed"])[-1]}
    lines = p.stdout.strip().splitlines()
    row = dict(zip(lines[0].split("\t"), lines[1].split("\t")))
    # The per-layer profile's slowest nodes: "profile" lines after the row (a header, then one per node).
    prof = [ln.split("\t") for ln in lines[2:] if ln.startswith("profile\t")]
    top = [dict(zip(prof[0], f)) for f in prof[1:]] if prof else []
    return {"runs": int(row["runs"]), "median_ms": float(row["median_ms"]), "p10_ms": float(row["p10_ms"]),
            "p90_ms": float(row["p90_ms"]), "rss_loaded_mib": float(row["rss_loaded_mib"]),
            "rss_peak_mib": float(row["rss_peak_mib"]), "macs": int(row["macs_per_image"]),
            "top": [{"node": t["node"], "op": t["op"], "kernel": t["kernel"], "fused": t["fused"],
                     "ms": float(t["ms"]), "share": float(t["share"]), "gflops": float(t["gflops"]),
                     "gbps": float(t["gbps"])} for t in top]}


def print_top_nodes(results: list, n: int) -> None:
    """swiftcnn's `n` slowest nodes per model (bench_models --profile), as Markdown tables."""
    if n <= 0:
        return
    print()
    print(f"### swiftcnn's {n} slowest nodes per model (scnn_model_profile, medians)")
    for r in results:
        top = r["swiftcnn"].get("top") or []
        if not top:
            continue
        print()
        print(f"**{r['model']}**")
        print()
        print("| node | op | kernel | ms | share | GFLOP/s | GB/s |")
        print("|---|---|---|---:|---:|---:|---:|")
        for t in top:
            op = t["op"] + (f" (fused: {t['fused']})" if t["fused"] else "")
            gflops = f"{t['gflops']:.1f}" if t["gflops"] > 0 else "-"
            print(f"| {t['node']} | {op} | {t['kernel']} | {t['ms']:.3f} | {100 * t['share']:.1f}% |"
                  f" {gflops} | {t['gbps']:.1f} |")


def fmt_ms(r: dict) -> str:
    if "error" in r:
        return "error"
    m = r["median_ms"]
    return f"{m:.3f}" if m < 10 else f"{m:.1f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(ZOO), help="comma-separated zoo names (default: all)")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--cache", default=os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")),
                                                    "swiftcnn-bench", "onnx"))
    ap.add_argument("--bench", default=os.path.join(ROOT, "build", "bench", "bench_models"),
                    help="the bench_models binary (make build/bench/bench_models)")
    ap.add_argument("--no-torch", action="store_true", help="skip PyTorch eager")
    ap.add_argument("--top", type=int, default=5,
                    help="print swiftcnn's N slowest nodes per model (bench_models --profile N; 0: none)")
    ap.add_argument("--baseline", metavar="DIR",
                    help="a directory holding an earlier libswiftcnn.so: also time it, alternating with the "
                         "current one, and print its ratio beside (before/after in one run)")
    ap.add_argument("--json", help="also write every measurement to this file")
    ap.add_argument("--worker", choices=["ort", "torch"], help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--onnx", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        r = worker_ort(args) if args.worker == "ort" else worker_torch(args)
        print(json.dumps(r))
        return 0

    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in ZOO]
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)}; expected some of {', '.join(ZOO)}")
    if not os.path.exists(args.bench):
        ap.error(f"{args.bench} not found: run `make lib header build/bench/bench_models` first")
    try:
        import onnxruntime
    except ImportError:
        ap.error("onnxruntime is not installed (pip install onnx onnxruntime into the torch environment)")
    have_torch = not args.no_torch
    if have_torch:
        try:
            import torch  # noqa: F401
        except ImportError:
            have_torch = False

    start = time.time()
    load0 = os.getloadavg()[0]
    print(f"## swiftcnn vs ONNX Runtime {onnxruntime.__version__}"
          + (f" vs PyTorch {__import__('torch').__version__} eager" if have_torch else ""))
    print()
    print(f"batch {args.batch}, {args.threads} thread(s) each, warm-up {args.warmup}, median of {args.runs} runs; "
          f"engines alternate model by model, each in its own process; load average at start {load0:.2f}")
    print()
    # bench_models needs the library under its SONAME, libswiftcnn.so.0 (`cp build/lib/libswiftcnn.so.0
    # DIR/`); a build from before the versioned SONAME is found by that name too (a symlink to it).
    if args.baseline and not os.path.exists(os.path.join(args.baseline, "libswiftcnn.so.0")):
        ap.error(f"--baseline: no libswiftcnn.so.0 in {args.baseline} (copy build/lib/libswiftcnn.so.0 there; "
                 "for an older libswiftcnn.so, `ln -s libswiftcnn.so DIR/libswiftcnn.so.0`)")
    base = bool(args.baseline)
    head = "| model | GFLOP |" + (" before ms |" if base else "") + " swiftcnn ms | ORT ms |" + \
           (" torch ms |" if have_torch else "") + (" before / ORT |" if base else "") + \
           " swiftcnn / ORT |" + (" torch / ORT |" if have_torch else "") + \
           " swiftcnn GFLOP/s | ORT GFLOP/s | peak RSS MiB swiftcnn / ORT |"
    print(head)
    print("|" + "---|" + "---:|" * (head.count("|") - 2))
    results = []
    for m in models:
        try:
            onnx = export_onnx(m, args.batch, args.cache)
        except Exception as e:  # noqa: BLE001
            print(f"| {m} | export to ONNX failed: {str(e).splitlines()[0][:120]} |", flush=True)
            continue
        b = run_swiftcnn(args, m, args.baseline) if base else None
        s = run_swiftcnn(args, m)
        o = run_worker("ort", args, m, onnx)
        t = run_worker("torch", args, m, None) if have_torch else None
        results.append({"model": m, "swiftcnn": s, "ort": o, "torch": t, "before": b})
        gflop = 2 * s.get("macs", 0) * args.batch / 1e9
        ok = "error" not in s and "error" not in o
        ratio = f"{s['median_ms'] / o['median_ms']:.2f}" if ok else "-"
        row = f"| {m} | {gflop:.4g} |" + (f" {fmt_ms(b)} |" if base else "") + f" {fmt_ms(s)} | {fmt_ms(o)} |"
        if have_torch:
            row += f" {fmt_ms(t)} |"
        if base:
            row += f" {b['median_ms'] / o['median_ms']:.2f} |" if "error" not in b and "error" not in o else " - |"
        row += f" {ratio} |"
        if have_torch:
            row += f" {t['median_ms'] / o['median_ms']:.2f} |" if t and "error" not in t and "error" not in o else " - |"
        if ok:
            row += f" {gflop / s['median_ms'] * 1e3:.1f} | {gflop / o['median_ms'] * 1e3:.1f} |" \
                   f" {s['rss_peak_mib']:.0f} / {o['rss_peak_mib']:.0f} |"
        else:
            row += " - | - | - |"
        print(row, flush=True)
        for name, r in (("swiftcnn", s), ("onnxruntime", o), ("torch", t), ("baseline", b)):
            if r and "error" in r:
                print(f"  {m}: {name} failed: {r['error']}", file=sys.stderr)
    print()
    print("GFLOP: 2 x multiply-accumulates of one forward pass (scnn_model_macs x batch). Peak RSS: VmHWM of the")
    print("engine's process (ORT's includes the Python interpreter, numpy and onnxruntime: "
          + ", ".join(f"{r['model']} base {r['ort']['rss_base_mib']:.0f} MiB" for r in results[:1]
                      if 'rss_base_mib' in r['ort']) + ").")
    print(f"Wall time {time.time() - start:.0f} s; load average at end {os.getloadavg()[0]:.2f}.")
    print_top_nodes(results, args.top)
    if args.json:
        with open(args.json, "w") as f:  # noqa: PTH123
            json.dump({"batch": args.batch, "threads": args.threads, "runs": args.runs, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
