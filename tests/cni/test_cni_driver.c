/*
 * test_cni_driver: sluice-cni end to end, as a runtime drives it.
 *
 * Execs the real binary (argv[1]) with a clean environment against the
 * fake agent (argv[2]) on a private ipc path. Unit suite: no root, so the
 * attachment mode is memif (no kernel interface; CNI_NETNS is this
 * process's own /proc/self/ns/net, which any user can open). The veth path
 * is covered by the root integration test cni_netns.sh.
 *
 * The version x command table states, for every supported spec version,
 * what each command must return and what shape its output has (SPEC.md
 * 1.1.0 "Version considerations"; 0.4.0 and 1.0.0 spec texts).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>

#include "cni_harness.h"

static struct cni_h H;
static const char *NETNS = "/proc/self/ns/net";
/* Generous enough for a loaded CI machine; only agent-down cases wait it out. */
static int TIMEOUT_MS = 1000;
static const char *VERSIONS[] = { "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0" };

/* A memif network config for version v, with extra top-level JSON members (may be ""). */
static char *conf(const char *v, const char *extra)
{
	static char buf[32768];
	if (snprintf(buf, sizeof(buf),
		 "{\"cniVersion\":\"%s\",\"name\":\"sl-test\",\"type\":\"sluice-cni\","
		 "\"mode\":\"memif\",\"agentSocket\":\"%s\",\"timeoutMs\":%d,"
		 "\"socketDir\":\"%s\",\"deviceInfoDir\":\"%s\",\"stateDir\":\"%s\"%s%s}",
		 v, H.url, TIMEOUT_MS, H.sockdir, H.devdir, H.state, extra[0] ? "," : "", extra) >=
	    (int)sizeof(buf))
		fail_msg("config too long");
	return buf;
}

static struct cni_h_env env(const char *cmd, const char *cid)
{
	struct cni_h_env e = { .command = cmd, .container_id = cid, .netns = NETNS,
			       .ifname = "eth0", .args = "K8S_POD_NAME=p;K8S_POD_NAMESPACE=default",
			       .path = "/opt/cni/bin" };
	return e;
}

static json_t *parse(const char *out)
{
	json_t *j = json_loads(out, 0, NULL);
	if (j == NULL)
		fail_msg("output is not JSON: %s", out);
	return j;
}

/* Assert an error JSON with code; returns nothing. */
static void assert_code(int rc, const char *out, int code)
{
	assert_int_equal(rc, 1);
	json_t *j = parse(out);
	assert_int_equal(json_integer_value(json_object_get(j, "code")), code);
	assert_non_null(json_string_value(json_object_get(j, "msg")));
	assert_non_null(json_string_value(json_object_get(j, "cniVersion")));
	json_decref(j);
}

static char *devinfo_path(const char *cid)
{
	static char p[512];
	snprintf(p, sizeof(p), "%s/sl-test-%s-eth0-device.json", H.devdir, cid);
	return p;
}

static char *subdir(const char *kind)
{
	static char p[512];
	snprintf(p, sizeof(p), "%s/%s", H.state, kind);
	return p;
}

/* ------------------------------------------------------------------ */

enum shape { S_ERR, S_RESULT, S_EMPTY, S_VERSION };
struct vc_case {
	const char *cmd;
	bool min_040, min_110; /* the command needs at least this version */
	enum shape shape;
};

static void vc_check_result(const char *v, const char *out)
{
	json_t *j = parse(out);
	bool v1 = v[0] == '1';
	assert_string_equal(json_string_value(json_object_get(j, "cniVersion")), v);
	json_t *ifs = json_object_get(j, "interfaces");
	assert_int_equal(json_array_size(ifs), 1);
	json_t *if0 = json_array_get(ifs, 0);
	assert_string_equal(json_string_value(json_object_get(if0, "name")), "eth0");
	assert_string_equal(json_string_value(json_object_get(if0, "sandbox")), NETNS);
	/* memif: the agent chose the MAC and the plugin reports it. */
	assert_true(strncmp(json_string_value(json_object_get(if0, "mac")), "02:22:00:00:", 12) == 0);
	/* socketPath exists only from 1.1.0. */
	const char *sp = json_string_value(json_object_get(if0, "socketPath"));
	if (strcmp(v, "1.1.0") == 0) {
		assert_non_null(sp);
		assert_true(strncmp(sp, H.sockdir, strlen(H.sockdir)) == 0);
	} else {
		assert_null(sp);
	}
	json_t *ip = json_array_get(json_object_get(j, "ips"), 0);
	assert_non_null(ip);
	assert_true(strncmp(json_string_value(json_object_get(ip, "address")), "10.22.", 6) == 0);
	assert_string_equal(json_string_value(json_object_get(ip, "gateway")), "10.22.0.1");
	assert_int_equal(json_integer_value(json_object_get(ip, "interface")), 0);
	/* ips[].version: required up to 0.4.0, gone in 1.x. */
	if (v1)
		assert_null(json_object_get(ip, "version"));
	else
		assert_string_equal(json_string_value(json_object_get(ip, "version")), "4");
	json_t *rt = json_array_get(json_object_get(j, "routes"), 0);
	assert_string_equal(json_string_value(json_object_get(rt, "dst")), "0.0.0.0/0");
	json_t *ns = json_object_get(json_object_get(j, "dns"), "nameservers");
	assert_string_equal(json_string_value(json_array_get(ns, 0)), "10.22.0.10");
	json_decref(j);
}

