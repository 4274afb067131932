/*
 * The Linux personality server (user/linux): runs static x86-64 Linux
 * binaries from the boot module in address spaces it owns. Each Linux
 * thread is marked with thread.set_linux, so its `syscall` instructions
 * and its faults arrive here as calls on one endpoint (docs/linux.md).
 *
 * Linux address space of a process (all below LX_TOP, mirrored in the
 * server's own space at LX_WINDOW + address for copy-in and copy-out, see
 * lx_plat_page):
 *
 *   LX_TOP   0x200000000000  +------------------------+
 *                            | guard page             |
 *                            | stack (LX_STACK_SIZE)  |  grows down, demand-paged
 *   LX_MMAP_TOP              +------------------------+
 *                            | mmap areas, top down   |
 *                            :                        :
 *                            | brk heap, grows up     |
 *                            | ELF segments           |  ET_EXEC where linked,
 *   0x400000 (typical)       +------------------------+  ET_DYN at LX_PIE_BASE
 */
#ifndef USER_LINUX_LX_H
#define USER_LINUX_LX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LX_PAGE        4096ull
#define LX_TOP         0x200000000000ull
#define LX_WINDOW      0x400000000000ull /* server VA of Linux VA 0 */
#define LX_STACK_SIZE  (8ull << 20)
#define LX_STACK_TOP   (LX_TOP - LX_PAGE)
#define LX_MMAP_TOP    (LX_STACK_TOP - LX_STACK_SIZE - LX_PAGE)
#define LX_PIE_BASE    0x155555554000ull
#define LX_MAX_REGIONS 128
#define LX_MAX_FDS     64
#define LX_MAX_PAGES   8192 /* pages a process can have mapped, at most */
#define LX_MAX_PROCS   32   /* processes alive or zombie at once (fork: EAGAIN beyond) */
#define LX_MAX_OFDS    256  /* open file descriptions, shared by all processes */
#define LX_MAX_PIPES   16
#define LX_PIPE_SIZE   65536u
#define LX_PIPE_BUF    4096u /* writes up to this size are atomic */

/* Linux's TASK_SIZE: where its access_ok() ends (a range reaching past it is EFAULT). */
#define LX_TASK_SIZE           0x7ffffffff000ull
#define LX_ACCESS_BAD(va, len) ((va) > LX_TASK_SIZE || (len) > LX_TASK_SIZE - (va))

/* The trampoline page (user/linux/proc.c, lx_tramp_*): read-execute code the server maps in
 * every process, the page below the guard page under the stack (LX_MMAP_TOP stays unmapped:
 * the stack's mapping has a hole below it, as on Linux, where musl's pthread_getattr_np,
 * probing with mremap, finds the stack's end). */
#define LX_TRAMP (LX_MMAP_TOP - LX_PAGE)

/* Linux error numbers (asm-generic/errno-base.h) the personality returns. */
enum {
	LX_EPERM = 1,
	LX_ENOENT = 2,
	LX_ESRCH = 3,
	LX_EINTR = 4,
	LX_EIO = 5,
	LX_E2BIG = 7,
	LX_ENOEXEC = 8,
	LX_EBADF = 9,
	LX_ECHILD = 10,
	LX_EAGAIN = 11,
	LX_ENOMEM = 12,
	LX_EACCES = 13,
	LX_EFAULT = 14,
	LX_EEXIST = 17,
	LX_EXDEV = 18,
	LX_ENOTDIR = 20,
	LX_EISDIR = 21,
	LX_EINVAL = 22,
	LX_EMFILE = 24,
	LX_ENOTTY = 25,
	LX_ENOSPC = 28,
	LX_ESPIPE = 29,
	LX_EROFS = 30,
	LX_EPIPE = 32,
	LX_ERANGE = 34,
	LX_ENAMETOOLONG = 36,
	LX_ENOSYS = 38,
	LX_ENOTEMPTY = 39,
	LX_ETIMEDOUT = 110,
};

/* One mapping of a process: [start, end), page-aligned, with its backing. */
struct lx_region {
	uint64_t start, end;
	uint32_t prot;       /* LX_PROT_* */
	const uint8_t *file; /* file bytes shown from start (NULL: zero-filled) */
	uint64_t file_len;   /* bytes of file visible from start; the rest reads as zero */
	uint32_t shared;     /* MAP_SHARED | MAP_ANONYMOUS: a fork child shares its pages */
};
#define LX_PROT_READ  1u
#define LX_PROT_WRITE 2u
#define LX_PROT_EXEC  4u

