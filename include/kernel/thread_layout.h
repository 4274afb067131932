/*
 * Byte offsets into struct thread that arch/x86_64/syscall.S uses. The
 * C side (include/kernel/thread.h) static-asserts every one of them, so a
 * field moved in C breaks the build instead of the register restore.
 * Safe to include from assembly.
 */
#ifndef KERNEL_THREAD_LAYOUT_H
#define KERNEL_THREAD_LAYOUT_H

/* struct user_regs, at offset 0 of struct thread */
#define R_RAX     0
#define R_RBX     8
#define R_RCX     16
#define R_RDX     24
#define R_RSI     32
#define R_RDI     40
#define R_RBP     48
#define R_R8      56
#define R_R9      64
#define R_R10     72
#define R_R11     80
#define R_R12     88
#define R_R13     96
#define R_R14     104
#define R_R15     112
#define R_RIP     120
#define R_RSP     128
#define R_RFLAGS  136
#define R_FS_BASE 144
/* struct thread */
#define T_FULL_RESTORE 152
#define T_LINUX_ABI    669

#endif
