/*
 * blktest: the root task of its own boot module. Finds the NVMe function
 * in the boot info's pci[] table, maps its registers, starts the NVMe
 * driver in the mode blktest.conf names, and writes a pattern (a function
 * of the seed and the block number: blk_pattern.h) across the whole
 * device with many requests in flight, reads it back, checks the edges,
 * random blocks, the largest request and the errors, and flushes. The
 * host checks the disk image afterwards (tests/system/blk/).
 *
 * blktest.conf (in the boot module): "mode=poll|irq seed=N kill=0|1".
 * With kill=1 it stops after "blktest: flush completed" and waits for the
 * host to kill QEMU.
 */
#include <hallows/rt.h>
#include <lib/cpio.h>
#include <lib/fmt.h>
#include <lib/string.h>

#include "blk_pattern.h"
#include "nvme.h"

#define DMA_VA     0x600000000000ull /* DMA pages: rings, PRP lists, data buffers */
#define QD         32                /* requests in flight */
#define SLOT_PAGES 64                /* data pages per in-flight request */
#define WAIT_US    10000000u

struct slot {
	struct blkdev_req req;
	uint8_t *va;
	uint64_t pages[SLOT_PAGES + 1];
	bool busy, done;
};

static struct {
	hl_cptr_t dev;
	hl_cptr_t ntfn[NVME_MAX_IOQ + 1];
	uint64_t dma_next;
	uint64_t seed;
	bool irq, kill, bench;
	unsigned failed, ncase;
	uint64_t irq_wakeups; /* interrupt mode: waits ended by an interrupt */
	struct nvme_ctrl ctrl;
	struct slot slot[QD];
	uint64_t rng;
} bt = {.dma_next = DMA_VA, .seed = 1};

/* ---- the driver's environment on Hallows ---- */

static void *env_dma_page(void *ctx, uint64_t *pa)
{
	hl_cptr_t f = rt_alloc(HL_OBJ_FRAME, 12);
	uint64_t va = bt.dma_next;

	if (!f || hl_frame_paddr(f, pa) != HL_OK ||
	    rt_map_frame(HL_SLOT_ASPACE, f, va, HL_R_READ | HL_R_WRITE))
		return 0;
	bt.dma_next += 4096;
	return (void *)va;
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

static const struct nvme_env env = {0,      env_dma_page, env_now_us, env_irq_bind, env_irq_wait,
                                    env_log};

/* ---- reporting (KTAP, one suite) ---- */

static void check(bool ok, const char *name, const char *fmt, ...)
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

static uint64_t rnd(uint64_t *state)
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
}

/*
 * Map BAR 0's register pages: the BAR's device memory is cut into 4 KiB
 * pieces first, because QEMU keeps the MSI-X table and PBA in the same BAR
 * and those pages never become frames (docs/devices.md); the mapping ends
 * at the first page refused. Returns the mapped length (0 on failure).
 */
static size_t map_registers(volatile void **regs)
{
	hl_word_t base = 0, size = 0, flags = 0;
	hl_cptr_t mem = rt_slot();

	if (hl_pci_device_bar(bt.dev, 0, &base, &size, &flags) || (flags & HL_BAR_IO) ||
	    hl_pci_device_map_bar(bt.dev, 0, mem))
		return 0;
	uint64_t pages = size / 4096 < 16 ? size / 4096 : 16;
	hl_cptr_t first = rt_slot();
	for (uint64_t i = 1; i < pages; i++)
		rt_slot();
	if (hl_memory_retype(mem, HL_OBJ_MEMORY, 12, pages, first))
		return 0;
	uint64_t va = DMA_VA - 0x100000000ull, n = 0;
	for (; n < pages; n++) {
		hl_cptr_t f = rt_slot();
		if (hl_memory_retype(first + n, HL_OBJ_FRAME, 12, 1, f) ||
		    rt_map_frame(HL_SLOT_ASPACE, f, va + n * 4096, HL_R_READ | HL_R_WRITE))
			break;
	}
	*regs = (volatile void *)va;
	return n * 4096;
}

