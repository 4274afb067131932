/*
 * Floo platform interface: what a host (Hallows partition or Linux program)
 * provides to the stack. The stack never allocates; all memory is one region
 * the platform hands to floo_stack_init() (see floo_mem_size()).
 *
 * Receive: the platform fills frames into packet buffers it takes from the
 * stack's pool (floo_pbuf_alloc) and returns them in a batch.
 * Transmit: the stack hands a batch of gather lists; iov[0] points into the
 * stack's transmit arena (headers, small payloads), later iovs may point at
 * application memory (TCP sends by reference). Everything referenced stays
 * valid until tx_burst returns.
 */
#ifndef FLOO_PLATFORM_H
#define FLOO_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct floo_stack;
struct floo_pbuf;

#define FLOO_TX_MAX_IOV 8

/* One contiguous piece of a frame being transmitted. */
struct floo_iov {
	const void *base;
	uint32_t len;
};

/*
 * One frame to transmit. When the platform declares FLOO_CAP_TX_CSUM_L4, the
 * stack leaves the TCP/UDP checksum field holding the pseudo-header sum and
 * sets csum_start/csum_offset (bytes from frame start) for the NIC to finish.
 * With FLOO_CAP_TX_TSO a TCP frame may carry up to FLOO_TSO_MAX payload
 * bytes: tso_mss is then the segment size, and iov[0] holds exactly the
 * Ethernet, IPv4 and TCP headers the NIC copies onto each segment.
 */
struct floo_txframe {
	struct floo_iov iov[FLOO_TX_MAX_IOV];
	uint16_t niov;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t tso_mss; /* 0: a normal frame */
	bool csum_partial;
};

#define FLOO_TSO_MAX 65000u

#define FLOO_CAP_TX_CSUM_L4 0x1u /* NIC completes TCP/UDP checksums */
#define FLOO_CAP_RX_CSUM_OK 0x2u /* NIC verified checksums (pbuf flag) */
#define FLOO_CAP_TX_TSO     0x4u /* NIC segments TCP (needs TX_CSUM_L4) */
#define FLOO_CAP_RX_CHAIN   0x8u /* rx_burst may return TCP frames chained over pbufs (frag) */

enum floo_log_level { FLOO_LOG_ERR, FLOO_LOG_INFO, FLOO_LOG_DEBUG };

/* Operations the host implements. ctx is passed back unchanged. */
struct floo_platform {
	void *ctx;
	uint32_t caps;
	/* Receive up to max frames into out[]; returns how many. */
	unsigned (*rx_burst)(void *ctx, struct floo_stack *st, struct floo_pbuf **out,
	                     unsigned max);
	/* Transmit n frames; returns how many were accepted (rest dropped). */
	unsigned (*tx_burst)(void *ctx, const struct floo_txframe *f, unsigned n);
	/* Monotonic clock in nanoseconds. */
	uint64_t (*now_ns)(void *ctx);
	/* Random 32 bits (ISS, ephemeral ports, DHCP xid). */
	uint32_t (*random32)(void *ctx);
	/* Log an event name with one number; may be NULL. */
	void (*log)(void *ctx, int level, const char *event, uint64_t value);
};

#endif
