/*
 * Host tests of the screen tty's two pure modules, under ASan + UBSan:
 * the PS/2 scancode decoder (user/linux/kbd.c) against scancode set 1 and
 * the bytes Linux's console sends for each key, and the screen emulator
 * (user/linux/screen.c) against console_codes(4): control characters,
 * escape sequences, scrolling, wrapping, and bad input (unknown codes,
 * sequences cut short or too long, huge writes).
 */
#include "ktharness.h"

#include "linux/kbd.h"
#include "linux/screen.h"
#include <stdio.h>
#include <string.h>

static struct lx_kbd kb;
static struct lx_screen scr;

/* The bytes a run of scancodes produces, as a string. */
static const char *keys(const uint8_t *sc, size_t n)
{
	static char buf[256];
	size_t len = 0;
	uint8_t out[LX_KBD_OUT];

	for (size_t i = 0; i < n; i++) {
		size_t k = lx_kbd_byte(&kb, sc[i], out);
		CHECK(k <= LX_KBD_OUT);
		memcpy(buf + len, out, k);
		len += k;
	}
	buf[len] = 0;
	return buf;
}
#define KEYS(...) keys((const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}))

static void letters_digits_and_enter(void)
{
	lx_kbd_init(&kb);
	/* "ls -l" Enter: make and break codes of each key. */
	CHECK_STR(KEYS(0x26, 0xa6, 0x1f, 0x9f, 0x39, 0xb9, 0x0c, 0x8c, 0x26, 0xa6, 0x1c, 0x9c),
	          "ls -l\r");
	CHECK_STR(KEYS(0x02, 0x0b, 0x29, 0x2b, 0x35), "10`\\/");
	CHECK_STR(KEYS(0x0e, 0x0f, 0x01), "\x7f\t\x1b"); /* Backspace is DEL, as Linux's */
}

static void shift_and_caps_lock(void)
{
	lx_kbd_init(&kb);
	CHECK_STR(KEYS(0x2a, 0x1e, 0x02, 0x28, 0xaa, 0x1e), "A!\"a");
	CHECK_STR(KEYS(0x36, 0x34, 0x1a, 0xb6, 0x34), ">{.");
	/* Caps lock: letters only, and shift undoes it; a second press turns it off. */
	CHECK_STR(KEYS(0x3a, 0xba, 0x1e, 0x02, 0x2a, 0x1e, 0xaa, 0x3a, 0xba, 0x1e), "A1aa");
}

static void ctrl_c_d_z_and_friends(void)
{
	lx_kbd_init(&kb);
	CHECK_STR(KEYS(0x1d, 0x2e, 0xae, 0x20, 0xa0, 0x2c, 0x9d), "\x03\x04\x1a");
	/* Right ctrl (e0 1d), ctrl-[ is ESC, ctrl-space NUL (counted, not a string end). */
	CHECK_STR(KEYS(0xe0, 0x1d, 0x16, 0x1a, 0xe0, 0x9d, 0x16), "\x15\x1bu");
	uint8_t out[LX_KBD_OUT];
	lx_kbd_byte(&kb, 0x1d, out);
	CHECK_EQ(lx_kbd_byte(&kb, 0x39, out), 1);
	CHECK_EQ(out[0], 0);
	lx_kbd_byte(&kb, 0x9d, out);
	/* Alt-b: ESC b. */
	CHECK_STR(KEYS(0x38, 0x30, 0xb8, 0x30), "\x1b"
	                                        "bb");
}

