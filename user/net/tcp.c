/*
 * TCP connection table and the event API: slot pool, 4-tuple hash, ISS,
 * listeners, and the calls an application makes.
 */
#include "tcp.h"

/* Memory: the slots, the send references, a power-of-two bucket array,
 * then the timer heap (one index per slot). */
static uint32_t hash_buckets(const struct floo_config *cfg)
{
	uint32_t n = 1;

	while (n < cfg->n_tcp)
		n <<= 1;
	return n;
}

size_t tcp_mem_size(const struct floo_config *cfg)
{
	return (size_t)cfg->n_tcp * sizeof(struct floo_tcp) +
	       (size_t)cfg->n_tcp * cfg->tcp_sndq * sizeof(struct tcp_sref) +
	       (size_t)hash_buckets(cfg) * sizeof(uint32_t) + (size_t)cfg->n_tcp * sizeof(uint32_t);
}

void tcp_init(struct floo_stack *st, void *mem)
{
	uint32_t nb = hash_buckets(&st->cfg);

	struct tcp_sref *refs;

	st->tcp = mem;
	refs = (struct tcp_sref *)(st->tcp + st->cfg.n_tcp);
	st->tcp_hash = (uint32_t *)(refs + (size_t)st->cfg.n_tcp * st->cfg.tcp_sndq);
	st->tcp_hash_mask = nb - 1;
	memset(st->tcp_hash, 0, nb * sizeof(uint32_t));
	st->theap = st->tcp_hash + nb;
	st->theap_n = 0;
	st->tcp_free = NULL;
	for (uint32_t i = st->cfg.n_tcp; i-- > 0;) {
		struct floo_tcp *c = &st->tcp[i];

		memset(c, 0, sizeof(*c));
		c->st = st;
		c->idx = i;
		c->sndq = refs + (size_t)i * st->cfg.tcp_sndq;
		c->dirty_next = st->tcp_free; /* free list reuses this link */
		st->tcp_free = c;
	}
	st->iss_secret = st->plat.random32(st->plat.ctx);
	st->eph_next = (uint16_t)(49152 + st->plat.random32(st->plat.ctx) % 16384);
}

