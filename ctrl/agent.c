/*
 * agent: desired state, its JSON file, and replay to sluice-dp
 * (ctrl/agent.h; the request format is docs/agent-ipc.md).
 *
 * Every object is validated by building the ring record it will become and
 * running dp's own validator (ring_cmd_check), so the agent can never
 * accept something dp would call malformed, and the two cannot drift.
 *
 * State lives in three growable arrays searched linearly: a node holds at
 * most tens of thousands of entries, and the cost that matters (the fsync
 * per change) is amortised by batches.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent.h"
#include <sluice/errmsg.h>
#include "agent_text.h"
#include "agent_lb.h"
#include "ringc.h"

#define AGENT_STATE_VERSION 1

struct agent_pending {
	uint64_t seq;
	struct ring_cmd cmd;
};

struct agent {
	char state_path[512];
	struct ringc *rc;
	void (*log)(void *data, const char *line);
	void *log_data;

	uint64_t generation;	/* last generation replayed (persisted) */
	uint32_t next_id;

	struct agent_port *ports;
	size_t n_ports, cap_ports;
	struct agent_pod *pods;
	size_t n_pods, cap_pods;
	struct agent_route *routes;
	size_t n_routes, cap_routes;

	int in_batch;
	int replaying;
	/* Commands sent and not yet known good: rolled back on an error ACK. */
	struct agent_pending *pending;
	size_t n_pending, cap_pending;
	unsigned dp_errors;
	char first_dp_error[256];

	struct agent_lb *lb; /* services and backends (ctrl/agent_lb.h) */
};

static const char *const agent_err_text[] = {
#define AGENT_TEXT(name, text) text,
	AGENT_ERRORS(AGENT_TEXT)
#undef AGENT_TEXT
};

const char *agent_strerror(int err)
{
	if (err < 0 || (size_t)err >= sizeof(agent_err_text) / sizeof(agent_err_text[0]))
		return "unknown agent error";
	return agent_err_text[err];
}

static void agent_logf(struct agent *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void agent_logf(struct agent *a, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (a->log != NULL)
		a->log(a->log_data, line);
	else
		fprintf(stderr, "%s\n", line);
}

/* Grow *arr (of elem bytes) to hold one more; 0 or -1. */
int agent_grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 64;
	void *p = realloc(*arr, nc * elem);
	if (p == NULL)
		return -1;
	*arr = p;
	*cap = nc;
	return 0;
}

/* ---- records -------------------------------------------------------- */

static void agent_port_cmd(const struct agent_port *p, uint64_t gen, struct ring_cmd *c)
{
	ring_cmd_init(c, RING_CMD_PORT_ATTACH, 1, gen ? gen : 1);
	c->u.port.port_id = p->id;
	c->u.port.kind = p->kind;
	c->u.port.role = p->role;
	memcpy(c->u.port.name, p->name, sizeof(c->u.port.name));
	memcpy(c->u.port.ifname, p->ifname, sizeof(c->u.port.ifname));
	memcpy(c->u.port.path, p->path, sizeof(c->u.port.path));
}

static void agent_pod_cmd(const struct agent_pod *p, uint64_t gen, struct ring_cmd *c)
{
	ring_cmd_init(c, RING_CMD_POD_ADD, 1, gen ? gen : 1);
	c->u.pod.pod_id = p->id;
	c->u.pod.port_id = p->port_id;
	c->u.pod.family = p->family;
	memcpy(c->u.pod.mac, p->mac, 6);
	memcpy(c->u.pod.addr, p->addr, 16);
}

static void agent_route_cmd(const struct agent_route *r, uint64_t gen, struct ring_cmd *c)
{
	ring_cmd_init(c, RING_CMD_ROUTE_ADD, 1, gen ? gen : 1);
	c->u.route.family = r->family;
	c->u.route.prefix_len = r->prefix_len;
	c->u.route.encap = r->encap;
	c->u.route.nh_family = r->nh_family;
	c->u.route.node_id = r->node_id;
	c->u.route.vni = r->vni;
	c->u.route.port_id = r->port_id;
	memcpy(c->u.route.prefix, r->prefix, 16);
	memcpy(c->u.route.nexthop, r->nexthop, 16);
	memcpy(c->u.route.nh_mac, r->nh_mac, 6);
}

/* ---- lookups -------------------------------------------------------- */

static struct agent_port *agent_find_port(const struct agent *a, const char *name, uint32_t id)
{
	for (size_t i = 0; i < a->n_ports; i++)
		if ((name && strcmp(a->ports[i].name, name) == 0) || (!name && a->ports[i].id == id))
			return &a->ports[i];
	return NULL;
}

