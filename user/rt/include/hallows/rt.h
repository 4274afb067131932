/*
 * The ring-3 runtime (user/rt): entry, formatted output, memory from
 * memory capabilities, threads. A program defines int main(struct rt *).
 */
#ifndef HALLOWS_RT_H
#define HALLOWS_RT_H

#include <hallows/abi.h>
#include <hallows/methods.h>
#include <hallows/partinfo.h>
#include <hallows/ring.h>
#include <stdarg.h>
#include <stddef.h>

struct rt {
	const struct hl_bootinfo *bi;
	const struct hl_partinfo *pi; /* NULL unless started from a manifest partition */
	hl_cptr_t next_slot;          /* next free slot in the own cspace */
	uint32_t mem_index;           /* memory capability objects are carved from */
	hl_cptr_t alloc_from; /* nonzero: rt_alloc carves from this memory capability only */
	uint64_t heap_next, heap_end; /* virtual range for rt_map_pages */
};

extern struct rt rt_self;

int main(struct rt *rt);

int rt_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int rt_vprintf(const char *fmt, va_list ap);
__attribute__((noreturn)) void rt_exit(int code);

/* A free slot in the own cspace (never reused: slots are cheap). */
hl_cptr_t rt_slot(void);
/* Retype one object from the boot memory capabilities into a fresh slot; 0 on failure. */
hl_cptr_t rt_alloc(uint32_t type, uint32_t size_bits);
/* Map n fresh zeroed pages (with page tables as needed) into the own address space; NULL on
 * failure. */
void *rt_map_pages(size_t n);
/* Map frame at va in address space as, retyping page tables as needed. */
long rt_map_frame(hl_cptr_t as, hl_cptr_t frame, uint64_t va, uint32_t rights);
/* Ensure the page tables covering va exist in the address space as (retyping them as needed). */
long rt_ensure_tables(hl_cptr_t as, uint64_t va);

/* Heap (user/rt/malloc.c): 16-byte aligned blocks; rt_free(NULL) is a no-op. */
void *rt_malloc(size_t n);
void *rt_calloc(size_t n, size_t size);
void rt_free(void *p);
extern void *(*rt_page_source)(size_t n); /* where pages come from (tests replace it) */

/* A thread in the own address space and cspace, running fn(arg) on its own stack and IPC buffer. */
struct rt_thread {
	hl_cptr_t tcb;
	struct hl_ipc_buffer *ipcbuf;
};
long rt_thread_start(struct rt_thread *t, void (*fn)(void *), void *arg, uint8_t priority);

/*
 * Partition info (docs/abi.md): argv[i] or NULL, a config value or NULL.
 * Programs the root task starts from the manifest have them; others get NULL.
 */
const char *rt_arg(uint32_t i);
const char *rt_config(const char *key);
/* The leading decimal digits of s as a number; dflt when s is NULL or empty. */
uint64_t rt_number(const char *s, uint64_t dflt);
/* Attach r to this partition's end of the manifest channel `name`: HL_RING_OK or an hl_ring_err. */
int rt_channel(const char *name, struct hl_ring *r);

/*
 * The PCI functions this program may drive (docs/devices.md): in a manifest
 * partition, the devices its `device` lines gave it (partition info page);
 * in the root task, every function of the boot info's pci[]. Fills *info
 * for the i-th; false beyond the last. rt_pci_open(i) returns its
 * pci_device capability (the root task issues one into a fresh slot on
 * each call), 0 on failure.
 */
bool rt_pci_function(uint32_t i, struct hl_bootinfo_pci *info);
/*
 * Stop or restart partition `name` (HL_PARTITION_STOP / _RESTART) through the root task's
 * control endpoint; only a partition the manifest gives `control` holds it. HL_OK, or HL_ERR_*
 * (HL_ERR_INVALID_CAP: no control endpoint; HL_ERR_INVALID_ARG: no such partition).
 */
long rt_partition_control(enum hl_partition_op op, const char *name);
hl_cptr_t rt_pci_open(uint32_t i);
/* Ring ops that wait on notification `own` and signal notification `peer` (slots of the own
 * cspace). */
struct hl_ring_ops rt_ring_ops(hl_cptr_t own, hl_cptr_t peer);
/* The same, signalling with hand-off (HL_LABEL_HANDOFF, docs/scheduling.md): a woken peer of this
 * CPU and priority runs at once, this end right after it. */
struct hl_ring_ops rt_ring_ops_handoff(hl_cptr_t own, hl_cptr_t peer);

/*
 * Timed waits (user/rt/sleep.c; the kernel's HL_SYS_WAIT, docs/abi.md):
 * the TSC now, ns in TSC ticks (saturating), the TSC deadline ns from now.
 * rt_wait_ns waits on notification ntfn for at most ns (RT_FOREVER: no
 * limit): HL_OK with the bits in *word, HL_ERR_TIMED_OUT, or an hl_err.
 * rt_sleep_ns sleeps ns on a notification of the runtime's own (made on
 * first use); HL_OK, or HL_ERR_NO_MEMORY when it could not be made.
 */
#define RT_FOREVER UINT64_MAX
uint64_t rt_tsc(void);
uint64_t rt_ns_to_tsc(uint64_t ns);
uint64_t rt_deadline_ns(uint64_t ns);
long rt_wait_ns(hl_cptr_t ntfn, uint64_t ns, hl_word_t *word);
long rt_sleep_ns(uint64_t ns);

#endif
