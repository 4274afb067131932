/* The ring-3 runtime: start-up, console output, object and memory helpers, threads. */
#include <hallows/rt.h>
#include <lib/fmt.h>
#include <lib/string.h>

struct rt rt_self;

#define HEAP_BASE 0x100000000ull
#define HEAP_TOP  0x200000000ull

int rt_vprintf(const char *fmt, va_list ap)
{
	char buf[512];
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);

	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	for (int off = 0; off < n; off += 256)
		hl_debug_puts(HL_SLOT_DEBUG, buf + off,
		              (unsigned long)(n - off > 256 ? 256 : n - off));
	return n;
}

int rt_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = rt_vprintf(fmt, ap);
	va_end(ap);
	return n;
}

__attribute__((noreturn)) void rt_exit(int code)
{
	(void)code;
	for (;;) {
		hl_thread_suspend(HL_SLOT_THREAD);
		hl_yield();
	}
}

hl_cptr_t rt_slot(void)
{
	return rt_self.next_slot < (1ull << rt_self.bi->cspace_bits) ? rt_self.next_slot++ : 0;
}

hl_cptr_t rt_alloc(uint32_t type, uint32_t size_bits)
{
	hl_cptr_t s = rt_slot();

	if (!s)
		return 0;
	if (rt_self.alloc_from)
		return hl_memory_retype(rt_self.alloc_from, type, size_bits, 1, s) == HL_OK ? s : 0;
	for (; rt_self.mem_index < rt_self.bi->nmem; rt_self.mem_index++) {
		const struct hl_bootinfo_mem *m = &rt_self.bi->mem[rt_self.mem_index];
		if (m->is_device)
			continue;
		if (hl_memory_retype(m->slot, type, size_bits, 1, s) == HL_OK)
			return s;
	}
	rt_self.mem_index = 0; /* a smaller object may still fit an earlier capability */
	for (; rt_self.mem_index < rt_self.bi->nmem; rt_self.mem_index++) {
		const struct hl_bootinfo_mem *m = &rt_self.bi->mem[rt_self.mem_index];
		if (!m->is_device && hl_memory_retype(m->slot, type, size_bits, 1, s) == HL_OK)
			return s;
	}
	return 0;
}

long rt_ensure_tables(hl_cptr_t as, uint64_t va)
{
	for (int level = 3; level >= 1; level--) {
		hl_cptr_t pt = rt_alloc(HL_OBJ_PAGE_TABLE, 12);
		if (!pt)
			return HL_ERR_NO_MEMORY;
		long err = hl_aspace_map_table(as, pt, va, (hl_word_t)level);
		if (err == HL_ERR_ALREADY_MAPPED) {
			hl_cspace_delete(HL_SLOT_CSPACE, pt);
			continue;
		}
		if (err)
			return err;
	}
	return HL_OK;
}

long rt_map_frame(hl_cptr_t as, hl_cptr_t frame, uint64_t va, uint32_t rights)
{
	long err = hl_aspace_map(as, frame, va, rights);

	if (err == HL_ERR_NO_TABLE && (err = rt_ensure_tables(as, va)) == HL_OK)
		err = hl_aspace_map(as, frame, va, rights);
	return err;
}

void *rt_map_pages(size_t n)
{
	uint64_t va = rt_self.heap_next;

	if (va + n * 4096 > rt_self.heap_end)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		hl_cptr_t f = rt_alloc(HL_OBJ_FRAME, 12);
		if (!f)
			return NULL;
		long err = hl_aspace_map(HL_SLOT_ASPACE, f, va + i * 4096, HL_R_READ | HL_R_WRITE);
		if (err == HL_ERR_NO_TABLE &&
		    rt_ensure_tables(HL_SLOT_ASPACE, va + i * 4096) == HL_OK)
			err =
			    hl_aspace_map(HL_SLOT_ASPACE, f, va + i * 4096, HL_R_READ | HL_R_WRITE);
		if (err)
			return NULL;
	}
	rt_self.heap_next += n * 4096 + 4096; /* leave an unmapped guard page after each run */
	return (void *)va;
}

