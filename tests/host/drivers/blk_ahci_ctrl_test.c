/*
 * Host unit tests (ASan + UBSan) of the AHCI driver's HBA and port layer
 * (user/drivers/ahci.c) against the fake HBA of blk_ahci_fake.c: start-up
 * and IDENTIFY, NCQ with several tags in flight, a flush held behind
 * queued commands, non-queued commands one at a time, an NCQ error (port
 * reset, each command again on its own, only the bad one failing), an
 * error report without ERR, a bit in PxCI for a slot not in flight, a
 * fatal error, a silent device, an HBA that never finishes its reset,
 * IDENTIFY nonsense.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blk_ahci_fake.h"
#include "ktharness.h"

static struct ahci_hba hba;
static uint8_t buf[8][4 * 4096] __attribute__((aligned(4096)));
static uint64_t bpages[8][4];
static struct blkdev_req req[8];
static int ndone;

static void on_done(struct blkdev_req *r)
{
	(void)r;
	ndone++;
}

static struct blkdev *start(bool ncq, enum blkdev_mode mode)
{
	af_reset(ncq);
	CHECK_MSG(ahci_start(&hba, af.abar, sizeof(af.abar), &af_env, mode) == 0);
	CHECK_MSG(hba.nports == 1);
	fflush(stdout);
	if (hba.nports != 1)
		abort(); /* nothing after this could run */
	return &hba.port[0].dev;
}

/* Request i: op on n blocks at lba, its buffer in buf[i] from offset. */
static struct blkdev_req *rq(unsigned i, uint8_t op, uint64_t lba, uint32_t n, uint32_t offset)
{
	for (unsigned p = 0; p < 4; p++)
		bpages[i][p] = (uintptr_t)buf[i] + 4096 * p;
	req[i] = (struct blkdev_req){.op = op,
	                             .lba = lba,
	                             .nblocks = n,
	                             .pages = bpages[i],
	                             .offset = offset,
	                             .done = on_done};
	return &req[i];
}

static int drain(struct blkdev *d)
{
	int n, total = 0;

	while ((n = blkdev_wait(d, 0, 1000000)) > 0)
		total += n;
	return n < 0 ? n : total;
}

KT_CASE(ahci_start_identifies_the_disk)
{
	struct blkdev *d = start(true, BLKDEV_POLLED);

	CHECK_MSG(d->nblocks == AF_SECTORS && d->block_size == 512 && d->nqueues == 1);
	CHECK_MSG(d->queue_depth == 32 && hba.port[0].ncq && !strcmp(d->name, "sda"));
	CHECK_MSG(d->max_blocks == (AHCI_PRDT_MAX - 1) * 8 &&
	          (d->flags & BLKDEV_HAS_VOLATILE_CACHE));
	CHECK_MSG(!strcmp(hba.port[0].id.model, "FAKE SATA DISK"));
	CHECK_MSG(af.identifies == 1 && af.comresets == 1, "port 1 has no link and is skipped");
	CHECK_MSG(ahci_stop(&hba) == 0);
	af_free_pages();
}

KT_CASE(ahci_ncq_several_tags_in_flight)
{
	struct blkdev *d = start(true, BLKDEV_POLLED);

	for (unsigned i = 0; i < 8; i++)
		for (unsigned k = 0; k < sizeof(buf[i]); k++)
			buf[i][k] = (uint8_t)(i * 31 + k);
	af.hold = true;
	ndone = 0;
	for (unsigned i = 0; i < 8; i++)
		CHECK_MSG(blkdev_submit(d, 0, rq(i, BLKDEV_WRITE, 100 + 16 * i, 9, 512)) == 0);
	uint32_t sact = *(uint32_t *)(af.abar + AHCI_PORT(0) + AHCI_PX_SACT);
	CHECK_MSG(__builtin_popcount(sact) == 8, "8 tags in PxSACT: %08x", sact);
	CHECK_MSG(d->ops->inflight(d, 0) == 8);
	af.hold = false;
	CHECK_MSG(drain(d) == 8 && ndone == 8 && af.ncq_cmds == 8 && af.nonq_cmds == 0);
	for (unsigned i = 0; i < 8; i++) {
		CHECK_MSG(req[i].status == 0);
		CHECK_MSG(!memcmp(af.disk + (100 + 16 * i) * 512, buf[i] + 512, 9 * 512),
		          "write %u", i);
	}
	memset(buf, 0, sizeof(buf));
	for (unsigned i = 0; i < 8; i++)
		CHECK_MSG(blkdev_submit(d, 0, rq(i, BLKDEV_READ, 100 + 16 * i, 9, 1024)) == 0);
	CHECK_MSG(drain(d) == 8);
	for (unsigned i = 0; i < 8; i++)
		CHECK_MSG(!memcmp(af.disk + (100 + 16 * i) * 512, buf[i] + 1024, 9 * 512),
		          "read %u", i);
	CHECK_MSG(hba.port[0].resets == 0 && hba.port[0].errors == 0);
	af_free_pages();
}

