/*
 * The console tty's line discipline (see ldisc.h): Linux N_TTY semantics
 * for input, canonical editing, echo, signal characters and output
 * processing. Facts from termios(3), POSIX "General Terminal Interface"
 * and Linux's defaults (stty sane); the code is ours.
 */
#include "ldisc.h"

#include <lib/string.h>

#define SIGINT  2
#define SIGQUIT 3
#define SIGTSTP 20

void lx_ldisc_init(struct lx_ldisc *ld)
{
	static const uint8_t cc[LX_NCCS] = {
	    [LX_VINTR] = 003,  [LX_VQUIT] = 034,    [LX_VERASE] = 0177,  [LX_VKILL] = 025,
	    [LX_VEOF] = 004,   [LX_VMIN] = 1,       [LX_VSTART] = 021,   [LX_VSTOP] = 023,
	    [LX_VSUSP] = 032,  [LX_VREPRINT] = 022, [LX_VDISCARD] = 017, [LX_VWERASE] = 027,
	    [LX_VLNEXT] = 026,
	};

	memset(ld, 0, sizeof(*ld));
	ld->t.c_iflag = LX_ICRNL | LX_IXON | LX_IUTF8;
	ld->t.c_oflag = LX_OPOST | LX_ONLCR;
	ld->t.c_cflag = LX_B38400 | LX_CS8 | LX_CREAD | LX_HUPCL | LX_CLOCAL;
	ld->t.c_lflag = LX_ISIG | LX_ICANON | LX_ECHO | LX_ECHOE | LX_ECHOK | LX_ECHOCTL |
	                LX_ECHOKE | LX_IEXTEN;
	memcpy(ld->t.c_cc, cc, sizeof(cc));
	ld->rows = 24, ld->cols = 80;
}

/* Is c the (enabled: _POSIX_VDISABLE is 0 on Linux) special character idx? */
static bool is(const struct lx_ldisc *ld, uint8_t c, int idx)
{
	return ld->t.c_cc[idx] && c == ld->t.c_cc[idx];
}

static bool canon(const struct lx_ldisc *ld)
{
	return ld->t.c_lflag & LX_ICANON;
}

static void out_byte(struct lx_ldisc *ld, uint8_t c)
{
	if (ld->out_len < LX_LDISC_OUT)
		ld->out[ld->out_len++] = c;
}

/* Where the output column goes after c (the column tracking of output processing). */
static uint32_t advance(const struct lx_ldisc *ld, uint32_t col, uint8_t c)
{
	if (c == '\t')
		return (col | 7) + 1;
	if (c == '\r' || (c == '\n' && (ld->t.c_oflag & (LX_ONLCR | LX_ONLRET))))
		return 0;
	if (c == '\b')
		return col ? col - 1 : 0;
	if (c < 0x20 || c == 0x7f)
		return col;
	if ((ld->t.c_iflag & LX_IUTF8) && (c & 0xc0) == 0x80)
		return col; /* a UTF-8 continuation byte takes no column */
	return col + 1;
}

/* Output processing of one byte into dst (at most 2 bytes): how many. */
static size_t opost(struct lx_ldisc *ld, uint8_t c, uint8_t *dst)
{
	size_t n = 0;
	uint32_t f = ld->t.c_oflag;

	if (!(f & LX_OPOST)) {
		dst[0] = c;
		return 1;
	}
	if (c == '\n' && (f & LX_ONLCR)) {
		dst[n++] = '\r';
		dst[n++] = '\n';
		ld->column = 0;
		return n;
	}
	if (c == '\r' && (f & LX_ONOCR) && ld->column == 0)
		return 0;
	if (c == '\r' && (f & LX_OCRNL)) {
		c = '\n';
		if (f & LX_ONLRET)
			ld->column = 0;
		dst[0] = c;
		return 1;
	}
	ld->column = advance(ld, ld->column, c);
	dst[0] = c;
	return 1;
}

static void echo_byte(struct lx_ldisc *ld, uint8_t c)
{
	uint8_t b[2];
	size_t n = opost(ld, c, b);

	for (size_t i = 0; i < n; i++)
		out_byte(ld, b[i]);
}