struct thread_boot {
	void (*fn)(void *);
	void *arg;
	struct hl_ipc_buffer *ipcbuf;
	hl_cptr_t tcb;
};

static void thread_entry(struct thread_boot *b)
{
	b->fn(b->arg);
	for (;;)
		hl_thread_suspend(b->tcb);
}

long rt_thread_start(struct rt_thread *t, void (*fn)(void *), void *arg, uint8_t priority)
{
	uint8_t *stack = rt_map_pages(4);
	hl_cptr_t ipc = rt_alloc(HL_OBJ_FRAME, 12);
	uint64_t ipc_va = rt_self.heap_next;

	t->tcb = rt_alloc(HL_OBJ_THREAD, 0);
	if (!stack || !ipc || !t->tcb)
		return HL_ERR_NO_MEMORY;
	long err = hl_aspace_map(HL_SLOT_ASPACE, ipc, ipc_va, HL_R_READ | HL_R_WRITE);
	if (err == HL_ERR_NO_TABLE && rt_ensure_tables(HL_SLOT_ASPACE, ipc_va) == HL_OK)
		err = hl_aspace_map(HL_SLOT_ASPACE, ipc, ipc_va, HL_R_READ | HL_R_WRITE);
	if (err)
		return err;
	rt_self.heap_next += 2 * 4096;
	t->ipcbuf = (struct hl_ipc_buffer *)ipc_va;
	struct thread_boot *b = (struct thread_boot *)(stack + 4 * 4096) - 1;
	b->fn = fn, b->arg = arg, b->ipcbuf = t->ipcbuf, b->tcb = t->tcb;
	uint64_t sp = ((uint64_t)b & ~15ull) - 8;
	if ((err = hl_thread_configure(t->tcb, HL_SLOT_CSPACE, HL_SLOT_ASPACE, ipc, ipc_va)) ||
	    (err = hl_thread_write_regs(t->tcb, (hl_word_t)thread_entry, sp, (hl_word_t)b, 0)) ||
	    (err = hl_thread_set_priority(t->tcb, priority)))
		return err;
	return hl_thread_resume(t->tcb);
}

static void ring_signal(void *peer)
{
	hl_word_t info = 0;
	struct hl_msg m = {{0}};

	hl_syscall(HL_SYS_SEND, (hl_cptr_t)(uintptr_t)peer, &info, &m, NULL);
}

/* Signal with hand-off: a peer of this CPU and priority that sleeps on the ring runs at once. */
static void ring_signal_handoff(void *peer)
{
	hl_word_t info = HL_MSGINFO(HL_LABEL_HANDOFF, 0, 0);
	struct hl_msg m = {{0}};

	hl_syscall(HL_SYS_SEND, (hl_cptr_t)(uintptr_t)peer, &info, &m, NULL);
}

static void ring_wait(void *own)
{
	hl_word_t info = 0, bits;
	struct hl_msg m = {{0}};

	hl_syscall(HL_SYS_RECV, (hl_cptr_t)(uintptr_t)own, &info, &m, &bits);
}

struct hl_ring_ops rt_ring_ops(hl_cptr_t own, hl_cptr_t peer)
{
	return (struct hl_ring_ops){ring_signal, ring_wait, (void *)(uintptr_t)peer,
	                            (void *)(uintptr_t)own};
}

struct hl_ring_ops rt_ring_ops_handoff(hl_cptr_t own, hl_cptr_t peer)
{
	return (struct hl_ring_ops){ring_signal_handoff, ring_wait, (void *)(uintptr_t)peer,
	                            (void *)(uintptr_t)own};
}

/* The i-th NUL-terminated string of the info page (argv first, then config), or NULL. */
static const char *pi_string(uint32_t i)
{
	const struct hl_partinfo *pi = rt_self.pi;
	uint32_t off = 0, n = pi ? pi->strings_bytes : 0;

	for (; off < n && i; off++)
		i -= pi->strings[off] == 0;
	return off < n ? pi->strings + off : NULL;
}

