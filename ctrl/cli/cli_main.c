/*
 * cli_main: the `sluice` command line: global flags, where the connection
 * settings come from, dispatch to the commands, and the mapping of every
 * failure to one documented exit code (docs/cli.md).
 *
 * Flags may come before or after the command and its arguments (GNU
 * getopt permutes), as with kubectl. Connection settings are resolved only
 * when a command first talks to the API, so `--help` works anywhere:
 * --config FILE, else $SLUICE_CONFIG, else /etc/sluice/admin.conf when it
 * exists; then --server/--cacert/--cert/--key override what the file said.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define CLI_DEFAULT_CONFIG "/etc/sluice/admin.conf"
#define CLI_LEADER_POLL_MS 200

struct cli_cmd {
	const char *name;
	int (*run)(struct cli *c);
	const char *summary;
	const char *usage;
};

static const char cli_global_help[] =
	"Global flags:\n"
	"  --server URL       API endpoint (repeatable, or a comma list); tried in order,\n"
	"                     the next one when one is down or has no leader\n"
	"  --cacert FILE      CA that signed the masters' certificates\n"
	"  --cert FILE        client certificate; --key FILE its key\n"
	"  --config FILE      client config (default $SLUICE_CONFIG, then\n"
	"                     " CLI_DEFAULT_CONFIG ")\n"
	"  -n, --namespace NS namespace (default \"default\")\n"
	"  --timeout DUR      per request: 10s, 500ms, 2m (default 10s)\n"
	"  -h, --help         help for the command\n";

static const struct cli_cmd cli_cmds[] = {
	{"get", cli_cmd_get, "list or show objects, -w to watch",
	 "sluice get RESOURCE [NAME...] [-o json|yaml|wide|name] [-l SELECTOR]\n"
	 "           [--field-selector SEL] [-A] [-w [--watch-only]] [--no-headers]\n"
	 "  List objects, or show the named ones. RESOURCE/NAME works too.\n"
	 "  -w prints each change after the listing until interrupted.\n"},
	{"describe", cli_cmd_describe, "show one object in detail",
	 "sluice describe RESOURCE NAME\n"
	 "  Show one object in detail (a node also lists its pods, a service its\n"
	 "  endpoints).\n"},
	{"apply", cli_cmd_apply, "create or update the objects of manifests",
	 "sluice apply -f FILE [-f FILE...]\n"
	 "  Create each object of the manifests (YAML, several documents separated by\n"
	 "  ---, or JSON; -f - reads stdin), or update it when it exists: the\n"
	 "  manifest's fields are merged into the stored object and written back\n"
	 "  at the stored resourceVersion (retried on a concurrent change).\n"},
	{"create", cli_cmd_create, "create the objects of manifests",
	 "sluice create -f FILE [-f FILE...]\n"
	 "  Create each object of the manifests; an existing one is an error.\n"},
	{"delete", cli_cmd_delete, "delete objects",
	 "sluice delete RESOURCE NAME... | RESOURCE -l SELECTOR | -f FILE\n"
	 "              [--ignore-not-found]\n"
	 "  Delete the named objects, those matching a selector, or those of a\n"
	 "  manifest.\n"},
	{"cluster", cli_cmd_cluster, "cluster status: members, leader, term, indexes",
	 "sluice cluster status [-o json|yaml]\n"
	 "  Members, their roles and health, the leader, term, commit and applied\n"
	 "  index, as seen by the master that answers.\n"},
	{"cordon", cli_cmd_cordon, "mark a node unschedulable",
	 "sluice cordon NODE\n"
	 "  Mark a node unschedulable (spec.unschedulable=true).\n"},
	{"uncordon", cli_cmd_uncordon, "mark a node schedulable",
	 "sluice uncordon NODE\n"
	 "  Make a node schedulable again.\n"},
	{"scale", cli_cmd_scale, "set a deployment's replica count",
	 "sluice scale deployment NAME... --replicas N\n"
	 "  Set spec.replicas (read-modify-write at the resourceVersion, retried on\n"
	 "  conflict); the Deployment controller adds or removes pods.\n"},
	{"drain", cli_cmd_drain, "cordon a node and delete its pods",
	 "sluice drain NODE\n"
	 "  Cordon the node, then delete every pod bound to it (in all namespaces),\n"
	 "  printing each; controllers recreate them elsewhere.\n"},
};
#define CLI_N_CMDS (sizeof(cli_cmds) / sizeof(cli_cmds[0]))

static void cli_usage(FILE *f)
{
	fprintf(f, "sluice: command-line client of a sluice cluster's API\n\n"
		   "Usage: sluice COMMAND [ARGS] [FLAGS]\n\nCommands:\n");
	for (size_t i = 0; i < CLI_N_CMDS; i++)
		fprintf(f, "  %-10s %s\n", cli_cmds[i].name, cli_cmds[i].summary);
	fprintf(f, "  %-10s %s\n  %-10s %s\n\n", "version", "client version", "help",
		"help on a command (or: sluice COMMAND --help)");
	fprintf(f, "Resources: %s\n\n%s\n"
		   "Exit codes: 0 ok, 1 the server refused (404, 409, 422, ...), 2 usage or\n"
		   "manifest error, 3 cluster unreachable, 4 TLS or authentication failure,\n"
		   "5 unexpected answer. See docs/cli.md.\n",
		cli_res_names(), cli_global_help);
}

static const struct cli_cmd *cli_find_cmd(const char *name)
{
	for (size_t i = 0; i < CLI_N_CMDS; i++)
		if (strcmp(cli_cmds[i].name, name) == 0)
			return &cli_cmds[i];
	return NULL;
}

int cli_fail(struct cli *c, int code, const char *fmt, ...)
{
	va_list ap;
	fputs("error: ", c->e);
	va_start(ap, fmt);
	vfprintf(c->e, fmt, ap);
	va_end(ap);
	fputc('\n', c->e);
	return code;
}

const char *cli_namespace(const struct cli *c)
{
	return c->ns != NULL ? c->ns : "default";
}

void cli_obj_ref(const struct cli_res *r, const json_t *obj, char *buf, size_t size)
{
	const char *name = cli_str(obj, "metadata.name");
	snprintf(buf, size, "%s/%s", r->singular, name ? name : "");
}

int cli_apic_error(struct cli *c, int err, const char *msg)
{
	switch (err) {
	case APIC_ERR_UNREACHABLE:
		return cli_fail(c, CLI_EXIT_UNREACHABLE, "cluster unreachable: %s", msg);
	case APIC_ERR_TLS:
		return cli_fail(c, CLI_EXIT_TLS, "%s", msg);
	case APIC_ERR_CONFIG:
		return cli_fail(c, CLI_EXIT_USAGE, "%s", msg);
	case APIC_ERR_STOPPED:
		return CLI_EXIT_OK;
	default:
		return cli_fail(c, CLI_EXIT_PROTOCOL, "%s", msg);
	}
}

int cli_server_error(struct cli *c, const struct apic_resp *r)
{
	const char *reason = cli_str(r->body, "reason");
	if (reason != NULL && reason[0] != '\0')
		fprintf(c->e, "Error from server (%s): %s\n", reason, r->errmsg);
	else
		fprintf(c->e, "Error from server (HTTP %ld): %s\n", r->status, r->errmsg);
	if (r->status == 401 || r->status == 403)
		return CLI_EXIT_TLS;
	if (r->status == 503)
		return CLI_EXIT_UNREACHABLE; /* every master asked: none has a quorum */
	return CLI_EXIT_REFUSED;
}

