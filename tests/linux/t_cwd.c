/*
 * The working directory (issue 15): chdir, fchdir, getcwd and their errors,
 * relative paths in open, stat, mkdir, unlinkat, rename and execve resolved
 * against it, and fork's child inheriting it (and changing only its own).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "show.h"

static void cwd(const char *when)
{
	char buf[256];
	printf("%s: cwd %s\n", when, getcwd(buf, sizeof(buf)) ? buf : "(error)");
}

static void first_line(const char *path)
{
	char buf[64] = {0};
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (n > 0)
		buf[strcspn(buf, "\n")] = 0;
	printf("open %s: %s\n", path, n > 0 ? buf : strerror(errno));
	if (fd >= 0)
		close(fd);
}

int main(void)
{
	struct stat st;
	char buf[256];

	cwd("at start");
	SHOW("chdir /etc", chdir("/etc"));
	cwd("after chdir /etc");
	first_line("hello.txt");
	first_line("./words");
	first_line("../etc/passwd");
	SHOW("stat words", stat("words", &st) == 0 && S_ISREG(st.st_mode));
	SHOW("openat AT_FDCWD group", openat(AT_FDCWD, "group", O_RDONLY) >= 0);
	SHOW("chdir ..", chdir(".."));
	cwd("after chdir ..");
	SHOW("chdir etc/../tmp", chdir("etc/../tmp"));
	cwd("after chdir etc/../tmp");
	SHOW("mkdir sub (relative)", mkdir("sub", 0755));
	SHOW("chdir sub", chdir("sub"));
	cwd("in sub");
	int fd = open("f", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	SHOW("write f", write(fd, "in sub\n", 7));
	close(fd);
	first_line("/tmp/sub/f");
	SHOW("rename f g (relative)", rename("f", "g"));
	SHOW("stat /tmp/sub/g", stat("/tmp/sub/g", &st));
	SHOW("unlinkat AT_FDCWD g", unlinkat(AT_FDCWD, "g", 0));
	SHOW("chdir ..", chdir(".."));
	SHOW("rmdir sub (relative)", rmdir("sub"));
	SHOW("chdir sub after rmdir", chdir("sub"));

	/* fchdir */
	int d = open("/etc", O_RDONLY | O_DIRECTORY);
	SHOW("fchdir to /etc", fchdir(d));
	cwd("after fchdir");
	int f = open("/etc/words", O_RDONLY);
	SHOW("fchdir to a file", fchdir(f));
	SHOW("fchdir closed descriptor", fchdir(99));
	close(d);
	close(f);

	/* errors */
	SHOW("chdir to a file", chdir("/etc/hello.txt"));
	SHOW("chdir missing", chdir("/no/such/dir"));
	SHOW("chdir empty", chdir(""));
	SHOW("chdir bad pointer", chdir((const char *)8));
	SHOW("getcwd size 2", getcwd(buf, 2) ? 0 : -1);
	SHOW("getcwd size 4 for /etc", getcwd(buf, 4) ? 0 : -1);
	SHOW("getcwd size 5 for /etc", getcwd(buf, 5) ? 0 : -1);
	SHOW("getcwd bad pointer", getcwd((char *)8, 100) ? 0 : -1);
	SHOW("open empty path", open("", O_RDONLY));
	cwd("still");

	/* fork: the child starts where the parent is; its chdir is its own */
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		cwd("child");
		chdir("/tmp");
		cwd("child after chdir /tmp");
		fflush(stdout);
		_exit(0);
	}
	waitpid(c, NULL, 0);
	cwd("parent after the child's chdir");

	/* execve of a relative path */
	chdir("/bin");
	fflush(stdout);
	c = fork();
	if (c == 0) {
		execl("./busybox", "busybox", "pwd", (char *)NULL);
		_exit(127);
	}
	int status;
	waitpid(c, &status, 0);
	printf("./busybox pwd exited %d\n", WEXITSTATUS(status));
	return 0;
}
