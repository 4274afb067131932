/* The fake AHCI HBA of blk_ahci_fake.h. */
#include "blk_ahci_fake.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ahci_fake af;

static void *pages[512];
static unsigned npages;

static uint32_t *reg(uint32_t off)
{
	return (uint32_t *)(af.abar + off);
}
static uint32_t *preg(unsigned port, uint32_t off)
{
	return reg(AHCI_PORT(port) + off);
}

static void put_string(uint16_t *w, unsigned words, const char *s)
{
	for (unsigned i = 0; i < words; i++) {
		char a = *s ? *s++ : ' ', b = *s ? *s++ : ' ';
		w[i] = (uint16_t)((uint8_t)a << 8 | (uint8_t)b);
	}
}

void af_reset(bool ncq)
{
	af_free_pages();
	memset(&af, 0, sizeof(af));
	af.ncq = ncq;
	*reg(AHCI_CAP) = 1u /* 2 ports */ | 31u << 8 /* 32 slots */ | AHCI_CAP_SNCQ | AHCI_CAP_S64A;
	*reg(AHCI_PI) = 3;
	*reg(AHCI_VS) = 0x10300;
	uint16_t *w = af.identify;
	w[ATA_ID_CONFIG] = 0x0040;
	w[ATA_ID_CAPS] = 1u << 9 | 1u << 8;
	w[ATA_ID_QDEPTH] = 31;
	w[ATA_ID_SATA_CAPS] = ncq ? 1u << 8 : 0;
	w[ATA_ID_CMDSET1] = 1u << 5;
	w[ATA_ID_CMDSET2] = 0x4000 | 1u << 10 | 1u << 12 | 1u << 13;
	w[ATA_ID_CMDSET_EN1] = 1u << 5;
	w[ATA_ID_LBA28] = AF_SECTORS;
	w[ATA_ID_LBA48] = AF_SECTORS;
	put_string(&w[ATA_ID_MODEL], 20, "FAKE SATA DISK");
	put_string(&w[ATA_ID_SERIAL], 10, "FAKE0001");
	put_string(&w[ATA_ID_FIRMWARE], 4, "1.0");
}

static void port_reset_regs(unsigned p)
{
	*preg(p, AHCI_PX_CMD) = 0, *preg(p, AHCI_PX_CI) = 0, *preg(p, AHCI_PX_SACT) = 0;
	*preg(p, AHCI_PX_IS) = 0, *preg(p, AHCI_PX_SSTS) = 0, *preg(p, AHCI_PX_TFD) = 0x7f;
	*preg(p, AHCI_PX_SIG) = 0xffffffffu;
	if (p == 0)
		af.fetched = 0;
}

/* base is the ABAR or a port's registers in it */
uint32_t ahci_mmio_rd(volatile uint8_t *base, uint32_t off)
{
	off += (uint32_t)(base - af.abar);
	base = af.abar;
	af.reads++;
	if (af.gone)
		return 0xffffffffu;
	if (off == AHCI_PORT(0) + AHCI_PX_IS)
		af_step();
	return *(volatile uint32_t *)(base + off);
}

