/*
 * The console as a Linux tty (user/linux/tty.c): the line discipline of
 * ldisc.c between COM1 and the processes, job control and the tty ioctls.
 * A second tty, the screen's (/dev/tty1: the PS/2 keyboard and the
 * screen, vt.c), works the same way; the calls that take an open file
 * serve the tty it names, the others the console unless they say which.
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
enum { LX_TTY_CONSOLE = 0, LX_TTY_SCREEN = 1 };

/* Output of a process to the tty o is (the console's or the screen's), through output
 * processing during a session. */
void lx_tty_write(const struct lx_ofd *o, const char *s, size_t n);
/* A write of p to the tty o is: 0 when it may go on, or what the write returns (TOSTOP: a
 * background group gets SIGTTOU). */
int64_t lx_tty_write_check(struct lx_proc *p, const struct lx_ofd *o);
/* read on the console: bytes, -errno, or LX_RET_BLOCK (p->chan set). */
int64_t lx_tty_read(struct lx_proc *p, struct lx_ofd *o, uint64_t buf, uint64_t len);
/* poll's view of the tty o is: POLLIN 1 when a read would not wait, POLLOUT 4. */
uint16_t lx_tty_poll(const struct lx_ofd *o);
/* ioctl on the console: 0, a value or -errno (ENOTTY outside a session). */
int64_t lx_tty_ioctl(struct lx_proc *p, struct lx_ofd *o, uint64_t cmd, uint64_t arg);

/* Bytes typed on tty which (the screen's keyboard): as the UART's bytes are for the console. */
void lx_tty_input(int which, const uint8_t *s, size_t n);
/* lx_tty_take_enter and lx_tty_session for tty which. */
bool lx_tty_take_enter_on(int which);
void lx_tty_session_on(int which, struct lx_proc *leader);
/* The open file description of /dev/tty1 (the screen's tty), /dev/tty (the caller's
 * controlling tty) or /dev/console, path as the file system names it (no leading slash). */
struct lx_ofd *lx_tty_open(const struct lx_proc *p, const char *path);

/* ---- the screen's tty (vt.c) ---- */
/* Take the keyboard (ports 0x60 and 0x64, IRQ 1 bound to ntfn, the notification of the
 * server's thread) and the VGA text screen (its device page from the boot info, the CRT
 * controller's ports 0x3d4-0x3d5 for the cursor). HL_OK or the error of the step that failed. */
long lx_vt_attach(hl_cptr_t ntfn);
/* A manifest partition with `screen`: map the screen now, while the server's memory still has
 * room for the page tables (before the pools take it); lx_vt_attach uses that mapping. */
void lx_vt_prepare(void);
/* The server's notification came: take what the keyboard has. */
void lx_vt_irq(void);
/* The screen's output: bytes through the terminal emulator to the screen. */
void lx_vt_draw(const char *s, size_t n);
/* The open file description of /dev/tty1. */
struct lx_ofd *lx_vt_ofd(void);

#endif
