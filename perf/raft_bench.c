/*
 * raft_bench: three Raft servers on loopback, each on its own thread with
 * its own raft_io_posix (own data directory with real fdatasync, own
 * nanomsg PULL socket, HMAC-authenticated frames), replicating a small
 * key-value state machine.
 *
 * Figures printed:
 *   - commits/s and p50/p99 commit latency (raft_apply to its callback on
 *     the leader, i.e. replicated to a quorum, durable and applied) with
 *     1, 16 and 256 proposals kept in flight on the leader;
 *   - failover, FAILOVER_ROUNDS times: time from killing the leader's
 *     thread (raft_free plus closing its sockets, without a goodbye) to the
 *     first commit of a proposal made after the kill, with the election
 *     timeout next to it; then the killed node restarts from its directory
 *     (log reloaded and CRC-checked, FSM rebuilt by replay) and the time to
 *     reopen and to catch up is printed;
 *   - per node: frames sent/accepted/rejected, entries per fdatasync.
 *
 * Usage: raft_bench [seconds-per-level] [data-dir-parent]
 * The data directories go under data-dir-parent (default: the current
 * directory, so meson runs it in the build tree on real disk, not tmpfs)
 * and are removed at exit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "io_posix.h"
#include "raft.h"

#define N_NODES 3
#define MAX_INFLIGHT 256
#define MAX_SAMPLES (1u << 21)
#define ELECTION_MS 500
#define HEARTBEAT_MS 50
#define FAILOVER_ROUNDS 3

/* ---- key-value state machine ---- */

#define KV_SLOTS 4096
#define KV_KEY 24
#define KV_VAL 24

struct kv {
	char key[KV_SLOTS][KV_KEY];
	char val[KV_SLOTS][KV_VAL];
	uint64_t applied;
};

static uint32_t kv_hash(const char *s)
{
	uint32_t h = 2166136261u;
	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

/* Command format: "key=value" (no NUL on the wire). */
static int kv_apply(struct raft_fsm *fsm, const struct raft_buffer *buf,
		    void **result)
{
	struct kv *kv = fsm->data;
	char cmd[KV_KEY + KV_VAL + 2];
	*result = NULL;
	if (buf->len == 0 || buf->len >= sizeof(cmd))
		return RAFT_MALFORMED;
	memcpy(cmd, buf->base, buf->len);
	cmd[buf->len] = 0;
	char *eq = strchr(cmd, '=');
	if (eq == NULL || eq - cmd >= KV_KEY || strlen(eq + 1) >= KV_VAL)
		return RAFT_MALFORMED;
	*eq = 0;
	uint32_t h = kv_hash(cmd) % KV_SLOTS;
	for (uint32_t i = 0; i < KV_SLOTS; i++) {
		uint32_t s = (h + i) % KV_SLOTS;
		if (kv->key[s][0] == 0 || strcmp(kv->key[s], cmd) == 0) {
			/* Both lengths were checked above. */
			memcpy(kv->key[s], cmd, strlen(cmd) + 1);
			memcpy(kv->val[s], eq + 1, strlen(eq + 1) + 1);
			kv->applied++;
			return 0;
		}
	}
	return RAFT_TOOBIG;
}

static int kv_snapshot(struct raft_fsm *fsm, struct raft_buffer *out)
{
	struct kv *kv = fsm->data;
	out->base = raft_heap_malloc(sizeof(*kv));
	if (out->base == NULL)
		return RAFT_NOMEM;
	memcpy(out->base, kv, sizeof(*kv));
	out->len = sizeof(*kv);
	return 0;
}

static int kv_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	struct kv *kv = fsm->data;
	if (buf->len != sizeof(*kv))
		return RAFT_MALFORMED;
	memcpy(kv, buf->base, sizeof(*kv));
	raft_heap_free(buf->base);
	return 0;
}

/* ---- shared bench state ---- */

enum phase { PH_IDLE, PH_LOAD, PH_FAILOVER, PH_STOP };

static struct {
	_Atomic int phase;
	_Atomic unsigned concurrency;
	_Atomic uint64_t commits;
	_Atomic uint64_t errors;
	_Atomic uint32_t n_samples;
	uint64_t *samples;	/* latency ns, appended by the leader */
	_Atomic uint64_t failover_commit_ns;	/* first commit after kill */
	_Atomic uint64_t kill_ns;
	_Atomic raft_id leader;
	_Atomic uint64_t leader_ns;	/* when a node first led after kill */
} B;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct node;

