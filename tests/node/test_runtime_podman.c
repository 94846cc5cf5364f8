/*
 * test_runtime_podman: the pure parts of the podman pod runtime
 * (ctrl/runtime_podman.h): the `podman run` argv built from a pod spec
 * (numbered table), its errors, the decoding of `podman container
 * inspect` entries and the "image not present" check.
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
#include "runtime_podman.h"

#define FIXED "podman run -d --name sp-web-1 --network sl --pull never --hostname web " \
	      "--label io.sluice.node=n1 --label io.kubernetes.pod.namespace=prod "       \
	      "--label io.kubernetes.pod.name=web --label io.kubernetes.pod.uid=u-1 "     \
	      "--log-driver k8s-file --log-opt path=/l/c.log"

/* argv joined with '|' so that words with spaces stay visible. */
static void join(const struct runtime_podman_argv *a, char *out, size_t cap)
{
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < a->argc; i++)
		n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "|" : "", a->argv[i]);
	assert_null(a->argv[a->argc]);
}

static void spaces_to_bars(const char *in, char *out, size_t cap)
{
	snprintf(out, cap, "%s", in);
	for (char *p = out; *p; p++)
		if (*p == ' ')
			*p = '|';
}

static void test_run_argv_table(void **state)
{
	(void)state;
	static const struct {
		const char *container; /* spec.containers[0] without name */
		size_t n_command;
		int image_default;
		const char *tail;      /* after FIXED, '|'-separated */
	} cases[] = {
		/* 1: command replaces ENTRYPOINT, args follow the image */
		{"\"image\":\"bb\",\"command\":[\"sh\",\"-c\"],\"args\":[\"echo hi there\"]", 2, 0,
		 "|--entrypoint|[\"sh\",\"-c\"]|bb|echo hi there"},
		/* 2: command only */
		{"\"image\":\"localhost/bb:1\",\"command\":[\"sleep\",\"60\"]", 2, 0,
		 "|--entrypoint|[\"sleep\",\"60\"]|localhost/bb:1"},
		/* 3: args only: the image's ENTRYPOINT gets them */
		{"\"image\":\"bb\",\"args\":[\"-p\",\"80\"]", 0, 0, "|bb|-p|80"},
		/* 4: neither: the image's own ENTRYPOINT and CMD */
		{"\"image\":\"bb\",\"command\":[\"-\"]", 0, 1, "|bb"},
		/* 5: env and workingDir before the image */
		{"\"image\":\"bb\",\"workingDir\":\"/srv\",\"command\":[\"true\"],"
		 "\"env\":[{\"name\":\"A\",\"value\":\"x y\"},{\"name\":\"B\"}]", 1, 0,
		 "|--workdir|/srv|--env|A=x y|--env|B=|--entrypoint|[\"true\"]|bb"},
		/* 6: quotes and backslashes survive in the JSON entrypoint */
		{"\"image\":\"bb\",\"command\":[\"echo\",\"a\\\"b\\\\c\"]", 2, 0,
		 "|--entrypoint|[\"echo\",\"a\\\"b\\\\c\"]|bb"},
	};
	char buf[4096], got[8192], want[8192];
	struct runtime_podman_argv *a = calloc(1, sizeof(*a));
	assert_non_null(a);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(buf, sizeof(buf),
			 "{\"metadata\":{\"name\":\"web\",\"namespace\":\"prod\",\"uid\":\"u-1\"},"
			 "\"spec\":{\"containers\":[{\"name\":\"c\",%s}]}}",
			 cases[i].container);
		json_t *p = json_loads(buf, 0, NULL);
		assert_non_null(p);
		struct runtime_pod_spec s;
		char err[256];
		assert_int_equal(runtime_pod_spec_parse(p, &s, err, sizeof(err)), 0);
		struct runtime_podman_run r = {
			.podman = "podman", .name = "sp-web-1", .network = "sl", .node = "n1",
			.log_path = "/l/c.log", .spec = &s, .n_command = cases[i].n_command,
			.image_default = cases[i].image_default,
		};
		assert_int_equal(runtime_podman_run_argv(&r, a, err, sizeof(err)), 0);
		join(a, got, sizeof(got));
		spaces_to_bars(FIXED, want, sizeof(want));
		strncat(want, cases[i].tail, sizeof(want) - strlen(want) - 1);
		if (strcmp(got, want) != 0)
			fail_msg("case %zu:\n got  %s\n want %s", i + 1, got, want);
		runtime_pod_spec_clear(&s);
		json_decref(p);
	}
	free(a);
}

