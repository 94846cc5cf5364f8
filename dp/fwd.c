/*
 * fwd: see fwd.h. Per burst:
 *   1. parse and classify everything that needs no table (ARP, gateway,
 *      host IP, malformed) and gather the IPv4 destinations to look up;
 *   2. one bulk pod lookup for the burst, then LPM for the misses;
 *   3. append each packet to its destination's tx buffer, then one
 *      rte_eth_tx_burst per destination; what tx refuses is freed and
 *      counted (tx_full), dropped packets are freed in one bulk call.
 * ARP replies, echo replies and ICMP errors reuse the received mbuf and
 * leave by the port they came in on, i.e. back to the previous hop.
 *
 * Multi-node (docs/multinode.md): frames from the uplink that are VXLAN
 * to this node are decapsulated in stage 1 and then classified like any
 * packet; routes via another node's underlay IP leave by the uplink,
 * either re-addressed to that node's MAC (direct) or encapsulated in
 * VXLAN towards it. Underlay MACs come from dp/neigh (ARP, control side);
 * an unresolved next hop is a counted drop.
 */
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_pause.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

#include "dp_internal.h"
#include "fwd.h"
#include "lb_fwd.h"
#include "neigh.h"
#include "pkt.h"
#include "vxlan.h"

#define FWD_DROP UINT16_MAX

/* Idle back-off stages, see docs/dp-config.md. */
#define FWD_IDLE_SPIN 64u
#define FWD_IDLE_PAUSE (FWD_IDLE_SPIN + 1024u)

static inline void fwd_drop(struct fwd_lcore *lc, uint16_t *next, enum dp_drop why)
{
	*next = FWD_DROP;
	dp_cnt_add(&lc->drop[why], 1);
}

static inline int fwd_in_pod_cidr(const struct dp *dp, uint32_t ip)
{
	return (ip & dp->pod_mask) == dp->pod_net;
}

/* Does dp answer this ARP request? See docs/dp-config.md. */
static int fwd_arp_ours(struct fwd_lcore *lc, uint16_t rx_port, const struct pkt_info *pi,
			const struct dp_host *host)
{
	const struct dp *dp = lc->dp;

	/* Requests only; sender 0.0.0.0 is a probe (RFC 5227), sender ==
	 * target a gratuitous announcement: answering either would fake a
	 * conflict on the asking host. */
	if (pi->arp_op != 1 || pi->src_ip == 0 || pi->src_ip == pi->dst_ip)
		return 0;
	if (pi->dst_ip == dp->gateway_ip)
		return 1;
	if (dp->port_is_tap[rx_port]) {
		/* The host may reach pods only, never spoof other addresses. */
		const struct tbl_pod *pod;
		tbl_pod_lookup_bulk(dp->tbl, &pi->dst_ip, 1, &pod);
		return pod != NULL;
	}
	if (host->valid && pi->dst_ip == host->ip)
		return 1;
	return fwd_in_pod_cidr(dp, pi->dst_ip);
}

/* Turn @m into an ICMP error back to the sender if RFC 1812 and the
 * rate limit allow it; otherwise it is dropped. The original packet is
 * always counted as dropped for @why. */
static void fwd_icmp_error(struct fwd_lcore *lc, struct rte_mbuf *m, const struct pkt_info *pi,
			   uint16_t rx_port, uint16_t *next, uint8_t type, uint8_t code,
			   enum dp_drop why, uint16_t mtu, int ovl)
{
	struct dp *dp = lc->dp;
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);

	fwd_drop(lc, next, why);
	if (!pkt_icmp_error_allowed(f, m->data_len, pi))
		return;
	/* Back out rx_port would send it unencapsulated to an inner MAC the
	 * underlay does not know: not sent (docs/multinode.md). */
	if (ovl) {
		dp_cnt_add(&lc->ev[DP_EV_ICMP_OVERLAY_SUPPRESSED], 1);
		return;
	}
	if (!tb_take(&lc->icmp_tb, rte_rdtsc())) {
		dp_cnt_add(&lc->ev[DP_EV_ICMP_RATELIMITED], 1);
		return;
	}
	size_t cap = (size_t)m->buf_len - m->data_off;
	int len = pkt_icmp_error(f, cap, pi, type, code, dp->gateway_ip, dp->port_mac[rx_port]);
	if (len < 0)
		return;
	if (mtu != 0)
		pkt_icmp_error_set_mtu(f, mtu);
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	m->ol_flags = 0;
	*next = rx_port;
	dp_cnt_add(&lc->ev[DP_EV_ICMP_ERROR], 1);
}

