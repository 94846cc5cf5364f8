/*
 * Unit test of the dataplane end to end without root: one sluice-dp
 * instance whose two memif ports are connected to each other (a = server,
 * b = client on the same socket). A frame handed to fwd_burst() as if
 * received on a leaves through the port dp chose, so it is read back,
 * parsed, from the *other* end of that memif pair: b's tx arrives on a's
 * rx, a's tx on b's rx. Also drives the control API: ports attached and
 * detached through rte_dev_probe/hotplug_remove, pods added, replaced,
 * deleted and swept by generation.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <sluice/ring_proto.h>

#include "dp.h"
#include "dp_internal.h"
#include "fwd.h"
#include "lb_fwd.h"
#include "lb_svc.h"
#include "pkt.h"

static struct dp *dp;
static uint16_t pa, pb;
static char sock[108];
static const uint8_t GW_MAC[6] = { 2, 0, 0, 0, 0, 1 };
static const uint8_t SRC_MAC[6] = { 2, 0, 0, 0, 1, 2 };
static const uint8_t POD3_MAC[6] = { 2, 0, 0, 0, 1, 3 };

static uint32_t a4(const char *s)
{
	struct in_addr x;
	inet_pton(AF_INET, s, &x);
	return x.s_addr;
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static struct rte_mbuf *mk_udp(const char *src, const char *dst, uint8_t ttl)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp->mp);
	assert_non_null(m);
	assert_non_null(rte_pktmbuf_append(m, 14 + 20 + 8 + 12));
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	memset(f, 0, 54);
	memcpy(f, GW_MAC, 6);
	memcpy(f + 6, SRC_MAC, 6);
	put16(f + 12, 0x0800);
	uint8_t *ip = f + 14;
	ip[0] = 0x45;
	put16(ip + 2, 40);
	ip[8] = ttl;
	ip[9] = 17;
	uint32_t s = a4(src), d = a4(dst);
	memcpy(ip + 12, &s, 4);
	memcpy(ip + 16, &d, 4);
	put16(ip + 10, pkt_csum(ip, 20));
	memcpy(ip + 28, "sluice-test!", 12);
	return m;
}

/* A UDP packet of @ip_len bytes (IP total length), DF as given. */
static struct rte_mbuf *mk_big(uint16_t ip_len, int df)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp->mp);
	assert_non_null(m);
	assert_non_null(rte_pktmbuf_append(m, (uint16_t)(14 + ip_len)));
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	memset(f, 0x5a, 14u + ip_len);
	memcpy(f, GW_MAC, 6);
	memcpy(f + 6, SRC_MAC, 6);
	put16(f + 12, 0x0800);
	uint8_t *ip = f + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, ip_len);
	put16(ip + 6, df ? 0x4000 : 0);
	ip[8] = 64;
	ip[9] = 17;
	uint32_t s = a4("10.77.1.2"), d = a4("10.77.1.3");
	memcpy(ip + 12, &s, 4);
	memcpy(ip + 16, &d, 4);
	put16(ip + 10, pkt_csum(ip, 20));
	return m;
}

static struct rte_mbuf *mk_arp(const char *sip, const char *tip)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp->mp);
	assert_non_null(m);
	assert_non_null(rte_pktmbuf_append(m, 60));
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	memset(f, 0, 60);
	memset(f, 0xff, 6);
	memcpy(f + 6, SRC_MAC, 6);
	put16(f + 12, 0x0806);
	uint8_t *a = f + 14;
	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 1);
	memcpy(a + 8, SRC_MAC, 6);
	uint32_t s = a4(sip), t = a4(tip);
	memcpy(a + 14, &s, 4);
	memcpy(a + 24, &t, 4);
	return m;
}

