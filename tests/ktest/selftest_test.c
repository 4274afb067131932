/*
 * ktest suite "selftest": the test machinery itself. The case
 * fails_on_request fails only when the command line holds
 * "ktest-selftest-fail", so the runner's failure detection can be tested.
 */
#include <kernel/bootinfo.h>
#include <kernel/ktest.h>

KTEST(selftest, fails_on_request)
{
	KEXPECT(t, !bootinfo_cmdline_has(&boot_info, "ktest-selftest-fail"), "deliberate failure");
}
