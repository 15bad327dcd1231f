#!/usr/bin/env python3
"""Train LeNet-5 on scikit-learn's handwritten digits with swiftcnn (the main demo's first act).

    .venv/bin/python examples/train_digits.py                 # split 0: train, save, report
    .venv/bin/python examples/train_digits.py --table         # splits 1-4 too, then the table vs PyTorch

The data: swiftcnn.datasets.load_digits(seed) -- 1,797 real 8x8 digits shipped inside
scikit-learn, bilinearly upsampled to 32x32, a seeded 80/20 split (1,437 / 360), standardized
with the training split's statistics. The recipe (the one PyTorch's reference ran, see
scripts/make_digits_fixture.py): swiftcnn's `lenet5` (tanh, average pooling) from its
seeded initial weights, SGD lr 0.05 momentum 0.9, batch 64, 30 epochs, cross-entropy, the
batch order of the trainer's seeded shuffle with seed = the split's seed.

Default mode (split 0): trains with a progress bar, prints the held-out accuracy, and saves
  build/digits_lenet5.safetensors   the trained weights (torchvision-style state dict)
  build/digits_test.safetensors     the held-out set: "images" [360, 1, 32, 32], "labels" [360]
  build/digits_results.json         the held-out accuracy per split trained so far
for examples/classify_digits.c, which classifies the held-out set from C.

--table: trains the other splits (1-4) without a progress bar, then prints swiftcnn's
held-out accuracy per split next to PyTorch's (Tests/fixtures/training/digits_torch.json)
and the difference; exits 1 when a split is more than 0.5 points below PyTorch.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

import swiftcnn
from swiftcnn import datasets, models, optim

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TORCH_FIXTURE = os.path.join(ROOT, "Tests", "fixtures", "training", "digits_torch.json")
RECIPE = dict(epochs=30, batch_size=64, lr=0.05, momentum=0.9)
TOLERANCE_POINTS = 0.5


def train_split(seed: int, verbose: bool):
    """Trains lenet5 on split `seed`; returns (model, data, held-out accuracy, seconds)."""
    d = datasets.load_digits(seed=seed)
    model = models.lenet5()                       # swiftcnn seeded init v1, seed 0
    opt = optim.SGD(model, lr=RECIPE["lr"], momentum=RECIPE["momentum"])
    t0 = time.monotonic()
    model.fit(d.x_train, d.y_train, epochs=RECIPE["epochs"], batch_size=RECIPE["batch_size"], optimizer=opt,
              seed=seed, verbose=verbose, validation_data=(d.x_test, d.y_test) if verbose else None)
    seconds = time.monotonic() - t0
    _, accuracy = model.evaluate(d.x_test, d.y_test)
    return model, d, accuracy, seconds


def load_results(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--table", action="store_true", help="train splits 1-4 and print the table vs PyTorch")
    ap.add_argument("--out", default=os.path.join(ROOT, "build"), help="output directory (default build/)")
    ap.add_argument("--threads", type=int, default=0, help="library threads (0: one per CPU)")
    args = ap.parse_args()
    swiftcnn.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    results_path = os.path.join(args.out, "digits_results.json")
    results = load_results(results_path)

    if not args.table:
        print(f"swiftcnn {swiftcnn.__version__}: LeNet-5 on scikit-learn's digits, split 0 "
              f"(SGD lr {RECIPE['lr']} momentum {RECIPE['momentum']}, batch {RECIPE['batch_size']}, "
              f"{RECIPE['epochs']} epochs, {swiftcnn.get_num_threads()} threads)")
        model, d, accuracy, seconds = train_split(0, verbose=True)
        n = len(d.y_test)
        predictions = model.predict(d.x_test)
        correct = int((predictions == d.y_test).sum())
        assert abs(correct / n - accuracy) < 1e-9, "evaluate and predict disagree"
        print(f"trained on {len(d.y_train)} digits in {seconds:.1f} s")
        print(f"held-out accuracy (Python): {100 * accuracy:.2f}% ({correct}/{n})")
        weights = os.path.join(args.out, "digits_lenet5.safetensors")
        test = os.path.join(args.out, "digits_test.safetensors")
        model.save(weights)
        swiftcnn.write_safetensors(test, {"images": d.x_test, "labels": d.y_test.astype(np.float32)})
        print(f"saved {os.path.relpath(weights)} and {os.path.relpath(test)}")
        results = {"0": {"accuracy": accuracy, "correct": correct, "n": n, "seconds": seconds}}
        with open(results_path, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
        return 0

    with open(TORCH_FIXTURE, encoding="utf-8") as f:
        torch_ref = json.load(f)
    torch_acc = {s["seed"]: s["test_accuracy"] for s in torch_ref["splits"]}
    seeds = sorted(torch_acc)
    for seed in seeds:
        if str(seed) in results:
            continue
        _, d, accuracy, seconds = train_split(seed, verbose=False)
        n = len(d.y_test)
        results[str(seed)] = {"accuracy": accuracy, "correct": int(round(accuracy * n)), "n": n, "seconds": seconds}
        print(f"split {seed}: trained in {seconds:.1f} s, held-out accuracy {100 * accuracy:.2f}%", flush=True)
    with open(results_path, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)

    print()
    print(f"Held-out accuracy, LeNet-5, same recipe, data, initial weights and batch order "
          f"(PyTorch {torch_ref['torch_version']}):")
    print(f"  {'split':>5}  {'swiftcnn':>9}  {'PyTorch':>9}  {'difference':>10}")
    worst = None
    for seed in seeds:
        ours = 100 * results[str(seed)]["accuracy"]
        theirs = 100 * torch_acc[seed]
        diff = ours - theirs
        worst = diff if worst is None else min(worst, diff)
        print(f"  {seed:>5}  {ours:8.2f}%  {theirs:8.2f}%  {diff:+9.2f} pt")
    mean_ours = np.mean([100 * results[str(s)]["accuracy"] for s in seeds])
    mean_theirs = np.mean([100 * torch_acc[s] for s in seeds])
    print(f"  {'mean':>5}  {mean_ours:8.2f}%  {mean_theirs:8.2f}%  {mean_ours - mean_theirs:+9.2f} pt")
    ok = worst is not None and worst >= -TOLERANCE_POINTS
    print(f"target: within {TOLERANCE_POINTS} points of PyTorch or above on every split: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
