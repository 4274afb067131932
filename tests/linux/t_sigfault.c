/*
 * Signals from faults (issue 15): a SIGSEGV, SIGFPE or SIGILL handler runs
 * with siginfo (si_code, si_addr) instead of the process ending; siglongjmp
 * out of it; a handler that returns while the access is still bad runs
 * again (the instruction is retried), and once it fixes the mapping the
 * access goes on with every register as it was; a blocked or ignored
 * fault signal still ends the process; default actions give the right
 * signal (SIGFPE for a division by zero). SA_RESETHAND (bug
 * sa_resethand_handler_jumped_to_zero: the handler's address was read after
 * the reset, so the thread jumped to 0).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "show.h"

static sigjmp_buf jb;
static volatile int runs;
static volatile int last_code, last_signo;
static void *volatile last_addr;
static char *page;
static volatile int *volatile bad = (volatile int *)16;

static void jump_out(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	runs++;
	last_signo = si->si_signo, last_code = si->si_code, last_addr = si->si_addr;
	(void)sig;
	siglongjmp(jb, 1);
}

/* Returns: the access is made again; the third time the page becomes writable. */
static void fix_on_third(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	last_addr = si->si_addr, last_code = si->si_code;
	if (++runs == 3)
		mprotect(page, 4096, PROT_READ | PROT_WRITE);
}

static void on_usr1(int sig)
{
	(void)sig;
	runs++;
}

static void catch_sig(int sig, void (*h)(int, siginfo_t *, void *), int flags)
{
	struct sigaction sa = {.sa_sigaction = h, .sa_flags = SA_SIGINFO | flags};
	sigaction(sig, &sa, NULL);
}

static void report(const char *what)
{
	printf("%s: handler ran %d, signo %d, code %d\n", what, runs, last_signo, last_code);
}

static volatile int zero = 0, one = 1; /* 1 / x would be a compare */

static void fpe_default(void)
{
	signal(SIGFPE, SIG_DFL);
	/* cppcheck-suppress zerodiv ; the point: a division by zero */
	printf("%d\n", one / zero);
}

static void segv_blocked(void)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGSEGV);
	sigprocmask(SIG_BLOCK, &s, NULL); /* a fault is not held pending: it ends the process */
	*bad = 1;
}

static void segv_ignored(void)
{
	signal(SIGSEGV, SIG_IGN);
	*bad = 1;
}

static void resethand_usr1(void)
{
	struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_RESETHAND};
	sigaction(SIGUSR1, &sa, NULL);
	runs = 0;
	raise(SIGUSR1);
	printf("SA_RESETHAND: handler ran %d\n", runs);
	fflush(stdout);
	raise(SIGUSR1);
}

static void resethand_fault(void)
{
	catch_sig(SIGSEGV, jump_out, SA_RESETHAND);
	runs = 0;
	if (!sigsetjmp(jb, 1))
		*bad = 1;
	printf("SA_RESETHAND fault: handler ran %d\n", runs);
	fflush(stdout);
	*bad = 1;
}

/* body in a child, and how the child ended. */
static void in_child(const char *what, void (*body)(void))
{
	int st;
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		body();
		_exit(0);
	}
	waitpid(c, &st, 0);
	show_status(what, st);
}

int main(void)
{
	catch_sig(SIGSEGV, jump_out, 0);
	if (!sigsetjmp(jb, 1)) {
		*bad = 1;
		printf("not reached\n");
	}
	report("write to address 16");
	printf("  si_addr is the address: %d\n", last_addr == (void *)16);

	page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	runs = 0;
	if (!sigsetjmp(jb, 1)) {
		page[100] = 1;
		printf("not reached\n");
	}
	report("write to a read-only page");
	printf("  si_addr is the address: %d\n", last_addr == page + 100);
	sigset_t now;
	sigprocmask(SIG_BLOCK, NULL, &now);
	printf("  signal 11 not blocked after siglongjmp: %d\n", !sigismember(&now, SIGSEGV));

	/* A handler that returns: the write is made again until it succeeds. */
	catch_sig(SIGSEGV, fix_on_third, 0);
	runs = 0;
	volatile uint64_t a = 0x1111, b = 0x2222;
	page[200] = 7;
	printf("handler returned until the page was writable: runs %d, byte %d, code %d\n", runs,
	       page[200], last_code);
	printf("  values around the fault kept: %d\n", a == 0x1111 && b == 0x2222);
	/* Every register the faulting code holds comes back after the handler returns. */
	mprotect(page, 4096, PROT_READ);
	runs = 0;
	uint64_t out[9] = {0}; /* the asm below fills it */
	__asm__ volatile("mov $0x1111, %%rax\n\tmov $0x2222, %%rdx\n\tmov $0x3333, %%rsi\n\t"
	                 "mov $0x4444, %%r8\n\tmov $0x5555, %%r9\n\tmov $0x6666, %%r10\n\t"
	                 "mov $0x7777, %%r11\n\tmov $0x8888, %%r12\n\t"
	                 "movb $9, (%%rdi)\n\t"
	                 "mov %%rax, 0(%%rcx)\n\tmov %%rdx, 8(%%rcx)\n\tmov %%rsi, 16(%%rcx)\n\t"
	                 "mov %%r8, 24(%%rcx)\n\tmov %%r9, 32(%%rcx)\n\tmov %%r10, 40(%%rcx)\n\t"
	                 "mov %%r11, 48(%%rcx)\n\tmov %%r12, 56(%%rcx)\n\tmov %%rdi, 64(%%rcx)"
	                 :
	                 : "D"(page + 300), "c"(out)
	                 : "rax", "rdx", "rsi", "r8", "r9", "r10", "r11", "r12", "memory");
	int same = out[8] == (uint64_t)(page + 300);
	for (int i = 0; i < 8; i++)
		same &= out[i] == 0x1111u * (uint64_t)(i + 1);
	printf("  registers after 3 faults: runs %d, byte %d, all kept %d\n", runs, page[300],
	       same);

	catch_sig(SIGFPE, jump_out, 0);
	runs = 0;
	if (!sigsetjmp(jb, 1))
		/* cppcheck-suppress zerodiv ; the point: a division by zero */
		printf("not reached %d\n", one / zero);
	report("division by zero");
	printf("  si_addr is an instruction address: %d\n", last_addr != NULL);

	catch_sig(SIGILL, jump_out, 0);
	runs = 0;
	if (!sigsetjmp(jb, 1))
		__asm__ volatile("ud2");
	report("ud2");

	/* Default actions and forced ones, each in a child. */
	in_child("division by zero, default action", fpe_default);
	in_child("fault with signal 11 blocked (handler installed)", segv_blocked);
	in_child("fault with signal 11 ignored", segv_ignored);
	/* SA_RESETHAND: the handler runs once, then the default action. */
	in_child("SA_RESETHAND second SIGUSR1", resethand_usr1);
	in_child("SA_RESETHAND second fault", resethand_fault);
	return 0;
}