static void cursor_and_editing_keys_send_linux_sequences(void)
{
	lx_kbd_init(&kb);
	CHECK_STR(KEYS(0xe0, 0x48, 0xe0, 0xc8), "\x1b[A");
	CHECK_STR(KEYS(0xe0, 0x50, 0xe0, 0x4d, 0xe0, 0x4b), "\x1b[B\x1b[C\x1b[D");
	CHECK_STR(KEYS(0xe0, 0x47, 0xe0, 0x4f, 0xe0, 0x53, 0xe0, 0x52),
	          "\x1b[1~\x1b[4~\x1b[3~\x1b[2~");
	CHECK_STR(KEYS(0x3b, 0x44, 0x58), "\x1b[[A\x1b[21~\x1b[24~");
	/* The fake shifts around a cursor key (e0 2a ... e0 aa) change nothing. */
	CHECK_STR(KEYS(0xe0, 0x2a, 0xe0, 0x48, 0xe0, 0xc8, 0xe0, 0xaa, 0x1e), "\x1b[Aa");
	CHECK_STR(KEYS(0xe0, 0x1c, 0xe0, 0x35), "\r/");
}

static void unknown_codes_prefixes_and_pause_produce_nothing(void)
{
	lx_kbd_init(&kb);
	CHECK_STR(KEYS(0x54, 0x55, 0x56, 0x59, 0x7f, 0xe0, 0x10, 0xe0, 0x7e), "");
	CHECK_EQ(kb.unknown, 7);
	/* Pause (e1 1d 45 e1 9d c5), controller replies (ack fa, resend fe, overrun 00/ff) and
	 * releases of keys never pressed: nothing, and state intact. */
	CHECK_STR(KEYS(0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5, 0xfa, 0xfe, 0x00, 0xff, 0x9e, 0x1e),
	          "a");
	CHECK(!kb.lshift && !kb.lctrl && !kb.caps && !kb.e0);
	/* Every byte, in every state: never more than LX_KBD_OUT. */
	for (int i = 0; i < 200000; i++)
		keys((const uint8_t[]){(uint8_t)kt_rand()}, 1);
}

/* ---- the screen ---- */

/* Row y as text, trailing blanks cut. */
static const char *row(uint32_t y)
{
	static char buf[LX_SCR_COLS + 1];
	int end = 0;

	for (int x = 0; x < LX_SCR_COLS; x++) {
		buf[x] = (char)(scr.cell[y][x] & 0xff);
		if (buf[x] != ' ')
			end = x + 1;
	}
	buf[end] = 0;
	return buf;
}

static void out(const char *s)
{
	lx_screen_write(&scr, (const uint8_t *)s, strlen(s));
}

static void text_newlines_and_carriage_return(void)
{
	lx_screen_init(&scr);
	CHECK_EQ(scr.dirty_lo, 0);
	CHECK_EQ(scr.dirty_hi, LX_SCR_ROWS);
	out("hello\r\nworld\rW\n");
	CHECK_STR(row(0), "hello");
	CHECK_STR(row(1), "World");
	/* LF alone goes down without a carriage return, as the console's. */
	CHECK_EQ(scr.y, 2);
	CHECK_EQ(scr.x, 1);
	CHECK_EQ(scr.cell[0][0], 0x0700 | 'h');
}

static void backspace_tab_and_bell(void)
{
	lx_screen_init(&scr);
	out("abc\b\bX\a\tY\b\b\b\b\b\b\b\b\b\b\b\bZ");
	CHECK_STR(row(0), "ZXc     Y");
	out("\r\t\t\t\t\t\t\t\t\t\t\t");
	CHECK_EQ(scr.x, LX_SCR_COLS - 1); /* a tab stops at the last column */
}

static void scrolling_moves_rows_up_and_blanks_the_last(void)
{
	lx_screen_init(&scr);
	char line[32];
	for (int i = 0; i < 30; i++) {
		snprintf(line, sizeof(line), "line %d\r\n", i);
		out(line);
	}
	CHECK_STR(row(0), "line 6");
	CHECK_STR(row(23), "line 29");
	CHECK_STR(row(24), "");
	CHECK_EQ(scr.y, LX_SCR_ROWS - 1);
	/* ESC M on the top row scrolls down. */
	out("\x1b[H\x1bM");
	CHECK_STR(row(0), "");
	CHECK_STR(row(1), "line 6");
}

