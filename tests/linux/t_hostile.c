/*
 * A hostile static binary (the audit's check 4): calls a well-behaved
 * program never makes, each with the answer Linux gives (the run compares
 * this output with the host's). A forged signal frame (non-canonical rip,
 * IOPL, NT and TF bits in eflags, an odd code segment), mappings at
 * address 0 and in the kernel half, futexes on memory that is not there,
 * huge or bad iovec arrays, odd clone flags, and exec of truncated or odd
 * ELF files (/proc at odd offsets: t_procfs, the host's chroot has no
 * /proc). Every child's fate is printed; the personality and this process
 * live on.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "show.h"

#define FUTEX_WAIT  0
#define FUTEX_WAKE  1
#define KERNEL_HALF 0xffff800000000000ul
#define NONCANON    0x0000800000000000ul

static int forge; /* what the SIGUSR1 handler does to the frame it returns through */

static void forger(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	greg_t *g = uc->uc_mcontext.gregs;

	(void)sig, (void)si;
	switch (forge) {
	case 0: /* rip in the non-canonical hole */
		g[REG_RIP] = (greg_t)NONCANON;
		break;
	case 1: /* rip in the kernel half */
		g[REG_RIP] = (greg_t)KERNEL_HALF;
		break;
	case 2: /* IOPL 3, NT, VIF/VIP, ID: none may reach the process */
		g[REG_EFL] |= 0x3000 | 0x4000 | 0x180000;
		break;
	case 3: /* TF: a single-step trap after the return */
		g[REG_EFL] |= 0x100;
		break;
	case 4: /* a null stack pointer */
		g[REG_RSP] = 0;
		break;
	case 5: /* the FPU state pointer into the kernel half */
		uc->uc_mcontext.fpregs = (fpregset_t)KERNEL_HALF;
		break;
	}
}

/* IOPL as the process sees it after a forged return: 0, or in/out would work. */
static unsigned long flags_now(void)
{
	unsigned long f;

	__asm__ volatile("pushfq; popq %0" : "=r"(f));
	return f;
}

static void forged_sigreturn(void)
{
	static const char *what[] = {"non-canonical rip", "kernel-half rip", "iopl nt vif bits",
	                             "trap flag",         "null rsp",        "kernel-half fpregs"};

	for (forge = 0; forge < 6; forge++) {
		pid_t c = fork();
		if (c == 0) {
			struct sigaction sa = {.sa_sigaction = forger, .sa_flags = SA_SIGINFO};
			sigaction(SIGUSR1, &sa, NULL);
			raise(SIGUSR1);
			unsigned long f = flags_now();
			printf("forged %s: returned, iopl %lu nt %lu ac %lu\n", what[forge],
			       f >> 12 & 3, f >> 14 & 1, f >> 18 & 1);
			fflush(stdout);
			_exit(0);
		}
		int st;
		waitpid(c, &st, 0);
		char label[64];
		snprintf(label, sizeof(label), "forged %s", what[forge]);
		show_status(label, st);
	}
}

