#!/usr/bin/env bash
# The main demo (`make demo` runs it after building everything): the lecture's building
# blocks through the C ABI, as a plugin, and from Python.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/demo
mkdir -p "$out"

banner() { printf '\n==== %s ====\n\n' "$1"; }

banner "C: the lecture's filters (examples/filters.c)"
build/examples/filters - "$out"
banner "C: shapes, pooling, receptive fields, weight counts (examples/shapes.c)"
build/examples/shapes
banner "C: a zoo model by name, top-5 ImageNet labels (examples/classify.c; seeded weights)"
build/examples/classify resnet18
banner "C: loaded as a plugin with dlopen (examples/plugin.c)"
build/examples/plugin "$PWD/.build/release/libswiftcnn.so"
banner "Python: import swiftcnn (examples/demo.py)"
(cd "$out" && ../../.venv/bin/python ../../examples/demo.py)
printf '\nfiltered images are in %s/\n' "$out"
