/*
 * test_runtime: the pure parts of the pod runtime (ctrl/runtime_common.h,
 * runtime_netns_name/resolve): pod spec decoding and its errors, restart
 * policy, back-off, phase transitions and the status object.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "runtime_common.h"
#include "runtime_netns.h"

static json_t *pod(const char *spec_json)
{
	char buf[4096];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"web\",\"namespace\":\"prod\",\"uid\":\"u-1\"},\"spec\":%s}",
		 spec_json);
	json_t *p = json_loads(buf, 0, NULL);
	assert_non_null(p);
	return p;
}

static void test_spec_command_and_args(void **state)
{
	(void)state;
	json_t *p = pod("{\"containers\":[{\"name\":\"c\",\"image\":\"img\",\"command\":[\"sh\",\"-c\"],"
			"\"args\":[\"echo hi\"],\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\"}]}],"
			"\"restartPolicy\":\"OnFailure\",\"terminationGracePeriodSeconds\":7}");
	struct runtime_pod_spec s;
	char err[256];
	assert_int_equal(runtime_pod_spec_parse(p, &s, err, sizeof(err)), 0);
	assert_string_equal(s.ns, "prod");
	assert_string_equal(s.name, "web");
	assert_string_equal(s.uid, "u-1");
	assert_string_equal(s.container, "c");
	assert_string_equal(s.image, "img");
	assert_int_equal(s.argc, 3);
	assert_string_equal(s.argv[0], "sh");
	assert_string_equal(s.argv[1], "-c");
	assert_string_equal(s.argv[2], "echo hi");
	assert_null(s.argv[3]);
	assert_int_equal(s.envc, 2);
	assert_string_equal(s.envp[0], "A=1");
	assert_string_equal(s.envp[1], "B=");
	assert_null(s.envp[2]);
	assert_int_equal(s.restart, RUNTIME_RESTART_ON_FAILURE);
	assert_int_equal(s.grace_s, 7);
	runtime_pod_spec_clear(&s);
	runtime_pod_spec_clear(&s); /* idempotent */
	json_decref(p);
}

static void test_spec_defaults(void **state)
{
	(void)state;
	json_t *p = json_loads("{\"metadata\":{\"name\":\"x\",\"uid\":\"u\"},\"spec\":{\"containers\":"
			       "[{\"name\":\"c\",\"command\":[\"true\"]}]}}", 0, NULL);
	struct runtime_pod_spec s;
	assert_int_equal(runtime_pod_spec_parse(p, &s, NULL, 0), 0);
	assert_string_equal(s.ns, "default");
	assert_int_equal(s.restart, RUNTIME_RESTART_ALWAYS);
	assert_int_equal(s.grace_s, 30);
	assert_string_equal(s.image, "");
	runtime_pod_spec_clear(&s);
	json_decref(p);
}

