#!/usr/bin/env python3
"""ONNX's own backend node tests, run through swiftcnn.onnx: passed / failed / skipped per op.

    .venv/bin/python scripts/onnx_backend_report.py [--op Conv] [--verbose] [--composites]

Which tests. ONNX's node test cases: older onnx releases ship them as data
(onnx/backend/test/data/node/test_*/model.onnx with test_data_set_0/input_*.pb and
output_*.pb); newer ones (1.19+) generate the same cases in memory
(onnx.backend.test.loader.load_node_model_tests(): model + data sets), and this reads
whichever the installed onnx has. In scope: every test whose model is one node of an op in
SCOPE, plus the ``_expanded`` variant of such a test (the op's function body, inlined by
ONNX) when every node of the body is in SCOPE. ``--composites`` adds the expanded tests of
ops outside SCOPE whose bodies are all in SCOPE (e.g. MeanVarianceNormalization,
GroupNormalization, DepthToSpace): informative, not part of the default run or of pytest.

What is run. The model's graph inputs after the first become initializers holding the
test's values (a swiftcnn model has one input; its axis 0 is the batch), the modified
model is imported with ``swiftcnn.onnx.load`` (its serialized bytes) and run on the first
input, and every output is compared with the expected one.

Opsets. The importer takes opsets 11 to 21. A test below 11 is skipped. Newer onnx
releases write each test with the op's newest version, e.g. Conv, MaxPool, AveragePool,
GlobalAveragePool, HardSigmoid, HardSwish at opset 22 and Flatten, Reshape, Transpose,
Pad, Squeeze, Unsqueeze, Shape, Cast at 25, versions that only add data types (bfloat16,
float8, int4...) to the opset-11..21 definitions. Such a test is taken down to opset 21
with ONNX's own version converter (onnx.version_converter.convert_version); where the
converter has no adapter for the op, the opset is relabelled 21 only when the op's
schema at 21 has the same inputs, outputs and attributes (a type-only revision) and the
checker accepts the model; otherwise the test is skipped with the reason. ``--keep-opset``
skips every test above 21 instead (what the tests' own opsets allow).

Tolerances. Float outputs are compared as ONNX's backend runner does,
``np.testing.assert_allclose(out, ref, rtol, atol)`` with the test's own rtol/atol (ONNX's
defaults, rtol=1e-3 and atol=1e-7, unless the case sets others); NaNs must match NaNs.
The shapes must be equal. swiftcnn computes in float32, so a float16/float64 expected
output is compared by value, not dtype. Non-float expected outputs (int, bool) must be
equal exactly.

Reference. The expected outputs are ONNX's reference (the numpy code in
onnx/backend/test/case/node/*.py that wrote the .pb files); where ONNX Runtime disagrees
with it, this follows ONNX's reference.

Outcomes. pass; fail: the import succeeded but the numbers or shapes differ, or import or
run raised anything other than swiftcnn.UnsupportedError (a bug); skip, with its reason:
the importer's UnsupportedError message (an operator form, attribute or layout outside the
engine, e.g. an operand that varies along the batch axis), or a harness reason (opset
outside 11-21, a non-float, rank-0/rank-1 or empty first input, the first input not being
the data tensor). Exits 1 when any test fails.
"""
from __future__ import annotations

import argparse
import glob
import os
import re
import sys
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import onnx
from onnx import numpy_helper

import swiftcnn
from swiftcnn import onnx as sonnx

SCOPE = frozenset("""
    Conv Gemm Relu MaxPool AveragePool GlobalAveragePool GlobalMaxPool Add Sub Mul Div Concat
    Flatten Identity Constant Clip Sigmoid HardSigmoid HardSwish LeakyRelu Tanh ReduceMean
    BatchNormalization Reshape Transpose Shape Gather Slice MatMul Erf LayerNormalization Softmax
    Resize Pad Split Squeeze Unsqueeze Dropout Gelu Sqrt Exp Log Neg Abs Reciprocal Pow LRN Cast
""".split())
MIN_OPSET, MAX_OPSET = 11, 21
RTOL, ATOL = 1e-3, 1e-7   # ONNX's backend runner defaults (a case may set its own)


