/* brokerd's configuration keys (config.h; docs/serve.md "brokerd"). */
#include "config.h"

void brokerd_config_default(struct brokerd_config *c)
{
	*c = (struct brokerd_config){.dhcp = true,
	                             .port = 9092,
	                             .partitions = 4,
	                             .flush_ms = 1000,
	                             .arena_mib = 32,
	                             .log_level = 1};
}

static bool key_is(const char *k, size_t n, const char *want)
{
	size_t i = 0;

	for (; i < n && want[i]; i++)
		if (k[i] != want[i])
			return false;
	return i == n && !want[i];
}

/* A decimal number in [lo, hi]. */
static bool num(const char *s, size_t n, uint32_t lo, uint32_t hi, uint32_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 10)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v < lo || v > hi)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* A.B.C.D; *used gets the bytes it took. */
static bool ipv4(const char *s, size_t n, uint32_t *out, size_t *used)
{
	uint32_t a = 0;
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		size_t st = i;
		uint32_t v;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (!num(s + st, i - st, 0, 255, &v) || i - st > 3)
			return false;
		a = a << 8 | v;
		if (part < 3) {
			if (i >= n || s[i] != '.')
				return false;
			i++;
		}
	}
	*out = a;
	*used = i;
	return true;
}

static bool address(struct brokerd_config *c, const char *v, size_t n)
{
	uint32_t a, len = 24;
	size_t used;

	if (key_is(v, n, "dhcp")) {
		c->dhcp = true;
		return true;
	}
	if (!ipv4(v, n, &a, &used) || a == 0)
		return false;
	if (used < n && (v[used] != '/' || !num(v + used + 1, n - used - 1, 1, 30, &len)))
		return false;
	c->dhcp = false;
	c->addr = a;
	c->mask = ~(0xffffffffu >> len);
	return true;
}

/* HOST:PORT, the host a name or address of printable bytes without blanks or ':'. */
static bool advertise(struct brokerd_config *c, const char *v, size_t n)
{
	size_t colon = n;
	uint32_t port;

	for (size_t i = 0; i < n; i++)
		if (v[i] == ':')
			colon = i;
	if (colon == 0 || colon >= n || colon >= BROKERD_HOST_MAX ||
	    !num(v + colon + 1, n - colon - 1, 1, 65535, &port))
		return false;
	for (size_t i = 0; i < colon; i++)
		if (v[i] <= ' ' || v[i] > '~' || v[i] == ':')
			return false;
	for (size_t i = 0; i < colon; i++)
		c->adv_host[i] = v[i];
	c->adv_host[colon] = 0;
	c->adv_port = (uint16_t)port;
	return true;
}

bool brokerd_config_set(struct brokerd_config *c, const char *k, size_t kn, const char *v,
                        size_t vn)
{
	uint32_t x;
	size_t used;

	if (key_is(k, kn, "address"))
		return address(c, v, vn);
	if (key_is(k, kn, "gateway"))
		return ipv4(v, vn, &c->gw, &used) && used == vn;
	if (key_is(k, kn, "advertise"))
		return advertise(c, v, vn);
	if (key_is(k, kn, "port") && num(v, vn, 1, 65535, &x))
		return c->port = (uint16_t)x, true;
	if (key_is(k, kn, "partitions") && num(v, vn, 1, 1024, &x))
		return c->partitions = x, true;
	if (key_is(k, kn, "flush-ms") && num(v, vn, 1, 60000, &x))
		return c->flush_ms = x, true;
	if (key_is(k, kn, "arena-mib") && num(v, vn, 8, 1024, &x) && x % 2 == 0)
		return c->arena_mib = x, true;
	if (key_is(k, kn, "mode") && (key_is(v, vn, "irq") || key_is(v, vn, "polled")))
		return c->polled = v[0] == 'p', true;
	if (key_is(k, kn, "format") && (key_is(v, vn, "blank") || key_is(v, vn, "force")))
		return c->format = v[0] == 'f', true;
	if (key_is(k, kn, "zero-copy") && (key_is(v, vn, "on") || key_is(v, vn, "off")))
		return c->copy_fetch = v[1] == 'f', true;
	if (key_is(k, kn, "log")) {
		static const char *const levels[] = {"err", "info", "debug"};
		for (int i = 0; i < 3; i++)
			if (key_is(v, vn, levels[i]))
				return c->log_level = i, true;
	}
	return false;
}

static bool blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

int brokerd_config_parse(const char *s, size_t n, struct brokerd_config *c)
{
	int line = 1;

	for (size_t at = 0; at < n; line++) {
		size_t end = at, e, eq;
		while (end < n && s[end] != '\n')
			end++;
		e = end;
		while (at < e && blank(s[at]))
			at++;
		while (e > at && blank(s[e - 1]))
			e--;
		if (e > at && s[at] != '#') {
			for (eq = at; eq < e && s[eq] != '='; eq++)
				;
			size_t ke = eq, vs = eq + 1;
			while (ke > at && blank(s[ke - 1]))
				ke--;
			while (vs < e && blank(s[vs]))
				vs++;
			if (eq >= e || !brokerd_config_set(c, s + at, ke - at, s + vs, e - vs))
				return line;
		}
		at = end + 1;
	}
	return 0;
}
