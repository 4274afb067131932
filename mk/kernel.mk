# The kernel image, boot media, QEMU runs, ktest and boot benchmarks.

KCC ?= gcc
KOBJ := $(B)/kernel
KERNEL := $(B)/hallows.elf
INITRD := $(B)/initrd.cpio
ISO := $(B)/hallows.iso

KCFLAGS := -Wno-format-zero-length -std=c11 -ffreestanding -fno-pic -fno-pie -mcmodel=kernel -mno-red-zone \
	-mgeneral-regs-only -fno-stack-protector -fno-omit-frame-pointer -fno-strict-aliasing \
	-fno-asynchronous-unwind-tables -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -Wmissing-prototypes \
	-Iinclude -Iinclude/uapi -I$(B)/gen/include -MMD -MP
KASFLAGS := -D__ASSEMBLER__ -Iinclude -MMD -MP
KLDFLAGS := -nostdlib -static -no-pie -Wl,-T,arch/x86_64/kernel.ld -Wl,-z,max-page-size=0x1000 \
	-Wl,-z,noexecstack -Wl,--build-id=none

KERNEL_ASM := arch/x86_64/boot.S arch/x86_64/entry.S arch/x86_64/syscall.S arch/x86_64/trampoline.S
KERNEL_C := \
	arch/x86_64/acpi.c arch/x86_64/acpi_aml.c arch/x86_64/apic.c arch/x86_64/bootinfo.c \
	arch/x86_64/cpu.c arch/x86_64/fbcon.c arch/x86_64/hpet.c arch/x86_64/ioapic.c \
	arch/x86_64/paging.c arch/x86_64/pci.c arch/x86_64/pci_intx.c arch/x86_64/platform.c arch/x86_64/power.c \
	arch/x86_64/serial.c arch/x86_64/smp.c arch/x86_64/tlb.c arch/x86_64/trap.c arch/x86_64/tsc.c arch/x86_64/vm.c arch/x86_64/vtd.c \
	kernel/aspace.c kernel/bkl.c kernel/cap.c kernel/cspace.c kernel/fastpath.c kernel/frames.c kernel/initrd.c \
	kernel/invariants.c kernel/ipc.c kernel/irq.c kernel/klog.c kernel/kmalloc.c kernel/ksyms.c kernel/ktest.c \
	kernel/main.c kernel/memmap.c kernel/memory.c kernel/object.c kernel/panic.c kernel/pcidev.c kernel/percpu.c \
	kernel/pmm.c kernel/root.c kernel/sched.c kernel/snapshot.c kernel/spinlock.c kernel/syscall.c kernel/thread.c kernel/timeq.c kernel/upcall.c kernel/window.c \
	lib/cpio.c lib/elf.c lib/fmt.c lib/string.c
