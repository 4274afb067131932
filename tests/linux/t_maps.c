/*
 * /proc/self/maps and /proc/<pid>/maps in Linux's format ("start-end perms offset dev inode",
 * the name from column 73): a mapping split by mprotect, a file's mapping with its offset,
 * device and inode, [heap], [stack], a mapping that mremap moved, another process's file,
 * and musl's pthread_getattr_np (which finds the main stack with mremap) against [stack].
 * Only facts are printed, never addresses: the host's run must print the same.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "show.h"

#define PG 4096ul

struct line {
	unsigned long start, end, off, ino;
	unsigned maj, min;
	char perms[5], name[128];
};

static char text[65536];
static struct line lines[512];
static int nlines, bad_format;

/* Read a maps file and parse every line, checking the layout Linux gives it. */
static int load(const char *path)
{
	int fd = open(path, O_RDONLY);
	long n = 0, k;

	if (fd < 0)
		return -errno;
	while ((k = read(fd, text + n, sizeof(text) - 1 - (size_t)n)) > 0)
		n += k;
	close(fd);
	text[n] = 0;
	nlines = bad_format = 0;
	for (char *l = text, *nl; *l && nlines < 512; l = nl + 1) {
		nl = strchr(l, '\n');
		if (!nl)
			return bad_format = 1, -1;
		*nl = 0;
		struct line *x = &lines[nlines++];
		int used = 0;
		if (sscanf(l, "%lx-%lx %4s %lx %x:%x %lu %n", &x->start, &x->end, x->perms, &x->off,
		           &x->maj, &x->min, &x->ino, &used) != 7 ||
		    x->start >= x->end)
			bad_format = 1;
		x->name[0] = 0;
		if (l[used]) { /* a name: from column 73, or one space after a longer prefix */
			if (used < 73 && (int)strlen(l) > 73 && l[72] == ' ' && l[73] != ' ')
				snprintf(x->name, sizeof(x->name), "%s", l + 73);
			else if (used >= 73)
				snprintf(x->name, sizeof(x->name), "%s", l + used);
			else
				bad_format = 1;
		} else if (l[used - 1] != ' ' || l[used - 2] == ' ') {
			bad_format = 1; /* an anonymous line ends with the inode and one space */
		}
		if (nlines > 1 && x->start < lines[nlines - 2].end)
			bad_format = 1; /* sorted, not overlapping */
	}
	return nlines;
}

static struct line *holding(uintptr_t va)
{
	for (int i = 0; i < nlines; i++)
		if (va >= lines[i].start && va < lines[i].end)
			return &lines[i];
	return NULL;
}

static const char *perms_at(uintptr_t va)
{
	struct line *l = holding(va);
	return l ? l->perms : "none";
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	char *m = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mprotect(m + PG, PG, PROT_READ);
	int fd = open("/bin/busybox", O_RDONLY);
	struct stat st;
	fstat(fd, &st);
	char *f = mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE, fd, 2 * PG);
	char *heap = (char *)syscall(SYS_brk, 0); /* musl's sbrk only reads it */
	syscall(SYS_brk, heap + 4 * PG);
	int local = 0;

	int n = load("/proc/self/maps");
	printf("maps: %d lines, format %s\n", n > 5, bad_format ? "bad" : "ok");
	printf("split by mprotect: %s %s %s, one line each %d\n", perms_at((uintptr_t)m),
	       perms_at((uintptr_t)m + PG), perms_at((uintptr_t)m + 2 * PG),
	       holding((uintptr_t)m) && holding((uintptr_t)m)->end == (uintptr_t)m + PG &&
	           holding((uintptr_t)m + PG)->end == (uintptr_t)m + 2 * PG);
	struct line *fl = holding((uintptr_t)f);
	printf("file: %s name %s offset %#lx, inode %d, device %d, ends %d\n",
	       fl ? fl->perms : "none", fl ? fl->name : "-", fl ? fl->off : 0,
	       fl && fl->ino == st.st_ino,
	       fl && fl->maj == major(st.st_dev) && fl->min == minor(st.st_dev),
	       fl && fl->end == (uintptr_t)f + 2 * PG);
	struct line *hl = holding((uintptr_t)heap + PG);
	printf("heap: %s %s\n", hl ? hl->perms : "none", hl ? hl->name : "-");
	struct line *sl = holding((uintptr_t)&local), sline = sl ? *sl : (struct line){0};
	printf("stack: %s %s, anonymous %d\n", sl ? sl->perms : "none", sl ? sl->name : "-",
	       sl && !sl->ino && !sl->off);
	int progs = 0;
	for (int i = 0; i < nlines; i++)
		progs += !strcmp(lines[i].name, "/bin/t_maps");
	printf("the program's own file: %d\n", progs > 0);

	/* mremap moves a line; munmap splits one. */
	char *g = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *t = mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *moved = mremap(g, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, t);
	munmap(m + PG, PG);
	load("/proc/self/maps");
	printf("after mremap: old %s, rest %s, new %s; after munmap: %s %s %s\n",
	       perms_at((uintptr_t)g), perms_at((uintptr_t)g + 2 * PG),
	       moved == MAP_FAILED ? "failed" : perms_at((uintptr_t)moved), perms_at((uintptr_t)m),
	       perms_at((uintptr_t)m + PG), perms_at((uintptr_t)m + 2 * PG));

	/* musl's pthread_getattr_np measures the main stack with mremap: within [stack]. */
	pthread_attr_t at;
	void *sa;
	size_t ss;
	pthread_getattr_np(pthread_self(), &at);
	pthread_attr_getstack(&at, &sa, &ss);
	printf("pthread_getattr_np: in [stack] %d, from its start %d\n",
	       sl && (uintptr_t)sa >= sline.start && (uintptr_t)sa + ss <= sline.end,
	       sl && (uintptr_t)sa == sline.start);

	/* Another process's maps. */
	int pfd[2];
	pipe(pfd);
	pid_t c = fork();
	if (c == 0) {
		char b;
		close(pfd[1]);
		if (mmap(NULL, 5 * PG, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) ==
		    MAP_FAILED)
			_exit(1);
		_exit(read(pfd[0], &b, 1) < 0);
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)c);
	usleep(100000);
	load(path);
	int rx = 0, stack = 0;
	for (int i = 0; i < nlines; i++) {
		rx += !strcmp(lines[i].perms, "r-xp") && lines[i].end - lines[i].start == 5 * PG;
		stack += !strcmp(lines[i].name, "[stack]");
	}
	printf("child's maps: format %s, its r-x mapping %d, [stack] %d\n",
	       bad_format ? "bad" : "ok", rx == 1, stack == 1);
	close(pfd[1]);
	int stat_;
	waitpid(c, &stat_, 0);
	SHOW("maps of a reaped child", load(path));
	SHOW("maps of no process", load("/proc/999999/maps"));
	return 0;
}
