/*
 * blktest: the root task of its own boot module. Finds a disk controller
 * in the boot info's pci[] table (an NVMe controller first, then a
 * virtio-blk function, then an AHCI HBA with a disk), maps its registers,
 * starts its driver in the mode blktest.conf names, and writes a pattern (a function
 * of the seed and the block number: blk_pattern.h) across the whole
 * device with many requests in flight, reads it back, checks the edges,
 * random blocks, the largest request and the errors, and flushes. The
 * host checks the disk image afterwards (tests/system/blk/).
 *
 * blktest.conf (in the boot module): "mode=poll|irq seed=N kill=0|1
 * bench=0|1 readonly=0|1". With kill=1 it stops after "blktest: flush
 * completed" and waits for the host to kill QEMU; bench=1 prints path
 * lengths instead of testing; readonly=1 expects a disk that refuses
 * writes (QEMU readonly=on).
 */
#include <lib/cpio.h>
#include <lib/fmt.h>
#include <lib/string.h>

#include "blktest.h"

struct blktest bt = {.dma_next = DMA_VA, .seed = 1};

/* ---- the driver's environment on Hallows ---- */

/*
 * DMA pages are carved from 2 MiB frames, each mapped here (one 2 MiB
 * mapping) and, through a copy of its capability, for the controller's
 * DMA (docs/devices.md): two capabilities per 512 pages, where 4 KiB frames
 * would need two per page and outrun the root task's 4,096 slots.
 */
static uint64_t chunk_va, chunk_pa, chunk_used = 512;

static bool dma_chunk(void)
{
	hl_cptr_t f = rt_alloc(HL_OBJ_FRAME, 21), dma = rt_slot();
	uint64_t va = bt.dma_next;

	if (!f || !dma || hl_frame_paddr(f, &chunk_pa) != HL_OK)
		return false;
	for (int level = 3; level >= 2;
	     level--) { /* a page directory, but no page table: the frame is one entry */
		hl_cptr_t t = rt_alloc(HL_OBJ_PAGE_TABLE, 12);
		if (!t || hl_aspace_map_table(HL_SLOT_ASPACE, t, va, (hl_word_t)level) != HL_OK)
			hl_cspace_delete(HL_SLOT_CSPACE, t);
	}
	if (hl_aspace_map(HL_SLOT_ASPACE, f, va, HL_R_READ | HL_R_WRITE) != HL_OK ||
	    hl_cspace_copy(HL_SLOT_CSPACE, dma, f, HL_R_READ | HL_R_WRITE) != HL_OK ||
	    hl_pci_device_dma_map(bt.dev, dma) != HL_OK)
		return false;
	chunk_va = va, chunk_used = 0;
	bt.dma_next += 2ull << 20;
	return true;
}

void *bt_dma_page(void *ctx, uint64_t *pa)
{
	if (chunk_used == 512 && !dma_chunk())
		return 0;
	*pa = chunk_pa + chunk_used * 4096;
	return (void *)(chunk_va + chunk_used++ * 4096);
}

uint64_t bt_now_us(void *ctx)
{
	return bt_rdtsc() / (rt_self.bi->tsc_hz / 1000000);
}

/* One notification per MSI-X entry, so a wait on one queue is not woken by another's interrupt. */
static int env_irq_bind(void *ctx, unsigned vector, unsigned cpu)
{
	hl_cptr_t irq = rt_slot(), n;

	if (vector > NVME_MAX_IOQ)
		return BLKDEV_E_INVAL;
	if (bt.ntfn[vector])
		return BLKDEV_OK; /* bound by an earlier start */
	if (!(n = rt_alloc(HL_OBJ_NOTIFICATION, 0)) ||
	    hl_pci_device_msi(bt.dev, vector, cpu % rt_self.bi->ncpus, irq) ||
	    hl_irq_handler_set_notification(irq, n))
		return BLKDEV_E_DEVICE;
	bt.ntfn[vector] = n;
	return BLKDEV_OK;
}

/* Blocks on the notification: the kernel has no timed wait yet, so timeout_us is not honoured here.
 */
static int env_irq_wait(void *ctx, unsigned vector, uint64_t timeout_us)
{
	hl_word_t info = 0, badge = 0;
	struct hl_msg m = {{0}};

	if (hl_syscall(HL_SYS_RECV, bt.ntfn[vector], &info, &m, &badge) != HL_OK)
		return BLKDEV_E_DEVICE;
	bt.irq_wakeups++;
	return 0;
}