/* Mix a 4-tuple into a hash (murmur3 finaliser; not cryptographic). */
static uint32_t tuple_hash(uint32_t secret, uint32_t lip, uint16_t lport, uint32_t rip,
                           uint16_t rport)
{
	uint32_t h = secret ^ lip ^ (rip * 0x9e3779b1u) ^ (((uint32_t)lport << 16) | rport);

	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

struct floo_tcp *tcp_lookup(struct floo_stack *st, uint32_t lip, uint16_t lport, uint32_t rip,
                            uint16_t rport)
{
	uint32_t b = tuple_hash(st->iss_secret, lip, lport, rip, rport) & st->tcp_hash_mask;

	for (uint32_t i = st->tcp_hash[b]; i; i = st->tcp[i - 1].hnext) {
		struct floo_tcp *c = &st->tcp[i - 1];

		if (c->lport == lport && c->rport == rport && c->rip == rip && c->lip == lip)
			return c;
	}
	return NULL;
}

void tcp_hash_insert(struct floo_tcp *c)
{
	struct floo_stack *st = c->st;
	uint32_t b =
	    tuple_hash(st->iss_secret, c->lip, c->lport, c->rip, c->rport) & st->tcp_hash_mask;

	c->hnext = st->tcp_hash[b];
	st->tcp_hash[b] = c->idx + 1;
}

static void hash_remove(struct floo_tcp *c)
{
	struct floo_stack *st = c->st;
	uint32_t b =
	    tuple_hash(st->iss_secret, c->lip, c->lport, c->rip, c->rport) & st->tcp_hash_mask;
	uint32_t *pp = &st->tcp_hash[b];

	while (*pp) {
		if (*pp == c->idx + 1) {
			*pp = c->hnext;
			return;
		}
		pp = &st->tcp[*pp - 1].hnext;
	}
}

/* Oldest TIME_WAIT connection, to recycle when the pool is empty. */
static struct floo_tcp *tcp_oldest_tw(struct floo_stack *st)
{
	struct floo_tcp *best = NULL;

	for (uint32_t i = 0; i < st->cfg.n_tcp; i++) {
		struct floo_tcp *c = &st->tcp[i];

		if (c->state == TCP_TIME_WAIT && (!best || c->t_2msl < best->t_2msl))
			best = c;
	}
	return best;
}

/* A zeroed slot, recycling TIME_WAIT if needed; NULL when all busy. */
struct floo_tcp *tcp_alloc(struct floo_stack *st)
{
	struct floo_tcp *c = st->tcp_free;
	struct tcp_sref *refs;
	uint32_t idx;
	uint16_t gen;

	if (!c) {
		c = tcp_oldest_tw(st);
		if (!c)
			return NULL;
		tcp_destroy(c, 0);
		c = st->tcp_free;
	}
	/* tcp_destroy() freed one. NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
	st->tcp_free = c->dirty_next;
	idx = c->idx;
	gen = c->gen;
	refs = c->sndq;
	memset(c, 0, sizeof(*c));
	c->st = st;
	c->idx = idx;
	c->gen = gen;
	c->sndq = refs;
	c->rto_ms = TCP_RTO_INIT_MS;
	c->last_rx_ns = st->now_ns;
	st->tcp_used++;
	return c;
}

/* RFC 6528 style: a clock component (4 us ticks) plus a keyed hash of the
 * tuple, so sequence spaces of successive incarnations move forward. */
uint32_t tcp_new_iss(struct floo_stack *st, uint32_t lip, uint16_t lport, uint32_t rip,
                     uint16_t rport)
{
	return (uint32_t)(st->now_ns / 4000) +
	       tuple_hash(st->iss_secret ^ 0x5bd1e995u, lip, lport, rip, rport);
}

/* Deliver an event unless the application is gone. */
void tcp_event(struct floo_tcp *c, enum floo_tcp_event_type t, struct floo_pbuf *pb, void *cookie,
               int err)
{
	struct floo_tcp_event ev = {.type = t, .pb = pb, .cookie = cookie, .err = err};

	if (!(c->flags & TF_APP_GONE) && c->cb) {
		c->cb(c, c->user, &ev);
		return;
	}
	if (t == FLOO_TCP_DATA)
		floo_tcp_release(c->st, pb);
}

/* Pop bytes off the reference queue; each fully covered reference is
 * returned to the application with a SENT event. */
void tcp_sndq_ack(struct floo_tcp *c, uint32_t bytes)
{
	while (bytes && c->sndq_n) {
		struct tcp_sref *r = &c->sndq[c->sndq_head];
		uint32_t n = bytes < r->len ? bytes : r->len;

		r->p += n;
		r->len -= n;
		bytes -= n;
		c->sndq_bytes -= n;
		c->snd_buf_seq += n;
		if (r->len)
			break;
		c->sndq_head = (uint16_t)((c->sndq_head + 1) % c->st->cfg.tcp_sndq);
		c->sndq_n--;
		tcp_event(c, FLOO_TCP_SENT, NULL, r->cookie, 0);
	}
}

static void dirty_remove(struct floo_tcp *c)
{
	struct floo_tcp **pp = &c->st->tcp_dirty;

	if (!(c->flags & TF_DIRTY))
		return;
	while (*pp && *pp != c)
		pp = &(*pp)->dirty_next;
	if (*pp)
		*pp = c->dirty_next;
	c->flags &= (uint16_t)~TF_DIRTY;
}

struct tcp_listener *tcp_listener_of(struct floo_tcp *c)
{
	if (!(c->flags & TF_PASSIVE) || c->listener >= FLOO_LISTEN_N)
		return NULL;
	return &c->st->listen[c->listener];
}

/* Free everything the connection holds and its slot. Safe to call from
 * inside an event callback of this connection only as the last action. */
void tcp_destroy(struct floo_tcp *c, int err)
{
	struct floo_stack *st = c->st;
	struct tcp_listener *l = tcp_listener_of(c);
	bool half_open = c->state == TCP_SYN_RCVD || c->state == TCP_SYN_SENT;

	if (c->state == TCP_SYN_RCVD && l && l->pending)
		l->pending--;
	/* CLOSED first: callbacks below may not queue anything new. */
	c->state = TCP_CLOSED;
	while (c->sndq_n) {
		struct tcp_sref *r = &c->sndq[c->sndq_head];

		c->sndq_head = (uint16_t)((c->sndq_head + 1) % c->st->cfg.tcp_sndq);
		c->sndq_n--;
		tcp_event(c, FLOO_TCP_SENT, NULL, r->cookie, err ? err : 0);
	}
	while (c->ooo) {
		struct floo_pbuf *pb = c->ooo;

		c->ooo = pb->next;
		floo_pbuf_free(st, pb);
	}
	c->ooo_n = 0;
	/* A passive half-open connection was never shown to the application. */
	if (!(c->flags & TF_APP_GONE) && !(half_open && (c->flags & TF_PASSIVE)))
		tcp_event(c, FLOO_TCP_CLOSED, NULL, NULL, err);
	c->flags |= TF_APP_GONE;
	dirty_remove(c);
	hash_remove(c);
	tcp_timer_remove(c);
	c->gen++;
	st->tcp_used--;
	c->dirty_next = st->tcp_free;
	st->tcp_free = c;
}
