#!/usr/bin/env python3
"""Detection parity fixtures: torchvision's SSD on seeded weights and seeded images.

Needs torch + torchvision (run with $TORCH_VENV/bin/python); not run by CI. Writes
Tests/fixtures/detection/<model>.safetensors (ssd300_vgg16, ssdlite320_mobilenet_v3_large) holding, per image i, torchvision's eval-mode
detections (`boxes_i` [K, 4], `scores_i` [K], `labels_i` [K] as float32) and, for image 0,
a sample of the raw head outputs (`head_rows` [R, 4 + classes]: rows `head_index` of the
network's [P, 4 + classes] output, regression then logits, computed in float64) for a tight check of the network
alone. The weights and images are not committed: both sides regenerate them.

Weights: swiftcnn seeded init v1 (scripts/weightgen.py) for every state_dict entry, the
rule the Swift zoo uses (`backbone.scale_weight`, a graph constant with no weightgen rule,
is uniform in [-0.1, 0.1) like a bias). Then the classification head's weights and biases
are multiplied by CLS_SCALE, the regression head's by REG_SCALE (in torch here and by the test via load_state_dict): seeded
He-uniform weights on inputs normalized with std 1/255 give logits of magnitude ~1e2,
whose softmax saturates to exactly 1.0 or 0.0 in float32 — ties everywhere, so the order
of detections would be arbitrary. Scaled down, the scores spread over (0, 1) with no ties
and the comparison (labels, order, boxes, scores) is meaningful and stable. The script
checks that no kept score lies within 1e-4 of the threshold and that no class has more
than topk_candidates (400) candidates (with torchvision's score threshold 0.01, ~8000 of the
8732 boxes pass for every class and the 400th/401st boundary decides by ~1e-7; at 0.05 no
class reaches 400, so that cut-off is not exercised here — the unit tests cover it). The
other settings are torchvision's (IoU 0.45, 200 detections). Scores of distinct
detections can still lie within 1e-6 of each other; the test treats entries whose torch
scores differ by less than 1e-5 as tied (either order passes) and checks every other pair's
order exactly.

Images: image i is `seeded_tensor(f"image{i}", (3, H, W), 0, 1)`, values in [0, 1), sizes
IMAGE_SIZES.

    $TORCH_VENV/bin/python scripts/make_detection_fixtures.py [--out Tests/fixtures/detection]
"""
from __future__ import annotations

import argparse
import copy
import os
import sys

import numpy as np
import torch
import torchvision
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(__file__))
import weightgen  # noqa: E402

IMAGE_SIZES = [(64, 80), (97, 61)]
# Per model: (CLS_SCALE, REG_SCALE, SCORE_THRESH). For ssd300_vgg16 the regression head is
# scaled like the classification head: unscaled, |values| reach ~500 and every box decodes
# to the clamped maximum size, then clips to the whole image; torchvision's 0.01 threshold
# would keep ~8000 candidates per class (see below). ssdlite's seeded logits are smaller
# (std ~5): scaled by 0.2, a 0.07 threshold keeps fewer than its 300 candidates per class.
SETTINGS = {
    "ssd300_vgg16": (0.005, 0.005, 0.05),
    "ssdlite320_mobilenet_v3_large": (0.2, 0.2, 0.07),
}
CLS_SCALE, REG_SCALE, SCORE_THRESH = SETTINGS["ssd300_vgg16"]
HEAD_STRIDE = 37  # every 37th default box of image 0's head output is stored


def seeded(name: str, shape, lo: float, hi: float, seed: int = 0) -> np.ndarray:
    """weightgen's arithmetic with an explicit range (models.seeded_tensor in swiftcnn)."""
    n = int(np.prod(shape))
    u = weightgen.uniform01(name, n, seed)
    prod = np.multiply(u, np.float32(hi - lo), dtype=np.float32)
    return np.add(prod, np.float32(lo), dtype=np.float32).reshape(shape)


def build(name: str) -> torch.nn.Module:
    ctor = getattr(torchvision.models.detection, name)
    return ctor(weights=None, weights_backbone=None)


def fill(model: torch.nn.Module, seed: int = 0) -> None:
    sd = model.state_dict()
    with torch.no_grad():
        for key, t in sd.items():
            if key.endswith("num_batches_tracked"):
                continue
            if key.endswith("scale_weight"):  # a graph constant: no weightgen rule
                v = seeded(key, tuple(t.shape), -0.1, 0.1, seed)
            else:
                v = weightgen.generate(key, tuple(t.shape), seed)
            t.copy_(torch.from_numpy(v))
        for key, t in sd.items():
            if not t.dtype.is_floating_point:
                continue
            if key.startswith("head.classification_head."):
                t.mul_(CLS_SCALE)
            elif key.startswith("head.regression_head."):
                t.mul_(REG_SCALE)


