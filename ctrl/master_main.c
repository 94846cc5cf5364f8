/*
 * master_main: `sluice-ctrl --role=master` (a Raft member serving the API)
 * and `sluice-ctrl init|cert|join` (cluster bootstrap, see docs/master.md).
 *
 * One thread runs one libevent event_base for Raft (master.h), the HTTPS
 * server (http.h) and the API handlers (api.h); orch runs its own thread
 * and talks to this master through the API like any client. SIGTERM and
 * SIGINT break the loop; shutdown frees the master first (pending requests
 * are answered 503), then the HTTP server.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>

#include "api.h"
#include "http.h"
#include "http_cluster.h"
#include "master.h"
#include "orch.h"
#include "pki.h"
#include "roles.h"

/* ------------------------------------------------------------ options */

struct master_opts {
	const char *name;
	const char *data_dir;
	const char *peer_listen;
	const char *api_listen;
	const char *pki_dir;
	struct master_member members[MASTER_MAX_MEMBERS];
	size_t n_members;
	unsigned election_ms;
	unsigned heartbeat_ms;
	uint64_t quota;
	unsigned snapshot_threshold;
	bool no_controllers;
	unsigned node_grace_s;  /* orch: lease age before NotReady (0 = default) */
	unsigned evict_s;       /* orch: NotReady age before eviction (0 = default) */
	const char *cluster_cidr;   /* orch: NULL = default */
	unsigned node_cidr_bits;    /* orch: 0 = default */
	bool join; /* start empty; `sluice-ctrl join` adds us */
	/* --api-vip: spec.externalIPs of default/kubernetes (ctlr_apisvc.h) */
	char vips[APISVC_MAX_VIPS][APISVC_IP_MAX];
	size_t n_vips;
};

static void master_usage(FILE *f)
{
	fprintf(f,
		"usage: sluice-ctrl --role=master --name NAME --data-dir DIR --pki-dir DIR\n"
		"                   --members 'ID=NAME,PEER_URL,API_URL;...' [options]\n"
		"\n"
		"A Raft member of the masters' group serving the HTTPS API (docs/api.md).\n"
		"\n"
		"  --name NAME               this member (must appear in --members)\n"
		"  --data-dir DIR            Raft log and snapshots (created if missing)\n"
		"  --pki-dir DIR             from `sluice-ctrl init`: ca.crt, peer.key,\n"
		"                            master-NAME.crt/.key\n"
		"  --members LIST            static member list, ';'-separated (or repeat the\n"
		"                            flag): ID=NAME,tcp://HOST:PORT,https://HOST:PORT\n"
		"  --peer-listen URL         nanomsg bind URL (default: own peer URL)\n"
		"  --api-listen HOST:PORT    HTTPS listen address (default 0.0.0.0:6443)\n"
		"  --join                    start with an empty data dir and wait until\n"
		"                            `sluice-ctrl join` adds us (docs/master.md)\n"
		"  --election-timeout-ms N   Raft election timeout (default 1000)\n"
		"  --heartbeat-ms N          Raft heartbeat interval (default 100)\n"
		"  --quota-bytes N           store quota (default 2 GiB, as etcd)\n"
		"  --snapshot-entries N      log entries between snapshots (default 10000)\n"
		"  --no-controllers          do not run the scheduler and controllers\n"
		"  --node-grace-seconds N    a node whose lease is older is NotReady (default 40)\n"
		"  --pod-eviction-timeout N  seconds NotReady before its pods are evicted\n"
		"                            (default 300; short values are for demos and tests)\n"
		"  --cluster-cidr CIDR       pod CIDRs are carved from it (default 10.244.0.0/16)\n"
		"  --node-cidr-bits N        prefix length of each node's pod CIDR (default 24)\n"
		"  --api-vip IP[,IP...]      the API VIP(s): spec.externalIPs of the Service\n"
		"                            default/kubernetes, which the node agents program\n"
		"                            into sluice-dp (repeatable; docs/master.md)\n"
		"  -h, --help                this text\n");
}

