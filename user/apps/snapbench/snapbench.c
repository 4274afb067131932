/*
 * Snapshot benchmarks (docs/snapshots.md, docs/benchmarks.md), run as the
 * root task under TCG with -icount shift=0 (the TSC counts instructions):
 * a child address space with 64 MiB, 256 MiB and 1 GiB of resident 4 KiB
 * pages, and for 0%, 1% and 10% of its pages written: take, the child's
 * writes (each first write a copy-on-write fault), restore. The root task
 * cannot be snapshotted, so the child is a small blob of its own.
 *
 * A cspace holds at most 4096 capabilities and every mapped frame needs
 * one: the frames are retyped 256 at a time into a window of the root's
 * cspace, mapped into the child, then moved (mapping and all) into storage
 * cspaces that nobody invokes.
 *
 * Prints "BENCH <name> <value> instructions" (tools/bench_snapshot.py).
 */
#include <hallows/rt.h>
#include <hallows/syscall.h>
#include <lib/fmt.h>
#include <lib/string.h>

#define CODE_VA   0x400000ull
#define PARAMS_VA 0x401000ull
#define DATA_VA   0x40000000ull /* 1 GiB: the data region starts at a PD boundary */
#define WINDOW    256
#define STORE_CS  66 /* storage cspaces of 4096 slots: 262144 frames and their page tables */

/* The child: rdi = params. Times count writes (stride apart from base) with rdtsc, reports, counts
 * done, then suspends itself (params: base, count, stride, cycles, done, tcb slot, msginfo). */
__asm__(".pushsection .text\n"
        ".globl sb_blob\n"
        "sb_blob:\n"
        "	mov %rdi, %r12\n"
        "	rdtsc\n"
        "	shl $32, %rdx\n"
        "	or %rax, %rdx\n"
        "	mov %rdx, %r13\n"
        "	mov (%r12), %rax\n"
        "	mov 8(%r12), %rcx\n"
        "	mov 16(%r12), %r8\n"
        "1:	test %rcx, %rcx\n"
        "	jz 2f\n"
        "	mov %rcx, (%rax)\n"
        "	add %r8, %rax\n"
        "	dec %rcx\n"
        "	jmp 1b\n"
        "2:	rdtsc\n"
        "	shl $32, %rdx\n"
        "	or %rax, %rdx\n"
        "	sub %r13, %rdx\n"
        "	mov %rdx, 24(%r12)\n"
        "	lock incq 32(%r12)\n"
        "3:	mov $1, %eax\n" /* HL_SYS_CALL: thread.suspend on itself */
        "	mov 40(%r12), %rdi\n"
        "	mov 48(%r12), %rsi\n"
        "	syscall\n"
        "	jmp 3b\n"
        ".globl sb_blob_end\n"
        "sb_blob_end:\n"
        ".popsection\n");
extern const uint8_t sb_blob[], sb_blob_end[];

struct params {
	uint64_t base, count, stride, cycles, done, tcb, msginfo;
};

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static hl_cptr_t window, store[STORE_CS];
static unsigned nstore, store_used;
static unsigned mem_i;

static void fail(const char *what, long err)
{
	rt_printf("BENCH-ERROR snapbench: %s: error %ld\n", what, err);
	rt_exit(1);
}

/* Retype count objects into the window from the boot memory capabilities, moving on when one is
 * full. */
static void retype_window(uint32_t type, uint32_t bits, uint32_t count)
{
	const struct hl_bootinfo *bi = rt_self.bi;

	for (; mem_i < bi->nmem; mem_i++) {
		if (bi->mem[mem_i].is_device)
			continue;
		if (hl_memory_retype(bi->mem[mem_i].slot, type, bits, count, window) == HL_OK)
			return;
	}
	fail("out of memory for frames", HL_ERR_NO_MEMORY);
}

/* Move window slot i into the storage cspaces (its mapping goes with it). */
static void stow(uint32_t i)
{
	if (store_used == 4096) {
		if (++nstore == STORE_CS)
			fail("storage cspaces full", HL_ERR_RANGE);
		store_used = 0;
	}
	long err = hl_cspace_move(store[nstore], store_used++, window + i);
	if (err)
		fail("move", err);
}

