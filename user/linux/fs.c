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
static uint64_t written; /* bytes held by written files */

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

	for (uint32_t i = 0; i < nfiles; i++)
		lx_plat_free(files[i].own);
	written = 0;
	nfiles = 1; /* files[0] is the root directory */
	files[0] = (struct lx_file){.path = names[0], .mode = S_IFDIR | 0755, .ino = 1};
	while ((st = cpio_next(cpio, len, &off, &e)) == CPIO_OK) {
		if (nfiles == MAX_FILES)
			return -LX_ENOMEM;
		char *nm = names[nfiles];
		if (!clean_name(e.name, e.name_len, nm) || !nm[0])
			continue;
		files[nfiles] = (struct lx_file){
		    .path = nm, .data = e.data, .size = e.size, .mode = e.mode, .ino = nfiles + 1};
		nfiles++;
	}
	if (st != CPIO_END)
		return -LX_EIO;
	static const char *const dev[] = {"dev",     "dev/null",    "dev/zero", "dev/urandom",
	                                  "dev/tty", "dev/console", "dev/tty1"};
	for (uint32_t i = 0; i < sizeof(dev) / sizeof(dev[0]); i++) {
		if (lx_fs_lookup_link(dev[i]))
			continue;
		if (nfiles == MAX_FILES)
			return -LX_ENOMEM;
		files[nfiles] = (struct lx_file){
		    .path = dev[i], .mode = i ? S_IFCHR | 0666 : S_IFDIR | 0755, .ino = nfiles + 1};
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

bool lx_fs_canonical(const char *path, char *out, size_t cap)
{
	return cap >= MAX_PATH && canonical(path, out);
}

static const struct lx_file *find(const char *canon)
{
	for (uint32_t i = 0; i < nfiles; i++)
		if (files[i].mode && !files[i].unlinked && !strcmp(files[i].path, canon))
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
	char cur[MAX_PATH] = {0}, next[MAX_PATH * 2];

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

const struct lx_file *lx_fs_holding(const uint8_t *byte)
{
	for (uint32_t i = 0; byte && i < nfiles; i++)
		if (files[i].mode && files[i].data && byte >= files[i].data &&
		    byte < files[i].data + files[i].size)
			return &files[i];
	return NULL;
}

const struct lx_file *lx_fs_child(const struct lx_file *dir, uint32_t idx, const char **name)
{
	size_t dl = strlen(dir->path);

	for (uint32_t i = 1; i < nfiles; i++) {
		const char *p = files[i].path;
		if (!files[i].mode || files[i].unlinked)
			continue;
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

/* ---- the writable part ---- */

/* src into dst (cap bytes, cut to fit, NUL-terminated); host libc has no strlcpy. */
static void copy_name(char *dst, const char *src, size_t cap)
{
	size_t n = strlen(src);

	n = n < cap - 1 ? n : cap - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

static struct lx_file *mut(const struct lx_file *f)
{
	return &files[f - files];
}

/* The canonical path of path's parent (links followed) into dir, and its last name. */
static int split(const char *path, char *dir, const char **name, char *canon)
{
	if (!canonical(path, canon) || !canon[0])
		return canon[0] ? -LX_ENAMETOOLONG : -LX_EEXIST; /* "/" exists */
	char *slash = NULL;
	for (char *c = canon; *c; c++)
		if (*c == '/')
			slash = c;
	*name = slash ? slash + 1 : canon;
	size_t dl = slash ? (size_t)(slash - canon) : 0;
	memcpy(dir, canon, dl);
	dir[dl] = 0;
	const struct lx_file *d = dl ? lx_fs_lookup(dir) : &files[0];
	if (!d)
		return -LX_ENOENT;
	if ((d->mode & S_IFMT) != S_IFDIR)
		return -LX_ENOTDIR;
	copy_name(dir, d->path, MAX_PATH); /* the directory's own name, links resolved */
	return 0;
}

int lx_fs_create(const char *path, uint32_t mode, const struct lx_file **out)
{
	char dir[MAX_PATH], canon[MAX_PATH];
	const char *name;
	int err = split(path, dir, &name, canon);

	if (err)
		return err;
	size_t dl = strlen(dir), nl = strlen(name);
	if (dl + 1 + nl >= MAX_PATH)
		return -LX_ENAMETOOLONG;
	char full[MAX_PATH];
	memcpy(full, dir, dl);
	full[dl] = '/';
	memcpy(full + (dl ? dl + 1 : 0), name, nl + 1);
	if (lx_fs_lookup_link(full))
		return -LX_EEXIST;
	uint32_t i = 1;
	while (i < nfiles && files[i].mode)
		i++;
	if (i == MAX_FILES)
		return -LX_ENOSPC;
	if (i == nfiles)
		nfiles++;
	copy_name(names[i], full, MAX_PATH);
	files[i] = (struct lx_file){names[i], NULL, 0, mode, i + 1, NULL, 0, 0, false};
	*out = &files[i];
	return 0;
}

/* f's bytes in the server's heap with room for at least need bytes. */
static int make_room(struct lx_file *f, uint64_t need)
{
	if (f->own && need <= f->cap)
		return 0;
	uint64_t cap = f->cap ? f->cap : 4096;
	while (cap < need)
		cap *= 2;
	if (need > LX_FS_BYTES || written - f->cap + cap > LX_FS_BYTES)
		return -LX_ENOSPC;
	uint8_t *b = lx_plat_alloc(cap);
	if (!b)
		return -LX_ENOSPC;
	if (f->size)
		memcpy(b, f->data, f->size);
	lx_plat_free(f->own);
	written = written - f->cap + cap;
	f->own = b, f->cap = cap, f->data = b;
	return 0;
}

int lx_fs_write(const struct lx_file *cf, uint64_t pos, const void *src, uint64_t n)
{
	struct lx_file *f = mut(cf);

	if (pos > LX_FS_BYTES || n > LX_FS_BYTES - pos)
		return -27; /* EFBIG */
	int err = make_room(f, pos + n > f->size ? pos + n : f->size);
	if (err)
		return err;
	if (pos > f->size)
		memset(f->own + f->size, 0, pos - f->size);
	memcpy(f->own + pos, src, n);
	if (pos + n > f->size)
		f->size = pos + n;
	return 0;
}

int lx_fs_chmod(const struct lx_file *cf, uint32_t mode)
{
	struct lx_file *f = mut(cf);

	f->mode = (f->mode & 0170000u) | (mode & 07777u);
	return 0;
}

int lx_fs_truncate(const struct lx_file *cf, uint64_t size)
{
	struct lx_file *f = mut(cf);

	if (size > LX_FS_BYTES)
		return -27;
	int err = make_room(f, size > f->size ? size : f->size);
	if (err)
		return err;
	if (size > f->size)
		memset(f->own + f->size, 0, size - f->size);
	f->size = size;
	return 0;
}

static void drop(struct lx_file *f)
{
	lx_plat_free(f->own);
	written -= f->cap;
	*f = (struct lx_file){names[f - files], NULL, 0, 0, 0, NULL, 0, 0, false};
	names[f - files][0] = 0;
}

void lx_fs_hold(const struct lx_file *f)
{
	mut(f)->opens++;
}

void lx_fs_release(const struct lx_file *cf)
{
	struct lx_file *f = mut(cf);

	if (f->opens && !--f->opens && f->unlinked)
		drop(f);
}

int lx_fs_unlink(const char *path, bool dir)
{
	const struct lx_file *cf = lx_fs_lookup_link(path);

	if (!cf)
		return -LX_ENOENT;
	struct lx_file *f = mut(cf);
	bool is_dir = (f->mode & S_IFMT) == S_IFDIR;
	if (f == &files[0] || f->path[0] == 0)
		return -16; /* EBUSY: the root */
	if (dir && !is_dir)
		return -LX_ENOTDIR;
	if (!dir && is_dir)
		return -LX_EISDIR;
	const char *name;
	if (is_dir && lx_fs_child(f, 0, &name))
		return -LX_ENOTEMPTY;
	f->unlinked = true;
	if (!f->opens)
		drop(f);
	return 0;
}

int lx_fs_rename(const char *from, const char *to)
{
	const struct lx_file *cf = lx_fs_lookup_link(from);
	char dir[MAX_PATH], canon[MAX_PATH], full[MAX_PATH];
	const char *name;

	if (!cf)
		return -LX_ENOENT;
	if (cf == &files[0])
		return -16; /* EBUSY: the root, as Linux */
	int err = split(to, dir, &name, canon);
	if (err)
		return err == -LX_EEXIST ? -16 : err;
	size_t dl = strlen(dir), nl = strlen(name);
	if (dl + 1 + nl >= MAX_PATH)
		return -LX_ENAMETOOLONG;
	memcpy(full, dir, dl);
	full[dl] = '/';
	memcpy(full + (dl ? dl + 1 : 0), name, nl + 1);
	struct lx_file *f = mut(cf);
	size_t fl = strlen(f->path);
	if (!strcmp(full, f->path))
		return 0;
	if (!strncmp(full, f->path, fl) && full[fl] == '/')
		return -LX_EINVAL; /* into itself */
	const struct lx_file *old = lx_fs_lookup_link(full);
	bool is_dir = (f->mode & S_IFMT) == S_IFDIR;
	if (old) {
		bool old_dir = (old->mode & S_IFMT) == S_IFDIR;
		if (old_dir != is_dir)
			return old_dir ? -LX_EISDIR : -LX_ENOTDIR;
		err = lx_fs_unlink(full, old_dir);
		if (err)
			return err;
	}
	/* The entry and, for a directory, everything under it get the new prefix. */
	size_t tl = strlen(full);
	for (uint32_t i = 1; i < nfiles; i++) {
		char *p = names[i];
		if (!files[i].mode || files[i].unlinked || strncmp(p, f->path, fl) ||
		    (p[fl] != 0 && p[fl] != '/') || (p != f->path && !is_dir))
			continue;
		if (tl + strlen(p + fl) >= MAX_PATH)
			return -LX_ENAMETOOLONG;
	}
	char was[MAX_PATH];
	copy_name(was, f->path, sizeof(was));
	for (uint32_t i = 1; i < nfiles; i++) {
		char *p = names[i];
		if (!files[i].mode || files[i].unlinked || strncmp(p, was, fl) ||
		    (p[fl] != 0 && p[fl] != '/'))
			continue;
		char rest[MAX_PATH];
		copy_name(rest, p + fl, sizeof(rest));
		memcpy(p, full, tl);
		copy_name(p + tl, rest, MAX_PATH - tl);
	}
	return 0;
}
