# Hallows Rings (user/rt/ring.c) on the host: unit tests under ASan+UBSan and
# a two-thread stress under ThreadSanitizer (tests/host/rings).
#
#   make test-rings-host   both                       -> $(RESULTS)/rings-host.tap
#   RING_STRESS_MSGS=N     messages in the stress (default 4,000,000)

RINGS_B := $(B)/rings
RING_SRCS := user/rt/ring.c
RING_HDRS := include/uapi/hallows/ring.h
RING_STRESS_MSGS ?= 4000000

TEST_GROUPS += rings-host
.PHONY: test-rings-host

$(RINGS_B)/ring_test: tests/host/rings/ring_test.c tests/host/kernel/ktharness.c $(RING_SRCS) $(RING_HDRS) \
		tests/host/kernel/ktharness.h
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_SAN) -Itests/host/kernel -o $@ $(filter %.c,$^)

# ThreadSanitizer cannot be combined with ASan: this binary has a rule of its own.
$(RINGS_B)/ring_stress: tests/host/rings/ring_stress.c $(RING_SRCS) $(RING_HDRS)
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) -O2 -fsanitize=thread -DRING_STRESS_MSGS=$(RING_STRESS_MSGS)u \
		-o $@ $(filter %.c,$^) -lpthread

test-rings-host: $(RINGS_B)/ring_test $(RINGS_B)/ring_stress
	@mkdir -p $(RESULTS)
	@bash tests/host/kernel/run.sh $(RESULTS)/rings-host.tap $(RINGS_B)/logs $(RINGS_B)/ring_test
	@TSAN_OPTIONS="halt_on_error=1 exitcode=66" $(RINGS_B)/ring_stress > $(RINGS_B)/stress.out 2> $(RINGS_B)/stress.err; \
	rc=$$?; cat $(RINGS_B)/stress.out >> $(RESULTS)/rings-host.tap; \
	if [ $$rc != 0 ]; then echo "# ring_stress: exit $$rc, ThreadSanitizer report or watchdog: $(RINGS_B)/stress.err" \
		>> $(RESULTS)/rings-host.tap; echo "not ok - rings.stress_exit_status" >> $(RESULTS)/rings-host.tap; fi
	@grep -v '^ok - ' $(RESULTS)/rings-host.tap || true
	@echo "rings-host: $$(grep -c '^ok - ' $(RESULTS)/rings-host.tap) ok, $$(grep -c '^not ok - ' $(RESULTS)/rings-host.tap) not ok"