struct proposal {
	struct raft_apply req;
	struct node *node;
	uint64_t t0;
	bool busy;
};

struct node {
	raft_id id;
	char url[64];
	char dir[300];
	pthread_t thread;
	_Atomic int kill;
	_Atomic int alive;
	_Atomic raft_index applied;	/* published for the main thread */
	_Atomic int seen_phase;		/* last phase this thread acted on */
	struct raft_io_posix *io;
	struct raft *raft;
	struct kv kv;
	struct raft_fsm fsm;
	struct proposal props[MAX_INFLIGHT];
	unsigned inflight;
	uint64_t seq;
	char err[256];
	struct raft_net_stats net;
	struct raft_io_posix_stats disk;
};

static struct node nodes[N_NODES];
static uint8_t cluster_key[32];

static void apply_cb(struct raft_apply *req, int status, void *result)
{
	(void)result;
	struct proposal *p = req->data;
	struct node *n = p->node;
	p->busy = false;
	n->inflight--;
	if (status != 0) {
		atomic_fetch_add(&B.errors, 1);
		return;
	}
	uint64_t t = now_ns();
	int ph = atomic_load(&B.phase);
	if (ph == PH_LOAD) {
		atomic_fetch_add(&B.commits, 1);
		uint32_t i = atomic_fetch_add(&B.n_samples, 1);
		if (i < MAX_SAMPLES)
			B.samples[i] = t - p->t0;
	} else if (ph == PH_FAILOVER && p->t0 > atomic_load(&B.kill_ns)) {
		uint64_t zero = 0;
		atomic_compare_exchange_strong(&B.failover_commit_ns, &zero, t);
	}
}

/* Keep `want` proposals in flight while this node leads. */
static void propose(struct node *n)
{
	int ph = atomic_load(&B.phase);
	if (raft_state(n->raft) != RAFT_LEADER ||
	    (ph != PH_LOAD && ph != PH_FAILOVER))
		return;
	raft_id none = 0;
	if (atomic_compare_exchange_strong(&B.leader, &none, n->id) &&
	    ph == PH_FAILOVER)
		atomic_store(&B.leader_ns, now_ns());
	unsigned want = ph == PH_LOAD ? atomic_load(&B.concurrency) : 1;
	for (unsigned i = 0; i < MAX_INFLIGHT && n->inflight < want; i++) {
		struct proposal *p = &n->props[i];
		if (p->busy)
			continue;
		char cmd[48];
		int len = snprintf(cmd, sizeof(cmd), "k%u=v%" PRIu64,
				   (unsigned)(n->seq % 1000), n->seq);
		n->seq++;
		struct raft_buffer b = { raft_heap_malloc((size_t)len),
					 (size_t)len };
		if (b.base == NULL)
			return;
		memcpy(b.base, cmd, (size_t)len);
		p->node = n;
		p->req.data = p;
		p->t0 = now_ns();
		if (raft_apply(n->raft, &p->req, &b, apply_cb) != 0) {
			raft_heap_free(b.base);
			return;	/* not leader any more, or busy */
		}
		p->busy = true;
		n->inflight++;
	}
}

static void *node_main(void *arg)
{
	struct node *n = arg;
	while (!atomic_load(&n->kill) && atomic_load(&B.phase) != PH_STOP) {
		if (raft_io_posix_run(n->io, n->raft, 5) != 0)
			break;
		propose(n);
		atomic_store(&n->applied, raft_last_applied(n->raft));
		/* Completions run inside raft_io_posix_run on this thread:
		 * once this store shows a phase, later ones see it too. */
		atomic_store(&n->seen_phase, atomic_load(&B.phase));
	}
	/* A kill is a crash as far as peers can tell: sockets close and the
	 * node never answers again. Pending proposals fail (SHUTDOWN). */
	/* Totals over every incarnation of this node (it may restart). */
	struct raft_net_stats ns;
	struct raft_io_posix_stats ds;
	raft_io_posix_net_stats(n->io, &ns);
	raft_io_posix_stats_get(n->io, &ds);
	n->net.sent += ns.sent;
	n->net.received += ns.received;
	for (int d = 0; d < RAFT_NET_DROP_COUNT_; d++)
		n->net.drops[d] += ns.drops[d];
	n->disk.append_reqs += ds.append_reqs;
	n->disk.entries += ds.entries;
	n->disk.syncs += ds.syncs;
	raft_free(n->raft);
	raft_io_posix_free(n->io);
	n->raft = NULL;
	n->io = NULL;
	atomic_store(&n->alive, 0);
	return NULL;
}

