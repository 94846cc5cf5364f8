/*
 * pkt: see pkt.h. Reads go through rd16/rd32 on byte pointers so the
 * parser never depends on alignment, and every offset is compared with
 * the length actually present before it is dereferenced.
 */
#include <errno.h>
#include <string.h>

#include "pkt.h"

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Network-order u32 load/store: memcpy keeps the wire byte order. */
static inline uint32_t rd32n(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline void wr32n(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static int pkt_fail(struct pkt_info *pi, enum dp_drop why)
{
	pi->drop = (uint8_t)why;
	return -EINVAL;
}

static int pkt_parse_arp(const uint8_t *a, size_t avail, struct pkt_info *pi)
{
	/* The fixed Ethernet/IPv4 ARP body is 28 bytes (RFC 826). */
	if (avail < PKT_ARP_LEN)
		return pkt_fail(pi, DP_DROP_ARP_MALFORMED);
	/* Only htype Ethernet, ptype IPv4 with 6/4-byte addresses exist here. */
	if (rd16(a) != 1 || rd16(a + 2) != PKT_ETHERTYPE_IPV4 || a[4] != 6 || a[5] != 4)
		return pkt_fail(pi, DP_DROP_ARP_MALFORMED);
	pi->arp_op = rd16(a + 6);
	pi->src_ip = rd32n(a + 14);
	pi->dst_ip = rd32n(a + 24);
	pi->kind = PKT_KIND_ARP;
	return 0;
}

static int pkt_parse_ip4(const uint8_t *ip, size_t avail, struct pkt_info *pi)
{
	if (avail < PKT_IP4_MIN)
		return pkt_fail(pi, DP_DROP_IP_MALFORMED);
	if ((ip[0] >> 4) != 4)
		return pkt_fail(pi, DP_DROP_IP_MALFORMED);
	unsigned ihl = (unsigned)(ip[0] & 0x0f) * 4u;
	/* IHL below 5 words, or options running past the bytes present. */
	if (ihl < PKT_IP4_MIN || ihl > avail)
		return pkt_fail(pi, DP_DROP_IP_MALFORMED);
	unsigned tot = rd16(ip + 2);
	/* Total length shorter than the header, or longer than the frame;
	 * a shorter one is Ethernet padding and is allowed. */
	if (tot < ihl || tot > avail)
		return pkt_fail(pi, DP_DROP_IP_MALFORMED);
	/* RFC 1812 5.2.2: a router verifies the header checksum. */
	if (pkt_csum(ip, ihl) != 0)
		return pkt_fail(pi, DP_DROP_IP_CSUM);
	pi->ihl_len = (uint8_t)ihl;
	pi->ip_len = (uint16_t)tot;
	pi->frag = rd16(ip + 6);
	pi->ttl = ip[8];
	pi->proto = ip[9];
	pi->src_ip = rd32n(ip + 12);
	pi->dst_ip = rd32n(ip + 16);
	pi->kind = PKT_KIND_IPV4;
	return 0;
}

int pkt_parse(const uint8_t *frame, size_t len, struct pkt_info *pi)
{
	memset(pi, 0, sizeof(*pi));
	if (len < PKT_ETH_LEN)
		return pkt_fail(pi, DP_DROP_ETH_SHORT);
	/* I/G bit clear = individual (unicast) address, IEEE 802 */
	pi->l2_unicast = (frame[0] & 1) == 0;
	pi->ethertype = rd16(frame + 12);
	const uint8_t *l3 = frame + PKT_ETH_LEN;
	size_t avail = len - PKT_ETH_LEN;

	switch (pi->ethertype) {
	case PKT_ETHERTYPE_ARP:
		return pkt_parse_arp(l3, avail, pi);
	case PKT_ETHERTYPE_IPV4:
		return pkt_parse_ip4(l3, avail, pi);
	case PKT_ETHERTYPE_IPV6:
		if (avail < PKT_IP6_LEN || (l3[0] >> 4) != 6)
			return pkt_fail(pi, DP_DROP_IP_MALFORMED);
		/* Payload length must fit in the bytes present. */
		if (PKT_IP6_LEN + (size_t)rd16(l3 + 4) > avail)
			return pkt_fail(pi, DP_DROP_IP_MALFORMED);
		pi->kind = PKT_KIND_IPV6;
		return 0;
	case PKT_ETHERTYPE_VLAN:
	case PKT_ETHERTYPE_QINQ:
		return pkt_fail(pi, DP_DROP_VLAN);
	default:
		return pkt_fail(pi, DP_DROP_ETHERTYPE);
	}
}

uint16_t pkt_csum(const uint8_t *p, size_t len)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += rd16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)~sum;
}

