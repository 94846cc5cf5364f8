/*
 * Deterministic tests of dp/xdp/uplink.bpf.c through BPF_PROG_TEST_RUN:
 * a numbered table of crafted frames, each run three ways:
 *   a. no XSK bound to rx queue 0, fallback PASS -> XDP_PASS, and steered
 *      frames are counted under "nosock";
 *   b. same with fallback DROP -> steered frames get XDP_DROP;
 *   c. an AF_XDP socket in XSKMAP slot 0 -> XDP_REDIRECT for steered
 *      frames, counted under their own reason.
 * Non-steered frames must return XDP_PASS in all three runs. Every run
 * checks that exactly one counter moved, by one packet and the frame's
 * length in bytes.
 *
 * The program is loaded, not attached (XDP_STEER_ATTACH_NONE). Needs root
 * and BPF: exits 77 (skip) when the kernel refuses to load it for lack of
 * privilege, fails on any other error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/bpf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xdp_steer.h"

#ifndef AF_XDP
#define AF_XDP 44
#endif

static struct xdp_steer *steer;
static struct xdp_steer_config base;

/* ---- frame builders (network order on the wire, host order here) ---- */

struct frame {
	uint8_t b[256];
	uint32_t len;
};

static void put16(struct frame *f, uint16_t v)
{
	f->b[f->len++] = (uint8_t)(v >> 8);
	f->b[f->len++] = (uint8_t)v;
}

static void put_bytes(struct frame *f, const void *p, uint32_t n)
{
	memcpy(f->b + f->len, p, n);
	f->len += n;
}

static void put_ip4(struct frame *f, const char *ip)
{
	uint8_t a[4];

	assert_int_equal(inet_pton(AF_INET, ip, a), 1);
	put_bytes(f, a, 4);
}

static void put_ip6(struct frame *f, const char *ip)
{
	uint8_t a[16];

	assert_int_equal(inet_pton(AF_INET6, ip, a), 1);
	put_bytes(f, a, 16);
}

/* dst/src MAC then @vlans tags (0x8100) then ethertype @type. */
static void eth(struct frame *f, uint16_t type, int vlans)
{
	static const uint8_t macs[12] = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2};

	f->len = 0;
	put_bytes(f, macs, sizeof(macs));
	for (int i = 0; i < vlans; i++) {
		put16(f, i == 0 && vlans > 1 ? 0x88a8 : 0x8100);
		put16(f, 100); /* TCI: VID 100 */
	}
	put16(f, type);
}

/* IPv4 header with @ihl words (options zero-filled), @frag flags+offset. */
static void ip4(struct frame *f, uint8_t ihl, uint8_t proto, const char *src, const char *dst,
		uint16_t frag)
{
	f->b[f->len++] = (uint8_t)(0x40 | ihl);
	f->b[f->len++] = 0;
	put16(f, 60);
	put16(f, 1);
	put16(f, frag);
	f->b[f->len++] = 64;
	f->b[f->len++] = proto;
	put16(f, 0);
	put_ip4(f, src);
	put_ip4(f, dst);
	for (int i = 5; i < ihl; i++)
		put_bytes(f, "\x01\x01\x01\x01", 4); /* NOP options */
}

static void ip6(struct frame *f, uint8_t next, const char *src, const char *dst)
{
	put_bytes(f, "\x60\x00\x00\x00", 4);
	put16(f, 16);
	f->b[f->len++] = next;
	f->b[f->len++] = 64;
	put_ip6(f, src);
	put_ip6(f, dst);
}

static void l4(struct frame *f, uint16_t sport, uint16_t dport)
{
	put16(f, sport);
	put16(f, dport);
	put16(f, 16);
	put16(f, 0);
	put_bytes(f, "payload!", 8);
}

static void arp(struct frame *f, uint16_t op, uint8_t hlen, const char *spa, const char *tpa)
{
	put16(f, 1);
	put16(f, 0x0800);
	f->b[f->len++] = hlen;
	f->b[f->len++] = 4;
	put16(f, op);
	put_bytes(f, "\x02\x00\x00\x00\x00\x02", 6);
	put_ip4(f, spa);
	put_bytes(f, "\x00\x00\x00\x00\x00\x00", 6);
	put_ip4(f, tpa);
}

