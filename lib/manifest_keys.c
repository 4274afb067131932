/*
 * The keys of the system manifest's partition and channel sections
 * (docs/manifest.md): each handler checks its words and fills the section's
 * record, or reports an error that marks the section invalid.
 */
#include <hallows/ring.h>
#include <lib/string.h>

#include "manifest_int.h"

/* "partition NAME": a new partition with the defaults of docs/manifest.md. */
void manifest_start_partition(struct parser *p, const struct word *w, size_t n)
{
	char buf[48];

	if (!manifest_nwords(p, n, 2, "partition NAME") ||
	    !manifest_check_name(p, "partition", w[1]))
		return;
	struct manifest_partition *q = manifest_alloc(p, sizeof(*q));
	if (!q)
		return;
	q->line = p->line, q->name = manifest_strdup(p, w[1]), q->is_valid = true;
	q->mem_kib = 1024, q->cpus = 1, q->priority = 50, q->restart = MANIFEST_RESTART_STOP;
	for (struct manifest_partition *o = p->m->partitions; o; o = o->next)
		if (manifest_is_word(w[1], o->name)) {
			p->part = q;
			manifest_error(p, "partition '%s' already defined at line %u",
			               manifest_shown(w[1], buf), o->line);
			break;
		}
	*p->part_tail = q, p->part_tail = &q->next, p->m->npartitions++;
	p->part = q, p->sec = SEC_PARTITION;
	p->prog_tail = &q->programs, p->dev_tail = &q->devices, p->conf_tail = &q->config;
}

/* "channel NAME": a ring of 64 entries of 64 bytes until told otherwise. */
void manifest_start_channel(struct parser *p, const struct word *w, size_t n)
{
	char buf[48];

	if (!manifest_nwords(p, n, 2, "channel NAME") || !manifest_check_name(p, "channel", w[1]))
		return;
	struct manifest_channel *c = manifest_alloc(p, sizeof(*c));
	if (!c)
		return;
	c->line = p->line, c->name = manifest_strdup(p, w[1]), c->is_valid = true, c->entries = 64,
	c->entry_size = 64;
	for (struct manifest_channel *o = p->m->channels; o; o = o->next)
		if (manifest_is_word(w[1], o->name)) {
			p->chan = c;
			manifest_error(p, "channel '%s' already defined at line %u",
			               manifest_shown(w[1], buf), o->line);
			break;
		}
	*p->chan_tail = c, p->chan_tail = &c->next, p->m->nchannels++;
	p->chan = c, p->sec = SEC_CHANNEL;
}

/* "program PATH [ARG ...]" */
static void key_program(struct parser *p, const struct word *w, size_t n)
{
	char buf[48];

	if (n < 2 || n - 1 > MANIFEST_ARGS_MAX) {
		manifest_error(p, "expected 'program PATH [ARG ...]' with at most %d arguments",
		               MANIFEST_ARGS_MAX - 1);
		return;
	}
	if (w[1].n >= MANIFEST_PATH_MAX) {
		manifest_error(p, "program path '%s': longer than %d bytes",
		               manifest_shown(w[1], buf), MANIFEST_PATH_MAX - 1);
		return;
	}
	for (size_t i = 2; i < n; i++)
		if (w[i].n >= MANIFEST_ARG_MAX) {
			manifest_error(p, "program argument '%s': longer than %d bytes",
			               manifest_shown(w[i], buf), MANIFEST_ARG_MAX - 1);
			return;
		}
	struct manifest_program *g = manifest_alloc(p, sizeof(*g));
	if (!g)
		return;
	g->line = p->line, g->argc = (uint32_t)(n - 1);
	for (size_t i = 1; i < n; i++)
		g->argv[i - 1] = manifest_strdup(p, w[i]);
	*p->prog_tail = g, p->prog_tail = &g->next, p->part->nprograms++;
}

