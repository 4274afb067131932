/*
 * Retry (user/rt/retry.c, docs/snapshots.md "Retry"): run a risky request
 * under a snapshot of the own address space and roll the memory back if it
 * faults. The request runs in a worker thread of the same address space;
 * the calling thread waits, and its stack and IPC buffer are excluded from
 * the snapshot (they are not rolled back). Only a partition program can use
 * it: the root task is never snapshotted.
 */
#ifndef HALLOWS_RETRY_H
#define HALLOWS_RETRY_H

#include <hallows/rt.h>

struct rt_guard {
	hl_cptr_t snap, ep, tcb; /* the snapshot, the worker's fault endpoint, the worker */
	uint8_t *stack;          /* the worker's stack (RT_GUARD_STACK_PAGES) */
	void (*fn)(void *);
	void *arg;
	hl_word_t fault[4]; /* the last fault: vector, error code, address, rip (HL_FAULT_*) */
};
#define RT_GUARD_STACK_PAGES 4

enum {
	RT_GUARD_OK = 0,      /* fn returned; what it wrote stays */
	RT_GUARD_FAULTED = 1, /* fn faulted (g->fault); the address space is as before the call */
};

/* Make the snapshot (2^snap_bits bytes of the own memory, enough for the pages a request may write:
 * docs/snapshots.md), the worker and its endpoint. 0 or an hl_err. */
long rt_guard_init(struct rt_guard *g, uint32_t snap_bits);
/* The same with the snapshot the manifest's `snapshot SIZE` gave the partition (slot
 * HL_PARTITION_SLOT_SNAPSHOT: it covers the address space and excludes the declared rings);
 * HL_ERR_INVALID_CAP when there is none. */
long rt_guard_init_manifest(struct rt_guard *g);
/* Run fn(arg) under a fresh snapshot: RT_GUARD_OK, RT_GUARD_FAULTED, or a negative hl_err when
 * the snapshot could not be taken or restored (-HL_ERR_...). */
long rt_guard_run(struct rt_guard *g, void (*fn)(void *), void *arg);

#endif
