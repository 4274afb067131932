/*
 * Preemption upcalls (docs/scheduling.md, "Preemption upcalls"): a thread
 * that has run for its quantum is not silently switched but resumed at its
 * handler, with the interrupted user registers written into an area it
 * shares with the kernel, so a user-level scheduler can preempt a long
 * request after a few microseconds.
 *
 * The quantum counts the thread's time on a CPU (kernel/sched.c keeps
 * what is left when it leaves one); it is checked on every return to ring
 * 3 through the scheduler's switch_in(), so an expiry in the kernel (during a
 * system call) is delivered as the call returns, with its results in the
 * saved registers. Everything here runs under the big kernel lock.
 */
#include <arch/cpu.h>
#include <arch/paging.h>
#include <kernel/aspace.h>
#include <kernel/invoke.h>
#include <kernel/klog.h>
#include <kernel/layout.h>
#include <kernel/object.h>
#include <kernel/thread.h>
#include <kernel/time.h>
#include <lib/string.h>

#define RFLAGS_IF    0x200ull
#define RFLAGS_FIXED 0x2ull

_Static_assert(offsetof(struct hl_upcall_area, rip) == offsetof(struct user_regs, rip),
               "the area opens with struct user_regs' registers, in its order");
_Static_assert(offsetof(struct hl_upcall_area, handler_sp) == offsetof(struct user_regs, fs_base),
               "the area's registers end where user_regs.fs_base starts");

/* Turn t's upcalls off and let go of the area's frame. */
void upcall_clear(struct thread *t)
{
	cap_delete(&t->upcall_slot);
	t->upcall_area = NULL;
	t->upcall_ns = t->upcall_q_tsc = 0;
	t->upcall_left_tsc = t->upcall_deadline_tsc = 0;
	t->upcall_va = t->upcall_handler = 0;
	thread_update_fastpath(t);
}

/*
 * Check a user address of t's address space: HL_OK when mapped with every
 * PTE bit in need (and none of PTE_NX if exec), else the error the
 * method reports.
 */
static int check_user_page(struct thread *t, uint64_t va, uint64_t need, bool exec, paddr_t *pa)
{
	uint64_t flags = 0;
	paddr_t p;

	if (va < PAGE_SIZE || va >= USER_MAP_TOP)
		return HL_ERR_INVALID_ARG; /* page 0, or a kernel address */
	if (t->aspace_slot.cap.type != HL_OBJ_ASPACE)
		return HL_ERR_INVALID_ARG; /* not configured */
	if (!aspace_lookup((struct aspace *)t->aspace_slot.cap.obj, va, &p, &flags) ||
	    !(flags & PTE_U))
		return HL_ERR_NOT_MAPPED;
	if ((flags & need) != need || (exec && (flags & PTE_NX)))
		return HL_ERR_NO_RIGHTS; /* read-only area, or a handler that cannot run */
	if (pa)
		*pa = p;
	return HL_OK;
}

/*
 * thread.set_upcall(area, area_vaddr, handler, quantum_ns): area is a
 * 4 KiB frame capability with read and write rights, mapped writable at
 * area_vaddr in the thread's address space; handler an executable user
 * address. quantum_ns 0 turns upcalls off (the other arguments are then
 * ignored). The quantum starts afresh.
 */
int decode_thread_set_upcall(struct invocation *inv)
{
	struct thread *t = (struct thread *)inv->target->cap.obj;
	uint64_t va = inv->arg[1], handler = inv->arg[2], q = inv->arg[3];
	struct slot *frame;
	paddr_t pa = 0;

	if (q == 0) {
		upcall_clear(t);
		return HL_OK;
	}
	if (q < HL_UPCALL_MIN_NS || q > HL_UPCALL_MAX_NS)
		return HL_ERR_RANGE;
	int err = inv_cap(inv, 0, HL_OBJ_FRAME, HL_R_READ | HL_R_WRITE, &frame);
	if (err)
		return err;
	/* Written through the kernel's map of RAM: no device memory (not in that map). */
	if (frame->cap.size_bits != 12 || (va & (PAGE_SIZE - 1)) ||
	    (frame->cap.flags & CAP_F_DEVICE))
		return HL_ERR_INVALID_ARG;
	err = check_user_page(t, va, PTE_P | PTE_U | PTE_W, false, &pa);
	if (!err && (pa & ~(PAGE_SIZE - 1)) != frame->cap.obj)
		err = HL_ERR_NOT_MAPPED; /* something else is mapped there */
	if (!err)
		err = check_user_page(t, handler, PTE_P | PTE_U, true, NULL);
	if (err)
		return err;
	/* Committed. */
	upcall_clear(t);
	struct cap c = cap_derive(&frame->cap);
	cap_insert(&t->upcall_slot, &c, frame);
	t->upcall_area = phys_to_virt(frame->cap.obj);
	t->upcall_va = va;
	t->upcall_handler = handler;
	t->upcall_ns = q;
	t->upcall_q_tsc =
	    MAX(q / 1000 * (tsc_hz / 1000000) + q % 1000 * (tsc_hz / 1000000) / 1000, 1ull);
	t->upcall_left_tsc = t->upcall_q_tsc;
	t->upcall_deadline_tsc = rdtsc() + t->upcall_q_tsc;
	thread_update_fastpath(t);
	sched_kick(t); /* a CPU running t picks again, and arms its timer for the quantum */
	return HL_OK;
}

/*
 * t's quantum has run out (expiry: the TSC at which it did) and t is about
 * to return to ring 3: write its registers into the area and point it at
 * its handler, or count a masked expiry. Returns false when the upcall
 * cannot be delivered: t's upcalls are then off and t has faulted
 * (HL_FAULT_UPCALL to its fault endpoint, or stopped with a report).
 */
bool upcall_deliver(struct thread *t, uint64_t expiry)
{
	struct hl_upcall_area *a = thread_upcall_area(t);
	uint64_t sp = a ? *(volatile uint64_t *)&a->handler_sp : 0;

	if (!a || sp < PAGE_SIZE || sp >= USER_MAP_TOP) {
		uint64_t va = t->upcall_va;
		upcall_clear(t);
		pr_warn("thread %p: upcall not delivered: %s", (void *)t,
		        a ? "handler_sp is not a user address" : "its area's frame is gone");
		thread_fault(t, HL_FAULT_UPCALL, a ? sp : 0, va);
		return false;
	}
	if (*(volatile uint32_t *)&a->masked) {
		a->missed++;
		a->pending = 1;
		return true;
	}
	memcpy(a, &t->regs, offsetof(struct hl_upcall_area, handler_sp));
	if (!t->full_restore) { /* entered by syscall: sysret would load rcx and r11 like this */
		a->rcx = t->regs.rip;
		a->r11 = t->regs.rflags;
	}
	a->expiry_tsc = expiry;
	a->count++;
	a->masked = 1;
	t->regs.rip = t->upcall_handler;
	t->regs.rsp = sp;
	t->regs.rdi = t->upcall_va;
	t->regs.rflags = RFLAGS_IF | RFLAGS_FIXED;
	t->full_restore = 1;
	return true;
}
