# swiftcnn — the one place that knows the build order.
#
#   make demo    set up everything, then run the main demo
#   make test    set up what is needed, then run every test (Swift, C, Python, checks)
#
# Other targets: lib, header, check-header, examples, python, swift-test, c-test,
# py-test, onnx-test, check-exports, check-vector-calls, check-portable, bench, clean; hardening (check-bad-inputs,
# fuzz, fuzz-ci, sanitize and their parts: mk/*.mk); install, uninstall, install-test
# (mk/install.mk); wheel, wheel-test, sdist, sdist-test (mk/wheel.mk); ray-test (mk/ray.mk).
#
# The library (`make lib`) is portable by default (PORTABLE=1): build/lib/libswiftcnn.so is
# a small C loader (Sources/Loader) that embeds two complete builds of the library, one for
# AVX512_CPU (default skylake-avx512: AVX-512 F/CD/BW/DQ/VL, 16-lane kernels) and one for
# AVX2_CPU (default haswell: AVX2 + FMA, 8-lane kernels), and picks one when it is loaded
# (cpuid; SCNN_ISA=avx2|avx512|auto overrides). It runs on any x86-64-v3 CPU. Each variant
# is also usable on its own (e.g. for perf work): .build-avx512/release and
# .build-avx2/release hold libswiftcnn.so and a libswiftcnn-<isa>.so link (its SONAME).
# PORTABLE=0 builds one non-portable library for SWIFT_CPU instead (default native, this
# machine; a baseline such as haswell gets the 8-lane kernels): `make lib PORTABLE=0`, or
# `make lib SWIFT_CPU=haswell` (naming SWIFT_CPU implies PORTABLE=0).
# Without a target CPU, Swift lowers SIMD fused multiply-add to a slow software call.
# The CPU settings are tracked: changing AVX512_CPU, AVX2_CPU, SWIFT_CPU or PORTABLE rebuilds.
#
# The library is laid out in build/lib as LIB_REAL (libswiftcnn.so.MAJOR.MINOR.PATCH, SONAME
# libswiftcnn.so.MAJOR) with the symlinks LIB_SONAME (libswiftcnn.so.MAJOR) and LIB
# (libswiftcnn.so, what programs link with: -L$(LIB_DIR) -lswiftcnn).

SHELL        := /bin/bash
SWIFT        ?= swift
PYTHON       ?= python3
CC           ?= cc
CXX          ?= c++
# SWIFT_CPU given on the command line or in the environment means PORTABLE=0, and so does
# a machine that is not x86-64 (the loader picks between x86 variants).
ifneq ($(filter command line environment,$(origin SWIFT_CPU)),)
PORTABLE     ?= 0
endif
ifneq ($(shell uname -m),x86_64)
PORTABLE     ?= 0
endif
PORTABLE     ?= 1
SWIFT_CPU    ?= native
AVX512_CPU   ?= skylake-avx512
AVX2_CPU     ?= haswell

OUT           := build
VERSION       := $(shell sed -n 's/.*version: StaticString = "\([0-9.]*\)".*/\1/p' Sources/SwiftCNN/Version.swift)
VERSION_MAJOR := $(firstword $(subst ., ,$(VERSION)))
SONAME        := libswiftcnn.so.$(VERSION_MAJOR)
LIB_DIR       := $(OUT)/lib
LIB           := $(LIB_DIR)/libswiftcnn.so
LIB_SONAME    := $(LIB_DIR)/$(SONAME)
LIB_REAL      := $(LIB_DIR)/libswiftcnn.so.$(VERSION)
BUILD_DIR     := $(LIB_DIR)
RAW_HEADER    := .build/swiftcnn-raw.h
HEADER        := Include/swiftcnn.h
VENV          := .venv
VPY           := $(VENV)/bin/python

