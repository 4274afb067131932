# Floo network stack (user/net), its Linux-hosted platform (hosted/net) and
# tests. See docs/net.md.
#
#   build/hosted/floo-demo      demo daemon on a TAP device
#   test-net-unit               host unit tests (ASan+UBSan)
#   test-net-fuzz               libFuzzer targets, a few seconds each
#   test-net-system             namespace tests against the Linux stack
#   bench-net                   TCP rr/latency/bulk vs a Linux server

NET_SRCS := $(addprefix user/net/,util.c pbuf.c stack.c eth.c arp.c ipv4.c \
	ip_frag.c icmp.c udp.c tcp.c tcp_api.c tcp_input.c tcp_in.c tcp_rcv.c \
	tcp_out.c tcp_timer.c tcp_cc.c tcp_bbr.c tcp_sack.c tcp_rack.c dhcp.c socket.c vnet.c)
NET_HDRS := $(wildcard user/net/*.h user/net/include/floo/*.h)
# The HTTP/1.1 server and the echo/discard services both floo-demo and webd
# use (freestanding, like Floo).
HTTP_SRCS := user/net/http/http_parse.c user/net/http/http_server.c user/net/services/services.c
NET_INC := $(LIB_INC) -Iuser/net/include -Iuser/net
NET_B := $(B)/net
# The library itself is freestanding C11.
NET_LIB_CFLAGS := -std=c11 -ffreestanding -Wall -Wextra -Werror -Wshadow \
	-Wstrict-prototypes -O2 -g $(NET_INC)

NET_OBJS := $(patsubst user/net/%.c,$(NET_B)/lib/%.o,$(NET_SRCS))
NET_LIB := $(NET_B)/libfloo.a

$(NET_B)/lib/%.o: user/net/%.c $(NET_HDRS)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(NET_LIB_CFLAGS) -c $< -o $@

$(NET_LIB): $(NET_OBJS)
	@rm -f $@
	ar rcs $@ $^

# Both compilers must accept the library warning-free.
NET_CLANG_STAMP := $(NET_B)/clang.stamp
$(NET_CLANG_STAMP): $(NET_SRCS) $(HTTP_SRCS) $(NET_HDRS) $(wildcard hosted/net/*.c hosted/net/*.h)
	@mkdir -p $(dir $@)
	@for f in $(NET_SRCS) $(HTTP_SRCS); do clang $(NET_LIB_CFLAGS) -fsyntax-only $$f || exit 1; done
	@clang $(NET_HOSTED_CFLAGS) -fsyntax-only hosted/net/*.c
	@touch $@

NET_HOSTED_SRCS := hosted/net/tap.c hosted/net/platform.c
NET_DEMO_SRCS := hosted/net/floo_demo.c hosted/net/demo_http.c $(HTTP_SRCS)
NET_HOSTED_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g $(NET_INC) -Ihosted/net

$(B)/hosted/floo-demo: $(NET_LIB) $(NET_HOSTED_SRCS) $(NET_DEMO_SRCS) $(wildcard hosted/net/*.h) $(NET_CLANG_STAMP)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(NET_HOSTED_CFLAGS) $(NET_HOSTED_SRCS) $(NET_DEMO_SRCS) $(NET_LIB) -o $@

ALL_TARGETS += $(NET_LIB) $(B)/hosted/floo-demo

.PHONY: net
net: $(B)/hosted/floo-demo

# ---- unit tests (ASan + UBSan), library compiled from source ----
# The stack compiled once for ASan+UBSan: the unit tests and brokerfl's
# sanitizer broker (mk/brokerfl.mk, read before this file) link the same objects.
NET_SAN_OBJS := $(patsubst user/net/%.c,$(NET_B)/obj-san/%.o,$(NET_SRCS))
$(NET_B)/obj-san/%.o: user/net/%.c $(NET_HDRS)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_SAN) $(NET_INC) -c $< -o $@
$(BFL_SAN_BIN): $(NET_SAN_OBJS)
NET_UNIT_SRCS := $(wildcard tests/host/net/*.c)
NET_UNIT_BIN := $(NET_B)/net-unit
$(NET_UNIT_BIN): $(NET_SAN_OBJS) $(NET_UNIT_SRCS) $(NET_HDRS) $(wildcard tests/host/net/*.h) $(KTH_SRC) $(KTH_HDR)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_SAN) $(NET_INC) -Itests/host/net $(KTH_INC) $(NET_SAN_OBJS) $(NET_UNIT_SRCS) $(KTH_SRC) -o $@

TEST_GROUPS += net-unit net-system
.PHONY: test-net-unit test-net-system
test-net-unit: $(NET_UNIT_BIN)
	@mkdir -p $(RESULTS)
	@KT_TIMEOUT=120 bash tests/host/kernel/run.sh $(RESULTS)/net-unit.tap $(NET_B)/logs $(NET_UNIT_BIN)

test-net-system: $(B)/hosted/floo-demo $(B)/tools/net-impair
	@mkdir -p $(RESULTS)
	@bash tests/system/net/run.sh $(RESULTS)/net-system.tap

# ---- fuzzing: one libFuzzer binary per receive path ----
NET_FUZZ_TARGETS := eth arp ipv4 icmp udp tcp dhcp vnet
NET_FUZZ_ID_eth := 0
NET_FUZZ_ID_arp := 1
NET_FUZZ_ID_ipv4 := 2
NET_FUZZ_ID_icmp := 3
NET_FUZZ_ID_udp := 4
NET_FUZZ_ID_tcp := 5
NET_FUZZ_ID_dhcp := 6
NET_FUZZ_ID_vnet := 7
NET_FUZZ_BINS := $(addprefix $(NET_B)/fuzz/fuzz-,$(NET_FUZZ_TARGETS))

# The stack compiled once for libFuzzer and linked into all eight (each used
# to compile the 22 sources itself); only fuzz_net.c differs (FUZZ_PROTO).
NET_FUZZ_OBJS := $(patsubst user/net/%.c,$(NET_B)/obj-fuzz/%.o,$(NET_SRCS))
$(NET_B)/obj-fuzz/%.o: user/net/%.c $(NET_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(NET_INC) -c $< -o $@
$(NET_B)/fuzz/fuzz-%: tests/fuzz/net/fuzz_net.c $(NET_FUZZ_OBJS) $(NET_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(NET_INC) -DFUZZ_PROTO=$(NET_FUZZ_ID_$*) $< $(NET_FUZZ_OBJS) -o $@

# Run by the one fuzz rule (mk/fuzz.mk): test-net-fuzz, fuzz-net.
FUZZ_GROUPS += net
FUZZ_net := $(NET_FUZZ_TARGETS)
FUZZ_BIN_net := $(NET_B)/fuzz/fuzz-%
FUZZ_TEST_SECONDS_net ?= 3
FUZZ_SEEDGEN_net = python3 tests/fuzz/net/gen_seeds.py $(1)
FUZZ_SEEDCHECK_net := yes

# ---- benchmarks ----
$(B)/hosted/floo-bench: hosted/net/floo_bench.c
	@mkdir -p $(dir $@)
	$(HOST_CC) $(NET_HOSTED_CFLAGS) $< -o $@

ALL_TARGETS += $(B)/hosted/floo-bench
BENCH_STEPS += net
.PHONY: bench-net
bench-net: $(B)/hosted/floo-demo $(B)/hosted/floo-bench $(B)/tools/net-impair
	@mkdir -p $(dir $(BENCH_OUT))
	@bash tests/system/net/bench.sh $(BENCH_OUT)

# ---- impairing forwarder (tools/net-impair.c): loss, reordering,
# duplication and delay between two TAP devices, where netem is missing ----
$(B)/tools/net-impair: tools/net-impair.c
	@mkdir -p $(dir $@)
	$(HOST_CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g $< -o $@
	@clang -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fsyntax-only $<

ALL_TARGETS += $(B)/tools/net-impair