/* ---- the table ---- */

#define POD "10.244.1.7"
#define GW "10.244.1.1"
#define VIP "10.96.0.10"
#define NODE "192.168.50.2"
#define PEER "192.168.50.3"

enum { TCP = 6, UDP = 17, ICMP6 = 58 };

struct tcase {
	const char *name;
	void (*build)(struct frame *f);
	uint32_t trunc;    /* if non-zero, cut the frame to this many bytes */
	unsigned int want; /* enum xdp_steer_reason when an XSK is bound */
};

static void f_pod_tcp(struct frame *f) { eth(f, 0x0800, 0); ip4(f, 5, TCP, PEER, POD, 0); l4(f, 1000, 80); }
static void f_vip(struct frame *f) { eth(f, 0x0800, 0); ip4(f, 5, TCP, PEER, VIP, 0); l4(f, 1000, 443); }
static void f_not_vip(struct frame *f) { eth(f, 0x0800, 0); ip4(f, 5, TCP, PEER, "10.96.0.11", 0); l4(f, 1000, 443); }
static void f_vxlan_node(struct frame *f) { eth(f, 0x0800, 0); ip4(f, 5, UDP, PEER, NODE, 0); l4(f, 55555, 4789); }
static void f_geneve_node(struct frame *f) { eth(f, 0x0800, 0); ip4(f, 5, UDP, PEER, NODE, 0); l4(f, 55555, 6081); }
static void f_vxlan_other(struct frame *f) { eth(f, 0x0800, 0); ip4(f, 5, UDP, NODE, PEER, 0); l4(f, 55555, 4789); }
static void f_dns_node(struct frame *f) { eth(f, 0x0800, 0); ip4(f, 5, UDP, PEER, NODE, 0); l4(f, 55555, 53); }
static void f_ssh_node(struct frame *f) { eth(f, 0x0800, 0); ip4(f, 5, TCP, PEER, NODE, 0); l4(f, 40000, 22); }
static void f_tcp4789_node(struct frame *f) { eth(f, 0x0800, 0); ip4(f, 5, TCP, PEER, NODE, 0); l4(f, 40000, 4789); }
static void f_arp_host(struct frame *f) { eth(f, 0x0806, 0); arp(f, 1, 6, PEER, NODE); }
static void f_arp_gw(struct frame *f) { eth(f, 0x0806, 0); arp(f, 1, 6, PEER, GW); }
static void f_arp_reply_gw(struct frame *f) { eth(f, 0x0806, 0); arp(f, 2, 6, PEER, GW); }
static void f_arp_op3_gw(struct frame *f) { eth(f, 0x0806, 0); arp(f, 3, 6, PEER, GW); }
static void f_arp_hlen8(struct frame *f) { eth(f, 0x0806, 0); arp(f, 1, 8, PEER, GW); }
static void f_pod6(struct frame *f) { eth(f, 0x86dd, 0); ip6(f, TCP, "fd00:50::3", "fd00:244:1::5"); l4(f, 1000, 80); }
static void f_host6(struct frame *f) { eth(f, 0x86dd, 0); ip6(f, TCP, "fd00:50::3", "fd00:50::2"); l4(f, 1000, 22); }
static void f_nd6(struct frame *f) { eth(f, 0x86dd, 0); ip6(f, ICMP6, "fe80::2", "ff02::1:ff00:2"); l4(f, 0x8700, 0); }
static void f_lldp(struct frame *f) { eth(f, 0x88cc, 0); put_bytes(f, "\x02\x07\x04\x00\x00\x00\x00\x00\x01", 9); }
static void f_vlan_pod(struct frame *f) { eth(f, 0x0800, 1); ip4(f, 5, TCP, PEER, POD, 0); l4(f, 1000, 80); }
static void f_vlan_ssh(struct frame *f) { eth(f, 0x0800, 1); ip4(f, 5, TCP, PEER, NODE, 0); l4(f, 1000, 22); }
static void f_vlan_arp_gw(struct frame *f) { eth(f, 0x0806, 1); arp(f, 1, 6, PEER, GW); }
static void f_qinq_pod(struct frame *f) { eth(f, 0x0800, 2); ip4(f, 5, TCP, PEER, POD, 0); l4(f, 1000, 80); }
static void f_ihl4(struct frame *f) { eth(f, 0x0800, 0); ip4(f, 4, TCP, PEER, POD, 0); l4(f, 1000, 80); }
static void f_ver6_in_v4(struct frame *f) { f_pod_tcp(f); f->b[14] = 0x65; }
static void f_ihl6_vxlan(struct frame *f) { eth(f, 0x0800, 0); ip4(f, 6, UDP, PEER, NODE, 0); l4(f, 55555, 4789); }
static void f_ihl15_short(struct frame *f) { eth(f, 0x0800, 0); ip4(f, 15, UDP, PEER, NODE, 0); f->len = 14 + 40; }
static void f_vxlan_frag(struct frame *f) { eth(f, 0x0800, 0); ip4(f, 5, UDP, PEER, NODE, 0x0010); l4(f, 55555, 4789); }
static void f_vxlan_first_frag(struct frame *f) { eth(f, 0x0800, 0); ip4(f, 5, UDP, PEER, NODE, 0x2000); l4(f, 55555, 4789); }
static void f_v6_wrong_ver(struct frame *f) { f_pod6(f); f->b[14] = 0x40; }