/* Receive exactly one frame on @port (the far end), copy it out. */
static size_t rx_one(uint16_t port, uint8_t *buf, size_t cap)
{
	struct rte_mbuf *m[4];
	uint16_t n = 0;
	for (int i = 0; i < 500 && n == 0; i++) {
		n = rte_eth_rx_burst(port, 0, m, 4);
		if (n == 0)
			usleep(1000);
	}
	assert_int_equal(n, 1);
	size_t len = rte_pktmbuf_data_len(m[0]);
	assert_true(len <= cap);
	memcpy(buf, rte_pktmbuf_mtod(m[0], uint8_t *), len);
	rte_pktmbuf_free(m[0]);
	return len;
}

static uint64_t ev(enum dp_ev e)
{
	return dp_cnt_get(&dp->lcores[0]->ev[e]);
}

static uint64_t drop(enum dp_drop d)
{
	return dp_cnt_get(&dp->lcores[0]->drop[d]);
}

static void send1(struct rte_mbuf *m)
{
	/* as if worker 0 had received it on port a */
	fwd_burst(dp->lcores[0], pa, &m, 1);
}

static void test_forward_to_pod(void **state)
{
	uint8_t f[256];
	struct pkt_info pi;
	(void)state;
	uint64_t fw = ev(DP_EV_FORWARDED);

	send1(mk_udp("10.77.1.2", "10.77.1.3", 64));
	size_t len = rx_one(pa, f, sizeof(f)); /* b's tx arrives at a */
	assert_int_equal(pkt_parse(f, len, &pi), 0); /* checksum verified */
	assert_memory_equal(f, POD3_MAC, 6);
	assert_memory_equal(f + 6, GW_MAC, 6);
	assert_int_equal(pi.ttl, 63);
	assert_int_equal(pi.dst_ip, a4("10.77.1.3"));
	assert_memory_equal(f + 14 + 28, "sluice-test!", 12);
	assert_int_equal(ev(DP_EV_FORWARDED), fw + 1);
}

static void test_ttl_exceeded(void **state)
{
	uint8_t f[256];
	struct pkt_info pi;
	(void)state;
	uint64_t d = drop(DP_DROP_TTL_EXCEEDED), full = drop(DP_DROP_TX_FULL);

	send1(mk_udp("10.77.1.2", "10.77.1.3", 1));
	size_t len = rx_one(pb, f, sizeof(f)); /* back out a, arrives at b */
	assert_int_equal(pkt_parse(f, len, &pi), 0);
	assert_memory_equal(f, SRC_MAC, 6);
	assert_int_equal(pi.proto, 1);
	assert_int_equal(pi.src_ip, a4("10.77.1.1"));
	assert_int_equal(pi.dst_ip, a4("10.77.1.2"));
	assert_int_equal(f[34], 11);
	assert_int_equal(f[35], 0);
	assert_int_equal(drop(DP_DROP_TTL_EXCEEDED), d + 1);
	assert_int_equal(drop(DP_DROP_TX_FULL), full);
}

static void test_unknown_pod(void **state)
{
	uint8_t f[256];
	struct pkt_info pi;
	(void)state;
	uint64_t d = drop(DP_DROP_NO_POD), r = drop(DP_DROP_NO_ROUTE);

	send1(mk_udp("10.77.1.2", "10.77.1.99", 64));
	size_t len = rx_one(pb, f, sizeof(f));
	assert_int_equal(pkt_parse(f, len, &pi), 0);
	assert_int_equal(f[34], 3);
	assert_int_equal(f[35], 1);
	assert_int_equal(drop(DP_DROP_NO_POD), d + 1);
	/* outside the pod CIDR and every route: silently dropped */
	send1(mk_udp("10.77.1.2", "192.0.2.1", 64));
	assert_int_equal(drop(DP_DROP_NO_ROUTE), r + 1);
}

