/*
 * /proc of the Linux personality: self (a symbolic link to the caller's
 * pid), <pid>/{stat,cmdline,status,comm,exe}, meminfo, uptime, and
 * hallows/enosys (the unknown system calls, per number), so that busybox
 * ps, free and uptime work. The tree has a real, empty /proc directory
 * (tests/linux/root/proc); every path under it is answered here instead.
 *
 * Opening a /proc file takes a snapshot of its text (as Linux's seq files
 * do at the first read); the snapshot lives in a small pool and goes with
 * the last close of its open file description (lx_procfs_put).
 */
#include "lx.h"

#include <lib/fmt.h>
#include <lib/string.h>

#define S_IFDIR 0040000u
#define S_IFREG 0100000u
#define S_IFLNK 0120000u
#define NSNAPS  16
#define SNAP    16384 /* a maps file of LX_MAX_REGIONS lines fits */
#define NS      1000000000ull
#define TICKS   100 /* USER_HZ */

struct snap {
	struct lx_file f; /* f.data = text, f.path = path */
	char path[48];
	char text[SNAP];
	bool used;
};

static struct snap snaps[NSNAPS];
static struct lx_file child; /* lx_procfs_child's answer (ino and mode are what matter) */

/* The files of a process's directory, and of /proc itself (after the pids). */
static const char *const pid_files[] = {"cmdline", "comm", "exe", "maps", "stat", "status"};
#define NPID_FILES 6
static const char *const top_files[] = {"hallows", "meminfo", "self", "uptime"};

static bool under_proc(const char *canon)
{
	return !strncmp(canon, "proc", 4) && (canon[4] == 0 || canon[4] == '/');
}

/* A live or zombie process (not a thread) with pid. */
static struct lx_proc *proc_of(uint64_t pid)
{
	struct lx_proc *q = pid <= 0xffffffffu ? lx_proc_by_pid((uint32_t)pid) : NULL;

	return q && !q->grp ? q : NULL;
}

/* A decimal number at s (to the end or a '/'): its value, or ~0 when s is not one. */
static uint64_t number(const char *s, const char **end)
{
	uint64_t v = 0;
	const char *c = s;

	while (*c >= '0' && *c <= '9' && v < (1ull << 40))
		v = v * 10 + (uint64_t)(*c++ - '0');
	*end = c;
	return c == s || (*c && *c != '/') ? ~0ull : v;
}

static struct snap *snap_new(const char *path, uint32_t mode, uint32_t ino)
{
	for (uint32_t i = 0; i < NSNAPS; i++) {
		struct snap *s = &snaps[i];
		if (s->used)
			continue;
		s->used = true;
		snprintf(s->path, sizeof(s->path), "%s", path);
		s->text[0] = 0;
		s->f = (struct lx_file){
		    .path = s->path, .data = (const uint8_t *)s->text, .mode = mode, .ino = ino};
		return s;
	}
	return NULL;
}

/* Text appended to the snapshot (cut at SNAP bytes). */
static void put(struct snap *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct snap *s, const char *fmt, ...)
{
	va_list ap;
	size_t n = (size_t)s->f.size;

	if (n >= SNAP - 1)
		return;
	va_start(ap, fmt);
	int k = vsnprintf(s->text + n, SNAP - n, fmt, ap);
	va_end(ap);
	s->f.size = n + (k < 0 ? 0 : (size_t)k < SNAP - n ? (size_t)k : SNAP - n - 1);
}

static const char *comm_of(const struct lx_proc *q)
{
	return q->comm;
}

static char state_of(const struct lx_proc *q)
{
	return q->state == LX_PROC_ZOMBIE ? 'Z' : q->chan || q->thread_gone ? 'S' : 'R';
}

static uint32_t threads_of(const struct lx_proc *q)
{
	return q->state == LX_PROC_ZOMBIE ? 1 : q->nthreads + !q->thread_gone;
}

static uint64_t vsize_of(const struct lx_proc *q)
{
	uint64_t v = 0;

	for (uint32_t i = 0; i < q->nreg; i++)
		v += q->reg[i].end - q->reg[i].start;
	return v;
}

