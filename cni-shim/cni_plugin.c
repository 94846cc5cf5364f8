/*
 * cni_plugin: command dispatch and the ADD/DEL/CHECK/GC/STATUS flows (see
 * cni_plugin.h).
 *
 * ADD is all-or-nothing. Steps, each undone in reverse on a later failure:
 *   1. create the veth (veth mode) - undo: delete it
 *   2. cni.add to the agent        - undo: cni.del, or a pending record if
 *                                    the agent cannot be reached
 *   3. address the pod end / write the device-info file - undo: remove
 *   4. write the attachment record
 * If the agent dies during step 2 we cannot know whether it allocated, so
 * the undo is a pending release, which is harmless if it had not (cni.del
 * of an unknown attachment is ok). That is what "agent killed mid-ADD
 * leaves nothing half-done" means here: no interface, no device-info file,
 * no attachment record, and the agent is told to release once it is back.
 *
 * DEL is idempotent (SPEC.md 1.1.0 "DEL": "Plugins should generally
 * complete a DEL action without error even if some resources are
 * missing"): every step tolerates "already gone", and an unreachable agent
 * turns into a pending record instead of an error.
 */
#include <sluice/attach_key.h>
#include "cni_plugin.h"

#include <ctype.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sluice/ring_proto.h>

#include "cni_agent.h"
#include "cni_args.h"
#include "cni_config.h"
#include "cni_devinfo.h"
#include "cni_link.h"
#include "cni_result.h"
#include "cni_store.h"

/* Pending releases replayed per invocation: bounded so ADD latency stays bounded. */
#define CNI_PLUGIN_FLUSH_MAX 8

static const char *const cni_cmd_names[] = {
	[CNI_CMD_ADD] = "ADD", [CNI_CMD_DEL] = "DEL", [CNI_CMD_CHECK] = "CHECK",
	[CNI_CMD_VERSION] = "VERSION", [CNI_CMD_STATUS] = "STATUS", [CNI_CMD_GC] = "GC",
};

enum cni_cmd cni_cmd_from_string(const char *s)
{
	for (int i = 0; s != NULL && i < (int)(sizeof(cni_cmd_names) / sizeof(cni_cmd_names[0]));
	     i++)
		if (strcmp(s, cni_cmd_names[i]) == 0)
			return (enum cni_cmd)i;
	return CNI_CMD_INVALID;
}

/* 8< cni-cmd-min-version */
enum cni_version cni_cmd_min_version(enum cni_cmd cmd)
{
	switch (cmd) {
	case CNI_CMD_CHECK: return CNI_VERSION_0_4_0;
	case CNI_CMD_GC:
	case CNI_CMD_STATUS: return CNI_VERSION_1_1_0;
	default: return CNI_VERSION_0_3_0;
	}
}
/* >8 */

struct cni_plugin_ctx {
	const struct cni_plugin_env *env;
	enum cni_cmd cmd;
	struct cni_config *cfg;
	struct cni_args args;
	struct cni_agent *agent;
	FILE *out, *log;
	struct cni_error err;
};

static void cni_plugin_print(FILE *out, json_t *o)
{
	if (o != NULL) {
		json_dumpf(o, out, JSON_INDENT(4));
		fputc('\n', out);
	}
	fflush(out);
}

static int cni_plugin_fail(FILE *out, enum cni_version v, const struct cni_error *err)
{
	json_t *o = json_pack("{s:s, s:i, s:s}", "cniVersion", cni_version_string(v), "code",
			      (int)err->code, "msg", err->msg[0] ? err->msg : cni_strerror(err->code));
	if (o != NULL && err->details[0])
		json_object_set_new(o, "details", json_string(err->details));
	cni_plugin_print(out, o);
	json_decref(o);
	return 1;
}

static int cni_plugin_version(FILE *out)
{
	json_t *o = json_pack("{s:s, s:[s,s,s,s,s]}", "cniVersion",
			      cni_version_string(CNI_VERSION_LATEST), "supportedVersions", "0.3.0",
			      "0.3.1", "0.4.0", "1.0.0", "1.1.0");
	cni_plugin_print(out, o);
	json_decref(o);
	return 0;
}

