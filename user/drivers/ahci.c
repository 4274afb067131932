/*
 * AHCI bring-up and the blkdev operations (AHCI 1.3.1 §10, ACS-3, SATA
 * 3.x §13.6 for NCQ). The pure parts (IDENTIFY data, completion masks,
 * FISes, PRD tables) are ahci_parse.c. See docs/drivers.md, "AHCI".
 */
#include "ahci.h"

#include <lib/string.h>

#define LOG(h, ...) (h)->env->log((h)->env->ctx, __VA_ARGS__)

#define AHCI_STOP_US     500000  /* PxCMD.CR / FR to clear (§10.1.2: 500 ms) */
#define AHCI_RESET_US    1000000 /* GHC.HR to clear (§10.4.3: 1 s) */
#define AHCI_LINK_US     100000  /* PxSSTS.DET to reach 3 after COMRESET */
#define AHCI_READY_US    2000000 /* BSY and DRQ to clear after COMRESET */
#define AHCI_IDENTIFY_US 2000000
#define AHCI_PX_IE_USED  (AHCI_PX_IS_DONE | AHCI_PX_IS_TFES | AHCI_PX_IS_FATAL)

#ifdef AHCI_MMIO_HOOKS /* host tests: a fake HBA sees every register access (ahci.h) */
#define rd ahci_mmio_rd
#define wr ahci_mmio_wr
#else
static inline uint32_t rd(volatile uint8_t *base, uint32_t off)
{
	return *(volatile uint32_t *)(base + off);
}
static inline void wr(volatile uint8_t *base, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(base + off) = v;
}
#endif

static uint64_t now(const struct ahci_hba *h)
{
	return h->env->now_us(h->env->ctx);
}

/* Wait until (register & mask) == want, at most us microseconds. */
static bool wait_reg(const struct ahci_hba *h, volatile uint8_t *base, uint32_t off, uint32_t mask,
                     uint32_t want, uint64_t us)
{
	uint64_t end = now(h) + us;

	for (;;) {
		if ((rd(base, off) & mask) == want)
			return true;
		if (now(h) > end)
			return (rd(base, off) & mask) == want;
	}
}

/* §10.1.2: ST off and the list engine idle; with fis, FRE off and the FIS engine idle too. */
static bool port_stop(struct ahci_port *p, bool fis)
{
	struct ahci_hba *h = p->hba;
	uint32_t cmd = rd(p->regs, AHCI_PX_CMD);

	wr(p->regs, AHCI_PX_CMD, cmd & ~AHCI_PX_CMD_ST);
	if (!wait_reg(h, p->regs, AHCI_PX_CMD, AHCI_PX_CMD_CR, 0, AHCI_STOP_US))
		return false;
	if (!fis)
		return true;
	wr(p->regs, AHCI_PX_CMD, rd(p->regs, AHCI_PX_CMD) & ~AHCI_PX_CMD_FRE);
	return wait_reg(h, p->regs, AHCI_PX_CMD, AHCI_PX_CMD_FR, 0, AHCI_STOP_US);
}

/* COMRESET (§10.4.2), then wait for the link and for the device to be ready; false if it is not. */
static bool port_comreset(struct ahci_port *p)
{
	struct ahci_hba *h = p->hba;
	uint32_t sctl = rd(p->regs, AHCI_PX_SCTL) & ~15u;

	wr(p->regs, AHCI_PX_SCTL, sctl | AHCI_SCTL_DET_RESET);
	for (uint64_t end = now(h) + 1000; now(h) < end;) /* at least 1 ms */
		;
	wr(p->regs, AHCI_PX_SCTL, sctl);
	if (!wait_reg(h, p->regs, AHCI_PX_SSTS, 15, AHCI_SSTS_DET_PHY, AHCI_LINK_US))
		return false;
	wr(p->regs, AHCI_PX_SERR, ~0u); /* the X bit from the reset, so PxTFD updates */
	return wait_reg(h, p->regs, AHCI_PX_TFD, ATA_STS_BSY | ATA_STS_DRQ, 0, AHCI_READY_US);
}

