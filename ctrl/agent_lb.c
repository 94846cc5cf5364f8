/*
 * agent_lb: services and backends in the agent's desired state
 * (ctrl/agent_lb.h; requests in docs/agent-ipc.md, the dataplane side in
 * docs/lb.md).
 *
 * Every service and backend is validated by building the ring record it
 * becomes and running dp's own validator (ring_cmd_check), as the rest of
 * the agent does. Service and backend ids are the agent's own (persisted
 * counter), never reused, so a dp that still holds an old id can never
 * confuse it with a new object.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sluice/errmsg.h>

#include "agent.h"
#include "agent_health.h"
#include "agent_lb.h"
#include "agent_text.h"
#include "ringc.h"

#define AGENT_LB_NAME_MAX 64

struct agent_lb_be {
	uint32_t id;
	uint8_t family;
	uint8_t addr[16];
	uint16_t port;
	uint32_t weight;   /* configured, 0..65535; 0 = drained by the operator */
	uint32_t sent;     /* weight dp holds (0 when drained by health) */
};

struct agent_lb_svc {
	char name[AGENT_LB_NAME_MAX];
	uint32_t id;
	uint8_t family;
	uint8_t vip[16];
	uint16_t port;
	uint8_t proto;
	uint32_t flags;
	struct agent_health_cfg health;
	struct agent_lb_be *be;
	size_t n_be, cap_be;
};

struct agent_lb {
	struct agent *a;
	struct agent_health *health;
	struct agent_lb_svc *svc;
	size_t n_svc, cap_svc;
	uint32_t next_id;
};

static uint64_t agent_lb_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct agent_lb_svc *agent_lb_find(const struct agent_lb *l, const char *name, uint32_t id)
{
	for (size_t i = 0; i < l->n_svc; i++)
		if ((name && strcmp(l->svc[i].name, name) == 0) || (!name && l->svc[i].id == id))
			return &l->svc[i];
	return NULL;
}

static struct agent_lb_be *agent_lb_find_be(const struct agent_lb_svc *s, uint32_t id)
{
	for (size_t i = 0; i < s->n_be; i++)
		if (s->be[i].id == id)
			return &s->be[i];
	return NULL;
}

static int agent_lb_unhealthy(const struct agent_lb *l, const struct agent_lb_svc *s,
			      const struct agent_lb_be *b)
{
	return s->health.type != AGENT_HEALTH_NONE &&
	       agent_health_state(l->health, s->id, b->id) == 0;
}

/*
 * Panic mode (Envoy's panic threshold at 0%): when every backend the
 * operator gives a weight fails its check, the checks are more likely
 * wrong (the node's own path to its pods stalled) than every backend dead,
 * and draining them all would refuse every new connection. Health is then
 * ignored until one passes again.
 */
static int agent_lb_panic(const struct agent_lb *l, const struct agent_lb_svc *s)
{
	for (size_t i = 0; i < s->n_be; i++)
		if (s->be[i].weight > 0 && !agent_lb_unhealthy(l, s, &s->be[i]))
			return 0;
	return 1;
}

/* The weight dp should hold: 0 while the health check says unhealthy
 * (unless in panic mode). */
static uint32_t agent_lb_effective(const struct agent_lb *l, const struct agent_lb_svc *s,
				   const struct agent_lb_be *b)
{
	if (agent_lb_unhealthy(l, s, b) && !agent_lb_panic(l, s))
		return 0;
	return b->weight;
}

/* ---- records ---- */

static void agent_lb_svc_cmd(const struct agent_lb_svc *s, uint64_t gen, struct ring_cmd *c)
{
	ring_cmd_init(c, RING_CMD_SVC_ADD, 1, gen ? gen : 1);
	c->u.svc.svc_id = s->id;
	c->u.svc.family = s->family;
	c->u.svc.proto = s->proto;
	c->u.svc.port = s->port;
	c->u.svc.flags = s->flags;
	memcpy(c->u.svc.vip, s->vip, 16);
}