static bool open_device(void)
{
	const struct hl_bootinfo *bi = rt_self.bi;
	hl_word_t cmd = 0;

	for (uint32_t i = 0; i < bi->npci; i++) {
		const struct hl_bootinfo_pci *p = &bi->pci[i];
		if (p->class == 0x01 && p->subclass == 0x08 && p->progif == 0x02) {
			bt.dev = rt_slot();
			if (hl_pci_control_issue(HL_SLOT_PCI_CONTROL, i, bt.dev))
				return false;
			rt_printf("blktest: NVMe controller %04x:%04x at %02x:%02x.%u\n", p->vendor,
			          p->device, p->bdf >> 8, (p->bdf >> 3) & 31, p->bdf & 7);
			hl_pci_device_config_read(bt.dev, 4, 2, &cmd);
			return hl_pci_device_config_write(bt.dev, 4, 2, cmd | 0x6) ==
			       HL_OK; /* memory space, bus master */
		}
	}
	rt_printf("blktest: no NVMe controller in the PCI table\n");
	return false;
}

/* ---- requests ---- */

static void req_done(struct blkdev_req *r)
{
	((struct slot *)r->user)->done = true;
}

static bool alloc_slots(void)
{
	for (unsigned i = 0; i < QD; i++) {
		struct slot *s = &bt.slot[i];
		for (unsigned p = 0; p <= SLOT_PAGES; p++) {
			uint8_t *va = env_dma_page(0, &s->pages[p]);
			if (!va)
				return false;
			if (p == 0)
				s->va = va;
		}
		s->req.pages = s->pages, s->req.done = req_done, s->req.user = s;
	}
	return true;
}

static void fill(struct slot *s, uint32_t bs, uint64_t seed)
{
	uint64_t *w = (uint64_t *)(s->va + s->req.offset);

	for (uint32_t b = 0; b < s->req.nblocks; b++)
		for (uint32_t i = 0; i < bs / 8; i++)
			*w++ = blk_pattern(seed, s->req.lba + b, i);
}

/* Blocks of the slot's buffer that differ from the pattern (or from zeros); the first bad block in
 * *bad. */
static uint32_t compare(const struct slot *s, uint32_t bs, bool zeros, uint64_t *bad)
{
	const uint64_t *w = (const uint64_t *)(s->va + s->req.offset);
	uint32_t wrong = 0;

	for (uint32_t b = 0; b < s->req.nblocks; b++) {
		bool ok = true;
		for (uint32_t i = 0; i < bs / 8; i++, w++)
			ok &= *w == (zeros ? 0 : blk_pattern(bt.seed, s->req.lba + b, i));
		if (!ok && !wrong++)
			*bad = s->req.lba + b;
	}
	return wrong;
}

struct run {
	struct blkdev *d;
	uint8_t op;
	uint64_t next, end; /* blocks still to cover, in order */
	unsigned random;    /* >0: that many requests at random places instead */
	uint32_t maxn;      /* blocks per request at most */
	uint64_t bytes, reqs, mismatched, first_bad;
	int err;
	struct slot *slots; /* depth of them; NULL: bt.slot */
	int queue;          /* every request on this queue; -1: spread over all */
	uint64_t rng;
};

/* Next request of the run into s, or false when the run has no more to do. */
static bool next_request(struct run *r, struct slot *s)
{
	struct blkdev *d = r->d;
	uint32_t bs = d->block_size, cap = (SLOT_PAGES * 4096 - 4096) / bs;
	uint32_t maxn = r->maxn < cap ? r->maxn : cap;
	uint32_t n = 1 + (uint32_t)(rnd(&r->rng) % maxn);

	if (r->random) {
		r->random--;
		if (n > d->nblocks)
			n = (uint32_t)d->nblocks;
		s->req.lba = rnd(&r->rng) % (d->nblocks - n + 1);
	} else {
		if (r->next >= r->end)
			return false;
		if (n > r->end - r->next)
			n = (uint32_t)(r->end - r->next);
		s->req.lba = r->next;
		r->next += n;
	}
	s->req.op = r->op, s->req.nblocks = n;
	s->req.offset =
	    (uint32_t)(rnd(&r->rng) % (4096 / bs)) * bs; /* buffers starting mid-page too */
	if (r->op == BLKDEV_WRITE)
		fill(s, bs, bt.seed);
	return true;
}

