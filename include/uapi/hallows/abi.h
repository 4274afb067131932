/*
 * The Hallows system-call ABI shared by the kernel and ring 3.
 * Fixed-width types only. See docs/abi.md.
 *
 * Entry: the `syscall` instruction with
 *   rax = system call number (enum hl_sys)
 *   rdi = capability pointer (slot in the caller's capability space)
 *   rsi = message info (HL_MSGINFO: label, length)
 *   rdx, r10, r8, r9 = message words 0..3; words 4.. in the IPC buffer
 * Exit:
 *   rax = error (enum hl_err, 0 = success)
 *   rdi = badge (receive operations), rsi = message info,
 *   rdx, r10, r8, r9 = message words 0..3
 *   rcx and r11 are clobbered (by the instruction itself).
 */
#ifndef HALLOWS_ABI_H
#define HALLOWS_ABI_H

#include <stdint.h>

typedef uint64_t hl_cptr_t; /* a slot index in the caller's capability space */
typedef uint64_t hl_word_t;

enum hl_sys {
	HL_SYS_NULL = 0,       /* does nothing; the cheapest round trip into ring 0 */
	HL_SYS_CALL = 1,       /* invoke a kernel object, or IPC call on an endpoint */
	HL_SYS_SEND = 2,       /* IPC send (blocking) or notification signal */
	HL_SYS_NBSEND = 3,     /* IPC send that never blocks (dropped if no receiver) */
	HL_SYS_RECV = 4,       /* IPC receive on an endpoint, or notification wait */
	HL_SYS_REPLY = 5,      /* reply to the last caller */
	HL_SYS_REPLY_RECV = 6, /* reply, then receive on the endpoint in rdi */
	HL_SYS_YIELD = 7,      /* give up the rest of this turn */
	HL_SYS_POLL = 8,       /* notification poll (never blocks) */
	HL_SYS_DEBUG_PUTS =
	    9, /* debug builds: print rsi bytes at rdx (needs the debug capability in rdi) */
	HL_SYS_WAIT = 10, /* notification wait until the TSC deadline in rdx (HL_ERR_TIMED_OUT) */
	/* thread.linux_reply(r8) on the thread capability in r10, then HL_SYS_REPLY_RECV with a
	 * reply of at most one word (rdx): a Linux server's deferred reply and its answer to the
	 * caller in one call (docs/abi.md) */
	HL_SYS_LINUX_REPLY_RECV = 11,
	HL_SYS_COUNT
};

/* One error enum for the whole ABI. */
enum hl_err {
	HL_OK = 0,
	HL_ERR_INVALID_CAP = 1,   /* empty slot, or out of range */
	HL_ERR_WRONG_TYPE = 2,    /* capability of another object type than the method needs */
	HL_ERR_NO_RIGHTS = 3,     /* capability lacks a right the operation needs */
	HL_ERR_INVALID_ARG = 4,   /* an argument is out of range or misaligned */
	HL_ERR_SLOT_OCCUPIED = 5, /* destination slot is not empty */
	HL_ERR_NO_MEMORY = 6,     /* the memory capability has too little room */
	/* 7 is unused: HL_ERR_REVOKE_FIRST was never returned (delete and revoke always succeed);
	   not reused. */
	HL_ERR_ALREADY_MAPPED = 8, /* frame or address already mapped */
	HL_ERR_NOT_MAPPED = 9,     /* nothing mapped there */
	HL_ERR_NO_TABLE = 10,      /* a page table on the way is missing */
	HL_ERR_ILLEGAL_OP = 11,    /* unknown method or system call */
	HL_ERR_NO_REPLY = 12,      /* nothing to reply to */
	HL_ERR_WOULD_BLOCK = 13,   /* non-blocking operation found nothing */
	HL_ERR_DELETED = 14,       /* the object went away while waiting */
	HL_ERR_RANGE = 15,         /* port, IRQ or CPU not covered by the capability or present */
	HL_ERR_TIMED_OUT = 16,     /* HL_SYS_WAIT: the deadline came before a signal */
	HL_ERR_COUNT
};

