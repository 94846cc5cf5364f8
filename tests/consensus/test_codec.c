/*
 * Unit tests for consensus/codec.c: every message type round-trips (fields
 * and bytes: encode(decode(b)) == b), every strict prefix and every
 * one-byte extension of a valid encoding is refused, a numbered table of
 * hand-made lies is refused with RAFT_MALFORMED and a message, and
 * allocation failures (countdown through raft_heap_set) give RAFT_NOMEM
 * and leak nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"

/* One sample per type plus a heartbeat. */
#define NSAMPLES 8

static char addr1[] = "tcp://127.0.0.1:7001";
static char addr2[] = "tcp://127.0.0.1:7002";
static struct raft_server servers[2] = {
	{ .id = 1, .address = addr1, .role = RAFT_VOTER },
	{ .id = 2, .address = addr2, .role = RAFT_LEARNER },
};
static struct raft_entry entries[3] = {
	{ .term = 3, .type = RAFT_COMMAND, .buf = { "set a=1", 7 } },
	{ .term = 3, .type = RAFT_BARRIER, .buf = { NULL, 0 } },
	{ .term = 4, .type = RAFT_CHANGE, .buf = { "\x01\x00\x00\x00\x00", 5 } },
};

/* One sample of each type, with distinct values in every field. */
static void samples(struct raft_message m[NSAMPLES])
{
	memset(m, 0, sizeof(*m) * NSAMPLES);
	m[0].type = RAFT_MSG_REQUEST_VOTE;
	m[0].request_vote = (struct raft_request_vote){
		.term = 0x0102030405060708ull, .candidate_id = 2,
		.last_log_index = 99, .last_log_term = 7,
		.disrupt_leader = true, .pre_vote = true };
	m[1].type = RAFT_MSG_REQUEST_VOTE_RESULT;
	m[1].request_vote_result = (struct raft_request_vote_result){
		.term = 8, .vote_granted = true, .pre_vote = false };
	m[2].type = RAFT_MSG_APPEND_ENTRIES;
	m[2].append_entries = (struct raft_append_entries){
		.term = 4, .prev_log_index = 10, .prev_log_term = 3,
		.leader_commit = 9, .read_ctx = 0xdeadbeefcafeull,
		.entries = entries, .n_entries = 3 };
	m[3].type = RAFT_MSG_APPEND_ENTRIES_RESULT;
	m[3].append_entries_result = (struct raft_append_entries_result){
		.term = 4, .rejected = true, .index = 10, .last_log_index = 8,
		.read_ctx = 77 };
	m[4].type = RAFT_MSG_INSTALL_SNAPSHOT;
	m[4].install_snapshot = (struct raft_install_snapshot){
		.term = 5, .last_index = 1000, .last_term = 4,
		.conf = { .servers = servers, .n = 2 }, .conf_index = 900,
		.offset = 65536, .done = true,
		.data = { "snapshot-chunk", 14 } };
	m[5].type = RAFT_MSG_INSTALL_SNAPSHOT_RESULT;
	m[5].install_snapshot_result = (struct raft_install_snapshot_result){
		.term = 5, .last_index = 1000, .next_offset = 131072,
		.rejected = false, .done = true };
	m[6].type = RAFT_MSG_TIMEOUT_NOW;
	m[6].timeout_now = (struct raft_timeout_now){
		.term = 6, .last_log_index = 1001, .last_log_term = 5 };
	/* A heartbeat: AppendEntries without entries. */
	m[7].type = RAFT_MSG_APPEND_ENTRIES;
	m[7].append_entries = (struct raft_append_entries){
		.term = 4, .prev_log_index = 12, .prev_log_term = 4,
		.leader_commit = 12 };
}

