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

#define MAX_WORDS (MANIFEST_ARGS_MAX + 2)

struct word {
	const char *s;
	size_t n;
};

enum section { SEC_NONE, SEC_PARTITION, SEC_CHANNEL, SEC_SKIP };

/* Keys that may appear once in a section: the line that set each (0 = not yet). */
enum once_key { K_MEMORY, K_CPUS, K_PRIORITY, K_BUDGET, K_RESTART, K_FROM, K_TO, K_ENTRIES, K_ENTRY_SIZE, K_COUNT };

struct parser {
	struct manifest *m;
	struct manifest_arena *a;
	const struct manifest_limits *lim;
	uint32_t line;
	const char *line_end; /* end of the current line (config values run to it) */
	enum section sec;
	struct manifest_partition *part, **part_tail;
	struct manifest_channel *chan, **chan_tail;
	struct manifest_error **err_tail;
	uint32_t seen[K_COUNT];
	struct manifest_program **prog_tail;
	struct manifest_device **dev_tail;
	struct manifest_config **conf_tail;
};

static void *arena_alloc(struct parser *p, size_t n)
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

static const char *arena_str(struct parser *p, struct word w)
{
	char *s = arena_alloc(p, w.n + 1);

	if (s) {
		memcpy(s, w.s, w.n);
		s[w.n] = 0;
	}
	return s;
}

/* A word as it may be printed: at most 40 bytes, "..." when longer. */
static const char *shown(struct word w, char *buf)
{
	size_t n = w.n > 40 ? 40 : w.n;

	memcpy(buf, w.s, n);
	memcpy(buf + n, w.n > 40 ? "..." : "", w.n > 40 ? 4 : 1);
	return buf;
}