/* A file of the in-memory file system (user/linux/fs.c). */
struct lx_file {
	const char *path; /* absolute, without the leading '/', "" for the root */
	const uint8_t *data;
	uint64_t size;
	uint32_t mode; /* S_IF* | permission bits; 0: a free entry */
	uint32_t ino;
	uint8_t *own;   /* written: the server's copy (data == own), else NULL */
	uint64_t cap;   /* bytes own holds */
	uint32_t opens; /* open file descriptions on it */
	bool unlinked;  /* gone from its directory; freed at the last close */
};

/* A pipe: a ring buffer, and how many open file descriptions read and write it. */
struct lx_pipe {
	uint8_t buf[LX_PIPE_SIZE];
	uint32_t head, len;
	uint32_t readers, writers;
	uint64_t stamp; /* lx_change_seq at its last change (epoll's edges and order) */
	bool used;
	/* Processes (bit: index in lx_procs) that may wait on it; lx_wake wakes those and clears
	 * it (the others' chan is not this pipe). */
	uint32_t sleepers;
};
/* Counts changes of pipes (lx_wake) and epoll's reports: an order of events. */
extern uint64_t lx_change_seq;

/* An open file description: what open/pipe made, shared by dup and fork. */
struct lx_ofd {
	uint32_t refs;  /* descriptors pointing here (0: free) */
	uint8_t kind;   /* LX_FD_* */
	uint32_t flags; /* open flags (O_ACCMODE, O_APPEND...) */
	const struct lx_file *file;
	struct lx_pipe *pipe;
	struct lx_epoll *ep;  /* LX_FD_EPOLL */
	struct lx_sock *sock; /* LX_FD_SOCKET */
	uint64_t pos;
};
enum {
	LX_FD_CONSOLE = 1,
	LX_FD_FILE = 2,
	LX_FD_DIR = 3,
	LX_FD_PIPE_R = 4,
	LX_FD_PIPE_W = 5,
	LX_FD_NULL = 6,     /* /dev/null */
	LX_FD_ZERO = 7,     /* /dev/zero */
	LX_FD_RANDOM = 8,   /* /dev/urandom */
	LX_FD_PROC = 9,     /* a /proc file: a snapshot (procfs.c) */
	LX_FD_PROCDIR = 10, /* a /proc directory */
	LX_FD_EPOLL = 11,   /* an epoll instance (epoll.c) */
	LX_FD_SOCKET = 12,  /* a socket: AF_INET (socket.c), AF_UNIX (unix.c) */
};

struct lx_fd {
	struct lx_ofd *o; /* NULL: not open */
	uint8_t cloexec;  /* FD_CLOEXEC */
};

enum { LX_PROC_FREE = 0, LX_PROC_LIVE = 1, LX_PROC_ZOMBIE = 2 };

/* A system call as it arrived (main.c fills it; blocking calls are made again from it). */
struct lx_call {
	uint64_t nr, a[6], rip, rsp;
};

