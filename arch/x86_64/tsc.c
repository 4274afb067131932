/* TSC calibration against the HPET (PIT channel 2 as fallback) and delays. */
#include <arch/apic.h>
#include <arch/cpu.h>
#include <kernel/klog.h>
#include <kernel/time.h>

uint64_t tsc_hz;
uint64_t tsc_boot;
static uint64_t cal_tsc0, cal_hpet0; /* start of the long refinement window */

/* Busy-wait on PIT channel 2 (gate via port 0x61); works without interrupts. */
void pit_delay_us(uint32_t us)
{
	uint32_t ticks = (uint32_t)((uint64_t)us * 1193182 / 1000000);

	while (ticks) {
		uint16_t n = ticks > 0xffff ? 0xffff : (uint16_t)ticks;
		outb(0x61, (inb(0x61) & ~0x02) | 0x01); /* gate on, speaker off */
		outb(0x43, 0xb0);                       /* channel 2, lo/hi, mode 0 */
		outb(0x42, n & 0xff);
		outb(0x42, n >> 8);
		for (uint32_t spin = 0; !(inb(0x61) & 0x20) && spin < 100000000; spin++)
			cpu_relax();
		ticks -= n;
	}
}

/* One 2 ms window (200,000 ticks of a 100 MHz HPET: 5 ppm resolution); the TSC is read between two
 * HPET reads to bound the skew. */
static uint64_t calibrate_hpet_once(void)
{
	uint64_t t0 = rdtsc(), h0 = hpet_read_ns(), h1;

	while ((h1 = hpet_read_ns()) - h0 < 2000000)
		cpu_relax();
	uint64_t t1 = rdtsc();
	return (t1 - t0) * 1000000000ul / (h1 - h0);
}

/*
 * Median of three windows: under emulation (or SMIs on real machines) one
 * window can be stretched by a pause the other clock does not see.
 */
static uint64_t calibrate_hpet(void)
{
	uint64_t v[3];

	for (int i = 0; i < 3; i++) {
		v[i] = calibrate_hpet_once();
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			uint64_t x = v[j];
			v[j] = v[j - 1], v[j - 1] = x;
		}
	}
	/* Windows that disagree by more than 0.1% ask for the long refinement. */
	if ((v[2] - v[0]) * 1000 > v[1]) {
		cal_tsc0 = rdtsc();
		cal_hpet0 = hpet_read_ns();
	}
	return v[1];
}

static uint64_t calibrate_pit(void)
{
	uint64_t t0 = rdtsc();

	pit_delay_us(10000);
	return (rdtsc() - t0) * 100;
}

void tsc_calibrate(void)
{
	bool via_hpet = hpet_available();

	tsc_hz = via_hpet ? calibrate_hpet() : calibrate_pit();
	pr_info("tsc: %lu.%03lu MHz (calibrated against the %s)", tsc_hz / 1000000,
	        (tsc_hz / 1000) % 1000, via_hpet ? "HPET" : "PIT");
}

uint64_t time_ns(void)
{
	if (!tsc_hz)
		return 0;
	uint64_t d = rdtsc() - tsc_boot;

	return d / tsc_hz * 1000000000u + d % tsc_hz * 1000000000u / tsc_hz;
}

void time_udelay(uint64_t us)
{
	if (!tsc_hz) {
		pit_delay_us((uint32_t)us);
		return;
	}
	uint64_t end = rdtsc() + us * tsc_hz / 1000000;
	while (rdtsc() < end)
		cpu_relax();
}

/*
 * When the quick windows disagreed, refine the estimate over the window
 * since calibration (at least 20 ms, most of it spent booting rather than
 * waiting): short windows are at the mercy of emulation jitter or SMIs, a
 * long one is not. BSP, before "ready".
 */
void tsc_refine(void)
{
	uint64_t h1, t1;

	if (!cal_hpet0 && !cal_tsc0)
		return;
	while ((h1 = hpet_read_ns()) - cal_hpet0 < 20000000)
		cpu_relax();
	t1 = rdtsc();
	uint64_t hz = (t1 - cal_tsc0) * 1000000000ul / (h1 - cal_hpet0);
	pr_info("tsc: refined to %lu.%03lu MHz over %lu ms", hz / 1000000, (hz / 1000) % 1000,
	        (h1 - cal_hpet0) / 1000000);
	tsc_hz = hz;
}
