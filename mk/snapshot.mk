# Time-Turner snapshots (issue 18, docs/snapshots.md). The kernel object and
# its ring-3 suites (snapshot, snapshot_threads, snapshot_errors) are built
# and run with the rest (mk/kernel.mk, make test-user); here:
#
#   make test-snapshot   the runtime's retry API in a partition (retrytest)
#   make bench-snapshot  take, restore and copy-on-write costs -> $(BENCH_OUT)

.SECONDEXPANSION:
$(B)/user/retrytest: $$(RT_OBJS) $(B)/user/user/apps/retrytest/retrytest.o user/rt/user.ld
	$(UCC) $(ULDFLAGS) $(filter %.o,$^) -o $@
ALL_TARGETS += $(B)/user/retrytest

INITRD_SNAPSHOT := $(B)/initrd-snapshot-test.cpio
$(INITRD_SNAPSHOT): $(B)/user/init $(B)/user/retrytest tests/user/manifest-snapshot
	@rm -rf $(B)/initrd-snapshot-root && mkdir -p $(B)/initrd-snapshot-root/etc
	cp tests/user/manifest-snapshot $(B)/initrd-snapshot-root/etc/manifest
	cp $(B)/user/init $(B)/user/retrytest $(B)/initrd-snapshot-root/
	cd $(B)/initrd-snapshot-root && find * | LC_ALL=C sort | cpio -o -H newc --quiet > ../initrd-snapshot-test.cpio

TEST_GROUPS += snapshot
.PHONY: test-snapshot
test-snapshot: $(KERNEL) $(INITRD_SNAPSHOT)
	@mkdir -p $(RESULTS)
	@rm -f $(RESULTS)/snapshot.tap
	-python3 tools/qemu_run.py --tap $(RESULTS)/snapshot.tap --name retry-rolls-back-a-faulting-request \
		--smp 2 --initrd $(INITRD_SNAPSHOT) --append "" --want hang --timeout 10 \
		--expect '^retrytest: run 1 returned: 4096 words written and kept$$' \
		--expect '^retrytest: run 2 faulted \(vector 14 at 0x8\) and was rolled back: data and heap as before$$' \
		--expect '^retrytest: run 3 ran out of snapshot memory \(vector 0x101\) and was rolled back$$' \
		--expect '^retrytest: run 4 returned after the rollbacks$$' \
		--expect '^retrytest: done, 0 failures$$' \
		--reject 'FAILED'

# ---- benchmarks: the snapbench root task under -icount shift=0 (tools/bench_snapshot.py) ----
$(B)/user/snapbench: $$(RT_OBJS) $(B)/user/user/apps/snapbench/snapbench.o user/rt/user.ld
	$(UCC) $(ULDFLAGS) $(filter %.o,$^) -o $@
ALL_TARGETS += $(B)/user/snapbench
INITRD_SNAPBENCH := $(B)/initrd-snapbench.cpio
$(INITRD_SNAPBENCH): $(B)/user/snapbench
	@rm -rf $(B)/initrd-snapbench-root && mkdir -p $(B)/initrd-snapbench-root
	cp $< $(B)/initrd-snapbench-root/init
	cd $(B)/initrd-snapbench-root && find * | LC_ALL=C sort | cpio -o -H newc --quiet > ../initrd-snapbench.cpio
BENCH_STEPS += snapshot
.PHONY: bench-snapshot
bench-snapshot: $(KERNEL) $(INITRD_SNAPBENCH) $(LINUX_VMLINUX) $(LINUX_INITRD)
	@mkdir -p $(dir $(BENCH_OUT))
	python3 tools/bench_snapshot.py --kernel $(KERNEL) --initrd $(INITRD_SNAPBENCH) --out $(BENCH_OUT)
