#!/usr/bin/env python3
"""PyTorch's reference accuracy for the digits demo: Tests/fixtures/training/digits_torch.json.

Needs torch and scikit-learn (e.g. $TORCH_VENV/bin/python); not run by CI or `make demo`,
which read the committed JSON.

    $TORCH_VENV/bin/python scripts/make_digits_fixture.py [--epochs 30] [--splits 0 1 2 3 4]

For each split seed s: the data of swiftcnn.datasets.load_digits(seed=s) (bilinear 8x8 -> 32x32,
the seeded 80/20 split, standardized with the training split's statistics; that module is
loaded by path, so the swiftcnn extension is not needed); the zoo's `lenet5` in PyTorch
(scripts/zoo_torch.py: tanh, average pooling) with swiftcnn's seeded weights (weightgen, seed
0 -- the weights `swiftcnn.models.lenet5()` starts from); SGD lr 0.05 momentum 0.9, cross-entropy
(mean over the batch), batch 64, 30 epochs, the last batch of an epoch smaller (1437 = 22*64 +
29), and the SAME batch order as swiftcnn's trainer with seed s: datasets.epoch_order(n, s,
epoch) (a Fisher-Yates permutation from the counter-based generator). Torch runs with 2 threads.
The held-out accuracy of the final weights is recorded per split.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import weightgen  # noqa: E402
import zoo_torch  # noqa: E402


def load_datasets_module():
    path = os.path.join(ROOT, "bindings", "python", "swiftcnn", "datasets.py")
    spec = importlib.util.spec_from_file_location("swiftcnn_datasets", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


RECIPE = {
    "model": "lenet5",
    "init": "swiftcnn seeded init v1, seed 0 (scripts/weightgen.py)",
    "optimizer": "SGD",
    "lr": 0.05,
    "momentum": 0.9,
    "nesterov": False,
    "weight_decay": 0.0,
    "batch_size": 64,
    "epochs": 30,
    "loss": "cross-entropy, mean over the batch",
    "shuffle": "datasets.epoch_order(n_train, seed=split seed, epoch): Fisher-Yates, bits('shuffle', seed + epoch, i) % (i + 1)",
    "last_batch": "kept (smaller)",
    "data": "sklearn load_digits, bilinear 8x8 -> 32x32 (half-pixel centres), split permutation('digits.split', seed): "
            "first ceil(0.2 N) = 360 held out, standardized with the training split's mean/std",
}


def train_split(ds, seed: int, epochs: int, log) -> dict:
    d = ds.load_digits(seed=seed)
    model = zoo_torch.build("lenet5")
    state = weightgen.fill_state_dict(model.state_dict(), seed=0)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    opt = torch.optim.SGD(model.parameters(), lr=RECIPE["lr"], momentum=RECIPE["momentum"])
    x = torch.from_numpy(d.x_train)
    y = torch.from_numpy(d.y_train)
    n = len(y)
    bs = RECIPE["batch_size"]
    epoch_loss = []
    epoch_acc = []
    t0 = time.time()
    for epoch in range(epochs):
        model.train()
        order = torch.from_numpy(ds.epoch_order(n, seed, epoch))
        total, correct = 0.0, 0
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            xb, yb = x[idx], y[idx]
            opt.zero_grad(set_to_none=True)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            correct += int((logits.argmax(1) == yb).sum())
        epoch_loss.append(total / n)
        epoch_acc.append(correct / n)
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(d.x_test))
        test_loss = float(F.cross_entropy(logits, torch.from_numpy(d.y_test)))
        pred = logits.argmax(1).numpy()
    correct = int((pred == d.y_test).sum())
    acc = correct / len(d.y_test)
    log(f"split {seed}: held-out accuracy {100 * acc:.2f}% ({correct}/{len(d.y_test)}), test loss {test_loss:.4f}, "
        f"last epoch train loss {epoch_loss[-1]:.4f}, {time.time() - t0:.1f} s")
    return {
        "seed": seed,
        "n_train": n,
        "n_test": int(len(d.y_test)),
        "test_correct": correct,
        "test_accuracy": acc,
        "test_loss": test_loss,
        "train_loss_per_epoch": epoch_loss,
        "train_accuracy_per_epoch": epoch_acc,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=RECIPE["epochs"])
    ap.add_argument("--splits", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--out", default=os.path.join(ROOT, "Tests", "fixtures", "training", "digits_torch.json"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    ds = load_datasets_module()
    recipe = dict(RECIPE, epochs=args.epochs)
    splits = [train_split(ds, s, args.epochs, lambda m: print(m, flush=True)) for s in args.splits]
    import sklearn
    doc = {
        "what": "PyTorch LeNet-5 held-out accuracy on scikit-learn's digits, per seeded split "
                "(scripts/make_digits_fixture.py); the swiftcnn demo compares against test_accuracy",
        "recipe": recipe,
        "torch_version": torch.__version__,
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "python": platform.python_version(),
        "torch_threads": torch.get_num_threads(),
        "splits": splits,
        "mean_test_accuracy": sum(s["test_accuracy"] for s in splits) / len(splits),
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
