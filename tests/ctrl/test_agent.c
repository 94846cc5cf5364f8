/*
 * Unit tests of the node agent: desired state, its JSON file, IPC request
 * dispatch, and replay to a (fake, in-process) dp across restarts of
 * either side.
 *
 * Asserted: state survives a restart field for field; an invalid or
 * refused change leaves neither memory nor file changed; a corrupt file is
 * refused with a message naming it; a new dp incarnation gets everything
 * under a higher generation; a ctrl that restarts after a pod was removed
 * from its state makes dp sweep exactly that pod.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "agent_cni.h"
#include "agent_text.h"
#include "fake_dp.h"
#include "ipc.h"
#include "ringc.h"

static char dir[256], state_path[300], seg_path[300];

static int setup(void **s)
{
	(void)s;
	snprintf(dir, sizeof(dir), "/tmp/sluice-agent-test.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(state_path, sizeof(state_path), "%s/agent.json", dir);
	snprintf(seg_path, sizeof(seg_path), "%s/dp-ctl.shm", dir);
	return 0;
}

static int teardown(void **s)
{
	char cmd[400];
	(void)s;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void quiet(void *d, const char *line)
{
	(void)d;
	(void)line;
}

static struct agent *new_agent(struct ringc *rc)
{
	char err[256] = "";
	struct agent_params p = {.state_path = state_path, .ringc = rc, .log = quiet};
	struct agent *a = agent_create(&p, err, sizeof(err));
	if (a == NULL)
		fail_msg("agent_create: %s", err);
	return a;
}

static struct ringc *new_ringc(void)
{
	struct ringc_params p = {.path = seg_path, .timeout_ms = 3000, .log = quiet};
	struct ringc *rc = ringc_create(&p, NULL, 0);
	assert_non_null(rc);
	return rc;
}

static void add_port(struct agent *a, const char *name, unsigned kind, const char *ifname,
		     const char *path)
{
	struct agent_port p = {.kind = (uint8_t)kind};
	char err[256];
	snprintf(p.name, sizeof(p.name), "%s", name);
	snprintf(p.ifname, sizeof(p.ifname), "%s", ifname);
	snprintf(p.path, sizeof(p.path), "%s", path);
	int rc = agent_port_add(a, &p, NULL, NULL, err, sizeof(err));
	if (rc != AGENT_OK)
		fail_msg("port_add %s: %s", name, err);
}

static int add_pod(struct agent *a, const char *name, const char *ip, const char *mac,
		   const char *port, int *applied)
{
	struct agent_pod p = {0};
	char err[256];
	snprintf(p.name, sizeof(p.name), "%s", name);
	assert_int_equal(agent_parse_ip(ip, &p.family, p.addr), 0);
	assert_int_equal(agent_parse_mac(mac, p.mac), 0);
	p.port_id = agent_port_id(a, port);
	return agent_pod_add(a, &p, NULL, applied, err, sizeof(err));
}

static void add_route(struct agent *a, const char *prefix, const char *port)
{
	struct agent_route r = {.node_id = 2};
	char err[256];
	assert_int_equal(agent_parse_prefix(prefix, &r.family, r.prefix, &r.prefix_len), 0);
	assert_int_equal(agent_parse_mac("02:00:00:00:09:09", r.nh_mac), 0);
	r.port_id = agent_port_id(a, port);
	int rc = agent_route_add(a, &r, NULL, err, sizeof(err));
	if (rc != AGENT_OK)
		fail_msg("route_add %s: %s", prefix, err);
}

static const struct agent_pod *find_pod(const struct agent *a, const char *name)
{
	for (size_t i = 0; i < agent_n_pods(a); i++)
		if (strcmp(agent_pod_at(a, i)->name, name) == 0)
			return agent_pod_at(a, i);
	return NULL;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	char *buf = calloc(1, 1 << 20);
	size_t n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_persist_roundtrip(void **s)
{
	(void)s;
	struct agent *a = new_agent(NULL);
	add_port(a, "p1", RING_PORT_AF_XDP, "veth-p1", "");
	add_port(a, "m1", RING_PORT_MEMIF, "", "/run/sluice/m1.sock");
	assert_int_equal(add_pod(a, "default/web-1", "10.77.1.2", "02:00:00:00:01:02", "p1", NULL), AGENT_OK);
	assert_int_equal(add_pod(a, "default/web-2", "10.77.1.3", "02:00:00:00:01:03", "m1", NULL), AGENT_OK);
	assert_int_equal(add_pod(a, "default/db-1", "fd00::7", "02:00:00:00:01:04", "p1", NULL), AGENT_OK);
	add_route(a, "10.77.2.0/24", "p1");
	add_route(a, "10.77.3.0/24", "m1");
	char err[256];
	assert_int_equal(agent_pod_del(a, "default/web-2", NULL, err, sizeof(err)), AGENT_OK);
	uint8_t fam, pfx[16], plen;
	agent_parse_prefix("10.77.3.0/24", &fam, pfx, &plen);
	assert_int_equal(agent_route_del(a, fam, pfx, plen, NULL, err, sizeof(err)), AGENT_OK);
	const struct agent_pod *db = find_pod(a, "default/db-1");
	uint32_t db_id = db->id;
	agent_free(a);

	/* No temporary left behind: the rename happened. */
	char tmp[400];
	snprintf(tmp, sizeof(tmp), "%s.tmp", state_path);
	assert_int_not_equal(access(tmp, F_OK), 0);

	a = new_agent(NULL);
	assert_int_equal(agent_n_ports(a), 2);
	assert_int_equal(agent_n_pods(a), 2);
	assert_int_equal(agent_n_routes(a), 1);
	assert_null(find_pod(a, "default/web-2"));
	db = find_pod(a, "default/db-1");
	assert_non_null(db);
	assert_int_equal(db->id, db_id);
	assert_int_equal(db->family, RING_FAMILY_IPV6);
	assert_memory_equal(db->addr, "\xfd\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x07", 16);
	assert_memory_equal(db->mac, "\x02\x00\x00\x00\x01\x04", 6);
	const struct agent_port *m1 = agent_port_by_id(a, agent_port_id(a, "m1"));
	assert_int_equal(m1->kind, RING_PORT_MEMIF);
	assert_string_equal(m1->path, "/run/sluice/m1.sock");
	const struct agent_route *r = agent_route_at(a, 0);
	assert_int_equal(r->prefix_len, 24);
	assert_int_equal(r->node_id, 2);
	assert_int_equal(r->port_id, agent_port_id(a, "p1"));
	/* Ids are never reused, even after a restart. */
	assert_int_equal(add_pod(a, "default/web-3", "10.77.1.9", "02:00:00:00:01:09", "p1", NULL), AGENT_OK);
	assert_true(find_pod(a, "default/web-3")->id > db_id);
	agent_free(a);
}