/* SPEC.md 1.1.0 §2 CNI_CONTAINERID: non-empty, alphanumerics plus _ . -, alphanumeric first. */
static bool cni_plugin_valid_cid(const char *s)
{
	if (s == NULL || !isalnum((unsigned char)s[0]) || strlen(s) >= 256)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '-')
			return false;
	return true;
}

/* SPEC.md 1.1.0 §2 CNI_IFNAME: < 16 bytes, not . or .., no '/', ':' or whitespace. */
static bool cni_plugin_valid_ifname(const char *s)
{
	if (s == NULL || s[0] == '\0' || strlen(s) > 15 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || isspace((unsigned char)*s) || !isprint((unsigned char)*s))
			return false;
	return true;
}

static enum cni_err cni_plugin_env_check(struct cni_plugin_ctx *c)
{
	const struct cni_plugin_env *e = c->env;
	bool per_container = c->cmd == CNI_CMD_ADD || c->cmd == CNI_CMD_DEL ||
			     c->cmd == CNI_CMD_CHECK;
	if (!per_container)
		return CNI_OK;
	if (!cni_plugin_valid_cid(e->container_id))
		return cni_error_set(&c->err, CNI_ERR_INVALID_ENV,
				     "CNI_CONTAINERID is missing or malformed");
	if (!cni_plugin_valid_ifname(e->ifname))
		return cni_error_set(&c->err, CNI_ERR_INVALID_ENV, "CNI_IFNAME is missing or malformed");
	/* libcni always sets CNI_PATH for these; its absence means a broken caller. */
	if (e->path == NULL || e->path[0] == '\0')
		return cni_error_set(&c->err, CNI_ERR_INVALID_ENV, "CNI_PATH is missing");
	/* DEL may come after the netns is gone (SPEC.md 1.1.0 "DEL"), so only ADD/CHECK need it. */
	if (c->cmd != CNI_CMD_DEL) {
		if (e->netns == NULL || e->netns[0] == '\0')
			return cni_error_set(&c->err, CNI_ERR_INVALID_ENV, "CNI_NETNS is missing");
		if (cni_link_netns_check(e->netns, &c->err) != CNI_OK)
			return c->err.code;
	}
	return cni_args_parse(e->args, e->args ? strlen(e->args) : 0, &c->args, &c->err);
}

static enum cni_err cni_plugin_connect(struct cni_plugin_ctx *c)
{
	struct cni_agent_params p = { .url = c->cfg->agent_socket, .timeout_ms = c->cfg->timeout_ms };
	c->agent = cni_agent_create(&p, &c->err);
	return c->agent == NULL ? c->err.code : CNI_OK;
}

/* Release through the agent, or leave a pending record when it cannot be reached. */
static void cni_plugin_release(struct cni_plugin_ctx *c, const struct cni_agent_attachment *att)
{
	struct cni_error e;
	cni_error_clear(&e);
	if (c->agent != NULL && cni_agent_del(c->agent, att, &e) == CNI_OK)
		return;
	if (c->log)
		fprintf(c->log, "sluice-cni: release of %s/%s deferred: %s\n", att->container_id,
			att->ifname, e.msg);
	if (cni_store_pending_add(c->cfg->state_dir, att, &e) != CNI_OK && c->log)
		fprintf(c->log, "sluice-cni: %s\n", e.msg);
}

static enum cni_err cni_plugin_add(struct cni_plugin_ctx *c)
{
	const struct cni_plugin_env *env = c->env;
	const struct cni_config *cfg = c->cfg;
	struct cni_store_att *att = calloc(1, sizeof(*att));
	struct cni_result *mine = calloc(1, sizeof(*mine));
	struct cni_result *agent_res = calloc(1, sizeof(*agent_res));
	struct cni_result *out = calloc(1, sizeof(*out));
	struct cni_agent_attachment aa;
	bool veth_made = false, agent_added = false, devinfo_made = false;
	enum cni_err e;
	char host_mac[18] = "", pod_mac[18] = "", agent_mac[18] = "";

