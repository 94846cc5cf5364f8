/*
 * Unit tests for consensus/net.c. Frame checks are table driven on
 * raft_net_seal/raft_net_open (no sockets): tampering at every byte,
 * truncation at every length, replay and the sliding window, reflection,
 * wrong key with a rate-limited log, stale first contact. Then two nodes
 * on 127.0.0.1 (ports picked by the kernel) exchange frames over nanomsg,
 * and frames injected by a raw PUSH socket (tampered, replayed, wrong key,
 * truncated) are rejected and counted while valid ones get through.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>

#include "net.h"

static const char key1[] = "cluster-key-0123456789abcdef";
static const char key2[] = "another-key-0123456789abcdef";

static int n_logs;
static char last_log[512];

static void capture(void *data, const char *line)
{
	(void)data;
	n_logs++;
	snprintf(last_log, sizeof(last_log), "%s", line);
}

/* Deterministic wall clock so the freshness check is exact. */
static uint64_t fake_now = 1000000000000ull;
static uint64_t fake_clock(void *data)
{
	(void)data;
	return fake_now;
}

static struct raft_net *mk(uint64_t id, const char *url, const char *key)
{
	struct raft_net_params p = {
		.id = id, .bind_url = url, .key = key, .key_len = strlen(key),
		.log = capture, .clock_ns = fake_clock, .max_payload = 4096,
	};
	char err[256];
	struct raft_net *n = raft_net_create(&p, err, sizeof(err));
	if (n == NULL)
		fail_msg("raft_net_create: %s", err);
	return n;
}

static size_t seal(struct raft_net *n, uint64_t to, const char *s,
		   uint8_t *out)
{
	size_t len = strlen(s), flen = RAFT_NET_HDR + len + RAFT_NET_TAG;
	assert_int_equal(raft_net_seal(n, to, s, len, out, flen), RAFT_NET_OK);
	return flen;
}

static int open_frame(struct raft_net *n, const uint8_t *f, size_t len,
		      int *drop)
{
	uint64_t from;
	const void *p;
	size_t plen;
	*drop = -1;
	return raft_net_open(n, f, len, &from, &p, &plen, drop);
}

static void test_seal_open(void **state)
{
	(void)state;
	struct raft_net *a = mk(1, NULL, key1), *b = mk(2, NULL, key1);
	uint8_t f[256];
	size_t len = seal(a, 2, "hello raft", f);
	uint64_t from;
	const void *p;
	size_t plen;
	int drop = -1;
	assert_int_equal(raft_net_open(b, f, len, &from, &p, &plen, &drop),
			 RAFT_NET_OK);
	assert_int_equal(from, 1);
	assert_int_equal(plen, 10);
	assert_memory_equal(p, "hello raft", 10);
	/* Empty payloads are legal frames. */
	len = seal(a, 2, "", f);
	assert_int_equal(open_frame(b, f, len, &drop), RAFT_NET_OK);
	/* Seal refuses a wrong output size (exact-size frames only). */
	assert_int_equal(raft_net_seal(a, 2, "x", 1, f, 64), RAFT_NET_INVAL);
	raft_net_free(a);
	raft_net_free(b);
}

static void test_tamper_every_byte(void **state)
{
	(void)state;
	struct raft_net *a = mk(1, NULL, key1), *b = mk(2, NULL, key1);
	uint8_t f[256];
	size_t len = seal(a, 2, "append entries payload", f);
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			f[i] ^= (uint8_t)(1u << bit);
			int drop;
			assert_int_equal(open_frame(b, f, len, &drop),
					 RAFT_NET_DROPPED);
			/* Header fixed fields fail early; anything else is a
			 * MAC failure, never an accepted frame. */
			assert_true(drop == RAFT_NET_DROP_BADMAC ||
				    drop == RAFT_NET_DROP_VERSION ||
				    drop == RAFT_NET_DROP_LENGTH);
			if (i >= 8)
				assert_int_equal(drop, RAFT_NET_DROP_BADMAC);
			f[i] ^= (uint8_t)(1u << bit);
		}
	}
	struct raft_net_stats st;
	raft_net_stats_get(b, &st);
	assert_int_equal(st.received, 0);
	assert_true(st.drops[RAFT_NET_DROP_BADMAC] > 0);
	/* The untouched frame still verifies: the window never moved. */
	int drop;
	assert_int_equal(open_frame(b, f, len, &drop), RAFT_NET_OK);
	raft_net_free(a);
	raft_net_free(b);
}

