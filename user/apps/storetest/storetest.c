/*
 * storetest: the Gringotts log store on an NVMe disk through the ring-3
 * NVMe driver and the store's block-device platform (user/storage/blk).
 * The root task of its own boot module, like blktest: it finds the NVMe
 * function in the boot info's pci[] table, maps its registers and starts
 * the driver (polled), then runs one phase named by storetest.conf:
 *
 *   phase=1  format the disk, create topic "t" with 2 partitions, append
 *            `records` records to each (half flushed synchronously, half
 *            with the asynchronous flush), read every one back and check
 *            it, print "storetest: flushed N records", then keep appending
 *            without flushing until the host kills QEMU (SIGKILL).
 *   phase=2  open the same disk (recovery), find every flushed record
 *            intact and in order, and the recovered tail consistent.
 *
 * Record (p, i): a length and bytes that depend on p and i. KTAP on the
 * serial console; QEMU exits through isa-debug-exit (0: all passed).
 */
#include <hallows/rt.h>
#include <lib/cpio.h>
#include <lib/string.h>

#include "storage/blk/store_blk.h"
#include "drv_env.h"
#include "nvme.h"

#define DMA_VA      0x600000000000ull
#define CHUNK       (2ull << 20)
#define ARENA_CHUNK 24u /* 48 MiB of DMA arena for the store */
#define PARTS       2u
#define MAXREC      6000u

static struct {
	hl_cptr_t dev;
	uint64_t dma_next;
	uint64_t arena_pa[ARENA_CHUNK];
	uint64_t records, phase;
	unsigned failed, ncase;
	struct nvme_ctrl ctrl;
	struct store_blk sb;
} g = {.dma_next = DMA_VA};

/* ---- the environment: 2 MiB DMA chunks (one mapping, one DMA capability) ---- */

static bool dma_chunk(uint64_t *pa)
{
	hl_cptr_t f = rt_alloc(HL_OBJ_FRAME, 21), dma = rt_slot();
	uint64_t va = g.dma_next;

	if (!f || !dma || hl_frame_paddr(f, pa) != HL_OK)
		return false;
	for (int level = 3; level >= 2; level--) { /* a 2 MiB entry: no page table */
		hl_cptr_t t = rt_alloc(HL_OBJ_PAGE_TABLE, 12);
		if (!t || hl_aspace_map_table(HL_SLOT_ASPACE, t, va, (hl_word_t)level) != HL_OK)
			hl_cspace_delete(HL_SLOT_CSPACE, t);
	}
	if (hl_aspace_map(HL_SLOT_ASPACE, f, va, HL_R_READ | HL_R_WRITE) != HL_OK ||
	    hl_cspace_copy(HL_SLOT_CSPACE, dma, f, HL_R_READ | HL_R_WRITE) != HL_OK ||
	    hl_pci_device_dma_map(g.dev, dma) != HL_OK)
		return false;
	g.dma_next += CHUNK;
	return true;
}

/* The driver's own pages (rings, PRP lists), after the arena. */
static uint64_t page_va, page_pa;
static unsigned page_used = 512;

static void *env_dma_page(void *ctx, uint64_t *pa)
{
	if (page_used == 512) {
		page_va = g.dma_next;
		if (!dma_chunk(&page_pa))
			return 0;
		page_used = 0;
	}
	*pa = page_pa + page_used * 4096ull;
	return (void *)(page_va + page_used++ * 4096ull);
}

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static uint64_t env_now_us(void *ctx)
{
	return rdtsc() / (rt_self.bi->tsc_hz / 1000000);
}

static uint64_t env_now_ms(void *ctx)
{
	return rdtsc() / (rt_self.bi->tsc_hz / 1000);
}

static void env_log(void *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rt_vprintf(fmt, ap);
	va_end(ap);
}

static const struct blkdev_env nvme_env = {0, env_dma_page, env_now_us, 0, 0, env_log};

/* Arena chunks are consecutive in virtual memory, each its own frame. */
static uint64_t arena_pa(void *ctx, const void *va)
{
	uint64_t off = (uint64_t)(uintptr_t)va - DMA_VA;

	return g.arena_pa[off / CHUNK] + off % CHUNK;
}

static void store_log(void *ctx, const char *what, const char *detail, long long v)
{
	rt_printf("storetest: %s %s %lld\n", what, detail, v);
}

/* ---- reporting ---- */

static void check(bool ok, const char *name)
{
	rt_printf("    %s %u %s\n", ok ? "ok" : "not ok", ++g.ncase, name);
	g.failed += !ok;
}

