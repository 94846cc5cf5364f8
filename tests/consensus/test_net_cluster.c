/*
 * Three real servers in one thread: raft core + raft_io_posix (disk in a
 * temp directory, nanomsg on 127.0.0.1 with kernel-picked ports, HMAC
 * frames). Asserts on outcomes, never on elapsed time; every wait is a
 * bounded loop that fails the test when the bound is hit.
 *
 *  1. bootstrap, elect, replicate 50 commands: all three state machines
 *     apply the same sequence;
 *  2. a rogue peer without the cluster key floods RequestVote with a huge
 *     term: every frame is rejected as BADMAC and no server's term moves;
 *  3. all servers stop and restart from their directories (bootstrap is
 *     refused: state exists), re-elect, re-apply the log, and commit more.
 */
#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "codec.h"
#include "io_posix.h"
#include "net.h"
#include "raft.h"

#define N 3

static const char key[] = "test-cluster-key-0123456789abcdef";

struct fsm_state {
	uint64_t n;
	uint64_t hash;	/* order-sensitive digest of applied commands */
};

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf,
		     void **result)
{
	struct fsm_state *s = fsm->data;
	const uint8_t *p = buf->base;
	for (size_t i = 0; i < buf->len; i++)
		s->hash = (s->hash ^ p[i]) * 1099511628211ull;
	s->n++;
	*result = NULL;
	return 0;
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *out)
{
	out->base = raft_heap_malloc(sizeof(struct fsm_state));
	if (out->base == NULL)
		return RAFT_NOMEM;
	memcpy(out->base, fsm->data, sizeof(struct fsm_state));
	out->len = sizeof(struct fsm_state);
	return 0;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	if (buf->len != sizeof(struct fsm_state))
		return RAFT_MALFORMED;
	memcpy(fsm->data, buf->base, buf->len);
	raft_heap_free(buf->base);
	return 0;
}

struct node {
	raft_id id;
	char url[64];
	char dir[128];
	struct raft_io_posix *io;
	struct raft *raft;
	struct fsm_state st;
	struct raft_fsm fsm;
};

static struct node nodes[N];
static char base_dir[64];
static int n_applied_ok;

static void quiet(void *data, const char *line)
{
	(void)data;
	(void)line;
}

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

static void node_open(struct node *n, const struct raft_configuration *conf,
		      int expect_bootstrap)
{
	char err[256];
	struct raft_io_posix_params ip = {
		.id = n->id, .dir = n->dir, .bind_url = n->url, .key = key,
		.key_len = strlen(key), .log = quiet,
	};
	n->io = raft_io_posix_create(&ip, err, sizeof(err));
	if (n->io == NULL)
		fail_msg("io create: %s", err);
	memset(&n->st, 0, sizeof(n->st));
	n->fsm = (struct raft_fsm){ .data = &n->st, .apply = fsm_apply,
				    .snapshot = fsm_snapshot,
				    .restore = fsm_restore };
	struct raft_params rp = {
		.id = n->id, .address = n->url, .io = raft_io_posix_io(n->io),
		.fsm = &n->fsm, .election_timeout = 400,
		.heartbeat_timeout = 40,
	};
	n->raft = raft_create(&rp);
	assert_non_null(n->raft);
	int rv = raft_bootstrap(n->raft, conf);
	assert_int_equal(rv, expect_bootstrap);
	assert_int_equal(raft_start(n->raft), 0);
}

static void node_close(struct node *n)
{
	raft_free(n->raft);
	raft_io_posix_free(n->io);
	n->raft = NULL;
	n->io = NULL;
}

static void step_all(void)
{
	for (int i = 0; i < N; i++)
		if (nodes[i].raft != NULL)
			assert_int_equal(
				raft_io_posix_run(nodes[i].io, nodes[i].raft, 0),
				0);
	struct timespec ts = { 0, 1000000 };
	nanosleep(&ts, NULL);
}

static struct node *wait_leader(void)
{
	for (int it = 0; it < 20000; it++) {
		step_all();
		for (int i = 0; i < N; i++)
			if (raft_state(nodes[i].raft) == RAFT_LEADER)
				return &nodes[i];
	}
	fail_msg("no leader elected");
	return NULL;
}

static void apply_cb(struct raft_apply *req, int status, void *result)
{
	(void)result;
	free(req);
	if (status == 0)
		n_applied_ok++;
}

static void propose(struct node *l, int count, int tag)
{
	for (int i = 0; i < count; i++) {
		char cmd[32];
		int len = snprintf(cmd, sizeof(cmd), "cmd-%d-%d", tag, i);
		struct raft_buffer b = { raft_heap_malloc((size_t)len),
					 (size_t)len };
		memcpy(b.base, cmd, (size_t)len);
		struct raft_apply *req = calloc(1, sizeof(*req));
		assert_int_equal(raft_apply(l->raft, req, &b, apply_cb), 0);
	}
}

/* Bounded wait until every server applied `want` commands. */
static void wait_applied(uint64_t want)
{
	for (int it = 0; it < 20000; it++) {
		int done = 1;
		for (int i = 0; i < N; i++)
			if (nodes[i].st.n < want)
				done = 0;
		if (done)
			return;
		step_all();
	}
	fail_msg("commands not applied everywhere");
}

