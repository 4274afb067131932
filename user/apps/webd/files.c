/* webd's paths, content types and configuration (files.h). Pure. */
#include "files.h"

#include <floo/floo_platform.h>
#include <lib/string.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Append c to out; false if full (one byte kept for the NUL). */
static bool put(char *out, size_t cap, size_t *n, char c)
{
	if (*n + 1 >= cap)
		return false;
	out[(*n)++] = c;
	return true;
}

/* The segment just ended at out[*n] (it started at seg) is acceptable. */
static bool segment_ok(const char *out, size_t seg, size_t n)
{
	size_t len = n - seg;

	if (len == 0)
		return false;
	return !(out[seg] == '.' && (len == 1 || (len == 2 && out[seg + 1] == '.')));
}

bool webd_file_name(const char *root, const char *path, uint32_t len, char *out, size_t cap)
{
	size_t n = 0, seg;

	if (len == 0 || path[0] != '/' || cap == 0)
		return false;
	for (const char *r = root; *r; r++)
		if (!put(out, cap, &n, *r))
			return false;
	seg = n + 1;
	for (uint32_t i = 0; i < len; i++) {
		char c = path[i];
		if (c == '%') {
			int hi = i + 2 < len ? hexval(path[i + 1]) : -1;
			int lo = i + 2 < len ? hexval(path[i + 2]) : -1;
			if (hi < 0 || lo < 0 || (hi == 2 && lo == 15))
				return false; /* malformed, or an escaped '/' (control bytes: below)
				               */
			c = (char)(hi * 16 + lo);
			i += 2;
		} else if (c == '/' && i > 0) {
			if (!segment_ok(out, seg, n))
				return false;
			seg = n + 1;
		}
		if (c == '\\' || (unsigned char)c < 0x20 || c == 0x7f || !put(out, cap, &n, c))
			return false;
	}
	if (n == seg) { /* ends in '/': the directory's index */
		for (const char *x = "index.html"; *x; x++)
			if (!put(out, cap, &n, *x))
				return false;
	} else if (!segment_ok(out, seg, n)) {
		return false;
	}
	out[n] = 0;
	return true;
}

static bool ends_with(const char *s, size_t n, const char *ext)
{
	size_t e = 0;

	while (ext[e])
		e++;
	if (n < e)
		return false;
	for (size_t i = 0; i < e; i++) {
		char c = s[n - e + i];
		if ((c >= 'A' && c <= 'Z' ? (char)(c + 32) : c) != ext[i])
			return false;
	}
	return true;
}

const char *webd_content_type(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
	    {".html", "text/html; charset=utf-8"},
	    {".htm", "text/html; charset=utf-8"},
	    {".txt", "text/plain; charset=utf-8"},
	    {".css", "text/css"},
	    {".js", "text/javascript"},
	    {".json", "application/json"},
	    {".png", "image/png"},
	    {".jpg", "image/jpeg"},
	    {".jpeg", "image/jpeg"},
	    {".gif", "image/gif"},
	    {".svg", "image/svg+xml"},
	    {".ico", "image/x-icon"},
	    {".wasm", "application/wasm"},
	    {".pdf", "application/pdf"},
	};
	size_t n = 0;

	while (name[n])
		n++;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (ends_with(name, n, types[i].ext))
			return types[i].type;
	return "application/octet-stream";
}

/* ---- configuration ---- */

static bool word_eq(const char *s, size_t n, const char *w)
{
	size_t i = 0;

	for (; i < n && w[i]; i++)
		if (s[i] != w[i])
			return false;
	return i == n && !w[i];
}

/* A decimal of up to 5 digits in [lo, hi]. */
static bool number(const char *s, size_t n, uint32_t lo, uint32_t hi, uint32_t *out)
{
	uint32_t v = 0;

	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	*out = v;
	return v >= lo && v <= hi;
}

