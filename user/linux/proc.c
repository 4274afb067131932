/*
 * Linux processes on the personality: the process table, fork with
 * copy-on-write (the pages are the platform's, main.c), execve of static
 * ELF files and `#!` scripts, exit and wait, process groups and sessions,
 * and the open file descriptions and pipes that processes share.
 *
 * A call that must wait (wait4 with no child ended yet, a read of an
 * empty pipe...) returns LX_RET_BLOCK with p->chan naming what it waits
 * for; the server stops the thread and lx_wake(chan) later makes the same
 * call again (the restart trampoline below). So every blocking call here
 * checks its condition again from the start and has no effect before it
 * blocks.
 *
 * The server sees only a thread's argument registers, so fork takes two
 * steps through the trampoline page every process has at LX_TRAMP: the
 * fork call is answered by sending the thread to lx_tramp_fork, which
 * saves every register (and the FPU/SSE state) in a frame under its stack
 * and makes the private call LX_NR_FORK2 with that frame; the server then
 * copies the process, and both parent and child leave through
 * lx_tramp_resume, which restores the registers from the frame, with the
 * child's pid or 0 in rax.
 */
#include "lx.h"

#include <hallows/rt.h>
#include <lib/string.h>

#define LX_NR_FORK2 0x48f02 /* the second step of fork: only after the first */

#define CLONE_VM             0x00000100u
#define CLONE_FS             0x00000200u
#define CLONE_FILES          0x00000400u
#define CLONE_SIGHAND        0x00000800u
#define CLONE_VFORK          0x00004000u
#define CLONE_PARENT         0x00008000u
#define CLONE_THREAD         0x00010000u
#define CLONE_SYSVSEM        0x00040000u
#define CLONE_DETACHED       0x00400000u
#define CLONE_SETTLS         0x00080000u
#define CLONE_PARENT_SETTID  0x00100000u
#define CLONE_CHILD_CLEARTID 0x00200000u
#define CLONE_CHILD_SETTID   0x01000000u

#define O_NONBLOCK 04000u
#define O_ACCMODE  3u
#define O_CLOEXEC  02000000u
#define O_DIRECT   040000u

#define WNOHANG    1u
#define WUNTRACED  2u
#define WEXITED    4u
#define WCONTINUED 8u
#define WNOWAIT    0x01000000u
#define WALLFLAGS  0xe0000000u /* __WNOTHREAD, __WALL, __WCLONE */

enum {
	NR_pipe = 22,
	NR_clone = 56,
	NR_fork = 57,
	NR_vfork = 58,
	NR_execve = 59,
	NR_exit = 60,
	NR_wait4 = 61,
	NR_setpgid = 109,
	NR_getppid = 110,
	NR_getpgrp = 111,
	NR_setsid = 112,
	NR_getpgid = 121,
	NR_getsid = 124,
	NR_exit_group = 231,
	NR_waitid = 247,
	NR_pipe2 = 293,
};

/* ---- the trampoline page: code every process has, read-execute, at LX_TRAMP ---- */
__asm__(".pushsection .rodata\n"
        ".balign 16\n"
        ".globl lx_tramp_start\n"
        "lx_tramp_start:\n"
        /* A call made again: rsp -> {nr, return address, rsp}; the arguments as they were. */
        "lx_tramp_restart:\n"
        "	mov (%rsp), %rax\n"
        "	syscall\n"
        "lx_tramp_restart_ret:\n"
        "	mov 8(%rsp), %rcx\n"
        "	mov 16(%rsp), %rsp\n"
        "	jmp *%rcx\n"
        /* fork, step 1 answered: rax = the return address, the rest as at the call. */
        "lx_tramp_fork:\n"
        "	lea -128(%rsp), %r11\n" /* the red zone stays as it is */
        "	and $-64, %r11\n"
        "	sub $640, %r11\n"
        "	fxsave64 (%r11)\n"
        "	mov %rbx, 512(%r11)\n"
        "	mov %rbp, 520(%r11)\n"
        "	mov %r12, 528(%r11)\n"
        "	mov %r13, 536(%r11)\n"
        "	mov %r14, 544(%r11)\n"
        "	mov %r15, 552(%r11)\n"
        "	mov %rdi, 560(%r11)\n"
        "	mov %rsi, 568(%r11)\n"
        "	mov %rdx, 576(%r11)\n"
        "	mov %r10, 584(%r11)\n"
        "	mov %r8, 592(%r11)\n"
        "	mov %r9, 600(%r11)\n"
        "	mov %rax, 608(%r11)\n"
        "	mov %rsp, 616(%r11)\n"
        "	mov %r11, %rsp\n"
        "	mov %r11, %rdi\n"
        "	mov $0x48f02, %eax\n"
        "	syscall\n"
        "	mov %rax, %rsi\n"
        /* Leave fork: rdi = the frame, rsi = the result (the child starts here). */
        "lx_tramp_resume:\n"
        "	fxrstor64 (%rdi)\n"
        "	mov %rsi, %rax\n"
        "	mov 512(%rdi), %rbx\n"
        "	mov 520(%rdi), %rbp\n"
        "	mov 528(%rdi), %r12\n"
        "	mov 536(%rdi), %r13\n"
        "	mov 544(%rdi), %r14\n"
        "	mov 552(%rdi), %r15\n"
        "	mov 568(%rdi), %rsi\n"
        "	mov 576(%rdi), %rdx\n"
        "	mov 584(%rdi), %r10\n"
        "	mov 592(%rdi), %r8\n"
        "	mov 600(%rdi), %r9\n"
        "	mov 608(%rdi), %rcx\n"
        "	mov 616(%rdi), %r11\n"
        "	mov 560(%rdi), %rdi\n"
        "	mov %r11, %rsp\n"
        "	jmp *%rcx\n"
        /* execve done: rdi = the entry point, rsp = the new stack; every register zero. */
        "lx_tramp_exec:\n"
        "	push %rdi\n"
        "	xor %eax, %eax\n"
        "	xor %ebx, %ebx\n"
        "	xor %ecx, %ecx\n"
        "	xor %edx, %edx\n"
        "	xor %esi, %esi\n"
        "	xor %edi, %edi\n"
        "	xor %ebp, %ebp\n"
        "	xor %r8d, %r8d\n"
        "	xor %r9d, %r9d\n"
        "	xor %r10d, %r10d\n"
        "	xor %r11d, %r11d\n"
        "	xor %r12d, %r12d\n"
        "	xor %r13d, %r13d\n"
        "	xor %r14d, %r14d\n"
        "	xor %r15d, %r15d\n"
        "	ret\n"
        /* A signal handler: rdi = the frame (signal.c), rsi = the handler; rax = the call's
           result. The registers the server could not see go into the frame's ucontext. */
        "lx_tramp_sig:\n"
        "	mov %r8, 48(%rdi)\n"
        "	mov %r9, 56(%rdi)\n"
        "	mov %r10, 64(%rdi)\n"
        "	mov %r11, 72(%rdi)\n"
        "	mov %r12, 80(%rdi)\n"
        "	mov %r13, 88(%rdi)\n"
        "	mov %r14, 96(%rdi)\n"
        "	mov %r15, 104(%rdi)\n"
        "	mov %rbp, 128(%rdi)\n"
        "	mov %rbx, 136(%rdi)\n"
        "	mov %rdx, 144(%rdi)\n"
        "	mov %rax, 152(%rdi)\n"
        "	mov %rcx, 160(%rdi)\n"
        "	lea 503(%rdi), %rax\n"
        "	and $-64, %rax\n"
        "	fxsave64 (%rax)\n"
        "	mov %rax, 232(%rdi)\n"
        "	mov %rsi, %r11\n"
        "	lea 8(%rdi), %rdx\n"
        "	lea 312(%rdi), %rsi\n"
        "	movslq 312(%rdi), %rdi\n"
        "	xor %eax, %eax\n"
        "	jmp *%r11\n"
        /* rt_sigreturn: rdi = the ucontext; every register from it, rcx, r11 and rflags too
           (a handler of a fault returns to code that holds values there). rip and rflags go
           just below the red zone of the stack it returns to (152 bytes under its rsp), and
           `popfq; ret $144` takes them, leaving rsp as it was. (iretq would do it in one, but
           QEMU's TCG reads its frame as the kernel would, which SMAP refuses.) */
        "lx_tramp_sigret:\n"
        "	mov 224(%rdi), %rax\n"
        "	test %rax, %rax\n"
        "	jz 1f\n"
        "	fxrstor64 (%rax)\n"
        "1:	mov 160(%rdi), %rax\n"
        "	sub $152, %rax\n"
        "	mov 168(%rdi), %rcx\n"
        "	mov %rcx, (%rax)\n"
        "	mov 176(%rdi), %rcx\n"
        "	mov %rcx, -8(%rax)\n"
        "	lea -8(%rax), %rsp\n"
        "	mov 40(%rdi), %r8\n"
        "	mov 48(%rdi), %r9\n"
        "	mov 56(%rdi), %r10\n"
        "	mov 64(%rdi), %r11\n"
        "	mov 72(%rdi), %r12\n"
        "	mov 80(%rdi), %r13\n"
        "	mov 88(%rdi), %r14\n"
        "	mov 96(%rdi), %r15\n"
        "	mov 112(%rdi), %rsi\n"
        "	mov 120(%rdi), %rbp\n"
        "	mov 128(%rdi), %rbx\n"
        "	mov 136(%rdi), %rdx\n"
        "	mov 144(%rdi), %rax\n"
        "	mov 152(%rdi), %rcx\n"
        "	mov 104(%rdi), %rdi\n"
        "	popfq\n"
        "	ret $144\n"
        "lx_tramp_end:\n"
        ".popsection\n");