@dataclass
class Case:
    name: str
    op: str                       # table row: the op, "<op> (expanded)" for expanded variants
    model: onnx.ModelProto
    inputs: List[np.ndarray]
    outputs: List[np.ndarray]
    rtol: float = RTOL
    atol: float = ATOL


@dataclass
class Result:
    outcome: str                  # "pass" | "fail" | "skip"
    reason: str = ""
    notes: List[str] = field(default_factory=list)


# ---- finding the cases ----------------------------------------------------------------------

def _read_pb(path: str) -> np.ndarray:
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def _raw_cases() -> List[Tuple[str, onnx.ModelProto, List[np.ndarray], List[np.ndarray], float, float]]:
    """(name, model, inputs, outputs, rtol, atol) for every node test the installed onnx has."""
    node_dir = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "node")
    out = []
    if os.path.isdir(node_dir):
        for d in sorted(glob.glob(os.path.join(node_dir, "test_*"))):
            path = os.path.join(d, "model.onnx")
            ds = os.path.join(d, "test_data_set_0")
            if not os.path.exists(path) or not os.path.isdir(ds):
                continue
            m = onnx.load(path)
            ins = [_read_pb(p) for p in sorted(glob.glob(os.path.join(ds, "input_*.pb")),
                                                key=lambda p: int(re.findall(r"\d+", os.path.basename(p))[0]))]
            outs = [_read_pb(p) for p in sorted(glob.glob(os.path.join(ds, "output_*.pb")),
                                                 key=lambda p: int(re.findall(r"\d+", os.path.basename(p))[0]))]
            out.append((os.path.basename(d), m, ins, outs, RTOL, ATOL))
        if out:
            return out
    from onnx.backend.test.loader import load_node_model_tests
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for c in load_node_model_tests():
            if c.model is None or not c.data_sets:
                continue
            ins, outs = c.data_sets[0]
            out.append((c.name, c.model, [_array(v) for v in ins], [_array(v) for v in outs], c.rtol, c.atol))
    return sorted(out, key=lambda t: t[0])


def _array(v):
    """A test value as numpy: generated cases hold some (float8, int4, bfloat16...) as
    TensorProto; sequences and optionals stay as they are."""
    if isinstance(v, onnx.TensorProto):
        try:
            return numpy_helper.to_array(v)
        except Exception:  # noqa: BLE001
            return v
    return v


def _base_name(name: str) -> str:
    return name.split("_expanded")[0]


def load_cases(op_filter: Optional[str] = None, composites: bool = False) -> List[Case]:
    raw = _raw_cases()
    single = {}
    for name, m, *_ in raw:
        if len(m.graph.node) == 1:
            single[name] = m.graph.node[0].op_type
    cases = []
    for name, m, ins, outs, rtol, atol in raw:
        ops = [n.op_type for n in m.graph.node]
        if "_expanded" in name:
            base = single.get(_base_name(name))
            if not ops or not all(o in SCOPE for o in ops):
                continue
            if base not in SCOPE and not composites:
                continue
            op = f"{base or _base_name(name)[5:]} (expanded)"
            main = base
        elif len(ops) == 1 and ops[0] in SCOPE:
            op = main = ops[0]
        else:
            continue
        if op_filter and op_filter not in (main, op):
            continue
        cases.append(Case(name, op, m, ins, outs, rtol, atol))
    return cases


# ---- running one ----------------------------------------------------------------------------

def _opset(m: onnx.ModelProto) -> int:
    return next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), 0)


def _type_only_revision(op: str, old: int, new: int) -> bool:
    try:
        a = onnx.defs.get_schema(op, new)
        b = onnx.defs.get_schema(op, old)
    except Exception:  # noqa: BLE001
        return False
    sig = lambda s: ([(i.name, i.option) for i in s.inputs], [(o.name, o.option) for o in s.outputs],
                     sorted(s.attributes))
    return sig(a) == sig(b)


