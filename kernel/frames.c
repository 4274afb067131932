/* Bitmap frame allocator core: first fit from a moving hint. */
#include <kernel/frames.h>

bool frames_is_used(const struct frame_map *fm, uint64_t f)
{
	return f >= fm->nframes || (fm->bits[f / 64] >> (f % 64)) & 1;
}

static void set_used(struct frame_map *fm, uint64_t f, bool used)
{
	uint64_t bit = 1ull << (f % 64);

	if (used && !(fm->bits[f / 64] & bit)) {
		fm->bits[f / 64] |= bit;
		fm->nfree--;
	} else if (!used && (fm->bits[f / 64] & bit)) {
		fm->bits[f / 64] &= ~bit;
		fm->nfree++;
	}
}

void frames_init(struct frame_map *fm, uint64_t *bits, uint64_t nframes)
{
	fm->bits = bits;
	fm->nframes = nframes;
	fm->nfree = 0;
	fm->hint = 0;
	for (uint64_t i = 0; i < (nframes + 63) / 64; i++)
		bits[i] = ~0ull;
}

void frames_release_range(struct frame_map *fm, uint64_t first, uint64_t count)
{
	for (uint64_t f = first; f < fm->nframes && f - first < count; f++)
		set_used(fm, f, false);
}

void frames_reserve_range(struct frame_map *fm, uint64_t first, uint64_t count)
{
	for (uint64_t f = first; f < fm->nframes && f - first < count; f++)
		set_used(fm, f, true);
}

/* Scan [from, to) for a free aligned run; the search is bounded by the map size. */
static bool find_run(struct frame_map *fm, uint64_t from, uint64_t to, uint64_t count,
                     uint64_t align, uint64_t *first)
{
	uint64_t f = ALIGN_UP(from, align);

	while (f + count <= to) {
		if (align == 1 && count == 1 && fm->bits[f / 64] == ~0ull) {
			f = ALIGN_UP(f + 1, 64);
			continue;
		}
		uint64_t i = 0;
		while (i < count && !frames_is_used(fm, f + i))
			i++;
		if (i == count) {
			*first = f;
			return true;
		}
		f = ALIGN_UP(f + i + 1, align);
	}
	return false;
}

bool frames_alloc(struct frame_map *fm, uint64_t count, uint64_t align, uint64_t *first)
{
	if (count == 0 || align == 0 || count > fm->nfree)
		return false;
	if (!find_run(fm, fm->hint, fm->nframes, count, align, first) &&
	    !find_run(fm, 0, MIN(fm->hint + count, fm->nframes), count, align, first))
		return false;
	for (uint64_t i = 0; i < count; i++)
		set_used(fm, *first + i, true);
	fm->hint = *first + count;
	return true;
}

bool frames_free(struct frame_map *fm, uint64_t first, uint64_t count)
{
	if (first + count > fm->nframes || first + count < first)
		return false;
	for (uint64_t i = 0; i < count; i++)
		if (!frames_is_used(fm, first + i))
			return false;
	for (uint64_t i = 0; i < count; i++)
		set_used(fm, first + i, false);
	if (first < fm->hint)
		fm->hint = first;
	return true;
}