static struct agent_pod *agent_find_pod(const struct agent *a, const char *name, uint32_t id)
{
	for (size_t i = 0; i < a->n_pods; i++)
		if ((name && strcmp(a->pods[i].name, name) == 0) || (!name && a->pods[i].id == id))
			return &a->pods[i];
	return NULL;
}

static struct agent_route *agent_find_route(const struct agent *a, uint8_t family,
					    const uint8_t prefix[16], uint8_t plen)
{
	for (size_t i = 0; i < a->n_routes; i++) {
		struct agent_route *r = &a->routes[i];
		if (r->family == family && r->prefix_len == plen && memcmp(r->prefix, prefix, 16) == 0)
			return r;
	}
	return NULL;
}

uint32_t agent_port_id(const struct agent *a, const char *name)
{
	const struct agent_port *p = agent_find_port(a, name, 0);
	return p ? p->id : 0;
}

const struct agent_port *agent_port_by_id(const struct agent *a, uint32_t id)
{
	return agent_find_port(a, NULL, id);
}

/* ---- persistence ---------------------------------------------------- */

static json_t *agent_to_json(const struct agent *a)
{
	json_t *root = json_object(), *ports = json_array(), *pods = json_array(),
	       *routes = json_array();
	char b1[64], b2[64], b3[64];

	json_object_set_new(root, "version", json_integer(AGENT_STATE_VERSION));
	json_object_set_new(root, "generation", json_integer((json_int_t)a->generation));
	json_object_set_new(root, "next_id", json_integer(a->next_id));
	for (size_t i = 0; i < a->n_ports; i++) {
		const struct agent_port *p = &a->ports[i];
		json_array_append_new(ports, json_pack("{s:I,s:s,s:s,s:s,s:s,s:i}", "id", (json_int_t)p->id,
						      "name", p->name, "kind", ring_port_kind_name(p->kind),
						      "ifname", p->ifname, "path", p->path, "role", p->role));
	}
	for (size_t i = 0; i < a->n_pods; i++) {
		const struct agent_pod *p = &a->pods[i];
		agent_format_ip(p->family, p->addr, b1, sizeof(b1));
		agent_format_mac(p->mac, b2, sizeof(b2));
		json_array_append_new(pods, json_pack("{s:s,s:I,s:I,s:s,s:s}", "name", p->name,
						     "id", (json_int_t)p->id, "port_id", (json_int_t)p->port_id,
						     "ip", b1, "mac", b2));
	}
	for (size_t i = 0; i < a->n_routes; i++) {
		const struct agent_route *r = &a->routes[i];
		agent_format_prefix(r->family, r->prefix, r->prefix_len, b1, sizeof(b1));
		agent_format_mac(r->nh_mac, b2, sizeof(b2));
		json_t *o = json_pack("{s:s,s:I,s:I,s:s,s:s,s:I}", "prefix", b1, "node",
				      (json_int_t)r->node_id, "port_id", (json_int_t)r->port_id,
				      "nh_mac", b2, "encap", agent_encap_name(r->encap), "vni",
				      (json_int_t)r->vni);
		if (r->nh_family != 0) {
			agent_format_ip(r->nh_family, r->nexthop, b3, sizeof(b3));
			json_object_set_new(o, "nexthop", json_string(b3));
		}
		json_array_append_new(routes, o);
	}
	json_object_set_new(root, "ports", ports);
	json_object_set_new(root, "pods", pods);
	json_object_set_new(root, "routes", routes);
	agent_lb_to_json(a->lb, root);
	return root;
}

/* Write all of buf or fail. */
static int agent_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Atomic replace: a crash leaves either the old file or the new one, never
 * a torn one, because rename() is atomic and both the data and the rename
 * are fsynced before we report success.
 */