/* Load the config and build the client; once per invocation. */
static int cli_api(struct cli *c)
{
	char err[APIC_ERRMSG_SIZE];
	const char *path = c->config_path;

	if (c->api != NULL)
		return 0;
	const char *env = getenv("SLUICE_CONFIG");
	if (path == NULL && env != NULL && env[0] != '\0')
		path = env;
	if (path == NULL && access(CLI_DEFAULT_CONFIG, R_OK) == 0)
		path = CLI_DEFAULT_CONFIG;
	if (path != NULL && apic_config_load(path, &c->cfg, err, sizeof(err)) != 0)
		return cli_fail(c, CLI_EXIT_USAGE, "config: %s", err);
	apic_config_params(&c->cfg, &c->params);
	if (c->flags.n_servers > 0) {
		for (size_t i = 0; i < APIC_MAX_SERVERS; i++)
			c->params.servers[i] = i < c->flags.n_servers ? c->flags.servers[i] : NULL;
		c->params.n_servers = c->flags.n_servers;
	}
	if (c->flags.cacert)
		c->params.ca = c->flags.cacert;
	if (c->flags.cert)
		c->params.cert = c->flags.cert;
	if (c->flags.key)
		c->params.key = c->flags.key;
	c->params.timeout_ms = c->flags.timeout_ms;
	if (c->params.n_servers == 0)
		return cli_fail(c, CLI_EXIT_USAGE,
				"no API server: give --server URL or --config FILE (or set "
				"SLUICE_CONFIG)");
	c->api = apic_create(&c->params, err, sizeof(err));
	if (c->api == NULL)
		return cli_fail(c, CLI_EXIT_USAGE, "%s", err);
	return 0;
}

