/* The broker appliance's main loop (broker_appl.h). */
#include "broker_appl.h"

#include <lib/string.h>

#define BUSY_POLL_NS 200000u   /* keep polling this long after the last event */
#define MAX_IDLE_NS  10000000u /* sleep at most this long at a time */

/* The parts the loop owns, in the order they are made. */
struct appl {
	const struct bappl_env *env;
	struct store_blk *sb;
	struct store *st;
	struct broker_platform bpl;
	struct broker *b;
	void *floo_mem;
	struct floo_stack *fs;
	struct bfloo *t;
	char adv[16];
};

static void appl_log(const struct appl *a, const char *what, const char *detail, long long v)
{
	if (a->env->log)
		a->env->log(a->env->ctx, what, detail, v);
}

/* Dotted quad of a host-order address into out (16 bytes). */
static void dotted(uint32_t addr, char *out)
{
	char *p = out;

	for (int shift = 24; shift >= 0; shift -= 8) {
		unsigned v = (addr >> shift) & 0xffu;
		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
		if (shift)
			*p++ = '.';
	}
	*p = 0;
}

/* The appliance's Floo sizing: the caller's non-zero fields win. */
static void floo_sizing(const struct bappl_config *cfg, struct floo_config *fc)
{
	const struct floo_config *u = &cfg->floo;

	floo_config_default(fc);
	fc->n_tcp = cfg->max_conns + 16;
	fc->tcp_rcv_buf = 262144; /* window scaling: bulk produce */
	fc->tcp_rcv_pbufs = 256;
	fc->tcp_sndq = 256; /* a fetch response is one reference per batch */
#define TAKE(f)                                                                                    \
	if (u->f)                                                                                  \
	fc->f = u->f
	TAKE(n_pbufs);
	TAKE(n_tcp);
	TAKE(tcp_rcv_buf);
	TAKE(tcp_rcv_pbufs);
	TAKE(tcp_msl_ms);
	TAKE(tcp_rto_min_ms);
	TAKE(tcp_backlog);
	TAKE(n_frag);
	TAKE(tcp_sndq);
#undef TAKE
}

/* Disk, store and broker. */
static int start_store_broker(struct appl *a, const struct bappl_config *cfg, struct blkdev *disk,
                              unsigned queue, const struct store_blk_env *arena)
{
	const struct bappl_env *env = a->env;
	struct store_platform spl;
	int err;

	if (!(a->sb = env->alloc(env->ctx, sizeof(*a->sb))))
		return STORE_ENOMEM;
	if ((err = store_blk_init(a->sb, disk, queue, arena))) {
		appl_log(a, "bappl: disk unusable", blkdev_strerror(err), err);
		return STORE_EINVAL;
	}
	store_blk_fill_platform(a->sb, &spl);
	if ((err = store_open(&spl, STORE_FORMAT_BLANK, &a->st))) {
		appl_log(a, "bappl: cannot open the store", "", err);
		return err;
	}
	a->bpl = (struct broker_platform){.ctx = env->ctx,
	                                  .alloc = env->alloc,
	                                  .free = env->free,
	                                  .now_ms = env->now_ms,
	                                  .log = env->log,
	                                  .wall_ms = env->wall_ms};
	bfloo_fill_platform(&a->bpl);
	dotted(cfg->addr, a->adv);
	struct broker_config bc = {
	    .adv_host = cfg->adv_host ? cfg->adv_host : a->adv,
	    .adv_port = cfg->adv_port ? cfg->adv_port : cfg->port,
	    .node_id = 1,
	    .default_parts = cfg->partitions ? cfg->partitions : 1,
	    .flush_ms = cfg->flush_ms,
	    .flush_bytes = 16u << 20,
	    .group_initial_ms = cfg->group_initial_ms,
	    .max_request = 64u << 20,
	};
	if (!(a->b = broker_create(&a->bpl, &bc, a->st)))
		return STORE_ENOMEM;
	return 0;
}

