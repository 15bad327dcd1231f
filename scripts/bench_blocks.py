#!/usr/bin/env python3
"""Graph models vs ONNX Runtime, side by side: MobileNet-style blocks built with swiftcnn.nn.

Needs torch, onnx and onnxruntime (run it with $TORCH_VENV/bin/python) and a built
swiftcnn (`make python`: the project's .venv runs the swiftcnn side). Not run by CI.

    $TORCH_VENV/bin/python scripts/bench_blocks.py --threads 2 --runs 30 --rounds 3

Each block is built twice from the same description: in torch (exported to ONNX, opset 17,
static shapes, then run by ONNX Runtime with ORT_ENABLE_ALL) and in swiftcnn.nn (saved as a
swiftcnn model file with torch's weights, opened with swiftcnn.load). Torch's initial
weights are used with batch-norm statistics randomized, in eval mode. Outputs are checked
against torch before timing. Each round runs swiftcnn then ORT, each in a fresh process
(--warmup runs and at least 1 s, then --runs timed runs: the median); the table gives the
median over rounds and the ratio swiftcnn / ORT (below 1: swiftcnn is faster).

Blocks (batch 1):
  dw_separable   MobileNet v1's depthwise-separable block at 56×56: depthwise 3×3 on 128
                 channels + BN + ReLU6, pointwise 1×1 128 → 256 + BN + ReLU6
  dw_stride2     the same with a stride-2 depthwise conv, 112×112 → 56×56, 64 → 128 channels
  inverted_res   MobileNet v2's inverted residual at 28×28: 1×1 32 → 192 + BN + ReLU6,
                 depthwise 3×3 + BN + ReLU6, 1×1 192 → 32 + BN, plus the input
  se_block       a squeeze-excitation block at 28×28 on 96 channels: global average pool,
                 1×1 96 → 24 + ReLU, 1×1 24 → 96 + hardsigmoid, multiply
  mbv3_se5       MobileNet v3-large's 5×5 block at 28×28: 1×1 40 → 120 + BN + ReLU, depthwise
                 5×5 + BN + ReLU, squeeze-excitation (120 → 32 + ReLU, 32 → 120 +
                 hardsigmoid, multiply), 1×1 120 → 40 + BN, plus the input
  mbv3_hs        MobileNet v3-large's hardswish block at 14×14: 1×1 112 → 672 + BN +
                 hardswish, depthwise 3×3 + BN + hardswish, squeeze-excitation (672 → 168,
                 hardsigmoid), 1×1 672 → 112 + BN, plus the input
  effnet_mb      EfficientNet-B0's MBConv at 28×28: 1×1 40 → 240 + BN + SiLU, depthwise 5×5 +
                 BN + SiLU, squeeze-excitation (240 → 10 + SiLU, 10 → 240 + sigmoid,
                 multiply), 1×1 240 → 40 + BN, plus the input
  shuffle_unit   ShuffleNet v2's stride-1 unit at 28×28 on 116 channels: split in halves, the
                 second through 1×1 + BN + ReLU, depthwise 3×3 + BN, 1×1 + BN + ReLU; concat;
                 channel shuffle (reshape to [N, 2, 58, H·W], transpose, reshape back)
  fire           SqueezeNet 1.1's fire module at 55×55: 1×1 squeeze 128 → 16 + ReLU, then 1×1
                 16 → 64 + ReLU and 3×3 16 → 64 + ReLU side by side, concatenated

--baseline DIR adds a third engine: a swiftcnn package folder (e.g. a copy of an earlier
build's installed `swiftcnn` directory) imported first from DIR, run in the same rounds, so
that before and after are measured side by side with ORT.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BLOCKS = ["dw_separable", "dw_stride2", "inverted_res", "se_block", "mbv3_se5", "mbv3_hs", "effnet_mb",
          "shuffle_unit", "fire"]
sys.path.insert(0, HERE)
from bench_compare import timed  # noqa: E402  (warm-up of at least 1 s, then timed runs)


def load_nn():
    spec = importlib.util.spec_from_file_location("swiftcnn_nn_standalone",
                                                  os.path.join(ROOT, "bindings", "python", "swiftcnn", "nn.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def build(name: str):
    """(torch module, swiftcnn graph document, input shape) for block `name`."""
    import torch
    import torch.nn as T
    N = load_nn()

    def conv_bn(tm, nm, cin, cout, k, s, groups, act):
        pad = k // 2
        tm += [T.Conv2d(cin, cout, k, s, pad, groups=groups, bias=False), T.BatchNorm2d(cout)]
        nm += [N.Conv2d(cin, cout, k, s, pad, groups=groups, bias=False), N.BatchNorm2d(cout)]
        if act:
            tm.append(T.ReLU6())
            nm.append(N.ReLU6())

    if name in ("dw_separable", "dw_stride2"):
        c, c2, hw, s = (128, 256, 56, 1) if name == "dw_separable" else (64, 128, 112, 2)
        tm, nm = [], []
        conv_bn(tm, nm, c, c, 3, s, c, True)
        conv_bn(tm, nm, c, c2, 1, 1, 1, True)
        torch_model = T.Sequential(*tm)
        doc = N.sequential_json(N.Sequential(*nm), (c, hw, hw), name=name)
        return torch_model, doc, (1, c, hw, hw)
    if name == "inverted_res":
        c, e, hw = 32, 192, 28
        tm, nm = [], []
        conv_bn(tm, nm, c, e, 1, 1, 1, True)
        conv_bn(tm, nm, e, e, 3, 1, e, True)
        conv_bn(tm, nm, e, c, 1, 1, 1, False)

        class Res(T.Module):
            def __init__(self):
                super().__init__()
                self.body = T.Sequential(*tm)

            def forward(self, x):
                return x + self.body(x)

        x = N.Input((c, hw, hw))
        y = N.add(x, N.Sequential(*nm, name="body")(x))
        doc = N.graph_json(inputs=x, outputs=y, name=name)
        return Res(), doc, (1, c, hw, hw)
    if name == "se_block":
        c, r, hw = 96, 24, 28

        class SE(T.Module):
            def __init__(self):
                super().__init__()
                self.pool = T.AdaptiveAvgPool2d(1)
                self.fc1 = T.Conv2d(c, r, 1)
                self.fc2 = T.Conv2d(r, c, 1)

            def forward(self, x):
                s = torch.nn.functional.hardsigmoid(self.fc2(torch.relu(self.fc1(self.pool(x)))))
                return x * s

        x = N.Input((c, hw, hw))
        s = N.AdaptiveAvgPool2d(1, name="pool")(x)
        s = N.Hardsigmoid()(N.Conv2d(r, c, 1, name="fc2")(N.ReLU()(N.Conv2d(c, r, 1, name="fc1")(s))))
        doc = N.graph_json(inputs=x, outputs=N.mul(x, s), name=name)
        return SE(), doc, (1, c, hw, hw)
    if name in ("mbv3_se5", "mbv3_hs", "effnet_mb"):
        # (channels, expanded, kernel, squeezed, activation, map size)
        c, e, k, sq, act, hw = {"mbv3_se5": (40, 120, 5, 32, "relu", 28), "mbv3_hs": (112, 672, 3, 168, "hardswish", 14),
                                "effnet_mb": (40, 240, 5, 10, "silu", 28)}[name]
        t_act = {"relu": T.ReLU, "hardswish": T.Hardswish, "silu": T.SiLU}[act]
        n_act = {"relu": N.ReLU, "hardswish": N.Hardswish, "silu": N.SiLU}[act]
        # The squeeze's activation and gate: MobileNet v3 ReLU and hardsigmoid, EfficientNet SiLU and sigmoid.
        t_sq, n_sq = (T.SiLU, N.SiLU) if act == "silu" else (T.ReLU, N.ReLU)
        t_gate, n_gate = (T.Sigmoid, N.Sigmoid) if act == "silu" else (T.Hardsigmoid, N.Hardsigmoid)

        class MB(T.Module):
            def __init__(self):
                super().__init__()
                self.expand = T.Sequential(T.Conv2d(c, e, 1, bias=False), T.BatchNorm2d(e), t_act())
                self.dw = T.Sequential(T.Conv2d(e, e, k, 1, k // 2, groups=e, bias=False), T.BatchNorm2d(e), t_act())
                self.se_pool = T.AdaptiveAvgPool2d(1)
                self.se_fc1 = T.Conv2d(e, sq, 1)
                self.se_act = t_sq()
                self.se_fc2 = T.Conv2d(sq, e, 1)
                self.se_gate = t_gate()
                self.project = T.Sequential(T.Conv2d(e, c, 1, bias=False), T.BatchNorm2d(c))

            def forward(self, x):
                h = self.dw(self.expand(x))
                s = self.se_gate(self.se_fc2(self.se_act(self.se_fc1(self.se_pool(h)))))
                return x + self.project(h * s)

        x = N.Input((c, hw, hw))
        h = N.Sequential(N.Conv2d(c, e, 1, bias=False), N.BatchNorm2d(e), n_act(), name="expand")(x)
        h = N.Sequential(N.Conv2d(e, e, k, 1, k // 2, groups=e, bias=False), N.BatchNorm2d(e), n_act(), name="dw")(h)
        s = N.AdaptiveAvgPool2d(1, name="se_pool")(h)
        s = n_gate()(N.Conv2d(sq, e, 1, name="se_fc2")(n_sq()(N.Conv2d(e, sq, 1, name="se_fc1")(s))))
        y = N.add(x, N.Sequential(N.Conv2d(e, c, 1, bias=False), N.BatchNorm2d(c), name="project")(N.mul(h, s)))
        return MB(), N.graph_json(inputs=x, outputs=y, name=name), (1, c, hw, hw)
    if name == "shuffle_unit":
        c, hw = 116, 28
        b = c // 2

        class Unit(T.Module):
            def __init__(self):
                super().__init__()
                self.branch = T.Sequential(T.Conv2d(b, b, 1, bias=False), T.BatchNorm2d(b), T.ReLU(),
                                           T.Conv2d(b, b, 3, 1, 1, groups=b, bias=False), T.BatchNorm2d(b),
                                           T.Conv2d(b, b, 1, bias=False), T.BatchNorm2d(b), T.ReLU())

            def forward(self, x):
                x1, x2 = x.chunk(2, dim=1)
                y = torch.cat((x1, self.branch(x2)), dim=1)
                n = y.shape[0]
                return y.reshape(n, 2, b, hw * hw).transpose(1, 2).reshape(n, c, hw, hw)

        x = N.Input((c, hw, hw))
        x1, x2 = N.split(x, b, dim=1)
        br = N.Sequential(N.Conv2d(b, b, 1, bias=False), N.BatchNorm2d(b), N.ReLU(),
                          N.Conv2d(b, b, 3, 1, 1, groups=b, bias=False), N.BatchNorm2d(b),
                          N.Conv2d(b, b, 1, bias=False), N.BatchNorm2d(b), N.ReLU(), name="branch")(x2)
        y = N.concat([x1, br], dim=1)
        y = N.reshape(N.transpose(N.reshape(y, (2, b, hw * hw)), 1, 2), (c, hw, hw))
        return Unit(), N.graph_json(inputs=x, outputs=y, name=name), (1, c, hw, hw)
    if name == "fire":
        c, sq, ex, hw = 128, 16, 64, 55

        class Fire(T.Module):
            def __init__(self):
                super().__init__()
                self.squeeze = T.Conv2d(c, sq, 1)
                self.expand1x1 = T.Conv2d(sq, ex, 1)
                self.expand3x3 = T.Conv2d(sq, ex, 3, padding=1)

            def forward(self, x):
                s = torch.relu(self.squeeze(x))
                return torch.cat([torch.relu(self.expand1x1(s)), torch.relu(self.expand3x3(s))], 1)

        x = N.Input((c, hw, hw))
        s = N.ReLU()(N.Conv2d(c, sq, 1, name="squeeze")(x))
        y = N.concat([N.ReLU()(N.Conv2d(sq, ex, 1, name="expand1x1")(s)),
                      N.ReLU()(N.Conv2d(sq, ex, 3, padding=1, name="expand3x3")(s))], dim=1)
        return Fire(), N.graph_json(inputs=x, outputs=y, name=name), (1, c, hw, hw)
    raise SystemExit(f"unknown block {name}")


def write_model_file(path, doc, state_dict):
    """A swiftcnn model file: safetensors with the graph in __metadata__."""
    import numpy as np
    header = {"__metadata__": {"format": "swiftcnn", "version": "1", "graph": json.dumps(doc)}}
    blobs, off = [], 0
    for k, v in state_dict.items():
        if k.endswith("num_batches_tracked"):
            continue
        a = np.ascontiguousarray(v.detach().numpy(), dtype="<f4")
        header[k] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        blobs.append(a.tobytes())
        off += a.nbytes
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for b in blobs:
            f.write(b)


def prepare(name: str, folder: str):
    import warnings
    import numpy as np
    import torch
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    torch.manual_seed(0)
    tm, doc, shape = build(name)
    for m in tm.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    tm.eval()
    x = torch.rand(*shape) * 2 - 1
    with torch.no_grad():
        y = tm(x)
    model_path = os.path.join(folder, name + ".safetensors")
    write_model_file(model_path, doc, tm.state_dict())
    onnx_path = os.path.join(folder, name + ".onnx")
    torch.onnx.export(tm, (x,), onnx_path, opset_version=17, input_names=["input"], output_names=["output"],
                      dynamo=False)
    np.save(os.path.join(folder, name + ".x.npy"), x.numpy())
    # (torch.onnx.export's deprecation warning for the TorchScript exporter is expected.)
    np.save(os.path.join(folder, name + ".y.npy"), y.numpy())
    return model_path, onnx_path


def worker(kind: str, args) -> dict:
    import numpy as np
    x = np.load(os.path.join(args.folder, args.block + ".x.npy"))
    want = np.load(os.path.join(args.folder, args.block + ".y.npy"))
    if kind in ("swiftcnn", "baseline"):
        if kind == "baseline":
            sys.path.insert(0, args.baseline)
        import swiftcnn
        swiftcnn.set_num_threads(args.threads)
        m = swiftcnn.load(os.path.join(args.folder, args.block + ".safetensors"))
        run = lambda: m(x)  # noqa: E731
    else:
        import onnxruntime as ort
        o = ort.SessionOptions()
        o.intra_op_num_threads = args.threads
        o.inter_op_num_threads = 1
        o.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        s = ort.InferenceSession(os.path.join(args.folder, args.block + ".onnx"), o, providers=["CPUExecutionProvider"])
        run = lambda: s.run(None, {"input": x})[0]  # noqa: E731
    err = float(np.max(np.abs(run() - want)) / max(1.0, float(np.max(np.abs(want)))))
    times = timed(run, args.warmup, args.runs)
    return {"median_ms": 1e3 * statistics.median(times), "error": err}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--blocks", default=",".join(BLOCKS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--swiftcnn-python", default=os.path.join(ROOT, ".venv", "bin", "python"))
    ap.add_argument("--baseline", help="a folder holding an earlier build's swiftcnn package: timed as a third engine")
    ap.add_argument("--keep", help="write the block files (.safetensors, .onnx, input, output) here")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--worker", choices=["swiftcnn", "baseline", "ort"], help=argparse.SUPPRESS)
    ap.add_argument("--block", help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args)))
        return
    folder = args.keep or tempfile.mkdtemp(prefix="swiftcnn-blocks-")
    os.makedirs(folder, exist_ok=True)
    results = []
    engines = [("swiftcnn", args.swiftcnn_python), ("ort", sys.executable)]
    if args.baseline:
        engines.insert(0, ("baseline", args.swiftcnn_python))
    print(f"threads {args.threads}, {args.runs} runs x {args.rounds} rounds; median ms (batch 1)")
    base_head = f"{'baseline':>9} {'ratio':>7} " if args.baseline else ""
    print(f"{'block':<14} {base_head}{'swiftcnn':>9} {'ORT':>9} {'ratio':>7}   max rel. error vs torch (swiftcnn, ORT)")
    for name in args.blocks.split(","):
        prepare(name, folder)
        per = {kind: [] for kind, _ in engines}
        errs = {}
        for _ in range(args.rounds):
            for kind, py in engines:
                cmd = [py, os.path.abspath(__file__), "--worker", kind, "--block", name, "--folder", folder,
                       "--threads", str(args.threads), "--runs", str(args.runs), "--warmup", str(args.warmup)]
                if kind == "baseline":
                    cmd += ["--baseline", os.path.abspath(args.baseline)]
                p = subprocess.run(cmd, capture_output=True, text=True)
                if p.returncode != 0:
                    raise SystemExit(f"{kind} worker failed for {name}:\n{p.stderr}")
                r = json.loads(p.stdout.strip().splitlines()[-1])
                per[kind].append(r["median_ms"])
                errs[kind] = r["error"]
        s, o = statistics.median(per["swiftcnn"]), statistics.median(per["ort"])
        row = {"block": name, "swiftcnn_ms": s, "ort_ms": o, "ratio": s / o, "errors": errs}
        base_cols = ""
        if args.baseline:
            bl = statistics.median(per["baseline"])
            row.update(baseline_ms=bl, baseline_ratio=bl / o)
            base_cols = f"{bl:9.3f} {bl / o:7.2f} "
        results.append(row)
        print(f"{name:<14} {base_cols}{s:9.3f} {o:9.3f} {s / o:7.2f}   {errs['swiftcnn']:.1e}, {errs['ort']:.1e}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
