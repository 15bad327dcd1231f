#!/usr/bin/env python3
"""Per node, swiftcnn's profiler beside ONNX Runtime's, for one zoo model: where the time goes
on each side and which nodes lose.

    $TORCH_VENV/bin/python scripts/bench_nodes.py resnet50 --batch 1 --threads 1 --rounds 8

Both engines run in this process and take turns: each round is `Model.profile(x, runs=R)` (its
per-node median ms) and then R runs of an ORT session created with `enable_profiling` (ORT
records every node's kernel time). Per node: ours is the median over the rounds, ORT's the
median over its runs after 3 warm-up runs. Needs onnxruntime and the ONNX files that
bench_compare.py exports (torch and torchvision for the first export; cached afterwards).

Matching. ORT fuses differently (a convolution with its ReLU is named after the ReLU, or the
layout reorder around it): its nodes are matched to ours by the module path in their names
(`/layer2/layer2.0/conv2/...` -> `layer2.0.conv2`, `/inception3b/branch2/branch2.1/...` ->
`inception3b.branch2.1`). A fused node of ours (`a.conv+b.conv`, GoogLeNet's 1×1 heads) is
compared with the sum of its parts; ORT nodes that match nothing (reorders, flatten) are
listed at the end. The table lists our nodes by how much slower than ORT's they are.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def ort_key(name: str) -> str:
    """`/layer2/layer2.0/conv2/Conv_output_0_nchwc` -> `layer2.0.conv2`,
    `/inception3b/branch2/branch2.1/Relu_output_0_nchwc` -> `inception3b.branch2.1`."""
    name = name.split(" ")[-1]                      # "fused /classifier/classifier.1/Gemm"
    out: list[str] = []
    for s in [s for s in name.split("/")[1:-1] if s]:
        # torch's export repeats the parent in a child's name: layer2 / layer2.0 / conv2.
        if out and s.startswith(out[-1] + "."):
            out[-1] = s
        else:
            out.append(s)
    return ".".join(out)


def attribute(key: str, ours: set[str]) -> str:
    """The node of ours an ORT key belongs to: itself, or the convolution ORT fused into the
    ReLU it is named after (torchvision's ResNet blocks: `relu` follows conv1 and `relu_1`
    conv2; a Sequential's `features.1` follows the conv `features.0`)."""
    if key in ours:
        return key
    head, _, last = key.rpartition(".")
    prefix = head + "." if head else ""
    for relu, conv in (("relu", "conv1"), ("relu_1", "conv2")):
        if last == relu and prefix + conv in ours:
            return prefix + conv
    if last.isdigit() and prefix + str(int(last) - 1) in ours:
        return prefix + str(int(last) - 1)
    return key


def our_parts(node: str) -> list[str]:
    """`inception3b.branch1.conv+inception3b.branch2.0.conv` -> its parts, `.conv` dropped."""
    return [p[:-5] if p.endswith(".conv") else p for p in node.split("+")]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--runs", type=int, default=4, help="runs per round on each side")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/swiftcnn-bench/onnx"))
    args = ap.parse_args()
    if min(args.batch, args.threads, args.rounds, args.runs, args.top) < 1:
        ap.error("--batch, --threads, --rounds, --runs and --top must be at least 1")

    import onnxruntime as ort
    import swiftcnn
    from swiftcnn import models
    import bench_compare
    import weightgen

    swiftcnn.set_num_threads(args.threads)
    x = weightgen.model_input(bench_compare.input_shape(args.model, args.batch))
    model = models.create(args.model)
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.enable_profiling = True
    so.profile_file_prefix = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"bench_nodes_{os.getpid()}")
    sess = ort.InferenceSession(bench_compare.export_onnx(args.model, args.batch, args.cache), so,
                                providers=["CPUExecutionProvider"])
    feed = {sess.get_inputs()[0].name: x}
    warm = 3
    for _ in range(warm):
        sess.run(None, feed)
        model(x)
    ours: dict[str, list[float]] = collections.OrderedDict()
    kernels: dict[str, str] = {}
    totals = []
    for _ in range(args.rounds):
        prof = model.profile(x, runs=args.runs, warmup=1)
        totals.append(prof.total_ms)
        for row in prof.rows:
            ours.setdefault(row.node, []).append(row.ms)
            kernels[row.node] = row.kernel
        for _ in range(args.runs):
            sess.run(None, feed)
    trace = sess.end_profiling()
    try:
        with open(trace) as f:
            events = json.load(f)
    finally:
        os.remove(trace)
    # Per ORT node its median over the timed runs, then summed by the node of ours it belongs to.
    runs_by_node: dict[str, list[float]] = collections.defaultdict(list)
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
            runs_by_node[e["name"][:-len("_kernel_time")]].append(e["dur"] / 1000)
    names = set()
    for node in ours:
        names.update(our_parts(node))
    theirs: dict[str, float] = collections.defaultdict(float)
    for node, times in runs_by_node.items():
        theirs[attribute(ort_key(node), names)] += statistics.median(times[warm:] or times)

    rows = []
    used = set()
    for node, times in ours.items():
        parts = our_parts(node)
        t = sum(theirs.get(p, 0.0) for p in parts)
        used.update(parts)
        rows.append((statistics.median(times) - t, node, kernels[node], statistics.median(times), t))
    print(f"{args.model}, batch {args.batch}, {args.threads} thread(s), {args.rounds} rounds x {args.runs} runs "
          f"(swiftcnn {swiftcnn.__version__}, onnxruntime {ort.__version__})")
    print(f"swiftcnn forward {statistics.median(totals):.2f} ms (profile total), nodes "
          f"{sum(r[3] for r in rows):.2f} ms; ORT nodes {sum(theirs.values()):.2f} ms\n")
    print("| node | kernel | swiftcnn ms | ORT ms | difference |")
    print("|---|---|---:|---:|---:|")
    for d, node, kernel, ms, t in sorted(rows, reverse=True)[:args.top]:
        print(f"| {node} | {kernel} | {ms:.3f} | {t:.3f} | {d:+.3f} |")
    rest = {k: round(v, 3) for k, v in theirs.items() if k not in used and v >= 0.01}
    if rest:
        print(f"\nORT nodes matched to none of ours (ms): {rest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
