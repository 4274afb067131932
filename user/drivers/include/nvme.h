/*
 * The NVMe driver (user/drivers/nvme.c, nvme_queue.c): a freestanding
 * library a partition links in; it drives one controller through its
 * mapped BAR 0 and exposes each active namespace as a struct blkdev.
 * What it needs from its partition (DMA pages, time, interrupts, the
 * console) comes through struct blkdev_env (blkdev.h), so host tests can fake it.
 */
#ifndef NVME_H
#define NVME_H

#include "blkdev.h"
#include "nvme_regs.h" /* user/drivers/ */

#define NVME_QDEPTH         64 /* entries per queue: one 4 KiB page of submission entries */
#define NVME_MAX_CMDS       (NVME_QDEPTH - 1) /* a full submission queue keeps one entry empty */
#define NVME_MAX_IOQ        8
#define NVME_MAX_NS         8
#define NVME_PRP_LIST_PAGES 2 /* per command: 2 * 511 + 1 entries, ~4 MiB */
#define NVME_MAX_XFER_PAGES (NVME_PRP_LIST_PAGES * (NVME_PRPS_PER_PAGE - 1) + 1)

/* One command identifier's state; cid = index | gen << 8, so a stale or replayed id never matches.
 */
struct nvme_cmd {
	struct blkdev_req *req; /* NULL for the driver's own (admin) commands */
	uint8_t busy, done;
	uint8_t gen;
	uint16_t status; /* 4.6.1 status field (without the phase bit), set at completion */
	uint32_t dw0;
	uint64_t *prp_list[NVME_PRP_LIST_PAGES]; /* list pages (I/O queues only) */
	uint64_t prp_list_pa[NVME_PRP_LIST_PAGES];
};

/*
 * A submission/completion queue pair. Single-threaded: one caller at a
 * time per pair. Indices the device reports (SQ head, command id, queue
 * id, phase) are checked against what the driver knows before use.
 */
/*
 * Lock legend: [I] set when the pair is made, then only read; [q] the
 * pair's one user thread (submit and reap); [R] also rewritten by a
 * controller reset, which must not run beside the user (docs/drivers.md).
 */
struct nvme_qpair {
	uint16_t qid, depth;              /* [I] */
	volatile struct nvme_sqe *sq;     /* [I] */
	volatile struct nvme_cqe *cq;     /* [I] */
	uint64_t sq_pa, cq_pa;            /* [I] */
	volatile uint32_t *sq_db, *cq_db; /* [I] */
	uint16_t sq_tail;                 /* [q][R] next entry the driver fills */
	uint16_t sq_head;  /* [q][R] last head the device reported: entries before it are free */
	uint16_t cq_head;  /* [q][R] next completion entry to look at */
	uint8_t phase;     /* [q][R] phase tag of new entries: 1 on the first pass */
	uint16_t inflight; /* [q][R] */
	uint16_t nfree;    /* [q][R] */
	uint8_t free[NVME_MAX_CMDS];        /* [q][R] free command-id indices */
	struct nvme_cmd cmd[NVME_MAX_CMDS]; /* [q][R] */
	unsigned vector;                    /* [I] MSI-X entry (interrupt mode) */
	const char *fault;                  /* [q][R] what the device did wrong, once broken */
};

/* nvme_queue.c: the rings, command ids and PRPs (host-tested against a fake controller). */
void nvme_qp_init(struct nvme_qpair *qp, uint16_t qid, uint16_t depth, void *sq, uint64_t sq_pa,
                  void *cq, uint64_t cq_pa, volatile uint32_t *sq_db, volatile uint32_t *cq_db);
void nvme_qp_clear(struct nvme_qpair *qp);
int nvme_qp_get_cmd(struct nvme_qpair *qp, struct blkdev_req *req, uint16_t *cid)
    __attribute__((warn_unused_result));
void nvme_qp_put_cmd(struct nvme_qpair *qp, uint16_t cid);
int nvme_qp_submit(struct nvme_qpair *qp, const struct nvme_sqe *e)
    __attribute__((warn_unused_result));
int nvme_qp_reap(struct nvme_qpair *qp, unsigned max);
void nvme_qp_fail_all(struct nvme_qpair *qp, int status);
int nvme_status_to_err(uint16_t status);
int nvme_prp_build(const uint64_t *pages, uint32_t offset, uint32_t len, uint64_t *const *list,
                   const uint64_t *list_pa, unsigned list_pages, uint64_t *prp1, uint64_t *prp2)
    __attribute__((warn_unused_result));

struct nvme_ctrl;

struct nvme_ns {
	struct blkdev dev;
	uint32_t nsid;
	struct nvme_ctrl *ctrl;
};

/* [I] set by nvme_start, then only read; [R] changed by a reset (nvme_recover, nvme_stop). */
struct nvme_ctrl {
	const struct blkdev_env *env; /* [I] */
	volatile uint8_t *regs;       /* [I] BAR 0 */
	size_t regs_len;              /* [I] bytes mapped */
	uint64_t cap;                 /* [I] */
	uint32_t db_stride;           /* [I] bytes */
	uint32_t ready_timeout_ms;    /* [I] CAP.TO */
	uint8_t mode;                 /* [I] enum blkdev_mode */
	unsigned want_queues;         /* [I] */
	struct nvme_qpair admin;      /* [R] used only by start and reset */
	struct nvme_qpair io[NVME_MAX_IOQ];
	unsigned nio;      /* [R] I/O pairs in use (0: the controller is dead) */
	uint32_t max_xfer; /* [I] bytes per command */
	uint16_t oncs;     /* [I] */
	uint8_t vwc;       /* [I] */
	uint32_t nn;       /* [I] */
	char model[41], serial[21], firmware[9]; /* [I] */
	struct nvme_ns ns[NVME_MAX_NS];          /* [I] but nqueues [R] */
	unsigned nns;                            /* [I] */
	void *scratch;                           /* [R] one page for identify data */
	uint64_t scratch_pa;                     /* [I] */
	unsigned resets;                         /* [R] */
};

/*
 * Reset and enable the controller at regs (BAR 0, regs_len bytes mapped),
 * identify it and every active namespace, create up to want_queues I/O
 * queue pairs (as many as the controller grants) in the given mode, and
 * print the device. 0 or a negative enum blkdev_err.
 */
int nvme_start(struct nvme_ctrl *c, volatile void *regs, size_t regs_len,
               const struct blkdev_env *env, unsigned want_queues, enum blkdev_mode mode)
    __attribute__((warn_unused_result));
/* Normal shutdown (CC.SHN), then disable; in-flight requests fail with BLKDEV_E_ABORTED. */
int nvme_stop(struct nvme_ctrl *c);
/* Reset after a fault: fail what is in flight, bring the controller and its queues back. */
int nvme_recover(struct nvme_ctrl *c, const char *why);

extern const struct blkdev_ops nvme_blkdev_ops;

#endif
