/*
 * kvbench: one load generator for the sluice masters and etcd 3.4, through
 * the same etcd-gateway JSON requests (tests/lin/kvc.h), so the two systems
 * see identical bytes.
 *
 *   kvbench put      closed loop: N clients (threads, one kept-alive HTTP
 *                    connection each), each puts a V-byte value and waits for
 *                    the answer; prints puts/s and p50/p99 latency
 *   kvbench failover a put to every endpoint every few ms (--probers
 *                    threads per endpoint take turns); after a warm-up it
 *                    SIGKILLs the given PID (the leader, found by the
 *                    caller) and reports the time from the kill to the first
 *                    acknowledged write issued after it
 *
 * Output: human lines, then one machine line starting with "RESULT" that
 * perf/kv-bench.sh parses.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "kvc.h"

#define KB_MAX_CLIENTS 1024

struct kb_cfg {
	struct kvc_params kp;
	bool failover;
	unsigned clients;
	double seconds;
	double warmup;
	size_t value_size;
	char label[64];
	pid_t kill_pid;
	unsigned interval_ms;
	unsigned max_wait_ms;
	unsigned probers; /* failover: threads per endpoint */
	bool timeout_set;
};

struct kb_client {
	pthread_t th;
	unsigned id;
	const struct kb_cfg *cfg;
	struct kvc *c;
	uint64_t *lat; /* ns, measured phase only */
	size_t n, cap;
	unsigned long errors;
	int oom;
};

static atomic_bool kb_stop;
static atomic_bool kb_measure;

static uint64_t kb_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void kb_sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000ull),
			       (long)(ns % 1000000000ull) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void *kb_put_main(void *arg)
{
	struct kb_client *cl = arg;
	const struct kb_cfg *cfg = cl->cfg;
	struct kvc_reply *r = malloc(sizeof(*r));
	char *val = malloc(cfg->value_size + 1);
	uint64_t seq = 0;

	if (!r || !val) {
		cl->oom = 1;
		goto out;
	}
	memset(val, 'v', cfg->value_size);
	while (!atomic_load(&kb_stop)) {
		char key[64];
		snprintf(key, sizeof(key), "bench/%u/%" PRIu64, cl->id,
			 seq % 1000);
		/* Vary the value so no layer can dedupe. */
		int m = snprintf(val, cfg->value_size + 1, "%" PRIu64, seq);
		if (m > 0 && (size_t)m < cfg->value_size)
			val[m] = 'v';
		seq++;
		bool measured = atomic_load(&kb_measure);
		uint64_t t0 = kb_now();
		kvc_put(cl->c, key, val, cfg->value_size, r);
		uint64_t t1 = kb_now();
		if (r->status != KVC_OK) {
			if (measured)
				cl->errors++;
			if (cl->errors < 3 && measured)
				fprintf(stderr, "kvbench: client %u: %s\n",
					cl->id, r->err);
			kvc_next_endpoint(cl->c);
			continue;
		}
		if (!measured)
			continue;
		if (cl->n == cl->cap) {
			size_t cap = cl->cap ? cl->cap * 2 : 16384;
			uint64_t *v = realloc(cl->lat, cap * sizeof(*v));
			if (!v) {
				cl->oom = 1;
				break;
			}
			cl->lat = v;
			cl->cap = cap;
		}
		cl->lat[cl->n++] = t1 - t0;
	}
out:
	free(r);
	free(val);
	return NULL;
}

static int kb_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void kb_usage(FILE *f)
{
	fprintf(f,
"usage: kvbench put|failover [options]\n"
"  Load generator for sluice masters and etcd 3.4 over the same /v3/kv JSON.\n"
"  put: closed-loop puts, prints puts/s and p50/p99 latency.\n"
"  failover: probes with writes, SIGKILLs --kill-pid, prints the time to the\n"
"    first acknowledged write issued after the kill.\n"
"  --endpoints URL,...   members (https://host:port)\n"
"  --config FILE         client config (admin.conf)\n"
"  --cacert F --cert F --key F   TLS material\n"
"  --clients N           put: concurrent clients, default 16\n"
"  --seconds S           put: measured seconds, default 5\n"
"  --warmup S            put: unmeasured seconds first, default 1;\n"
"                        failover: seconds of probing before the kill\n"
"  --value-size B        put: value bytes, default 256\n"
"  --label NAME          system name for the RESULT line\n"
"  --kill-pid PID        failover: the process to SIGKILL (the leader)\n"
"  --interval-ms N       failover: probe period per endpoint, default 5\n"
"  --probers N           failover: threads per endpoint sharing that period,\n"
"                        each with a kept-alive connection, default 32\n"
"  --max-wait-ms N       failover: give up after, default 15000\n"
"  --timeout-ms N        per request, default 5000 (failover: 1000)\n"
"  --help\n");
}

