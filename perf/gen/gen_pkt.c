/*
 * gen_pkt: build and parse sluice-gen's Ethernet/IPv4/UDP test frames.
 * Building patches only the fields a flow changes (source address and its
 * header checksum, source port) into a memcpy'd template, so the per-packet
 * cost stays a copy plus a few stores. UDP checksums are zero, which
 * RFC 768 allows over IPv4 and which spares a pass over the payload.
 */
#include "gen_pkt.h"

#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#define GEN_PKT_IP_OFF   14u
#define GEN_PKT_UDP_OFF  34u
#define GEN_PKT_STAMP_OFF 42u

int
gen_pkt_template(const struct gen_pkt_params *p, uint8_t *buf)
{
	struct rte_ether_hdr eth;
	struct rte_ipv4_hdr ip;
	struct rte_udp_hdr udp;

	if (p->len < GEN_PKT_MIN_LEN || p->len > GEN_PKT_MAX_LEN ||
	    p->flows == 0 || p->flows > GEN_PKT_MAX_FLOWS)
		return -EINVAL;

	memset(buf, 0, p->len);
	memcpy(eth.dst_addr.addr_bytes, p->dst_mac, 6);
	memcpy(eth.src_addr.addr_bytes, p->src_mac, 6);
	eth.ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	memcpy(buf, &eth, sizeof(eth));

	memset(&ip, 0, sizeof(ip));
	ip.version_ihl = RTE_IPV4_VHL_DEF;
	ip.total_length = rte_cpu_to_be_16((uint16_t)(p->len - GEN_PKT_IP_OFF));
	ip.time_to_live = 64;
	ip.next_proto_id = IPPROTO_UDP;
	ip.src_addr = rte_cpu_to_be_32(p->src_ip);
	ip.dst_addr = rte_cpu_to_be_32(p->dst_ip);
	ip.hdr_checksum = rte_ipv4_cksum(&ip);
	memcpy(buf + GEN_PKT_IP_OFF, &ip, sizeof(ip));

	udp.src_port = rte_cpu_to_be_16(p->sport);
	udp.dst_port = rte_cpu_to_be_16(p->dport);
	udp.dgram_len = rte_cpu_to_be_16((uint16_t)(p->len - GEN_PKT_UDP_OFF));
	udp.dgram_cksum = 0;
	memcpy(buf + GEN_PKT_UDP_OFF, &udp, sizeof(udp));
	return 0;
}

/*
 * RFC 1624 incremental update: HC' = ~(~HC + ~m + m'), applied to the two
 * 16-bit halves of the changed source address, so a flow change does not
 * need a full header checksum.
 */
static uint16_t
gen_pkt_csum_update32(uint16_t hc_be, uint32_t old_be, uint32_t new_be)
{
	uint32_t sum = (uint16_t)~rte_be_to_cpu_16(hc_be);

	sum += (uint16_t)~rte_be_to_cpu_16((uint16_t)(old_be & 0xffff));
	sum += (uint16_t)~rte_be_to_cpu_16((uint16_t)(old_be >> 16));
	sum += rte_be_to_cpu_16((uint16_t)(new_be & 0xffff));
	sum += rte_be_to_cpu_16((uint16_t)(new_be >> 16));
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return rte_cpu_to_be_16((uint16_t)~sum);
}

void
gen_pkt_stamp_frame(const struct gen_pkt_params *p, uint8_t *buf,
		    const struct gen_pkt_stamp *stamp)
{
	uint32_t ip_add = 0, port_add = 0;
	uint8_t *s = buf + GEN_PKT_STAMP_OFF;

	switch (p->vary) {
	case GEN_PKT_VARY_PORT:
		port_add = stamp->flow;
		break;
	case GEN_PKT_VARY_IP:
		ip_add = stamp->flow;
		break;
	case GEN_PKT_VARY_BOTH:
		ip_add = stamp->flow & 0xffu;
		port_add = (uint32_t)stamp->flow >> 8;
		break;
	case GEN_PKT_VARY_SPREAD:
		ip_add = stamp->flow & 0xffu;
		/* Knuth's multiplicative hash; never 0, so the port is written */
		port_add = 1u + (uint32_t)(((uint64_t)stamp->flow * 2654435761u) >> 8) %
				      (65535u - p->sport);
		break;
	}
	if (ip_add != 0) {
		uint32_t old_be, new_be;
		uint16_t hc;

		memcpy(&old_be, buf + GEN_PKT_IP_OFF + 12, 4);
		new_be = rte_cpu_to_be_32(p->src_ip + ip_add);
		memcpy(&hc, buf + GEN_PKT_IP_OFF + 10, 2);
		hc = gen_pkt_csum_update32(hc, old_be, new_be);
		memcpy(buf + GEN_PKT_IP_OFF + 12, &new_be, 4);
		memcpy(buf + GEN_PKT_IP_OFF + 10, &hc, 2);
	}
	if (port_add != 0) {
		uint16_t sp = rte_cpu_to_be_16((uint16_t)(p->sport + port_add));

		memcpy(buf + GEN_PKT_UDP_OFF, &sp, 2);
	}

	memcpy(s, &p->magic, 4);
	memcpy(s + 4, &stamp->seq, 4);
	memcpy(s + 8, &stamp->tsc, 8);
	memcpy(s + 16, &stamp->flow, 2);
}

int
gen_pkt_read_stamp(const uint8_t *buf, uint32_t len, uint32_t magic,
		   struct gen_pkt_stamp *out)
{
	uint16_t etype;
	uint32_t ihl, off, m;

	if (len < GEN_PKT_MIN_LEN)
		return -EINVAL; /* too short to hold headers and a stamp */
	memcpy(&etype, buf + 12, 2);
	if (etype != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
		return -EINVAL; /* not IPv4 (a VLAN tag or ARP, for instance) */
	if ((buf[GEN_PKT_IP_OFF] >> 4) != 4 || buf[GEN_PKT_IP_OFF + 9] != IPPROTO_UDP)
		return -EINVAL;
	ihl = (uint32_t)(buf[GEN_PKT_IP_OFF] & 0xf) * 4u;
	if (ihl < 20)
		return -EINVAL; /* IHL below the minimum header */
	off = GEN_PKT_IP_OFF + ihl + 8u;
	if (off + GEN_PKT_STAMP_LEN > len)
		return -EINVAL; /* options push the stamp past the frame end */
	memcpy(&m, buf + off, 4);
	if (m != magic)
		return -EINVAL;
	memcpy(&out->seq, buf + off + 4, 4);
	memcpy(&out->tsc, buf + off + 8, 8);
	memcpy(&out->flow, buf + off + 16, 2);
	return 0;
}
