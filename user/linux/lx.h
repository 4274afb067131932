/*
 * The Linux personality server (user/linux): runs static x86-64 Linux
 * binaries from the boot module in address spaces it owns. Each Linux
 * thread is marked with thread.set_linux, so its `syscall` instructions
 * and its faults arrive here as calls on one endpoint (docs/linux.md).
 *
 * Linux address space of a process (all below LX_TOP, mirrored in the
 * server's own space at LX_WINDOW + address for copy-in and copy-out, see
 * lx_plat_page):
 *
 *   LX_TOP   0x200000000000  +------------------------+
 *                            | guard page             |
 *                            | stack (LX_STACK_SIZE)  |  grows down, demand-paged
 *   LX_MMAP_TOP              +------------------------+
 *                            | mmap areas, top down   |
 *                            :                        :
 *                            | brk heap, grows up     |
 *                            | ELF segments           |  ET_EXEC where linked,
 *   0x400000 (typical)       +------------------------+  ET_DYN at LX_PIE_BASE
 */
#ifndef USER_LINUX_LX_H
#define USER_LINUX_LX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LX_PAGE        4096ull
#define LX_TOP         0x200000000000ull
#define LX_WINDOW      0x400000000000ull /* server VA of Linux VA 0 */
#define LX_STACK_SIZE  (8ull << 20)
#define LX_STACK_TOP   (LX_TOP - LX_PAGE)
#define LX_MMAP_TOP    (LX_STACK_TOP - LX_STACK_SIZE - LX_PAGE)
#define LX_PIE_BASE    0x155555554000ull
#define LX_MAX_REGIONS 128
#define LX_MAX_FDS     64
#define LX_MAX_PAGES   8192 /* pages a process can have mapped, at most */

/* Linux error numbers (asm-generic/errno-base.h) the personality returns. */
enum {
	LX_EPERM = 1,
	LX_ENOENT = 2,
	LX_EINTR = 4,
	LX_EIO = 5,
	LX_EBADF = 9,
	LX_ENOMEM = 12,
	LX_EACCES = 13,
	LX_EFAULT = 14,
	LX_EEXIST = 17,
	LX_ENOTDIR = 20,
	LX_EISDIR = 21,
	LX_EINVAL = 22,
	LX_EMFILE = 24,
	LX_ENOTTY = 25,
	LX_ESPIPE = 29,
	LX_EROFS = 30,
	LX_ERANGE = 34,
	LX_ENAMETOOLONG = 36,
	LX_ENOSYS = 38,
};

/* One mapping of a process: [start, end), page-aligned, with its backing. */
struct lx_region {
	uint64_t start, end;
	uint32_t prot;       /* LX_PROT_* */
	const uint8_t *file; /* file bytes shown from start (NULL: zero-filled) */
	uint64_t file_len;   /* bytes of file visible from start; the rest reads as zero */
};
#define LX_PROT_READ  1u
#define LX_PROT_WRITE 2u
#define LX_PROT_EXEC  4u

/* A file of the in-memory file system (user/linux/fs.c). */
struct lx_file {
	const char *path; /* absolute, without the leading '/', "" for the root */
	const uint8_t *data;
	uint64_t size;
	uint32_t mode; /* S_IF* | permission bits */
	uint32_t ino;
};

struct lx_fd {
	uint8_t used, kind; /* LX_FD_* */
	uint8_t cloexec;    /* FD_CLOEXEC */
	uint32_t flags;     /* open flags (O_ACCMODE, O_APPEND...) */
	const struct lx_file *file;
	uint64_t pos;
};
enum { LX_FD_CONSOLE = 1, LX_FD_FILE = 2, LX_FD_DIR = 3 };

struct lx_proc {
	uint32_t pid;
	struct lx_region reg[LX_MAX_REGIONS];
	uint32_t nreg;
	uint64_t brk_start, brk; /* the heap is [brk_start, page_up(brk)) */
	uint64_t tid_address;
	uint64_t sigactions[65][4]; /* bookkeeping only: handler, flags, restorer, mask */
	uint64_t sigmask;
	uint64_t robust_list;
	uint64_t rlim[16][2]; /* soft and hard limit per RLIMIT_*, as prlimit64 last set them */
	struct lx_fd fd[LX_MAX_FDS];
	int exited, exit_code; /* exit code, or 128 + signal */
};