int cli_request(struct cli *c, const char *method, const char *path, const json_t *body,
		struct apic_resp *r)
{
	memset(r, 0, sizeof(*r));
	int rc = cli_api(c);
	if (rc != 0)
		return rc;
	/*
	 * 503 means no quorum right now: NoLeader from every master, or
	 * ServiceUnavailable from a follower that still relays to a leader
	 * which has just died. An election takes an election timeout or two,
	 * so wait for a leader within the request timeout. Asking again is
	 * safe for what the CLI sends: a create that did land gives 409
	 * AlreadyExists, an update at a resourceVersion 409 Conflict, a delete
	 * 404, and the commands handle each.
	 */
	long budget = c->params.timeout_ms > 0 ? c->params.timeout_ms : 10000;
	for (long waited = 0;; waited += CLI_LEADER_POLL_MS) {
		rc = apic_request(c->api, method, path, body, r);
		if (rc != APIC_OK)
			return cli_apic_error(c, rc, r->errmsg);
		if (r->status != 503 || waited >= budget || (c->stop != NULL && *c->stop))
			return CLI_EXIT_OK;
		if (waited == 0)
			fprintf(c->e, "sluice: %s (election under way?); retrying for up to %ld ms\n",
				r->errmsg, budget);
		apic_resp_clear(r);
		struct timespec ts = {0, CLI_LEADER_POLL_MS * 1000000L};
		nanosleep(&ts, NULL);
	}
}

struct apic *cli_client(struct cli *c, int *rc)
{
	*rc = cli_api(c);
	return *rc == 0 ? c->api : NULL;
}

/* "10s", "500ms", "2m", "1h", or a plain number of seconds. */
static long cli_parse_duration_ms(const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno != 0 || v <= 0)
		return -1;
	double mult = 1000;
	if (strcmp(end, "ms") == 0)
		mult = 1;
	else if (strcmp(end, "s") == 0 || *end == '\0')
		mult = 1000;
	else if (strcmp(end, "m") == 0)
		mult = 60000;
	else if (strcmp(end, "h") == 0)
		mult = 3600000;
	else
		return -1;
	double ms = v * mult;
	return ms < 1 || ms > 86400000.0 ? -1 : (long)ms;
}

static int cli_add_servers(struct cli *c, const char *list)
{
	const char *p = list;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if (n > 0) {
			if (c->flags.n_servers == APIC_MAX_SERVERS)
				return cli_fail(c, CLI_EXIT_USAGE, "--server: at most %d endpoints",
						APIC_MAX_SERVERS);
			if (n >= sizeof(c->flags.servers[0]))
				return cli_fail(c, CLI_EXIT_USAGE, "--server: URL too long");
			memcpy(c->flags.servers[c->flags.n_servers], p, n);
			c->flags.servers[c->flags.n_servers][n] = '\0';
			if (strncmp(c->flags.servers[c->flags.n_servers], "https://", 8) != 0)
				return cli_fail(c, CLI_EXIT_USAGE,
						"--server: \"%s\" is not an https:// URL",
						c->flags.servers[c->flags.n_servers]);
			c->flags.n_servers++;
		}
		p += n + (comma ? 1 : 0);
	}
	return 0;
}

enum {
	CLI_OPT_SERVER = 256,
	CLI_OPT_CACERT,
	CLI_OPT_CERT,
	CLI_OPT_KEY,
	CLI_OPT_CONFIG,
	CLI_OPT_TIMEOUT,
	CLI_OPT_FIELD_SELECTOR,
	CLI_OPT_IGNORE_NOT_FOUND,
	CLI_OPT_NO_HEADERS,
	CLI_OPT_WATCH_ONLY,
	CLI_OPT_REPLICAS,
};

