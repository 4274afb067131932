/*
 * The Linux personality server, run as the root task of its boot module
 * (docs/linux.md). It reads etc/linux-run (one command per line: argv
 * words separated by spaces), and runs each command as a Linux process in
 * turn, framing its console output for the differential tests:
 *
 *   @@lx-begin <n> <command>
 *   ...the process's output...
 *   @@lx-end <n> exit=<code>[ nonl]
 *
 * Everything a process has (its address space, thread, frames, page
 * tables) is carved from one memory capability, the pool, and goes away
 * with one revoke when it exits: the pool's watermark then starts again.
 */
#include "lx.h"

#include <hallows/rt.h>
#include <lib/cpio.h>
#include <lib/string.h>

#define SLOT_FIRST 1024u /* slots [SLOT_FIRST, 2^cspace_bits) are the per-process ones */
#define PAGE_HASH  4096u
#define MAX_LINE   512
#define MAX_WORDS  32

struct page {
	uint64_t vpn;         /* 0: free */
	uint16_t frame, copy; /* slots: mapped in the process, and in the server's window */
};

static struct {
	hl_cptr_t pool, ep, fault_cap, thread, aspace, cspace;
	uint32_t next_slot;
	uint16_t free_slots[4096]; /* per-process slots emptied before the process ended */
	uint32_t nfree;
	struct page pages[PAGE_HASH];
	uint32_t npages;
	uint64_t fs_base;
	uint64_t rng;
	int console_nl; /* the last byte written to the console was a newline */
	bool trace;     /* "@trace" in etc/linux-run: log every call and fault */
} plat;

/* An empty per-process slot (freed ones first); 0 when there is none. */
static hl_cptr_t slot_take(void)
{
	if (plat.nfree)
		return plat.free_slots[--plat.nfree];
	uint32_t end = rt_self.bi->cspace_bits < 12 ? 1u << rt_self.bi->cspace_bits : 4096u;

	return plat.next_slot < end ? plat.next_slot++ : 0;
}

static void slot_free(hl_cptr_t s)
{
	hl_cspace_delete(HL_SLOT_CSPACE, s);
	plat.free_slots[plat.nfree++] = (uint16_t)s;
}

/*
 * A fresh object from the pool in a per-process slot; 0 when out of either.
 * (Memory of objects deleted before the process ends is not reused until
 * then: the pool's watermark only goes back when it has no children.)
 */
static hl_cptr_t pool_alloc(uint32_t type, uint32_t bits)
{
	hl_cptr_t s = slot_take();

	if (s && hl_memory_retype(plat.pool, type, bits, 1, s) != HL_OK) {
		slot_free(s);
		return 0;
	}
	return s;
}

static long ensure_tables(hl_cptr_t as, uint64_t va)
{
	for (int level = 3; level >= 1; level--) {
		hl_cptr_t pt = pool_alloc(HL_OBJ_PAGE_TABLE, 12);
		if (!pt)
			return HL_ERR_NO_MEMORY;
		long err = hl_aspace_map_table(as, pt, va, (hl_word_t)level);
		if (err == HL_ERR_ALREADY_MAPPED) {
			slot_free(pt);
			continue;
		}
		if (err)
			return err;
	}
	return HL_OK;
}

static long map_in(hl_cptr_t as, hl_cptr_t f, uint64_t va, uint32_t rights)
{
	long err = hl_aspace_map(as, f, va, rights);

	if (err == HL_ERR_NO_TABLE && (err = ensure_tables(as, va)) == HL_OK)
		err = hl_aspace_map(as, f, va, rights);
	return err;
}

static struct page *page_slot(uint64_t va, bool insert)
{
	uint64_t vpn = va / LX_PAGE;
	uint32_t h = (uint32_t)(vpn * 0x9e3779b97f4a7c15ull >> 52) % PAGE_HASH;

	for (uint32_t i = 0; i < PAGE_HASH; i++, h = (h + 1) % PAGE_HASH) {
		struct page *pg = &plat.pages[h];
		if (pg->vpn == vpn)
			return pg;
		if (!pg->vpn)
			return insert ? pg : NULL;
	}
	return NULL;
}

