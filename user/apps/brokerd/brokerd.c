/*
 * brokerd: the broker appliance. One Hallows program (library OS) that
 * links the NIC driver (virtio-net), Floo on its Hallows platform, the
 * broker's transport over Floo, the broker, the log store and its
 * platform over the block-driver interface with the NVMe driver. See
 * docs/serve.md "brokerd".
 *
 * Devices: the PCI functions rt_pci_function() lists (its partition's
 * `device` lines; as the root task, every function): the first NIC a
 * driver of ours handles and the first NVMe controller. Configuration:
 * the partition's `config` lines (as the root task: etc/brokerd.conf).
 * The disk is formatted when blank (or with format=force) and recovered
 * otherwise, so a restart keeps the data.
 *
 * Zero-copy fetch: the store's buffers come from one DMA arena mapped for
 * both devices; the NVMe controller reads stored batches into it, the
 * broker references them in its response and Floo's platform hands them
 * to the NIC by physical address (floo_hallows_add_region). The CPU-copied
 * payload bytes of the fetch path are counted and reported.
 *
 * Loop: poll Floo, collect the store's flush, serve the broker; after a
 * short busy poll, idle (floo_hallows_idle_for: sleep on the NIC's
 * interrupt when nothing is timed, docs/serve.md "Idle in a partition").
 */
#include <drivers/netdev.h>
#include <hallows/rt.h>
#include <lib/cpio.h>
#include <lib/fmt.h>
#include <lib/prof.h>
#include <lib/string.h>

#include "drivers/drv_env.h"
#include "drivers/e1000.h"
#include "drivers/virtio_net.h"
#include "kafka/floo/broker_floo.h"
#include "net/hallows/floo_hallows.h"
#include "storage/blk/store_blk.h"
#include "ahci.h"
#include "config.h"
#include "nvme.h"
#include "virtio_blk.h"

#define ARENA_VA      0x600000000000ull /* the store's DMA arena, 2 MiB chunks */
#define CHUNK         (2ull << 20)
#define MAX_CHUNKS    512u
#define REPORT_MS     2000
#define BUSY_POLL_NS  200000ull
#define FLUSH_POLL_NS 100000ull /* a flush in flight: polled for after sleeps this long */

static struct {
	struct brokerd_config cfg;
	hl_cptr_t nic, disk;
	uint16_t nic_bdf, disk_bdf;
	enum { NIC_VIRTIO, NIC_E1000E, NIC_E1000 } nic_kind;
	enum { DISK_NONE, DISK_NVME, DISK_VBLK, DISK_AHCI } disk_kind;
	uint64_t arena_pa[MAX_CHUNKS];
	uint32_t chunks;
	struct nvme_ctrl ctrl;
	struct ahci_hba ahci;
	struct virtio_blk vblk;
	struct blkdev *bdev; /* the disk the store is on */
	struct store_blk sb;
	struct floo_hallows fh;
	struct store *st;
	struct broker *b;
	struct bfloo *t;
	uint64_t tsc_per_ms;
	/* TSC spent in loop iterations that found no work (empty polls, idle waits)
	 * and waiting for the disk's completions: the benchmark subtracts it from the
	 * TSC delta (docs/serve.md "Beside a Linux guest") */
	uint64_t idle_tsc;
	/* loop iterations counted as work: with frames or a flush completed; polling on with the
	 * broker's counters changed; before a sleep with them changed */
	uint64_t it_events, it_busy_work, it_sleep_work;
} g;

PROF_DEFINE;

#ifdef HL_PROF
/* The profiling build: the phases' TSC at the start of a loop iteration, so that an iteration
 * that found no work moves what it spent to PROF_IDLE, as idle_tsc counts it. */
static uint64_t prof_at_start[PROF_N];

