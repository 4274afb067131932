# Partition windows (issue 16; docs/scheduling.md, "Partition windows").
#
#   make test-windows    the ring-3 suite tests/user/windows/ under TCG -icount shift=0, -smp 2
#                        -> $(RESULTS)/windows.tap (about 2 minutes: the manifest test waits 90 s)
#   make bench-windows   the same boot module; its BENCH lines (window-switch cost and jitter,
#                        instructions) -> $(BENCH_OUT) as windows.hallows.*
# The errors of sched_control (every code) are the suite window_errors of the ordinary ring-3
# runner (tests/user/window_errors_test.c, make test-user).

INITRD_WINDOWS := $(B)/initrd-windows.cpio
$(UOBJ)/wintest: $(RT_OBJS) $(UOBJ)/tests/user/main.o $(UOBJ)/tests/user/windows/window_test.o user/rt/user.ld
	$(UCC) $(ULDFLAGS) $(filter %.o,$^) -o $@
$(INITRD_WINDOWS): $(UOBJ)/wintest
	@rm -rf $(B)/initrd-windows-root && mkdir -p $(B)/initrd-windows-root
	cp $< $(B)/initrd-windows-root/init
	cd $(B)/initrd-windows-root && find * | LC_ALL=C sort | cpio -o -H newc --quiet > ../initrd-windows.cpio
ALL_TARGETS += $(UOBJ)/wintest

TEST_GROUPS += windows
.PHONY: test-windows test-windows-manifest
test-windows: $(KERNEL) $(INITRD_WINDOWS) $(INITRD_MWINDOWS)
	@mkdir -p $(RESULTS)
	@rm -f $(RESULTS)/windows.tap
	@$(MAKE) --no-print-directory test-windows-manifest
	-python3 tools/qemu_run.py --tap $(RESULTS)/windows.tap --name windows --smp 2 \
		--qemu-arg=-icount --qemu-arg=shift=0,sleep=off \
		--initrd $(INITRD_WINDOWS) --append "test-exit" --expect '^# utest: ' --timeout 120

BENCH_STEPS += windows
.PHONY: bench-windows
bench-windows: $(KERNEL) $(INITRD_WINDOWS)
	python3 tools/bench_windows.py --kernel $(KERNEL) --initrd $(INITRD_WINDOWS) --out $(BENCH_OUT)

# The root task from a manifest with windows (tests/user/manifest-windows): probes check their own
# windows from the TSC beside a partition that spins and one that crashes and is rebuilt.
$(UOBJ)/winprobe: $(RT_OBJS) $(UOBJ)/user/apps/winprobe/winprobe.o user/rt/user.ld
	$(UCC) $(ULDFLAGS) $(filter %.o,$^) -o $@
INITRD_MWINDOWS := $(B)/initrd-manifest-windows.cpio
$(INITRD_MWINDOWS): $(UOBJ)/init $(UOBJ)/winprobe tests/user/manifest-windows
	@rm -rf $(B)/initrd-mwindows-root && mkdir -p $(B)/initrd-mwindows-root/etc
	cp tests/user/manifest-windows $(B)/initrd-mwindows-root/etc/manifest
	cp $(UOBJ)/init $(UOBJ)/winprobe $(B)/initrd-mwindows-root/
	cd $(B)/initrd-mwindows-root && find * | LC_ALL=C sort | cpio -o -H newc --quiet > ../initrd-manifest-windows.cpio
ALL_TARGETS += $(UOBJ)/winprobe
test-windows-manifest: $(KERNEL) $(INITRD_MWINDOWS)
	-python3 tools/qemu_run.py --tap $(RESULTS)/windows.tap --name root-task-installs-windows --smp 2 \
		--qemu-arg=-icount --qemu-arg=shift=0,sleep=off --initrd $(INITRD_MWINDOWS) \
		--append "" --want hang --timeout 90 --settle 2 --reject 'FAILED' \
		--expect '^init: windows on cpu 1: frame 3000us, 4 slots, spare idle$$' \
		--expect '^init: partition crashy: restart 8$$' \
		--expect '^winprobe probe-a: ok: ' --expect '^winprobe probe-b: ok: '
