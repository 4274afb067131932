# The Linux personality (user/linux, docs/linux.md): a server that runs
# static x86-64 Linux binaries, its test programs (tests/linux, built with
# musl-gcc -static) and the differential test against the host.
#
#   make linux-run         boot the personality by hand (LINUX_RUN=file of commands)
#   make test-linux        ring-3 and differential tests -> build/results/linux.tap
#                          (three boots: tests/linux/run-tests, tests/linux/run-sh, then
#                          tests/linux/run-smp on -smp 2)
#   make test-linux-console busybox sh on the console tty, typed into through the serial port

.SECONDEXPANSION:
# Sockets (net.c, socket.c): the server links a NIC driver and Floo, as webd does (NET_SRCS
# comes from net.mk, read later: hence `=` and the second expansion below).
LX_NET_SRCS = user/linux/net.c user/linux/socket.c user/linux/unix.c user/net/hallows/floo_hallows.c \
	user/apps/webd/files.c $(NET_SRCS) $(DRV_SRCS)
LX_SRCS = user/linux/main.c user/linux/sys.c user/linux/mm.c user/linux/exec.c user/linux/fs.c \
	user/linux/proc.c user/linux/signal.c user/linux/thread.c user/linux/timer.c \
	user/linux/dir.c user/linux/procfs.c user/linux/epoll.c user/linux/tty.c user/linux/ldisc.c \
	user/linux/select.c user/linux/jobctl.c user/linux/cputime.c \
	user/linux/vt.c user/linux/kbd.c user/linux/screen.c \
	$(LX_NET_SRCS)
