/*
 * cni_result: parse, print and merge CNI results (see cni_result.h).
 *
 * Strings are copied into fixed fields only after their length is checked
 * against the field; a value that does not fit is a decode failure, never
 * a silent truncation, because a truncated netns path or address would name
 * something else.
 */
#include "cni_result.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cni_result_init(struct cni_result *r)
{
	memset(r, 0, sizeof(*r));
}

int cni_ip_parse(const char *s, unsigned char addr[16])
{
	if (s == NULL || strlen(s) >= CNI_IP_STR_MAX)
		return 0;
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1)
		return 4;
	if (inet_pton(AF_INET6, s, addr) == 1)
		return 6;
	return 0;
}

int cni_cidr_parse(const char *s, unsigned char addr[16], unsigned *prefix)
{
	if (s == NULL)
		return 0;
	const char *slash = strchr(s, '/');
	if (slash == NULL || slash == s || (size_t)(slash - s) >= CNI_IP_STR_MAX)
		return 0;
	char ip[CNI_IP_STR_MAX];
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	int fam = cni_ip_parse(ip, addr);
	if (fam == 0)
		return 0;
	const char *p = slash + 1;
	unsigned len = 0;
	size_t digits = 0;
	for (; *p >= '0' && *p <= '9' && digits < 4; p++, digits++)
		len = len * 10 + (unsigned)(*p - '0');
	if (digits == 0 || *p != '\0' || len > (fam == 4 ? 32u : 128u))
		return 0;
	if (prefix != NULL)
		*prefix = len;
	return fam;
}

/* Copy a JSON string member into a fixed field. Absent is fine unless required. */
static enum cni_err cni_result_str(const json_t *obj, const char *key, char *dst, size_t cap,
				   bool required, const char *what, struct cni_error *err)
{
	const json_t *v = json_object_get(obj, key);
	if (v == NULL) {
		if (required)
			return cni_error_set(err, CNI_ERR_DECODE, "%s: missing \"%s\"", what, key);
		dst[0] = '\0';
		return CNI_OK;
	}
	if (!json_is_string(v))
		return cni_error_set(err, CNI_ERR_DECODE, "%s: \"%s\" is not a string", what, key);
	size_t n = json_string_length(v);
	/* Fixed fields: too long, or an embedded NUL that would shorten it, is a lie. */
	if (n >= cap || strlen(json_string_value(v)) != n)
		return cni_error_set(err, CNI_ERR_DECODE, "%s: \"%s\" too long or malformed", what,
				     key);
	memcpy(dst, json_string_value(v), n + 1);
	return CNI_OK;
}

static enum cni_err cni_result_u32(const json_t *obj, const char *key, uint32_t *dst,
				   const char *what, struct cni_error *err)
{
	const json_t *v = json_object_get(obj, key);
	*dst = 0;
	if (v == NULL)
		return CNI_OK;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > (json_int_t)UINT32_MAX)
		return cni_error_set(err, CNI_ERR_DECODE, "%s: \"%s\" is not a u32", what, key);
	*dst = (uint32_t)json_integer_value(v);
	return CNI_OK;
}

static enum cni_err cni_result_array(const json_t *obj, const char *key, size_t max,
				     const json_t **out, const char *what, struct cni_error *err)
{
	const json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (v == NULL || json_is_null(v))
		return CNI_OK;
	if (!json_is_array(v))
		return cni_error_set(err, CNI_ERR_DECODE, "%s: \"%s\" is not an array", what, key);
	if (json_array_size(v) > max)
		return cni_error_set(err, CNI_ERR_DECODE, "%s: more than %zu \"%s\"", what, max,
				     key);
	*out = v;
	return CNI_OK;
}

static enum cni_err cni_result_parse_iface(const json_t *o, struct cni_result_iface *f,
					   struct cni_error *err)
{
	enum cni_err e;
	if (!json_is_object(o))
		return cni_error_set(err, CNI_ERR_DECODE, "interfaces: entry is not an object");
	if ((e = cni_result_str(o, "name", f->name, sizeof(f->name), true, "interfaces", err)) ||
	    (e = cni_result_str(o, "mac", f->mac, sizeof(f->mac), false, "interfaces", err)) ||
	    (e = cni_result_str(o, "sandbox", f->sandbox, sizeof(f->sandbox), false, "interfaces",
				err)) ||
	    (e = cni_result_str(o, "socketPath", f->socket_path, sizeof(f->socket_path), false,
				"interfaces", err)) ||
	    (e = cni_result_str(o, "pciID", f->pci_id, sizeof(f->pci_id), false, "interfaces",
				err)) ||
	    (e = cni_result_u32(o, "mtu", &f->mtu, "interfaces", err)))
		return e;
	if (f->name[0] == '\0')
		return cni_error_set(err, CNI_ERR_DECODE, "interfaces: empty name");
	return CNI_OK;
}

