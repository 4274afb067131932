/*
 * What the reuse of an ended process's objects could break (issue 15
 * benchmarks, docs/decisions.md): the personality gives a process slot's
 * address space, page tables, cspace and thread to the slot's next process,
 * and maps some pages of a fork child at once. Each case forks a child
 * after another has ended, so the second one gets the first one's objects:
 * none of the first one's memory or registers may show in it. The output
 * is compared with Linux's.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "show.h"

#define SECRET 0x5ec2e75ec2e75ec2ull
#define AT     ((uint64_t *)0x3c0000000ull) /* a fixed place no other mapping takes */
#define PAGES  4

static sigjmp_buf jb;

static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(jb, 1);
}

/* Wait for child c and print how it ended. */
static void reap(const char *what, pid_t c)
{
	int st = 0;

	if (c < 0 || waitpid(c, &st, 0) != c)
		printf("%s: no child\n", what);
	else
		show_status(what, st);
}

/* A child that ends at once with status code. */
static pid_t fork_exit(int code)
{
	pid_t c = fork();

	if (c == 0)
		_exit(code);
	return c;
}

/* 8 KiB more heap (musl's sbrk refuses to grow it): its old end, or NULL. */
static uint64_t *more_heap(void)
{
	long end = syscall(SYS_brk, 0);

	return end > 0 && syscall(SYS_brk, end + 8192) == end + 8192 ? (uint64_t *)end : NULL;
}

