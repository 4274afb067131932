/* Writing appended data out: synchronous, or asynchronous when the
 * platform has write_start (store.h, docs/log-format.md "Asynchronous
 * writes"). One write per partition in flight at most (the next one
 * rewrites the block the previous one ended in); several partitions'
 * writes in flight together; completions in any order. */
#include <lib/string.h>

#include "cpu_feat.h"
#include "crc32c.h"
#include "store_int.h"

/* The platform's completion: only marks the slot (it may run inside
 * another store call's wait); st_reap does the rest. */
static void write_cb(void *arg, bool ok)
{
	struct st_write *w = arg;

	w->state = ok ? ST_W_OK : ST_W_FAIL;
}

static uint8_t *tail_buf(struct store *s)
{
	if (s->nspare)
		return s->spare[--s->nspare];
	return s->pl.alloc(s->pl.ctx, TAIL_CAP);
}

static void tail_put(struct store *s, uint8_t *b)
{
	if (!b)
		return;
	if (s->nspare < ST_WRITES)
		s->spare[s->nspare++] = b;
	else
		st_free(s, b);
}

static struct store_part *w_part(struct store *s, const struct st_write *w)
{
	return st_part_any(s, w->topic, w->part);
}

/* A completed write: its data is readable and counts for flushes. */
static void w_finish(struct store *s, struct st_write *w)
{
	struct store_part *p = w_part(s, w);

	if (p) {
		if (w->hwm > p->hwm)
			p->hwm = w->hwm;
		p->wdone_ctr = w->issued;
		p->wslot = 0;
	}
	if (w->scratch)
		st_free(s, w->buf);
	else if (!p || w->buf != p->tail) /* not still the partition's tail (write_out) */
		tail_put(s, w->buf);
	w->buf = NULL;
	w->state = ST_W_FREE;
	s->w_busy--;
	s->writes_done++;
}

static void w_failed(struct store *s, struct st_write *w)
{
	s->write_errors++;
	s->write_failed = true;
	st_log(s, "store: write failed, kept to write again at block", "", (long long)w->blk);
}

static int w_submit(struct store *s, struct st_write *w)
{
	w->state = ST_W_BUSY;
	if (s->pl.write_start(s->pl.ctx, w->blk, w->buf, w->count, write_cb, w)) {
		w->state = ST_W_FAIL;
		return STORE_EIO;
	}
	return STORE_OK;
}

/* Before an append into p's tail: when the write in flight is still reading that very buffer
 * (write_out kept it as the tail), the tail continues in a copy; without memory for one, the
 * append waits for the write. */
int st_tail_own(struct store *s, struct store_part *p)
{
	/* a write that ended (not yet collected) reads nothing more; a failed one is written again
	 * from its buffer */
	if (!p->wslot || s->w[p->wslot - 1].buf != p->tail || s->w[p->wslot - 1].state == ST_W_OK)
		return STORE_OK;
	uint8_t *next = tail_buf(s);
	if (!next)
		return st_part_wait(s, p);
	memcpy(next, p->tail, p->tail_used);
	p->tail = next;
	p->tail_clean = 0;
	return STORE_OK;
}

/* Collect completed writes; failed ones stay (resubmitted by st_resubmit,
 * or written synchronously by st_write_out_sync). */
static unsigned st_reap(struct store *s)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < ST_WRITES && s->w_busy; i++) {
		struct st_write *w = &s->w[i];
		if (w->state == ST_W_OK) {
			w_finish(s, w);
			n++;
		} else if (w->state == ST_W_FAIL && !w->reported) {
			w_failed(s, w);
			w->reported = true; /* once per failure */
		}
	}
	return n;
}

static void st_resubmit(struct store *s)
{
	for (uint32_t i = 0; i < ST_WRITES; i++) {
		struct st_write *w = &s->w[i];
		if (w->state != ST_W_FAIL)
			continue;
		if (!w->reported)
			w_failed(s, w);
		w->reported = false;
		if (w_submit(s, w)) {
			w_failed(s, w);
			w->reported = true;
		}
	}
}

/* Block until p has no write in flight: a failed one is written again
 * synchronously (STORE_EIO if that fails too). */
int st_part_wait(struct store *s, struct store_part *p)
{
	while (p->wslot) {
		struct st_write *w = &s->w[p->wslot - 1];
		if (w->state == ST_W_FAIL) {
			if (s->pl.write(s->pl.ctx, w->blk, w->buf, w->count))
				return STORE_EIO;
			w->state = ST_W_OK;
		} else if (w->state == ST_W_BUSY && s->pl.wait(s->pl.ctx)) {
			return STORE_EIO;
		}
		(void)st_reap(s);
	}
	return STORE_OK;
}

