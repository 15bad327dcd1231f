# ---- sanitizers and leak checks -----------------------------------------------------------
#
#   make sanitize          all four below; ends with "sanitize: all checks passed"
#   make sanitize-asan     the Swift tests under AddressSanitizer
#   make sanitize-tsan     the threaded Swift tests, and the C workload, under ThreadSanitizer
#   make sanitize-c-asan   the C workload against the ASan build of libswiftcnn.so, LSan on
#   make valgrind-leaks    the C workload under valgrind's leak checker (AVX2 variant, then the portable library)
#
# Builds, each in its own scratch path (never .build, which `make lib` owns):
#   .build-asan      swift build --build-tests --sanitize=address -Xswiftc -O: the test bundle
#                    for sanitize-asan *and* the ASan libswiftcnn.so for sanitize-c-asan.
#   .build-tsan      likewise with --sanitize=thread, for sanitize-tsan.
# valgrind-leaks uses the portable library's AVX2 variant (.build-avx2, `-target-cpu haswell`,
# the 8-lane kernels; see the Makefile's top), linked directly: valgrind cannot decode
# AVX-512. Measured against a generic debug build: 56 s build + 7 s under valgrind,
# against 22 s + 106 s. The workload then runs once more through the portable library
# (valgrind's CPU has no AVX-512, so its loader takes the AVX2 variant): the loader's
# memfd + dlopen under valgrind too (7 s).
# The C workload (Tests/sanitize/workload.c) calls every family of the C ABI, including
# lenet5 training, checkpoints, file errors and forwards on one model from 4 threads; it
# is compiled with the toolchain's clang (whose sanitizer runtimes match swiftc's).
#
# Test selection (measured on 2 cores; see the hardening report):
# - ASan runs the whole Swift suite, every test and every sweep in full: most of the core
#   handles raw pointers. `make test` runs the Swift suite here only, once (a plain -Onone run
#   would add nothing that this one does not check). Its build compiles the core and the
#   tests with -O, as users build them; the checks that matter here stay on at -O (bounds,
#   overflow, exclusivity, preconditions; the sources use no assert()). Measured on 2 cores:
#   -O, build 261 s + run 35 s (340 tests); -Onone, build 80 s + run 294 s for 337 tests with
#   the three whole-zoo tests skipped and the long sweeps cut down; -O for the core only, the
#   tests -Onone, build 218 s + run 103 s. LeakSanitizer is off for the Swift tests only: XCTest on
#   Linux never frees its test-case objects (one leaked weak-reference side table in
#   XCTest's awaitUsingExpectation holds them all, with everything they store), so every
#   run would report the harness. Leaks are checked by sanitize-c-asan (LSan on),
#   valgrind-leaks, and the fuzz targets (libFuzzer's leak detection).
# - TSan runs the tests that use threads (TSAN_FILTER): the thread pool, thread-count
#   invariance of GEMM, convolution, Winograd, tanh and backward passes, the inference
#   plans with concurrent forwards on one model, and the hardening tests (a Thread-based
#   timeout). The other tests run single-threaded code that TSan has nothing to say about,
#   at 5-15x the cost.
# Every run fails on the first report (halt_on_error) and on any nonzero exit; see
# Tests/sanitize/run.sh, which prints one "<target>: passed|FAILED ..." line per check.

SAN_OUT          := $(OUT)/sanitize
SAN_CLANG        ?= $(or $(wildcard $(dir $(realpath $(shell command -v $(SWIFT))))clang),clang)
# TSan's runtime intercepts libdispatch, so a TSan C program links the toolchain's copy.
SAN_DISPATCH_DIR := $(abspath $(dir $(SAN_CLANG))../lib/swift/linux)
SAN_RUN          := bash Tests/sanitize/run.sh
SAN_WORKLOAD     := Tests/sanitize/workload.c
SAN_WORKLOAD_CFLAGS := -std=c11 $(CWARN) -g -O1 -IInclude
ASAN_SCRATCH     := .build-asan
TSAN_SCRATCH     := .build-tsan
ASAN_LIB_DIR     := $(ASAN_SCRATCH)/debug
TSAN_LIB_DIR     := $(TSAN_SCRATCH)/debug
VALGRIND_LIB_DIR := $(AVX2_SCRATCH)/release
TSAN_FILTER      ?= ThreadingTests|InferencePlanTests|HardeningTests|GEMMTests|WinogradTests|TanhSIMDTests|BackwardTests/testBackwardBitwiseSameOnOneAndTwoThreads
# Regexes over "SwiftCNNTests.Suite/test" names, like swift test's --filter and --skip: with
# ASAN_FILTER, sanitize-asan runs only the matching tests; ASAN_SKIP leaves tests out.
ASAN_FILTER      ?=
ASAN_SKIP        ?=

# Findings end the run; symbolized stacks. detect_leaks: see above.
SAN_ASAN_TEST_OPTIONS := halt_on_error=1:abort_on_error=0:detect_leaks=0:strict_string_checks=1:detect_stack_use_after_return=1
SAN_ASAN_C_OPTIONS    := halt_on_error=1:abort_on_error=0:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1
SAN_TSAN_OPTIONS      := halt_on_error=1:exitcode=66:second_deadlock_stack=1
VALGRIND_FLAGS        := --leak-check=full --errors-for-leak-kinds=definite,indirect \
                         --show-leak-kinds=definite,indirect --error-exitcode=1 --track-origins=no

# `swift build` warns once per ASan symbol when gold links the executables; drop that noise.
SAN_QUIET := grep -v "Cannot export local symbol" || true