struct lx_proc {
	uint32_t pid, ppid, pgid,
	    sid;       /* pid: the thread's id (gettid); the process's for a leader */
	uint32_t tgid; /* getpid: the thread group's leader's pid */
	/* A thread made by clone(CLONE_THREAD): the leader, whose slot holds what the group
	 * shares (memory, descriptors, signal actions, cwd...); NULL for a leader. */
	struct lx_proc *grp;
	uint32_t nthreads;    /* a leader: threads of the group other than itself */
	uint32_t thread_gone; /* a leader whose own thread has exited (the others go on) */
	uint32_t futex_woken; /* a FUTEX_WAKE took this thread's wait: the call returns 0 */
	uint64_t futex_key, futex_bits;
	uint64_t wake_at;               /* a timed wait ends at this lx_plat_nanotime (0: none) */
	uint64_t alarm_at, alarm_every; /* ITIMER_REAL: SIGALRM at alarm_at, then every ... ns */
	uint64_t start_ns;              /* when the process began (/proc, times) */
	uint64_t cpu_gone_ns; /* a leader: CPU time of its Hallows threads that have gone */
	uint64_t
	    cpu_children_ns; /* a leader: CPU time of the children it waited for (theirs too) */
	/* System time (cputime.c): TSC cycles the server spent on calls and faults of this
	 * thread; a leader: of its process (every thread, gone too), and of its waited children. */
	uint64_t sys_tsc, sys_proc_tsc, sys_children_tsc;
	/* A leader: ITIMER_VIRTUAL [0] and ITIMER_PROF [1] (timer.c): expiry in process CPU ns
	 * (0: off), interval, and the lx_plat_nanotime at which to look at the CPU time again. */
	uint64_t itv_at[2], itv_every[2], itv_look[2];
	uint32_t state;   /* LX_PROC_* */
	uint32_t idx;     /* index in lx_procs: the platform's per-process state */
	uint32_t mm_idx;  /* the index of the slot whose memory it uses (a thread: its leader's) */
	const void *chan; /* blocked until lx_wake(chan); NULL: not blocked */
	uint32_t vfork_child; /* vfork: blocked until this child execs or exits */
	int wstatus;          /* zombie: the wait status (exit code << 8, or the signal) */
	struct lx_call call;
	uint64_t fork_flags, fork_ctid, fork_ptid, fork_stack, fork_tls; /* between fork's steps */
	uint32_t fork_pending; /* step 1 done: LX_NR_FORK2 may come */
	uint32_t vfork_ret;    /* vfork: the child's pid, returned once it lets the parent go */
	char exe[256];         /* the file execve ran: /proc/self/exe */
	char comm[16];         /* prctl(PR_SET_NAME) */
	char cwd[256];         /* the working directory, as lx_file.path ("" for the root) */
	char cmdline[256];     /* argv as execve got it, NUL after each (/proc/<pid>/cmdline) */
	uint32_t cmdline_len;
	struct lx_region reg[LX_MAX_REGIONS];
	uint32_t nreg;
	uint64_t brk_start, brk; /* the heap is [brk_start, page_up(brk)) */
	uint64_t tid_address;
	uint64_t sigactions[65][4];               /* per signal: handler, flags, restorer, mask */
	uint64_t sigmask, sigpending, saved_mask; /* bit sig - 1 */
	uint32_t in_sigsuspend;                   /* saved_mask is the mask after it */
	uint32_t redirected;     /* this call sent the thread elsewhere (fork, execve, sigreturn):
	                            no signal is taken at its end */
	uint32_t sigsender;      /* si_pid of the last signal sent */
	uint64_t ss_sp, ss_size; /* this thread's sigaltstack (ss_size 0: none) */
	uint32_t ss_flags;       /* as sigaltstack set them (SS_AUTODISARM, SS_DISABLE...) */
	uint32_t stopped;        /* a leader: its process is stopped, by this signal (jobctl.c) */
	uint32_t report;         /* a leader: LX_REPORT_* for its parent's wait, not yet taken */
	uint32_t sigchld_pid, sigchld_code; /* SIGCHLD's siginfo: the child that ended */
	int sigchld_status;
	uint64_t robust_list;
	uint64_t rlim[16][2]; /* soft and hard limit per RLIMIT_*, as prlimit64 last set them */
	struct lx_fd fd[LX_MAX_FDS];
};

/* The process a thread belongs to (its leader's slot), or p itself. */
static inline struct lx_proc *lx_grp(struct lx_proc *p)
{
	return p->grp ? p->grp : p;
}

/* ---- memory (mm.c) ---- */
/* The region holding va, or NULL. */
struct lx_region *lx_region_at(struct lx_proc *p, uint64_t va);
/* Add [start, end) (page-aligned) replacing what was there; 0 or -errno. */
int lx_map(struct lx_proc *p, uint64_t start, uint64_t end, uint32_t prot, const uint8_t *file,
           uint64_t file_len);
int lx_unmap(struct lx_proc *p, uint64_t start, uint64_t end);
int lx_protect(struct lx_proc *p, uint64_t start, uint64_t end, uint32_t prot);
/* mremap(a[0] old address, a[1] old length, a[2] new length, a[3] flags, a[4] new address):
 * the new address, or -errno as Linux's (docs/linux.md). */
int64_t lx_remap(struct lx_proc *p, const uint64_t a[5]);
/* A free range of len bytes below LX_MMAP_TOP and above the heap, or 0. */
uint64_t lx_find_gap(struct lx_proc *p, uint64_t len);
/* Bring the page at va in (fault or copy; a write to a shared copy-on-write page copies it):
 * 0, or -LX_EFAULT outside any fitting region. */
