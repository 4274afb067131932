/* etc/boot.conf lines (include/lib/bootconf.h): bounded reads, no allocation. */
#include <lib/bootconf.h>
#include <lib/string.h>

#include <stdbool.h>
#include <stddef.h>

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static const char *skip_space(const char *s, const char *end)
{
	while (s < end && is_blank(*s))
		s++;
	return s;
}

/*
 * Copy the next word of [s, end) into out[0..n) with its NUL (empty at the
 * end of the line). Returns the position after the word, or NULL when the
 * word does not fit: a cut-short name or number would be a different one.
 */
static const char *word(const char *s, const char *end, char *out, size_t n)
{
	size_t i = 0;

	s = skip_space(s, end);
	while (s < end && !is_blank(*s) && *s != '\n') {
		if (i + 1 >= n) {
			out[i] = 0;
			return NULL;
		}
		out[i++] = *s++;
	}
	out[i] = 0;
	return s;
}

/* Decimal digits only, at least one, value <= UINT32_MAX (no wrap-around). */
static bool number(const char *w, uint32_t *out)
{
	uint32_t v = 0;

	if (!*w)
		return false;
	for (; *w; w++) {
		if (*w < '0' || *w > '9')
			return false;
		uint32_t d = (uint32_t)(*w - '0');
		if (v > (UINT32_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* Apply "key value" to *p; -1 for an unknown key or a value out of range. */
static int set_option(struct bootconf_prog *p, const char *key, const char *val)
{
	uint32_t v;

	if (!number(val, &v))
		return -1;
	if (!strcmp(key, "priority") && v < BOOTCONF_PRIORITY_LIMIT)
		p->priority = v;
	else if (!strcmp(key, "cpu"))
		p->cpu = v;
	else if (!strcmp(key, "memory") && v >= BOOTCONF_MIN_MEM_KIB)
		p->mem_kib = v;
	else
		return -1;
	return 0;
}

/* Every loop consumes at least one byte of the line, so the parse is bounded by its length. */
int bootconf_parse_line(const char *s, const char *end, struct bootconf_prog *p)
{
	char key[64], val[32];

	s = skip_space(s, end);
	if (s == end || *s == '#' || *s == '\n')
		return 0;
	s = word(s, end, key, sizeof(key));
	if (!s || strcmp(key, "program"))
		return -1;
	s = word(s, end, p->name, sizeof(p->name));
	if (!s || !p->name[0])
		return -1;
	p->priority = BOOTCONF_DEFAULT_PRIORITY;
	p->cpu = BOOTCONF_DEFAULT_CPU;
	p->mem_kib = BOOTCONF_DEFAULT_MEM_KIB;
	for (;;) {
		s = word(s, end, key, sizeof(key));
		if (!s)
			return -1;
		if (!key[0])
			return 1;
		s = word(s, end, val, sizeof(val));
		if (!s || set_option(p, key, val))
			return -1;
	}
}
