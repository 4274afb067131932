# Broker area: log store (user/storage), Kafka codec and broker core
# (user/kafka), the hosted Linux build (hosted/broker) and its tests.

BROKER_B := $(B)/broker
BROKER_LIB_SRCS := $(wildcard user/storage/*.c) $(wildcard user/kafka/*.c)
BROKER_HOST_SRCS := $(wildcard hosted/broker/*.c)
BROKER_HDRS := $(wildcard user/storage/*.h user/kafka/*.h hosted/broker/*.h)
BROKER_FREESTANDING := -ffreestanding -fno-builtin-malloc
# The hosted broker's batch codecs (hosted/broker/codec.c, tools/deps/broker.txt);
# the libraries under user/ and the Hallows build never link them.
BROKER_CODEC_LIBS := -lz -lsnappy -llz4 -lzstd

BROKER_BIN := $(B)/hosted/hallows-broker
BROKER_SAN_BIN := $(BROKER_B)/hallows-broker-san
BROKER_TSAN_BIN := $(BROKER_B)/hallows-broker-tsan
BROKER_UNIT_TESTS := $(BROKER_B)/test_codec $(BROKER_B)/test_store $(BROKER_B)/test_broker \
	$(BROKER_B)/test_admin $(BROKER_B)/test_idem $(BROKER_B)/test_flex $(BROKER_B)/test_txn \
	$(BROKER_B)/test_compact $(BROKER_B)/test_shard $(BROKER_B)/test_gather
BROKER_TOOLS := $(BROKER_B)/rdk_client $(BROKER_B)/rdk_loadgen $(BROKER_B)/rdk_admin $(BROKER_B)/rdk_txn
BROKER_FUZZERS := $(BROKER_B)/fuzz_request $(BROKER_B)/fuzz_recovery $(BROKER_B)/fuzz_batch \
	$(BROKER_B)/fuzz_compact $(BROKER_B)/fuzz_zbatch $(BROKER_B)/fuzz_gather

ALL_TARGETS += $(BROKER_BIN)
TEST_GROUPS += broker-unit broker-system
BENCH_STEPS += broker

# Release build used by the benchmarks and by users.
$(BROKER_BIN): $(BROKER_LIB_SRCS) $(BROKER_HOST_SRCS) $(BROKER_HDRS) mk/broker.mk
	@mkdir -p $(dir $@)
	$(HOST_CC) $(filter-out -O1,$(HOST_CFLAGS)) -O2 -o $@ $(BROKER_LIB_SRCS) $(BROKER_HOST_SRCS) -pthread $(BROKER_CODEC_LIBS)

# The libraries compiled once per flavour (ASan+UBSan, libFuzzer) and linked
# into every binary of that flavour: 9 unit tests, the sanitizer broker and
# 4 fuzzers used to compile all 24 sources each (docs/testing.md, "Build time").
BROKER_SAN_OBJS := $(BROKER_LIB_SRCS:%.c=$(BROKER_B)/obj-san/%.o)
BROKER_FUZZ_OBJS := $(BROKER_LIB_SRCS:%.c=$(BROKER_B)/obj-fuzz/%.o)
$(BROKER_B)/obj-san/%.o: %.c $(BROKER_HDRS) mk/broker.mk
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_SAN) -c $< -o $@
$(BROKER_B)/obj-fuzz/%.o: %.c $(BROKER_HDRS) mk/broker.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

# Sanitizer build the system tests run against.
$(BROKER_SAN_BIN): $(BROKER_SAN_OBJS) $(BROKER_HOST_SRCS) $(BROKER_HDRS) mk/broker.mk
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_SAN) -o $@ $(BROKER_SAN_OBJS) $(BROKER_HOST_SRCS) -pthread $(BROKER_CODEC_LIBS)

# ThreadSanitizer build: the --threads 2 loops, their rings and the
# flusher threads under a few system tests (run_system.py --tsan-broker).
$(BROKER_TSAN_BIN): $(BROKER_LIB_SRCS) $(BROKER_HOST_SRCS) $(BROKER_HDRS) mk/broker.mk
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) -fsanitize=thread -o $@ $(BROKER_LIB_SRCS) $(BROKER_HOST_SRCS) -pthread $(BROKER_CODEC_LIBS)

# The libraries must build freestanding with clang and gcc and reference
# nothing outside themselves but the <string.h> primitives; the hosted and
# test code must also be clang -Wall -Wextra -Werror clean.
$(BROKER_B)/freestanding.stamp: $(BROKER_LIB_SRCS) $(BROKER_HOST_SRCS) $(BROKER_HDRS) mk/broker.mk \
		$(wildcard tests/host/broker/*.[ch] tests/system/broker/*.c)
	@rm -rf $(BROKER_B)/fs; mkdir -p $(BROKER_B)/fs
	@for cc in clang gcc; do for f in $(BROKER_LIB_SRCS); do \
		$$cc -std=c11 -Wall -Wextra -Werror -O2 -ffreestanding -fno-stack-protector $(LIB_INC) \
		  -c $$f -o $(BROKER_B)/fs/$$cc-$$(basename $$f .c).o || exit 1; done; done
	@nm -u $(BROKER_B)/fs/clang-*.o $(BROKER_B)/fs/gcc-*.o | awk 'NF==2{print $$2}' | sort -u > $(BROKER_B)/fs/undef.txt
	@nm --defined-only $(BROKER_B)/fs/gcc-*.o | awk 'NF==3{print $$3}' | sort -u > $(BROKER_B)/fs/def.txt
	@for f in $(BROKER_HOST_SRCS) tests/host/broker/test_*.c tests/system/broker/rdk_*.c; do \
		clang -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $(LIB_INC) $(KTH_INC) -iquote hosted -fsyntax-only $$f || exit 1; done
	@bad=$$(comm -23 $(BROKER_B)/fs/undef.txt $(BROKER_B)/fs/def.txt | grep -vxE 'memcpy|memmove|memset|memcmp|strlen'); \
	 if [ -n "$$bad" ]; then echo "freestanding libs reference: $$bad"; exit 1; fi
	@touch $@

$(BROKER_B)/test_%: tests/host/broker/test_%.c tests/host/broker/tharness.h \
		tests/host/broker/tbroker.h $(BROKER_SAN_OBJS) $(BROKER_HDRS) $(KTH_SRC) $(KTH_HDR)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_SAN) $(KTH_INC) -o $@ $< $(KTH_SRC) $(BROKER_SAN_OBJS) $(BROKER_TEST_LINK)

# The compaction tests and the compressed-batch fuzzer run the hosted codecs.
BROKER_CODEC_LINK := -iquote hosted hosted/broker/codec.c $(BROKER_CODEC_LIBS)
$(BROKER_B)/test_compact $(BROKER_B)/fuzz_zbatch: hosted/broker/codec.c hosted/broker/codec.h
$(BROKER_B)/test_compact: BROKER_TEST_LINK = $(BROKER_CODEC_LINK)
$(BROKER_B)/fuzz_zbatch: BROKER_FUZZ_LINK = $(BROKER_CODEC_LINK)

$(BROKER_B)/fuzz_%: tests/fuzz/broker/fuzz_%.c $(BROKER_FUZZ_OBJS) $(BROKER_HDRS) $(wildcard tests/fuzz/broker/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(BROKER_FUZZ_OBJS) $(BROKER_FUZZ_LINK)

# The broker-bound load generator of the loop scaling benchmark.
$(BROKER_B)/raw_loadgen: tests/system/broker/raw_loadgen.c user/storage/crc32c.c user/storage/crc32c.h
	@mkdir -p $(dir $@)
	$(HOST_CC) $(filter-out -O1,$(HOST_CFLAGS)) -O2 -o $@ $(filter %.c,$^) -pthread

$(BROKER_B)/rdk_%: tests/system/broker/rdk_%.c
	@mkdir -p $(dir $@)
	$(HOST_CC) $(filter-out -O1,$(HOST_CFLAGS)) -O2 -o $@ $< -lrdkafka -lpthread -lm

.PHONY: test-broker-unit test-broker-system bench-broker bench-broker-scaling

test-broker-unit: $(BROKER_UNIT_TESTS)
	@mkdir -p $(RESULTS)
	@KT_CASE_SECONDS=120 KT_TIMEOUT=600 bash tests/host/kernel/run.sh $(RESULTS)/broker-unit.tap $(BROKER_B)/logs $(BROKER_UNIT_TESTS)
	@if $(MAKE) --no-print-directory $(BROKER_B)/freestanding.stamp >/dev/null 2>&1; then \
		echo "ok - broker_libs_build_freestanding_and_clang_clean" >> $(RESULTS)/broker-unit.tap; \
	else echo "not ok - broker_libs_build_freestanding_and_clang_clean" >> $(RESULTS)/broker-unit.tap; fi

# Run by the one fuzz rule (mk/fuzz.mk): test-broker-fuzz, fuzz-broker.
FUZZ_GROUPS += broker
FUZZ_broker := $(BROKER_FUZZERS:$(BROKER_B)/fuzz_%=%)
FUZZ_BIN_broker := $(BROKER_B)/fuzz_%
FUZZ_SEEDGEN_broker = python3 tests/fuzz/broker/make_seeds.py $(1)
FUZZ_SEEDCHECK_broker := yes

test-broker-system: $(BROKER_SAN_BIN) $(BROKER_TSAN_BIN) $(BROKER_TOOLS)
	@mkdir -p $(RESULTS)
	@timeout 600 python3 tests/system/broker/run_system.py --broker $(BROKER_SAN_BIN) \
		--tools $(BROKER_B) --work $(BROKER_B)/system --tap $(RESULTS)/broker-system.tap --threads2 --parallel \
		--tsan-broker $(BROKER_TSAN_BIN) \
		|| echo "not ok - broker-system runner failed" >> $(RESULTS)/broker-system.tap

bench-broker: $(BROKER_BIN) $(BROKER_TOOLS) $(BROKER_B)/raw_loadgen
	@mkdir -p $(dir $(BENCH_OUT))
	python3 tests/system/broker/run_bench.py --broker $(BROKER_BIN) \
		--tools $(BROKER_B) --work $(BROKER_B)/bench --out $(BENCH_OUT)

# Only the 1- versus 2-loop figure (raw_loadgen pairs, medians; part of
# bench-broker too): docs/broker.md, "Scaling".
bench-broker-scaling: $(BROKER_BIN) $(BROKER_B)/raw_loadgen
	@mkdir -p $(dir $(BENCH_OUT))
	python3 tests/system/broker/run_bench.py --broker $(BROKER_BIN) \
		--tools $(BROKER_B) --work $(BROKER_B)/bench-scaling --out $(BENCH_OUT) --scaling-only
