/*
 * webd's static files: request paths to boot-module names, content types,
 * and the configuration file. Pure (no system calls): host-tested and
 * fuzzed (tests/host/webd, tests/fuzz/webd).
 */
#ifndef WEBD_FILES_H
#define WEBD_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEBD_NAME_MAX 256

/*
 * The boot-module name of request path path[0..len) under directory root:
 * percent-escapes decoded, "index.html" added to a path ending in '/'.
 * False (answered 404) for a path that does not start with '/', has a
 * "." or ".." segment, an empty segment, a bad escape or one of '/',
 * a control byte (escaped or not), a backslash, or does not fit out
 * (cap bytes).
 */
bool webd_file_name(const char *root, const char *path, uint32_t len, char *out, size_t cap);

/* The Content-Type for a file name, by its extension. */
const char *webd_content_type(const char *name);

enum webd_mode { WEBD_IRQ, WEBD_POLLED };

struct webd_config {
	bool dhcp;
	uint32_t addr, mask, gw; /* host byte order */
	uint16_t http_port, echo_port, discard_port;
	enum webd_mode mode;
	char root[64];
	int log_level;        /* FLOO_LOG_* */
	uint32_t fault_after; /* tests: break the NIC's receive ring after this many frames */
	uint32_t
	    crash_after; /* tests: crash (a CPU fault) at this HTTP request, on a first start */
};

/*
 * Parse the configuration text s[0..n) ("key value" lines, '#' comments)
 * into c, defaults first. Returns 0, or the number of the first line not
 * understood.
 */
int webd_config_parse(const char *s, size_t n, struct webd_config *c);

#endif
