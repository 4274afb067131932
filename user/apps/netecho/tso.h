/* netecho's TSO check: one large TCP segment to a Linux listener (see tso.c). */
#ifndef NETECHO_TSO_H
#define NETECHO_TSO_H

#include <drivers/netdev.h>

#include "responder.h"

struct tso_job {
	uint8_t peer[4];
	uint16_t port;
	uint32_t bytes; /* payload, at most 4096 (two 2 KiB buffers) */
};

/*
 * Connect to job->peer:port (ARP, SYN, SYN-ACK), then send job->bytes in
 * ONE frame with NETDEV_BUF_TSO4 (headers + two payload buffers) and wait
 * for the acknowledgement of all of it. ARP and ping meanwhile are answered
 * through r. pool[0..npool) are free buffers for sending (npool >= 4).
 * Returns 0, or -1 with the reason printed.
 */
int tso_send(struct netdev *nd, struct responder *r, struct netdev_buf *pool, int npool,
             const struct tso_job *job);

#endif
