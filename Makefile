# Hallows: one non-recursive build.
#
#   make run     build everything and boot Hallows in QEMU (serial on stdio)
#   make test    build and run every test; ends with "N passed, N failed"
#   make bench   benchmarks -> build/bench/results.jsonl
#   make debug   QEMU halted at entry with a GDB stub; see README
#   make fuzz    run every fuzz target for longer
#   make check   clang-format, cppcheck, clang-tidy and the header rules on every C file
#   make format  clang-format every .c and .h file in place
#
# Each subsystem lives in one fragment under mk/ and plugs in through:
#   TEST_GROUPS += g   with a target test-g that writes build/results/g.tap
#                      (lines "ok - name", "not ok - name", "ok - name # SKIP why")
#   BENCH_STEPS += b   with a target bench-b that appends JSON lines to $(BENCH_OUT)
#   FUZZ_STEPS  += f   with a target fuzz-f (FUZZ_SECONDS long)
#   FUZZ_GROUPS += g   libFuzzer targets, run by the one rule of mk/fuzz.mk
#   ALL_TARGETS += files built by `make all`

.DEFAULT_GOAL := all
SHELL := /bin/bash
B := build
RESULTS := $(B)/results
BENCH_OUT := $(B)/bench/results.jsonl
FUZZ_SECONDS ?= 60

# Headers of another folder are reached through include directories, never
# ../ chains: lib/ and the ABI as <lib/bytes.h>, <hallows/abi.h>; a ring-3
# library's from the top of user/ as "kafka/broker.h", "storage/store.h",
# "drivers/drv_env.h" (-iquote: searched for "..." includes only, so
# user/net and user/linux never hide <net/if.h> or <linux/if_tun.h>).
LIB_INC := -Iinclude -iquote user

# Host tools: sanitizers on for everything that runs on Linux in tests.
HOST_CC ?= gcc
HOST_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
HOST_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -O1 $(LIB_INC) -Iinclude/uapi
# The one host-test harness (TAP, one forked child per case): compile
# KTH_SRC into the test and add KTH_INC (docs/testing.md).
KTH_SRC := tests/host/kernel/ktharness.c
KTH_HDR := tests/host/kernel/ktharness.h
KTH_INC := -iquote tests/host/kernel
FUZZ_CC ?= clang
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined $(LIB_INC) -Iinclude/uapi

TEST_GROUPS :=
# make test builds each group's prerequisites this many at a time (its tests still run one by one,
# in its recipe); 2 = this project's reference machine.
TEST_JOBS ?= 2
# Groups that make test runs in the background while the others run in turn: groups that
# need CPU time but no timing of their own (the static checks). They run under
# TEST_BESIDE_SCHED, Linux's SCHED_IDLE policy: a CPU the foreground leaves idle (a QEMU
# run on one of two CPUs, a network test waiting on its clients) is theirs, a CPU the
# foreground wants is not, so the timing of the QEMU runs is not theirs to disturb. A
# fragment adds G with TEST_BESIDE += G and may set TEST_PREP_G (targets built in the
# foreground first, so that nothing is built twice at once) and TEST_ARGS_G (make
# arguments of the background run). What is left of them when the foreground is done gets
# the normal policy back (tools/sched_normal.sh). On a host busy with other work an idle-class
# task gets next to nothing until then: TEST_BESIDE_SCHED="nice -n 5" gives the checks a share
# (at some risk to the timing of the QEMU runs). make test TEST_BESIDE= runs every group in turn.
TEST_BESIDE :=
TEST_BESIDE_SCHED ?= chrt --idle 0
BENCH_STEPS :=
FUZZ_STEPS :=
FUZZ_GROUPS :=
ALL_TARGETS :=

include $(sort $(wildcard mk/*.mk))
# The one fuzz rule (mk/fuzz.mk), once every fragment has declared its fuzzers.
$(foreach g,$(FUZZ_GROUPS),$(eval $(call fuzz_group,$(g))))

.PHONY: all deps test bench fuzz check clean
all: deps $(ALL_TARGETS)

deps:
	@bash tools/deps.sh

test_beside = $(filter $(TEST_BESIDE),$(TEST_GROUPS))
test: deps
	@rm -rf $(RESULTS); mkdir -p $(RESULTS)
	@$(foreach g,$(test_beside),echo "=== test group $(g) (in the background)"; \
		if $(if $(TEST_PREP_$(g)),$(MAKE) -j$(TEST_JOBS) --no-print-directory $(TEST_PREP_$(g)),true); then \
			{ $(TEST_BESIDE_SCHED) $(MAKE) -j$(TEST_JOBS) --no-print-directory test-$(g) $(TEST_ARGS_$(g)) \
				> $(RESULTS)/$(g).out 2>&1 || echo "not ok - $(g): group exited non-zero" >> $(RESULTS)/$(g).tap; \
			  echo "=== test group $(g): done after $$SECONDS s" >> $(RESULTS)/$(g).out; } & \
			bg="$$bg $$!"; \
		else echo "not ok - $(g): its preparation ($(TEST_PREP_$(g))) failed" >> $(RESULTS)/$(g).tap; fi;) \
	for g in $(filter-out $(test_beside),$(TEST_GROUPS)); do \
		echo "=== test group $$g"; s=$$SECONDS; \
		$(MAKE) -j$(TEST_JOBS) --no-print-directory test-$$g || \
			echo "not ok - $$g: group exited non-zero" >> $(RESULTS)/$$g.tap; \
		echo "=== test group $$g: $$((SECONDS - s)) s"; \
	done; \
	echo "=== foreground groups done after $$SECONDS s"; \
	bash tools/sched_normal.sh $$bg; wait; \
	for g in $(test_beside); do echo "=== test group $$g (ran in the background)"; cat $(RESULTS)/$$g.out 2> /dev/null; done; \
	echo "=== all groups done after $$SECONDS s"; \
	python3 tools/summarize.py $(RESULTS)

bench: deps
	@mkdir -p $(dir $(BENCH_OUT)); : > $(BENCH_OUT)
	@for b in $(BENCH_STEPS); do echo "=== bench $$b"; $(MAKE) --no-print-directory bench-$$b || exit 1; done
	@echo "results: $(BENCH_OUT) ($$(wc -l < $(BENCH_OUT)) figures)"

fuzz: deps
	@rc=0; for f in $(FUZZ_STEPS); do \
		$(MAKE) --no-print-directory fuzz-$$f FUZZ_SECONDS=$(FUZZ_SECONDS) || { rc=1; echo "fuzz-$$f failed"; }; \
	done; exit $$rc

clean:
	rm -rf $(B)
