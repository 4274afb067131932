/*
 * The writable file system: create, write, append, read back, lseek past
 * the end, truncate, pwrite, rename, unlink (also while open), mkdir,
 * rmdir, getdents of new entries, /dev/null and /dev/zero, and the errors.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "show.h"

static void show_file(const char *path)
{
	char buf[128];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	printf("%s (%zd bytes): %s\n", path, n, buf);
	close(fd);
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
	struct stat st;
	int fd = open("/tmp/a.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	printf("create: %d\n", fd >= 0);
	SHOW("write", write(fd, "hello ", 6));
	SHOW("write more", write(fd, "world\n", 6));
	SHOW("fstat size", (fstat(fd, &st), (long)st.st_size));
	printf("mode: %o\n", (unsigned)st.st_mode);
	SHOW("read a write-only fd", read(fd, &st, 1));
	close(fd);
	show_file("/tmp/a.txt");
	fd = open("/tmp/a.txt", O_WRONLY | O_APPEND);
	SHOW("append", write(fd, "again\n", 6));
	close(fd);
	show_file("/tmp/a.txt");
	fd = open("/tmp/a.txt", O_RDWR);
	SHOW("pwrite", pwrite(fd, "HELLO", 5, 0));
	SHOW("lseek past the end", lseek(fd, 20, SEEK_SET));
	SHOW("write after a hole", write(fd, "!", 1));
	SHOW("size with the hole", (fstat(fd, &st), (long)st.st_size));
	SHOW("ftruncate", ftruncate(fd, 11));
	close(fd);
	show_file("/tmp/a.txt");
	SHOW("truncate", truncate("/tmp/a.txt", 5));
	show_file("/tmp/a.txt");
	SHOW("O_EXCL on an existing file", open("/tmp/a.txt", O_WRONLY | O_CREAT | O_EXCL, 0600));
	SHOW("create in a missing directory", open("/tmp/no/x", O_WRONLY | O_CREAT, 0600));
	SHOW("create under a file", open("/tmp/a.txt/x", O_WRONLY | O_CREAT, 0600));

	SHOW("mkdir", mkdir("/tmp/d", 0755));
	SHOW("mkdir again", mkdir("/tmp/d", 0755));
	SHOW("rename into it", rename("/tmp/a.txt", "/tmp/d/b.txt"));
	show_file("/tmp/d/b.txt");
	SHOW("old name gone", open("/tmp/a.txt", O_RDONLY));
	fd = open("/tmp/d/c", O_WRONLY | O_CREAT, 0600);
	close(fd);
	SHOW("rename the directory", rename("/tmp/d", "/tmp/e"));
	SHOW("stat under the new name", stat("/tmp/e/c", &st));
	SHOW("rename into itself", rename("/tmp/e", "/tmp/e/f"));
	DIR *d = opendir("/tmp/e");
	struct dirent *de;
	char *names[16];
	int n = 0;
	while (d && (de = readdir(d)) && n < 16)
		names[n++] = strdup(de->d_name);
	if (d)
		closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), cmp);
	printf("/tmp/e has:");
	for (int i = 0; i < n; i++)
		printf(" %s", names[i]);
	printf("\n");
	SHOW("rmdir not empty", rmdir("/tmp/e"));
	SHOW("unlink a directory", unlink("/tmp/e"));
	SHOW("rmdir a file", rmdir("/tmp/e/c"));

	/* Unlinked while open: the data stays readable until the last close. */
	fd = open("/tmp/e/b.txt", O_RDONLY);
	SHOW("unlink while open", unlink("/tmp/e/b.txt"));
	char buf[16] = {0};
	SHOW("read after unlink", read(fd, buf, sizeof(buf) - 1));
	printf("it read: %s\n", buf);
	close(fd);
	SHOW("unlink again", unlink("/tmp/e/b.txt"));
	SHOW("unlink c", unlink("/tmp/e/c"));
	SHOW("rmdir now", rmdir("/tmp/e"));
	SHOW("stat removed", stat("/tmp/e", &st));

	fd = open("/dev/null", O_WRONLY);
	SHOW("write /dev/null", write(fd, "gone", 4));
	close(fd);
	fd = open("/dev/zero", O_RDONLY);
	memset(buf, 7, sizeof(buf));
	SHOW("read /dev/zero", read(fd, buf, 8));
	printf("zeros: %d\n", buf[0] == 0 && buf[7] == 0 && buf[8] == 7);
	close(fd);
	int w = open("/tmp/z", O_WRONLY | O_CREAT, 0600);
	SHOW("write bad buffer", write(w, (void *)(uintptr_t)8, 4));
	close(w);
	unlink("/tmp/z");
	return 0;
}
