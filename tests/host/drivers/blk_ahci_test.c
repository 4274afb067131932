/*
 * Host unit tests (ASan + UBSan) of the pure parts of the AHCI driver
 * (user/drivers/ahci_parse.c): IDENTIFY DEVICE data as a disk writes it
 * and as a broken one would, the completion masks read from PxCI/PxSACT,
 * the FISes and the PRD tables.
 */
#include <string.h>

#include "ahci.h"
#include "ktharness.h"

/* IDENTIFY data of a plausible SATA disk: LBA48, NCQ depth 32, 512-byte sectors. */
static void good_identify(uint16_t w[256], uint64_t sectors)
{
	const char *model = "HALLOWS TEST DISK", *serial = "SN0001", *fw = "1.0";

	memset(w, 0, 512);
	w[ATA_ID_CONFIG] = 0x0040;
	w[ATA_ID_CAPS] = 1u << 9 | 1u << 8;
	w[ATA_ID_QDEPTH] = 31;
	w[ATA_ID_SATA_CAPS] = 1u << 8;
	w[ATA_ID_CMDSET1] = 1u << 5;
	w[ATA_ID_CMDSET2] = 0x4000 | 1u << 10 | 1u << 12 | 1u << 13;
	w[ATA_ID_CMDSET_EN1] = 1u << 5;
	w[ATA_ID_LBA28] = (uint16_t)(sectors > 0x0fffffff ? 0xffff : sectors);
	w[ATA_ID_LBA28 + 1] = (uint16_t)(sectors > 0x0fffffff ? 0x0fff : sectors >> 16);
	for (int i = 0; i < 4; i++)
		w[ATA_ID_LBA48 + i] = (uint16_t)(sectors >> (16 * i));
	for (int i = 0; i < 20; i++)
		w[ATA_ID_MODEL + i] = 0x2020;
	for (int i = 0; i < 10; i++)
		w[ATA_ID_SERIAL + i] = 0x2020;
	for (int i = 0; i < 4; i++)
		w[ATA_ID_FIRMWARE + i] = 0x2020;
	for (int i = 0; model[i]; i++)
		w[ATA_ID_MODEL + i / 2] =
		    (uint16_t)(i % 2 ? (w[ATA_ID_MODEL + i / 2] & 0xff00) | (uint8_t)model[i]
		                     : (w[ATA_ID_MODEL + i / 2] & 0xff) | (uint8_t)model[i] << 8);
	for (int i = 0; serial[i]; i++)
		w[ATA_ID_SERIAL + i / 2] =
		    (uint16_t)(i % 2 ? (w[ATA_ID_SERIAL + i / 2] & 0xff00) | (uint8_t)serial[i]
		                     : (w[ATA_ID_SERIAL + i / 2] & 0xff) | (uint8_t)serial[i] << 8);
	for (int i = 0; fw[i]; i++)
		w[ATA_ID_FIRMWARE + i / 2] =
		    (uint16_t)(i % 2 ? (w[ATA_ID_FIRMWARE + i / 2] & 0xff00) | (uint8_t)fw[i]
		                     : (w[ATA_ID_FIRMWARE + i / 2] & 0xff) | (uint8_t)fw[i] << 8);
}

/* Set the integrity word so the 512 bytes sum to 0 (ACS-3 §7.12.7.88). */
static void checksum(uint16_t w[256])
{
	uint8_t sum = 0xa5;

	w[ATA_ID_INTEGRITY] = 0xa5;
	for (int i = 0; i < 255; i++)
		sum = (uint8_t)(sum + (w[i] & 0xff) + (w[i] >> 8));
	w[ATA_ID_INTEGRITY] = (uint16_t)(0xa5 | (uint8_t)(0x100 - sum) << 8);
}