extern const uint8_t lx_tramp_start[], lx_tramp_restart[], lx_tramp_restart_ret[], lx_tramp_fork[],
    lx_tramp_resume[], lx_tramp_exec[], lx_tramp_sig[], lx_tramp_sigret[], lx_tramp_end[];

uint64_t lx_tramp_off(int which)
{
	const uint8_t *at[] = {lx_tramp_restart, lx_tramp_restart_ret, lx_tramp_fork,
	                       lx_tramp_resume,  lx_tramp_exec,        lx_tramp_sig,
	                       lx_tramp_sigret};

	return (uint64_t)(at[which] - lx_tramp_start);
}

static uint64_t tramp(int which)
{
	return LX_TRAMP + lx_tramp_off(which);
}

/* ---- the process table ---- */

struct lx_proc lx_procs[LX_MAX_PROCS];
static struct lx_pipe pipes[LX_MAX_PIPES];
static uint32_t next_pid = 101;
static bool pids_wrapped;  /* next_pid went back to 101 once: a pid may be in use */
static uint32_t first_pid; /* the command's process: its status is the command's */
static int last_status;

struct lx_proc *lx_proc_by_pid(uint32_t pid)
{
	for (uint32_t i = 0; i < LX_MAX_PROCS; i++)
		if (lx_procs[i].state != LX_PROC_FREE && lx_procs[i].pid == pid)
			return &lx_procs[i];
	return NULL;
}

static uint32_t nprocs; /* slots not free: the server asks after every call */

uint32_t lx_proc_count(void)
{
	return nprocs;
}

int lx_proc_last_status(void)
{
	return last_status;
}

static const char poll_chan;
static bool poll_sleepers; /* someone may wait on poll_chan (false after a wake of it) */

const void *lx_poll_chan(void)
{
	poll_sleepers = true; /* asked for by a poll about to wait (or a waker: a harmless scan) */
	return &poll_chan;
}

uint64_t lx_change_seq;

bool lx_chan_is_pipe(const void *chan)
{
	return (const struct lx_pipe *)chan >= pipes &&
	       (const struct lx_pipe *)chan < pipes + LX_MAX_PIPES;
}

/* A wait whose call the server keeps for a deferred reply (main.c): a pipe's, and that of
 * wait4 and waitid (on the waiting process, which lx_proc_exit wakes). */
bool lx_chan_defers(const void *chan)
{
	uintptr_t off = (uintptr_t)chan - (uintptr_t)lx_procs;

	return lx_chan_is_pipe(chan) ||
	       (off < sizeof(lx_procs) && off % sizeof(struct lx_proc) == 0);
}