static int master_parse_uint(const char *flag, const char *s, uint64_t min,
			     uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > max) {
		fprintf(stderr, "sluice-ctrl: %s '%s': want an integer in [%" PRIu64 ", %" PRIu64 "]\n",
			flag, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* One "ID=NAME,PEER,API" item. */
static int master_parse_member(const char *item, struct master_member *m)
{
	memset(m, 0, sizeof(*m));
	char buf[1024];
	if (strlen(item) >= sizeof(buf))
		goto bad;
	snprintf(buf, sizeof(buf), "%s", item);
	char *eq = strchr(buf, '=');
	if (eq == NULL)
		goto bad;
	*eq = '\0';
	uint64_t id;
	if (master_parse_uint("--members id", buf, 1, UINT32_MAX, &id) < 0)
		return -1;
	char *name = eq + 1;
	char *c1 = strchr(name, ',');
	char *c2 = c1 != NULL ? strchr(c1 + 1, ',') : NULL;
	if (c2 == NULL || strchr(c2 + 1, ',') != NULL)
		goto bad;
	*c1 = *c2 = '\0';
	const char *peer = c1 + 1, *api = c2 + 1;
	if (name[0] == '\0' || strlen(name) >= sizeof(m->name) ||
	    strncmp(peer, "tcp://", 6) != 0 || strlen(peer) >= sizeof(m->peer_url) ||
	    strncmp(api, "https://", 8) != 0 || strlen(api) >= sizeof(m->api_url))
		goto bad;
	m->id = id;
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->peer_url, sizeof(m->peer_url), "%s", peer);
	snprintf(m->api_url, sizeof(m->api_url), "%s", api);
	/* strip a trailing '/' so path concatenation stays clean */
	size_t l = strlen(m->api_url);
	if (l > 8 && m->api_url[l - 1] == '/')
		m->api_url[l - 1] = '\0';
	return 0;
bad:
	fprintf(stderr, "sluice-ctrl: --members '%s': want ID=NAME,tcp://HOST:PORT,https://HOST:PORT\n",
		item);
	return -1;
}

static int master_parse_members(struct master_opts *o, const char *list)
{
	char *copy = strdup(list);
	if (copy == NULL)
		return -1;
	int rc = 0;
	char *save = NULL;
	for (char *it = strtok_r(copy, "; \n", &save); it != NULL;
	     it = strtok_r(NULL, "; \n", &save)) {
		if (o->n_members == MASTER_MAX_MEMBERS) {
			fprintf(stderr, "sluice-ctrl: --members: at most %d members\n",
				MASTER_MAX_MEMBERS);
			rc = -1;
			break;
		}
		if (master_parse_member(it, &o->members[o->n_members]) < 0) {
			rc = -1;
			break;
		}
		o->n_members++;
	}
	free(copy);
	return rc;
}

enum {
	OPT_NAME = 256, OPT_DATA, OPT_PEER, OPT_API, OPT_PKI, OPT_MEMBERS,
	OPT_ELECTION, OPT_HEARTBEAT, OPT_QUOTA, OPT_SNAP, OPT_NOCTL, OPT_ROLE,
	OPT_JOIN, OPT_GRACE, OPT_EVICT, OPT_CIDR, OPT_CIDR_BITS, OPT_VIP,
};

static int master_parse(int argc, char **argv, struct master_opts *o)
{
	static const struct option opts[] = {
		{ "role", required_argument, NULL, OPT_ROLE },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "data-dir", required_argument, NULL, OPT_DATA },
		{ "peer-listen", required_argument, NULL, OPT_PEER },
		{ "api-listen", required_argument, NULL, OPT_API },
		{ "pki-dir", required_argument, NULL, OPT_PKI },
		{ "members", required_argument, NULL, OPT_MEMBERS },
		{ "join", no_argument, NULL, OPT_JOIN },
		{ "election-timeout-ms", required_argument, NULL, OPT_ELECTION },
		{ "heartbeat-ms", required_argument, NULL, OPT_HEARTBEAT },
		{ "quota-bytes", required_argument, NULL, OPT_QUOTA },
		{ "snapshot-entries", required_argument, NULL, OPT_SNAP },
		{ "no-controllers", no_argument, NULL, OPT_NOCTL },
		{ "node-grace-seconds", required_argument, NULL, OPT_GRACE },
		{ "pod-eviction-timeout", required_argument, NULL, OPT_EVICT },
		{ "cluster-cidr", required_argument, NULL, OPT_CIDR },
		{ "node-cidr-bits", required_argument, NULL, OPT_CIDR_BITS },
		{ "api-vip", required_argument, NULL, OPT_VIP },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *vip_args[APISVC_MAX_VIPS];
	size_t n_vip_args = 0;
	memset(o, 0, sizeof(*o));
	o->api_listen = "0.0.0.0:6443";
	optind = 1;
	int c;
	uint64_t v;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_ROLE: break;
		case OPT_NAME: o->name = optarg; break;
		case OPT_DATA: o->data_dir = optarg; break;
		case OPT_PEER: o->peer_listen = optarg; break;
		case OPT_API: o->api_listen = optarg; break;
		case OPT_PKI: o->pki_dir = optarg; break;
		case OPT_JOIN: o->join = true; break;
		case OPT_NOCTL: o->no_controllers = true; break;
		case OPT_MEMBERS:
			if (master_parse_members(o, optarg) < 0)
				return 2;
			break;
		case OPT_ELECTION:
			if (master_parse_uint("--election-timeout-ms", optarg, 10, 60000, &v) < 0)
				return 2;
			o->election_ms = (unsigned)v;
			break;
		case OPT_CIDR: o->cluster_cidr = optarg; break;
		case OPT_VIP:
			if (n_vip_args == APISVC_MAX_VIPS) {
				fprintf(stderr, "sluice-ctrl: at most %d --api-vip\n", APISVC_MAX_VIPS);
				return 2;
			}
			vip_args[n_vip_args++] = optarg; /* checked once --cluster-cidr is known */
			break;
		case OPT_CIDR_BITS:
			if (master_parse_uint("--node-cidr-bits", optarg, 8, 30, &v) < 0)
				return 2;
			o->node_cidr_bits = (unsigned)v;
			break;
		case OPT_GRACE:
		case OPT_EVICT:
			if (master_parse_uint(c == OPT_GRACE ? "--node-grace-seconds" : "--pod-eviction-timeout",
					      optarg, 1, 86400, &v) < 0)
				return 2;
			if (c == OPT_GRACE)
				o->node_grace_s = (unsigned)v;
			else
				o->evict_s = (unsigned)v;
			break;
		case OPT_HEARTBEAT:
			if (master_parse_uint("--heartbeat-ms", optarg, 1, 10000, &v) < 0)
				return 2;
			o->heartbeat_ms = (unsigned)v;
			break;
		case OPT_QUOTA:
			if (master_parse_uint("--quota-bytes", optarg, 1024, UINT64_MAX / 2, &v) < 0)
				return 2;
			o->quota = v;
			break;
		case OPT_SNAP:
			if (master_parse_uint("--snapshot-entries", optarg, 2, 100000000, &v) < 0)
				return 2;
			o->snapshot_threshold = (unsigned)v;
			break;
		case 'h':
			master_usage(stdout);
			return 0;
		default:
			master_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sluice-ctrl: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	const char *missing = o->name == NULL ? "--name" : o->data_dir == NULL ? "--data-dir"
			      : o->pki_dir == NULL ? "--pki-dir"
			      : o->n_members == 0 ? "--members" : NULL;
	if (missing != NULL) {
		fprintf(stderr, "sluice-ctrl: %s is required (see --help)\n", missing);
		return 2;
	}
	char err[256];
	for (size_t i = 0; i < n_vip_args; i++)
		if (apisvc_vips_parse(vip_args[i], o->cluster_cidr, o->vips, APISVC_MAX_VIPS,
				      &o->n_vips, err, sizeof(err)) < 0) {
			fprintf(stderr, "sluice-ctrl: --api-vip: %s\n", err);
			return 2;
		}
	if (o->election_ms != 0 && o->heartbeat_ms != 0 && o->heartbeat_ms >= o->election_ms) {
		fprintf(stderr, "sluice-ctrl: --heartbeat-ms must be below --election-timeout-ms\n");
		return 2;
	}
	return -1; /* go on */
}

/* ------------------------------------------------------------ running */

/* Shutdown: a leader first hands leadership over (bounded by a timer), so
 * the others need no election timeout to carry on; a second signal, or a
 * follower, stops at once. */
struct master_stop {
	struct event_base *base;
	struct master *m;
	struct master_transfer tr;
	struct event *deadline;
	unsigned election_ms;
	bool stopping;
};

static void master_stop_now(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct master_stop *st = arg;
	event_base_loopbreak(st->base);
}

static void master_transfer_cb_(struct master_transfer *req, int status)
{
	struct master_stop *st = req->data;
	if (status != MASTER_OK)
		fprintf(stderr, "sluice-ctrl: leadership transfer: %s; stopping anyway\n",
			master_strerror(status));
	event_base_loopbreak(st->base);
}

static void master_sig(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct master_stop *st = arg;
	fprintf(stderr, "sluice-ctrl: signal %d, shutting down\n", (int)sig);
	if (st->stopping || st->m == NULL) {
		event_base_loopbreak(st->base);
		return;
	}
	st->stopping = true;
	st->tr.data = st;
	if (master_transfer_leadership(st->m, &st->tr, master_transfer_cb_) != MASTER_OK) {
		event_base_loopbreak(st->base);
		return;
	}
	/* raft gives up after an election timeout; never wait much longer */
	struct timeval tv = { .tv_sec = (time_t)(2 * st->election_ms / 1000),
			      .tv_usec = (suseconds_t)((2 * st->election_ms % 1000) * 1000) };
	st->deadline = evtimer_new(st->base, master_stop_now, st);
	if (st->deadline == NULL || evtimer_add(st->deadline, &tv) < 0)
		event_base_loopbreak(st->base);
}

static void master_log_line(void *data, const char *line)
{
	(void)data;
	fprintf(stderr, "%s\n", line);
}

int master_main(int argc, char **argv)
{
	struct master_opts o;
	int rc = master_parse(argc, argv, &o);
	if (rc >= 0)
		return rc;
	signal(SIGPIPE, SIG_IGN);

	char ca[PATH_MAX], crt[PATH_MAX], key[PATH_MAX], err[512];
	snprintf(ca, sizeof(ca), "%s/ca.crt", o.pki_dir);
	snprintf(crt, sizeof(crt), "%s/master-%s.crt", o.pki_dir, o.name);
	snprintf(key, sizeof(key), "%s/master-%s.key", o.pki_dir, o.name);
	uint8_t peer_key[PKI_PEER_KEY_LEN];
	if (pki_read_peer_key(o.pki_dir, peer_key, err, sizeof(err)) < 0) {
		fprintf(stderr, "sluice-ctrl: %s\n", err);
		return 1;
	}

	/* Two priorities: Raft (0) before HTTP (1), and at most 32 HTTP
	 * callbacks before the loop looks for Raft traffic again. */
	struct event_config *cfg = event_config_new();
	struct timeval max_iv = { 0, 5000 };
	if (cfg != NULL)
		event_config_set_max_dispatch_interval(cfg, &max_iv, 32, 1);
	struct event_base *base = cfg != NULL ? event_base_new_with_config(cfg) : NULL;
	event_config_free(cfg);
	if (base != NULL && event_base_priority_init(base, 2) < 0) {
		event_base_free(base);
		base = NULL;
	}
	if (base == NULL) {
		fprintf(stderr, "sluice-ctrl: event_base_new failed\n");
		return 1;
	}
	struct master_params mp = {
		.base = base,
		.name = o.name,
		.data_dir = o.data_dir,
		.peer_listen = o.peer_listen,
		.peer_key = peer_key,
		.peer_key_len = sizeof(peer_key),
		.members = o.members,
		.n_members = o.n_members,
		.join = o.join,
		.election_timeout_ms = o.election_ms,
		.heartbeat_ms = o.heartbeat_ms,
		.quota_bytes = o.quota,
		.snapshot_threshold = o.snapshot_threshold,
		.log = master_log_line,
	};
	struct master *m = master_create(&mp, err, sizeof(err));
	if (m == NULL) {
		fprintf(stderr, "sluice-ctrl: %s\n", err);
		event_base_free(base);
		return 1;
	}
	struct http_server_params hp = {
		.base = base,
		.listen = o.api_listen,
		.ca_file = ca,
		.cert_file = crt,
		.key_file = key,
		.leader = http_cluster_leader,
		.leader_arg = m,
		.log = master_log_line,
	};
	struct http_server *srv = http_server_create(&hp, err, sizeof(err));
	rc = 1;
	struct orch *orch = NULL;
	struct http_cluster *hc = NULL;
	struct master_stop stop = { 0 };
	struct event *sigterm = NULL, *sigint = NULL;
	if (srv == NULL) {
		fprintf(stderr, "sluice-ctrl: %s\n", err);
		goto out;
	}
	if ((hc = http_cluster_register(srv, m, err, sizeof(err))) == NULL ||
	    api_register(srv, m, err, sizeof(err)) < 0) {
		fprintf(stderr, "sluice-ctrl: %s\n", err);
		goto out;
	}
	fprintf(stderr, "sluice-ctrl: master %s serving https on %s (port %u)\n", o.name,
		o.api_listen, http_server_port(srv));

	if (!o.no_controllers) {
		char orch_name[MASTER_NAME_MAX + 8];
		snprintf(orch_name, sizeof(orch_name), "orch %s", o.name);
		struct orch_params op = {
			.is_leader = master_is_leader_atomic,
			.leader_arg = m,
			.node_grace_s = o.node_grace_s,
			.evict_timeout_s = o.evict_s,
			.cluster_cidr = o.cluster_cidr,
			.node_cidr_bits = o.node_cidr_bits,
			.name = orch_name,
			.api_service = true,
			.n_api_vips = o.n_vips,
		};
		for (size_t i = 0; i < o.n_vips; i++)
			op.api_vips[i] = o.vips[i];
		/* Our own API first (orch is active only while we lead, so its
		 * writes land here without a relay), the others for failover. */
		op.api.servers[op.api.n_servers++] = master_self(m)->api_url;
		for (size_t i = 0; i < o.n_members && op.api.n_servers < APIC_MAX_SERVERS; i++)
			if (o.members[i].id != master_self(m)->id)
				op.api.servers[op.api.n_servers++] = o.members[i].api_url;
		op.api.ca = ca;
		op.api.cert = crt;
		op.api.key = key;
		orch = orch_start(&op, err, sizeof(err));
		if (orch == NULL)
			fprintf(stderr, "sluice-ctrl: controllers not running: %s\n", err);
	}

	stop.base = base;
	stop.m = m;
	stop.election_ms = o.election_ms != 0 ? o.election_ms : 1000;
	sigterm = evsignal_new(base, SIGTERM, master_sig, &stop);
	sigint = evsignal_new(base, SIGINT, master_sig, &stop);
	if (sigterm == NULL || sigint == NULL) {
		fprintf(stderr, "sluice-ctrl: signals: out of memory\n");
		goto out;
	}
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);

	if (o.join)
		fprintf(stderr, "sluice-ctrl: waiting to be added: run `sluice-ctrl join` "
				"(see docs/master.md)\n");

	event_base_dispatch(base);
	rc = 0;
out:
	/* Controllers first (they call our API), then Raft (pending
	 * requests are answered), then the server. */
	orch_stop(orch);
	/* Streams end and new requests get 503 before the master goes, so no
	 * handler can reach a freed master; then the loop runs briefly to
	 * flush the last answers (the 503s of requests still pending). */
	http_server_quiesce(srv);
	master_free(m);
	stop.m = NULL; /* a late signal must not reach the freed master */
	http_cluster_free(hc);
	hc = NULL;
	if (srv != NULL) {
		struct timeval flush = { 0, 200000 };
		event_base_loopexit(base, &flush);
		event_base_dispatch(base);
	}
	http_server_free(srv);
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	if (stop.deadline != NULL)
		event_free(stop.deadline);
	event_base_free(base);
	return rc;
}

