# The broker appliance (user/apps/brokerd): virtio-net + Floo (Hallows
# platform) + the broker's transport over Floo + the broker + the log store
# over NVMe (store_blk), one ring-3 program. See docs/broker.md "brokerd".
#
#   build/user/brokerd              the program (a manifest partition, or a root task)
#   test-brokerd-unit               its configuration keys (ASan+UBSan)

BROKERD_SRCS := user/apps/brokerd/brokerd.c user/apps/brokerd/config.c \
	user/net/hallows/floo_hallows.c user/kafka/floo/broker_floo.c user/storage/blk/store_blk.c \
	$(NET_SRCS) $(BROKER_LIB_SRCS) $(DRV_SRCS) $(BLK_DRV_SRCS)
BROKERD_UOBJS := $(patsubst %.c,$(B)/user/%.o,$(sort $(BROKERD_SRCS)))
BROKERD_HDRS := $(wildcard user/apps/brokerd/*.h user/net/hallows/*.h user/kafka/floo/*.h \
	user/storage/blk/*.h) $(NET_HDRS) $(DRV_HDRS) $(BLK_HDRS) $(BROKER_HDRS)

$(BROKERD_UOBJS): UCFLAGS += $(NET_INC) $(DRV_INC) $(BLK_INC)
$(BROKERD_UOBJS): $(BROKERD_HDRS)

$(B)/user/brokerd: $(BLK_RT_OBJS) $(BROKERD_UOBJS) user/rt/user.ld
	$(UCC) $(ULDFLAGS) $(filter %.o,$^) -o $@

ALL_TARGETS += $(B)/user/brokerd

# ---- webd as a manifest partition: its files linked in (a partition sees no boot module) ----
SERVE_B := $(B)/serve
$(SERVE_B)/webd-archive.cpio: $$(B)/user/webd user/apps/webd/webd.conf $$(WEBD_WWW)
	@rm -rf $(SERVE_B)/webd-files && mkdir -p $(SERVE_B)/webd-files/etc
	cp user/apps/webd/webd.conf $(SERVE_B)/webd-files/etc/webd.conf
	cp -r user/apps/webd/www $(SERVE_B)/webd-files/www
	cd $(SERVE_B)/webd-files && find * | LC_ALL=C sort | cpio -o -H newc --quiet > $(abspath $@)
$(SERVE_B)/webd-archive.o: $(SERVE_B)/webd-archive.cpio
	printf '\t.section .rodata\n\t.balign 16\n\t.globl webd_archive, webd_archive_end\nwebd_archive:\n\t.incbin "%s"\nwebd_archive_end:\n\t.section .note.GNU-stack,"",@progbits\n' \
		$(abspath $<) > $(SERVE_B)/webd-archive.S
	$(UCC) -c $(SERVE_B)/webd-archive.S -o $@
$(SERVE_B)/webd: $$(RT_OBJS) $$(WEBD_UOBJS) $$(WEBD_DRV_UOBJS) $$(B)/user/lib/cpio.o $(SERVE_B)/webd-archive.o user/rt/user.ld
	$(UCC) $(ULDFLAGS) $(filter %.o,$^) -o $@

# ---- the boot module of `make run`: the root task, the manifest, both appliances ----
INITRD_SERVE := $(B)/initrd-serve.cpio
$(INITRD_SERVE): $$(B)/user/init $(SERVE_B)/webd $(B)/user/brokerd user/init/serve.manifest
	@rm -rf $(SERVE_B)/root && mkdir -p $(SERVE_B)/root/etc
	cp user/init/serve.manifest $(SERVE_B)/root/etc/manifest
	cp $(B)/user/init $(SERVE_B)/root/init
	cp $(SERVE_B)/webd $(B)/user/brokerd $(SERVE_B)/root/
	cd $(SERVE_B)/root && find * | LC_ALL=C sort | cpio -o -H newc --quiet > $(abspath $@)
	truncate -s %4096 $@
ALL_TARGETS += $(INITRD_SERVE)

# QEMU's devices for it: the web NIC at 00:04.0, the broker's NIC at 00:05.0 and
# NVMe disk at 00:06.0 (the addresses serve.manifest names). $(1) web port,
# $(2) Kafka port, $(3) disk image.
serve_devices = -netdev user,id=web,hostfwd=tcp:127.0.0.1:$(1)-:80 -device virtio-net-pci,netdev=web,addr=0x4 \
	-netdev user,id=kafka,hostfwd=tcp:127.0.0.1:$(2)-:9092 -device virtio-net-pci,netdev=kafka,addr=0x5 \
	-drive file=$(3),if=none,id=disk,format=raw -device nvme,drive=disk,serial=hallows-log,addr=0x6

# The broker's disk: made on first run, kept after (rm it for a blank store).
SERVE_DISK := $(B)/serve-disk.img
SERVE_DISK_SIZE ?= 512M
$(SERVE_DISK):
	@mkdir -p $(dir $@)
	truncate -s $(SERVE_DISK_SIZE) $@