void lx_wake(const void *chan)
{
	const void *also = NULL; /* a pipe changed: every poll looks again */

	if (lx_chan_is_pipe(chan)) {
		struct lx_pipe *pp = &pipes[(const struct lx_pipe *)chan - pipes];
		pp->stamp = ++lx_change_seq;
		uint32_t w = pp->sleepers;
		pp->sleepers = 0;
		if (!poll_sleepers) { /* only the pipe's own sleepers: no walk over the table */
			for (; w; w &= w - 1) {
				struct lx_proc *q = &lx_procs[__builtin_ctz(w)];
				if (q->chan == chan && q->state == LX_PROC_LIVE) {
					q->chan = NULL;
					lx_plat_wake(q);
				}
			}
			return;
		}
		also = &poll_chan;
		poll_sleepers = false;
	} else if (chan == &poll_chan) {
		poll_sleepers = false;
	}
	/* One pass for both (a wake is on every pipe round trip), the rare test last. */
	for (uint32_t i = 0; i < LX_MAX_PROCS; i++) {
		struct lx_proc *q = &lx_procs[i];
		if (q->chan && (q->chan == chan || q->chan == also) && q->state == LX_PROC_LIVE) {
			q->chan = NULL;
			lx_plat_wake(q);
		}
	}
}

/* A free slot with a fresh pid, cleared unless the caller copies a whole one over it (fork:
 * some 9 KiB); NULL when the table is full. */
static struct lx_proc *proc_new(bool clear)
{
	for (uint32_t i = 0; i < LX_MAX_PROCS; i++) {
		struct lx_proc *q = &lx_procs[i];
		if (q->state != LX_PROC_FREE)
			continue;
		if (clear)
			memset(q, 0, sizeof(*q));
		q->idx = q->mm_idx = i;
		do
			q->pid = next_pid++ > 4000000 ? (pids_wrapped = true, next_pid = 101)
			                              : next_pid - 1;
		while (pids_wrapped && lx_proc_by_pid(q->pid)); /* before: every pid is new */
		q->tgid = q->pid;
		q->start_ns = lx_plat_nanotime();
		q->state = LX_PROC_LIVE;
		nprocs++;
		return q;
	}
	return NULL;
}

struct lx_proc *lx_proc_new(void)
{
	return proc_new(true);
}

/* ---- open file descriptions and pipes ---- */

static struct lx_ofd ofds[LX_MAX_OFDS];
static struct lx_ofd console = {.refs = 1, .kind = LX_FD_CONSOLE, .flags = 2 /* O_RDWR */};

struct lx_ofd *lx_console_ofd(void)
{
	return &console;
}

struct lx_ofd *lx_ofd_new(uint8_t kind, uint32_t flags)
{
	for (uint32_t i = 0; i < LX_MAX_OFDS; i++) {
		if (ofds[i].refs)
			continue;
		ofds[i] = (struct lx_ofd){.refs = 1, .kind = kind, .flags = flags};
		return &ofds[i];
	}
	return NULL;
}

void lx_ofd_put(struct lx_ofd *o)
{
	if (!o || --o->refs || o == &console)
		return;
	if (o->file && (o->kind == LX_FD_FILE || o->kind == LX_FD_DIR))
		lx_fs_release(o->file);
	if (o->kind == LX_FD_PROC || o->kind == LX_FD_PROCDIR)
		lx_procfs_put(o->file);
	if (o->kind == LX_FD_EPOLL)
		lx_epoll_free(o);
	if (o->kind == LX_FD_SOCKET)
		lx_sock_close(o);
	struct lx_pipe *pp = o->pipe;
	if (pp) {
		if (o->kind == LX_FD_PIPE_R)
			pp->readers--;
		else
			pp->writers--;
		if (!pp->readers && !pp->writers)
			pp->used = false;
		lx_wake(pp);
	}
}

void lx_fd_install(struct lx_proc *p, uint32_t fd, struct lx_ofd *o, bool cloexec)
{
	struct lx_fd *fdt = lx_grp(p)->fd;
	struct lx_ofd *old = fdt[fd].o;

	o->refs++;
	fdt[fd] = (struct lx_fd){o, cloexec};
	lx_ofd_put(old);
}

static int lowest_free_fd(struct lx_proc *p)
{
	for (int fd = 0; fd < LX_MAX_FDS; fd++)
		if (!lx_grp(p)->fd[fd].o)
			return fd;
	return -1;
}

static int64_t do_pipe2(struct lx_proc *p, uint64_t ufds, uint64_t flags)
{
	struct lx_pipe *pp = NULL;
	int32_t fds[2];

	if (flags & ~(uint64_t)(O_CLOEXEC | O_NONBLOCK | O_DIRECT))
		return -LX_EINVAL;
	if (lx_check(p, ufds, sizeof(fds), LX_PROT_WRITE))
		return -LX_EFAULT;
	for (uint32_t i = 0; !pp && i < LX_MAX_PIPES; i++)
		if (!pipes[i].used)
			pp = &pipes[i];
	if (!pp)
		return -23; /* ENFILE */
	struct lx_ofd *r = lx_ofd_new(LX_FD_PIPE_R, (uint32_t)(flags & O_NONBLOCK));
	struct lx_ofd *w = r ? lx_ofd_new(LX_FD_PIPE_W, 1u | (uint32_t)(flags & O_NONBLOCK)) : NULL;
	if (!w) {
		if (r)
			r->refs = 0;
		return -23;
	}
	struct lx_fd *fdt = lx_grp(p)->fd;
	fds[0] = lowest_free_fd(p);
	if (fds[0] >= 0)
		fdt[fds[0]].o = r; /* held while the second one is found */
	fds[1] = fds[0] >= 0 ? lowest_free_fd(p) : -1;
	if (fds[1] < 0) {
		if (fds[0] >= 0)
			fdt[fds[0]].o = NULL;
		r->refs = w->refs = 0;
		return -LX_EMFILE;
	}
	pp->head = pp->len = 0;
	pp->readers = pp->writers = 1;
	pp->used = true;
	r->pipe = w->pipe = pp;
	fdt[fds[0]] = (struct lx_fd){r, (flags & O_CLOEXEC) != 0};
	fdt[fds[1]] = (struct lx_fd){w, (flags & O_CLOEXEC) != 0};
	lx_copy_out(p, ufds, fds, sizeof(fds)); /* checked above */
	return 0;
}