static void autowrap_waits_for_the_next_character(void)
{
	lx_screen_init(&scr);
	for (int i = 0; i < LX_SCR_COLS; i++)
		out("x");
	CHECK_EQ(scr.y, 0); /* at the last column, the wrap pending */
	CHECK_EQ(scr.x, LX_SCR_COLS - 1);
	out("\r\n"); /* a CR then cancels it: no blank line */
	CHECK_EQ(scr.y, 1);
	for (int i = 0; i < LX_SCR_COLS + 1; i++)
		out("y");
	CHECK_EQ(scr.y, 2);
	CHECK_STR(row(2), "y");
}

static void cursor_moves_and_erases_busybox_uses(void)
{
	lx_screen_init(&scr);
	out("$ echo hello world");
	/* What busybox's line editing sends for ^U after moving left: back, erase to the end. */
	out("\x1b[5D\x1b[K");
	CHECK_STR(row(0), "$ echo hello");
	out("\r\x1b[2C\x1b[J");
	CHECK_STR(row(0), "$");
	out("\x1b[3;10HA\x1b[2AB\x1b[BC\x1b[1;1H\x1b[5CD\x1b[99;99HE");
	CHECK_STR(row(2), "         A");
	CHECK_STR(row(0), "$    D    B");
	CHECK_STR(row(1), "           C");
	CHECK_STR(
	    row(24),
	    "                                                                               E");
	out("\x1b[2J\x1b[H");
	for (int y = 0; y < LX_SCR_ROWS; y++)
		CHECK_STR(row(y), "");
	out("abcdef\x1b[4D\x1b[2P");
	CHECK_STR(row(0), "abef");
	out("\x1b[3@");
	CHECK_STR(row(0), "ab   ef");
	out("\x1b[1K");
	CHECK_STR(row(0), "     ef");
	out("\x1b[2K");
	CHECK_STR(row(0), "");
}

static void colours_reverse_and_reset(void)
{
	lx_screen_init(&scr);
	out("\x1b[1;31;44mR\x1b[7mV\x1b[0mN\x1b[mM");
	CHECK_EQ(scr.cell[0][0], 0x1c00 | 'R'); /* bright red (VGA 4 + 8) on blue (VGA 1) */
	CHECK_EQ(scr.cell[0][1], 0x4900 | 'V'); /* reversed, brightness kept */
	CHECK_EQ(scr.cell[0][2], 0x0700 | 'N');
	CHECK_EQ(scr.cell[0][3], 0x0700 | 'M');
}

static void cursor_position_report_is_answered(void)
{
	lx_screen_init(&scr);
	out("\x1b[12;34H\x1b[6n");
	CHECK_EQ(scr.reply_len, 8);
	CHECK(!memcmp(scr.reply, "\x1b[12;34R", 8));
	scr.reply_len = 0;
	for (int i = 0; i < 10; i++) /* a full reply buffer drops answers, never overflows */
		out("\x1b[6n");
	CHECK(scr.reply_len <= sizeof(scr.reply));
	out("\x1b[?25l");
	CHECK(!scr.cursor_on);
	out("\x1b[?25h");
	CHECK(scr.cursor_on);
}

static void sequences_split_between_writes_still_work(void)
{
	lx_screen_init(&scr);
	const char *s = "\x1b[3;5Hok\x1b[1;32mG";
	for (size_t i = 0; s[i]; i++)
		lx_screen_write(&scr, (const uint8_t *)s + i, 1);
	CHECK_STR(row(2), "    okG");
	CHECK_EQ(scr.cell[2][6], 0x0a00 | 'G');
}

