/*
 * Unit tests of the core's small pieces: the configuration encoding
 * (table-driven malformed inputs, STYLE 18/25) and the in-memory log's
 * payload reference counting (an io request keeps entries alive across
 * truncation and compaction; ASan turns a mistake into a failure).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"
#include "raft.h"

static void test_conf_roundtrip(void **state)
{
	(void)state;
	struct raft_configuration c, d;
	raft_configuration_init(&c);
	assert_int_equal(raft_configuration_add(&c, 1, "a:1", RAFT_VOTER), 0);
	assert_int_equal(raft_configuration_add(&c, 7, "b:2", RAFT_LEARNER),
			 0);
	assert_int_equal(raft_configuration_add(&c, 7, "c:3", RAFT_VOTER),
			 RAFT_DUPLICATE);
	assert_int_equal(raft_configuration_add(&c, 8, "a:1", RAFT_VOTER),
			 RAFT_DUPLICATE);
	assert_int_equal(raft_configuration_add(&c, 0, "z", RAFT_VOTER),
			 RAFT_INVALID);
	assert_int_equal(raft_configuration_add(&c, 9, "z", 77), RAFT_INVALID);
	struct raft_buffer buf;
	assert_int_equal(raft_configuration_encode(&c, &buf), 0);
	/* 1 version + 4 count + 2 x (8 id + 1 role + 2 len + 3 bytes) */
	assert_int_equal(buf.len, 1 + 4 + 2 * 14);
	assert_int_equal(raft_configuration_decode(&buf, &d), 0);
	assert_int_equal(d.n, 2);
	assert_int_equal(d.servers[1].id, 7);
	assert_string_equal(d.servers[1].address, "b:2");
	assert_int_equal(d.servers[1].role, RAFT_LEARNER);
	raft_configuration_close(&d);
	raft_heap_free(buf.base);
	raft_configuration_close(&c);
}

/* Numbered malformed encodings: each must be refused with MALFORMED. */
static const struct {
	const char *why;
	uint8_t bytes[40];
	size_t len;
} malformed[] = {
	/* 1 */ {"empty", {0}, 0},
	/* 2 */ {"bad version", {2, 0, 0, 0, 0}, 5},
	/* 3 */ {"count larger than bytes", {1, 2, 0, 0, 0}, 5},
	/* 4 */ {"truncated server record", {1, 1, 0, 0, 0, 1, 0, 0}, 8},
	/* 5 */ {"address past end",
		 {1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 9, 0, 'a'}, 17},
	/* 6 */ {"trailing bytes",
		 {1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 'a', 0xff},
		 18},
	/* 7 */ {"zero id",
		 {1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 'a'}, 17},
	/* 8 */ {"unknown role",
		 {1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 1, 0, 'a'}, 17},
	/* 9 */ {"NUL inside address",
		 {1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 'a', 0}, 18},
	/* 10 */ {"duplicate id",
		  {1, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 'a',
		   1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 'b'}, 29},
};

static void test_conf_malformed(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]);
	     i++) {
		struct raft_buffer b = {(void *)malformed[i].bytes,
					malformed[i].len};
		struct raft_configuration c;
		int rv = raft_configuration_decode(&b, &c);
		if (rv != RAFT_MALFORMED)
			fail_msg("case %zu (%s): got %d", i + 1,
				 malformed[i].why, rv);
		assert_int_equal(c.n, 0);
	}
	/* and a valid one-server encoding for contrast */
	uint8_t ok[] = {1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 'a'};
	struct raft_buffer b = {ok, sizeof(ok)};
	struct raft_configuration c;
	assert_int_equal(raft_configuration_decode(&b, &c), RAFT_OK);
	assert_int_equal(c.n, 1);
	raft_configuration_close(&c);
}

static struct raft_buffer payload(const char *s)
{
	struct raft_buffer b = {raft_heap_malloc(strlen(s) + 1),
				strlen(s) + 1};
	assert_non_null(b.base);
	memcpy(b.base, s, b.len);
	return b;
}

static void test_log_refs(void **state)
{
	(void)state;
	struct raft_log l;
	log_init(&l);
	char name[8];
	for (unsigned i = 1; i <= 40; i++) {
		snprintf(name, sizeof(name), "e%u", i);
		struct raft_buffer b = payload(name);
		assert_int_equal(log_append(&l, i / 10 + 1, RAFT_COMMAND, &b),
				 0);
	}
	assert_int_equal(log_last_index(&l), 40);
	assert_int_equal(log_term_of(&l, 25), 3);
	struct log_batch batch;
	assert_int_equal(log_acquire(&l, 21, 10, &batch), 0);
	/* truncation and compaction drop the slots, not the payloads the
	 * batch still references */
	log_truncate(&l, 25);
	log_compact(&l, 22);
	assert_int_equal(log_first_index(&l), 23);
	assert_int_equal(log_last_index(&l), 24);
	assert_null(log_get(&l, 22));
	assert_string_equal(batch.entries[0].buf.base, "e21");
	assert_string_equal(batch.entries[9].buf.base, "e30");
	log_batch_release(&batch);
	/* the ring wraps correctly across many appends and compactions */
	for (unsigned i = 25; i <= 200; i++) {
		struct raft_buffer b = payload("x");
		assert_int_equal(log_append(&l, 9, RAFT_COMMAND, &b), 0);
		if (i % 7 == 0)
			log_compact(&l, i - 5);
	}
	assert_int_equal(log_last_index(&l), 200);
	assert_int_equal(log_term_of(&l, 200), 9);
	log_restart(&l, 500, 12);
	assert_int_equal(log_last_index(&l), 500);
	assert_int_equal(log_term_of(&l, 500), 12);
	assert_null(log_get(&l, 500));
	log_close(&l);
}

static void test_strerror(void **state)
{
	(void)state;
	assert_string_equal(raft_strerror(RAFT_NOTLEADER), "not the leader");
	assert_string_equal(raft_strerror(-1), "unknown error");
	assert_string_equal(raft_strerror(RAFT_ERROR_COUNT_), "unknown error");
	for (int i = 0; i < RAFT_ERROR_COUNT_; i++)
		assert_string_not_equal(raft_strerror(i), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf_roundtrip),
		cmocka_unit_test(test_conf_malformed),
		cmocka_unit_test(test_log_refs),
		cmocka_unit_test(test_strerror),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
