/*
 * ctlr_apisvc: default/kubernetes and its Endpoints (see ctlr_apisvc.h).
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/errmsg.h>

#include "agent_svc.h" /* AGENT_SVC_HEALTH_ANN (a header-only constant) */
#include "ctlr_apisvc.h"
#include "ctlr_endpoints.h"
#include "ctlr_util.h"

/* "https://A.B.C.D:PORT[/]" -> ip, port; false for anything else. */
static bool apisvc_url(const char *url, char ip[APISVC_IP_MAX], unsigned *port)
{
	static const char scheme[] = "https://";
	if (url == NULL || strncmp(url, scheme, sizeof(scheme) - 1) != 0)
		return false;
	const char *h = url + sizeof(scheme) - 1, *colon = strchr(h, ':');
	if (colon == NULL || colon == h || (size_t)(colon - h) >= APISVC_IP_MAX)
		return false;
	memcpy(ip, h, (size_t)(colon - h));
	ip[colon - h] = 0;
	struct in_addr a;
	if (inet_pton(AF_INET, ip, &a) != 1)
		return false;
	char *end;
	unsigned long p = strtoul(colon + 1, &end, 10);
	if (end == colon + 1 || (*end != 0 && strcmp(end, "/") != 0) || p == 0 || p > 65535)
		return false;
	*port = (unsigned)p;
	return true;
}

static bool apisvc_ready(const json_t *m)
{
	const char *health = json_string_value(json_object_get(m, "health"));
	const char *role = json_string_value(json_object_get(m, "role"));
	return (health == NULL || strcmp(health, "ok") == 0) &&
	       (role == NULL || strcmp(role, "leader") == 0 || strcmp(role, "follower") == 0);
}

/* The subset of subsets (port string -> subset) for port, made if new. */
static json_t *apisvc_subset(json_t *by_port, unsigned port)
{
	char k[8];
	snprintf(k, sizeof(k), "%05u", port); /* zero-padded: keys sort as numbers */
	json_t *s = json_object_get(by_port, k);
	if (s != NULL)
		return s;
	s = json_pack("{s:[], s:[], s:[{s:s, s:I, s:s}]}", "addresses", "notReadyAddresses",
		      "ports", "name", APISVC_PORT_NAME, "port", (json_int_t)port, "protocol", "TCP");
	if (s == NULL || json_object_set_new(by_port, k, s) != 0)
		return NULL;
	return s;
}

json_t *apisvc_endpoints(const json_t *status, json_t *skipped)
{
	json_t *by_port = json_object();
	json_t *ep = json_pack("{s:s, s:s, s:{s:s, s:s}, s:[]}", "apiVersion", "v1", "kind",
			       "Endpoints", "metadata", "name", APISVC_NAME, "namespace",
			       APISVC_NAMESPACE, "subsets");
	size_t i;
	json_t *m;
	if (by_port == NULL || ep == NULL)
		goto nomem;
	json_array_foreach(json_object_get(status, "members"), i, m) {
		char ip[APISVC_IP_MAX];
		unsigned port;
		if (!apisvc_url(json_string_value(json_object_get(m, "apiURL")), ip, &port)) {
			const char *name = json_string_value(json_object_get(m, "name"));
			if (skipped != NULL &&
			    json_array_append_new(skipped, json_string(name ? name : "?")) != 0)
				goto nomem;
			continue;
		}
		json_t *sub = apisvc_subset(by_port, port);
		const char *list = apisvc_ready(m) ? "addresses" : "notReadyAddresses";
		if (sub == NULL ||
		    json_array_append_new(json_object_get(sub, list), json_pack("{s:s}", "ip", ip)) != 0)
			goto nomem;
	}
	/* jansson keeps insertion order: walk the zero-padded keys sorted. */
	const char *keys[64];
	size_t nk = 0;
	const char *k;
	json_t *v;
	json_object_foreach(by_port, k, v) {
		if (nk < sizeof(keys) / sizeof(keys[0]))
			keys[nk++] = k;
	}
	for (size_t a = 1; a < nk; a++)
		for (size_t b = a; b > 0 && strcmp(keys[b - 1], keys[b]) > 0; b--) {
			const char *t = keys[b];
			keys[b] = keys[b - 1];
			keys[b - 1] = t;
		}
	json_t *subsets = json_object_get(ep, "subsets");
	for (size_t a = 0; a < nk; a++) {
		v = json_object_get(by_port, keys[a]);
		if (endpoints_subset_finish(v) != 0 || json_array_append(subsets, v) != 0)
			goto nomem;
	}
	json_decref(by_port);
	return ep;
nomem:
	json_decref(by_port);
	json_decref(ep);
	return NULL;
}