static void test_version_x_command(void **state)
{
	(void)state;
	static const struct vc_case cases[] = {
		{ "ADD", false, false, S_RESULT },  { "CHECK", true, false, S_EMPTY },
		{ "STATUS", false, true, S_EMPTY }, { "GC", false, true, S_EMPTY },
		{ "VERSION", false, false, S_VERSION }, { "DEL", false, false, S_EMPTY },
	};
	char out[16384], prev[16384], cid[64], extra[16384];
	cni_h_agent_start(&H, NULL);
	for (size_t vi = 0; vi < sizeof(VERSIONS) / sizeof(VERSIONS[0]); vi++) {
		const char *v = VERSIONS[vi];
		bool ge040 = vi >= 2, ge110 = vi == 4;
		snprintf(cid, sizeof(cid), "vc-%zu", vi);
		prev[0] = '\0';
		for (size_t ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
			const struct vc_case *c = &cases[ci];
			struct cni_h_env e = env(c->cmd, cid);
			extra[0] = '\0';
			if (strcmp(c->cmd, "CHECK") == 0 || strcmp(c->cmd, "DEL") == 0)
				snprintf(extra, sizeof(extra), "\"prevResult\":%s", prev);
			if (strcmp(c->cmd, "GC") == 0)
				snprintf(extra, sizeof(extra),
					 "\"cni.dev/valid-attachments\":[{\"containerID\":\"%s\","
					 "\"ifname\":\"eth0\"}]", cid);
			int rc = cni_h_run(&H, &e, conf(v, extra), out, sizeof(out));
			bool allowed = (!c->min_040 || ge040) && (!c->min_110 || ge110);
			print_message("%s %-7s rc=%d\n", v, c->cmd, rc);
			if (!allowed) {
				assert_code(rc, out, 1);
				continue;
			}
			assert_int_equal(rc, 0);
			switch (c->shape) {
			case S_RESULT:
				vc_check_result(v, out);
				snprintf(prev, sizeof(prev), "%s", out);
				assert_int_equal(access(devinfo_path(cid), F_OK), 0);
				break;
			case S_EMPTY:
				assert_string_equal(out, "");
				break;
			case S_VERSION: {
				json_t *j = parse(out);
				assert_int_equal(json_array_size(json_object_get(j, "supportedVersions")),
						 5);
				json_decref(j);
				break;
			}
			case S_ERR:
				break;
			}
		}
		/* After DEL nothing of this attachment is left. */
		assert_int_not_equal(access(devinfo_path(cid), F_OK), 0);
	}
	assert_int_equal(cni_h_count(subdir("att")), 0);
	assert_int_equal(cni_h_journal_count(&H, "badkey"), 0);
	cni_h_agent_stop(&H);
}

/* VERSION never fails, whatever stdin holds (SPEC.md 1.1.0 "VERSION"). */
static void test_version_garbage(void **state)
{
	(void)state;
	static const char *inputs[] = { "", "garbage", "{", "{\"cniVersion\":\"9.9.9\"}", "[]" };
	char out[4096];
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		struct cni_h_env e = { .command = "VERSION" };
		assert_int_equal(cni_h_run(&H, &e, inputs[i], out, sizeof(out)), 0);
		json_t *j = parse(out);
		assert_string_equal(json_string_value(json_object_get(j, "cniVersion")), "1.1.0");
		assert_int_equal(json_array_size(json_object_get(j, "supportedVersions")), 5);
		json_decref(j);
	}
}

struct bad_case {
	const char *stdin_json; /* "%s" gets the normal config's tail */
	int code;
};

