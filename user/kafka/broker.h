/* Kafka-compatible broker core: protocol handling, partitions on the log
 * store, long-poll fetch and the group coordinator. Freestanding; the host
 * supplies memory, time, logging and a transport (see docs/broker.md). */
#ifndef BROKER_H
#define BROKER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/store.h"

struct kiov {
	const void *base;
	size_t len;
};

/* Transport contract: send() hands over an iovec whose memory stays valid
 * until the transport calls broker_send_done() for that connection; there
 * is at most one send outstanding per connection and send() never calls
 * back into the broker. close() asks the transport to drop the connection;
 * it must later call broker_conn_closed() (never from inside close()). */
struct broker_platform {
	void *ctx;
	void *(*alloc)(void *ctx, size_t n);
	void (*free)(void *ctx, void *p);
	uint64_t (*now_ms)(void *ctx);
	void (*log)(void *ctx, const char *what, const char *detail, long long v);
	int (*send)(void *ctx, void *conn, const struct kiov *iov, uint32_t n);
	void (*close)(void *ctx, void *conn);
	/* Wall clock in ms since the Unix epoch (batch timestamps are), for
	 * time-based retention; NULL: retention.ms is not enforced. */
	uint64_t (*wall_ms)(void *ctx);
	/* Optional fault injection for crash tests: called at named points
	 * of multi-step operations ("txn-prepared", "txn-marker"); a host may
	 * kill itself there. NULL in production use. */
	void (*fault)(void *ctx, const char *point);
	/* Several shards (cfg.shards > 1): hand the msg (len bytes, copied)
	 * to shard `to`'s broker, which takes it with broker_shard_message
	 * in its own loop; messages between two shards keep their order.
	 * False when it cannot be sent. Transactions across shards use it
	 * (docs/broker.md, "Transactions across loops"); NULL with one shard. */
	bool (*shard_send)(void *ctx, uint32_t to, const void *msg, size_t len);
	/* Record-batch codecs for the compactor (codec: attributes & 7,
	 * 1 gzip, 2 snappy, 3 lz4, 4 zstd). decompress writes the records
	 * of a compressed batch (the n bytes after its header) to out and
	 * returns their size: BROKER_CODEC_CORRUPT when in is not valid or
	 * the codec unknown, BROKER_CODEC_TOO_LARGE past cap. compress is
	 * the inverse (same return values). NULL (Hallows brokerd, the
	 * Floo-hosted broker): compressed batches are kept whole
	 * (docs/broker.md, "Compressed batches"). */
	long (*decompress)(void *ctx, int codec, const uint8_t *in, size_t n, uint8_t *out,
	                   size_t cap);
	long (*compress)(void *ctx, int codec, const uint8_t *in, size_t n, uint8_t *out,
	                 size_t cap);
};
#define BROKER_CODEC_CORRUPT   (-1)
#define BROKER_CODEC_TOO_LARGE (-2)

struct broker_config {
	const char *adv_host; /* advertised in Metadata and FindCoordinator */
	int32_t adv_port;
	int32_t node_id;
	uint32_t default_parts;    /* auto-created topics */
	uint32_t flush_ms;         /* max age of unflushed data */
	uint64_t flush_bytes;      /* max unflushed bytes */
	uint32_t group_initial_ms; /* delay before the first rebalance */
	uint32_t max_request;      /* largest request frame accepted */
	bool no_auto_create;       /* Metadata never creates topics */
	/* One event loop per core (docs/broker.md, "One event loop per
	 * core"): this broker is shard `shard` of `shards` (0 or 1: alone).
	 * Shard s is advertised as node node_id + s at adv_port + s and leads
	 * the partitions broker_part_owner gives it; node_id (shard 0) is the
	 * controller and the group and transaction coordinator. */
	uint32_t shards, shard;
};

struct broker;
struct kconn;

struct broker *broker_create(const struct broker_platform *pl, const struct broker_config *cfg,
                             struct store *st);
void broker_destroy(struct broker *b);
/* The shard leading partition part of topic id topic: (topic + part) mod
 * shards, stable across restarts (topic ids are). */
uint32_t broker_part_owner(uint32_t shards, uint32_t topic, uint32_t part);
/* A message another shard's broker sent through shard_send. */
void broker_shard_message(struct broker *b, uint32_t from, const uint8_t *msg, size_t len);
/* No response of c queued or being sent: the transport may answer c's
 * next request itself (a request it had another shard handle). */
bool broker_conn_idle(const struct kconn *c);
struct kconn *broker_conn_open(struct broker *b, void *handle);
/* Consume complete request frames from data; returns bytes consumed. The
 * bytes may be modified in place (produce rewrites BaseOffset). Input is
 * left unconsumed while too many responses are queued: the transport
 * offers the rest again after sends complete (every loop turn). */
size_t broker_conn_input(struct broker *b, struct kconn *c, uint8_t *data, size_t len);
/* One whole request (its 4-byte size field and len - 4 bytes more) still in
 * the buffers it arrived in: v from skip in v[0], as many pieces as it
 * takes. A Produce request is decoded where it lies and its record batches
 * are copied from there into the store (one copy); the pieces are not
 * changed. BROKER_GATHER_DONE: handled (or the connection closed);
 * BROKER_GATHER_LATER: not now (responses queued, see broker_conn_input),
 * offer it again; BROKER_GATHER_COPY: nothing done, hand it to
 * broker_conn_input contiguous (not a Produce, or fields crossing pieces
 * beyond what the decoder copies aside). */
enum { BROKER_GATHER_DONE, BROKER_GATHER_LATER, BROKER_GATHER_COPY };
int broker_conn_input_gather(struct broker *b, struct kconn *c, const struct store_iov *v,
                             size_t skip, uint32_t len);
void broker_send_done(struct broker *b, struct kconn *c);
/* For transports that reference the iovec until the peer acknowledges it
 * (Floo): the send in flight is complete as far as the connection goes
 * (the next response may be sent) but its memory must stay valid; it is
 * freed by broker_send_release(token) or when the connection closes.
 * Returns the token. send() may be called from inside broker_send_hold. */
void *broker_send_hold(struct broker *b, struct kconn *c);
void broker_send_release(struct broker *b, struct kconn *c, void *token);
void broker_conn_closed(struct broker *b, struct kconn *c);
/* Commit point, called once per event-loop turn: hand data to the device,
 * flush per policy, run timers, wake parked requests, start sends. */
void broker_poll(struct broker *b);
/* The store's asynchronous flush (store_platform.flush_start) finished. */
void broker_flush_done(struct broker *b, bool ok);
/* Milliseconds until broker_poll has timed work to do (capped). */
uint32_t broker_next_timeout_ms(const struct broker *b);
/* Something waits for the store's asynchronous writes to complete: a parked fetch (the data
 * becomes readable then), an acks=all produce or a flush (it goes to the device once the writes
 * before it ended). Otherwise a completion may be collected late, at the next turn with work
 * (acks=1 answers do not wait for it). */
bool broker_writes_awaited(const struct broker *b);

#endif