static void env_log(void *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rt_vprintf(fmt, ap);
	va_end(ap);
}

static const struct blkdev_env env = {0,      bt_dma_page, bt_now_us, env_irq_bind, env_irq_wait,
                                      env_log};

/* ---- reporting (KTAP, one suite) ---- */

void bt_check(bool ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (!ok) {
		rt_printf("        # %s: ", name);
		va_start(ap, fmt);
		rt_vprintf(fmt, ap);
		va_end(ap);
		rt_printf("\n");
	}
	rt_printf("    %s %u %s\n", ok ? "ok" : "not ok", ++bt.ncase, name);
	bt.failed += !ok;
}

uint64_t bt_rnd(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13, x ^= x >> 7, x ^= x << 17;
	return *state = x;
}

/* ---- configuration and the device ---- */

static uint64_t conf_value(const char *text, size_t len, const char *key)
{
	size_t k = strlen(key);

	for (size_t i = 0; i + k < len; i++)
		if ((i == 0 || text[i - 1] == ' ' || text[i - 1] == '\n') &&
		    !memcmp(text + i, key, k) && text[i + k] == '=') {
			uint64_t v = 0;
			for (i += k + 1; i < len && text[i] >= '0' && text[i] <= '9'; i++)
				v = v * 10 + (uint64_t)(text[i] - '0');
			return v;
		}
	return 0;
}

static void read_conf(void)
{
	const struct hl_bootinfo *bi = rt_self.bi;
	struct cpio_entry e;

	if (cpio_find((const uint8_t *)bi->initrd_vaddr, bi->initrd_size, "blktest.conf", &e) !=
	    CPIO_OK)
		return;
	const char *t = (const char *)e.data;
	for (size_t i = 0; i + 8 <= e.size; i++)
		if (!memcmp(t + i, "mode=irq", 8))
			bt.irq = true;
	bt.seed = conf_value(t, e.size, "seed");
	bt.kill = conf_value(t, e.size, "kill") != 0;
	bt.bench = conf_value(t, e.size, "bench") != 0;
	bt.readonly = conf_value(t, e.size, "readonly") != 0;
}

/*
 * Map the register pages of a memory BAR (at most 64 KiB): QEMU keeps the
 * MSI-X table and PBA in the same BAR and those pages never become frames
 * (docs/devices.md), so the mapping ends at the first page refused
 * (drv_map_bar_prefix). Returns the mapped length (0 on failure).
 */
static size_t map_registers(unsigned bar, volatile void **regs)
{
	static struct drv_bar bars[6];
	volatile uint8_t *va;
	size_t len;

	if (drv_map_bar_prefix(bt.dev, bars, bar, 16 * 4096, &va, &len))
		return 0;
	*regs = va;
	return len;
}

static bool is_kind(const struct hl_bootinfo_pci *p, enum bt_kind k)
{
	switch (k) {
	case BT_NVME:
		return p->class == 0x01 && p->subclass == 0x08 && p->progif == 0x02;
	case BT_VIRTIO_BLK:
		return virtio_blk_matches(p->vendor, p->device);
	case BT_AHCI:
		return p->class == 0x01 && p->subclass == 0x06 && p->progif == 0x01;
	}
	return false;
}

static const char *const kind_name[] = {"NVMe controller", "AHCI HBA", "virtio-blk device"};
static const char *const kind_drv[] = {"nvme", "ahci", "virtio_blk"};

/*
 * The first function of the first kind present, in the order NVMe,
 * virtio-blk, AHCI (q35 always has its own AHCI HBA at 00:1f.2, with or
 * without a disk, so it comes last).
 */