	if (att == NULL || mine == NULL || agent_res == NULL || out == NULL) {
		e = cni_error_set(&c->err, CNI_ERR_INTERNAL, "out of memory");
		goto done;
	}
	/* A second ADD without DEL (SPEC.md 1.1.0 "ADD": runtimes must not) is refused, untouched. */
	if (cni_store_get(cfg->state_dir, cfg->name, env->container_id, env->ifname, att, NULL) !=
	    CNI_ERR_UNKNOWN_CONTAINER) {
		e = cni_error_set(&c->err, CNI_ERR_INVALID_CONFIG,
				  "container %.64s already has %s on network %.64s (ADD without DEL)",
				  env->container_id, env->ifname, cfg->name);
		goto done;
	}
	memset(att, 0, sizeof(*att));
	snprintf(att->network, sizeof(att->network), "%s", cfg->name);
	snprintf(att->container_id, sizeof(att->container_id), "%s", env->container_id);
	snprintf(att->ifname, sizeof(att->ifname), "%s", env->ifname);
	snprintf(att->netns, sizeof(att->netns), "%s", env->netns);
	att->mode = cfg->mode;
	sluice_attach_key(env->container_id, env->ifname, att->host_ifname);
	if (cfg->mode != CNI_MODE_VETH) {
		int n = snprintf(att->socket_path, sizeof(att->socket_path), "%s/%s.sock",
				 cfg->socket_dir, att->host_ifname);
		/* dp's port record carries the path in RING_PATH_SIZE bytes (include/sluice/ring_proto.h). */
		if (n < 0 || (size_t)n >= RING_PATH_SIZE) {
			e = cni_error_set(&c->err, CNI_ERR_INVALID_CONFIG,
					  "socketDir too long: socket path must be < %d bytes",
					  RING_PATH_SIZE);
			goto done;
		}
		att->host_ifname[0] = '\0';
		if ((e = cni_devinfo_path(cfg, env->container_id, env->ifname, att->devinfo_path,
					  sizeof(att->devinfo_path), &c->err)))
			goto done;
	}
	cni_store_to_agent(att, &aa);

	if ((e = cni_plugin_connect(c)))
		goto done;
	/* A stale release of this very tuple must land before the new ADD, never after. */
	if ((e = cni_store_pending_settle(cfg->state_dir, c->agent, cfg->name, env->container_id,
					  env->ifname, &c->err)))
		goto done;
	cni_store_pending_flush(cfg->state_dir, c->agent, CNI_PLUGIN_FLUSH_MAX);

	if (cfg->mode == CNI_MODE_VETH) {
		if (cni_link_netns_is_own(env->netns)) {
			e = cni_error_set(&c->err, CNI_ERR_INVALID_ENV,
					  "CNI_NETNS is sluice-cni's own network namespace");
			goto done;
		}
		if ((e = cni_link_veth_add(env->netns, att->host_ifname, env->ifname, cfg->mtu,
					   host_mac, pod_mac, &c->err)))
			goto done;
		veth_made = true;
	}
	aa.pod_mac = pod_mac;
	e = cni_agent_add(c->agent, &aa, cfg, &c->args, agent_res, agent_mac, &c->err);
	if (e != CNI_OK) {
		/* No answer (or a garbled one): it may have allocated; release for sure. */
		if (e == CNI_ERR_TRY_AGAIN || e == CNI_ERR_DECODE)
			cni_plugin_release(c, &aa);
		goto done;
	}
	agent_added = true;

