/*
 * The tail-latency experiment's two servers as a Linux program (issue 16,
 * item 5; docs/scheduling.md, "The tail-latency experiment"), beside
 * user/apps/tailbench on Hallows: the same workload (Shinjuku's bimodal
 * 99.5 % 0.5 us / 0.5 % 500 us, Poisson arrivals drawn by the same
 * generator with the same seeds, 10,000 requests per load point, the first
 * 500 not counted, work as a two-instruction loop), the same two policies:
 *
 *   fcfs   each request runs to completion, in arrival order;
 *   ps     processor sharing: a POSIX timer (timer_create, SIGEV_SIGNAL,
 *          SIGALRM every q us for the whole point, as the Hallows server's
 *          upcall quantum) interrupts the running request; the handler
 *          (on an alternate stack) admits arrivals, saves the interrupted
 *          context from its ucontext (general registers and the FXSAVE
 *          image), moves the request to the back of the queue and writes
 *          the head's context into the ucontext, so rt_sigreturn resumes
 *          the head. A request that completes switches to the next one in
 *          ring 3 (lg_tail_resume, no system call), as Hallows' uctx_resume.
 *
 * Like tailbench, arrivals are drawn ahead (all of a point's requests
 * stamped with their arrival times first) and admitted when the TSC
 * reaches them; under -icount shift=0 one instruction is one nanosecond.
 * Output: one "TAIL {json}" line per point with "system": "linux"
 * (tools/bench_tail.py --linux collects them). Only the legacy FXSAVE part
 * of the signal frame's FPU state is switched: the work uses no AVX.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>

#include "lg_bench.h"

#define NREQ       10000
#define WARMUP     500
#define NTASK      1024
#define SHORT_NS   500
#define LONG_NS    500000
#define LONG_PER_K 5
#define STACK      16384

struct req {
	uint64_t arrive_tsc;
	uint32_t work_ns, id;
};

struct task {
	struct req r;
	int started;
	uint64_t g[NGREG];                            /* saved general registers (ucontext order) */
	uint8_t fx[512] __attribute__((aligned(16))); /* saved FXSAVE image */
	uint8_t *stack_top;
	struct task *next; /* run queue or free list */
};

static struct req *reqs;
static struct task *tasks, *free_tasks, *qhead, *qtail, *cur;
static uint64_t *lat_ns, *scratch;
static uint32_t *work_of;
static uint32_t nextreq, completed, n_req;
static uint64_t t0, tsc_per_us = 1000, preemptions, ticks, missed;
static volatile int masked = 1;
static uint8_t *sched_stack, *stacks, *alt_stack; /* kept for the process's life */

/*
 * lg_tail_resume(g, fx, unmask): restore the FXSAVE image, every general
 * register of g (gregset_t order: r8..r15, rdi, rsi, rbp, rbx, rdx, rax,
 * rcx, rsp, rip, eflags), clear *unmask last, return to g's rip on g's
 * stack (below its red zone: rax, rflags and rip are pushed there).
 */
__asm__(".text\n"
        ".globl lg_tail_resume\n"
        "lg_tail_resume:\n"
        "	fxrstor64 (%rsi)\n"
        "	mov %rdx, %r11\n"      /* unmask */
        "	mov 120(%rdi), %rcx\n" /* target rsp */
        "	sub $152, %rcx\n"      /* 128 red zone + rax, rflags, rip */
        "	mov 104(%rdi), %rax\n"
        "	mov %rax, 0(%rcx)\n" /* rax */
        "	mov 136(%rdi), %rax\n"
        "	mov %rax, 8(%rcx)\n" /* rflags */
        "	mov 128(%rdi), %rax\n"
        "	mov %rax, 16(%rcx)\n" /* rip */
        "	mov 0(%rdi), %r8\n"
        "	mov 8(%rdi), %r9\n"
        "	mov 16(%rdi), %r10\n"
        "	mov 32(%rdi), %r12\n"
        "	mov 40(%rdi), %r13\n"
        "	mov 48(%rdi), %r14\n"
        "	mov 56(%rdi), %r15\n"
        "	mov 72(%rdi), %rsi\n"
        "	mov 80(%rdi), %rbp\n"
        "	mov 88(%rdi), %rbx\n"
        "	mov 96(%rdi), %rdx\n"
        "	mov %rcx, %rsp\n"
        "	mov 112(%rdi), %rcx\n"
        "	push 24(%rdi)\n" /* r11, restored after the unmask pointer */
        "	mov 64(%rdi), %rdi\n"
        "	movl $0, (%r11)\n"
        "	pop %r11\n"
        "	pop %rax\n"
        "	popfq\n"
        "	ret $128\n"
        ".globl lg_tail_run_on\n"
        "lg_tail_run_on:\n" /* (stack_top, fn, arg) */
        "	mov %rdi, %rsp\n"
        "	mov %rdx, %rdi\n"
        "	and $-16, %rsp\n"
        "	call *%rsi\n"
        "	ud2\n");