unsigned apisvc_target_port(const json_t *eps)
{
	unsigned best = 0;
	size_t best_n = 0, i;
	json_t *sub;
	json_array_foreach(json_object_get(eps, "subsets"), i, sub) {
		json_int_t p = json_integer_value(json_object_get(
			json_array_get(json_object_get(sub, "ports"), 0), "port"));
		size_t n = json_array_size(json_object_get(sub, "addresses")) +
			   json_array_size(json_object_get(sub, "notReadyAddresses"));
		if (p <= 0 || p > 65535 || n == 0)
			continue;
		if (n > best_n || (n == best_n && (unsigned)p < best)) {
			best = (unsigned)p;
			best_n = n;
		}
	}
	return best ? best : APISVC_DEFAULT_TARGET;
}

static json_t *apisvc_port(unsigned target)
{
	return json_pack("{s:s, s:I, s:s, s:I}", "name", APISVC_PORT_NAME, "port",
			 (json_int_t)APISVC_PORT, "protocol", "TCP", "targetPort", (json_int_t)target);
}

static json_t *apisvc_vips(const struct apisvc_cfg *c)
{
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && i < c->n_vips; i++)
		if (json_array_append_new(a, json_string(c->vips[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* Is port p (a Service port) the one we own: named https, or 443/TCP? */
static bool apisvc_is_ours(const json_t *p)
{
	const char *name = json_string_value(json_object_get(p, "name"));
	const char *proto = json_string_value(json_object_get(p, "protocol"));
	if (name != NULL && strcmp(name, APISVC_PORT_NAME) == 0)
		return true;
	return json_integer_value(json_object_get(p, "port")) == APISVC_PORT &&
	       (proto == NULL || strcmp(proto, "TCP") == 0);
}

json_t *apisvc_service(const json_t *cur, const struct apisvc_cfg *c, bool *nomem)
{
	*nomem = false;
	unsigned target = c->target_port ? c->target_port : APISVC_DEFAULT_TARGET;
	json_t *want_port = apisvc_port(target), *vips = apisvc_vips(c), *out = NULL;
	if (want_port == NULL || vips == NULL)
		goto nomem;
	if (cur == NULL) {
		/* The TCP health check lets every node drain a dead master at
		 * once, before the Endpoints change (agent_svc.h). */
		out = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}, s:{s:s}}, s:{s:s, s:s, s:s, s:[O]}}",
				"apiVersion", "v1", "kind", "Service", "metadata", "name", APISVC_NAME,
				"namespace", APISVC_NAMESPACE, "labels", "component", "apiserver",
				"provider", "kubernetes", "annotations", AGENT_SVC_HEALTH_ANN, "tcp",
				"spec", "type", "ClusterIP", "clusterIP",
				APISVC_CLUSTER_IP, "sessionAffinity", "None", "ports", want_port);
		if (out == NULL ||
		    (c->n_vips > 0 &&
		     json_object_set(json_object_get(out, "spec"), "externalIPs", vips) != 0))
			goto nomem;
		goto done;
	}
	out = json_deep_copy(cur);
	json_t *spec = out ? json_object_get(out, "spec") : NULL;
	if (out == NULL)
		goto nomem;
	if (!json_is_object(spec)) {
		if (json_object_set_new(out, "spec", json_object()) != 0)
			goto nomem;
		spec = json_object_get(out, "spec");
	}
	bool changed = false;
	/* Our port: exactly one, as wanted, in the place it had. */
	json_t *ports = json_object_get(spec, "ports");
	if (!json_is_array(ports)) {
		if (json_object_set_new(spec, "ports", json_array()) != 0)
			goto nomem;
		ports = json_object_get(spec, "ports");
	}
	bool have = false;
	for (size_t i = 0; i < json_array_size(ports);) {
		json_t *p = json_array_get(ports, i);
		if (!apisvc_is_ours(p)) {
			i++;
			continue;
		}
		if (!have && json_equal(p, want_port)) {
			have = true;
			i++;
			continue;
		}
		if (!have) {
			if (json_array_set(ports, i, want_port) != 0)
				goto nomem;
			have = true;
			i++;
		} else if (json_array_remove(ports, i) != 0) {
			goto nomem;
		}
		changed = true;
	}
	if (!have) {
		if (json_array_insert(ports, 0, want_port) != 0)
			goto nomem;
		changed = true;
	}
	if (c->n_vips > 0 && !json_equal(json_object_get(spec, "externalIPs"), vips)) {
		if (json_object_set(spec, "externalIPs", vips) != 0)
			goto nomem;
		changed = true;
	}
	if (!changed) {
		json_decref(out);
		out = NULL;
	}
done:
	json_decref(want_port);
	json_decref(vips);
	return out;
nomem:
	*nomem = true;
	json_decref(want_port);
	json_decref(vips);
	json_decref(out);
	return NULL;
}

