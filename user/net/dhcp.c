/*
 * DHCP client (RFC 2131): DISCOVER -> OFFER -> REQUEST -> ACK, renewal at
 * T1 (unicast), rebinding at T2 (broadcast), restart on NAK or expiry.
 * Retransmission doubles from 2 s to 32 s.
 */
#include "floo_internal.h"

#define DHCP_FIXED 236
#define DHCP_MAX   576
#define SEC        1000000000ull

enum { D_OFF, D_SELECTING, D_REQUESTING, D_BOUND, D_RENEWING, D_REBINDING };

struct dhcp_state {
	uint8_t state;
	uint8_t tries;
	uint32_t xid, offered, server;
	uint32_t lease_s, t1_s, t2_s;
	uint64_t retry_ns, t1_ns, t2_ns, expire_ns;
};

/* What an incoming message carried. */
struct dhcp_msg {
	uint8_t type;
	uint32_t yiaddr, server, mask, router, lease, t1, t2;
};

size_t dhcp_mem_size(void)
{
	return sizeof(struct dhcp_state);
}

void dhcp_init(struct floo_stack *st, void *mem)
{
	st->dhcp = mem;
	memset(st->dhcp, 0, sizeof(struct dhcp_state));
}

bool floo_dhcp_bound(const struct floo_stack *st)
{
	return st->dhcp->state >= D_BOUND;
}

/* Build and send a DISCOVER or REQUEST for the current state. */
static void dhcp_send(struct floo_stack *st, uint8_t type)
{
	struct dhcp_state *d = st->dhcp;
	uint8_t m[DHCP_MAX], *o = m + DHCP_FIXED + 4;
	bool unicast = d->state == D_RENEWING;
	bool ciaddr = d->state == D_RENEWING || d->state == D_REBINDING;

	memset(m, 0, sizeof(m));
	m[0] = 1;
	m[1] = 1;
	m[2] = 6;
	put_be32(m + 4, d->xid);
	if (!ciaddr)
		put_be16(m + 10, 0x8000); /* broadcast replies please */
	else
		put_be32(m + 12, st->ip);
	memcpy(m + 28, st->mac, 6);
	put_be32(m + DHCP_FIXED, 0x63825363);
	*o++ = 53, *o++ = 1, *o++ = type;
	if (type == 3 && d->state == D_REQUESTING) {
		*o++ = 50, *o++ = 4, put_be32(o, d->offered), o += 4;
		*o++ = 54, *o++ = 4, put_be32(o, d->server), o += 4;
	}
	*o++ = 55, *o++ = 3, *o++ = 1, *o++ = 3, *o++ = 51;
	*o++ = 255;
	(void)udp_send_from(st, ciaddr ? st->ip : 0, 68, unicast ? d->server : 0xffffffffu, 67, m,
	                    (uint32_t)(o - m) < 300 ? 300 : (uint32_t)(o - m));
	d->tries++;
	d->retry_ns = st->now_ns + (SEC << (d->tries < 5 ? d->tries : 5));
}

void floo_dhcp_start(struct floo_stack *st)
{
	struct dhcp_state *d = st->dhcp;

	d->state = D_SELECTING;
	d->tries = 0;
	d->xid = st->plat.random32(st->plat.ctx);
	dhcp_send(st, 1);
}

/* Parse the options of a reply; false if malformed. */
static bool dhcp_parse(const uint8_t *p, uint32_t n, struct dhcp_msg *m)
{
	for (uint32_t i = 0; i < n;) {
		uint8_t code = p[i], len;

		if (code == 255)
			return true;
		if (code == 0) {
			i++;
			continue;
		}
		if (i + 1 >= n || i + 2 + (len = p[i + 1]) > n)
			return false;
		if (code == 53 && len >= 1)
			m->type = p[i + 2];
		else if (len >= 4 && code == 54)
			m->server = get_be32(p + i + 2);
		else if (len >= 4 && code == 1)
			m->mask = get_be32(p + i + 2);
		else if (len >= 4 && code == 3)
			m->router = get_be32(p + i + 2);
		else if (len >= 4 && code == 51)
			m->lease = get_be32(p + i + 2);
		else if (len >= 4 && code == 58)
			m->t1 = get_be32(p + i + 2);
		else if (len >= 4 && code == 59)
			m->t2 = get_be32(p + i + 2);
		i += 2u + len;
	}
	return true;
}