/* ---- memory (mm.c) ---- */
/* The region holding va, or NULL. */
struct lx_region *lx_region_at(struct lx_proc *p, uint64_t va);
/* Add [start, end) (page-aligned) replacing what was there; 0 or -errno. */
int lx_map(struct lx_proc *p, uint64_t start, uint64_t end, uint32_t prot, const uint8_t *file,
           uint64_t file_len);
int lx_unmap(struct lx_proc *p, uint64_t start, uint64_t end);
int lx_protect(struct lx_proc *p, uint64_t start, uint64_t end, uint32_t prot);
/* A free range of len bytes below LX_MMAP_TOP and above the heap, or 0. */
uint64_t lx_find_gap(struct lx_proc *p, uint64_t len);
/* Bring the page at va in (fault or copy): 0, or -LX_EFAULT outside any fitting region. */
int lx_page_in(struct lx_proc *p, uint64_t va, uint32_t need);
/* Check that [va, va + len) is mapped with need (paging it in): 0 or -LX_EFAULT. */
int lx_check(struct lx_proc *p, uint64_t va, uint64_t len, uint32_t need);
/* Copy between the process and the server, checked page by page: 0 or -LX_EFAULT. */
int lx_copy_in(struct lx_proc *p, void *dst, uint64_t src, uint64_t len);
int lx_copy_out(struct lx_proc *p, uint64_t dst, const void *src, uint64_t len);
/* A NUL-terminated string of at most max bytes (with the NUL): length, or -errno. */
long lx_copy_str(struct lx_proc *p, char *dst, uint64_t src, uint64_t max);

/* ---- the platform the server runs on (main.c): frames, mappings ---- */
/* Map a fresh zeroed frame at va in the process and at LX_WINDOW + va in the server. */
int lx_plat_map(uint64_t va, uint32_t prot);
int lx_plat_protect(uint64_t va, uint32_t prot); /* a page lx_plat_map mapped */
void lx_plat_unmap(uint64_t va);
int lx_plat_is_mapped(uint64_t va);
/* Iterate over every mapped page: true and *va while there is one after *cursor (from 0). */
bool lx_plat_next_mapped(uint32_t *cursor, uint64_t *va);
/* The server's view of the (mapped) page holding va: its first byte. */
void *lx_plat_page(uint64_t va);
void lx_plat_console(const char *s, size_t n);
uint64_t lx_plat_nanotime(void);
void lx_plat_random(void *buf, size_t n);
int lx_plat_set_fs(uint64_t base); /* the Linux thread's FS base: 0 or -LX_EPERM */
uint64_t lx_plat_get_fs(void);

/* ---- exec (exec.c) ---- */
struct lx_elf_info {
	uint64_t entry, phdr, phnum, bias;
};
/*
 * Check the ELF file and add its PT_LOAD segments to p; *info gets what
 * the initial stack's auxv needs. 0 or -errno (-LX_ENOEXEC as -8).
 */
int lx_elf_load(struct lx_proc *p, const uint8_t *file, uint64_t len, struct lx_elf_info *info);
/* Build argv, envp and auxv at the top of the stack; *sp gets the new stack pointer. */
int lx_build_stack(struct lx_proc *p, const struct lx_elf_info *info, const char *const *argv,
                   const char *const *envp, uint64_t *sp);

/* ---- file system (fs.c) ---- */
/* Build the directory tree from a newc cpio archive; 0 or -errno. */
int lx_fs_init(const uint8_t *cpio, size_t len);
/* Resolve an absolute or cwd-relative ("/" is the cwd) path. */
const struct lx_file *lx_fs_lookup(const char *path);
/* The idx-th entry of directory dir (NULL past the end). */
const struct lx_file *lx_fs_child(const struct lx_file *dir, uint32_t idx, const char **name);

/* ---- system calls (sys.c) ---- */
/* Serve call nr with args a[6]; returns the Linux result (or -errno). */
int64_t lx_syscall(struct lx_proc *p, uint64_t nr, const uint64_t a[6]);
/* Print the unknown calls seen so far (number and count); then forget them if reset. */
void lx_report_unknown(bool reset);

#endif