/* The gap since the last iteration goes where that iteration went (idle or the loop). */
static void prof_iteration_start(bool prev_idle)
{
	uint64_t t = prof_tsc();

	hl_prof.tsc[prev_idle ? PROF_IDLE : hl_prof.cur] += t - hl_prof.last;
	hl_prof.last = t;
	memcpy(prof_at_start, hl_prof.tsc, sizeof(prof_at_start));
}

/* The iteration found no work: what it spent goes to idle, this bookkeeping included (left to
 * the loop, it made each empty poll look like 200 instructions of work). */
static void prof_iteration_idle(void)
{
	prof_charge();
	for (int i = 0; i < PROF_N; i++)
		if (i != PROF_IDLE && i != PROF_DISK_WAIT) {
			hl_prof.tsc[PROF_IDLE] += hl_prof.tsc[i] - prof_at_start[i];
			hl_prof.tsc[i] = prof_at_start[i];
		}
	uint64_t t = prof_tsc();
	hl_prof.tsc[PROF_IDLE] += t - hl_prof.last;
	hl_prof.last = t;
}

static void prof_report(void)
{
	static const char *const names[PROF_N] = PROF_NAMES;
	char line[1024];
	size_t n = 0;

	prof_charge();
	for (int i = 0; i < PROF_N && n < sizeof(line); i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " %s=%lu/%lu", names[i],
		                      hl_prof.tsc[i], hl_prof.calls[i]);
	/* rt_printf formats at most 511 bytes at a time: the line goes out in pieces */
	rt_printf("brokerd: prof");
	for (size_t i = 0; i < n && i < sizeof(line); i += 256)
		rt_printf("%.256s", line + i);
	rt_printf("\n");
}
#else
#define prof_iteration_start(prev_idle) ((void)(prev_idle))
#define prof_iteration_idle()           ((void)0)
#define prof_report()                   ((void)0)
#endif

/* ---- time, memory, logging for the store and the broker ---- */

static uint64_t now_ms(void *ctx)
{
	(void)ctx;
	return drv_rdtsc() / g.tsc_per_ms;
}

static uint64_t ticks(void *ctx)
{
	(void)ctx;
	return drv_rdtsc();
}

static uint64_t now_us(void *ctx)
{
	(void)ctx;
	return drv_rdtsc() / (g.tsc_per_ms / 1000 ? g.tsc_per_ms / 1000 : 1);
}

static void *heap_alloc(void *ctx, size_t n)
{
	(void)ctx;
	return rt_malloc(n);
}

/* A pointer into the store's arena goes back to the arena: a guard (the
 * broker returns store read buffers through store_read_release, but a
 * buffer freed here by mistake must not reach rt_free). */
static void heap_free(void *ctx, void *p)
{
	(void)ctx;
	if (p && store_blk_in_arena(&g.sb, p, 1))
		store_blk_free(&g.sb, p);
	else
		rt_free(p);
}

static void core_log(void *ctx, const char *what, const char *detail, long long v)
{
	(void)ctx;
	if (g.cfg.log_level >= 1)
		rt_printf("brokerd: %s %s %lld\n", what, detail, v);
}

static void nvme_log(void *ctx, const char *fmt, ...)
{
	va_list ap;

	(void)ctx;
	va_start(ap, fmt);
	rt_vprintf(fmt, ap);
	va_end(ap);
}

/* The disk driver's own pages (queues, PRP lists, command tables, identify data). */
static void *disk_dma_page(void *ctx, uint64_t *pa)
{
	void *va = NULL;

	(void)ctx;
	return drv_dma_page(g.disk, &va, pa) ? NULL : va;
}

static const struct blkdev_env disk_env = {
    .dma_page = disk_dma_page, .now_us = now_us, .log = nvme_log};

static uint64_t arena_pa(void *ctx, const void *va)
{
	uint64_t off = (uint64_t)(uintptr_t)va - ARENA_VA;

	(void)ctx;
	return g.arena_pa[off / CHUNK] + off % CHUNK;
}

/*
 * The arena: 2 MiB frames at consecutive addresses, each mapped for the
 * CPU and for both devices' DMA (the disk writes it, the NIC reads it).
 */
