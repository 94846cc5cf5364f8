/*
 * ipc: JSON request dispatch and the nanomsg REP socket (ctrl/ipc.h).
 *
 * Requests are parsed with jansson's strict decoder (no duplicate keys,
 * a size cap before parsing), then each field is unpacked with an exact
 * format so a wrong type is an error, never a default. "batch" runs a list
 * of operations with one fsync and one wait for dp at the end, which is
 * what makes thousands of pods or routes per second possible.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>

#include "agent.h"
#include "agent_cni.h"
#include "agent_lb.h"
#include "agent_text.h"
#include "ipc.h"

struct ipc {
	int sock;
	int fd;
	struct agent *agent;
	const struct agent_cni_config *cni;
};

static json_t *ipc_error(int err, const char *detail)
{
	return json_pack("{s:b,s:s,s:s}", "ok", 0, "error", agent_strerror(err), "detail",
			 detail ? detail : "");
}

static int ipc_copy_str(char *dst, size_t size, const char *src)
{
	if (src == NULL)
		src = "";
	if (strlen(src) >= size)
		return -1;
	memset(dst, 0, size);
	memcpy(dst, src, strlen(src));
	return 0;
}

/* One operation; returns a reply object ({"ok":...}). */
static json_t *ipc_op(struct agent *a, json_t *req)
{
	char err[256] = "";
	const char *op = NULL;
	int applied = 0, rc;
	uint32_t id = 0;

	if (!json_is_object(req) || json_unpack(req, "{s:s}", "op", &op) != 0)
		return ipc_error(AGENT_INVAL, "request must be an object with a string \"op\"");
	/* services: svc.add, svc.del, backend.set, services (ctrl/agent_lb.c) */
	json_t *lb_reply = agent_lb_ipc(agent_lb_of(a), op, req);
	if (lb_reply != NULL)
		return lb_reply;

	if (strcmp(op, "port_add") == 0) {
		struct agent_port p = {0};
		const char *name, *kind, *ifname = NULL, *path = NULL;
		int role = 0;
		if (json_unpack(req, "{s:s,s:s,s:s,s?s,s?s,s?i}", "op", &op, "name", &name, "kind",
				&kind, "ifname", &ifname, "path", &path, "role", &role) != 0 ||
		    ipc_copy_str(p.name, sizeof(p.name), name) || ipc_copy_str(p.ifname, sizeof(p.ifname), ifname) ||
		    ipc_copy_str(p.path, sizeof(p.path), path) || role < 0 || role > 1)
			return ipc_error(AGENT_INVAL, "port_add: name, kind, [ifname], [path], [role 0|1]; strings too long?");
		p.kind = (uint8_t)ring_port_kind_parse(kind);
		p.role = (uint8_t)role;
		rc = agent_port_add(a, &p, &id, &applied, err, sizeof(err));
	} else if (strcmp(op, "port_del") == 0) {
		const char *name;
		if (json_unpack(req, "{s:s,s:s}", "op", &op, "name", &name) != 0)
			return ipc_error(AGENT_INVAL, "port_del: name");
		rc = agent_port_del(a, name, &applied, err, sizeof(err));
	} else if (strcmp(op, "pod_add") == 0) {
		struct agent_pod p = {0};
		const char *name, *ip, *mac, *port;
		if (json_unpack(req, "{s:s,s:s,s:s,s:s,s:s}", "op", &op, "name", &name, "ip", &ip,
				"mac", &mac, "port", &port) != 0 ||
		    ipc_copy_str(p.name, sizeof(p.name), name) ||
		    agent_parse_ip(ip, &p.family, p.addr) != 0 || agent_parse_mac(mac, p.mac) != 0)
			return ipc_error(AGENT_INVAL, "pod_add: name, ip, mac (aa:bb:cc:dd:ee:ff), port");
		p.port_id = agent_port_id(a, port);
		if (p.port_id == 0)
			return ipc_error(AGENT_NOENT, "pod_add: no such port");
		rc = agent_pod_add(a, &p, &id, &applied, err, sizeof(err));
	} else if (strcmp(op, "pod_del") == 0) {
		const char *name;
		if (json_unpack(req, "{s:s,s:s}", "op", &op, "name", &name) != 0)
			return ipc_error(AGENT_INVAL, "pod_del: name");
		rc = agent_pod_del(a, name, &applied, err, sizeof(err));
	} else if (strcmp(op, "route_add") == 0) {
		struct agent_route r = {0};
		/* No port: via dp's configured uplink (RING_PORT_UPLINK), which
		 * resolves the next hop's MAC itself, so nh_mac stays zero. */
		const char *prefix, *port = NULL, *mac = NULL, *encap = "none", *nh = NULL;
		json_int_t node, vni = 0;
		int e;
		if (json_unpack(req, "{s:s,s:s,s:I,s?s,s?s,s?s,s?s,s?I}", "op", &op, "prefix", &prefix,
				"node", &node, "port", &port, "nh_mac", &mac, "encap", &encap, "nexthop",
				&nh, "vni", &vni) != 0 ||
		    agent_parse_prefix(prefix, &r.family, r.prefix, &r.prefix_len) != 0 ||
		    (port != NULL) != (mac != NULL) ||
		    (mac != NULL && agent_parse_mac(mac, r.nh_mac) != 0) || (e = agent_encap_parse(encap)) < 0 ||
		    node < 0 || node > UINT32_MAX || vni < 0 || vni > UINT32_MAX ||
		    (nh != NULL && agent_parse_ip(nh, &r.nh_family, r.nexthop) != 0))
			return ipc_error(AGENT_INVAL, "route_add: prefix (a.b.c.d/n, no host bits), node, port and nh_mac (or neither: via the uplink), [encap], [nexthop], [vni]");
		r.encap = (uint8_t)e;
		r.node_id = (uint32_t)node;
		r.vni = (uint32_t)vni;
		r.port_id = port ? agent_port_id(a, port) : RING_PORT_UPLINK;
		if (port != NULL && r.port_id == 0)
			return ipc_error(AGENT_NOENT, "route_add: no such port");
		rc = agent_route_add(a, &r, &applied, err, sizeof(err));
	} else if (strcmp(op, "route_del") == 0) {
		const char *prefix;
		uint8_t fam, addr[16], plen;
		if (json_unpack(req, "{s:s,s:s}", "op", &op, "prefix", &prefix) != 0 ||
		    agent_parse_prefix(prefix, &fam, addr, &plen) != 0)
			return ipc_error(AGENT_INVAL, "route_del: prefix");
		rc = agent_route_del(a, fam, addr, plen, &applied, err, sizeof(err));
	} else if (strcmp(op, "status") == 0) {
		return json_pack("{s:b,s:I,s:I,s:I,s:I}", "ok", 1, "generation",
				 (json_int_t)agent_generation(a), "ports", (json_int_t)agent_n_ports(a),
				 "pods", (json_int_t)agent_n_pods(a), "routes",
				 (json_int_t)agent_n_routes(a));
	} else if (strcmp(op, "ports") == 0) {
		json_t *arr = json_array();
		for (size_t i = 0; i < agent_n_ports(a); i++) {
			const struct agent_port *p = agent_port_at(a, i);
			json_array_append_new(arr, json_pack("{s:s,s:I,s:s,s:s,s:s,s:i,s:I,s:I,s:I,s:I}",
				"name", p->name, "id", (json_int_t)p->id, "kind", ring_port_kind_name(p->kind),
				"ifname", p->ifname, "path", p->path, "link", p->link_up,
				"rx_pkts", (json_int_t)p->stats.rx_pkts, "tx_pkts", (json_int_t)p->stats.tx_pkts,
				"rx_drops", (json_int_t)p->stats.rx_drops, "tx_drops", (json_int_t)p->stats.tx_drops));
		}
		return json_pack("{s:b,s:o}", "ok", 1, "ports", arr);
	} else if (strcmp(op, "pods") == 0) {
		json_t *arr = json_array();
		char ip[64], mac[32];
		for (size_t i = 0; i < agent_n_pods(a); i++) {
			const struct agent_pod *p = agent_pod_at(a, i);
			const struct agent_port *port = agent_port_by_id(a, p->port_id);
			agent_format_ip(p->family, p->addr, ip, sizeof(ip));
			agent_format_mac(p->mac, mac, sizeof(mac));
			json_array_append_new(arr, json_pack("{s:s,s:I,s:s,s:s,s:s}", "name", p->name, "id",
							     (json_int_t)p->id, "ip", ip, "mac", mac, "port",
							     port ? port->name : "?"));
		}
		return json_pack("{s:b,s:o}", "ok", 1, "pods", arr);
	} else {
		return ipc_error(AGENT_INVAL, "unknown op");
	}
	if (rc != AGENT_OK)
		return ipc_error(rc, err);
	json_t *ok = json_pack("{s:b,s:b}", "ok", 1, "applied", applied);
	if (id != 0)
		json_object_set_new(ok, "id", json_integer(id));
	return ok;
}

