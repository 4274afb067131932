/*
 * The read-only in-memory file system: the entries of the boot module's
 * newc cpio archive, looked up by normalised path, with symbolic links
 * (busybox's applet links) followed in every component, and the devices
 * of /dev added when the archive has none. The archive is outside input:
 * lib/cpio.c checks every header; names that do not fit are skipped. The
 * current directory is always "/" in this slice.
 */
#include "lx.h"

#include <lib/cpio.h>
#include <lib/string.h>

#define MAX_FILES 1024
#define MAX_PATH  256
#define MAX_LINKS 8 /* symbolic links followed in one lookup (ELOOP beyond) */
#define S_IFMT    0170000u
#define S_IFDIR   0040000u
#define S_IFCHR   0020000u
#define S_IFLNK   0120000u

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
	if (st != CPIO_END)
		return -LX_EIO;
	static const char *const dev[] = {"dev",         "dev/null", "dev/zero",
	                                  "dev/urandom", "dev/tty",  "dev/console"};
	for (uint32_t i = 0; i < sizeof(dev) / sizeof(dev[0]); i++) {
		if (lx_fs_lookup_link(dev[i]))
			continue;
		if (nfiles == MAX_FILES)
			return -LX_ENOMEM;
		files[nfiles] = (struct lx_file){dev[i], NULL, 0,
		                                 i ? S_IFCHR | 0666 : S_IFDIR | 0755, nfiles + 1};
		nfiles++;
	}
	return 0;
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

static const struct lx_file *find(const char *canon)
{
	for (uint32_t i = 0; i < nfiles; i++)
		if (!strcmp(files[i].path, canon))
			return &files[i];
	return NULL;
}

/* Append n bytes of s to out (holding *len bytes); false when it does not fit. */
static bool append(char *out, size_t *len, const char *s, size_t n)
{
	if (*len + n >= MAX_PATH * 2)
		return false;
	memcpy(out + *len, s, n);
	*len += n;
	out[*len] = 0;
	return true;
}

/*
 * Resolve path: every component that is a symbolic link is replaced by its
 * target (relative to the link's directory), the last one only if follow.
 */
static const struct lx_file *resolve(const char *path, bool follow)
{
	char cur[MAX_PATH], next[MAX_PATH * 2];

	if (!canonical(path, cur))
		return NULL;
	for (int hops = 0; hops <= MAX_LINKS; hops++) {
		size_t n = strlen(cur), i;
		const struct lx_file *f = NULL;
		for (i = 1; i <= n; i++) {
			if (i < n && cur[i] != '/')
				continue;
			char save = cur[i];
			cur[i] = 0;
			f = find(cur);
			cur[i] = save;
			if (!f)
				return NULL;
			if ((f->mode & S_IFMT) == S_IFLNK && (i < n || follow))
				break;
		}
		if (i > n)
			return find(cur);
		size_t dir = i, len = 0; /* the link's directory is cur[0, dir) */
		while (dir && cur[dir - 1] != '/')
			dir--;
		next[0] = 0;
		bool ok = f->size < MAX_PATH &&
		          (f->size && f->data[0] == '/'
		               ? true
		               : append(next, &len, "/", 1) && append(next, &len, cur, dir));
		ok = ok && append(next, &len, (const char *)f->data, f->size) &&
		     append(next, &len, cur + i, n - i);
		if (!ok || !canonical(next, cur))
			return NULL;
	}
	return NULL; /* too many links */
}

const struct lx_file *lx_fs_lookup(const char *path)
{
	return resolve(path, true);
}

const struct lx_file *lx_fs_lookup_link(const char *path)
{
	return resolve(path, false);
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