static void exit_qemu(unsigned code)
{
	hl_cptr_t port = rt_slot();

	if (hl_ioport_control_issue(HL_SLOT_IOPORT_CONTROL, 0xf4, 4, port) == HL_OK)
		hl_ioport_out(port, 0xf4, 1, code);
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

	if (cpio_find((const uint8_t *)bi->initrd_vaddr, bi->initrd_size, "storetest.conf", &e) !=
	    CPIO_OK)
		return;
	g.phase = conf_value((const char *)e.data, e.size, "phase");
	g.records = conf_value((const char *)e.data, e.size, "records");
	if (g.records > MAXREC)
		g.records = MAXREC;
}

static bool open_device(void)
{
	const struct hl_bootinfo *bi = rt_self.bi;
	hl_word_t cmd = 0;

	for (uint32_t i = 0; i < bi->npci; i++) {
		const struct hl_bootinfo_pci *p = &bi->pci[i];
		if (p->class == 0x01 && p->subclass == 0x08 && p->progif == 0x02) {
			g.dev = rt_slot();
			if (hl_pci_control_issue(HL_SLOT_PCI_CONTROL, i, g.dev))
				return false;
			hl_pci_device_config_read(g.dev, 4, 2, &cmd);
			return hl_pci_device_config_write(g.dev, 4, 2, cmd | 0x6) == HL_OK;
		}
	}
	rt_printf("storetest: no NVMe controller in the PCI table\n");
	return false;
}

/* BAR 0's register pages (at most 64 KiB; the MSI-X pages of the same BAR never become frames:
 * the mapping ends at the first refused). Returns the mapped length (0 on failure). */
static size_t map_registers(volatile void **regs)
{
	static struct drv_bar bars[6];
	volatile uint8_t *va;
	size_t len;

	if (drv_map_bar_prefix(g.dev, bars, 0, 16 * 4096, &va, &len))
		return 0;
	*regs = va;
	return len;
}

/* Driver up and the store's platform over namespace 1, queue 0. */
static bool start(struct store_platform *pl)
{
	volatile void *regs = 0;
	size_t len;
	int err;

	if (!open_device() || !(len = map_registers(&regs)))
		return false;
	for (unsigned i = 0; i < ARENA_CHUNK; i++)
		if (!dma_chunk(&g.arena_pa[i]))
			return false;
	if ((err = nvme_start(&g.ctrl, regs, len, &nvme_env, 1, BLKDEV_POLLED)) || !g.ctrl.nns) {
		rt_printf("storetest: the driver did not start: %s\n", blkdev_strerror(err));
		return false;
	}
	struct store_blk_env env = {.arena = (uint8_t *)DMA_VA,
	                            .arena_size = ARENA_CHUNK * CHUNK,
	                            .pa = arena_pa,
	                            .now_ms = env_now_ms,
	                            .log = store_log};
	if ((err = store_blk_init(&g.sb, &g.ctrl.ns[0].dev, 0, &env))) {
		rt_printf("storetest: store_blk_init: %s\n", blkdev_strerror(err));
		return false;
	}
	store_blk_fill_platform(&g.sb, pl);
	return true;
}

/* ---- records ---- */

static uint8_t recbuf[16384];

static uint32_t rec(uint32_t p, uint32_t i, uint8_t *out)
{
	uint32_t len = 64 + (i * 7919u + p * 104729u) % 4000u;

	for (uint32_t k = 0; k < len; k++)
		out[k] = (uint8_t)(i * 31u + p * 7u + k);
	return len;
}

/* Records of partition p that are intact and in order from offset 0;
 * *total gets how many the partition holds (its high-water mark). */
static uint32_t verify(struct store *st, uint32_t p, uint64_t *total)
{
	struct store_part *part = store_part_get(st, 0, p);
	struct store_read r;
	uint64_t off = 0;
	uint32_t good = 0;

	*total = part ? store_part_hwm(part) : 0;
	while (part && off < *total && store_read(st, part, off, 1u << 20, &r) == 0 && r.n) {
		for (uint32_t k = 0; k < r.n; k++, off++) {
			uint32_t len = rec(p, (uint32_t)off, recbuf);
			if (r.len[k] != len || memcmp(r.ptr[k], recbuf, len))
				break;
			good++;
		}
		off = r.next_offset;
		store_read_release(st, &r);
	}
	return good;
}

static int append(struct store *st, uint32_t from, uint32_t to)
{
	for (uint32_t i = from; i < to; i++)
		for (uint32_t p = 0; p < PARTS; p++) {
			int err = store_append(st, store_part_get(st, 0, p), recbuf,
			                       rec(p, i, recbuf), 1, (int64_t)i);
			if (err)
				return err;
		}
	return 0;
}

/* The asynchronous writes and flush on the real device: start them, poll
 * for their ends (the flush goes to the device once the writes it covers
 * have completed: store_poll submits it). */