static uint32_t hl_rights(uint32_t prot)
{
	return HL_R_READ | (prot & LX_PROT_WRITE ? HL_R_WRITE : 0) |
	       (prot & LX_PROT_EXEC ? HL_R_EXEC : 0);
}

int lx_plat_map(uint64_t va, uint32_t prot)
{
	if (plat.npages >= PAGE_HASH / 2)
		return -LX_ENOMEM;
	struct page *pg = page_slot(va, true);
	hl_cptr_t f = pool_alloc(HL_OBJ_FRAME, 12), c = f ? slot_take() : 0;
	if (!c || hl_cspace_copy(HL_SLOT_CSPACE, c, f, HL_R_READ | HL_R_WRITE) ||
	    map_in(HL_SLOT_ASPACE, c, LX_WINDOW + va, HL_R_READ | HL_R_WRITE) ||
	    map_in(plat.aspace, f, va, hl_rights(prot)))
		return -LX_ENOMEM; /* what was made goes with the pool when the process ends */
	*pg = (struct page){va / LX_PAGE, (uint16_t)f, (uint16_t)c};
	plat.npages++;
	return 0;
}

void *lx_plat_page(uint64_t va)
{
	return (void *)(LX_WINDOW + (va & ~(LX_PAGE - 1)));
}

bool lx_plat_next_mapped(uint32_t *cursor, uint64_t *va)
{
	for (; *cursor < PAGE_HASH; (*cursor)++) {
		if (plat.pages[*cursor].vpn) {
			*va = plat.pages[(*cursor)++].vpn * LX_PAGE;
			return true;
		}
	}
	return false;
}

int lx_plat_is_mapped(uint64_t va)
{
	return page_slot(va, false) != NULL;
}

int lx_plat_protect(uint64_t va, uint32_t prot)
{
	struct page *pg = page_slot(va, false);

	return pg && hl_aspace_protect(plat.aspace, pg->frame, hl_rights(prot)) ? -LX_ENOMEM : 0;
}

/* Unmap both views; the slots are not reused before the process ends (the hash keeps a
 * tombstone-free table by re-inserting the cluster that follows). */
void lx_plat_unmap(uint64_t va)
{
	struct page *pg = page_slot(va, false);

	if (!pg)
		return;
	slot_free(pg->copy);
	slot_free(pg->frame);
	pg->vpn = 0;
	plat.npages--;
	uint32_t h = (uint32_t)(pg - plat.pages);
	for (uint32_t i = (h + 1) % PAGE_HASH; plat.pages[i].vpn; i = (i + 1) % PAGE_HASH) {
		struct page moved = plat.pages[i];
		plat.pages[i].vpn = 0;
		*page_slot(moved.vpn * LX_PAGE, true) = moved;
	}
}

void lx_plat_console(const char *s, size_t n)
{
	for (size_t off = 0; off < n; off += 256)
		hl_debug_puts(HL_SLOT_DEBUG, s + off, n - off > 256 ? 256 : n - off);
	if (n)
		plat.console_nl = s[n - 1] == '\n';
}

uint64_t lx_plat_nanotime(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	uint64_t tsc = (uint64_t)hi << 32 | lo, hz = rt_self.bi->tsc_hz ? rt_self.bi->tsc_hz : 1;
	return tsc / hz * 1000000000ull + tsc % hz * 1000000000ull / hz;
}

/* xorshift64*, seeded from the TSC: AT_RANDOM and getrandom, not for cryptography. */
void lx_plat_random(void *buf, size_t n)
{
	uint8_t *b = buf;

	if (!plat.rng)
		plat.rng = lx_plat_nanotime() | 1;
	for (size_t i = 0; i < n; i++) {
		plat.rng ^= plat.rng >> 12, plat.rng ^= plat.rng << 25, plat.rng ^= plat.rng >> 27;
		b[i] = (uint8_t)((plat.rng * 0x2545f4914f6cdd1dull) >> 56);
	}
}

int lx_plat_set_fs(uint64_t base)
{
	if (hl_thread_set_fs_base(plat.thread, base))
		return -LX_EPERM;
	plat.fs_base = base;
	return 0;
}

uint64_t lx_plat_get_fs(void)
{
	return plat.fs_base;
}

