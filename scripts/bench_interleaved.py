#!/usr/bin/env python3
"""swiftcnn against ONNX Runtime in one process, calls alternating: the steadier comparison
on a shared, noisy machine.

scripts/bench_compare.py runs each engine in its own process, one after the other; on a
machine whose speed moves by tens of percent within seconds, those medians can disagree
from run to run. Here both engines live in one process and take turns call by call (ours
then ORT, then ORT then ours, ...), so each pair sees nearly the same machine, and the
median of the per-pair ratios is reported with its quartiles.

Needs onnxruntime, and the ONNX files that bench_compare.py exports (torch and torchvision
for the first export; cached afterwards, default ~/.cache/swiftcnn-bench/onnx):

    $TORCH_VENV/bin/python scripts/bench_interleaved.py --models resnet18,resnet50 --threads 1
    LD_LIBRARY_PATH=DIR ... also times another build of libswiftcnn.so.0 (e.g. a variant
    copied into DIR) with the installed Python package.

swiftcnn: the zoo model (models.create, its seeded weights) through the Python binding;
ORT: CPUExecutionProvider, intra_op_num_threads = T, inter_op 1, sequential, ORT_ENABLE_ALL,
spinning off (its worker threads sleep between calls, as ours do). Same input (the fixtures'
seeded input). Timings include each engine's Python call overhead (a few µs).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default="resnet18,resnet50,googlenet,alexnet")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--pairs", type=int, default=25)
    p.add_argument("--cache", default=os.path.expanduser("~/.cache/swiftcnn-bench/onnx"))
    args = p.parse_args()
    if args.batch < 1 or args.threads < 1 or args.pairs < 1:
        p.error("--batch, --threads and --pairs must be at least 1")

    import onnxruntime as ort
    import swiftcnn
    from swiftcnn import models
    import bench_compare
    import weightgen

    swiftcnn.set_num_threads(args.threads)
    print(f"batch {args.batch}, {args.threads} thread(s), {args.pairs} pairs, alternating in one process "
          f"(swiftcnn {swiftcnn.__version__}, onnxruntime {ort.__version__})\n")
    print("| model | swiftcnn ms | ORT ms | swiftcnn / ORT (median of pairs) | quartiles |")
    print("|---|---:|---:|---:|---|")
    for name in args.models.split(","):
        onnx_path = bench_compare.export_onnx(name, args.batch, args.cache)
        x = weightgen.model_input(bench_compare.input_shape(name, args.batch))
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        feed = {sess.get_inputs()[0].name: x}
        model = models.create(name)
        for _ in range(3):
            model(x)
            sess.run(None, feed)
        ours, theirs, ratios = [], [], []
        for i in range(args.pairs):
            first_ours = i % 2 == 0
            for turn in range(2):
                t0 = time.perf_counter()
                if (turn == 0) == first_ours:
                    model(x)
                    ours.append(time.perf_counter() - t0)
                else:
                    sess.run(None, feed)
                    theirs.append(time.perf_counter() - t0)
            ratios.append(ours[-1] / theirs[-1])
        q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
        print(f"| {name} | {1e3 * statistics.median(ours):.2f} | {1e3 * statistics.median(theirs):.2f} | "
              f"{statistics.median(ratios):.3f} | {q[0]:.3f}-{q[2]:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