static void test_mtu(void **state)
{
	uint8_t f[256];
	struct pkt_info pi;
	(void)state;
	uint16_t mtu = dp->port_mtu[pb];
	uint64_t d = drop(DP_DROP_MTU_EXCEEDED);

	assert_true(mtu >= 576 && mtu + 100 <= 2000);
	/* exactly the MTU still goes out */
	send1(mk_big(mtu, 1));
	uint8_t *big = malloc(4096);
	assert_non_null(big);
	assert_int_equal(rx_one(pa, big, 4096), 14u + mtu);
	free(big);
	/* one byte more with DF: fragmentation needed, next-hop MTU set */
	send1(mk_big((uint16_t)(mtu + 1), 1));
	size_t len = rx_one(pb, f, sizeof(f));
	assert_int_equal(pkt_parse(f, len, &pi), 0);
	assert_int_equal(f[34], 3);
	assert_int_equal(f[35], 4);
	assert_int_equal((unsigned)f[40] << 8 | f[41], mtu);
	assert_int_equal(pkt_csum(f + 34, len - 34), 0);
	/* without DF: dropped and counted, nothing sent */
	send1(mk_big((uint16_t)(mtu + 1), 0));
	assert_int_equal(drop(DP_DROP_MTU_EXCEEDED), d + 2);
	struct rte_mbuf *none[4];
	assert_int_equal(rte_eth_rx_burst(pb, 0, none, 4), 0);
}

/* A UDP packet of @ip_len bytes to the VIP 10.96.0.10:@dport, DF as given. */
static struct rte_mbuf *mk_vip(uint16_t ip_len, int df, uint16_t dport)
{
	struct rte_mbuf *m = mk_big(ip_len, df);
	uint8_t *ip = rte_pktmbuf_mtod(m, uint8_t *) + 14;
	uint32_t vip = a4("10.96.0.10");
	memcpy(ip + 16, &vip, 4);
	put16(ip + 10, 0);
	put16(ip + 10, pkt_csum(ip, 20));
	put16(ip + 20, 4000);
	put16(ip + 22, dport);
	put16(ip + 24, (unsigned)(ip_len - 20));
	put16(ip + 26, 0); /* no UDP checksum */
	m->port = pa;      /* as rx_burst sets it */
	return m;
}

/* DSR (docs/lb.md): the client's packet leaves in an IPIP tunnel to the
 * remote backend; the MTU check counts the tunnel header, and
 * fragmentation-needed reaches the client with the reduced MTU; a backend
 * on this node goes through the hand-off ring and arrives rewritten. */
