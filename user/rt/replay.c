/* Crash recovery with input replay (hallows/replay.h, docs/snapshots.md). */
#include <hallows/replay.h>
#include <hallows/syscall.h>
#include <hallows/uctx.h>
#include <lib/string.h>

#define RP_CHECKPOINT 0x6e0e /* the worker's call on its endpoint: take a checkpoint now */

/* Set before the first snapshot and never written again: the worker's view of its supervisor. */
static struct rp_state *st;
static hl_cptr_t rp_ep;
/* The worker's next response number: in covered memory, so a restore takes it back with the
 * rest of the service's state, and a replayed response is recognised by it. */
static uint32_t out_seq;

static void *(*page_source)(size_t n); /* the runtime's, before rp_init hooked it */

/* The worker's heap pages, noted for a recording (the state page is outside the snapshot). */
static void *recorded_pages(size_t n)
{
	uint8_t *p = page_source(n);
	uint64_t lo = (uint64_t)p, hi = lo + n * 4096;

	if (!p)
		return p;
	if (st->nheap && st->heap[st->nheap - 1][1] == lo)
		st->heap[st->nheap - 1][1] = hi;
	else if (st->nheap < RP_MAX_HEAP)
		st->heap[st->nheap][0] = lo, st->heap[st->nheap][1] = hi, st->nheap++;
	return p;
}

static __attribute__((noreturn)) void diverged(const char *what)
{
	rt_printf("rp: FAILED: replay diverged at event %u of %u: %s\n", st->cursor, st->count,
	          what);
	rt_exit(1);
}

static void checkpoint(void)
{
	hl_word_t info = HL_MSGINFO(RP_CHECKPOINT, 0, 0);
	struct hl_msg m = {{0}};

	hl_syscall(HL_SYS_CALL, rp_ep, &info, &m, NULL);
}

/*
 * Called first by every input: a checkpoint when one is due (every interval requests, or the log
 * is full). It comes before the test for replay, as the worker restored to this checkpoint
 * resumes here and must then find itself replayed.
 */
static void maybe_checkpoint(bool request)
{
	if (!st->replaying &&
	    ((request && st->inputs_since >= st->interval) || st->count >= st->log_cap))
		checkpoint();
}

/* The next logged event if the worker is being replayed and it is of this kind (and, for an
 * injected crash, this phase); NULL when live. Leaves replay after the last event. */
static struct rp_event *replayed(uint32_t kind, uint32_t phase)
{
	if (!st->replaying)
		return NULL;
	struct rp_event *e = &st->log[st->cursor];
	if (e->kind != kind || (kind == RP_EV_INJECT && e->data[0] != phase)) {
		if (kind == RP_EV_INJECT)
			return NULL; /* not the point where it crashed */
		diverged(kind == RP_EV_RING ? "a request was read" : "the clock was read");
	}
	if (++st->cursor == st->count)
		st->replaying = 0;
	return e;
}

/* Append an event (live only; maybe_checkpoint made room). */
static void log_commit(uint32_t kind, const void *data, uint32_t len)
{
	struct rp_event *e = &st->log[st->count];

	e->kind = kind, e->len = len;
	memcpy(e->data, data, len);
	st->count++;
}

uint32_t rp_recv(void *buf, uint32_t len)
{
	maybe_checkpoint(true);
	struct rp_event *e = replayed(RP_EV_RING, 0);

	if (!e) {
		for (;;) {
			long k = hl_ring_peek(&st->in, 1);
			if (k == 1)
				break;
			if (k < 0 || hl_ring_wait(&st->in) < 0) {
				rt_printf("rp: FAILED: the request ring is corrupt\n");
				rt_exit(1);
			}
		}
		uint32_t n = st->in.entry_size < RP_DATA_MAX ? st->in.entry_size : RP_DATA_MAX;
		e = &st->log[st->count];
		log_commit(RP_EV_RING, hl_ring_entry(&st->in, 0), n);
		st->in_next = st->in.mine + 1;
		hl_ring_release(&st->in, 1);
		st->inputs_total++, st->inputs_since++;
	}
	uint32_t n = e->len < len ? e->len : len;
	memcpy(buf, e->data, n);
	return n;
}