/* The writer: the secret in PAGES fixed pages and in heap beyond the parent's break. */
static void leave_secrets(void)
{
	uint64_t *m = mmap(AT, PAGES * 4096, PROT_READ | PROT_WRITE,
	                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	uint64_t *heap = more_heap();

	if (m == MAP_FAILED || !heap)
		_exit(2);
	for (int i = 0; i < PAGES * 512; i++)
		m[i] = SECRET;
	for (int i = 0; i < 1024; i++)
		heap[i] = SECRET;
	_exit(0);
}

/* The reader, a child of the same parent after the writer has ended. */
static void look_for_secrets(int round)
{
	volatile int found = 0, faulted = 0;
	struct sigaction sa = {.sa_handler = on_segv};

	sigaction(SIGSEGV, &sa, NULL);
	for (int pg = 0; pg < PAGES; pg++) {
		if (!sigsetjmp(jb, 1))
			found += *(volatile uint64_t *)(AT + pg * 512) == SECRET;
		else
			faulted++;
	}
	uint64_t *m = mmap(AT, PAGES * 4096, PROT_READ | PROT_WRITE,
	                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	int nonzero = 0;
	for (int i = 0; m != MAP_FAILED && i < PAGES * 512; i++)
		nonzero += m[i] != 0;
	uint64_t *heap = more_heap();
	for (int i = 0; heap && i < 1024; i++)
		nonzero += heap[i] != 0;
	printf("round %d: the writer's pages: %d faulted, %d showed the secret; fresh memory: %d "
	       "words not zero\n",
	       round, faulted, found, nonzero);
	_exit(found || nonzero ? 1 : 0);
}

static void stale_mappings(void)
{
	for (int round = 0; round < 3; round++) {
		pid_t w = fork();
		if (w == 0)
			leave_secrets();
		reap("writer", w);
		pid_t r = fork();
		if (r == 0)
			look_for_secrets(round);
		reap("reader", r);
	}
}

/* Copy-on-write between a parent and a child that got an ended child's objects. */
static void cow_after_reuse(void)
{
	static volatile int shared = 7;
	int to_child[2], to_parent[2];
	char b = 0;

	reap("first", fork_exit(0));
	pipe(to_child);
	pipe(to_parent);
	pid_t c = fork();
	if (c == 0) {
		shared = 8; /* the parent must not see it */
		write(to_parent[1], "w", 1);
		read(to_child[0], &b, 1);
		printf("cow: the child sees %d after the parent wrote 9\n", shared);
		_exit(shared == 8 ? 0 : 1);
	}
	read(to_parent[0], &b, 1);
	printf("cow: the parent sees %d after the child wrote 8\n", shared);
	shared = 9;
	write(to_child[1], "p", 1);
	reap("cow child", c);
	printf("cow: the parent keeps %d\n", shared);
	close(to_child[0]), close(to_child[1]), close(to_parent[0]), close(to_parent[1]);
}

/*
 * Bug: a read-only private page was shared with a fork child as it was (not
 * copy-on-write, since neither could write it); mprotect made it writable
 * in one of them without a copy, so the child's writes showed in the
 * parent's memory (and the parent's in the child's).
 */
static void mprotect_writable_after_fork(void)
{
	volatile char *m =
	    mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int to_parent[2];
	char b = 0;

	if (m == MAP_FAILED || pipe(to_parent))
		return;
	m[0] = 'A';
	mprotect((void *)m, 4096, PROT_READ);
	pid_t c = fork();
	if (c == 0) {
		mprotect((void *)m, 4096, PROT_READ | PROT_WRITE);
		m[0] = 'C';
		write(to_parent[1], "w", 1);
		_exit(m[0] == 'C' ? 0 : 1);
	}
	read(to_parent[0], &b, 1);
	reap("mprotect child", c);
	printf("mprotect after fork: the parent sees %c after the child wrote C\n", m[0]);
	mprotect((void *)m, 4096, PROT_READ | PROT_WRITE);
	m[0] = 'P';
	c = fork();
	if (c == 0) {
		printf("mprotect after fork: the child sees %c\n", m[0]);
		_exit(0);
	}
	reap("second mprotect child", c);
	/* Read-only again in the parent, then writable again: its own copy, the child's gone. */
	mprotect((void *)m, 4096, PROT_READ);
	c = fork();
	if (c == 0) {
		mprotect((void *)m, 4096, PROT_READ | PROT_WRITE);
		m[0] = 'D';
		_exit(0);
	}
	reap("third mprotect child", c);
	mprotect((void *)m, 4096, PROT_READ | PROT_WRITE);
	printf("mprotect after fork: the parent still sees %c\n", m[0]);
	munmap((void *)m, 4096);
	close(to_parent[0]), close(to_parent[1]);
}

/* Vector registers: the child after an ended child that filled them sees the parent's. */
static void vector_registers(void)
{
	unsigned a, b, c, d;

	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	bool avx = (c & (1u << 28)) && (c & (1u << 27));
	if (avx) {
		uint32_t xlo, xhi;
		__asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
		avx = (xlo & 6) == 6;
	}
	pid_t w = fork();
	if (w == 0) {
		uint64_t pat[4] = {SECRET, SECRET, SECRET, SECRET};
		__asm__ volatile("movdqu %0, %%xmm7" ::"m"(pat) : "xmm7");
		if (avx)
			__asm__ volatile("vmovdqu %0, %%ymm3\n\tvmovdqu %0, %%ymm12" ::"m"(pat)
			                 : "xmm3", "xmm12");
		for (;;) /* the registers stay as they are: killed here */
			pause();
	}
	usleep(20000);
	kill(w, SIGKILL);
	reap("vector writer", w);
	pid_t r = fork();
	if (r == 0) {
		uint64_t x[2] = {0}, y3[4] = {0}, y12[4] = {0};
		__asm__ volatile("movdqu %%xmm7, %0" : "=m"(x));
		if (avx)
			__asm__ volatile("vmovdqu %%ymm3, %0\n\tvmovdqu %%ymm12, %1"
			                 : "=m"(y3), "=m"(y12));
		int leak = x[0] == SECRET || y3[2] == SECRET || y12[3] == SECRET;
		printf("vector registers after a killed child: %s\n", leak ? "LEAKED" : "clean");
		_exit(leak);
	}
	reap("vector reader", r);
}

static int pfd[2];

static void *blocked_reader(void *arg)
{
	char b = 0;

	(void)arg;
	return read(pfd[0], &b, 1) == 1 && b == 'g' ? (void *)1 : NULL;
}

static void *spinner(void *arg)
{
	(void)arg;
	for (;;)
		sched_yield();
	return NULL;
}

/* A process with threads ends (one blocked in a read, one spinning); the next gets its slot. */
static void exit_with_threads(void)
{
	pid_t c = fork();

	if (c == 0) {
		pthread_t t1, t2;
		pipe(pfd);
		pthread_create(&t1, NULL, blocked_reader, NULL);
		pthread_create(&t2, NULL, spinner, NULL);
		usleep(20000);
		_exit(5); /* exit_group: every thread goes */
	}
	reap("threaded child", c);
	c = fork();
	if (c == 0) {
		pthread_t t;
		void *got = NULL;
		pipe(pfd);
		pthread_create(&t, NULL, blocked_reader, NULL);
		write(pfd[1], "g", 1);
		pthread_join(t, &got);
		printf("threads: the next process's thread read %s\n",
		       got ? "its byte" : "nothing");
		_exit(got ? 0 : 1);
	}
	reap("next threaded child", c);
}

/* fork while a sibling thread waits in a read; the thread goes on after the child has ended. */
static void fork_with_blocked_thread(void)
{
	pthread_t t;
	void *got = NULL;

	pipe(pfd);
	pthread_create(&t, NULL, blocked_reader, NULL);
	usleep(20000);
	for (int i = 0; i < 3; i++)
		reap("child of a threaded process", fork_exit(i));
	write(pfd[1], "g", 1);
	pthread_join(t, &got);
	printf("blocked thread: %s after three forks\n", got ? "read its byte" : "read nothing");
	close(pfd[0]), close(pfd[1]);
}

/* A parent killed while its child lives: the child (an orphan) ends on its own; the killed
 * parent's slot goes to the next child, which runs. */
static void killed_parent(void)
{
	int go[2], done[2];
	char b = 0;

	pipe(go);
	pipe(done);
	pid_t p = fork();
	if (p == 0) {
		if (fork() == 0) {
			read(go[0], &b, 1); /* the parent is gone by then */
			write(done[1], "o", 1);
			_exit(0);
		}
		for (;;)
			pause();
	}
	usleep(20000);
	kill(p, SIGKILL);
	reap("killed parent", p);
	write(go[1], "g", 1);
	read(done[0], &b, 1);
	printf("killed parent: the orphan ran: %c\n", b);
	reap("after the killed parent", fork_exit(3));
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	stale_mappings();
	cow_after_reuse();
	mprotect_writable_after_fork();
	vector_registers();
	exit_with_threads();
	fork_with_blocked_thread();
	killed_parent();
	return 0;
}
