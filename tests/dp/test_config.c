/*
 * Unit tests of dp/config: a valid config parses into exactly what it
 * says; each bad field (numbered cases) is refused with the one-line
 * message that names it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

#define NODE "\"node\":{\"pod_cidr\":\"10.77.1.0/24\",\"gateway_ip\":\"10.77.1.1\"," \
	     "\"gateway_mac\":\"02:00:00:00:00:01\"}"
#define PORTS "\"ports\":[{\"name\":\"p1\",\"type\":\"af_xdp\",\"iface\":\"veth1\"}," \
	      "{\"name\":\"tap0\",\"type\":\"tap\",\"iface\":\"sl-tap0\"}]"

static const char good[] =
	"{\"node\":{\"pod_cidr\":\"10.77.1.0/24\",\"gateway_ip\":\"10.77.1.1\","
	"\"gateway_mac\":\"02:00:00:00:00:01\",\"icmp_rate\":50,\"icmp_burst\":5},"
	"\"ports\":[{\"name\":\"p1\",\"type\":\"af_xdp\",\"iface\":\"veth1\"},"
	"{\"name\":\"g0\",\"type\":\"memif\",\"socket\":\"/run/g0.sock\",\"role\":\"client\",\"id\":7},"
	"{\"name\":\"tap0\",\"type\":\"tap\",\"iface\":\"sl-tap0\"},"
	"{\"name\":\"vh0\",\"type\":\"vhost_user\",\"socket\":\"/run/vh.sock\",\"client\":true},"
	"{\"name\":\"up\",\"type\":\"uplink\",\"iface\":\"eth9\"},"
	"{\"name\":\"p2\",\"type\":\"af_packet\",\"iface\":\"veth2\"}],"
	"\"pods\":[{\"ip\":\"10.77.1.2\",\"mac\":\"02:00:00:00:01:02\",\"port\":\"p1\"}],"
	"\"routes\":[{\"prefix\":\"10.77.2.0/24\",\"port\":\"g0\",\"next_hop_mac\":\"02:aa:00:00:00:01\"}],"
	"\"host\":{\"port\":\"tap0\",\"ip\":\"10.77.1.254\"}}";

static uint32_t a(const char *s)
{
	struct in_addr x;
	assert_int_equal(inet_pton(AF_INET, s, &x), 1);
	return x.s_addr;
}

static void test_good(void **state)
{
	char err[256];
	(void)state;
	struct dpcfg *c = dpcfg_parse(good, strlen(good), err, sizeof(err));
	if (c == NULL)
		fail_msg("good config refused: %s", err);
	assert_int_equal(c->node.pod_net, a("10.77.1.0"));
	assert_int_equal(c->node.pod_depth, 24);
	assert_int_equal(c->node.gateway_ip, a("10.77.1.1"));
	assert_int_equal(c->node.icmp_rate, 50);
	assert_int_equal(c->node.icmp_burst, 5);
	assert_int_equal(c->n_ports, 6);
	assert_int_equal(c->ports[0].type, DP_PORT_AF_XDP);
	assert_string_equal(c->ports[0].iface, "veth1");
	assert_int_equal(c->ports[1].type, DP_PORT_MEMIF);
	assert_int_equal(c->ports[1].memif_server, 0);
	assert_int_equal(c->ports[1].memif_id, 7);
	assert_string_equal(c->ports[1].socket, "/run/g0.sock");
	assert_int_equal(c->ports[3].type, DP_PORT_VHOST_USER);
	assert_int_equal(c->ports[3].vhost_client, 1);
	assert_int_equal(c->ports[4].type, DP_PORT_UPLINK);
	assert_int_equal(c->ports[5].type, DP_PORT_AF_PACKET);
	assert_int_equal(c->n_pods, 1);
	assert_int_equal(c->pods[0].ip, a("10.77.1.2"));
	const uint8_t mac[6] = { 2, 0, 0, 0, 1, 2 };
	assert_memory_equal(c->pods[0].mac, mac, 6);
	assert_string_equal(c->pods[0].port, "p1");
	assert_int_equal(c->n_routes, 1);
	assert_int_equal(c->routes[0].prefix, a("10.77.2.0"));
	assert_int_equal(c->routes[0].depth, 24);
	assert_int_equal(c->has_host, 1);
	assert_int_equal(c->host_ip, a("10.77.1.254"));
	dpcfg_free(c);
	dpcfg_free(NULL);
}

static void test_defaults(void **state)
{
	char err[256];
	const char *s = "{" NODE "," PORTS "}";
	(void)state;
	struct dpcfg *c = dpcfg_parse(s, strlen(s), err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(c->node.icmp_rate, 100);
	assert_int_equal(c->node.icmp_burst, 10);
	assert_int_equal(c->node.idle_backoff_us, 200);
	assert_int_equal(c->n_pods, 0);
	assert_int_equal(c->has_host, 0);
	dpcfg_free(c);
}

struct bad_case {
	const char *json;
	const char *msg; /* exact message */
};

