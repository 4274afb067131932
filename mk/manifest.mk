# The system manifest parser (lib/manifest.c): host unit tests under
# ASan+UBSan and a libFuzzer target (tests/host/manifest, tests/fuzz/manifest).
#
#   make test-manifest-host   unit tests                 -> $(RESULTS)/manifest-host.tap
#   make test-manifest-fuzz   the fuzzer for 5 s          -> $(RESULTS)/manifest-fuzz.tap
#   make fuzz-manifest        the fuzzer for FUZZ_SECONDS

MANIFEST_B := $(B)/manifest
MANIFEST_SRCS := lib/manifest.c lib/manifest_keys.c lib/manifest_windows.c
MANIFEST_HDRS := include/lib/manifest.h lib/manifest_int.h include/uapi/hallows/ring.h
MANIFEST_CORPUS := tests/fuzz/manifest/corpus
MANIFEST_FUZZ_TIME ?= 5

TEST_GROUPS += manifest-host manifest-fuzz
FUZZ_STEPS += manifest
.PHONY: test-manifest-host test-manifest-fuzz fuzz-manifest

# lib/string.c is never linked on the host (libc's routines stand in, see tests/host/README.md);
# libc's snprintf stands in for lib/fmt.c's.
$(MANIFEST_B)/manifest_test: tests/host/manifest/manifest_test.c tests/host/kernel/ktharness.c $(MANIFEST_SRCS) \
		$(MANIFEST_HDRS) tests/host/kernel/ktharness.h
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_SAN) -Itests/host/kernel -o $@ $(filter %.c,$^)

$(MANIFEST_B)/manifest_fuzz: tests/fuzz/manifest/manifest_fuzz.c $(MANIFEST_SRCS) $(MANIFEST_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Wall -Wextra -Werror -o $@ $(filter %.c,$^)

test-manifest-host: $(MANIFEST_B)/manifest_test
	@mkdir -p $(RESULTS)
	@bash tests/host/kernel/run.sh $(RESULTS)/manifest-host.tap $(MANIFEST_B)/logs $(MANIFEST_B)/manifest_test

# Fuzz on a scratch corpus in build/ seeded from the committed one. With
# MANIFEST_FUZZ_TAP set, record the verdict there (and exit 0) instead of failing.
fuzz-manifest:
	@mkdir -p $(MANIFEST_B)/corpus $(MANIFEST_B)/artifacts; tap="$(MANIFEST_FUZZ_TAP)"; \
	if ! $(MAKE) --no-print-directory $(MANIFEST_B)/manifest_fuzz > $(MANIFEST_B)/fuzz-build.log 2>&1; then \
		cat $(MANIFEST_B)/fuzz-build.log; \
		if [ -n "$$tap" ]; then echo "not ok - manifest_fuzz_build" >> "$$tap"; exit 0; fi; \
		exit 1; \
	fi; \
	./$(MANIFEST_B)/manifest_fuzz -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=1024 \
		-max_len=8192 -dict=tests/fuzz/manifest/manifest.dict -artifact_prefix=$(MANIFEST_B)/artifacts/ \
		$(MANIFEST_B)/corpus $(MANIFEST_CORPUS) > $(MANIFEST_B)/fuzz.log 2>&1; rc=$$?; \
	grep -E '^#[0-9]+[[:space:]]+DONE|ERROR|SUMMARY' $(MANIFEST_B)/fuzz.log | tail -n 3; \
	if [ -n "$$tap" ]; then \
		if [ $$rc = 0 ]; then echo "ok - manifest_fuzz_$(FUZZ_SECONDS)s" >> "$$tap"; \
		else echo "not ok - manifest_fuzz_$(FUZZ_SECONDS)s (exit $$rc, see $(MANIFEST_B)/fuzz.log)" \
			>> "$$tap"; fi; \
		exit 0; \
	fi; \
	exit $$rc

test-manifest-fuzz:
	@mkdir -p $(RESULTS) $(MANIFEST_B); : > $(RESULTS)/manifest-fuzz.tap
	@$(MAKE) --no-print-directory fuzz-manifest FUZZ_SECONDS=$(MANIFEST_FUZZ_TIME) \
		MANIFEST_FUZZ_TAP=$(RESULTS)/manifest-fuzz.tap
	@cat $(RESULTS)/manifest-fuzz.tap
