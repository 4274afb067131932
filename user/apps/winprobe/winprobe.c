/*
 * A partition program for the window tests (make test-windows,
 * tests/user/manifest-windows): with config mode=probe it spins and
 * records, from the TSC, each stretch of time it ran, for config frames=N
 * major frames of config frame-us, and checks them against the one slot
 * of config slot-us its partition owns in each frame: every stretch at
 * most the slot long, every stretch starting at the same point of the
 * frame (within config jitter-ns, late starts counted), and one in
 * (nearly) every frame. It prints one
 * line with the verdict and the figures. mode=spin spins for ever;
 * mode=fault faults at once (with on-crash restart: a partition crashing
 * and being rebuilt over and over).
 */
#include <hallows/rt.h>
#include <lib/string.h>

#define MAXRUNS 512
#define GAP_NS  1500

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static uint64_t num(const char *key, uint64_t dflt)
{
	const char *v = rt_config(key);
	uint64_t n = 0;

	if (!v || !*v)
		return dflt;
	for (; *v >= '0' && *v <= '9'; v++)
		n = n * 10 + (uint64_t)(*v - '0');
	return n;
}

static uint64_t start[MAXRUNS], end[MAXRUNS];

static void probe(const char *name)
{
	uint64_t mhz = rt_self.bi->tsc_hz / 1000000;
	uint64_t frame = num("frame-us", 0) * mhz, slot = num("slot-us", 0) * mhz;
	uint64_t frames = num("frames", 20), jitter = num("jitter-ns", 20000) * mhz / 1000;
	uint64_t gap = GAP_NS * mhz / 1000, first = rdtsc(), last = first,
	         stop = first + frames * frame;
	uint32_t n = 0;

	if (!frame || !slot) {
		rt_printf("winprobe %s: FAILED: config frame-us and slot-us are needed\n", name);
		return;
	}
	for (;;) {
		uint64_t now = rdtsc();
		if (now - last > gap) {
			if (n < MAXRUNS)
				start[n] = first, end[n] = last, n++;
			first = now;
		}
		last = now;
		if (now >= stop)
			break;
	}
	/*
	 * The first stretch began when the program did, not at a window start:
	 * skip it. The longest stretch starts at a window start: phases are
	 * taken from it. A stretch may be cut short (an interrupt on this CPU
	 * for work from another, longer than GAP_NS): it must still lie inside
	 * the slot; those starting later than jitter into the slot are counted
	 * as interruptions.
	 */
	uint32_t longest_i = 1;
	for (uint32_t i = 1; i < n; i++)
		if (end[i] - start[i] > end[longest_i] - start[longest_i])
			longest_i = i;
	uint64_t longest = n > 1 ? end[longest_i] - start[longest_i] : 0, lo = ~0ull, hi = 0;
	uint32_t windows = 0, cut = 0, outside = 0;
	uint64_t latest = 0; /* the latest start of a cut stretch into the slot */
	for (uint32_t i = 1; i < n; i++) {
		uint64_t base = start[longest_i],
		         d = start[i] >= base ? (start[i] - base) % frame
		                              : (frame - (base - start[i]) % frame) % frame;
		uint64_t ph = (d + jitter) % frame;
		if (ph + (end[i] - start[i]) > slot + 2 * jitter)
			outside++;
		if (ph > 2 * jitter) {
			cut++;
			latest = ph - jitter > latest ? ph - jitter : latest;
			continue;
		}
		windows++;
		lo = ph < lo ? ph : lo;
		hi = ph > hi ? ph : hi;
	}
	/*
	 * Never outside its slot, and in (nearly) every frame. A late start is
	 * reported, not failed: under -icount QEMU runs a vCPU that executes
	 * without interrupts (the root task on CPU 0 rebuilding a crashed
	 * partition) for long stretches before it lets the other in, so CPU 1's
	 * window timer is taken late in virtual time (docs/decisions.md). The
	 * window suite (tests/user/windows) checks lateness with CPU 0 idle.
	 */
	bool ok = windows + cut >= frames - 2 && !outside && hi - lo <= jitter;
	rt_printf(
	    "winprobe %s: %s: ran in %u windows of %lu frames (%u stretches outside the slot, "
	    "%u interrupted, the latest %lu us into the slot), longest %lu us of a %lu us slot, "
	    "window starts spread over %lu "
	    "ns\n",
	    name, ok ? "ok" : "FAILED", windows, frames, outside, cut, latest / mhz, longest / mhz,
	    slot / mhz, windows ? (hi - lo) * 1000 / mhz : 0);
}

int main(struct rt *rt)
{
	const char *mode = rt_config("mode"), *name = rt->pi ? rt->pi->name : "?";

	if (mode && !strcmp(mode, "spin"))
		for (;;)
			__asm__ volatile("" ::: "memory");
	if (mode && !strcmp(mode, "fault"))
		// cppcheck-suppress nullPointer
		*(volatile int *)0 = 1; /* NOLINT(clang-analyzer-core.NullDereference): the crash */
	probe(name);
	return 0;
}
