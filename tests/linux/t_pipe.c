/*
 * Pipes where the server's fast path (user/linux/proc.c, lx_pipe_fast)
 * serves them and where it must hand over to the general path: two
 * readers waiting on one pipe, a writer waiting on a full pipe, end of
 * file, EAGAIN, the ring buffer wrapping, buffers across a page boundary,
 * in pages not yet touched, read-only or shared copy-on-write with a fork
 * child, atomic writes from two writers, poll woken by a write, and a
 * reader killed while it waits. Output is compared with Linux's.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "show.h"

static char shared_buf[64] = "parent's bytes";
static char untouched[3 * 4096]; /* bss pages nobody has touched yet */
static const char rodata[16] = "read-only";

static void two_readers(void)
{
	int p[2], back[2];
	char b;

	pipe(p);
	pipe(back);
	for (int i = 0; i < 2; i++)
		if (fork() == 0) { /* both wait on p; each takes one byte and reports it */
			if (read(p[0], &b, 1) != 1)
				_exit(1);
			write(back[1], &b, 1);
			_exit(0);
		}
	usleep(20000); /* both wait now (on Linux as here) */
	write(p[1], "a", 1);
	write(p[1], "b", 1);
	char got[2] = {0, 0};
	SHOW("two readers: first byte back", read(back[0], &got[0], 1));
	SHOW("two readers: second byte back", read(back[0], &got[1], 1));
	printf("two readers got a and b: %d\n",
	       (got[0] == 'a' && got[1] == 'b') || (got[0] == 'b' && got[1] == 'a'));
	int st, sum = 0;
	for (int i = 0; i < 2; i++) {
		wait(&st);
		sum += WIFEXITED(st) ? WEXITSTATUS(st) : 100;
	}
	printf("two readers exit codes add up to %d\n", sum);
	close(p[0]), close(p[1]), close(back[0]), close(back[1]);
}

static void full_pipe(void)
{
	int p[2], st;
	static char chunk[4096];

	pipe(p);
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	long total = 0, r;
	while ((r = write(p[1], chunk, sizeof(chunk))) > 0)
		total += r;
	printf("full pipe holds %ld bytes, then errno %d\n", total, errno);
	SHOW("one byte more (nonblocking)", write(p[1], "x", 1));
	fcntl(p[1], F_SETFL, 0);
	pid_t c = fork();
	if (c == 0) { /* waits until the parent makes room */
		_exit(write(p[1], "zz", 2) == 2 ? 0 : 1);
	}
	usleep(20000);
	SHOW("read makes room", read(p[0], chunk, sizeof(chunk))); /* a whole page: Linux's unit */
	waitpid(c, &st, 0);
	show_status("blocked writer", st);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	long left = 0;
	char last[2] = {0, 0};
	while ((r = read(p[0], chunk, sizeof(chunk))) > 0) {
		left += r;
		if (r >= 2)
			memcpy(last, chunk + r - 2, 2);
	}
	printf("left in the pipe: %ld, last bytes %.2s\n", left, last);
	close(p[0]), close(p[1]);
}

static void eof_and_eagain(void)
{
	int p[2];
	char b[4];

	pipe2(p, O_NONBLOCK);
	SHOW("empty nonblocking read", read(p[0], b, 1));
	SHOW("write", write(p[1], "ok", 2));
	SHOW("read what is there", read(p[0], b, 4));
	close(p[1]);
	SHOW("read at end of file", read(p[0], b, 1));
	SHOW("zero-length read", read(p[0], b, 0));
	close(p[0]);
	SHOW("read a closed descriptor", read(p[0], b, 1));
	SHOW("write a read end", write(p[0], b, 1));
}

static void wraps(void)
{
	int p[2];
	static char out[3000], in[3000];
	long bad = 0;

	pipe(p);
	for (int round = 0; round < 60; round++) { /* 180,000 bytes through a 64 KiB ring */
		for (unsigned i = 0; i < sizeof(out); i++)
			out[i] = (char)(round * 7 + i);
		write(p[1], out, sizeof(out));
		long got = 0;
		while (got < (long)sizeof(in)) {
			long r = read(p[0], in + got, sizeof(in) - got);
			if (r <= 0)
				break;
			got += r;
		}
		bad += got != (long)sizeof(in) || memcmp(in, out, sizeof(in)) != 0;
	}
	printf("ring wraps, rounds with wrong bytes: %ld\n", bad);
	close(p[0]), close(p[1]);
}

