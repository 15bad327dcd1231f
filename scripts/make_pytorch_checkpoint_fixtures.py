#!/usr/bin/env python3
"""Writes the two PyTorch checkpoints the safetensors reader must recognise (and refuse with
a hint to convert them) into Tests/SwiftCNNTests/Fixtures/:

- torch_zip.pt: torch.save of a tiny state_dict, PyTorch's zip format (since 1.6);
- torch_legacy.pt: the same with _use_new_zipfile_serialization=False, the legacy pickle
  format (starts with pickle's PROTO opcode 0x80 and protocol 2).

Needs torch: $TORCH_VENV/bin/python scripts/make_pytorch_checkpoint_fixtures.py
"""
import os
from collections import OrderedDict

import torch

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "SwiftCNNTests", "Fixtures")
state = OrderedDict(weight=torch.arange(6, dtype=torch.float32).reshape(2, 3), bias=torch.zeros(2))
torch.save(state, os.path.join(out, "torch_zip.pt"))
torch.save(state, os.path.join(out, "torch_legacy.pt"), _use_new_zipfile_serialization=False)
for name in ("torch_zip.pt", "torch_legacy.pt"):
    with open(os.path.join(out, name), "rb") as f:
        head = f.read(8)
    print(name, os.path.getsize(os.path.join(out, name)), "bytes, starts", head.hex(" "))
