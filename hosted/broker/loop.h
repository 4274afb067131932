/* Internals of the hosted broker's event loops: the epoll transport
 * (net.c) and the messages between loops (shard.c). docs/broker.md, "One
 * event loop per core". */
#ifndef HOSTED_LOOP_H
#define HOSTED_LOOP_H
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "hosted.h"

#define MAX_CONNS  1024
#define MAX_SHARDS 64

/* A message between two loops; data is malloc'd and changes owner with
 * the message. */
enum hmsg_type {
	M_FWD,   /* k -> 0: a client's request for shard 0 (frame with its size) */
	M_RESP,  /* 0 -> k: the answer to an M_FWD (data NULL: close the client) */
	M_APPLY, /* 0 -> k: apply a request that changed the topics (answer dropped) */
	M_ACK,   /* k -> 0: the M_APPLY is applied */
	M_CLOSE, /* k -> 0: a connection that forwarded requests is gone */
	M_TXN,   /* 0 <-> k: a broker's message to another's (shard_send) */
};

struct hmsg {
	enum hmsg_type type;
	uint32_t from;      /* sending shard */
	uint32_t slot, gen; /* the client connection (M_FWD, M_RESP) */
	uint8_t *data;
	size_t len;
};

/* Single-producer single-consumer ring of messages, one per ordered pair
 * of loops: lock-free (acquire/release on the two indexes). Bounded use
 * keeps it from filling: a connection has one request forwarded at a
 * time (MAX_CONNS per loop), shard 0 one M_APPLY per shard, and one
 * M_TXN per transactional id and shard (the coordinator waits for each
 * acknowledgement; at most 4096 transactional ids). */
#define RING_CAP 16384u
struct ring {
	_Atomic uint32_t head, tail;
	struct hmsg *m[RING_CAP];
};

/* A request run by this loop's broker on behalf of the control path
 * (shard.c): a forwarded or replicated request, one at a time. */
struct ctlop {
	struct ctlop *next;
	bool apply;                 /* M_APPLY on a shard other than 0 */
	uint32_t origin, slot, gen; /* where the answer goes */
	uint8_t *frame;             /* pristine request, size prefix included */
	size_t len;
	uint8_t *resp; /* the broker's answer (copied) */
	size_t rlen;
	bool answered, closed; /* closed: the broker dropped the request */
	bool sent;             /* shard 0: replication decided */
	uint64_t fp;           /* topic fingerprint before it ran */
	uint32_t acks;         /* M_ACKs still expected */
};

struct hconn {
	struct hloop *L;
	int fd, slot;
	uint32_t gen;
	struct kconn *kc;
	uint8_t *in;
	size_t in_len, in_cap;
	const struct kiov *iov;
	uint32_t niov, iov_i;
	size_t iov_off;
	bool sending, done, want_close, out_armed;
	bool proxy;   /* a control connection (no socket) */
	bool remote;  /* shard 0: stands for connection (origin, slot, gen) */
	bool fwd_any; /* some request of this connection was forwarded */
	uint32_t origin;
	struct hconn *rnext; /* shard 0's list of remote connections */
	bool fwd_wait;       /* a request is with the control path; input paused */
	bool own;            /* the send in progress is own_buf, not the broker's */
	uint8_t *own_buf;
	struct kiov own_iov;
};

struct hloop {
	struct host_shard *sh;
	uint32_t id, n;
	struct hloop *all; /* n loops */
	int epfd, wake_fd;
	pthread_t thr;
	atomic_bool *stop;
	struct hconn *conns[MAX_CONNS];
	int hi; /* slots in use are below hi (the per-turn scan stops there) */
	uint32_t gen;
	struct ring *in[MAX_SHARDS];  /* in[j]: messages from loop j */
	struct hconn *proxy;          /* runs the serialized requests */
	struct hconn *remote;         /* shard 0: one per forwarding connection */
	struct ctlop *ops, *ops_tail; /* waiting; the head runs */
	bool op_running;
};

/* net.c */
int loop_setup(struct hloop *L);
void *loop_main(void *arg);
void loop_reply(struct hloop *L, uint32_t slot, uint32_t gen, uint8_t *data, size_t len);
struct hconn *proxy_open(struct hloop *L);
void proxy_reset(struct hloop *L);

/* shard.c */
bool ctl_local_key(const struct hloop *L, int16_t key);
void ctl_submit(struct hloop *L, struct hconn *h, const uint8_t *frame, size_t len);
void ctl_answer(struct hloop *L, const struct kiov *iov, uint32_t n, bool closed);
void ctl_remote_answer(struct hloop *L, struct hconn *h, const struct kiov *iov, uint32_t n);
void ctl_remote_gone(struct hloop *L, struct hconn *h);
void ctl_conn_closed(struct hloop *L, struct hconn *h);
void ctl_turn(struct hloop *L);
void ctl_drain(struct hloop *L);
bool ctl_shard_send(void *ctx, uint32_t to, const void *msg, size_t len);

#endif
