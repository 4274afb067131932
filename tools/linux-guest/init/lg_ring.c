/*
 * Linux's nearest equivalents of a Hallows Ring message (issue 12,
 * docs/benchmarks.md "Ring message beside Linux"): 64-byte messages, each
 * carrying a sequence number the consumer checks, from a producer process
 * (the parent, CPU 0) to a consumer process (the forked child, CPU 0 or 1).
 *
 *   pipe     unbatched: one write(64) and one read(64) per message;
 *            batched: one write and one read of 32 messages (2048 bytes).
 *   eventfd  a 32-entry ring of 64-byte entries in MAP_SHARED memory (the
 *            layout of a Hallows Ring), head and tail indices with
 *            acquire/release ordering, and two eventfds for the wake-ups:
 *            "data" (producer -> consumer) and "space" (consumer ->
 *            producer, waited on only when the ring is full).
 *            unbatched: the data eventfd in semaphore mode, one write(1)
 *            per message and one read per message, one space write per
 *            message; batched: one write(n) per batch of up to 32, the
 *            consumer takes everything the counter says in one read and
 *            writes the space eventfd once.
 *
 * The consumer acknowledges on a third pipe after the warm-up and after
 * the last message; the parent's TSC is read around the measured messages
 * up to that acknowledgement, so the figure is everything both processes
 * and the kernel executed (all CPUs, under icount) per message.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lg_bench.h"

#define RG_MSG     64
#define RG_ENTRIES 32
#define RG_WARMUP  256

/* The shared ring of the eventfd variant: indices on their own lines. */
struct rg_shared {
	_Alignas(64) uint32_t head; /* consumer: next entry to read */
	_Alignas(64) uint32_t tail; /* producer: next entry to write */
	_Alignas(64) uint8_t entry[RG_ENTRIES][RG_MSG];
};

struct rg_chan {
	int kind; /* 0 pipe, 1 eventfd */
	int batch;
	int data[2];   /* pipe variant: the message pipe */
	int efd_data;  /* eventfd variant */
	int efd_space; /* eventfd variant */
	int ack[2];    /* consumer -> producer: warm-up done, all done */
	struct rg_shared *sh;
};

/* Consumer side of the pipe variant: n messages; returns 0 or an exit code. */
static int pipe_consume(struct rg_chan *c, uint64_t *next, long n)
{
	uint8_t buf[RG_ENTRIES * RG_MSG];
	size_t want = (size_t)c->batch * RG_MSG;

	for (long got = 0; got < n;) {
		size_t have = 0;
		do { /* whole messages only */
			ssize_t r = read(c->data[0], buf + have, want - have);
			if (r <= 0)
				return 3;
			have += (size_t)r;
		} while (have % RG_MSG != 0);
		for (size_t i = 0; i < have / RG_MSG; i++) {
			uint64_t seq;
			memcpy(&seq, buf + i * RG_MSG, sizeof(seq));
			if (seq != (*next)++)
				return 4;
		}
		got += (long)(have / RG_MSG);
	}
	return 0;
}

/* Producer side of the pipe variant: n messages from *next. */
static int pipe_produce(struct rg_chan *c, uint64_t *next, long n)
{
	uint8_t buf[RG_ENTRIES * RG_MSG];

	memset(buf, 0x5a, sizeof(buf));
	for (long sent = 0; sent < n;) {
		long k = n - sent < c->batch ? n - sent : c->batch;
		for (long i = 0; i < k; i++) {
			uint64_t seq = (*next)++;
			memcpy(buf + i * RG_MSG, &seq, sizeof(seq));
		}
		if (write(c->data[1], buf, (size_t)k * RG_MSG) != (ssize_t)(k * RG_MSG))
			return -1;
		sent += k;
	}
	return 0;
}

/* Consumer side of the eventfd variant. */
static int efd_consume(struct rg_chan *c, uint64_t *next, long n)
{
	struct rg_shared *sh = c->sh;
	uint64_t one = 1;

	for (long got = 0; got < n;) {
		uint64_t cnt;
		if (read(c->efd_data, &cnt, sizeof(cnt)) != sizeof(cnt))
			return 3;
		uint32_t head = sh->head;
		uint32_t tail = __atomic_load_n(&sh->tail, __ATOMIC_ACQUIRE);
		if (cnt > tail - head)
			return 5; /* more announced than published */
		for (uint64_t i = 0; i < cnt; i++) {
			uint64_t seq;
			memcpy(&seq, sh->entry[(head + i) % RG_ENTRIES], sizeof(seq));
			if (seq != (*next)++)
				return 4;
		}
		__atomic_store_n(&sh->head, head + (uint32_t)cnt, __ATOMIC_RELEASE);
		if (write(c->efd_space, &one, sizeof(one)) != sizeof(one))
			return 3;
		got += (long)cnt;
	}
	return 0;
}

/* Producer side of the eventfd variant. */
static int efd_produce(struct rg_chan *c, uint64_t *next, long n)
{
	struct rg_shared *sh = c->sh;

	for (long sent = 0; sent < n;) {
		uint32_t tail = sh->tail;
		uint32_t used = tail - __atomic_load_n(&sh->head, __ATOMIC_ACQUIRE);
		uint64_t v;
		if (used == RG_ENTRIES) { /* full: sleep until the consumer frees some */
			if (read(c->efd_space, &v, sizeof(v)) != sizeof(v))
				return -1;
			continue;
		}
		long k = (long)(RG_ENTRIES - used);
		if (k > c->batch)
			k = c->batch;
		if (k > n - sent)
			k = n - sent;
		for (long i = 0; i < k; i++) {
			uint64_t seq = (*next)++;
			memcpy(sh->entry[(tail + (uint32_t)i) % RG_ENTRIES], &seq, sizeof(seq));
		}
		__atomic_store_n(&sh->tail, tail + (uint32_t)k, __ATOMIC_RELEASE);
		v = (uint64_t)k;
		if (write(c->efd_data, &v, sizeof(v)) != sizeof(v))
			return -1;
		sent += k;
	}
	return 0;
}

