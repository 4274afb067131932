/* Bad pointers in arguments: EFAULT from the personality, never a crash of anything. */
#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BAD    ((long)0x10) /* page 0: never mapped */
#define KERNEL ((long)0xffff800000001000ull)

static void show(const char *what, long r)
{
	printf("%s: %ld errno %d\n", what, r, r < 0 ? errno : 0);
	errno = 0;
}

int main(void)
{
	char ok[16] = "fine\n";
	struct iovec_like {
		long base, len;
	} iov[2] = {{(long)ok, 5}, {BAD, 5}};

	show("write bad buffer", syscall(SYS_write, 1, BAD, 5));
	show("write kernel buffer", syscall(SYS_write, 1, KERNEL, 5));
	show("write buffer wrapping", syscall(SYS_write, 1, -4096L, 8192));
	show("read into bad buffer", syscall(SYS_read, 0, BAD, 5) == 0 ? 0 : -1);
	show("uname bad", syscall(SYS_uname, BAD));
	show("clock_gettime bad", syscall(SYS_clock_gettime, CLOCK_MONOTONIC, BAD));
	show("open bad path", syscall(SYS_open, BAD, 0));
	show("stat bad buffer", syscall(SYS_stat, "/etc/hello.txt", KERNEL));
	show("writev bad iovec array", syscall(SYS_writev, 1, BAD, 2));
	fflush(stdout);
	show("writev second iovec bad", syscall(SYS_writev, 1, iov, 2));
	show("rt_sigaction bad act", syscall(SYS_rt_sigaction, 10, BAD, 0, 8));
	show("rt_sigprocmask bad set", syscall(SYS_rt_sigprocmask, 0, BAD, 0, 8));
	show("getdents64 bad buffer", syscall(SYS_getdents64, 99, BAD, 100));
	printf("still running\n");
	return 0;
}