static const struct tcase cases[] = {
	/*  1 */ {"ipv4 tcp to pod CIDR", f_pod_tcp, 0, XDP_STEER_REDIRECT_PREFIX4},
	/*  2 */ {"ipv4 to service VIP", f_vip, 0, XDP_STEER_REDIRECT_PREFIX4},
	/*  3 */ {"ipv4 to VIP range, not a VIP", f_not_vip, 0, XDP_STEER_PASS_HOST},
	/*  4 */ {"vxlan to node underlay", f_vxlan_node, 0, XDP_STEER_REDIRECT_ENCAP},
	/*  5 */ {"geneve to node underlay", f_geneve_node, 0, XDP_STEER_REDIRECT_ENCAP},
	/*  6 */ {"vxlan to another IP", f_vxlan_other, 0, XDP_STEER_PASS_HOST},
	/*  7 */ {"udp:53 to node IP", f_dns_node, 0, XDP_STEER_PASS_HOST},
	/*  8 */ {"tcp:22 (ssh) to node IP", f_ssh_node, 0, XDP_STEER_PASS_HOST},
	/*  9 */ {"tcp:4789 to node IP (not udp)", f_tcp4789_node, 0, XDP_STEER_PASS_HOST},
	/* 10 */ {"arp request for host IP", f_arp_host, 0, XDP_STEER_PASS_ARP},
	/* 11 */ {"arp request for pod gateway", f_arp_gw, 0, XDP_STEER_REDIRECT_ARP},
	/* 12 */ {"arp reply to pod gateway", f_arp_reply_gw, 0, XDP_STEER_REDIRECT_ARP},
	/* 13 */ {"rarp op 3 for gateway", f_arp_op3_gw, 0, XDP_STEER_PASS_ARP},
	/* 14 */ {"arp hlen 8", f_arp_hlen8, 0, XDP_STEER_PASS_MALFORMED},
	/* 15 */ {"ipv6 to pod CIDR", f_pod6, 0, XDP_STEER_REDIRECT_PREFIX6},
	/* 16 */ {"ipv6 ssh to host", f_host6, 0, XDP_STEER_PASS_HOST},
	/* 17 */ {"ipv6 ND to solicited-node mcast", f_nd6, 0, XDP_STEER_PASS_HOST},
	/* 18 */ {"lldp", f_lldp, 0, XDP_STEER_PASS_OTHER},
	/* 19 */ {"802.1q ipv4 to pod", f_vlan_pod, 0, XDP_STEER_REDIRECT_PREFIX4},
	/* 20 */ {"802.1q ssh to host", f_vlan_ssh, 0, XDP_STEER_PASS_HOST},
	/* 21 */ {"802.1q arp for gateway", f_vlan_arp_gw, 0, XDP_STEER_REDIRECT_ARP},
	/* 22 */ {"qinq (two tags) to pod", f_qinq_pod, 0, XDP_STEER_PASS_VLAN_STACKED},
	/* 23 */ {"ipv4 ihl 4", f_ihl4, 0, XDP_STEER_PASS_MALFORMED},
	/* 24 */ {"version 6 in ipv4 ethertype", f_ver6_in_v4, 0, XDP_STEER_PASS_MALFORMED},
	/* 25 */ {"ipv6 ethertype, version 4", f_v6_wrong_ver, 0, XDP_STEER_PASS_MALFORMED},
	/* 26 */ {"vxlan with ip options (ihl 6)", f_ihl6_vxlan, 0, XDP_STEER_REDIRECT_ENCAP},
	/* 27 */ {"ihl 15, 20 bytes of options present", f_ihl15_short, 0, XDP_STEER_PASS_TRUNC},
	/* 28 */ {"vxlan, non-first fragment", f_vxlan_frag, 0, XDP_STEER_PASS_FRAG},
	/* 29 */ {"vxlan, first fragment (MF)", f_vxlan_first_frag, 0, XDP_STEER_REDIRECT_ENCAP},
	/* truncated at each header boundary (BPF_PROG_TEST_RUN refuses
	 * frames shorter than an Ethernet header, so that cut is not run) */
	/* 30 */ {"cut: eth only, ipv4 type", f_pod_tcp, 14, XDP_STEER_PASS_TRUNC},
	/* 31 */ {"cut: ipv4 header - 1", f_pod_tcp, 33, XDP_STEER_PASS_TRUNC},
	/* 32 */ {"cut: ipv4 hdr, pod: no L4 needed", f_pod_tcp, 34, XDP_STEER_REDIRECT_PREFIX4},
	/* 33 */ {"cut: vxlan udp header - 1", f_vxlan_node, 41, XDP_STEER_PASS_TRUNC},
	/* 34 */ {"cut: vxlan udp header exact", f_vxlan_node, 42, XDP_STEER_REDIRECT_ENCAP},
	/* 35 */ {"cut: ihl 6 options - 1", f_ihl6_vxlan, 37, XDP_STEER_PASS_TRUNC},
	/* 36 */ {"cut: vlan tag - 1", f_vlan_pod, 17, XDP_STEER_PASS_TRUNC},
	/* 37 */ {"cut: vlan tag, no ip", f_vlan_pod, 18, XDP_STEER_PASS_TRUNC},
	/* 38 */ {"cut: arp - 1", f_arp_gw, 41, XDP_STEER_PASS_TRUNC},
	/* 39 */ {"cut: arp exact", f_arp_gw, 42, XDP_STEER_REDIRECT_ARP},
	/* 40 */ {"cut: ipv6 header - 1", f_pod6, 53, XDP_STEER_PASS_TRUNC},
	/* 41 */ {"cut: ipv6 header exact, pod", f_pod6, 54, XDP_STEER_REDIRECT_PREFIX6},
};

