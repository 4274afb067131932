# The structured system-call fuzzer (user/apps/scfuzz) as the root task of
# its own boot module, with the kernel's invariant checks on ("checkinv").
# See docs/testing.md ("The system-call fuzzer").
#
#   make test-kfuzz                  group kfuzz: bounded runs on 2 and 4 CPUs, and the
#                                    runner's self-test (a deliberate leak must fail)
#   make fuzz-kernel                 a random seed for FUZZ_SECONDS on KFUZZ_SMP (2) CPUs
#   make fuzz-kernel SEED=N          replay seed N: 1 CPU under -icount, deterministic
#   make fuzz-kernel FUZZ_CALLS=N    N calls (with SEED=N as well: that many calls of that seed)
#
# Each run gets its boot module: the fuzzer as /init and scfuzz.args (its
# seed, calls, round size, time limit) under build/kfuzz/NAME/.

KFUZZ_B := $(B)/kfuzz
SCFUZZ_SRCS := $(sort $(wildcard user/apps/scfuzz/*.c))
# Linked in mk/user.mk, which is read after this file.
SCFUZZ := $(B)/user/scfuzz
ALL_TARGETS += $(SCFUZZ)

# $(call kfuzz_initrd,NAME,ARGS): build/kfuzz/NAME.cpio with /init and scfuzz.args.
define kfuzz_initrd
	@rm -rf $(KFUZZ_B)/$(1) && mkdir -p $(KFUZZ_B)/$(1)
	@cp $(SCFUZZ) $(KFUZZ_B)/$(1)/init && echo "$(2)" > $(KFUZZ_B)/$(1)/scfuzz.args
	@cd $(KFUZZ_B)/$(1) && find * | LC_ALL=C sort | cpio -o -H newc --quiet > ../$(1).cpio
endef

# Bounded runs for make test: about 2 minutes of wall time for both under TCG on the 2-core build host
# (load 11); the time limits leave room for a slower host.
KFUZZ_SEED2 ?= 20261206
KFUZZ_SEED4 ?= 4242
KFUZZ_CALLS2 ?= 60000
KFUZZ_CALLS4 ?= 40000
KRUN = python3 tools/qemu_run.py --tap $(RESULTS)/kfuzz.tap --expect '^\# scfuzz: [0-9]+ calls'

TEST_GROUPS += kfuzz
.PHONY: test-kfuzz fuzz-kernel kfuzz-run
test-kfuzz: $(KERNEL) $(SCFUZZ)
	@mkdir -p $(RESULTS)
	$(call kfuzz_initrd,smp2,seed=$(KFUZZ_SEED2) calls=$(KFUZZ_CALLS2))
	$(call kfuzz_initrd,smp4,seed=$(KFUZZ_SEED4) calls=$(KFUZZ_CALLS4))
	$(call kfuzz_initrd,leak,seed=1 calls=2000 round=1000 leak)
	-$(KRUN) --name kfuzz-smp2 --smp 2 --initrd $(KFUZZ_B)/smp2.cpio --append "test-exit checkinv" --timeout 420
	-$(KRUN) --name kfuzz-smp4 --smp 4 --mem 512M --initrd $(KFUZZ_B)/smp4.cpio --append "test-exit checkinv" \
		--timeout 420
	-$(KRUN) --name kfuzz-leak-detected --smp 2 --initrd $(KFUZZ_B)/leak.cpio --append "test-exit checkinv" \
		--timeout 120 --want fail --expect '^\# scfuzz: round 1: leak: '
	@grep -h 'calls/s' $(RESULTS)/logs/kfuzz-smp2.log $(RESULTS)/logs/kfuzz-smp4.log 2>/dev/null | sed 's/^\[[ 0-9.]*\] //' || true

FUZZ_STEPS += kernel
FUZZ_CALLS ?= 1000000000
KFUZZ_SMP ?= $(if $(SEED),1,2)
fuzz-kernel: $(KERNEL) $(SCFUZZ)
	@mkdir -p $(RESULTS)
	@seed=$${SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}; \
	secs=$(if $(filter command line,$(origin FUZZ_CALLS)),0,$(FUZZ_SECONDS)); \
	$(MAKE) --no-print-directory kfuzz-run KFUZZ_ARGS="seed=$$seed calls=$(FUZZ_CALLS) secs=$$secs" \
		KFUZZ_TIMEOUT=$$(( secs ? secs + 300 : 86400 ))
# Several runs at once need names of their own (KFUZZ_NAME=...).
KFUZZ_NAME ?= run
kfuzz-run:
	$(call kfuzz_initrd,$(KFUZZ_NAME),$(KFUZZ_ARGS))
	python3 tools/qemu_run.py --name kfuzz-$(KFUZZ_NAME) --smp $(KFUZZ_SMP) --mem 512M \
		--initrd $(KFUZZ_B)/$(KFUZZ_NAME).cpio --append "test-exit checkinv" --timeout $(KFUZZ_TIMEOUT) \
		$(if $(filter 1,$(KFUZZ_SMP)),--icount) --expect '^\# scfuzz: [0-9]+ calls'
	@grep -h 'scfuzz' $(RESULTS)/logs/kfuzz-$(KFUZZ_NAME).log | grep -v 'calls (ok)' | sed 's/^\[[ 0-9.]*\] //' | head -20