/* A size: a number and K, M or G (KiB, MiB, GiB), in KiB; an error naming `what` otherwise. */
static bool size_kib(struct parser *p, const char *what, struct word w, uint64_t *kib)
{
	char buf[48];
	struct word num = {w.s, w.n ? w.n - 1 : 0};
	char unit = w.n ? w.s[w.n - 1] : 0;
	uint64_t shift = unit == 'K' ? 0 : unit == 'M' ? 10 : unit == 'G' ? 20 : 64;

	if (shift == 64 || !manifest_dec(num, kib) || *kib > (1ull << 40)) {
		manifest_error(
		    p, "%s '%s': expected a number and a unit K, M or G (at most 2^40 of a unit)",
		    what, manifest_shown(w, buf));
		return false;
	}
	*kib <<= shift;
	return true;
}

/* "memory SIZE": K, M or G (KiB, MiB, GiB); a power of two of at least 64K. */
static void key_memory(struct parser *p, const struct word *w, size_t n)
{
	char buf[48];
	uint64_t v;

	if (!manifest_nwords(p, n, 2, "memory SIZE (e.g. 512K, 4M, 1G)") ||
	    !manifest_once(p, K_MEMORY, w[0]) || !size_kib(p, "memory", w[1], &v))
		return;
	if (!manifest_is_pow2(v) || v < MANIFEST_MIN_MEM_KIB)
		manifest_error(p, "memory %s: must be a power of two of at least %dK",
		               manifest_shown(w[1], buf), MANIFEST_MIN_MEM_KIB);
	else if (p->lim->mem_kib && v > p->lim->mem_kib)
		manifest_error(p, "memory %s: more than the %lluK the root task has",
		               manifest_shown(w[1], buf), (unsigned long long)p->lim->mem_kib);
	else
		p->part->mem_kib = v;
}

/* "cpus LIST": numbers and ranges a-b, separated by commas. */
static void key_cpus(struct parser *p, const struct word *w, size_t n)
{
	char buf[48];
	uint64_t mask = 0;

	if (!manifest_nwords(p, n, 2, "cpus LIST (e.g. 0 or 0,2-3)") ||
	    !manifest_once(p, K_CPUS, w[0]))
		return;
	for (const char *s = w[1].s, *end = w[1].s + w[1].n; s <= end;) {
		const char *comma = s;
		while (comma < end && *comma != ',')
			comma++;
		const char *dash = s;
		while (dash < comma && *dash != '-')
			dash++;
		struct word lo = {s, (size_t)(dash - s)},
		            hi = dash < comma ? (struct word){dash + 1, (size_t)(comma - dash - 1)}
		                              : lo;
		uint64_t a, b;
		if (!manifest_dec(lo, &a) || !manifest_dec(hi, &b) || a > b) {
			manifest_error(
			    p,
			    "cpus '%s': expected numbers or ranges a-b (a <= b) separated by "
			    "commas",
			    manifest_shown(w[1], buf));
			return;
		}
		if (b >= MANIFEST_CPUS_MAX || (p->lim->ncpus && b >= p->lim->ncpus)) {
			manifest_error(p, "cpu %llu does not exist (%u CPUs)",
			               (unsigned long long)b,
			               p->lim->ncpus ? p->lim->ncpus : MANIFEST_CPUS_MAX);
			return;
		}
		for (uint64_t c = a; c <= b; c++)
			mask |= 1ull << c;
		s = comma + 1;
	}
	p->part->cpus = mask;
}

static void key_priority(struct parser *p, const struct word *w, size_t n)
{
	uint64_t v;

	if (!manifest_nwords(p, n, 2, "priority N") || !manifest_once(p, K_PRIORITY, w[0]) ||
	    !manifest_number(p, w[0], w[1], 0, MANIFEST_PRIORITY_LIM - 1, &v))
		return;
	if (p->lim->max_priority && v > p->lim->max_priority)
		manifest_error(p, "priority %llu: above the root task's own (%u)",
		               (unsigned long long)v, p->lim->max_priority);
	else
		p->part->priority = (uint32_t)v;
}

