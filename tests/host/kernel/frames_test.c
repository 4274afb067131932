/* Host tests for kernel/frames.c: the physical frame bitmap. */
#include "ktharness.h"

#include <kernel/frames.h>
#include <stdlib.h>
#include <string.h>

#define NF 1000 /* deliberately not a multiple of 64 */

static uint64_t bits[(NF + 63) / 64 + 1];
static struct frame_map fm;

static void setup(uint64_t nframes)
{
	memset(bits, 0, sizeof(bits));
	frames_init(&fm, bits, nframes);
}

static uint64_t count_used(void)
{
	uint64_t n = 0;

	for (uint64_t f = 0; f < fm.nframes; f++)
		n += frames_is_used(&fm, f);
	return n;
}

static void frames_init_all_used(void)
{
	setup(NF);
	CHECK_EQ(fm.nfree, 0);
	CHECK_EQ(count_used(), NF);
	CHECK(frames_is_used(&fm, NF)); /* beyond the map counts as used */
	CHECK(frames_is_used(&fm, UINT64_MAX));
	uint64_t f;
	CHECK(!frames_alloc(&fm, 1, 1, &f));
	CHECK_EQ(bits[(NF + 63) / 64], 0); /* init stays inside the bitmap */
}

static void frames_release_reserve_ranges(void)
{
	setup(NF);
	frames_release_range(&fm, 10, 20);
	CHECK_EQ(fm.nfree, 20);
	CHECK(frames_is_used(&fm, 9) && !frames_is_used(&fm, 10) && !frames_is_used(&fm, 29));
	CHECK(frames_is_used(&fm, 30));
	frames_release_range(&fm, 20, 20); /* overlap: counted once */
	CHECK_EQ(fm.nfree, 30);
	frames_reserve_range(&fm, 15, 5);
	CHECK_EQ(fm.nfree, 25);
	frames_reserve_range(&fm, 15, 5); /* already used: no change */
	CHECK_EQ(fm.nfree, 25);
	CHECK_EQ(NF - count_used(), fm.nfree);
	frames_release_range(&fm, 0, 0);
	CHECK_EQ(fm.nfree, 25);
}

static void frames_ranges_clipped_at_end(void)
{
	setup(NF);
	frames_release_range(&fm, NF - 5, 100);
	CHECK_EQ(fm.nfree, 5);
	frames_release_range(&fm, NF + 10, 10);
	CHECK_EQ(fm.nfree, 5);
	CHECK_EQ(bits[(NF + 63) / 64], 0);
	frames_reserve_range(&fm, NF - 2, 100);
	CHECK_EQ(fm.nfree, 3);
}

/*
 * Bug: the loops test f < first + count, which wraps for a huge count, so
 * a range reaching past 2^64 is ignored instead of clipped to the map.
 */
static void frames_range_count_overflow_clipped(void)
{
	setup(NF);
	frames_release_range(&fm, 10, UINT64_MAX);
	CHECK_EQ(fm.nfree, NF - 10);
	setup(NF);
	frames_release_range(&fm, 0, NF);
	frames_reserve_range(&fm, 100, UINT64_MAX - 50);
	CHECK_EQ(fm.nfree, 100);
}

static void frames_alloc_single(void)
{
	uint64_t f;

	setup(NF);
	frames_release_range(&fm, 100, 3);
	for (uint64_t want = 100; want < 103; want++) {
		CHECK(frames_alloc(&fm, 1, 1, &f));
		CHECK_EQ(f, want);
		CHECK(frames_is_used(&fm, f));
	}
	CHECK_EQ(fm.nfree, 0);
	CHECK(!frames_alloc(&fm, 1, 1, &f));
}

