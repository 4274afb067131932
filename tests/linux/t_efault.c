/* Bad pointers in arguments: EFAULT from the personality, never a crash of anything. */
#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>
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

	/* Bug page_zero_found_a_free_entry: the server's page hash took page 0 for the free
	 * entry at its slot, with the protection of the page that was there last. Map, write and
	 * unmap a page that hashes to slot 0 (the server's hash: an implementation detail; on
	 * Linux any page), then a write to address 8 must still be EFAULT. */
	unsigned long vpn = 0x10000;
	while ((vpn * 0x9e3779b97f4a7c15ul >> 52) % 4096)
		vpn++;
	char *pg = mmap((void *)(vpn * 4096), 4096, PROT_READ | PROT_WRITE,
	                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (pg != MAP_FAILED) {
		pg[0] = 1;
		munmap(pg, 4096);
	}
	show("clock_gettime into page 0 after a page went",
	     syscall(SYS_clock_gettime, CLOCK_MONOTONIC, 8));
	printf("still running\n");
	return 0;
}