static json_t *ipc_batch(struct agent *a, json_t *ops)
{
	json_t *results = json_array(), *op;
	char err[256] = "";
	unsigned dp_errors = 0;
	size_t i;

	agent_batch_begin(a);
	json_array_foreach(ops, i, op) {
		const char *name = NULL;
		if (json_is_object(op) && json_unpack(op, "{s:s}", "op", &name) == 0 &&
		    strcmp(name, "batch") == 0)
			json_array_append_new(results, ipc_error(AGENT_INVAL, "nested batch"));
		else
			json_array_append_new(results, ipc_op(a, op));
	}
	int rc = agent_batch_end(a, &dp_errors, err, sizeof(err));
	json_t *reply = json_pack("{s:b,s:o,s:i}", "ok", rc == AGENT_OK, "results", results,
				  "dp_errors", dp_errors);
	if (rc != AGENT_OK) {
		json_object_set_new(reply, "error", json_string(agent_strerror(rc)));
		json_object_set_new(reply, "detail", json_string(err));
	}
	return reply;
}

char *ipc_handle(struct agent *a, const struct agent_cni_config *cni, const char *req,
		 size_t len)
{
	json_error_t jerr;
	json_t *root, *reply, *ops;

	if (len > IPC_MAX_REQUEST) {
		reply = ipc_error(AGENT_INVAL, "request too large");
	} else if ((root = json_loadb(req, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		reply = ipc_error(AGENT_INVAL, jerr.text);
	} else {
		const char *op = NULL;
		if (json_is_object(root) && json_unpack(root, "{s:s}", "op", &op) == 0 &&
		    strncmp(op, "cni.", 4) == 0) {
			reply = agent_cni_handle(a, cni, root);
		} else if (json_is_object(root) && json_unpack(root, "{s:s}", "op", &op) == 0 &&
			   strcmp(op, "batch") == 0) {
			ops = json_object_get(root, "ops");
			reply = json_is_array(ops) ? ipc_batch(a, ops)
						   : ipc_error(AGENT_INVAL, "batch: ops must be an array");
		} else {
			reply = ipc_op(a, root);
		}
		json_decref(root);
	}
	char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
	json_decref(reply);
	return text;
}

struct ipc *ipc_create(const struct ipc_params *params, char *errmsg, size_t len)
{
	const char *url = params->url ? params->url : IPC_DEFAULT_URL;
	struct ipc *ipc = calloc(1, sizeof(*ipc));
	size_t fdsz = sizeof(int);

	if (ipc == NULL) {
		snprintf(errmsg, len, "ipc: out of memory");
		return NULL;
	}
	ipc->agent = params->agent;
	ipc->cni = params->cni;
	ipc->sock = nn_socket(AF_SP, NN_REP);
	if (ipc->sock < 0) {
		snprintf(errmsg, len, "ipc: nn_socket: %s", nn_strerror(nn_errno()));
		free(ipc);
		return NULL;
	}
	/* nanomsg's ipc:// needs the socket's directory; a stale socket file is replaced. */
	if (strncmp(url, "ipc://", 6) == 0) {
		char dir[512];
		snprintf(dir, sizeof(dir), "%s", url + 6);
		char *slash = strrchr(dir, '/');
		if (slash != NULL && slash != dir) {
			*slash = '\0';
			(void)mkdir(dir, 0755);
		}
	}
	int maxsz = (int)IPC_MAX_REQUEST; /* batches of thousands of routes exceed the 1 MiB default */
	if (nn_setsockopt(ipc->sock, NN_SOL_SOCKET, NN_RCVMAXSIZE, &maxsz, sizeof(maxsz)) < 0 ||
	    nn_bind(ipc->sock, url) < 0 ||
	    nn_getsockopt(ipc->sock, NN_SOL_SOCKET, NN_RCVFD, &ipc->fd, &fdsz) < 0) {
		snprintf(errmsg, len, "ipc: bind %s: %s", url, nn_strerror(nn_errno()));
		nn_close(ipc->sock);
		free(ipc);
		return NULL;
	}
	return ipc;
}

void ipc_free(struct ipc *ipc)
{
	if (ipc == NULL)
		return;
	nn_close(ipc->sock);
	free(ipc);
}

int ipc_fd(const struct ipc *ipc)
{
	return ipc->fd;
}

unsigned ipc_serve(struct ipc *ipc)
{
	unsigned served = 0;

	for (;;) {
		char *buf = NULL;
		int n = nn_recv(ipc->sock, &buf, NN_MSG, NN_DONTWAIT);
		if (n < 0)
			break;
		char *reply = ipc_handle(ipc->agent, ipc->cni, buf, (size_t)n);
		nn_freemsg(buf);
		if (reply == NULL)
			reply = strdup("{\"ok\":false,\"error\":\"out of memory\"}");
		if (reply != NULL && nn_send(ipc->sock, reply, strlen(reply), 0) < 0)
			fprintf(stderr, "ipc: reply lost: %s\n", nn_strerror(nn_errno()));
		free(reply);
		served++;
	}
	return served;
}
