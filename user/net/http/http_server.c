/*
 * HTTP/1.1 connections on Floo's event API: requests are gathered into
 * the connection's head buffer, answered one at a time in order
 * (pipelining), response heads written into the connection and bodies
 * sent by reference (a route's static bytes, or the /bytes/N pattern from
 * one shared buffer). A request the library refuses gets its status and
 * the connection closes after it (nothing after a bad head can be framed).
 */
#include "floo/floo_http.h"

#include <lib/string.h>

#define CHUNK   32768u
#define PAT_LEN (251u * 262u) /* >= CHUNK + 251: any offset mod 251 has CHUNK bytes after it */
#define HDR_MAX 320u

static uint8_t pattern[PAT_LEN];

/*
 * One connection. A request that arrives whole in one packet buffer is
 * parsed where it lies; only a head split over buffers (or several
 * pipelined heads) is gathered in req, HTTP_REQ_MAX bytes taken from the
 * owner while needed: an idle connection costs a few hundred bytes.
 */
struct http_conn {
	struct http_server *srv;
	char *req; /* NULL, or HTTP_REQ_MAX bytes holding req_len */
	uint32_t req_len;
	char hdr[HDR_MAX];
	const uint8_t *body; /* static body still to queue, or NULL */
	uint64_t body_left, pat_off;
	bool busy, close_after, peer_fin, pattern;
};

/* ---- response heads without libc ---- */

struct out {
	char *p;
	uint32_t n, cap;
};

static void put(struct out *o, const char *s)
{
	while (*s && o->n + 1 < o->cap)
		o->p[o->n++] = *s++;
	o->p[o->n] = 0;
}

static void put_u64(struct out *o, uint64_t v)
{
	char d[21];
	int i = 20;

	d[i] = 0;
	do
		d[--i] = (char)('0' + v % 10);
	while ((v /= 10) && i > 0);
	put(o, d + i);
}

static const char *reason(uint16_t status)
{
	switch (status) {
	case 200:
		return "200 OK";
	case 400:
		return "400 Bad Request";
	case 404:
		return "404 Not Found";
	case 405:
		return "405 Method Not Allowed";
	case 431:
		return "431 Request Header Fields Too Large";
	case 505:
		return "505 HTTP Version Not Supported";
	default:
		return "500 Internal Server Error";
	}
}

/* The status line and fields of a response with a body of len bytes. */
static uint32_t format_head(struct http_conn *h, uint16_t status, const char *ctype, uint64_t len)
{
	struct out o = {h->hdr, 0, HDR_MAX};

	put(&o, "HTTP/1.1 ");
	put(&o, reason(status));
	put(&o, "\r\nServer: ");
	put(&o, h->srv->name ? h->srv->name : "floo");
	put(&o, "\r\nContent-Type: ");
	put(&o, ctype ? ctype : "application/octet-stream");
	put(&o, "\r\nContent-Length: ");
	put_u64(&o, len);
	if (status == 405)
		put(&o, "\r\nAllow: GET, HEAD");
	put(&o, h->close_after ? "\r\nConnection: close\r\n\r\n"
	                       : "\r\nConnection: keep-alive\r\n\r\n");
	return o.n;
}

/* Queue as much of the body as the reference queue takes (one slot kept for nothing else). */
static void pump(struct floo_tcp *c, struct http_conn *h)
{
	while (h->body_left && floo_tcp_send_slots(c) > 1) {
		uint32_t n = h->body_left < CHUNK ? (uint32_t)h->body_left : CHUNK;
		const uint8_t *p = h->pattern ? pattern + h->pat_off % 251 : h->body;

		if (floo_tcp_send(c, p, n, NULL) < 0)
			return;
		h->body_left -= n;
		if (h->pattern)
			h->pat_off += n;
		else
			h->body += n;
	}
}

/* Start a response: head now, body by reference as the queue allows. */
static void send_response(struct floo_tcp *c, struct http_conn *h, uint16_t status,
                          const struct http_response *r, bool head_only)
{
	uint64_t len = r ? r->len : 0;
	uint32_t n = format_head(h, status, r ? r->content_type : "text/plain", len);

	h->busy = true;
	h->pattern = r && r->pattern;
	h->body = r && !r->pattern ? r->body : NULL;
	h->body_left = head_only ? 0 : len;
	h->pat_off = 0;
	(void)floo_tcp_send(c, h->hdr, n, NULL);
	pump(c, h);
}

static void reject(struct floo_tcp *c, struct http_conn *h, uint16_t status, uint64_t *counter,
                   const char *event)
{
	struct http_server *srv = h->srv;

	(*counter)++;
	if (srv->log)
		srv->log(event, status);
	h->close_after = true;
	send_response(c, h, status, NULL, false);
}

