/*
 * sigaltstack (issue 15): SS_ONSTACK, SS_DISABLE and SS_AUTODISARM;
 * handlers with SA_ONSTACK run on the alternate stack (nested ones below
 * the first), those without it on the thread's stack; EPERM when changing
 * it while on it, ENOMEM below MINSIGSTKSZ, EINVAL for bad flags, EFAULT;
 * uc_stack in the handler's frame as Linux fills it, and rt_sigreturn
 * taking it back; the stack kept across fork, cleared by execve and for a
 * new thread; and the classic use: a thread that overflows its stack
 * takes SIGSEGV on the alternate stack and goes on.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "show.h"

#define ALT_SIZE 65536
#ifndef SS_AUTODISARM /* the kernel's (musl has it; older C libraries do not) */
#define SS_AUTODISARM (1U << 31)
#endif

static char alt[ALT_SIZE] __attribute__((aligned(16)));
static char alt2[ALT_SIZE] __attribute__((aligned(16)));

static int on(const char *stack, const void *addr)
{
	return (const char *)addr >= stack && (const char *)addr < stack + ALT_SIZE;
}

/* The raw call: musl's sigaltstack checks some arguments itself. */
static long ss_call(const void *ss, void *old)
{
	return syscall(SYS_sigaltstack, ss, old);
}

static void show_ss(const char *what, const stack_t *s)
{
	printf("%s: sp %s size %zu flags %#x\n", what,
	       s->ss_sp == alt    ? "alt"
	       : s->ss_sp == alt2 ? "alt2"
	       : s->ss_sp         ? "other"
	                          : "null",
	       s->ss_size, (unsigned)s->ss_flags);
}

/* What sigaltstack(NULL, &o) says: its result (errno when it failed) and o. */
struct seen {
	long r;
	int err;
	stack_t o;
};

static void look(struct seen *q)
{
	memset(&q->o, 0x5a, sizeof(q->o));
	errno = 0;
	q->r = ss_call(NULL, &q->o);
	q->err = errno;
}

static void show_seen(const char *what, const struct seen *q)
{
	if (q->r)
		printf("%s: sigaltstack failed errno %d\n", what, q->err);
	else
		show_ss(what, &q->o);
}

static void query(const char *what)
{
	struct seen q;
	look(&q);
	show_seen(what, &q);
}

/* A call made in a handler: its result and errno, printed once the handler has returned (a
 * handler only records: printf is not async-signal-safe). */
struct call {
	long r;
	int err;
};

static void call_show(const char *what, const struct call *c)
{
	printf("%s: %ld errno %d\n", what, c->r, c->r < 0 ? c->err : 0);
}

/* What a handler saw: where it ran, its frame's uc_stack, sigaltstack's view, two calls. */
static struct {
	int sig, on_alt;
	stack_t uc_stack;
	struct seen inside, after;
	struct call change, query;
} h;
static volatile int depth, inner_sig, inner_on, inner_below;
static volatile uintptr_t outer_at;

/* What a handler on the alternate stack sees as it starts, and its try to change that stack. */
static void record_entry(int sig, const ucontext_t *uc, const char *here)
{
	h.sig = sig, h.on_alt = on(alt, here), h.uc_stack = uc->uc_stack;
	look(&h.inside);
	stack_t n = {.ss_sp = alt2, .ss_size = ALT_SIZE};
	errno = 0;
	h.change.r = ss_call(&n, NULL), h.change.err = errno;
}

static void on_usr1(int sig, siginfo_t *si, void *ucv)
{
	char here;
	(void)si;
	record_entry(sig, ucv, &here);
	errno = 0;
	h.query.r = ss_call(NULL, NULL), h.query.err = errno;
	if (depth++ == 0) {
		outer_at = (uintptr_t)&here;
		raise(SIGUSR2); /* nested: SA_ONSTACK too */
		outer_at = 0;   /* (no address of this frame outlives it) */
	}
}

static void show_usr1(void)
{
	printf("handler %d: on alt %d\n", h.sig, h.on_alt);
	show_ss("  uc_stack", &h.uc_stack);
	show_seen("  inside", &h.inside);
	call_show("  change while on it (EPERM)", &h.change);
	call_show("  the same while on it (EPERM)", &h.query);
}

static void on_usr2(int sig, siginfo_t *si, void *ucv)
{
	char here;
	(void)si, (void)ucv;
	inner_sig = sig;
	inner_on = on(alt, &here);
	inner_below = outer_at && (uintptr_t)&here < outer_at;
}

static volatile int plain_sig, plain_on;

static void on_plain(int sig)
{
	char here;
	plain_sig = sig, plain_on = on(alt, &here);
}

static void on_autodisarm(int sig, siginfo_t *si, void *ucv)
{
	char here;
	(void)si;
	record_entry(sig, ucv, &here);
	look(&h.after);
}

static void on_rewrite(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	(void)sig, (void)si;
	uc->uc_stack.ss_sp = alt2; /* rt_sigreturn takes it (not on it then: autodisarm) */
}

static void handle(int sig, void (*fn)(int, siginfo_t *, void *), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fn;
	sa.sa_flags = SA_SIGINFO | flags;
	sigaction(sig, &sa, NULL);
}

