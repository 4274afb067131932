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