/* FIS receive on, errors and interrupts cleared, interrupts as the mode says, ST on. */
static void port_go(struct ahci_port *p)
{
	wr(p->regs, AHCI_PX_CMD, rd(p->regs, AHCI_PX_CMD) | AHCI_PX_CMD_FRE);
	wr(p->regs, AHCI_PX_SERR, ~0u);
	wr(p->regs, AHCI_PX_IS, ~0u);
	wr(p->regs, AHCI_PX_IE, p->hba->mode == BLKDEV_INTERRUPT ? AHCI_PX_IE_USED : 0);
	wr(p->regs, AHCI_PX_CMD, rd(p->regs, AHCI_PX_CMD) | AHCI_PX_CMD_ST);
}

/* Fill slot s's header and table for r (or IDENTIFY into the scratch page when r is NULL). */
static int prepare(struct ahci_port *p, unsigned s, const struct blkdev_req *r)
{
	struct ahci_cmd *c = &p->cmd[s];
	volatile struct ahci_cmd_hdr *hd = &p->clist[s];
	volatile struct ahci_prd *prdt = (volatile struct ahci_prd *)(c->tbl + AHCI_TBL_PRDT);
	uint8_t fis[20];
	unsigned n = 0;
	uint16_t flags = AHCI_HDR_CFL_H2D;

	if (!r) {
		for (int i = 0; i < 20; i++)
			fis[i] = 0;
		fis[0] = FIS_TYPE_H2D, fis[1] = FIS_H2D_C, fis[2] = ATA_CMD_IDENTIFY;
		prdt[0].dba = p->hba->scratch_pa, prdt[0].reserved = 0, prdt[0].dbc = 511;
		n = 1;
	} else {
		ahci_fis_build(fis, r->op, c->ncq, p->id.lba48, p->id.flush_ext, r->lba, r->nblocks,
		               s);
		if (r->op != BLKDEV_FLUSH &&
		    !(n = ahci_prdt_build(prdt, AHCI_PRDT_MAX, r->pages, r->offset,
		                          r->nblocks * p->dev.block_size)))
			return BLKDEV_E_INVAL;
		if (r->op == BLKDEV_WRITE)
			flags |= AHCI_HDR_W;
	}
	for (int i = 0; i < 20; i++)
		c->tbl[i] = fis[i];
	hd->flags = flags;
	hd->prdtl = (uint16_t)n;
	hd->prdbc = 0;
	hd->ctba = c->tbl_pa;
	return BLKDEV_OK;
}

/* Hand pending slots to the HBA in order: NCQ ones together, a non-queued one alone. */
static void kick(struct ahci_port *p)
{
	while (p->nfifo) {
		unsigned s = p->fifo[0];
		struct ahci_cmd *c = &p->cmd[s];
		if (c->ncq ? p->issued_nonq != 0 : (p->issued_ncq | p->issued_nonq) != 0)
			return;
		memmove(p->fifo, p->fifo + 1, --p->nfifo);
		c->state = AHCI_ISSUED;
		__atomic_thread_fence(__ATOMIC_RELEASE); /* header and table before the doorbell */
		if (c->ncq) {
			p->issued_ncq |= 1u << s;
			wr(p->regs, AHCI_PX_SACT, 1u << s);
		} else {
			p->issued_nonq |= 1u << s;
		}
		wr(p->regs, AHCI_PX_CI, 1u << s);
	}
}

static void complete(struct ahci_port *p, unsigned s, int status)
{
	struct ahci_cmd *c = &p->cmd[s];
	struct blkdev_req *r = c->req;

	p->issued_ncq &= ~(1u << s), p->issued_nonq &= ~(1u << s), p->busy &= ~(1u << s);
	c->req = 0, c->state = AHCI_FREE;
	p->inflight--;
	if (!r)
		return; /* never: a slot in use has its request */
	r->status = status;
	if (r->done)
		r->done(r);
}

