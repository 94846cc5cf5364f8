/*
 * kvbench: one load generator for the sluice masters and etcd 3.4, through
 * the same etcd-gateway JSON requests (tests/lin/kvc.h), so the two systems
 * see identical bytes.
 *
 *   kvbench put      closed loop: N clients (threads, one kept-alive HTTP
 *                    connection each), each puts a V-byte value and waits for
 *                    the answer; prints puts/s and p50/p99 latency
 *   kvbench failover a new put to every endpoint every few ms (libcurl
 *                    multi, never waiting for earlier ones); after a warm-up
 *                    it SIGKILLs the given PID (the leader, found by the
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

#include <curl/curl.h>

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
"  --max-wait-ms N       failover: give up after, default 15000\n"
"  --timeout-ms N        per request, default 5000 (failover: 2000)\n"
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
	if (cfg->failover && !cfg->timeout_set)
		cfg->kp.timeout_ms = 2000;
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

static size_t kb_discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
	(void)ptr;
	(void)ud;
	return size * nmemb;
}

struct kb_probe {
	CURL *h;
	uint64_t t0;
	bool busy;
};

/*
 * One thread, libcurl multi: every interval_ms a new put goes to every
 * endpoint whatever happened to the earlier ones. A request the old leader
 * (or a follower that forwarded to it) will never answer only occupies its
 * slot until its timeout; it cannot delay the next probe, so the first
 * acknowledged write after the kill is seen within one interval.
 */
static int kb_run_failover(const struct kb_cfg *cfg)
{
	enum { KB_MAX_PROBES = 2048 };
	size_t n_ep = cfg->kp.n_endpoints;
	struct kb_probe *pr = calloc(KB_MAX_PROBES, sizeof(*pr));
	struct curl_slist *hdr = curl_slist_append(NULL,
		"Content-Type: application/json");
	CURLM *m = curl_multi_init();
	uint64_t iv = (uint64_t)cfg->interval_ms * 1000000ull;
	uint64_t start = kb_now(), next = start, t_kill = 0, best = 0;
	unsigned long seq = 0, saturated = 0, failed_after = 0;
	int rc = 1;

	if (!pr || !hdr || !m) {
		fprintf(stderr, "kvbench: out of memory\n");
		goto out;
	}
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)KB_MAX_PROBES);
	for (size_t i = 0; i < KB_MAX_PROBES; i++) {
		pr[i].h = curl_easy_init();
		if (!pr[i].h) {
			fprintf(stderr, "kvbench: out of memory\n");
			goto out;
		}
		kvc_setup_handle(pr[i].h, &cfg->kp);
		curl_easy_setopt(pr[i].h, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(pr[i].h, CURLOPT_WRITEFUNCTION, kb_discard);
		curl_easy_setopt(pr[i].h, CURLOPT_PRIVATE, &pr[i]);
	}
	for (;;) {
		uint64_t now = kb_now();
		if (!t_kill && now - start >= (uint64_t)(cfg->warmup * 1e9)) {
			t_kill = kb_now();
			if (kill(cfg->kill_pid, SIGKILL)) {
				fprintf(stderr, "kvbench: kill %d: %s\n",
					(int)cfg->kill_pid, strerror(errno));
				goto out;
			}
		}
		if (t_kill && now - t_kill > (uint64_t)cfg->max_wait_ms * 1000000ull)
			break;
		while (now >= next) {
			for (size_t e = 0; e < n_ep; e++) {
				size_t i = 0;
				while (i < KB_MAX_PROBES && pr[i].busy)
					i++;
				if (i == KB_MAX_PROBES) {
					saturated++;
					continue;
				}
				char key[64], val[32], url[320];
				snprintf(key, sizeof(key), "probe/%zu", e);
				snprintf(val, sizeof(val), "%lu", seq++);
				snprintf(url, sizeof(url), "%s/v3/kv/put",
					 cfg->kp.endpoints[e]);
				char *body = kvc_put_body(key, val, strlen(val));
				if (!body)
					continue;
				curl_easy_setopt(pr[i].h, CURLOPT_URL, url);
				curl_easy_setopt(pr[i].h, CURLOPT_COPYPOSTFIELDS,
						 body);
				free(body);
				pr[i].t0 = kb_now();
				pr[i].busy = true;
				curl_multi_add_handle(m, pr[i].h);
			}
			next += iv;
		}
		int running, left;
		curl_multi_perform(m, &running);
		CURLMsg *msg;
		while ((msg = curl_multi_info_read(m, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct kb_probe *p;
			long http = 0;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
					  (char **)&p);
			curl_easy_getinfo(msg->easy_handle,
					  CURLINFO_RESPONSE_CODE, &http);
			bool ok = msg->data.result == CURLE_OK && http == 200;
			/* Only writes issued after the kill measure the
			 * failover: an earlier one may have been committed
			 * by the old leader. */
			if (ok && t_kill && p->t0 >= t_kill && !best)
				best = kb_now();
			if (!ok && t_kill)
				failed_after++;
			curl_multi_remove_handle(m, msg->easy_handle);
			p->busy = false;
		}
		if (best)
			break;
		now = kb_now();
		int wait_ms = next > now ? (int)((next - now) / 1000000ull) : 0;
		curl_multi_poll(m, NULL, 0, wait_ms, NULL);
	}
	if (saturated)
		printf("%s: %lu probes skipped: %d requests in flight\n",
		       cfg->label, saturated, KB_MAX_PROBES);
	if (!best) {
		printf("%s: no write acknowledged within %u ms of killing pid "
		       "%d\n", cfg->label, cfg->max_wait_ms, (int)cfg->kill_pid);
		printf("RESULT failover system=%s ms=-1\n", cfg->label);
		goto out;
	}
	double ms = (double)(best - t_kill) / 1e6;
	printf("%s: SIGKILL pid %d -> first acknowledged write %.1f ms later "
	       "(%lu probes failed meanwhile)\n", cfg->label,
	       (int)cfg->kill_pid, ms, failed_after);
	printf("RESULT failover system=%s ms=%.1f\n", cfg->label, ms);
	rc = 0;
out:
	for (size_t i = 0; pr && i < KB_MAX_PROBES; i++) {
		if (pr[i].busy)
			curl_multi_remove_handle(m, pr[i].h);
		if (pr[i].h)
			curl_easy_cleanup(pr[i].h);
	}
	free(pr);
	curl_multi_cleanup(m);
	curl_slist_free_all(hdr);
	return rc;
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
	int rc = cfg.failover ? kb_run_failover(&cfg) :
				kb_run_put(&cfg, cls);
	for (unsigned i = 0; i < KB_MAX_CLIENTS; i++)
		kvc_free(cls[i].c);
	return rc;
}