static void frames_alloc_alignment(void)
{
	uint64_t f;

	setup(NF);
	frames_release_range(&fm, 3, 600);
	CHECK(frames_alloc(&fm, 4, 1, &f));
	CHECK_EQ(f, 3);
	CHECK(frames_alloc(&fm, 8, 8, &f));
	CHECK_EQ(f, 8);
	CHECK(frames_alloc(&fm, 3, 64, &f));
	CHECK_EQ(f, 64);
	/* 512 aligned frames need [512, 1024), which is partly outside the free range. */
	CHECK(!frames_alloc(&fm, 512, 512, &f));
	CHECK(frames_alloc(&fm, 64, 512, &f));
	CHECK_EQ(f, 512);
	CHECK(frames_alloc(&fm, 1, 256, &f));
	CHECK_EQ(f, 256);
	CHECK_EQ(NF - count_used(), fm.nfree);
	CHECK_EQ(fm.nfree, 600 - 4 - 8 - 3 - 64 - 1);
}

static void frames_alloc_skips_used_frames(void)
{
	uint64_t f;

	setup(NF);
	frames_release_range(&fm, 0, NF);
	frames_reserve_range(&fm, 5, 1);
	frames_reserve_range(&fm, 12, 1);
	CHECK(frames_alloc(&fm, 6, 1, &f));
	CHECK_EQ(f, 6);
	CHECK(frames_alloc(&fm, 6, 1, &f));
	CHECK_EQ(f, 13);
	CHECK(frames_alloc(&fm, 5, 1, &f));
	CHECK_EQ(f, 19);
	CHECK(frames_alloc(&fm, 5, 1, &f)); /* first fit continues from the hint */
	CHECK_EQ(f, 24);
}

static void frames_exhaustion_returns_false(void)
{
	uint64_t f;

	setup(NF);
	frames_release_range(&fm, 0, NF);
	CHECK(!frames_alloc(&fm, NF + 1, 1, &f));
	CHECK(!frames_alloc(&fm, 0, 1, &f));
	CHECK(!frames_alloc(&fm, 1, 0, &f));
	CHECK(frames_alloc(&fm, NF, 1, &f));
	CHECK_EQ(f, 0);
	CHECK_EQ(fm.nfree, 0);
	CHECK(!frames_alloc(&fm, 1, 1, &f));
	CHECK(frames_free(&fm, 0, NF));
	/* Fragmented: 500 free frames but no run of 2. */
	for (uint64_t i = 0; i < NF; i += 2)
		frames_reserve_range(&fm, i, 1);
	CHECK_EQ(fm.nfree, NF / 2);
	uint64_t before[ARRAY_SIZE(bits)];
	memcpy(before, bits, sizeof(bits));
	CHECK(!frames_alloc(&fm, 2, 1, &f));
	CHECK(!memcmp(before, bits, sizeof(bits)));
	CHECK_EQ(fm.nfree, NF / 2);
}

static void frames_double_free_changes_nothing(void)
{
	uint64_t f, g;

	setup(NF);
	frames_release_range(&fm, 0, 100);
	CHECK(frames_alloc(&fm, 10, 1, &f));
	CHECK(frames_alloc(&fm, 10, 1, &g));
	CHECK(frames_free(&fm, f, 10));
	uint64_t before[ARRAY_SIZE(bits)], nfree = fm.nfree;
	memcpy(before, bits, sizeof(bits));
	CHECK(!frames_free(&fm, f, 10));     /* whole range already free */
	CHECK(!frames_free(&fm, g + 5, 10)); /* partly free: g+10.. were never allocated */
	CHECK(!frames_free(&fm, f + 5, 10)); /* straddles the freed range and g */
	CHECK(!memcmp(before, bits, sizeof(bits)));
	CHECK_EQ(fm.nfree, nfree);
	CHECK(frames_is_used(&fm, g));
}

static void frames_free_out_of_range(void)
{
	setup(NF);
	CHECK(!frames_free(&fm, NF - 1, 2));
	CHECK(!frames_free(&fm, UINT64_MAX, 2));
	CHECK(!frames_free(&fm, 2, UINT64_MAX));
	CHECK_EQ(fm.nfree, 0);
	CHECK(frames_free(&fm, NF - 1, 1)); /* in use since init: freeing is legal */
	CHECK_EQ(fm.nfree, 1);
}

