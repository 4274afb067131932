/*
 * The working directory of a Linux process: chdir, fchdir and getcwd.
 * Each process has its own (a thread shares its process's), fork copies
 * it, execve keeps it. It is kept as the canonical path of the directory
 * in the file system (lx_file.path, "" for the root), so the relative
 * paths of every call (AT_FDCWD in the *at calls, open, stat, execve...)
 * become absolute before the file system looks them up (sys.c get_path).
 */
#include "lx.h"

#include <lib/string.h>

#define S_IFMT  0170000u
#define S_IFDIR 0040000u

enum { NR_getcwd = 79, NR_chdir = 80, NR_fchdir = 81 };

int lx_cwd_join(struct lx_proc *p, const char *rel, char *out, size_t cap)
{
	const char *cwd = lx_grp(p)->cwd;
	size_t cl = strlen(cwd), rl = strlen(rel);

	if (1 + cl + 1 + rl + 1 > cap)
		return -LX_ENAMETOOLONG;
	out[0] = '/';
	memcpy(out + 1, cwd, cl);
	out[1 + cl] = '/';
	memcpy(out + 2 + cl, rel, rl + 1);
	return 0;
}

static int64_t set_cwd(struct lx_proc *p, const struct lx_file *f)
{
	if (!f)
		return -LX_ENOENT;
	if ((f->mode & S_IFMT) != S_IFDIR)
		return -LX_ENOTDIR;
	strlcpy(lx_grp(p)->cwd, f->path, sizeof(p->cwd));
	return 0;
}

int64_t lx_dir_syscall(struct lx_proc *p, uint64_t nr, const uint64_t a[6], bool *handled)
{
	*handled = true;
	switch (nr) {
	case NR_getcwd: {
		char buf[sizeof(p->cwd) + 1];
		size_t n = strlen(lx_grp(p)->cwd) + 2; /* the leading '/' and the NUL */
		buf[0] = '/';
		memcpy(buf + 1, lx_grp(p)->cwd, n - 1);
		if (a[1] < n)
			return -LX_ERANGE;
		return lx_copy_out(p, a[0], buf, n) ? -LX_EFAULT : (int64_t)n;
	}
	case NR_chdir: {
		char rel[256], path[512];
		long n = lx_copy_str(p, rel, a[0], sizeof(rel));
		if (n < 0)
			return n;
		if (!n)
			return -LX_ENOENT;
		int err = rel[0] == '/' ? (strlcpy(path, rel, sizeof(path)), 0)
		                        : lx_cwd_join(p, rel, path, sizeof(path));
		return err ? err : set_cwd(p, lx_fs_lookup(path));
	}
	case NR_fchdir: {
		struct lx_ofd *o = a[0] < LX_MAX_FDS ? lx_grp(p)->fd[a[0]].o : NULL;
		if (!o)
			return -LX_EBADF;
		return o->kind == LX_FD_DIR ? set_cwd(p, o->file) : -LX_ENOTDIR;
	}
	default:
		*handled = false;
		return -LX_ENOSYS;
	}
}