static void errors(void)
{
	stack_t s = {.ss_sp = alt, .ss_size = ALT_SIZE, .ss_flags = 5};
	SHOW("bad flags 5 (EINVAL)", ss_call(&s, NULL));
	s.ss_flags = 0x40;
	SHOW("bad flags 0x40 (EINVAL)", ss_call(&s, NULL));
	s.ss_flags = 0, s.ss_size = 2047;
	SHOW("size 2047 (ENOMEM)", ss_call(&s, NULL));
	s.ss_flags = 5, s.ss_size = 100;
	SHOW("bad flags and size (EINVAL first)", ss_call(&s, NULL));
	query("unchanged");
	s.ss_flags = 0, s.ss_size = 2048;
	SHOW("size 2048 (MINSIGSTKSZ)", ss_call(&s, NULL));
	query("set");
	s.ss_flags = SS_DISABLE, s.ss_size = 12345;
	SHOW("SS_DISABLE", ss_call(&s, NULL));
	query("disabled");
	SHOW("bad ss (EFAULT)", ss_call((void *)8, NULL));
	stack_t o;
	SHOW("bad old (EFAULT)", ss_call(NULL, (void *)8));
	s.ss_flags = 0, s.ss_size = ALT_SIZE;
	SHOW("set with a bad old (EFAULT)", ss_call(&s, (void *)-4096L));
	query("set anyway");
	s.ss_flags = SS_ONSTACK;
	SHOW("SS_ONSTACK as the mode", ss_call(&s, &o));
	show_ss("old", &o);
	query("after SS_ONSTACK");
	s.ss_flags = SS_DISABLE;
	ss_call(&s, NULL);
	SHOW("sigaltstack(NULL, NULL)", ss_call(NULL, NULL));
}

static void *thread_query(void *arg)
{
	(void)arg;
	query("new thread");
	return NULL;
}

/* ---- the classic use: stack overflow in a thread, SIGSEGV on the alternate stack ---- */
static sigjmp_buf back;
static volatile int segv_on_alt, segv_code;
static char *thread_alt;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	char here;
	(void)sig, (void)uc;
	segv_on_alt = (char *)&here >= thread_alt && (char *)&here < thread_alt + ALT_SIZE;
	segv_code = si->si_code;
	siglongjmp(back, 1);
}

static int recurse(int n)
{
	volatile char pad[1024];
	pad[0] = (char)n, pad[1023] = (char)n;
	return n > 1000000 ? pad[0] : recurse(n + 1) + pad[1023];
}

static void *overflow(void *arg)
{
	thread_alt = arg;
	stack_t s = {.ss_sp = thread_alt, .ss_size = ALT_SIZE};
	if (sigaltstack(&s, NULL))
		return (void *)1;
	if (sigsetjmp(back, 1) == 0) {
		recurse(0);
		printf("overflow: the recursion ended?\n");
		return NULL;
	}
	printf("overflow: signal 11 caught on the alternate stack %d, si_code %d\n", segv_on_alt,
	       segv_code);
	query("overflow thread after");
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "exec")) {
		query("after execve");
		return 0;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	query("initial");
	errors();

	stack_t s = {.ss_sp = alt, .ss_size = ALT_SIZE};
	SHOW("set alt", ss_call(&s, NULL));
	handle(SIGUSR1, on_usr1, SA_ONSTACK);
	handle(SIGUSR2, on_usr2, SA_ONSTACK);
	raise(SIGUSR1);
	show_usr1();
	printf("handler %d: on alt %d, below the outer one %d\n", inner_sig, inner_on, inner_below);
	query("after the handlers");
	signal(SIGHUP, on_plain);
	raise(SIGHUP);
	printf("handler %d without SA_ONSTACK: on alt %d\n", plain_sig, plain_on);

	/* SS_AUTODISARM: off while a handler runs, back with rt_sigreturn */
	s.ss_flags = SS_AUTODISARM;
	SHOW("set SS_AUTODISARM", ss_call(&s, NULL));
	query("armed");
	handle(SIGUSR1, on_autodisarm, SA_ONSTACK);
	raise(SIGUSR1);
	printf("autodisarm handler %d: on alt %d\n", h.sig, h.on_alt);
	show_ss("  uc_stack", &h.uc_stack);
	show_seen("  inside (disarmed)", &h.inside);
	call_show("  change while disarmed", &h.change);
	show_seen("  after the change", &h.after);
	query("after the autodisarm handler");
	handle(SIGUSR1, on_rewrite, SA_ONSTACK);
	raise(SIGUSR1);
	query("after a handler rewrote uc_stack");

	/* disabled: SA_ONSTACK handlers on the normal stack */
	s.ss_flags = SS_DISABLE;
	ss_call(&s, NULL);
	handle(SIGUSR1, on_usr1, SA_ONSTACK);
	depth = 1;
	raise(SIGUSR1);
	show_usr1();

	s.ss_sp = alt, s.ss_flags = 0;
	ss_call(&s, NULL);
	pid_t c = fork();
	if (c == 0) {
		query("fork child");
		execl(argv[0], argv[0], "exec", (char *)NULL);
		_exit(99);
	}
	int st;
	waitpid(c, &st, 0);
	show_status("fork child", st);

	pthread_t t;
	pthread_create(&t, NULL, thread_query, NULL);
	pthread_join(t, NULL);

	static char thread_alt_mem[ALT_SIZE] __attribute__((aligned(16)));
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 65536);
	handle(SIGSEGV, on_segv, SA_ONSTACK);
	void *res = NULL;
	if (pthread_create(&t, &at, overflow, thread_alt_mem) == 0)
		pthread_join(t, &res);
	printf("overflow thread: %ld\n", (long)(intptr_t)res);
	query("main thread at the end");
	return 0;
}