static void test_dsr(void **state)
{
	uint8_t f[256];
	struct pkt_info pi;
	const uint8_t nh[6] = { 2, 0xbb, 0, 0, 0, 1 };
	(void)state;
	struct lb_params lp = { .qsbr = dp->qsbr, .n_workers = 1, .ct_capacity = 1024,
				.snat_ip = a4("10.77.1.1"), .tsc_hz = rte_get_tsc_hz() };
	struct lb *lb = lb_create(&lp);
	assert_non_null(lb);
	assert_int_equal(lb_svc_add(lb, 1, a4("10.96.0.10"), 53, 17, RING_SVC_F_DSR, 1), 0);
	assert_int_equal(lb_backend_add(lb, 1, 1, a4("10.89.0.5"), 5353, 1, 1), 0);
	assert_int_equal(lb_svc_add(lb, 2, a4("10.96.0.10"), 54, 17, RING_SVC_F_DSR, 1), 0);
	assert_int_equal(lb_backend_add(lb, 2, 2, a4("10.77.1.3"), 5354, 1, 1), 0);
	assert_int_equal(dp_route_add(dp, a4("10.89.0.0"), 16, "b", nh, 1), 0);
	__atomic_store_n(&dp->lb, lb, __ATOMIC_RELEASE);
	uint16_t mtu = dp->port_mtu[pb];
	uint64_t d = drop(DP_DROP_MTU_EXCEEDED);

	/* MTU - 20 with DF: fits, tunneled */
	send1(mk_vip((uint16_t)(mtu - 20), 1, 53));
	uint8_t *big = malloc(4096);
	assert_non_null(big);
	assert_int_equal(rx_one(pa, big, 4096), 14u + mtu);
	assert_int_equal(pkt_parse(big, 14u + mtu, &pi), 0);
	assert_memory_equal(big, nh, 6);
	assert_int_equal(pi.proto, 4);
	assert_int_equal(pi.ip_len, mtu);
	assert_int_equal(pi.src_ip, a4("10.77.1.1"));
	assert_int_equal(pi.dst_ip, a4("10.89.0.5"));
	assert_int_equal(big[14 + 6], 0x40); /* DF copied */
	assert_int_equal(big[34 + 8], 63);   /* inner TTL decremented */
	uint32_t v;
	memcpy(&v, big + 34 + 16, 4);
	assert_int_equal(v, a4("10.96.0.10")); /* inner untouched */
	assert_int_equal(pkt_csum(big + 34, 20), 0);
	free(big);
	/* one byte more with DF: fragmentation needed to the client, MTU - 20 */
	send1(mk_vip((uint16_t)(mtu - 19), 1, 53));
	size_t len = rx_one(pb, f, sizeof(f));
	assert_int_equal(pkt_parse(f, len, &pi), 0);
	assert_int_equal(pi.dst_ip, a4("10.77.1.2"));
	assert_int_equal(f[34], 3);
	assert_int_equal(f[35], 4);
	assert_int_equal((unsigned)f[40] << 8 | f[41], mtu - 20);
	assert_int_equal(pkt_csum(f + 34, len - 34), 0);
	/* without DF: dropped and counted (dp never fragments) */
	send1(mk_vip((uint16_t)(mtu - 19), 0, 53));
	assert_int_equal(drop(DP_DROP_MTU_EXCEEDED), d + 2);
	struct rte_mbuf *none[4];
	assert_int_equal(rte_eth_rx_burst(pb, 0, none, 4), 0);
	assert_int_equal(rte_eth_rx_burst(pa, 0, none, 4), 0);

	/* a local backend: through the worker's own ring, then to the pod */
	send1(mk_vip(100, 1, 54));
	assert_int_equal(rte_eth_rx_burst(pa, 0, none, 4), 0);
	struct rte_mbuf *m[4];
	assert_int_equal(lb_fwd_handoff_take(lb, 0, m, 4), 1);
	fwd_burst(dp->lcores[0], m[0]->port, m, 1);
	len = rx_one(pa, f, sizeof(f));
	assert_int_equal(len, 14u + 100);
	assert_int_equal(pkt_parse(f, len, &pi), 0);
	assert_memory_equal(f, POD3_MAC, 6);
	assert_int_equal(pi.proto, 17);
	assert_int_equal(pi.dst_ip, a4("10.77.1.3"));
	assert_int_equal((unsigned)f[36] << 8 | f[37], 5354);
	assert_int_equal(lb->lc[0]->ev[LB_EV_DSR_DECAP], 1);

	__atomic_store_n(&dp->lb, NULL, __ATOMIC_RELEASE);
	lb_free(lb);
	assert_int_equal(dp_route_del(dp, a4("10.89.0.0"), 16), 0);
}

static void test_arp(void **state)
{
	uint8_t f[256];
	struct pkt_info pi;
	(void)state;
	uint64_t ign = drop(DP_DROP_ARP_IGNORED);

	send1(mk_arp("10.77.1.2", "10.77.1.1"));
	size_t len = rx_one(pb, f, sizeof(f));
	assert_int_equal(pkt_parse(f, len, &pi), 0);
	assert_int_equal(pi.kind, PKT_KIND_ARP);
	assert_int_equal(pi.arp_op, 2);
	assert_int_equal(pi.src_ip, a4("10.77.1.1"));
	assert_memory_equal(f + 14 + 8, GW_MAC, 6);
	/* probe (sender 0.0.0.0) is not answered */
	send1(mk_arp("0.0.0.0", "10.77.1.1"));
	assert_int_equal(drop(DP_DROP_ARP_IGNORED), ign + 1);
}