void rp_send(const void *buf, uint32_t len)
{
	uint32_t seq = out_seq++;

	if ((int32_t)(seq - st->out_sent) < 0) { /* sent before the crash: the peer has it */
		st->suppressed++;
		return;
	}
	for (;;) {
		long k = hl_ring_reserve(&st->out, 1);
		if (k == 1)
			break;
		if (k < 0 || hl_ring_wait(&st->out) < 0) {
			rt_printf("rp: FAILED: the response ring is corrupt\n");
			rt_exit(1);
		}
	}
	uint8_t *slot = hl_ring_entry(&st->out, 0);
	uint32_t n = len < st->out.entry_size ? len : st->out.entry_size;
	memcpy(slot, buf, n);
	memset(slot + n, 0, st->out.entry_size - n);
	hl_ring_publish(&st->out, 1);
	st->out_sent = seq + 1;
}

uint64_t rp_clock(void)
{
	maybe_checkpoint(false);
	struct rp_event *e = replayed(RP_EV_CLOCK, 0);
	uint64_t t;

	if (e) {
		memcpy(&t, e->data, sizeof(t));
		return t;
	}
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	t = (uint64_t)hi << 32 | lo;
	log_commit(RP_EV_CLOCK, &t, sizeof(t));
	return t;
}

/* An injected crash fires: the same steps live and in a replay for debugging (where the event is
 * written again in its place), so the worker reaches the fault with the same registers. */
static __attribute__((noinline)) bool fire(uint32_t phase)
{
	uint8_t p = (uint8_t)phase;

	st->inject_next++;
	log_commit(RP_EV_INJECT, &p, 1);
	return true;
}

bool rp_crash_point(uint32_t phase)
{
	maybe_checkpoint(false);
	if (st->replaying) {
		if (!replayed(RP_EV_INJECT, phase) || !st->debug)
			return false; /* a recovery passes the point where it crashed */
		st->count = st->cursor - 1;
		return fire(phase);
	}
	if (st->inject_next >= st->ninject || st->inject_at[st->inject_next] != st->inputs_total ||
	    st->inject_phase[st->inject_next] != phase)
		return false;
	return fire(phase);
}

const struct rp_state *rp_stats(void)
{
	return st;
}

static void worker_entry(struct rp_service *s)
{
	checkpoint(); /* the first snapshot: the service before its first input */
	s->serve(s->arg);
	rt_printf("rp: FAILED: the service returned\n");
	rt_exit(1);
}

/* Attach r to channel `name` and exclude its ring (mapped in the other partition too) unless the
 * root task did. */
static long attach_excluded(struct rp_service *s, const char *name, struct hl_ring *r,
                            bool producer, bool exclude)
{
	const struct hl_partinfo *pi = rt_self.pi;

	for (uint32_t i = 0; pi && i < pi->nchannels && i < HL_PARTINFO_MAX_CHANNELS; i++) {
		const struct hl_channel_end *c = &pi->ch[i];
		if (strncmp(c->name, name, sizeof(c->name)))
			continue;
		if (!c->is_producer != !producer || rt_channel(name, r) != HL_RING_OK)
			return HL_ERR_INVALID_ARG;
		if (!exclude)
			return HL_OK;
		return hl_snapshot_exclude(s->g.snap, c->ring_vaddr,
		                           ((uint64_t)c->ring_bytes + 4095) & ~4095ull);
	}
	return HL_ERR_INVALID_ARG;
}

long rp_init(struct rp_service *s, uint32_t snap_bits, const char *in, const char *out,
             uint32_t interval)
{
	long err;

	memset(s, 0, sizeof(*s));
	/* the manifest's snapshot when it declares one (its rings are excluded already), else one
	 * of our own */
	bool manifest = (err = rt_guard_init_manifest(&s->g)) != HL_ERR_INVALID_CAP;
	if (err && (manifest || (err = rt_guard_init(&s->g, snap_bits))))
		return err;
	uint8_t *pages = rt_map_pages(1 + RP_LOG_PAGES);
	if (!pages)
		return HL_ERR_NO_MEMORY;
	_Static_assert(sizeof(struct rp_state) <= 4096, "the state fits its page");
	s->st = (struct rp_state *)pages;
	s->st->log = (struct rp_event *)(pages + 4096);
	s->st->log_cap = RP_LOG_PAGES * 4096 / sizeof(struct rp_event);
	s->st->interval = interval ? interval : 1;
	if ((err = hl_snapshot_exclude(s->g.snap, (uint64_t)pages, (1 + RP_LOG_PAGES) * 4096ull)) ||
	    (err = attach_excluded(s, in, &s->st->in, false, !manifest)) ||
	    (err = attach_excluded(s, out, &s->st->out, true, !manifest)))
		return err;
	rt_printf("rp: %s snapshot, channels %s and %s excluded%s\n",
	          manifest ? "the manifest's" : "an own", in, out,
	          manifest ? " by the root task" : "");
	s->st->in_next = s->st->in.mine;
	st = s->st;
	page_source = rt_page_source;
	rt_page_source = recorded_pages;
	return HL_OK;
}

