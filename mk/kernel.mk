# The kernel image, boot media, QEMU runs, ktest and boot benchmarks.

KCC ?= gcc
KOBJ := $(B)/kernel
KERNEL := $(B)/hallows.elf
INITRD := $(B)/initrd.cpio
ISO := $(B)/hallows.iso

KCFLAGS := -Wno-format-zero-length -std=c11 -ffreestanding -fno-pic -fno-pie -mcmodel=kernel -mno-red-zone \
	-mgeneral-regs-only -fno-stack-protector -fno-omit-frame-pointer -fno-strict-aliasing \
	-fno-asynchronous-unwind-tables -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
	-Iinclude -Iinclude/uapi -I$(B)/gen/include -MMD -MP
KASFLAGS := -D__ASSEMBLER__ -Iinclude -MMD -MP
KLDFLAGS := -nostdlib -static -no-pie -Wl,-T,arch/x86_64/kernel.ld -Wl,-z,max-page-size=0x1000 \
	-Wl,-z,noexecstack -Wl,--build-id=none

KERNEL_ASM := arch/x86_64/boot.S arch/x86_64/entry.S arch/x86_64/syscall.S arch/x86_64/trampoline.S
KERNEL_C := \
	arch/x86_64/acpi.c arch/x86_64/acpi_aml.c arch/x86_64/apic.c arch/x86_64/bootinfo.c \
	arch/x86_64/cpu.c arch/x86_64/fbcon.c arch/x86_64/hpet.c arch/x86_64/ioapic.c \
	arch/x86_64/paging.c arch/x86_64/pci.c arch/x86_64/platform.c arch/x86_64/power.c \
	arch/x86_64/serial.c arch/x86_64/smp.c arch/x86_64/trap.c arch/x86_64/tsc.c arch/x86_64/vm.c \
	kernel/aspace.c kernel/bkl.c kernel/cap.c kernel/cspace.c kernel/fastpath.c kernel/frames.c kernel/initrd.c \
	kernel/ipc.c kernel/irq.c kernel/klog.c kernel/kmalloc.c kernel/ksyms.c kernel/ktest.c \
	kernel/main.c kernel/memmap.c kernel/memory.c kernel/object.c kernel/panic.c kernel/percpu.c \
	kernel/pmm.c kernel/root.c kernel/sched.c kernel/spinlock.c kernel/syscall.c kernel/thread.c \
	lib/cpio.c lib/elf.c lib/fmt.c lib/string.c
