/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the LB stage of sluice-dp: any bytes after a fixed Ethernet header
 * go through pkt_parse() and, if the LB takes them, lb_fwd_burst() with
 * three services (10.96.0.10:80/tcp, :53/udp, and :443/tcp in DSR mode, so
 * IPIP tunnels are parsed and decapsulated) of four backends each, on one
 * conntrack that persists across inputs (so a reply or a later fragment can
 * meet the flow an earlier input made). Besides memory errors (ASan in the
 * test build), it checks that every packet handed back for routing has a
 * valid IPv4 header checksum and stays within the frame. Corpus:
 * tests/fuzz/corpus/lb_fwd (SYN to the VIP, reply to the SNAT address,
 * ICMP error, fragments, a DSR tunnel).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include <sluice/ring_proto.h>

#include "dp_stats.h"
#include "lb_fwd.h"
#include "lb_svc.h"
#include "pkt.h"

#define IP4(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

static struct lb *fuzz_lb;

static struct lb *fuzz_setup(void)
{
	size_t sz = rte_rcu_qsbr_get_memsize(1);
	struct rte_rcu_qsbr *q = aligned_alloc(64, (sz + 63) & ~(size_t)63);
	if (q == NULL || rte_rcu_qsbr_init(q, 1) != 0)
		abort();
	struct lb_params p = { .qsbr = q, .n_workers = 1, .ct_capacity = 1024,
			       .snat_ip = IP4(10, 77, 1, 1), .tsc_hz = 2000000000ull };
	struct lb *lb = lb_create(&p);
	if (lb == NULL || lb_svc_add(lb, 1, IP4(10, 96, 0, 10), 80, 6, 0, 1) != 0 ||
	    lb_svc_add(lb, 2, IP4(10, 96, 0, 10), 53, 17, 0, 1) != 0 ||
	    lb_svc_add(lb, 3, IP4(10, 96, 0, 10), 443, 6, RING_SVC_F_DSR, 1) != 0)
		abort();
	for (uint32_t i = 1; i <= 4; i++)
		if (lb_backend_add(lb, 1, i, IP4(10, 77, 1, 10 + i), 8080, 1, 1) != 0 ||
		    lb_backend_add(lb, 2, 10 + i, IP4(10, 77, 1, 10 + i), 5353, 1, 1) != 0 ||
		    lb_backend_add(lb, 3, 20 + i, IP4(10, 77, 1, 10 + i), 8443, 1, 1) != 0)
			abort();
	return lb;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[2048];
	static uint64_t drop[DP_DROP_MAX];
	struct rte_mbuf m, *pkts[1] = { &m };
	struct pkt_info pi[1];
	uint8_t idx[1] = { 0 }, kidx[1];
	uint32_t keys[1];

	if (fuzz_lb == NULL)
		fuzz_lb = fuzz_setup();
	if (size > sizeof(frame) - 14)
		return 0;
	static const uint8_t eth[14] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 1, 2, 0x08, 0x00 };
	memcpy(frame, eth, 14);
	memcpy(frame + 14, data, size);
	size_t len = 14 + size;
	memset(&m, 0, sizeof(m));
	m.buf_addr = frame;
	m.data_len = (uint16_t)len;
	m.pkt_len = (uint32_t)len;
	m.buf_len = sizeof(frame);
	m.nb_segs = 1;
	if (pkt_parse(frame, len, &pi[0]) != 0 || pi[0].kind != PKT_KIND_IPV4 ||
	    !lb_fwd_wants(fuzz_lb, frame, &pi[0]))
		return 0;
	if (lb_fwd_burst(fuzz_lb, 0, pkts, pi, idx, 1, keys, kidx, drop) == 1) {
		/* what goes on to routing must still be a valid IPv4 header
		 * (a tunnel was decapsulated: the frame starts later), within
		 * the buffer */
		const uint8_t *f = rte_pktmbuf_mtod(&m, const uint8_t *);
		if (pkt_csum(f + 14, pi[0].ihl_len) != 0 || keys[0] != pi[0].dst_ip ||
		    (size_t)m.data_off + m.data_len > sizeof(frame) ||
		    14u + pi[0].ip_len > m.data_len)
			abort();
	}
	return 0;
}
