# Block drivers (user/drivers: the blkdev interface, NVMe, AHCI, virtio-blk),
# the ring-3 test program blktest and its tests. See docs/drivers.md, "Block".
#
#   test-blk-unit      host unit tests of the block drivers (ASan+UBSan)
#   test-blk-fuzz      a short run of each fuzz target (NVMe completions and
#                      Identify data, AHCI IDENTIFY and completion masks,
#                      virtio-blk used rings and status bytes; mk/fuzz.mk)
#   fuzz-blk           the fuzz targets for FUZZ_SECONDS each
#   bench-blk          instructions per 4 KiB read at queue depth 1 and 32, per driver
#   test-drivers-blk   blktest under QEMU on emulated NVMe, AHCI and virtio-blk
#                      disks, polled and interrupt mode, VT-d, image checked
#                      from the host, kill -9 after a flush

BLK_INC := $(LIB_INC) -Iuser/drivers -Iuser/drivers/include
# Platform-free driver code (host-tested) and the parts that call Hallows
# directly (virtio_pci.c, drv_env.c: shared with virtio-net, mk/drivers.mk).
BLK_DRV_SRCS := user/drivers/blkdev.c user/drivers/nvme_queue.c user/drivers/nvme.c \
	user/drivers/ahci_parse.c user/drivers/ahci.c user/drivers/virtio_blk_queue.c user/drivers/virtq.c
