/*
 * The Linux personality's platform (user/linux/lx.h, "the platform the
 * server runs on") for host tests and the fuzzer: pages are calloc'd
 * blocks found through a small open hash, nothing else is real.
 */
#include "lx_host.h"

#include <stdlib.h>
#include <string.h>

#define HOST_PAGES 8192u

static struct {
	uint64_t vpn; /* page number + 1; 0: free */
	uint32_t prot;
	void *mem;
} pages[HOST_PAGES];
static uint32_t npages;

uint32_t lx_host_pages(void)
{
	return npages;
}

static uint32_t find(uint64_t va, bool insert)
{
	uint64_t key = va / LX_PAGE + 1;
	uint32_t h = (uint32_t)(key * 0x9e3779b97f4a7c15ull >> 40) % HOST_PAGES;

	for (uint32_t i = 0; i < HOST_PAGES; i++, h = (h + 1) % HOST_PAGES) {
		if (pages[h].vpn == key)
			return h;
		if (!pages[h].vpn)
			return insert ? h : HOST_PAGES; /* the end of its cluster */
	}
	return HOST_PAGES;
}

int lx_plat_map(uint64_t va, uint32_t prot)
{
	uint32_t h = npages < HOST_PAGES / 2 ? find(va, true) : HOST_PAGES;

	if (h == HOST_PAGES || pages[h].vpn)
		return -LX_ENOMEM;
	pages[h].mem = calloc(1, LX_PAGE);
	if (!pages[h].mem)
		return -LX_ENOMEM;
	pages[h].vpn = va / LX_PAGE + 1, pages[h].prot = prot;
	npages++;
	return 0;
}

int lx_plat_protect(uint64_t va, uint32_t prot)
{
	uint32_t h = find(va, false);

	if (h != HOST_PAGES)
		pages[h].prot = prot;
	return 0;
}

void lx_plat_unmap(uint64_t va)
{
	uint32_t h = find(va, false);

	if (h == HOST_PAGES)
		return;
	free(pages[h].mem);
	pages[h].vpn = 0, pages[h].mem = NULL;
	npages--;
	/* Re-insert the cluster after the hole so lookups still find it. */
	for (uint32_t i = (h + 1) % HOST_PAGES; pages[i].vpn; i = (i + 1) % HOST_PAGES) {
		uint64_t key = pages[i].vpn;
		void *mem = pages[i].mem;
		uint32_t prot = pages[i].prot;
		pages[i].vpn = 0;
		uint32_t j = find((key - 1) * LX_PAGE, true);
		pages[j].vpn = key, pages[j].mem = mem, pages[j].prot = prot;
	}
}

int lx_plat_move(uint64_t from, uint64_t to)
{
	uint32_t h = find(from, false);

	if (h == HOST_PAGES)
		return 0;
	void *mem = pages[h].mem;
	uint32_t prot = pages[h].prot;
	pages[h].mem = NULL; /* kept: lx_plat_unmap frees nothing */
	lx_plat_unmap(from);
	uint32_t t = find(to, true);
	if (t == HOST_PAGES || pages[t].vpn) {
		free(mem);
		return -LX_ENOMEM;
	}
	pages[t].vpn = to / LX_PAGE + 1, pages[t].prot = prot, pages[t].mem = mem;
	npages++;
	return 0;
}

bool lx_plat_next_mapped(uint32_t *cursor, uint64_t *va)
{
	for (; *cursor < HOST_PAGES; (*cursor)++) {
		if (pages[*cursor].vpn) {
			*va = (pages[(*cursor)++].vpn - 1) * LX_PAGE;
			return true;
		}
	}
	return false;
}

int lx_plat_is_mapped(uint64_t va)
{
	return find(va, false) != HOST_PAGES;
}

int lx_plat_make_private(uint64_t va, uint32_t prot)
{
	(void)va, (void)prot;
	return 0; /* nothing is shared here */
}

void *lx_plat_page(uint64_t va)
{
	uint32_t h = find(va, false);

	return h == HOST_PAGES ? NULL : pages[h].mem;
}

void *lx_plat_user(uint64_t va, uint64_t len, uint32_t need)
{
	uint32_t h = find(va, false);

	if (!len || va >= LX_TOP || ((va ^ (va + len - 1)) & ~(LX_PAGE - 1)) || h == HOST_PAGES ||
	    (pages[h].prot & need) != need)
		return NULL;
	return (uint8_t *)pages[h].mem + (va & (LX_PAGE - 1));
}

void lx_plat_console(const char *s, size_t n)
{
	(void)s, (void)n;
}

void *lx_plat_alloc(size_t n)
{
	return malloc(n);
}

void lx_plat_free(void *p)
{
	free(p);
}

uint64_t lx_plat_nanotime(void)
{
	return 1000;
}

void lx_plat_random(void *buf, size_t n)
{
	memset(buf, 0x5a, n);
}

static uint64_t fs_base;

int lx_plat_set_fs(uint64_t base)
{
	fs_base = base;
	return 0;
}

uint64_t lx_plat_get_fs(void)
{
	return fs_base;
}

void lx_host_reset(void)
{
	for (uint32_t i = 0; i < HOST_PAGES; i++)
		free(pages[i].mem);
	memset(pages, 0, sizeof(pages));
	npages = 0;
}

/* The process table and the figures procfs.c shows (the server's are in proc.c, main.c and
 * sys.c): the tests fill lx_procs themselves. */
struct lx_proc lx_procs[LX_MAX_PROCS];

struct lx_proc *lx_proc_by_pid(uint32_t pid)
{
	for (uint32_t i = 0; i < LX_MAX_PROCS; i++)
		if (lx_procs[i].state != LX_PROC_FREE && lx_procs[i].pid == pid)
			return &lx_procs[i];
	return NULL;
}

void lx_plat_mem(uint64_t *total, uint64_t *free)
{
	*total = 128ull << 20;
	*free = *total - (uint64_t)npages * LX_PAGE;
}

uint64_t lx_plat_pages_of(const struct lx_proc *p)
{
	return p->state == LX_PROC_LIVE ? npages : 0;
}

/* CPU times (cputime.c reads the kernel's counts and the TSC): here the fields as they are,
 * the system counts taken as ns. */
uint64_t lx_cpu_process_ns(struct lx_proc *p)
{
	return lx_grp(p)->cpu_gone_ns;
}

uint64_t lx_cpu_process_sys_ns(struct lx_proc *p)
{
	return lx_grp(p)->sys_proc_tsc;
}

uint64_t lx_cpu_children_sys_ns(struct lx_proc *p)
{
	return lx_grp(p)->sys_children_tsc;
}

uint64_t lx_unknown_format(char *buf, size_t cap)
{
	const char text[] = "400 1\n>=512 2\n";
	size_t n = sizeof(text) - 1 < cap ? sizeof(text) - 1 : cap;

	memcpy(buf, text, n);
	return n;
}