static long arena_make(uint32_t chunks)
{
	static hl_cptr_t frames[MAX_CHUNKS];

	if (chunks > MAX_CHUNKS)
		return HL_ERR_INVALID_ARG;
	/* every frame before any table: a 4 KiB object between two would cost 2 MiB of alignment */
	for (uint32_t i = 0; i < chunks; i++)
		if (!(frames[i] = rt_alloc(HL_OBJ_FRAME, 21)))
			return HL_ERR_NO_MEMORY;
	for (g.chunks = 0; g.chunks < chunks; g.chunks++) {
		uint64_t va = ARENA_VA + g.chunks * CHUNK;
		hl_cptr_t f = frames[g.chunks], d1 = rt_slot(), d2 = rt_slot();
		long err;
		if (!d1 || !d2)
			return HL_ERR_NO_MEMORY;
		for (int level = 3; level >= 2; level--) { /* a 2 MiB entry: no page table */
			hl_cptr_t t = rt_alloc(HL_OBJ_PAGE_TABLE, 12);
			if (!t ||
			    hl_aspace_map_table(HL_SLOT_ASPACE, t, va, (hl_word_t)level) != HL_OK)
				hl_cspace_delete(HL_SLOT_CSPACE, t);
		}
		if ((err = hl_frame_paddr(f, &g.arena_pa[g.chunks])) ||
		    (err = hl_aspace_map(HL_SLOT_ASPACE, f, va, HL_R_READ | HL_R_WRITE)) ||
		    (err = hl_cspace_copy(HL_SLOT_CSPACE, d1, f, HL_R_READ | HL_R_WRITE)) ||
		    (err = hl_pci_device_dma_map(g.disk, d1)) ||
		    (err = hl_cspace_copy(HL_SLOT_CSPACE, d2, f, HL_R_READ)) ||
		    (err = hl_pci_device_dma_map(g.nic, d2)))
			return err;
	}
	return HL_OK;
}

/* ---- devices and configuration ---- */

static int disk_kind(const struct hl_bootinfo_pci *p)
{
	if (p->class == 0x01 && p->subclass == 0x08 && p->progif == 0x02)
		return DISK_NVME;
	if (virtio_blk_matches(p->vendor, p->device))
		return DISK_VBLK;
	if (p->class == 0x01 && p->subclass == 0x06 && p->progif == 0x01)
		return DISK_AHCI;
	return DISK_NONE;
}

/*
 * The NIC: the first function virtio-net or e1000/e1000e takes. The disk:
 * the first NVMe controller, else the first virtio-blk device, else the
 * first AHCI HBA (the block-driver interface of docs/drivers.md; a q35
 * machine has its own HBA at 00:1f.2, which a root task also sees).
 */
static bool find_devices(void)
{
	struct hl_bootinfo_pci p;
	uint32_t disk_at = 0;

	for (uint32_t i = 0; rt_pci_function(i, &p); i++) {
		int k = disk_kind(&p);
		if (!g.nic &&
		    (virtio_net_matches(p.vendor, p.device) || e1000_matches(p.vendor, p.device))) {
			g.nic = rt_pci_open(i);
			g.nic_bdf = p.bdf;
			g.nic_kind = virtio_net_matches(p.vendor, p.device) ? NIC_VIRTIO
			             : p.device == 0x100e                   ? NIC_E1000
			                                                    : NIC_E1000E;
		} else if (k != DISK_NONE && (g.disk_kind == DISK_NONE || k < (int)g.disk_kind)) {
			g.disk_kind = k;
			g.disk_bdf = p.bdf;
			disk_at = i;
		}
	}
	if (g.disk_kind != DISK_NONE)
		g.disk = rt_pci_open(disk_at);
	if (!g.nic)
		rt_printf("brokerd: no network device a driver of ours handles\n");
	if (!g.disk)
		rt_printf("brokerd: no disk controller (NVMe, virtio-blk or AHCI)\n");
	return g.nic && g.disk;
}