void pkt_ip4_dec_ttl(uint8_t *ip)
{
	/* TTL and protocol share the 16-bit word at offset 8. */
	uint16_t old = rd16(ip + 8);
	ip[8]--;
	wr16(ip + 10, pkt_csum_update16(rd16(ip + 10), old, rd16(ip + 8)));
}

void pkt_eth_set(uint8_t *frame, const uint8_t dst[6], const uint8_t src[6])
{
	memcpy(frame, dst, 6);
	memcpy(frame + 6, src, 6);
}

int pkt_arp_reply(uint8_t *frame, size_t len, const struct pkt_info *pi,
		  const uint8_t mac[6])
{
	if (pi->kind != PKT_KIND_ARP || pi->arp_op != 1 || len < PKT_ETH_LEN + PKT_ARP_LEN)
		return -EINVAL;
	uint8_t *a = frame + PKT_ETH_LEN;
	uint8_t req_mac[6];
	memcpy(req_mac, a + 8, 6);
	pkt_eth_set(frame, req_mac, mac);
	wr16(a + 6, 2);
	/* target := requester; sender := the asked-for IP at our MAC */
	memcpy(a + 18, req_mac, 6);
	wr32n(a + 24, pi->src_ip);
	memcpy(a + 8, mac, 6);
	wr32n(a + 14, pi->dst_ip);
	return 0;
}

int pkt_icmp_echo_reply(uint8_t *frame, size_t len, const struct pkt_info *pi,
			const uint8_t mac[6])
{
	if (pi->kind != PKT_KIND_IPV4 || pi->proto != PKT_IPPROTO_ICMP)
		return -EINVAL;
	/* Fragments (MF set or offset != 0) cannot be answered piecewise. */
	if ((pi->frag & 0x3fffu) != 0)
		return -EINVAL;
	if ((size_t)pi->ip_len < (size_t)pi->ihl_len + PKT_ICMP_HDR ||
	    len < PKT_ETH_LEN + (size_t)pi->ip_len)
		return -EINVAL;
	uint8_t *ip = frame + PKT_ETH_LEN;
	uint8_t *icmp = ip + pi->ihl_len;
	if (icmp[0] != 8 || icmp[1] != 0)
		return -EINVAL;
	uint8_t src_mac[6];
	memcpy(src_mac, frame + 6, 6);
	pkt_eth_set(frame, src_mac, mac);

	/* Swapping addresses leaves the IP sum unchanged; only TTL moves. */
	wr32n(ip + 12, pi->dst_ip);
	wr32n(ip + 16, pi->src_ip);
	uint16_t old = rd16(ip + 8);
	ip[8] = 64;
	wr16(ip + 10, pkt_csum_update16(rd16(ip + 10), old, rd16(ip + 8)));

	old = rd16(icmp);
	icmp[0] = 0;
	wr16(icmp + 2, pkt_csum_update16(rd16(icmp + 2), old, rd16(icmp)));
	return 0;
}

static int pkt_ip4_is_mcast_or_bcast(uint32_t a_n)
{
	const uint8_t *b = (const uint8_t *)&a_n;
	return (b[0] & 0xf0) == 0xe0 || a_n == 0xffffffffu;
}