/* Complete the slot's request: a read is compared with the pattern. */
static void finish(struct run *r, struct slot *s)
{
	s->busy = s->done = false;
	if (s->req.status) {
		if (!r->err)
			r->err = s->req.status;
		return;
	}
	r->reqs++;
	r->bytes += (uint64_t)s->req.nblocks * r->d->block_size;
	if (r->op == BLKDEV_READ)
		r->mismatched += compare(s, r->d->block_size, false, &r->first_bad);
}

/* Run r with up to depth requests in flight, spread over every queue. */
static int run_io(struct run *r, unsigned depth)
{
	struct blkdev *d = r->d;
	struct slot *slots = r->slots ? r->slots : bt.slot;
	bool more = true;

	if (!r->rng)
		r->rng = bt.seed * 2654435761u + 88172645463325252ull + r->next;
	for (;;) {
		unsigned busy = 0;
		for (unsigned i = 0; i < depth; i++) {
			struct slot *s = &slots[i];
			if (s->done)
				finish(r, s);
			if (!s->busy && more && !r->err && (more = next_request(r, s))) {
				unsigned q = r->queue >= 0 ? (unsigned)r->queue : i % d->nqueues;
				int err = blkdev_submit(d, q, &s->req);
				if (err)
					return err;
				s->busy = true;
			}
			busy += s->busy;
		}
		if (!busy)
			return r->err;
		for (unsigned q = 0; q < d->nqueues; q++)
			if ((r->queue < 0 || (unsigned)r->queue == q) && d->ops->inflight(d, q)) {
				int n = blkdev_wait(d, q, WAIT_US);
				if (n < 0)
					return n;
			}
	}
}

/* One request on slot s with its buffer in pages, waited for; its status (or the submit error). */
static int one_on(struct blkdev *d, struct slot *s, const uint64_t *pages, uint8_t op, uint64_t lba,
                  uint32_t n, uint32_t offset)
{
	int err;

	s->req = (struct blkdev_req){.op = op,
	                             .lba = lba,
	                             .nblocks = n,
	                             .pages = pages,
	                             .offset = offset,
	                             .done = req_done,
	                             .user = s};
	s->done = false;
	if ((err = blkdev_submit(d, 0, &s->req)))
		return err;
	while (!s->done)
		if ((err = blkdev_wait(d, 0, WAIT_US)) < 0)
			return err;
	s->done = false;
	return s->req.status;
}

static int one(struct blkdev *d, uint8_t op, uint64_t lba, uint32_t n, uint32_t offset)
{
	return one_on(d, &bt.slot[0], bt.slot[0].pages, op, lba, n, offset);
}

/* ---- the cases ---- */

/* Write the pattern over all of d at queue depth 32, then read it back; case names carry suffix
 * (another namespace). */
static void whole_device(struct blkdev *d, const char *suffix)
{
	char wname[64], rname[64];
	uint64_t t0 = rdtsc();

	snprintf(wname, sizeof(wname), "whole_device_written_at_qd32%s", suffix);
	snprintf(rname, sizeof(rname), "whole_device_read_back_at_qd32%s", suffix);
	struct run w = {
	    .d = d, .op = BLKDEV_WRITE, .end = d->nblocks, .maxn = d->max_blocks, .queue = -1};
	int err = run_io(&w, QD);
	check(!err && w.bytes == d->nblocks * d->block_size, wname, "%s after %lu bytes",
	      blkdev_strerror(err), (unsigned long)w.bytes);
	struct run r = {
	    .d = d, .op = BLKDEV_READ, .end = d->nblocks, .maxn = d->max_blocks, .queue = -1};
	err = run_io(&r, QD);
	check(!err && r.bytes == d->nblocks * d->block_size && !r.mismatched, rname,
	      "%s; %lu bytes, %lu blocks differ (first %lu)", blkdev_strerror(err),
	      (unsigned long)r.bytes, (unsigned long)r.mismatched, (unsigned long)r.first_bad);
	uint64_t ms = (rdtsc() - t0) / (rt_self.bi->tsc_hz / 1000);
	rt_printf("        # %lu requests, %lu MiB each way in %lu ms\n",
	          (unsigned long)(w.reqs + r.reqs), (unsigned long)(w.bytes >> 20),
	          (unsigned long)ms);
}

