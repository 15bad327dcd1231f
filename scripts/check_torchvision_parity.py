#!/usr/bin/env python3
"""Checks that real torchvision state_dicts, saved with safetensors, load into swiftcnn's Python
API as they are and reproduce PyTorch's logits (issue 3, "Done when", second point).

Needs torch, torchvision, safetensors and numpy (e.g. the virtual environment $TORCH_VENV) plus the built swiftcnn
Python extension; CI never runs this:

    make python                                            # builds .venv's swiftcnn
    $TORCH_VENV/bin/python scripts/check_torchvision_parity.py            # every torchvision name
    $TORCH_VENV/bin/python scripts/check_torchvision_parity.py resnet18 vgg16   # only these
    options: --all        also the swiftcnn-only models, written in torch in scripts/zoo_torch.py
             --no-perturb-bn   keep torch's default batch-norm state (gamma 1, beta 0, mean 0, var 1)
             --batch N    (default 2)   --seed S (default 0)
             --swiftcnn DIR   a directory holding the swiftcnn package (default: the one `make python`
                              installed into the repository's .venv, if `import swiftcnn` fails)

For each model NAME:
  1. torch.manual_seed(seed); m = torchvision.models.NAME(weights=None, num_classes=1000) (googlenet:
     aux_logits=False, transform_input=False, init_weights=True), i.e. torch's own random init. Unless
     --no-perturb-bn, every BatchNorm2d then gets random gamma, beta, running_mean and running_var from
     the same torch generator (torch's defaults 1/0/0/1 would not show a mix-up of those four tensors).
  2. safetensors.torch.save_file(m.state_dict(), file) -- num_batches_tracked included, as torch has it.
  3. s = swiftcnn.models.create(NAME); s.load(file)   (strict).
  4. x = torch.randn(batch, C, H, W); compare m.eval()(x) with s(x.numpy()):
     rel = max|swiftcnn - torch| / max|torch|; pass when rel <= 1e-4 (issue 3's tolerance).
  Also checked: s.num_parameters == sum(p.numel()); the order of s.state_dict() is torch's
  state_dict order without num_batches_tracked; and the way back -- s.save(file2) loads into torch
  with load_state_dict(strict=False) missing only num_batches_tracked, giving the same logits.
Prints one table row per model; exits 1 when any check fails.
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
import time

import numpy as np
import torch
import torchvision
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

TORCHVISION_NAMES = [
    "alexnet", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn",
    "googlenet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
]
TOLERANCE = 1e-4


def import_swiftcnn(directory: str | None):
    """Imports swiftcnn: from `directory`, else the environment, else the repository's .venv
    (only the swiftcnn package is linked in, through a temporary directory, so torch's
    environment keeps its own numpy)."""
    if directory is None:
        try:
            import swiftcnn  # noqa: F401
            return sys.modules["swiftcnn"]
        except ImportError:
            pass
        found = sorted(glob.glob(os.path.join(REPO, ".venv", "lib", "python*", "site-packages", "swiftcnn")))
        if not found:
            sys.exit("check_torchvision_parity: swiftcnn is not importable and the repository's .venv has "
                     "no swiftcnn package; run `make python` first or pass --swiftcnn DIR")
        directory = os.path.dirname(found[-1])
    link_dir = tempfile.mkdtemp(prefix="swiftcnn-path-")
    os.symlink(os.path.join(os.path.abspath(directory), "swiftcnn"), os.path.join(link_dir, "swiftcnn"))
    sys.path.insert(0, link_dir)
    import swiftcnn
    return swiftcnn


def build_torch(name: str, seed: int, perturb_bn: bool) -> torch.nn.Module:
    torch.manual_seed(seed)
    if name in TORCHVISION_NAMES:
        if name == "googlenet":
            m = torchvision.models.googlenet(weights=None, num_classes=1000, aux_logits=False,
                                             transform_input=False, init_weights=True)
        else:
            m = getattr(torchvision.models, name)(weights=None, num_classes=1000)
    else:
        sys.path.insert(0, HERE)
        import zoo_torch
        m = zoo_torch.build(name)
    if perturb_bn:
        with torch.no_grad():
            for mod in m.modules():
                if isinstance(mod, torch.nn.BatchNorm2d):
                    mod.weight.uniform_(0.5, 1.5)
                    mod.bias.normal_(0.0, 0.1)
                    mod.running_mean.normal_(0.0, 0.1)
                    mod.running_var.uniform_(0.5, 1.5)
    return m.eval()


def check(name: str, swiftcnn, args, workdir: str) -> tuple[bool, str]:
    t0 = time.perf_counter()
    tm = build_torch(name, args.seed, not args.no_perturb_bn)
    sd = tm.state_dict()
    path = os.path.join(workdir, f"{name}.safetensors")
    save_file(sd, path)

    sm = swiftcnn.models.create(name, None if name.startswith("lenet") else 1000)
    sm.load(path)
    _, c, h, w = sm.input_shape
    g = torch.Generator().manual_seed(args.seed + 1)
    x = torch.randn(args.batch, c, h, w, generator=g)
    with torch.no_grad():
        want = tm(x).double().numpy()
    got = sm(x.numpy())
    rel = float(np.max(np.abs(got.astype(np.float64) - want)) / np.max(np.abs(want)))

    torch_keys = [k for k in sd if not k.endswith("num_batches_tracked")]
    order_ok = list(sm.state_dict()) == torch_keys
    n_torch = sum(p.numel() for p in tm.parameters())
    count_ok = sm.num_parameters == n_torch

    # the way back: swiftcnn's file into torch
    back = os.path.join(workdir, f"{name}_back.safetensors")
    sm.save(back)
    tm2 = build_torch(name, args.seed + 7, not args.no_perturb_bn)
    missing, unexpected = tm2.load_state_dict(load_file(back), strict=False)
    back_ok = not unexpected and all(k.endswith("num_batches_tracked") for k in missing)
    with torch.no_grad():
        back_ok = back_ok and torch.equal(tm2(x), tm(x))
    os.remove(path)
    os.remove(back)

    ok = rel <= TOLERANCE and order_ok and count_ok and back_ok
    row = (f"| {name:15s} | {n_torch:>12,} | {'yes' if count_ok else 'NO':>5s} | {'yes' if order_ok else 'NO':>5s} "
           f"| {np.max(np.abs(want)):>9.3g} | {rel:>9.2e} | {'yes' if back_ok else 'NO':>4s} "
           f"| {'ok' if ok else 'FAIL':4s} | {time.perf_counter() - t0:5.1f} |")
    return ok, row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*")
    ap.add_argument("--all", action="store_true", help="also the swiftcnn-only models (scripts/zoo_torch.py)")
    ap.add_argument("--no-perturb-bn", action="store_true")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--swiftcnn", default=None)
    args = ap.parse_args()

    swiftcnn = import_swiftcnn(args.swiftcnn)
    torch.set_num_threads(2)
    names = args.names or (swiftcnn.models.names() if args.all else TORCHVISION_NAMES)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, swiftcnn {swiftcnn.__version__} "
          f"({os.path.dirname(swiftcnn.__file__)}); batch {args.batch}, seed {args.seed}, "
          f"batch-norm state {'torch default' if args.no_perturb_bn else 'randomized'}; pass: rel <= {TOLERANCE:g}")
    print("| model           |   parameters | count | order | max|logit| |  rel diff | back | pass |    s  |")
    print("|-----------------|-------------:|-------|-------|-----------:|----------:|------|------|------:|")
    failed = []
    with tempfile.TemporaryDirectory() as workdir:
        for name in names:
            ok, row = check(name, swiftcnn, args, workdir)
            print(row, flush=True)
            if not ok:
                failed.append(name)
    print("all passed" if not failed else f"FAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
