/* Runs every DT case (or those named in argv) and prints TAP. */
#include <string.h>

#include "dtest.h"

int dt_failed;

extern const struct dt_case __start_dt_cases[], __stop_dt_cases[];

int main(int argc, char **argv)
{
	int bad = 0, n = 0;

	/* The linker puts the cases between these two symbols. */
	/* cppcheck-suppress comparePointers */
	for (const struct dt_case *c = __start_dt_cases; c < __stop_dt_cases; c++) {
		bool wanted = argc < 2;
		for (int i = 1; i < argc; i++)
			wanted |= !strcmp(argv[i], c->name);
		if (!wanted)
			continue;
		dt_failed = 0;
		c->fn();
		printf("%s - drivers-unit: %s\n", dt_failed ? "not ok" : "ok", c->name);
		bad += dt_failed != 0;
		n++;
	}
	printf("# %d cases, %d failed\n", n, bad);
	return n == 0 || bad != 0;
}
