/*
 * The tail-latency experiment (make bench-tail; docs/scheduling.md, "The
 * tail-latency experiment"): Shinjuku's bimodal workload, 99.5 % of
 * requests needing 0.5 us of work and 0.5 % needing 500 us, with Poisson
 * arrivals, served by one thread running the user-level scheduler
 * (user/rt/usched.c) first-come-first-served or with preemption upcalls
 * every 5, 10 or 25 us.
 *
 * A generator thread on CPU 1 draws the arrival times and hands each
 * request to the server on CPU 0 through a Hallows Ring (user/rt/ring.c),
 * stamped with its arrival time (from the point's start). It runs ahead:
 * the whole point's requests are in the ring before the point starts, and
 * the server admits each once the TSC has reached its arrival time, so
 * latency = completion - arrival. Running ahead keeps the generator's
 * instructions out of the measured time (under -icount every vCPU's
 * instructions advance the one virtual clock) and does not depend on
 * QEMU's round-robin vCPU scheduling, which lets a second vCPU run only
 * every 100 ms of virtual time while the first spins without interrupts. Work is counted in
 * instructions (a two-instruction loop), which under QEMU's -icount shift=0 are nanoseconds.
 *
 * Policy "fb" is the user-level scheduler's foreground-first variant of
 * processor sharing (a preempted request waits behind every request that
 * has not run yet; user/rt/include/hallows/usched.h).
 *
 * Preemption at arrival ("ps_arrival", "fb_arrival"): a third thread, above the
 * server on CPU 0, sleeps in the kernel's timed wait until each request's
 * arrival time, as a NIC interrupt's handler would wake when the request
 * comes in. Its wake preempts the server, whose upcall area asks for
 * on_preempt: the server resumes at its scheduler, which admits the new
 * request and (processor sharing) runs it before the preempted one. The
 * quantum still runs too. The arrival thread reads the same arrival times
 * the generator put in the ring (the ring itself is the server's).
 *
 * Output: "TAIL {json}" per load point, "BENCH" lines for the upcall path,
 * then BENCH-DONE (read by tools/bench_tail.py).
 */
#include <hallows/rt.h>
#include <hallows/usched.h>
#include <lib/string.h>

#define NREQ       10000 /* requests per load point */
#define WARMUP     500   /* first requests not counted */
#define NTASK      1024  /* requests in the server at once (the rest wait in the ring) */
#define RING_N     16384 /* a whole point: the generator runs ahead (see the top) */
#define SHORT_NS   500
#define LONG_NS    500000
#define LONG_PER_K 5 /* per 1000 requests */

struct req {
	uint64_t arrive_tsc;
	uint32_t work_ns, id;
};

struct slot {
	struct usched_task task;
	struct slot *free_next;
	struct req r;
};

/* What the server tells the generator (written before signalling go). */
static struct {
	uint64_t t0, mean_gap_ns, seed;
	uint32_t n;
} cmd;

static struct hl_ring prod, cons;
static void *ring_mem;
static hl_cptr_t ntfn_gen, ntfn_srv, ntfn_go, ntfn_done;
static uint64_t tsc_per_us;

static struct slot *slots, *free_slots;
static uint64_t *lat_ns;  /* per request id */
static uint32_t *work_of; /* per request id */
static uint32_t admitted, completed;
static struct rt_upcall_page *page; /* the server's upcall page */
static uint64_t *arrive_at;         /* per request id: its arrival (the generator writes) */
static hl_cptr_t ntfn_arrive_go, ntfn_tick;

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static uint64_t tsc_to_ns(uint64_t t)
{
	return t * 1000 / tsc_per_us;
}

/* xorshift64* */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

/* Natural logarithm of x in (0, 1], for exponential gaps: x = m * 2^e, ln m by the atanh series. */
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

/* ---- the generator (CPU 1) ---- */

static void generator(void *unused)
{
	(void)unused;
	for (;;) {
		hl_word_t info = 0;
		struct hl_msg m = {{0}};
		hl_syscall(HL_SYS_RECV, ntfn_go, &info, &m, NULL);
		uint64_t s = cmd.seed, at = 0; /* TSC ticks after the point's start */
		double gap = (double)cmd.mean_gap_ns;
		for (uint32_t i = 0; i < cmd.n;) {
			long k = hl_ring_reserve(&prod, RING_N);
			if (k <= 0) {
				hl_ring_wait(&prod);
				continue;
			}
			uint32_t j = 0;
			for (; j < (uint32_t)k && i < cmd.n; j++, i++) {
				struct req *r = hl_ring_entry(&prod, j);
				double u = (double)((rnd(&s) >> 11) + 1) / 9007199254740993.0;
				at += (uint64_t)(-ln(u) * gap) * tsc_per_us / 1000;
				r->arrive_tsc = at;
				arrive_at[i] = at;
				r->id = i;
				r->work_ns = rnd(&s) % 1000 < LONG_PER_K ? LONG_NS : SHORT_NS;
			}
			hl_ring_publish(&prod, j);
		}
		hl_syscall(HL_SYS_SEND, ntfn_done, &info, &m, NULL);
	}
}