/* A time with a unit, "us" or "ms", in microseconds. */
bool manifest_duration(struct word w, uint64_t *us)
{
	if (w.n < 3 || w.s[w.n - 1] != 's' || (w.s[w.n - 2] != 'u' && w.s[w.n - 2] != 'm'))
		return false;
	struct word num = {w.s, w.n - 2};
	if (!manifest_dec(num, us) || *us > MANIFEST_PERIOD_MAX_US)
		return false;
	if (w.s[w.n - 2] == 'm')
		*us *= 1000;
	return true;
}

/* "budget TIME period TIME": at most TIME of CPU in every period. */
static void key_budget(struct parser *p, const struct word *w, size_t n)
{
	char b1[48], b2[48];
	uint64_t b, t;

	if (!manifest_nwords(p, n, 4, "budget TIME period TIME (units us or ms)") ||
	    !manifest_once(p, K_BUDGET, w[0]))
		return;
	if (!manifest_is_word(w[2], "period")) {
		manifest_error(p, "expected 'budget TIME period TIME (units us or ms)'");
		return;
	}
	if (!manifest_duration(w[1], &b) || !manifest_duration(w[3], &t)) {
		manifest_error(p, "budget %s period %s: times are a number and us or ms",
		               manifest_shown(w[1], b1), manifest_shown(w[3], b2));
		return;
	}
	if (b == 0 || b > t || t < MANIFEST_PERIOD_MIN_US || t > MANIFEST_PERIOD_MAX_US) {
		manifest_error(p,
		               "budget %s period %s: need 0 < budget <= period, period %dus..%ds",
		               manifest_shown(w[1], b1), manifest_shown(w[3], b2),
		               MANIFEST_PERIOD_MIN_US, MANIFEST_PERIOD_MAX_US / 1000000);
		return;
	}
	p->part->budget_us = (uint32_t)b, p->part->period_us = (uint32_t)t;
}

/* "on-crash restart|stop" */
static void key_on_crash(struct parser *p, const struct word *w, size_t n)
{
	char buf[48];

	if (!manifest_nwords(p, n, 2, "on-crash restart|stop") ||
	    !manifest_once(p, K_RESTART, w[0]))
		return;
	if (manifest_is_word(w[1], "restart"))
		p->part->restart = MANIFEST_RESTART_RESTART;
	else if (manifest_is_word(w[1], "stop"))
		p->part->restart = MANIFEST_RESTART_STOP;
	else
		manifest_error(p, "on-crash '%s': expected restart or stop",
		               manifest_shown(w[1], buf));
}

/* "control": the partition may stop and restart partitions (docs/manifest.md, "On request") */
static void key_control(struct parser *p, const struct word *w, size_t n)
{
	if (manifest_nwords(p, n, 1, "control") && manifest_once(p, K_CONTROL, w[0]))
		p->part->control = true;
}

/* "console": the partition owns COM1's receive side (docs/manifest.md, "The serial console") */
static void key_console(struct parser *p, const struct word *w, size_t n)
{
	if (manifest_nwords(p, n, 1, "console") && manifest_once(p, K_CONSOLE, w[0]))
		p->part->console = true;
}

/* "screen": the partition owns the PS/2 keyboard and the screen (docs/manifest.md, "The screen") */
static void key_screen(struct parser *p, const struct word *w, size_t n)
{
	if (manifest_nwords(p, n, 1, "screen") && manifest_once(p, K_SCREEN, w[0]))
		p->part->screen = true;
}

/* The match part of a device line into *d; false after an error. */
static bool device_match(struct parser *p, struct word kind, struct word v,
                         struct manifest_device *d)
{
	char buf[48];
	uint32_t a, b, c;
	const char *s = v.s;