/* Partition config entries, or etc/brokerd.conf of the boot module (root task). */
static bool read_config(void)
{
	const struct hl_partinfo *pi = rt_self.pi;
	const struct hl_bootinfo *bi = rt_self.bi;
	struct cpio_entry e;
	int line;

	brokerd_config_default(&g.cfg);
	if (!pi) {
		if (bi->initrd_size &&
		    cpio_find((const uint8_t *)bi->initrd_vaddr, bi->initrd_size,
		              "etc/brokerd.conf", &e) == CPIO_OK &&
		    (line = brokerd_config_parse((const char *)e.data, e.size, &g.cfg))) {
			rt_printf("brokerd: etc/brokerd.conf:%d: not understood\n", line);
			return false;
		}
		return true;
	}
	/* key=value strings after argv in the info page */
	const char *s = pi->strings;
	for (uint32_t i = 0; i < pi->argc + pi->nconfig; i++) {
		size_t n = strlen(s);
		if (i >= pi->argc && brokerd_config_parse(s, n, &g.cfg)) {
			rt_printf("brokerd: config %s: not understood\n", s);
			return false;
		}
		s += n + 1;
	}
	return true;
}

/* A BAR's register pages (at most 64 KiB), memory space and bus mastering on; the mapping stops
 * at the first page that is not a frame, such as an MSI-X table. Returns bytes mapped. */
static size_t disk_registers(unsigned bar, volatile void **regs)
{
	static struct drv_bar bars[6];
	hl_word_t cmd = 0;
	volatile uint8_t *va;
	size_t len;

	if (hl_pci_device_config_read(g.disk, 4, 2, &cmd) ||
	    hl_pci_device_config_write(g.disk, 4, 2, cmd | 0x6) ||
	    drv_map_bar_prefix(g.disk, bars, bar, 16 * 4096, &va, &len))
		return 0;
	*regs = va;
	return len;
}

/* The disk's driver up, polled, one queue: its first namespace, port or device. */
static bool driver_up(void)
{
	static const char *const names[] = {"", "NVMe", "virtio-blk", "AHCI"};
	volatile void *regs = NULL;
	size_t len = 0;
	int err;

	if (g.disk_kind != DISK_VBLK &&
	    !(len = disk_registers(g.disk_kind == DISK_AHCI ? 5 : 0, &regs))) {
		rt_printf("brokerd: cannot map the %s registers\n", names[g.disk_kind]);
		return false;
	}
	switch (g.disk_kind) {
	case DISK_NVME:
		err = nvme_start(&g.ctrl, regs, len, &disk_env, 1, BLKDEV_POLLED);
		g.bdev = !err && g.ctrl.nns ? &g.ctrl.ns[0].dev : NULL;
		break;
	case DISK_AHCI:
		err = ahci_start(&g.ahci, regs, len, &disk_env, BLKDEV_POLLED);
		g.bdev = !err && g.ahci.nports ? &g.ahci.port[0].dev : NULL;
		break;
	case DISK_VBLK:
		err = virtio_blk_start(&g.vblk, g.disk, g.disk_bdf, &disk_env, 1, BLKDEV_POLLED);
		g.bdev = !err ? &g.vblk.dev : NULL;
		break;
	default:
		err = BLKDEV_E_INVAL;
	}
	if (!g.bdev)
		rt_printf("brokerd: %s did not start: %s\n", names[g.disk_kind],
		          err ? blkdev_strerror(err) : "no disk");
	return g.bdev != NULL;
}