/* What a maps line names: the file, [heap], [stack], [tramp] (the trampoline page, where
 * Linux has [vdso]) or nothing; for a file, its offset and inode. */
static const char *region_name(const struct lx_proc *q, const struct lx_region *r, uint64_t *off,
                               uint64_t *ino)
{
	const struct lx_file *f = lx_fs_holding(r->file);

	*off = *ino = 0;
	if (f) {
		*off = (uint64_t)(r->file - f->data), *ino = f->ino;
		return f->path;
	}
	if (r->start == LX_TRAMP)
		return "[tramp]";
	if (r->start < LX_STACK_TOP && r->end >= LX_STACK_TOP)
		return "[stack]";
	uint64_t heap = (q->brk_start + LX_PAGE - 1) & ~(LX_PAGE - 1);
	if (r->start >= heap && r->end <= ((q->brk + LX_PAGE - 1) & ~(LX_PAGE - 1)))
		return "[heap]";
	return NULL;
}

/*
 * /proc/<pid>/maps as Linux writes it ("start-end perms offset dev inode", the name from
 * column 73): neighbouring regions Linux would hold as one mapping (the same protection, and
 * the same name with the file's bytes going on) make one line. MAP_SHARED anonymous memory is
 * 's' (shared with fork children), the rest 'p'.
 */
static void fill_maps(struct snap *s, const struct lx_proc *q)
{
	for (uint32_t i = 0; i < q->nreg;) {
		const struct lx_region *r = &q->reg[i];
		uint64_t off, ino, off2, ino2, end = r->end;
		const char *name = region_name(q, r, &off, &ino);
		for (i++; i < q->nreg; i++) {
			const struct lx_region *n = &q->reg[i];
			const char *name2 = region_name(q, n, &off2, &ino2);
			if (n->start != end || n->prot != r->prot || n->shared != r->shared ||
			    name2 != name || (ino && off2 != off + (end - r->start)))
				break;
			end = n->end;
		}
		size_t at = (size_t)s->f.size;
		put(s, "%08lx-%08lx %c%c%c%c %08lx 00:%02x %lu ", (unsigned long)r->start,
		    (unsigned long)end, r->prot & LX_PROT_READ ? 'r' : '-',
		    r->prot & LX_PROT_WRITE ? 'w' : '-', r->prot & LX_PROT_EXEC ? 'x' : '-',
		    r->shared ? 's' : 'p', (unsigned long)off, ino ? 1 : 0, (unsigned long)ino);
		if (r->shared) /* Linux's name for shared anonymous memory */
			put(s, "%*s/dev/zero (deleted)\n",
			    (int)(at + 72 > s->f.size ? at + 72 - s->f.size : 0) + 1, "");
		else if (name)
			put(s, "%*s%s%s\n",
			    (int)(at + 72 > s->f.size ? at + 72 - s->f.size : 0) + 1, "",
			    ino ? "/" : "", name);
		else
			put(s, "\n");
	}
}

