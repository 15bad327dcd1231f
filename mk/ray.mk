# ---- swiftcnn.ray on a local Ray cluster (issue 15; included by the Makefile) -------------
#
#   make ray-test     bindings/python/tests_ray: swiftcnn.ray against single-process swiftcnn
#                     on a local 2-CPU Ray cluster the tests start and stop (about 2 minutes)
#
# `make test` runs it when .venv has Ray (pip install "ray[data]", requirements-dev.txt), and
# prints a skip line otherwise.

.PHONY: ray-test ray-test-if-installed

ray-test: python
	cd bindings/python/tests_ray && ../../../$(VPY) -m pytest -q .

ray-test-if-installed: python
	@if $(VPY) -c "import ray, ray.data" >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory ray-test; \
	else \
	  echo "ray-test: skipped (Ray is not installed in $(VENV): $(VPY) -m pip install 'ray[data]>=2.40')"; \
	fi

test: ray-test-if-installed