/* The Linux thread and its spaces; the thread waits to be resumed. */
static int make_process(struct lx_proc *p, uint64_t entry, uint64_t sp)
{
	plat.thread = pool_alloc(HL_OBJ_THREAD, 0);
	if (!plat.thread ||
	    hl_cspace_mint(HL_SLOT_CSPACE, plat.fault_cap, plat.ep, HL_R_WRITE, p->pid))
		return -LX_ENOMEM;
	if (hl_thread_configure(plat.thread, plat.cspace, plat.aspace, 0, 0) ||
	    hl_thread_set_fault_ep(plat.thread, plat.fault_cap) ||
	    hl_thread_set_linux(plat.thread, 1) || hl_thread_set_priority(plat.thread, 200) ||
	    hl_thread_write_regs(plat.thread, entry, sp, 0, 0))
		return -LX_ENOMEM;
	plat.fs_base = 0;
	return 0;
}

/* The process's memory, thread and spaces all go: one revoke of the pool. */
static void end_process(void)
{
	hl_thread_suspend(plat.thread);
	hl_cspace_revoke(HL_SLOT_CSPACE, plat.pool);
	hl_cspace_delete(HL_SLOT_CSPACE, plat.fault_cap);
	memset(plat.pages, 0, sizeof(plat.pages));
	plat.npages = 0;
	plat.next_slot = SLOT_FIRST;
	plat.nfree = 0;
}

/* A fault of the process: page it in, or end it with SIGSEGV (its exit status 128 + 11). */
static bool handle_fault(struct lx_proc *p, const struct hl_msg *m)
{
	uint64_t err = m->w[HL_FAULT_ERROR], addr = m->w[HL_FAULT_ADDR];
	uint32_t need = err & 2 ? LX_PROT_WRITE : err & 16 ? LX_PROT_EXEC : LX_PROT_READ;

	if (plat.trace)
		rt_printf("linux: [%u] fault %lu error %#lx at %#lx rip %#lx\n", p->pid,
		          m->w[HL_FAULT_VECTOR], err, addr, m->w[HL_FAULT_RIP]);
	if (m->w[HL_FAULT_VECTOR] == 14 && !(err & 1) && lx_page_in(p, addr, need) == 0)
		return true;
	rt_printf("linux: pid %u: fault vector %lu error %#lx at %#lx (rip %#lx): SIGSEGV\n",
	          p->pid, m->w[HL_FAULT_VECTOR], err, addr, m->w[HL_FAULT_RIP]);
	p->exited = 1, p->exit_code = 128 + 11;
	return false;
}

/* Serve the process until it exits; its exit status. */
static int serve(struct lx_proc *p)
{
	hl_word_t info = 0, badge;
	struct hl_msg m = {{0}};
	struct hl_ipc_buffer *ib = hl_ipcbuf();

	hl_thread_resume(plat.thread);
	hl_syscall(HL_SYS_RECV, plat.ep, &info, &m, &badge);
	for (;;) {
		bool reply = true;
		if (badge != p->pid) {
			reply = false; /* not ours: a stale caller, left waiting */
		} else if (HL_MSG_LABEL(info) == HL_LABEL_LINUX_SYSCALL) {
			uint64_t a[6] = {m.w[1], m.w[2], m.w[3], ib->mr[4], ib->mr[5], ib->mr[6]};
			uint64_t nr = m.w[0];
			m.w[0] = (hl_word_t)lx_syscall(p, nr, a);
			if (plat.trace)
				rt_printf("linux: [%u] %lu(%#lx, %#lx, %#lx, %#lx) = %ld\n", p->pid,
				          nr, a[0], a[1], a[2], a[3], (long)m.w[0]);
		} else if (HL_MSG_LABEL(info) == HL_LABEL_FAULT) {
			reply = handle_fault(p, &m);
		}
		if (p->exited)
			return p->exit_code;
		if (!reply) {
			hl_syscall(HL_SYS_RECV, plat.ep, &info, &m, &badge);
			continue;
		}
		info = HL_MSGINFO(0, 1, 0);
		hl_syscall(HL_SYS_REPLY_RECV, plat.ep, &info, &m, &badge);
	}
}

static struct lx_proc proc;