LX_DIR := $(B)/linux
LX_TESTS := $(patsubst tests/linux/%.c,$(LX_DIR)/bin/%,$(sort $(wildcard tests/linux/*.c)))
LX_CC ?= musl-gcc
LX_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -static -Wall -Wextra -Werror -fno-stack-protector

# The kernel's 8x16 font, for the screen tty on a framebuffer (user/linux/vt.c).
LX_FONT := $(B)/user/linux-font8x16.o
$(LX_FONT): $(KOBJ)/gen/font8x16.c
	$(UCC) $(UCFLAGS) -c $< -o $@

$(B)/user/linux: $$(RT_OBJS) $$(patsubst %.c,$(B)/user/%.o,$$(LX_SRCS)) $(B)/user/lib/cpio.o \
		$(LX_FONT) user/rt/user.ld
	$(UCC) $(ULDFLAGS) $(filter %.o,$^) -o $@
$(B)/user/user/linux/net.o $(B)/user/user/linux/socket.o $(B)/user/user/linux/unix.o: \
		UCFLAGS += -Iuser/net/include -Iuser/net \
	-Iuser/drivers/include

$(LX_DIR)/bin/%: tests/linux/%.c tests/linux/show.h tests/linux/pipe_rt.h
	@mkdir -p $(@D)
	$(LX_CC) $(LX_CFLAGS) -o $@ $<
# Linked away from the server's 0x400000, so that tools/pathprof.py tells their symbols apart.
$(LX_DIR)/bin/bench_pipe $(LX_DIR)/bin/bench_fork: LX_CFLAGS += -Wl,-Ttext-segment=0x10000000

# The boot module: the server as init, the test programs and busybox under
# bin/ with a symbolic link per applet, the files of tests/linux/root, and
# the command list etc/linux-run.
LX_RUN ?= tests/linux/run-tests
LX_NAME := $(notdir $(LX_RUN))
LX_ROOT := $(LX_DIR)/root-$(LX_NAME)
LX_INITRD := $(LX_DIR)/initrd-$(LX_NAME).cpio
# A run file's network configuration, if it has one: RUN.net becomes etc/net.conf (net.c).
$(LX_INITRD): $(B)/user/linux $(LX_TESTS) $(LX_RUN) $(wildcard $(LX_RUN).net) $(shell find tests/linux/root -type f) /bin/busybox
	@rm -rf $(LX_ROOT) && mkdir -p $(LX_ROOT)/bin $(LX_ROOT)/etc
	cp -r tests/linux/root/. $(LX_ROOT)/
	if [ -f $(LX_RUN).net ]; then cp $(LX_RUN).net $(LX_ROOT)/etc/net.conf; fi
	cp $(B)/user/linux $(LX_ROOT)/init
	cp $(LX_TESTS) /bin/busybox $(LX_ROOT)/bin/
	mkdir -p $(LX_ROOT)/odd && $(LX_DIR)/bin/t_hostile --write $(LX_ROOT)/odd # odd ELF files (t_hostile.c)
	for a in $$(/bin/busybox --list); do [ -e $(LX_ROOT)/bin/$$a ] || ln -s busybox $(LX_ROOT)/bin/$$a; done
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
		--initrd $(LX_INITRD) --append "test-exit" --timeout 420 \
		--expect '^linux: all [0-9]+ commands done' \
		--expect '^linux: unknown system calls \(ENOSYS\): 400 x1 511 x1 >=512 x2$$' \
		--expect '^scfuzz: [0-9]+ calls made, [0-9]+ failed, the process survived$$' \
		--expect '^limits: fork bomb stopped by EAGAIN, all [0-9]+ children reaped: 1$$' \
		--expect '^limits: memory hog killed by signal 9, the next child runs$$' \
		--expect '^limits: mremap hog (killed by signal 9|stopped by exit 3), one of 1 TiB: ENOMEM$$' \
		--expect '^procfs: all ok$$' --expect '^ +[0-9]+ root +/bin/busybox ps$$' \
		--expect '^Mem: +[0-9]+ +[0-9]+ +[0-9]+ +0 +0 +[0-9]+$$' \
		--expect '^ [0-9:]{8} up [0-9]+ min, +0 users, +load average: 0.00, 0.00, 0.00$$' \
		--reject 'W thread' --reject 'SECRET-THROUGH-HALLOWS' --reject 'SIGSEGV'
	-python3 tools/linux_diff.py --log $(RESULTS)/logs/linux-personality.log \
		--root $(LX_ROOT) --run $(LX_RUN) --tap $(RESULTS)/linux.tap
	$(MAKE) --no-print-directory LX_RUN=tests/linux/run-sh $(LX_DIR)/initrd-run-sh.cpio
	-python3 tools/qemu_run.py --tap $(RESULTS)/linux.tap --name linux-personality-sh --smp 1 \
		--initrd $(LX_DIR)/initrd-run-sh.cpio --append "test-exit" --timeout 420 \
		--expect '^linux: all [0-9]+ commands done' --reject 'W thread'
	-python3 tools/linux_diff.py --log $(RESULTS)/logs/linux-personality-sh.log \
		--root $(LX_DIR)/root-run-sh --run tests/linux/run-sh --tap $(RESULTS)/linux.tap
	$(MAKE) --no-print-directory LX_RUN=tests/linux/run-smp $(LX_DIR)/initrd-run-smp.cpio
	-python3 tools/qemu_run.py --tap $(RESULTS)/linux.tap --name linux-personality-smp --smp 2 \
		--initrd $(LX_DIR)/initrd-run-smp.cpio --append "test-exit" --timeout 300 \
		--expect '^linux: all [0-9]+ commands done' \
		--expect '^mutex counter: 80000 of 80000, joins ok$$' \
		--expect '^cpus: 2 online, the adders ran on 2$$' \
		--expect '^condvar ping-pong: 2000 rounds, turn 0$$' \
		--expect '^tgkill to a thread: 0, handled 1$$' --expect '^getcpu: 0, a cpu in the set$$' \
		--reject 'W thread' --reject 'SIGSEGV'
	-python3 tools/linux_diff.py --log $(RESULTS)/logs/linux-personality-smp.log \
		--root $(LX_DIR)/root-run-smp --run tests/linux/run-smp --tap $(RESULTS)/linux.tap

# Sockets on Floo (user/linux/net.c, socket.c): the personality with a virtio-net NIC behind
# QEMU user networking in a namespace tests/system/linux-net/run.py makes; t_socket, busybox
# wget, nc (both ways) and httpd against servers and clients of the runner; then make run's
# configuration, whose console shell starts httpd on the personality's own NIC.
TEST_GROUPS += linux-net
.PHONY: test-linux-net
test-linux-net: $(KERNEL) $$(INITRD_SERVE)
	$(MAKE) --no-print-directory LX_RUN=tests/linux/run-net $(LX_DIR)/initrd-run-net.cpio
	@mkdir -p $(RESULTS)/logs
	-timeout 800 python3 tests/system/linux-net/run.py --kernel $(KERNEL) \
		--initrd $(LX_DIR)/initrd-run-net.cpio --tap $(RESULTS)/linux-net.tap \
		--log $(RESULTS)/logs/linux-net.log --timeout 300 --serve-root $(SERVE_B)/root \
		|| echo "not ok - linux-net: runner exited non-zero" >> $(RESULTS)/linux-net.tap

# The console tty (user/linux/tty.c, ldisc.c): busybox sh on the console, typed into through
# the serial port by tests/system/console/run.py (line editing, canonical mode, ^C, ^D).
TEST_GROUPS += linux-console
.PHONY: test-linux-console linux-console
test-linux-console: $(KERNEL)
	$(MAKE) --no-print-directory LX_RUN=tests/linux/run-console $(LX_DIR)/initrd-run-console.cpio
	@mkdir -p $(RESULTS)/logs
	@timeout 300 python3 tests/system/console/run.py --kernel $(KERNEL) \
		--initrd $(LX_DIR)/initrd-run-console.cpio --root $(LX_DIR)/root-run-console \
		--tap $(RESULTS)/linux-console.tap --log $(RESULTS)/logs/linux-console.log \
		|| echo "not ok - linux-console: runner exited non-zero" >> $(RESULTS)/linux-console.tap

# The screen's tty (user/linux/vt.c, kbd.c, screen.c): busybox sh on the PS/2 keyboard and the
# screen, typed into with QMP's send-key by tests/system/screen/run.py (line editing, caps lock,
# ^C, scrolling, ^D, the getty): booted from -kernel under BIOS (VGA text, read back from
# 0xb8000), then, drawing steps only (--quick), from an image under UEFI (the framebuffer, read
# back with screendump and the kernel's font).
TEST_GROUPS += linux-screen
.PHONY: test-linux-screen
LX_SCREEN_ISO := $(LX_DIR)/screen-uefi.iso
test-linux-screen: $(KERNEL) $(KOBJ)/gen/font8x16.c tools/grub.cfg $$(INITRD_SERVE)
	$(MAKE) --no-print-directory LX_RUN=tests/linux/run-screen $(LX_DIR)/initrd-run-screen.cpio
	$(call make_iso,$(LX_SCREEN_ISO),linux-screen,test-exit,$(LX_DIR)/initrd-run-screen.cpio)
	@mkdir -p $(RESULTS)/logs
	@timeout 300 python3 tests/system/screen/run.py --kernel $(KERNEL) \
		--initrd $(LX_DIR)/initrd-run-screen.cpio --root $(LX_DIR)/root-run-screen \
		--tap $(RESULTS)/linux-screen.tap --log $(RESULTS)/logs/linux-screen.log \
		|| echo "not ok - linux-screen: runner exited non-zero" >> $(RESULTS)/linux-screen.tap
	@timeout 300 python3 tests/system/screen/run.py --iso $(LX_SCREEN_ISO) \
		--font $(KOBJ)/gen/font8x16.c --root $(LX_DIR)/root-run-screen --name linux-screen-uefi --quick \
		--tap $(RESULTS)/logs/linux-screen-uefi.tap --log $(RESULTS)/logs/linux-screen-uefi.log \
		|| echo "not ok - linux-screen-uefi: runner exited non-zero" >> $(RESULTS)/logs/linux-screen-uefi.tap
	@cat $(RESULTS)/logs/linux-screen-uefi.tap >> $(RESULTS)/linux-screen.tap
	@# make run's configuration (mk/serve.mk): a shell on the console and on the screen at once
	$(make_run_initrd)
	@timeout 400 python3 tests/system/screen/run.py --serve --kernel $(KERNEL) \
		--initrd $(SERVE_B)/initrd-run.cpio --root $(SERVE_B)/linux-files --name linux-screen-run \
		--boot-timeout 240 --tap $(RESULTS)/logs/linux-screen-run.tap --log $(RESULTS)/logs/linux-screen-run.log \
		|| echo "not ok - linux-screen-run: runner exited non-zero" >> $(RESULTS)/logs/linux-screen-run.tap
	@cat $(RESULTS)/logs/linux-screen-run.tap >> $(RESULTS)/linux-screen.tap

# One Linux system call (getpid), in instructions under -icount shift=0: the
# personality on Hallows beside the Linux guest (tools/bench_linux_personality.py).
BENCH_STEPS += linux-personality
.PHONY: bench-linux-personality
bench-linux-personality: $(KERNEL) $(LINUX_VMLINUX) $(LX_DIR)/bin/bench_getpid
	$(MAKE) --no-print-directory LX_RUN=tests/linux/run-bench $(LX_DIR)/initrd-run-bench.cpio
	python3 tools/bench_linux_personality.py --kernel $(KERNEL) --initrd $(LX_DIR)/initrd-run-bench.cpio \
		--binary $(LX_DIR)/bin/bench_getpid --out $(BENCH_OUT)

# ---- host tests (ASan + UBSan) and the fuzzer of the server's parsers ----
#   make test-linux-host    tests/host/linux        -> $(RESULTS)/linux-host.tap
#   make test-linux-fuzz    the fuzzer for 5 s      -> $(RESULTS)/linux-fuzz.tap
#   make fuzz-linux         the fuzzer for FUZZ_SECONDS
LX_HOST_SRCS := user/linux/exec.c user/linux/mm.c user/linux/fs.c user/linux/procfs.c lib/cpio.c \
	tests/host/linux/lx_host.c
LX_HOST_HDRS := user/linux/lx.h tests/host/linux/lx_host.h include/lib/cpio.h
TEST_GROUPS += linux-host
.PHONY: test-linux-host

$(LX_DIR)/host/lx_test: tests/host/linux/lx_test.c tests/host/kernel/ktharness.c $(LX_HOST_SRCS) \
		$(LX_HOST_HDRS) tests/host/kernel/ktharness.h
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_SAN) -Itests/host/kernel -o $@ $(filter %.c,$^)

$(LX_DIR)/host/lx_fuzz: tests/fuzz/linux/lx_fuzz.c $(LX_HOST_SRCS) $(LX_HOST_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Wall -Wextra -Werror -Itests/host/linux -o $@ $(filter %.c,$^)

# The console tty's line discipline (user/linux/ldisc.c), a pure module.
$(LX_DIR)/host/ldisc_test: tests/host/linux/ldisc_test.c tests/host/kernel/ktharness.c \
		user/linux/ldisc.c user/linux/ldisc.h tests/host/kernel/ktharness.h
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_SAN) -Itests/host/kernel -o $@ $(filter %.c,$^)

# The screen tty's scancode decoder and screen emulator (user/linux/kbd.c, screen.c), pure.
$(LX_DIR)/host/vt_test: tests/host/linux/vt_test.c tests/host/kernel/ktharness.c \
		user/linux/kbd.c user/linux/kbd.h user/linux/screen.c user/linux/screen.h \
		tests/host/kernel/ktharness.h
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_SAN) -Itests/host/kernel -o $@ $(filter %.c,$^)

test-linux-host: $(LX_DIR)/host/lx_test $(LX_DIR)/host/ldisc_test $(LX_DIR)/host/vt_test
	@mkdir -p $(RESULTS)
	@bash tests/host/kernel/run.sh $(RESULTS)/linux-host.tap $(LX_DIR)/host/logs $^

# Seeds: the musl test programs and the test boot module (built, not committed).
$(LX_DIR)/fuzz-seeds.stamp: $(LX_TESTS) $(LX_INITRD)
	@rm -rf $(LX_DIR)/fuzz-seeds; mkdir -p $(LX_DIR)/fuzz-seeds
	@cp $^ $(LX_DIR)/fuzz-seeds/ && touch $@

# Run by the one fuzz rule (mk/fuzz.mk): test-linux-fuzz, fuzz-linux.
FUZZ_GROUPS += linux
FUZZ_linux := lx
FUZZ_BIN_linux := $(LX_DIR)/host/lx_fuzz
FUZZ_SEEDS_linux_lx := $(LX_DIR)/fuzz-seeds
FUZZ_DEPS_linux := $(LX_DIR)/fuzz-seeds.stamp
FUZZ_OPTS_linux_lx := -max_len=65536
FUZZ_TEST_SECONDS_linux ?= 5