static enum cni_err cni_result_parse_ip(const json_t *o, enum cni_version v, unsigned n_ifaces,
					struct cni_result_ip *ip, struct cni_error *err)
{
	unsigned char a[16];
	char ver[4];
	enum cni_err e;
	if (!json_is_object(o))
		return cni_error_set(err, CNI_ERR_DECODE, "ips: entry is not an object");
	if ((e = cni_result_str(o, "address", ip->address, sizeof(ip->address), true, "ips", err)) ||
	    (e = cni_result_str(o, "gateway", ip->gateway, sizeof(ip->gateway), false, "ips", err)) ||
	    (e = cni_result_str(o, "version", ver, sizeof(ver), v < CNI_VERSION_1_0_0, "ips", err)))
		return e;
	ip->family = cni_cidr_parse(ip->address, a, NULL);
	if (ip->family == 0)
		return cni_error_set(err, CNI_ERR_DECODE, "ips: bad address \"%s\"", ip->address);
	if (ip->gateway[0] != '\0' && cni_ip_parse(ip->gateway, a) != ip->family)
		return cni_error_set(err, CNI_ERR_DECODE, "ips: bad gateway \"%s\"", ip->gateway);
	/* 0.3.x/0.4.0 "version" is "4" or "6" and must agree with the address. */
	if (json_object_get(o, "version") != NULL &&
	    !((ip->family == 4 && strcmp(ver, "4") == 0) ||
	      (ip->family == 6 && strcmp(ver, "6") == 0)))
		return cni_error_set(err, CNI_ERR_DECODE, "ips: version \"%s\" does not match %s",
				     ver, ip->address);
	ip->iface = -1;
	const json_t *idx = json_object_get(o, "interface");
	if (idx != NULL) {
		/* SPEC.md "Success": interface is an index into interfaces[]. */
		if (!json_is_integer(idx) || json_integer_value(idx) < 0 ||
		    json_integer_value(idx) >= (json_int_t)n_ifaces)
			return cni_error_set(err, CNI_ERR_DECODE, "ips: interface index out of range");
		ip->iface = (int)json_integer_value(idx);
	}
	return CNI_OK;
}

static enum cni_err cni_result_parse_route(const json_t *o, struct cni_result_route *rt,
					   struct cni_error *err)
{
	unsigned char a[16];
	enum cni_err e;
	if (!json_is_object(o))
		return cni_error_set(err, CNI_ERR_DECODE, "routes: entry is not an object");
	if ((e = cni_result_str(o, "dst", rt->dst, sizeof(rt->dst), true, "routes", err)) ||
	    (e = cni_result_str(o, "gw", rt->gw, sizeof(rt->gw), false, "routes", err)) ||
	    (e = cni_result_u32(o, "mtu", &rt->mtu, "routes", err)) ||
	    (e = cni_result_u32(o, "advmss", &rt->advmss, "routes", err)) ||
	    (e = cni_result_u32(o, "priority", &rt->priority, "routes", err)) ||
	    (e = cni_result_u32(o, "table", &rt->table, "routes", err)))
		return e;
	int fam = cni_cidr_parse(rt->dst, a, NULL);
	if (fam == 0)
		return cni_error_set(err, CNI_ERR_DECODE, "routes: bad dst \"%s\"", rt->dst);
	if (rt->gw[0] != '\0' && cni_ip_parse(rt->gw, a) != fam)
		return cni_error_set(err, CNI_ERR_DECODE, "routes: bad gw \"%s\"", rt->gw);
	rt->scope = -1;
	const json_t *sc = json_object_get(o, "scope");
	if (sc != NULL) {
		/* rtnetlink scope is a u8 (RT_SCOPE_*). */
		if (!json_is_integer(sc) || json_integer_value(sc) < 0 ||
		    json_integer_value(sc) > 255)
			return cni_error_set(err, CNI_ERR_DECODE, "routes: bad scope");
		rt->scope = (int)json_integer_value(sc);
	}
	return CNI_OK;
}

static enum cni_err cni_result_str_list(const json_t *o, const char *key, char *base,
					size_t stride, unsigned *count, bool ips,
					struct cni_error *err)
{
	const json_t *arr;
	enum cni_err e = cni_result_array(o, key, CNI_RESULT_MAX_DNS, &arr, "dns", err);
	if (e != CNI_OK || arr == NULL)
		return e;
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const json_t *s = json_array_get(arr, i);
		char *dst = base + i * stride;
		unsigned char a[16];
		if (!json_is_string(s) || json_string_length(s) >= stride ||
		    strlen(json_string_value(s)) != json_string_length(s))
			return cni_error_set(err, CNI_ERR_DECODE, "dns: bad \"%s\" entry", key);
		memcpy(dst, json_string_value(s), json_string_length(s) + 1);
		if (ips && cni_ip_parse(dst, a) == 0)
			return cni_error_set(err, CNI_ERR_DECODE, "dns: bad nameserver \"%s\"", dst);
	}
	*count = (unsigned)json_array_size(arr);
	return CNI_OK;
}