/* Fail every request in flight or pending with status; how many. */
static unsigned fail_all(struct ahci_port *p, int status)
{
	unsigned n = 0;

	p->nfifo = 0;
	for (unsigned s = 0; s < p->nslots; s++)
		if (p->cmd[s].state != AHCI_FREE) {
			complete(p, s, status);
			n++;
		}
	return n;
}

/*
 * The function stopped answering (a status register read all-ones:
 * removed, or its bus access lost): everything in flight on every port
 * fails with BLKDEV_E_DEVICE, and every later call fails the same way
 * without touching the registers again (a port reset would only wait out
 * its timeouts). Returns BLKDEV_E_DEVICE.
 */
static int hba_gone(struct ahci_hba *h)
{
	if (!h->gone) {
		h->gone = true;
		LOG(h, "ahci: registers read all ones: the function is gone\n");
		for (unsigned i = 0; i < h->nports; i++)
			fail_all(&h->port[i], BLKDEV_E_DEVICE);
	}
	return BLKDEV_E_DEVICE;
}

int ahci_port_recover(struct ahci_port *p, const char *why)
{
	bool stopped =
	    port_stop(p, false); /* FIS receive stays on: the device's first D2H FIS after
	                            the COMRESET (its signature and status) must land */
	bool ready = port_comreset(p);
	unsigned failed = fail_all(p, BLKDEV_E_ABORTED);

	p->resets++;
	LOG(p->hba, "ahci: port %u: %s; port reset%s, %u requests aborted\n", p->no, why,
	    stopped && ready ? "" : " (the device did not come back ready)", failed);
	if (!ready)
		return BLKDEV_E_DEVICE;
	port_go(p);
	return BLKDEV_OK;
}

/* Put slot s back at the front of the pending queue, as a non-queued command. */
static void requeue(struct ahci_port *p, unsigned s, unsigned at)
{
	struct ahci_cmd *c = &p->cmd[s];

	p->issued_ncq &= ~(1u << s), p->issued_nonq &= ~(1u << s);
	c->ncq = false, c->state = AHCI_PENDING;
	(void)prepare(p, s, c->req); /* it was valid: the same table, non-queued */
	memmove(p->fifo + at + 1, p->fifo + at, p->nfifo - at);
	p->fifo[at] = (uint8_t)s;
	p->nfifo++;
}

static const char *op_name(const struct blkdev_req *r)
{
	return r->op == BLKDEV_WRITE ? "write" : r->op == BLKDEV_READ ? "read" : "flush";
}

/*
 * A task-file error (§6.2.2.1): stop the port, clear the error, start
 * again. A non-queued command is alone in flight, so it is the one that
 * failed if the status register says ERR or DF; without either the
 * report names no failure and the command is issued again (at most
 * AHCI_MAX_RETRIES times). After an NCQ error the device has aborted every
 * queued command and which tag failed is not known here (no READ LOG EXT
 * page 10h): the port is reset (COMRESET, which also ends whatever the
 * device still had in progress) and each is issued again without NCQ
 * (reads and writes can be repeated), one at a time, getting its own
 * status. Returns the requests completed (failed) here.
 */
