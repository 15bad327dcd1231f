# ---- C bad-input sweep ------------------------------------------------------------------
#
#   make check-bad-inputs-c                           every function of the header, bad inputs
#   make check-bad-inputs-c BAD_INPUTS_ARGS="--filter model_load --verbose"
#
# scripts/gen_bad_inputs.py reads $(HEADER) and writes a C program (from the template
# scripts/bad_inputs_sweep.c.in) that calls every scnn_* function with bad arguments, one
# at a time, each call in a forked child: crashes, hangs (over 10 s), error statuses without
# a message, non-finite results from finite arguments and path aliasing are failures. The
# program prints a table per function and ends with "N passed, N failed[, N skipped]".
# The generator's self-test (a made-up function must be covered by default) runs first.

BAD_INPUTS_DIR  := $(OUT)/bad_inputs
BAD_INPUTS_GEN  := scripts/gen_bad_inputs.py scripts/bad_inputs_sweep.c.in
BAD_INPUTS_ARGS ?=

.PHONY: check-bad-inputs-c bad-inputs-c-selftest

bad-inputs-c-selftest:
	$(PYTHON) scripts/gen_bad_inputs.py --selftest

$(BAD_INPUTS_DIR)/sweep_c.c: $(BAD_INPUTS_GEN) $(HEADER) | bad-inputs-c-selftest
	@mkdir -p $(BAD_INPUTS_DIR)
	$(PYTHON) scripts/gen_bad_inputs.py $(HEADER) -o $@

$(BAD_INPUTS_DIR)/sweep_c: $(BAD_INPUTS_DIR)/sweep_c.c $(HEADER) $(LIB)
	$(CC) -std=c99 $(CWARN) -IInclude $< -o $@ -L$(BUILD_DIR) -lswiftcnn $(RPATH) -lm

check-bad-inputs-c: bad-inputs-c-selftest $(BAD_INPUTS_DIR)/sweep_c
	$(BAD_INPUTS_DIR)/sweep_c $(BAD_INPUTS_ARGS)
