#!/usr/bin/env python3
"""The lecture's small CNN, defined in Python with swiftcnn.nn, trained on the digits, saved
to one model file that C opens by path (the main demo; `make demo` runs it).

    .venv/bin/python examples/lecture_cnn.py [--out build] [--epochs 8] [--threads 0]

The lecture's network: 3x3 convolutions 1 -> 128 -> 256 -> 512 channels, each followed by
ReLU and 2x2 max pooling, then a fully connected layer to the classes. Scaled so that it
trains in seconds on two cores:
  - the input: scikit-learn's 8x8 digits upsampled to 16x16 (swiftcnn.datasets.load_digits
    with size=16) rather than 32x32, so three 2x2 poolings leave 2x2 maps;
  - the widths: divided by 4, 1 -> 32 -> 64 -> 128 (about 1/16 of the multiply-adds);
  - the head: FC 128*2*2 -> 10 digits.
The recipe: Adam lr 0.002, batch 64, the trainer's seeded shuffle (seed 0), split 0 of the
digits (1,437 training / 360 held-out images).

Writes:
  build/lecture_cnn.safetensors          the model: graph + weights in ONE file (model.save)
  build/lecture_digits_test.safetensors  the held-out set: "images" [360, 1, 16, 16],
                                         "labels" [360] and Python's "predictions" [360]
                                         (float32), for examples/run_model.c
and prints the held-out accuracy as "held-out accuracy (Python): P% (C/N)".
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import swiftcnn
from swiftcnn import datasets, nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LECTURE_WIDTHS = (128, 256, 512)
WIDTH_DIVISOR = 4
SIZE = 16


def lecture_cnn(widths, classes: int = 10, size: int = SIZE) -> nn.Sequential:
    """3x3 conv -> ReLU -> 2x2 max pool, three times, then flatten and one linear layer."""
    c1, c2, c3 = widths
    final = size // 8  # three 2x2 poolings
    return nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c2, c3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(c3 * final * final, classes))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "build"), help="output directory (default build/)")
    ap.add_argument("--epochs", type=int, default=8, help="training epochs (default 8)")
    ap.add_argument("--threads", type=int, default=0, help="library threads (0: one per CPU)")
    args = ap.parse_args()
    swiftcnn.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)

    widths = tuple(w // WIDTH_DIVISOR for w in LECTURE_WIDTHS)
    print("The lecture's CNN: 3x3 convs 1 -> 128 -> 256 -> 512, each with ReLU and 2x2 max pooling, "
          "then FC -> classes.")
    print(f"Scaled for 2 CPU cores: digits at {SIZE}x{SIZE} (8x8 upsampled; 3 poolings leave 2x2), widths / "
          f"{WIDTH_DIVISOR}: 1 -> {' -> '.join(map(str, widths))}, FC {widths[2]}*2*2 -> 10 digits.")
    net = lecture_cnn(widths)
    print(net)
    model = swiftcnn.Model(net, input_shape=(1, SIZE, SIZE), name="lecture_cnn")
    full = swiftcnn.Model(lecture_cnn(LECTURE_WIDTHS), input_shape=(1, SIZE, SIZE), name="lecture_cnn_full")
    print(f"{model.num_parameters:,} parameters, {model.macs():,} multiply-adds per image "
          f"(the lecture's widths: {full.num_parameters:,} and {full.macs():,})")
    del full

    d = datasets.load_digits(seed=0, size=SIZE)
    print(f"training on {len(d.y_train)} digits {d.x_train.shape[1:]}, {args.epochs} epochs, Adam lr 0.002, "
          f"batch 64, {swiftcnn.get_num_threads()} threads", flush=True)
    t0 = time.monotonic()
    model.fit(d.x_train, d.y_train, epochs=args.epochs, batch_size=64, optimizer="adam", lr=0.002, seed=0,
              verbose=True)
    seconds = time.monotonic() - t0
    _, accuracy = model.evaluate(d.x_test, d.y_test)
    predictions = model.predict(d.x_test)
    n = len(d.y_test)
    correct = int((predictions == d.y_test).sum())
    assert abs(correct / n - accuracy) < 1e-9, "evaluate and predict disagree"
    print(f"trained in {seconds:.1f} s")
    print(f"held-out accuracy (Python): {100 * accuracy:.2f}% ({correct}/{n})")

    path = os.path.join(args.out, "lecture_cnn.safetensors")
    test = os.path.join(args.out, "lecture_digits_test.safetensors")
    model.save(path)
    swiftcnn.write_safetensors(test, {"images": d.x_test, "labels": d.y_test.astype(np.float32),
                                      "predictions": predictions.astype(np.float32)})
    # The file alone is the model: open it again and check it predicts the same.
    reopened = swiftcnn.load(path)
    same = bool(np.array_equal(reopened.predict(d.x_test), predictions))
    print(f"saved {os.path.relpath(path)} ({os.path.getsize(path):,} bytes: graph + weights) and "
          f"{os.path.relpath(test)}")
    print(f"swiftcnn.load({os.path.relpath(path)!r}) predicts the same classes: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