/* Message info word: label in bits 63..16, length (words) in 6..0, caps in 8..7. */
#define HL_MSGINFO(label, len, caps)                                                               \
	(((uint64_t)(label) << 16) | ((uint64_t)(caps) << 7) | (uint64_t)(len))
#define HL_MSG_LABEL(info) ((info) >> 16)
#define HL_MSG_LEN(info)   ((info)&0x7f)
#define HL_MSG_CAPS(info)  (((info) >> 7) & 3)
#define HL_MSG_MAX         64 /* message words: 4 in registers, the rest in the IPC buffer */

/* cspace.delete_list: at most this many slots, in IPC buffer words 4 .. 4 + count - 1. */
#define HL_DELETE_LIST_MAX 32

/* Object types (for retype). */
enum hl_obj {
	HL_OBJ_NONE = 0,
	HL_OBJ_MEMORY = 1,     /* untyped memory: retype it into objects */
	HL_OBJ_FRAME = 2,      /* 4 KiB or 2 MiB page */
	HL_OBJ_ASPACE = 3,     /* address space (top-level page table) */
	HL_OBJ_PAGE_TABLE = 4, /* one page-table page of any level below the top */
	HL_OBJ_THREAD = 5,
	HL_OBJ_ENDPOINT = 6,
	HL_OBJ_NOTIFICATION = 7,
	HL_OBJ_CSPACE = 8, /* capability space of 2^size_bits slots */
	HL_OBJ_IRQ_CONTROL = 9,
	HL_OBJ_IRQ_HANDLER = 10,
	HL_OBJ_IOPORT_CONTROL = 11,
	HL_OBJ_IOPORT = 12,
	HL_OBJ_DEBUG = 13,         /* debug console (debug builds) */
	HL_OBJ_REPLY = 14,         /* internal: one-shot reply right */
	HL_OBJ_PCI_CONTROL = 15,   /* authority over every PCI function (root task) */
	HL_OBJ_PCI_DEVICE = 16,    /* one PCI function: config space, BARs, MSI/MSI-X, reset */
	HL_OBJ_SCHED_CONTROL = 17, /* partition windows and thread tags (root task; window.h) */
	HL_OBJ_SNAPSHOT = 18, /* checkpoint of threads and address spaces (docs/snapshots.md) */
	HL_OBJ_COUNT
};

/* Rights. */
#define HL_R_READ  1u /* frames: read; endpoints: receive; notifications: wait */
#define HL_R_WRITE 2u /* frames: write; endpoints: send; notifications: signal */
#define HL_R_EXEC  4u /* frames: execute */
#define HL_R_GRANT 8u /* endpoints: transfer capabilities */
#define HL_R_ALL   15u
/*
 * aspace.map: with the rights, map a device frame write-combining (PAT
 * entry 4) instead of uncached. Refused with HL_ERR_INVALID_ARG on a RAM
 * frame (docs/devices.md); aspace.protect keeps the mapping's type.
 */
#define HL_MAP_WC 0x100u

/* Well-known slots of the root task's capability space. */
enum hl_root_slot {
	HL_SLOT_NULL = 0,
	HL_SLOT_THREAD = 1, /* the root task's own thread */
	HL_SLOT_CSPACE = 2, /* its capability space */
	HL_SLOT_ASPACE = 3, /* its address space */
	HL_SLOT_IRQ_CONTROL = 4,
	HL_SLOT_IOPORT_CONTROL = 5,
	HL_SLOT_DEBUG = 6,
	HL_SLOT_BOOTINFO_FRAME = 7,
	HL_SLOT_PCI_CONTROL = 8,
	HL_SLOT_SCHED_CONTROL = 9,
	HL_SLOT_FIRST_FREE_FIXED = 10 /* memory capabilities follow; see struct hl_bootinfo */
};