/* A fresh node has no state directory yet: the agent makes it. */
static void test_state_dir_created(void **s)
{
	(void)s;
	char deep[400];
	snprintf(deep, sizeof(deep), "%s/var/lib/sluice/agent.json", dir);
	char err[256];
	struct agent_params p = {.state_path = deep, .log = quiet};
	struct agent *a = agent_create(&p, err, sizeof(err));
	assert_non_null(a);
	struct agent_port port = {.kind = RING_PORT_TAP};
	snprintf(port.name, sizeof(port.name), "t");
	snprintf(port.ifname, sizeof(port.ifname), "tap0");
	assert_int_equal(agent_port_add(a, &port, NULL, NULL, err, sizeof(err)), AGENT_OK);
	assert_int_equal(access(deep, F_OK), 0);
	agent_free(a);
}

static void test_reject_invalid(void **s)
{
	(void)s;
	char err[256];
	struct agent *a = new_agent(NULL);
	add_port(a, "p1", RING_PORT_AF_XDP, "veth-p1", "");
	char *before = slurp(state_path);
	assert_int_equal(add_pod(a, "x", "10.0.0.2", "01:00:5e:00:00:01", "p1", NULL), AGENT_INVAL);
	assert_int_equal(add_pod(a, "y", "10.0.0.2", "02:00:00:00:00:02", "nope", NULL), AGENT_NOENT);
	assert_int_equal(add_pod(a, "z", "10.0.0.2", "02:00:00:00:00:02", "p1", NULL), AGENT_OK);
	assert_int_equal(add_pod(a, "z", "10.0.0.3", "02:00:00:00:00:03", "p1", NULL), AGENT_EXIST);
	assert_int_equal(add_pod(a, "w", "10.0.0.2", "02:00:00:00:00:03", "p1", NULL), AGENT_EXIST);
	assert_int_equal(agent_port_del(a, "p1", NULL, err, sizeof(err)), AGENT_BUSY);
	struct agent_port bad = {.kind = RING_PORT_AF_XDP};
	snprintf(bad.name, sizeof(bad.name), "a,b");
	snprintf(bad.ifname, sizeof(bad.ifname), "veth0");
	assert_int_equal(agent_port_add(a, &bad, NULL, NULL, err, sizeof(err)), AGENT_INVAL);
	assert_non_null(strstr(err, "port name"));
	assert_int_equal(agent_n_pods(a), 1);
	assert_int_equal(agent_n_ports(a), 1);
	agent_free(a);
	char *after = slurp(state_path);
	assert_non_null(strstr(after, "\"z\""));
	assert_null(strstr(after, "a,b"));
	free(before);
	free(after);
}

