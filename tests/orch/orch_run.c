/*
 * orch_run: the scheduler and controllers as a standalone process, for the
 * integration tests (tests/orch/orch_cluster.sh) and the end-to-end
 * benchmark. It runs the same library a master runs (orch.h) against any
 * API endpoint, always acting as leader unless --leader-file is given
 * (then it leads while that file exists), so two of them side by side are
 * two competing schedulers. On SIGTERM/SIGINT it stops and prints its
 * counters as one JSON line on stdout.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "orch.h"

static volatile sig_atomic_t orch_run_stop;

static void orch_run_sig(int sig)
{
	(void)sig;
	orch_run_stop = 1;
}

static bool orch_run_leader(void *arg)
{
	const char *file = arg;
	return file == NULL || access(file, F_OK) == 0;
}

static void orch_run_log(void *data, const char *line)
{
	(void)data;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(stderr, "%ld.%03ld %s\n", (long)ts.tv_sec, ts.tv_nsec / 1000000, line);
}

static void orch_run_usage(FILE *f)
{
	fprintf(f,
		"usage: orch_run --config FILE [options]\n"
		"Run the sluice scheduler and controllers against an API (docs/orch.md).\n"
		"  --config FILE         apic client config (servers, ca, cert, key)\n"
		"  --name NAME           log prefix (default orch)\n"
		"  --leader-file PATH    lead only while PATH exists (default: always)\n"
		"  --cluster-cidr CIDR   default 10.244.0.0/16\n"
		"  --node-cidr-bits N    default 24\n"
		"  --grace S             node lease grace period (default 40)\n"
		"  --evict-timeout S     NotReady time before eviction (default 300)\n"
		"  --evict-rate R        nodes evicted per second (default 0.1)\n"
		"  -h, --help            this text\n"
		"Prints its counters as JSON on stdout when stopped (SIGTERM).\n");
}

static int orch_run_uint(const char *flag, const char *v, unsigned long max, unsigned *out)
{
	char *end;
	unsigned long x = strtoul(v, &end, 10);
	if (*v == 0 || *end != 0 || x > max) {
		fprintf(stderr, "orch_run: %s: want an integer 0..%lu, got \"%s\"\n", flag, max, v);
		return -1;
	}
	*out = (unsigned)x;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"name", required_argument, NULL, 'n'},
		{"leader-file", required_argument, NULL, 'l'},
		{"cluster-cidr", required_argument, NULL, 'C'},
		{"node-cidr-bits", required_argument, NULL, 'b'},
		{"grace", required_argument, NULL, 'g'},
		{"evict-timeout", required_argument, NULL, 't'},
		{"evict-rate", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *config = NULL, *leader_file = NULL;
	struct orch_params p = {0};
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'n': p.name = optarg; break;
		case 'l': leader_file = optarg; break;
		case 'C': p.cluster_cidr = optarg; break;
		case 'b':
			if (orch_run_uint("--node-cidr-bits", optarg, 30, &p.node_cidr_bits) < 0)
				return 2;
			break;
		case 'g':
			if (orch_run_uint("--grace", optarg, 86400, &p.node_grace_s) < 0)
				return 2;
			break;
		case 't':
			if (orch_run_uint("--evict-timeout", optarg, 86400, &p.evict_timeout_s) < 0)
				return 2;
			break;
		case 'r': {
			char *end;
			p.evict_rate = strtod(optarg, &end);
			if (*optarg == 0 || *end != 0 || !(p.evict_rate > 0)) {
				fprintf(stderr, "orch_run: --evict-rate: want a positive number\n");
				return 2;
			}
			break;
		}
		case 'h': orch_run_usage(stdout); return 0;
		default: orch_run_usage(stderr); return 2;
		}
	}
	if (config == NULL) {
		fprintf(stderr, "orch_run: --config is required (see --help)\n");
		return 2;
	}
	struct apic_config cfg;
	char err[APIC_ERRMSG_SIZE];
	if (apic_config_load(config, &cfg, err, sizeof(err)) != APIC_OK) {
		fprintf(stderr, "orch_run: %s\n", err);
		return 1;
	}
	apic_config_params(&cfg, &p.api);
	if (leader_file) {
		p.is_leader = orch_run_leader;
		p.leader_arg = (void *)leader_file;
	}
	p.log = orch_run_log;
	struct sigaction sa = {.sa_handler = orch_run_sig};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	struct orch *o = orch_start(&p, err, sizeof(err));
	if (o == NULL) {
		fprintf(stderr, "orch_run: %s\n", err);
		return 1;
	}
	while (!orch_run_stop) {
		struct timespec ts = {0, 100 * 1000000L};
		nanosleep(&ts, NULL);
	}
	struct orch_stats st;
	orch_get_stats(o, &st);
	orch_stop(o);
	printf("{\"bound\":%llu,\"bind_conflicts\":%llu,\"unschedulable\":%llu,"
	       "\"pods_created\":%llu,\"pods_deleted\":%llu,\"evicted_pods\":%llu,"
	       "\"cidrs_assigned\":%llu,\"endpoints_writes\":%llu,\"terms\":%llu}\n",
	       st.bound, st.bind_conflicts, st.unschedulable, st.pods_created, st.pods_deleted,
	       st.evicted_pods, st.cidrs_assigned, st.endpoints_writes, st.terms);
	return 0;
}