KTEST_C := $(sort $(wildcard tests/ktest/*.c))

KERNEL_OBJS := $(KERNEL_ASM:%.S=$(KOBJ)/%.o) $(KERNEL_C:%.c=$(KOBJ)/%.o) $(KTEST_C:%.c=$(KOBJ)/%.o) \
	$(KOBJ)/gen/font8x16.o $(KOBJ)/gen/dispatch.o

# Method labels, the kernel's dispatch table and ring-3 stubs: one table.
GEN := $(B)/gen
ABI_TABLE := include/uapi/hallows/interface.tbl
GEN_HDRS := $(GEN)/include/hallows/methods.h $(GEN)/include/hallows/labels.h $(GEN)/include/kernel/decode.h
# One run writes them all (&:): with -j2 one run per target rewrote dispatch.c while it compiled.
$(GEN)/kernel/dispatch.c $(GEN_HDRS) &: $(ABI_TABLE) tools/genabi.py
	python3 tools/genabi.py $(ABI_TABLE) $(GEN)
$(KOBJ)/gen/dispatch.o: $(GEN)/kernel/dispatch.c
	@mkdir -p $(dir $@)
	$(KCC) $(KCFLAGS) -c $< -o $@

# Order-only: the generated headers exist before the first compile (-MMD tracks them after).
$(KOBJ)/%.o: %.c | $(GEN_HDRS)
	@mkdir -p $(dir $@)
	$(KCC) $(KCFLAGS) -c $< -o $@
$(KOBJ)/%.o: %.S
	@mkdir -p $(dir $@)
	$(KCC) $(KASFLAGS) -c $< -o $@
$(KOBJ)/gen/font8x16.c: tools/mkfont.py
	@mkdir -p $(dir $@)
	python3 tools/mkfont.py /usr/share/grub/ascii.pf2 $@
$(KOBJ)/gen/%.o: $(KOBJ)/gen/%.c
	$(KCC) $(KCFLAGS) -c $< -o $@

# Two links: the first gives the symbol table that the second embeds in .ksyms
# (placed after all code, so no code address changes between them).
$(KERNEL): $(KERNEL_OBJS) arch/x86_64/kernel.ld tools/gensyms.py
	@mkdir -p $(KOBJ)/gen
	python3 tools/gensyms.py < /dev/null > $(KOBJ)/gen/ksyms0.S
	$(KCC) -c $(KOBJ)/gen/ksyms0.S -o $(KOBJ)/gen/ksyms0.o
	$(KCC) $(KLDFLAGS) $(KERNEL_OBJS) $(KOBJ)/gen/ksyms0.o -o $(KOBJ)/pass1.elf
	nm -n $(KOBJ)/pass1.elf | python3 tools/gensyms.py > $(KOBJ)/gen/ksyms.S
	$(KCC) -c $(KOBJ)/gen/ksyms.S -o $(KOBJ)/gen/ksyms.o
	$(KCC) $(KLDFLAGS) $(KERNEL_OBJS) $(KOBJ)/gen/ksyms.o -o $@
	@cmp -s <(nm -n $(KOBJ)/pass1.elf | grep -i ' t ') <(nm -n $@ | grep -i ' t ') || \
		{ echo "kernel: code moved between link passes"; rm -f $@; exit 1; }
	objdump -d -S --no-show-raw-insn $@ > $(basename $@).lst
	nm -n $@ > $(basename $@).map

# The boot module: a newc cpio of the files under $(B)/initrd-root.
$(INITRD): $(KERNEL) $(B)/user/init $(B)/user/hello $(B)/user/hog user/init/manifest
	@rm -rf $(B)/initrd-root && mkdir -p $(B)/initrd-root/etc
	cp user/init/manifest $(B)/initrd-root/etc/manifest
	cp $(B)/user/init $(B)/initrd-root/init
	cp $(B)/user/hello $(B)/user/hog $(B)/initrd-root/
	cd $(B)/initrd-root && find * | LC_ALL=C sort | cpio -o -H newc --quiet > ../initrd.cpio

# grub-mkrescue makes one image that boots under BIOS (El Torito) and UEFI.
# The test image differs only in the kernel command line; make_iso's
# fourth argument replaces the boot module.
TEST_ISO := $(B)/hallows-test.iso
define make_iso
	@rm -rf $(B)/iso-$(2) && mkdir -p $(B)/iso-$(2)/boot/grub
	cp $(KERNEL) $(B)/iso-$(2)/boot/hallows.elf
	cp $(or $(4),$(INITRD)) $(B)/iso-$(2)/boot/initrd.cpio
	sed 's|@CMDLINE@|$(3)|' tools/grub.cfg > $(B)/iso-$(2)/boot/grub/grub.cfg
	grub-mkrescue -o $(1) $(B)/iso-$(2) > $(B)/iso-$(2).log 2>&1 || { cat $(B)/iso-$(2).log; exit 1; }
endef
$(ISO): $(KERNEL) $(INITRD) tools/grub.cfg
	$(call make_iso,$@,run,)
$(TEST_ISO): $(KERNEL) $(INITRD) tools/grub.cfg
	$(call make_iso,$@,test,test-exit ktest=all)

ALL_TARGETS += $(KERNEL) $(INITRD) $(ISO)

QEMU := qemu-system-x86_64
# A window shows the screen console when there is a display; the serial
# console is always on this terminal (leave with Ctrl-a x).
QEMU_RUN_FLAGS := -machine q35 -accel tcg -cpu max -smp 4 -m 512M -serial mon:stdio \
	-device isa-debug-exit,iobase=0xf4,iosize=0x04 -no-reboot $(if $(DISPLAY),,-display none)

# `make run` boots the web appliance (mk/webd.mk); the manifest demo is `make run-demo`.
.PHONY: run-demo run-iso debug
run-demo: deps $(KERNEL) $(INITRD)
	$(QEMU) $(QEMU_RUN_FLAGS) -kernel $(KERNEL) -initrd $(INITRD) -append "$(CMDLINE)"

run-iso: deps $(ISO)
	$(QEMU) $(QEMU_RUN_FLAGS) -cdrom $(ISO)

# The GDB stub listens on loopback only: whoever reaches it owns the guest
# (QEMU's -s listens on every interface). GDB_PORT moves it (tests use a
# port of their own).
GDB_PORT ?= 1234
debug: deps $(KERNEL) $(INITRD)
	@echo "QEMU halted at entry; in another terminal: gdb -x tools/gdbinit"
	$(QEMU) $(QEMU_RUN_FLAGS) -kernel $(KERNEL) -initrd $(INITRD) -append "$(CMDLINE)" \
		-gdb tcp:127.0.0.1:$(GDB_PORT) -S

-include $(shell find $(KOBJ) -name '*.d' 2>/dev/null)

# ---- tests: boots under QEMU (TCG), judged by tools/qemu_run.py ----
# The scenarios are data: tests/system/boot/scenarios.txt, run by its run.py.
TEST_GROUPS += kernel-boot
BOOT_SCENARIOS := tests/system/boot/scenarios.txt
READY := --expect '^hallows: ready'
BOOT_RUN = python3 tests/system/boot/run.py --tap $(RESULTS)/kernel-boot.tap --set INITRD=$(INITRD) \
	--set TEST_ISO=$(TEST_ISO) --set INITRD_TRUNC=$(B)/initrd-trunc.cpio \
	--set INITRD_GARBAGE=$(B)/initrd-garbage.cpio --set "KT=test-exit ktest=all"

$(B)/initrd-trunc.cpio: $(INITRD)
	head -c 300 $< > $@
$(B)/initrd-garbage.cpio:
	@mkdir -p $(B)
	head -c 8192 /dev/urandom > $@

.PHONY: test-kernel-boot
test-kernel-boot: $(KERNEL) $(INITRD) $(TEST_ISO) $(B)/initrd-trunc.cpio $(B)/initrd-garbage.cpio
	@mkdir -p $(RESULTS)
	-$(BOOT_RUN) $(BOOT_SCENARIOS)
	@# The runner's own failure check: a line it cannot use is a "not ok" of its own.
	@f=$(B)/boot-runner-selftest; printf 'unusable --initrd @NOWHERE@\n' > $$f.txt; rm -f $$f.tap; \
	if ! python3 tests/system/boot/run.py --tap $$f.tap $$f.txt && grep -q '^not ok - boot.unusable$$' $$f.tap; then \
		echo "ok - boot_runner.reports_an_unusable_scenario_line" >> $(RESULTS)/kernel-boot.tap; \
	else echo "not ok - boot_runner.reports_an_unusable_scenario_line" >> $(RESULTS)/kernel-boot.tap; fi
	@bash tools/test_debug_stub.sh $(RESULTS)/kernel-boot.tap
	@# The boot benchmark stops at "hallows: ready" though the boot module's programs run on (it once waited for ever).
	@rm -f $(B)/bench-smoke.jsonl; \
	if timeout 120 python3 tools/bench_boot.py --kernel $(KERNEL) --initrd $(INITRD) --iso $(TEST_ISO) --runs 1 \
		--out $(B)/bench-smoke.jsonl > $(B)/bench-smoke.log 2>&1 && \
		[ "$$(grep -c '"boot.hallows.\(entry_to_ready_instructions\|wall_ms\)"' $(B)/bench-smoke.jsonl)" = 2 ]; then \
		echo "ok - bench.boot_bench_stops_at_ready_while_programs_run" >> $(RESULTS)/kernel-boot.tap; \
	else tail -5 $(B)/bench-smoke.log; echo "not ok - bench.boot_bench_stops_at_ready_while_programs_run" >> $(RESULTS)/kernel-boot.tap; fi

# ---- benchmarks ----
BENCH_STEPS += hallows-boot
.PHONY: bench-hallows-boot
bench-hallows-boot: $(KERNEL) $(INITRD) $(ISO)
	python3 tools/bench_boot.py --kernel $(KERNEL) --initrd $(INITRD) --iso $(ISO) --out $(BENCH_OUT)

# The kernel must also build with clang (STYLE.md); checked in make test.
TEST_GROUPS += kernel-clang
.PHONY: test-kernel-clang
test-kernel-clang: $(KERNEL)
	@mkdir -p $(RESULTS)
	@if $(MAKE) --no-print-directory -s KCC=clang KOBJ=$(B)/kernel-clang KERNEL=$(B)/hallows-clang.elf \
		$(B)/hallows-clang.elf > $(B)/kernel-clang.log 2>&1; then \
		echo "ok - kernel.builds_with_clang" >> $(RESULTS)/kernel-clang.tap; \
		if nm -n $(KERNEL) | cmp -s - $(B)/hallows.map; then \
			echo "ok - kernel.clang_build_leaves_the_gcc_symbol_map_alone" >> $(RESULTS)/kernel-clang.tap; \
		else echo "not ok - kernel.clang_build_leaves_the_gcc_symbol_map_alone" >> $(RESULTS)/kernel-clang.tap; fi; \
		python3 tools/qemu_run.py --tap $(RESULTS)/kernel-clang.tap --name clang-smp2 \
			--kernel $(B)/hallows-clang.elf --smp 2 --append "test-exit ktest=all" --expect '^hallows: ready'; \
	else tail -20 $(B)/kernel-clang.log; echo "not ok - kernel.builds_with_clang" >> $(RESULTS)/kernel-clang.tap; fi