/* Floo's stack and the Kafka listener. */
static int start_net(struct appl *a, const struct bappl_config *cfg, const struct floo_platform *fp,
                     const uint8_t mac[6])
{
	struct floo_config fc;
	size_t size;
	uintptr_t al;

	floo_sizing(cfg, &fc);
	size = floo_mem_size(&fc);
	if (!(a->floo_mem = a->env->alloc(a->env->ctx, size + 64)))
		return STORE_ENOMEM;
	al = ((uintptr_t)a->floo_mem + 63) & ~(uintptr_t)63;
	if (!(a->fs = floo_stack_init((void *)al, size, &fc, fp, mac)))
		return STORE_EINVAL;
	if (cfg->addr)
		floo_set_ipv4(a->fs, cfg->addr, cfg->mask, cfg->gw);
	else
		floo_dhcp_start(a->fs);
	struct bfloo_config tc = {.port = cfg->port,
	                          .max_conns = cfg->max_conns,
	                          .max_input = 80u << 20,
	                          .gather_bytes = 192u << 10,
	                          .gather_pbufs = 192};
	if (!(a->t = bfloo_create(a->fs, a->b, &a->bpl, &tc))) {
		appl_log(a, "bappl: cannot listen", "", cfg->port);
		return STORE_EINVAL;
	}
	return 0;
}

/* One run-to-completion loop: receive and transmit (floo_poll), the
 * disk's flush completion, the broker's turn. Sleeps only when nothing
 * happened for BUSY_POLL_NS and no flush is in flight (the disk is
 * polled, so only the loop notices its completion). */
static void loop(struct appl *a, const struct floo_platform *fp)
{
	const struct bappl_env *env = a->env;
	uint64_t last = fp->now_ns(fp->ctx);
	bool ok;

	while (!env->should_stop(env->ctx)) {
		unsigned n = floo_poll(a->fs);
		n += store_blk_poll(a->sb);
		if (store_blk_flush_result(a->sb, &ok))
			broker_flush_done(a->b, ok), n++;
		bfloo_service(a->t);
		uint64_t now = fp->now_ns(fp->ctx);
		if (n || store_io_busy(a->st)) {
			last = now;
			continue;
		}
		if (now - last < BUSY_POLL_NS)
			continue;
		uint64_t bt = (uint64_t)broker_next_timeout_ms(a->b) * 1000000u;
		env->idle(env->ctx, floo_next_timer_ns(a->fs, bt < MAX_IDLE_NS ? bt : MAX_IDLE_NS));
	}
}

/* Tear down in reverse; the resets of open connections go out first. */
static void stop(struct appl *a, struct bappl_stats *out)
{
	const struct bappl_env *env = a->env;

	if (out) {
		memset(out, 0, sizeof(*out));
		if (a->t)
			out->net = *bfloo_stats(a->t);
		if (a->sb && a->st)
			out->disk = a->sb->stats;
	}
	if (a->t) {
		bfloo_destroy(a->t);
		for (int i = 0; i < 10; i++)
			floo_poll(a->fs);
	}
	if (out && a->fs) {
		out->free_pbufs = floo_pbuf_free_count(a->fs);
		out->pbufs = floo_config_pbufs(a->fs);
	}
	if (a->b)
		broker_destroy(a->b);
	if (a->st)
		store_close(a->st);
	if (a->floo_mem)
		env->free(env->ctx, a->floo_mem);
	if (a->sb)
		env->free(env->ctx, a->sb);
}

int bappl_run(const struct bappl_config *cfg, const struct bappl_env *env,
              const struct floo_platform *fp, const uint8_t mac[6], struct blkdev *disk,
              unsigned queue, const struct store_blk_env *arena, struct bappl_stats *out)
{
	struct appl a;
	int err;

	memset(&a, 0, sizeof(a));
	a.env = env;
	if (!cfg->port || !cfg->max_conns || !env->idle || !env->should_stop)
		return STORE_EINVAL;
	err = start_store_broker(&a, cfg, disk, queue, arena);
	if (!err)
		err = start_net(&a, cfg, fp, mac);
	if (!err) {
		appl_log(&a, "bappl: serving Kafka on port", a.adv, cfg->port);
		loop(&a, fp);
	}
	stop(&a, out);
	return err;
}