	/* Our own part of the result: interfaces, then the agent's ips bound to the pod end. */
	cni_result_init(mine);
	int pod_idx;
	if (cfg->mode == CNI_MODE_VETH) {
		struct cni_result_iface *h = &mine->ifaces[mine->n_ifaces++];
		snprintf(h->name, sizeof(h->name), "%s", att->host_ifname);
		snprintf(h->mac, sizeof(h->mac), "%s", host_mac);
	}
	pod_idx = (int)mine->n_ifaces;
	struct cni_result_iface *p = &mine->ifaces[mine->n_ifaces++];
	snprintf(p->name, sizeof(p->name), "%s", env->ifname);
	snprintf(p->mac, sizeof(p->mac), "%s", pod_mac[0] ? pod_mac : agent_mac);
	snprintf(p->sandbox, sizeof(p->sandbox), "%s", env->netns);
	snprintf(p->socket_path, sizeof(p->socket_path), "%s", att->socket_path);
	p->mtu = cfg->mtu;
	for (unsigned i = 0; i < agent_res->n_ips; i++) {
		mine->ips[mine->n_ips] = agent_res->ips[i];
		mine->ips[mine->n_ips++].iface = pod_idx;
	}
	mine->n_routes = agent_res->n_routes;
	memcpy(mine->routes, agent_res->routes, sizeof(mine->routes));
	mine->dns = agent_res->dns;

	if (cfg->mode == CNI_MODE_VETH) {
		if ((e = cni_link_configure(env->netns, env->ifname, mine, &c->err)))
			goto done;
	} else {
		if ((e = cni_devinfo_write(att->devinfo_path, cfg->mode, att->socket_path, &c->err)))
			goto done;
		devinfo_made = true;
	}
	att->result = *mine;
	if ((e = cni_store_put(cfg->state_dir, att, &c->err)))
		goto done;

	/* Chaining: print prevResult back with our additions (SPEC.md 1.1.0 §4 "Chained plugins"). */
	if (cfg->has_prev_result)
		*out = cfg->prev_result;
	else
		cni_result_init(out);
	if ((e = cni_result_append(out, mine, &c->err))) {
		cni_store_del(cfg->state_dir, cfg->name, env->container_id, env->ifname);
		goto done;
	}
	json_t *o = cni_result_to_json(out, cfg->version);
	if (o == NULL) {
		cni_store_del(cfg->state_dir, cfg->name, env->container_id, env->ifname);
		e = cni_error_set(&c->err, CNI_ERR_INTERNAL, "out of memory");
		goto done;
	}
	cni_plugin_print(c->out, o);
	json_decref(o);
done:
	if (e != CNI_OK) {
		if (devinfo_made)
			cni_devinfo_remove(att->devinfo_path);
		if (agent_added)
			cni_plugin_release(c, &aa);
		if (veth_made)
			cni_link_veth_del(att->host_ifname, NULL);
	}
	free(att);
	free(mine);
	free(agent_res);
	free(out);
	return e;
}

static enum cni_err cni_plugin_del(struct cni_plugin_ctx *c)
{
	const struct cni_plugin_env *env = c->env;
	const struct cni_config *cfg = c->cfg;
	struct cni_store_att *att = calloc(1, sizeof(*att));
	struct cni_agent_attachment aa;
	if (att == NULL)
		return cni_error_set(&c->err, CNI_ERR_INTERNAL, "out of memory");
	/* No record (second DEL, or ADD never finished): rebuild the names ADD would have used. */
	if (cni_store_get(cfg->state_dir, cfg->name, env->container_id, env->ifname, att, NULL) !=
	    CNI_OK) {
		memset(att, 0, sizeof(*att));
		snprintf(att->network, sizeof(att->network), "%s", cfg->name);
		snprintf(att->container_id, sizeof(att->container_id), "%s", env->container_id);
		snprintf(att->ifname, sizeof(att->ifname), "%s", env->ifname);
		att->mode = cfg->mode;
		if (cfg->mode == CNI_MODE_VETH)
			sluice_attach_key(env->container_id, env->ifname, att->host_ifname);
		else
			cni_devinfo_path(cfg, env->container_id, env->ifname, att->devinfo_path,
					 sizeof(att->devinfo_path), NULL);
	}
	snprintf(att->netns, sizeof(att->netns), "%s", env->netns ? env->netns : "");
	cni_store_to_agent(att, &aa);

