/*
 * The CRC-32C throughput benchmark (issue 14, docs/benchmarks.md "What bounds
 * produce throughput under TCG"): the same loop in a Hallows ring-3 program
 * (crcbench.c) and in the Linux guest's /init (tools/linux-guest/init/lg_crc.c),
 * both over user/storage/crc32c.c, the code brokerd and the hosted broker run
 * on every produced byte.
 *
 * The guest cannot see host time under -icount shift=0 (its clocks count
 * instructions), so it reports progress and the host times it: one line per
 * round of CRCB_PASSES passes over a CRCB_BYTES buffer,
 *     CRCBENCH kind=<hw|insn|sw|copy|movsq> mib=<MiB done in this kind> tsc=<TSC> crc=<hex>
 * starting with mib=0 before the first pass, after "CRCBENCH fold=<0|1>" (whether
 * store_crc32c folds with VPCLMULQDQ on this CPU). The host takes the lines'
 * arrival times for MB/s of real (host) time and the TSC deltas for the
 * instructions per KiB (tests/system/serve/bench_linux.py, crc_phase).
 */
#ifndef APPS_CRCBENCH_H
#define APPS_CRCBENCH_H

#include <stddef.h>
#include <stdint.h>

#define CRCB_BYTES  (1u << 20) /* the buffer: 1 MiB, as a produce request's batches are summed */
#define CRCB_PASSES 4          /* passes over it per reported round */

enum crcb_kind {
	CRCB_HW,    /* store_crc32c, brokerd's path: the 256-bit fold or the crc32 instruction */
	CRCB_INSN,  /* store_crc32c_insn: the crc32 instruction at every length */
	CRCB_SW,    /* store_crc32c_sw: the portable slicing-by-8 tables */
	CRCB_COPY,  /* a plain 8-byte-word copy of the same bytes, for scale */
	CRCB_MOVSQ, /* the same copy by rep movsq (Hallows' memcpy, lib/string.c) */
	CRCB_N
};

/* Each side prints a round its own way (rt_printf, printf). */
typedef void (*crcb_report_fn)(const char *kind, unsigned mib, uint64_t tsc, uint32_t crc);

/* The rounds of each kind: about a second or more of host time each under
 * TCG on the machine the figures come from (docs/benchmarks.md). */
extern const unsigned crcb_rounds[CRCB_N];
extern const char *const crcb_names[CRCB_N];

/*
 * Fill src (CRCB_BYTES) with a fixed pseudo-random pattern, check that the
 * two CRC paths agree on it and on a few odd lengths and offsets, then run
 * every kind for its rounds, reporting each. dst (CRCB_BYTES) is the copy's
 * target. Returns 0, or -1 when the paths disagree (nothing is reported then).
 */
int crcb_run(uint8_t *src, uint8_t *dst, crcb_report_fn report);

#endif