/* ------------------------------------------------------------ init/cert */

static void master_cli_usage(FILE *f)
{
	fprintf(f,
		"usage: sluice-ctrl init --dir DIR [--members LIST] [--ip IP]... [--dns NAME]...\n"
		"                        [--api-vip IP[,IP...]]...\n"
		"       sluice-ctrl cert --dir DIR --kind master|node|admin [--name NAME]\n"
		"                        [--ip IP]... [--dns NAME]... [--api-vip IP]...\n"
		"                        [--servers URL,...]\n"
		"       sluice-ctrl join --dir DIR --server URL --name NAME --peer-url tcp://H:P\n"
		"                        --api-url https://H:P [--id N]\n"
		"\n"
		"init  creates the cluster CA (DIR/ca.crt, ca.key), the Raft peer key\n"
		"      (DIR/peer.key), a master cert for each member of --members (SANs:\n"
		"      the hosts of its URLs plus --ip/--dns), and the admin cert with\n"
		"      DIR/admin.conf listing the members' API URLs. Master certs also name\n"
		"      10.96.0.1 and kubernetes.default.svc (the Service default/kubernetes)\n"
		"      and every --api-vip; with --api-vip, DIR/admin-vip.conf lists\n"
		"      https://VIP:443 (the API through the VIP, docs/master.md).\n"
		"cert  issues one more cert from DIR's CA (a node, another master, admin).\n"
		"join  asks the cluster (any master at --server) to add a master that was\n"
		"      started with --join; returns once it is a voter.\n"
		"See docs/master.md for the full sequence.\n");
}

