/*
 * Host tests of the console tty's line discipline (user/linux/ldisc.c),
 * under ASan + UBSan: every mode and special key, against what Linux's
 * N_TTY does with the same termios (termios(3)).
 */
#include "ktharness.h"

#include "linux/ldisc.h"
#include <stdio.h>
#include <string.h>

static struct lx_ldisc ld;
static char echo[LX_LDISC_OUT + 1];

/* Feed s (its bytes, NUL-free); returns the last signal raised; echo[] gets the echo. */
static int feed(const char *s)
{
	int sig = 0;

	for (; *s; s++) {
		int r = lx_ldisc_input(&ld, (uint8_t)*s);
		if (r)
			sig = r;
	}
	size_t n = lx_ldisc_take_out(&ld, (uint8_t *)echo);
	echo[n] = 0;
	return sig;
}

/* A read of up to cap bytes as a string; "<block>" when it would wait. */
static const char *rd(size_t cap)
{
	static char buf[LX_LDISC_IN + 16];

	if (!lx_ldisc_readable(&ld, cap))
		return "<block>";
	size_t n = lx_ldisc_read(&ld, (uint8_t *)buf, cap);
	buf[n] = 0;
	return buf;
}

static void fresh(void)
{
	lx_ldisc_init(&ld);
	echo[0] = 0;
}

static void raw(uint8_t vmin)
{
	struct lx_termios t = ld.t;
	t.c_lflag &= ~(LX_ICANON | LX_ECHO | LX_ISIG | LX_IEXTEN);
	t.c_iflag &= ~LX_ICRNL;
	t.c_cc[LX_VMIN] = vmin;
	t.c_cc[LX_VTIME] = 0;
	lx_ldisc_set(&ld, &t);
}

static void defaults_are_linux_sane_and_80x24(void)
{
	fresh();
	CHECK(ld.t.c_lflag & LX_ICANON);
	CHECK(ld.t.c_lflag & LX_ECHO);
	CHECK(ld.t.c_lflag & LX_ISIG);
	CHECK(ld.t.c_iflag & LX_ICRNL);
	CHECK(ld.t.c_oflag & LX_ONLCR);
	CHECK_EQ(ld.t.c_cc[LX_VERASE], 0177);
	CHECK_EQ(ld.t.c_cc[LX_VEOF], 4);
	CHECK_EQ(ld.t.c_cc[LX_VMIN], 1);
	CHECK_EQ(ld.rows, 24);
	CHECK_EQ(ld.cols, 80);
}

static void canonical_reads_wait_for_a_line_and_echo_it(void)
{
	fresh();
	CHECK_EQ(feed("ls"), 0);
	CHECK_STR(echo, "ls");
	CHECK_STR(rd(100), "<block>");
	CHECK_EQ(lx_ldisc_pending(&ld), 0);
	feed("\r"); /* ICRNL: return is newline; ONLCR: echoed as CR LF */
	CHECK_STR(echo, "\r\n");
	CHECK_EQ(lx_ldisc_pending(&ld), 3);
	CHECK_STR(rd(100), "ls\n");
	CHECK_STR(rd(100), "<block>");
}

static void canonical_read_returns_one_line_at_a_time(void)
{
	fresh();
	feed("a\nbc\n");
	CHECK_STR(rd(100), "a\n");
	CHECK_STR(rd(2), "bc"); /* a short read leaves the rest of the line */
	CHECK_STR(rd(100), "\n");
	CHECK_STR(rd(100), "<block>");
}

static void erase_del_removes_a_character_with_echoe(void)
{
	fresh();
	feed("abd\177c\n");
	CHECK_STR(echo, "abd\b \bc\r\n");
	CHECK_STR(rd(100), "abc\n");
	/* erase at the start of the line does nothing */
	feed("\177x\n");
	CHECK_STR(echo, "x\r\n");
	CHECK_STR(rd(100), "x\n");
}

static void erase_without_echoe_echoes_the_erase_character(void)
{
	fresh();
	ld.t.c_lflag &= ~(LX_ECHOE | LX_ECHOCTL);
	feed("ab\177\n");
	CHECK_STR(echo, "ab\177\r\n");
	CHECK_STR(rd(100), "a\n");
}

