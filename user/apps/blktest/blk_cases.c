/* blktest's cases (KTAP, one suite) and its path-length benchmark. */
#include <lib/fmt.h>
#include <lib/string.h>

#include "blktest.h"

/* ---- the cases ---- */

/* Write the pattern over all of d at queue depth 32, then read it back; case names carry suffix
 * (another namespace). */
void bt_whole_device(struct blkdev *d, const char *suffix)
{
	char wname[64], rname[64];
	uint64_t t0 = bt_rdtsc();

	snprintf(wname, sizeof(wname), "whole_device_written_at_qd32%s", suffix);
	snprintf(rname, sizeof(rname), "whole_device_read_back_at_qd32%s", suffix);
	struct run w = {
	    .d = d, .op = BLKDEV_WRITE, .end = d->nblocks, .maxn = d->max_blocks, .queue = -1};
	int err = bt_run_io(&w, QD);
	bt_check(!err && w.bytes == d->nblocks * d->block_size, wname, "%s after %lu bytes",
	         blkdev_strerror(err), (unsigned long)w.bytes);
	struct run r = {
	    .d = d, .op = BLKDEV_READ, .end = d->nblocks, .maxn = d->max_blocks, .queue = -1};
	err = bt_run_io(&r, QD);
	bt_check(!err && r.bytes == d->nblocks * d->block_size && !r.mismatched, rname,
	         "%s; %lu bytes, %lu blocks differ (first %lu)", blkdev_strerror(err),
	         (unsigned long)r.bytes, (unsigned long)r.mismatched, (unsigned long)r.first_bad);
	uint64_t ms = (bt_rdtsc() - t0) / (rt_self.bi->tsc_hz / 1000);
	rt_printf("        # %lu requests, %lu MiB each way in %lu ms\n",
	          (unsigned long)(w.reqs + r.reqs), (unsigned long)(w.bytes >> 20),
	          (unsigned long)ms);
}

void bt_edges_and_random(struct blkdev *d)
{
	struct slot *s = &bt.slot[0];
	uint64_t bad = 0, last = d->nblocks - 1;
	int err = BLKDEV_OK;

	uint32_t wrong = 0;

	for (int k = 0; k < 2 && !err; k++) { /* first and last block: rewrite, read back */
		s->req.lba = k ? last : 0, s->req.nblocks = 1, s->req.offset = 0;
		bt_fill(s, d->block_size, bt.seed);
		if (!(err = bt_one(d, BLKDEV_WRITE, s->req.lba, 1, 0))) {
			for (uint32_t i = 0; i < d->block_size; i++)
				s->va[i] = 0xa5;
			if (!(err = bt_one(d, BLKDEV_READ, k ? last : 0, 1, 0)))
				wrong += bt_compare(s, d->block_size, false, &bad);
		}
	}
	bt_check(!err && !wrong, "first_and_last_block", "%s, %u wrong", blkdev_strerror(err),
	         wrong);
	struct run w = {.d = d, .op = BLKDEV_WRITE, .random = 200, .maxn = 16, .queue = -1};
	struct run r = {.d = d, .op = BLKDEV_READ, .random = 400, .maxn = 64, .queue = -1};
	err = bt_run_io(&w, QD);
	if (!err)
		err = bt_run_io(&r, QD);
	bt_check(!err && !r.mismatched && r.reqs == 400, "random_blocks_written_and_read",
	         "%s; %lu blocks differ", blkdev_strerror(err), (unsigned long)r.mismatched);
}

/* The largest request the device takes, written and read, from a page boundary and from mid-page
 * (one page more). */