int64_t lx_pipe_read(struct lx_proc *p, struct lx_ofd *o, uint64_t buf, uint64_t len)
{
	struct lx_pipe *pp = o->pipe;

	if (!len)
		return 0;
	if (!pp->len) {
		if (!pp->writers)
			return 0; /* end of file */
		if (o->flags & O_NONBLOCK)
			return -LX_EAGAIN;
		pp->sleepers |= 1u << p->idx;
		p->chan = pp;
		return LX_RET_BLOCK;
	}
	uint64_t n = len < pp->len ? len : pp->len;
	if (lx_check(p, buf, n, LX_PROT_WRITE))
		return -LX_EFAULT;
	uint32_t first = LX_PIPE_SIZE - pp->head < n ? LX_PIPE_SIZE - pp->head : (uint32_t)n;
	lx_copy_out(p, buf, pp->buf + pp->head, first);
	lx_copy_out(p, buf + first, pp->buf, n - first);
	pp->head = (uint32_t)((pp->head + n) % LX_PIPE_SIZE);
	pp->len -= (uint32_t)n;
	lx_wake(pp);
	return (int64_t)n;
}

/*
 * A write to a pipe. Up to LX_PIPE_BUF bytes go in at once or wait; a
 * longer write takes what fits and returns that count (Linux would block
 * until all of it is in; callers loop on short writes either way).
 */
int64_t lx_pipe_write(struct lx_proc *p, struct lx_ofd *o, uint64_t buf, uint64_t len)
{
	struct lx_pipe *pp = o->pipe;

	if (!pp->readers) {
		lx_signal_send(p, 13, p->pid); /* SIGPIPE: by default it ends p */
		return -LX_EPIPE;
	}
	if (!len)
		return 0;
	uint32_t room = LX_PIPE_SIZE - pp->len;
	if (len <= LX_PIPE_BUF ? room < len : !room) {
		if (o->flags & O_NONBLOCK)
			return -LX_EAGAIN;
		pp->sleepers |= 1u << p->idx;
		p->chan = pp;
		return LX_RET_BLOCK;
	}
	uint64_t n = len < room ? len : room;
	if (lx_check(p, buf, n, LX_PROT_READ))
		return -LX_EFAULT;
	uint32_t tail = (pp->head + pp->len) % LX_PIPE_SIZE;
	uint32_t first = LX_PIPE_SIZE - tail < n ? LX_PIPE_SIZE - tail : (uint32_t)n;
	lx_copy_in(p, pp->buf + tail, buf, first);
	lx_copy_in(p, pp->buf, buf + first, n - first);
	pp->len += (uint32_t)n;
	lx_wake(pp);
	return (int64_t)n;
}

/* lx_wake(pp) on the fast path: only its stamp moves when nobody may wait on it or on poll. */
static inline void pipe_changed(struct lx_pipe *pp)
{
	if (pp->sleepers || poll_sleepers)
		lx_wake(pp);
	else
		pp->stamp = ++lx_change_seq;
}

int64_t lx_pipe_fast(struct lx_proc *p, uint64_t nr, uint64_t fd, uint64_t buf, uint64_t len)
{
	struct lx_ofd *o = fd < LX_MAX_FDS ? lx_grp(p)->fd[fd].o : NULL;

	if (!o || !len)
		return LX_RET_SLOW;
	struct lx_pipe *pp = o->pipe;
	if (nr == 0) { /* read: as do_read and lx_pipe_read */
		if (o->kind != LX_FD_PIPE_R || (o->flags & O_ACCMODE) == 1)
			return LX_RET_SLOW;
		if (!pp->len) {
			if (!pp->writers || (o->flags & O_NONBLOCK))
				return !pp->writers ? 0 : -LX_EAGAIN;
			pp->sleepers |= 1u << p->idx;
			p->chan = pp;
			return LX_RET_BLOCK;
		}
		uint32_t n = len < pp->len ? (uint32_t)len : pp->len;
		uint8_t *u = lx_plat_user(buf, n, LX_PROT_WRITE);
		if (!u)
			return LX_RET_SLOW; /* to be paged in, or EFAULT */
		uint32_t first = LX_PIPE_SIZE - pp->head < n ? LX_PIPE_SIZE - pp->head : n;
		memcpy(u, pp->buf + pp->head, first);
		if (n > first) /* the ring wrapped */
			memcpy(u + first, pp->buf, n - first);
		pp->head = (pp->head + n) % LX_PIPE_SIZE;
		pp->len -= n;
		pipe_changed(pp);
		return n;
	}
	/* write: as do_write and lx_pipe_write when it fits at once (atomic: at most LX_PIPE_BUF)
	 */
	if (o->kind != LX_FD_PIPE_W || (o->flags & O_ACCMODE) == 0 || !pp->readers ||
	    len > LX_PIPE_BUF)
		return LX_RET_SLOW; /* SIGPIPE, or a write that may be cut */
	if (len > LX_PIPE_SIZE - pp->len) {
		if (o->flags & O_NONBLOCK)
			return -LX_EAGAIN;
		pp->sleepers |= 1u << p->idx;
		p->chan = pp;
		return LX_RET_BLOCK;
	}
	const uint8_t *u = lx_plat_user(buf, len, LX_PROT_READ);
	if (!u)
		return LX_RET_SLOW;
	uint32_t tail = (pp->head + pp->len) % LX_PIPE_SIZE, n = (uint32_t)len;
	uint32_t first = LX_PIPE_SIZE - tail < n ? LX_PIPE_SIZE - tail : n;
	memcpy(pp->buf + tail, u, first);
	if (n > first) /* the ring wraps */
		memcpy(pp->buf, u + first, n - first);
	pp->len += n;
	pipe_changed(pp);
	return n;
}

/* ---- exit and wait ---- */

static void reap(struct lx_proc *q)
{
	q->state = LX_PROC_FREE;
	nprocs--;
}

void lx_proc_reap(struct lx_proc *q)
{
	reap(q);
}

/* The vfork parent par of p goes on (p has exec'd or ended). */
static void vfork_release_by(struct lx_proc *p, struct lx_proc *par)
{
	if (par && par->vfork_child == p->pid) {
		par->vfork_child = 0;
		lx_wake(&par->vfork_child);
	}
}

static void vfork_release(struct lx_proc *p)
{
	vfork_release_by(p, lx_proc_by_pid(p->ppid));
}

