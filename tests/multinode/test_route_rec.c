/*
 * Route validation at both front ends of "prefix P is behind the node at
 * underlay IP U": the ROUTE_ADD ring record via RING_PORT_UPLINK
 * (ring_cmd_check / ring_cmd_decode) and the dp config's "uplink" section
 * and "via" routes (dpcfg_parse), as numbered table-driven cases. Each bad
 * case must be refused for the stated reason, with the config error naming
 * the field.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "sluice/ring_proto.h"

/* A valid "10.78.2.0/24 via 192.168.77.2" record in @encap. */
static void mk_route(struct ring_cmd *c, uint8_t encap, uint32_t vni)
{
	ring_cmd_init(c, RING_CMD_ROUTE_ADD, 1, 1);
	c->u.route.family = RING_FAMILY_IPV4;
	c->u.route.prefix_len = 24;
	c->u.route.encap = encap;
	c->u.route.nh_family = RING_FAMILY_IPV4;
	c->u.route.node_id = 2;
	c->u.route.vni = vni;
	c->u.route.port_id = RING_PORT_UPLINK;
	memcpy(c->u.route.prefix, "\x0a\x4e\x02\x00", 4);
	memcpy(c->u.route.nexthop, "\xc0\xa8\x4d\x02", 4);
}

struct rec_case {
	const char *name;
	void (*patch)(struct ring_cmd *c);
	enum ring_bad want;
};

static void p_none(struct ring_cmd *c) { (void)c; }
static void p_vxlan_cluster_vni(struct ring_cmd *c) { c->u.route.encap = RING_ENCAP_VXLAN; }
static void p_vxlan_vni(struct ring_cmd *c)
{
	c->u.route.encap = RING_ENCAP_VXLAN;
	c->u.route.vni = 4242;
}
static void p_no_nexthop(struct ring_cmd *c)
{
	c->u.route.nh_family = 0;
	memset(c->u.route.nexthop, 0, 16);
}
static void p_mac(struct ring_cmd *c) { memcpy(c->u.route.nh_mac, "\x02\0\0\0\0\x09", 6); }
static void p_vni_direct(struct ring_cmd *c) { c->u.route.vni = 7; }
static void p_vni_big(struct ring_cmd *c)
{
	c->u.route.encap = RING_ENCAP_VXLAN;
	c->u.route.vni = 1u << 24;
}
static void p_nh_tail(struct ring_cmd *c) { c->u.route.nexthop[4] = 1; }
static void p_node0(struct ring_cmd *c) { c->u.route.node_id = 0; }
static void p_encap_bad(struct ring_cmd *c) { c->u.route.encap = RING_ENCAP_MAX; }
static void p_host_bits(struct ring_cmd *c) { c->u.route.prefix[3] = 1; }
static void p_reserved(struct ring_cmd *c) { c->u.route.reserved0[1] = 1; }
static void p_port_with_mac(struct ring_cmd *c)
{
	/* the old form: a real port and a MAC, with an underlay next hop */
	c->u.route.port_id = 3;
	p_mac(c);
}

static const struct rec_case rec_cases[] = {
	{ "1 direct via uplink", p_none, RING_BAD_OK },
	{ "2 vxlan, cluster VNI (0)", p_vxlan_cluster_vni, RING_BAD_OK },
	{ "3 vxlan, VNI 4242", p_vxlan_vni, RING_BAD_OK },
	{ "4 uplink without a next hop", p_no_nexthop, RING_BAD_ID },
	{ "5 uplink with a MAC (dp resolves it)", p_mac, RING_BAD_MAC },
	{ "6 VNI without encapsulation", p_vni_direct, RING_BAD_VNI },
	{ "7 VNI past 24 bits", p_vni_big, RING_BAD_VNI },
	{ "8 IPv4 next hop with bytes past 4", p_nh_tail, RING_BAD_ADDR },
	{ "9 node id 0", p_node0, RING_BAD_ID },
	{ "10 unknown encap", p_encap_bad, RING_BAD_ENCAP },
	{ "11 host bits", p_host_bits, RING_BAD_HOST_BITS },
	{ "12 reserved byte", p_reserved, RING_BAD_RESERVED },
	{ "13 via a port with a MAC", p_port_with_mac, RING_BAD_OK },
};

static void test_ring_route(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rec_cases) / sizeof(rec_cases[0]); i++) {
		struct ring_cmd c, out;
		enum ring_bad why;
		mk_route(&c, RING_ENCAP_NONE, 0);
		rec_cases[i].patch(&c);
		enum ring_bad got = ring_cmd_check(&c);
		if (got != rec_cases[i].want)
			fail_msg("case %s: %s, want %s", rec_cases[i].name, ring_bad_str(got),
				 ring_bad_str(rec_cases[i].want));
		/* the decoder (untrusted bytes) agrees */
		int rc = ring_cmd_decode(&c, sizeof(c), &out, &why);
		assert_int_equal(rc == 0, rec_cases[i].want == RING_BAD_OK);
		assert_int_equal(why, rec_cases[i].want);
	}
}