static bool flush_async(struct store *st)
{
	uint64_t want = store_flush_next(st);
	bool ok = false;

	if (store_write_pending(st) || store_flush_start(st))
		return false;
	for (uint64_t spins = 0; spins < 100000000ull; spins++) {
		(void)store_blk_poll(&g.sb);
		(void)store_poll(st);
		if (store_blk_flush_result(&g.sb, &ok)) {
			store_flush_done(st, ok);
			break;
		}
	}
	return ok && store_flush_gen(st) >= want && g.sb.stats.async_writes > 0;
}

static void phase1(struct store *st)
{
	uint32_t half = (uint32_t)g.records / 2, good = 0;
	uint64_t total = 0;

	check(store_topic_create(st, "t", 1, PARTS) == 0, "topic_created");
	check(append(st, 0, half) == 0 && store_write_pending(st) == 0 && store_flush(st) == 0,
	      "first_half_appended_and_flushed");
	check(append(st, half, (uint32_t)g.records) == 0 && flush_async(st),
	      "second_half_appended_and_flushed_asynchronously");
	for (uint32_t p = 0; p < PARTS; p++)
		good += verify(st, p, &total);
	check(good == PARTS * g.records, "every_record_read_back_intact");
	check(g.sb.stats.bounce_read_bytes == 0 && g.sb.stats.read_bytes > 0,
	      "read_path_zero_bytes_copied_by_cpu");
	check(g.sb.stats.max_inflight > 1, "several_requests_in_flight");
	rt_printf("storetest: read %lu bytes by DMA, %lu copied by the CPU; %lu requests, "
	          "at most %u in flight; %lu flushes; arena peak %u of %u pages\n",
	          (unsigned long)g.sb.stats.read_bytes, (unsigned long)g.sb.stats.bounce_read_bytes,
	          (unsigned long)g.sb.stats.requests, g.sb.stats.max_inflight,
	          (unsigned long)g.sb.stats.flushes, g.sb.stats.arena_peak, g.sb.stats.arena_pages);
	rt_printf("storetest: flushed %lu records\n", (unsigned long)g.records);
	/* Unflushed appends until the host kills QEMU: a torn tail to recover. */
	for (uint32_t i = (uint32_t)g.records; i < g.records + 400; i++)
		if (append(st, i, i + 1) || store_write_pending(st))
			break;
	rt_printf("storetest: stopped appending\n");
	for (;;)
		hl_thread_suspend(HL_SLOT_THREAD);
}

static void phase2(struct store *st)
{
	uint64_t total[PARTS] = {0};
	uint32_t good[PARTS];
	bool all = true, consistent = true;

	check(store_topic_find(st, "t", 1) == 0 && store_topic_parts(st, 0) == PARTS,
	      "topic_recovered");
	for (uint32_t p = 0; p < PARTS; p++) {
		good[p] = verify(st, p, &total[p]);
		all &= good[p] >= g.records;
		consistent &= good[p] == total[p];
		rt_printf("storetest: partition %u: %lu records recovered, %u intact\n", p,
		          (unsigned long)total[p], good[p]);
	}
	check(all, "every_flushed_record_recovered");
	check(consistent, "recovered_tail_is_whole_records_only");
	check(g.sb.stats.bounce_read_bytes == 0, "recovery_reads_copied_nothing");
	/* The store takes appends again after recovery, and they survive a flush. */
	uint32_t next = (uint32_t)total[0];
	struct store_part *p0 = store_part_get(st, 0, 0);
	check(store_append(st, p0, recbuf, rec(0, next, recbuf), 1, next) == 0 &&
	          store_write_pending(st) == 0 && store_flush(st) == 0 &&
	          verify(st, 0, &total[0]) == next + 1,
	      "append_after_recovery");
}

int main(struct rt *rt)
{
	struct store_platform pl;
	struct store *st = 0;
	int err;

	read_conf();
	rt_printf("storetest: phase %lu, %lu records per partition\n", (unsigned long)g.phase,
	          (unsigned long)g.records);
	if (!start(&pl)) {
		rt_printf("storetest: could not reach the device\n");
		exit_qemu(1);
		return 1;
	}
	rt_printf("KTAP version 1\n1..1\n    # Subtest: store\n");
	err = store_open(&pl, g.phase == 1 ? STORE_FORMAT_FORCE : 0, &st);
	check(err == 0, g.phase == 1 ? "store_formatted" : "store_opened_and_recovered");
	if (!err && g.phase == 1)
		phase1(st);
	if (!err && g.phase == 2)
		phase2(st);
	if (st)
		store_close(st);
	err = nvme_stop(&g.ctrl);
	check(!err, "controller_shuts_down");
	rt_printf("    1..%u\n%s 1 store\n", g.ncase, g.failed ? "not ok" : "ok");
	rt_printf("# storetest: %u cases, %u failed\n", g.ncase, g.failed);
	exit_qemu(g.failed ? 1 : 0);
	return 0;
}