/* ---- preemption at arrival (CPU 0, above the server) ---- */

/* Wake at each arrival time of a point (started by ntfn_arrive_go once cmd.t0 is set). */
static void arrival(void *unused)
{
	(void)unused;
	for (;;) {
		hl_word_t w = 0;
		hl_wait(ntfn_arrive_go, HL_WAIT_FOREVER, &w);
		for (uint32_t i = 0; i < cmd.n; i++) {
			uint64_t d = cmd.t0 + arrive_at[i];
			if (d > rdtsc()) /* arrivals already due come with this wake */
				hl_wait(ntfn_tick, d, &w);
		}
	}
}

/* ---- the server (CPU 0) ---- */

/* The request's work: a two-instruction loop, work_ns / 2 rounds. */
static void serve(void *arg)
{
	struct slot *sl = arg;
	uint64_t n = sl->r.work_ns / 2;

	__asm__ volatile("1: decq %0\n\tjnz 1b" : "+r"(n));
	page->a.masked = 1; /* the scheduler shares what follows; task_exit keeps it masked */
	lat_ns[sl->r.id] = tsc_to_ns(rdtsc() - sl->r.arrive_tsc);
	work_of[sl->r.id] = sl->r.work_ns;
	completed++;
	sl->free_next = free_slots;
	free_slots = sl;
}

/* The scheduler's idle hook: admit every request that has arrived; false when all are done. */
static bool admit(struct usched *s, void *arg)
{
	(void)arg;
	if (completed == cmd.n)
		return false;

	uint64_t now = rdtsc();
	long n = hl_ring_peek(&cons, 32);
	long k = 0;
	for (; k < n && free_slots; k++) {
		struct req *r = hl_ring_entry(&cons, (uint32_t)k);
		if (r->arrive_tsc + cmd.t0 > now)
			break;
		struct slot *sl = free_slots;
		free_slots = sl->free_next;
		sl->r = *r;
		sl->r.arrive_tsc += cmd.t0;
		sl->task.fn = serve;
		sl->task.arg = sl;
		sl->task.started = false;
		usched_submit(s, &sl->task);
		admitted++;
	}
	if (k > 0)
		hl_ring_release(&cons, (uint32_t)k);
	return true;
}

static void sort(uint64_t *a, uint32_t n)
{
	/* heap sort: no recursion, no allocation */
	for (uint32_t end = n; end > 1;) {
		if (end == n) {
			for (uint32_t i = n / 2; i-- > 0;) {
				for (uint32_t r = i, c; (c = 2 * r + 1) < n; r = c) {
					if (c + 1 < n && a[c + 1] > a[c])
						c++;
					if (a[r] >= a[c])
						break;
					uint64_t t = a[r];
					a[r] = a[c], a[c] = t;
				}
			}
		}
		end--;
		uint64_t t = a[0];
		a[0] = a[end], a[end] = t;
		for (uint32_t r = 0, c; (c = 2 * r + 1) < end; r = c) {
			if (c + 1 < end && a[c + 1] > a[c])
				c++;
			if (a[r] >= a[c])
				break;
			t = a[r];
			a[r] = a[c], a[c] = t;
		}
	}
}

static uint64_t *scratch;

/* p50, p99, p99.9 of v[WARMUP..n). */
static void pcts(const uint64_t *v, uint32_t n, uint64_t out[3])
{
	uint32_t m = n - WARMUP;

	memcpy(scratch, v + WARMUP, m * sizeof(uint64_t));
	sort(scratch, m);
	out[0] = scratch[m * 50 / 100], out[1] = scratch[m * 99 / 100],
	out[2] = scratch[m * 999 / 1000];
}

static struct usched sched;
static hl_cptr_t page_frame;
static uint8_t *sched_stack;