static int is_steered(unsigned int r)
{
	return r == XDP_STEER_REDIRECT_PREFIX4 || r == XDP_STEER_REDIRECT_PREFIX6 ||
	       r == XDP_STEER_REDIRECT_ENCAP || r == XDP_STEER_REDIRECT_ARP;
}

/* Run one frame; check the verdict and that exactly counter @reason
 * moved by one packet and len bytes. */
static void run_one(const char *name, const struct frame *f, uint32_t want_verdict, unsigned int reason)
{
	struct xdp_steer_stats before, after;
	uint8_t out[512];
	LIBBPF_OPTS(bpf_test_run_opts, topts, .data_in = f->b, .data_size_in = f->len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

	assert_int_equal(xdp_steer_stats(steer, &before), 0);
	int rc = bpf_prog_test_run_opts(xdp_steer_prog_fd(steer), &topts);

	if (rc != 0)
		fail_msg("%s: test_run: %s", name, strerror(-rc));
	if (topts.retval != want_verdict)
		fail_msg("%s: verdict %u, want %u", name, topts.retval, want_verdict);
	assert_int_equal(xdp_steer_stats(steer, &after), 0);
	for (unsigned int r = 0; r < XDP_STEER_REASON_MAX; r++) {
		uint64_t dp = after.reason[r].packets - before.reason[r].packets;
		uint64_t db = after.reason[r].bytes - before.reason[r].bytes;

		if (dp != (r == reason) || db != (r == reason ? f->len : 0))
			fail_msg("%s: counter %s moved by %llu pkts/%llu bytes", name,
				 xdp_steer_reason_name(r),
				 (unsigned long long)dp, (unsigned long long)db);
	}
}

static void build(int i, struct frame *f)
{
	memset(f, 0, sizeof(*f));
	cases[i].build(f);
	assert_true(f->len <= sizeof(f->b));
	if (cases[i].trunc) {
		assert_true(cases[i].trunc <= f->len);
		f->len = cases[i].trunc;
	}
}

static void run_table(uint32_t steered_verdict, int sock_bound)
{
	for (int i = 0; i < (int)(sizeof(cases) / sizeof(cases[0])); i++) {
		struct frame f;
		unsigned int want = cases[i].want;
		int steered = is_steered(want);

		char name[96];

		snprintf(name, sizeof(name), "case %d (%s)", i + 1, cases[i].name);
		build(i, &f);
		run_one(name, &f, steered ? steered_verdict : XDP_PASS,
			steered && !sock_bound ? XDP_STEER_NOSOCK : want);
	}
}

static int setup(void **state)
{
	struct xdp_steer_params p = {.attach = XDP_STEER_ATTACH_NONE, .queues = 4};

	(void)state;
	steer = xdp_steer_create(&p);
	if (steer == NULL)
		return -1;
	xdp_steer_config_init(&base);
	if (xdp_steer_config_add_prefix(&base, "10.244.1.0/24") ||
	    xdp_steer_config_add_prefix(&base, VIP) ||
	    xdp_steer_config_add_prefix(&base, "fd00:244:1::/64") ||
	    xdp_steer_config_add_arp(&base, GW) ||
	    xdp_steer_config_set_encap(&base, NODE, 4789, 6081))
		return -1;
	return xdp_steer_apply(steer, &base) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	xdp_steer_free(steer);
	steer = NULL;
	return 0;
}

static void test_no_socket_fallback_pass(void **state)
{
	(void)state;
	run_table(XDP_PASS, 0);
}

static void test_no_socket_fallback_drop(void **state)
{
	struct xdp_steer_config c = base;

	(void)state;
	c.fallback_drop = 1;
	assert_int_equal(xdp_steer_apply(steer, &c), 0);
	run_table(XDP_DROP, 0);
	assert_int_equal(xdp_steer_apply(steer, &base), 0);
}

static void test_socket_bound_redirect(void **state)
{
	int fd = socket(AF_XDP, SOCK_RAW, 0);

	(void)state;
	if (fd < 0)
		fail_msg("AF_XDP socket: %s", strerror(errno));
	assert_int_equal(xdp_steer_xsk_set(steer, 4, fd), -EINVAL); /* queue out of range */
	assert_int_equal(xdp_steer_xsk_set(steer, 0, fd), 0);
	run_table(XDP_REDIRECT, 1);
	/* cleared: back to the fallback */
	assert_int_equal(xdp_steer_xsk_clear(steer, 0), 0);
	/* idempotent: the kernel's XSKMAP delete does not report empty slots */
	assert_int_equal(xdp_steer_xsk_clear(steer, 0), 0);
	run_table(XDP_PASS, 0);
	close(fd);
}

static void test_xskmap_rejects_non_xsk(void **state)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(xdp_steer_xsk_set(steer, 1, fd), -EOPNOTSUPP);
	close(fd);
}

