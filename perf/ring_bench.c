/*
 * ring_bench: how many ring commands one dp control thread applies and
 * acknowledges per second.
 *
 * A producer thread plays sluice-ctrl (ringc: enqueue with backpressure,
 * drain ACKs) and the main thread plays dp's control thread (ctl_ring_poll
 * in a loop). Each figure is commands sent / (time from the first send to
 * the last ACK received), so it includes validation, apply and the ACK
 * round trip. Two apply back ends:
 *   fake  a flat array write per command: the ring and protocol machinery
 *         alone (no EAL).
 *   dp    the real dataplane's dp_pod_add/dp_pod_del and dp_route_add/del
 *         (RCU tables), through dp/ctl_apply.c, on an EAL with --no-huge and
 *         no workers, one memif server port (no peer needed).
 * Workloads: pod add/del churn over 4096 pods, and route add/del churn over
 * 1024 /24 prefixes. The machine load average is printed with the figures
 * because the box is shared.
 *
 * Reclamation: dp frees deleted table slots after an RCU grace period, in
 * its housekeeping (every 100 ms) and, when a free stack runs dry, on demand
 * inside the add itself (tables.c tbl_refill). reclaim_every=0 measures that
 * production path alone; reclaim_every=8 adds an explicit tbl_reclaim()
 * every 8 polls, for comparison.
 *
 * usage: ring_bench [fake|dp] [commands]   (default: both, 2000000)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>

#include <sluice/ring_proto.h>
#include <sluice/ring_shm.h>

#include "ctl_apply.h"
#include "ctl_ring.h"
#include "dp.h"
#include "dp_internal.h"
#include "ringc.h"
#include "tables.h"

#define BENCH_PODS 4096
#define BENCH_ROUTES 1024

static uint64_t fake_tab[65536];

static int fake_pod(void *d, const struct ring_pod *p, uint64_t g)
{
	(void)d;
	fake_tab[p->pod_id & 0xffff] = g;
	return 0;
}

static int fake_pod_del(void *d, const struct ring_pod_del *p)
{
	(void)d;
	fake_tab[p->pod_id & 0xffff] = 0;
	return 0;
}

static int fake_route(void *d, const struct ring_route *r, uint64_t g)
{
	(void)d;
	fake_tab[(r->prefix[1] << 8 | r->prefix[2]) & 0xffff] = g;
	return 0;
}

static int fake_route_del(void *d, const struct ring_route_del *r)
{
	(void)d;
	fake_tab[(r->prefix[1] << 8 | r->prefix[2]) & 0xffff] = 0;
	return 0;
}

static int fake_port(void *d, const struct ring_port *p, uint64_t g)
{
	(void)d;
	(void)p;
	(void)g;
	return 0;
}

static const struct ctl_ring_ops fake_ops = {
	.port_attach = fake_port,
	.pod_add = fake_pod,
	.pod_del = fake_pod_del,
	.route_add = fake_route,
	.route_del = fake_route_del,
};

struct producer {
	const char *seg;
	uint64_t count;		/* stop after this many commands (0 = use seconds) */
	int routes;		/* route churn; 2 = routes and pods alternating */
	double seconds;		/* stream mode: how long */
	double rate;		/* stream mode: commands per second, 0 = as fast as possible */
	double secs;
	uint64_t sent;
	uint64_t errors;
	int rc;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void quiet(void *d, const char *l)
{
	(void)d;
	(void)l;
}

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	struct ringc_params rp = {.path = p->seg, .timeout_ms = 30000, .log = quiet};
	struct ringc *rc = ringc_create(&rp, NULL, 0);
	struct ring_cmd c;
	char err[256];

	if (rc == NULL || !ringc_check(rc, NULL)) {
		p->rc = -1;
		return NULL;
	}
	/* The port pods and routes point at (memif server: no peer needed). */
	ring_cmd_init(&c, RING_CMD_PORT_ATTACH, 1, 1);
	c.u.port.port_id = 1;
	c.u.port.kind = RING_PORT_MEMIF;
	snprintf(c.u.port.name, sizeof(c.u.port.name), "bench0");
	snprintf(c.u.port.path, sizeof(c.u.port.path), "%s.memif", p->seg);
	if (ringc_send(rc, &c, err, sizeof(err)) != RINGC_OK ||
	    ringc_wait(rc, c.seq, NULL, NULL, err, sizeof(err)) != RINGC_OK) {
		fprintf(stderr, "ring_bench: port attach: %s\n", err);
		p->rc = -1;
		ringc_free(rc);
		return NULL;
	}
	double t0 = now_s();
	uint64_t i;
	for (i = 0; p->count == 0 || i < p->count; i++) {
		if (p->count == 0 && (i & 63) == 0) {
			double el = now_s() - t0;
			if (el >= p->seconds)
				break;
			/* Paced: sleep until this command is due. */
			while (p->rate > 0 && (double)i > el * p->rate) {
				struct timespec ts = {0, 200000};
				nanosleep(&ts, NULL);
				el = now_s() - t0;
			}
		}
		/* add k, then later delete k: every other command is a delete */
		int routes = p->routes == 2 ? (int)((i >> 1) & 1) : p->routes;
		uint32_t k = (uint32_t)((i / 2) % (routes ? BENCH_ROUTES : BENCH_PODS));
		int del = (int)(i & 1);
		if (p->routes == 2 && !routes)
			k %= 200; /* stream mode: pods 10.77.1.10-209 inside a /24 pod CIDR */
		if (!routes && !del) {
			ring_cmd_init(&c, RING_CMD_POD_ADD, 1, 1);
			c.u.pod.pod_id = k + 1;
			c.u.pod.port_id = 1;
			c.u.pod.family = RING_FAMILY_IPV4;
			memcpy(c.u.pod.mac, "\x02\x00\x00\x00\x00\x01", 6);
			c.u.pod.addr[0] = 10, c.u.pod.addr[1] = 77;
			c.u.pod.addr[2] = (uint8_t)(16 + k / 250), c.u.pod.addr[3] = (uint8_t)(2 + k % 250);
			if (p->routes == 2)
				c.u.pod.addr[2] = 1, c.u.pod.addr[3] = (uint8_t)(10 + k);
		} else if (!routes) {
			ring_cmd_init(&c, RING_CMD_POD_DEL, 1, 1);
			c.u.pod_del.pod_id = k + 1;
			c.u.pod_del.family = RING_FAMILY_IPV4;
			c.u.pod_del.addr[0] = 10, c.u.pod_del.addr[1] = 77;
			c.u.pod_del.addr[2] = (uint8_t)(16 + k / 250), c.u.pod_del.addr[3] = (uint8_t)(2 + k % 250);
			if (p->routes == 2)
				c.u.pod_del.addr[2] = 1, c.u.pod_del.addr[3] = (uint8_t)(10 + k);
		} else if (!del) {
			ring_cmd_init(&c, RING_CMD_ROUTE_ADD, 1, 1);
			c.u.route.family = RING_FAMILY_IPV4;
			c.u.route.prefix_len = 24;
			c.u.route.node_id = 2;
			c.u.route.port_id = 1;
			c.u.route.prefix[0] = 10, c.u.route.prefix[1] = (uint8_t)(100 + (k >> 8));
			c.u.route.prefix[2] = (uint8_t)k;
			memcpy(c.u.route.nh_mac, "\x02\x00\x00\x00\x00\x09", 6);
		} else {
			ring_cmd_init(&c, RING_CMD_ROUTE_DEL, 1, 1);
			c.u.route_del.family = RING_FAMILY_IPV4;
			c.u.route_del.prefix_len = 24;
			c.u.route_del.prefix[0] = 10, c.u.route_del.prefix[1] = (uint8_t)(100 + (k >> 8));
			c.u.route_del.prefix[2] = (uint8_t)k;
		}
		if (ringc_send(rc, &c, err, sizeof(err)) != RINGC_OK) {
			fprintf(stderr, "ring_bench: send: %s\n", err);
			p->rc = -1;
			ringc_free(rc);
			return NULL;
		}
		if ((i & 255) == 0)
			ringc_drain(rc);
	}
	p->sent = i;
	int r = i ? ringc_wait(rc, c.seq, NULL, NULL, err, sizeof(err)) : RINGC_OK;
	p->secs = now_s() - t0;
	struct ringc_stats st;
	ringc_get_stats(rc, &st);
	p->errors = st.ack_errors;
	p->rc = r == RINGC_OK || r == RINGC_DPERR ? 0 : -1;
	ringc_free(rc);
	return NULL;
}

