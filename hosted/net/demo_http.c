/*
 * floo-demo's web pages on the shared HTTP/1.1 server (user/net/http):
 * GET / (a small page) and GET /bytes/N (N bytes, byte i = i mod 251).
 */
#include <stdlib.h>

#include "demo.h"
#include "floo/floo_http.h"

static const char index_page[] =
    "<!doctype html>\n<html><head><title>Floo</title></head>\n"
    "<body><h1>Floo</h1><p>Served by the Floo TCP/IP stack.</p></body></html>\n";

static struct http_server server;

static void demo_route(void *user, const struct http_request *q, struct http_response *r)
{
	(void)user;
	if (q->path_len == 1) {
		*r = (struct http_response){.status = 200,
		                            .content_type = "text/html",
		                            .body = (const uint8_t *)index_page,
		                            .len = sizeof(index_page) - 1};
	} else if (http_bytes_path(q->path, q->path_len, &r->len)) {
		r->status = 200;
		r->pattern = true;
	}
}

static void *demo_alloc(size_t n)
{
	return calloc(1, n);
}

int demo_http_start(struct floo_stack *st, uint16_t port)
{
	server = (struct http_server){
	    .st = st, .route = demo_route, .name = "floo-demo", .alloc = demo_alloc, .free = free};
	return http_server_start(&server, port);
}