static void test_malformed_stdin(void **state)
{
	(void)state;
	char out[8192];
	const struct bad_case cases[] = {
		{ "", 6 },
		{ "not json", 6 },
		{ "[1,2]", 6 },
		{ "{\"cniVersion\":\"1.1.0\",\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\"}", 6 },
		{ "{\"name\":\"n\",\"type\":\"t\"}", 7 },
		{ "{\"cniVersion\":110,\"name\":\"n\",\"type\":\"t\"}", 7 },
		{ "{\"cniVersion\":\"one\",\"name\":\"n\",\"type\":\"t\"}", 7 },
		{ "{\"cniVersion\":\"2.0.0\",\"name\":\"n\",\"type\":\"t\"}", 1 },
		{ "{\"cniVersion\":\"0.2.0\",\"name\":\"n\",\"type\":\"t\"}", 1 },
		{ "{\"cniVersion\":\"1.1.0\",\"type\":\"t\"}", 7 },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"bad name\",\"type\":\"t\"}", 7 },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\"}", 7 },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"t\",\"mode\":\"tap\"}", 7 },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"t\",\"timeoutMs\":0}", 7 },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"t\",\"stateDir\":\"rel\"}", 7 },
		/* dp's port record holds a socket path of < 64 bytes. */
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"t\",\"mode\":\"memif\","
		  "\"stateDir\":\"/tmp/sluice-cni-never\",\"socketDir\":"
		  "\"/run/a-socket-dir-name-that-is-long-enough-to-overflow\"}", 7 },
		{ "{\"cniVersions\":[\"2.0.0\",\"3.0.0\"],\"name\":\"n\",\"type\":\"t\"}", 1 },
		{ "{\"cniVersions\":[\"1.0.0\",\"x\"],\"name\":\"n\",\"type\":\"t\"}", 7 },
		{ "{\"cniVersions\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\"}", 7 },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"t\",\"capabilities\":{\"portMappings\":1}}", 7 },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"t\",\"runtimeConfig\":[]}", 7 },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"t\",\"runtimeConfig\":"
		  "{\"portMappings\":[{\"hostPort\":0,\"containerPort\":80}]}}", 7 },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"t\",\"runtimeConfig\":"
		  "{\"portMappings\":[{\"hostPort\":80,\"HostPort\":81,\"containerPort\":80}]}}", 7 },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"t\",\"runtimeConfig\":"
		  "{\"portMappings\":[{\"hostPort\":80,\"containerPort\":80,\"protocol\":\"icmp\"}]}}", 7 },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"t\",\"prevResult\":"
		  "{\"ips\":[{\"address\":\"10.0.0.300/24\"}]}}", 6 },
		{ "{\"cniVersion\":\"0.4.0\",\"name\":\"n\",\"type\":\"t\",\"prevResult\":"
		  "{\"ips\":[{\"address\":\"10.0.0.3/24\"}]}}", 6 }, /* 0.4.0 ips need "version" */
		{ "{\"cniVersion\":\"0.4.0\",\"name\":\"n\",\"type\":\"t\",\"prevResult\":"
		  "{\"ips\":[{\"version\":\"6\",\"address\":\"10.0.0.3/24\"}]}}", 6 },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\",\"prevResult\":"
		  "{\"ips\":[{\"address\":\"10.0.0.3/24\",\"interface\":0}]}}", 6 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cni_h_env e = env("ADD", "bad");
		int rc = cni_h_run(&H, &e, cases[i].stdin_json, out, sizeof(out));
		print_message("case %zu: rc=%d %s", i, rc, out);
		assert_code(rc, out, cases[i].code);
	}
	/* Nothing was attached by any of them. */
	assert_int_equal(cni_h_count(subdir("att")), 0);
}

struct env_case {
	struct cni_h_env e;
	int code;
};

static void test_bad_env(void **state)
{
	(void)state;
	char out[8192];
	const char *P = "/opt/cni/bin";
	const struct env_case cases[] = {
		{ { NULL, "c1", NETNS, "eth0", NULL, P }, 4 },
		{ { "PUT", "c1", NETNS, "eth0", NULL, P }, 4 },
		{ { "ADD", NULL, NETNS, "eth0", NULL, P }, 4 },
		{ { "ADD", "-bad", NETNS, "eth0", NULL, P }, 4 },
		{ { "ADD", "c/1", NETNS, "eth0", NULL, P }, 4 },
		{ { "ADD", "c1", NETNS, NULL, NULL, P }, 4 },
		{ { "ADD", "c1", NETNS, "eth0123456789abc", NULL, P }, 4 },
		{ { "ADD", "c1", NETNS, "a/b", NULL, P }, 4 },
		{ { "ADD", "c1", NETNS, "..", NULL, P }, 4 },
		{ { "ADD", "c1", NETNS, "a b", NULL, P }, 4 },
		{ { "ADD", "c1", NULL, "eth0", NULL, P }, 4 },
		{ { "ADD", "c1", "", "eth0", NULL, P }, 4 },
		{ { "ADD", "c1", "/nonexistent/netns", "eth0", NULL, P }, 4 },
		{ { "ADD", "c1", "/etc/hostname", "eth0", NULL, P }, 4 },
		{ { "ADD", "c1", "relative", "eth0", NULL, P }, 4 },
		{ { "ADD", "c1", NETNS, "eth0", NULL, NULL }, 4 },
		{ { "CHECK", "c1", NULL, "eth0", NULL, P }, 4 },
		{ { "DEL", NULL, "", "eth0", NULL, P }, 4 },
		{ { "ADD", "c1", NETNS, "eth0", "K8S_POD_NAME", P }, 4 },
		{ { "ADD", "c1", NETNS, "eth0", "K8S_POD_NAME=a;;", P }, 4 },
		{ { "ADD", "c1", NETNS, "eth0", "=x", P }, 4 },
		{ { "ADD", "c1", NETNS, "eth0", "K8S_POD_NAME=a;K8S_POD_NAME=b", P }, 4 },
		{ { "ADD", "c1", NETNS, "eth0", "FOO=bar", P }, 2 },
		{ { "ADD", "c1", NETNS, "eth0", "FOO=bar;IgnoreUnknown=0", P }, 2 },
		{ { "ADD", "c1", NETNS, "eth0", "IgnoreUnknown=maybe", P }, 4 },
	};
	/* No agent: every one of these must fail before reaching it. */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = cni_h_run(&H, &cases[i].e, conf("1.1.0", ""), out, sizeof(out));
		print_message("case %zu: rc=%d %s", i, rc, out);
		assert_code(rc, out, cases[i].code);
	}
	assert_int_equal(cni_h_count(subdir("pending")), 0);
}

