/*
 * mremap: shrink and grow in place, MREMAP_MAYMOVE (the pages move with their contents),
 * MREMAP_FIXED and MREMAP_DONTUNMAP, private file mappings, and Linux's error codes
 * (EINVAL, EFAULT, ENOMEM). Addresses are printed as "same", "moved" or "at target" only.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "show.h"

#define PG 4096ul
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

static long remap(void *old, unsigned long olen, unsigned long nlen, long flags, void *to)
{
	return syscall(SYS_mremap, old, olen, nlen, flags, to);
}

static char *anon(unsigned long len, int prot)
{
	char *m = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return m == MAP_FAILED ? NULL : m;
}

/* Each page of [m, m + n pages) holds its number + base at its first and last byte. */
static void fill(char *m, int n, int base)
{
	for (int i = 0; i < n; i++)
		m[i * PG] = m[i * PG + PG - 1] = (char)(i + base);
}

static int filled(const char *m, int n, int base)
{
	for (int i = 0; i < n; i++)
		if (m[i * PG] != (char)(i + base) || m[i * PG + PG - 1] != (char)(i + base))
			return 0;
	return 1;
}

/* Whether [m, m + len) is mapped: mprotect answers ENOMEM for a hole. */
static const char *mapped(void *m, unsigned long len)
{
	int r = mprotect(m, len, PROT_READ | PROT_WRITE);
	return r == 0 ? "mapped" : errno == ENOMEM ? "unmapped" : "?";
}

