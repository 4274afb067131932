/* The broker's metadata log: the internal partition __hallows_offsets
 * holds, besides committed offsets (group_offsets.c), the records that
 * make topic configs, log start offsets and deleted offsets/groups
 * survive a restart. Replay at start is two passes: the first finds,
 * per topic id, the last "topic created" record; the second applies
 * everything, skipping records about a topic id that an later creation
 * reused (they belonged to a deleted topic).
 *
 * The log is pinned (never reclaimed for space) and kept short by
 * meta_compact: a snapshot that restates the whole state, made durable,
 * after which every segment before it is dropped. Replaying any suffix of
 * the log that contains a complete snapshot gives the same state as the
 * whole log, so the recovered log start (the first segment's base) is
 * always a valid replay start. */
#include <lib/string.h>

#include "broker_int.h"

#define META_COMPACT_SEGS 3u

/* Append one record (w is freed); true when it is in the log. */
bool meta_append(struct broker *b, struct kw *w)
{
	bool ok = false;

	if (!w->oom && b->offsets_part)
		ok = store_append(b->st, b->offsets_part, w->buf, w->len, 1,
		                  (int64_t)b->pl.now_ms(b->pl.ctx)) == STORE_OK;
	if (!ok)
		broker_log(b, "broker: could not append to the metadata log", "", w->len);
	kw_free(w);
	return ok;
}

/* Make everything appended so far durable now (synchronously). */
int meta_sync(struct broker *b)
{
	if (store_write_pending(b->st) || store_flush(b->st))
		return -1;
	return 0;
}

/* Answer r once a flush started after now has completed. */
void broker_resp_wait_flush(struct broker *b, struct kresp *r)
{
	r->state = R_WAIT_FLUSH;
	r->flush_gen = store_flush_next(b->st);
	b->wait_flush++;
}

bool meta_stale(const struct broker *b, int32_t topic, uint64_t rec_off)
{
	return b->replay_new && topic >= 0 && topic < (int32_t)STORE_MAX_TOPICS &&
	       rec_off + 1 < b->replay_new[topic];
}

/* Replay one record at log offset off (pass 2). */
static void meta_apply(struct broker *b, const uint8_t *p, uint32_t len, uint64_t off)
{
	struct kr r;
	int32_t magic, t, k;
	struct tconf c;

	kr_init(&r, p, len);
	magic = kr_i32(&r);
	switch (magic) {
	case META_TOPIC_NEW:
	case META_TOPIC_CONF:
		t = kr_i32(&r);
		topic_conf_decode(&r, &c);
		if (!r.bad && t >= 0 && t < (int32_t)STORE_MAX_TOPICS && !meta_stale(b, t, off))
			b->tconf[t] = c;
		break;
	case META_LOG_START: {
		t = kr_i32(&r);
		k = kr_i32(&r);
		int64_t start = kr_i64(&r);
		struct store_part *sp = t >= 0 && !r.bad && !meta_stale(b, t, off)
		                            ? store_part_get(b->st, (uint32_t)t, (uint32_t)k)
		                            : NULL;
		if (sp && start > (int64_t)store_part_hwm(sp))
			start = (int64_t)store_part_hwm(sp);
		if (sp && start > (int64_t)store_part_start(sp) &&
		    store_part_set_start(b->st, sp, (uint64_t)start))
			broker_log(b, "broker: could not re-apply a log start", "", start);
		break;
	}
	case META_PID_BLOCK: {
		int64_t end = kr_i64(&r);
		if (!r.bad)
			prod_apply_block(b, end);
		break;
	}
	case META_TXN:
		txn_meta_apply(b, &r);
		break;
	case META_OFFS_DEL:
	case META_GROUP_DEL:
		group_meta_apply(b, magic, &r, off);
		break;
	default:
		group_offlog_apply(b, p, len, off);
	}
}

