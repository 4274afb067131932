/*
 * The ring-3 allocator: power-of-two size classes (16 B - 2 KiB) carved
 * from pages, each block preceded by a 16-byte header naming its class;
 * larger requests get whole pages and keep them on a per-size free list.
 * Pages come from rt_map_pages (memory capabilities of the program). Not
 * thread-safe: threads that allocate take the program's own lock.
 */
#include <hallows/rt.h>
#include <lib/string.h>

#define NCLASSES 8
#define HDR      16
#define MAGIC    0x6d616c6cu
#define BIG      0x80000000u

struct hdr {
	uint32_t magic;
	uint32_t cls; /* small: class index; large: BIG | number of pages */
	void *next;   /* free-list link while free */
};
_Static_assert(sizeof(struct hdr) == HDR, "header size");

static struct hdr *free_small[NCLASSES];
static struct hdr *free_big; /* any page count; first fit */
void *(*rt_page_source)(size_t n) = rt_map_pages;

static void refill(uint32_t cls)
{
	size_t sz = (size_t)16 << cls;
	uint8_t *p = rt_page_source(1);

	if (!p)
		return;
	for (size_t off = 0; off + sz + HDR <= 4096; off += sz + HDR) {
		struct hdr *h = (struct hdr *)(p + off);
		h->magic = MAGIC, h->cls = cls, h->next = free_small[cls];
		free_small[cls] = h;
	}
}

static void *big_alloc(size_t n)
{
	uint32_t pages = (uint32_t)((n + HDR + 4095) / 4096) | BIG;

	for (struct hdr **pp = &free_big; *pp; pp = (struct hdr **)&(*pp)->next)
		if ((*pp)->cls == pages) {
			struct hdr *h = *pp;
			*pp = h->next;
			return (uint8_t *)h + HDR;
		}
	struct hdr *h = rt_page_source(pages & ~BIG);
	if (!h)
		return NULL;
	h->magic = MAGIC, h->cls = pages, h->next = NULL;
	return (uint8_t *)h + HDR;
}

void *rt_malloc(size_t n)
{
	uint32_t cls = 0;

	if (n > (size_t)16 << (NCLASSES - 1))
		return big_alloc(n);
	while (((size_t)16 << cls) < n)
		cls++;
	if (!free_small[cls])
		refill(cls);
	struct hdr *h = free_small[cls];
	if (!h)
		return NULL;
	free_small[cls] = h->next;
	return (uint8_t *)h + HDR;
}

void *rt_calloc(size_t n, size_t size)
{
	if (size && n > (size_t)-1 / size)
		return NULL;
	void *p = rt_malloc(n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

void rt_free(void *p)
{
	if (!p)
		return;
	struct hdr *h = (struct hdr *)((uint8_t *)p - HDR);
	if (h->magic != MAGIC)
		rt_exit(99); /* not ours: a corrupted heap must not be trusted further */
	if (!(h->cls & BIG)) {
		h->next = free_small[h->cls];
		free_small[h->cls] = h;
	} else {
		h->next = free_big;
		free_big = h;
	}
}