/* The host part of "scheme://host:port" into out; 1 if it is an IP. */
static int master_url_host(const char *url, char *out, size_t len)
{
	const char *p = strstr(url, "://");
	p = p != NULL ? p + 3 : url;
	size_t n;
	if (*p == '[') {
		const char *e = strchr(p, ']');
		if (e == NULL)
			return -1;
		n = (size_t)(e - p - 1);
		p++;
	} else {
		const char *e = strrchr(p, ':');
		n = e != NULL ? (size_t)(e - p) : strlen(p);
	}
	if (n == 0 || n >= len)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (!((out[i] >= '0' && out[i] <= '9') || out[i] == '.' || out[i] == ':' ||
		      (out[i] >= 'a' && out[i] <= 'f') || (out[i] >= 'A' && out[i] <= 'F')))
			return 0;
	return strchr(out, '.') != NULL || strchr(out, ':') != NULL ? 1 : 0;
}

static int master_add_san(struct pki_issue_params *ip, const char *host, int is_ip,
			  char store[][256], size_t *n_store)
{
	if (*n_store >= 2 * PKI_MAX_SANS)
		return -1;
	snprintf(store[*n_store], 256, "%s", host);
	const char *h = store[(*n_store)++];
	const char **arr = is_ip ? ip->ips : ip->dns;
	size_t *n = is_ip ? &ip->n_ips : &ip->n_dns;
	for (size_t i = 0; i < *n; i++)
		if (strcmp(arr[i], h) == 0)
			return 0;
	if (*n >= PKI_MAX_SANS)
		return -1;
	arr[(*n)++] = h;
	return 0;
}