void rp_record(struct rp_service *s, uint32_t n)
{
	s->st->record_at = n;
}

static void read_gprs(hl_cptr_t tcb, uint64_t r[20])
{
	for (hl_word_t g = 0; g < 5; g++)
		hl_thread_read_gprs(tcb, g, &r[4 * g], &r[4 * g + 1], &r[4 * g + 2], &r[4 * g + 3]);
}

/* The recording goes to the console as "rec OFFSET HEX" lines of 64 bytes (lines of zeros left
 * out) and "rec end LENGTH FNV1A64"; tools/replay.py writes the file. */
struct hexw {
	uint64_t off, sum;
	uint32_t n;
	uint8_t buf[64];
};

static void hex_flush(struct hexw *w)
{
	static const char digits[] = "0123456789abcdef";
	char line[2 * sizeof(w->buf) + 1];
	bool zero = true;

	for (uint32_t i = 0; i < w->n; i++) {
		zero &= !w->buf[i];
		line[2 * i] = digits[w->buf[i] >> 4], line[2 * i + 1] = digits[w->buf[i] & 15];
	}
	line[2 * w->n] = 0;
	if (!zero)
		rt_printf("rec %llx %s\n", (unsigned long long)(w->off - w->n), line);
	w->n = 0;
}

static void hex_put(struct hexw *w, const void *p, uint64_t len)
{
	const uint8_t *b = p;

	for (uint64_t i = 0; i < len; i++) {
		w->buf[w->n++] = b[i];
		w->sum = (w->sum ^ b[i]) * 0x100000001b3ull;
		w->off++;
		if (w->n == sizeof(w->buf))
			hex_flush(w);
	}
}

static void hex_range(struct hexw *w, uint64_t va, uint64_t len, bool fresh)
{
	uint64_t where = va | fresh;
	uint8_t head[16];

	memcpy(head, &where, 8);
	memcpy(head + 8, &len, 8);
	hex_put(w, head, sizeof(head));
	hex_put(w, (const void *)va, len);
}

extern const uint8_t __data_start[], _end[];

/* After the restore: memory is as at the checkpoint, the worker waits to call again. */
static void record_write(struct rp_service *s, const struct hl_msg *m)
{
	struct rp_state *t = s->st;
	struct rp_rec_hdr h = {.magic = RP_REC_MAGIC,
	                       .out_sent = t->ckpt_out_sent,
	                       .out_mine = t->ckpt_out_mine,
	                       .inject_next = t->ckpt_inject_next,
	                       .nevents = t->count,
	                       .nranges = 3 + t->nheap};
	struct hexw w = {.sum = 0xcbf29ce484222325ull};

	memcpy(h.ckpt_regs, t->ckpt_regs, sizeof(h.ckpt_regs));
	memcpy(h.crash_regs, t->crash_regs, sizeof(h.crash_regs));
	for (int i = 0; i < 4; i++)
		h.fault[i] = m->w[i];
	rt_printf("rp: recording crash %u: %u events, %u heap ranges\n", t->record_at, t->count,
	          t->nheap);
	hex_put(&w, &h, sizeof(h));
	hex_put(&w, t->log, (uint64_t)t->count * sizeof(struct rp_event));
	uint64_t data = (uint64_t)__data_start;
	hex_range(&w, data, (((uint64_t)_end + 4095) & ~4095ull) - data, false);
	hex_range(&w, (uint64_t)s->g.stack, RT_GUARD_STACK_PAGES * 4096ull, false);
	hex_range(&w, t->ckpt_regs[18] & ~4095ull, 4096, false); /* the IPC buffer: fs_base */
	for (uint32_t i = 0; i < t->nheap; i++)
		hex_range(&w, t->heap[i][0], t->heap[i][1] - t->heap[i][0], true);
	hex_flush(&w);
	rt_printf("rec end %llx %016llx\n", (unsigned long long)w.off, (unsigned long long)w.sum);
}

