#!/usr/bin/env python3
"""swiftcnn seeded init v1 -- the deterministic weight generator of the model zoo tests.

This docstring is the normative description. The Swift implementation
(Sources/SwiftCNN/Weights/SeededInit.swift) must produce bit-identical float32 values from it.
Needs numpy only (no torch). Run `python3 scripts/weightgen.py` to print the self-test vectors.

1. Integer stream (all arithmetic on unsigned 64-bit integers, wrapping mod 2^64)
-------------------------------------------------------------------------------
    GAMMA = 0x9E3779B97F4A7C15

    fnv1a64(bytes):  h = 0xCBF29CE484222325
                     for each byte b:  h = h XOR b;  h = h * 0x100000001B3   (mod 2^64)
                     return h

    mix(z):          z = (z XOR (z >> 30)) * 0xBF58476D1CE4E5B9
                     z = (z XOR (z >> 27)) * 0x94D049BB133111EB
                     return z XOR (z >> 31)                (">>" is a logical shift)

    For a tensor named NAME (a string; its UTF-8 bytes are hashed, no terminator) and a seed
    (uint64, default 0):
        s    = fnv1a64(utf8(NAME)) XOR seed
        z[i] = mix(s + (i + 1) * GAMMA)                   for element i = 0, 1, ..., n-1
    where i is the row-major (C order) flat index of the element in the tensor's shape.
    Counter-based: element i does not depend on any other element; the stream depends only on
    NAME, seed and i (not on the shape, nor on the other tensors of the model).

2. Uniform in [0, 1)
--------------------
    u[i] = Float32(z[i] >> 40) * 2^-24
The top 24 bits as an integer (< 2^24, so exactly representable in float32), times 2^-24 (exact).
So u is a float32 multiple of 2^-24 in [0, 1 - 2^-24], with no rounding anywhere.

3. Scaling to [lo, hi)
----------------------
    lo32    = Float32(lo)           # lo as a float64 value, rounded once to float32 (nearest-even)
    range32 = Float32(hi - lo)      # hi - lo computed in float64 (one IEEE double subtraction),
                                    # then rounded once to float32 (nearest-even)
    value   = lo32 + (range32 * u)  # exactly two float32 operations: first the float32 multiply
                                    # (rounded to float32), then the float32 add (rounded);
                                    # never fused into an FMA, never computed in double.
(In Swift: `let v: Float = lo32 + range32 * u` -- Swift does not contract a*b+c into an FMA;
in numpy: float32 arrays, `lo32 + range32 * u`, which rounds after each operation.)

4. Which range, by tensor (decided by the last dot-separated component of NAME and by the rank)
------------------------------------------------------------------------------------------------
    "...weight", rank >= 2   U(-b, b), b = sqrt(6 / fan_in) computed in float64 (the division
                             6.0 / Double(fan_in) and the square root each correctly rounded),
                             fan_in = product of shape[1:]  (conv [O, I/g, KH, KW] -> I/g*KH*KW;
                             linear [O, I] -> I; lenet5_original's c3.weight [60, 5, 5] -> 25).
                             So lo = -b, hi = b and hi - lo = b - (-b) = 2b (exact in float64).
    "...weight", rank 1      U(0.5, 1.5)   (batch-norm gamma; lenet5_original's s2/s4 coefficients)
    "...bias"                U(-0.1, 0.1)  (lo = -0.1 and hi - lo = 0.2 as float64, then to float32)
    "...running_mean"        U(-0.1, 0.1)
    "...running_var"         U(0.5, 1.5)   (positive, as a variance must be)
    "...num_batches_tracked" not generated (ignored by every loader and by the fixtures)
    NAME == "input"          U(-1, 1)      the model input of the fixtures, shape e.g. [2,3,224,224]
    NAME == "rbf.codes"      shape [num_classes, 84] (lenet5_original's fixed RBF codes, not
                             parameters): value = +1.0 if u >= 0.5 else -1.0  (u from step 2)
    a graph `constant` node  (its parameter is the node's path, e.g. "block.layer_scale", a name
                             with no rule above) U(-0.1, 0.1), as a bias; the Swift library
                             decides by the op, this generator only knows names: pass the range.
    anything else            an error.
The seed is 0 for every committed fixture.

5. Self-test vectors (seed 0 unless stated; the first 4 elements, float32 value and IEEE bits)
-----------------------------------------------------------------------------------------------
    fnv1a64("")                  = 0xcbf29ce484222325
    fnv1a64("input")             = 0x1ebbae8f5810b65b
    z of "input", i = 0..3       = 0x190a9f76a9bd8bf6 0xa70117d09cb2bc5b
                                   0x3420b86a56b4f31f 0x4642016398ff478f
    z >> 40                      = 0x190a9f 0xa70117 0x3420b8 0x464201
    u of "input"                 = 0.09781831502914429 0.6523603796958923
                                   0.20362424850463867 0.2744446396827698
    "input" [2,1,32,32]          = -0.80436337 (0xbf4deac2)  0.30472076 (0x3e9c045c)
                                   -0.59275150 (0xbf17be90) -0.45111072 (0xbee6f7fc)
    "input", seed 1              = -0.55897701 (0xbf0f191e)  0.83682680 (0x3f563a48)
                                    0.44405341 (0x3ee35af8) -0.13469589 (0xbe09edb8)
    "features.0.weight" [64,3,11,11] (fan_in 363, b = 0.128564869306645)
                                 =  0.09147583 (0x3dbb57ae)  0.00679864 (0x3bdec720)
                                    0.03584297 (0x3d12d014) -0.10477001 (0xbdd691a9)
    "conv1.weight" [64,3,7,7] (fan_in 147, b = 0.20203050891044214)
                                 =  0.01821302 (0x3c953378)  0.09906030 (0x3dcae020)
                                   -0.19276875 (0xbe45652c)  0.09543830 (0x3dc37528)
    "c3.weight" [60,5,5] (fan_in 25, b = sqrt(0.24))
                                 =  0.03557131 (0x3d11b338)  0.36608490 (0x3ebb6f7b)
                                   -0.07690921 (0xbd9d8294) -0.07842004 (0xbda09ab0)
    "bn1.weight" [64]            =  0.86020398 (0x3f5c3654)  1.32440901 (0x3fa9863c)
                                    1.06918788 (0x3f88db26)  0.74939775 (0x3f3fd888)
    "fc.bias" [1000]             = -0.00446974 (0xbb9276e0) -0.00385364 (0xbb7c8d60)
                                   -0.04398739 (0xbd342c20) -0.04140673 (0xbd299a1a)
    "layer1.0.bn1.running_var"   =  1.14624095 (0x3f92b806)  1.33828139 (0x3fab4cce)
                                    1.28124428 (0x3fa3ffd0)  0.65464991 (0x3f279723)
    "layer1.0.bn1.running_mean"  = -0.08976370 (0xbdb7d608)  0.04872891 (0x3d4797f6)
                                   -0.06664725 (0xbd887e5a) -0.08610655 (0xbdb058a2)
    "rbf.codes" [10,84], first 8 = -1 -1 -1 -1 -1 1 -1 -1
(`python3 scripts/weightgen.py` recomputes and prints these; the asserts at the bottom of this
file check that the code still agrees with this text.)

Python API
----------
    fnv1a64(data: bytes) -> int
    raw_bits(name, n, seed=0) -> np.ndarray[uint64]          the z[i] stream
    uniform01(name, n, seed=0) -> np.ndarray[float32]         u[i]
    value_range(name, shape) -> (lo, hi) in float64, or None for num_batches_tracked
    generate(name, shape, seed=0) -> np.ndarray[float32]      the tensor (for "rbf.codes": +-1)
    model_input(shape, seed=0) -> np.ndarray[float32]         generate("input", shape)
    rbf_codes(num_classes, seed=0) -> np.ndarray[float32]     generate("rbf.codes", [nc, 84])
    fill_state_dict(named_shapes, seed=0) -> dict[name, ndarray]
                                  named_shapes: iterable of (name, shape) or a mapping
                                  name -> shape (or -> array/tensor with .shape); entries named
                                  "*.num_batches_tracked" are skipped.
"""
from __future__ import annotations