static void test_truncated_every_length(void **state)
{
	(void)state;
	struct raft_net *a = mk(1, NULL, key1), *b = mk(2, NULL, key1);
	uint8_t f[256], g[300];
	size_t len = seal(a, 2, "some payload", f);
	for (size_t l = 0; l < len; l++) {
		int drop;
		assert_int_equal(open_frame(b, f, l, &drop), RAFT_NET_DROPPED);
		assert_int_equal(drop, l < RAFT_NET_HDR + RAFT_NET_TAG
					       ? RAFT_NET_DROP_SHORT
					       : RAFT_NET_DROP_LENGTH);
	}
	/* Trailing bytes are a length lie too. */
	memcpy(g, f, len);
	g[len] = 0;
	int drop;
	assert_int_equal(open_frame(b, g, len + 1, &drop), RAFT_NET_DROPPED);
	assert_int_equal(drop, RAFT_NET_DROP_LENGTH);
	raft_net_free(a);
	raft_net_free(b);
}

/* Numbered cases for the replay window (counters relative to a base). */
static void test_replay_window(void **state)
{
	(void)state;
	struct raft_net *a = mk(1, NULL, key1), *b = mk(2, NULL, key1);
	uint8_t f[100][96];
	size_t len[100];
	for (int i = 0; i < 100; i++)
		len[i] = seal(a, 2, "x", f[i]);	/* counters base+0..99 */
	static const struct {
		int frame;
		int ok;
	} cases[] = {
		{ 0, 1 },	/* 1: first contact */
		{ 0, 0 },	/* 2: exact replay */
		{ 5, 1 },	/* 3: gap forward */
		{ 3, 1 },	/* 4: late but inside the window */
		{ 3, 0 },	/* 5: replay of a late one */
		{ 5, 0 },	/* 6: replay of the top */
		{ 69, 1 },	/* 7: top moves to 69, window covers 6..69 */
		{ 4, 0 },	/* 8: unseen but older than the window */
		{ 6, 1 },	/* 9: oldest slot still inside */
		{ 6, 0 },	/* 10: and now seen */
		{ 99, 1 },	/* 11 */
		{ 36, 1 },	/* 12: 99 - 63 = 36 is the last slot */
		{ 35, 0 },	/* 13: one past the window */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int drop;
		int rv = open_frame(b, f[cases[i].frame], len[cases[i].frame],
				    &drop);
		if (cases[i].ok)
			assert_int_equal(rv, RAFT_NET_OK);
		else {
			assert_int_equal(rv, RAFT_NET_DROPPED);
			assert_int_equal(drop, RAFT_NET_DROP_REPLAY);
		}
	}
	struct raft_net_stats st;
	raft_net_stats_get(b, &st);
	assert_int_equal(st.drops[RAFT_NET_DROP_REPLAY], 6);
	assert_int_equal(st.received, 7);
	raft_net_free(a);
	raft_net_free(b);
}