int pkt_icmp_error_allowed(const uint8_t *frame, size_t len, const struct pkt_info *pi)
{
	if (pi->kind != PKT_KIND_IPV4 || len < PKT_ETH_LEN + (size_t)pi->ip_len)
		return 0;
	const uint8_t *sb = (const uint8_t *)&pi->src_ip;
	if (pi->src_ip == 0 || sb[0] == 127 || pkt_ip4_is_mcast_or_bcast(pi->src_ip))
		return 0;
	if (pkt_ip4_is_mcast_or_bcast(pi->dst_ip))
		return 0;
	/* Only the first fragment may trigger an error. */
	if ((pi->frag & 0x1fffu) != 0)
		return 0;
	if (pi->proto == PKT_IPPROTO_ICMP) {
		const uint8_t *icmp = frame + PKT_ETH_LEN + pi->ihl_len;
		/* Without the type byte we cannot rule out an error message. */
		if (pi->ip_len <= pi->ihl_len)
			return 0;
		/* Errors (3, 4, 5, 11, 12) never cause errors; echo etc. may. */
		switch (icmp[0]) {
		case 0: case 8: case 13: case 14: case 15: case 16: case 17: case 18:
			break;
		default:
			return 0;
		}
	}
	return 1;
}

int pkt_icmp_error(uint8_t *frame, size_t cap, const struct pkt_info *pi,
		   uint8_t type, uint8_t code, uint32_t src_ip, const uint8_t mac[6])
{
	uint8_t quote[60 + PKT_ICMP_QUOTE];
	size_t data = (size_t)pi->ip_len - pi->ihl_len;
	size_t qlen = (size_t)pi->ihl_len + (data < PKT_ICMP_QUOTE ? data : PKT_ICMP_QUOTE);
	size_t out = PKT_ETH_LEN + PKT_IP4_MIN + PKT_ICMP_HDR + qlen;

	if (pi->kind != PKT_KIND_IPV4 || out > cap)
		return -ENOSPC;
	/* The quote overlaps the bytes we are about to write: copy it out. */
	memcpy(quote, frame + PKT_ETH_LEN, qlen);
	uint8_t src_mac[6];
	memcpy(src_mac, frame + 6, 6);
	pkt_eth_set(frame, src_mac, mac);
	wr16(frame + 12, PKT_ETHERTYPE_IPV4);

	uint8_t *ip = frame + PKT_ETH_LEN;
	size_t ip_len = PKT_IP4_MIN + PKT_ICMP_HDR + qlen;
	ip[0] = 0x45;
	ip[1] = 0xc0; /* DSCP CS6: network control, RFC 4594 */
	wr16(ip + 2, (uint16_t)ip_len);
	wr16(ip + 4, 0);
	wr16(ip + 6, 0);
	ip[8] = 64;
	ip[9] = PKT_IPPROTO_ICMP;
	wr16(ip + 10, 0);
	wr32n(ip + 12, src_ip);
	wr32n(ip + 16, pi->src_ip);
	wr16(ip + 10, pkt_csum(ip, PKT_IP4_MIN));

	uint8_t *icmp = ip + PKT_IP4_MIN;
	icmp[0] = type;
	icmp[1] = code;
	wr16(icmp + 2, 0);
	wr32n(icmp + 4, 0);
	memcpy(icmp + PKT_ICMP_HDR, quote, qlen);
	wr16(icmp + 2, pkt_csum(icmp, PKT_ICMP_HDR + qlen));
	return (int)out;
}

void pkt_icmp_error_set_mtu(uint8_t *frame, uint16_t mtu)
{
	/* our errors have a 20-byte IP header; the field was zero */
	uint8_t *icmp = frame + PKT_ETH_LEN + PKT_IP4_MIN;
	uint16_t old = rd16(icmp + 6);
	wr16(icmp + 6, mtu);
	wr16(icmp + 2, pkt_csum_update16(rd16(icmp + 2), old, mtu));
}