static const struct bad_case bad[] = {
	/*  1 */ { "", "json: line 1 column 0: '[' or '{' expected near end of file" },
	/*  2 */ { "[]", "(root): must be an object" },
	/*  3 */ { "{" PORTS "}", "node: missing" },
	/*  4 */ { "{\"node\":1," PORTS "}", "node: must be an object" },
	/*  5 */ { "{\"node\":{\"pod_cidr\":\"10.77.1.1/24\",\"gateway_ip\":\"10.77.1.1\",\"gateway_mac\":\"02:00:00:00:00:01\"}," PORTS "}",
		   "node.pod_cidr: must be a.b.c.d/len with len 8..32 and no host bits" },
	/*  6 */ { "{\"node\":{\"pod_cidr\":\"10.0.0.0/7\",\"gateway_ip\":\"10.77.1.1\",\"gateway_mac\":\"02:00:00:00:00:01\"}," PORTS "}",
		   "node.pod_cidr: must be a.b.c.d/len with len 8..32 and no host bits" },
	/*  7 */ { "{\"node\":{\"pod_cidr\":\"10.77.1.0/24\",\"gateway_ip\":\"10.77.2.1\",\"gateway_mac\":\"02:00:00:00:00:01\"}," PORTS "}",
		   "node.gateway_ip: must be inside node.pod_cidr" },
	/*  8 */ { "{\"node\":{\"pod_cidr\":\"10.77.1.0/24\",\"gateway_ip\":\"10.77.1\",\"gateway_mac\":\"02:00:00:00:00:01\"}," PORTS "}",
		   "node.gateway_ip: must be an IPv4 address a.b.c.d" },
	/*  9 */ { "{\"node\":{\"pod_cidr\":\"10.77.1.0/24\",\"gateway_ip\":\"10.77.1.1\",\"gateway_mac\":\"02:00:00:00:00\"}," PORTS "}",
		   "node.gateway_mac: must be a MAC xx:xx:xx:xx:xx:xx" },
	/* 10 */ { "{\"node\":{\"pod_cidr\":\"10.77.1.0/24\",\"gateway_ip\":\"10.77.1.1\",\"gateway_mac\":\"01:00:00:00:00:01\"}," PORTS "}",
		   "node.gateway_mac: must be a unicast MAC" },
	/* 11 */ { "{\"node\":{\"pod_cidr\":\"10.77.1.0/24\",\"gateway_ip\":\"10.77.1.1\",\"gateway_mac\":\"02:00:00:00:00:01\",\"icmp_rate\":-1}," PORTS "}",
		   "node.icmp_rate: must be in 0..1000000" },
	/* 12 */ { "{\"node\":{\"pod_cidr\":\"10.77.1.0/24\",\"gateway_ip\":\"10.77.1.1\",\"gateway_mac\":\"02:00:00:00:00:01\",\"icmp_burst\":\"5\"}," PORTS "}",
		   "node.icmp_burst: must be an integer" },
	/* 13 */ { "{\"node\":{\"pod_cidr\":\"10.77.1.0/24\",\"gatway_ip\":\"10.77.1.1\"}," PORTS "}",
		   "node.gatway_ip: unknown key" },
	/* 14 */ { "{" NODE "}", "ports: missing" },
	/* 15 */ { "{" NODE ",\"ports\":[]}", "ports: must be an array of 1..256 ports" },
	/* 16 */ { "{" NODE ",\"ports\":[{\"name\":\"p1\",\"type\":\"afxdp\",\"iface\":\"v\"}]}",
		   "ports[0].type: must be one of af_xdp, af_packet, memif, tap, vhost_user, uplink" },
	/* 17 */ { "{" NODE ",\"ports\":[{\"name\":\"p1\",\"type\":\"af_xdp\"}]}", "ports[0].iface: missing" },
	/* 18 */ { "{" NODE ",\"ports\":[{\"name\":\"p1\",\"type\":\"af_xdp\",\"iface\":\"a,b\"}]}",
		   "ports[0].iface: must not contain , = / or space" },
	/* 19 */ { "{" NODE ",\"ports\":[{\"name\":\"p1\",\"type\":\"af_xdp\",\"iface\":\"0123456789abcdef\"}]}",
		   "ports[0].iface: must be 1..15 characters" },
	/* 20 */ { "{" NODE ",\"ports\":[{\"name\":\"p-1\",\"type\":\"af_xdp\",\"iface\":\"v\"}]}",
		   "ports[0].name: must use only A-Z a-z 0-9 _" },
	/* 21 */ { "{" NODE ",\"ports\":[{\"name\":\"p1\",\"type\":\"af_xdp\",\"iface\":\"v\"},{\"name\":\"p1\",\"type\":\"tap\",\"iface\":\"t\"}]}",
		   "ports[1].name: duplicate port name \"p1\"" },
	/* 22 */ { "{" NODE ",\"ports\":[{\"name\":\"m\",\"type\":\"memif\",\"socket\":\"rel.sock\"}]}",
		   "ports[0].socket: must be an absolute path without , = or space" },
	/* 23 */ { "{" NODE ",\"ports\":[{\"name\":\"m\",\"type\":\"memif\",\"socket\":\"/x\",\"role\":\"master\"}]}",
		   "ports[0].role: must be \"server\" or \"client\"" },
	/* 24 */ { "{" NODE ",\"ports\":[{\"name\":\"m\",\"type\":\"memif\",\"socket\":\"/x\",\"id\":70000}]}",
		   "ports[0].id: must be in 0..65535" },
	/* 25 */ { "{" NODE ",\"ports\":[{\"name\":\"m\",\"type\":\"tap\",\"iface\":\"t\",\"socket\":\"/x\"}]}",
		   "ports[0].socket: not valid for type tap" },
	/* 26 */ { "{" NODE "," PORTS ",\"pods\":[{\"ip\":\"10.77.2.5\",\"mac\":\"02:00:00:00:01:02\",\"port\":\"p1\"}]}",
		   "pods[0].ip: must be inside node.pod_cidr" },
	/* 27 */ { "{" NODE "," PORTS ",\"pods\":[{\"ip\":\"10.77.1.1\",\"mac\":\"02:00:00:00:01:02\",\"port\":\"p1\"}]}",
		   "pods[0].ip: is the gateway IP" },
	/* 28 */ { "{" NODE "," PORTS ",\"pods\":[{\"ip\":\"10.77.1.5\",\"mac\":\"02:00:00:00:01:02\",\"port\":\"p9\"}]}",
		   "pods[0].port: no port named \"p9\"" },
	/* 29 */ { "{" NODE "," PORTS ",\"pods\":[{\"ip\":\"10.77.1.5\",\"mac\":\"02:00:00:00:01:02\",\"port\":\"p1\"},{\"ip\":\"10.77.1.5\",\"mac\":\"02:00:00:00:01:03\",\"port\":\"p1\"}]}",
		   "pods[1].ip: duplicate of pods[0].ip" },
	/* 30 */ { "{" NODE "," PORTS ",\"pods\":[{\"ip\":\"10.77.1.5\",\"mac\":\"zz:00:00:00:01:02\",\"port\":\"p1\"}]}",
		   "pods[0].mac: must be a MAC xx:xx:xx:xx:xx:xx" },
	/* 31 */ { "{" NODE "," PORTS ",\"pods\":{}}", "pods: must be an array" },
	/* 32 */ { "{" NODE "," PORTS ",\"routes\":[{\"prefix\":\"10.77.2.1/24\",\"port\":\"p1\",\"next_hop_mac\":\"02:00:00:00:01:02\"}]}",
		   "routes[0].prefix: must be a.b.c.d/len with len 0..32 and no host bits" },
	/* 33 */ { "{" NODE "," PORTS ",\"routes\":[{\"prefix\":\"0.0.0.0/0\",\"port\":\"p1\",\"next_hop_mac\":\"02:00:00:00:01:02\"}]}",
		   "routes[0].prefix: length 0 unsupported, use 0.0.0.0/1 and 128.0.0.0/1" },
	/* 34 */ { "{" NODE "," PORTS ",\"routes\":[{\"prefix\":\"10.1.0.0/16\",\"port\":\"p1\"}]}",
		   "routes[0].next_hop_mac: missing" },
	/* 35 */ { "{" NODE "," PORTS ",\"host\":{\"port\":\"p1\",\"ip\":\"10.77.1.254\"}}",
		   "host.port: must name a port of type tap" },
	/* 36 */ { "{" NODE "," PORTS ",\"host\":{\"port\":\"tap0\",\"ip\":\"10.77.1.1\"}}",
		   "host.ip: is the gateway IP" },
	/* 37 */ { "{" NODE "," PORTS ",\"extra\":1}", "(root).extra: unknown key" },
	/* 38 */ { "{" NODE "," NODE "," PORTS "}", "json: line 1 column 101: duplicate object key near '\"node\"'" },
	/* 39 */ { "{" NODE "," PORTS ",\"pods\":[{\"ip\":\"10.77.1.5\",\"mac\":\"02:00:00:00:01:02\",\"port\":\"p1\"}],"
		   "\"host\":{\"port\":\"tap0\",\"ip\":\"10.77.1.5\"}}", "host.ip: is also pods[0].ip" },
	/* 41 */ { "{\"node\":{\"pod_cidr\":\"10.77.1.0/24\",\"gateway_ip\":\"10.77.1.1\",\"gateway_mac\":\"02:00:00:00:00:01\",\"idle_backoff_us\":100001}," PORTS "}",
		   "node.idle_backoff_us: must be in 0..100000" },
	/* 40 */ { "{" NODE ",\"ports\":[{\"name\":\"v\",\"type\":\"vhost_user\",\"socket\":\"/x\",\"client\":1}]}",
		   "ports[0].client: must be true or false" },
};