/* CNI_ARGS is unordered: IgnoreUnknown after the unknown key still counts. */
static void test_args_ignore_unknown_any_order(void **state)
{
	(void)state;
	char out[16384];
	cni_h_agent_start(&H, NULL);
	struct cni_h_env e = env("ADD", "ign");
	e.args = "FOO=bar;K8S_POD_NAME=x;IgnoreUnknown=1;K8S_POD_INFRA_CONTAINER_ID=ign";
	assert_int_equal(cni_h_run(&H, &e, conf("1.0.0", ""), out, sizeof(out)), 0);
	e.command = "DEL";
	assert_int_equal(cni_h_run(&H, &e, conf("1.0.0", ""), out, sizeof(out)), 0);
	cni_h_agent_stop(&H);
}

/* containerd sends capitalised portMappings keys, podman lower-case: both reach the agent. */
static void test_port_mappings_both_spellings(void **state)
{
	(void)state;
	char out[16384];
	cni_h_agent_start(&H, NULL);
	const char *ctrd = "\"capabilities\":{\"portMappings\":true},\"runtimeConfig\":"
			   "{\"portMappings\":[{\"HostPort\":8080,\"ContainerPort\":80,"
			   "\"Protocol\":\"TCP\",\"HostIP\":\"\"},{\"HostPort\":5353,"
			   "\"ContainerPort\":53,\"Protocol\":\"UDP\",\"HostIP\":\"127.0.0.1\"}]}";
	const char *podman = "\"capabilities\":{\"portMappings\":true},\"runtimeConfig\":"
			     "{\"portMappings\":[{\"hostPort\":8081,\"containerPort\":80,"
			     "\"protocol\":\"tcp\",\"hostIP\":\"::1\"}]}";
	struct cni_h_env e = env("ADD", "pm-ctrd");
	assert_int_equal(cni_h_run(&H, &e, conf("1.0.0", ctrd), out, sizeof(out)), 0);
	e.container_id = "pm-podman";
	assert_int_equal(cni_h_run(&H, &e, conf("0.4.0", podman), out, sizeof(out)), 0);
	assert_int_equal(cni_h_journal_count(&H, "add sl-test pm-ctrd eth0 memif ports=2"), 1);
	assert_int_equal(cni_h_journal_count(&H, "add sl-test pm-podman eth0 memif ports=1"), 1);
	e.command = "DEL";
	assert_int_equal(cni_h_run(&H, &e, conf("0.4.0", ""), out, sizeof(out)), 0);
	e.container_id = "pm-ctrd";
	assert_int_equal(cni_h_run(&H, &e, conf("1.0.0", ""), out, sizeof(out)), 0);
	cni_h_agent_stop(&H);
}

/* A second ADD for the same tuple fails and leaves the first intact. */
static void test_duplicate_add(void **state)
{
	(void)state;
	char out[16384], first[16384], extra[16500];
	cni_h_agent_start(&H, NULL);
	struct cni_h_env e = env("ADD", "dup");
	assert_int_equal(cni_h_run(&H, &e, conf("1.1.0", ""), first, sizeof(first)), 0);
	assert_code(cni_h_run(&H, &e, conf("1.1.0", ""), out, sizeof(out)), out, 7);
	assert_int_equal(cni_h_journal_count(&H, "add sl-test dup "), 1);
	assert_int_equal(access(devinfo_path("dup"), F_OK), 0);
	e.command = "CHECK";
	snprintf(extra, sizeof(extra), "\"prevResult\":%s", first);
	assert_int_equal(cni_h_run(&H, &e, conf("1.1.0", extra), out, sizeof(out)), 0);
	e.command = "DEL";
	assert_int_equal(cni_h_run(&H, &e, conf("1.1.0", ""), out, sizeof(out)), 0);
	cni_h_agent_stop(&H);
}

/* DEL twice, with empty CNI_NETNS and no prevResult, succeeds both times. */
static void test_del_twice(void **state)
{
	(void)state;
	char out[16384];
	cni_h_agent_start(&H, NULL);
	struct cni_h_env e = env("ADD", "del2");
	assert_int_equal(cni_h_run(&H, &e, conf("1.1.0", ""), out, sizeof(out)), 0);
	e.command = "DEL";
	e.netns = "";
	assert_int_equal(cni_h_run(&H, &e, conf("1.1.0", ""), out, sizeof(out)), 0);
	assert_string_equal(out, "");
	e.netns = NULL;
	assert_int_equal(cni_h_run(&H, &e, conf("1.1.0", ""), out, sizeof(out)), 0);
	assert_int_equal(cni_h_journal_count(&H, "del sl-test del2 eth0"), 2);
	assert_int_not_equal(access(devinfo_path("del2"), F_OK), 0);
	/* DEL of something never added is fine too, and CHECK of it is code 3. */
	e.container_id = "never";
	assert_int_equal(cni_h_run(&H, &e, conf("1.1.0", ""), out, sizeof(out)), 0);
	e.command = "CHECK";
	e.netns = NETNS;
	assert_code(cni_h_run(&H, &e, conf("1.1.0", "\"prevResult\":{}"), out, sizeof(out)), out, 3);
	cni_h_agent_stop(&H);
}

