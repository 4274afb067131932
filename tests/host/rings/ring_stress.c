/*
 * Two-thread stress for user/rt/ring.c, built with -fsanitize=thread
 * (mk/rings.mk): a producer thread sends RING_STRESS_MSGS sequence numbers
 * in random batches through a small ring, a consumer thread checks that it
 * receives every one, in order, none twice. Both block with hl_ring_wait;
 * a futex word per end stands in for the notification (signal = set a bit
 * and wake; wait = take the bits or sleep on the futex), so the sleep/wake
 * path runs for real. Each side pauses now and then so that the other
 * must sleep; the test fails if either side never slept, if a wakeup is
 * lost (the run would hang: a watchdog ends it after 60 s) or if a
 * message is lost, duplicated or reordered. Prints TAP.
 */
#include <hallows/ring.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef RING_STRESS_MSGS
#define RING_STRESS_MSGS 2000000u
#endif
#define ENTRIES 16
#define ENTRY   16

struct ntfn {
	_Atomic uint32_t bits;
};

static void ntfn_signal(void *ctx)
{
	struct ntfn *n = ctx;

	atomic_store_explicit(&n->bits, 1, memory_order_release);
	syscall(SYS_futex, &n->bits, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void ntfn_wait(void *ctx)
{
	struct ntfn *n = ctx;

	while (!atomic_exchange_explicit(&n->bits, 0, memory_order_acquire))
		syscall(SYS_futex, &n->bits, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
}

static struct ntfn prod_ntfn, cons_ntfn; /* the one each end waits on */
static _Alignas(64) uint8_t ring_mem[HL_RING_HEADER_BYTES + ENTRIES * ENTRY];
static uint64_t producer_sleeps, consumer_sleeps, producer_signals, consumer_signals,
    bad_at = ~0ull, errors;

static uint64_t rng(uint64_t *s)
{
	*s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static void pause_a_little(uint64_t *s)
{
	if (rng(s) % 20000 == 0)
		nanosleep(&(struct timespec){0, 200000},
		          NULL); /* 0.2 ms: the peer runs dry or fills up */
}

static void *producer(void *arg)
{
	const struct hl_ring_ops ops = {ntfn_signal, ntfn_wait, &cons_ntfn, &prod_ntfn};
	struct hl_ring r;
	uint64_t seed = 0x9e3779b97f4a7c15ull, next = 0;

	(void)arg;
	if (hl_ring_attach(&r, ring_mem, sizeof(ring_mem), ENTRIES, ENTRY, true, &ops, false))
		abort();
	while (next < RING_STRESS_MSGS) {
		long k = hl_ring_reserve(&r, 1 + (uint32_t)(rng(&seed) % 8));
		if (k < 0 || (k == 0 && hl_ring_wait(&r))) {
			errors++;
			break;
		}
		uint32_t n =
		    (uint32_t)(RING_STRESS_MSGS - next < (uint64_t)k ? RING_STRESS_MSGS - next
		                                                     : (uint64_t)k);
		for (uint32_t i = 0; i < n; i++) {
			uint64_t v[2] = {next + i, ~(next + i)};
			memcpy(hl_ring_entry(&r, i), v, sizeof(v));
		}
		if (hl_ring_publish(&r, n)) {
			errors++;
			break;
		}
		next += n;
		pause_a_little(&seed);
	}
	producer_sleeps = r.sleeps, producer_signals = r.signals;
	return NULL;
}

static void *consumer(void *arg)
{
	const struct hl_ring_ops ops = {ntfn_signal, ntfn_wait, &prod_ntfn, &cons_ntfn};
	struct hl_ring r;
	uint64_t seed = 0xd1b54a32d192ed03ull, next = 0;

	(void)arg;
	if (hl_ring_attach(&r, ring_mem, sizeof(ring_mem), ENTRIES, ENTRY, false, &ops, false))
		abort();
	while (next < RING_STRESS_MSGS) {
		long k = hl_ring_peek(&r, 1 + (uint32_t)(rng(&seed) % 8));
		if (k < 0) {
			errors++;
			break;
		}
		if (k == 0) {
			if (hl_ring_wait(&r)) {
				errors++;
				break;
			}
			continue;
		}
		for (long i = 0; i < k; i++) {
			uint64_t v[2];
			memcpy(v, hl_ring_entry(&r, (uint32_t)i), sizeof(v));
			if (v[0] != next + (uint64_t)i || v[1] != ~v[0]) {
				bad_at = next + (uint64_t)i;
				return NULL;
			}
		}
		if (hl_ring_release(&r, (uint32_t)k)) {
			errors++;
			break;
		}
		next += (uint64_t)k;
		pause_a_little(&seed);
	}
	consumer_sleeps = r.sleeps, consumer_signals = r.signals;
	return NULL;
}

int main(void)
{
	pthread_t a, b;
	struct hl_ring init;
	const struct hl_ring_ops ops = {ntfn_signal, ntfn_wait, &cons_ntfn, &prod_ntfn};

	alarm(60); /* a lost wakeup hangs: SIGALRM ends the run with no TAP line */
	if (hl_ring_attach(&init, ring_mem, sizeof(ring_mem), ENTRIES, ENTRY, true, &ops, true))
		return 1;
	pthread_create(&b, NULL, consumer, NULL);
	pthread_create(&a, NULL, producer, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	printf("# %u messages; producer slept %llu times (signalled %llu), consumer slept %llu "
	       "times (signalled %llu)\n",
	       RING_STRESS_MSGS, (unsigned long long)producer_sleeps,
	       (unsigned long long)consumer_signals, (unsigned long long)consumer_sleeps,
	       (unsigned long long)producer_signals);
	bool ok = bad_at == ~0ull && !errors;
	printf("%s - rings.stress_%u_messages_in_order%s\n", ok ? "ok" : "not ok", RING_STRESS_MSGS,
	       bad_at != ~0ull ? " (a message lost, doubled or out of order)"
	       : errors        ? " (a ring call failed)"
	                       : "");
	bool slept = producer_sleeps && consumer_sleeps;
	printf("%s - rings.stress_both_ends_slept_and_were_woken\n", slept ? "ok" : "not ok");
	return ok && slept ? 0 : 1;
}