void lx_proc_exit(struct lx_proc *p, int st)
{
	if (p->state != LX_PROC_LIVE)
		return;
	p = lx_grp(p); /* a thread's exit_group or fatal signal: the whole process */
	struct lx_links links;
	lx_job_links(p, &links); /* groups this exit may orphan (jobctl.c) */
	if (p->nthreads)
		lx_thread_kill_others(p, p);
	for (uint32_t fd = 0; fd < LX_MAX_FDS; fd++)
		if (p->fd[fd].o) { /* most are closed: no call for them */
			lx_ofd_put(p->fd[fd].o);
			p->fd[fd].o = NULL;
		}
	lx_plat_release(p);
	p->chan = NULL;
	p->state = LX_PROC_ZOMBIE;
	p->wstatus = st;
	struct lx_proc *par = lx_proc_by_pid(p->ppid); /* the orphans below are not it */
	vfork_release_by(p, par);
	for (uint32_t i = 0; i < LX_MAX_PROCS; i++) { /* orphans go to pid 1, the server */
		struct lx_proc *q = &lx_procs[i];
		if (q->state == LX_PROC_FREE || q->ppid != p->pid || q == p || q->grp)
			continue;
		q->ppid = 1;
		if (q->state == LX_PROC_ZOMBIE)
			reap(q);
	}
	if (links.n) {
		lx_job_orphans(&links); /* SIGHUP and SIGCONT to those with a stopped member */
		par = lx_proc_by_pid(p->ppid); /* again: those signals may have ended it */
	}
	if (p->ppid == 1 || !par) {
		if (p->pid == first_pid)
			last_status = st;
		reap(p);
		return;
	}
	lx_wake(par); /* a wait4 in progress gets the child before the signal */
	par->sigchld_pid = p->pid;
	par->sigchld_code = st & 0x7f ? (st & 0x80 ? 3 : 2) : 1;
	par->sigchld_status = st & 0x7f ? st & 0x7f : (st >> 8) & 0xff;
	lx_signal_send(par, 17, p->pid);
}

/* Which children a wait takes: any (WAIT_ANY), the one with pid id, or those of group id. */
enum { WAIT_ANY, WAIT_PID, WAIT_PGID };

static bool wait_match(const struct lx_proc *p, const struct lx_proc *q, int how, uint64_t id)
{
	if (q->state == LX_PROC_FREE || q->ppid != (p->grp ? p->grp->pid : p->pid) || q->grp)
		return false;
	return how == WAIT_ANY || (how == WAIT_PID && q->pid == id) ||
	       (how == WAIT_PGID && q->pgid == id);
}

/* What a wait takes from child q with these options: EV_EXIT (it ended), LX_REPORT_STOP or
 * LX_REPORT_CONT (stopped or continued since its parent last looked; jobctl.c), or 0. */
#define EV_EXIT 3
static uint32_t wait_event(const struct lx_proc *q, uint64_t options)
{
	if (q->state == LX_PROC_ZOMBIE)
		return options & WEXITED ? EV_EXIT : 0;
	if ((options & WUNTRACED) && q->stopped && q->report == LX_REPORT_STOP)
		return LX_REPORT_STOP;
	if ((options & WCONTINUED) && !q->stopped && q->report == LX_REPORT_CONT)
		return LX_REPORT_CONT;
	return 0;
}

/*
 * wait4 (info 0) and waitid (info: the siginfo to fill): a child that has
 * ended, or (WUNTRACED, WCONTINUED) stopped or continued.
 */
static int64_t do_wait(struct lx_proc *p, int how, uint64_t id, uint64_t ustatus, uint64_t options,
                       uint64_t rusage, uint64_t info)
{
	struct lx_proc *found = NULL;
	uint32_t ev = 0;
	bool any = false;

	for (uint32_t i = 0; i < LX_MAX_PROCS; i++) {
		struct lx_proc *q = &lx_procs[i];
		if (!wait_match(p, q, how, id))
			continue;
		any = true;
		if ((ev = wait_event(q, options))) {
			found = q;
			break;
		}
	}
	if (!any)
		return -LX_ECHILD;
	if (!found) {
		if (options & WNOHANG) {
			uint8_t zero[128] = {0};
			return info && lx_copy_out(p, info, zero, sizeof(zero)) ? -LX_EFAULT : 0;
		}
		p->chan = lx_grp(p); /* lx_proc_exit wakes the parent (every thread of it) */
		return LX_RET_BLOCK;
	}
	/* The status as wait4 shows it; then si_code and si_status as waitid does. */
	int st = ev == LX_REPORT_STOP   ? (int)found->stopped << 8 | 0x7f
	         : ev == LX_REPORT_CONT ? 0xffff
	                                : found->wstatus;
	if (ustatus && lx_copy_out(p, ustatus, &st, 4))
		return -LX_EFAULT;
	uint64_t user = 0, sys = 0;
	if (ev == EV_EXIT)
		lx_cpu_of_child(found, &user, &sys);
	if (rusage) { /* ru_utime, ru_stime: its CPU times and its children's (cputime.c) */
		uint64_t ru[18] = {user / 1000000000ull, user % 1000000000ull / 1000,
		                   sys / 1000000000ull, sys % 1000000000ull / 1000};
		if (lx_copy_out(p, rusage, ru, sizeof(ru)))
			return -LX_EFAULT;
	}
	if (info) {
		int32_t si[32] = {0};
		si[0] = 17;                        /* SIGCHLD */
		si[2] = ev == LX_REPORT_STOP   ? 5 /* CLD_STOPPED */
		        : ev == LX_REPORT_CONT ? 6 /* CLD_CONTINUED */
		        : st & 0x7f            ? (st & 0x80 ? 3 : 2)
		                               : 1;     /* _DUMPED, _KILLED, _EXITED */
		si[4] = (int32_t)found->pid; /* si_pid */
		si[6] = ev == LX_REPORT_STOP   ? (int32_t)found->stopped /* si_status */
		        : ev == LX_REPORT_CONT ? 18                      /* SIGCONT */
		        : st & 0x7f            ? st & 0x7f
		                               : (st >> 8) & 0xff;
		if (lx_copy_out(p, info, si, sizeof(si)))
			return -LX_EFAULT;
	}
	uint32_t got = found->pid;
	if (!(options & WNOWAIT)) {
		if (ev == EV_EXIT) {
			lx_cpu_reaped(p, found); /* RUSAGE_CHILDREN, times' cutime and cstime */
			reap(found);
		} else
			found->report = 0; /* reported once */
	}
	return info ? 0 : got;
}

