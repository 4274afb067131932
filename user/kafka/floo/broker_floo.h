/*
 * The broker's transport over Floo (docs/broker.md, "Transport over
 * Floo"). Freestanding: it knows only the broker core (broker.h) and
 * Floo's event API (floo.h), so the same file serves the hosted build
 * (Floo over a TAP device) and the Hallows appliance (Floo over a NIC
 * driver).
 *
 * Receive: each FLOO_TCP_DATA buffer is copied into its connection's
 * input buffer (a Kafka request spans packets; the broker parses
 * contiguous frames) and handed back to Floo at once; when the input
 * buffer is full the packet buffers are held, Floo's receive window
 * closes and the client is slowed down (backpressure). A large Produce
 * request (gather_bytes) is not copied: its buffers are held until it is
 * whole and the broker decodes it where it lies
 * (broker_conn_input_gather), copying its record batches once, into the
 * store; the buffers then go back to Floo together.
 * Send: the broker's iovec is queued with floo_tcp_send() by reference,
 * piece by piece as reference slots free up; nothing is copied. Once a
 * response is queued whole the broker may send the next one
 * (broker_send_hold), up to 32 per connection unacknowledged; each is
 * released (broker_send_release) when Floo reports every piece acknowledged.
 *
 * Loop (single-threaded, run to completion):
 *     for (;;) { floo_poll(st); bfloo_service(t); sleep if idle; }
 * bfloo_service() calls broker_poll(); the broker is only ever called
 * from bfloo_service() and from the accept callback, never from inside
 * the broker's own send() or close().
 */
#ifndef BROKER_FLOO_H
#define BROKER_FLOO_H

#include <floo/floo.h>

#include "kafka/broker.h"

struct bfloo_config {
	uint16_t port;      /* Kafka listener, 9092 by convention */
	uint32_t max_conns; /* connections at once; more are reset */
	/* Bytes buffered per connection: at least the broker's max_request + 4
	 * (a request must fit whole with its size field), 64 KiB at least. */
	uint32_t max_input;
	/* A large Produce request of up to gather_bytes is decoded in the
	 * packet buffers it arrived in and its batches copied once, into the
	 * store, while it holds at most gather_pbufs buffers (beyond, it is
	 * copied into the input buffer after all). Both must stay below what
	 * Floo lets a connection hold (tcp_rcv_buf, tcp_rcv_pbufs), or the
	 * window would close on an incomplete request. 0: every request is
	 * copied into the input buffer first. */
	uint32_t gather_bytes, gather_pbufs;
};

/* Counters for tests and benchmarks. Responses are never copied by the
 * transport (tx_bytes all go to Floo by reference); rx_copied counts the
 * request bytes copied out of packet buffers. */
struct bfloo_stats {
	uint64_t accepted, refused, closed, aborted;
	uint64_t rx_bytes;  /* request bytes received */
	uint64_t rx_copied; /* request bytes copied from packet buffers */
	uint64_t
	    rx_moved; /* request bytes moved to the buffer's front (after a consumed request) */
	uint64_t tx_bytes;      /* response bytes handed to Floo */
	uint64_t tx_refs;       /* floo_tcp_send references queued */
	uint64_t tx_slot_waits; /* times a response waited for reference slots */
	uint64_t tx_early;      /* responses followed by the next before their ACK */
	uint64_t rx_held;       /* packet buffers held back (input buffer full) */
	uint64_t rx_oom;        /* connections dropped: input buffer not growable */
	uint64_t rx_grown;      /* request bytes copied into a larger input buffer */
	uint64_t rx_gathered;   /* request bytes decoded in the packet buffers (not copied here) */
	uint64_t rx_gather_copied; /* requests whose gathering gave way to the copy */
};

struct bfloo;

/* Set send and close in pl (the rest is the caller's); call before
 * broker_create(pl, ...). */
void bfloo_fill_platform(struct broker_platform *pl);
/* Listen on cfg->port of st for broker b; memory from pl->alloc.
 * Returns NULL when out of memory or the port is taken. */
struct bfloo *bfloo_create(struct floo_stack *st, struct broker *b,
                           const struct broker_platform *pl, const struct bfloo_config *cfg);
/* Feed input, complete sends, close connections, run broker_poll(). */
void bfloo_service(struct bfloo *t);
/* Abort every connection and stop listening (call floo_poll() after, so
 * the resets go out). */
void bfloo_destroy(struct bfloo *t);
const struct bfloo_stats *bfloo_stats(const struct bfloo *t);
uint32_t bfloo_conn_count(const struct bfloo *t);

#endif