void ahci_mmio_wr(volatile uint8_t *base, uint32_t off, uint32_t v)
{
	off += (uint32_t)(base - af.abar);
	if (af.gone)
		return;
	if (off == AHCI_GHC) {
		if (v & AHCI_GHC_HR) {
			for (unsigned p = 0; p < 2; p++)
				port_reset_regs(p);
			*reg(AHCI_GHC) = af.hr_stuck ? v : v & ~AHCI_GHC_HR;
		} else {
			*reg(AHCI_GHC) = v;
		}
		return;
	}
	if (off < AHCI_PORT(0) || off >= AHCI_PORT(2)) {
		*reg(off) = v;
		return;
	}
	unsigned p = (off - AHCI_PORT(0)) / 0x80;
	uint32_t r = (off - AHCI_PORT(0)) % 0x80;
	switch (r) {
	case AHCI_PX_IS:
	case AHCI_PX_SERR:
		*preg(p, r) &= ~v; /* write 1 to clear */
		return;
	case AHCI_PX_CMD:
		v &= ~(AHCI_PX_CMD_CR | AHCI_PX_CMD_FR);
		v |= v & AHCI_PX_CMD_ST ? AHCI_PX_CMD_CR : 0;
		v |= v & AHCI_PX_CMD_FRE ? AHCI_PX_CMD_FR : 0;
		if (!(v & AHCI_PX_CMD_ST)) { /* §3.3.14: clearing ST clears PxCI and PxSACT */
			*preg(p, AHCI_PX_CI) = 0, *preg(p, AHCI_PX_SACT) = 0;
			if (p == 0)
				af.fetched = 0;
		}
		*preg(p, r) = v;
		return;
	case AHCI_PX_SCTL: {
		uint32_t old = *preg(p, r);
		*preg(p, r) = v;
		if ((v & 15) == AHCI_SCTL_DET_RESET) {
			*preg(p, AHCI_PX_SSTS) = 0;
		} else if ((old & 15) == AHCI_SCTL_DET_RESET && p == 0) {
			af.comresets++;
			*preg(0, AHCI_PX_SSTS) = 0x113;
			*preg(0, AHCI_PX_TFD) = af.never_ready ? 0x80 : 0x50;
			*preg(0, AHCI_PX_SIG) = AHCI_SIG_ATA;
			*preg(0, AHCI_PX_CI) = 0, *preg(0, AHCI_PX_SACT) = 0;
			af.fetched = 0;
		}
		return;
	}
	case AHCI_PX_CI:
	case AHCI_PX_SACT:
		if (*preg(p, AHCI_PX_CMD) & AHCI_PX_CMD_ST)
			*preg(p, r) |= v; /* write 1 to set */
		return;
	default:
		*preg(p, r) = v;
	}
}

static uint64_t pa_of(uint32_t lo, uint32_t hi)
{
	return (uint64_t)hi << 32 | lo;
}

/* Move len bytes between the disk at byte off and the PRD table; false on a short table. */
static bool dma(volatile struct ahci_cmd_hdr *h, uint64_t off, uint32_t len, bool to_disk)
{
	struct ahci_prd *prd = (struct ahci_prd *)(uintptr_t)(h->ctba + AHCI_TBL_PRDT);

	for (unsigned i = 0; i < h->prdtl && len; i++) {
		uint32_t n = (prd[i].dbc & 0x3fffff) + 1;
		if (n > len)
			n = len;
		void *buf = (void *)(uintptr_t)prd[i].dba;
		if (to_disk)
			memcpy(af.disk + off, buf, n);
		else
			memcpy(buf, af.disk + off, n);
		off += n, len -= n;
	}
	return len == 0;
}

/* One command from slot s; false if the device reports an error. */
static bool run(unsigned s, bool *queued)
{
	volatile struct ahci_cmd_hdr *cl = (volatile struct ahci_cmd_hdr *)(uintptr_t)pa_of(
	    *preg(0, AHCI_PX_CLB), *preg(0, AHCI_PX_CLBU));
	volatile struct ahci_cmd_hdr *h = &cl[s];
	const uint8_t *fis = (const uint8_t *)(uintptr_t)h->ctba;
	uint64_t lba = (uint64_t)fis[4] | (uint64_t)fis[5] << 8 | (uint64_t)fis[6] << 16 |
	               (uint64_t)fis[8] << 24 | (uint64_t)fis[9] << 32 | (uint64_t)fis[10] << 40;
	uint32_t n;

	*queued = false;
	switch (fis[2]) {
	case ATA_CMD_IDENTIFY: {
		const struct ahci_prd *prd =
		    (const struct ahci_prd *)(uintptr_t)(h->ctba + AHCI_TBL_PRDT);
		af.identifies++;
		if (h->prdtl < 1 || (prd->dbc & 0x3fffff) + 1 < 512)
			return false;
		memcpy((void *)(uintptr_t)prd->dba, af.identify, 512);
		return true;
	}
	case ATA_CMD_READ_FPDMA:
	case ATA_CMD_WRITE_FPDMA:
		*queued = true;
		af.ncq_cmds++;
		n = (uint32_t)fis[3] | (uint32_t)fis[11] << 8;
		if ((fis[12] >> 3) != s)
			return false; /* the tag must be the slot */
		if (lba + n > AF_SECTORS)
			return false;
		return dma(h, lba * 512, n * 512, fis[2] == ATA_CMD_WRITE_FPDMA);
	case ATA_CMD_READ_DMA_EXT:
	case ATA_CMD_WRITE_DMA_EXT:
		af.nonq_cmds++;
		n = (uint32_t)fis[12] | (uint32_t)fis[13] << 8;
		if (lba + n > AF_SECTORS)
			return false;
		return dma(h, lba * 512, n * 512, fis[2] == ATA_CMD_WRITE_DMA_EXT);
	case ATA_CMD_FLUSH_CACHE_EXT:
		af.flushes++;
		return true;
	default:
		return false;
	}
}

