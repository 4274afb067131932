/*
 * The console as a Linux tty (docs/linux.md, "The console tty"): the
 * line discipline of ldisc.c between the UART and the processes, job
 * control (the controlling terminal of one session, its foreground process
 * group, the signal characters sent to that group) and the tty ioctls.
 *
 * Input: the server owns COM1's receive side (an I/O-port capability for
 * 0x3f8-0x3ff and IRQ 4 bound to a notification of its thread); output,
 * echo included, goes through the kernel's debug console, which
 * serializes it with the kernel log (docs/decisions.md). The console is a
 * tty only during an interactive session (`@console` or `@getty` in
 * etc/linux-run): batch commands see what they saw before, a console that
 * is not a terminal and reads as end of file, so their output matches a
 * run under Linux with a pipe for stdout.
 */
#include "tty.h"

#include "ldisc.h"
#include "screen.h"

#include <hallows/rt.h>
#include <lib/string.h>

#define COM1       0x3f8
#define UART_RBR   0
#define UART_IER   1
#define UART_MCR   4
#define UART_LSR   5
#define LSR_DR     0x01
#define COM1_IRQ   4
#define O_NONBLOCK 04000
#define SIGHUP     1
#define SIGCONT    18
#define SIGTTIN    21
#define SIGTTOU    22
#define SIGWINCH   28

/* One tty: the console's (COM1) or the screen's (the keyboard and the screen, vt.c). */
struct tty_state {
	struct lx_ldisc ld;
	bool active;     /* an interactive session: the console is a tty */
	bool have_input; /* the UART's receive side is ours */
	bool enter;      /* Enter was pressed while no session ran (lx_tty_take_enter) */
	hl_cptr_t port, irq;
	uint32_t sid, pgrp; /* the session it controls (0: none) and its foreground group */
	uint64_t byte_ns;   /* when the last byte came (VTIME's inter-byte timer) */
	char chan;          /* readers of the tty wait on it */
	void (*out)(const char *s, size_t n); /* where its output and echo go */
};

static struct tty_state ttys[2] = {
    [LX_TTY_CONSOLE] = {.out = lx_plat_console}, [LX_TTY_SCREEN] = {.out = lx_vt_draw}};
/* The tty the call at hand is about: the code below was written for the console alone and
 * names it `tty`; each entry point picks the one it serves (pick, pick_ofd). */
static struct tty_state *cur_tty = &ttys[LX_TTY_CONSOLE];
#define tty      (*cur_tty)
#define tty_chan (cur_tty->chan)

static void pick(int which)
{
	cur_tty = &ttys[which == LX_TTY_SCREEN ? LX_TTY_SCREEN : LX_TTY_CONSOLE];
}

static void pick_ofd(const struct lx_ofd *o)
{
	pick(o == lx_vt_ofd() ? LX_TTY_SCREEN : LX_TTY_CONSOLE);
}

static void emit_echo(void)
{
	static uint8_t buf[LX_LDISC_OUT];
	size_t n = lx_ldisc_take_out(&tty.ld, buf);

	if (n)
		tty.out((const char *)buf, n);
}

bool lx_tty_active(void)
{
	return ttys[LX_TTY_CONSOLE].active;
}

/* The session leader is gone: the tty has no session any more (Linux hangs it up). */
static void check_session(void)
{
	struct lx_proc *leader = tty.sid ? lx_proc_by_pid(tty.sid) : NULL;

	if (tty.sid && (!leader || leader->state != LX_PROC_LIVE || leader->sid != tty.sid))
		tty.sid = tty.pgrp = 0;
}

static void signal_group(uint32_t pgrp, int sig)
{
	for (uint32_t i = 0; pgrp && i < LX_MAX_PROCS; i++)
		if (lx_procs[i].state == LX_PROC_LIVE && lx_procs[i].pgid == pgrp)
			lx_signal_send(&lx_procs[i], sig, 0);
}

