/*
 * agent_cni: cni.add/del/check/gc/status over the agent (ctrl/agent_cni.h).
 *
 * Every operation is idempotent on the attachment key because a runtime
 * may retry a whole CNI call: add of a held key returns what it was given
 * the first time; del of an unknown key succeeds. An add is port_add and
 * pod_add in one agent batch (one state write, one wait for dp); when dp
 * refuses either, nothing of the attachment is left behind.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sluice/attach_key.h>
#include "agent.h"
#include "agent_cni.h"
#include "agent_text.h"
#include "ringc.h"

#define AGENT_CNI_V 1

static json_t *cni_err(const char *code, const char *msg)
{
	return json_pack("{s:i,s:b,s:s,s:s}", "v", AGENT_CNI_V, "ok", 0, "code", code, "msg", msg);
}

static json_t *cni_agent_err(int err, const char *msg)
{
	/* The plugin maps the agent's error classes (AGENT-PROTOCOL.md). */
	return json_pack("{s:i,s:b,s:s,s:s}", "v", AGENT_CNI_V, "ok", 0, "error",
			 agent_strerror(err), "detail", msg);
}

static const struct agent_pod *cni_find_pod(const struct agent *a, const char *name)
{
	for (size_t i = 0; i < agent_n_pods(a); i++)
		if (strcmp(agent_pod_at(a, i)->name, name) == 0)
			return agent_pod_at(a, i);
	return NULL;
}

/* "sl" + 12 lower-case hex digits: the plugin's attachment key. */
static int cni_key_ok(const char *k)
{
	if (strlen(k) != 14 || k[0] != 's' || k[1] != 'l')
		return 0;
	for (int i = 2; i < 14; i++)
		if (!((k[i] >= '0' && k[i] <= '9') || (k[i] >= 'a' && k[i] <= 'f')))
			return 0;
	return 1;
}

struct cni_net {
	uint32_t net;	/* host order */
	uint8_t plen;
	uint32_t gw;
};

static int cni_net_parse(const struct agent_cni_config *cfg, struct cni_net *n)
{
	uint8_t fam, addr[16], gfam, gaddr[16];

	if (cfg == NULL || cfg->pod_cidr[0] == '\0' ||
	    agent_parse_prefix(cfg->pod_cidr, &fam, addr, &n->plen) != 0 || fam != RING_FAMILY_IPV4 ||
	    n->plen > 30 || agent_parse_ip(cfg->gateway, &gfam, gaddr) != 0 || gfam != RING_FAMILY_IPV4)
		return -1;
	uint32_t v;
	memcpy(&v, addr, 4);
	n->net = ntohl(v);
	memcpy(&v, gaddr, 4);
	n->gw = ntohl(v);
	return 0;
}

/* First free host address of the pod CIDR: not network, broadcast, gateway or a pod's. */
static int cni_alloc(const struct agent *a, const struct cni_net *n, uint32_t *out)
{
	uint32_t size = 1u << (32 - n->plen);
	uint32_t span = size > 65536 ? 65536 : size; /* a node never holds more pods */
	uint8_t *used = calloc(span, 1);

	if (used == NULL)
		return -1;
	for (size_t i = 0; i < agent_n_pods(a); i++) {
		const struct agent_pod *p = agent_pod_at(a, i);
		uint32_t v;
		if (p->family != RING_FAMILY_IPV4)
			continue;
		memcpy(&v, p->addr, 4);
		v = ntohl(v);
		if (v - n->net < span)
			used[v - n->net] = 1;
	}
	int rc = -1;
	for (uint32_t off = 1; off < span && off < size - 1; off++) {
		if (used[off] || n->net + off == n->gw)
			continue;
		*out = n->net + off;
		rc = 0;
		break;
	}
	free(used);
	return rc;
}

static json_t *cni_add_reply(const struct agent_cni_config *cfg, const struct cni_net *n,
			     const struct agent_pod *p)
{
	char ip[64], addr[80], mac[32];

	agent_format_ip(p->family, p->addr, ip, sizeof(ip));
	snprintf(addr, sizeof(addr), "%s/%u", ip, n->plen);
	agent_format_mac(p->mac, mac, sizeof(mac));
	json_t *r = json_pack("{s:i,s:b,s:[{s:s,s:s}],s:[{s:s,s:s}],s:s}", "v", AGENT_CNI_V, "ok", 1,
			      "ips", "address", addr, "gateway", cfg->gateway, "routes", "dst",
			      "0.0.0.0/0", "gw", cfg->gateway, "mac", mac);
	if (r != NULL && cfg->dns[0] != '\0') {
		json_t *ns = json_array();
		char buf[256];
		snprintf(buf, sizeof(buf), "%s", cfg->dns);
		for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
			json_array_append_new(ns, json_string(t));
		json_object_set_new(r, "dns", json_pack("{s:o}", "nameservers", ns));
	}
	return r;
}