/* The checks every routed packet passes before it leaves: TTL (RFC 1812
 * 5.3.1) and the egress MTU @mtu (dp does not fragment: RFC 1191
 * fragmentation needed when DF is set, a counted drop otherwise).
 * Returns 0 if the packet may go on, else it was turned into an error or
 * dropped. */
static int fwd_checks(struct fwd_lcore *lc, struct rte_mbuf *m, const struct pkt_info *pi,
		      uint16_t rx_port, uint16_t *next, uint16_t mtu, int ovl)
{
	if (pi->ttl <= 1) {
		fwd_icmp_error(lc, m, pi, rx_port, next, 11, 0, DP_DROP_TTL_EXCEEDED, 0, ovl);
		return -1;
	}
	/* DSR: the IPIP header must fit too; the error goes to the client */
	if (unlikely(pi->lb_dsr == PKT_LB_DSR_ENCAP))
		mtu = (uint16_t)(mtu - LB_IPIP_HDR);
	if (unlikely(pi->ip_len > mtu)) {
		if (pi->frag & 0x4000u)
			fwd_icmp_error(lc, m, pi, rx_port, next, 3, 4, DP_DROP_MTU_EXCEEDED, mtu, ovl);
		else
			fwd_drop(lc, next, DP_DROP_MTU_EXCEEDED);
		return -1;
	}
	return 0;
}

/* DSR (docs/lb.md): put the client's packet, TTL already decremented, in
 * an IPIP tunnel from our gateway IP to the backend pod (pi->dst_ip).
 * 0, or -1 (dropped). */
static int fwd_dsr_encap(struct fwd_lcore *lc, struct rte_mbuf *m, struct pkt_info *pi,
			 uint16_t *next)
{
	if (unlikely(lb_ipip_encap(m, lc->dp->gateway_ip, pi->dst_ip) != 0)) {
		fwd_drop(lc, next, DP_DROP_ENCAP_HEADROOM);
		return -1;
	}
	pi->ip_len = (uint16_t)(pi->ip_len + LB_IPIP_HDR);
	return 0;
}

/* Route @m out @port to @mac: TTL check and decrement, L2 rewrite. */
static void fwd_out(struct fwd_lcore *lc, struct rte_mbuf *m, struct pkt_info *pi,
		    uint16_t rx_port, uint16_t *next, uint16_t port, const uint8_t mac[6], int ovl)
{
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);

	if (fwd_checks(lc, m, pi, rx_port, next, lc->dp->port_mtu[port], ovl) != 0)
		return;
	pkt_ip4_dec_ttl(f + PKT_ETH_LEN);
	if (unlikely(pi->lb_dsr == PKT_LB_DSR_ENCAP)) {
		if (fwd_dsr_encap(lc, m, pi, next) != 0)
			return;
		f = rte_pktmbuf_mtod(m, uint8_t *);
	}
	pkt_eth_set(f, mac, lc->dp->port_mac[port]);
	*next = port;
	dp_cnt_add(&lc->ev[DP_EV_FORWARDED], 1);
}

/* Route @m to another node at @r->nh_ip over VXLAN: checks against the
 * uplink MTU minus the 50 bytes of outer headers, TTL decrement, inner
 * Ethernet from/to our gateway MAC (the receiver routes on the inner IP),
 * outer headers prepended in the mbuf's headroom. */