/* A free write slot's index, or ST_WRITES. */
static uint32_t free_slot(const struct store *s)
{
	uint32_t i = 0;

	while (i < ST_WRITES && s->w[i].state != ST_W_FREE)
		i++;
	return i;
}

/* Submit buf (nblk blocks at blk) as p's write in flight, which makes
 * offsets up to hwm readable when it completes; STORE_EIO (nothing
 * changed) when the platform refused it at once. */
static int w_start(struct store *s, struct store_part *p, uint32_t i, uint8_t *buf, uint64_t blk,
                   uint32_t nblk, uint64_t hwm, bool scratch)
{
	struct st_write *w = &s->w[i];

	*w = (struct st_write){.topic = p->topic,
	                       .part = p->part,
	                       .buf = buf,
	                       .blk = blk,
	                       .count = nblk,
	                       .hwm = hwm,
	                       .issued = s->append_ctr,
	                       .scratch = scratch};
	s->w_busy++;
	if (w_submit(s, w)) {
		w->state = ST_W_FREE;
		w->buf = NULL;
		s->w_busy--;
		return STORE_EIO;
	}
	/* counted now: a flush requested from here on waits for it */
	s->unflushed += (uint64_t)nblk * STORE_BLOCK;
	p->wslot = (uint8_t)(i + 1);
	return STORE_OK;
}

/* Hand p's tail to the device: asynchronously when the platform can and
 * p has no write in flight (with one in flight the data waits for the
 * next call), synchronously otherwise. The last partial block stays in
 * memory so the next append continues it (the next write rewrites it
 * with the same prefix). */
static int write_out(struct store *s, struct store_part *p, bool sync)
{
	uint32_t nblk, full, part, pad, slot_i = ST_WRITES;
	uint64_t blk;
	uint8_t *next = NULL;

	if (p->wslot) {
		(void)st_reap(s);
		if (p->wslot && (!sync || st_part_wait(s, p)))
			return sync ? STORE_EIO : STORE_OK;
	}
	if (!p->dirty)
		return STORE_OK;
	nblk = (p->tail_used + STORE_BLOCK - 1) / STORE_BLOCK;
	blk = seg_blk(s, p->segs[p->nsegs - 1]) + p->tail_base / STORE_BLOCK;
	/* the last block's padding: only what earlier write-outs of this buffer did not zero */
	pad = p->tail_clean > p->tail_used ? p->tail_clean : p->tail_used;
	if (pad < nblk * STORE_BLOCK)
		memset(p->tail + pad, 0, nblk * STORE_BLOCK - pad);
	p->tail_clean = nblk * STORE_BLOCK;
	full = p->tail_used / STORE_BLOCK * STORE_BLOCK;
	part = p->tail_used - full;
	if (!sync && s->pl.write_start && (slot_i = free_slot(s)) < ST_WRITES && !full) {
		/* Within one block (small records one at a time): the buffer is written as it
		 * is and stays the tail; the next append copies it only if the write is still
		 * in flight then (st_tail_own). */
		if (!w_start(s, p, slot_i, p->tail, blk, nblk, p->end_off, false)) {
			st_set_dirty(s, p, false);
			return STORE_OK;
		}
	} else if (!sync && s->pl.write_start && slot_i < ST_WRITES) {
		next = tail_buf(s);
	}
	if (next) {
		if (w_start(s, p, slot_i, p->tail, blk, nblk, p->end_off, false)) {
			tail_put(s, next); /* refused at once: write synchronously */
		} else {
			memcpy(next, p->tail + full, part);
			p->tail = next;
			p->tail_base += full;
			p->tail_used = part;
			p->tail_clean = 0;
			st_set_dirty(s, p, false);
			return STORE_OK;
		}
	}
	if (s->pl.write(s->pl.ctx, blk, p->tail, nblk))
		return STORE_EIO;
	s->unflushed += (uint64_t)nblk * STORE_BLOCK;
	if (full && part)
		memmove(p->tail, p->tail + full, part);
	if (full)
		p->tail_clean = 0;
	p->tail_base += full;
	p->tail_used = part;
	p->hwm = p->end_off;
	p->wdone_ctr = s->append_ctr;
	st_set_dirty(s, p, false);
	return STORE_OK;
}

#if defined(__x86_64__)
/*
 * The produce path's one copy of the payload (receive buffers to the tail or
 * a big write's buffer), 256 bytes per loop trip in eight AVX registers: 18
 * instructions where rep movsq takes 32 (under TCG every iteration of a rep
 * instruction is one executed instruction, docs/benchmarks.md). Chosen once:
 * AVX in CPUID and its state enabled by the kernel (XCR0, OSXSAVE).
 */
static int copy_avx_ok = -1;

