/* One event loop per core: the loops' threads and the messages between
 * them (docs/broker.md, "One event loop per core").
 *
 * Every loop answers the partitions it leads (Produce, Fetch, ListOffsets,
 * DeleteRecords) and ApiVersions itself, without locks: clients route
 * those by Metadata's leaders. Everything else is the control path, run
 * by shard 0's broker: a loop other than 0 forwards such a request
 * (M_FWD) over its ring to shard 0 and sends the answer (M_RESP) itself.
 * Shard 0 runs requests that may change the topics one at a time on its
 * control connection; the others (group, offset, admin reads) on a
 * connection of its broker standing for the client's (a remote
 * connection, closed with M_CLOSE), so that a JoinGroup waiting for a
 * rebalance holds up nothing else. A request that changed the topics or
 * their configs on
 * shard 0 (CreateTopics, DeleteTopics, CreatePartitions, AlterConfigs,
 * IncrementalAlterConfigs, a Metadata that auto-created) is then applied
 * by every other shard's broker (M_APPLY, in shard 0's order) before the
 * client gets its answer (M_ACK from each), so that all stores hold the
 * same topic table with the same ids. The brokers' own messages (M_TXN:
 * transactions across shards, user/kafka/txn.c) travel on the same rings. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/bytes.h"
#include "loop.h"

enum {
	K_PRODUCE = 0,
	K_FETCH = 1,
	K_LIST_OFFSETS = 2,
	K_METADATA = 3,
	K_API_VERSIONS = 18,
	K_CREATE_TOPICS = 19,
	K_DELETE_TOPICS = 20,
	K_DELETE_RECORDS = 21,
	K_ALTER_CONFIGS = 33,
	K_CREATE_PARTITIONS = 37,
	K_INCR_ALTER_CONFIGS = 44,
};

/* Requests that change what every shard's broker must know alike. */
static bool replicated_key(int16_t key)
{
	return key == K_CREATE_TOPICS || key == K_DELETE_TOPICS || key == K_CREATE_PARTITIONS ||
	       key == K_ALTER_CONFIGS || key == K_INCR_ALTER_CONFIGS;
}

/* Requests shard 0 runs one at a time (they may change the topics). */
static bool serialized_key(int16_t key)
{
	return replicated_key(key) || key == K_METADATA;
}

bool ctl_local_key(const struct hloop *L, int16_t key)
{
	if (L->n == 1)
		return true;
	if (L->id == 0) /* Metadata too: it may auto-create */
		return !serialized_key(key);
	return key == K_PRODUCE || key == K_FETCH || key == K_LIST_OFFSETS ||
	       key == K_DELETE_RECORDS || key == K_API_VERSIONS;
}

static bool ring_push(struct ring *r, struct hmsg *m)
{
	uint32_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint32_t h = atomic_load_explicit(&r->head, memory_order_acquire);

	if (t - h >= RING_CAP)
		return false;
	r->m[t % RING_CAP] = m;
	atomic_store_explicit(&r->tail, t + 1, memory_order_release);
	return true;
}

static struct hmsg *ring_pop(struct ring *r)
{
	uint32_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint32_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
	struct hmsg *m;

	if (h == t)
		return NULL;
	m = r->m[h % RING_CAP];
	atomic_store_explicit(&r->head, h + 1, memory_order_release);
	return m;
}