/* Numbered table: each bad spec and the field its error must name. */
static void test_spec_errors(void **state)
{
	(void)state;
	static const struct {
		const char *spec;
		const char *field;
	} cases[] = {
		/* 1 */ {"{\"containers\":[]}", "spec.containers[0]"},
		/* 2 */ {"{\"containers\":[{\"name\":\"c\"}]}", "command is required"},
		/* 3 */ {"{\"containers\":[{\"name\":\"c\",\"command\":\"sh\"}]}", "command/args"},
		/* 4 */ {"{\"containers\":[{\"name\":\"c\",\"command\":[1]}]}", "command/args"},
		/* 5 */ {"{\"containers\":[{\"command\":[\"x\"]}]}", "containers[0].name"},
		/* 6 */ {"{\"containers\":[{\"name\":\"c\",\"command\":[\"x\"]}],\"restartPolicy\":\"Sometimes\"}", "restartPolicy"},
		/* 7 */ {"{\"containers\":[{\"name\":\"c\",\"command\":[\"x\"]}],\"restartPolicy\":3}", "restartPolicy"},
		/* 8 */ {"{\"containers\":[{\"name\":\"c\",\"command\":[\"x\"]}],\"terminationGracePeriodSeconds\":-1}", "terminationGracePeriodSeconds"},
		/* 9 */ {"{\"containers\":[{\"name\":\"c\",\"command\":[\"x\"],\"env\":[{\"name\":\"A=B\"}]}]}", "env[0].name"},
		/* 10 */ {"{\"containers\":[{\"name\":\"c\",\"command\":[\"x\"],\"env\":[{\"value\":\"v\"}]}]}", "env[0].name"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *p = pod(cases[i].spec);
		struct runtime_pod_spec s;
		char err[256] = "";
		int rc = runtime_pod_spec_parse(p, &s, err, sizeof(err));
		if (rc != -1 || strstr(err, cases[i].field) == NULL)
			fail_msg("case %zu: rc %d, error \"%s\" should name %s", i + 1, rc, err, cases[i].field);
		assert_null(s.argv); /* nothing left to free */
		json_decref(p);
	}
	/* No uid: the runtime cannot name the netns. */
	json_t *p = json_loads("{\"metadata\":{\"name\":\"x\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"command\":[\"x\"]}]}}", 0, NULL);
	struct runtime_pod_spec s;
	char err[256];
	assert_int_equal(runtime_pod_spec_parse(p, &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "metadata.uid"));
	json_decref(p);
	/* Too many arguments. */
	json_t *many = pod("{\"containers\":[{\"name\":\"c\",\"command\":[\"x\"]}]}");
	json_t *args = json_array();
	for (int i = 0; i < RUNTIME_MAX_ARGS; i++)
		json_array_append_new(args, json_string("a"));
	json_object_set_new(json_array_get(json_object_get(json_object_get(many, "spec"), "containers"), 0),
			    "args", args);
	assert_int_equal(runtime_pod_spec_parse(many, &s, err, sizeof(err)), -1);
	json_decref(many);
}

static void test_restart_policy(void **state)
{
	(void)state;
	assert_int_equal(runtime_restart_parse(NULL), RUNTIME_RESTART_ALWAYS);
	assert_int_equal(runtime_restart_parse("Never"), RUNTIME_RESTART_NEVER);
	assert_int_equal(runtime_restart_parse("never"), -1);
	assert_true(runtime_should_restart(RUNTIME_RESTART_ALWAYS, 0));
	assert_true(runtime_should_restart(RUNTIME_RESTART_ALWAYS, 1));
	assert_false(runtime_should_restart(RUNTIME_RESTART_ON_FAILURE, 0));
	assert_true(runtime_should_restart(RUNTIME_RESTART_ON_FAILURE, 137));
	assert_false(runtime_should_restart(RUNTIME_RESTART_NEVER, 0));
	assert_false(runtime_should_restart(RUNTIME_RESTART_NEVER, 2));
}

static void test_backoff(void **state)
{
	(void)state;
	/* n, base, max -> delay */
	static const uint64_t cases[][4] = {
		{0, 1000, 60000, 0},	 {1, 1000, 60000, 1000}, {2, 1000, 60000, 2000},
		{3, 1000, 60000, 4000},	 {6, 1000, 60000, 32000}, {7, 1000, 60000, 60000},
		{1000, 1000, 60000, 60000}, {1, 0, 0, 1000},	 {20, 0, 0, 60000},
		{3, 200, 500, 500},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (runtime_backoff_ms((unsigned)cases[i][0], cases[i][1], cases[i][2]) != cases[i][3])
			fail_msg("case %zu: backoff(%llu) = %llu, want %llu", i + 1,
				 (unsigned long long)cases[i][0],
				 (unsigned long long)runtime_backoff_ms((unsigned)cases[i][0], cases[i][1], cases[i][2]),
				 (unsigned long long)cases[i][3]);
}

/* Numbered table: an exit under each policy, the state, reason, back-off
 * step and delay it leads to (runtime_exited, shared by both runtimes). */
static void test_exited(void **state)
{
	(void)state;
	static const struct {
		enum runtime_restart policy;
		int code, oom;
		uint64_t ran_ms;
		unsigned crashes_before;
		enum runtime_state want_state;
		const char *want_reason;
		unsigned want_crashes;
		uint64_t want_delay;
	} cases[] = {
		/* 1 */ {RUNTIME_RESTART_ALWAYS, 0, 0, 5, 0, RUNTIME_WAITING, "CrashLoopBackOff", 1, 1000},
		/* 2 */ {RUNTIME_RESTART_ALWAYS, 1, 0, 5, 2, RUNTIME_WAITING, "CrashLoopBackOff", 3, 4000},
		/* 3: a 10-minute run starts the back-off over */
		{RUNTIME_RESTART_ALWAYS, 1, 0, RUNTIME_BACKOFF_RESET_MS, 5, RUNTIME_WAITING, "CrashLoopBackOff", 1, 1000},
		/* 4 */ {RUNTIME_RESTART_ON_FAILURE, 0, 0, 5, 0, RUNTIME_TERMINATED, "Completed", 0, UINT64_MAX},
		/* 5 */ {RUNTIME_RESTART_ON_FAILURE, 3, 0, 5, 0, RUNTIME_WAITING, "CrashLoopBackOff", 1, 1000},
		/* 6 */ {RUNTIME_RESTART_NEVER, 4, 0, 5, 0, RUNTIME_TERMINATED, "Error", 0, UINT64_MAX},
		/* 7 */ {RUNTIME_RESTART_NEVER, 137, 1, 5, 0, RUNTIME_TERMINATED, "OOMKilled", 0, UINT64_MAX},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct runtime_status st = {.state = RUNTIME_RUNNING, .started = 1, .restarts = 7};
		unsigned crashes = cases[i].crashes_before;
		uint64_t d = runtime_exited(&st, cases[i].policy, cases[i].code, cases[i].oom,
					    cases[i].ran_ms, &crashes, 1000, 60000);
		int restarted = cases[i].want_delay != UINT64_MAX;
		if (d != cases[i].want_delay || st.state != cases[i].want_state ||
		    strcmp(st.reason, cases[i].want_reason) != 0 || st.exit_code != cases[i].code ||
		    st.restarts != (restarted ? 8u : 7u) ||
		    (restarted && crashes != cases[i].want_crashes))
			fail_msg("case %zu: delay %llu state %d reason %s crashes %u restarts %u", i + 1,
				 (unsigned long long)d, (int)st.state, st.reason, crashes, st.restarts);
	}
}

static void test_phase(void **state)
{
	(void)state;
	struct runtime_status st = {0};
	assert_int_equal(runtime_phase_of(&st, RUNTIME_RESTART_ALWAYS), RUNTIME_PHASE_PENDING);
	st.state = RUNTIME_RUNNING;
	st.started = 1;
	assert_int_equal(runtime_phase_of(&st, RUNTIME_RESTART_ALWAYS), RUNTIME_PHASE_RUNNING);
	/* Back-off after a crash: still Running (CrashLoopBackOff). */
	st.state = RUNTIME_WAITING;
	st.exit_code = 1;
	assert_int_equal(runtime_phase_of(&st, RUNTIME_RESTART_ALWAYS), RUNTIME_PHASE_RUNNING);
	st.state = RUNTIME_TERMINATED;
	assert_int_equal(runtime_phase_of(&st, RUNTIME_RESTART_NEVER), RUNTIME_PHASE_FAILED);
	st.exit_code = 0;
	assert_int_equal(runtime_phase_of(&st, RUNTIME_RESTART_ON_FAILURE), RUNTIME_PHASE_SUCCEEDED);
	assert_string_equal(runtime_phase_name(RUNTIME_PHASE_SUCCEEDED), "Succeeded");
}

static const char *cond(json_t *s, const char *type)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(s, "conditions"), i, c)
		if (strcmp(json_string_value(json_object_get(c, "type")), type) == 0)
			return json_string_value(json_object_get(c, "status"));
	return NULL;
}

