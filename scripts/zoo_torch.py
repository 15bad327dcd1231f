#!/usr/bin/env python3
"""The swiftcnn model zoo in PyTorch: the reference the Swift models (Area G) must reproduce.

Needs torch + torchvision (e.g. $TORCH_VENV/bin/python); not run by CI.

    build(name, num_classes=None) -> torch.nn.Module     (num_classes None: 10 for lenet*, else 1000)
    NAMES                                                all 17 zoo names, in the zoo's order
    INPUT_SHAPES[name]                                    (C, H, W) of the fixture input
    EXPECTED_PARAMS[name]                                 parameter counts of issue 3 (1000 / 10 classes)

torchvision-backed: alexnet, vgg11, vgg13, vgg16, vgg19, vgg11_bn, vgg13_bn, vgg16_bn, vgg19_bn,
googlenet (aux_logits=False, transform_input=False, init_weights=False), resnet18 ... resnet152,
each `torchvision.models.<name>(weights=None, num_classes=...)`.
swiftcnn-only, defined here (parameter names = state_dict keys the Swift side must use):
  lenet5, lenet5_original, alexnet_lrn, vgg11_lrn, vgg16_c.

Run `python scripts/zoo_torch.py` to print the parameter-count table (exits 1 on a mismatch).
"""
from __future__ import annotations

import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models.vgg import VGG

sys.path.insert(0, __import__("os").path.dirname(__file__))
import weightgen  # noqa: E402

NAMES = [
    "lenet5", "lenet5_original",
    "alexnet", "alexnet_lrn",
    "vgg11", "vgg11_lrn", "vgg13", "vgg16_c", "vgg16", "vgg19",
    "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn",
    "googlenet",
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
]

EXPECTED_PARAMS = {
    "lenet5": 61_706,
    "lenet5_original": 60_000,
    "alexnet": 61_100_840,
    "alexnet_lrn": 62_378_344,
    "vgg11": 132_863_336,
    "vgg11_lrn": 132_863_336,
    "vgg13": 133_047_848,
    "vgg16_c": 133_638_952,
    "vgg16": 138_357_544,
    "vgg19": 143_667_240,
    # the issue says "the _bn ones as torchvision's" and names vgg16_bn = 138,365,992;
    # the other three are torchvision's own published num_params (VGG*_BN_Weights meta).
    "vgg11_bn": 132_868_840,
    "vgg13_bn": 133_053_736,
    "vgg16_bn": 138_365_992,
    "vgg19_bn": 143_678_248,
    "googlenet": 6_624_904,
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
}

INPUT_SHAPES = {n: (3, 224, 224) for n in NAMES}
INPUT_SHAPES.update({"lenet5": (1, 32, 32), "lenet5_original": (1, 32, 32), "alexnet_lrn": (3, 227, 227)})


def default_classes(name: str) -> int:
    return 10 if name.startswith("lenet") else 1000


def _check_input(name: str, x: torch.Tensor, c: int, h: int, w: int) -> None:
    if x.dim() != 4 or tuple(x.shape[1:]) != (c, h, w):
        raise ValueError(f"{name}: expected input [N, {c}, {h}, {w}], got {list(x.shape)}")


# ---------------------------------------------------------------------------------------------
# LeNet-5 (modern variant: full C3, average pooling, tanh)

