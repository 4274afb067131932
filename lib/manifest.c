/*
 * The system manifest (include/lib/manifest.h, docs/manifest.md): lines are
 * split into words, each word checked, everything the parse makes is
 * carved from the caller's arena. Pass 1 reads the sections line by line;
 * pass 2 resolves channel ends, checks limits across partitions and marks
 * invalid every partition at an end of an invalid channel (and so on, until
 * nothing changes). Bounded: every loop consumes input or walks a list
 * made from it.
 */
#include <hallows/ring.h>
#include <lib/fmt.h>
#include <lib/manifest.h>
#include <lib/string.h>

#include <stdarg.h>

#include "manifest_int.h"

void *manifest_alloc(struct parser *p, size_t n)
{
	struct manifest_arena *a = p->a;
	size_t at = (a->used + 7) & ~(size_t)7;

	if (at > a->size || a->size - at < n) {
		p->m->arena_full = true;
		return NULL;
	}
	a->used = at + n;
	memset(a->base + at, 0, n);
	return a->base + at;
}

const char *manifest_strdup(struct parser *p, struct word w)
{
	char *s = manifest_alloc(p, w.n + 1);

	if (s) {
		memcpy(s, w.s, w.n);
		s[w.n] = 0;
	}
	return s;
}

/* A word as it may be printed: at most 40 bytes, "..." when longer. */
const char *manifest_shown(struct word w, char *buf)
{
	size_t n = w.n > 40 ? 40 : w.n;

	memcpy(buf, w.s, n);
	memcpy(buf + n, w.n > 40 ? "..." : "", w.n > 40 ? 4 : 1);
	return buf;
}

/* Record an error at the current line; the section being read is invalid from now on. */
void manifest_error(struct parser *p, const char *fmt, ...)
{
	struct manifest_error *e = manifest_alloc(p, sizeof(*e));
	va_list ap;

	if (p->part)
		p->part->is_valid = false;
	if (p->chan)
		p->chan->is_valid = false;
	if (p->win)
		p->win->is_valid = false;
	if (!e)
		return;
	e->line = p->line;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	*p->err_tail = e;
	p->err_tail = &e->next;
	p->m->nerrors++;
}

bool manifest_is_word(struct word w, const char *s)
{
	return strlen(s) == w.n && !memcmp(w.s, s, w.n);
}