static void frames_hint_wraps_around(void)
{
	uint64_t f;

	setup(NF);
	frames_release_range(&fm, 0, NF);
	CHECK(frames_alloc(&fm, NF - 10, 1, &f));
	CHECK_EQ(fm.hint, NF - 10);
	CHECK(frames_free(&fm, 100, 5));
	CHECK_EQ(fm.hint, 100); /* freeing below the hint moves it back */
	CHECK(frames_alloc(&fm, 10, 1, &f));
	CHECK_EQ(f, NF - 10);
	CHECK_EQ(fm.hint, NF);
	CHECK(frames_alloc(&fm, 5, 1, &f)); /* nothing at or after the hint: wrap to 0 */
	CHECK_EQ(f, 100);
	CHECK_EQ(fm.nfree, 0);
}

static void frames_hint_run_straddling_hint(void)
{
	uint64_t f;

	setup(NF);
	frames_release_range(&fm, 0, NF);
	CHECK(frames_alloc(&fm, NF, 1, &f));
	CHECK(frames_free(&fm, 40, 20));
	fm.hint = 50; /* a free run [40, 60) that starts before the hint */
	CHECK(frames_alloc(&fm, 20, 1, &f));
	CHECK_EQ(f, 40);
}

/* Random alloc/free against a byte-per-frame shadow. */
static void frames_random_against_shadow(void)
{
	static uint8_t shadow[NF];
	static struct {
		uint64_t first, count;
	} live[4096];
	unsigned nlive = 0;
	uint64_t f;

	setup(NF);
	frames_release_range(&fm, 0, NF);
	memset(shadow, 0, sizeof(shadow));
	for (int it = 0; it < 20000 && !kt_failed(); it++) {
		if (nlive && (kt_below(2) || nlive == ARRAY_SIZE(live))) {
			unsigned k = (unsigned)kt_below(nlive);
			CHECK(frames_free(&fm, live[k].first, live[k].count));
			memset(shadow + live[k].first, 0, live[k].count);
			live[k] = live[--nlive];
			continue;
		}
		uint64_t count = 1 + kt_below(kt_below(4) ? 4 : 40), align = 1ull << kt_below(6);
		if (!frames_alloc(&fm, count, align, &f))
			continue;
		CHECK(f % align == 0 && f + count <= NF);
		for (uint64_t i = 0; i < count; i++) {
			CHECK(!shadow[f + i]);
			shadow[f + i] = 1;
		}
		live[nlive].first = f;
		live[nlive++].count = count;
	}
	uint64_t used = 0;
	for (uint64_t i = 0; i < NF; i++) {
		CHECK_EQ(frames_is_used(&fm, i), shadow[i]);
		used += shadow[i];
	}
	CHECK_EQ(fm.nfree, NF - used);
}

/* When the shadow has a fitting aligned run, the allocator must find one. */
static void frames_random_finds_existing_run(void)
{
	uint64_t f;

	for (int it = 0; it < 2000 && !kt_failed(); it++) {
		setup(256);
		for (int r = 0; r < 12; r++)
			frames_release_range(&fm, kt_below(256), kt_below(24));
		fm.hint = kt_below(257);
		uint64_t count = 1 + kt_below(16), align = 1ull << kt_below(4);
		bool exists = false;
		for (uint64_t s = 0; s + count <= 256 && !exists; s += align) {
			uint64_t i = 0;
			while (i < count && !frames_is_used(&fm, s + i))
				i++;
			exists = i == count;
		}
		CHECK_EQ(frames_alloc(&fm, count, align, &f), exists);
	}
}

static const struct kt_case cases[] = {
    KT(frames_init_all_used),
    KT(frames_release_reserve_ranges),
    KT(frames_ranges_clipped_at_end),
    KT(frames_alloc_single),
    KT(frames_alloc_alignment),
    KT(frames_alloc_skips_used_frames),
    KT(frames_exhaustion_returns_false),
    KT(frames_double_free_changes_nothing),
    KT(frames_free_out_of_range),
    KT(frames_hint_wraps_around),
    KT(frames_hint_run_straddling_hint),
    KT(frames_random_against_shadow),
    KT(frames_random_finds_existing_run),
    KT(frames_range_count_overflow_clipped), /* regression: release/reserve_range loop bound
                                                first+count wraps (kernel/frames.c) */
};

int main(int argc, char **argv)
{
	return kt_main(cases, ARRAY_SIZE(cases), argc, argv);
}
