# ---- ONNX's own backend node tests through swiftcnn.onnx ----------------------------------
#
#   make onnx-backend      every in-scope node test of the installed onnx package: a table of
#                          passed / failed / skipped per op, then each skip and failure with
#                          its reason; fails when any test fails (see the script's docstring)
#   make onnx-backend ONNX_BACKEND_ARGS="--op Conv --verbose"
#
# The same cases run under pytest in bindings/python/tests/test_onnx_backend.py (py-test).

ONNX_BACKEND_ARGS ?=

.PHONY: onnx-backend

onnx-backend: python
	$(VPY) scripts/onnx_backend_report.py $(ONNX_BACKEND_ARGS)
