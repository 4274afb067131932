# Hallows serves (issue 14): the broker appliance brokerd (user/apps/brokerd:
# virtio-net + Floo on its Hallows platform + the broker's transport over
# Floo + the broker + the log store over NVMe, one ring-3 program) and the
# web appliance webd, each a manifest partition (user/init/serve.manifest).
# See docs/serve.md.
#
#   build/user/brokerd              the broker appliance (a manifest partition, or a root task)
#   build/serve/webd                webd with its files linked in (a partition sees no boot module)
#   build/initrd-serve.cpio         init + etc/manifest (serve.manifest) + webd + brokerd
#   make run                        boot both: curl http://127.0.0.1:8080/, kcat -b 127.0.0.1:9092
#                                   (WEBD_PORT, KAFKA_PORT move them; the disk build/serve-disk.img is kept),
#                                   and busybox sh on the console (the partition linux: build/serve/linux)
#   test-serve-unit                 brokerd's configuration keys (ASan+UBSan)
#   test-serve                      boot it, kcat and curl from the host, kill -9, boot again
#   fuzz-serve                      libFuzzer: brokerd's configuration text
#   bench-serve                     produce/consume through brokerd under TCG beside the hosted broker
#
# This fragment is read before net.mk, user.mk and webd.mk: their variables
# appear in prerequisites through second expansion ($$) or in recipes only.

BROKERD_SRCS := user/apps/brokerd/brokerd.c user/apps/brokerd/config.c \
	user/net/hallows/floo_hallows.c user/kafka/floo/broker_floo.c user/storage/blk/store_blk.c \
	user/drivers/virtio_blk.c \
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

# ---- the Linux personality as a partition: its file tree linked in (busybox, its applet
# links, tests/linux/root, etc/linux-run = user/linux/serve.run: busybox sh on the console) ----
$(SERVE_B)/linux-archive.cpio: user/linux/serve.run user/linux/serve.net $(shell find tests/linux/root -type f) /bin/busybox
	@rm -rf $(SERVE_B)/linux-files && mkdir -p $(SERVE_B)/linux-files/bin $(SERVE_B)/linux-files/etc
	cp -r tests/linux/root/. $(SERVE_B)/linux-files/
	cp /bin/busybox $(SERVE_B)/linux-files/bin/
	for a in $$(/bin/busybox --list); do [ -e $(SERVE_B)/linux-files/bin/$$a ] || ln -s busybox $(SERVE_B)/linux-files/bin/$$a; done
	cp user/linux/serve.run $(SERVE_B)/linux-files/etc/linux-run
	cp user/linux/serve.net $(SERVE_B)/linux-files/etc/net.conf
	cd $(SERVE_B)/linux-files && find * | LC_ALL=C sort | cpio -o -H newc --quiet > $(abspath $@)
$(SERVE_B)/linux-archive.o: $(SERVE_B)/linux-archive.cpio
	printf '\t.section .rodata\n\t.balign 16\n\t.globl lx_archive, lx_archive_end\nlx_archive:\n\t.incbin "%s"\nlx_archive_end:\n\t.section .note.GNU-stack,"",@progbits\n' \
		$(abspath $<) > $(SERVE_B)/linux-archive.S
	$(UCC) -c $(SERVE_B)/linux-archive.S -o $@
$(SERVE_B)/linux: $$(RT_OBJS) $$(patsubst %.c,$(B)/user/%.o,$$(LX_SRCS)) $$(B)/user/lib/cpio.o $$(LX_FONT) $(SERVE_B)/linux-archive.o user/rt/user.ld
	$(UCC) $(ULDFLAGS) $(filter %.o,$^) -o $@

# ---- the boot module of `make run`: the root task, the manifest, both appliances, Linux ----
INITRD_SERVE := $(B)/initrd-serve.cpio
$(INITRD_SERVE): $$(B)/user/init $(SERVE_B)/webd $(B)/user/brokerd $(SERVE_B)/linux user/init/serve.manifest
	@rm -rf $(SERVE_B)/root && mkdir -p $(SERVE_B)/root/etc
	cp user/init/serve.manifest $(SERVE_B)/root/etc/manifest
	cp $(B)/user/init $(SERVE_B)/root/init
	cp $(SERVE_B)/webd $(B)/user/brokerd $(SERVE_B)/linux $(SERVE_B)/root/
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

# ---- make run: webd and brokerd as partitions, QEMU user-mode networking ----
KAFKA_PORT ?= 9092
# The Linux personality's NIC (make run only: the manifest's copy gets the device line, QEMU
# the device): host 127.0.0.1:LINUX_PORT -> the personality's port 80 (busybox httpd).
LINUX_PORT ?= 8081
LINUX_NET = -netdev user,id=linux,hostfwd=tcp:127.0.0.1:$(LINUX_PORT)-:80 \
	-device virtio-net-pci,netdev=linux,addr=0x7
