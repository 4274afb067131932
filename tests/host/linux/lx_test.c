/*
 * Host tests of the Linux personality's untrusted-input and bookkeeping
 * code (user/linux: exec.c ELF loading and the initial stack, mm.c
 * regions and checked copies, fs.c the cpio file system), on the host
 * platform of lx_host.c, under ASan + UBSan.
 */
#include "ktharness.h"
#include "lx_host.h"

#include <stdio.h>
#include <string.h>

#define ENOEXEC 8

static void put(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/*
 * A small ELF: text (R-X) at 0x400000 from offset 0 (headers included),
 * data (RW-) at 0x401000 from offset 0x1000 with 0x10 file bytes and
 * 0x2000 in memory. type 2 = ET_EXEC, 3 = ET_DYN.
 */
static size_t make_elf(uint8_t *b, int type)
{
	memset(b, 0, 0x2000);
	memcpy(b,
	       "\x7f"
	       "ELF",
	       4);
	b[4] = 2, b[5] = 1, b[6] = 1;
	put(b + 16, (uint64_t)type, 2);
	put(b + 18, 62, 2);
	put(b + 24, 0x400100, 8); /* entry */
	put(b + 32, 64, 8);       /* phoff */
	put(b + 54, 56, 2), put(b + 56, 2, 2);
	uint8_t *ph = b + 64;
	put(ph, 1, 4), put(ph + 4, 5, 4), put(ph + 8, 0, 8), put(ph + 16, 0x400000, 8);
	put(ph + 32, 0x200, 8), put(ph + 40, 0x200, 8);
	ph += 56;
	put(ph, 1, 4), put(ph + 4, 6, 4), put(ph + 8, 0x1000, 8), put(ph + 16, 0x401000, 8);
	put(ph + 32, 0x10, 8), put(ph + 40, 0x2000, 8);
	memset(b + 0x100, 0x90, 16);
	memset(b + 0x1000, 0xab, 0x10);
	return 0x1010;
}

static struct lx_proc proc;

static struct lx_proc *fresh(void)
{
	lx_host_reset();
	memset(&proc, 0, sizeof(proc));
	return &proc;
}

static void elf_exec_loads_segments_and_builds_the_stack(void)
{
	static uint8_t f[0x2000];
	struct lx_proc *p = fresh();
	struct lx_elf_info info;
	size_t len = make_elf(f, 2);

	CHECK_EQ(lx_elf_load(p, f, len, &info), 0);
	CHECK_EQ(info.entry, 0x400100);
	CHECK_EQ(info.phdr, 0x400040); /* headers inside the first segment */
	CHECK_EQ(info.phnum, 2);
	CHECK_EQ(p->brk_start, 0x403000);
	uint8_t v[16];
	CHECK_EQ(lx_copy_in(p, v, 0x401000, 16), 0);
	CHECK(v[0] == 0xab && v[15] == 0xab);
	CHECK_EQ(lx_copy_in(p, v, 0x401010, 16), 0); /* past the file bytes: zero */
	CHECK(v[0] == 0 && v[15] == 0);
	CHECK_EQ(lx_copy_out(p, 0x400100, v, 1), -LX_EFAULT); /* text is not writable */

	const char *argv[] = {"prog", "arg1", NULL}, *envp[] = {"X=1", NULL};
	uint64_t sp = 0, w[40]; /* argc .. AT_NULL: exactly 40 words here */
	CHECK_EQ(lx_build_stack(p, &info, argv, envp, &sp), 0);
	CHECK_EQ(sp & 15, 0);
	CHECK_EQ(lx_copy_in(p, w, sp, sizeof(w)), 0);
	CHECK_EQ(w[0], 2); /* argc, argv[0..1], NULL, envp[0], NULL, auxv */
	char s[16];
	CHECK_EQ(lx_copy_str(p, s, w[1], sizeof(s)), 4);
	CHECK_STR(s, "prog");
	CHECK_EQ(lx_copy_str(p, s, w[2], sizeof(s)), 4);
	CHECK_STR(s, "arg1");
	CHECK_EQ(w[3], 0);
	CHECK_EQ(lx_copy_str(p, s, w[4], sizeof(s)), 3);
	CHECK_STR(s, "X=1");
	CHECK_EQ(w[5], 0);
	uint64_t pagesz = 0, entry = 0, random = 0, phdr = 0;
	for (int i = 6; i + 1 < 40 && w[i]; i += 2) {
		pagesz = w[i] == 6 ? w[i + 1] : pagesz;
		entry = w[i] == 9 ? w[i + 1] : entry;
		random = w[i] == 25 ? w[i + 1] : random;
		phdr = w[i] == 3 ? w[i + 1] : phdr;
	}
	CHECK_EQ(pagesz, 4096);
	CHECK_EQ(entry, 0x400100);
	CHECK_EQ(phdr, 0x400040);
	CHECK(random > sp && random < LX_STACK_TOP);
	CHECK_EQ(lx_copy_in(p, v, random, 16), 0);
	lx_host_reset();
}

static void elf_static_pie_is_loaded_at_the_pie_base(void)
{
	static uint8_t f[0x2000];
	struct lx_proc *p = fresh();
	struct lx_elf_info info;
	size_t len = make_elf(f, 3);

	put(f + 24, 0x100, 8); /* a static-pie is linked at 0 */
	put(f + 64 + 16, 0, 8);
	put(f + 64 + 56 + 16, 0x1000, 8);
	CHECK_EQ(lx_elf_load(p, f, len, &info), 0);
	CHECK_EQ(info.entry, LX_PIE_BASE + 0x100);
	CHECK(lx_region_at(p, LX_PIE_BASE + 0x1000) != NULL);
	lx_host_reset();
}

/* Each broken header or segment: -ENOEXEC, nothing of it mapped. */
static void elf_rejects_broken_files(void)
{
	static uint8_t f[0x2000];
	struct lx_elf_info info;
	struct {
		int off, n;
		uint64_t v;
	} bad[] = {
	    {0, 1, 0},                   /* magic */
	    {18, 2, 3},                  /* i386 */
	    {16, 2, 1},                  /* ET_REL */
	    {54, 2, 32},                 /* phentsize */
	    {56, 2, 200},                /* too many headers for the file */
	    {64, 4, 3},                  /* PT_INTERP: dynamically linked */
	    {64 + 56 + 32, 8, 0x3000},   /* filesz > memsz */
	    {64 + 56 + 8, 8, 0x1ff0},    /* file bytes past the end */
	    {64 + 56 + 16, 8, 0x400000}, /* overlaps the text */
	    {64 + 56 + 16, 8, 0x401008}, /* vaddr and offset disagree modulo the page */
	    {64 + 56 + 16, 8, LX_TOP},   /* outside the process's range */
	    {24, 8, 0x401000},           /* entry not executable */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct lx_proc *p = fresh();
		size_t len = make_elf(f, 2);
		put(f + bad[i].off, bad[i].v, bad[i].n);
		int err = lx_elf_load(p, f, len, &info);
		if (err != -ENOEXEC)
			kt_fail(__FILE__, __LINE__, "case %zu: %d, want -ENOEXEC", i, err);
	}
	struct lx_proc *p = fresh();
	CHECK_EQ(lx_elf_load(p, f, 63, &info), -ENOEXEC); /* shorter than a header */
	lx_host_reset();
}

static void copies_check_every_page(void)
{
	struct lx_proc *p = fresh();
	char buf[8192];

	CHECK_EQ(lx_map(p, 0x10000, 0x12000, LX_PROT_READ | LX_PROT_WRITE, NULL, 0), 0);
	CHECK_EQ(lx_map(p, 0x12000, 0x13000, LX_PROT_READ, NULL, 0), 0);
	memset(buf, 'x', sizeof(buf));
	CHECK_EQ(lx_copy_out(p, 0x10ff0, buf, 0x20), 0);          /* across a page boundary */
	CHECK_EQ(lx_copy_out(p, 0x11ff0, buf, 0x20), -LX_EFAULT); /* into read-only */
	CHECK_EQ(lx_copy_in(p, buf, 0x11ff0, 0x20), 0);
	CHECK_EQ(lx_copy_in(p, buf, 0x12ff0, 0x20), -LX_EFAULT); /* past the end */
	CHECK_EQ(lx_copy_in(p, buf, 0xfff0, 0x20), -LX_EFAULT);  /* before the start */
	CHECK_EQ(lx_copy_in(p, buf, ~0ull - 8, 16), -LX_EFAULT); /* wraps */
	CHECK_EQ(lx_copy_in(p, buf, 0x10000, 0), 0);
	CHECK_EQ(lx_copy_str(p, buf, 0x12ff8, 100), 0); /* fresh memory reads as zeros */
	CHECK_EQ(lx_map(p, 0x30000, 0x31000, LX_PROT_READ | LX_PROT_WRITE, NULL, 0), 0);
	CHECK_EQ(lx_copy_out(p, 0x30000, buf, 4096), 0);
	CHECK_EQ(lx_copy_str(p, buf, 0x30ff8, 100), -LX_EFAULT); /* no NUL before the end */
	CHECK_EQ(lx_copy_str(p, buf, 0x10ff0, 8), -LX_ENAMETOOLONG);
	CHECK_EQ(lx_map(p, 0x20000, 0x21000, 0, NULL, 0), 0); /* PROT_NONE */
	CHECK_EQ(lx_copy_in(p, buf, 0x20000, 1), -LX_EFAULT);
	CHECK_EQ(lx_map(p, 0x20001, 0x21000, 0, NULL, 0), -LX_EINVAL);
	lx_host_reset();
}

static void munmap_and_mprotect_split_regions_and_keep_contents(void)
{
	struct lx_proc *p = fresh();
	char v = 0;

	CHECK_EQ(lx_map(p, 0x100000, 0x104000, LX_PROT_READ | LX_PROT_WRITE, NULL, 0), 0);
	for (uint64_t a = 0x100000; a < 0x104000; a += 0x1000) {
		char c = (char)(a >> 12);
		CHECK_EQ(lx_copy_out(p, a, &c, 1), 0);
	}
	CHECK_EQ(lx_protect(p, 0x101000, 0x102000, LX_PROT_READ), 0);
	CHECK_EQ(p->nreg, 3);
	CHECK_EQ(lx_copy_in(p, &v, 0x101000, 1), 0);
	CHECK_EQ(v, 1); /* (char)0x101 */
	CHECK_EQ(lx_copy_out(p, 0x101000, &v, 1), -LX_EFAULT);
	CHECK_EQ(lx_unmap(p, 0x102000, 0x103000), 0);
	CHECK_EQ(p->nreg, 3);
	CHECK_EQ(lx_copy_in(p, &v, 0x102000, 1), -LX_EFAULT);
	CHECK_EQ(lx_copy_in(p, &v, 0x103000, 1), 0);
	CHECK_EQ(v, 3);
	CHECK_EQ(lx_protect(p, 0x102000, 0x103000, LX_PROT_READ), -LX_ENOMEM); /* a hole */
	CHECK_EQ(lx_unmap(p, 0, LX_TOP), 0);
	CHECK_EQ(p->nreg, 0);
	CHECK_EQ(lx_host_pages(), 0);
	lx_host_reset();
}

static void mmap_gap_is_below_the_stack_and_free(void)
{
	struct lx_proc *p = fresh();

	p->brk_start = p->brk = 0x500000;
	uint64_t a = lx_find_gap(p, 0x3000);
	CHECK_EQ(a, LX_MMAP_TOP - 0x3000);
	CHECK_EQ(lx_map(p, a, a + 0x3000, LX_PROT_READ, NULL, 0), 0);
	uint64_t b = lx_find_gap(p, 0x1000);
	CHECK_EQ(b, a - 0x1000);
	CHECK_EQ(lx_map(p, b, b + 0x1000, LX_PROT_READ, NULL, 0), 0);
	CHECK_EQ(lx_unmap(p, a, a + 0x1000), 0); /* a hole too small for 2 pages */
	CHECK_EQ(lx_find_gap(p, 0x2000), b - 0x2000);
	CHECK_EQ(lx_find_gap(p, LX_TOP), 0);
	lx_host_reset();
}

/* mremap's paths on the record and the pages: in place, moved (the pages, not copies), fixed,
 * DONTUNMAP, a file view that goes on, and the errors. */
static void mremap_moves_pages_and_keeps_the_record(void)
{
	struct lx_proc *p = fresh();
	static const uint8_t file[3 * 4096] = {[0] = 'a', [4096] = 'b', [8192] = 'c'};
	char v = 0;

	p->brk_start = p->brk = 0x500000;
	CHECK_EQ(lx_map(p, 0x100000, 0x104000, LX_PROT_READ | LX_PROT_WRITE, NULL, 0), 0);
	for (uint64_t a = 0x100000; a < 0x104000; a += 0x1000) {
		char c = (char)(a >> 12);
		CHECK_EQ(lx_copy_out(p, a, &c, 1), 0);
	}
	uint32_t pages = lx_host_pages();
	uint64_t grow[5] = {0x100000, 0x4000, 0x8000, 0, 0}; /* the range after is free */
	CHECK_EQ(lx_remap(p, grow), 0x100000);
	CHECK_EQ(p->nreg, 1);
	CHECK_EQ(p->reg[0].end, 0x108000);
	uint64_t shrink[5] = {0x100000, 0x8000, 0x2000, 0, 0};
	CHECK_EQ(lx_remap(p, shrink), 0x100000);
	CHECK_EQ(lx_host_pages(), pages - 2);
	CHECK_EQ(lx_map(p, 0x102000, 0x103000, LX_PROT_READ, NULL, 0), 0); /* in the way */
	uint64_t blocked[5] = {0x100000, 0x2000, 0x6000, 0, 0};
	CHECK_EQ(lx_remap(p, blocked), -LX_ENOMEM);
	blocked[3] = 1; /* MREMAP_MAYMOVE */
	int64_t to = lx_remap(p, blocked);
	CHECK(to > 0x500000 && to != 0x100000);
	CHECK_EQ(lx_host_pages(), pages - 2); /* moved, not copied */
	CHECK_EQ(lx_copy_in(p, &v, (uint64_t)to + 0x1000, 1), 0);
	CHECK_EQ(v, 1);
	CHECK_EQ(lx_copy_in(p, &v, 0x100000, 1), -LX_EFAULT); /* the old range went */
	uint64_t fixed[5] = {(uint64_t)to, 0x2000, 0x2000, 3, 0x200000};
	CHECK_EQ(lx_remap(p, fixed), 0x200000);
	CHECK_EQ(lx_copy_in(p, &v, 0x200000, 1), 0);
	CHECK_EQ(v, 0);                                      /* (char)0x100 */
	uint64_t keep[5] = {0x200000, 0x1000, 0x1000, 5, 0}; /* MAYMOVE | DONTUNMAP */
	to = lx_remap(p, keep);
	CHECK(to > 0);
	CHECK(lx_region_at(p, 0x200000) != NULL);
	CHECK_EQ(lx_map(p, 0x300000, 0x301000, LX_PROT_READ, file, sizeof(file)), 0);
	uint64_t view[5] = {0x300000, 0x1000, 0x3000, 0, 0};
	CHECK_EQ(lx_remap(p, view), 0x300000);
	CHECK_EQ(lx_copy_in(p, &v, 0x302000, 1), 0);
	CHECK_EQ(v, 'c');
	static const uint64_t bad[][5] = {
	    {0x300000, 0x1000, 0x1000, 8, 0},        /* an unknown flag */
	    {0x300000, 0x1000, 0x1000, 2, 0x400000}, /* FIXED without MAYMOVE */
	    {0x300001, 0x1000, 0x1000, 0, 0},        /* unaligned */
	    {0x300000, 0x1000, 0, 0, 0},             /* new size 0 */
	    {0x300000, 0x2000, 0x2000, 3, 0x301000}, /* overlapping */
	    {0x300000, 0x1000, 0x2000, 4 | 1, 0},    /* DONTUNMAP resizing */
	    {0x300000, 0, 0x1000, 1, 0},             /* old size 0, private */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(lx_remap(p, bad[i]), -LX_EINVAL);
	uint64_t none[5] = {0x700000, 0x1000, 0x2000, 1, 0};
	CHECK_EQ(lx_remap(p, none), -LX_EFAULT);
	uint64_t past[5] = {0x300000, 0x4000, 0x5000, 1, 0}; /* beyond its mapping */
	CHECK_EQ(lx_remap(p, past), -LX_EFAULT);
	CHECK_EQ(lx_unmap(p, 0, LX_TOP), 0);
	CHECK_EQ(lx_host_pages(), 0);
	lx_host_reset();
}

/* A newc entry into b at *off. */
static void cpio_add(uint8_t *b, size_t *off, const char *name, uint32_t mode, const char *data)
{
	size_t nl = strlen(name) + 1, dl = data ? strlen(data) : 0;
	char h[160];

	snprintf(h, sizeof(h), "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x", 1u,
	         mode, 0u, 0u, 1u, 0u, (unsigned)dl, 0u, 0u, 0u, 0u, (unsigned)nl, 0u);
	memcpy(b + *off, h, 110);
	memcpy(b + *off + 110, name, nl);
	*off = (*off + 110 + nl + 3) & ~(size_t)3;
	if (dl)
		memcpy(b + *off, data, dl);
	*off = (*off + dl + 3) & ~(size_t)3;
}

static void fs_resolves_paths_and_lists_directories(void)
{
	static uint8_t a[4096];
	size_t n = 0;
	const char *name = NULL;

	memset(a, 0, sizeof(a));
	cpio_add(a, &n, ".", 040755, NULL);
	cpio_add(a, &n, "bin", 040755, NULL);
	cpio_add(a, &n, "bin/sh", 0100755, "#!");
	cpio_add(a, &n, "./etc", 040755, NULL);
	cpio_add(a, &n, "etc/hosts", 0100644, "127.0.0.1 localhost\n");
	cpio_add(a, &n, "TRAILER!!!", 0, NULL);
	CHECK_EQ(lx_fs_init(a, n), 0);
	const struct lx_file *f = lx_fs_lookup("/etc/hosts");
	CHECK(f && f->size == 20);
	CHECK(lx_fs_lookup("etc/./hosts") == f);
	CHECK(lx_fs_lookup("//etc/../etc/hosts") == f);
	CHECK(lx_fs_lookup("/../../etc/hosts") == f);
	CHECK(lx_fs_lookup("/etc/missing") == NULL);
	const struct lx_file *root = lx_fs_lookup("/");
	CHECK(root && (root->mode & 0170000) == 040000);
	CHECK(lx_fs_child(root, 0, &name) && !strcmp(name, "bin"));
	CHECK(lx_fs_child(root, 1, &name) && !strcmp(name, "etc"));
	CHECK(lx_fs_child(root, 2, &name) && !strcmp(name, "dev")); /* added: no dev/ in it */
	CHECK(lx_fs_child(root, 3, &name) == NULL);
	const struct lx_file *null = lx_fs_lookup("/dev/null");
	CHECK(null && (null->mode & 0170000) == 020000);
	const struct lx_file *etc = lx_fs_lookup("/etc/");
	CHECK(etc && lx_fs_child(etc, 0, &name) == f && !strcmp(name, "hosts"));
	char longp[600];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = 0;
	CHECK(lx_fs_lookup(longp) == NULL);
	CHECK_EQ(lx_fs_init(a, n - 20), -LX_EIO); /* truncated: no trailer */
}

static void fs_follows_symbolic_links(void)
{
	static uint8_t a[4096];
	size_t n = 0;

	memset(a, 0, sizeof(a));
	cpio_add(a, &n, "bin", 040755, NULL);
	cpio_add(a, &n, "bin/busybox", 0100755, "ELF");
	cpio_add(a, &n, "bin/ls", 0120777, "busybox");       /* relative */
	cpio_add(a, &n, "bin/abs", 0120777, "/bin/busybox"); /* absolute */
	cpio_add(a, &n, "sbin", 0120777, "bin");             /* a directory on the way */
	cpio_add(a, &n, "bin/up", 0120777, "../bin/./ls");   /* a link to a link */
	cpio_add(a, &n, "loop1", 0120777, "loop2");
	cpio_add(a, &n, "loop2", 0120777, "loop1");
	cpio_add(a, &n, "dangling", 0120777, "nowhere");
	cpio_add(a, &n, "TRAILER!!!", 0, NULL);
	CHECK_EQ(lx_fs_init(a, n), 0);
	const struct lx_file *bb = lx_fs_lookup("/bin/busybox");
	CHECK(bb && bb->size == 3);
	CHECK(lx_fs_lookup("/bin/ls") == bb);
	CHECK(lx_fs_lookup("/bin/abs") == bb);
	CHECK(lx_fs_lookup("/sbin/ls") == bb);
	CHECK(lx_fs_lookup("/bin/up") == bb);
	const struct lx_file *l = lx_fs_lookup_link("/bin/ls");
	CHECK(l && (l->mode & 0170000) == 0120000 && l->size == 7);
	CHECK(lx_fs_lookup_link("/sbin/ls") == l); /* links on the way are followed */
	CHECK(lx_fs_lookup("/loop1") == NULL);     /* too many links */
	CHECK(lx_fs_lookup("/dangling") == NULL);
	CHECK(lx_fs_lookup_link("/dangling") != NULL);
}

static void fs_writes_renames_and_unlinks(void)
{
	static uint8_t a[4096];
	size_t n = 0;
	const struct lx_file *f, *d;
	char buf[8];

	memset(a, 0, sizeof(a));
	cpio_add(a, &n, "tmp", 040777, NULL);
	cpio_add(a, &n, "ro", 0100644, "boot");
	cpio_add(a, &n, "TRAILER!!!", 0, NULL);
	CHECK_EQ(lx_fs_init(a, n), 0);
	CHECK_EQ(lx_fs_create("/tmp/x", 0100644, &f), 0);
	CHECK_EQ(lx_fs_create("/tmp/x", 0100644, &f), -LX_EEXIST);
	CHECK_EQ(lx_fs_create("/nodir/x", 0100644, &d), -LX_ENOENT);
	CHECK_EQ(lx_fs_create("/ro/x", 0100644, &d), -LX_ENOTDIR);
	CHECK_EQ(lx_fs_write(f, 2, "ab", 2), 0); /* a hole of zeros first */
	CHECK(f->size == 4 && f->data[0] == 0 && f->data[3] == 'b');
	CHECK_EQ(lx_fs_truncate(f, 1), 0);
	CHECK(f->size == 1);
	CHECK_EQ(lx_fs_write(f, 0, "big", LX_FS_BYTES + 1), -27); /* EFBIG */
	const struct lx_file *ro = lx_fs_lookup("/ro");
	CHECK_EQ(lx_fs_write(ro, 0, "B", 1), 0); /* a boot file becomes the server's copy */
	CHECK(ro->own && ro->size == 4 && !memcmp(ro->data, "Boot", 4));
	CHECK_EQ(lx_fs_create("/tmp/d", 040755, &d), 0);
	CHECK_EQ(lx_fs_rename("/tmp/x", "/tmp/d/y"), 0);
	CHECK(lx_fs_lookup("/tmp/x") == NULL && lx_fs_lookup("/tmp/d/y") == f);
	CHECK_EQ(lx_fs_rename("/tmp/d", "/tmp/e"), 0);
	CHECK(lx_fs_lookup("/tmp/e/y") == f);
	CHECK_EQ(lx_fs_rename("/tmp/e", "/tmp/e/z"), -LX_EINVAL);
	CHECK_EQ(lx_fs_rename("/", "/tmp/root"), -16); /* rename_of_the_root_said_done: EBUSY */
	CHECK_EQ(lx_fs_rename("/tmp/e", "/"), -16);
	CHECK(lx_fs_lookup("/tmp/root") == NULL);
	CHECK_EQ(lx_fs_unlink("/tmp/e", true), -LX_ENOTEMPTY);
	lx_fs_hold(f);
	CHECK_EQ(lx_fs_unlink("/tmp/e/y", false), 0);
	CHECK(lx_fs_lookup("/tmp/e/y") == NULL && f->size == 1); /* still readable while open */
	memcpy(buf, f->data, 1);
	lx_fs_release(f);
	CHECK(f->mode == 0); /* freed at the last close */
	CHECK_EQ(lx_fs_unlink("/tmp/e", true), 0);
	CHECK_EQ(lx_fs_unlink("/tmp/e", true), -LX_ENOENT);
	CHECK_EQ(lx_fs_unlink("/", true), -16);
}

/* /proc: which paths are its, what each gives, and the errors of the rest. */
static void procfs_answers_its_paths_and_refuses_the_rest(void)
{
	struct lx_proc *p = &lx_procs[3];
	const struct lx_file *f, *held[20];
	const char *name;
	char big[400];

	memset(lx_procs, 0, sizeof(lx_procs));
	*p = (struct lx_proc){.pid = 101,
	                      .tgid = 101,
	                      .ppid = 1,
	                      .pgid = 1,
	                      .sid = 1,
	                      .state = LX_PROC_LIVE,
	                      .idx = 3};
	strcpy(p->comm, "prog");
	memcpy(p->cmdline, "prog\0-x\0", 8);
	p->cmdline_len = 8;
	lx_procs[5] = (struct lx_proc){.pid = 102, .tgid = 101, .grp = p, .state = LX_PROC_LIVE};
	p->nthreads = 1;

	CHECK_EQ(lx_procfs_get(p, "/etc/passwd", true, &f), 1);
	CHECK_EQ(lx_procfs_get(p, "/procfoo", true, &f), 1);
	CHECK_EQ(lx_procfs_get(p, "/proc/../proc/./self/stat", true, &f), 0);
	CHECK(lx_procfs_is(f) && !strncmp((const char *)f->data, "101 (prog) R 1 1 1 ", 19));
	int fields = 1;
	for (uint64_t i = 0; i < f->size; i++)
		fields += f->data[i] == ' ';
	CHECK_EQ(fields, 52);
	CHECK(f->data[f->size - 1] == '\n');
	lx_procfs_put(f);
	/* utime, stime, cutime, cstime (fields 14-17) in ticks of 10 ms, user apart from system */
	p->cpu_gone_ns = 250000000, p->sys_proc_tsc = 120000000;
	p->cpu_children_ns = 70000000, p->sys_children_tsc = 30000000;
	CHECK_EQ(lx_procfs_get(p, "/proc/self/stat", true, &f), 0);
	CHECK(strstr((const char *)f->data, " 0 0 0 0 25 12 7 3 20 0 ") != NULL);
	lx_procfs_put(f);
	p->cpu_gone_ns = p->sys_proc_tsc = p->cpu_children_ns = p->sys_children_tsc = 0;
	CHECK_EQ(lx_procfs_get(p, "/proc/self", false, &f), 0);
	CHECK(f->size == 3 && !memcmp(f->data, "101", 3) && (f->mode & 0170000) == 0120000);
	lx_procfs_put(f);
	CHECK_EQ(lx_procfs_get(p, "/proc/101/cmdline", true, &f), 0);
	CHECK(f->size == 8 && !memcmp(f->data, "prog\0-x\0", 8));
	lx_procfs_put(f);
	CHECK_EQ(lx_procfs_get(p, "/proc/101/status", true, &f), 0);
	CHECK(strstr((const char *)f->data, "\nThreads:\t2\n") != NULL);
	lx_procfs_put(f);
	CHECK_EQ(lx_procfs_get(p, "/proc/hallows/enosys", true, &f), 0);
	CHECK(f->size == 14);
	lx_procfs_put(f);
	/* a thread's id is not listed, nor its directory served; numbers out of range */
	CHECK_EQ(lx_procfs_get(p, "/proc/102/stat", true, &f), -LX_ENOENT);
	CHECK_EQ(lx_procfs_get(p, "/proc/99999999999999999999999/stat", true, &f), -LX_ENOENT);
	CHECK_EQ(lx_procfs_get(p, "/proc/101x/stat", true, &f), -LX_ENOENT);
	CHECK_EQ(lx_procfs_get(p, "/proc/101/nosuch", true, &f), -LX_ENOENT);
	CHECK_EQ(lx_procfs_get(p, "/proc/101/stat/more", true, &f), -LX_ENOENT);
	CHECK_EQ(lx_procfs_get(p, "/proc/1/stat", true, &f), -LX_ENOENT);
	CHECK_EQ(lx_procfs_get(p, "/proc/", true, &f), 0);
	CHECK((f->mode & 0170000) == 0040000);
	/* the listing: the process, then the four names, then the end */
	CHECK(lx_procfs_child(f, 0, &name) && !strcmp(name, "101"));
	CHECK(lx_procfs_child(f, 1, &name) && !strcmp(name, "hallows"));
	CHECK(lx_procfs_child(f, 4, &name) && !strcmp(name, "uptime"));
	CHECK(lx_procfs_child(f, 5, &name) == NULL);
	lx_procfs_put(f);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	memcpy(big, "/proc/", 6);
	CHECK_EQ(lx_procfs_get(p, big, true, &f), 1); /* too long for a path: the file system's */
	/* the snapshots run out (ENFILE), and come back */
	uint32_t n = 0;
	while (n < 20 && !lx_procfs_get(p, "/proc/uptime", true, &held[n]))
		n++;
	CHECK_EQ(n, 16);
	CHECK_EQ(lx_procfs_get(p, "/proc/meminfo", true, &f), -23);
	while (n--)
		lx_procfs_put(held[n]);
	CHECK_EQ(lx_procfs_get(p, "/proc/meminfo", true, &f), 0);
	CHECK(!strncmp((const char *)f->data, "MemTotal:", 9));
	lx_procfs_put(f);
	lx_procfs_put(NULL); /* not a snapshot: nothing */
}

int main(int argc, char **argv)
{
	static const struct kt_case cases[] = {
	    KT(elf_exec_loads_segments_and_builds_the_stack),
	    KT(elf_static_pie_is_loaded_at_the_pie_base),
	    KT(elf_rejects_broken_files),
	    KT(copies_check_every_page),
	    KT(munmap_and_mprotect_split_regions_and_keep_contents),
	    KT(mmap_gap_is_below_the_stack_and_free),
	    KT(mremap_moves_pages_and_keeps_the_record),
	    KT(fs_resolves_paths_and_lists_directories),
	    KT(fs_follows_symbolic_links),
	    KT(fs_writes_renames_and_unlinks),
	    KT(procfs_answers_its_paths_and_refuses_the_rest),
	};
	return kt_main(cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
