/*
 * The Linux system calls this slice serves, with Linux's error codes. Every
 * pointer argument goes through lx_copy_in/lx_copy_out (EFAULT when it
 * leaves the process's mappings); unknown numbers give ENOSYS and are
 * counted per number (lx_report_unknown).
 */
#include "lx.h"
#include "tty.h"

#include <hallows/rt.h>
#include <lib/fmt.h>
#include <lib/string.h>

#define MAX_NR              512
#define CHUNK               4096
#define O_ACCMODE           3u
#define O_CREAT             0100u
#define O_EXCL              0200u
#define O_TRUNC             01000u
#define O_APPEND            02000u
#define S_IFREG             0100000u
#define O_DIRECTORY         0200000u
#define O_CLOEXEC           02000000u
#define AT_FDCWD            (-100)
#define AT_EMPTY_PATH       0x1000u
#define AT_SYMLINK_NOFOLLOW 0x100u
#define S_IFLNK             0120000u
#define S_IFMT              0170000u
#define S_IFDIR             0040000u
#define S_IFCHR             0020000u
#define MAP_SHARED          0x01u
#define MAP_PRIVATE         0x02u
#define MAP_FIXED           0x10u
#define MAP_ANONYMOUS       0x20u

enum {
	NR_read = 0,
	NR_write = 1,
	NR_open = 2,
	NR_close = 3,
	NR_stat = 4,
	NR_fstat = 5,
	NR_lstat = 6,
	NR_lseek = 8,
	NR_mmap = 9,
	NR_mprotect = 10,
	NR_munmap = 11,
	NR_brk = 12,
	NR_rt_sigaction = 13,
	NR_rt_sigprocmask = 14,
	NR_ioctl = 16,
	NR_pread64 = 17,
	NR_readv = 19,
	NR_writev = 20,
	NR_access = 21,
	NR_sched_yield = 24,
	NR_madvise = 28,
	NR_getpid = 39,
	NR_exit = 60,
	NR_uname = 63,
	NR_fcntl = 72,
	NR_getcwd = 79,
	NR_gettimeofday = 96,
	NR_getuid = 102,
	NR_getgid = 104,
	NR_geteuid = 107,
	NR_getegid = 108,
	NR_getppid = 110,
	NR_getpgrp = 111,
	NR_arch_prctl = 158,
	NR_gettid = 186,
	NR_time = 201,
	NR_getdents64 = 217,
	NR_set_tid_address = 218,
	NR_clock_gettime = 228,
	NR_exit_group = 231,
	NR_openat = 257,
	NR_newfstatat = 262,
	NR_faccessat = 269,
	NR_getrandom = 318,
	NR_dup = 32,
	NR_dup2 = 33,
	NR_dup3 = 292,
	NR_sendfile = 40,
	NR_readlink = 89,
	NR_readlinkat = 267,
	NR_set_robust_list = 273,
	NR_prlimit64 = 302,
};

static uint32_t unknown[MAX_NR + 1]; /* [MAX_NR]: every number >= MAX_NR */

void lx_report_unknown(bool reset)
{
	bool any = false;

	for (uint32_t i = 0; i <= MAX_NR; i++) {
		if (!unknown[i])
			continue;
		if (!any)
			rt_printf("linux: unknown system calls (ENOSYS):");
		any = true;
		rt_printf(i == MAX_NR ? " >=%u x%u" : " %u x%u", i, unknown[i]);
	}
	rt_printf(any ? "\n" : "linux: unknown system calls: none\n");
	if (reset)
		memset(unknown, 0, sizeof(unknown));
}

uint64_t lx_unknown_format(char *buf, size_t cap)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i <= MAX_NR && n + 32 < cap; i++)
		if (unknown[i])
			n += (uint64_t)snprintf(
			    buf + n, cap - n, i == MAX_NR ? ">=%u %u\n" : "%u %u\n", i, unknown[i]);
	return n;
}

static uint64_t page_up(uint64_t x)
{
	return (x + LX_PAGE - 1) & ~(LX_PAGE - 1);
}

static struct lx_ofd *fd_get(struct lx_proc *p, uint64_t fd)
{
	return fd < LX_MAX_FDS ? lx_grp(p)->fd[fd].o : NULL;
}

/* ---- console and file I/O ---- */

/* write and pwrite64 (at >= 0) to a file of the file system. */
static int64_t file_write(struct lx_proc *p, struct lx_ofd *f, uint64_t buf, uint64_t len,
                          int64_t at)
{
	static char tmp[CHUNK];
	uint64_t pos = at >= 0 ? (uint64_t)at : f->flags & O_APPEND ? f->file->size : f->pos;

	for (uint64_t done = 0; done < len;) {
		uint64_t n = len - done < CHUNK ? len - done : CHUNK;
		int err = lx_copy_in(p, tmp, buf + done, n)
		              ? -LX_EFAULT
		              : lx_fs_write(f->file, pos + done, tmp, n);
		if (err) {
			if (at < 0)
				f->pos = pos + done;
			return done ? (int64_t)done : err;
		}
		done += n;
	}
	if (at < 0)
		f->pos = pos + len;
	return (int64_t)len;
}

static int64_t do_write(struct lx_proc *p, uint64_t fd, uint64_t buf, uint64_t len)
{
	struct lx_ofd *f = fd_get(p, fd);
	static char tmp[CHUNK];

	if (!f || (f->flags & O_ACCMODE) == 0)
		return -LX_EBADF;
	if (f->kind == LX_FD_FILE)
		return file_write(p, f, buf, len, -1);
	if (f->kind == LX_FD_PIPE_W)
		return lx_pipe_write(p, f, buf, len);
	if (f->kind == LX_FD_SOCKET)
		return lx_sock_write(p, f, buf, len);
	if (f->kind == LX_FD_EPOLL)
		return -LX_EINVAL;
	if (f->kind >= LX_FD_NULL) /* /dev/null, /dev/zero, /dev/urandom take everything */
		return lx_check(p, buf, len, LX_PROT_READ) ? -LX_EFAULT : (int64_t)len;
	if (f->kind != LX_FD_CONSOLE)
		return -LX_EBADF;
	int64_t bg = lx_tty_write_check(p, f); /* TOSTOP */
	if (bg)
		return bg;
	for (uint64_t done = 0; done < len;) {
		uint64_t n = len - done < CHUNK ? len - done : CHUNK;
		if (lx_copy_in(p, tmp, buf + done, n))
			return done ? (int64_t)done : -LX_EFAULT;
		lx_tty_write(f, tmp, n);
		done += n;
	}
	return (int64_t)len;
}