static void agent_lb_be_cmd(const struct agent_lb_svc *s, const struct agent_lb_be *b,
			    uint64_t gen, struct ring_cmd *c)
{
	ring_cmd_init(c, RING_CMD_BACKEND_ADD, 1, gen ? gen : 1);
	c->u.backend.svc_id = s->id;
	c->u.backend.backend_id = b->id;
	c->u.backend.family = b->family;
	c->u.backend.port = b->port;
	/* BACKEND_ADD carries 1..65535; a drained backend (0) is added
	 * with 1 and drained by a BACKEND_WEIGHT right after. */
	c->u.backend.weight = b->weight ? b->weight : 1;
	memcpy(c->u.backend.addr, b->addr, 16);
}

static void agent_lb_weight_cmd(uint32_t svc_id, uint32_t be_id, uint32_t w, struct ring_cmd *c)
{
	ring_cmd_init(c, RING_CMD_BACKEND_WEIGHT, 1, 1);
	c->u.backend_weight.svc_id = svc_id;
	c->u.backend_weight.backend_id = be_id;
	c->u.backend_weight.weight = w;
}

static void agent_lb_watch(struct agent_lb *l, const struct agent_lb_svc *s,
			   const struct agent_lb_be *b)
{
	uint32_t ip;

	if (s->health.type == AGENT_HEALTH_NONE || b->family != RING_FAMILY_IPV4)
		return;
	memcpy(&ip, b->addr, 4);
	(void)agent_health_watch(l->health, s->id, b->id, ip, b->port, &s->health);
}

/* ---- health ---- */

/*
 * Send dp every backend weight of s that differs from what it holds. Any
 * change (a health transition, an operator's weight) can enter or leave
 * panic mode, which moves the other backends' weights too. Returns 1 when
 * dp acknowledged all it was sent.
 */
static int agent_lb_sync_weights(struct agent_lb *l, struct agent_lb_svc *s)
{
	struct ring_cmd c;
	int all = 1;

	for (size_t i = 0; i < s->n_be; i++) {
		struct agent_lb_be *x = &s->be[i];
		uint32_t w = agent_lb_effective(l, s, x);
		int applied = 0;
		if (w == x->sent)
			continue;
		agent_lb_weight_cmd(s->id, x->id, w, &c);
		if (agent_send_cmd(l->a, &c, &applied, NULL, 0) == AGENT_OK && applied)
			x->sent = w;
		else
			all = 0;
	}
	return all;
}

static void agent_lb_on_health(void *data, uint32_t svc_id, uint32_t be_id, int healthy)
{
	struct agent_lb *l = data;
	struct agent_lb_svc *s = agent_lb_find(l, NULL, svc_id);
	struct agent_lb_be *b = s ? agent_lb_find_be(s, be_id) : NULL;
	char ip[64], line[256];

	if (b == NULL)
		return;
	agent_format_ip(b->family, b->addr, ip, sizeof(ip));
	int panic = agent_lb_panic(l, s);
	snprintf(line, sizeof(line), "agent: service %s backend %s:%u %s: weight %u in dp%s", s->name,
		 ip, b->port, healthy ? "healthy" : "unhealthy", agent_lb_effective(l, s, b),
		 panic ? " (panic: every backend fails its check, health ignored)" : "");
	agent_log(l->a, line);
	/* a transition can enter or leave panic mode: every backend's weight */
	(void)agent_lb_sync_weights(l, s);
}

void agent_lb_tick(struct agent_lb *l)
{
	(void)agent_health_tick(l->health, agent_lb_now_ms());
}

/* ---- lifecycle and persistence ---- */

struct agent_lb *agent_lb_create(struct agent *a)
{
	struct agent_lb *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->a = a;
	l->next_id = 1;
	struct agent_health_params hp = { .on_change = agent_lb_on_health, .data = l };
	l->health = agent_health_create(&hp);
	if (l->health == NULL) {
		free(l);
		return NULL;
	}
	return l;
}