/* Read the whole log; pass 1 notes topic creations, pass 2 applies. */
static int meta_pass(struct broker *b, int pass)
{
	struct store_part *lp = b->offsets_part;
	uint64_t off = store_part_start(lp);

	while (off < store_part_hwm(lp)) {
		struct store_read rd;
		if (store_read(b->st, lp, off, 1u << 20, &rd) || !rd.n)
			return -1;
		for (uint32_t i = 0; i < rd.n; i++, off++) {
			const uint8_t *p = rd.ptr[i];
			if (pass == 2)
				meta_apply(b, p, rd.len[i], off);
			else if (rd.len[i] >= 8 && get_be32(p) == META_TOPIC_NEW &&
			         get_be32(p + 4) < STORE_MAX_TOPICS)
				b->replay_new[get_be32(p + 4)] = off + 1;
		}
		off = rd.next_offset;
		store_read_release(b->st, &rd);
	}
	return 0;
}

/* Open (creating if needed) the metadata log and replay it. */
int meta_offsets_load(struct broker *b)
{
	struct kstr name = {OFFSETS_TOPIC, (int32_t)sizeof(OFFSETS_TOPIC) - 1};
	int id = store_topic_find(b->st, name.p, (uint32_t)name.len);
	int err;

	b->tconf = broker_alloc(b, STORE_MAX_TOPICS * sizeof(*b->tconf));
	b->replay_new = broker_alloc(b, STORE_MAX_TOPICS * sizeof(*b->replay_new));
	if (!b->tconf || !b->replay_new)
		return -1;
	for (uint32_t i = 0; i < STORE_MAX_TOPICS; i++)
		topic_conf_default(&b->tconf[i]);
	if (id < 0)
		id = store_topic_create(b->st, name.p, (uint32_t)name.len, 1);
	if (id < 0)
		return -1;
	b->offsets_part = store_part_get(b->st, (uint32_t)id, 0);
	store_part_pin(b->offsets_part); /* trimmed only by meta_compact */
	err = meta_pass(b, 1);
	if (!err)
		err = meta_pass(b, 2);
	broker_free(b, b->replay_new);
	b->replay_new = NULL;
	return err;
}

/* Append the snapshot: the producer id block, every live topic's configs
 * (as config changes: they mark nothing stale), the log start of every
 * partition that recovery would not find by itself, and every committed
 * offset. False when a record could not be appended. */
static bool meta_snapshot(struct broker *b)
{
	struct kw w;
	bool ok = true;

	kw_init(&w, &b->al);
	kw_i32(&w, META_PID_BLOCK);
	kw_i64(&w, b->pid_end);
	ok = meta_append(b, &w);
	for (uint32_t t = 0; ok && t < store_topic_count(b->st); t++) {
		uint32_t len;
		const char *name = store_topic_name(b->st, t, &len);
		if (!store_topic_parts(b->st, t) || topic_is_internal(name, len))
			continue;
		kw_init(&w, &b->al);
		kw_i32(&w, META_TOPIC_CONF);
		kw_i32(&w, (int32_t)t);
		topic_conf_encode(&w, &b->tconf[t]);
		ok = meta_append(b, &w);
		for (uint32_t k = 0; ok && k < store_topic_parts(b->st, t); k++) {
			struct store_part *p = store_part_get(b->st, t, k);
			if (store_part_start(p) == store_part_first_base(b->st, p))
				continue;
			kw_init(&w, &b->al);
			kw_i32(&w, META_LOG_START);
			kw_i32(&w, (int32_t)t);
			kw_i32(&w, (int32_t)k);
			kw_i64(&w, (int64_t)store_part_start(p));
			ok = meta_append(b, &w);
		}
	}
	return ok && group_offlog_snapshot(b) && txn_snapshot(b);
}

/* Once the log spans META_COMPACT_SEGS segments, and two more than the
 * last snapshot left (a snapshot larger than a segment must not start the
 * next one at once): snapshot, flush, then drop every segment before it. */
void meta_compact(struct broker *b)
{
	struct store_part *lp = b->offsets_part;
	uint64_t at = store_part_end(lp);
	uint32_t n = store_part_nsegs(lp);

	if (n < META_COMPACT_SEGS || n < b->meta_segs_left + 2)
		return;
	if (!meta_snapshot(b) || meta_sync(b) || store_part_set_start(b->st, lp, at)) {
		broker_log(b, "broker: metadata log snapshot failed", "", (long long)at);
		return;
	}
	b->meta_segs_left = store_part_nsegs(lp);
	broker_log(b, "broker: metadata log compacted, new start", "", (long long)at);
}