static inline uint64_t tsc_to_ns(uint64_t t)
{
	return t * 1000 / tsc_per_us;
}

/* xorshift64*, the natural logarithm and the arrivals: as user/apps/tailbench/tailbench.c. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static double ln(double x)
{
	int e = 0;
	while (x < 0.5)
		x *= 2, e--;
	double y = (x - 1) / (x + 1), y2 = y * y, term = y, sum = 0;
	for (int k = 1; k < 40; k += 2) {
		sum += term / k;
		term *= y2;
	}
	return 2 * sum + e * 0.69314718055994530942;
}

static void generate(uint32_t load_pct)
{
	uint64_t s = 0x9e3779b97f4a7c15ull ^ load_pct, at = 0;
	uint64_t gap_ns = 299750 / load_pct; /* integer, as tailbench's mean_gap_ns */
	double gap = (double)gap_ns;

	for (uint32_t i = 0; i < n_req; i++) {
		double u = (double)((rnd(&s) >> 11) + 1) / 9007199254740993.0;
		at += (uint64_t)(-ln(u) * gap) * tsc_per_us / 1000;
		reqs[i].arrive_tsc = at;
		reqs[i].id = i;
		reqs[i].work_ns = rnd(&s) % 1000 < LONG_PER_K ? LONG_NS : SHORT_NS;
	}
}

static void append(struct task **head, struct task **tail, struct task *t)
{
	t->next = NULL;
	if (*tail)
		(*tail)->next = t;
	else
		*head = t;
	*tail = t;
}

static void push(struct task *t)
{
	append(&qhead, &qtail, t);
}

/* Policy "fb" (user/rt/usched.c's USCHED_FB): preempted tasks wait here, behind fresh ones. */
static struct task *bg_head, *bg_tail;
static int fb;

static struct task *pop(void)
{
	struct task **head = qhead || !fb ? &qhead : &bg_head;
	struct task **tail = qhead || !fb ? &qtail : &bg_tail;
	struct task *t = *head;
	if (t && !(*head = t->next))
		*tail = NULL;
	return t;
}

/* The running task was preempted: the back of the queue, or of the second one for fb. */
static void requeue(struct task *t)
{
	if (fb)
		append(&bg_head, &bg_tail, t);
	else
		push(t);
}

/* Queue every request that has arrived (runs masked). */
static void admit(void)
{
	uint64_t now = lg_rdtsc();

	while (nextreq < n_req && free_tasks && reqs[nextreq].arrive_tsc + t0 <= now) {
		struct task *t = free_tasks;
		free_tasks = t->next;
		t->r = reqs[nextreq++];
		t->r.arrive_tsc += t0;
		t->started = 0;
		push(t);
	}
}

static void sched_loop(void *unused);
static jmp_buf point_done; /* where the last completion of a point returns to */

/* A request's life: the work, then (masked) its latency, then the next request. */
static void task_main(void *arg)
{
	struct task *t = arg;
	uint64_t n = t->r.work_ns / 2;

	masked = 0; /* on its own stack from here: the timer may switch it out */
	__asm__ volatile("1: decq %0\n\tjnz 1b" : "+r"(n));
	masked = 1;
	lat_ns[t->r.id] = tsc_to_ns(lg_rdtsc() - t->r.arrive_tsc);
	work_of[t->r.id] = t->r.work_ns;
	completed++;
	t->next = free_tasks;
	free_tasks = t;
	cur = NULL;
	lg_tail_run_on(sched_stack + STACK, sched_loop, NULL);
}

/* Runs masked on its own stack: admit, then run the head of the queue. */
static void sched_loop(void *unused)
{
	(void)unused;
	for (;;) {
		admit();
		if (completed == n_req)
			longjmp(point_done, 1); /* back to point(), on its own stack */
		struct task *t = pop();
		if (!t)
			continue;
		cur = t;
		if (!t->started) {
			t->started = 1;
			lg_tail_run_on(t->stack_top, task_main, t); /* task_main unmasks */
		}
		lg_tail_resume(t->g, t->fx, &masked);
	}
}

/* The PS quantum: switch to the head of the queue through the ucontext. */
static void on_tick(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	struct task *t = cur;

	(void)sig, (void)si;
	ticks++;
	if (masked || !t) {
		missed += masked != 0;
		return;
	}
	admit();
	if (!qhead && !bg_head)
		return; /* alone: it runs on */
	memcpy(t->g, uc->uc_mcontext.gregs, sizeof(t->g));
	memcpy(t->fx, uc->uc_mcontext.fpregs, sizeof(t->fx));
	requeue(t);
	struct task *n = pop();
	cur = n;
	preemptions++;
	if (!n->started) {
		n->started = 1;
		uc->uc_mcontext.gregs[REG_RIP] = (greg_t)task_main;
		uc->uc_mcontext.gregs[REG_RSP] = (greg_t)(n->stack_top - 8);
		uc->uc_mcontext.gregs[REG_RDI] = (greg_t)n;
		return;
	}
	memcpy(uc->uc_mcontext.gregs, n->g, sizeof(n->g));
	memcpy(uc->uc_mcontext.fpregs, n->fx, sizeof(n->fx));
}