enum cni_err cni_result_parse(const json_t *obj, enum cni_version v, struct cni_result *r,
			      struct cni_error *err)
{
	const json_t *arr;
	enum cni_err e;
	cni_result_init(r);
	if (!json_is_object(obj))
		return cni_error_set(err, CNI_ERR_DECODE, "result is not an object");

	if ((e = cni_result_array(obj, "interfaces", CNI_RESULT_MAX_IFACES, &arr, "result", err)))
		return e;
	for (size_t i = 0; arr != NULL && i < json_array_size(arr); i++, r->n_ifaces++)
		if ((e = cni_result_parse_iface(json_array_get(arr, i), &r->ifaces[i], err)))
			return e;

	if ((e = cni_result_array(obj, "ips", CNI_RESULT_MAX_IPS, &arr, "result", err)))
		return e;
	for (size_t i = 0; arr != NULL && i < json_array_size(arr); i++, r->n_ips++)
		if ((e = cni_result_parse_ip(json_array_get(arr, i), v, r->n_ifaces, &r->ips[i], err)))
			return e;

	if ((e = cni_result_array(obj, "routes", CNI_RESULT_MAX_ROUTES, &arr, "result", err)))
		return e;
	for (size_t i = 0; arr != NULL && i < json_array_size(arr); i++, r->n_routes++)
		if ((e = cni_result_parse_route(json_array_get(arr, i), &r->routes[i], err)))
			return e;

	const json_t *dns = json_object_get(obj, "dns");
	if (dns != NULL && !json_is_null(dns)) {
		struct cni_result_dns *d = &r->dns;
		if (!json_is_object(dns))
			return cni_error_set(err, CNI_ERR_DECODE, "dns is not an object");
		if ((e = cni_result_str_list(dns, "nameservers", &d->nameservers[0][0],
					     sizeof(d->nameservers[0]), &d->n_nameservers, true,
					     err)) ||
		    (e = cni_result_str(dns, "domain", d->domain, sizeof(d->domain), false, "dns",
					err)) ||
		    (e = cni_result_str_list(dns, "search", &d->search[0][0], sizeof(d->search[0]),
					     &d->n_search, false, err)) ||
		    (e = cni_result_str_list(dns, "options", &d->options[0][0],
					     sizeof(d->options[0]), &d->n_options, false, err)))
			return e;
	}
	return CNI_OK;
}

/* json_object_set_new that remembers failure, so building is linear. */
static void cni_json_set(json_t *o, const char *k, json_t *v, bool *ok)
{
	if (v == NULL || json_object_set_new(o, k, v) != 0)
		*ok = false;
}

static void cni_json_push(json_t *a, json_t *v, bool *ok)
{
	if (v == NULL || json_array_append_new(a, v) != 0)
		*ok = false;
}

static json_t *cni_json_strings(const char *base, size_t stride, unsigned n, bool *ok)
{
	json_t *a = json_array();
	if (a == NULL) {
		*ok = false;
		return NULL;
	}
	for (unsigned i = 0; i < n; i++)
		cni_json_push(a, json_string(base + i * stride), ok);
	return a;
}

