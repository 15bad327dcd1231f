# swiftcnn — the one place that knows the build order.
#
#   make demo    set up everything, then run the main demo
#   make test    set up what is needed, then run every test (Swift, C, Python, checks)
#
# Other targets: lib, header, check-header, examples, python, swift-test, c-test,
# py-test, onnx-test, check-exports, bench, clean; hardening (check-bad-inputs, fuzz, fuzz-ci,
# sanitize and their parts: mk/*.mk); install, uninstall, install-test (mk/install.mk);
# wheel, wheel-test, sdist, sdist-test (mk/wheel.mk).
#
# SWIFT_CPU picks the CPU the Swift core is compiled for: `native` (default, this
# machine) or a portable baseline such as `haswell` (AVX2 + FMA). Without a target CPU,
# Swift lowers SIMD fused multiply-add to a slow software call.

SHELL        := /bin/bash
SWIFT        ?= swift
PYTHON       ?= python3
CC           ?= cc
CXX          ?= c++
SWIFT_CPU    ?= native

BUILD_DIR    := .build/release
LIB          := $(BUILD_DIR)/libswiftcnn.so
RAW_HEADER   := .build/swiftcnn-raw.h
HEADER       := Include/swiftcnn.h
VENV         := .venv
VPY          := $(VENV)/bin/python
OUT          := build

# (install: until dispatch lands) the version and the library's file names that the install
# and wheel rules use: LIB is what everything links with, LIB_REAL the file itself, LIB_SONAME
# its SONAME (make install sets it on the installed copy when the build's differs).
VERSION       := $(shell sed -n 's/.*version: StaticString = "\([0-9][0-9.]*\)".*/\1/p' Sources/SwiftCNN/Version.swift)
VERSION_MAJOR := $(word 1,$(subst ., ,$(VERSION)))
LIB_REAL      := $(LIB)
LIB_SONAME    := libswiftcnn.so.$(VERSION_MAJOR)

