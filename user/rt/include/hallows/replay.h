/*
 * Crash recovery with input replay (user/rt/replay.c, docs/snapshots.md
 * "Crash recovery with input replay"). A service runs in a worker thread of
 * its own address space under a snapshot; the calling (main) thread is its
 * supervisor. Everything non-deterministic that reaches the worker goes
 * through the calls below and is recorded in an input log kept in pages
 * the snapshot excludes: messages taken from the input ring, clock
 * readings, injected crashes. The worker asks for a checkpoint every
 * `interval` inputs (a new snapshot; the log starts again). When it
 * faults, the supervisor restores the snapshot and the worker runs again
 * from the checkpoint, fed from the log; the responses it sends again are
 * suppressed by their sequence numbers, so the peer sees each exactly once.
 */
#ifndef HALLOWS_REPLAY_H
#define HALLOWS_REPLAY_H

#include <hallows/retry.h>

#define RP_DATA_MAX   64 /* bytes of one logged input (a ring entry, a clock reading) */
#define RP_MAX_INJECT 16 /* injected crashes per run */
#define RP_LOG_PAGES  16 /* the input log: about 900 entries */
#define RP_MAX_HEAP   8  /* heap ranges recorded */

enum rp_kind { RP_EV_RING = 1, RP_EV_CLOCK = 2, RP_EV_INJECT = 3 };

struct rp_event {
	uint32_t kind, len;
	uint8_t data[RP_DATA_MAX];
};

/* What the supervisor saw at the last crash (HL_FAULT_* words of the fault message). */
struct rp_crash {
	uint64_t vector, error, addr, rip;
	uint64_t input; /* the worker's input count (since start) when it crashed */
};

/* State outside the snapshot (excluded pages): the log, the ring ends, the counters. */
struct rp_state {
	struct hl_ring in, out; /* the request ring (consumer) and the response ring (producer) */
	uint32_t replaying;     /* the worker is fed from the log */
	uint32_t debug;         /* a replay for debugging: an injected crash happens again */
	uint32_t count, cursor; /* events in the log since the checkpoint; the next to replay */
	uint32_t in_next;       /* the input ring's index after the last logged message */
	uint32_t interval;      /* inputs between checkpoints */
	uint32_t inputs_since;  /* ring inputs logged since the checkpoint */
	uint32_t out_sent;      /* responses published so far (since start) */
	uint64_t inputs_total;  /* ring inputs consumed so far (since start) */
	uint64_t inject_at[RP_MAX_INJECT];    /* crash at input number (1-based) ... */
	uint32_t inject_phase[RP_MAX_INJECT]; /* ... at this crash point */
	uint32_t ninject, inject_next;
	uint64_t checkpoints, crashes, replayed, suppressed;
	struct rp_crash last;
	uint32_t log_cap;
	struct rp_event *log;
	/* Recording (deterministic replay for debugging): the worker's registers at the checkpoint
	 * and at the crash (thread.read_gprs groups 0-4), the memory it got from the heap. */
	uint32_t record_at;     /* write out the recording of this crash (1-based; 0: none) */
	uint32_t ckpt_out_sent; /* out_sent, the response ring's index and inject_next when the */
	uint32_t ckpt_out_mine; /* checkpoint was taken */
	uint32_t ckpt_inject_next;
	uint64_t ckpt_regs[20], crash_regs[20];
	uint64_t heap[RP_MAX_HEAP][2]; /* [start, end) of the worker's heap pages */
	uint32_t nheap;
};

/* A recording (rp_record_write, rp_debug_replay): this header, nevents struct rp_event, then
 * nranges times {va, len, len bytes}: the covered memory at the checkpoint. */
struct rp_rec_hdr {
	uint64_t magic; /* RP_REC_MAGIC */
	uint64_t ckpt_regs[20], crash_regs[20], fault[4];
	uint64_t out_sent, out_mine, inject_next; /* at the checkpoint */
	uint64_t nevents, nranges;
};
#define RP_REC_MAGIC 0x3163657270726c68ull /* "hlrprec1" */

struct rp_service {
	struct rt_guard g;        /* snapshot, worker, its fault endpoint (hallows/retry.h) */
	struct rp_state *st;      /* in the excluded pages */
	void (*serve)(void *arg); /* the worker: loops on rp_recv/rp_send, never returns */
	void *arg;
};

/* Make the snapshot (2^snap_bits bytes), the worker and the log; attach the channels `in`
 * (consumer end) and `out` (producer end) and exclude their rings. 0 or an hl_err. */
long rp_init(struct rp_service *s, uint32_t snap_bits, const char *in, const char *out,
             uint32_t interval);
/* Crash the worker when it reaches crash point `phase` while handling input number `at`
 * (1-based); at most RP_MAX_INJECT, in increasing order. */
long rp_inject(struct rp_service *s, uint64_t at, uint32_t phase);
/* Start serve(arg) in the worker and supervise it: checkpoints, restore and replay after a
 * crash. Returns only on an error it cannot recover from (a negative hl_err). */
long rp_run(struct rp_service *s, void (*serve)(void *), void *arg);

/* Write a recording of crash number n (1-based) to the console ("rec" lines: tools/replay.py turns
 * them into a file) when it happens. */
void rp_record(struct rp_service *s, uint32_t n);
/* Deterministic replay for debugging: after rp_init (the same program, partition and calls as
 * the recorded run, so the same addresses and slots), load recording rec (len bytes) into the
 * worker's memory, run it from the checkpoint's registers fed from the recorded inputs, and
 * compare where and how it faults with the recorded crash. 0 when they match. */
long rp_debug_replay(struct rp_service *s, const void *rec, uint64_t len);
/* The same with the recording read from the input channel: an entry {RP_REC_MAGIC, length}, then
 * the bytes, an entry at a time (user/apps/kvstore/kvfeed.c sends one). */
long rp_debug_replay_ring(struct rp_service *s);

/* The worker's side. The next request (copied into buf, at most len bytes): waits for one;
 * returns its length. */
uint32_t rp_recv(void *buf, uint32_t len);
/* Send a response (at most the ring's entry size); suppressed when already sent before a crash. */
void rp_send(const void *buf, uint32_t len);
/* The TSC, recorded (replayed readings return the recorded value). */
uint64_t rp_clock(void);
/* True when an injected crash is due here (the caller then faults); a replay after the crash
 * passes the point. */
bool rp_crash_point(uint32_t phase);
/* The counters (for a status request): the state outside the snapshot, read only. */
const struct rp_state *rp_stats(void);

#endif
