/*
 * The manifest's "window cpu N" sections (docs/manifest.md, "Time
 * windows"): one CPU's major frame and the slots partitions own in it,
 * ARINC 653 style. Pass 1 reads the keys; pass 2 (manifest_check_windows)
 * resolves partitions, sorts the slots and checks them against the frame,
 * each other and the partitions' CPUs.
 *
 *   window cpu N
 *       frame TIME                          the major frame (required)
 *       slot PARTITION at TIME for TIME     one window: offset and length
 *       spare PARTITION | spare idle        who gets the rest (default idle)
 */
#include <lib/string.h>

#include "manifest_int.h"

/* "window cpu N" */
void manifest_start_window(struct parser *p, const struct word *w, size_t n)
{
	uint64_t cpu, lim = p->lim->ncpus ? p->lim->ncpus - 1 : MANIFEST_CPUS_MAX - 1;

	if (!manifest_nwords(p, n, 3, "window cpu N"))
		return;
	if (!manifest_is_word(w[1], "cpu")) {
		manifest_error(p, "expected 'window cpu N'");
		return;
	}
	if (lim >= MANIFEST_CPUS_MAX)
		lim = MANIFEST_CPUS_MAX - 1;
	if (!manifest_number(p, w[1], w[2], 0, lim, &cpu))
		return;
	struct manifest_window *win = manifest_alloc(p, sizeof(*win));
	if (!win)
		return;
	win->line = p->line, win->cpu = (uint32_t)cpu, win->is_valid = true;
	*p->win_tail = win, p->win_tail = &win->next, p->m->nwindows++;
	p->win = win, p->sec = SEC_WINDOW, p->slot_tail = &win->slots;
	for (struct manifest_window *o = p->m->windows; o != win; o = o->next)
		if (o->cpu == win->cpu) {
			manifest_error(p, "window cpu %u already defined at line %u", win->cpu,
			               o->line);
			break;
		}
}

/* "frame TIME" */
static void key_frame(struct parser *p, const struct word *w, size_t n)
{
	char buf[48];
	uint64_t us;

	if (!manifest_nwords(p, n, 2, "frame TIME (unit us or ms)") ||
	    !manifest_once(p, K_FRAME, w[0]))
		return;
	p->win->frame_line = p->line; /* a bad value is reported here, not as missing */
	if (!manifest_duration(w[1], &us) || us < MANIFEST_SLOT_MIN_US ||
	    us > MANIFEST_FRAME_MAX_US) {
		manifest_error(p, "frame %s: a number and us or ms, %dus..%ds",
		               manifest_shown(w[1], buf), MANIFEST_SLOT_MIN_US,
		               MANIFEST_FRAME_MAX_US / 1000000);
		return;
	}
	p->win->frame_us = us;
}

/* "slot PARTITION at TIME for TIME" */
static void key_slot(struct parser *p, const struct word *w, size_t n)
{
	char b1[48], b2[48];
	uint64_t off, len;
	const char *usage = "slot PARTITION at TIME for TIME (units us or ms)";

	if (!manifest_nwords(p, n, 6, usage))
		return;
	if (!manifest_is_word(w[2], "at") || !manifest_is_word(w[4], "for")) {
		manifest_error(p, "expected '%s'", usage);
		return;
	}
	if (!manifest_check_name(p, "partition", w[1]))
		return;
	if (!manifest_duration(w[3], &off) || !manifest_duration(w[5], &len)) {
		manifest_error(p, "slot at %s for %s: times are a number and us or ms",
		               manifest_shown(w[3], b1), manifest_shown(w[5], b2));
		return;
	}
	if (len < MANIFEST_SLOT_MIN_US) {
		manifest_error(p, "slot for %s: at least %dus", manifest_shown(w[5], b2),
		               MANIFEST_SLOT_MIN_US);
		return;
	}
	if (p->win->nslots == MANIFEST_WINDOWS_MAX) {
		manifest_error(p, "more than %d slots in one frame", MANIFEST_WINDOWS_MAX);
		return;
	}
	struct manifest_slot *s = manifest_alloc(p, sizeof(*s));
	if (!s)
		return;
	s->line = p->line, s->part_name = manifest_strdup(p, w[1]);
	s->offset_us = off, s->length_us = len;
	*p->slot_tail = s, p->slot_tail = &s->next, p->win->nslots++;
}

/* "spare PARTITION" or "spare idle" */
static void key_spare(struct parser *p, const struct word *w, size_t n)
{
	if (!manifest_nwords(p, n, 2, "spare PARTITION|idle") || !manifest_once(p, K_SPARE, w[0]))
		return;
	if (manifest_is_word(w[1], "idle"))
		return;
	if (manifest_check_name(p, "partition", w[1])) {
		p->win->spare_name = manifest_strdup(p, w[1]);
		p->win->spare_line = p->line;
	}
}