# CPUs without AVX-512 (haswell: AVX2 + FMA, 16 ymm registers) get the 8-lane GEMM kernels
# (compilation condition SCNN_AVX2, see Kernels/Optimized/GEMM.swift).
AVX2_CPUS    := haswell broadwell skylake znver1 znver2 znver3 x86-64-v3 alderlake
SWIFT_CPU_FLAGS := -Xswiftc -target-cpu -Xswiftc $(SWIFT_CPU) $(if $(filter $(SWIFT_CPU),$(AVX2_CPUS)),-Xswiftc -DSCNN_AVX2)
SWIFT_FLAGS  := -c release --product swiftcnn $(SWIFT_CPU_FLAGS)
CWARN        := -Wall -Wextra -Werror -pedantic
RPATH        := -Wl,-rpath,$(abspath $(BUILD_DIR))
SWIFT_SRCS   := $(shell find Sources -type f) Package.swift
C_TESTS      := $(wildcard Tests/c/*.c)
C_TEST_HDRS  := $(wildcard Tests/c/*.h)
EXAMPLES     := $(patsubst examples/%.c,$(OUT)/examples/%,$(wildcard examples/*.c))
PY_SRCS      := $(shell find bindings/python -type f \( -name '*.py' -o -name '*.c' -o -name '*.h' -o -name '*.pyi' -o -name '*.toml' \) -not -path '*/build/*' -not -path '*/tests/*' 2>/dev/null)

.PHONY: all demo test lib header check-header examples python venv swift-test c-test \
        py-test check-exports check-header-compile bench clean check-bad-inputs hardening onnx-test

all: lib examples python

# ---- the library and its header ------------------------------------------------------

# The raw compiler header is written while SwiftCNNC compiles (see Package.swift).
$(LIB) $(RAW_HEADER) &: $(SWIFT_SRCS)
	$(SWIFT) build $(SWIFT_FLAGS)
	@touch $(LIB)

lib: $(LIB)

header: $(LIB)
	$(PYTHON) scripts/gen_header.py $(RAW_HEADER) $(HEADER)

# Fails when Include/swiftcnn.h does not match what the sources generate.
check-header: $(LIB)
	$(PYTHON) scripts/gen_header.py $(RAW_HEADER) $(HEADER) --check

# The header compiles warning-free as C99, C11 and C++17 with gcc and clang.
check-header-compile:
	@mkdir -p $(OUT)
	@printf '#include "swiftcnn.h"\nint main(void) { return scnn_abi_version() == SCNN_ABI_VERSION ? 0 : 1; }\n' > $(OUT)/header_check.c
	@cp $(OUT)/header_check.c $(OUT)/header_check.cpp
	$(CC)  -std=c99   $(CWARN) -IInclude -c $(OUT)/header_check.c   -o $(OUT)/hc1.o
	$(CC)  -std=c11   $(CWARN) -IInclude -c $(OUT)/header_check.c   -o $(OUT)/hc2.o
	$(CXX) -std=c++17 $(CWARN) -IInclude -c $(OUT)/header_check.cpp -o $(OUT)/hc3.o
	@if command -v clang >/dev/null; then \
	  clang -std=c99 $(CWARN) -IInclude -c $(OUT)/header_check.c -o $(OUT)/hc4.o && \
	  clang++ -std=c++17 $(CWARN) -IInclude -c $(OUT)/header_check.cpp -o $(OUT)/hc5.o && \
	  echo "header compiles with gcc, g++, clang and clang++"; \
	else echo "header compiles with gcc and g++ (clang not found)"; fi

# Only scnn_* functions are exported, each declared in the header; no toolchain path in ldd.
check-exports: $(LIB)
	@bad=$$(nm -D --defined-only $(LIB) | awk '{print $$3}' | grep -v '^scnn_' || true); \
	if [ -n "$$bad" ]; then echo "non-scnn exports: $$bad"; exit 1; fi
	@for s in $$(nm -D --defined-only $(LIB) | awk '{print $$3}'); do \
	  grep -q "\b$$s(" $(HEADER) || { echo "$$s is exported but not declared in $(HEADER)"; exit 1; }; done
	@if ldd $(LIB) | grep -qi swift; then echo "ldd shows a Swift library:"; ldd $(LIB); exit 1; fi
	@readelf -d $(LIB) | grep -q 'SONAME.*libswiftcnn.so' || { echo "no SONAME"; exit 1; }
	@echo "exports: $$(nm -D --defined-only $(LIB) | wc -l) scnn_* functions, all declared; SONAME set; no Swift runtime in ldd"

# ---- C examples and tests --------------------------------------------------------------

$(OUT)/examples/%: examples/%.c examples/ppm.h examples/shape_text.h $(HEADER) $(LIB)
	@mkdir -p $(OUT)/examples
	$(CC) -std=c99 $(CWARN) -IInclude $< -o $@ -L$(BUILD_DIR) -lswiftcnn $(RPATH) -lm -ldl

# The plugin example loads the library with dlopen: it must not link against it.
$(OUT)/examples/plugin: examples/plugin.c $(HEADER)
	@mkdir -p $(OUT)/examples
	$(CC) -std=c99 $(CWARN) -IInclude $< -o $@ -ldl

examples: $(EXAMPLES)

$(OUT)/ctest: $(C_TESTS) $(C_TEST_HDRS) $(HEADER) $(LIB)
	@mkdir -p $(OUT)
	$(CC) -std=c99 $(CWARN) -DSCNN_TEST_LANG=\"c\" -IInclude $(C_TESTS) -o $@ -L$(BUILD_DIR) -lswiftcnn $(RPATH) -lm -ldl

$(OUT)/ctest++: $(C_TESTS) $(C_TEST_HDRS) $(HEADER) $(LIB)
	@mkdir -p $(OUT)
	$(CXX) -std=c++17 $(CWARN) -x c++ -DSCNN_TEST_LANG=\"c++\" -IInclude $(C_TESTS) -x none -o $@ -L$(BUILD_DIR) -lswiftcnn $(RPATH) -lm -ldl

c-test: $(OUT)/ctest $(OUT)/ctest++
	$(OUT)/ctest
	$(OUT)/ctest++

# ---- Python ----------------------------------------------------------------------------

$(VENV)/.stamp: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.stamp

# Installs the extension into .venv, reusing the library built above.
$(VENV)/.swiftcnn-installed: $(VENV)/.stamp $(LIB) $(HEADER) $(PY_SRCS)
	rm -rf bindings/python/build
	SWIFTCNN_LIBRARY=$(abspath $(LIB)) $(VPY) -m pip install --quiet --no-build-isolation --force-reinstall --no-deps ./bindings/python
	@touch $@

python: $(VENV)/.swiftcnn-installed

py-test: python
	cd bindings/python/tests && ../../../$(VPY) -m pytest -q .

# ---- Swift tests -----------------------------------------------------------------------

swift-test:
	$(SWIFT) test --disable-swift-testing

# ---- benchmarks (not tests: they time things; see BENCHMARKS.md) ----------------------
#
#   make bench                                   GEMM micro-benchmark, then every zoo model
#   make bench BENCH_ARGS="--models resnet50 --batches 1 --runs 50 --threads 2"
#   make bench BENCH_GEMM_ARGS=--quick
# bench_models also reads SCNN_BENCH_MODELS, _BATCHES, _RUNS, _WARMUP, _MAX_SECONDS,
# _MIN_RUNS, _THREADS from the environment (its --help lists them).

BENCH_ARGS      ?=
BENCH_GEMM_ARGS ?=
GEMM_BENCH      := $(BUILD_DIR)/swiftcnn-bench

$(GEMM_BENCH): $(SWIFT_SRCS)
	$(SWIFT) build -c release --product swiftcnn-bench $(SWIFT_CPU_FLAGS)
	@touch $@

$(OUT)/bench/bench_models: benchmarks/bench_models.c $(HEADER) $(LIB)
	@mkdir -p $(OUT)/bench
	$(CC) -std=c99 $(CWARN) -IInclude $< -o $@ -L$(BUILD_DIR) -lswiftcnn $(RPATH) -lm -ldl

# Each case's 5 slowest nodes (scnn_model_profile) follow the timings; BENCH_PROFILE=0 turns it off.
BENCH_PROFILE ?= 5

# The fully connected layers against the machine's streaming bandwidth (not part of `make bench`).
$(OUT)/bench/bench_linear: benchmarks/bench_linear.c $(HEADER) $(LIB)
	@mkdir -p $(OUT)/bench
	$(CC) -std=c99 -O3 $(CWARN) -IInclude $< -o $@ -L$(BUILD_DIR) -lswiftcnn $(RPATH) -lpthread

bench: $(GEMM_BENCH) $(OUT)/bench/bench_models
	$(GEMM_BENCH) $(BENCH_GEMM_ARGS)
	@echo
	$(OUT)/bench/bench_models --profile $(BENCH_PROFILE) $(BENCH_ARGS)

# ---- hardening: bad-input sweeps, fuzzing, sanitizers (mk/*.mk) ------------------------

include mk/bad_inputs.mk
include mk/bad_inputs_py.mk
include mk/fuzz.mk
include mk/sanitize.mk
include mk/onnx_backend.mk
include mk/install.mk
include mk/wheel.mk

# Both bad-input sweeps: every C function of the header, every public Python function.
check-bad-inputs: check-bad-inputs-c check-bad-inputs-py

# What CI adds for hardening (about 12 minutes here): the sweeps, bounded fuzzing, sanitizers.
hardening: check-bad-inputs fuzz-ci sanitize

# ---- the two commands ------------------------------------------------------------------

demo: lib header examples python
	@bash examples/demo.sh

# ONNX: ONNX's own backend node tests (per-op passed/failed/skipped, every skip's reason)
# and the C examples on models imported from ONNX, checked against ONNX Runtime.
onnx-test: onnx-backend python examples
	bash scripts/check_onnx_examples.sh

test: check-header check-header-compile check-exports swift-test c-test py-test onnx-test hardening
	@echo "all tests passed"

clean:
	rm -rf .build .build-asan .build-tsan .build-valgrind .build-fuzz $(OUT) $(VENV) bindings/python/build bindings/python/*.egg-info

# examples/segment.c on a synthetic image, checked against Model.segment, and shapes.c's
# average-pool example (issue 12).
check-segment-example: python $(OUT)/examples/segment $(OUT)/examples/shapes
	$(VPY) scripts/check_segment_example.py $(OUT)/examples/segment $(OUT)/examples/shapes

test: check-segment-example

# The C install (pkg-config and CMake consumers), the manylinux wheel in a fresh venv, the sdist.
test: install-test wheel-test sdist-test