static int64_t do_wait4(struct lx_proc *p, const uint64_t a[6])
{
	int64_t pid = (int32_t)a[0];

	if (a[2] & ~(uint64_t)(WNOHANG | WUNTRACED | WCONTINUED | WALLFLAGS))
		return -LX_EINVAL;
	if (pid == INT32_MIN)
		return -LX_ESRCH;
	int how = pid == -1 ? WAIT_ANY : pid > 0 ? WAIT_PID : WAIT_PGID;
	uint64_t id = pid > 0 ? (uint64_t)pid : pid == 0 ? p->pgid : (uint64_t)-pid;
	return do_wait(p, how, id, a[1], a[2] | WEXITED, a[3], 0);
}

static int64_t do_waitid(struct lx_proc *p, const uint64_t a[6])
{
	uint64_t idtype = a[0], id = (uint32_t)a[1], options = a[3];

	if (idtype > 2 || !(options & (WEXITED | WUNTRACED | WCONTINUED)) ||
	    (options &
	     ~(uint64_t)(WNOHANG | WEXITED | WUNTRACED | WCONTINUED | WNOWAIT | WALLFLAGS)))
		return -LX_EINVAL;
	if (idtype == 1 && !id)
		return -LX_EINVAL;
	int how = idtype == 0 ? WAIT_ANY : idtype == 1 ? WAIT_PID : WAIT_PGID;
	if (idtype == 2 && !id)
		id = p->pgid;
	if (!a[2]) { /* no siginfo: the same wait, with nowhere to put what it found */
		int64_t r = do_wait(p, how, id, 0, options, a[4], 0);
		return r > 0 ? 0 : r;
	}
	return do_wait(p, how, id, 0, options, a[4], a[2]);
}

/* ---- fork ---- */

static int64_t fork_step1(struct lx_proc *p, uint64_t flags, const uint64_t a[6])
{
	const uint64_t ok = CLONE_VM | CLONE_VFORK | CLONE_SETTLS | CLONE_PARENT_SETTID |
	                    CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID | 0xff;
	const uint64_t thread = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD;

	if ((flags & CLONE_THREAD) && !(flags & CLONE_SIGHAND))
		return -LX_EINVAL; /* as Linux: a thread shares the signal actions */
	if ((flags & CLONE_SIGHAND) && !(flags & CLONE_VM))
		return -LX_EINVAL;
	if (flags & CLONE_THREAD) {
		/* A thread as musl and glibc make them: everything shared (CLONE_SYSVSEM too). */
		if ((flags & thread) != thread ||
		    (flags & ~(ok | thread | CLONE_SYSVSEM | CLONE_DETACHED)) || (flags & 0xff) ||
		    (flags & CLONE_VFORK) || !a[1])
			return -LX_EINVAL;
	} else if ((flags & ~ok) || ((flags & CLONE_VM) && !(flags & CLONE_VFORK))) {
		return -LX_EINVAL; /* CLONE_VM, _FILES, _FS without a thread: not yet */
	}
	p->fork_flags = flags;
	p->fork_stack = a[1];
	p->fork_ptid = a[2];
	p->fork_ctid = a[3];
	p->fork_tls = a[4];
	p->fork_pending = 1;
	/* Answer with the return address; the thread goes to the trampoline with its registers. */
	if (lx_plat_set_regs(p, tramp(LX_TRAMP_FORK), p->call.rsp, p->call.a[0], p->call.a[1]))
		return -LX_EFAULT;
	p->redirected = 1;
	return (int64_t)p->call.rip;
}

static int64_t fork_step2(struct lx_proc *p, uint64_t frame)
{
	if (p->vfork_ret && !p->vfork_child) { /* a vfork parent, let go by its child */
		int64_t r = p->vfork_ret;
		p->vfork_ret = 0;
		return r;
	}
	p->fork_pending = 0;
	if (p->fork_flags & CLONE_THREAD)
		return lx_thread_clone(p, frame);
	struct lx_proc *c = proc_new(false); /* all of it copied from p's below */
	if (!c)
		return -LX_EAGAIN;
	uint32_t idx = c->idx, pid = c->pid;
	uint64_t start = c->start_ns;
	/* A thread forks its process, with its own state (below); of the region table only the
	 * regions in use (nreg bounds every use). */
	const struct lx_proc *l = lx_grp(p);
	size_t at = offsetof(struct lx_proc, reg), past = at + sizeof(l->reg);
	memcpy(c, l, at);
	memcpy(c->reg, l->reg, l->nreg * sizeof(l->reg[0]));
	memcpy((char *)c + past, (const char *)l + past, sizeof(*c) - past);
	c->sigmask = p->sigmask, c->call = p->call, c->fork_flags = p->fork_flags;
	c->ss_sp = p->ss_sp, c->ss_size = p->ss_size, c->ss_flags = p->ss_flags; /* sigaltstack */
	c->idx = c->mm_idx = idx, c->pid = c->tgid = pid, c->ppid = lx_grp(p)->pid,
	c->start_ns = start;
	c->grp = NULL, c->nthreads = 0, c->thread_gone = 0;
	c->wake_at = c->alarm_at = c->alarm_every = 0, c->futex_woken = 0;
	c->chan = NULL, c->vfork_child = 0, c->vfork_ret = 0;
	c->sigpending = 0, c->in_sigsuspend = 0, c->stopped = 0, c->report = 0;
	c->cpu_gone_ns = c->cpu_children_ns = 0;
	c->sys_tsc = c->sys_proc_tsc = c->sys_children_tsc = 0; /* and no ITIMER_VIRTUAL/PROF */
	memset(c->itv_at, 0, sizeof(c->itv_at)), memset(c->itv_every, 0, sizeof(c->itv_every));
	c->tid_address = 0;
	for (uint32_t fd = 0; fd < LX_MAX_FDS; fd++)
		if (c->fd[fd].o)
			c->fd[fd].o->refs++;
	int err = lx_plat_fork(p, c, frame);
	uint64_t flags = p->fork_flags;
	if (!err && (flags & CLONE_SETTLS))
		err = lx_plat_set_fs_of(c, p->fork_tls);
	if (!err)
		err = lx_plat_set_regs(c, tramp(LX_TRAMP_RESUME), frame, frame, 0);
	lx_plat_switch(c);
	if (!err && p->fork_stack) /* the child leaves the trampoline on the stack it was given */
		err = lx_copy_out(c, frame + 616, &p->fork_stack, 8);
	if (!err && (flags & CLONE_CHILD_SETTID))
		err = lx_copy_out(c, p->fork_ctid, &pid, 4);
	if (flags & CLONE_CHILD_CLEARTID)
		c->tid_address = p->fork_ctid;
	lx_plat_switch(p);
	if (!err && (flags & CLONE_PARENT_SETTID))
		err = lx_copy_out(p, p->fork_ptid, &pid, 4);
	if (err) {
		c->ppid = 1; /* gone without a trace: nobody waits for it */
		lx_proc_exit(c, 9);
		return err == -LX_EFAULT ? -LX_EFAULT : -LX_ENOMEM;
	}
	lx_plat_resume(c);
	if (flags & CLONE_VFORK) { /* the parent waits until the child execs or ends */
		p->vfork_child = pid;
		p->vfork_ret = pid;
		p->chan = &p->vfork_child;
		return LX_RET_BLOCK;
	}
	return pid;
}