static void backspace_erases_only_when_it_is_verase(void)
{
	fresh();
	feed("ab\b\n"); /* ^H is an ordinary character with Linux's defaults */
	CHECK_STR(echo, "ab^H\r\n");
	CHECK_STR(rd(100), "ab\b\n");
	struct lx_termios t = ld.t;
	t.c_cc[LX_VERASE] = '\b'; /* stty erase ^H */
	lx_ldisc_set(&ld, &t);
	feed("ab\b\n");
	CHECK_STR(echo, "ab\b \b\r\n");
	CHECK_STR(rd(100), "a\n");
}

static void erase_of_a_control_character_takes_two_columns(void)
{
	fresh();
	feed("a\001\177\n");
	CHECK_STR(echo, "a^A\b \b\b \b\r\n");
	CHECK_STR(rd(100), "a\n");
}

static void erase_of_a_tab_goes_back_to_its_column(void)
{
	fresh();
	feed("ab\t\177");
	CHECK_STR(echo, "ab\t\b \b\b \b\b \b\b \b\b \b\b \b");
	feed("\n");
	CHECK_STR(rd(100), "ab\n");
}

static void erase_removes_a_whole_utf8_character(void)
{
	fresh();
	feed("a\xc3\xa9\177\n"); /* e-acute is two bytes, one column */
	CHECK_STR(echo, "a\xc3\xa9\b \b\r\n");
	CHECK_STR(rd(100), "a\n");
}

static void kill_ctrl_u_erases_the_line(void)
{
	fresh();
	feed("abc\025");
	CHECK_STR(echo, "abc\b \b\b \b\b \b"); /* ECHOKE: erased on the screen */
	feed("d\n");
	CHECK_STR(rd(100), "d\n");
	ld.t.c_lflag &= ~LX_ECHOKE; /* ECHOK: the kill character, then a newline */
	feed("xy\025z\n");
	CHECK_STR(echo, "xy^U\r\nz\r\n");
	CHECK_STR(rd(100), "z\n");
}

static void word_erase_ctrl_w_removes_the_last_word(void)
{
	fresh();
	feed("echo foo bar  \027");
	CHECK_STR(rd(100), "<block>");
	feed("\n");
	CHECK_STR(rd(100), "echo foo \n");
	feed("one\027\027x\n");
	CHECK_STR(rd(100), "x\n");
	ld.t.c_lflag &= ~LX_IEXTEN; /* without IEXTEN ^W is an ordinary character */
	feed("a\027\n");
	CHECK_STR(rd(100), "a\027\n");
}

static void eof_ctrl_d_ends_a_line_or_reads_as_end_of_file(void)
{
	fresh();
	CHECK_EQ(feed("\004"), 0);
	CHECK_STR(echo, ""); /* EOF is not echoed */
	CHECK(lx_ldisc_readable(&ld, 100));
	CHECK_STR(rd(100), ""); /* read returns 0: end of file */
	CHECK_STR(rd(100), "<block>");
	feed("abc\004"); /* a non-empty line: returned without a newline */
	CHECK_STR(rd(100), "abc");
	CHECK_STR(rd(100), "<block>"); /* and no empty read after it */
	feed("\004\004");
	CHECK_STR(rd(100), "");
	CHECK_STR(rd(100), "");
}

static void isig_characters_raise_signals_and_flush(void)
{
	fresh();
	feed("partial");
	CHECK_EQ(feed("\003"), 2); /* SIGINT */
	CHECK_STR(echo, "^C");
	CHECK_EQ(ld.line_len, 0);
	CHECK_EQ(feed("\034"), 3);  /* SIGQUIT */
	CHECK_EQ(feed("\032"), 20); /* SIGTSTP */
	CHECK_STR(echo, "^Z");
	ld.t.c_lflag |= LX_NOFLSH;
	feed("keep");
	CHECK_EQ(feed("\003"), 2);
	CHECK_EQ(ld.line_len, 4);
	ld.t.c_lflag &= ~LX_ISIG;
	CHECK_EQ(feed("\003"), 0); /* without ISIG: an ordinary character */
	feed("\n");
	CHECK_STR(rd(100), "keep\003\n");
	/* a disabled character (_POSIX_VDISABLE, 0) never matches NUL */
	fresh();
	ld.t.c_cc[LX_VINTR] = 0;
	CHECK_EQ(lx_ldisc_input(&ld, 0), 0);
	CHECK_EQ(lx_ldisc_input(&ld, 3), 0);
}