class LeNet5(nn.Module):
    """features: 0 Conv(1,6,5) 1 Tanh 2 AvgPool(2) 3 Conv(6,16,5) 4 Tanh 5 AvgPool(2) 6 Conv(16,120,5) 7 Tanh;
    flatten; classifier: 0 Linear(120,84) 1 Tanh 2 Linear(84,num_classes). Input [N,1,32,32]."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2),
            nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
            nn.Conv2d(16, 120, 5), nn.Tanh(),
        )
        self.classifier = nn.Sequential(nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, num_classes))

    def forward(self, x):
        _check_input("lenet5", x, 1, 32, 32)
        return self.classifier(torch.flatten(self.features(x), 1))


# ---------------------------------------------------------------------------------------------
# LeNet-5 as published (LeCun, Bottou, Bengio, Haffner 1998)

# Table I: output map j of C3 connects to these S2 maps (ascending)
C3_TABLE = [
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
]
assert sum(len(t) for t in C3_TABLE) == 60

SQUASH_A = 1.7159
SQUASH_S = 2.0 / 3.0


def squash(a: torch.Tensor) -> torch.Tensor:
    """f(a) = A * tanh(S * a), A = 1.7159, S = 2/3 (float32 ops: a * S, tanh, then * A)."""
    return torch.tanh(a * SQUASH_S) * SQUASH_A


class Subsampling(nn.Module):
    """Per map c: (sum of each non-overlapping 2x2 block) * weight[c] + bias[c]. weight, bias: [C]."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        n, c, h, w = x.shape
        s = x.reshape(n, c, h // 2, 2, w // 2, 2).sum(dim=(3, 5))
        return s * self.weight.view(1, c, 1, 1) + self.bias.view(1, c, 1, 1)


class PartialConv(nn.Module):
    """LeNet's C3: 16 output maps, each a 5x5 valid convolution over a subset of the 6 inputs.
    weight [60, 5, 5]: kernels in the order (map 0, its inputs ascending), (map 1, ...), ...;
    bias [16]. Computed as a dense conv whose missing connections are zero kernels."""

    def __init__(self, table=C3_TABLE, in_channels: int = 6, k: int = 5):
        super().__init__()
        self.table = [tuple(t) for t in table]
        self.in_channels = in_channels
        n_conn = sum(len(t) for t in self.table)
        self.weight = nn.Parameter(torch.zeros(n_conn, k, k))
        self.bias = nn.Parameter(torch.zeros(len(self.table)))
        outs, ins = [], []
        for j, t in enumerate(self.table):
            for i in t:
                outs.append(j)
                ins.append(i)
        self.register_buffer("_out_idx", torch.tensor(outs), persistent=False)
        self.register_buffer("_in_idx", torch.tensor(ins), persistent=False)

    def dense_weight(self) -> torch.Tensor:
        k = self.weight.shape[-1]
        w = self.weight.new_zeros(len(self.table), self.in_channels, k, k)
        w = w.index_put((self._out_idx, self._in_idx), self.weight)
        return w

    def forward(self, x):
        return F.conv2d(x, self.dense_weight(), self.bias)


class LeNet5Original(nn.Module):
    """c1 Conv(1,6,5) -> f -> s2 Subsampling(6) -> f -> c3 PartialConv -> f -> s4 Subsampling(16) -> f
    -> c5 Conv(16,120,5) -> f -> flatten -> f6 Linear(120,84) -> f -> RBF: y_i = sum_j (x_j - codes[i,j])^2.
    f = squash. codes [num_classes, 84] of +-1 from weightgen ("rbf.codes"), a non-persistent buffer
    (not a parameter, not in the state_dict). Outputs penalties (lower = better)."""

    def __init__(self, num_classes: int = 10, seed: int = 0):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5)
        self.s2 = Subsampling(6)
        self.c3 = PartialConv()
        self.s4 = Subsampling(16)
        self.c5 = nn.Conv2d(16, 120, 5)
        self.f6 = nn.Linear(120, 84)
        codes = torch.from_numpy(weightgen.rbf_codes(num_classes, seed))
        self.register_buffer("codes", codes, persistent=False)

    def forward(self, x):
        _check_input("lenet5_original", x, 1, 32, 32)
        x = squash(self.c1(x))
        x = squash(self.s2(x))
        x = squash(self.c3(x))
        x = squash(self.s4(x))
        x = squash(self.c5(x))
        x = squash(self.f6(torch.flatten(x, 1)))
        d = x.unsqueeze(1) - self.codes.unsqueeze(0)  # [N, classes, 84]
        return (d * d).sum(dim=2)