static int64_t do_read(struct lx_proc *p, uint64_t fd, uint64_t buf, uint64_t len, int64_t at)
{
	struct lx_ofd *f = fd_get(p, fd);

	if (!f || (f->flags & O_ACCMODE) == 1)
		return -LX_EBADF;
	if (LX_ACCESS_BAD(buf, len))
		return -LX_EFAULT; /* bug read_at_eof_into_kernel_half_succeeded: before anything */
	if (f->kind == LX_FD_DIR || f->kind == LX_FD_PROCDIR)
		return -LX_EISDIR;
	if (f->kind == LX_FD_EPOLL)
		return -LX_EINVAL;
	if (f->kind == LX_FD_PIPE_R)
		return at >= 0 ? -LX_ESPIPE : lx_pipe_read(p, f, buf, len);
	if (f->kind == LX_FD_SOCKET)
		return at >= 0 ? -LX_ESPIPE : lx_sock_read(p, f, buf, len);
	if (f->kind == LX_FD_CONSOLE)
		return at >= 0 ? -LX_ESPIPE : lx_tty_read(p, f, buf, len);
	if (f->kind == LX_FD_NULL)
		return 0;
	if (f->kind == LX_FD_ZERO || f->kind == LX_FD_RANDOM) {
		static uint8_t chunk[CHUNK];
		uint64_t done = 0;
		for (len = len > (1u << 20) ? 1u << 20 : len; done < len;) {
			uint64_t n = len - done < CHUNK ? len - done : CHUNK;
			if (f->kind == LX_FD_ZERO)
				memset(chunk, 0, n);
			else
				lx_plat_random(chunk, n);
			if (lx_copy_out(p, buf + done, chunk, n))
				return done ? (int64_t)done : -LX_EFAULT;
			done += n;
		}
		return (int64_t)done;
	}
	uint64_t pos = at >= 0 ? (uint64_t)at : f->pos;
	uint64_t n = pos < f->file->size ? f->file->size - pos : 0;
	if (n > len)
		n = len;
	if (lx_copy_out(p, buf, f->file->data + pos, n))
		return -LX_EFAULT;
	if (at < 0)
		f->pos += n;
	return (int64_t)n;
}

#define RWF_NOWAIT   0x08u
#define RWF_APPEND   0x10u
#define RWF_NOAPPEND 0x20u
/* HIPRI DSYNC SYNC (nothing to do: the data is in memory) NOWAIT APPEND NOAPPEND; Linux's
 * RWF_ATOMIC and RWF_DONTCACHE no file here has (EOPNOTSUPP, as tmpfs answers). */
#define RWF_OK     0x3fu
#define LX_ENOTSUP 95 /* EOPNOTSUPP */

/* Whether a positional call (pread, pwritev...) may use f: pipes, sockets and ttys: no. */
static bool positional(const struct lx_ofd *f)
{
	return f->kind != LX_FD_PIPE_R && f->kind != LX_FD_PIPE_W && f->kind != LX_FD_SOCKET &&
	       f->kind != LX_FD_CONSOLE;
}

/* pwrite64 and pwritev: Linux appends on an O_APPEND file whatever the offset (unless
 * RWF_NOAPPEND), and always with RWF_APPEND. */
static int64_t write_at(struct lx_proc *p, struct lx_ofd *f, uint64_t buf, uint64_t len, int64_t at,
                        uint64_t rwf)
{
	if ((f->flags & O_ACCMODE) == 0)
		return -LX_EBADF;
	if (f->kind >= LX_FD_NULL && f->kind <= LX_FD_RANDOM) /* they take it, at any place */
		return lx_check(p, buf, len, LX_PROT_READ) ? -LX_EFAULT : (int64_t)len;
	if (f->kind != LX_FD_FILE)
		return -LX_EINVAL;
	if ((rwf & RWF_APPEND) || (f->flags & O_APPEND && !(rwf & RWF_NOAPPEND)))
		at = (int64_t)f->file->size;
	return file_write(p, f, buf, len, at);
}

/*
 * readv and writev (at < 0), preadv and pwritev (at: the offset), preadv2 and pwritev2 (at -1:
 * the file's position; rwf: RWF_* flags): iovcnt iovecs {base, len} at iov.
 */
static int64_t do_iov(struct lx_proc *p, uint64_t fd, uint64_t iov, uint64_t cnt, bool wr,
                      int64_t at, uint64_t rwf)
{
	int64_t total = 0;
	uint64_t sum = 0;
	struct lx_ofd *f = fd_get(p, fd);

	if (at >= 0 && (!f || !positional(f)))
		return f ? -LX_ESPIPE : -LX_EBADF; /* Linux: before the iovecs */
	if (cnt > 1024)
		return -LX_EINVAL;
	/* Linux checks every iovec first, in order: a length above SSIZE_MAX is EINVAL (bug
	 * writev_wrapping_lengths_efault), a buffer past TASK_SIZE (or, writing, anywhere
	 * unmapped) EFAULT; so does a sum above SSIZE_MAX. */
	for (uint64_t i = 0; i < cnt; i++) {
		uint64_t v[2];
		if (lx_copy_in(p, v, iov + i * 16, 16))
			return -LX_EFAULT;
		if ((int64_t)v[1] < 0 || (sum += v[1]) > (uint64_t)INT64_MAX)
			return -LX_EINVAL;
		if (LX_ACCESS_BAD(v[0], v[1]) || (wr && lx_check(p, v[0], v[1], LX_PROT_READ)))
			return -LX_EFAULT;
	}
	if (f && sum && (rwf & ~(uint64_t)RWF_OK))
		return -LX_ENOTSUP;
	/* For this call: RWF_NOWAIT is O_NONBLOCK (a wait is EAGAIN), RWF_APPEND at the file's
	 * position is O_APPEND (the position moves to the end). */
	uint32_t was = f ? f->flags : 0, temp = (rwf & RWF_NOWAIT ? 04000u : 0) |
	                                        (at < 0 && (rwf & RWF_APPEND) ? O_APPEND : 0);
	if (f)
		f->flags |= temp;
	for (uint64_t i = 0; i < cnt; i++) {
		uint64_t v[2];
		if (lx_copy_in(p, v, iov + i * 16, 16)) {
			total = total ? total : -LX_EFAULT;
			break;
		}
		if (!v[1])
			continue;
		int64_t r = !wr      ? do_read(p, fd, v[0], v[1], at < 0 ? -1 : at + total)
		            : at < 0 ? do_write(p, fd, v[0], v[1])
		                     : write_at(p, f, v[0], v[1], at + total, rwf);
		if (r == LX_RET_BLOCK && total)
			p->chan = NULL; /* what came so far is the result */
		if (r == LX_RET_GONE || (r < 0 && !total)) {
			total = r;
			break;
		}
		if (r < 0)
			break;
		total += r;
		if ((uint64_t)r < v[1])
			break;
	}
	if (f && f->refs)
		f->flags = (f->flags & ~temp) | (was & temp);
	return total;
}

