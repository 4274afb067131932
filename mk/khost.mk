# Host unit tests and libFuzzer targets for the pure kernel logic that is
# compiled both into the kernel and on Linux (tests/host/kernel, tests/fuzz/kernel).
#
#   make test-khost        unit tests under ASan+UBSan -> $(RESULTS)/khost.tap
#   make test-khost-fuzz   each fuzzer for 5 s         -> $(RESULTS)/khost-fuzz.tap
#   make fuzz-khost [FUZZ_ONLY=cpio|bootinfo|elf]   (FUZZ_SECONDS long; mk/fuzz.mk)
#   make fuzz-seeds-khost  regenerate the committed seed corpora

KHOST_DIR := $(B)/khost
KHOST_SRC := tests/host/kernel
KHOST_FUZZ_SRC := tests/fuzz/kernel
KHOST_HARNESS := $(KHOST_SRC)/ktharness.c

# Each test binary: its test file, the harness, and the kernel sources under test.
KHOST_TESTS := memmap frames paging bootinfo cmdline cpio fmt elf string timeq
KHOST_memmap_SRCS := kernel/memmap.c
KHOST_frames_SRCS := kernel/frames.c
KHOST_paging_SRCS := arch/x86_64/paging.c
KHOST_bootinfo_SRCS := arch/x86_64/bootinfo.c $(KHOST_SRC)/images.c $(KHOST_SRC)/host_strlcpy.c
KHOST_cmdline_SRCS := arch/x86_64/bootinfo.c $(KHOST_SRC)/host_strlcpy.c
KHOST_cpio_SRCS := lib/cpio.c $(KHOST_SRC)/images.c
KHOST_fmt_SRCS := lib/fmt.c
KHOST_elf_SRCS := lib/elf.c $(KHOST_SRC)/images.c
KHOST_string_SRCS := lib/string.c
KHOST_timeq_SRCS := kernel/timeq.c

KHOST_BINS := $(KHOST_TESTS:%=$(KHOST_DIR)/%_test)
KHOST_CFLAGS := $(HOST_CFLAGS) $(HOST_SAN) -MMD -MP

# lib/fmt.c defines vsnprintf/snprintf: rename them so libc's stay usable as the reference.
$(KHOST_DIR)/obj/lib/fmt.o: KHOST_EXTRA := -fno-builtin -Dvsnprintf=hl_vsnprintf -Dsnprintf=hl_snprintf
# lib/string.c under hl_ names beside libc's (tests/host/kernel/string_test.c).
$(KHOST_DIR)/obj/lib/string.o: KHOST_EXTRA := -fno-builtin $(foreach f,memcpy memmove memset memcmp strlen strnlen strcmp strncmp strchr strlcpy,-D$(f)=hl_$(f))

$(KHOST_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(HOST_CC) $(KHOST_CFLAGS) $(KHOST_EXTRA) -c $< -o $@

define khost_test_rule
$(KHOST_DIR)/$(1)_test: $(KHOST_DIR)/obj/$(KHOST_SRC)/$(1)_test.o $(KHOST_DIR)/obj/$(KHOST_HARNESS:.c=.o) \
		$(patsubst %.c,$(KHOST_DIR)/obj/%.o,$(KHOST_$(1)_SRCS))
	$$(HOST_CC) $$(HOST_SAN) $$^ -o $$@
endef
$(foreach t,$(KHOST_TESTS),$(eval $(call khost_test_rule,$(t))))

-include $(shell find $(KHOST_DIR)/obj -name '*.d' 2>/dev/null)

.PHONY: test-khost
TEST_GROUPS += khost

test-khost: $(KHOST_BINS)
	@mkdir -p $(RESULTS)
	@bash $(KHOST_SRC)/run.sh $(RESULTS)/khost.tap $(KHOST_DIR)/logs $(KHOST_BINS)

# Fuzzers: clang + libFuzzer, the kernel parser compiled in with the target.
KHOST_FUZZERS := cpio bootinfo elf
KHOST_cpio_FUZZ_SRCS := lib/cpio.c
KHOST_bootinfo_FUZZ_SRCS := arch/x86_64/bootinfo.c kernel/memmap.c $(KHOST_SRC)/host_strlcpy.c
KHOST_elf_FUZZ_SRCS := lib/elf.c

define khost_fuzz_rule
$(KHOST_DIR)/fuzz/$(1)_fuzz: $(KHOST_FUZZ_SRC)/$(1)_fuzz.c $(KHOST_$(1)_FUZZ_SRCS)
	@mkdir -p $$(dir $$@)
	$$(FUZZ_CC) $$(FUZZ_CFLAGS) -I$(KHOST_SRC) $$^ -o $$@
endef
$(foreach f,$(KHOST_FUZZERS),$(eval $(call khost_fuzz_rule,$(f))))

# Run by the one fuzz rule (mk/fuzz.mk); a crash on a regress_* seed is a
# known bug come back (tests/host/README.md).
FUZZ_GROUPS += khost
FUZZ_khost := $(KHOST_FUZZERS)
FUZZ_BIN_khost := $(KHOST_DIR)/fuzz/%_fuzz
FUZZ_DIR_khost := kernel
FUZZ_TEST_SECONDS_khost ?= 5
FUZZ_SEEDGEN_khost = mkdir -p $(addprefix $(1)/,$(KHOST_FUZZERS)) && $(KHOST_DIR)/mkseeds $(1)
FUZZ_SEEDGEN_DEPS_khost := $(KHOST_DIR)/mkseeds
FUZZ_SEEDCHECK_khost := yes

# Seeds are generated from valid images by a small program; the output is committed.
$(KHOST_DIR)/mkseeds: $(KHOST_FUZZ_SRC)/mkseeds.c $(KHOST_SRC)/images.c $(KHOST_SRC)/images.h
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_SAN) -I$(KHOST_SRC) $(KHOST_FUZZ_SRC)/mkseeds.c $(KHOST_SRC)/images.c -o $@
