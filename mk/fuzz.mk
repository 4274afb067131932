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
#   FUZZ_SEEDGEN_G = COMMAND       writes the seeds under the corpus folder $(1) (T/ for
#                                  each target); FUZZ_SEEDGEN_DEPS_G: what it needs built
#   FUZZ_SEEDCHECK_G := yes        test-G-fuzz first checks that every seed the generator
#                                  makes is committed, byte for byte (G-fuzz.seeds_match_generator;
#                                  seeds added by hand, regress_* inputs, may sit beside them)
#
# and gets (the rule is instantiated at the end of the top Makefile):
#   make test-G-fuzz   group G-fuzz of make test: each target FUZZ_TEST_SECONDS_G s,
#                      $(RESULTS)/G-fuzz.tap ("ok - G-fuzz.T (S s, Done N runs)")
#   make fuzz-G        each target FUZZ_SECONDS s, $(FUZZ_B)/G.tap; fails if one found
#                      something; FUZZ_ONLY=T runs that target alone
#   make fuzz          every group (FUZZ_STEPS)
#   make fuzz-seeds-G  regenerate tests/fuzz/D/corpus/ (groups with a generator)
#
# Every run: tools/fuzz_run.sh, -timeout=10 -rss_limit_mb=2048, new inputs
# in $(FUZZ_B)/G/T/corpus (never into the committed seeds), crash inputs
# $(FUZZ_B)/G/T/crash-*, the fuzzer's output $(FUZZ_B)/G/T/log.

FUZZ_B := $(B)/fuzz
FUZZ_TEST_SECONDS ?= 4
# Targets of a group run this many at a time (libFuzzer is single-threaded:
# each still gets its whole time on a CPU of its own on the 2-core reference
# machine); each writes its TAP line to a file of its own, gathered in order.
FUZZ_JOBS ?= 2


fuzz_seeds = $(or $(FUZZ_SEEDS_$(1)_$(2)),$(wildcard tests/fuzz/$(or $(FUZZ_DIR_$(1)),$(1))/corpus/$(2)),-)
fuzz_bin = $(or $(FUZZ_BIN_$(1)_$(2)),$(subst %,$(2),$(FUZZ_BIN_$(1))))
fuzz_bins = $(foreach t,$(FUZZ_$(1)),$(call fuzz_bin,$(1),$(t)))
fuzz_targets = $(if $(FUZZ_ONLY),$(filter $(FUZZ_ONLY),$(FUZZ_$(1))),$(FUZZ_$(1)))

# $(call fuzz_cmd,G,T,SECONDS): one target's run, its TAP line to $fz/T.
fuzz_cmd = bash tools/fuzz_run.sh $$fz/$(2) $(1)-fuzz.$(2) $(call fuzz_bin,$(1),$(2)) $(3) \
	$(FUZZ_B)/$(1)/$(2) $(call fuzz_seeds,$(1),$(2)) $(FUZZ_OPTS_$(1)_$(2))

fuzz_corpus = tests/fuzz/$(or $(FUZZ_DIR_$(1)),$(1))/corpus

# $(call fuzz_seedcheck,G): the generator's output, made afresh, against the committed seeds.
fuzz_seedcheck = w=$(FUZZ_B)/$(1)/seeds; rm -rf $$w; mkdir -p $$w; \
	if { $(call FUZZ_SEEDGEN_$(1),$$w) && (cd $$w && find . -type f) | sort | \
	     while read -r f; do cmp $$w/$$f $(call fuzz_corpus,$(1))/$$f || exit 1; done; } \
	     > $(FUZZ_B)/$(1)/seeds.log 2>&1; \
	then echo "ok - $(1)-fuzz.seeds_match_generator"; \
	else echo "not ok - $(1)-fuzz.seeds_match_generator (see $(FUZZ_B)/$(1)/seeds.log)"; fi >> $$tap;