/* The path at upath, relative to dirfd, as an absolute path into out (PATH_MAX 256 here). */
static int get_path(struct lx_proc *p, int64_t dirfd, uint64_t upath, char *out, size_t cap)
{
	char rel[256];
	long n = lx_copy_str(p, rel, upath, sizeof(rel));

	if (n < 0)
		return (int)n;
	if (!n)
		return -LX_ENOENT; /* "" names nothing (AT_EMPTY_PATH is the caller's) */
	if (rel[0] == '/') {
		strlcpy(out, rel, cap);
		return 0;
	}
	if (dirfd == AT_FDCWD)
		return lx_cwd_join(p, rel, out, cap);
	struct lx_ofd *d = fd_get(p, (uint64_t)dirfd);
	if (!d)
		return -LX_EBADF;
	if (d->kind != LX_FD_DIR && d->kind != LX_FD_PROCDIR)
		return -LX_ENOTDIR;
	out[0] = '/';
	size_t dl = strlcpy(out + 1, d->file->path, cap - 1) + 1;
	if (dl + 1 + (size_t)n + 1 > cap)
		return -LX_ENAMETOOLONG;
	out[dl] = '/';
	memcpy(out + dl + 1, rel, (size_t)n + 1);
	return 0;
}

/* What a character device of /dev is: LX_FD_NULL, _ZERO, _RANDOM or _CONSOLE (tty, console). */
static uint8_t dev_kind(const struct lx_file *f)
{
	return !strcmp(f->path, "dev/null")      ? LX_FD_NULL
	       : !strcmp(f->path, "dev/zero")    ? LX_FD_ZERO
	       : !strcmp(f->path, "dev/urandom") ? LX_FD_RANDOM
	                                         : LX_FD_CONSOLE;
}

static uint64_t dev_rdev(const struct lx_file *f)
{
	static const uint64_t rdev[] = {0, 5u << 8 | 1, 0,           0,          0,
	                                0, 1u << 8 | 3, 1u << 8 | 5, 1u << 8 | 9};
	if (!strcmp(f->path, "dev/tty"))
		return 5u << 8;
	return rdev[dev_kind(f)];
}

static uint32_t umask_bits = 022;

/* open of a /proc snapshot f: read-only, on the lowest free descriptor. */
static int64_t proc_open(struct lx_proc *p, const struct lx_file *f, uint64_t flags)
{
	bool dir = (f->mode & S_IFMT) == S_IFDIR;
	int64_t err = (flags & O_CREAT) && (flags & O_EXCL) ? -LX_EEXIST
	              : (flags & O_DIRECTORY) && !dir       ? -LX_ENOTDIR
	              : (flags & O_ACCMODE) && dir          ? -LX_EISDIR
	              : (flags & O_ACCMODE)                 ? -LX_EACCES
	                                                    : 0;
	struct lx_ofd *o =
	    err ? NULL : lx_ofd_new(dir ? LX_FD_PROCDIR : LX_FD_PROC, (uint32_t)flags);

	if (!err && !o)
		err = -23; /* ENFILE */
	for (uint32_t fd = 0; !err && fd < LX_MAX_FDS; fd++) {
		if (lx_grp(p)->fd[fd].o)
			continue;
		o->file = f;
		lx_grp(p)->fd[fd] = (struct lx_fd){o, (flags & O_CLOEXEC) != 0};
		return fd;
	}
	if (o)
		o->refs = 0;
	lx_procfs_put(f);
	return err ? err : -LX_EMFILE;
}

/* A path's file (following symbolic links but the last if nofollow), /proc's too: put_stat
 * or the like, then lx_procfs_put. */
static int lookup_any(struct lx_proc *p, const char *path, bool nofollow, const struct lx_file **f)
{
	int in_proc = lx_procfs_get(p, path, !nofollow, f);

	if (in_proc <= 0)
		return in_proc;
	*f = nofollow ? lx_fs_lookup_link(path) : lx_fs_lookup(path);
	return *f ? 0 : -LX_ENOENT;
}

static int64_t do_openat(struct lx_proc *p, int64_t dirfd, uint64_t upath, uint64_t flags,
                         uint64_t mode)
{
	char path[512];
	int err = get_path(p, dirfd, upath, path, sizeof(path));

	if (err)
		return err;
	const struct lx_file *f;
	int in_proc = lx_procfs_get(p, path, true, &f);
	if (in_proc < 0)
		return in_proc;
	if (in_proc > 0)
		f = lx_fs_lookup(path);
	else if (lx_procfs_is(f))
		return proc_open(p, f, flags);
	if (f && (flags & O_CREAT) && (flags & O_EXCL))
		return -LX_EEXIST;
	if (!f && (flags & O_CREAT)) {
		err = lx_fs_create(path, S_IFREG | ((uint32_t)mode & 07777 & ~umask_bits), &f);
		if (err)
			return err;
	}
	if (!f)
		return -LX_ENOENT;
	bool dir = (f->mode & S_IFMT) == S_IFDIR;
	uint8_t kind = dir ? LX_FD_DIR : LX_FD_FILE;
	if ((f->mode & S_IFMT) == S_IFCHR)
		kind = dev_kind(f);
	if ((flags & O_DIRECTORY) && !dir)
		return -LX_ENOTDIR;
	if ((flags & O_ACCMODE) != 0 && dir)
		return -LX_EISDIR;
	if ((flags & O_ACCMODE) != 0 && kind == LX_FD_FILE && (flags & O_TRUNC) &&
	    (err = lx_fs_truncate(f, 0)))
		return err;
	for (uint32_t fd = 0; fd < LX_MAX_FDS; fd++) {
		if (lx_grp(p)->fd[fd].o)
			continue;
		struct lx_ofd *o = kind == LX_FD_CONSOLE ? lx_tty_open(p, f->path)
		                                         : lx_ofd_new(kind, (uint32_t)flags);
		if (kind == LX_FD_CONSOLE) {
			lx_fd_install(p, fd, o, (flags & O_CLOEXEC) != 0);
			return fd;
		}
		if (!o)
			return -23; /* ENFILE */
		o->file = f;
		lx_fs_hold(f);
		lx_grp(p)->fd[fd] = (struct lx_fd){o, (flags & O_CLOEXEC) != 0};
		return fd;
	}
	return -LX_EMFILE;
}

