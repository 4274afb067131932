/*
 * libFuzzer: HTTP request heads as a client sends them (http_parse.c).
 * Checks beyond "no crash": a parsed head lies within the input and max,
 * a path points inside it and starts with '/'.
 */
#include <stdlib.h>
#include <string.h>

#include "floo/floo_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request q;
	uint32_t max = size > 0 ? 64u + data[0] * 16u : HTTP_REQ_MAX;
	char *buf = malloc(size ? size : 1); /* exactly size bytes: ASan sees any overread */

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (http_parse_request(buf, (uint32_t)size, max, &q) == HTTP_PARSE_OK) {
		if (q.head_len == 0 || q.head_len > size || q.head_len > max + 8)
			abort();
		if (q.method != HTTP_OTHER &&
		    (!q.path || q.path < buf || q.path + q.path_len > buf + size ||
		     q.path[0] != '/'))
			abort();
	}
	uint64_t n;
	(void)http_bytes_path(buf, (uint32_t)size, &n);
	free(buf);
	return 0;
}