/* DEL with the agent down succeeds and leaves a pending record; the next call that reaches the agent finishes it. */
static void test_del_agent_down_then_recovery(void **state)
{
	(void)state;
	char out[16384];
	cni_h_agent_start(&H, NULL);
	struct cni_h_env e = env("ADD", "down");
	assert_int_equal(cni_h_run(&H, &e, conf("1.1.0", ""), out, sizeof(out)), 0);
	cni_h_agent_stop(&H);
	e.command = "DEL";
	assert_int_equal(cni_h_run(&H, &e, conf("1.1.0", ""), out, sizeof(out)), 0);
	assert_int_not_equal(access(devinfo_path("down"), F_OK), 0);
	assert_int_equal(cni_h_count(subdir("att")), 0);
	assert_int_equal(cni_h_count(subdir("pending")), 1);
	assert_int_equal(cni_h_journal_count(&H, "del sl-test down"), 0);

	cni_h_agent_start(&H, NULL);
	struct cni_h_env s = { .command = "STATUS", .path = "/opt/cni/bin" };
	assert_int_equal(cni_h_run(&H, &s, conf("1.1.0", ""), out, sizeof(out)), 0);
	assert_int_equal(cni_h_count(subdir("pending")), 0);
	assert_int_equal(cni_h_journal_count(&H, "del sl-test down eth0"), 1);
	cni_h_agent_stop(&H);
}

/* The agent dies after receiving cni.add: ADD fails with 11 and leaves nothing half-done. */
static void test_agent_killed_mid_add(void **state)
{
	(void)state;
	char out[16384];
	cni_h_agent_start(&H, "--die-on", "cni.add", NULL);
	struct cni_h_env e = env("ADD", "midadd");
	assert_code(cni_h_run(&H, &e, conf("1.1.0", ""), out, sizeof(out)), out, 11);
	assert_int_equal(cni_h_agent_reap(&H), 3);
	assert_int_equal(cni_h_journal_count(&H, "add sl-test midadd"), 1);
	assert_int_not_equal(access(devinfo_path("midadd"), F_OK), 0);
	assert_int_equal(cni_h_count(subdir("att")), 0);
	assert_int_equal(cni_h_count(H.sockdir), 0);
	assert_int_equal(cni_h_count(subdir("pending")), 1);

	/* Agent back: the retried ADD first releases the unknown allocation, then adds. */
	cni_h_agent_start(&H, NULL);
	assert_int_equal(cni_h_run(&H, &e, conf("1.1.0", ""), out, sizeof(out)), 0);
	assert_int_equal(cni_h_journal_count(&H, "del sl-test midadd eth0"), 1);
	assert_int_equal(cni_h_journal_count(&H, "add sl-test midadd"), 2);
	assert_int_equal(cni_h_count(subdir("pending")), 0);
	e.command = "DEL";
	assert_int_equal(cni_h_run(&H, &e, conf("1.1.0", ""), out, sizeof(out)), 0);
	cni_h_agent_stop(&H);
}

/*
 * A release still pending for the very tuple being re-added is performed
 * before the add (never replayed after it), even when more releases are
 * pending than one call replays (8): 12 pending -> this one + 8 -> 3 left.
 */
static void test_pending_settled_before_readd(void **state)
{
	(void)state;
	char out[16384], cid[32];
	cni_h_agent_start(&H, NULL);
	for (int i = 0; i < 12; i++) {
		snprintf(cid, sizeof(cid), "settle-%d", i);
		struct cni_h_env e = env("ADD", cid);
		assert_int_equal(cni_h_run(&H, &e, conf("1.1.0", ""), out, sizeof(out)), 0);
	}
	cni_h_agent_stop(&H);
	TIMEOUT_MS = 50; /* agent down: each DEL only waits this out */
	for (int i = 0; i < 12; i++) {
		snprintf(cid, sizeof(cid), "settle-%d", i);
		struct cni_h_env e = env("DEL", cid);
		assert_int_equal(cni_h_run(&H, &e, conf("1.1.0", ""), out, sizeof(out)), 0);
	}
	assert_int_equal(cni_h_count(subdir("pending")), 12);
	TIMEOUT_MS = 1000;
	cni_h_agent_start(&H, NULL);
	struct cni_h_env e = env("ADD", "settle-11");
	assert_int_equal(cni_h_run(&H, &e, conf("1.1.0", ""), out, sizeof(out)), 0);
	assert_int_equal(cni_h_count(subdir("pending")), 3);
	/* The journal shows the release of settle-11 before its second add. */
	FILE *f = fopen(H.journal, "r");
	char line[1024];
	int del_at = -1, add_at = -1, n = 0;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		n++;
		if (strncmp(line, "del sl-test settle-11 eth0", 26) == 0)
			del_at = n;
		if (strncmp(line, "add sl-test settle-11 eth0", 26) == 0)
			add_at = n;
	}
	fclose(f);
	assert_true(del_at > 0 && add_at > del_at);
	/* Drain the rest and clean up. */
	struct cni_h_env s = { .command = "STATUS", .path = "/opt/cni/bin" };
	assert_int_equal(cni_h_run(&H, &s, conf("1.1.0", ""), out, sizeof(out)), 0);
	assert_int_equal(cni_h_count(subdir("pending")), 0);
	e.command = "DEL";
	assert_int_equal(cni_h_run(&H, &e, conf("1.1.0", ""), out, sizeof(out)), 0);
	cni_h_agent_stop(&H);
}