static void echo_off_and_echonl(void)
{
	fresh();
	ld.t.c_lflag &= ~LX_ECHO;
	feed("secret\n");
	CHECK_STR(echo, "");
	CHECK_STR(rd(100), "secret\n");
	ld.t.c_lflag |= LX_ECHONL; /* the newline alone is echoed */
	feed("pw\n");
	CHECK_STR(echo, "\r\n");
	CHECK_STR(rd(100), "pw\n");
}

static void input_cr_nl_mapping(void)
{
	fresh();
	ld.t.c_iflag &= ~LX_ICRNL;
	feed("a\r\n");
	CHECK_STR(rd(100), "a\r\n");
	ld.t.c_iflag |= LX_IGNCR;
	feed("b\r\n");
	CHECK_STR(rd(100), "b\n");
	ld.t.c_iflag = LX_INLCR;
	ld.t.c_cc[LX_VEOL] = '\r'; /* INLCR: a newline arrives as CR, here a line end */
	feed("c\n");
	CHECK_STR(rd(100), "c\r");
	fresh();
	ld.t.c_iflag |= LX_ISTRIP;
	feed("\xe1\n");
	CHECK_STR(rd(100), "a\n");
}

static void literal_next_ctrl_v_quotes_a_special_character(void)
{
	fresh();
	feed("a\026\003\026\177\n");
	CHECK_STR(rd(100), "a\003\177\n");
	CHECK_STR(echo, "a^\b^C^\b^?\r\n");
}

static void reprint_ctrl_r_shows_the_line_again(void)
{
	fresh();
	feed("ab\022");
	CHECK_STR(echo, "ab^R\r\nab");
	feed("\n");
	CHECK_STR(rd(100), "ab\n");
}

static void raw_mode_vmin_decides_when_a_read_returns(void)
{
	fresh();
	raw(1);
	CHECK_STR(rd(10), "<block>");
	feed("x");
	CHECK_STR(echo, ""); /* no echo */
	CHECK_STR(rd(10), "x");
	raw(3);
	feed("ab");
	CHECK_STR(rd(10), "<block>");
	CHECK(lx_ldisc_readable(&ld, 2)); /* a read of 2 is satisfied by 2 */
	feed("c\003\r\177");              /* no ISIG, no ICRNL, no erase: every byte as it came */
	CHECK_STR(rd(10), "abc\003\r\177");
	raw(0); /* VMIN 0 (VTIME 0): a read returns at once, even with nothing */
	CHECK(lx_ldisc_readable(&ld, 10));
	CHECK_STR(rd(10), "");
}

static void set_vtime(uint8_t vmin, uint8_t vtime)
{
	struct lx_termios t = ld.t;
	t.c_cc[LX_VMIN] = vmin;
	t.c_cc[LX_VTIME] = vtime;
	lx_ldisc_set(&ld, &t);
}

#define DS 100000000ull /* VTIME counts tenths of a second */

/* termios(3): MIN 0 TIME 0 polls; MIN > 0 TIME 0 blocks for MIN bytes; MIN 0 TIME > 0 is a read
 * with a timeout (any byte ends it); MIN > 0 TIME > 0 starts an inter-byte timer at the first
 * byte, and a read then ends at MIN bytes or when TIME passes without a new byte. */