long rp_inject(struct rp_service *s, uint64_t at, uint32_t phase)
{
	struct rp_state *t = s->st;

	if (t->ninject >= RP_MAX_INJECT || !at ||
	    (t->ninject &&
	     (at < t->inject_at[t->ninject - 1] ||
	      (at == t->inject_at[t->ninject - 1] && phase <= t->inject_phase[t->ninject - 1]))))
		return HL_ERR_INVALID_ARG;
	t->inject_at[t->ninject] = at, t->inject_phase[t->ninject] = phase;
	t->ninject++;
	return HL_OK;
}

static long reply(void)
{
	hl_word_t info = HL_MSGINFO(0, 0, 0);
	struct hl_msg m = {{0}};

	return hl_syscall(HL_SYS_REPLY, 0, &info, &m, NULL);
}

/* The worker faulted: everything it did since the checkpoint is undone, and it is fed the
 * logged inputs again from the first. */
static long recover(struct rp_service *s, const struct hl_msg *m)
{
	struct rp_state *t = s->st;
	long err;

	t->crashes++;
	read_gprs(s->g.tcb, t->crash_regs);
	t->last = (struct rp_crash){m->w[HL_FAULT_VECTOR], m->w[HL_FAULT_ERROR],
	                            m->w[HL_FAULT_ADDR], m->w[HL_FAULT_RIP], t->inputs_total};
	if ((err = hl_thread_suspend(s->g.tcb)))
		return err;
	uint32_t inputs = 0;
	for (uint32_t i = 0; i < t->count; i++)
		inputs += t->log[i].kind == RP_EV_RING;
	t->replayed += inputs;
	t->cursor = 0;
	t->replaying = t->count > 0; /* before the restore lets the worker run */
	if ((err = hl_snapshot_restore(s->g.snap)))
		return err;
	if (t->crashes == t->record_at)
		record_write(s, m);
	rt_printf("rp: crash %llu (vector %llu at %#llx, rip %#llx) at input %llu: restored, "
	          "replaying %u inputs (%u events)\n",
	          (unsigned long long)t->crashes, (unsigned long long)t->last.vector,
	          (unsigned long long)t->last.addr, (unsigned long long)t->last.rip,
	          (unsigned long long)t->last.input, inputs, t->count);
	return HL_OK;
}

long rp_run(struct rp_service *s, void (*serve)(void *), void *arg)
{
	bool taken = false, restored = false;
	long err;

	s->serve = serve, s->arg = arg;
	st = s->st, rp_ep = s->g.ep;
	uint64_t sp = ((uint64_t)s->g.stack + RT_GUARD_STACK_PAGES * 4096ull - 16) & ~15ull;
	if ((err = hl_thread_write_regs(s->g.tcb, (hl_word_t)worker_entry, sp - 8, (hl_word_t)s,
	                                0)) ||
	    (err = hl_thread_resume(s->g.tcb)))
		return -err;
	for (;;) {
		hl_word_t info = 0, badge = 0;
		struct hl_msg m = {{0}};
		if ((err = hl_syscall(HL_SYS_RECV, s->g.ep, &info, &m, &badge)))
			return -err;
		if (HL_MSG_LABEL(info) == RP_CHECKPOINT) {
			if (restored) { /* the restored worker asks again: its snapshot is this one
				         */
				restored = false;
			} else {
				if ((taken && (err = hl_snapshot_discard(s->g.snap))) ||
				    (err = hl_snapshot_take(s->g.snap)))
					return -err;
				taken = true;
				st->count = st->cursor = st->inputs_since = 0;
				st->checkpoints++;
				st->ckpt_out_sent = st->out_sent;
				st->ckpt_out_mine = st->out.mine;
				st->ckpt_inject_next = st->inject_next;
				read_gprs(s->g.tcb, st->ckpt_regs);
			}
			reply();
		} else if (HL_MSG_LABEL(info) == HL_LABEL_FAULT && taken) {
			if ((err = recover(s, &m)))
				return -err;
			restored = true;
		} else {
			rt_printf(
			    "rp: FAILED: worker fault before its first checkpoint (vector %llu "
			    "at %#llx, rip %#llx)\n",
			    (unsigned long long)m.w[HL_FAULT_VECTOR],
			    (unsigned long long)m.w[HL_FAULT_ADDR],
			    (unsigned long long)m.w[HL_FAULT_RIP]);
			return -HL_ERR_ILLEGAL_OP;
		}
	}
}

/* ---- deterministic replay for debugging ---- */

#define DEBUG_VA 0x600000000000ull /* the replayer's own pages, far from the program's */