static void test_status_json(void **state)
{
	(void)state;
	json_t *p = pod("{\"containers\":[{\"name\":\"c\",\"image\":\"img\",\"command\":[\"x\"]}]}");
	struct runtime_pod_spec spec;
	assert_int_equal(runtime_pod_spec_parse(p, &spec, NULL, 0), 0);
	struct runtime_status st = {0};
	snprintf(st.reason, sizeof(st.reason), "NetworkNotReady");
	snprintf(st.host_ip, sizeof(st.host_ip), "192.0.2.1");
	const char *now = "2026-01-01T00:00:00.000000Z";

	json_t *s = runtime_status_json(&spec, &st, now);
	assert_string_equal(json_string_value(json_object_get(s, "phase")), "Pending");
	assert_null(json_object_get(s, "podIP"));
	assert_string_equal(json_string_value(json_object_get(s, "hostIP")), "192.0.2.1");
	assert_string_equal(cond(s, "Ready"), "False");
	json_t *cs = json_array_get(json_object_get(s, "containerStatuses"), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(cs, "state"), "waiting"), "reason")),
			    "NetworkNotReady");
	json_decref(s);

	st.state = RUNTIME_RUNNING;
	st.started = 1;
	st.restarts = 2;
	st.reason[0] = '\0';
	snprintf(st.pod_ip, sizeof(st.pod_ip), "10.1.2.3");
	s = runtime_status_json(&spec, &st, now);
	assert_string_equal(json_string_value(json_object_get(s, "phase")), "Running");
	assert_string_equal(json_string_value(json_object_get(s, "podIP")), "10.1.2.3");
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(s, "podIPs"), 0), "ip")), "10.1.2.3");
	assert_string_equal(cond(s, "Ready"), "True");
	assert_string_equal(cond(s, "ContainersReady"), "True");
	cs = json_array_get(json_object_get(s, "containerStatuses"), 0);
	assert_int_equal(json_integer_value(json_object_get(cs, "restartCount")), 2);
	assert_true(json_is_true(json_object_get(cs, "ready")));
	assert_string_equal(json_string_value(json_object_get(cs, "name")), "c");
	assert_string_equal(json_string_value(json_object_get(cs, "image")), "img");
	assert_non_null(json_object_get(json_object_get(cs, "state"), "running"));
	json_decref(s);

	st.state = RUNTIME_TERMINATED;
	st.exit_code = 3;
	s = runtime_status_json(&spec, &st, now);
	assert_string_equal(json_string_value(json_object_get(s, "phase")), "Failed");
	assert_string_equal(cond(s, "Ready"), "False");
	cs = json_array_get(json_object_get(s, "containerStatuses"), 0);
	json_t *term = json_object_get(json_object_get(cs, "state"), "terminated");
	assert_int_equal(json_integer_value(json_object_get(term, "exitCode")), 3);
	assert_string_equal(json_string_value(json_object_get(term, "reason")), "Error");
	json_decref(s);
	runtime_pod_spec_clear(&spec);
	json_decref(p);
}

