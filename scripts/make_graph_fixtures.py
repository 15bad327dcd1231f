#!/usr/bin/env python3
"""Graph-engine fixtures: small networks described with swiftcnn.nn, run by PyTorch.

Run with a Python that has torch + safetensors + numpy (torchvision is not needed):

    $TORCH_VENV/bin/python scripts/make_graph_fixtures.py [OUT_DIR]

OUT_DIR defaults to Tests/fixtures/graph. swiftcnn.nn (bindings/python/swiftcnn/nn.py, pure
Python) is imported by path, so the compiled extension is not needed. Every network is built
twice, with the same arguments: in torch and in swiftcnn.nn; the script checks that both
have the same parameter names, order and shapes, and the same output shape, before writing.

For each case CASE (list: CASES below, or the printout) two files, float32 throughout:

  CASE.safetensors      a swiftcnn model file (docs/model-format.md): __metadata__
                        {"format": "swiftcnn", "version": "1", "graph": <the graph JSON>} and the
                        torch model's initial state_dict (num_batches_tracked dropped), in
                        state_dict order. The weights are torch's default initialisation after
                        torch.manual_seed(seed); batch-norm weight/bias/running statistics are
                        then drawn at random (so batch norm is not the identity).
  CASE.io.safetensors   input          [2, *input_shape], numpy default_rng(seed) normal * scale
                        output         the torch model's output in eval mode
                        hook.<name>    eval-mode values of some intermediate nodes: <name> is a
                                       node path (Sequential children "1", "stem.0") or a value
                                       name of a functional graph ("sum", "block:1"); the names
                                       are listed in metadata "hooks" (comma-separated)
                        grad_output    R, a fixed random tensor of the output's shape
                        train_output   (when sgd = 1) the output in training mode, at the
                                       initial weights (batch norm uses batch statistics)
                        sgd.<entry>    (when sgd = 1) every state_dict entry after ONE step of
                                       torch.optim.SGD(lr, momentum=0, weight_decay=0) on
                                       loss = sum(train_output * R), from the initial weights,
                                       in training mode: the updated parameters and the
                                       running statistics updated by that training forward
                        metadata       case, input_shape, hooks, sgd ("1"/"0": models with
                                       Dropout(p > 0) take no step), lr ("0.1"), tolerance,
                                       seed, torch (version)
seed = zlib.crc32(CASE) (adding a case does not change the others). torch runs on one
thread. tolerance "1e-4": compare with numpy.allclose(got, want, rtol=1e-4, atol=1e-4).

Also torch_sequential.safetensors: the plain state_dict of the seq_torch_statedict case's
torch.nn.Sequential, written by safetensors.torch.save_file(model.state_dict(), path) as a
user would (weights only, no graph; num_batches_tracked included, as int64); it should load
as it is into the model of seq_torch_statedict.safetensors.

Files are written atomically (a temporary file, then os.replace) and deterministically: a
rerun with the same torch gives identical bytes (the swiftcnn files are serialised here, in
a fixed order, because safetensors' own writer orders the metadata at random).
"""
import importlib.util
import json
import os
import sys
import warnings
import zlib
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as T
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_OUT = os.path.join(REPO, "Tests", "fixtures", "graph")
LR = 0.1
TOLERANCE = "1e-4"


