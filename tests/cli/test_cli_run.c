/*
 * test_cli_run: `sluice` argument handling without a server, through
 * cli_run() with captured output: every usage error exits 2 with a
 * one-line message naming the flag or argument, --help works everywhere,
 * and bad manifests are refused before any connection is attempted.
 * Numbered table-driven cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"
#include "fake_server.h"

struct run_case {
	const char *args; /* space-separated */
	int rc;
	const char *out; /* substring of stdout, or NULL */
	const char *err; /* substring of stderr, or NULL */
};

/* None of these cases reaches a server, except the last, which must find
 * @DEAD@ (a loopback port just released) refusing the connection. */
static const struct run_case cases[] = {
	/* 0 */ {"", 2, NULL, "Usage: sluice COMMAND"},
	/* 1 */ {"--help", 0, "Commands:", NULL},
	/* 2 */ {"get --help", 0, "Usage: sluice get RESOURCE", NULL},
	/* 3 */ {"help drain", 0, "Usage: sluice drain NODE", NULL},
	/* 4 */ {"version", 0, "sluice client", NULL},
	/* 5 */ {"frobnicate", 2, NULL, "error: unknown command \"frobnicate\""},
	/* 6 */ {"get pods --bogus", 2, NULL, "error: unknown flag --bogus"},
	/* 7 */ {"get pods -Z", 2, NULL, "error: unknown flag -Z"},
	/* 8 */ {"get pods -o", 2, NULL, "needs a value"},
	/* 9 */ {"get pods -o xml", 2, NULL, "--output: \"xml\""},
	/* 10 */ {"get pods --timeout soon", 2, NULL, "--timeout: \"soon\""},
	/* 11 */ {"get pods --timeout 0s", 2, NULL, "--timeout"},
	/* 12 */ {"get pods --server http://x", 2, NULL, "not an https:// URL"},
	/* 13 */ {"get", 2, NULL, "give a resource type"},
	/* 14 */ {"get widgets", 2, NULL, "unknown resource type \"widgets\""},
	/* 15 */ {"get pod/", 2, NULL, "RESOURCE/NAME"},
	/* 16 */ {"get pod/a svc/b", 2, NULL, "one resource type per command"},
	/* 17 */ {"get pods a -l app=x", 2, NULL, "names and selectors do not mix"},
	/* 18 */ {"get pods a b -w", 2, NULL, "one name at a time"},
	/* 19 */ {"describe pods", 2, NULL, "give the name of the pod"},
	/* 20 */ {"apply", 2, NULL, "-f FILE"},
	/* 21 */ {"apply -f /nonexistent/m.yaml", 2, NULL, "/nonexistent/m.yaml: No such file"},
	/* 22 */ {"apply -f @BAD@", 2, NULL, ":3:"},
	/* 23 */ {"apply -f @GOOD@ extra", 2, NULL, "unexpected argument \"extra\""},
	/* 24 */ {"delete pods", 2, NULL, "refusing to delete every pods"},
	/* 25 */ {"delete pods a -f @GOOD@", 2, NULL, "-f and names do not mix"},
	/* 26 */ {"cluster", 2, NULL, "only subcommand is \"status\""},
	/* 27 */ {"cordon", 2, NULL, "give exactly one NODE"},
	/* 28 */ {"drain a b", 2, NULL, "give exactly one NODE"},
	/* 29 */ {"get pods --config /nonexistent/admin.conf", 2, NULL, "config: /nonexistent"},
	/* 30 */ {"get pods -n", 2, NULL, "needs a value"},
	/* 31: flags after the arguments, and --help wins */
	/* 31 */ {"delete pods x --ignore-not-found --help", 0, "Usage: sluice delete", NULL},
	/* 32 */ {"get pods --server https://a,https://b,https://c,https://d,https://e,"
		  "https://f,https://g,https://h,https://i", 2, NULL, "at most 8 endpoints"},
	/* 33 */ {"get pods web -A", 2, NULL, "a name needs one namespace"},
	/* 34 */ {"scale deploy web", 2, NULL, "give --replicas N"},
	/* 35 */ {"scale deploy web --replicas -1", 2, NULL, "--replicas: \"-1\""},
	/* 36 */ {"scale pods a --replicas 1", 2, NULL, "only deployments scale"},
	/* 37 */ {"scale deploy --replicas 1", 2, NULL, "give the name of the deployment"},
	/* 38: a dead endpoint: exit 3 naming it */
	/* 38 */ {"get pods --server @DEAD@ --timeout 2s", 3, NULL,
		  "cluster unreachable"},
};

static char bad_path[64], good_path[64], dead_url[64];

static char *subst(const char *in)
{
	char *s = strdup(in);
	for (;;) {
		const char *which = NULL, *path = NULL;
		char *at = strstr(s, "@BAD@");
		if (at != NULL) {
			which = "@BAD@";
			path = bad_path;
		} else if ((at = strstr(s, "@GOOD@")) != NULL) {
			which = "@GOOD@";
			path = good_path;
		} else if ((at = strstr(s, "@DEAD@")) != NULL) {
			which = "@DEAD@";
			path = dead_url;
		}
		if (at == NULL)
			return s;
		char *n = NULL;
		if (asprintf(&n, "%.*s%s%s", (int)(at - s), s, path, at + strlen(which)) < 0)
			abort();
		free(s);
		s = n;
	}
}

static void run_one(size_t i, const struct run_case *tc)
{
	char *args = subst(tc->args);
	char *argv[64];
	int argc = 0;
	argv[argc++] = (char *)"sluice";
	for (char *tok = strtok(args, " "); tok && argc < 63; tok = strtok(NULL, " "))
		argv[argc++] = tok;
	argv[argc] = NULL;

	char *out = NULL, *err = NULL;
	size_t olen = 0, elen = 0;
	FILE *o = open_memstream(&out, &olen), *e = open_memstream(&err, &elen);
	volatile int stop = 0;
	int rc = cli_run(argc, argv, o, e, &stop);
	fclose(o);
	fclose(e);
	if (rc != tc->rc || (tc->out && strstr(out, tc->out) == NULL) ||
	    (tc->err && strstr(err, tc->err) == NULL))
		fail_msg("case %zu \"%s\": rc %d (want %d)\nstdout: %s\nstderr: %s", i, tc->args, rc,
			 tc->rc, out, err);
	/* Errors are one line on stderr, and nothing on stdout. */
	if (rc != 0 && tc->err != NULL && strncmp(tc->err, "Usage", 5) != 0) {
		assert_int_equal(olen, 0);
		assert_non_null(strstr(err, "error: "));
		assert_ptr_equal(strchr(err, '\n'), err + elen - 1);
	}
	free(out);
	free(err);
	free(args);
}

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_one(i, &cases[i]);
	/* Again, in another order: getopt state does not leak between runs. */
	for (size_t i = sizeof(cases) / sizeof(cases[0]); i-- > 0;)
		run_one(i, &cases[i]);
}

static void write_file(char *path, const char *text)
{
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
}

int main(void)
{
	/* No ambient configuration may leak into the cases. */
	setenv("SLUICE_CONFIG", "", 1); /* empty: ignored */
	fake_dead_url(dead_url, sizeof(dead_url));
	snprintf(bad_path, sizeof(bad_path), "/tmp/sluice-bad-XXXXXX");
	snprintf(good_path, sizeof(good_path), "/tmp/sluice-good-XXXXXX");
	write_file(bad_path, "apiVersion: v1\nkind: Pod\n\tmetadata: {}\n");
	write_file(good_path, "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(bad_path);
	unlink(good_path);
	return rc;
}