/* The forked consumer: warm-up, acknowledge, the measured run, acknowledge. */
static void rg_child(struct rg_chan *c, long iters, int cpu)
{
	uint64_t next = 0;
	char a = 'a';
	int rc;

	if (lg_pin_cpu(cpu) != 0)
		_exit(2);
	rc = c->kind == 0 ? pipe_consume(c, &next, RG_WARMUP) : efd_consume(c, &next, RG_WARMUP);
	if (rc == 0 && write(c->ack[1], &a, 1) != 1)
		rc = 3;
	if (rc == 0)
		rc = c->kind == 0 ? pipe_consume(c, &next, iters) : efd_consume(c, &next, iters);
	if (rc == 0 && write(c->ack[1], &a, 1) != 1)
		rc = 3;
	_exit(rc);
}

static int rg_open(struct rg_chan *c)
{
	if (pipe(c->ack) != 0)
		return -1;
	if (c->kind == 0)
		return pipe(c->data);
	c->sh =
	    mmap(NULL, sizeof(*c->sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (c->sh == MAP_FAILED)
		return -1;
	memset(c->sh, 0, sizeof(*c->sh));
	c->efd_data = eventfd(0, c->batch == 1 ? EFD_SEMAPHORE : 0);
	c->efd_space = eventfd(0, 0);
	return c->efd_data < 0 || c->efd_space < 0 ? -1 : 0;
}

static void rg_close(struct rg_chan *c)
{
	close(c->ack[0]);
	close(c->ack[1]);
	if (c->kind == 0) {
		close(c->data[0]);
		close(c->data[1]);
		return;
	}
	close(c->efd_data);
	close(c->efd_space);
	munmap(c->sh, sizeof(*c->sh));
}

static uint64_t rg_now(int wall)
{
	struct timespec ts;

	if (!wall)
		return lg_rdtsc();
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * One figure: kind (0 pipe, 1 eventfd), batch (1 or RG_ENTRIES), the
 * consumer on child_cpu; per message in TSC ticks or, with wall, in
 * CLOCK_MONOTONIC nanoseconds.
 */
static int rg_bench(const char *name, int kind, int batch, int child_cpu, long iters, int wall)
{
	struct rg_chan c = {.kind = kind, .batch = batch};
	uint64_t next = 0, t0 = 0, t1 = 0;
	int status = 0, bad = 0;
	char a;
	char extra[64];
	pid_t pid;

	if (child_cpu > 0 && lg_online_cpus() < 2) {
		printf("BENCH-ERROR %s needs 2 online CPUs (boot with -smp 2)\n", name);
		return -1;
	}
	if (lg_pin_cpu(0) != 0)
		return lg_fail(name, "sched_setaffinity cpu 0");
	if (rg_open(&c) != 0)
		return lg_fail(name, kind == 0 ? "pipe" : "eventfd/mmap");
	pid = fork();
	if (pid < 0)
		return lg_fail(name, "fork");
	if (pid == 0)
		rg_child(&c, iters, child_cpu);
	bad |= (kind == 0 ? pipe_produce(&c, &next, RG_WARMUP) : efd_produce(&c, &next, RG_WARMUP));
	bad |= read(c.ack[0], &a, 1) != 1;
	t0 = rg_now(wall);
	bad |= (kind == 0 ? pipe_produce(&c, &next, iters) : efd_produce(&c, &next, iters));
	bad |= read(c.ack[0], &a, 1) != 1;
	t1 = rg_now(wall);
	int saved = errno;
	rg_close(&c);
	waitpid(pid, &status, 0);
	errno = saved;
	if (bad)
		return lg_fail(name, "producer");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		printf("BENCH-ERROR %s consumer status %d (4: a message out of sequence)\n", name,
		       status);
		return -1;
	}
	snprintf(extra, sizeof(extra), "cpus=%d batch=%d msg_bytes=%d", child_cpu + 1, batch,
	         RG_MSG);
	if (wall)
		printf("BENCH %s %.1f ns iters=%ld %s\n", name, (double)(t1 - t0) / (double)iters,
		       iters, extra);
	else
		lg_report(name, (double)(t1 - t0) / (double)iters, iters, extra);
	fflush(stdout);
	return 0;
}

/* The eight figures of one CPU placement: pipe and eventfd, unbatched and batched. */
static int rg_all(long iters, int child_cpu, int wall)
{
	static const char *const kinds[] = {"pipe", "eventfd"};
	int failed = 0;

	for (int k = 0; k < 2; k++)
		for (int b = 0; b < 2; b++) {
			char name[96];
			snprintf(name, sizeof(name), "ring.linux.%s_msg_%s_%s_%s", kinds[k],
			         b ? "batched" : "unbatched", child_cpu ? "xcpu" : "same_cpu",
			         wall ? "ns" : "instructions");
			failed |=
			    rg_bench(name, k, b ? RG_ENTRIES : 1, child_cpu, iters, wall) != 0;
		}
	return failed ? -1 : 0;
}

int lg_bench_ring(long iters)
{
	return rg_all(iters, 0, 0);
}

/* Consumer on CPU 1: plain TCG only (QEMU 7.2 cannot boot SMP Linux under icount). */
int lg_bench_ring_xcpu_ns(long iters)
{
	return rg_all(iters, 1, 1);
}