def _load_nn():
    path = os.path.join(REPO, "bindings", "python", "swiftcnn", "nn.py")
    spec = importlib.util.spec_from_file_location("swiftcnn_nn_standalone", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


N = _load_nn()


# ---- safetensors, written here (deterministic order) ------------------------------------------

def write_safetensors(path, tensors, metadata):
    header = OrderedDict()
    if metadata:
        header["__metadata__"] = OrderedDict((k, str(v)) for k, v in metadata.items())
    blobs, off = [], 0
    for k, v in tensors.items():
        a = np.ascontiguousarray(v, dtype="<f4")
        b = a.tobytes()
        header[k] = OrderedDict([("dtype", "F32"), ("shape", list(a.shape)), ("data_offsets", [off, off + len(b)])])
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def np32(t):
    return t.detach().cpu().contiguous().numpy().astype(np.float32)


# ---- building blocks ---------------------------------------------------------------------------

def L(cls, *args, **kwargs):
    """The same layer in torch and in swiftcnn.nn, from the same arguments."""
    return getattr(T, cls)(*args, **kwargs), getattr(N, cls)(*args, **kwargs)


def P(torch_module, nn_module):
    return torch_module, nn_module


def seq(*layers):
    """(torch Sequential, nn Sequential) from pairs, or from one OrderedDict of pairs."""
    if len(layers) == 1 and isinstance(layers[0], OrderedDict):
        d = layers[0]
        return (T.Sequential(OrderedDict((k, v[0]) for k, v in d.items())),
                N.Sequential(OrderedDict((k, v[1]) for k, v in d.items())))
    return T.Sequential(*[p[0] for p in layers]), N.Sequential(*[p[1] for p in layers])


class View(T.Module):
    """x.reshape(N, *shape): the torch side of nn.Reshape."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)


class TapNet(T.Module):
    """A torch module whose forward records intermediate values by name (self.taps)."""

    def __init__(self):
        super().__init__()
        self.taps = {}

    def tap(self, name, v):
        self.taps[name] = v
        return v


class Case:
    def __init__(self, name, build, input_shape, hooks, scale=1.0):
        self.name = name
        self.build = build          # () -> (torch model, nn doc, nn output shape)
        self.input_shape = tuple(input_shape)
        self.hooks = list(hooks)
        self.scale = scale


CASES = []


def seq_case(name, input_shape, hooks=(), scale=1.0):
    def deco(fn):
        def build():
            tm, nm = fn()
            doc = N.sequential_json(nm, input_shape, name=name)
            return tm, doc, N.output_shape(nm, input_shape)
        CASES.append(Case(name, build, input_shape, hooks, scale))
        return fn
    return deco


def dag_case(name, input_shape, hooks=(), scale=1.0):
    def deco(fn):
        def build():
            x = N.Input(input_shape, name="input")
            tm, out = fn(x)
            doc = N.graph_json(x, out, name=name)
            return tm, doc, out.shape
        CASES.append(Case(name, build, input_shape, hooks, scale))
        return fn
    return deco


def act_case(op, layer_fn, scale=2.0):
    @seq_case(f"seq_{op}", (3, 6, 6), hooks=["1"], scale=scale)
    def _():
        return seq(L("Conv2d", 3, 4, 3, padding=1), layer_fn(), L("Conv2d", 4, 2, 1))


# ---- Sequential cases: one per op ---------------------------------------------------------------

@seq_case("seq_conv2d", (3, 9, 11), hooks=["0", "1", "2"])
def _():
    return seq(L("Conv2d", 3, 4, 3, stride=2, padding=1),                               # 5 x 6
               L("Conv2d", 4, 6, (2, 3), padding="same", dilation=(1, 2), bias=False),  # even kernel: extra bottom
               L("Conv2d", 6, 6, 3, groups=3, dilation=2, padding=(2, 1)),              # 5 x 4
               L("Conv2d", 6, 4, (1, 2), stride=(1, 2), padding="valid"))               # 5 x 2


@seq_case("seq_batch_norm2d", (3, 6, 6), hooks=["1"])
def _():
    return seq(L("Conv2d", 3, 4, 3, padding=1), L("BatchNorm2d", 4), L("ReLU"),
               L("Conv2d", 4, 5, 1, bias=False), L("BatchNorm2d", 5, eps=1e-3, momentum=0.3))


@seq_case("seq_linear", (12,), hooks=["0", "1"])
def _():
    return seq(L("Linear", 12, 8), L("ReLU"), L("Linear", 8, 5, bias=False), L("Linear", 5, 3))


act_case("relu", lambda: L("ReLU"))
act_case("tanh", lambda: L("Tanh"))
act_case("sigmoid", lambda: L("Sigmoid"))
act_case("silu", lambda: L("SiLU"))
act_case("hardswish", lambda: L("Hardswish"), scale=4.0)
act_case("hardsigmoid", lambda: L("Hardsigmoid"), scale=4.0)
act_case("identity", lambda: L("Identity"))


@seq_case("seq_clip", (3, 6, 6), hooks=["1", "3"], scale=4.0)
def _():
    return seq(L("Conv2d", 3, 4, 3, padding=1), L("ReLU6"), L("Conv2d", 4, 4, 1),
               L("Hardtanh", -0.5, 2.0), L("Conv2d", 4, 2, 1))


@seq_case("seq_leaky_relu", (3, 6, 6), hooks=["1", "3"], scale=2.0)
def _():
    return seq(L("Conv2d", 3, 4, 3, padding=1), L("LeakyReLU", 0.2), L("Conv2d", 4, 4, 1),
               L("LeakyReLU"), L("Conv2d", 4, 2, 1))


@seq_case("seq_gelu", (3, 6, 6), hooks=["1", "3"], scale=2.0)
def _():
    return seq(L("Conv2d", 3, 4, 3, padding=1), L("GELU"), L("Conv2d", 4, 4, 1),
               L("GELU", approximate="tanh"), L("Conv2d", 4, 2, 1))


@seq_case("seq_softmax", (3, 5, 6), hooks=["1"], scale=2.0)
def _():
    return seq(L("Conv2d", 3, 4, 3, padding=1), L("Softmax", dim=1), L("Conv2d", 4, 3, 1),
               L("Softmax", dim=-1))


@seq_case("seq_max_pool2d", (3, 10, 10), hooks=["1", "2"])
def _():
    return seq(L("Conv2d", 3, 4, 3, padding=1),
               L("MaxPool2d", 3, 2, ceil_mode=True),             # 10 -> 5 (floor would give 4)
               L("MaxPool2d", 2, stride=1, padding=1),            # 5 -> 6, padded cells never win
               L("MaxPool2d", (2, 3), stride=(2, 1)))             # 3 x 4


@seq_case("seq_avg_pool2d", (3, 11, 11), hooks=["1", "2"])
def _():
    return seq(L("Conv2d", 3, 4, 3, padding=1),
               L("AvgPool2d", 2, ceil_mode=True),                 # 11 -> 6: the last window is clipped
               L("AvgPool2d", 3, 2, padding=1, ceil_mode=True, count_include_pad=False),  # 6 -> 4
               L("AvgPool2d", 2, padding=1))                      # 4 -> 3, padding counted


@seq_case("seq_adaptive_avg_pool2d", (3, 7, 5), hooks=["1"])
def _():
    return seq(L("Conv2d", 3, 4, 3, padding=1), L("AdaptiveAvgPool2d", (3, 2)), L("Flatten"), L("Linear", 24, 5))


@seq_case("seq_global_max_pool2d", (3, 6, 7), hooks=["1"])
def _():
    return seq(L("Conv2d", 3, 4, 3, padding=1), L("AdaptiveMaxPool2d", 1), L("Flatten"), L("Linear", 4, 3))


@seq_case("seq_lrn", (3, 5, 5), hooks=["1", "3"], scale=3.0)
def _():
    return seq(L("Conv2d", 3, 6, 3, padding=1), L("LocalResponseNorm", 3, alpha=1e-2, beta=0.75, k=2.0),
               L("Conv2d", 6, 6, 1), L("LocalResponseNorm", 4, alpha=0.5, beta=0.5))


@seq_case("seq_dropout", (3, 5, 5), hooks=["1"])
def _():
    return seq(L("Conv2d", 3, 4, 3, padding=1), L("Dropout", 0.5), L("Conv2d", 4, 2, 1))


@seq_case("seq_flatten", (3, 5, 5), hooks=["1"])
def _():
    return seq(L("Conv2d", 3, 4, 3), L("Flatten"), L("Linear", 36, 4))


@seq_case("seq_reshape", (3, 4, 4), hooks=["2"])
def _():
    return seq(L("Flatten"), L("Linear", 48, 32),
               P(T.Unflatten(1, (2, 4, 4)), N.Reshape((2, 4, 4))),
               L("Conv2d", 2, 3, 3, padding=1),
               P(View((-1,)), N.Reshape((-1,))),
               L("Linear", 48, 5))


@seq_case("seq_upsample", (3, 4, 5), hooks=["1", "2", "3", "4", "5", "6"])
def _():
    # With a scale factor torch makes floor(size * scale) outputs and maps output to input
    # coordinates with 1 / scale (not input size / output size): layers 5 and 6 tell the two apart.
    return seq(L("Conv2d", 3, 4, 3, padding=1),
               L("Upsample", scale_factor=2),                                          # nearest, 8 x 10
               L("Upsample", size=(7, 9), mode="bilinear", align_corners=False),
               L("Upsample", scale_factor=(1.5, 2), mode="bilinear", align_corners=True),  # 10 x 18
               L("Upsample", size=(6, 11)),                                            # nearest, downsizing
               L("Upsample", scale_factor=1.7),                                        # nearest, 10 x 18
               L("Upsample", scale_factor=1.3, mode="bilinear", align_corners=False),  # 13 x 23
               L("Conv2d", 4, 2, 1))


@seq_case("seq_zero_pad2d", (3, 5, 5), hooks=["1", "3"])
def _():
    return seq(L("Conv2d", 3, 4, 3), L("ZeroPad2d", (1, 2, 0, 3)),    # left 1, right 2, top 0, bottom 3
               L("Conv2d", 4, 4, 3), L("ZeroPad2d", 1), L("Conv2d", 4, 2, 1))


@seq_case("seq_sequential", (3, 6, 6), hooks=["stem", "body.act"])
def _():
    return seq(OrderedDict([
        ("stem", seq(L("Conv2d", 3, 4, 3, padding=1, bias=False), L("BatchNorm2d", 4), L("ReLU"))),
        ("body", seq(OrderedDict([("conv", L("Conv2d", 4, 6, 3, stride=2, padding=1)), ("act", L("ReLU6"))]))),
        ("pool", L("AdaptiveAvgPool2d", 1)),
        ("flat", L("Flatten")),
        ("head", L("Linear", 6, 3)),
    ]))


class _TorchBlock(T.Module):
    """x + conv(relu(x)): the torch side of the nn.Graph block of seq_graph."""

    def __init__(self, c):
        super().__init__()
        self.conv = T.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return x + self.conv(torch.relu(x))


def _nn_block(c, hw):
    x = N.Input((c, hw, hw), name="x")
    h = N.Conv2d(c, c, 3, padding=1, name="conv")(N.ReLU(name="act")(x))
    return N.Graph(x, N.add(x, h, name="sum"))


@seq_case("seq_graph", (3, 5, 5), hooks=["1"])
def _():
    return seq(L("Conv2d", 3, 4, 3, padding=1), P(_TorchBlock(4), _nn_block(4, 5)), L("Flatten"), L("Linear", 100, 3))


@seq_case("seq_lecture", (1, 16, 16), hooks=["1", "4", "7"])
def _():
    # The lecture's network (3x3 convolutions 1 -> 128 -> 256 -> 512, ReLU, 2x2 max pooling,
    # then a fully connected layer to 1000 classes) with every width divided by 16, so the
    # file stays small: 1 -> 8 -> 16 -> 32, FC 32*2*2 -> 1000.
    return seq(L("Conv2d", 1, 8, 3, padding=1), L("ReLU"), L("MaxPool2d", 2),
               L("Conv2d", 8, 16, 3, padding=1), L("ReLU"), L("MaxPool2d", 2),
               L("Conv2d", 16, 32, 3, padding=1), L("ReLU"), L("MaxPool2d", 2),
               L("Flatten"), L("Linear", 32 * 2 * 2, 1000))


@seq_case("seq_torch_statedict", (3, 8, 8), hooks=["4"])
def _():
    return seq(L("Conv2d", 3, 8, 3, padding=1), L("BatchNorm2d", 8), L("ReLU"), L("MaxPool2d", 2),
               seq(L("Conv2d", 8, 8, 3, padding=1, bias=False), L("BatchNorm2d", 8), L("ReLU")),
               L("AdaptiveAvgPool2d", 1), L("Flatten"), L("Linear", 8, 10))


# ---- functional cases -----------------------------------------------------------------------------

def _binary_case(op):
    tfn = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div}[op]
    nfn = getattr(N, op)

    class Net(TapNet):
        # a: [4, H, W]; b: [4, 1, 1]; c: [1, H, W]
        def __init__(self):
            super().__init__()
            self.conv_a = T.Conv2d(3, 4, 3, padding=1)
            self.conv_b = T.Conv2d(3, 4, 1)
            self.conv_c = T.Conv2d(3, 1, 3, padding=1)
            self.pool = T.AdaptiveAvgPool2d(1)

        def forward(self, x):
            a = self.conv_a(x)
            b = self.pool(self.conv_b(x))
            c = self.conv_c(x)
            if op == "div":
                b, c = torch.sigmoid(b), torch.sigmoid(c)
            y1 = self.tap("y1", tfn(a, b))                               # [N,4,H,W] o [N,4,1,1]
            return tfn(y1, c) if op == "div" else tfn(c, y1)              # [N,4,H,W] o [N,1,H,W] / left broadcast

    @dag_case(f"dag_{op}", (3, 5, 6), hooks=["y1"])
    def _(x):
        a = N.Conv2d(3, 4, 3, padding=1, name="conv_a")(x)
        b = N.AdaptiveAvgPool2d(1, name="pool")(N.Conv2d(3, 4, 1, name="conv_b")(x))
        c = N.Conv2d(3, 1, 3, padding=1, name="conv_c")(x)
        if op == "div":
            b, c = N.Sigmoid()(b), N.Sigmoid()(c)
        y1 = nfn(a, b, name="y1")
        return Net(), (nfn(y1, c) if op == "div" else nfn(c, y1))


for _op in ("add", "sub", "mul", "div"):
    _binary_case(_op)


class _ConcatNet(TapNet):
    def __init__(self):
        super().__init__()
        self.conv_a = T.Conv2d(3, 2, 3, padding=1)
        self.conv_b = T.Conv2d(3, 3, 1)
        self.conv_c = T.Conv2d(3, 1, 3, padding=1)
        self.mix = T.Conv2d(6, 4, 1)

    def forward(self, x):
        a, b, c = self.conv_a(x), self.conv_b(x), self.conv_c(x)
        y = self.tap("cat_c", torch.cat([a, b, c], 1))
        m = self.mix(y)
        h = self.tap("cat_h", torch.cat([m, torch.cat([a, a], 1)], 2))
        return torch.cat([h, h], -1)


@dag_case("dag_concat", (3, 4, 5), hooks=["cat_c", "cat_h"])
def _(x):
    a = N.Conv2d(3, 2, 3, padding=1, name="conv_a")(x)
    b = N.Conv2d(3, 3, 1, name="conv_b")(x)
    c = N.Conv2d(3, 1, 3, padding=1, name="conv_c")(x)
    y = N.concat([a, b, c], dim=1, name="cat_c")                 # channels
    m = N.Conv2d(6, 4, 1, name="mix")(y)
    h = N.concat([m, N.concat([a, a])], dim=2, name="cat_h")      # heights
    return _ConcatNet(), N.concat([h, h], dim=-1)                 # widths


class _SplitNet(TapNet):
    def __init__(self):
        super().__init__()
        self.conv = T.Conv2d(3, 6, 3, padding=1)
        self.conv_b = T.Conv2d(4, 2, 1)
        self.conv_c = T.Conv2d(4, 4, 1)

    def forward(self, x):
        h = self.conv(x)
        s0, s1 = torch.split(h, [2, 4], 1)
        self.tap("parts:0", s0)
        self.tap("parts:1", s1)
        y = torch.cat([torch.relu(s0), self.conv_b(s1)], 1)     # 4 channels
        p, q = torch.split(y, 3, 1)                              # 3 + 1
        r = torch.cat([q, p], 1)
        top, bottom = torch.split(r, [2, 3], 2)                  # along H
        return self.conv_c(torch.cat([bottom, top], 2))


@dag_case("dag_split", (3, 5, 4), hooks=["parts:0", "parts:1"])
def _(x):
    h = N.Conv2d(3, 6, 3, padding=1, name="conv")(x)
    s0, s1 = N.split(h, [2, 4], name="parts")
    y = N.concat([N.ReLU()(s0), N.Conv2d(4, 2, 1, name="conv_b")(s1)])
    p, q = N.split(y, 3)
    r = N.concat([q, p])
    top, bottom = N.split(r, [2, 3], dim=2)
    return _SplitNet(), N.Conv2d(4, 4, 1, name="conv_c")(N.concat([bottom, top], dim=2))


class _MeanNet(TapNet):
    def __init__(self):
        super().__init__()
        self.conv = T.Conv2d(3, 4, 3, padding=1)
        self.fc = T.Linear(4, 3)

    def forward(self, x):
        h = self.conv(x)
        m = self.tap("m_hw", h.mean((2, 3), keepdim=True))     # [N, 4, 1, 1]
        c = self.tap("m_c", h.mean(1, keepdim=True))           # [N, 1, H, W]
        y = h * m + c
        return self.fc(y.mean((-1, 2), keepdim=False))           # [N, 4]


@dag_case("dag_mean", (3, 5, 6), hooks=["m_hw", "m_c"])
def _(x):
    h = N.Conv2d(3, 4, 3, padding=1, name="conv")(x)
    m = N.mean(h, (2, 3), name="m_hw")
    c = N.mean(h, 1, keepdim=True, name="m_c")
    y = h * m + c
    return _MeanNet(), N.Linear(4, 3, name="fc")(N.mean(y, (-1, 2), keepdim=False))


class _TransposeNet(TapNet):
    def __init__(self):
        super().__init__()
        self.conv = T.Conv2d(3, 4, 3, padding=1)
        self.fc = T.Linear(120, 3)

    def forward(self, x):
        h = self.conv(x)                                         # [N, 4, 5, 6]
        t = self.tap("hwc", h.permute(0, 2, 3, 1))               # [N, 5, 6, 4]
        u = self.tap("swap", torch.transpose(t, 1, 2))           # [N, 6, 5, 4]
        return self.fc(u.reshape(u.shape[0], -1))


@dag_case("dag_transpose", (3, 5, 6), hooks=["hwc", "swap"])
def _(x):
    h = N.Conv2d(3, 4, 3, padding=1, name="conv")(x)
    t = N.permute(h, 0, 2, 3, 1, name="hwc")
    u = N.transpose(t, 1, 2, name="swap")
    return _TransposeNet(), N.Linear(120, 3, name="fc")(N.reshape(u, (-1,)))


class _ResSENet(TapNet):
    def __init__(self):
        super().__init__()
        self.stem = T.Conv2d(3, 8, 3, padding=1)
        self.stem_bn = T.BatchNorm2d(8)
        self.res_conv1 = T.Conv2d(8, 8, 3, padding=1, bias=False)
        self.res_bn1 = T.BatchNorm2d(8)
        self.res_conv2 = T.Conv2d(8, 8, 3, padding=1, bias=False)
        self.res_bn2 = T.BatchNorm2d(8)
        self.se_pool = T.AdaptiveAvgPool2d(1)
        self.se_fc1 = T.Conv2d(8, 4, 1)
        self.se_fc2 = T.Conv2d(4, 8, 1)
        self.proj = T.Conv2d(16, 8, 1)
        self.pool = T.AdaptiveAvgPool2d(1)
        self.fc = T.Linear(8, 5)

    def forward(self, x):
        h = torch.relu(self.stem_bn(self.stem(x)))
        r = self.res_bn2(self.res_conv2(torch.relu(self.res_bn1(self.res_conv1(h)))))
        res = self.tap("res", torch.relu(h + r))
        s = self.tap("se_scale", T.functional.hardsigmoid(self.se_fc2(torch.relu(self.se_fc1(self.se_pool(res))))))
        se = self.tap("se", res * s)
        cat = self.tap("cat", torch.cat([se, h], 1))
        return self.fc(torch.flatten(self.pool(self.proj(cat)), 1))


@dag_case("dag_residual_se_concat", (3, 8, 8), hooks=["res", "se_scale", "se", "cat"])
def _(x):
    h = N.ReLU()(N.BatchNorm2d(8, name="stem_bn")(N.Conv2d(3, 8, 3, padding=1, name="stem")(x)))
    r = N.Conv2d(8, 8, 3, padding=1, bias=False, name="res_conv1")(h)
    r = N.ReLU()(N.BatchNorm2d(8, name="res_bn1")(r))
    r = N.BatchNorm2d(8, name="res_bn2")(N.Conv2d(8, 8, 3, padding=1, bias=False, name="res_conv2")(r))
    res = N.ReLU(name="res")(N.add(h, r, name="res_sum"))
    s = N.AdaptiveAvgPool2d(1, name="se_pool")(res)
    s = N.Hardsigmoid(name="se_scale")(N.Conv2d(4, 8, 1, name="se_fc2")(N.ReLU()(N.Conv2d(8, 4, 1, name="se_fc1")(s))))
    se = N.mul(res, s, name="se")                                  # [N,8,H,W] x [N,8,1,1]
    cat = N.concat([se, h], dim=1, name="cat")
    y = N.Linear(8, 5, name="fc")(N.Flatten()(N.AdaptiveAvgPool2d(1, name="pool")(N.Conv2d(16, 8, 1, name="proj")(cat))))
    return _ResSENet(), y


class _ShuffleNet(TapNet):
    """A ShuffleNet v2 unit (stride 1): split the channels in two halves, transform one,
    concatenate, shuffle the channels with groups 2 (reshape, transpose, reshape)."""

    def __init__(self):
        super().__init__()
        self.stem = T.Conv2d(3, 8, 3, padding=1)
        self.b_conv1 = T.Conv2d(4, 4, 1, bias=False)
        self.b_bn1 = T.BatchNorm2d(4)
        self.b_dw = T.Conv2d(4, 4, 3, padding=1, groups=4, bias=False)
        self.b_bn2 = T.BatchNorm2d(4)
        self.b_conv2 = T.Conv2d(4, 4, 1, bias=False)
        self.b_bn3 = T.BatchNorm2d(4)
        self.head = T.Conv2d(8, 3, 1)

    def forward(self, x):
        h = self.stem(x)
        x1, x2 = torch.split(h, 4, 1)
        self.tap("halves:0", x1)
        self.tap("halves:1", x2)
        b = torch.relu(self.b_bn1(self.b_conv1(x2)))
        b = self.b_bn2(self.b_dw(b))
        b = torch.relu(self.b_bn3(self.b_conv2(b)))
        y = torch.cat([x1, b], 1)
        n, c, hh, ww = y.shape
        g = self.tap("groups", y.reshape(n, 2, c // 2, hh * ww))
        t = self.tap("shuffle", g.transpose(1, 2))
        z = self.tap("unshape", t.reshape(n, c, hh, ww))
        return self.head(z)


@dag_case("dag_split_shuffle", (3, 6, 6), hooks=["halves:0", "halves:1", "groups", "shuffle", "unshape"])
def _(x):
    h = N.Conv2d(3, 8, 3, padding=1, name="stem")(x)
    x1, x2 = N.split(h, 4, dim=1, name="halves")
    b = N.ReLU()(N.BatchNorm2d(4, name="b_bn1")(N.Conv2d(4, 4, 1, bias=False, name="b_conv1")(x2)))
    b = N.BatchNorm2d(4, name="b_bn2")(N.Conv2d(4, 4, 3, padding=1, groups=4, bias=False, name="b_dw")(b))
    b = N.ReLU()(N.BatchNorm2d(4, name="b_bn3")(N.Conv2d(4, 4, 1, bias=False, name="b_conv2")(b)))
    y = N.concat([x1, b], dim=1)
    g = N.reshape(y, (2, 4, 36), name="groups")
    t = N.transpose(g, (0, 2, 1, 3), name="shuffle")
    z = N.reshape(t, (8, 6, 6), name="unshape")
    return _ShuffleNet(), N.Conv2d(8, 3, 1, name="head")(z)


class _DepthwiseNet(TapNet):
    """MobileNet v2: a stem and two inverted residuals (expand 1x1, depthwise 3x3 with
    groups = channels after explicit ZeroPad2d, ReLU6, project 1x1); the first keeps the
    size and adds the input, the second has stride 2 with TF-style padding (right/bottom)."""

    def __init__(self):
        super().__init__()
        self.stem = T.Conv2d(3, 8, 3, padding=1, bias=False)
        self.stem_bn = T.BatchNorm2d(8)
        self.b1_expand = T.Conv2d(8, 24, 1, bias=False)
        self.b1_bn1 = T.BatchNorm2d(24)
        self.b1_pad = T.ZeroPad2d(1)
        self.b1_dw = T.Conv2d(24, 24, 3, groups=24, bias=False)
        self.b1_bn2 = T.BatchNorm2d(24)
        self.b1_project = T.Conv2d(24, 8, 1, bias=False)
        self.b1_bn3 = T.BatchNorm2d(8)
        self.b2_expand = T.Conv2d(8, 16, 1, bias=False)
        self.b2_bn1 = T.BatchNorm2d(16)
        self.b2_pad = T.ZeroPad2d((0, 1, 0, 1))
        self.b2_dw = T.Conv2d(16, 16, 3, stride=2, groups=16, bias=False)
        self.b2_bn2 = T.BatchNorm2d(16)
        self.b2_project = T.Conv2d(16, 12, 1, bias=False)
        self.b2_bn3 = T.BatchNorm2d(12)
        self.pool = T.AdaptiveAvgPool2d(1)
        self.fc = T.Linear(12, 4)

    def forward(self, x):
        r6 = T.functional.relu6
        h = r6(self.stem_bn(self.stem(x)))
        b = r6(self.b1_bn1(self.b1_expand(h)))
        b = self.tap("b1_dw_act", r6(self.b1_bn2(self.b1_dw(self.b1_pad(b)))))
        h = self.tap("b1_sum", h + self.b1_bn3(self.b1_project(b)))
        b = r6(self.b2_bn1(self.b2_expand(h)))
        b = self.tap("b2_dw_act", r6(self.b2_bn2(self.b2_dw(self.b2_pad(b)))))
        b = self.b2_bn3(self.b2_project(b))
        return self.fc(torch.flatten(self.pool(b), 1))


@dag_case("dag_depthwise", (3, 8, 8), hooks=["b1_dw_act", "b1_sum", "b2_dw_act"])
def _(x):
    h = N.ReLU6()(N.BatchNorm2d(8, name="stem_bn")(N.Conv2d(3, 8, 3, padding=1, bias=False, name="stem")(x)))
    b = N.ReLU6()(N.BatchNorm2d(24, name="b1_bn1")(N.Conv2d(8, 24, 1, bias=False, name="b1_expand")(h)))
    b = N.Conv2d(24, 24, 3, groups=24, bias=False, name="b1_dw")(N.ZeroPad2d(1, name="b1_pad")(b))
    b = N.ReLU6(name="b1_dw_act")(N.BatchNorm2d(24, name="b1_bn2")(b))
    h = N.add(h, N.BatchNorm2d(8, name="b1_bn3")(N.Conv2d(24, 8, 1, bias=False, name="b1_project")(b)), name="b1_sum")
    b = N.ReLU6()(N.BatchNorm2d(16, name="b2_bn1")(N.Conv2d(8, 16, 1, bias=False, name="b2_expand")(h)))
    b = N.Conv2d(16, 16, 3, stride=2, groups=16, bias=False, name="b2_dw")(N.ZeroPad2d((0, 1, 0, 1), name="b2_pad")(b))
    b = N.ReLU6(name="b2_dw_act")(N.BatchNorm2d(16, name="b2_bn2")(b))
    b = N.BatchNorm2d(12, name="b2_bn3")(N.Conv2d(16, 12, 1, bias=False, name="b2_project")(b))
    return _DepthwiseNet(), N.Linear(12, 4, name="fc")(N.Flatten()(N.AdaptiveAvgPool2d(1, name="pool")(b)))


class _UNet(TapNet):
    """A tiny encoder-decoder: two poolings down, back up with nearest (scale 2), bilinear
    (scale 2, align_corners=False) and bilinear (size, align_corners=True), skip concats."""

    def __init__(self):
        super().__init__()
        self.enc1 = T.Conv2d(3, 4, 3, padding=1)
        self.enc2 = T.Conv2d(4, 8, 3, padding=1)
        self.mid = T.Conv2d(8, 8, 3, padding=1)
        self.up1 = T.Upsample(scale_factor=2, mode="nearest")
        self.dec1 = T.Conv2d(16, 8, 3, padding=1)
        self.up2 = T.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.up3 = T.Upsample(size=(8, 8), mode="bilinear", align_corners=True)
        self.up4 = T.Upsample(size=(8, 8), mode="nearest")
        self.dec2 = T.Conv2d(28, 4, 3, padding=1)
        self.head = T.Conv2d(4, 2, 1)

    def forward(self, x):
        e1 = torch.relu(self.enc1(x))                                # 4 x 8 x 8
        e2 = torch.relu(self.enc2(T.functional.max_pool2d(e1, 2)))   # 8 x 4 x 4
        m = torch.relu(self.mid(T.functional.max_pool2d(e2, 2)))     # 8 x 2 x 2
        u1 = self.tap("up1", self.up1(m))                            # 8 x 4 x 4
        d1 = torch.relu(self.dec1(torch.cat([u1, e2], 1)))           # 8 x 4 x 4
        u2 = self.tap("up2", self.up2(d1))                           # 8 x 8 x 8
        u3 = self.tap("up3", self.up3(m))                            # 8 x 8 x 8
        u4 = self.tap("up4", self.up4(e2))                           # 8 x 8 x 8
        d2 = torch.relu(self.dec2(torch.cat([u2, u3, e1, u4], 1)))  # 28 -> 4
        return self.head(d2)


@dag_case("dag_upsample", (3, 8, 8), hooks=["up1", "up2", "up3", "up4"])
def _(x):
    e1 = N.ReLU()(N.Conv2d(3, 4, 3, padding=1, name="enc1")(x))
    e2 = N.ReLU()(N.Conv2d(4, 8, 3, padding=1, name="enc2")(N.MaxPool2d(2)(e1)))
    m = N.ReLU()(N.Conv2d(8, 8, 3, padding=1, name="mid")(N.MaxPool2d(2)(e2)))
    u1 = N.Upsample(scale_factor=2, mode="nearest", name="up1")(m)
    d1 = N.ReLU()(N.Conv2d(16, 8, 3, padding=1, name="dec1")(N.concat([u1, e2])))
    u2 = N.Upsample(scale_factor=2, mode="bilinear", align_corners=False, name="up2")(d1)
    u3 = N.Upsample(size=(8, 8), mode="bilinear", align_corners=True, name="up3")(m)
    u4 = N.Upsample(size=(8, 8), mode="nearest", name="up4")(e2)
    d2 = N.ReLU()(N.Conv2d(28, 4, 3, padding=1, name="dec2")(N.concat([u2, u3, e1, u4])))
    return _UNet(), N.Conv2d(4, 2, 1, name="head")(d2)


class _TorchPairBlock(T.Module):
    def __init__(self):
        super().__init__()
        self.conv = T.Conv2d(4, 4, 3, padding=1)

    def forward(self, a, b):
        return self.conv(a) + b, torch.relu(a * b)


class _NestedNet(TapNet):
    def __init__(self):
        super().__init__()
        self.conv_p = T.Conv2d(3, 4, 3, padding=1)
        self.conv_q = T.Conv2d(3, 4, 1)
        self.block = _TorchPairBlock()
        self.head = T.Conv2d(8, 3, 1)

    def forward(self, x):
        u, v = self.block(self.conv_p(x), self.conv_q(x))
        self.tap("block:0", u)
        self.tap("block:1", v)
        return self.head(torch.cat([u, v], 1))


@dag_case("dag_nested_graph", (3, 5, 5), hooks=["block:0", "block:1"])
def _(x):
    a = N.Input((4, 5, 5), name="a")
    b = N.Input((4, 5, 5), name="b")
    s = N.add(N.Conv2d(4, 4, 3, padding=1, name="conv")(a), b, name="sum")
    block = N.Graph([a, b], [s, N.ReLU(name="act")(N.mul(a, b, name="prod"))], name="block")
    u, v = block(N.Conv2d(3, 4, 3, padding=1, name="conv_p")(x), N.Conv2d(3, 4, 1, name="conv_q")(x))
    return _NestedNet(), N.Conv2d(8, 3, 1, name="head")(N.concat([u, v]))


# ---- running the cases ---------------------------------------------------------------------------

def randomize_batch_norm(model, rng):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, T.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, c).astype(np.float32)))
                m.bias.copy_(torch.from_numpy(rng.uniform(-0.2, 0.2, c).astype(np.float32)))
                m.running_mean.copy_(torch.from_numpy(rng.uniform(-0.2, 0.2, c).astype(np.float32)))
                m.running_var.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, c).astype(np.float32)))


def state(model):
    return OrderedDict((k, v.detach().clone()) for k, v in model.state_dict().items()
                       if not k.endswith("num_batches_tracked"))


def forward_with_hooks(model, x, hooks):
    modules = dict(model.named_modules())
    got, handles = {}, []
    for h in hooks:
        if h in modules:
            handles.append(modules[h].register_forward_hook(lambda m, i, o, h=h: got.__setitem__(h, o)))
    if isinstance(model, TapNet):
        model.taps = {}
    y = model(x)
    for handle in handles:
        handle.remove()
    if isinstance(model, TapNet):
        for h in hooks:
            if h in model.taps:
                got[h] = model.taps[h]
    missing = [h for h in hooks if h not in got]
    if missing:
        raise RuntimeError(f"hooks not recorded: {missing}")
    return y, got


def make(case, out_dir):
    seed = zlib.crc32(case.name.encode())
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    tm, doc, nn_out_shape = case.build()
    randomize_batch_norm(tm, rng)
    sd = state(tm)
    as_saved = OrderedDict((k, v.detach().clone()) for k, v in tm.state_dict().items())  # a user's save_file

    # torch and swiftcnn.nn agree on names, order and shapes
    ours = list(N.parameter_shapes(doc).items())
    theirs = [(k, tuple(v.shape)) for k, v in sd.items()]
    if ours != theirs:
        raise RuntimeError(f"{case.name}: parameters differ\n  nn:    {ours}\n  torch: {theirs}")
    graph_text = N.dumps(doc)

    x = torch.from_numpy((rng.standard_normal((2,) + case.input_shape) * case.scale).astype(np.float32))
    tm.eval()
    with torch.no_grad():
        y, taps = forward_with_hooks(tm, x, case.hooks)
    if tuple(y.shape[1:]) != tuple(nn_out_shape):
        raise RuntimeError(f"{case.name}: output shape {tuple(y.shape)} but nn infers {nn_out_shape}")
    r = torch.from_numpy(rng.standard_normal(tuple(y.shape)).astype(np.float32))

    io = OrderedDict([("input", np32(x)), ("output", np32(y))])
    for h in case.hooks:
        io[f"hook.{h}"] = np32(taps[h])
    io["grad_output"] = np32(r)
    do_sgd = not any(isinstance(m, T.Dropout) and m.p > 0 for m in tm.modules())
    if do_sgd:
        tm.train()
        opt = torch.optim.SGD(tm.parameters(), lr=LR, momentum=0.0, weight_decay=0.0)
        opt.zero_grad()
        yt = tm(x)
        (yt * r).sum().backward()
        opt.step()
        io["train_output"] = np32(yt)
        for k, v in state(tm).items():
            io[f"sgd.{k}"] = np32(v)

    meta = OrderedDict([("case", case.name), ("input_shape", ",".join(map(str, case.input_shape))),
                        ("hooks", ",".join(case.hooks)), ("sgd", "1" if do_sgd else "0"), ("lr", repr(LR)),
                        ("tolerance", TOLERANCE), ("seed", str(seed)), ("torch", torch.__version__)])
    paths = [os.path.join(out_dir, f"{case.name}.safetensors"), os.path.join(out_dir, f"{case.name}.io.safetensors")]
    write_safetensors(paths[0], OrderedDict((k, np32(v)) for k, v in sd.items()),
                      OrderedDict([("format", "swiftcnn"), ("version", "1"), ("graph", graph_text)]))
    write_safetensors(paths[1], io, meta)

    if case.name == "seq_torch_statedict":
        # the initial weights again, exactly as a torch user saves them
        p = os.path.join(out_dir, "torch_sequential.safetensors")
        save_file(as_saved, p + ".tmp")
        os.replace(p + ".tmp", p)
        paths.append(p)
    return paths


def main():
    warnings.filterwarnings("ignore", message="Using padding='same'")  # torch's note on even kernels
    out_dir = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    names = [c.name for c in CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    total = 0
    for case in CASES:
        for p in make(case, out_dir):
            size = os.path.getsize(p)
            total += size
            print(f"{os.path.relpath(p, REPO)}: {size:,} bytes")
    print(f"{len(CASES)} cases, total {total:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