SERVE_QEMU_FLAGS = $(subst -m 512M,-m 3G,$(QEMU_RUN_FLAGS))
.PHONY: run
# The boot module `make run` boots (test-linux-screen boots it too): the appliances quiet (no
# counter reports: the console is busybox sh's), the personality with its NIC.
define make_run_initrd
	@rm -rf $(SERVE_B)/run-root && cp -r $(SERVE_B)/root $(SERVE_B)/run-root
	@sed -i 's/advertise=127.0.0.1:9092/advertise=127.0.0.1:$(KAFKA_PORT)/' $(SERVE_B)/run-root/etc/manifest
	@sed -i 's/^    config log=info$$/    config log=err/; s/^\(    config advertise=.*\)$$/\1\n    config log=err/' \
		$(SERVE_B)/run-root/etc/manifest
	@sed -i 's/^partition linux$$/partition linux\n    device at 00:07.0/' $(SERVE_B)/run-root/etc/manifest
	@cd $(SERVE_B)/run-root && find * | LC_ALL=C sort | cpio -o -H newc --quiet > ../initrd-run.cpio
	@truncate -s %4096 $(SERVE_B)/initrd-run.cpio
endef
run: deps $(KERNEL) $(INITRD_SERVE) $(SERVE_DISK)
	$(make_run_initrd)
	@echo "Hallows serves: when 'webd: ready' and 'brokerd: ready' show, from another terminal:"
	@echo "  curl http://127.0.0.1:$(WEBD_PORT)/"
	@echo "  kcat -b 127.0.0.1:$(KAFKA_PORT) -L"
	@echo "  echo hello | kcat -b 127.0.0.1:$(KAFKA_PORT) -P -t demo"
	@echo "  kcat -b 127.0.0.1:$(KAFKA_PORT) -C -t demo -e"
	@echo "The broker's disk is $(SERVE_DISK) (kept across runs)."
	@echo "The console is busybox sh on Hallows' Linux personality (press Enter when it asks), and so is the screen (its window, or the PC's: press Enter on its keyboard). Leave QEMU with Ctrl-a x."
	@echo "  In it, 'httpd -p 80 -h /etc/www' serves http://127.0.0.1:$(LINUX_PORT)/ (the personality's own NIC)."
	$(QEMU) $(SERVE_QEMU_FLAGS) -kernel $(KERNEL) -initrd $(SERVE_B)/initrd-run.cpio -append "$(CMDLINE)" \
		$(call serve_devices,$(WEBD_PORT),$(KAFKA_PORT),$(SERVE_DISK)) $(LINUX_NET)

# ---- tests ----
SERVE_UNIT_BIN := $(SERVE_B)/serve-unit
$(SERVE_UNIT_BIN): tests/host/brokerd/config_test.c user/apps/brokerd/config.c user/apps/brokerd/config.h \
		$(KTH_SRC) $(KTH_HDR)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_SAN) $(KTH_INC) tests/host/brokerd/config_test.c user/apps/brokerd/config.c \
		$(KTH_SRC) -o $@

SERVE_FUZZ_BIN := $(SERVE_B)/fuzz/fuzz-config
$(SERVE_FUZZ_BIN): tests/fuzz/brokerd/fuzz_config.c user/apps/brokerd/config.c user/apps/brokerd/config.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) tests/fuzz/brokerd/fuzz_config.c user/apps/brokerd/config.c -o $@
# Run by the one fuzz rule (mk/fuzz.mk): test-serve-fuzz, fuzz-serve.
FUZZ_GROUPS += serve
FUZZ_serve := config
FUZZ_BIN_serve := $(SERVE_FUZZ_BIN)
FUZZ_DIR_serve := brokerd
FUZZ_TEST_SECONDS_serve ?= 3

# Both compilers accept brokerd's own files (ring-3 flags).
SERVE_CLANG_STAMP := $(SERVE_B)/clang.stamp
$(SERVE_CLANG_STAMP): user/apps/brokerd/brokerd.c user/apps/brokerd/config.c $(BROKERD_HDRS) \
		$(B)/gen/include/hallows/methods.h
	@mkdir -p $(dir $@)
	@for f in $(filter %.c,$^); do \
		clang -std=c11 -ffreestanding -Wall -Wextra -Werror -Wno-unused-parameter $(LIB_INC) -Iinclude/uapi \
			-Iuser/rt/include -I$(B)/gen/include $(NET_INC) $(DRV_INC) $(BLK_INC) -fsyntax-only $$f || exit 1; done
	@touch $@
ALL_TARGETS += $(SERVE_CLANG_STAMP)

TEST_GROUPS += serve-unit serve
.PHONY: test-serve-unit test-serve
test-serve-unit: $(SERVE_UNIT_BIN) $(SERVE_CLANG_STAMP)
	@mkdir -p $(RESULTS)
	@bash tests/host/kernel/run.sh $(RESULTS)/serve-unit.tap $(SERVE_B)/logs $(SERVE_UNIT_BIN)
test-serve: $(KERNEL) $(INITRD_SERVE) $(BROKER_B)/rdk_client $(B)/serve/initrd-brokerd-bench.cpio
	@mkdir -p $(RESULTS)
	@timeout 600 python3 tests/system/serve/run.py --kernel $(KERNEL) --tap $(RESULTS)/serve.tap --rdk $(BROKER_B)/rdk_client \
		|| echo "not ok - serve: runner exited non-zero" >> $(RESULTS)/serve.tap

# ---- benchmark: brokerd under TCG beside the hosted broker, same load generator ----
BENCH_STEPS += serve
.PHONY: bench-serve
bench-serve: $(KERNEL) $(INITRD_SERVE) $(BROKER_BIN) $(BROKER_B)/rdk_loadgen
	@mkdir -p $(dir $(BENCH_OUT))
	python3 tests/system/serve/bench.py --kernel $(KERNEL) --hosted $(BROKER_BIN) \
		--loadgen $(BROKER_B)/rdk_loadgen --out $(BENCH_OUT)