static void copy_avx(uint8_t *d, const uint8_t *s, size_t n)
{
	size_t big = n / 256 * 256;

	if (big) {
		const uint8_t *se = s + big;
		uint8_t *de = d + big;
		intptr_t i = -(intptr_t)big;
		__asm__ volatile("1:\n\t"
		                 "vmovdqu (%[se],%[i]), %%ymm0\n\t"
		                 "vmovdqu 32(%[se],%[i]), %%ymm1\n\t"
		                 "vmovdqu 64(%[se],%[i]), %%ymm2\n\t"
		                 "vmovdqu 96(%[se],%[i]), %%ymm3\n\t"
		                 "vmovdqu 128(%[se],%[i]), %%ymm4\n\t"
		                 "vmovdqu 160(%[se],%[i]), %%ymm5\n\t"
		                 "vmovdqu 192(%[se],%[i]), %%ymm6\n\t"
		                 "vmovdqu 224(%[se],%[i]), %%ymm7\n\t"
		                 "vmovdqu %%ymm0, (%[de],%[i])\n\t"
		                 "vmovdqu %%ymm1, 32(%[de],%[i])\n\t"
		                 "vmovdqu %%ymm2, 64(%[de],%[i])\n\t"
		                 "vmovdqu %%ymm3, 96(%[de],%[i])\n\t"
		                 "vmovdqu %%ymm4, 128(%[de],%[i])\n\t"
		                 "vmovdqu %%ymm5, 160(%[de],%[i])\n\t"
		                 "vmovdqu %%ymm6, 192(%[de],%[i])\n\t"
		                 "vmovdqu %%ymm7, 224(%[de],%[i])\n\t"
		                 "add $256, %[i]\n\t"
		                 "jnz 1b\n\t"
		                 "vzeroupper"
		                 : [i] "+r"(i)
		                 : [se] "r"(se), [de] "r"(de)
		                 : "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
		                   "xmm7");
	}
	memcpy(d + big, s + big, n - big);
}
#endif

/* memcpy for the payload: AVX where the CPU has it and the copy is large. */
static void copy_payload(uint8_t *d, const uint8_t *s, size_t n)
{
#if defined(__x86_64__)
	if (n >= 512) {
		/* the hosted broker's loops share it: relaxed atomics (bug
		 * copy_avx_ok_raced_between_loops, ThreadSanitizer) */
		int ok = __atomic_load_n(&copy_avx_ok, __ATOMIC_RELAXED);
		if (ok < 0) {
			ok = st_avx_usable();
			__atomic_store_n(&copy_avx_ok, ok, __ATOMIC_RELAXED);
		}
		if (ok) {
			copy_avx(d, s, n);
			return;
		}
	}
#endif
	memcpy(d, s, n);
}

void st_copy_frame(struct store *s, uint8_t *dst, const uint8_t *hdr, const struct st_gather *g)
{
	memcpy(dst, hdr, FRAME_HDR);
	copy_payload(dst + FRAME_HDR, g->head, g->head_len);
	if (g->len > g->head_len)
		store_iov_copy(dst + FRAME_HDR + g->head_len, g->v, g->skip, g->len - g->head_len);
	s->copied += g->len;
}

void store_iov_copy(uint8_t *dst, const struct store_iov *v, size_t skip, size_t n)
{
	for (; n; v++, skip = 0) {
		size_t k = v->len - skip < n ? v->len - skip : n;
		copy_payload(dst, (const uint8_t *)v->base + skip, k);
		dst += k, n -= k;
	}
}

uint32_t store_iov_crc32c(uint32_t crc, const struct store_iov *v, size_t skip, size_t n)
{
	for (; n; v++, skip = 0) {
		size_t k = v->len - skip < n ? v->len - skip : n;
		crc = store_crc32c(crc, (const uint8_t *)v->base + skip, k);
		n -= k;
	}
	return crc;
}

uint64_t store_copied_bytes(const struct store *s)
{
	return s->copied;
}

/* A frame too big for the tail (p has no write in flight): the tail's
 * bytes, the frame header and the payload go out together from a scratch
 * buffer, asynchronously when the platform can (p's high watermark moves
 * to its end offset plus count when the write completes); the last
 * partial block continues in the tail. */