static void odd_mappings(void)
{
	void *p;

	p = mmap((void *)KERNEL_HALF, 4096, PROT_READ | PROT_WRITE,
	         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	printf("mmap fixed kernel half: %s errno %d\n", p == MAP_FAILED ? "failed" : "mapped",
	       p == MAP_FAILED ? errno : 0);
	p = mmap((void *)NONCANON, 4096, PROT_READ | PROT_WRITE,
	         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	printf("mmap fixed hole: %s errno %d\n", p == MAP_FAILED ? "failed" : "mapped",
	       p == MAP_FAILED ? errno : 0);
	p = mmap((void *)(NONCANON - 4096), 8192, PROT_READ | PROT_WRITE,
	         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	printf("mmap fixed across the top: %s errno %d\n", p == MAP_FAILED ? "failed" : "mapped",
	       p == MAP_FAILED ? errno : 0);
	/* a hint in the kernel half is only a hint */
	p = mmap((void *)KERNEL_HALF, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
	         0);
	printf("mmap hint kernel half: %s below the hole %d\n",
	       p == MAP_FAILED ? "failed" : "mapped", (uintptr_t)p < NONCANON);
	if (p != MAP_FAILED) {
		*(volatile char *)p = 1;
		munmap(p, 4096);
	}
	p = mmap(NULL, (size_t)1 << 62, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("mmap 2^62 bytes: %s errno %d\n", p == MAP_FAILED ? "failed" : "mapped",
	       p == MAP_FAILED ? errno : 0);
	p = mmap(NULL, (size_t)-4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("mmap -4096 bytes: %s errno %d\n", p == MAP_FAILED ? "failed" : "mapped",
	       p == MAP_FAILED ? errno : 0);
	SHOW("munmap kernel half", munmap((void *)KERNEL_HALF, 4096));
	SHOW("munmap wrapping", munmap((void *)(NONCANON - 4096), (size_t)-1 - NONCANON));
	SHOW("mprotect kernel half", mprotect((void *)KERNEL_HALF, 4096, PROT_READ));
	SHOW("mprotect wrapping", mprotect((void *)0x10000, (size_t)-4096, PROT_READ));
	SHOW("brk kernel half", syscall(SYS_brk, KERNEL_HALF) == (long)KERNEL_HALF);
}

static void bad_futexes(void)
{
	SHOW("futex wait kernel half", syscall(SYS_futex, KERNEL_HALF, FUTEX_WAIT, 0, NULL));
	SHOW("futex wait hole", syscall(SYS_futex, NONCANON, FUTEX_WAIT, 0, NULL));
	SHOW("futex wait unaligned",
	     syscall(SYS_futex, (uintptr_t)&forge + 1, FUTEX_WAIT, 0, NULL));
	SHOW("futex wake kernel half", syscall(SYS_futex, KERNEL_HALF, FUTEX_WAKE, 1));
	SHOW("futex bad op", syscall(SYS_futex, &forge, 99, 0, NULL));
	struct timespec *bad = (struct timespec *)16;
	int v = 7;
	SHOW("futex wait bad timeout", syscall(SYS_futex, &v, FUTEX_WAIT, 7, bad));
}

static void bad_iovecs(void)
{
	char buf[8] = "iovec\n";
	struct iovec iov[2] = {{buf, 6}, {buf, 0}};
	struct iovec wrap[2] = {{buf, 6}, {buf, (size_t)-1}};
	int fd = open("/dev/null", O_WRONLY);

	SHOW("writev count 1025", writev(fd, iov, 1025));
	SHOW("writev count 2^30", writev(fd, iov, 1 << 30));
	SHOW("writev count -1", writev(fd, iov, -1));
	SHOW("writev kernel-half array", writev(fd, (struct iovec *)KERNEL_HALF, 2));
	SHOW("writev wrapping lengths", writev(fd, wrap, 2));
	struct iovec kbuf[1] = {{(void *)KERNEL_HALF, 16}};
	SHOW("writev kernel-half buffer", writev(fd, kbuf, 1));
	SHOW("writev count 0", writev(fd, iov, 0));
	close(fd);
	fd = open("/etc/hello.txt", O_RDONLY);
	SHOW("readv count 1025", readv(fd, iov, 1025));
	SHOW("readv kernel-half buffer", readv(fd, kbuf, 1));
	close(fd);
}

/* clone with flags that do not go together, and a thread on an unmapped stack. */
static void odd_clones(void)
{
	SHOW("clone thread alone", syscall(SYS_clone, 0x10000 /* CLONE_THREAD */, 0, 0, 0, 0));
	SHOW("clone sighand alone", syscall(SYS_clone, 0x800 /* CLONE_SIGHAND */, 0, 0, 0, 0));
	SHOW("clone fs + newns",
	     syscall(SYS_clone, 0x200 | 0x20000 /* CLONE_FS CLONE_NEWNS */, 0, 0, 0, 0));
	pid_t c = fork();
	if (c == 0) {
		/* CLONE_VM|FS|FILES|SIGHAND|THREAD: the new thread's first push faults and the
		 * whole process ends by SIGSEGV; the parent thread only waits */
		long r = syscall(SYS_clone, 0x100 | 0x200 | 0x400 | 0x800 | 0x10000, (void *)4096,
		                 0, 0, 0);
		if (r == 0) {
			__asm__ volatile("push $0; pop %%rax" ::: "rax", "memory");
			_exit(3);
		}
		if (r < 0)
			_exit(2);
		for (;;)
			pause();
	}
	int st;
	waitpid(c, &st, 0);
	/* Linux makes the thread, which faults (SIGSEGV); the personality may refuse the call
	 * (its trampoline cannot write the new stack): either, as long as nothing runs there */
	printf("clone thread on an unmapped stack: refused or killed %d\n",
	       (WIFEXITED(st) && WEXITSTATUS(st) == 2) ||
	           (WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV));
}

/*
 * The odd ELF files: a good one (exit 0 from one PT_LOAD) spoiled in one
 * way each. The build writes them into the boot module's /odd (`t_hostile
 * --write DIR`: the personality runs no file written at run time), and the
 * run execs each in a child. Linux refuses some before the point of no
 * return (an errno) and kills the process for others after it; a stricter
 * loader may refuse earlier: either is a refusal. It runs a few a stricter
 * loader refuses (address 0 as root, file bytes past the end, a 32-bit
 * class with the x86-64 machine): those are run quietly.
 */
struct odd {
	const char *name;
	void (*spoil)(unsigned char *e, size_t *len);
	bool quiet, exact; /* exact: ENOEXEC is only a refusal (Linux fails at another step) */
};

static size_t odd_image(const struct odd *o, unsigned char *e)
{
	size_t len = 4096 + 64;
	uint64_t *q;

	memset(e, 0, 8192);
	memcpy(e, "\177ELF\2\1\1", 7);
	e[16] = 2;  /* ET_EXEC */
	e[18] = 62; /* x86-64 */
	e[20] = 1;
	q = (uint64_t *)(e + 24);
	q[0] = 0x400000 + 4096; /* entry */
	q[1] = 64;              /* phoff */
	e[52] = 64, e[54] = 56, e[56] = 1;
	/* one PT_LOAD: offset 4096 -> 0x401000, r-x, the code `mov $60,%eax; xor %edi,%edi;
	 * syscall` */
	uint32_t *w = (uint32_t *)(e + 64);
	w[0] = 1, w[1] = 5;
	q = (uint64_t *)(e + 64 + 8);
	q[0] = 4096, q[1] = 0x401000, q[2] = 0x401000, q[3] = 64, q[4] = 64, q[5] = 4096;
	static const unsigned char code[] = {0xb8, 60, 0, 0, 0, 0x31, 0xff, 0x0f, 0x05};
	memcpy(e + 4096, code, sizeof(code));
	o->spoil(e, &len);
	return len;
}

static void exec_odd(const struct odd *o)
{
	char path[64];

	snprintf(path, sizeof(path), "/odd/%s", o->name);
	pid_t c = fork();
	if (c == 0) {
		char *argv[] = {path, NULL}, *envp[] = {NULL};
		execve(path, argv, envp);
		_exit(100 + errno);
	}
	int st;
	waitpid(c, &st, 0);
	if (o->quiet)
		return;
	bool ran = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	bool noexec = WIFEXITED(st) && WEXITSTATUS(st) == 100 + ENOEXEC;
	printf("exec %s: %s\n", o->name, ran ? "ran" : noexec && !o->exact ? "ENOEXEC" : "refused");
}

static void sp_good(unsigned char *e, size_t *len)
{
	(void)e, (void)len;
}
static void sp_trunc_header(unsigned char *e, size_t *len)
{
	(void)e, *len = 40;
}
static void sp_trunc_phdr(unsigned char *e, size_t *len)
{
	(void)e, *len = 64 + 30;
}
static void sp_trunc_segment(unsigned char *e, size_t *len)
{
	(void)e, *len = 4096 + 8;
}
static void sp_phoff_huge(unsigned char *e, size_t *len)
{
	(void)len, *(uint64_t *)(e + 32) = (uint64_t)-8;
}
static void sp_phnum_huge(unsigned char *e, size_t *len)
{
	(void)len, *(uint16_t *)(e + 56) = 0xffff;
}
static void sp_memsz_huge(unsigned char *e, size_t *len)
{
	(void)len, *(uint64_t *)(e + 64 + 40) = (uint64_t)1 << 62;
}
static void sp_vaddr_kernel(unsigned char *e, size_t *len)
{
	(void)len;
	*(uint64_t *)(e + 64 + 16) = KERNEL_HALF + 4096;
	*(uint64_t *)(e + 24) = KERNEL_HALF + 4096;
}
static void sp_vaddr_zero(unsigned char *e, size_t *len)
{
	(void)len;
	*(uint64_t *)(e + 64 + 16) = 0;
	*(uint64_t *)(e + 24) = 0;
}
static void sp_filesz_past_end(unsigned char *e, size_t *len)
{
	(void)len, *(uint64_t *)(e + 64 + 32) = 1 << 20, *(uint64_t *)(e + 64 + 40) = 1 << 20;
}
static void sp_interp(unsigned char *e, size_t *len)
{
	(void)len;
	*(uint16_t *)(e + 56) = 2;
	uint32_t *w = (uint32_t *)(e + 64 + 56);
	w[0] = 3; /* PT_INTERP -> "/lib/ld-none.so" at 200 */
	uint64_t *q = (uint64_t *)(e + 64 + 56 + 8);
	q[0] = 200, q[1] = 0, q[2] = 0, q[3] = 16, q[4] = 16, q[5] = 1;
	memcpy(e + 200, "/lib/ld-none.so", 16);
}
static void sp_overlap(unsigned char *e, size_t *len)
{
	/* a second PT_LOAD that swallows the first whole */
	(void)len;
	*(uint16_t *)(e + 56) = 2;
	memcpy(e + 64 + 56, e + 64, 56);
	uint64_t *q = (uint64_t *)(e + 64 + 56 + 8);
	q[0] = 0, q[1] = 0x400000, q[2] = 0x400000, q[3] = 64, q[4] = 0x3000;
	*(uint32_t *)(e + 64 + 56 + 4) = 6; /* rw- */
}
static void sp_entry_outside(unsigned char *e, size_t *len)
{
	(void)len, *(uint64_t *)(e + 24) = 0x900000;
}
static void sp_32bit(unsigned char *e, size_t *len)
{
	(void)len, e[4] = 1;
}
static void sp_phentsize(unsigned char *e, size_t *len)
{
	(void)len, e[54] = 32;
}

static const struct odd odds[] = {
    {"good", sp_good, false, false},
    {"trunc-header", sp_trunc_header, false, false},
    {"trunc-phdr", sp_trunc_phdr, false, false},
    {"trunc-segment", sp_trunc_segment, false, true},
    {"phoff-huge", sp_phoff_huge, false, false},
    {"phnum-huge", sp_phnum_huge, false, false},
    {"memsz-huge", sp_memsz_huge, false, true},
    {"vaddr-kernel", sp_vaddr_kernel, false, true},
    {"vaddr-zero", sp_vaddr_zero, true, true},
    {"filesz-past-end", sp_filesz_past_end, true, true},
    {"interp", sp_interp, false, true},
    {"overlap", sp_overlap, false, true},
    {"entry-outside", sp_entry_outside, false, true},
    {"32bit", sp_32bit, true, true},
    {"phentsize", sp_phentsize, false, false},
};
#define N_ODDS (sizeof(odds) / sizeof(odds[0]))

/* At build time: the files into dir. */
static int write_odds(const char *dir)
{
	static unsigned char e[8192];

	for (unsigned i = 0; i < N_ODDS; i++) {
		char path[512];
		size_t len = odd_image(&odds[i], e);
		snprintf(path, sizeof(path), "%s/%s", dir, odds[i].name);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
		if (fd < 0 || write(fd, e, len) != (long)len) {
			perror(path);
			return 1;
		}
		close(fd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--write"))
		return write_odds(argv[2]);
	setvbuf(stdout, NULL, _IONBF, 0);
	forged_sigreturn();
	odd_mappings();
	bad_futexes();
	bad_iovecs();
	odd_clones();
	for (unsigned i = 0; i < N_ODDS; i++)
		exec_odd(&odds[i]);
	printf("hostile: survived\n");
	return 0;
}
