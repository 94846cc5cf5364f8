/*
 * test_informer: the list + watch cache (ctrl/informer.h) against
 * tests/cli/fake_api.py (an in-memory HTTPS API on loopback):
 *
 *   1. watches that the server ends every 0.3 s are resumed from the last
 *      resourceVersion: every change arrives exactly once, none is lost;
 *   2. a server that answers 410 Expired to every watch makes it relist,
 *      and the relists alone keep the cache right (adds and deletes);
 *   3. write-through: an object we wrote locally is not rolled back by the
 *      older watch event of the same object, and a local delete is not
 *      undone by an older event either.
 *
 * usage: test_informer path/to/fake_api.py
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../cli/fake_server.h"
#include "ctlr_util.h"
#include "informer.h"

static const char *fake_script;

struct seen {
	unsigned added, modified, deleted;
	char last_key[128];
};

static void count_cb(void *arg, struct informer *inf, enum informer_event ev, const char *key,
		     const json_t *old, const json_t *cur)
{
	struct seen *s = arg;
	(void)inf;
	if (ev == INFORMER_ADDED) {
		assert_null(old);
		assert_non_null(cur);
		s->added++;
	} else if (ev == INFORMER_MODIFIED) {
		assert_non_null(old);
		assert_non_null(cur);
		s->modified++;
	} else {
		assert_non_null(old);
		assert_null(cur);
		s->deleted++;
	}
	snprintf(s->last_key, sizeof(s->last_key), "%s", key);
}

struct env {
	char certs[256];
	char cacrt[300], crt[300], key[300];
	struct fake_server srv;
	struct apic_params ap;
	struct apic *c;
	struct informer_queue *q;
	struct informer *inf;
};

static void env_start(struct env *e, const char *const *flags)
{
	memset(e, 0, sizeof(*e));
	fake_certs_dir(e->certs, sizeof(e->certs));
	fake_server_start(&e->srv, fake_script, e->certs, flags);
	snprintf(e->cacrt, sizeof(e->cacrt), "%s/ca.crt", e->certs);
	snprintf(e->crt, sizeof(e->crt), "%s/admin.crt", e->certs);
	snprintf(e->key, sizeof(e->key), "%s/admin.key", e->certs);
	e->ap.servers[0] = e->srv.url;
	e->ap.n_servers = 1;
	e->ap.ca = e->cacrt;
	e->ap.cert = e->crt;
	e->ap.key = e->key;
	char err[APIC_ERRMSG_SIZE];
	e->c = apic_create(&e->ap, err, sizeof(err));
	assert_non_null(e->c);
	e->q = informer_queue_create();
	assert_non_null(e->q);
}

static void env_informer(struct env *e)
{
	char err[256];
	struct informer_params p = {
		.name = "nodes", .path = "/api/v1/nodes", .api = e->ap, .queue = e->q,
		.backoff_ms = 100,
	};
	e->inf = informer_start(&p, err, sizeof(err));
	assert_non_null(e->inf);
}

static void env_stop(struct env *e)
{
	informer_stop(e->inf);
	informer_queue_free(e->q);
	apic_free(e->c);
	fake_server_stop(&e->srv);
	fake_rm_rf(e->certs);
}

/* Write a node; returns the stored object (caller frees). */
static json_t *write_node(struct env *e, const char *method, const char *name,
			  const char *label, const char *rv)
{
	char path[128];
	json_t *n = json_pack("{s:s, s:s, s:{s:s, s:{s:s}}}", "apiVersion", "v1", "kind", "Node",
			      "metadata", "name", name, "labels", "l", label);
	if (rv)
		json_object_set_new(json_object_get(n, "metadata"), "resourceVersion",
				    json_string(rv));
	snprintf(path, sizeof(path), strcmp(method, "POST") == 0 ? "/api/v1/nodes" : "/api/v1/nodes/%s",
		 name);
	struct apic_resp r;
	assert_int_equal(apic_request(e->c, method, path, strcmp(method, "DELETE") ? n : NULL, &r),
			 APIC_OK);
	if (r.status != 200 && r.status != 201)
		fail_msg("%s %s: HTTP %ld %s", method, path, r.status, r.errmsg);
	json_decref(n);
	json_t *out = json_incref(r.body);
	apic_resp_clear(&r);
	return out;
}

static const char *label_of(const json_t *obj)
{
	return json_string_value(
		json_object_get(json_object_get(json_object_get(obj, "metadata"), "labels"), "l"));
}