static void test_bad_fields(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[256] = "";
		errno = 0;
		struct dpcfg *c = dpcfg_parse(bad[i].json, strlen(bad[i].json), err, sizeof(err));
		if (c != NULL) {
			dpcfg_free(c);
			fail_msg("case %zu accepted", i + 1);
		}
		if (errno != EINVAL || strcmp(err, bad[i].msg) != 0)
			fail_msg("case %zu: errno %d, message \"%s\", want \"%s\"", i + 1, errno, err,
				 bad[i].msg);
	}
}

static void test_helpers(void **state)
{
	uint8_t mac[6];
	uint32_t net;
	uint8_t d;
	(void)state;
	assert_int_equal(dpcfg_parse_mac("aA:bB:cc:00:11:ff", mac), 0);
	assert_int_equal(mac[0], 0xaa);
	assert_int_equal(mac[5], 0xff);
	assert_int_equal(dpcfg_parse_mac("aa:bb:cc:00:11:ff:", mac), -EINVAL);
	assert_int_equal(dpcfg_parse_mac("aa-bb-cc-00-11-ff", mac), -EINVAL);
	assert_int_equal(dpcfg_parse_mac("a:bb:cc:00:11:ff", mac), -EINVAL);
	assert_int_equal(dpcfg_parse_prefix("10.0.0.0/8", &net, &d), 0);
	assert_int_equal(d, 8);
	assert_int_equal(dpcfg_parse_prefix("10.0.0.0/33", &net, &d), -EINVAL);
	assert_int_equal(dpcfg_parse_prefix("10.0.0.0/", &net, &d), -EINVAL);
	assert_int_equal(dpcfg_parse_prefix("10.0.0.0/+8", &net, &d), -EINVAL);
	assert_int_equal(dpcfg_parse_prefix("10.0.0.0", &net, &d), -EINVAL);
	assert_int_equal(dpcfg_parse_prefix("0.0.0.0/0", &net, &d), 0);
}