static const char *const reg_names[20] = {"rax", "rbx", "rcx", "rdx",    "rsi",     "rdi",  "rbp",
                                          "rsp", "r8",  "r9",  "r10",    "r11",     "r12",  "r13",
                                          "r14", "r15", "rip", "rflags", "fs_base", "state"};

static void resume_worker(struct uctx *c)
{
	uctx_resume(c, (volatile uint32_t *)&c->pad[0]);
}

enum { RANGES_CHECK, RANGES_MAP, RANGES_LOAD };

/* The ranges of a recording, checked against its length (outside bytes: a clear error); then the
 * heap pages among them mapped; then all loaded. */
static long walk_ranges(const uint8_t *p, const uint8_t *end, uint64_t n, int what)
{
	for (uint64_t i = 0; i < n; i++) {
		uint64_t head[2];
		if ((uint64_t)(end - p) < sizeof(head))
			return HL_ERR_RANGE;
		memcpy(head, p, sizeof(head));
		p += sizeof(head);
		uint64_t va = head[0] & ~4095ull, len = head[1];
		if (len > (uint64_t)(end - p) || len % 4096 || va < 0x400000ull ||
		    va + len > HL_ROOT_STACK_TOP || va + len < va)
			return HL_ERR_RANGE;
		/* heap pages the replayed run has not mapped yet */
		for (uint64_t off = 0; what == RANGES_MAP && (head[0] & 1) && off < len;
		     off += 4096) {
			hl_cptr_t f = rt_alloc(HL_OBJ_FRAME, 12);
			if (!f || rt_map_frame(HL_SLOT_ASPACE, f, va + off, HL_R_READ | HL_R_WRITE))
				return HL_ERR_NO_MEMORY;
		}
		if (what == RANGES_LOAD)
			memcpy((void *)va, p, len);
		p += len;
	}
	return p == end ? HL_OK : HL_ERR_RANGE;
}

