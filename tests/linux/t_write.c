/* write, writev and the exit status: the output and status must match Linux's. */
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char a[] = "writev: one ", b[] = "two ", c[] = "three\n";
	struct iovec iov[3] = {{a, strlen(a)}, {b, strlen(b)}, {c, strlen(c)}};

	printf("argc=%d argv0=%s argv1=%s\n", argc, argv[0], argc > 1 ? argv[1] : "-");
	fflush(stdout);
	ssize_t n = write(1, "write: hello\n", 13);
	printf("write returned %zd\n", n);
	fflush(stdout);
	n = writev(1, iov, 3);
	printf("writev returned %zd\n", n);
	printf("write to a closed fd: %zd\n", write(42, "x", 1));
	printf("pid>0: %d, ppid>0: %d\n", getpid() > 0, getppid() > 0);
	return 3;
}