const char *rt_arg(uint32_t i)
{
	return rt_self.pi && i < rt_self.pi->argc ? pi_string(i) : NULL;
}

const char *rt_config(const char *key)
{
	size_t n = strlen(key);

	for (uint32_t i = 0; rt_self.pi && i < rt_self.pi->nconfig; i++) {
		const char *kv = pi_string(rt_self.pi->argc + i);
		if (kv && !strncmp(kv, key, n) && kv[n] == '=')
			return kv + n + 1;
	}
	return NULL;
}

uint64_t rt_number(const char *s, uint64_t dflt)
{
	uint64_t v = 0;

	if (!s || !*s)
		return dflt;
	for (; *s >= '0' && *s <= '9'; s++)
		v = v * 10 + (uint64_t)(*s - '0');
	return v;
}

int rt_channel(const char *name, struct hl_ring *r)
{
	const struct hl_partinfo *pi = rt_self.pi;

	for (uint32_t i = 0; pi && i < pi->nchannels && i < HL_PARTINFO_MAX_CHANNELS; i++) {
		const struct hl_channel_end *c = &pi->ch[i];
		if (strncmp(c->name, name, sizeof(c->name)))
			continue;
		struct hl_ring_ops ops = rt_ring_ops(c->own_ntfn, c->peer_ntfn);
		return hl_ring_attach(r, (void *)c->ring_vaddr, c->ring_bytes, c->entries,
		                      c->entry_size, c->is_producer, &ops, false);
	}
	return HL_RING_ERR_ARG;
}

bool rt_pci_function(uint32_t i, struct hl_bootinfo_pci *info)
{
	const struct hl_partinfo *pi = rt_self.pi;

	if (pi) {
		if (i >= pi->ndevices || i >= HL_PARTINFO_MAX_DEVICES)
			return false;
		const struct hl_device_end *d = &pi->dev[i];
		*info =
		    (struct hl_bootinfo_pci){d->vendor,  d->device,   d->class_code, d->subclass,
		                             d->prog_if, d->revision, d->bdf,        0};
		return true;
	}
	if (i >= rt_self.bi->npci || i >= HL_BOOTINFO_MAX_PCI)
		return false;
	*info = rt_self.bi->pci[i];
	return true;
}

hl_cptr_t rt_pci_open(uint32_t i)
{
	const struct hl_partinfo *pi = rt_self.pi;

	if (pi)
		return i < pi->ndevices && i < HL_PARTINFO_MAX_DEVICES ? pi->dev[i].slot : 0;
	hl_cptr_t s = rt_slot();
	if (!s || i >= rt_self.bi->npci || hl_pci_control_issue(HL_SLOT_PCI_CONTROL, i, s))
		return 0;
	return s;
}

long rt_partition_control(enum hl_partition_op op, const char *name)
{
	struct hl_msg m = {{(hl_word_t)op}};
	char *words = (char *)&m.w[1];
	size_t n = strlen(name);

	if (n >= 4 * sizeof(hl_word_t))
		return HL_ERR_INVALID_ARG;
	memcpy(words, name, n); /* NUL-padded: m is zeroed */
	long err =
	    hl_invoke(HL_PARTITION_SLOT_CONTROL, HL_MSGINFO(HL_LABEL_PARTITION_CONTROL, 5, 0), &m);
	return err ? err : (long)m.w[0];
}

/* %rsi is the partition info page's address when the root task started us from the manifest. */
__attribute__((noreturn)) void rt_start(const struct hl_bootinfo *bi, const struct hl_partinfo *pi)
{
	rt_self.bi = bi;
	if (pi == (const struct hl_partinfo *)HL_PARTINFO_VADDR && pi->magic == HL_PARTINFO_MAGIC &&
	    pi->strings_bytes <= sizeof(pi->strings) &&
	    (!pi->strings_bytes || !pi->strings[pi->strings_bytes - 1]))
		rt_self.pi = pi;
	rt_self.next_slot = bi->first_free_slot;
	rt_self.heap_next = HEAP_BASE;
	rt_self.heap_end = HEAP_TOP;
	rt_exit(main(&rt_self));
}
