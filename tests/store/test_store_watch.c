/*
 * Unit tests of watch: exactly-once ordered delivery, resume from a
 * revision, prev_kv, the compacted error, the slow-watcher cancel, notify
 * callbacks and survival across restore.
 */
#include "store_test_util.h"

#include <stdio.h>

static int setup(void **state)
{
	*state = store_create(NULL);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	store_free(*state);
	return 0;
}

static struct store_watcher *watch(struct store *s, const char *k,
				   const char *end, int64_t start)
{
	struct store_watch_params p = {.key = U8(k), .key_len = strlen(k),
				       .range_end = U8(end),
				       .range_end_len = end ? strlen(end) : 0,
				       .start_revision = start,
				       .prev_kv = true};
	struct store_watcher *w = store_watch_create(s, &p);
	assert_non_null(w);
	return w;
}

/* Drain a watcher into "TYPE key=value@rev.." tokens. */
static void drain(struct store_watcher *w, char *out, size_t cap)
{
	struct store_event ev;
	bool got;
	out[0] = 0;
	while (store_watch_next(w, &ev, &got) == STORE_OK && got) {
		size_t n = strlen(out);
		snprintf(out + n, cap - n, "%s%c %.*s=%.*s@%lld",
			 n ? " " : "",
			 ev.type == STORE_EVENT_PUT ? 'P' : 'D',
			 (int)ev.kv.key_len, (const char *)ev.kv.key,
			 (int)ev.kv.value_len, (const char *)ev.kv.value,
			 (long long)ev.revision);
	}
}

static void test_exactly_once_in_order(void **state)
{
	struct store *s = *state;
	char got[512];
	struct store_watcher *w = watch(s, "/p/", "/p0", 0);
	struct store_watcher *all = watch(s, "/", "0", 0);
	tu_put(s, "/p/a", "1", 0);  /* 2 */
	tu_put(s, "/q/a", "x", 0);  /* 3: outside /p/ */
	tu_put(s, "/p/b", "2", 0);  /* 4 */
	drain(w, got, sizeof(got));
	assert_string_equal(got, "P /p/a=1@2 P /p/b=2@4");
	/* Nothing is delivered twice. */
	drain(w, got, sizeof(got));
	assert_string_equal(got, "");
	/* A txn: two events at one revision, in sub order. */
	struct store_op ops[] = {tu_put_op("/p/c", "3", 0),
				 tu_del_op("/p/a", NULL)};
	struct store_cmd c = {.type = STORE_CMD_TXN, .success = ops,
			      .n_success = 2};
	assert_int_equal(tu_apply(s, &c, NULL), STORE_OK); /* 5 */
	drain(w, got, sizeof(got));
	assert_string_equal(got, "P /p/c=3@5 D /p/a=@5");
	assert_int_equal(store_watch_next_revision(w), 6);
	drain(all, got, sizeof(got));
	assert_string_equal(got, "P /p/a=1@2 P /q/a=x@3 P /p/b=2@4 "
				 "P /p/c=3@5 D /p/a=@5");
	store_watch_free(w);
	store_watch_free(all);
}