void agent_lb_free(struct agent_lb *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n_svc; i++)
		free(l->svc[i].be);
	free(l->svc);
	agent_health_free(l->health);
	free(l);
}

size_t agent_lb_n_services(const struct agent_lb *l)
{
	return l->n_svc;
}

static json_t *agent_lb_health_json(const struct agent_health_cfg *h)
{
	json_t *o = json_pack("{s:s}", "type", agent_health_type_name(h->type));
	if (h->type != AGENT_HEALTH_NONE) {
		json_object_set_new(o, "interval_ms", json_integer(h->interval_ms));
		json_object_set_new(o, "timeout_ms", json_integer(h->timeout_ms));
		json_object_set_new(o, "fall", json_integer(h->fall));
		json_object_set_new(o, "rise", json_integer(h->rise));
		if (h->type == AGENT_HEALTH_HTTP)
			json_object_set_new(o, "path", json_string(h->path));
	}
	return o;
}

static json_t *agent_lb_svc_json(const struct agent_lb *l, const struct agent_lb_svc *s, int runtime)
{
	char ip[64];
	json_t *bes = json_array();

	agent_format_ip(s->family, s->vip, ip, sizeof(ip));
	for (size_t j = 0; j < s->n_be; j++) {
		const struct agent_lb_be *b = &s->be[j];
		char bip[64];
		agent_format_ip(b->family, b->addr, bip, sizeof(bip));
		json_t *o = json_pack("{s:I,s:s,s:i,s:I}", "id", (json_int_t)b->id, "ip", bip, "port",
				      b->port, "weight", (json_int_t)b->weight);
		if (runtime) {
			json_object_set_new(o, "healthy",
					    json_integer(agent_health_state(l->health, s->id, b->id)));
			json_object_set_new(o, "dp_weight", json_integer(b->sent));
		}
		json_array_append_new(bes, o);
	}
	return json_pack("{s:s,s:I,s:s,s:i,s:s,s:s,s:s,s:o,s:o}", "name", s->name, "id",
			 (json_int_t)s->id, "vip", ip, "port", s->port, "proto",
			 s->proto == 6 ? "tcp" : "udp", "affinity",
			 (s->flags & RING_SVC_F_AFFINITY_CLIENTIP) ? "client_ip" : "none", "mode",
			 (s->flags & RING_SVC_F_DSR) ? "dsr" : "nat", "health",
			 agent_lb_health_json(&s->health), "backends", bes);
}

void agent_lb_to_json(const struct agent_lb *l, json_t *root)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < l->n_svc; i++)
		json_array_append_new(arr, agent_lb_svc_json(l, &l->svc[i], 0));
	json_object_set_new(root, "services", arr);
	json_object_set_new(root, "lb_next_id", json_integer(l->next_id));
}