	if (manifest_is_word(kind, "pci") && v.n == 9 && s[4] == ':' && manifest_hex(s, 4, 4, &a) &&
	    manifest_hex(s + 5, 4, 4, &b)) {
		d->kind = MANIFEST_DEV_ID, d->vendor = (uint16_t)a, d->device = (uint16_t)b;
		return true;
	}
	if (manifest_is_word(kind, "class") && (v.n == 2 || v.n == 5 || v.n == 8)) {
		bool ok = manifest_hex(s, 2, 2, &a);
		d->class_bytes = (uint8_t)((v.n + 1) / 3);
		for (size_t i = 2; ok && i < v.n; i += 3)
			ok = s[i] == ':' && manifest_hex(s + i + 1, 2, 2, i == 2 ? &b : &c);
		if (ok) {
			d->kind = MANIFEST_DEV_CLASS, d->class_code = (uint8_t)a;
			d->subclass = d->class_bytes > 1 ? (uint8_t)b : 0,
			d->prog_if = d->class_bytes > 2 ? (uint8_t)c : 0;
			return true;
		}
	}
	if (manifest_is_word(kind, "at") && v.n == 7 && s[2] == ':' && s[5] == '.' &&
	    manifest_hex(s, 2, 2, &a) && manifest_hex(s + 3, 2, 2, &b) &&
	    manifest_hex(s + 6, 1, 1, &c) && b < 32 && c < 8) {
		d->kind = MANIFEST_DEV_BDF, d->bus = (uint8_t)a, d->dev = (uint8_t)b,
		d->fn = (uint8_t)c;
		return true;
	}
	if (manifest_is_word(kind, "pci") || manifest_is_word(kind, "class") ||
	    manifest_is_word(kind, "at"))
		manifest_error(
		    p, "device %.*s '%s': expected %s", (int)kind.n, kind.s, manifest_shown(v, buf),
		    kind.s[0] == 'p'   ? "VVVV:DDDD (hexadecimal vendor and device)"
		    : kind.s[0] == 'c' ? "CC[:SS[:PP]] (hexadecimal class, subclass, prog-if)"
		                       : "BB:DD.F (hexadecimal bus, device < 20, function < 8)");
	else
		manifest_error(p, "device '%s': expected pci, class or at",
		               manifest_shown(kind, buf));
	return false;
}

static bool same_device(const struct manifest_device *a, const struct manifest_device *b)
{
	return a->kind == b->kind && a->vendor == b->vendor && a->device == b->device &&
	       a->class_code == b->class_code && a->subclass == b->subclass &&
	       a->prog_if == b->prog_if && a->class_bytes == b->class_bytes && a->bus == b->bus &&
	       a->dev == b->dev && a->fn == b->fn;
}

/* "device pci VVVV:DDDD [count N]", "device class CC[:SS[:PP]] [count N]", "device at BB:DD.F" */
static void key_device(struct parser *p, const struct word *w, size_t n)
{
	struct manifest_device d = {.line = p->line, .count = 1};
	uint64_t count;

	if (n != 3 && n != 5) {
		manifest_error(
		    p, "expected 'device pci VVVV:DDDD|class CC[:SS[:PP]]|at BB:DD.F [count N]'");
		return;
	}
	if (!device_match(p, w[1], w[2], &d))
		return;
	if (n == 5) {
		if (d.kind == MANIFEST_DEV_BDF || !manifest_is_word(w[3], "count")) {
			manifest_error(
			    p,
			    "device: only 'pci' and 'class' lines take 'count N' after the match");
			return;
		}
		if (!manifest_number(p, w[3], w[4], 1, MANIFEST_DEV_COUNT_MAX, &count))
			return;
		d.count = (uint32_t)count;
	}
	for (struct manifest_partition *q = p->m->partitions; q; q = q->next)
		for (struct manifest_device *o = q->devices; o; o = o->next) {
			if (q == p->part && same_device(o, &d)) {
				manifest_error(p, "device listed twice (first at line %u)",
				               o->line);
				return;
			}
			if (q != p->part && d.kind == MANIFEST_DEV_BDF && same_device(o, &d)) {
				manifest_error(
				    p,
				    "device at %02x:%02x.%x already belongs to partition %s "
				    "(line %u)",
				    d.bus, d.dev, d.fn, q->name, o->line);
				return;
			}
		}
	struct manifest_device *nd = manifest_alloc(p, sizeof(*nd));
	if (!nd)
		return;
	*nd = d;
	*p->dev_tail = nd, p->dev_tail = &nd->next;
}