json_t *cni_result_to_json(const struct cni_result *r, enum cni_version v)
{
	bool ok = true;
	bool v11 = v >= CNI_VERSION_1_1_0;
	json_t *o = json_object();
	if (o == NULL)
		return NULL;
	cni_json_set(o, "cniVersion", json_string(cni_version_string(v)), &ok);

	if (r->n_ifaces > 0) {
		json_t *a = json_array();
		for (unsigned i = 0; a != NULL && i < r->n_ifaces; i++) {
			const struct cni_result_iface *f = &r->ifaces[i];
			json_t *e = json_object();
			if (e == NULL) {
				ok = false;
				break;
			}
			cni_json_set(e, "name", json_string(f->name), &ok);
			if (f->mac[0])
				cni_json_set(e, "mac", json_string(f->mac), &ok);
			if (f->sandbox[0])
				cni_json_set(e, "sandbox", json_string(f->sandbox), &ok);
			if (v11 && f->mtu)
				cni_json_set(e, "mtu", json_integer(f->mtu), &ok);
			if (v11 && f->socket_path[0])
				cni_json_set(e, "socketPath", json_string(f->socket_path), &ok);
			if (v11 && f->pci_id[0])
				cni_json_set(e, "pciID", json_string(f->pci_id), &ok);
			cni_json_push(a, e, &ok);
		}
		cni_json_set(o, "interfaces", a, &ok);
	}
	if (r->n_ips > 0) {
		json_t *a = json_array();
		for (unsigned i = 0; a != NULL && i < r->n_ips; i++) {
			const struct cni_result_ip *ip = &r->ips[i];
			json_t *e = json_object();
			if (e == NULL) {
				ok = false;
				break;
			}
			/* Up to 0.4.0 the family is spelled out; 1.0.0 dropped the field. */
			if (v < CNI_VERSION_1_0_0)
				cni_json_set(e, "version", json_string(ip->family == 6 ? "6" : "4"),
					     &ok);
			if (ip->iface >= 0)
				cni_json_set(e, "interface", json_integer(ip->iface), &ok);
			cni_json_set(e, "address", json_string(ip->address), &ok);
			if (ip->gateway[0])
				cni_json_set(e, "gateway", json_string(ip->gateway), &ok);
			cni_json_push(a, e, &ok);
		}
		cni_json_set(o, "ips", a, &ok);
	}
	if (r->n_routes > 0) {
		json_t *a = json_array();
		for (unsigned i = 0; a != NULL && i < r->n_routes; i++) {
			const struct cni_result_route *rt = &r->routes[i];
			json_t *e = json_object();
			if (e == NULL) {
				ok = false;
				break;
			}
			cni_json_set(e, "dst", json_string(rt->dst), &ok);
			if (rt->gw[0])
				cni_json_set(e, "gw", json_string(rt->gw), &ok);
			if (v11 && rt->mtu)
				cni_json_set(e, "mtu", json_integer(rt->mtu), &ok);
			if (v11 && rt->advmss)
				cni_json_set(e, "advmss", json_integer(rt->advmss), &ok);
			if (v11 && rt->priority)
				cni_json_set(e, "priority", json_integer(rt->priority), &ok);
			if (v11 && rt->table)
				cni_json_set(e, "table", json_integer(rt->table), &ok);
			if (v11 && rt->scope >= 0)
				cni_json_set(e, "scope", json_integer(rt->scope), &ok);
			cni_json_push(a, e, &ok);
		}
		cni_json_set(o, "routes", a, &ok);
	}
	/* libcni always prints "dns" (possibly {}); do the same so diffs stay quiet. */
	const struct cni_result_dns *d = &r->dns;
	json_t *dns = json_object();
	if (dns != NULL) {
		if (d->n_nameservers)
			cni_json_set(dns, "nameservers",
				     cni_json_strings(&d->nameservers[0][0], sizeof(d->nameservers[0]),
						      d->n_nameservers, &ok), &ok);
		if (d->domain[0])
			cni_json_set(dns, "domain", json_string(d->domain), &ok);
		if (d->n_search)
			cni_json_set(dns, "search",
				     cni_json_strings(&d->search[0][0], sizeof(d->search[0]),
						      d->n_search, &ok), &ok);
		if (d->n_options)
			cni_json_set(dns, "options",
				     cni_json_strings(&d->options[0][0], sizeof(d->options[0]),
						      d->n_options, &ok), &ok);
	}
	cni_json_set(o, "dns", dns, &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

enum cni_err cni_result_append(struct cni_result *dst, const struct cni_result *src,
			       struct cni_error *err)
{
	if (dst->n_ifaces + src->n_ifaces > CNI_RESULT_MAX_IFACES ||
	    dst->n_ips + src->n_ips > CNI_RESULT_MAX_IPS ||
	    dst->n_routes + src->n_routes > CNI_RESULT_MAX_ROUTES)
		return cni_error_set(err, CNI_ERR_INTERNAL, "merged result too large");
	unsigned base = dst->n_ifaces;
	for (unsigned i = 0; i < src->n_ifaces; i++)
		dst->ifaces[dst->n_ifaces++] = src->ifaces[i];
	for (unsigned i = 0; i < src->n_ips; i++) {
		struct cni_result_ip ip = src->ips[i];
		if (ip.iface >= 0)
			ip.iface += (int)base;
		dst->ips[dst->n_ips++] = ip;
	}
	for (unsigned i = 0; i < src->n_routes; i++)
		dst->routes[dst->n_routes++] = src->routes[i];
	struct cni_result_dns *d = &dst->dns;
	const struct cni_result_dns *s = &src->dns;
	if (d->n_nameservers == 0) {
		memcpy(d->nameservers, s->nameservers, sizeof(d->nameservers));
		d->n_nameservers = s->n_nameservers;
	}
	if (d->domain[0] == '\0')
		memcpy(d->domain, s->domain, sizeof(d->domain));
	if (d->n_search == 0) {
		memcpy(d->search, s->search, sizeof(d->search));
		d->n_search = s->n_search;
	}
	if (d->n_options == 0) {
		memcpy(d->options, s->options, sizeof(d->options));
		d->n_options = s->n_options;
	}
	return CNI_OK;
}
