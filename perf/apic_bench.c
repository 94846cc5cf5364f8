/*
 * apic_bench: what the API client (ctrl/apic.h) costs against running
 * masters. Closed loop, one client thread, so each figure is one request's
 * full round trip through apic, libcurl, TLS and the master:
 *   get-keepalive  GET of one pod, linearizable (ReadIndex), one connection
 *   get-fresh      the same with a new client (TCP + TLS handshake) per GET
 *   get-serial     GET with consistency=serializable (local store, no quorum)
 *   create         POST of a new pod (Raft commit with fsync on a quorum)
 *   watch-leader   POST sent -> its event reaches a watch on another
 *                  connection (another thread) to the leader: commit plus
 *                  delivery
 *   watch-follower the same, the watch served by a follower (it applies
 *                  an entry when it learns the commit index)
 * Prints requests/s, p50 and p99 per row, and the load average.
 *
 * usage: apic_bench CONFIG [N]   (CONFIG: an apic config, e.g. admin.conf)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apic.h"

#define BENCH_NS "apic-bench"

static double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void bench_row(const char *what, double *lat, size_t n, double wall)
{
	qsort(lat, n, sizeof(*lat), bench_cmp);
	printf("%-16s %8zu %12.0f %10.3f %10.3f\n", what, n, (double)n / wall,
	       lat[n / 2] * 1e3, lat[(n * 99) / 100] * 1e3);
	fflush(stdout);
}

static int bench_post_pod(struct apic *c, const char *name, const char *label)
{
	struct apic_resp r;
	json_t *pod = json_pack("{s:s,s:s,s:{s:s,s:{s:s}},s:{s:[{s:s,s:s}]}}", "apiVersion", "v1",
				"kind", "Pod", "metadata", "name", name, "labels", "bench", label,
				"spec", "containers", "name", "c", "image", "busybox");
	int rc = apic_request(c, "POST", "/api/v1/namespaces/" BENCH_NS "/pods", pod, &r);
	json_decref(pod);
	if (rc != APIC_OK || r.status != 201) {
		fprintf(stderr, "apic_bench: create %s: %s (HTTP %ld)\n", name,
			r.errmsg, r.status);
		apic_resp_clear(&r);
		return -1;
	}
	apic_resp_clear(&r);
	return 0;
}

struct bench_watch {
	struct apic *c;
	char path[256];
	double *arrived; /* per pod index */
	size_t n, seen;
	volatile int stop;
	int rc;
};

static bool bench_on_event(void *arg, const char *type, json_t *obj)
{
	struct bench_watch *w = arg;
	const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"),
							     "name"));
	unsigned idx;
	if (strcmp(type, "ADDED") == 0 && name != NULL && sscanf(name, "w-%u", &idx) == 1 &&
	    idx < w->n && w->arrived[idx] == 0) {
		w->arrived[idx] = bench_now();
		__atomic_add_fetch(&w->seen, 1, __ATOMIC_RELEASE);
	}
	return true;
}

static void *bench_watcher(void *arg)
{
	struct bench_watch *w = arg;
	char err[APIC_ERRMSG_SIZE];
	long st;
	w->rc = apic_watch(w->c, w->path, bench_on_event, w, &w->stop, &st, err, sizeof(err));
	if (w->rc != APIC_ERR_STOPPED)
		fprintf(stderr, "apic_bench: watch: %s\n", err);
	return NULL;
}

/* One watch-delay row: a second client, connected to `server` only,
 * watches pods labelled round-K while this thread creates them one by one. */
static int bench_watch_row(struct apic *c, const struct apic_params *base, const char *row,
			   const char *server, size_t n, int k, double *lat, double *posted,
			   double *arrived)
{
	struct apic_params p = *base;
	struct apic_resp r;
	char err[APIC_ERRMSG_SIZE], name[64], label[16];
	struct bench_watch w = {.arrived = arrived, .n = n};

	memset(p.servers, 0, sizeof(p.servers));
	p.servers[0] = server;
	p.n_servers = 1;
	memset(arrived, 0, n * sizeof(*arrived));
	snprintf(label, sizeof(label), "round-%d", k);
	w.c = apic_create(&p, err, sizeof(err));
	if (w.c == NULL || apic_request(c, "GET", "/api/v1/namespaces/" BENCH_NS "/pods", NULL,
					&r) != APIC_OK) {
		fprintf(stderr, "apic_bench: %s: %s\n", row, w.c ? r.errmsg : err);
		return -1;
	}
	snprintf(w.path, sizeof(w.path),
		 "/api/v1/namespaces/" BENCH_NS "/pods?watch=1&labelSelector=bench%%3D%s"
		 "&resourceVersion=%s", label,
		 json_string_value(json_object_get(json_object_get(r.body, "metadata"),
						   "resourceVersion")));
	apic_resp_clear(&r);
	pthread_t th;
	pthread_create(&th, NULL, bench_watcher, &w);
	double t0 = bench_now();
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "w-%zu-%d", i, k);
		posted[i] = bench_now();
		if (bench_post_pod(c, name, label) != 0)
			return -1;
		/* One at a time, so the delay is not queueing behind our own writes. */
		while (__atomic_load_n(&w.seen, __ATOMIC_ACQUIRE) <= i) {
			struct timespec ts = {0, 50000};
			nanosleep(&ts, NULL);
		}
	}
	double wall = bench_now() - t0;
	w.stop = 1;
	pthread_join(th, NULL);
	for (size_t i = 0; i < n; i++)
		lat[i] = arrived[i] > posted[i] ? arrived[i] - posted[i] : 0;
	bench_row(row, lat, n, wall);
	apic_free(w.c);
	return 0;
}

