/* The drivers-unit binary: every KT_CASE of its files, TAP on stdout. */
#include "ktharness.h"

int main(int argc, char **argv)
{
	kt_group = "drivers-unit";
	return kt_main(NULL, 0, argc, argv);
}
