# Ring-3 drivers (user/drivers), the netecho responder (user/apps/netecho)
# and their tests. See docs/drivers.md.
#
#   build/user/netecho              the responder (root task of its boot module)
#   build/initrd-netecho-*.cpio     netecho + etc/netecho.conf, one per mode
#   test-drivers-unit               virtqueue logic and the responder on Linux (ASan+UBSan)
#   test-drivers-fuzz               libFuzzer: device-written used rings and e1000 descriptors, received frames
#   test-drivers-net                QEMU virtio-net <-> Linux over a TAP device in a namespace
#   test-drivers-e1000              the same with QEMU's e1000 and e1000e
#
# This fragment is read before kernel.mk and user.mk (mk/*.mk in name
# order), so prerequisites naming their variables use second expansion.
.SECONDEXPANSION:

DRV_UOBJ := $(B)/user
DRV_INC := -Iuser/drivers/include
DRV_SRCS := user/drivers/e1000.c user/drivers/e1000_ring.c user/drivers/virtq.c user/drivers/virtio_pci.c user/drivers/virtio_net.c user/drivers/virtio_net_dev.c \
	user/drivers/virtio_net_hdr.c \
	user/drivers/drv_env.c
NETECHO_SRCS := user/apps/netecho/netecho.c user/apps/netecho/responder.c user/apps/netecho/bench.c \
	user/apps/netecho/tso.c
