# The system manifest parser (lib/manifest.c): host unit tests under
# ASan+UBSan and a libFuzzer target (tests/host/manifest, tests/fuzz/manifest).
#
#   make test-manifest-host   unit tests                 -> $(RESULTS)/manifest-host.tap
#   make test-manifest-fuzz   the fuzzer for 5 s          -> $(RESULTS)/manifest-fuzz.tap
#   make fuzz-manifest        the fuzzer for FUZZ_SECONDS

MANIFEST_B := $(B)/manifest
MANIFEST_SRCS := lib/manifest.c lib/manifest_keys.c lib/manifest_windows.c
MANIFEST_HDRS := include/lib/manifest.h lib/manifest_int.h include/uapi/hallows/ring.h

TEST_GROUPS += manifest-host
.PHONY: test-manifest-host

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

# Run by the one fuzz rule (mk/fuzz.mk): test-manifest-fuzz, fuzz-manifest.
FUZZ_GROUPS += manifest
FUZZ_manifest := manifest
FUZZ_BIN_manifest := $(MANIFEST_B)/manifest_fuzz
FUZZ_OPTS_manifest_manifest := -max_len=8192 -dict=tests/fuzz/manifest/manifest.dict
FUZZ_TEST_SECONDS_manifest ?= 5