static int agent_save(struct agent *a, char *errmsg, size_t len)
{
	char tmp[600], dirbuf[512];
	json_t *root = agent_to_json(a);
	char *text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (text == NULL)
		return sluice_errf(AGENT_NOMEM, errmsg, len, "agent: cannot encode state");
	snprintf(tmp, sizeof(tmp), "%s.tmp", a->state_path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int ok = fd >= 0 && agent_write_all(fd, text, strlen(text)) == 0 &&
		 agent_write_all(fd, "\n", 1) == 0 && fsync(fd) == 0;
	int err = errno;
	free(text);
	if (fd >= 0)
		close(fd);
	if (!ok || rename(tmp, a->state_path) != 0) {
		if (ok)
			err = errno;
		(void)unlink(tmp);
		return sluice_errf(AGENT_IO, errmsg, len, "agent: cannot write %s: %s", a->state_path,
				  strerror(err));
	}
	snprintf(dirbuf, sizeof(dirbuf), "%s", a->state_path);
	int dfd = open(dirname(dirbuf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return AGENT_OK;
}

static int agent_load_port(struct agent *a, json_t *o, char *errmsg, size_t len)
{
	struct agent_port p = {0};
	const char *name = NULL, *kind = NULL, *ifname = "", *path = "";
	json_int_t id = 0;
	int role = 0;
	struct ring_cmd c;

	if (json_unpack(o, "{s:I,s:s,s:s,s?s,s?s,s?i}", "id", &id, "name", &name, "kind", &kind,
			"ifname", &ifname, "path", &path, "role", &role) != 0 ||
	    id <= 0 || id > UINT32_MAX || role < 0 || role > 1 ||
	    strlen(name) >= sizeof(p.name) || strlen(ifname) >= sizeof(p.ifname) ||
	    strlen(path) >= sizeof(p.path))
		return sluice_errf(AGENT_CORRUPT, errmsg, len, "agent: bad port entry in state file");
	p.id = (uint32_t)id;
	p.link_up = -1;
	p.kind = (uint8_t)ring_port_kind_parse(kind);
	p.role = (uint8_t)role;
	snprintf(p.name, sizeof(p.name), "%s", name);
	snprintf(p.ifname, sizeof(p.ifname), "%s", ifname);
	snprintf(p.path, sizeof(p.path), "%s", path);
	agent_port_cmd(&p, 1, &c);
	if (ring_cmd_check(&c) != RING_BAD_OK || agent_find_port(a, p.name, 0) ||
	    agent_find_port(a, NULL, p.id))
		return sluice_errf(AGENT_CORRUPT, errmsg, len, "agent: invalid port %s in state file", name);
	if (agent_grow((void **)&a->ports, &a->cap_ports, a->n_ports, sizeof(p)) != 0)
		return AGENT_NOMEM;
	a->ports[a->n_ports++] = p;
	return AGENT_OK;
}

static int agent_load_pod(struct agent *a, json_t *o, char *errmsg, size_t len)
{
	struct agent_pod p = {0};
	const char *name = NULL, *ip = NULL, *mac = NULL;
	json_int_t id = 0, port_id = 0;
	struct ring_cmd c;

	if (json_unpack(o, "{s:s,s:I,s:I,s:s,s:s}", "name", &name, "id", &id, "port_id", &port_id,
			"ip", &ip, "mac", &mac) != 0 ||
	    id <= 0 || id > UINT32_MAX || port_id <= 0 || port_id > UINT32_MAX ||
	    strlen(name) >= sizeof(p.name) || agent_parse_ip(ip, &p.family, p.addr) != 0 ||
	    agent_parse_mac(mac, p.mac) != 0)
		return sluice_errf(AGENT_CORRUPT, errmsg, len, "agent: bad pod entry in state file");
	snprintf(p.name, sizeof(p.name), "%s", name);
	p.id = (uint32_t)id;
	p.port_id = (uint32_t)port_id;
	agent_pod_cmd(&p, 1, &c);
	if (ring_cmd_check(&c) != RING_BAD_OK || !agent_find_port(a, NULL, p.port_id) ||
	    agent_find_pod(a, p.name, 0) || agent_find_pod(a, NULL, p.id))
		return sluice_errf(AGENT_CORRUPT, errmsg, len, "agent: invalid pod %s in state file", name);
	if (agent_grow((void **)&a->pods, &a->cap_pods, a->n_pods, sizeof(p)) != 0)
		return AGENT_NOMEM;
	a->pods[a->n_pods++] = p;
	return AGENT_OK;
}

static int agent_load_route(struct agent *a, json_t *o, char *errmsg, size_t len)
{
	struct agent_route r = {0};
	const char *prefix = NULL, *mac = NULL, *encap = "none", *nh = NULL;
	json_int_t node = 0, port_id = 0, vni = 0;
	struct ring_cmd c;
	int e;

	if (json_unpack(o, "{s:s,s:I,s:I,s:s,s?s,s?I,s?s}", "prefix", &prefix, "node", &node,
			"port_id", &port_id, "nh_mac", &mac, "encap", &encap, "vni", &vni,
			"nexthop", &nh) != 0 ||
	    node <= 0 || node > UINT32_MAX || port_id < 0 || port_id > UINT32_MAX || vni < 0 ||
	    vni > UINT32_MAX ||
	    agent_parse_prefix(prefix, &r.family, r.prefix, &r.prefix_len) != 0 ||
	    agent_parse_mac(mac, r.nh_mac) != 0 || (e = agent_encap_parse(encap)) < 0 ||
	    (nh != NULL && agent_parse_ip(nh, &r.nh_family, r.nexthop) != 0))
		return sluice_errf(AGENT_CORRUPT, errmsg, len, "agent: bad route entry in state file");
	r.encap = (uint8_t)e;
	r.node_id = (uint32_t)node;
	r.port_id = (uint32_t)port_id;
	r.vni = (uint32_t)vni;
	agent_route_cmd(&r, 1, &c);
	/* port_id RING_PORT_UPLINK: via dp's configured uplink, no agent port. */
	if (ring_cmd_check(&c) != RING_BAD_OK ||
	    (r.port_id != RING_PORT_UPLINK && !agent_find_port(a, NULL, r.port_id)) ||
	    agent_find_route(a, r.family, r.prefix, r.prefix_len))
		return sluice_errf(AGENT_CORRUPT, errmsg, len, "agent: invalid route %s in state file", prefix);
	if (agent_grow((void **)&a->routes, &a->cap_routes, a->n_routes, sizeof(r)) != 0)
		return AGENT_NOMEM;
	a->routes[a->n_routes++] = r;
	return AGENT_OK;
}

static int agent_load(struct agent *a, char *errmsg, size_t len)
{
	json_error_t jerr;
	json_t *root = json_load_file(a->state_path, 0, &jerr), *v;
	json_int_t version = 0, gen = 0, next_id = 0;
	size_t i;
	int rc = AGENT_OK;

	if (root == NULL) {
		if (access(a->state_path, F_OK) != 0)
			return AGENT_OK; /* first start: empty state */
		return sluice_errf(AGENT_CORRUPT, errmsg, len, "agent: %s: %s (line %d)", a->state_path,
				  jerr.text, jerr.line);
	}
	if (json_unpack(root, "{s:I,s:I,s:I}", "version", &version, "generation", &gen, "next_id",
			&next_id) != 0 ||
	    version != AGENT_STATE_VERSION || gen < 0 || next_id < 1 || next_id > UINT32_MAX) {
		json_decref(root);
		return sluice_errf(AGENT_CORRUPT, errmsg, len,
				  "agent: %s: missing version/generation/next_id or version is not %d",
				  a->state_path, AGENT_STATE_VERSION);
	}
	a->generation = (uint64_t)gen;
	a->next_id = (uint32_t)next_id;
	json_array_foreach(json_object_get(root, "ports"), i, v)
		if (rc == AGENT_OK)
			rc = agent_load_port(a, v, errmsg, len);
	json_array_foreach(json_object_get(root, "pods"), i, v)
		if (rc == AGENT_OK)
			rc = agent_load_pod(a, v, errmsg, len);
	json_array_foreach(json_object_get(root, "routes"), i, v)
		if (rc == AGENT_OK)
			rc = agent_load_route(a, v, errmsg, len);
	if (rc == AGENT_OK)
		rc = agent_lb_load(a->lb, root, errmsg, len);
	json_decref(root);
	return rc;
}

/* ---- events and sending --------------------------------------------- */

static void agent_rollback(struct agent *a, const struct ring_cmd *c)
{
	switch (c->type) {
	case RING_CMD_PORT_ATTACH: {
		struct agent_port *p = agent_find_port(a, NULL, c->u.port.port_id);
		if (p != NULL)
			*p = a->ports[--a->n_ports];
		break;
	}
	case RING_CMD_POD_ADD: {
		struct agent_pod *p = agent_find_pod(a, NULL, c->u.pod.pod_id);
		if (p != NULL)
			*p = a->pods[--a->n_pods];
		break;
	}
	case RING_CMD_ROUTE_ADD: {
		struct agent_route *r = agent_find_route(a, c->u.route.family, c->u.route.prefix,
							  c->u.route.prefix_len);
		if (r != NULL)
			*r = a->routes[--a->n_routes];
		break;
	}
	default:
		/* services and backends; a delete dp could not do: it does
		 * not hold the entry */
		agent_lb_rollback(a->lb, c);
		break;
	}
}

static void agent_on_event(void *data, const struct ring_evt *e)
{
	struct agent *a = data;

	switch (e->type) {
	case RING_EVT_ACK: {
		/* Only error ACKs reach us. */
		a->dp_errors++;
		const struct ring_cmd *c = NULL;
		for (size_t i = 0; i < a->n_pending; i++)
			if (a->pending[i].seq == e->seq)
				c = &a->pending[i].cmd;
		char line[256];
		snprintf(line, sizeof(line), "sluice-dp refused %s (seq %llu): %s%s%s",
			 ring_cmd_type_name(e->u.ack.cmd_type), (unsigned long long)e->seq,
			 strerror(-e->u.ack.err), e->u.ack.reason ? ": " : "",
			 e->u.ack.reason ? ring_bad_str(e->u.ack.reason) : "");
		if (a->first_dp_error[0] == '\0')
			snprintf(a->first_dp_error, sizeof(a->first_dp_error), "%s", line);
		agent_logf(a, "agent: %s%s", line, c && !a->replaying ? "; rolled back" : "");
		if (c != NULL && !a->replaying)
			agent_rollback(a, c);
		break;
	}
	case RING_EVT_LINK: {
		struct agent_port *p = agent_find_port(a, NULL, e->u.link.port_id);
		agent_logf(a, "agent: port %s (id %u) link %s", p ? p->name : "?", e->u.link.port_id,
			   e->u.link.up ? "up" : "down");
		if (p != NULL)
			p->link_up = e->u.link.up;
		break;
	}
	case RING_EVT_STATS: {
		struct agent_port *p = agent_find_port(a, NULL, e->u.stats.port_id);
		if (p != NULL)
			p->stats = e->u.stats;
		break;
	}
	default:
		break; /* health: consumed by the LB issue */
	}
}

/*
 * Send c (seq assigned here) if dp is attached. Outside a batch, wait for
 * the ACK. *applied = 1 if dp applied it. Returns AGENT_OK or AGENT_DP.
 */
static int agent_send(struct agent *a, struct ring_cmd *c, int *applied, char *errmsg, size_t len)
{
	char rerr[256];

	if (applied != NULL)
		*applied = 0;
	if (a->rc == NULL || !ringc_connected(a->rc))
		return AGENT_OK; /* goes out with the next replay */
	c->generation = a->generation ? a->generation : 1;
	if (ringc_send(a->rc, c, rerr, sizeof(rerr)) != RINGC_OK) {
		agent_logf(a, "agent: %s not sent now, will be replayed: %s", ring_cmd_type_name(c->type), rerr);
		return AGENT_OK;
	}
	if (agent_grow((void **)&a->pending, &a->cap_pending, a->n_pending, sizeof(*a->pending)) == 0) {
		a->pending[a->n_pending].seq = c->seq;
		a->pending[a->n_pending].cmd = *c;
		a->n_pending++;
	}
	if (a->in_batch)
		return AGENT_OK;
	int rc = ringc_wait(a->rc, c->seq, NULL, NULL, rerr, sizeof(rerr));
	a->n_pending = 0;
	if (rc == RINGC_DPERR)
		return sluice_errf(AGENT_DP, errmsg, len, "%s", rerr);
	if (applied != NULL)
		*applied = rc == RINGC_OK;
	return AGENT_OK;
}

/* Persist unless batching. */
static int agent_commit(struct agent *a, char *errmsg, size_t len)
{
	return a->in_batch ? AGENT_OK : agent_save(a, errmsg, len);
}

/* ---- public API ----------------------------------------------------- */

struct agent *agent_create(const struct agent_params *params, char *errmsg, size_t len)
{
	struct agent *a;

	if (params->state_path == NULL || strlen(params->state_path) >= sizeof(a->state_path)) {
		sluice_errf(AGENT_INVAL, errmsg, len, "agent: state path missing or too long");
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		sluice_errf(AGENT_NOMEM, errmsg, len, "agent: out of memory");
		return NULL;
	}
	snprintf(a->state_path, sizeof(a->state_path), "%s", params->state_path);
	/* mkdir -p the state directory (/var/lib/sluice on a fresh node). */
	char dir[sizeof(a->state_path)];
	snprintf(dir, sizeof(dir), "%s", a->state_path);
	for (char *p = dir + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		(void)mkdir(dir, 0755);
		*p = '/';
	}
	a->rc = params->ringc;
	a->log = params->log;
	a->log_data = params->log_data;
	a->next_id = 1;
	a->lb = agent_lb_create(a);
	if (a->lb == NULL) {
		sluice_errf(AGENT_NOMEM, errmsg, len, "agent: out of memory");
		free(a);
		return NULL;
	}
	if (a->rc != NULL)
		ringc_set_event_cb(a->rc, agent_on_event, a);
	if (agent_load(a, errmsg, len) != AGENT_OK) {
		agent_free(a);
		return NULL;
	}
	agent_logf(a, "agent: state %s: %zu ports, %zu pods, %zu routes, generation %llu",
		   a->state_path, a->n_ports, a->n_pods, a->n_routes,
		   (unsigned long long)a->generation);
	return a;
}

void agent_free(struct agent *a)
{
	if (a == NULL)
		return;
	free(a->ports);
	free(a->pods);
	free(a->routes);
	free(a->pending);
	agent_lb_free(a->lb);
	free(a);
}

int agent_port_add(struct agent *a, const struct agent_port *in, uint32_t *id_out,
		   int *applied, char *errmsg, size_t len)
{
	struct agent_port p = *in;
	struct ring_cmd c;
	enum ring_bad why;
	int rc;

	if (agent_find_port(a, p.name, 0) != NULL)
		return sluice_errf(AGENT_EXIST, errmsg, len, "port %s exists", p.name);
	p.id = a->next_id;
	agent_port_cmd(&p, a->generation, &c);
	if ((why = ring_cmd_check(&c)) != RING_BAD_OK)
		return sluice_errf(AGENT_INVAL, errmsg, len, "port %s: %s", p.name, ring_bad_str(why));
	if (agent_grow((void **)&a->ports, &a->cap_ports, a->n_ports, sizeof(p)) != 0)
		return sluice_errf(AGENT_NOMEM, errmsg, len, "out of memory");
	p.link_up = -1;
	memset(&p.stats, 0, sizeof(p.stats));
	a->next_id++;
	a->ports[a->n_ports++] = p;
	if ((rc = agent_commit(a, errmsg, len)) != AGENT_OK) {
		a->n_ports--;
		return rc;
	}
	if (id_out != NULL)
		*id_out = p.id;
	rc = agent_send(a, &c, applied, errmsg, len);
	if (rc == AGENT_DP)
		(void)agent_commit(a, NULL, 0); /* persist the rollback */
	return rc;
}

int agent_port_del(struct agent *a, const char *name, int *applied, char *errmsg, size_t len)
{
	struct agent_port *p = agent_find_port(a, name, 0);
	struct ring_cmd c;

	if (p == NULL)
		return sluice_errf(AGENT_NOENT, errmsg, len, "no port %s", name);
	for (size_t i = 0; i < a->n_pods; i++)
		if (a->pods[i].port_id == p->id)
			return sluice_errf(AGENT_BUSY, errmsg, len, "port %s carries pod %s", name,
					  a->pods[i].name);
	for (size_t i = 0; i < a->n_routes; i++)
		if (a->routes[i].port_id == p->id)
			return sluice_errf(AGENT_BUSY, errmsg, len, "port %s carries a route", name);
	ring_cmd_init(&c, RING_CMD_PORT_DETACH, 1, 1);
	c.u.port_del.port_id = p->id;
	*p = a->ports[--a->n_ports];
	int rc = agent_commit(a, errmsg, len);
	if (rc != AGENT_OK)
		return rc;
	(void)agent_send(a, &c, applied, NULL, 0);
	return AGENT_OK; /* dp refusing a delete means it did not hold the port */
}

int agent_pod_add(struct agent *a, const struct agent_pod *in, uint32_t *id_out,
		  int *applied, char *errmsg, size_t len)
{
	struct agent_pod p = *in;
	struct ring_cmd c;
	enum ring_bad why;
	int rc;

	if (p.name[0] == '\0' || memchr(p.name, '\0', sizeof(p.name)) == NULL)
		return sluice_errf(AGENT_INVAL, errmsg, len, "pod name missing or too long");
	if (agent_find_pod(a, p.name, 0) != NULL)
		return sluice_errf(AGENT_EXIST, errmsg, len, "pod %s exists", p.name);
	if (agent_find_port(a, NULL, p.port_id) == NULL)
		return sluice_errf(AGENT_NOENT, errmsg, len, "pod %s: no port with id %u", p.name, p.port_id);
	for (size_t i = 0; i < a->n_pods; i++)
		if (a->pods[i].family == p.family && memcmp(a->pods[i].addr, p.addr, 16) == 0)
			return sluice_errf(AGENT_EXIST, errmsg, len, "pod %s has that address", a->pods[i].name);
	p.id = a->next_id;
	agent_pod_cmd(&p, a->generation, &c);
	if ((why = ring_cmd_check(&c)) != RING_BAD_OK)
		return sluice_errf(AGENT_INVAL, errmsg, len, "pod %s: %s", p.name, ring_bad_str(why));
	if (agent_grow((void **)&a->pods, &a->cap_pods, a->n_pods, sizeof(p)) != 0)
		return sluice_errf(AGENT_NOMEM, errmsg, len, "out of memory");
	a->next_id++;
	a->pods[a->n_pods++] = p;
	if ((rc = agent_commit(a, errmsg, len)) != AGENT_OK) {
		a->n_pods--;
		return rc;
	}
	if (id_out != NULL)
		*id_out = p.id;
	rc = agent_send(a, &c, applied, errmsg, len);
	if (rc == AGENT_DP)
		(void)agent_commit(a, NULL, 0);
	return rc;
}

int agent_pod_del(struct agent *a, const char *name, int *applied, char *errmsg, size_t len)
{
	struct agent_pod *p = agent_find_pod(a, name, 0);
	struct ring_cmd c;

	if (p == NULL)
		return sluice_errf(AGENT_NOENT, errmsg, len, "no pod %s", name);
	ring_cmd_init(&c, RING_CMD_POD_DEL, 1, 1);
	c.u.pod_del.pod_id = p->id;
	c.u.pod_del.family = p->family;
	memcpy(c.u.pod_del.addr, p->addr, 16);
	*p = a->pods[--a->n_pods];
	int rc = agent_commit(a, errmsg, len);
	if (rc != AGENT_OK)
		return rc;
	(void)agent_send(a, &c, applied, NULL, 0);
	return AGENT_OK;
}

int agent_route_add(struct agent *a, const struct agent_route *r, int *applied,
		    char *errmsg, size_t len)
{
	struct ring_cmd c;
	enum ring_bad why;
	char buf[64];
	int rc;

	agent_format_prefix(r->family, r->prefix, r->prefix_len, buf, sizeof(buf));
	agent_route_cmd(r, a->generation, &c);
	if ((why = ring_cmd_check(&c)) != RING_BAD_OK)
		return sluice_errf(AGENT_INVAL, errmsg, len, "route %s: %s", buf, ring_bad_str(why));
	if (r->port_id != RING_PORT_UPLINK && agent_find_port(a, NULL, r->port_id) == NULL)
		return sluice_errf(AGENT_NOENT, errmsg, len, "route %s: no port with id %u", buf, r->port_id);
	if (agent_find_route(a, r->family, r->prefix, r->prefix_len) != NULL)
		return sluice_errf(AGENT_EXIST, errmsg, len, "route %s exists", buf);
	if (agent_grow((void **)&a->routes, &a->cap_routes, a->n_routes, sizeof(*r)) != 0)
		return sluice_errf(AGENT_NOMEM, errmsg, len, "out of memory");
	a->routes[a->n_routes++] = *r;
	if ((rc = agent_commit(a, errmsg, len)) != AGENT_OK) {
		a->n_routes--;
		return rc;
	}
	rc = agent_send(a, &c, applied, errmsg, len);
	if (rc == AGENT_DP)
		(void)agent_commit(a, NULL, 0);
	return rc;
}

int agent_route_del(struct agent *a, uint8_t family, const uint8_t prefix[16],
		    uint8_t prefix_len, int *applied, char *errmsg, size_t len)
{
	struct agent_route *r = agent_find_route(a, family, prefix, prefix_len);
	struct ring_cmd c;

	if (r == NULL)
		return sluice_errf(AGENT_NOENT, errmsg, len, "no such route");
	ring_cmd_init(&c, RING_CMD_ROUTE_DEL, 1, 1);
	c.u.route_del.family = family;
	c.u.route_del.prefix_len = prefix_len;
	memcpy(c.u.route_del.prefix, prefix, 16);
	*r = a->routes[--a->n_routes];
	int rc = agent_commit(a, errmsg, len);
	if (rc != AGENT_OK)
		return rc;
	(void)agent_send(a, &c, applied, NULL, 0);
	return AGENT_OK;
}

void agent_batch_begin(struct agent *a)
{
	a->in_batch = 1;
	a->n_pending = 0;
	a->dp_errors = 0;
	a->first_dp_error[0] = '\0';
}

int agent_batch_end(struct agent *a, unsigned *dp_errors, char *errmsg, size_t len)
{
	int rc = AGENT_OK;

	if (a->rc != NULL && ringc_connected(a->rc) && a->n_pending > 0)
		(void)ringc_wait(a->rc, a->pending[a->n_pending - 1].seq, NULL, NULL, NULL, 0);
	a->in_batch = 0;
	a->n_pending = 0;
	if (dp_errors != NULL)
		*dp_errors = a->dp_errors;
	rc = agent_save(a, errmsg, len);
	if (rc == AGENT_OK && a->dp_errors > 0)
		rc = sluice_errf(AGENT_DP, errmsg, len, "%s", a->first_dp_error);
	return rc;
}

int agent_replay(struct agent *a, char *errmsg, size_t len)
{
	struct timespec t0, t1;
	struct ring_cmd c;
	char rerr[256];
	int rc;

	if (a->rc == NULL || !ringc_connected(a->rc))
		return sluice_errf(AGENT_DP, errmsg, len, "sluice-dp not connected");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	uint64_t dp_gen = ringc_dp_generation(a->rc);
	uint64_t gen = (a->generation > dp_gen ? a->generation : dp_gen) + 1;
	uint64_t old = a->generation;
	/* Persist first: a ctrl that dies mid-replay must pick a higher one. */
	a->generation = gen;
	if ((rc = agent_save(a, errmsg, len)) != AGENT_OK) {
		a->generation = old;
		return rc;
	}
	a->replaying = 1;
	a->dp_errors = 0;
	a->first_dp_error[0] = '\0';
	a->n_pending = 0;
	ring_cmd_init(&c, RING_CMD_SYNC_BEGIN, 1, gen);
	rc = ringc_send(a->rc, &c, rerr, sizeof(rerr));
	for (size_t i = 0; rc == RINGC_OK && i < a->n_ports; i++) {
		agent_port_cmd(&a->ports[i], gen, &c);
		rc = ringc_send(a->rc, &c, rerr, sizeof(rerr));
	}
	for (size_t i = 0; rc == RINGC_OK && i < a->n_pods; i++) {
		agent_pod_cmd(&a->pods[i], gen, &c);
		rc = ringc_send(a->rc, &c, rerr, sizeof(rerr));
	}
	for (size_t i = 0; rc == RINGC_OK && i < a->n_routes; i++) {
		agent_route_cmd(&a->routes[i], gen, &c);
		rc = ringc_send(a->rc, &c, rerr, sizeof(rerr));
	}
	if (rc == RINGC_OK)
		rc = agent_lb_replay(a->lb, a->rc, gen, rerr, sizeof(rerr));
	if (rc == RINGC_OK) {
		ring_cmd_init(&c, RING_CMD_SYNC_END, 1, gen);
		rc = ringc_send(a->rc, &c, rerr, sizeof(rerr));
	}
	if (rc == RINGC_OK)
		rc = ringc_wait(a->rc, c.seq, NULL, NULL, rerr, sizeof(rerr));
	a->replaying = 0;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	if (rc != RINGC_OK) {
		agent_logf(a, "agent: replay under generation %llu to sluice-dp pid %u failed after %.1f ms: %s",
			   (unsigned long long)gen, ringc_dp_pid(a->rc), ms, rerr);
		return sluice_errf(AGENT_DP, errmsg, len, "replay failed: %s", rerr);
	}
	agent_logf(a, "agent: replayed %zu ports, %zu pods, %zu routes to sluice-dp pid %u under generation %llu in %.1f ms (%u refused)",
		   a->n_ports, a->n_pods, a->n_routes, ringc_dp_pid(a->rc),
		   (unsigned long long)gen, ms, a->dp_errors);
	return AGENT_OK;
}

int agent_tick(struct agent *a)
{
	int fresh = 0;

	if (a->rc == NULL)
		return 0;
	if (!ringc_check(a->rc, &fresh))
		return 0;
	if (fresh)
		(void)agent_replay(a, NULL, 0);
	agent_lb_tick(a->lb); /* backend health checks */
	return ringc_connected(a->rc);
}

int agent_persist(struct agent *a, char *errmsg, size_t len)
{
	return agent_commit(a, errmsg, len);
}

int agent_send_cmd(struct agent *a, struct ring_cmd *c, int *applied, char *errmsg, size_t len)
{
	return agent_send(a, c, applied, errmsg, len);
}

void agent_log(struct agent *a, const char *line)
{
	agent_logf(a, "%s", line);
}

struct agent_lb *agent_lb_of(struct agent *a)
{
	return a->lb;
}

int agent_dp_connected(const struct agent *a)
{
	return a->rc != NULL && ringc_connected(a->rc);
}

size_t agent_n_ports(const struct agent *a)
{
	return a->n_ports;
}

size_t agent_n_pods(const struct agent *a)
{
	return a->n_pods;
}

size_t agent_n_routes(const struct agent *a)
{
	return a->n_routes;
}

uint64_t agent_generation(const struct agent *a)
{
	return a->generation;
}

const struct agent_pod *agent_pod_at(const struct agent *a, size_t i)
{
	return i < a->n_pods ? &a->pods[i] : NULL;
}

const struct agent_port *agent_port_at(const struct agent *a, size_t i)
{
	return i < a->n_ports ? &a->ports[i] : NULL;
}

const struct agent_route *agent_route_at(const struct agent *a, size_t i)
{
	return i < a->n_routes ? &a->routes[i] : NULL;
}