/* struct stat of x86-64 Linux: 144 bytes; f NULL: the console; pipe: a pipe's end. */
static int put_stat(struct lx_proc *p, uint64_t ubuf, const struct lx_file *f,
                    const struct lx_pipe *pipe)
{
	uint64_t st[18] = {0};

	if (pipe) {
		st[0] = 12, st[1] = ((uintptr_t)pipe >> 12) & 0xffff;
		st[2] = 1, st[3] = 0010600, st[7] = 4096;
		return lx_copy_out(p, ubuf, st, sizeof(st));
	}

	st[0] = 1;                            /* st_dev */
	st[1] = f ? f->ino : 1;               /* st_ino */
	st[2] = 1;                            /* st_nlink */
	st[3] = f ? f->mode : S_IFCHR | 0620; /* st_mode; st_uid = 0 */
	st[5] = f ? 0 : (5u << 8 | 1);        /* st_rdev: the console is 5:1 */
	st[6] = f ? f->size : 0;              /* st_size */
	st[7] = 4096;                         /* st_blksize */
	st[8] = f ? (f->size + 511) / 512 : 0;
	if (f && (f->mode & S_IFMT) == S_IFCHR)
		st[5] = dev_rdev(f);
	return lx_copy_out(p, ubuf, st, sizeof(st));
}

static int64_t do_fstatat(struct lx_proc *p, int64_t dirfd, uint64_t upath, uint64_t buf,
                          uint64_t flags)
{
	char path[512];
	char first;

	if (flags & AT_EMPTY_PATH && !lx_copy_in(p, &first, upath, 1) && !first) {
		struct lx_ofd *f = fd_get(p, (uint64_t)dirfd);
		if (!f)
			return -LX_EBADF;
		return f->kind == LX_FD_SOCKET
		           ? lx_sock_stat(p, buf, f)
		           : put_stat(p, buf, f->kind == LX_FD_CONSOLE ? NULL : f->file, f->pipe);
	}
	int err = get_path(p, dirfd, upath, path, sizeof(path));
	if (err)
		return err;
	const struct lx_file *f;
	err = lookup_any(p, path, flags & AT_SYMLINK_NOFOLLOW, &f);
	if (err)
		return err;
	err = put_stat(p, buf, f, NULL);
	lx_procfs_put(f);
	return err;
}

static int64_t do_lseek(struct lx_proc *p, uint64_t fd, int64_t off, uint64_t whence)
{
	struct lx_ofd *f = fd_get(p, fd);

	if (!f)
		return -LX_EBADF;
	if (f->kind == LX_FD_CONSOLE || f->pipe || f->kind == LX_FD_EPOLL)
		return -LX_ESPIPE;
	int64_t base = whence == 0   ? 0
	               : whence == 1 ? (int64_t)f->pos
	               : whence == 2 ? (int64_t)f->file->size
	                             : -1;
	if (base < 0 || whence > 2)
		return -LX_EINVAL;
	if ((off < 0 && -off > base) || (f->kind == LX_FD_DIR && base + off != 0))
		return -LX_EINVAL;
	f->pos = (uint64_t)(base + off);
	return (int64_t)f->pos;
}

/* getdents64: "." and ".." first, then the directory's entries; pos counts entries. */
static int64_t do_getdents(struct lx_proc *p, uint64_t fd, uint64_t buf, uint64_t len)
{
	struct lx_ofd *f = fd_get(p, fd);
	uint64_t used = 0;
	uint8_t rec[280];

	if (!f)
		return -LX_EBADF;
	if (f->kind != LX_FD_DIR && f->kind != LX_FD_PROCDIR)
		return -LX_ENOTDIR;
	for (;;) {
		const char *name = f->pos == 0 ? "." : "..";
		const struct lx_file *c =
		    f->pos < 2 ? f->file
		    : f->kind == LX_FD_PROCDIR
		        ? lx_procfs_child(f->file, (uint32_t)f->pos - 2, &name)
		        : lx_fs_child(f->file, (uint32_t)f->pos - 2, &name);
		if (!c)
			break;
		size_t nl = strlen(name), reclen = (19 + nl + 1 + 7) & ~(size_t)7;
		if (used + reclen > len) {
			if (!used)
				return -LX_EINVAL; /* the buffer cannot hold one entry */
			break;
		}
		memset(rec, 0, reclen);
		uint64_t ino = c->ino, off = f->pos + 1;
		memcpy(rec, &ino, 8);
		memcpy(rec + 8, &off, 8);
		rec[16] = (uint8_t)reclen, rec[17] = (uint8_t)(reclen >> 8);
		rec[18] = (uint8_t)(((c->mode & S_IFMT) >> 12)); /* DT_* is S_IFMT >> 12 */
		memcpy(rec + 19, name, nl);
		if (lx_copy_out(p, buf + used, rec, reclen))
			return -LX_EFAULT;
		used += reclen;
		f->pos++;
	}
	return (int64_t)used;
}

/*
 * dup, dup2, dup3, F_DUPFD: a copy of descriptor fd at exactly `to`
 * (closing what was there) or at the lowest free one >= to; both share
 * the open file description (its offset and flags).
 */
static int64_t dup_to(struct lx_proc *p, uint64_t fd, uint64_t to, bool exact, uint32_t flags)
{
	struct lx_ofd *f = fd_get(p, fd);

	if (!f)
		return -LX_EBADF;
	if (to >= LX_MAX_FDS)
		return exact ? -LX_EBADF : -LX_EINVAL;
	uint64_t n = to;
	while (!exact && n < LX_MAX_FDS && lx_grp(p)->fd[n].o)
		n++;
	if (n == LX_MAX_FDS)
		return -LX_EMFILE;
	lx_fd_install(p, (uint32_t)n, f, (flags & O_CLOEXEC) != 0);
	return (int64_t)n;
}

static int64_t do_fcntl(struct lx_proc *p, uint64_t fd, uint64_t cmd, uint64_t arg)
{
	struct lx_ofd *f = fd_get(p, fd);

	if (!f)
		return -LX_EBADF;
	switch (cmd) {
	case 0:    /* F_DUPFD */
	case 1030: /* F_DUPFD_CLOEXEC */
		return dup_to(p, fd, arg, false, cmd == 1030 ? O_CLOEXEC : 0);
	case 1: /* F_GETFD */
		return lx_grp(p)->fd[fd].cloexec;
	case 2: /* F_SETFD */
		lx_grp(p)->fd[fd].cloexec = arg & 1;
		return 0;
	case 3: /* F_GETFL */
		return f->flags;
	case 4: /* F_SETFL: only O_APPEND and O_NONBLOCK may change */
		f->flags = (f->flags & ~(02000u | 04000u)) | (uint32_t)(arg & (02000u | 04000u));
		return 0;
	default:
		return -LX_EINVAL;
	}
}

/* sendfile from a file to the console (what busybox cat tries first). */
static int64_t do_sendfile(struct lx_proc *p, const uint64_t a[6])
{
	struct lx_ofd *out = fd_get(p, a[0]), *in = fd_get(p, a[1]);
	uint64_t pos, len = a[3];

	if (!out || !in || (out->flags & O_ACCMODE) == 0)
		return -LX_EBADF;
	if (in->kind != LX_FD_FILE || out->kind != LX_FD_CONSOLE)
		return -LX_EINVAL;
	if (a[2] && lx_copy_in(p, &pos, a[2], 8))
		return -LX_EFAULT;
	pos = a[2] ? pos : in->pos;
	uint64_t n = pos < in->file->size ? in->file->size - pos : 0;
	n = n < len ? n : len;
	if (n)
		lx_tty_write(out, (const char *)in->file->data + pos, n);
	pos += n;
	if (a[2] ? lx_copy_out(p, a[2], &pos, 8) != 0 : (in->pos = pos, false))
		return -LX_EFAULT;
	return (int64_t)n;
}