static void test_reflection_and_wrong_key(void **state)
{
	(void)state;
	struct raft_net *a = mk(1, NULL, key1), *b = mk(2, NULL, key1);
	struct raft_net *c = mk(3, NULL, key1), *evil = mk(9, NULL, key2);
	uint8_t f[128];
	int drop;
	/* A frame for b, replayed at c or reflected back at a. */
	size_t len = seal(a, 2, "vote for me", f);
	assert_int_equal(open_frame(c, f, len, &drop), RAFT_NET_DROPPED);
	assert_int_equal(drop, RAFT_NET_DROP_WRONG_RECEIVER);
	assert_int_equal(open_frame(a, f, len, &drop), RAFT_NET_DROPPED);
	assert_int_equal(drop, RAFT_NET_DROP_WRONG_RECEIVER);
	/* Wrong key: 50 frames refused, counted, logged once (the rate
	 * limit is one line per second and this loop does not sleep). */
	n_logs = 0;
	for (int i = 0; i < 50; i++) {
		len = seal(evil, 2, "i am the leader now", f);
		assert_int_equal(open_frame(b, f, len, &drop), RAFT_NET_DROPPED);
		assert_int_equal(drop, RAFT_NET_DROP_BADMAC);
	}
	assert_int_equal(n_logs, 1);
	assert_non_null(strstr(last_log, "bad MAC"));
	assert_non_null(strstr(last_log, "sender 9"));
	struct raft_net_stats st;
	raft_net_stats_get(b, &st);
	assert_int_equal(st.drops[RAFT_NET_DROP_BADMAC], 50);
	assert_int_equal(st.received, 0);
	raft_net_free(a);
	raft_net_free(b);
	raft_net_free(c);
	raft_net_free(evil);
}

static void test_stale_first_contact(void **state)
{
	(void)state;
	struct raft_net *a = mk(1, NULL, key1), *b = mk(2, NULL, key1);
	uint8_t f[96];
	int drop;
	size_t len = seal(a, 2, "old", f);
	/* Captured frame replayed to a freshly restarted receiver two
	 * minutes later: refused (default skew 60 s). */
	fake_now += 120ull * 1000000000ull;
	raft_net_free(b);
	b = mk(2, NULL, key1);
	assert_int_equal(open_frame(b, f, len, &drop), RAFT_NET_DROPPED);
	assert_int_equal(drop, RAFT_NET_DROP_STALE);
	/* A sender's fresh frame is fine, and a restarted sender's counter
	 * (seeded from the clock) is above everything it sent before. */
	len = seal(a, 2, "new", f);
	assert_int_equal(open_frame(b, f, len, &drop), RAFT_NET_OK);
	raft_net_free(a);
	a = mk(1, NULL, key1);
	len = seal(a, 2, "after restart", f);
	assert_int_equal(open_frame(b, f, len, &drop), RAFT_NET_OK);
	raft_net_free(a);
	raft_net_free(b);
}

/* ---- over sockets ---- */

static int free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof(sa);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &sl), 0);
	close(s);
	return ntohs(sa.sin_port);
}

/* Wait (bounded; a failure bound, not a timing assertion) for one frame. */
static int recv_wait(struct raft_net *n, uint64_t *from, const void **p,
		     size_t *len, int max_tries)
{
	for (int tries = 0; tries < max_tries; tries++) {
		int rv = raft_net_recv(n, from, p, len);
		if (rv != RAFT_NET_AGAIN)
			return rv;
		struct pollfd pfd = { .fd = raft_net_fd(n), .events = POLLIN };
		poll(&pfd, 1, 50);
	}
	return RAFT_NET_AGAIN;
}

