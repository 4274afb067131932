/*
 * The root task after start-up: every partition thread's faults arrive on
 * one endpoint, badged with the partition, the program and the partition's
 * restart count (partition.c, build_program). A fault stops the whole
 * partition: its threads are suspended, its devices quiesced (function
 * reset where offered, bus mastering off) before any of its memory is
 * taken back, then everything made for it is deleted and its region
 * revoked. The manifest's `on-crash` decides what follows: `restart`
 * rebuilds it in the same memory and starts it again (its info page
 * counts the restarts), at most INIT_MAX_RESTARTS times; `stop` leaves it
 * stopped. Other partitions keep running throughout; a channel peer sees
 * the same ring again after a restart (docs/manifest.md).
 */
#include "init.h"

#define BADGE_RESTARTS(b) ((uint32_t)((b) >> 16))
#define BADGE_PART(b)     ((uint32_t)(((b) >> 8) & 0xff))
#define BADGE_PROG(b)     ((uint32_t)((b)&0xff))

/* No DMA from the partition's devices may land once its memory goes back: reset, then no bus
 * mastering. */
static void quiesce_devices(const struct init_partition *ip)
{
	for (uint32_t d = 0; d < ip->ndev; d++) {
		hl_word_t cmd = 0;
		hl_pci_device_reset(ip->dev_slot[d]); /* HL_ERR_* when the function has no FLR */
		if (hl_pci_device_config_read(ip->dev_slot[d], 4, 2, &cmd) == HL_OK)
			hl_pci_device_config_write(ip->dev_slot[d], 4, 2, cmd & ~(hl_word_t)0x4);
	}
}

static void stop_partition(struct init *in, uint32_t i)
{
	struct init_partition *ip = &in->pt[i];

	for (uint32_t j = 0; j < ip->mp->nprograms; j++)
		hl_thread_suspend(ip->threads[j]);
	quiesce_devices(ip);
	init_unbuild_partition(in, i, true);
}

static const char *program_name(const struct manifest_partition *p, uint32_t j)
{
	const struct manifest_program *g = p->programs;

	while (g && j--)
		g = g->next;
	return g ? g->argv[0] : "?";
}

static void on_fault(struct init *in, hl_word_t badge, const struct hl_msg *m)
{
	uint32_t i = BADGE_PART(badge) - 1, j = BADGE_PROG(badge);

	if (i >= in->m.npartitions)
		return;
	struct init_partition *ip = &in->pt[i];
	struct manifest_partition *p = ip->mp;
	if (!ip->is_built || BADGE_RESTARTS(badge) != ip->restarts || j >= p->nprograms)
		return; /* from an incarnation already stopped */
	rt_printf("init: partition %s crashed: program %s, fault vector %lu error %#lx addr %#lx "
	          "at rip %#lx\n",
	          p->name, program_name(p, j), (unsigned long)m->w[HL_FAULT_VECTOR],
	          (unsigned long)m->w[HL_FAULT_ERROR], (unsigned long)m->w[HL_FAULT_ADDR],
	          (unsigned long)m->w[HL_FAULT_RIP]);
	stop_partition(in, i);
	if (p->restart != MANIFEST_RESTART_RESTART || ip->restarts >= INIT_MAX_RESTARTS) {
		rt_printf("init: partition %s stopped (%s); its memory and devices are free\n",
		          p->name,
		          p->restart == MANIFEST_RESTART_RESTART ? "restarted too often"
		                                                 : "on-crash stop");
		return;
	}
	ip->restarts++;
	rt_printf("init: partition %s: restart %u\n", p->name, ip->restarts);
	if (init_build_partition(in, i))
		init_run(in, i);
}

void init_supervise(struct init *in)
{
	for (;;) {
		hl_word_t info = 0, badge = 0;
		struct hl_msg m = {{0}};
		long err = hl_syscall(HL_SYS_RECV, in->fault_ep, &info, &m, &badge);
		if (err == HL_OK && HL_MSG_LABEL(info) == HL_LABEL_FAULT)
			on_fault(in, badge, &m);
	}
}
