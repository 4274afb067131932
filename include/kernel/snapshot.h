/*
 * Snapshots (kernel/snapshot.c, docs/snapshots.md): copy-on-write
 * checkpoints of a set of threads and address spaces. The object is
 * retyped from the partition's memory; its own pages keep the saved
 * contexts, the records and the copies of the pages written since take.
 */
#ifndef KERNEL_SNAPSHOT_H
#define KERNEL_SNAPSHOT_H

#include <kernel/object.h>

/* Software bit of a user leaf entry: writable, write-protected by a snapshot until the first write
 * (bit 9 is ignored by the MMU). Table entries need none: the kernel makes them all writable, so a
 * clear W there is always a snapshot's. */
#define PTE_SNAP (1ull << 9)

struct snap_rec {
	paddr_t live;   /* the page written (bit 0: a 2 MiB page) */
	paddr_t save;   /* its contents at take, in the snapshot's pool */
	uint64_t where; /* user va | index of the address space; SNAP_REC_IPC | thread index */
};
/* A record of an IPC buffer, saved at take (the kernel writes IPC buffers directly). */
#define SNAP_REC_IPC (1ull << 63)

struct snapshot {
	uint64_t magic; /* [BKL] SNAP_MAGIC while alive */
	uint32_t state; /* [BKL] enum hl_snap_state */
	uint32_t bits;  /* [I] object size, log2 */
	uint32_t nas, nthreads, nexcl;
	struct slot as_slot[HL_SNAP_MAX_ASPACES];   /* [BKL] copies it holds */
	struct aspace *as_ptr[HL_SNAP_MAX_ASPACES]; /* [BKL] as protected at take (with its id) */
	uint64_t as_id[HL_SNAP_MAX_ASPACES];
	struct slot th_slot[HL_SNAP_MAX_THREADS]; /* [BKL] copies it holds */
	uint8_t th_run[HL_SNAP_MAX_THREADS];      /* [BKL] runnable when taken: resumed after */
	uint8_t th_state[HL_SNAP_MAX_THREADS];    /* [BKL] its state when taken */
	uint64_t excl_lo[HL_SNAP_MAX_EXCLUDE], excl_hi[HL_SNAP_MAX_EXCLUDE]; /* [BKL] never saved */
	uint32_t *hash;        /* [I] 2 x pages entries: index + 1 into rec, 0 = free */
	uint64_t hash_mask;    /* [I] */
	struct snap_rec *rec;  /* [I] one per saved page, in the order saved */
	uint64_t nrec;         /* [BKL] */
	paddr_t pool;          /* [I] first page for copies */
	uint64_t pool_pages;   /* [I] */
	uint64_t pool_used;    /* [BKL] pages used */
	uint64_t copies;       /* [BKL] copy-on-write faults served since take */
	uint64_t restore_next; /* [BKL] a restore in passes: records copied back so far */
	uint32_t restoring;    /* [BKL] 1 between the passes of a restore */
};
#define SNAP_MAGIC      0x736e617073686f74ull /* "snapshot" */
#define SNAP_CTX_PAGES  2                     /* a thread's registers and XSAVE area */
#define SNAP_META_FIRST (1 + HL_SNAP_MAX_THREADS * SNAP_CTX_PAGES) /* pages before the hash */

void snapshot_init(struct snapshot *s, uint32_t bits);
/* Its last capability is gone: threads it stopped run again, address spaces forget it. */
void snapshot_destroy(struct snapshot *s);

enum { SNAP_FAULT_NONE = 0, SNAP_FAULT_FIXED = 1, SNAP_FAULT_OOM = 2 };
/* A write fault of t at va (error code err): SNAP_FAULT_FIXED when a snapshot's protection caused
 * it and the write may proceed (the page copied first), SNAP_FAULT_OOM when the copy had no room
 * (nothing changed), SNAP_FAULT_NONE for any other fault. */
int snapshot_write_fault(struct thread *t, uint64_t va, uint64_t err);
/* Leaf flags for a mapping made or changed in as (aspace.map, aspace.protect): while a snapshot is
 * taken there, a writable page starts protected, so its first write saves it. */
uint64_t snapshot_leaf_flags(const struct aspace *as, uint64_t flags);
/* For the invariant checks: the snapshot's records are consistent (NULL) or what is wrong. */
const char *snapshot_check(const struct snapshot *s);

#endif