static void wake(struct hloop *L)
{
	uint64_t one = 1;

	if (write(L->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		perror("hallows-broker: wake eventfd");
}

/* Send a message to loop `to`; data changes owner (freed on failure). */
static bool post(struct hloop *L, uint32_t to, enum hmsg_type type, uint32_t slot, uint32_t gen,
                 uint8_t *data, size_t len)
{
	struct hloop *D = &L->all[to];
	struct hmsg *m = malloc(sizeof(*m));

	if (m)
		*m = (struct hmsg){type, L->id, slot, gen, data, len};
	if (!m || !ring_push(D->in[L->id], m)) {
		host_log(NULL, "loop: message not sent (ring full or no memory), type", "", type);
		free(m);
		free(data);
		return false;
	}
	wake(D);
	return true;
}

static void enqueue(struct hloop *L, struct ctlop *op)
{
	if (L->ops_tail)
		L->ops_tail->next = op;
	else
		L->ops = op;
	L->ops_tail = op;
}

/* A control request of connection h (in h's loop): shard 0 queues it,
 * another shard forwards it. The frame is copied. */
void ctl_submit(struct hloop *L, struct hconn *h, const uint8_t *frame, size_t len)
{
	uint8_t *copy = malloc(len);
	struct ctlop *op = L->id == 0 ? calloc(1, sizeof(*op)) : NULL;

	if (!copy || (L->id == 0 && !op)) {
		free(copy);
		free(op);
		h->want_close = true;
		return;
	}
	memcpy(copy, frame, len);
	if (L->id) {
		if (!post(L, 0, M_FWD, (uint32_t)h->slot, h->gen, copy, len))
			h->want_close = true;
		return;
	}
	*op = (struct ctlop){.slot = (uint32_t)h->slot, .gen = h->gen, .frame = copy, .len = len};
	enqueue(L, op);
	wake(L);
}

/* The broker's answer on the control connection (closed: it dropped the
 * request instead). */
void ctl_answer(struct hloop *L, const struct kiov *iov, uint32_t n, bool closed)
{
	struct ctlop *op = L->ops;
	size_t len = 0;

	if (!op || !L->op_running || op->answered)
		return;
	op->answered = true;
	op->closed = closed;
	wake(L);
	if (closed)
		return;
	for (uint32_t i = 0; i < n; i++)
		len += iov[i].len;
	if (!(op->resp = malloc(len ? len : 1))) {
		op->closed = true;
		return;
	}
	for (uint32_t i = 0; i < n; i++) {
		memcpy(op->resp + op->rlen, iov[i].base, iov[i].len);
		op->rlen += iov[i].len;
	}
}

/* Changes when a topic is created or deleted or gains partitions. */
static uint64_t topic_fp(const struct store *st)
{
	uint32_t n = store_topic_count(st);
	uint64_t fp = n;

	for (uint32_t i = 0; i < n; i++)
		fp = fp * 1000003u + store_topic_parts(st, i);
	return fp;
}

/* Shard 0: the remote connection standing for (origin, slot, gen). */
static struct hconn *remote_find(struct hloop *L, uint32_t origin, uint32_t slot, uint32_t gen,
                                 bool create)
{
	struct hconn *h;

	for (h = L->remote; h; h = h->rnext)
		if (h->origin == origin && (uint32_t)h->slot == slot && h->gen == gen)
			return h;
	if (!create || !(h = proxy_open(L)))
		return NULL;
	h->remote = true;
	h->origin = origin;
	h->slot = (int)slot;
	h->gen = gen;
	h->rnext = L->remote;
	L->remote = h;
	return h;
}

static void remote_free(struct hloop *L, struct hconn *h)
{
	struct hconn **pp = &L->remote;

	while (*pp != h)
		pp = &(*pp)->rnext;
	*pp = h->rnext;
	broker_conn_closed(L->sh->b, h->kc);
	free(h);
}

/* The broker's answer on a remote connection goes to its loop. */
void ctl_remote_answer(struct hloop *L, struct hconn *h, const struct kiov *iov, uint32_t n)
{
	size_t len = 0;
	uint8_t *p;

	for (uint32_t i = 0; i < n; i++)
		len += iov[i].len;
	if (!(p = malloc(len ? len : 1))) {
		h->want_close = true;
		return;
	}
	len = 0;
	for (uint32_t i = 0; i < n; i++) {
		memcpy(p + len, iov[i].base, iov[i].len);
		len += iov[i].len;
	}
	post(L, h->origin, M_RESP, (uint32_t)h->slot, h->gen, p, len);
}

/* The broker dropped a remote connection (a malformed request): the
 * client's connection is closed too. */
void ctl_remote_gone(struct hloop *L, struct hconn *h)
{
	post(L, h->origin, M_RESP, (uint32_t)h->slot, h->gen, NULL, 0);
	remote_free(L, h);
}

/* A connection that forwarded requests closes: its remote connection on
 * shard 0 goes too. */
void ctl_conn_closed(struct hloop *L, struct hconn *h)
{
	if (L->id)
		post(L, 0, M_CLOSE, (uint32_t)h->slot, h->gen, NULL, 0);
}

/* Shard 0: a forwarded request that cannot change the topics runs at once
 * on the client's remote connection (one at a time per client: its loop
 * waits for the answer). */
static void remote_run(struct hloop *L, struct hmsg *m)
{
	struct hconn *h = remote_find(L, m->from, m->slot, m->gen, true);

	if (!h) {
		post(L, m->from, M_RESP, m->slot, m->gen, NULL, 0);
		return;
	}
	if (broker_conn_input(L->sh->b, h->kc, m->data, m->len) != m->len)
		h->want_close = true; /* not taken: refused */
}

static void handle(struct hloop *L, struct hmsg *m)
{
	struct ctlop *op;
	struct hconn *h;

	switch (m->type) {
	case M_CLOSE:
		if ((h = remote_find(L, m->from, m->slot, m->gen, false)))
			remote_free(L, h);
		return;
	case M_RESP:
		loop_reply(L, m->slot, m->gen, m->data, m->len);
		return;
	case M_ACK:
		if (L->ops && L->op_running && L->ops->acks)
			L->ops->acks--;
		return;
	case M_TXN:
		broker_shard_message(L->sh->b, m->from, m->data, m->len);
		free(m->data);
		return;
	case M_FWD:
		if (!serialized_key((int16_t)get_be16(m->data + 4))) {
			remote_run(L, m);
			free(m->data);
			return;
		}
		/* fall through */
	case M_APPLY:
		if (!(op = calloc(1, sizeof(*op)))) {
			free(m->data);
			if (m->type == M_FWD)
				post(L, m->from, M_RESP, m->slot, m->gen, NULL, 0);
			else
				host_log(NULL, "loop: replicated request lost (no memory), shard",
				         "", L->id);
			return;
		}
		*op = (struct ctlop){.apply = m->type == M_APPLY,
		                     .origin = m->from,
		                     .slot = m->slot,
		                     .gen = m->gen,
		                     .frame = m->data,
		                     .len = m->len};
		enqueue(L, op);
		return;
	}
}

/* Start the head request on the control connection. */
static void op_start(struct hloop *L, struct ctlop *op)
{
	uint8_t *copy = malloc(op->len);

	L->op_running = true;
	op->fp = topic_fp(L->sh->st);
	if (!copy || !L->proxy) {
		free(copy);
		op->answered = op->closed = true;
		return;
	}
	memcpy(copy, op->frame, op->len); /* the broker may rewrite its input */
	if (broker_conn_input(L->sh->b, L->proxy->kc, copy, op->len) != op->len && !op->answered)
		L->proxy->want_close = true; /* not taken: treated as refused */
	free(copy);
}

/* Shard 0: the head request ran; replicate it if it changed the topics. */
static void op_replicate(struct hloop *L, struct ctlop *op)
{
	int16_t key = (int16_t)get_be16(op->frame + 4);

	op->sent = true;
	if (op->closed ||
	    !(replicated_key(key) || (key == K_METADATA && topic_fp(L->sh->st) != op->fp)))
		return;
	for (uint32_t k = 1; k < L->n; k++) {
		uint8_t *copy = malloc(op->len);
		if (!copy) {
			host_log(NULL, "loop: cannot replicate a request (no memory) to shard", "",
			         k);
			continue;
		}
		memcpy(copy, op->frame, op->len);
		if (post(L, k, M_APPLY, 0, 0, copy, op->len))
			op->acks++;
	}
}

static void op_finish(struct hloop *L, struct ctlop *op)
{
	if (op->apply)
		post(L, 0, M_ACK, 0, 0, NULL, 0);
	else if (op->origin == L->id)
		loop_reply(L, op->slot, op->gen, op->closed ? NULL : op->resp, op->rlen);
	else
		post(L, op->origin, M_RESP, op->slot, op->gen, op->closed ? NULL : op->resp,
		     op->rlen);
	if (op->closed || op->apply) /* else passed on with the message */
		free(op->resp);
	if (op->apply && op->closed)
		host_log(NULL, "loop: a replicated request was refused, shard", "", L->id);
	L->ops = op->next;
	if (!L->ops)
		L->ops_tail = NULL;
	L->op_running = false;
	free(op->frame);
	free(op);
}

/* Once per loop turn: take the messages, run the control requests. */
void ctl_turn(struct hloop *L)
{
	for (uint32_t j = 0; j < L->n; j++) {
		struct hmsg *m;
		if (j == L->id || !L->in[j])
			continue;
		while ((m = ring_pop(L->in[j]))) {
			handle(L, m);
			free(m);
		}
	}
	while (L->ops) {
		struct ctlop *op = L->ops;
		if (!L->op_running)
			op_start(L, op);
		if (!op->answered)
			return;
		if (!op->apply && !op->sent)
			op_replicate(L, op);
		if (op->acks)
			return;
		op_finish(L, op);
	}
}

/* The brokers' shard_send (ctx: the sending shard): a message to the
 * broker of shard `to`, over the ring between the two loops (rings join
 * shard 0 and each other shard only). */
bool ctl_shard_send(void *ctx, uint32_t to, const void *msg, size_t len)
{
	struct host_shard *sh = ctx;
	struct hloop *L = sh->loop;
	uint8_t *copy;

	if (!L || to >= L->n || to == L->id || (to && L->id) || !(copy = malloc(len ? len : 1)))
		return false;
	memcpy(copy, msg, len);
	return post(L, to, M_TXN, 0, 0, copy, len);
}

/* At shutdown (all loops stopped): free what is left. */
void ctl_drain(struct hloop *L)
{
	for (uint32_t j = 0; j < L->n; j++) {
		struct hmsg *m;
		while (L->in[j] && (m = ring_pop(L->in[j]))) {
			free(m->data);
			free(m);
		}
	}
	while (L->ops) {
		struct ctlop *op = L->ops;
		L->ops = op->next;
		free(op->frame);
		free(op->resp);
		free(op);
	}
	L->ops_tail = NULL;
	while (L->remote)
		remote_free(L, L->remote);
}

int host_serve(struct host_shard *sh, uint32_t n)
{
	struct hloop *L = calloc(n, sizeof(*L));
	struct ring *rings = n > 1 ? calloc(2 * (n - 1), sizeof(*rings)) : NULL;
	atomic_bool stop;
	sigset_t set;
	int sig, rc = 0;
	uint32_t started = 0;

	atomic_init(&stop, false);
	if (!L || (n > 1 && !rings)) {
		free(L);
		free(rings);
		return 1;
	}
	for (uint32_t i = 0; i < n; i++) {
		L[i] = (struct hloop){.sh = &sh[i],
		                      .id = i,
		                      .n = n,
		                      .all = L,
		                      .stop = &stop,
		                      .epfd = -1,
		                      .wake_fd = -1};
		sh[i].loop = &L[i];
		if (loop_setup(&L[i]))
			rc = 1;
	}
	for (uint32_t k = 1; k < n; k++) { /* rings only between 0 and each k */
		L[0].in[k] = &rings[2 * (k - 1)];
		L[k].in[0] = &rings[2 * (k - 1) + 1];
	}
	for (uint32_t i = 0; i < n && n > 1 && !rc; i++)
		if (!(L[i].proxy = proxy_open(&L[i])))
			rc = 1;
	/* shard 0's first turn before the loops run: the other shards have
	 * the open transactions (TM_ADD) in their rings before any request */
	if (n > 1 && !rc)
		broker_poll(sh[0].b);
	for (; started < n && !rc; started++)
		if (pthread_create(&L[started].thr, NULL, loop_main, &L[started]))
			rc = 1;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (!rc)
		sigwait(&set, &sig);
	atomic_store(&stop, true);
	for (uint32_t i = 0; i < n; i++)
		if (L[i].wake_fd >= 0)
			wake(&L[i]);
	for (uint32_t i = 0; i < started; i++)
		pthread_join(L[i].thr, NULL);
	for (uint32_t i = 0; i < n; i++) {
		ctl_drain(&L[i]);
		if (L[i].proxy) {
			broker_conn_closed(sh[i].b, L[i].proxy->kc);
			free(L[i].proxy);
		}
		if (L[i].epfd >= 0)
			close(L[i].epfd);
		if (L[i].wake_fd >= 0)
			close(L[i].wake_fd);
		sh[i].loop = NULL;
	}
	free(rings);
	free(L);
	return rc;
}