static void buffers(void)
{
	int p[2], st;
	char *edge =
	    mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	pipe(p);
	/* Across a page boundary, and into a page nobody touched yet. */
	write(p[1], "across", 6);
	SHOW("read across pages", read(p[0], edge + 4096 - 3, 6));
	printf("bytes: %.6s\n", edge + 4096 - 3);
	write(p[1], "fresh", 5);
	SHOW("read into an untouched page", read(p[0], untouched + 4096, 5));
	printf("bytes: %.5s\n", untouched + 4096);
	/* From an untouched page (zeros) and from read-only data. */
	SHOW("write from an untouched page", write(p[1], untouched + 2 * 4096, 3));
	char z[3];
	read(p[0], z, 3);
	printf("zeros: %d\n", !z[0] && !z[1] && !z[2]);
	SHOW("write from read-only data", write(p[1], rodata, 9));
	char ro[9];
	read(p[0], ro, 9);
	printf("bytes: %.9s\n", ro);
	/* Into read-only memory, an unmapped page and a protected one: EFAULT, nothing taken. */
	write(p[1], "kept", 4);
	SHOW("read into read-only data", read(p[0], (char *)rodata, 4));
	SHOW("read into an unmapped page", read(p[0], (char *)8, 4));
	mprotect(edge, 4096, PROT_READ);
	SHOW("read into a page made read-only", read(p[0], edge, 4));
	SHOW("write from an unmapped page", write(p[1], (char *)8, 4));
	char k[4];
	SHOW("the bytes are still there", read(p[0], k, 4));
	printf("bytes: %.4s\n", k);
	/* A page shared copy-on-write with a child: the child's read leaves the parent's copy. */
	pid_t c = fork();
	if (c == 0) {
		if (read(p[0], shared_buf, 5) != 5)
			_exit(1);
		_exit(memcmp(shared_buf, "child", 5) == 0 ? 0 : 2);
	}
	write(p[1], "child", 5);
	waitpid(c, &st, 0);
	show_status("child read into its copy", st);
	printf("parent's copy: %s\n", shared_buf);
	munmap(edge, 2 * 4096);
	close(p[0]), close(p[1]);
}

static void atomic_writes(void)
{
	int p[2];
	static char blk[4096], in[4096];

	pipe(p);
	for (int w = 0; w < 2; w++)
		if (fork() == 0) {
			memset(blk, 'A' + w, sizeof(blk));
			for (int i = 0; i < 20; i++)
				write(p[1], blk, sizeof(blk));
			_exit(0);
		}
	close(p[1]);
	long mixed = 0, blocks = 0;
	for (;;) { /* each 4096-byte write arrives whole */
		long got = 0, r = 0;
		while (got < (long)sizeof(in) && (r = read(p[0], in + got, sizeof(in) - got)) > 0)
			got += r;
		if (got == 0)
			break;
		blocks++;
		for (long i = 1; i < got; i++)
			mixed += in[i] != in[0];
	}
	printf("atomic writes: %ld blocks, %ld mixed bytes\n", blocks, mixed);
	while (wait(NULL) > 0)
		;
	close(p[0]);
}

static void poll_woken(void)
{
	int p[2], st;

	pipe(p);
	pid_t c = fork();
	if (c == 0) {
		struct pollfd pf = {p[0], POLLIN, 0};
		int n = poll(&pf, 1, 5000);
		_exit(n == 1 && (pf.revents & POLLIN) ? 0 : 1);
	}
	usleep(20000);
	write(p[1], "p", 1);
	waitpid(c, &st, 0);
	show_status("poll woken by a write", st);
	close(p[0]), close(p[1]);
}

static void killed_reader(void)
{
	int p[2], st;
	char b;

	pipe(p);
	pid_t c = fork();
	if (c == 0) {
		read(p[0], &b, 1);
		_exit(0);
	}
	usleep(20000);
	kill(c, SIGKILL);
	waitpid(c, &st, 0);
	show_status("reader killed while it waits", st);
	SHOW("write after the reader is gone (the parent reads)", write(p[1], "q", 1));
	SHOW("the byte is there for the parent", read(p[0], &b, 1));
	close(p[0]), close(p[1]);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	two_readers();
	full_pipe();
	eof_and_eagain();
	wraps();
	buffers();
	atomic_writes();
	poll_woken();
	killed_reader();
	return 0;
}