int lx_page_in(struct lx_proc *p, uint64_t va, uint32_t need);
/* Check that [va, va + len) is mapped with need (paging it in): 0 or -LX_EFAULT. */
int lx_check(struct lx_proc *p, uint64_t va, uint64_t len, uint32_t need);
/* Copy between the process and the server, checked page by page: 0 or -LX_EFAULT. */
int lx_copy_in(struct lx_proc *p, void *dst, uint64_t src, uint64_t len);
int lx_copy_out(struct lx_proc *p, uint64_t dst, const void *src, uint64_t len);
/* A NUL-terminated string of at most max bytes (with the NUL): length, or -errno. */
long lx_copy_str(struct lx_proc *p, char *dst, uint64_t src, uint64_t max);

/* ---- the platform the server runs on (main.c): frames, mappings ---- */
/* Map a fresh zeroed frame at va in the process and at LX_WINDOW + va in the server. */
int lx_plat_map(uint64_t va, uint32_t prot);
int lx_plat_protect(uint64_t va, uint32_t prot); /* a page lx_plat_map mapped */
void lx_plat_unmap(uint64_t va);
/* The page at from (if mapped) moves to to (unmapped), frame and all: nothing is copied
 * (mremap); 0 or -LX_ENOMEM. */
int lx_plat_move(uint64_t from, uint64_t to);
int lx_plat_is_mapped(uint64_t va);
/* A mapped page the process may write: copy it first when it shares it (copy-on-write). */
int lx_plat_make_private(uint64_t va, uint32_t prot);
/* Iterate over every mapped page: true and *va while there is one after *cursor (from 0). */
bool lx_plat_next_mapped(uint32_t *cursor, uint64_t *va);
/* The server's view of the (mapped) page holding va: its first byte. */
void *lx_plat_page(uint64_t va);
/* The server's view of [va, va + len) when it lies on one page of the current process that is
 * in memory with need (LX_PROT_*; a write: not copy-on-write); else NULL (lx_check decides). */
void *lx_plat_user(uint64_t va, uint64_t len, uint32_t need);
void lx_plat_console(const char *s, size_t n);
/* The server's heap (written files): NULL when it is out. */
void *lx_plat_alloc(size_t n);
void lx_plat_free(void *p);
uint64_t lx_plat_nanotime(void);
void lx_plat_random(void *buf, size_t n);
int lx_plat_set_fs(uint64_t base); /* the Linux thread's FS base: 0 or -LX_EPERM */
uint64_t lx_plat_get_fs(void);

/* ---- the platform's processes (main.c) ---- */
/* p becomes the process the lx_plat_* calls above act on. */
void lx_plat_switch(struct lx_proc *p);
struct lx_proc *lx_plat_current(void);
/* The kernel answers p's getpid (on) or sends it to the server (thread.set_linux_answer). */
void lx_plat_answer(struct lx_proc *p, bool on);
/* A fresh address space and thread for p (which is current); 0 or -LX_ENOMEM. */
int lx_plat_spawn(struct lx_proc *p);
/* child gets parent's pages, shared copy-on-write, and a thread like p's; frame is the forking
 * thread's register frame (lx_tramp_fork), which says what both touch at once; 0 or -errno. */
int lx_plat_fork(struct lx_proc *parent, struct lx_proc *child, uint64_t frame);
/* Set the registers of p's thread (stopped, new, or waiting for its reply): rip, rsp, rdi, rsi. */
int lx_plat_set_regs(struct lx_proc *p, uint64_t rip, uint64_t rsp, uint64_t rdi, uint64_t rsi);
void lx_plat_resume(struct lx_proc *p);
/* p's wait ended (lx_wake): resume it, or finish its deferred call (lx_plat_finish_ready). */
void lx_plat_wake(struct lx_proc *p);
/* p waits in a call whose reply the server deferred (a pipe read or write): make it wait as
 * a suspended thread instead (the restart trampoline), for a signal that interrupts it. */
void lx_plat_undefer(struct lx_proc *p);
/* Stop p's thread in its current call (it gets no reply). */
void lx_plat_suspend(struct lx_proc *p);
/* The registers of p's stopped thread: rax rbx rcx rdx, rsi rdi rbp rsp, r8-r11, r12-r15,
 * rip rflags fs_base state (thread.read_gprs). */