void af_step(void)
{
	if (af.gone)
		return;
	uint32_t *is = preg(0, AHCI_PX_IS), *ci = preg(0, AHCI_PX_CI),
	         *sact = preg(0, AHCI_PX_SACT);

	*is |= af.fatal, af.fatal = 0;
	*ci |= af.stray_ci, af.stray_ci = 0;
	if (af.hold || !(*preg(0, AHCI_PX_CMD) & AHCI_PX_CMD_ST))
		return;
	uint32_t nonq = *ci & ~*sact & ~af.fetched;
	unsigned bits = (unsigned)__builtin_popcount(nonq);
	if (bits > af.max_ci_bits)
		af.max_ci_bits = bits;
	for (unsigned s = 0; s < 32; s++) {
		uint32_t bit = 1u << s;
		if (!(*ci & bit) || (af.fetched & bit))
			continue;
		bool queued;
		bool ok = run(s, &queued);
		if (ok && af.tfes_no_err && !queued) {
			af.tfes_no_err--;
			*preg(0, AHCI_PX_TFD) = 0x0450;
			*is |= AHCI_PX_IS_TFES;
			*ci &= ~bit;
			return;
		}
		if (!ok) {
			*preg(0, AHCI_PX_TFD) = 0x1041; /* IDNF, ERR */
			*is |= AHCI_PX_IS_TFES;
			if (!queued)
				*ci &= ~bit;
			else
				af.fetched |= bit, *ci &= ~bit; /* the tag stays in PxSACT */
			return;                                 /* the device stops at an error */
		}
		*preg(0, AHCI_PX_TFD) = 0x50;
		*ci &= ~bit;
		if (queued) {
			*sact &= ~bit;
			*is |= AHCI_PX_IS_SDBS;
		} else {
			*is |= AHCI_PX_IS_DHRS;
		}
	}
}

static void *env_dma_page(void *ctx, uint64_t *pa)
{
	(void)ctx;
	if (npages == 512)
		return NULL;
	void *p = aligned_alloc(4096, 4096);
	memset(p, 0, 4096);
	pages[npages++] = p;
	*pa = (uintptr_t)p;
	return p;
}

void af_free_pages(void)
{
	while (npages)
		free(pages[--npages]);
}

static uint64_t env_now(void *ctx)
{
	(void)ctx;
	af_step();
	return af.now += 10;
}

static int env_irq_bind(void *ctx, unsigned vector, unsigned cpu)
{
	(void)ctx, (void)vector, (void)cpu;
	return 0;
}

static int env_irq_wait(void *ctx, unsigned vector, uint64_t timeout_us)
{
	(void)ctx, (void)vector, (void)timeout_us;
	af_step();
	return 0;
}

static void env_log(void *ctx, const char *fmt, ...)
{
	va_list ap;

	(void)ctx;
	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

const struct blkdev_env af_env = {0, env_dma_page, env_now, env_irq_bind, env_irq_wait, env_log};