struct master_join_result {
	long code;
	char body[1024];
	size_t len;
};

static size_t master_join_write(char *p, size_t s, size_t n, void *arg)
{
	struct master_join_result *r = arg;
	size_t len = s * n;
	size_t room = sizeof(r->body) - 1 - r->len;
	size_t c = len < room ? len : room;
	memcpy(r->body + r->len, p, c);
	r->len += c;
	r->body[r->len] = '\0';
	return len;
}

static int master_cli_join(const char *dir, const char *server, const char *name,
			   const char *peer, const char *api, uint64_t id)
{
	if (server == NULL || name == NULL || peer == NULL || api == NULL) {
		fprintf(stderr, "sluice-ctrl join: --server, --name, --peer-url and --api-url are required\n");
		return 2;
	}
	char ca[PATH_MAX], crt[PATH_MAX], key[PATH_MAX], url[512];
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	snprintf(crt, sizeof(crt), "%s/admin.crt", dir);
	snprintf(key, sizeof(key), "%s/admin.key", dir);
	snprintf(url, sizeof(url), "%s/cluster/members", server);
	json_t *o = json_pack("{s:s,s:s,s:s}", "name", name, "peerURL", peer, "apiURL", api);
	if (id != 0)
		json_object_set_new(o, "id", json_integer((json_int_t)id));
	char *body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURL *c = curl_easy_init();
	struct master_join_result res = { 0 };
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_SSLCERT, crt);
	curl_easy_setopt(c, CURLOPT_SSLKEY, key);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, master_join_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &res);
	CURLcode rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res.code);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(body);
	if (rc != CURLE_OK) {
		fprintf(stderr, "sluice-ctrl join: %s: %s\n", url, curl_easy_strerror(rc));
		return 1;
	}
	if (res.code != 201) {
		fprintf(stderr, "sluice-ctrl join: %s: HTTP %ld: %s\n", url, res.code, res.body);
		return 1;
	}
	printf("%s\n", res.body);
	return 0;
}