static int task_file_error(struct ahci_port *p)
{
	uint32_t tfd = rd(p->regs, AHCI_PX_TFD);
	bool failed_status = tfd & (ATA_STS_ERR | ATA_STS_DF);
	unsigned failed = 0;

	p->errors++;
	port_stop(p, false);
	wr(p->regs, AHCI_PX_SERR, ~0u);
	wr(p->regs, AHCI_PX_IS, ~0u);
	if ((p->issued_ncq || (rd(p->regs, AHCI_PX_TFD) & (ATA_STS_BSY | ATA_STS_DRQ))) &&
	    !port_comreset(p)) {
		ahci_port_recover(p, "device not ready after a task-file error");
		return 0;
	}
	for (unsigned s = 0; s < p->nslots; s++) {
		uint32_t bit = 1u << s;
		struct ahci_cmd *c = &p->cmd[s];
		if (!(p->issued_nonq & bit))
			continue;
		if (!failed_status && c->retries < AHCI_MAX_RETRIES) {
			c->retries++;
			requeue(p, s, 0);
			continue;
		}
		LOG(p->hba,
		    "ahci: port %u: task-file error, status 0x%02x error 0x%02x, on %s of %u "
		    "blocks at %lu\n",
		    p->no, tfd & 0xff, (tfd >> 8) & 0xff, op_name(c->req), c->req->nblocks,
		    (unsigned long)c->req->lba);
		complete(p, s, BLKDEV_E_IO);
		failed++;
	}
	if (p->issued_ncq) {
		unsigned n = 0;
		for (unsigned s = 0; s < p->nslots; s++)
			if (p->issued_ncq & (1u << s))
				requeue(p, s, n++);
		LOG(p->hba,
		    "ahci: port %u: NCQ error, status 0x%02x error 0x%02x; port reset, %u "
		    "queued commands issued again one at a time\n",
		    p->no, tfd & 0xff, (tfd >> 8) & 0xff, n);
	}
	port_go(p);
	return (int)failed;
}

static int reap(struct ahci_port *p, unsigned max)
{
	int done = 0;
	uint32_t is, mask = 0;
	const char *bad;

	if (p->hba->gone)
		return BLKDEV_E_DEVICE;
	if ((is = rd(p->regs, AHCI_PX_IS)) == 0xffffffffu)
		return hba_gone(p->hba); /* reserved bits never read 1 */
	if (is) {
		wr(p->regs, AHCI_PX_IS,
		   is); /* before reading PxCI: a later completion raises it again */
		if (p->hba->mode == BLKDEV_INTERRUPT)
			wr(p->hba->regs, AHCI_IS, 1u << p->no);
	}
	if (is & AHCI_PX_IS_FATAL) {
		ahci_port_recover(p, "host bus or interface error");
		return BLKDEV_E_DEVICE;
	}
	if (is & AHCI_PX_IS_TFES)
		done = task_file_error(p);
	uint32_t ci = rd(p->regs, AHCI_PX_CI), sact = rd(p->regs, AHCI_PX_SACT);
	if ((bad = ahci_completed(p->issued_ncq, p->issued_nonq, ci, sact, &mask))) {
		ahci_port_recover(p, bad);
		return BLKDEV_E_DEVICE;
	}
	for (; mask && (unsigned)done < max; mask &= mask - 1, done++)
		complete(p, (unsigned)__builtin_ctz(mask), BLKDEV_OK);
	kick(p);
	return done;
}

/* IDENTIFY DEVICE on slot 0, polled; 0 or an error. */
static int identify(struct ahci_port *p)
{
	struct ahci_hba *h = p->hba;
	const char *bad;

	memset(h->scratch, 0, 512);
	prepare(p, 0, NULL);
	wr(p->regs, AHCI_PX_IS, ~0u);
	wr(p->regs, AHCI_PX_CI, 1);
	uint64_t end = now(h) + AHCI_IDENTIFY_US;
	while (rd(p->regs, AHCI_PX_CI) & 1) {
		if (rd(p->regs, AHCI_PX_IS) & (AHCI_PX_IS_TFES | AHCI_PX_IS_FATAL) || now(h) > end)
			break;
	}
	uint32_t tfd = rd(p->regs, AHCI_PX_TFD), is = rd(p->regs, AHCI_PX_IS);
	if ((rd(p->regs, AHCI_PX_CI) & 1) || (is & (AHCI_PX_IS_TFES | AHCI_PX_IS_FATAL)) ||
	    (tfd & ATA_STS_ERR)) {
		LOG(h, "ahci: port %u: IDENTIFY DEVICE failed (status 0x%02x error 0x%02x)\n",
		    p->no, tfd & 0xff, (tfd >> 8) & 0xff);
		port_stop(p, false);
		return BLKDEV_E_IO;
	}
	wr(p->regs, AHCI_PX_IS, ~0u);
	if ((bad = ahci_parse_identify((const uint16_t *)h->scratch, &p->id))) {
		LOG(h, "ahci: port %u: IDENTIFY data refused: %s\n", p->no, bad);
		port_stop(p, false);
		return BLKDEV_E_DEVICE;
	}
	return BLKDEV_OK;
}

