# ---- Python bad-input sweep ---------------------------------------------------------------
#
#   make check-bad-inputs-py                             every public function, bad inputs
#   make check-bad-inputs-py BAD_INPUTS_PY_ARGS="--filter Model.load --verbose"
#
# scripts/py_bad_inputs.py imports the installed swiftcnn (in .venv) and calls every public
# function of the package and its submodules (found by introspection, with a hint table for
# valid baselines) with bad dtypes, layouts, ranks, huge shapes, wrong types and paths, each
# case in a forked child with a 10 s timeout: crashes, hangs, SystemError or empty messages,
# and results that differ from the C-contiguous float32 baseline are failures. A harness
# self-test runs first. It prints a table per function, the failures, and ends with
# "N passed, N failed[, N skipped]"; the exit status is non-zero on any failure.
# Options: --jobs N, --timeout S, --filter TEXT, --list, --timing, -v.

BAD_INPUTS_PY_ARGS ?=

.PHONY: check-bad-inputs-py

check-bad-inputs-py: python
	$(VPY) scripts/py_bad_inputs.py $(BAD_INPUTS_PY_ARGS)