/* Map pages fresh 4 KiB pages at DATA_VA + from * 4096 .. in as (page tables as needed). */
static void map_pages(hl_cptr_t as, uint64_t from, uint64_t pages)
{
	for (uint64_t done = 0; done < pages;) {
		uint64_t va = DATA_VA + (from + done) * 4096;
		if (va % (2u << 20) == 0) {
			retype_window(HL_OBJ_PAGE_TABLE, 12, 1);
			long err = hl_aspace_map_table(as, window, va, 1);
			if (err)
				fail("map_table", err);
			stow(0);
		}
		uint32_t n = WINDOW;
		if (n > pages - done)
			n = (uint32_t)(pages - done);
		uint64_t to_pt = ((2u << 20) - va % (2u << 20)) / 4096;
		if (n > to_pt)
			n = (uint32_t)to_pt;
		retype_window(HL_OBJ_FRAME, 12, n);
		for (uint32_t i = 0; i < n; i++) {
			long err =
			    hl_aspace_map(as, window + i, va + i * 4096ull, HL_R_READ | HL_R_WRITE);
			if (err)
				fail("map", err);
			stow(i);
		}
		done += n;
	}
}

static hl_cptr_t alloc(uint32_t type, uint32_t bits)
{
	hl_cptr_t s = rt_slot();
	const struct hl_bootinfo *bi = rt_self.bi;

	for (uint32_t i = 0; i < bi->nmem; i++)
		if (!bi->mem[i].is_device &&
		    hl_memory_retype(bi->mem[i].slot, type, bits, 1, s) == HL_OK)
			return s;
	fail("alloc", HL_ERR_NO_MEMORY);
	return 0;
}

static volatile struct params *P;
static hl_cptr_t child_tcb;

/* Run the child once over count pages, stride pages apart: its cycles. */
static uint64_t child_write(uint64_t count, uint64_t stride_pages)
{
	uint64_t done = P->done;

	P->base = DATA_VA + 64, P->count = count, P->stride = stride_pages * 4096;
	if (hl_thread_write_regs(child_tcb, CODE_VA, PARAMS_VA + 4096, PARAMS_VA, 0) ||
	    hl_thread_resume(child_tcb))
		fail("child start", 0);
	while (P->done == done) /* the child runs above the root's priority: it is done here */
		hl_yield();
	return P->cycles;
}

static void report(const char *name, uint64_t v)
{
	rt_printf("BENCH %s %lu instructions\n", name, v);
}

