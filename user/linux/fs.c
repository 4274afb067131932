/*
 * The read-only in-memory file system: the entries of the boot module's
 * newc cpio archive, looked up by normalised path. The archive is outside
 * input: lib/cpio.c checks every header; names that do not fit are
 * skipped. The current directory is always "/" in this first slice.
 */
#include "lx.h"

#include <lib/cpio.h>
#include <lib/string.h>

#define MAX_FILES 512
#define MAX_PATH  256
#define S_IFDIR   0040000u

static struct lx_file files[MAX_FILES];
static char names[MAX_FILES][MAX_PATH];
static uint32_t nfiles;

/* path without "./" prefixes and trailing slashes, into out; false if it does not fit. */
static bool clean_name(const char *s, size_t n, char *out)
{
	while (n >= 2 && s[0] == '.' && s[1] == '/')
		s += 2, n -= 2;
	if (n == 1 && s[0] == '.')
		n = 0;
	while (n && s[n - 1] == '/')
		n--;
	if (n >= MAX_PATH)
		return false;
	memcpy(out, s, n);
	out[n] = 0;
	return true;
}

int lx_fs_init(const uint8_t *cpio, size_t len)
{
	size_t off = 0;
	struct cpio_entry e;
	int st;

	nfiles = 1; /* files[0] is the root directory */
	files[0] = (struct lx_file){names[0], NULL, 0, S_IFDIR | 0755, 1};
	while ((st = cpio_next(cpio, len, &off, &e)) == CPIO_OK) {
		if (nfiles == MAX_FILES)
			return -LX_ENOMEM;
		char *nm = names[nfiles];
		if (!clean_name(e.name, e.name_len, nm) || !nm[0])
			continue;
		files[nfiles] = (struct lx_file){nm, e.data, e.size, e.mode, nfiles + 1};
		nfiles++;
	}
	return st == CPIO_END ? 0 : -LX_EIO;
}

/*
 * Resolve path (absolute, or relative to "/") into its canonical form:
 * "." and empty components dropped, ".." goes up (not above the root).
 */
static bool canonical(const char *path, char *out)
{
	size_t n = 0;

	out[0] = 0;
	while (*path) {
		while (*path == '/')
			path++;
		const char *c = path;
		while (*path && *path != '/')
			path++;
		size_t k = (size_t)(path - c);
		if (!k || (k == 1 && c[0] == '.'))
			continue;
		if (k == 2 && c[0] == '.' && c[1] == '.') {
			while (n && out[n - 1] != '/')
				n--;
			if (n)
				n--;
			out[n] = 0;
			continue;
		}
		if (n + !!n + k >= MAX_PATH)
			return false;
		if (n)
			out[n++] = '/';
		memcpy(out + n, c, k);
		n += k;
		out[n] = 0;
	}
	return true;
}

const struct lx_file *lx_fs_lookup(const char *path)
{
	char c[MAX_PATH];

	if (!canonical(path, c))
		return NULL;
	for (uint32_t i = 0; i < nfiles; i++)
		if (!strcmp(files[i].path, c))
			return &files[i];
	return NULL;
}

const struct lx_file *lx_fs_child(const struct lx_file *dir, uint32_t idx, const char **name)
{
	size_t dl = strlen(dir->path);

	for (uint32_t i = 1; i < nfiles; i++) {
		const char *p = files[i].path;
		if (dl && (strncmp(p, dir->path, dl) || p[dl] != '/'))
			continue;
		const char *rest = dl ? p + dl + 1 : p;
		if (strchr(rest, '/'))
			continue; /* deeper down */
		if (idx-- == 0) {
			*name = rest;
			return &files[i];
		}
	}
	return NULL;
}
