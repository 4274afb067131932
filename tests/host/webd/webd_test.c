/*
 * Host tests (ASan+UBSan) of what webd takes from outside: request heads
 * (user/net/http/http_parse.c), request paths, content types and the
 * configuration (user/apps/webd/files.c). On the host harness (ktharness.h).
 */
#include <stdio.h>
#include <string.h>

#include "files.h"
#include "ktharness.h"
#include "floo/floo_http.h"

static enum http_parse_result parse(const char *s, struct http_request *q)
{
	return http_parse_request(s, (uint32_t)strlen(s), HTTP_REQ_MAX, q);
}

static void parse_good_requests(void)
{
	struct http_request q;

	CHECK(parse("GET /a/b.html?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", &q) == HTTP_PARSE_OK);
	CHECK(q.method == HTTP_GET && q.path_len == 9 && !memcmp(q.path, "/a/b.html", 9));
	CHECK(q.minor == 1 && !q.close && !q.has_body && q.head_len == 39);
	CHECK(parse("HEAD / HTTP/1.0\n\n", &q) == HTTP_PARSE_OK); /* bare LF, 1.0 closes */
	CHECK(q.method == HTTP_HEAD && q.close);
	CHECK(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &q) == HTTP_PARSE_OK &&
	      !q.close);
	CHECK(parse("GET / HTTP/1.1\r\nhost: h\r\nConnection: foo, close\r\n\r\n", &q) ==
	          HTTP_PARSE_OK &&
	      q.close);
	CHECK(parse("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n", &q) ==
	      HTTP_PARSE_OK);
	CHECK(q.method == HTTP_OTHER && q.has_body);
	CHECK(parse("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", &q) ==
	          HTTP_PARSE_OK &&
	      q.has_body);
	CHECK(parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", &q) == HTTP_PARSE_OK &&
	      q.method == HTTP_OTHER);
	CHECK(parse("\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", &q) == HTTP_PARSE_OK &&
	      q.head_len == 29);
	/* Pipelined: only the first head is taken. */
	CHECK(parse("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\n", &q) == HTTP_PARSE_OK);
	CHECK(q.head_len == 28 && q.path[1] == '1');
}

static void parse_bad_requests(void)
{
	static const char *bad[] = {
	    "GARBAGE\r\n\r\n",
	    "GET /\r\n\r\n",
	    "GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
	    "GET / HTTP/1.1 \r\nHost: h\r\n\r\n",
	    "GET / HTTP/1.1\r\n\r\n", /* no Host */
	    "GET / HTTP/1.1\r\nHost : h\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost h\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: h\r\n bad: fold\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: h\rX\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n",
	    "GET * HTTP/1.1\r\nHost: h\r\n\r\n",
	    "GET http://x/ HTTP/1.1\r\nHost: h\r\n\r\n",
	    "GET / HTTP/1.x\r\nHost: h\r\n\r\n",
	    "GET / FTP/1.1\r\nHost: h\r\n\r\n",
	    "G\x01T / HTTP/1.1\r\nHost: h\r\n\r\n",
	};
	struct http_request q;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum http_parse_result r = parse(bad[i], &q);
		if (r != HTTP_PARSE_BAD)
			printf("#   case %zu: %d\n", i, r);
		CHECK(r == HTTP_PARSE_BAD);
	}
	CHECK(parse("GET / HTTP/2.0\r\nHost: h\r\n\r\n", &q) == HTTP_PARSE_VERSION);
	CHECK(parse("GET / HTTP/1.1\r\nHost: h\r\n", &q) == HTTP_PARSE_MORE);
	CHECK(parse("", &q) == HTTP_PARSE_MORE);
	/* NUL inside the head */
	CHECK(http_parse_request("GET / HTTP/1.1\r\nHost: \0\r\n\r\n", 27, HTTP_REQ_MAX, &q) ==
	      HTTP_PARSE_BAD);
}

static void parse_too_large(void)
{
	static char big[HTTP_REQ_MAX + 10];
	struct http_request q;

	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /", 5);
	CHECK(http_parse_request(big, HTTP_REQ_MAX, HTTP_REQ_MAX, &q) == HTTP_PARSE_TOO_LARGE);
	CHECK(http_parse_request(big, HTTP_REQ_MAX - 1, HTTP_REQ_MAX, &q) == HTTP_PARSE_MORE);
	/* The end just past max is not looked at. */
	memcpy(big + HTTP_REQ_MAX - 2, "\r\n\r\n", 4);
	CHECK(http_parse_request(big, HTTP_REQ_MAX + 2, HTTP_REQ_MAX, &q) == HTTP_PARSE_TOO_LARGE);
}

static void bytes_paths(void)
{
	uint64_t n = 7;

	CHECK(http_bytes_path("/bytes/0", 8, &n) && n == 0);
	CHECK(http_bytes_path("/bytes/1000000", 14, &n) && n == 1000000);
	CHECK(http_bytes_path("/bytes/1099511627776", 20, &n) && n == 1ull << 40);
	CHECK(!http_bytes_path("/bytes/1099511627777", 20, &n));
	CHECK(!http_bytes_path("/bytes/", 7, &n));
	CHECK(!http_bytes_path("/bytes/12a", 10, &n));
	CHECK(!http_bytes_path("/bytes/99999999999999", 21, &n));
	CHECK(!http_bytes_path("/byte/1", 7, &n));
}