# CPUs without AVX-512 (haswell: AVX2 + FMA, 16 ymm registers) get the 8-lane GEMM kernels
# (compilation condition SCNN_AVX2, see Kernels/Optimized/GEMM.swift).
AVX2_CPUS    := haswell broadwell skylake znver1 znver2 znver3 alderlake
NATIVE_FLAGS := -Xswiftc -target-cpu -Xswiftc $(SWIFT_CPU) $(if $(filter $(SWIFT_CPU),$(AVX2_CPUS)),-Xswiftc -DSCNN_AVX2)
# LLVM tunes skylake-avx512 to prefer 256-bit vectors, which splits every SIMD16<Float> into
# two ymm halves (and spills the 12x32 GEMM micro-kernel): turn that tuning off.
NO_PREFER_256 := $(foreach f,-Xcc -Xclang -Xcc -target-feature -Xcc -Xclang -Xcc -prefer-256-bit,-Xswiftc $(f))
AVX512_FLAGS := -Xswiftc -target-cpu -Xswiftc $(AVX512_CPU) -Xswiftc -DSCNN_ISA_AVX512 $(NO_PREFER_256)
AVX2_FLAGS   := -Xswiftc -target-cpu -Xswiftc $(AVX2_CPU) -Xswiftc -DSCNN_AVX2
VARIANT_LINK   := --disable-local-rpath
AVX512_SCRATCH := .build-avx512
AVX2_SCRATCH   := .build-avx2
NATIVE_SCRATCH := .build
VARIANT_AVX512 := $(AVX512_SCRATCH)/release/libswiftcnn.so
VARIANT_AVX2   := $(AVX2_SCRATCH)/release/libswiftcnn.so
NATIVE_BUILD   := $(NATIVE_SCRATCH)/release/libswiftcnn.so
ifeq ($(PORTABLE),1)
SWIFT_CPU_FLAGS := $(AVX512_FLAGS)
SWIFT_SCRATCH   := $(AVX512_SCRATCH)
else
SWIFT_CPU_FLAGS := $(NATIVE_FLAGS)
SWIFT_SCRATCH   := $(NATIVE_SCRATCH)
endif
# $(call cpu_stamp,FILE,TEXT) rewrites FILE only when TEXT changed, so rules that depend on
# it rebuild exactly when their CPU flags change.
cpu_stamp = $(shell mkdir -p $(dir $(1)) && { [ "$$(cat $(1) 2>/dev/null)" = '$(2)' ] || printf '%s\n' '$(2)' > $(1); })
$(call cpu_stamp,$(AVX512_SCRATCH)/cpu-flags,$(AVX512_FLAGS))
$(call cpu_stamp,$(AVX2_SCRATCH)/cpu-flags,$(AVX2_FLAGS))
$(call cpu_stamp,$(NATIVE_SCRATCH)/cpu-flags,$(NATIVE_FLAGS))
$(call cpu_stamp,$(LIB_DIR)/portable,PORTABLE=$(PORTABLE))