/* ---- dp config -------------------------------------------------------- */

#define CFG_HEAD                                                                    \
	"{\"node\": {\"pod_cidr\": \"10.78.1.0/24\", \"gateway_ip\": \"10.78.1.1\","   \
	" \"gateway_mac\": \"02:00:00:00:01:01\"},"                                       \
	" \"ports\": [{\"name\": \"up0\", \"type\": \"uplink\", \"iface\": \"eth0\"},"   \
	" {\"name\": \"p1\", \"type\": \"af_xdp\", \"iface\": \"veth1\"}]"

static void test_config_good(void **state)
{
	char err[256];
	(void)state;
	const char *s = CFG_HEAD ", \"uplink\": {\"port\": \"up0\", \"ip\": \"192.168.77.1\","
			" \"mode\": \"vxlan\", \"vni\": 4242, \"vxlan_port\": 8472,"
			" \"gateway\": \"192.168.77.254\"},"
			" \"routes\": [{\"prefix\": \"10.78.2.0/24\", \"via\": \"192.168.77.2\"},"
			" {\"prefix\": \"10.99.0.0/16\", \"port\": \"p1\","
			" \"next_hop_mac\": \"02:00:00:00:00:09\"}]}";
	struct dpcfg *c = dpcfg_parse(s, strlen(s), err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_true(c->has_uplink);
	assert_string_equal(c->uplink.port, "up0");
	assert_int_equal(c->uplink.mode, DP_OVERLAY_VXLAN);
	assert_int_equal(c->uplink.vni, 4242);
	assert_int_equal(c->uplink.vxlan_port, 8472);
	assert_memory_equal(&c->uplink.gateway, "\xc0\xa8\x4d\xfe", 4);
	assert_int_equal(c->n_routes, 2);
	assert_memory_equal(&c->routes[0].via, "\xc0\xa8\x4d\x02", 4);
	assert_int_equal(c->routes[1].via, 0);
	dpcfg_free(c);

	/* defaults: vxlan, VNI 1, port 4789; direct has no VNI */
	s = CFG_HEAD ", \"uplink\": {\"port\": \"up0\", \"ip\": \"192.168.77.1\"}}";
	c = dpcfg_parse(s, strlen(s), err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(c->uplink.gateway, 0);
	assert_int_equal(c->uplink.mode, DP_OVERLAY_VXLAN);
	assert_int_equal(c->uplink.vni, 1);
	assert_int_equal(c->uplink.vxlan_port, 4789);
	dpcfg_free(c);
	s = CFG_HEAD ", \"uplink\": {\"port\": \"up0\", \"ip\": \"192.168.77.1\", \"mode\": \"direct\"}}";
	c = dpcfg_parse(s, strlen(s), err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(c->uplink.mode, DP_OVERLAY_DIRECT);
	assert_int_equal(c->uplink.vni, 0);
	assert_int_equal(c->uplink.cluster_depth, 0);
	dpcfg_free(c);
	/* egress: the cluster CIDR, and a gateway in direct mode too */
	s = CFG_HEAD ", \"uplink\": {\"port\": \"up0\", \"ip\": \"192.168.77.1\", \"mode\": \"direct\","
		" \"gateway\": \"192.168.77.254\", \"cluster_cidr\": \"10.78.0.0/16\"}}";
	c = dpcfg_parse(s, strlen(s), err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_memory_equal(&c->uplink.cluster_net, "\x0a\x4e\x00\x00", 4);
	assert_int_equal(c->uplink.cluster_depth, 16);
	assert_memory_equal(&c->uplink.gateway, "\xc0\xa8\x4d\xfe", 4);
	dpcfg_free(c);
}

struct cfg_case {
	const char *name;
	const char *tail; /* appended after CFG_HEAD */
	const char *err;  /* prefix of the one-line error */
};

#define UL "\"uplink\": {\"port\": \"up0\", \"ip\": \"192.168.77.1\"}"
static const struct cfg_case cfg_cases[] = {
	{ "1 uplink not an object", ", \"uplink\": 1}", "uplink: must be an object" },
	{ "2 unknown key", ", \"uplink\": {\"port\": \"up0\", \"ip\": \"192.168.77.1\", \"x\": 1}}",
	  "uplink.x: unknown key" },
	{ "3 port of another type", ", \"uplink\": {\"port\": \"p1\", \"ip\": \"192.168.77.1\"}}",
	  "uplink.port: must name a port of type uplink" },
	{ "4 no such port", ", \"uplink\": {\"port\": \"nope\", \"ip\": \"192.168.77.1\"}}",
	  "uplink.port: no port named" },
	{ "5 ip missing", ", \"uplink\": {\"port\": \"up0\"}}", "uplink.ip: missing" },
	{ "6 ip in the pod CIDR", ", \"uplink\": {\"port\": \"up0\", \"ip\": \"10.78.1.9\"}}",
	  "uplink.ip: must be outside node.pod_cidr" },
	{ "7 ip multicast", ", \"uplink\": {\"port\": \"up0\", \"ip\": \"239.1.1.1\"}}",
	  "uplink.ip: must be a unicast address" },
	{ "8 bad mode", ", \"uplink\": {\"port\": \"up0\", \"ip\": \"192.168.77.1\", \"mode\": \"gre\"}}",
	  "uplink.mode: must be" },
	{ "9 VNI 0", ", \"uplink\": {\"port\": \"up0\", \"ip\": \"192.168.77.1\", \"vni\": 0}}",
	  "uplink.vni: must be in 1..16777215" },
	{ "10 VNI 2^24", ", \"uplink\": {\"port\": \"up0\", \"ip\": \"192.168.77.1\", \"vni\": 16777216}}",
	  "uplink.vni: must be in 1..16777215" },
	{ "11 VNI with direct",
	  ", \"uplink\": {\"port\": \"up0\", \"ip\": \"192.168.77.1\", \"mode\": \"direct\", \"vni\": 5}}",
	  "uplink.vni: only with mode vxlan" },
	{ "12 via without uplink", ", \"routes\": [{\"prefix\": \"10.78.2.0/24\", \"via\": \"192.168.77.2\"}]}",
	  "routes[0].via: needs an \"uplink\" section" },
	{ "13 via and port", ", " UL ", \"routes\": [{\"prefix\": \"10.78.2.0/24\", \"via\": "
	  "\"192.168.77.2\", \"port\": \"p1\"}]}", "routes[0].via: excludes port and next_hop_mac" },
	{ "14 via our own IP", ", " UL ", \"routes\": [{\"prefix\": \"10.78.2.0/24\", \"via\": "
	  "\"192.168.77.1\"}]}", "routes[0].via: must be another node's" },
	{ "15 via not an IP", ", " UL ", \"routes\": [{\"prefix\": \"10.78.2.0/24\", \"via\": "
	  "\"node2\"}]}", "routes[0].via: must be an IPv4 address" },
	{ "17 cluster_cidr without the pod CIDR",
	  ", \"uplink\": {\"port\": \"up0\", \"ip\": \"192.168.77.1\", "
	  "\"cluster_cidr\": \"10.79.0.0/16\"}}", "uplink.cluster_cidr: must contain node.pod_cidr" },
	{ "17c cluster_cidr with host bits",
	  ", \"uplink\": {\"port\": \"up0\", \"ip\": \"10.1.0.1\", "
	  "\"cluster_cidr\": \"10.78.0.1/16\"}}", "uplink.cluster_cidr: must be a.b.c.d/len" },
	{ "17d cluster_cidr holding the underlay IP",
	  ", \"uplink\": {\"port\": \"up0\", \"ip\": \"10.1.0.1\", "
	  "\"cluster_cidr\": \"10.0.0.0/8\"}}", "uplink.cluster_cidr: must not contain uplink.ip" },
	{ "18 gateway is our own IP",
	  ", \"uplink\": {\"port\": \"up0\", \"ip\": \"192.168.77.1\", \"gateway\": \"192.168.77.1\"}}",
	  "uplink.gateway: must be another unicast address" },
	{ "19 gateway not an IP",
	  ", \"uplink\": {\"port\": \"up0\", \"ip\": \"192.168.77.1\", \"gateway\": \"router\"}}",
	  "uplink.gateway: must be an IPv4 address" },
	{ "16 via for our own CIDR", ", " UL ", \"routes\": [{\"prefix\": \"10.78.1.0/24\", \"via\": "
	  "\"192.168.77.2\"}]}", "routes[0].via: prefix is inside node.pod_cidr" },
};

static void test_config_bad(void **state)
{
	char json[1024], err[256];
	(void)state;
	for (size_t i = 0; i < sizeof(cfg_cases) / sizeof(cfg_cases[0]); i++) {
		snprintf(json, sizeof(json), "%s%s", CFG_HEAD, cfg_cases[i].tail);
		struct dpcfg *c = dpcfg_parse(json, strlen(json), err, sizeof(err));
		if (c != NULL)
			fail_msg("case %s: accepted", cfg_cases[i].name);
		if (strncmp(err, cfg_cases[i].err, strlen(cfg_cases[i].err)) != 0)
			fail_msg("case %s: error \"%s\", want \"%s...\"", cfg_cases[i].name, err,
				 cfg_cases[i].err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_route),
		cmocka_unit_test(test_config_good),
		cmocka_unit_test(test_config_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
