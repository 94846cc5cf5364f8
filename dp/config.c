/*
 * dpcfg: see config.h. Each section has a table of the keys it accepts;
 * any other key is an error, so a typo ("gatway_ip") is reported instead
 * of silently defaulting. Reporting stops at the first error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"

const char *const dp_port_type_names[DP_PORT_TYPE_MAX] = {
	[DP_PORT_AF_XDP] = "af_xdp",
	[DP_PORT_AF_PACKET] = "af_packet",
	[DP_PORT_MEMIF] = "memif",
	[DP_PORT_TAP] = "tap",
	[DP_PORT_VHOST_USER] = "vhost_user",
	[DP_PORT_UPLINK] = "uplink",
};

#define DPCFG_OPT(f) offsetof(struct dp_params, f)

const struct dpcfg_opt dpcfg_opts[] = {
	{ "icmp_rate", NULL, 0, 1000000, 100, DPCFG_OPT(icmp_rate), 0,
	  "ICMP errors per second per worker, 0 = none" },
	{ "icmp_burst", NULL, 1, 10000, 10, DPCFG_OPT(icmp_burst), 0,
	  "ICMP error token bucket depth" },
	{ "idle_backoff_us", "--idle-backoff-us", 0, 100000, 200, DPCFG_OPT(idle_backoff_us), 1,
	  "max idle sleep of a worker in us, 0 = busy poll" },
};
const unsigned dpcfg_n_opts = sizeof(dpcfg_opts) / sizeof(dpcfg_opts[0]);

const struct dpcfg_opt *dpcfg_opt_find(const char *name)
{
	for (unsigned i = 0; i < dpcfg_n_opts; i++)
		if (strcmp(dpcfg_opts[i].name, name) == 0 ||
		    (dpcfg_opts[i].cli != NULL && strcmp(dpcfg_opts[i].cli, name) == 0))
			return &dpcfg_opts[i];
	return NULL;
}

int dpcfg_opt_parse(const struct dpcfg_opt *o, const char *s, uint32_t *out)
{
	long long v = 0;
	if (*s == '\0' || strlen(s) > 10)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (*s - '0');
	}
	if (v < o->min || v > o->max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

void dpcfg_opt_store(const struct dpcfg_opt *o, struct dp_params *p, uint32_t v)
{
	memcpy((char *)p + o->offset, &v, sizeof(v));
}

struct dpcfg_ctx {
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4)))
static int dpcfg_fail(struct dpcfg_ctx *c, const char *path, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(c->err, c->errlen, "%s: ", path);
	if (n >= 0 && (size_t)n < c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	errno = EINVAL;
	return -EINVAL;
}

int dpcfg_parse_mac(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		unsigned v = 0;
		for (int j = 0; j < 2; j++) {
			char ch = *s++;
			unsigned d;
			if (ch >= '0' && ch <= '9')
				d = (unsigned)(ch - '0');
			else if (ch >= 'a' && ch <= 'f')
				d = (unsigned)(ch - 'a' + 10);
			else if (ch >= 'A' && ch <= 'F')
				d = (unsigned)(ch - 'A' + 10);
			else
				return -EINVAL;
			v = v << 4 | d;
		}
		mac[i] = (uint8_t)v;
		if (i < 5 && *s++ != ':')
			return -EINVAL;
	}
	return *s == '\0' ? 0 : -EINVAL;
}

static int dpcfg_parse_ip(const char *s, uint32_t *ip)
{
	struct in_addr a;
	/* inet_pton accepts only dotted-quad decimal: no "10.1", no octal. */
	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*ip = a.s_addr;
	return 0;
}

static uint32_t dpcfg_mask(uint8_t depth)
{
	return depth == 0 ? 0 : htonl(0xffffffffu << (32 - depth));
}

