/*
 * Ring-3 suite "isolation": a thread sees only what its own capability
 * space and address space give it. An isolated thread with a 16-slot
 * cspace holding one endpoint copy (slot 1) gets INVALID_CAP for every
 * other slot, including the root task's well-known ones; port I/O faults;
 * a thread in its own address space cannot reach the runner's memory.
 */
#include "utest.h"

#define SMALL_BITS 4
#define CHILD_CODE 0x400000ull
#define CHILD_DATA 0x401000ull

enum { V_UD = 6, V_GP = 13, V_PF = 14 };

struct probe {
	volatile uint64_t bad_slot, bad_nr, bad_err; /* first unexpected result (slot ~0: none) */
	volatile uint64_t checked;
};

/* Every system call that names a capability, on every slot but 1 and a few beyond the cspace. */
static void probe_slots(void *arg)
{
	static const long nrs[] = {HL_SYS_CALL, HL_SYS_SEND,       HL_SYS_NBSEND,    HL_SYS_RECV,
	                           HL_SYS_POLL, HL_SYS_REPLY_RECV, HL_SYS_DEBUG_PUTS};
	static const hl_cptr_t far[] = {16, 17, 100, 4095, 1u << 20, ~0ull};
	struct probe *p = arg;

	p->bad_slot = ~0ull;
	for (hl_cptr_t s = 0; s < 16 + sizeof(far) / sizeof(far[0]); s++) {
		hl_cptr_t slot = s < 16 ? s : far[s - 16];
		if (slot == 1)
			continue;
		for (unsigned i = 0; i < sizeof(nrs) / sizeof(nrs[0]); i++) {
			hl_word_t info = HL_MSGINFO(1, 1, 0);
			struct hl_msg m = {{0}};
			long err = hl_syscall(nrs[i], slot, &info, &m, NULL);
			p->checked++;
			if (err != HL_ERR_INVALID_CAP && p->bad_slot == ~0ull)
				p->bad_slot = slot, p->bad_nr = (uint64_t)nrs[i],
				p->bad_err = (uint64_t)err;
		}
	}
	/* Report through the one capability it has, then try port I/O (faults: no IOPL). */
	hl_word_t info = HL_MSGINFO(7, 1, 0);
	struct hl_msg m = {{p->checked}};
	hl_syscall(HL_SYS_CALL, 1, &info, &m, NULL);
	__asm__ volatile("outb %%al, %%dx" : : "a"(0), "d"(0x80));
	__asm__ volatile("inb %%dx, %%al" : : "d"(0x3fd) : "rax");
	for (;;)
		hl_yield(); /* never reached: the runner stops it at the first fault */
}

struct msg {
	long err;
	hl_word_t label, w0, w2, w3;
};

static struct msg receive(hl_cptr_t ep)
{
	hl_word_t info = 0;
	struct hl_msg m = {{0}};
	struct msg r;

	r.err = hl_syscall(HL_SYS_RECV, ep, &info, &m, NULL);
	r.label = HL_MSG_LABEL(info), r.w0 = m.w[0], r.w2 = m.w[2], r.w3 = m.w[3];
	return r;
}

/* A 16-slot cspace holding only a send-only copy of ep in slot 1. */
static hl_cptr_t small_cspace(struct utest_ctx *t, hl_cptr_t ep)
{
	hl_cptr_t cs = ut_alloc(t, HL_OBJ_CSPACE, SMALL_BITS);

	if (!cs || hl_cspace_copy(cs, 1, ep, HL_R_WRITE) != HL_OK)
		return 0;
	return cs;
}

UTEST(isolation, own_cspace_sees_only_its_slots)
{
	struct probe p = {0, 0, 0, 0};
	hl_cptr_t ep = ut_alloc(t, HL_OBJ_ENDPOINT, 0), cs = small_cspace(t, ep);
	hl_cptr_t tcb = ut_thread_new(t, probe_slots, &p, 50);

	if (!UCHECK(t, ep && cs && tcb))
		return;
	/* Same address space, own cspace; faults go to ep too, so nothing here can hang. */
	UEXPECT_ERR(t, hl_thread_configure(tcb, cs, HL_SLOT_ASPACE, 0, 0), HL_OK);
	UEXPECT_ERR(t, hl_thread_set_fault_ep(tcb, ep), HL_OK);
	UEXPECT_ERR(t, hl_thread_resume(tcb), HL_OK);
	struct msg r = receive(ep); /* the lower-priority thread runs while we wait */
	UEXPECT(t, r.err == HL_OK && r.label == 7, "err %ld label %#lx (fault vector %lu at %#lx?)",
	        r.err, r.label, r.w0, r.w3);
	UEXPECT(t, r.w0 == 7 * 21 && p.checked == r.w0, "checked %lu", r.w0);
	UEXPECT(t, p.bad_slot == ~0ull, "slot %lu syscall %lu returned %lu", p.bad_slot, p.bad_nr,
	        p.bad_err);
	hl_word_t info = 0;
	struct hl_msg m = {{0}};
	hl_syscall(HL_SYS_REPLY, 0, &info, &m, NULL);
	r = receive(ep);
	UEXPECT(t, r.label == HL_LABEL_FAULT && r.w0 == V_GP,
	        "label %#lx vector %lu (outb must fault)", r.label, r.w0);
	/* Skip the outb: the inb faults as well. */
	hl_word_t rip = 0, rsp = 0;
	hl_thread_read_regs(tcb, &rip, &rsp, NULL, NULL);
	UEXPECT_ERR(t, hl_thread_write_regs(tcb, rip + 1, rsp, 0, 0),
	            HL_OK); /* outb %al,%dx is one byte */
	hl_syscall(HL_SYS_REPLY, 0, &info, &m, NULL);
	r = receive(ep);
	UEXPECT(t,
	        r.label == HL_LABEL_FAULT && r.w0 == V_GP && r.w3 > rip &&
	            *(const uint8_t *)r.w3 == 0xec,
	        "label %#lx vector %lu rip %#lx (must be the inb after %#lx)", r.label, r.w0, r.w3,
	        rip);
	UEXPECT_ERR(t, hl_thread_suspend(tcb), HL_OK);
}

