/*
 * HTTP/1.1 request heads (RFC 9112 §2-§3, §5; RFC 9110 §5.6.2 tokens).
 * Every byte comes from the network: lengths are bounded by len, nothing
 * is written. Lines end in CRLF or a bare LF (RFC 9112 §2.2 lets a
 * recipient accept LF); a bare CR, NUL or other control byte in the head
 * is a bad request.
 */
#include "floo/floo_http.h"

#include <lib/string.h>

/* RFC 9110 tchar. */
static bool is_tchar(char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	switch (c) {
	case '!':
	case '#':
	case '$':
	case '%':
	case '&':
	case '\'':
	case '*':
	case '+':
	case '-':
	case '.':
	case '^':
	case '_':
	case '`':
	case '|':
	case '~':
		return true;
	default:
		return false;
	}
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + 'a' - 'A') : c;
}

/* a[0..n) equals the lower-case word w, ignoring case. */
static bool word_is(const char *a, uint32_t n, const char *w)
{
	uint32_t i = 0;

	for (; i < n && w[i]; i++)
		if (lower(a[i]) != w[i])
			return false;
	return i == n && !w[i];
}

/* The end of the head: index after the empty line, 0 if none in buf[0..len). */
static uint32_t head_end(const char *buf, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < len && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* Length of the line at s (of at most n bytes) without its CR LF; *next the byte after LF. */
static uint32_t line_len(const char *s, uint32_t n, uint32_t *next)
{
	uint32_t i = 0;

	while (i < n && s[i] != '\n')
		i++;
	*next = i < n ? i + 1 : n;
	return i > 0 && s[i - 1] == '\r' ? i - 1 : i;
}

/* Control bytes (bare CR included: line_len stripped the CR of CRLF), except HTAB. */
static bool has_ctl(const char *s, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
			return true;
	return false;
}

/* "METHOD SP target SP HTTP/d.d" (RFC 9112 §3). */
static enum http_parse_result request_line(const char *s, uint32_t n, struct http_request *req)
{
	uint32_t m = 0, t, te;

	while (m < n && is_tchar(s[m]))
		m++;
	if (m == 0 || m >= n || s[m] != ' ')
		return HTTP_PARSE_BAD;
	req->method = m == 3 && !memcmp(s, "GET", 3)    ? HTTP_GET
	              : m == 4 && !memcmp(s, "HEAD", 4) ? HTTP_HEAD
	                                                : HTTP_OTHER;
	t = m + 1;
	te = t;
	while (te < n && s[te] != ' ')
		te++;
	if (te == t || te >= n || n - te != 9 || memcmp(s + te + 1, "HTTP/", 5))
		return HTTP_PARSE_BAD;
	const char *v = s + te + 6;
	if (v[0] < '0' || v[0] > '9' || v[1] != '.' || v[2] < '0' || v[2] > '9')
		return HTTP_PARSE_BAD;
	if (v[0] != '1')
		return HTTP_PARSE_VERSION;
	req->minor = (uint8_t)(v[2] - '0');
	if (s[t] != '/') /* origin-form only: absolute-form and '*' are for proxies and OPTIONS */
		return req->method == HTTP_OTHER ? HTTP_PARSE_OK : HTTP_PARSE_BAD;
	req->path = s + t;
	req->path_len = te - t;
	for (uint32_t i = 0; i < req->path_len; i++)
		if (req->path[i] == '?' || req->path[i] == '#')
			req->path_len = i;
	return HTTP_PARSE_OK;
}

/* The comma-separated Connection options (RFC 9110 §7.6.1) close and keep-alive. */
static void connection_options(const char *v, uint32_t n, bool *close, bool *keep)
{
	uint32_t i = 0;

	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		uint32_t s = i;
		while (i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
			i++;
		*close |= word_is(v + s, i - s, "close");
		*keep |= word_is(v + s, i - s, "keep-alive");
	}
}

/* Content-Length: one decimal (a list of equal values is refused too: RFC 9112 §6.3 lets us). */
static bool content_length(const char *v, uint32_t n, bool *nonzero)
{
	if (n == 0 || n > 19)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		*nonzero |= v[i] != '0';
	}
	return true;
}

/* One "name: value" field line; *host set by Host. */
static bool field_line(const char *s, uint32_t n, struct http_request *req, bool *keep, bool *host)
{
	uint32_t c = 0, v, e = n;

	while (c < n && is_tchar(s[c]))
		c++;
	if (c == 0 || c >= n || s[c] != ':') /* no space before the colon (RFC 9112 §5.1) */
		return false;
	for (v = c + 1; v < n && (s[v] == ' ' || s[v] == '\t'); v++)
		;
	while (e > v && (s[e - 1] == ' ' || s[e - 1] == '\t'))
		e--;
	if (word_is(s, c, "connection"))
		connection_options(s + v, e - v, &req->close, keep);
	else if (word_is(s, c, "content-length"))
		return content_length(s + v, e - v, &req->has_body);
	else if (word_is(s, c, "transfer-encoding"))
		req->has_body = true;
	else if (word_is(s, c, "host"))
		*host = true;
	return true;
}

enum http_parse_result http_parse_request(const char *buf, uint32_t len, uint32_t max,
                                          struct http_request *req)
{
	uint32_t skip = 0, end, at, next, n;
	bool keep = false, host = false;

	*req = (struct http_request){0};
	while (skip + 1 < len && buf[skip] == '\r' && buf[skip + 1] == '\n' && skip < 8)
		skip += 2; /* RFC 9112 §2.2: empty lines before a request line are ignored */
	buf += skip, len -= skip;
	end = head_end(buf, len < max ? len : max);
	if (!end)
		return len >= max ? HTTP_PARSE_TOO_LARGE : HTTP_PARSE_MORE;
	req->head_len = skip + end;
	n = line_len(buf, end, &next);
	if (has_ctl(buf, n))
		return HTTP_PARSE_BAD;
	enum http_parse_result r = request_line(buf, n, req);
	if (r != HTTP_PARSE_OK)
		return r;
	for (at = next; at < end; at += next) {
		n = line_len(buf + at, end - at, &next);
		if (n == 0)
			break; /* the empty line */
		if (has_ctl(buf + at, n) || !field_line(buf + at, n, req, &keep, &host))
			return HTTP_PARSE_BAD;
	}
	if (req->minor >= 1 && !host) /* RFC 9112 §3.2: a 1.1 request without Host gets 400 */
		return HTTP_PARSE_BAD;
	if (req->minor == 0 && !keep)
		req->close = true;
	return HTTP_PARSE_OK;
}

bool http_bytes_path(const char *path, uint32_t len, uint64_t *n)
{
	uint64_t v = 0;

	if (len < 8 || len > 7 + 13 || memcmp(path, "/bytes/", 7))
		return false;
	for (uint32_t i = 7; i < len; i++) {
		if (path[i] < '0' || path[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(path[i] - '0');
	}
	if (v > (1ull << 40))
		return false;
	*n = v;
	return true;
}
