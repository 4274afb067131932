/* Ethernet II framing. */
#include "floo_internal.h"

static const uint8_t eth_bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* Accept frames for our MAC or broadcast; dispatch by EtherType. */
void eth_input(struct floo_stack *st, struct floo_pbuf *pb)
{
	const uint8_t *h = pb->data;
	uint16_t type;

	if (pb->len < ETH_HLEN || (!pb->frag && pb->len > st->cfg.pbuf_size - FLOO_PBUF_HEADROOM)) {
		floo_drop(st, &st->stats.drop_eth, "eth_short", pb);
		return;
	}
	if (memcmp(h, st->mac, 6) != 0 && memcmp(h, eth_bcast, 6) != 0) {
		floo_drop(st, &st->stats.drop_eth, "eth_not_for_us", pb);
		return;
	}
	type = get_be16(h + 12);
	if (pb->frag && type != ETH_P_IP) { /* only TCP/IPv4 frames are coalesced */
		floo_drop(st, &st->stats.drop_eth, "eth_chain_not_ip", pb);
		return;
	}
	pb->data += ETH_HLEN;
	pb->len -= ETH_HLEN;
	if (type == ETH_P_IP)
		ipv4_input(st, pb);
	else if (type == ETH_P_ARP)
		arp_input(st, pb);
	else
		floo_drop(st, &st->stats.drop_eth, "eth_type", pb);
}

/* Write the 14-byte header for an outbound frame. */
void eth_header(struct floo_stack *st, uint8_t *frame, const uint8_t *dst, uint16_t type)
{
	memcpy(frame, dst, 6);
	memcpy(frame + 6, st->mac, 6);
	put_be16(frame + 12, type);
}

/* MAC of the next hop for dst_ip: off-link destinations go to the
 * gateway, limited broadcast to ff:ff:... NULL if unresolved (an ARP
 * request went out) or unroutable. Call before reserving the frame: ARP
 * may queue its own. */
const uint8_t *eth_next_hop(struct floo_stack *st, uint32_t dst_ip)
{
	uint32_t hop = dst_ip;

	if (ipv4_is_bcast(st, dst_ip))
		return eth_bcast;
	if (st->mask && (dst_ip & st->mask) != (st->ip & st->mask)) {
		if (!st->gw) {
			st->stats.drop_noroute++;
			return NULL;
		}
		hop = st->gw;
	}
	return arp_lookup(st, hop);
}