static void fwd_vxlan(struct fwd_lcore *lc, struct rte_mbuf *m, struct pkt_info *pi,
		      uint16_t rx_port, uint16_t *next, const struct tbl_route *r,
		      const uint8_t nh_mac[6], int ovl)
{
	const struct dp *dp = lc->dp;

	if (fwd_checks(lc, m, pi, rx_port, next, dp->ul.encap_mtu, ovl) != 0)
		return;
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	/* Ethernet padding of short frames must not travel inside the tunnel. */
	uint16_t inner = (uint16_t)(PKT_ETH_LEN + pi->ip_len);
	if (m->data_len > inner)
		rte_pktmbuf_trim(m, (uint16_t)(m->data_len - inner));
	pkt_ip4_dec_ttl(f + PKT_ETH_LEN);
	uint32_t hash = vxlan_flow_hash(f + PKT_ETH_LEN, pi->ip_len, pi);
	uint8_t tos = f[PKT_ETH_LEN + 1];
	if (unlikely(pi->lb_dsr == PKT_LB_DSR_ENCAP)) {
		if (fwd_dsr_encap(lc, m, pi, next) != 0)
			return;
		f = rte_pktmbuf_mtod(m, uint8_t *);
		inner = (uint16_t)(inner + LB_IPIP_HDR);
	}
	pkt_eth_set(f, dp->gw_mac, dp->gw_mac);
	uint8_t *h = (uint8_t *)rte_pktmbuf_prepend(m, VXLAN_OVERHEAD);
	if (unlikely(h == NULL)) {
		fwd_drop(lc, next, DP_DROP_ENCAP_HEADROOM);
		return;
	}
	struct vxlan_tx t = {
		.src_ip = dp->ul.ip, .dst_ip = r->nh_ip, .vni = r->vni,
		.dport = dp->ul.vxlan_port,
	};
	memcpy(t.dst_mac, nh_mac, 6);
	memcpy(t.src_mac, dp->ul.mac, 6);
	/* encap_mtu bounds the size, so this cannot fail */
	(void)vxlan_encap(h, inner, &t, vxlan_src_port(hash), tos);
	*next = dp->ul.port_id;
	dp_cnt_add(&lc->ev[DP_EV_FORWARDED], 1);
	dp_cnt_add(&lc->ev[DP_EV_VXLAN_ENCAP], 1);
	dp_cnt_add(&lc->ev[DP_EV_TO_UPLINK], 1);
}

/* A route via another node's underlay IP: direct or VXLAN. */
static void fwd_remote(struct fwd_lcore *lc, struct rte_mbuf *m, struct pkt_info *pi,
		       uint16_t rx_port, uint16_t *next, const struct tbl_route *r, int ovl)
{
	uint8_t mac[6];

	if (unlikely(!neigh_lookup(lc->dp->neigh, r->neigh, mac))) {
		fwd_drop(lc, next, DP_DROP_NEIGH_UNRESOLVED);
		return;
	}
	if (r->nh_kind == TBL_NH_VXLAN) {
		fwd_vxlan(lc, m, pi, rx_port, next, r, mac, ovl);
		return;
	}
	fwd_out(lc, m, pi, rx_port, next, r->port_id, mac, ovl);
	if (*next == r->port_id)
		dp_cnt_add(&lc->ev[DP_EV_TO_UPLINK], 1);
}

/* No pod and no route, outside the pod CIDR (docs/multinode.md, "Leaving
 * the cluster"): with egress on, a destination outside the cluster CIDR
 * leaves by the uplink. Off the uplink's subnet it goes to the gateway's
 * MAC; on it, to its own, through a /32 route the control side adds when
 * asked (one request per destination per 100 ms from each worker; the
 * packets before the route exists are dropped as unresolved). */
