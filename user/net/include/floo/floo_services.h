/*
 * Small TCP services on Floo's event API (user/net/services), shared by
 * the Linux floo-demo and the Hallows web appliance: echo (RFC 862) and
 * discard (RFC 863). Freestanding; connection state from the owner's
 * alloc/free.
 */
#ifndef FLOO_SERVICES_H
#define FLOO_SERVICES_H

#include "floo.h"

struct floo_svc {
	void *(*alloc)(size_t n); /* zeroed memory, or NULL */
	void (*free)(void *p);
	uint64_t echo_conns, echo_bytes, discard_conns, discard_bytes, no_memory;
};

/*
 * TCP echo on port: every received buffer is sent back by reference and
 * handed back to the stack once acknowledged (no byte copied). svc must
 * outlive the stack. Returns 0 or FLOO_E*.
 */
int floo_svc_echo_start(struct floo_stack *st, struct floo_svc *svc, uint16_t port);
/* TCP discard on port: everything received is released at once. */
int floo_svc_discard_start(struct floo_stack *st, struct floo_svc *svc, uint16_t port);

#endif