static uint32_t map_count(const char *name)
{
	struct bpf_map_info info;
	uint32_t id = 0, n = 0, ilen;

	/* Find our map by walking the program's map ids. */
	struct bpf_prog_info pinfo;
	uint32_t ids[16];
	uint32_t plen = sizeof(pinfo);

	memset(&pinfo, 0, sizeof(pinfo));
	pinfo.nr_map_ids = 16;
	pinfo.map_ids = (uint64_t)(uintptr_t)ids;
	assert_int_equal(bpf_obj_get_info_by_fd(xdp_steer_prog_fd(steer), &pinfo, &plen), 0);
	for (uint32_t i = 0; i < pinfo.nr_map_ids && i < 16; i++) {
		int fd = bpf_map_get_fd_by_id(ids[i]);
		uint8_t k[32], nk[32];
		const void *prev = NULL;

		assert_true(fd >= 0);
		ilen = sizeof(info);
		memset(&info, 0, sizeof(info));
		assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &ilen), 0);
		if (strcmp(info.name, name) == 0) {
			id = ids[i];
			while (bpf_map_get_next_key(fd, prev, nk) == 0) {
				memcpy(k, nk, sizeof(k));
				prev = k;
				n++;
			}
		}
		close(fd);
	}
	assert_true(id != 0);
	return n;
}