void lx_plat_read_gprs(struct lx_proc *p, uint64_t r[20]);
/* The CPU time p's Hallows thread has used, in ns (thread.read_cputime; 0 without one). */
uint64_t lx_plat_cpu_ns(const struct lx_proc *p);
/* Every page of the current process goes (execve). */
void lx_plat_unmap_all(void);
/* Everything of p goes: pages, thread, spaces. */
void lx_plat_release(struct lx_proc *p);
/* p's FS base (the fork child copies it). */
int lx_plat_set_fs_of(struct lx_proc *p, uint64_t base);
/* A new thread for t (a clone(CLONE_THREAD) of a thread of group lx_grp(t)), in its group's
 * address space, stopped; 0 or -LX_ENOMEM. */
int lx_plat_spawn_thread(struct lx_proc *t);
/* The CPU p's thread runs on (getcpu), and how many there are (1..64: sched_getaffinity). */
uint32_t lx_plat_cpu_of(const struct lx_proc *p);
uint32_t lx_plat_ncpus(void);

/* ---- processes, pipes, descriptors (proc.c) ---- */
enum {
	LX_TRAMP_RESTART,
	LX_TRAMP_RESTART_RET,
	LX_TRAMP_FORK,
	LX_TRAMP_RESUME,
	LX_TRAMP_EXEC,
	LX_TRAMP_SIG,
	LX_TRAMP_SIGRET
};
/* Where entry point which of the trampoline page is, from LX_TRAMP. */
uint64_t lx_tramp_off(int which);
extern struct lx_proc lx_procs[LX_MAX_PROCS];
/* Results of lx_syscall that are not a value to reply with. */
#define LX_RET_BLOCK ((int64_t)-0x7000000000000001ll) /* p->chan set: make the call again later */
#define LX_RET_GONE  ((int64_t)-0x7000000000000002ll) /* the process has ended: no reply */
struct lx_proc *lx_proc_by_pid(uint32_t pid);
/* A new process (argv from the server), child of the server (pid 1); NULL or the process. */
struct lx_proc *lx_proc_first(const char *path, const char *const *argv, int *err);
/* A free slot with a fresh id (threads: thread.c), NULL when the table is full; and back. */
struct lx_proc *lx_proc_new(void);
void lx_proc_reap(struct lx_proc *q);
/* End p with wait status st (exit code << 8, or the signal number). */
void lx_proc_exit(struct lx_proc *p, int st);
/* Processes alive or zombie. */
uint32_t lx_proc_count(void);
/* The wait status of the last process the server itself reaped (a command's first process). */
int lx_proc_last_status(void);
/* Wake every process blocked on chan: its call is made again. */
void lx_wake(const void *chan);
/* chan is a pipe's (its waits are served by deferred replies, main.c). */
bool lx_chan_is_pipe(const void *chan);
bool lx_chan_defers(const void *chan);
/* What poll waits on: woken whenever any pipe changes. */
const void *lx_poll_chan(void);
int64_t lx_proc_syscall(struct lx_proc *p, uint64_t nr, const uint64_t a[6], bool *handled);
struct lx_ofd *lx_ofd_new(uint8_t kind, uint32_t flags);
void lx_ofd_put(struct lx_ofd *o);
struct lx_ofd *lx_console_ofd(void);
/* Make descriptor fd of p point at o (taking a reference); closes what was there. */
void lx_fd_install(struct lx_proc *p, uint32_t fd, struct lx_ofd *o, bool cloexec);
/* Pipe I/O on an open file description: bytes, -errno or LX_RET_BLOCK. */
int64_t lx_pipe_read(struct lx_proc *p, struct lx_ofd *o, uint64_t buf, uint64_t len);
int64_t lx_pipe_write(struct lx_proc *p, struct lx_ofd *o, uint64_t buf, uint64_t len);
/* The pipe fast path (docs/linux.md, "Measured"): read (nr 0) or write (nr 1) of fd on a pipe
 * that ends at once with the buffer on one page already in p's memory, or waits
 * (LX_RET_BLOCK, p->chan set); its result as lx_syscall's would be, or LX_RET_SLOW: the call
 * takes the general path. */
#define LX_RET_SLOW ((int64_t)-0x7000000000000003ll)
int64_t lx_pipe_fast(struct lx_proc *p, uint64_t nr, uint64_t fd, uint64_t buf, uint64_t len);

/* Whether the call being served was made again by the restart trampoline (after a wait). */
bool lx_call_restarted(const struct lx_proc *p);