/*
 * Preemption at arrival (policy "ps_arrival", as tailbench's): a second
 * POSIX timer, re-armed for each request's arrival time, delivers SIGRTMIN,
 * whose handler does what the quantum's does.
 */
static timer_t arr_tm;
static uint32_t arr_next;

static void arm_arrival(void)
{
	uint64_t now = lg_rdtsc();
	while (arr_next < n_req && reqs[arr_next].arrive_tsc + t0 <= now)
		arr_next++;
	if (arr_next == n_req)
		return;
	uint64_t ns = tsc_to_ns(reqs[arr_next].arrive_tsc + t0 - now);
	struct itimerspec its = {{0, 0}, {(time_t)(ns / 1000000000), (long)(ns % 1000000000)}};
	if (!ns)
		its.it_value.tv_nsec = 1;
	timer_settime(arr_tm, 0, &its, NULL);
}

static void on_arrival(int sig, siginfo_t *si, void *ucv)
{
	arm_arrival();
	on_tick(sig, si, ucv);
}

static void sort(uint64_t *a, uint32_t n)
{
	/* shell sort: no recursion, fast enough for 10,000 */
	for (uint32_t gap = n / 2; gap; gap = gap == 2 ? 1 : gap * 5 / 11)
		for (uint32_t i = gap; i < n; i++) {
			uint64_t v = a[i];
			uint32_t j = i;
			for (; j >= gap && a[j - gap] > v; j -= gap)
				a[j] = a[j - gap];
			a[j] = v;
		}
}

static void pcts(const uint64_t *v, uint32_t n, uint64_t out[3])
{
	uint32_t m = n - WARMUP;

	memcpy(scratch, v + WARMUP, m * sizeof(uint64_t));
	sort(scratch, m);
	out[0] = scratch[m * 50 / 100], out[1] = scratch[m * 99 / 100],
	out[2] = scratch[m * 999 / 1000];
}

/* One load point; 0 or -1. */
static int point(const char *policy, uint64_t q_ns, uint32_t load_pct)
{
	timer_t tm;
	struct sigevent ev;
	int ps = strcmp(policy, "fcfs") != 0;

	generate(load_pct);
	free_tasks = NULL;
	for (int i = NTASK - 1; i >= 0; i--)
		tasks[i].next = free_tasks, free_tasks = &tasks[i];
	qhead = qtail = bg_head = bg_tail = cur = NULL;
	nextreq = completed = 0;
	preemptions = ticks = missed = 0;
	masked = 1;
	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGALRM;
	if (ps) {
		struct itimerspec its = {{0, (long)q_ns}, {0, (long)q_ns}};
		if (timer_create(CLOCK_MONOTONIC, &ev, &tm) || timer_settime(tm, 0, &its, NULL))
			return lg_fail("tail.linux", "timer_create");
	}
	size_t plen = strlen(policy);
	int at_arrival = plen > 8 && !strcmp(policy + plen - 8, "_arrival");
	fb = !strncmp(policy, "fb", 2);
	if (at_arrival) {
		struct sigevent aev = ev;
		aev.sigev_signo = SIGRTMIN;
		if (timer_create(CLOCK_MONOTONIC, &aev, &arr_tm))
			return lg_fail("tail.linux", "timer_create");
	}
	t0 = lg_rdtsc() + 20 * tsc_per_us;
	arr_next = 0;
	if (at_arrival)
		arm_arrival();
	uint64_t start = lg_rdtsc();
	if (!setjmp(point_done))
		lg_tail_run_on(sched_stack + STACK, sched_loop, NULL);
	uint64_t wall = tsc_to_ns(lg_rdtsc() - start);
	if (ps)
		timer_delete(tm);
	if (at_arrival)
		timer_delete(arr_tm);
	uint64_t lat[3], slow[3], short_lat[3];
	static uint64_t sd[NREQ];
	pcts(lat_ns, n_req, lat);
	for (uint32_t i = 0; i < n_req; i++)
		sd[i] = lat_ns[i] * 100 / work_of[i];
	pcts(sd, n_req, slow);
	uint32_t ns_ = 0;
	for (uint32_t i = WARMUP; i < n_req; i++)
		if (work_of[i] == SHORT_NS)
			sd[WARMUP + ns_++] = lat_ns[i];
	pcts(sd, WARMUP + ns_, short_lat);
	printf("TAIL {\"system\": \"linux\", \"policy\": \"%s\", \"quantum_us\": %lu, "
	       "\"load_pct\": %u, \"requests\": %u, \"p50_ns\": %lu, \"p99_ns\": %lu, "
	       "\"p999_ns\": %lu, \"p50_slowdown_x100\": %lu, \"p99_slowdown_x100\": %lu, "
	       "\"p999_slowdown_x100\": %lu, \"short_p99_ns\": %lu, \"preemptions\": %lu, "
	       "\"upcalls\": %lu, \"masked_expiries\": %lu, \"virtual_ns\": %lu}\n",
	       policy, (unsigned long)(q_ns / 1000), load_pct, n_req - WARMUP,
	       (unsigned long)lat[0], (unsigned long)lat[1], (unsigned long)lat[2],
	       (unsigned long)slow[0], (unsigned long)slow[1], (unsigned long)slow[2],
	       (unsigned long)short_lat[1], (unsigned long)preemptions, (unsigned long)ticks,
	       (unsigned long)missed, (unsigned long)wall);
	fflush(stdout);
	return 0;
}