static void fwd_egress(struct fwd_lcore *lc, struct rte_mbuf *m, struct pkt_info *pi,
		       uint16_t rx_port, uint16_t *next, uint32_t dst, int ovl)
{
	const struct dp *dp = lc->dp;
	const struct dp_ul *ul = &dp->ul;
	uint8_t mac[6];

	if (!__atomic_load_n(&ul->valid, __ATOMIC_ACQUIRE) || ul->cluster_mask == 0 ||
	    (dst & ul->cluster_mask) == ul->cluster_net) {
		fwd_drop(lc, next, DP_DROP_NO_ROUTE);
		return;
	}
	if ((dst & ul->mask) == (ul->ip & ul->mask)) {
		if (dst == ul->ip || (dst & ~ul->mask) == 0 || (dst | ul->mask) == UINT32_MAX) {
			fwd_drop(lc, next, DP_DROP_UPLINK_UNROUTABLE);
			return;
		}
		uint64_t now = rte_rdtsc();
		if (dst != lc->want_ip || now - lc->want_tsc > dp->hz / 10) {
			/* a full ring is retried by the next packet after 100 ms */
			(void)rte_ring_mp_enqueue_elem(ul->want, &dst, sizeof(dst));
			lc->want_ip = dst;
			lc->want_tsc = now;
		}
		fwd_drop(lc, next, DP_DROP_NEIGH_UNRESOLVED);
		return;
	}
	if (ul->gw_neigh == UINT32_MAX) {
		fwd_drop(lc, next, DP_DROP_UPLINK_UNROUTABLE);
		return;
	}
	if (unlikely(!neigh_lookup(dp->neigh, ul->gw_neigh, mac))) {
		fwd_drop(lc, next, DP_DROP_NEIGH_UNRESOLVED);
		return;
	}
	fwd_out(lc, m, pi, rx_port, next, ul->port_id, mac, ovl);
	if (*next == ul->port_id)
		dp_cnt_add(&lc->ev[DP_EV_TO_UPLINK], 1);
}

/* A frame from the uplink that is UDP to this node: decapsulate it in
 * place and parse the inner packet into @pi. 0, or -1 (dropped). */
static int fwd_decap(struct fwd_lcore *lc, struct rte_mbuf *m, struct pkt_info *pi,
		     uint16_t *next)
{
	const struct dp *dp = lc->dp;
	size_t off, ilen;
	enum dp_drop why;

	if (vxlan_decap(rte_pktmbuf_mtod(m, uint8_t *), m->data_len, pi, dp->ul.vxlan_port,
			dp->ul.vni, &off, &ilen, &why) != 0) {
		fwd_drop(lc, next, why);
		return -1;
	}
	rte_pktmbuf_adj(m, (uint16_t)off);
	if (m->data_len > ilen)
		rte_pktmbuf_trim(m, (uint16_t)(m->data_len - ilen));
	/* Only routed IPv4 travels in sluice's tunnel. */
	if (pkt_parse(rte_pktmbuf_mtod(m, uint8_t *), m->data_len, pi) != 0 ||
	    pi->kind != PKT_KIND_IPV4 || !pi->l2_unicast) {
		fwd_drop(lc, next, DP_DROP_VXLAN_MALFORMED);
		return -1;
	}
	dp_cnt_add(&lc->ev[DP_EV_VXLAN_DECAP], 1);
	return 0;
}