/*
 * Hand-off (docs/scheduling.md): HL_SYS_SEND on a notification with this
 * label in the message info runs the thread the signal wakes at once, when
 * it belongs to the sender's CPU and has the sender's priority; the sender
 * runs next, before other threads of its priority.
 */
#define HL_LABEL_HANDOFF 0x4f4e

/*
 * HL_SYS_WAIT's deadline (rdx) is a TSC value (struct hl_bootinfo's tsc_hz
 * converts); this one means none: the wait is HL_SYS_RECV's.
 */
#define HL_WAIT_FOREVER (~0ull)

/* Fault message sent to a thread's fault endpoint (label HL_LABEL_FAULT). */
#define HL_LABEL_FAULT 0xfa17
enum hl_fault_mr { HL_FAULT_VECTOR = 0, HL_FAULT_ERROR = 1, HL_FAULT_ADDR = 2, HL_FAULT_RIP = 3 };

/*
 * A Linux system call (the `syscall` instruction of a thread marked with
 * thread.set_linux) sent to the thread's fault endpoint as a call (label
 * HL_LABEL_LINUX_SYSCALL). Words 0-3 arrive in registers, 4-8 in the
 * receiver's IPC buffer (only words 0-3 when it has none). The reply's
 * word 0 becomes the thread's rax (the Linux result, -errno on failure);
 * its other registers stay as they were, except rcx = rip and r11 =
 * rflags, as after a Linux system call.
 */
#define HL_LABEL_LINUX_SYSCALL 0x1195
enum hl_linux_mr {
	HL_LINUX_NR = 0, /* rax */
	HL_LINUX_A0 = 1, /* rdi */
	HL_LINUX_A1 = 2, /* rsi */
	HL_LINUX_A2 = 3, /* rdx */
	HL_LINUX_A3 = 4, /* r10 */
	HL_LINUX_A4 = 5, /* r8 */
	HL_LINUX_A5 = 6, /* r9 */
	HL_LINUX_RIP = 7,
	HL_LINUX_RSP = 8,
	HL_LINUX_WORDS = 9
};

/* Per-thread IPC buffer (one page, mapped by the thread's owner). */
struct hl_ipc_buffer {
	hl_word_t mr[HL_MSG_MAX]; /* message words; 0..3 mirror the registers */
	hl_cptr_t send_cap;       /* capability to transfer (when HL_MSG_CAPS = 1) */
	hl_cptr_t recv_slot;      /* where a received capability goes (0 = refuse) */
	hl_word_t recv_badge;     /* badge of the capability received */
	hl_word_t tls; /* the buffer's own address (written by the kernel; FS base points here) */
};
/* Ring 3 and the kernel both address these fields: the layout is ABI. */
_Static_assert(__builtin_offsetof(struct hl_ipc_buffer, send_cap) == 8 * HL_MSG_MAX,
               "hl_ipc_buffer layout");
_Static_assert(__builtin_offsetof(struct hl_ipc_buffer, recv_slot) == 8 * HL_MSG_MAX + 8,
               "hl_ipc_buffer layout");
_Static_assert(__builtin_offsetof(struct hl_ipc_buffer, recv_badge) == 8 * HL_MSG_MAX + 16,
               "hl_ipc_buffer layout");
_Static_assert(__builtin_offsetof(struct hl_ipc_buffer, tls) == 8 * HL_MSG_MAX + 24,
               "hl_ipc_buffer layout");
_Static_assert(sizeof(struct hl_ipc_buffer) <= 4096, "the IPC buffer is one page");