/* readlink: the target of a symbolic link, cut to size bytes (no NUL). */
static int64_t do_readlink(struct lx_proc *p, int64_t dirfd, uint64_t upath, uint64_t ubuf,
                           int64_t size)
{
	char path[512];
	int err = get_path(p, dirfd, upath, path, sizeof(path));

	if (err)
		return err;
	if (size <= 0)
		return -LX_EINVAL;
	const struct lx_file *f;
	if ((err = lookup_any(p, path, true, &f)))
		return err;
	uint64_t n = f->size < (uint64_t)size ? f->size : (uint64_t)size;
	int64_t r = (f->mode & S_IFMT) != S_IFLNK      ? -LX_EINVAL
	            : lx_copy_out(p, ubuf, f->data, n) ? -LX_EFAULT
	                                               : (int64_t)n;
	lx_procfs_put(f);
	return r;
}

/* prlimit64 on the process itself: every limit starts unlimited but the stack's and files'. */
static int64_t do_prlimit(struct lx_proc *p, const uint64_t a[6])
{
	uint64_t lim[2];

	if (a[0] && a[0] != p->pid)
		return -3; /* ESRCH: one process only */
	if (a[1] >= 16)
		return -LX_EINVAL;
	if (!p->rlim[3][0]) { /* first use: RLIMIT_STACK and RLIMIT_NOFILE, the rest infinite */
		for (int i = 0; i < 16; i++)
			p->rlim[i][0] = p->rlim[i][1] = ~0ull;
		p->rlim[3][0] = LX_STACK_SIZE;
		p->rlim[7][0] = p->rlim[7][1] = LX_MAX_FDS;
	}
	if (a[2] && lx_copy_in(p, lim, a[2], sizeof(lim)))
		return -LX_EFAULT;
	if (a[2] && lim[0] > lim[1])
		return -LX_EINVAL;
	if (a[2] && lim[1] > p->rlim[a[1]][1])
		return -LX_EPERM; /* raising a hard limit */
	if (a[3] && lx_copy_out(p, a[3], p->rlim[a[1]], sizeof(lim)))
		return -LX_EFAULT;
	if (a[2])
		memcpy(p->rlim[a[1]], lim, sizeof(lim));
	return 0;
}

/* ---- memory ---- */

static int64_t do_brk(struct lx_proc *p, uint64_t want)
{
	p = lx_grp(p); /* a thread: its process's heap */
	uint64_t old = page_up(p->brk), new = page_up(want);

	if (want < p->brk_start || want > p->brk_start + (1ull << 32))
		return (int64_t)p->brk;
	if (new > old && lx_map(p, old, new, LX_PROT_READ | LX_PROT_WRITE, NULL, 0))
		return (int64_t)p->brk;
	if (new < old && lx_unmap(p, new, old))
		return (int64_t)p->brk;
	p->brk = want;
	return (int64_t)want;
}

static int64_t do_mmap(struct lx_proc *p, const uint64_t a[6])
{
	uint64_t addr = a[0], len = page_up(a[1]), prot = a[2], flags = a[3], off = a[5];
	const uint8_t *data = NULL;
	uint64_t dlen = 0;

	struct lx_ofd *f = flags & MAP_ANONYMOUS ? NULL : fd_get(p, a[4]);

	if (!(flags & MAP_ANONYMOUS) && !f)
		return -LX_EBADF; /* Linux looks the descriptor up first */
	if (!a[1] || len < a[1] || (addr & (LX_PAGE - 1) && flags & MAP_FIXED) ||
	    (off & (LX_PAGE - 1)) || prot > 7 || !(flags & (MAP_SHARED | MAP_PRIVATE)))
		return -LX_EINVAL;
	if (f) {
		if (f->kind != LX_FD_FILE || f->file->own)
			return -19; /* ENODEV; a written file's bytes may move: not mapped yet */
		if ((flags & MAP_SHARED) && (prot & LX_PROT_WRITE))
			return -LX_EACCES; /* opened read-only */
		data = off < f->file->size ? f->file->data + off : NULL;
		dlen = off < f->file->size ? f->file->size - off : 0;
	}
	if (!(flags & MAP_FIXED)) {
		bool hint_ok = addr && !(addr & (LX_PAGE - 1)) && addr < LX_MMAP_TOP &&
		               len <= LX_MMAP_TOP - addr;
		const struct lx_proc *m = lx_grp(p);
		for (uint32_t i = 0; hint_ok && i < m->nreg; i++) /* by region: len may be huge */
			hint_ok = m->reg[i].end <= addr || m->reg[i].start >= addr + len;
		addr = hint_ok ? addr : lx_find_gap(p, len);
		if (!addr)
			return -LX_ENOMEM;
	}
	if (addr >= LX_TOP || len > LX_TOP - addr)
		return -LX_ENOMEM;
	int err = lx_map(p, addr, addr + len, (uint32_t)prot, data, dlen);
	if (!err && !f && (flags & MAP_SHARED))
		lx_region_at(p, addr)->shared = 1; /* the region lx_map just made */
	return err ? err : (int64_t)addr;
}

static int64_t do_munmap_protect(struct lx_proc *p, uint64_t addr, uint64_t len, int64_t prot)
{
	uint64_t n = page_up(len);

	if ((addr & (LX_PAGE - 1)) || (prot < 0 && !len) || n < len || addr >= LX_TOP ||
	    n > LX_TOP - addr)
		return prot < 0 || addr & (LX_PAGE - 1) ? -LX_EINVAL : -LX_ENOMEM;
	if (prot > 7)
		return -LX_EINVAL;
	if (!n)
		return 0;
	return prot < 0 ? lx_unmap(p, addr, addr + n)
	                : lx_protect(p, addr, addr + n, (uint32_t)prot);
}

/* ---- process and identity ---- */

static int64_t do_uname(struct lx_proc *p, uint64_t buf)
{
	static const char *const field[6] = {"Linux",         "hallows",
	                                     "6.1.0-hallows", "#1 Hallows Linux personality",
	                                     "x86_64",        "(none)"};
	char u[6 * 65];

	memset(u, 0, sizeof(u));
	for (int i = 0; i < 6; i++)
		strlcpy(u + i * 65, field[i], 65);
	return lx_copy_out(p, buf, u, sizeof(u));
}