uint16_t fwd_burst(struct fwd_lcore *lc, uint16_t rx_port, struct rte_mbuf **pkts, uint16_t n)
{
	struct dp *dp = lc->dp;
	const struct dp_host *host = __atomic_load_n(&dp->host, __ATOMIC_ACQUIRE);
	struct pkt_info pi[FWD_BURST];
	uint16_t next[FWD_BURST];
	uint32_t keys[FWD_BURST];
	uint8_t kidx[FWD_BURST];
	const struct tbl_pod *pods[FWD_BURST];
	struct rte_mbuf *dropped[FWD_BURST];
	uint8_t ovl[FWD_BURST];          /* arrived VXLAN-encapsulated */
	/* The uplink is set once; the acquire pairs with dp_uplink_set(). */
	int from_ul = __atomic_load_n(&dp->ul.valid, __ATOMIC_ACQUIRE) && rx_port == dp->ul.port_id;
	unsigned nk = 0, nd = 0;
	/* lb hook (issue #7): packets for the service load balancer */
	struct lb *lb = __atomic_load_n(&dp->lb, __ATOMIC_ACQUIRE);
	uint8_t lbi[FWD_BURST];
	unsigned nl = 0;
	uint16_t touched[FWD_BURST]; /* destinations of this burst */
	unsigned nt;
	uint16_t sent_total = 0;

	if (n > FWD_BURST)
		n = FWD_BURST;
	dp_cnt_add(&lc->ev[DP_EV_RX], n);
	dp_cnt_add(&lc->port_rx[rx_port], n);

	/* Stage 1: parse, answer, gather lookups. */
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);

		/* Work one packet ahead (STYLE 13): its headers load while we
		 * parse this one; the table lookups are batched in stage 2. */
		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		next[i] = FWD_DROP;
		ovl[i] = 0;
		if (unlikely(m->nb_segs != 1)) {
			fwd_drop(lc, &next[i], DP_DROP_MULTISEG);
			continue;
		}
		if (pkt_parse(f, m->data_len, &pi[i]) != 0) {
			fwd_drop(lc, &next[i], (enum dp_drop)pi[i].drop);
			continue;
		}
		/* A router accepts unicast frames for its own MAC only (the
		 * gateway MAC; the node's MAC on the uplink). */
		if (pi[i].l2_unicast && memcmp(f, dp->port_mac[rx_port], 6) != 0) {
			fwd_drop(lc, &next[i], DP_DROP_L2_OTHER_HOST);
			continue;
		}
		if (from_ul) {
			/* The node's kernel owns ARP on the underlay. */
			if (pi[i].kind == PKT_KIND_ARP) {
				fwd_drop(lc, &next[i], DP_DROP_UPLINK_ARP);
				continue;
			}
			if (dp->ul.mode == DP_OVERLAY_VXLAN && vxlan_is_candidate(&pi[i], dp->ul.ip)) {
				if (fwd_decap(lc, m, &pi[i], &next[i]) != 0)
					continue;
				f = rte_pktmbuf_mtod(m, uint8_t *);
				ovl[i] = 1;
			}
		}
		switch (pi[i].kind) {
		case PKT_KIND_ARP:
			if (fwd_arp_ours(lc, rx_port, &pi[i], host) &&
			    pkt_arp_reply(f, m->data_len, &pi[i], dp->gw_mac) == 0) {
				next[i] = rx_port;
				dp_cnt_add(&lc->ev[DP_EV_ARP_REPLY], 1);
			} else {
				fwd_drop(lc, &next[i], DP_DROP_ARP_IGNORED);
			}
			continue;
		case PKT_KIND_IPV6:
			fwd_drop(lc, &next[i], DP_DROP_IPV6);
			continue;
		default:
			break;
		}
		/* IPv4 */
		if (!pi[i].l2_unicast) {
			fwd_drop(lc, &next[i], DP_DROP_L2_MCAST_IP);
			continue;
		}
		/* lb hook: VIPs, and replies to the LB's SNAT address (the
		 * gateway IP), are rewritten by lb_fwd_burst() before stage 2. */
		if (lb != NULL && lb_fwd_wants(lb, f, &pi[i])) {
			lbi[nl++] = (uint8_t)i;
			continue;
		}
		if (pi[i].dst_ip == dp->gateway_ip) {
			if (!ovl[i] &&
			    pkt_icmp_echo_reply(f, m->data_len, &pi[i], dp->port_mac[rx_port]) == 0) {
				next[i] = rx_port;
				dp_cnt_add(&lc->ev[DP_EV_ICMP_ECHO_REPLY], 1);
			} else {
				fwd_drop(lc, &next[i], DP_DROP_LOCAL);
			}
			continue;
		}
		if (host->valid && pi[i].dst_ip == host->ip) {
			fwd_out(lc, m, &pi[i], rx_port, &next[i], host->port_id, host->mac, ovl[i]);
			if (next[i] == host->port_id)
				dp_cnt_add(&lc->ev[DP_EV_TO_HOST], 1);
			continue;
		}
		keys[nk] = pi[i].dst_ip;
		kidx[nk++] = (uint8_t)i;
	}

	/* lb hook: conntrack, Maglev and NAT for the burst's LB packets; the
	 * rewritten ones join the lookups (drops are counted already). */
	if (nl != 0)
		nk += lb_fwd_burst(lb, lc->idx, pkts, pi, lbi, nl, keys + nk, kidx + nk, lc->drop);

	/* Stage 2: pods in one bulk lookup, then routes. */
	tbl_pod_lookup_bulk(dp->tbl, keys, nk, pods);
	for (unsigned k = 0; k < nk; k++) {
		unsigned i = kidx[k];
		if (unlikely(pi[i].lb_dsr != 0)) {
			/* DSR (dp/lb_fwd.h): a backend on this node takes the
			 * tunnel's path through the hand-off ring; a packet
			 * decapsulated for a pod that is not here is dropped */
			if (pods[k] != NULL && pi[i].lb_dsr == PKT_LB_DSR_ENCAP) {
				int rc = lb_fwd_dsr_local(lb, lc->idx, pkts[i], &pi[i]);
				if (rc != 0)
					fwd_drop(lc, &next[i], (enum dp_drop)rc);
				continue;
			}
			if (pods[k] == NULL && pi[i].lb_dsr == PKT_LB_DSR_LOCAL) {
				fwd_drop(lc, &next[i], DP_DROP_LB_DSR_IPIP);
				continue;
			}
		}
		if (pods[k] != NULL) {
			fwd_out(lc, pkts[i], &pi[i], rx_port, &next[i], pods[k]->port_id, pods[k]->mac,
				ovl[i]);
			continue;
		}
		const struct tbl_route *r = tbl_route_lookup(dp->tbl, keys[k]);
		if (r != NULL && r->nh_kind != TBL_NH_MAC)
			fwd_remote(lc, pkts[i], &pi[i], rx_port, &next[i], r, ovl[i]);
		else if (r != NULL)
			fwd_out(lc, pkts[i], &pi[i], rx_port, &next[i], r->port_id, r->mac, ovl[i]);
		else if (fwd_in_pod_cidr(dp, keys[k]))
			/* RFC 1812 5.2.7.1: host unreachable for our own subnet */
			fwd_icmp_error(lc, pkts[i], &pi[i], rx_port, &next[i], 3, 1, DP_DROP_NO_POD,
				       0, ovl[i]);
		else
			fwd_egress(lc, pkts[i], &pi[i], rx_port, &next[i], keys[k], ovl[i]);
	}

	/* Stage 3: one tx per destination, in order of first use. */
	nt = fwd_tx_gather(lc->tx, next, pkts, n, touched, dropped, &nd);
	for (unsigned t = 0; t < nt; t++) {
		uint16_t port = touched[t];
		struct fwd_txbuf *tb = &lc->tx[port];
		uint16_t sent = rte_eth_tx_burst(port, (uint16_t)lc->idx, tb->pkts, tb->n);
		dp_cnt_add(&lc->port_tx[port], sent);
		if (unlikely(sent < tb->n)) {
			uint16_t lost = (uint16_t)(tb->n - sent);
			rte_pktmbuf_free_bulk(&tb->pkts[sent], lost);
			dp_cnt_add(&lc->drop[DP_DROP_TX_FULL], lost);
			dp_cnt_add(&lc->port_txdrop[port], lost);
		}
		sent_total = (uint16_t)(sent_total + sent);
		tb->n = 0;
	}
	dp_cnt_add(&lc->ev[DP_EV_TX], sent_total);
	if (nd != 0)
		rte_pktmbuf_free_bulk(dropped, nd);
	return sent_total;
}

