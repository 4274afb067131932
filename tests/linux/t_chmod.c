/*
 * chmod, fchmod, fchmodat (the permission bits stat shows afterwards) and faccessat2 with its
 * flags, with Linux's errors (ENOENT, EBADF, EINVAL, EPERM for /proc's files).
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "show.h"

static void mode_of(const char *label, const char *path)
{
	struct stat st;
	if (stat(path, &st))
		printf("%s: stat errno %d\n", label, errno);
	else
		printf("%s: %o\n", label, (unsigned)st.st_mode);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	const char *path = "/tmp/t_chmod.txt";
	unlink(path);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	SHOW("chmod 600", chmod(path, 0600));
	mode_of("  mode", path);
	SHOW("fchmod 4751", fchmod(fd, 04751));
	mode_of("  mode", path);
	chdir("/tmp");
	SHOW("fchmodat relative 640", syscall(SYS_fchmodat, AT_FDCWD, "t_chmod.txt", 0640));
	mode_of("  mode", path);
	SHOW("chmod with the type bits", chmod(path, 0170755));
	mode_of("  mode", path);
	SHOW("chmod a directory 700", chmod("/tmp", 01700));
	mode_of("  /tmp", "/tmp");
	chmod("/tmp", 01777);
	mode_of("  /tmp again", "/tmp");
	SHOW("chmod of nothing", chmod("/tmp/none/x", 0600));
	SHOW("fchmod closed fd", fchmod(99, 0600));
	SHOW("chmod /proc/self/stat", chmod("/proc/self/stat", 0600));
	SHOW("faccessat2 AT_EACCESS", syscall(439, AT_FDCWD, path, R_OK | W_OK, AT_EACCESS));
	SHOW("faccessat2 nofollow", syscall(439, AT_FDCWD, "/bin/sh", X_OK, AT_SYMLINK_NOFOLLOW));
	SHOW("faccessat2 bad flag", syscall(439, AT_FDCWD, path, R_OK, 0x4));
	SHOW("faccessat2 bad mode", syscall(439, AT_FDCWD, path, 8, 0));
	SHOW("faccessat2 empty path", syscall(439, fd, "", R_OK, AT_EMPTY_PATH));
	SHOW("faccessat2 missing", syscall(439, AT_FDCWD, "/tmp/none", R_OK, 0));
	close(fd);
	unlink(path);
	return 0;
}