/*
 * ADD fails after the agent allocated (device-info file unwritable; then the
 * attachment record cannot be written): everything done so far is undone,
 * including the agent's allocation, and nothing is left pending.
 */
static void test_add_rollback_after_agent(void **state)
{
	(void)state;
	char out[16384], attdir[512];
	cni_h_agent_start(&H, NULL);
	struct cni_h_env e = env("ADD", "rb-devinfo");
	assert_code(cni_h_run(&H, &e, conf("1.1.0", "\"runtimeConfig\":{\"CNIDeviceInfoFile\":\"/dev/null/x.json\"}"), out,
			      sizeof(out)), out, 5);
	assert_int_equal(cni_h_journal_count(&H, "add sl-test rb-devinfo eth0"), 1);
	assert_int_equal(cni_h_journal_count(&H, "del sl-test rb-devinfo eth0"), 1);

	/* stateDir/att is a file: the record cannot be written. */
	snprintf(attdir, sizeof(attdir), "%s", subdir("att"));
	cni_h_rm_rf(attdir);
	FILE *f = fopen(attdir, "w");
	assert_non_null(f);
	fclose(f);
	e.container_id = "rb-record";
	assert_code(cni_h_run(&H, &e, conf("1.1.0", ""), out, sizeof(out)), out, 5);
	assert_int_equal(cni_h_journal_count(&H, "del sl-test rb-record eth0"), 1);
	assert_int_not_equal(access(devinfo_path("rb-record"), F_OK), 0);
	unlink(attdir);
	assert_int_equal(cni_h_count(subdir("pending")), 0);
	cni_h_agent_stop(&H);
}

/*
 * The agent's reply is untrusted: each malformed cni.add reply is a decode
 * failure (6), and since the agent may have allocated, a release follows.
 */
static void test_agent_bad_replies(void **state)
{
	(void)state;
	static const char *kinds[] = { "notjson", "badv", "noips", "ipidx", "badmac", "badaddr" };
	char out[16384], cid[32], pat[64];
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		cni_h_agent_start(&H, "--bad-add-reply", kinds[i], NULL);
		snprintf(cid, sizeof(cid), "badrep-%s", kinds[i]);
		struct cni_h_env e = env("ADD", cid);
		print_message("bad reply: %s\n", kinds[i]);
		assert_code(cni_h_run(&H, &e, conf("1.1.0", ""), out, sizeof(out)), out, 6);
		snprintf(pat, sizeof(pat), "del sl-test %s eth0", cid);
		assert_int_equal(cni_h_journal_count(&H, pat), 1);
		assert_int_not_equal(access(devinfo_path(cid), F_OK), 0);
		assert_int_equal(cni_h_count(subdir("att")), 0);
		assert_int_equal(cni_h_count(subdir("pending")), 0);
		cni_h_agent_stop(&H);
	}
}

/*
 * Runtimes call plugins concurrently. 16 ADDs at once, then 16 DELs at
 * once: every call succeeds, addresses are distinct, and the state
 * directory ends empty (whole-file renames, no shared file to tear).
 */
static void run_parallel(const char *cmd, int n, const char *prefix)
{
	pid_t kids[64];
	for (int i = 0; i < n; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			char out[16384], cid[32];
			snprintf(cid, sizeof(cid), "%s-%d", prefix, i);
			struct cni_h_env e = env(cmd, cid);
			int rc = cni_h_run(&H, &e, conf("1.1.0", ""), out, sizeof(out));
			if (rc == 0 && strcmp(cmd, "ADD") == 0) {
				char p[512];
				snprintf(p, sizeof(p), "%s/%s.out", H.dir, cid);
				FILE *f = fopen(p, "w");
				if (f == NULL || fputs(out, f) < 0)
					rc = 99;
				if (f != NULL)
					fclose(f);
			}
			_exit(rc);
		}
	}
	for (int i = 0; i < n; i++) {
		int st = 0;
		waitpid(kids[i], &st, 0);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
}

static void test_parallel_add_del(void **state)
{
	(void)state;
	char seen[16][64];
	cni_h_agent_start(&H, NULL);
	run_parallel("ADD", 16, "par");
	assert_int_equal(cni_h_count(subdir("att")), 16);
	for (int i = 0; i < 16; i++) {
		char p[512];
		snprintf(p, sizeof(p), "%s/par-%d.out", H.dir, i);
		json_t *j = json_load_file(p, 0, NULL);
		assert_non_null(j);
		const char *a = json_string_value(
			json_object_get(json_array_get(json_object_get(j, "ips"), 0), "address"));
		assert_non_null(a);
		snprintf(seen[i], sizeof(seen[i]), "%s", a);
		for (int k = 0; k < i; k++)
			assert_string_not_equal(seen[k], seen[i]);
		json_decref(j);
		unlink(p);
	}
	run_parallel("DEL", 16, "par");
	assert_int_equal(cni_h_count(subdir("att")), 0);
	assert_int_equal(cni_h_count(subdir("pending")), 0);
	assert_int_equal(cni_h_count(H.devdir), 0);
	cni_h_agent_stop(&H);
}