import math
import sys
from typing import Iterable, Mapping

import numpy as np

GENERATOR_NAME = "swiftcnn seeded init v1"

_MASK64 = (1 << 64) - 1
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_CHUNK = 1 << 18  # elements per vectorized chunk (cache-sized: ~7x faster than 4M chunks; bounds temporary memory)


def fnv1a64(data: bytes) -> int:
    """64-bit FNV-1a of a byte string."""
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & _MASK64
    return h


def _mix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def _bits_chunk(s: np.uint64, start: int, stop: int) -> np.ndarray:
    counter = np.arange(start + 1, stop + 1, dtype=np.uint64)
    return _mix(s + counter * _GAMMA)


def _stream_state(name: str, seed: int) -> np.uint64:
    if not 0 <= seed <= _MASK64:
        raise ValueError(f"weightgen: seed must be a uint64, got {seed}")
    return np.uint64(fnv1a64(name.encode("utf-8")) ^ seed)


def raw_bits(name: str, n: int, seed: int = 0) -> np.ndarray:
    """z[i] = mix(s + (i+1)*GAMMA), s = fnv1a64(name) ^ seed, for i in 0..<n (uint64)."""
    s = _stream_state(name, seed)
    out = np.empty(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for a in range(0, n, _CHUNK):
            b = min(n, a + _CHUNK)
            out[a:b] = _bits_chunk(s, a, b)
    return out


_TWO_M24 = np.float32(2.0 ** -24)


def uniform01(name: str, n: int, seed: int = 0) -> np.ndarray:
    """u[i] = float32(z[i] >> 40) * 2^-24, exact, in [0, 1)."""
    s = _stream_state(name, seed)
    out = np.empty(n, dtype=np.float32)
    with np.errstate(over="ignore"):
        for a in range(0, n, _CHUNK):
            b = min(n, a + _CHUNK)
            top = _bits_chunk(s, a, b) >> np.uint64(40)
            out[a:b] = top.astype(np.float32) * _TWO_M24
    return out


def value_range(name: str, shape) -> tuple[float, float] | None:
    """(lo, hi) as float64 for a tensor name and shape; None for num_batches_tracked."""
    shape = tuple(int(d) for d in shape)
    last = name.rsplit(".", 1)[-1]
    if name == "input":
        return (-1.0, 1.0)
    if last == "num_batches_tracked":
        return None
    if last == "weight":
        if len(shape) >= 2:
            fan_in = math.prod(shape[1:])
            if fan_in < 1:
                raise ValueError(f"weightgen: {name} has fan_in {fan_in} (shape {shape})")
            b = math.sqrt(6.0 / fan_in)
            return (-b, b)
        if len(shape) == 1:
            return (0.5, 1.5)
        raise ValueError(f"weightgen: {name} is a weight of rank {len(shape)}; expected rank >= 1")
    if last == "bias":
        return (-0.1, 0.1)
    if last == "running_mean":
        return (-0.1, 0.1)
    if last == "running_var":
        return (0.5, 1.5)
    raise ValueError(f"weightgen: no rule for tensor {name!r} (shape {shape})")


def generate(name: str, shape, seed: int = 0) -> np.ndarray:
    """The float32 tensor NAME of SHAPE under swiftcnn seeded init v1."""
    shape = tuple(int(d) for d in shape)
    n = math.prod(shape)
    u = uniform01(name, n, seed)
    if name == "rbf.codes":
        return np.where(u >= np.float32(0.5), np.float32(1.0), np.float32(-1.0)).astype(np.float32).reshape(shape)
    r = value_range(name, shape)
    if r is None:
        raise ValueError(f"weightgen: {name} is not generated (num_batches_tracked)")
    lo, hi = r
    lo32 = np.float32(lo)
    range32 = np.float32(hi - lo)  # float64 subtraction, one rounding to float32
    # float32 multiply, rounded; then float32 add, rounded (numpy never fuses these)
    prod = np.multiply(u, range32, dtype=np.float32)
    return np.add(prod, lo32, dtype=np.float32).reshape(shape)


def model_input(shape, seed: int = 0) -> np.ndarray:
    return generate("input", shape, seed)


def rbf_codes(num_classes: int, seed: int = 0) -> np.ndarray:
    return generate("rbf.codes", (num_classes, 84), seed)


def fill_state_dict(named_shapes, seed: int = 0) -> dict:
    """Generate every tensor of a state_dict (skipping num_batches_tracked).

    named_shapes: a mapping name -> shape / array / tensor (anything with .shape), or an
    iterable of (name, shape) pairs. Returns {name: float32 ndarray} in the given order.
    """
    items = named_shapes.items() if isinstance(named_shapes, Mapping) else named_shapes
    out = {}
    for name, shp in items:
        shape = tuple(shp.shape) if hasattr(shp, "shape") else tuple(shp)
        if name.rsplit(".", 1)[-1] == "num_batches_tracked":
            continue
        out[name] = generate(name, shape, seed)
    return out


# ---------------------------------------------------------------------------------------------
# self-test vectors (must agree with the docstring)

_VECTORS = [
    ("input", (2, 1, 32, 32), 0, [0xBF4DEAC2, 0x3E9C045C, 0xBF17BE90, 0xBEE6F7FC]),
    ("input", (4,), 1, [0xBF0F191E, 0x3F563A48, 0x3EE35AF8, 0xBE09EDB8]),
    ("features.0.weight", (64, 3, 11, 11), 0, [0x3DBB57AE, 0x3BDEC720, 0x3D12D014, 0xBDD691A9]),
    ("conv1.weight", (64, 3, 7, 7), 0, [0x3C953378, 0x3DCAE020, 0xBE45652C, 0x3DC37528]),
    ("c3.weight", (60, 5, 5), 0, [0x3D11B338, 0x3EBB6F7B, 0xBD9D8294, 0xBDA09AB0]),
    ("bn1.weight", (64,), 0, [0x3F5C3654, 0x3FA9863C, 0x3F88DB26, 0x3F3FD888]),
    ("fc.bias", (1000,), 0, [0xBB9276E0, 0xBB7C8D60, 0xBD342C20, 0xBD299A1A]),
    ("layer1.0.bn1.running_var", (64,), 0, [0x3F92B806, 0x3FAB4CCE, 0x3FA3FFD0, 0x3F279723]),
    ("layer1.0.bn1.running_mean", (64,), 0, [0xBDB7D608, 0x3D4797F6, 0xBD887E5A, 0xBDB058A2]),
]
_FNV = [("", 0xCBF29CE484222325), ("input", 0x1EBBAE8F5810B65B)]
_INPUT_BITS = [0x190A9F76A9BD8BF6, 0xA70117D09CB2BC5B, 0x3420B86A56B4F31F, 0x4642016398FF478F]
_RBF_FIRST8 = [-1, -1, -1, -1, -1, 1, -1, -1]


def _hexbits(x: np.ndarray) -> list[int]:
    return [int(v) for v in np.asarray(x, dtype=np.float32).view(np.uint32)]


def self_test(verbose: bool = False) -> bool:
    """Recompute the docstring's vectors; return True when they all agree."""
    ok = True

    def say(line):
        if verbose:
            print(line)

    for text, want in _FNV:
        got = fnv1a64(text.encode())
        ok &= got == want
        say(f'fnv1a64({text!r}) = {got:#018x}' + ("" if got == want else f"  MISMATCH want {want:#018x}"))
    z = raw_bits("input", 4)
    got = [int(v) for v in z]
    ok &= got == _INPUT_BITS
    say('z("input")[0..3] = ' + " ".join(f"{v:#018x}" for v in got))
    for name, shape, seed, want in _VECTORS:
        vals = generate(name, shape, seed).reshape(-1)[:4]
        bits = _hexbits(vals)
        r = value_range(name, shape)
        extra = ""
        if name.endswith("weight") and len(shape) >= 2:
            extra = f" (fan_in {math.prod(shape[1:])}, b = {r[1]!r})"
        say(f"{name} {list(shape)}{extra}" + (f" seed {seed}" if seed else ""))
        say("    " + "  ".join(f"{float(v):.8f} ({b:#010x})" for v, b in zip(vals, bits)))
        if bits != want:
            ok = False
            say("    MISMATCH want " + " ".join(f"{b:#010x}" for b in want))
    codes = rbf_codes(10).reshape(-1)[:8]
    got = [int(v) for v in codes]
    ok &= got == _RBF_FIRST8
    say(f"rbf.codes [10,84] first 8 = {got}")
    # structural checks: value in [lo, hi], counter independence from shape
    a = generate("x.weight", (3, 4))
    b = generate("x.weight", (6, 2))
    ok &= bool(np.all(np.abs(a) <= np.float32(math.sqrt(6 / 4))))
    u1 = uniform01("x.weight", 12)
    u2 = uniform01("x.weight", 5)
    ok &= bool(np.array_equal(u1[:5], u2))
    ok &= not np.array_equal(a.reshape(-1), b.reshape(-1))  # different fan_in -> different scale
    return bool(ok)


if __name__ == "__main__":
    good = self_test(verbose=True)
    print("self-test:", "OK" if good else "FAILED")
    sys.exit(0 if good else 1)