/* One load point: returns false if the point could not run. */
static bool run_point(const char *policy, uint64_t q_ns, uint32_t load_pct)
{
	static struct hl_ring_ops pops, cops;
	size_t bytes = hl_ring_bytes(RING_N, sizeof(struct req));
	pops = rt_ring_ops(ntfn_gen, ntfn_srv);
	cops = rt_ring_ops(ntfn_srv, ntfn_gen);
	/* A fresh ring per point; the generator waits for go and touches prod only after it. */
	if (hl_ring_attach(&prod, ring_mem, bytes, RING_N, sizeof(struct req), true, &pops, true) ||
	    hl_ring_attach(&cons, ring_mem, bytes, RING_N, sizeof(struct req), false, &cops, false))
		return false;
	free_slots = NULL;
	for (int i = NTASK - 1; i >= 0; i--) {
		slots[i].free_next = free_slots;
		free_slots = &slots[i];
	}
	admitted = completed = 0;
	/* mean service 0.995 * 0.5 + 0.005 * 500 = 2.9975 us; gap = service / load */
	cmd.mean_gap_ns = 299750 / load_pct;
	cmd.n = NREQ;
	cmd.seed = 0x9e3779b97f4a7c15ull ^ load_pct;
	hl_word_t info = 0;
	struct hl_msg m = {{0}};
	hl_syscall(HL_SYS_SEND, ntfn_go, &info, &m, NULL);
	hl_syscall(HL_SYS_RECV, ntfn_done, &info, &m, NULL); /* CPU 0 idles: the generator runs */
	cmd.t0 = rdtsc() + 20 * tsc_per_us;
	size_t plen = strlen(policy);
	bool at_arrival = plen > 8 && !strcmp(policy + plen - 8, "_arrival");
	page->a.on_preempt = at_arrival;
	if (at_arrival)
		hl_syscall(HL_SYS_SEND, ntfn_arrive_go, &info, &m, NULL);
	usched_init(&sched, !strcmp(policy, "fcfs")     ? USCHED_FCFS
	                    : !strncmp(policy, "fb", 2) ? USCHED_FB
	                                                : USCHED_PS);
	uint64_t t_start = rdtsc();
	long err = usched_run(&sched, HL_SLOT_THREAD, page_frame, page, sched_stack + 4 * 4096,
	                      q_ns, admit, NULL);
	uint64_t wall = tsc_to_ns(rdtsc() - t_start);
	if (err) {
		rt_printf("BENCH-ERROR tail: usched_run: error %ld\n", err);
		return false;
	}
	uint64_t lat[3], slow[3];
	pcts(lat_ns, NREQ, lat);
	static uint64_t sd[NREQ];
	for (uint32_t i = 0; i < NREQ; i++)
		sd[i] = lat_ns[i] * 100 / work_of[i]; /* slowdown x100 */
	pcts(sd, NREQ, slow);
	uint64_t short_lat[3];
	uint32_t ns_ = 0;
	for (uint32_t i = WARMUP; i < NREQ; i++)
		if (work_of[i] == SHORT_NS)
			sd[WARMUP + ns_++] = lat_ns[i];
	pcts(sd, WARMUP + ns_, short_lat);
	rt_printf(
	    "TAIL {\"policy\": \"%s\", \"quantum_us\": %lu, \"load_pct\": %u, \"requests\": %u, "
	    "\"p50_ns\": %lu, \"p99_ns\": %lu, \"p999_ns\": %lu, \"p50_slowdown_x100\": %lu, "
	    "\"p99_slowdown_x100\": %lu, \"p999_slowdown_x100\": %lu, \"short_p99_ns\": %lu, "
	    "\"preemptions\": %lu, \"upcalls\": %lu, \"masked_expiries\": %lu, "
	    "\"virtual_ns\": %lu}\n",
	    policy, q_ns / 1000, load_pct, NREQ - WARMUP, lat[0], lat[1], lat[2], slow[0], slow[1],
	    slow[2], short_lat[1], sched.preemptions, page->a.count, page->a.missed, wall);
	page->a.count = page->a.missed = 0;
	return true;
}

/* ---- the upcall path, measured ---- */

static volatile uint64_t last_tsc, handler_tsc, resume_tsc;
static uint64_t deliver_sum, resume_sum, samples;
static struct uctx probe_ctx;

static void probe_handler(struct rt_upcall_page *p)
{
	uint64_t now = rdtsc();
	uctx_from_area(&probe_ctx, &p->a);
	handler_tsc = now;
	deliver_sum += now - last_tsc;
	resume_tsc = rdtsc();
	uctx_resume(&probe_ctx, &p->a.masked);
}

/* Timer expiry to the handler's first C line, and handler to the resumed loop, in TSC ticks. */
static void measure_path(void)
{
	page->user = NULL;
	page->cur = &probe_ctx;
	if (rt_upcall_attach(HL_SLOT_THREAD, page_frame, page, sched_stack + 4 * 4096,
	                     probe_handler, 20000)) {
		rt_printf("BENCH-ERROR tail: rt_upcall_attach failed\n");
		return;
	}
	uint64_t end = rdtsc() + 20000 * tsc_per_us / 1000 * 200; /* ~200 upcalls */
	uint64_t seen = 0;
	while (last_tsc < end) {
		if (handler_tsc != seen) { /* first loop round after a resume */
			uint64_t t = rdtsc();
			seen = handler_tsc;
			resume_sum += t - resume_tsc;
			samples++;
		}
		last_tsc = rdtsc();
	}
	hl_thread_set_upcall(HL_SLOT_THREAD, 0, 0, 0, 0);
	page->a.count = page->a.missed = 0;
	if (!samples)
		return;
	/* Under -icount shift=0 one instruction is one nanosecond. */
	rt_printf("BENCH upcall.hallows.delivery_instructions %lu instructions\n",
	          tsc_to_ns(deliver_sum / samples));
	rt_printf("BENCH upcall.hallows.resume_instructions %lu instructions\n",
	          tsc_to_ns(resume_sum / samples));
}

