# Ring-3 programs: the runtime (user/rt), the root task (user/init) and the
# ring-3 test suites (tests/user), packed into the boot module.

UCC ?= gcc
UOBJ := $(B)/user
UCFLAGS := -std=c11 -ffreestanding -fno-pic -fno-pie -fno-stack-protector -fno-omit-frame-pointer \
	-fno-asynchronous-unwind-tables -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
	-Wno-format-zero-length $(LIB_INC) -Iinclude/uapi -Iuser/rt/include -I$(B)/gen/include -MMD -MP
ULDFLAGS := -nostdlib -static -no-pie -Wl,-T,user/rt/user.ld -Wl,-z,max-page-size=0x1000 -Wl,--build-id=none

RT_SRCS := user/rt/crt0.S user/rt/rt.c user/rt/malloc.c user/rt/replay.c user/rt/retry.c user/rt/ring.c user/rt/sleep.c user/rt/upcall.c user/rt/uctx.S user/rt/usched.c user/rt/usched_run.c lib/string.c lib/fmt.c
RT_OBJS := $(patsubst %,$(UOBJ)/%.o,$(basename $(RT_SRCS)))
UTEST_C := $(sort $(wildcard tests/user/*.c))

$(UOBJ)/%.o: %.c $(B)/gen/include/hallows/methods.h
	@mkdir -p $(dir $@)
	$(UCC) $(UCFLAGS) -c $< -o $@
$(UOBJ)/%.o: %.S
	@mkdir -p $(dir $@)
	$(UCC) -D__ASSEMBLER__ -Iinclude -c $< -o $@

$(UOBJ)/init: $(RT_OBJS) $(UOBJ)/user/init/init.o $(UOBJ)/user/init/partition.o $(UOBJ)/user/init/supervise.o $(UOBJ)/user/init/windows.o $(UOBJ)/lib/cpio.o $(UOBJ)/lib/elf.o \
		$(UOBJ)/lib/manifest.o $(UOBJ)/lib/manifest_keys.o $(UOBJ)/lib/manifest_windows.o user/rt/user.ld
	$(UCC) $(ULDFLAGS) $(filter %.o,$^) -o $@
$(UOBJ)/dmacrash: $(RT_OBJS) $(UOBJ)/user/apps/dmacrash/dmacrash.o user/rt/user.ld
	$(UCC) $(ULDFLAGS) $(filter %.o,$^) -o $@
$(UOBJ)/partctl: $(RT_OBJS) $(UOBJ)/user/apps/partctl/partctl.o user/rt/user.ld
	$(UCC) $(ULDFLAGS) $(filter %.o,$^) -o $@
$(UOBJ)/hello: $(RT_OBJS) $(UOBJ)/user/apps/hello/hello.o user/rt/user.ld
	$(UCC) $(ULDFLAGS) $(filter %.o,$^) -o $@
$(UOBJ)/hog: $(RT_OBJS) $(UOBJ)/user/apps/hog/hog.o user/rt/user.ld
	$(UCC) $(ULDFLAGS) $(filter %.o,$^) -o $@
$(UOBJ)/utest: $(RT_OBJS) $(UTEST_C:%.c=$(UOBJ)/%.o) user/rt/user.ld
	$(UCC) $(ULDFLAGS) $(filter %.o,$^) -o $@

# The test boot module runs the ring-3 suites as the root task.
INITRD_TEST := $(B)/initrd-utest.cpio
$(INITRD_TEST): $(UOBJ)/utest
	@rm -rf $(B)/initrd-utest-root && mkdir -p $(B)/initrd-utest-root
	cp $< $(B)/initrd-utest-root/init
	cd $(B)/initrd-utest-root && find * | LC_ALL=C sort | cpio -o -H newc --quiet > ../initrd-utest.cpio

ALL_TARGETS += $(UOBJ)/init $(UOBJ)/hello $(UOBJ)/hog

-include $(shell find $(UOBJ) -name '*.d' 2>/dev/null)

# ---- ring-3 suites: the test boot module's root task runs them ----
# QEMU's edu test device for the PCI suites (DMA engine, MSI); q35 adds an e1000e (MSI-X) itself.
# The ring-3 suites get a second edu four slots after the first: on q35 it shares the first's
# INTx line (tests/user/intx_test.c). The manifest runs count edus: they keep one.
UTEST_DEVICES := --qemu-arg=-device --qemu-arg=edu
UTEST_SUITE_DEVICES := --qemu-arg=-device --qemu-arg=edu,addr=0x3 --qemu-arg=-device --qemu-arg=edu,addr=0x7
TEST_GROUPS += user
.PHONY: test-user
test-user: $(KERNEL) $(INITRD_TEST) $(INITRD)
	@mkdir -p $(RESULTS)
	-python3 tools/qemu_run.py --tap $(RESULTS)/user.tap --name utest-smp1 --smp 1 --initrd $(INITRD_TEST) \
		$(UTEST_SUITE_DEVICES) --append "test-exit" --expect '^# utest: ' --timeout 120 \
		--expect 'W pci: no IOMMU in use: the DMA of a device handed to a partition can reach all memory'
	-python3 tools/qemu_run.py --tap $(RESULTS)/user.tap --name utest-smp4 --smp 4 --mem 512M \
		$(UTEST_SUITE_DEVICES) --initrd $(INITRD_TEST) --append "test-exit" --expect '^# utest: ' --timeout 120
	-python3 tools/qemu_run.py --tap $(RESULTS)/user.tap --name utest-iommu --smp 2 --initrd $(INITRD_TEST) \
		--qemu-arg=-device --qemu-arg=intel-iommu,intremap=off $(UTEST_SUITE_DEVICES) --append "test-exit" \
		--expect '^# utest: ' --expect 'iommu: VT-d at .*: DMA remapping on' \
		--expect 'iommu: DMA fault: device 00:..\.0 write to 0x' \
		--expect 'iommu: the unit offers no interrupt remapping' --reject 'no IOMMU in use' --timeout 120
	@# Interrupt remapping on: every suite again, MSI/MSI-X/IOAPIC through remapping entries; edu's
	@# DMA reaches 0xfee00000 (dma_mask) to write messages (pci.edu_dma_into_the_interrupt_range).
	-python3 tools/qemu_run.py --tap $(RESULTS)/user.tap --name utest-intremap --smp 2 --initrd $(INITRD_TEST) \
		--qemu-arg=-device --qemu-arg=intel-iommu,intremap=on --qemu-arg=-device --qemu-arg=edu,dma_mask=0xffffffff \
		--append "test-exit" --expect '^# utest: ' --expect 'iommu: interrupt remapping on: 256 entries' \
		--expect '^ +ok [0-9]+ edu_dma_into_the_interrupt_range' --timeout 180
	-python3 tools/qemu_run.py --tap $(RESULTS)/user.tap --name root-task-starts-manifest --smp 2 --initrd $(INITRD) \
		--append "" --want hang --timeout 8 --settle 2 --expect '^init: root task running in ring 3: 2 cpus' \
		--expect '^init: etc/manifest:23: memory 100K: must be a power of two of at least 64K$$' \
		--expect '^init: partition broken \(etc/manifest:21\) not started: see the errors above' \
		--expect '^init: partition ghost not started: program ghost is not in the boot module' \
		--expect '^init: started hello \(priority 50, cpu 1, 512 KiB\)' \
		--expect '^init: started hog \(priority 40, cpu 0, ' \
		--expect '^init: partition hello running: 1 program, 512 KiB, 1 channel end' \
		--expect '^hello: running in ring 3 with 1 memory capability, 512 KiB; own endpoint made, own page mapped, root.s capabilities unreachable' \
		--expect '^hello: argv\[0\] hello, argv\[1\] --wave, config greeting=hello from the manifest' \
		--expect '^hog: made 16 frames from 64 KiB, then error 6 \(out of memory, cleanly\)' \
		--expect '^hog: sent 10000 messages on channel hog-to-hello' \
		--expect '^hello: received 10000 messages on channel hog-to-hello, all in order' \
		--reject 'partition (broken|ghost) running' --reject 'started hello \(priority 50, cpu 0' --reject 'W thread'
	-python3 tools/qemu_run.py --tap $(RESULTS)/user.tap --name root-task-takes-apart-partial-partitions --smp 2 \
		--initrd $(INITRD_MANIFEST) --append "" --want hang --timeout 8 --settle 2 $(UTEST_DEVICES) \
		--expect '^init: partition big not started: the arguments and config of program hog exceed 2808 bytes$$' \
		--expect '^init: partition greedy not started: etc/manifest:[0-9]+: device pci 1234:11e8 count 1: 0 of 1 found \(or all taken by partitions before it\)$$' \
		--expect '^init: partition missing not started: etc/manifest:[0-9]+: device class 0c:03:00 \(2 bytes matched\) count 2: 0 of 2 found' \
		--expect '^init: partition nowhere not started: etc/manifest:[0-9]+: device at 00:1f.7: 0 of 1 found \(or all taken by partitions before it\)$$' \
		--expect '^init: partition ok: device 00:0[0-9a-f].0 \(1234:11e8, class 00:ff:00\) from etc/manifest:[0-9]+$$' \
		--expect '^hello: device 00:0[0-9a-f].0 1234:11e8, config space reads 1234:11e8 \(ok\)$$' \
		--expect '^init: partition big taken apart: nothing of it runs' \
		--expect '^init: partition peer not started: its channel big-to-peer is not set up' \
		--expect '^init: partition peer taken apart: nothing of it runs' \
		--expect '^init: partition ok running: 1 program, 128 KiB, 0 channel ends' \
		--expect '^hello: running in ring 3 with 1 memory capability, 128 KiB' \
		--reject 'partition (big|peer|greedy|missing|nowhere) running' \
		--reject 'started hello \(priority 50, cpu 0' --reject 'capability, 256 KiB' --reject '^hog:' --reject 'W thread'
	-python3 tools/qemu_run.py --tap $(RESULTS)/user.tap --name root-task-restarts-a-crashed-partition --smp 2 \
		--initrd $(INITRD_RESTART) --append "" --want hang --timeout 10 --settle 2 $(UTEST_DEVICES) \
		--expect '^dmacrash: DMA into page 0x[0-9a-f]+ started; crashing before it lands$$' \
		--expect '^init: partition crashy crashed: program dmacrash, fault vector 14 error 0x6 addr 0x0 at rip 0x' \
		--expect '^init: partition crashy: restart 1$$' \
		--expect '^dmacrash: restart 1: page 0x[0-9a-f]+ \(the DMA.s target\) untouched 400 ms later$$' \
		--expect '^init: partition crashy: restart 2$$' \
		--expect '^dmacrash: restart 2: page 0x[0-9a-f]+ \(the DMA.s target\) untouched 400 ms later$$' \
		--expect '^dmacrash: done after 2 restarts$$' \
		--expect '^init: partition stopper stopped \(on-crash stop\); its memory and devices are free$$' \
		--expect '^hello: argv\[0\] hello, argv\[1\] \(none\), config greeting=still here$$' \
		--expect '^init: partition bystander: restart at the request of ctl$$' \
		--expect '^init: partition bystander: restart 1$$' \
		--expect '^partctl: restart bystander: done \(0\)$$' \
		--expect '^partctl: stop nosuch: refused \(4\)$$' \
		--expect '^partctl: stop bystander: refused \(1\)$$' \
		--reject 'CHANGED|not checked|restart 3|W thread|stop at the request of rogue'
	@# The runner itself: a run meant to hang whose expected line never comes must fail (--settle
	@# included: it stops a run early only once every expected line was seen).
	-python3 tools/qemu_run.py --name qemu-run-hang-still-checks-expect --smp 1 \
		--initrd $(INITRD) --append "" --want hang --timeout 4 --settle 1 --expect '^this line never appears$$' \
		> $(B)/qemu-run-hang-check.out; \
		if grep -q '^not ok - boot.qemu-run-hang-still-checks-expect (verdict fail: expected output missing' \
			$(B)/qemu-run-hang-check.out; then echo "ok - qemu_run.want_hang_checks_expect"; \
		else echo "not ok - qemu_run.want_hang_checks_expect"; fi >> $(RESULTS)/user.tap

# A boot module whose manifest has a partition that fails while it is built:
# it and its channel peer are taken apart, the third partition runs.
INITRD_MANIFEST := $(B)/initrd-manifest-test.cpio
$(INITRD_MANIFEST): $(UOBJ)/init $(UOBJ)/hello $(UOBJ)/hog tests/user/manifest-partial
	@rm -rf $(B)/initrd-manifest-root && mkdir -p $(B)/initrd-manifest-root/etc
	cp tests/user/manifest-partial $(B)/initrd-manifest-root/etc/manifest
	cp $(UOBJ)/init $(UOBJ)/hello $(UOBJ)/hog $(B)/initrd-manifest-root/
	cd $(B)/initrd-manifest-root && find * | LC_ALL=C sort | cpio -o -H newc --quiet > ../initrd-manifest-test.cpio
test-user: $(INITRD_MANIFEST)
INITRD_RESTART := $(B)/initrd-restart-test.cpio
$(INITRD_RESTART): $(UOBJ)/init $(UOBJ)/hello $(UOBJ)/dmacrash $(UOBJ)/partctl tests/user/manifest-restart
	@rm -rf $(B)/initrd-restart-root && mkdir -p $(B)/initrd-restart-root/etc
	cp tests/user/manifest-restart $(B)/initrd-restart-root/etc/manifest
	cp $(UOBJ)/init $(UOBJ)/hello $(UOBJ)/dmacrash $(UOBJ)/partctl $(B)/initrd-restart-root/
	cd $(B)/initrd-restart-root && find * | LC_ALL=C sort | cpio -o -H newc --quiet > ../initrd-restart-test.cpio
test-user: $(INITRD_RESTART)

# ---- kernel micro-benchmarks (root task of the bench boot module) ----
INITRD_KBENCH := $(B)/initrd-kbench.cpio
$(UOBJ)/kbench: $(RT_OBJS) $(UOBJ)/user/apps/kbench/kbench.o $(UOBJ)/user/apps/kbench/ring_bench.o \
		$(UOBJ)/user/apps/kbench/msi_bench.o user/rt/user.ld
	$(UCC) $(ULDFLAGS) $(filter %.o,$^) -o $@
# The system-call fuzzer (its runs: mk/kfuzz.mk).
$(UOBJ)/scfuzz: $(RT_OBJS) $(SCFUZZ_SRCS:%.c=$(UOBJ)/%.o) $(UOBJ)/lib/cpio.o user/rt/user.ld
	$(UCC) $(ULDFLAGS) $(filter %.o,$^) -o $@
$(INITRD_KBENCH): $(UOBJ)/kbench
	@rm -rf $(B)/initrd-kbench-root && mkdir -p $(B)/initrd-kbench-root
	cp $< $(B)/initrd-kbench-root/init
	cd $(B)/initrd-kbench-root && find * | LC_ALL=C sort | cpio -o -H newc --quiet > ../initrd-kbench.cpio
BENCH_STEPS += kbench
.PHONY: bench-kbench
bench-kbench: $(KERNEL) $(INITRD_KBENCH)
	python3 tools/bench_kernel.py --kernel $(KERNEL) --initrd $(INITRD_KBENCH) --out $(BENCH_OUT)

# ---- the kernel's and ring-3 suites in Bochs on a Haswell model: PCID on (QEMU's
# TCG has none), x2APIC, no SMAP, two CPUs; see docs/testing.md ----
UTEST_ISO := $(B)/hallows-utest.iso
$(UTEST_ISO): $(KERNEL) $(INITRD_TEST) tools/grub.cfg
	$(call make_iso,$@,utest,test-exit,$(INITRD_TEST))
BOCHS_FAIL_ISO := $(B)/hallows-bochs-fail.iso
TEST_GROUPS += bochs
BRUN = python3 tools/qemu_run.py --emulator bochs --tap $(RESULTS)/bochs.tap --smp 2

.PHONY: test-bochs
test-bochs: $(TEST_ISO) $(UTEST_ISO) $(BOCHS_FAIL_ISO)
	@mkdir -p $(RESULTS)
	-$(BRUN) --name bochs-ktest --iso $(TEST_ISO) --timeout 300 $(READY) \
		--expect '^hallows: cpus online: 2$$' --expect 'pcid=1' --expect 'smap=0' \
		--expect 'local APIC in x2APIC mode'
	-$(BRUN) --name bochs-utest --iso $(UTEST_ISO) --timeout 600 --expect '^# utest: '
	-$(BRUN) --name bochs-failed-test-detected --iso $(BOCHS_FAIL_ISO) --timeout 300 --want fail
# The harness must see a failure in Bochs too (no isa-debug-exit there).
$(BOCHS_FAIL_ISO): $(KERNEL) $(INITRD) tools/grub.cfg
	$(call make_iso,$@,bochs-fail,test-exit ktest=selftest ktest-selftest-fail)