KT_CASE(ahci_flush_waits_behind_queued_commands)
{
	struct blkdev *d = start(true, BLKDEV_POLLED);

	af.hold = true;
	ndone = 0;
	CHECK_MSG(blkdev_submit(d, 0, rq(0, BLKDEV_WRITE, 0, 8, 0)) == 0);
	CHECK_MSG(blkdev_submit(d, 0, rq(1, BLKDEV_FLUSH, 0, 0, 0)) == 0);
	CHECK_MSG(blkdev_submit(d, 0, rq(2, BLKDEV_READ, 8, 8, 0)) == 0);
	uint32_t ci = *(uint32_t *)(af.abar + AHCI_PORT(0) + AHCI_PX_CI);
	CHECK_MSG(__builtin_popcount(ci) == 1, "only the queued write is issued: %08x", ci);
	af.hold = false;
	CHECK_MSG(drain(d) == 3 && ndone == 3 && af.flushes == 1 && af.ncq_cmds == 2);
	CHECK_MSG(req[0].status == 0 && req[1].status == 0 && req[2].status == 0);
	af_free_pages();
}

KT_CASE(ahci_without_ncq_one_command_at_a_time)
{
	struct blkdev *d = start(false, BLKDEV_POLLED);

	CHECK_MSG(!hba.port[0].ncq);
	memset(af.disk, 0x5c, 64 * 512);
	ndone = 0;
	for (unsigned i = 0; i < 6; i++)
		CHECK_MSG(blkdev_submit(d, 0, rq(i, BLKDEV_READ, 8 * i, 8, 0)) == 0);
	CHECK_MSG(drain(d) == 6 && af.nonq_cmds == 6 && af.ncq_cmds == 0);
	CHECK_MSG(af.max_ci_bits == 1, "%u non-queued commands issued at once", af.max_ci_bits);
	CHECK_MSG(buf[5][0] == 0x5c && buf[5][4095] == 0x5c);
	af_free_pages();
}

/* Reads past the real end pass blkdev_check when the disk is made to look longer. */
KT_CASE(ahci_ncq_error_fails_only_the_bad_command)
{
	struct blkdev *d = start(true, BLKDEV_INTERRUPT);
	unsigned comresets = af.comresets;

	for (unsigned k = 0; k < AF_SECTORS * 512; k++)
		af.disk[k] = (uint8_t)(k / 512);
	d->nblocks += 64;
	af.hold = true;
	ndone = 0;
	for (unsigned i = 0; i < 6; i++)
		CHECK_MSG(
		    blkdev_submit(d, 0,
		                  rq(i, BLKDEV_READ, i % 2 ? AF_SECTORS + i : 10 * i, 1, 0)) == 0);
	af.hold = false;
	CHECK_MSG(drain(d) == 6 && ndone == 6);
	d->nblocks -= 64;
	for (unsigned i = 0; i < 6; i++)
		CHECK_MSG(req[i].status == (i % 2 ? BLKDEV_E_IO : 0) &&
		              (i % 2 || buf[i][0] == (uint8_t)(10 * i)),
		          "request %u: %d", i, req[i].status);
	CHECK_MSG(af.comresets == comresets + 1, "one port reset after the NCQ error");
	CHECK_MSG(hba.port[0].resets == 0 && hba.port[0].errors >= 1);
	CHECK_MSG(blkdev_submit(d, 0, rq(0, BLKDEV_READ, 5, 1, 0)) == 0 && drain(d) == 1 &&
	          req[0].status == 0);
	af_free_pages();
}

