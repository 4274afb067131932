/*
 * The broker appliance's main loop (issue 14, item 2), freestanding: Floo
 * on whatever floo_platform the partition has (a NIC driver on Hallows,
 * a TAP on Linux), the log store on a block device (store_blk over any
 * blkdev driver), the broker, and the Floo transport, in one address
 * space and one run-to-completion loop. Everything the partition must
 * provide comes in struct bappl_env; nothing here knows Hallows or Linux.
 *
 * Zero-copy fetch: the store reads into its DMA arena (store_blk), the
 * broker references those bytes in its response, the transport hands
 * them to Floo by reference, and Floo's transmit gather list points at
 * them: if the arena is also mapped for the NIC's DMA, no payload byte is
 * copied by the CPU between the disk and the wire. bappl_stats() reports
 * the copies that did happen (store bounces, request bytes).
 */
#ifndef BROKER_APPL_H
#define BROKER_APPL_H

#include "storage/blk/store_blk.h"
#include "broker_floo.h"

struct bappl_config {
	uint32_t addr, mask, gw; /* host byte order; addr 0: DHCP */
	uint16_t port;           /* Kafka listener */
	const char *adv_host;    /* NULL: the address, dotted */
	int32_t adv_port;        /* 0: port */
	uint32_t partitions;     /* per auto-created topic */
	uint32_t flush_ms;
	uint32_t group_initial_ms;
	uint32_t max_conns;
	struct floo_config floo; /* zero fields: the appliance's defaults */
};

struct bappl_env {
	void *ctx;
	/* General memory (broker state, Floo's region, connection buffers). */
	void *(*alloc)(void *ctx, size_t n);
	void (*free)(void *ctx, void *p);
	uint64_t (*now_ms)(void *ctx);  /* monotonic */
	uint64_t (*wall_ms)(void *ctx); /* ms since the Unix epoch; may be NULL */
	void (*log)(void *ctx, const char *what, const char *detail, long long v);
	/* Nothing to do: sleep until a frame arrives (NIC interrupt) or
	 * timeout_ns passes. */
	void (*idle)(void *ctx, uint64_t timeout_ns);
	/* Polled between loop turns: true ends bappl_run. */
	bool (*should_stop)(void *ctx);
};

struct bappl_stats {
	struct bfloo_stats net;
	struct store_blk_stats disk;
	uint32_t free_pbufs, pbufs; /* Floo's pool at the end */
};

/* Run the appliance until env->should_stop(): store opened (formatted when
 * the disk is blank), broker and listener up, then the loop. 0 on a clean
 * stop, a negative code when something could not start (logged). *out
 * gets the counters at the end (may be NULL). */
int bappl_run(const struct bappl_config *cfg, const struct bappl_env *env,
              const struct floo_platform *fp, const uint8_t mac[6], struct blkdev *disk,
              unsigned queue, const struct store_blk_env *arena, struct bappl_stats *out);

#endif