static bool open_device(uint16_t *bdf)
{
	const struct hl_bootinfo *bi = rt_self.bi;
	static const enum bt_kind order[] = {BT_NVME, BT_VIRTIO_BLK, BT_AHCI};
	hl_word_t cmd = 0;

	for (unsigned k = 0; k < 3; k++)
		for (uint32_t i = 0; i < bi->npci; i++) {
			const struct hl_bootinfo_pci *p = &bi->pci[i];
			if (!is_kind(p, order[k]))
				continue;
			bt.kind = order[k], bt.drv = kind_drv[order[k]], *bdf = p->bdf;
			bt.dev = rt_slot();
			if (hl_pci_control_issue(HL_SLOT_PCI_CONTROL, i, bt.dev))
				return false;
			rt_printf("blktest: %s %04x:%04x at %02x:%02x.%u\n", kind_name[bt.kind],
			          p->vendor, p->device, p->bdf >> 8, (p->bdf >> 3) & 31,
			          p->bdf & 7);
			hl_pci_device_config_read(bt.dev, 4, 2, &cmd);
			return hl_pci_device_config_write(bt.dev, 4, 2, cmd | 0x6) ==
			       HL_OK; /* memory space, bus master */
		}
	rt_printf("blktest: no disk controller in the PCI table\n");
	return false;
}

/* ---- the driver in use ---- */

unsigned bt_resets(void)
{
	unsigned n = 0;

	switch (bt.kind) {
	case BT_NVME:
		return bt.ctrl.resets;
	case BT_VIRTIO_BLK:
		return bt.vblk.resets;
	case BT_AHCI:
		for (unsigned i = 0; i < bt.ahci.nports; i++)
			n += bt.ahci.port[i].resets;
	}
	return n;
}

int bt_recover(struct blkdev *d, const char *why)
{
	switch (bt.kind) {
	case BT_NVME:
		return nvme_recover(&bt.ctrl, why);
	case BT_VIRTIO_BLK:
		return virtio_blk_recover(&bt.vblk, why);
	case BT_AHCI:
		return ahci_port_recover(d->priv, why);
	}
	return BLKDEV_E_INVAL;
}

/* Whether the device has finished every request in flight (peeking, not reaping). */
bool bt_all_posted(struct blkdev *d)
{
	switch (bt.kind) {
	case BT_NVME:
		for (unsigned q = 0; q < bt.ctrl.nio; q++) {
			const struct nvme_qpair *qp = &bt.ctrl.io[q];
			unsigned posted = 0;
			for (unsigned i = qp->cq_head, ph = qp->phase; posted < qp->inflight;
			     posted++) {
				if (NVME_CQE_PHASE(qp->cq[i].status) != ph)
					break;
				if (++i == qp->depth)
					i = 0, ph ^= 1;
			}
			if (posted < qp->inflight)
				return false;
		}
		return true;
	case BT_VIRTIO_BLK:
		for (unsigned q = 0; q < bt.vblk.nq; q++)
			if (virtq_used_pending(&bt.vblk.q[q].q) != bt.vblk.q[q].q.inflight)
				return false;
		return true;
	case BT_AHCI: {
		struct ahci_port *p = d->priv;
		volatile uint32_t *ci = (volatile uint32_t *)(p->regs + AHCI_PX_CI);
		volatile uint32_t *sact = (volatile uint32_t *)(p->regs + AHCI_PX_SACT);
		return p->nfifo == 0 && (*ci | *sact) == 0;
	}
	}
	return true;
}

/* Start the driver; the disks in disks[] (at most max), their count in *n. */
static int start_driver(uint16_t bdf, unsigned want, struct blkdev **disks, unsigned max,
                        unsigned *n)
{
	enum blkdev_mode mode = bt.irq ? BLKDEV_INTERRUPT : BLKDEV_POLLED;
	volatile void *regs = 0;
	size_t len;
	int err;

	*n = 0;
	switch (bt.kind) {
	case BT_NVME:
		if (!(len = map_registers(0, &regs)))
			return BLKDEV_E_DEVICE;
		if ((err = nvme_start(&bt.ctrl, regs, len, &env, want, mode)))
			return err;
		for (unsigned i = 0; i < bt.ctrl.nns && *n < max; i++)
			disks[(*n)++] = &bt.ctrl.ns[i].dev;
		return BLKDEV_OK;
	case BT_AHCI:
		if (!(len = map_registers(5, &regs)))
			return BLKDEV_E_DEVICE;
		if ((err = ahci_start(&bt.ahci, regs, len, &env, mode)))
			return err;
		for (unsigned i = 0; i < bt.ahci.nports && *n < max; i++)
			disks[(*n)++] = &bt.ahci.port[i].dev;
		return BLKDEV_OK;
	case BT_VIRTIO_BLK:
		if ((err = virtio_blk_start(&bt.vblk, bt.dev, bdf, &env, want, mode)))
			return err;
		disks[(*n)++] = &bt.vblk.dev;
		return BLKDEV_OK;
	}
	return BLKDEV_E_INVAL;
}

