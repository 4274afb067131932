/*
 * preadv, pwritev, preadv2 and pwritev2: positions, the file's offset left alone (or used,
 * offset -1), RWF_APPEND / RWF_NOAPPEND / RWF_NOWAIT, O_APPEND's pwrite, and Linux's errors
 * (EBADF, EFAULT, EINVAL, ESPIPE, EOPNOTSUPP, EAGAIN).
 */
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "show.h"

#define NOWAIT   0x08
#define APPEND   0x10
#define NOAPPEND 0x20

static long rv(int nr, int fd, const struct iovec *v, int n, long off, int flags)
{
	return syscall(nr, fd, v, n, off, 0, flags);
}

static void show_file(const char *path)
{
	char buf[128];
	int fd = open(path, O_RDONLY);
	long n = read(fd, buf, sizeof(buf));
	close(fd);
	for (long i = 0; i < n; i++)
		buf[i] = buf[i] ? buf[i] : '.';
	printf("  file: %ld [%.*s]\n", n, n > 0 ? (int)n : 0, buf);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	const char *path = "/tmp/t_preadv.txt";
	unlink(path);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	struct iovec w[3] = {{"0123456789", 10}, {"", 0}, {"abcdef", 6}};
	SHOW("pwritev at 4", rv(SYS_pwritev, fd, w, 3, 4, 0));
	SHOW("offset still", lseek(fd, 0, SEEK_CUR));
	show_file(path);
	char a[5], b[3], c[20];
	struct iovec r[3] = {{a, 5}, {b, 3}, {c, 20}};
	memset(c, 0, sizeof(c));
	SHOW("preadv at 6", rv(SYS_preadv, fd, r, 3, 6, 0));
	printf("  got [%.5s|%.3s|%s]\n", a, b, c);
	SHOW("preadv past the end", rv(SYS_preadv, fd, r, 3, 100, 0));
	SHOW("preadv negative", rv(SYS_preadv, fd, r, 3, -5, 0));
	SHOW("preadv2 at -1 (the offset)", rv(SYS_preadv2, fd, r, 1, -1, 0));
	SHOW("offset now", lseek(fd, 0, SEEK_CUR));
	SHOW("preadv2 at -2", rv(SYS_preadv2, fd, r, 1, -2, 0));
	SHOW("preadv2 hipri|sync", rv(SYS_preadv2, fd, r, 1, 0, 1 | 4));
	SHOW("preadv2 unknown flag", rv(SYS_preadv2, fd, r, 1, 0, 0x1000));
	struct iovec none = {a, 0};
	SHOW("preadv2 unknown flag, nothing to read", rv(SYS_preadv2, fd, &none, 1, 0, 0x1000));
	SHOW("pwritev2 append at 0", rv(SYS_pwritev2, fd, w, 1, 0, APPEND));
	SHOW("offset after append", lseek(fd, 0, SEEK_CUR));
	SHOW("pwritev2 at -1 (the offset)", rv(SYS_pwritev2, fd, w + 2, 1, -1, 0));
	SHOW("offset after", lseek(fd, 0, SEEK_CUR));
	show_file(path);
	SHOW("pwritev2 unknown flag", rv(SYS_pwritev2, fd, w, 1, 0, 0x4000));
	close(fd);

	/* O_APPEND: pwrite and pwritev append whatever the offset; RWF_NOAPPEND does not. */
	fd = open(path, O_WRONLY | O_APPEND);
	SHOW("pwrite on O_APPEND", pwrite(fd, "XY", 2, 0));
	SHOW("pwritev on O_APPEND", rv(SYS_pwritev, fd, w + 2, 1, 1, 0));
	SHOW("pwritev2 noappend", rv(SYS_pwritev2, fd, w + 2, 1, 1, NOAPPEND));
	show_file(path);
	SHOW("preadv write-only", rv(SYS_preadv, fd, r, 1, 0, 0));
	close(fd);
	fd = open(path, O_RDONLY);
	SHOW("pwritev read-only", rv(SYS_pwritev, fd, w, 1, 0, 0));
	SHOW("preadv bad iov", rv(SYS_preadv, fd, (struct iovec *)8, 1, 0, 0));
	struct iovec bad = {(void *)16, 4};
	SHOW("preadv bad buffer", rv(SYS_preadv, fd, &bad, 1, 0, 0));
	SHOW("preadv 1025 iovecs", rv(SYS_preadv, fd, r, 1025, 0, 0));
	struct iovec huge[2] = {{a, 1}, {b, (size_t)-1}};
	SHOW("preadv length above SSIZE_MAX", rv(SYS_preadv, fd, huge, 2, 0, 0));
	close(fd);
	SHOW("preadv closed fd", rv(SYS_preadv, fd, r, 1, 0, 0));
	SHOW("preadv fd 999", rv(SYS_preadv, 999, r, 1, 0, 0));

	/* Pipes have no position: ESPIPE; RWF_NOWAIT at -1 on an empty one: EAGAIN. */
	int p[2];
	pipe(p);
	SHOW("preadv pipe", rv(SYS_preadv, p[0], r, 1, 0, 0));
	SHOW("pwritev pipe", rv(SYS_pwritev, p[1], w, 1, 0, 0));
	SHOW("preadv2 pipe nowait", rv(SYS_preadv2, p[0], r, 1, -1, NOWAIT));
	SHOW("pwritev2 pipe at -1", rv(SYS_pwritev2, p[1], w, 1, -1, 0));
	SHOW("preadv2 pipe at -1", rv(SYS_preadv2, p[0], r, 1, -1, 0));
	printf("  got [%.5s]\n", a);
	SHOW("pipe still blocks", fcntl(p[0], F_GETFL) & O_NONBLOCK);
	int null = open("/dev/null", O_WRONLY);
	SHOW("pwritev /dev/null", rv(SYS_pwritev, null, w, 3, 1000, 0));
	unlink(path);
	return 0;
}