/* iters: requests per point (default NREQ; at least 1,000 and at most NREQ). */
int lg_bench_tail(long iters)
{
	static const struct {
		const char *policy;
		uint64_t q_ns;
	} cfgs[] = {{"fcfs", 0},  {"ps", 5000},         {"ps", 10000},       {"ps", 25000},
	            {"fb", 5000}, {"ps_arrival", 5000}, {"fb_arrival", 5000}};
	static const uint32_t loads[] = {1, 2, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90};
	struct sigaction sa;
	stack_t alt;

	n_req = (uint32_t)(iters < 1000 ? 1000 : iters > NREQ ? NREQ : iters);
	/*
	 * Linux starts with low-resolution timers (a 4 ms tick) and switches to
	 * high resolution once its TSC clocksource is trusted, which in the guest
	 * comes after /init starts: a first run saw 15 SIGALRMs in a 60 ms point
	 * with a 5 us interval. Wait for the switch (clock_getres turns 1 ns).
	 */
	struct timespec res = {0, 0}, nap = {0, 10000000};
	for (int i = 0; i < 1000; i++) {
		clock_getres(CLOCK_MONOTONIC, &res);
		if (res.tv_sec == 0 && res.tv_nsec <= 1000)
			break;
		nanosleep(&nap, NULL);
	}
	if (res.tv_sec || res.tv_nsec > 1000) {
		printf("BENCH-ERROR tail.linux no high-resolution timers (resolution %ld ns)\n",
		       (long)res.tv_nsec);
		return -1;
	}
	struct timespec a, b;
	uint64_t ta = lg_rdtsc();
	clock_gettime(CLOCK_MONOTONIC, &a);
	do
		clock_gettime(CLOCK_MONOTONIC, &b);
	while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < 2000000);
	tsc_per_us = (lg_rdtsc() - ta) * 1000 /
	             (uint64_t)((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec));
	if (!tsc_per_us)
		tsc_per_us = 1;
	reqs = calloc(NREQ, sizeof(*reqs));
	tasks = calloc(NTASK, sizeof(*tasks));
	lat_ns = calloc(NREQ, sizeof(*lat_ns));
	scratch = calloc(NREQ, sizeof(*scratch));
	work_of = calloc(NREQ, sizeof(*work_of));
	sched_stack = malloc(STACK);
	stacks = malloc((size_t)NTASK * STACK);
	alt.ss_sp = alt_stack = malloc(65536);
	alt.ss_size = 65536;
	alt.ss_flags = 0;
	if (!reqs || !tasks || !lat_ns || !scratch || !work_of || !sched_stack || !stacks ||
	    !alt.ss_sp)
		return lg_fail("tail.linux", "out of memory");
	for (int i = 0; i < NTASK; i++)
		tasks[i].stack_top = stacks + (size_t)(i + 1) * STACK;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_tick;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGRTMIN); /* the two handlers never nest */
	if (sigaltstack(&alt, NULL) || sigaction(SIGALRM, &sa, NULL))
		return lg_fail("tail.linux", "sigaction");
	sa.sa_sigaction = on_arrival;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGALRM);
	if (sigaction(SIGRTMIN, &sa, NULL))
		return lg_fail("tail.linux", "sigaction");
	for (unsigned c = 0; c < sizeof(cfgs) / sizeof(cfgs[0]); c++)
		for (unsigned l = 0; l < sizeof(loads) / sizeof(loads[0]); l++)
			if (point(cfgs[c].policy, cfgs[c].q_ns, loads[l]))
				return -1;
	signal(SIGALRM, SIG_IGN);
	return 0;
}