static int stop_driver(void)
{
	switch (bt.kind) {
	case BT_NVME:
		return nvme_stop(&bt.ctrl);
	case BT_AHCI:
		return ahci_stop(&bt.ahci);
	case BT_VIRTIO_BLK:
		return virtio_blk_stop(&bt.vblk);
	}
	return BLKDEV_E_INVAL;
}

static void exit_qemu(unsigned code)
{
	hl_cptr_t port = rt_slot();

	if (hl_ioport_control_issue(HL_SLOT_IOPORT_CONTROL, 0xf4, 4, port) == HL_OK)
		hl_ioport_out(port, 0xf4, 1, code);
}

int main(struct rt *rt)
{
	struct blkdev *disks[8];
	unsigned ndisks = 0;
	uint16_t bdf = 0;

	read_conf();
	bt.rng = bt.seed * 2654435761u + 88172645463325252ull;
	rt_printf("blktest: mode %s, seed %lu%s\n", bt.irq ? "irq" : "poll", (unsigned long)bt.seed,
	          bt.kill ? ", waits to be killed after the flush" : "");
	if (!open_device(&bdf) || !bt_alloc_slots()) {
		rt_printf("blktest: could not reach the device\n");
		exit_qemu(1);
		return 1;
	}
	/*
	 * One queue per CPU; with interrupts, no more than the MSI-X entries
	 * (NVMe: after the admin queue's). AHCI has one queue per disk and MSI.
	 */
	hl_word_t msi = 0;
	hl_pci_device_info(bt.dev, NULL, NULL, NULL, &msi);
	unsigned want = rt->bi->ncpus, spare = bt.kind == BT_NVME ? 1 : 0;
	if (bt.irq && bt.kind != BT_AHCI && msi >> 16 < want + spare)
		want = msi >> 16 > spare ? (unsigned)(msi >> 16) - spare : 0;
	if (bt.irq && bt.kind == BT_AHCI && !(msi & 1))
		want = 0;
	int err = want ? start_driver(bdf, want, disks, 8, &ndisks) : BLKDEV_E_UNSUPPORTED;
	if (err || ndisks == 0) {
		rt_printf("blktest: the driver did not start: %s\n",
		          err ? blkdev_strerror(err) : "no disk");
		exit_qemu(1);
		return 1;
	}
	struct blkdev *d = disks[0];
	if (bt.bench) {
		bt_bench(d);
		exit_qemu(0);
		return 0;
	}
	rt_printf("KTAP version 1\n1..1\n    # Subtest: blk\n");
	if (bt.readonly) {
		bt_readonly_disk(d);
		goto done;
	}
	bt_whole_device(d, "");
	for (unsigned i = 1; i < ndisks;
	     i++) { /* every other namespace or disk, its own block size */
		char suffix[32];
		snprintf(suffix, sizeof(suffix), "_%s", disks[i]->name);
		bt_whole_device(disks[i], suffix);
	}
	if (bt.kill) {
		bt_flush(d);
		for (;;)
			hl_thread_suspend(HL_SLOT_THREAD);
	}
	bt_edges_and_random(d);
	bt_largest_requests(d);
	bt_queues_on_two_cpus(d);
	bt_reset_in_flight(d);
	bt_bad_requests(d);
	bt_device_errors(d);
	bt_write_zeroes(d);
	bt_flush(d);
	if (bt.irq)
		bt_check(bt.irq_wakeups > 0, "completions_came_by_interrupt",
		         "no wait ended by an interrupt");
	rt_printf("        # %lu waits ended by an interrupt\n", (unsigned long)bt.irq_wakeups);
done:
	err = stop_driver();
	bt_check(!err, "controller_shuts_down", "%s", blkdev_strerror(err));
	rt_printf("    1..%u\n%s 1 blk\n", bt.ncase, bt.failed ? "not ok" : "ok");
	/* One reset is the test's own (reset_with_requests_in_flight); any other means the device
	 * misbehaved. */
	rt_printf("# blktest: %u cases, %u failed, %u unexpected controller resets\n", bt.ncase,
	          bt.failed, bt_resets() - bt.planned_resets);
	exit_qemu(bt.failed ? 1 : 0);
	return 0;
}