static volatile int producer_done;

static void *producer_thread(void *arg)
{
	producer_main(arg);
	__atomic_store_n(&producer_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static struct dp *bench_dp;
static unsigned reclaim_every;

static int run(const char *mode, const struct ctl_ring_ops *ops, void *ops_data, uint64_t count,
	       int routes)
{
	char seg[128];
	struct producer p = {.seg = seg, .count = count, .routes = routes};
	pthread_t th;

	snprintf(seg, sizeof(seg), "/tmp/sluice-ring-bench.%d", (int)getpid());
	struct ctl_ring_params cp = {.path = seg, .ops = ops, .ops_data = ops_data, .log = quiet};
	struct ctl_ring *ctl = ctl_ring_create(&cp);
	if (ctl == NULL) {
		fprintf(stderr, "ring_bench: segment: %s\n", strerror(errno));
		return -1;
	}
	producer_done = 0;
	pthread_create(&th, NULL, producer_thread, &p);
	uint64_t polls = 0, empty = 0;
	while (!__atomic_load_n(&producer_done, __ATOMIC_ACQUIRE)) {
		polls++;
		if (ctl_ring_poll(ctl) == 0)
			empty++;
		if (bench_dp != NULL && reclaim_every && polls % reclaim_every == 0) {
			pthread_mutex_lock(&bench_dp->lock);
			tbl_reclaim(bench_dp->tbl);
			pthread_mutex_unlock(&bench_dp->lock);
		}
	}
	pthread_join(th, NULL);
	struct ctl_ring_stats st;
	ctl_ring_get_stats(ctl, &st);
	ctl_ring_free(ctl);
	if (p.rc != 0) {
		fprintf(stderr, "ring_bench: %s run failed\n", mode);
		return -1;
	}
	double load[3] = {0};
	FILE *f = fopen("/proc/loadavg", "r");
	if (f != NULL) {
		if (fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
			load[0] = -1;
		fclose(f);
	}
	printf("ring_bench: apply=%-4s workload=%-12s reclaim_every=%u commands=%llu applied=%llu failed=%llu "
	       "time=%.3f s rate=%.2f M cmd/s (applied+acked) polls=%llu empty=%llu loadavg=%.2f\n",
	       mode, routes ? "route-churn" : "pod-churn", reclaim_every, (unsigned long long)count,
	       (unsigned long long)st.applied, (unsigned long long)st.failed, p.secs,
	       (double)count / p.secs / 1e6, (unsigned long long)polls, (unsigned long long)empty,
	       load[0]);
	return st.failed == 0 ? 0 : -1; /* every command must be applied */
}

/*
 * ring_bench stream SEGMENT SECONDS RATE: be sluice-ctrl for a running
 * sluice-dp --ctl SEGMENT and stream route and pod add/del churn at RATE
 * commands/s (0 = flat out) for SECONDS; perf/ring_fwd_bench.sh measures
 * forwarding meanwhile. Attaches its own memif server port for the churn.
 */
static int stream_main(const char *seg, double seconds, double rate)
{
	struct producer p = {.seg = seg, .routes = 2, .seconds = seconds, .rate = rate};

	producer_main(&p);
	if (p.rc != 0)
		return 1;
	printf("ring_bench: stream commands=%llu time=%.2f s rate=%.0f cmd/s refused=%llu "
	       "(dp -ENOSPC etc.) target=%.0f\n",
	       (unsigned long long)p.sent, p.secs, (double)p.sent / p.secs,
	       (unsigned long long)p.errors, rate);
	return 0;
}

int main(int argc, char **argv)
{
	const char *which = argc > 1 ? argv[1] : "both";

	if (strcmp(which, "stream") == 0) {
		if (argc != 5) {
			fprintf(stderr, "usage: ring_bench stream SEGMENT SECONDS RATE\n");
			return 2;
		}
		setvbuf(stdout, NULL, _IOLBF, 0);
		return stream_main(argv[2], atof(argv[3]), atof(argv[4]));
	}
	uint64_t count = argc > 2 ? strtoull(argv[2], NULL, 10) : 2000000;
	int rc = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(which, "fake") == 0 || strcmp(which, "both") == 0) {
		rc |= run("fake", &fake_ops, NULL, count, 0);
		rc |= run("fake", &fake_ops, NULL, count, 1);
	}
	if (strcmp(which, "dp") == 0 || strcmp(which, "both") == 0) {
		char prefix[64];
		snprintf(prefix, sizeof(prefix), "--file-prefix=ringbench%d", (int)getpid());
		char *eal[] = {argv[0], (char *)"-l", (char *)"0", (char *)"--no-huge", (char *)"-m",
			       (char *)"512", (char *)"--no-pci", (char *)"--no-shconf", (char *)"--no-telemetry", prefix,
			       (char *)"--log-level=*:error", NULL};
		if (rte_eal_init(11, eal) < 0) {
			fprintf(stderr, "ring_bench: EAL init failed (root needed); skipping dp mode\n");
			return rc ? 1 : 77;
		}
		struct dp_params dpp = {
			.pod_net = htonl(0x0a4d0000), /* 10.77.0.0/16 */
			.pod_depth = 16,
			.gateway_ip = htonl(0x0a4d0001),
			.gateway_mac = {0x02, 0, 0, 0, 0, 0x01},
		};
		struct dp *dp = dp_create(&dpp);
		struct ctl_apply *ca = dp ? ctl_apply_create(dp) : NULL;
		if (ca == NULL) {
			fprintf(stderr, "ring_bench: dp_create: %s\n", strerror(errno));
			return 1;
		}
		bench_dp = dp;
		/* No explicit reclaim: only dp's on-demand refill. */
		reclaim_every = 0;
		(void)run("dp", &ctl_apply_ops, ca, count, 0);
		pthread_mutex_lock(&dp->lock);
		tbl_reclaim(dp->tbl);
		pthread_mutex_unlock(&dp->lock);
		reclaim_every = 8;
		rc |= run("dp", &ctl_apply_ops, ca, count, 0);
		rc |= run("dp", &ctl_apply_ops, ca, count, 1);
		ctl_apply_free(ca);
		dp_free(dp);
		/* EAL leaves its (empty, --no-shconf) runtime dir behind */
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s", rte_eal_get_runtime_dir());
		rte_eal_cleanup();
		rmdir(dir);
	}
	return rc ? 1 : 0;
}
