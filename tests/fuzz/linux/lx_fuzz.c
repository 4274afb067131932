/*
 * libFuzzer target for the Linux personality's parsers of outside bytes:
 * the input is taken as an ELF file (lx_elf_load, then the initial stack)
 * as a cpio archive (lx_fs_init, then lookups of the names in it), and
 * as a path a process gives (/proc's lookups, lx_procfs_get, both ways),
 * and as mremap's arguments (lx_remap, on the regions of the ELF load,
 * which /proc/<pid>/maps then shows).
 */
#include "../../host/linux/lx_host.h"

#include <string.h>

static struct lx_proc proc;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lx_elf_info info;
	const char *argv[] = {"fuzz", NULL}, *envp[] = {NULL};
	uint64_t sp;

	lx_host_reset();
	memset(&proc, 0, sizeof(proc));
	if (lx_elf_load(&proc, data, size, &info) == 0) {
		(void)lx_build_stack(&proc, &info, argv, envp, &sp);
		/* Touch every page of every region: demand paging reads the file's bytes. */
		for (uint32_t i = 0; i < proc.nreg && i < 8; i++) {
			uint8_t b;
			for (uint64_t va = proc.reg[i].start;
			     va < proc.reg[i].end && va < proc.reg[i].start + 64 * LX_PAGE;
			     va += LX_PAGE)
				(void)lx_copy_in(&proc, &b, va, 1);
		}
		/* The first 40 bytes as mremap's arguments, the address near a region's. */
		uint64_t a[5] = {0};
		memcpy(a, data, size < sizeof(a) ? size : sizeof(a));
		if (proc.nreg && !(a[3] & 0x80))
			a[0] = proc.reg[a[0] % proc.nreg].start + (a[0] >> 32) % 4 * LX_PAGE;
		(void)lx_remap(&proc, a);
	}
	if (lx_fs_init(data, size) == 0) {
		const struct lx_file *root = lx_fs_lookup("/"), *f;
		const char *name;
		for (uint32_t i = 0; root && (f = lx_fs_child(root, i, &name)) && i < 64; i++)
			(void)lx_fs_lookup(f->path);
		(void)lx_fs_lookup("/a/../b/./c//d/..");
	}
	/* The input as a path, under /proc and as it is (the process: pid 101, live). */
	char path[300] = "/proc/";
	size_t n = size < sizeof(path) - 7 ? size : sizeof(path) - 7;
	memcpy(path + 6, data, n);
	path[6 + n] = 0;
	memset(lx_procs, 0, sizeof(lx_procs));
	lx_procs[0] = (struct lx_proc){.pid = 101, .tgid = 101, .state = LX_PROC_LIVE};
	memcpy(lx_procs[0].reg, proc.reg, sizeof(proc.reg)); /* /proc/101/maps shows them */
	lx_procs[0].nreg = proc.nreg, lx_procs[0].brk_start = proc.brk_start;
	lx_procs[0].brk = proc.brk;
	const struct lx_file *maps;
	if (lx_procfs_get(&lx_procs[0], "/proc/101/maps", true, &maps) == 0)
		lx_procfs_put(maps);
	for (int follow = 0; follow < 2; follow++) {
		const struct lx_file *f;
		const char *name;
		for (const char *at = path; at; at = at == path ? path + 6 : NULL) {
			if (lx_procfs_get(&lx_procs[0], at, follow, &f) || !f)
				continue;
			for (uint32_t i = 0; (f->mode & 0170000) == 0040000 && i < 8; i++)
				(void)lx_procfs_child(f, i, &name);
			lx_procfs_put(f);
		}
	}
	lx_host_reset();
	return 0;
}