void bt_largest_requests(struct blkdev *d)
{
	uint32_t bs = d->block_size,
	         n = d->max_blocks < d->nblocks ? d->max_blocks : (uint32_t)d->nblocks;
	static uint64_t pages[NVME_MAX_XFER_PAGES];
	uint8_t *va = 0;
	uint32_t need = (uint32_t)(((uint64_t)n * bs + 4096 + 4095) / 4096);
	int err = BLKDEV_OK;
	uint64_t bad = 0;

	for (uint32_t p = 0; p < need; p++) {
		uint8_t *v = bt_dma_page(0, &pages[p]);
		if (!v) {
			bt_check(false, "largest_request_uses_a_prp_list", "no memory for %u pages",
			         need);
			return;
		}
		if (p == 0)
			va = v;
	}
	if (!va)
		return; /* need is at least 1: never here */
	static struct slot big;
	big.va = va;
	for (int k = 0; k < 2 && !err; k++) {
		uint64_t lba = k ? d->nblocks - n : (d->nblocks - n) / 3;
		uint32_t off = k ? 512 : 0; /* mid-page, also for 4 KiB blocks */
		big.req.lba = lba, big.req.nblocks = n, big.req.offset = off;
		bt_fill(&big, bs,
		        bt.seed); /* the pattern again: written through the list, read back */
		err = bt_one_on(d, &big, pages, BLKDEV_WRITE, lba, n, off);
		memset(va + off, 0x5a, (size_t)n * bs);
		if (!err)
			err = bt_one_on(d, &big, pages, BLKDEV_READ, lba, n, off);
		if (!err && bt_compare(&big, bs, false, &bad))
			err = BLKDEV_E_IO,
			rt_printf("        # block %lu differs\n", (unsigned long)bad);
	}
	bt_check(!err,
	         bt.kind == BT_NVME ? "largest_request_uses_a_prp_list"
	                            : "largest_request_from_a_page_boundary_and_mid_page",
	         "%u blocks (%u pages): %s", n, need, blkdev_strerror(err));
}

void bt_bad_requests(struct blkdev *d)
{
	uint64_t end = d->nblocks;
	int e1 = bt_one(d, BLKDEV_READ, end - 1, 2, 0), e2 = bt_one(d, BLKDEV_WRITE, end, 1, 0),
	    e3 = bt_one(d, BLKDEV_READ, ~0ull, 1, 0), e4 = bt_one(d, BLKDEV_WRITE, ~0ull - 2, 8, 0);
	bt_check(e1 == BLKDEV_E_RANGE && e2 == BLKDEV_E_RANGE && e3 == BLKDEV_E_RANGE &&
	             e4 == BLKDEV_E_RANGE,
	         "request_beyond_the_end_is_refused", "errors %d %d %d %d", e1, e2, e3, e4);
	int z = bt_one(d, BLKDEV_READ, 0, 0, 0),
	    big = bt_one(d, BLKDEV_READ, 0, d->max_blocks + 1, 0),
	    mis = bt_one(d, BLKDEV_READ, 0, 1, 2), op = bt_one(d, 9, 0, 1, 0);
	int big_want = d->max_blocks < d->nblocks
	                   ? BLKDEV_E_INVAL
	                   : BLKDEV_E_RANGE; /* a disk smaller than a request */
	bt_check(
	    z == BLKDEV_E_INVAL && big == big_want && mis == BLKDEV_E_INVAL && op == BLKDEV_E_INVAL,
	    "zero_length_oversized_misaligned_are_refused", "errors %d %d %d %d", z, big, mis, op);
	bt_check(d->ops->inflight(d, 0) == 0 && bt_one(d, BLKDEV_READ, 0, 1, 0) == BLKDEV_OK,
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

	j->err = bt_run_io(&j->run, QD / 2);
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
	for (uint64_t end = bt_now_us(0) + 30000000;
	     !__atomic_load_n(&b.finished, __ATOMIC_ACQUIRE);) {
		if (bt_now_us(0) > end)
			return BLKDEV_E_TIMEOUT; /* the worker's slots stay busy: nothing else runs
			                            after this */
		hl_yield();
	}
	*mismatched = a.run.mismatched + b.run.mismatched;
	if (a.run.bytes + b.run.bytes != d->nblocks * d->block_size)
		return a.err ? a.err : b.err ? b.err : BLKDEV_E_IO;
	return a.err ? a.err : b.err;
}

void bt_queues_on_two_cpus(struct blkdev *d)
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
	bt_check(!err && !bad, "queue_per_cpu_in_parallel", "%s, %lu blocks differ",
	         blkdev_strerror(err), (unsigned long)bad);
}

/* Write-zeroes over [nblocks/2, +64) (fewer on a small disk) where ONCS offers it; the host checks
 * the zeros too. */