static void assert_same(const struct raft_message *a,
			const struct raft_message *b)
{
	assert_int_equal(a->type, b->type);
	switch (a->type) {
	case RAFT_MSG_APPEND_ENTRIES: {
		const struct raft_append_entries *x = &a->append_entries,
						 *y = &b->append_entries;
		assert_int_equal(x->term, y->term);
		assert_int_equal(x->prev_log_index, y->prev_log_index);
		assert_int_equal(x->prev_log_term, y->prev_log_term);
		assert_int_equal(x->leader_commit, y->leader_commit);
		assert_int_equal(x->read_ctx, y->read_ctx);
		assert_int_equal(x->n_entries, y->n_entries);
		for (unsigned i = 0; i < x->n_entries; i++) {
			assert_int_equal(x->entries[i].term, y->entries[i].term);
			assert_int_equal(x->entries[i].type, y->entries[i].type);
			assert_int_equal(x->entries[i].buf.len,
					 y->entries[i].buf.len);
			if (x->entries[i].buf.len)
				assert_memory_equal(x->entries[i].buf.base,
						    y->entries[i].buf.base,
						    x->entries[i].buf.len);
		}
		break;
	}
	case RAFT_MSG_INSTALL_SNAPSHOT: {
		const struct raft_install_snapshot *x = &a->install_snapshot,
						   *y = &b->install_snapshot;
		assert_int_equal(x->term, y->term);
		assert_int_equal(x->last_index, y->last_index);
		assert_int_equal(x->last_term, y->last_term);
		assert_int_equal(x->conf_index, y->conf_index);
		assert_int_equal(x->offset, y->offset);
		assert_int_equal(x->done, y->done);
		assert_int_equal(x->conf.n, y->conf.n);
		for (unsigned i = 0; i < x->conf.n; i++) {
			assert_int_equal(x->conf.servers[i].id,
					 y->conf.servers[i].id);
			assert_int_equal(x->conf.servers[i].role,
					 y->conf.servers[i].role);
			assert_string_equal(x->conf.servers[i].address,
					    y->conf.servers[i].address);
		}
		assert_int_equal(x->data.len, y->data.len);
		assert_memory_equal(x->data.base, y->data.base, x->data.len);
		break;
	}
	case RAFT_MSG_REQUEST_VOTE: {
		const struct raft_request_vote *x = &a->request_vote,
					       *y = &b->request_vote;
		assert_int_equal(x->term, y->term);
		assert_int_equal(x->candidate_id, y->candidate_id);
		assert_int_equal(x->last_log_index, y->last_log_index);
		assert_int_equal(x->last_log_term, y->last_log_term);
		assert_int_equal(x->disrupt_leader, y->disrupt_leader);
		assert_int_equal(x->pre_vote, y->pre_vote);
		break;
	}
	case RAFT_MSG_REQUEST_VOTE_RESULT:
		assert_int_equal(a->request_vote_result.term,
				 b->request_vote_result.term);
		assert_int_equal(a->request_vote_result.vote_granted,
				 b->request_vote_result.vote_granted);
		assert_int_equal(a->request_vote_result.pre_vote,
				 b->request_vote_result.pre_vote);
		break;
	case RAFT_MSG_APPEND_ENTRIES_RESULT: {
		const struct raft_append_entries_result
			*x = &a->append_entries_result,
			*y = &b->append_entries_result;
		assert_int_equal(x->term, y->term);
		assert_int_equal(x->rejected, y->rejected);
		assert_int_equal(x->index, y->index);
		assert_int_equal(x->last_log_index, y->last_log_index);
		assert_int_equal(x->read_ctx, y->read_ctx);
		break;
	}
	case RAFT_MSG_INSTALL_SNAPSHOT_RESULT: {
		const struct raft_install_snapshot_result
			*x = &a->install_snapshot_result,
			*y = &b->install_snapshot_result;
		assert_int_equal(x->term, y->term);
		assert_int_equal(x->last_index, y->last_index);
		assert_int_equal(x->next_offset, y->next_offset);
		assert_int_equal(x->rejected, y->rejected);
		assert_int_equal(x->done, y->done);
		break;
	}
	case RAFT_MSG_TIMEOUT_NOW:
		assert_int_equal(a->timeout_now.term, b->timeout_now.term);
		assert_int_equal(a->timeout_now.last_log_index,
				 b->timeout_now.last_log_index);
		assert_int_equal(a->timeout_now.last_log_term,
				 b->timeout_now.last_log_term);
		break;
	default:
		fail_msg("unexpected type %d", a->type);
	}
}

