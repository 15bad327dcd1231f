#!/usr/bin/env python3
"""Prints the torch values that Tests/SwiftCNNTests/GraphOpsONNXTests.swift checks the
ONNX-importer ops against (erf, sqrt, exp, log, neg, abs, reciprocal; layer_norm), as Swift
literals to paste there. Deterministic inputs, float32, torch's CPU kernels.

    /tmp/tv2/bin/python scripts/make_onnx_op_fixtures.py
"""
import math

import torch


def lit(t):
    out = []
    for v in t.reshape(-1).tolist():
        if math.isnan(v):
            out.append(".nan")
        elif math.isinf(v):
            out.append(".infinity" if v > 0 else "-.infinity")
        else:
            out.append(repr(float(v)))
    return "[" + ", ".join(out) + "]"


def unary():
    xs = torch.tensor([-4.0, -1.5, -0.5, -0.0, 0.0, 0.25, 1.0, 2.5, 9.0, float("nan")], dtype=torch.float32)
    ops = [("erf", torch.erf), ("sqrt", torch.sqrt), ("exp", torch.exp), ("log", torch.log),
           ("neg", torch.neg), ("abs", torch.abs), ("reciprocal", torch.reciprocal)]
    print("// xs = " + lit(xs))
    print("let torchONNXUnaryFixtures: [(UnaryOp, [Float], [Float])] = [")
    for name, f in ops:
        x = xs.clone().requires_grad_(True)
        y = f(x)
        y.backward(torch.ones_like(y))
        print(f"    (.{name}, {lit(y.detach())},\n     {lit(x.grad)}),")
    print("]")


def layer_norm():
    n, c, w = 2, 3, 5
    x = torch.tensor([((i * 7) % 11 - 5) / 4.0 + 0.01 * i for i in range(n * c * w)], dtype=torch.float32).reshape(n, c, w)
    g = torch.tensor([((i * 5) % 13 - 6) / 6.0 for i in range(n * c * w)], dtype=torch.float32).reshape(n, c, w)
    for axis, shape in [(-1, (w,)), (-2, (c, w))]:
        k = 1
        for d in shape:
            k *= d
        weight = torch.tensor([1 + 0.1 * i for i in range(k)], dtype=torch.float32).reshape(shape).requires_grad_(True)
        bias = torch.tensor([0.05 * i - 0.2 for i in range(k)], dtype=torch.float32).reshape(shape).requires_grad_(True)
        xx = x.clone().requires_grad_(True)
        y = torch.nn.functional.layer_norm(xx, shape, weight, bias, 1e-5)
        y.backward(g)
        print(f"// layer_norm axis {axis}: x [2, 3, 5] = ((i*7)%11 - 5)/4 + 0.01 i, g = ((i*5)%13 - 6)/6,")
        print(f"// weight = 1 + 0.1 i, bias = 0.05 i - 0.2 (shape {list(shape)}), eps 1e-5")
        print(f"let torchLayerNormAxis{-axis}: (y: [Float], dx: [Float], dw: [Float], db: [Float]) = (")
        print(f"    {lit(y.detach())},\n    {lit(xx.grad)},\n    {lit(weight.grad)},\n    {lit(bias.grad)})")


if __name__ == "__main__":
    unary()
    layer_norm()
