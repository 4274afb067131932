# One rule for every libFuzzer target (issue 11): same options, same
# corpus layout, one time budget. A fragment declares its fuzzers:
#
#   FUZZ_GROUPS += G
#   FUZZ_G := T...                 the group's targets
#   FUZZ_BIN_G := PATTERN          the binaries, % standing for T (or FUZZ_BIN_G_T := BINARY),
#                                  built by the fragment's own rule
# and may set
#   FUZZ_DIR_G := D                its folder under tests/fuzz/ (default G)
#   FUZZ_SEEDS_G_T := DIR          seeds (default tests/fuzz/D/corpus/T, when it exists)
#   FUZZ_OPTS_G_T := OPTIONS       libFuzzer options of its own (-max_len=, -dict=)
#   FUZZ_TEST_SECONDS_G := S       each target's time in make test (default FUZZ_TEST_SECONDS)
#   FUZZ_DEPS_G := FILES           more prerequisites (generated seeds)
#   FUZZ_PRE_G := SHELL;           run first by test-G-fuzz, appending TAP lines to $$tap
#
# and gets (the rule is instantiated at the end of the top Makefile):
#   make test-G-fuzz   group G-fuzz of make test: each target FUZZ_TEST_SECONDS_G s,
#                      $(RESULTS)/G-fuzz.tap ("ok - G-fuzz.T (S s, Done N runs)")
#   make fuzz-G        each target FUZZ_SECONDS s, $(FUZZ_B)/G.tap; fails if one found
#                      something; FUZZ_ONLY=T runs that target alone
#   make fuzz          every group (FUZZ_STEPS)
#
# Every run: tools/fuzz_run.sh, -timeout=10 -rss_limit_mb=2048, new inputs
# in $(FUZZ_B)/G/T/corpus (never into the committed seeds), crash inputs
# $(FUZZ_B)/G/T/crash-*, the fuzzer's output $(FUZZ_B)/G/T/log.

FUZZ_B := $(B)/fuzz
FUZZ_TEST_SECONDS ?= 4


fuzz_seeds = $(or $(FUZZ_SEEDS_$(1)_$(2)),$(wildcard tests/fuzz/$(or $(FUZZ_DIR_$(1)),$(1))/corpus/$(2)),-)
fuzz_bin = $(or $(FUZZ_BIN_$(1)_$(2)),$(subst %,$(2),$(FUZZ_BIN_$(1))))
fuzz_bins = $(foreach t,$(FUZZ_$(1)),$(call fuzz_bin,$(1),$(t)))
fuzz_targets = $(if $(FUZZ_ONLY),$(filter $(FUZZ_ONLY),$(FUZZ_$(1))),$(FUZZ_$(1)))

# $(call fuzz_cmd,G,T,SECONDS): one target's run, its TAP line to $tap.
fuzz_cmd = bash tools/fuzz_run.sh $$tap $(1)-fuzz.$(2) $(call fuzz_bin,$(1),$(2)) $(3) \
	$(FUZZ_B)/$(1)/$(2) $(call fuzz_seeds,$(1),$(2)) $(FUZZ_OPTS_$(1)_$(2))

# $(call fuzz_recipe,G,SECONDS,TAP,MODE): MODE test records the verdicts
# (make test reads the TAP), long fails when any target failed.
fuzz_recipe = @tap=$(3); mkdir -p $(dir $(3)); : > $$tap; rc=0; \
	$(if $(filter test,$(4)),$(FUZZ_PRE_$(1))) \
	$(if $(call fuzz_targets,$(1)),,echo "not ok - $(1)-fuzz: no target $(FUZZ_ONLY)" >> $$tap; rc=1;) \
	$(foreach t,$(call fuzz_targets,$(1)),$(call fuzz_cmd,$(1),$(t),$(2)) || rc=1;) \
	cat $$tap; $(if $(filter test,$(4)),true,exit $$rc)

define fuzz_group
TEST_GROUPS += $(1)-fuzz
FUZZ_STEPS += $(1)
.PHONY: test-$(1)-fuzz fuzz-$(1)
test-$(1)-fuzz: $(call fuzz_bins,$(1)) $(FUZZ_DEPS_$(1)) tools/fuzz_run.sh
	$$(call fuzz_recipe,$(1),$(or $(FUZZ_TEST_SECONDS_$(1)),$(FUZZ_TEST_SECONDS)),$$(RESULTS)/$(1)-fuzz.tap,test)
fuzz-$(1): $(call fuzz_bins,$(1)) $(FUZZ_DEPS_$(1)) tools/fuzz_run.sh
	$$(call fuzz_recipe,$(1),$$(FUZZ_SECONDS),$(FUZZ_B)/$(1).tap,long)
endef