void bt_write_zeroes(struct blkdev *d)
{
	uint64_t lba = d->nblocks / 2, bad = 0;
	uint32_t n = d->nblocks / 2 < 64 ? (uint32_t)(d->nblocks / 2) : 64;
	struct slot *s = &bt.slot[0];

	if (!(d->flags & BLKDEV_HAS_WRITE_ZEROES)) {
		int err = bt_one(d, BLKDEV_WRITE_ZEROES, lba, n, 0);
		rt_printf("    ok %u write_zeroes # SKIP not offered (submit: %s)\n", ++bt.ncase,
		          blkdev_strerror(err));
		return;
	}
	int err = bt_one(d, BLKDEV_WRITE_ZEROES, lba, n, 0);
	if (!err) {
		for (uint32_t i = 0; i < n * d->block_size; i++)
			s->va[i] = 0xee;
		err = bt_one(d, BLKDEV_READ, lba, n, 0);
	}
	s->req.lba = lba, s->req.nblocks = n, s->req.offset = 0;
	bt_check(!err && !bt_compare(s, d->block_size, true, &bad), "write_zeroes_reads_back_zeros",
	         "%s", blkdev_strerror(err));
	if (!err)
		rt_printf("blktest: zeroed blocks %lu-%lu\n", (unsigned long)lba,
		          (unsigned long)(lba + n - 1));
}

/*
 * A controller reset with QD requests in flight (the path a device that
 * writes nonsense takes): each request completes exactly once, either
 * normally before the reset or with BLKDEV_E_ABORTED; afterwards the
 * queues work and the disk still holds the pattern.
 */
void bt_reset_in_flight(struct blkdev *d)
{
	unsigned submitted = 0, ok = 0, aborted = 0, other = 0;
	uint32_t n = d->max_blocks < 64 ? d->max_blocks : 64;
	uint64_t rng = bt.seed + 77;

	for (unsigned i = 0; i < QD; i++) {
		struct slot *s = &bt.slot[i];
		s->busy = s->done = false;
		s->req.op = BLKDEV_READ, s->req.offset = 0;
		s->req.nblocks = n < d->nblocks ? n : (uint32_t)d->nblocks;
		s->req.lba = bt_rnd(&rng) % (d->nblocks - s->req.nblocks + 1);
		if (blkdev_submit(d, i % d->nqueues, &s->req) == BLKDEV_OK)
			s->busy = true, submitted++;
	}
	/*
	 * Let the device post every completion first (peeking at the rings,
	 * not reaping): QEMU 7.2 segfaults now and then (1 run in 12 with two
	 * namespaces) when its controller is disabled with I/O still in its
	 * block layer. The requests stay in flight for the driver.
	 */
	for (uint64_t end = bt_now_us(0) + 2000000; bt_now_us(0) < end && !bt_all_posted(d);)
		;
	unsigned resets = bt_resets();
	bt.planned_resets++;
	int err = bt_recover(d, "blktest: reset with requests in flight");
	for (unsigned i = 0; i < QD; i++) {
		struct slot *s = &bt.slot[i];
		if (!s->busy)
			continue;
		ok += s->done && s->req.status == BLKDEV_OK;
		aborted += s->done && s->req.status == BLKDEV_E_ABORTED;
		other += !s->done || (s->req.status && s->req.status != BLKDEV_E_ABORTED);
		s->busy = s->done = false;
	}
	unsigned inflight = 0;
	for (unsigned q = 0; q < d->nqueues; q++)
		inflight += d->ops->inflight(d, q);
	struct run r = {.d = d, .op = BLKDEV_READ, .random = 100, .maxn = 64, .queue = -1};
	int after = err ? err : bt_run_io(&r, QD);
	bt_check(!err && submitted == QD && !other && ok + aborted == QD && !inflight &&
	             bt_resets() == resets + 1 && !after && !r.mismatched,
	         "reset_with_requests_in_flight",
	         "%s; %u submitted, %u ok, %u aborted, %u wrong, %u left; after: %s",
	         blkdev_strerror(err), submitted, ok, aborted, other, inflight,
	         blkdev_strerror(after));
	rt_printf("        # %u of %u requests aborted by the reset\n", aborted, submitted);
}

/*
 * A disk whose writes fail in the device (QEMU's readonly=on): each write
 * completes with BLKDEV_E_IO, the controller is not reset for that, and
 * reads (of the zeroed image) still work.
 */
void bt_readonly_disk(struct blkdev *d)
{
	struct run w = {.d = d, .op = BLKDEV_WRITE, .random = 64, .maxn = 16, .queue = -1};
	int err = bt_run_io(&w, QD);
	bt_check(err == BLKDEV_E_IO && w.reqs == 0, "refused_writes_complete_with_an_io_error",
	         "%s, %lu writes succeeded", blkdev_strerror(err), (unsigned long)w.reqs);
	struct slot *s = &bt.slot[0];
	uint64_t bad = 0;
	uint32_t n = d->nblocks < 8 ? (uint32_t)d->nblocks : 8;
	memset(s->va, 0xee, n * d->block_size);
	err = bt_one(d, BLKDEV_READ, d->nblocks - n, n, 0);
	bt_check(!err && !bt_compare(s, d->block_size, true, &bad) && bt_resets() == 0,
	         "reads_work_beside_device_errors", "%s, %u resets", blkdev_strerror(err),
	         bt_resets());
}