int main(int argc, char **argv)
{
	struct apic_config cfg;
	struct apic_params p = {0};
	struct apic_resp r;
	char err[APIC_ERRMSG_SIZE], name[64];

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fprintf(argc < 2 ? stderr : stdout,
			"usage: apic_bench CONFIG [N]\n"
			"  CONFIG: apic client config (sluice-ctrl init's admin.conf)\n"
			"  N: requests per row (default 500)\n");
		return argc < 2 ? 2 : 0;
	}
	size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 500;
	if (n < 10 || n > 100000) {
		fprintf(stderr, "apic_bench: N must be in [10, 100000]\n");
		return 2;
	}
	if (apic_config_load(argv[1], &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "apic_bench: %s\n", err);
		return 2;
	}
	apic_config_params(&cfg, &p);
	struct apic *c = apic_create(&p, err, sizeof(err));
	if (c == NULL) {
		fprintf(stderr, "apic_bench: %s\n", err);
		return 2;
	}
	double *lat = calloc(n, sizeof(*lat));
	double *posted = calloc(n, sizeof(*posted));
	double *arrived = calloc(n, sizeof(*arrived));
	if (lat == NULL || posted == NULL || arrived == NULL)
		return 1;

	if (bench_post_pod(c, "target", "get") != 0)
		return 1;
	printf("%-16s %8s %12s %10s %10s\n", "row", "n", "req/s", "p50 ms", "p99 ms");

	static const struct {
		const char *row, *path;
		bool fresh;
	} gets[] = {
		{"get-keepalive", "/api/v1/namespaces/" BENCH_NS "/pods/target", false},
		{"get-serial", "/api/v1/namespaces/" BENCH_NS "/pods/target?consistency=serializable",
		 false},
		{"get-fresh", "/api/v1/namespaces/" BENCH_NS "/pods/target", true},
	};
	for (size_t g = 0; g < sizeof(gets) / sizeof(gets[0]); g++) {
		size_t count = gets[g].fresh ? n / 5 : n;
		double t0 = bench_now();
		for (size_t i = 0; i < count; i++) {
			double s = bench_now();
			struct apic *use = c;
			if (gets[g].fresh && (use = apic_create(&p, err, sizeof(err))) == NULL)
				return 1;
			if (apic_request(use, "GET", gets[g].path, NULL, &r) != APIC_OK ||
			    r.status != 200) {
				fprintf(stderr, "apic_bench: %s: %s\n", gets[g].row, r.errmsg);
				return 1;
			}
			apic_resp_clear(&r);
			if (use != c)
				apic_free(use);
			lat[i] = bench_now() - s;
		}
		bench_row(gets[g].row, lat, count, bench_now() - t0);
	}

	/* Writes. */
	double t0 = bench_now();
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "c-%zu", i);
		double s = bench_now();
		if (bench_post_pod(c, name, "create") != 0)
			return 1;
		lat[i] = bench_now() - s;
	}
	bench_row("create", lat, n, bench_now() - t0);

	/* Watch delivery, watching on the leader, then on a follower. */
	if (apic_request(c, "GET", "/cluster/status", NULL, &r) != APIC_OK || r.status != 200) {
		fprintf(stderr, "apic_bench: /cluster/status: %s\n", r.errmsg);
		return 1;
	}
	char leader_url[256] = "", follower_url[256] = "";
	json_int_t leader = json_integer_value(json_object_get(r.body, "leader"));
	size_t mi;
	json_t *m;
	json_array_foreach(json_object_get(r.body, "members"), mi, m) {
		const char *u = json_string_value(json_object_get(m, "apiURL"));
		char *dst = json_integer_value(json_object_get(m, "id")) == leader ? leader_url :
										     follower_url;
		if (u != NULL && dst[0] == '\0')
			snprintf(dst, 256, "%s", u);
	}
	apic_resp_clear(&r);
	const char *where[2] = {leader_url, follower_url};
	for (int k = 0; k < 2; k++) {
		if (bench_watch_row(c, &p, k == 0 ? "watch-leader" : "watch-follower", where[k],
				    n / 5, k, lat, posted, arrived) != 0)
			return 1;
	}

	double load[3] = {0};
	FILE *f = fopen("/proc/loadavg", "r");
	if (f != NULL) {
		if (fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
			load[0] = -1;
		fclose(f);
	}
	printf("load average %.2f %.2f %.2f (the machine's other work shares the CPUs)\n",
	       load[0], load[1], load[2]);
	apic_free(c);
	free(lat);
	free(posted);
	free(arrived);
	return 0;
}