/* Run one command line; its exit status, or -errno when it could not start. */
static int run(char *line, uint32_t pid)
{
	const char *argv[MAX_WORDS + 1], *envp[] = {"PATH=/bin", "HOME=/", "TERM=dumb", NULL};
	uint32_t argc = 0;
	struct lx_elf_info info;
	struct cpio_entry e;
	uint64_t sp;

	if (line[0] == '!')
		line++; /* a command the differential test leaves out (Hallows only) */
	for (char *s = line; *s && argc < MAX_WORDS;) {
		while (*s == ' ')
			*s++ = 0;
		if (*s)
			argv[argc++] = s;
		while (*s && *s != ' ')
			s++;
	}
	argv[argc] = NULL;
	if (!argc)
		return -LX_EINVAL;
	const char *path = argv[0][0] == '/' ? argv[0] + 1 : argv[0];
	if (cpio_find((const uint8_t *)rt_self.bi->initrd_vaddr, rt_self.bi->initrd_size, path, &e))
		return -LX_ENOENT;
	memset(&proc, 0, sizeof(proc));
	proc.pid = pid;
	plat.aspace = pool_alloc(HL_OBJ_ASPACE, 12);
	plat.cspace = pool_alloc(HL_OBJ_CSPACE, 2);
	int err = plat.aspace && plat.cspace ? 0 : -LX_ENOMEM;
	if (!err)
		err = lx_elf_load(&proc, e.data, e.size, &info);
	if (!err)
		err = lx_build_stack(&proc, &info, argv, envp, &sp);
	if (!err)
		err = make_process(&proc, info.entry, sp);
	for (int fd = 0; fd < 3; fd++)
		proc.fd[fd] =
		    (struct lx_fd){.used = 1, .kind = LX_FD_CONSOLE, .flags = fd ? 1u : 0u};
	return err ? err : serve(&proc);
}

static void exit_qemu(unsigned code)
{
	hl_cptr_t port = rt_slot();
	if (port && hl_ioport_control_issue(HL_SLOT_IOPORT_CONTROL, 0xf4, 4, port) == HL_OK)
		hl_ioport_out(port, 0xf4, 1, code);
}

int main(struct rt *rt)
{
	const uint8_t *cpio = (const uint8_t *)rt->bi->initrd_vaddr;
	struct cpio_entry e;
	static char script[8192];

	plat.next_slot = SLOT_FIRST;
	plat.ep = rt_alloc(HL_OBJ_ENDPOINT, 0);
	plat.fault_cap = rt_slot();
	for (uint32_t bits = 28; bits >= 22 && !plat.pool; bits--)
		plat.pool = rt_alloc(HL_OBJ_MEMORY, bits);
	if (!plat.ep || !plat.fault_cap || !plat.pool || lx_fs_init(cpio, rt->bi->initrd_size)) {
		rt_printf("linux: cannot start: no memory, or a broken boot module\n");
		return 1;
	}
	if (cpio_find(cpio, rt->bi->initrd_size, "etc/linux-run", &e) || e.size >= sizeof(script)) {
		rt_printf("linux: no etc/linux-run (or longer than %zu bytes) in the boot module\n",
		          sizeof(script) - 1);
		return 1;
	}
	memcpy(script, e.data, e.size);
	uint32_t n = 0;
	bool want_exit = false;
	for (char *line = script, *next; *line; line = next) {
		next = strchr(line, '\n');
		next = next ? (*next = 0, next + 1) : line + strlen(line);
		if (!line[0] || line[0] == '#')
			continue;
		if (!strcmp(line, "@trace")) { /* print every system call and fault from here on */
			plat.trace = true;
			continue;
		}
		if (!strcmp(line, "@unknown")) { /* the ENOSYS counts so far, then from zero */
			lx_report_unknown(true);
			continue;
		}
		if (!strcmp(line, "@exit")) { /* tests: leave QEMU at the end (isa-debug-exit) */
			want_exit = true;
			continue;
		}
		n++;
		rt_printf("@@lx-begin %u %s\n", n, line);
		plat.console_nl = 1;
		int code = run(line, 100 + n);
		rt_printf("%s@@lx-end %u exit=%d%s\n", plat.console_nl ? "" : "\n", n, code,
		          plat.console_nl ? "" : " nonl");
		end_process();
	}
	lx_report_unknown(false);
	rt_printf("linux: all %u commands done\n", n);
	if (want_exit)
		exit_qemu(0);
	return 0;
}