/* Decimal digits only, at least one, no overflow of 64 bits. */
bool manifest_dec(struct word w, uint64_t *out)
{
	uint64_t v = 0;

	if (!w.n || w.n > 20)
		return false;
	for (size_t i = 0; i < w.n; i++) {
		if (w.s[i] < '0' || w.s[i] > '9')
			return false;
		uint64_t d = (uint64_t)(w.s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* Exactly `digits` hexadecimal digits (PCI ids are written as lspci prints them). */
bool manifest_hex(const char *s, size_t n, size_t digits, uint32_t *out)
{
	uint32_t v = 0;

	if (n != digits)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		uint32_t d = c >= '0' && c <= '9'   ? (uint32_t)(c - '0')
		             : c >= 'a' && c <= 'f' ? (uint32_t)(c - 'a' + 10)
		             : c >= 'A' && c <= 'F' ? (uint32_t)(c - 'A' + 10)
		                                    : 16;
		if (d == 16)
			return false;
		v = v << 4 | d;
	}
	*out = v;
	return true;
}

bool manifest_is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* Names: a lower-case letter, then lower-case letters, digits, '-' or '_'. */
bool manifest_check_name(struct parser *p, const char *what, struct word w)
{
	char buf[48];
	bool ok = w.n > 0 && w.n < MANIFEST_NAME_MAX && w.s[0] >= 'a' && w.s[0] <= 'z';

	for (size_t i = 0; ok && i < w.n; i++) {
		char c = w.s[i];
		ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
	}
	if (!ok)
		manifest_error(
		    p,
		    "%s name '%s': use 1 to %d lower-case letters, digits, '-' or '_', starting "
		    "with a letter",
		    what, manifest_shown(w, buf), MANIFEST_NAME_MAX - 1);
	return ok;
}

/* A key that may appear once per section: false (and an error) when it did already. */
bool manifest_once(struct parser *p, enum once_key k, struct word key)
{
	char buf[48];

	if (p->seen[k]) {
		manifest_error(p, "%s given twice (first at line %u)", manifest_shown(key, buf),
		               p->seen[k]);
		return false;
	}
	p->seen[k] = p->line;
	return true;
}

/* A decimal number in [lo, hi]; an error naming the key otherwise. */
bool manifest_number(struct parser *p, struct word key, struct word w, uint64_t lo, uint64_t hi,
                     uint64_t *out)
{
	char kb[48], vb[48];

	if (!manifest_dec(w, out)) {
		manifest_error(p, "%s '%s': not a decimal number", manifest_shown(key, kb),
		               manifest_shown(w, vb));
		return false;
	}
	if (*out < lo || *out > hi) {
		manifest_error(p, "%s %s: out of range %llu..%llu", manifest_shown(key, kb),
		               manifest_shown(w, vb), (unsigned long long)lo,
		               (unsigned long long)hi);
		return false;
	}
	return true;
}

bool manifest_nwords(struct parser *p, size_t n, size_t want, const char *usage)
{
	if (n != want)
		manifest_error(p, "expected '%s'", usage);
	return n == want;
}

struct manifest_partition *manifest_find_partition(struct manifest *m, const char *name)
{
	for (struct manifest_partition *q = m->partitions; q; q = q->next)
		if (!strcmp(q->name, name))
			return q;
	return NULL;
}

/* Report at `line` against nothing in particular (the caller marks what is invalid). */
void manifest_error_at(struct parser *p, uint32_t line, const char *fmt, ...)
{
	struct manifest_error *e = manifest_alloc(p, sizeof(*e));
	va_list ap;

	if (!e)
		return;
	e->line = line;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	*p->err_tail = e, p->err_tail = &e->next, p->m->nerrors++;
}

/* Channel ends resolved, different, and the ring within bounds. */
static void check_channel(struct parser *p, struct manifest_channel *c)
{
	const char *names[2] = {c->from_name, c->to_name};
	uint32_t lines[2] = {c->from_line, c->to_line};
	struct manifest_partition *ends[2] = {NULL, NULL};

	for (int i = 0; i < 2; i++) {
		if (!names[i]) {
			if (lines[i]) /* a bad name, reported at its line */
				continue;
			manifest_error_at(p, c->line, "channel %s: '%s PARTITION' missing", c->name,
			                  i ? "to" : "from");
			c->is_valid = false;
		} else if (!(ends[i] = manifest_find_partition(p->m, names[i]))) {
			manifest_error_at(p, lines[i], "channel %s: no partition '%s'", c->name,
			                  names[i]);
			c->is_valid = false;
		}
	}
	c->from = ends[0], c->to = ends[1];
	if (ends[0] && ends[0] == ends[1]) {
		manifest_error_at(p, c->line, "channel %s: both ends are partition %s", c->name,
		                  ends[0]->name);
		c->is_valid = false;
	}
	if (hl_ring_bytes(c->entries, c->entry_size) > MANIFEST_RING_MAX_BYTES) {
		manifest_error_at(
		    p, c->line,
		    "channel %s: %u entries of %u bytes need more than %u bytes of ring", c->name,
		    c->entries, c->entry_size, MANIFEST_RING_MAX_BYTES);
		c->is_valid = false;
	}
}

/*
 * A partition starts only with all its channels, and a channel is set up
 * only between two partitions that start: spread invalidity until nothing
 * changes (each round invalidates something, so at most npartitions +
 * nchannels rounds).
 */
static void spread_invalid(struct parser *p)
{
	for (bool changed = true; changed;) {
		changed = false;
		for (struct manifest_channel *c = p->m->channels; c; c = c->next) {
			struct manifest_partition *ends[2] = {c->from, c->to};
			for (int i = 0; i < 2; i++) {
				struct manifest_partition *q = ends[i];
				if (!q)
					continue;
				if (!c->is_valid && q->is_valid) {
					manifest_error_at(
					    p, q->line,
					    "partition %s not started: its channel %s has an error",
					    q->name, c->name);
					q->is_valid = false, changed = true;
				} else if (c->is_valid && !q->is_valid) {
					manifest_error_at(
					    p, c->line,
					    "channel %s not set up: partition %s is not started",
					    c->name, q->name);
					c->is_valid = false, changed = true;
				}
			}
		}
	}
}

/* Pass 2: what needs the whole file. */
static void check_whole(struct parser *p)
{
	uint64_t total = 0;

	for (struct manifest_partition *q = p->m->partitions; q; q = q->next)
		if (!q->nprograms) {
			manifest_error_at(p, q->line, "partition %s has no program", q->name);
			q->is_valid = false;
		}
	for (struct manifest_channel *c = p->m->channels; c; c = c->next)
		check_channel(p, c);
	manifest_check_snapshots(p);
	manifest_check_windows(p);
	spread_invalid(p);
	for (struct manifest_partition *q = p->m->partitions; q; q = q->next) {
		if (!q->is_valid)
			continue;
		if (p->lim->mem_kib && total + q->mem_kib + q->snap_kib > p->lim->mem_kib) {
			manifest_error_at(
			    p, q->line,
			    "partition %s: its %lluK with the partitions before it exceed the "
			    "%lluK the root task has",
			    q->name, (unsigned long long)q->mem_kib,
			    (unsigned long long)p->lim->mem_kib);
			q->is_valid = false;
		} else {
			total += q->mem_kib + q->snap_kib; /* its snapshot is charged to it */
		}
	}
	spread_invalid(p);
}

/* Start a "partition NAME" or "channel NAME" section (after finishing the last one). */
static void begin_section(struct parser *p, const struct word *w, size_t n)
{
	char buf[48];

	p->part = NULL, p->chan = NULL, p->win = NULL, p->sec = SEC_SKIP;
	memset(p->seen, 0, sizeof(p->seen));
	if (manifest_is_word(w[0], "window")) {
		manifest_start_window(p, w, n);
		return;
	}
	bool is_part = manifest_is_word(w[0], "partition");
	if (!is_part && !manifest_is_word(w[0], "channel")) {
		manifest_error(
		    p, "'%s': expected a section: partition NAME, channel NAME or window cpu N",
		    manifest_shown(w[0], buf));
		return;
	}
	if (is_part)
		manifest_start_partition(p, w, n);
	else
		manifest_start_channel(p, w, n);
}

/* One line's words (at most MAX_WORDS; an error otherwise). Returns how many, 0 for blank or
 * comment. */
static size_t split(struct parser *p, const char *s, const char *end, struct word *w)
{
	size_t n = 0;

	for (const char *c = s; c < end; c++) {
		unsigned char b = (unsigned char)*c;
		if ((b < 0x20 && b != '\t' && !(b == '\r' && c + 1 == end)) || b >= 0x7f) {
			bool comment = false;
			for (const char *d = s;
			     d < end && !comment && (*d == ' ' || *d == '\t' || *d == '#'); d++)
				comment = *d == '#';
			if (comment)
				return 0;
			manifest_error(p, "byte 0x%02x: only printable ASCII outside comments", b);
			return 0;
		}
	}
	if (end > s && end[-1] == '\r')
		end--;
	while (s < end) {
		while (s < end && (*s == ' ' || *s == '\t'))
			s++;
		if (s == end || (n == 0 && *s == '#'))
			break;
		if (n == MAX_WORDS) {
			manifest_error(p, "too many words on one line (at most %d)", MAX_WORDS);
			return 0;
		}
		w[n].s = s;
		while (s < end && *s != ' ' && *s != '\t')
			s++;
		w[n].n = (size_t)(s - w[n].s);
		n++;
	}
	return n;
}

static void one_line(struct parser *p, const char *s, const char *end)
{
	struct word w[MAX_WORDS];
	size_t n = split(p, s, end, w);
	bool indented = s < end && (*s == ' ' || *s == '\t');

	if (n == 0)
		return;
	if (!indented) {
		begin_section(p, w, n);
		return;
	}
	if (p->sec == SEC_PARTITION)
		manifest_partition_key(p, w, n);
	else if (p->sec == SEC_CHANNEL)
		manifest_channel_key(p, w, n);
	else if (p->sec == SEC_WINDOW)
		manifest_window_key(p, w, n);
	else if (p->sec == SEC_NONE)
		manifest_error(p, "indented line outside any section");
	/* SEC_SKIP: the section's first line was reported; its body is skipped silently. */
}

enum manifest_status manifest_parse(const char *text, size_t len,
                                    const struct manifest_limits *limits,
                                    struct manifest_arena *arena, struct manifest *m)
{
	struct parser p = {.m = m, .a = arena, .lim = limits, .sec = SEC_NONE};
	const char *s = text, *end = text + len;

	memset(m, 0, sizeof(*m));
	p.part_tail = &m->partitions, p.chan_tail = &m->channels, p.err_tail = &m->errors;
	p.win_tail = &m->windows;
	while (s < end &&
	       !m->arena_full) { /* a full arena may leave half-made records: stop at once */
		const char *nl = s;
		while (nl < end && *nl != '\n')
			nl++;
		p.line++;
		p.line_end = nl;
		one_line(&p, s, nl);
		s = nl + (nl < end); /* never past end after a last line without '\n' */
	}
	if (m->arena_full)
		return MANIFEST_ARENA_FULL;
	p.part = NULL, p.chan = NULL, p.win = NULL;
	check_whole(&p);
	if (m->arena_full)
		return MANIFEST_ARENA_FULL;
	return m->nerrors ? MANIFEST_HAS_ERRORS : MANIFEST_OK;
}

const char *manifest_config_get(const struct manifest_partition *p, const char *key)
{
	for (const struct manifest_config *c = p->config; c; c = c->next)
		if (!strcmp(c->key, key))
			return c->value;
	return NULL;
}

uint32_t manifest_partition_id(const struct manifest *m, const struct manifest_partition *p)
{
	uint32_t id = 1;

	for (const struct manifest_partition *q = m->partitions; q && q != p; q = q->next)
		id++;
	return id;
}

uint32_t manifest_ring_bytes(const struct manifest_channel *c)
{
	uint64_t b = HL_RING_HEADER_BYTES + (uint64_t)c->entries * c->entry_size;

	return (uint32_t)((b + 4095) & ~4095ull);
}