/* ---- execve ---- */

#define EXEC_STRINGS 65536
#define EXEC_ARGS    256

static char exec_buf[EXEC_STRINGS];
static const char *exec_argv[EXEC_ARGS + 4], *exec_envp[EXEC_ARGS + 1];

/* The NULL-terminated string array at uv into out, its strings into exec_buf from *used. */
static int copy_strv(struct lx_proc *p, uint64_t uv, const char **out, uint32_t max, uint32_t *used)
{
	uint32_t n = 0;

	for (; uv; n++) {
		uint64_t s;
		if (lx_copy_in(p, &s, uv + n * 8, 8))
			return -LX_EFAULT;
		if (!s)
			break;
		if (n == max)
			return -LX_E2BIG;
		long len = lx_copy_str(p, exec_buf + *used, s, EXEC_STRINGS - *used);
		if (len < 0)
			return len == -LX_ENAMETOOLONG ? -LX_E2BIG : (int)len;
		out[n] = exec_buf + *used;
		*used += (uint32_t)len + 1;
	}
	out[n] = NULL;
	return 0;
}

/*
 * Replace p's image by the file at path with argv and envp (server
 * memory). Errors before the point of no return come back as -errno with
 * p as it was; after it (no memory), p ends with SIGKILL and LX_RET_GONE.
 */
static int64_t exec_image(struct lx_proc *p, const char *path, const char *const *argv,
                          const char *const *envp, bool first, int depth)
{
	char exe[256];

	if (path[0] && path[0] != '/') { /* relative: to the working directory */
		if (lx_cwd_join(p, path, exe, sizeof(exe)))
			return -LX_ENAMETOOLONG;
	} else {
		strlcpy(exe, !strcmp(path, "/proc/self/exe") && p->exe[0] ? p->exe : path,
		        sizeof(exe));
	}
	const struct lx_file *f = lx_fs_lookup(exe);
	if (!f)
		return -LX_ENOENT;
	if ((f->mode & 0170000u) != 0100000u || !(f->mode & 0111))
		return -LX_EACCES;
	if (f->own)
		return -26; /* ETXTBSY: a written file's bytes may move; not run yet */
	if (f->size > 2 && f->data[0] == '#' && f->data[1] == '!') {
		char line[128];
		const char *sargv[EXEC_ARGS + 4];
		uint32_t n = 0, k = 0;
		if (depth >= 4)
			return -40; /* ELOOP */
		while (k + 2 < f->size && k < sizeof(line) - 1 && f->data[k + 2] != '\n')
			line[k] = (char)f->data[k + 2], k++;
		line[k] = 0;
		char *s = line;
		while (*s == ' ' || *s == '\t')
			s++;
		char *interp = s;
		while (*s && *s != ' ' && *s != '\t')
			s++;
		char *arg = NULL;
		if (*s) {
			*s++ = 0;
			while (*s == ' ' || *s == '\t')
				s++;
			arg = *s ? s : NULL;
			for (size_t e = strlen(s);
			     arg && e && (s[e - 1] == ' ' || s[e - 1] == '\t');)
				s[--e] = 0;
		}
		if (!*interp)
			return -LX_ENOEXEC;
		sargv[n++] = interp;
		if (arg)
			sargv[n++] = arg;
		sargv[n++] = path;
		for (uint32_t i = 1; argv[0] && argv[i]; i++) {
			if (n >= EXEC_ARGS)
				return -LX_E2BIG;
			sargv[n++] = argv[i];
		}
		sargv[n] = NULL;
		return exec_image(p, interp, sargv, envp, first, depth + 1);
	}
	int err = lx_elf_probe(f->data, f->size);
	if (err)
		return err;
	if (p->grp)
		return -LX_EAGAIN; /* execve from a thread other than the first: not yet */
	/* The other threads go first, as on Linux. */
	if (p->nthreads)
		lx_thread_kill_others(p, p);
	/* The point of no return: the old image goes. */
	lx_plat_unmap_all();
	p->nreg = 0;
	p->brk_start = p->brk = 0;
	struct lx_elf_info info;
	uint64_t sp;
	err = lx_elf_load(p, f->data, f->size, &info);
	if (!err)
		err = lx_build_stack(p, &info, argv, envp, &sp);
	if (!err)
		err = lx_map(p, LX_TRAMP, LX_TRAMP + LX_PAGE, LX_PROT_READ | LX_PROT_EXEC,
		             lx_tramp_start, (uint64_t)(lx_tramp_end - lx_tramp_start));
	if (!err)
		err = first ? lx_plat_set_regs(p, info.entry, sp, 0, 0)
		            : lx_plat_set_regs(p, tramp(LX_TRAMP_EXEC), sp, info.entry, 0);
	if (!err)
		err = lx_plat_set_fs(0);
	if (err) {
		rt_printf("linux: pid %u: execve of %s failed after the old image went (%d): "
		          "SIGKILL\n",
		          p->pid, exe, err);
		lx_proc_exit(p, 9);
		return LX_RET_GONE;
	}
	strlcpy(p->exe, exe, sizeof(p->exe));
	const char *base = path; /* the name Linux gives it: the file's, as called */
	for (const char *c = path; *c; c++)
		base = *c == '/' ? c + 1 : base;
	strlcpy(p->comm, base, sizeof(p->comm));
	p->cmdline_len = 0;
	for (uint32_t i = 0; argv[i] && p->cmdline_len < sizeof(p->cmdline); i++) {
		size_t room = sizeof(p->cmdline) - p->cmdline_len;
		p->cmdline_len += (uint32_t)strlcpy(p->cmdline + p->cmdline_len, argv[i], room) + 1;
	}
	if (p->cmdline_len > sizeof(p->cmdline))
		p->cmdline_len = sizeof(p->cmdline);
	p->redirected = 1;
	for (int s = 1; s <= 64; s++) /* caught signals go back to their default action */
		if (p->sigactions[s][0] > 1)
			memset(p->sigactions[s], 0, sizeof(p->sigactions[s]));
	for (uint32_t fd = 0; fd < LX_MAX_FDS; fd++) {
		if (p->fd[fd].o && p->fd[fd].cloexec) {
			lx_ofd_put(p->fd[fd].o);
			p->fd[fd].o = NULL;
		}
	}
	p->tid_address = 0;
	p->robust_list = 0;
	p->in_sigsuspend = 0;
	p->ss_sp = p->ss_size = 0, p->ss_flags = 0; /* no alternate signal stack */
	vfork_release(p);
	return 0;
}