int main(struct rt *rt)
{
	static const struct {
		const char *name;
		uint64_t pages;
		uint32_t snap_bits;
	} sizes[] = {{"64mib", 16384, 23}, {"256mib", 65536, 25}, {"1gib", 262144, 27}};
	char name[96];
	hl_cptr_t codef, pf;
	uint64_t pages_mapped = 0;

	(void)rt;
	window = rt_slot();
	for (int i = 1; i < WINDOW; i++)
		rt_slot();
	for (int i = 0; i < STORE_CS; i++)
		store[i] = alloc(HL_OBJ_CSPACE, 12);
	/* The snapshot first: it needs the largest contiguous piece. */
	hl_cptr_t snap[3];
	for (int i = 2; i >= 0; i--)
		snap[i] = alloc(HL_OBJ_SNAPSHOT, sizes[i].snap_bits);
	hl_cptr_t as = alloc(HL_OBJ_ASPACE, 0);
	child_tcb = alloc(HL_OBJ_THREAD, 0);
	codef = alloc(HL_OBJ_FRAME, 12), pf = alloc(HL_OBJ_FRAME, 12);
	/* The child's code and parameters: frames of their own, mapped here too. */
	if (rt_map_frame(HL_SLOT_ASPACE, codef, 0x6000000000ull, HL_R_READ | HL_R_WRITE) ||
	    rt_map_frame(HL_SLOT_ASPACE, pf, 0x6000002000ull, HL_R_READ | HL_R_WRITE))
		fail("map own", 0);
	memcpy((void *)0x6000000000ull, sb_blob, (size_t)(sb_blob_end - sb_blob));
	P = (volatile struct params *)0x6000002000ull;
	hl_cptr_t codec = rt_slot(), pfc = rt_slot();
	if (hl_cspace_copy(HL_SLOT_CSPACE, codec, codef, HL_R_READ | HL_R_EXEC) ||
	    hl_cspace_copy(HL_SLOT_CSPACE, pfc, pf, HL_R_READ | HL_R_WRITE) ||
	    rt_map_frame(as, codec, CODE_VA, HL_R_READ | HL_R_EXEC) ||
	    rt_map_frame(as, pfc, PARAMS_VA, HL_R_READ | HL_R_WRITE))
		fail("map child", 0);
	/* The PD of the data region (its PDPT came with the code's tables). */
	retype_window(HL_OBJ_PAGE_TABLE, 12, 1);
	if (hl_aspace_map_table(as, window, DATA_VA, 2))
		fail("map_table pd", 0);
	stow(0);
	P->tcb = child_tcb;
	P->msginfo = HL_MSGINFO(HL_M_THREAD_SUSPEND, 0, 0);
	if (hl_thread_configure(child_tcb, HL_SLOT_CSPACE, as, 0, 0) ||
	    hl_thread_set_priority(child_tcb, 100) || hl_thread_set_priority(HL_SLOT_THREAD, 99))
		fail("child thread", 0);

	for (int s = 0; s < 3; s++) {
		uint64_t t0 = rdtsc();
		map_pages(as, pages_mapped, sizes[s].pages - pages_mapped);
		pages_mapped = sizes[s].pages;
		rt_printf("snapbench: %s mapped (%lu pages, %lu M instructions to set up)\n",
		          sizes[s].name, pages_mapped, (rdtsc() - t0) / 1000000);
		/* Touch every page once so that the region is resident and in the TLB's reach. */
		child_write(pages_mapped, 1);
		if (hl_snapshot_add(snap[s], as) || hl_snapshot_add(snap[s], child_tcb))
			fail("snapshot add", 0);
		static const struct {
			const char *name;
			uint64_t every; /* write one page in every */
		} fr[] = {{"0pct", 0}, {"1pct", 100}, {"10pct", 10}};
		for (int f = 0; f < 3; f++) {
			uint64_t n = fr[f].every ? pages_mapped / fr[f].every : 0;
			t0 = rdtsc();
			long err = hl_snapshot_take(snap[s]);
			uint64_t take = rdtsc() - t0;
			if (err)
				fail("take", err);
			uint64_t cow = n ? child_write(n, fr[f].every) : 0;
			uint64_t plain =
			    n ? child_write(n, fr[f].every) : 0; /* the same, no faults now */
			hl_word_t copies = 0;
			hl_snapshot_info(snap[s], NULL, NULL, NULL, &copies);
			t0 = rdtsc();
			err = hl_snapshot_restore(snap[s]);
			uint64_t restore = rdtsc() - t0;
			if (err)
				fail("restore", err);
			t0 = rdtsc();
			err = hl_snapshot_discard(snap[s]);
			uint64_t discard = rdtsc() - t0;
			if (err)
				fail("discard", err);
			snprintf(name, sizeof(name), "snapshot.hallows.take_%s_%s_instructions",
			         sizes[s].name, fr[f].name);
			report(name, take);
			snprintf(name, sizeof(name), "snapshot.hallows.restore_%s_%s_instructions",
			         sizes[s].name, fr[f].name);
			report(name, restore);
			snprintf(name, sizeof(name), "snapshot.hallows.discard_%s_%s_instructions",
			         sizes[s].name, fr[f].name);
			report(name, discard);
			if (n) {
				snprintf(name, sizeof(name),
				         "snapshot.hallows.cow_fault_%s_%s_per_page_instructions",
				         sizes[s].name, fr[f].name);
				report(name, (cow - plain) / n);
			}
			rt_printf("snapbench: %s %s: %lu pages written, %lu copies\n",
			          sizes[s].name, fr[f].name, n, copies);
		}
	}
	rt_printf("BENCH-DONE\n");
	return 0;
}