/* Echo an input byte as the terminal should show it: ^X for control characters (ECHOCTL). */
static void echo_char(struct lx_ldisc *ld, uint8_t c)
{
	if ((ld->t.c_lflag & LX_ECHOCTL) && (c < 0x20 || c == 0x7f) && c != '\t' && c != '\n') {
		echo_byte(ld, '^');
		echo_byte(ld, c ^ 0100);
		return;
	}
	echo_byte(ld, c);
}

/* Columns the echo of line[i] took, given the line so far started at line_col0. */
static uint32_t echo_width(const struct lx_ldisc *ld, uint32_t i)
{
	uint8_t c = ld->line[i];

	if (c == '\t') {
		uint32_t col = ld->line_col0;
		for (uint32_t k = 0; k < i; k++)
			col = ld->line[k] < 0x20 && ld->line[k] != '\t' &&
			              (ld->t.c_lflag & LX_ECHOCTL)
			          ? col + 2
			          : advance(ld, col, ld->line[k]);
		return (col | 7) + 1 - col;
	}
	if ((c < 0x20 || c == 0x7f) && (ld->t.c_lflag & LX_ECHOCTL))
		return 2;
	if (c < 0x20 || c == 0x7f)
		return 0;
	if ((ld->t.c_iflag & LX_IUTF8) && (c & 0xc0) == 0x80)
		return 0;
	return 1;
}

/* Erase the last character of the line (a whole UTF-8 sequence under IUTF8), echoing the
 * erasure: "\b \b" per column with ECHOE (or ECHOKE for a kill), else the erase character. */
static void erase_one(struct lx_ldisc *ld, uint8_t erase_ch, bool visual)
{
	uint32_t cols = 0;

	do {
		ld->line_len--;
		cols += echo_width(ld, ld->line_len);
	} while (ld->line_len && (ld->t.c_iflag & LX_IUTF8) &&
	         (ld->line[ld->line_len] & 0xc0) == 0x80);
	if (!(ld->t.c_lflag & LX_ECHO))
		return;
	if (!visual) {
		echo_char(ld, erase_ch);
		return;
	}
	for (uint32_t i = 0; i < cols; i++) {
		echo_byte(ld, '\b');
		echo_byte(ld, ' ');
		echo_byte(ld, '\b');
	}
}

static void push_in(struct lx_ldisc *ld, uint16_t v)
{
	if (ld->in_len < LX_LDISC_IN)
		ld->in[ld->in_len++] = v;
}

/* Canonical: the line (and its terminator, a byte or an EOF mark) becomes readable. */
static void end_line(struct lx_ldisc *ld, uint16_t term)
{
	if (ld->in_len + ld->line_len + 1 > LX_LDISC_IN)
		return; /* no room: the line stays, as Linux holds input it cannot queue */
	for (uint32_t i = 0; i < ld->line_len; i++)
		push_in(ld, ld->line[i]);
	push_in(ld, term);
	ld->in_lines++;
	ld->line_len = 0;
}

void lx_ldisc_flush_input(struct lx_ldisc *ld)
{
	ld->in_len = ld->in_lines = ld->line_len = 0;
	ld->lnext = false;
}

static int isig(struct lx_ldisc *ld, uint8_t c, int sig)
{
	if (!(ld->t.c_lflag & LX_NOFLSH))
		lx_ldisc_flush_input(ld);
	if (ld->t.c_lflag & LX_ECHO)
		echo_char(ld, c);
	return sig;
}

static bool word_char(uint8_t c)
{
	return c != ' ' && c != '\t';
}