/* Parse the service fields shared by svc.add and the state file. */
static int agent_lb_parse_svc(json_t *o, struct agent_lb_svc *s, char *errmsg, size_t len)
{
	const char *name = NULL, *vip = NULL, *proto = NULL, *aff = "none", *mode = "nat";
	json_t *health = NULL;
	int port = 0;

	memset(s, 0, sizeof(*s));
	if (json_unpack(o, "{s:s,s:s,s:i,s:s,s?s,s?s,s?o}", "name", &name, "vip", &vip, "port", &port,
			"proto", &proto, "affinity", &aff, "mode", &mode, "health", &health) != 0)
		return sluice_errf(AGENT_INVAL, errmsg, len,
				   "service: name, vip, port, proto (tcp|udp), [affinity], [mode], [health]");
	if (name[0] == '\0' || strlen(name) >= sizeof(s->name))
		return sluice_errf(AGENT_INVAL, errmsg, len, "service name: 1..63 bytes");
	snprintf(s->name, sizeof(s->name), "%s", name);
	if (agent_parse_ip(vip, &s->family, s->vip) != 0)
		return sluice_errf(AGENT_INVAL, errmsg, len, "service %s: vip: not an IP address", name);
	if (port < 1 || port > 65535)
		return sluice_errf(AGENT_INVAL, errmsg, len, "service %s: port: 1..65535", name);
	s->port = (uint16_t)port;
	if (strcmp(proto, "tcp") == 0)
		s->proto = 6;
	else if (strcmp(proto, "udp") == 0)
		s->proto = 17;
	else
		return sluice_errf(AGENT_INVAL, errmsg, len, "service %s: proto: tcp or udp", name);
	if (strcmp(aff, "client_ip") == 0)
		s->flags = RING_SVC_F_AFFINITY_CLIENTIP;
	else if (strcmp(aff, "none") != 0)
		return sluice_errf(AGENT_INVAL, errmsg, len, "service %s: affinity: none or client_ip", name);
	/* docs/lb.md "DSR": full NAT by default */
	if (strcmp(mode, "dsr") == 0)
		s->flags |= RING_SVC_F_DSR;
	else if (strcmp(mode, "nat") != 0)
		return sluice_errf(AGENT_INVAL, errmsg, len, "service %s: mode: nat or dsr", name);
	if (health != NULL) {
		const char *type = NULL, *path = "/";
		json_int_t iv = 1000, to = 500, fall = 2, rise = 2;
		int t;
		if (json_unpack(health, "{s:s,s?I,s?I,s?I,s?I,s?s}", "type", &type, "interval_ms", &iv,
				"timeout_ms", &to, "fall", &fall, "rise", &rise, "path", &path) != 0 ||
		    (t = agent_health_type_parse(type)) < 0)
			return sluice_errf(AGENT_INVAL, errmsg, len,
					   "service %s: health: {type: none|tcp|http, interval_ms, timeout_ms, fall, rise, path}",
					   name);
		if (iv < 0 || iv > 60000 || to < 0 || to > 60000 || fall < 0 || fall > 100 || rise < 0 ||
		    rise > 100 || strlen(path) >= sizeof(s->health.path))
			return sluice_errf(AGENT_INVAL, errmsg, len, "service %s: health: value out of range", name);
		s->health.type = (uint8_t)t;
		s->health.interval_ms = (uint32_t)iv;
		s->health.timeout_ms = (uint32_t)to;
		s->health.fall = (uint32_t)fall;
		s->health.rise = (uint32_t)rise;
		snprintf(s->health.path, sizeof(s->health.path), "%s", path);
		char herr[128];
		if (agent_health_cfg_check(&s->health, herr, sizeof(herr)) != 0)
			return sluice_errf(AGENT_INVAL, errmsg, len, "service %s: %s", name, herr);
	}
	struct ring_cmd c;
	enum ring_bad why;
	s->id = 1;
	agent_lb_svc_cmd(s, 1, &c);
	s->id = 0;
	if ((why = ring_cmd_check(&c)) != RING_BAD_OK)
		return sluice_errf(AGENT_INVAL, errmsg, len, "service %s: %s", name, ring_bad_str(why));
	return AGENT_OK;
}

