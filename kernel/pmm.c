/* Kernel physical memory manager: the frame bitmap behind a lock. */
#include <kernel/frames.h>
#include <kernel/klog.h>
#include <kernel/layout.h>
#include <kernel/memmap.h>
#include <kernel/panic.h>
#include <kernel/pmm.h>
#include <kernel/spinlock.h>
#include <lib/string.h>

extern char __kernel_start[], __kernel_end[];

struct boot_mmap_entry pmm_map[BOOT_MAX_MMAP];
uint32_t pmm_nmap;

static struct frame_map fmap; /* [L pmm_lock] */
static struct spinlock pmm_lock = SPINLOCK_INIT("pmm");
static uint64_t usable_frames;

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* Ranges that must never be handed out besides non-usable map entries. */
static uint32_t fixed_reservations(const struct boot_info *bi, uint64_t r[][2], uint32_t max)
{
	uint32_t n = 0;

	r[n][0] = 0, r[n++][1] = 0x100000;
	r[n][0] = virt_to_phys(__kernel_start);
	r[n][1] = virt_to_phys(__kernel_end) - r[n][0];
	n++;
	r[n][0] = bi->info_phys, r[n++][1] = bi->info_len;
	for (uint32_t i = 0; i < bi->nmods && n < max; i++)
		r[n][0] = bi->mods[i].start, r[n++][1] = bi->mods[i].end - bi->mods[i].start;
	return n;
}

/* Find a usable, unreserved, page-aligned place below 4 GiB for the bitmap. */
static paddr_t place_bitmap(uint64_t bytes, uint64_t r[][2], uint32_t nr)
{
	for (uint32_t i = 0; i < pmm_nmap; i++) {
		const struct boot_mmap_entry *e = &pmm_map[i];
		if (e->type != MEM_USABLE)
			continue;
		for (uint64_t p = MAX(e->base, 0x100000ul);
		     p + bytes <= e->base + e->len && p + bytes <= (4ul << 30); p += PAGE_SIZE) {
			bool clash = false;
			for (uint32_t k = 0; k < nr && !clash; k++)
				clash = overlaps(p, bytes, r[k][0], r[k][1]);
			if (!clash)
				return p;
		}
	}
	return 0;
}

void pmm_init(const struct boot_info *bi)
{
	uint32_t anomalies;
	uint64_t r[BOOT_MAX_MODS + 4][2], top = 0;

	pmm_nmap = memmap_normalize(bi->mmap, bi->nmmap, pmm_map, BOOT_MAX_MMAP, &anomalies);
	if (anomalies)
		pr_warn("memory map: %u anomalies (overlap, order, tiny entries) corrected",
		        anomalies);
	for (uint32_t i = 0; i < pmm_nmap; i++) {
		pr_info("mem %#014lx-%#014lx %s", pmm_map[i].base,
		        pmm_map[i].base + pmm_map[i].len - 1, memmap_type_name(pmm_map[i].type));
		if (pmm_map[i].type == MEM_USABLE)
			top = pmm_map[i].base + pmm_map[i].len;
	}
	if (!top)
		panic("memory map has no usable memory");
	uint32_t nr = fixed_reservations(bi, r, ARRAY_SIZE(r) - 1);
	uint64_t nframes = top / PAGE_SIZE, bytes = ALIGN_UP((nframes + 63) / 64 * 8, PAGE_SIZE);
	paddr_t bm = place_bitmap(bytes, r, nr);
	if (!bm)
		panic("no room for the frame bitmap (%lu bytes)", bytes);
	r[nr][0] = bm, r[nr++][1] = bytes;

	frames_init(&fmap, phys_to_virt(bm), nframes);
	for (uint32_t i = 0; i < pmm_nmap; i++)
		if (pmm_map[i].type == MEM_USABLE)
			frames_release_range(&fmap, pmm_map[i].base / PAGE_SIZE,
			                     pmm_map[i].len / PAGE_SIZE);
	for (uint32_t k = 0; k < nr; k++) {
		uint64_t first = r[k][0] / PAGE_SIZE;
		uint64_t last = ALIGN_UP(r[k][0] + r[k][1], PAGE_SIZE) / PAGE_SIZE;
		frames_reserve_range(&fmap, first, last - first);
	}
	usable_frames = fmap.nfree;
	pr_info("pmm: %lu MiB free in %lu frames, bitmap at %#lx", fmap.nfree * PAGE_SIZE >> 20,
	        fmap.nfree, bm);
}

paddr_t pmm_alloc_pages(size_t n, size_t align_pages)
{
	uint64_t first;

	spin_lock(&pmm_lock);
	bool ok = frames_alloc(&fmap, n, align_pages ? align_pages : 1, &first);
	spin_unlock(&pmm_lock);
	return ok ? first * PAGE_SIZE : 0;
}

void pmm_free_pages(paddr_t pa, size_t n)
{
	spin_lock(&pmm_lock);
	bool ok = frames_free(&fmap, pa / PAGE_SIZE, n);
	spin_unlock(&pmm_lock);
	if (!ok)
		panic("pmm: double free or bad free of %#lx (+%zu pages)", pa, n);
}

uint64_t pmm_free_count(void)
{
	return fmap.nfree;
}

uint64_t pmm_frame_count(void)
{
	return fmap.nframes;
}

uint64_t pmm_total_usable(void)
{
	return usable_frames;
}

bool pmm_range_known(paddr_t pa, size_t len)
{
	for (uint32_t i = 0; i < pmm_nmap; i++)
		if (pa >= pmm_map[i].base && pa + len <= pmm_map[i].base + pmm_map[i].len)
			return true;
	return false;
}