/* Canonical editing of one byte (not a signal character): erase, kill, EOF, line ends. */
static void canon_input(struct lx_ldisc *ld, uint8_t c)
{
	uint32_t lf = ld->t.c_lflag;
	bool iext = lf & LX_IEXTEN;

	if (is(ld, c, LX_VERASE) || (iext && is(ld, c, LX_VWERASE))) {
		bool word = !is(ld, c, LX_VERASE);
		while (word && ld->line_len && !word_char(ld->line[ld->line_len - 1]))
			erase_one(ld, c, true);
		do {
			if (!ld->line_len)
				break;
			erase_one(ld, c, word || (lf & LX_ECHOE));
		} while (word && ld->line_len && word_char(ld->line[ld->line_len - 1]));
		return;
	}
	if (is(ld, c, LX_VKILL)) {
		if (!ld->line_len)
			return;
		if ((lf & LX_ECHOKE) && (lf & LX_ECHOE)) {
			while (ld->line_len)
				erase_one(ld, c, true);
			return;
		}
		ld->line_len = 0;
		if (lf & LX_ECHO) {
			echo_char(ld, c);
			if (lf & LX_ECHOK)
				echo_byte(ld, '\n');
		}
		ld->line_col0 = ld->column;
		return;
	}
	if (iext && is(ld, c, LX_VREPRINT)) {
		if (lf & LX_ECHO) {
			echo_char(ld, c);
			echo_byte(ld, '\n');
			ld->line_col0 = ld->column;
			for (uint32_t i = 0; i < ld->line_len; i++)
				echo_char(ld, ld->line[i]);
		}
		return;
	}
	if (is(ld, c, LX_VEOF)) {
		end_line(ld, LX_LDISC_EOF); /* not echoed; an empty line reads as end of file */
		ld->line_col0 = ld->column;
		return;
	}
	if (c == '\n' || is(ld, c, LX_VEOL) || (iext && is(ld, c, LX_VEOL2))) {
		if ((lf & LX_ECHO) || (c == '\n' && (lf & LX_ECHONL)))
			echo_char(ld, c);
		end_line(ld, c);
		ld->line_col0 = ld->column;
		return;
	}
	if (ld->line_len >= LX_LDISC_LINE)
		return; /* the line is full: Linux drops what does not fit */
	if (!ld->line_len)
		ld->line_col0 = ld->column;
	if (lf & LX_ECHO)
		echo_char(ld, c);
	ld->line[ld->line_len++] = c;
}

int lx_ldisc_input(struct lx_ldisc *ld, uint8_t c)
{
	uint32_t in = ld->t.c_iflag, lf = ld->t.c_lflag;

	if (in & LX_ISTRIP)
		c &= 0x7f;
	if (ld->lnext) { /* taken literally: no mapping, no special meaning */
		ld->lnext = false;
		if (canon(ld)) {
			if (ld->line_len < LX_LDISC_LINE) {
				if (lf & LX_ECHO)
					echo_char(ld, c);
				ld->line[ld->line_len++] = c;
			}
		} else {
			push_in(ld, c);
			if (lf & LX_ECHO)
				echo_char(ld, c);
		}
		return 0;
	}
	if (c == '\r') {
		if (in & LX_IGNCR)
			return 0;
		if (in & LX_ICRNL)
			c = '\n';
	} else if (c == '\n' && (in & LX_INLCR)) {
		c = '\r';
	}
	if (lf & LX_ISIG) {
		if (is(ld, c, LX_VINTR))
			return isig(ld, c, SIGINT);
		if (is(ld, c, LX_VQUIT))
			return isig(ld, c, SIGQUIT);
		if (is(ld, c, LX_VSUSP))
			return isig(ld, c, SIGTSTP);
	}
	if ((lf & LX_IEXTEN) && is(ld, c, LX_VLNEXT)) {
		ld->lnext = true;
		if (canon(ld) && (lf & LX_ECHO) && (lf & LX_ECHOCTL)) {
			if (!ld->line_len)
				ld->line_col0 = ld->column;
			echo_byte(ld, '^'), echo_byte(ld, '\b');
		}
		return 0;
	}
	if (canon(ld)) {
		canon_input(ld, c);
		return 0;
	}
	if (ld->in_len >= LX_LDISC_IN)
		return 0; /* full: dropped */
	push_in(ld, c);
	if ((lf & LX_ECHO) || (c == '\n' && (lf & LX_ECHONL)))
		echo_char(ld, c);
	return 0;
}