KT_CASE(ahci_identify_of_a_sata_disk)
{
	uint16_t w[256];
	struct ahci_identify id;

	good_identify(w, 16384);
	CHECK_MSG(!ahci_parse_identify(w, &id));
	CHECK_MSG(id.sectors == 16384 && id.sector_size == 512 && id.lba48 && id.ncq &&
	          id.qdepth == 32);
	CHECK_MSG(id.flush_ext && id.flush && id.wcache);
	CHECK_MSG(!strcmp(id.model, "HALLOWS TEST DISK") && !strcmp(id.serial, "SN0001") &&
	              !strcmp(id.firmware, "1.0"),
	          "'%s' '%s' '%s'", id.model, id.serial, id.firmware);
	checksum(w);
	CHECK_MSG(!ahci_parse_identify(w, &id), "a right checksum is accepted");
	w[ATA_ID_QDEPTH] = 3;
	checksum(w);
	CHECK_MSG(!ahci_parse_identify(w, &id) && id.qdepth == 4);
	/* 4 KiB logical sectors: 2048 words */
	w[ATA_ID_SECTOR_SIZE] = 0x4000 | 1u << 12;
	w[ATA_ID_LOGICAL_SZ] = 2048, w[ATA_ID_LOGICAL_SZ + 1] = 0;
	checksum(w);
	CHECK_MSG(!ahci_parse_identify(w, &id) && id.sector_size == 4096);
	/* no 48-bit: 28-bit capacity, no NCQ (FPDMA needs 48-bit LBAs), FLUSH CACHE only */
	good_identify(w, 1000);
	w[ATA_ID_CMDSET2] = 0x4000 | 1u << 12;
	CHECK_MSG(!ahci_parse_identify(w, &id) && !id.lba48 && !id.ncq && id.qdepth == 1 &&
	          id.sectors == 1000 && id.flush && !id.flush_ext);
	/* words 82-87 not reported */
	good_identify(w, 1000);
	w[ATA_ID_CMDSET2] = 0xffff, w[ATA_ID_CMDSET1] = 0xffff, w[ATA_ID_SATA_CAPS] = 0xffff;
	CHECK_MSG(!ahci_parse_identify(w, &id) && !id.lba48 && !id.ncq && !id.wcache && !id.flush);
}

KT_CASE(ahci_identify_nonsense_is_refused)
{
	uint16_t w[256];
	struct ahci_identify id;

	good_identify(w, 16384);
	checksum(w);
	w[ATA_ID_CAPS] ^= 1; /* any change breaks the sum */
	CHECK_MSG(ahci_parse_identify(w, &id) != NULL, "bad checksum");
	good_identify(w, 16384);
	w[ATA_ID_CONFIG] = 0x8580;
	CHECK_MSG(ahci_parse_identify(w, &id) != NULL, "ATAPI");
	good_identify(w, 16384);
	w[ATA_ID_CAPS] = 1u << 8;
	CHECK_MSG(ahci_parse_identify(w, &id) != NULL, "no LBA");
	good_identify(w, 16384);
	w[ATA_ID_CAPS] = 1u << 9;
	CHECK_MSG(ahci_parse_identify(w, &id) != NULL, "no DMA");
	good_identify(w, 0);
	CHECK_MSG(ahci_parse_identify(w, &id) != NULL, "capacity 0");
	good_identify(w, 16384);
	w[ATA_ID_LBA48 + 3] = 1;
	CHECK_MSG(ahci_parse_identify(w, &id) != NULL, "above 2^48");
	good_identify(w, 16384);
	w[ATA_ID_CMDSET2] = 0x4000;
	w[ATA_ID_LBA28 + 1] = 0x1000;
	CHECK_MSG(ahci_parse_identify(w, &id) != NULL, "28-bit capacity above 2^28");
	const uint32_t sizes[] = {0, 255, 300, 4096, 0x10000};
	for (unsigned i = 0; i < 5; i++) {
		good_identify(w, 16384);
		w[ATA_ID_SECTOR_SIZE] = 0x4000 | 1u << 12;
		w[ATA_ID_LOGICAL_SZ] = (uint16_t)sizes[i],
		w[ATA_ID_LOGICAL_SZ + 1] = (uint16_t)(sizes[i] >> 16);
		CHECK_MSG(ahci_parse_identify(w, &id) != NULL, "logical sector of %u words",
		          sizes[i]);
	}
	good_identify(w, 16384);
	w[ATA_ID_MODEL] = 0x0107, w[ATA_ID_SERIAL] = 0xff41;
	CHECK_MSG(!ahci_parse_identify(w, &id) && id.model[0] == '?' && id.model[1] == '?' &&
	              id.serial[0] == '?' && id.serial[1] == 'A',
	          "unprintable bytes replaced");
}

KT_CASE(ahci_completion_masks)
{
	uint32_t done = 99;

	CHECK_MSG(!ahci_completed(0x0f, 0, 0x00, 0x0c, &done) && done == 0x03, "NCQ: SACT clear");
	CHECK_MSG(!ahci_completed(0x0f, 0, 0x01, 0x00, &done) && done == 0x0e,
	          "NCQ: CI still set means not yet accepted");
	CHECK_MSG(!ahci_completed(0, 0x10, 0x10, 0, &done) && done == 0);
	CHECK_MSG(!ahci_completed(0, 0x10, 0, 0, &done) && done == 0x10);
	CHECK_MSG(!ahci_completed(0, 0, 0, 0, &done) && done == 0);
	CHECK_MSG(ahci_completed(0x01, 0, 0x02, 0, &done) && done == 0, "CI bit of a free slot");
	CHECK_MSG(ahci_completed(0x01, 0, 0, 0x80000000u, &done) && done == 0,
	          "SACT tag not in flight");
	CHECK_MSG(ahci_completed(0, 0x01, 0, 0x01, &done), "SACT on a non-queued slot");
	CHECK_MSG(ahci_completed(0x01, 0x01, 0, 0, &done), "a slot both queued and not");
}

