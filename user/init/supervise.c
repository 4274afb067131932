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
 *
 * A partition the manifest gives `control` holds a badged copy of the same
 * endpoint in its slot 7 and may ask, by a call, that a partition be
 * stopped or restarted the same way (docs/manifest.md, "On request").
 */
#include "init.h"

#include <lib/string.h>

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

/* The partition named by words 1-4 of a control request, or NULL. */
static struct init_partition *named(struct init *in, const struct hl_msg *m)
{
	char name[4 * sizeof(hl_word_t) + 1] = {0};

	memcpy(name, &m->w[1], 4 * sizeof(hl_word_t));
	for (uint32_t i = 0; i < in->m.npartitions; i++)
		if (!strcmp(in->pt[i].mp->name, name))
			return &in->pt[i];
	return NULL;
}

/* A control request from partition `from`: the result for the reply. */
static long on_control(struct init *in, uint32_t from, const struct hl_msg *m)
{
	struct init_partition *ip = named(in, m);
	hl_word_t op = m->w[0];

	if (!ip || (op != HL_PARTITION_STOP && op != HL_PARTITION_RESTART))
		return HL_ERR_INVALID_ARG;
	uint32_t i = (uint32_t)(ip - in->pt);
	struct manifest_partition *p = ip->mp;
	if (!p->is_valid || (op == HL_PARTITION_STOP && !ip->is_built))
		return HL_ERR_ILLEGAL_OP; /* never started, or already stopped */
	rt_printf("init: partition %s: %s at the request of %s\n", p->name,
	          op == HL_PARTITION_STOP ? "stop" : "restart", in->pt[from].mp->name);
	if (ip->is_built)
		stop_partition(in, i);
	if (op == HL_PARTITION_STOP)
		return HL_OK;
	ip->restarts++;
	rt_printf("init: partition %s: restart %u\n", p->name, ip->restarts);
	if (!init_build_partition(in, i))
		return HL_ERR_NO_MEMORY;
	init_run(in, i);
	return HL_OK;
}

void init_supervise(struct init *in)
{
	for (;;) {
		hl_word_t info = 0, badge = 0;
		struct hl_msg m = {{0}};
		long err = hl_syscall(HL_SYS_RECV, in->fault_ep, &info, &m, &badge);
		if (err != HL_OK)
			continue;
		if (HL_MSG_LABEL(info) == HL_LABEL_FAULT && !(badge & INIT_CONTROL_BADGE(0))) {
			on_fault(in, badge, &m);
			continue;
		}
		uint32_t from = (uint32_t)(badge & 0xffff);
		if (!(badge & INIT_CONTROL_BADGE(0)) || from >= in->m.npartitions)
			continue;            /* not a badge of ours */
		m.w[4] = hl_ipcbuf()->mr[4]; /* the name's last word came in the IPC buffer */
		long res = HL_MSG_LABEL(info) == HL_LABEL_PARTITION_CONTROL
		               ? on_control(in, from, &m)
		               : HL_ERR_INVALID_ARG;
		struct hl_msg r = {{(hl_word_t)res}};
		info = HL_MSGINFO(0, 1, 0);
		hl_syscall(HL_SYS_REPLY, 0, &info, &r, NULL); /* gone if it stopped itself */
	}
}