/* ---- threads and futexes (thread.c) ---- */
/* fork's second step for clone(CLONE_THREAD): the new thread's tid, or -errno. */
int64_t lx_thread_clone(struct lx_proc *p, uint64_t frame);
/* exit of one thread (the process ends with its last thread): LX_RET_GONE. */
int64_t lx_thread_exit(struct lx_proc *p, int st);
/* Every thread of p's group but keep goes (exit_group, execve, a fatal signal). */
void lx_thread_kill_others(struct lx_proc *p, struct lx_proc *keep);
/* Wake up to n futex waiters of p's group on uaddr whose bitset meets bits: how many. */
uint32_t lx_futex_wake(struct lx_proc *p, uint64_t uaddr, uint32_t n, uint32_t bits);
int64_t lx_thread_syscall(struct lx_proc *p, uint64_t nr, const uint64_t a[6], bool *handled);

/* ---- time: sleeps, timeouts, interval timers (timer.c) ---- */
/* Start the timer thread (false: none; timed waits then fail with ENOSYS). */
bool lx_timer_init(void);
/* The notification bound to the server's thread (bit 0: a deadline passed), 0 without one. */
uint64_t lx_timer_ntfn(void);
/* The server's wait was ended by its notification (bits): wake whoever's time has come. */
void lx_timer_fire(uint64_t bits);
/* p, blocking, also wants to be woken at p->wake_at: arm the timer for it. */
void lx_timer_arm(void);
/* A signal ends p's timed wait: nanosleep's remaining time goes out. */
void lx_timer_interrupted(struct lx_proc *p);
/* A wait on chan of at most ms milliseconds (< 0: no limit), for a call that found nothing
 * ready: LX_RET_BLOCK, or 0 once the time is up (the call made again asks again). */
int64_t lx_timer_wait(struct lx_proc *p, const void *chan, int64_t ms);
/* Calls a handler interrupts with EINTR even under SA_RESTART (nanosleep, timed waits). */
bool lx_timer_no_restart(const struct lx_proc *p);
int64_t lx_timer_syscall(struct lx_proc *p, uint64_t nr, const uint64_t a[6], bool *handled);

/* ---- select, pselect6 and the signal masks of waiting calls (select.c) ---- */
/* A call's temporary signal mask (pselect6, ppoll, epoll_pwait; umask 0: none): 0 or -errno. */
int lx_sigmask_enter(struct lx_proc *p, uint64_t umask, uint64_t size);
/* The call ends with r: the old mask back unless a handler is to run (EINTR) or it waits; a
 * wait with a signal pending that the temporary mask lets in ends with EINTR instead. */
int64_t lx_sigmask_leave(struct lx_proc *p, int64_t r);
/* A signal ends p's timed select, pselect6 or ppoll with left ns to go: written back. */
void lx_select_interrupted(struct lx_proc *p, uint64_t left);
int64_t lx_select_syscall(struct lx_proc *p, uint64_t nr, const uint64_t a[6], bool *handled);

/* ---- job control (jobctl.c) ---- */
enum { LX_REPORT_STOP = 1, LX_REPORT_CONT = 2 };
/* The thread whose call or fault the server is answering now (it waits for the reply), or NULL. */
extern struct lx_proc *lx_caller;
bool lx_job_is_stop(int sig); /* SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU */
/* Stop the process of q by sig (its default action); its parent hears of it. */
void lx_job_stop(struct lx_proc *q, int sig);
/* SIGCONT: the process of q goes on (whatever SIGCONT's action); its parent hears of it. */
void lx_job_continue(struct lx_proc *q);
/* The process group of p is orphaned (no member has a parent in another group of its session). */
bool lx_job_orphaned(struct lx_proc *p);
/* The groups p's exit may orphan: its own and its children's that are not orphaned yet. */
struct lx_links {
	uint32_t n, pgid[LX_MAX_PROCS];
};
void lx_job_links(struct lx_proc *p, struct lx_links *o);
/* After the exit: each of those groups now orphaned with a stopped member gets SIGHUP and
 * SIGCONT (POSIX). */
void lx_job_orphans(const struct lx_links *o);

/* ---- CPU time (cputime.c) ---- */
/* The user time of p's process (its threads' run time, those gone too), in ns. */
uint64_t lx_cpu_process_ns(struct lx_proc *p);
/* The system time of p's process, and of thread p (the server's time on their calls), ns. */
uint64_t lx_cpu_process_sys_ns(struct lx_proc *p);
uint64_t lx_cpu_thread_sys_ns(const struct lx_proc *p);
uint64_t lx_cpu_children_sys_ns(struct lx_proc *p); /* of the children it waited for */
/* The server spent tsc cycles on a call or fault of p: its system time (p may have ended). */
void lx_cpu_charge(struct lx_proc *p, uint64_t tsc);
/* Child c (ended) is waited for: its user and system times, its children's included, in ns. */
void lx_cpu_of_child(const struct lx_proc *c, uint64_t *user, uint64_t *sys);
/* ... and they become its parent p's children's times. */
void lx_cpu_reaped(struct lx_proc *p, const struct lx_proc *c);
int64_t lx_cpu_syscall(struct lx_proc *p, uint64_t nr, const uint64_t a[6], bool *handled);