int master_cli_main(int argc, char **argv)
{
	enum { C_DIR = 300, C_NAME, C_KIND, C_IP, C_DNS, C_MEMBERS, C_SERVERS,
	       C_SERVER, C_PEER, C_API, C_ID, C_VIP };
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, C_DIR },
		{ "name", required_argument, NULL, C_NAME },
		{ "kind", required_argument, NULL, C_KIND },
		{ "ip", required_argument, NULL, C_IP },
		{ "dns", required_argument, NULL, C_DNS },
		{ "members", required_argument, NULL, C_MEMBERS },
		{ "servers", required_argument, NULL, C_SERVERS },
		{ "server", required_argument, NULL, C_SERVER },
		{ "peer-url", required_argument, NULL, C_PEER },
		{ "api-url", required_argument, NULL, C_API },
		{ "id", required_argument, NULL, C_ID },
		{ "api-vip", required_argument, NULL, C_VIP },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0];
	const char *dir = NULL, *name = NULL, *kind = NULL, *servers = NULL;
	const char *server = NULL, *peer = NULL, *api = NULL;
	const char *ips[PKI_MAX_SANS], *dns[PKI_MAX_SANS];
	size_t n_ips = 0, n_dns = 0, n_vips = 0;
	char vips[APISVC_MAX_VIPS][APISVC_IP_MAX], err[512];
	uint64_t id = 0;
	static struct master_opts mo; /* members (large: not on the stack) */
	memset(&mo, 0, sizeof(mo));
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case C_DIR: dir = optarg; break;
		case C_NAME: name = optarg; break;
		case C_KIND: kind = optarg; break;
		case C_SERVERS: servers = optarg; break;
		case C_SERVER: server = optarg; break;
		case C_PEER: peer = optarg; break;
		case C_API: api = optarg; break;
		case C_ID:
			if (master_parse_uint("--id", optarg, 1, UINT32_MAX, &id) < 0)
				return 2;
			break;
		case C_IP:
			if (n_ips == PKI_MAX_SANS) {
				fprintf(stderr, "sluice-ctrl %s: at most %d --ip\n", cmd, PKI_MAX_SANS);
				return 2;
			}
			ips[n_ips++] = optarg;
			break;
		case C_DNS:
			if (n_dns == PKI_MAX_SANS) {
				fprintf(stderr, "sluice-ctrl %s: at most %d --dns\n", cmd, PKI_MAX_SANS);
				return 2;
			}
			dns[n_dns++] = optarg;
			break;
		case C_MEMBERS:
			if (master_parse_members(&mo, optarg) < 0)
				return 2;
			break;
		case C_VIP:
			if (apisvc_vips_parse(optarg, NULL, vips, APISVC_MAX_VIPS, &n_vips, err,
					      sizeof(err)) < 0) {
				fprintf(stderr, "sluice-ctrl %s: --api-vip: %s\n", cmd, err);
				return 2;
			}
			break;
		case 'h':
			master_cli_usage(stdout);
			return 0;
		default:
			master_cli_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sluice-ctrl %s: unexpected argument '%s'\n", cmd, argv[optind]);
		return 2;
	}
	if (dir == NULL) {
		fprintf(stderr, "sluice-ctrl %s: --dir is required (see --help)\n", cmd);
		return 2;
	}
	if (strcmp(cmd, "join") == 0)
		return master_cli_join(dir, server, name, peer, api, id);

	if (strcmp(cmd, "cert") == 0) {
		enum pki_kind k = pki_kind_parse(kind);
		if (k == 0) {
			fprintf(stderr, "sluice-ctrl cert: --kind must be master, node or admin\n");
			return 2;
		}
		if (k != PKI_ADMIN && name == NULL) {
			fprintf(stderr, "sluice-ctrl cert: --name is required for --kind %s\n", kind);
			return 2;
		}
		struct pki_issue_params ip = { .dir = dir, .name = name, .kind = k };
		for (size_t i = 0; i < n_ips; i++)
			ip.ips[ip.n_ips++] = ips[i];
		for (size_t i = 0; i < n_dns; i++)
			ip.dns[ip.n_dns++] = dns[i];
		for (size_t i = 0; i < n_vips && k == PKI_MASTER; i++) {
			if (ip.n_ips == PKI_MAX_SANS) {
				fprintf(stderr, "sluice-ctrl cert: too many SANs (max %d)\n", PKI_MAX_SANS);
				return 2;
			}
			ip.ips[ip.n_ips++] = vips[i];
		}
		char cp[PATH_MAX], kp[PATH_MAX];
		if (pki_issue(&ip, cp, kp, err, sizeof(err)) < 0) {
			fprintf(stderr, "sluice-ctrl cert: %s\n", err);
			return 1;
		}
		printf("%s\n%s\n", cp, kp);
		if (servers != NULL) {
			/* a client config next to the cert, for apic users */
			char base[128], c_name[140], k_name[140];
			pki_base_name(k, name, base, sizeof(base));
			snprintf(c_name, sizeof(c_name), "%s.crt", base);
			snprintf(k_name, sizeof(k_name), "%s.key", base);
			const char *sv[APIC_MAX_SERVERS];
			size_t n_sv = 0;
			char *copy = strdup(servers), *save = NULL;
			for (char *t = strtok_r(copy, ",", &save); t != NULL && n_sv < APIC_MAX_SERVERS;
			     t = strtok_r(NULL, ",", &save))
				sv[n_sv++] = t;
			int r = pki_write_client_conf(dir, base, c_name, k_name, sv, n_sv, err,
						      sizeof(err));
			free(copy);
			if (r < 0) {
				fprintf(stderr, "sluice-ctrl cert: %s\n", err);
				return 1;
			}
		}
		return 0;
	}

	if (strcmp(cmd, "init") != 0) {
		master_cli_usage(stderr);
		return 2;
	}
	if (mo.n_members == 0) {
		/* a one-master cluster on this host */
		mo.members[0] = (struct master_member){ .id = 1 };
		snprintf(mo.members[0].name, sizeof(mo.members[0].name), "%s",
			 name != NULL ? name : "m1");
		snprintf(mo.members[0].peer_url, sizeof(mo.members[0].peer_url),
			 "tcp://127.0.0.1:2380");
		snprintf(mo.members[0].api_url, sizeof(mo.members[0].api_url),
			 "https://127.0.0.1:6443");
		mo.n_members = 1;
	}
	if (pki_init_ca(dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "sluice-ctrl init: %s\n", err);
		return 1;
	}
	const char *sv[MASTER_MAX_MEMBERS];
	for (size_t i = 0; i < mo.n_members; i++) {
		const struct master_member *mm = &mo.members[i];
		struct pki_issue_params ip = { .dir = dir, .name = mm->name, .kind = PKI_MASTER };
		char hosts[2 * PKI_MAX_SANS][256];
		size_t n_hosts = 0;
		char h[256];
		int is_ip;
		if ((is_ip = master_url_host(mm->api_url, h, sizeof(h))) >= 0 &&
		    master_add_san(&ip, h, is_ip, hosts, &n_hosts) < 0)
			goto too_many;
		if ((is_ip = master_url_host(mm->peer_url, h, sizeof(h))) >= 0 &&
		    strcmp(h, "0.0.0.0") != 0 && strcmp(h, "*") != 0 &&
		    master_add_san(&ip, h, is_ip, hosts, &n_hosts) < 0)
			goto too_many;
		for (size_t k = 0; k < n_ips; k++)
			if (master_add_san(&ip, ips[k], 1, hosts, &n_hosts) < 0)
				goto too_many;
		for (size_t k = 0; k < n_dns; k++)
			if (master_add_san(&ip, dns[k], 0, hosts, &n_hosts) < 0)
				goto too_many;
		for (size_t k = 0; k < n_vips; k++)
			if (master_add_san(&ip, vips[k], 1, hosts, &n_hosts) < 0)
				goto too_many;
		if (pki_issue(&ip, NULL, NULL, err, sizeof(err)) < 0) {
			fprintf(stderr, "sluice-ctrl init: %s\n", err);
			return 1;
		}
		sv[i] = mm->api_url;
	}
	struct pki_issue_params ap = { .dir = dir, .kind = PKI_ADMIN };
	if (pki_issue(&ap, NULL, NULL, err, sizeof(err)) < 0 ||
	    pki_write_client_conf(dir, "admin", "admin.crt", "admin.key", sv, mo.n_members,
				  err, sizeof(err)) < 0) {
		fprintf(stderr, "sluice-ctrl init: %s\n", err);
		return 1;
	}
	if (n_vips > 0) {
		/* The same admin identity, through the VIP(s) only. */
		char urls[APISVC_MAX_VIPS][64];
		const char *vu[APISVC_MAX_VIPS];
		for (size_t i = 0; i < n_vips; i++) {
			snprintf(urls[i], sizeof(urls[i]), "https://%s:%d", vips[i], APISVC_PORT);
			vu[i] = urls[i];
		}
		if (pki_write_client_conf(dir, "admin-vip", "admin.crt", "admin.key", vu, n_vips,
					  err, sizeof(err)) < 0) {
			fprintf(stderr, "sluice-ctrl init: %s\n", err);
			return 1;
		}
	}
	printf("cluster PKI in %s: ca.crt, peer.key, admin.conf, %zu master cert(s)\n", dir,
	       mo.n_members);
	return 0;
too_many:
	fprintf(stderr, "sluice-ctrl init: too many SANs (max %d)\n", PKI_MAX_SANS);
	return 2;
}
