/* Numbers no Linux has: ENOSYS, and the process goes on. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	long nrs[] = {1000, 400, 511, 999};

	for (unsigned i = 0; i < sizeof(nrs) / sizeof(nrs[0]); i++) {
		errno = 0;
		long r = syscall(nrs[i], 1, 2, 3);
		printf("syscall %ld: %ld errno %d\n", nrs[i], r, errno);
	}
	return 0;
}