/* One backend from {ip, port, [weight]}; validated as dp would. */
static int agent_lb_parse_be(json_t *o, const struct agent_lb_svc *s, struct agent_lb_be *b,
			     char *errmsg, size_t len)
{
	const char *ip = NULL;
	int port = 0;
	json_int_t weight = 1;
	struct ring_cmd c;
	enum ring_bad why;

	memset(b, 0, sizeof(*b));
	if (!json_is_object(o) ||
	    json_unpack(o, "{s:s,s:i,s?I}", "ip", &ip, "port", &port, "weight", &weight) != 0)
		return sluice_errf(AGENT_INVAL, errmsg, len, "backend: {ip, port, [weight]}");
	if (agent_parse_ip(ip, &b->family, b->addr) != 0)
		return sluice_errf(AGENT_INVAL, errmsg, len, "backend ip: not an IP address");
	if (port < 1 || port > 65535)
		return sluice_errf(AGENT_INVAL, errmsg, len, "backend %s: port: 1..65535", ip);
	if (weight < 0 || weight > 65535)
		return sluice_errf(AGENT_INVAL, errmsg, len, "backend %s: weight: 0 (drain)..65535", ip);
	b->port = (uint16_t)port;
	b->weight = (uint32_t)weight;
	b->id = 1;
	struct agent_lb_svc tmp = *s;
	tmp.id = tmp.id ? tmp.id : 1;
	agent_lb_be_cmd(&tmp, b, 1, &c);
	b->id = 0;
	if ((why = ring_cmd_check(&c)) != RING_BAD_OK)
		return sluice_errf(AGENT_INVAL, errmsg, len, "backend %s: %s", ip, ring_bad_str(why));
	if (b->family != s->family)
		return sluice_errf(AGENT_INVAL, errmsg, len, "backend %s: not the VIP's address family", ip);
	return AGENT_OK;
}

int agent_lb_load(struct agent_lb *l, json_t *root, char *errmsg, size_t len)
{
	json_t *arr = json_object_get(root, "services"), *o, *bo;
	json_t *nid = json_object_get(root, "lb_next_id");
	size_t i, j;
	char err[256];

	if (arr == NULL)
		return AGENT_OK; /* a state file from before services existed */
	if (!json_is_array(arr) || !json_is_integer(nid) || json_integer_value(nid) < 1 ||
	    json_integer_value(nid) > UINT32_MAX)
		return sluice_errf(AGENT_CORRUPT, errmsg, len, "agent: services/lb_next_id malformed in state file");
	l->next_id = (uint32_t)json_integer_value(nid);
	json_array_foreach(arr, i, o) {
		struct agent_lb_svc s;
		json_int_t id = 0;
		if (agent_lb_parse_svc(o, &s, err, sizeof(err)) != AGENT_OK ||
		    json_unpack(o, "{s:I}", "id", &id) != 0 || id < 1 || id >= l->next_id ||
		    agent_lb_find(l, s.name, 0) || agent_lb_find(l, NULL, (uint32_t)id))
			return sluice_errf(AGENT_CORRUPT, errmsg, len, "agent: invalid service in state file: %s",
					   err);
		s.id = (uint32_t)id;
		json_array_foreach(json_object_get(o, "backends"), j, bo) {
			struct agent_lb_be b;
			json_int_t bid = 0;
			if (agent_lb_parse_be(bo, &s, &b, err, sizeof(err)) != AGENT_OK ||
			    json_unpack(bo, "{s:I}", "id", &bid) != 0 || bid < 1 || bid >= l->next_id ||
			    agent_lb_find_be(&s, (uint32_t)bid)) {
				free(s.be);
				return sluice_errf(AGENT_CORRUPT, errmsg, len,
						   "agent: invalid backend of service %s in state file", s.name);
			}
			b.id = (uint32_t)bid;
			if (agent_grow((void **)&s.be, &s.cap_be, s.n_be, sizeof(b)) != 0) {
				free(s.be);
				return AGENT_NOMEM;
			}
			s.be[s.n_be++] = b;
		}
		if (agent_grow((void **)&l->svc, &l->cap_svc, l->n_svc, sizeof(s)) != 0) {
			free(s.be);
			return AGENT_NOMEM;
		}
		l->svc[l->n_svc++] = s;
		for (j = 0; j < s.n_be; j++)
			agent_lb_watch(l, &s, &s.be[j]);
	}
	return AGENT_OK;
}

/* ---- replay and rollback ---- */

