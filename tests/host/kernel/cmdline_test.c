/* Host tests for the boot command-line helpers in arch/x86_64/bootinfo.c. */
#include "ktharness.h"

#include <kernel/bootinfo.h>
#include <stdio.h>
#include <string.h>

static struct boot_info bi;

static void set_cmdline(const char *s)
{
	memset(&bi, 0, sizeof(bi));
	snprintf(bi.cmdline, sizeof(bi.cmdline), "%s", s);
}

static void bootinfo_cmdline_has_words(void)
{
	set_cmdline("console=ttyS0 quiet loglevel=3 ktest");
	CHECK(bootinfo_cmdline_has(&bi, "quiet"));
	CHECK(bootinfo_cmdline_has(&bi, "console"));
	CHECK(bootinfo_cmdline_has(&bi, "loglevel"));
	CHECK(bootinfo_cmdline_has(&bi, "ktest"));
	CHECK(!bootinfo_cmdline_has(&bi, "qui"));
	CHECK(!bootinfo_cmdline_has(&bi, "uiet"));
	CHECK(!bootinfo_cmdline_has(&bi, "ttyS0"));
	CHECK(!bootinfo_cmdline_has(&bi, "ktes"));
	CHECK(!bootinfo_cmdline_has(&bi, "ktests"));
	CHECK(!bootinfo_cmdline_has(&bi, "3"));
	set_cmdline("");
	CHECK(!bootinfo_cmdline_has(&bi, "quiet"));
	set_cmdline("  quiet  ");
	CHECK(bootinfo_cmdline_has(&bi, "quiet"));
}

static void bootinfo_cmdline_get_values(void)
{
	char buf[16];

	set_cmdline("console=ttyS0 quiet root= ktest=all,smp x=a=b last=end");
	CHECK(bootinfo_cmdline_get(&bi, "console", buf, sizeof(buf)));
	CHECK_STR(buf, "ttyS0");
	CHECK(bootinfo_cmdline_get(&bi, "ktest", buf, sizeof(buf)));
	CHECK_STR(buf, "all,smp");
	CHECK(bootinfo_cmdline_get(&bi, "root", buf, sizeof(buf)));
	CHECK_STR(buf, "");
	CHECK(bootinfo_cmdline_get(&bi, "x", buf, sizeof(buf)));
	CHECK_STR(buf, "a=b");
	CHECK(bootinfo_cmdline_get(&bi, "last", buf, sizeof(buf)));
	CHECK_STR(buf, "end");
	CHECK(!bootinfo_cmdline_get(&bi, "quiet", buf, sizeof(buf))); /* a bare word has no value */
	CHECK(!bootinfo_cmdline_get(&bi, "missing", buf, sizeof(buf)));
	CHECK(!bootinfo_cmdline_get(&bi, "cons", buf, sizeof(buf)));
	CHECK(!bootinfo_cmdline_get(&bi, "a", buf, sizeof(buf)));
	memset(buf, 'Z', sizeof(buf));
	CHECK(bootinfo_cmdline_get(&bi, "console", buf, 4)); /* truncated, terminated */
	CHECK_STR(buf, "tty");
	CHECK_EQ((uint8_t)buf[4], 'Z');
	CHECK(bootinfo_cmdline_get(&bi, "console", buf, 1));
	CHECK_STR(buf, "");
	CHECK(!bootinfo_cmdline_get(&bi, "console", buf, 0));
}

/*
 * Bug: cmdline_find() returns the first boundary match, and get() then
 * gives up when that match is the bare word, so "foo foo=1" hides foo=1.
 */
static void bootinfo_cmdline_get_key_after_bare_word(void)
{
	char buf[16] = "";

	set_cmdline("debug debug=2");
	CHECK(bootinfo_cmdline_get(&bi, "debug", buf, sizeof(buf)));
	CHECK_STR(buf, "2");
}

static const struct kt_case cases[] = {
    KT(bootinfo_cmdline_has_words), KT(bootinfo_cmdline_get_values),
    KT(bootinfo_cmdline_get_key_after_bare_word), /* regression: cmdline_get stops at the first
                                                     match even if it is the bare word
                                                     (arch/x86_64/bootinfo.c) */
};

int main(int argc, char **argv)
{
	return kt_main(cases, ARRAY_SIZE(cases), argc, argv);
}