long lx_tty_attach(hl_cptr_t port, hl_cptr_t irq, hl_cptr_t ntfn)
{
	pick(LX_TTY_CONSOLE);
	long err = hl_irq_handler_set_notification(irq, ntfn);

	if (!err)
		err = hl_thread_bind_notification(HL_SLOT_THREAD, ntfn);
	if (err)
		return err;
	tty.port = port, tty.irq = irq;
	/* The FIFO keeps the kernel's 14-byte trigger: the UART interrupts at 14 bytes or when
	 * the line has been quiet for 4 character times, so an escape sequence (an arrow key)
	 * arrives whole, as busybox's line editing wants it. OUT2 lets the interrupt reach the
	 * interrupt controller on a PC; only received data interrupts (the kernel transmits by
	 * polling). */
	hl_ioport_out(port, COM1 + UART_MCR, 1, 0x0b);
	hl_ioport_out(port, COM1 + UART_IER, 1, 0x01);
	tty.have_input = true;
	lx_tty_irq();
	return 0;
}

/* A byte typed on the tty: to its line discipline, or dropped (noting Enter) when no session
 * reads it. */
static void take_byte(uint8_t c)
{
	if (!tty.active) { /* no session reads the console: dropped */
		tty.enter |= c == '\r' || c == '\n';
		return;
	}
	check_session();
	tty.byte_ns = lx_plat_nanotime();
	int sig = lx_ldisc_input(&tty.ld, c);
	if (sig)
		signal_group(tty.pgrp, sig);
}

/* Drain the UART's receive FIFO into the line discipline. */
static bool drain(void)
{
	bool any = false;
	hl_word_t lsr = 0, c = 0;

	for (int i = 0; i < 4096; i++) {
		if (hl_ioport_in(tty.port, COM1 + UART_LSR, 1, &lsr) != HL_OK || !(lsr & LSR_DR))
			break;
		if (hl_ioport_in(tty.port, COM1 + UART_RBR, 1, &c) != HL_OK)
			break;
		any = true;
		take_byte((uint8_t)c);
	}
	return any;
}

void lx_tty_irq(void)
{
	pick(LX_TTY_CONSOLE);
	if (!tty.have_input)
		return;
	bool any = drain();
	/* Acknowledge, then look again: a byte that came after the drain while the line was
	 * masked raised no edge the interrupt controller could see. */
	hl_irq_handler_ack(tty.irq);
	any |= drain();
	emit_echo();
	if (any) {
		lx_wake(&tty_chan);
		lx_wake(lx_poll_chan());
	}
}

void lx_tty_input(int which, const uint8_t *s, size_t n)
{
	pick(which);
	for (size_t i = 0; i < n; i++)
		take_byte(s[i]);
	emit_echo();
	if (n) {
		lx_wake(&tty_chan);
		lx_wake(lx_poll_chan());
	}
}

bool lx_tty_take_enter(void)
{
	return lx_tty_take_enter_on(LX_TTY_CONSOLE);
}

bool lx_tty_take_enter_on(int which)
{
	pick(which);
	bool e = tty.enter;

	tty.enter = false;
	return e;
}

void lx_tty_session(struct lx_proc *leader)
{
	lx_tty_session_on(LX_TTY_CONSOLE, leader);
}

void lx_tty_session_on(int which, struct lx_proc *leader)
{
	pick(which);
	lx_ldisc_init(&tty.ld);
	if (which == LX_TTY_SCREEN)
		tty.ld.rows = LX_SCR_ROWS; /* the screen's size; the serial console says 24 */
	tty.active = leader != NULL;
	tty.sid = tty.pgrp = 0;
	if (!leader)
		return;
	leader->sid = leader->pgid = leader->pid; /* setsid, then TIOCSCTTY */
	tty.sid = tty.pgrp = leader->pid;
}

void lx_tty_write(const struct lx_ofd *o, const char *s, size_t n)
{
	static uint8_t buf[2 * 512];

	pick_ofd(o);
	if (!tty.active) {
		tty.out(s, n);
		return;
	}
	for (size_t off = 0; off < n; off += 512) {
		size_t k = n - off < 512 ? n - off : 512;
		tty.out((const char *)buf,
		        lx_ldisc_output(&tty.ld, (const uint8_t *)s + off, k, buf));
	}
}

/*
 * A process of the tty's session outside its foreground group reads (sig SIGTTIN), or writes
 * with TOSTOP or changes the settings (SIGTTOU): Linux's job_control and tty_check_change. 0
 * when it may go on (a foreground one; SIGTTOU ignored or blocked), EIO for a read with SIGTTIN
 * ignored or blocked and for any of an orphaned group; otherwise sig goes to its group, whose
 * default action stops it, and the call is made again once SIGCONT resumes it (LX_RET_BLOCK without
 * a wait channel: only SIGCONT ends the wait); a handler gets EINTR.
 */