/*
 * Errors the device reports, one per request, with good requests beside
 * them: the disk is made to look 64 blocks longer than it is, so reads
 * past the real end pass blkdev_check and the device refuses them (LBA out
 * of range, IDNF, IOERR). Each such read completes with BLKDEV_E_IO (NVMe:
 * BLKDEV_E_RANGE, from the device's LBA Out of Range status), each
 * good one with its data; no reset, and the device works afterwards.
 */
void bt_device_errors(struct blkdev *d)
{
	uint64_t real = d->nblocks, rng = bt.seed + 99;
	unsigned resets = bt_resets(), right = 0, wrong = 0, n = 8;
	uint32_t len = d->nblocks < 8 ? 1 : 8;

	d->nblocks = real + 64;
	for (unsigned i = 0; i < n; i++) {
		struct slot *s = &bt.slot[i];
		s->busy = s->done = false;
		s->req.op = BLKDEV_READ, s->req.offset = 0, s->req.nblocks = len;
		s->req.lba = i % 3 == 1 ? real + 8 * (i % 4) : bt_rnd(&rng) % (real - len + 1);
		if (blkdev_submit(d, 0, &s->req) == BLKDEV_OK)
			s->busy = true;
	}
	int err = BLKDEV_OK;
	for (unsigned busy = n; busy && err >= 0;) {
		err = blkdev_wait(d, 0, WAIT_US);
		busy = 0;
		for (unsigned i = 0; i < n; i++)
			busy += bt.slot[i].busy && !bt.slot[i].done;
	}
	d->nblocks = real;
	for (unsigned i = 0; i < n; i++) {
		struct slot *s = &bt.slot[i];
		uint64_t bad = 0;
		bool beyond = s->req.lba >= real;
		if (!s->busy || !s->done)
			wrong++;
		else if (beyond ? s->req.status == BLKDEV_E_IO ||
		                      s->req.status == BLKDEV_E_RANGE /* NVMe: LBA out of range */
		                : s->req.status == BLKDEV_OK &&
		                      !bt_compare(s, d->block_size, false, &bad))
			right++;
		else
			wrong++,
			    rt_printf("        # request %u (lba %lu): %s\n", i,
			              (unsigned long)s->req.lba, blkdev_strerror(s->req.status));
		s->busy = s->done = false;
	}
	int after = bt_one(d, BLKDEV_READ, 0, 1, 0);
	bt_check(err >= 0 && !wrong && right == n && !after && bt_resets() == resets,
	         "device_errors_reported_per_request",
	         "%s; %u right, %u wrong, after: %s, %u resets", blkdev_strerror(err), right, wrong,
	         blkdev_strerror(after), bt_resets() - resets);
}

void bt_flush(struct blkdev *d)
{
	int err = bt_one(d, BLKDEV_FLUSH, 0, 0, 0);

	bt_check(!err, "flush_completes", "%s", blkdev_strerror(err));
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
		uint64_t t0 = bt_rdtsc(), t1 = bt_rdtsc();
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
			s->req.lba = bt_rnd(&bt.rng) % (d->nblocks / n) * n;
			uint64_t t0 = bt_rdtsc();
			int err = blkdev_submit(d, 0, &s->req);
			spent += bt_rdtsc() - t0 - ovh;
			if (err)
				return ++*errors, 0;
			s->busy = true, submitted++;
		}
		uint64_t t0 = bt_rdtsc();
		int got = blkdev_poll(d, 0, depth);
		uint64_t t1 = bt_rdtsc();
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

void bt_bench(struct blkdev *d)
{
	uint64_t errors = 0;
	uint64_t qd1 = bench_reads(d, 1, &errors), qd32 = bench_reads(d, QD, &errors);

	if (errors) {
		rt_printf("BENCH-ERROR %s reads failed: %lu errors\n", bt.drv,
		          (unsigned long)errors);
		return;
	}
	rt_printf("BENCH %s.hallows.read_4k_qd1_instructions %lu instructions\n", bt.drv,
	          (unsigned long)qd1);
	rt_printf("BENCH %s.hallows.read_4k_qd32_instructions %lu instructions\n", bt.drv,
	          (unsigned long)qd32);
	rt_printf("BENCH-DONE\n");
}