static void test_loopback(void **state)
{
	(void)state;
	char ua[64], ub[64];
	snprintf(ua, sizeof(ua), "tcp://127.0.0.1:%d", free_port());
	snprintf(ub, sizeof(ub), "tcp://127.0.0.1:%d", free_port());
	struct raft_net *a = mk(1, ua, key1), *b = mk(2, ub, key1);
	char err[256];
	assert_int_equal(raft_net_peer_add(a, 2, ub, err, sizeof(err)), 0);
	assert_int_equal(raft_net_peer_add(b, 1, ua, err, sizeof(err)), 0);
	assert_int_equal(raft_net_send(a, 7, "x", 1, err, sizeof(err)),
			 RAFT_NET_NOPEER);
	uint64_t from;
	const void *p;
	size_t len;
	/* The PUSH connects asynchronously; retry sending until it lands. */
	int got = RAFT_NET_AGAIN;
	for (int i = 0; i < 200 && got != RAFT_NET_OK; i++) {
		raft_net_send(a, 2, "ping", 4, err, sizeof(err));
		got = recv_wait(b, &from, &p, &len, 2);
	}
	assert_int_equal(got, RAFT_NET_OK);
	assert_int_equal(from, 1);
	assert_int_equal(len, 4);
	assert_memory_equal(p, "ping", 4);
	while (raft_net_recv(b, &from, &p, &len) == RAFT_NET_OK)
		;	/* drain retries */
	got = RAFT_NET_AGAIN;
	for (int i = 0; i < 200 && got != RAFT_NET_OK; i++) {
		raft_net_send(b, 1, "pong", 4, err, sizeof(err));
		got = recv_wait(a, &from, &p, &len, 2);
	}
	assert_int_equal(got, RAFT_NET_OK);
	assert_int_equal(from, 2);
	assert_memory_equal(p, "pong", 4);

	/* Raw injection at b: a valid frame sealed by a, then the same one
	 * replayed, a tampered copy, a truncated copy and a wrong-key frame;
	 * finally a second valid frame. b must deliver exactly the two valid
	 * payloads, in order, and count each rejection. */
	struct raft_net *evil = mk(1, NULL, key2);
	int raw = nn_socket(AF_SP, NN_PUSH);
	assert_true(raw >= 0);
	assert_true(nn_connect(raw, ub) >= 0);
	uint8_t good[96], good2[96], bad[96], wk[96];
	size_t lg = seal(a, 2, "valid-1", good);
	size_t lg2 = seal(a, 2, "valid-2", good2);
	size_t lw = seal(evil, 2, "forged!", wk);
	memcpy(bad, good, lg);
	bad[RAFT_NET_HDR + 2] ^= 1;
	struct raft_net_stats before, after;
	raft_net_stats_get(b, &before);
	/* nn_send on a fresh PUSH may block until connected: use a timeout. */
	int tmo = 2000;
	nn_setsockopt(raw, NN_SOL_SOCKET, NN_SNDTIMEO, &tmo, sizeof(tmo));
	assert_true(nn_send(raw, good, lg, 0) >= 0);
	assert_true(nn_send(raw, good, lg, 0) >= 0);
	assert_true(nn_send(raw, bad, lg, 0) >= 0);
	assert_true(nn_send(raw, good, lg - 5, 0) >= 0);
	assert_true(nn_send(raw, wk, lw, 0) >= 0);
	assert_true(nn_send(raw, good2, lg2, 0) >= 0);
	assert_int_equal(recv_wait(b, &from, &p, &len, 100), RAFT_NET_OK);
	assert_memory_equal(p, "valid-1", 7);
	assert_int_equal(recv_wait(b, &from, &p, &len, 100), RAFT_NET_OK);
	assert_memory_equal(p, "valid-2", 7);
	raft_net_stats_get(b, &after);
	assert_int_equal(after.received - before.received, 2);
	assert_int_equal(after.drops[RAFT_NET_DROP_REPLAY] -
				 before.drops[RAFT_NET_DROP_REPLAY], 1);
	assert_int_equal(after.drops[RAFT_NET_DROP_BADMAC] -
				 before.drops[RAFT_NET_DROP_BADMAC], 2);
	assert_int_equal(after.drops[RAFT_NET_DROP_LENGTH] -
				 before.drops[RAFT_NET_DROP_LENGTH], 1);
	nn_close(raw);
	raft_net_free(evil);
	raft_net_free(a);
	raft_net_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seal_open),
		cmocka_unit_test(test_tamper_every_byte),
		cmocka_unit_test(test_truncated_every_length),
		cmocka_unit_test(test_replay_window),
		cmocka_unit_test(test_reflection_and_wrong_key),
		cmocka_unit_test(test_stale_first_contact),
		cmocka_unit_test(test_loopback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