def _to_opset_21(m: onnx.ModelProto) -> Tuple[Optional[onnx.ModelProto], str]:
    """(model at opset 21, note) or (None, why not)."""
    v = _opset(m)
    try:
        from onnx import version_converter
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            c = version_converter.convert_version(m, MAX_OPSET)
        onnx.checker.check_model(c)
        return c, f"opset {v} -> {MAX_OPSET} (version converter)"
    except Exception as e:  # noqa: BLE001
        why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    ops = {n.op_type for n in m.graph.node}
    if all(_type_only_revision(op, v, MAX_OPSET) for op in ops):
        c = onnx.ModelProto()
        c.CopyFrom(m)
        for o in c.opset_import:
            if o.domain in ("", "ai.onnx"):
                o.version = MAX_OPSET
        try:
            onnx.checker.check_model(c)
            return c, f"opset {v} -> {MAX_OPSET} (relabelled: type-only revision; converter: {why[:80]})"
        except Exception as e2:  # noqa: BLE001
            why = f"{why}; relabelled model fails the checker: {str(e2).strip().splitlines()[0][:120]}"
    if "type_restriction" in why:
        why = "the test uses a data type that opset 21 does not have"
    return None, f"opset {v} is above {MAX_OPSET} and ONNX's version converter cannot take it to {MAX_OPSET}: {why[:160]}"


def _unsupported_reason(e: BaseException) -> str:
    s = str(e).strip()
    s = re.sub(r"^onnx: \d+ node\(s\) cannot be imported into swiftcnn:\s*", "", s)
    lines = [ln.strip().lstrip("- ").strip() for ln in s.splitlines() if ln.strip()]
    return " | ".join(lines)


def _float(dt: np.dtype) -> bool:
    return np.issubdtype(dt, np.floating) or dt.name == "bfloat16"


def compare(got: np.ndarray, ref: np.ndarray, rtol: float, atol: float) -> Optional[str]:
    """None when `got` matches `ref` as ONNX's runner checks it; else what differs."""
    got = np.asarray(got)
    ref = np.asarray(ref)
    if got.shape != ref.shape:
        return f"shape {list(got.shape)}, expected {list(ref.shape)}"
    if _float(ref.dtype):
        g = got.astype(np.float64)
        r = ref.astype(np.float32 if ref.dtype.name == "bfloat16" else ref.dtype).astype(np.float64)
        if ref.dtype.name == "bfloat16":
            rtol = max(rtol, 2 ** -6)
        ok = np.isclose(g, r, rtol=rtol, atol=atol, equal_nan=True)
        if ok.all():
            return None
        bad = np.argwhere(~ok)
        i = tuple(int(k) for k in bad[0])
        d = np.abs(g - r)
        d[np.isnan(d)] = np.inf
        j = tuple(int(k) for k in np.unravel_index(np.argmax(np.where(ok, -1, d)), d.shape))
        return (f"{bad.shape[0]}/{ref.size} elements differ (rtol {rtol:g}, atol {atol:g}); "
                f"max |diff| {d[j]:.4g} at {list(j)}: got {g[j]:.6g}, expected {r[j]:.6g}; "
                f"first at {list(i)}: got {g[i]:.6g}, expected {r[i]:.6g}")
    r = ref
    try:
        equal = np.array_equal(got.astype(ref.dtype), r)
    except Exception:  # noqa: BLE001
        equal = False
    if equal:
        return None
    nbad = int(np.sum(got.astype(np.float64) != r.astype(np.float64)))
    return f"{nbad}/{ref.size} elements differ (exact comparison, expected dtype {ref.dtype})"