static void test_roundtrip_all_types(void **state)
{
	(void)state;
	struct raft_message m[NSAMPLES];
	samples(m);
	int seen[RAFT_MSG_TYPE_COUNT_] = { 0 };
	for (int i = 0; i < NSAMPLES; i++) {
		struct raft_buffer b;
		assert_int_equal(raft_codec_encode(&m[i], &b), RAFT_OK);
		uint8_t *p = b.base;
		assert_int_equal(p[0], RAFT_CODEC_VERSION);
		assert_int_equal(p[1], m[i].type);
		struct raft_message d;
		char err[128] = "";
		assert_int_equal(raft_codec_decode(b.base, b.len, &d, err,
						   sizeof(err)),
				 RAFT_OK);
		assert_same(&m[i], &d);
		assert_int_equal(d.server_id, 0);
		/* Canonical: re-encoding gives the same bytes. */
		struct raft_buffer b2;
		assert_int_equal(raft_codec_encode(&d, &b2), RAFT_OK);
		assert_int_equal(b2.len, b.len);
		assert_memory_equal(b2.base, b.base, b.len);
		raft_heap_free(b2.base);
		raft_codec_release(&d);
		seen[m[i].type]++;
		raft_heap_free(b.base);
	}
	for (int t = 1; t < RAFT_MSG_TYPE_COUNT_; t++)
		assert_true(seen[t] > 0);
	/* Fixed wire sizes (documented in codec.c). */
	size_t sz;
	assert_int_equal(raft_codec_size(&m[0], &sz), RAFT_OK);
	assert_int_equal(sz, 37);
	assert_int_equal(raft_codec_size(&m[6], &sz), RAFT_OK);
	assert_int_equal(sz, 28);
}

static void test_prefix_and_trailing(void **state)
{
	(void)state;
	struct raft_message m[NSAMPLES];
	samples(m);
	for (int i = 0; i < NSAMPLES; i++) {
		struct raft_buffer b;
		assert_int_equal(raft_codec_encode(&m[i], &b), RAFT_OK);
		/* Exact-size heap copies so ASan catches any over-read. */
		for (size_t len = 0; len < b.len; len++) {
			uint8_t *p = malloc(len ? len : 1);
			memcpy(p, b.base, len);
			struct raft_message d;
			char err[128] = "";
			assert_int_equal(raft_codec_decode(p, len, &d, err,
							   sizeof(err)),
					 RAFT_MALFORMED);
			assert_true(strlen(err) > 0);
			free(p);
		}
		uint8_t *p = malloc(b.len + 1);
		memcpy(p, b.base, b.len);
		p[b.len] = 0;
		struct raft_message d;
		assert_int_equal(raft_codec_decode(p, b.len + 1, &d, NULL, 0),
				 RAFT_MALFORMED);
		free(p);
		raft_heap_free(b.base);
	}
}

/* Little-endian writers for hand-made frames. */
static size_t le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return (size_t)n;
}

/* AppendEntries header claiming n entries, followed by `extra` bytes. */
static size_t ae_hdr(uint8_t *p, uint32_t n)
{
	size_t o = 0;
	p[o++] = 1;
	p[o++] = RAFT_MSG_APPEND_ENTRIES;
	o += le(p + o, 0, 2);
	for (int i = 0; i < 5; i++)
		o += le(p + o, 1, 8);
	o += le(p + o, n, 4);
	return o;
}

static size_t is_hdr(uint8_t *p, uint8_t flags)
{
	size_t o = 0;
	p[o++] = 1;
	p[o++] = RAFT_MSG_INSTALL_SNAPSHOT;
	o += le(p + o, 0, 2);
	for (int i = 0; i < 5; i++)
		o += le(p + o, 1, 8);
	p[o++] = flags;
	return o;
}

/* Empty configuration: version 1, zero servers. */
static size_t conf_empty(uint8_t *p)
{
	p[0] = 1;
	le(p + 1, 0, 4);
	return 5;
}

