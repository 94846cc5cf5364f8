/*
 * sluice-dp: the DPDK primary process of a node (docs/dp-config.md).
 *
 * Order matters: the application options and the config file are
 * validated before rte_eal_init(), so a bad config exits 2 without
 * touching hugepages; EAL, mempool or port failures exit 1. The main
 * lcore becomes the control thread (dp_control_loop), every other lcore
 * a worker. Only this file exits.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>

#include "config.h"
#include "ctl_apply.h"
#include "dp.h"

#define DP_EXIT_ENV 1
#define DP_EXIT_CONFIG 2

static volatile sig_atomic_t dp_main_stop;

static void dp_main_signal(int sig)
{
	(void)sig;
	dp_main_stop = 1;
}

static void dp_main_usage(FILE *out, const char *prg)
{
	fprintf(out,
		"usage: %s [EAL args] -- --config FILE [--idle-backoff-us N] [--check-config] [--help]\n"
		"\n"
		"sluice-dp options (after --):\n"
		"  --config FILE         JSON config (docs/dp-config.md); required\n"
		"  --check-config        validate the config, print \"config ok\", exit\n"
		"  --ctl PATH            take commands from sluice-ctrl over the ring segment\n"
		"                        at PATH (docs/ring-protocol.md)\n"
		"  --help                this text, then the EAL options\n",
		prg);
	/* options from the one table, also settable as "node".<name> in JSON */
	for (unsigned i = 0; i < dpcfg_n_opts; i++)
		if (dpcfg_opts[i].cli != NULL)
			fprintf(out, "  %s N%*s%s (%lld..%lld, default %lld; JSON node.%s)\n",
				dpcfg_opts[i].cli, (int)(20 - strlen(dpcfg_opts[i].cli)), "",
				dpcfg_opts[i].help, dpcfg_opts[i].min, dpcfg_opts[i].max,
				dpcfg_opts[i].dflt, dpcfg_opts[i].name);
	fprintf(out,
		"\n"
		"Multi-node (docs/multinode.md): a port {\"type\": \"uplink\", \"iface\": <NIC>}\n"
		"shared with the host (XDP steers only sluice traffic to dp), an \"uplink\"\n"
		"section {port, ip: the node's underlay IP, mode: direct|vxlan, vni} and\n"
		"routes {prefix, via: another node's underlay IP}.\n\n"
		"The first EAL lcore is the control thread, the others poll ports.\n"
		"Pass --no-pci and a unique --file-prefix; ports come from the config.\n"
		"Exit codes: 0 clean shutdown, 1 environment (EAL, hugepages, ports),\n"
		"2 usage or config.\n"
		"\n"
		"EAL options:\n");
}

struct dp_main_opts {
	const char *config;
	uint32_t backoff_us;
	int backoff_set;     /* CLI overrides node.idle_backoff_us */
	int check_only;
	int help;
	const char *ctl; /* --ctl PATH: ring segment for sluice-ctrl */
};