/* ---- signals (signal.c) ---- */
/* Send sig to q (from pid): pending, or its default action, or it interrupts q's wait. */
void lx_signal_send(struct lx_proc *q, int sig, uint32_t from);
/* p's call ends with r: enter a handler for a pending signal, or end p; r or LX_RET_GONE. */
int64_t lx_signal_deliver(struct lx_proc *p, int64_t r, bool interrupted);
/* A fault p could not be paged in for (vector, error code, address, rip): its handler of the
 * signal Linux sends for it runs (0: reply to the fault), or the signal ends p (LX_RET_GONE). */
int64_t lx_signal_fault(struct lx_proc *p, uint64_t vector, uint64_t err, uint64_t addr,
                        uint64_t rip);
/* p has a signal it would take now (pending and not blocked). */
bool lx_signal_ready(const struct lx_proc *p);
int64_t lx_signal_syscall(struct lx_proc *p, uint64_t nr, const uint64_t a[6], bool *handled);

/* ---- exec (exec.c) ---- */
/* 0 when file looks like a static ELF executable lx_elf_load can load, else -LX_ENOEXEC. */
int lx_elf_probe(const uint8_t *file, uint64_t len);
struct lx_elf_info {
	uint64_t entry, phdr, phnum, bias;
};
/*
 * Check the ELF file and add its PT_LOAD segments to p; *info gets what
 * the initial stack's auxv needs. 0 or -errno (-LX_ENOEXEC as -8).
 */
int lx_elf_load(struct lx_proc *p, const uint8_t *file, uint64_t len, struct lx_elf_info *info);
/* Build argv, envp and auxv at the top of the stack; *sp gets the new stack pointer. */
int lx_build_stack(struct lx_proc *p, const struct lx_elf_info *info, const char *const *argv,
                   const char *const *envp, uint64_t *sp);

/* ---- file system (fs.c) ---- */
/* Build the directory tree from a newc cpio archive; 0 or -errno. */
int lx_fs_init(const uint8_t *cpio, size_t len);
/* Resolve an absolute or cwd-relative ("/" is the cwd) path, following symbolic links. */
const struct lx_file *lx_fs_lookup(const char *path);
/* The same, but a symbolic link as the last component is the result (lstat, readlink). */
const struct lx_file *lx_fs_lookup_link(const char *path);
/* The file whose bytes hold byte (a mapping's view: /proc/<pid>/maps), or NULL. */
const struct lx_file *lx_fs_holding(const uint8_t *byte);
/* The idx-th entry of directory dir (NULL past the end). */
const struct lx_file *lx_fs_child(const struct lx_file *dir, uint32_t idx, const char **name);
/*
 * The writable part: every directory takes new files (as root does on
 * Linux); written data lives in the server's heap, at most LX_FS_BYTES in
 * all (ENOSPC). Results are 0 or -errno.
 */
#define LX_FS_BYTES (16u << 20)
int lx_fs_create(const char *path, uint32_t mode, const struct lx_file **out);
int lx_fs_write(const struct lx_file *f, uint64_t pos, const void *src, uint64_t n);
int lx_fs_truncate(const struct lx_file *f, uint64_t size);
int lx_fs_chmod(const struct lx_file *f, uint32_t mode); /* the permission bits: 0 */
int lx_fs_unlink(const char *path, bool dir);
int lx_fs_rename(const char *from, const char *to);
void lx_fs_hold(const struct lx_file *f);
void lx_fs_release(const struct lx_file *f);

/* ---- the working directory (dir.c) ---- */
/* rel (relative) against p's working directory into out: 0 or -LX_ENAMETOOLONG. */
int lx_cwd_join(struct lx_proc *p, const char *rel, char *out, size_t cap);
int64_t lx_dir_syscall(struct lx_proc *p, uint64_t nr, const uint64_t a[6], bool *handled);

/* ---- /proc (procfs.c) ---- */
/* The /proc file at path (absolute), a snapshot the caller gives back with lx_procfs_put:
 * 0 and *out, or -errno; 1 when path is not under /proc. */