static void test_malformed_table(void **state)
{
	(void)state;
	uint8_t b[512];
	size_t o;
	struct raft_message m[NSAMPLES];
	samples(m);
	struct raft_buffer rv_enc;
	assert_int_equal(raft_codec_encode(&m[0], &rv_enc), RAFT_OK);
	for (int c = 1;; c++) {
		memset(b, 0, sizeof(b));
		const char *what;
		switch (c) {
		case 1: what = "empty"; o = 0; break;
		case 2: what = "header only 3 bytes"; o = 3; b[0] = 1; break;
		case 3: what = "version 2";
			memcpy(b, rv_enc.base, rv_enc.len); b[0] = 2;
			o = rv_enc.len; break;
		case 4: what = "version 0";
			memcpy(b, rv_enc.base, rv_enc.len); b[0] = 0;
			o = rv_enc.len; break;
		case 5: what = "reserved bits";
			memcpy(b, rv_enc.base, rv_enc.len); b[3] = 0x80;
			o = rv_enc.len; break;
		case 6: what = "type 0"; b[0] = 1; o = 64; break;
		case 7: what = "type 8"; b[0] = 1; b[1] = 8; o = 64; break;
		case 8: what = "type 255"; b[0] = 1; b[1] = 255; o = 64; break;
		case 9: what = "RequestVote undefined flag bit";
			memcpy(b, rv_enc.base, rv_enc.len); b[36] |= 4;
			o = rv_enc.len; break;
		case 10: what = "RequestVoteResult as long as RequestVote";
			memcpy(b, rv_enc.base, rv_enc.len);
			b[1] = RAFT_MSG_REQUEST_VOTE_RESULT; b[36] = 0;
			o = rv_enc.len; break;
		case 11: what = "TimeoutNow with RequestVote's size";
			memcpy(b, rv_enc.base, rv_enc.len);
			b[1] = RAFT_MSG_TIMEOUT_NOW; o = rv_enc.len; break;
		case 12: what = "AppendEntriesResult rejected=2";
			b[0] = 1; b[1] = RAFT_MSG_APPEND_ENTRIES_RESULT;
			b[12] = 2; o = 37; break;
		case 13: what = "InstallSnapshotResult flag bit 2";
			b[0] = 1; b[1] = RAFT_MSG_INSTALL_SNAPSHOT_RESULT;
			b[28] = 4; o = 29; break;
		case 14: what = "AE count 1000, no entry bytes";
			o = ae_hdr(b, 1000); break;
		case 15: what = "AE count 0xffffffff";
			o = ae_hdr(b, 0xffffffffu);
			memset(b + o, 0, 100); o += 100; break;
		case 16: what = "AE count 2, one entry present";
			o = ae_hdr(b, 2);
			o += le(b + o, 1, 8); b[o++] = 1; o += le(b + o, 0, 4);
			memset(b + o, 0, 10); o += 10; break;
		case 17: what = "AE entry length past the end";
			o = ae_hdr(b, 1);
			o += le(b + o, 1, 8); b[o++] = 1; o += le(b + o, 100, 4);
			memset(b + o, 'x', 99); o += 99; break;
		case 18: what = "AE entry length 0xffffffff";
			o = ae_hdr(b, 1);
			o += le(b + o, 1, 8); b[o++] = 1;
			o += le(b + o, 0xffffffffu, 4); break;
		case 19: what = "AE entry type 0";
			o = ae_hdr(b, 1);
			o += le(b + o, 1, 8); b[o++] = 0; o += le(b + o, 0, 4);
			break;
		case 20: what = "AE entry type 4";
			o = ae_hdr(b, 1);
			o += le(b + o, 1, 8); b[o++] = 4; o += le(b + o, 0, 4);
			break;
		case 21: what = "AE trailing byte after entries";
			o = ae_hdr(b, 1);
			o += le(b + o, 1, 8); b[o++] = 1; o += le(b + o, 1, 4);
			b[o++] = 'x'; b[o++] = 'y'; break;
		case 22: what = "AE header cut inside the count";
			o = ae_hdr(b, 0) - 2; break;
		case 23: what = "IS conf length past the end";
			o = is_hdr(b, 1); o += le(b + o, 200, 4);
			o += conf_empty(b + o); o += le(b + o, 0, 4); break;
		case 24: what = "IS data length past the end";
			o = is_hdr(b, 1); o += le(b + o, 5, 4);
			o += conf_empty(b + o); o += le(b + o, 10, 4);
			memset(b + o, 'd', 9); o += 9; break;
		case 25: what = "IS trailing byte";
			o = is_hdr(b, 1); o += le(b + o, 5, 4);
			o += conf_empty(b + o); o += le(b + o, 1, 4);
			b[o++] = 'd'; b[o++] = 'e'; break;
		case 26: what = "IS configuration version 9";
			o = is_hdr(b, 0); o += le(b + o, 5, 4);
			o += conf_empty(b + o); b[o - 5] = 9;
			o += le(b + o, 0, 4); break;
		case 27: what = "IS configuration claims 3 servers";
			o = is_hdr(b, 0); o += le(b + o, 5, 4);
			o += conf_empty(b + o); b[o - 4] = 3;
			o += le(b + o, 0, 4); break;
		case 28: what = "IS done flag 2";
			o = is_hdr(b, 2); o += le(b + o, 5, 4);
			o += conf_empty(b + o); o += le(b + o, 0, 4); break;
		case 29: what = "IS missing data length";
			o = is_hdr(b, 0); o += le(b + o, 5, 4);
			o += conf_empty(b + o); break;
		default: what = NULL; break;
		}
		if (what == NULL)
			break;
		uint8_t *p = malloc(o ? o : 1);
		memcpy(p, b, o);
		struct raft_message d;
		char err[160] = "";
		int rv = raft_codec_decode(p, o, &d, err, sizeof(err));
		free(p);
		if (rv != RAFT_MALFORMED)
			fail_msg("case %d (%s): got %d", c, what, rv);
		if (strlen(err) == 0)
			fail_msg("case %d (%s): no message", c, what);
		assert_int_equal(d.type, 0);
	}
	/* Sanity: the lie-free version of the IS frame is accepted, so the
	 * cases above fail for the reason they name. */
	o = is_hdr(b, 1);
	o += le(b + o, 5, 4);
	o += conf_empty(b + o);
	o += le(b + o, 1, 4);
	b[o++] = 'd';
	struct raft_message d;
	assert_int_equal(raft_codec_decode(b, o, &d, NULL, 0), RAFT_OK);
	assert_int_equal(d.install_snapshot.data.len, 1);
	raft_codec_release(&d);
	o = ae_hdr(b, 1);
	o += le(b + o, 1, 8);
	b[o++] = 1;
	o += le(b + o, 1, 4);
	b[o++] = 'x';
	assert_int_equal(raft_codec_decode(b, o, &d, NULL, 0), RAFT_OK);
	raft_codec_release(&d);
	raft_heap_free(rv_enc.base);

	/* The encoder refuses what it cannot represent. */
	struct raft_message bad = { .type = 0 };
	size_t sz;
	assert_int_equal(raft_codec_size(&bad, &sz), RAFT_INVALID);
	bad.type = RAFT_MSG_TYPE_COUNT_;
	assert_int_equal(raft_codec_size(&bad, &sz), RAFT_INVALID);
}

