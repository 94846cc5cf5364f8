/*
 * ctlr_endpoints: Endpoints computation (see ctlr_endpoints.h).
 *
 * Each pod resolves the Service's ports to a port list; pods with equal
 * lists share a subset. The list is serialized (compact JSON) and used as
 * the key of a jansson object mapping it to its subset.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "ctlr_endpoints.h"
#include "ctlr_util.h"

/* targetPort of a Service port resolved for one pod; 0 when a named port
 * is not declared by the pod. */
static json_int_t endpoints_target(const json_t *sp, const json_t *pod)
{
	json_t *tp = json_object_get(sp, "targetPort");
	if (json_is_integer(tp))
		return json_integer_value(tp);
	const char *name = json_string_value(tp);
	if (name == NULL || name[0] == 0)
		return json_integer_value(json_object_get(sp, "port"));
	/* A numeric string is a number too (intstr). */
	char *end;
	long v = strtol(name, &end, 10);
	if (*end == 0 && v > 0 && v < 65536)
		return v;
	json_t *cts = json_object_get(json_object_get(pod, "spec"), "containers");
	size_t i, j;
	json_t *ct, *cp;
	json_array_foreach(cts, i, ct) {
		json_array_foreach(json_object_get(ct, "ports"), j, cp) {
			const char *pn = json_string_value(json_object_get(cp, "name"));
			if (pn && strcmp(pn, name) == 0)
				return json_integer_value(json_object_get(cp, "containerPort"));
		}
	}
	return 0;
}

