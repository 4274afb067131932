/*
 * floo-demo HTTP/1.1 server: GET / (a small page), GET /bytes/N (N bytes,
 * byte i = i mod 251), keep-alive and pipelining (one response at a time).
 * Response bodies are sent by reference from a static pattern buffer.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "demo.h"

#define REQ_MAX 4096
#define CHUNK   32768u
#define PAT_LEN (251u * 262u) /* >= CHUNK + 251 */

static uint8_t pattern[PAT_LEN];

static const char index_page[] =
    "<!doctype html>\n<html><head><title>Floo</title></head>\n"
    "<body><h1>Floo</h1><p>Served by the Floo TCP/IP stack.</p></body></html>\n";

struct http_conn {
	char req[REQ_MAX];
	uint32_t req_len;
	char hdr[256];
	const uint8_t *body_static;   /* index page */
	uint64_t body_left, body_off; /* pattern body */
	bool busy, close_after, peer_fin;
};

/* Case-insensitive search for a header value token. */
static bool header_has(const char *h, uint32_t n, const char *name, const char *val)
{
	size_t nl = strlen(name), vl = strlen(val);

	for (uint32_t i = 0; i + nl + vl < n; i++) {
		if ((i == 0 || h[i - 1] == '\n') && !strncasecmp(h + i, name, nl)) {
			const char *p = h + i + nl;

			while (*p == ' ' || *p == '\t')
				p++;
			return !strncasecmp(p, val, vl);
		}
	}
	return false;
}

/* Queue as much of the pattern body as the reference queue takes. */
static void pump(struct floo_tcp *c, struct http_conn *h)
{
	while (h->body_left && floo_tcp_send_slots(c) > 1) {
		uint32_t n = h->body_left < CHUNK ? (uint32_t)h->body_left : CHUNK;

		if (floo_tcp_send(c, pattern + h->body_off % 251, n, NULL) < 0)
			return;
		h->body_off += n;
		h->body_left -= n;
	}
}

/* Start the response for one parsed request head. */
static void respond(struct floo_tcp *c, struct http_conn *h, const char *head, uint32_t n)
{
	char path[128] = "";
	const char *status = "200 OK", *ctype = "application/octet-stream";
	uint64_t len = 0;
	char *end;

	h->body_static = NULL;
	h->body_left = h->body_off = 0;
	if (sscanf(head, "GET %127s HTTP/1.%*c", path) != 1) {
		status = "501 Not Implemented";
		h->close_after = true;
	} else if (!strcmp(path, "/")) {
		h->body_static = (const uint8_t *)index_page;
		len = sizeof(index_page) - 1;
		ctype = "text/html";
	} else if (!strncmp(path, "/bytes/", 7) && isdigit((unsigned char)path[7]) &&
	           (len = strtoull(path + 7, &end, 10), *end == 0) && len <= (1ull << 40)) {
		h->body_left = len;
	} else {
		status = "404 Not Found";
		len = 0;
	}
	if (header_has(head, n, "Connection:", "close") ||
	    (strstr(head, "HTTP/1.0") && !header_has(head, n, "Connection:", "keep-alive")))
		h->close_after = true;
	snprintf(h->hdr, sizeof(h->hdr),
	         "HTTP/1.1 %s\r\nServer: floo-demo\r\nContent-Type: %s\r\n"
	         "Content-Length: %llu\r\nConnection: %s\r\n\r\n",
	         status, ctype, (unsigned long long)len, h->close_after ? "close" : "keep-alive");
	h->busy = true;
	(void)floo_tcp_send(c, h->hdr, (uint32_t)strlen(h->hdr), NULL);
	if (h->body_static)
		(void)floo_tcp_send(c, h->body_static, (uint32_t)len, NULL);
	pump(c, h);
}

/* Parse and answer the next complete request in the buffer, if idle. */
static void next_request(struct floo_tcp *c, struct http_conn *h)
{
	char *e;
	uint32_t used;

	if (h->busy)
		return;
	h->req[h->req_len] = 0;
	e = strstr(h->req, "\r\n\r\n");
	if (!e) {
		if (h->req_len >= REQ_MAX - 1)
			floo_tcp_abort(c); /* header too large */
		else if (h->peer_fin)
			floo_tcp_close(c);
		return;
	}
	used = (uint32_t)(e + 4 - h->req);
	e[2] = 0;
	respond(c, h, h->req, used);
	memmove(h->req, h->req + used, h->req_len - used);
	h->req_len -= used;
}

/* After every acknowledged piece: continue the body or finish. */
static void on_sent(struct floo_tcp *c, struct http_conn *h)
{
	pump(c, h);
	if (!h->busy || h->body_left || floo_tcp_unacked(c))
		return;
	h->busy = false;
	if (h->close_after) {
		floo_tcp_close(c);
		return;
	}
	next_request(c, h);
}

static void http_cb(struct floo_tcp *c, void *user, const struct floo_tcp_event *ev)
{
	struct http_conn *h = user;
	struct floo_stack *st = floo_tcp_stack(c);
	uint32_t n;

	switch (ev->type) {
	case FLOO_TCP_ACCEPTED:
		if (!(h = calloc(1, sizeof(*h)))) {
			floo_tcp_abort(c);
			return;
		}
		floo_tcp_set_user(c, http_cb, h);
		break;
	case FLOO_TCP_DATA:
		n = ev->pb->len;
		if (n > REQ_MAX - 1 - h->req_len)
			n = REQ_MAX - 1 - h->req_len;
		memcpy(h->req + h->req_len, ev->pb->data, n);
		h->req_len += n;
		floo_tcp_release(st, ev->pb);
		next_request(c, h);
		break;
	case FLOO_TCP_SENT:
		on_sent(c, h);
		break;
	case FLOO_TCP_PEER_FIN:
		h->peer_fin = true;
		if (!h->busy)
			next_request(c, h);
		break;
	case FLOO_TCP_CLOSED:
		free(h);
		break;
	default:
		break;
	}
}

int demo_http_start(struct floo_stack *st, uint16_t port)
{
	for (uint32_t i = 0; i < PAT_LEN; i++)
		pattern[i] = demo_pattern_byte(i);
	return floo_tcp_listen(st, port, http_cb, NULL);
}