def prepare(case: Case, keep_opset: bool = False) -> Tuple[Optional[onnx.ModelProto], Result]:
    """The model to import (inputs after the first as initializers), or None and a skip."""
    m = case.model
    notes: List[str] = []
    v = _opset(m)
    if v < MIN_OPSET:
        return None, Result("skip", f"opset {v} is below {MIN_OPSET}")
    if v > MAX_OPSET:
        if keep_opset:
            return None, Result("skip", f"opset {v} is above {MAX_OPSET}")
        m, note = _to_opset_21(m)
        if m is None:
            return None, Result("skip", note)
        notes.append(note)
    g = m.graph
    if not case.inputs or not g.input:
        return None, Result("skip", "the model has no input (a swiftcnn model has one)", notes)
    x = case.inputs[0]
    if len(case.inputs) != len(g.input):
        return None, Result("skip", f"{len(g.input)} graph inputs but {len(case.inputs)} input values", notes)
    if len(m.graph.node) == 1 and m.graph.node[0].input[:1] != [g.input[0].name]:
        return None, Result("skip", "the first input is not the data tensor (not the node's input 0)", notes)
    if not isinstance(x, np.ndarray):
        return None, Result("skip", f"non-tensor input: the first input is a {type(x).__name__} "
                                    f"(a sequence or optional); swiftcnn models take a float32 tensor", notes)
    if x.dtype != np.float32:
        return None, Result("skip", f"non-float input: the first input is {x.dtype}; "
                                    f"swiftcnn models take float32", notes)
    if x.ndim == 0:
        return None, Result("skip", "rank-0 input: a swiftcnn model input needs a batch axis", notes)
    if x.ndim == 1:
        return None, Result("skip", "rank-1 input: a swiftcnn model input needs a per-example axis", notes)
    if x.size == 0:
        return None, Result("skip", f"empty input {list(x.shape)}", notes)
    mm = onnx.ModelProto()
    mm.CopyFrom(m)
    g = mm.graph
    first = g.input[0]
    for inp, val in zip(list(g.input)[1:], case.inputs[1:]):
        g.initializer.append(numpy_helper.from_array(np.asarray(val), inp.name))
    if mm.ir_version >= 4:
        del g.input[1:]
    return mm, Result("pass", "", notes)


def _import_and_run(mm: onnx.ModelProto, x: np.ndarray, n_out: int):
    """(outputs, None) or (None, Result) for a prepared model."""
    try:
        model = sonnx.load(mm.SerializeToString())
    except swiftcnn.UnsupportedError as e:
        return None, Result("skip", _unsupported_reason(e))
    except Exception as e:  # noqa: BLE001 -- anything else is a bug
        return None, Result("fail", f"import raised {type(e).__name__}: {' '.join(str(e).split())}")
    names = list(model.output_names)
    if len(names) != n_out:
        return None, Result("fail", f"the model has {len(names)} outputs {names}; the test expects {n_out}")
    try:
        if len(names) == 1:
            ys = [np.asarray(model(x))]
        else:
            got = model.forward(x, outputs=names)
            ys = [np.asarray(got[n]) for n in names]
    except swiftcnn.UnsupportedError as e:
        return None, Result("fail", f"run raised UnsupportedError after a successful import: {_unsupported_reason(e)}")
    except Exception as e:  # noqa: BLE001
        return None, Result("fail", f"run raised {type(e).__name__}: {' '.join(str(e).split())}")
    return (names, ys), None


BATCH_VARYING = "varies along the batch axis"


def _per_example(case: Case, keep_opset: bool, notes: List[str]) -> Optional[Result]:
    """The test run one example at a time, or None when it does not apply.

    When the importer's only objection is that a constant operand varies along the batch
    axis (an operand with the first input's rank and leading dimension N > 1), ONNX's
    result for example i is the same op applied to example i of every such operand: the
    test is run N times with x[i:i+1] and those operands sliced to [i:i+1], and the
    results are stacked and compared with the expected outputs."""
    x = case.inputs[0]
    n = x.shape[0]
    if n < 2 or any(not isinstance(o, np.ndarray) or o.ndim == 0 or o.shape[0] != n for o in case.outputs):
        return None
    aligned = [isinstance(v, np.ndarray) and v.ndim == x.ndim and v.shape[0] == n for v in case.inputs]
    if not any(aligned[1:]):
        return None
    per: List[List[np.ndarray]] = [[] for _ in case.outputs]
    names: List[str] = []
    for i in range(n):
        ins = [v[i:i + 1] if a else v for v, a in zip(case.inputs, aligned)]
        sub = Case(case.name, case.op, case.model, ins, [o[i:i + 1] for o in case.outputs], case.rtol, case.atol)
        mm, res = prepare(sub, keep_opset)
        if mm is None:
            return None
        got, bad = _import_and_run(mm, ins[0], len(case.outputs))
        if bad is not None:
            if bad.outcome == "skip":
                return Result("skip", f"{bad.reason} (also one example at a time)", notes)
            bad.reason = f"one example at a time, example {i}: {bad.reason}"
            bad.notes = notes
            return bad
        names, ys = got
        for k, y in enumerate(ys):
            per[k].append(y)
    problems = []
    for k, (ys, r) in enumerate(zip(per, case.outputs)):
        try:
            y = np.concatenate(ys, axis=0)
        except ValueError as e:
            problems.append(f"output {k} ({names[k]}): per-example results do not stack: {e}")
            continue
        d = compare(y, r, case.rtol, case.atol)
        if d:
            problems.append(f"output {k} ({names[k]}): {d}")
    notes = notes + ["run one example at a time (a constant operand varies along the batch axis)"]
    if problems:
        return Result("fail", "one example at a time: " + "; ".join(problems), notes)
    return Result("pass", "", notes)