static void vmin_vtime_four_cases(void)
{
	fresh();
	raw(0);
	CHECK_EQ(lx_ldisc_wait_ns(&ld, 10, 0), 0); /* polling: at once, with nothing */
	set_vtime(2, 0);
	CHECK_EQ(lx_ldisc_wait_ns(&ld, 10, 5 * DS), -1); /* no timer at all */
	feed("a");
	CHECK_EQ(lx_ldisc_wait_ns(&ld, 10, 5 * DS), -1);
	CHECK_EQ(lx_ldisc_wait_ns(&ld, 1, 0), 0); /* a read of 1 is satisfied by 1 */
	feed("b");
	CHECK_EQ(lx_ldisc_wait_ns(&ld, 10, 0), 0);
	CHECK_STR(rd(10), "ab");

	set_vtime(0, 5); /* a read with a timeout of 0.5 s */
	CHECK_EQ(lx_ldisc_wait_ns(&ld, 10, 0), (int64_t)(5 * DS));
	CHECK_EQ(lx_ldisc_wait_ns(&ld, 10, 9 * DS), (int64_t)(5 * DS)); /* from the read's start */
	feed("c");
	CHECK_EQ(lx_ldisc_wait_ns(&ld, 10, 0), 0); /* one byte ends it */
	CHECK_STR(rd(10), "c");

	set_vtime(3, 2);                                 /* inter-byte timer of 0.2 s */
	CHECK_EQ(lx_ldisc_wait_ns(&ld, 10, 9 * DS), -1); /* before the first byte: no timer */
	feed("d");
	CHECK_EQ(lx_ldisc_wait_ns(&ld, 10, 0), (int64_t)(2 * DS));
	CHECK_EQ(lx_ldisc_wait_ns(&ld, 10, DS / 2), (int64_t)(2 * DS - DS / 2));
	CHECK_EQ(lx_ldisc_wait_ns(&ld, 10, 2 * DS), 0); /* the timer ran out: what there is */
	feed("ef");
	CHECK_EQ(lx_ldisc_wait_ns(&ld, 10, 0), 0); /* MIN reached */
	CHECK_EQ(lx_ldisc_wait_ns(&ld, 2, 0), 0);
	CHECK_STR(rd(10), "def");

	fresh(); /* canonical mode ignores both */
	set_vtime(0, 5);
	CHECK_EQ(lx_ldisc_wait_ns(&ld, 10, 9 * DS), -1);
	feed("x\r");
	CHECK_EQ(lx_ldisc_wait_ns(&ld, 10, 0), 0);
}

static void raw_mode_with_echo_echoes_control_characters(void)
{
	fresh();
	raw(1);
	ld.t.c_lflag |= LX_ECHO | LX_ECHOCTL;
	feed("a\033");
	CHECK_STR(echo, "a^[");
	CHECK_STR(rd(10), "a\033");
}

static void switching_modes_keeps_unread_input(void)
{
	fresh();
	feed("half");
	raw(1); /* the line being edited becomes readable */
	CHECK_STR(rd(100), "half");
	feed("xy");
	struct lx_termios t = ld.t;
	t.c_lflag |= LX_ICANON;
	lx_ldisc_set(&ld, &t); /* unread raw input starts the new line */
	CHECK_STR(rd(100), "<block>");
	feed("z\n");
	CHECK_STR(rd(100), "xyz\n");
	feed("gone");
	lx_ldisc_flush_input(&ld);
	feed("\n");
	CHECK_STR(rd(100), "\n");
}

static void output_processing_onlcr_ocrnl_onocr(void)
{
	uint8_t out[64];
	size_t n;

	fresh();
	n = lx_ldisc_output(&ld, (const uint8_t *)"a\nb", 3, out);
	CHECK_EQ(n, 4);
	CHECK(!memcmp(out, "a\r\nb", 4));
	ld.t.c_oflag &= ~LX_OPOST; /* raw output: bytes as written */
	n = lx_ldisc_output(&ld, (const uint8_t *)"a\nb", 3, out);
	CHECK_EQ(n, 3);
	CHECK(!memcmp(out, "a\nb", 3));
	ld.t.c_oflag = LX_OPOST | LX_OCRNL;
	n = lx_ldisc_output(&ld, (const uint8_t *)"\r", 1, out);
	CHECK_EQ(n, 1);
	CHECK_EQ(out[0], '\n');
	ld.t.c_oflag = LX_OPOST | LX_ONOCR;
	ld.column = 0;
	n = lx_ldisc_output(&ld, (const uint8_t *)"\rx\r", 3, out);
	CHECK_EQ(n, 2); /* a CR at column 0 is dropped */
	CHECK(!memcmp(out, "x\r", 2));
}

