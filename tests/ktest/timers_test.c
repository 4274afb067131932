/* ktest suite "timers": TSC calibration, HPET agreement, LAPIC one-shot. */
#include <arch/apic.h>
#include <arch/cpu.h>
#include <kernel/ktest.h>
#include <kernel/percpu.h>
#include <kernel/time.h>

KTEST(timers, tsc_calibrated)
{
	KEXPECT(t, tsc_hz > 10000000ul, "tsc_hz=%lu", tsc_hz);
}

KTEST(timers, tsc_and_hpet_agree_within_1pct)
{
	if (!hpet_available()) {
		KSKIP(t, "no HPET");
		return;
	}
	uint64_t h0 = hpet_read_ns(), t0 = rdtsc();
	while (hpet_read_ns() - h0 < 20000000) /* 20 ms of HPET time */
		cpu_relax();
	uint64_t hns = hpet_read_ns() - h0, tns = (rdtsc() - t0) * 1000000000ul / tsc_hz;
	uint64_t diff = hns > tns ? hns - tns : tns - hns;
	KEXPECT(t, diff * 100 <= hns, "hpet %lu ns vs tsc %lu ns", hns, tns);
}

KTEST(timers, udelay_advances_time)
{
	uint64_t a = time_ns();

	time_udelay(2000);
	uint64_t d = time_ns() - a;
	KEXPECT(t, d >= 2000000 && d < 200000000, "2 ms delay took %lu ns", d);
}

KTEST(timers, lapic_oneshot_fires)
{
	struct cpu *c = this_cpu();
	uint64_t before = c->timer_ticks;

	lapic_timer_oneshot_ns(500000); /* 0.5 ms */
	uint64_t start = time_ns();
	while (c->timer_ticks == before && time_ns() - start < 2000000000ul)
		cpu_halt(); /* interrupts are on: the timer wakes us */
	KEXPECT(t, c->timer_ticks == before + 1, "ticks %lu -> %lu", before, c->timer_ticks);
	KEXPECT(t, time_ns() - start >= 400000, "fired too early");
}
