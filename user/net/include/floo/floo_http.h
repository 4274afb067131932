/*
 * A small HTTP/1.1 server on Floo's event API (user/net/http), shared by
 * the Linux floo-demo and the Hallows web appliance (user/apps/webd).
 * Freestanding like Floo: no libc, memory for connections from the
 * owner's alloc/free.
 *
 * The owner answers GET and HEAD through its route function; the library
 * parses requests (http_parse.c), answers everything else itself (400 bad
 * request, 405 other methods, 431 head too large, 505 other versions),
 * writes the response head, and sends bodies by reference (keep-alive,
 * pipelined requests answered one at a time in order). See docs/net.md.
 */
#ifndef FLOO_HTTP_H
#define FLOO_HTTP_H

#include "floo.h"

#define HTTP_REQ_MAX 4096u /* bytes of a request head (request line and headers) */

enum http_method { HTTP_GET, HTTP_HEAD, HTTP_OTHER };

/* A parsed request head; path points into the caller's buffer. */
struct http_request {
	enum http_method method;
	const char *path; /* the target up to '?' or '#', starting with '/' */
	uint32_t path_len;
	uint8_t minor;     /* HTTP/1.minor */
	bool close;        /* Connection: close, or HTTP/1.0 without keep-alive */
	bool has_body;     /* Content-Length > 0 or Transfer-Encoding: not read, see docs */
	uint32_t head_len; /* bytes up to and including the empty line */
};

enum http_parse_result {
	HTTP_PARSE_OK = 0,
	HTTP_PARSE_MORE = 1,      /* no empty line yet: wait for more bytes */
	HTTP_PARSE_BAD = 2,       /* malformed: 400 */
	HTTP_PARSE_TOO_LARGE = 3, /* no end within max bytes: 431 */
	HTTP_PARSE_VERSION = 4,   /* not HTTP/1.x: 505 */
};

/*
 * Parse the request head at the start of buf[0..len) (outside bytes: every
 * field checked, nothing read past len). max is the largest head accepted.
 * Pure; host-tested and fuzzed.
 */
enum http_parse_result http_parse_request(const char *buf, uint32_t len, uint32_t max,
                                          struct http_request *req);

/* "/bytes/N" with N a decimal of 1..13 digits (at most 2^40): true and *n. Pure. */
bool http_bytes_path(const char *path, uint32_t len, uint64_t *n);
/* Byte i of a /bytes/N body. */
static inline uint8_t http_pattern_byte(uint64_t i)
{
	return (uint8_t)(i % 251);
}

/* What the route function fills for a GET or HEAD. */
struct http_response {
	uint16_t status;          /* 200 or 404 (other codes are the library's) */
	const char *content_type; /* NULL: application/octet-stream */
	const uint8_t *body;      /* sent by reference: must stay valid and unchanged */
	uint64_t len;
	bool pattern; /* body is len bytes of http_pattern_byte (body unused) */
};

typedef void (*http_route_fn)(void *user, const struct http_request *req,
                              struct http_response *resp);

/* Requests and rejections, for reports and tests. */
struct http_stats {
	uint64_t conns, requests, ok, not_found;
	uint64_t bad_request, not_allowed, too_large, bad_version, no_memory;
};

struct http_server {
	struct floo_stack *st;
	http_route_fn route;
	void *user;
	const char *name;         /* the Server: header */
	void *(*alloc)(size_t n); /* zeroed memory for one connection, or NULL */
	void (*free)(void *p);
	void (*log)(const char *event, uint64_t v); /* rejections (debug level); may be NULL */
	struct http_stats stats;
};

/* Listen on port with srv (its fields above filled; srv must outlive the stack). 0 or FLOO_E*. */
int http_server_start(struct http_server *srv, uint16_t port);

#endif
