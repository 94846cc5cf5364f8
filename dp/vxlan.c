/*
 * vxlan: see vxlan.h. Byte-wise loads and stores keep the code free of
 * alignment assumptions (the outer headers start 50 bytes before an inner
 * frame whose alignment we do not control).
 */
#include <errno.h>
#include <string.h>

#include "vxlan.h"

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* murmur3's 32-bit finaliser: cheap, and every input bit moves the
 * low bits the port is taken from. */
static inline uint32_t vxlan_mix(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

uint32_t vxlan_flow_hash(const uint8_t *ip, size_t len, const struct pkt_info *pi)
{
	uint32_t h = vxlan_mix(pi->src_ip ^ 0x9e3779b9u);
	h = vxlan_mix(h ^ pi->dst_ip);
	uint32_t l4 = pi->proto;
	/* Ports only where every packet of the flow has them: the first
	 * fragment would otherwise hash apart from the later ones, so any
	 * fragment hashes on addresses and protocol alone. */
	if ((pi->proto == 6 || pi->proto == 17) && (pi->frag & 0x3fffu) == 0 &&
	    (size_t)pi->ihl_len + 4 <= len && (size_t)pi->ihl_len + 4 <= pi->ip_len) {
		const uint8_t *p = ip + pi->ihl_len;
		l4 ^= (uint32_t)rd16(p) << 16 ^ (uint32_t)rd16(p + 2) << 8;
	}
	return vxlan_mix(h ^ l4);
}

int vxlan_encap(uint8_t *hdr, size_t inner_len, const struct vxlan_tx *t, uint16_t sport,
		uint8_t inner_tos)
{
	size_t udp_len = VXLAN_UDP_LEN + VXLAN_HDR_LEN + inner_len;
	size_t ip_len = PKT_IP4_MIN + udp_len;

	if (ip_len > 65535 || t->vni > VXLAN_VNI_MAX)
		return -EINVAL;
	/* Outer Ethernet */
	memcpy(hdr, t->dst_mac, 6);
	memcpy(hdr + 6, t->src_mac, 6);
	wr16(hdr + 12, PKT_ETHERTYPE_IPV4);

	/* Outer IPv4: DF so the underlay never fragments (RFC 7348 section 4.3
	 * forbids VTEPs to fragment); ID 0 is fine with DF (RFC 6864). */
	uint8_t *ip = hdr + PKT_ETH_LEN;
	ip[0] = 0x45;
	ip[1] = (uint8_t)(inner_tos & 0xfcu);
	wr16(ip + 2, (uint16_t)ip_len);
	wr16(ip + 4, 0);
	wr16(ip + 6, 0x4000);
	ip[8] = VXLAN_OUTER_TTL;
	ip[9] = 17;
	wr16(ip + 10, 0);
	memcpy(ip + 12, &t->src_ip, 4);
	memcpy(ip + 16, &t->dst_ip, 4);
	wr16(ip + 10, pkt_csum(ip, PKT_IP4_MIN));

	/* UDP, checksum 0 (RFC 7348 section 5: SHOULD be zero over IPv4) */
	uint8_t *udp = ip + PKT_IP4_MIN;
	wr16(udp, sport);
	wr16(udp + 2, t->dport);
	wr16(udp + 4, (uint16_t)udp_len);
	wr16(udp + 6, 0);

	/* VXLAN: flags with only I set, 24 reserved bits, VNI, 8 reserved. */
	uint8_t *vx = udp + VXLAN_UDP_LEN;
	vx[0] = 0x08;
	vx[1] = vx[2] = vx[3] = 0;
	vx[4] = (uint8_t)(t->vni >> 16);
	vx[5] = (uint8_t)(t->vni >> 8);
	vx[6] = (uint8_t)t->vni;
	vx[7] = 0;
	return 0;
}

int vxlan_decap(const uint8_t *frame, size_t len, const struct pkt_info *pi, uint16_t dport,
		uint32_t vni, size_t *inner_off, size_t *inner_len, enum dp_drop *why)
{
	*why = DP_DROP_VXLAN_MALFORMED;
	if (pi->kind != PKT_KIND_IPV4 || pi->proto != 17)
		return -EINVAL;
	/* MF or a fragment offset: only a whole datagram can be decapsulated. */
	if ((pi->frag & 0x3fffu) != 0)
		return -EINVAL;
	/* pkt_parse guaranteed ip_len <= len - 14 and ihl <= ip_len. */
	if ((size_t)pi->ip_len > len - PKT_ETH_LEN)
		return -EINVAL;
	size_t udp_off = PKT_ETH_LEN + pi->ihl_len;
	size_t ip_payload = (size_t)pi->ip_len - pi->ihl_len;
	if (ip_payload < VXLAN_UDP_LEN + VXLAN_HDR_LEN + PKT_ETH_LEN)
		return -EINVAL;
	const uint8_t *udp = frame + udp_off;
	if (rd16(udp + 2) != dport)
		return -EINVAL;
	/* The UDP length must agree with the IP length exactly: anything
	 * else is a lie about where the inner frame ends. */
	if (rd16(udp + 4) != ip_payload)
		return -EINVAL;
	const uint8_t *vx = udp + VXLAN_UDP_LEN;
	/* RFC 7348 section 5: the I flag must be set; R bits are ignored. */
	if ((vx[0] & 0x08) == 0)
		return -EINVAL;
	uint32_t got = (uint32_t)vx[4] << 16 | (uint32_t)vx[5] << 8 | vx[6];
	if (got != vni) {
		*why = DP_DROP_VXLAN_VNI;
		return -EINVAL;
	}
	*inner_off = udp_off + VXLAN_UDP_LEN + VXLAN_HDR_LEN;
	*inner_len = ip_payload - VXLAN_UDP_LEN - VXLAN_HDR_LEN;
	*why = DP_DROP_NONE;
	return 0;
}
