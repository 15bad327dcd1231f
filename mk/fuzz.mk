# ---- fuzzing with libFuzzer ---------------------------------------------------------------
#
#   make fuzz                          regressions, then every target FUZZ_SECONDS (60) each
#   make fuzz FUZZ_SECONDS=600 FUZZ_TARGETS="json safetensors"
#   make fuzz-ci                       the same, FUZZ_CI_SECONDS (30) each, fresh work corpus
#   make fuzz-regressions              replay Tests/fuzz/regressions/<target>/* only
#   make fuzz-seeds                    rewrite Tests/fuzz/corpus/ with the library's writers
#
# A target is one file, Tests/fuzz/targets/<name>.swift, defining LLVMFuzzerTestOneInput
# (see Tests/fuzz/FuzzSupport.swift); adding a file adds the target. Seeds:
# Tests/fuzz/corpus/<name>/; inputs that once crashed: Tests/fuzz/regressions/<name>/,
# replayed by every run. The core is compiled once, -O with libFuzzer's coverage and ASan,
# into a static library with -enable-testing (internal APIs are reachable through
# @testable import); each target links against it (seconds). -O takes about a minute
# longer to build than -Onone but executes 1.7x (json) to 11x (model_load) more inputs per
# second, which more than pays for itself within the CI budget.
# Everything the runs write (work corpus, crash/timeout/leak inputs and their minimized
# forms, logs, temporary files) stays under $(FUZZ_DIR); Tests/fuzz/run.sh prints
# executions per target, minimizes any finding, and ends with a "fuzz summary:" line.

SWIFTC          ?= $(SWIFT)c
FUZZ_DIR        := .build-fuzz
FUZZ_SECONDS    ?= 60
FUZZ_CI_SECONDS ?= 30
FUZZ_TARGETS    ?= $(sort $(basename $(notdir $(wildcard Tests/fuzz/targets/*.swift))))
FUZZ_CORE_SRCS  := $(sort $(shell find Sources/SwiftCNN -name '*.swift'))
FUZZ_FLAGS      := -O -g -sanitize=fuzzer,address -parse-as-library
FUZZ_CORE       := $(FUZZ_DIR)/core/libSwiftCNN.a
FUZZ_BINS       := $(addprefix $(FUZZ_DIR)/bin/fuzz-,$(FUZZ_TARGETS))

.PHONY: fuzz fuzz-ci fuzz-regressions fuzz-build fuzz-seeds

$(FUZZ_CORE): $(FUZZ_CORE_SRCS)
	@mkdir -p $(FUZZ_DIR)/core
	$(SWIFTC) $(FUZZ_FLAGS) -enable-testing -module-name SwiftCNN -wmo -num-threads 2 \
	  -emit-module -emit-module-path $(FUZZ_DIR)/core/SwiftCNN.swiftmodule \
	  -emit-library -static -o $@ $(FUZZ_CORE_SRCS)

$(FUZZ_DIR)/bin/fuzz-%: Tests/fuzz/targets/%.swift Tests/fuzz/FuzzSupport.swift $(FUZZ_CORE)
	@mkdir -p $(FUZZ_DIR)/bin
	$(SWIFTC) $(FUZZ_FLAGS) -use-ld=lld -I $(FUZZ_DIR)/core Tests/fuzz/FuzzSupport.swift $< \
	  -L $(FUZZ_DIR)/core -lSwiftCNN -o $@

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	bash Tests/fuzz/run.sh $(FUZZ_DIR)/bin $(FUZZ_DIR)/run $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# CI: a fresh work corpus each time, so that a run starts from the committed seeds only.
# The targets run in two halves at once (a fuzzer uses one core; each target keeps its own
# corpus, logs and artifacts under the work folder), so CI spends half the wall time for the
# same fuzzing per target; either half's findings fail the run.
FUZZ_CI_FIRST  = $(wordlist 1,$(words $(FUZZ_HALF)),$(FUZZ_TARGETS))
FUZZ_CI_SECOND = $(filter-out $(FUZZ_CI_FIRST),$(FUZZ_TARGETS))
FUZZ_HALF      = $(wordlist 1,$(shell echo $$(( ($(words $(FUZZ_TARGETS)) + 1) / 2 ))),$(FUZZ_TARGETS))
fuzz-ci: fuzz-build
	rm -rf $(FUZZ_DIR)/ci
	@bash Tests/fuzz/run.sh $(FUZZ_DIR)/bin $(FUZZ_DIR)/ci $(FUZZ_CI_SECONDS) $(FUZZ_CI_FIRST) & first=$$!; \
	second=0; $(if $(FUZZ_CI_SECOND),bash Tests/fuzz/run.sh $(FUZZ_DIR)/bin $(FUZZ_DIR)/ci $(FUZZ_CI_SECONDS) $(FUZZ_CI_SECOND) || second=1;) \
	wait $$first || second=1; \
	if [ $$second -ne 0 ]; then echo "fuzz-ci: FAILED (see the summaries above)"; exit 1; fi; \
	echo "fuzz-ci: both halves passed ($(FUZZ_TARGETS))"

fuzz-regressions: fuzz-build
	bash Tests/fuzz/run.sh $(FUZZ_DIR)/bin $(FUZZ_DIR)/run 0 $(FUZZ_TARGETS)

# The seed generator checks each seed (valid ones load, near-valid ones fail) and writes
# them to a build directory; only the directories it generated are replaced in the repo.
$(FUZZ_DIR)/bin/generate-seeds: Tests/fuzz/GenerateSeeds.swift $(FUZZ_CORE)
	@mkdir -p $(FUZZ_DIR)/bin
	$(SWIFTC) -O -g -sanitize=address -parse-as-library -use-ld=lld -I $(FUZZ_DIR)/core $< \
	  -L $(FUZZ_DIR)/core -lSwiftCNN -o $@

fuzz-seeds: $(FUZZ_DIR)/bin/generate-seeds
	rm -rf $(FUZZ_DIR)/seeds
	$(FUZZ_DIR)/bin/generate-seeds $(FUZZ_DIR)/seeds
	@for d in $(FUZZ_DIR)/seeds/*/; do t=$$(basename $$d); \
	  rm -rf Tests/fuzz/corpus/$$t; mkdir -p Tests/fuzz/corpus; cp -R $$d Tests/fuzz/corpus/$$t; done
	@echo "fuzz-seeds: $$(find Tests/fuzz/corpus -type f | wc -l) files, $$(find Tests/fuzz/corpus -type f -exec cat {} + | wc -c) bytes in Tests/fuzz/corpus"