static json_t *cni_add(struct agent *a, const struct agent_cni_config *cfg, json_t *req)
{
	const char *key, *mode, *host_ifname = "", *socket_path = "", *pod_mac = "";
	struct cni_net n;
	char err[256];

	if (json_unpack(req, "{s:s,s:s,s?s,s?s,s?s}", "key", &key, "mode", &mode, "host_ifname",
			&host_ifname, "socket_path", &socket_path, "pod_mac", &pod_mac) != 0 ||
	    !cni_key_ok(key))
		return cni_err("invalid", "cni.add: key (sl + 12 hex) and mode are required");
	if (cni_net_parse(cfg, &n) != 0)
		return cni_err("not_ready", "agent has no IPv4 pod CIDR and gateway (--pod-cidr, --gateway)");
	const struct agent_pod *held = cni_find_pod(a, key);
	if (held != NULL)
		return cni_add_reply(cfg, &n, held); /* retried ADD: same answer */

	struct agent_port port = {0};
	snprintf(port.name, sizeof(port.name), "%s", key);
	if (strcmp(mode, "veth") == 0) {
		port.kind = RING_PORT_AF_XDP;
		if (strlen(host_ifname) >= sizeof(port.ifname))
			return cni_err("invalid", "cni.add: host_ifname too long");
		snprintf(port.ifname, sizeof(port.ifname), "%s", host_ifname);
	} else if (strcmp(mode, "memif") == 0 || strcmp(mode, "vhost-user") == 0) {
		port.kind = mode[0] == 'm' ? RING_PORT_MEMIF : RING_PORT_VHOST_USER;
		if (strlen(socket_path) >= sizeof(port.path))
			return cni_err("invalid", "cni.add: socket_path too long");
		snprintf(port.path, sizeof(port.path), "%s", socket_path);
	} else {
		return cni_err("invalid", "cni.add: mode must be veth, memif or vhost-user");
	}

	uint32_t ip;
	struct agent_pod pod = {0};
	if (cni_alloc(a, &n, &ip) != 0)
		return cni_err("try_again", "pod CIDR exhausted");
	snprintf(pod.name, sizeof(pod.name), "%s", key);
	pod.family = RING_FAMILY_IPV4;
	uint32_t be = htonl(ip);
	memcpy(pod.addr, &be, 4);
	if (pod_mac[0] != '\0') {
		if (agent_parse_mac(pod_mac, pod.mac) != 0)
			return cni_err("invalid", "cni.add: pod_mac is not xx:xx:xx:xx:xx:xx");
	} else {
		/* Locally administered, derived from the address: stable across retries. */
		pod.mac[0] = 0x02;
		memcpy(&pod.mac[2], &be, 4);
	}

	agent_port_del(a, key, NULL, NULL, 0); /* a half-done earlier ADD */
	agent_batch_begin(a);
	int rc = agent_port_add(a, &port, &pod.port_id, NULL, err, sizeof(err));
	if (rc == AGENT_OK)
		rc = agent_pod_add(a, &pod, NULL, NULL, err, sizeof(err));
	char berr[256];
	int brc = agent_batch_end(a, NULL, berr, sizeof(berr));
	if (rc == AGENT_OK && brc != AGENT_OK) {
		rc = brc;
		snprintf(err, sizeof(err), "%s", berr);
	}
	held = cni_find_pod(a, key);
	if (rc != AGENT_OK || held == NULL) {
		/* Leave nothing of a failed attachment behind. */
		if (held != NULL)
			agent_pod_del(a, key, NULL, NULL, 0);
		agent_port_del(a, key, NULL, NULL, 0);
		return cni_agent_err(rc == AGENT_OK ? AGENT_DP : rc, err);
	}
	return cni_add_reply(cfg, &n, held);
}

static void cni_release(struct agent *a, const char *key)
{
	agent_pod_del(a, key, NULL, NULL, 0);	/* not found is fine: DEL is idempotent */
	agent_port_del(a, key, NULL, NULL, 0);
}

static json_t *cni_del(struct agent *a, json_t *req)
{
	const char *key;

	if (json_unpack(req, "{s:s}", "key", &key) != 0 || !cni_key_ok(key))
		return cni_err("invalid", "cni.del: key (sl + 12 hex) is required");
	cni_release(a, key);
	return json_pack("{s:i,s:b}", "v", AGENT_CNI_V, "ok", 1);
}