static void bad_sequences_are_dropped_never_drawn_half(void)
{
	lx_screen_init(&scr);
	/* Unknown finals, too many parameters, huge numbers, intermediates, a sequence cut by
	 * CAN or by another ESC, an ESC at the very end. */
	out("a\x1b[5z"
	    "b\x1b[1;2;3;4;5;6;7;8;9;10;11mc"
	    "\x1b[99999999999999999999Cd"
	    "\x1b[1 qe"
	    "\x1b[12\x18"
	    "f"
	    "\x1b[3\x1b[1Dg"
	    "\x1b(Bh\x1b#8i\x1b");
	/* The huge column is capped: 'd' on the last column, and 'e' wraps to the next row. */
	CHECK(!strncmp(row(0), "abc   ", 6));
	CHECK_EQ(strlen(row(0)), LX_SCR_COLS);
	CHECK_EQ(scr.cell[0][LX_SCR_COLS - 1] & 0xff, 'd');
	CHECK_EQ(scr.cell[0][2], 0x0700 | 'c'); /* the dropped SGR changed no colour */
	/* CAN ended "ESC [ 12" (f drawn), ESC restarted "ESC [ 3" (g over f), charset choices
	 * took their argument. */
	CHECK_STR(row(1), "eghi");
	CHECK_STR(row(24), "");
	CHECK_EQ(scr.state, 1); /* the final ESC waits for its next byte */
	out("Xz");
	CHECK_STR(row(1), "eghiz");
	/* UTF-8: one '?' cell per character, continuation bytes dropped. */
	out("\r\n\xc3\xa9t\xe2\x82\xac!\x80");
	CHECK_STR(row(2), "?t?!?");
}

static void huge_and_random_writes_keep_the_cursor_on_screen(void)
{
	lx_screen_init(&scr);
	static uint8_t buf[1 << 20];
	for (size_t i = 0; i < sizeof(buf); i++) {
		uint64_t r = kt_rand();
		buf[i] = (uint8_t)(r % 5 == 0 ? "\x1b[;?0123456789HJKmABCDrM\r\n\b\t"[r % 28]
		                              : (uint8_t)r);
	}
	for (size_t off = 0; off < sizeof(buf); off += 4093) {
		size_t n = sizeof(buf) - off < 4093 ? sizeof(buf) - off : 4093;
		lx_screen_write(&scr, buf + off, n);
		CHECK(scr.x < LX_SCR_COLS && scr.y < LX_SCR_ROWS);
		CHECK(scr.top < scr.bottom && scr.bottom < LX_SCR_ROWS);
		CHECK(scr.nparam <= LX_SCR_PARAMS && scr.reply_len <= sizeof(scr.reply));
		CHECK(scr.dirty_hi <= LX_SCR_ROWS);
		scr.reply_len = 0;
	}
	/* One write of a megabyte of text: the last line shows its end. */
	lx_screen_init(&scr);
	memset(buf, 'q', sizeof(buf));
	memcpy(buf + sizeof(buf) - 4, "END\n", 4);
	lx_screen_write(&scr, buf, sizeof(buf));
	CHECK(strstr(row(23), "END") != NULL);
}

int main(int argc, char **argv)
{
	static const struct kt_case cases[] = {
	    KT(letters_digits_and_enter),
	    KT(shift_and_caps_lock),
	    KT(ctrl_c_d_z_and_friends),
	    KT(cursor_and_editing_keys_send_linux_sequences),
	    KT(unknown_codes_prefixes_and_pause_produce_nothing),
	    KT(text_newlines_and_carriage_return),
	    KT(backspace_tab_and_bell),
	    KT(scrolling_moves_rows_up_and_blanks_the_last),
	    KT(autowrap_waits_for_the_next_character),
	    KT(cursor_moves_and_erases_busybox_uses),
	    KT(colours_reverse_and_reset),
	    KT(cursor_position_report_is_answered),
	    KT(sequences_split_between_writes_still_work),
	    KT(bad_sequences_are_dropped_never_drawn_half),
	    KT(huge_and_random_writes_keep_the_cursor_on_screen),
	};
	kt_group = "vt";
	return kt_main(cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