static int free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof(sa);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(s, (struct sockaddr *)&sa, &sl) != 0) {
		if (s >= 0)
			close(s);
		return -1;
	}
	close(s);
	return ntohs(sa.sin_port);
}

static int rm_cb(const char *path, const struct stat *sb, int flag,
		 struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void quiet_log(void *data, const char *line)
{
	(void)data;
	fprintf(stderr, "  [log] %s\n", line);
}

/* Figures on a shared machine mean little without its load next to them. */
static void print_load(const char *when)
{
	char buf[128] = "?";
	FILE *f = fopen("/proc/loadavg", "r");
	if (f != NULL) {
		if (fgets(buf, sizeof(buf), f) == NULL)
			snprintf(buf, sizeof(buf), "?\n");
		fclose(f);
	}
	printf("raft_bench: load average %s: %s", when, buf);
}

static int node_start(struct node *n, const struct raft_configuration *conf,
		      bool restart)
{
	memset(&n->kv, 0, sizeof(n->kv));
	memset(n->props, 0, sizeof(n->props));
	n->inflight = 0;
	atomic_store(&n->kill, 0);
	atomic_store(&n->applied, 0);
	struct raft_io_posix_params ip = {
		.id = n->id, .dir = n->dir, .bind_url = n->url,
		.key = cluster_key, .key_len = sizeof(cluster_key),
		.log = quiet_log,
	};
	n->io = raft_io_posix_create(&ip, n->err, sizeof(n->err));
	if (n->io == NULL) {
		fprintf(stderr, "node %" PRIu64 ": %s\n", n->id, n->err);
		return -1;
	}
	n->fsm = (struct raft_fsm){ .data = &n->kv, .apply = kv_apply,
				    .snapshot = kv_snapshot,
				    .restore = kv_restore };
	struct raft_params rp = {
		.id = n->id, .address = n->url,
		.io = raft_io_posix_io(n->io), .fsm = &n->fsm,
		.election_timeout = ELECTION_MS,
		.heartbeat_timeout = HEARTBEAT_MS,
		.snapshot_threshold = 1u << 20,	/* keep snapshots out of it */
	};
	n->raft = raft_create(&rp);
	if (n->raft == NULL) {
		fprintf(stderr, "node %" PRIu64 ": raft_create failed\n", n->id);
		return -1;
	}
	/* A restarted node must find its state on disk. */
	int rv = raft_bootstrap(n->raft, conf);
	if (restart)
		rv = rv == RAFT_CANTBOOTSTRAP ? 0 : RAFT_CORRUPT;
	if (rv == 0)
		rv = raft_start(n->raft);
	if (rv != 0) {
		fprintf(stderr, "node %" PRIu64 ": start: %s (%s)\n", n->id,
			raft_strerror(rv), raft_errmsg(n->raft));
		return -1;
	}
	atomic_store(&n->alive, 1);
	return pthread_create(&n->thread, NULL, node_main, n) == 0 ? 0 : -1;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Wait for a leader among the live nodes; bounded. */
static raft_id wait_leader(unsigned max_ms)
{
	for (unsigned t = 0; t < max_ms; t += 10) {
		raft_id l = atomic_load(&B.leader);
		if (l != 0 && atomic_load(&nodes[l - 1].alive))
			return l;
		sleep_ms(10);
	}
	return 0;
}

/* Wait (bounded) until every live node applied what the most advanced
 * one had applied when we started; *lag = the largest gap seen then. */
static bool wait_caught_up(raft_index *lag)
{
	raft_index target = 0;
	*lag = 0;
	for (int i = 0; i < N_NODES; i++)
		if (atomic_load(&nodes[i].applied) > target)
			target = atomic_load(&nodes[i].applied);
	for (int i = 0; i < N_NODES; i++)
		if (target - atomic_load(&nodes[i].applied) > *lag)
			*lag = target - atomic_load(&nodes[i].applied);
	for (int t = 0; t < 3000; t++) {
		bool caught = true;
		for (int i = 0; i < N_NODES; i++)
			if (atomic_load(&nodes[i].alive) &&
			    atomic_load(&nodes[i].applied) < target)
				caught = false;
		if (caught)
			return true;
		sleep_ms(10);
	}
	return false;
}

static int run_level(unsigned conc, unsigned seconds)
{
	atomic_store(&B.concurrency, conc);
	atomic_store(&B.phase, PH_LOAD);
	sleep_ms(300);	/* warm-up: fill the pipeline */
	atomic_store(&B.commits, 0);
	atomic_store(&B.n_samples, 0);
	atomic_store(&B.errors, 0);
	uint64_t t0 = now_ns();
	sleep_ms(seconds * 1000);
	uint64_t commits = atomic_load(&B.commits);
	uint32_t ns = atomic_load(&B.n_samples);
	uint64_t dt = now_ns() - t0;
	atomic_store(&B.phase, PH_IDLE);
	/* Every node thread must have seen IDLE before the samples are read:
	 * completions record samples only in LOAD. */
	for (int t = 0; t < 1000; t++) {
		bool all = true;
		for (int i = 0; i < N_NODES; i++)
			if (atomic_load(&nodes[i].alive) &&
			    atomic_load(&nodes[i].seen_phase) != PH_IDLE)
				all = false;
		if (all)
			break;
		sleep_ms(1);
	}
	sleep_ms(200);	/* drain */
	if (ns > MAX_SAMPLES)
		ns = MAX_SAMPLES;
	if (ns == 0) {
		printf("raft_bench: concurrency %3u: no commits\n", conc);
		return -1;
	}
	qsort(B.samples, ns, sizeof(uint64_t), cmp_u64);
	double p50 = (double)B.samples[ns / 2] / 1e6;
	double p99 = (double)B.samples[(size_t)ns * 99 / 100] / 1e6;
	printf("raft_bench: concurrency %3u: %8.0f commits/s  p50 %7.3f ms  "
	       "p99 %7.3f ms  (%" PRIu64 " commits in %.2f s, %" PRIu64
	       " errors)\n",
	       conc, (double)commits * 1e9 / (double)dt, p50, p99, commits,
	       (double)dt / 1e9, atomic_load(&B.errors));
	return 0;
}

int main(int argc, char **argv)
{
	unsigned seconds = argc > 1 ? (unsigned)atoi(argv[1]) : 2;
	const char *parent = argc > 2 ? argv[2] : ".";
	if (seconds == 0 || seconds > 60)
		seconds = 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	B.samples = calloc(MAX_SAMPLES, sizeof(uint64_t));
	char base[256];
	snprintf(base, sizeof(base), "%s/raft_bench.XXXXXX", parent);
	if (B.samples == NULL || mkdtemp(base) == NULL) {
		perror("raft_bench: setup");
		return 1;
	}
	FILE *ur = fopen("/dev/urandom", "rb");
	if (ur == NULL || fread(cluster_key, 1, sizeof(cluster_key), ur) !=
				  sizeof(cluster_key)) {
		perror("raft_bench: key");
		return 1;
	}
	fclose(ur);

	struct raft_configuration conf;
	raft_configuration_init(&conf);
	for (int i = 0; i < N_NODES; i++) {
		nodes[i].id = (raft_id)(i + 1);
		int port = free_port();
		if (port < 0) {
			perror("raft_bench: port");
			return 1;
		}
		snprintf(nodes[i].url, sizeof(nodes[i].url),
			 "tcp://127.0.0.1:%d", port);
		snprintf(nodes[i].dir, sizeof(nodes[i].dir), "%s/node%d", base,
			 i + 1);
		raft_configuration_add(&conf, nodes[i].id, nodes[i].url,
				       RAFT_VOTER);
	}
	printf("raft_bench: 3 nodes, 1 thread each, loopback nanomsg TCP with "
	       "HMAC-SHA256, fdatasync on %s, election timeout %d ms, "
	       "heartbeat %d ms, %u s per level\n",
	       base, ELECTION_MS, HEARTBEAT_MS, seconds);
	print_load("before");
	int rc = 0;
	for (int i = 0; i < N_NODES; i++)
		if (node_start(&nodes[i], &conf, false) != 0)
			rc = 1;
	atomic_store(&B.phase, PH_FAILOVER);	/* propose once a leader is up */
	raft_id leader = rc == 0 ? wait_leader(10000) : 0;
	if (leader == 0) {
		printf("raft_bench: no leader elected within 10 s\n");
		rc = 1;
	}
	atomic_store(&B.phase, PH_IDLE);
	static const unsigned levels[] = { 1, 16, 256 };
	for (size_t i = 0; rc == 0 && i < 3; i++)
		if (run_level(levels[i], seconds) != 0)
			rc = 1;

	double fo[FAILOVER_ROUNDS];
	int n_fo = 0;
	for (int round = 0; rc == 0 && round < FAILOVER_ROUNDS; round++) {
		/* Under load the leader needs only one follower, so the other
		 * may lag; let every live node catch up first so the figure
		 * is election + first commit, not catch-up. */
		uint64_t c0 = now_ns();
		raft_index lag = 0;
		bool caught = wait_caught_up(&lag);
		printf("raft_bench: round %d: slowest follower %" PRIu64
		       " entries behind, %s after %.1f ms\n",
		       round + 1, lag, caught ? "caught up" : "NOT caught up",
		       (double)(now_ns() - c0) / 1e6);
		/* Kill the leader, then measure until the first proposal
		 * made after the kill commits on the new leader. */
		raft_id victim_id = atomic_load(&B.leader);
		struct node *victim = &nodes[victim_id - 1];
		atomic_store(&B.failover_commit_ns, 0);
		uint64_t kill = now_ns();
		atomic_store(&B.kill_ns, kill);
		atomic_store(&victim->kill, 1);
		pthread_join(victim->thread, NULL);
		victim->thread = 0;
		atomic_store(&B.leader_ns, 0);
		atomic_store(&B.leader, 0);
		atomic_store(&B.phase, PH_FAILOVER);
		uint64_t done = 0;
		for (int t = 0; t < 1000 && done == 0; t++) {
			sleep_ms(10);
			done = atomic_load(&B.failover_commit_ns);
		}
		atomic_store(&B.phase, PH_IDLE);
		if (done == 0) {
			printf("raft_bench: failover: no commit within 10 s of "
			       "killing node %" PRIu64 "\n", victim_id);
			rc = 1;
			break;
		}
		uint64_t led = atomic_load(&B.leader_ns);
		fo[n_fo++] = (double)(done - kill) / 1e6;
		printf("raft_bench: round %d: failover: killed leader %" PRIu64
		       ", node %" PRIu64 " leading after %.1f ms, first commit "
		       "after %.1f ms\n",
		       round + 1, victim_id, atomic_load(&B.leader),
		       led ? (double)(led - kill) / 1e6 : -1.0,
		       (double)(done - kill) / 1e6);
		/* Restart the killed node from its directory: it reloads its
		 * log (CRC-checked) and catches up from the new leader. */
		uint64_t r0 = now_ns();
		if (node_start(victim, &conf, true) != 0) {
			rc = 1;
			break;
		}
		uint64_t r1 = now_ns();
		caught = wait_caught_up(&lag);
		printf("raft_bench: round %d: restart: node %" PRIu64
		       " reopened its log in %.1f ms, %s after %.1f ms\n",
		       round + 1, victim_id, (double)(r1 - r0) / 1e6,
		       caught ? "caught up" : "NOT caught up",
		       (double)(now_ns() - r1) / 1e6);
		if (!caught)
			rc = 1;
	}
	if (n_fo > 0) {
		qsort(fo, (size_t)n_fo, sizeof(fo[0]), cmp_double);
		printf("raft_bench: failover: median %.1f ms, min %.1f, max %.1f "
		       "over %d kills (election timeout %d-%d ms)\n",
		       fo[n_fo / 2], fo[0], fo[n_fo - 1], n_fo, ELECTION_MS,
		       2 * ELECTION_MS);
	}
	atomic_store(&B.phase, PH_STOP);
	for (int i = 0; i < N_NODES; i++)
		if (nodes[i].thread)
			pthread_join(nodes[i].thread, NULL);
	for (int i = 0; i < N_NODES; i++) {
		/* Any frame rejected in a clean run means a transport bug. */
		uint64_t drops = 0;
		for (int d = 0; d < RAFT_NET_DROP_SEND_FAILED; d++)
			drops += nodes[i].net.drops[d];
		printf("raft_bench: node %d: %" PRIu64 " frames sent, %" PRIu64
		       " accepted, %" PRIu64 " rejected, %" PRIu64
		       " send drops\n",
		       i + 1, nodes[i].net.sent, nodes[i].net.received, drops,
		       nodes[i].net.drops[RAFT_NET_DROP_SEND_FAILED]);
		if (drops != 0)
			rc = 1;
		printf("raft_bench: node %d: %" PRIu64 " entries in %" PRIu64
		       " append requests, %" PRIu64 " fdatasyncs (%.1f entries "
		       "per sync)\n",
		       i + 1, nodes[i].disk.entries, nodes[i].disk.append_reqs,
		       nodes[i].disk.syncs,
		       nodes[i].disk.syncs ? (double)nodes[i].disk.entries /
						     (double)nodes[i].disk.syncs
					   : 0.0);
	}
	raft_configuration_close(&conf);
	print_load("after");
	nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(B.samples);
	return rc;
}
