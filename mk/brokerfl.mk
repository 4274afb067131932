# The broker's Hallows-facing platform pieces (docs/broker.md, "Transport
# over Floo"; docs/log-format.md, "Store over a block device"):
#
#   build/hosted/hallows-broker-floo  the broker on Floo over a TAP device
#   test-brokerfl-floo                kcat (and librdkafka) against it in a
#                                     private network namespace
#   test-brokerfl-unit                the store over a fake block device
#                                     (ASan+UBSan), freestanding checks
#
# user/kafka/floo/broker_floo.c, broker_appl.c and user/storage/blk/store_blk.c
# are freestanding: they must build with gcc and clang -ffreestanding and
# reference only Floo, the broker, the store, blkdev and mem*.

BFL_B := $(B)/brokerfl
BFL_TRANSPORT := user/kafka/floo/broker_floo.c user/kafka/floo/broker_appl.c
# mk/net.mk is read after this file: its variables are used at recipe
# time only (recursive =); prerequisites name the files directly.
BFL_HDRS := user/kafka/floo/broker_floo.h user/kafka/floo/broker_appl.h user/storage/blk/store_blk.h \
	user/drivers/include/blkdev.h hosted/broker/floo/fileblk.h $(BROKER_HDRS) $(wildcard user/net/*.h \
	user/net/include/floo/*.h hosted/net/*.h)
BFL_HOST_SRCS := hosted/broker/floo/main.c hosted/broker/floo/fileblk.c hosted/broker/dev.c \
	hosted/broker/net.c hosted/broker/shard.c hosted/net/tap.c hosted/net/platform.c user/storage/blk/store_blk.c \
	user/drivers/blkdev.c
BFL_ALL_SRCS = $(BFL_TRANSPORT) $(BFL_HOST_SRCS) $(BROKER_LIB_SRCS) $(NET_SRCS)
BFL_DEPS := $(BFL_TRANSPORT) $(BFL_HOST_SRCS) $(BROKER_LIB_SRCS) $(wildcard user/net/*.c)
BFL_INC = $(NET_INC) -Ihosted/net -Ihosted/broker -Iuser/drivers/include

BFL_BIN := $(B)/hosted/hallows-broker-floo
BFL_SAN_BIN := $(BFL_B)/hallows-broker-floo-san

$(BFL_BIN): $(BFL_DEPS) $(BFL_HDRS) mk/brokerfl.mk $(BFL_B)/freestanding.stamp
	@mkdir -p $(dir $@)
	$(HOST_CC) $(filter-out -O1,$(HOST_CFLAGS)) -O2 $(BFL_INC) -o $@ $(BFL_ALL_SRCS) -pthread

# The broker's and Floo's sources come compiled for ASan+UBSan (mk/broker.mk,
# mk/net.mk: the objects the unit tests link; net.mk adds its own here).
$(BFL_SAN_BIN): $(BFL_DEPS) $(BFL_HDRS) mk/brokerfl.mk $(BROKER_SAN_OBJS)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_SAN) $(BFL_INC) -o $@ $(BFL_TRANSPORT) $(BFL_HOST_SRCS) \
		$(BROKER_SAN_OBJS) $(NET_SAN_OBJS) -pthread

# Freestanding with both compilers; undefined symbols limited to Floo's
# API, the broker's and the mem* primitives; hosted main clang-clean.
$(BFL_B)/freestanding.stamp: $(BFL_TRANSPORT) $(BFL_HDRS) hosted/broker/floo/main.c hosted/broker/floo/fileblk.c mk/brokerfl.mk
	@mkdir -p $(BFL_B)
	@for cc in gcc clang; do for f in $(BFL_TRANSPORT); do $$cc -std=c11 -Wall -Wextra -Werror -O2 \
		-ffreestanding -fno-stack-protector $(NET_INC) -Iuser/drivers/include -c $$f \
		-o $(BFL_B)/$$(basename $$f .c)-$$cc.o || exit 1; done; done
	@bad=$$(nm -u $(BFL_B)/broker_floo-*.o | awk 'NF==2{print $$2}' | sort -u | \
		grep -vE '^(floo_|broker_)' | grep -vxE 'memcpy|memmove|memset'); \
	 if [ -n "$$bad" ]; then echo "broker_floo.c references: $$bad"; exit 1; fi
	@bad=$$(nm -u $(BFL_B)/broker_appl-*.o | awk 'NF==2{print $$2}' | sort -u | \
		grep -vE '^(floo_|broker_|bfloo_|store_|blkdev_)' | grep -vxE 'memcpy|memmove|memset'); \
	 if [ -n "$$bad" ]; then echo "broker_appl.c references: $$bad"; exit 1; fi
	@for f in hosted/broker/floo/main.c hosted/broker/floo/fileblk.c; do \
		clang -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $(BFL_INC) -fsyntax-only $$f || exit 1; done
	@touch $@

# ---- the log store over the block-driver interface ----
BFL_SBLK := user/storage/blk/store_blk.c
BFL_SBLK_HDRS := user/storage/blk/store_blk.h user/drivers/include/blkdev.h $(BROKER_HDRS)
BFL_SBLK_TEST := $(BFL_B)/test_store_blk
$(BFL_SBLK_TEST): tests/host/storage/test_store_blk.c tests/host/broker/tharness.h $(KTH_SRC) $(KTH_HDR) $(BFL_SBLK) \
		$(BFL_SBLK_HDRS) user/drivers/blkdev.c $(BROKER_SAN_OBJS)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_SAN) -Itests/host/broker $(KTH_INC) -Iuser/drivers/include -o $@ $< $(BFL_SBLK) \
		user/drivers/blkdev.c $(filter $(BROKER_B)/obj-san/user/storage/%,$(BROKER_SAN_OBJS)) $(KTH_SRC)

$(BFL_B)/sblk-freestanding.stamp: $(BFL_SBLK) $(BFL_SBLK_HDRS) tests/host/storage/test_store_blk.c
	@mkdir -p $(BFL_B)
	@for cc in gcc clang; do $$cc -std=c11 -Wall -Wextra -Werror -O2 -ffreestanding \
		-fno-stack-protector $(LIB_INC) -Iuser/drivers/include -c $(BFL_SBLK) -o $(BFL_B)/sblk-$$cc.o || exit 1; done
	@bad=$$(nm -u $(BFL_B)/sblk-gcc.o $(BFL_B)/sblk-clang.o | awk 'NF==2{print $$2}' | sort -u | \
		grep -vxE 'memcpy|memmove|memset|blkdev_strerror'); \
	 if [ -n "$$bad" ]; then echo "store_blk.c references: $$bad"; exit 1; fi
	@clang -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $(LIB_INC) -Itests/host/broker $(KTH_INC) -Iuser/drivers/include -fsyntax-only tests/host/storage/test_store_blk.c
	@touch $@

TEST_GROUPS += brokerfl-unit
.PHONY: test-brokerfl-unit
test-brokerfl-unit: $(BFL_SBLK_TEST)
	@mkdir -p $(RESULTS)
	@KT_TIMEOUT=120 bash tests/host/kernel/run.sh $(RESULTS)/brokerfl-unit.tap $(BFL_B)/logs $(BFL_SBLK_TEST) >/dev/null
	@for s in $(BFL_B)/freestanding.stamp $(BFL_B)/sblk-freestanding.stamp; do \
		if $(MAKE) --no-print-directory $$s > $(BFL_B)/$$(basename $$s).log 2>&1; then \
			echo "ok - brokerfl-unit: $$(basename $$s .stamp) (gcc and clang -ffreestanding, symbols)"; \
		else echo "not ok - brokerfl-unit: $$(basename $$s .stamp) (see $(BFL_B)/$$(basename $$s).log)"; fi \
		>> $(RESULTS)/brokerfl-unit.tap; done
	@cat $(RESULTS)/brokerfl-unit.tap

ALL_TARGETS += $(BFL_BIN)
TEST_GROUPS += brokerfl-floo

.PHONY: test-brokerfl-floo
test-brokerfl-floo: $(BFL_SAN_BIN) $(BFL_B)/freestanding.stamp $(BROKER_B)/rdk_client
	@mkdir -p $(RESULTS)
	@timeout 300 bash tests/system/broker/floo_run.sh $(BFL_SAN_BIN) $(BROKER_B) $(RESULTS)/brokerfl-floo.tap \
		|| echo "not ok - brokerfl-floo: runner failed" >> $(RESULTS)/brokerfl-floo.tap

# ---- storetest: the store on QEMU's NVMe disk (a ring-3 root task) ----
STORETEST_SRCS := user/apps/storetest/storetest.c user/storage/blk/store_blk.c user/drivers/drv_env.c \
	$(filter user/storage/%,$(BROKER_LIB_SRCS))
STORETEST_OBJS := $(patsubst %.c,$(B)/user/%.o,$(BLK_DRV_SRCS) $(STORETEST_SRCS))
$(B)/user/user/apps/storetest/%.o $(B)/user/user/storage/%.o $(B)/user/user/storage/blk/%.o: \
	UCFLAGS += $(BLK_INC)
$(STORETEST_OBJS): $(BLK_HDRS) $(BFL_SBLK_HDRS)

$(B)/user/storetest: $(BLK_RT_OBJS) $(STORETEST_OBJS) user/rt/user.ld
	$(UCC) $(ULDFLAGS) $(filter %.o,$^) -o $@

# One boot module per phase, padded to whole pages (see mk/blk.mk).
define bfl_initrd
$(BFL_B)/initrd-store$(1).cpio: $(B)/user/storetest
	@rm -rf $(BFL_B)/root-$(1) && mkdir -p $(BFL_B)/root-$(1)
	cp $$< $(BFL_B)/root-$(1)/init
	printf '%s\n' 'phase=$(1) records=$(2)' > $(BFL_B)/root-$(1)/storetest.conf
	cd $(BFL_B)/root-$(1) && find * | LC_ALL=C sort | cpio -o -H newc --quiet > ../initrd-store$(1).cpio
	truncate -s %4096 $$@
endef
$(eval $(call bfl_initrd,1,1000))
$(eval $(call bfl_initrd,2,1000))

ALL_TARGETS += $(B)/user/storetest
TEST_GROUPS += brokerfl-store
.PHONY: test-brokerfl-store
test-brokerfl-store: $(B)/hallows.elf $(BFL_B)/initrd-store1.cpio $(BFL_B)/initrd-store2.cpio
	@mkdir -p $(RESULTS)
	@: > $(RESULTS)/brokerfl-store.tap
	@timeout 600 python3 tests/system/storage/run_storetest.py --kernel $(B)/hallows.elf --dir $(BFL_B) \
		--tap $(RESULTS)/brokerfl-store.tap || echo "not ok - brokerfl-store: runner failed" >> $(RESULTS)/brokerfl-store.tap

# ---- throughput over Floo (make bench) ----
BENCH_STEPS += brokerfl
.PHONY: bench-brokerfl
bench-brokerfl: $(BFL_BIN)
	@mkdir -p $(dir $(BENCH_OUT))
	@timeout 300 bash tests/system/broker/floo_bench.sh $(BFL_BIN) $(BENCH_OUT)