void manifest_window_key(struct parser *p, const struct word *w, size_t n)
{
	char buf[48];

	if (manifest_is_word(w[0], "frame"))
		key_frame(p, w, n);
	else if (manifest_is_word(w[0], "slot"))
		key_slot(p, w, n);
	else if (manifest_is_word(w[0], "spare"))
		key_spare(p, w, n);
	else
		manifest_error(p, "unknown key '%s' in window cpu %u", manifest_shown(w[0], buf),
		               p->win->cpu);
}

/* ---- pass 2 ---- */

static void bad(struct manifest_window *win)
{
	win->is_valid = false;
}

/* Sort win's slots by offset (insertion; at most MANIFEST_WINDOWS_MAX). */
static void sort_slots(struct manifest_window *win)
{
	struct manifest_slot *sorted = NULL;

	for (struct manifest_slot *s = win->slots, *next; s; s = next) {
		next = s->next;
		struct manifest_slot **pp = &sorted;
		while (*pp && (*pp)->offset_us <= s->offset_us)
			pp = &(*pp)->next;
		s->next = *pp;
		*pp = s;
	}
	win->slots = sorted;
}

/* The partition named at line for win, running on win's CPU; NULL (and an error) otherwise. */
static struct manifest_partition *resolve(struct parser *p, struct manifest_window *win,
                                          const char *name, uint32_t line)
{
	struct manifest_partition *q = manifest_find_partition(p->m, name);

	if (!q) {
		manifest_error_at(p, line, "window cpu %u: no partition '%s'", win->cpu, name);
		bad(win);
		return NULL;
	}
	if (!(q->cpus >> win->cpu & 1)) {
		manifest_error_at(p, line, "window cpu %u: partition %s does not run on cpu %u",
		                  win->cpu, name, win->cpu);
		bad(win);
		return NULL;
	}
	if (manifest_partition_id(p->m, q) > MANIFEST_WINDOW_PARTS) {
		manifest_error_at(p, line,
		                  "window cpu %u: partition %s: only the first %d partitions may "
		                  "own time",
		                  win->cpu, name, MANIFEST_WINDOW_PARTS);
		bad(win);
		return NULL;
	}
	return q;
}

/* One CPU's frame: the slots resolved, inside the frame, not overlapping; the spare resolved. */
static void check_frame(struct parser *p, struct manifest_window *win)
{
	const struct manifest_slot *prev = NULL;

	if (!win->frame_line) {
		manifest_error_at(p, win->line, "window cpu %u: 'frame TIME' missing", win->cpu);
		bad(win);
	}
	sort_slots(win);
	for (struct manifest_slot *s = win->slots; s; prev = s, s = s->next) {
		s->part = resolve(p, win, s->part_name, s->line);
		uint64_t end = s->offset_us + s->length_us;
		if (win->frame_us && end > win->frame_us) {
			manifest_error_at(p, s->line,
			                  "slot %s at %lluus for %lluus ends at %lluus, past the "
			                  "frame of %lluus",
			                  s->part_name, (unsigned long long)s->offset_us,
			                  (unsigned long long)s->length_us, (unsigned long long)end,
			                  (unsigned long long)win->frame_us);
			bad(win);
		}
		uint64_t prev_end = prev ? prev->offset_us + prev->length_us : 0;
		if (prev && prev_end > s->offset_us) {
			manifest_error_at(
			    p, s->line,
			    "slot %s at %lluus overlaps slot %s at line %u, which runs "
			    "until %lluus",
			    s->part_name, (unsigned long long)s->offset_us, prev->part_name,
			    prev->line, (unsigned long long)prev_end);
			bad(win);
		}
	}
	if (win->spare_name)
		win->spare = resolve(p, win, win->spare_name, win->spare_line);
}

/* Does q own time in win (a slot, or the spare)? */
static bool has_time(const struct manifest_window *win, const struct manifest_partition *q)
{
	if (win->spare == q)
		return true;
	for (const struct manifest_slot *s = win->slots; s; s = s->next)
		if (s->part == q)
			return true;
	return false;
}

void manifest_check_windows(struct parser *p)
{
	for (struct manifest_window *win = p->m->windows; win; win = win->next)
		check_frame(p, win);
	for (struct manifest_window *win = p->m->windows; win; win = win->next)
		for (struct manifest_partition *q = p->m->partitions; q; q = q->next) {
			if (!q->is_valid || !(q->cpus >> win->cpu & 1))
				continue;
			if (!win->is_valid) {
				manifest_error_at(p, q->line,
				                  "partition %s not started: the windows of cpu %u "
				                  "(line %u) have an error",
				                  q->name, win->cpu, win->line);
				q->is_valid = false;
			} else if (!has_time(win, q)) {
				manifest_error_at(
				    p, q->line,
				    "partition %s runs on cpu %u, which has windows (line "
				    "%u), but has no slot there",
				    q->name, win->cpu, win->line);
				q->is_valid = false;
			}
		}
}
