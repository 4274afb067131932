/*
 * Selective acknowledgments. Receiver: the SACK option of RFC 2018 built
 * from the out-of-order queue (section 4's rules: the block holding the
 * segment that triggered the ACK first, then the most recently reported
 * ones, only data actually queued). Sender: the RFC 6675 scoreboard of
 * SACKed ranges above SND.UNA and IsLost(); SetPipe() and NextSeg(),
 * which RACK's losses join, are in tcp_rack.c, the recovery that uses
 * them in tcp_cc.c and tcp_out.c.
 */
#include "tcp_seg.h"

static bool in_range(uint32_t seq, const struct tcp_range *r)
{
	return seq_geq(seq, r->start) && seq_lt(seq, r->end);
}

void tcp_sack_parse(struct tcp_seg *s, const uint8_t *o, uint32_t len)
{
	/* RFC 2018 3: 8 bytes per block, at most 4 fit in 40 bytes. A
	 * malformed option is ignored, the segment kept (as Linux does). */
	if (!len || len % 8 || len / 8 > TCP_SACK_BLOCKS)
		return;
	s->nsack = (uint8_t)(len / 8);
	for (uint32_t i = 0; i < s->nsack; i++) {
		s->sack[i].start = get_be32(o + 8 * i);
		s->sack[i].end = get_be32(o + 8 * i + 4);
	}
}

/* The contiguous run of queued out-of-order data that holds seq. */
static bool ooo_run(const struct floo_tcp *c, uint32_t seq, struct tcp_range *r)
{
	bool have = false;

	for (const struct floo_pbuf *q = c->ooo; q; q = q->next) {
		uint32_t qe = q->seq + q->len;

		if (!q->len)
			continue; /* a bare FIN occupies no data */
		if (have && seq_leq(q->seq, r->end)) {
			if (seq_gt(qe, r->end))
				r->end = qe;
			continue;
		}
		if (have && in_range(seq, r))
			return true;
		r->start = q->seq;
		r->end = qe;
		have = true;
	}
	return have && in_range(seq, r);
}

/* memmove for ranges (the library links only memcpy/memset/memcmp). */
static void range_move(struct tcp_range *dst, const struct tcp_range *src, unsigned n)
{
	if (dst < src)
		for (unsigned i = 0; i < n; i++)
			dst[i] = src[i];
	else
		for (unsigned i = n; i-- > 0;)
			dst[i] = src[i];
}

static bool overlaps(const struct tcp_range *a, const struct tcp_range *b)
{
	return seq_lt(a->start, b->end) && seq_gt(a->end, b->start);
}

/* RFC 2018 4: the first block reports the segment just queued; the
 * others repeat the most recently reported blocks it does not cover. */
void tcp_sack_rcv_note(struct floo_tcp *c, uint32_t seq, uint32_t end)
{
	struct tcp_range list[TCP_SACK_BLOCKS], r;
	uint8_t n = 0;

	if (seq_lt(seq, end) && ooo_run(c, seq, &r))
		list[n++] = r;
	for (uint8_t i = 0; i < c->rsack_n && n < TCP_SACK_BLOCKS; i++)
		if (!n || !overlaps(&c->rsack[i], &list[0]))
			list[n++] = c->rsack[i];
	memcpy(c->rsack, list, n * sizeof(list[0]));
	c->rsack_n = n;
}

/* Bring the reported blocks up to date with the queue: a block whose data
 * became in order, or was never kept, goes; runs that grew are widened. */
static void rsack_refresh(struct floo_tcp *c)
{
	uint8_t n = 0;

	for (uint8_t i = 0; i < c->rsack_n; i++) {
		struct tcp_range r;
		bool dup = false;

		if (!ooo_run(c, c->rsack[i].start, &r))
			continue;
		for (uint8_t j = 0; j < n; j++)
			dup |= c->rsack[j].start == r.start;
		if (!dup)
			c->rsack[n++] = r;
	}
	c->rsack_n = n;
}

void tcp_sack_dup(struct floo_tcp *c, uint32_t seq, uint32_t end)
{
	if (!(c->flags & TF_SACK) || !seq_lt(seq, end))
		return;
	c->dsack.start = seq;
	c->dsack.end = end;
	c->has_dsack = true;
}

/* The option: a D-SACK block first when a duplicate just arrived (RFC
 * 2883 4: the block holding it, if queued above RCV.NXT, comes next, as
 * the first reported block already is), then the reported blocks. */
uint8_t tcp_sack_option(struct floo_tcp *c, uint8_t *o, uint32_t room)
{
	struct tcp_range b[TCP_SACK_BLOCKS + 1];
	uint32_t n = 0, max = room >= 4 ? (room - 4) / 8 : 0;

	if (!(c->flags & TF_SACK) || (!c->rsack_n && !c->has_dsack))
		return 0;
	rsack_refresh(c);
	if (c->has_dsack)
		b[n++] = c->dsack;
	c->has_dsack = false;
	for (uint8_t i = 0; i < c->rsack_n; i++)
		b[n++] = c->rsack[i];
	if (n > max)
		n = max;
	if (!n)
		return 0;
	o[0] = o[1] = 1;
	o[2] = 5;
	o[3] = (uint8_t)(2 + 8 * n);
	for (uint32_t i = 0; i < n; i++) {
		put_be32(o + 4 + 8 * i, b[i].start);
		put_be32(o + 8 + 8 * i, b[i].end);
	}
	return (uint8_t)(4 + 8 * n);
}

