# Issue 14's benchmark: the appliances beside the same code in a Linux guest
# (tests/system/serve/bench_linux.py, docs/serve.md "Beside a Linux guest").
#
#   build/linux-guest/hallows-broker     the hosted broker (hosted/broker), linked statically
#   build/linux-guest/initrd-serve.cpio  the benchmark /init (`serve`), the nvme and virtio_net
#                                        modules, the broker, busybox httpd and webd's www/
#   build/serve/initrd-brokerd-bench.cpio  brokerd as the root task at 198.18.0.2/24
#   build/serve/initrd-crcbench.cpio     user/apps/crcbench as the root task: CRC-32C MB/s beside
#                                        the Linux guest's `crc` (lg_crc.c), the same loop and
#                                        user/storage/crc32c.c, in the same QEMU configuration
#   make bench-serve-linux               both on virtio-net on a TAP in a namespace the bench
#                                        makes and on QEMU NVMe, -icount shift=0, the same
#                                        host load generators -> $(BENCH_OUT)
#   make bench-serve-linux-perf          the broker phases and the CRC figures with `perf record`
#                                        of QEMU over produce 1 KiB: the vCPU's share in helper_crc32
#   build/user-prof/brokerd              brokerd built with -DHL_PROF (include/lib/prof.h):
#                                        TSC per phase (driver, Floo, Kafka, CRC, store, disk...)
#   make bench-serve-profile             the broker phases on Hallows only, with that build:
#                                        instructions per record per phase -> $(BENCH_OUT)

SERVE_LINUX_BROKER := $(LINUX_DIR)/hallows-broker
SERVE_LINUX_INITRD := $(LINUX_DIR)/initrd-serve.cpio
SERVE_BROKERD_BENCH_INITRD := $(B)/serve/initrd-brokerd-bench.cpio
BUSYBOX ?= /bin/busybox

# gcc and glibc, statically: musl's headers lack <linux/fs.h> (BLKGETSIZE64).
$(SERVE_LINUX_BROKER): $(BROKER_LIB_SRCS) $(BROKER_HOST_SRCS) $(BROKER_HDRS) mk/serve-linux.mk
	@mkdir -p $(@D)
	$(HOST_CC) $(filter-out -O1 -g,$(HOST_CFLAGS)) -O2 -static -o $@ $(BROKER_LIB_SRCS) $(BROKER_HOST_SRCS) \
		-pthread $(BROKER_CODEC_LIBS) -lstdc++ -lm

$(SERVE_LINUX_INITRD): $(LINUX_INIT) $(SERVE_LINUX_BROKER) $(LINUX_SRC)/mkinitramfs.py $(shell find user/apps/webd/www -type f) \
		$(addprefix $(LINUX_MODDIR)/,$(addsuffix .ko,$(LINUX_BLK_MODS)))
	@test -x $(BUSYBOX) || { echo "$(BUSYBOX) missing: make deps installs busybox-static"; exit 1; }
	i=10; args=; for m in $(LINUX_BLK_MODS); do \
		args="$$args --file /modules/$$i-$$(basename $$m).ko=$(LINUX_MODDIR)/$$m.ko"; i=$$((i+1)); done; \
	for f in $$(cd user/apps/webd/www && find . -type f | sed 's|^\./||' | LC_ALL=C sort); do \
		args="$$args --file /www/$$f=user/apps/webd/www/$$f"; done; \
	python3 $(LINUX_SRC)/mkinitramfs.py --init $(LINUX_INIT) $$args --file /broker=$(SERVE_LINUX_BROKER) \
		--file /bin/busybox=$(BUSYBOX) --out $@

$(SERVE_BROKERD_BENCH_INITRD): $(B)/user/brokerd mk/serve-linux.mk
	@rm -rf $(B)/serve/brokerd-bench-root && mkdir -p $(B)/serve/brokerd-bench-root/etc
	cp $(B)/user/brokerd $(B)/serve/brokerd-bench-root/init
	printf 'address=198.18.0.2/24\nport=9092\nadvertise=198.18.0.2:9092\npartitions=4\nflush-ms=1000\narena-mib=32\nmode=irq\n' \
		> $(B)/serve/brokerd-bench-root/etc/brokerd.conf
	cd $(B)/serve/brokerd-bench-root && find * | LC_ALL=C sort | cpio -o -H newc --quiet > $(abspath $@)
	truncate -s %4096 $@

# brokerd's own crc32c.o (the same object), the shared loop, the root-task main
CRCBENCH_UOBJS := $(addprefix $(B)/user/user/,apps/crcbench/crcbench.o apps/crcbench/crcbench_core.o \
	storage/crc32c.o)