/* "config KEY=VALUE": VALUE is the rest of the line (blanks inside kept, at the ends dropped). */
static void key_config(struct parser *p, const struct word *w, size_t n)
{
	char buf[48];
	const char *eq = NULL, *end = p->line_end;

	if (n >= 2)
		for (eq = w[1].s; eq < w[1].s + w[1].n && *eq != '=';)
			eq++;
	if (n < 2 || eq == w[1].s + w[1].n) {
		manifest_error(p, "expected 'config KEY=VALUE'");
		return;
	}
	struct word key = {w[1].s, (size_t)(eq - w[1].s)};
	bool ok = key.n > 0 && key.n < MANIFEST_KEY_MAX && key.s[0] >= 'a' && key.s[0] <= 'z';
	for (size_t i = 0; ok && i < key.n; i++) {
		char c = key.s[i];
		ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		     c == '.';
	}
	if (!ok) {
		manifest_error(
		    p, "config key '%s': use 1 to %d of a-z 0-9 - _ . starting with a letter",
		    manifest_shown(key, buf), MANIFEST_KEY_MAX - 1);
		return;
	}
	while (end > eq + 1 && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	struct word val = {eq + 1, (size_t)(end - eq - 1)};
	if (val.n >= MANIFEST_VALUE_MAX) {
		manifest_error(p, "config %s: value longer than %d bytes", manifest_shown(key, buf),
		               MANIFEST_VALUE_MAX - 1);
		return;
	}
	for (struct manifest_config *o = p->part->config; o; o = o->next)
		if (manifest_is_word(key, o->key)) {
			manifest_error(p, "config %s given twice (first at line %u)", o->key,
			               o->line);
			return;
		}
	struct manifest_config *c = manifest_alloc(p, sizeof(*c));
	if (!c)
		return;
	c->line = p->line, c->key = manifest_strdup(p, key), c->value = manifest_strdup(p, val);
	*p->conf_tail = c, p->conf_tail = &c->next, p->part->nconfig++;
}

/* "snapshot SIZE" | "snapshot refuse" | "snapshot exclude channel NAME" |
 * "snapshot exclude range ADDR SIZE" (docs/manifest.md, "Snapshots") */
static void key_snapshot(struct parser *p, const struct word *w, size_t n)
{
	char buf[48];
	struct manifest_partition *q = p->part;
	uint64_t v;

	if (n == 2 && manifest_is_word(w[1], "refuse")) {
		if (manifest_once(p, K_REFUSE, w[1]))
			q->snap_refuse = true, q->refuse_line = p->line;
		return;
	}
	if (n == 2) {
		if (!manifest_once(p, K_SNAPSHOT, w[0]) || !size_kib(p, "snapshot", w[1], &v))
			return;
		if (!manifest_is_pow2(v) || v < MANIFEST_SNAP_MIN_KIB)
			manifest_error(p, "snapshot %s: must be a power of two of at least %dK",
			               manifest_shown(w[1], buf), MANIFEST_SNAP_MIN_KIB);
		else
			q->snap_kib = v, q->snap_line = p->line;
		return;
	}
	bool channel =
	    n == 4 && manifest_is_word(w[1], "exclude") && manifest_is_word(w[2], "channel");
	bool range = n == 5 && manifest_is_word(w[1], "exclude") && manifest_is_word(w[2], "range");
	if (!channel && !range) {
		manifest_error(p, "expected 'snapshot SIZE', 'snapshot refuse', 'snapshot exclude "
		                  "channel NAME' or 'snapshot exclude range ADDR SIZE'");
		return;
	}
	if (q->nsnap_excludes == MANIFEST_SNAP_EXCLUDES) {
		manifest_error(p, "more than %d snapshot exclusions", MANIFEST_SNAP_EXCLUDES);
		return;
	}
	struct manifest_snap_exclude x = {.line = p->line};
	if (channel) {
		if (!manifest_check_name(p, "channel", w[3]))
			return;
		for (struct manifest_snap_exclude *o = q->snap_excludes; o; o = o->next)
			if (o->kind == MANIFEST_SNAP_CHANNEL &&
			    manifest_is_word(w[3], o->channel_name)) {
				manifest_error(p, "channel %s excluded twice (first at line %u)",
				               o->channel_name, o->line);
				return;
			}
		x.kind = MANIFEST_SNAP_CHANNEL, x.channel_name = manifest_strdup(p, w[3]);
	} else {
		uint32_t hi = 0, lo = 0;
		bool hex = w[3].n > 2 && w[3].n <= 14 && w[3].s[0] == '0' && w[3].s[1] == 'x';
		size_t digits = hex ? w[3].n - 2 : 0;
		if (!hex ||
		    (digits > 8 && !manifest_hex(w[3].s + 2, digits - 8, digits - 8, &hi)) ||
		    !manifest_hex(w[3].s + 2 + (digits > 8 ? digits - 8 : 0),
		                  digits > 8 ? 8 : digits, digits > 8 ? 8 : digits, &lo)) {
			manifest_error(
			    p, "snapshot range address '%s': expected 0x and 1 to 12 hex digits",
			    manifest_shown(w[3], buf));
			return;
		}
		x.vaddr = (uint64_t)hi << 32 | lo;
		if (!size_kib(p, "snapshot range size", w[4], &v))
			return;
		x.size = v << 10;
		if ((x.vaddr & 4095) || (v & 3) || !v || x.vaddr + x.size > (1ull << 47)) {
			char buf2[48];
			manifest_error(p, "snapshot range %s %s: must be whole 4K pages below 2^47",
			               manifest_shown(w[3], buf), manifest_shown(w[4], buf2));
			return;
		}
		x.kind = MANIFEST_SNAP_RANGE;
	}
	struct manifest_snap_exclude *e = manifest_alloc(p, sizeof(*e));
	if (!e)
		return;
	*e = x;
	struct manifest_snap_exclude **tail = &q->snap_excludes;
	while (*tail)
		tail = &(*tail)->next;
	*tail = e, q->nsnap_excludes++;
}

/* Pass 2: what a partition's snapshot declarations mean against the rest of the file. */
void manifest_check_snapshots(struct parser *p)
{
	for (struct manifest_partition *q = p->m->partitions; q; q = q->next) {
		uint32_t line = q->snap_line;
		if (q->snap_refuse && (q->snap_kib || q->snap_excludes)) {
			manifest_error_at(
			    p, q->refuse_line,
			    "partition %s: 'snapshot refuse' with snapshot declarations "
			    "(line %u): choose one",
			    q->name, q->snap_line ? q->snap_line : q->snap_excludes->line);
			q->is_valid = false;
		}
		if (!q->snap_kib) {
			if (q->snap_excludes && !q->snap_refuse) {
				manifest_error_at(
				    p, q->snap_excludes->line,
				    "partition %s: snapshot exclusions without 'snapshot SIZE'",
				    q->name);
				q->is_valid = false;
			}
			continue;
		}
		if (q->snap_kib > q->mem_kib / 2) {
			manifest_error_at(
			    p, line,
			    "partition %s: snapshot %lluK is more than half its memory "
			    "(%lluK)",
			    q->name, (unsigned long long)q->snap_kib,
			    (unsigned long long)q->mem_kib);
			q->is_valid = false;
		}
		if (q->nprograms > MANIFEST_SNAP_PROGRAMS) {
			manifest_error_at(
			    p, line,
			    "partition %s: a snapshot covers at most %d programs, it has %u",
			    q->name, MANIFEST_SNAP_PROGRAMS, q->nprograms);
			q->is_valid = false;
		}
		if (q->devices) {
			manifest_error_at(
			    p, q->devices->line,
			    "partition %s: snapshot refused: its devices write memory by "
			    "DMA, which a snapshot does not see",
			    q->name);
			q->is_valid = false;
		}
		for (struct manifest_snap_exclude *x = q->snap_excludes; x; x = x->next) {
			if (x->kind != MANIFEST_SNAP_CHANNEL)
				continue;
			for (struct manifest_channel *c = p->m->channels; c && !x->channel;
			     c = c->next)
				if (!strcmp(c->name, x->channel_name) &&
				    (c->from == q || c->to == q))
					x->channel = c;
			if (!x->channel) {
				manifest_error_at(p, x->line,
				                  "partition %s: no channel %s of its own", q->name,
				                  x->channel_name);
				q->is_valid = false;
			}
		}
		/* every ring it shares must be declared: a restore must not write into it */
		for (struct manifest_channel *c = p->m->channels; c; c = c->next) {
			if (c->from != q && c->to != q)
				continue;
			bool declared = false;
			for (struct manifest_snap_exclude *x = q->snap_excludes; x; x = x->next)
				declared |= x->channel == c;
			if (!declared) {
				manifest_error_at(
				    p, line,
				    "partition %s: channel %s (line %u) is shared with "
				    "partition %s: declare 'snapshot exclude channel %s'",
				    q->name, c->name, c->line,
				    c->from == q ? c->to_name : c->from_name, c->name);
				q->is_valid = false;
			}
		}
	}
}

void manifest_partition_key(struct parser *p, const struct word *w, size_t n)
{
	char buf[48];

	if (manifest_is_word(w[0], "program"))
		key_program(p, w, n);
	else if (manifest_is_word(w[0], "memory"))
		key_memory(p, w, n);
	else if (manifest_is_word(w[0], "cpus"))
		key_cpus(p, w, n);
	else if (manifest_is_word(w[0], "priority"))
		key_priority(p, w, n);
	else if (manifest_is_word(w[0], "budget"))
		key_budget(p, w, n);
	else if (manifest_is_word(w[0], "on-crash"))
		key_on_crash(p, w, n);
	else if (manifest_is_word(w[0], "control"))
		key_control(p, w, n);
	else if (manifest_is_word(w[0], "console"))
		key_console(p, w, n);
	else if (manifest_is_word(w[0], "screen"))
		key_screen(p, w, n);
	else if (manifest_is_word(w[0], "device"))
		key_device(p, w, n);
	else if (manifest_is_word(w[0], "config"))
		key_config(p, w, n);
	else if (manifest_is_word(w[0], "snapshot"))
		key_snapshot(p, w, n);
	else
		manifest_error(p, "unknown key '%s' in partition %s", manifest_shown(w[0], buf),
		               p->part->name);
}

/* "from NAME", "to NAME", "entries N", "entry-size BYTES" */
void manifest_channel_key(struct parser *p, const struct word *w, size_t n)
{
	char buf[48];
	struct manifest_channel *c = p->chan;
	uint64_t v;
	bool from = manifest_is_word(w[0], "from"), to = manifest_is_word(w[0], "to");

	if (from || to) {
		if (!manifest_nwords(p, n, 2, from ? "from PARTITION" : "to PARTITION") ||
		    !manifest_once(p, from ? K_FROM : K_TO, w[0]))
			return;
		*(from ? &c->from_line : &c->to_line) =
		    p->line; /* reported here: not "missing" later */
		if (manifest_check_name(p, "partition", w[1]))
			*(from ? &c->from_name : &c->to_name) = manifest_strdup(p, w[1]);
	} else if (manifest_is_word(w[0], "entries") || manifest_is_word(w[0], "entry-size")) {
		bool entries = w[0].s[5] != '-';
		uint64_t lo = entries ? HL_RING_MIN_ENTRIES : HL_RING_MIN_ENTRY;
		uint64_t hi = entries ? HL_RING_MAX_ENTRIES : HL_RING_MAX_ENTRY;
		if (!manifest_nwords(p, n, 2, entries ? "entries N" : "entry-size BYTES") ||
		    !manifest_once(p, entries ? K_ENTRIES : K_ENTRY_SIZE, w[0]) ||
		    !manifest_number(p, w[0], w[1], lo, hi, &v))
			return;
		if (!manifest_is_pow2(v))
			manifest_error(p, "%s %llu: must be a power of two",
			               entries ? "entries" : "entry-size", (unsigned long long)v);
		else
			*(entries ? &c->entries : &c->entry_size) = (uint32_t)v;
	} else {
		manifest_error(p, "unknown key '%s' in channel %s", manifest_shown(w[0], buf),
		               c->name);
	}
}