/* Answer one parsed request. */
static void answer(struct floo_tcp *c, struct http_conn *h, const struct http_request *q)
{
	struct http_server *srv = h->srv;
	struct http_response r = {.status = 404};

	srv->stats.requests++;
	h->close_after = q->close || q->has_body; /* a body we do not read ends the connection */
	if (q->method == HTTP_OTHER) {
		reject(c, h, 405, &srv->stats.not_allowed, "http_not_allowed");
		return;
	}
	srv->route(srv->user, q, &r);
	if (r.status != 200) {
		srv->stats.not_found++;
		r = (struct http_response){.status = 404, .content_type = "text/plain"};
	} else {
		srv->stats.ok++;
	}
	send_response(c, h, r.status, &r, q->method == HTTP_HEAD);
}

/* The gathering buffer is empty: give it back. */
static void req_drop(struct http_conn *h)
{
	if (h->req)
		h->srv->free(h->req);
	h->req = NULL;
	h->req_len = 0;
}

/* Parse and answer the next complete request in the buffer, if idle. */
static void next_request(struct floo_tcp *c, struct http_conn *h)
{
	struct http_server *srv = h->srv;
	struct http_request q;

	if (h->busy)
		return;
	if (!h->req) {
		if (h->peer_fin)
			floo_tcp_close(c);
		return;
	}
	switch (http_parse_request(h->req, h->req_len, HTTP_REQ_MAX, &q)) {
	case HTTP_PARSE_OK:
		answer(c, h, &q); /* the response refers to nothing in req */
		memmove(h->req, h->req + q.head_len, h->req_len - q.head_len);
		h->req_len -= q.head_len;
		if (!h->req_len)
			req_drop(h);
		return;
	case HTTP_PARSE_MORE:
		if (h->peer_fin)
			floo_tcp_close(c);
		return;
	case HTTP_PARSE_TOO_LARGE:
		reject(c, h, 431, &srv->stats.too_large, "http_head_too_large");
		break;
	case HTTP_PARSE_VERSION:
		reject(c, h, 505, &srv->stats.bad_version, "http_bad_version");
		break;
	default:
		reject(c, h, 400, &srv->stats.bad_request, "http_bad_request");
		break;
	}
	req_drop(h);
}

/* After every acknowledged piece: continue the body, or finish and take the next request. */
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

/*
 * Received bytes: one whole request in the buffer is answered from it;
 * anything else is appended to req (what does not fit is dropped: the head
 * is then too large anyway). Returns false if the connection was aborted
 * (h is gone).
 */
static bool on_data(struct floo_tcp *c, struct http_conn *h, struct floo_pbuf *pb)
{
	struct floo_stack *st = floo_tcp_stack(c);
	struct http_request q;
	uint32_t n = pb->len;

	if (!h->busy && !h->req && !h->close_after &&
	    http_parse_request((const char *)pb->data, n, HTTP_REQ_MAX, &q) == HTTP_PARSE_OK &&
	    q.head_len == n) {
		answer(c, h, &q);
		floo_tcp_release(st, pb);
		return true;
	}
	if (h->close_after) /* answered for the last time: ignore the rest */
		n = 0;
	if (n && !h->req && !(h->req = h->srv->alloc(HTTP_REQ_MAX))) {
		h->srv->stats.no_memory++;
		floo_tcp_release(st, pb);
		floo_tcp_abort(c); /* its CLOSED event frees h */
		return false;
	}
	if (n > HTTP_REQ_MAX - h->req_len)
		n = HTTP_REQ_MAX - h->req_len;
	if (n)
		memcpy(h->req + h->req_len, pb->data, n);
	h->req_len += n;
	floo_tcp_release(st, pb);
	next_request(c, h);
	return true;
}

static void http_cb(struct floo_tcp *c, void *user, const struct floo_tcp_event *ev)
{
	struct http_conn *h = user;

	switch (ev->type) {
	case FLOO_TCP_ACCEPTED: {
		struct http_server *srv = user;
		srv->stats.conns++;
		if (!(h = srv->alloc(sizeof(*h)))) {
			srv->stats.no_memory++;
			floo_tcp_set_user(c, http_cb, NULL); /* its CLOSED event frees nothing */
			floo_tcp_abort(c);
			return;
		}
		h->srv = srv;
		floo_tcp_set_user(c, http_cb, h);
		break;
	}
	case FLOO_TCP_DATA:
		if (!h) {
			floo_tcp_release(floo_tcp_stack(c), ev->pb);
			break;
		}
		(void)on_data(c, h, ev->pb);
		break;
	case FLOO_TCP_SENT:
		if (h)
			on_sent(c, h);
		break;
	case FLOO_TCP_PEER_FIN:
		if (!h)
			break;
		h->peer_fin = true;
		next_request(c, h);
		break;
	case FLOO_TCP_CLOSED:
		if (h) {
			req_drop(h);
			h->srv->free(h);
		}
		break;
	default:
		break;
	}
}

int http_server_start(struct http_server *srv, uint16_t port)
{
	if (!srv->st || !srv->route || !srv->alloc || !srv->free)
		return FLOO_EINVAL;
	for (uint32_t i = 0; i < PAT_LEN; i++)
		pattern[i] = http_pattern_byte(i);
	return floo_tcp_listen(srv->st, port, http_cb, srv);
}
