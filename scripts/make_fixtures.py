#!/usr/bin/env python3
"""Regenerates Tests/fixtures/zoo/*.safetensors, the PyTorch parity fixtures of the model zoo.

Needs torch, torchvision, safetensors, numpy (not the project's environment; CI never runs this):

    $TORCH_VENV/bin/python scripts/make_fixtures.py            # every model + the LeNet-5 torch files
    $TORCH_VENV/bin/python scripts/make_fixtures.py resnet18   # only the named ones
    options: --out DIR (default Tests/fixtures/zoo), --seed N (default 0), --no-f64,
             --check (regenerate into a temporary folder and compare with the files in --out:
             tensors bit for bit, metadata values exactly; exits 1 on any difference)

For each zoo model NAME (scripts/zoo_torch.py):
  build(NAME, num_classes) with num_classes 10 for lenet*, 1000 otherwise; every state_dict tensor
  except num_batches_tracked overwritten by scripts/weightgen.py ("swiftcnn seeded init v1", seed 0);
  eval mode; torch.set_num_threads(2); input = weightgen "input" of shape [2, C, H, W];
  logits = model(input) in float32.
  <NAME>.safetensors: tensor "logits" F32 [2, num_classes]; metadata (all strings):
    name, num_classes, input_shape "2,C,H,W", seed, generator "swiftcnn seeded init v1",
    torch, torchvision (versions),
    input_checksum  "SUM,SUMSQ": exact sum and sum of squares of the float32 input (math.fsum over
                    the values as float64, i.e. correctly rounded), each as Python repr (round-trips),
    weight_checksums JSON {key: exact float64 sum (math.fsum)} of the first 3 state_dict entries
                    (state_dict order, num_batches_tracked skipped),
    num_parameters  the model's parameter count,
    float64_rel_diff (unless --no-f64) max|logits_f32 - logits_f64| / max|logits_f64|, the same
                    model run in float64: how far torch's own float32 result is from exact.
Plus the real-torch LeNet-5 files:
  lenet5_torch.safetensors           state_dict of zoo_torch.LeNet5(10) right after torch.manual_seed(0)
                                     (torch's default init), written by safetensors.torch.save_file
  lenet5_torch_expected.safetensors  "input" [4,1,32,32] (weightgen "input", seed 0) and "logits" [4,10]
                                     of that model in eval mode (float32).
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torchvision
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import weightgen  # noqa: E402
import zoo_torch  # noqa: E402

REPO = os.path.dirname(HERE)
DEFAULT_OUT = os.path.join(REPO, "Tests", "fixtures", "zoo")


def fsum_checksums(a: np.ndarray) -> tuple[float, float]:
    v = a.astype(np.float64).ravel()
    return math.fsum(v.tolist()), math.fsum((v * v).tolist())  # v*v exact: float32 squares fit a double


def fill_model(model: torch.nn.Module, seed: int) -> dict:
    """Overwrite every state_dict entry but num_batches_tracked; return the first 3 checksums."""
    sd = model.state_dict()
    probes = {}
    with torch.no_grad():
        for key, t in sd.items():
            if key.endswith("num_batches_tracked"):
                continue
            v = weightgen.generate(key, tuple(t.shape), seed)
            if t.dtype != torch.float32:
                raise TypeError(f"{key}: expected float32, got {t.dtype}")
            t.copy_(torch.from_numpy(v))
            if len(probes) < 3:
                probes[key] = math.fsum(v.astype(np.float64).ravel().tolist())
    return probes


def make_model_fixture(name: str, out_dir: str, seed: int, f64: bool) -> dict:
    t0 = time.time()
    nc = zoo_torch.default_classes(name)
    model = zoo_torch.build(name, nc, seed=seed)
    probes = fill_model(model, seed)
    model.eval()
    c, h, w = zoo_torch.INPUT_SHAPES[name]
    shape = (2, c, h, w)
    x = weightgen.model_input(shape, seed)
    s, ss = fsum_checksums(x)
    with torch.no_grad():
        logits = model(torch.from_numpy(x)).contiguous()
    assert logits.dtype == torch.float32 and tuple(logits.shape) == (2, nc), logits.shape
    t_fwd = time.time() - t0
    meta = {
        "name": name,
        "num_classes": str(nc),
        "input_shape": ",".join(str(d) for d in shape),
        "seed": str(seed),
        "generator": weightgen.GENERATOR_NAME,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "input_checksum": f"{s!r},{ss!r}",
        "weight_checksums": json.dumps(probes),
        "num_parameters": str(zoo_torch.num_parameters(model)),
    }
    maxabs = float(logits.abs().max())
    rel = None
    if f64:
        model.double()
        with torch.no_grad():
            l64 = model(torch.from_numpy(x).double())
        rel = float((logits.double() - l64).abs().max() / l64.abs().max())
        meta["float64_rel_diff"] = f"{rel:.3e}"
    path = os.path.join(out_dir, f"{name}.safetensors")
    save_file({"logits": logits}, path, metadata=meta)
    info = {"name": name, "max_abs_logit": maxabs, "rel64": rel, "seconds": time.time() - t0,
            "fwd_seconds": t_fwd, "bytes": os.path.getsize(path), "first": logits[0, :3].tolist()}
    del model, logits
    gc.collect()
    return info


def make_lenet5_torch(out_dir: str, seed: int) -> None:
    torch.manual_seed(0)
    model = zoo_torch.LeNet5(10)
    sd = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(sd, os.path.join(out_dir, "lenet5_torch.safetensors"),
              metadata={"format": "pt", "model": "lenet5", "init": "torch default init after torch.manual_seed(0)",
                        "torch": torch.__version__})
    model.eval()
    x = torch.from_numpy(weightgen.model_input((4, 1, 32, 32), seed))
    with torch.no_grad():
        logits = model(x).contiguous()
    save_file({"input": x.contiguous(), "logits": logits},
              os.path.join(out_dir, "lenet5_torch_expected.safetensors"),
              metadata={"model": "lenet5", "weights": "lenet5_torch.safetensors",
                        "input": f"{weightgen.GENERATOR_NAME} 'input' seed {seed}",
                        "torch": torch.__version__})


def check(args) -> int:
    import tempfile
    from safetensors import safe_open
    with tempfile.TemporaryDirectory() as tmp:
        argv = [sys.argv[0], "--out", tmp, "--seed", str(args.seed)] + (["--no-f64"] if args.no_f64 else [])
        old, sys.argv = sys.argv, argv + args.names
        try:
            rc = main()
        finally:
            sys.argv = old
        if rc:
            return rc
        bad = 0
        for fn in sorted(os.listdir(tmp)):
            a = safe_open(os.path.join(tmp, fn), "np")
            ref_path = os.path.join(args.out, fn)
            if not os.path.exists(ref_path):
                print(f"{fn}: missing in {args.out}")
                bad += 1
                continue
            b = safe_open(ref_path, "np")
            ma, mb = dict(a.metadata() or {}), dict(b.metadata() or {})
            if args.no_f64:
                ma.pop("float64_rel_diff", None)
                mb.pop("float64_rel_diff", None)
            same = set(a.keys()) == set(b.keys()) and ma == mb and all(
                np.array_equal(a.get_tensor(k).view(np.uint8), b.get_tensor(k).view(np.uint8)) for k in a.keys())
            print(f"{fn}: {'identical' if same else 'DIFFERS'}")
            bad += not same
        return 1 if bad else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*", help="zoo names (default: all, plus the lenet5_torch files)")
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-f64", action="store_true", help="skip the float64 reference run")
    ap.add_argument("--check", action="store_true", help="regenerate elsewhere and compare with --out")
    args = ap.parse_args()
    if args.check:
        return check(args)
    torch.set_num_threads(2)
    torch.set_default_dtype(torch.float32)
    if not weightgen.self_test():
        print("weightgen self-test FAILED", file=sys.stderr)
        return 1
    os.makedirs(args.out, exist_ok=True)
    names = args.names or zoo_torch.NAMES
    for n in names:
        if n not in zoo_torch.NAMES:
            print(f"unknown model {n}", file=sys.stderr)
            return 2
    for n in names:
        info = make_model_fixture(n, args.out, args.seed, not args.no_f64)
        rel = "-" if info["rel64"] is None else f"{info['rel64']:.2e}"
        print(f"{n:<17} max|logit| {info['max_abs_logit']:<12.5g} f32-vs-f64 {rel:<9} "
              f"{info['bytes']:>6} B  {info['fwd_seconds']:6.1f}s/{info['seconds']:6.1f}s  "
              f"logits[0,:3] {['%.6g' % v for v in info['first']]}", flush=True)
    if not args.names:
        make_lenet5_torch(args.out, args.seed)
        print("lenet5_torch.safetensors, lenet5_torch_expected.safetensors written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