KT_CASE(ahci_error_report_without_err_is_retried)
{
	struct blkdev *d = start(false, BLKDEV_POLLED);

	af.tfes_no_err = 2;
	CHECK_MSG(blkdev_submit(d, 0, rq(0, BLKDEV_READ, 0, 1, 0)) == 0);
	CHECK_MSG(drain(d) == 1 && req[0].status == 0 && af.nonq_cmds == 3);
	af.tfes_no_err = 100;
	CHECK_MSG(blkdev_submit(d, 0, rq(0, BLKDEV_READ, 0, 1, 0)) == 0);
	CHECK_MSG(drain(d) == 1 && req[0].status == BLKDEV_E_IO, "given up after %u tries",
	          AHCI_MAX_RETRIES + 1);
	af.tfes_no_err = 0;
	af_free_pages();
}

KT_CASE(ahci_bit_for_a_slot_not_in_flight_resets_the_port)
{
	struct blkdev *d = start(true, BLKDEV_POLLED);

	af.hold = true;
	CHECK_MSG(blkdev_submit(d, 0, rq(0, BLKDEV_READ, 0, 1, 0)) == 0);
	af.stray_ci = 1u << 20;
	CHECK_MSG(blkdev_poll(d, 0, 8) == BLKDEV_E_DEVICE);
	CHECK_MSG(req[0].status == BLKDEV_E_ABORTED && hba.port[0].resets == 1 &&
	          d->ops->inflight(d, 0) == 0);
	af.hold = false;
	CHECK_MSG(blkdev_submit(d, 0, rq(0, BLKDEV_READ, 0, 1, 0)) == 0 && drain(d) == 1 &&
	          req[0].status == 0);
	af.fatal = AHCI_PX_IS_HBFS;
	CHECK_MSG(blkdev_poll(d, 0, 8) == BLKDEV_E_DEVICE && hba.port[0].resets == 2,
	          "host bus fatal error");
	CHECK_MSG(blkdev_submit(d, 0, rq(0, BLKDEV_WRITE, 7, 1, 0)) == 0 && drain(d) == 1 &&
	          req[0].status == 0);
	af_free_pages();
}

KT_CASE(ahci_silent_device_times_out)
{
	struct blkdev *d = start(true, BLKDEV_POLLED);

	af.hold = true;
	CHECK_MSG(blkdev_submit(d, 0, rq(0, BLKDEV_READ, 0, 1, 0)) == 0);
	CHECK_MSG(blkdev_wait(d, 0, 5000) == BLKDEV_E_TIMEOUT);
	CHECK_MSG(req[0].status == BLKDEV_E_ABORTED && hba.port[0].resets == 1);
	af.hold = false;
	CHECK_MSG(blkdev_submit(d, 0, rq(0, BLKDEV_READ, 0, 1, 0)) == 0 && drain(d) == 1 &&
	          req[0].status == 0);
	af.never_ready = true;
	af.hold = true;
	CHECK_MSG(blkdev_submit(d, 0, rq(0, BLKDEV_READ, 0, 1, 0)) == 0);
	CHECK_MSG(blkdev_wait(d, 0, 5000) == BLKDEV_E_TIMEOUT && req[0].status == BLKDEV_E_ABORTED,
	          "a device that stays busy after the reset");
	af_free_pages();
}

/*
 * Surprise removal with requests in flight (bug: every later poll found
 * PxIS all-ones, took it for a fatal error and ran a whole port reset
 * again, each one waiting out its timeouts). Now the first all-ones PxIS
 * marks the HBA gone: what is in flight fails with BLKDEV_E_DEVICE, and
 * every later call fails the same way at once, without a register read.
 */