static int64_t background(struct lx_proc *p, int sig)
{
	if (!tty.sid || p->sid != tty.sid || p->pgid == tty.pgrp)
		return 0;
	uint64_t h = lx_grp(p)->sigactions[sig][0];
	if (h == 1 || (p->sigmask & (1ull << (sig - 1))))
		return sig == SIGTTIN ? -LX_EIO : 0;
	if (lx_job_orphaned(p))
		return -LX_EIO; /* nobody could continue a stopped orphaned group */
	signal_group(p->pgid, sig);
	return h == 0 && lx_grp(p)->stopped ? LX_RET_BLOCK : -LX_EINTR;
}

int64_t lx_tty_write_check(struct lx_proc *p, const struct lx_ofd *o)
{
	pick_ofd(o);
	if (!tty.active || !(tty.ld.t.c_lflag & LX_TOSTOP))
		return 0;
	check_session();
	return background(p, SIGTTOU);
}

int64_t lx_tty_read(struct lx_proc *p, struct lx_ofd *o, uint64_t buf, uint64_t len)
{
	static uint8_t tmp[LX_LDISC_IN];

	pick_ofd(o);
	if (!tty.active)
		return 0; /* no session: end of file, as before the tty */
	check_session();
	int64_t bg = background(p, SIGTTIN);
	if (bg)
		return bg;
	if (!len)
		return 0;
	uint64_t now = lx_plat_nanotime();
	int64_t wait = lx_ldisc_wait_ns(&tty.ld, len, now - tty.byte_ns);
	if (wait && (o->flags & O_NONBLOCK))
		return -LX_EAGAIN;
	if (wait < 0) {
		p->chan = &tty_chan;
		return LX_RET_BLOCK;
	}
	if (wait > 0 && !tty.ld.t.c_cc[LX_VMIN]) /* VTIME from the start of the read: 0 bytes */
		return lx_timer_wait(p, &tty_chan, tty.ld.t.c_cc[LX_VTIME] * 100);
	if (wait > 0) { /* the inter-byte timer: until wait has passed, or more input */
		p->wake_at = now + (uint64_t)wait;
		p->chan = &tty_chan;
		lx_timer_arm();
		return LX_RET_BLOCK;
	}
	p->wake_at = 0;
	if (lx_check(p, buf, len < sizeof(tmp) ? len : sizeof(tmp), LX_PROT_WRITE))
		return -LX_EFAULT;
	size_t n = lx_ldisc_read(&tty.ld, tmp, len < sizeof(tmp) ? len : sizeof(tmp));
	if (lx_copy_out(p, buf, tmp, n))
		return -LX_EFAULT; /* checked above: cannot happen */
	return (int64_t)n;
}

uint16_t lx_tty_poll(const struct lx_ofd *o)
{
	pick_ofd(o);
	if (!tty.active)
		return 1 | 4; /* end of file is readable */
	return (lx_ldisc_readable(&tty.ld, 4096) ? 1 : 0) | 4;
}

/* Is pgrp a live process group of session sid? */
static bool group_in_session(uint32_t pgrp, uint32_t sid)
{
	for (uint32_t i = 0; i < LX_MAX_PROCS; i++)
		if (lx_procs[i].state == LX_PROC_LIVE && lx_procs[i].pgid == pgrp &&
		    lx_procs[i].sid == sid)
			return true;
	return false;
}