class Network(torch.nn.Module):
    """Backbone + heads on an already transformed batch: [N, P, 4 + classes]."""

    def __init__(self, ssd):
        super().__init__()
        self.ssd = ssd

    def forward(self, x):
        feats = list(self.ssd.backbone(x).values())
        out = self.ssd.head(feats)
        return torch.cat([out["bbox_regression"], out["cls_logits"]], dim=2)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "Tests", "fixtures", "detection"))
    ap.add_argument("--model", default="all", help="a model name, or all (default)")
    args = ap.parse_args()
    for name in (SETTINGS if args.model == "all" else [args.model]):
        if make(name, args.out) != 0:
            return 1
    return 0


def make(model_name: str, out: str) -> int:
    global CLS_SCALE, REG_SCALE, SCORE_THRESH
    CLS_SCALE, REG_SCALE, SCORE_THRESH = SETTINGS[model_name]
    print(f"{model_name}: heads scaled by {CLS_SCALE} (classification), {REG_SCALE} (regression), "
          f"score threshold {SCORE_THRESH}")
    torch.manual_seed(0)
    model = build(model_name)
    fill(model)
    model.eval()
    model.score_thresh = SCORE_THRESH
    images = [torch.from_numpy(seeded(f"image{i}", (3, h, w), 0.0, 1.0)) for i, (h, w) in enumerate(IMAGE_SIZES)]
    tensors = {}
    with torch.no_grad():
        dets = model(images)
        batch, _ = model.transform(images[:1])
        head = Network(model)(batch.tensors)[0]
        probs = torch.softmax(head[:, 4:], dim=-1)
    cands = int((probs[:, 1:] > SCORE_THRESH).sum(0).max())
    print(f"most candidates of one class (image 0): {cands}")
    if cands >= model.topk_candidates:
        print("a class reaches topk_candidates; raise SCORE_THRESH", file=sys.stderr)
        return 1
    thresh = model.score_thresh
    for i, d in enumerate(dets):
        s = d["scores"].numpy()
        k = len(s)
        distinct = len(np.unique(s)) == k
        margin = float(np.min(s - thresh)) if k else float("inf")
        gaps = np.diff(np.sort(s)) if k > 1 else np.array([1.0])
        print(f"image {i} {IMAGE_SIZES[i]}: {k} detections, scores {s.min() if k else 0:.5f}..{s.max() if k else 0:.5f}, "
              f"labels {sorted(set(d['labels'].tolist()))[:12]}, min gap {gaps.min():.2e}, margin {margin:.2e}")
        if not distinct or margin < 1e-4:
            print(f"image {i}: scores tie or lie too near the threshold; pick another CLS_SCALE", file=sys.stderr)
            return 1
        tensors[f"boxes_{i}"] = d["boxes"].contiguous()
        tensors[f"scores_{i}"] = d["scores"].contiguous()
        tensors[f"labels_{i}"] = d["labels"].to(torch.float32).contiguous()
    index = torch.arange(0, head.shape[0], HEAD_STRIDE)
    tensors["head_index"] = index.to(torch.float32)
    # The rows are computed in float64: torch's own float32 result differs from it by up to
    # 1.9e-4 of the maximum for ssdlite (fifteen blocks of batch-normed seeded weights amplify
    # rounding), more than the test's 1e-4 bar; float32 is fine for ssd300 (2e-6).
    with torch.no_grad():
        head64 = Network(copy.deepcopy(model).double())(batch.tensors.double())[0]
    rel32 = float((head - head64).abs().max() / head64.abs().max())
    print(f"torch float32 head vs float64: max|diff|/max = {rel32:.2e}")
    tensors["head_rows"] = head64[index].to(torch.float32).contiguous()
    print(f"head: {tuple(head.shape)}, |regression| max {head[:, :4].abs().max():.3f}, "
          f"|logits| max {head[:, 4:].abs().max():.3f}, logits std {head[:, 4:].std():.3f}")
    meta = {
        "model": model_name,
        "generator": weightgen.GENERATOR_NAME,
        "cls_scale": repr(CLS_SCALE),
        "reg_scale": repr(REG_SCALE),
        "score_thresh": repr(SCORE_THRESH),
        "image_sizes": ";".join(f"{h}x{w}" for h, w in IMAGE_SIZES),
        "head_stride": str(HEAD_STRIDE),
        "head_reference": "float64",
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
    }
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, f"{model_name}.safetensors")
    save_file(tensors, path, metadata=meta)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