static void test_route_and_control(void **state)
{
	uint8_t f[256];
	struct pkt_info pi;
	const uint8_t nh[6] = { 2, 0xaa, 0, 0, 0, 1 };
	(void)state;

	assert_int_equal(dp_route_add(dp, a4("10.88.0.0"), 16, "b", nh, 1), 0);
	send1(mk_udp("10.77.1.2", "10.88.3.4", 64));
	size_t len = rx_one(pa, f, sizeof(f));
	assert_int_equal(pkt_parse(f, len, &pi), 0);
	assert_memory_equal(f, nh, 6);

	/* b is referenced: detach refused */
	assert_int_equal(dp_port_detach(dp, "b"), -EBUSY);
	assert_int_equal(dp_port_detach(dp, "nope"), -ENOENT);
	assert_int_equal(dp_pod_add(dp, a4("10.77.2.1"), POD3_MAC, "b", 1), -EINVAL);
	assert_int_equal(dp_pod_add(dp, a4("10.77.1.1"), POD3_MAC, "b", 1), -EINVAL);
	assert_int_equal(dp_pod_add(dp, a4("10.77.1.7"), POD3_MAC, "zz", 1), -ENOENT);

	/* generation 2 replays pod .3 only: sweep(2) drops the route */
	assert_int_equal(dp_pod_add(dp, a4("10.77.1.3"), POD3_MAC, "b", 2), 0);
	assert_int_equal(dp_sweep(dp, 2), 1);
	uint64_t r = drop(DP_DROP_NO_ROUTE);
	send1(mk_udp("10.77.1.2", "10.88.3.4", 64));
	assert_int_equal(drop(DP_DROP_NO_ROUTE), r + 1);

	assert_int_equal(dp_pod_del(dp, a4("10.77.1.3")), 0);
	assert_int_equal(dp_pod_del(dp, a4("10.77.1.3")), -ENOENT);
	uint64_t np = drop(DP_DROP_NO_POD);
	send1(mk_udp("10.77.1.2", "10.77.1.3", 64));
	rx_one(pb, f, sizeof(f)); /* host unreachable now */
	assert_int_equal(drop(DP_DROP_NO_POD), np + 1);
	assert_int_equal(dp_port_detach(dp, "b"), 0);
	assert_int_equal(dp_port_detach(dp, "b"), -ENOENT);
}

/* Runs last: workers poll from here on, so no test may call fwd_burst. */
static void test_runtime_attach(void **state)
{
	char err[256], vsock[108];
	uint16_t pv;
	(void)state;

	assert_int_equal(dp_start(dp), 0);
	assert_int_equal(dp_start(dp), -EALREADY);
	/* vhost-user server port attached and detached under a running
	 * worker: the rx-list publication waits for its grace period */
	snprintf(vsock, sizeof(vsock), "/tmp/test_dp_fwd_%d.vhost", (int)getpid());
	struct dp_port_params v = { .name = "v", .type = DP_PORT_VHOST_USER };
	snprintf(v.socket, sizeof(v.socket), "%s", vsock);
	assert_int_equal(dp_port_attach(dp, &v, &pv, err, sizeof(err)), 0);
	assert_int_equal(dp->lcores[0]->rx->n, 2); /* a and v */
	/* v reuses b's port id; b's traffic must not show up as v's */
	assert_int_equal(pv, pb);
	struct dp_port *vp = dp_port_by_name(dp, "v");
	assert_non_null(vp);
	uint64_t old_tx = dp_port_sum(dp, offsetof(struct fwd_lcore, port_tx), pv);
	assert_true(old_tx > 0);
	assert_int_equal(vp->base_tx, old_tx);
	assert_int_equal(dp_pod_add(dp, a4("10.77.1.9"), POD3_MAC, "v", 1), 0);
	assert_int_equal(dp_port_detach(dp, "v"), -EBUSY);
	assert_int_equal(dp_pod_del(dp, a4("10.77.1.9")), 0);
	assert_int_equal(dp_port_detach(dp, "v"), 0);
	assert_int_equal(dp->lcores[0]->rx->n, 1);
	/* runtime option through the same table the CLI and JSON use */
	assert_int_equal(dp_option_set(dp, "idle_backoff_us", 50), 0);
	assert_int_equal(dp->idle_backoff_us, 50);
	assert_int_equal(dp_option_set(dp, "idle_backoff_us", 100001), -ERANGE);
	assert_int_equal(dp_option_set(dp, "icmp_rate", 5), -EPERM);
	assert_int_equal(dp_option_set(dp, "nope", 5), -ENOENT);
	dp_stop(dp);
	dp_stop(dp); /* idempotent */
	unlink(vsock);
}

