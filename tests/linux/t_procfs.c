/*
 * /proc and sysinfo (issue 15), Hallows only (the host's chroot has no
 * /proc): self, <pid>/stat, cmdline, status, comm, exe, the listing of
 * /proc, meminfo, uptime, hallows/enosys, and the errors of opening them
 * wrongly. Values differ from boot to boot, so their shape is checked.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <unistd.h>

static int bad;

static void check(const char *what, int ok)
{
	printf("%s: %s\n", what, ok ? "ok" : "BAD");
	bad += !ok;
}

static long slurp(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	long n = 0, r;
	if (fd < 0)
		return -errno;
	while ((r = read(fd, buf + n, cap - 1 - (size_t)n)) > 0)
		n += r;
	buf[n] = 0;
	close(fd);
	return n;
}

static int listed(int pid)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int found = 0, self = 0;
	while (d && (e = readdir(d)))
		found |= atoi(e->d_name) == pid, self |= !strcmp(e->d_name, "self");
	if (d)
		closedir(d);
	return found && self;
}

int main(int argc, char **argv)
{
	char buf[4096], path[64], link[64];
	int pid = getpid();
	(void)argc;

	long n = readlink("/proc/self", link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = 0;
	check("/proc/self links to the pid", atoi(link) == pid);
	slurp("/proc/self/stat", buf, sizeof(buf));
	int spid = 0, sppid = 0;
	char comm[32] = "", state = 0;
	sscanf(buf, "%d (%31[^)]) %c %d", &spid, comm, &state, &sppid);
	check("stat: pid, (comm), state R, ppid",
	      spid == pid && !strcmp(comm, "t_procfs") && state == 'R' && sppid == getppid());
	int fields = 2; /* "pid (comm)", then one per space */
	for (char *c = strchr(buf, ')'); c && *c; c++)
		fields += *c == ' ';
	check("stat: 52 fields", fields == 52);
	/* utime from computing, stime from the server's copying (fields 14 and 15) */
	static volatile unsigned long sink;
	static char zeros[1 << 18];
	for (long i = 0; i < 60000000; i++)
		sink += (unsigned long)i;
	int z = open("/dev/zero", O_RDONLY);
	for (int i = 0; i < 200; i++)
		read(z, zeros, sizeof(zeros));
	close(z);
	slurp("/proc/self/stat", buf, sizeof(buf));
	unsigned long ut = 0, stt = 0;
	char *rp = strrchr(buf, ')');
	sscanf(rp ? rp + 2 : buf, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &stt);
	check("stat: utime and stime after computing and reading", ut > 0 && stt > 0);
	n = slurp("/proc/self/cmdline", buf, sizeof(buf));
	check("cmdline: argv with a NUL after each",
	      n == (long)strlen(argv[0]) + 9 && !memcmp(buf, argv[0], strlen(argv[0]) + 1) &&
	          !memcmp(buf + strlen(argv[0]) + 1, "one\0two", 8));
	slurp("/proc/self/status", buf, sizeof(buf));
	snprintf(path, sizeof(path), "\nPid:\t%d\n", pid);
	check("status: Name and Pid", !strncmp(buf, "Name:\tt_procfs\n", 15) && strstr(buf, path));
	slurp("/proc/self/comm", buf, sizeof(buf));
	check("comm", !strcmp(buf, "t_procfs\n"));
	n = readlink("/proc/self/exe", link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = 0;
	struct stat st;
	check("exe: the file run, a regular file", !strcmp(link, "/bin/t_procfs") &&
	                                               !stat("/proc/self/exe", &st) &&
	                                               S_ISREG(st.st_mode));
	check("stat /proc/self: a directory", !stat("/proc/self", &st) && S_ISDIR(st.st_mode));
	check("lstat /proc/self: a link", !lstat("/proc/self", &st) && S_ISLNK(st.st_mode));

	/* another process: listed, sleeping, gone once reaped */
	pid_t c = fork();
	if (c == 0) {
		pause();
		_exit(0);
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", c);
	/* Until it sleeps in pause(): a loaded host may run it later than 20 ms after the fork. */
	for (int tries = 0; tries < 100 && state != 'S'; tries++) {
		usleep(20000);
		slurp(path, buf, sizeof(buf));
		sscanf(buf, "%d (%31[^)]) %c %d", &spid, comm, &state, &sppid);
	}
	check("a child: sleeping, its parent us", spid == c && state == 'S' && sppid == pid);
	check("/proc lists it and self", listed(c));
	int dfd = open("/proc", O_RDONLY | O_DIRECTORY);
	snprintf(path, sizeof(path), "%d/cmdline", c);
	int cfd = openat(dfd, path, O_RDONLY);
	check("openat relative to /proc", cfd >= 0 && read(cfd, buf, 20) > 0);
	close(cfd);
	errno = 0;
	check("read of /proc: EISDIR", read(dfd, buf, 10) < 0 && errno == EISDIR);
	close(dfd);
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	snprintf(path, sizeof(path), "/proc/%d/stat", c);
	check("reaped: ENOENT", slurp(path, buf, sizeof(buf)) == -ENOENT && !listed(c));

	unsigned long total = 0, freekb = 1;
	slurp("/proc/meminfo", buf, sizeof(buf));
	sscanf(buf, "MemTotal: %lu kB\nMemFree: %lu kB", &total, &freekb);
	check("meminfo: MemTotal, MemFree", total > 0 && freekb <= total);
	double up = -1, idle = -1;
	slurp("/proc/uptime", buf, sizeof(buf));
	check("uptime: two numbers", sscanf(buf, "%lf %lf", &up, &idle) == 2 && up > 0);
	syscall(400);
	slurp("/proc/hallows/enosys", buf, sizeof(buf));
	check("hallows/enosys lists call 400", !strncmp(buf, "400 ", 4) || strstr(buf, "\n400 "));
	struct sysinfo si;
	check("sysinfo", !sysinfo(&si) && si.totalram >= si.freeram && si.freeram > 0 &&
	                     si.procs >= 1 && si.mem_unit == 1);
	errno = 0;
	check("sysinfo, bad pointer: EFAULT", sysinfo((void *)8) < 0 && errno == EFAULT);

	check("missing file: ENOENT", slurp("/proc/nosuch", buf, sizeof(buf)) == -ENOENT);
	check("no such pid: ENOENT", slurp("/proc/99999/stat", buf, sizeof(buf)) == -ENOENT);
	errno = 0;
	check("open for writing: EACCES", open("/proc/meminfo", O_WRONLY) < 0 && errno == EACCES);
	errno = 0;
	check("O_DIRECTORY on a file: ENOTDIR",
	      open("/proc/self/stat", O_RDONLY | O_DIRECTORY) < 0 && errno == ENOTDIR);
	int many[20], k = 0; /* more opens than snapshots: an error, not a crash */
	while (k < 20 && (many[k] = open("/proc/uptime", O_RDONLY)) >= 0)
		k++;
	check("opens beyond the snapshots: ENFILE", k < 20 && errno == ENFILE);
	while (k--)
		close(many[k]);
	check("and after closing them, open works", slurp("/proc/uptime", buf, sizeof(buf)) > 0);
	/* Odd offsets and buffers (the audit; Linux's answers): past the end and far past it
	 * nothing, a negative pread EINVAL, a buffer in the kernel half EFAULT even at the end
	 * (bug read_at_eof_into_kernel_half_succeeded), then reading on as usual. */
	static const char *const odd[] = {"/proc/self/stat", "/proc/meminfo", "/proc/self/status"};
	for (unsigned i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		char what[96];
		int fd = open(odd[i], O_RDONLY);
		snprintf(what, sizeof(what), "%s at odd offsets", odd[i]);
		errno = 0;
		int ok = fd >= 0 && pread(fd, buf, 64, (off_t)1 << 40) == 0 &&
		         pread(fd, buf, 64, -1) < 0 && errno == EINVAL &&
		         lseek(fd, (off_t)1 << 62, SEEK_SET) >= 0 && read(fd, buf, 64) == 0 &&
		         read(fd, (void *)0xffff800000000000ul, 64) < 0 && errno == EFAULT &&
		         lseek(fd, 1, SEEK_SET) == 1 && read(fd, buf, 1) == 1;
		check(what, ok);
		if (fd >= 0)
			close(fd);
	}
	printf("procfs: %s\n", bad ? "FAILED" : "all ok");
	return bad != 0;
}
