/*
 * Host tests for lib/bootconf.c, the root task's etc/boot.conf line parser.
 * Each line is an exact-size heap copy without a NUL or newline after it,
 * so ASan reports any read past the end the parser was given.
 */
#include "ktharness.h"

#include <kernel/types.h>
#include <lib/bootconf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parse `line` (as if it had no trailing newline); *p is poisoned first. */
static int parse(const char *line, struct bootconf_prog *p)
{
	size_t n = strlen(line);
	char *copy = malloc(n ? n : 1);

	memcpy(copy, line, n);
	memset(p, 0xa5, sizeof(*p));
	int r = bootconf_parse_line(copy, copy + n, p);
	free(copy);
	return r;
}

static void check_prog(const char *line, const char *name, uint32_t prio, uint32_t cpu, uint32_t kib)
{
	struct bootconf_prog p;

	CHECK_EQ(parse(line, &p), 1);
	CHECK_STR(p.name, name);
	CHECK_EQ(p.priority, prio);
	CHECK_EQ(p.cpu, cpu);
	CHECK_EQ(p.mem_kib, kib);
}

static void check_rejected(const char *line)
{
	struct bootconf_prog p;
	int r = parse(line, &p);

	if (r != -1)
		kt_fail(__FILE__, __LINE__, "\"%s\": %d, want -1", line, r);
}

static void bootconf_defaults(void)
{
	check_prog("program hello", "hello", 50, 0, 1024);
	CHECK_EQ(BOOTCONF_DEFAULT_PRIORITY, 50);
	CHECK_EQ(BOOTCONF_DEFAULT_CPU, 0);
	CHECK_EQ(BOOTCONF_DEFAULT_MEM_KIB, 1024);
}

static void bootconf_every_option(void)
{
	check_prog("program hello priority 7", "hello", 7, 0, 1024);
	check_prog("program hello cpu 3", "hello", 50, 3, 1024);
	check_prog("program hello memory 512", "hello", 50, 0, 512);
	check_prog("program hog priority 40 memory 64", "hog", 40, 0, 64);
	check_prog("program hello priority 50 cpu 1 memory 512", "hello", 50, 1, 512);
	check_prog("program a memory 100 cpu 2 priority 0", "a", 0, 2, 100);
	/* A later repetition wins. */
	check_prog("program a priority 1 priority 2", "a", 2, 0, 1024);
	check_prog("program dir/sub/prog.elf", "dir/sub/prog.elf", 50, 0, 1024);
}

static void bootconf_limits(void)
{
	check_prog("program a priority 255", "a", 255, 0, 1024);
	check_rejected("program a priority 256");
	check_rejected("program a priority 1000");
	check_prog("program a memory 64", "a", 50, 0, 64);
	check_rejected("program a memory 63");
	check_rejected("program a memory 0");
	check_prog("program a memory 4294967295", "a", 50, 0, 4294967295u);
	check_prog("program a cpu 4294967295", "a", 50, 4294967295u, 1024);
	check_prog("program a priority 00000000000000000000000000007", "a", 7, 0, 1024);
}

static void bootconf_blank_and_comments(void)
{
	struct bootconf_prog p;

	CHECK_EQ(parse("", &p), 0);
	CHECK_EQ(parse("   ", &p), 0);
	CHECK_EQ(parse("\t \t", &p), 0);
	CHECK_EQ(parse("# comment", &p), 0);
	CHECK_EQ(parse("#", &p), 0);
	CHECK_EQ(parse("   # indented comment program x", &p), 0);
	CHECK_EQ(parse("#program hello", &p), 0);
	/* A comment longer than any word buffer is still a comment. */
	char long_comment[300];
	memset(long_comment, 'x', sizeof(long_comment) - 1);
	long_comment[0] = '#';
	long_comment[sizeof(long_comment) - 1] = 0;
	CHECK_EQ(parse(long_comment, &p), 0);
	/* '\n' ends the line even inside the range given. */
	CHECK_EQ(parse("\nprogram x", &p), 0);
	check_prog("program x\npriority 9", "x", 50, 0, 1024);
}

