#!/usr/bin/env python3
"""Writes Tests/fixtures/onnx/: small ONNX files for the swiftcnn.onnx importer's tests.

Needs torch, torchvision, onnx and onnxruntime (run it with $TORCH_VENV/bin/python); the tests
that read the fixtures (bindings/python/tests/test_onnx_import.py) need only numpy, onnx and
onnxruntime. Not run by CI: the fixtures are committed.

    $TORCH_VENV/bin/python scripts/make_onnx_fixtures.py              # every fixture
    $TORCH_VENV/bin/python scripts/make_onnx_fixtures.py --only fcn_tiny,convnext_tiny_op11

Each fixture is a miniature of a torchvision classification or segmentation CNN -- built with
torchvision's own constructors or building blocks at tiny widths where they allow it, else a
small copy of the pattern -- exported the way users export those models:
torch.onnx.export(..., dynamo=False) (the TorchScript exporter), do_constant_folding=True, eval
mode, input named "input". Every fixture is seeded; every BatchNorm's running mean/var, weight
and bias are randomized (so that folding BatchNorm into the conv matters), as are LayerNorm's
affine parameters and ConvNeXt's layer_scale. For each fixture NAME the folder holds

  NAME.onnx   the exported model
  NAME.npz    "input" (float32 NCHW, U(-1, 1) on a 1/128 grid) and ONNX Runtime's output for it under each
              ONNX output name ("logits"; segmentation models "out" and, with an auxiliary
              classifier, "aux")

and README.md lists them with what each covers (written from FIXTURES below). ONNX Runtime's
outputs are checked against torch's at export (max|diff| <= 1e-4 * max|y|). Fixtures whose name
ends in _dyn have a dynamic batch axis ("N" on the input and every output; stored input batch 2).
Opsets: 17 unless the name ends in _opNN. The TorchScript exporter stops at opset 20; the _op21
fixtures are the _op20 export converted with onnx.version_converter.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import warnings
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT_DIR = os.path.join(ROOT, "Tests", "fixtures", "onnx")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

# ---------------------------------------------------------------------------------------------
# builders: each returns an nn.Module (weights are randomized afterwards)


def _tv(name):
    import importlib
    return importlib.import_module("torchvision.models." + name)


def alexnet_tiny():
    """AlexNet's layout at tiny widths (first conv stride 2 instead of 4) on 116x116: features end
    at 6x6, so the
    AdaptiveAvgPool2d((6, 6)) is an identity (as at 224x224), then flatten, dropout, Linear."""
    class AlexNetTiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 8, 11, stride=2, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
                nn.Conv2d(8, 16, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
                nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2))
            self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
            self.classifier = nn.Sequential(
                nn.Dropout(0.5), nn.Linear(16 * 6 * 6, 32), nn.ReLU(inplace=True),
                nn.Dropout(0.5), nn.Linear(32, 32), nn.ReLU(inplace=True), nn.Linear(32, 10))

        def forward(self, x):
            x = self.avgpool(self.features(x))
            return self.classifier(torch.flatten(x, 1))
    return AlexNetTiny()


def vgg_bn_tiny():
    """torchvision.models.vgg.make_layers (batch_norm=True) at tiny widths on 56x56: features end
    at 7x7, AdaptiveAvgPool2d((7, 7)) identity, flatten, VGG's classifier (Linear-ReLU-Dropout x2)."""
    vgg = _tv("vgg")

    class VGGTiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = vgg.make_layers([8, "M", 16, "M", 16, 16, "M"], batch_norm=True)
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(
                nn.Linear(16 * 7 * 7, 32), nn.ReLU(True), nn.Dropout(0.5),
                nn.Linear(32, 32), nn.ReLU(True), nn.Dropout(0.5), nn.Linear(32, 10))

        def forward(self, x):
            x = self.avgpool(self.features(x))
            return self.classifier(torch.flatten(x, 1))
    return VGGTiny()


class _TinyResNet(nn.Module):
    """torchvision's ResNet forward at small widths, built from torchvision's own BasicBlock /
    Bottleneck (groups, base_width, dilation as ResNet passes them)."""

    def __init__(self, block, layers, widths, groups=1, width_per_group=64, dilate=(False, False, False),
                 num_classes=10, classify=True):
        super().__init__()
        self.inplanes, self.dilation, self.groups, self.base_width = widths[0], 1, groups, width_per_group
        self.conv1 = nn.Conv2d(3, self.inplanes, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, widths[0], layers[0])
        self.layer2 = self._make_layer(block, widths[1], layers[1], 2, dilate[0])
        self.layer3 = self._make_layer(block, widths[2], layers[2], 2, dilate[1])
        self.layer4 = self._make_layer(block, widths[3], layers[3], 2, dilate[2])
        self.classify = classify
        if classify:
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(widths[3] * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        downsample, previous_dilation = None, self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width, previous_dilation)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups, base_width=self.base_width,
                                dilation=self.dilation))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1)) if self.classify else x


