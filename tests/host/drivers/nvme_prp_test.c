/*
 * PRP construction (nvme_prp_build) for every transfer size and alignment,
 * checked by walking the result the way a controller does (NVMe 1.4, 4.3),
 * and the interface checks every block driver shares (blkdev_check).
 */
#include <stdint.h>
#include <string.h>

#include "nvme.h"
#include "ktharness.h"

#define MAXP    (NVME_MAX_XFER_PAGES + 2)
#define LIST_PA 0x7770000000ull

static uint64_t pages[MAXP];
static uint64_t lists[NVME_PRP_LIST_PAGES][NVME_PRPS_PER_PAGE];

static void setup_pages(void)
{
	for (unsigned p = 0; p < MAXP; p++) /* scattered, page-aligned */
		pages[p] = 0x40000000ull + (uint64_t)((p * 7919u) % 100003u) * NVME_PAGE;
}

/* The list page at physical address pa, or NULL if the PRPs point anywhere else. */
static uint64_t *list_at(uint64_t pa)
{
	for (unsigned i = 0; i < NVME_PRP_LIST_PAGES; i++)
		if (pa == LIST_PA + i * NVME_PAGE)
			return lists[i];
	return 0;
}

/* Walk PRP1/PRP2 like a controller for len bytes; true if they name exactly pages[0..n) from
 * offset. */
static bool walk_ok(uint64_t prp1, uint64_t prp2, uint32_t offset, uint32_t len)
{
	uint32_t n = (offset + len + NVME_PAGE - 1) / NVME_PAGE;

	if (prp1 != pages[0] + offset)
		return false;
	if (n == 1)
		return prp2 == 0;
	if (n == 2)
		return prp2 == pages[1];
	uint64_t *l = list_at(prp2);
	unsigned idx = 0;
	for (uint32_t p = 1; p < n; p++) {
		if (!l)
			return false;
		if (idx == NVME_PRPS_PER_PAGE - 1 &&
		    p < n - 1) { /* last entry of a full list page: the next list */
			l = list_at(l[idx]);
			idx = 0;
			if (!l)
				return false;
		}
		if (l[idx++] != pages[p])
			return false;
	}
	return true;
}

static int build(uint32_t offset, uint32_t len, unsigned list_pages, uint64_t *prp1, uint64_t *prp2)
{
	uint64_t *const lp[NVME_PRP_LIST_PAGES] = {lists[0], lists[1]};
	const uint64_t pa[NVME_PRP_LIST_PAGES] = {LIST_PA, LIST_PA + NVME_PAGE};

	memset(lists, 0xee, sizeof(lists));
	return nvme_prp_build(pages, offset, len, lp, pa, list_pages, prp1, prp2);
}

/* Every 4-byte offset with the lengths that end just before, at and after each page boundary of
 * interest. */
KT_CASE(prp_every_alignment_at_page_boundaries)
{
	static const uint32_t ends[] = {1, 2, 3, 511, 512, 513, 1024};
	unsigned bad = 0, runs = 0;

	setup_pages();
	for (uint32_t off = 0; off < NVME_PAGE; off += 4)
		for (unsigned e = 0; e < sizeof(ends) / sizeof(ends[0]); e++)
			for (int delta = -4; delta <= 4; delta += 4) {
				int64_t len = (int64_t)ends[e] * NVME_PAGE - off + delta;
				if (len <= 0 ||
				    (off + len + NVME_PAGE - 1) / NVME_PAGE > NVME_MAX_XFER_PAGES)
					continue;
				uint64_t p1, p2;
				runs++;
				if (build(off, (uint32_t)len, NVME_PRP_LIST_PAGES, &p1, &p2) ||
				    !walk_ok(p1, p2, off, (uint32_t)len)) {
					if (!bad++)
						CHECK_MSG(0, "offset %u length %ld", off,
						          (long)len);
				}
			}
	CHECK_MSG(bad == 0, "%u of %u wrong", bad, runs);
}

/* Every multiple of 512 bytes up to the largest transfer, from a few offsets. */
KT_CASE(prp_every_size_to_the_largest)
{
	static const uint32_t offs[] = {0, 4, 512, 2048, 3584, 4092};
	unsigned bad = 0;

	setup_pages();
	for (unsigned o = 0; o < 6; o++)
		for (uint32_t len = 512;
		     (offs[o] + len + NVME_PAGE - 1) / NVME_PAGE <= NVME_MAX_XFER_PAGES;
		     len += 512) {
			uint64_t p1, p2;
			if (build(offs[o], len, NVME_PRP_LIST_PAGES, &p1, &p2) ||
			    !walk_ok(p1, p2, offs[o], len)) {
				if (!bad++)
					CHECK_MSG(0, "offset %u length %u", offs[o], len);
			}
		}
	CHECK_MSG(bad == 0, "%u wrong", bad);
}