static bool dma_ok(const struct ahci_hba *h, uint64_t pa)
{
	return (h->cap & AHCI_CAP_S64A) || pa >> 32 == 0;
}

/* Set port no up; 1 with a disk ready, 0 with none there, or a negative error. */
static int port_init(struct ahci_hba *h, struct ahci_port *p, unsigned no)
{
	p->hba = h, p->no = no;
	p->regs = h->regs + AHCI_PORT(no);
	if (!port_stop(p, true)) {
		LOG(h, "ahci: port %u: does not stop; left alone\n", no);
		return 0;
	}
	if (!p->clist) {
		void *va = h->env->dma_page(h->env->ctx, &p->clist_pa);
		if (!va)
			return BLKDEV_E_NOMEM;
		p->clist = va;
	}
	wr(p->regs, AHCI_PX_CLB, (uint32_t)p->clist_pa);
	wr(p->regs, AHCI_PX_CLBU, (uint32_t)(p->clist_pa >> 32));
	wr(p->regs, AHCI_PX_FB, (uint32_t)(p->clist_pa + 1024));
	wr(p->regs, AHCI_PX_FBU, (uint32_t)((p->clist_pa + 1024) >> 32));
	wr(p->regs, AHCI_PX_CMD, rd(p->regs, AHCI_PX_CMD) | AHCI_PX_CMD_FRE);
	wr(p->regs, AHCI_PX_SERR, ~0u);
	wr(p->regs, AHCI_PX_IS, ~0u);
	if (h->cap & AHCI_CAP_SSS)
		wr(p->regs, AHCI_PX_CMD,
		   rd(p->regs, AHCI_PX_CMD) | AHCI_PX_CMD_SUD | AHCI_PX_CMD_POD);
	if (!port_comreset(p)) {
		if (AHCI_SSTS_DET(rd(p->regs, AHCI_PX_SSTS)) == AHCI_SSTS_DET_PHY)
			LOG(h,
			    "ahci: port %u: link up but the device stays busy (status 0x%02x); "
			    "skipped\n",
			    no, rd(p->regs, AHCI_PX_TFD) & 0xff);
		return 0; /* nothing attached, or it never became ready */
	}
	uint32_t sig = rd(p->regs, AHCI_PX_SIG);
	if (sig != AHCI_SIG_ATA) {
		LOG(h, "ahci: port %u: signature %08x, not an ATA disk; skipped\n", no, sig);
		return 0;
	}
	p->nslots = AHCI_CAP_NCS(h->cap) < AHCI_SLOTS ? AHCI_CAP_NCS(h->cap) : AHCI_SLOTS;
	for (unsigned s = 0; s < p->nslots; s++)
		if (!p->cmd[s].tbl) {
			void *va = h->env->dma_page(h->env->ctx, &p->cmd[s].tbl_pa);
			if (!va)
				return BLKDEV_E_NOMEM;
			if (!dma_ok(h, p->cmd[s].tbl_pa))
				return BLKDEV_E_UNSUPPORTED;
			p->cmd[s].tbl = va;
		}
	if (!dma_ok(h, p->clist_pa) || !dma_ok(h, h->scratch_pa))
		return BLKDEV_E_UNSUPPORTED;
	wr(p->regs, AHCI_PX_IE, 0);
	wr(p->regs, AHCI_PX_CMD, rd(p->regs, AHCI_PX_CMD) | AHCI_PX_CMD_ST);
	if (identify(p))
		return 0; /* said why; the port is left alone */
	p->ncq = (h->cap & AHCI_CAP_SNCQ) && p->id.ncq;
	if (p->ncq && p->id.qdepth < p->nslots)
		p->nslots = p->id.qdepth;
	struct blkdev *d = &p->dev;
	d->ops = &ahci_blkdev_ops, d->priv = p;
	d->name[0] = 's', d->name[1] = 'd', d->name[2] = (char)('a' + (h->nports % 26)),
	d->name[3] = 0;
	d->nblocks = p->id.sectors, d->block_size = p->id.sector_size;
	uint32_t by_prdt = (AHCI_PRDT_MAX - 1) * BLKDEV_PAGE / d->block_size;
	uint32_t by_cmd = p->id.lba48 ? 65535 : 256;
	d->max_blocks = by_prdt < by_cmd ? by_prdt : by_cmd;
	d->nqueues = 1, d->queue_depth = p->nslots;
	d->flags = p->id.wcache ? BLKDEV_HAS_VOLATILE_CACHE : 0;
	d->mode = h->mode;
	port_go(p);
	LOG(h,
	    "ahci: port %u: %s: %s, serial %s, firmware %s, %lu blocks of %u bytes (%lu MiB), "
	    "%s, %u slots, write cache %s, flush%s, up to %u blocks per request, mode %s\n",
	    no, d->name, p->id.model, p->id.serial, p->id.firmware, (unsigned long)d->nblocks,
	    d->block_size, (unsigned long)(d->nblocks * d->block_size >> 20),
	    p->ncq        ? "NCQ"
	    : p->id.lba48 ? "no NCQ: DMA EXT"
	                  : "no NCQ: DMA (28-bit)",
	    p->nslots, p->id.wcache ? "on" : "off",
	    p->id.flush_ext ? " cache ext"
	    : p->id.flush   ? " cache"
	                    : " none",
	    d->max_blocks, h->mode == BLKDEV_INTERRUPT ? "interrupt (MSI)" : "polled");
	return 1;
}