static json_t *cni_check(struct agent *a, const struct agent_cni_config *cfg, json_t *req)
{
	const char *key, *want;
	json_t *ips;
	struct cni_net n;

	if (json_unpack(req, "{s:s,s:o}", "key", &key, "ips", &ips) != 0 || !cni_key_ok(key) ||
	    !json_is_array(ips) || json_array_size(ips) != 1 ||
	    (want = json_string_value(json_array_get(ips, 0))) == NULL)
		return cni_err("invalid", "cni.check: key and ips (one address) are required");
	const struct agent_pod *p = cni_find_pod(a, key);
	if (p == NULL)
		return cni_err("unknown_container", "no attachment with that key");
	char ip[64], have[80];
	agent_format_ip(p->family, p->addr, ip, sizeof(ip));
	snprintf(have, sizeof(have), "%s/%u", ip, cni_net_parse(cfg, &n) == 0 ? n.plen : 32);
	if (strcmp(have, want) != 0)
		return cni_err("mismatch", "agent holds another address for this attachment");
	return json_pack("{s:i,s:b}", "v", AGENT_CNI_V, "ok", 1);
}

static json_t *cni_gc(struct agent *a, json_t *req)
{
	json_t *valid, *v;
	size_t i;
	char (*keep)[16];
	size_t nkeep = 0;
	int removed = 0;

	if (json_unpack(req, "{s:o}", "valid", &valid) != 0 || !json_is_array(valid))
		return cni_err("invalid", "cni.gc: valid must be an array");
	keep = calloc(json_array_size(valid) + 1, sizeof(*keep));
	if (keep == NULL)
		return NULL;
	json_array_foreach(valid, i, v) {
		const char *cid, *ifn;
		if (json_unpack(v, "{s:s,s:s}", "container_id", &cid, "ifname", &ifn) != 0) {
			free(keep);
			return cni_err("invalid", "cni.gc: valid[] entries need container_id and ifname");
		}
		sluice_attach_key(cid, ifn, keep[nkeep++]);
	}
	/* Collect first: releasing reorders the agent's pod array. */
	size_t np = agent_n_pods(a), nrel = 0;
	char (*rel)[16] = calloc(np + 1, sizeof(*rel));
	if (rel == NULL) {
		free(keep);
		return NULL;
	}
	for (size_t p = 0; p < np; p++) {
		const char *name = agent_pod_at(a, p)->name;
		int listed = 0;
		if (!cni_key_ok(name))
			continue; /* not a CNI attachment: not ours to collect */
		for (size_t k = 0; k < nkeep && !listed; k++)
			listed = strcmp(keep[k], name) == 0;
		if (!listed)
			memcpy(rel[nrel++], name, 15); /* cni_key_ok: 14 chars + NUL */
	}
	for (size_t r = 0; r < nrel; r++, removed++)
		cni_release(a, rel[r]);
	free(rel);
	free(keep);
	return json_pack("{s:i,s:b,s:i}", "v", AGENT_CNI_V, "ok", 1, "removed", removed);
}

unsigned agent_cni_pending(struct agent *a, const char *state_dir)
{
	char dir[512], path[800];
	unsigned done = 0;
	struct dirent *de;

	snprintf(dir, sizeof(dir), "%s/pending", state_dir);
	DIR *d = opendir(dir);
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		size_t len = strlen(n);
		int complete = len == 21 && strcmp(n + 16, ".json") == 0;
		for (size_t i = 0; complete && i < 16; i++)
			complete = (n[i] >= '0' && n[i] <= '9') || (n[i] >= 'a' && n[i] <= 'f');
		if (!complete)
			continue; /* temporaries of the writer, or not ours */
		snprintf(path, sizeof(path), "%s/%s", dir, n);
		json_t *rec = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
		const char *cid, *ifn;
		json_int_t v = 0;
		if (rec != NULL && json_unpack(rec, "{s:I,s:s,s:s}", "v", &v, "container_id", &cid,
					       "ifname", &ifn) == 0 && v == AGENT_CNI_V) {
			char key[16];
			sluice_attach_key(cid, ifn, key);
			cni_release(a, key);
			done++;
		}
		json_decref(rec);
		(void)unlink(path); /* applied, or torn/foreign: either way done */
	}
	closedir(d);
	return done;
}

json_t *agent_cni_handle(struct agent *a, const struct agent_cni_config *cfg, json_t *req)
{
	const char *op;
	json_int_t v = 0;

	if (json_unpack(req, "{s:I,s:s}", "v", &v, "op", &op) != 0 || v != AGENT_CNI_V)
		return cni_err("invalid", "cni request needs \"v\":1 and \"op\"");
	if (strcmp(op, "cni.add") == 0)
		return cni_add(a, cfg, req);
	if (strcmp(op, "cni.del") == 0)
		return cni_del(a, req);
	if (strcmp(op, "cni.check") == 0)
		return cni_check(a, cfg, req);
	if (strcmp(op, "cni.gc") == 0)
		return cni_gc(a, req);
	if (strcmp(op, "cni.status") == 0) {
		struct cni_net n;
		int dp = agent_dp_connected(a);
		return json_pack("{s:i,s:b,s:b,s:b}", "v", AGENT_CNI_V, "ok", 1, "agent_ready",
				 cni_net_parse(cfg, &n) == 0, "dp_ready", dp);
	}
	return cni_err("invalid", "unknown cni op");
}