KT_CASE(ahci_gone_device_recovers_on_every_poll)
{
	struct blkdev *d = start(true, BLKDEV_POLLED);

	ndone = 0;
	af.hold = true;
	CHECK_MSG(blkdev_submit(d, 0, rq(0, BLKDEV_WRITE, 0, 8, 0)) == 0);
	CHECK_MSG(blkdev_submit(d, 0, rq(1, BLKDEV_READ, 8, 8, 0)) == 0);
	af.gone = true;
	uint64_t t0 = af.now;
	af.reads = 0;
	CHECK_MSG(blkdev_poll(d, 0, 8) == BLKDEV_E_DEVICE);
	CHECK_MSG(ndone == 2 && req[0].status == BLKDEV_E_DEVICE &&
	              req[1].status == BLKDEV_E_DEVICE,
	          "%d completions, status %d %d", ndone, req[0].status, req[1].status);
	CHECK_MSG(hba.gone && af.reads <= 4, "%lu register reads", af.reads);
	af.reads = 0;
	CHECK_MSG(blkdev_poll(d, 0, 8) == BLKDEV_E_DEVICE);
	CHECK_MSG(blkdev_wait(d, 0, 1000000) == BLKDEV_E_DEVICE);
	CHECK_MSG(blkdev_submit(d, 0, rq(2, BLKDEV_READ, 0, 8, 0)) == BLKDEV_E_DEVICE);
	CHECK_MSG(d->ops->inflight(d, 0) == 0);
	CHECK_MSG(ahci_stop(&hba) == BLKDEV_E_DEVICE);
	CHECK_MSG(af.reads == 0 && af.now - t0 < 100, "%lu reads, %lu us", af.reads,
	          (unsigned long)(af.now - t0));
	af_free_pages();
}

/* Gone while a caller waits: the wait ends at its first look with BLKDEV_E_DEVICE, and no port
 * reset is tried on a function that cannot answer. */
KT_CASE(ahci_gone_while_waiting_ends_the_wait)
{
	struct blkdev *d = start(false, BLKDEV_POLLED);

	ndone = 0;
	af.hold = true;
	CHECK_MSG(blkdev_submit(d, 0, rq(0, BLKDEV_READ, 0, 8, 0)) == 0);
	af.gone = true;
	CHECK_MSG(blkdev_wait(d, 0, 1000000) == BLKDEV_E_DEVICE && hba.gone);
	CHECK_MSG(ndone == 1 && req[0].status == BLKDEV_E_DEVICE, "status %d", req[0].status);
	CHECK_MSG(hba.port[0].resets == 0, "%u port resets", hba.port[0].resets);
	af_free_pages();
}

KT_CASE(ahci_start_refuses_broken_hbas_and_disks)
{
	af_reset(true);
	af.hr_stuck = true;
	CHECK_MSG(ahci_start(&hba, af.abar, sizeof(af.abar), &af_env, BLKDEV_POLLED) ==
	          BLKDEV_E_TIMEOUT);
	af_reset(true);
	memset(af.abar, 0xff, sizeof(af.abar));
	*(uint32_t *)(af.abar + AHCI_GHC) = 0;
	CHECK_MSG(ahci_start(&hba, af.abar, sizeof(af.abar), &af_env, BLKDEV_POLLED) ==
	              BLKDEV_E_DEVICE,
	          "all ones");
	af_reset(true);
	af.identify[ATA_ID_LBA48] = 0, af.identify[ATA_ID_LBA28] = 0;
	CHECK_MSG(ahci_start(&hba, af.abar, sizeof(af.abar), &af_env, BLKDEV_POLLED) == 0 &&
	              hba.nports == 0,
	          "a disk of 0 sectors is left alone");
	af_reset(true);
	af.never_ready = true;
	CHECK_MSG(ahci_start(&hba, af.abar, sizeof(af.abar), &af_env, BLKDEV_POLLED) == 0 &&
	              hba.nports == 0,
	          "a disk that never becomes ready");
	af_reset(true);
	CHECK_MSG(ahci_start(&hba, af.abar, 0x100, &af_env, BLKDEV_POLLED) == 0 && hba.nports == 0,
	          "ports beyond the mapped registers are not touched");
	af_free_pages();
}