/* ---- allocation failure by countdown ---- */

static long heap_countdown = -1;
static long heap_live;

static void *fail_malloc(void *data, size_t size)
{
	(void)data;
	if (heap_countdown == 0)
		return NULL;
	if (heap_countdown > 0)
		heap_countdown--;
	heap_live++;
	return malloc(size);
}

static void *fail_realloc(void *data, void *ptr, size_t size)
{
	(void)data;
	if (heap_countdown == 0)
		return NULL;
	if (heap_countdown > 0)
		heap_countdown--;
	if (ptr == NULL)
		heap_live++;
	return realloc(ptr, size);
}

static void fail_free(void *data, void *ptr)
{
	(void)data;
	if (ptr != NULL)
		heap_live--;
	free(ptr);
}

static struct raft_heap fail_heap = {
	.malloc = fail_malloc, .realloc = fail_realloc, .free = fail_free };

static void test_alloc_failures(void **state)
{
	(void)state;
	struct raft_message m[NSAMPLES];
	samples(m);
	struct raft_buffer enc[2];
	assert_int_equal(raft_codec_encode(&m[2], &enc[0]), RAFT_OK);
	assert_int_equal(raft_codec_encode(&m[4], &enc[1]), RAFT_OK);
	raft_heap_set(&fail_heap);
	for (int k = 0; k < 2; k++) {
		long n;
		for (n = 0; n < 50; n++) {
			heap_countdown = n;
			heap_live = 0;
			struct raft_message d;
			int rv = raft_codec_decode(enc[k].base, enc[k].len, &d,
						   NULL, 0);
			if (rv == RAFT_OK) {
				raft_codec_release(&d);
				assert_int_equal(heap_live, 0);
				break;
			}
			assert_int_equal(rv, RAFT_NOMEM);
			assert_int_equal(heap_live, 0);	/* nothing leaked */
		}
		/* AppendEntries needs one allocation, InstallSnapshot's
		 * configuration several. */
		assert_true(n >= 1 && n < 50);
		/* The encoder fails cleanly too. */
		heap_countdown = 0;
		struct raft_buffer out = { NULL, 0 };
		assert_int_equal(raft_codec_encode(&m[2 + 2 * k], &out),
				 RAFT_NOMEM);
		assert_null(out.base);
	}
	heap_countdown = -1;
	raft_heap_set(NULL);
	raft_heap_free(enc[0].base);
	raft_heap_free(enc[1].base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_all_types),
		cmocka_unit_test(test_prefix_and_trailing),
		cmocka_unit_test(test_malformed_table),
		cmocka_unit_test(test_alloc_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