	enum cni_err e = CNI_OK;
	if (att->mode == CNI_MODE_VETH && att->host_ifname[0])
		e = cni_link_veth_del(att->host_ifname, &c->err);
	if (e == CNI_OK) {
		cni_devinfo_remove(att->devinfo_path);
		if (cni_plugin_connect(c) == CNI_OK)
			cni_store_pending_flush(cfg->state_dir, c->agent, CNI_PLUGIN_FLUSH_MAX);
		cni_error_clear(&c->err);
		cni_plugin_release(c, &aa);
		cni_store_del(cfg->state_dir, cfg->name, env->container_id, env->ifname);
	}
	free(att);
	return e;
}

static enum cni_err cni_plugin_check(struct cni_plugin_ctx *c)
{
	const struct cni_plugin_env *env = c->env;
	const struct cni_config *cfg = c->cfg;
	struct cni_store_att *att = calloc(1, sizeof(*att));
	struct cni_agent_attachment aa;
	enum cni_err e;
	if (att == NULL)
		return cni_error_set(&c->err, CNI_ERR_INTERNAL, "out of memory");
	/* SPEC.md 1.1.0 "CHECK": the runtime passes prevResult; a plugin checks against it. */
	if (!cfg->has_prev_result) {
		e = cni_error_set(&c->err, CNI_ERR_INVALID_CONFIG, "CHECK needs prevResult");
		goto out;
	}
	if ((e = cni_store_get(cfg->state_dir, cfg->name, env->container_id, env->ifname, att,
			       &c->err)))
		goto out;
	/* Every address we handed out must still be in what the runtime believes. */
	for (unsigned i = 0; i < att->result.n_ips; i++) {
		bool found = false;
		for (unsigned j = 0; j < cfg->prev_result.n_ips && !found; j++)
			found = strcmp(att->result.ips[i].address,
				       cfg->prev_result.ips[j].address) == 0;
		if (!found) {
			e = cni_error_set(&c->err, CNI_ERR_INVALID_CONFIG,
					  "prevResult lacks address %s", att->result.ips[i].address);
			goto out;
		}
	}
	if (att->mode == CNI_MODE_VETH &&
	    (e = cni_link_check(env->netns, env->ifname, &att->result, &c->err)))
		goto out;
	if ((e = cni_plugin_connect(c)))
		goto out;
	cni_store_to_agent(att, &aa);
	e = cni_agent_check(c->agent, &aa, &att->result, &c->err);
out:
	free(att);
	return e;
}

struct cni_plugin_gc_ctx {
	struct cni_plugin_ctx *c;
	unsigned removed;
};

static void cni_plugin_gc_one(const struct cni_store_att *a, void *data)
{
	struct cni_plugin_gc_ctx *g = data;
	const struct cni_config *cfg = g->c->cfg;
	for (size_t i = 0; i < cfg->n_valid_attachments; i++)
		if (strcmp(cfg->valid_attachments[i].container_id, a->container_id) == 0 &&
		    strcmp(cfg->valid_attachments[i].ifname, a->ifname) == 0)
			return;
	/* Not in cni.dev/valid-attachments: tear down our local part. */
	if (a->mode == CNI_MODE_VETH && a->host_ifname[0])
		cni_link_veth_del(a->host_ifname, NULL);
	cni_devinfo_remove(a->devinfo_path);
	cni_store_del(cfg->state_dir, a->network, a->container_id, a->ifname);
	g->removed++;
}