/* The thread holds its own copy of its cspace: deleting ours changes nothing for it. */
UTEST(isolation, thread_keeps_its_cspace_after_our_delete)
{
	struct probe p = {0, 0, 0, 0};
	hl_cptr_t ep = ut_alloc(t, HL_OBJ_ENDPOINT, 0), cs = small_cspace(t, ep);
	hl_cptr_t tcb = ut_thread_new(t, probe_slots, &p, 50);

	if (!UCHECK(t, ep && cs && tcb))
		return;
	UEXPECT_ERR(t, hl_thread_configure(tcb, cs, HL_SLOT_ASPACE, 0, 0), HL_OK);
	UEXPECT_ERR(t, hl_thread_set_fault_ep(tcb, ep), HL_OK);
	UEXPECT_ERR(t, hl_cspace_delete(HL_SLOT_CSPACE, cs),
	            HL_OK); /* the thread still holds a copy */
	UEXPECT_ERR(t, hl_thread_resume(tcb), HL_OK);
	struct msg r = receive(ep);
	UEXPECT(t, r.err == HL_OK && r.label == 7 && p.bad_slot == ~0ull, "label %#lx bad slot %lu",
	        r.label, p.bad_slot);
	UEXPECT_ERR(t, hl_thread_suspend(tcb), HL_OK);
}

/*
 * A thread in its own address space runs  movq (%rdi), %rax; ud2  from a
 * code page mapped only there: with rdi at its own data page it reaches
 * the ud2; with rdi at the runner's memory the load faults.
 */
static hl_cptr_t child_thread(struct utest_ctx *t, hl_cptr_t ep, hl_word_t rdi)
{
	static const uint8_t blob[] = {0x48, 0x8b, 0x07, 0x0f, 0x0b};
	hl_cptr_t as = ut_alloc(t, HL_OBJ_ASPACE, 0), cs = small_cspace(t, ep), code, data,
	          c1 = ut_slot(), c2 = ut_slot();
	uint8_t *cp = ut_page(t, &code);
	hl_cptr_t tcb = ut_alloc(t, HL_OBJ_THREAD, 0);

	if (!as || !cs || !cp || !ut_page(t, &data) || !tcb)
		return 0;
	for (unsigned i = 0; i < sizeof(blob); i++)
		cp[i] = blob[i];
	for (int level = 3; level >= 1; level--)
		hl_aspace_map_table(as, ut_alloc(t, HL_OBJ_PAGE_TABLE, 12), CHILD_CODE,
		                    (hl_word_t)level);
	hl_cspace_copy(HL_SLOT_CSPACE, c1, code, HL_R_READ | HL_R_EXEC);
	hl_cspace_copy(HL_SLOT_CSPACE, c2, data, HL_R_READ);
	if (hl_aspace_map(as, c1, CHILD_CODE, HL_R_READ | HL_R_EXEC) ||
	    hl_aspace_map(as, c2, CHILD_DATA, HL_R_READ) ||
	    hl_thread_configure(tcb, cs, as, 0, 0) || hl_thread_set_fault_ep(tcb, ep) ||
	    hl_thread_write_regs(tcb, CHILD_CODE, CHILD_DATA + 4096, rdi, 0) ||
	    hl_thread_set_priority(tcb, 50) || hl_thread_resume(tcb))
		return 0;
	return tcb;
}

static uint64_t runner_data = 0x5a5a;

UTEST(isolation, own_aspace_cannot_reach_runner_memory)
{
	hl_cptr_t ep = ut_alloc(t, HL_OBJ_ENDPOINT, 0);
	hl_cptr_t ok = child_thread(t, ep, CHILD_DATA);

	if (!UCHECK(t, ok))
		return;
	struct msg r = receive(ep);
	UEXPECT(t, r.label == HL_LABEL_FAULT && r.w0 == V_UD && r.w3 == CHILD_CODE + 3,
	        "vector %lu rip %#lx", r.w0, r.w3);
	hl_thread_suspend(ok);
	hl_word_t targets[] = {(hl_word_t)&runner_data, (hl_word_t)hl_ipcbuf(), HL_BOOTINFO_VADDR,
	                       HL_ROOT_STACK_TOP - 8};
	for (unsigned i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		hl_cptr_t bad = child_thread(t, ep, targets[i]);
		if (!UCHECK(t, bad))
			return;
		r = receive(ep);
		UEXPECT(t,
		        r.label == HL_LABEL_FAULT && r.w0 == V_PF && r.w2 == targets[i] &&
		            r.w3 == CHILD_CODE,
		        "target %#lx: vector %lu addr %#lx rip %#lx", targets[i], r.w0, r.w2, r.w3);
		hl_thread_suspend(bad);
	}
	UEXPECT(t, runner_data == 0x5a5a);
}
