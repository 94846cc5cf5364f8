/*
 * gen_pkt: the frames sluice-gen sends and the stamp it reads back.
 *
 * Frames are Ethernet/IPv4/UDP. The UDP payload starts with an 18-byte
 * stamp (magic, sequence, TSC, flow), which fits the smallest frame: a
 * 64-byte frame is 60 bytes without its FCS, and 14 + 20 + 8 + 18 = 60.
 * The magic carries a per-run value so frames left in a ring by an earlier
 * run are not mistaken for ours. Flows vary the UDP source port, the IPv4
 * source address, or both, so that RSS and flow tables see distinct keys.
 */
#ifndef SLUICE_GEN_PKT_H
#define SLUICE_GEN_PKT_H

#include <stdint.h>

#define GEN_PKT_HDR_LEN   42u /* Ethernet + IPv4 (no options) + UDP */
#define GEN_PKT_STAMP_LEN 18u
#define GEN_PKT_MIN_LEN   (GEN_PKT_HDR_LEN + GEN_PKT_STAMP_LEN) /* 60, i.e. 64 with FCS */
#define GEN_PKT_MAX_LEN   1514u
#define GEN_PKT_MAX_FLOWS 65536u

enum gen_pkt_vary {
	GEN_PKT_VARY_PORT, /* flow i: source port sport + i */
	GEN_PKT_VARY_IP,   /* flow i: source address src_ip + i */
	GEN_PKT_VARY_BOTH, /* flow i: src_ip + i % 256, sport + i / 256 */
	/* flow i: src_ip + i % 256, and a source port scattered over
	 * sport..65535 by a multiplicative hash of i, as many clients' ephemeral
	 * ports are (an LB's SNAT port choice depends on it) */
	GEN_PKT_VARY_SPREAD,
};

struct gen_pkt_params {
	uint8_t src_mac[6];
	uint8_t dst_mac[6];
	uint32_t src_ip;   /* host byte order */
	uint32_t dst_ip;   /* host byte order */
	uint16_t sport;
	uint16_t dport;
	uint16_t len;      /* frame length without FCS, GEN_PKT_MIN_LEN..GEN_PKT_MAX_LEN */
	uint32_t flows;    /* 1..GEN_PKT_MAX_FLOWS */
	enum gen_pkt_vary vary;
	uint32_t magic;
};

struct gen_pkt_stamp {
	uint32_t seq;
	uint64_t tsc;
	uint16_t flow;
};

/*
 * Write the frame for flow 0 (headers and zeroed payload) into buf, which
 * must hold p->len bytes. Returns 0, or -EINVAL if the params are out of
 * range. Control thread.
 */
int gen_pkt_template(const struct gen_pkt_params *p, uint8_t *buf);

/*
 * Turn a copy of the template (buf, p->len bytes) into the frame for
 * stamp->flow and write the stamp. Any lcore; no allocation.
 */
void gen_pkt_stamp_frame(const struct gen_pkt_params *p, uint8_t *buf,
			 const struct gen_pkt_stamp *stamp);

/*
 * Find and check the stamp in a received frame of len bytes. Returns 0 and
 * fills out, or -EINVAL when the frame is not one of ours (not IPv4/UDP,
 * truncated, or wrong magic). Any lcore; reads only the bytes present.
 */
int gen_pkt_read_stamp(const uint8_t *buf, uint32_t len, uint32_t magic,
		       struct gen_pkt_stamp *out);

#endif /* SLUICE_GEN_PKT_H */