static int kb_args(int argc, char **argv, struct kb_cfg *cfg)
{
	static const struct option opts[] = {
		KVC_OPTIONS,
		{ "clients", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 's' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "value-size", required_argument, NULL, 'v' },
		{ "label", required_argument, NULL, 'l' },
		{ "kill-pid", required_argument, NULL, 'p' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "max-wait-ms", required_argument, NULL, 'M' },
		{ "probers", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	double v;
	int o;

	if (argc >= 2 && (!strcmp(argv[1], "--help") ||
			  !strcmp(argv[1], "-h"))) {
		kb_usage(stdout);
		exit(0);
	}
	if (argc < 2 || (strcmp(argv[1], "put") &&
			 strcmp(argv[1], "failover"))) {
		fprintf(stderr, "kvbench: first argument: want put or "
			"failover\n");
		kb_usage(stderr);
		return -EINVAL;
	}
	cfg->failover = !strcmp(argv[1], "failover");
	cfg->clients = 16;
	cfg->seconds = 5;
	cfg->warmup = 1;
	cfg->value_size = 256;
	cfg->interval_ms = 5;
	cfg->max_wait_ms = 15000;
	cfg->probers = 32;
	cfg->kp.timeout_ms = 5000;
	snprintf(cfg->label, sizeof(cfg->label), "?");
	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int k = kvc_opt("kvbench", o, optarg, &cfg->kp);
		if (k < 0)
			return -EINVAL;
		if (k > 0) {
			cfg->timeout_set |= o == 0x105;
			continue;
		}
		switch (o) {
		case 'c':
			if (kvc_num("kvbench", "--clients", optarg, 1, KB_MAX_CLIENTS, &v))
				return -EINVAL;
			cfg->clients = (unsigned)v;
			break;
		case 's':
			if (kvc_num("kvbench", "--seconds", optarg, 0.1, 3600, &v))
				return -EINVAL;
			cfg->seconds = v;
			break;
		case 'w':
			if (kvc_num("kvbench", "--warmup", optarg, 0, 3600, &v))
				return -EINVAL;
			cfg->warmup = v;
			break;
		case 'v':
			if (kvc_num("kvbench", "--value-size", optarg, 1, KVC_VALUE_MAX, &v))
				return -EINVAL;
			cfg->value_size = (size_t)v;
			break;
		case 'l':
			snprintf(cfg->label, sizeof(cfg->label), "%s", optarg);
			break;
		case 'p':
			if (kvc_num("kvbench", "--kill-pid", optarg, 2, 4194304, &v))
				return -EINVAL;
			cfg->kill_pid = (pid_t)v;
			break;
		case 'i':
			if (kvc_num("kvbench", "--interval-ms", optarg, 1, 10000, &v))
				return -EINVAL;
			cfg->interval_ms = (unsigned)v;
			break;
		case 'M':
			if (kvc_num("kvbench", "--max-wait-ms", optarg, 100, 600000, &v))
				return -EINVAL;
			cfg->max_wait_ms = (unsigned)v;
			break;
		case 'P':
			if (kvc_num("kvbench", "--probers", optarg, 1, 64, &v))
				return -EINVAL;
			cfg->probers = (unsigned)v;
			break;
		case 'h':
			kb_usage(stdout);
			exit(0);
		default:
			kb_usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kvbench: unexpected argument '%s'\n",
			argv[optind]);
		return -EINVAL;
	}
	if (kvc_opt_done("kvbench", &cfg->kp))
		return -EINVAL;
	/* Short, so a prober stuck on a put the dead leader lost is freed
	 * soon (it then reconnects); long enough for a put in a new term. */
	if (cfg->failover && !cfg->timeout_set)
		cfg->kp.timeout_ms = 1000;
	if (cfg->failover && cfg->kill_pid == 0) {
		fprintf(stderr, "kvbench: failover: --kill-pid is required\n");
		return -EINVAL;
	}
	return 0;
}

static int kb_start(struct kb_client *cls, unsigned n, const struct kb_cfg *cfg,
		    void *(*fn)(void *))
{
	for (unsigned i = 0; i < n; i++) {
		cls[i].id = i;
		cls[i].cfg = cfg;
		cls[i].c = kvc_create(&cfg->kp, i);
		if (!cls[i].c) {
			fprintf(stderr, "kvbench: client %u: libcurl setup "
				"failed\n", i);
			return -ENOMEM;
		}
	}
	for (unsigned i = 0; i < n; i++)
		if (pthread_create(&cls[i].th, NULL, fn, &cls[i])) {
			fprintf(stderr, "kvbench: pthread_create failed after "
				"%u threads\n", i);
			atomic_store(&kb_stop, true);
			for (unsigned j = 0; j < i; j++)
				pthread_join(cls[j].th, NULL);
			return -EAGAIN;
		}
	return 0;
}

static void kb_join(struct kb_client *cls, unsigned n)
{
	atomic_store(&kb_stop, true);
	for (unsigned i = 0; i < n; i++)
		pthread_join(cls[i].th, NULL);
}

static int kb_run_put(const struct kb_cfg *cfg, struct kb_client *cls)
{
	if (kb_start(cls, cfg->clients, cfg, kb_put_main))
		return 1;
	kb_sleep_ns((uint64_t)(cfg->warmup * 1e9));
	atomic_store(&kb_measure, true);
	uint64_t t0 = kb_now();
	kb_sleep_ns((uint64_t)(cfg->seconds * 1e9));
	atomic_store(&kb_measure, false);
	uint64_t t1 = kb_now();
	kb_join(cls, cfg->clients);

	size_t total = 0;
	unsigned long errors = 0;
	for (unsigned i = 0; i < cfg->clients; i++) {
		if (cls[i].oom) {
			fprintf(stderr, "kvbench: out of memory\n");
			return 1;
		}
		total += cls[i].n;
		errors += cls[i].errors;
	}
	uint64_t *all = malloc((total ? total : 1) * sizeof(*all));
	if (!all) {
		fprintf(stderr, "kvbench: out of memory\n");
		return 1;
	}
	size_t k = 0;
	for (unsigned i = 0; i < cfg->clients; i++) {
		memcpy(all + k, cls[i].lat, cls[i].n * sizeof(*all));
		k += cls[i].n;
		free(cls[i].lat);
	}
	qsort(all, total, sizeof(*all), kb_cmp_u64);
	double secs = (double)(t1 - t0) / 1e9;
	double p50 = total ? (double)all[total / 2] / 1e6 : 0;
	double p99 = total ? (double)all[total * 99 / 100] / 1e6 : 0;
	printf("%s: %u clients, %zu-byte values: %zu puts in %.2f s = %.0f "
	       "puts/s, p50 %.2f ms, p99 %.2f ms, %lu errors\n", cfg->label,
	       cfg->clients, cfg->value_size, total, secs,
	       (double)total / secs, p50, p99, errors);
	printf("RESULT put system=%s clients=%u puts_per_s=%.0f p50_ms=%.2f "
	       "p99_ms=%.2f errors=%lu\n", cfg->label, cfg->clients,
	       (double)total / secs, p50, p99, errors);
	free(all);
	return total ? 0 : 1;
}

/* Shared by the probers: the kill instant (0 before), the first ack, how
 * many probers have had one ack (connected and warm). */
static _Atomic uint64_t kb_kill_ns;
static _Atomic uint64_t kb_first_ack;
static atomic_uint kb_warm;

/*
 * Prober j of an endpoint owns every probers-th slot of interval_ms, so
 * together they put every interval_ms; each keeps its connection alive.
 * A put the dead leader (or a follower forwarding to it) never answers
 * holds only its own prober, for at most the request timeout, after which
 * that prober reconnects and goes on: the first ack after the election is
 * seen within about timeout / probers of it.
 */
static void *kb_probe_main(void *arg)
{
	struct kb_client *cl = arg;
	const struct kb_cfg *cfg = cl->cfg;
	struct kvc_reply *r = malloc(sizeof(*r));
	uint64_t iv = (uint64_t)cfg->interval_ms * 1000000ull;
	uint64_t period = iv * cfg->probers;
	uint64_t seq = 0;

	if (!r) {
		cl->oom = 1;
		return NULL;
	}
	kb_sleep_ns(iv * (cl->id / cfg->kp.n_endpoints));
	while (!atomic_load(&kb_stop)) {
		char key[64], val[32];
		uint64_t t0 = kb_now();
		uint64_t kill_ns = atomic_load(&kb_kill_ns);
		snprintf(key, sizeof(key), "probe/%u", cl->id);
		snprintf(val, sizeof(val), "%" PRIu64, seq++);
		kvc_put(cl->c, key, val, strlen(val), r);
		uint64_t t1 = kb_now();
		/* Only puts issued after the kill measure the failover: an
		 * earlier one may have been committed by the old leader. */
		if (r->status == KVC_OK && kill_ns && t0 >= kill_ns) {
			uint64_t cur = 0;
			atomic_compare_exchange_strong(&kb_first_ack, &cur, t1);
			if (cur && t1 < cur)
				atomic_store(&kb_first_ack, t1);
			break;
		}
		if (r->status != KVC_OK && kill_ns)
			cl->errors++;
		if (r->status == KVC_OK && !cl->n++)
			atomic_fetch_add(&kb_warm, 1);
		if (t1 - t0 < period)
			kb_sleep_ns(period - (t1 - t0));
	}
	free(r);
	return NULL;
}

static int kb_run_failover(const struct kb_cfg *cfg, struct kb_client *cls)
{
	unsigned n = (unsigned)cfg->kp.n_endpoints * cfg->probers;

	if (n > KB_MAX_CLIENTS) {
		fprintf(stderr, "kvbench: --probers: at most %u threads in "
			"all\n", KB_MAX_CLIENTS);
		return 1;
	}
	/* kvc_create(..., i) starts client i at endpoint i % n_endpoints */
	if (kb_start(cls, n, cfg, kb_probe_main))
		return 1;
	/* Kill only once every prober has a live connection (TLS handshakes
	 * of all of them at once can take a while on a loaded machine), so
	 * the figure is not inflated by connection set-up. */
	kb_sleep_ns((uint64_t)(cfg->warmup * 1e9));
	uint64_t t_ready = kb_now();
	while (atomic_load(&kb_warm) < n && kb_now() - t_ready < 20000000000ull)
		kb_sleep_ns(10000000);
	if (atomic_load(&kb_warm) < n) {
		fprintf(stderr, "kvbench: only %u of %u probers got an answer in "
			"%.0f s: not killing\n", atomic_load(&kb_warm), n,
			cfg->warmup + 20);
		kb_join(cls, n);
		return 1;
	}
	uint64_t t_kill = kb_now();
	atomic_store(&kb_kill_ns, t_kill);
	if (kill(cfg->kill_pid, SIGKILL)) {
		fprintf(stderr, "kvbench: kill %d: %s\n", (int)cfg->kill_pid,
			strerror(errno));
		kb_join(cls, n);
		return 1;
	}
	while (!atomic_load(&kb_first_ack) &&
	       kb_now() - t_kill < (uint64_t)cfg->max_wait_ms * 1000000ull)
		kb_sleep_ns(1000000);
	/* Probers in flight may still land an earlier-issued ack; give them
	 * one timeout to report, then stop. */
	if (atomic_load(&kb_first_ack))
		kb_sleep_ns((uint64_t)cfg->kp.timeout_ms * 1000000ull);
	kb_join(cls, n);
	uint64_t best = atomic_load(&kb_first_ack);
	unsigned long failed = 0;
	for (unsigned i = 0; i < n; i++)
		failed += cls[i].errors;
	if (!best) {
		printf("%s: no write acknowledged within %u ms of killing pid "
		       "%d\n", cfg->label, cfg->max_wait_ms, (int)cfg->kill_pid);
		printf("RESULT failover system=%s ms=-1\n", cfg->label);
		return 1;
	}
	double ms = (double)(best - t_kill) / 1e6;
	printf("%s: SIGKILL pid %d -> first acknowledged write %.1f ms later "
	       "(%lu probes failed meanwhile; resolution about %.0f ms)\n",
	       cfg->label, (int)cfg->kill_pid, ms, failed,
	       (double)cfg->kp.timeout_ms / cfg->probers);
	printf("RESULT failover system=%s ms=%.1f\n", cfg->label, ms);
	return 0;
}

int main(int argc, char **argv)
{
	static struct kb_cfg cfg;
	static struct kb_client cls[KB_MAX_CLIENTS];

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (kb_args(argc, argv, &cfg))
		return 2;
	if (kvc_global_init()) {
		fprintf(stderr, "kvbench: libcurl init failed\n");
		return 2;
	}
	int rc = cfg.failover ? kb_run_failover(&cfg, cls) :
				kb_run_put(&cfg, cls);
	for (unsigned i = 0; i < KB_MAX_CLIENTS; i++)
		kvc_free(cls[i].c);
	return rc;
}