# $(call fuzz_recipe,G,SECONDS,TAP,MODE): MODE test records the verdicts
# (make test reads the TAP), long fails when any target failed.
fuzz_recipe = @tap=$(3); mkdir -p $(dir $(3)); : > $$tap; rc=0; \
	$(if $(filter test,$(4)),$(if $(FUZZ_SEEDCHECK_$(1)),$(call fuzz_seedcheck,$(1)))) \
	$(if $(call fuzz_targets,$(1)),,echo "not ok - $(1)-fuzz: no target $(FUZZ_ONLY)" >> $$tap; rc=1;) \
	fz=$$tap.d; rm -rf $$fz; mkdir -p $$fz; n=0; \
	$(foreach t,$(call fuzz_targets,$(1)),{ $(call fuzz_cmd,$(1),$(t),$(2)) || echo $(t) >> $$fz/failed; } & \
		n=$$((n + 1)); if [ $$n -ge $(FUZZ_JOBS) ]; then wait -n; n=$$((n - 1)); fi;) \
	wait; $(foreach t,$(call fuzz_targets,$(1)),{ cat $$fz/$(t) || echo "not ok - $(1)-fuzz.$(t) (no result)"; } >> $$tap;) [ -s $$fz/failed ] && rc=1; \
	cat $$tap; $(if $(filter test,$(4)),true,exit $$rc)

define fuzz_group
TEST_GROUPS += $(1)-fuzz
FUZZ_STEPS += $(1)
.PHONY: test-$(1)-fuzz fuzz-$(1)
test-$(1)-fuzz: $(call fuzz_bins,$(1)) $(FUZZ_DEPS_$(1)) tools/fuzz_run.sh \
		$(if $(FUZZ_SEEDCHECK_$(1)),$(FUZZ_SEEDGEN_DEPS_$(1)))
	$$(call fuzz_recipe,$(1),$(or $(FUZZ_TEST_SECONDS_$(1)),$(FUZZ_TEST_SECONDS)),$$(RESULTS)/$(1)-fuzz.tap,test)
fuzz-$(1): $(call fuzz_bins,$(1)) $(FUZZ_DEPS_$(1)) tools/fuzz_run.sh
	$$(call fuzz_recipe,$(1),$$(FUZZ_SECONDS),$(FUZZ_B)/$(1).tap,long)
$(if $(value FUZZ_SEEDGEN_$(1)),$(call fuzz_seedgen_rule,$(1)))
endef

define fuzz_seedgen_rule
.PHONY: fuzz-seeds-$(1)
fuzz-seeds-$(1): $(FUZZ_SEEDGEN_DEPS_$(1))
	mkdir -p $(call fuzz_corpus,$(1))
	$$(call FUZZ_SEEDGEN_$(1),$(call fuzz_corpus,$(1)))
endef

# The rule's own check: a target that crashes on its seed must come out
# "not ok" (and fuzz_run.sh exit 1), or every real finding would be hidden.
$(FUZZ_B)/rule/crash_fuzz: tests/fuzz/rule/crash_fuzz.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $< -o $@

TEST_GROUPS += fuzz-rule
.PHONY: test-fuzz-rule
test-fuzz-rule: $(FUZZ_B)/rule/crash_fuzz tools/fuzz_run.sh
	@mkdir -p $(RESULTS); rm -rf $(FUZZ_B)/rule/crash; tap=$(FUZZ_B)/rule/crash.tap; : > $$tap; \
	bash tools/fuzz_run.sh $$tap crash $< 2 $(FUZZ_B)/rule/crash tests/fuzz/rule/corpus/crash; rc=$$?; \
	if [ $$rc = 1 ] && grep -q '^not ok - crash (exit' $$tap && ls $(FUZZ_B)/rule/crash/crash-* > /dev/null 2>&1; \
	then echo "ok - fuzz-rule.a_crashing_target_is_not_ok"; \
	else echo "not ok - fuzz-rule.a_crashing_target_is_not_ok (exit $$rc, see $$tap)"; fi > $(RESULTS)/fuzz-rule.tap
	@cat $(RESULTS)/fuzz-rule.tap