/* Reconfigure: the VIP and gateway go away, a new pod CIDR appears, the
 * encap ports change; the maps hold exactly the new config. */
static void test_reconfigure(void **state)
{
	struct xdp_steer_config c;
	struct frame f;

	(void)state;
	assert_int_equal(map_count("steer_v4"), 2);
	assert_int_equal(map_count("steer_v6"), 1);
	assert_int_equal(map_count("steer_arp"), 1);

	xdp_steer_config_init(&c);
	assert_int_equal(xdp_steer_config_add_prefix(&c, "10.244.1.0/24"), 0);
	assert_int_equal(xdp_steer_config_add_prefix(&c, "10.245.0.0/16"), 0);
	assert_int_equal(xdp_steer_config_set_encap(&c, NODE, 8472, 0), 0);
	assert_int_equal(xdp_steer_apply(steer, &c), 0);
	assert_int_equal(map_count("steer_v4"), 2);
	assert_int_equal(map_count("steer_v6"), 0);
	assert_int_equal(map_count("steer_arp"), 0);

	build(1, &f); /* VIP: no longer steered */
	run_one("reconf VIP", &f, XDP_PASS, XDP_STEER_PASS_HOST);
	build(0, &f); /* pod: still steered (no XSK: nosock) */
	run_one("reconf pod", &f, XDP_PASS, XDP_STEER_NOSOCK);
	build(10, &f); /* ARP for the old gateway */
	run_one("reconf old gw arp", &f, XDP_PASS, XDP_STEER_PASS_ARP);
	build(3, &f); /* VXLAN on 4789: port now 8472 */
	run_one("reconf vxlan 4789", &f, XDP_PASS, XDP_STEER_PASS_HOST);
	build(4, &f); /* Geneve disabled */
	run_one("reconf geneve", &f, XDP_PASS, XDP_STEER_PASS_HOST);

	/* An invalid config touches no map. */
	c.fallback_drop = 5;
	assert_int_equal(xdp_steer_apply(steer, &c), -EINVAL);
	assert_int_equal(map_count("steer_v4"), 2);
	assert_int_equal(xdp_steer_apply(steer, &base), 0);
}

