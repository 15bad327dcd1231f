#!/usr/bin/env python3
"""Training fixtures: PyTorch's loss, gradients and optimizer steps for seeded weights.

Run with a Python that has torch + torchvision + safetensors + numpy (not the project's .venv):

    $TORCH_VENV/bin/python scripts/make_training_fixtures.py [OUT_DIR]

OUT_DIR defaults to Tests/fixtures/training. Writes two files (float32, < 1 MB together):

  lenet5.safetensors        zoo model lenet5 (scripts/zoo_torch.py), 10 classes
  resnet_block.safetensors  a small ResNet with torchvision BasicBlocks and batch norm
                            (architecture below; Tests/SwiftCNNTests/TrainingFixtureTests.swift
                            builds the same one from Layer values with the same names)

Every model starts from the seeded weights of scripts/weightgen.py ("swiftcnn seeded init v1",
seed 0: the Swift side regenerates them bit for bit, so they are not stored), in training mode.
The batch: "input" = weightgen's "input" stream (seed 0) with the shape below; labels fixed
(metadata "labels", also the float tensor "labels"). Loss: torch.nn.functional.cross_entropy
(mean). torch.set_num_threads(1) (deterministic CPU reductions).

Tensors:
  input, labels
  loss                    [1]  the loss at the seeded weights
  grad.<param>                 gradient of every trainable parameter at the seeded weights
  sgd.loss                [2]  the losses of the two SGD steps (before each update)
  sgd1.<entry>, sgd2.<entry>   the state_dict after one / two steps of
                               torch.optim.SGD(lr=0.1, momentum=0.9, dampening=0,
                               weight_decay=1e-4, nesterov=False), each step a training-mode
                               forward + backward on the same batch (so batch norm's running
                               statistics are updated twice, momentum 0.1)
  adam.loss               [2]
  adam1.<entry>, adam2.<entry> the same with torch.optim.Adam(lr=1e-3, betas=(0.9, 0.999),
                               eps=1e-8, weight_decay=0), from the seeded weights again
For lenet5 (61,706 parameters) only the second steps (sgd2, adam2) are stored, to keep the
files small: the first steps follow from grad.* directly.
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file
from torchvision.models.resnet import BasicBlock

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import weightgen  # noqa: E402
import zoo_torch  # noqa: E402

REPO = os.path.dirname(HERE)
DEFAULT_OUT = os.path.join(REPO, "Tests", "fixtures", "training")


class ResNetBlockNet(nn.Module):
    """conv1 3->8 3x3 p1 (no bias), bn1, relu, layer1 = [BasicBlock(8, 8)],
    layer2 = [BasicBlock(8, 16, stride 2, downsample = 1x1 conv stride 2 + bn)],
    avgpool (adaptive 1x1), flatten, fc 16->10. Input [N, 3, 8, 8]."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=False)
        self.layer1 = nn.Sequential(BasicBlock(8, 8))
        down = nn.Sequential(nn.Conv2d(8, 16, 1, stride=2, bias=False), nn.BatchNorm2d(16))
        self.layer2 = nn.Sequential(BasicBlock(8, 16, stride=2, downsample=down))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


MODELS = {
    # name: (constructor, input shape, labels, store first steps)
    "lenet5": (lambda: zoo_torch.build("lenet5", 10), (8, 1, 32, 32), [3, 1, 4, 1, 5, 9, 2, 6], False),
    "resnet_block": (ResNetBlockNet, (4, 3, 8, 8), [7, 0, 2, 9], True),
}


def seeded(make) -> nn.Module:
    model = make()
    with torch.no_grad():
        for key, t in model.state_dict().items():
            if key.endswith("num_batches_tracked"):
                continue
            t.copy_(torch.from_numpy(weightgen.generate(key, tuple(t.shape), 0)))
    model.train()
    return model


def snapshot(model: nn.Module, prefix: str) -> dict:
    return {f"{prefix}.{k}": v.detach().clone().contiguous() for k, v in model.state_dict().items()
            if not k.endswith("num_batches_tracked")}


def run_steps(make, x, y, opt_factory, prefix, keep_first, out):
    model = seeded(make)
    opt = opt_factory(model.parameters())
    losses = []
    for step in (1, 2):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        losses.append(loss.item())
        loss.backward()
        opt.step()
        if step == 2 or keep_first:
            out.update(snapshot(model, f"{prefix}{step}"))
    out[f"{prefix}.loss"] = torch.tensor(losses, dtype=torch.float32)


def make(name: str, out_dir: str) -> str:
    ctor, shape, labels, keep_first = MODELS[name]
    x = torch.from_numpy(weightgen.model_input(shape, 0))
    y = torch.tensor(labels, dtype=torch.int64)
    out = {"input": x.clone(), "labels": torch.tensor(labels, dtype=torch.float32)}
    model = seeded(ctor)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    out["loss"] = torch.tensor([loss.item()], dtype=torch.float32)
    for k, p in model.named_parameters():
        out[f"grad.{k}"] = p.grad.detach().clone().contiguous()
    run_steps(ctor, x, y, lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0,
                                                     weight_decay=1e-4, nesterov=False),
              "sgd", keep_first, out)
    run_steps(ctor, x, y, lambda ps: torch.optim.Adam(ps, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                                                      weight_decay=0),
              "adam", keep_first, out)
    meta = {
        "model": name,
        "input_shape": ",".join(map(str, shape)),
        "labels": ",".join(map(str, labels)),
        "generator": weightgen.GENERATOR_NAME,
        "seed": "0",
        "torch": torch.__version__,
        "sgd": "lr=0.1 momentum=0.9 dampening=0 weight_decay=1e-4 nesterov=False",
        "adam": "lr=1e-3 betas=(0.9,0.999) eps=1e-8 weight_decay=0",
        "first_steps": "1" if keep_first else "0",
    }
    path = os.path.join(out_dir, f"{name}.safetensors")
    save_file(out, path, metadata=meta)
    return path


def main() -> int:
    out_dir = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)
    if not weightgen.self_test():
        print("weightgen self-test FAILED", file=sys.stderr)
        return 1
    total = 0
    for name in MODELS:
        p = make(name, out_dir)
        size = os.path.getsize(p)
        total += size
        print(f"{p}: {size:,} bytes")
    print(f"total {total:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