int dpcfg_parse_prefix(const char *s, uint32_t *net, uint8_t *depth)
{
	char buf[32];
	const char *slash = strchr(s, '/');
	if (slash == NULL || (size_t)(slash - s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	if (dpcfg_parse_ip(buf, net) != 0)
		return -EINVAL;
	const char *d = slash + 1;
	unsigned v = 0;
	if (*d == '\0' || strlen(d) > 2)
		return -EINVAL;
	for (; *d; d++) {
		if (*d < '0' || *d > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(*d - '0');
	}
	if (v > 32)
		return -EINVAL;
	*depth = (uint8_t)v;
	if ((*net & ~dpcfg_mask(*depth)) != 0)
		return -EINVAL;
	return 0;
}

/* Reject keys outside @allowed (NULL-terminated). */
static int dpcfg_check_keys(struct dpcfg_ctx *c, json_t *obj, const char *path,
			    const char *const *allowed)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		int ok = 0;
		for (const char *const *a = allowed; *a; a++)
			if (strcmp(key, *a) == 0)
				ok = 1;
		if (!ok) {
			char p[160];
			snprintf(p, sizeof(p), "%s.%s", path, key);
			return dpcfg_fail(c, p, "unknown key");
		}
	}
	return 0;
}

static int dpcfg_get_str(struct dpcfg_ctx *c, json_t *obj, const char *path, const char *key,
			 int required, const char **out)
{
	char p[160];
	json_t *v = json_object_get(obj, key);
	snprintf(p, sizeof(p), "%s.%s", path, key);
	*out = NULL;
	if (v == NULL)
		return required ? dpcfg_fail(c, p, "missing") : 0;
	if (!json_is_string(v))
		return dpcfg_fail(c, p, "must be a string");
	*out = json_string_value(v);
	return 0;
}

static int dpcfg_get_int(struct dpcfg_ctx *c, json_t *obj, const char *path, const char *key,
			 long long lo, long long hi, long long dflt, long long *out)
{
	char p[160];
	json_t *v = json_object_get(obj, key);
	snprintf(p, sizeof(p), "%s.%s", path, key);
	*out = dflt;
	if (v == NULL)
		return 0;
	if (!json_is_integer(v))
		return dpcfg_fail(c, p, "must be an integer");
	long long x = json_integer_value(v);
	if (x < lo || x > hi)
		return dpcfg_fail(c, p, "must be in %lld..%lld", lo, hi);
	*out = x;
	return 0;
}

/* Copy a bounded string field; @what describes the bound in the message. */
static int dpcfg_copy(struct dpcfg_ctx *c, const char *path, const char *key, const char *s,
		      char *dst, size_t cap)
{
	char p[160];
	snprintf(p, sizeof(p), "%s.%s", path, key);
	size_t n = strlen(s);
	if (n == 0 || n >= cap)
		return dpcfg_fail(c, p, "must be 1..%zu characters", cap - 1);
	memcpy(dst, s, n + 1);
	return 0;
}

static int dpcfg_mac_field(struct dpcfg_ctx *c, json_t *obj, const char *path, const char *key,
			   uint8_t mac[6])
{
	const char *s;
	char p[160];
	if (dpcfg_get_str(c, obj, path, key, 1, &s))
		return -EINVAL;
	snprintf(p, sizeof(p), "%s.%s", path, key);
	if (dpcfg_parse_mac(s, mac) != 0)
		return dpcfg_fail(c, p, "must be a MAC xx:xx:xx:xx:xx:xx");
	if (mac[0] & 1)
		return dpcfg_fail(c, p, "must be a unicast MAC");
	return 0;
}

static int dpcfg_ip_field(struct dpcfg_ctx *c, json_t *obj, const char *path, const char *key,
			  uint32_t *ip)
{
	const char *s;
	char p[160];
	if (dpcfg_get_str(c, obj, path, key, 1, &s))
		return -EINVAL;
	snprintf(p, sizeof(p), "%s.%s", path, key);
	if (dpcfg_parse_ip(s, ip) != 0)
		return dpcfg_fail(c, p, "must be an IPv4 address a.b.c.d");
	return 0;
}

static int dpcfg_in_cidr(const struct dpcfg *cfg, uint32_t ip)
{
	return (ip & dpcfg_mask(cfg->node.pod_depth)) == cfg->node.pod_net;
}

static int dpcfg_node(struct dpcfg_ctx *c, json_t *root, struct dpcfg *cfg)
{
	static const char *const keys[] = { "pod_cidr", "gateway_ip", "gateway_mac",
					    "icmp_rate", "icmp_burst", "idle_backoff_us", NULL };
	json_t *n = json_object_get(root, "node");
	const char *s;
	long long v;

	if (n == NULL)
		return dpcfg_fail(c, "node", "missing");
	if (!json_is_object(n))
		return dpcfg_fail(c, "node", "must be an object");
	if (dpcfg_check_keys(c, n, "node", keys))
		return -EINVAL;
	if (dpcfg_get_str(c, n, "node", "pod_cidr", 1, &s))
		return -EINVAL;
	if (dpcfg_parse_prefix(s, &cfg->node.pod_net, &cfg->node.pod_depth) != 0 ||
	    cfg->node.pod_depth < 8)
		return dpcfg_fail(c, "node.pod_cidr",
				  "must be a.b.c.d/len with len 8..32 and no host bits");
	if (dpcfg_ip_field(c, n, "node", "gateway_ip", &cfg->node.gateway_ip))
		return -EINVAL;
	if (!dpcfg_in_cidr(cfg, cfg->node.gateway_ip))
		return dpcfg_fail(c, "node.gateway_ip", "must be inside node.pod_cidr");
	if (dpcfg_mac_field(c, n, "node", "gateway_mac", cfg->node.gateway_mac))
		return -EINVAL;
	for (unsigned i = 0; i < dpcfg_n_opts; i++) {
		const struct dpcfg_opt *o = &dpcfg_opts[i];
		if (dpcfg_get_int(c, n, "node", o->name, o->min, o->max, o->dflt, &v))
			return -EINVAL;
		dpcfg_opt_store(o, &cfg->node, (uint32_t)v);
	}
	return 0;
}

/* Port names become telemetry keys, which DPDK limits to [A-Za-z0-9_/]. */
static int dpcfg_port_name_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

static int dpcfg_find_port(const struct dpcfg *cfg, const char *name)
{
	for (unsigned i = 0; i < cfg->n_ports; i++)
		if (strcmp(cfg->ports[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int dpcfg_port(struct dpcfg_ctx *c, json_t *o, const char *path, struct dpcfg *cfg,
		      struct dp_port_params *p)
{
	static const char *const keys[] = { "name", "type", "iface", "socket", "role", "id",
					    "client", NULL };
	const char *s;
	char fp[160];
	long long v;

	if (!json_is_object(o))
		return dpcfg_fail(c, path, "must be an object");
	if (dpcfg_check_keys(c, o, path, keys))
		return -EINVAL;
	if (dpcfg_get_str(c, o, path, "name", 1, &s) ||
	    dpcfg_copy(c, path, "name", s, p->name, sizeof(p->name)))
		return -EINVAL;
	snprintf(fp, sizeof(fp), "%s.name", path);
	if (!dpcfg_port_name_ok(p->name))
		return dpcfg_fail(c, fp, "must use only A-Z a-z 0-9 _");
	if (dpcfg_find_port(cfg, p->name) >= 0)
		return dpcfg_fail(c, fp, "duplicate port name \"%s\"", p->name);

	if (dpcfg_get_str(c, o, path, "type", 1, &s))
		return -EINVAL;
	p->type = DP_PORT_TYPE_MAX;
	for (int t = 0; t < DP_PORT_TYPE_MAX; t++)
		if (strcmp(s, dp_port_type_names[t]) == 0)
			p->type = (enum dp_port_type)t;
	snprintf(fp, sizeof(fp), "%s.type", path);
	if (p->type == DP_PORT_TYPE_MAX)
		return dpcfg_fail(c, fp, "must be one of af_xdp, af_packet, memif, tap, "
				  "vhost_user, uplink");

	/* Each type has exactly the keys it uses. */
	const char *need = NULL, *forbid[4] = { NULL };
	switch (p->type) {
	case DP_PORT_AF_XDP: case DP_PORT_AF_PACKET: case DP_PORT_TAP: case DP_PORT_UPLINK:
		need = "iface";
		forbid[0] = "socket"; forbid[1] = "role"; forbid[2] = "id"; forbid[3] = "client";
		break;
	case DP_PORT_MEMIF:
		need = "socket";
		forbid[0] = "iface"; forbid[1] = "client";
		break;
	case DP_PORT_VHOST_USER:
		need = "socket";
		forbid[0] = "iface"; forbid[1] = "role"; forbid[2] = "id";
		break;
	case DP_PORT_TYPE_MAX:
		break;
	}
	for (int i = 0; i < 4 && forbid[i]; i++) {
		if (json_object_get(o, forbid[i]) != NULL) {
			snprintf(fp, sizeof(fp), "%s.%s", path, forbid[i]);
			return dpcfg_fail(c, fp, "not valid for type %s", dp_port_type_names[p->type]);
		}
	}
	if (dpcfg_get_str(c, o, path, need, 1, &s))
		return -EINVAL;
	if (strcmp(need, "iface") == 0) {
		if (dpcfg_copy(c, path, "iface", s, p->iface, sizeof(p->iface)))
			return -EINVAL;
		snprintf(fp, sizeof(fp), "%s.iface", path);
		/* iface lands in a vdev argument string: keep kvargs separators out */
		if (strpbrk(p->iface, ",=/ ") != NULL)
			return dpcfg_fail(c, fp, "must not contain , = / or space");
	} else {
		if (dpcfg_copy(c, path, "socket", s, p->socket, sizeof(p->socket)))
			return -EINVAL;
		snprintf(fp, sizeof(fp), "%s.socket", path);
		if (p->socket[0] != '/' || strpbrk(p->socket, ",= ") != NULL)
			return dpcfg_fail(c, fp, "must be an absolute path without , = or space");
	}
	if (p->type == DP_PORT_MEMIF) {
		p->memif_server = 1;
		if (dpcfg_get_str(c, o, path, "role", 0, &s))
			return -EINVAL;
		if (s != NULL) {
			snprintf(fp, sizeof(fp), "%s.role", path);
			if (strcmp(s, "server") == 0)
				p->memif_server = 1;
			else if (strcmp(s, "client") == 0)
				p->memif_server = 0;
			else
				return dpcfg_fail(c, fp, "must be \"server\" or \"client\"");
		}
		if (dpcfg_get_int(c, o, path, "id", 0, 65535, 0, &v))
			return -EINVAL;
		p->memif_id = (uint32_t)v;
	}
	if (p->type == DP_PORT_VHOST_USER) {
		json_t *cl = json_object_get(o, "client");
		snprintf(fp, sizeof(fp), "%s.client", path);
		if (cl != NULL && !json_is_boolean(cl))
			return dpcfg_fail(c, fp, "must be true or false");
		p->vhost_client = cl != NULL && json_is_true(cl);
	}
	return 0;
}

static int dpcfg_port_ref(struct dpcfg_ctx *c, json_t *o, const char *path,
			  const struct dpcfg *cfg, char *dst)
{
	const char *s;
	char fp[160];
	if (dpcfg_get_str(c, o, path, "port", 1, &s))
		return -EINVAL;
	snprintf(fp, sizeof(fp), "%s.port", path);
	if (dpcfg_find_port(cfg, s) < 0)
		return dpcfg_fail(c, fp, "no port named \"%.32s\"", s);
	memcpy(dst, s, strlen(s) + 1); /* found, so shorter than DP_NAME_MAX */
	return 0;
}

static int dpcfg_pods(struct dpcfg_ctx *c, json_t *root, struct dpcfg *cfg)
{
	static const char *const keys[] = { "ip", "mac", "port", NULL };
	json_t *a = json_object_get(root, "pods");
	char path[64];

	if (a == NULL)
		return 0;
	if (!json_is_array(a))
		return dpcfg_fail(c, "pods", "must be an array");
	if (json_array_size(a) > DP_MAX_PODS)
		return dpcfg_fail(c, "pods", "at most %d entries", DP_MAX_PODS);
	cfg->pods = calloc(json_array_size(a) + 1, sizeof(*cfg->pods));
	if (cfg->pods == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < json_array_size(a); i++) {
		json_t *o = json_array_get(a, i);
		struct dpcfg_pod *p = &cfg->pods[i];
		snprintf(path, sizeof(path), "pods[%zu]", i);
		if (!json_is_object(o))
			return dpcfg_fail(c, path, "must be an object");
		if (dpcfg_check_keys(c, o, path, keys) || dpcfg_ip_field(c, o, path, "ip", &p->ip) ||
		    dpcfg_mac_field(c, o, path, "mac", p->mac) ||
		    dpcfg_port_ref(c, o, path, cfg, p->port))
			return -EINVAL;
		char fp[80];
		snprintf(fp, sizeof(fp), "%s.ip", path);
		if (!dpcfg_in_cidr(cfg, p->ip))
			return dpcfg_fail(c, fp, "must be inside node.pod_cidr");
		if (p->ip == cfg->node.gateway_ip)
			return dpcfg_fail(c, fp, "is the gateway IP");
		/* Quadratic, but bounded and only at load; keeps the check simple. */
		for (size_t j = 0; j < i && i < 4096; j++)
			if (cfg->pods[j].ip == p->ip)
				return dpcfg_fail(c, fp, "duplicate of pods[%zu].ip", j);
		cfg->n_pods = (unsigned)i + 1;
	}
	return 0;
}

/* "uplink": the node's underlay NIC and the cluster's overlay mode
 * (docs/dp-config.md, docs/multinode.md). Parsed before routes, which
 * may name underlay next hops ("via"). */
static int dpcfg_uplink(struct dpcfg_ctx *c, json_t *root, struct dpcfg *cfg)
{
	static const char *const keys[] = { "port", "ip", "mode", "vni", "vxlan_port", "gateway",
					    "cluster_cidr", NULL };
	json_t *u = json_object_get(root, "uplink");
	struct dp_uplink_params *up = &cfg->uplink;
	const char *s;
	long long v;

	if (u == NULL)
		return 0;
	if (!json_is_object(u))
		return dpcfg_fail(c, "uplink", "must be an object");
	if (dpcfg_check_keys(c, u, "uplink", keys) ||
	    dpcfg_port_ref(c, u, "uplink", cfg, up->port) ||
	    dpcfg_ip_field(c, u, "uplink", "ip", &up->ip))
		return -EINVAL;
	if (cfg->ports[dpcfg_find_port(cfg, up->port)].type != DP_PORT_UPLINK)
		return dpcfg_fail(c, "uplink.port", "must name a port of type uplink");
	const uint8_t *b = (const uint8_t *)&up->ip;
	if (up->ip == 0 || up->ip == 0xffffffffu || (b[0] & 0xf0) == 0xe0 || b[0] == 127)
		return dpcfg_fail(c, "uplink.ip", "must be a unicast address (the node's underlay IP)");
	if (dpcfg_in_cidr(cfg, up->ip))
		return dpcfg_fail(c, "uplink.ip", "must be outside node.pod_cidr");
	if (dpcfg_get_str(c, u, "uplink", "mode", 0, &s))
		return -EINVAL;
	up->mode = DP_OVERLAY_VXLAN;
	if (s != NULL) {
		if (strcmp(s, "direct") == 0)
			up->mode = DP_OVERLAY_DIRECT;
		else if (strcmp(s, "vxlan") != 0)
			return dpcfg_fail(c, "uplink.mode", "must be \"direct\" or \"vxlan\"");
	}
	if (json_object_get(u, "gateway") != NULL) {
		if (dpcfg_ip_field(c, u, "uplink", "gateway", &up->gateway))
			return -EINVAL;
		b = (const uint8_t *)&up->gateway;
		if (up->gateway == 0 || up->gateway == 0xffffffffu || (b[0] & 0xf0) == 0xe0 ||
		    up->gateway == up->ip)
			return dpcfg_fail(c, "uplink.gateway", "must be another unicast address");
	}
	if (dpcfg_get_str(c, u, "uplink", "cluster_cidr", 0, &s))
		return -EINVAL;
	if (s != NULL) {
		uint32_t m;
		if (dpcfg_parse_prefix(s, &up->cluster_net, &up->cluster_depth) != 0 ||
		    up->cluster_depth < 1)
			return dpcfg_fail(c, "uplink.cluster_cidr",
					  "must be a.b.c.d/len with len 1..32 and no host bits");
		m = dpcfg_mask(up->cluster_depth);
		if ((cfg->node.pod_net & m) != up->cluster_net || cfg->node.pod_depth < up->cluster_depth)
			return dpcfg_fail(c, "uplink.cluster_cidr", "must contain node.pod_cidr");
		if ((up->ip & m) == up->cluster_net)
			return dpcfg_fail(c, "uplink.cluster_cidr", "must not contain uplink.ip");
	}
	if (dpcfg_get_int(c, u, "uplink", "vni", 1, 16777215, 1, &v))
		return -EINVAL;
	up->vni = (uint32_t)v;
	if (dpcfg_get_int(c, u, "uplink", "vxlan_port", 1, 65535, 4789, &v))
		return -EINVAL;
	up->vxlan_port = (uint16_t)v;
	if (up->mode == DP_OVERLAY_DIRECT) {
		if (json_object_get(u, "vni") != NULL)
			return dpcfg_fail(c, "uplink.vni", "only with mode vxlan");
		if (json_object_get(u, "vxlan_port") != NULL)
			return dpcfg_fail(c, "uplink.vxlan_port", "only with mode vxlan");
		up->vni = 0;
	}
	cfg->has_uplink = 1;
	return 0;
}

static int dpcfg_routes(struct dpcfg_ctx *c, json_t *root, struct dpcfg *cfg)
{
	static const char *const keys[] = { "prefix", "port", "next_hop_mac", "via", NULL };
	json_t *a = json_object_get(root, "routes");
	char path[64], fp[80];
	const char *s;

	if (a == NULL)
		return 0;
	if (!json_is_array(a))
		return dpcfg_fail(c, "routes", "must be an array");
	if (json_array_size(a) > DP_MAX_ROUTES)
		return dpcfg_fail(c, "routes", "at most %d entries", DP_MAX_ROUTES);
	cfg->routes = calloc(json_array_size(a) + 1, sizeof(*cfg->routes));
	if (cfg->routes == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < json_array_size(a); i++) {
		json_t *o = json_array_get(a, i);
		struct dpcfg_route *r = &cfg->routes[i];
		snprintf(path, sizeof(path), "routes[%zu]", i);
		if (!json_is_object(o))
			return dpcfg_fail(c, path, "must be an object");
		if (dpcfg_check_keys(c, o, path, keys) ||
		    dpcfg_get_str(c, o, path, "prefix", 1, &s))
			return -EINVAL;
		snprintf(fp, sizeof(fp), "%s.prefix", path);
		if (dpcfg_parse_prefix(s, &r->prefix, &r->depth) != 0)
			return dpcfg_fail(c, fp, "must be a.b.c.d/len with len 0..32 and no host bits");
		/* rte_lpm has no depth 0: a default route is 0.0.0.0/1 + 128.0.0.0/1 */
		if (r->depth == 0)
			return dpcfg_fail(c, fp, "length 0 unsupported, use 0.0.0.0/1 and 128.0.0.0/1");
		for (size_t j = 0; j < i; j++)
			if (cfg->routes[j].prefix == r->prefix && cfg->routes[j].depth == r->depth)
				return dpcfg_fail(c, fp, "duplicate of routes[%zu].prefix", j);
		if (json_object_get(o, "via") != NULL) {
			/* behind another node: out the uplink, next hop by ARP */
			snprintf(fp, sizeof(fp), "%s.via", path);
			if (!cfg->has_uplink)
				return dpcfg_fail(c, fp, "needs an \"uplink\" section");
			if (json_object_get(o, "port") != NULL || json_object_get(o, "next_hop_mac") != NULL)
				return dpcfg_fail(c, fp, "excludes port and next_hop_mac");
			if (dpcfg_ip_field(c, o, path, "via", &r->via))
				return -EINVAL;
			const uint8_t *b = (const uint8_t *)&r->via;
			if (r->via == 0 || r->via == 0xffffffffu || (b[0] & 0xf0) == 0xe0 ||
			    r->via == cfg->uplink.ip)
				return dpcfg_fail(c, fp, "must be another node's unicast underlay IP");
			if (dpcfg_in_cidr(cfg, r->prefix))
				return dpcfg_fail(c, fp, "prefix is inside node.pod_cidr (this node's own)");
		} else if (dpcfg_mac_field(c, o, path, "next_hop_mac", r->mac) ||
			   dpcfg_port_ref(c, o, path, cfg, r->port)) {
			return -EINVAL;
		}
		cfg->n_routes = (unsigned)i + 1;
	}
	return 0;
}

static int dpcfg_host(struct dpcfg_ctx *c, json_t *root, struct dpcfg *cfg)
{
	static const char *const keys[] = { "port", "ip", NULL };
	json_t *h = json_object_get(root, "host");
	if (h == NULL)
		return 0;
	if (!json_is_object(h))
		return dpcfg_fail(c, "host", "must be an object");
	if (dpcfg_check_keys(c, h, "host", keys) ||
	    dpcfg_port_ref(c, h, "host", cfg, cfg->host_port) ||
	    dpcfg_ip_field(c, h, "host", "ip", &cfg->host_ip))
		return -EINVAL;
	if (cfg->ports[dpcfg_find_port(cfg, cfg->host_port)].type != DP_PORT_TAP)
		return dpcfg_fail(c, "host.port", "must name a port of type tap");
	if (cfg->host_ip == cfg->node.gateway_ip)
		return dpcfg_fail(c, "host.ip", "is the gateway IP");
	for (unsigned i = 0; i < cfg->n_pods; i++)
		if (cfg->pods[i].ip == cfg->host_ip)
			return dpcfg_fail(c, "host.ip", "is also pods[%u].ip", i);
	cfg->has_host = 1;
	return 0;
}

static int dpcfg_build(struct dpcfg_ctx *c, json_t *root, struct dpcfg *cfg)
{
	static const char *const keys[] = { "node", "ports", "pods", "routes", "host", "uplink",
					    NULL };
	char path[64];

	if (!json_is_object(root))
		return dpcfg_fail(c, "(root)", "must be an object");
	if (dpcfg_check_keys(c, root, "(root)", keys) || dpcfg_node(c, root, cfg))
		return -EINVAL;
	json_t *ports = json_object_get(root, "ports");
	if (ports == NULL)
		return dpcfg_fail(c, "ports", "missing");
	if (!json_is_array(ports) || json_array_size(ports) == 0 ||
	    json_array_size(ports) > DP_MAX_PORTS)
		return dpcfg_fail(c, "ports", "must be an array of 1..%d ports", DP_MAX_PORTS);
	for (size_t i = 0; i < json_array_size(ports); i++) {
		snprintf(path, sizeof(path), "ports[%zu]", i);
		if (dpcfg_port(c, json_array_get(ports, i), path, cfg, &cfg->ports[i]))
			return -EINVAL;
		cfg->n_ports = (unsigned)i + 1;
	}
	int rc = dpcfg_pods(c, root, cfg);
	if (rc == 0)
		rc = dpcfg_uplink(c, root, cfg);
	if (rc == 0)
		rc = dpcfg_routes(c, root, cfg);
	if (rc == 0)
		rc = dpcfg_host(c, root, cfg);
	return rc;
}

struct dpcfg *dpcfg_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct dpcfg_ctx c = { .err = err, .errlen = errlen };
	json_error_t jerr;
	char tmp[1];

	if (c.errlen == 0) {
		c.err = tmp;
		c.errlen = sizeof(tmp);
	}
	c.err[0] = '\0';
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(c.err, c.errlen, "json: line %d column %d: %s", jerr.line, jerr.column,
			 jerr.text);
		errno = EINVAL;
		return NULL;
	}
	struct dpcfg *cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL) {
		json_decref(root);
		errno = ENOMEM;
		return NULL;
	}
	int rc = dpcfg_build(&c, root, cfg);
	json_decref(root);
	if (rc != 0) {
		dpcfg_free(cfg);
		if (rc == -ENOMEM)
			snprintf(c.err, c.errlen, "out of memory");
		errno = -rc;
		return NULL;
	}
	return cfg;
}

struct dpcfg *dpcfg_load(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		errno = e;
		return NULL;
	}
	/* Configs are small; 16 MiB bounds a runaway file. */
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	while (buf != NULL) {
		n += fread(buf + n, 1, cap - n, f);
		if (n < cap || cap >= (16u << 20))
			break;
		char *nb = realloc(buf, cap * 2);
		if (nb == NULL) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = nb;
		cap *= 2;
	}
	int bad = ferror(f);
	fclose(f);
	if (buf == NULL || bad) {
		free(buf);
		snprintf(err, errlen, "%s: %s", path, bad ? "read error" : "out of memory");
		errno = bad ? EIO : ENOMEM;
		return NULL;
	}
	struct dpcfg *cfg = dpcfg_parse(buf, n, err, errlen);
	free(buf);
	return cfg;
}

void dpcfg_free(struct dpcfg *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->pods);
	free(cfg->routes);
	free(cfg);
}