/* Drain until cond holds (or fail after 10 s). */
#define DRAIN_UNTIL(e, s, cond)                                                               \
	do {                                                                                  \
		for (int i_ = 0; !(cond); i_++) {                                             \
			if (i_ > 100)                                                         \
				fail_msg("timed out waiting for %s", #cond);                  \
			informer_drain((e)->q, 100, count_cb, (s));                           \
		}                                                                             \
	} while (0)

static void test_resume(void **state)
{
	(void)state;
	static const char *const flags[] = {"--watch-seconds", "0.3", NULL};
	struct env e;
	struct seen s = {0};
	env_start(&e, flags);
	json_decref(write_node(&e, "POST", "a", "1", NULL));
	env_informer(&e);
	DRAIN_UNTIL(&e, &s, informer_synced(e.inf));
	assert_int_equal(s.added, 1);
	/* Let the server end the watch a few times. */
	for (int i = 0; i < 10; i++)
		informer_drain(e.q, 100, count_cb, &s);
	json_t *a = write_node(&e, "POST", "b", "1", NULL);
	json_decref(a);
	const json_t *cur = informer_get(e.inf, "a");
	char rv[24];
	snprintf(rv, sizeof(rv), "%s",
		 json_string_value(json_object_get(json_object_get(cur, "metadata"),
						   "resourceVersion")));
	json_decref(write_node(&e, "PUT", "a", "2", rv));
	DRAIN_UNTIL(&e, &s, s.added == 2 && s.modified == 1);
	json_decref(write_node(&e, "DELETE", "b", "1", NULL));
	DRAIN_UNTIL(&e, &s, s.deleted == 1);
	/* Several resumed watches, and nothing delivered twice. */
	for (int i = 0; i < 8; i++)
		informer_drain(e.q, 100, count_cb, &s);
	struct informer_stats st;
	informer_stats(e.inf, &st);
	assert_true(st.watches >= 3);
	assert_int_equal(st.lists, 1);
	assert_int_equal(st.expired, 0);
	assert_int_equal(s.added, 2);
	assert_int_equal(s.modified, 1);
	assert_int_equal(s.deleted, 1);
	assert_int_equal(json_object_size(informer_items(e.inf)), 1);
	assert_string_equal(label_of(informer_get(e.inf, "a")), "2");
	env_stop(&e);
}

static void test_relist_on_expired(void **state)
{
	(void)state;
	static const char *const flags[] = {"--compacted", "1000000", NULL};
	struct env e;
	struct seen s = {0};
	env_start(&e, flags);
	json_decref(write_node(&e, "POST", "x", "1", NULL));
	json_decref(write_node(&e, "POST", "gone", "1", NULL));
	env_informer(&e);
	DRAIN_UNTIL(&e, &s, informer_synced(e.inf));
	assert_int_equal(json_object_size(informer_items(e.inf)), 2);
	json_decref(write_node(&e, "POST", "y", "1", NULL));
	json_decref(write_node(&e, "DELETE", "gone", "1", NULL));
	/* Every watch is refused with 410: only relists can bring these. */
	DRAIN_UNTIL(&e, &s, informer_get(e.inf, "y") && !informer_get(e.inf, "gone"));
	struct informer_stats st;
	informer_stats(e.inf, &st);
	assert_true(st.expired >= 1);
	assert_true(st.lists >= 2);
	assert_int_equal(s.added, 3);
	assert_int_equal(s.deleted, 1);
	env_stop(&e);
}

static void test_write_through(void **state)
{
	(void)state;
	struct env e;
	struct seen s = {0};
	env_start(&e, NULL);
	env_informer(&e);
	DRAIN_UNTIL(&e, &s, informer_synced(e.inf));
	/* The server's object, as if our write had returned a newer
	 * version: the watch's (older) ADDED must not roll it back. */
	json_t *n = write_node(&e, "POST", "w", "server", NULL);
	json_t *mine = json_deep_copy(n);
	json_object_set_new(json_object_get(json_object_get(mine, "metadata"), "labels"), "l",
			    json_string("local"));
	json_object_set_new(json_object_get(mine, "metadata"), "resourceVersion",
			    json_string("999999"));
	informer_put_local(e.inf, mine, count_cb, &s);
	assert_string_equal(label_of(informer_get(e.inf, "w")), "local");
	for (int i = 0; i < 5; i++)
		informer_drain(e.q, 100, count_cb, &s);
	assert_string_equal(label_of(informer_get(e.inf, "w")), "local");
	/* A local delete is not undone by an older event. */
	json_t *v = write_node(&e, "POST", "v", "1", NULL);
	informer_del_local(e.inf, "v", informer_rv(v), count_cb, &s);
	for (int i = 0; i < 5; i++)
		informer_drain(e.q, 100, count_cb, &s);
	assert_null(informer_get(e.inf, "v"));
	/* But a newer incarnation under the same name is taken. */
	json_decref(write_node(&e, "DELETE", "v", "1", NULL));
	json_decref(write_node(&e, "POST", "v", "again", NULL));
	DRAIN_UNTIL(&e, &s, informer_get(e.inf, "v") != NULL);
	assert_string_equal(label_of(informer_get(e.inf, "v")), "again");
	json_decref(v);
	json_decref(n);
	json_decref(mine);
	env_stop(&e);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: test_informer path/to/fake_api.py\n");
		return 2;
	}
	fake_script = argv[1];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resume),
		cmocka_unit_test(test_relist_on_expired),
		cmocka_unit_test(test_write_through),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