/* IPv6 underlay: Geneve over IPv6 to the node is steered. */
static void test_underlay6(void **state)
{
	struct xdp_steer_config c = base;
	struct frame f;

	(void)state;
	assert_int_equal(xdp_steer_config_set_encap(&c, "fd00:50::2", 4789, 6081), 0);
	assert_int_equal(xdp_steer_apply(steer, &c), 0);
	eth(&f, 0x86dd, 0);
	ip6(&f, UDP, "fd00:50::3", "fd00:50::2");
	l4(&f, 5555, 6081);
	run_one("underlay6 geneve", &f, XDP_PASS, XDP_STEER_NOSOCK);
	eth(&f, 0x86dd, 0);
	ip6(&f, UDP, "fd00:50::3", "fd00:50::2");
	l4(&f, 5555, 53);
	run_one("underlay6 udp:53", &f, XDP_PASS, XDP_STEER_PASS_HOST);
	eth(&f, 0x86dd, 0);
	ip6(&f, UDP, "fd00:50::3", "fd00:50::2");
	/* udp header cut to 7 bytes */
	put_bytes(&f, "\x00\x00\x17\xc1\x00\x00\x00", 7);
	run_one("underlay6 udp cut", &f, XDP_PASS, XDP_STEER_PASS_TRUNC);
	/* IPv4 VXLAN to the old v4 underlay is no longer steered */
	build(3, &f);
	run_one("underlay6: v4 vxlan", &f, XDP_PASS, XDP_STEER_PASS_HOST);
	assert_int_equal(xdp_steer_apply(steer, &base), 0);
}

/* The XSKMAP is pinned where asked, is the same map, and is unpinned. */
static void test_pin(void **state)
{
	char dir[64], path[96];
	struct xdp_steer_params p = {.attach = XDP_STEER_ATTACH_NONE, .queues = 2, .pin_dir = dir};
	struct bpf_map_info a, b;
	uint32_t la = sizeof(a), lb = sizeof(b);
	struct xdp_steer *s;
	int fd;

	(void)state;
	snprintf(dir, sizeof(dir), "/sys/fs/bpf/xsteer-test-%d", (int)getpid());
	if (mkdir(dir, 0700) != 0)
		skip(); /* no bpffs mounted */
	snprintf(path, sizeof(path), "%s/xsks_map", dir);
	s = xdp_steer_create(&p);
	assert_non_null(s);
	fd = bpf_obj_get(path);
	assert_true(fd >= 0);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	assert_int_equal(bpf_obj_get_info_by_fd(fd, &a, &la), 0);
	assert_int_equal(bpf_obj_get_info_by_fd(xdp_steer_xsks_map_fd(s), &b, &lb), 0);
	assert_int_equal(a.id, b.id);
	assert_int_equal(a.type, BPF_MAP_TYPE_XSKMAP);
	assert_int_equal(a.max_entries, 2);
	close(fd);
	/* pinning twice at the same place fails cleanly */
	errno = 0;
	assert_null(xdp_steer_create(&p));
	assert_int_equal(errno, EEXIST);
	xdp_steer_free(s);
	assert_int_equal(access(path, F_OK), -1);
	rmdir(dir);
}

/* adopt() finds nothing to take over on a link without XDP (loopback of
 * this netns) and refuses ifindex 0. The positive path is in xdp_netns. */
static void test_adopt_errors(void **state)
{
	(void)state;
	errno = 0;
	assert_null(xdp_steer_adopt(0));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(xdp_steer_adopt(1));
	assert_int_equal(errno, ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_socket_fallback_pass),
		cmocka_unit_test(test_no_socket_fallback_drop),
		cmocka_unit_test(test_socket_bound_redirect),
		cmocka_unit_test(test_xskmap_rejects_non_xsk),
		cmocka_unit_test(test_reconfigure),
		cmocka_unit_test(test_underlay6),
		cmocka_unit_test(test_pin),
		cmocka_unit_test(test_adopt_errors),
	};
	struct xdp_steer_params p = {.attach = XDP_STEER_ATTACH_NONE, .queues = 1};
	struct xdp_steer *probe;

	/* Skip only when BPF is genuinely unavailable to us. */
	probe = xdp_steer_create(&p);
	if (probe == NULL) {
		int e = errno;

		if (e == EPERM || e == EACCES || e == ENOSYS) {
			fprintf(stderr, "SKIP: cannot load BPF programs: %s\n", strerror(e));
			return 77;
		}
		fprintf(stderr, "xdp_steer_create: %s\n", strerror(e));
		return 1;
	}
	xdp_steer_free(probe);
	return cmocka_run_group_tests(tests, setup, teardown);
}