static void test_run_argv_errors(void **state)
{
	(void)state;
	json_t *p = json_loads("{\"metadata\":{\"name\":\"web\",\"uid\":\"u\"},\"spec\":{\"containers\":"
			       "[{\"name\":\"c\",\"command\":[\"true\"]}]}}", 0, NULL);
	struct runtime_pod_spec s;
	char err[256];
	struct runtime_podman_argv *a = calloc(1, sizeof(*a));
	assert_non_null(a);
	assert_int_equal(runtime_pod_spec_parse(p, &s, err, sizeof(err)), 0);
	struct runtime_podman_run r = {.podman = "podman", .name = "n", .network = "sl", .node = "n1",
				       .log_path = "/l", .spec = &s, .n_command = 1};
	/* 1: no image */
	assert_int_equal(runtime_podman_run_argv(&r, a, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "spec.containers[0].image"));
	/* 2: more command words than argv holds */
	snprintf(s.image, sizeof(s.image), "bb");
	r.n_command = 2;
	assert_int_equal(runtime_podman_run_argv(&r, a, err, sizeof(err)), -1);
	/* 3: over the argv buffer */
	r.n_command = 1;
	char *big = malloc(RUNTIME_PODMAN_ARGV_BUF);
	assert_non_null(big);
	memset(big, 'x', RUNTIME_PODMAN_ARGV_BUF - 1);
	big[RUNTIME_PODMAN_ARGV_BUF - 1] = '\0';
	r.log_path = big;
	assert_int_equal(runtime_podman_run_argv(&r, a, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "command line over"));
	free(big);
	free(a);
	runtime_pod_spec_clear(&s);
	json_decref(p);
}

static void test_state_parse(void **state)
{
	(void)state;
	struct runtime_podman_state s;
	json_t *o = json_loads(
		"{\"Id\":\"abc123\",\"State\":{\"Status\":\"exited\",\"Running\":false,\"ExitCode\":3,"
		"\"OOMKilled\":false,\"FinishedAt\":\"2026-11-25T07:00:00.1Z\"},"
		"\"NetworkSettings\":{\"Networks\":{\"sl\":{\"IPAddress\":\"10.1.1.5\"}}}}", 0, NULL);
	assert_int_equal(runtime_podman_state_parse(o, "sl", &s), 0);
	assert_string_equal(s.id, "abc123");
	assert_string_equal(s.status, "exited");
	assert_int_equal(s.running, 0);
	assert_int_equal(s.exit_code, 3);
	assert_string_equal(s.finished_at, "2026-11-25T07:00:00.1Z");
	assert_string_equal(s.ip, "10.1.1.5");
	/* another network's address is not ours */
	assert_int_equal(runtime_podman_state_parse(o, "other", &s), 0);
	assert_string_equal(s.ip, "");
	json_decref(o);

	o = json_loads("{\"Id\":\"d\",\"State\":{\"Status\":\"running\",\"Running\":true,\"OOMKilled\":true}}",
		       0, NULL);
	assert_int_equal(runtime_podman_state_parse(o, "sl", &s), 0);
	assert_int_equal(s.running, 1);
	assert_int_equal(s.oom_killed, 1);
	json_decref(o);

	/* no Id, no State, State without Status */
	static const char *const bad[] = {
		"{\"State\":{\"Status\":\"running\"}}",
		"{\"Id\":\"x\"}",
		"{\"Id\":\"x\",\"State\":{}}",
		"[]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = json_loads(bad[i], 0, NULL);
		assert_non_null(o);
		if (runtime_podman_state_parse(o, "sl", &s) != -1)
			fail_msg("bad case %zu accepted", i + 1);
		json_decref(o);
	}
}

static void test_image_missing(void **state)
{
	(void)state;
	assert_true(runtime_podman_image_missing("Error: localhost/bb:1: image not known"));
	assert_true(runtime_podman_image_missing("Error: no such image"));
	assert_false(runtime_podman_image_missing("Error: plugin type=\"sluice-cni\" failed"));
	assert_false(runtime_podman_image_missing(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_argv_table),
		cmocka_unit_test(test_run_argv_errors),
		cmocka_unit_test(test_state_parse),
		cmocka_unit_test(test_image_missing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