DRV_HDRS := $(wildcard user/drivers/*.h user/drivers/include/drivers/*.h user/apps/netecho/*.h)
DRV_UOBJS := $(patsubst %.c,$(DRV_UOBJ)/%.o,$(DRV_SRCS) $(NETECHO_SRCS))

$(DRV_UOBJS): UCFLAGS += $(DRV_INC)
$(DRV_UOBJS): $(DRV_HDRS)

$(DRV_UOBJ)/netecho: $$(RT_OBJS) $(DRV_UOBJS) $(DRV_UOBJ)/lib/cpio.o user/rt/user.ld
	$(UCC) $(ULDFLAGS) $(filter %.o,$^) -o $@

# One boot module per configuration: netecho as the root task, and its etc/netecho.conf.
NETECHO_MODES := polled irq vtd fault fault-id tso mq bench bench-irq
NETECHO_CONF_polled := ip 198.18.0.2\nmode polled\ncsum soft\n
NETECHO_CONF_irq := ip 198.18.0.2\nmode irq\ncsum offload\n
NETECHO_CONF_vtd := ip 198.18.0.2\nmode irq\ncsum soft\n
NETECHO_CONF_fault := ip 198.18.0.2\nmode irq\ncsum soft\nfault-after 5\n
NETECHO_CONF_fault-id := ip 198.18.0.2\nmode polled\ncsum soft\nfault-after 5\nfault-kind id\n
NETECHO_CONF_tso := ip 198.18.0.2\nmode polled\ncsum offload\ntso-peer 198.18.0.1\ntso-port 5001\ntso-bytes 4000\n
NETECHO_CONF_mq := ip 198.18.0.2\nmode irq\ncsum soft\n
NETECHO_CONF_bench := mode polled\nbench 1000\n
NETECHO_CONF_bench-irq := mode irq\nbench 200\n
NETECHO_INITRDS := $(NETECHO_MODES:%=$(B)/initrd-netecho-%.cpio)
$(B)/initrd-netecho-%.cpio: $(DRV_UOBJ)/netecho mk/drivers.mk
	@rm -rf $(B)/initrd-netecho-$*-root && mkdir -p $(B)/initrd-netecho-$*-root/etc
	cp $< $(B)/initrd-netecho-$*-root/init
	printf '$(NETECHO_CONF_$*)' > $(B)/initrd-netecho-$*-root/etc/netecho.conf
	cd $(B)/initrd-netecho-$*-root && find * | LC_ALL=C sort | cpio -o -H newc --quiet > ../initrd-netecho-$*.cpio

ALL_TARGETS += $(DRV_UOBJ)/netecho

# Both compilers accept the driver code warning-free (freestanding, ring-3 flags).
DRV_CLANG_STAMP := $(B)/drivers/clang.stamp
$(DRV_CLANG_STAMP): $(DRV_SRCS) $(NETECHO_SRCS) $(DRV_HDRS) $$(B)/gen/include/hallows/methods.h
	@mkdir -p $(dir $@)
	@for f in $(DRV_SRCS) $(NETECHO_SRCS); do \
		clang -std=c11 -ffreestanding -Wall -Wextra -Werror -Wno-unused-parameter $(LIB_INC) -Iinclude/uapi \
			-Iuser/rt/include -I$(B)/gen/include $(DRV_INC) -fsyntax-only $$f || exit 1; done
	@touch $@
ALL_TARGETS += $(DRV_CLANG_STAMP)

# ---- host unit tests: the virtqueue against a fake device, the responder ----
DRV_HOST_B := $(B)/drivers
DRV_UNIT_BIN := $(DRV_HOST_B)/drivers-unit
DRV_UNIT_SRCS := tests/host/drivers/main.c tests/host/drivers/virtq_test.c tests/host/drivers/responder_test.c \
	tests/host/drivers/virtio_net_hdr_test.c user/drivers/virtq.c user/drivers/virtio_net_hdr.c \
	user/apps/netecho/responder.c tests/host/drivers/e1000_ring_test.c user/drivers/e1000_ring.c \
	tests/host/drivers/gone_test.c tests/host/drivers/pci_fake.c user/drivers/e1000.c \
	user/drivers/virtio_pci.c user/drivers/virtio_net.c user/drivers/virtio_net_dev.c \
	user/drivers/virtio_blk.c user/drivers/virtio_blk_queue.c user/drivers/blkdev.c
# gone_test.c: the drivers that call the kernel, over the fake function of pci_fake.c
# (tests/host/drivers/hlfake/hallows/rt.h stands in for the runtime's header).
$(DRV_UNIT_BIN): $(DRV_UNIT_SRCS) $(DRV_HDRS) $(KTH_SRC) $(KTH_HDR) tests/host/drivers/pci_fake.h \
		tests/host/drivers/hlfake/hallows/rt.h $(wildcard user/drivers/include/*.h)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_SAN) $(DRV_INC) -Iuser/drivers -Iuser/apps/netecho \
		-Itests/host/drivers/hlfake -Wno-unused-parameter $(KTH_INC) $(DRV_UNIT_SRCS) $(KTH_SRC) -o $@

TEST_GROUPS += drivers-unit
.PHONY: test-drivers-unit
test-drivers-unit: $(DRV_UNIT_BIN) $(DRV_CLANG_STAMP)
	@mkdir -p $(RESULTS)
	@bash tests/host/kernel/run.sh $(RESULTS)/drivers-unit.tap $(DRV_HOST_B)/logs $(DRV_UNIT_BIN)

# ---- system test: netecho in QEMU answers ARP and ping from a namespace ----
TEST_GROUPS += drivers-net
.PHONY: test-drivers-net
test-drivers-net: $(B)/hallows.elf $(NETECHO_INITRDS)
	@mkdir -p $(RESULTS)
	@bash tests/system/drivers/net.sh $(RESULTS)/drivers-net.tap

# ---- fuzzing: what a device or the network writes ----
DRV_FUZZ_TARGETS := responder virtq vnet_hdr e1000_ring
DRV_FUZZ_SRCS_responder := tests/fuzz/drivers/fuzz_responder.c user/apps/netecho/responder.c
DRV_FUZZ_SRCS_virtq := tests/fuzz/drivers/fuzz_virtq.c user/drivers/virtq.c
DRV_FUZZ_SRCS_vnet_hdr := tests/fuzz/drivers/fuzz_vnet_hdr.c user/drivers/virtio_net_hdr.c
DRV_FUZZ_SRCS_e1000_ring := tests/fuzz/drivers/fuzz_e1000_ring.c user/drivers/e1000_ring.c
DRV_FUZZ_BINS := $(DRV_FUZZ_TARGETS:%=$(DRV_HOST_B)/fuzz/fuzz-%)

$(DRV_HOST_B)/fuzz/fuzz-%: $$(DRV_FUZZ_SRCS_$$*) $(DRV_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(DRV_INC) -Iuser/drivers -Iuser/apps/netecho $(DRV_FUZZ_SRCS_$*) -o $@

# Run by the one fuzz rule (mk/fuzz.mk): test-drivers-fuzz, fuzz-drivers.
FUZZ_GROUPS += drivers
FUZZ_drivers := $(DRV_FUZZ_TARGETS)
FUZZ_BIN_drivers := $(DRV_HOST_B)/fuzz/fuzz-%
FUZZ_TEST_SECONDS_drivers ?= 5

# ---- benchmark: driver instructions per packet under TCG -icount shift=0 ----
BENCH_STEPS += drivers-net
.PHONY: bench-drivers-net
bench-drivers-net: $(B)/hallows.elf $(B)/initrd-netecho-bench.cpio $(B)/initrd-netecho-bench-irq.cpio
	python3 tools/bench_drivers_net.py --kernel $(B)/hallows.elf --initrd $(B)/initrd-netecho-bench.cpio \
		--irq-initrd $(B)/initrd-netecho-bench-irq.cpio --out $(BENCH_OUT)

# ---- system test: the same responder on QEMU's e1000 and e1000e (tests/system/drivers/e1000.sh) ----
TEST_GROUPS += drivers-e1000
.PHONY: test-drivers-e1000
test-drivers-e1000: $(B)/hallows.elf $(B)/initrd-netecho-polled.cpio $(B)/initrd-netecho-irq.cpio \
		$(B)/initrd-netecho-vtd.cpio $(B)/initrd-netecho-fault.cpio $(B)/initrd-netecho-fault-id.cpio
	@mkdir -p $(RESULTS)
	@bash tests/system/drivers/e1000.sh $(RESULTS)/drivers-e1000.tap