def resnet_basic_tiny():
    """resnet18's pattern: 7x7/2 stem conv + BN + ReLU, maxpool 3/2 pad 1, BasicBlocks with 1x1/2
    conv + BN downsample, AdaptiveAvgPool2d(1) (GlobalAveragePool), flatten, Linear."""
    return _TinyResNet(_tv("resnet").BasicBlock, [1, 1, 1, 1], [8, 8, 16, 16])


def resnext_bottleneck_tiny():
    """resnet50/resnext50_32x4d/wide_resnet50_2's Bottleneck (expansion 4) with groups=4 and
    width_per_group=32 (grouped 3x3 convs, widened bottleneck), stride in the 3x3."""
    return _TinyResNet(_tv("resnet").Bottleneck, [1, 2, 1, 1], [4, 8, 8, 8], groups=4, width_per_group=32)


def squeezenet_tiny():
    """squeezenet1_1's pattern with torchvision's Fire modules: 3x3/2 conv, MaxPool2d(3, 2,
    ceil_mode=True) (the input size makes ceil_mode matter), Fire (squeeze 1x1, expand 1x1 and
    3x3 concatenated), classifier Dropout + 1x1 conv + ReLU + AdaptiveAvgPool2d(1), flatten."""
    Fire = _tv("squeezenet").Fire

    class SqueezeTiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 16, 3, stride=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, ceil_mode=True),
                Fire(16, 4, 8, 8), Fire(16, 4, 8, 8), nn.MaxPool2d(3, 2, ceil_mode=True),
                Fire(16, 8, 16, 16))
            self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(32, 10, 1), nn.ReLU(inplace=True),
                                            nn.AdaptiveAvgPool2d((1, 1)))

        def forward(self, x):
            return torch.flatten(self.classifier(self.features(x)), 1)
    return SqueezeTiny()


def densenet_tiny():
    """torchvision.models.DenseNet(growth_rate=8, block_config=(2, 2), num_init_features=16,
    bn_size=2): dense layers BN-ReLU-1x1 conv-BN-ReLU-3x3 conv and torch.cat, transition
    BN-ReLU-1x1 conv-AvgPool 2/2, final BN, F.relu, adaptive_avg_pool2d(1), flatten, Linear."""
    return _tv("densenet").DenseNet(growth_rate=8, block_config=(2, 2), num_init_features=16, bn_size=2,
                                    num_classes=10)


def _transform_input(x):
    # torchvision's GoogLeNet / Inception3 transform_input=True (from ImageNet to [-1, 1] scaling)
    x_ch0 = torch.unsqueeze(x[:, 0], 1) * (0.229 / 0.5) + (0.485 - 0.5) / 0.5
    x_ch1 = torch.unsqueeze(x[:, 1], 1) * (0.224 / 0.5) + (0.456 - 0.5) / 0.5
    x_ch2 = torch.unsqueeze(x[:, 2], 1) * (0.225 / 0.5) + (0.406 - 0.5) / 0.5
    return torch.cat((x_ch0, x_ch1, x_ch2), 1)


def googlenet_tiny():
    """GoogLeNet's pattern: transform_input (x[:, c] Gather, Unsqueeze, Mul, Add, Concat),
    BasicConv2d (conv + BN eps 1e-3 + ReLU), MaxPool2d ceil_mode=True, torchvision's Inception
    module (4 branches, 3x3 max pool stride 1 pad 1 ceil_mode branch, concat), dropout, Linear."""
    g = _tv("googlenet")

    class GoogLeNetTiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = g.BasicConv2d(3, 8, kernel_size=7, stride=2, padding=3)
            self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            self.conv2 = g.BasicConv2d(8, 16, kernel_size=3, padding=1)
            self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            self.inception3a = g.Inception(16, 8, 8, 12, 4, 4, 4)
            self.inception3b = g.Inception(28, 8, 8, 8, 4, 8, 8)
            self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            self.inception4a = g.Inception(32, 8, 4, 8, 4, 8, 8)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.dropout = nn.Dropout(0.2)
            self.fc = nn.Linear(32, 10)

        def forward(self, x):
            x = _transform_input(x)
            x = self.maxpool2(self.conv2(self.maxpool1(self.conv1(x))))
            x = self.maxpool3(self.inception3b(self.inception3a(x)))
            x = self.avgpool(self.inception4a(x))
            return self.fc(self.dropout(torch.flatten(x, 1)))
    return GoogLeNetTiny()


