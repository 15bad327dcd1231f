"""ONNX's own backend node tests through swiftcnn.onnx.load (issue 11, item 4).

The cases, the harness and the comparison live in scripts/onnx_backend_report.py (its
docstring has the details); this file runs the same cases under pytest. Needs numpy and
onnx.

- Cases: ONNX's node test cases (onnx/backend/test/data/node/test_* in older onnx
  releases; generated in memory by onnx.backend.test.loader.load_node_model_tests() in
  1.19+) whose model is one node of an in-scope op (Conv, Gemm, Relu, pools, elementwise,
  Concat, Flatten, Reshape, Transpose, Softmax, Resize, Pad, ... : SCOPE in the script),
  and the `_expanded` variants of those whose function bodies are all in scope.
- Harness: graph inputs after the first become initializers with the test's values; the
  first input is the model input (axis 0 is the batch). Tests above opset 21 (newer onnx
  writes Conv, pools and HardSigmoid/HardSwish at 22 and Flatten/Reshape/Transpose/Pad/
  Squeeze/Unsqueeze at 25: type-only revisions) are taken to opset 21 with ONNX's version
  converter; tests below 11 are skipped. When the importer's only objection is a constant
  operand that varies along the batch axis, the test is run one example at a time.
- Comparison: float outputs as ONNX's backend runner compares them,
  np.testing.assert_allclose with rtol=1e-3, atol=1e-7 (or the case's own), shapes equal;
  non-float outputs exactly.
- Reference: the expected outputs are ONNX's reference implementation (what the .pb files
  hold); where ONNX Runtime disagrees with it, these tests follow ONNX's reference.

Outcomes: pass -> the outputs match; an importer UnsupportedError (or a harness reason:
opset, a non-float / rank-0 / rank-1 / empty first input) -> pytest.skip with the reason;
anything else (numbers or shapes differ, any other exception on import or run) -> fail.
test_core_ops_coverage checks that each core CNN op keeps at least MIN_PASSES passing
tests, so coverage cannot rot silently into skips.
"""
import importlib.util
import os
import sys

import pytest

pytest.importorskip("onnx")

_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "scripts",
                       "onnx_backend_report.py")
_spec = importlib.util.spec_from_file_location("onnx_backend_report", _SCRIPT)
obr = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = obr  # dataclasses look their module up
_spec.loader.exec_module(obr)

CASES = obr.load_cases()
_RESULTS = {}

# Passing tests per core CNN op with the importer complete (onnx 1.23's node tests; the rest
# of each op's tests are outside the engine: rank-1 / integer inputs, the batch axis
# reduced, sliced, moved or concatenated, 1-D / 3-D pooling, dilated or asymmetric pools,
# training-mode outputs).
MIN_PASSES = {
    "Conv": 6, "Relu": 1, "MaxPool": 7, "AveragePool": 8, "GlobalAveragePool": 2, "Gemm": 9,
    "Add": 2, "Mul": 2, "Concat": 6, "Flatten": 3, "BatchNormalization": 2, "Softmax": 6,
    "Reshape": 6, "Transpose": 2, "Clip": 3, "Sigmoid": 1, "HardSigmoid": 2, "HardSwish": 1,
}


def _result(case):
    r = _RESULTS.get(case.name)
    if r is None:
        r = _RESULTS[case.name] = obr.run_case(case)
    return r


def test_cases_found():
    assert len(CASES) > 100, f"only {len(CASES)} in-scope ONNX node tests found"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_node(case):
    r = _result(case)
    if r.outcome == "skip":
        pytest.skip(r.reason)
    if r.outcome == "fail":
        pytest.fail(f"{case.name} ({case.op}): {r.reason}", pytrace=False)
    assert r.outcome == "pass"


def test_core_ops_coverage():
    passes = {op: 0 for op in MIN_PASSES}
    for c in CASES:
        if c.op in passes and _result(c).outcome == "pass":
            passes[c.op] += 1
    low = {op: f"{passes[op]} < {n}" for op, n in MIN_PASSES.items() if passes[op] < n}
    assert not low, f"core ops with fewer passing ONNX node tests than before: {low}"