/*
 * Preemption upcalls (thread.set_upcall, docs/scheduling.md): one page the
 * thread maps read-write and names with its frame capability. When the
 * thread has run for its quantum, the kernel writes the interrupted user
 * registers here (in struct hl_upcall_area's order), sets `masked`, and
 * resumes the thread at its handler with rsp = handler_sp and rdi = the
 * area's address. FPU/SSE/AVX state is not saved: the handler receives it
 * live in the registers and saves what it will touch. While `masked` is
 * nonzero an expiry is not delivered: the kernel counts it in `missed`,
 * sets `pending` and tries again one quantum later.
 *
 * Preemption at arrival: while `on_preempt` is nonzero, a thread that
 * leaves its CPU still runnable (a higher-priority thread woke there, as
 * an interrupt's or a request's handler does; or its window or budget
 * ended) counts its quantum as run out, so it resumes at its handler and
 * its scheduler sees what arrived meanwhile at once (docs/scheduling.md).
 */
struct hl_upcall_area {
	hl_word_t rax, rbx, rcx, rdx, rsi, rdi, rbp;    /* 0 .. 48   [K] interrupted context */
	hl_word_t r8, r9, r10, r11, r12, r13, r14, r15; /* 56 .. 112 [K] */
	hl_word_t rip, rsp, rflags;                     /* 120 .. 136 [K] */
	hl_word_t handler_sp;                           /* 144 [U] stack the handler starts on */
	hl_word_t count;                                /* 152 [K] upcalls delivered */
	hl_word_t missed;                               /* 160 [K] expiries found masked */
	hl_word_t expiry_tsc; /* 168 [K] TSC at which the delivered quantum ran out */
	uint32_t masked;      /* 176 [K sets, U clears] no delivery while nonzero */
	uint32_t pending;     /* 180 [K sets, U clears] an expiry came while masked */
	uint32_t on_preempt;  /* 184 [U] nonzero: preempted while runnable, resume at the handler */
	uint32_t reserved;    /* 188 */
};
#define HL_UPCALL_MIN_NS 5000ull       /* shortest quantum */
#define HL_UPCALL_MAX_NS 1000000000ull /* longest quantum (1 s) */
/* Fault vector reported when an upcall cannot be delivered (its area's frame capability is gone,
 * or handler_sp is not a user address). */
#define HL_FAULT_UPCALL 0x100
/* Fault vector reported when a write needs a copy-on-write page and the snapshot's memory is full
 * (error word HL_ERR_NO_MEMORY, address the faulting one); the page was not written. */
#define HL_FAULT_SNAPSHOT 0x101

/* Snapshots (docs/snapshots.md): object sizes 2^HL_SNAP_MIN_BITS .. 2^HL_SNAP_MAX_BITS bytes; the
 * header, thread contexts and records take 33 pages + 24 bytes a page, the rest keeps page copies
 * (snapshot.info reports how many are free). */
#define HL_SNAP_MIN_BITS    18
#define HL_SNAP_MAX_BITS    40
#define HL_SNAP_MAX_ASPACES 4
#define HL_SNAP_MAX_THREADS 16
#define HL_SNAP_MAX_EXCLUDE 8
enum hl_snap_state { HL_SNAP_IDLE = 0, HL_SNAP_TAKING = 1, HL_SNAP_TAKEN = 2 };
_Static_assert(__builtin_offsetof(struct hl_upcall_area, rip) == 120, "hl_upcall_area layout");
_Static_assert(__builtin_offsetof(struct hl_upcall_area, handler_sp) == 144,
               "hl_upcall_area layout");
_Static_assert(__builtin_offsetof(struct hl_upcall_area, masked) == 176, "hl_upcall_area layout");
_Static_assert(__builtin_offsetof(struct hl_upcall_area, on_preempt) == 184,
               "hl_upcall_area layout");
_Static_assert(sizeof(struct hl_upcall_area) == 192, "hl_upcall_area layout");

/* A memory capability described in the boot info. */
struct hl_bootinfo_mem {
	uint64_t paddr;
	uint8_t size_bits;
	uint8_t is_device; /* device memory: frames only, mapped uncached */
	uint16_t pad0;
	uint32_t slot; /* where the capability sits in the root cspace */
};
_Static_assert(sizeof(struct hl_bootinfo_mem) == 16, "hl_bootinfo_mem layout");