static int wait_link(uint16_t port)
{
	struct rte_eth_link l;
	for (int i = 0; i < 500; i++) {
		if (rte_eth_link_get_nowait(port, &l) == 0 && l.link_status == RTE_ETH_LINK_UP)
			return 0;
		usleep(10000);
	}
	return -1;
}

static int setup(void **state)
{
	char prefix[64], err[256];
	(void)state;
	snprintf(prefix, sizeof(prefix), "--file-prefix=test_dp_fwd_%d", (int)getpid());
	/* lcore 1 only exists to give dp one worker slot (tx queue 0 and
	 * per-lcore counters); the test calls fwd_burst itself. */
	char *argv[] = { "test_dp_fwd", "--no-huge", "--no-pci", "--no-shconf", "--no-telemetry",
			 "-m", "512", "--lcores", "0@0,1@0", "--log-level=error", prefix, NULL };
	if (rte_eal_init(11, argv) < 0)
		return -1;
	struct dp_params p = {
		.pod_net = a4("10.77.1.0"), .pod_depth = 24, .gateway_ip = a4("10.77.1.1"),
		.gateway_mac = { 2, 0, 0, 0, 0, 1 }, .icmp_rate = 1000, .icmp_burst = 100,
		.idle_backoff_us = 100,
	};
	dp = dp_create(&p);
	if (dp == NULL || dp->n_workers != 1)
		return -1;
	snprintf(sock, sizeof(sock), "/tmp/test_dp_fwd_%d.sock", (int)getpid());
	struct dp_port_params a = { .name = "a", .type = DP_PORT_MEMIF, .memif_server = 1 };
	struct dp_port_params b = { .name = "b", .type = DP_PORT_MEMIF, .memif_server = 0 };
	snprintf(a.socket, sizeof(a.socket), "%s", sock);
	snprintf(b.socket, sizeof(b.socket), "%s", sock);
	if (dp_port_attach(dp, &a, &pa, err, sizeof(err)) != 0 ||
	    dp_port_attach(dp, &b, &pb, err, sizeof(err)) != 0) {
		fprintf(stderr, "attach: %s\n", err);
		return -1;
	}
	if (dp_port_attach(dp, &a, NULL, err, sizeof(err)) != -EEXIST)
		return -1;
	if (wait_link(pa) != 0 || wait_link(pb) != 0) {
		fprintf(stderr, "memif pair did not connect\n");
		return -1;
	}
	/* A memif receiver posts its free rx descriptors from rx_burst: until
	 * each end has polled once, the other end's tx has nowhere to write. */
	struct rte_mbuf *none[4];
	assert_int_equal(rte_eth_rx_burst(pa, 0, none, 4), 0);
	assert_int_equal(rte_eth_rx_burst(pb, 0, none, 4), 0);
	return dp_pod_add(dp, a4("10.77.1.3"), POD3_MAC, "b", 1);
}

static int teardown(void **state)
{
	(void)state;
	dp_free(dp);
	unlink(sock);
	/* EAL leaves its (empty, --no-shconf) runtime dir behind */
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	rmdir(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forward_to_pod),
		cmocka_unit_test(test_ttl_exceeded),
		cmocka_unit_test(test_unknown_pod),
		cmocka_unit_test(test_mtu),
		cmocka_unit_test(test_dsr),
		cmocka_unit_test(test_arp),
		cmocka_unit_test(test_route_and_control),
		cmocka_unit_test(test_runtime_attach),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