int ahci_start(struct ahci_hba *h, volatile void *regs, size_t regs_len,
               const struct blkdev_env *env, enum blkdev_mode mode)
{
	memset(h, 0, sizeof(*h));
	h->env = env, h->regs = (volatile uint8_t *)regs, h->mode = (uint8_t)mode;
	if (regs_len < AHCI_PORT(0))
		return BLKDEV_E_INVAL;
	/* §10.4.3 HBA reset, AHCI mode before and after */
	wr(h->regs, AHCI_GHC, rd(h->regs, AHCI_GHC) | AHCI_GHC_AE);
	wr(h->regs, AHCI_GHC, rd(h->regs, AHCI_GHC) | AHCI_GHC_HR);
	if (!wait_reg(h, h->regs, AHCI_GHC, AHCI_GHC_HR, 0, AHCI_RESET_US)) {
		LOG(h, "ahci: the HBA did not finish its reset\n");
		return BLKDEV_E_TIMEOUT;
	}
	wr(h->regs, AHCI_GHC, AHCI_GHC_AE);
	h->cap = rd(h->regs, AHCI_CAP), h->pi = rd(h->regs, AHCI_PI), h->vs = rd(h->regs, AHCI_VS);
	if (h->cap == 0xffffffffu) {
		LOG(h, "ahci: registers read all ones: the function is gone\n");
		return BLKDEV_E_DEVICE;
	}
	if (!(h->scratch = env->dma_page(env->ctx, &h->scratch_pa)))
		return BLKDEV_E_NOMEM;
	LOG(h, "ahci: AHCI %x.%x, %u ports (implemented %08x), %u command slots%s%s\n", h->vs >> 16,
	    (h->vs >> 8) & 0xff, AHCI_CAP_NP(h->cap), h->pi, AHCI_CAP_NCS(h->cap),
	    h->cap & AHCI_CAP_SNCQ ? ", NCQ" : "", h->cap & AHCI_CAP_S64A ? ", 64-bit DMA" : "");
	if (mode == BLKDEV_INTERRUPT) {
		int err = env->irq_bind(env->ctx, 0, 0);
		if (err)
			return err;
	}
	for (unsigned no = 0; no < 32 && h->nports < AHCI_MAX_DISKS; no++) {
		if (!(h->pi & (1u << no)))
			continue;
		if (AHCI_PORT(no) + 0x80 > regs_len)
			break;
		struct ahci_port *p = &h->port[h->nports];
		int r = port_init(h, p, no);
		if (r < 0)
			return r;
		if (r == 1)
			h->nports++;
		else
			memset(p, 0, sizeof(*p)); /* its pages are lost: a few per empty port */
	}
	if (mode == BLKDEV_INTERRUPT) {
		wr(h->regs, AHCI_IS, ~0u);
		wr(h->regs, AHCI_GHC, AHCI_GHC_AE | AHCI_GHC_IE);
	}
	return BLKDEV_OK;
}