static void bootconf_tabs_and_spaces(void)
{
	check_prog("\tprogram\thello\tpriority\t9\tcpu 1  memory\t \t128\t ", "hello", 9, 1, 128);
	check_prog("   program   hello   ", "hello", 50, 0, 1024);
}

static void bootconf_unknown_keyword(void)
{
	check_rejected("programs hello");
	check_rejected("Program hello");
	check_rejected("run hello");
	check_rejected("program hello prio 5");
	check_rejected("program hello priority 5 stack 8");
	check_rejected("program hello # trailing comment");
	check_rejected("this line is deliberately malformed: the root task reports and skips it");
}

static void bootconf_missing_value(void)
{
	check_rejected("program");
	check_rejected("program   ");
	check_rejected("program hello priority");
	check_rejected("program hello cpu");
	check_rejected("program hello memory\t");
	check_rejected("program hello priority 5 memory");
}

static void bootconf_non_numeric(void)
{
	check_rejected("program a priority x");
	check_rejected("program a priority 5x");
	check_rejected("program a priority -1");
	check_rejected("program a priority +1");
	check_rejected("program a cpu 0x1");
	check_rejected("program a memory 1e3");
	check_rejected("program a memory 12.5");
	check_rejected("program a memory 64\r");
}

/* `v = v * 10 + d` without a bound wrapped: 4294967296 read as 0, 4294967360 as 64. */
static void bootconf_number_overflow_rejected(void)
{
	check_rejected("program a cpu 4294967296");
	check_rejected("program a memory 4294967360");
	check_rejected("program a memory 4294967400");
	check_rejected("program a priority 4294967297");
	check_rejected("program a priority 8589934592");
	check_rejected("program a cpu 99999999999999999999");
	check_prog("program a cpu 4294967295", "a", 50, 4294967295u, 1024);
}

/* Words that do not fit their buffer are errors, never silently cut short. */
static void bootconf_long_words_rejected(void)
{
	char line[400], name[BOOTCONF_NAME_MAX + 1];

	memset(name, 'n', sizeof(name));
	name[BOOTCONF_NAME_MAX - 1] = 0; /* 63 characters: fits */
	snprintf(line, sizeof(line), "program %s memory 64", name);
	check_prog(line, name, 50, 0, 64);
	name[BOOTCONF_NAME_MAX - 1] = 'n';
	name[BOOTCONF_NAME_MAX] = 0; /* 64 characters: does not */
	snprintf(line, sizeof(line), "program %s", name);
	check_rejected(line);
	snprintf(line, sizeof(line), "program %s%s", name, name);
	check_rejected(line);
	/* A 40-digit value that a 31-byte buffer would have cut to 0. */
	check_rejected("program a priority 0000000000000000000000000000000000000001");
	check_rejected("program a priorityxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx 1");
}

/* The range ends the line: nothing after `end` is read, even on a word boundary. */
static void bootconf_no_trailing_newline(void)
{
	const char *text = "program hello priority 12 cpu 3";
	struct bootconf_prog p;

	for (size_t n = 0; n <= strlen(text); n++) {
		char *copy = malloc(n ? n : 1);
		memcpy(copy, text, n);
		int r = bootconf_parse_line(copy, copy + n, &p);
		free(copy);
		/* Cut inside "program", before the name, or inside a key or before its value: an error. */
		int want = n == 0 ? 0 : (n < 9 || (n >= 15 && n <= 23) || (n >= 27 && n <= 30)) ? -1 : 1;
		if (r != want)
			kt_fail(__FILE__, __LINE__, "length %zu: %d, want %d", n, r, want);
	}
	check_prog("program hello priority 12", "hello", 12, 0, 1024);
}

static const struct kt_case cases[] = {
	KT(bootconf_defaults),
	KT(bootconf_every_option),
	KT(bootconf_limits),
	KT(bootconf_blank_and_comments),
	KT(bootconf_tabs_and_spaces),
	KT(bootconf_unknown_keyword),
	KT(bootconf_missing_value),
	KT(bootconf_non_numeric),
	KT(bootconf_number_overflow_rejected),
	KT(bootconf_long_words_rejected),
	KT(bootconf_no_trailing_newline),
};

int main(int argc, char **argv)
{
	return kt_main(cases, ARRAY_SIZE(cases), argc, argv);
}
