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

# crash recovery with input replay: kvstore (under rp_run) and kvclient, two partitions
$(B)/user/kvstore: $$(RT_OBJS) $(B)/user/user/apps/kvstore/kvstore.o user/rt/user.ld
	$(UCC) $(ULDFLAGS) $(filter %.o,$^) -o $@
$(B)/user/kvclient: $$(RT_OBJS) $(B)/user/user/apps/kvclient/kvclient.o user/rt/user.ld
	$(UCC) $(ULDFLAGS) $(filter %.o,$^) -o $@
ALL_TARGETS += $(B)/user/kvstore $(B)/user/kvclient

INITRD_KVREPLAY := $(B)/initrd-kvreplay-test.cpio
$(INITRD_KVREPLAY): $(B)/user/init $(B)/user/kvstore $(B)/user/kvclient tests/user/manifest-kvreplay
	@rm -rf $(B)/initrd-kvreplay-root && mkdir -p $(B)/initrd-kvreplay-root/etc
	cp tests/user/manifest-kvreplay $(B)/initrd-kvreplay-root/etc/manifest
	cp $(B)/user/init $(B)/user/kvstore $(B)/user/kvclient $(B)/initrd-kvreplay-root/
	cd $(B)/initrd-kvreplay-root && find * | LC_ALL=C sort | cpio -o -H newc --quiet > ../initrd-kvreplay-test.cpio

TEST_GROUPS += snapshot
.PHONY: test-snapshot
test-snapshot: $(KERNEL) $(INITRD_SNAPSHOT) $(INITRD_KVREPLAY)
	@mkdir -p $(RESULTS)
	@rm -f $(RESULTS)/snapshot.tap
	-python3 tools/qemu_run.py --tap $(RESULTS)/snapshot.tap --name retry-rolls-back-a-faulting-request \
		--smp 2 --initrd $(INITRD_SNAPSHOT) --append "" --want hang --timeout 10 --settle 1 \
		--expect '^retrytest: run 1 returned: 4096 words written and kept$$' \
		--expect '^retrytest: run 2 faulted \(vector 14 at 0x8\) and was rolled back: data and heap as before$$' \
		--expect '^retrytest: run 3 ran out of snapshot memory \(vector 0x101\) and was rolled back$$' \
		--expect '^retrytest: run 4 returned after the rollbacks$$' \
		--expect '^retrytest: done, 0 failures$$' \
		--expect '^retrytest: snapshots refused as the manifest declares \(error 11\)$$' \
		--reject 'FAILED'
	@mkdir -p $(B)/replay
	-python3 tools/qemu_run.py --tap $(RESULTS)/snapshot.tap --name kv-store-recovers-by-replay \
		--smp 2 --initrd $(INITRD_KVREPLAY) --append "" --want hang --timeout 30 --settle 1 \
		--log $(B)/replay/kv-run.log --expect '^rec end [0-9a-f]+ [0-9a-f]{16}$$' \
		--expect '^init: partition kvstore: snapshot of 1024 KiB, 2 exclusions \(line 14\)$$' \
		--expect '^rp: the manifest.s snapshot, channels kv-req and kv-resp excluded by the root task$$' \
		--expect '^kvstore: seed 18, 6 crashes among 1000 requests, checkpoint every 32$$' \
		--expect '^rp: crash 6 \(vector 14 at 0x(8|10|18), rip 0x[0-9a-f]+\) at input [0-9]+: restored, replaying [0-9]+ inputs' \
		--expect '^kvclient: server recovered from 6 crashes, [0-9]+ checkpoints, [1-9][0-9]* inputs replayed, [1-9][0-9]* responses suppressed$$' \
		--expect '^kvclient: 1257 responses for 1257 requests, 0 duplicates, 0 gaps, 0 failures$$' \
		--expect '^kvclient: every acknowledged update present, no duplicate, no gap$$' \
		--reject 'FAILED'
	@# the recording that run wrote of its crash 3, replayed to the same fault and registers
	-if python3 tools/replay.py extract $(B)/replay/kv-run.log $(B)/replay/kv-test.rec; then \
		$(MAKE) --no-print-directory replay RECORDING=$(B)/replay/kv-test.rec \
		REPLAY_TAP=$(RESULTS)/snapshot.tap REPLAY_NAME=replay-reaches-the-recorded-crash; \
	else echo 'not ok - boot.replay-reaches-the-recorded-crash (no recording in the run log)' \
		>> $(RESULTS)/snapshot.tap; fi

# ---- deterministic replay for debugging (hallows/replay.h): make replay [RECORDING=file] ----
# A recording is written by a kvstore run with `config record-crash=N` (the test run above);
# without RECORDING, make replay records crash 3 of that run first ($(B)/replay/kv.rec).
RECORDING ?= $(B)/replay/kv.rec
REPLAY_NAME ?= replay
REPLAY_TAP ?= $(RESULTS)/replay.tap
$(B)/replay/kv.rec: $(KERNEL) $(INITRD_KVREPLAY)
	@mkdir -p $(B)/replay
	python3 tools/qemu_run.py --name kv-record --smp 2 --initrd $(INITRD_KVREPLAY) --append "" \
		--want hang --timeout 30 --settle 1 --log $(B)/replay/kv-record.log \
		--expect '^rec end [0-9a-f]+ [0-9a-f]{16}$$'
	python3 tools/replay.py extract $(B)/replay/kv-record.log $@
# kvfeed carries the recording (linked in), so it is built for each one.
.PHONY: replay-always
$(B)/replay/feed.o: $(RECORDING) replay-always
	@mkdir -p $(B)/replay
	printf '.section .rodata\n.globl rec_data\nrec_data:\n.incbin "%s"\n.globl rec_end\nrec_end:\n' \
		'$(abspath $(RECORDING))' > $(B)/replay/feed.S
	$(UCC) -c $(B)/replay/feed.S -o $@
$(B)/replay/kvfeed: $$(RT_OBJS) $(B)/user/user/apps/kvstore/kvfeed.o $(B)/replay/feed.o user/rt/user.ld
	$(UCC) $(ULDFLAGS) $(filter %.o,$^) -o $@
$(B)/replay/initrd-kvdebug.cpio: $(B)/user/init $(B)/user/kvstore $(B)/replay/kvfeed tests/user/manifest-kvdebug
	@rm -rf $(B)/replay/initrd-kvdebug-root && mkdir -p $(B)/replay/initrd-kvdebug-root/etc
	cp tests/user/manifest-kvdebug $(B)/replay/initrd-kvdebug-root/etc/manifest
	cp $(B)/user/init $(B)/user/kvstore $(B)/replay/kvfeed $(B)/replay/initrd-kvdebug-root/
	cd $(B)/replay/initrd-kvdebug-root && find * | LC_ALL=C sort | cpio -o -H newc --quiet > ../initrd-kvdebug.cpio
.PHONY: replay
replay: $(KERNEL) $(B)/replay/initrd-kvdebug.cpio
	@mkdir -p $(RESULTS)
	python3 tools/qemu_run.py --tap $(REPLAY_TAP) --name $(REPLAY_NAME) --smp 2 \
		--initrd $(B)/replay/initrd-kvdebug.cpio --append "" --want hang --timeout 30 --settle 1 \
		--expect '^rp: recording of [0-9]+ bytes received$$' \
		--expect '^rp: replay faulted: vector 14 error 0x[0-9a-f]+ at 0x(8|10|18), rip 0x[0-9a-f]+; fault as in the recording, 19 of 19 registers match$$' \
		--expect '^kvstore: replay reached the recorded crash \(0\)$$' \
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