static void write_file(const char *text)
{
	FILE *f = fopen(state_path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_corrupt_state(void **s)
{
	(void)s;
	static const char *const bad[] = {
		"{ not json",
		"{\"version\":2,\"generation\":1,\"next_id\":1}",
		"{\"version\":1,\"generation\":1}",
		"{\"version\":1,\"generation\":1,\"next_id\":5,\"ports\":[],\"pods\":[{\"name\":\"a\",\"id\":1,\"port_id\":9,\"ip\":\"10.0.0.2\",\"mac\":\"02:00:00:00:00:01\"}]}",
		"{\"version\":1,\"generation\":1,\"next_id\":5,\"ports\":[{\"id\":1,\"name\":\"p\",\"kind\":\"af_xdp\",\"ifname\":\"\"}]}",
		"{\"version\":1,\"generation\":1,\"next_id\":5,\"ports\":[{\"id\":1,\"name\":\"p\",\"kind\":\"tap\",\"ifname\":\"t\"}],\"routes\":[{\"prefix\":\"10.0.0.1/24\",\"node\":1,\"port_id\":1,\"nh_mac\":\"02:00:00:00:00:01\"}]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[256] = "";
		write_file(bad[i]);
		struct agent_params p = {.state_path = state_path, .log = quiet};
		struct agent *a = agent_create(&p, err, sizeof(err));
		if (a != NULL)
			fail_msg("corrupt state %zu accepted", i);
		assert_true(err[0] != '\0');
	}
	write_file("{\"version\":1,\"generation\":4,\"next_id\":5,\"ports\":[{\"id\":1,\"name\":\"p\",\"kind\":\"tap\",\"ifname\":\"t\"}]}");
	struct agent *a = new_agent(NULL);
	assert_int_equal(agent_generation(a), 4);
	agent_free(a);
}

static void test_ipc(void **s)
{
	(void)s;
	struct agent *a = new_agent(NULL);
	static const struct {
		const char *req;
		const char *expect; /* substring of the reply */
	} cases[] = {
		{"{\"op\":\"port_add\",\"name\":\"p1\",\"kind\":\"af_xdp\",\"ifname\":\"veth-p1\"}", "\"ok\":true"},
		{"{\"op\":\"pod_add\",\"name\":\"a\",\"ip\":\"10.1.0.2\",\"mac\":\"02:00:00:00:00:02\",\"port\":\"p1\"}", "\"applied\":false"},
		{"{\"op\":\"batch\",\"ops\":[{\"op\":\"route_add\",\"prefix\":\"10.2.0.0/24\",\"node\":2,\"port\":\"p1\",\"nh_mac\":\"02:00:00:00:00:09\"},{\"op\":\"pod_add\",\"name\":\"b\",\"ip\":\"10.1.0.3\",\"mac\":\"02:00:00:00:00:03\",\"port\":\"p1\"}]}", "\"ok\":true"},
		{"{\"op\":\"status\"}", "\"pods\":2"},
		{"{\"op\":\"pods\"}", "10.1.0.3"},
		{"{\"op\":\"route_add\",\"prefix\":\"10.3.0.1/24\",\"node\":2,\"port\":\"p1\",\"nh_mac\":\"02:00:00:00:00:09\"}", "\"ok\":false"},
		{"{\"op\":\"pod_add\",\"name\":\"c\",\"ip\":\"10.1.0.300\",\"mac\":\"02:00:00:00:00:03\",\"port\":\"p1\"}", "\"ok\":false"},
		{"{\"op\":\"pod_add\",\"name\":\"c\",\"ip\":10,\"mac\":\"02:00:00:00:00:03\",\"port\":\"p1\"}", "\"ok\":false"},
		{"{\"op\":\"pod_del\",\"name\":\"a\",\"name\":\"b\"}", "duplicate"},
		{"{\"op\":\"fly\"}", "unknown op"},
		{"[1,2]", "\"ok\":false"},
		{"{\"op\":\"batch\",\"ops\":[{\"op\":\"batch\",\"ops\":[]}]}", "nested"},
		{"", "\"ok\":false"},
		{"{\"op\":\"pod_del\",\"name\":\"a\"}", "\"ok\":true"},
		{"{\"op\":\"status\"}", "\"pods\":1"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *reply = ipc_handle(a, NULL, cases[i].req, strlen(cases[i].req));
		assert_non_null(reply);
		if (strstr(reply, cases[i].expect) == NULL)
			fail_msg("ipc case %zu: %s -> %s (want %s)", i + 1, cases[i].req, reply, cases[i].expect);
		free(reply);
	}
	/* Not NUL-terminated input must not be read past its length. */
	char raw[8];
	memcpy(raw, "{\"op\":\"s", 8);
	char *reply = ipc_handle(a, NULL, raw, sizeof(raw));
	assert_non_null(strstr(reply, "\"ok\":false"));
	free(reply);
	agent_free(a);
}

static unsigned count_gen(const uint64_t *gens, uint64_t gen)
{
	unsigned n = 0;
	for (size_t i = 0; i < FAKE_DP_MAX; i++)
		n += gens[i] == gen;
	return n;
}

/* Route keys in fake_dp are (prefix[1] & 63) << 8 | prefix[2] (10.x.y.0/24). */
static void test_replay_on_new_dp(void **s)
{
	(void)s;
	struct fake_dp *f = calloc(1, sizeof(*f));
	struct ringc *rc = new_ringc();
	struct agent *a = new_agent(rc);
	int applied = -1;

	add_port(a, "p1", RING_PORT_TAP, "tap-p1", "");
	assert_int_equal(add_pod(a, "a", "10.77.1.2", "02:00:00:00:01:02", "p1", &applied), AGENT_OK);
	assert_int_equal(applied, 0); /* no dp yet: accepted, not applied */
	add_route(a, "10.77.2.0/24", "p1");

	assert_int_equal(fake_dp_start(f, seg_path, 0, 0), 0);
	fake_dp_run_thread(f);
	assert_int_equal(agent_tick(a), 1); /* attaches and replays */
	assert_int_equal(agent_generation(a), 1);
	assert_int_equal(count_gen(f->port_gen, 1), 1);
	assert_int_equal(count_gen(f->pod_gen, 1), 1);
	assert_int_equal(f->route_gen[((77 & 63) << 8) | 2], 1);

	/* Live change: applied at once and acknowledged. */
	assert_int_equal(add_pod(a, "b", "10.77.1.3", "02:00:00:00:01:03", "p1", &applied), AGENT_OK);
	assert_int_equal(applied, 1);
	assert_int_equal(count_gen(f->pod_gen, 1), 2);

	/* dp dies; ctrl notices; a change meanwhile waits for the replay. */
	fake_dp_crash(f);
	assert_int_equal(agent_tick(a), 0);
	assert_int_equal(add_pod(a, "c", "10.77.1.4", "02:00:00:00:01:04", "p1", &applied), AGENT_OK);
	assert_int_equal(applied, 0);

	assert_int_equal(fake_dp_start(f, seg_path, 0, 0), 0);
	fake_dp_run_thread(f);
	assert_int_equal(agent_tick(a), 1);
	assert_int_equal(agent_generation(a), 2);
	assert_int_equal(count_gen(f->port_gen, 2), 1);
	assert_int_equal(count_gen(f->pod_gen, 2), 3);
	assert_int_equal(fake_dp_count(f->pod_gen), 3);
	assert_int_equal(ctl_ring_generation(f->ctl), 2);
	fake_dp_stop(f);
	agent_free(a);
	ringc_free(rc);
	free(f);
}

static void test_ctrl_restart_sweeps_stale(void **s)
{
	(void)s;
	struct fake_dp *f = calloc(1, sizeof(*f));
	assert_int_equal(fake_dp_start(f, seg_path, 0, 0), 0);
	fake_dp_run_thread(f);

	struct ringc *rc = new_ringc();
	struct agent *a = new_agent(rc);
	assert_int_equal(agent_tick(a), 1);
	add_port(a, "p1", RING_PORT_TAP, "tap-p1", "");
	assert_int_equal(add_pod(a, "a", "10.77.1.2", "02:00:00:00:01:02", "p1", NULL), AGENT_OK);
	assert_int_equal(add_pod(a, "b", "10.77.1.3", "02:00:00:00:01:03", "p1", NULL), AGENT_OK);
	assert_int_equal(add_pod(a, "c", "10.77.1.4", "02:00:00:00:01:04", "p1", NULL), AGENT_OK);
	uint32_t id_b = find_pod(a, "b")->id;
	assert_int_equal(fake_dp_count(f->pod_gen), 3);
	/* ctrl "killed": no goodbye to dp, which keeps everything. */
	agent_free(a);
	ringc_free(rc);
	assert_int_equal(fake_dp_count(f->pod_gen), 3);

	/* Meanwhile pod b leaves the desired state (edited offline). */
	a = new_agent(NULL);
	char err[256];
	assert_int_equal(agent_pod_del(a, "b", NULL, err, sizeof(err)), AGENT_OK);
	agent_free(a);

	rc = new_ringc();
	a = new_agent(rc);
	assert_int_equal(agent_tick(a), 1);
	assert_int_equal(agent_generation(a), 2);
	assert_int_equal(f->pod_gen[id_b], 0);
	assert_int_equal(fake_dp_count(f->pod_gen), 2);
	assert_int_equal(count_gen(f->pod_gen, 2), 2);
	struct ctl_ring_stats st;
	ctl_ring_get_stats(f->ctl, &st);
	assert_int_equal(st.swept, 1);
	fake_dp_stop(f);
	agent_free(a);
	ringc_free(rc);
	free(f);
}

static void test_dp_refusal_rolls_back(void **s)
{
	(void)s;
	struct fake_dp *f = calloc(1, sizeof(*f));
	assert_int_equal(fake_dp_start(f, seg_path, 0, 0), 0);
	fake_dp_run_thread(f);
	struct ringc *rc = new_ringc();
	struct agent *a = new_agent(rc);
	assert_int_equal(agent_tick(a), 1);
	add_port(a, "p1", RING_PORT_TAP, "tap-p1", "");
	f->fail_pod_add = -ENOSPC;
	assert_int_equal(add_pod(a, "a", "10.77.1.2", "02:00:00:00:01:02", "p1", NULL), AGENT_DP);
	assert_int_equal(agent_n_pods(a), 0);
	f->fail_pod_add = 0;
	/* In a batch too: the refused entries are rolled back and counted. */
	f->fail_pod_add = -ENOSPC;
	agent_batch_begin(a);
	assert_int_equal(add_pod(a, "b", "10.77.1.3", "02:00:00:00:01:03", "p1", NULL), AGENT_OK);
	assert_int_equal(add_pod(a, "c", "10.77.1.4", "02:00:00:00:01:04", "p1", NULL), AGENT_OK);
	unsigned dperr = 0;
	char err[256];
	assert_int_equal(agent_batch_end(a, &dperr, err, sizeof(err)), AGENT_DP);
	assert_int_equal(dperr, 2);
	assert_non_null(strstr(err, "No space"));
	assert_int_equal(agent_n_pods(a), 0);
	f->fail_pod_add = 0;
	assert_int_equal(add_pod(a, "d", "10.77.1.5", "02:00:00:00:01:05", "p1", NULL), AGENT_OK);
	agent_free(a);
	a = new_agent(NULL);
	assert_int_equal(agent_n_pods(a), 1);
	assert_non_null(find_pod(a, "d"));
	agent_free(a);
	ringc_free(rc);
	fake_dp_stop(f);
	free(f);
}

static char *cni_call(struct agent *a, const struct agent_cni_config *cfg, const char *req)
{
	char *r = ipc_handle(a, cfg, req, strlen(req));
	assert_non_null(r);
	return r;
}

static void expect(struct agent *a, const struct agent_cni_config *cfg, const char *req,
		   const char *want)
{
	char *r = cni_call(a, cfg, req);
	if (strstr(r, want) == NULL)
		fail_msg("%s -> %s (want %s)", req, r, want);
	free(r);
}

/* Keys as the plugin computes them (FNV-1a 64 of "cid/ifname", low 48 bits). */
#define K1 "sl0123456789ab"
#define K2 "sl0123456789ac"

static void test_cni(void **s)
{
	(void)s;
	static const struct agent_cni_config cfg = {"10.77.1.0/24", "10.77.1.1", "10.96.0.10"};
	struct fake_dp *f = calloc(1, sizeof(*f));
	assert_int_equal(fake_dp_start(f, seg_path, 0, 0), 0);
	fake_dp_run_thread(f);
	struct ringc *rc = new_ringc();
	struct agent *a = new_agent(rc);
	assert_int_equal(agent_tick(a), 1);

	expect(a, &cfg, "{\"v\":1,\"op\":\"cni.status\",\"network\":\"n\"}",
	       "\"agent_ready\":true,\"dp_ready\":true");
	expect(a, NULL, "{\"v\":1,\"op\":\"cni.status\"}", "\"agent_ready\":false");
	const char *add1 = "{\"v\":1,\"op\":\"cni.add\",\"key\":\"" K1 "\",\"mode\":\"veth\","
			   "\"host_ifname\":\"" K1 "\",\"pod_mac\":\"ba:90:ac:a5:66:dd\"}";
	/* First free address: .1 is the gateway. */
	expect(a, &cfg, add1, "\"address\":\"10.77.1.2/24\",\"gateway\":\"10.77.1.1\"");
	expect(a, &cfg, add1, "\"address\":\"10.77.1.2/24\""); /* retried ADD: same */
	assert_int_equal(agent_n_pods(a), 1);
	assert_int_equal(agent_n_ports(a), 1);
	assert_int_equal(fake_dp_count(f->pod_gen), 1);
	expect(a, &cfg, "{\"v\":1,\"op\":\"cni.add\",\"key\":\"" K2 "\",\"mode\":\"memif\","
			"\"socket_path\":\"/run/sluice/cni/" K2 ".sock\"}",
	       "\"mac\":\"02:00:0a:4d:01:03\"");
	expect(a, &cfg, "{\"v\":1,\"op\":\"cni.check\",\"key\":\"" K1 "\",\"ips\":[\"10.77.1.2/24\"]}",
	       "\"ok\":true");
	expect(a, &cfg, "{\"v\":1,\"op\":\"cni.check\",\"key\":\"" K1 "\",\"ips\":[\"10.77.1.3/24\"]}",
	       "mismatch");
	expect(a, &cfg, "{\"v\":1,\"op\":\"cni.check\",\"key\":\"sl0000000000ff\",\"ips\":[\"10.77.1.3/24\"]}",
	       "unknown_container");
	expect(a, &cfg, "{\"v\":1,\"op\":\"cni.add\",\"key\":\"bad\",\"mode\":\"veth\"}", "invalid");
	expect(a, &cfg, "{\"op\":\"cni.add\",\"key\":\"" K1 "\",\"mode\":\"veth\"}", "invalid");

	/* DEL is idempotent. */
	expect(a, &cfg, "{\"v\":1,\"op\":\"cni.del\",\"key\":\"" K1 "\"}", "\"ok\":true");
	expect(a, &cfg, "{\"v\":1,\"op\":\"cni.del\",\"key\":\"" K1 "\"}", "\"ok\":true");
	assert_int_equal(agent_n_pods(a), 1);
	assert_int_equal(agent_n_ports(a), 1);
	/* The freed address is handed out again. */
	expect(a, &cfg, "{\"v\":1,\"op\":\"cni.add\",\"key\":\"sl00000000000a\",\"mode\":\"veth\","
			"\"host_ifname\":\"veth-x\",\"pod_mac\":\"02:00:00:00:00:0a\"}",
	       "10.77.1.2/24");
	/* gc with an empty valid list collects every CNI attachment, only those. */
	add_port(a, "own", RING_PORT_TAP, "tap-own", "");
	assert_int_equal(add_pod(a, "not-cni", "10.77.1.200", "02:00:00:00:00:c8", "own", NULL), AGENT_OK);
	expect(a, &cfg, "{\"v\":1,\"op\":\"cni.gc\",\"network\":\"n\",\"valid\":[]}", "\"removed\":2");
	assert_int_equal(agent_n_pods(a), 1);
	assert_non_null(find_pod(a, "not-cni"));

	/* A pending release written by the plugin is applied and unlinked. */
	char pdir[400], rec[500];
	snprintf(pdir, sizeof(pdir), "%s/cni/pending", dir);
	char mk[500];
	snprintf(mk, sizeof(mk), "mkdir -p '%s'", pdir);
	assert_int_equal(system(mk), 0);
	expect(a, &cfg, "{\"v\":1,\"op\":\"cni.add\",\"key\":\"sl079c4f5965dc\",\"mode\":\"veth\","
			"\"host_ifname\":\"sl079c4f5965dc\",\"pod_mac\":\"02:00:00:00:00:0b\"}", "\"ok\":true");
	snprintf(rec, sizeof(rec), "%s/0123456789abcdef.json", pdir);
	FILE *fp = fopen(rec, "w");
	fputs("{\"v\":1,\"network\":\"n\",\"container_id\":\"c0ffee\",\"ifname\":\"eth0\"}", fp);
	fclose(fp);
	char torn[500];
	snprintf(torn, sizeof(torn), "%s/fedcba9876543210.json", pdir);
	fp = fopen(torn, "w");
	fputs("{\"v\":1,\"contai", fp);
	fclose(fp);
	char cnidir[400];
	snprintf(cnidir, sizeof(cnidir), "%s/cni", dir);
	assert_int_equal(agent_cni_pending(a, cnidir), 1);
	assert_null(find_pod(a, "sl079c4f5965dc")); /* key of c0ffee/eth0, as the plugin hashes it */
	assert_int_not_equal(access(rec, F_OK), 0);
	assert_int_not_equal(access(torn, F_OK), 0);

	/* dp refuses the pod: nothing of the attachment is left. */
	f->fail_pod_add = -ENOSPC;
	expect(a, &cfg, add1, "sluice-dp refused");
	assert_null(find_pod(a, K1));
	assert_int_equal(agent_port_id(a, K1), 0);
	f->fail_pod_add = 0;

	fake_dp_stop(f);
	agent_free(a);
	ringc_free(rc);
	free(f);
}

/* A TCP listener on 127.0.0.1 (port in *port); the fd. */
static int listen_lo(uint16_t *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1024), 0); /* probes never accepted */
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void ipc_ok(struct agent *a, const char *req)
{
	char *reply = ipc_handle(a, NULL, req, strlen(req));
	assert_non_null(reply);
	if (strstr(reply, "\"ok\":true") == NULL)
		fail_msg("%s -> %s", req, reply);
	free(reply);
}

/* backend.set of service "web": 127.0.0.1 at p[0] (weight w0), p[1], p[2]. */
static void backend_set3(char *out, size_t len, const uint16_t p[3], int w0)
{
	snprintf(out, len,
		 "{\"op\":\"backend.set\",\"service\":\"web\",\"backends\":["
		 "{\"ip\":\"127.0.0.1\",\"port\":%u,\"weight\":%d},"
		 "{\"ip\":\"127.0.0.1\",\"port\":%u,\"weight\":1},"
		 "{\"ip\":\"127.0.0.1\",\"port\":%u,\"weight\":1}]}",
		 p[0], w0, p[1], p[2]);
}

/* The weights dp holds for backend ids first..first+2 ("w1 w2 w3", - = absent). */
static void dp_weights(const struct fake_dp *f, uint32_t first, char *out, size_t len)
{
	out[0] = '\0';
	for (uint32_t id = first; id < first + 3; id++) {
		size_t n = strlen(out);
		uint32_t w = __atomic_load_n(&f->be_weight[id], __ATOMIC_ACQUIRE);
		if (w == 0)
			snprintf(out + n, len - n, "%s-", n ? " " : "");
		else
			snprintf(out + n, len - n, "%s%u", n ? " " : "", w - 1);
	}
}

/* Tick the agent (health checks) until dp holds `want`, for up to 5 s. */
static void tick_until(struct agent *a, const struct fake_dp *f, uint32_t first, const char *want)
{
	char got[64];
	for (int i = 0; i < 500; i++) {
		(void)agent_tick(a);
		dp_weights(f, first, got, sizeof(got));
		if (strcmp(got, want) == 0)
			return;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	fail_msg("dp weights \"%s\", want \"%s\"", got, want);
}

/*
 * Panic mode follows operator weights too: with b2 and b3 failing their
 * checks (drained: 1 0 0), draining the only healthy b1 leaves every
 * weighted backend failing, so health is ignored and b2 and b3 must get
 * their weights back (0 1 1), not stay at 0 with b1 (0 0 0: no backend).
 */
static void test_lb_panic_follows_backend_set(void **s)
{
	(void)s;
	struct fake_dp *f = calloc(1, sizeof(*f));
	struct ringc *rc = new_ringc();
	struct agent *a = new_agent(rc);
	uint16_t p[3];
	int fd[3];
	char set[1024];

	for (int i = 0; i < 3; i++)
		fd[i] = listen_lo(&p[i]);
	assert_int_equal(fake_dp_start(f, seg_path, 0, 0), 0);
	fake_dp_run_thread(f);
	assert_int_equal(agent_tick(a), 1);
	ipc_ok(a, "{\"op\":\"svc.add\",\"name\":\"web\",\"vip\":\"10.96.0.10\",\"port\":80,"
		  "\"proto\":\"tcp\",\"health\":{\"type\":\"tcp\",\"interval_ms\":50,"
		  "\"timeout_ms\":40,\"fall\":1,\"rise\":1}}");
	backend_set3(set, sizeof(set), p, 1);
	ipc_ok(a, set);
	uint32_t first = 0;
	for (uint32_t id = 1; id < FAKE_DP_MAX && first == 0; id++)
		if (f->be_weight[id] != 0)
			first = id;
	assert_true(first != 0);
	tick_until(a, f, first, "1 1 1");
	close(fd[1]);
	close(fd[2]);
	tick_until(a, f, first, "1 0 0"); /* b2, b3 refused: drained */
	backend_set3(set, sizeof(set), p, 0);
	ipc_ok(a, set);
	char got[64];
	dp_weights(f, first, got, sizeof(got));
	assert_string_equal(got, "0 1 1"); /* at once, by backend.set itself */
	close(fd[0]);
	fake_dp_stop(f);
	agent_free(a);
	ringc_free(rc);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_persist_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_dir_created, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_on_new_dp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctrl_restart_sweeps_stale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dp_refusal_rolls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cni, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lb_panic_follows_backend_set, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
