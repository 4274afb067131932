# Time-Turner scheduling (issue 16): the user-level scheduler's policies on
# the host, and the tail-latency experiment (docs/scheduling.md).
#
#   make test-usched-host   user/rt/usched.c under ASan+UBSan  -> $(RESULTS)/usched-host.tap

USCHED_B := $(B)/usched

TEST_GROUPS += usched-host
.PHONY: test-usched-host
$(USCHED_B)/usched_test: tests/host/usched/usched_test.c tests/host/kernel/ktharness.c user/rt/usched.c \
		user/rt/include/hallows/usched.h user/rt/include/hallows/uctx.h tests/host/kernel/ktharness.h
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_SAN) -Itests/host/kernel -Iuser/rt/include -o $@ $(filter %.c,$^)

test-usched-host: $(USCHED_B)/usched_test
	@mkdir -p $(RESULTS)
	@bash tests/host/kernel/run.sh $(RESULTS)/usched-host.tap $(USCHED_B)/logs $(USCHED_B)/usched_test

# ---- the tail-latency experiment: Shinjuku's bimodal workload, FCFS vs preemption upcalls ----
#   make bench-tail   -> $(BENCH_OUT) (tail.hallows.*, tail.linux.* figures), build/bench/tail.jsonl
#                     (every point; the Linux-signal servers run in the Linux guest, lg_tail.c)
#   python3 tools/plot_tail.py build/bench/tail.jsonl docs/tail-latency.svg   redraws the plot
# mk/user.mk (RT_OBJS, UOBJ) is read after this file: $$(RT_OBJS) expands late (drivers.mk turns on
# .SECONDEXPANSION for every fragment).
.SECONDEXPANSION:
INITRD_TAIL := $(B)/initrd-tail.cpio
$(B)/user/tailbench: $$(RT_OBJS) $(B)/user/user/apps/tailbench/tailbench.o user/rt/user.ld
	$(UCC) $(ULDFLAGS) $(filter %.o,$^) -o $@
$(INITRD_TAIL): $(B)/user/tailbench
	@rm -rf $(B)/initrd-tail-root && mkdir -p $(B)/initrd-tail-root
	cp $< $(B)/initrd-tail-root/init
	cd $(B)/initrd-tail-root && find * | LC_ALL=C sort | cpio -o -H newc --quiet > ../initrd-tail.cpio
BENCH_STEPS += tail
ALL_TARGETS += $(B)/user/tailbench
.PHONY: bench-tail
bench-tail: $(KERNEL) $(INITRD_TAIL) $(LINUX_VMLINUX) $(LINUX_INITRD)
	python3 tools/bench_tail.py --kernel $(KERNEL) --initrd $(INITRD_TAIL) --out $(BENCH_OUT) \
		--points $(B)/bench/tail.jsonl --with-linux
