/* User contexts and preemption upcalls: the C half (the assembly half is uctx.S). */
#include <hallows/rt.h>
#include <hallows/uctx.h>
#include <lib/string.h>

void uctx_make(struct uctx *c, void *stack_top, void (*fn)(void *), void *arg, void (*exit)(void))
{
	memset(c, 0, offsetof(struct uctx, fpu));
	uctx_fpu_save(c->fpu); /* a valid x87/SSE state to start from (MXCSR and all) */
	c->rip = (hl_word_t)uctx_start;
	c->rsp = (hl_word_t)stack_top & ~15ull;
	c->rflags = 0x202;
	c->rdi = (hl_word_t)arg;
	c->rsi = (hl_word_t)fn;
	c->rbx = (hl_word_t)exit;
}

void uctx_from_area(struct uctx *c, const struct hl_upcall_area *a)
{
	memcpy(c, a, offsetof(struct hl_upcall_area, handler_sp));
}

long rt_upcall_attach(hl_cptr_t tcb, hl_cptr_t frame, struct rt_upcall_page *page, void *stack_top,
                      void (*fn)(struct rt_upcall_page *), uint64_t quantum_ns)
{
	page->fn = fn;
	page->a.handler_sp = (hl_word_t)stack_top & ~15ull;
	page->a.masked = 0;
	page->a.pending = 0;
	return hl_thread_set_upcall(tcb, frame, (hl_word_t)page, (hl_word_t)rt_upcall_entry,
	                            quantum_ns);
}