/* Merge b into the scoreboard; returns the bytes it newly covers. When
 * the table is full a disjoint block is dropped: forgetting a SACK only
 * costs a needless retransmission. */
static uint32_t sb_insert(struct floo_tcp *c, struct tcp_range b)
{
	uint32_t covered = 0;
	unsigned i = 0, j;

	while (i < c->sb_n && seq_lt(c->sb[i].end, b.start))
		i++;
	for (j = i; j < c->sb_n && seq_leq(c->sb[j].start, b.end); j++) {
		uint32_t s = seq_gt(c->sb[j].start, b.start) ? c->sb[j].start : b.start;
		uint32_t e = seq_lt(c->sb[j].end, b.end) ? c->sb[j].end : b.end;

		if (seq_lt(s, e))
			covered += e - s;
	}
	if (i == j) {
		if (c->sb_n == TCP_SB_MAX)
			return 0;
		range_move(&c->sb[i + 1], &c->sb[i], c->sb_n - i);
		c->sb[i] = b;
		c->sb_n++;
		return b.end - b.start;
	}
	if (seq_gt(c->sb[i].start, b.start))
		c->sb[i].start = b.start;
	c->sb[i].end = seq_gt(c->sb[j - 1].end, b.end) ? c->sb[j - 1].end : b.end;
	range_move(&c->sb[i + 1], &c->sb[j], c->sb_n - j);
	c->sb_n = (uint8_t)(c->sb_n - (j - i - 1));
	return b.end - b.start - covered;
}

/* RFC 2883 4: the first block is a D-SACK when it lies at or below the
 * cumulative ACK, or inside the second block. */
bool tcp_sack_is_dsack(const struct tcp_seg *s)
{
	const struct tcp_range *a = &s->sack[0], *b = &s->sack[1];

	if (!s->nsack || !seq_lt(a->start, a->end))
		return false;
	return seq_leq(a->end, s->ack) ||
	       (s->nsack > 1 && seq_geq(a->start, b->start) && seq_leq(a->end, b->end));
}

/* Blocks are believed only inside (ACK, SND.MAX]: older ones (D-SACKs,
 * RFC 2883) and ones beyond what we sent carry nothing to act on. The
 * ACK is at least SND.UNA: an old ACK overtaken by newer ones (the path
 * reorders) must not bring blocks below SND.UNA back, which nothing
 * would prune until SND.UNA moved again (they took scoreboard slots and
 * counted as SACKed bytes). */
uint32_t tcp_sb_update(struct floo_tcp *c, const struct tcp_seg *s)
{
	uint32_t newly = 0, base = seq_gt(s->ack, c->snd_una) ? s->ack : c->snd_una;

	if (!(c->flags & TF_SACK))
		return 0;
	if (tcp_sack_is_dsack(s))
		tcp_cc_dsack(c, &s->sack[0]);
	for (uint8_t i = 0; i < s->nsack; i++) {
		struct tcp_range b = s->sack[i];

		if (!seq_lt(b.start, b.end) || seq_leq(b.end, base) || seq_gt(b.end, c->snd_max))
			continue;
		if (seq_lt(b.start, base))
			b.start = base;
		newly += sb_insert(c, b);
	}
	return newly;
}

void tcp_sb_prune(struct floo_tcp *c)
{
	unsigned k = 0;

	for (unsigned i = 0; i < c->sb_n; i++) {
		if (seq_leq(c->sb[i].end, c->snd_una))
			continue;
		c->sb[k] = c->sb[i];
		if (seq_lt(c->sb[k].start, c->snd_una))
			c->sb[k].start = c->snd_una;
		k++;
	}
	c->sb_n = (uint8_t)k;
}

/* RFC 6675 IsLost(seq): DupThresh SACKed segments above seq, or more than
 * (DupThresh - 1) * SMSS SACKed bytes above it. */
bool tcp_sb_is_lost(const struct floo_tcp *c, uint32_t seq)
{
	uint32_t bytes = 0, segs = 0;

	for (int i = c->sb_n - 1; i >= 0 && seq_gt(c->sb[i].start, seq); i--) {
		uint32_t len = c->sb[i].end - c->sb[i].start;

		bytes += len;
		segs += (len + c->mss - 1) / c->mss;
	}
	return segs >= TCP_DUPTHRESH || bytes > (TCP_DUPTHRESH - 1) * c->mss;
}

bool tcp_sb_sacked(const struct floo_tcp *c, uint32_t seq, uint32_t *end)
{
	for (unsigned i = 0; i < c->sb_n; i++) {
		if (in_range(seq, &c->sb[i])) {
			*end = c->sb[i].end;
			return true;
		}
	}
	return false;
}