static json_t *endpoints_ports(const json_t *svc, const json_t *pod)
{
	json_t *out = json_array();
	size_t i;
	json_t *sp;
	json_array_foreach(json_object_get(json_object_get(svc, "spec"), "ports"), i, sp) {
		json_int_t port = endpoints_target(sp, pod);
		if (port <= 0 || port > 65535)
			continue;
		const char *proto = json_string_value(json_object_get(sp, "protocol"));
		json_t *p = json_pack("{s:I, s:s}", "port", port, "protocol", proto ? proto : "TCP");
		const char *name = json_string_value(json_object_get(sp, "name"));
		if (p && name && name[0])
			json_object_set_new(p, "name", json_string(name));
		if (p == NULL || json_array_append_new(out, p) != 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

/* Numeric order (IPv4 before IPv6), so 10.0.0.9 < 10.0.0.10. */
static void endpoints_ip_key(const char *ip, unsigned char key[17])
{
	memset(key, 0, 17);
	if (inet_pton(AF_INET, ip, key + 1) == 1)
		return;
	key[0] = 1;
	if (inet_pton(AF_INET6, ip, key + 1) != 1)
		key[0] = 2; /* not an IP (cannot come from a valid pod): last */
}

static int endpoints_addr_cmp(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	const char *ix = json_string_value(json_object_get(x, "ip"));
	const char *iy = json_string_value(json_object_get(y, "ip"));
	unsigned char kx[17], ky[17];
	endpoints_ip_key(ix ? ix : "", kx);
	endpoints_ip_key(iy ? iy : "", ky);
	int c = memcmp(kx, ky, sizeof(kx));
	return c ? c : strcmp(ix ? ix : "", iy ? iy : "");
}

static int endpoints_sort(json_t *arr)
{
	size_t n = json_array_size(arr);
	if (n < 2)
		return 0;
	json_t **v = malloc(n * sizeof(*v));
	if (v == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(arr, i));
	qsort(v, n, sizeof(*v), endpoints_addr_cmp);
	json_array_clear(arr);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, v[i]);
	free(v);
	return 0;
}

int endpoints_subset_finish(json_t *sub)
{
	static const char *const lists[] = {"addresses", "notReadyAddresses"};
	for (size_t i = 0; i < 2; i++) {
		json_t *a = json_object_get(sub, lists[i]);
		if (endpoints_sort(a) != 0)
			return -1;
		if (json_array_size(a) == 0)
			json_object_del(sub, lists[i]);
	}
	return 0;
}

static int endpoints_key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static json_t *endpoints_address(const json_t *pod)
{
	json_t *a = json_pack("{s:s, s:{s:s, s:s, s:s}}", "ip",
			      json_string_value(json_object_get(json_object_get(pod, "status"),
								"podIP")),
			      "targetRef", "kind", "Pod", "namespace", ctlr_namespace(pod), "name",
			      ctlr_name(pod));
	if (a == NULL)
		return NULL;
	const char *uid = ctlr_uid(pod);
	if (uid)
		json_object_set_new(json_object_get(a, "targetRef"), "uid", json_string(uid));
	const char *node = ctlr_pod_node(pod);
	if (node)
		json_object_set_new(a, "nodeName", json_string(node));
	return a;
}

json_t *endpoints_compute(const json_t *svc, const json_t *const *pods, size_t n, bool *nomem)
{
	*nomem = false;
	const json_t *sel = json_object_get(json_object_get(svc, "spec"), "selector");
	if (!json_is_object(sel) || json_object_size(sel) == 0)
		return NULL;
	const char *ns = ctlr_namespace(svc);
	json_t *groups = json_object(); /* port-list key -> subset */
	json_t *ep = json_pack("{s:s, s:s, s:{s:s, s:s}, s:[]}", "apiVersion", "v1", "kind",
			       "Endpoints", "metadata", "name", ctlr_name(svc), "namespace",
			       ns[0] ? ns : "default", "subsets");
	if (groups == NULL || ep == NULL)
		goto nomem;
	json_t *labels = json_object_get(json_object_get(svc, "metadata"), "labels");
	if (json_is_object(labels))
		json_object_set_new(json_object_get(ep, "metadata"), "labels",
				    json_deep_copy(labels));
	for (size_t i = 0; i < n; i++) {
		const json_t *pod = pods[i];
		const char *pns = ctlr_namespace(pod);
		if (strcmp(pns[0] ? pns : "default", ns[0] ? ns : "default") != 0)
			continue;
		const char *ip =
			json_string_value(json_object_get(json_object_get(pod, "status"), "podIP"));
		if (ip == NULL || ip[0] == 0 || ctlr_pod_terminal(pod) ||
		    !ctlr_labels_match(sel, json_object_get(json_object_get(pod, "metadata"),
							    "labels")))
			continue;
		json_t *ports = endpoints_ports(svc, pod);
		char *key = ports ? json_dumps(ports, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		if (key == NULL) {
			json_decref(ports);
			goto nomem;
		}
		json_t *sub = json_object_get(groups, key);
		if (sub == NULL) {
			sub = json_pack("{s:[], s:[], s:O}", "addresses", "notReadyAddresses",
					"ports", ports);
			if (sub == NULL || json_object_set_new(groups, key, sub) != 0) {
				free(key);
				json_decref(ports);
				goto nomem;
			}
		}
		free(key);
		json_decref(ports);
		json_t *addr = endpoints_address(pod);
		const char *list = ctlr_pod_ready(pod) ? "addresses" : "notReadyAddresses";
		if (addr == NULL || json_array_append_new(json_object_get(sub, list), addr) != 0)
			goto nomem;
	}
	/* Subsets in port-list order, so the result is canonical. */
	const char **keys = malloc((json_object_size(groups) + 1) * sizeof(*keys));
	if (keys == NULL)
		goto nomem;
	size_t nk = 0;
	const char *k;
	json_t *v;
	json_object_foreach(groups, k, v) keys[nk++] = k;
	qsort(keys, nk, sizeof(*keys), endpoints_key_cmp);
	json_t *subsets = json_object_get(ep, "subsets");
	for (size_t i = 0; i < nk; i++) {
		v = json_object_get(groups, keys[i]);
		if (endpoints_subset_finish(v) != 0 || json_array_append(subsets, v) != 0) {
			free(keys);
			goto nomem;
		}
	}
	free(keys);
	json_decref(groups);
	return ep;
nomem:
	*nomem = true;
	json_decref(groups);
	json_decref(ep);
	return NULL;
}

static const json_t *endpoints_subsets(const json_t *ep)
{
	const json_t *s = json_object_get(ep, "subsets");
	return json_is_array(s) && json_array_size(s) ? s : NULL;
}

bool endpoints_equal(const json_t *a, const json_t *b)
{
	const json_t *sa = endpoints_subsets(a), *sb = endpoints_subsets(b);
	if (sa == NULL || sb == NULL)
		return sa == sb;
	return json_equal((json_t *)sa, (json_t *)sb);
}