KT_CASE(ahci_fis_layouts)
{
	uint8_t f[20];

	ahci_fis_build(f, BLKDEV_READ, true, true, true, 0x123456789aull, 0x0102, 17);
	CHECK_MSG(f[0] == 0x27 && f[1] == 0x80 && f[2] == ATA_CMD_READ_FPDMA);
	CHECK_MSG(f[3] == 0x02 && f[11] == 0x01, "count in FEATURE");
	CHECK_MSG(f[12] == 17 << 3, "tag in COUNT 7:3");
	CHECK_MSG(f[4] == 0x9a && f[5] == 0x78 && f[6] == 0x56 && f[8] == 0x34 && f[9] == 0x12 &&
	          f[10] == 0);
	CHECK_MSG(f[7] == ATA_DEV_LBA);
	ahci_fis_build(f, BLKDEV_WRITE, true, true, true, 5, 8, 31);
	CHECK_MSG(f[2] == ATA_CMD_WRITE_FPDMA && f[12] == 31 << 3 && f[3] == 8);
	ahci_fis_build(f, BLKDEV_WRITE, false, true, true, 0x1000000ull, 300, 0);
	CHECK_MSG(f[2] == ATA_CMD_WRITE_DMA_EXT && f[12] == 300 % 256 && f[13] == 1 && f[3] == 0 &&
	          f[8] == 1 && f[7] == ATA_DEV_LBA);
	ahci_fis_build(f, BLKDEV_READ, false, false, false, 0x0abcdef1ull, 256, 0);
	CHECK_MSG(f[2] == ATA_CMD_READ_DMA && f[12] == 0 && f[7] == (ATA_DEV_LBA | 0x0a) &&
	              f[6] == 0xbc && f[8] == 0,
	          "28-bit: LBA 27:24 in DEVICE, 256 as 0");
	ahci_fis_build(f, BLKDEV_FLUSH, false, true, true, 77, 9, 3);
	CHECK_MSG(f[2] == ATA_CMD_FLUSH_CACHE_EXT && f[4] == 0 && f[12] == 0);
	ahci_fis_build(f, BLKDEV_FLUSH, false, false, false, 0, 0, 0);
	CHECK_MSG(f[2] == ATA_CMD_FLUSH_CACHE);
}

KT_CASE(ahci_prd_tables)
{
	static struct ahci_prd t[AHCI_PRDT_MAX + 1];
	uint64_t pages[AHCI_PRDT_MAX + 2];

	for (unsigned i = 0; i < AHCI_PRDT_MAX + 2; i++)
		pages[i] = 0x100000ull * (i + 1);
	CHECK_MSG(ahci_prdt_build(t, AHCI_PRDT_MAX, pages, 0, 512) == 1 && t[0].dba == pages[0] &&
	          t[0].dbc == 511);
	CHECK_MSG(ahci_prdt_build(t, AHCI_PRDT_MAX, pages, 3584, 4096) == 2);
	CHECK_MSG(t[0].dba == pages[0] + 3584 && t[0].dbc == 511 && t[1].dba == pages[1] &&
	          t[1].dbc == 3583);
	unsigned full = AHCI_PRDT_MAX * 4096;
	CHECK_MSG(ahci_prdt_build(t, AHCI_PRDT_MAX, pages, 0, full) == AHCI_PRDT_MAX);
	CHECK_MSG(ahci_prdt_build(t, AHCI_PRDT_MAX, pages, 512, full) == 0, "one entry too many");
	CHECK_MSG(ahci_prdt_build(t, AHCI_PRDT_MAX, pages, 0, 511) == 0, "odd length");
	CHECK_MSG(ahci_prdt_build(t, AHCI_PRDT_MAX, pages, 4096, 512) == 0, "offset past the page");
	uint32_t sum = 0;
	unsigned n = ahci_prdt_build(t, AHCI_PRDT_MAX, pages, 1024, 40960);
	for (unsigned i = 0; i < n; i++)
		sum += (t[i].dbc & 0x3fffff) + 1;
	CHECK_MSG(n == 11 && sum == 40960);
}