def inception_v3_tiny():
    """Inception3's pattern at tiny widths: transform_input, unpadded 3x3/2 stem, max pool 3/2,
    an InceptionA (1x1, 5x5 pad 2, double 3x3, avg_pool2d 3/1 pad 1 count_include_pad), an
    InceptionB (3x3/2 convs + max pool 3/2, concat), an InceptionC (1x7 / 7x1 asymmetric convs
    with pads (0, 3) / (3, 0)), an InceptionE (1x3 and 3x1 branches concatenated),
    AdaptiveAvgPool2d(1), dropout, flatten, Linear. Uses torchvision's BasicConv2d."""
    B = _tv("inception").BasicConv2d

    class A(nn.Module):
        def __init__(self, c, pf):
            super().__init__()
            self.b1 = B(c, 8, kernel_size=1)
            self.b5_1, self.b5_2 = B(c, 6, kernel_size=1), B(6, 8, kernel_size=5, padding=2)
            self.b3_1, self.b3_2, self.b3_3 = B(c, 8, kernel_size=1), B(8, 8, kernel_size=3, padding=1), \
                B(8, 8, kernel_size=3, padding=1)
            self.bp = B(c, pf, kernel_size=1)

        def forward(self, x):
            bp = self.bp(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
            return torch.cat([self.b1(x), self.b5_2(self.b5_1(x)), self.b3_3(self.b3_2(self.b3_1(x))), bp], 1)

    class Bb(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.b3 = B(c, 12, kernel_size=3, stride=2)
            self.d1, self.d2, self.d3 = B(c, 8, kernel_size=1), B(8, 8, kernel_size=3, padding=1), \
                B(8, 8, kernel_size=3, stride=2)

        def forward(self, x):
            return torch.cat([self.b3(x), self.d3(self.d2(self.d1(x))), F.max_pool2d(x, kernel_size=3, stride=2)], 1)

    class C(nn.Module):
        def __init__(self, c, c7):
            super().__init__()
            self.b1 = B(c, 8, kernel_size=1)
            self.s1, self.s2, self.s3 = B(c, c7, kernel_size=1), B(c7, c7, kernel_size=(1, 7), padding=(0, 3)), \
                B(c7, 8, kernel_size=(7, 1), padding=(3, 0))
            self.bp = B(c, 8, kernel_size=1)

        def forward(self, x):
            bp = self.bp(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
            return torch.cat([self.b1(x), self.s3(self.s2(self.s1(x))), bp], 1)

    class E(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.b1 = B(c, 8, kernel_size=1)
            self.b3 = B(c, 8, kernel_size=1)
            self.b3a, self.b3b = B(8, 8, kernel_size=(1, 3), padding=(0, 1)), B(8, 8, kernel_size=(3, 1), padding=(1, 0))

        def forward(self, x):
            y = self.b3(x)
            return torch.cat([self.b1(x), torch.cat([self.b3a(y), self.b3b(y)], 1)], 1)

    class InceptionTiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = B(3, 8, kernel_size=3, stride=2)
            self.c2 = B(8, 8, kernel_size=3)
            self.c3 = B(8, 16, kernel_size=3, padding=1)
            self.pool = nn.MaxPool2d(kernel_size=3, stride=2)
            self.a = A(16, 4)
            self.b = Bb(28)
            self.c = C(48, 6)
            self.e = E(24)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.dropout = nn.Dropout(0.5)
            self.fc = nn.Linear(24, 10)

        def forward(self, x):
            x = _transform_input(x)
            x = self.pool(self.c3(self.c2(self.c1(x))))
            x = self.e(self.c(self.b(self.a(x))))
            return self.fc(torch.flatten(self.dropout(self.avgpool(x)), 1))
    return InceptionTiny()


def mobilenet_v2_tiny():
    """torchvision.models.MobileNetV2(width_mult=0.25, a 3-stage inverted_residual_setting):
    ReLU6 (Clip 0..6), depthwise 3x3, inverted residuals with and without the skip add,
    1x1 conv to 1280, adaptive_avg_pool2d(1), flatten, dropout, Linear."""
    return _tv("mobilenetv2").MobileNetV2(num_classes=10, width_mult=0.25,
                                          inverted_residual_setting=[[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 2, 2]])


def mobilenet_v3_small_tiny():
    """torchvision.models.MobileNetV3 with mobilenet_v3_small's configuration at width_mult=0.1,
    reduced_tail=True: Hardswish (HardSwish op from opset 14, decomposed below), squeeze-excitation
    (AdaptiveAvgPool2d(1), 1x1 conv, ReLU, 1x1 conv, Hardsigmoid, Mul), depthwise 3x3 and 5x5,
    classifier Linear-Hardswish-Dropout-Linear."""
    m = _tv("mobilenetv3")
    setting, last = m._mobilenet_v3_conf("mobilenet_v3_small", width_mult=0.1, reduced_tail=True)
    return m.MobileNetV3(setting, last, num_classes=10)


def mobilenet_v3_large_tiny():
    """torchvision.models.MobileNetV3 with mobilenet_v3_large's configuration at width_mult=0.1,
    reduced_tail=True (ReLU and Hardswish stages, SE blocks, residual adds)."""
    m = _tv("mobilenetv3")
    setting, last = m._mobilenet_v3_conf("mobilenet_v3_large", width_mult=0.1, reduced_tail=True)
    return m.MobileNetV3(setting, last, num_classes=10)


def mnasnet_tiny():
    """MNASNet's layout (torchvision.models.MNASNet's forward) at tiny widths, with torchvision's
    mnasnet._stack of _InvertedResidual blocks: depthwise-separable stem, inverted residual stacks
    (3x3 and 5x5 depthwise, expansion 3 and 6, with and without the skip add), 1x1 head conv,
    x.mean([2, 3]) (ReduceMean: axes attribute below opset 18, input from 18), dropout, Linear."""
    mn = _tv("mnasnet")

    class MNASNetTiny(nn.Module):
        def __init__(self):
            super().__init__()
            m = 1 - 0.9997
            self.layers = nn.Sequential(
                nn.Conv2d(3, 8, 3, padding=1, stride=2, bias=False), nn.BatchNorm2d(8, momentum=m), nn.ReLU(True),
                nn.Conv2d(8, 8, 3, padding=1, stride=1, groups=8, bias=False), nn.BatchNorm2d(8, momentum=m),
                nn.ReLU(True), nn.Conv2d(8, 8, 1, bias=False), nn.BatchNorm2d(8, momentum=m),
                mn._stack(8, 8, 3, 2, 3, 2, m), mn._stack(8, 16, 5, 2, 3, 2, m), mn._stack(16, 16, 5, 1, 6, 1, m),
                mn._stack(16, 24, 3, 2, 6, 1, m),
                nn.Conv2d(24, 64, 1, bias=False), nn.BatchNorm2d(64, momentum=m), nn.ReLU(True))
            self.classifier = nn.Sequential(nn.Dropout(0.2, inplace=True), nn.Linear(64, 10))

        def forward(self, x):
            return self.classifier(self.layers(x).mean([2, 3]))
    return MNASNetTiny()


def shufflenet_v2_tiny():
    """torchvision.models.ShuffleNetV2(stages_repeats=[1, 2, 1], stages_out_channels=[8, 16, 32,
    48, 64]): channel_shuffle (view with the batch size read from x.size(), transpose, view),
    x.chunk(2, dim=1) (Split: attribute below opset 13, input from 13), stride-2 two-branch units,
    maxpool 3/2 pad 1, x.mean([2, 3]) (ReduceMean), Linear."""
    return _tv("shufflenetv2").ShuffleNetV2([1, 2, 1], [8, 16, 32, 48, 64], num_classes=10)


def regnet_y_tiny():
    """torchvision.models.RegNet from BlockParams.from_init_params(depth=4, w_0=8, w_a=8, w_m=2,
    group_width=8, se_ratio=0.25), stem_width=8: regnet_y's ResBottleneckBlock (1x1, grouped 3x3,
    SE with ReLU + Sigmoid, 1x1, projection shortcut), AdaptiveAvgPool2d(1), flatten, Linear."""
    r = _tv("regnet")
    params = r.BlockParams.from_init_params(depth=4, w_0=8, w_a=8.0, w_m=2.0, group_width=8, se_ratio=0.25)
    return r.RegNet(params, num_classes=10, stem_width=8)


def regnet_x_tiny():
    """As regnet_y_tiny without squeeze-excitation (regnet_x's blocks), group_width=4."""
    r = _tv("regnet")
    params = r.BlockParams.from_init_params(depth=3, w_0=8, w_a=8.0, w_m=2.0, group_width=4)
    return r.RegNet(params, num_classes=10, stem_width=8)


def efficientnet_tiny():
    """torchvision.models.EfficientNet with a 3-stage MBConvConfig list (expand 1 and 6, 3x3 and
    5x5 depthwise, stride 2): SiLU (Sigmoid * x), SqueezeExcitation with SiLU + Sigmoid,
    StochasticDepth (identity in eval), residual adds, 1x1 head conv, avgpool, dropout, Linear."""
    e = _tv("efficientnet")
    setting = [e.MBConvConfig(1, 3, 1, 8, 8, 1), e.MBConvConfig(6, 3, 2, 8, 16, 2), e.MBConvConfig(6, 5, 2, 16, 24, 1)]
    return e.EfficientNet(setting, dropout=0.2, stochastic_depth_prob=0.2, num_classes=10, last_channel=64)


def convnext_tiny():
    """torchvision.models.ConvNeXt with block_setting [CNBlockConfig(16, 32, 1), CNBlockConfig(32,
    None, 1)]: 4x4/4 patchify stem, LayerNorm2d (permute + F.layer_norm over C + permute;
    LayerNormalization from opset 17, ReduceMean/Sub/Pow/Sqrt/Div below), CNBlock (depthwise 7x7
    pad 3, Permute to channels-last, LayerNorm, Linear (MatMul + Add), exact GELU (Erf; Gelu op at
    opset 20), Linear, Permute back, layer_scale [C,1,1] multiply, StochasticDepth in eval, add),
    LayerNorm2d + 2x2/2 conv downsampling, classifier LayerNorm2d + Flatten + Linear."""
    c = _tv("convnext")
    return c.ConvNeXt([c.CNBlockConfig(16, 32, 1), c.CNBlockConfig(32, None, 1)], stochastic_depth_prob=0.1,
                      num_classes=10)


def fcn_tiny():
    """torchvision's FCN (segmentation.fcn.FCN) on an IntermediateLayerGetter over a tiny dilated
    Bottleneck ResNet (replace_stride_with_dilation=[False, True, True]: dilated 3x3 convs),
    FCNHead (3x3 conv, BN, ReLU, dropout, 1x1 conv) for "out" and "aux", each upsampled with
    F.interpolate(size=x.shape[-2:], mode="bilinear", align_corners=False) (Shape, Gather/Slice,
    Concat, Resize). Outputs: "out", "aux"."""
    from torchvision.models._utils import IntermediateLayerGetter
    seg = _tv("segmentation.fcn")
    body = _TinyResNet(_tv("resnet").Bottleneck, [1, 1, 1, 1], [4, 4, 4, 8], dilate=(False, True, True),
                       classify=False)
    backbone = IntermediateLayerGetter(body, return_layers={"layer4": "out", "layer3": "aux"})
    return seg.FCN(backbone, seg.FCNHead(32, SEG_CLASSES), seg.FCNHead(16, SEG_CLASSES))


def _mobilenet_v3_large_features(width_mult=0.1):
    m = _tv("mobilenetv3")
    setting, last = m._mobilenet_v3_conf("mobilenet_v3_large", width_mult=width_mult, reduced_tail=True,
                                         dilated=True)
    features = m.MobileNetV3(setting, last).features
    stage = [0] + [i for i, b in enumerate(features) if getattr(b, "_is_cn", False)] + [len(features) - 1]
    return features, stage


def deeplabv3_tiny():
    """torchvision's DeepLabV3 as deeplabv3_mobilenet_v3_large builds it (dilated MobileNetV3-large
    features at width 0.1, C5 "out" and C2 "aux" via IntermediateLayerGetter), with DeepLabHead's
    layout at 16 channels: ASPP (1x1 branch, dilated 3x3 branches at rates 12/24/36 -- larger than
    the feature map --, ASPPPooling: AdaptiveAvgPool2d(1) + conv + BN + ReLU upsampled back with
    F.interpolate(size=x.shape[-2:], bilinear), concat, 1x1 projection, dropout), 3x3 conv, BN,
    ReLU, 1x1 conv; FCNHead aux; both upsampled to the input size. Outputs: "out", "aux"."""
    from torchvision.models._utils import IntermediateLayerGetter
    d = _tv("segmentation.deeplabv3")
    seg = _tv("segmentation.fcn")
    features, stage = _mobilenet_v3_large_features()
    out_pos, aux_pos = stage[-1], stage[-4]
    backbone = IntermediateLayerGetter(features, return_layers={str(out_pos): "out", str(aux_pos): "aux"})
    head = nn.Sequential(d.ASPP(features[out_pos].out_channels, [12, 24, 36], out_channels=16),
                         nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.Conv2d(16, SEG_CLASSES, 1))
    return d.DeepLabV3(backbone, head, seg.FCNHead(features[aux_pos].out_channels, SEG_CLASSES))


def lraspp_tiny():
    """torchvision's LRASPP (segmentation.lraspp.LRASPP) as lraspp_mobilenet_v3_large builds it, on
    the dilated MobileNetV3-large features at width 0.1, inter_channels=16: 1x1 conv + BN + ReLU,
    scale branch AdaptiveAvgPool2d(1) + 1x1 conv + Sigmoid, multiply, F.interpolate to the low
    features' size (bilinear), low and high 1x1 classifiers added, upsampled to the input size.
    Output: "out"."""
    from torchvision.models._utils import IntermediateLayerGetter
    lr = _tv("segmentation.lraspp")
    features, stage = _mobilenet_v3_large_features()
    low, high = stage[-4], stage[-1]
    backbone = IntermediateLayerGetter(features, return_layers={str(low): "low", str(high): "high"})
    return lr.LRASPP(backbone, features[low].out_channels, features[high].out_channels, SEG_CLASSES,
                     inter_channels=16)


def heads_misc():
    """The opset-sensitive odds and ends around those models: Softmax over dim 1 of 2-D logits
    (output "prob") and over the channel axis of a 4-D map (output "chan_softmax"; the
    exporter transposes it below opset 13), torch.mean over (2, 3) keepdim (ReduceMean),
    torch.split into unequal parts (Split), clamp (Clip with min/max inputs), hardtanh and
    hardsigmoid, x.view(x.size(0), -1). Outputs: "prob", "chan_softmax"."""
    class Heads(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 12, 3, stride=2, padding=1)
            self.bn = nn.BatchNorm2d(12)
            self.fc = nn.Linear(8 * 4 * 4 + 4, 10)

        def forward(self, x):
            y = self.bn(self.conv(x))
            a, b = torch.split(y, [4, 8], dim=1)
            a = torch.clamp(a, -0.5, 1.5) * torch.mean(a, dim=(2, 3), keepdim=True)
            b = F.hardtanh(b, -1.0, 2.0) + F.hardsigmoid(b)
            pooled = F.adaptive_avg_pool2d(b, (4, 4))
            z = torch.cat([pooled.view(pooled.size(0), -1), torch.mean(a, dim=(2, 3))], 1)
            return torch.softmax(self.fc(z), dim=1), torch.softmax(y, dim=1)
    return Heads()


# ---------------------------------------------------------------------------------------------
# the fixture list: name -> (builder, opset, input shape C,H,W, output names, dynamic batch)

FIXTURES: "OrderedDict[str, tuple]" = OrderedDict()
SEG_CLASSES = 3


def _add(name, builder, opset=17, chw=(3, 64, 64), outputs=("logits",), dynamic=False):
    FIXTURES[name] = (builder, opset, chw, tuple(outputs), dynamic)


SEG = ("out", "aux")
SEG_HW = (3, 48, 48)
_add("alexnet_tiny", alexnet_tiny, chw=(3, 116, 116))
_add("vgg_bn_tiny", vgg_bn_tiny, chw=(3, 56, 56))
_add("resnet_basic_tiny", resnet_basic_tiny)
_add("resnext_bottleneck_tiny", resnext_bottleneck_tiny)
_add("squeezenet_tiny", squeezenet_tiny, chw=(3, 66, 66))
_add("densenet_tiny", densenet_tiny)
_add("googlenet_tiny", googlenet_tiny)
_add("inception_v3_tiny", inception_v3_tiny, chw=(3, 75, 75))
_add("inception_v3_tiny_dyn", inception_v3_tiny, chw=(3, 75, 75), dynamic=True)
_add("mobilenet_v2_tiny", mobilenet_v2_tiny)
_add("mobilenet_v3_small_tiny", mobilenet_v3_small_tiny)
_add("mobilenet_v3_small_tiny_op11", mobilenet_v3_small_tiny, opset=11)
_add("mobilenet_v3_large_tiny", mobilenet_v3_large_tiny)
_add("mnasnet_tiny", mnasnet_tiny)
_add("shufflenet_v2_tiny", shufflenet_v2_tiny)
_add("shufflenet_v2_tiny_dyn", shufflenet_v2_tiny, dynamic=True)
_add("shufflenet_v2_tiny_op11", shufflenet_v2_tiny, opset=11)
_add("shufflenet_v2_tiny_op18", shufflenet_v2_tiny, opset=18)
_add("regnet_y_tiny", regnet_y_tiny)
_add("regnet_x_tiny", regnet_x_tiny, opset=13)
_add("efficientnet_tiny", efficientnet_tiny)
_add("efficientnet_tiny_op20", efficientnet_tiny, opset=20)
_add("convnext_tiny", convnext_tiny)
_add("convnext_tiny_op11", convnext_tiny, opset=11)
_add("convnext_tiny_op18", convnext_tiny, opset=18)
_add("convnext_tiny_op20", convnext_tiny, opset=20)
_add("convnext_tiny_op21", convnext_tiny, opset=21)
_add("fcn_tiny", fcn_tiny, chw=SEG_HW, outputs=SEG)
_add("fcn_tiny_dyn", fcn_tiny, chw=SEG_HW, outputs=SEG, dynamic=True)
_add("fcn_tiny_op11", fcn_tiny, chw=SEG_HW, opset=11, outputs=SEG)
_add("fcn_tiny_op21", fcn_tiny, chw=SEG_HW, opset=21, outputs=SEG)
_add("deeplabv3_tiny", deeplabv3_tiny, chw=SEG_HW, outputs=SEG)
_add("deeplabv3_tiny_op18", deeplabv3_tiny, chw=SEG_HW, opset=18, outputs=SEG)
_add("lraspp_tiny", lraspp_tiny, chw=SEG_HW, outputs=("out",))
_add("lraspp_tiny_op11", lraspp_tiny, chw=SEG_HW, opset=11, outputs=("out",))
_add("heads_misc", heads_misc, chw=(3, 32, 32), outputs=("prob", "chan_softmax"))
_add("heads_misc_op11", heads_misc, opset=11, chw=(3, 32, 32), outputs=("prob", "chan_softmax"))
_add("heads_misc_op13", heads_misc, opset=13, chw=(3, 32, 32), outputs=("prob", "chan_softmax"))
_add("heads_misc_op20", heads_misc, opset=20, chw=(3, 32, 32), outputs=("prob", "chan_softmax"))

EXPORTER_MAX_OPSET = 20


def randomize(model: nn.Module, gen: torch.Generator) -> None:
    """BatchNorm statistics and affine parameters, LayerNorm's affine parameters and ConvNeXt's
    layer_scale: random (torchvision's defaults -- mean 0, var 1, weight 1, bias 0, layer_scale
    1e-6 -- would hide a wrong fold or a missing term)."""
    def u(t, lo, hi):
        t.copy_(torch.rand(t.shape, generator=gen) * (hi - lo) + lo)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                u(m.running_mean, -0.5, 0.5)
                u(m.running_var, 0.5, 1.5)
                u(m.weight, 0.5, 1.5)
                u(m.bias, -0.5, 0.5)
            elif isinstance(m, nn.LayerNorm) and m.elementwise_affine:
                u(m.weight, 0.5, 1.5)
                u(m.bias, -0.5, 0.5)
            if hasattr(m, "layer_scale") and isinstance(m.layer_scale, nn.Parameter):
                u(m.layer_scale, 0.5, 1.0)


@contextlib.contextmanager
def quiet():
    """The TorchScript exporter warns (deprecation) and prints graph dumps straight to fd 2."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def export(model, x, opset, outputs, dynamic) -> bytes:
    import onnx
    kwargs = {}
    if dynamic:
        kwargs["dynamic_axes"] = {"input": {0: "N"}, **{o: {0: "N"} for o in outputs}}
    f = io.BytesIO()
    with quiet():
        torch.onnx.export(model, (x,), f, dynamo=False, opset_version=min(opset, EXPORTER_MAX_OPSET),
                          do_constant_folding=True, input_names=["input"], output_names=list(outputs), **kwargs)
    data = f.getvalue()
    if opset > EXPORTER_MAX_OPSET:
        from onnx import version_converter
        m = version_converter.convert_version(onnx.load_from_string(data), opset)
        onnx.checker.check_model(m)
        data = m.SerializeToString()
    return data


def make(name: str) -> dict:
    import numpy as np
    import onnx
    import onnxruntime as ort
    builder, opset, chw, outputs, dynamic = FIXTURES[name]
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(sum(map(ord, name.split("_op")[0].replace("_dyn", ""))))
    model = builder()
    randomize(model, gen)
    model.eval()
    batch = 2 if dynamic else 1
    # U(-1, 1) on a grid of 1/128 (exact in float32; the .npz compresses it)
    x = torch.randint(-128, 129, (batch, *chw), generator=torch.Generator().manual_seed(1)).float() / 128
    with torch.no_grad():
        want = model(x)
    if isinstance(want, dict):
        want = [want[k] for k in outputs]
    elif isinstance(want, (tuple, list)):
        want = list(want)
    else:
        want = [want]
    data = export(model, x, opset, outputs, dynamic)
    proto = onnx.load_from_string(data)
    got_names = [o.name for o in proto.graph.output]
    if got_names != list(outputs):
        raise SystemExit(f"{name}: exported outputs {got_names}, expected {list(outputs)}")
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    xn = x.numpy().astype(np.float32)
    got = sess.run(None, {"input": xn})
    arrays = {"input": xn}
    worst = 0.0
    for o, w, g in zip(outputs, want, got):
        w = w.numpy()
        err = float(np.max(np.abs(g - w)) / max(1e-30, float(np.max(np.abs(w)))))
        worst = max(worst, err)
        if not err <= 1e-4:
            raise SystemExit(f"{name}: ONNX Runtime's {o} disagrees with torch (max rel err {err:.2e})")
        arrays[o] = g.astype(np.float32)
    onnx_path = os.path.join(OUT_DIR, name + ".onnx")
    with open(onnx_path, "wb") as fh:
        fh.write(data)
    np.savez_compressed(os.path.join(OUT_DIR, name + ".npz"), **arrays)
    ops = sorted({n.op_type for n in proto.graph.node})
    return {"name": name, "opset": proto.opset_import[0].version, "input": list(xn.shape), "outputs": list(outputs),
            "dynamic": dynamic, "ops": ops, "onnx_bytes": len(data),
            "npz_bytes": os.path.getsize(os.path.join(OUT_DIR, name + ".npz")), "err_vs_torch": worst,
            "doc": " ".join((builder.__doc__ or "").split())}


def write_readme(rows: list[dict]) -> None:
    total = sum(r["onnx_bytes"] + r["npz_bytes"] for r in rows)
    lines = [
        "# ONNX importer fixtures",
        "",
        "Written by `scripts/make_onnx_fixtures.py` (needs torch + torchvision: run it with",
        "`$TORCH_VENV/bin/python scripts/make_onnx_fixtures.py`); read by",
        "`bindings/python/tests/test_onnx_import.py` (numpy, onnx and onnxruntime only).",
        "",
        "Each `NAME.onnx` is a miniature of a torchvision CNN exported by torch.onnx.export",
        "(TorchScript exporter, `dynamo=False`, do_constant_folding=True, eval mode, random",
        "BatchNorm statistics); `NAME.npz` holds `input` and ONNX Runtime's output under each ONNX",
        "output name. `_dyn`: dynamic batch axis `N` (stored batch 2). `_opNN`: exported at that",
        "opset (others: 17); `_op21` is the opset-20 export converted by onnx.version_converter (the",
        "TorchScript exporter stops at 20).",
        "",
        f"{len(rows)} fixtures, {total / 1e6:.2f} MB in all.",
        "",
        "| fixture | opset | input | outputs | KiB (onnx + npz) | ONNX ops |",
        "|---|---:|---|---|---:|---|",
    ]
    for r in rows:
        shape = "x".join(str(d) for d in r["input"]) + (" (N dynamic)" if r["dynamic"] else "")
        lines.append(f"| {r['name']} | {r['opset']} | {shape} | {', '.join(r['outputs'])} | "
                     f"{r['onnx_bytes'] / 1024:.0f} + {r['npz_bytes'] / 1024:.0f} | {', '.join(r['ops'])} |")
    lines += ["", "## What each model covers", ""]
    seen = set()
    for r in rows:
        base = r["name"].split("_op")[0].replace("_dyn", "")
        if base in seen:
            continue
        seen.add(base)
        variants = [q["name"] for q in rows if q["name"].split("_op")[0].replace("_dyn", "") == base]
        lines.append(f"- **{base}** ({', '.join(variants)}): {r['doc']}")
    with open(os.path.join(OUT_DIR, "README.md"), "w") as fh:
        fh.write("\n".join(lines) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", help="comma-separated fixture names (default: all; README.md is then not rewritten)")
    ap.add_argument("--list", action="store_true", help="list the fixtures and exit")
    args = ap.parse_args()
    if args.list:
        for n, (_, opset, chw, outs, dyn) in FIXTURES.items():
            print(f"{n:32} opset {opset:2}  {chw}  {','.join(outs)}{'  dynamic batch' if dyn else ''}")
        return 0
    names = [n for n in (args.only or "").split(",") if n] or list(FIXTURES)
    unknown = [n for n in names if n not in FIXTURES]
    if unknown:
        ap.error(f"unknown fixture(s): {', '.join(unknown)}")
    os.makedirs(OUT_DIR, exist_ok=True)
    torch.set_num_threads(1)
    rows = []
    for n in names:
        r = make(n)
        rows.append(r)
        print(f"{n:32} opset {r['opset']:2}  {r['onnx_bytes'] / 1024:7.1f} KiB + {r['npz_bytes'] / 1024:6.1f} KiB"
              f"  ORT vs torch {r['err_vs_torch']:.1e}", flush=True)
    if not args.only:
        write_readme(rows)
    total = sum(r["onnx_bytes"] + r["npz_bytes"] for r in rows)
    print(f"{len(rows)} fixtures, {total / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
