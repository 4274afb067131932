# The broker's Hallows-facing platform pieces (docs/broker.md, "Transport
# over Floo"; docs/log-format.md, "Store over a block device"):
#
#   build/hosted/hallows-broker-floo  the broker on Floo over a TAP device
#   test-brokerfl-floo                kcat (and librdkafka) against it in a
#                                     private network namespace
#
# user/kafka/floo/broker_floo.c is freestanding: it must build with gcc and
# clang -ffreestanding and reference only Floo, the broker and mem*.

BFL_B := $(B)/brokerfl
BFL_TRANSPORT := user/kafka/floo/broker_floo.c
# mk/net.mk is read after this file: its variables are used at recipe
# time only (recursive =); prerequisites name the files directly.
BFL_HDRS := user/kafka/floo/broker_floo.h $(BROKER_HDRS) $(wildcard user/net/*.h \
	user/net/include/floo/*.h hosted/net/*.h)
BFL_HOST_SRCS := hosted/broker/floo/main.c hosted/broker/dev.c hosted/broker/net.c \
	hosted/net/tap.c hosted/net/platform.c
BFL_ALL_SRCS = $(BFL_TRANSPORT) $(BFL_HOST_SRCS) $(BROKER_LIB_SRCS) $(NET_SRCS)
BFL_DEPS := $(BFL_TRANSPORT) $(BFL_HOST_SRCS) $(BROKER_LIB_SRCS) $(wildcard user/net/*.c)
BFL_INC = $(NET_INC) -Ihosted/net

BFL_BIN := $(B)/hosted/hallows-broker-floo
BFL_SAN_BIN := $(BFL_B)/hallows-broker-floo-san

$(BFL_BIN): $(BFL_DEPS) $(BFL_HDRS) mk/brokerfl.mk $(BFL_B)/freestanding.stamp
	@mkdir -p $(dir $@)
	$(HOST_CC) $(filter-out -O1,$(HOST_CFLAGS)) -O2 $(BFL_INC) -o $@ $(BFL_ALL_SRCS) -pthread

$(BFL_SAN_BIN): $(BFL_DEPS) $(BFL_HDRS) mk/brokerfl.mk
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_SAN) $(BFL_INC) -o $@ $(BFL_ALL_SRCS) -pthread

# Freestanding with both compilers; undefined symbols limited to Floo's
# API, the broker's and the mem* primitives; hosted main clang-clean.
$(BFL_B)/freestanding.stamp: $(BFL_TRANSPORT) $(BFL_HDRS) hosted/broker/floo/main.c mk/brokerfl.mk
	@mkdir -p $(BFL_B)
	@for cc in gcc clang; do $$cc -std=c11 -Wall -Wextra -Werror -O2 -ffreestanding \
		-fno-stack-protector $(NET_INC) -c $(BFL_TRANSPORT) -o $(BFL_B)/bfloo-$$cc.o || exit 1; done
	@bad=$$(nm -u $(BFL_B)/bfloo-gcc.o $(BFL_B)/bfloo-clang.o | awk 'NF==2{print $$2}' | sort -u | \
		grep -vE '^(floo_|broker_)' | grep -vxE 'memcpy|memmove|memset'); \
	 if [ -n "$$bad" ]; then echo "broker_floo.c references: $$bad"; exit 1; fi
	@clang -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $(BFL_INC) -fsyntax-only hosted/broker/floo/main.c
	@touch $@

ALL_TARGETS += $(BFL_BIN)
TEST_GROUPS += brokerfl-floo

.PHONY: test-brokerfl-floo
test-brokerfl-floo: $(BFL_SAN_BIN) $(BFL_B)/freestanding.stamp $(BROKER_B)/rdk_client
	@mkdir -p $(RESULTS)
	@timeout 300 bash tests/system/broker/floo_run.sh $(BFL_SAN_BIN) $(BROKER_B) $(RESULTS)/brokerfl-floo.tap \
		|| echo "not ok - brokerfl-floo: runner failed" >> $(RESULTS)/brokerfl-floo.tap