int ahci_stop(struct ahci_hba *h)
{
	int err = BLKDEV_OK;

	if (h->gone)
		return BLKDEV_E_DEVICE; /* nothing in flight since hba_gone */
	wr(h->regs, AHCI_GHC, AHCI_GHC_AE);
	for (unsigned i = 0; i < h->nports; i++) {
		struct ahci_port *p = &h->port[i];
		if (!port_stop(p, true))
			err = BLKDEV_E_TIMEOUT;
		fail_all(p, BLKDEV_E_ABORTED);
	}
	return err;
}

static int ahci_submit(struct blkdev *d, unsigned q, struct blkdev_req *r)
{
	struct ahci_port *p = d->priv;
	int err;
	unsigned s;

	if (q != 0)
		return BLKDEV_E_INVAL;
	if ((err = blkdev_check(d, r)))
		return err;
	if (p->hba->gone)
		return BLKDEV_E_DEVICE;
	uint32_t all = p->nslots == 32 ? ~0u : (1u << p->nslots) - 1;
	if (!(all & ~p->busy))
		return BLKDEV_E_BUSY;
	s = (unsigned)__builtin_ctz(all & ~p->busy);
	struct ahci_cmd *c = &p->cmd[s];
	c->ncq = p->ncq && (r->op == BLKDEV_READ || r->op == BLKDEV_WRITE);
	if ((err = prepare(p, s, r)))
		return err;
	c->req = r, c->state = AHCI_PENDING, c->retries = 0;
	p->busy |= 1u << s;
	p->fifo[p->nfifo++] = (uint8_t)s;
	p->inflight++;
	kick(p);
	return BLKDEV_OK;
}

static int ahci_poll(struct blkdev *d, unsigned q, unsigned max)
{
	if (q != 0)
		return BLKDEV_E_INVAL;
	return reap(d->priv, max);
}

static int ahci_wait(struct blkdev *d, unsigned q, uint64_t timeout_us)
{
	struct ahci_port *p = d->priv;
	struct ahci_hba *h = p->hba;
	uint64_t end = now(h) + timeout_us;

	if (q != 0)
		return BLKDEV_E_INVAL;
	for (;;) {
		int n = reap(p, AHCI_SLOTS);
		if (n != 0)
			return n;
		if (!p->inflight)
			return 0;
		uint64_t t = now(h);
		if (t > end)
			break;
		if (h->mode == BLKDEV_INTERRUPT && h->env->irq_wait(h->env->ctx, 0, end - t))
			break;
	}
	if (reap(p, AHCI_SLOTS) > 0)
		return 1;
	ahci_port_recover(p, "no completion in time");
	return BLKDEV_E_TIMEOUT;
}

static unsigned ahci_inflight(struct blkdev *d, unsigned q)
{
	struct ahci_port *p = d->priv;

	return q == 0 ? p->inflight : 0;
}

const struct blkdev_ops ahci_blkdev_ops = {
    .submit = ahci_submit,
    .poll = ahci_poll,
    .wait = ahci_wait,
    .inflight = ahci_inflight,
};
