#!/usr/bin/env python3
"""Regenerates Tests/fixtures/segmentation/*.safetensors, the torchvision parity fixtures of the
segmentation models (fcn_resnet50, deeplabv3_resnet50, with and without the auxiliary head).

Needs torch, torchvision, safetensors, numpy (not the project's environment; CI never runs this):

    $TORCH_VENV/bin/python scripts/make_segmentation_fixtures.py [--out DIR] [--seed N]

For NAME in fcn_resnet50, deeplabv3_resnet50:
  torchvision.models.segmentation.NAME(weights=None, weights_backbone=None, num_classes=21,
  aux_loss=True); every state_dict tensor except num_batches_tracked overwritten by
  scripts/weightgen.py ("swiftcnn seeded init v1", seed 0: each tensor depends only on its name,
  so the model without the auxiliary head has the same weights minus aux_classifier.*); eval mode;
  images = (weightgen "input" of shape [2, 3, 37, 45] + 1) / 2, values in [0, 1] (odd sizes: the
  final bilinear resize maps a 5x6 score map to 37x45); normalized = (images - mean) / std per
  channel in float32 with ImageNet's mean and std (torchvision's segmentation preprocessing,
  without the resize); out, aux = model(normalized)["out"], ["aux"].
  NAME.safetensors: "images" F32 [2,3,37,45], "out" F32 [2,21,37,45], "aux" F32 [2,21,37,45],
  "labels" I64 [2,37,45] (out.argmax(1)), "scores" F32 [2,37,45] (softmax(out, 1) at the label),
  "margin" F32 [2,37,45] (the top score minus the second: pixels with a tiny margin may flip
  within the float tolerance); metadata (strings): name, seed, generator, torch, torchvision,
  num_parameters (with aux), num_parameters_no_aux, state_dict (JSON [[key, shape], ...] of the
  aux model, torchvision's order, num_batches_tracked skipped), float64_rel_diff (how far torch's
  own float32 "out" is from the same model in float64: max|d| / max|out64|).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch
import torchvision
from safetensors.torch import save_file
from torchvision.models import segmentation

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import weightgen  # noqa: E402

REPO = os.path.dirname(HERE)
DEFAULT_OUT = os.path.join(REPO, "Tests", "fixtures", "segmentation")
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(1, 3, 1, 1)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(1, 3, 1, 1)
SHAPE = (2, 3, 37, 45)


def build(name: str, aux: bool) -> torch.nn.Module:
    fn = getattr(segmentation, name)
    return fn(weights=None, weights_backbone=None, num_classes=21, aux_loss=aux)


def fill(model: torch.nn.Module, seed: int) -> list:
    keys = []
    with torch.no_grad():
        for key, t in model.state_dict().items():
            if key.endswith("num_batches_tracked"):
                continue
            t.copy_(torch.from_numpy(weightgen.generate(key, tuple(t.shape), seed)))
            keys.append([key, list(t.shape)])
    return keys


def images(seed: int) -> np.ndarray:
    x = weightgen.model_input(SHAPE, seed)
    return ((x + np.float32(1)) / np.float32(2)).astype(np.float32)


def normalize(img: np.ndarray) -> np.ndarray:
    return ((img - MEAN) / STD).astype(np.float32)


def make(name: str, out_dir: str, seed: int) -> dict:
    torch.set_num_threads(2)
    model = build(name, aux=True)
    keys = fill(model, seed)
    model.eval()
    img = images(seed)
    x = torch.from_numpy(normalize(img))
    with torch.no_grad():
        r = model(x)
    out, aux = r["out"].contiguous(), r["aux"].contiguous()
    prob = torch.softmax(out, dim=1)
    top2 = torch.topk(out, 2, dim=1).values
    labels = out.argmax(dim=1)
    scores = prob.gather(1, labels.unsqueeze(1)).squeeze(1).contiguous()
    margin = (top2[:, 0] - top2[:, 1]).contiguous()
    plain = build(name, aux=False)
    fill(plain, seed)
    model.double()
    with torch.no_grad():
        o64 = model(x.double())["out"]
    rel64 = float((out.double() - o64).abs().max() / o64.abs().max())
    meta = {
        "name": name, "seed": str(seed), "generator": weightgen.GENERATOR_NAME,
        "torch": torch.__version__, "torchvision": torchvision.__version__,
        "num_parameters": str(sum(p.numel() for p in model.parameters())),
        "num_parameters_no_aux": str(sum(p.numel() for p in plain.parameters())),
        "state_dict": json.dumps(keys), "float64_rel_diff": f"{rel64:.3e}",
    }
    path = os.path.join(out_dir, f"{name}.safetensors")
    save_file({"images": torch.from_numpy(img), "out": out, "aux": aux, "labels": labels.contiguous(),
               "scores": scores, "margin": margin}, path, metadata=meta)
    return {"name": name, "max_abs_out": float(out.abs().max()), "rel64": rel64,
            "min_margin": float(margin.min()), "bytes": os.path.getsize(path),
            "classes_present": sorted(set(labels.flatten().tolist()))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("names", nargs="*", default=["fcn_resnet50", "deeplabv3_resnet50"])
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for n in a.names:
        print(make(n, a.out, a.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
