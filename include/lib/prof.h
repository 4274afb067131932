/*
 * Phase profiling by TSC (issue 14, docs/benchmarks.md "Where brokerd's
 * instructions go"). Under QEMU's `-icount shift=0` the guest TSC counts
 * instructions, so the TSC spent in a phase is its instruction count.
 *
 * Compiled in only with HL_PROF defined (the profiling build of brokerd,
 * `make bench-serve-profile`); otherwise every macro is empty and the
 * libraries (also built hosted) carry no cost. Phases nest: time is charged
 * to the innermost phase (exclusive), and PROF_LEAVE returns to the one
 * around it. One thread: the state is a plain global the program defines
 * with PROF_DEFINE.
 */
#ifndef LIB_PROF_H
#define LIB_PROF_H

#include <stdint.h>

enum prof_phase {
	PROF_LOOP,      /* the appliance's loop and anything not marked */
	PROF_DRV_RX,    /* NIC receive: driver rx_poll, buffer refill */
	PROF_FLOO_IN,   /* Ethernet/IP/TCP input up to the segment's delivery */
	PROF_RX_COPY,   /* the transport's copy of received payload into its request buffer */
	PROF_KAFKA,     /* request decode, handling and response encode */
	PROF_CRC,       /* CRC-32C of record batches */
	PROF_STORE,     /* log store: append and read bookkeeping */
	PROF_DISK,      /* block driver: building, submitting and completing requests */
	PROF_DISK_WAIT, /* waiting for the disk's completions */
	PROF_TX_APP,    /* the transport handing responses to TCP (references) */
	PROF_TCP_OUT,   /* TCP output: segments, ACKs, headers */
	PROF_CSUM,      /* Internet checksums computed by the CPU */
	PROF_DRV_TX,    /* NIC transmit: frame build (copies, references), driver tx, reclaim */
	PROF_TIMERS,    /* Floo's timer scans */
	PROF_SERVICE,   /* the transport's per-iteration scan of its connections */
	PROF_IDLE,      /* loop iterations that found no work, idle waits */
	PROF_TCP_IN,    /* TCP input: parse, lookup, checks (within floo_in) */
	PROF_TCP_ACK,   /* TCP input: ACK processing, SACK scoreboard, RACK, congestion control */
	PROF_TCP_DATA,  /* TCP input: payload acceptance and delivery (less the transport's copy) */
	PROF_BPOLL,     /* broker_poll: the broker's timed and deferred work, once per loop turn */
	PROF_N
};

#define PROF_NAMES                                                                                 \
	{                                                                                          \
		"loop", "drv_rx", "floo_in", "rx_copy", "kafka", "crc", "store", "disk",           \
		    "disk_wait", "tx_app", "tcp_out", "csum", "drv_tx", "timers", "service",       \
		    "idle", "tcp_in", "tcp_ack", "tcp_data", "bpoll"                               \
	}

#ifdef HL_PROF
struct hl_prof {
	uint64_t last;          /* TSC at the last charge */
	uint64_t tsc[PROF_N];   /* TSC charged to each phase */
	uint64_t calls[PROF_N]; /* entries into each phase */
	uint8_t cur, sp;        /* current phase, stack depth */
	uint8_t stack[32];      /* enclosing phases */
};

extern struct hl_prof hl_prof;

static inline uint64_t prof_tsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static inline void prof_charge(void)
{
	uint64_t t = prof_tsc();

	hl_prof.tsc[hl_prof.cur] += t - hl_prof.last;
	hl_prof.last = t;
}

static inline void prof_enter(enum prof_phase p)
{
	prof_charge();
	if (hl_prof.sp < sizeof(hl_prof.stack))
		hl_prof.stack[hl_prof.sp++] = hl_prof.cur;
	hl_prof.cur = (uint8_t)p;
	hl_prof.calls[p]++;
}

static inline void prof_leave(void)
{
	prof_charge();
	hl_prof.cur = hl_prof.sp ? hl_prof.stack[--hl_prof.sp] : PROF_LOOP;
}

#define PROF_DEFINE     struct hl_prof hl_prof
#define PROF_ENTER(p)   prof_enter(p)
#define PROF_LEAVE()    prof_leave()
#define PROF_CALL(p, e) (prof_enter(p), (e), prof_leave())
#else
#define PROF_DEFINE     struct hl_prof_unused
#define PROF_ENTER(p)   ((void)0)
#define PROF_LEAVE()    ((void)0)
#define PROF_CALL(p, e) (e)
#endif

#endif
