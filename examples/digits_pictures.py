#!/usr/bin/env python3
"""Pictures of what the digits LeNet-5 learned (a step of the main demo).

    .venv/bin/python examples/digits_pictures.py [--out build] [--index 2]

Loads the network examples/train_digits.py trained (build/digits_lenet5.safetensors) and its
held-out digits (build/digits_test.safetensors), and writes with swiftcnn.viz:

    digits_filters_conv1.png        C1's six learned 5x5 filters (features.0.weight)
    digits_filters_conv2.png        C3's 16 filters, one grey tile per input map (features.3.weight)
    digits_activations_conv1.png    C1's six 28x28 feature maps for one held-out digit (features.0)
    digits_activations_conv2.png    C3's sixteen 10x10 feature maps for that digit (features.3)
    digits_receptive_field.png      what one C3 unit sees of the digit, layer by layer

Filters are scaled per filter (most negative weight black, most positive white), feature maps
per map (smallest value black, largest white). The same pictures from the command line:

    .venv/bin/python -m swiftcnn.viz filters lenet5 features.0 --weights build/digits_lenet5.safetensors -o f.png
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

import swiftcnn
from swiftcnn import models, viz

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=os.path.join(ROOT, "build"), help="output directory (default: build/)")
    p.add_argument("--weights", default=os.path.join(ROOT, "build", "digits_lenet5.safetensors"))
    p.add_argument("--test", default=os.path.join(ROOT, "build", "digits_test.safetensors"))
    p.add_argument("--index", type=int, default=2, help="which held-out digit (default 2, a 3)")
    args = p.parse_args()
    for f in (args.weights, args.test):
        if not os.path.isfile(f):
            print(f"digits_pictures: {f} is missing; run examples/train_digits.py first", file=sys.stderr)
            return 1
    model = models.lenet5()
    model.load(args.weights)
    images = swiftcnn.read_safetensors(args.test, "images")
    labels = swiftcnn.read_safetensors(args.test, "labels")
    if not 0 <= args.index < images.shape[0]:
        print(f"digits_pictures: --index must be 0 to {images.shape[0] - 1}", file=sys.stderr)
        return 1
    x = np.ascontiguousarray(images[args.index:args.index + 1])
    predicted = int(model.predict(x)[0])
    os.makedirs(args.out, exist_ok=True)

    def out(name: str) -> str:
        return os.path.join(args.out, name)

    written = [
        ("digits_filters_conv1.png", viz.filters(model, "features.0.weight", path=out("digits_filters_conv1.png"))),
        ("digits_filters_conv2.png", viz.filters(model, "features.3.weight", scale=4,
                                                 path=out("digits_filters_conv2.png"))),
        ("digits_activations_conv1.png", viz.activations(model, x, "features.0", scale=3,
                                                         path=out("digits_activations_conv1.png"))),
        ("digits_activations_conv2.png", viz.activations(model, x, "features.3", scale=8,
                                                         path=out("digits_activations_conv2.png"))),
        # unit (2, 2) of C3's 10x10 output: a 14x14 field, drawn over the digit
        ("digits_receptive_field.png", viz.receptive_field(model, "features.3", 2, 2, x[0], scale=8,
                                                           path=out("digits_receptive_field.png"))),
    ]
    print(f"held-out digit {args.index}: label {int(labels[args.index])}, predicted {predicted}")
    for name, pic in written:
        print(f"  {out(name)}  {pic.shape[1]}x{pic.shape[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