static int rm_cb(const char *path, const struct stat *sb, int flag,
		 struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void test_cluster(void **state)
{
	(void)state;
	snprintf(base_dir, sizeof(base_dir), "/tmp/test_net_cluster.XXXXXX");
	assert_non_null(mkdtemp(base_dir));
	struct raft_configuration conf;
	raft_configuration_init(&conf);
	for (int i = 0; i < N; i++) {
		nodes[i].id = (raft_id)(i + 1);
		snprintf(nodes[i].url, sizeof(nodes[i].url),
			 "tcp://127.0.0.1:%d", free_port());
		snprintf(nodes[i].dir, sizeof(nodes[i].dir), "%s/n%d",
			 base_dir, i + 1);
		assert_int_equal(raft_configuration_add(&conf, nodes[i].id,
							nodes[i].url,
							RAFT_VOTER),
				 0);
	}
	for (int i = 0; i < N; i++)
		node_open(&nodes[i], &conf, 0);

	/* 1. replicate */
	struct node *l = wait_leader();
	n_applied_ok = 0;
	propose(l, 50, 1);
	wait_applied(50);
	for (int it = 0; it < 20000 && n_applied_ok < 50; it++)
		step_all();
	assert_int_equal(n_applied_ok, 50);
	for (int i = 1; i < N; i++) {
		assert_int_equal(nodes[i].st.n, nodes[0].st.n);
		assert_int_equal(nodes[i].st.hash, nodes[0].st.hash);
	}
	uint64_t hash1 = nodes[0].st.hash;
	/* Batching: 50 proposals made in one go share fdatasyncs on the
	 * leader (batched by the core into few append requests, and by the
	 * io into one sync per flush). */
	struct raft_io_posix_stats ls;
	raft_io_posix_stats_get(l->io, &ls);
	assert_true(ls.entries >= 50);
	assert_true(ls.syncs >= 1);
	assert_true(ls.syncs * 10 < ls.entries);

	/* 2. a rogue peer with the wrong key */
	raft_term terms[N];
	struct raft_net_stats before[N];
	for (int i = 0; i < N; i++) {
		terms[i] = raft_current_term(nodes[i].raft);
		raft_io_posix_net_stats(nodes[i].io, &before[i]);
	}
	static const char bad_key[] = "not-the-cluster-key-0123456789ab";
	struct raft_net_params rp = { .id = 9, .key = bad_key,
				      .key_len = strlen(bad_key),
				      .log = quiet };
	char err[256];
	struct raft_net *rogue = raft_net_create(&rp, err, sizeof(err));
	assert_non_null(rogue);
	for (int i = 0; i < N; i++) {
		assert_int_equal(raft_net_peer_add(rogue, nodes[i].id,
						   nodes[i].url, err,
						   sizeof(err)),
				 0);
	}
	struct raft_message rv = { .type = RAFT_MSG_REQUEST_VOTE };
	rv.request_vote = (struct raft_request_vote){
		.term = 1000000, .candidate_id = 9, .last_log_index = 1u << 30,
		.last_log_term = 999999, .disrupt_leader = true };
	struct raft_buffer enc;
	assert_int_equal(raft_codec_encode(&rv, &enc), 0);
	uint64_t rejected = 0;
	for (int it = 0; it < 4000 && rejected < 3 * 20; it++) {
		if (it % 10 == 0)
			for (int i = 0; i < N; i++)
				raft_net_send(rogue, nodes[i].id, enc.base,
					      enc.len, NULL, 0);
		step_all();
		rejected = 0;
		for (int i = 0; i < N; i++) {
			struct raft_net_stats s;
			raft_io_posix_net_stats(nodes[i].io, &s);
			rejected += s.drops[RAFT_NET_DROP_BADMAC] -
				    before[i].drops[RAFT_NET_DROP_BADMAC];
		}
	}
	raft_heap_free(enc.base);
	raft_net_free(rogue);
	assert_true(rejected >= 3 * 20);
	for (int i = 0; i < N; i++) {
		struct raft_net_stats s;
		raft_io_posix_net_stats(nodes[i].io, &s);
		/* each server rejected frames itself, and obeyed none */
		assert_true(s.drops[RAFT_NET_DROP_BADMAC] >
			    before[i].drops[RAFT_NET_DROP_BADMAC]);
		/* A legitimate election on a loaded machine may bump the
		 * term by a few; the rogue's term would jump to 1000000. */
		assert_true(raft_current_term(nodes[i].raft) < terms[i] + 100);
		assert_int_not_equal(raft_voted_for(nodes[i].raft), 9);
	}

	/* 3. restart everyone from disk */
	for (int i = 0; i < N; i++)
		node_close(&nodes[i]);
	for (int i = 0; i < N; i++)
		node_open(&nodes[i], &conf, RAFT_CANTBOOTSTRAP);
	raft_configuration_close(&conf);
	l = wait_leader();
	n_applied_ok = 0;
	propose(l, 5, 2);
	wait_applied(55);
	for (int it = 0; it < 20000 && n_applied_ok < 5; it++)
		step_all();
	assert_int_equal(n_applied_ok, 5);
	for (int i = 0; i < N; i++) {
		assert_int_equal(nodes[i].st.n, 55);
		assert_int_equal(nodes[i].st.hash, nodes[0].st.hash);
	}
	assert_int_not_equal(nodes[0].st.hash, hash1);
	for (int i = 0; i < N; i++)
		node_close(&nodes[i]);
	nftw(base_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cluster),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