static int64_t do_execve(struct lx_proc *p, const uint64_t a[6])
{
	static char path[256];
	uint32_t used = 0;
	long n = lx_copy_str(p, path, a[0], sizeof(path));

	if (n < 0)
		return n;
	int err = copy_strv(p, a[1], exec_argv, EXEC_ARGS, &used);
	if (!err)
		err = copy_strv(p, a[2], exec_envp, EXEC_ARGS, &used);
	if (err)
		return err;
	if (!exec_argv[0]) { /* Linux gives an empty argv one empty string */
		exec_argv[0] = "";
		exec_argv[1] = NULL;
	}
	return exec_image(p, path, exec_argv, exec_envp, false, 0);
}

struct lx_proc *lx_proc_first(const char *path, const char *const *argv, int *err)
{
	static const char *const envp[] = {"PATH=/bin", "HOME=/", "TERM=dumb", NULL};
	struct lx_proc *p = proc_new(true);

	if (!p) {
		*err = -LX_EAGAIN;
		return NULL;
	}
	p->ppid = p->pgid = p->sid = 1; /* in the server's group and session: setsid works */
	first_pid = p->pid;
	last_status = 0;
	lx_plat_switch(p);
	*err = lx_plat_spawn(p);
	for (int fd = 0; fd < 3; fd++)
		lx_fd_install(p, (uint32_t)fd, lx_console_ofd(), false);
	int64_t r = *err ? *err : exec_image(p, path, argv, envp, true, 0);
	if (r) {
		*err = r == LX_RET_GONE ? -LX_ENOMEM : (int)r;
		if (r != LX_RET_GONE)
			lx_proc_exit(p, 0);
		return NULL;
	}
	lx_plat_resume(p);
	return p;
}

/* ---- groups and sessions ---- */

static int64_t do_setpgid(struct lx_proc *p, uint64_t pid, int64_t pgid)
{
	struct lx_proc *t = pid ? lx_proc_by_pid((uint32_t)pid) : p;

	if (pgid < 0)
		return -LX_EINVAL;
	if (!t || pid > 0xffffffffu || (t != p && t->ppid != p->pid) || t->state != LX_PROC_LIVE)
		return -LX_ESRCH;
	if (t->sid != p->sid || t->pid == t->sid)
		return -LX_EPERM; /* another session, or a session leader */
	if (!pgid)
		pgid = t->pid;
	if ((uint64_t)pgid != t->pid) { /* joining a group: it must exist in the session */
		bool ok = false;
		for (uint32_t i = 0; !ok && i < LX_MAX_PROCS; i++)
			ok = lx_procs[i].state == LX_PROC_LIVE &&
			     lx_procs[i].pgid == (uint64_t)pgid && lx_procs[i].sid == p->sid;
		if (!ok)
			return -LX_EPERM;
	}
	t->pgid = (uint32_t)pgid;
	return 0;
}

static int64_t do_setsid(struct lx_proc *p)
{
	for (uint32_t i = 0; i < LX_MAX_PROCS; i++)
		if (lx_procs[i].state != LX_PROC_FREE && lx_procs[i].pgid == p->pid)
			return -LX_EPERM; /* already a group leader */
	p->sid = p->pgid = p->pid;
	return p->pid;
}

int64_t lx_proc_syscall(struct lx_proc *p, uint64_t nr, const uint64_t a[6], bool *handled)
{
	*handled = true;
	switch (nr) {
	case NR_fork:
	case NR_vfork: {
		static const uint64_t none[6] = {0}; /* no stack, no tid pointers, no TLS */
		return fork_step1(p, nr == NR_fork ? 17 : CLONE_VM | CLONE_VFORK | 17, none);
	}
	case NR_clone:
		return fork_step1(p, a[0], a);
	case LX_NR_FORK2:
		if (p->fork_pending || p->vfork_ret)
			return fork_step2(p, a[0]);
		*handled = false;
		return -LX_ENOSYS;
	case NR_execve:
		return do_execve(p, a);
	case NR_exit:
		if (p->grp || p->nthreads) /* one thread of several */
			return lx_thread_exit(p, (int)(a[0] & 0xff) << 8);
		lx_proc_exit(p, (int)(a[0] & 0xff) << 8);
		return LX_RET_GONE;
	case NR_exit_group:
		lx_proc_exit(p, (int)(a[0] & 0xff) << 8);
		return LX_RET_GONE;
	case NR_wait4:
		return do_wait4(p, a);
	case NR_waitid:
		return do_waitid(p, a);
	case NR_getppid:
		return lx_grp(p)->ppid;
	case NR_getpgrp:
		return lx_grp(p)->pgid;
	case NR_getpgid:
	case NR_getsid: {
		struct lx_proc *t = a[0] ? lx_proc_by_pid((uint32_t)a[0]) : p;
		if (!t || a[0] > 0xffffffffu || t->state == LX_PROC_FREE)
			return -LX_ESRCH;
		return nr == NR_getpgid ? t->pgid : t->sid;
	}
	case NR_setpgid:
		return do_setpgid(p, a[0], (int64_t)(int32_t)a[1]);
	case NR_setsid:
		return do_setsid(p);
	case NR_pipe:
		return do_pipe2(p, a[0], 0);
	case NR_pipe2:
		return do_pipe2(p, a[0], a[1]);
	default:
		*handled = false;
		return -LX_ENOSYS;
	}
}