static void edges_and_random(struct blkdev *d)
{
	struct slot *s = &bt.slot[0];
	uint64_t bad = 0, last = d->nblocks - 1;
	int err = BLKDEV_OK;

	uint32_t wrong = 0;

	for (int k = 0; k < 2 && !err; k++) { /* first and last block: rewrite, read back */
		s->req.lba = k ? last : 0, s->req.nblocks = 1, s->req.offset = 0;
		fill(s, d->block_size, bt.seed);
		if (!(err = one(d, BLKDEV_WRITE, s->req.lba, 1, 0))) {
			for (uint32_t i = 0; i < d->block_size; i++)
				s->va[i] = 0xa5;
			if (!(err = one(d, BLKDEV_READ, k ? last : 0, 1, 0)))
				wrong += compare(s, d->block_size, false, &bad);
		}
	}
	check(!err && !wrong, "first_and_last_block", "%s, %u wrong", blkdev_strerror(err), wrong);
	struct run w = {.d = d, .op = BLKDEV_WRITE, .random = 200, .maxn = 16, .queue = -1};
	struct run r = {.d = d, .op = BLKDEV_READ, .random = 400, .maxn = 64, .queue = -1};
	err = run_io(&w, QD);
	if (!err)
		err = run_io(&r, QD);
	check(!err && !r.mismatched && r.reqs == 400, "random_blocks_written_and_read",
	      "%s; %lu blocks differ", blkdev_strerror(err), (unsigned long)r.mismatched);
}

/* The largest request the device takes, from a page boundary and from mid-page (one page more). */
static void largest_requests(struct blkdev *d)
{
	uint32_t bs = d->block_size,
	         n = d->max_blocks < d->nblocks ? d->max_blocks : (uint32_t)d->nblocks;
	static uint64_t pages[NVME_MAX_XFER_PAGES];
	uint8_t *va = 0;
	uint32_t need = (uint32_t)(((uint64_t)n * bs + 4096 + 4095) / 4096);
	int err = BLKDEV_OK;
	uint64_t bad = 0;

	for (uint32_t p = 0; p < need; p++) {
		uint8_t *v = env_dma_page(0, &pages[p]);
		if (!v) {
			check(false, "largest_request_uses_a_prp_list", "no memory for %u pages",
			      need);
			return;
		}
		if (p == 0)
			va = v;
	}
	static struct slot big;
	big.va = va;
	for (int k = 0; k < 2 && !err; k++) {
		uint64_t lba = k ? d->nblocks - n : (d->nblocks - n) / 3;
		uint32_t off = k ? bs : 0;
		for (uint32_t i = 0; i < n * bs; i++)
			va[off + i] = 0x5a;
		err = one_on(d, &big, pages, BLKDEV_READ, lba, n, off);
		if (!err && compare(&big, bs, false, &bad))
			err = BLKDEV_E_IO,
			rt_printf("        # block %lu differs\n", (unsigned long)bad);
	}
	check(!err, "largest_request_uses_a_prp_list", "%u blocks (%u pages): %s", n, need,
	      blkdev_strerror(err));
}