static void test_resume_from_revision(void **state)
{
	struct store *s = *state;
	char got[512];
	for (int i = 0; i < 6; i++) {
		char v[4];
		snprintf(v, sizeof(v), "%d", i);
		tu_put(s, "k", v, 0); /* revs 2..7 */
	}
	/* Table: start revision -> exactly the events >= it. */
	static const struct {
		int64_t start;
		const char *want;
	} cases[] = {
		{2, "P k=0@2 P k=1@3 P k=2@4 P k=3@5 P k=4@6 P k=5@7"},
		{5, "P k=3@5 P k=4@6 P k=5@7"},
		{7, "P k=5@7"},
		{8, ""},
		{0, ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct store_watcher *w = watch(s, "k", NULL, cases[i].start);
		drain(w, got, sizeof(got));
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu: got '%s'", i + 1, got);
		store_watch_free(w);
	}
	/* A client that processed up to rev 4 re-watches from 5 and sees
	 * each later event once, including ones written after. */
	struct store_watcher *w = watch(s, "k", NULL, 5);
	struct store_event ev;
	bool g;
	assert_int_equal(store_watch_next(w, &ev, &g), STORE_OK);
	assert_true(g);
	assert_int_equal(ev.revision, 5);
	assert_true(ev.has_prev);
	assert_int_equal(ev.prev_kv.mod_revision, 4);
	assert_memory_equal(ev.prev_kv.value, "2", 1);
	assert_int_equal(ev.kv.version, 4);
	tu_put(s, "k", "6", 0); /* 8 */
	drain(w, got, sizeof(got));
	assert_string_equal(got, "P k=4@6 P k=5@7 P k=6@8");
	store_watch_free(w);
}

static void test_compacted_error(void **state)
{
	struct store *s = *state;
	char got[256];
	struct store_watcher *w = watch(s, "k", NULL, 0);
	tu_put(s, "k", "a", 0); /* 2 */
	tu_put(s, "k", "b", 0); /* 3 */
	struct store_event ev;
	bool g;
	assert_int_equal(store_watch_next(w, &ev, &g), STORE_OK);
	assert_true(g); /* consumed rev 2; next is 3 */
	tu_put(s, "k", "c", 0); /* 4 */
	assert_int_equal(tu_compact(s, 3), STORE_OK);
	/* The watcher still needed rev 3: compacted, with the revision. */
	assert_int_equal(store_watch_next(w, &ev, &g),
			 STORE_ERR_COMPACTED);
	assert_false(g);
	assert_int_equal(store_watch_compact_revision(w), 3);
	assert_non_null(strstr(store_errmsg(s), "relist"));
	/* Sticky. */
	assert_int_equal(store_watch_next(w, &ev, &g),
			 STORE_ERR_COMPACTED);
	store_watch_free(w);

	/* Watching from the compact revision is refused; after it works. */
	w = watch(s, "k", NULL, 3);
	assert_int_equal(store_watch_next(w, &ev, &g),
			 STORE_ERR_COMPACTED);
	store_watch_free(w);
	w = watch(s, "k", NULL, 4);
	drain(w, got, sizeof(got));
	assert_string_equal(got, "P k=c@4");
	/* A caught-up watcher is unaffected by a later compaction. */
	tu_put(s, "k", "d", 0); /* 5 */
	assert_int_equal(tu_compact(s, 4), STORE_OK);
	drain(w, got, sizeof(got));
	assert_string_equal(got, "P k=d@5");
	store_watch_free(w);
}

static int notified;
static void on_notify(struct store_watcher *w, void *data)
{
	(void)w;
	notified += *(int *)data;
}

static void test_notify_and_slow(void **state)
{
	struct store *s = *state;
	int one = 1;
	struct store_watch_params p = {.key = U8("a"), .key_len = 1,
				       .notify = on_notify, .data = &one,
				       .max_lag = 2};
	struct store_watcher *w = store_watch_create(s, &p);
	assert_non_null(w);
	notified = 0;
	tu_put(s, "b", "x", 0); /* not ours: no notify */
	assert_int_equal(notified, 0);
	tu_put(s, "b", "y", 0);
	tu_put(s, "b", "z", 0);
	/* Idle watchers stay caught up: no lag from others' writes. */
	struct store_event ev;
	bool g;
	assert_int_equal(store_watch_next(w, &ev, &g), STORE_OK);
	assert_false(g);
	tu_put(s, "a", "1", 0);
	assert_int_equal(notified, 1);
	tu_put(s, "a", "2", 0);
	assert_int_equal(notified, 2);
	/* Two revisions behind: still fine. */
	assert_int_equal(store_watch_next(w, &ev, &g), STORE_OK);
	assert_true(g);
	assert_int_equal(ev.revision, 5);
	tu_put(s, "a", "3", 0);
	tu_put(s, "a", "4", 0);
	/* Backlog now revisions 5..8 > max_lag 2: canceled, sticky. */
	struct store_event ev2;
	assert_int_equal(store_watch_next(w, &ev2, &g), STORE_ERR_WATCH_SLOW);
	assert_int_equal(store_watch_next(w, &ev2, &g), STORE_ERR_WATCH_SLOW);
	/* The client resumes exactly from its last revision + 1. */
	int64_t resume = ev.revision + 1;
	assert_int_equal(resume, 6);
	store_watch_free(w);
	char got[128];
	struct store_watcher *r = watch(s, "a", NULL, resume);
	drain(r, got, sizeof(got));
	assert_string_equal(got, "P a=2@6 P a=3@7 P a=4@8");
	store_watch_free(r);

	/* Bad params name the field. */
	p.key_len = 0;
	assert_null(store_watch_create(s, &p));
	assert_non_null(strstr(store_errmsg(s), "watch.key"));
}

static void test_store_freed_first(void **state)
{
	(void)state;
	struct store *s = store_create(NULL);
	struct store_watcher *w = watch(s, "k", NULL, 0);
	store_free(s);
	struct store_event ev;
	bool g;
	assert_int_equal(store_watch_next(w, &ev, &g),
			 STORE_ERR_WATCH_CANCELED);
	store_watch_free(w);
}

static void test_watch_across_restore(void **state)
{
	struct store *s = *state;
	char got[256];
	struct store *leader = store_create(NULL);
	tu_put(s, "k", "1", 0);
	tu_put(leader, "k", "1", 0);
	struct store_watcher *w = watch(s, "k", NULL, 0);
	tu_put(leader, "k", "2", 0);
	tu_put(leader, "k", "3", 0);
	size_t len;
	uint8_t *snap = tu_snap(leader, &len);
	assert_int_equal(store_restore(s, snap, len), STORE_OK);
	/* The follower caught up by snapshot; its watcher misses nothing. */
	drain(w, got, sizeof(got));
	assert_string_equal(got, "P k=2@3 P k=3@4");
	free(snap);
	store_watch_free(w);
	store_free(leader);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exactly_once_in_order,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume_from_revision,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_compacted_error, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_notify_and_slow, setup,
						teardown),
		cmocka_unit_test(test_store_freed_first),
		cmocka_unit_test_setup_teardown(test_watch_across_restore,
						setup, teardown),
	};
	return cmocka_run_group_tests_name("store_watch", tests, NULL, NULL);
}