def run_case(case: Case, keep_opset: bool = False) -> Result:
    mm, res = prepare(case, keep_opset)
    if mm is None:
        return res
    notes = res.notes
    x = case.inputs[0]
    got, bad = _import_and_run(mm, x, len(case.outputs))
    if bad is not None:
        if bad.outcome == "skip" and all(BATCH_VARYING in p for p in bad.reason.split(" | ")):
            r = _per_example(case, keep_opset, notes)
            if r is not None:
                return r
        bad.notes = notes
        return bad
    names, ys = got
    problems = []
    for i, (y, r) in enumerate(zip(ys, case.outputs)):
        d = compare(y, r, case.rtol, case.atol)
        if d:
            problems.append(f"output {i} ({names[i]}): {d}")
    if problems:
        return Result("fail", "; ".join(problems), notes)
    return Result("pass", "", notes)


# ---- the report -----------------------------------------------------------------------------

def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--op", default=None, help="only this op (e.g. Conv, or 'Clip (expanded)')")
    p.add_argument("--verbose", action="store_true", help="also list the passes (and opset conversions)")
    p.add_argument("--composites", action="store_true",
                   help="also run expanded tests of out-of-scope ops whose bodies are all in scope")
    p.add_argument("--keep-opset", action="store_true", help="skip tests above opset 21 instead of converting")
    args = p.parse_args(argv)
    t0 = time.time()
    cases = load_cases(args.op, composites=args.composites)
    table: Dict[str, Dict[str, int]] = defaultdict(lambda: {"pass": 0, "fail": 0, "skip": 0})
    fails, skips, passes = [], [], []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for c in cases:
            r = run_case(c, args.keep_opset)
            table[c.op][r.outcome] += 1
            line = f"  {r.outcome:4s} {c.name}: {r.reason}"
            if args.verbose and r.notes:
                line += f"   [{'; '.join(r.notes)}]"
            {"fail": fails, "skip": skips, "pass": passes}[r.outcome].append(line)
    print(f"ONNX backend node tests through swiftcnn.onnx (onnx {onnx.__version__}; "
          f"float outputs: rtol {RTOL:g}, atol {ATOL:g} unless the case sets its own)")
    print(f"{'op':28s} {'passed':>6s} {'failed':>6s} {'skipped':>7s}")
    tot = {"pass": 0, "fail": 0, "skip": 0}
    for op in sorted(table):
        t = table[op]
        for k in tot:
            tot[k] += t[k]
        print(f"{op:28s} {t['pass']:6d} {t['fail']:6d} {t['skip']:7d}")
    print(f"{'total':28s} {tot['pass']:6d} {tot['fail']:6d} {tot['skip']:7d}   ({time.time() - t0:.1f} s)")
    print(f"\nfailures ({len(fails)}):")
    print("\n".join(fails) if fails else "  none")
    print(f"\nskips ({len(skips)}):")
    print("\n".join(skips) if skips else "  none")
    if args.verbose:
        print(f"\npasses ({len(passes)}):")
        print("\n".join(passes) if passes else "  none")
    return 1 if tot["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