/* The chain pointer sits in the last entry of the first list page only when more than one entry is
 * left. */
KT_CASE(prp_list_chains_only_when_needed)
{
	uint64_t p1, p2;

	setup_pages();
	/* 1 + 512 pages: the first list page holds exactly 512 entries, no chain. */
	CHECK_MSG(build(0, 513 * NVME_PAGE, 2, &p1, &p2) == 0 &&
	          walk_ok(p1, p2, 0, 513 * NVME_PAGE));
	CHECK_MSG(lists[0][511] == pages[512] && lists[1][0] == 0xeeeeeeeeeeeeeeeeull,
	          "no second list page used");
	/* 1 + 513 pages: the chain. */
	CHECK_MSG(build(0, 514 * NVME_PAGE, 2, &p1, &p2) == 0 &&
	          walk_ok(p1, p2, 0, 514 * NVME_PAGE));
	CHECK_MSG(lists[0][511] == LIST_PA + NVME_PAGE && lists[0][510] == pages[511] &&
	          lists[1][0] == pages[512] && lists[1][1] == pages[513]);
}

KT_CASE(prp_refuses_what_it_cannot_describe)
{
	uint64_t p1 = 1, p2 = 2;

	setup_pages();
	CHECK_MSG(build(0, 0, 2, &p1, &p2) == BLKDEV_E_INVAL);
	CHECK_MSG(build(2, 512, 2, &p1, &p2) == BLKDEV_E_INVAL);
	CHECK_MSG(build(NVME_PAGE, 512, 2, &p1, &p2) == BLKDEV_E_INVAL);
	/* One list page: 1 + 511 pages fit (the conservative bound), one more does not. */
	CHECK_MSG(build(0, 512 * NVME_PAGE, 1, &p1, &p2) == 0);
	CHECK_MSG(build(4, 512 * NVME_PAGE, 1, &p1, &p2) == BLKDEV_E_INVAL);
	CHECK_MSG(build(0, NVME_MAX_XFER_PAGES * NVME_PAGE, 2, &p1, &p2) == 0);
	CHECK_MSG(build(0, (NVME_MAX_XFER_PAGES + 1) * NVME_PAGE, 2, &p1, &p2) == BLKDEV_E_INVAL);
	CHECK_MSG(build(0, 0xfffffffcu, 2, &p1, &p2) == BLKDEV_E_INVAL);
	pages[2] += 8; /* a page address inside a page */
	CHECK_MSG(build(0, 2 * NVME_PAGE, 2, &p1, &p2) == 0);
	CHECK_MSG(build(0, 3 * NVME_PAGE, 2, &p1, &p2) == BLKDEV_E_INVAL);
}

KT_CASE(blkdev_check_ranges_and_lengths)
{
	struct blkdev d = {.nblocks = 1000, .block_size = 512, .max_blocks = 64, .flags = 0};
	uint64_t pg[1] = {0x1000};
	struct blkdev_req r = {.op = BLKDEV_READ, .lba = 0, .nblocks = 1, .pages = pg};

	CHECK_MSG(blkdev_check(&d, &r) == 0);
	r.lba = 999;
	CHECK_MSG(blkdev_check(&d, &r) == 0);
	r.nblocks = 2;
	CHECK_MSG(blkdev_check(&d, &r) == BLKDEV_E_RANGE);
	r.lba = 1000, r.nblocks = 1;
	CHECK_MSG(blkdev_check(&d, &r) == BLKDEV_E_RANGE);
	r.lba = UINT64_MAX - 1, r.nblocks = 4; /* lba + n wraps */
	CHECK_MSG(blkdev_check(&d, &r) == BLKDEV_E_RANGE);
	r.lba = 0, r.nblocks = 0;
	CHECK_MSG(blkdev_check(&d, &r) == BLKDEV_E_INVAL);
	r.nblocks = 65;
	CHECK_MSG(blkdev_check(&d, &r) == BLKDEV_E_INVAL);
	r.nblocks = 1, r.offset = 6;
	CHECK_MSG(blkdev_check(&d, &r) == BLKDEV_E_INVAL);
	r.offset = 0, r.pages = 0;
	CHECK_MSG(blkdev_check(&d, &r) == BLKDEV_E_INVAL);
	r.op = BLKDEV_WRITE_ZEROES;
	CHECK_MSG(blkdev_check(&d, &r) == BLKDEV_E_UNSUPPORTED);
	d.flags = BLKDEV_HAS_WRITE_ZEROES;
	CHECK_MSG(blkdev_check(&d, &r) == 0); /* no buffer needed */
	r.op = BLKDEV_FLUSH, r.nblocks = 0;
	CHECK_MSG(blkdev_check(&d, &r) == 0);
	r.op = 7;
	CHECK_MSG(blkdev_check(&d, &r) == BLKDEV_E_INVAL);
}