BLK_DRV_RT_SRCS := user/drivers/virtio_blk.c user/drivers/virtio_pci.c user/drivers/drv_env.c
BLK_HDRS := $(wildcard user/drivers/*.h user/drivers/include/*.h user/apps/blktest/*.h)
BLK_B := $(B)/blk

# Ring-3 objects go through mk/user.mk's pattern rule ($(B)/user/<source>.o).
# mk/user.mk is read after this file, so its RT_OBJS is not known yet where
# prerequisites are expanded: the runtime objects are named here.
BLK_RT_OBJS := $(addprefix $(B)/user/,user/rt/crt0.o user/rt/rt.o user/rt/malloc.o user/rt/ring.o lib/string.o lib/fmt.o lib/cpio.o)
BLKTEST_SRCS := $(addprefix user/apps/blktest/,blktest.c blk_io.c blk_cases.c)
BLKTEST_OBJS := $(patsubst %.c,$(B)/user/%.o,$(BLK_DRV_SRCS) $(BLK_DRV_RT_SRCS) $(BLKTEST_SRCS))
$(B)/user/user/drivers/%.o $(B)/user/user/apps/blktest/%.o: UCFLAGS += $(BLK_INC) -Iuser/apps/blktest
$(BLKTEST_OBJS): $(BLK_HDRS)

$(B)/user/blktest: $(BLK_RT_OBJS) $(BLKTEST_OBJS) user/rt/user.ld
	$(UCC) $(ULDFLAGS) $(filter %.o,$^) -o $@

# Both compilers must accept the driver and blktest warning-free (the ring-3 build uses gcc).
BLK_CLANG_STAMP := $(BLK_B)/clang.stamp
$(BLK_CLANG_STAMP): $(BLK_DRV_SRCS) $(BLK_DRV_RT_SRCS) $(BLKTEST_SRCS) $(BLK_HDRS) $(B)/gen/include/hallows/methods.h
	@mkdir -p $(dir $@)
	@for f in $(BLK_DRV_SRCS); do clang -std=c11 -ffreestanding -Wall -Wextra -Werror $(BLK_INC) -fsyntax-only $$f || exit 1; done
	@for f in $(BLK_DRV_RT_SRCS) $(BLKTEST_SRCS); do clang -std=c11 -ffreestanding -Wall -Wextra -Werror -Wno-unused-parameter \
		$(LIB_INC) -Iinclude/uapi -Iuser/rt/include -I$(B)/gen/include $(BLK_INC) -Iuser/apps/blktest -fsyntax-only $$f || exit 1; done
	@touch $@

# A boot module per configuration: blktest as the root task plus blktest.conf.
# Padded to whole pages: with -device nvme on the command line, QEMU (7.2,
# -m 512M) placed an unpadded module so that it ended 1 KiB past the last
# usable byte (0x1ffd7400; the reserved range from 0x1ffd7000 holds the
# firmware tables, which grow with the device list), and the kernel ignored
# it ("lies outside the memory map"). Padded, it ends on the boundary.
define blk_initrd
$(BLK_B)/initrd-$(1).cpio: $(B)/user/blktest
	@rm -rf $(BLK_B)/root-$(1) && mkdir -p $(BLK_B)/root-$(1)
	cp $$< $(BLK_B)/root-$(1)/init
	printf '%s\n' '$(2)' > $(BLK_B)/root-$(1)/blktest.conf
	cd $(BLK_B)/root-$(1) && find * | LC_ALL=C sort | cpio -o -H newc --quiet > ../initrd-$(1).cpio
	truncate -s %4096 $$@
endef
$(eval $(call blk_initrd,poll,mode=poll seed=1001 kill=0))
$(eval $(call blk_initrd,irq,mode=irq seed=2002 kill=0))
$(eval $(call blk_initrd,kill,mode=irq seed=3003 kill=1))
$(eval $(call blk_initrd,bench,mode=poll seed=1 bench=1))
$(eval $(call blk_initrd,readonly,mode=poll seed=4004 readonly=1))
BLK_INITRDS := $(addprefix $(BLK_B)/initrd-,poll.cpio irq.cpio kill.cpio readonly.cpio)

$(BLK_B)/blk-check: tests/system/blk/blk_check.c user/apps/blktest/blk_pattern.h
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_SAN) -Iuser/apps/blktest $< -o $@

ALL_TARGETS += $(B)/user/blktest $(BLK_CLANG_STAMP)

# ---- host unit tests: queue logic and the controller layer against fake controllers ----
BLK_UNIT_SRCS := $(wildcard tests/host/drivers/nvme_*.c tests/host/drivers/blk_*.c)
BLK_UNIT_BIN := $(BLK_B)/blk-unit
$(BLK_UNIT_BIN): $(BLK_UNIT_SRCS) $(BLK_DRV_SRCS) $(BLK_HDRS) $(wildcard tests/host/drivers/nvme_*.h tests/host/drivers/blk_*.h) \
		$(KTH_SRC) $(KTH_HDR)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) -Wno-unused-parameter $(HOST_SAN) -DAHCI_MMIO_HOOKS $(BLK_INC) $(KTH_INC) $(BLK_UNIT_SRCS) \
		$(BLK_DRV_SRCS) $(KTH_SRC) -o $@

# ---- fuzzing: completion entries and Identify data are bytes the device writes ----
BLK_FUZZ_TARGETS := nvme_cqe nvme_identify ahci vblk
BLK_FUZZ_BINS := $(BLK_FUZZ_TARGETS:%=$(BLK_B)/fuzz/fuzz-%)
$(BLK_B)/fuzz/fuzz-nvme_cqe: tests/fuzz/drivers/nvme_cqe_fuzz.c $(BLK_DRV_SRCS) $(BLK_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(BLK_INC) $< user/drivers/nvme_queue.c user/drivers/blkdev.c -o $@
$(BLK_B)/fuzz/fuzz-nvme_identify: tests/fuzz/drivers/nvme_identify_fuzz.c tests/host/drivers/nvme_fake.c \
		tests/host/drivers/nvme_fake.h $(BLK_DRV_SRCS) $(BLK_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(BLK_INC) -Itests/host/drivers $< tests/host/drivers/nvme_fake.c $(BLK_DRV_SRCS) -o $@
$(BLK_B)/fuzz/fuzz-ahci: tests/fuzz/drivers/ahci_fuzz.c user/drivers/ahci_parse.c $(BLK_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(BLK_INC) $< user/drivers/ahci_parse.c -o $@
$(BLK_B)/fuzz/fuzz-vblk: tests/fuzz/drivers/vblk_fuzz.c user/drivers/virtio_blk_queue.c user/drivers/virtq.c $(BLK_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(BLK_INC) $< user/drivers/virtio_blk_queue.c user/drivers/virtq.c -o $@
# Run by the one fuzz rule (mk/fuzz.mk): test-blk-fuzz, fuzz-blk; no
# committed seeds (each starts from an empty corpus under build/).
FUZZ_GROUPS += blk
FUZZ_blk := $(BLK_FUZZ_TARGETS)
FUZZ_BIN_blk := $(BLK_B)/fuzz/fuzz-%
FUZZ_DIR_blk := drivers
FUZZ_TEST_SECONDS_blk ?= 4

# ---- path length per 4 KiB read (docs/benchmarks.md) ----
BENCH_STEPS += blk
.PHONY: bench-blk
bench-blk: $(B)/hallows.elf $(BLK_B)/initrd-bench.cpio
	@mkdir -p $(dir $(BENCH_OUT))
	python3 tests/system/blk/bench.py --kernel $(B)/hallows.elf --initrd $(BLK_B)/initrd-bench.cpio \
		--image $(BLK_B)/bench.img --out $(BENCH_OUT)

TEST_GROUPS += blk-unit drivers-blk
.PHONY: test-blk-unit test-drivers-blk
test-blk-unit: $(BLK_UNIT_BIN) $(BLK_CLANG_STAMP)
	@mkdir -p $(RESULTS)
	@bash tests/host/kernel/run.sh $(RESULTS)/blk-unit.tap $(BLK_B)/logs $(BLK_UNIT_BIN)

# $(KERNEL) is defined in mk/kernel.mk, read after this file.
test-drivers-blk: $(B)/hallows.elf $(BLK_INITRDS) $(BLK_B)/blk-check
	@mkdir -p $(RESULTS)
	@: > $(RESULTS)/drivers-blk.tap
	-python3 tests/system/blk/run.py --kernel $(B)/hallows.elf --dir $(BLK_B) --check $(BLK_B)/blk-check \
		--tap $(RESULTS)/drivers-blk.tap