/* Apply an ACK: configure the address and schedule renewal. */
static void dhcp_bind(struct floo_stack *st, const struct dhcp_msg *m)
{
	struct dhcp_state *d = st->dhcp;
	uint32_t lease = m->lease ? m->lease : 3600;

	if (lease < 10)
		lease = 10;
	d->state = D_BOUND;
	d->lease_s = lease;
	d->t1_s = m->t1 && m->t1 < lease ? m->t1 : lease / 2;
	d->t2_s = m->t2 && m->t2 < lease ? m->t2 : lease / 8 * 7;
	d->t1_ns = st->now_ns + d->t1_s * SEC;
	d->t2_ns = st->now_ns + d->t2_s * SEC;
	d->expire_ns = st->now_ns + lease * SEC;
	d->retry_ns = 0;
	if (m->server)
		d->server = m->server;
	floo_set_ipv4(st, m->yiaddr, m->mask ? m->mask : 0xffffff00u, m->router);
	floo_log(st, FLOO_LOG_INFO, "dhcp_bound", m->yiaddr);
}

/* A BOOTREPLY to port 68. */
void dhcp_input(struct floo_stack *st, const uint8_t *p, uint32_t len)
{
	struct dhcp_state *d = st->dhcp;
	struct dhcp_msg m = {0};

	if (d->state == D_OFF || len < DHCP_FIXED + 4 || p[0] != 2 || get_be32(p + 4) != d->xid ||
	    memcmp(p + 28, st->mac, 6) || get_be32(p + DHCP_FIXED) != 0x63825363 ||
	    !dhcp_parse(p + DHCP_FIXED + 4, len - DHCP_FIXED - 4, &m)) {
		floo_drop(st, &st->stats.drop_udp, "dhcp_ignored", NULL);
		return;
	}
	m.yiaddr = get_be32(p + 16);
	if (m.type == 2 && d->state == D_SELECTING && m.yiaddr && m.server) {
		d->offered = m.yiaddr;
		d->server = m.server;
		d->state = D_REQUESTING;
		d->tries = 0;
		dhcp_send(st, 3);
	} else if (m.type == 5 && d->state >= D_REQUESTING && m.yiaddr) {
		dhcp_bind(st, &m);
	} else if (m.type == 6 && d->state >= D_REQUESTING) {
		floo_set_ipv4(st, 0, 0, 0);
		floo_dhcp_start(st);
	}
}

/* The earliest time dhcp_timer() has something to do, 0 when never. */
uint64_t dhcp_next_ns(const struct floo_stack *st)
{
	const struct dhcp_state *d = st->dhcp;
	uint64_t m = 0;

	if (d->state == D_OFF)
		return 0;
	if (d->state >= D_BOUND)
		m = d->expire_ns;
	if (d->state == D_BOUND && (!m || d->t1_ns < m))
		m = d->t1_ns;
	if (d->state == D_RENEWING && (!m || d->t2_ns < m))
		m = d->t2_ns;
	if (d->state != D_BOUND && d->retry_ns && (!m || d->retry_ns < m))
		m = d->retry_ns;
	return m;
}

/* Retransmissions and lease times. */
void dhcp_timer(struct floo_stack *st)
{
	struct dhcp_state *d = st->dhcp;
	uint64_t now = st->now_ns;

	if (d->state == D_OFF)
		return;
	if (d->state >= D_BOUND && now >= d->expire_ns) {
		floo_set_ipv4(st, 0, 0, 0);
		floo_dhcp_start(st);
		return;
	}
	if (d->state == D_BOUND && now >= d->t1_ns) {
		d->state = D_RENEWING;
		d->tries = 0;
		dhcp_send(st, 3);
	} else if (d->state == D_RENEWING && now >= d->t2_ns) {
		d->state = D_REBINDING;
		d->tries = 0;
		dhcp_send(st, 3);
	} else if (d->state != D_BOUND && d->retry_ns && now >= d->retry_ns) {
		if (d->state == D_REQUESTING && d->tries >= 4)
			floo_dhcp_start(st);
		else
			dhcp_send(st, d->state == D_SELECTING ? 1 : 3);
	}
}