static int64_t do_clock(struct lx_proc *p, uint64_t clk, uint64_t buf)
{
	/* No wall clock yet: CLOCK_REALTIME counts from 2026-01-01 00:00:00 UTC at boot. */
	uint64_t ns = lx_plat_nanotime(), ts[2];

	if (clk > 11 || clk == 10)
		return -LX_EINVAL;
	if (clk == 0 || clk == 8 /* REALTIME_ALARM */ || clk == 11 /* TAI */)
		ns += 1767225600ull * 1000000000ull;
	if (clk == 2 || clk == 3) /* PROCESS_CPUTIME_ID, THREAD_CPUTIME_ID (cputime.c) */
		ns = clk == 2 ? lx_cpu_process_ns(p) + lx_cpu_process_sys_ns(p)
		              : lx_plat_cpu_ns(p) + lx_cpu_thread_sys_ns(p);
	ts[0] = ns / 1000000000ull, ts[1] = ns % 1000000000ull;
	return lx_copy_out(p, buf, ts, sizeof(ts));
}

static int64_t do_sigaction(struct lx_proc *p, const uint64_t a[6])
{
	uint64_t sig = a[0], act[4];

	if (a[3] != 8 || sig < 1 || sig > 64 || ((sig == 9 || sig == 19) && a[1]))
		return -LX_EINVAL;
	if (a[1] && lx_copy_in(p, act, a[1], sizeof(act)))
		return -LX_EFAULT;
	if (a[2] && lx_copy_out(p, a[2], lx_grp(p)->sigactions[sig], sizeof(act)))
		return -LX_EFAULT;
	if (a[1])
		memcpy(lx_grp(p)->sigactions[sig], act, sizeof(act));
	return 0;
}

static int64_t do_sigprocmask(struct lx_proc *p, const uint64_t a[6])
{
	uint64_t set = 0, old = p->sigmask;

	if (a[3] != 8 || (a[1] && a[0] > 2))
		return -LX_EINVAL;
	if (a[1] && lx_copy_in(p, &set, a[1], 8))
		return -LX_EFAULT;
	if (a[2] && lx_copy_out(p, a[2], &old, 8))
		return -LX_EFAULT;
	set &= ~((1ull << 8) | (1ull << 18)); /* SIGKILL and SIGSTOP cannot be blocked */
	if (a[1])
		p->sigmask = a[0] == 0 ? old | set : a[0] == 1 ? old & ~set : set;
	return 0;
}

static int64_t do_arch_prctl(struct lx_proc *p, uint64_t code, uint64_t addr)
{
	uint64_t fs = lx_plat_get_fs();

	if (code == 0x1002) /* ARCH_SET_FS */
		return addr >= LX_TOP ? -LX_EPERM : lx_plat_set_fs(addr);
	if (code == 0x1003) /* ARCH_GET_FS */
		return lx_copy_out(p, addr, &fs, 8);
	return -LX_EINVAL;
}

static int64_t do_ioctl(struct lx_proc *p, uint64_t fd, uint64_t cmd, uint64_t arg)
{
	struct lx_ofd *f = fd_get(p, fd);

	if (!f)
		return -LX_EBADF;
	/* The console is a terminal during an interactive session (tty.c); nothing else is. */
	if (f->kind == LX_FD_SOCKET)
		return lx_sock_ioctl(p, f, cmd & 0xffffffffu, arg);
	return f->kind == LX_FD_CONSOLE ? lx_tty_ioctl(p, f, cmd & 0xffffffffu, arg) : -LX_ENOTTY;
}

/* What poll sees on one descriptor: POLLIN 1, POLLOUT 4, POLLERR 8, POLLHUP 16, POLLNVAL 32. */
static uint16_t poll_one(struct lx_proc *p, int32_t fd, uint16_t events)
{
	struct lx_ofd *f = fd < 0 ? NULL : fd_get(p, (uint64_t)fd);

	if (fd < 0)
		return 0;
	if (!f)
		return 32;
	return lx_ofd_ready(f) & (events | 8 | 16);
}

uint16_t lx_ofd_ready(const struct lx_ofd *f)
{
	if (f->kind == LX_FD_CONSOLE)
		return lx_tty_poll(f);
	if (f->kind == LX_FD_PIPE_R)
		return (f->pipe->len ? 1 : 0) | (f->pipe->writers ? 0 : 16);
	if (f->kind == LX_FD_PIPE_W)
		return f->pipe->readers ? (f->pipe->len < LX_PIPE_SIZE ? 4 : 0) : 8;
	if (f->kind == LX_FD_EPOLL)
		return lx_epoll_ready(f) ? 1 : 0;
	if (f->kind == LX_FD_SOCKET)
		return lx_sock_ready(f);
	return 1 | 4; /* files, devices: always ready */
}

/*
 * poll and ppoll: a wait blocks until a pipe changes, or its timeout
 * (timer.c) runs out.
 */
static int64_t do_poll(struct lx_proc *p, uint64_t ufds, uint64_t n, int64_t timeout_ms)
{
	int64_t ready = 0;

	if (n > LX_MAX_FDS * 4)
		return -LX_EINVAL;
	if (lx_check(p, ufds, n * 8, LX_PROT_READ | LX_PROT_WRITE))
		return -LX_EFAULT;
	for (uint64_t i = 0; i < n; i++) {
		int32_t pfd[2]; /* fd; events | revents << 16 */
		lx_copy_in(p, pfd, ufds + i * 8, 8);
		uint16_t rev = poll_one(p, pfd[0], (uint16_t)pfd[1]);
		pfd[1] = (int32_t)((uint32_t)(uint16_t)pfd[1] | (uint32_t)rev << 16);
		lx_copy_out(p, ufds + i * 8, pfd, 8);
		ready += rev != 0;
	}
	return ready ? (p->wake_at = 0, ready) : lx_timer_wait(p, lx_poll_chan(), timeout_ms);
}

/* truncate, mkdir[at], rmdir, unlink[at]: one path, relative to a directory for the *at. */
static int64_t do_path_op(struct lx_proc *p, uint64_t nr, const uint64_t a[6])
{
	char path[512];
	bool at = nr == 258 || nr == 263;
	int err = get_path(p, at ? (int32_t)a[0] : AT_FDCWD, at ? a[1] : a[0], path, sizeof(path));
	const struct lx_file *f;

	if (err)
		return err;
	switch (nr) {
	case 76:
		if ((int64_t)a[1] < 0)
			return -LX_EINVAL;
		f = lx_fs_lookup(path);
		if (!f)
			return -LX_ENOENT;
		return (f->mode & S_IFMT) == S_IFDIR ? -LX_EISDIR : lx_fs_truncate(f, a[1]);
	case 83:
	case 258:
		return lx_fs_create(
		    path, S_IFDIR | ((uint32_t)(at ? a[2] : a[1]) & 07777 & ~umask_bits), &f);
	case 84:
		return lx_fs_unlink(path, true);
	case 87:
		return lx_fs_unlink(path, false);
	default: /* unlinkat */
		if (a[2] & ~0x200ull)
			return -LX_EINVAL;
		return lx_fs_unlink(path, a[2] & 0x200); /* AT_REMOVEDIR */
	}
}