KTEST_C := $(sort $(wildcard tests/ktest/*.c))

KERNEL_OBJS := $(KERNEL_ASM:%.S=$(KOBJ)/%.o) $(KERNEL_C:%.c=$(KOBJ)/%.o) $(KTEST_C:%.c=$(KOBJ)/%.o) \
	$(KOBJ)/gen/font8x16.o $(KOBJ)/gen/dispatch.o

# Method labels, the kernel's dispatch table and ring-3 stubs: one table.
GEN := $(B)/gen
ABI_TABLE := include/uapi/hallows/interface.tbl
$(GEN)/kernel/dispatch.c $(GEN)/include/hallows/methods.h $(GEN)/include/hallows/labels.h: $(ABI_TABLE) tools/genabi.py
	python3 tools/genabi.py $(ABI_TABLE) $(GEN)
$(KOBJ)/gen/dispatch.o: $(GEN)/kernel/dispatch.c
	@mkdir -p $(dir $@)
	$(KCC) $(KCFLAGS) -c $< -o $@

$(KOBJ)/%.o: %.c
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

.PHONY: run run-iso debug
run: deps $(KERNEL) $(INITRD)
	$(QEMU) $(QEMU_RUN_FLAGS) -kernel $(KERNEL) -initrd $(INITRD) -append "$(CMDLINE)"

run-iso: deps $(ISO)
	$(QEMU) $(QEMU_RUN_FLAGS) -cdrom $(ISO)

debug: deps $(KERNEL) $(INITRD)
	@echo "QEMU halted at entry; in another terminal: gdb -x tools/gdbinit"
	$(QEMU) $(QEMU_RUN_FLAGS) -kernel $(KERNEL) -initrd $(INITRD) -append "$(CMDLINE)" -s -S

-include $(shell find $(KOBJ) -name '*.d' 2>/dev/null)

# ---- tests: boots under QEMU (TCG), judged by tools/qemu_run.py ----
TEST_GROUPS += kernel-boot
KRUN = python3 tools/qemu_run.py --tap $(RESULTS)/kernel-boot.tap
KT := test-exit ktest=all
READY := --expect '^hallows: ready'

$(B)/initrd-trunc.cpio: $(INITRD)
	head -c 300 $< > $@
$(B)/initrd-garbage.cpio:
	@mkdir -p $(B)
	head -c 8192 /dev/urandom > $@

.PHONY: test-kernel-boot
test-kernel-boot: $(KERNEL) $(INITRD) $(TEST_ISO) $(B)/initrd-trunc.cpio $(B)/initrd-garbage.cpio
	@mkdir -p $(RESULTS)
	-$(KRUN) --name pvh-smp1 --machine pc --smp 1 --initrd $(INITRD) --append "$(KT)" $(READY) \
		--expect '^hallows: cpus online: 1$$'
	-$(KRUN) --name pvh-smp4 --smp 4 --mem 512M --initrd $(INITRD) --append "$(KT)" $(READY) \
		--expect '^hallows: cpus online: 4$$' --expect 'pci: \d+ functions \(ECAM\)'
	-$(KRUN) --name iso-seabios --iso $(TEST_ISO) --smp 2 $(READY) --expect 'via Multiboot2, ' \
		--expect 'console: VGA text' --timeout 120
	-$(KRUN) --name iso-ovmf --iso $(TEST_ISO) --firmware ovmf --smp 2 $(READY) \
		--expect 'via Multiboot2 \(UEFI\)' --expect 'console: framebuffer' --timeout 240
	-$(KRUN) --name mem-above-4g --smp 2 --mem 4608M --initrd $(INITRD) --append "test-exit ktest=memory,boot" $(READY)
	-$(KRUN) --name no-initrd --append "test-exit" $(READY) --expect 'W initrd: no boot module'
	-$(KRUN) --name truncated-initrd --initrd $(B)/initrd-trunc.cpio --append "test-exit" $(READY) \
		--expect 'W initrd: corrupt cpio archive \(truncated'
	-$(KRUN) --name garbage-initrd --initrd $(B)/initrd-garbage.cpio --append "test-exit" $(READY) \
		--expect 'W initrd: corrupt cpio archive \(bad magic'
	-$(KRUN) --name no-hpet --smp 2 --qemu-arg=-machine --qemu-arg=hpet=off --machine pc \
		--append "test-exit ktest=timers,smp" $(READY) --expect 'calibrated against the PIT'
	-$(KRUN) --name no-acpi --smp 2 --machine pc --qemu-arg=-no-acpi --append "test-exit ktest=boot,pci" \
		$(READY) --expect 'W acpi: no RSDP found' --expect '^hallows: cpus online: 1$$'
	-$(KRUN) --name noacpi-cmdline --smp 2 --append "test-exit noacpi" $(READY) --expect 'acpi: disabled'
	-$(KRUN) --name poweroff --smp 2 --append "poweroff" $(READY) --ok-status 0 --expect 'power: powering off' \
		--reject 'power-off failed'
	-$(KRUN) --name reboot --append "reboot" $(READY) --ok-status 0 --expect 'power: rebooting'
	-$(KRUN) --name crash-page-fault --append "test-exit crashtest=pf" --want panic \
		--expect 'RIP 0008:ffffffff8' --expect 'CR2 ffffc0fffffff000' --expect 'crash_test\+0x' --expect 'kmain\+0x'
	-$(KRUN) --name crash-panic --append "test-exit crashtest=panic" --want panic --expect 'PANIC on cpu 0: crashtest'
	-$(KRUN) --name crash-hang --append "test-exit crashtest=hang" --want hang --timeout 5
	-$(KRUN) --name failed-test-detected --append "test-exit ktest=selftest ktest-selftest-fail" --want fail \
		--expect 'not ok \d+ fails_on_request'
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

# ---- static checks: make check (format, cppcheck, clang-tidy) ----
CHECK_SRCS := $(KERNEL_C) $(KTEST_C)
.PHONY: check
check:
	@clang-format --dry-run --Werror $(CHECK_SRCS) 2>&1 | head -50; \
	cppcheck --quiet --std=c11 --error-exitcode=1 -Iinclude --suppress=missingIncludeSystem \
		--inline-suppr $(CHECK_SRCS) && \
	clang-tidy --quiet $(filter kernel/%,$(KERNEL_C)) -- $(filter-out -mgeneral-regs-only -MMD -MP,$(KCFLAGS)) 2>&1 | \
		grep -E 'warning|error' | head -50; true

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