int agent_lb_replay(struct agent_lb *l, struct ringc *rc, uint64_t gen, char *errmsg, size_t len)
{
	struct ring_cmd c;
	int r = RINGC_OK;

	for (size_t i = 0; r == RINGC_OK && i < l->n_svc; i++) {
		struct agent_lb_svc *s = &l->svc[i];
		agent_lb_svc_cmd(s, gen, &c);
		r = ringc_send(rc, &c, errmsg, len);
		for (size_t j = 0; r == RINGC_OK && j < s->n_be; j++) {
			struct agent_lb_be *b = &s->be[j];
			agent_lb_be_cmd(s, b, gen, &c);
			r = ringc_send(rc, &c, errmsg, len);
			b->sent = c.u.backend.weight;
			uint32_t w = agent_lb_effective(l, s, b);
			if (r == RINGC_OK && w != b->sent) {
				agent_lb_weight_cmd(s->id, b->id, w, &c);
				c.generation = gen;
				r = ringc_send(rc, &c, errmsg, len);
				b->sent = w;
			}
		}
	}
	return r;
}

static void agent_lb_remove_svc(struct agent_lb *l, struct agent_lb_svc *s)
{
	agent_health_unwatch(l->health, s->id, 0);
	free(s->be);
	*s = l->svc[--l->n_svc];
}

static void agent_lb_remove_be(struct agent_lb *l, struct agent_lb_svc *s, struct agent_lb_be *b)
{
	agent_health_unwatch(l->health, s->id, b->id);
	*b = s->be[--s->n_be];
}

void agent_lb_rollback(struct agent_lb *l, const struct ring_cmd *c)
{
	struct agent_lb_svc *s;
	struct agent_lb_be *b;

	if (c->type == RING_CMD_SVC_ADD && (s = agent_lb_find(l, NULL, c->u.svc.svc_id)) != NULL)
		agent_lb_remove_svc(l, s);
	else if (c->type == RING_CMD_BACKEND_ADD &&
		 (s = agent_lb_find(l, NULL, c->u.backend.svc_id)) != NULL &&
		 (b = agent_lb_find_be(s, c->u.backend.backend_id)) != NULL)
		agent_lb_remove_be(l, s, b);
}

/* ---- requests ---- */

static json_t *agent_lb_err(int err, const char *detail)
{
	return json_pack("{s:b,s:s,s:s}", "ok", 0, "error", agent_strerror(err), "detail", detail);
}

static json_t *agent_lb_svc_add(struct agent_lb *l, json_t *req)
{
	struct agent_lb_svc s, *old;
	struct ring_cmd c;
	char err[256] = "";
	int applied = 0, rc;

	if ((rc = agent_lb_parse_svc(req, &s, err, sizeof(err))) != AGENT_OK)
		return agent_lb_err(rc, err);
	if ((old = agent_lb_find(l, s.name, 0)) != NULL) {
		/* idempotent for the same definition: a retried request */
		if (old->family == s.family && memcmp(old->vip, s.vip, 16) == 0 && old->port == s.port &&
		    old->proto == s.proto && old->flags == s.flags &&
		    memcmp(&old->health, &s.health, sizeof(s.health)) == 0)
			return json_pack("{s:b,s:b,s:I}", "ok", 1, "applied", agent_dp_connected(l->a),
					 "id", (json_int_t)old->id);
		snprintf(err, sizeof(err), "service %s exists with another definition (svc.del it first)", s.name);
		return agent_lb_err(AGENT_EXIST, err);
	}
	for (size_t i = 0; i < l->n_svc; i++)
		if (memcmp(l->svc[i].vip, s.vip, 16) == 0 && l->svc[i].port == s.port &&
		    l->svc[i].proto == s.proto) {
			snprintf(err, sizeof(err), "service %s already has that vip:port/proto", l->svc[i].name);
			return agent_lb_err(AGENT_EXIST, err);
		}
	if (agent_grow((void **)&l->svc, &l->cap_svc, l->n_svc, sizeof(s)) != 0)
		return agent_lb_err(AGENT_NOMEM, "out of memory");
	s.id = l->next_id++;
	l->svc[l->n_svc++] = s;
	if ((rc = agent_persist(l->a, err, sizeof(err))) != AGENT_OK) {
		l->n_svc--;
		return agent_lb_err(rc, err);
	}
	agent_lb_svc_cmd(&s, 0, &c);
	rc = agent_send_cmd(l->a, &c, &applied, err, sizeof(err));
	if (rc != AGENT_OK) {
		struct agent_lb_svc *p = agent_lb_find(l, NULL, s.id);
		if (p != NULL)
			agent_lb_remove_svc(l, p);
		(void)agent_persist(l->a, NULL, 0);
		return agent_lb_err(rc, err);
	}
	return json_pack("{s:b,s:b,s:I}", "ok", 1, "applied", applied, "id", (json_int_t)s.id);
}

