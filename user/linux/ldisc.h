/*
 * The line discipline of the Linux personality's console tty (Linux's
 * N_TTY semantics, as termios(3) and POSIX describe them): input
 * processing (ICRNL, INLCR, IGNCR, ISTRIP, IUTF8), canonical editing
 * (erase, word erase, kill, EOF, literal next, reprint), echo (ECHO,
 * ECHOE, ECHOK, ECHOKE, ECHONL, ECHOCTL), the signal characters (ISIG),
 * non-canonical reads with VMIN, and output processing (OPOST, ONLCR,
 * OCRNL, ONOCR, ONLRET).
 *
 * A pure module: bytes in, bytes out, no platform. The tty glue
 * (user/linux/tty.c) feeds it what the UART received, sends the signals
 * it reports to the foreground process group and writes its echo and
 * output to the console. Host tests: tests/host/linux/ldisc_test.c.
 */
#ifndef USER_LINUX_LDISC_H
#define USER_LINUX_LDISC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* struct termios of the Linux kernel (TCGETS/TCSETS; asm-generic/termbits.h): 36 bytes. */
#define LX_NCCS 19
struct lx_termios {
	uint32_t c_iflag, c_oflag, c_cflag, c_lflag;
	uint8_t c_line;
	uint8_t c_cc[LX_NCCS];
};
_Static_assert(sizeof(struct lx_termios) == 36, "Linux's struct termios");

/* c_cc indexes. */
enum {
	LX_VINTR = 0,
	LX_VQUIT = 1,
	LX_VERASE = 2,
	LX_VKILL = 3,
	LX_VEOF = 4,
	LX_VTIME = 5,
	LX_VMIN = 6,
	LX_VSWTC = 7,
	LX_VSTART = 8,
	LX_VSTOP = 9,
	LX_VSUSP = 10,
	LX_VEOL = 11,
	LX_VREPRINT = 12,
	LX_VDISCARD = 13,
	LX_VWERASE = 14,
	LX_VLNEXT = 15,
	LX_VEOL2 = 16,
};

/* c_iflag */
#define LX_IGNBRK 0000001u
#define LX_BRKINT 0000002u
#define LX_ISTRIP 0000040u
#define LX_INLCR  0000100u
#define LX_IGNCR  0000200u
#define LX_ICRNL  0000400u
#define LX_IXON   0002000u
#define LX_IUTF8  0040000u
/* c_oflag */
#define LX_OPOST  0000001u
#define LX_ONLCR  0000004u
#define LX_OCRNL  0000010u
#define LX_ONOCR  0000020u
#define LX_ONLRET 0000040u
/* c_cflag */
#define LX_B38400 0000017u
#define LX_CS8    0000060u
#define LX_CREAD  0000200u
#define LX_HUPCL  0002000u
#define LX_CLOCAL 0004000u
/* c_lflag */
#define LX_ISIG    0000001u
#define LX_ICANON  0000002u
#define LX_ECHO    0000010u
#define LX_ECHOE   0000020u
#define LX_ECHOK   0000040u
#define LX_ECHONL  0000100u
#define LX_NOFLSH  0000200u
#define LX_TOSTOP  0000400u
#define LX_ECHOCTL 0001000u
#define LX_ECHOPRT 0002000u
#define LX_ECHOKE  0004000u
#define LX_IEXTEN  0100000u

#define LX_LDISC_IN   4096u  /* input the readers have not taken (N_TTY_BUF_SIZE) */
#define LX_LDISC_LINE 4095u  /* the longest canonical line (without its terminator) */
#define LX_LDISC_OUT  8192u  /* echo waiting to be written out */
#define LX_LDISC_EOF  0x100u /* in in[]: an end-of-file mark (VEOF), never copied to a reader */

struct lx_ldisc {
	struct lx_termios t;
	uint16_t in[LX_LDISC_IN]; /* readable: bytes and EOF marks */
	uint32_t in_len;
	uint32_t in_lines; /* canonical: complete lines (terminators) in in[] */
	uint8_t line[LX_LDISC_LINE];
	uint32_t line_len;  /* canonical: the line being edited */
	uint32_t line_col0; /* the output column where it began (for erasing tabs) */
	uint32_t column;    /* the output column, as output processing tracks it */
	bool lnext;         /* the last byte was VLNEXT: the next one is taken literally */
	uint8_t out[LX_LDISC_OUT];
	uint32_t out_len;
	uint16_t rows, cols; /* TIOCGWINSZ */
};

/* Linux's defaults for a serial console (stty sane: icrnl ixon opost onlcr isig icanon iexten
 * echo echoe echok echoctl echoke), 80 x 24. */
void lx_ldisc_init(struct lx_ldisc *ld);

/* One received byte: returns the signal it raises (2 SIGINT, 3 SIGQUIT, 20 SIGTSTP) or 0. Echo
 * goes to out[] (lx_ldisc_take_out). */
int lx_ldisc_input(struct lx_ldisc *ld, uint8_t c);

/* Can a read of up to cap bytes (cap > 0) be served now (VMIN in raw mode; a complete line or
 * EOF in canonical mode)? */
bool lx_ldisc_readable(const struct lx_ldisc *ld, size_t cap);

/* termios(3)'s four cases of VMIN and VTIME for a read of up to cap bytes (cap > 0), the last
 * byte having come ns_since_byte ago: 0 to read now, -1 to wait for input without a time limit,
 * or the ns to wait at most: with VMIN 0 that is VTIME, counted by the caller from the start of
 * the read (a read that times out returns 0 bytes); with VMIN > 0, once a byte has come, what is
 * left of the inter-byte timer (when it runs out the read takes what there is). Canonical mode
 * and VTIME 0: lx_ldisc_readable's answer (0 or -1). */
int64_t lx_ldisc_wait_ns(const struct lx_ldisc *ld, size_t cap, uint64_t ns_since_byte);

/* Take up to cap bytes for a reader (one line at most in canonical mode; an EOF mark ends the
 * read and is consumed). The caller checked lx_ldisc_readable; returns the bytes taken. */
size_t lx_ldisc_read(struct lx_ldisc *ld, uint8_t *dst, size_t cap);

/* Bytes a read could take (FIONREAD): complete lines in canonical mode, everything otherwise. */
uint32_t lx_ldisc_pending(const struct lx_ldisc *ld);

/* Output processing of n bytes written by a process into dst (room for 2 n): bytes in dst. */
size_t lx_ldisc_output(struct lx_ldisc *ld, const uint8_t *src, size_t n, uint8_t *dst);

/* Move the pending echo to dst (room for LX_LDISC_OUT): bytes moved. */
size_t lx_ldisc_take_out(struct lx_ldisc *ld, uint8_t *dst);

/* TCSETS*: new settings (a switch between canonical and raw mode keeps the unread input:
 * the line being edited becomes readable, or unread raw input the start of a line). */
void lx_ldisc_set(struct lx_ldisc *ld, const struct lx_termios *t);

/* TCFLSH / TCSETSF / a signal character without NOFLSH: drop the unread input. */
void lx_ldisc_flush_input(struct lx_ldisc *ld);

#endif
