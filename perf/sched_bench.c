/*
 * sched_bench: scheduler throughput with simulated nodes (docs/orch.md).
 *
 *   sched_bench pure [NODES] [PODS]
 *       The pure scheduler (ctrl/ctlr_sched.h) in process: NODES Ready
 *       nodes (default 1000; a tenth labelled disk=ssd, a twentieth
 *       tainted), PODS pods (default 10,000) from 100 Deployments (owner
 *       uids) with cpu/memory requests, some with a nodeSelector or a
 *       toleration. Each pod is decided then accounted as bound, as orch
 *       does. Prints pods/s, p50/p99/max decision latency, and the memory
 *       per Node: in the scheduler's snapshot, and as a cached API object
 *       (the informer keeps the JSON; measured with mallinfo2).
 *
 *   sched_bench e2e --config FILE [--nodes N] [--pods N] [--batch N]
 *       End to end through a real API (a master started with
 *       --no-controllers, so only this process schedules): creates N Node
 *       objects with fresh Leases as fake agents, starts orch in process
 *       (orch.h, always leader), creates the pods in batches and watches
 *       them; the latency of a pod is from just before its create request
 *       to the watch event that shows it bound. Prints pods/s and p50/p99.
 *       tests/orch/sched_e2e.sh starts the master(s) and runs this.
 *
 * Figures go to stdout, one "sched_bench: ..." line each.
 */
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "apic.h"
#include "ctlr_sched.h"
#include "ctlr_util.h"
#include "orch.h"

static double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* This thread's CPU time: decision latency without the preemptions of a
 * loaded machine (the wall figure keeps them). */