.PHONY: sanitize sanitize-asan sanitize-tsan sanitize-c-asan valgrind-leaks \
        sanitize-asan-build sanitize-tsan-build valgrind-build

sanitize-asan-build:
	@set -o pipefail; $(SWIFT) build --build-tests --sanitize=address -Xswiftc -O --scratch-path $(ASAN_SCRATCH) 2>&1 | { $(SAN_QUIET); }

sanitize-tsan-build:
	@set -o pipefail; $(SWIFT) build --build-tests --sanitize=thread --scratch-path $(TSAN_SCRATCH) 2>&1 | { $(SAN_QUIET); }

valgrind-build: $(VARIANT_AVX2) $(AVX2_SCRATCH)/release/libswiftcnn-avx2.so

# The suites run TEST_JOBS processes at a time (scripts/run_xctest.sh), sanitize-tsan's too.
sanitize-asan: sanitize-asan-build
	@ASAN_OPTIONS=$(SAN_ASAN_TEST_OPTIONS) $(SAN_RUN) sanitize-asan $(SAN_OUT)/asan-tests.log \
	  bash scripts/run_xctest.sh $(ASAN_SCRATCH)/debug/swiftcnnPackageTests.xctest $(TEST_JOBS) '$(ASAN_SKIP)' '$(ASAN_FILTER)'

sanitize-c-asan: sanitize-asan-build $(SAN_WORKLOAD) $(HEADER)
	@mkdir -p $(SAN_OUT)/tmp
	$(SAN_CLANG) $(SAN_WORKLOAD_CFLAGS) -fsanitize=address -fno-omit-frame-pointer -fuse-ld=lld $(SAN_WORKLOAD) \
	  -o $(SAN_OUT)/workload-asan -L$(ASAN_LIB_DIR) -lswiftcnn -Wl,-rpath,$(abspath $(ASAN_LIB_DIR)) -lpthread -lm
	@ASAN_OPTIONS=$(SAN_ASAN_C_OPTIONS) $(SAN_RUN) sanitize-c-asan $(SAN_OUT)/workload-asan.log \
	  $(SAN_OUT)/workload-asan $(SAN_OUT)/tmp

sanitize-tsan: sanitize-tsan-build $(SAN_WORKLOAD) $(HEADER)
	@mkdir -p $(SAN_OUT)/tmp
	@TSAN_OPTIONS=$(SAN_TSAN_OPTIONS) $(SAN_RUN) sanitize-tsan $(SAN_OUT)/tsan-tests.log \
	  bash scripts/run_xctest.sh $(TSAN_SCRATCH)/debug/swiftcnnPackageTests.xctest $(TEST_JOBS) '' '$(TSAN_FILTER)'
	$(SAN_CLANG) $(SAN_WORKLOAD_CFLAGS) -fsanitize=thread -fuse-ld=lld $(SAN_WORKLOAD) \
	  -o $(SAN_OUT)/workload-tsan -L$(TSAN_LIB_DIR) -lswiftcnn -Wl,-rpath,$(abspath $(TSAN_LIB_DIR)) \
	  -L$(SAN_DISPATCH_DIR) -ldispatch -lBlocksRuntime -Wl,-rpath,$(SAN_DISPATCH_DIR) -lpthread -lm
	@TSAN_OPTIONS=$(SAN_TSAN_OPTIONS) $(SAN_RUN) sanitize-tsan-c $(SAN_OUT)/workload-tsan.log \
	  $(SAN_OUT)/workload-tsan $(SAN_OUT)/tmp

valgrind-leaks: valgrind-build $(SAN_WORKLOAD) $(HEADER) $(LIB)
	@command -v valgrind >/dev/null || { echo "valgrind-leaks: installing valgrind (Debian package)"; \
	  { apt-get update -qq && apt-get install -y -qq valgrind; } >/dev/null 2>&1 || true; }
	@command -v valgrind >/dev/null || { echo "valgrind-leaks: valgrind is not installed and could not be installed"; exit 1; }
	@mkdir -p $(SAN_OUT)/tmp
	$(CC) $(SAN_WORKLOAD_CFLAGS) $(SAN_WORKLOAD) -o $(SAN_OUT)/workload \
	  -L$(VALGRIND_LIB_DIR) -lswiftcnn -Wl,-rpath,$(abspath $(VALGRIND_LIB_DIR)) -lpthread -lm
	@$(SAN_RUN) valgrind-leaks $(SAN_OUT)/valgrind.log \
	  valgrind $(VALGRIND_FLAGS) $(SAN_OUT)/workload $(SAN_OUT)/tmp
	$(CC) $(SAN_WORKLOAD_CFLAGS) $(SAN_WORKLOAD) -o $(SAN_OUT)/workload-portable \
	  -L$(LIB_DIR) -lswiftcnn $(RPATH) -lpthread -lm
	@$(SAN_RUN) valgrind-leaks-portable $(SAN_OUT)/valgrind-portable.log \
	  valgrind $(VALGRIND_FLAGS) $(SAN_OUT)/workload-portable $(SAN_OUT)/tmp

# The checks run one after another (each build uses both cores); all run even if one fails.
sanitize:
	@failed=""; \
	for t in sanitize-asan sanitize-c-asan sanitize-tsan valgrind-leaks; do \
	  $(MAKE) --no-print-directory $$t || failed="$$failed $$t"; done; \
	if [ -n "$$failed" ]; then echo "sanitize: FAILED:$$failed"; exit 1; fi; \
	echo "sanitize: all checks passed (sanitize-asan, sanitize-c-asan, sanitize-tsan, valgrind-leaks)"
