# The web appliance (user/apps/webd): virtio-net driver + Floo (user/net, on
# its Hallows platform user/net/hallows) + the HTTP/1.1 server and the
# echo/discard services, one ring-3 program; `make run` boots it.
# See docs/net.md "webd".
#
#   build/user/webd                 the program (root task of its boot module)
#   build/initrd-webd.cpio          webd + etc/webd.conf + www/ (make run)
#   build/initrd-webd-test.cpio     the same + a generated binary file (tests)
#   build/initrd-webd-dhcp.cpio     the same with address dhcp, mode polled, a fault (tests)
#   build/initrd-webd-bench.cpio    the same at 198.18.0.2/24 (TAP tests, bench)
#   make run-webd                   boot webd alone as the root task; curl http://127.0.0.1:8080/
#                                   (`make run` boots webd and brokerd as partitions: mk/serve.mk)
#   make run-demo                   the manifest demo (mk/kernel.mk)
#   test-webd-unit                  paths, content types, config, HTTP parser (ASan+UBSan)
#   test-webd                       QEMU user-mode networking, driven by curl and python3
#   fuzz-webd                       libFuzzer: HTTP request heads, request paths
#   bench-webd                      HTTP requests/s, /bytes/N throughput: webd vs hosted floo-demo

WEBD_SRCS := user/apps/webd/webd.c user/apps/webd/files.c user/net/hallows/floo_hallows.c \
	$(NET_SRCS) $(HTTP_SRCS)
WEBD_UOBJS := $(patsubst %.c,$(UOBJ)/%.o,$(WEBD_SRCS))
WEBD_DRV_UOBJS := $(patsubst %.c,$(UOBJ)/%.o,$(DRV_SRCS))
WEBD_HDRS := $(wildcard user/apps/webd/*.h user/net/hallows/*.h) $(NET_HDRS) $(DRV_HDRS)

$(WEBD_UOBJS): UCFLAGS += $(NET_INC) $(DRV_INC)
$(WEBD_UOBJS): $(WEBD_HDRS)

$(UOBJ)/webd: $(RT_OBJS) $(WEBD_UOBJS) $(WEBD_DRV_UOBJS) $(UOBJ)/lib/cpio.o user/rt/user.ld
	$(UCC) $(ULDFLAGS) $(filter %.o,$^) -o $@

WEBD_WWW := $(shell find user/apps/webd/www -type f)
INITRD_WEBD := $(B)/initrd-webd.cpio
INITRD_WEBD_TEST := $(B)/initrd-webd-test.cpio
# $(1) the cpio, $(2) its staging directory, $(3) extra commands in it
define webd_initrd
	@rm -rf $(2) && mkdir -p $(2)/etc
	cp $(UOBJ)/webd $(2)/init
	cp user/apps/webd/webd.conf $(2)/etc/webd.conf
	cp -r user/apps/webd/www $(2)/www
	$(3)
	cd $(2) && find * | LC_ALL=C sort | cpio -o -H newc --quiet > $(abspath $(1))
endef
$(INITRD_WEBD): $(UOBJ)/webd user/apps/webd/webd.conf $(WEBD_WWW)
	$(call webd_initrd,$@,$(B)/initrd-webd-root,)
# A 300 KB binary file of every byte value (seeded: the test recomputes it).
$(INITRD_WEBD_TEST): $(UOBJ)/webd user/apps/webd/webd.conf $(WEBD_WWW) tests/system/webd/blob.py
	$(call webd_initrd,$@,$(B)/initrd-webd-test-root,python3 tests/system/webd/blob.py > $(B)/initrd-webd-test-root/www/blob.bin)

# The second boot of test-webd: an address by DHCP (slirp's server), polled mode, and a
# device fault injected after 200 received frames (the driver resets, webd recovers).
INITRD_WEBD_DHCP := $(B)/initrd-webd-dhcp.cpio
$(INITRD_WEBD_DHCP): $(UOBJ)/webd user/apps/webd/webd.conf $(WEBD_WWW)
	$(call webd_initrd,$@,$(B)/initrd-webd-dhcp-root,sed -i -e 's/^address .*/address dhcp/' -e 's/^mode .*/mode polled/' $(B)/initrd-webd-dhcp-root/etc/webd.conf; echo 'test-fault-after 200' >> $(B)/initrd-webd-dhcp-root/etc/webd.conf)
# webd at 198.18.0.2 on a TAP in a namespace: test-webd's third boot and bench-webd.
INITRD_WEBD_BENCH := $(B)/initrd-webd-bench.cpio
$(INITRD_WEBD_BENCH): $(UOBJ)/webd user/apps/webd/webd.conf $(WEBD_WWW)
	$(call webd_initrd,$@,$(B)/initrd-webd-bench-root,sed -i -e 's|^address .*|address 198.18.0.2/24|' -e '/^gateway/d' $(B)/initrd-webd-bench-root/etc/webd.conf)

ALL_TARGETS += $(UOBJ)/webd $(INITRD_WEBD)

# Both compilers accept webd's own files (ring-3 flags; Floo's are checked by mk/net.mk).
WEBD_CLANG_STAMP := $(B)/webd/clang.stamp
$(WEBD_CLANG_STAMP): user/apps/webd/webd.c user/apps/webd/files.c user/net/hallows/floo_hallows.c \
		$(WEBD_HDRS) $(B)/gen/include/hallows/methods.h
	@mkdir -p $(dir $@)
	@for f in $(filter %.c,$^); do \
		clang -std=c11 -ffreestanding -Wall -Wextra -Werror -Wno-unused-parameter $(LIB_INC) -Iinclude/uapi \
			-Iuser/rt/include -I$(B)/gen/include $(NET_INC) $(DRV_INC) -fsyntax-only $$f || exit 1; done
	@touch $@
ALL_TARGETS += $(WEBD_CLANG_STAMP)

# ---- make run-webd: webd alone behind QEMU user-mode networking, host 127.0.0.1:WEBD_PORT -> guest :80 ----
WEBD_PORT ?= 8080
WEBD_NET := -netdev user,id=n0,hostfwd=tcp:127.0.0.1:$(WEBD_PORT)-:80 -device virtio-net-pci,netdev=n0
.PHONY: run-webd
run-webd: deps $(KERNEL) $(INITRD_WEBD)
	@echo "webd: when it prints 'webd: ready', try: curl http://127.0.0.1:$(WEBD_PORT)/   (leave with Ctrl-a x)"
	$(QEMU) $(QEMU_RUN_FLAGS) -kernel $(KERNEL) -initrd $(INITRD_WEBD) -append "$(CMDLINE)" $(WEBD_NET)

# ---- benchmark: HTTP requests/s and /bytes/N throughput, webd under TCG beside hosted floo-demo ----
BENCH_STEPS += webd
.PHONY: bench-webd
bench-webd: $(KERNEL) $(INITRD_WEBD_BENCH) $(B)/hosted/floo-demo $(B)/hosted/floo-bench
	python3 tools/bench_webd.py --kernel $(KERNEL) --initrd $(INITRD_WEBD_BENCH) --out $(BENCH_OUT)

# ---- host unit tests (ASan+UBSan): files.c and the HTTP parser ----
WEBD_HOST_B := $(B)/webd
WEBD_UNIT_BIN := $(WEBD_HOST_B)/webd-unit
WEBD_UNIT_SRCS := tests/host/webd/webd_test.c user/apps/webd/files.c user/net/http/http_parse.c
$(WEBD_UNIT_BIN): $(WEBD_UNIT_SRCS) $(WEBD_HDRS) $(KTH_SRC) $(KTH_HDR)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_SAN) $(NET_INC) -Iuser/apps/webd $(KTH_INC) $(WEBD_UNIT_SRCS) $(KTH_SRC) -o $@

