/*
 * Raw system-call wrappers for ring 3 (see abi.h for the register ABI).
 * struct hl_msg carries message words 0..5: 0..3 travel in registers,
 * 4..5 through the IPC buffer, which the caller's runtime must have set
 * with hl_set_ipc_buffer().
 */
#ifndef HALLOWS_SYSCALL_H
#define HALLOWS_SYSCALL_H

#include <hallows/abi.h>

struct hl_msg {
	hl_word_t w[6];
};
_Static_assert(sizeof(struct hl_msg) == 48, "hl_msg: six words");

/*
 * This thread's IPC buffer. The kernel points each thread's FS base at its
 * IPC buffer and stores the buffer's address in its tls word, so the
 * buffer is found with one FS-relative load (thread-local by construction).
 */
static inline struct hl_ipc_buffer *hl_ipcbuf(void)
{
	struct hl_ipc_buffer *p;

	__asm__("movq %%fs:%c1, %0" : "=r"(p) : "i"(__builtin_offsetof(struct hl_ipc_buffer, tls)));
	return p;
}

static inline long hl_syscall(long nr, hl_cptr_t cap, hl_word_t *info, struct hl_msg *m,
                              hl_word_t *badge)
{
	register hl_word_t r10 __asm__("r10") = m->w[1];
	register hl_word_t r8 __asm__("r8") = m->w[2];
	register hl_word_t r9 __asm__("r9") = m->w[3];
	hl_word_t rdi = cap, rsi = *info, rdx = m->w[0];
	long rax = nr;

	__asm__ volatile("syscall"
	                 : "+a"(rax), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+r"(r10), "+r"(r8), "+r"(r9)
	                 :
	                 : "rcx", "r11", "memory");
	m->w[0] = rdx, m->w[1] = r10, m->w[2] = r8, m->w[3] = r9;
	*info = rsi;
	if (badge)
		*badge = rdi;
	return rax;
}

/* Invoke a method on a kernel object (HL_SYS_CALL). Results come back in m. */
static inline long hl_invoke(hl_cptr_t obj, hl_word_t info, struct hl_msg *m)
{
	if (HL_MSG_LEN(info) > 4) {
		hl_ipcbuf()->mr[4] = m->w[4];
		hl_ipcbuf()->mr[5] = m->w[5];
	}
	return hl_syscall(HL_SYS_CALL, obj, &info, m, 0);
}

static inline long hl_null(void)
{
	long rax = HL_SYS_NULL;

	__asm__ volatile("syscall"
	                 : "+a"(rax)
	                 :
	                 : "rcx", "r11", "rdi", "rsi", "rdx", "r10", "r8", "r9", "memory");
	return rax;
}

static inline long hl_yield(void)
{
	long rax = HL_SYS_YIELD;

	__asm__ volatile("syscall"
	                 : "+a"(rax)
	                 :
	                 : "rcx", "r11", "rdi", "rsi", "rdx", "r10", "r8", "r9", "memory");
	return rax;
}

static inline long hl_debug_puts(hl_cptr_t debug_cap, const char *s, unsigned long n)
{
	long rax = HL_SYS_DEBUG_PUTS;
	register hl_word_t r10 __asm__("r10");
	register hl_word_t r8 __asm__("r8");
	register hl_word_t r9 __asm__("r9");

	__asm__ volatile("syscall"
	                 : "+a"(rax), "+D"(debug_cap), "+S"(n), "+d"(s), "=r"(r10), "=r"(r8),
	                   "=r"(r9)
	                 :
	                 : "rcx", "r11", "memory");
	return rax;
}

/*
 * Wait on the notification ntfn until it is signalled or the TSC reaches
 * deadline (HL_WAIT_FOREVER: no deadline). HL_OK with the signalled bits in
 * *word, HL_ERR_TIMED_OUT once the deadline has passed (at once when it
 * already has and nothing is pending), or another hl_err (docs/abi.md).
 */
static inline long hl_wait(hl_cptr_t ntfn, uint64_t deadline, hl_word_t *word)
{
	long rax = HL_SYS_WAIT;
	register hl_word_t r10 __asm__("r10");
	register hl_word_t r8 __asm__("r8");
	register hl_word_t r9 __asm__("r9");
	hl_word_t rsi = 0;

	__asm__ volatile("syscall"
	                 : "+a"(rax), "+D"(ntfn), "+S"(rsi), "+d"(deadline), "=r"(r10), "=r"(r8),
	                   "=r"(r9)
	                 :
	                 : "rcx", "r11", "memory");
	if (word)
		*word = rax == HL_OK ? ntfn : 0;
	return rax;
}

#endif
