/*
 * Kernel objects carved from memory capabilities (kernel/object.c,
 * kernel/memory.c). All objects live in the direct map of the memory they
 * were retyped from, so their cost is charged to that memory capability.
 */
#ifndef KERNEL_OBJECT_H
#define KERNEL_OBJECT_H

#include <kernel/cap.h>
#include <kernel/thread.h>

struct endpoint {
	struct thread *head, *tail; /* [BKL] queued senders or receivers */
	uint8_t receivers;          /* [BKL] 1: the queue holds receivers, 0: senders */
};

struct notification {
	uint64_t word;              /* [BKL] pending signal bits (badges ORed) */
	struct thread *head, *tail; /* [BKL] waiters */
	struct thread *bound;       /* [BKL] thread bound with bind_notification */
	int32_t irq;                /* [BKL] IRQ delivering here, or -1 */
};

/* Two pages: the top-level table, then bookkeeping (8 KiB object). */
struct aspace {
	uint64_t pml4[512];    /* [BKL] the top-level table itself (page aligned) */
	uint64_t magic;        /* [I] ASPACE_MAGIC while alive */
	uint64_t id;           /* [I] unique; mappings remember it to detect a reused object */
	paddr_t root;          /* [I] physical address of pml4 */
	uint64_t cr3;          /* [I] what CR3 holds for it: root | PCID (0 without PCID) */
	struct snapshot *snap; /* [BKL] the snapshot taken of it (kernel/snapshot.c), or NULL */
	uint64_t no_snapshot;  /* [BKL] 1: never snapshotted (the root task's, or refused by
	                        * aspace.refuse_snapshots); never goes back to 0 */
};
#define ASPACE_MAGIC    0x61737061636521ull
#define ASPACE_OBJ_BITS 13

/* Object size (log2 bytes) for retype; -1 if type/size_bits are invalid. */
int object_bits(uint32_t type, uint32_t size_bits) __must_check;
/* Initialize a zeroed object of the given type at kernel address p. */
void object_init(uint32_t type, uint32_t size_bits, void *p);
void object_count_adjust(uint32_t type, int delta);
uint64_t object_live_count(void);

#endif
