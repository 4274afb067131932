# Ring-3 programs: the runtime (user/rt), the root task (user/init) and the
# ring-3 test suites (tests/user), packed into the boot module.

UCC ?= gcc
UOBJ := $(B)/user
UCFLAGS := -std=c11 -ffreestanding -fno-pic -fno-pie -fno-stack-protector -fno-omit-frame-pointer \
	-fno-asynchronous-unwind-tables -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
	-Wno-format-zero-length -Iinclude -Iinclude/uapi -Iuser/rt/include -I$(B)/gen/include -MMD -MP
ULDFLAGS := -nostdlib -static -no-pie -Wl,-T,user/rt/user.ld -Wl,-z,max-page-size=0x1000 -Wl,--build-id=none

RT_SRCS := user/rt/crt0.S user/rt/rt.c user/rt/malloc.c lib/string.c lib/fmt.c
RT_OBJS := $(patsubst %,$(UOBJ)/%.o,$(basename $(RT_SRCS)))
UTEST_C := $(sort $(wildcard tests/user/*.c))

$(UOBJ)/%.o: %.c $(B)/gen/include/hallows/methods.h
	@mkdir -p $(dir $@)
	$(UCC) $(UCFLAGS) -c $< -o $@
$(UOBJ)/%.o: %.S
	@mkdir -p $(dir $@)
	$(UCC) -D__ASSEMBLER__ -Iinclude -c $< -o $@

$(UOBJ)/init: $(RT_OBJS) $(UOBJ)/user/init/init.o $(UOBJ)/lib/cpio.o $(UOBJ)/lib/elf.o $(UOBJ)/lib/bootconf.o user/rt/user.ld
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
TEST_GROUPS += user
.PHONY: test-user
test-user: $(KERNEL) $(INITRD_TEST) $(INITRD)
	@mkdir -p $(RESULTS)
	-python3 tools/qemu_run.py --tap $(RESULTS)/user.tap --name utest-smp1 --smp 1 --initrd $(INITRD_TEST) \
		--append "test-exit" --expect '^# utest: ' --timeout 120
	-python3 tools/qemu_run.py --tap $(RESULTS)/user.tap --name utest-smp4 --smp 4 --mem 512M \
		--initrd $(INITRD_TEST) --append "test-exit" --expect '^# utest: ' --timeout 120
	-python3 tools/qemu_run.py --tap $(RESULTS)/user.tap --name root-task-starts-programs --smp 2 --initrd $(INITRD) \
		--append "" --want hang --timeout 8 --expect '^init: root task running in ring 3: 2 cpus' \
		--expect '^init: started hello \(priority 50, cpu 1, 512 KiB\)' \
		--expect '^hello: running in ring 3 with 1 memory capability, 512 KiB; own endpoint made, own page mapped, root.s capabilities unreachable' \
		--expect '^hog: made 16 frames from 64 KiB, then error 6 \(out of memory, cleanly\)' \
		--expect 'boot.conf:5: not understood; skipped' --reject 'W thread'

# ---- kernel micro-benchmarks (root task of the bench boot module) ----
INITRD_KBENCH := $(B)/initrd-kbench.cpio
$(UOBJ)/kbench: $(RT_OBJS) $(UOBJ)/user/apps/kbench/kbench.o user/rt/user.ld
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