static void bad_requests(struct blkdev *d)
{
	uint64_t end = d->nblocks;
	int e1 = one(d, BLKDEV_READ, end - 1, 2, 0), e2 = one(d, BLKDEV_WRITE, end, 1, 0),
	    e3 = one(d, BLKDEV_READ, ~0ull, 1, 0), e4 = one(d, BLKDEV_WRITE, ~0ull - 2, 8, 0);
	check(e1 == BLKDEV_E_RANGE && e2 == BLKDEV_E_RANGE && e3 == BLKDEV_E_RANGE &&
	          e4 == BLKDEV_E_RANGE,
	      "request_beyond_the_end_is_refused", "errors %d %d %d %d", e1, e2, e3, e4);
	int z = one(d, BLKDEV_READ, 0, 0, 0), big = one(d, BLKDEV_READ, 0, d->max_blocks + 1, 0),
	    mis = one(d, BLKDEV_READ, 0, 1, 2), op = one(d, 9, 0, 1, 0);
	int big_want = d->max_blocks < d->nblocks
	                   ? BLKDEV_E_INVAL
	                   : BLKDEV_E_RANGE; /* a disk smaller than a request */
	check(
	    z == BLKDEV_E_INVAL && big == big_want && mis == BLKDEV_E_INVAL && op == BLKDEV_E_INVAL,
	    "zero_length_oversized_misaligned_are_refused", "errors %d %d %d %d", z, big, mis, op);
	check(d->ops->inflight(d, 0) == 0 && one(d, BLKDEV_READ, 0, 1, 0) == BLKDEV_OK,
	      "device_still_works_after_refusals", "");
}

/* Half the disk from CPU 0 on queue 0, the other half at once from a thread on CPU 1 on queue 1: no
 * lock. */
struct cpu_job {
	struct run run;
	int err;
	bool finished;
};

static void cpu_worker(void *arg)
{
	struct cpu_job *j = arg;

	j->err = run_io(&j->run, QD / 2);
	__atomic_store_n(&j->finished, true, __ATOMIC_RELEASE);
}

/* Run op over the two halves of d at once, one per CPU and queue; 0 or the first error. */
static int two_cpus(struct blkdev *d, uint8_t op, uint64_t *mismatched)
{
	uint64_t half = d->nblocks / 2;
	struct cpu_job a = {
	    .run = {.d = d, .op = op, .end = half, .maxn = 64, .slots = bt.slot, .queue = 0}};
	struct cpu_job b = {.run = {.d = d,
	                            .op = op,
	                            .next = half,
	                            .end = d->nblocks,
	                            .maxn = 64,
	                            .slots = bt.slot + QD / 2,
	                            .queue = 1}};
	struct rt_thread th;

	if (rt_thread_start(&th, cpu_worker, &b, 200) || hl_thread_set_affinity(th.tcb, 1))
		return BLKDEV_E_NOMEM;
	cpu_worker(&a);
	for (uint64_t end = env_now_us(0) + 30000000;
	     !__atomic_load_n(&b.finished, __ATOMIC_ACQUIRE);) {
		if (env_now_us(0) > end)
			return BLKDEV_E_TIMEOUT; /* the worker's slots stay busy: nothing else runs
			                            after this */
		hl_yield();
	}
	*mismatched = a.run.mismatched + b.run.mismatched;
	if (a.run.bytes + b.run.bytes != d->nblocks * d->block_size)
		return a.err ? a.err : b.err ? b.err : BLKDEV_E_IO;
	return a.err ? a.err : b.err;
}

static void queues_on_two_cpus(struct blkdev *d)
{
	uint64_t bad = 0;

	if (d->nqueues < 2 || rt_self.bi->ncpus < 2) {
		rt_printf("    ok %u queue_per_cpu_in_parallel # SKIP %u queues, %u cpus\n",
		          ++bt.ncase, d->nqueues, rt_self.bi->ncpus);
		return;
	}
	int err = two_cpus(d, BLKDEV_WRITE, &bad);
	if (!err)
		err = two_cpus(d, BLKDEV_READ, &bad);
	check(!err && !bad, "queue_per_cpu_in_parallel", "%s, %lu blocks differ",
	      blkdev_strerror(err), (unsigned long)bad);
}

/* Write-zeroes over [nblocks/2, +64) (fewer on a small disk) where ONCS offers it; the host checks
 * the zeros too. */