static void long_lines_and_full_buffers_drop_input_without_overflow(void)
{
	fresh();
	for (uint32_t i = 0; i < LX_LDISC_LINE + 100; i++)
		lx_ldisc_input(&ld, 'x');
	CHECK_EQ(ld.line_len, LX_LDISC_LINE);
	lx_ldisc_input(&ld, '\n');
	CHECK_EQ(lx_ldisc_pending(&ld), LX_LDISC_LINE + 1);
	lx_ldisc_take_out(&ld, (uint8_t *)echo);
	for (uint32_t i = 0; i < 3 * LX_LDISC_IN; i++) /* a full queue: no more lines are taken */
		lx_ldisc_input(&ld, i % 5 ? 'y' : '\n');
	CHECK(ld.in_len <= LX_LDISC_IN);
	CHECK(ld.out_len <= LX_LDISC_OUT);
	raw(1);
	for (uint32_t i = 0; i < 3 * LX_LDISC_IN; i++)
		lx_ldisc_input(&ld, 'z');
	CHECK(ld.in_len <= LX_LDISC_IN);
	static uint8_t buf[LX_LDISC_IN];
	CHECK(lx_ldisc_read(&ld, buf, sizeof(buf)) <= LX_LDISC_IN);
}

static void random_input_keeps_the_invariants(void)
{
	static uint8_t buf[LX_LDISC_IN];

	fresh();
	for (int i = 0; i < 200000 && !kt_failed(); i++) {
		uint64_t r = kt_rand();
		if (r % 1000 == 0) {
			struct lx_termios t = ld.t;
			t.c_lflag ^= (uint32_t)(r >> 10) & 0xffff;
			t.c_iflag ^= (uint32_t)(r >> 26) & 0xffff;
			t.c_oflag ^= (uint32_t)(r >> 42) & 0x3f;
			t.c_cc[LX_VMIN] = (uint8_t)(r >> 50);
			lx_ldisc_set(&ld, &t);
		}
		lx_ldisc_input(&ld, (uint8_t)(r >> 8));
		if (r % 7 == 0 && lx_ldisc_readable(&ld, (r >> 20) % 300 + 1))
			CHECK(lx_ldisc_read(&ld, buf, (r >> 20) % 300 + 1) <= (r >> 20) % 300 + 1);
		if (r % 3 == 0)
			lx_ldisc_take_out(&ld, buf);
		CHECK(ld.in_len <= LX_LDISC_IN && ld.line_len <= LX_LDISC_LINE &&
		      ld.out_len <= LX_LDISC_OUT && ld.in_lines <= ld.in_len);
	}
}

int main(int argc, char **argv)
{
	static const struct kt_case cases[] = {
	    KT(defaults_are_linux_sane_and_80x24),
	    KT(canonical_reads_wait_for_a_line_and_echo_it),
	    KT(canonical_read_returns_one_line_at_a_time),
	    KT(erase_del_removes_a_character_with_echoe),
	    KT(erase_without_echoe_echoes_the_erase_character),
	    KT(backspace_erases_only_when_it_is_verase),
	    KT(erase_of_a_control_character_takes_two_columns),
	    KT(erase_of_a_tab_goes_back_to_its_column),
	    KT(erase_removes_a_whole_utf8_character),
	    KT(kill_ctrl_u_erases_the_line),
	    KT(word_erase_ctrl_w_removes_the_last_word),
	    KT(eof_ctrl_d_ends_a_line_or_reads_as_end_of_file),
	    KT(isig_characters_raise_signals_and_flush),
	    KT(echo_off_and_echonl),
	    KT(input_cr_nl_mapping),
	    KT(literal_next_ctrl_v_quotes_a_special_character),
	    KT(reprint_ctrl_r_shows_the_line_again),
	    KT(raw_mode_vmin_decides_when_a_read_returns),
	    KT(vmin_vtime_four_cases),
	    KT(raw_mode_with_echo_echoes_control_characters),
	    KT(switching_modes_keeps_unread_input),
	    KT(output_processing_onlcr_ocrnl_onocr),
	    KT(long_lines_and_full_buffers_drop_input_without_overflow),
	    KT(random_input_keeps_the_invariants),
	};
	kt_group = "ldisc";
	return kt_main(cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