/* A PCI function described in the boot info; its index is the one pci_control.issue takes. */
struct hl_bootinfo_pci {
	uint16_t vendor, device;
	uint8_t class, subclass, progif, revision;
	uint16_t bdf; /* bus << 8 | device << 3 | function (segment 0) */
	uint16_t pad0;
};

/* pci_device.bar flags. */
#define HL_BAR_IO       1u /* I/O ports: map_bar gives an I/O-port capability */
#define HL_BAR_64       2u
#define HL_BAR_PREFETCH 4u

#define HL_BOOTINFO_F_IOMMU                                                                        \
	1u /* device DMA is confined to what pci_device.dma_map gave each function */
#define HL_BOOTINFO_F_INTREMAP                                                                     \
	2u /* VT-d interrupt remapping: a device raises only the vectors pci_device.msi gave it */

#define HL_BOOTINFO_MAX_MEM 200
#define HL_BOOTINFO_MAX_PCI 64

/*
 * The screen the kernel hands over (kernel/root.c): its memory is among the
 * boot info's device-memory capabilities (mem[], is_device), and the kernel
 * stops drawing its log there once a program maps any of it.
 */
enum hl_screen_kind { HL_SCREEN_NONE = 0, HL_SCREEN_TEXT = 1, HL_SCREEN_RGB = 2 };
struct hl_bootinfo_screen {
	uint64_t paddr;
	uint32_t kind;                 /* enum hl_screen_kind */
	uint32_t width, height, pitch; /* text: characters; RGB: pixels; bytes per line */
	uint8_t bpp;                   /* RGB: 24 or 32 */
	uint8_t red_pos, red_size, green_pos, green_size, blue_pos, blue_size, pad0;
};
_Static_assert(sizeof(struct hl_bootinfo_screen) == 32, "hl_bootinfo_screen layout");
/* Read-only page mapped into the root task at HL_BOOTINFO_VADDR. */
struct hl_bootinfo {
	uint64_t magic; /* HL_BOOTINFO_MAGIC */
	uint32_t ncpus;
	uint32_t cspace_bits;     /* root cspace has 2^cspace_bits slots */
	uint32_t first_free_slot; /* first empty slot after the initial capabilities */
	uint32_t nmem;
	uint64_t initrd_vaddr, initrd_size; /* the boot module, mapped read-only */
	uint64_t tsc_hz;
	struct hl_bootinfo_mem mem[HL_BOOTINFO_MAX_MEM];
	uint32_t npci, flags; /* HL_BOOTINFO_F_* */
	struct hl_bootinfo_pci pci[HL_BOOTINFO_MAX_PCI];
	struct hl_bootinfo_screen screen;
};
_Static_assert(sizeof(struct hl_bootinfo_pci) == 12, "hl_bootinfo_pci layout");
_Static_assert(__builtin_offsetof(struct hl_bootinfo, initrd_vaddr) == 24, "hl_bootinfo layout");
_Static_assert(__builtin_offsetof(struct hl_bootinfo, mem) == 48, "hl_bootinfo layout");
_Static_assert(sizeof(struct hl_bootinfo) <= 4096, "the boot info is one read-only page");
/* User mappings lie in [4 KiB, HL_USER_MAP_TOP): neither page 0 nor the last page of the lower
 * half. */
#define HL_USER_MAP_TOP   0x7ffffffff000ull
#define HL_BOOTINFO_MAGIC 0x48616c6c6f777321ull /* "Hallows!" */
#define HL_BOOTINFO_VADDR 0x10000000ull
#define HL_INITRD_VADDR   0x20000000ull
#define HL_ROOT_STACK_TOP 0x7fff00000000ull
#define HL_ROOT_IPCBUF    0x7fff00001000ull

#endif