static const char *where(long r, void *old, void *target)
{
	if (r < 0)
		return "failed";
	return (void *)r == old ? "same" : (void *)r == target ? "at target" : "moved";
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);

	/* Shrink in place: the tail goes. */
	char *a = anon(4 * PG, PROT_READ | PROT_WRITE);
	fill(a, 4, 1);
	long r = remap(a, 4 * PG, 2 * PG, 0, NULL);
	printf("shrink: %s, kept %d, tail %s\n", where(r, a, NULL), filled(a, 2, 1),
	       mapped(a + 2 * PG, 2 * PG));

	/* Grow in place: the range after is free (unmapped just now). */
	char *b = anon(8 * PG, PROT_READ | PROT_WRITE);
	fill(b, 4, 10);
	munmap(b + 4 * PG, 4 * PG);
	r = remap(b, 4 * PG, 8 * PG, 0, NULL);
	printf("grow in place: %s, kept %d, new page zero %d\n", where(r, b, NULL),
	       filled(b, 4, 10), r > 0 && b[6 * PG] == 0);
	b[7 * PG] = 9;

	/* Grow blocked (the old range ends before its mapping does): ENOMEM without MAYMOVE. */
	char *c = anon(6 * PG, PROT_READ | PROT_WRITE);
	fill(c, 6, 20);
	SHOW("grow blocked", remap(c, 4 * PG, 16 * PG, 0, NULL));
	/* ... and a move with MAYMOVE: the four pages go, the two after stay. */
	r = remap(c, 4 * PG, 64 * PG, MREMAP_MAYMOVE, NULL);
	printf("maymove: %s, kept %d, old %s, after %s %d\n", where(r, c, NULL),
	       r > 0 && filled((char *)r, 4, 20), mapped(c, 4 * PG), mapped(c + 4 * PG, 2 * PG),
	       filled(c + 4 * PG, 2, 24));
	if (r > 0) {
		char *d = (char *)r;
		d[63 * PG] = 5; /* the grown part is there */
		printf("maymove grown part: %d %d\n", d[63 * PG], d[40 * PG]);
		munmap(d, 64 * PG);
	}

	/* MREMAP_FIXED: onto part of another mapping, which it replaces. */
	char *t = anon(8 * PG, PROT_READ | PROT_WRITE);
	fill(t, 8, 40);
	char *e = anon(2 * PG, PROT_READ | PROT_WRITE);
	fill(e, 2, 60);
	r = remap(e, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, t + 4 * PG);
	printf("fixed: %s, kept %d, below %d, above %d, old %s\n", where(r, e, t + 4 * PG),
	       r > 0 && filled(t + 4 * PG, 2, 60), filled(t, 4, 40), filled(t + 6 * PG, 2, 46),
	       mapped(e, 2 * PG));
	/* Shrink while moving. */
	char *s = anon(4 * PG, PROT_READ | PROT_WRITE);
	fill(s, 4, 70);
	r = remap(s, 4 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, t);
	printf("fixed shrink: %s, kept %d, old %s\n", where(r, s, t), r > 0 && filled(t, 2, 70),
	       mapped(s, 4 * PG));
	munmap(t, 8 * PG);

	/* MREMAP_DONTUNMAP: the pages move, the old range stays mapped (zero-filled again). */
	char *u = anon(2 * PG, PROT_READ | PROT_WRITE);
	fill(u, 2, 80);
	r = remap(u, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL);
	printf("dontunmap: %s, kept %d, old %s, old reads %d\n", where(r, u, NULL),
	       r > 0 && filled((char *)r, 2, 80), mapped(u, 2 * PG), u[0] + u[PG + PG - 1]);
	SHOW("dontunmap resize", remap(u, 2 * PG, 4 * PG, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL));
	SHOW("dontunmap without maymove", remap(u, 2 * PG, 2 * PG, MREMAP_DONTUNMAP, NULL));

	/* A private file mapping: the view of the file goes on where it was. */
	int fd = open("/bin/busybox", O_RDONLY);
	char *f = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, PG);
	anon(PG, PROT_READ); /* blocks growth in place, most likely */
	char *tgt = anon(2 * PG, PROT_READ | PROT_WRITE);
	char want[3 * PG];
	pread(fd, want, sizeof(want), PG);
	r = remap(f, PG, 3 * PG, MREMAP_MAYMOVE, NULL);
	printf("file grow: %d, same bytes %d\n", r > 0,
	       r > 0 && memcmp((char *)r, want, sizeof(want)) == 0);
	if (r > 0)
		munmap((char *)r, 3 * PG);
	/* A written private page moves with what was written, not the file's bytes. */
	char *g = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	g[PG] = 'W';
	r = remap(g, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, tgt);
	printf("file written page moved: %s, %c, file bytes %d\n", where(r, g, tgt),
	       r > 0 ? tgt[PG] : '?', r > 0 && memcmp(tgt, "\177ELF", 4) == 0);
	close(fd);

	/* Shared anonymous memory grows too. */
	char *sh = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fill(sh, 2, 90);
	r = remap(sh, 2 * PG, 32 * PG, MREMAP_MAYMOVE, NULL);
	printf("shared grow: %d, kept %d\n", r > 0, r > 0 && filled((char *)r, 2, 90));

	/* Errors, in Linux's order. */
	char *v = anon(4 * PG, PROT_READ | PROT_WRITE);
	SHOW("bad flags", remap(v, PG, PG, 8, NULL));
	SHOW("fixed without maymove", remap(v, PG, PG, MREMAP_FIXED, v + 8 * PG));
	SHOW("unaligned old", remap(v + 1, PG, PG, 0, NULL));
	SHOW("new size 0", remap(v, PG, 0, 0, NULL));
	SHOW("new size overflows", remap(v, PG, ~0ul, MREMAP_MAYMOVE, NULL));
	SHOW("fixed overlap", remap(v, 4 * PG, 4 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, v + 2 * PG));
	SHOW("fixed unaligned", remap(v, PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED, v + 8 * PG + 1));
	SHOW("old len 0 private", remap(v, 0, PG, MREMAP_MAYMOVE, NULL));
	munmap(v + 2 * PG, 2 * PG);
	SHOW("grow unmapped", remap(v + 2 * PG, PG, 2 * PG, MREMAP_MAYMOVE, NULL));
	SHOW("old past its mapping", remap(v, 3 * PG, 4 * PG, MREMAP_MAYMOVE, NULL));
	mprotect(v + PG, PG, PROT_READ);
	SHOW("across two mappings", remap(v, 2 * PG, 4 * PG, MREMAP_MAYMOVE, NULL));
	SHOW("huge", remap(v, PG, 1ul << 46, MREMAP_MAYMOVE, NULL));
	SHOW("same size", remap(v, PG, PG, 0, NULL) == (long)v);
	SHOW("bad pointer", remap((void *)(1ul << 50), PG, 2 * PG, MREMAP_MAYMOVE, NULL));

	/* musl's realloc of a big block is an mremap. */
	char *big = malloc(1 << 20), *grown, *cut;
	if (!big)
		return 1;
	memset(big, 0x33, 1 << 20);
	if (!(grown = realloc(big, 4 << 20))) {
		free(big);
		return 1;
	}
	int ok = 1;
	for (int i = 0; ok && i < 1 << 20; i += 4096)
		ok = grown[i] == 0x33;
	memset(grown + (1 << 20), 0x44, 3 << 20);
	if (!(cut = realloc(grown, 256 << 10))) {
		free(grown);
		return 1;
	}
	printf("realloc through mremap: %d %d\n", ok, cut[(256 << 10) - 1] == 0x33);
	free(cut);
	return 0;
}