static void test_option_table(void **state)
{
	uint32_t v = 7;
	struct dp_params p;
	(void)state;
	const struct dpcfg_opt *o = dpcfg_opt_find("--idle-backoff-us");
	assert_non_null(o);
	assert_ptr_equal(o, dpcfg_opt_find("idle_backoff_us"));
	assert_true(o->runtime);
	assert_int_equal(dpcfg_opt_parse(o, "0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(dpcfg_opt_parse(o, "100000", &v), 0);
	assert_int_equal(dpcfg_opt_parse(o, "100001", &v), -EINVAL);
	assert_int_equal(dpcfg_opt_parse(o, "-1", &v), -EINVAL);
	assert_int_equal(dpcfg_opt_parse(o, "", &v), -EINVAL);
	assert_int_equal(dpcfg_opt_parse(o, "12x", &v), -EINVAL);
	assert_int_equal(dpcfg_opt_parse(o, "99999999999", &v), -EINVAL);
	memset(&p, 0, sizeof(p));
	dpcfg_opt_store(o, &p, 321);
	assert_int_equal(p.idle_backoff_us, 321);
	assert_null(dpcfg_opt_find("nope"));
	assert_false(dpcfg_opt_find("icmp_rate")->runtime);
	/* JSON sets it too */
	char err[256];
	const char *s = "{\"node\":{\"pod_cidr\":\"10.77.1.0/24\",\"gateway_ip\":\"10.77.1.1\","
			"\"gateway_mac\":\"02:00:00:00:00:01\",\"idle_backoff_us\":0}," PORTS "}";
	struct dpcfg *c = dpcfg_parse(s, strlen(s), err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(c->node.idle_backoff_us, 0);
	dpcfg_free(c);
}

static void test_load_missing_file(void **state)
{
	char err[256];
	(void)state;
	assert_null(dpcfg_load("/nonexistent/sluice.json", err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_string_equal(err, "/nonexistent/sluice.json: No such file or directory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_bad_fields),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_option_table),
		cmocka_unit_test(test_load_missing_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
