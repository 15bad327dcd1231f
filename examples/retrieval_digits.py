"""Retrieval on the digits: the nearest training images to a test digit by LeNet-5's features.

    .venv/bin/python examples/retrieval_digits.py [--weights build/digits_lenet5.safetensors]

Uses the LeNet-5 that examples/train_digits.py trained on scikit-learn's digits (split 0)
and saved to build/digits_lenet5.safetensors (`make demo` runs that first). Embeds the
training and the held-out digits with Model.embed -- by default the input of the last linear
layer, the 84 F6 features --, puts the training features in a swiftcnn.retrieval.Index
(cosine), and shows the five nearest training images for a few held-out digits (labels,
similarities, and the images as ASCII art side by side). Then precision@5 over the whole
held-out split -- the fraction of the five neighbours that have the query's label, averaged --
for the features and, as the baseline, for the raw 32x32 pixels, each by cosine and by L2.
Also saves the index (build/digits_index.safetensors) and the neighbours found
(build/digits_retrieval.safetensors) for examples/retrieval_search.c, which searches the same
index from C. Exits 1 when the weights are missing or the features do worse than the pixels.
"""
import argparse
import os
import sys
import time

import numpy as np

import swiftcnn
from swiftcnn import datasets, models
from swiftcnn.retrieval import Index, precision_at_k

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHADES = " .:-=+*#%@"
SHOWN = 4       # held-out digits shown with their neighbours
K = 5


def ascii_digit(image: np.ndarray) -> list:
    """A [32, 32] image as 8 lines of 16 characters (4x4 blocks averaged, two characters per
    block so that it looks square), darkest ink as '@'."""
    blocks = image.reshape(8, 4, 8, 4).mean(axis=(1, 3))
    lo, hi = blocks.min(), blocks.max()
    levels = np.zeros_like(blocks, dtype=int) if hi <= lo else \
        np.round((blocks - lo) / (hi - lo) * (len(SHADES) - 1)).astype(int)
    return ["".join(SHADES[v] * 2 for v in row) for row in levels]


def side_by_side(images: list, captions: list) -> str:
    columns = [ascii_digit(im) for im in images]
    lines = ["  ".join(f"{c:<16}" for c in captions)]
    for r in range(8):
        lines.append("  ".join(col[r] for col in columns))
    return "\n".join(lines)


def evaluate(train: np.ndarray, test: np.ndarray, y_train: np.ndarray, y_test: np.ndarray, metric: str):
    index = Index(train.shape[1], metric)
    index.add(train)
    t0 = time.perf_counter()
    ids, scores = index.search(test, k=K)
    seconds = time.perf_counter() - t0
    return precision_at_k(y_train[ids], y_test), ids, scores, seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=os.path.join(ROOT, "build", "digits_lenet5.safetensors"))
    args = ap.parse_args()
    if not os.path.exists(args.weights):
        print(f"{os.path.relpath(args.weights)} is missing: run examples/train_digits.py first", file=sys.stderr)
        return 1

    d = datasets.load_digits(seed=0)               # the split train_digits.py trained on
    model = models.lenet5()
    model.load(args.weights)
    t0 = time.perf_counter()
    f_train = model.embed(d.x_train)               # [1437, 84]: the input of the last linear layer
    f_test = model.embed(d.x_test)                 # [360, 84]
    embed_s = time.perf_counter() - t0
    print(f"LeNet-5 features (the input of its last linear layer, classifier.2): "
          f"{f_train.shape[1]} per image; {len(f_train)} training and {len(f_test)} held-out digits "
          f"embedded in {embed_s:.2f} s")

    p_feat, ids, scores, search_s = evaluate(f_train, f_test, d.y_train, d.y_test, "cosine")
    # For examples/retrieval_search.c: the index and what Python found.
    out_dir = os.path.dirname(os.path.abspath(args.weights))
    index = Index(f_train.shape[1], "cosine")
    index.add(f_train)                            # ids: training positions 0 .. 1436
    index.save(os.path.join(out_dir, "digits_index.safetensors"))
    swiftcnn.write_safetensors(os.path.join(out_dir, "digits_retrieval.safetensors"),
                               {"train_labels": d.y_train.astype(np.float32), "ids": ids.astype(np.float32)})
    print(f"index: {len(f_train)} training vectors, cosine; {len(f_test)} queries x top-{K} "
          f"searched in {1000 * search_s:.1f} ms\n")

    images_train = d.x_train[:, 0]
    images_test = d.x_test[:, 0]
    shown = np.linspace(0, len(d.y_test) - 1, SHOWN).astype(int)
    for q in shown:
        labels = d.y_train[ids[q]]
        print(f"held-out digit #{q} (label {d.y_test[q]}): nearest training labels "
              f"{labels.tolist()}, cosine similarities {', '.join(f'{v:.3f}' for v in scores[q])}")
        captions = [f"query: {d.y_test[q]}"] + [f"#{i}: {l} ({s:.2f})" for i, l, s in zip(ids[q], labels, scores[q])]
        print(side_by_side([images_test[q]] + [images_train[i] for i in ids[q]], captions))
        print()

    pixels_train = d.x_train.reshape(len(d.x_train), -1)
    pixels_test = d.x_test.reshape(len(d.x_test), -1)
    rows = [("LeNet-5 features (84)", "cosine", p_feat),
            ("LeNet-5 features (84)", "l2", evaluate(f_train, f_test, d.y_train, d.y_test, "l2")[0]),
            ("raw pixels (1024)", "cosine", evaluate(pixels_train, pixels_test, d.y_train, d.y_test, "cosine")[0]),
            ("raw pixels (1024)", "l2", evaluate(pixels_train, pixels_test, d.y_train, d.y_test, "l2")[0])]
    print(f"precision@{K} over the {len(d.y_test)} held-out digits "
          f"(fraction of the {K} nearest training digits with the query's label):")
    for what, metric, p in rows:
        print(f"  {what:<22} {metric:<6}  {100 * p:6.2f}%")
    best_pixels = max(rows[2][2], rows[3][2])
    if p_feat < best_pixels:
        print("the learned features retrieve WORSE than the raw pixels", file=sys.stderr)
        return 1
    print(f"the learned features retrieve better than the raw pixels: "
          f"{100 * p_feat:.2f}% vs {100 * best_pixels:.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
