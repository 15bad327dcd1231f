#!/usr/bin/env python3
"""Writes the safetensors fixtures of Tests/SwiftCNNTests/SafeTensorsTests.swift.

Every file here is written by the real `safetensors` package (its Rust serializer), so
the Swift tests check that swiftcnn reads what the reference writes. Not run by CI; the
outputs are committed. To regenerate:

    python3 -m venv "$STENV" && "$STENV"/bin/pip install safetensors numpy   # STENV: any scratch folder
    "$STENV"/bin/python scripts/make_safetensors_fixtures.py

Values (the Swift tests rebuild them from these rules and compare exactly):
  ramp(n, step, start) = float64 (start + i * step) for i in 0..<n, then cast to the
  file's dtype (numpy's round-to-nearest-even, straight from float64).
  BF16 values are float32(ramp) with the low 16 bits dropped (truncation).

f32_shapes.safetensors   F32, metadata {"format": "pt", "note": "swiftcnn fixture"}
  "vector"          [5]           ramp(5, 0.5, -1)
  "layer.0.weight"  [2, 3, 3, 3]  ramp(54, 0.1, -2.7)
  "layer.0.bias"    [2]           ramp(2, 0.25, 0.5)
  "fc.weight"       [4, 3]        ramp(12, -0.3, 1.7)
  "cube"            [1, 2, 2, 2]  ramp(8, 1.0, 0)
f16.safetensors          F16, no metadata
  "ramp"            [2, 3, 4]     ramp(24, 0.1, -1.2)
  "special"         [14]          0, -0, 1, -2, 65504, -65504, 2**-14, 2**-24, 3 * 2**-24,
                                  2**-14 - 2**-24, inf, -inf, nan, 1/3
bf16.safetensors         BF16, metadata {"dtype": "bf16"}
  "ramp"            [3, 5]        ramp(15, 0.37, -2.5), truncated to bf16
  "special"         [8]           bits 0x0000 0x8000 0x3F80 0x7F80 0xFF80 0x7FC0 0x0001 0x807F
                                  (0, -0, 1, inf, -inf, nan, smallest subnormal, -subnormal)
state_dict.safetensors   a batch-norm state dict as torch writes it (mixed dtypes)
  "bn.weight" F32 [4] ramp(4, 0.5, 1); "bn.bias" F32 [4] ramp(4, -0.1, 0.2);
  "bn.running_mean" F32 [4] ramp(4, 0.01, 0); "bn.running_var" F64 [4] ramp(4, 0.7, 1.1);
  "bn.num_batches_tracked" I64 [] = 7; "mask" U8 [3] = 1, 0, 1
"""
import os
import sys

import numpy as np
import safetensors
from safetensors.numpy import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "SwiftCNNTests", "Fixtures")


def ramp(n, step, start):
    return start + np.arange(n, dtype=np.float64) * step


def bf16_bits(x):
    return (np.asarray(x, dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16)


def main():
    os.makedirs(OUT, exist_ok=True)

    save_file({
        "vector": ramp(5, 0.5, -1).astype(np.float32),
        "layer.0.weight": ramp(54, 0.1, -2.7).astype(np.float32).reshape(2, 3, 3, 3),
        "layer.0.bias": ramp(2, 0.25, 0.5).astype(np.float32),
        "fc.weight": ramp(12, -0.3, 1.7).astype(np.float32).reshape(4, 3),
        "cube": ramp(8, 1.0, 0).astype(np.float32).reshape(1, 2, 2, 2),
    }, os.path.join(OUT, "f32_shapes.safetensors"), metadata={"format": "pt", "note": "swiftcnn fixture"})

    special16 = np.array([0.0, -0.0, 1.0, -2.0, 65504.0, -65504.0, 2.0**-14, 2.0**-24, 3 * 2.0**-24,
                          2.0**-14 - 2.0**-24, np.inf, -np.inf, np.nan, 1.0 / 3.0]).astype(np.float16)
    save_file({
        "ramp": ramp(24, 0.1, -1.2).astype(np.float16).reshape(2, 3, 4),
        "special": special16,
    }, os.path.join(OUT, "f16.safetensors"))

    # numpy has no bfloat16: hand the raw bits to the package's serializer.
    ramp_bits = bf16_bits(ramp(15, 0.37, -2.5))
    special_bits = np.array([0x0000, 0x8000, 0x3F80, 0x7F80, 0xFF80, 0x7FC0, 0x0001, 0x807F], dtype=np.uint16)
    keep = [ramp_bits, special_bits]
    specs = {
        "ramp": safetensors.TensorSpec(dtype="bfloat16", shape=[3, 5], data_ptr=ramp_bits.ctypes.data, data_len=ramp_bits.nbytes),
        "special": safetensors.TensorSpec(dtype="bfloat16", shape=[8], data_ptr=special_bits.ctypes.data, data_len=special_bits.nbytes),
    }
    safetensors.serialize_file(specs, os.path.join(OUT, "bf16.safetensors"), metadata={"dtype": "bf16"})
    del keep

    save_file({
        "bn.weight": ramp(4, 0.5, 1).astype(np.float32),
        "bn.bias": ramp(4, -0.1, 0.2).astype(np.float32),
        "bn.running_mean": ramp(4, 0.01, 0).astype(np.float32),
        "bn.running_var": ramp(4, 0.7, 1.1),
        "bn.num_batches_tracked": np.array(7, dtype=np.int64),
        "mask": np.array([1, 0, 1], dtype=np.uint8),
    }, os.path.join(OUT, "state_dict.safetensors"))

    # Read everything back through the package, as a sanity check of this script.
    for name in sorted(os.listdir(OUT)):
        if name.endswith(".safetensors") and name != "swift_written.safetensors":
            with safetensors.safe_open(os.path.join(OUT, name), framework="numpy") as f:
                print(name, f.metadata(), sorted(f.keys()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