/* An explicit refusal allocated nothing: error code mapped, no pending record. */
static void test_agent_refuses_add(void **state)
{
	(void)state;
	char out[16384];
	cni_h_agent_start(&H, "--refuse-add", "invalid", NULL);
	struct cni_h_env e = env("ADD", "refused");
	assert_code(cni_h_run(&H, &e, conf("1.1.0", ""), out, sizeof(out)), out, 7);
	assert_int_equal(cni_h_count(subdir("pending")), 0);
	assert_int_not_equal(access(devinfo_path("refused"), F_OK), 0);
	cni_h_agent_stop(&H);
	/* Agent down entirely: ADD is "try again later". */
	assert_code(cni_h_run(&H, &e, conf("1.1.0", ""), out, sizeof(out)), out, 11);
	assert_int_equal(cni_h_count(subdir("att")), 0);
	/* cleanup the pending record that the unanswered add left */
	cni_h_agent_start(&H, NULL);
	struct cni_h_env s = { .command = "STATUS", .path = "/opt/cni/bin" };
	assert_int_equal(cni_h_run(&H, &s, conf("1.1.0", ""), out, sizeof(out)), 0);
	assert_int_equal(cni_h_count(subdir("pending")), 0);
	cni_h_agent_stop(&H);
}

static void test_status(void **state)
{
	(void)state;
	char out[8192];
	struct cni_h_env s = { .command = "STATUS", .path = "/opt/cni/bin" };
	int before = cni_h_journal_count(&H, "status sl-test");
	assert_code(cni_h_run(&H, &s, conf("1.1.0", ""), out, sizeof(out)), out, 50);
	cni_h_agent_start(&H, "--not-ready", NULL);
	assert_code(cni_h_run(&H, &s, conf("1.1.0", ""), out, sizeof(out)), out, 50);
	cni_h_agent_stop(&H);
	cni_h_agent_start(&H, "--dp-not-ready", NULL);
	assert_code(cni_h_run(&H, &s, conf("1.1.0", ""), out, sizeof(out)), out, 51);
	cni_h_agent_stop(&H);
	cni_h_agent_start(&H, NULL);
	assert_int_equal(cni_h_run(&H, &s, conf("1.1.0", ""), out, sizeof(out)), 0);
	assert_int_equal(cni_h_journal_count(&H, "status sl-test"), before + 3);
	cni_h_agent_stop(&H);
}

/* GC removes exactly the attachments not in cni.dev/valid-attachments. */
static void test_gc(void **state)
{
	(void)state;
	char out[16384];
	const char *ids[] = { "gc-a", "gc-b", "gc-c" };
	cni_h_agent_start(&H, NULL);
	for (int i = 0; i < 3; i++) {
		struct cni_h_env e = env("ADD", ids[i]);
		assert_int_equal(cni_h_run(&H, &e, conf("1.1.0", ""), out, sizeof(out)), 0);
	}
	struct cni_h_env g = { .command = "GC", .path = "/opt/cni/bin" };
	int before = cni_h_journal_count(&H, "gc sl-test 1");
	assert_code(cni_h_run(&H, &g, conf("1.1.0", ""), out, sizeof(out)), out, 7);
	assert_int_equal(cni_h_run(&H, &g,
				   conf("1.1.0", "\"cni.dev/valid-attachments\":[{\"containerID\":"
						 "\"gc-b\",\"ifname\":\"eth0\"}]"),
				   out, sizeof(out)),
			 0);
	assert_int_not_equal(access(devinfo_path("gc-a"), F_OK), 0);
	assert_int_equal(access(devinfo_path("gc-b"), F_OK), 0);
	assert_int_not_equal(access(devinfo_path("gc-c"), F_OK), 0);
	assert_int_equal(cni_h_count(subdir("att")), 1);
	assert_int_equal(cni_h_journal_count(&H, "gc sl-test 1"), before + 1);
	struct cni_h_env d = env("DEL", "gc-b");
	assert_int_equal(cni_h_run(&H, &d, conf("1.1.0", ""), out, sizeof(out)), 0);
	cni_h_agent_stop(&H);
}

/* Chained after another plugin: prevResult comes back with our additions, indexes rebased. */
static void test_chaining(void **state)
{
	(void)state;
	char out[16384];
	cni_h_agent_start(&H, NULL);
	const char *prev = "\"prevResult\":{\"cniVersion\":\"0.4.0\",\"interfaces\":[{\"name\":"
			   "\"br0\",\"mac\":\"02:00:00:00:00:01\"}],\"ips\":[{\"version\":\"6\","
			   "\"address\":\"fd00::5/64\",\"interface\":0}],\"dns\":{\"domain\":"
			   "\"example.test\"}}";
	struct cni_h_env e = env("ADD", "chain");
	assert_int_equal(cni_h_run(&H, &e, conf("0.4.0", prev), out, sizeof(out)), 0);
	json_t *j = parse(out);
	json_t *ifs = json_object_get(j, "interfaces"), *ips = json_object_get(j, "ips");
	assert_int_equal(json_array_size(ifs), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(ifs, 0), "name")), "br0");
	assert_int_equal(json_array_size(ips), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(ips, 0), "version")), "6");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(ips, 1), "interface")), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(ips, 1), "version")), "4");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "dns"), "domain")),
			    "example.test");
	json_decref(j);
	e.command = "DEL";
	assert_int_equal(cni_h_run(&H, &e, conf("0.4.0", prev), out, sizeof(out)), 0);
	cni_h_agent_stop(&H);
}