int st_write_big(struct store *s, struct store_part *p, const uint8_t *hdr,
                 const struct st_gather *g, uint32_t count)
{
	uint32_t total = p->tail_used + FRAME_HDR + g->len;
	uint32_t nblk = (total + STORE_BLOCK - 1) / STORE_BLOCK;
	uint32_t full = total / STORE_BLOCK * STORE_BLOCK, i = ST_WRITES;
	uint64_t blk = seg_blk(s, p->segs[p->nsegs - 1]) + p->tail_base / STORE_BLOCK;
	uint8_t *b;

	if (p->wslot)
		return STORE_EINVAL; /* the caller waits first */
	if (!(b = s->pl.alloc(s->pl.ctx, (size_t)nblk * STORE_BLOCK)))
		return STORE_ENOMEM;
	memcpy(b, p->tail, p->tail_used);
	st_copy_frame(s, b + p->tail_used, hdr, g);
	memset(b + total, 0, (size_t)nblk * STORE_BLOCK - total);
	if (s->pl.write_start && (i = free_slot(s)) < ST_WRITES &&
	    !w_start(s, p, i, b, blk, nblk, p->end_off + count, true)) {
		memcpy(p->tail, b + full, total - full);
	} else {
		if (s->pl.write(s->pl.ctx, blk, b, nblk)) {
			st_free(s, b);
			return STORE_EIO;
		}
		s->unflushed += (uint64_t)nblk * STORE_BLOCK;
		memcpy(p->tail, b + full, total - full);
		st_free(s, b);
	}
	p->tail_base += full;
	p->tail_used = total - full;
	p->tail_clean = 0;
	st_set_dirty(s, p, false);
	return STORE_OK;
}

int st_write_out(struct store *s, struct store_part *p)
{
	return write_out(s, p, false);
}

/* p's data all on the device when this returns 0, nothing in flight. */
int st_write_out_sync(struct store *s, struct store_part *p)
{
	return write_out(s, p, true);
}

/* Wait for p's write in flight, whatever its fate (the partition is going
 * away: a failed write is dropped with it). */
void st_part_quiesce(struct store *s, struct store_part *p)
{
	while (p->wslot) {
		struct st_write *w = &s->w[p->wslot - 1];
		if (w->state == ST_W_BUSY && !s->pl.wait(s->pl.ctx))
			continue;
		if (w->state == ST_W_BUSY) {
			/* the wait failed: the device may still read it, leave it */
			if (w->buf == p->tail)
				p->tail = NULL;
			w->buf = NULL;
		}
		if (w->state != ST_W_OK)
			w->state = ST_W_OK;
		(void)st_reap(s);
	}
}

/* Every partition's data on the device, nothing in flight. */
int st_write_sync_all(struct store *s)
{
	int err = STORE_OK;

	for (uint32_t t = 0; t < s->ntopics; t++)
		for (uint32_t k = 0; k < s->topics[t].nparts; k++) {
			int e = st_write_out_sync(s, &s->topics[t].parts[k]);
			if (e)
				err = e;
		}
	return err;
}

/* A requested flush may go to the device once every partition's appends
 * up to the request are on it: its newest completed write was issued
 * after the request, or it has no appended data that is not. */
int st_flush_try(struct store *s)
{
	if (!s->flush_pending)
		return STORE_OK;
	for (uint32_t t = 0; t < s->ntopics; t++)
		for (uint32_t k = 0; k < s->topics[t].nparts; k++) {
			const struct store_part *p = &s->topics[t].parts[k];
			uint64_t need =
			    p->last_append < s->flush_need ? p->last_append : s->flush_need;
			if (p->wdone_ctr < need)
				return STORE_OK;
		}
	s->flush_inflight = s->flush_pending;
	s->flush_pending = 0;
	if (s->pl.flush_start(s->pl.ctx)) {
		s->flush_inflight = 0;
		return STORE_EIO;
	}
	return STORE_OK;
}

unsigned store_poll(struct store *s)
{
	unsigned n = s->w_busy ? st_reap(s) : 0;

	if (s->flush_pending)
		(void)st_flush_try(s);
	return n;
}

int store_write_pending(struct store *s)
{
	int err = STORE_OK;

	if (s->w_busy) {
		(void)st_reap(s);
		st_resubmit(s);
	}
	/* only the dirty partitions (a clean one has nothing to hand over and its
	 * write in flight was reaped above): the scan stops at the last of them */
	uint32_t left = s->ndirty;
	for (uint32_t t = 0; t < s->ntopics && left; t++)
		for (uint32_t k = 0; k < s->topics[t].nparts && left; k++) {
			struct store_part *p = &s->topics[t].parts[k];
			if (!p->dirty)
				continue;
			left--;
			int e = st_write_out(s, p);
			if (e)
				err = e;
		}
	s->ndirty -= left; /* every partition visited: counts of deleted ones drop */
	if (s->write_failed) {
		s->write_failed = false;
		err = STORE_EIO;
	}
	if (s->flush_pending && st_flush_try(s))
		err = STORE_EIO;
	return err;
}

bool store_io_busy(const struct store *s)
{
	return s->w_busy || s->flush_pending || s->flush_inflight;
}

uint64_t store_writes_done(const struct store *s)
{
	return s->writes_done;
}

uint64_t store_write_errors(const struct store *s)
{
	return s->write_errors;
}