static void test_keep_times(void **state)
{
	(void)state;
	json_t *old = json_loads("{\"startTime\":\"T0\",\"conditions\":["
				 "{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"T1\"},"
				 "{\"type\":\"PodScheduled\",\"status\":\"True\",\"lastTransitionTime\":\"T2\"}]}", 0, NULL);
	json_t *now = json_loads("{\"startTime\":\"T9\",\"conditions\":["
				 "{\"type\":\"Ready\",\"status\":\"False\",\"lastTransitionTime\":\"T9\"},"
				 "{\"type\":\"PodScheduled\",\"status\":\"True\",\"lastTransitionTime\":\"T9\"}]}", 0, NULL);
	runtime_status_keep_times(now, old);
	assert_string_equal(json_string_value(json_object_get(now, "startTime")), "T0");
	json_t *c = json_object_get(now, "conditions");
	/* Ready flipped: new time; PodScheduled did not: old time. */
	assert_string_equal(json_string_value(json_object_get(json_array_get(c, 0), "lastTransitionTime")), "T9");
	assert_string_equal(json_string_value(json_object_get(json_array_get(c, 1), "lastTransitionTime")), "T2");
	runtime_status_keep_times(now, NULL); /* nothing reported yet: unchanged */
	assert_string_equal(json_string_value(json_object_get(now, "startTime")), "T0");
	json_decref(old);
	json_decref(now);
}

static void test_netns_name(void **state)
{
	(void)state;
	char a[128], b[128], c[128], d[128];
	runtime_netns_name("sp-", "default", "web-1", "uid-1", a, sizeof(a));
	runtime_netns_name("sp-", "default", "web-1", "uid-2", b, sizeof(b));
	runtime_netns_name("sp-", "other", "web-1", "uid-1", c, sizeof(c));
	runtime_netns_name("sp-", "default", "web-1", "uid-1", d, sizeof(d));
	assert_string_equal(a, d); /* stable */
	assert_string_not_equal(a, b); /* a recreated pod (new uid) gets a new netns */
	assert_string_not_equal(a, c);
	assert_int_equal(strncmp(a, "sp-web-1-", 9), 0);
	assert_int_equal(strlen(a), 9 + 8);
	/* Long names are cut to 32 characters; odd characters replaced. */
	runtime_netns_name("p", "ns", "a.very-long-pod-name-that-goes-on-and-on-and-on", "u", a, sizeof(a));
	assert_int_equal(strlen(a), 1 + 32 + 1 + 8);
	runtime_netns_name("", "ns", "Web_1/x", "u", a, sizeof(a));
	assert_int_equal(strncmp(a, "-eb-1-x-", 8), 0);
	for (const char *p = a; *p; p++)
		assert_non_null(strchr("abcdefghijklmnopqrstuvwxyz0123456789.-", *p));
}

static void test_resolve(void **state)
{
	(void)state;
	char out[256];
	assert_int_equal(runtime_netns_resolve("sh", "/nonexistent:/bin:/usr/bin", out, sizeof(out)), 0);
	assert_string_equal(out, "/bin/sh");
	assert_int_equal(runtime_netns_resolve("sh", "/nonexistent", out, sizeof(out)), -1);
	assert_int_equal(runtime_netns_resolve("/bin/sh", "", out, sizeof(out)), 0);
	assert_int_equal(runtime_netns_resolve("/nonexistent/sh", NULL, out, sizeof(out)), -1);
	assert_int_equal(runtime_netns_resolve("", NULL, out, sizeof(out)), -1);
	/* A directory of that name is not a command. */
	assert_int_equal(runtime_netns_resolve("bin", "/", out, sizeof(out)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_command_and_args),
		cmocka_unit_test(test_spec_defaults),
		cmocka_unit_test(test_spec_errors),
		cmocka_unit_test(test_restart_policy),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_exited),
		cmocka_unit_test(test_phase),
		cmocka_unit_test(test_status_json),
		cmocka_unit_test(test_keep_times),
		cmocka_unit_test(test_netns_name),
		cmocka_unit_test(test_resolve),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
