/* Crash recovery with input replay (hallows/replay.h, docs/snapshots.md). */
#include <hallows/replay.h>
#include <hallows/syscall.h>
#include <lib/string.h>

#define RP_CHECKPOINT 0x6e0e /* the worker's call on its endpoint: take a checkpoint now */

/* Set before the first snapshot and never written again: the worker's view of its supervisor. */
static struct rp_state *st;
static hl_cptr_t rp_ep;
/* The worker's next response number: in covered memory, so a restore takes it back with the
 * rest of the service's state, and a replayed response is recognised by it. */
static uint32_t out_seq;

static __attribute__((noreturn)) void diverged(const char *what)
{
	rt_printf("rp: FAILED: replay diverged at event %u of %u: %s\n", st->cursor, st->count, what);
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

bool rp_crash_point(uint32_t phase)
{
	uint8_t p = (uint8_t)phase;

	maybe_checkpoint(false);
	if (st->replaying)
		return replayed(RP_EV_INJECT, phase) && st->debug;
	if (st->inject_next >= st->ninject || st->inject_at[st->inject_next] != st->inputs_total ||
	    st->inject_phase[st->inject_next] != phase)
		return false;
	st->inject_next++;
	log_commit(RP_EV_INJECT, &p, 1);
	return true;
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

/* Exclude the ring of channel `name` (mapped in the other partition too) and attach r to it. */
static long attach_excluded(struct rp_service *s, const char *name, struct hl_ring *r,
                            bool producer)
{
	const struct hl_partinfo *pi = rt_self.pi;

	for (uint32_t i = 0; pi && i < pi->nchannels && i < HL_PARTINFO_MAX_CHANNELS; i++) {
		const struct hl_channel_end *c = &pi->ch[i];
		if (strncmp(c->name, name, sizeof(c->name)))
			continue;
		if (!c->is_producer != !producer || rt_channel(name, r) != HL_RING_OK)
			return HL_ERR_INVALID_ARG;
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
	if ((err = rt_guard_init(&s->g, snap_bits)))
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
	    (err = attach_excluded(s, in, &s->st->in, false)) ||
	    (err = attach_excluded(s, out, &s->st->out, true)))
		return err;
	s->st->in_next = s->st->in.mine;
	return HL_OK;
}

long rp_inject(struct rp_service *s, uint64_t at, uint32_t phase)
{
	struct rp_state *t = s->st;

	if (t->ninject >= RP_MAX_INJECT || !at ||
	    (t->ninject && (at < t->inject_at[t->ninject - 1] ||
	                    (at == t->inject_at[t->ninject - 1] &&
	                     phase <= t->inject_phase[t->ninject - 1]))))
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
	t->last = (struct rp_crash){m->w[HL_FAULT_VECTOR], m->w[HL_FAULT_ERROR], m->w[HL_FAULT_ADDR],
	                            m->w[HL_FAULT_RIP], t->inputs_total};
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
			if (restored) { /* the restored worker asks again: its snapshot is this one */
				restored = false;
			} else {
				if ((taken && (err = hl_snapshot_discard(s->g.snap))) ||
				    (err = hl_snapshot_take(s->g.snap)))
					return -err;
				taken = true;
				st->count = st->cursor = st->inputs_since = 0;
				st->checkpoints++;
			}
			reply();
		} else if (HL_MSG_LABEL(info) == HL_LABEL_FAULT && taken) {
			if ((err = recover(s, &m)))
				return -err;
			restored = true;
		} else {
			rt_printf("rp: FAILED: worker fault before its first checkpoint (vector %llu "
			          "at %#llx, rip %#llx)\n",
			          (unsigned long long)m.w[HL_FAULT_VECTOR],
			          (unsigned long long)m.w[HL_FAULT_ADDR],
			          (unsigned long long)m.w[HL_FAULT_RIP]);
			return -HL_ERR_ILLEGAL_OP;
		}
	}
}