int main(struct rt *rt)
{
	tsc_per_us = rt->bi->tsc_hz / 1000000;
	size_t ring_bytes = hl_ring_bytes(RING_N, sizeof(struct req));
	ring_mem = rt_map_pages((ring_bytes + 4095) / 4096);
	slots = rt_map_pages((NTASK * sizeof(struct slot) + 4095) / 4096);
	uint8_t *stacks = rt_map_pages(NTASK);
	lat_ns = rt_map_pages(NREQ * 8 / 4096 + 1);
	work_of = rt_map_pages(NREQ * 4 / 4096 + 1);
	arrive_at = rt_map_pages(NREQ * 8 / 4096 + 1);
	scratch = rt_map_pages(NREQ * 8 / 4096 + 1);
	sched_stack = rt_map_pages(4);
	page_frame = rt_alloc(HL_OBJ_FRAME, 12);
	ntfn_gen = rt_alloc(HL_OBJ_NOTIFICATION, 0);
	ntfn_srv = rt_alloc(HL_OBJ_NOTIFICATION, 0);
	ntfn_go = rt_alloc(HL_OBJ_NOTIFICATION, 0);
	ntfn_done = rt_alloc(HL_OBJ_NOTIFICATION, 0);
	ntfn_arrive_go = rt_alloc(HL_OBJ_NOTIFICATION, 0);
	ntfn_tick = rt_alloc(HL_OBJ_NOTIFICATION, 0);
	if (!arrive_at || !ntfn_arrive_go || !ntfn_tick || !ring_mem || !slots || !stacks ||
	    !lat_ns || !work_of || !scratch || !sched_stack || !page_frame || !ntfn_gen ||
	    !ntfn_srv || !ntfn_go || !ntfn_done) {
		rt_printf("BENCH-ERROR tail: out of memory\n");
		rt_exit(1);
	}
	/* The upcall page must be mapped from a frame capability we hold: map one of our own. */
	uint64_t page_va = rt_self.heap_next;
	if (rt_map_frame(HL_SLOT_ASPACE, page_frame, page_va, HL_R_READ | HL_R_WRITE)) {
		rt_printf("BENCH-ERROR tail: cannot map the upcall page\n");
		rt_exit(1);
	}
	rt_self.heap_next += 2 * 4096;
	page = (struct rt_upcall_page *)page_va;
	for (int i = 0; i < NTASK; i++)
		slots[i].task.stack_top = stacks + (size_t)(i + 1) * 4096;
	struct rt_thread gen;
	if (rt->bi->ncpus < 2) {
		rt_printf("BENCH-ERROR tail: needs two CPUs (the generator runs on CPU 1)\n");
		rt_exit(1);
	}
	if (rt_thread_start(&gen, generator, NULL, 100) || hl_thread_set_affinity(gen.tcb, 1)) {
		rt_printf("BENCH-ERROR tail: cannot start the generator\n");
		rt_exit(1);
	}
	/* The arrival thread at the server's priority, then the server one below it. */
	struct rt_thread arr;
	if (rt_thread_start(&arr, arrival, NULL, 200) || hl_thread_set_affinity(arr.tcb, 0) ||
	    hl_thread_set_priority(HL_SLOT_THREAD, 199)) {
		rt_printf("BENCH-ERROR tail: cannot start the arrival thread\n");
		rt_exit(1);
	}
	measure_path();
	static const struct {
		const char *policy;
		uint64_t q_ns;
	} cfgs[] = {{"fcfs", 0},  {"ps", 5000},         {"ps", 10000},       {"ps", 25000},
	            {"fb", 5000}, {"ps_arrival", 5000}, {"fb_arrival", 5000}};
	static const uint32_t loads[] = {1, 2, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90};
	for (unsigned c = 0; c < sizeof(cfgs) / sizeof(cfgs[0]); c++)
		for (unsigned l = 0; l < sizeof(loads) / sizeof(loads[0]); l++)
			if (!run_point(cfgs[c].policy, cfgs[c].q_ns, loads[l]))
				rt_exit(1);
	rt_printf("BENCH-DONE\n");
	rt_exit(0);
}