/* The disk: driver up (polled), the store's platform, the store opened. */
static bool disk_up(void)
{
	struct store_platform pl;
	int err;

	if (!driver_up())
		return false;
	struct store_blk_env env = {.arena = (uint8_t *)ARENA_VA,
	                            .arena_size = (size_t)g.chunks * CHUNK,
	                            .pa = arena_pa,
	                            .now_ms = now_ms,
	                            .log = core_log,
	                            .ticks = ticks};
	if ((err = store_blk_init(&g.sb, g.bdev, 0, &env))) {
		rt_printf("brokerd: store_blk_init: %s\n", blkdev_strerror(err));
		return false;
	}
	store_blk_fill_platform(&g.sb, &pl);
	err = store_open(&pl, g.cfg.format ? STORE_FORMAT_FORCE : STORE_FORMAT_BLANK, &g.st);
	if (err) {
		rt_printf("brokerd: cannot open the store on %s (%d): not a blank disk nor ours?\n",
		          g.bdev->name, err);
		return false;
	}
	rt_printf("brokerd: store on %s: %u topics, %lu MiB arena\n", g.bdev->name,
	          store_topic_count(g.st), (unsigned long)(g.chunks * CHUNK >> 20));
	return true;
}

/* ---- the network and the broker ---- */

static bool net_up(void)
{
	struct floo_config fc = {0};
	int err = 0;
	static const char *const names[] = {"virtio-net", "e1000e", "e1000"};
	struct netdev *nd = g.nic_kind == NIC_VIRTIO ? virtio_net_open(g.nic, g.nic_bdf, &err)
	                                             : e1000_open(g.nic, g.nic_bdf, &err);

	if (!nd) {
		rt_printf("brokerd: %s open failed: %d\n", names[g.nic_kind], err);
		return false;
	}
	/* the 82540EM has INTx only, which a partition cannot hold (docs/drivers.md) */
	if (g.nic_kind == NIC_E1000 && !g.cfg.polled) {
		rt_printf("brokerd: e1000 (82540EM) has no MSI: polled mode\n");
		g.cfg.polled = true;
	}
	rt_printf("brokerd: NIC %s at %02x:%02x.%u\n", names[g.nic_kind], g.nic_bdf >> 8,
	          (g.nic_bdf >> 3) & 31, g.nic_bdf & 7);
	floo_config_default(&fc);
	/* a 1 MiB receive window (scale 5): a bulk producer's 1 MB requests
	 * arrive without waiting for window updates (256 KiB held produce of
	 * 1 KiB records at about 34 MB/s, the guest idle 96% of the time) */
	fc.n_pbufs = 4096;
	/* virtio-net fills its receive buffers whole with a coalesced frame's
	 * bytes (mergeable buffers): a page each halves the buffers of a bulk
	 * produce, and the per-buffer work of driver, TCP, transport and CRC;
	 * the pool keeps its 8 MiB. e1000/e1000e write 2 KiB per buffer
	 * (RCTL.BSIZE): the default. (docs/decisions.md "Receive buffers of a
	 * page") */
	if (g.nic_kind == NIC_VIRTIO) {
		fc.pbuf_size = 4096;
		fc.n_pbufs = 2048;
	}
	fc.n_tcp = 256;
	fc.tcp_rcv_buf = 1u << 20;
	fc.tcp_rcv_pbufs = 640;
	fc.tcp_sndq = 256; /* a fetch response is one reference per batch */
	fc.tcp_msl_ms = 10000;
	err = floo_hallows_init(&g.fh, nd, g.nic, g.cfg.polled ? NETDEV_POLLED : NETDEV_IRQ, &fc,
	                        g.cfg.log_level);
	if (err) {
		rt_printf("brokerd: Floo did not start: %d\n", err);
		return false;
	}
	/* zero-copy=off: the arena's bytes are copied like any others, and counted */
	struct floo_hallows_region r = {.base = (const uint8_t *)ARENA_VA,
	                                .size = g.chunks * CHUNK,
	                                .contig = CHUNK,
	                                .pa = arena_pa,
	                                .copy = g.cfg.copy_fetch};
	if (floo_hallows_add_region(&g.fh, &r))
		rt_printf("brokerd: the arena is not transmitted by reference\n");
	rt_printf(
	    "brokerd: TCP segmentation offload %s, receive coalescing %s, packet buffers %u of "
	    "%u bytes\n",
	    g.fh.tso ? "on" : "off (not offered)", g.fh.rx_chain ? "on" : "off (not offered)",
	    floo_config_pbufs(g.fh.st), floo_pbuf_size(g.fh.st));
	return true;
}

