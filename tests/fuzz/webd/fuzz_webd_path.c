/*
 * libFuzzer: request paths to boot-module names (webd_file_name) and the
 * configuration parser. An accepted name stays under "www/", has no "."
 * or ".." segment and no empty one, and fits its buffer.
 */
#include <stdlib.h>
#include <string.h>

#include "files.h"

static void check_name(const char *out)
{
	if (strncmp(out, "www/", 4))
		abort();
	for (const char *s = out + 3; s && *s; s = strchr(s + 1, '/')) {
		const char *e = strchr(s + 1, '/');
		size_t n = e ? (size_t)(e - s - 1) : strlen(s + 1);
		if (n == 0 || (n == 1 && s[1] == '.') || (n == 2 && s[1] == '.' && s[2] == '.'))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[WEBD_NAME_MAX];
	char *buf = malloc(size ? size : 1);
	struct webd_config c;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (webd_file_name("www", buf, (uint32_t)size, out, sizeof(out))) {
		check_name(out);
		(void)webd_content_type(out);
	}
	(void)webd_config_parse(buf, size, &c);
	free(buf);
	return 0;
}
