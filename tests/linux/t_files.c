/* The read-only file system: open/read/lseek/fstat/getdents64/close and their errors. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "show.h"

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
	char buf[256];
	struct stat st;
	int fd = open("/etc/hello.txt", O_RDONLY);

	printf("open: %d\n", fd >= 0);
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	printf("read %zd: %s", n, buf);
	printf("read at end: %zd\n", read(fd, buf, 10));
	printf("lseek 6: %ld\n", (long)lseek(fd, 6, SEEK_SET));
	n = read(fd, buf, 5);
	printf("read after seek: %.*s\n", (int)n, buf);
	printf("lseek end: %ld\n", (long)lseek(fd, 0, SEEK_END));
	SHOW("lseek negative", (long)lseek(fd, -100, SEEK_SET));
	int r = fstat(fd, &st);
	printf("fstat: %d size %ld regular %d\n", r, (long)st.st_size, S_ISREG(st.st_mode));
	printf("pread 4 at 0: %zd\n", pread(fd, buf, 4, 0));
	printf("close: %d\n", close(fd));
	SHOW("close again", close(fd));
	SHOW("open missing", open("/etc/missing", O_RDONLY));
	SHOW("open dir as file with O_DIRECTORY on file",
	     open("/etc/hello.txt", O_RDONLY | O_DIRECTORY));
	r = stat("/etc", &st);
	printf("stat /etc: %d dir %d\n", r, S_ISDIR(st.st_mode));
	SHOW("stat missing", stat("/nope/x", &st));
	SHOW("readlink of a regular file", readlink("/etc/hello.txt", buf, sizeof(buf)));
	SHOW("readlink of a missing file", readlink("/etc/none", buf, sizeof(buf)));
	int d = open("/etc", O_RDONLY | O_DIRECTORY);
	SHOW("read a directory", read(d, buf, 10));
	char *names[64] = {0};
	int nn = 0;
	char dbuf[2048];
	long got;
	while ((got = syscall(SYS_getdents64, d, dbuf, sizeof(dbuf))) > 0)
		for (long off = 0; off < got;) {
			struct dirent64 *e = (struct dirent64 *)(dbuf + off);
			if (nn < 64)
				names[nn++] = strdup(e->d_name);
			off += e->d_reclen;
		}
	qsort(names, (size_t)nn, sizeof(names[0]), cmp);
	printf("/etc has:");
	for (int i = 0; i < nn; i++)
		printf(" %s", names[i]);
	printf("\n");
	close(d);
	FILE *f = fopen("/etc/words", "r");
	int lines = 0;
	while (f && fgets(buf, sizeof(buf), f))
		lines++;
	printf("stdio lines in /etc/words: %d\n", lines);
	return 0;
}