static bool name_of(const char *path, const char *want)
{
	char out[WEBD_NAME_MAX];
	bool ok = webd_file_name("www", path, (uint32_t)strlen(path), out, sizeof(out));

	if (!want)
		return !ok;
	if (!ok || strcmp(out, want))
		printf("#   %s -> %s\n", path, ok ? out : "(refused)");
	return ok && !strcmp(out, want);
}

static void file_names(void)
{
	char small[8];

	CHECK(name_of("/", "www/index.html"));
	CHECK(name_of("/docs/", "www/docs/index.html"));
	CHECK(name_of("/a/b.txt", "www/a/b.txt"));
	CHECK(name_of("/my%20file.txt", "www/my file.txt"));
	CHECK(name_of("/..", NULL));
	CHECK(name_of("/../init", NULL));
	CHECK(name_of("/docs/../init", NULL));
	CHECK(name_of("/%2e%2e/init", NULL));
	CHECK(name_of("/./x", NULL));
	CHECK(name_of("//x", NULL));
	CHECK(name_of("/a%2fb", NULL));
	CHECK(name_of("/a%00b", NULL));
	CHECK(name_of("/a%4", NULL));
	CHECK(name_of("/a%zz", NULL));
	CHECK(name_of("/a\\b", NULL));
	CHECK(name_of("x", NULL));
	CHECK(name_of("/.hidden", "www/.hidden"));
	CHECK(name_of("/a%0ab", NULL));
	CHECK(!webd_file_name("www", "/a\0b", 4, small, sizeof(small))); /* fuzz: a raw NUL */
	CHECK(!webd_file_name("www", "/abcdef", 7, small, sizeof(small)));
	CHECK(!webd_file_name("www", "/", 1, small, sizeof(small))); /* index.html does not fit */
}

static void content_types(void)
{
	CHECK(!strcmp(webd_content_type("www/index.html"), "text/html; charset=utf-8"));
	CHECK(!strcmp(webd_content_type("www/A.PNG"), "image/png"));
	CHECK(!strcmp(webd_content_type("www/s.css"), "text/css"));
	CHECK(!strcmp(webd_content_type("www/blob.bin"), "application/octet-stream"));
	CHECK(!strcmp(webd_content_type("www/noext"), "application/octet-stream"));
	CHECK(!strcmp(webd_content_type("js"), "application/octet-stream"));
}

static int conf(const char *s, struct webd_config *c)
{
	return webd_config_parse(s, strlen(s), c);
}

static void config(void)
{
	struct webd_config c;

	CHECK(conf("", &c) == 0 && c.dhcp && c.http_port == 80 && c.echo_port == 7 &&
	      c.discard_port == 9 && c.mode == WEBD_IRQ && !strcmp(c.root, "www"));
	CHECK(conf("# comment\naddress 10.0.2.15/24  # guest\r\ngateway 10.0.2.2\nhttp-port 8080\n"
	           "mode polled\nroot site\nlog debug\n",
	           &c) == 0);
	CHECK(!c.dhcp && c.addr == 0x0a00020f && c.mask == 0xffffff00 && c.gw == 0x0a000202);
	CHECK(c.http_port == 8080 && c.mode == WEBD_POLLED && !strcmp(c.root, "site"));
	CHECK(c.log_level == FLOO_LOG_DEBUG);
	CHECK(conf("address 10.0.0.1\n", &c) == 0 && c.mask == 0xffffff00);
	CHECK(conf("address dhcp\n", &c) == 0 && c.dhcp);
	CHECK(conf("address 10.0.2.15/24\nbogus 1\n", &c) == 2);
	CHECK(conf("address 10.0.2.256\n", &c) == 1);
	CHECK(conf("address 10.0.2\n", &c) == 1);
	CHECK(conf("address 10.0.2.1.5\n", &c) == 1);
	CHECK(conf("address 10.0.2.1/33\n", &c) == 1);
	CHECK(conf("address 0.0.0.0\n", &c) == 1);
	CHECK(conf("http-port 0\n", &c) == 1);
	CHECK(conf("http-port 65536\n", &c) == 1);
	CHECK(conf("mode fast\n", &c) == 1);
	CHECK(conf("root ../etc\n", &c) == 1);
	CHECK(conf("root a/b\n", &c) == 1);
	CHECK(conf("log loud\n", &c) == 1);
	CHECK(conf("test-fault-after 50\n", &c) == 0 && c.fault_after == 50);
	CHECK(conf("test-fault-after 0\n", &c) == 1);
	CHECK(conf("test-crash-after 3\n", &c) == 0 && c.crash_after == 3);
	CHECK(conf("test-crash-after 0\n", &c) == 1);
}

int main(int argc, char **argv)
{
	kt_group = "webd-unit";
	kt_add("http_parse_good_requests", parse_good_requests);
	kt_add("http_parse_bad_requests", parse_bad_requests);
	kt_add("http_parse_too_large", parse_too_large);
	kt_add("http_bytes_paths", bytes_paths);
	kt_add("file_names_refuse_escapes", file_names);
	kt_add("content_types", content_types);
	kt_add("config_lines_and_errors", config);
	return kt_main(NULL, 0, argc, argv);
}