static json_t *agent_lb_svc_del(struct agent_lb *l, json_t *req)
{
	const char *name = NULL;
	struct agent_lb_svc *s;
	struct ring_cmd c;
	char err[256] = "";
	int applied = 0, rc;

	if (json_unpack(req, "{s:s}", "name", &name) != 0)
		return agent_lb_err(AGENT_INVAL, "svc.del: name");
	if ((s = agent_lb_find(l, name, 0)) == NULL)
		return agent_lb_err(AGENT_NOENT, "svc.del: no such service");
	ring_cmd_init(&c, RING_CMD_SVC_DEL, 1, 1);
	c.u.svc_del.svc_id = s->id;
	agent_lb_remove_svc(l, s);
	if ((rc = agent_persist(l->a, err, sizeof(err))) != AGENT_OK)
		return agent_lb_err(rc, err);
	(void)agent_send_cmd(l->a, &c, &applied, NULL, 0); /* dp refusing: it did not hold it */
	return json_pack("{s:b,s:b}", "ok", 1, "applied", applied);
}

/*
 * backend.set: make the service's backends exactly the list given. Kept
 * backends (same ip:port) keep their ids and flows; a changed weight is
 * re-sent; removed ones are deleted in dp (their flows end: docs/lb.md).
 */
static json_t *agent_lb_backend_set(struct agent_lb *l, json_t *req)
{
	const char *name = NULL;
	json_t *list = NULL, *o;
	struct agent_lb_svc *s;
	struct agent_lb_be *want = NULL;
	struct ring_cmd c;
	char err[256] = "";
	size_t n, i, j;
	int rc, applied = 1, ap = 0, dp_errors = 0;

	if (json_unpack(req, "{s:s,s:o}", "service", &name, "backends", &list) != 0 ||
	    !json_is_array(list))
		return agent_lb_err(AGENT_INVAL, "backend.set: service, backends [{ip, port, [weight]}]");
	if ((s = agent_lb_find(l, name, 0)) == NULL)
		return agent_lb_err(AGENT_NOENT, "backend.set: no such service");
	n = json_array_size(list);
	if (n > 4096)
		return agent_lb_err(AGENT_INVAL, "backend.set: at most 4096 backends");
	want = calloc(n ? n : 1, sizeof(*want));
	if (want == NULL)
		return agent_lb_err(AGENT_NOMEM, "out of memory");
	json_array_foreach(list, i, o) {
		if ((rc = agent_lb_parse_be(o, s, &want[i], err, sizeof(err))) != AGENT_OK) {
			free(want);
			return agent_lb_err(rc, err);
		}
		for (j = 0; j < i; j++)
			if (memcmp(want[j].addr, want[i].addr, 16) == 0 && want[j].port == want[i].port) {
				free(want);
				return agent_lb_err(AGENT_INVAL, "backend.set: the same ip:port twice");
			}
	}
	uint32_t svc_id = s->id;
	/* removals first, so a replaced address never collides in dp */
	for (i = 0; i < s->n_be;) {
		struct agent_lb_be *b = &s->be[i];
		int keep = 0;
		for (j = 0; j < n && !keep; j++)
			keep = memcmp(want[j].addr, b->addr, 16) == 0 && want[j].port == b->port;
		if (keep) {
			i++;
			continue;
		}
		ring_cmd_init(&c, RING_CMD_BACKEND_DEL, 1, 1);
		c.u.backend_del.svc_id = svc_id;
		c.u.backend_del.backend_id = b->id;
		agent_lb_remove_be(l, s, b);
		(void)agent_send_cmd(l->a, &c, NULL, NULL, 0);
	}
	for (j = 0; j < n; j++) {
		struct agent_lb_be *b = NULL;
		for (i = 0; i < s->n_be && b == NULL; i++)
			if (memcmp(s->be[i].addr, want[j].addr, 16) == 0 && s->be[i].port == want[j].port)
				b = &s->be[i];
		if (b != NULL && b->weight == want[j].weight)
			continue;
		int fresh = b == NULL;
		if (fresh) {
			if (agent_grow((void **)&s->be, &s->cap_be, s->n_be, sizeof(*b)) != 0) {
				free(want);
				return agent_lb_err(AGENT_NOMEM, "out of memory");
			}
			b = &s->be[s->n_be++];
			*b = want[j];
			b->id = l->next_id++;
		} else {
			b->weight = want[j].weight;
		}
		if ((rc = agent_persist(l->a, err, sizeof(err))) != AGENT_OK) {
			free(want);
			return agent_lb_err(rc, err);
		}
		if (fresh) {
			uint32_t be_id = b->id;
			agent_lb_be_cmd(s, b, 0, &c);
			rc = agent_send_cmd(l->a, &c, &ap, err, sizeof(err));
			if (rc != AGENT_OK) {
				/* dp refused it: not part of the desired state */
				dp_errors++;
				if ((b = agent_lb_find_be(s, be_id)) != NULL)
					agent_lb_remove_be(l, s, b);
				continue;
			}
			applied &= ap;
			b->sent = c.u.backend.weight;
			agent_lb_watch(l, s, b);
			/* added as 1 (BACKEND_ADD's floor): drain a 0 at once */
			uint32_t w = agent_lb_effective(l, s, b);
			if (w != b->sent) {
				agent_lb_weight_cmd(svc_id, b->id, w, &c);
				if (agent_send_cmd(l->a, &c, &ap, NULL, 0) == AGENT_OK && ap)
					b->sent = w;
			}
		}
	}
	free(want);
	/* weight changes, operator drains (0), new backends already known
	 * unhealthy, and whatever they did to panic mode */
	applied &= agent_lb_sync_weights(l, s);
	if ((rc = agent_persist(l->a, err, sizeof(err))) != AGENT_OK)
		return agent_lb_err(rc, err);
	if (dp_errors > 0)
		return agent_lb_err(AGENT_DP, err);
	return json_pack("{s:b,s:b,s:I}", "ok", 1, "applied", applied && agent_dp_connected(l->a),
			 "backends", (json_int_t)s->n_be);
}

json_t *agent_lb_ipc(struct agent_lb *l, const char *op, json_t *req)
{
	if (strcmp(op, "svc.add") == 0)
		return agent_lb_svc_add(l, req);
	if (strcmp(op, "svc.del") == 0)
		return agent_lb_svc_del(l, req);
	if (strcmp(op, "backend.set") == 0)
		return agent_lb_backend_set(l, req);
	if (strcmp(op, "services") == 0) {
		json_t *arr = json_array();
		for (size_t i = 0; i < l->n_svc; i++)
			json_array_append_new(arr, agent_lb_svc_json(l, &l->svc[i], 1));
		return json_pack("{s:b,s:o}", "ok", 1, "services", arr);
	}
	return NULL;
}