bool lx_ldisc_readable(const struct lx_ldisc *ld, size_t cap)
{
	if (canon(ld))
		return ld->in_lines > 0;
	uint32_t vmin = ld->t.c_cc[LX_VMIN];
	if (!vmin) /* VMIN 0: a read returns what there is, even nothing */
		return true;
	return ld->in_len >= (vmin < cap ? vmin : cap);
}

int64_t lx_ldisc_wait_ns(const struct lx_ldisc *ld, size_t cap, uint64_t ns_since_byte)
{
	uint64_t vmin = ld->t.c_cc[LX_VMIN], vtime = ld->t.c_cc[LX_VTIME] * 100000000ull;

	if (canon(ld) || !vtime) /* canonical, or VTIME 0: VMIN alone decides */
		return lx_ldisc_readable(ld, cap) ? 0 : -1;
	if (!vmin) /* a read with a timeout: any byte ends it */
		return ld->in_len ? 0 : (int64_t)vtime;
	if (ld->in_len >= (vmin < cap ? vmin : cap))
		return 0;
	if (!ld->in_len) /* the inter-byte timer starts with the first byte */
		return -1;
	return ns_since_byte >= vtime ? 0 : (int64_t)(vtime - ns_since_byte);
}

size_t lx_ldisc_read(struct lx_ldisc *ld, uint8_t *dst, size_t cap)
{
	size_t n = 0, used = 0;

	if (!canon(ld)) {
		for (; used < ld->in_len && n < cap; used++)
			if (ld->in[used] != LX_LDISC_EOF)
				dst[n++] = (uint8_t)ld->in[used];
	} else if (ld->in_lines) {
		bool line_end = false;
		while (used < ld->in_len && n < cap && !line_end) {
			uint16_t v = ld->in[used++];
			if (v == LX_LDISC_EOF) {
				line_end = true;
				break;
			}
			dst[n++] = (uint8_t)v;
			line_end = v == '\n' || is(ld, (uint8_t)v, LX_VEOL) ||
			           ((ld->t.c_lflag & LX_IEXTEN) && is(ld, (uint8_t)v, LX_VEOL2));
		}
		/* A read that stopped just before an EOF mark takes it: the next read must not see
		 * an empty line for a ^D that ended a non-empty one. */
		if (!line_end && used < ld->in_len && ld->in[used] == LX_LDISC_EOF && n)
			used++, line_end = true;
		if (line_end)
			ld->in_lines--;
	}
	memmove(ld->in, ld->in + used, (ld->in_len - used) * sizeof(ld->in[0]));
	ld->in_len -= (uint32_t)used;
	return n;
}

uint32_t lx_ldisc_pending(const struct lx_ldisc *ld)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < ld->in_len; i++)
		n += ld->in[i] != LX_LDISC_EOF;
	return n;
}

size_t lx_ldisc_output(struct lx_ldisc *ld, const uint8_t *src, size_t n, uint8_t *dst)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += opost(ld, src[i], dst + k);
	return k;
}

size_t lx_ldisc_take_out(struct lx_ldisc *ld, uint8_t *dst)
{
	size_t n = ld->out_len;

	memcpy(dst, ld->out, n);
	ld->out_len = 0;
	return n;
}

void lx_ldisc_set(struct lx_ldisc *ld, const struct lx_termios *t)
{
	bool was = canon(ld);

	ld->t = *t;
	if (was && !canon(ld)) { /* the line being edited becomes readable input */
		for (uint32_t i = 0; i < ld->line_len; i++)
			push_in(ld, ld->line[i]);
		ld->line_len = 0;
		ld->in_lines = 0;
	} else if (!was && canon(ld)) { /* unread raw input starts the new line */
		uint32_t keep = 0;
		for (uint32_t i = 0; i < ld->in_len && keep < LX_LDISC_LINE; i++)
			if (ld->in[i] != LX_LDISC_EOF)
				ld->line[keep++] = (uint8_t)ld->in[i];
		ld->line_len = keep;
		ld->in_len = ld->in_lines = 0;
		ld->line_col0 = ld->column;
	}
	ld->lnext = false;
}