int64_t lx_tty_ioctl(struct lx_proc *p, struct lx_ofd *o, uint64_t cmd, uint64_t arg)
{
	pick_ofd(o);
	if (!tty.active)
		return -LX_ENOTTY;
	check_session();
	bool ctty = tty.sid && p->sid == tty.sid;
	int32_t v = 0;
	uint16_t ws[4] = {tty.ld.rows, tty.ld.cols, 0, 0};
	struct lx_termios t;

	/* What changes the terminal: from a background group, SIGTTOU first (tty_check_change). */
	if ((cmd >= 0x5402 && cmd <= 0x5404) || cmd == 0x540a || cmd == 0x540b || cmd == 0x5410) {
		int64_t bg = background(p, SIGTTOU);
		if (bg)
			return bg;
	}
	switch (cmd) {
	case 0x5401: /* TCGETS */
		return lx_copy_out(p, arg, &tty.ld.t, sizeof(tty.ld.t)) ? -LX_EFAULT : 0;
	case 0x5402: /* TCSETS */
	case 0x5403: /* TCSETSW: output is written at once, nothing to drain */
	case 0x5404: /* TCSETSF: and the unread input goes */
		if (lx_copy_in(p, &t, arg, sizeof(t)))
			return -LX_EFAULT;
		if (cmd == 0x5404)
			lx_ldisc_flush_input(&tty.ld);
		lx_ldisc_set(&tty.ld, &t);
		lx_wake(&tty_chan); /* a new VMIN or mode may let a reader go */
		lx_wake(lx_poll_chan());
		return 0;
	case 0x5409: /* TCSBRK (tcdrain) */
	case 0x5425: /* TCSBRKP */
	case 0x540a: /* TCXONC: output is never stopped */
		return 0;
	case 0x540b: /* TCFLSH */
		if (arg > 2)
			return -LX_EINVAL;
		if (arg != 1) /* TCIFLUSH, TCIOFLUSH */
			lx_ldisc_flush_input(&tty.ld);
		return 0;
	case 0x5413: /* TIOCGWINSZ */
		return lx_copy_out(p, arg, ws, sizeof(ws)) ? -LX_EFAULT : 0;
	case 0x5414: /* TIOCSWINSZ */
		if (lx_copy_in(p, ws, arg, sizeof(ws)))
			return -LX_EFAULT;
		if (ws[0] != tty.ld.rows || ws[1] != tty.ld.cols) {
			tty.ld.rows = ws[0], tty.ld.cols = ws[1];
			signal_group(tty.pgrp, SIGWINCH);
		}
		return 0;
	case 0x541b: /* FIONREAD */
		v = (int32_t)lx_ldisc_pending(&tty.ld);
		return lx_copy_out(p, arg, &v, 4) ? -LX_EFAULT : 0;
	case 0x5411: /* TIOCOUTQ: nothing waits to go out */
		return lx_copy_out(p, arg, &v, 4) ? -LX_EFAULT : 0;
	case 0x5421: /* FIONBIO */
		if (lx_copy_in(p, &v, arg, 4))
			return -LX_EFAULT;
		o->flags = v ? o->flags | O_NONBLOCK : o->flags & ~(uint32_t)O_NONBLOCK;
		return 0;
	case 0x540f: /* TIOCGPGRP */
	case 0x5429: /* TIOCGSID */
		if (!ctty)
			return -LX_ENOTTY;
		v = (int32_t)(cmd == 0x540f ? tty.pgrp : tty.sid);
		return lx_copy_out(p, arg, &v, 4) ? -LX_EFAULT : 0;
	case 0x5410: /* TIOCSPGRP */
		if (!ctty)
			return -LX_ENOTTY;
		if (lx_copy_in(p, &v, arg, 4))
			return -LX_EFAULT;
		if (v < 0)
			return -LX_EINVAL;
		if (!group_in_session((uint32_t)v, tty.sid))
			return -LX_EPERM;
		tty.pgrp = (uint32_t)v;
		return 0;
	case 0x540e: /* TIOCSCTTY: a session leader without a terminal takes this one */
		if (ctty && p->sid == p->pid)
			return 0;
		if (p->sid != p->pid)
			return -LX_EPERM;
		if (tty.sid && arg != 1)
			return -LX_EPERM; /* another session's; root may steal it with arg 1 */
		tty.sid = p->sid, tty.pgrp = p->pgid;
		return 0;
	case 0x5422: /* TIOCNOTTY */
		if (!ctty)
			return -LX_ENOTTY;
		if (p->pid == p->sid) { /* the leader lets go: its foreground group is hung up */
			uint32_t fg = tty.pgrp;
			tty.sid = tty.pgrp = 0;
			signal_group(fg, SIGHUP);
			signal_group(fg, SIGCONT);
		}
		return 0;
	default:
		return -LX_ENOTTY;
	}
}

struct lx_ofd *lx_tty_open(const struct lx_proc *p, const char *path)
{
	if (!strcmp(path, "dev/tty1"))
		return lx_vt_ofd();
	/* /dev/tty: the caller's controlling terminal, the screen's for its session. */
	pick(LX_TTY_SCREEN);
	check_session();
	if (!strcmp(path, "dev/tty") && ttys[LX_TTY_SCREEN].sid &&
	    p->sid == ttys[LX_TTY_SCREEN].sid)
		return lx_vt_ofd();
	return lx_console_ofd();
}