/* ip (host order) inside the IPv4 CIDR text c? false when c is malformed. */
static bool apisvc_in_cidr(uint32_t ip, const char *c)
{
	uint32_t net;
	unsigned bits;
	return ctlr_cidr4_parse(c, &net, &bits) && (ip & ctlr_mask4(bits)) == (net & ctlr_mask4(bits));
}

int apisvc_vip_check(const char *ip, const char *cluster_cidr, char *err, size_t len)
{
	struct in_addr a;
	if (ip == NULL || inet_pton(AF_INET, ip, &a) != 1)
		return sluice_errf(-1, err, len, "API VIP '%s': not an IPv4 address",
				   ip ? ip : "");
	uint32_t h = ntohl(a.s_addr);
	static const char *const bad[] = {"0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16",
					  "224.0.0.0/3"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (apisvc_in_cidr(h, bad[i]))
			return sluice_errf(-1, err, len,
					   "API VIP %s: not a unicast host address (inside %s)", ip,
					   bad[i]);
	const char *cc = cluster_cidr ? cluster_cidr : "10.244.0.0/16";
	if (apisvc_in_cidr(h, cc))
		return sluice_errf(-1, err, len, "API VIP %s: inside the pod network %s", ip, cc);
	if (apisvc_in_cidr(h, APISVC_SERVICE_CIDR))
		return sluice_errf(-1, err, len, "API VIP %s: inside the service CIDR %s", ip,
				   APISVC_SERVICE_CIDR);
	return 0;
}

int apisvc_vips_parse(const char *list, const char *cluster_cidr, char vips[][APISVC_IP_MAX],
		      size_t max, size_t *n, char *err, size_t len)
{
	const char *p = list ? list : "";
	do {
		const char *comma = strchr(p, ',');
		size_t l = comma ? (size_t)(comma - p) : strlen(p);
		char ip[APISVC_IP_MAX];
		if (l == 0 || l >= sizeof(ip))
			return sluice_errf(-1, err, len, "API VIP '%.*s': not an IPv4 address",
					   (int)(l < 64 ? l : 64), p);
		memcpy(ip, p, l);
		ip[l] = 0;
		if (apisvc_vip_check(ip, cluster_cidr, err, len) < 0)
			return -1;
		bool dup = false;
		for (size_t i = 0; i < *n; i++)
			dup = dup || strcmp(vips[i], ip) == 0;
		if (!dup) {
			if (*n >= max)
				return sluice_errf(-1, err, len, "at most %zu API VIPs", max);
			memcpy(vips[(*n)++], ip, l + 1);
		}
		p = comma ? comma + 1 : NULL;
	} while (p != NULL);
	return 0;
}