static char adv_host[BROKERD_HOST_MAX];

static void print_ip(char *out, size_t cap, uint32_t a)
{
	(void)snprintf(out, cap, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

static bool broker_up(uint32_t addr)
{
	static struct broker_platform bpl;
	struct broker_config bc = {
	    .adv_host = adv_host,
	    .adv_port = g.cfg.adv_port ? g.cfg.adv_port : g.cfg.port,
	    .node_id = 1,
	    .default_parts = g.cfg.partitions,
	    .flush_ms = g.cfg.flush_ms,
	    .flush_bytes = 4u << 20,
	    .group_initial_ms = 500,
	    .max_request = 4u << 20,
	};

	if (g.cfg.adv_host[0])
		memcpy(adv_host, g.cfg.adv_host, sizeof(adv_host));
	else
		print_ip(adv_host, sizeof(adv_host), addr);
	bpl = (struct broker_platform){
	    .alloc = heap_alloc, .free = heap_free, .now_ms = now_ms, .log = core_log};
	bfloo_fill_platform(&bpl);
	if (!(g.b = broker_create(&bpl, &bc, g.st))) {
		rt_printf("brokerd: broker_create failed\n");
		return false;
	}
	struct bfloo_config tc = {.port = g.cfg.port,
	                          .max_conns = 200,
	                          .max_input = 5u << 20,
	                          .gather_bytes = (1u << 20) - (32u << 10),
	                          .gather_pbufs = 600};
	if (!(g.t = bfloo_create(g.fh.st, g.b, &bpl, &tc))) {
		rt_printf("brokerd: cannot listen on port %u\n", g.cfg.port);
		return false;
	}
	char ip[20];
	print_ip(ip, sizeof(ip), addr);
	rt_printf("brokerd: ready on %s:%u advertised %s:%d (%s mode)\n", ip, g.cfg.port, adv_host,
	          bc.adv_port, g.cfg.polled ? "polled" : "interrupt");
	return true;
}

/* Payload bytes of the fetch path the CPU copied: disk reads bounced, arena bytes copied for the
 * NIC. */
static uint64_t fetch_copied(void)
{
	return g.sb.stats.bounce_read_bytes + g.fh.stats.tx_region_copied;
}

static void report(void)
{
	const struct bfloo_stats *t = bfloo_stats(g.t);
	const struct floo_hallows_stats *f = &g.fh.stats;

	rt_printf(
	    "brokerd: conns %lu, requests in %lu B (moved %lu B, regrown %lu B), responses out "
	    "%lu B; disk read %lu B written %lu B, %lu flushes; writes asynchronous %lu (at most "
	    "%u in flight), failed %lu\n",
	    t->accepted, t->rx_bytes, t->rx_moved, t->rx_grown, t->tx_bytes, g.sb.stats.read_bytes,
	    g.sb.stats.write_bytes, g.sb.stats.flushes, g.sb.stats.async_writes,
	    g.sb.stats.max_async, store_write_errors(g.st));
	rt_printf("brokerd: fetch payload sent by reference %lu B, copied by the CPU %lu B "
	          "(disk bounce %lu, NIC copy %lu); frames rx %lu (coalesced %lu) tx %lu (TSO %lu, "
	          "copied "
	          "whole %lu), header bytes copied %lu\n",
	          f->tx_region_ref, fetch_copied(), g.sb.stats.bounce_read_bytes,
	          f->tx_region_copied, f->rx_frames, f->rx_coalesced, f->tx_frames,
	          f->tx_tso_frames, f->tx_big_copies, f->tx_copied_bytes - f->tx_region_copied);
	rt_printf(
	    "brokerd: pbufs free %u of %u, rx no pbuf %lu, tx dropped %lu, ring full %lu, rx held "
	    "%lu, faults %lu, wakeups %lu (timer %lu, idle sleeps %lu), idle calls %lu, yields "
	    "%lu\n",
	    floo_pbuf_free_count(g.fh.st), floo_config_pbufs(g.fh.st), f->rx_nopbuf, f->tx_dropped,
	    f->tx_ring_full, t->rx_held, f->faults, f->wakeups, f->timer_wakeups, f->deep_sleeps,
	    f->idle_calls, f->yields);
	rt_printf("brokerd: produce payload copied by the CPU: transport %lu B, store %lu B; "
	          "requests decoded in the receive buffers %lu B (%lu copied after all)\n",
	          t->rx_copied, store_copied_bytes(g.st), t->rx_gathered, t->rx_gather_copied);
	prof_report();
	rt_printf("brokerd: loop iterations with work: %lu with frames or a flush, %lu polling on, "
	          "%lu before a sleep\n",
	          g.it_events, g.it_busy_work, g.it_sleep_work);
	rt_printf("brokerd: cpu tsc %lu, idle tsc %lu (empty polls and waits; disk waits %lu)\n",
	          drv_rdtsc(), g.idle_tsc, g.sb.stats.wait_ticks);
}

/* The counter report is a diagnostic (log=info), not work for a client: its TSC (formatting, the
 * console) goes to idle_tsc, where the benchmark's marks do not count it. */
static uint64_t report_idle(void)
{
	uint64_t t0 = drv_rdtsc(), d;

	PROF_ENTER(PROF_IDLE);
	report();
	PROF_LEAVE();
	d = drv_rdtsc() - t0;
	g.idle_tsc += d;
	return d;
}

/* What changes when an iteration of the loop did work for a client. */
static uint64_t work_mark(void)
{
	const struct bfloo_stats *t = bfloo_stats(g.t);

	return t->rx_bytes + t->tx_bytes + t->accepted + g.sb.stats.read_bytes +
	       g.sb.stats.write_bytes + g.sb.stats.flushes + g.sb.stats.async_done;
}

/*
 * The broker's next timed work for the idle wait. With no connection, no
 * unflushed data and no flush in flight nothing it does is urgent:
 * FLOO_HALLOWS_NO_TIMER (a group's session timeouts then run at the next
 * frame). While DHCP binds, the caller passes a bound instead.
 */
static uint64_t app_timeout_ns(void)
{
	if (bfloo_conn_count(g.t) == 0 && store_unflushed_bytes(g.st) == 0 && !store_io_busy(g.st))
		return FLOO_HALLOWS_NO_TIMER;
	return (uint64_t)broker_next_timeout_ms(g.b) * 1000000ull;
}

/*
 * Idle accounting: an iteration that found no work adds its TSC to idle_tsc
 * from its start t0 to t_end, and the few instructions from there to the
 * next iteration's start (prev_idle) go with it; an iteration with work
 * adds only its disk waits.
 */
static void run(void)
{
	uint64_t last = floo_hallows_now_ns(&g.fh), next_report = last, seen = ~0ull, t_end = 0;
	bool up = false, prev_idle = false;

	if (!g.cfg.dhcp)
		up = broker_up(g.cfg.addr);
	for (;;) {
		prof_iteration_start(prev_idle);
		uint64_t t0 = drv_rdtsc(), work = up ? work_mark() : 0, w0 = g.sb.stats.wait_ticks;
		if (prev_idle)
			g.idle_tsc += t0 - t_end;
		prev_idle = false;
		uint64_t now = floo_hallows_now_ns(&g.fh);
		unsigned n = floo_hallows_poll(&g.fh);
		bool ok;
		if (!up && g.cfg.dhcp && floo_dhcp_bound(g.fh.st)) {
			up = broker_up(floo_get_ipv4(g.fh.st));
			if (!up)
				return;
		}
		if (up) {
			/* Writes ended: the store collects them. A completion nothing waits
			 * for (acks=1 was answered at the hand-over) is collected in the next turn
			 * with frames rather than in a loop turn of its own (one turn per record of
			 * a produce one at a time), at the latest when the busy poll ends. */
			if (n || now - last > BUSY_POLL_NS || broker_writes_awaited(g.b)) {
				unsigned done = store_blk_poll(&g.sb);
				/* collected before the broker reads this turn's requests: a
				 * fetch sees the data the writes made readable */
				if (done)
					(void)store_poll(g.st);
				n += done;
			}
			if (store_blk_flush_result(&g.sb, &ok))
				broker_flush_done(g.b, ok), n++;
			bfloo_service(g.t);
		}
		if (up && now >= next_report && g.cfg.log_level >= 1) { /* log=err: quiet */
			next_report = now + REPORT_MS * 1000000ull;
			uint64_t mark = g.fh.stats.rx_frames + g.sb.stats.flushes;
			if (mark != seen) {
				seen = mark;
				t0 += report_idle(); /* not again as an empty iteration */
			}
		}
		if (n) {
			last = now;
			g.it_events++;
			g.idle_tsc += g.sb.stats.wait_ticks - w0;
			continue;
		}
		/* a write in flight is polled for without sleeping, as the synchronous
		 * writes were waited for: acks=all's flush can only start after it, and
		 * a wake-up from a timed sleep costs a millisecond on a loaded host */
		if (now - last <= BUSY_POLL_NS || g.sb.async_inflight) {
			if (up && work_mark() == work) {
				prof_iteration_idle();
				g.idle_tsc += (t_end = drv_rdtsc()) - t0;
				prev_idle = true;
			} else {
				g.it_busy_work++;
				g.idle_tsc += g.sb.stats.wait_ticks - w0;
			}
			continue;
		}
		uint64_t app = up ? app_timeout_ns() : 50000000ull;
		/* the disk is polled: while a flush is in flight, sleep in short steps rather than
		 * spin (a spinning guest CPU takes the host's time from the disk's own emulation)
		 */
		if (store_blk_busy(&g.sb) && app > FLUSH_POLL_NS)
			app = FLUSH_POLL_NS;
		uint64_t mark = g.fh.stats.rx_frames + g.sb.stats.flushes;
		if (app == FLOO_HALLOWS_NO_TIMER && mark != seen) {
			seen = mark; /* the counters as they are when it may sleep until the next
			                frame */
			if (g.cfg.log_level >= 1)
				(void)report_idle();
			g.idle_tsc += g.sb.stats.wait_ticks - w0;
		} else if (!up || work_mark() == work) {
			prof_iteration_idle();
			g.idle_tsc += drv_rdtsc() - t0;
		} else {
			g.it_sleep_work++;
			g.idle_tsc += g.sb.stats.wait_ticks - w0;
		}
		uint64_t s0 = drv_rdtsc();
		floo_hallows_idle_for(&g.fh, app);
		g.idle_tsc += (t_end = drv_rdtsc()) - s0;
		prev_idle = true;
	}
}

int main(struct rt *rt)
{
	g.tsc_per_ms = rt->bi->tsc_hz / 1000 ? rt->bi->tsc_hz / 1000 : 1000000;
	if (!read_config() || !find_devices())
		return 1;
	rt_printf("brokerd: %s, restart %u\n", rt->pi ? rt->pi->name : "root task",
	          rt->pi ? rt->pi->restarts : 0);
	long err = arena_make(g.cfg.arena_mib / 2);
	if (err) {
		rt_printf("brokerd: no DMA arena of %u MiB: %ld\n", g.cfg.arena_mib, err);
		return 1;
	}
	if (!disk_up() || !net_up())
		return 1;
	if (g.cfg.dhcp)
		floo_dhcp_start(g.fh.st);
	else
		floo_set_ipv4(g.fh.st, g.cfg.addr, g.cfg.mask, g.cfg.gw);
	run();
	return 1;
}