static void write_zeroes(struct blkdev *d)
{
	uint64_t lba = d->nblocks / 2, bad = 0;
	uint32_t n = d->nblocks / 2 < 64 ? (uint32_t)(d->nblocks / 2) : 64;
	struct slot *s = &bt.slot[0];

	if (!(d->flags & BLKDEV_HAS_WRITE_ZEROES)) {
		int err = one(d, BLKDEV_WRITE_ZEROES, lba, n, 0);
		rt_printf("    ok %u write_zeroes # SKIP not offered (submit: %s)\n", ++bt.ncase,
		          blkdev_strerror(err));
		return;
	}
	int err = one(d, BLKDEV_WRITE_ZEROES, lba, n, 0);
	if (!err) {
		for (uint32_t i = 0; i < n * d->block_size; i++)
			s->va[i] = 0xee;
		err = one(d, BLKDEV_READ, lba, n, 0);
	}
	s->req.lba = lba, s->req.nblocks = n, s->req.offset = 0;
	check(!err && !compare(s, d->block_size, true, &bad), "write_zeroes_reads_back_zeros", "%s",
	      blkdev_strerror(err));
	if (!err)
		rt_printf("blktest: zeroed blocks %lu-%lu\n", (unsigned long)lba,
		          (unsigned long)(lba + n - 1));
}

static void flush(struct blkdev *d)
{
	int err = one(d, BLKDEV_FLUSH, 0, 0, 0);

	check(!err, "flush_completes", "%s", blkdev_strerror(err));
	if (!err)
		rt_printf("blktest: flush completed (seed %lu)\n", (unsigned long)bt.seed);
}

/* ---- path length (bench=1, polled, under -icount shift=0 where the TSC counts instructions) ----
 */

#define BENCH_READS 2000

/* Instructions a timed region costs with nothing in it (the two rdtsc). */
static uint64_t tsc_overhead(void)
{
	uint64_t best = ~0ull;

	for (int i = 0; i < 16; i++) {
		uint64_t t0 = rdtsc(), t1 = rdtsc();
		if (t1 - t0 < best)
			best = t1 - t0;
	}
	return best;
}

/*
 * Mean instructions per 4 KiB read with depth requests in flight: the
 * driver's own path, submit plus the polls that found completions. Polls
 * that found nothing are the wait for the device (QEMU does the I/O
 * between guest instructions) and are not counted, as an idle CPU is
 * not counted for Linux.
 */
static uint64_t bench_reads(struct blkdev *d, unsigned depth, uint64_t *errors)
{
	uint64_t spent = 0, done = 0, submitted = 0, ovh = tsc_overhead();
	uint32_t n = 4096 / d->block_size;

	for (unsigned i = 0; i < depth; i++)
		bt.slot[i].busy = bt.slot[i].done = false;
	while (done < BENCH_READS) {
		for (unsigned i = 0; i < depth && submitted < BENCH_READS; i++) {
			struct slot *s = &bt.slot[i];
			if (s->busy)
				continue;
			s->req.op = BLKDEV_READ, s->req.nblocks = n, s->req.offset = 0;
			s->req.lba = rnd(&bt.rng) % (d->nblocks / n) * n;
			uint64_t t0 = rdtsc();
			int err = blkdev_submit(d, 0, &s->req);
			spent += rdtsc() - t0 - ovh;
			if (err)
				return ++*errors, 0;
			s->busy = true, submitted++;
		}
		uint64_t t0 = rdtsc();
		int got = blkdev_poll(d, 0, depth);
		uint64_t t1 = rdtsc();
		if (got < 0)
			return ++*errors, 0;
		if (got > 0)
			spent += t1 - t0 - ovh;
		for (unsigned i = 0; i < depth; i++)
			if (bt.slot[i].done) {
				*errors += bt.slot[i].req.status != 0;
				bt.slot[i].busy = bt.slot[i].done = false;
				done++;
			}
	}
	return spent / done;
}

