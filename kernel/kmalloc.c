/*
 * Kernel object allocator: power-of-two size classes (16 B - 2 KiB) in
 * one-page slabs whose header names the class, and whole pages (with a
 * 16-byte header) above that. One lock; slabs are never returned to the
 * PMM once made (kernel objects are few and long-lived in the foundation).
 */
#include <kernel/kmalloc.h>
#include <kernel/layout.h>
#include <kernel/panic.h>
#include <kernel/pmm.h>
#include <kernel/spinlock.h>
#include <lib/string.h>

#define NCLASSES   8 /* 16 .. 2048 */
#define SLAB_MAGIC 0x51ab51ab
#define BIG_MAGIC  0xb16b16b1

struct slab {
	uint32_t magic, cls;
	struct slab *next; /* [L] next slab of the class */
	void *free;        /* [L] free-object list */
	uint32_t nfree;    /* [L] */
};

struct big_hdr {
	uint32_t magic, npages;
	uint64_t pad;
};

static struct slab *classes[NCLASSES]; /* [L kmalloc_lock] */
static struct spinlock kmalloc_lock = SPINLOCK_INIT("kmalloc");
static uint64_t live; /* [L] */

static size_t class_size(uint32_t cls)
{
	return 16ul << cls;
}

static struct slab *slab_new(uint32_t cls)
{
	paddr_t pa = pmm_alloc();

	if (!pa)
		return NULL;
	struct slab *s = phys_to_virt(pa);
	size_t sz = class_size(cls), first = ALIGN_UP(sizeof(*s), sz);
	s->magic = SLAB_MAGIC;
	s->cls = cls;
	s->free = NULL;
	s->nfree = 0;
	for (size_t off = PAGE_SIZE - sz; off >= first; off -= sz) {
		*(void **)((char *)s + off) = s->free;
		s->free = (char *)s + off;
		s->nfree++;
	}
	s->next = classes[cls];
	classes[cls] = s;
	return s;
}

static void *alloc_small(uint32_t cls)
{
	struct slab *s = classes[cls];

	while (s && !s->nfree)
		s = s->next;
	if (!s && !(s = slab_new(cls)))
		return NULL;
	void *p = s->free;
	s->free = *(void **)p;
	s->nfree--;
	return p;
}

void *kmalloc(size_t n)
{
	void *p = NULL;

	if (n == 0)
		n = 1;
	if (n > class_size(NCLASSES - 1)) {
		size_t np = ALIGN_UP(n + sizeof(struct big_hdr), PAGE_SIZE) / PAGE_SIZE;
		paddr_t pa = pmm_alloc_pages(np, 1);
		if (!pa)
			return NULL;
		struct big_hdr *h = phys_to_virt(pa);
		h->magic = BIG_MAGIC;
		h->npages = (uint32_t)np;
		p = h + 1;
		n = np * PAGE_SIZE - sizeof(*h);
	} else {
		uint32_t cls = 0;
		while (class_size(cls) < n)
			cls++;
		spin_lock(&kmalloc_lock);
		p = alloc_small(cls);
		spin_unlock(&kmalloc_lock);
		if (!p)
			return NULL;
		n = class_size(cls);
	}
	memset(p, 0, n);
	__atomic_add_fetch(&live, 1, __ATOMIC_RELAXED);
	return p;
}

void kfree(void *p)
{
	if (!p)
		return;
	struct slab *s = (struct slab *)ALIGN_DOWN((vaddr_t)p, PAGE_SIZE);
	if (s->magic == SLAB_MAGIC && (vaddr_t)p != (vaddr_t)s) {
		spin_lock(&kmalloc_lock);
		*(void **)p = s->free;
		s->free = p;
		s->nfree++;
		spin_unlock(&kmalloc_lock);
	} else {
		struct big_hdr *h = (struct big_hdr *)p - 1;
		if ((vaddr_t)h != (vaddr_t)s || h->magic != BIG_MAGIC)
			panic("kfree: %p was not allocated by kmalloc", p);
		h->magic = 0;
		pmm_free_pages(virt_to_phys(h), h->npages);
	}
	__atomic_sub_fetch(&live, 1, __ATOMIC_RELAXED);
}

uint64_t kmalloc_live(void)
{
	return live;
}
