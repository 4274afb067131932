# The Linux personality (user/linux, docs/linux.md): a server that runs
# static x86-64 Linux binaries, its test programs (tests/linux, built with
# musl-gcc -static) and the differential test against the host.
#
#   make linux-run         boot the personality by hand (LINUX_RUN=file of commands)
#   make test-linux        ring-3 and differential tests -> build/results/linux.tap

.SECONDEXPANSION:
LX_SRCS := user/linux/main.c user/linux/sys.c user/linux/mm.c user/linux/exec.c user/linux/fs.c
LX_DIR := $(B)/linux
LX_TESTS := $(patsubst tests/linux/%.c,$(LX_DIR)/bin/%,$(sort $(wildcard tests/linux/*.c)))
LX_CC ?= musl-gcc
LX_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -static -Wall -Wextra -Werror -fno-stack-protector

$(B)/user/linux: $$(RT_OBJS) $(LX_SRCS:%.c=$(B)/user/%.o) $(B)/user/lib/cpio.o user/rt/user.ld
	$(UCC) $(ULDFLAGS) $(filter %.o,$^) -o $@

$(LX_DIR)/bin/%: tests/linux/%.c
	@mkdir -p $(@D)
	$(LX_CC) $(LX_CFLAGS) -o $@ $<

# The boot module: the server as init, the test programs and busybox under
# bin/, the files of tests/linux/root, and the command list etc/linux-run.
LX_RUN ?= tests/linux/run-tests
LX_NAME := $(notdir $(LX_RUN))
LX_ROOT := $(LX_DIR)/root-$(LX_NAME)
LX_INITRD := $(LX_DIR)/initrd-$(LX_NAME).cpio
$(LX_INITRD): $(B)/user/linux $(LX_TESTS) $(LX_RUN) $(shell find tests/linux/root -type f) /bin/busybox
	@rm -rf $(LX_ROOT) && mkdir -p $(LX_ROOT)/bin $(LX_ROOT)/etc
	cp -r tests/linux/root/. $(LX_ROOT)/
	cp $(B)/user/linux $(LX_ROOT)/init
	cp $(LX_TESTS) /bin/busybox $(LX_ROOT)/bin/
	cp $(LX_RUN) $(LX_ROOT)/etc/linux-run
	cd $(LX_ROOT) && find * | LC_ALL=C sort | cpio -o -H newc --quiet > $(abspath $@)

ALL_TARGETS += $(B)/user/linux $(LX_TESTS)

.PHONY: linux-run test-linux
# By hand: `make linux-run [LINUX_RUN=file-of-commands]` (default tests/linux/run-demo).
LINUX_RUN ?= tests/linux/run-demo
linux-run: $(KERNEL)
	$(MAKE) --no-print-directory LX_RUN=$(LINUX_RUN) $(LX_DIR)/initrd-$(notdir $(LINUX_RUN)).cpio
	$(QEMU) $(QEMU_RUN_FLAGS) -kernel $(KERNEL) -initrd $(LX_DIR)/initrd-$(notdir $(LINUX_RUN)).cpio \
		-append "$(CMDLINE)"

TEST_GROUPS += linux
test-linux: $(KERNEL) $(LX_INITRD)
	@mkdir -p $(RESULTS)
	-python3 tools/qemu_run.py --tap $(RESULTS)/linux.tap --name linux-personality --smp 1 \
		--initrd $(LX_INITRD) --append "test-exit" --timeout 90 \
		--expect '^linux: all [0-9]+ commands done' \
		--expect '^linux: unknown system calls \(ENOSYS\):.* 400 x1 511 x1 >=512 x2$$' \
		--reject 'W thread' --reject 'SECRET-THROUGH-HALLOWS' --reject 'SIGSEGV'
	-python3 tools/linux_diff.py --log $(RESULTS)/logs/linux-personality.log \
		--root $(LX_ROOT) --run $(LX_RUN) --tap $(RESULTS)/linux.tap

# One Linux system call (getpid), in instructions under -icount shift=0: the
# personality on Hallows beside the Linux guest (tools/bench_linux_personality.py).
BENCH_STEPS += linux-personality
.PHONY: bench-linux-personality
bench-linux-personality: $(KERNEL) $(LINUX_VMLINUX) $(LX_DIR)/bin/bench_getpid
	$(MAKE) --no-print-directory LX_RUN=tests/linux/run-bench $(LX_DIR)/initrd-run-bench.cpio
	python3 tools/bench_linux_personality.py --kernel $(KERNEL) --initrd $(LX_DIR)/initrd-run-bench.cpio \
		--binary $(LX_DIR)/bin/bench_getpid --out $(BENCH_OUT)