static enum cni_err cni_plugin_gc(struct cni_plugin_ctx *c)
{
	const struct cni_config *cfg = c->cfg;
	if (!cfg->has_valid_attachments)
		return cni_error_set(&c->err, CNI_ERR_INVALID_CONFIG,
				     "GC needs cni.dev/valid-attachments");
	struct cni_plugin_gc_ctx g = { .c = c };
	cni_store_foreach(cfg->state_dir, cfg->name, cni_plugin_gc_one, &g);
	if (c->log)
		fprintf(c->log, "sluice-cni: GC removed %u local attachments\n", g.removed);
	enum cni_err e = cni_plugin_connect(c);
	if (e == CNI_OK) {
		cni_store_pending_flush(cfg->state_dir, c->agent, CNI_PLUGIN_FLUSH_MAX);
		e = cni_agent_gc(c->agent, cfg->name, cfg->valid_attachments,
				 cfg->n_valid_attachments, NULL, &c->err);
	}
	return e;
}

static enum cni_err cni_plugin_status(struct cni_plugin_ctx *c)
{
	bool agent_ready = false, dp_ready = false;
	enum cni_err e = cni_plugin_connect(c);
	if (e == CNI_OK)
		e = cni_agent_status(c->agent, c->cfg->name, &agent_ready, &dp_ready, &c->err);
	/* SPEC.md 1.1.0 "STATUS": 50 = the plugin cannot service ADD now;
	 * 51 = it can, but existing containers may have limited connectivity.
	 * Without dp the agent still allocates and records every ADD (it
	 * replays them when dp appears), so a dead dp is 51, not 50. */
	if (e != CNI_OK)
		return cni_error_set(&c->err, CNI_ERR_NOT_AVAILABLE, "sluice agent not reachable: %.180s",
				     c->err.msg);
	if (!agent_ready)
		return cni_error_set(&c->err, CNI_ERR_NOT_AVAILABLE, "sluice agent not ready");
	if (!dp_ready)
		return cni_error_set(&c->err, CNI_ERR_LIMITED_CONNECTIVITY,
				     "sluice-dp not ready: pods on this node have no connectivity");
	cni_store_pending_flush(c->cfg->state_dir, c->agent, CNI_PLUGIN_FLUSH_MAX);
	return CNI_OK;
}

int cni_plugin_run(const struct cni_plugin_env *env, const char *in, size_t len, FILE *out,
		   FILE *log)
{
	struct cni_plugin_ctx c = { .env = env, .out = out, .log = log };
	cni_error_clear(&c.err);
	c.cmd = cni_cmd_from_string(env->command);

	/* SPEC.md 1.1.0 "VERSION": must succeed whatever stdin holds. */
	if (c.cmd == CNI_CMD_VERSION)
		return cni_plugin_version(out);
	enum cni_version label = cni_config_peek_version(in, len);
	if (c.cmd == CNI_CMD_INVALID) {
		cni_error_set(&c.err, CNI_ERR_INVALID_ENV, "CNI_COMMAND is missing or unknown");
		return cni_plugin_fail(out, label, &c.err);
	}
	c.cfg = cni_config_parse(in, len, &c.err);
	if (c.cfg == NULL)
		return cni_plugin_fail(out, label, &c.err);
	enum cni_err e = CNI_OK;
	if (c.cfg->version < cni_cmd_min_version(c.cmd)) {
		e = cni_error_set(&c.err, CNI_ERR_INCOMPATIBLE_VERSION,
				  "config version %s does not allow %s",
				  cni_version_string(c.cfg->version), env->command);
		goto out;
	}
	if ((e = cni_plugin_env_check(&c)))
		goto out;
	switch (c.cmd) {
	case CNI_CMD_ADD: e = cni_plugin_add(&c); break;
	case CNI_CMD_DEL: e = cni_plugin_del(&c); break;
	case CNI_CMD_CHECK: e = cni_plugin_check(&c); break;
	case CNI_CMD_GC: e = cni_plugin_gc(&c); break;
	case CNI_CMD_STATUS: e = cni_plugin_status(&c); break;
	default: e = cni_error_set(&c.err, CNI_ERR_INTERNAL, "unreachable"); break;
	}
out:;
	int rc = 0;
	if (e != CNI_OK)
		rc = cni_plugin_fail(out, c.cfg->version, &c.err);
	cni_agent_free(c.agent);
	cni_config_free(c.cfg);
	return rc;
}
