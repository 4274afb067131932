# ACPI table parser (arch/x86_64/acpi.c, acpi_aml.c): host unit tests, a
# freestanding build check, and a libFuzzer target with a committed corpus.
#
#   make test-acpi-host   unit tests, QEMU's real tables (pc, q35), kernel-flags
#                         compile check                           -> acpi-host.tap
#   make test-acpi-fuzz   seed corpus check + ~5 s of fuzzing     -> acpi-fuzz.tap
#   make fuzz-acpi        fuzz for $(FUZZ_SECONDS) seconds
#   make fuzz-seeds-acpi  regenerate tests/fuzz/acpi/corpus/acpi from the test images
#   (the fuzz targets: the one rule of mk/fuzz.mk)

ACPI_B := $(B)/acpi
ACPI_SRCS := arch/x86_64/acpi.c arch/x86_64/acpi_aml.c
ACPI_HDRS := include/arch/acpi.h arch/x86_64/acpi_aml.h
ACPI_IMG := tests/host/acpi/acpi_images.c
ACPI_IMG_H := tests/host/acpi/acpi_images.h
# The flags the kernel uses, to prove the parser stays freestanding.
ACPI_KFLAGS := -std=c11 -ffreestanding -fno-pic -mno-red-zone -mcmodel=kernel -mno-sse \
	-mno-sse2 -mno-mmx -mno-80387 -O2 -Wall -Wextra -Werror -Iinclude

TEST_GROUPS += acpi-host
FUZZ_GROUPS += acpi
FUZZ_acpi := acpi
FUZZ_BIN_acpi := $(ACPI_B)/acpi_fuzz
FUZZ_OPTS_acpi_acpi := -max_len=65536
FUZZ_TEST_SECONDS_acpi ?= 5
# The committed seeds are what acpi_gen_seeds makes from the unit tests' images.
FUZZ_SEEDGEN_acpi = mkdir -p $(1)/acpi && $(ACPI_B)/acpi_gen_seeds $(1)/acpi
FUZZ_SEEDGEN_DEPS_acpi := $(ACPI_B)/acpi_gen_seeds
FUZZ_SEEDCHECK_acpi := yes

.PHONY: test-acpi-host

$(ACPI_B)/acpi_test: tests/host/acpi/acpi_test.c $(ACPI_IMG) $(ACPI_IMG_H) $(ACPI_SRCS) $(ACPI_HDRS) \
		tests/host/kernel/ktharness.c tests/host/kernel/ktharness.h
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_SAN) -Itests/host/kernel -o $@ tests/host/acpi/acpi_test.c \
		tests/host/kernel/ktharness.c $(ACPI_IMG) $(ACPI_SRCS)

$(ACPI_B)/acpi_dump: tests/host/acpi/acpi_dump.c $(ACPI_IMG) $(ACPI_IMG_H) $(ACPI_SRCS) $(ACPI_HDRS)
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_SAN) -Iinclude -o $@ tests/host/acpi/acpi_dump.c \
		$(ACPI_IMG) $(ACPI_SRCS)

$(ACPI_B)/acpi_fuzz: tests/fuzz/acpi/acpi_fuzz.c $(ACPI_SRCS) $(ACPI_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Wall -Wextra -Werror -o $@ tests/fuzz/acpi/acpi_fuzz.c $(ACPI_SRCS)

$(ACPI_B)/acpi_gen_seeds: tests/fuzz/acpi/acpi_gen_seeds.c $(ACPI_IMG) $(ACPI_IMG_H)
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) -Itests/host/acpi -o $@ tests/fuzz/acpi/acpi_gen_seeds.c $(ACPI_IMG)

# One TAP line per compiler: the kernel flags build cleanly and the objects
# need nothing beyond the mem* routines every freestanding C build must supply.
define acpi_kcheck
	@o=$(ACPI_B)/kcheck-$(1); rm -rf $$o; mkdir -p $$o; ok=1; \
	for s in $(ACPI_SRCS); do \
		$(1) $(ACPI_KFLAGS) -c $$s -o $$o/$$(basename $$s .c).o 2>>$$o/log || ok=0; \
	done; \
	undef=$$(nm -u $$o/*.o 2>/dev/null | awk '{print $$2}' | \
		grep -v -x -e memset -e memcpy -e memmove -e memcmp -e acpi_aml_find_s5 | sort -u); \
	if [ $$ok = 1 ] && [ -z "$$undef" ]; then echo "ok - acpi_kernel_build_$(1)"; \
	else echo "not ok - acpi_kernel_build_$(1) (see $$o/log; undefined: $$undef)"; fi \
		>> $(RESULTS)/acpi-host.tap
endef

test-acpi-host:
	@mkdir -p $(RESULTS) $(ACPI_B); : > $(RESULTS)/acpi-host.tap
	@if $(MAKE) --no-print-directory $(ACPI_B)/acpi_test > $(ACPI_B)/build.log 2>&1; then \
		./$(ACPI_B)/acpi_test > $(ACPI_B)/acpi_test.tap 2> $(ACPI_B)/acpi_test.err; rc=$$?; \
		cat $(ACPI_B)/acpi_test.tap >> $(RESULTS)/acpi-host.tap; \
		plan=$$(sed -n 's/^1\.\.\([0-9]*\)$$/\1/p' $(ACPI_B)/acpi_test.tap); \
		done=$$(grep -c -E '^(ok|not ok) ' $(ACPI_B)/acpi_test.tap); \
		nfail=$$(grep -c '^not ok ' $(ACPI_B)/acpi_test.tap); \
		if [ "$$done" != "$${plan:-none}" ] || { [ $$rc != 0 ] && [ $$nfail = 0 ]; }; then \
			echo "not ok - acpi_host_binary exit $$rc after $$done of $${plan:-?} cases (see $(ACPI_B)/acpi_test.err)" \
				>> $(RESULTS)/acpi-host.tap; fi; \
	else cat $(ACPI_B)/build.log; echo "not ok - acpi_host_build" >> $(RESULTS)/acpi-host.tap; fi
	@if $(MAKE) --no-print-directory $(ACPI_B)/acpi_dump > $(ACPI_B)/dump-build.log 2>&1; then \
		python3 tests/host/acpi/qemu_tables.py $(ACPI_B)/acpi_dump $(ACPI_B) \
			>> $(RESULTS)/acpi-host.tap || echo "not ok - acpi_qemu_tables_script" \
			>> $(RESULTS)/acpi-host.tap; \
	else cat $(ACPI_B)/dump-build.log; echo "not ok - acpi_dump_build" >> $(RESULTS)/acpi-host.tap; fi
	$(call acpi_kcheck,gcc)
	$(call acpi_kcheck,clang)
	@echo "acpi-host: $$(grep -c '^ok' $(RESULTS)/acpi-host.tap) ok, $$(grep -c '^not ok' $(RESULTS)/acpi-host.tap) not ok"
