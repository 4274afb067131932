/* Ethernet II framing. */
#include "floo_internal.h"

static const uint8_t eth_bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* Accept frames for our MAC or broadcast; dispatch by EtherType. */
void eth_input(struct floo_stack *st, struct floo_pbuf *pb)
{
	const uint8_t *h = pb->data;
	uint16_t type;

	if (pb->len < ETH_HLEN || pb->len > FLOO_PBUF_SIZE - FLOO_PBUF_HEADROOM) {
		floo_drop(st, &st->stats.drop_eth, "eth_short", pb);
		return;
	}
	if (floo_memcmp(h, st->mac, 6) != 0 && floo_memcmp(h, eth_bcast, 6) != 0) {
		floo_drop(st, &st->stats.drop_eth, "eth_not_for_us", pb);
		return;
	}
	type = get_be16(h + 12);
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
void eth_header(struct floo_stack *st, uint8_t *frame, const uint8_t *dst,
		uint16_t type)
{
	floo_memcpy(frame, dst, 6);
	floo_memcpy(frame + 6, st->mac, 6);
	put_be16(frame + 12, type);
}

/* Resolve the next hop for dst_ip and write the header. Off-link
 * destinations go to the gateway; limited broadcast to ff:ff:... */
bool eth_header_ip(struct floo_stack *st, uint8_t *frame, uint32_t dst_ip)
{
	uint32_t hop = dst_ip;
	const uint8_t *mac;

	if (ipv4_is_bcast(st, dst_ip)) {
		eth_header(st, frame, eth_bcast, ETH_P_IP);
		return true;
	}
	if (st->mask && (dst_ip & st->mask) != (st->ip & st->mask)) {
		if (!st->gw) {
			st->stats.drop_noroute++;
			return false;
		}
		hop = st->gw;
	}
	mac = arp_lookup(st, hop);
	if (!mac)
		return false;
	eth_header(st, frame, mac, ETH_P_IP);
	return true;
}