static void bench(struct blkdev *d)
{
	uint64_t errors = 0;
	uint64_t qd1 = bench_reads(d, 1, &errors), qd32 = bench_reads(d, QD, &errors);

	if (errors) {
		rt_printf("BENCH-ERROR nvme reads failed: %lu errors\n", (unsigned long)errors);
		return;
	}
	rt_printf("BENCH nvme.hallows.read_4k_qd1_instructions %lu instructions\n",
	          (unsigned long)qd1);
	rt_printf("BENCH nvme.hallows.read_4k_qd32_instructions %lu instructions\n",
	          (unsigned long)qd32);
	rt_printf("BENCH-DONE\n");
}

static void exit_qemu(unsigned code)
{
	hl_cptr_t port = rt_slot();

	if (hl_ioport_control_issue(HL_SLOT_IOPORT_CONTROL, 0xf4, 4, port) == HL_OK)
		hl_ioport_out(port, 0xf4, 1, code);
}

int main(struct rt *rt)
{
	volatile void *regs = 0;
	size_t len;

	read_conf();
	bt.rng = bt.seed * 2654435761u + 88172645463325252ull;
	rt_printf("blktest: mode %s, seed %lu%s\n", bt.irq ? "irq" : "poll", (unsigned long)bt.seed,
	          bt.kill ? ", waits to be killed after the flush" : "");
	if (!open_device() || !(len = map_registers(&regs)) || !alloc_slots()) {
		rt_printf("blktest: could not reach the device\n");
		exit_qemu(1);
		return 1;
	}
	/* One pair per CPU; with interrupts, no more than MSI-X entries after the admin queue's. */
	hl_word_t msi = 0;
	hl_pci_device_info(bt.dev, NULL, NULL, NULL, &msi);
	unsigned want = rt->bi->ncpus;
	if (bt.irq && msi >> 16 < want + 1)
		want = msi >> 16 > 1 ? (unsigned)(msi >> 16) - 1 : 0;
	int err = want ? nvme_start(&bt.ctrl, regs, len, &env, want,
	                            bt.irq ? BLKDEV_INTERRUPT : BLKDEV_POLLED)
	               : BLKDEV_E_UNSUPPORTED;
	if (err || bt.ctrl.nns == 0) {
		rt_printf("blktest: the driver did not start: %s\n", blkdev_strerror(err));
		exit_qemu(1);
		return 1;
	}
	struct blkdev *d = &bt.ctrl.ns[0].dev;
	if (bt.bench) {
		bench(d);
		exit_qemu(0);
		return 0;
	}
	rt_printf("KTAP version 1\n1..1\n    # Subtest: blk\n");
	whole_device(d, "");
	for (unsigned i = 1; i < bt.ctrl.nns;
	     i++) { /* every other active namespace, its own block size */
		char suffix[32];
		snprintf(suffix, sizeof(suffix), "_%s", bt.ctrl.ns[i].dev.name);
		whole_device(&bt.ctrl.ns[i].dev, suffix);
	}
	if (bt.kill) {
		flush(d);
		for (;;)
			hl_thread_suspend(HL_SLOT_THREAD);
	}
	edges_and_random(d);
	largest_requests(d);
	queues_on_two_cpus(d);
	bad_requests(d);
	write_zeroes(d);
	flush(d);
	if (bt.irq)
		check(bt.irq_wakeups > 0, "completions_came_by_interrupt",
		      "no wait ended by an MSI-X interrupt");
	rt_printf("        # %lu waits ended by an interrupt\n", (unsigned long)bt.irq_wakeups);
	err = nvme_stop(&bt.ctrl);
	check(!err, "controller_shuts_down", "%s", blkdev_strerror(err));
	rt_printf("    1..%u\n%s 1 blk\n", bt.ncase, bt.failed ? "not ok" : "ok");
	rt_printf("# blktest: %u cases, %u failed, %u controller resets\n", bt.ncase, bt.failed,
	          bt.ctrl.resets);
	exit_qemu(bt.failed ? 1 : 0);
	return 0;
}