/* cniVersions without cniVersion: the highest version we support is used. */
static void test_cni_versions_list(void **state)
{
	(void)state;
	char out[16384], cfg[2048];
	cni_h_agent_start(&H, NULL);
	snprintf(cfg, sizeof(cfg),
		 "{\"cniVersions\":[\"0.4.0\",\"1.0.0\",\"2.0.0\"],\"name\":\"sl-test\",\"type\":"
		 "\"sluice-cni\",\"mode\":\"vhost-user\",\"agentSocket\":\"%s\",\"timeoutMs\":1000,"
		 "\"socketDir\":\"%s\",\"deviceInfoDir\":\"%s\",\"stateDir\":\"%s\"}",
		 H.url, H.sockdir, H.devdir, H.state);
	struct cni_h_env e = env("ADD", "vlist");
	assert_int_equal(cni_h_run(&H, &e, cfg, out, sizeof(out)), 0);
	json_t *j = parse(out);
	assert_string_equal(json_string_value(json_object_get(j, "cniVersion")), "1.0.0");
	json_decref(j);
	/* vhost-user device-info: host creates the socket, so mode "client" (NPWG §3.1.5.1). */
	json_t *d = json_load_file(devinfo_path("vlist"), 0, NULL);
	assert_non_null(d);
	assert_string_equal(json_string_value(json_object_get(d, "type")), "vhost-user");
	assert_string_equal(json_string_value(json_object_get(json_object_get(d, "vhost-user"),
							      "mode")), "client");
	json_decref(d);
	e.command = "DEL";
	assert_int_equal(cni_h_run(&H, &e, cfg, out, sizeof(out)), 0);
	assert_int_not_equal(access(devinfo_path("vlist"), F_OK), 0);
	cni_h_agent_stop(&H);
}

/* runtimeConfig.CNIDeviceInfoFile wins over deviceInfoDir (NPWG §5.1.2). */
static void test_devinfo_capability(void **state)
{
	(void)state;
	char out[16384], extra[1024], path[512];
	cni_h_agent_start(&H, NULL);
	snprintf(path, sizeof(path), "%s/npwg/cni/unique-file.json", H.dir);
	snprintf(extra, sizeof(extra), "\"runtimeConfig\":{\"CNIDeviceInfoFile\":\"%s\"}", path);
	struct cni_h_env e = env("ADD", "devcap");
	assert_int_equal(cni_h_run(&H, &e, conf("1.1.0", extra), out, sizeof(out)), 0);
	json_t *d = json_load_file(path, 0, NULL);
	assert_non_null(d);
	assert_string_equal(json_string_value(json_object_get(d, "type")), "memif");
	json_t *m = json_object_get(d, "memif");
	assert_string_equal(json_string_value(json_object_get(m, "role")), "slave");
	json_t *r = parse(out);
	assert_string_equal(json_string_value(json_object_get(m, "path")),
			    json_string_value(json_object_get(
				    json_array_get(json_object_get(r, "interfaces"), 0), "socketPath")));
	json_decref(r);
	json_decref(d);
	e.command = "DEL";
	assert_int_equal(cni_h_run(&H, &e, conf("1.1.0", extra), out, sizeof(out)), 0);
	assert_int_not_equal(access(path, F_OK), 0);
	cni_h_agent_stop(&H);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s SLUICE_CNI FAKE_AGENT\n", argv[0]);
		return 2;
	}
	cni_h_init(&H, argv[1], argv[2]);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_x_command),
		cmocka_unit_test(test_version_garbage),
		cmocka_unit_test(test_malformed_stdin),
		cmocka_unit_test(test_bad_env),
		cmocka_unit_test(test_args_ignore_unknown_any_order),
		cmocka_unit_test(test_port_mappings_both_spellings),
		cmocka_unit_test(test_duplicate_add),
		cmocka_unit_test(test_del_twice),
		cmocka_unit_test(test_del_agent_down_then_recovery),
		cmocka_unit_test(test_agent_killed_mid_add),
		cmocka_unit_test(test_pending_settled_before_readd),
		cmocka_unit_test(test_add_rollback_after_agent),
		cmocka_unit_test(test_agent_bad_replies),
		cmocka_unit_test(test_parallel_add_del),
		cmocka_unit_test(test_agent_refuses_add),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_gc),
		cmocka_unit_test(test_chaining),
		cmocka_unit_test(test_cni_versions_list),
		cmocka_unit_test(test_devinfo_capability),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	cni_h_fini(&H);
	return rc;
}