CWARN        := -Wall -Wextra -Werror -pedantic
RPATH        := -Wl,-rpath,$(abspath $(LIB_DIR))
SWIFT_SRCS   := $(shell find Sources -type f -not -path "Sources/Loader/*") Package.swift
LOADER_SRCS  := Sources/Loader/loader.c Sources/Loader/variants.S
C_TESTS      := $(wildcard Tests/c/*.c)
C_TEST_HDRS  := $(wildcard Tests/c/*.h)
EXAMPLES     := $(patsubst examples/%.c,$(OUT)/examples/%,$(wildcard examples/*.c))
PY_SRCS      := $(shell find bindings/python -type f \( -name '*.py' -o -name '*.c' -o -name '*.h' -o -name '*.pyi' -o -name '*.toml' \) -not -path '*/build/*' -not -path '*/tests/*' 2>/dev/null)

.PHONY: all demo test lib header check-header examples python venv swift-test c-test \
        py-test check-exports check-vector-calls check-header-compile bench clean check-bad-inputs hardening onnx-test \
        check-portable

all: lib examples python

# ---- the library and its header ------------------------------------------------------

# Each build of the whole library (Swift core + C ABI, static Swift runtime) has its own
# scratch path and SONAME; the variants get no $ORIGIN run path (loaded from a memfd, their
# origin would be /proc/self/fd). The raw compiler header is written while SwiftCNNC compiles
# (see Package.swift).
VARIANT_BUILD_AVX512 = $(SWIFT) build -c release --product swiftcnn --scratch-path $(AVX512_SCRATCH) $(AVX512_FLAGS) $(VARIANT_LINK) -Xlinker -soname=libswiftcnn-avx512.so
VARIANT_BUILD_AVX2   = $(SWIFT) build -c release --product swiftcnn --scratch-path $(AVX2_SCRATCH) $(AVX2_FLAGS) $(VARIANT_LINK) -Xlinker -soname=libswiftcnn-avx2.so

ifeq ($(PORTABLE),1)
# The portable library needs both variants, and each release build is one whole-module
# compile that keeps about one core busy (real time = user time): they run side by side,
# each into its own log (printed after it), in the time of the longer one. One rule makes
# both, so no make -j runs a scratch path twice at once; the one that is up to date is a
# no-op for swift build.
$(VARIANT_AVX512) $(VARIANT_AVX2) &: $(SWIFT_SRCS) $(AVX512_SCRATCH)/cpu-flags $(AVX2_SCRATCH)/cpu-flags
	@mkdir -p $(dir $(RAW_HEADER))
	@echo "building the AVX-512 and AVX2 variants side by side:"
	@echo "  $(VARIANT_BUILD_AVX512)"
	@echo "  $(VARIANT_BUILD_AVX2)"
	@$(VARIANT_BUILD_AVX512) > $(AVX512_SCRATCH)/build.log 2>&1 & pid=$$!; \
	$(VARIANT_BUILD_AVX2) > $(AVX2_SCRATCH)/build.log 2>&1; rc2=$$?; \
	wait $$pid; rc1=$$?; \
	for v in $(AVX512_SCRATCH):$$rc1 $(AVX2_SCRATCH):$$rc2; do \
	  log=$${v%%:*}/build.log; rc=$${v#*:}; \
	  if [ $$rc -ne 0 ]; then echo "== $$log: the build failed (exit $$rc):"; cat $$log; \
	  else grep -E 'warning:' $$log | sort -u; echo "== $$log: $$(tail -1 $$log)"; fi; \
	done; \
	[ $$rc1 -eq 0 ] && [ $$rc2 -eq 0 ]
	@touch $(VARIANT_AVX512) $(VARIANT_AVX2)
else
$(VARIANT_AVX512): $(SWIFT_SRCS) $(AVX512_SCRATCH)/cpu-flags
	@mkdir -p $(dir $(RAW_HEADER))
	$(VARIANT_BUILD_AVX512)
	@touch $@

$(VARIANT_AVX2): $(SWIFT_SRCS) $(AVX2_SCRATCH)/cpu-flags
	@mkdir -p $(dir $(RAW_HEADER))
	$(VARIANT_BUILD_AVX2)
	@touch $@
endif

$(NATIVE_BUILD): $(SWIFT_SRCS) $(NATIVE_SCRATCH)/cpu-flags
	$(SWIFT) build -c release --product swiftcnn $(NATIVE_FLAGS) -Xlinker -soname=$(SONAME)
	@touch $@

# A variant used on its own is found by its SONAME.
$(AVX512_SCRATCH)/release/libswiftcnn-avx512.so: $(VARIANT_AVX512)
	ln -sf libswiftcnn.so $@
$(AVX2_SCRATCH)/release/libswiftcnn-avx2.so: $(VARIANT_AVX2)
	ln -sf libswiftcnn.so $@

ifeq ($(PORTABLE),1)
$(RAW_HEADER): $(VARIANT_AVX512)
	@test -f $@ && touch $@
else
$(RAW_HEADER): $(NATIVE_BUILD)
	@test -f $@ && touch $@
endif

# The portable library: the loader, its forwarding layer generated from the header the
# sources give (scripts/gen_loader.py), and both variants, stripped, embedded as data.
# NODELETE: dlclose never unloads it (the variant it loaded, a Swift library, stays anyway),
# so a host that opens it again gets the same instance, not a second copy of the variant.
LOADER_GEN   := $(LIB_DIR)/gen
VARIANTS     := $(LIB_DIR)/variants/libswiftcnn-avx512.so $(LIB_DIR)/variants/libswiftcnn-avx2.so

$(LIB_DIR)/variants/libswiftcnn-%.so: .build-%/release/libswiftcnn.so
	@mkdir -p $(dir $@)
	strip --strip-all -o $@ $<

$(LOADER_GEN)/swiftcnn.h: $(RAW_HEADER) scripts/gen_header.py scripts/header_preamble.txt
	@mkdir -p $(dir $@)
	$(PYTHON) scripts/gen_header.py $(RAW_HEADER) $@

$(LOADER_GEN)/loader_gen.c: $(LOADER_GEN)/swiftcnn.h scripts/gen_loader.py
	$(PYTHON) scripts/gen_loader.py $< $@

ifeq ($(PORTABLE),1)
$(LIB_REAL): $(LOADER_SRCS) $(LOADER_GEN)/loader_gen.c $(LOADER_GEN)/swiftcnn.h $(VARIANTS) $(LIB_DIR)/portable
	$(CC) -std=c11 $(CWARN) -O2 -fPIC -shared -fvisibility=hidden -I$(LOADER_GEN) \
	  -DSCNN_LOADER_VERSION='"$(VERSION)"' \
	  -DSCNN_VARIANT_AVX512='"$(LIB_DIR)/variants/libswiftcnn-avx512.so"' \
	  -DSCNN_VARIANT_AVX2='"$(LIB_DIR)/variants/libswiftcnn-avx2.so"' \
	  $(LOADER_SRCS) -o $@.tmp -Wl,-soname,$(SONAME) -Wl,-z,noexecstack -Wl,-z,nodelete \
	  -Wl,--version-script=Sources/SwiftCNNC/exports.map -ldl
	mv -f $@.tmp $@
else
$(LIB_REAL): $(NATIVE_BUILD) $(LIB_DIR)/portable
	@mkdir -p $(LIB_DIR)
	cp -f $< $@.tmp && mv -f $@.tmp $@
endif

$(LIB_SONAME): $(LIB_REAL)
	ln -sf $(notdir $(LIB_REAL)) $@

$(LIB): $(LIB_SONAME)
	ln -sf $(SONAME) $@

lib: $(LIB) $(if $(filter 1,$(PORTABLE)),$(AVX512_SCRATCH)/release/libswiftcnn-avx512.so $(AVX2_SCRATCH)/release/libswiftcnn-avx2.so)

header: $(RAW_HEADER)
	$(PYTHON) scripts/gen_header.py $(RAW_HEADER) $(HEADER)

# Fails when Include/swiftcnn.h does not match what the sources generate.
check-header: $(RAW_HEADER)
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

# The library and (PORTABLE=1) each embedded variant export exactly the header's functions;
# no Swift runtime in ldd; the SONAMEs are set.
EXPORT_LIBS := $(LIB) $(if $(filter 1,$(PORTABLE)),$(VARIANTS))
check-exports: $(EXPORT_LIBS)
	@declared=$$(grep -E '^[A-Za-z_][^(]*\bscnn_[a-z0-9_]+\(' $(HEADER) | grep -v '^typedef' \
	  | sed -E 's/.*\b(scnn_[a-z0-9_]+)\(.*/\1/' | sort); \
	for lib in $(EXPORT_LIBS); do \
	  syms=$$(nm -D --defined-only $$lib | awk '{print $$3}' | sort); \
	  bad=$$(echo "$$syms" | grep -v '^scnn_' || true); \
	  if [ -n "$$bad" ]; then echo "$$lib: non-scnn exports: $$bad"; exit 1; fi; \
	  extra=$$(comm -23 <(echo "$$syms") <(echo "$$declared")); \
	  if [ -n "$$extra" ]; then echo "$$lib exports what $(HEADER) does not declare: $$extra"; exit 1; fi; \
	  missing=$$(comm -13 <(echo "$$syms") <(echo "$$declared")); \
	  if [ -n "$$missing" ]; then echo "$$lib lacks functions $(HEADER) declares: $$missing"; exit 1; fi; \
	  if ldd $$lib | grep -qi swift; then echo "ldd shows a Swift library:"; ldd $$lib; exit 1; fi; \
	done
	@readelf -d $(LIB) | grep -q 'SONAME.*\[$(SONAME)\]' || { echo "$(LIB): SONAME is not $(SONAME)"; exit 1; }
	@$(if $(filter 1,$(PORTABLE)),for v in avx512 avx2; do readelf -d $(LIB_DIR)/variants/libswiftcnn-$$v.so \
	  | grep -q "SONAME.*\[libswiftcnn-$$v.so\]" || { echo "variant $$v: no SONAME libswiftcnn-$$v.so"; exit 1; }; done,true)
	@echo "exports: $$(nm -D --defined-only $(LIB) | wc -l) scnn_* functions, exactly the header's, in $(EXPORT_LIBS); SONAMEs set; no Swift runtime in ldd"

# No kernel calls the standard library's unaligned SIMD load or store out of line: a call
# clobbers every vector register, so a kernel's accumulators are spilled around it
# (Sources/SwiftCNN/Kernels/Optimized/VectorMemory.swift). An out-of-line copy leaves its
# specialization's symbol in the unstripped build.
UNSTRIPPED_LIBS := $(if $(filter 1,$(PORTABLE)),$(VARIANT_AVX512) $(VARIANT_AVX2),$(NATIVE_BUILD))
check-vector-calls: $(UNSTRIPPED_LIBS)
	@for lib in $(UNSTRIPPED_LIBS); do \
	  bad=$$(nm $$lib | grep -E '(loadUnaligned|storeBytes).*SIMD(4|8|16)VySfG' || true); \
	  if [ -n "$$bad" ]; then echo "$$lib: SIMD loads or stores left out of line (use Optimized.loadVector/storeVector in that kernel):"; \
	    echo "$$bad"; exit 1; fi; \
	done
	@echo "no out-of-line SIMD loads or stores in $(UNSTRIPPED_LIBS)"

# ---- C examples and tests --------------------------------------------------------------

$(OUT)/examples/%: examples/%.c examples/ppm.h examples/image_io.h examples/shape_text.h $(HEADER) $(LIB) $(OUT)/examples/image-io.flags
	@mkdir -p $(OUT)/examples
	$(CC) -std=c99 $(CWARN) -IInclude $< -o $@ -L$(BUILD_DIR) -lswiftcnn $(RPATH) -lm -ldl $$(cat $(OUT)/examples/image-io.flags)

# The examples read PNG and JPEG through stb_image (Debian's libstb-dev: <stb/stb_image.h>,
# -lstb) where it is installed, else binary PPM/PGM only (examples/image_io.h). `make stb`
# installs it with apt-get where it can (root, Debian) and skips quietly otherwise; the
# flags file changes, and the examples rebuild, only when stb_image's presence does.
stb:
	@if [ ! -f /usr/include/stb/stb_image.h ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing libstb-dev (stb_image, for the C examples' PNG/JPEG reading)"; \
	  apt-get install -y -qq libstb-dev >/dev/null 2>&1 || \
	  { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq libstb-dev >/dev/null 2>&1; } || \
	  echo "could not install libstb-dev: the C examples will read PPM/PGM only"; fi

$(OUT)/examples/image-io.flags: FORCE | stb
	@mkdir -p $(OUT)/examples
	@f=; if printf '#include <stb/stb_image.h>\nint main(void) { return stbi_failure_reason() != 0; }\n' | \
	  $(CC) -x c - -o $(OUT)/examples/.stb-probe -lstb >/dev/null 2>&1; then f="-DSCNN_EXAMPLES_STB -lstb"; fi; \
	  rm -f $(OUT)/examples/.stb-probe; \
	  if [ ! -f $@ ] || [ "$$(cat $@)" != "$$f" ]; then echo "$$f" > $@; \
	  echo "C examples: $${f:-no stb_image: PPM/PGM only}"; fi

FORCE:
.PHONY: stb FORCE

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

# The C tests once more on the AVX2 variant (PORTABLE=1): both kernel paths against the
# PyTorch fixtures and the reference kernels.
c-test: $(OUT)/ctest $(OUT)/ctest++
	$(OUT)/ctest
	$(OUT)/ctest++
	$(if $(filter 1,$(PORTABLE)),SCNN_ISA=avx2 $(OUT)/ctest)

# ---- the portable library under emulation ---------------------------------------------
#
# make check-portable: Tests/portable/portable_check.c runs a small forward of every kernel
# path against the reference kernels, here on both variants, then under qemu-x86_64 (Debian's
# qemu-user, installed with apt-get where it can) with `-cpu Haswell` (AVX2 + FMA, no
# AVX-512: the library must take its AVX2 variant, also when SCNN_ISA=avx512 asks for more),
# with a couple of examples; and with `-cpu Nehalem` (no AVX2), where every function must
# fail cleanly with the loader's message. As a control, the AVX-512 variant alone must die
# with SIGILL under -cpu Haswell. Skipped, saying why, without qemu-user or when PORTABLE=0.
QEMU           ?= qemu-x86_64
PORTABLE_OUT   := $(OUT)/portable
PORTABLE_CHECK := $(PORTABLE_OUT)/portable_check
QEMU_HASWELL   := $(QEMU) -cpu Haswell-noTSX,-invpcid,-pcid,-x2apic,-tsc-deadline
QEMU_NO_AVX2   := $(QEMU) -cpu Nehalem

$(PORTABLE_OUT)/loader_calls.c: $(HEADER) scripts/gen_loader.py
	@mkdir -p $(dir $@)
	$(PYTHON) scripts/gen_loader.py --calls $(HEADER) $@

$(PORTABLE_CHECK): Tests/portable/portable_check.c $(PORTABLE_OUT)/loader_calls.c $(HEADER) $(LIB)
	$(CC) -std=c99 $(CWARN) -IInclude -I$(PORTABLE_OUT) $< -o $@ -L$(LIB_DIR) -lswiftcnn $(RPATH) -lm

# Two copies of the library in one process (Tests/portable/two_copies.c): each must run its
# own variant, whose memory file the loader names apart from the other's.
$(PORTABLE_OUT)/two_copies: Tests/portable/two_copies.c
	@mkdir -p $(dir $@)
	$(CC) -std=c99 $(CWARN) $< -o $@ -ldl

check-portable: $(PORTABLE_CHECK) $(PORTABLE_OUT)/two_copies $(VARIANT_AVX2) $(OUT)/examples/shapes $(OUT)/examples/classify $(OUT)/examples/plugin
	@if [ "$(PORTABLE)" != 1 ]; then echo "check-portable: skipped (PORTABLE=$(PORTABLE): not the portable library)"; exit 0; fi; \
	if ! command -v $(QEMU) >/dev/null; then echo "check-portable: installing qemu-user (Debian package)"; \
	  { apt-get update -qq && apt-get install -y -qq qemu-user; } >/dev/null 2>&1 || true; fi; \
	set -e -o pipefail; \
	echo "== this CPU, auto"; $(PORTABLE_CHECK) | tail -1; \
	echo "== this CPU, SCNN_ISA=avx2"; SCNN_ISA=avx2 $(PORTABLE_CHECK) avx2 | tail -1; \
	echo "== this CPU, SCNN_ISA=avx2, no memfd (temporary file)"; \
	SCNN_LOADER_NO_MEMFD=1 SCNN_ISA=avx2 $(PORTABLE_CHECK) avx2 | tail -1; \
	echo "== this CPU, the AVX2 variant on its own (its own scnn_cpu_features)"; \
	mkdir -p $(PORTABLE_OUT)/avx2-only; ln -sf $(abspath $(VARIANT_AVX2)) $(PORTABLE_OUT)/avx2-only/$(SONAME); \
	LD_LIBRARY_PATH=$(PORTABLE_OUT)/avx2-only $(PORTABLE_CHECK) avx2 | tail -1; \
	echo "== two copies of the library in one process, each with its own variant"; \
	$(PORTABLE_OUT)/two_copies $(abspath $(LIB)); \
	SCNN_LOADER_NO_MEMFD=1 $(PORTABLE_OUT)/two_copies $(abspath $(LIB)); \
	if ! command -v $(QEMU) >/dev/null; then \
	  echo "check-portable: qemu-user is not installed and could not be installed (apt-get): the emulated runs are skipped"; exit 0; fi; \
	echo "== qemu -cpu Haswell, the AVX-512 variant alone (a control: it must die with SIGILL)"; \
	mkdir -p $(PORTABLE_OUT)/avx512-only; ln -sf $(abspath $(VARIANT_AVX512)) $(PORTABLE_OUT)/avx512-only/$(SONAME); \
	rc=0; LD_LIBRARY_PATH=$(PORTABLE_OUT)/avx512-only $(QEMU_HASWELL) $(PORTABLE_CHECK) avx2 >/dev/null 2>&1 || rc=$$?; \
	if [ $$rc != 132 ]; then echo "check-portable: the AVX-512 build exited with $$rc under qemu -cpu Haswell, not SIGILL (132)"; exit 1; fi; \
	echo "exit status 132 (SIGILL), as expected"; \
	echo "== qemu -cpu Haswell (AVX2, no AVX-512)"; $(QEMU_HASWELL) $(PORTABLE_CHECK) avx2; \
	echo "== qemu -cpu Haswell, SCNN_ISA=avx512 (must not be honoured)"; \
	SCNN_ISA=avx512 $(QEMU_HASWELL) $(PORTABLE_CHECK) avx2 > $(PORTABLE_OUT)/isa-avx512.txt; \
	grep -E 'cpu features|passed' $(PORTABLE_OUT)/isa-avx512.txt; \
	grep -q 'SCNN_ISA=avx512 ignored: the CPU lacks avx512f' $(PORTABLE_OUT)/isa-avx512.txt; \
	echo "== qemu -cpu Haswell: examples/shapes, examples/classify, examples/plugin"; \
	$(QEMU_HASWELL) $(OUT)/examples/shapes > $(PORTABLE_OUT)/shapes.txt; \
	cmp <($(OUT)/examples/shapes) $(PORTABLE_OUT)/shapes.txt; \
	$(QEMU_HASWELL) $(OUT)/examples/classify lenet5 | tail -2; \
	$(QEMU_HASWELL) $(OUT)/examples/plugin $(abspath $(LIB)) | tail -1; \
	echo "== qemu -cpu Nehalem (no AVX2)"; $(QEMU_NO_AVX2) $(PORTABLE_CHECK) --none; \
	echo "check-portable: passed"

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

# make test runs the Python tests beside the fuzzers' core build (hardening needs it later):
# each keeps about one core busy for about 3 minutes here. Their outputs come one after the
# other (--output-sync).
py-test-and-fuzz-build: python
	$(MAKE) --no-print-directory -j2 --output-sync=target py-test fuzz-build
.PHONY: py-test-and-fuzz-build

# ---- Swift tests -----------------------------------------------------------------------

# The test bundle is built, then its suites run TEST_JOBS processes at a time
# (scripts/run_xctest.sh; 2 on a 2-core machine, about half the time of `swift test`).
# `swift test --disable-swift-testing` runs the same tests in one process.
# `make test` runs this suite once, under AddressSanitizer with -O (sanitize-asan in
# mk/sanitize.mk): every test, in a quarter of the time that this -Onone build and run take
# (75 s + 217 s measured); swift-test is the quick loop while working on the Swift code.
TEST_JOBS ?= $(shell nproc 2>/dev/null || echo 2)

swift-test:
	$(SWIFT) build --build-tests
	bash scripts/run_xctest.sh "$$($(SWIFT) build --show-bin-path)/swiftcnnPackageTests.xctest" $(TEST_JOBS)

# ---- benchmarks (not tests: they time things; see BENCHMARKS.md) ----------------------
#
#   make bench                                   GEMM micro-benchmark, then every zoo model
#   make bench BENCH_ARGS="--models resnet50 --batches 1 --runs 50 --threads 2"
#   make bench BENCH_GEMM_ARGS=--quick
# bench_models also reads SCNN_BENCH_MODELS, _BATCHES, _RUNS, _WARMUP, _MAX_SECONDS,
# _MIN_RUNS, _THREADS from the environment (its --help lists them).

BENCH_ARGS      ?=
BENCH_GEMM_ARGS ?=
GEMM_BENCH      := $(SWIFT_SCRATCH)/release/swiftcnn-bench

$(GEMM_BENCH): $(SWIFT_SRCS) $(SWIFT_SCRATCH)/cpu-flags
	$(SWIFT) build -c release --product swiftcnn-bench --scratch-path $(SWIFT_SCRATCH) $(SWIFT_CPU_FLAGS)
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

# Two builds of the library side by side in one process (not part of `make bench`; see
# benchmarks/bench_ab.c and BENCHMARKS.md).
$(OUT)/bench/bench_ab: benchmarks/bench_ab.c $(HEADER)
	@mkdir -p $(OUT)/bench
	$(CC) -std=c99 -O2 $(CWARN) -IInclude $< -o $@ -ldl

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
include mk/ray.mk

# Both bad-input sweeps: every C function of the header, every public Python function.
check-bad-inputs: check-bad-inputs-c check-bad-inputs-py

# Hardening: the bad-input sweeps, bounded fuzzing, the sanitizers (which run the whole Swift
# suite under ASan) and valgrind; about 12 minutes here.
hardening: check-bad-inputs fuzz-ci sanitize

# ---- the two commands ------------------------------------------------------------------

demo: lib header examples python
	@bash examples/demo.sh

# ONNX: ONNX's own backend node tests (per-op passed/failed/skipped, every skip's reason)
# and the C examples on models imported from ONNX, checked against ONNX Runtime.
onnx-test: onnx-backend python examples
	bash scripts/check_onnx_examples.sh

test: check-header check-header-compile check-exports check-vector-calls c-test check-portable py-test-and-fuzz-build onnx-test hardening
	@echo "all tests passed"

clean:
	rm -rf .build .build-avx512 .build-avx2 .build-asan .build-tsan .build-valgrind .build-fuzz $(OUT) $(VENV) bindings/python/build bindings/python/*.egg-info

# examples/segment.c on a synthetic image, checked against Model.segment, and shapes.c's
# average-pool example (issue 12).
check-segment-example: python $(OUT)/examples/segment $(OUT)/examples/shapes
	$(VPY) scripts/check_segment_example.py $(OUT)/examples/segment $(OUT)/examples/shapes

test: check-segment-example

# The C examples on a real JPEG (scikit-learn's china.jpg) and PNGs written from its pixels,
# checked equal to the same examples on the PPM/PGM of those pixels (about 8 s).
check-image-examples: venv $(OUT)/examples/filters $(OUT)/examples/classify $(OUT)/examples/detect $(OUT)/examples/segment
	$(VPY) scripts/check_image_examples.py $(OUT)/examples

test: check-image-examples
.PHONY: check-image-examples

# The docs: every ```c block of README.md compiles warning-free (plain cc, and -pedantic
# -std=c99), links, and runs when it is a whole program (scripts/check_readme_c.py); and
# README.md, BENCHMARKS.md, docs/ and bindings/python/README.md name no path that exists on
# one machine only (/tmp, /work, /root, /home/..., /Users/...; say $TORCH_VENV, build/, ...).
MACHINE_PATHS := (^|[^A-Za-z0-9_.$$-])(/tmp|/work|/root|/home/[A-Za-z0-9_.-]+|/Users/[A-Za-z0-9_.-]+)(/|\b)
check-docs: $(LIB) $(HEADER)
	$(PYTHON) scripts/check_readme_c.py --cc $(CC) --include Include --lib-dir $(BUILD_DIR) README.md
	@if grep -rnE '$(MACHINE_PATHS)' README.md BENCHMARKS.md docs bindings/python/README.md; then \
	  echo "the lines above name a path that exists on one machine only"; exit 1; fi
	@echo "docs: no machine-specific paths"

test: check-docs
.PHONY: check-docs

# The C install (pkg-config and CMake consumers), the manylinux wheel in a fresh venv, the sdist.
test: install-test wheel-test sdist-test
