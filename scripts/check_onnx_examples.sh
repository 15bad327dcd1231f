#!/usr/bin/env bash
# check_onnx_examples.sh -- CI check of the C ONNX examples (examples/onnx_classify.c,
# examples/onnx_segment.c) against ONNX Runtime. Needs no torch: the project's Python
# (.venv, with onnx, onnxruntime and swiftcnn installed: `make examples python`) builds two tiny
# ONNX models, converts them with `python -m swiftcnn.onnx convert`, runs both examples and
# compares (Tests/c-onnx/check_onnx_examples.py says exactly what is checked).
#
#   scripts/check_onnx_examples.sh [--keep DIR]
#
# Environment: VPY (default .venv/bin/python), EXAMPLES_BIN (default build/examples).
# Prints one line per check and "N passed, N failed"; exit status 0 when all passed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
VPY="${VPY:-.venv/bin/python}"
EXAMPLES_BIN="${EXAMPLES_BIN:-build/examples}"

if [[ ! -x "$VPY" ]]; then
  echo "check_onnx_examples: no Python at $VPY (run \`make python\`, or set VPY)" >&2
  exit 1
fi
for exe in onnx_classify onnx_segment; do
  if [[ ! -x "$EXAMPLES_BIN/$exe" ]]; then
    echo "check_onnx_examples: $EXAMPLES_BIN/$exe is not built (run \`make examples\`)" >&2
    exit 1
  fi
done
if ! "$VPY" -c 'import onnx, onnxruntime, swiftcnn.onnx' 2>/dev/null; then
  echo "check_onnx_examples: $VPY lacks onnx, onnxruntime or swiftcnn (run \`make python\`)" >&2
  exit 1
fi

exec "$VPY" Tests/c-onnx/check_onnx_examples.py --bin "$EXAMPLES_BIN" "$@"