# ---------------------------------------------------------------------------------------------
# AlexNet as in the seed's table (single tower, LRN, 227x227)

class AlexNetLRN(nn.Module):
    def __init__(self, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0),
            nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0),
            nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        _check_input("alexnet_lrn", x, 3, 227, 227)
        return self.classifier(torch.flatten(self.features(x), 1))


# ---------------------------------------------------------------------------------------------
# VGG variants

def vgg11_lrn(num_classes: int = 1000) -> VGG:
    """torchvision vgg11 with LocalResponseNorm(5, 1e-4, 0.75, 2) right after the first ReLU
    (features: 0 conv, 1 ReLU, 2 LRN, 3 MaxPool, then vgg11's remaining layers renumbered +1)."""
    base = torchvision.models.vgg11(weights=None, num_classes=num_classes)
    layers = list(base.features)
    layers.insert(2, nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0))
    base.features = nn.Sequential(*layers)
    return base


VGG16_C_CFG = [64, 64, "M", 128, 128, "M", 256, 256, "C256", "M", 512, 512, "C512", "M", 512, 512, "C512", "M"]


def make_layers_c(cfg) -> nn.Sequential:
    """torchvision's make_layers plus "C<n>": Conv2d(in, n, kernel_size=1, padding=0) + ReLU."""
    layers: list[nn.Module] = []
    in_channels = 3
    for v in cfg:
        if v == "M":
            layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
        elif isinstance(v, str) and v.startswith("C"):
            out = int(v[1:])
            layers += [nn.Conv2d(in_channels, out, kernel_size=1, padding=0), nn.ReLU(inplace=True)]
            in_channels = out
        else:
            layers += [nn.Conv2d(in_channels, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            in_channels = v
    return nn.Sequential(*layers)


def vgg16_c(num_classes: int = 1000) -> VGG:
    return VGG(make_layers_c(VGG16_C_CFG), num_classes=num_classes, init_weights=False)


# ---------------------------------------------------------------------------------------------

def build(name: str, num_classes: int | None = None, seed: int = 0) -> nn.Module:
    """The zoo model NAME in torch (weights: torch's/torchvision's default init; fill with weightgen).
    seed only affects lenet5_original's RBF codes."""
    if num_classes is None:
        num_classes = default_classes(name)
    tvm = torchvision.models
    if name == "lenet5":
        return LeNet5(num_classes)
    if name == "lenet5_original":
        return LeNet5Original(num_classes, seed)
    if name == "alexnet_lrn":
        return AlexNetLRN(num_classes)
    if name == "vgg11_lrn":
        return vgg11_lrn(num_classes)
    if name == "vgg16_c":
        return vgg16_c(num_classes)
    if name == "googlenet":
        return tvm.googlenet(weights=None, num_classes=num_classes, aux_logits=False,
                             transform_input=False, init_weights=False)
    if name in ("alexnet", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn",
                "vgg19_bn", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152"):
        return getattr(tvm, name)(weights=None, num_classes=num_classes)
    raise ValueError(f"unknown zoo model {name!r}; expected one of {', '.join(NAMES)}")


def num_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_table(names=NAMES) -> bool:
    ok = True
    print(f"{'model':<17} {'classes':>7} {'parameters':>13} {'issue 3':>13}  state_dict tensors")
    for n in names:
        m = build(n)
        got = num_parameters(m)
        want = EXPECTED_PARAMS[n]
        sd = m.state_dict()
        nt = sum(1 for k in sd if not k.endswith("num_batches_tracked"))
        mark = "ok" if got == want else "MISMATCH"
        ok &= got == want
        print(f"{n:<17} {default_classes(n):>7} {got:>13,} {want:>13,}  {nt:>4}  {mark}")
        del m, sd
    return ok


if __name__ == "__main__":
    torch.set_num_threads(2)
    good = count_table(sys.argv[1:] or NAMES)
    print("all counts match" if good else "COUNT MISMATCH")
    sys.exit(0 if good else 1)
