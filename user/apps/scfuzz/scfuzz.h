/*
 * scfuzz: the structured system-call fuzzer (design: see main.c).
 *
 * The model (model.c) mirrors the kernel's derivation tree for every slot
 * the driver can reach: the driver's cspace (model cspace 0), the child
 * cspaces it creates (1..MCS-1) and the five slots each thread object
 * holds (its cspace, address space, IPC buffer, fault endpoint and bound
 * notification). Slots are indices into one pool; objects are indices
 * into an object table. The driver (ops.c) applies a call's effect to the
 * model only when the kernel reports success, so the model follows the
 * kernel instead of guessing.
 */
#ifndef SCFUZZ_H
#define SCFUZZ_H

#include <hallows/rt.h>
#include <hallows/syscall.h>
#include <stdbool.h>

#define WCS_BITS       8   /* the driver's cspace: 256 slots */
#define MCS            8   /* model cspaces: 0 = the driver's, 1.. = child cspaces */
#define CHILD_MAX_BITS 5   /* child cspaces have at most 32 slots */
#define MTH            24  /* thread objects alive at once */
#define MOBJ           600 /* objects alive at once */
#define HELD           5   /* slots a thread holds (HELD_* below) */
#define POOL_CHILD     (1u << WCS_BITS)
#define POOL_HELD      (POOL_CHILD + (MCS - 1) * (1u << CHILD_MAX_BITS))
#define MSN            4 /* snapshot objects alive at once */
#define SNAP_HELD      (HL_SNAP_MAX_ASPACES + HL_SNAP_MAX_THREADS) /* slots a snapshot holds */
#define POOL_SNAP      (POOL_HELD + MTH * HELD)
#define POOL           (POOL_SNAP + MSN * SNAP_HELD)

/*
 * Fixed slots of the driver's cspace, put there by the controller; the
 * driver never deletes or moves them. The debug console sits where the
 * runtime's rt_printf looks for it.
 */
enum { W_SELF = 1, W_OWN_AS = 2, W_MEM = 3, W_DONE = 4, W_DEBUG = HL_SLOT_DEBUG, W_FIRST_FREE = 7 };
#define DONE_LABEL                                                                                 \
	0xd0e /* the driver's call on W_DONE (the controller's endpoint) at the end of a round */

/* The fuzz region of the shared address space: a grid of 4 top-level entries of its own. */
#define FZ_BASE 0x500000000000ull

struct mslot {
	uint8_t type, rights; /* HL_OBJ_NONE: empty */
	uint8_t ext;          /* its parent lies outside the model and names the same object */
	uint8_t mapped,
	    map_level; /* frames and page tables: this capability holds a mapping (a hook) */
	int16_t obj;   /* object index */
	int16_t parent, child, next, prev; /* derivation tree, -1 = none */
	int16_t map_as;                    /* object index of the address space mapped into */
	uint64_t badge, map_va;
};

struct mobj {
	uint8_t type, live, size_bits;
	int16_t rec;   /* cspaces: model cspace; threads: model thread */
	int16_t bound; /* notifications: the bound thread's object, -1 = none */
};

struct mcs {
	bool live, dying;
	uint8_t bits;
	int16_t obj;
	uint16_t base; /* pool index of its slot 0 */
};

struct mthread {
	bool live;
	int16_t obj;
	uint16_t held; /* pool index of its first held slot */
};

/* A snapshot's held slots: its address spaces (0..3), then its threads (4..19), as the kernel
 * keeps them (kernel/snapshot.c). */
struct msnap {
	bool live;
	int16_t obj;
	uint16_t held; /* pool index of its first held slot */
	uint8_t nas, nth;
};

struct model {
	struct mslot s[POOL];
	struct mobj o[MOBJ];
	struct mcs cs[MCS];
	struct mthread th[MTH];
	struct msnap sn[MSN];
	int16_t dying_head; /* cspaces being destroyed (model cspace indices linked through
	                       dying_next) */
	int16_t dying_next[MCS];
	bool busy;
};

extern struct model m;

/* model.c */
void m_reset(void);
int m_pool(int cs,
           uint64_t idx); /* pool index of slot idx of model cspace cs, -1 if out of range */
int m_new_obj(uint8_t type, uint8_t size_bits); /* -1 when the model is full */
bool m_can_create(uint8_t type, uint8_t size_bits);
void m_insert(int dst, uint8_t type, int obj, uint8_t rights, uint64_t badge, int parent);
void m_move(int dst, int src);
void m_delete(int s);
void m_revoke(int s);
bool m_final(int s);
/* A thread's held slot k (HELD_*) gets a copy of src (-1: emptied), as thread.configure does. */
enum { HELD_CSPACE, HELD_ASPACE, HELD_IPC, HELD_FAULT, HELD_NTFN };
void m_hold(int th_obj, int k, int src);
/* snapshot.add of src succeeded: the snapshot holds a copy (a child of src). */
void m_snap_add(int sn_obj, int src);

/* ops.c */
struct fuzz_stats {
	uint64_t calls, ok, invalid, invalid_refused, spawned, writes;
	uint64_t per_op[32], per_op_ok[32];
	uint64_t hash;
};
struct driver_arg {
	uint64_t seed, calls;
	uint32_t ncpus, round;
	bool avoid_known; /* skip the sequences of the four known faults (issue 10) */
	bool trace;       /* print every call's operation and result */
	hl_cptr_t done;   /* slot of the done notification in the driver's cspace */
	struct fuzz_stats st;
	volatile int finished;
};
void driver_main(struct driver_arg *a);
void victim_entry(uint64_t mode, uint64_t arg);
/* victim.c: frames the driver mapped writable into the shared address space, and values for writers
 * to put there. */
extern volatile uint64_t fz_wr_va[64], fz_wr_val[16];
extern volatile uint32_t fz_nwr, fz_nval;
extern const char *const op_names[32];

static inline uint64_t fz_next(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545f4914f6cdd1dull;
}

static inline uint64_t fz_rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

#endif
