/*
 * The pure parts of the AHCI driver: IDENTIFY DEVICE data, completion
 * masks, FISes and PRD tables (host-tested in tests/host/drivers, fuzzed
 * in tests/fuzz/drivers). No register access here.
 */
#include "ahci.h"

/* ATA strings: two bytes a word, the first in the high byte; unprintable bytes become '?'. */
static void ata_string(const uint16_t *w, unsigned words, char *out)
{
	unsigned n = 0;

	for (unsigned i = 0; i < words; i++) {
		char c[2] = {(char)(w[i] >> 8), (char)(w[i] & 0xff)};
		for (int k = 0; k < 2; k++)
			out[n++] = c[k] >= 0x20 && c[k] < 0x7f ? c[k] : '?';
	}
	while (n && out[n - 1] == ' ')
		n--;
	out[n] = 0;
}

const char *ahci_parse_identify(const uint16_t w[256], struct ahci_identify *id)
{
	*id = (struct ahci_identify){0};
	if ((w[ATA_ID_INTEGRITY] & 0xff) == 0xa5) {
		uint8_t sum = 0;
		for (unsigned i = 0; i < 256; i++)
			sum = (uint8_t)(sum + (w[i] & 0xff) + (w[i] >> 8));
		if (sum)
			return "IDENTIFY checksum wrong";
	}
	if (w[ATA_ID_CONFIG] & 0x8000)
		return "not an ATA device";
	if (!(w[ATA_ID_CAPS] & (1u << 9)))
		return "no LBA addressing";
	if (!(w[ATA_ID_CAPS] & (1u << 8)))
		return "no DMA";
	/* words 82-87: 0 and 0xffff mean "not reported" */
	uint16_t c2 = w[ATA_ID_CMDSET2], c1 = w[ATA_ID_CMDSET1], e1 = w[ATA_ID_CMDSET_EN1];
	bool c2ok = c2 != 0 && c2 != 0xffff && (c2 & 0xc000) == 0x4000;
	id->lba48 = c2ok && (c2 & (1u << 10));
	id->flush = c2ok && (c2 & (1u << 12));
	id->flush_ext = id->lba48 && c2ok && (c2 & (1u << 13));
	id->wcache = c1 != 0xffff && (c1 & (1u << 5)) && e1 != 0xffff && (e1 & (1u << 5));
	if (id->lba48) {
		id->sectors = (uint64_t)w[ATA_ID_LBA48] | (uint64_t)w[ATA_ID_LBA48 + 1] << 16 |
		              (uint64_t)w[ATA_ID_LBA48 + 2] << 32 |
		              (uint64_t)w[ATA_ID_LBA48 + 3] << 48;
		if (id->sectors >> 48)
			return "48-bit capacity above 2^48 sectors";
	} else {
		id->sectors = (uint64_t)w[ATA_ID_LBA28] | (uint64_t)w[ATA_ID_LBA28 + 1] << 16;
		if (id->sectors >> 28)
			return "28-bit capacity above 2^28 sectors";
	}
	if (id->sectors == 0)
		return "capacity 0";
	id->sector_size = 512;
	uint16_t ss = w[ATA_ID_SECTOR_SIZE];
	if ((ss & 0xc000) == 0x4000 && (ss & (1u << 12))) {
		uint32_t words = (uint32_t)w[ATA_ID_LOGICAL_SZ] | (uint32_t)w[ATA_ID_LOGICAL_SZ + 1]
		                                                      << 16;
		if (words < 256 || words > 2048 || (words & (words - 1)))
			return "logical sector size not a power of two in 512..4096 bytes";
		id->sector_size = words * 2;
	}
	uint16_t sata = w[ATA_ID_SATA_CAPS];
	id->ncq = sata != 0 && sata != 0xffff && (sata & (1u << 8)) && id->lba48;
	id->qdepth = id->ncq ? (uint8_t)((w[ATA_ID_QDEPTH] & 31) + 1) : 1;
	ata_string(&w[ATA_ID_MODEL], 20, id->model);
	ata_string(&w[ATA_ID_SERIAL], 10, id->serial);
	ata_string(&w[ATA_ID_FIRMWARE], 4, id->firmware);
	return 0;
}

const char *ahci_completed(uint32_t issued_ncq, uint32_t issued_nonq, uint32_t ci, uint32_t sact,
                           uint32_t *done)
{
	uint32_t issued = issued_ncq | issued_nonq;

	*done = 0;
	if (issued_ncq & issued_nonq)
		return "slot both queued and not queued"; /* the driver's own invariant */
	if (ci & ~issued)
		return "PxCI has a slot not in flight";
	if (sact & ~issued_ncq)
		return "PxSACT has a tag not in flight";
	*done = (issued_ncq & ~(ci | sact)) | (issued_nonq & ~ci);
	return 0;
}

void ahci_fis_build(uint8_t fis[20], uint8_t op, bool ncq, bool lba48, bool flush_ext, uint64_t lba,
                    uint32_t nblocks, unsigned tag)
{
	for (int i = 0; i < 20; i++)
		fis[i] = 0;
	fis[0] = FIS_TYPE_H2D;
	fis[1] = FIS_H2D_C;
	if (op == BLKDEV_FLUSH) {
		fis[2] = flush_ext ? ATA_CMD_FLUSH_CACHE_EXT : ATA_CMD_FLUSH_CACHE;
		fis[7] = ATA_DEV_LBA;
		return;
	}
	bool wr = op == BLKDEV_WRITE;
	fis[4] = (uint8_t)lba, fis[5] = (uint8_t)(lba >> 8), fis[6] = (uint8_t)(lba >> 16);
	fis[7] = ATA_DEV_LBA;
	if (ncq) {
		/* FPDMA QUEUED: the count in FEATURE, the tag in COUNT bits 7:3 */
		fis[2] = wr ? ATA_CMD_WRITE_FPDMA : ATA_CMD_READ_FPDMA;
		fis[3] = (uint8_t)nblocks, fis[11] = (uint8_t)(nblocks >> 8);
		fis[12] = (uint8_t)(tag << 3);
	} else if (lba48) {
		fis[2] = wr ? ATA_CMD_WRITE_DMA_EXT : ATA_CMD_READ_DMA_EXT;
		fis[12] = (uint8_t)nblocks, fis[13] = (uint8_t)(nblocks >> 8);
	} else {
		fis[2] = wr ? ATA_CMD_WRITE_DMA : ATA_CMD_READ_DMA;
		fis[7] = (uint8_t)(ATA_DEV_LBA | ((lba >> 24) & 15));
		fis[12] = (uint8_t)nblocks; /* 256 is 0 */
		return;
	}
	fis[8] = (uint8_t)(lba >> 24), fis[9] = (uint8_t)(lba >> 32),
	fis[10] = (uint8_t)(lba >> 40);
}

unsigned ahci_prdt_build(volatile struct ahci_prd *prdt, unsigned max, const uint64_t *pages,
                         uint32_t offset, uint32_t len)
{
	unsigned n = 0;

	if ((len & 1) || (offset & 1) || offset >= BLKDEV_PAGE)
		return 0;
	for (unsigned p = 0; len; p++) {
		uint32_t chunk = BLKDEV_PAGE - offset < len ? BLKDEV_PAGE - offset : len;
		if (n == max)
			return 0;
		prdt[n].dba = pages[p] + offset;
		prdt[n].reserved = 0;
		prdt[n].dbc = chunk - 1;
		n++;
		len -= chunk, offset = 0;
	}
	return n;
}