static void fill_pid_file(struct snap *s, struct lx_proc *q, const char *name)
{
	uint64_t start = q->start_ns / (NS / TICKS), rss = lx_plat_pages_of(q);

	if (!strcmp(name, "stat")) {
		uint64_t tick = NS / TICKS, user = lx_cpu_process_ns(q),
		         sys = lx_cpu_process_sys_ns(q);
		put(s,
		    "%u (%s) %c %u %u %u 0 -1 4194560 0 0 0 0 %lu %lu %lu %lu 20 0 %u 0 %lu %lu "
		    "%lu ",
		    q->pid, comm_of(q), state_of(q), q->ppid, q->pgid, q->sid,
		    (unsigned long)(user / tick), (unsigned long)(sys / tick),
		    (unsigned long)(lx_grp(q)->cpu_children_ns / tick),
		    (unsigned long)(lx_cpu_children_sys_ns(q) / tick), threads_of(q),
		    (unsigned long)start, (unsigned long)vsize_of(q), (unsigned long)rss);
		put(s,
		    "18446744073709551615 0 0 0 0 0 %lu %lu 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 "
		    "%d\n",
		    (unsigned long)q->sigpending, (unsigned long)q->sigmask,
		    q->state == LX_PROC_ZOMBIE ? q->wstatus : 0);
	} else if (!strcmp(name, "cmdline")) {
		memcpy(s->text, q->cmdline, q->cmdline_len);
		s->f.size = q->cmdline_len;
	} else if (!strcmp(name, "comm")) {
		put(s, "%s\n", comm_of(q));
	} else if (!strcmp(name, "exe")) {
		put(s, "%s", q->exe);
	} else if (!strcmp(name, "maps")) {
		fill_maps(s, q);
	} else { /* status */
		static const char *const st[] = {"R (running)", "S (sleeping)", "Z (zombie)"};
		char c = state_of(q);
		put(s,
		    "Name:\t%s\nUmask:\t0022\nState:\t%s\nTgid:\t%u\nNgid:\t0\nPid:\t%u\nPPid:\t%"
		    "u\n",
		    comm_of(q),
		    st[c == 'R'   ? 0
		       : c == 'S' ? 1
		                  : 2],
		    q->pid, q->pid, q->ppid);
		put(s, "TracerPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nFDSize:\t%u\n",
		    LX_MAX_FDS);
		put(s, "VmSize:\t%8lu kB\nVmRSS:\t%8lu kB\nThreads:\t%u\n",
		    (unsigned long)(vsize_of(q) >> 10), (unsigned long)(rss * 4), threads_of(q));
		put(s, "SigPnd:\t%016lx\nSigBlk:\t%016lx\n", (unsigned long)q->sigpending,
		    (unsigned long)q->sigmask);
	}
}

static void fill_meminfo(struct snap *s)
{
	uint64_t total, free;

	lx_plat_mem(&total, &free);
	put(s, "MemTotal:       %8lu kB\nMemFree:        %8lu kB\nMemAvailable:   %8lu kB\n",
	    (unsigned long)(total >> 10), (unsigned long)(free >> 10), (unsigned long)(free >> 10));
	put(s, "Buffers:               0 kB\nCached:                0 kB\nSwapCached:            0 "
	       "kB\n");
	put(s, "Shmem:                 0 kB\nSwapTotal:             0 kB\nSwapFree:              0 "
	       "kB\n");
}

/* The file at canon ("proc/..."), following "self" (and, if follow, a final symbolic link). */
static int lookup(struct lx_proc *p, const char *canon, bool follow, const struct lx_file **out)
{
	char path[48];
	const char *rest = canon[4] ? canon + 5 : "", *end;
	uint64_t pid;
	struct snap *s;

	*out = NULL;
	if (!*rest) {
		s = snap_new("proc", S_IFDIR | 0555, 1);
	} else if (!strncmp(rest, "self", 4) && (rest[4] == 0 || rest[4] == '/')) {
		if (!rest[4] && !follow) {
			s = snap_new("proc/self", S_IFLNK | 0777, 2);
			if (s)
				put(s, "%u", p->tgid);
		} else {
			snprintf(path, sizeof(path), "proc/%u%s", p->tgid, rest + 4);
			return lookup(p, path, follow, out);
		}
	} else if (!strcmp(rest, "meminfo") || !strcmp(rest, "uptime")) {
		s = snap_new(canon, S_IFREG | 0444, rest[0] == 'm' ? 3 : 4);
		if (s && rest[0] == 'm')
			fill_meminfo(s);
		else if (s) {
			uint64_t t = lx_plat_nanotime() / (NS / 100);
			put(s, "%lu.%02lu 0.00\n", (unsigned long)(t / 100),
			    (unsigned long)(t % 100));
		}
	} else if (!strcmp(rest, "hallows")) {
		s = snap_new(canon, S_IFDIR | 0555, 5);
	} else if (!strcmp(rest, "hallows/enosys")) {
		s = snap_new(canon, S_IFREG | 0444, 6);
		if (s)
			s->f.size = lx_unknown_format(s->text, SNAP);
	} else if ((pid = number(rest, &end)) != ~0ull) {
		struct lx_proc *q = proc_of(pid);
		uint32_t ino = (uint32_t)(pid << 4);
		if (!q)
			return -LX_ENOENT;
		if (!*end) {
			s = snap_new(canon, S_IFDIR | 0555, ino);
		} else {
			uint32_t i = 0;
			while (i < NPID_FILES && strcmp(end + 1, pid_files[i]))
				i++;
			if (i == NPID_FILES)
				return -LX_ENOENT;
			if (i == 2 && follow) /* exe: the file it runs */
				return *out = lx_fs_lookup(q->exe), *out ? 0 : -LX_ENOENT;
			s = snap_new(canon, (i == 2 ? S_IFLNK | 0777 : S_IFREG | 0444),
			             ino + 1 + i);
			if (s)
				fill_pid_file(s, q, pid_files[i]);
		}
	} else {
		return -LX_ENOENT;
	}
	if (!s)
		return -23; /* ENFILE: every snapshot is open */
	*out = &s->f;
	return 0;
}