long rp_debug_replay(struct rp_service *s, const void *rec, uint64_t len)
{
	struct rp_state *t = s->st;
	struct rp_rec_hdr h;
	const uint8_t *p = rec, *end = p + len;
	long err;

	if (len < sizeof(h))
		return HL_ERR_RANGE;
	memcpy(&h, p, sizeof(h));
	p += sizeof(h);
	if (h.magic != RP_REC_MAGIC || h.nevents > t->log_cap ||
	    h.nevents * sizeof(struct rp_event) > (uint64_t)(end - p))
		return HL_ERR_INVALID_ARG;
	const uint8_t *ranges = p + h.nevents * sizeof(struct rp_event);
	if ((err = walk_ranges(ranges, end, h.nranges, RANGES_CHECK)))
		return err;
	/* the replayer's context and stack for the worker's first instructions */
	for (int i = 0; i < 4; i++) {
		hl_cptr_t f = rt_alloc(HL_OBJ_FRAME, 12);
		if (!f ||
		    rt_map_frame(HL_SLOT_ASPACE, f, DEBUG_VA + i * 4096ull, HL_R_READ | HL_R_WRITE))
			return HL_ERR_NO_MEMORY;
	}
	if ((err = walk_ranges(ranges, end, h.nranges, RANGES_MAP)))
		return err;
	/* the worker's memory as at the checkpoint (the program's data and this runtime's with it)
	 */
	struct rt self = rt_self;
	walk_ranges(ranges, end, h.nranges, RANGES_LOAD);
	if (rt_self.next_slot < self.next_slot)
		rt_self.next_slot = self.next_slot; /* slots the replayer took stay taken */
	memcpy(t->log, p, h.nevents * sizeof(struct rp_event));
	t->count = (uint32_t)h.nevents, t->cursor = 0;
	t->replaying = t->count > 0, t->debug = 1;
	t->out_sent = (uint32_t)h.out_sent;
	t->inject_next = (uint32_t)h.inject_next;
	/* the response ring where it was (this end's index; the peer has taken everything) */
	t->out.mine = (uint32_t)h.out_mine;
	atomic_store(&t->out.sh->head, t->out.mine);
	atomic_store(&t->out.sh->tail, t->out.mine);
	t->inputs_since = 0;
	/* its registers at the checkpoint: blocked in the checkpoint call, which it makes again */
	struct uctx *c = (struct uctx *)DEBUG_VA;
	const uint64_t *r = h.ckpt_regs;
	memset(c, 0, sizeof(*c));
	c->rax = HL_SYS_CALL, c->rbx = r[1], c->rcx = r[2], c->rdx = r[3];
	c->rsi = r[4], c->rdi = r[5], c->rbp = r[6], c->rsp = r[7];
	c->r8 = r[8], c->r9 = r[9], c->r10 = r[10], c->r11 = r[11];
	c->r12 = r[12], c->r13 = r[13], c->r14 = r[14], c->r15 = r[15];
	c->rip = r[16] - 2, c->rflags = r[17]; /* on its syscall instruction */
	uctx_fpu_save(c->fpu);                 /* no FPU state is live across a call (SysV ABI) */
	if ((err = hl_thread_write_regs(s->g.tcb, (hl_word_t)resume_worker, DEBUG_VA + 4 * 4096 - 8,
	                                (hl_word_t)c, 0)) ||
	    (err = hl_thread_resume(s->g.tcb)))
		return err;
	rt_printf("rp: replaying %llu events from the checkpoint (rip %#llx)\n",
	          (unsigned long long)h.nevents, (unsigned long long)(r[16] - 2));
	for (;;) {
		hl_word_t info = 0, badge = 0;
		struct hl_msg m = {{0}};
		if ((err = hl_syscall(HL_SYS_RECV, s->g.ep, &info, &m, &badge)))
			return err;
		if (HL_MSG_LABEL(info) == RP_CHECKPOINT) {
			reply();
			continue;
		}
		if (HL_MSG_LABEL(info) != HL_LABEL_FAULT)
			return HL_ERR_ILLEGAL_OP;
		uint64_t now[20];
		unsigned same = 0, fault_same = 0;
		read_gprs(s->g.tcb, now);
		for (int i = 0; i < 4; i++)
			fault_same += m.w[i] == h.fault[i];
		for (int i = 0; i < 19; i++) { /* [19] is the thread state */
			if (now[i] == h.crash_regs[i]) {
				same++;
				continue;
			}
			rt_printf("rp: %s %#llx, recorded %#llx\n", reg_names[i],
			          (unsigned long long)now[i], (unsigned long long)h.crash_regs[i]);
		}
		rt_printf("rp: replay faulted: vector %llu error %#llx at %#llx, rip %#llx; "
		          "fault %s the recording, %u of 19 registers match\n",
		          (unsigned long long)m.w[HL_FAULT_VECTOR],
		          (unsigned long long)m.w[HL_FAULT_ERROR],
		          (unsigned long long)m.w[HL_FAULT_ADDR],
		          (unsigned long long)m.w[HL_FAULT_RIP],
		          fault_same == 4 ? "as in" : "UNLIKE", same);
		hl_thread_suspend(s->g.tcb);
		return fault_same == 4 && same == 19 ? HL_OK : HL_ERR_INVALID_ARG;
	}
}

#define REC_VA 0x610000000000ull /* where a recording read from the input ring is kept */

/* The next entry of the input ring, copied (the replayer reads it before the worker runs). */
static void ring_read(struct hl_ring *r, void *buf)
{
	while (hl_ring_peek(r, 1) != 1)
		hl_ring_wait(r);
	memcpy(buf, hl_ring_entry(r, 0), r->entry_size);
	hl_ring_release(r, 1);
}

long rp_debug_replay_ring(struct rp_service *s)
{
	struct hl_ring *r = &s->st->in;
	uint64_t first[HL_RING_MAX_ENTRY / 8];

	if (r->entry_size < 16 || r->entry_size > sizeof(first))
		return HL_ERR_INVALID_ARG;
	ring_read(r, first);
	uint64_t len = first[1];
	if (first[0] != RP_REC_MAGIC || !len || len > (64ull << 20))
		return HL_ERR_INVALID_ARG;
	for (uint64_t off = 0; off < len; off += 4096) {
		hl_cptr_t f = rt_alloc(HL_OBJ_FRAME, 12);
		if (!f || rt_map_frame(HL_SLOT_ASPACE, f, REC_VA + off, HL_R_READ | HL_R_WRITE))
			return HL_ERR_NO_MEMORY;
	}
	for (uint64_t off = 0; off < len; off += r->entry_size) {
		ring_read(r, first);
		memcpy((uint8_t *)REC_VA + off, first,
		       len - off < r->entry_size ? len - off : r->entry_size);
	}
	rt_printf("rp: recording of %llu bytes received\n", (unsigned long long)len);
	return rp_debug_replay(s, (const void *)REC_VA, len);
}