int fwd_worker_main(void *arg)
{
	struct fwd_lcore *lc = arg;
	struct dp *dp = lc->dp;
	struct rte_mbuf *pkts[FWD_BURST];
	unsigned idle = 0;
	uint32_t sleep_us = 1;

	rte_rcu_qsbr_thread_register(dp->qsbr, lc->idx);
	rte_rcu_qsbr_thread_online(dp->qsbr, lc->idx);
	while (!__atomic_load_n(&dp->stop, __ATOMIC_ACQUIRE)) {
		const struct fwd_rxlist *rx = __atomic_load_n(&lc->rx, __ATOMIC_ACQUIRE);
		unsigned got = 0;
		/* One TSC read per poll loop: busy_cycles over forwarded is the
		 * measured cycles/packet that perf/fwd-bench.sh reports. */
		uint64_t t0 = rte_rdtsc();

		for (uint16_t p = 0; p < rx->n; p++) {
			uint16_t port = rx->q[p].port;
			uint16_t n = rte_eth_rx_burst(port, rx->q[p].queue, pkts, FWD_BURST);
			if (n != 0) {
				got += n;
				fwd_burst(lc, port, pkts, n);
			}
		}
		/* lb hook: replies other workers received for flows this one
		 * tracks (dp/lb_fwd.h), routed as if received here. */
		struct lb *lb = __atomic_load_n(&dp->lb, __ATOMIC_ACQUIRE);
		if (lb != NULL) {
			uint16_t n = (uint16_t)lb_fwd_handoff_take(lb, lc->idx, pkts, FWD_BURST);
			got += n;
			for (uint16_t i = 0, j; i < n; i = j) {
				for (j = (uint16_t)(i + 1); j < n && pkts[j]->port == pkts[i]->port; j++)
					;
				fwd_burst(lc, pkts[i]->port, pkts + i, (uint16_t)(j - i));
			}
			if (got == 0)
				lb_fwd_idle(lb, lc->idx, t0); /* expiry while nothing arrives */
		}
		/* Every table pointer and rx list read above is dead now. */
		rte_rcu_qsbr_quiescent(dp->qsbr, lc->idx);
		if (got != 0) {
			dp_cnt_add(&lc->ev[DP_EV_BUSY_CYCLES], rte_rdtsc() - t0);
			idle = 0;
			sleep_us = 1;
			continue;
		}
		if (idle < FWD_IDLE_PAUSE)
			idle++;
		if (idle < FWD_IDLE_SPIN)
			continue;
		/* dp_option_set() may change the bound while we run */
		uint32_t bound = __atomic_load_n(&dp->idle_backoff_us, __ATOMIC_RELAXED);
		if (idle < FWD_IDLE_PAUSE || bound == 0) {
			rte_pause();
			continue;
		}
		/* Idle: sleep offline so grace periods never wait on us. */
		rte_rcu_qsbr_thread_offline(dp->qsbr, lc->idx);
		if (sleep_us > bound)
			sleep_us = bound;
		struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)sleep_us * 1000 };
		nanosleep(&ts, NULL);
		rte_rcu_qsbr_thread_online(dp->qsbr, lc->idx);
		sleep_us = sleep_us * 2 > bound ? bound : sleep_us * 2;
	}
	rte_rcu_qsbr_thread_offline(dp->qsbr, lc->idx);
	rte_rcu_qsbr_thread_unregister(dp->qsbr, lc->idx);
	return 0;
}