static double bench_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bench_dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double bench_pct(double *v, size_t n, double p)
{
	if (n == 0)
		return 0;
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static const char *bench_load(void)
{
	static char buf[64];
	FILE *f = fopen("/proc/loadavg", "r");
	buf[0] = 0;
	if (f) {
		if (fgets(buf, sizeof(buf), f) == NULL)
			buf[0] = 0;
		fclose(f);
	}
	char *sp = strchr(buf, ' ');
	if (sp)
		*sp = 0; /* the 1-minute figure */
	return buf;
}

static json_t *bench_node(unsigned i, bool with_status)
{
	char name[32];
	snprintf(name, sizeof(name), "node-%04u", i);
	json_t *n = json_pack(
		"{s:s, s:s, s:{s:s, s:{s:s, s:s, s:s}}, s:{}}", "apiVersion", "v1", "kind", "Node",
		"metadata", "name", name, "labels", "kubernetes.io/hostname", name, "disk",
		i % 10 == 0 ? "ssd" : "hdd", "zone", i % 3 == 0 ? "a" : i % 3 == 1 ? "b" : "c",
		"spec");
	if (i % 20 == 7)
		json_object_set_new(json_object_get(n, "spec"), "taints",
				    json_pack("[{s:s, s:s, s:s}]", "key", "dedicated", "value",
					      "batch", "effect", "NoSchedule"));
	if (with_status)
		json_object_set_new(
			n, "status",
			json_pack("{s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s},"
				  " s:[{s:s, s:s, s:s, s:s}], s:[{s:s, s:s}]}",
				  "capacity", "cpu", "32", "memory", "128Gi", "pods", "110",
				  "hugepages-2Mi", "1Gi", "allocatable", "cpu", "31500m", "memory",
				  "126Gi", "pods", "110", "hugepages-2Mi", "1Gi", "conditions", "type",
				  "Ready", "status", "True", "reason", "KubeletReady",
				  "lastTransitionTime", "2026-01-01T00:00:00Z", "addresses", "type",
				  "InternalIP", "address", "10.0.0.1"));
	return n;
}

static json_t *bench_pod(unsigned i, const char *ns)
{
	char name[32], uid[48], dep[32];
	snprintf(name, sizeof(name), "pod-%05u", i);
	snprintf(dep, sizeof(dep), "dep-%02u", i % 100);
	snprintf(uid, sizeof(uid), "00000000-0000-0000-0000-0000000000%02u", i % 100);
	json_t *p = json_pack(
		"{s:s, s:s, s:{s:s, s:s, s:{s:s}, s:[{s:s, s:s, s:s, s:s, s:b}]},"
		" s:{s:[{s:s, s:s, s:{s:{s:s, s:s}}}]}}",
		"apiVersion", "v1", "kind", "Pod", "metadata", "name", name, "namespace", ns,
		"labels", "app", dep, "ownerReferences", "apiVersion", "apps/v1", "kind",
		"Deployment", "name", dep, "uid", uid, "controller", 1, "spec", "containers", "name",
		"c", "image", "busybox", "resources", "requests", "cpu", i % 4 ? "250m" : "1",
		"memory", i % 3 ? "256Mi" : "1Gi");
	json_t *spec = json_object_get(p, "spec");
	if (i % 10 == 3)
		json_object_set_new(spec, "nodeSelector", json_pack("{s:s}", "disk", "ssd"));
	if (i % 10 == 5)
		json_object_set_new(spec, "tolerations",
				    json_pack("[{s:s, s:s, s:s}]", "key", "dedicated", "operator",
					      "Exists", "effect", "NoSchedule"));
	return p;
}

/* ------------------------------------------------------------ pure */

static int bench_pure(unsigned nodes, unsigned pods)
{
	struct sched *s = sched_create(NULL);
	if (s == NULL)
		return 1;
	char err[256];
	/* Memory of the informer's cache per Node (the JSON kept per key). */
	struct mallinfo2 m0 = mallinfo2();
	json_t *cache = json_object();
	for (unsigned i = 0; i < nodes; i++) {
		json_t *n = bench_node(i, true);
		json_object_set_new(cache, json_string_value(json_object_get(
						   json_object_get(n, "metadata"), "name")),
				    n);
	}
	struct mallinfo2 m1 = mallinfo2();
	const char *k;
	json_t *n;
	size_t json_bytes = 0;
	json_object_foreach(cache, k, n) {
		if (sched_node_set(s, n, err, sizeof(err)) != SCHED_OK) {
			fprintf(stderr, "sched_bench: %s\n", err);
			return 1;
		}
		char *d = json_dumps(n, JSON_COMPACT);
		json_bytes += strlen(d);
		free(d);
	}
	struct mallinfo2 m2 = mallinfo2();
	double *lat = calloc(pods, sizeof(*lat));
	double *cpu = calloc(pods, sizeof(*cpu));
	json_t **objs = calloc(pods, sizeof(*objs));
	for (unsigned i = 0; i < pods; i++)
		objs[i] = bench_pod(i, "default");
	unsigned bound = 0, failed = 0;
	double t0 = bench_now();
	for (unsigned i = 0; i < pods; i++) {
		struct sched_result r;
		double a = bench_now(), ac = bench_cpu();
		if (sched_pick(s, objs[i], &r, err, sizeof(err)) != SCHED_OK) {
			fprintf(stderr, "sched_bench: %s\n", err);
			return 1;
		}
		if (r.node[0]) {
			char key[64];
			snprintf(key, sizeof(key), "default/pod-%05u", i);
			sched_pod_set(s, key, objs[i], r.node, NULL, 0);
			bound++;
		} else {
			failed++;
		}
		lat[i] = bench_now() - a;
		cpu[i] = bench_cpu() - ac;
	}
	double el = bench_now() - t0;
	qsort(lat, pods, sizeof(*lat), bench_dcmp);
	qsort(cpu, pods, sizeof(*cpu), bench_dcmp);
	printf("sched_bench: pure scheduler, %u nodes, %u pods (100 owners, 10%% nodeSelector, "
	       "10%% tolerations, 5%% tainted nodes): %u bound, %u unschedulable\n",
	       nodes, pods, bound, failed);
	printf("sched_bench: pure: %.0f pods/s; decision+accounting latency p50 %.1f us, "
	       "p99 %.1f us, max %.1f us\n",
	       pods / el, bench_pct(lat, pods, 0.5) * 1e6, bench_pct(lat, pods, 0.99) * 1e6,
	       lat[pods - 1] * 1e6);
	printf("sched_bench: pure: CPU time per decision+accounting p50 %.1f us, p99 %.1f us "
	       "(load average %s)\n",
	       bench_pct(cpu, pods, 0.5) * 1e6, bench_pct(cpu, pods, 0.99) * 1e6, bench_load());
	printf("sched_bench: memory per Node: %zu B in the scheduler snapshot (%zu B by "
	       "mallinfo2); %zu B as cached JSON (mallinfo2; %zu B serialized)\n",
	       sched_node_bytes(s) / nodes, (m2.uordblks - m1.uordblks) / nodes,
	       (m1.uordblks - m0.uordblks) / nodes, json_bytes / nodes);
	for (unsigned i = 0; i < pods; i++)
		json_decref(objs[i]);
	free(objs);
	free(lat);
	free(cpu);
	json_decref(cache);
	sched_free(s);
	return 0;
}

/* ------------------------------------------------------------ e2e */

struct bench_e2e {
	double *created; /* per pod, monotonic seconds; 0 = not yet */
	double *bound;
	unsigned pods, batch;
	unsigned n_bound;   /* watch thread */
	unsigned next;      /* creators: next pod index (atomic) */
	volatile int stop, failed;
	struct apic_params *ap;
};

static bool bench_watch_cb(void *arg, const char *type, json_t *obj)
{
	struct bench_e2e *b = arg;
	if (strcmp(type, "ADDED") != 0 && strcmp(type, "MODIFIED") != 0)
		return true;
	unsigned i;
	if (ctlr_pod_node(obj) == NULL || sscanf(ctlr_name(obj), "pod-%u", &i) != 1 ||
	    i >= b->pods || b->bound[i] != 0)
		return true;
	b->bound[i] = bench_now();
	__atomic_add_fetch(&b->n_bound, 1, __ATOMIC_RELEASE);
	return b->n_bound < b->pods;
}

static void *bench_watch_main(void *arg)
{
	struct bench_e2e *b = arg;
	char err[APIC_ERRMSG_SIZE];
	struct apic *c = apic_create(b->ap, err, sizeof(err));
	if (c == NULL)
		return NULL;
	while (!b->stop && b->n_bound < b->pods) {
		long st;
		apic_watch(c, "/api/v1/namespaces/bench/pods?watch=1", bench_watch_cb, b, &b->stop,
			   &st, err, sizeof(err));
	}
	apic_free(c);
	return NULL;
}

static int bench_must(struct apic *c, const char *method, const char *path, json_t *body,
		      long want);

/* Creators: several in parallel, as many clients would; each keeps the
 * pods created but not yet bound under the batch size, so the figure is
 * the scheduler's rate and not a queue's growth. */
static void *bench_create_main(void *arg)
{
	struct bench_e2e *b = arg;
	char err[APIC_ERRMSG_SIZE];
	struct apic *c = apic_create(b->ap, err, sizeof(err));
	if (c == NULL) {
		b->failed = 1;
		return NULL;
	}
	for (;;) {
		unsigned i = __atomic_fetch_add(&b->next, 1, __ATOMIC_RELAXED);
		if (i >= b->pods || b->failed)
			break;
		while (b->batch && i >= __atomic_load_n(&b->n_bound, __ATOMIC_ACQUIRE) + b->batch &&
		       !b->stop)
			nanosleep(&(struct timespec){0, 500000L}, NULL);
		json_t *p = bench_pod(i, "bench");
		json_object_del(json_object_get(p, "metadata"), "ownerReferences");
		b->created[i] = bench_now();
		if (bench_must(c, "POST", "/api/v1/namespaces/bench/pods", p, 201) < 0)
			b->failed = 1;
		json_decref(p);
	}
	apic_free(c);
	return NULL;
}

static void bench_orch_log(void *data, const char *line)
{
	(void)data;
	/* One line per node assigned a CIDR is noise at 1000 nodes. */
	if (strstr(line, "spec.podCIDR") == NULL)
		fprintf(stderr, "sched_bench: %s\n", line);
}

static int bench_must(struct apic *c, const char *method, const char *path, json_t *body,
		      long want)
{
	struct apic_resp r;
	int rc = apic_request(c, method, path, body, &r);
	int ok = rc == APIC_OK && (r.status == want || (want == 201 && r.status == 409));
	if (!ok)
		fprintf(stderr, "sched_bench: %s %s: HTTP %ld %s\n", method, path, r.status,
			r.errmsg);
	apic_resp_clear(&r);
	return ok ? 0 : -1;
}

/* Bytes of a base64 string once decoded. */
static size_t bench_b64_len(const char *b)
{
	size_t n = b ? strlen(b) : 0;
	size_t pad = (size_t)(n > 0 && b[n - 1] == '=') + (size_t)(n > 1 && b[n - 2] == '=');
	return n / 4 * 3 - pad;
}

/* Mean key + value bytes the store holds per key in [key, end) (base64),
 * read through the etcd-shaped gateway; 0 if unavailable. */
static double bench_store_bytes(struct apic *c, const char *key, const char *end, size_t *n)
{
	json_t *q = json_pack("{s:s, s:s}", "key", key, "range_end", end);
	struct apic_resp r;
	double total = 0;
	*n = 0;
	if (apic_request(c, "POST", "/v3/kv/range", q, &r) == APIC_OK && r.status == 200) {
		size_t i;
		json_t *kv;
		json_array_foreach(json_object_get(r.body, "kvs"), i, kv) {
			total += (double)(bench_b64_len(json_string_value(json_object_get(kv, "key"))) +
					  bench_b64_len(json_string_value(json_object_get(kv, "value"))));
			(*n)++;
		}
	}
	apic_resp_clear(&r);
	json_decref(q);
	return *n ? total / (double)*n : 0;
}

static int bench_e2e(const char *config, unsigned nodes, unsigned pods, unsigned batch)
{
	struct apic_config cfg;
	struct apic_params ap = {0};
	char err[APIC_ERRMSG_SIZE];
	if (apic_config_load(config, &cfg, err, sizeof(err)) != APIC_OK) {
		fprintf(stderr, "sched_bench: %s\n", err);
		return 1;
	}
	apic_config_params(&cfg, &ap);
	struct apic *c = apic_create(&ap, err, sizeof(err));
	if (c == NULL) {
		fprintf(stderr, "sched_bench: %s\n", err);
		return 1;
	}
	char now[40];
	double t0 = bench_now();
	for (unsigned i = 0; i < nodes; i++) {
		json_t *n = bench_node(i, true);
		if (bench_must(c, "POST", "/api/v1/nodes", n, 201) < 0)
			return 1;
		ctlr_time_format(ctlr_now_us(), now, sizeof(now));
		json_t *l = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:i}}", "apiVersion",
				      "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name",
				      ctlr_name(n), "namespace", "sluice-node-lease", "spec",
				      "holderIdentity", ctlr_name(n), "renewTime", now,
				      "leaseDurationSeconds", 40);
		if (bench_must(c, "POST",
			       "/apis/coordination.k8s.io/v1/namespaces/sluice-node-lease/leases", l,
			       201) < 0)
			return 1;
		json_decref(n);
		json_decref(l);
	}
	printf("sched_bench: e2e: %u Node objects and Leases created in %.2f s\n", nodes,
	       bench_now() - t0);

	struct bench_e2e b = {.pods = pods, .batch = batch, .ap = &ap};
	b.created = calloc(pods, sizeof(double));
	b.bound = calloc(pods, sizeof(double));
	pthread_t wt, ct[4];
	pthread_create(&wt, NULL, bench_watch_main, &b);

	/* A /12 holds 4096 /24s: one per node up to that. */
	struct orch_params op = {.api = ap, .name = "bench-orch", .node_grace_s = 3600,
				 .cluster_cidr = "10.0.0.0/12", .log = bench_orch_log};
	struct orch *o = orch_start(&op, err, sizeof(err));
	if (o == NULL) {
		fprintf(stderr, "sched_bench: %s\n", err);
		return 1;
	}
	/* Let the controllers list the nodes and assign CIDRs before timing. */
	struct timespec ts = {3, 0};
	nanosleep(&ts, NULL);
	size_t nn, nl;
	double bn = bench_store_bytes(c, "L3JlZ2lzdHJ5L25vZGVzLw==", "L3JlZ2lzdHJ5L25vZGVzMA==", &nn);
	double bl = bench_store_bytes(c, "L3JlZ2lzdHJ5L2xlYXNlcy9zbHVpY2Utbm9kZS1sZWFzZS8=",
				      "L3JlZ2lzdHJ5L2xlYXNlcy9zbHVpY2Utbm9kZS1sZWFzZTA=", &nl);
	printf("sched_bench: store: %.0f B per Node object (key + JSON value, %zu nodes, podCIDR "
	       "assigned), %.0f B per node Lease; the store adds 64 B of accounting per "
	       "revision\n",
	       bn, nn, bl);
	double start = bench_now();
	for (int t = 0; t < 4; t++)
		pthread_create(&ct[t], NULL, bench_create_main, &b);
	for (int t = 0; t < 4; t++)
		pthread_join(ct[t], NULL);
	while (__atomic_load_n(&b.n_bound, __ATOMIC_ACQUIRE) < pods && !b.failed &&
	       bench_now() - start < 600)
		nanosleep(&(struct timespec){0, 10000000L}, NULL);
	double el = bench_now() - start;
	b.stop = 1;
	pthread_join(wt, NULL);
	struct orch_stats st;
	orch_get_stats(o, &st);
	orch_stop(o);
	double *lat = calloc(pods, sizeof(double));
	unsigned n = 0;
	for (unsigned i = 0; i < pods; i++)
		if (b.bound[i] > 0)
			lat[n++] = b.bound[i] - b.created[i];
	qsort(lat, n, sizeof(double), bench_dcmp);
	printf("sched_bench: e2e through %s (%zu endpoint(s)): %u nodes, %u/%u pods bound in "
	       "%.2f s: %.0f pods/s (4 creators, at most %u pods created and not yet bound); "
	       "create->bound p50 %.1f ms, p99 %.1f ms; bindings %llu, conflicts %llu\n",
	       ap.servers[0], ap.n_servers, nodes, n, pods, el, n / el, batch,
	       bench_pct(lat, n, 0.5) * 1e3, bench_pct(lat, n, 0.99) * 1e3, st.bound,
	       st.bind_conflicts);
	free(lat);
	free(b.created);
	free(b.bound);
	apic_free(c);
	return n == pods ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		printf("usage: sched_bench pure [NODES [PODS]]\n"
		       "       sched_bench e2e --config FILE [--nodes N] [--pods N] [--batch N]\n"
		       "Scheduler throughput with simulated nodes; see the comment atop "
		       "perf/sched_bench.c.\n");
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "pure") == 0) {
		unsigned long nodes = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000;
		unsigned long pods = argc > 3 ? strtoul(argv[3], NULL, 10) : 10000;
		if (nodes == 0 || nodes > 100000 || pods == 0 || pods > 1000000) {
			fprintf(stderr, "sched_bench: NODES 1..100000, PODS 1..1000000\n");
			return 2;
		}
		return bench_pure((unsigned)nodes, (unsigned)pods);
	}
	if (strcmp(argv[1], "e2e") == 0) {
		static const struct option opts[] = {
			{"config", required_argument, NULL, 'c'},
			{"nodes", required_argument, NULL, 'n'},
			{"pods", required_argument, NULL, 'p'},
			{"batch", required_argument, NULL, 'b'},
			{NULL, 0, NULL, 0},
		};
		const char *config = NULL;
		unsigned long nodes = 1000, pods = 10000, batch = 200;
		int ch;
		optind = 2;
		while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
			switch (ch) {
			case 'c': config = optarg; break;
			case 'n': nodes = strtoul(optarg, NULL, 10); break;
			case 'p': pods = strtoul(optarg, NULL, 10); break;
			case 'b': batch = strtoul(optarg, NULL, 10); break;
			default: return 2;
			}
		}
		if (config == NULL || nodes == 0 || nodes > 100000 || pods == 0 ||
		    pods > 1000000 || batch > 1000000) {
			fprintf(stderr, "sched_bench e2e: --config is required; --nodes 1..100000, "
					"--pods 1..1000000\n");
			return 2;
		}
		return bench_e2e(config, (unsigned)nodes, (unsigned)pods, (unsigned)batch);
	}
	fprintf(stderr, "sched_bench: unknown mode \"%s\" (pure or e2e)\n", argv[1]);
	return 2;
}
