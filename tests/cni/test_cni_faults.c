/*
 * test_cni_faults: ADD under injected I/O faults, SQLite/raft style
 * (STYLE 23). The state and device-info writes of sluice-cni go through
 * mkdir, fsync and rename; this test links the plugin in-process with those
 * three wrapped (-Wl,--wrap) by a countdown that fails the Nth call, either
 * once (transient) or from then on (persistent), for N = 1, 2, ... until ADD
 * gets through without meeting the fault. After every failed ADD: a clean
 * CNI error, no attachment record, no device-info file, and the agent's
 * allocation released (directly, or by the pending record that the next call
 * replays). Under ASan every step is also leak-checked.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>

#include "cni_harness.h"
#include "cni_plugin.h"

int __real_rename(const char *a, const char *b);
int __real_fsync(int fd);
int __real_mkdir(const char *p, mode_t m);
int __wrap_rename(const char *a, const char *b);
int __wrap_fsync(int fd);
int __wrap_mkdir(const char *p, mode_t m);

static struct cni_h H;
static int fault_countdown; /* 0: off; calls left until the faulty one */
static bool fault_persistent, fault_hit;

static bool fault_now(void)
{
	if (fault_countdown == 0)
		return false;
	if (fault_countdown == 1) {
		fault_hit = true;
		if (!fault_persistent)
			fault_countdown = 0;
		return true;
	}
	fault_countdown--;
	return false;
}

int __wrap_rename(const char *a, const char *b)
{
	if (fault_now()) {
		errno = EIO;
		return -1;
	}
	return __real_rename(a, b);
}

int __wrap_fsync(int fd)
{
	if (fault_now()) {
		errno = EIO;
		return -1;
	}
	return __real_fsync(fd);
}

int __wrap_mkdir(const char *p, mode_t m)
{
	if (fault_now()) {
		errno = ENOSPC;
		return -1;
	}
	return __real_mkdir(p, m);
}

static char *conf(void)
{
	static char buf[2048];
	snprintf(buf, sizeof(buf),
		 "{\"cniVersion\":\"1.1.0\",\"name\":\"sl-fault\",\"type\":\"sluice-cni\","
		 "\"mode\":\"memif\",\"agentSocket\":\"%s\",\"timeoutMs\":2000,\"socketDir\":\"%s\","
		 "\"deviceInfoDir\":\"%s\",\"stateDir\":\"%s\"}",
		 H.url, H.sockdir, H.devdir, H.state);
	return buf;
}

static int run(const char *cmd, const char *cid, char **out)
{
	size_t len = 0;
	FILE *f = open_memstream(out, &len);
	struct cni_plugin_env e = { .command = cmd, .container_id = cid,
				    .netns = "/proc/self/ns/net", .ifname = "eth0",
				    .path = "/opt/cni/bin" };
	const char *c = conf();
	int rc = cni_plugin_run(&e, c, strlen(c), f, NULL);
	fclose(f);
	return rc;
}

static char *sub(const char *kind)
{
	static char p[512];
	snprintf(p, sizeof(p), "%s/%s", H.state, kind);
	return p;
}

static void fault_sweep(bool persistent)
{
	char cid[32], pat[96];
	int n;
	for (n = 1; n < 64; n++) {
		char *out = NULL;
		snprintf(cid, sizeof(cid), "f%c%d", persistent ? 'p' : 't', n);
		fault_countdown = n;
		fault_persistent = persistent;
		fault_hit = false;
		int rc = run("ADD", cid, &out);
		fault_countdown = 0;
		bool hit = fault_hit;
		if (rc == 0) {
			free(out);
			assert_false(hit && persistent); /* a persistent fault cannot be survived */
			if (!hit)
				break; /* N beyond the calls ADD makes: done */
			/* a transient fault may be absorbed (e.g. mkdir of an existing dir) */
			assert_int_equal(cni_h_count(sub("att")), 1);
			assert_int_equal(run("DEL", cid, &out), 0);
			free(out);
			continue;
		}
		print_message("%s fault at call %d: %s", persistent ? "persistent" : "transient", n, out);
		json_t *j = json_loads(out, 0, NULL);
		assert_non_null(j);
		assert_int_not_equal(json_integer_value(json_object_get(j, "code")), 0);
		json_decref(j);
		free(out);
		assert_true(hit);
		assert_int_equal(cni_h_count(sub("att")), 0);
		assert_int_equal(cni_h_count(H.devdir), 0);
		/* Whatever the agent allocated is released now or by the next replay. */
		out = NULL;
		assert_int_equal(run("STATUS", NULL, &out), 0);
		free(out);
		assert_int_equal(cni_h_count(sub("pending")), 0);
		snprintf(pat, sizeof(pat), "add sl-fault %s eth0", cid);
		int adds = cni_h_journal_count(&H, pat);
		snprintf(pat, sizeof(pat), "del sl-fault %s eth0", cid);
		assert_true(cni_h_journal_count(&H, pat) >= adds);
	}
	assert_true(n > 2); /* the sweep met at least two faulty steps */
	assert_true(n < 64);
	char *out = NULL;
	assert_int_equal(run("DEL", cid, &out), 0);
	free(out);
	assert_int_equal(cni_h_count(sub("att")), 0);
}

static void test_transient_faults(void **state)
{
	(void)state;
	fault_sweep(false);
}

static void test_persistent_faults(void **state)
{
	(void)state;
	fault_sweep(true);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s FAKE_AGENT\n", argv[0]);
		return 2;
	}
	cni_h_init(&H, NULL, argv[1]);
	cni_h_agent_start(&H, NULL);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transient_faults),
		cmocka_unit_test(test_persistent_faults),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	cni_h_fini(&H);
	return rc;
}
