/*
 * The console as a Linux tty (user/linux/tty.c): the line discipline of
 * ldisc.c between COM1 and the processes, job control and the tty ioctls.
 */
#ifndef USER_LINUX_TTY_H
#define USER_LINUX_TTY_H

#include "lx.h"

#include <hallows/abi.h>

/* Take COM1's receive side: port covers 0x3f8-0x3ff, irq is IRQ 4's handler, ntfn a notification
 * the server's thread gets bound (its signals end the server's receive with label 0). HL_OK or
 * the Hallows error of the step that failed. */
long lx_tty_attach(hl_cptr_t port, hl_cptr_t irq, hl_cptr_t ntfn);
/* The UART interrupted (the server received a notification): take what it has. */
void lx_tty_irq(void);
/* Was Enter pressed since the last call, while no session ran? */
bool lx_tty_take_enter(void);
/* An interactive session starts with leader as session leader and the tty as its controlling
 * terminal (fresh termios); NULL: the session is over, the console is no terminal again. */
void lx_tty_session(struct lx_proc *leader);
/* Is a session running (the console a tty)? */
bool lx_tty_active(void);
/* Console output of a process, through output processing during a session. */
void lx_tty_write(const char *s, size_t n);
/* A write of p to the console: 0 when it may go on, or what the write returns (TOSTOP: a
 * background group gets SIGTTOU). */
int64_t lx_tty_write_check(struct lx_proc *p);
/* read on the console: bytes, -errno, or LX_RET_BLOCK (p->chan set). */
int64_t lx_tty_read(struct lx_proc *p, struct lx_ofd *o, uint64_t buf, uint64_t len);
/* poll's view of the console: POLLIN 1 when a read would not wait, POLLOUT 4. */
uint16_t lx_tty_poll(void);
/* ioctl on the console: 0, a value or -errno (ENOTTY outside a session). */
int64_t lx_tty_ioctl(struct lx_proc *p, struct lx_ofd *o, uint64_t cmd, uint64_t arg);

#endif
