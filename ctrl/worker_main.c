/*
 * sluice-ctrl --role=worker: the node agent. It holds the node's desired state (ctrl/agent.c), serves
 * local requests on a nanomsg socket (ctrl/ipc.c) and keeps sluice-dp in
 * line over the shared-memory rings (ctrl/ringc.c), replaying everything
 * whenever a new dp incarnation appears or ctrl itself restarts.
 *
 * The loop is a poll() on the request socket with a short timeout; each
 * turn also looks at the segment (a couple of syscalls), so a dead or new
 * dp is noticed within one period. dp never waits for ctrl: if ctrl dies,
 * forwarding continues headless, which is why nothing here needs a
 * shutdown handshake with dp.
 *
 * `--call JSON` is the thin client the tests and scripts use: it sends one
 * request to a running agent and prints the reply.
 *
 * `--api-config FILE` adds the cluster side (ctrl/agent_node.h): threads
 * that talk to the masters and run pods, whose changes to the agent reach
 * this loop as calls on an eventfd it polls next to the IPC socket. Without
 * it the agent is exactly the standalone node agent.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>

#include <sluice/ring_shm.h>

#include "agent.h"
#include "agent_cni.h"
#include "agent_node.h"
#include "ipc.h"
#include "ringc.h"
#include "roles.h"
#include "runtime_netns.h"

#define CTRL_DEFAULT_STATE "/var/lib/sluice/agent.json"
#define CTRL_TICK_MS 10
#define CTRL_DEFAULT_CNI_STATE "/var/lib/sluice/cni"
#define CTRL_PENDING_EVERY_MS 10000

static volatile sig_atomic_t ctrl_stop;

static void ctrl_on_signal(int sig)
{
	(void)sig;
	ctrl_stop = 1;
}

static void ctrl_log(void *data, const char *line)
{
	struct timespec ts;
	struct tm tm;

	(void)data;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	fprintf(stderr, "%02d:%02d:%02d.%03ld sluice-ctrl[%d]: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
		ts.tv_nsec / 1000000, (int)getpid(), line);
}

static void ctrl_usage(FILE *f)
{
	fprintf(f,
		"usage: sluice-ctrl --role=worker [options]   run the node agent\n"
		"       sluice-ctrl --call JSON [--ipc URL]     send one request to a running agent\n"
		"       (sluice-ctrl --help lists the other roles and commands)\n"
		"\n"
		"  --role=worker        node agent: desired state -> sluice-dp over shared-memory rings\n"
		"  --state PATH         desired-state file, written atomically (default %s)\n"
		"  --segment PATH       sluice-dp's ring segment (default %s)\n"
		"  --ipc URL            nanomsg REP socket for sluice-cni and the CLI (default %s)\n"
		"  --timeout-ms N       bound on waiting for dp to make room or answer (default 10000)\n"
		"  --pod-cidr CIDR      this node's IPv4 pod CIDR, for cni.add address allocation\n"
		"  --gateway IP         the pod gateway dp answers ARP for (returned to sluice-cni)\n"
		"  --dns LIST           comma-separated nameservers returned by cni.add\n"
		"  --cni-state DIR      sluice-cni's state dir: its pending releases are applied\n"
		"                       at start and every 10 s (default %s)\n"
		"  --call JSON          client mode: print the reply; exit 0 if it says ok\n"
		"                       (--call - reads the request from stdin)\n"
		"  -h, --help           this text\n"
		"\n"
		"Cluster mode (docs/node.md): register with the masters and run the pods bound here\n"
		"  --api-config FILE    API client config (servers, ca, cert, key); enables cluster mode\n"
		"  --node-name NAME     this node's name (default: the host name)\n"
		"  --node-ip IP         this node's underlay IPv4 address (required in cluster mode)\n"
		"  --runtime KIND       pod runtime: netns (default) or podman (containers on\n"
		"                       sluice-cni's network; docs/node.md)\n"
		"  --podman-network NAME  podman runtime: the CNI network (default sluice)\n"
		"  --podman PATH        podman runtime: the podman executable (default podman)\n"
		"  --labels K=V,...     extra node labels (kubernetes.io/hostname is always set)\n"
		"  --register-taint T   taints at registration: key[=value]:Effect,...\n"
		"  --lease-seconds N    node lease duration, renewed every N/4 s (default %d)\n"
		"  --max-pods N         capacity.pods (default %d)\n"
		"  --pod-dir DIR        pod logs and runtime records (default %s)\n"
		"  --pod-netns-prefix P pod netns names start with P (default %s)\n"
		"  --restart-backoff-ms N  first restart back-off, doubling to 60 s (default 1000)\n"
		"  --encap none|vxlan   routes to every other node's pod CIDR via its underlay IP leave\n"
		"                       by sluice-dp's uplink directly (none, default) or in VXLAN\n"
		"  --vni N              VXLAN network identifier (default: sluice-dp's configured one)\n"
		"  --no-routes          program no routes to the other nodes (dp without an uplink)\n"
		"  (--gateway, when given, overrides the pod gateway, which is otherwise the first\n"
		"   address of the node's spec.podCIDR)\n"
		"\n"
		"Requests are documented in docs/agent-ipc.md, the rings in docs/ring-protocol.md.\n",
		CTRL_DEFAULT_STATE, RING_SHM_DEFAULT_PATH, IPC_DEFAULT_URL, CTRL_DEFAULT_CNI_STATE,
		AGENT_NODE_DEFAULT_LEASE_S, AGENT_NODE_DEFAULT_MAX_PODS, RUNTIME_NETNS_DEFAULT_DIR,
		RUNTIME_NETNS_DEFAULT_PREFIX);
}

static int ctrl_call(const char *url, const char *json)
{
	int s = nn_socket(AF_SP, NN_REQ);
	int tmo = 60000;
	char *buf = NULL;

	if (s < 0 || nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &tmo, sizeof(tmo)) < 0 ||
	    nn_connect(s, url) < 0) {
		fprintf(stderr, "sluice-ctrl: %s: %s\n", url, nn_strerror(nn_errno()));
		return 2;
	}
	if (nn_send(s, json, strlen(json), 0) < 0) {
		fprintf(stderr, "sluice-ctrl: send: %s\n", nn_strerror(nn_errno()));
		nn_close(s);
		return 2;
	}
	int n = nn_recv(s, &buf, NN_MSG, 0);
	if (n < 0) {
		fprintf(stderr, "sluice-ctrl: no reply from %s: %s\n", url, nn_strerror(nn_errno()));
		nn_close(s);
		return 2;
	}
	printf("%.*s\n", n, buf);
	int ok = strncmp(buf, "{\"ok\":true", 10) == 0;
	nn_freemsg(buf);
	nn_close(s);
	return ok ? 0 : 1;
}

int worker_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"role", required_argument, NULL, 'r'},
		{"state", required_argument, NULL, 's'},
		{"segment", required_argument, NULL, 'g'},
		{"ipc", required_argument, NULL, 'i'},
		{"timeout-ms", required_argument, NULL, 't'},
		{"call", required_argument, NULL, 'c'},
		{"pod-cidr", required_argument, NULL, 'p'},
		{"gateway", required_argument, NULL, 'w'},
		{"dns", required_argument, NULL, 'd'},
		{"cni-state", required_argument, NULL, 'n'},
		{"api-config", required_argument, NULL, 'A'},
		{"node-name", required_argument, NULL, 'N'},
		{"node-ip", required_argument, NULL, 'I'},
		{"runtime", required_argument, NULL, 'R'},
		{"labels", required_argument, NULL, 'L'},
		{"register-taint", required_argument, NULL, 'T'},
		{"lease-seconds", required_argument, NULL, 'S'},
		{"max-pods", required_argument, NULL, 'M'},
		{"pod-dir", required_argument, NULL, 'D'},
		{"pod-netns-prefix", required_argument, NULL, 'P'},
		{"restart-backoff-ms", required_argument, NULL, 'B'},
		{"no-routes", no_argument, NULL, 'U'},
		{"encap", required_argument, NULL, 'E'},
		{"vni", required_argument, NULL, 'V'},
		{"podman-network", required_argument, NULL, 'O'},
		{"podman", required_argument, NULL, 'Q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct agent_node_params np = {.log = ctrl_log};
	const char *api_config = NULL;
	const char *role = NULL, *state = CTRL_DEFAULT_STATE, *segment = NULL, *url = NULL,
		   *call = NULL;
	unsigned timeout_ms = 0;
	struct agent_cni_config cni = {0};
	const char *cni_state = CTRL_DEFAULT_CNI_STATE;
	char err[512];
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r': role = optarg; break;
		case 's': state = optarg; break;
		case 'g': segment = optarg; break;
		case 'i': url = optarg; break;
		case 't': timeout_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'c': call = optarg; break;
		case 'p': snprintf(cni.pod_cidr, sizeof(cni.pod_cidr), "%s", optarg); break;
		case 'w': snprintf(cni.gateway, sizeof(cni.gateway), "%s", optarg); break;
		case 'd': snprintf(cni.dns, sizeof(cni.dns), "%s", optarg); break;
		case 'n': cni_state = optarg; break;
		case 'A': api_config = optarg; break;
		case 'N': np.node_name = optarg; break;
		case 'I': np.node_ip = optarg; break;
		case 'R': np.runtime = optarg; break;
		case 'L': np.labels = optarg; break;
		case 'T': np.taints = optarg; break;
		case 'D': np.pod_dir = optarg; break;
		case 'P': np.netns_prefix = optarg; break;
		case 'U': np.no_routes = 1; break;
		case 'E': np.encap = optarg; break;
		case 'O': np.podman_network = optarg; break;
		case 'Q': np.podman_bin = optarg; break;
		case 'S':
		case 'M':
		case 'B':
		case 'V': {
			char *end;
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || v > 0xffffffffUL || optarg[0] == '-') {
				fprintf(stderr, "sluice-ctrl: --%s: \"%s\" is not a non-negative integer\n",
					c == 'S' ? "lease-seconds" : c == 'M' ? "max-pods" :
					c == 'B' ? "restart-backoff-ms" : "vni", optarg);
				return 2;
			}
			if (c == 'S')
				np.lease_seconds = (unsigned)v;
			else if (c == 'M')
				np.max_pods = (unsigned)v;
			else if (c == 'B')
				np.backoff_base_ms = v;
			else
				np.vni = (uint32_t)v;
			break;
		}
		case 'h': ctrl_usage(stdout); return 0;
		default: ctrl_usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		ctrl_usage(stderr);
		return 2;
	}
	if (call != NULL && strcmp(call, "-") == 0) {
		/* Large batches exceed one argv string's 128 KiB limit: read stdin. */
		static char buf[IPC_MAX_REQUEST + 1];
		size_t n = fread(buf, 1, IPC_MAX_REQUEST, stdin);
		buf[n] = '\0';
		return ctrl_call(url ? url : IPC_DEFAULT_URL, buf);
	}
	if (call != NULL)
		return ctrl_call(url ? url : IPC_DEFAULT_URL, call);
	if (role == NULL || strcmp(role, "worker") != 0) {
		fprintf(stderr, "sluice-ctrl: --role=worker is required (%s)\n",
			role ? role : "no role given");
		return 2;
	}

	if (api_config == NULL && (np.node_name || np.node_ip || np.labels || np.taints)) {
		fprintf(stderr, "sluice-ctrl: --node-name, --node-ip, --labels and --register-taint need --api-config\n");
		return 2;
	}

	setvbuf(stderr, NULL, _IOLBF, 0);
	struct sigaction sa = {.sa_handler = ctrl_on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct ringc_params rp = {.path = segment, .timeout_ms = timeout_ms, .log = ctrl_log};
	struct ringc *rc = ringc_create(&rp, err, sizeof(err));
	if (rc == NULL) {
		fprintf(stderr, "sluice-ctrl: %s\n", err);
		return 1;
	}
	struct agent_params ap = {.state_path = state, .ringc = rc, .log = ctrl_log};
	struct agent *a = agent_create(&ap, err, sizeof(err));
	if (a == NULL) {
		fprintf(stderr, "sluice-ctrl: %s\n", err);
		ringc_free(rc);
		return 1;
	}
	struct ipc_params ip = {.url = url, .agent = a, .cni = &cni};
	struct ipc *ipc = ipc_create(&ip, err, sizeof(err));
	if (ipc == NULL) {
		fprintf(stderr, "sluice-ctrl: %s\n", err);
		agent_free(a);
		ringc_free(rc);
		return 1;
	}
	struct agent_node *node = NULL;
	if (api_config != NULL) {
		np.api_config = api_config;
		np.gateway = cni.gateway;
		node = agent_node_start(&np, err, sizeof(err));
		if (node == NULL) {
			fprintf(stderr, "sluice-ctrl: %s\n", err);
			ipc_free(ipc);
			agent_free(a);
			ringc_free(rc);
			return 2;
		}
	}
	ctrl_log(NULL, "node agent up; waiting for sluice-dp and requests");

	unsigned ticks = 0;
	while (!ctrl_stop) {
		if (ticks++ % (CTRL_PENDING_EVERY_MS / CTRL_TICK_MS) == 0) {
			unsigned n = agent_cni_pending(a, cni_state);
			if (n > 0)
				fprintf(stderr, "sluice-ctrl: applied %u pending CNI releases from %s/pending\n",
					n, cni_state);
		}
		struct pollfd pfd[2] = {{.fd = ipc_fd(ipc), .events = POLLIN},
					{.fd = node ? agent_node_fd(node) : -1, .events = POLLIN}};
		int n = poll(pfd, 2, CTRL_TICK_MS);
		if (n > 0 && (pfd[0].revents & POLLIN))
			ipc_serve(ipc);
		if (n > 0 && (pfd[1].revents & POLLIN))
			agent_node_serve(node, a, &cni);
		agent_tick(a);
	}
	/* The cluster threads may wait on a call this loop no longer serves:
	 * stopping fails those calls, then joins the threads. */
	agent_node_stop(node);
	ctrl_log(NULL, "exiting; sluice-dp keeps forwarding headless");
	ipc_free(ipc);
	agent_free(a);
	ringc_free(rc);
	return 0;
}