TEST_GROUPS += webd-unit webd
.PHONY: test-webd-unit test-webd
test-webd-unit: $(WEBD_UNIT_BIN) $(WEBD_CLANG_STAMP)
	@mkdir -p $(RESULTS)
	@bash tests/host/kernel/run.sh $(RESULTS)/webd-unit.tap $(WEBD_HOST_B)/logs $(WEBD_UNIT_BIN)

test-webd: $(KERNEL) $(INITRD_WEBD_TEST) $(INITRD_WEBD_DHCP) $(INITRD_WEBD_BENCH)
	@mkdir -p $(RESULTS)
	@bash tests/system/webd/run.sh $(RESULTS)/webd.tap

# The impaired 4 MB echo of bench-net (docs/net.md, "Impaired path")
# against webd on Hallows (QEMU, TCG) instead of floo-demo.
.PHONY: bench-net-webd
bench-net-webd: $(KERNEL) $(INITRD_WEBD_BENCH) $(B)/tools/net-impair $(B)/hosted/floo-bench
	@mkdir -p $(dir $(BENCH_OUT))
	@bash tests/system/net/impaired_median.sh $(BENCH_OUT) webd hallows.webd_impaired_echo_4mb_s

# ---- fuzzing: request heads and request paths come from the network ----
WEBD_FUZZ_TARGETS := http_request webd_path
WEBD_FUZZ_BINS := $(WEBD_FUZZ_TARGETS:%=$(WEBD_HOST_B)/fuzz/fuzz-%)
$(WEBD_HOST_B)/fuzz/fuzz-%: tests/fuzz/webd/fuzz_%.c user/apps/webd/files.c user/net/http/http_parse.c $(WEBD_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(NET_INC) -Iuser/apps/webd $< user/apps/webd/files.c user/net/http/http_parse.c -o $@

# Run by the one fuzz rule (mk/fuzz.mk): test-webd-fuzz, fuzz-webd.
FUZZ_GROUPS += webd
FUZZ_webd := $(WEBD_FUZZ_TARGETS)
FUZZ_BIN_webd := $(WEBD_HOST_B)/fuzz/fuzz-%
FUZZ_TEST_SECONDS_webd ?= 3