/* Parse the options after "--". Returns 0 or -EINVAL (message printed). */
static int dp_main_parse(int argc, char **argv, struct dp_main_opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "idle-backoff-us", required_argument, NULL, 'b' },
		{ "check-config", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ "ctl", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	const struct dpcfg_opt *bo = dpcfg_opt_find("--idle-backoff-us");

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			o->config = optarg;
			break;
		case 'b':
			if (dpcfg_opt_parse(bo, optarg, &o->backoff_us) != 0) {
				fprintf(stderr, "sluice-dp: %s: must be %lld..%lld\n", bo->cli, bo->min,
					bo->max);
				return -EINVAL;
			}
			o->backoff_set = 1;
			break;
		case 'k':
			o->check_only = 1;
			break;
		case 'h':
			o->help = 1;
			break;
		case 'C':
			o->ctl = optarg;
			break;
		default:
			fprintf(stderr, "sluice-dp: unknown option (try -- --help)\n");
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sluice-dp: unexpected argument \"%s\"\n", argv[optind]);
		return -EINVAL;
	}
	if (!o->help && o->config == NULL) {
		fprintf(stderr, "sluice-dp: --config FILE is required (try -- --help)\n");
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct dp_main_opts o = { 0 };
	char err[512];
	int sep = argc, rc;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			sep = i;
			break;
		}
	/* getopt needs argv[0] in front of the application options. */
	char **app = &argv[sep < argc ? sep : argc - 1];
	int app_argc = sep < argc ? argc - sep : 1;
	char *app0 = app[0];
	app[0] = argv[0];
	rc = dp_main_parse(app_argc, app, &o);
	app[0] = app0;
	if (rc != 0)
		return DP_EXIT_CONFIG;
	if (o.help) {
		dp_main_usage(stdout, argv[0]);
		fflush(stdout);
		char *eal_help[] = { argv[0], (char *)"--help", NULL };
		/* EAL prints its own options and exits 0. */
		rte_eal_init(2, eal_help);
		return 0;
	}

	struct dpcfg *cfg = dpcfg_load(o.config, err, sizeof(err));
	if (cfg == NULL) {
		fprintf(stderr, "sluice-dp: config: %s\n", err);
		return DP_EXIT_CONFIG;
	}
	if (o.check_only) {
		printf("config ok\n");
		dpcfg_free(cfg);
		return 0;
	}

	rc = rte_eal_init(sep, argv);
	if (rc < 0) {
		int e = rte_errno;
		fprintf(stderr, "sluice-dp: eal: init failed: %s%s\n",
			e ? rte_strerror(e) : "see the EAL lines above",
			e == ENOMEM && geteuid() != 0 ? " (not root: hugepages, AF_XDP and tap need root)" :
			e == ENOMEM ? " (no free hugepages? try --no-huge -m 512)" :
			e == EACCES ? " (run as root)" :
			e == EALREADY ? " (--file-prefix in use?)" : "");
		dpcfg_free(cfg);
		return DP_EXIT_ENV;
	}
	if (rte_lcore_count() < 2) {
		fprintf(stderr, "sluice-dp: eal: need a worker lcore besides the control lcore "
				"(e.g. -l 0,1)\n");
		dpcfg_free(cfg);
		rte_eal_cleanup();
		return DP_EXIT_CONFIG;
	}

	struct dp_params p = cfg->node;
	if (o.backoff_set)
		p.idle_backoff_us = o.backoff_us;
	struct dp *dp = dp_create(&p);
	if (dp == NULL) {
		fprintf(stderr, "sluice-dp: dataplane: %s (hugepage memory?)\n", strerror(errno));
		dpcfg_free(cfg);
		rte_eal_cleanup();
		return DP_EXIT_ENV;
	}
	rc = dp_apply_config(dp, cfg, err, sizeof(err));
	dpcfg_free(cfg);
	if (rc != 0) {
		fprintf(stderr, "sluice-dp: %s\n", err);
		dp_free(dp);
		rte_eal_cleanup();
		return DP_EXIT_ENV;
	}
	if (dp_telemetry_register(dp) != 0)
		fprintf(stderr, "sluice-dp: telemetry: registration failed; continuing\n");

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = dp_main_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	rc = dp_start(dp);
	if (rc != 0) {
		fprintf(stderr, "sluice-dp: workers: cannot launch: %s\n", strerror(-rc));
		dp_telemetry_unregister(dp);
		dp_free(dp);
		rte_eal_cleanup();
		return DP_EXIT_ENV;
	}
	fprintf(stderr, "sluice-dp: running, %u worker(s)\n", rte_lcore_count() - 1);
	struct ctl_apply_thread *ctl = NULL;
	if (o.ctl != NULL && (ctl = ctl_apply_start(dp, o.ctl)) == NULL) {
		fprintf(stderr, "sluice-dp: ctl: %s: %s\n", o.ctl, strerror(errno));
		rc = DP_EXIT_ENV;
		dp_main_stop = 1;
	}
	dp_control_loop(dp, &dp_main_stop);
	ctl_apply_stop(ctl);

	dp_stop(dp);
	uint64_t fwd = dp_forwarded(dp);
	dp_telemetry_unregister(dp);
	dp_free(dp);
	rte_eal_cleanup();
	fprintf(stderr, "sluice-dp: shutdown: %llu packets forwarded\n", (unsigned long long)fwd);
	return rc;
}