int lx_procfs_get(struct lx_proc *p, const char *path, bool follow, const struct lx_file **out)
{
	char canon[256];

	if (!lx_fs_canonical(path, canon, sizeof(canon)) || !under_proc(canon))
		return 1;
	return lookup(p, canon, follow, out);
}

bool lx_procfs_is(const struct lx_file *f)
{
	const void *v = f;

	return v >= (const void *)snaps && v < (const void *)(snaps + NSNAPS);
}

void lx_procfs_put(const struct lx_file *f)
{
	if (lx_procfs_is(f))
		snaps[(const struct snap *)(const void *)f - snaps].used = false;
}

const struct lx_file *lx_procfs_child(const struct lx_file *dir, uint32_t idx, const char **name)
{
	static char num[12];
	const char *rest = dir->path[4] ? dir->path + 5 : "";

	if (!strcmp(rest, "hallows")) {
		if (idx)
			return NULL;
		*name = "enosys";
		child = (struct lx_file){.mode = S_IFREG | 0444, .ino = 6};
		return &child;
	}
	if (*rest) { /* a process's directory */
		if (idx >= NPID_FILES)
			return NULL;
		*name = pid_files[idx];
		child = (struct lx_file){.mode = idx == 2 ? S_IFLNK | 0777 : S_IFREG | 0444,
		                         .ino = dir->ino + 1 + idx};
		return &child;
	}
	for (uint32_t i = 0; i < LX_MAX_PROCS; i++) { /* /proc: the processes, then the rest */
		const struct lx_proc *q = &lx_procs[i];
		if (q->state == LX_PROC_FREE || q->grp || idx--)
			continue;
		snprintf(num, sizeof(num), "%u", q->pid);
		*name = num;
		child = (struct lx_file){.mode = S_IFDIR | 0555, .ino = q->pid << 4};
		return &child;
	}
	if (idx >= 4)
		return NULL;
	*name = top_files[idx];
	child = (struct lx_file){.mode = idx == 2   ? S_IFLNK | 0777
	                                 : idx == 0 ? S_IFDIR | 0555
	                                            : S_IFREG | 0444,
	                         .ino = idx == 0   ? 5
	                                : idx == 1 ? 3
	                                : idx == 2 ? 2
	                                           : 4};
	return &child;
}

/* sysinfo: what busybox free and uptime read (no load average is kept: 0). */
static int64_t do_sysinfo(struct lx_proc *p, uint64_t ubuf)
{
	uint8_t si[112] = {0};
	uint64_t up = lx_plat_nanotime() / NS, total, free;
	uint16_t procs = 0;
	uint32_t unit = 1;

	lx_plat_mem(&total, &free);
	for (uint32_t i = 0; i < LX_MAX_PROCS; i++)
		procs += lx_procs[i].state == LX_PROC_LIVE; /* threads too, as Linux counts */
	memcpy(si, &up, 8);
	memcpy(si + 32, &total, 8);
	memcpy(si + 40, &free, 8);
	memcpy(si + 80, &procs, 2);
	memcpy(si + 104, &unit, 4);
	return lx_copy_out(p, ubuf, si, sizeof(si)) ? -LX_EFAULT : 0;
}

int64_t lx_procfs_syscall(struct lx_proc *p, uint64_t nr, const uint64_t a[6], bool *handled)
{
	*handled = nr == 99;
	return nr == 99 ? do_sysinfo(p, a[0]) : -LX_ENOSYS;
}