SERVE_CRCBENCH_INITRD := $(B)/serve/initrd-crcbench.cpio
$(B)/user/crcbench: $$(RT_OBJS) $(CRCBENCH_UOBJS) user/rt/user.ld
	$(UCC) $(ULDFLAGS) $(filter %.o,$^) -o $@
$(SERVE_CRCBENCH_INITRD): $(B)/user/crcbench
	@rm -rf $(B)/serve/crcbench-root && mkdir -p $(B)/serve/crcbench-root
	cp $< $(B)/serve/crcbench-root/init
	cd $(B)/serve/crcbench-root && find * | LC_ALL=C sort | cpio -o -H newc --quiet > $(abspath $@)
	truncate -s %4096 $@
ALL_TARGETS += $(B)/user/crcbench

BENCH_STEPS += serve-linux
.PHONY: bench-serve-linux
SERVE_LINUX_BENCH := python3 tests/system/serve/bench_linux.py --kernel $(KERNEL) \
	--vmlinux $(LINUX_VMLINUX) --linux-initrd $(SERVE_LINUX_INITRD) \
	--brokerd-initrd $(SERVE_BROKERD_BENCH_INITRD) --crc-initrd $(SERVE_CRCBENCH_INITRD) \
	--loadgen $(BROKER_B)/rdk_loadgen --out $(BENCH_OUT)
bench-serve-linux: $(KERNEL) $(LINUX_VMLINUX) $(SERVE_LINUX_INITRD) $(SERVE_BROKERD_BENCH_INITRD) \
		$(B)/initrd-webd-bench.cpio $(BROKER_B)/rdk_loadgen $(SERVE_CRCBENCH_INITRD)
	@mkdir -p $(dir $(BENCH_OUT))
	$(SERVE_LINUX_BENCH) --webd-initrd $(B)/initrd-webd-bench.cpio

.PHONY: bench-serve-linux-perf
bench-serve-linux-perf: $(KERNEL) $(LINUX_VMLINUX) $(SERVE_LINUX_INITRD) $(SERVE_BROKERD_BENCH_INITRD) \
		$(BROKER_B)/rdk_loadgen $(SERVE_CRCBENCH_INITRD)
	@mkdir -p $(dir $(BENCH_OUT))
	$(SERVE_LINUX_BENCH) --no-web --perf

# ---- the profiling build of brokerd (HL_PROF): the same sources, objects of their own ----
PROF_UOBJ := $(B)/user-prof
BROKERD_PROF_OBJS = $(patsubst $(B)/user/%,$(PROF_UOBJ)/%,$(BLK_RT_OBJS) $(BROKERD_UOBJS))
SERVE_BROKERD_PROF_INITRD := $(B)/serve/initrd-brokerd-prof.cpio

$(PROF_UOBJ)/%.o: %.c $(B)/gen/include/hallows/methods.h $$(BROKERD_HDRS) include/lib/prof.h
	@mkdir -p $(dir $@)
	$(UCC) $(UCFLAGS) $(NET_INC) $(DRV_INC) $(BLK_INC) -DHL_PROF -c $< -o $@
$(PROF_UOBJ)/%.o: %.S
	@mkdir -p $(dir $@)
	$(UCC) -D__ASSEMBLER__ -Iinclude -c $< -o $@
-include $(shell find $(PROF_UOBJ) -name '*.d' 2>/dev/null)

$(PROF_UOBJ)/brokerd: $$(BROKERD_PROF_OBJS) user/rt/user.ld
	$(UCC) $(ULDFLAGS) $(filter %.o,$^) -o $@

$(SERVE_BROKERD_PROF_INITRD): $(PROF_UOBJ)/brokerd $(SERVE_BROKERD_BENCH_INITRD)
	@rm -rf $(B)/serve/brokerd-prof-root && mkdir -p $(B)/serve/brokerd-prof-root/etc
	cp $(PROF_UOBJ)/brokerd $(B)/serve/brokerd-prof-root/init
	cp $(B)/serve/brokerd-bench-root/etc/brokerd.conf $(B)/serve/brokerd-prof-root/etc/
	cd $(B)/serve/brokerd-prof-root && find * | LC_ALL=C sort | cpio -o -H newc --quiet > $(abspath $@)
	truncate -s %4096 $@

.PHONY: bench-serve-profile
bench-serve-profile: $(KERNEL) $(SERVE_BROKERD_PROF_INITRD) $(BROKER_B)/rdk_loadgen
	@mkdir -p $(dir $(BENCH_OUT))
	python3 tests/system/serve/bench_linux.py --kernel $(KERNEL) --only hallows --no-web --profile \
		--brokerd-initrd $(SERVE_BROKERD_PROF_INITRD) --loadgen $(BROKER_B)/rdk_loadgen --out $(BENCH_OUT)
