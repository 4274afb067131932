# Linux guest for side-by-side benchmarks (tools/linux-guest, tools/bench).
#
#   make linux-guest          vmlinux + benchmark initramfs + probe kernel
#   make test-linux-harness   quick harness tests -> build/results/linux-harness.tap
#   make bench-linux-boot     boot figures     -> $(BENCH_OUT)
#   make bench-linux-micro    micro-benchmarks -> $(BENCH_OUT)
#   make bench-linux-drivers  NVMe / AHCI / virtio-blk 4 KiB reads at QD1 and QD32,
#                             virtio-net, e1000, e1000e per packet sent / received,
#                             plus the Hallows/Linux ratios -> $(BENCH_OUT)
#   make fuzz-linux-parsers   mutation-fuzz the Python parsers for $(FUZZ_SECONDS) s

LINUX_DIR := $(B)/linux-guest
LINUX_SRC := tools/linux-guest
LINUX_VMLINUX := $(LINUX_DIR)/vmlinux
LINUX_INIT := $(LINUX_DIR)/init
LINUX_INITRD := $(LINUX_DIR)/initrd.cpio
LINUX_PROBE := $(LINUX_DIR)/probe.elf
# The same /init built for the host with ASan + UBSan, run by the tests.
LINUX_INIT_SAN := $(LINUX_DIR)/init-host-san
# Debian's bzImage; empty on a fresh machine before `make deps` (the
# extractor then looks in /boot itself).
LINUX_IMAGE ?= $(lastword $(sort $(wildcard /boot/vmlinuz-*)))
LINUX_GUEST_CC ?= musl-gcc
LINUX_GUEST_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -static -Wall -Wextra -Werror
LINUX_INIT_SRCS := $(addprefix $(LINUX_SRC)/init/,lg_init.c lg_micro.c lg_pipe.c lg_signal.c lg_ring.c lg_tail.c lg_blk.c lg_net.c lg_serve.c lg_fork.c lg_crc.c) \
	user/apps/crcbench/crcbench_core.c user/storage/crc32c.c
# the crc benchmark's loop and the CRC code are the ones Hallows runs (user/apps/crcbench)
LINUX_INIT_HDRS := user/apps/crcbench/crcbench.h user/storage/crc32c.h user/storage/cpu_feat.h include/lib/prof.h
LINUX_PROBE_CFLAGS := -m32 -std=c11 -O2 -ffreestanding -fno-pic -fno-pie \
	-fno-stack-protector -mgeneral-regs-only -Wall -Wextra -Werror
LINUX_PY := $(LINUX_SRC)/extract_vmlinux.py $(LINUX_SRC)/mkinitramfs.py \
	$(LINUX_SRC)/run.py $(LINUX_SRC)/benchmarks.py tools/bench/qemu.py tools/bench/results.py

# The block benchmarks' initramfs: /init plus the Debian driver modules
# (not built into the image), numbered in modules.dep order so /init can
# load them sorted by name.
LINUX_KVER := $(patsubst vmlinuz-%,%,$(notdir $(LINUX_IMAGE)))
LINUX_MODDIR := /lib/modules/$(LINUX_KVER)/kernel
LINUX_BLK_MODS := crypto/crct10dif_common lib/crc-t10dif lib/crc64 lib/crc64-rocksoft \
	block/t10-pi drivers/nvme/host/nvme-core drivers/nvme/host/nvme \
	drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_legacy_dev \
	drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci drivers/block/virtio_blk \
	drivers/scsi/scsi_common drivers/scsi/scsi_mod drivers/scsi/sd_mod drivers/ata/libata \
	drivers/ata/libahci drivers/ata/ahci net/core/failover drivers/net/net_failover drivers/net/virtio_net \
	drivers/net/ethernet/intel/e1000/e1000 drivers/net/ethernet/intel/e1000e/e1000e
LINUX_INITRD_BLK := $(LINUX_DIR)/initrd-blk.cpio

ALL_TARGETS += $(LINUX_VMLINUX) $(LINUX_INITRD) $(LINUX_PROBE)
TEST_GROUPS += linux-harness
BENCH_STEPS += linux-boot linux-micro linux-drivers
FUZZ_STEPS += linux-parsers

.PHONY: linux-guest test-linux-harness bench-linux-boot bench-linux-micro bench-linux-drivers fuzz-linux-parsers
linux-guest: $(LINUX_VMLINUX) $(LINUX_INITRD) $(LINUX_PROBE)

$(LINUX_VMLINUX): $(LINUX_SRC)/extract_vmlinux.py $(LINUX_IMAGE)
	@mkdir -p $(@D)
	python3 $< $(if $(LINUX_IMAGE),--image $(LINUX_IMAGE)) --out $@

$(LINUX_INIT): $(LINUX_INIT_SRCS) $(LINUX_SRC)/init/lg_bench.h $(LINUX_INIT_HDRS)
	@mkdir -p $(@D)
	$(LINUX_GUEST_CC) $(LINUX_GUEST_CFLAGS) $(LIB_INC) -o $@ $(LINUX_INIT_SRCS)

$(LINUX_INITRD): $(LINUX_INIT) $(LINUX_SRC)/mkinitramfs.py
	python3 $(LINUX_SRC)/mkinitramfs.py --init $(LINUX_INIT) --out $@

$(LINUX_INITRD_BLK): $(LINUX_INIT) $(LINUX_SRC)/mkinitramfs.py $(addprefix $(LINUX_MODDIR)/,$(addsuffix .ko,$(LINUX_BLK_MODS)))
	i=10; args=; for m in $(LINUX_BLK_MODS); do \
		args="$$args --file /modules/$$i-$$(basename $$m).ko=$(LINUX_MODDIR)/$$m.ko"; i=$$((i+1)); done; \
	python3 $(LINUX_SRC)/mkinitramfs.py --init $(LINUX_INIT) $$args --out $@

$(LINUX_DIR)/probe.o: $(LINUX_SRC)/probe/probe.c
	@mkdir -p $(@D)
	gcc $(LINUX_PROBE_CFLAGS) -c $< -o $@

$(LINUX_PROBE): $(LINUX_DIR)/probe.o $(LINUX_SRC)/probe/probe.ld
	ld -m elf_i386 --no-warn-rwx-segments -nostdlib -T $(LINUX_SRC)/probe/probe.ld -o $@ $<

$(LINUX_INIT_SAN): $(LINUX_INIT_SRCS) $(LINUX_SRC)/init/lg_bench.h $(LINUX_INIT_HDRS)
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_SAN) -pthread -o $@ $(LINUX_INIT_SRCS)

test-linux-harness: linux-guest $(LINUX_INIT_SAN)
	@mkdir -p $(RESULTS)
	python3 $(LINUX_SRC)/test_harness.py --tap $(RESULTS)/linux-harness.tap

bench-linux-boot: linux-guest
	python3 $(LINUX_SRC)/benchmarks.py boot --out $(BENCH_OUT)

bench-linux-micro: linux-guest
	python3 $(LINUX_SRC)/benchmarks.py micro --out $(BENCH_OUT)

# Needs the Hallows figures (bench-blk, bench-drivers-net) first for the ratios; runs them.
bench-linux-drivers: linux-guest $(LINUX_INITRD_BLK) bench-blk bench-drivers-net
	python3 $(LINUX_SRC)/bench_drivers.py --initrd $(LINUX_INITRD_BLK) --out $(BENCH_OUT)

fuzz-linux-parsers:
	python3 $(LINUX_SRC)/fuzz_parsers.py --seconds $(FUZZ_SECONDS)