static const struct option cli_options[] = {
	{"server", required_argument, NULL, CLI_OPT_SERVER},
	{"cacert", required_argument, NULL, CLI_OPT_CACERT},
	{"cert", required_argument, NULL, CLI_OPT_CERT},
	{"key", required_argument, NULL, CLI_OPT_KEY},
	{"config", required_argument, NULL, CLI_OPT_CONFIG},
	{"timeout", required_argument, NULL, CLI_OPT_TIMEOUT},
	{"namespace", required_argument, NULL, 'n'},
	{"output", required_argument, NULL, 'o'},
	{"selector", required_argument, NULL, 'l'},
	{"field-selector", required_argument, NULL, CLI_OPT_FIELD_SELECTOR},
	{"filename", required_argument, NULL, 'f'},
	{"all-namespaces", no_argument, NULL, 'A'},
	{"watch", no_argument, NULL, 'w'},
	{"watch-only", no_argument, NULL, CLI_OPT_WATCH_ONLY},
	{"ignore-not-found", no_argument, NULL, CLI_OPT_IGNORE_NOT_FOUND},
	{"no-headers", no_argument, NULL, CLI_OPT_NO_HEADERS},
	{"replicas", required_argument, NULL, CLI_OPT_REPLICAS},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static int cli_parse(struct cli *c, int argc, char **argv)
{
	int opt, idx;
	opterr = 0;
	optind = 0; /* full re-initialisation: cli_run may run more than once */
	while ((opt = getopt_long(argc, argv, ":n:o:l:f:Awh", cli_options, &idx)) != -1) {
		switch (opt) {
		case CLI_OPT_SERVER:
			if (cli_add_servers(c, optarg) != 0)
				return CLI_EXIT_USAGE;
			break;
		case CLI_OPT_CACERT:
			c->flags.cacert = optarg;
			break;
		case CLI_OPT_CERT:
			c->flags.cert = optarg;
			break;
		case CLI_OPT_KEY:
			c->flags.key = optarg;
			break;
		case CLI_OPT_CONFIG:
			c->config_path = optarg;
			break;
		case CLI_OPT_TIMEOUT:
			c->flags.timeout_ms = cli_parse_duration_ms(optarg);
			if (c->flags.timeout_ms < 0)
				return cli_fail(c, CLI_EXIT_USAGE,
						"--timeout: \"%s\" is not a duration such as 10s, "
						"500ms or 2m", optarg);
			break;
		case 'n':
			if (optarg[0] == '\0')
				return cli_fail(c, CLI_EXIT_USAGE, "--namespace: empty");
			c->ns = optarg;
			c->ns_given = true;
			break;
		case 'o': {
			int o = cli_output_parse(optarg);
			if (o < 0)
				return cli_fail(c, CLI_EXIT_USAGE,
						"--output: \"%s\" is not json, yaml, wide or name",
						optarg);
			c->out = (enum cli_output)o;
			break;
		}
		case 'l':
			c->selector = optarg;
			break;
		case CLI_OPT_FIELD_SELECTOR:
			c->field_selector = optarg;
			break;
		case 'f':
			if (c->n_files == CLI_MAX_FILES)
				return cli_fail(c, CLI_EXIT_USAGE, "-f: at most %d files",
						CLI_MAX_FILES);
			c->files[c->n_files++] = optarg;
			break;
		case 'A':
			c->all_ns = true;
			break;
		case 'w':
			c->watch = true;
			break;
		case CLI_OPT_WATCH_ONLY:
			c->watch = c->watch_only = true;
			break;
		case CLI_OPT_IGNORE_NOT_FOUND:
			c->ignore_not_found = true;
			break;
		case CLI_OPT_NO_HEADERS:
			c->no_headers = true;
			break;
		case CLI_OPT_REPLICAS:
			c->replicas = optarg;
			break;
		case 'h':
			c->help = true;
			break;
		case ':':
			return cli_fail(c, CLI_EXIT_USAGE, "flag %s needs a value",
					argv[optind - 1]);
		default:
			if (optopt != 0)
				return cli_fail(c, CLI_EXIT_USAGE, "unknown flag -%c", optopt);
			return cli_fail(c, CLI_EXIT_USAGE, "unknown flag %s", argv[optind - 1]);
		}
	}
	c->cmd = optind < argc ? argv[optind++] : NULL;
	c->argc = argc - optind;
	c->argv = argv + optind;
	return 0;
}

int cli_run(int argc, char **argv, FILE *o, FILE *e, volatile int *stop)
{
	struct cli *c = calloc(1, sizeof(*c));
	int rc;

	if (c == NULL) {
		fprintf(e, "error: out of memory\n");
		return CLI_EXIT_PROTOCOL;
	}
	c->o = o;
	c->e = e;
	c->stop = stop;
	rc = cli_parse(c, argc, argv);
	if (rc != 0)
		goto out;
	if (c->cmd == NULL) {
		cli_usage(c->help ? o : e);
		rc = c->help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
		goto out;
	}
	if (strcmp(c->cmd, "help") == 0) {
		const struct cli_cmd *h = c->argc > 0 ? cli_find_cmd(c->argv[0]) : NULL;
		if (h != NULL)
			fprintf(o, "Usage: %s\n%s", h->usage, cli_global_help);
		else
			cli_usage(o);
		rc = CLI_EXIT_OK;
		goto out;
	}
	if (strcmp(c->cmd, "version") == 0) {
		fprintf(o, "sluice client %s\n", SLUICE_VERSION);
		rc = CLI_EXIT_OK;
		goto out;
	}
	const struct cli_cmd *cmd = cli_find_cmd(c->cmd);
	if (cmd == NULL) {
		rc = cli_fail(c, CLI_EXIT_USAGE, "unknown command \"%s\" (see sluice --help)",
			      c->cmd);
		goto out;
	}
	if (c->help) {
		fprintf(o, "Usage: %s\n%s", cmd->usage, cli_global_help);
		rc = CLI_EXIT_OK;
		goto out;
	}
	rc = cmd->run(c);
out:
	fflush(o);
	apic_free(c->api);
	free(c);
	return rc;
}