static int64_t do_rename(struct lx_proc *p, uint64_t nr, const uint64_t a[6])
{
	char from[512], to[512];
	bool at = nr != 82;
	int err = get_path(p, at ? (int32_t)a[0] : AT_FDCWD, at ? a[1] : a[0], from, sizeof(from));

	if (!err)
		err = get_path(p, at ? (int32_t)a[2] : AT_FDCWD, at ? a[3] : a[1], to, sizeof(to));
	if (err)
		return err;
	if (nr == 316 && a[4])
		return -LX_EINVAL; /* RENAME_NOREPLACE, _EXCHANGE: not yet */
	return lx_fs_rename(from, to);
}

int64_t lx_syscall(struct lx_proc *p, uint64_t nr, const uint64_t a[6])
{
	if (nr == NR_getpid) /* the hottest call (libc caches nothing): before the dispatchers */
		return p->tgid;
	bool handled;
	int64_t r = lx_proc_syscall(p, nr, a, &handled);

	if (handled)
		return r;
	r = lx_signal_syscall(p, nr, a, &handled);
	if (handled)
		return r;
	switch (nr) {
	case NR_read:
		return do_read(p, a[0], a[1], a[2], -1);
	case NR_pread64:
		return (int64_t)a[3] < 0 ? -LX_EINVAL : do_read(p, a[0], a[1], a[2], (int64_t)a[3]);
	case NR_write:
		return do_write(p, a[0], a[1], a[2]);
	case NR_readv:
	case NR_writev:
		return do_iov(p, a[0], a[1], a[2], nr == NR_writev, -1, 0);
	case 295: /* preadv */
	case 296: /* pwritev */
		return (int64_t)a[3] < 0 ? -LX_EINVAL
		                         : do_iov(p, a[0], a[1], a[2], nr == 296, (int64_t)a[3], 0);
	case 327: /* preadv2: offset -1 is the file's position */
	case 328: /* pwritev2 */
		return (int64_t)a[3] < -1
		           ? -LX_EINVAL
		           : do_iov(p, a[0], a[1], a[2], nr == 328, (int64_t)a[3], a[5]);
	case NR_open:
		return do_openat(p, AT_FDCWD, a[0], a[1], a[2]);
	case NR_openat:
		return do_openat(p, (int64_t)(int32_t)a[0], a[1], a[2], a[3]);
	case 85: /* creat */
		return do_openat(p, AT_FDCWD, a[0], O_CREAT | O_TRUNC | 1, a[1]);
	case NR_close:
		if (!fd_get(p, a[0]))
			return -LX_EBADF;
		if (fd_get(p, a[0])->kind == LX_FD_SOCKET &&
		    lx_sock_linger(p, fd_get(p, a[0])) == LX_RET_BLOCK)
			return LX_RET_BLOCK; /* SO_LINGER: the data goes first */
		lx_ofd_put(lx_grp(p)->fd[a[0]].o);
		lx_grp(p)->fd[a[0]].o = NULL;
		return 0;
	case NR_stat:
	case NR_lstat:
		return do_fstatat(p, AT_FDCWD, a[0], a[1],
		                  nr == NR_lstat ? AT_SYMLINK_NOFOLLOW : 0);
	case NR_fstat: {
		struct lx_ofd *f = fd_get(p, a[0]);
		if (f && f->kind == LX_FD_SOCKET)
			return lx_sock_stat(p, a[1], f);
		return !f ? -LX_EBADF
		          : put_stat(p, a[1], f->kind == LX_FD_CONSOLE ? NULL : f->file, f->pipe);
	}
	case NR_newfstatat:
		return do_fstatat(p, (int64_t)(int32_t)a[0], a[1], a[2], a[3]);
	case NR_access:
	case NR_faccessat:
	case 439: { /* faccessat2: AT_SYMLINK_NOFOLLOW, AT_EACCESS (root), AT_EMPTY_PATH */
		char path[512];
		uint64_t mode = nr == NR_access ? a[1] : a[2], fl = nr == 439 ? a[3] : 0;
		if (fl & ~(uint64_t)(AT_SYMLINK_NOFOLLOW | 0x200u | AT_EMPTY_PATH))
			return -LX_EINVAL;
		char first = 1;
		if ((fl & AT_EMPTY_PATH) && !lx_copy_in(p, &first, a[1], 1) && !first)
			return mode > 7 ? -LX_EINVAL : fd_get(p, a[0]) ? 0 : -LX_EBADF;
		int err = nr == NR_access
		              ? get_path(p, AT_FDCWD, a[0], path, sizeof(path))
		              : get_path(p, (int64_t)(int32_t)a[0], a[1], path, sizeof(path));
		if (err)
			return err;
		if (mode > 7)
			return -LX_EINVAL;
		const struct lx_file *f;
		if ((err = lookup_any(p, path, fl & AT_SYMLINK_NOFOLLOW, &f)))
			return err;
		lx_procfs_put(f);
		return 0; /* root may do anything */
	}
	case 90:   /* chmod */
	case 268:  /* fchmodat */
	case 91: { /* fchmod */
		char path[512];
		const struct lx_file *f = NULL;
		int err = 0;
		if (nr == 91) {
			struct lx_ofd *o = fd_get(p, a[0]);
			if (!o)
				return -LX_EBADF;
			if (o->kind != LX_FD_FILE && o->kind != LX_FD_DIR)
				return 0; /* a pipe's or socket's inode: its mode is not seen */
			f = o->file;
		} else {
			err = nr == 90
			          ? get_path(p, AT_FDCWD, a[0], path, sizeof(path))
			          : get_path(p, (int64_t)(int32_t)a[0], a[1], path, sizeof(path));
			if (!err)
				err = lookup_any(p, path, false, &f);
		}
		if (err)
			return err;
		if (lx_procfs_is(f)) {
			lx_procfs_put(f);
			return -LX_EPERM; /* /proc's files keep their modes */
		}
		return lx_fs_chmod(f, (uint32_t)(nr == 268 ? a[2] : a[1]));
	}
	case NR_lseek:
		return do_lseek(p, a[0], (int64_t)a[1], a[2]);
	case NR_getdents64:
		return do_getdents(p, a[0], a[1], a[2]);
	case NR_ioctl:
		return do_ioctl(p, a[0], a[1], a[2]);
	case NR_fcntl:
		return do_fcntl(p, a[0], a[1], a[2]);
	case NR_sendfile:
		return do_sendfile(p, a);
	case NR_readlink:
		return do_readlink(p, AT_FDCWD, a[0], a[1], (int64_t)a[2]);
	case NR_readlinkat:
		return do_readlink(p, (int64_t)(int32_t)a[0], a[1], a[2], (int64_t)a[3]);
	case NR_set_robust_list:
		if (a[1] != 24)
			return -LX_EINVAL;
		p->robust_list = a[0];
		return 0;
	case NR_prlimit64:
		return do_prlimit(p, a);
	case NR_dup:
		return dup_to(p, a[0], 0, false, 0);
	case NR_dup2:
		return a[0] == a[1] ? (fd_get(p, a[0]) ? (int64_t)a[0] : -LX_EBADF)
		                    : dup_to(p, a[0], a[1], true, 0);
	case NR_dup3:
		if (a[0] == a[1] || (a[2] & ~O_CLOEXEC))
			return -LX_EINVAL;
		return dup_to(p, a[0], a[1], true, (uint32_t)a[2]);
	case NR_brk:
		return do_brk(p, a[0]);
	case NR_mmap:
		return do_mmap(p, a);
	case NR_munmap:
		return do_munmap_protect(p, a[0], a[1], -1);
	case NR_mprotect:
		return do_munmap_protect(p, a[0], a[1], (int64_t)a[2]);
	case 25: /* mremap (mm.c) */
		return lx_remap(p, a);
	case NR_madvise:
		return 0; /* advice only */
	case NR_rt_sigaction:
		return do_sigaction(p, a);
	case NR_rt_sigprocmask:
		return do_sigprocmask(p, a);
	case NR_arch_prctl:
		return do_arch_prctl(p, a[0], a[1]);
	case NR_set_tid_address:
		p->tid_address = a[0];
		return p->pid;
	case NR_gettid:
		return p->pid;
	case NR_getuid:
	case NR_getgid:
	case NR_geteuid:
	case NR_getegid:
		return 0;
	case NR_uname:
		return do_uname(p, a[0]);
	case NR_clock_gettime:
		return do_clock(p, a[0], a[1]);
	case NR_gettimeofday: {
		uint64_t tv[2];
		if (!a[0])
			return 0;
		int err = do_clock(p, 0, a[0]);
		if (err || lx_copy_in(p, tv, a[0], 16))
			return err ? err : -LX_EFAULT;
		tv[1] /= 1000;
		return lx_copy_out(p, a[0], tv, 16);
	}
	case NR_time: {
		uint64_t t = lx_plat_nanotime() / 1000000000ull + 1767225600ull;
		return a[0] && lx_copy_out(p, a[0], &t, 8) ? -LX_EFAULT : (int64_t)t;
	}
	case NR_sched_yield:
		return 0;
	case 18: { /* pwrite64 */
		struct lx_ofd *f = fd_get(p, a[0]);
		if (!f || (f->flags & O_ACCMODE) == 0)
			return -LX_EBADF;
		if (!positional(f))
			return -LX_ESPIPE;
		return (int64_t)a[3] < 0 ? -LX_EINVAL
		                         : write_at(p, f, a[1], a[2], (int64_t)a[3], 0);
	}
	case 74: /* fsync */
	case 75: /* fdatasync: memory is where the data stays */
		return fd_get(p, a[0]) ? 0 : -LX_EBADF;
	case 77: { /* ftruncate */
		struct lx_ofd *f = fd_get(p, a[0]);
		if (!f)
			return -LX_EBADF;
		if (f->kind != LX_FD_FILE || (f->flags & O_ACCMODE) == 0)
			return -LX_EINVAL;
		return (int64_t)a[1] < 0 ? -LX_EINVAL : lx_fs_truncate(f->file, a[1]);
	}
	case 76:  /* truncate */
	case 83:  /* mkdir */
	case 84:  /* rmdir */
	case 87:  /* unlink */
	case 258: /* mkdirat */
	case 263: /* unlinkat */
		return do_path_op(p, nr, a);
	case 82:  /* rename */
	case 264: /* renameat */
	case 316: /* renameat2 */
		return do_rename(p, nr, a);
	case 95: { /* umask */
		uint32_t old = umask_bits;
		umask_bits = (uint32_t)a[0] & 0777;
		return old;
	}
	case 280: { /* utimensat: the file system keeps no times; the file must exist */
		char path[512];
		if (!a[1])
			return fd_get(p, a[0]) ? 0 : -LX_EBADF;
		int err = get_path(p, (int32_t)a[0], a[1], path, sizeof(path));
		return err ? err : lx_fs_lookup(path) ? 0 : -LX_ENOENT;
	}
	case 7: /* poll */
		return do_poll(p, a[0], a[1], (int32_t)a[2]);
	case 271: { /* ppoll, with its signal mask (select.c) */
		int64_t ts[2];
		if (a[2] && lx_copy_in(p, ts, a[2], 16))
			return -LX_EFAULT;
		if (a[2] && (ts[0] < 0 || ts[1] < 0 || ts[1] >= 1000000000))
			return -LX_EINVAL;
		int err = lx_sigmask_enter(p, a[3], a[4]);
		return err ? err
		           : lx_sigmask_leave(p,
		                              do_poll(p, a[0], a[1],
		                                      a[2] ? ts[0] * 1000 + ts[1] / 1000000 : -1));
	}
	case 157: /* prctl: PR_SET_NAME and PR_GET_NAME (kept, 16 bytes) */
		if (a[0] == 15)
			return lx_copy_str(p, p->comm, a[1], sizeof(p->comm)) < 0 &&
			               lx_copy_in(p, p->comm, a[1], sizeof(p->comm) - 1)
			           ? -LX_EFAULT
			           : 0;
		if (a[0] == 16)
			return lx_copy_out(p, a[1], p->comm, sizeof(p->comm)) ? -LX_EFAULT : 0;
		return -LX_EINVAL;
	case NR_getrandom: {
		uint8_t buf[256];
		uint64_t n = a[1] < sizeof(buf) ? a[1] : sizeof(buf);
		lx_plat_random(buf, n);
		return lx_copy_out(p, a[0], buf, n) ? -LX_EFAULT : (int64_t)n;
	}
	default:
		r = lx_thread_syscall(p, nr, a, &handled);
		if (!handled)
			r = lx_cpu_syscall(p, nr, a, &handled);
		if (!handled)
			r = lx_timer_syscall(p, nr, a, &handled);
		if (!handled)
			r = lx_dir_syscall(p, nr, a, &handled);
		if (!handled)
			r = lx_procfs_syscall(p, nr, a, &handled);
		if (!handled)
			r = lx_epoll_syscall(p, nr, a, &handled);
		if (!handled)
			r = lx_select_syscall(p, nr, a, &handled);
		if (!handled)
			r = lx_sock_syscall(p, nr, a, &handled);
		if (handled)
			return r;
		unknown[nr < MAX_NR ? nr : MAX_NR]++;
		return -LX_ENOSYS;
	}
}