/* "A.B.C.D" into host order. */
static bool ipv4(const char *s, size_t n, uint32_t *out)
{
	uint32_t a = 0, part;
	size_t at = 0;

	for (int k = 0; k < 4; k++) {
		size_t e = at;
		while (e < n && s[e] != '.')
			e++;
		if (!number(s + at, e - at, 0, 255, &part) || (k < 3 && e >= n) ||
		    (k == 3 && e != n))
			return false;
		a = a << 8 | part;
		at = e + 1;
	}
	*out = a;
	return true;
}

/* "A.B.C.D/LEN" (LEN 1..32, default 24) or "dhcp". */
static bool address(const char *s, size_t n, struct webd_config *c)
{
	size_t slash = 0;
	uint32_t len = 24;

	if (word_eq(s, n, "dhcp"))
		return c->dhcp = true;
	while (slash < n && s[slash] != '/')
		slash++;
	if (slash < n && !number(s + slash + 1, n - slash - 1, 1, 32, &len))
		return false;
	c->dhcp = false;
	c->mask = len == 32 ? 0xffffffffu : ~(0xffffffffu >> len);
	return ipv4(s, slash, &c->addr) && c->addr != 0;
}

static bool port(const char *v, size_t n, uint16_t *p)
{
	uint32_t x;

	if (!number(v, n, 1, 65535, &x))
		return false;
	*p = (uint16_t)x;
	return true;
}

/* One "key value" line (comment and surrounding blanks already cut). */
static bool config_line(struct webd_config *c, const char *s, size_t n)
{
	size_t k = 0;

	while (k < n && s[k] != ' ' && s[k] != '\t')
		k++;
	const char *v = s + k;
	size_t vn = n - k;
	while (vn && (*v == ' ' || *v == '\t'))
		v++, vn--;
	if (word_eq(s, k, "address"))
		return address(v, vn, c);
	if (word_eq(s, k, "gateway"))
		return ipv4(v, vn, &c->gw);
	if (word_eq(s, k, "http-port"))
		return port(v, vn, &c->http_port);
	if (word_eq(s, k, "echo-port"))
		return port(v, vn, &c->echo_port);
	if (word_eq(s, k, "discard-port"))
		return port(v, vn, &c->discard_port);
	if (word_eq(s, k, "mode") && (word_eq(v, vn, "irq") || word_eq(v, vn, "polled"))) {
		c->mode = word_eq(v, vn, "irq") ? WEBD_IRQ : WEBD_POLLED;
		return true;
	}
	if (word_eq(s, k, "log")) {
		c->log_level = word_eq(v, vn, "debug")  ? FLOO_LOG_DEBUG
		               : word_eq(v, vn, "info") ? FLOO_LOG_INFO
		                                        : FLOO_LOG_ERR;
		return word_eq(v, vn, "debug") || word_eq(v, vn, "info") || word_eq(v, vn, "err");
	}
	if (word_eq(s, k, "test-fault-after"))
		return number(v, vn, 1, 99999, &c->fault_after);
	if (word_eq(s, k, "test-crash-after"))
		return number(v, vn, 1, 99999, &c->crash_after);
	if (word_eq(s, k, "root") && vn > 0 && vn < sizeof(c->root)) {
		for (size_t i = 0; i < vn; i++)
			if (v[i] == '/' || v[i] == ' ' || v[i] == '.' || v[i] == 0)
				return false; /* one directory at the top of the boot module */
		memcpy(c->root, v, vn);
		c->root[vn] = 0;
		return true;
	}
	return false;
}

int webd_config_parse(const char *s, size_t n, struct webd_config *c)
{
	int line = 1;

	*c = (struct webd_config){.dhcp = true,
	                          .http_port = 80,
	                          .echo_port = 7,
	                          .discard_port = 9,
	                          .mode = WEBD_IRQ,
	                          .root = "www",
	                          .log_level = FLOO_LOG_ERR};
	for (size_t at = 0; at < n; line++) {
		size_t end = at, e;
		while (end < n && s[end] != '\n')
			end++;
		for (e = at; e < end && s[e] != '#'; e++)
			;
		while (e > at && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r'))
			e--;
		while (at < e && (s[at] == ' ' || s[at] == '\t'))
			at++;
		if (e > at && !config_line(c, s + at, e - at))
			return line;
		at = end + 1;
	}
	return 0;
}