int lx_procfs_get(struct lx_proc *p, const char *path, bool follow, const struct lx_file **out);
bool lx_procfs_is(const struct lx_file *f);
void lx_procfs_put(const struct lx_file *f);
/* The idx-th entry of a /proc directory (NULL past the end), as lx_fs_child. */
const struct lx_file *lx_procfs_child(const struct lx_file *dir, uint32_t idx, const char **name);
int64_t lx_procfs_syscall(struct lx_proc *p, uint64_t nr, const uint64_t a[6], bool *handled);
/* Memory of the personality's frames: bytes in all, and free (sysinfo, meminfo). */
void lx_plat_mem(uint64_t *total, uint64_t *free);
/* Pages mapped in p's address space (its resident set). */
uint64_t lx_plat_pages_of(const struct lx_proc *p);
/* path in canonical form (fs.c: no ".", "..", "//"; no leading '/'): false when too long. */
bool lx_fs_canonical(const char *path, char *out, size_t cap);
/* The unknown calls so far as text, "number count" per line: its length. */
uint64_t lx_unknown_format(char *buf, size_t cap);

/* ---- epoll (epoll.c) ---- */
/* What poll sees on an open file description: POLLIN 1, POLLOUT 4, POLLERR 8, POLLHUP 16. */
uint16_t lx_ofd_ready(const struct lx_ofd *f);
/* Whether an epoll instance has an event to report. */
bool lx_epoll_ready(const struct lx_ofd *f);
/* The last close of an epoll instance. */
void lx_epoll_free(struct lx_ofd *f);
int64_t lx_epoll_syscall(struct lx_proc *p, uint64_t nr, const uint64_t a[6], bool *handled);

/* ---- the network (net.c) and sockets (socket.c) ---- */
/* Bring up the NIC and Floo if etc/net.conf of the tree asks for it; the NIC's interrupts
 * signal ntfn (the server's bound notification). Before the pools take the memory. */
bool lx_net_init(const uint8_t *cpio, size_t len, uint64_t ntfn);
struct floo_stack *lx_net_stack(void); /* NULL: no network */
uint32_t lx_net_addr(void);            /* our IPv4 address (host order), 0 before one */
bool lx_net_ready(void);               /* up, with an address */
void lx_net_report(void);              /* Floo's counters, a line (after the last command) */
/* Run Floo (frames, timers), then wake what its events changed and arm its next timer. */
void lx_net_poll(void);
/* When Floo next wants lx_net_poll (lx_plat_nanotime), 0: never (lx_timer_arm). */
uint64_t lx_net_deadline(void);
/* After Floo ran: wake the waiters and pollers of every socket that changed. */
void lx_sock_events(void);
bool lx_sock_timed(void); /* a socket needs lx_net_poll again soon (datagrams held for ARP) */
uint16_t lx_sock_ready(const struct lx_ofd *o); /* as lx_ofd_ready */
uint64_t lx_sock_stamp(const struct lx_ofd *o); /* lx_change_seq at its last change */
void lx_sock_close(struct lx_ofd *o);           /* the last close of o */
/* close of o: with SO_LINGER, the last close waits (LX_RET_BLOCK) until what was sent is
 * acknowledged or the linger time passes; 0: go on with the close. */
int64_t lx_sock_linger(struct lx_proc *p, struct lx_ofd *o);
int lx_sock_stat(struct lx_proc *p, uint64_t ubuf, const struct lx_ofd *o); /* fstat */
int64_t lx_sock_read(struct lx_proc *p, struct lx_ofd *o, uint64_t buf, uint64_t len);
int64_t lx_sock_write(struct lx_proc *p, struct lx_ofd *o, uint64_t buf, uint64_t len);
int64_t lx_sock_ioctl(struct lx_proc *p, struct lx_ofd *o, uint64_t cmd, uint64_t arg);
int64_t lx_sock_syscall(struct lx_proc *p, uint64_t nr, const uint64_t a[6], bool *handled);
void lx_sock_report(void); /* a line with the sockets' counts, when there is anything */

/* ---- system calls (sys.c) ---- */
/* Serve call nr with args a[6]; returns the Linux result (or -errno). */
int64_t lx_syscall(struct lx_proc *p, uint64_t nr, const uint64_t a[6]);
/* Print the unknown calls seen so far (number and count); then forget them if reset. */
void lx_report_unknown(bool reset);

#endif
