/*
 * test_master: ctrl/master.c in-process, one member on loopback, driven by
 * its own event_base: proposals and their results, ReadIndex reads,
 * callbacks never inside the starting call, codec errors naming the field,
 * status, leases expiring on the leader's clock, SHUTDOWN on free, and a
 * restart from the data dir that keeps every key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "master.h"
#include "store.h"
#include "store_cmd.h"

struct fx {
	char dir[64];
	struct event_base *base;
	struct master *m;
	struct master_member mem;
};

static const uint8_t key32[32] = "0123456789abcdef0123456789abcdef";

static void quiet(void *data, const char *line)
{
	(void)data;
	(void)line;
}

static struct master *start_try(struct fx *f, char *err, size_t errlen)
{
	struct master_params p = {
		.base = f->base, .name = "m1", .data_dir = f->dir,
		.peer_key = key32, .peer_key_len = sizeof(key32),
		.members = &f->mem, .n_members = 1,
		.election_timeout_ms = 150, .heartbeat_ms = 30,
		.log = quiet,
	};
	return master_create(&p, err, errlen);
}

static struct master *start(struct fx *f)
{
	char err[256];
	struct master *m = start_try(f, err, sizeof(err));
	if (m == NULL)
		fail_msg("master_create: %s", err);
	return m;
}

/* Run the loop until *flag or (flag NULL) leadership, at most 10 s. */
static void run_until(struct fx *f, const int *flag)
{
	for (int i = 0; i < 2000; i++) {
		if (flag != NULL ? *flag != 0 : master_is_leader(f->m))
			return;
		struct timeval tv = { 0, 5000 };
		event_base_loopexit(f->base, &tv);
		event_base_dispatch(f->base);
	}
	fail_msg("condition not reached in 10 s");
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_master.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	strcat(f->dir, "/data");
	f->base = event_base_new();
	assert_int_equal(event_base_priority_init(f->base, 2), 0);
	f->mem.id = 1;
	snprintf(f->mem.name, sizeof(f->mem.name), "m1");
	snprintf(f->mem.api_url, sizeof(f->mem.api_url), "https://127.0.0.1:6443");
	/* a port from the pid; the next ones if another test holds it */
	char err[256] = "";
	for (int i = 0; i < 8 && f->m == NULL; i++) {
		snprintf(f->mem.peer_url, sizeof(f->mem.peer_url), "tcp://127.0.0.1:%d",
			 30000 + (getpid() * 7 + i * 997) % 30000);
		f->m = start_try(f, err, sizeof(err));
	}
	if (f->m == NULL)
		fail_msg("master_create: %s", err);
	assert_non_null(f->m);
	run_until(f, NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	master_free(f->m);
	event_base_free(f->base);
	char cmd[128];
	f->dir[strlen(f->dir) - 5] = '\0'; /* strip /data */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* ------------------------------------------------------------ helpers */

struct prop {
	struct master_propose req;
	int done;
	int status;
	int err;
	int64_t revision;
	int64_t lease_id;
};

static void prop_cb(struct master_propose *req, int status, const struct store_result *res)
{
	struct prop *p = req->data;
	p->done = 1;
	p->status = status;
	if (res != NULL) {
		p->err = res->err;
		p->revision = res->revision;
		p->lease_id = res->lease_id;
	}
}

static int propose_put(struct fx *f, struct prop *p, const char *k, const char *v, int64_t lease)
{
	memset(p, 0, sizeof(*p));
	p->req.data = p;
	struct store_cmd cmd = { .type = STORE_CMD_PUT,
				 .op = { .type = STORE_OP_PUT, .key = (const uint8_t *)k,
					 .key_len = strlen(k), .value = (const uint8_t *)v,
					 .value_len = strlen(v), .lease = lease } };
	char err[256];
	return master_propose(f->m, &p->req, &cmd, prop_cb, err, sizeof(err));
}

struct rd {
	struct master_read req;
	int done;
	int status;
	char value[64];
	int64_t revision;
};

static void rd_cb(struct master_read *req, int status, struct store *s)
{
	struct rd *r = req->data;
	r->done = 1;
	r->status = status;
	if (s == NULL)
		return;
	r->revision = store_revision(s);
	struct store_op op = { .type = STORE_OP_RANGE, .key = (const uint8_t *)"k",
			       .key_len = 1 };
	struct store_op_result res;
	if (store_range(s, &op, &res) == STORE_OK && res.n_kvs == 1)
		snprintf(r->value, sizeof(r->value), "%.*s", (int)res.kvs[0].value_len,
			 (const char *)res.kvs[0].value);
	store_op_result_clear(&res);
}

/* -------------------------------------------------------------- tests */

static void test_propose_and_read(void **state)
{
	struct fx *f = *state;
	struct prop p;
	assert_int_equal(propose_put(f, &p, "k", "v1", 0), MASTER_OK);
	assert_int_equal(p.done, 0); /* never inside the call */
	run_until(f, &p.done);
	assert_int_equal(p.status, MASTER_OK);
	assert_int_equal(p.err, STORE_OK);
	assert_int_equal(p.revision, 2);

	struct rd r = { .req.data = &r };
	assert_int_equal(master_read(f->m, &r.req, true, rd_cb), MASTER_OK);
	assert_int_equal(r.done, 0);
	run_until(f, &r.done);
	assert_int_equal(r.status, MASTER_OK);
	assert_string_equal(r.value, "v1");

	/* 50 proposals in one loop iteration: all applied, in order */
	struct prop many[50];
	char v[16];
	for (int i = 0; i < 50; i++) {
		snprintf(v, sizeof(v), "x%d", i);
		assert_int_equal(propose_put(f, &many[i], "k", v, 0), MASTER_OK);
	}
	run_until(f, &many[49].done);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(many[i].status, MASTER_OK);
		assert_int_equal(many[i].revision, 3 + i);
	}
	struct rd s = { .req.data = &s };
	assert_int_equal(master_read(f->m, &s.req, false, rd_cb), MASTER_OK);
	run_until(f, &s.done);
	assert_string_equal(s.value, "x49");
	assert_int_equal(s.revision, 52);

	struct master_status st;
	master_status_get(f->m, &st);
	assert_int_equal(st.self, 1);
	assert_int_equal(st.leader, 1);
	assert_int_equal(st.revision, 52);
	assert_true(st.commit_index >= 52 && st.applied_index == st.commit_index);
	assert_int_equal(st.n_members, 1);
	assert_int_equal(st.members[0].role, MASTER_ROLE_LEADER);
	assert_true(master_is_leader_atomic(f->m));
}

static void test_bad_command(void **state)
{
	struct fx *f = *state;
	struct prop p = { .req.data = &p };
	struct store_cmd cmd = { .type = STORE_CMD_PUT,
				 .op = { .type = STORE_OP_PUT, .key = (const uint8_t *)"",
					 .key_len = 0 } };
	char err[256] = "";
	assert_int_equal(master_propose(f->m, &p.req, &cmd, prop_cb, err, sizeof(err)),
			 MASTER_ERR_INVAL);
	assert_non_null(strstr(err, "key"));
	struct master_read rq = { 0 };
	assert_int_equal(master_read(f->m, &rq, true, NULL), MASTER_ERR_INVAL);
}

static void test_lease_expires(void **state)
{
	struct fx *f = *state;
	struct prop g = { .req.data = &g };
	struct store_cmd grant = { .type = STORE_CMD_LEASE_GRANT, .lease_id = 77, .ttl = 1 };
	char err[256];
	assert_int_equal(master_propose(f->m, &g.req, &grant, prop_cb, err, sizeof(err)),
			 MASTER_OK);
	run_until(f, &g.done);
	assert_int_equal(g.err, STORE_OK);
	struct prop p;
	assert_int_equal(propose_put(f, &p, "k", "leased", 77), MASTER_OK);
	run_until(f, &p.done);
	assert_int_equal(p.err, STORE_OK);
	/* nobody keeps it alive: the leader's tick revokes it, deleting k */
	for (int i = 0; i < 100; i++) {
		struct rd r = { .req.data = &r };
		assert_int_equal(master_read(f->m, &r.req, true, rd_cb), MASTER_OK);
		run_until(f, &r.done);
		if (r.value[0] == '\0')
			return;
		assert_string_equal(r.value, "leased");
		struct timeval tv = { 0, 50000 };
		event_base_loopexit(f->base, &tv);
		event_base_dispatch(f->base);
	}
	fail_msg("leased key still there long after its 1 s TTL");
}

static void test_shutdown_and_restart(void **state)
{
	struct fx *f = *state;
	struct prop p;
	assert_int_equal(propose_put(f, &p, "k", "durable", 0), MASTER_OK);
	run_until(f, &p.done);
	assert_int_equal(p.status, MASTER_OK);
	int64_t rev = p.revision;

	/* a read still queued when the master goes away fails with SHUTDOWN,
	 * from inside master_free */
	struct rd r = { .req.data = &r };
	assert_int_equal(master_read(f->m, &r.req, true, rd_cb), MASTER_OK);
	master_free(f->m);
	assert_int_equal(r.done, 1);
	assert_int_equal(r.status, MASTER_ERR_SHUTDOWN);

	f->m = start(f);
	run_until(f, NULL);
	struct rd r2 = { .req.data = &r2 };
	assert_int_equal(master_read(f->m, &r2.req, true, rd_cb), MASTER_OK);
	run_until(f, &r2.done);
	assert_int_equal(r2.status, MASTER_OK);
	assert_string_equal(r2.value, "durable");
	assert_int_equal(r2.revision, rev);
}

static void test_create_errors(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct master_params p = { .base = f->base, .name = "nobody", .data_dir = "/tmp/x",
				   .peer_key = key32, .peer_key_len = sizeof(key32),
				   .members = &f->mem, .n_members = 1 };
	assert_null(master_create(&p, err, sizeof(err)));
	assert_non_null(strstr(err, "--members: no member named 'nobody'"));
	p.name = "m1";
	p.peer_key_len = 8;
	assert_null(master_create(&p, err, sizeof(err)));
	assert_non_null(strstr(err, "peer key"));
	struct master_member two[2] = { f->mem, f->mem };
	p.peer_key_len = sizeof(key32);
	p.members = two;
	p.n_members = 2;
	assert_null(master_create(&p, err, sizeof(err)));
	assert_non_null(strstr(err, "given twice"));
	assert_string_equal(master_strerror(MASTER_ERR_NOTLEADER), "not the leader");
	assert_string_equal(master_strerror(999), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_propose_and_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lease_expires, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_and_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_errors, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