/* Record an error at the current line; the section being read is invalid from now on. */
__attribute__((format(printf, 2, 3))) static void error(struct parser *p, const char *fmt, ...)
{
	struct manifest_error *e = arena_alloc(p, sizeof(*e));
	va_list ap;

	if (p->part)
		p->part->is_valid = false;
	if (p->chan)
		p->chan->is_valid = false;
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

static bool is_word(struct word w, const char *s)
{
	return strlen(s) == w.n && !memcmp(w.s, s, w.n);
}

/* Decimal digits only, at least one, no overflow of 64 bits. */
static bool dec(struct word w, uint64_t *out)
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
static bool hex(const char *s, size_t n, size_t digits, uint32_t *out)
{
	uint32_t v = 0;

	if (n != digits)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		uint32_t d = c >= '0' && c <= '9' ? (uint32_t)(c - '0')
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

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* Names: a lower-case letter, then lower-case letters, digits, '-' or '_'. */
static bool check_name(struct parser *p, const char *what, struct word w)
{
	char buf[48];
	bool ok = w.n > 0 && w.n < MANIFEST_NAME_MAX && w.s[0] >= 'a' && w.s[0] <= 'z';

	for (size_t i = 0; ok && i < w.n; i++) {
		char c = w.s[i];
		ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
	}
	if (!ok)
		error(p, "%s name '%s': use 1 to %d lower-case letters, digits, '-' or '_', starting with a letter",
		      what, shown(w, buf), MANIFEST_NAME_MAX - 1);
	return ok;
}

/* A key that may appear once per section: false (and an error) when it did already. */
static bool once(struct parser *p, enum once_key k, struct word key)
{
	char buf[48];

	if (p->seen[k]) {
		error(p, "%s given twice (first at line %u)", shown(key, buf), p->seen[k]);
		return false;
	}
	p->seen[k] = p->line;
	return true;
}

/* A decimal number in [lo, hi]; an error naming the key otherwise. */
static bool number(struct parser *p, struct word key, struct word w, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char kb[48], vb[48];

	if (!dec(w, out)) {
		error(p, "%s '%s': not a decimal number", shown(key, kb), shown(w, vb));
		return false;
	}
	if (*out < lo || *out > hi) {
		error(p, "%s %s: out of range %llu..%llu", shown(key, kb), shown(w, vb), (unsigned long long)lo,
		      (unsigned long long)hi);
		return false;
	}
	return true;
}

static bool nwords(struct parser *p, size_t n, size_t want, const char *usage)
{
	if (n != want)
		error(p, "expected '%s'", usage);
	return n == want;
}


/* "partition NAME": a new partition with the defaults of docs/manifest.md. */
static void start_partition(struct parser *p, const struct word *w, size_t n)
{
	char buf[48];

	if (!nwords(p, n, 2, "partition NAME") || !check_name(p, "partition", w[1]))
		return;
	struct manifest_partition *q = arena_alloc(p, sizeof(*q));
	if (!q)
		return;
	q->line = p->line, q->name = arena_str(p, w[1]), q->is_valid = true;
	q->mem_kib = 1024, q->cpus = 1, q->priority = 50, q->restart = MANIFEST_RESTART_STOP;
	for (struct manifest_partition *o = p->m->partitions; o; o = o->next)
		if (is_word(w[1], o->name)) {
			p->part = q;
			error(p, "partition '%s' already defined at line %u", shown(w[1], buf), o->line);
			break;
		}
	*p->part_tail = q, p->part_tail = &q->next, p->m->npartitions++;
	p->part = q, p->sec = SEC_PARTITION;
	p->prog_tail = &q->programs, p->dev_tail = &q->devices, p->conf_tail = &q->config;
}

/* "channel NAME": a ring of 64 entries of 64 bytes until told otherwise. */
static void start_channel(struct parser *p, const struct word *w, size_t n)
{
	char buf[48];

	if (!nwords(p, n, 2, "channel NAME") || !check_name(p, "channel", w[1]))
		return;
	struct manifest_channel *c = arena_alloc(p, sizeof(*c));
	if (!c)
		return;
	c->line = p->line, c->name = arena_str(p, w[1]), c->is_valid = true, c->entries = 64, c->entry_size = 64;
	for (struct manifest_channel *o = p->m->channels; o; o = o->next)
		if (is_word(w[1], o->name)) {
			p->chan = c;
			error(p, "channel '%s' already defined at line %u", shown(w[1], buf), o->line);
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
		error(p, "expected 'program PATH [ARG ...]' with at most %d arguments", MANIFEST_ARGS_MAX - 1);
		return;
	}
	if (w[1].n >= MANIFEST_PATH_MAX) {
		error(p, "program path '%s': longer than %d bytes", shown(w[1], buf), MANIFEST_PATH_MAX - 1);
		return;
	}
	for (size_t i = 2; i < n; i++)
		if (w[i].n >= MANIFEST_ARG_MAX) {
			error(p, "program argument '%s': longer than %d bytes", shown(w[i], buf), MANIFEST_ARG_MAX - 1);
			return;
		}
	struct manifest_program *g = arena_alloc(p, sizeof(*g));
	if (!g)
		return;
	g->line = p->line, g->argc = (uint32_t)(n - 1);
	for (size_t i = 1; i < n; i++)
		g->argv[i - 1] = arena_str(p, w[i]);
	*p->prog_tail = g, p->prog_tail = &g->next, p->part->nprograms++;
}

/* "memory SIZE": K, M or G (KiB, MiB, GiB); a power of two of at least 64K. */
static void key_memory(struct parser *p, const struct word *w, size_t n)
{
	char buf[48];
	uint64_t v, shift;

	if (!nwords(p, n, 2, "memory SIZE (e.g. 512K, 4M, 1G)") || !once(p, K_MEMORY, w[0]))
		return;
	struct word num = { w[1].s, w[1].n ? w[1].n - 1 : 0 };
	char unit = w[1].n ? w[1].s[w[1].n - 1] : 0;
	shift = unit == 'K' ? 0 : unit == 'M' ? 10 : unit == 'G' ? 20 : 64;
	if (shift == 64 || !dec(num, &v) || v > (1ull << 40)) {
		error(p, "memory '%s': expected a number and a unit K, M or G (at most 2^40 of a unit)", shown(w[1], buf));
		return;
	}
	v <<= shift;
	if (!is_pow2(v) || v < MANIFEST_MIN_MEM_KIB)
		error(p, "memory %s: must be a power of two of at least %dK", shown(w[1], buf), MANIFEST_MIN_MEM_KIB);
	else if (p->lim->mem_kib && v > p->lim->mem_kib)
		error(p, "memory %s: more than the %lluK the root task has", shown(w[1], buf),
		      (unsigned long long)p->lim->mem_kib);
	else
		p->part->mem_kib = v;
}

/* "cpus LIST": numbers and ranges a-b, separated by commas. */
static void key_cpus(struct parser *p, const struct word *w, size_t n)
{
	char buf[48];
	uint64_t mask = 0;

	if (!nwords(p, n, 2, "cpus LIST (e.g. 0 or 0,2-3)") || !once(p, K_CPUS, w[0]))
		return;
	for (const char *s = w[1].s, *end = w[1].s + w[1].n; s <= end;) {
		const char *comma = s;
		while (comma < end && *comma != ',')
			comma++;
		const char *dash = s;
		while (dash < comma && *dash != '-')
			dash++;
		struct word lo = { s, (size_t)(dash - s) }, hi = dash < comma ? (struct word){ dash + 1, (size_t)(comma - dash - 1) } : lo;
		uint64_t a, b;
		if (!dec(lo, &a) || !dec(hi, &b) || a > b) {
			error(p, "cpus '%s': expected numbers or ranges a-b (a <= b) separated by commas", shown(w[1], buf));
			return;
		}
		if (b >= MANIFEST_CPUS_MAX || (p->lim->ncpus && b >= p->lim->ncpus)) {
			error(p, "cpu %llu does not exist (%u CPUs)", (unsigned long long)b,
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

	if (!nwords(p, n, 2, "priority N") || !once(p, K_PRIORITY, w[0]) ||
	    !number(p, w[0], w[1], 0, MANIFEST_PRIORITY_LIM - 1, &v))
		return;
	if (p->lim->max_priority && v > p->lim->max_priority)
		error(p, "priority %llu: above the root task's own (%u)", (unsigned long long)v, p->lim->max_priority);
	else
		p->part->priority = (uint32_t)v;
}

/* A time with a unit, "us" or "ms", in microseconds. */
static bool duration(struct word w, uint64_t *us)
{
	if (w.n < 3 || w.s[w.n - 1] != 's' || (w.s[w.n - 2] != 'u' && w.s[w.n - 2] != 'm'))
		return false;
	struct word num = { w.s, w.n - 2 };
	if (!dec(num, us) || *us > MANIFEST_PERIOD_MAX_US)
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

	if (!nwords(p, n, 4, "budget TIME period TIME (units us or ms)") || !once(p, K_BUDGET, w[0]))
		return;
	if (!is_word(w[2], "period")) {
		error(p, "expected 'budget TIME period TIME (units us or ms)'");
		return;
	}
	if (!duration(w[1], &b) || !duration(w[3], &t)) {
		error(p, "budget %s period %s: times are a number and us or ms", shown(w[1], b1), shown(w[3], b2));
		return;
	}
	if (b == 0 || b > t || t < MANIFEST_PERIOD_MIN_US || t > MANIFEST_PERIOD_MAX_US) {
		error(p, "budget %s period %s: need 0 < budget <= period, period %dus..%ds", shown(w[1], b1),
		      shown(w[3], b2), MANIFEST_PERIOD_MIN_US, MANIFEST_PERIOD_MAX_US / 1000000);
		return;
	}
	p->part->budget_us = (uint32_t)b, p->part->period_us = (uint32_t)t;
}

/* "on-crash restart|stop" */
static void key_on_crash(struct parser *p, const struct word *w, size_t n)
{
	char buf[48];

	if (!nwords(p, n, 2, "on-crash restart|stop") || !once(p, K_RESTART, w[0]))
		return;
	if (is_word(w[1], "restart"))
		p->part->restart = MANIFEST_RESTART_RESTART;
	else if (is_word(w[1], "stop"))
		p->part->restart = MANIFEST_RESTART_STOP;
	else
		error(p, "on-crash '%s': expected restart or stop", shown(w[1], buf));
}

/* The match part of a device line into *d; false after an error. */
static bool device_match(struct parser *p, struct word kind, struct word v, struct manifest_device *d)
{
	char buf[48];
	uint32_t a, b, c;
	const char *s = v.s;

	if (is_word(kind, "pci") && v.n == 9 && s[4] == ':' && hex(s, 4, 4, &a) && hex(s + 5, 4, 4, &b)) {
		d->kind = MANIFEST_DEV_ID, d->vendor = (uint16_t)a, d->device = (uint16_t)b;
		return true;
	}
	if (is_word(kind, "class") && (v.n == 2 || v.n == 5 || v.n == 8)) {
		bool ok = hex(s, 2, 2, &a);
		d->class_bytes = (uint8_t)((v.n + 1) / 3);
		for (size_t i = 2; ok && i < v.n; i += 3)
			ok = s[i] == ':' && hex(s + i + 1, 2, 2, i == 2 ? &b : &c);
		if (ok) {
			d->kind = MANIFEST_DEV_CLASS, d->class_code = (uint8_t)a;
			d->subclass = d->class_bytes > 1 ? (uint8_t)b : 0, d->prog_if = d->class_bytes > 2 ? (uint8_t)c : 0;
			return true;
		}
	}
	if (is_word(kind, "at") && v.n == 7 && s[2] == ':' && s[5] == '.' && hex(s, 2, 2, &a) && hex(s + 3, 2, 2, &b) &&
	    hex(s + 6, 1, 1, &c) && b < 32 && c < 8) {
		d->kind = MANIFEST_DEV_BDF, d->bus = (uint8_t)a, d->dev = (uint8_t)b, d->fn = (uint8_t)c;
		return true;
	}
	if (is_word(kind, "pci") || is_word(kind, "class") || is_word(kind, "at"))
		error(p, "device %.*s '%s': expected %s", (int)kind.n, kind.s, shown(v, buf),
		      kind.s[0] == 'p' ? "VVVV:DDDD (hexadecimal vendor and device)"
		      : kind.s[0] == 'c' ? "CC[:SS[:PP]] (hexadecimal class, subclass, prog-if)"
					 : "BB:DD.F (hexadecimal bus, device < 20, function < 8)");
	else
		error(p, "device '%s': expected pci, class or at", shown(kind, buf));
	return false;
}

static bool same_device(const struct manifest_device *a, const struct manifest_device *b)
{
	return a->kind == b->kind && a->vendor == b->vendor && a->device == b->device && a->class_code == b->class_code &&
	       a->subclass == b->subclass && a->prog_if == b->prog_if && a->class_bytes == b->class_bytes &&
	       a->bus == b->bus && a->dev == b->dev && a->fn == b->fn;
}

/* "device pci VVVV:DDDD [count N]", "device class CC[:SS[:PP]] [count N]", "device at BB:DD.F" */
static void key_device(struct parser *p, const struct word *w, size_t n)
{
	struct manifest_device d = { .line = p->line, .count = 1 };
	uint64_t count;

	if (n != 3 && n != 5) {
		error(p, "expected 'device pci VVVV:DDDD|class CC[:SS[:PP]]|at BB:DD.F [count N]'");
		return;
	}
	if (!device_match(p, w[1], w[2], &d))
		return;
	if (n == 5) {
		if (d.kind == MANIFEST_DEV_BDF || !is_word(w[3], "count")) {
			error(p, "device: only 'pci' and 'class' lines take 'count N' after the match");
			return;
		}
		if (!number(p, w[3], w[4], 1, MANIFEST_DEV_COUNT_MAX, &count))
			return;
		d.count = (uint32_t)count;
	}
	for (struct manifest_partition *q = p->m->partitions; q; q = q->next)
		for (struct manifest_device *o = q->devices; o; o = o->next) {
			if (q == p->part && same_device(o, &d)) {
				error(p, "device listed twice (first at line %u)", o->line);
				return;
			}
			if (q != p->part && d.kind == MANIFEST_DEV_BDF && same_device(o, &d)) {
				error(p, "device at %02x:%02x.%x already belongs to partition %s (line %u)", d.bus, d.dev,
				      d.fn, q->name, o->line);
				return;
			}
		}
	struct manifest_device *nd = arena_alloc(p, sizeof(*nd));
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
		error(p, "expected 'config KEY=VALUE'");
		return;
	}
	struct word key = { w[1].s, (size_t)(eq - w[1].s) };
	bool ok = key.n > 0 && key.n < MANIFEST_KEY_MAX && key.s[0] >= 'a' && key.s[0] <= 'z';
	for (size_t i = 0; ok && i < key.n; i++) {
		char c = key.s[i];
		ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
	}
	if (!ok) {
		error(p, "config key '%s': use 1 to %d of a-z 0-9 - _ . starting with a letter", shown(key, buf),
		      MANIFEST_KEY_MAX - 1);
		return;
	}
	while (end > eq + 1 && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	struct word val = { eq + 1, (size_t)(end - eq - 1) };
	if (val.n >= MANIFEST_VALUE_MAX) {
		error(p, "config %s: value longer than %d bytes", shown(key, buf), MANIFEST_VALUE_MAX - 1);
		return;
	}
	for (struct manifest_config *o = p->part->config; o; o = o->next)
		if (is_word(key, o->key)) {
			error(p, "config %s given twice (first at line %u)", o->key, o->line);
			return;
		}
	struct manifest_config *c = arena_alloc(p, sizeof(*c));
	if (!c)
		return;
	c->line = p->line, c->key = arena_str(p, key), c->value = arena_str(p, val);
	*p->conf_tail = c, p->conf_tail = &c->next, p->part->nconfig++;
}

static void partition_key(struct parser *p, const struct word *w, size_t n)
{
	char buf[48];

	if (is_word(w[0], "program"))
		key_program(p, w, n);
	else if (is_word(w[0], "memory"))
		key_memory(p, w, n);
	else if (is_word(w[0], "cpus"))
		key_cpus(p, w, n);
	else if (is_word(w[0], "priority"))
		key_priority(p, w, n);
	else if (is_word(w[0], "budget"))
		key_budget(p, w, n);
	else if (is_word(w[0], "on-crash"))
		key_on_crash(p, w, n);
	else if (is_word(w[0], "device"))
		key_device(p, w, n);
	else if (is_word(w[0], "config"))
		key_config(p, w, n);
	else
		error(p, "unknown key '%s' in partition %s", shown(w[0], buf), p->part->name);
}

/* "from NAME", "to NAME", "entries N", "entry-size BYTES" */
static void channel_key(struct parser *p, const struct word *w, size_t n)
{
	char buf[48];
	struct manifest_channel *c = p->chan;
	uint64_t v;
	bool from = is_word(w[0], "from"), to = is_word(w[0], "to");

	if (from || to) {
		if (!nwords(p, n, 2, from ? "from PARTITION" : "to PARTITION") || !once(p, from ? K_FROM : K_TO, w[0]))
			return;
		*(from ? &c->from_line : &c->to_line) = p->line; /* reported here: not "missing" later */
		if (check_name(p, "partition", w[1]))
			*(from ? &c->from_name : &c->to_name) = arena_str(p, w[1]);
	} else if (is_word(w[0], "entries") || is_word(w[0], "entry-size")) {
		bool entries = w[0].s[5] != '-';
		uint64_t lo = entries ? HL_RING_MIN_ENTRIES : HL_RING_MIN_ENTRY;
		uint64_t hi = entries ? HL_RING_MAX_ENTRIES : HL_RING_MAX_ENTRY;
		if (!nwords(p, n, 2, entries ? "entries N" : "entry-size BYTES") ||
		    !once(p, entries ? K_ENTRIES : K_ENTRY_SIZE, w[0]) || !number(p, w[0], w[1], lo, hi, &v))
			return;
		if (!is_pow2(v))
			error(p, "%s %llu: must be a power of two", entries ? "entries" : "entry-size", (unsigned long long)v);
		else
			*(entries ? &c->entries : &c->entry_size) = (uint32_t)v;
	} else {
		error(p, "unknown key '%s' in channel %s", shown(w[0], buf), c->name);
	}
}

static struct manifest_partition *find_partition(struct manifest *m, const char *name)
{
	for (struct manifest_partition *q = m->partitions; q; q = q->next)
		if (!strcmp(q->name, name))
			return q;
	return NULL;
}

/* Report at `line` against nothing in particular (the caller marks what is invalid). */
__attribute__((format(printf, 3, 4))) static void error_at(struct parser *p, uint32_t line, const char *fmt, ...)
{
	struct manifest_error *e = arena_alloc(p, sizeof(*e));
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
	const char *names[2] = { c->from_name, c->to_name };
	uint32_t lines[2] = { c->from_line, c->to_line };
	struct manifest_partition *ends[2] = { NULL, NULL };

	for (int i = 0; i < 2; i++) {
		if (!names[i]) {
			if (lines[i]) /* a bad name, reported at its line */
				continue;
			error_at(p, c->line, "channel %s: '%s PARTITION' missing", c->name, i ? "to" : "from");
			c->is_valid = false;
		} else if (!(ends[i] = find_partition(p->m, names[i]))) {
			error_at(p, lines[i], "channel %s: no partition '%s'", c->name, names[i]);
			c->is_valid = false;
		}
	}
	c->from = ends[0], c->to = ends[1];
	if (ends[0] && ends[0] == ends[1]) {
		error_at(p, c->line, "channel %s: both ends are partition %s", c->name, ends[0]->name);
		c->is_valid = false;
	}
	if (hl_ring_bytes(c->entries, c->entry_size) > MANIFEST_RING_MAX_BYTES) {
		error_at(p, c->line, "channel %s: %u entries of %u bytes need more than %u bytes of ring", c->name,
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
			struct manifest_partition *ends[2] = { c->from, c->to };
			for (int i = 0; i < 2; i++) {
				struct manifest_partition *q = ends[i];
				if (!q)
					continue;
				if (!c->is_valid && q->is_valid) {
					error_at(p, q->line, "partition %s not started: its channel %s has an error", q->name, c->name);
					q->is_valid = false, changed = true;
				} else if (c->is_valid && !q->is_valid) {
					error_at(p, c->line, "channel %s not set up: partition %s is not started", c->name, q->name);
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
			error_at(p, q->line, "partition %s has no program", q->name);
			q->is_valid = false;
		}
	for (struct manifest_channel *c = p->m->channels; c; c = c->next)
		check_channel(p, c);
	spread_invalid(p);
	for (struct manifest_partition *q = p->m->partitions; q; q = q->next) {
		if (!q->is_valid)
			continue;
		if (p->lim->mem_kib && total + q->mem_kib > p->lim->mem_kib) {
			error_at(p, q->line, "partition %s: its %lluK with the partitions before it exceed the %lluK the root task has",
				 q->name, (unsigned long long)q->mem_kib, (unsigned long long)p->lim->mem_kib);
			q->is_valid = false;
		} else {
			total += q->mem_kib;
		}
	}
	spread_invalid(p);
}

/* Start a "partition NAME" or "channel NAME" section (after finishing the last one). */
static void begin_section(struct parser *p, const struct word *w, size_t n)
{
	char buf[48];

	p->part = NULL, p->chan = NULL, p->sec = SEC_SKIP;
	memset(p->seen, 0, sizeof(p->seen));
	if (is_word(w[0], "window")) {
		error(p, "window: time windows are not supported yet; the section is skipped");
		return;
	}
	bool is_part = is_word(w[0], "partition");
	if (!is_part && !is_word(w[0], "channel")) {
		error(p, "'%s': expected a section: partition NAME, channel NAME or window", shown(w[0], buf));
		return;
	}
	if (is_part)
		start_partition(p, w, n);
	else
		start_channel(p, w, n);
}

/* One line's words (at most MAX_WORDS; an error otherwise). Returns how many, 0 for blank or comment. */
static size_t split(struct parser *p, const char *s, const char *end, struct word *w)
{
	size_t n = 0;

	for (const char *c = s; c < end; c++) {
		unsigned char b = (unsigned char)*c;
		if ((b < 0x20 && b != '\t' && !(b == '\r' && c + 1 == end)) || b >= 0x7f) {
			bool comment = false;
			for (const char *d = s; d < end && !comment && (*d == ' ' || *d == '\t' || *d == '#'); d++)
				comment = *d == '#';
			if (comment)
				return 0;
			error(p, "byte 0x%02x: only printable ASCII outside comments", b);
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
			error(p, "too many words on one line (at most %d)", MAX_WORDS);
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
		partition_key(p, w, n);
	else if (p->sec == SEC_CHANNEL)
		channel_key(p, w, n);
	else if (p->sec == SEC_NONE)
		error(p, "indented line outside any section");
	/* SEC_SKIP: the section's first line was reported; its body is skipped silently. */
}

enum manifest_status manifest_parse(const char *text, size_t len, const struct manifest_limits *limits,
				    struct manifest_arena *arena, struct manifest *m)
{
	struct parser p = { .m = m, .a = arena, .lim = limits, .sec = SEC_NONE };
	const char *s = text, *end = text + len;

	memset(m, 0, sizeof(*m));
	p.part_tail = &m->partitions, p.chan_tail = &m->channels, p.err_tail = &m->errors;
	while (s < end && !m->arena_full) { /* a full arena may leave half-made records: stop at once */
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
	p.part = NULL, p.chan = NULL;
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

uint32_t manifest_ring_bytes(const struct manifest_channel *c)
{
	uint64_t b = HL_RING_HEADER_BYTES + (uint64_t)c->entries * c->entry_size;

	return (uint32_t)((b + 4095) & ~4095ull);
}
