/*
 * Threads the driver starts (ops.c, op_spawn): they spin, block in IPC or
 * on notifications, or write page-table-like words into frames the driver
 * mapped, so that the driver's calls meet threads in every state on every
 * CPU. They never transfer capabilities (message info without caps, and a
 * zero receive slot), so the model of the driver's cspace stays exact.
 *
 * mode (low 8 bits of arg 0): VICTIM_*; bits 8..23: slots in its cspace;
 * bits 24..31: the first slot it may use (the driver's fixed slots are not
 * for victims: a victim waiting on the done notification would take the
 * controller's wake-up).
 */
#include "scfuzz.h"

enum { VICTIM_SPIN, VICTIM_IPC, VICTIM_NTFN, VICTIM_YIELD, VICTIM_WRITER, VICTIM_MODES };

/* Frames the driver mapped writable into the shared address space (the writers' targets). */
volatile uint64_t fz_wr_va[64];
volatile uint64_t fz_wr_val[16]; /* values written: frame addresses | present, write, user; junk */
volatile uint32_t fz_nwr, fz_nval;

static void pause_for(uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		__asm__ volatile("pause");
}

static void ipc_step(uint64_t *x, hl_cptr_t slot)
{
	/* Labels no kernel method has: a call on a non-endpoint slot fails instead of invoking a
	 * method. */
	hl_word_t info = HL_MSGINFO(0x100 + (fz_next(x) & 7), fz_next(x) & 3, 0), badge;
	struct hl_msg msg = {{*x, *x >> 8, 0, 0}};
	long err;

	switch (fz_next(x) % 4) {
	case 0:
		err = hl_syscall(HL_SYS_RECV, slot, &info, &msg, &badge);
		if (!err && (fz_next(x) & 1)) {
			info = HL_MSGINFO(0x100, 1, 0);
			hl_syscall(HL_SYS_REPLY, 0, &info, &msg, NULL);
		}
		break;
	case 1:
		err = hl_syscall(HL_SYS_CALL, slot, &info, &msg, NULL);
		break;
	case 2:
		err = hl_syscall(HL_SYS_SEND, slot, &info, &msg, NULL);
		break;
	default:
		err = hl_syscall(HL_SYS_NBSEND, slot, &info, &msg, NULL);
	}
	if (err)
		pause_for(2000);
}

static void ntfn_step(uint64_t *x, hl_cptr_t slot)
{
	hl_word_t info = 0;
	struct hl_msg msg = {{0}};
	long nr = (long[]){HL_SYS_RECV, HL_SYS_SEND, HL_SYS_POLL, HL_SYS_WAIT}[fz_next(x) % 4];
	/* Timed waits: passed, soon (up to ~1 ms), far, or none. */
	uint64_t r = fz_next(x), deadline = (uint64_t[]){0, fz_rdtsc() + r % 3000000,
	                                                 fz_rdtsc() + (r << 20), ~0ull}[r % 4];

	if (nr == HL_SYS_WAIT ? hl_wait(slot, deadline, NULL)
	                      : hl_syscall(nr, slot, &info, &msg, NULL))
		pause_for(2000);
}

static void writer_step(uint64_t *x)
{
	uint32_t nwr = fz_nwr, nval = fz_nval;

	if (!nwr || !nval) {
		pause_for(5000);
		return;
	}
	uint64_t va = fz_wr_va[fz_next(x) % nwr];
	if (va)
		((volatile uint64_t *)va)[fz_next(x) % 512] = fz_wr_val[fz_next(x) % nval];
	pause_for(500);
}

void victim_entry(uint64_t mode, uint64_t seed)
{
	uint64_t x = seed | 1, nslots = (mode >> 8) & 0xffff, first = (mode >> 24) & 0xff;

	mode &= 0xff;
	for (;;) {
		hl_cptr_t slot = nslots > first ? first + fz_next(&x) % (nslots - first) : 0;
		switch (mode % VICTIM_MODES) {
		case VICTIM_SPIN:
			pause_for(100000);
			break;
		case VICTIM_IPC:
			ipc_step(&x, slot);
			break;
		case VICTIM_NTFN:
			ntfn_step(&x, slot);
			break;
		case VICTIM_YIELD:
			hl_yield();
			pause_for(1000);
			break;
		default:
			writer_step(&x);
		}
	}
}
